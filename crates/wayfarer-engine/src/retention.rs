//! Retention and churn (DESIGN §4.7): cohorts by the period of each
//! customer's first event (or first start event), with the customers active
//! (any event, or a return event) in each period offset; the lifecycle of
//! every period (new, returning, resurrecting, dormant); and the churn rate
//! of period p = customers active in p and not in p+1 / customers active in p.
//! Periods are UTC days, ISO weeks starting Monday, or months. Activity means
//! the customer's own interactions: passive events (deliveries, email opens;
//! `journey.passive_events`) count only when named as start or return event.

use serde::{Deserialize, Serialize};
use wayfarer_core::Kind;
use wayfarer_core::glob::glob_match;
use wayfarer_store::{Col, Store};

use crate::fold::{self, Fold, Span};
use crate::model::Model;
use crate::period::Period;
use crate::timeline::Timeline;
use crate::{EngineError, Scope};

#[derive(Debug, Clone)]
pub struct RetentionSpec {
    pub period: Period,
    /// Offsets 0..=periods are reported.
    pub periods: usize,
    pub start_event: Option<String>,
    pub return_event: Option<String>,
}

/// Mergeable state: cohorts and per-period lifecycle counts, in vectors
/// indexed by period number − `base` (the data's first period).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct RetentionPartial {
    base: i64,
    /// Cohort → (size, active per offset).
    cohorts: Vec<Option<(u64, Vec<u64>)>>,
    /// Period → [active, new, returning, resurrecting, dormant, churned].
    life: Vec<[u64; 6]>,
    first: Option<i64>,
    last: Option<i64>,
    /// Scratch buffers reused across customers (not part of the result).
    scratch_active: Vec<i64>,
    scratch_offsets: Vec<usize>,
}

impl RetentionPartial {
    fn life_at(&mut self, q: i64) -> &mut [u64; 6] {
        let i = (q - self.base).max(0) as usize;
        if i >= self.life.len() {
            self.life.resize(i + 1, [0; 6]);
        }
        &mut self.life[i]
    }
}

/// Per event code: counts as activity / starts a cohort / counts as a return.
const ACTIVITY: u8 = 1;
const START: u8 = 2;
const RETURN: u8 = 4;

const ACTIVE: usize = 0;
const NEW: usize = 1;
const RETURNING: usize = 2;
const RESURRECTING: usize = 3;
const DORMANT: usize = 4;
const CHURNED: usize = 5;

pub struct RetentionFold<'m> {
    model: &'m Model,
    scope: &'m Scope,
    spec: &'m RetentionSpec,
    flags: Vec<u8>,
    any_activity: bool,
    any_return: bool,
    base: i64,
    persona: Option<usize>,
}

impl Fold for RetentionFold<'_> {
    type Partial = RetentionPartial;
    type Scratch = ();
    type Report = RetentionReport;

    fn wire(&self) -> Option<crate::fold::Wire<Self::Partial>> {
        Some(crate::fold::Wire::serde())
    }

    fn columns(&self) -> Vec<Col> {
        if self.persona.is_some() {
            self.model.timeline_columns()
        } else {
            vec![Col::Timestamp, Col::EventCode, Col::KindCode]
        }
    }

    fn init(&self) -> RetentionPartial {
        RetentionPartial { base: self.base, ..RetentionPartial::default() }
    }

    fn fold(&self, p: &mut RetentionPartial, _: &mut (), span: Span<'_>) {
        if self.persona.is_some() {
            match Timeline::build(self.model, self.scope, span) {
                Some(t) if t.persona == self.persona => {}
                _ => return,
            }
        }
        let rows = span.rows;
        let per = self.spec.period;
        let mut cohort: Option<i64> = None;
        let mut offsets = std::mem::take(&mut p.scratch_offsets);
        let mut active = std::mem::take(&mut p.scratch_active);
        offsets.clear();
        active.clear();
        // Timelines are in time order: compute the period only when a row
        // crosses into the next one.
        let (mut n, mut next_start) = (i64::MIN, i64::MIN);
        let ts_all = &rows.ts[span.start..span.end];
        let mut i = 0usize;
        while i < ts_all.len() {
            let (ts, r) = (ts_all[i], span.start + i);
            i += 1;
            if !Kind::code_is_interaction(rows.kind[r]) || !self.scope.contains(ts) {
                continue;
            }
            let f = self.flags.get(rows.event[r] as usize).copied().unwrap_or(0);
            if f == 0 {
                continue;
            }
            if ts >= next_start {
                n = per.number(ts);
                next_start = per.start(n + 1);
            }
            if f & ACTIVITY != 0 && active.last() != Some(&n) {
                active.push(n);
            }
            if cohort.is_none() && f & START != 0 {
                cohort = Some(n);
            }
            let Some(c) = cohort else { continue };
            let off = (n - c) as usize;
            if f & RETURN != 0 && off <= self.spec.periods && offsets.last() != Some(&off) {
                offsets.push(off);
            }
            // Once this period has given all it can (activity and return
            // recorded), jump to the first row of the next period.
            let activity_done = !self.any_activity || active.last() == Some(&n);
            let return_done = !self.any_return || off > self.spec.periods || offsets.last() == Some(&off);
            if activity_done && return_done {
                // (Galloping: the next period usually starts a few rows on.)
                i += crate::fold::count_below(&ts_all[i..], next_start);
            }
        }
        if !active.is_empty() {
            if let Some(c) = cohort {
                let i = (c - p.base).max(0) as usize;
                if i >= p.cohorts.len() {
                    p.cohorts.resize(i + 1, None);
                }
                let e = p.cohorts[i].get_or_insert_with(|| (0, vec![0; self.spec.periods + 1]));
                e.0 += 1;
                for &o in &offsets {
                    e.1[o] += 1;
                }
            }
            // Lifecycle over activity periods (ascending, distinct).
            for (i, &q) in active.iter().enumerate() {
                let prev_adjacent = i > 0 && active[i - 1] == q - 1;
                let next_adjacent = active.get(i + 1) == Some(&(q + 1));
                let l = p.life_at(q);
                l[ACTIVE] += 1;
                if i == 0 {
                    l[NEW] += 1;
                } else if prev_adjacent {
                    l[RETURNING] += 1;
                } else {
                    l[RESURRECTING] += 1;
                }
                if !next_adjacent {
                    l[CHURNED] += 1;
                    p.life_at(q + 1)[DORMANT] += 1;
                }
            }
            p.first = Some(p.first.map_or(active[0], |f| f.min(active[0])));
            let last = active[active.len() - 1];
            p.last = Some(p.last.map_or(last, |l| l.max(last)));
        }
        p.scratch_offsets = offsets;
        p.scratch_active = active;
    }

    fn merge(&self, mut a: RetentionPartial, b: RetentionPartial) -> RetentionPartial {
        if a.cohorts.len() < b.cohorts.len() {
            a.cohorts.resize(b.cohorts.len(), None);
        }
        for (i, c) in b.cohorts.into_iter().enumerate() {
            let Some((s, v)) = c else { continue };
            let e = a.cohorts[i].get_or_insert_with(|| (0, vec![0; v.len()]));
            e.0 += s;
            for (x, y) in e.1.iter_mut().zip(v) {
                *x += y;
            }
        }
        if a.life.len() < b.life.len() {
            a.life.resize(b.life.len(), [0; 6]);
        }
        for (i, v) in b.life.into_iter().enumerate() {
            for (x, y) in a.life[i].iter_mut().zip(v) {
                *x += y;
            }
        }
        a.first = match (a.first, b.first) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        a.last = match (a.last, b.last) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        };
        a
    }

    /// The report of a merged partial.
    fn finish(&self, p: RetentionPartial) -> RetentionReport {
        let p = &p;
        let per = self.spec.period;
        let end = self.scope.to.map_or(self.model.data_end, |t| t.min(self.model.data_end + 1) - 1);
        let last_period = per.number(end);
        let cohorts = p
            .cohorts
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().map(|c| (p.base + i as i64, c)))
            .map(|(c, (size, active))| Cohort {
                cohort_start: per.label(c),
                size: *size,
                active: active.clone(),
                retention: active.iter().map(|a| if *size > 0 { *a as f64 / *size as f64 } else { 0.0 }).collect(),
                observed: ((last_period - c + 1).max(0) as usize).min(active.len()),
                segment: None,
            })
            .collect();
        let mut lifecycle = Vec::new();
        if let (Some(first), Some(last)) = (p.first, p.last) {
            for q in first..=last {
                let l = p.life.get((q - p.base).max(0) as usize).copied().unwrap_or([0; 6]);
                lifecycle.push(LifecyclePoint {
                    period_start: per.label(q),
                    active: l[ACTIVE],
                    new: l[NEW],
                    returning: l[RETURNING],
                    resurrecting: l[RESURRECTING],
                    dormant: l[DORMANT],
                    churned: l[CHURNED],
                    churn_rate: (q < last && l[ACTIVE] > 0).then(|| l[CHURNED] as f64 / l[ACTIVE] as f64),
                });
            }
        }
        RetentionReport { period: per, periods: self.spec.periods, cohorts, lifecycle }
    }
}

impl<'m> RetentionFold<'m> {
    pub fn new(model: &'m Model, scope: &'m Scope, spec: &'m RetentionSpec) -> Result<RetentionFold<'m>, EngineError> {
        let matches = |g: &Option<String>| -> Vec<bool> {
            model
                .event_names
                .iter()
                .enumerate()
                .map(|(code, n)| match g {
                    Some(g) => glob_match(g, n),
                    None => !Model::flag(&model.is_passive, code as u32),
                })
                .collect()
        };
        if spec.periods > 10_000 {
            return Err(EngineError::InvalidQuery("--periods must be at most 10000".into()));
        }
        let persona = model.resolve_persona(scope.persona.as_deref())?;
        if let Some(e) = &spec.start_event {
            model.events_matching(e, "--start-event")?;
        }
        if let Some(e) = &spec.return_event {
            model.events_matching(e, "--return-event")?;
        }
        let (start, ret) = (matches(&spec.start_event), matches(&spec.return_event));
        let any_activity = (0..model.event_names.len()).any(|c| !Model::flag(&model.is_passive, c as u32));
        let any_return = ret.iter().any(|&r| r);
        Ok(RetentionFold {
            any_activity,
            any_return,
            model,
            scope,
            spec,
            flags: (0..model.event_names.len())
                .map(|c| {
                    let active = !Model::flag(&model.is_passive, c as u32);
                    (if active { ACTIVITY } else { 0 })
                        | (if start[c] { START } else { 0 })
                        | (if ret[c] { RETURN } else { 0 })
                })
                .collect(),
            base: spec.period.number(model.data_start),
            persona,
        })
    }
}

impl RetentionFold<'_> {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetentionReport {
    pub period: Period,
    pub periods: usize,
    pub cohorts: Vec<Cohort>,
    pub lifecycle: Vec<LifecyclePoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cohort {
    pub cohort_start: String,
    pub size: u64,
    /// Customers active in offsets 0..=periods (offsets after the data ends count 0).
    pub active: Vec<u64>,
    pub retention: Vec<f64>,
    /// How many offsets have begun by the end of the data (the rest cannot be known yet).
    pub observed: usize,
    /// A segment condition for the cohort's customers ("save as segment";
    /// [`crate::membership::cohort`]), where one can say it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub segment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecyclePoint {
    pub period_start: String,
    pub active: u64,
    pub new: u64,
    pub returning: u64,
    pub resurrecting: u64,
    pub dormant: u64,
    /// Active in this period and not in the next.
    pub churned: u64,
    /// churned / active; none for the last period (its next is not over).
    pub churn_rate: Option<f64>,
}

pub fn retention(
    store: &Store,
    model: &Model,
    scope: &Scope,
    spec: &RetentionSpec,
) -> Result<RetentionReport, EngineError> {
    let f = RetentionFold::new(model, scope, spec)?;
    fold::report(store, &f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use wayfarer_core::time::parse_timestamp;

    fn at(user: &str, when: &str, name: &str) -> wayfarer_core::Event {
        let mut e = ev(user, 0.0, name);
        e.timestamp = parse_timestamp(when).unwrap();
        e.event_id = format!("{user}{when}{name}");
        e
    }

    fn spec(period: Period, periods: usize) -> RetentionSpec {
        RetentionSpec { period, periods, start_event: None, return_event: None }
    }

    #[test]
    fn weekly_cohorts_split_at_monday_midnight_and_cross_the_new_year() {
        let (_d, s) = store(vec![
            at("sun", "2026-01-04T23:59:59Z", "A"), // Sunday: the week of Mon 2025-12-29
            at("sun", "2026-01-05T00:00:00Z", "A"), // Monday: next week
            at("mon", "2026-01-05T00:00:00Z", "A"),
            at("mon", "2026-01-19T10:00:00Z", "A"), // two weeks later
        ]);
        let m = model(&s);
        let r = retention(&s, &m, &Scope::default(), &spec(Period::Week, 3)).unwrap();
        assert_eq!(r.cohorts.len(), 2);
        assert_eq!(r.cohorts[0].cohort_start, "2025-12-29");
        assert_eq!((r.cohorts[0].size, r.cohorts[0].active.clone()), (1, vec![1, 1, 0, 0]));
        assert_eq!(r.cohorts[1].cohort_start, "2026-01-05");
        assert_eq!(r.cohorts[1].active, vec![1, 0, 1, 0]);
        // Lifecycle: weeks 12-29, 01-05, 01-12, 01-19.
        let l: Vec<(u64, u64, u64, u64, u64)> =
            r.lifecycle.iter().map(|p| (p.active, p.new, p.returning, p.resurrecting, p.dormant)).collect();
        assert_eq!(l, vec![(1, 1, 0, 0, 0), (2, 1, 1, 0, 0), (0, 0, 0, 0, 2), (1, 0, 0, 1, 0)]);
        assert_eq!(r.lifecycle[1].churn_rate, Some(1.0));
        assert_eq!(r.lifecycle[0].churn_rate, Some(0.0));
        assert_eq!(r.lifecycle[3].churn_rate, None);
    }

    #[test]
    fn start_and_return_events() {
        let (_d, s) = store(vec![
            at("a", "2026-03-02T10:00:00Z", "Page Viewed"),
            at("a", "2026-03-03T10:00:00Z", "Order Completed"),
            at("a", "2026-03-05T10:00:00Z", "Order Completed"),
            at("b", "2026-03-03T10:00:00Z", "Page Viewed"),
        ]);
        let m = model(&s);
        let r = retention(
            &s,
            &m,
            &Scope::default(),
            &RetentionSpec {
                period: Period::Day,
                periods: 3,
                start_event: Some("Order Completed".into()),
                return_event: Some("Order Completed".into()),
            },
        )
        .unwrap();
        assert_eq!(r.cohorts.len(), 1, "b never started");
        assert_eq!(r.cohorts[0].cohort_start, "2026-03-03");
        assert_eq!(r.cohorts[0].active, vec![1, 0, 1, 0]);
    }
}
