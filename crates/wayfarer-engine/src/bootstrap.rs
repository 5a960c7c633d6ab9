//! `wayfarer config init --from-data`: a configuration proposed from the
//! data instead of from Segment's names. One fold profiles the store (each
//! event name's count, customers, typical position in a customer's journey
//! and properties with their types and examples); [`propose`] places every
//! name in a stage by its words' likeness to Segment's semantic names and the
//! vocabulary of e-commerce journeys, falls back on the typical position for
//! names it cannot read, picks the purchase event, friction, support and
//! passive events, touchpoints with readable names and channel rules from a
//! channel-like column; [`to_toml`] writes the documented default file with
//! those parts replaced and every guess commented, for the user to edit.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value as Json;
use wayfarer_core::Kind;
use wayfarer_core::config::DEFAULT_TOML;
use wayfarer_store::{Col, Store};

use crate::EngineError;
use crate::fold::{self, Fold, Span};

/// Rows whose properties are parsed per event name (enough for types and
/// examples; counts of keys are over these rows).
const SAMPLE_ROWS: u64 = 2_000;
/// Distinct values kept per property (a column with more is not a category).
const MAX_DISTINCT: usize = 40;

/// One property of an event name, from a sample of its rows.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PropertyProfile {
    pub key: String,
    /// `number`, `string`, `boolean`, `object`, `array` or `mixed`.
    pub kind: String,
    /// Sampled rows that carry it.
    pub rows: u64,
    /// Distinct values seen (at most [`MAX_DISTINCT`] + 1, meaning "more").
    pub distinct: usize,
    pub examples: Vec<String>,
    /// Every value seen, when there are at most [`MAX_DISTINCT`] (a category).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EventProfile {
    pub name: String,
    pub events: u64,
    pub customers: u64,
    /// Mean position of a customer's first such event in their journey,
    /// 0 (first event) to 1 (last).
    pub position: f64,
    pub sampled: u64,
    pub properties: Vec<PropertyProfile>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DataProfile {
    pub customers: u64,
    pub events: u64,
    /// Most frequent first.
    pub event_names: Vec<EventProfile>,
}

#[derive(Debug, Clone, Default)]
struct PropAcc {
    kinds: BTreeSet<&'static str>,
    rows: u64,
    values: BTreeSet<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ProfilePartial {
    customers: u64,
    events: Vec<u64>,
    customers_per: Vec<u64>,
    position_sum: Vec<f64>,
    sampled: Vec<u64>,
    props: Vec<BTreeMap<String, PropAcc>>,
}

struct ProfileFold {
    names: usize,
}

fn kind_of(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

fn value_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Fold for ProfileFold {
    type Partial = ProfilePartial;
    type Scratch = Vec<usize>;
    type Report = DataProfile;

    fn columns(&self) -> Vec<Col> {
        vec![Col::EventCode, Col::KindCode, Col::Properties]
    }

    fn init(&self) -> ProfilePartial {
        let n = self.names;
        ProfilePartial {
            events: vec![0; n],
            customers_per: vec![0; n],
            position_sum: vec![0.0; n],
            sampled: vec![0; n],
            props: vec![BTreeMap::new(); n],
            ..ProfilePartial::default()
        }
    }

    fn fold(&self, p: &mut ProfilePartial, first: &mut Vec<usize>, span: Span<'_>) {
        let rows = span.rows;
        let interactions: Vec<usize> =
            (span.start..span.end).filter(|&i| Kind::from_code(rows.kind[i]).is_interaction()).collect();
        if interactions.is_empty() {
            return;
        }
        p.customers += 1;
        first.clear();
        first.resize(self.names, usize::MAX);
        let last = (interactions.len() - 1).max(1) as f64;
        for (k, &i) in interactions.iter().enumerate() {
            let code = rows.event[i] as usize;
            if code >= self.names {
                continue;
            }
            p.events[code] += 1;
            if first[code] == usize::MAX {
                first[code] = k;
                p.customers_per[code] += 1;
                p.position_sum[code] += k as f64 / last;
            }
            if p.sampled[code] < SAMPLE_ROWS {
                p.sampled[code] += 1;
                if let Some(Ok(Json::Object(o))) = rows.str_at(Col::Properties, i).map(serde_json::from_str::<Json>) {
                    for (key, v) in o {
                        if v.is_null() {
                            continue;
                        }
                        let acc = p.props[code].entry(key).or_default();
                        acc.rows += 1;
                        acc.kinds.insert(kind_of(&v));
                        if acc.values.len() <= MAX_DISTINCT {
                            acc.values.insert(value_text(&v));
                        }
                    }
                }
            }
        }
    }

    fn merge(&self, mut a: ProfilePartial, mut b: ProfilePartial) -> ProfilePartial {
        a.customers += b.customers;
        for c in 0..self.names {
            a.events[c] += b.events[c];
            a.customers_per[c] += b.customers_per[c];
            a.position_sum[c] += b.position_sum[c];
            a.sampled[c] += b.sampled[c];
            for (k, v) in std::mem::take(&mut b.props[c]) {
                let acc = a.props[c].entry(k).or_default();
                acc.rows += v.rows;
                acc.kinds.extend(v.kinds);
                for x in v.values {
                    if acc.values.len() > MAX_DISTINCT {
                        break;
                    }
                    acc.values.insert(x);
                }
            }
        }
        a
    }

    fn finish(&self, p: ProfilePartial) -> DataProfile {
        unreachable!("finished with the store's names by profile(): {}", p.customers)
    }
}

/// Profiles the store's events: names, counts, positions and properties.
pub fn profile(store: &Store) -> Result<DataProfile, EngineError> {
    let names = store.event_names().to_vec();
    let f = ProfileFold { names: names.len() };
    let p = fold::run(store, &f)?;
    let mut event_names: Vec<EventProfile> = names
        .iter()
        .enumerate()
        .filter(|&(c, _)| p.events[c] > 0)
        .map(|(c, name)| {
            let mut properties: Vec<PropertyProfile> = p.props[c]
                .iter()
                .map(|(key, acc)| PropertyProfile {
                    key: key.clone(),
                    kind: if acc.kinds.len() == 1 {
                        acc.kinds.iter().next().copied().unwrap_or("mixed").to_string()
                    } else {
                        "mixed".into()
                    },
                    rows: acc.rows,
                    distinct: acc.values.len(),
                    examples: acc.values.iter().take(3).cloned().collect(),
                    values: if acc.values.len() <= MAX_DISTINCT {
                        acc.values.iter().cloned().collect()
                    } else {
                        Vec::new()
                    },
                })
                .collect();
            properties.sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| a.key.cmp(&b.key)));
            EventProfile {
                name: name.clone(),
                events: p.events[c],
                customers: p.customers_per[c],
                position: if p.customers_per[c] == 0 { 0.0 } else { p.position_sum[c] / p.customers_per[c] as f64 },
                sampled: p.sampled[c],
                properties,
            }
        })
        .collect();
    event_names.sort_by(|a, b| b.events.cmp(&a.events).then_with(|| a.name.cmp(&b.name)));
    Ok(DataProfile { customers: p.customers, events: event_names.iter().map(|e| e.events).sum(), event_names })
}

/// The words of an event name: split at `_`, `-`, `.`, `:`, `/`, spaces and
/// camelCase boundaries, lower-cased, with plural and tense endings removed
/// (`Products Viewed` and `product_view` give the same words).
pub fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in name.chars() {
        let boundary = !ch.is_alphanumeric() || (ch.is_uppercase() && prev_lower);
        if boundary && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        if ch.is_alphanumeric() {
            cur.extend(ch.to_lowercase());
        }
        prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter().map(|w| stem(&w)).collect()
}

fn stem(w: &str) -> String {
    let mut b = w.to_string();
    for (suffix, keep) in [("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")] {
        if let Some(base) = w.strip_suffix(suffix)
            && base.len() >= 3
            && !w.ends_with("ss")
        {
            b = format!("{base}{keep}");
            break;
        }
    }
    // "shipped" → "shipp" → "ship"; "completed" and "complete" → "complet".
    let bytes = b.as_bytes();
    if b.len() > 3 && bytes[b.len() - 1] == bytes[b.len() - 2] && !b.ends_with("ll") && !b.ends_with("ss") {
        b.pop();
    }
    if b.len() > 3 && b.ends_with('e') {
        b.pop();
    }
    b
}

/// What a name says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Enters a stage (by index in the default stage model).
    Stage(usize),
    Purchase,
    Friction,
    Support,
    Passive,
    /// Nothing in the name says: only counts as the first stage.
    Unknown,
}

// The default stage model's order: Awareness, Consideration, Decision,
// Purchase, Retention, Advocacy.
const CONSIDERATION: usize = 1;
const DECISION: usize = 2;
const ADVOCACY: usize = 5;

/// Whether any of the words is one of `any` (stemmed alike).
fn has(w: &[String], any: &[&str]) -> bool {
    w.iter().any(|x| any.iter().any(|a| stem(a) == *x))
}

/// Reads a name's role from its words.
pub fn role(name: &str) -> Role {
    let w = words(name);
    if has(
        &w,
        &[
            "error",
            "fail",
            "failure",
            "invalid",
            "denie",
            "deny",
            "decline",
            "timeout",
            "crash",
            "exception",
            "reject",
            "refund",
            "cancel",
            "cancell",
            "bounce",
        ],
    ) {
        return Role::Friction;
    }
    if has(&w, &["support", "ticket", "helpdesk", "complaint", "chat", "call", "contact"]) {
        return Role::Support;
    }
    if has(&w, &["sent", "send", "deliver", "receive", "impression", "notification", "push", "open"])
        && !has(&w, &["referral", "refer", "invite", "review"])
    {
        return Role::Passive;
    }
    let done = has(&w, &["complete", "success", "successful", "place", "confirm", "done", "paid", "finish", "submit"]);
    if has(&w, &["purchase", "buy", "bought", "transaction", "conversion"])
        || (has(&w, &["order", "checkout", "payment"]) && done)
        || w == [stem("order")]
    {
        return Role::Purchase;
    }
    if has(&w, &["review", "rating", "rate", "share", "refer", "referral", "invite", "recommend", "testimonial"]) {
        return Role::Stage(ADVOCACY);
    }
    if has(
        &w,
        &[
            "cart", "basket", "bag", "checkout", "shipping", "billing", "payment", "coupon", "promo", "voucher",
            "address", "trial", "quote",
        ],
    ) {
        return Role::Stage(DECISION);
    }
    if has(
        &w,
        &[
            "product",
            "item",
            "sku",
            "detail",
            "search",
            "category",
            "list",
            "catalog",
            "catalogue",
            "compare",
            "filter",
            "pricing",
            "plan",
            "wishlist",
            "favorite",
            "favourite",
            "signup",
            "sign",
            "register",
            "registration",
            "account",
            "demo",
            "video",
            "brochure",
            "login",
        ],
    ) {
        return Role::Stage(CONSIDERATION);
    }
    Role::Unknown
}

/// Readable words for a name: `add_to_cart` → "Add to cart".
pub fn readable(name: &str) -> String {
    let mut raw = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in name.chars() {
        let boundary = !ch.is_alphanumeric() || (ch.is_uppercase() && prev_lower);
        if boundary && !cur.is_empty() {
            raw.push(std::mem::take(&mut cur));
        }
        if ch.is_alphanumeric() {
            cur.extend(ch.to_lowercase());
        }
        prev_lower = ch.is_lowercase();
    }
    if !cur.is_empty() {
        raw.push(cur);
    }
    let s = raw.join(" ");
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

/// GA4's name for a channel-like value (`paid_social` → "Paid Social"), or
/// the value in readable words.
pub fn channel_name(value: &str) -> String {
    let w = words(value).join(" ");
    let known = [
        ("organic search", "Organic Search"),
        ("seo", "Organic Search"),
        ("paid search", "Paid Search"),
        ("cpc", "Paid Search"),
        ("sem", "Paid Search"),
        ("paid social", "Paid Social"),
        ("organic social", "Organic Social"),
        ("social", "Organic Social"),
        ("email", "Email"),
        ("newsletter", "Email"),
        ("referral", "Referral"),
        ("direct", "Direct"),
        ("affiliate", "Affiliates"),
        ("display", "Display"),
        ("sms", "SMS"),
        ("push", "Mobile Push Notifications"),
        ("video", "Organic Video"),
        ("paid video", "Paid Video"),
        ("audio", "Audio"),
        ("shopping", "Organic Shopping"),
    ];
    known.iter().find(|(k, _)| *k == w).map_or_else(|| title(&readable(value)), |(_, v)| v.to_string())
}

fn title(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let mut c = w.chars();
            c.next().map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Property keys that name how a customer arrived.
fn channel_like(key: &str) -> bool {
    let w = words(key);
    has(&w, &["channel", "medium"])
        || (has(&w, &["source"]) && has(&w, &["traffic", "acquisition", "marketing", "lead"]))
}

/// Property keys that carry an order's value.
fn value_like(key: &str) -> bool {
    has(&words(key), &["revenue", "value", "amount", "total", "price", "sale", "sales", "gmv"])
}

/// One proposed placement, with why.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Placement {
    pub event: String,
    pub role: Role,
    /// "name" (its words), "segment:NAME" (like Segment's semantic name NAME)
    /// or "position".
    pub by: String,
    pub events: u64,
    pub position: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Proposal {
    pub purchase_event: Option<String>,
    pub placements: Vec<Placement>,
    /// (channel name, property key, value).
    pub channel_rules: Vec<(String, String, String)>,
    /// A numeric property of the purchase event that looks like its value.
    pub revenue_property: Option<String>,
}

/// Places every event name of the profile.
pub fn propose(p: &DataProfile) -> Proposal {
    let defaults = wayfarer_core::Config::default();
    let segment_stage = |name: &str| {
        let w = words(name);
        defaults.stages.iter().enumerate().find_map(|(k, s)| {
            s.rules
                .iter()
                .find(|r| r.event != "*" && r.when.is_none() && words(&r.event) == w)
                .map(|r| (k, r.event.clone()))
        })
    };
    let mut placements: Vec<Placement> = p
        .event_names
        .iter()
        .map(|e| {
            let (role, by) = match segment_stage(&e.name) {
                Some((3, name)) => (Role::Purchase, format!("segment:{name}")),
                Some((s, name)) if s > 0 => (Role::Stage(s), format!("segment:{name}")),
                _ => (role(&e.name), "name".into()),
            };
            Placement { event: e.name.clone(), role, by, events: e.events, position: e.position }
        })
        .collect();
    // One purchase event: the most frequent name that says so; the others
    // become Decision steps (a payment completed before the order).
    let purchase =
        placements.iter().filter(|x| x.role == Role::Purchase).max_by_key(|x| x.events).map(|x| x.event.clone());
    for x in placements.iter_mut().filter(|x| x.role == Role::Purchase) {
        if Some(&x.event) != purchase.as_ref() {
            x.role = Role::Stage(DECISION);
        }
    }
    // Names the words do not place: by their typical position between the
    // stages' placed names (a name usually met after the Decision names
    // and before the purchase is a Decision step).
    let mean = |stage: usize| {
        let xs: Vec<f64> = placements.iter().filter(|x| x.role == Role::Stage(stage)).map(|x| x.position).collect();
        (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
    };
    let anchors: Vec<(usize, f64)> =
        [CONSIDERATION, DECISION].iter().filter_map(|&s| mean(s).map(|m| (s, m))).collect();
    if anchors.len() == 2 {
        let (c, d) = (anchors[0].1, anchors[1].1);
        for x in placements.iter_mut().filter(|x| x.role == Role::Unknown) {
            if d > c && x.position >= d - (d - c) / 4.0 && x.position <= d + (d - c) / 2.0 {
                x.role = Role::Stage(DECISION);
                x.by = "position".into();
            }
        }
    }
    // Channel rules from the most common channel-like property.
    let mut channel_rules = Vec::new();
    let mut best: Option<(&PropertyProfile, u64)> = None;
    for e in &p.event_names {
        for pr in e.properties.iter().filter(|pr| channel_like(&pr.key) && pr.kind == "string" && pr.distinct <= 30) {
            if best.is_none_or(|(_, n)| pr.rows > n) {
                best = Some((pr, pr.rows));
            }
        }
    }
    if let Some((pr, _)) = best {
        let values: BTreeSet<String> = p
            .event_names
            .iter()
            .flat_map(|e| e.properties.iter().filter(|x| x.key == pr.key).flat_map(|x| x.values.clone()))
            .collect();
        for v in values {
            channel_rules.push((channel_name(&v), pr.key.clone(), v));
        }
    }
    let revenue_property = purchase.as_ref().and_then(|name| {
        let e = p.event_names.iter().find(|e| &e.name == name)?;
        e.properties.iter().find(|x| x.kind == "number" && value_like(&x.key)).map(|x| x.key.clone())
    });
    Proposal { purchase_event: purchase, placements, channel_rules, revenue_property }
}

fn quote(s: &str) -> String {
    // A JSON string is a valid TOML basic string (the same escapes).
    serde_json::to_string(s).unwrap_or_default()
}

fn list(names: &[&str]) -> String {
    format!("[{}]", names.iter().map(|n| quote(n)).collect::<Vec<_>>().join(", "))
}

/// Replaces the line that starts with `key =` (at most one) in `text`.
fn set_line(text: &mut String, key: &str, value: &str) {
    let prefix = format!("{key} = ");
    if let Some(start) = text.find(&format!("\n{prefix}")) {
        let start = start + 1;
        let end = text[start..].find('\n').map_or(text.len(), |e| start + e);
        text.replace_range(start..end, &format!("{prefix}{value}"));
    }
}

/// Replaces the text from the line `from` up to (not including) the line
/// that starts with `to`.
fn replace_block(text: &mut String, from: &str, to: &str, with: &str) {
    if let (Some(a), Some(b)) = (text.find(from), text.find(to))
        && a < b
    {
        text.replace_range(a..b, with);
    }
}

/// The documented default configuration with the proposal's parts in place
/// and the profile as a comment at the top.
pub fn to_toml(p: &DataProfile, x: &Proposal) -> String {
    let defaults = wayfarer_core::Config::default();
    let mut text = DEFAULT_TOML.to_string();
    let by_role = |r: Role| x.placements.iter().filter(|p| p.role == r).map(|p| p.event.as_str()).collect::<Vec<_>>();
    if let Some(purchase) = &x.purchase_event {
        set_line(&mut text, "purchase_event", &quote(purchase));
        set_line(&mut text, "conversion_events", &list(&[purchase]));
    }
    set_line(&mut text, "friction_events", &list(&by_role(Role::Friction)));
    set_line(&mut text, "support_events", &list(&by_role(Role::Support)));
    set_line(&mut text, "passive_events", &list(&by_role(Role::Passive)));

    // Channel rules from a channel-like column.
    if !x.channel_rules.is_empty() {
        let key = &x.channel_rules[0].1;
        let mut rules = format!(
            "# Proposed from the `{key}` column ({} values); edit the names, or delete\n# the rules to use GA4's grouping of UTM values and referrers alone.\n",
            x.channel_rules.len()
        );
        for (name, key, value) in &x.channel_rules {
            rules.push_str(&format!(
                "[[channels.rules]]\nname = {}\nwhen = {}\n\n",
                quote(name),
                quote(&format!("{key} = {}", sql_quote(value)))
            ));
        }
        let anchor =
            "# [[channels.rules]]\n# name = \"Partners\"\n# when = \"source ~ '*partner*' or medium = 'partner'\"\n";
        if let Some(at) = text.find(anchor) {
            text.insert_str(at + anchor.len(), &format!("\n{rules}"));
        }
    }

    // The stage model.
    let mut stages = String::new();
    for (k, s) in defaults.stages.iter().enumerate() {
        stages.push_str(&format!("[[stages]]\nname = {}\ndescription = {}\n", quote(&s.name), quote(&s.description)));
        let rules: Vec<String> = match k {
            0 => vec!["{ event = \"*\" }".into()],
            3 => x.purchase_event.iter().map(|e| format!("{{ event = {} }}", quote(e))).collect(),
            4 => x
                .purchase_event
                .iter()
                .map(|e| format!("{{ event = {}, when = \"nth_purchase >= 2\" }}", quote(e)))
                .collect(),
            _ => x
                .placements
                .iter()
                .filter(|p| p.role == Role::Stage(k))
                .map(|p| {
                    let why = match p.by.as_str() {
                        "position" => format!("by position: typically {:.0}% into a journey", p.position * 100.0),
                        by => by
                            .strip_prefix("segment:")
                            .map_or_else(|| "by its name".to_string(), |name| format!("like Segment's '{name}'")),
                    };
                    format!("{{ event = {} }},  # {} events; {why}", quote(&p.event), p.events)
                })
                .collect(),
        };
        if rules.is_empty() {
            stages.push_str(
                "# No event name of the data reads like this stage: add rules, or it stays empty.\nrules = []\n\n",
            );
        } else if rules.len() == 1 && !rules[0].contains('#') {
            stages.push_str(&format!("rules = [{}]\n\n", rules[0]));
        } else {
            stages.push_str("rules = [\n");
            for r in rules {
                // The comment after the comma keeps the array valid TOML.
                let r = if r.contains("},  #") { r } else { format!("{r},") };
                stages.push_str(&format!("  {r}\n"));
            }
            stages.push_str("]\n\n");
        }
    }
    let unknown = by_role(Role::Unknown);
    if !unknown.is_empty() {
        stages.push_str(&format!(
            "# Only in the first stage (nothing in the name says more; add them to a stage above if they belong):\n# {}\n\n",
            unknown.join(", ")
        ));
    }
    replace_block(&mut text, "[[stages]]\n", "# Touchpoints name kinds", &stages);

    // Touchpoints: every name a team would recognise, in readable words.
    let mut tps = String::new();
    for e in &p.event_names {
        let role = x.placements.iter().find(|p| p.event == e.name).map(|p| p.role);
        if matches!(role, Some(Role::Passive)) && e.events == 0 {
            continue;
        }
        tps.push_str(&format!("[[touchpoints]]\nname = {}\nevent = {}\n\n", quote(&readable(&e.name)), quote(&e.name)));
    }
    tps.push_str("[[touchpoints]]\nname = \"Phone call\"\nchannel = \"Phone\"\n\n[[touchpoints]]\nname = \"Store visit\"\nchannel = \"Store\"\n\n");
    replace_block(&mut text, "[[touchpoints]]\n", "# Hand-written personas", &tps);

    let mut head = format!(
        "# Proposed by `wayfarer config init --from-data` from {} customers and {} events.\n\
         # Every guess is marked; check the stages, then run `wayfarer doctor`.\n#\n\
         # Event names (events · customers · typical position in a journey · properties):\n",
        p.customers, p.events
    );
    for e in &p.event_names {
        let props: Vec<String> = e.properties.iter().take(6).map(|pr| format!("{} ({})", pr.key, pr.kind)).collect();
        head.push_str(&format!(
            "#   {:<28} {:>8} · {:>7} · {:>3.0}%{}\n",
            e.name,
            e.events,
            e.customers,
            e.position * 100.0,
            if props.is_empty() { String::new() } else { format!(" · {}", props.join(", ")) }
        ));
    }
    match (&x.purchase_event, &x.revenue_property) {
        (None, _) => head.push_str(
            "#\n# No event name reads like a purchase: set journey.purchase_event and the Purchase stage's rule.\n",
        ),
        (Some(purchase), Some(prop)) => {
            head.push_str(&format!(
                "#\n# `{prop}` on `{purchase}` looks like the order's value: [ingest] revenue_property below\n# reads it as revenue, so value lanes and CLV can use it (a guess: check it).\n"
            ));
            let line = format!("revenue_property = {}  # guessed from the data\n", quote(prop));
            text = text.replacen("# revenue_property = \"order_value\"\n", &line, 1);
        }
        (Some(_), None) => {}
    }
    head.push('\n');
    head + &text
}

/// A value as the condition language's string literal.
fn sql_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_of_every_naming_style_agree() {
        assert_eq!(words("Product Viewed"), ["product", "view"]);
        assert_eq!(words("product_view"), ["product", "view"]);
        assert_eq!(words("productViewed"), ["product", "view"]);
        assert_eq!(words("Products Searched"), ["product", "search"]);
        assert_eq!(words("add-to-cart"), ["add", "to", "cart"]);
        assert_eq!(words("Order Completed"), words("order_complete"));
        assert_eq!(words("checkout_started"), ["checkout", "start"]);
        assert_eq!(words("Order Shipped"), ["order", "ship"]);
        assert_eq!(words("purchased"), words("Purchase"));
        assert_eq!(words("Categories"), words("category"));
    }

    #[test]
    fn roles_read_from_names() {
        assert_eq!(role("purchase"), Role::Purchase);
        assert_eq!(role("order_completed"), Role::Purchase);
        assert_eq!(role("add_to_cart"), Role::Stage(DECISION));
        assert_eq!(role("checkout_start"), Role::Stage(DECISION));
        assert_eq!(role("product_view"), Role::Stage(CONSIDERATION));
        assert_eq!(role("search"), Role::Stage(CONSIDERATION));
        assert_eq!(role("payment_error"), Role::Friction);
        assert_eq!(role("out_of_stock_error"), Role::Friction);
        assert_eq!(role("coupon_invalid"), Role::Friction);
        assert_eq!(role("email_sent"), Role::Passive);
        assert_eq!(role("review_submitted"), Role::Stage(ADVOCACY));
        assert_eq!(role("referral_sent"), Role::Stage(ADVOCACY));
        assert_eq!(role("landing_page_view"), Role::Unknown);
        assert_eq!(readable("add_to_cart"), "Add to cart");
        assert_eq!(readable("checkoutStarted"), "Checkout started");
        assert_eq!(channel_name("paid_social"), "Paid Social");
        assert_eq!(channel_name("tv_campaign"), "Tv Campaign");
    }
}
