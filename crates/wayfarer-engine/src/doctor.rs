//! `wayfarer doctor`: how well the configuration fits the data, so a
//! mismatch is said out loud instead of showing as an empty stage or a
//! zero: event names no stage rule or touchpoint knows, rules and
//! touchpoints that match no event, stages nobody reaches, hand-written
//! personas without members, events left in the Unassigned channel, and
//! data too thin for the models (no revenue, few repeat purchasers, no
//! survey answers). One fold over every timeline counts what the checks
//! need.

use serde::{Deserialize, Serialize};
use wayfarer_core::glob::glob_match;
use wayfarer_store::{Col, NO_CHANNEL, Store};

use crate::fold::{self, Fold, Span};
use crate::model::Model;
use crate::timeline::Timeline;
use crate::{EngineError, Scope};

/// Repeat purchasers below which the BG/NBD fit is not worth trusting.
pub const MIN_REPEAT_BUYERS: u64 = 30;
/// Share of events in the Unassigned channel above which rules are missing.
pub const UNASSIGNED_WARN: f64 = 0.05;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Ok,
    Warning,
    Problem,
}

/// One check's finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Stable name (`stage_coverage`, `rules_match_nothing`, …).
    pub check: String,
    pub level: Level,
    pub message: String,
    /// The names concerned, most important first (at most 20, then a line
    /// saying how many more).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub items: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoctorReport {
    pub customers: u64,
    pub events: u64,
    pub checks: Vec<Check>,
}

impl DoctorReport {
    pub fn worst(&self) -> Level {
        let rank = |l: Level| match l {
            Level::Ok => 0,
            Level::Warning => 1,
            Level::Problem => 2,
        };
        self.checks.iter().map(|c| c.level).max_by_key(|l| rank(*l)).unwrap_or(Level::Ok)
    }
}

/// What the checks count, mergeable.
#[derive(Debug, Clone, Default)]
pub struct DoctorPartial {
    customers: u64,
    /// Interaction events per event code.
    events: Vec<u64>,
    /// Interaction events per effective channel code (last: no channel).
    channels: Vec<u64>,
    /// Customers who reached each stage.
    reached: Vec<u64>,
    /// Customers per hand-written persona (last: none).
    personas: Vec<u64>,
    purchasers: u64,
    repeat_purchasers: u64,
    purchases: u64,
    purchases_with_revenue: u64,
    survey_answers: u64,
}

pub struct DoctorFold<'m> {
    model: &'m Model,
    scope: Scope,
}

impl<'m> DoctorFold<'m> {
    pub fn new(model: &'m Model) -> DoctorFold<'m> {
        DoctorFold { model, scope: Scope::default() }
    }
}

fn add(a: &mut Vec<u64>, b: Vec<u64>) {
    if a.len() < b.len() {
        a.resize(b.len(), 0);
    }
    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
}

impl Fold for DoctorFold<'_> {
    type Partial = DoctorPartial;
    type Scratch = ();
    type Report = DoctorReport;

    fn columns(&self) -> Vec<Col> {
        let mut c = self.model.timeline_columns();
        c.extend([Col::Revenue, Col::Score]);
        c.sort();
        c.dedup();
        c
    }

    fn init(&self) -> DoctorPartial {
        let m = self.model;
        DoctorPartial {
            events: vec![0; m.event_names.len()],
            channels: vec![0; m.channels.len() + 1],
            reached: vec![0; m.stages()],
            personas: vec![0; m.personas.len() + 1],
            ..DoctorPartial::default()
        }
    }

    fn fold(&self, p: &mut DoctorPartial, _: &mut (), span: Span<'_>) {
        let Some(t) = Timeline::build(self.model, &self.scope, span) else { return };
        p.customers += 1;
        let no_channel = p.channels.len() - 1;
        for (j, &r) in t.idx.iter().enumerate() {
            p.events[t.rows.event[r] as usize] += 1;
            let c = t.channel[j];
            p.channels[if c == NO_CHANNEL { no_channel } else { (c as usize).min(no_channel) }] += 1;
            if t.nth_purchase[j] > 0 && t.rows.f64_at(Col::Revenue, r).is_some() {
                p.purchases_with_revenue += 1;
            }
            if t.rows.f64_at(Col::Score, r).is_some() {
                p.survey_answers += 1;
            }
        }
        for (k, n) in p.reached.iter_mut().enumerate() {
            *n += u64::from(t.reached(k));
        }
        let persona = t.persona.unwrap_or(p.personas.len() - 1);
        p.personas[persona] += 1;
        let bought = u64::from(t.purchases());
        p.purchases += bought;
        p.purchasers += u64::from(bought > 0);
        p.repeat_purchasers += u64::from(bought > 1);
    }

    fn merge(&self, mut a: DoctorPartial, b: DoctorPartial) -> DoctorPartial {
        a.customers += b.customers;
        add(&mut a.events, b.events);
        add(&mut a.channels, b.channels);
        add(&mut a.reached, b.reached);
        add(&mut a.personas, b.personas);
        a.purchasers += b.purchasers;
        a.repeat_purchasers += b.repeat_purchasers;
        a.purchases += b.purchases;
        a.purchases_with_revenue += b.purchases_with_revenue;
        a.survey_answers += b.survey_answers;
        a
    }

    fn finish(&self, p: DoctorPartial) -> DoctorReport {
        report(self.model, &p)
    }
}

/// Whether an event name is matched by a stage rule other than a catch-all
/// `*` (which says nothing about where a customer is).
fn matches_specific_rule(m: &Model, code: usize) -> bool {
    m.rules_for(code as u32).iter().any(|&r| {
        let rule = m.rule(r);
        m.config.stages[rule.stage].rules.iter().any(|d| d.event != "*" && glob_match(&d.event, &m.event_names[code]))
    })
}

/// The hint an import ends with when most of the store's event names match
/// no stage rule beyond the catch-all (names from another tracking plan):
/// without it every customer would silently sit in the first stage.
pub fn import_hint(m: &Model) -> Option<String> {
    let total = m.event_names.len();
    let matched = (0..total).filter(|&c| matches_specific_rule(m, c)).count();
    (total > 0 && matched * 2 < total).then(|| {
        format!(
            "Only {matched} of {total} event names match a stage rule beyond the catch-all, so most customers would sit in {}. \
             Run `wayfarer config init --from-data` to propose stage rules, touchpoints and channel rules from these names, \
             and `wayfarer doctor` to check the result.",
            m.config.stages.first().map_or("the first stage", |s| s.name.as_str())
        )
    })
}

/// Checks how the configuration fits the store's data.
pub fn doctor(store: &Store, model: &Model) -> Result<DoctorReport, EngineError> {
    fold::report(store, &DoctorFold::new(model))
}

fn pct(a: u64, b: u64) -> String {
    if b == 0 { "0%".into() } else { format!("{:.0}%", 100.0 * a as f64 / b as f64) }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Names listed per check; a longer list ends with how many more there are.
const MAX_ITEMS: usize = 20;

fn check(id: &str, level: Level, message: String, mut items: Vec<String>) -> Check {
    if items.len() > MAX_ITEMS {
        let all = items.len();
        items.truncate(MAX_ITEMS);
        items.push(format!("… and {} more ({MAX_ITEMS} of {all} listed)", all - MAX_ITEMS));
    }
    Check { check: id.into(), level, message, items }
}

fn report(m: &Model, p: &DoctorPartial) -> DoctorReport {
    let events: u64 = p.events.iter().sum();
    let config = &m.config;
    let seen: Vec<(usize, u64)> = p.events.iter().copied().enumerate().filter(|&(_, n)| n > 0).collect();
    let mut checks = Vec::new();

    // Event names no stage rule knows (a catch-all `*` rule says nothing).
    let specific = |code: usize| matches_specific_rule(m, code);
    let mut unmatched: Vec<(usize, u64)> = seen.iter().copied().filter(|&(c, _)| !specific(c)).collect();
    unmatched.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let unmatched_events: u64 = unmatched.iter().map(|x| x.1).sum();
    let matched = seen.len() - unmatched.len();
    checks.push(check(
        "stage_coverage",
        if matched == 0 && !seen.is_empty() {
            Level::Problem
        } else if matched * 2 < seen.len() {
            Level::Warning
        } else {
            Level::Ok
        },
        format!(
            "{matched} of {} event names match a stage rule beyond the catch-all; the other {} ({} of events) count only as {}{}",
            seen.len(),
            unmatched.len(),
            pct(unmatched_events, events),
            config.stages.first().map_or("the first stage", |s| s.name.as_str()),
            if matched == 0 { ": write stage rules for your event names ([[stages]] in wayfarer.toml)" } else { "" }
        ),
        unmatched.iter().map(|&(c, n)| format!("{} ({n})", m.event_names[c])).collect(),
    ));

    // Rules and touchpoints whose event matches no event of the data.
    // A rule of the built-in configuration for an event the data never has
    // is harmless (it names Segment's whole e-commerce spec and waits for
    // those events); one the user wrote is most likely a misspelling or a
    // name from another tracking plan.
    let builtin = wayfarer_core::Config::default();
    let builtin_stage = |stage: &str, event: &str| {
        builtin.stages.iter().any(|s| s.name == stage && s.rules.iter().any(|r| r.event == event))
    };
    let builtin_touchpoint = |event: &str| builtin.touchpoints.iter().any(|t| t.event == event);
    let mut dead = Vec::new();
    let mut written = 0;
    let mut dead_rule = |what: String, event: &str, from_builtin: bool| {
        if m.event_names.iter().any(|n| glob_match(event, n)) {
            return;
        }
        let hint = wayfarer_core::suggest::hint(event, &m.event_names);
        if from_builtin {
            dead.push(format!("{what}: '{event}'{hint}"));
        } else {
            written += 1;
            dead.insert(written - 1, format!("{what}: '{event}'{hint}"));
        }
    };
    for s in &config.stages {
        for r in s.rules.iter().filter(|r| r.event != "*") {
            dead_rule(format!("stage '{}'", s.name), &r.event, builtin_stage(&s.name, &r.event));
        }
    }
    for t in config.touchpoints.iter().filter(|t| t.event != "*") {
        dead_rule(format!("touchpoint '{}'", t.name), &t.event, builtin_touchpoint(&t.event));
    }
    checks.push(check(
        "rules_match_nothing",
        if written > 0 { Level::Warning } else { Level::Ok },
        if dead.is_empty() {
            "every stage rule and touchpoint matches an event of the data".into()
        } else if written > 0 {
            format!(
                "{} match no event of the data, {written} of them written in your configuration (a misspelling, or a name the data does not use?)",
                plural(dead.len() as u64, "rule or touchpoint", "rules and touchpoints")
            )
        } else {
            format!(
                "{} of the built-in configuration name events the data does not have (harmless: they wait for those events)",
                plural(dead.len() as u64, "rule or touchpoint", "rules and touchpoints")
            )
        },
        dead,
    ));

    // Stages nobody reached.
    let empty: Vec<String> =
        m.stage_names.iter().zip(&p.reached).filter(|(_, n)| **n == 0).map(|(s, _)| s.clone()).collect();
    checks.push(check(
        "stages_reached",
        if empty.is_empty() || p.customers == 0 { Level::Ok } else { Level::Warning },
        if empty.is_empty() {
            format!(
                "every stage is reached ({})",
                m.stage_names.iter().zip(&p.reached).map(|(s, n)| format!("{s} {n}")).collect::<Vec<_>>().join(", ")
            )
        } else {
            format!("{} reached by no customer", plural(empty.len() as u64, "stage is", "stages are"))
        },
        empty,
    ));

    // Hand-written personas without members.
    if !m.personas.is_empty() {
        let none = p.personas.last().copied().unwrap_or(0);
        let empty: Vec<String> = m
            .personas
            .iter()
            .zip(&p.personas)
            .filter(|(_, n)| **n == 0)
            .map(|((name, _, _), _)| name.clone())
            .collect();
        checks.push(check(
            "personas",
            if empty.is_empty() { Level::Ok } else { Level::Warning },
            format!(
                "{}; {} of customers match no persona ({})",
                if empty.is_empty() {
                    "every persona has members".to_string()
                } else {
                    format!("{} no members", plural(empty.len() as u64, "persona has", "personas have"))
                },
                pct(none, p.customers),
                m.personas
                    .iter()
                    .zip(&p.personas)
                    .map(|((name, _, _), n)| format!("{name} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            empty,
        ));
    }

    // Channels.
    let unassigned =
        m.channels.iter().position(|c| c == "Unassigned").map_or(0, |i| p.channels.get(i).copied().unwrap_or(0));
    checks.push(check(
        "unassigned_channel",
        if events > 0 && unassigned as f64 > UNASSIGNED_WARN * events as f64 { Level::Warning } else { Level::Ok },
        format!(
            "{} of events are in the Unassigned channel (a source/medium GA4's rules do not know){}",
            pct(unassigned, events),
            if unassigned > 0 { ": add [[channels.rules]] for them" } else { "" }
        ),
        Vec::new(),
    ));

    // Purchases, revenue and the models.
    let purchase = &config.journey.purchase_event;
    if m.purchase_code.is_none() {
        checks.push(check(
            "purchase_event",
            Level::Problem,
            format!(
                "the purchase event '{purchase}' (journey.purchase_event) is not in the data{}: no purchases, revenue or CLV",
                wayfarer_core::suggest::hint(purchase, &m.event_names)
            ),
            Vec::new(),
        ));
    } else {
        checks.push(check(
            "revenue",
            if p.purchases > 0 && p.purchases_with_revenue == 0 { Level::Warning } else { Level::Ok },
            if p.purchases_with_revenue == 0 {
                format!(
                    "none of {} carries revenue: value lanes, opportunities' value and CLV cannot be computed",
                    plural(p.purchases, "purchase", "purchases")
                )
            } else {
                format!(
                    "{} of {} carry revenue",
                    p.purchases_with_revenue,
                    plural(p.purchases, "purchase", "purchases")
                )
            },
            Vec::new(),
        ));
        checks.push(check(
            "clv_data",
            if p.repeat_purchasers < MIN_REPEAT_BUYERS { Level::Warning } else { Level::Ok },
            format!(
                "{} of {} bought more than once{}",
                p.repeat_purchasers,
                plural(p.purchasers, "purchaser", "purchasers"),
                if p.repeat_purchasers < MIN_REPEAT_BUYERS {
                    format!("; the BG/NBD model needs repeat purchases (at least {MIN_REPEAT_BUYERS} repeat buyers) to predict CLV")
                } else {
                    String::new()
                }
            ),
            Vec::new(),
        ));
    }
    checks.push(check(
        "surveys",
        Level::Ok,
        if p.survey_answers == 0 {
            "no survey answers (a score): NPS, CSAT and CES are empty; emotions come from texts only".into()
        } else {
            format!("{} survey answers", p.survey_answers)
        },
        Vec::new(),
    ));
    DoctorReport { customers: p.customers, events, checks }
}

#[cfg(test)]
mod tests {
    use wayfarer_core::Config;

    use super::*;
    use crate::testutil::*;

    #[test]
    fn other_names_are_reported_not_silently_lumped() {
        // snake_case names: nothing beyond the catch-all stage knows them.
        let (_d, s) = store(vec![
            ev("u1", 0.0, "product_view"),
            ev("u1", 1.0, "add_to_cart"),
            ev("u1", 2.0, "purchase"),
            ev("u2", 0.0, "product_view"),
        ]);
        let m = model(&s);
        let r = doctor(&s, &m).unwrap();
        let c = |id: &str| r.checks.iter().find(|c| c.check == id).unwrap_or_else(|| panic!("{id}: {r:?}")).clone();
        let cov = c("stage_coverage");
        assert_eq!(cov.level, Level::Problem);
        assert!(cov.message.starts_with("0 of 3 event names"), "{}", cov.message);
        assert_eq!(cov.items[0], "product_view (2)");
        let dead = c("rules_match_nothing");
        assert!(dead.items.iter().any(|i| i.starts_with("stage 'Purchase': 'Order Completed'")), "{dead:?}");
        let pe = c("purchase_event");
        assert_eq!(pe.level, Level::Problem);
        assert!(c("stages_reached").items.contains(&"Purchase".to_string()));
        assert_eq!(r.worst(), Level::Problem);
    }

    #[test]
    fn segment_names_fit_and_thin_data_is_named() {
        let (_d, s) = store(vec![
            ev("u1", 0.0, "Product Viewed"),
            ev("u1", 1.0, "Order Completed"),
            with(ev("u2", 0.0, "Order Completed"), |e| e.revenue = Some(10.0)),
        ]);
        let mut config = Config::default();
        config.personas.push(wayfarer_core::config::PersonaDef {
            name: "Big spenders".into(),
            description: String::new(),
            when: "revenue_total > 1000".into(),
        });
        let m = model_with(&s, &config);
        let r = doctor(&s, &m).unwrap();
        let c = |id: &str| r.checks.iter().find(|c| c.check == id).unwrap().clone();
        assert_eq!(c("stage_coverage").level, Level::Ok);
        assert!(c("revenue").message.starts_with("1 of 2 purchases carry revenue"), "{:?}", c("revenue"));
        assert_eq!(c("clv_data").level, Level::Warning);
        assert_eq!(c("personas").items, ["Big spenders"]);
        assert_eq!((r.customers, r.events), (2, 3));
    }

    #[test]
    fn a_misspelled_rule_is_a_warning_a_missing_event_is_not() {
        let (_d, s) = store(vec![ev("u1", 0.0, "Product Viewed"), ev("u1", 1.0, "Order Completed")]);
        let rules = |r: &Check| (r.level, r.items.first().cloned().unwrap_or_default());
        let (level, _) = rules(&doctor(&s, &model(&s)).unwrap().checks[1]);
        assert_eq!(level, Level::Ok, "the built-in rules for events this data lacks are harmless");
        let mut config = Config::default();
        config.stages[1].rules.push(wayfarer_core::config::RuleDef {
            event: "Product Viewd".into(),
            channel: None,
            when: None,
        });
        let r = doctor(&s, &model_with(&s, &config)).unwrap();
        let (level, first) = rules(&r.checks[1]);
        assert_eq!(r.checks[1].check, "rules_match_nothing");
        assert_eq!(level, Level::Warning);
        assert_eq!(first, "stage 'Consideration': 'Product Viewd'; did you mean 'Product Viewed'?");
    }

    #[test]
    fn a_capped_list_says_how_many_it_left_out() {
        let items: Vec<String> = (0..25).map(|i| format!("e{i}")).collect();
        let c = check("x", Level::Ok, String::new(), items);
        assert_eq!(c.items.len(), MAX_ITEMS + 1);
        assert_eq!(c.items[MAX_ITEMS], "… and 5 more (20 of 25 listed)");
        assert_eq!(check("x", Level::Ok, String::new(), vec!["a".into()]).items, ["a"]);
    }
}
