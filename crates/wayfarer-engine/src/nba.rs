//! Next-best-action (DESIGN §10): which channel moves customers of a stage
//! (and persona) on to the next stage. For every customer who reached the
//! stage, the fold records whether they advanced and the channels they had
//! before deciding (before entering the next stage, or before the end of
//! the window for those who did not). Each channel gets the raw comparison
//! DESIGN asks for (advance rate with vs without it, lift, two-proportion
//! test) and an adjusted effect: the channel's coefficient in a logistic
//! regression of advancing on every channel, the persona and the channel
//! that first brought the customer (before the stage), because the raw
//! lift is confounded (active customers have more channels and advance
//! more; some channels bring kinds of customers who buy less).
//! Recommended: channels whose adjusted effect is positive and
//! significant, best first; for one customer, those they have not had.

use serde::Serialize;
use wayfarer_models::{linalg, stats};
use wayfarer_store::{NO_CHANNEL, Store};

use crate::fold::{self, Fold, Span};
use crate::model::Model;
use crate::timeline::Timeline;
use crate::{EngineError, Scope};

/// What to rank.
#[derive(Debug, Clone)]
pub struct NbaSpec {
    /// The stage customers are in (index into the stage model; not the last).
    pub stage: usize,
    /// Only customers of this configured persona.
    pub persona: Option<usize>,
    /// Customers needed with and without a channel to compare them.
    pub min_customers: u64,
    /// Significance level of the adjusted effects.
    pub alpha: f64,
    /// Advancing counts within this long after entering the stage (µs);
    /// customers who entered it less than this before the end of the data
    /// are left out (their outcome is not known yet).
    pub window: i64,
}

/// One channel as an action for the stage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionEvidence {
    pub channel: String,
    pub customers_with: u64,
    pub advanced_with: u64,
    pub rate_with: f64,
    pub rate_without: f64,
    /// rate_with / rate_without.
    pub lift: Option<f64>,
    /// The two-proportion z-test of the raw rates.
    pub p_value: f64,
    /// Adjusted effect on the log-odds of advancing (other channels and
    /// persona held equal), with its 95 % interval and p-value.
    pub effect: f64,
    pub effect_ci: (f64, f64),
    pub effect_p_value: f64,
    pub recommended: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NbaReport {
    pub stage: String,
    pub next_stage: String,
    pub persona: Option<String>,
    /// Customers who reached the stage, and how many went on.
    pub customers: u64,
    pub advanced: u64,
    pub base_rate: f64,
    /// Every channel with enough customers on both sides, by adjusted effect.
    pub actions: Vec<ActionEvidence>,
    /// The recommended channels, best first.
    pub recommended: Vec<String>,
    /// Channels left out: too few customers with or without them.
    pub too_few: Vec<String>,
}

/// One customer at the stage: persona, advanced, channels had (sorted
/// codes), and the channel they first came through before the stage.
type Seen = (Option<usize>, bool, Vec<u32>, Option<u32>);

/// A customer's record for one stage they reached.
type StageSeen = (usize, Seen);

struct NbaFold<'a> {
    model: &'a Model,
    scope: &'a Scope,
    /// One stage, or every stage but the last.
    stage: Option<usize>,
    persona: Option<usize>,
    window: i64,
}

impl Fold for NbaFold<'_> {
    type Partial = Vec<StageSeen>;
    type Scratch = ();
    type Report = Vec<StageSeen>;

    fn columns(&self) -> Vec<wayfarer_store::Col> {
        self.model.timeline_columns()
    }

    fn property_rows(&self) -> wayfarer_store::PropertyRows {
        self.model.property_rows()
    }

    fn init(&self) -> Self::Partial {
        Vec::new()
    }

    fn fold(&self, p: &mut Self::Partial, _: &mut (), span: Span<'_>) {
        let Some(t) = Timeline::build(self.model, self.scope, span) else { return };
        if self.persona.is_some() && t.persona != self.persona {
            return;
        }
        let last = self.model.stage_names.len().saturating_sub(1);
        let stages = match self.stage {
            Some(k) => k..k + 1,
            None => 0..last,
        };
        for k in stages {
            if let Some(seen) = seen_at(self.model, &t, k, self.window) {
                p.push((k, seen));
            }
        }
    }

    fn merge(&self, mut a: Self::Partial, b: Self::Partial) -> Self::Partial {
        a.extend(b);
        a
    }

    fn finish(&self, p: Self::Partial) -> Self::Report {
        p
    }
}

/// A customer at stage `k`: whether they moved on within the window after
/// entering it, and the channels they had before deciding; None when they
/// did not reach it or entered it less than a window before the data's end.
fn seen_at(model: &Model, t: &Timeline<'_>, k: usize, window: i64) -> Option<Seen> {
    let entered = t.entry.get(k).copied().flatten()?;
    let horizon = entered.saturating_add(window);
    if horizon > model.data_end {
        return None;
    }
    // Advanced within the window; the channels had before deciding (the next
    // stage, or the window's end: later touches, such as retargeting after
    // leaving, cannot have caused the outcome).
    let next = t.entry.get(k + 1).copied().flatten().filter(|&at| at <= horizon);
    let decided = next.unwrap_or(horizon);
    let mut channels: Vec<u32> = t
        .idx
        .iter()
        .zip(&t.channel)
        .filter(|&(&r, &c)| t.rows.ts[r] < decided && c != NO_CHANNEL)
        .map(|(_, &c)| c)
        .collect();
    // The channel that brought the customer, if before the stage (a control,
    // so it must be known before what it controls for).
    let first = t
        .idx
        .iter()
        .zip(&t.channel)
        .take_while(|&(&r, _)| t.rows.ts[r] < entered)
        .map(|(_, &c)| c)
        .find(|&c| c != NO_CHANNEL);
    channels.sort_unstable();
    channels.dedup();
    Some((t.persona, next.is_some(), channels, first))
}

/// The rankings of every stage but the last, for all customers and for
/// each configured persona, from one fold: what profiles' next-best-actions
/// read. Keyed by (stage, persona).
pub fn rank_all(
    store: &Store,
    model: &Model,
    min_customers: u64,
    alpha: f64,
    window: i64,
) -> Result<std::collections::HashMap<(usize, Option<usize>), NbaReport>, EngineError> {
    let scope = Scope::default();
    let seen = fold::report(store, &NbaFold { model, scope: &scope, stage: None, persona: None, window })?;
    let mut out = std::collections::HashMap::new();
    for k in 0..model.stage_names.len().saturating_sub(1) {
        let at: Vec<Seen> = seen.iter().filter(|(s, _)| *s == k).map(|(_, x)| x.clone()).collect();
        let spec = |persona| NbaSpec { stage: k, persona, min_customers, alpha, window };
        out.insert((k, None), report(model, &spec(None), &at));
        for p in 0..model.personas.len() {
            let mine: Vec<Seen> = at.iter().filter(|x| x.0 == Some(p)).cloned().collect();
            if !mine.is_empty() {
                out.insert((k, Some(p)), report(model, &spec(Some(p)), &mine));
            }
        }
    }
    Ok(out)
}

/// Ranks the channels for customers of a stage (and persona).
pub fn rank(store: &Store, model: &Model, scope: &Scope, spec: &NbaSpec) -> Result<NbaReport, EngineError> {
    if spec.stage + 1 >= model.stage_names.len() {
        return Err(EngineError::InvalidQuery(format!(
            "stage '{}' is the last one: there is no next stage to move customers to",
            model.stage_names.get(spec.stage).map_or("?", String::as_str)
        )));
    }
    let fold = NbaFold {
        model,
        scope: &scope.without_persona(),
        stage: Some(spec.stage),
        persona: spec.persona,
        window: spec.window,
    };
    let seen: Vec<Seen> = fold::report(store, &fold)?.into_iter().map(|(_, s)| s).collect();
    Ok(report(model, spec, &seen))
}

fn report(model: &Model, spec: &NbaSpec, seen: &[Seen]) -> NbaReport {
    let n = seen.len() as u64;
    let advanced = seen.iter().filter(|s| s.1).count() as u64;
    // Channels with enough customers on both sides.
    let mut codes: Vec<u32> = seen.iter().flat_map(|s| s.2.iter().copied()).collect();
    codes.sort_unstable();
    codes.dedup();
    let with = |c: u32| seen.iter().filter(move |s| s.2.binary_search(&c).is_ok());
    let (mut kept, mut too_few) = (Vec::new(), Vec::new());
    for c in codes {
        let nw = with(c).count() as u64;
        if nw >= spec.min_customers && n - nw >= spec.min_customers {
            kept.push(c);
        } else {
            too_few.push(model.channel_name(c).to_string());
        }
    }
    // The adjusted effects: advance ~ 1 + persona + first channel +
    // channels had. The customer's persona and the channel that brought
    // them are the controls: both stand for the kind of customer, and
    // channels bring different kinds (a channel that brings customers who
    // buy less would otherwise look harmful). A channel's own effect is then
    // measured on the customers who came some other way and had it later,
    // against those of the same kind who did not.
    let levels = |key: &dyn Fn(&Seen) -> Option<u32>| -> Vec<Option<u32>> {
        let mut counts: std::collections::BTreeMap<Option<u32>, usize> = std::collections::BTreeMap::new();
        for s in seen {
            *counts.entry(key(s)).or_default() += 1;
        }
        // The commonest level is the reference (no column of its own).
        let mut l: Vec<(Option<u32>, usize)> = counts.into_iter().collect();
        l.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        l.into_iter().skip(1).map(|(v, _)| v).collect()
    };
    let persona_key = |s: &Seen| s.0.map(|p| p as u32);
    let first_key = |s: &Seen| s.3;
    let persona_levels = levels(&persona_key);
    let first_levels = levels(&first_key);
    let controls = 1 + persona_levels.len() + first_levels.len();
    let width = controls + kept.len();
    let rows: Vec<(Vec<f64>, bool)> = seen
        .iter()
        .map(|s| {
            let mut x = vec![0.0; width];
            x[0] = 1.0;
            if let Some(i) = persona_levels.iter().position(|&p| p == persona_key(s)) {
                x[1 + i] = 1.0;
            }
            if let Some(i) = first_levels.iter().position(|&c| c == first_key(s)) {
                x[1 + persona_levels.len() + i] = 1.0;
            }
            for (j, c) in kept.iter().enumerate() {
                if s.2.binary_search(c).is_ok() {
                    x[controls + j] = 1.0;
                }
            }
            (x, s.1)
        })
        .collect();
    let fit = logistic(&rows, width);
    let base = controls;
    let mut actions: Vec<ActionEvidence> = kept
        .iter()
        .enumerate()
        .map(|(j, &c)| {
            let nw = with(c).count() as u64;
            let xw = with(c).filter(|s| s.1).count() as u64;
            let (rw, rwo) = (xw as f64 / nw as f64, (advanced - xw) as f64 / (n - nw) as f64);
            let raw = stats::two_proportion(xw, nw, advanced - xw, n - nw);
            let (effect, se) = fit.as_ref().map_or((0.0, f64::INFINITY), |(b, se)| (b[base + j], se[base + j]));
            let z = if se > 0.0 && se.is_finite() { effect / se } else { 0.0 };
            let effect_p = stats::two_sided_p(z);
            ActionEvidence {
                channel: model.channel_name(c).to_string(),
                customers_with: nw,
                advanced_with: xw,
                rate_with: rw,
                rate_without: rwo,
                lift: (rwo > 0.0).then(|| rw / rwo),
                p_value: raw.map_or(1.0, |r| r.p_value),
                effect,
                effect_ci: (effect - 1.96 * se, effect + 1.96 * se),
                effect_p_value: effect_p,
                recommended: effect > 0.0 && effect_p < spec.alpha,
            }
        })
        .collect();
    actions.sort_by(|a, b| b.effect.total_cmp(&a.effect).then_with(|| a.channel.cmp(&b.channel)));
    NbaReport {
        stage: model.stage_names[spec.stage].clone(),
        next_stage: model.stage_names[spec.stage + 1].clone(),
        persona: spec.persona.map(|p| model.personas[p].0.clone()),
        customers: n,
        advanced,
        base_rate: if n > 0 { advanced as f64 / n as f64 } else { 0.0 },
        recommended: actions.iter().filter(|a| a.recommended).map(|a| a.channel.clone()).collect(),
        actions,
        too_few,
    }
}

/// Logistic regression by Newton's method, with a weak normal prior
/// (ridge) on every coefficient but the intercept, so a channel that
/// (almost) separates the outcomes in a small group gets a finite, wide
/// estimate instead of running off; it is negligible with many customers.
/// The coefficients and their standard errors, or None when singular.
fn logistic(rows: &[(Vec<f64>, bool)], width: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    const RIDGE: f64 = 0.5;
    let mut beta = vec![0.0; width];
    let mut hessian = vec![vec![0.0; width]; width];
    for _ in 0..50 {
        let mut grad = vec![0.0; width];
        for h in hessian.iter_mut() {
            h.iter_mut().for_each(|v| *v = 0.0);
        }
        for (x, y) in rows {
            let eta: f64 = x.iter().zip(&beta).map(|(a, b)| a * b).sum();
            let mu = 1.0 / (1.0 + (-eta).exp());
            let w = mu * (1.0 - mu);
            let r = f64::from(u8::from(*y)) - mu;
            for i in 0..width {
                if x[i] == 0.0 {
                    continue;
                }
                grad[i] += x[i] * r;
                for j in 0..width {
                    hessian[i][j] += x[i] * w * x[j];
                }
            }
        }
        for i in 1..width {
            grad[i] -= RIDGE * beta[i];
            hessian[i][i] += RIDGE;
        }
        let step = linalg::solve(&hessian, &grad)?;
        let change: f64 = step.iter().map(|s| s.abs()).fold(0.0, f64::max);
        for (b, s) in beta.iter_mut().zip(&step) {
            *b += s;
        }
        if change < 1e-9 {
            break;
        }
    }
    let inverse = linalg::invert(&hessian)?;
    let se = (0..width).map(|i| inverse[i][i].max(0.0).sqrt()).collect();
    Some((beta, se))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_regression_recovers_known_coefficients() {
        // y ~ Bernoulli(σ(-1 + 0.8·a − 0.5·b)) on a grid with exact
        // expected counts: the fit must return the coefficients.
        let sigma = |z: f64| 1.0 / (1.0 + (-z).exp());
        let mut rows = Vec::new();
        for a in [0.0, 1.0] {
            for b in [0.0, 1.0] {
                let p = sigma(-1.0 + 0.8 * a - 0.5 * b);
                let yes = (p * 10_000.0).round() as usize;
                for i in 0..10_000 {
                    rows.push((vec![1.0, a, b], i < yes));
                }
            }
        }
        let (beta, se) = logistic(&rows, 3).unwrap();
        for (got, want) in beta.iter().zip([-1.0, 0.8, -0.5]) {
            assert!((got - want).abs() < 1e-3, "{beta:?}");
        }
        assert!(se.iter().all(|s| *s > 0.0 && *s < 0.05), "{se:?}");
    }
}
