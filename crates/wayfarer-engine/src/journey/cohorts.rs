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
//! within the horizon of their first event. Two periods' cohorts are
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
    /// Their survey answers (mapped to [−1, 1]) and text sentiments in the stage.
    pub emotion: Moments,
    /// Their NPS answers in the stage: promoters, passives, detractors.
    pub nps: [u64; 3],
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
        let Some(t) = Timeline::build(self.model, &scope, span) else { return };
        let group = 1 + self.personas.of(self.model, &scope, &t).unwrap_or(self.personas.names.len());
        let first = t.first_ts();
        let followable = |at: i64| at + self.horizon <= self.data_end;
        for (side, p) in self.periods.iter().enumerate() {
            let inside = |at: i64| at >= p.from && at < p.to && followable(at);
            for g in [0, group] {
                let gc = &mut acc[side][g];
                if inside(first) {
                    gc.new_customers += 1;
                }
                for k in 0..t.entry.len() {
                    let Some(at) = t.entry[k] else { continue };
                    if inside(first) && at - first <= self.horizon {
                        gc.stages[k].reached += 1;
                    }
                    if !inside(at) {
                        continue;
                    }
                    let st = &mut gc.stages[k];
                    st.entered += 1;
                    // Answers and texts in the stage within the horizon.
                    for (j, &r) in t.idx.iter().enumerate() {
                        let ts = t.rows.ts[r];
                        if usize::from(t.stage[j]) != k || ts < at || ts - at > self.horizon {
                            continue;
                        }
                        if let (Some(score), Some(survey)) =
                            (t.rows.f64_at(Col::Score, r), t.rows.str_at(Col::Survey, r))
                        {
                            if let Some(e) = super::fold::survey_emotion(survey, score) {
                                st.emotion.add(e);
                            }
                            if survey == "nps" {
                                st.nps[nps_group(score)] += 1;
                            }
                        }
                        if let Some(text) = t.rows.str_at(Col::Text, r).filter(|x| !x.trim().is_empty()) {
                            st.emotion.add(self.vader.polarity_scores(text).compound);
                        }
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
    let f = CohortFold { model, vader: Vader::new(), personas, periods: [a, b], horizon, data_end };
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
