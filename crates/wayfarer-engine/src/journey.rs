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

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use wayfarer_core::glob::glob_match;
use wayfarer_core::time::format_rfc3339;
use wayfarer_models::sentiment::Vader;
use wayfarer_models::stats::{Moments, nps, quantile_sorted};
use wayfarer_store::{Col, NO_CHANNEL, Store};

use crate::fold::{self, Fold, Span};
use crate::funnel::{Mode, STEP0, Scanner};
use crate::model::Model;
use crate::pain;
use crate::text::TermCounts;
use crate::timeline::{NO_STAGE, Timeline};
use crate::{EngineError, Scope};

/// Texts with a VADER compound at or below this are negative, at or above
/// its opposite positive (VADER's recommended thresholds).
pub const NEGATIVE: f64 = -0.05;
pub const POSITIVE: f64 = 0.05;
const VERBATIM_POOL: usize = 40;

pub use crate::timeline::TpKey;

#[derive(Debug, Clone, Copy, Default)]
pub struct TpStats {
    pub customers: u64,
    pub events: u64,
    /// Customers who touched it in the stage and reached the next stage.
    pub converted: u64,
    /// Customers for whom it was the last step in the stage before dropping out.
    pub exits: u64,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Count {
    pub customers: u64,
    pub events: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Candidate {
    pub score: f64,
    pub text: String,
    pub touchpoint: TpKey,
    pub customer: u32,
}

/// Statistics of one stage for one persona group (mergeable).
#[derive(Debug, Clone, Default)]
pub struct StageStats {
    pub reached: u64,
    pub converted: u64,
    pub current_active: u64,
    pub current_churned: u64,
    pub to_next: Vec<f64>,
    pub touchpoints: HashMap<TpKey, TpStats>,
    pub actions: HashMap<u32, Count>,
    pub channels: HashMap<u32, Count>,
    pub friction: u64,
    pub friction_converted: u64,
    pub friction_events: HashMap<u32, u64>,
    pub retries: u64,
    pub repeated_support: u64,
    pub emotion: Moments,
    pub sentiment: Moments,
    pub emotion_customers: u64,
    /// Customers whose mean emotion in the stage is below zero.
    pub unhappy: u64,
    pub nps: [u64; 3],
    pub csat: Moments,
    pub csat_satisfied: u64,
    pub ces: Moments,
    pub negative_texts: TermCounts,
    pub other_texts: TermCounts,
    pub negative: Vec<Candidate>,
    pub positive: Vec<Candidate>,
    pub revenue: f64,
    /// Historic revenue of customers who reached this stage / stopped here.
    pub revenue_reached: f64,
    pub stopped: u64,
    pub revenue_stopped: f64,
    /// Predicted CLV of the customers who stopped here (and how many had one).
    pub clv_stopped: f64,
    pub clv_stopped_n: u64,
}

impl StageStats {
    pub fn merge(&mut self, o: StageStats) {
        self.reached += o.reached;
        self.converted += o.converted;
        self.current_active += o.current_active;
        self.current_churned += o.current_churned;
        self.clv_stopped += o.clv_stopped;
        self.clv_stopped_n += o.clv_stopped_n;
        self.to_next.extend(o.to_next);
        for (k, v) in o.touchpoints {
            let e = self.touchpoints.entry(k).or_default();
            e.customers += v.customers;
            e.events += v.events;
            e.converted += v.converted;
            e.exits += v.exits;
        }
        for (map, other) in [(&mut self.actions, o.actions), (&mut self.channels, o.channels)] {
            for (k, v) in other {
                let e = map.entry(k).or_default();
                e.customers += v.customers;
                e.events += v.events;
            }
        }
        self.friction += o.friction;
        self.friction_converted += o.friction_converted;
        for (k, v) in o.friction_events {
            *self.friction_events.entry(k).or_insert(0) += v;
        }
        self.retries += o.retries;
        self.repeated_support += o.repeated_support;
        self.emotion.merge(&o.emotion);
        self.sentiment.merge(&o.sentiment);
        self.emotion_customers += o.emotion_customers;
        self.unhappy += o.unhappy;
        for i in 0..3 {
            self.nps[i] += o.nps[i];
        }
        self.csat.merge(&o.csat);
        self.csat_satisfied += o.csat_satisfied;
        self.ces.merge(&o.ces);
        self.negative_texts.merge(o.negative_texts);
        self.other_texts.merge(o.other_texts);
        self.negative.extend(o.negative);
        self.positive.extend(o.positive);
        prune(&mut self.negative, false);
        prune(&mut self.positive, true);
        self.revenue += o.revenue;
        self.revenue_reached += o.revenue_reached;
        self.stopped += o.stopped;
        self.revenue_stopped += o.revenue_stopped;
    }
}

/// Keeps the pool of verbatim candidates bounded (most extreme first).
fn prune(v: &mut Vec<Candidate>, positive: bool) {
    if v.len() > VERBATIM_POOL * 2 {
        sort_candidates(v, positive);
        v.truncate(VERBATIM_POOL);
    }
}

fn sort_candidates(v: &mut [Candidate], positive: bool) {
    v.sort_by(|a, b| {
        let o = if positive { b.score.total_cmp(&a.score) } else { a.score.total_cmp(&b.score) };
        o.then_with(|| a.customer.cmp(&b.customer)).then_with(|| a.text.cmp(&b.text))
    });
}

/// Statistics of one persona group.
#[derive(Debug, Clone, Default)]
pub struct GroupStats {
    pub customers: u64,
    pub events: u64,
    pub revenue: f64,
    pub stages: Vec<StageStats>,
    pub promoters: u64,
    pub promoters_advocates: u64,
    /// Per channel: customers who touched it, and of them who reached the
    /// purchase stage (the stage entered by the purchase event).
    pub channel_customers: HashMap<u32, (u64, u64)>,
    pub purchasers: u64,
    /// Sum and count of predicted CLVs.
    pub clv: f64,
    pub clv_n: u64,
}

impl GroupStats {
    fn new(stages: usize) -> GroupStats {
        GroupStats { stages: vec![StageStats::default(); stages], ..GroupStats::default() }
    }

    pub fn merge(&mut self, o: GroupStats) {
        self.customers += o.customers;
        self.events += o.events;
        self.revenue += o.revenue;
        for (a, b) in self.stages.iter_mut().zip(o.stages) {
            a.merge(b);
        }
        self.promoters += o.promoters;
        self.promoters_advocates += o.promoters_advocates;
        for (k, (c, p)) in o.channel_customers {
            let e = self.channel_customers.entry(k).or_insert((0, 0));
            e.0 += c;
            e.1 += p;
        }
        self.purchasers += o.purchasers;
        self.clv += o.clv;
        self.clv_n += o.clv_n;
    }
}

/// The mergeable partial of the journey fold: one group per persona, plus
/// "Unassigned" last.
#[derive(Debug, Clone)]
pub struct JourneyPartial {
    pub groups: Vec<GroupStats>,
}

pub struct JourneyFold<'m> {
    model: &'m Model,
    scope: &'m Scope,
    vader: Vader,
    purchase_stage: Option<usize>,
    personas: &'m Personas,
    predicted_clv: Option<&'m HashMap<u32, f64>>,
    identity: wayfarer_store::IdentityGraph,
    /// The maps `finish` draws from the one partial: each a scope (its
    /// persona named) and that persona's index.
    maps: Vec<(Scope, Option<usize>)>,
}

impl<'m> JourneyFold<'m> {
    /// The fold of the map of `scope` (a persona in it picks that persona's
    /// map) or, with `per_persona`, of the scope's map followed by one map
    /// per persona of `inputs`, all from one pass.
    pub fn new(
        store: &Store,
        model: &'m Model,
        scope: &'m Scope,
        inputs: &'m MapInputs,
        per_persona: bool,
    ) -> Result<JourneyFold<'m>, EngineError> {
        let personas = &inputs.personas;
        let maps = if per_persona {
            let mut m = vec![(scope.without_persona(), None)];
            for (i, (name, _)) in personas.names.iter().enumerate() {
                m.push((Scope { persona: Some(name.clone()), ..scope.clone() }, Some(i)));
            }
            m
        } else {
            vec![(scope.clone(), personas.resolve(scope.persona.as_deref())?)]
        };
        Ok(JourneyFold {
            model,
            scope,
            vader: Vader::new(),
            purchase_stage: purchase_stage(model),
            personas,
            predicted_clv: inputs.predicted_clv.as_deref(),
            identity: store.identity()?,
            maps,
        })
    }
}

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
        let spec = crate::clv::ClvSpec::defaults(model);
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
    /// Customer → persona, for discovered personas; None uses each
    /// timeline's hand-written persona.
    pub assignment: Option<std::sync::Arc<std::collections::HashMap<u32, usize>>>,
    /// What the groups are called in pain points' evidence ("personas", "segments").
    pub noun: &'static str,
}

impl Personas {
    /// No personas: every customer is "Unassigned".
    pub fn none() -> Personas {
        Personas {
            names: Vec::new(),
            assignment: Some(std::sync::Arc::new(std::collections::HashMap::new())),
            noun: "personas",
        }
    }

    pub fn hand_written(model: &Model) -> Personas {
        Personas {
            names: model.personas.iter().map(|(n, d, _)| (n.clone(), d.clone())).collect(),
            assignment: None,
            noun: "personas",
        }
    }

    /// The persona of a timeline, if any.
    pub fn of(&self, t: &Timeline<'_>) -> Option<usize> {
        match &self.assignment {
            Some(a) => a.get(&t.customer).copied(),
            None => t.persona,
        }
    }

    pub fn name(&self, i: usize) -> String {
        self.names.get(i).map_or_else(|| "Unassigned".to_string(), |(n, _)| n.clone())
    }

    /// The index of a persona named by the user, or an error listing the known ones.
    pub fn resolve(&self, name: Option<&str>) -> Result<Option<usize>, EngineError> {
        let Some(name) = name else { return Ok(None) };
        self.names.iter().position(|(n, _)| n.eq_ignore_ascii_case(name)).map(Some).ok_or_else(|| {
            let known: Vec<&str> = self.names.iter().map(|(n, _)| n.as_str()).collect();
            EngineError::InvalidQuery(if known.is_empty() {
                format!("no persona '{name}': the configuration defines no personas ([[personas]] in wayfarer.toml)")
            } else {
                format!("no persona '{name}'; known personas: {}", known.join(", "))
            })
        })
    }
}

/// Maps a survey answer to [−1, 1] by its scale.
pub fn survey_emotion(survey: &str, score: f64) -> Option<f64> {
    match survey {
        "nps" => Some((score - 5.0) / 5.0),
        "csat" => Some((score - 3.0) / 2.0),
        "ces" => Some((score - 4.0) / 3.0),
        _ => None,
    }
}

impl Fold for JourneyFold<'_> {
    type Partial = JourneyPartial;
    type Scratch = ();
    type Report = Vec<JourneyMap>;

    fn columns(&self) -> Vec<Col> {
        let mut c = self.model.timeline_columns();
        c.extend([Col::Revenue, Col::Score, Col::Survey, Col::Text]);
        c
    }

    fn init(&self) -> JourneyPartial {
        let groups = self.personas.names.len() + 1;
        JourneyPartial { groups: (0..groups).map(|_| GroupStats::new(self.model.stages())).collect() }
    }

    fn fold(&self, p: &mut JourneyPartial, _: &mut (), span: Span<'_>) {
        let Some(t) = Timeline::build(self.model, self.scope, span) else {
            return;
        };
        let m = self.model;
        let k_stages = m.stages();
        let g = &mut p.groups[self.personas.of(&t).unwrap_or(self.personas.names.len())];
        let rows = t.rows;
        let revenue = t.revenue();
        g.customers += 1;
        g.events += t.idx.len() as u64;
        g.revenue += revenue;
        let current = t.current_stage();
        let churned = t.churned(m, m.data_end);
        let clv = self.predicted_clv.and_then(|p| p.get(&t.customer).copied());
        if let Some(v) = clv {
            g.clv += v;
            g.clv_n += 1;
        }
        // Stage reach and time to next come from the funnel engine: a funnel over
        // stage entries with no window (the numbers `wayfarer funnel stage:…` gives).
        let entries: Vec<(i64, u8)> =
            t.entry.iter().enumerate().filter_map(|(k, e)| e.map(|ts| (ts, STEP0 + k as u8))).collect();
        let mut scanner = Scanner::new(k_stages, i64::MAX, Mode::Default, vec![None; k_stages]);
        let level = scanner.scan(&entries);
        let times = scanner.best.clone();
        let reached: Vec<bool> = (0..k_stages).map(|k| k < level).collect();
        for k in 0..k_stages {
            if !reached[k] {
                continue;
            }
            let st = &mut g.stages[k];
            st.reached += 1;
            st.revenue_reached += revenue;
            if k + 1 < k_stages && reached[k + 1] {
                st.converted += 1;
                st.to_next.push((times[k + 1] - times[k]) as f64 / 1e6);
            }
            if current == Some(k) {
                st.stopped += 1;
                st.revenue_stopped += revenue;
                if let Some(v) = clv {
                    st.clv_stopped += v;
                    st.clv_stopped_n += 1;
                }
                if churned {
                    st.current_churned += 1;
                } else {
                    st.current_active += 1;
                }
            }
        }
        // Per-event pass.
        let n = t.idx.len();
        let mut seen_tp: Vec<(u8, TpKey)> = Vec::with_capacity(n);
        let mut seen_action: Vec<(u8, u32)> = Vec::with_capacity(n);
        let mut seen_channel: Vec<(u8, u32)> = Vec::with_capacity(n);
        let mut friction = vec![false; k_stages];
        let mut support = vec![0u32; k_stages];
        let mut emotion_seen = vec![Moments::default(); k_stages];
        let mut last_touch: Vec<Option<TpKey>> = vec![None; k_stages];
        let mut max_nps: Option<f64> = None;
        for j in 0..n {
            let s = t.stage[j];
            if s == NO_STAGE {
                continue;
            }
            let su = s as usize;
            let r = t.idx[j];
            let event = rows.event[r];
            let tp = t.touchpoint(m, j);
            let st = &mut g.stages[su];
            st.touchpoints.entry(tp).or_default().events += 1;
            seen_tp.push((s, tp));
            st.actions.entry(event).or_default().events += 1;
            seen_action.push((s, event));
            let passive = Model::flag(&m.is_passive, event);
            if !passive && t.channel[j] != NO_CHANNEL {
                st.channels.entry(t.channel[j]).or_default().events += 1;
                seen_channel.push((s, t.channel[j]));
            }
            if !passive {
                last_touch[su] = Some(tp);
            }
            if Model::flag(&m.is_friction, event) {
                friction[su] = true;
                *st.friction_events.entry(event).or_insert(0) += 1;
            }
            if j > 0 && t.stage[j - 1] == s && rows.event[t.idx[j - 1]] == event && !Model::flag(&m.is_passive, event) {
                let gap = rows.ts[r] - rows.ts[t.idx[j - 1]];
                if gap <= m.retry_within && Model::flag(&m.is_friction, event) {
                    st.retries += 1;
                }
            }
            if Model::flag(&m.is_support, event) {
                support[su] += 1;
            }
            if t.nth_purchase[j] > 0 {
                st.revenue += rows.f64_at(Col::Revenue, r).unwrap_or(0.0);
            }
            if let (Some(score), Some(survey)) = (rows.f64_at(Col::Score, r), rows.str_at(Col::Survey, r)) {
                if let Some(e) = survey_emotion(survey, score) {
                    st.emotion.add(e);
                    emotion_seen[su].add(e);
                }
                match survey {
                    "nps" => {
                        let bucket = if score >= 9.0 {
                            0
                        } else if score >= 7.0 {
                            1
                        } else {
                            2
                        };
                        st.nps[bucket] += 1;
                        max_nps = Some(max_nps.map_or(score, |m: f64| m.max(score)));
                    }
                    "csat" => {
                        st.csat.add(score);
                        if score >= 4.0 {
                            st.csat_satisfied += 1;
                        }
                    }
                    "ces" => st.ces.add(score),
                    _ => {}
                }
            }
            if let Some(text) = rows.str_at(Col::Text, r)
                && !text.trim().is_empty()
            {
                let c = self.vader.polarity_scores(text).compound;
                st.sentiment.add(c);
                st.emotion.add(c);
                emotion_seen[su].add(c);
                let cand = Candidate { score: c, text: text.to_string(), touchpoint: tp, customer: t.customer };
                if c <= NEGATIVE {
                    st.negative_texts.add(text);
                    st.negative.push(cand);
                    prune(&mut st.negative, false);
                } else {
                    st.other_texts.add(text);
                    if c >= POSITIVE {
                        st.positive.push(cand);
                        prune(&mut st.positive, true);
                    }
                }
            }
        }
        // Exits: the last customer-initiated touchpoint of a stage the
        // customer went no further from.
        for k in 0..k_stages.saturating_sub(1) {
            if reached[k]
                && !reached[k + 1]
                && let Some(tp) = last_touch[k]
            {
                g.stages[k].touchpoints.entry(tp).or_default().exits += 1;
            }
        }
        let converted = |s: u8| (s as usize + 1) < k_stages && reached[s as usize + 1];
        seen_tp.sort_unstable();
        seen_tp.dedup();
        for (s, tp) in seen_tp {
            let e = g.stages[s as usize].touchpoints.entry(tp).or_default();
            e.customers += 1;
            if converted(s) {
                e.converted += 1;
            }
        }
        seen_action.sort_unstable();
        seen_action.dedup();
        for (s, a) in seen_action {
            g.stages[s as usize].actions.entry(a).or_default().customers += 1;
        }
        seen_channel.sort_unstable();
        seen_channel.dedup();
        let purchased = self.purchase_stage.is_some_and(|ps| reached[ps]);
        let mut channels_touched: Vec<u32> = Vec::new();
        for (s, c) in seen_channel {
            g.stages[s as usize].channels.entry(c).or_default().customers += 1;
            channels_touched.push(c);
        }
        channels_touched.sort_unstable();
        channels_touched.dedup();
        for c in channels_touched {
            let e = g.channel_customers.entry(c).or_insert((0, 0));
            e.0 += 1;
            if purchased {
                e.1 += 1;
            }
        }
        if purchased {
            g.purchasers += 1;
        }
        for k in 0..k_stages {
            let st = &mut g.stages[k];
            if support[k] >= 2 {
                st.repeated_support += 1;
                friction[k] = true;
            }
            if friction[k] {
                st.friction += 1;
                if converted(k as u8) {
                    st.friction_converted += 1;
                }
            }
            if let Some(mean) = emotion_seen[k].mean() {
                st.emotion_customers += 1;
                if mean < 0.0 {
                    st.unhappy += 1;
                }
            }
        }
        if max_nps.is_some_and(|s| s >= 9.0) {
            g.promoters += 1;
            if reached.last().copied().unwrap_or(false) {
                g.promoters_advocates += 1;
            }
        }
    }

    fn merge(&self, mut a: JourneyPartial, b: JourneyPartial) -> JourneyPartial {
        for (x, y) in a.groups.iter_mut().zip(b.groups) {
            x.merge(y);
        }
        a
    }

    /// Each map asked for, from the one merged partial.
    fn finish(&self, p: JourneyPartial) -> Vec<JourneyMap> {
        let (model, personas) = (self.model, self.personas);
        self.maps.iter().map(|(scope, persona)| finish(model, scope, *persona, &p, &self.identity, personas)).collect()
    }
}

// ---------------------------------------------------------------- report

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JourneyMap {
    pub scope: ScopeInfo,
    pub stages: Vec<StageReport>,
    pub emotion_curve: Vec<EmotionPoint>,
    pub pain_points: Vec<pain::PainPoint>,
    pub opportunities: Vec<pain::Opportunity>,
    pub personas: Vec<PersonaSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScopeInfo {
    pub persona: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub customers: u64,
    pub events: u64,
    pub revenue: f64,
    pub data_start: String,
    pub data_end: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageReport {
    pub index: usize,
    pub name: String,
    pub description: String,
    pub customers: u64,
    pub share: f64,
    pub conversion_to_next: Option<f64>,
    pub drop_off: Option<f64>,
    pub dropped: u64,
    pub median_time_to_next_seconds: Option<f64>,
    pub p90_time_to_next_seconds: Option<f64>,
    /// Customers whose current stage this is: still active / churned.
    pub current_active: u64,
    pub current_churned: u64,
    pub revenue: f64,
    /// What the customers whose current stage this is are worth.
    pub value: StageValue,
    pub touchpoints: Vec<TouchpointReport>,
    pub actions: Vec<ActionReport>,
    pub channels: Vec<ChannelReport>,
    pub favourite_channel: Option<String>,
    pub emotion: EmotionReport,
    pub friction: FrictionReport,
    pub pain_points: Vec<pain::PainPoint>,
    pub opportunities: Vec<pain::Opportunity>,
    pub verbatims: Vec<Verbatim>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageValue {
    /// Customers whose current stage this is.
    pub customers: u64,
    /// Their mean historic revenue.
    pub mean_revenue: Option<f64>,
    /// Their mean predicted CLV (BG/NBD and Gamma-Gamma; purchasers only).
    pub mean_predicted_clv: Option<f64>,
    pub predicted_customers: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TouchpointReport {
    pub name: String,
    /// Defined in the configuration (as opposed to `event @ channel`).
    pub configured: bool,
    pub customers: u64,
    pub events: u64,
    /// Share of the stage's customers who touched it.
    pub reach: f64,
    pub conversion_with: Option<f64>,
    pub conversion_without: Option<f64>,
    /// conversion_with / conversion_without.
    pub lift: Option<f64>,
    pub exits: u64,
    pub exit_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionReport {
    pub event: String,
    pub customers: u64,
    pub events: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelReport {
    pub channel: String,
    pub customers: u64,
    pub events: u64,
    /// Share of the stage's customers who used it.
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmotionReport {
    /// Mean of text sentiments and survey scores mapped to [−1, 1].
    pub score: Option<f64>,
    pub n: u64,
    pub customers: u64,
    pub sentiment: Option<f64>,
    pub texts: u64,
    pub nps: Option<NpsReport>,
    pub csat: Option<CsatReport>,
    pub ces: Option<CesReport>,
    pub negative_terms: Vec<Term>,
}

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Term {
    pub term: String,
    /// Share of the stage's negative texts that contain it.
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrictionReport {
    pub customers: u64,
    pub share: f64,
    pub conversion_with: Option<f64>,
    pub conversion_without: Option<f64>,
    pub retries: u64,
    pub repeated_support: u64,
    pub top_events: Vec<ActionReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verbatim {
    pub text: String,
    pub sentiment: f64,
    pub tone: String,
    pub touchpoint: String,
    pub customer: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmotionPoint {
    pub stage: String,
    pub score: Option<f64>,
    pub n: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonaSummary {
    pub name: String,
    pub description: String,
    pub customers: u64,
    pub share: f64,
    pub favourite_channel: Option<String>,
    pub reached: Vec<u64>,
    pub revenue: f64,
    pub mean_revenue: f64,
    /// Mean predicted CLV of the persona's purchasers.
    pub mean_predicted_clv: Option<f64>,
    /// NPS over the persona's answers, in every stage.
    pub nps: Option<f64>,
    pub nps_responses: u64,
}

pub(crate) fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
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
    let mut maps = fold::report(store, &f)?;
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
    fold::report(store, &JourneyFold::new(store, model, scope, inputs, true)?)
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

fn finish(
    model: &Model,
    scope: &Scope,
    persona: Option<usize>,
    partial: &JourneyPartial,
    identity: &wayfarer_store::IdentityGraph,
    personas: &Personas,
) -> JourneyMap {
    let groups = &partial.groups;
    let k_stages = model.stages();
    let mut scope_stats = GroupStats::new(k_stages);
    let mut rest_stats = GroupStats::new(k_stages);
    for (i, g) in groups.iter().enumerate() {
        if persona.is_none_or(|p| p == i) {
            scope_stats.merge(g.clone());
        } else {
            rest_stats.merge(g.clone());
        }
    }
    let group_name = |i: usize| -> String { personas.name(i) };
    let tp_name = |k: TpKey| -> String { model.touchpoint_name(k) };
    let top = model.config.map.top;
    let mut stages: Vec<StageReport> = Vec::with_capacity(k_stages);
    for (k, st) in scope_stats.stages.iter().enumerate() {
        let last = k + 1 == k_stages;
        let conversion = if last { None } else { ratio(st.converted, st.reached) };
        let mut times = st.to_next.clone();
        times.sort_by(f64::total_cmp);
        let mut tps: Vec<TouchpointReport> = st
            .touchpoints
            .iter()
            .map(|(key, v)| {
                let with = if last { None } else { ratio(v.converted, v.customers) };
                let without = if last {
                    None
                } else {
                    ratio(st.converted.saturating_sub(v.converted), st.reached.saturating_sub(v.customers))
                };
                TouchpointReport {
                    name: tp_name(*key),
                    configured: matches!(key, TpKey::Defined(_)),
                    customers: v.customers,
                    events: v.events,
                    reach: ratio(v.customers, st.reached).unwrap_or(0.0),
                    conversion_with: with,
                    conversion_without: without,
                    lift: match (with, without) {
                        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                        _ => None,
                    },
                    exits: v.exits,
                    exit_rate: ratio(v.exits, v.customers).unwrap_or(0.0),
                }
            })
            .collect();
        tps.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.name.cmp(&b.name)));
        tps.truncate(top.max(1) * 3);
        let mut actions: Vec<ActionReport> = st
            .actions
            .iter()
            .map(|(e, c)| ActionReport {
                event: model.event_name(*e).to_string(),
                customers: c.customers,
                events: c.events,
            })
            .collect();
        actions.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.event.cmp(&b.event)));
        actions.truncate(top);
        let mut channels: Vec<ChannelReport> = st
            .channels
            .iter()
            .map(|(c, v)| ChannelReport {
                channel: model.channel_name(*c).to_string(),
                customers: v.customers,
                events: v.events,
                share: ratio(v.customers, st.reached).unwrap_or(0.0),
            })
            .collect();
        channels.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.channel.cmp(&b.channel)));
        let favourite_channel = channels.first().map(|c| c.channel.clone());
        let mut friction_events: Vec<ActionReport> = st
            .friction_events
            .iter()
            .map(|(e, n)| ActionReport { event: model.event_name(*e).to_string(), customers: 0, events: *n })
            .collect();
        friction_events.sort_by(|a, b| b.events.cmp(&a.events).then_with(|| a.event.cmp(&b.event)));
        friction_events.truncate(top);
        let mut rest_texts = st.other_texts.clone();
        for (j, o) in scope_stats.stages.iter().enumerate() {
            if j != k {
                rest_texts.merge(o.negative_texts.clone());
                rest_texts.merge(o.other_texts.clone());
            }
        }
        let negative_terms: Vec<Term> = crate::text::distinctive(&st.negative_texts, &rest_texts, 5)
            .into_iter()
            .map(|(term, share)| Term { term, share })
            .collect();
        let nps_report = NpsReport::from_counts(st.nps);
        let top_terms: Vec<String> = negative_terms.iter().map(|t: &Term| t.term.clone()).collect();
        let verbatims = pick_verbatims(st, model.config.map.verbatims, &top_terms, &tp_name, identity);
        stages.push(StageReport {
            index: k,
            name: model.stage_names[k].clone(),
            description: model.config.stages[k].description.clone(),
            customers: st.reached,
            share: ratio(st.reached, scope_stats.customers).unwrap_or(0.0),
            conversion_to_next: conversion,
            drop_off: conversion.map(|c| 1.0 - c),
            dropped: if last { 0 } else { st.reached - st.converted },
            median_time_to_next_seconds: quantile_sorted(&times, 0.5),
            p90_time_to_next_seconds: quantile_sorted(&times, 0.9),
            current_active: st.current_active,
            current_churned: st.current_churned,
            revenue: st.revenue,
            value: StageValue {
                customers: st.stopped,
                mean_revenue: (st.stopped > 0).then(|| st.revenue_stopped / st.stopped as f64),
                mean_predicted_clv: (st.clv_stopped_n > 0).then(|| st.clv_stopped / st.clv_stopped_n as f64),
                predicted_customers: st.clv_stopped_n,
            },
            touchpoints: tps,
            actions,
            channels,
            favourite_channel,
            emotion: EmotionReport {
                score: st.emotion.mean(),
                n: st.emotion.n,
                customers: st.emotion_customers,
                sentiment: st.sentiment.mean(),
                texts: st.sentiment.n,
                nps: nps_report,
                csat: CsatReport::from_answers(&st.csat, st.csat_satisfied),
                ces: CesReport::from_answers(&st.ces),
                negative_terms,
            },
            friction: FrictionReport {
                customers: st.friction,
                share: ratio(st.friction, st.reached).unwrap_or(0.0),
                conversion_with: if last { None } else { ratio(st.friction_converted, st.friction) },
                conversion_without: if last {
                    None
                } else {
                    ratio(st.converted.saturating_sub(st.friction_converted), st.reached.saturating_sub(st.friction))
                },
                retries: st.retries,
                repeated_support: st.repeated_support,
                top_events: friction_events,
            },
            pain_points: Vec::new(),
            opportunities: Vec::new(),
            verbatims,
        });
    }
    let emotion_curve =
        stages.iter().map(|s| EmotionPoint { stage: s.name.clone(), score: s.emotion.score, n: s.emotion.n }).collect();

    // Pain points and opportunities.
    let ctx = pain::Context { model, tp_name: &tp_name, personas };
    let mut pains = pain::within_scope(&ctx, &scope_stats, persona.map(group_name).as_deref());
    // Each persona against the other personas ("Unassigned" customers are
    // mostly anonymous visitors and make no fair baseline).
    let named = personas.names.len();
    let comparisons: Vec<usize> = match persona {
        Some(p) => vec![p],
        None => (0..named).collect(),
    };
    for gi in comparisons {
        let mut rest = GroupStats::new(k_stages);
        for (j, g) in groups.iter().enumerate().take(named) {
            if j != gi {
                rest.merge(g.clone());
            }
        }
        pains.extend(pain::versus_rest(&ctx, &groups[gi], &rest, &group_name(gi)));
    }
    let pains = pain::rank(pains);
    let opportunities = pain::opportunities(&ctx, &scope_stats, groups, persona, &pains, &stages);
    for s in &mut stages {
        s.pain_points = pains.iter().filter(|p| p.stage_index == s.index).cloned().collect();
        s.opportunities = opportunities.iter().filter(|o| o.stage_index == Some(s.index)).cloned().collect();
    }
    let personas = groups
        .iter()
        .enumerate()
        .filter(|(i, g)| !personas.names.is_empty() && (*i < personas.names.len() || g.customers > 0))
        .map(|(i, g)| {
            let fav = g.channel_customers.iter().max_by(|a, b| a.1.0.cmp(&b.1.0).then_with(|| b.0.cmp(a.0)));
            let total: u64 = groups.iter().map(|g| g.customers).sum();
            let mut buckets = [0u64; 3];
            for st in &g.stages {
                for (b, n) in buckets.iter_mut().zip(st.nps) {
                    *b += n;
                }
            }
            let answers: u64 = buckets.iter().sum();
            let nps_score = nps(buckets[0], buckets[1], buckets[2]);
            PersonaSummary {
                name: group_name(i),
                description: personas.names.get(i).map_or(String::new(), |(_, d)| d.clone()),
                customers: g.customers,
                share: ratio(g.customers, total).unwrap_or(0.0),
                favourite_channel: fav.map(|(c, _)| model.channel_name(*c).to_string()),
                reached: g.stages.iter().map(|s| s.reached).collect(),
                revenue: g.revenue,
                mean_revenue: if g.customers > 0 { g.revenue / g.customers as f64 } else { 0.0 },
                mean_predicted_clv: (g.clv_n > 0).then(|| g.clv / g.clv_n as f64),
                nps: nps_score.map(|(s, _)| s),
                nps_responses: answers,
            }
        })
        .collect();
    JourneyMap {
        scope: ScopeInfo {
            persona: persona.map(group_name),
            from: scope.from.map(format_rfc3339),
            to: scope.to.map(format_rfc3339),
            customers: scope_stats.customers,
            events: scope_stats.events,
            revenue: scope_stats.revenue,
            data_start: format_rfc3339(model.data_start),
            data_end: format_rfc3339(model.data_end),
        },
        stages,
        emotion_curve,
        pain_points: pains,
        opportunities,
        personas,
    }
}

/// Representative comments: negative ones that use the stage's most
/// distinctive negative terms (most terms first, then most negative), and the
/// most positive one.
fn pick_verbatims(
    st: &StageStats,
    n: usize,
    terms: &[String],
    tp_name: &dyn Fn(TpKey) -> String,
    identity: &wayfarer_store::IdentityGraph,
) -> Vec<Verbatim> {
    let mut neg = st.negative.clone();
    sort_candidates(&mut neg, false);
    let hits = |c: &Candidate| -> usize {
        let words: Vec<String> = crate::text::terms(&c.text).collect();
        terms.iter().take(3).filter(|t| words.contains(t)).count()
    };
    neg.sort_by_key(|c| std::cmp::Reverse(hits(c)));
    let mut pos = st.positive.clone();
    sort_candidates(&mut pos, true);
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut push = |c: &Candidate, tone: &str, out: &mut Vec<Verbatim>| {
        if seen.insert(c.text.clone()) {
            out.push(Verbatim {
                text: c.text.clone(),
                sentiment: c.score,
                tone: tone.to_string(),
                touchpoint: tp_name(c.touchpoint),
                customer: identity.external_id(c.customer).to_string(),
            });
        }
    };
    // Mostly the negative voice (that is where the work is), one positive.
    let n_neg = n.saturating_sub(1).max(1);
    for c in &neg {
        if out.len() >= n_neg {
            break;
        }
        push(c, "negative", &mut out);
    }
    if let Some(c) = pos.first() {
        push(c, "positive", &mut out);
    }
    out
}
