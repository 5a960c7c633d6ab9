//! RFM inputs per customer, as Fader, Hardie & Lee define them for BG/NBD:
//! frequency = distinct purchase days − 1 (purchases on one day count once),
//! recency = last − first purchase day, T = calibration end − first purchase
//! day, both in the chosen unit (days, or days / 7 for weeks); monetary =
//! mean value of the repeat purchase days (same-day purchases summed), and
//! for convenience the plain mean order value over every purchase.

use serde::{Deserialize, Serialize};
use wayfarer_core::Kind;
use wayfarer_core::glob::glob_match;
use wayfarer_core::time::MICROS_PER_DAY;
use wayfarer_store::{Col, Store};

use crate::fold::{self, Fold, PostingsPlan, Span};
use crate::model::Model;
use crate::timeline::Timeline;
use crate::{EngineError, Scope};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Day,
    Week,
}

impl Unit {
    pub fn days(self) -> f64 {
        match self {
            Unit::Day => 1.0,
            Unit::Week => 7.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RfmSpec {
    /// The purchase event (glob); default: the configured purchase event.
    pub event: String,
    /// Purchases after this instant are ignored; T is measured to it.
    /// Default: the end of the data.
    pub calibration_end: Option<i64>,
    pub unit: Unit,
    /// Keep every customer's row (else only the summary).
    pub keep_customers: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerRfm {
    pub customer: u32,
    pub frequency: u32,
    pub recency: f64,
    pub t: f64,
    pub monetary: f64,
    pub mean_order_value: f64,
    pub orders: u32,
    pub revenue: f64,
    /// First purchase instant (µs).
    pub first_purchase: i64,
}

/// Mergeable sums (and optionally the rows).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct RfmPartial {
    pub customers: u64,
    pub repeat_customers: u64,
    pub frequency: u64,
    pub recency_days: i64,
    pub t_days: i64,
    pub mean_order_value: f64,
    pub rows: Vec<CustomerRfm>,
}

pub struct RfmFold<'m> {
    model: &'m Model,
    scope: &'m Scope,
    spec: &'m RfmSpec,
    is_purchase: Vec<bool>,
    end_day: i64,
    persona: Option<usize>,
}

impl<'m> RfmFold<'m> {
    pub fn new(model: &'m Model, scope: &'m Scope, spec: &'m RfmSpec) -> Result<RfmFold<'m>, EngineError> {
        let end = spec.calibration_end.unwrap_or(model.data_end);
        Ok(RfmFold {
            model,
            scope,
            spec,
            is_purchase: model.event_names.iter().map(|n| glob_match(&spec.event, n)).collect(),
            end_day: end.div_euclid(MICROS_PER_DAY),
            persona: model.resolve_persona(scope.persona.as_deref())?,
        })
    }
}

impl Fold for RfmFold<'_> {
    type Partial = RfmPartial;
    type Scratch = ();
    type Report = (RfmSummary, Vec<CustomerRfm>);

    fn wire(&self) -> Option<crate::fold::Wire<Self::Partial>> {
        Some(crate::fold::Wire::serde())
    }

    fn columns(&self) -> Vec<Col> {
        let mut c = if self.persona.is_some() {
            self.model.timeline_columns()
        } else {
            vec![Col::Timestamp, Col::EventCode, Col::KindCode]
        };
        c.push(Col::Revenue);
        c
    }

    fn init(&self) -> RfmPartial {
        RfmPartial::default()
    }

    fn fold(&self, p: &mut RfmPartial, _: &mut (), span: Span<'_>) {
        if self.persona.is_some() {
            match Timeline::build(self.model, self.scope, span) {
                Some(t) if t.persona == self.persona => {}
                _ => return,
            }
        }
        let rows = span.rows;
        let mut acc = Purchases::default();
        // Walk the sparse revenue list alongside the rows.
        let mut rv = rows.rev_rows.partition_point(|&r| (r as usize) < span.start);
        for r in span.start..span.end {
            let code = rows.event[r] as usize;
            let ts = rows.ts[r];
            if !self.is_purchase.get(code).copied().unwrap_or(false)
                || !Kind::code_is_interaction(rows.kind[r])
                || !self.counts(ts)
            {
                continue;
            }
            while rv < rows.rev_rows.len() && (rows.rev_rows[rv] as usize) < r {
                rv += 1;
            }
            let value =
                if rv < rows.rev_rows.len() && rows.rev_rows[rv] as usize == r { rows.rev_vals[rv] } else { 0.0 };
            acc.add(ts, value);
        }
        self.finish_customer(p, span.customer, &acc);
    }

    fn merge(&self, mut a: RfmPartial, b: RfmPartial) -> RfmPartial {
        a.customers += b.customers;
        a.repeat_customers += b.repeat_customers;
        a.frequency += b.frequency;
        a.recency_days += b.recency_days;
        a.t_days += b.t_days;
        a.mean_order_value += b.mean_order_value;
        a.rows.extend(b.rows);
        a
    }

    /// The summary, and every purchasing customer's row by customer.
    fn finish(&self, mut p: RfmPartial) -> (RfmSummary, Vec<CustomerRfm>) {
        p.rows.sort_by_key(|r| r.customer);
        (self.summary(&p), p.rows)
    }

    /// From the purchase events' postings (with revenue), unless a persona
    /// is asked for (it needs timelines).
    fn postings(&self) -> Option<PostingsPlan> {
        let codes = (0..self.is_purchase.len() as u32).filter(|&c| self.is_purchase[c as usize]).collect();
        self.persona.is_none().then_some(PostingsPlan { codes, revenue: true })
    }

    /// Folds one partition from the purchase events' postings.
    fn fold_postings(&self, p: &mut RfmPartial, _: &mut (), post: &wayfarer_store::Postings) {
        let mut rv = 0usize;
        let mut sorted: Vec<(u32, i64)> = Vec::new();
        fold::walk_postings_ranges(post, |t, ranges| {
            let mut acc = Purchases::default();
            let mut add = |r: u32, ts: i64| {
                if self.counts(ts) {
                    rv += fold::count_below(&post.rev_rows[rv..], r);
                    let value = if post.rev_rows.get(rv) == Some(&r) { post.rev_vals[rv] } else { 0.0 };
                    acc.add(ts, value);
                }
            };
            if let [(list, range)] = ranges {
                // One purchase event (or one of them in this timeline): its
                // items are already in time order.
                let (_, rows, ts) = &post.lists[*list];
                for c in range.clone() {
                    add(rows[c], ts[c]);
                }
            } else {
                sorted.clear();
                for (list, range) in ranges {
                    let (_, rows, ts) = &post.lists[*list];
                    sorted.extend(range.clone().map(|c| (rows[c], ts[c])));
                }
                sorted.sort_unstable();
                for &(r, ts) in &sorted {
                    add(r, ts);
                }
            }
            self.finish_customer(p, post.customers[t], &acc);
        });
    }
}

/// One customer's purchases, accumulated in time order.
#[derive(Debug, Default)]
struct Purchases {
    first_day: i64,
    last_day: i64,
    days: u32,
    first_ts: i64,
    orders: u32,
    revenue: f64,
    day_total: f64,
    repeat_total: f64,
}

impl Purchases {
    fn add(&mut self, ts: i64, value: f64) {
        let day = ts.div_euclid(MICROS_PER_DAY);
        if self.orders == 0 {
            self.first_day = day;
            self.first_ts = ts;
            self.last_day = day;
            self.days = 1;
        } else if day != self.last_day {
            if self.days > 1 {
                self.repeat_total += self.day_total;
            }
            self.days += 1;
            self.day_total = 0.0;
            self.last_day = day;
        }
        self.day_total += value;
        self.orders += 1;
        self.revenue += value;
    }
}

impl RfmFold<'_> {
    /// Whether a purchase at `ts` counts (scope and calibration period).
    fn counts(&self, ts: i64) -> bool {
        self.scope.contains(ts) && self.spec.calibration_end.is_none_or(|e| ts <= e)
    }

    fn finish_customer(&self, p: &mut RfmPartial, customer: u32, a: &Purchases) {
        if a.orders == 0 {
            return;
        }
        let repeat_total = if a.days > 1 { a.repeat_total + a.day_total } else { 0.0 };
        let frequency = a.days - 1;
        let (recency_days, t_days) = (a.last_day - a.first_day, self.end_day - a.first_day);
        p.customers += 1;
        p.frequency += frequency as u64;
        p.recency_days += recency_days;
        p.t_days += t_days;
        let mov = a.revenue / a.orders as f64;
        p.mean_order_value += mov;
        if frequency > 0 {
            p.repeat_customers += 1;
        }
        if self.spec.keep_customers {
            let u = self.spec.unit.days();
            p.rows.push(CustomerRfm {
                customer,
                frequency,
                recency: recency_days as f64 / u,
                t: t_days as f64 / u,
                monetary: if frequency > 0 { repeat_total / frequency as f64 } else { 0.0 },
                mean_order_value: mov,
                orders: a.orders,
                revenue: a.revenue,
                first_purchase: a.first_ts,
            });
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RfmSummary {
    pub customers: u64,
    pub repeat_customers: u64,
    pub unit: Unit,
    pub sum_frequency: u64,
    pub sum_recency: f64,
    pub sum_t: f64,
    pub sum_mean_order_value: f64,
    pub mean_frequency: Option<f64>,
    pub mean_recency: Option<f64>,
    pub mean_t: Option<f64>,
    pub mean_order_value: Option<f64>,
    pub calibration_end: String,
}

impl RfmFold<'_> {
    pub fn summary(&self, p: &RfmPartial) -> RfmSummary {
        let u = self.spec.unit.days();
        let n = p.customers as f64;
        let mean = |x: f64| (p.customers > 0).then(|| x / n);
        RfmSummary {
            customers: p.customers,
            repeat_customers: p.repeat_customers,
            unit: self.spec.unit,
            sum_frequency: p.frequency,
            sum_recency: p.recency_days as f64 / u,
            sum_t: p.t_days as f64 / u,
            sum_mean_order_value: p.mean_order_value,
            mean_frequency: mean(p.frequency as f64),
            mean_recency: mean(p.recency_days as f64 / u),
            mean_t: mean(p.t_days as f64 / u),
            mean_order_value: mean(p.mean_order_value),
            calibration_end: wayfarer_core::time::format_date(self.end_day * MICROS_PER_DAY),
        }
    }
}

/// RFM inputs of every purchasing customer; rows sorted by customer.
pub fn rfm(
    store: &Store,
    model: &Model,
    scope: &Scope,
    spec: &RfmSpec,
) -> Result<(RfmSummary, Vec<CustomerRfm>), EngineError> {
    let f = RfmFold::new(model, scope, spec)?;
    fold::report(store, &f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    #[test]
    fn same_day_purchases_count_once_and_monetary_uses_repeat_days() {
        let day = 24.0 * 60.0;
        let (_d, s) = store(vec![
            with(ev("a", 0.0, "Order Completed"), |e| e.revenue = Some(10.0)),
            with(ev("a", 60.0, "Order Completed"), |e| e.revenue = Some(5.0)), // same day
            with(ev("a", 3.0 * day, "Order Completed"), |e| e.revenue = Some(20.0)),
            with(ev("a", 3.0 * day + 30.0, "Order Completed"), |e| e.revenue = Some(4.0)),
            with(ev("a", 10.0 * day, "Order Completed"), |e| e.revenue = Some(30.0)),
            ev("b", 0.0, "Page Viewed"),
            ev("b", 14.0 * day, "Page Viewed"),
            with(ev("c", 7.0 * day, "Order Completed"), |e| e.revenue = Some(8.0)),
        ]);
        let m = model(&s);
        let spec =
            RfmSpec { event: "Order Completed".into(), calibration_end: None, unit: Unit::Day, keep_customers: true };
        let (sum, rows) = rfm(&s, &m, &Scope::default(), &spec).unwrap();
        assert_eq!(sum.customers, 2, "b never purchased");
        let a = rows.iter().find(|r| r.orders == 5).unwrap();
        assert_eq!(a.frequency, 2);
        assert_eq!(a.recency, 10.0);
        assert_eq!(a.t, 14.0, "the data ends on day 14");
        assert_eq!(a.monetary, (24.0 + 30.0) / 2.0);
        assert_eq!(a.mean_order_value, 69.0 / 5.0);
        let c = rows.iter().find(|r| r.orders == 1).unwrap();
        assert_eq!((c.frequency, c.recency, c.t, c.monetary), (0, 0.0, 7.0, 0.0));
        let weeks = RfmSpec { unit: Unit::Week, ..spec };
        let (_, rows) = rfm(&s, &m, &Scope::default(), &weeks).unwrap();
        assert!((rows.iter().find(|r| r.orders == 5).unwrap().t - 2.0).abs() < 1e-12);
    }
}
