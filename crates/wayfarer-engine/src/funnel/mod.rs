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

pub use crate::window_funnel::{
    EXCLUDED, INTERVENING, Layout, LayoutStep, MAX_STEPS, Mode, SKIPPED, STEP0, Scanner, StepScan, sort_entries,
};

pub mod context;
mod fold;
mod report;

pub use fold::{FunnelFold, FunnelPartial, GroupPartial, Scratch};
pub use report::*;

// ------------------------------------------------------------------ spec

/// One funnel step: an event (exact name or glob) with an optional
/// condition, or entering a stage; or an any-order group of those
/// (`{A, B}`: done when every member has happened since the previous
/// step). An optional step (`?A`) may be skipped.
#[derive(Debug, Clone)]
pub struct Step {
    pub label: String,
    pub event: Option<String>,
    pub filter: Option<Predicate>,
    pub stage: Option<usize>,
    /// The members of an any-order group (empty for a single event or stage).
    pub any_of: Vec<Step>,
    /// Whether the chain may go on without this step.
    pub optional: bool,
}

impl Step {
    /// Parses `Event Name`, `Event Name[condition]`, `stage:Stage Name`, an
    /// any-order group `{A, B[condition]}` of those, and any of them as an
    /// optional step with a leading `?`; an event name or glob that matches
    /// no event of the data is an error naming it and the closest name.
    pub fn parse(text: &str, model: &Model) -> Result<Step, EngineError> {
        let step = Step::parse_allowing_absent(text, model)?;
        for atom in step.atoms() {
            if let Some(event) = &atom.event {
                model.events_matching(event, &format!("step '{}'", step.label))?;
            }
        }
        Ok(step)
    }

    /// The single events (or stages) the step is made of: itself, or the
    /// members of its group.
    pub fn atoms(&self) -> Vec<&Step> {
        if self.any_of.is_empty() { vec![self] } else { self.any_of.iter().collect() }
    }

    /// [`Step::parse_allowing_absent`] for `?` and `{…}`.
    fn parse_compound(t: &str, model: &Model) -> Result<Option<Step>, EngineError> {
        if let Some(rest) = t.strip_prefix('?') {
            let mut s = Step::parse_allowing_absent(rest, model)?;
            if s.optional {
                return Err(EngineError::InvalidQuery(format!("step '{t}': one '?' makes a step optional")));
            }
            s.optional = true;
            s.label = t.to_string();
            return Ok(Some(s));
        }
        let Some(inner) = t.strip_prefix('{') else { return Ok(None) };
        let Some(inner) = inner.strip_suffix('}') else {
            return Err(EngineError::InvalidQuery(format!("step '{t}': an any-order group ends with '}}'")));
        };
        let members = split_members(inner);
        if members.iter().all(|m| m.trim().is_empty()) {
            return Err(EngineError::InvalidQuery(format!("step '{t}': the group has no members")));
        }
        let mut any_of = Vec::new();
        for (i, m) in members.iter().enumerate() {
            let m = m.trim();
            if m.is_empty() {
                return Err(EngineError::InvalidQuery(format!("step '{t}': member {} is empty", i + 1)));
            }
            if m.starts_with('?') || m.starts_with('{') {
                return Err(EngineError::InvalidQuery(format!(
                    "step '{t}': member '{m}': a group's members are events or stages, not optional steps or groups"
                )));
            }
            any_of.push(Step::parse_allowing_absent(m, model)?);
        }
        Ok(Some(Step { label: t.to_string(), event: None, filter: None, stage: None, any_of, optional: false }))
    }

    /// [`Step::parse`] without the check that the event occurs: for
    /// conformance with ClickHouse, whose `windowFunnel` takes a condition on
    /// an event absent from the data (the chain stops there).
    pub fn parse_allowing_absent(text: &str, model: &Model) -> Result<Step, EngineError> {
        let t = text.trim();
        if let Some(s) = Step::parse_compound(t, model)? {
            return Ok(s);
        }
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
                any_of: Vec::new(),
                optional: false,
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
        Ok(Step { label: t.to_string(), event: Some(event), filter, stage: None, any_of: Vec::new(), optional: false })
    }
}

/// Splits a group's text at the commas outside brackets, quotes and
/// parentheses (a member's condition may hold commas).
fn split_members(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut quote, mut start) = (Vec::new(), 0i32, None::<char>, 0);
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[' | '(') => depth += 1,
            (None, ']' | ')') => depth -= 1,
            (None, ',') if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
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
        if self.atoms().len() > MAX_STEPS {
            return Err(EngineError::InvalidQuery(format!(
                "a funnel's steps and group members add up to at most {MAX_STEPS} events"
            )));
        }
        let (first, last) = (&self.steps[0], &self.steps[self.steps.len() - 1]);
        if let Some(s) = [first, last].into_iter().find(|s| s.optional) {
            return Err(EngineError::InvalidQuery(format!(
                "step '{}': the first and last steps cannot be optional (the funnel starts and ends with them)",
                s.label
            )));
        }
        if self.layout().is_some() && self.mode != Mode::Default {
            return Err(EngineError::InvalidQuery(format!(
                "optional steps and any-order groups work with --mode default, not {}",
                serde_json::to_value(self.mode).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
            )));
        }
        Ok(())
    }

    /// Every single event or stage of the steps, in order: a group adds
    /// each of its members. Entry code `STEP0 + i` stands for atom `i`.
    pub fn atoms(&self) -> Vec<&Step> {
        self.steps.iter().flat_map(Step::atoms).collect()
    }

    /// The scanner's layout when a step is optional or a group; `None`
    /// for a plain chain of steps (ClickHouse's windowFunnel).
    pub fn layout(&self) -> Option<Layout> {
        if self.steps.iter().all(|s| !s.optional && s.any_of.is_empty()) {
            return None;
        }
        let mut next = 0u8;
        let steps = self
            .steps
            .iter()
            .map(|s| {
                let k = s.atoms().len() as u8;
                let atoms = (next..next + k).collect();
                next += k;
                LayoutStep { atoms, optional: s.optional }
            })
            .collect();
        Some(Layout { steps })
    }

    /// The scanner for this funnel.
    pub fn scanner(&self) -> Scanner {
        match self.layout() {
            Some(l) => Scanner::with_layout(l, self.window, self.step_windows.clone()),
            None => Scanner::new(self.steps.len(), self.window, self.mode, self.step_windows.clone()),
        }
    }

    /// For each step, the step before it that a chain must have reached
    /// (the nearest one that is not optional); `None` for the first.
    pub fn required_before(&self, k: usize) -> Option<usize> {
        (0..k).rev().find(|&i| !self.steps[i].optional)
    }

    /// Whether the per-customer facts of a timeline (sessions, channels,
    /// stages, persona) are needed, or rows suffice.
    fn needs_timeline(&self) -> bool {
        self.breakdown.is_some()
            || self.per == Unit::Sessions
            || self.atoms().iter().any(|s| s.stage.is_some() || s.filter.as_ref().is_some_and(facts::needs_timeline))
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
    fn optional_steps_and_any_order_groups_count_through_the_fold() {
        let (_d, s) = store(vec![
            ev("a", 0.0, "A"),
            ev("a", 1.0, "B"),
            ev("a", 2.0, "C"),
            ev("b", 0.0, "A"),
            ev("b", 1.0, "C"),
            ev("c", 0.0, "A"),
            ev("c", 1.0, "B"),
            ev("d", 0.0, "A"),
            ev("e", 0.0, "C"),
            ev("e", 1.0, "A"),
        ]);
        let m = model(&s);
        let day = 86_400_000_000;
        let parse = |t: &[&str]| t.iter().map(|x| Step::parse(x, &m).unwrap()).collect::<Vec<_>>();
        let optional = FunnelSpec::new(parse(&["A", "?B", "C"]), day, Mode::Default);
        let group = FunnelSpec::new(parse(&["A", "{C, B}"]), day, Mode::Default);
        for base in [optional, group] {
            // From postings and from timelines (a breakdown needs them).
            let mut with_breakdown = base.clone();
            with_breakdown.breakdown = Some(Breakdown::FirstChannel);
            for spec in [base.clone(), with_breakdown] {
                let r = funnel(&s, &m, &Scope::default(), &spec).unwrap();
                let counts: Vec<u64> = r.steps.iter().map(|s| s.customers).collect();
                if spec.steps.len() == 3 {
                    // a did B and C; b skipped B; c stopped at B; d and e stopped at A.
                    assert_eq!(counts, [5, 2, 2]);
                    assert_eq!(r.level_counts, [0, 2, 1, 2]);
                    assert!(r.steps[1].optional && !r.steps[2].optional);
                    assert_eq!(r.steps[2].conversion_from_previous, Some(0.4), "C counts from A, not from B");
                    assert_eq!(r.steps[1].conversion_from_previous, Some(0.4));
                    assert_eq!(r.time_to_convert.customers, 2);
                } else {
                    // Only a did both after A (b did C, c did B).
                    assert_eq!(counts, [5, 1]);
                    assert_eq!(r.steps[1].base_rate, Some(0.2), "B and C both, at any time: a");
                }
            }
        }
    }

    #[test]
    fn optional_steps_and_groups_are_checked() {
        let (_d, s) = store(vec![ev("a", 0.0, "A"), ev("a", 1.0, "B")]);
        let m = model(&s);
        let day = 86_400_000_000;
        let err = |t: &[&str], mode: Mode| {
            let steps: Result<Vec<Step>, _> = t.iter().map(|x| Step::parse(x, &m)).collect();
            match steps {
                Err(e) => e.to_string(),
                Ok(steps) => {
                    funnel(&s, &m, &Scope::default(), &FunnelSpec::new(steps, day, mode)).unwrap_err().to_string()
                }
            }
        };
        assert!(err(&["?A", "B"], Mode::Default).contains("first and last steps cannot be optional"));
        assert!(err(&["A", "?B"], Mode::Default).contains("'?B'"));
        assert!(err(&["A", "{B, Bx}"], Mode::Default).contains("'Bx'"), "a member that never occurs is named");
        assert!(err(&["A", "{B"], Mode::Default).contains("ends with '}'"));
        assert!(err(&["A", "{B, ?A}"], Mode::Default).contains("not optional steps or groups"));
        assert!(err(&["A", "{B, A}"], Mode::StrictOrder).contains("--mode default"));
        // A member's condition may hold commas.
        let g = Step::parse("{A[url != 'a, b'], B}", &m).unwrap();
        assert_eq!(g.any_of.len(), 2);
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
