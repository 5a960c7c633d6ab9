//! Time-aware pain points (DESIGN §4.9): a stretch of weeks whose
//! conversion to the next stage fell below the rest of the period — an
//! incident, a bad release, a stock-out — found in the weekly series the
//! journey fold keeps per stage and per touchpoint, with the multiple
//! testing it takes to look at every stretch of every series corrected.

use wayfarer_models::stats::two_proportion;

use super::pain::{Context, PainDraft, PainKind, PainPoint, alpha, build, material, min_n, n, pct, persona_suffix};
use crate::journey::{GroupStats, TREND_WINDOW, TpKey, Weekly, week_of, week_start};

/// Longest stretch of weeks a dip may last (longer is a trend, not a dip).
const MAX_DIP_WEEKS: usize = 8;
/// Complete weeks a series needs before dips are looked for.
const MIN_SERIES_WEEKS: usize = 6;
/// A dip must cost at least this much conversion (absolute) to be reported.
const MIN_DIP_GAP: f64 = 0.05;

/// The most significant stretch of weeks whose conversion fell below the
/// rest of the series, and how many stretches were tested.
struct Dip {
    first_week: i64,
    weeks: usize,
    x: u64,
    n: u64,
    rest_x: u64,
    rest_n: u64,
    value: f64,
    baseline: f64,
    p: f64,
}

fn worst_dip(weekly: &Weekly, last_week: i64, min_n: u64) -> (Option<Dip>, u64) {
    let (Some(&first), Some(&last)) =
        (weekly.keys().filter(|w| **w <= last_week).min(), weekly.keys().filter(|w| **w <= last_week).max())
    else {
        return (None, 0);
    };
    let span = (last - first + 1) as usize;
    if span < MIN_SERIES_WEEKS {
        return (None, 0);
    }
    // Prefix sums over every week of the span (weeks without customers count as empty).
    let (mut pn, mut px) = (vec![0u64; span + 1], vec![0u64; span + 1]);
    for i in 0..span {
        let (n, x) = weekly.get(&(first + i as i64)).copied().unwrap_or((0, 0));
        pn[i + 1] = pn[i] + n;
        px[i + 1] = px[i] + x;
    }
    let (tn, tx) = (pn[span], px[span]);
    let mut best: Option<Dip> = None;
    let mut tests = 0;
    for len in 1..=MAX_DIP_WEEKS.min(span / 2) {
        for a in 0..=span - len {
            tests += 1;
            let (n, x) = (pn[a + len] - pn[a], px[a + len] - px[a]);
            if n < min_n || tn - n < min_n {
                continue;
            }
            let Some(c) = two_proportion(x, n, tx - x, tn - n) else { continue };
            if c.value < c.baseline && best.as_ref().is_none_or(|b| c.p_value < b.p) {
                best = Some(Dip {
                    first_week: first + a as i64,
                    weeks: len,
                    x,
                    n,
                    rest_x: tx - x,
                    rest_n: tn - n,
                    value: c.value,
                    baseline: c.baseline,
                    p: c.p_value,
                });
            }
        }
    }
    (best, tests)
}

/// Time-aware pain points: for each stage, the weekly conversion to the
/// next stage of its customers and of those who met each of its
/// touchpoints; a stretch of one to eight weeks significantly below the
/// other weeks (Bonferroni-corrected over every stretch of every series
/// tested in this scope, and at least 5 points lower) is a dip. One per
/// stage: the series with the largest fall.
pub(super) fn dips(ctx: &Context<'_>, g: &GroupStats, persona: Option<&str>) -> Vec<PainPoint> {
    let k_stages = ctx.model.stages();
    // Only weeks whose customers all had the whole window to convert.
    let last_week = week_of(ctx.model.data_end - TREND_WINDOW) - 1;
    let mut found: Vec<(usize, Option<TpKey>, Dip)> = Vec::new();
    let mut tests = 0u64;
    for (k, st) in g.stages.iter().enumerate().take(k_stages.saturating_sub(1)) {
        let (d, t) = worst_dip(&st.weekly, last_week, min_n(ctx));
        tests += t;
        found.extend(d.map(|d| (k, None, d)));
        let mut keys: Vec<&TpKey> = st.weekly_touchpoints.keys().collect();
        keys.sort();
        for key in keys {
            let (d, t) = worst_dip(&st.weekly_touchpoints[key], last_week, min_n(ctx));
            tests += t;
            found.extend(d.map(|d| (k, Some(*key), d)));
        }
    }
    let mut best: Vec<Option<(Option<TpKey>, Dip, f64)>> = (0..k_stages).map(|_| None).collect();
    for (k, key, d) in found {
        let p = (d.p * tests as f64).min(1.0);
        if p >= alpha(ctx) || d.baseline - d.value < MIN_DIP_GAP || !material(d.value, d.baseline) {
            continue;
        }
        if best[k].as_ref().is_none_or(|b| d.baseline - d.value > b.1.baseline - b.1.value) {
            best[k] = Some((key, d, p));
        }
    }
    let date = |us: i64| wayfarer_core::time::format_rfc3339(us).chars().take(10).collect::<String>();
    let mut out = Vec::new();
    for (k, b) in best.into_iter().enumerate() {
        let Some((key, d, p)) = b else { continue };
        let stage = &ctx.model.stage_names[k];
        let next = &ctx.model.stage_names[k + 1];
        let (what, who) = match key {
            Some(tp) => {
                let name = (ctx.tp_name)(tp);
                (name.clone(), format!("customers who met {name} in {stage}"))
            }
            None => (stage.clone(), format!("customers who entered {stage}")),
        };
        let (from, to) = (week_start(d.first_week), week_start(d.first_week + d.weeks as i64) - 1);
        let weeks = if d.weeks == 1 { "1 week".to_string() } else { format!("{} weeks", d.weeks) };
        out.push(build(
            ctx,
            PainDraft {
                kind: PainKind::Dip,
                stage: k,
                persona,
                touchpoint: key.map(|tp| (ctx.tp_name)(tp)),
                title: format!(
                    "Conversion from {what} to {next} fell from {} to {} for {weeks} from {}{}",
                    pct(d.baseline),
                    pct(d.value),
                    date(from),
                    persona_suffix(persona)
                ),
                metric: "conversion to next stage within 7 days",
                value: d.value,
                baseline: d.baseline,
                baseline_label: "the other weeks".to_string(),
                n: d.n,
                baseline_n: d.rest_n,
                p_value: Some(p),
                affected: d.n,
                gap: d.baseline - d.value,
                terms: vec![date(from), date(to)],
                evidence: format!(
                    "{} of {} {who} from {} to {} reached {next} within 7 days ({}), against {} of {} in the other weeks ({}); p = {p:.1e} after a Bonferroni correction for the {tests} stretches of weeks tested",
                    n(d.x),
                    n(d.n),
                    date(from),
                    date(to),
                    pct(d.value),
                    n(d.rest_x),
                    n(d.rest_n),
                    pct(d.baseline)
                ),
            },
        ));
    }
    out
}
