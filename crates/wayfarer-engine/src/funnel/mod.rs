//! Funnels (DESIGN §4.5): exactly ClickHouse's `windowFunnel` — see
//! docs/window-funnel.md for the specification this follows line by line —
//! plus what analysts expect beyond it: exclusion events, per-step time
//! limits, breakdowns, the time-to-convert distribution, conversion per
//! period and comparison with the previous period.
//!
//! ```text
//!  timeline ──> entries (ts, step) sorted by (ts, step index)
//!           ──> scan (ClickHouse's per-level greedy slots) ──> level + step times
//!  fold: level counts, step-time samples, histogram, trend, breakdown groups
//! ```
//!
//! `fold.rs` holds the fold, `report.rs` the report types and the finish.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use wayfarer_core::Kind;
use wayfarer_core::glob::glob_match;
use wayfarer_core::predicate::{Facts as _, Field, Predicate, Scope as PScope, Value};
use wayfarer_core::time::format_duration_seconds;
use wayfarer_models::stats::quantile;
use wayfarer_store::{Col, NO_CHANNEL, Rows, Store};

use crate::facts::{self, Facts};
use crate::fold::{Fold, PostingsPlan, Span};
use crate::model::Model;
use crate::period::Period;
use crate::timeline::Timeline;
use crate::{EngineError, Scope, Unit, ratio};

pub use crate::window_funnel::{EXCLUDED, INTERVENING, MAX_STEPS, Mode, STEP0, Scanner, sort_entries};

pub mod context;
mod fold;
mod report;

pub use fold::{FunnelFold, FunnelPartial, GroupPartial, Scratch};
pub use report::*;

// ------------------------------------------------------------------ spec

/// One funnel step: an event (exact name or glob) with an optional
/// condition, or entering a stage.
#[derive(Debug, Clone)]
pub struct Step {
    pub label: String,
    pub event: Option<String>,
    pub filter: Option<Predicate>,
    pub stage: Option<usize>,
}

impl Step {
    /// Parses `Event Name`, `Event Name[condition]` or `stage:Stage Name`;
    /// an event name or glob that matches no event of the data is an error
    /// naming it and the closest name.
    pub fn parse(text: &str, model: &Model) -> Result<Step, EngineError> {
        let step = Step::parse_allowing_absent(text, model)?;
        if let Some(event) = &step.event {
            model.events_matching(event, &format!("step '{}'", step.label))?;
        }
        Ok(step)
    }

    /// [`Step::parse`] without the check that the event occurs: for
    /// conformance with ClickHouse, whose `windowFunnel` takes a condition on
    /// an event absent from the data (the chain stops there).
    pub fn parse_allowing_absent(text: &str, model: &Model) -> Result<Step, EngineError> {
        let t = text.trim();
        if let Some(name) = t.strip_prefix("stage:") {
            let k = model.stage_names.iter().position(|s| s.eq_ignore_ascii_case(name.trim())).ok_or_else(|| {
                EngineError::InvalidQuery(format!(
                    "step '{t}': no stage '{}' (stages: {})",
                    name.trim(),
                    model.stage_names.join(", ")
                ))
            })?;
            return Ok(Step {
                label: format!("stage:{}", model.stage_names[k]),
                event: None,
                filter: None,
                stage: Some(k),
            });
        }
        let (event, filter) = match t.find('[') {
            Some(i) if t.ends_with(']') => {
                let cond = &t[i + 1..t.len() - 1];
                let p = Predicate::compile(cond, PScope::Step, &model.vocabulary())
                    .map_err(|e| EngineError::InvalidQuery(format!("step '{t}': condition '{cond}': {e}")))?;
                (t[..i].trim().to_string(), Some(p))
            }
            Some(_) => {
                return Err(EngineError::InvalidQuery(format!(
                    "step '{t}': a condition goes in [brackets] at the end"
                )));
            }
            None => (t.to_string(), None),
        };
        if event.is_empty() {
            return Err(EngineError::InvalidQuery(format!("step '{t}' has no event name")));
        }
        Ok(Step { label: t.to_string(), event: Some(event), filter, stage: None })
    }
}

/// How to split a funnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breakdown {
    /// Effective channel of the step-1 event.
    Channel,
    /// The customer's first channel.
    FirstChannel,
    Persona,
    /// A property of the step-1 event.
    Property(String),
}

impl Breakdown {
    pub fn parse(s: &str) -> Result<Breakdown, EngineError> {
        match s {
            "channel" => Ok(Breakdown::Channel),
            "first_channel" => Ok(Breakdown::FirstChannel),
            "persona" => Ok(Breakdown::Persona),
            _ => match s.strip_prefix("property:") {
                Some(p) if !p.is_empty() => Ok(Breakdown::Property(p.to_string())),
                _ => Err(EngineError::InvalidQuery(format!(
                    "breakdown '{s}': expected channel, first_channel, persona or property:NAME"
                ))),
            },
        }
    }
}

/// Everything that defines a funnel query.
#[derive(Debug, Clone)]
pub struct FunnelSpec {
    pub steps: Vec<Step>,
    /// In µs, measured from step 1, inclusive.
    pub window: i64,
    pub mode: Mode,
    pub exclude: Vec<String>,
    /// Per step (index 0 unused): the longest time since the previous step, µs.
    pub step_windows: Vec<Option<i64>>,
    pub breakdown: Option<Breakdown>,
    pub trend: Option<Period>,
    /// Customers (the default) or sessions: with sessions, each session is
    /// scanned on its own and counted once.
    pub per: Unit,
}

impl FunnelSpec {
    pub fn new(steps: Vec<Step>, window: i64, mode: Mode) -> FunnelSpec {
        let n = steps.len();
        FunnelSpec {
            steps,
            window,
            mode,
            exclude: Vec::new(),
            step_windows: vec![None; n],
            breakdown: None,
            trend: None,
            per: Unit::Customers,
        }
    }

    fn check(&self) -> Result<(), EngineError> {
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            return Err(EngineError::InvalidQuery(format!("a funnel needs 1 to {MAX_STEPS} steps")));
        }
        if self.window < 0 {
            return Err(EngineError::InvalidQuery("the window must not be negative".into()));
        }
        Ok(())
    }

    /// Whether the per-customer facts of a timeline (sessions, channels,
    /// stages, persona) are needed, or rows suffice.
    fn needs_timeline(&self) -> bool {
        self.breakdown.is_some()
            || self.per == Unit::Sessions
            || self.steps.iter().any(|s| s.stage.is_some() || s.filter.as_ref().is_some_and(facts::needs_timeline))
    }
}

/// Runs a funnel over the store.
pub fn funnel(store: &Store, model: &Model, scope: &Scope, spec: &FunnelSpec) -> Result<FunnelReport, EngineError> {
    let f = FunnelFold::new(model, scope, spec)?;
    let (p, _) = crate::fold::run(store, &f)?;
    Ok(report(spec, &p, scope))
}

/// Runs a funnel and the same funnel over the previous period of equal
/// length (which needs --from and --to).
pub fn funnel_with_previous(
    store: &Store,
    model: &Model,
    scope: &Scope,
    spec: &FunnelSpec,
) -> Result<FunnelReport, EngineError> {
    let (Some(from), Some(to)) = (scope.from, scope.to) else {
        return Err(EngineError::InvalidQuery("--compare-previous needs --from and --to".into()));
    };
    let mut current = funnel(store, model, scope, spec)?;
    let prev_scope = Scope { from: Some(from - (to - from)), to: Some(from), ..scope.clone() };
    current.previous = Some(Box::new(funnel(store, model, &prev_scope, spec)?));
    Ok(current)
}

/// Every customer's level (by canonical ident), for tests and exports.
pub fn funnel_levels(
    store: &Store,
    model: &Model,
    scope: &Scope,
    spec: &FunnelSpec,
) -> Result<Vec<(u32, u8)>, EngineError> {
    let mut f = FunnelFold::new(model, scope, spec)?;
    f.collect_levels = true;
    let (_, mut levels) = crate::fold::run(store, &f)?;
    levels.sort_unstable();
    Ok(levels)
}

/// A short human description of a step time.
pub fn describe_seconds(s: Option<f64>) -> String {
    s.map_or_else(|| "–".to_string(), format_duration_seconds)
}

#[cfg(test)]
mod per_session_tests {
    use super::*;
    use crate::paths::{PathSpec, paths};
    use crate::testutil::{ev, model, store};

    /// Random timelines of a few customers with gaps short and long, and
    /// the same events with each session made a customer of its own (by
    /// the 30-minute rule): counting per session must equal counting those.
    fn timelines(seed: u64) -> (Vec<wayfarer_core::Event>, Vec<wayfarer_core::Event>) {
        let mut x = seed.max(1);
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (mut whole, mut split) = (Vec::new(), Vec::new());
        for u in 0..12 {
            let (mut t, mut session) = (0.0, 0);
            for i in 0..(next() % 14) {
                let gap = match next() % 4 {
                    0 => 45.0 + (next() % 300) as f64,
                    _ => (next() % 20) as f64,
                };
                if i > 0 && gap > 30.0 {
                    session += 1;
                }
                t += gap;
                let name = ["A", "B", "C", "Page Viewed"][(next() % 4) as usize];
                whole.push(ev(&format!("u{u}"), t, name));
                split.push(ev(&format!("u{u}s{session}"), t, name));
            }
        }
        (whole, split)
    }

    #[test]
    fn per_session_counts_each_session_as_a_customer_would_be_counted() {
        for seed in 1..25 {
            let (whole, split) = timelines(seed);
            let (_a, s1) = store(whole);
            let (_b, s2) = store(split);
            let (m1, m2) = (model(&s1), model(&s2));
            let steps3 = |m: &Model| ["A", "B", "C"].map(|e| Step::parse(e, m).unwrap()).to_vec();
            for mode in [Mode::Default, Mode::StrictOrder] {
                let mut per_session = FunnelSpec::new(steps3(&m1), 7 * 86_400_000_000, mode);
                per_session.per = Unit::Sessions;
                let by_customer = FunnelSpec::new(steps3(&m2), 7 * 86_400_000_000, mode);
                let a = funnel(&s1, &m1, &Scope::default(), &per_session).unwrap();
                let b = funnel(&s2, &m2, &Scope::default(), &by_customer).unwrap();
                assert_eq!(a.level_counts, b.level_counts, "seed {seed} {mode:?}");
                assert_eq!(a.steps, b.steps, "seed {seed}");
                assert_eq!(a.unit, Unit::Sessions);
            }
            let spec = |per| PathSpec { per, length: 3, ..PathSpec::default() };
            let a = paths(&s1, &m1, &Scope::default(), &spec(Unit::Sessions)).unwrap();
            let b = paths(&s2, &m2, &Scope::default(), &spec(Unit::Customers)).unwrap();
            assert_eq!((a.customers, &a.transitions, &a.top_paths), (b.customers, &b.transitions, &b.top_paths));
        }
    }

    #[test]
    fn each_step_has_its_base_rate_and_lift() {
        // a: A then B; b: B then A (B without A first); c: A only; d: C only.
        let (_d, s) = store(vec![
            ev("a", 0.0, "A"),
            ev("a", 1.0, "B"),
            ev("b", 0.0, "B"),
            ev("b", 1.0, "A"),
            ev("c", 0.0, "A"),
            ev("d", 0.0, "C"),
        ]);
        let m = model(&s);
        let steps = vec![Step::parse("A", &m).unwrap(), Step::parse("B", &m).unwrap()];
        let spec = FunnelSpec::new(steps, 86_400_000_000, Mode::Default);
        // The plain query (answered from postings) and one with a breakdown (timelines) agree.
        let mut with_breakdown = spec.clone();
        with_breakdown.breakdown = Some(Breakdown::parse("first_channel").unwrap());
        for spec in [spec, with_breakdown] {
            let r = funnel(&s, &m, &Scope::default(), &spec).unwrap();
            let (a, b) = (&r.steps[0], &r.steps[1]);
            assert_eq!(r.customers, 4);
            // 3 of 4 did A, 2 of 4 did B (in any order).
            assert_eq!((a.base_rate, b.base_rate), (Some(0.75), Some(0.5)));
            // B after A: 1 of 3; lift (1/3) / (1/2).
            assert_eq!(b.conversion_from_previous, Some(1.0 / 3.0));
            assert!((b.lift.unwrap() - 2.0 / 3.0).abs() < 1e-12, "{:?}", b.lift);
            assert_eq!(a.lift, None);
        }
    }

    #[test]
    fn a_chain_across_sessions_converts_a_customer_but_no_session() {
        let (_d, s) = store(vec![ev("u", 0.0, "A"), ev("u", 120.0, "B")]);
        let m = model(&s);
        let steps = vec![Step::parse("A", &m).unwrap(), Step::parse("B", &m).unwrap()];
        let mut spec = FunnelSpec::new(steps, 86_400_000_000, Mode::Default);
        assert_eq!(funnel(&s, &m, &Scope::default(), &spec).unwrap().level_counts, [0, 0, 1]);
        spec.per = Unit::Sessions;
        let r = funnel(&s, &m, &Scope::default(), &spec).unwrap();
        assert_eq!((r.customers, r.level_counts.as_slice()), (2, &[1u64, 1, 0][..]));
    }
}
