//! Pain points and opportunities (DESIGN §4.9), each with its evidence.
//!
//! Kinds of pain point:
//! - (a) `drop_off`: a stage whose conversion is significantly below its
//!   baseline (the other personas); two-proportion z-test.
//! - (b) `exit_touchpoint`: a touchpoint over-represented as the last step
//!   before dropping out: its exit rate (customers for whom it was the last
//!   step in the stage and who went no further / customers who met it)
//!   against the stage's other touchpoints (at least twice as high), or
//!   against the same touchpoint for the other personas.
//! - (c) `friction`: each friction event whose customers convert
//!   significantly and materially less than the stage's other customers (and
//!   retries with repeated support contacts when no event is configured).
//! - (d) `slow`: time to the next stage far above the baseline (Mood's median
//!   test against the other personas), half again as long and at least
//!   [`MIN_SLOW_SECONDS`] longer.
//! - (e) `negative_emotion`: a stage where significantly more customers are
//!   unhappy (their mean emotion there is below zero) than in the rest of the
//!   journey or than other personas in the same stage, with its top negative
//!   terms.
//! - (f) `dip`: a stretch of weeks whose conversion fell (`dips.rs`).
//!
//! Severity = customers affected × gap, expressed as *excess customers*: how
//! many more customers dropped out, left at the touchpoint, were slow or were
//! unhappy than the baseline rate predicts. Every kind is thus on one scale.
//! Opportunities (`opportunities.rs`) are derived from them and from
//! positive signals.

use serde::{Deserialize, Serialize};
use wayfarer_models::stats::{Moments, quantile_sorted, two_proportion};

use crate::journey::{GroupStats, TpKey};
use crate::model::Model;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PainKind {
    DropOff,
    ExitTouchpoint,
    Friction,
    Slow,
    NegativeEmotion,
    /// A stretch of weeks whose conversion fell below the rest of the period.
    Dip,
}

impl PainKind {
    pub fn label(self) -> &'static str {
        match self {
            PainKind::DropOff => "drop-off",
            PainKind::ExitTouchpoint => "exit touchpoint",
            PainKind::Friction => "friction",
            PainKind::Slow => "slow",
            PainKind::NegativeEmotion => "negative emotion",
            PainKind::Dip => "dip over time",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PainPoint {
    pub id: String,
    pub kind: PainKind,
    pub stage: String,
    pub stage_index: usize,
    pub persona: Option<String>,
    pub touchpoint: Option<String>,
    pub title: String,
    pub metric: String,
    pub value: f64,
    pub baseline: f64,
    pub baseline_label: String,
    pub n: u64,
    pub baseline_n: u64,
    pub p_value: Option<f64>,
    pub affected_customers: u64,
    pub severity: f64,
    pub terms: Vec<String>,
    pub evidence: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Opportunity {
    pub id: String,
    pub kind: String,
    pub stage: Option<String>,
    pub stage_index: Option<usize>,
    pub persona: Option<String>,
    pub title: String,
    pub action: String,
    /// How many customers it concerns, and who they are.
    pub customers: u64,
    pub segment: String,
    pub expected_conversions: Option<f64>,
    pub expected_revenue: Option<f64>,
    pub assumption: String,
    pub pain_point: Option<String>,
    /// Customers who would convert (else customers concerned): its customer value.
    #[serde(default)]
    pub customer_value: f64,
    /// Revenue at stake, where the map can say.
    #[serde(default)]
    pub business_value: Option<f64>,
    /// Set by the team (`wayfarer opportunities plan`, the map's detail panel).
    #[serde(default)]
    pub effort: Option<u8>,
    #[serde(default)]
    pub owner: Option<String>,
    /// Value ÷ effort, once the team has set an effort.
    #[serde(default)]
    pub score: Option<f64>,
}

pub struct Context<'a> {
    pub model: &'a Model,
    pub tp_name: &'a dyn Fn(TpKey) -> String,
    pub personas: &'a crate::journey::Personas,
}

pub(super) fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// A count with thousands separators, as the renderers write them.
pub(super) fn n(x: u64) -> String {
    wayfarer_core::numbers::count(x)
}

pub(super) fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

pub(super) fn alpha(ctx: &Context<'_>) -> f64 {
    ctx.model.config.map.significance
}

pub(super) fn min_n(ctx: &Context<'_>) -> u64 {
    ctx.model.config.map.min_customers
}

/// A rate gap worth reporting: at least 2 points and 10% relative.
pub(super) fn material(value: f64, baseline: f64) -> bool {
    let gap = (value - baseline).abs();
    gap >= 0.02 && gap >= 0.1 * baseline.abs().max(value.abs())
}

pub(super) struct PainDraft<'a> {
    pub(super) kind: PainKind,
    pub(super) stage: usize,
    pub(super) persona: Option<&'a str>,
    pub(super) touchpoint: Option<String>,
    pub(super) title: String,
    pub(super) metric: &'a str,
    pub(super) value: f64,
    pub(super) baseline: f64,
    pub(super) baseline_label: String,
    pub(super) n: u64,
    pub(super) baseline_n: u64,
    pub(super) p_value: Option<f64>,
    pub(super) affected: u64,
    pub(super) gap: f64,
    pub(super) terms: Vec<String>,
    pub(super) evidence: String,
}

pub(super) fn build(ctx: &Context<'_>, d: PainDraft<'_>) -> PainPoint {
    let stage = ctx.model.stage_names[d.stage].clone();
    let mut id = format!("{}:{}", slug(&format!("{:?}", d.kind)), slug(&stage));
    if let Some(t) = &d.touchpoint {
        id.push(':');
        id.push_str(&slug(t));
    }
    if let Some(p) = d.persona {
        id.push(':');
        id.push_str(&slug(p));
    }
    PainPoint {
        id,
        kind: d.kind,
        stage,
        stage_index: d.stage,
        persona: d.persona.map(str::to_string),
        touchpoint: d.touchpoint,
        title: d.title,
        metric: d.metric.to_string(),
        value: d.value,
        baseline: d.baseline,
        baseline_label: d.baseline_label,
        n: d.n,
        baseline_n: d.baseline_n,
        p_value: d.p_value,
        affected_customers: d.affected,
        severity: d.affected as f64 * d.gap.clamp(0.0, 1.0),
        terms: d.terms,
        evidence: d.evidence,
    }
}

pub(super) fn persona_suffix(persona: Option<&str>) -> String {
    persona.map_or(String::new(), |p| format!(" ({p})"))
}

/// A "slow" pain point's median must be at least this much longer (seconds)
/// than its baseline's: a 30-second difference is significant on enough
/// customers, and means nothing.
pub const MIN_SLOW_SECONDS: f64 = 600.0;

/// Pain points found inside one scope: exit touchpoints against the stage's
/// other touchpoints, friction, negative emotion against the other stages.
pub fn within_scope(ctx: &Context<'_>, g: &GroupStats, persona: Option<&str>) -> Vec<PainPoint> {
    let mut out = Vec::new();
    let k_stages = ctx.model.stages();
    for (k, st) in g.stages.iter().enumerate() {
        let stage = &ctx.model.stage_names[k];
        if k + 1 < k_stages {
            // (b) exit touchpoints: exit rate against the stage's other touchpoints.
            let (all_exits, all_touch): (u64, u64) =
                st.touchpoints.values().fold((0, 0), |(e, c), v| (e + v.exits, c + v.customers));
            for (key, v) in &st.touchpoints {
                if v.customers < min_n(ctx) || v.exits == 0 {
                    continue;
                }
                let (oe, oc) = (all_exits - v.exits, all_touch - v.customers);
                if oc < min_n(ctx) {
                    continue;
                }
                let Some(c) = two_proportion(v.exits, v.customers, oe, oc) else {
                    continue;
                };
                // Some touchpoint is always somebody's last step: ask for a clear excess.
                if !(c.value > 2.0 * c.baseline && c.p_value < alpha(ctx) && c.value - c.baseline >= 0.05) {
                    continue;
                }
                let name = (ctx.tp_name)(*key);
                out.push(build(
                    ctx,
                    PainDraft {
                        kind: PainKind::ExitTouchpoint,
                        stage: k,
                        persona,
                        touchpoint: Some(name.clone()),
                        title: format!("Customers leave at {name} in {stage}{}", persona_suffix(persona)),
                        metric: "exit rate",
                        value: c.value,
                        baseline: c.baseline,
                        baseline_label: format!("other touchpoints in {stage}"),
                        n: v.customers,
                        baseline_n: oc,
                        p_value: Some(c.p_value),
                        affected: v.customers,
                        gap: c.value - c.baseline,
                        terms: Vec::new(),
                        evidence: format!(
                            "{} of {} customers who reached {name} in {stage} went no further ({}), against {} at the stage's other touchpoints",
                            n(v.exits),
                            n(v.customers),
                            pct(c.value),
                            pct(c.baseline)
                        ),
                    },
                ));
            }
            // (c) friction, one event at a time: the customers who met it in
            // the stage against the stage's other customers (one test per
            // event, each at the map's significance level).
            let next = ctx.model.stage_names.get(k + 1).cloned().unwrap_or_default();
            let mut met: Vec<(&u32, &super::FrictionCount)> = st.friction_events.iter().collect();
            met.sort_by(|a, b| b.1.customers.cmp(&a.1.customers).then_with(|| a.0.cmp(b.0)));
            for (e, f) in met {
                let (others, others_n) =
                    (st.converted.saturating_sub(f.converted), st.reached.saturating_sub(f.customers));
                if f.customers < min_n(ctx) || others_n < min_n(ctx) {
                    continue;
                }
                let Some(c) = two_proportion(f.converted, f.customers, others, others_n) else { continue };
                if !(c.value < c.baseline && c.p_value < alpha(ctx) && material(c.value, c.baseline)) {
                    continue;
                }
                let name = ctx.model.event_name(*e).to_string();
                let (lo, hi) = wayfarer_models::stats::difference_interval(f.converted, f.customers, others, others_n)
                    .unwrap_or((f64::NAN, f64::NAN));
                out.push(build(
                    ctx,
                    PainDraft {
                        kind: PainKind::Friction,
                        stage: k,
                        persona,
                        touchpoint: None,
                        title: format!("Customers who meet {name} in {stage} move on less{}", persona_suffix(persona)),
                        metric: "conversion to next stage",
                        value: c.value,
                        baseline: c.baseline,
                        baseline_label: format!("customers in {stage} who did not meet it"),
                        n: f.customers,
                        baseline_n: others_n,
                        p_value: Some(c.p_value),
                        affected: f.customers,
                        gap: c.baseline - c.value,
                        terms: vec![name.clone()],
                        evidence: format!(
                            "{} customers met {name} in {stage} ({} times); {} of them went on to {next} against {} of the stage's other customers (difference {:+.1} points, 95% CI {:+.1} to {:+.1})",
                            n(f.customers),
                            n(f.events),
                            pct(c.value),
                            pct(c.baseline),
                            100.0 * (c.value - c.baseline),
                            100.0 * lo,
                            100.0 * hi
                        ),
                    },
                ));
            }
            // (c') retries and repeated support contacts, when no friction
            // event is configured or met (then nothing names an event).
            if st.friction_events.is_empty()
                && st.friction >= min_n(ctx)
                && st.reached - st.friction >= min_n(ctx)
                && let Some(c) = two_proportion(
                    st.friction_converted,
                    st.friction,
                    st.converted - st.friction_converted,
                    st.reached - st.friction,
                )
                && c.value < c.baseline
                && c.p_value < alpha(ctx)
                && material(c.value, c.baseline)
            {
                out.push(build(
                            ctx,
                            PainDraft {
                                kind: PainKind::Friction,
                                stage: k,
                                persona,
                                touchpoint: None,
                                title: format!("Friction in {stage}: retries and repeated support contacts{}", persona_suffix(persona)),
                                metric: "conversion to next stage",
                                value: c.value,
                                baseline: c.baseline,
                                baseline_label: "customers without friction".to_string(),
                                n: st.friction,
                                baseline_n: st.reached - st.friction,
                                p_value: Some(c.p_value),
                                affected: st.friction,
                                gap: c.baseline - c.value,
                                terms: Vec::new(),
                                evidence: format!(
                                    "{} customers met errors, retries or repeated support contacts in {stage} ({} retries, {} with 2+ support contacts); {} of them moved on against {} of the others",
                                    n(st.friction),
                                    n(st.retries),
                                    n(st.repeated_support),
                                    pct(c.value),
                                    pct(c.baseline)
                                ),
                            },
                        ));
            }
        }
        // (e) negative emotion vs the rest of the journey.
        let mut rest = Moments::default();
        let (mut ru, mut rc) = (0, 0);
        for (j, o) in g.stages.iter().enumerate() {
            if j != k {
                rest.merge(&o.emotion);
                ru += o.unhappy;
                rc += o.emotion_customers;
            }
        }
        let base = EmotionBaseline { unhappy: ru, customers: rc, emotion: &rest, label: "the other stages" };
        if let Some(p) = emotion_pain(ctx, k, st, &base, persona) {
            out.push(p);
        }
    }
    out.extend(super::dips::dips(ctx, g, persona));
    out
}

/// The emotion baseline a stage is compared with.
struct EmotionBaseline<'a> {
    unhappy: u64,
    customers: u64,
    emotion: &'a Moments,
    label: &'a str,
}

fn emotion_pain(
    ctx: &Context<'_>,
    k: usize,
    st: &crate::journey::StageStats,
    base: &EmotionBaseline<'_>,
    persona: Option<&str>,
) -> Option<PainPoint> {
    let (rest_unhappy, rest_customers, rest_emotion, baseline_label) =
        (base.unhappy, base.customers, base.emotion, base.label);
    if st.emotion_customers < min_n(ctx) || rest_customers < min_n(ctx) {
        return None;
    }
    let c = two_proportion(st.unhappy, st.emotion_customers, rest_unhappy, rest_customers)?;
    if !(c.value > c.baseline && c.p_value < alpha(ctx) && material(c.value, c.baseline)) {
        return None;
    }
    let stage = &ctx.model.stage_names[k];
    let terms: Vec<String> =
        crate::text::distinctive(&st.negative_texts, &st.other_texts, 5).into_iter().map(|(t, _)| t).collect();
    let detractors = st.nps[2];
    let nps_n: u64 = st.nps.iter().sum();
    let mut evidence = format!(
        "{} of {} customers with comments or survey answers in {stage} were unhappy ({}), against {} for {baseline_label}; mean emotion {:+.2} against {:+.2}",
        st.unhappy,
        st.emotion_customers,
        pct(c.value),
        pct(c.baseline),
        st.emotion.mean().unwrap_or(0.0),
        rest_emotion.mean().unwrap_or(0.0)
    );
    if st.csat.n > 0 {
        evidence.push_str(&format!(
            "; CSAT {} satisfied (n={})",
            pct(st.csat_satisfied as f64 / st.csat.n as f64),
            st.csat.n
        ));
    }
    if nps_n > 0 {
        evidence.push_str(&format!("; {} detractors (n={nps_n})", pct(detractors as f64 / nps_n as f64)));
    }
    if !terms.is_empty() {
        evidence.push_str(&format!("; negative comments mention: {}", terms.join(", ")));
    }
    let about = if terms.is_empty() {
        String::new()
    } else {
        let quoted: Vec<String> = terms.iter().take(3).map(|t| format!("“{t}”")).collect();
        format!(": comments say {}", quoted.join(", "))
    };
    Some(build(
        ctx,
        PainDraft {
            kind: PainKind::NegativeEmotion,
            stage: k,
            persona,
            touchpoint: None,
            title: format!("Unhappy customers in {stage}{about}{}", persona_suffix(persona)),
            metric: "share of customers unhappy (mean emotion below 0)",
            value: c.value,
            baseline: c.baseline,
            baseline_label: baseline_label.to_string(),
            n: st.emotion_customers,
            baseline_n: rest_customers,
            p_value: Some(c.p_value),
            affected: st.emotion_customers,
            gap: c.value - c.baseline,
            terms,
            evidence,
        },
    ))
}

/// Pain points of one persona against the other personas: drop-off, exit
/// touchpoints, slowness and emotion per stage.
pub fn versus_rest(ctx: &Context<'_>, g: &GroupStats, rest: &GroupStats, persona: &str) -> Vec<PainPoint> {
    let mut out = Vec::new();
    // "other personas", or "other segments" when the map is split by a segment.
    let others = format!("other {}", ctx.personas.noun);
    let same_stage = format!("{others} in the same stage");
    let k_stages = ctx.model.stages();
    let p = Some(persona);
    for k in 0..k_stages {
        let (st, rt) = (&g.stages[k], &rest.stages[k]);
        let stage = &ctx.model.stage_names[k];
        if k + 1 < k_stages && st.reached >= min_n(ctx) && rt.reached >= min_n(ctx) {
            // (a) drop-off.
            if let Some(c) = two_proportion(st.converted, st.reached, rt.converted, rt.reached)
                && c.value < c.baseline
                && c.p_value < alpha(ctx)
                && material(c.value, c.baseline)
            {
                let next = &ctx.model.stage_names[k + 1];
                out.push(build(
                    ctx,
                    PainDraft {
                        kind: PainKind::DropOff,
                        stage: k,
                        persona: p,
                        touchpoint: None,
                        title: format!("{persona} drop off in {stage}"),
                        metric: "conversion to next stage",
                        value: c.value,
                        baseline: c.baseline,
                        baseline_label: others.clone(),
                        n: st.reached,
                        baseline_n: rt.reached,
                        p_value: Some(c.p_value),
                        affected: st.reached,
                        gap: c.baseline - c.value,
                        terms: Vec::new(),
                        evidence: format!(
                            "{} of {} {persona} in {stage} reached {next} ({}), against {} of {others}",
                            st.converted,
                            st.reached,
                            pct(c.value),
                            pct(c.baseline)
                        ),
                    },
                ));
            }
            // (b) exit touchpoints vs the same touchpoint for other personas.
            for (key, v) in &st.touchpoints {
                let Some(o) = rt.touchpoints.get(key) else {
                    continue;
                };
                if v.customers < min_n(ctx) || o.customers < min_n(ctx) || v.exits == 0 {
                    continue;
                }
                let Some(c) = two_proportion(v.exits, v.customers, o.exits, o.customers) else {
                    continue;
                };
                if c.value > c.baseline && c.p_value < alpha(ctx) && material(c.value, c.baseline) {
                    let name = (ctx.tp_name)(*key);
                    out.push(build(
                        ctx,
                        PainDraft {
                            kind: PainKind::ExitTouchpoint,
                            stage: k,
                            persona: p,
                            touchpoint: Some(name.clone()),
                            title: format!("{persona} leave at {name} in {stage}"),
                            metric: "exit rate",
                            value: c.value,
                            baseline: c.baseline,
                            baseline_label: format!("{others} at the same touchpoint"),
                            n: v.customers,
                            baseline_n: o.customers,
                            p_value: Some(c.p_value),
                            affected: v.customers,
                            gap: c.value - c.baseline,
                            terms: Vec::new(),
                            evidence: format!(
                                "{} of {} {persona} who reached {name} in {stage} went no further ({}), against {} of {others} ({} of {})",
                                n(v.exits),
                                n(v.customers),
                                pct(c.value),
                                pct(c.baseline),
                                n(o.exits),
                                n(o.customers)
                            ),
                        },
                    ));
                }
            }
            // (d) slow: Mood's median test against the other personas.
            if st.to_next.len() as u64 >= min_n(ctx) && rt.to_next.len() as u64 >= min_n(ctx) {
                let mut pooled: Vec<f64> = st.to_next.iter().chain(&rt.to_next).copied().collect();
                pooled.sort_by(f64::total_cmp);
                let mut mine = st.to_next.clone();
                mine.sort_by(f64::total_cmp);
                let mut theirs = rt.to_next.clone();
                theirs.sort_by(f64::total_cmp);
                if let (Some(med), Some(m1), Some(m2)) =
                    (quantile_sorted(&pooled, 0.5), quantile_sorted(&mine, 0.5), quantile_sorted(&theirs, 0.5))
                {
                    let above1 = mine.iter().filter(|x| **x > med).count() as u64;
                    let above2 = theirs.iter().filter(|x| **x > med).count() as u64;
                    if let Some(c) = two_proportion(above1, mine.len() as u64, above2, theirs.len() as u64) {
                        let relative = if m2 > 0.0 { m1 / m2 - 1.0 } else { 0.0 };
                        // Practical significance too: half again as long, and
                        // at least MIN_SLOW_SECONDS longer.
                        if m1 > m2
                            && c.value > c.baseline
                            && c.p_value < alpha(ctx)
                            && relative >= 0.5
                            && m1 - m2 >= MIN_SLOW_SECONDS
                        {
                            let next = &ctx.model.stage_names[k + 1];
                            out.push(build(
                                ctx,
                                PainDraft {
                                    kind: PainKind::Slow,
                                    stage: k,
                                    persona: p,
                                    touchpoint: None,
                                    title: format!("{persona} are slow to move from {stage} to {next}"),
                                    metric: "median time to next stage (seconds)",
                                    value: m1,
                                    baseline: m2,
                                    baseline_label: others.clone(),
                                    n: mine.len() as u64,
                                    baseline_n: theirs.len() as u64,
                                    p_value: Some(c.p_value),
                                    affected: mine.len() as u64,
                                    gap: c.value - c.baseline,
                                    terms: Vec::new(),
                                    evidence: format!(
                                        "median {} from {stage} to {next}, against {} for {others}; {} of them took longer than the overall median, against {} of others (n={} and {})",
                                        wayfarer_core::time::format_duration_seconds(m1),
                                        wayfarer_core::time::format_duration_seconds(m2),
                                        pct(c.value),
                                        pct(c.baseline),
                                        n(mine.len() as u64),
                                        n(theirs.len() as u64)
                                    ),
                                },
                            ));
                        }
                    }
                }
            }
        }
        // (e) emotion vs other personas in the same stage.
        let base = EmotionBaseline {
            unhappy: rt.unhappy,
            customers: rt.emotion_customers,
            emotion: &rt.emotion,
            label: &same_stage,
        };
        if let Some(pp) = emotion_pain(ctx, k, st, &base, p) {
            out.push(pp);
        }
    }
    out
}

/// Deduplicates by id (keeping the most severe) and sorts by severity.
pub fn rank(mut pains: Vec<PainPoint>) -> Vec<PainPoint> {
    pains.sort_by(|a, b| b.severity.total_cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    let mut seen = std::collections::HashSet::new();
    pains.retain(|p| seen.insert(p.id.clone()));
    pains
}

pub use super::opportunities::opportunities;
