//! The one condition language of Wayfarer: stage rules, touchpoints, funnel
//! steps and exclusions, channel rules, persona rules (and segments and
//! triggers) all use it, and a field means the same thing everywhere
//! (DESIGN §4.4): `properties.rating >= 4`, `plan = 'pro'` (a bare name is an
//! event property), `survey = 'nps' and score >= 9`, `url ~ '*/checkout/*'`,
//! `traits.plan = 'pro' or first_channel = 'Email'`.
//!
//! ```text
//! expr    := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | "(" expr ")" | field [op value]
//! op      := = | == | != | > | >= | < | <= | ~ (glob) | !~ | contains
//! value   := number | 'text' | "text" | true | false | null | bareword
//! field   := name ("." name)*
//! ```
//!
//! Fields: the event's own (`event`, `kind`, `channel`, `source`, `medium`,
//! `campaign`, `url`, `referrer`, `revenue`, `score`, `survey`, `text`), the
//! derived `nth_purchase`, `properties.NAME` or a bare `NAME` (an event
//! property), `traits.NAME` (the customer's identify traits, last value
//! wins), and the customer facts `first_channel`, `orders` (= `purchases`),
//! `revenue_total`, `events`, `stage`. Where a condition reads a whole
//! customer (personas, segments), `properties.NAME` is the latest value the
//! customer's events gave the property (as with traits, last value wins).
//!
//! A field alone is true when it is present and not false/0/empty. Comparison
//! is numeric when both sides are numbers (a text field holding a number
//! counts), otherwise textual; a missing field compares unequal to everything
//! and fails every ordering.
//!
//! [`Predicate::compile`] also checks a condition against where it is used
//! ([`Scope`]) and what the data holds ([`Vocabulary`]): a field the scope
//! cannot know, a likely misspelled field, a number compared with text, or
//! an event, channel, stage or kind that does not exist is an error naming
//! the column, never a condition that silently matches nothing.

use std::borrow::Cow;
use std::fmt;

/// A value a field can hold.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Num(f64),
    Str(Cow<'a, str>),
}

impl Value<'_> {
    fn as_num(&self) -> Option<f64> {
        match self {
            Value::Num(n) => Some(*n),
            Value::Str(s) => s.trim().parse().ok(),
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Value::Null => None,
        }
    }

    fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Num(n) => *n != 0.0,
            Value::Str(s) => !s.is_empty(),
        }
    }

    /// The value as text (numbers without a needless ".0").
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Value::Null => Cow::Borrowed(""),
            Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Value::Num(n) => Cow::Owned(format_num(*n)),
            Value::Str(s) => Cow::Borrowed(s),
        }
    }

    /// Converts a JSON value (a property or trait) into a predicate value.
    pub fn from_json(v: &serde_json::Value) -> Value<'static> {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => n.as_f64().map_or(Value::Null, Value::Num),
            serde_json::Value::String(s) => Value::Str(Cow::Owned(s.clone())),
            other => Value::Str(Cow::Owned(other.to_string())),
        }
    }
}

fn format_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { format!("{n}") }
}

/// A fact about the whole customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CustomerFact {
    /// The channel of the customer's first event.
    FirstChannel,
    /// Purchases (`Order Completed` or the configured purchase event).
    Orders,
    /// Revenue of all purchases.
    RevenueTotal,
    /// Number of events.
    Events,
    /// The current (highest reached) stage. Compared with `<`, `<=`, `>`,
    /// `>=` it is ordered as the stage model orders stages, so
    /// `stage >= 'Purchase'` reads "reached Purchase".
    Stage,
    /// The channel of most of the customer's events (ties: the earliest).
    FavouriteChannel,
    /// No activity for `churn_after` before the end of the data.
    Churned,
    /// `promoter`, `passive` or `detractor`, from the latest NPS answer.
    NpsGroup,
    /// The customer's persona (by the configured persona rules).
    Persona,
    /// Predicted CLV (BG/NBD and Gamma-Gamma, `wayfarer clv`'s defaults);
    /// known for customers with a purchase.
    Clv,
    /// P(alive) under BG/NBD; known for customers with a purchase.
    PAlive,
    /// When the customer's first interaction (track, page, screen) was, as
    /// an RFC 3339 UTC time; compared with a date or time
    /// (`first_seen >= '2026-07-06'`, a date meaning its midnight UTC).
    FirstSeen,
    /// When their latest interaction was.
    LastSeen,
    /// The persona discovered from behaviour (`wayfarer personas`; the
    /// map's discovered personas) whose centre is nearest the customer.
    DiscoveredPersona,
}

impl CustomerFact {
    /// Names as written in conditions (`purchases` is another name for `orders`).
    pub const NAMES: [(&'static str, CustomerFact); 17] = [
        ("first_channel", CustomerFact::FirstChannel),
        ("orders", CustomerFact::Orders),
        ("purchases", CustomerFact::Orders),
        ("revenue_total", CustomerFact::RevenueTotal),
        ("events", CustomerFact::Events),
        ("stage", CustomerFact::Stage),
        ("favourite_channel", CustomerFact::FavouriteChannel),
        ("favorite_channel", CustomerFact::FavouriteChannel),
        ("churned", CustomerFact::Churned),
        ("nps_group", CustomerFact::NpsGroup),
        ("persona", CustomerFact::Persona),
        ("clv", CustomerFact::Clv),
        ("predicted_clv", CustomerFact::Clv),
        ("p_alive", CustomerFact::PAlive),
        ("first_seen", CustomerFact::FirstSeen),
        ("last_seen", CustomerFact::LastSeen),
        ("discovered_persona", CustomerFact::DiscoveredPersona),
    ];

    pub fn parse(name: &str) -> Option<CustomerFact> {
        CustomerFact::NAMES.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    pub fn name(self) -> &'static str {
        CustomerFact::NAMES.iter().find(|(_, f)| *f == self).map_or("?", |(n, _)| n)
    }
}

/// A field a predicate can read. Well-known fields are resolved once, at
/// parse time, so evaluation does not compare names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    Event,
    Kind,
    Channel,
    Source,
    Medium,
    Campaign,
    Url,
    Referrer,
    Revenue,
    Score,
    Survey,
    Text,
    /// 1 for the customer's first `Order Completed`, 2 for the second…
    NthPurchase,
    /// `properties.<path>`, or a bare name that is no other field.
    Property(String),
    /// `traits.<path>` (identify traits, last value wins)
    Trait(String),
    /// A fact about the whole customer.
    Customer(CustomerFact),
    /// The event's touchpoint (its configured name, or the event's name).
    Touchpoint,
    /// The stage the customer was in at the event.
    InStage,
}

/// The event fields by name (`type` is another name for `kind`).
const EVENT_FIELDS: [(&str, Field); 14] = [
    ("event", Field::Event),
    ("kind", Field::Kind),
    ("type", Field::Kind),
    ("channel", Field::Channel),
    ("source", Field::Source),
    ("medium", Field::Medium),
    ("campaign", Field::Campaign),
    ("url", Field::Url),
    ("referrer", Field::Referrer),
    ("revenue", Field::Revenue),
    ("score", Field::Score),
    ("survey", Field::Survey),
    ("text", Field::Text),
    ("nth_purchase", Field::NthPurchase),
];

impl Field {
    /// The field a name denotes; a bare name that is no event field or
    /// customer fact is an event property.
    pub fn parse(name: &str) -> Field {
        if let Some(p) = name.strip_prefix("properties.") {
            return Field::Property(p.to_string());
        }
        if let Some(p) = name.strip_prefix("traits.") {
            return Field::Trait(p.to_string());
        }
        if let Some((_, f)) = EVENT_FIELDS.iter().find(|(n, _)| *n == name) {
            return f.clone();
        }
        match name {
            "touchpoint" => return Field::Touchpoint,
            "in_stage" => return Field::InStage,
            _ => {}
        }
        match CustomerFact::parse(name) {
            Some(f) => Field::Customer(f),
            None => Field::Property(name.to_string()),
        }
    }

    pub fn name(&self) -> Cow<'_, str> {
        match self {
            Field::Property(p) => format!("properties.{p}").into(),
            Field::Trait(p) => format!("traits.{p}").into(),
            Field::Customer(f) => f.name().into(),
            Field::Touchpoint => "touchpoint".into(),
            Field::InStage => "in_stage".into(),
            other => EVENT_FIELDS.iter().find(|(_, f)| f == other).map_or("?", |(n, _)| n).into(),
        }
    }

    /// Whether the field belongs to one event (not to the customer).
    pub fn is_event_level(&self) -> bool {
        !matches!(self, Field::Trait(_) | Field::Customer(_))
    }

    /// Whether the field holds a number.
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            Field::Revenue
                | Field::Score
                | Field::NthPurchase
                | Field::Customer(
                    CustomerFact::Orders
                        | CustomerFact::RevenueTotal
                        | CustomerFact::Events
                        | CustomerFact::Clv
                        | CustomerFact::PAlive
                )
        )
    }
}

/// Where a condition is evaluated, which decides the fields it can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One incoming event, before it is stored (channel rules): the event's
    /// own fields and properties, nothing about the customer.
    Ingest,
    /// One event of a customer's timeline (stage rules, touchpoints): every
    /// field but those derived from stages and touchpoints.
    Event,
    /// One event of a customer's timeline once its stage and touchpoint are
    /// known (funnel steps and exclusions): every field, with `touchpoint`
    /// and `in_stage`.
    Step,
    /// A whole customer (persona rules, segments): traits and customer facts.
    Customer,
}

impl Scope {
    fn names(self) -> Vec<&'static str> {
        let mut out: Vec<&str> = Vec::new();
        if self != Scope::Customer {
            out.extend(EVENT_FIELDS.iter().map(|(n, _)| *n).filter(|n| self != Scope::Ingest || *n != "nth_purchase"));
        }
        if self == Scope::Step {
            out.extend(["touchpoint", "in_stage"]);
        }
        if self != Scope::Ingest {
            out.extend(CustomerFact::NAMES.iter().map(|(n, _)| *n));
        }
        out
    }
}

/// What the data holds, to catch conditions that can never match. An empty
/// list is not checked (a configuration may be written before any data).
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    pub events: Vec<String>,
    pub channels: Vec<String>,
    pub stages: Vec<String>,
    /// Configured touchpoint names (events no touchpoint matches are
    /// named by the event).
    pub touchpoints: Vec<String>,
    /// The top-level property names of the events, if known.
    pub properties: Option<Vec<String>>,
    /// The trait names of identify calls, if known.
    pub traits: Option<Vec<String>>,
    /// The configured personas' names.
    pub personas: Vec<String>,
    /// The discovered personas' names, where a condition reads them (the
    /// engine fills them in from the persona fit).
    pub discovered_personas: Vec<String>,
    /// Whether a property no event has is an error even when no known
    /// property is close to it. Stage and touchpoint rules are lenient (the
    /// built-in rules name Segment's properties, which other data may lack,
    /// and `wayfarer doctor` lists the rules that match nothing); a likely
    /// misspelling is an error everywhere.
    pub absent_property_is_error: bool,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Glob,
    NotGlob,
    Contains,
}

impl Op {
    fn is_ordering(self) -> bool {
        matches!(self, Op::Gt | Op::Ge | Op::Lt | Op::Le)
    }

    fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Glob => "~",
            Op::NotGlob => "!~",
            Op::Contains => "contains",
        }
    }
}

/// A parsed predicate.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    True,
    And(Vec<Predicate>),
    Or(Vec<Predicate>),
    Not(Box<Predicate>),
    Present(Field),
    Cmp(Field, Op, Value<'static>),
    /// `did 'EVENT' [op N] [within DURATION]`: how many of the customer's
    /// events match, compared with N (default `>= 1`).
    Did(Did),
    /// `stage OP 'NAME'` with an ordering operator, the name resolved to
    /// its place in the stage model by [`Predicate::compile`].
    StageOrder(Op, usize, String),
    /// `did PATTERN [op N]`: how many times, without overlap, the
    /// customer's events match a path pattern (DESIGN §4.10), compared
    /// with N (default `>= 1`).
    Path(Box<PathTerm>),
}

/// A path-pattern term: `did 'Product Viewed' -> [^'Order Completed']* within 7d`.
#[derive(Debug, Clone, PartialEq)]
pub struct PathTerm {
    pub pattern: crate::pattern::Pattern,
    pub op: Op,
    pub count: f64,
}

impl PathTerm {
    /// Whether `n` occurrences satisfy the term.
    pub fn holds(&self, n: usize) -> bool {
        compare(&Value::Num(n as f64), self.op, &Value::Num(self.count))
    }
}

/// A behaviour term: `did 'Order Completed' >= 2 within 90d`.
#[derive(Debug, Clone, PartialEq)]
pub struct Did {
    /// An event name, or a glob (`'Order*'`) when it holds `*` or `?`.
    pub event: String,
    pub op: Op,
    pub count: f64,
    /// Only events in this long before the end of the data (µs).
    pub within: Option<i64>,
    /// Only events this condition holds for (`'Page Viewed'[url ~ '*/shipping*']`),
    /// with its text as written.
    pub filter: Option<(Box<Predicate>, String)>,
}

impl Did {
    /// Whether an event name is one the term counts.
    pub fn matches(&self, event: &str) -> bool {
        if self.event.contains(['*', '?']) { crate::glob::glob_match(&self.event, event) } else { self.event == event }
    }

    /// Whether `n` matching events satisfy the term.
    pub fn holds(&self, n: usize) -> bool {
        compare(&Value::Num(n as f64), self.op, &Value::Num(self.count))
    }
}

/// Looks up a dotted path (`a.b.c`) in a JSON object: how `properties.a.b`
/// and `traits.a.b` read nested values.
pub fn lookup_path<'v>(v: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    let mut cur = v;
    for part in path.split('.') {
        cur = cur.as_object()?.get(part)?;
    }
    Some(cur)
}

/// Where a predicate reads its fields from.
pub trait Facts {
    fn get(&self, field: &Field) -> Value<'_>;

    /// How many of the customer's events a `did` term counts; `None` where
    /// no customer is known (the term is then false).
    fn count(&self, _did: &Did) -> Option<usize> {
        None
    }

    /// How many times, without overlap, the customer's events match a
    /// pattern; `None` where no customer is known (the term is then false).
    fn occurrences(&self, _pattern: &crate::pattern::Pattern) -> Option<usize> {
        None
    }

    /// The place of the customer's current stage in the stage model.
    fn stage_rank(&self) -> Option<usize> {
        None
    }
}

impl Predicate {
    /// Parses the condition language (syntax only; see [`Predicate::compile`]
    /// for the checks against a scope); the error says at which column what
    /// was expected.
    pub fn parse(src: &str) -> Result<Predicate, String> {
        Ok(parse_atoms(src)?.0)
    }

    /// Parses a condition and checks every field against where it is used
    /// and what the data holds. The error names the column and, for a
    /// misspelled name, the closest known one.
    pub fn compile(src: &str, scope: Scope, vocab: &Vocabulary) -> Result<Predicate, String> {
        let (p, atoms, dids, paths) = parse_atoms(src)?;
        // The first problem in the text is the one reported.
        let mut problems: Vec<(usize, String)> = Vec::new();
        for a in &atoms {
            if let Err(e) = check(a, scope, vocab) {
                problems.push((a.column, format!("at column {}: {e}", a.column)));
            }
        }
        let mut filters = Vec::new();
        for (column, d) in &dids {
            match check_did(d, scope, vocab) {
                Ok(f) => filters.push(f),
                // A bracket's own error already carries its column.
                Err(e) if e.starts_with("at column ") => {
                    problems.push((*column, shift_column(&e, bracket_start(src, *column))));
                }
                Err(e) => problems.push((*column, format!("at column {column}: {e}"))),
            }
        }
        let mut path_filters = Vec::new();
        for (column, t) in &paths {
            match check_path(t, *column, scope, vocab) {
                Ok(f) => path_filters.push(f),
                Err((at, e)) => problems.push((at, e)),
            }
        }
        if let Some((_, e)) = problems.into_iter().min_by_key(|(c, _)| *c) {
            return Err(e);
        }
        let mut filters = filters.into_iter();
        let mut path_filters = path_filters.into_iter();
        Ok(p.order_stages(&vocab.stages).with_filters(&mut filters, &mut path_filters))
    }

    pub fn eval(&self, facts: &dyn Facts) -> bool {
        match self {
            Predicate::True => true,
            Predicate::And(ps) => ps.iter().all(|p| p.eval(facts)),
            Predicate::Or(ps) => ps.iter().any(|p| p.eval(facts)),
            Predicate::Not(p) => !p.eval(facts),
            Predicate::Present(f) => facts.get(f).truthy(),
            Predicate::Cmp(f, op, v) => compare(&facts.get(f), *op, v),
            Predicate::Did(d) => facts.count(d).is_some_and(|n| d.holds(n)),
            Predicate::Path(t) => facts.occurrences(&t.pattern).is_some_and(|n| t.holds(n)),
            Predicate::StageOrder(op, rank, _) => {
                facts.stage_rank().is_some_and(|r| compare(&Value::Num(r as f64), *op, &Value::Num(*rank as f64)))
            }
        }
    }

    /// Every `did` term of the predicate.
    pub fn dids(&self) -> Vec<&Did> {
        let mut out = Vec::new();
        self.visit(&mut |p| {
            if let Predicate::Did(d) = p {
                out.push(d);
            }
        });
        out
    }

    fn visit<'a>(&'a self, f: &mut impl FnMut(&'a Predicate)) {
        f(self);
        match self {
            Predicate::And(ps) | Predicate::Or(ps) => ps.iter().for_each(|p| p.visit(f)),
            Predicate::Not(p) => p.visit(f),
            _ => {}
        }
    }

    /// The `did` terms' and patterns' bracket conditions replaced, in
    /// order of appearance, by their compiled forms.
    fn with_filters(
        self,
        filters: &mut impl Iterator<Item = Option<Predicate>>,
        paths: &mut impl Iterator<Item = Vec<Option<Predicate>>>,
    ) -> Predicate {
        match self {
            Predicate::And(ps) => Predicate::And(ps.into_iter().map(|p| p.with_filters(filters, paths)).collect()),
            Predicate::Or(ps) => Predicate::Or(ps.into_iter().map(|p| p.with_filters(filters, paths)).collect()),
            Predicate::Not(p) => Predicate::Not(Box::new(p.with_filters(filters, paths))),
            Predicate::Did(mut d) => {
                if let (Some(Some(compiled)), Some((_, text))) = (filters.next(), d.filter.take()) {
                    d.filter = Some((Box::new(compiled), text));
                }
                Predicate::Did(d)
            }
            Predicate::Path(mut t) => {
                for (term, compiled) in t.pattern.terms.iter_mut().zip(paths.next().unwrap_or_default()) {
                    if let (Some(compiled), Some((f, _, _))) = (compiled, term.filter.as_mut()) {
                        **f = compiled;
                    }
                }
                Predicate::Path(t)
            }
            other => other,
        }
    }

    /// `stage < > <= >= 'NAME'` become [`Predicate::StageOrder`] by the
    /// stage model's order, also inside `did` terms' brackets: what
    /// [`Predicate::compile`] does after its checks, for a condition parsed
    /// with [`Predicate::parse`] and checked elsewhere.
    pub fn order_stages(self, stages: &[String]) -> Predicate {
        match self {
            Predicate::And(ps) => Predicate::And(ps.into_iter().map(|p| p.order_stages(stages)).collect()),
            Predicate::Or(ps) => Predicate::Or(ps.into_iter().map(|p| p.order_stages(stages)).collect()),
            Predicate::Not(p) => Predicate::Not(Box::new(p.order_stages(stages))),
            // Times compare as RFC 3339 UTC text: the value written the same way.
            Predicate::Cmp(
                Field::Customer(f @ (CustomerFact::FirstSeen | CustomerFact::LastSeen)),
                op,
                Value::Str(v),
            ) => {
                let v = crate::time::parse_timestamp(&v).map_or(v, |ts| Cow::Owned(crate::time::format_rfc3339(ts)));
                Predicate::Cmp(Field::Customer(f), op, Value::Str(v))
            }
            Predicate::Cmp(Field::Customer(CustomerFact::Stage), op, Value::Str(name)) if op.is_ordering() => {
                match stages.iter().position(|s| *s == name) {
                    Some(rank) => Predicate::StageOrder(op, rank, name.into_owned()),
                    None => Predicate::Cmp(Field::Customer(CustomerFact::Stage), op, Value::Str(name)),
                }
            }
            Predicate::Did(mut d) => {
                d.filter = d.filter.map(|(f, text)| (Box::new(f.order_stages(stages)), text));
                Predicate::Did(d)
            }
            Predicate::Path(mut t) => {
                for term in &mut t.pattern.terms {
                    if let Some((f, _, _)) = term.filter.as_mut() {
                        **f = (**f).clone().order_stages(stages);
                    }
                }
                Predicate::Path(t)
            }
            other => other,
        }
    }

    /// Every field the predicate reads.
    pub fn fields(&self) -> Vec<&Field> {
        let mut out = Vec::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields<'a>(&'a self, out: &mut Vec<&'a Field>) {
        match self {
            Predicate::True => {}
            Predicate::And(ps) | Predicate::Or(ps) => ps.iter().for_each(|p| p.collect_fields(out)),
            Predicate::Not(p) => p.collect_fields(out),
            Predicate::Present(f) | Predicate::Cmp(f, _, _) => out.push(f),
            Predicate::StageOrder(..) => out.push(&Field::Customer(CustomerFact::Stage)),
            Predicate::Did(d) => {
                if let Some((f, _)) = &d.filter {
                    f.collect_fields(out);
                }
            }
            Predicate::Path(t) => {
                for (f, _, _) in t.pattern.terms.iter().filter_map(|t| t.filter.as_ref()) {
                    f.collect_fields(out);
                }
            }
        }
    }
}

fn compare(left: &Value<'_>, op: Op, right: &Value<'_>) -> bool {
    if matches!(left, Value::Null) {
        return match op {
            Op::Ne | Op::NotGlob => !matches!(right, Value::Null),
            Op::Eq => matches!(right, Value::Null),
            _ => false,
        };
    }
    match op {
        Op::Glob => crate::glob::glob_match(&right.text(), &left.text()),
        Op::NotGlob => !crate::glob::glob_match(&right.text(), &left.text()),
        Op::Contains => left.text().contains(right.text().as_ref()),
        _ => {
            let ord = match (left.as_num(), right.as_num()) {
                (Some(a), Some(b)) if !matches!(right, Value::Str(_)) || !matches!(left, Value::Str(_)) => {
                    a.partial_cmp(&b)
                }
                _ => Some(left.text().as_ref().cmp(right.text().as_ref())),
            };
            let Some(ord) = ord else { return false };
            use std::cmp::Ordering::*;
            match op {
                Op::Eq => ord == Equal,
                Op::Ne => ord != Equal,
                Op::Gt => ord == Greater,
                Op::Ge => ord != Less,
                Op::Lt => ord == Less,
                Op::Le => ord != Greater,
                _ => false,
            }
        }
    }
}

impl fmt::Display for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Predicate::True => write!(f, "true"),
            Predicate::And(ps) => join(f, ps, " and "),
            Predicate::Or(ps) => join(f, ps, " or "),
            Predicate::Not(p) => write!(f, "not ({p})"),
            Predicate::Present(field) => write!(f, "{}", field.name()),
            Predicate::Cmp(field, op, v) => match v {
                Value::Str(s) => write!(f, "{} {} '{}'", field.name(), op.as_str(), s.replace('\'', "\\'")),
                other => write!(f, "{} {} {}", field.name(), op.as_str(), other.text()),
            },
            Predicate::StageOrder(op, _, name) => write!(f, "stage {} '{}'", op.as_str(), name.replace('\'', "\\'")),
            Predicate::Path(t) => {
                write!(f, "did {}", t.pattern)?;
                match (t.op, t.count) {
                    (Op::Ge, 1.0) => Ok(()),
                    (op, n) => write!(f, " {} {}", op.as_str(), format_num(n)),
                }
            }
            Predicate::Did(d) => {
                write!(f, "did '{}'", d.event.replace('\'', "\\'"))?;
                if let Some((_, text)) = &d.filter {
                    write!(f, "[{}]", text.trim())?;
                }
                if (d.op, d.count) != (Op::Ge, 1.0) {
                    write!(f, " {} {}", d.op.as_str(), format_num(d.count))?;
                }
                match d.within {
                    Some(w) => write!(f, " within {}", crate::time::format_duration_exact(w)),
                    None => Ok(()),
                }
            }
        }
    }
}

fn join(f: &mut fmt::Formatter<'_>, ps: &[Predicate], sep: &str) -> fmt::Result {
    for (i, p) in ps.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        match p {
            Predicate::And(_) | Predicate::Or(_) => write!(f, "({p})")?,
            _ => write!(f, "{p}")?,
        }
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Num(f64),
    Op(Op),
    LParen,
    RParen,
    /// `[CONDITION]` after a `did` term's event: the text inside, and the
    /// column where it starts.
    Bracket(String, usize),
    /// A path pattern after `did`.
    Pattern(Box<crate::pattern::Pattern>),
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Ident(s) => write!(f, "{s}"),
            Token::Str(s) => write!(f, "'{s}'"),
            Token::Num(n) => write!(f, "{n}"),
            Token::Op(o) => write!(f, "{}", o.as_str()),
            Token::LParen => write!(f, "("),
            Token::RParen => write!(f, ")"),
            Token::Bracket(c, _) => write!(f, "[{c}]"),
            Token::Pattern(p) => write!(f, "{p}"),
        }
    }
}

/// The index of the `]` that closes the `[` at `open`, skipping quoted
/// text and nested brackets.
pub(crate) fn closing_bracket(chars: &[char], open: usize) -> Option<usize> {
    let (mut depth, mut j, mut quote) = (0usize, open, None);
    while j < chars.len() {
        match (quote, chars[j]) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), '\\') => j += 1,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(chars[j]),
            (None, '[') => depth += 1,
            (None, ']') => {
                depth -= 1;
                if depth == 0 {
                    return Some(j);
                }
            }
            _ => {}
        }
        j += 1;
    }
    None
}

fn lex(src: &str) -> Result<Vec<(Token, usize)>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push((Token::LParen, col));
                i += 1;
            }
            ')' => {
                out.push((Token::RParen, col));
                i += 1;
            }
            '[' => {
                let Some(j) = closing_bracket(&chars, i) else {
                    return Err(format!("at column {col}: '[' without its ']'"));
                };
                out.push((Token::Bracket(chars[i + 1..j].iter().collect(), col + 1), col));
                i = j + 1;
            }
            '\'' | '"' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("at column {col}: unterminated string")),
                        Some('\\') if chars.get(i + 1).is_some() => {
                            s.push(chars[i + 1]);
                            i += 2;
                        }
                        Some(&ch) if ch == quote => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push((Token::Str(s), col));
            }
            '=' | '!' | '<' | '>' | '~' => {
                let next = chars.get(i + 1).copied();
                let (op, len) = match (c, next) {
                    ('=', Some('=')) => (Op::Eq, 2),
                    ('=', _) => (Op::Eq, 1),
                    ('!', Some('=')) => (Op::Ne, 2),
                    ('!', Some('~')) => (Op::NotGlob, 2),
                    ('<', Some('=')) => (Op::Le, 2),
                    ('<', Some('>')) => (Op::Ne, 2),
                    ('<', _) => (Op::Lt, 1),
                    ('>', Some('=')) => (Op::Ge, 2),
                    ('>', _) => (Op::Gt, 1),
                    ('~', _) => (Op::Glob, 1),
                    _ => return Err(format!("at column {col}: unexpected '{c}'")),
                };
                out.push((Token::Op(op), col));
                i += len;
            }
            c if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.' || chars[i] == 'e') {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                let n = s.parse().map_err(|_| format!("at column {col}: '{s}' is not a number"))?;
                out.push((Token::Num(n), col));
            }
            c if c.is_alphanumeric() || c == '_' || c == '$' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.' | '$' | '-')) {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                if s.eq_ignore_ascii_case("contains") {
                    out.push((Token::Op(Op::Contains), col));
                } else {
                    let did = s.eq_ignore_ascii_case("did");
                    out.push((Token::Ident(s), col));
                    if did && let Some((pattern, at, used)) = did_pattern(&chars, i)? {
                        out.push((Token::Pattern(Box::new(pattern)), at));
                        i += used;
                    }
                }
            }
            other => return Err(format!("at column {col}: unexpected character '{other}'")),
        }
    }
    Ok(out)
}

/// After `did` (ending at `i`): the path pattern that follows, with its
/// column and the characters it takes. A malformed pattern is an error when
/// it is clearly one; otherwise the older `did` syntax reads on and reports
/// its own errors.
fn did_pattern(chars: &[char], i: usize) -> Result<Option<(crate::pattern::Pattern, usize, usize)>, String> {
    let ws = chars[i..].iter().take_while(|c| c.is_whitespace()).count();
    let rest: String = chars[i + ws..].iter().collect();
    let at = i + ws + 1;
    match crate::pattern::Pattern::parse_prefix(&rest) {
        Ok((p, used)) => Ok(Some((p, at, ws + used))),
        Err(e) => {
            let looks = rest.starts_with(['[', '(', '.']) || rest.contains("->") || rest.contains("=>");
            if looks { Err(shift_column(&e, at - 1)) } else { Ok(None) }
        }
    }
}

/// One field as written in a condition, with what it is compared to.
struct Atom {
    column: usize,
    name: String,
    field: Field,
    cmp: Option<(Op, Value<'static>)>,
}

/// A parsed condition with its fields, `did` terms and path patterns as
/// written (with their columns).
type Parsed = (Predicate, Vec<Atom>, Vec<(usize, Did)>, Vec<(usize, PathTerm)>);

fn parse_atoms(src: &str) -> Result<Parsed, String> {
    let tokens = lex(src)?;
    let end = src.chars().count() + 1;
    if tokens.is_empty() {
        return Ok((Predicate::True, Vec::new(), Vec::new(), Vec::new()));
    }
    let mut p = Parser { tokens, pos: 0, end, atoms: Vec::new(), dids: Vec::new(), paths: Vec::new() };
    let e = p.expr()?;
    if let Some((t, col)) = p.tokens.get(p.pos) {
        return Err(format!("at column {col}: unexpected '{t}' after a complete condition"));
    }
    Ok((e, p.atoms, p.dids, p.paths))
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    pos: usize,
    /// The column just past the end, for "expected … at the end".
    end: usize,
    atoms: Vec<Atom>,
    /// The `did` terms, with their columns.
    dids: Vec<(usize, Did)>,
    /// The path patterns, with the columns where they start.
    paths: Vec<(usize, PathTerm)>,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    fn column(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |(_, c)| *c)
    }

    fn error(&self, message: impl fmt::Display) -> String {
        format!("at column {}: {message}", self.column())
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(s)) if s.eq_ignore_ascii_case(kw))
    }

    fn expr(&mut self) -> Result<Predicate, String> {
        let mut parts = vec![self.and()?];
        while self.keyword("or") {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Predicate::Or(parts) })
    }

    fn and(&mut self) -> Result<Predicate, String> {
        let mut parts = vec![self.unary()?];
        while self.keyword("and") {
            self.pos += 1;
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Predicate::And(parts) })
    }

    fn unary(&mut self) -> Result<Predicate, String> {
        if self.keyword("not") {
            self.pos += 1;
            return Ok(Predicate::Not(Box::new(self.unary()?)));
        }
        if self.keyword("did") {
            return self.did();
        }
        match self.peek().cloned() {
            Some(Token::LParen) => {
                self.pos += 1;
                let e = self.expr()?;
                if self.peek() != Some(&Token::RParen) {
                    return Err(self.error("expected ')'"));
                }
                self.pos += 1;
                Ok(e)
            }
            Some(Token::Ident(name)) => {
                let column = self.column();
                self.pos += 1;
                let field = Field::parse(&name);
                let Some(Token::Op(op)) = self.peek().cloned() else {
                    self.atoms.push(Atom { column, name, field: field.clone(), cmp: None });
                    return Ok(Predicate::Present(field));
                };
                self.pos += 1;
                let value = match self.peek().cloned() {
                    Some(Token::Num(n)) => Value::Num(n),
                    Some(Token::Str(s)) => Value::Str(Cow::Owned(s)),
                    Some(Token::Ident(s)) => match s.as_str() {
                        "true" => Value::Bool(true),
                        "false" => Value::Bool(false),
                        "null" => Value::Null,
                        _ => Value::Str(Cow::Owned(s)),
                    },
                    Some(other) => {
                        return Err(self.error(format!("expected a value after '{}', found '{other}'", op.as_str())));
                    }
                    None => return Err(self.error(format!("expected a value after '{}'", op.as_str()))),
                };
                self.pos += 1;
                self.atoms.push(Atom { column, name, field: field.clone(), cmp: Some((op, value.clone())) });
                Ok(Predicate::Cmp(field, op, value))
            }
            Some(other) => Err(self.error(format!("expected a field name, found '{other}'"))),
            None => Err(self.error("expected a condition")),
        }
    }
}

impl Parser {
    /// `did EVENT [op N] [within DURATION]`, at the `did`.
    fn did(&mut self) -> Result<Predicate, String> {
        let column = self.column();
        self.pos += 1;
        if let Some(Token::Pattern(pattern)) = self.peek().cloned() {
            let at = self.column();
            self.pos += 1;
            let (op, count) = self.did_count()?;
            let recency = self.keyword("within");
            if !pattern.is_single_term() {
                if recency {
                    return Err(self.error(
                        "a pattern's 'within' bounds how long one match may take and is written right after the \
                         pattern, before the count",
                    ));
                }
                let t = PathTerm { pattern: *pattern, op, count };
                self.paths.push((at, t.clone()));
                return Ok(Predicate::Path(Box::new(t)));
            }
            // One event: a count of events, `within` saying how recent.
            let mut within = pattern.within;
            if recency {
                if within.is_some() {
                    return Err(self.error("'within' twice"));
                }
                within = Some(self.within()?);
            }
            let term = pattern.terms.into_iter().next().ok_or_else(|| self.error("expected an event name"))?;
            let filter = term.filter.map(|(p, text, _)| (p, text));
            let d = Did { event: term.name, op, count, within, filter };
            self.dids.push((column, d.clone()));
            return Ok(Predicate::Did(d));
        }
        let event = match self.peek().cloned() {
            Some(Token::Str(s)) if !s.trim().is_empty() => s,
            Some(Token::Ident(s)) if !["and", "or", "not", "within"].iter().any(|k| s.eq_ignore_ascii_case(k)) => s,
            Some(other) => return Err(self.error(format!("expected an event name after 'did', found '{other}'"))),
            None => return Err(self.error("expected an event name after 'did' ('Order Completed', or a glob)")),
        };
        self.pos += 1;
        let mut filter = None;
        if let Some(Token::Bracket(text, at)) = self.peek().cloned() {
            let p = Predicate::parse(&text).map_err(|e| shift_column(&e, at - 1))?;
            filter = Some((Box::new(p), text));
            self.pos += 1;
        }
        let (op, count) = self.did_count()?;
        let mut within = None;
        if self.keyword("within") {
            within = Some(self.within()?);
        }
        let d = Did { event, op, count, within, filter };
        self.dids.push((column, d.clone()));
        Ok(Predicate::Did(d))
    }
}

impl Parser {
    /// `within DURATION` at the `within`: the duration in µs.
    fn within(&mut self) -> Result<i64, String> {
        self.pos += 1;
        let at = self.column();
        // `90d` lexes as the number 90 and the word `d`.
        let text = match (self.peek().cloned(), self.tokens.get(self.pos + 1).map(|(t, _)| t.clone())) {
            (Some(Token::Num(n)), Some(Token::Ident(unit)))
                if !unit.eq_ignore_ascii_case("and") && !unit.eq_ignore_ascii_case("or") =>
            {
                self.pos += 2;
                format!("{}{unit}", format_num(n))
            }
            (Some(Token::Num(n)), _) => {
                self.pos += 1;
                format_num(n)
            }
            (Some(other), _) => {
                return Err(self.error(format!("expected a duration after 'within' (90d, 12h), found '{other}'")));
            }
            (None, _) => return Err(self.error("expected a duration after 'within' (90d, 12h)")),
        };
        let micros = crate::time::parse_duration(&text).map_err(|e| format!("at column {at}: {e}"))?;
        Ok(micros)
    }

    /// A `did` term's optional `op N` (default `>= 1`).
    fn did_count(&mut self) -> Result<(Op, f64), String> {
        let Some(Token::Op(o)) = self.peek().cloned() else { return Ok((Op::Ge, 1.0)) };
        if matches!(o, Op::Glob | Op::NotGlob | Op::Contains) {
            return Err(self.error(format!("'did' counts events; '{}' compares text", o.as_str())));
        }
        self.pos += 1;
        let count = match self.peek() {
            Some(Token::Num(n)) if *n >= 0.0 && n.fract() == 0.0 => *n,
            Some(other) => {
                return Err(self.error(format!("expected a count (0, 1, 2…) after '{}', found '{other}'", o.as_str())));
            }
            None => return Err(self.error(format!("expected a count after '{}'", o.as_str()))),
        };
        self.pos += 1;
        Ok((o, count))
    }
}

/// Checks that an event name (or glob) is one the data holds.
fn check_event(name: &str, vocab: &Vocabulary) -> Result<(), String> {
    let names: Vec<&str> = vocab.events.iter().map(String::as_str).collect();
    let glob = crate::glob::is_glob(name);
    let hit = |n: &&str| if glob { crate::glob::glob_match(name, n) } else { *n == name };
    if !names.is_empty() && !names.iter().any(hit) {
        let what = if glob { "matches no event" } else { "is no event in the data" };
        return Err(format!("'{name}' {what}{}", crate::suggest::hint(name, &names)));
    }
    Ok(())
}

/// Parses a path pattern on its own (a trigger's `when`, `until`, `unless`
/// or `goal`) and checks it as `did PATTERN` is checked: every term names
/// an event the data holds, each bracket's condition reads one event. The
/// conditions come back compiled; errors name the column in the pattern.
pub fn compile_pattern(src: &str, vocab: &Vocabulary) -> Result<crate::pattern::Pattern, String> {
    let mut pattern = crate::pattern::Pattern::parse(src)?;
    let t = PathTerm { pattern: pattern.clone(), op: Op::Ge, count: 1.0 };
    let compiled = check_path(&t, 1, Scope::Customer, vocab).map_err(|(_, e)| e)?;
    for (term, c) in pattern.terms.iter_mut().zip(compiled) {
        if let (Some(c), Some((f, _, _))) = (c, term.filter.as_mut()) {
            **f = c.order_stages(&vocab.stages);
        }
    }
    Ok(pattern)
}

/// Checks a path pattern that starts at `column`: only a whole customer
/// has events, every term names an event the data holds, and each
/// bracket's condition reads one event. Returns the compiled conditions,
/// or the column and message of the first problem.
fn check_path(
    t: &PathTerm,
    column: usize,
    scope: Scope,
    vocab: &Vocabulary,
) -> Result<Vec<Option<Predicate>>, (usize, String)> {
    if scope != Scope::Customer {
        return Err((
            column,
            format!(
                "at column {column}: a path pattern reads a customer's events: segments and persona rules can \
                 use it, rules about one event cannot"
            ),
        ));
    }
    let mut out = Vec::new();
    for term in &t.pattern.terms {
        let at = column + term.column - 1;
        check_event(&term.name, vocab).map_err(|e| (at, format!("at column {at}: {e}")))?;
        let compiled = match &term.filter {
            None => None,
            Some((_, text, fcol)) => {
                let start = column + fcol - 1;
                Some(Predicate::compile(text, Scope::Event, vocab).map_err(|e| (start, shift_column(&e, start - 1)))?)
            }
        };
        out.push(compiled);
    }
    Ok(out)
}

/// Checks a `did` term: only a whole customer has events to count, and the
/// event must be one the data holds.
fn check_did(d: &Did, scope: Scope, vocab: &Vocabulary) -> Result<Option<Predicate>, String> {
    if scope != Scope::Customer {
        return Err(
            "'did' counts a customer's events: segments and persona rules can use it, rules about one event cannot"
                .to_string(),
        );
    }
    check_event(&d.event, vocab)?;
    // The condition in brackets reads the one event: checked as a stage
    // rule's would be, and compiled the same way.
    d.filter.as_ref().map(|(_, text)| Predicate::compile(text, Scope::Event, vocab)).transpose()
}

/// The column just inside the first `[` after `from` (a `did` term's
/// bracket), or `from` when there is none.
fn bracket_start(src: &str, from: usize) -> usize {
    src.chars().skip(from - 1).position(|c| c == '[').map_or(from, |i| from + i)
}

/// An error of a condition inside brackets, its column moved to where the
/// brackets' text starts in the whole condition.
pub(crate) fn shift_column(e: &str, by: usize) -> String {
    let Some(rest) = e.strip_prefix("at column ") else { return e.to_string() };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    match rest[..digits].parse::<usize>() {
        Ok(n) => format!("at column {}{}", n + by, &rest[digits..]),
        Err(_) => e.to_string(),
    }
}

/// Checks one field of a condition: known in this scope, not a likely typo,
/// compared with a value of its type that can exist.
fn check(a: &Atom, scope: Scope, vocab: &Vocabulary) -> Result<(), String> {
    let bare_property = matches!(a.field, Field::Property(_)) && !a.name.starts_with("properties.");
    let known = scope.names();
    match scope {
        Scope::Customer if bare_property => {
            return Err(format!(
                "'{}' is not a customer fact (persona and segment rules read traits.NAME, properties.NAME and {}){}",
                a.name,
                known.join(", "),
                crate::suggest::hint(&a.name, &known)
            ));
        }
        Scope::Customer if a.field.is_event_level() && !matches!(a.field, Field::Property(_)) => {
            return Err(format!(
                "'{}' belongs to one event, and persona and segment rules read the whole customer: \
                 traits.NAME, properties.NAME (the customer's latest value) and {}",
                a.name,
                known.join(", "),
            ));
        }
        Scope::Ingest | Scope::Event | Scope::Customer if matches!(a.field, Field::Touchpoint | Field::InStage) => {
            return Err(format!(
                "'{}' is known only once stages and touchpoints are derived: funnel steps and exclusions can read it, \
                 stage, touchpoint, channel and persona rules cannot",
                a.name
            ));
        }
        Scope::Ingest if !a.field.is_event_level() || a.field == Field::NthPurchase => {
            return Err(format!(
                "'{}' is not known while an event is being imported; channel rules read the event's own fields \
                 and properties",
                a.name
            ));
        }
        _ => {}
    }
    if bare_property && let Some(near) = crate::suggest::closest(&a.name, &known) {
        return Err(format!(
            "unknown field '{}'; did you mean '{near}'? (an event property of that name is written properties.{})",
            a.name, a.name
        ));
    }
    vocab.check_key(&a.field)?;
    let Some((op, value)) = &a.cmp else { return Ok(()) };
    let text_op = matches!(op, Op::Glob | Op::NotGlob | Op::Contains);
    if a.field.is_numeric() {
        if text_op {
            return Err(format!("'{}' is a number; '{}' compares text", a.name, op.as_str()));
        }
        return match value {
            Value::Str(v) if v.trim().parse::<f64>().is_err() => {
                Err(format!("'{}' is a number and '{v}' is not one, so the condition can never hold", a.name))
            }
            Value::Bool(b) => Err(format!("'{}' is a number, not {b}", a.name)),
            _ => Ok(()),
        };
    }
    if matches!(a.field, Field::Customer(CustomerFact::FirstSeen | CustomerFact::LastSeen)) {
        if text_op {
            return Err(format!("'{}' is a time; compare it with = != < <= > >= and a date", a.name));
        }
        return match value {
            Value::Null => Ok(()),
            v => crate::time::parse_timestamp(&v.text()).map(|_| ()).map_err(|e| {
                format!("'{}' is a time, and '{}' is not a date or time ({e}); write '2026-07-06'", a.name, v.text())
            }),
        };
    }
    let kinds: Vec<&str> = crate::event::Kind::ALL.iter().map(|k| k.as_str()).collect();
    let (what, names): (&str, Vec<&str>) = match a.field {
        Field::Event => ("event", vocab.events.iter().map(String::as_str).collect()),
        Field::Kind => ("kind", kinds),
        Field::Channel | Field::Customer(CustomerFact::FirstChannel | CustomerFact::FavouriteChannel) => {
            ("channel", vocab.channels.iter().map(String::as_str).collect())
        }
        Field::Customer(CustomerFact::NpsGroup) => ("NPS group", vec!["promoter", "passive", "detractor"]),
        Field::Customer(CustomerFact::Persona)
            if !vocab.personas.iter().any(|p| *p == value.text())
                && vocab.discovered_personas.iter().any(|p| *p == value.text()) =>
        {
            return Err(format!(
                "'{}' is a discovered persona, and persona reads the configured ones: write discovered_persona = '{}'",
                value.text(),
                value.text()
            ));
        }
        Field::Customer(CustomerFact::Persona) => ("persona", vocab.personas.iter().map(String::as_str).collect()),
        Field::Customer(CustomerFact::DiscoveredPersona) => {
            if vocab.discovered_personas.is_empty() {
                return Err("no personas are discovered (too few customers to cluster)".to_string());
            }
            ("discovered persona", vocab.discovered_personas.iter().map(String::as_str).collect())
        }
        Field::Customer(CustomerFact::Stage) | Field::InStage => {
            ("stage", vocab.stages.iter().map(String::as_str).collect())
        }
        // An event no touchpoint matches is its own touchpoint (older maps named `event @ channel`).
        Field::Touchpoint if value.text().contains(" @ ") => return Ok(()),
        Field::Touchpoint => {
            ("touchpoint", vocab.touchpoints.iter().chain(&vocab.events).map(String::as_str).collect())
        }
        _ => return Ok(()),
    };
    let stage = matches!(a.field, Field::Customer(CustomerFact::Stage));
    if op.is_ordering() && stage && names.is_empty() {
        return Err(format!("'{}' orders stages, which needs the stage model", op.as_str()));
    }
    if op.is_ordering() && !stage {
        return Err(format!("'{}' is a name; '{}' compares numbers", a.name, op.as_str()));
    }
    if names.is_empty() || matches!(op, Op::Contains) || matches!(value, Value::Null) {
        return Ok(());
    }
    let v = value.text();
    let listed = || {
        if names.len() <= 12 { format!(" ({what}s: {})", names.join(", ")) } else { String::new() }
    };
    match op {
        Op::Glob | Op::NotGlob if !names.iter().any(|n| crate::glob::glob_match(&v, n)) => {
            Err(format!("'{v}' matches no {what}{}{}", crate::suggest::hint(&v, &names), listed()))
        }
        Op::Eq | Op::Ne | Op::Gt | Op::Ge | Op::Lt | Op::Le if !names.contains(&v.as_ref()) => {
            Err(format!("no {what} '{v}'{}{}", crate::suggest::hint(&v, &names), listed()))
        }
        _ => Ok(()),
    }
}

impl Vocabulary {
    /// Checks a property or trait name against those the data holds (any
    /// other field passes): a name no event has is an error naming the
    /// closest known one.
    pub fn check_key(&self, field: &Field) -> Result<(), String> {
        check_key(field, self)
    }
}

fn check_key(field: &Field, vocab: &Vocabulary) -> Result<(), String> {
    let (path, known, what) = match field {
        Field::Property(p) => (p, &vocab.properties, ("event property", "event properties")),
        Field::Trait(p) => (p, &vocab.traits, ("trait", "traits")),
        _ => return Ok(()),
    };
    let Some(known) = known.as_ref().filter(|_| !vocab.events.is_empty()) else { return Ok(()) };
    let head = path.split('.').next().unwrap_or(path);
    if known.iter().any(|k| k == head) {
        return Ok(());
    }
    let near = crate::suggest::closest(head, known);
    if near.is_none() && matches!(field, Field::Property(_)) && !vocab.absent_property_is_error {
        return Ok(());
    }
    let listed = match known.len() {
        0 if matches!(field, Field::Trait(_)) => " (the data has no identify calls with traits)".to_string(),
        0 => " (no event in the data has properties)".to_string(),
        n if n <= 12 => format!(" ({}: {})", what.1, known.join(", ")),
        n => format!(" ({n} {}; `wayfarer doctor` lists them)", what.1),
    };
    Err(format!(
        "no {} '{head}' in the data{}{listed}",
        what.0,
        near.map_or_else(String::new, |c| format!("; did you mean '{c}'?"))
    ))
}

/// The facts of one canonical event as decoded, before it is stored (what
/// channel rules read, in [`Scope::Ingest`]); stored events are read by the
/// engine's `facts` module. Customer facts and traits are unknown here.
pub struct EventFacts<'a> {
    pub e: &'a crate::event::Event,
    pub props: Option<&'a serde_json::Value>,
}

impl Facts for EventFacts<'_> {
    fn get(&self, field: &Field) -> Value<'_> {
        fn s(o: &Option<String>) -> Value<'_> {
            o.as_deref().map_or(Value::Null, |v| Value::Str(Cow::Borrowed(v)))
        }
        let n = |o: Option<f64>| o.map_or(Value::Null, Value::Num);
        match field {
            Field::Event => Value::Str(Cow::Borrowed(&self.e.event)),
            Field::Kind => Value::Str(Cow::Borrowed(self.e.kind.as_str())),
            Field::Channel => s(&self.e.channel),
            Field::Source => s(&self.e.source),
            Field::Medium => s(&self.e.medium),
            Field::Campaign => s(&self.e.campaign),
            Field::Url => s(&self.e.url),
            Field::Referrer => s(&self.e.referrer),
            Field::Revenue => n(self.e.revenue),
            Field::Score => n(self.e.score),
            Field::Survey => s(&self.e.survey),
            Field::Text => s(&self.e.text),
            Field::Property(p) => self.props.and_then(|v| lookup_path(v, p)).map_or(Value::Null, Value::from_json),
            Field::NthPurchase | Field::Trait(_) | Field::Customer(_) | Field::Touchpoint | Field::InStage => {
                Value::Null
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<String, Value<'static>>);
    impl Facts for Map {
        fn get(&self, field: &Field) -> Value<'_> {
            self.0.get(field.name().as_ref()).cloned().unwrap_or(Value::Null)
        }
    }

    fn facts(pairs: &[(&str, Value<'static>)]) -> Map {
        Map(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    #[test]
    fn parses_and_evaluates() {
        let p = Predicate::parse("survey = nps and score >= 9").unwrap();
        assert!(p.eval(&facts(&[("survey", Value::Str("nps".into())), ("score", Value::Num(9.0))])));
        assert!(!p.eval(&facts(&[("survey", Value::Str("nps".into())), ("score", Value::Num(8.0))])));
        assert!(!p.eval(&facts(&[("survey", Value::Str("csat".into())), ("score", Value::Num(10.0))])));

        let p = Predicate::parse("properties.rating >= 4").unwrap();
        assert!(p.eval(&facts(&[("properties.rating", Value::Str("5".into()))])));
        assert!(!p.eval(&facts(&[])));

        let p = Predicate::parse("url ~ '*/checkout/shipping*' or (channel = 'Phone' and not text)").unwrap();
        assert!(p.eval(&facts(&[("url", Value::Str("https://x/checkout/shipping?a".into()))])));
        assert!(p.eval(&facts(&[("channel", Value::Str("Phone".into()))])));
        assert!(!p.eval(&facts(&[("channel", Value::Str("Phone".into())), ("text", Value::Str("hi".into()))])));
        assert_eq!(p.to_string(), "url ~ '*/checkout/shipping*' or (channel = 'Phone' and not (text))");
    }

    #[test]
    fn missing_fields_and_errors() {
        let p = Predicate::parse("traits.plan != 'pro'").unwrap();
        assert!(p.eval(&facts(&[])));
        assert!(Predicate::parse("score >=").is_err());
        assert!(Predicate::parse("score >= 4 5").is_err());
        assert!(Predicate::parse("'oops").is_err());
        assert_eq!(Predicate::parse("  ").unwrap(), Predicate::True);
        assert_eq!(
            Predicate::parse("nth_purchase >= 2").unwrap(),
            Predicate::Cmp(Field::NthPurchase, Op::Ge, Value::Num(2.0))
        );
    }

    #[test]
    fn text_versus_number_comparison() {
        // Text compared with text stays textual ('10' < '9' would be wrong numerically).
        let p = Predicate::parse("traits.code = '007'").unwrap();
        assert!(p.eval(&facts(&[("traits.code", Value::Str("007".into()))])));
        let p = Predicate::parse("traits.age > 30").unwrap();
        assert!(p.eval(&facts(&[("traits.age", Value::Str("42".into()))])));
    }

    fn vocab() -> Vocabulary {
        Vocabulary {
            events: vec!["Signed Up".into(), "Order Completed".into(), "Payment Failed".into()],
            channels: vec!["Direct".into(), "Email".into(), "Organic Search".into()],
            stages: vec!["Awareness".into(), "Purchase".into()],
            touchpoints: vec!["Checkout".into()],
            properties: Some(vec!["plan".into(), "lifecycle".into(), "chanel".into()]),
            traits: Some(vec!["plan".into(), "company_size".into()]),
            personas: vec!["Deal hunters".into()],
            discovered_personas: vec!["Paid Search-led".into()],
            absent_property_is_error: true,
        }
    }

    /// Customer facts for `did` and stage order: events as (name, age in
    /// days before the end of the data).
    struct Customer {
        events: Vec<(&'static str, i64)>,
        stage: Option<usize>,
    }
    impl Facts for Customer {
        fn get(&self, _: &Field) -> Value<'_> {
            Value::Null
        }
        fn count(&self, did: &Did) -> Option<usize> {
            let day = crate::time::MICROS_PER_DAY;
            Some(
                self.events
                    .iter()
                    .filter(|(e, age)| did.matches(e) && did.within.is_none_or(|w| age * day < w))
                    .count(),
            )
        }
        fn stage_rank(&self) -> Option<usize> {
            self.stage
        }
        fn occurrences(&self, p: &crate::pattern::Pattern) -> Option<usize> {
            let day = crate::time::MICROS_PER_DAY;
            // Oldest first: ages count down.
            let ts = |i: usize| -self.events[i].1 * day;
            Some(p.count(self.events.len(), &ts, &mut |t, i| p.terms[t].matches_name(self.events[i].0)))
        }
    }

    #[test]
    fn first_and_last_seen_compare_as_utc_times() {
        let p = Predicate::compile(
            "first_seen >= '2026-07-06' and last_seen < '2026-07-13T02:00:00+02:00'",
            Scope::Customer,
            &vocab(),
        )
        .unwrap();
        assert_eq!(
            p.to_string(),
            "first_seen >= '2026-07-06T00:00:00.000Z' and last_seen < '2026-07-13T00:00:00.000Z'"
        );
        let at = |first: &str, last: &str| {
            let facts = facts(&[
                ("first_seen", Value::Str(first.to_string().into())),
                ("last_seen", Value::Str(last.to_string().into())),
            ]);
            p.eval(&facts)
        };
        assert!(at("2026-07-06T00:00:00.000Z", "2026-07-12T23:59:59.999Z"));
        assert!(!at("2026-07-05T23:59:59.999Z", "2026-07-08T00:00:00.000Z"));
        assert!(!at("2026-07-06T10:00:00.000Z", "2026-07-13T00:00:00.000Z"));
        assert!(err("first_seen > 'last week'", Scope::Customer).contains("is not a date or time"));
        assert!(err("first_seen ~ '2026*'", Scope::Customer).contains("is a time"));
    }

    #[test]
    fn did_matches_path_patterns() {
        let c = Customer {
            events: vec![
                ("Signed Up", 400),
                ("Order Completed", 200),
                ("Payment Failed", 31),
                ("Order Completed", 30),
                ("Signed Up", 10),
            ],
            stage: Some(1),
        };
        let holds = |src: &str| Predicate::compile(src, Scope::Customer, &vocab()).unwrap().eval(&c);
        assert!(holds("did 'Signed Up' -> 'Order Completed'"));
        assert!(holds("did Payment Failed => Order Completed within 2d"));
        assert!(!holds("did Payment Failed => Order Completed within 12h"));
        assert!(!holds("did 'Signed Up' -> [^'Payment Failed']* -> 'Order Completed' >= 2"));
        assert!(holds("did 'Order Completed' -> 'Order Completed' = 1 and stage >= 'Purchase'"));
        assert!(holds("did [Order Completed|Payment Failed]{3} and not did Signed Up => Signed Up"));
        // A single event keeps its older meaning: `within` is how recent.
        assert!(!holds("did 'Order Completed' within 12d"));
        let p = Predicate::compile(
            "did 'Signed Up' -> Order Completed within 7d >= 2 or orders > 1",
            Scope::Customer,
            &vocab(),
        )
        .unwrap();
        assert_eq!(p.to_string(), "did 'Signed Up' -> Order Completed within 7d >= 2 or orders > 1");
        assert_eq!(Predicate::parse(&p.to_string()).map(|q| q.to_string()), Ok(p.to_string()));
        // Errors name the column in the whole condition.
        for (src, want) in [
            ("orders > 1 and did 'Signed Up' -> 'Order Complete'", "at column 35: 'Order Complete' is no event"),
            ("did 'Signed Up' -> 'Order Completed'[channel = 'Emial']", "at column 38: no channel 'Emial'"),
            ("did 'Signed Up' -> ", "at column 20"),
            ("did A -> B >= 2 within 7d", "written right after the pattern"),
        ] {
            let e = err(src, Scope::Customer);
            assert!(e.contains(want), "{src}: {e}");
        }
        assert!(err("did 'Signed Up' -> 'Order Completed'", Scope::Event).contains("path pattern reads a customer's"));
    }

    #[test]
    fn did_counts_a_customer_events_within_a_window() {
        let c = Customer {
            events: vec![("Order Completed", 200), ("Order Completed", 30), ("Order Refunded", 10), ("Signed Up", 400)],
            stage: Some(1),
        };
        let holds = |src: &str| Predicate::compile(src, Scope::Customer, &vocab()).unwrap().eval(&c);
        assert!(holds("did 'Order Completed'"));
        assert!(holds("did 'Order Completed' >= 2"));
        assert!(!holds("did 'Order Completed' >= 2 within 90d"));
        assert!(holds("did 'Order Completed' = 1 within 90d"));
        assert!(holds("did 'Order Completed' >= 2 within 30w"));
        assert!(holds("did 'Order*' >= 3"));
        assert!(holds("not did 'Payment Failed'"));
        assert!(holds("did 'Payment Failed' = 0 and did 'Signed Up'"));
        assert!(!holds("did 'Signed Up' within 12h"));
        // Ordered stages: 'Awareness' < 'Purchase' in the model.
        assert!(holds("stage >= 'Purchase'") && holds("stage > 'Awareness'") && !holds("stage < 'Purchase'"));
        let p = Predicate::compile(
            "did 'Order Completed' >= 2 within 90d and stage >= 'Purchase'",
            Scope::Customer,
            &vocab(),
        )
        .unwrap();
        assert_eq!(p.to_string(), "did 'Order Completed' >= 2 within 90d and stage >= 'Purchase'");
        assert_eq!(Predicate::parse(&p.to_string()).map(|q| q.to_string()), Ok(p.to_string()));
    }

    #[test]
    fn a_did_term_may_test_each_event_in_brackets() {
        let p = Predicate::compile(
            "did 'Order Completed'[revenue > 100 and channel = 'Email'] >= 2 within 30d",
            Scope::Customer,
            &vocab(),
        )
        .unwrap();
        let Predicate::Did(d) = &p else { panic!("{p:?}") };
        let (filter, text) = d.filter.as_ref().unwrap();
        assert_eq!(text, "revenue > 100 and channel = 'Email'");
        assert_eq!(filter.fields(), [&Field::Revenue, &Field::Channel]);
        assert_eq!(p.fields(), [&Field::Revenue, &Field::Channel]);
        assert_eq!(p.to_string(), "did 'Order Completed'[revenue > 100 and channel = 'Email'] >= 2 within 30d");
        // Brackets may hold brackets and quoted ']'.
        assert!(Predicate::parse("did 'Page Viewed'[url ~ '*]*' and (plan = 'x')]").is_ok());
        // An error inside the brackets names its column in the whole condition.
        let e = err("orders >= 1 and did 'Order Completed'[channel = 'Emial']", Scope::Customer);
        assert!(e.starts_with("at column 39:") && e.contains("did you mean 'Email'"), "{e}");
        let e = Predicate::parse("did 'Order Completed'[revenue >]").unwrap_err();
        assert!(e.starts_with("at column 32:"), "{e}");
        assert!(Predicate::parse("did 'X'[revenue > 1").unwrap_err().contains("without its ']'"));
        // The first problem in the text is reported.
        let e = err("did 'Order Complete' >= 2 and stage >= 'Purchse'", Scope::Customer);
        assert!(e.starts_with("at column 1:") && e.contains("'Order Completed'"), "{e}");
    }

    #[test]
    fn did_and_new_customer_facts_are_checked_with_their_column() {
        let e = err("traits.plan = 'pro' and did 'Order Complete' >= 2", Scope::Customer);
        assert!(e.starts_with("at column 25:") && e.contains("did you mean 'Order Completed'"), "{e}");
        let e = err("did 'Refund*'", Scope::Customer);
        assert!(e.contains("'Refund*' matches no event"), "{e}");
        let e = err("did 'Order Completed'", Scope::Event);
        assert!(e.contains("counts a customer's events"), "{e}");
        assert_eq!(
            Predicate::parse("did 'X' >= two").unwrap_err(),
            "at column 12: expected a count (0, 1, 2…) after '>=', found 'two'"
        );
        assert!(Predicate::parse("did 'X' within 3 fortnights").unwrap_err().contains("unknown duration unit"));
        assert!(Predicate::parse("did 'X' ~ 'Y'").unwrap_err().contains("counts events"));
        assert!(Predicate::parse("did").unwrap_err().contains("expected an event name after 'did'"));
        let e = err("stage >= 'Purchse'", Scope::Customer);
        assert!(e.contains("did you mean 'Purchase'"), "{e}");
        let e = err("nps_group = 'promotor'", Scope::Customer);
        assert!(e.contains("did you mean 'promoter'"), "{e}");
        let e = err("favourite_channel = 'Emial'", Scope::Customer);
        assert!(e.contains("did you mean 'Email'"), "{e}");
        let e = err("persona = 'Deal hunter'", Scope::Customer);
        assert!(e.contains("did you mean 'Deal hunters'"), "{e}");
        let ok = |src: &str| Predicate::compile(src, Scope::Customer, &vocab()).unwrap();
        ok("churned and favorite_channel = 'Email' and nps_group = 'detractor' and persona = 'Deal hunters'");
        let e = Predicate::compile("stage >= 'Purchase'", Scope::Customer, &Vocabulary::default()).unwrap_err();
        assert!(e.contains("orders stages"), "{e}");
    }

    #[test]
    fn touchpoint_and_in_stage_are_for_funnel_steps_only() {
        let ok =
            Predicate::compile("touchpoint = 'Checkout' and in_stage = 'Purchase'", Scope::Step, &vocab()).unwrap();
        assert_eq!(ok.fields(), [&Field::Touchpoint, &Field::InStage]);
        assert!(Predicate::compile("touchpoint = 'Payment Failed @ Direct'", Scope::Step, &vocab()).is_ok());
        let e = Predicate::compile("touchpoint = 'Checkout'", Scope::Event, &vocab()).unwrap_err();
        assert!(e.contains("known only once stages and touchpoints are derived"), "{e}");
        let e = Predicate::compile("touchpoint = 'Chekout'", Scope::Step, &vocab()).unwrap_err();
        assert!(e.contains("did you mean 'Checkout'"), "{e}");
        let e = Predicate::compile("in_stage = 'Purchse'", Scope::Step, &vocab()).unwrap_err();
        assert!(e.contains("did you mean 'Purchase'"), "{e}");
    }

    fn err(src: &str, scope: Scope) -> String {
        Predicate::compile(src, scope, &vocab()).expect_err(src)
    }

    #[test]
    fn a_field_means_the_same_everywhere() {
        // A bare name is an event property in every scope that has events.
        assert_eq!(Field::parse("plan"), Field::Property("plan".into()));
        assert_eq!(Field::parse("properties.plan"), Field::Property("plan".into()));
        assert_eq!(Field::parse("first_channel"), Field::Customer(CustomerFact::FirstChannel));
        assert_eq!(Field::parse("purchases"), Field::Customer(CustomerFact::Orders));
        let ok = |src: &str, scope| Predicate::compile(src, scope, &vocab()).unwrap();
        assert_eq!(ok("plan = 'pro'", Scope::Event), Predicate::parse("properties.plan = 'pro'").unwrap());
        ok("plan = 'pro' and channel = 'Email'", Scope::Ingest);
        ok("traits.plan = 'pro' or first_channel = 'Email' or stage = 'Purchase'", Scope::Customer);
        ok("orders >= 2 and revenue_total > 100.5", Scope::Customer);
        ok("properties.lifecycle = 'new' and traits.company_size > 10", Scope::Customer);
        ok("event ~ 'Order*' and nth_purchase >= 2 and revenue > '10'", Scope::Event);
        ok("properties.chanel = 'x'", Scope::Event);
    }

    #[test]
    fn conditions_that_cannot_hold_are_errors_with_their_column() {
        let e = err("first_chanel = 'Direct'", Scope::Customer);
        assert!(e.starts_with("at column 1:") && e.contains("did you mean 'first_channel'"), "{e}");
        let e = err("traits.plan = 'pro' and properties.lifecycel = 'new'", Scope::Customer);
        assert!(e.starts_with("at column 25:") && e.contains("did you mean 'lifecycle'"), "{e}");
        let e = err("traits.pln = 'pro'", Scope::Customer);
        assert!(e.contains("no trait 'pln' in the data; did you mean 'plan'?"), "{e}");
        let e = err("properties.colour = 'red'", Scope::Event);
        assert!(
            e.contains("no event property 'colour'") && e.contains("event properties: plan, lifecycle, chanel"),
            "{e}"
        );
        let lenient = Vocabulary { absent_property_is_error: false, ..vocab() };
        assert!(Predicate::compile("properties.rating >= 4", Scope::Event, &lenient).is_ok());
        let e = Predicate::compile("properties.lifecyle = 'new'", Scope::Event, &lenient).unwrap_err();
        assert!(e.contains("did you mean 'lifecycle'"), "{e}");
        let e = err("url = '/x' and text", Scope::Customer);
        assert!(e.contains("belongs to one event"), "{e}");
        let e = err("chanel = 'Email'", Scope::Event);
        assert!(e.contains("did you mean 'channel'") && e.contains("properties.chanel"), "{e}");
        let e = err("traits.plan = 'pro'", Scope::Ingest);
        assert!(e.contains("not known while an event is being imported"), "{e}");
        let e = err("nth_purchase >= 2", Scope::Ingest);
        assert!(e.contains("nth_purchase"), "{e}");
        let e = err("revenue > 'lots'", Scope::Event);
        assert!(e.contains("is a number"), "{e}");
        let e = err("score ~ '9*'", Scope::Event);
        assert!(e.contains("compares text"), "{e}");
        let e = err("channel = 'Emial'", Scope::Event);
        assert!(e.contains("no channel 'Emial'; did you mean 'Email'?"), "{e}");
        let e = err("event = 'Payment Faild'", Scope::Event);
        assert!(e.contains("did you mean 'Payment Failed'"), "{e}");
        let e = err("event ~ 'Refund*'", Scope::Event);
        assert!(e.contains("matches no event"), "{e}");
        let e = err("stage = 'purchase'", Scope::Customer);
        assert!(e.contains("did you mean 'Purchase'"), "{e}");
        let e = err("kind = 'pgae'", Scope::Event);
        assert!(e.contains("did you mean 'page'"), "{e}");
        let e = err("channel > 3", Scope::Event);
        assert!(e.contains("compares numbers"), "{e}");
        // Syntax errors carry the column too.
        assert_eq!(Predicate::parse("score >=").unwrap_err(), "at column 9: expected a value after '>='");
        assert!(Predicate::parse("a = 1 b").unwrap_err().starts_with("at column 7:"));
        // With no data yet, names of events and channels are not checked.
        let empty = Vocabulary::default();
        assert!(Predicate::compile("event = 'Anything' and channel = 'Kiosk'", Scope::Event, &empty).is_ok());
    }
}
