//! Stage-entry cohorts of two periods, for comparing maps over time
//! (DESIGN §11) without the bias of cutting timelines at a period's edges.
//!
//! A map of a period sees only the period's events: a returning customer
//! "enters" Awareness again, and a customer who entered a stage late in the
//! period has had less time to convert. Here stages come from each
//! customer's whole history, and every customer is followed for the same
//! horizon: for stage k and a period P, the cohort is the customers who
//! first entered k during P (early enough to be followed for the whole
//! horizon); it converted if it entered k+1 within the horizon after. Reach
//! is measured on the customers first seen in P: the share who entered k
//! within the horizon of their first event. A period at the start of the
//! data cannot hold customers first seen before the data, so both periods'
//! cohorts hold only customers first seen at most as long before their
//! period as the data allows for the earlier one (for a period starting
//! with the data: customers first seen in it). Two periods' cohorts are
//! disjoint (a stage is first entered once), so two-proportion and
//! Mann–Whitney tests apply. Emotion and NPS are those of the cohort's
//! answers and texts in the stage within the horizon after entering it.

use serde::Serialize;
use wayfarer_models::sentiment::Vader;
use wayfarer_models::stats::{Moments, TIME_BINS, nps_group, time_bin};
use wayfarer_store::{Col, Store};

use super::Personas;
use crate::fold::{Fold, Span};
use crate::model::Model;
use crate::timeline::Timeline;
use crate::{EngineError, Scope};

/// One period: [from, to), µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: i64,
    pub to: i64,
}

/// One stage's cohort in one period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StageCohort {
    /// New customers (first seen in the period) who entered the stage within the horizon.
    pub reached: u64,
    /// Customers who first entered the stage in the period (followable for the horizon).
    pub entered: u64,
    /// Of them, those who entered the next stage within the horizon.
    pub converted: u64,
    /// Their times to the next stage, per half-octave bin.
    pub time_bins: Vec<u64>,
    /// Each customer's mean of their survey answers (mapped to [−1, 1])
    /// and text sentiments in the stage, one value per customer.
    pub emotion: Moments,
    /// Their last NPS answers in the stage: promoters, passives, detractors.
    pub nps: [u64; 3],
    /// Of them, those with an answer or text in the stage, and those whose
    /// mean emotion there is below zero (unhappy).
    pub emotion_customers: u64,
    pub unhappy: u64,
    /// Per touchpoint met in the stage within the horizon: (customers who
    /// met it, of them those whose last touch it was before dropping out).
    pub touchpoints: std::collections::BTreeMap<String, (u64, u64)>,
}

/// A persona group's cohorts in one period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GroupCohorts {
    /// Customers first seen in the period (followable for the horizon).
    pub new_customers: u64,
    pub stages: Vec<StageCohort>,
}

/// Both periods' cohorts: `groups[0]` is all customers, `groups[1 + i]`
/// persona i (the last one: unassigned).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Cohorts {
    pub horizon_seconds: f64,
    pub names: Vec<String>,
    pub a: Vec<GroupCohorts>,
    pub b: Vec<GroupCohorts>,
    /// The last event of the data: cohorts end a horizon before it.
    pub data_end: i64,
}

struct CohortFold<'m> {
    model: &'m Model,
    vader: Vader,
    personas: &'m Personas,
    periods: [Period; 2],
    horizon: i64,
    /// How long before its period a cohort member may have been first
    /// seen: the same for both periods, as long as the data allows for the
    /// earlier one.
    lookback: i64,
    data_end: i64,
}

type Partial = [Vec<GroupCohorts>; 2];

impl CohortFold<'_> {
    fn empty(&self) -> Vec<GroupCohorts> {
        let k = self.model.stages();
        (0..self.personas.names.len() + 2)
            .map(|_| GroupCohorts {
                new_customers: 0,
                stages: (0..k).map(|_| StageCohort { time_bins: vec![0; TIME_BINS], ..Default::default() }).collect(),
            })
            .collect()
    }
}

impl Fold for CohortFold<'_> {
    type Partial = Partial;
    type Scratch = ();
    type Report = Partial;

    fn columns(&self) -> Vec<Col> {
        let mut c = self.model.timeline_columns();
        c.extend([Col::Score, Col::Survey, Col::Text]);
        c
    }

    fn init(&self) -> Partial {
        [self.empty(), self.empty()]
    }

    fn fold(&self, acc: &mut Partial, _: &mut (), span: Span<'_>) {
        let scope = Scope::default();
        let Some(mut t) = Timeline::build(self.model, &scope, span) else { return };
        let unassigned = 1 + self.personas.names.len();
        let group = 1 + self.personas.of(self.model, &scope, &t).unwrap_or(self.personas.names.len());
        // A hand-written persona counts from when the customer's traits
        // revealed it: each outcome is grouped by the persona as known at its
        // horizon's end, the same hindsight in both periods (otherwise the
        // later period's customers, with less time to reveal it, would be
        // labelled only when quick, and look better).
        let known_at = match self.personas.assignment {
            super::Assignment::HandWritten if group != unassigned => t.persona_known_at(self.model, span),
            _ => None,
        };
        let belongs = |g: usize, cutoff: i64| {
            let known = known_at.is_none_or(|k| k <= cutoff);
            g == 0 || (g == group && known) || (g == unassigned && !known)
        };
        let groups = if group == unassigned { vec![0, group] } else { vec![0, group, unassigned] };
        let t = &t;
        let first = t.first_ts();
        let followable = |at: i64| at + self.horizon <= self.data_end;
        for (side, p) in self.periods.iter().enumerate() {
            let inside = |at: i64| at >= p.from && at < p.to && followable(at);
            for &g in &groups {
                let gc = &mut acc[side][g];
                let new_here = inside(first) && belongs(g, first + self.horizon);
                if new_here {
                    gc.new_customers += 1;
                }
                for k in 0..t.entry.len() {
                    let Some(at) = t.entry[k] else { continue };
                    if new_here && at - first <= self.horizon {
                        gc.stages[k].reached += 1;
                    }
                    // The same look back for both periods: a customer first
                    // seen before it is in neither period's cohort.
                    if !inside(at) || first < p.from - self.lookback || !belongs(g, at + self.horizon) {
                        continue;
                    }
                    let st = &mut gc.stages[k];
                    st.entered += 1;
                    // Touchpoints met in the stage within the horizon, and the
                    // last one of those who did not move on in it.
                    let converted = matches!(t.entry.get(k + 1), Some(Some(n)) if *n - at <= self.horizon);
                    let mut met: Vec<String> = Vec::new();
                    let mut last = None;
                    for (j, &r) in t.idx.iter().enumerate() {
                        let ts = t.rows.ts[r];
                        if usize::from(t.stage[j]) != k || ts < at || ts - at > self.horizon {
                            continue;
                        }
                        if !wayfarer_core::Kind::code_is_interaction(t.rows.kind[r])
                            || Model::flag(&self.model.is_passive, t.rows.event[r])
                        {
                            continue;
                        }
                        let name = self.model.touchpoint_name(t.touchpoint(self.model, j));
                        if !met.contains(&name) {
                            met.push(name.clone());
                        }
                        last = Some(name);
                    }
                    for name in met {
                        st.touchpoints.entry(name).or_default().0 += 1;
                    }
                    if let (false, Some(name)) = (converted, last) {
                        st.touchpoints.entry(name).or_default().1 += 1;
                    }
                    // Answers and texts in the stage within the horizon. The
                    // customer is the unit: their mean emotion and their last
                    // NPS answer count once (a customer's answers are not
                    // independent, and the tests assume they are).
                    let mut own = Moments::default();
                    let mut last_nps = None;
                    for (j, &r) in t.idx.iter().enumerate() {
                        let ts = t.rows.ts[r];
                        if usize::from(t.stage[j]) != k || ts < at || ts - at > self.horizon {
                            continue;
                        }
                        if let (Some(score), Some(survey)) =
                            (t.rows.f64_at(Col::Score, r), t.rows.str_at(Col::Survey, r))
                        {
                            if let Some(e) = super::fold::survey_emotion(survey, score) {
                                own.add(e);
                            }
                            if survey == "nps" {
                                last_nps = Some(score);
                            }
                        }
                        if let Some(text) = t.rows.str_at(Col::Text, r).filter(|x| !x.trim().is_empty()) {
                            own.add(self.vader.polarity_scores(text).compound);
                        }
                    }
                    if let Some(mean) = own.mean() {
                        st.emotion.add(mean);
                        st.emotion_customers += 1;
                        st.unhappy += u64::from(mean < 0.0);
                    }
                    if let Some(score) = last_nps {
                        st.nps[nps_group(score)] += 1;
                    }
                    if let Some(Some(next)) = t.entry.get(k + 1)
                        && *next - at <= self.horizon
                    {
                        st.converted += 1;
                        st.time_bins[time_bin((*next - at) as f64 / 1e6)] += 1;
                    }
                }
            }
        }
    }

    fn merge(&self, mut a: Partial, b: Partial) -> Partial {
        for (x, y) in a.iter_mut().zip(b) {
            for (g, h) in x.iter_mut().zip(y) {
                g.new_customers += h.new_customers;
                for (s, t) in g.stages.iter_mut().zip(h.stages) {
                    s.reached += t.reached;
                    s.entered += t.entered;
                    s.converted += t.converted;
                    s.time_bins.iter_mut().zip(t.time_bins).for_each(|(p, q)| *p += q);
                    s.emotion.merge(&t.emotion);
                    s.emotion_customers += t.emotion_customers;
                    s.unhappy += t.unhappy;
                    for (k, (m, e)) in t.touchpoints {
                        let x = s.touchpoints.entry(k).or_default();
                        x.0 += m;
                        x.1 += e;
                    }
                    s.nps.iter_mut().zip(t.nps).for_each(|(p, q)| *p += q);
                }
            }
        }
        a
    }

    fn finish(&self, p: Partial) -> Partial {
        p
    }
}

/// The stage-entry cohorts of periods `a` and `b`, followed for `horizon`
/// µs each, split by `personas`.
pub fn cohorts(
    store: &Store,
    model: &Model,
    personas: &Personas,
    a: Period,
    b: Period,
    horizon: i64,
) -> Result<Cohorts, EngineError> {
    if horizon <= 0 {
        return Err(EngineError::InvalidQuery("the horizon must be positive".into()));
    }
    let data_end = model.data_end;
    let lookback = (a.from.min(b.from) - model.data_start).max(0);
    let f = CohortFold { model, vader: Vader::new(), personas, periods: [a, b], horizon, lookback, data_end };
    let [mut pa, mut pb] = crate::fold::report(store, &f)?;
    for side in [&mut pa, &mut pb] {
        for g in side.iter_mut() {
            for s in &mut g.stages {
                while s.time_bins.last() == Some(&0) {
                    s.time_bins.pop();
                }
            }
        }
    }
    let mut names: Vec<String> = personas.names.iter().map(|(n, _)| n.clone()).collect();
    names.push("Unassigned".into());
    Ok(Cohorts { horizon_seconds: horizon as f64 / 1e6, names, a: pa, b: pb, data_end })
}
