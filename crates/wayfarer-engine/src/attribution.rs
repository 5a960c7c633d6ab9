//! Multi-touch attribution (DESIGN §4.9): each customer's timeline is cut
//! into paths of channel touches — a touch is an event that carries its own
//! channel (exposures such as a delivered or opened email included), or the
//! start of a direct session; a conversion closes the path
//! (a conversion with no touch since the previous one takes its own
//! session's channel), and touches after the last conversion form a null
//! path. The fold credits the heuristics per conversion (they need the
//! touches' ages) and counts distinct paths; Markov and Shapley run on the
//! merged path counts ([`wayfarer_models::attribution`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use wayfarer_core::time::MICROS_PER_DAY;
use wayfarer_models::attribution::{self as models, Credit, Heuristic, Path};
use wayfarer_store::{Col, NO_CHANNEL, Store};

use crate::fold::{self, Fold, Span};
use crate::model::Model;
use crate::timeline::Timeline;
use crate::{EngineError, Scope};

/// An attribution model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    First,
    Last,
    Linear,
    TimeDecay,
    Position,
    Markov,
    Shapley,
}

impl ModelKind {
    pub const ALL: [ModelKind; 7] = [
        ModelKind::First,
        ModelKind::Last,
        ModelKind::Linear,
        ModelKind::TimeDecay,
        ModelKind::Position,
        ModelKind::Markov,
        ModelKind::Shapley,
    ];
    const HEURISTICS: usize = 5;

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::First => "first",
            ModelKind::Last => "last",
            ModelKind::Linear => "linear",
            ModelKind::TimeDecay => "time_decay",
            ModelKind::Position => "position",
            ModelKind::Markov => "markov",
            ModelKind::Shapley => "shapley",
        }
    }

    pub fn parse(s: &str) -> Result<Vec<ModelKind>, String> {
        if s == "all" {
            return Ok(ModelKind::ALL.to_vec());
        }
        s.split(',')
            .map(|p| {
                ModelKind::ALL.iter().copied().find(|m| m.name() == p.trim().replace('-', "_")).ok_or_else(|| {
                    format!("unknown attribution model '{p}': expected first, last, linear, time_decay, position, markov, shapley or all")
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct AttributionSpec {
    /// Event name (or glob) of a conversion.
    pub conversion: String,
    /// Touches older than this before a conversion are left out of its path (µs).
    pub lookback: Option<i64>,
    pub models: Vec<ModelKind>,
    /// Markov chain order (1–3).
    pub order: usize,
    pub half_life_days: f64,
    /// Position-based shares of the first and the last touch.
    pub position: (f64, f64),
    /// Only each customer's first conversion (what brings new customers);
    /// their later touches are left out.
    pub first_only: bool,
}

impl Default for AttributionSpec {
    fn default() -> Self {
        AttributionSpec {
            conversion: "Order Completed".into(),
            lookback: None,
            models: ModelKind::ALL.to_vec(),
            order: 1,
            half_life_days: 7.0,
            position: (0.4, 0.4),
            first_only: false,
        }
    }
}

impl AttributionSpec {
    fn heuristic(&self, k: ModelKind) -> Option<Heuristic> {
        Some(match k {
            ModelKind::First => Heuristic::First,
            ModelKind::Last => Heuristic::Last,
            ModelKind::Linear => Heuristic::Linear,
            ModelKind::TimeDecay => Heuristic::TimeDecay { half_life_days: self.half_life_days },
            ModelKind::Position => Heuristic::Position { first: self.position.0, last: self.position.1 },
            ModelKind::Markov | ModelKind::Shapley => return None,
        })
    }
}

/// Path counts and heuristic credit of a set of customers.
#[derive(Debug, Clone, Default)]
pub struct AttributionPartial {
    /// Distinct path → (conversions, value, nulls).
    pub paths: HashMap<Vec<u32>, (u64, f64, u64)>,
    /// Credit of each heuristic, in [`ModelKind::ALL`] order.
    pub heuristics: Vec<Credit>,
    pub conversions: u64,
    pub value: f64,
    pub customers: u64,
    pub touches: u64,
}

pub struct AttributionFold<'m> {
    model: &'m Model,
    scope: &'m Scope,
    spec: &'m AttributionSpec,
    is_conversion: Vec<bool>,
    heuristics: Vec<Heuristic>,
}

impl Fold for AttributionFold<'_> {
    type Partial = AttributionPartial;
    type Scratch = ();
    type Report = AttributionReport;

    fn columns(&self) -> Vec<Col> {
        let mut c = self.model.timeline_columns();
        c.push(Col::Revenue);
        c
    }

    fn init(&self) -> AttributionPartial {
        AttributionPartial {
            heuristics: vec![Credit::new(self.model.channels.len()); ModelKind::HEURISTICS],
            ..AttributionPartial::default()
        }
    }

    fn fold(&self, p: &mut AttributionPartial, _: &mut (), span: Span<'_>) {
        let Some(t) = Timeline::build(self.model, self.scope, span) else { return };
        let m = self.model;
        p.customers += 1;
        let mut touches: Vec<(u32, i64)> = Vec::new();
        let (mut path, mut ages, mut w) = (Vec::new(), Vec::new(), Vec::new());
        for (j, &r) in t.idx.iter().enumerate() {
            let e = t.rows.event[r];
            let ts = t.rows.ts[r];
            if self.is_conversion.get(e as usize).copied().unwrap_or(false) {
                let value = t.rows.f64_at(Col::Revenue, r).unwrap_or(0.0);
                if let Some(lb) = self.spec.lookback {
                    touches.retain(|&(_, at)| ts - at <= lb);
                }
                if touches.is_empty() && t.channel[j] != NO_CHANNEL {
                    touches.push((t.channel[j], ts));
                }
                p.conversions += 1;
                p.value += value;
                if touches.is_empty() {
                    if self.spec.first_only {
                        return;
                    }
                    continue;
                }
                path.clear();
                path.extend(touches.iter().map(|x| x.0));
                ages.clear();
                ages.extend(touches.iter().map(|x| (ts - x.1) as f64 / MICROS_PER_DAY as f64));
                for (credit, h) in p.heuristics.iter_mut().zip(&self.heuristics) {
                    h.weights(&ages, &mut w);
                    for (&c, &wi) in path.iter().zip(&w) {
                        credit.add(c, wi, value);
                    }
                }
                let entry = p.paths.entry(path.clone()).or_insert((0, 0.0, 0));
                entry.0 += 1;
                entry.1 += value;
                touches.clear();
                if self.spec.first_only {
                    return;
                }
                continue;
            }
            let own = t.rows.channel[r];
            let session_start = j == 0 || t.session[j] != t.session[j - 1];
            if own != NO_CHANNEL {
                touches.push((own, ts));
                p.touches += 1;
            } else if session_start && t.channel[j] == m.direct && m.direct != NO_CHANNEL {
                touches.push((m.direct, ts));
                p.touches += 1;
            }
        }
        if !touches.is_empty() {
            let key: Vec<u32> = touches.iter().map(|x| x.0).collect();
            p.paths.entry(key).or_insert((0, 0.0, 0)).2 += 1;
        }
    }

    fn merge(&self, mut a: AttributionPartial, b: AttributionPartial) -> AttributionPartial {
        if a.paths.len() < b.paths.len() {
            return self.merge(b, a);
        }
        for (k, (c, v, n)) in b.paths {
            let e = a.paths.entry(k).or_insert((0, 0.0, 0));
            e.0 += c;
            e.1 += v;
            e.2 += n;
        }
        for (x, y) in a.heuristics.iter_mut().zip(&b.heuristics) {
            x.merge(y);
        }
        a.conversions += b.conversions;
        a.value += b.value;
        a.customers += b.customers;
        a.touches += b.touches;
        a
    }

    /// The heuristics' credit, and Markov and Shapley on the merged path counts.
    fn finish(&self, p: AttributionPartial) -> AttributionReport {
        report(self.model, self.spec, &p)
    }
}

/// One channel's credit under one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelCredit {
    pub channel: String,
    pub conversions: f64,
    pub value: f64,
    /// Share of all attributed conversions.
    pub share: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removal_effect: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removal_effect_value: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelResult {
    pub model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<usize>,
    pub total_conversions: f64,
    pub total_value: f64,
    /// Markov: transient states of the chain; P(conversion) from (start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub states: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_conversion: Option<f64>,
    pub channels: Vec<ChannelCredit>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributionReport {
    pub conversion_event: String,
    pub lookback_days: Option<f64>,
    pub first_conversion_only: bool,
    pub customers: u64,
    pub total_conversions: f64,
    pub total_value: f64,
    /// Conversions with no touch at all (not credited to any channel).
    pub unattributed_conversions: u64,
    pub converting_paths: u64,
    pub null_paths: u64,
    pub distinct_paths: u64,
    pub touches: u64,
    pub models: Vec<ModelResult>,
}

/// The distinct paths of a scope, for Markov and Shapley (and benchmarks).
pub fn paths(partial: &AttributionPartial) -> Vec<Path> {
    let mut v: Vec<Path> = partial
        .paths
        .iter()
        .map(|(k, &(c, val, n))| Path { channels: k.clone(), conversions: c, value: val, nulls: n })
        .collect();
    // A fixed order makes the chain (and its floating-point sums) repeatable.
    v.sort_by(|a, b| a.channels.cmp(&b.channels));
    v
}

impl<'m> AttributionFold<'m> {
    pub fn new(
        model: &'m Model,
        scope: &'m Scope,
        spec: &'m AttributionSpec,
    ) -> Result<AttributionFold<'m>, EngineError> {
        if !(1..=3).contains(&spec.order) {
            return Err(EngineError::InvalidQuery(format!("Markov order must be 1, 2 or 3, not {}", spec.order)));
        }
        let is_conversion = model.events_matching(&spec.conversion, "--conversion")?;
        let heuristics = ModelKind::ALL[..ModelKind::HEURISTICS].iter().filter_map(|&k| spec.heuristic(k)).collect();
        Ok(AttributionFold { model, scope, spec, is_conversion, heuristics })
    }
}

/// Attributes a scope's conversions to channels by each requested model.
pub fn attribution(
    store: &Store,
    model: &Model,
    scope: &Scope,
    spec: &AttributionSpec,
) -> Result<AttributionReport, EngineError> {
    fold::report(store, &AttributionFold::new(model, scope, spec)?)
}

fn report(model: &Model, spec: &AttributionSpec, partial: &AttributionPartial) -> AttributionReport {
    let channels = model.channels.len();
    let paths = paths(partial);
    let converting: u64 = paths.iter().map(|p| p.conversions).sum();
    let nulls: u64 = paths.iter().map(|p| p.nulls).sum();
    let attributed_value: f64 = paths.iter().map(|p| p.value).sum();
    let mut models = Vec::new();
    for &k in &spec.models {
        let mut result = ModelResult {
            model: k.name().to_string(),
            order: None,
            total_conversions: converting as f64,
            total_value: attributed_value,
            states: None,
            p_conversion: None,
            channels: Vec::new(),
        };
        let (credit, re, rev) = match k {
            ModelKind::Markov => {
                let m = models::markov(&paths, channels, spec.order);
                result.order = Some(spec.order);
                result.states = Some(m.states);
                result.p_conversion = Some(m.p_conversion);
                (m.credit, Some(m.removal_effect), Some(m.removal_effect_value))
            }
            ModelKind::Shapley => (models::shapley(&paths, channels).credit, None, None),
            h => {
                let i = ModelKind::ALL.iter().position(|&x| x == h).unwrap_or(0);
                (partial.heuristics[i].clone(), None, None)
            }
        };
        let total: f64 = credit.conversions.iter().sum();
        let touched = touched_channels(&paths, channels);
        for c in 0..channels.min(credit.conversions.len()) {
            if !touched[c] {
                continue;
            }
            result.channels.push(ChannelCredit {
                channel: model.channel_name(c as u32).to_string(),
                conversions: credit.conversions[c],
                value: credit.value[c],
                share: if total != 0.0 { credit.conversions[c] / total } else { 0.0 },
                removal_effect: re.as_ref().map(|v| v[c]),
                removal_effect_value: rev.as_ref().map(|v| v[c]),
            });
        }
        result.channels.sort_by(|a, b| b.conversions.total_cmp(&a.conversions).then_with(|| a.channel.cmp(&b.channel)));
        models.push(result);
    }
    AttributionReport {
        conversion_event: spec.conversion.clone(),
        lookback_days: spec.lookback.map(|l| l as f64 / MICROS_PER_DAY as f64),
        first_conversion_only: spec.first_only,
        customers: partial.customers,
        total_conversions: partial.conversions as f64,
        total_value: partial.value,
        unattributed_conversions: partial.conversions - converting,
        converting_paths: converting,
        null_paths: nulls,
        distinct_paths: paths.len() as u64,
        touches: partial.touches,
        models,
    }
}

fn touched_channels(paths: &[Path], channels: usize) -> Vec<bool> {
    let mut t = vec![false; channels];
    for p in paths {
        for &c in &p.channels {
            if let Some(x) = t.get_mut(c as usize) {
                *x = true;
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ev, model, store, with};

    /// The merged partial of a scope (the fold without its finish).
    fn collect(s: &Store, m: &Model, scope: &Scope, spec: &AttributionSpec) -> Result<AttributionPartial, EngineError> {
        fold::run(s, &AttributionFold::new(m, scope, spec)?)
    }

    fn touch(u: &str, minutes: f64, channel: &str) -> wayfarer_core::Event {
        with(ev(u, minutes, "Page Viewed"), |e| e.channel = Some(channel.into()))
    }

    fn order(u: &str, minutes: f64, revenue: f64) -> wayfarer_core::Event {
        with(ev(u, minutes, "Order Completed"), |e| e.revenue = Some(revenue))
    }

    #[test]
    fn paths_are_cut_at_conversions_and_the_rest_is_null() {
        let (_d, s) = store(vec![
            touch("a", 0.0, "Paid Search"),
            touch("a", 100.0, "Email"),
            order("a", 101.0, 50.0),
            touch("a", 5000.0, "Email"),
            order("a", 5001.0, 30.0),
            touch("a", 9000.0, "Display"),
            touch("b", 0.0, "Display"),
            touch("b", 10.0, "Display"),
        ]);
        let m = model(&s);
        let spec = AttributionSpec { models: vec![ModelKind::Last, ModelKind::Markov], ..AttributionSpec::default() };
        let part = collect(&s, &m, &Scope::default(), &spec).unwrap();
        let name = |p: &Vec<u32>| p.iter().map(|&c| m.channel_name(c)).collect::<Vec<_>>().join(">");
        let mut got: Vec<(String, (u64, f64, u64))> = part.paths.iter().map(|(k, v)| (name(k), *v)).collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            got,
            vec![
                ("Display".to_string(), (0, 0.0, 1)),
                ("Display>Display".to_string(), (0, 0.0, 1)),
                ("Email".to_string(), (1, 30.0, 0)),
                ("Paid Search>Email".to_string(), (1, 50.0, 0)),
            ]
        );
        let r = report(&m, &spec, &part);
        assert_eq!(r.total_conversions, 2.0);
        assert_eq!(r.total_value, 80.0);
        let last = &r.models[0];
        assert_eq!(last.channels[0].channel, "Email");
        assert_eq!(last.channels[0].conversions, 2.0);
        assert_eq!(last.channels[0].value, 80.0);
        // Markov: Display never converts, so its removal changes nothing.
        let markov = &r.models[1];
        let display = markov.channels.iter().find(|c| c.channel == "Display").unwrap();
        assert_eq!(display.removal_effect, Some(0.0));
        let email = markov.channels.iter().find(|c| c.channel == "Email").unwrap();
        assert_eq!(email.removal_effect, Some(1.0));
    }

    #[test]
    fn lookback_drops_old_touches_and_time_decay_favours_recent_ones() {
        let day = 24.0 * 60.0;
        let (_d, s) = store(vec![
            touch("a", 0.0, "Paid Search"),
            touch("a", 20.0 * day, "Email"),
            touch("a", 27.0 * day, "Display"),
            order("a", 27.0 * day + 1.0, 100.0),
        ]);
        let m = model(&s);
        let spec = AttributionSpec {
            models: vec![ModelKind::TimeDecay, ModelKind::First],
            lookback: Some(10 * MICROS_PER_DAY),
            ..AttributionSpec::default()
        };
        let r = attribution(&s, &m, &Scope::default(), &spec).unwrap();
        let decay = &r.models[0];
        assert!(decay.channels.iter().all(|c| c.channel != "Paid Search"), "{:?}", decay.channels);
        // Email is 7 days older than Display: half its weight.
        let get = |name: &str| decay.channels.iter().find(|c| c.channel == name).unwrap().conversions;
        assert!((get("Display") - 2.0 / 3.0).abs() < 1e-6, "{:?}", decay.channels);
        assert!((get("Email") - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(r.models[1].channels[0].channel, "Email");
    }

    #[test]
    fn a_conversion_without_touches_takes_its_sessions_channel() {
        let (_d, s) = store(vec![touch("a", 0.0, "Referral"), order("a", 1.0, 10.0), order("a", 2.0, 20.0)]);
        let m = model(&s);
        let r = attribution(&s, &m, &Scope::default(), &AttributionSpec::default()).unwrap();
        assert_eq!(r.converting_paths, 2);
        let first = &r.models[0];
        assert_eq!(first.channels.len(), 1);
        assert_eq!(first.channels[0].channel, "Referral");
        assert_eq!(first.channels[0].value, 30.0);
    }

    #[test]
    fn unknown_conversion_events_and_orders_are_refused() {
        let (_d, s) = store(vec![touch("a", 0.0, "Referral")]);
        let m = model(&s);
        let spec = AttributionSpec { conversion: "Signed Up".into(), ..AttributionSpec::default() };
        assert!(collect(&s, &m, &Scope::default(), &spec).unwrap_err().to_string().contains("Signed Up"));
        let spec = AttributionSpec { order: 4, conversion: "Page Viewed".into(), ..AttributionSpec::default() };
        assert!(collect(&s, &m, &Scope::default(), &spec).unwrap_err().to_string().contains("order"));
    }
}
