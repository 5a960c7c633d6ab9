//! Triggers (DESIGN §10): when a customer enters a stage, enters or leaves
//! a segment, or does what a path pattern says, act after a wait (or at an
//! event, unless another comes first), if a condition holds then, except
//! for a control group chosen by a hash of trigger and customer; and
//! measure whether the goal followed, in each arm.
//!
//! Everything is decided from the data, so a decision is the same every
//! time it is made: each occurrence has an id (a hash of trigger, customer
//! and what happened when) and becomes at most one action in the outbox,
//! however often the evaluation runs; a timer is an occurrence whose due
//! time has not come, found again by the next evaluation, so timers
//! survive restarts with nothing to keep.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value as Json, json};
use wayfarer_core::pattern::Pattern;
use wayfarer_core::predicate::{Predicate, compile_pattern};
use wayfarer_core::triggers::{Goal, Trigger, When};
use wayfarer_store::{Col, IdentityGraph, PropertyRows, Store};

use crate::facts::Facts;
use crate::fold::{self, Fold, Span};
use crate::model::Model;
use crate::timeline::Timeline;
use crate::{EngineError, Scope};

/// A trigger checked against the data.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub trigger: Trigger,
    when: CWhen,
    until: Option<Pattern>,
    unless: Option<Pattern>,
    condition: Option<crate::membership::Segment>,
    goal: Option<CGoal>,
}

#[derive(Debug, Clone)]
enum CWhen {
    Stage(usize),
    /// Entries to (or exits from) a segment, recorded by live membership.
    Segment(String, bool),
    Event(Pattern),
}

#[derive(Debug, Clone)]
enum CGoal {
    Stage(usize),
    Event(Pattern),
}

/// The events Wayfarer records itself (hosted surveys, referral links and
/// conversions, unsubscribe links): a trigger may name them before any
/// has happened.
pub const RECORDED: [&str; 4] = ["Survey Responded", "Referral Link Clicked", "Referral Converted", "Unsubscribed"];

/// Checks triggers against the data and the saved segments; errors name
/// the trigger and the key.
pub fn compile(store: &Store, model: &Model, triggers: &[Trigger]) -> Result<Vec<Compiled>, EngineError> {
    let mut vocab = model.vocabulary();
    // What Wayfarer itself records is known before it first happens.
    for e in RECORDED {
        if !vocab.events.iter().any(|x| x == e) {
            vocab.events.push(e.to_string());
        }
    }
    let segments = wayfarer_store::segment_defs::list(store.dir())?;
    let stage = |name: &str| -> Result<usize, String> {
        model
            .stage_names
            .iter()
            .position(|s| s.eq_ignore_ascii_case(name))
            .ok_or_else(|| format!("no stage '{name}'{}", wayfarer_core::suggest::hint(name, &model.stage_names)))
    };
    let pattern = |p: &str| compile_pattern(p, &vocab);
    triggers
        .iter()
        .map(|t| {
            let at =
                |key: &str, e: String| EngineError::InvalidQuery(format!("trigger '{}', key '{key}': {e}", t.def.name));
            let when = match &t.when {
                When::EntersStage(s) => CWhen::Stage(stage(s).map_err(|e| at("when", e))?),
                When::EntersSegment(g) | When::LeavesSegment(g) => {
                    let names: Vec<&str> = segments.iter().map(|s| s.name.as_str()).collect();
                    let Some(def) = segments.iter().find(|s| s.name.eq_ignore_ascii_case(g)) else {
                        return Err(at(
                            "when",
                            format!("no saved segment '{g}'{}", wayfarer_core::suggest::hint(g, &names)),
                        ));
                    };
                    CWhen::Segment(def.name.clone(), matches!(t.when, When::EntersSegment(_)))
                }
                When::Event(p) => CWhen::Event(pattern(p).map_err(|e| at("when", format!("the pattern, {e}")))?),
            };
            let until = t.def.until.as_deref().map(|p| pattern(p).map_err(|e| at("until", e))).transpose()?;
            let unless = t.def.unless.as_deref().map(|p| pattern(p).map_err(|e| at("unless", e))).transpose()?;
            let condition = t
                .def
                .condition
                .as_deref()
                .map(|c| crate::membership::compile(store, "", c, model).map_err(|e| at("if", e.to_string())))
                .transpose()?;
            let goal = match &t.goal {
                None => None,
                Some(Goal::Stage(s)) => Some(CGoal::Stage(stage(s).map_err(|e| at("goal", e))?)),
                Some(Goal::Event(p)) => Some(CGoal::Event(pattern(p).map_err(|e| at("goal", e))?)),
            };
            // The trait an email goes to must be one the data has.
            if let (Some(e), Some(traits)) = (&t.email, &vocab.traits)
                && !traits.contains(&e.to)
            {
                return Err(at(
                    "email.to",
                    format!("no trait '{}' in the data{}", e.to, wayfarer_core::suggest::hint(&e.to, traits)),
                ));
            }
            Ok(Compiled { trigger: t.clone(), when, until, unless, condition, goal })
        })
        .collect()
}

/// What became of one occurrence at the time of evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Due: to act on (or to hold out, for the control group).
    Due,
    /// Its due time has not come (a timer).
    Waiting,
    /// The `unless` event came first.
    Cancelled,
    /// The `until` event did not come within the wait.
    Expired,
    /// The `if` condition did not hold when it was due.
    NotIf,
    /// Due, but the trigger's limit keeps it from acting (an earlier
    /// occurrence of the same customer acts); kept only for previews.
    Limited,
}

/// Per trigger: what became of its occurrences.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub occurrences: usize,
    pub waiting: usize,
    pub cancelled: usize,
    pub expired: usize,
    pub not_if: usize,
    /// Due but limited by an earlier occurrence of the same customer.
    pub limited: usize,
}

/// An evaluation: the occurrences that may act (each customer's first due
/// one under `limit = "once"`, those spaced by the limit otherwise; every
/// one when asked for all), every trigger's counts, and the customers with
/// occurrences still waiting.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    pub found: Vec<Occurrence>,
    pub counts: Vec<Counts>,
    pub waiting: Vec<String>,
}

/// One occurrence of a trigger for a customer.
#[derive(Debug, Clone, Serialize)]
pub struct Occurrence {
    /// Index of the trigger.
    pub trigger: usize,
    #[serde(skip)]
    pub customer: u32,
    pub customer_id: String,
    /// Stable across evaluations: the action's id and idempotency key.
    pub id: String,
    pub at_us: i64,
    pub due_at_us: i64,
    pub outcome: Outcome,
    /// In the control group (by the hash of trigger and customer).
    pub held_out: bool,
    /// When the goal was first reached after the occurrence (within the
    /// goal's window after it was due), if it was.
    pub goal_at_us: Option<i64>,
    /// What the action's payload says about the customer and the event.
    pub payload: Json,
    /// The customer has an `Unsubscribed` event (no more email).
    pub unsubscribed: bool,
}

/// Whether a customer is in a trigger's control group: the first 8 bytes
/// of a hash of trigger and customer as a share of 2^64, below `holdout`.
pub fn held_out(trigger: &str, customer: &str, holdout: f64) -> bool {
    let h = xxhash_rust::xxh3::xxh3_64(format!("holdout\0{trigger}\0{customer}").as_bytes());
    (h as f64 / u64::MAX as f64) < holdout
}

fn occurrence_id(trigger: &str, customer: &str, what: &str) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(format!("{trigger}\0{customer}\0{what}").as_bytes()))
}

/// Segment entries and exits by customer number: (segment, entered, at).
pub type SegmentChanges = HashMap<u32, Vec<(String, bool, i64)>>;

/// What an evaluation needs besides the store.
#[derive(Debug)]
pub struct Inputs<'a> {
    pub compiled: &'a [Compiled],
    /// Per trigger: only occurrences at or after this time.
    pub since: Vec<i64>,
    /// The evaluation's "now" (µs): due times after it wait.
    pub now_us: i64,
    pub segment_changes: SegmentChanges,
    /// Keep every occurrence, not only those that may act (a preview).
    pub keep_all: bool,
}

/// Every occurrence of every trigger among the store's customers (a
/// filtered store: among those), in one fold.
pub fn occurrences(store: &Store, model: &Model, inputs: &Inputs<'_>) -> Result<Evaluation, EngineError> {
    let ids = store.identity_shared()?;
    let segments: Vec<crate::membership::Segment> =
        inputs.compiled.iter().filter_map(|c| c.condition.clone()).collect();
    let predictions = crate::membership::predictions_for(store, model, &segments)?;
    let fold = TriggerFold { model, inputs, ids, predictions: predictions.as_ref(), conditions: segments };
    let mut e = fold::report(store, &fold)?;
    e.found.sort_by(|a, b| (a.trigger, &a.customer_id, a.at_us).cmp(&(b.trigger, &b.customer_id, b.at_us)));
    e.waiting.sort_unstable();
    e.waiting.dedup();
    Ok(e)
}

struct TriggerFold<'a> {
    model: &'a Model,
    inputs: &'a Inputs<'a>,
    ids: Arc<IdentityGraph>,
    predictions: Option<&'a crate::facts::Predictions>,
    conditions: Vec<crate::membership::Segment>,
}

impl Fold for TriggerFold<'_> {
    type Partial = Evaluation;
    type Scratch = ();
    type Report = Evaluation;

    fn columns(&self) -> Vec<Col> {
        let mut c = crate::membership::columns(self.model, &self.conditions, true);
        for comp in self.inputs.compiled {
            for p in [Some(&comp.until), Some(&comp.unless)].into_iter().flatten().flatten() {
                c.extend(pattern_columns(p));
            }
            if let CWhen::Event(p) = &comp.when {
                c.extend(pattern_columns(p));
            }
            if let Some(CGoal::Event(p)) = &comp.goal {
                c.extend(pattern_columns(p));
            }
        }
        c.sort_by_key(|c| c.index());
        c.dedup();
        c
    }

    fn property_rows(&self) -> PropertyRows {
        // The triggering events' properties go into the payload.
        PropertyRows::All
    }

    fn init(&self) -> Self::Partial {
        Evaluation { counts: vec![Counts::default(); self.inputs.compiled.len()], ..Evaluation::default() }
    }

    fn fold(&self, p: &mut Self::Partial, _: &mut (), span: Span<'_>) {
        let Some(t) = Timeline::build(self.model, &Scope::default(), span) else { return };
        let customer_id = self.ids.external_id(t.customer).to_string();
        let facts = Facts::customer(&t, self.model).with_predictions(self.predictions);
        let unsubscribed = t.idx.iter().any(|&r| self.model.event_name(t.rows.event[r]) == "Unsubscribed");
        let mut conditions = self.conditions.iter();
        for (k, c) in self.inputs.compiled.iter().enumerate() {
            let cond = c.condition.as_ref().and_then(|_| conditions.next());
            if c.trigger.def.paused {
                continue;
            }
            let since = self.inputs.since.get(k).copied().unwrap_or(i64::MIN);
            // The due time of the last occurrence that may act (for limits).
            let mut acted: Option<i64> = None;
            let mut waiting = false;
            for (at, what, event) in self.starts(c, &t) {
                if at < since {
                    continue;
                }
                let counts = &mut p.counts[k];
                counts.occurrences += 1;
                let (due, mut outcome) = self.due(c, &t, at);
                if outcome == Outcome::Due && cond.is_some_and(|s| !s.predicate.eval(&facts)) {
                    outcome = Outcome::NotIf;
                }
                if outcome == Outcome::Due {
                    let limited = match (c.trigger.limit, acted) {
                        (_, None) => false,
                        (wayfarer_core::triggers::Limit::Once, Some(_)) => true,
                        (wayfarer_core::triggers::Limit::Every(d), Some(last)) => due < last.saturating_add(d),
                    };
                    if limited {
                        outcome = Outcome::Limited;
                    } else {
                        acted = Some(due);
                    }
                }
                match outcome {
                    Outcome::Waiting => {
                        counts.waiting += 1;
                        waiting = true;
                    }
                    Outcome::Cancelled => counts.cancelled += 1,
                    Outcome::Expired => counts.expired += 1,
                    Outcome::NotIf => counts.not_if += 1,
                    Outcome::Limited => counts.limited += 1,
                    Outcome::Due => {}
                }
                if outcome != Outcome::Due && !self.inputs.keep_all {
                    continue;
                }
                let name = &c.trigger.def.name;
                let id = occurrence_id(name, &customer_id, &what);
                let goal_at_us = c.goal.as_ref().and_then(|g| self.goal(g, &t, at, due + c.trigger.goal_within));
                let mut payload = json!({
                    "trigger": name,
                    "occurrence_id": id,
                    "occurred_at": wayfarer_core::time::format_rfc3339(at),
                    "due_at": wayfarer_core::time::format_rfc3339(due),
                    "customer": {
                        "id": customer_id,
                        "traits": t.traits,
                        "stage": t.current_stage().map(|s| self.model.stage_names[s].clone()),
                    },
                    "event": event,
                });
                // What the action is measured against, and by when.
                if let Some(goal) = &c.trigger.def.goal {
                    let by = due.saturating_add(c.trigger.goal_within);
                    payload["goal"] = json!({"what": goal, "by": wayfarer_core::time::format_rfc3339(by)});
                }
                p.found.push(Occurrence {
                    trigger: k,
                    customer: t.customer,
                    customer_id: customer_id.clone(),
                    id,
                    at_us: at,
                    due_at_us: due,
                    outcome,
                    held_out: held_out(name, &customer_id, c.trigger.def.holdout),
                    goal_at_us,
                    payload,
                    unsubscribed,
                });
            }
            if waiting {
                p.waiting.push(customer_id.clone());
            }
        }
    }

    fn merge(&self, mut a: Self::Partial, b: Self::Partial) -> Self::Partial {
        a.found.extend(b.found);
        a.waiting.extend(b.waiting);
        for (x, y) in a.counts.iter_mut().zip(b.counts) {
            x.occurrences += y.occurrences;
            x.waiting += y.waiting;
            x.cancelled += y.cancelled;
            x.expired += y.expired;
            x.not_if += y.not_if;
            x.limited += y.limited;
        }
        a
    }

    fn finish(&self, p: Self::Partial) -> Self::Report {
        p
    }
}

/// The columns a pattern's conditions read.
pub(crate) fn pattern_columns(p: &Pattern) -> Vec<Col> {
    p.terms
        .iter()
        .filter_map(|t| t.filter.as_ref())
        .flat_map(|(f, _, _)| f.fields())
        .flat_map(crate::facts::columns)
        .collect()
}

impl TriggerFold<'_> {
    /// When the trigger starts for this customer: (time, what, the event).
    fn starts(&self, c: &Compiled, t: &Timeline<'_>) -> Vec<(i64, String, Json)> {
        match &c.when {
            CWhen::Stage(k) => t
                .entry
                .get(*k)
                .copied()
                .flatten()
                .map(|at| (at, format!("stage {k}"), json!({"stage": self.model.stage_names[*k]})))
                .into_iter()
                .collect(),
            CWhen::Segment(name, entered) => self
                .inputs
                .segment_changes
                .get(&t.customer)
                .into_iter()
                .flatten()
                .filter(|(s, e, _)| s == name && e == entered)
                .map(|(s, e, at)| {
                    let what = if *e { "entered" } else { "left" };
                    (*at, format!("segment {s} {what} {at}"), json!({"segment": s, "change": what}))
                })
                .collect(),
            CWhen::Event(p) => {
                let mut out: Vec<(i64, String, Json)> = Vec::new();
                let mut from = 0;
                while let Some((_, end)) = self.find(p, t, from) {
                    let r = t.idx[end - 1];
                    let name = self.model.event_name(t.rows.event[r]);
                    let at = t.rows.ts[r];
                    // Two like events at one time: told apart by their order.
                    let n =
                        out.iter().filter(|(a, w, _)| *a == at && w.starts_with(&format!("event {name} {at}"))).count();
                    let properties = t
                        .rows
                        .str_at(Col::Properties, r)
                        .and_then(|s| serde_json::from_str::<Json>(s).ok())
                        .unwrap_or(Json::Null);
                    out.push((
                        at,
                        format!("event {name} {at} {n}"),
                        json!({
                            "name": name,
                            "timestamp": wayfarer_core::time::format_rfc3339(at),
                            "properties": properties,
                        }),
                    ));
                    from = end;
                }
                out
            }
        }
    }

    fn find(&self, p: &Pattern, t: &Timeline<'_>, from: usize) -> Option<(usize, usize)> {
        find(self.model, p, t, from)
    }

    fn after(t: &Timeline<'_>, at: i64) -> usize {
        after(t, at)
    }

    /// When the action is due, and what became of the occurrence.
    fn due(&self, c: &Compiled, t: &Timeline<'_>, at: i64) -> (i64, Outcome) {
        let latest = at.saturating_add(c.trigger.wait);
        let from = Self::after(t, at);
        let end_ts = |(_, end): (usize, usize)| t.rows.ts[t.idx[end - 1]];
        let due = match &c.until {
            Some(u) => match self.find(u, t, from).map(end_ts).filter(|&ts| ts <= latest) {
                Some(ts) => ts,
                None if latest <= self.inputs.now_us => return (latest, Outcome::Expired),
                None => return (latest, Outcome::Waiting),
            },
            None => latest,
        };
        if let Some(u) = &c.unless
            && self.find(u, t, from).map(end_ts).is_some_and(|ts| ts <= due.min(self.inputs.now_us))
        {
            return (due, Outcome::Cancelled);
        }
        if due > self.inputs.now_us {
            return (due, Outcome::Waiting);
        }
        (due, Outcome::Due)
    }

    fn goal(&self, g: &CGoal, t: &Timeline<'_>, at: i64, by: i64) -> Option<i64> {
        goal(self.model, g, t, at, by)
    }
}

/// The first match of a pattern in the timeline from event `from`.
fn find(model: &Model, p: &Pattern, t: &Timeline<'_>, from: usize) -> Option<(usize, usize)> {
    let rows = t.rows;
    p.find(t.idx.len(), from, &|i| rows.ts[t.idx[i]], &mut |term, i| {
        let spec = &p.terms[term];
        spec.matches_name(model.event_name(rows.event[t.idx[i]]))
            && spec.filter.as_ref().is_none_or(|(f, _, _)| f.eval(&Facts::event(t, model, i)))
    })
}

/// The first index of the timeline after time `at`.
fn after(t: &Timeline<'_>, at: i64) -> usize {
    t.idx.partition_point(|&r| t.rows.ts[r] <= at)
}

/// When the goal was first reached after `at`, if by `by`.
fn goal(model: &Model, g: &CGoal, t: &Timeline<'_>, at: i64, by: i64) -> Option<i64> {
    let reached = match g {
        CGoal::Stage(k) => t.entry.get(*k).copied().flatten().filter(|&e| e > at),
        CGoal::Event(p) => find(model, p, t, after(t, at)).map(|(_, end)| t.rows.ts[t.idx[end - 1]]),
    };
    reached.filter(|&r| r <= by)
}

/// A recorded action to measure: its trigger (an index into the compiled
/// triggers), the customer's id as recorded, and when it occurred and was
/// due.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub trigger: usize,
    pub customer: String,
    pub occurred_at_us: i64,
    pub due_at_us: i64,
}

/// Whether each recorded action's goal followed it — after it occurred, by
/// its due time plus the goal's window — on the data as it is now. Judged
/// from what was recorded, so events that arrived late (an `unless` seen
/// only after the action was due) or identities merged since do not
/// change which actions are measured; one fold over their customers.
pub fn goals_reached(
    store: &Store,
    model: &Model,
    compiled: &[Compiled],
    recorded: &[Recorded],
) -> Result<Vec<bool>, EngineError> {
    let ids = store.identity_shared()?;
    let mut graph = None;
    let canon = match ids.resolved() {
        Some(c) => c,
        None => graph.insert((*ids).clone()).canonical_map(),
    };
    let mut by_customer: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, r) in recorded.iter().enumerate() {
        let ident = ids.lookup(&format!("u:{}", r.customer)).or_else(|| ids.lookup(&format!("a:{}", r.customer)));
        if let Some(c) = ident.and_then(|i| canon.get(i as usize).copied()) {
            by_customer.entry(c).or_default().push(i);
        }
    }
    let scope = store.clone().only_customers(Arc::new(by_customer.keys().copied().collect()));
    let fold = GoalFold { model, compiled, recorded, by_customer };
    let mut reached = vec![false; recorded.len()];
    for i in fold::report(&scope, &fold)? {
        reached[i] = true;
    }
    Ok(reached)
}

struct GoalFold<'a> {
    model: &'a Model,
    compiled: &'a [Compiled],
    recorded: &'a [Recorded],
    by_customer: HashMap<u32, Vec<usize>>,
}

impl Fold for GoalFold<'_> {
    /// The recorded actions whose goal was reached.
    type Partial = Vec<usize>;
    type Scratch = ();
    type Report = Vec<usize>;

    fn columns(&self) -> Vec<Col> {
        let mut c = crate::membership::columns(self.model, &[], false);
        for comp in self.compiled {
            if let Some(CGoal::Event(p)) = &comp.goal {
                c.extend(pattern_columns(p));
            }
        }
        c.sort_by_key(|c| c.index());
        c.dedup();
        c
    }

    fn property_rows(&self) -> PropertyRows {
        self.model.property_rows()
    }

    fn init(&self) -> Self::Partial {
        Vec::new()
    }

    fn fold(&self, p: &mut Self::Partial, _: &mut (), span: Span<'_>) {
        let Some(t) = Timeline::build(self.model, &Scope::default(), span) else { return };
        for &i in self.by_customer.get(&t.customer).into_iter().flatten() {
            let r = &self.recorded[i];
            let Some(c) = self.compiled.get(r.trigger) else { continue };
            let Some(g) = &c.goal else { continue };
            if goal(self.model, g, &t, r.occurred_at_us, r.due_at_us.saturating_add(c.trigger.goal_within)).is_some() {
                p.push(i);
            }
        }
    }

    fn merge(&self, mut a: Self::Partial, b: Self::Partial) -> Self::Partial {
        a.extend(b);
        a
    }

    fn finish(&self, p: Self::Partial) -> Self::Report {
        p
    }
}

/// A trigger's measured effect: the goal's rate in the acted-on and the
/// control arm, their difference and relative lift with 95 % intervals,
/// and the two-proportion test's p-value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effect {
    pub acted: u64,
    pub acted_goal: u64,
    pub held_out: u64,
    pub held_out_goal: u64,
    pub rate_acted: Option<f64>,
    pub rate_held_out: Option<f64>,
    pub difference: Option<f64>,
    pub difference_ci: Option<(f64, f64)>,
    pub relative_lift: Option<f64>,
    pub relative_lift_ci: Option<(f64, f64)>,
    pub p_value: Option<f64>,
}

/// The effect from the arms' counts.
pub fn effect(acted: u64, acted_goal: u64, held_out: u64, held_out_goal: u64) -> Effect {
    use wayfarer_models::stats;
    let rate = |x: u64, n: u64| (n > 0).then(|| x as f64 / n as f64);
    let (r1, r0) = (rate(acted_goal, acted), rate(held_out_goal, held_out));
    let test = stats::two_proportion(acted_goal, acted, held_out_goal, held_out);
    // The ratio's interval on the log scale (Katz).
    let ratio = match (r1, r0) {
        (Some(a), Some(b)) if a > 0.0 && b > 0.0 => {
            let se = (1.0 / acted_goal as f64 - 1.0 / acted as f64 + 1.0 / held_out_goal as f64
                - 1.0 / held_out as f64)
                .max(0.0)
                .sqrt();
            let lr = (a / b).ln();
            Some((a / b - 1.0, ((lr - 1.96 * se).exp() - 1.0, (lr + 1.96 * se).exp() - 1.0)))
        }
        _ => None,
    };
    Effect {
        acted,
        acted_goal,
        held_out,
        held_out_goal,
        rate_acted: r1,
        rate_held_out: r0,
        difference: r1.zip(r0).map(|(a, b)| a - b),
        difference_ci: stats::difference_interval(acted_goal, acted, held_out_goal, held_out),
        relative_lift: ratio.map(|r| r.0),
        relative_lift_ci: ratio.map(|r| r.1),
        p_value: test.map(|t| t.p_value),
    }
}

/// The compiled conditions of triggers read as a predicate (for tests and
/// the preview): whether `if` holds for a customer's facts.
pub fn condition_of(c: &Compiled) -> Option<&Predicate> {
    c.condition.as_ref().map(|s| &s.predicate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{self, MIN, T0, ev, store, with};

    fn triggers(text: &str) -> Vec<Trigger> {
        wayfarer_core::triggers::parse(text, &|_| None).unwrap()
    }

    #[test]
    fn wait_until_unless_if_and_goal() {
        let buy = |u: &str, m: f64| with(ev(u, m, "Order Completed"), |e| e.revenue = Some(20.0));
        let (_dir, s) = store(vec![
            // a: added to cart, no order: due 2h later.
            ev("a", 0.0, "Product Added"),
            ev("a", 500.0, "Page Viewed"),
            // b: added, ordered within the 2h: cancelled.
            ev("b", 0.0, "Product Added"),
            buy("b", 30.0),
            // c: added, then ordered after the reminder was due: goal reached.
            ev("c", 0.0, "Product Added"),
            buy("c", 300.0),
            // d: added just now: still waiting.
            ev("d", 590.0, "Product Added"),
        ]);
        let model = testutil::model(&s);
        let t = triggers(
            r#"
[[trigger]]
name = "cart reminder"
when = "event Product Added"
wait = "2h"
unless = "Order Completed"
goal = "Order Completed"
goal_within = "1d"
"#,
        );
        let compiled = compile(&s, &model, &t).unwrap();
        let inputs = Inputs {
            compiled: &compiled,
            since: vec![i64::MIN],
            now_us: T0 + 600 * MIN,
            segment_changes: HashMap::new(),
            keep_all: true,
        };
        let found = occurrences(&s, &model, &inputs).unwrap().found;
        let got: Vec<(&str, Outcome, bool)> =
            found.iter().map(|o| (o.customer_id.as_str(), o.outcome, o.goal_at_us.is_some())).collect();
        assert_eq!(
            got,
            [
                ("a", Outcome::Due, false),
                ("b", Outcome::Cancelled, true),
                ("c", Outcome::Due, true),
                ("d", Outcome::Waiting, false)
            ]
        );
        assert_eq!(found[0].due_at_us, T0 + 120 * MIN);
        assert_eq!(found[0].payload["event"]["name"], "Product Added");
        // The same evaluation again: the same ids.
        let again = occurrences(&s, &model, &inputs).unwrap().found;
        assert_eq!(found.iter().map(|o| &o.id).collect::<Vec<_>>(), again.iter().map(|o| &o.id).collect::<Vec<_>>());
        // A misspelled event names the trigger, key and closest name.
        let bad = triggers("[[trigger]]\nname = \"x\"\nwhen = \"event Product Aded\"");
        let e = compile(&s, &model, &bad).unwrap_err().to_string();
        assert!(e.contains("trigger 'x', key 'when'") && e.contains("did you mean 'Product Added'"), "{e}");
        let bad = triggers("[[trigger]]\nname = \"x\"\nwhen = \"enters stage 'Purchse'\"");
        let e = compile(&s, &model, &bad).unwrap_err().to_string();
        assert!(e.contains("did you mean 'Purchase'"), "{e}");
        let bad = triggers("[[trigger]]\nname = \"x\"\nwhen = \"event Product Added\"\nif = \"traits.plna = 1\"");
        let e = compile(&s, &model, &bad).unwrap_err().to_string();
        assert!(e.contains("trigger 'x', key 'if'"), "{e}");
    }

    #[test]
    fn goals_are_judged_from_what_was_recorded() {
        let buy = |u: &str, m: f64| with(ev(u, m, "Order Completed"), |e| e.revenue = Some(20.0));
        let (_dir, s) = store(vec![
            ev("a", 0.0, "Product Added"),
            // b's order arrived after the reminder was recorded as due: the
            // occurrence is cancelled now, but the action was taken and
            // its goal followed.
            ev("b", 0.0, "Product Added"),
            buy("b", 30.0),
            ev("c", 0.0, "Product Added"),
            buy("c", 300.0),
            // d ordered too late for the window.
            ev("d", 0.0, "Product Added"),
            buy("d", 3000.0),
        ]);
        let model = testutil::model(&s);
        let t = triggers(
            "[[trigger]]\nname = \"r\"\nwhen = \"event Product Added\"\nwait = \"2h\"\nunless = \"Order Completed\"\n\
             goal = \"Order Completed\"\ngoal_within = \"1d\"\n",
        );
        let compiled = compile(&s, &model, &t).unwrap();
        let rec =
            |c: &str| Recorded { trigger: 0, customer: c.to_string(), occurred_at_us: T0, due_at_us: T0 + 120 * MIN };
        let recorded: Vec<Recorded> = ["a", "b", "c", "d", "nobody"].iter().map(|c| rec(c)).collect();
        let reached = goals_reached(&s, &model, &compiled, &recorded).unwrap();
        assert_eq!(reached, [false, true, true, false, false]);
    }

    #[test]
    fn holdout_is_a_stable_share() {
        let n = 20_000;
        let held = (0..n).filter(|i| held_out("t", &format!("c{i}"), 0.1)).count();
        assert!((1800..2200).contains(&held), "{held}");
        assert_eq!(held_out("t", "c1", 0.1), held_out("t", "c1", 0.1));
        // Another trigger holds out other customers.
        let both =
            (0..n).filter(|i| held_out("t", &format!("c{i}"), 0.1) && held_out("u", &format!("c{i}"), 0.1)).count();
        assert!(both < 300, "{both}");
    }

    #[test]
    fn effects_have_intervals() {
        let e = effect(900, 450, 100, 30);
        assert!((e.difference.unwrap() - 0.2).abs() < 1e-12);
        let (lo, hi) = e.difference_ci.unwrap();
        assert!(lo < 0.2 && hi > 0.2 && lo > 0.0, "{lo} {hi}");
        assert!((e.relative_lift.unwrap() - (0.5 / 0.3 - 1.0)).abs() < 1e-12);
        assert!(e.p_value.unwrap() < 0.001);
        assert_eq!(effect(10, 5, 0, 0).p_value, None);
    }
}
