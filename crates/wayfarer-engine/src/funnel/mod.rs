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
use crate::{EngineError, Scope, ratio};

pub use crate::window_funnel::{EXCLUDED, INTERVENING, MAX_STEPS, Mode, STEP0, Scanner, sort_entries};

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
