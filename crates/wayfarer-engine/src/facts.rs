//! What a condition reads (DESIGN §4.4), in one place for every rule kind:
//! stage rules, touchpoints, funnel steps and exclusions read an event of a
//! timeline ([`Facts::event`]) or a bare row when no timeline is needed
//! ([`Facts::row`]); persona rules and segments read the whole customer
//! ([`Facts::customer`]). A field means the same in each: a bare name or
//! `properties.x` is the event's property (of a whole customer: the latest
//! value their events gave it), `traits.x` the customer's trait,
//! `first_channel`, `orders`, `stage`… the customer's facts.
//!
//! [`Model::compile`](crate::model::Model::compile) and the funnel check
//! each condition against its scope first, so a field that a kind of rule
//! cannot read is an error there, never a `Null` here.

use std::borrow::Cow;
use std::cell::OnceCell;

use serde_json::{Map, Value as Json};
use wayfarer_core::Kind;
use wayfarer_core::predicate::{self, CustomerFact, Field, Value};
use wayfarer_store::{Col, Rows};

use crate::model::Model;
use crate::timeline::Timeline;

/// The facts of one event, one row, or one customer.
pub struct Facts<'t, 'a> {
    model: &'t Model,
    rows: &'a Rows,
    /// The event's row (none for customer facts).
    row: Option<usize>,
    /// The customer's timeline, and the event's index in it.
    timeline: Option<&'t Timeline<'a>>,
    j: Option<usize>,
    props: OnceCell<Option<Json>>,
    /// Model predictions per customer, where a condition reads them.
    predictions: Option<&'t Predictions>,
}

/// Per-customer predictions of the CLV models (customers with a purchase).
#[derive(Debug, Clone, Default)]
pub struct Predictions {
    pub clv: std::sync::Arc<std::collections::HashMap<u32, f64>>,
    pub p_alive: std::sync::Arc<std::collections::HashMap<u32, f64>>,
    /// The discovered personas' fit, each customer placed with the nearest.
    pub personas: Option<std::sync::Arc<crate::personas::PersonaFit>>,
}

impl<'t, 'a> Facts<'t, 'a> {
    /// Event `j` of a timeline: every field.
    pub fn event(t: &'t Timeline<'a>, model: &'t Model, j: usize) -> Facts<'t, 'a> {
        Facts {
            model,
            rows: t.rows,
            row: Some(t.idx[j]),
            timeline: Some(t),
            j: Some(j),
            props: OnceCell::new(),
            predictions: None,
        }
    }

    /// A row read without its timeline: the event's own fields and
    /// properties (its stored channel); customer facts are unknown. Only for
    /// conditions that read nothing else (see [`needs_timeline`]).
    pub fn row(rows: &'a Rows, row: usize, model: &'t Model) -> Facts<'t, 'a> {
        Facts { model, rows, row: Some(row), timeline: None, j: None, props: OnceCell::new(), predictions: None }
    }

    /// The whole customer: traits and customer facts.
    pub fn customer(t: &'t Timeline<'a>, model: &'t Model) -> Facts<'t, 'a> {
        Facts { model, rows: t.rows, row: None, timeline: Some(t), j: None, props: OnceCell::new(), predictions: None }
    }

    /// The same facts with the models' predictions.
    pub fn with_predictions(mut self, predictions: Option<&'t Predictions>) -> Facts<'t, 'a> {
        self.predictions = predictions;
        self
    }

    fn text(&self, col: Col) -> Value<'_> {
        self.row.and_then(|r| self.rows.str_at(col, r)).map_or(Value::Null, |s| Value::Str(Cow::Borrowed(s)))
    }

    fn number(&self, col: Col) -> Value<'_> {
        self.row.and_then(|r| self.rows.f64_at(col, r)).map_or(Value::Null, Value::Num)
    }

    fn name(s: &str) -> Value<'_> {
        Value::Str(Cow::Borrowed(s))
    }

    fn customer_fact(&self, f: CustomerFact) -> Value<'_> {
        let Some(t) = self.timeline else { return Value::Null };
        match f {
            CustomerFact::FirstChannel => Facts::name(self.model.channel_name(t.first_channel())),
            CustomerFact::Orders => Value::Num(t.purchases() as f64),
            CustomerFact::RevenueTotal => Value::Num(t.revenue()),
            CustomerFact::Events => Value::Num(t.idx.len() as f64),
            CustomerFact::Stage => {
                t.current_stage().map_or(Value::Null, |s| Facts::name(self.model.stage_names[s].as_str()))
            }
            CustomerFact::FavouriteChannel => {
                favourite_channel(t).map_or(Value::Null, |c| Facts::name(self.model.channel_name(c)))
            }
            CustomerFact::Churned => Value::Bool(t.churned(self.model, self.model.data_end)),
            CustomerFact::NpsGroup => nps_group(self.rows, t).map_or(Value::Null, Facts::name),
            CustomerFact::Persona => {
                t.persona.and_then(|i| self.model.personas.get(i)).map_or(Value::Null, |(n, _, _)| Facts::name(n))
            }
            CustomerFact::Clv => {
                self.predictions.and_then(|p| p.clv.get(&t.customer)).map_or(Value::Null, |v| Value::Num(*v))
            }
            CustomerFact::PAlive => {
                self.predictions.and_then(|p| p.p_alive.get(&t.customer)).map_or(Value::Null, |v| Value::Num(*v))
            }
            CustomerFact::DiscoveredPersona => {
                let Some(fit) = self.predictions.and_then(|p| p.personas.as_deref()) else { return Value::Null };
                let features = crate::personas::features(self.model, &crate::Scope::default(), t).features;
                fit.personas.get(fit.assign(&features)).map_or(Value::Null, |(n, _)| Facts::name(n))
            }
            CustomerFact::FirstSeen | CustomerFact::LastSeen => {
                let interaction = |&&r: &&usize| Kind::code_is_interaction(self.rows.kind[r]);
                let at = match f {
                    CustomerFact::FirstSeen => t.idx.iter().find(interaction),
                    _ => t.idx.iter().rev().find(interaction),
                };
                at.map_or(Value::Null, |&r| Value::Str(wayfarer_core::time::format_rfc3339(self.rows.ts[r]).into()))
            }
        }
    }
}

/// The channel of most of a timeline's events that have one (ties: the
/// one seen first).
fn favourite_channel(t: &Timeline<'_>) -> Option<u32> {
    let mut counts: Vec<(u32, usize)> = Vec::new();
    for &c in t.channel.iter().filter(|&&c| c != wayfarer_store::NO_CHANNEL) {
        match counts.iter_mut().find(|(x, _)| *x == c) {
            Some((_, n)) => *n += 1,
            None => counts.push((c, 1)),
        }
    }
    // `max_by_key` keeps the last of equals; the first seen wins a tie.
    counts.iter().rev().max_by_key(|(_, n)| *n).map(|(c, _)| *c)
}

/// The group of the customer's latest NPS answer (DESIGN §4.8: 9–10
/// promoter, 7–8 passive, 0–6 detractor).
fn nps_group(rows: &Rows, t: &Timeline<'_>) -> Option<&'static str> {
    t.idx.iter().rev().find_map(|&r| {
        let nps = rows.str_at(Col::Survey, r).is_some_and(|s| s.eq_ignore_ascii_case("nps"));
        let score = rows.f64_at(Col::Score, r).filter(|_| nps)?;
        Some(wayfarer_models::stats::NPS_GROUPS[wayfarer_models::stats::nps_group(score)])
    })
}

impl predicate::Facts for Facts<'_, '_> {
    fn count(&self, did: &predicate::Did) -> Option<usize> {
        let t = self.timeline?;
        let since = did.within.map_or(i64::MIN, |w| self.model.data_end.saturating_sub(w));
        let mut memo: Vec<Option<bool>> = Vec::new();
        let mut n = 0;
        for (j, &r) in t.idx.iter().enumerate() {
            if self.rows.ts[r] <= since {
                continue;
            }
            let code = self.rows.event[r] as usize;
            if memo.len() <= code {
                memo.resize(code + 1, None);
            }
            if !*memo[code].get_or_insert_with(|| did.matches(self.model.event_name(code as u32))) {
                continue;
            }
            if did.filter.as_ref().is_none_or(|(f, _)| f.eval(&Facts::event(t, self.model, j))) {
                n += 1;
            }
        }
        Some(n)
    }

    fn occurrences(&self, pattern: &wayfarer_core::pattern::Pattern) -> Option<usize> {
        let t = self.timeline?;
        let rows = self.rows;
        // Whether each term names each event code, decided once per code.
        let mut names: Vec<Vec<Option<bool>>> = vec![Vec::new(); pattern.terms.len()];
        let ts = |i: usize| rows.ts[t.idx[i]];
        let mut test = |term: usize, i: usize| {
            let code = rows.event[t.idx[i]] as usize;
            let memo = &mut names[term];
            if memo.len() <= code {
                memo.resize(code + 1, None);
            }
            let spec = &pattern.terms[term];
            *memo[code].get_or_insert_with(|| spec.matches_name(self.model.event_name(code as u32)))
                && spec.filter.as_ref().is_none_or(|(f, _, _)| f.eval(&Facts::event(t, self.model, i)))
        };
        Some(pattern.count(t.idx.len(), &ts, &mut test))
    }

    fn stage_rank(&self) -> Option<usize> {
        self.timeline?.current_stage()
    }

    fn get(&self, field: &Field) -> Value<'_> {
        let (rows, model) = (self.rows, self.model);
        match field {
            Field::Trait(path) => self.timeline.map_or(Value::Null, |t| trait_value(&t.traits, path)),
            Field::Customer(f) => self.customer_fact(*f),
            Field::Property(path) if self.row.is_none() => {
                self.timeline.map_or(Value::Null, |t| latest_property(rows, t, path))
            }
            _ => {
                let Some(r) = self.row else { return Value::Null };
                match field {
                    Field::Event => Facts::name(model.event_name(rows.event[r])),
                    Field::Kind => rows.kind.get(r).map_or(Value::Null, |k| Facts::name(Kind::from_code(*k).as_str())),
                    Field::Channel => match (self.timeline, self.j) {
                        (Some(t), Some(j)) => Facts::name(model.channel_name(t.channel[j])),
                        _ => rows.channel.get(r).map_or(Value::Null, |c| Facts::name(model.channel_name(*c))),
                    },
                    Field::Source => self.text(Col::Source),
                    Field::Medium => self.text(Col::Medium),
                    Field::Campaign => self.text(Col::Campaign),
                    Field::Url => self.text(Col::Url),
                    Field::Referrer => self.text(Col::Referrer),
                    Field::Survey => self.text(Col::Survey),
                    Field::Text => self.text(Col::Text),
                    Field::Revenue => self.number(Col::Revenue),
                    Field::Score => self.number(Col::Score),
                    Field::NthPurchase => match (self.timeline, self.j) {
                        (Some(t), Some(j)) => Value::Num(t.nth_purchase[j] as f64),
                        _ => Value::Null,
                    },
                    Field::Property(path) => {
                        let props = self
                            .props
                            .get_or_init(|| rows.str_at(Col::Properties, r).and_then(|s| serde_json::from_str(s).ok()));
                        props
                            .as_ref()
                            .and_then(|p| predicate::lookup_path(p, path))
                            .map_or(Value::Null, Value::from_json)
                    }
                    Field::Touchpoint => match (self.timeline, self.j) {
                        (Some(t), Some(j)) => Value::Str(Cow::Owned(model.touchpoint_name(t.touchpoint(model, j)))),
                        _ => Value::Null,
                    },
                    Field::InStage => match (self.timeline, self.j) {
                        (Some(t), Some(j)) => {
                            model.stage_names.get(t.stage[j] as usize).map_or(Value::Null, |s| Facts::name(s.as_str()))
                        }
                        _ => Value::Null,
                    },
                    Field::Trait(_) | Field::Customer(_) => Value::Null,
                }
            }
        }
    }
}

/// A property of the whole customer: the latest value their events (in
/// scope) gave it, as traits take the last value.
fn latest_property(rows: &Rows, t: &Timeline<'_>, path: &str) -> Value<'static> {
    let head = path.split('.').next().unwrap_or(path);
    let quoted = format!("\"{head}\"");
    for &r in t.idx.iter().rev() {
        let Some(text) = rows.str_at(Col::Properties, r) else { continue };
        if !text.contains(&quoted) {
            continue;
        }
        if let Ok(json) = serde_json::from_str::<Json>(text)
            && let Some(v) = predicate::lookup_path(&json, path).filter(|v| !v.is_null())
        {
            return Value::from_json(v);
        }
    }
    Value::Null
}

fn trait_value<'m>(traits: &'m Map<String, Json>, path: &str) -> Value<'m> {
    let (first, rest) = path.split_once('.').map_or((path, None), |(a, b)| (a, Some(b)));
    let Some(v) = traits.get(first) else { return Value::Null };
    match rest {
        None => Value::from_json(v),
        Some(rest) => predicate::lookup_path(v, rest).map_or(Value::Null, Value::from_json),
    }
}

/// Whether a condition reads anything beyond its row (the effective
/// channel, purchase number, traits or customer facts), so it must be
/// evaluated on a timeline.
pub fn needs_timeline(p: &predicate::Predicate) -> bool {
    p.fields().iter().any(|f| {
        matches!(f, Field::Channel | Field::NthPurchase | Field::Touchpoint | Field::InStage) || !f.is_event_level()
    })
}

/// The stored columns a condition field reads beyond the timeline's own
/// (event, kind, channel, timestamp).
pub fn columns(f: &Field) -> Vec<Col> {
    vec![match f {
        Field::Property(_) => Col::Properties,
        Field::Url => Col::Url,
        Field::Referrer => Col::Referrer,
        Field::Source => Col::Source,
        Field::Medium => Col::Medium,
        Field::Campaign => Col::Campaign,
        Field::Score => Col::Score,
        Field::Survey => Col::Survey,
        Field::Text => Col::Text,
        Field::Revenue | Field::Customer(CustomerFact::RevenueTotal) => Col::Revenue,
        Field::Trait(_) => Col::Properties,
        Field::Customer(CustomerFact::NpsGroup) => return vec![Col::Survey, Col::Score],
        // What the personas' features read.
        Field::Customer(CustomerFact::DiscoveredPersona) => return vec![Col::Revenue, Col::Survey, Col::Score],
        _ => return Vec::new(),
    }]
}

#[cfg(test)]
mod tests {
    use wayfarer_core::Config;
    use wayfarer_core::config::{PersonaDef, RuleDef, TouchpointDef};

    use crate::Scope;
    use crate::funnel::{FunnelSpec, Mode, Step, funnel};
    use crate::journey::journey_map;
    use crate::testutil::*;

    fn events() -> Vec<wayfarer_core::Event> {
        vec![
            with(ev("u1", 0.0, "Identify"), |e| e.properties = r#"{"plan":"pro"}"#.into()),
            with(ev("u1", 1.0, "Signed Up"), |e| e.properties = r#"{"plan":"pro"}"#.into()),
            ev("u1", 2.0, "Order Completed"),
            ev("u1", 3.0, "Order Completed"),
            with(ev("u2", 0.0, "Signed Up"), |e| e.properties = r#"{"plan":"free"}"#.into()),
            ev("u2", 2.0, "Order Completed"),
        ]
    }

    fn purchase_rule(when: &str) -> Config {
        let mut c = Config::default();
        let purchase = c.stages.iter().position(|s| s.name == "Purchase").expect("Purchase stage");
        c.stages[purchase].rules =
            vec![RuleDef { event: "Signed Up".into(), channel: None, when: Some(when.to_string()) }];
        c
    }

    #[test]
    fn a_bare_name_in_a_stage_rule_reads_the_event_property_as_in_a_funnel_step() {
        let (_d, s) = store(events());
        let m = model_with(&s, &purchase_rule("plan = 'pro'"));
        let map = journey_map(&s, &m, &Scope::default()).unwrap();
        let purchase = map.stages.iter().find(|st| st.name == "Purchase").unwrap();
        assert_eq!(purchase.customers, 1, "u1 signed up on the pro plan");
        let step = Step::parse("Signed Up[plan = 'pro']", &m).unwrap();
        let report =
            funnel(&s, &m, &Scope::default(), &FunnelSpec::new(vec![step], 3600 * 1_000_000, Mode::Default)).unwrap();
        assert_eq!(report.steps[0].customers, 1);
    }

    #[test]
    fn funnel_steps_read_timeline_facts() {
        // nth_purchase and traits need the timeline; they used to read as null.
        let (_d, s) = store(events());
        let m = model(&s);
        let spec = |steps: &[&str]| {
            let steps = steps.iter().map(|t| Step::parse(t, &m).unwrap()).collect();
            FunnelSpec::new(steps, 3600 * 1_000_000, Mode::Default)
        };
        let r = funnel(&s, &m, &Scope::default(), &spec(&["Order Completed[nth_purchase >= 2]"])).unwrap();
        assert_eq!(r.steps[0].customers, 1);
        let r =
            funnel(&s, &m, &Scope::default(), &spec(&["Signed Up", "Order Completed[traits.plan = 'pro']"])).unwrap();
        assert_eq!(r.steps[1].customers, 1);
        let r = funnel(&s, &m, &Scope::default(), &spec(&["Order Completed[first_channel = 'Direct']"])).unwrap();
        assert_eq!(r.steps[0].customers, 2);
    }

    #[test]
    fn the_map_reads_the_properties_its_conditions_need_and_nothing_changes() {
        use crate::fold::{Fold, report};
        use crate::journey::{MapInputs, fold::JourneyFold};
        use wayfarer_store::PropertyRows;

        /// The journey map's fold, reading every row's properties.
        struct EveryRow<'a>(JourneyFold<'a>);
        impl Fold for EveryRow<'_> {
            type Partial = <JourneyFold<'static> as Fold>::Partial;
            type Scratch = <JourneyFold<'static> as Fold>::Scratch;
            type Report = <JourneyFold<'static> as Fold>::Report;
            fn columns(&self) -> Vec<wayfarer_store::Col> {
                self.0.columns()
            }
            fn init(&self) -> Self::Partial {
                self.0.init()
            }
            fn fold(&self, p: &mut Self::Partial, s: &mut Self::Scratch, span: crate::fold::Span<'_>) {
                self.0.fold(p, s, span);
            }
            fn merge(&self, a: Self::Partial, b: Self::Partial) -> Self::Partial {
                self.0.merge(a, b)
            }
            fn finish(&self, p: Self::Partial) -> Self::Report {
                self.0.finish(p)
            }
        }

        let mut evs = events();
        for u in 0..30 {
            let user = format!("r{u}");
            let plan = if u % 3 == 0 { "pro" } else { "free" };
            evs.push(with(ev(&user, 0.0, "Identify"), |e| e.properties = format!(r#"{{"plan":"{plan}"}}"#)));
            evs.push(with(ev(&user, 1.0, "Page Viewed"), |e| e.properties = r#"{"plan":"pro","path":"/"}"#.into()));
            evs.push(with(ev(&user, 2.0, "Signed Up"), |e| e.properties = format!(r#"{{"plan":"{plan}"}}"#)));
            if u % 2 == 0 {
                evs.push(ev(&user, 3.0, "Order Completed"));
            }
        }
        let (_d, s) = store(evs);
        let mut c = purchase_rule("properties.plan = 'pro'");
        c.personas.push(PersonaDef {
            name: "Pros".into(),
            description: String::new(),
            when: "traits.plan = 'pro'".into(),
        });
        let m = crate::Model::compile(&c, &s).unwrap();
        let signed_up = s.event_names().iter().position(|n| n == "Signed Up").unwrap() as u32;
        assert_eq!(
            m.property_rows(),
            PropertyRows::Of { kinds: vec![wayfarer_core::Kind::Identify.code()], events: vec![signed_up] }
        );
        let inputs = MapInputs::hand_written(&m);
        let scope = Scope::default();
        let some = report(&s, &JourneyFold::new(&s, &m, &scope, &inputs, true).unwrap()).unwrap();
        let every = report(&s, &EveryRow(JourneyFold::new(&s, &m, &scope, &inputs, true).unwrap())).unwrap();
        assert_eq!(some, every);
        // The condition and the persona matter: the pro sign-ups and the pros are counted.
        assert!(serde_json::to_string(&some).unwrap().contains("Pros"));

        // A persona's `properties.x` is the latest value of any event: every row's.
        c.personas[0].when = "properties.plan = 'pro'".into();
        assert_eq!(crate::Model::compile(&c, &s).unwrap().property_rows(), PropertyRows::All);
    }

    #[test]
    fn every_kind_of_rule_refuses_a_condition_that_cannot_hold() {
        let (_d, s) = store(events());
        let compile = |c: &Config| crate::Model::compile(c, &s).expect_err("must be refused").to_string();
        let e = compile(&purchase_rule("chanel = 'Email'"));
        assert!(e.contains("stage 'Purchase'") && e.contains("did you mean 'channel'"), "{e}");
        let e = compile(&purchase_rule("event = 'Signed Upp'"));
        assert!(e.contains("did you mean 'Signed Up'"), "{e}");

        let mut c = Config::default();
        c.touchpoints.push(TouchpointDef {
            name: "Pro sign-up".into(),
            event: "Signed Up".into(),
            channel: None,
            when: Some("revenue > 'high'".into()),
        });
        let e = compile(&c);
        assert!(e.contains("touchpoint 'Pro sign-up'") && e.contains("is a number"), "{e}");

        let mut c = Config::default();
        c.personas.push(PersonaDef { name: "Pros".into(), description: String::new(), when: "plan = 'pro'".into() });
        let e = compile(&c);
        assert!(e.contains("persona 'Pros'") && e.contains("not a customer fact"), "{e}");
        c.personas[0].when = "first_channel = 'Emial'".into();
        let e = compile(&c);
        assert!(e.contains("did you mean 'Email'"), "{e}");

        let mut c = Config::default();
        c.channels.rules.push(wayfarer_core::config::ChannelRuleDef {
            name: "Partners".into(),
            when: "traits.partner = true".into(),
        });
        let e = compile(&c);
        assert!(e.contains("channel 'Partners'") && e.contains("imported"), "{e}");

        let m = model(&s);
        let e = Step::parse("Signed Up[plna = 'pro' and nth_purchse >= 1]", &m).unwrap_err().to_string();
        assert!(e.contains("at column 1") && e.contains("no event property 'plna'"), "{e}");
        let e = Step::parse("Signed Up[plan = 'pro' and nth_purchse >= 1]", &m).unwrap_err().to_string();
        assert!(e.contains("at column 18") && e.contains("did you mean 'nth_purchase'"), "{e}");
    }
}
