//! The journey map (DESIGN §2): for a scope, one column per stage with
//! customers reached, conversion and time to the next stage, drop-off,
//! touchpoints with conversion lift and exit rates, actions, channel mix and
//! favourite channel, emotion (VADER sentiment of texts and survey scores
//! mapped to [−1, 1]), friction, verbatims, and the pain points and
//! opportunities derived from them ([`crate::pain`]).
//!
//! One fold computes statistics per persona group (hand-written personas,
//! plus "Unassigned"); a persona's map is its group, and the other groups are
//! its baseline.
//!
//! ```text
//!  stats.rs   per-stage and per-group statistics and how they merge
//!  fold.rs    the fold: one timeline into its persona group's statistics
//!  report.rs  the map's report types
//!  finish.rs  merged statistics → the map of a scope or a persona
//!  pain.rs    pain points from the merged statistics, with their evidence
//!  opportunities.rs  what to do: from pain points and positive signals
//!  plans.rs     the team's efforts, owners and KPI targets: scores, met or missed
//!  snapshot.rs  a saved map (all customers and each persona) with its configuration hash
//!  cohorts.rs   stage-entry cohorts of two periods, followed for one horizon
//!  compare.rs   two maps (snapshots, periods, around an annotation) compared with tests
//! ```

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use wayfarer_core::glob::glob_match;
use wayfarer_core::time::format_rfc3339;
use wayfarer_models::sentiment::Vader;
use wayfarer_models::stats::{Moments, nps, quantile_sorted};
use wayfarer_store::{Col, NO_CHANNEL, Store};

use crate::fold::{Fold, Span};
use crate::model::Model;
use crate::text::TermCounts;
use crate::timeline::{NO_STAGE, Timeline};
use crate::window_funnel::{Mode, STEP0, Scanner};
use crate::{EngineError, Scope};

/// Texts with a VADER compound at or below this are negative, at or above
/// its opposite positive (VADER's recommended thresholds).
pub const NEGATIVE: f64 = -0.05;
pub const POSITIVE: f64 = 0.05;
const VERBATIM_POOL: usize = 40;

pub use crate::model::TpKey;

pub mod cohorts;
pub mod compare;
mod dips;
mod finish;
pub(crate) mod fold;
mod opportunities;
pub mod pain;
pub mod plans;
mod report;
pub mod snapshot;
mod stats;

pub use fold::{JourneyFold, survey_emotion};
pub use report::*;
pub use stats::*;

/// What a map is built with beyond the data: how customers are split into
/// personas, and each customer's predicted lifetime value (if fitted).
#[derive(Debug, Clone)]
pub struct MapInputs {
    pub personas: Personas,
    pub predicted_clv: Option<std::sync::Arc<HashMap<u32, f64>>>,
}

impl MapInputs {
    pub fn hand_written(model: &Model) -> MapInputs {
        MapInputs { personas: Personas::hand_written(model), predicted_clv: None }
    }

    /// The given personas, with CLV predicted by `wayfarer clv`'s defaults
    /// (BG/NBD and Gamma-Gamma over the scope; none if the fit fails).
    pub fn with_predicted_clv(
        store: &Store,
        model: &Model,
        scope: &Scope,
        personas: Personas,
    ) -> Result<MapInputs, EngineError> {
        let spec = crate::clv::ClvSpec { historic: false, ..crate::clv::ClvSpec::defaults(model) };
        let predicted = if model.purchase_code.is_some() {
            let r = crate::clv::clv(store, model, &scope.without_persona(), &spec)?;
            (!r.predicted_by_customer.is_empty()).then_some(r.predicted_by_customer)
        } else {
            None
        };
        Ok(MapInputs { personas, predicted_clv: predicted })
    }
}

/// How customers are split into personas for maps: the hand-written ones of
/// the configuration, or ones discovered by clustering.
#[derive(Debug, Clone)]
pub struct Personas {
    /// (name, description) of each persona; customers of none are "Unassigned".
    pub names: Vec<(String, String)>,
    pub assignment: Assignment,
    /// What the groups are called in pain points' evidence ("personas", "segments").
    pub noun: &'static str,
}

/// Which persona a customer is in.
#[derive(Debug, Clone)]
pub enum Assignment {
    /// Each timeline's hand-written persona.
    HandWritten,
    /// A table from customer to persona (others are in none).
    Table(std::sync::Arc<HashMap<u32, usize>>),
    /// The nearest of a fit's discovered personas, placed as each timeline
    /// is folded (no pass over the data beforehand).
    Nearest(std::sync::Arc<crate::personas::PersonaFit>),
}

impl Personas {
    /// No personas: every customer is "Unassigned".
    pub fn none() -> Personas {
        Personas { names: Vec::new(), assignment: Assignment::Table(Default::default()), noun: "personas" }
    }

    pub fn hand_written(model: &Model) -> Personas {
        Personas {
            names: model.personas.iter().map(|(n, d, _)| (n.clone(), d.clone())).collect(),
            assignment: Assignment::HandWritten,
            noun: "personas",
        }
    }

    /// The personas of a discovered fit.
    pub fn discovered(fit: crate::personas::PersonaFit) -> Personas {
        Personas {
            names: fit.personas.clone(),
            assignment: Assignment::Nearest(std::sync::Arc::new(fit)),
            noun: "personas",
        }
    }

    /// The customer → persona table, for personas given as one.
    pub fn table(&self) -> Option<&HashMap<u32, usize>> {
        match &self.assignment {
            Assignment::Table(t) => Some(t),
            _ => None,
        }
    }

    /// The persona of a timeline (of a scope without a persona), if any.
    pub fn of(&self, model: &Model, scope: &Scope, t: &Timeline<'_>) -> Option<usize> {
        match &self.assignment {
            Assignment::HandWritten => t.persona,
            Assignment::Table(a) => a.get(&t.customer).copied(),
            Assignment::Nearest(fit) => Some(fit.assign(&crate::personas::features(model, scope, t).features)),
        }
    }

    pub fn name(&self, i: usize) -> String {
        self.names.get(i).map_or_else(|| "Unassigned".to_string(), |(n, _)| n.clone())
    }

    /// The index of a persona (or group) named by the user, or an error
    /// listing the known ones and the closest.
    pub fn resolve(&self, name: Option<&str>) -> Result<Option<usize>, EngineError> {
        let Some(name) = name else { return Ok(None) };
        self.names.iter().position(|(n, _)| n.eq_ignore_ascii_case(name)).map(Some).ok_or_else(|| {
            let known: Vec<&str> = self.names.iter().map(|(n, _)| n.as_str()).collect();
            let one = self.noun.trim_end_matches('s');
            EngineError::InvalidQuery(if known.is_empty() && self.noun == "personas" {
                format!("no persona '{name}': the configuration defines no personas ([[personas]] in wayfarer.toml)")
            } else {
                format!(
                    "no {one} '{name}' (known {}: {}){}",
                    self.noun,
                    known.join(", "),
                    wayfarer_core::suggest::hint(name, &known)
                )
            })
        })
    }
}

/// Computes the journey map of a scope (personas: the hand-written ones).
pub fn journey_map(store: &Store, model: &Model, scope: &Scope) -> Result<JourneyMap, EngineError> {
    journey_map_with(store, model, scope, &MapInputs::hand_written(model))
}

/// Computes the journey map of a scope, with the given personas.
pub fn journey_map_with(
    store: &Store,
    model: &Model,
    scope: &Scope,
    inputs: &MapInputs,
) -> Result<JourneyMap, EngineError> {
    let folding = scope.without_persona();
    let mut f = JourneyFold::new(store, model, &folding, inputs, false)?;
    f.maps = vec![(scope.clone(), inputs.personas.resolve(scope.persona.as_deref())?)];
    let mut maps = crate::fold::report(store, &f)?;
    Ok(maps.remove(0))
}

/// The map of the scope followed by one map per hand-written persona, from
/// a single pass over the data (the fold keeps every persona's statistics).
pub fn journey_maps(store: &Store, model: &Model, scope: &Scope) -> Result<Vec<JourneyMap>, EngineError> {
    journey_maps_with(store, model, scope, &MapInputs::hand_written(model))
}

/// The map of the scope followed by one map per persona of `personas`.
pub fn journey_maps_with(
    store: &Store,
    model: &Model,
    scope: &Scope,
    inputs: &MapInputs,
) -> Result<Vec<JourneyMap>, EngineError> {
    crate::fold::report(store, &JourneyFold::new(store, model, scope, inputs, true)?)
}

/// The stage a purchase event enters (the first stage with a rule on it
/// without a condition), if any.
pub fn purchase_stage(model: &Model) -> Option<usize> {
    let pe = &model.config.journey.purchase_event;
    model
        .config
        .stages
        .iter()
        .position(|s| s.rules.iter().any(|r| glob_match(&r.event, pe) && r.event != "*" && r.when.is_none()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    #[test]
    fn an_order_is_never_the_touchpoint_customers_leave_at() {
        // 100 buy once and leave; 100 browse after buying and buy again; 10
        // browse after buying and leave. Before orders were excluded, the
        // Order touchpoint's exit rate (100 of 210) was five times the
        // page's (10 of 110): "Customers leave at Order in Purchase".
        let mut events = Vec::new();
        for i in 0..210 {
            let u = format!("u{i}");
            events.push(ev(&u, 0.0, "Product Viewed"));
            events.push(ev(&u, 1.0, "Order Completed"));
            if i >= 100 {
                events.push(ev(&u, 2.0, "Page Viewed"));
            }
            if (100..200).contains(&i) {
                events.push(ev(&u, 3.0, "Page Viewed"));
                events.push(ev(&u, 4.0, "Order Completed"));
            }
        }
        let (_d, s) = store(events);
        let m = model(&s);
        let map = journey_map(&s, &m, &Scope::default()).unwrap();
        let purchase = map.stages.iter().find(|st| st.name == "Purchase").unwrap();
        assert_eq!((purchase.customers, purchase.dropped), (210, 110), "{purchase:?}");
        let exits: Vec<&str> = map
            .pain_points
            .iter()
            .filter(|p| p.kind == pain::PainKind::ExitTouchpoint && p.touchpoint.as_deref() == Some("Order"))
            .map(|p| p.title.as_str())
            .collect();
        assert!(exits.is_empty(), "{exits:?}");
    }

    #[test]
    fn friction_is_judged_event_by_event() {
        // 60 meet "Stock Error" and 6 of them add to cart; 60 meet "Image
        // Error" and 30 do; 200 meet neither and 100 do.
        let mut events = Vec::new();
        for i in 0..320 {
            let u = format!("u{i}");
            events.push(ev(&u, 0.0, "Product Viewed"));
            let (error, goes_on) = match i {
                0..60 => (Some("Stock Error"), i < 6),
                60..120 => (Some("Image Error"), i < 90),
                _ => (None, i < 220),
            };
            if let Some(e) = error {
                events.push(ev(&u, 1.0, e));
            }
            if goes_on {
                events.push(ev(&u, 2.0, "Product Added"));
            }
        }
        let (_d, s) = store(events);
        let map = journey_map(&s, &model(&s), &Scope::default()).unwrap();
        let friction: Vec<(&str, &[String])> = map
            .pain_points
            .iter()
            .filter(|p| p.kind == pain::PainKind::Friction)
            .map(|p| (p.title.as_str(), p.terms.as_slice()))
            .collect();
        assert_eq!(friction.len(), 1, "{friction:?}");
        assert_eq!(friction[0].0, "Customers who meet Stock Error in Consideration move on less");
        let consideration = map.stages.iter().find(|st| st.name == "Consideration").unwrap();
        let f = &consideration.friction.top_events;
        let stock = f.iter().find(|e| e.event == "Stock Error").unwrap();
        assert_eq!((stock.customers, stock.events), (60, 60));
        assert!((stock.conversion_with.unwrap() - 0.1).abs() < 1e-9);
        assert!((stock.conversion_without.unwrap() - 130.0 / 260.0).abs() < 1e-9);
        let (lo, hi) = (stock.difference_low.unwrap(), stock.difference_high.unwrap());
        assert!(lo < -0.4 && hi < -0.3 && stock.p_value.unwrap() < 1e-6, "{stock:?}");
        let image = f.iter().find(|e| e.event == "Image Error").unwrap();
        assert!((image.conversion_with.unwrap() - 0.5).abs() < 1e-9 && image.p_value.unwrap() > 0.05, "{image:?}");
    }

    /// 14 weeks of 50 customers a week adding to cart, 60% of whom order
    /// within minutes; in `dip` weeks only 20% do.
    fn weekly_shop(dip: &[i64]) -> Vec<wayfarer_core::Event> {
        let mut events = Vec::new();
        for w in 0..14i64 {
            for i in 0..50i64 {
                let u = format!("w{w}c{i}");
                // Monday 2025-12-29 plus w weeks, Monday to Friday.
                let day = (-3 + 7 * w + i % 5) as f64 * 1440.0;
                events.push(ev(&u, day, "Product Viewed"));
                events.push(ev(&u, day + 1.0, "Product Added"));
                let rate = if dip.contains(&w) { 2 } else { 6 };
                if i % 10 < rate {
                    events.push(ev(&u, day + 10.0, "Order Completed"));
                }
            }
        }
        events
    }

    #[test]
    fn a_few_bad_weeks_are_a_dated_pain_point() {
        let (_d, s) = store(weekly_shop(&[6, 7, 8]));
        let map = journey_map(&s, &model(&s), &Scope::default()).unwrap();
        let dips: Vec<&pain::PainPoint> = map.pain_points.iter().filter(|p| p.kind == pain::PainKind::Dip).collect();
        assert_eq!(dips.len(), 1, "{dips:?}");
        let d = dips[0];
        assert_eq!(
            d.title,
            "Conversion from Decision to Purchase fell from 60.0% to 20.0% for 3 weeks from 2026-02-09"
        );
        assert_eq!((d.n, d.baseline_n), (150, 8 * 50 + 50), "weeks 6-8 against the other complete weeks");
        assert_eq!(d.terms, ["2026-02-09", "2026-03-01"]);
        assert!(d.p_value.unwrap() < 1e-6, "{d:?}");
        assert!(d.evidence.contains("Bonferroni"), "{}", d.evidence);

        // The same shop without the bad weeks has no dip.
        let (_d, s) = store(weekly_shop(&[]));
        let map = journey_map(&s, &model(&s), &Scope::default()).unwrap();
        assert!(map.pain_points.iter().all(|p| p.kind != pain::PainKind::Dip), "{:?}", map.pain_points);
    }

    /// Two hand-written personas, 60 customers each, moving from
    /// Consideration to Decision after `a_secs` and `b_secs`.
    fn two_speeds(a_secs: f64, b_secs: f64) -> JourneyMap {
        let mut events = Vec::new();
        for i in 0..120 {
            let u = format!("u{i}");
            let (kind, secs) = if i < 60 { ("a", a_secs) } else { ("b", b_secs) };
            events.push(with(ev(&u, 0.0, "Identify"), |e| e.properties = format!(r#"{{"kind":"{kind}"}}"#)));
            events.push(ev(&u, 1.0, "Product Viewed"));
            events.push(ev(&u, 1.0 + secs / 60.0, "Product Added"));
        }
        let (_d, s) = store(events);
        let mut config = wayfarer_core::Config::default();
        for kind in ["a", "b"] {
            config.personas.push(wayfarer_core::config::PersonaDef {
                name: format!("Kind {kind}"),
                description: String::new(),
                when: format!("traits.kind = '{kind}'"),
            });
        }
        let m = model_with(&s, &config);
        journey_maps(&s, &m, &Scope::default())
            .unwrap()
            .into_iter()
            .find(|x| x.scope.persona.as_deref() == Some("Kind a"))
            .unwrap()
    }

    #[test]
    fn slow_means_slower_by_minutes_not_seconds() {
        let slow = |m: &JourneyMap| m.pain_points.iter().filter(|p| p.kind == pain::PainKind::Slow).count();
        // Four times as slow and significant, but 30 seconds: not a pain point.
        assert_eq!(slow(&two_speeds(40.0, 10.0)), 0);
        // Two hours against ten seconds is.
        assert_eq!(slow(&two_speeds(7200.0, 10.0)), 1);
    }

    #[test]
    fn an_event_no_touchpoint_matches_is_one_touchpoint_on_every_channel() {
        let mut events = Vec::new();
        for (i, channel) in ["Email", "Paid Search", "Email"].iter().enumerate() {
            let u = format!("u{i}");
            events.push(with(ev(&u, 0.0, "Wishlist Opened"), |e| e.channel = Some(channel.to_string())));
        }
        let (_d, s) = store(events);
        let map = journey_map(&s, &model(&s), &Scope::default()).unwrap();
        let names: Vec<(&str, u64)> =
            map.stages[0].touchpoints.iter().map(|t| (t.name.as_str(), t.customers)).collect();
        assert_eq!(names, [("Wishlist Opened", 3)]);
    }

    #[test]
    fn evidence_counts_are_written_like_the_tables() {
        let cases = [(0, "0"), (999, "999"), (1_000, "1,000"), (14_548, "14,548"), (1_234_567, "1,234,567")];
        for (x, want) in cases {
            assert_eq!(pain::n(x), want);
        }
    }
}
