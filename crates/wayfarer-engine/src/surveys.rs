//! Surveys and emotions (DESIGN §4.8): NPS with its margin of error, CSAT
//! (share of 4–5 answers and mean), CES (mean) and text sentiment (VADER),
//! overall and by stage, touchpoint, persona, channel and period (the
//! trend), with the most distinctive positive and negative terms per stage.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wayfarer_models::sentiment::Vader;
use wayfarer_models::stats::Moments;
use wayfarer_store::{Col, NO_CHANNEL, Store};

use crate::fold::{self, Fold, Span};
use crate::journey::{NEGATIVE, POSITIVE};
use crate::model::Model;
use crate::period::Period;
use crate::ratio;
use crate::text::{TermCounts, distinctive};
use crate::timeline::{NO_STAGE, Timeline};
use crate::{EngineError, Scope};
use wayfarer_models::stats::nps;

/// Mergeable answers of one group.
#[derive(Debug, Clone, Default)]
pub struct Answers {
    pub nps: [u64; 3],
    pub csat: Moments,
    pub csat_satisfied: u64,
    pub ces: Moments,
    pub sentiment: Moments,
    pub respondents: u64,
}

impl Answers {
    fn merge(&mut self, o: &Answers) {
        for i in 0..3 {
            self.nps[i] += o.nps[i];
        }
        self.csat.merge(&o.csat);
        self.csat_satisfied += o.csat_satisfied;
        self.ces.merge(&o.ces);
        self.sentiment.merge(&o.sentiment);
        self.respondents += o.respondents;
    }

    fn is_empty(&self) -> bool {
        self.nps.iter().sum::<u64>() == 0 && self.csat.n == 0 && self.ces.n == 0 && self.sentiment.n == 0
    }
}

/// Dimensions answers are grouped by.
const STAGE: usize = 0;
const TOUCHPOINT: usize = 1;
const PERSONA: usize = 2;
const CHANNEL: usize = 3;
const PERIOD: usize = 4;

#[derive(Debug, Clone, Default)]
pub struct SurveysPartial {
    pub overall: Answers,
    /// (dimension, group) → answers.
    pub groups: BTreeMap<(usize, String), Answers>,
    /// Per stage: negative and positive texts' terms.
    pub terms: BTreeMap<usize, (TermCounts, TermCounts, TermCounts)>,
}

pub struct SurveysFold<'m> {
    model: &'m Model,
    scope: &'m Scope,
    period: Period,
    vader: Vader,
}

impl<'m> SurveysFold<'m> {
    pub fn new(model: &'m Model, scope: &'m Scope, period: Period) -> SurveysFold<'m> {
        SurveysFold { model, scope, period, vader: Vader::new() }
    }
}

impl Fold for SurveysFold<'_> {
    type Partial = SurveysPartial;
    type Scratch = ();
    type Report = SurveysReport;

    fn columns(&self) -> Vec<Col> {
        let mut c = self.model.timeline_columns();
        c.extend([Col::Score, Col::Survey, Col::Text]);
        c
    }

    fn init(&self) -> SurveysPartial {
        SurveysPartial::default()
    }

    fn fold(&self, p: &mut SurveysPartial, _: &mut (), span: Span<'_>) {
        let Some(t) = Timeline::build(self.model, self.scope, span) else { return };
        let m = self.model;
        let persona = t.persona.map_or_else(|| "Unassigned".to_string(), |i| m.personas[i].0.clone());
        let mut responded = false;
        for j in 0..t.idx.len() {
            let r = t.idx[j];
            let score = t.rows.f64_at(Col::Score, r);
            let survey = t.rows.str_at(Col::Survey, r);
            let text = t.rows.str_at(Col::Text, r).filter(|s| !s.trim().is_empty());
            if score.is_none() && text.is_none() {
                continue;
            }
            let mut a = Answers::default();
            if let (Some(s), Some(kind)) = (score, survey) {
                match kind {
                    "nps" => {
                        a.nps[wayfarer_models::stats::nps_group(s)] += 1;
                    }
                    "csat" => {
                        a.csat.add(s);
                        if s >= 4.0 {
                            a.csat_satisfied += 1;
                        }
                    }
                    "ces" => a.ces.add(s),
                    _ => {}
                }
            }
            let stage = t.stage[j];
            if let Some(text) = text {
                let c = self.vader.polarity_scores(text).compound;
                a.sentiment.add(c);
                if stage != NO_STAGE {
                    let e = p.terms.entry(stage as usize).or_default();
                    if c <= NEGATIVE {
                        e.0.add(text);
                    } else if c >= POSITIVE {
                        e.1.add(text);
                    } else {
                        e.2.add(text);
                    }
                }
            }
            if a.is_empty() {
                continue;
            }
            responded = true;
            p.overall.merge(&a);
            let channel = t.channel[j];
            let keys = [
                (
                    STAGE,
                    if stage == NO_STAGE {
                        "(before any stage)".to_string()
                    } else {
                        m.stage_names[stage as usize].clone()
                    },
                ),
                (TOUCHPOINT, m.touchpoint_name(t.touchpoint(m, j))),
                (PERSONA, persona.clone()),
                (
                    CHANNEL,
                    if channel == NO_CHANNEL { "(none)".to_string() } else { m.channel_name(channel).to_string() },
                ),
                (PERIOD, self.period.label(self.period.number(t.rows.ts[r]))),
            ];
            for k in keys {
                p.groups.entry(k).or_default().merge(&a);
            }
        }
        if responded {
            p.overall.respondents += 1;
        }
    }

    fn merge(&self, mut a: SurveysPartial, b: SurveysPartial) -> SurveysPartial {
        a.overall.merge(&b.overall);
        for (k, v) in b.groups {
            a.groups.entry(k).or_default().merge(&v);
        }
        for (k, (n, pos, neu)) in b.terms {
            let e = a.terms.entry(k).or_default();
            e.0.merge(n);
            e.1.merge(pos);
            e.2.merge(neu);
        }
        a
    }

    fn finish(&self, p: SurveysPartial) -> SurveysReport {
        let p = &p;
        let dim = |d: usize| -> Vec<Scores> {
            let mut v: Vec<(u64, Scores)> = p
                .groups
                .iter()
                .filter(|((k, _), _)| *k == d)
                .map(|((_, g), a)| (a.nps.iter().sum::<u64>() + a.csat.n + a.ces.n + a.sentiment.n, scores(g, a)))
                .collect();
            if d == STAGE {
                let order = |g: &str| self.model.stage_names.iter().position(|s| s == g).unwrap_or(usize::MAX);
                v.sort_by_key(|(_, s)| order(&s.group));
            } else if d != PERIOD {
                v.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.group.cmp(&b.1.group)));
            }
            v.into_iter().map(|(_, s)| s).collect()
        };
        let terms = p
            .terms
            .iter()
            .map(|(&k, (neg, pos, neu))| {
                let mut rest_of_neg = pos.clone();
                rest_of_neg.merge(neu.clone());
                let mut rest_of_pos = neg.clone();
                rest_of_pos.merge(neu.clone());
                StageTerms {
                    stage: self.model.stage_names[k].clone(),
                    positive: distinctive(pos, &rest_of_pos, 8).into_iter().map(|t| t.0).collect(),
                    negative: distinctive(neg, &rest_of_neg, 8).into_iter().map(|t| t.0).collect(),
                }
            })
            .collect();
        SurveysReport {
            respondents: p.overall.respondents,
            overall: scores("all", &p.overall),
            by_stage: dim(STAGE),
            by_touchpoint: dim(TOUCHPOINT),
            by_persona: dim(PERSONA),
            by_channel: dim(CHANNEL),
            period: self.period,
            by_period: dim(PERIOD),
            terms,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub group: String,
    pub nps: Option<NpsReport>,
    pub csat: Option<CsatReport>,
    pub ces: Option<CesReport>,
    pub sentiment: Option<SentimentScore>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentimentScore {
    pub mean: f64,
    pub n: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageTerms {
    pub stage: String,
    pub positive: Vec<String>,
    pub negative: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurveysReport {
    pub respondents: u64,
    pub overall: Scores,
    pub by_stage: Vec<Scores>,
    pub by_touchpoint: Vec<Scores>,
    pub by_persona: Vec<Scores>,
    pub by_channel: Vec<Scores>,
    pub period: Period,
    /// Per period, in time order: the trend.
    pub by_period: Vec<Scores>,
    pub terms: Vec<StageTerms>,
}

fn scores(group: &str, a: &Answers) -> Scores {
    Scores {
        group: group.to_string(),
        nps: NpsReport::from_counts(a.nps),
        csat: CsatReport::from_answers(&a.csat, a.csat_satisfied),
        ces: CesReport::from_answers(&a.ces),
        sentiment: a.sentiment.mean().map(|mean| SentimentScore { mean, n: a.sentiment.n }),
    }
}

impl SurveysFold<'_> {}

pub fn surveys(store: &Store, model: &Model, scope: &Scope, period: Period) -> Result<SurveysReport, EngineError> {
    let f = SurveysFold::new(model, scope, period);
    fold::report(store, &f)
}

// ---------------------------------------------------------------- survey scores

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NpsReport {
    pub score: f64,
    pub margin_of_error: f64,
    pub n: u64,
    pub promoters: u64,
    pub passives: u64,
    pub detractors: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CsatReport {
    pub satisfied_share: f64,
    pub mean: f64,
    pub n: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CesReport {
    pub mean: f64,
    pub n: u64,
}

impl NpsReport {
    /// NPS with its margin of error from (promoters, passives, detractors); None without answers.
    pub fn from_counts(c: [u64; 3]) -> Option<NpsReport> {
        nps(c[0], c[1], c[2]).map(|(score, margin_of_error)| NpsReport {
            score,
            margin_of_error,
            n: c.iter().sum(),
            promoters: c[0],
            passives: c[1],
            detractors: c[2],
        })
    }
}

impl CsatReport {
    /// CSAT from the scores' moments and how many answered 4 or 5; None without answers.
    pub fn from_answers(scores: &Moments, satisfied: u64) -> Option<CsatReport> {
        scores.mean().map(|mean| CsatReport {
            satisfied_share: ratio(satisfied, scores.n).unwrap_or(0.0),
            mean,
            n: scores.n,
        })
    }
}

impl CesReport {
    pub fn from_answers(scores: &Moments) -> Option<CesReport> {
        scores.mean().map(|mean| CesReport { mean, n: scores.n })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    fn answer(user: &str, minutes: f64, survey: &str, score: f64, text: Option<&str>) -> wayfarer_core::Event {
        with(ev(user, minutes, "Survey Responded"), |e| {
            e.survey = Some(survey.into());
            e.score = Some(score);
            e.text = text.map(str::to_string);
        })
    }

    #[test]
    fn nps_csat_ces_by_stage_with_terms() {
        let (_d, s) = store(vec![
            ev("a", 0.0, "Page Viewed"),
            answer("a", 1.0, "nps", 10.0, Some("Great shop, love it")),
            ev("b", 0.0, "Order Completed"),
            answer("b", 1.0, "nps", 3.0, Some("The delivery was late and terrible")),
            answer("b", 2.0, "csat", 4.0, None),
            answer("b", 3.0, "ces", 6.0, None),
            ev("c", 0.0, "Order Completed"),
            answer("c", 1.0, "nps", 8.0, Some("Terrible late delivery, awful")),
            answer("c", 2.0, "csat", 2.0, None),
        ]);
        let m = model(&s);
        let r = surveys(&s, &m, &Scope::default(), Period::Month).unwrap();
        let nps = r.overall.nps.clone().unwrap();
        assert_eq!((nps.promoters, nps.passives, nps.detractors), (1, 1, 1));
        assert!(nps.score.abs() < 1e-9);
        assert!(nps.margin_of_error > 0.0);
        let csat = r.overall.csat.clone().unwrap();
        assert_eq!((csat.n, csat.satisfied_share, csat.mean), (2, 0.5, 3.0));
        assert_eq!(r.overall.ces.clone().unwrap().mean, 6.0);
        assert_eq!(r.respondents, 3);
        let purchase = r.by_stage.iter().find(|g| g.group == "Purchase").unwrap();
        assert_eq!(purchase.nps.clone().unwrap().n, 2);
        let aware = r.by_stage.iter().find(|g| g.group == "Awareness").unwrap();
        assert_eq!(aware.nps.clone().unwrap().score, 100.0);
        let terms = r.terms.iter().find(|t| t.stage == "Purchase").unwrap();
        assert!(terms.negative.iter().any(|t| t == "late" || t == "delivery"), "{terms:?}");
        assert_eq!(r.by_period.len(), 1);
    }
}
