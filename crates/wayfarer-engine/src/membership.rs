//! Saved segments' membership (DESIGN §10): each segment is a condition
//! over a whole customer in the one condition language (traits, customer
//! facts, `did` terms, ordered stages), checked against the data when
//! compiled, and one fold over the timelines decides every segment's
//! members at once.

use serde::Serialize;
use serde_json::Value as Json;
use wayfarer_core::predicate::{self, CustomerFact, Field, Predicate, Scope as Where};
use wayfarer_store::segment_defs::SegmentDef;
use wayfarer_store::{Col, CustomerSet, PropertyRows, Store};

use crate::facts::{self, Facts, Predictions};
use crate::fold::{self, Fold, Span};
use crate::model::Model;
use crate::timeline::Timeline;
use crate::{EngineError, Scope};

/// A segment ready to evaluate.
#[derive(Debug, Clone)]
pub struct Segment {
    pub name: String,
    pub predicate: Predicate,
    /// The discovered personas' fit, when the condition reads
    /// `discovered_persona`.
    pub discovered: Option<std::sync::Arc<crate::personas::PersonaFit>>,
}

/// Whether a condition reads the discovered personas.
fn reads_discovered(p: &Predicate) -> bool {
    p.fields().iter().any(|f| matches!(f, Field::Customer(CustomerFact::DiscoveredPersona)))
}

/// The discovered personas' fit, as the map's discovered personas use it
/// (saved once per data and configuration, fitted when there is none).
pub fn discovered_fit(store: &Store, model: &Model) -> Result<crate::personas::PersonaFit, EngineError> {
    let spec = crate::personas::PersonaSpec { with_maps: false, ..crate::personas::PersonaSpec::default() };
    crate::personas::persona_fit(store, model, &Scope::default(), &spec)
}

/// Whether a segment reads the CLV models' predictions.
fn reads_predictions(p: &Predicate) -> bool {
    p.fields().iter().any(|f| matches!(f, Field::Customer(CustomerFact::Clv | CustomerFact::PAlive)))
}

/// The CLV models' predictions (`wayfarer clv`'s defaults, over all the
/// data) when a segment reads `clv` or `p_alive`, and the discovered
/// personas' fit when one reads `discovered_persona`.
pub fn predictions_for(store: &Store, model: &Model, segments: &[Segment]) -> Result<Option<Predictions>, EngineError> {
    let personas = segments.iter().find_map(|s| s.discovered.clone());
    if !segments.iter().any(|s| reads_predictions(&s.predicate)) {
        return Ok(personas.map(|p| Predictions { personas: Some(p), ..Predictions::default() }));
    }
    let spec = crate::clv::ClvSpec { historic: false, ..crate::clv::ClvSpec::defaults(model) };
    let r = crate::clv::clv(&store.all_customers(), model, &Scope::default(), &spec)?;
    Ok(Some(Predictions { clv: r.predicted_by_customer, p_alive: r.p_alive_by_customer, personas }))
}

/// Compiles a segment's condition against the data; the error names the
/// segment and the column. A condition that reads `discovered_persona`
/// brings the discovered personas' fit (made now if there is none).
pub fn compile(store: &Store, name: &str, condition: &str, model: &Model) -> Result<Segment, EngineError> {
    let mut vocab = model.vocabulary();
    let mut discovered = None;
    let with_discovered = |vocab: &mut predicate::Vocabulary| {
        let fit = discovered_fit(&store.all_customers(), model);
        vocab.discovered_personas =
            fit.as_ref().map(|f| f.personas.iter().map(|(n, _)| n.clone()).collect()).unwrap_or_default();
        fit.ok().map(std::sync::Arc::new)
    };
    if Predicate::parse(condition).is_ok_and(|p| reads_discovered(&p)) {
        discovered = with_discovered(&mut vocab);
    }
    let named = |e: String| match name {
        "" => EngineError::InvalidQuery(format!("condition {e}")),
        _ => EngineError::InvalidQuery(format!("segment '{name}', condition {e}")),
    };
    let predicate = match Predicate::compile(condition, Where::Customer, &vocab) {
        Ok(p) => p,
        // A configured persona that is not: maybe a discovered one, which
        // the error then names.
        Err(e) if discovered.is_none() && e.contains("no persona '") => {
            with_discovered(&mut vocab);
            return Err(named(Predicate::compile(condition, Where::Customer, &vocab).err().unwrap_or(e)));
        }
        Err(e) => return Err(named(e)),
    };
    let reads = |fact: CustomerFact| predicate.fields().iter().any(|f| **f == Field::Customer(fact));
    if reads(CustomerFact::NpsGroup)
        && !any_row(store, &[Col::Survey, Col::Score], |rows, r| {
            rows.str_at(Col::Survey, r).is_some_and(|s| s.eq_ignore_ascii_case("nps"))
                && rows.f64_at(Col::Score, r).is_some()
        })?
    {
        return Err(named(
            "reads nps_group, and the data has no NPS answers (events with survey = 'nps' and a score), so no \
             customer is in any NPS group"
                .to_string(),
        ));
    }
    if reads_predictions(&predicate) && model.purchase_code.is_none() {
        return Err(EngineError::InvalidQuery(format!(
            "segment '{name}': clv and p_alive are predicted from purchases, and the data has no purchase event \
             (journey.purchase_event in wayfarer.toml)"
        )));
    }
    if let Some(purchase) = model.purchase_code.filter(|_| reads(CustomerFact::Clv))
        && !any_row(store, &[Col::EventCode, Col::Revenue], |rows, r| {
            rows.event[r] == purchase && rows.f64_at(Col::Revenue, r).is_some_and(|v| v > 0.0)
        })?
    {
        return Err(named(format!(
            "reads clv, which is predicted from order values, and no '{}' event has revenue \
             (p_alive needs no revenue; [ingest] revenue_property names where revenue is)",
            model.event_name(purchase)
        )));
    }
    Ok(Segment { name: name.to_string(), predicate, discovered })
}

/// Whether any row (of those columns) is one `hit` says: how a condition
/// that could never hold on this data is found before it answers nothing.
fn any_row(
    store: &Store,
    cols: &[Col],
    hit: impl Fn(&wayfarer_store::Rows, usize) -> bool + Sync,
) -> Result<bool, EngineError> {
    use rayon::prelude::*;
    let found = (0..store.partitions()).into_par_iter().map(|p| -> Result<bool, EngineError> {
        let rows = store.read_partition(p, cols)?;
        Ok((0..rows.len()).any(|r| hit(&rows, r)))
    });
    found.try_reduce(|| false, |a, b| Ok(a || b))
}

/// Compiles saved definitions.
pub fn compile_all(store: &Store, defs: &[SegmentDef], model: &Model) -> Result<Vec<Segment>, EngineError> {
    defs.iter().map(|d| compile(store, &d.name, &d.condition, model)).collect()
}

/// One member of a segment, with what a team needs to reach them.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Member {
    pub customer_id: String,
    #[serde(skip)]
    pub customer: u32,
    pub stage: Option<String>,
    pub events: usize,
    pub first_seen: String,
    pub last_seen: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Who is in each segment.
#[derive(Debug, Clone, Serialize)]
pub struct Membership {
    /// Customers with activity in the scope (each segment's base).
    pub customers: usize,
    /// The members of each segment, in the order given, each sorted by
    /// customer id.
    pub members: Vec<Vec<Member>>,
}

/// Every segment's members with their facts, from one pass over the
/// timelines.
pub fn members(store: &Store, model: &Model, scope: &Scope, segments: &[Segment]) -> Result<Membership, EngineError> {
    let scope = scope.without_persona();
    let predictions = predictions_for(store, model, segments)?;
    let found = fold::report(
        store,
        &MembershipFold { model, scope: &scope, segments, facts: true, predictions: predictions.as_ref() },
    )?;
    let ids = store.identity_shared()?;
    let mut facts: std::collections::HashMap<u32, Member> = found.facts.into_iter().map(|m| (m.customer, m)).collect();
    for m in facts.values_mut() {
        m.customer_id = ids.external_id(m.customer).to_string();
    }
    let members = found
        .members
        .into_iter()
        .map(|list| {
            let mut list: Vec<Member> = list.iter().filter_map(|c| facts.get(c).cloned()).collect();
            list.sort_by(|a, b| a.customer_id.cmp(&b.customer_id));
            list
        })
        .collect();
    Ok(Membership { customers: found.customers, members })
}

/// Every segment's members as customer numbers (no facts): what sizes,
/// `--segment` and live membership need.
fn numbers(store: &Store, model: &Model, scope: &Scope, segments: &[Segment]) -> Result<Found, EngineError> {
    let scope = scope.without_persona();
    let predictions = predictions_for(store, model, segments)?;
    fold::report(
        store,
        &MembershipFold { model, scope: &scope, segments, facts: false, predictions: predictions.as_ref() },
    )
}

/// The customers (canonical numbers) of one segment: what `--segment`
/// limits an analysis to.
pub fn customers(store: &Store, model: &Model, scope: &Scope, segment: &Segment) -> Result<CustomerSet, EngineError> {
    let found = numbers(store, model, scope, std::slice::from_ref(segment))?;
    Ok(found.members.into_iter().flatten().collect())
}

/// Customers in the scope, and how many each segment has.
pub fn members_count(
    store: &Store,
    model: &Model,
    scope: &Scope,
    segments: &[Segment],
) -> Result<(usize, Vec<usize>), EngineError> {
    let found = numbers(store, model, scope, segments)?;
    Ok((found.customers, found.members.iter().map(Vec::len).collect()))
}

/// How many customers each segment has.
pub fn sizes(store: &Store, model: &Model, scope: &Scope, segments: &[Segment]) -> Result<Vec<usize>, EngineError> {
    Ok(numbers(store, model, scope, segments)?.members.iter().map(Vec::len).collect())
}

/// What one refresh of live membership did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Refresh {
    pub generation: u64,
    pub segments: usize,
    pub entered: usize,
    pub left: usize,
    /// Segments new or changed since the last refresh: their members are
    /// the starting point, not entries.
    pub started: usize,
    /// Customers whose membership was decided again: every customer, or
    /// (incrementally) those with rows written since the last refresh.
    pub decided: usize,
    /// Whether only those customers were decided again.
    pub incremental: bool,
}

/// Two sorted lists as one sorted list.
fn merge_sorted(a: impl Iterator<Item = String>, b: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut b = b.into_iter().peekable();
    for x in a {
        while let Some(y) = b.next_if(|y| *y < x) {
            out.push(y);
        }
        out.push(x);
    }
    out.extend(b);
    out
}

/// Who is in `now` and not in `old` (entered), and in `old` and not in
/// `now` (left); both sorted.
fn sorted_difference(now: &[String], old: &[String]) -> (Vec<String>, Vec<String>) {
    let (mut entered, mut left) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < now.len() || j < old.len() {
        match (now.get(i), old.get(j)) {
            (Some(x), Some(y)) if x == y => (i, j) = (i + 1, j + 1),
            (Some(x), y) if y.is_none_or(|y| x < y) => {
                entered.push(x.clone());
                i += 1;
            }
            (_, Some(y)) => {
                left.push(y.clone());
                j += 1;
            }
            (Some(_), None) | (None, None) => break,
        }
    }
    (entered, left)
}

/// Whether a condition's answer for a customer changes only when the
/// customer's own events do: no recency window (`within` after one event),
/// no `churned`, and no model over the whole population (CLV, P(alive),
/// discovered personas). Such segments can be kept up incrementally.
fn is_local(p: &Predicate) -> bool {
    let recency = p.dids().iter().any(|d| d.within.is_some());
    let global = p.fields().iter().any(|f| {
        matches!(
            f,
            Field::Customer(
                CustomerFact::Churned | CustomerFact::Clv | CustomerFact::PAlive | CustomerFact::DiscoveredPersona
            )
        )
    });
    !recency && !global
}

/// Brings live membership up to the store's generation and records who
/// entered and who left each saved segment since the last refresh (at
/// `now_us`). When the definitions are those of the last refresh and every
/// condition is local ([`is_local`]), only the customers with rows in store
/// segments written since then are decided again (a commit writes new
/// segments for the customers it adds to, and moves a merged customer's
/// rows into new ones), and the others keep their memberships; otherwise
/// one fold decides everyone. A segment created or changed since the last
/// refresh starts from its members without entries; nothing is done when
/// the generation and the definitions are those of the last refresh.
pub fn refresh(store: &Store, model: &Model, defs: &[SegmentDef], now_us: i64) -> Result<Refresh, EngineError> {
    use std::collections::HashSet;
    use wayfarer_store::segment_defs::{self, Change, Current, CurrentSegment};
    let dir = store.dir();
    let _turn = segment_defs::Lock::membership(dir)?;
    let generation = store.manifest().generation;
    let through = store.manifest().segments.iter().map(|s| s.id).max();
    let before = segment_defs::load_current(dir)?.unwrap_or_default();
    let same_defs = before.segments.len() == defs.len()
        && before.segments.iter().zip(defs).all(|(b, d)| b.name == d.name && b.condition == d.condition);
    if before.generation == generation && same_defs {
        return Ok(Refresh { generation, segments: defs.len(), ..Refresh::default() });
    }
    if defs.is_empty() {
        segment_defs::record(dir, &[], Current { generation, segments: Vec::new(), segment_through: through })?;
        return Ok(Refresh { generation, ..Refresh::default() });
    }
    let segments = compile_all(store, defs, model)?;
    let all = store.all_customers();
    let ids = store.identity_shared()?;
    let incremental = same_defs
        && before.generation > 0
        && before.segment_through.is_some()
        && segments.iter().all(|s| is_local(&s.predicate));
    let mut report = Refresh { generation, segments: defs.len(), incremental, ..Refresh::default() };
    // Each segment: its members now (sorted external ids), who entered and
    // who left; `None` for a segment new or changed since the last refresh.
    // (The members file of a segment whose members did not change.)
    type Decided = (Vec<String>, Option<(Vec<String>, Vec<String>)>, Option<String>);
    let mut before = before;
    let decided: Vec<Decided> = if incremental {
        let touched = std::sync::Arc::new(store.customers_since(before.segment_through)?);
        report.decided = touched.len();
        let found = numbers(&all.only_customers(std::sync::Arc::clone(&touched)), model, &Scope::default(), &segments)?;
        // Who is decided again: the touched customers, and the identities
        // merged into them (no longer customers of their own).
        let mut again: HashSet<&str> = touched.iter().map(|c| ids.external_id(c)).collect();
        let mut graph = None;
        let canon = match ids.resolved() {
            Some(c) => c,
            None => graph.insert((*ids).clone()).canonical_map(),
        };
        again.extend(
            canon
                .iter()
                .enumerate()
                .filter(|&(i, &c)| c as usize != i && touched.contains(c))
                .map(|(i, _)| ids.external_id(i as u32)),
        );
        // The others keep their memberships: each old list loses those
        // decided again who are out now and gains those who are in.
        before
            .segments
            .iter_mut()
            .zip(found.members)
            .map(|(b, list)| {
                let mut now_in: Vec<String> = list.into_iter().map(|c| ids.external_id(c).to_string()).collect();
                now_in.sort_unstable();
                now_in.dedup();
                let old = std::mem::take(&mut b.members);
                let in_old = |m: &str| old.binary_search_by(|x| x.as_str().cmp(m)).is_ok();
                let entered: Vec<String> = now_in.iter().filter(|m| !in_old(m)).cloned().collect();
                let mut left: Vec<String> = again
                    .iter()
                    .filter(|m| in_old(m) && now_in.binary_search_by(|x| x.as_str().cmp(m)).is_err())
                    .map(|m| m.to_string())
                    .collect();
                left.sort_unstable();
                if entered.is_empty() && left.is_empty() {
                    // Unchanged: the list and its file stay as they are.
                    return (old, Some((entered, left)), b.file.clone());
                }
                let kept = old.into_iter().filter(|m| left.binary_search(m).is_err());
                let now = merge_sorted(kept, entered.clone());
                (now, Some((entered, left)), None)
            })
            .collect()
    } else {
        let found = numbers(&all, model, &Scope::default(), &segments)?;
        report.decided = found.customers;
        defs.iter()
            .zip(found.members)
            .map(|(def, list)| {
                let mut now: Vec<String> = list.into_iter().map(|c| ids.external_id(c).to_string()).collect();
                now.sort_unstable();
                let old = before.segments.iter().find(|b| b.name == def.name && b.condition == def.condition);
                let diff = old.map(|b| sorted_difference(&now, &b.members));
                let same = diff.as_ref().is_some_and(|(e, l)| e.is_empty() && l.is_empty());
                (now, diff, old.and_then(|b| b.file.clone()).filter(|_| same))
            })
            .collect()
    };
    let at = wayfarer_core::time::format_rfc3339(now_us);
    let mut changes = Vec::new();
    let mut current = Current { generation, segments: Vec::new(), segment_through: through };
    for (def, (now, diff, file)) in defs.iter().zip(decided) {
        match diff {
            Some((entered, left)) => {
                let change = |customer: String, what: &str| Change {
                    at: at.clone(),
                    at_us: now_us,
                    segment: def.name.clone(),
                    customer,
                    change: what.to_string(),
                };
                report.entered += entered.len();
                report.left += left.len();
                changes.extend(entered.into_iter().map(|c| change(c, "entered")));
                changes.extend(left.into_iter().map(|c| change(c, "left")));
            }
            None => report.started += 1,
        }
        current.segments.push(CurrentSegment {
            name: def.name.clone(),
            condition: def.condition.clone(),
            members: now,
            file,
        });
    }
    segment_defs::record(dir, &changes, current)?;
    Ok(report)
}

// ------------------------------------------- an analysis's group as a segment

/// Quotes a name for a condition.
fn quoted(name: &str) -> String {
    format!("'{}'", name.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// ` and persona = 'P'` for a configured persona, `Some("")` for none, and
/// `None` for a persona no condition can name (a discovered one).
fn persona_clause(model: &Model, persona: Option<&str>) -> Option<String> {
    match persona {
        None => Some(String::new()),
        Some(p) if model.personas.iter().any(|(n, _, _)| n == p) => Some(format!(" and persona = {}", quoted(p))),
        Some(_) => None,
    }
}

/// For each funnel step but the last, a segment condition that holds for
/// the customers who reached that step and not the next: what "save as
/// segment" on a drop-off saves. The steps become a path pattern
/// (`did 'A' -> 'B' within 7d and not did 'A' -> 'B' -> 'C' within 7d`),
/// which matches ClickHouse's default windowFunnel level for events with
/// distinct times; where two steps share a timestamp, windowFunnel orders
/// them by step and a pattern by arrival, so counts can differ there.
/// Empty when the funnel has what no condition says: another mode,
/// exclusions, per-step windows, sessions, a stage step, a step condition
/// on the touchpoint or stage, or a discovered persona.
pub fn funnel_dropped(spec: &crate::funnel::FunnelSpec, model: &Model, persona: Option<&str>) -> Vec<Option<String>> {
    let none = vec![None; spec.steps.len()];
    let plain = spec.mode == crate::funnel::Mode::Default
        && spec.exclude.is_empty()
        && spec.step_windows.iter().all(Option::is_none)
        && spec.per.is_customers();
    let Some(who) = persona_clause(model, persona).filter(|_| plain) else { return none };
    // An optional step changes no level, so the pattern leaves it out; a
    // group (any order) is no sequence a pattern says.
    let mut terms = Vec::new();
    for step in spec.steps.iter().filter(|s| !s.optional) {
        let Some(event) = &step.event else { return none };
        let term = match step.label.find('[') {
            Some(i) => format!("{}{}", quoted(event), &step.label[i..]),
            None => quoted(event),
        };
        terms.push(term);
    }
    let window = wayfarer_core::time::format_duration_exact(spec.window);
    let reached = |k: usize| match k {
        0 => format!("did {}", terms[0]),
        _ => format!("did {} within {window}", terms[..=k].join(" -> ")),
    };
    let mut required = 0;
    (0..spec.steps.len())
        .map(|k| {
            if spec.steps[k].optional {
                return None;
            }
            required += 1;
            let (this, next) = (required - 1, required);
            (next < terms.len())
                .then(|| format!("{} and not {}{who}", reached(this), reached(next)))
                .filter(|c| check(c, model))
        })
        .collect()
}

/// Whether a condition is one a segment can hold (checked without data).
fn check(condition: &str, model: &Model) -> bool {
    Predicate::compile(condition, Where::Customer, &model.vocabulary()).is_ok()
}

/// A segment condition for a retention cohort: the customers whose first
/// interaction falls in the period starting on `start` (a date), by the
/// same UTC periods as retention; `None` for a discovered persona.
pub fn cohort(period: crate::period::Period, start: &str, model: &Model, persona: Option<&str>) -> Option<String> {
    let who = persona_clause(model, persona)?;
    let from = wayfarer_core::time::parse_timestamp(start).ok()?;
    let next = period.label(period.number(from) + 1);
    Some(format!("first_seen >= '{start}' and first_seen < '{next}'{who}"))
}

struct MembershipFold<'a> {
    model: &'a Model,
    scope: &'a Scope,
    segments: &'a [Segment],
    /// Whether to keep each member's facts (stage, dates, email, phone).
    facts: bool,
    predictions: Option<&'a Predictions>,
}

/// What the fold finds: customers seen, each segment's members (by
/// number) and, when asked, the facts of every customer in any segment.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Found {
    customers: usize,
    members: Vec<Vec<u32>>,
    facts: Vec<Member>,
}

/// The columns a fold over timelines that evaluates `segments` reads (with
/// every row's properties when `traits` are wanted).
pub(crate) fn columns(model: &Model, segments: &[Segment], traits: bool) -> Vec<Col> {
    let mut c = model.timeline_columns();
    if traits {
        c.push(Col::Properties);
    }
    c.extend(segments.iter().flat_map(|s| s.predicate.fields()).flat_map(facts::columns));
    c.sort_by_key(|c| c.index());
    c.dedup();
    c
}

/// Whose properties such a fold reads: what the stage rules and touchpoints
/// read and identify calls' traits, or every row's when a condition reads
/// a customer's latest `properties.x`.
pub(crate) fn property_rows(model: &Model, segments: &[Segment]) -> PropertyRows {
    if segments.iter().flat_map(|s| s.predicate.fields()).any(|f| matches!(f, Field::Property(_))) {
        PropertyRows::All
    } else {
        model.property_rows()
    }
}

impl Fold for MembershipFold<'_> {
    type Partial = Found;
    type Scratch = ();
    type Report = Found;

    fn wire(&self) -> Option<crate::fold::Wire<Self::Partial>> {
        Some(crate::fold::Wire::serde())
    }

    fn columns(&self) -> Vec<Col> {
        // Traits for email and phone, besides what the conditions read.
        columns(self.model, self.segments, self.facts)
    }

    fn property_rows(&self) -> PropertyRows {
        property_rows(self.model, self.segments)
    }

    fn init(&self) -> Self::Partial {
        Found { members: vec![Vec::new(); self.segments.len()], ..Found::default() }
    }

    fn fold(&self, p: &mut Self::Partial, _: &mut (), span: Span<'_>) {
        let Some(t) = Timeline::build(self.model, self.scope, span) else { return };
        p.customers += 1;
        let facts = Facts::customer(&t, self.model).with_predictions(self.predictions);
        let mut member = false;
        for (i, s) in self.segments.iter().enumerate() {
            if s.predicate.eval(&facts) {
                p.members[i].push(t.customer);
                member = true;
            }
        }
        if member && self.facts {
            p.facts.push(self.member(&t));
        }
    }

    fn merge(&self, mut a: Self::Partial, b: Self::Partial) -> Self::Partial {
        a.customers += b.customers;
        for (x, y) in a.members.iter_mut().zip(b.members) {
            x.extend(y);
        }
        a.facts.extend(b.facts);
        a
    }

    fn finish(&self, p: Self::Partial) -> Self::Report {
        p
    }
}

impl MembershipFold<'_> {
    fn member(&self, t: &Timeline<'_>) -> Member {
        let text = |key: &str| match t.traits.get(key) {
            Some(Json::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Json::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Member {
            customer_id: String::new(),
            customer: t.customer,
            stage: t.current_stage().map(|s| self.model.stage_names[s].clone()),
            events: t.idx.len(),
            first_seen: wayfarer_core::time::format_rfc3339(t.first_ts()),
            last_seen: wayfarer_core::time::format_rfc3339(t.last_ts()),
            email: text("email"),
            phone: text("phone"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{self, ev, store, with};

    #[test]
    fn one_pass_decides_every_segment() {
        let buy = |u: &str, m: f64| with(ev(u, m, "Order Completed"), |e| e.revenue = Some(20.0));
        let (_dir, store) = store(vec![
            ev("a", 0.0, "Page Viewed"),
            buy("a", 10.0),
            buy("a", 20.0),
            ev("b", 0.0, "Page Viewed"),
            buy("b", 60.0),
            ev("c", 5.0, "Page Viewed"),
        ]);
        let model = testutil::model(&store);
        let segs = vec![
            compile(&store, "repeat", "did 'Order Completed' >= 2", &model).unwrap(),
            compile(&store, "buyers", "orders >= 1", &model).unwrap(),
            compile(&store, "browsers", "not did 'Order Completed'", &model).unwrap(),
        ];
        let all = members(&store, &model, &Scope::default(), &segs).unwrap();
        assert_eq!(all.customers, 3);
        let found = all.members;
        let ids: Vec<Vec<&str>> = found.iter().map(|l| l.iter().map(|m| m.customer_id.as_str()).collect()).collect();
        assert_eq!(ids, [vec!["a"], vec!["a", "b"], vec!["c"]]);
        assert_eq!(found[0][0].events, 3);
    }

    #[test]
    fn persona_rules_order_stages_and_cannot_read_persona() {
        use wayfarer_core::Config;
        use wayfarer_core::config::PersonaDef;
        let (_dir, store) =
            store(vec![ev("a", 0.0, "Page Viewed"), ev("a", 1.0, "Order Completed"), ev("b", 0.0, "Page Viewed")]);
        let mut c = Config::default();
        let rule = |when: &str| PersonaDef { name: "Buyers".into(), description: String::new(), when: when.into() };
        c.personas.push(rule("stage < 'Advocacy'"));
        let model = testutil::model_with(&store, &c);
        // Textually no stage name sorts before 'Advocacy'; in the model's order every stage but the last does.
        let buyers = compile(&store, "b", "persona = 'Buyers'", &model).unwrap();
        let ids: Vec<String> = members(&store, &model, &Scope::default(), &[buyers]).unwrap().members[0]
            .iter()
            .map(|m| m.customer_id.clone())
            .collect();
        assert_eq!(ids, ["a", "b"]);
        let mut c = Config::default();
        c.personas.push(rule("persona = 'Buyers'"));
        let e = crate::model::Model::compile(&c, &store).unwrap_err().to_string();
        assert!(e.contains("cannot read 'persona'"), "{e}");
    }

    #[test]
    fn a_segment_may_be_a_path_pattern() {
        let at = |e: wayfarer_core::Event, url: &str| with(e, |e| e.url = Some(url.to_string()));
        let (_dir, store) = store(vec![
            // a: saw shipping costs, then left.
            ev("a", 0.0, "Product Viewed"),
            at(ev("a", 1.0, "Page Viewed"), "https://shop.test/shipping"),
            // b: saw shipping costs, then ordered.
            ev("b", 0.0, "Product Viewed"),
            at(ev("b", 1.0, "Page Viewed"), "https://shop.test/shipping"),
            ev("b", 2.0, "Order Completed"),
            // c: ordered, then saw shipping costs.
            ev("c", 0.0, "Order Completed"),
            at(ev("c", 1.0, "Page Viewed"), "https://shop.test/shipping"),
            ev("c", 2.0, "Page Viewed"),
            // d: never saw them.
            ev("d", 0.0, "Product Viewed"),
        ]);
        let model = testutil::model(&store);
        let ids = |cond: &str| -> Vec<String> {
            let s = compile(&store, "s", cond, &model).unwrap();
            members(&store, &model, &Scope::default(), &[s]).unwrap().members[0]
                .iter()
                .map(|m| m.customer_id.clone())
                .collect()
        };
        let stuck =
            "did 'Page Viewed'[url ~ '*shipping*'] => [^'Order Completed']* within 1h and not did Order Completed";
        assert_eq!(ids(stuck), ["a"]);
        assert_eq!(ids("did 'Page Viewed'[url ~ '*shipping*'] -> 'Order Completed'"), ["b"]);
        assert_eq!(ids("did Product Viewed => Page Viewed"), ["a", "b"]);
        assert_eq!(ids("did Page Viewed{2}"), ["c"]);
        let e = compile(&store, "s", "did Product Viewed -> Order Complete", &model).unwrap_err().to_string();
        assert!(e.contains("segment 's', condition at column 23") && e.contains("'Order Completed'"), "{e}");
    }

    #[test]
    fn nps_groups_without_answers_and_clv_without_revenue_are_errors() {
        let nps = |u: &str, score: f64| {
            with(ev(u, 1.0, "Survey Responded"), |e| {
                e.survey = Some("nps".into());
                e.score = Some(score);
            })
        };
        let (_dir, store) = store(vec![ev("a", 0.0, "Page Viewed"), ev("b", 0.0, "Page Viewed")]);
        let model = testutil::model(&store);
        let e = compile(&store, "p", "nps_group = 'promoter'", &model).unwrap_err().to_string();
        assert!(e.contains("segment 'p'") && e.contains("no NPS answers"), "{e}");
        let (_dir2, store) = testutil::store(vec![ev("a", 0.0, "Page Viewed"), nps("a", 10.0), nps("b", 3.0)]);
        let model = testutil::model(&store);
        let s = compile(&store, "p", "nps_group = 'promoter'", &model).unwrap();
        let found = members(&store, &model, &Scope::default(), &[s]).unwrap();
        assert_eq!(found.members[0].iter().map(|m| m.customer_id.as_str()).collect::<Vec<_>>(), ["a"]);
        // Orders without revenue: P(alive) can be predicted, CLV cannot.
        let (_dir3, store) = testutil::store(vec![ev("a", 0.0, "Order Completed"), ev("a", 9000.0, "Order Completed")]);
        let model = testutil::model(&store);
        assert!(compile(&store, "alive", "p_alive > 0.5", &model).is_ok());
        let e = compile(&store, "valuable", "clv > 100", &model).unwrap_err().to_string();
        assert!(e.contains("segment 'valuable'") && e.contains("no 'Order Completed' event has revenue"), "{e}");
    }

    /// Commits of random events, anonymous visitors who later sign in
    /// (merging into a user), and traits: after each, the incremental
    /// refresh's members equal a full decision, and its entries and exits
    /// replay to them.
    #[test]
    fn incremental_refresh_equals_a_full_decision() {
        use wayfarer_store::Writer;
        use wayfarer_store::segment_defs::{self, SegmentDef};
        let def = |name: &str, condition: &str| SegmentDef {
            name: name.into(),
            condition: condition.into(),
            description: String::new(),
            created_at: String::new(),
            updated_at: String::new(),
        };
        let defs = vec![
            def("repeat", "did 'Order Completed' >= 2"),
            def("browsed then bought", "did 'Page Viewed' -> 'Order Completed'"),
            def("pros", "traits.plan = 'pro'"),
            def("buyers", "stage >= 'Purchase'"),
            def("lookers", "orders = 0 and events >= 3"),
        ];
        for seed in 1..=4u64 {
            let dir = tempfile::tempdir().unwrap();
            let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut next = |n: u64| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng % n
            };
            let mut minute = 0.0;
            let mut replayed: std::collections::BTreeMap<(String, String), bool> = Default::default();
            for commit in 0..6 {
                let mut events = Vec::new();
                for _ in 0..40 {
                    minute += 1.0;
                    let who = next(12);
                    let name = ["Page Viewed", "Product Viewed", "Order Completed"][next(3) as usize];
                    let mut e = ev(&format!("u{who}"), minute, name);
                    if who >= 8 {
                        // An anonymous visitor, until they sign in.
                        e.user_id = None;
                        e.anonymous_id = Some(format!("anon{who}"));
                    }
                    events.push(e);
                    if next(10) == 0 {
                        let anon = 8 + next(4);
                        let user = next(8);
                        let mut id = ev(&format!("u{user}"), minute, "Identify");
                        id.anonymous_id = Some(format!("anon{anon}"));
                        id.properties = format!(r#"{{"plan":"{}"}}"#, ["pro", "free"][next(2) as usize]);
                        events.push(id);
                    }
                }
                let mut w = Writer::open(dir.path(), 0).unwrap();
                w.add(events).unwrap();
                w.commit().unwrap();
                let store = Store::open(dir.path()).unwrap();
                let model = testutil::model(&store);
                let r = refresh(&store, &model, &defs, commit).unwrap();
                assert_eq!(r.incremental, commit > 0, "seed {seed} commit {commit}: {r:?}");
                let current = segment_defs::load_current(dir.path()).unwrap().unwrap();
                let segs = compile_all(&store, &defs, &model).unwrap();
                let full = members(&store, &model, &Scope::default(), &segs).unwrap();
                for ((c, f), d) in current.segments.iter().zip(&full.members).zip(&defs) {
                    let want: Vec<&str> = f.iter().map(|m| m.customer_id.as_str()).collect();
                    assert_eq!(c.members, want, "seed {seed} commit {commit} segment {}", d.name);
                }
                // The recorded changes replay to the members.
                for ch in segment_defs::changes(dir.path(), None, None, i64::MIN).unwrap() {
                    if ch.at_us == commit {
                        replayed.insert((ch.segment.clone(), ch.customer.clone()), ch.change == "entered");
                    }
                }
                if commit == 0 {
                    for c in &current.segments {
                        for m in &c.members {
                            replayed.insert((c.name.clone(), m.clone()), true);
                        }
                    }
                }
                for c in &current.segments {
                    let from_changes: Vec<&str> = replayed
                        .iter()
                        .filter(|((s, _), inside)| *s == c.name && **inside)
                        .map(|((_, m), _)| m.as_str())
                        .collect();
                    assert_eq!(from_changes, c.members, "seed {seed} commit {commit}: changes of {}", c.name);
                }
            }
        }
    }

    #[test]
    fn a_bad_condition_names_the_segment_and_column() {
        let (_dir, store) = store(vec![ev("a", 0.0, "Page Viewed"), ev("a", 1.0, "Order Completed")]);
        let model = testutil::model(&store);
        let e = compile(&store, "x", "orders >= 1 and did 'Order Complete'", &model).unwrap_err().to_string();
        assert!(e.contains("segment 'x', condition at column 17") && e.contains("'Order Completed'"), "{e}");
    }
}
