//! Customer lifetime value: historic (revenue to date, per customer and by
//! acquisition cohort, first-touch channel and persona) and predicted, with
//! BG/NBD and Gamma-Gamma fitted on the calibration period's RFM inputs
//! ([`crate::rfm`]).
//!
//! Predicted CLV follows the `lifetimes` package: over the horizon cut into
//! months (30 days; 30/7 weeks), CLV = Σₖ spend × (E[X(k months)] −
//! E[X(k−1 months)]) / (1 + discount rate)ᵏ, where E[X(t)] is the expected
//! number of purchases in the next t given the customer's history and
//! spend is the Gamma-Gamma expected spend per purchase.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use wayfarer_core::Kind;
use wayfarer_core::glob::glob_match;
use wayfarer_core::time::{MICROS_PER_DAY, format_date};
use wayfarer_models::clv::{BgNbd, GammaGamma, Rfm};
use wayfarer_models::stats::quantile;
use wayfarer_store::{Col, Store};

use crate::fold::{self, Fold, Span};
use crate::model::Model;
use crate::period::Period;
use crate::rfm::{self, RfmSpec, Unit};
use crate::timeline::Timeline;
use crate::{EngineError, Scope};

impl ClvSpec {
    /// The defaults of `wayfarer clv`: the configured purchase event, weeks,
    /// a year's horizon, 1% discount a month, to the end of the data.
    pub fn defaults(model: &Model) -> ClvSpec {
        ClvSpec {
            event: model.config.journey.purchase_event.clone(),
            calibration_end: None,
            unit: Unit::Week,
            horizon: 52.0,
            discount_rate: 0.01,
            all_customers: false,
            top: None,
            historic: true,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClvSpec {
    pub event: String,
    pub calibration_end: Option<i64>,
    pub unit: Unit,
    /// Horizon of the prediction, in units.
    pub horizon: f64,
    /// Discount rate per month.
    pub discount_rate: f64,
    /// Keep every customer's row (else only the top ones, if any).
    pub all_customers: bool,
    /// Keep the N customers with the highest predicted CLV.
    pub top: Option<usize>,
    /// Also the historic value and its groups (by cohort, first channel,
    /// persona): one more pass over the data, which predictions alone (the
    /// map's) do not need.
    pub historic: bool,
}

/// One customer's value to date and what it is grouped by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CustomerValue {
    pub customer: u32,
    pub revenue: f64,
    pub orders: u32,
    pub first_seen: i64,
    pub first_channel: u32,
    pub persona: Option<usize>,
}

#[derive(Debug, Clone, Default)]
pub struct ValuePartial {
    pub customers: Vec<CustomerValue>,
}

pub struct ValueFold<'m> {
    model: &'m Model,
    scope: &'m Scope,
    is_purchase: Vec<bool>,
}

impl<'m> ValueFold<'m> {
    /// Each customer's historic value from the purchase events `event` (a glob).
    pub fn new(model: &'m Model, scope: &'m Scope, event: &str) -> ValueFold<'m> {
        ValueFold { model, scope, is_purchase: model.event_names.iter().map(|n| glob_match(event, n)).collect() }
    }
}

impl Fold for ValueFold<'_> {
    type Partial = ValuePartial;
    type Scratch = ();
    type Report = Vec<CustomerValue>;

    fn columns(&self) -> Vec<Col> {
        let mut c = self.model.timeline_columns();
        c.push(Col::Revenue);
        c
    }

    fn init(&self) -> ValuePartial {
        ValuePartial::default()
    }

    fn fold(&self, p: &mut ValuePartial, _: &mut (), span: Span<'_>) {
        let Some(t) = Timeline::build(self.model, self.scope, span) else { return };
        let (mut revenue, mut orders) = (0.0, 0u32);
        for &r in &t.idx {
            if self.is_purchase.get(t.rows.event[r] as usize).copied().unwrap_or(false)
                && Kind::code_is_interaction(t.rows.kind[r])
            {
                orders += 1;
                revenue += t.rows.f64_at(Col::Revenue, r).unwrap_or(0.0);
            }
        }
        let first_channel = t.first_channel();
        p.customers.push(CustomerValue {
            customer: t.customer,
            revenue,
            orders,
            first_seen: t.first_ts(),
            first_channel,
            persona: t.persona,
        });
    }

    fn merge(&self, mut a: ValuePartial, b: ValuePartial) -> ValuePartial {
        a.customers.extend(b.customers);
        a
    }

    /// Every purchasing customer's value, by customer.
    fn finish(&self, p: ValuePartial) -> Vec<CustomerValue> {
        let mut v = p.customers;
        v.sort_by_key(|c| c.customer);
        v
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueGroup {
    pub group: String,
    pub customers: u64,
    pub purchasers: u64,
    pub revenue: f64,
    pub mean: f64,
    pub median_purchaser: Option<f64>,
    pub mean_predicted_clv: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Historic {
    pub customers: u64,
    pub purchasers: u64,
    pub revenue: f64,
    pub mean: f64,
    pub median_purchaser: Option<f64>,
    pub by_cohort: Vec<ValueGroup>,
    pub by_first_channel: Vec<ValueGroup>,
    pub by_persona: Vec<ValueGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerClv {
    pub customer_id: String,
    pub frequency: u32,
    pub recency: f64,
    #[serde(rename = "T")]
    pub t: f64,
    pub monetary: f64,
    pub expected_purchases: f64,
    pub p_alive: f64,
    pub expected_spend: f64,
    pub clv: f64,
    pub historic_revenue: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predicted {
    pub customers: u64,
    pub expected_purchases: f64,
    pub clv: f64,
    pub mean_clv: f64,
    pub median_clv: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClvReport {
    pub unit: Unit,
    pub calibration_end: String,
    pub horizon: f64,
    pub discount_rate: f64,
    pub customers: u64,
    pub repeat_customers: u64,
    pub bgnbd: Option<BgNbd>,
    pub gamma_gamma: Option<GammaGamma>,
    pub notes: Vec<String>,
    /// Whether any purchase carries revenue; without it purchases are
    /// predicted but no value in money.
    #[serde(default = "has_revenue_default")]
    pub has_revenue: bool,
    pub historic: Historic,
    pub predicted: Option<Predicted>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub customer_values: Vec<CustomerClv>,
    /// Predicted CLV of every purchasing customer (for the journey map).
    #[serde(skip)]
    pub predicted_by_customer: std::sync::Arc<HashMap<u32, f64>>,
    /// P(alive) of every purchasing customer (for segments).
    #[serde(skip)]
    pub p_alive_by_customer: std::sync::Arc<HashMap<u32, f64>>,
}

fn has_revenue_default() -> bool {
    true
}

/// BG/NBD's `a + b` beyond which the fit ran to the boundary: every
/// customer gets the same dropout probability, the data cannot tell them
/// apart.
pub const DEGENERATE_AB: f64 = 1e4;

/// Months in one unit's worth of the `lifetimes` convention.
fn units_per_month(unit: Unit) -> f64 {
    match unit {
        Unit::Day => 30.0,
        Unit::Week => 4.345,
    }
}

/// Predicted CLV of one customer (see the module documentation).
pub fn predicted_clv(m: &BgNbd, spend: f64, c: &Rfm, horizon: f64, unit: Unit, discount_rate: f64) -> f64 {
    spend * discounted_purchases(m, c, horizon, unit, discount_rate)
}

/// Σₖ (E[X(k months)] − E[X(k−1 months)]) / (1 + d)^k: the expected
/// purchases over the horizon, each month's discounted (CLV = spend × this).
pub fn discounted_purchases(m: &BgNbd, c: &Rfm, horizon: f64, unit: Unit, discount_rate: f64) -> f64 {
    let step = units_per_month(unit);
    let months = (horizon / step).round().max(1.0) as u32;
    let mut total = 0.0;
    let mut prev = 0.0;
    for k in 1..=months {
        let cum = m.conditional_expected_purchases(k as f64 * step, c);
        total += (cum - prev) / (1.0 + discount_rate).powi(k as i32);
        prev = cum;
    }
    total
}

/// A purchasing customer's prediction (the row of `rows` it belongs to).
struct Prediction {
    row: usize,
    expected_purchases: f64,
    p_alive: f64,
    spend: f64,
    clv: f64,
}

pub fn clv(store: &Store, model: &Model, scope: &Scope, spec: &ClvSpec) -> Result<ClvReport, EngineError> {
    let rfm_spec = RfmSpec {
        event: spec.event.clone(),
        calibration_end: spec.calibration_end,
        unit: spec.unit,
        keep_customers: true,
    };
    let (summary, rows) = rfm::rfm(store, model, scope, &rfm_spec)?;
    let mut notes = Vec::new();
    let data: Vec<Rfm> = rows.iter().map(|r| Rfm { x: r.frequency as f64, t_x: r.recency, t: r.t }).collect();
    let bgnbd = if data.len() >= 20 {
        match BgNbd::fit(&data) {
            Ok(m) => {
                if m.a + m.b > DEGENERATE_AB {
                    notes.push(format!(
                        "BG/NBD: a and b ran to the boundary (a = {:.3e}, b = {:.3e}): with {} repeat customers the data cannot tell customers' dropout rates apart, so P(alive) and the predictions are rough",
                        m.a,
                        m.b,
                        rows.iter().filter(|r| r.frequency > 0).count()
                    ));
                }
                Some(m)
            }
            Err(e) => {
                notes.push(format!("BG/NBD: {e}"));
                None
            }
        }
    } else {
        notes.push(format!("BG/NBD needs at least 20 purchasing customers; there are {}", data.len()));
        None
    };
    let spend_data: Vec<(f64, f64)> =
        rows.iter().filter(|r| r.frequency > 0).map(|r| (r.frequency as f64, r.monetary)).collect();
    let gamma_gamma = if spend_data.len() >= 20 {
        match GammaGamma::fit(&spend_data) {
            Ok(g) if g.q > 1.0 => Some(g),
            Ok(_) => {
                notes.push(
                    "Gamma-Gamma: q ≤ 1, the mean spend is undefined; spend uses each customer's own mean".into(),
                );
                None
            }
            Err(e) => {
                notes.push(format!("Gamma-Gamma: {e}"));
                None
            }
        }
    } else {
        notes.push(format!("Gamma-Gamma needs at least 20 repeat customers; there are {}", spend_data.len()));
        None
    };

    // Historic value, and the groups it is broken down by.
    let values =
        if spec.historic { fold::report(store, &ValueFold::new(model, scope, &spec.event))? } else { Vec::new() };
    let ids = store.identity_shared()?;

    let has_revenue =
        rows.iter().any(|r| r.monetary != 0.0 || r.mean_order_value != 0.0) || values.iter().any(|v| v.revenue != 0.0);
    if !has_revenue {
        notes.push(
            "no purchase carries revenue: purchases and P(alive) are predicted, value in money cannot be (import a `revenue` column, or properties.revenue or total in Segment messages)".into(),
        );
    }
    let mut predicted: Vec<Prediction> = Vec::new();
    let mut clv_of: HashMap<u32, f64> = HashMap::new();
    let mut alive_of: HashMap<u32, f64> = HashMap::new();
    if let Some(m) = &bgnbd {
        let pop_spend = spend_data.iter().map(|x| x.1).sum::<f64>() / spend_data.len().max(1) as f64;
        // The purchase forecasts depend on (x, t_x, T) alone: computed once
        // per distinct triple, in parallel.
        let key = |c: &Rfm| [c.x.to_bits(), c.t_x.to_bits(), c.t.to_bits()];
        let mut distinct: Vec<Rfm> = data.clone();
        distinct.sort_by_key(key);
        distinct.dedup_by_key(|c| key(c));
        let forecasts: Vec<(f64, f64, f64)> = distinct
            .par_iter()
            .map(|c| {
                (
                    discounted_purchases(m, c, spec.horizon, spec.unit, spec.discount_rate),
                    m.conditional_expected_purchases(spec.horizon, c),
                    m.p_alive(c),
                )
            })
            .collect();
        let forecast_of: HashMap<[u64; 3], (f64, f64, f64)> =
            distinct.iter().map(key).zip(forecasts.iter().copied()).collect();
        predicted.reserve(rows.len());
        clv_of.reserve(rows.len());
        for (row, (r, c)) in rows.iter().zip(&data).enumerate() {
            let spend = match &gamma_gamma {
                Some(g) => g.expected_spend(c.x, r.monetary),
                None if r.frequency > 0 => r.monetary,
                None => pop_spend.max(r.mean_order_value),
            };
            let (discounted, expected_purchases, p_alive) = forecast_of[&key(c)];
            let clv = spend * discounted;
            if has_revenue {
                clv_of.insert(r.customer, clv);
            }
            alive_of.insert(r.customer, p_alive);
            predicted.push(Prediction { row, expected_purchases, p_alive, spend, clv });
        }
    }
    let revenue_of: HashMap<u32, f64> = values.iter().map(|v| (v.customer, v.revenue)).collect();

    let group = |name: String, members: &[&CustomerValue]| -> ValueGroup {
        let revenue: f64 = members.iter().map(|m| m.revenue).sum();
        let mut purchasers: Vec<f64> = members.iter().filter(|m| m.orders > 0).map(|m| m.revenue).collect();
        let pred: Vec<f64> = members.iter().filter_map(|m| clv_of.get(&m.customer).copied()).collect();
        ValueGroup {
            group: name,
            customers: members.len() as u64,
            purchasers: purchasers.len() as u64,
            revenue,
            mean: if members.is_empty() { 0.0 } else { revenue / members.len() as f64 },
            median_purchaser: quantile(&mut purchasers, 0.5),
            mean_predicted_clv: (!pred.is_empty()).then(|| pred.iter().sum::<f64>() / pred.len() as f64),
        }
    };
    let grouped = |key: &dyn Fn(&CustomerValue) -> String| -> Vec<ValueGroup> {
        let mut map: HashMap<String, Vec<&CustomerValue>> = HashMap::new();
        for v in &values {
            map.entry(key(v)).or_default().push(v);
        }
        let mut out: Vec<ValueGroup> = map.into_iter().map(|(k, m)| group(k, &m)).collect();
        out.sort_by(|a, b| a.group.cmp(&b.group));
        out
    };
    let by_cohort = grouped(&|v| Period::Month.label(Period::Month.number(v.first_seen)));
    let mut by_first_channel = grouped(&|v| model.channel_name(v.first_channel).to_string());
    by_first_channel.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.group.cmp(&b.group)));
    let by_persona = if model.personas.is_empty() {
        Vec::new()
    } else {
        grouped(&|v| v.persona.map_or_else(|| "Unassigned".to_string(), |i| model.personas[i].0.clone()))
    };
    let all: Vec<&CustomerValue> = values.iter().collect();
    let overall = group("all".into(), &all);

    let predicted_totals = (!predicted.is_empty()).then(|| {
        let mut clvs: Vec<f64> = predicted.iter().map(|p| p.clv).collect();
        let total: f64 = clvs.iter().sum();
        Predicted {
            customers: predicted.len() as u64,
            expected_purchases: predicted.iter().map(|p| p.expected_purchases).sum(),
            clv: total,
            mean_clv: total / predicted.len() as f64,
            median_clv: quantile(&mut clvs, 0.5),
        }
    });
    let mut customer_values: Vec<CustomerClv> = Vec::new();
    if spec.all_customers || spec.top.is_some() {
        customer_values = predicted
            .iter()
            .map(|p| {
                let r = &rows[p.row];
                CustomerClv {
                    customer_id: ids.external_id(r.customer).to_string(),
                    frequency: r.frequency,
                    recency: r.recency,
                    t: r.t,
                    monetary: r.monetary,
                    expected_purchases: p.expected_purchases,
                    p_alive: p.p_alive,
                    expected_spend: p.spend,
                    clv: p.clv,
                    historic_revenue: revenue_of.get(&r.customer).copied().unwrap_or(0.0),
                }
            })
            .collect();
        if let Some(n) = spec.top {
            customer_values.sort_by(|a, b| b.clv.total_cmp(&a.clv).then_with(|| a.customer_id.cmp(&b.customer_id)));
            customer_values.truncate(n);
        }
    }
    let end = spec.calibration_end.unwrap_or(model.data_end);
    Ok(ClvReport {
        unit: spec.unit,
        calibration_end: format_date(end.div_euclid(MICROS_PER_DAY) * MICROS_PER_DAY),
        horizon: spec.horizon,
        discount_rate: spec.discount_rate,
        customers: summary.customers,
        repeat_customers: summary.repeat_customers,
        bgnbd,
        gamma_gamma,
        notes,
        has_revenue,
        historic: Historic {
            customers: overall.customers,
            purchasers: overall.purchasers,
            revenue: overall.revenue,
            mean: overall.mean,
            median_purchaser: overall.median_purchaser,
            by_cohort,
            by_first_channel,
            by_persona,
        },
        predicted: predicted_totals,
        customer_values,
        predicted_by_customer: std::sync::Arc::new(clv_of),
        p_alive_by_customer: std::sync::Arc::new(alive_of),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ev, model, store, with};

    #[test]
    fn predictions_alone_match_the_full_report() {
        let mut events = Vec::new();
        for c in 0..80u32 {
            let u = format!("c{c}");
            events.push(ev(&u, 0.0, "Page Viewed"));
            for k in 0..(c % 5) {
                let minutes = (k as f64 + 1.0) * 1440.0 * (3.0 + (c % 7) as f64);
                events.push(with(ev(&u, minutes, "Order Completed"), |e| e.revenue = Some(20.0 + (c * k) as f64)));
            }
        }
        let (_d, s) = store(events);
        let m = model(&s);
        let full = clv(&s, &m, &Scope::default(), &ClvSpec::defaults(&m)).unwrap();
        let alone = clv(&s, &m, &Scope::default(), &ClvSpec { historic: false, ..ClvSpec::defaults(&m) }).unwrap();
        assert!(full.has_revenue && alone.has_revenue);
        assert!(!full.predicted_by_customer.is_empty());
        assert_eq!(full.predicted_by_customer, alone.predicted_by_customer);
        assert!(full.historic.customers > 0 && alone.historic.customers == 0, "the historic pass was skipped");
    }
}
