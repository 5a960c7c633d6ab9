//! Discovery (DESIGN §11): which first touchpoints, first channels and
//! first content (campaign, else page path) bring the customers who go on
//! to buy, and how valuable they are. Per source: customers brought,
//! conversion to a purchase (Wilson 95 % interval), median days to the
//! first purchase (with the quartiles), the buyers' predicted 12-month CLV
//! (BG/NBD and Gamma-Gamma over 52 weeks; mean with its 95 % interval) and
//! the value per customer brought (conversion × mean CLV), by which the
//! sources are sorted.
//!
//! A customer's first touch is their first interaction that is not a
//! passive event (an email delivered is not a discovery).

use std::collections::HashMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use wayfarer_models::stats::{Moments, quantile};
use wayfarer_store::{Col, Store};

use crate::fold::{Fold, Span};
use crate::model::Model;
use crate::timeline::Timeline;
use crate::{EngineError, Scope};

/// The three ways a first touch is named.
pub const DIMENSIONS: [&str; 3] = ["touchpoint", "channel", "content"];

#[derive(Debug, Clone)]
pub struct DiscoverySpec {
    /// Which of [`DIMENSIONS`] to report.
    pub dimensions: Vec<String>,
    /// Sources with fewer customers are left out (and counted).
    pub min_customers: u64,
    /// At most this many sources per dimension.
    pub top: usize,
}

impl Default for DiscoverySpec {
    fn default() -> Self {
        DiscoverySpec { dimensions: DIMENSIONS.iter().map(|d| (*d).to_string()).collect(), min_customers: 20, top: 15 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscoveryReport {
    pub customers: u64,
    /// Customers with a purchase.
    pub buyers: u64,
    /// Whether CLV could be predicted (purchases with revenue, enough repeat buyers).
    pub has_clv: bool,
    pub tables: Vec<DiscoveryTable>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscoveryTable {
    pub dimension: String,
    pub sources: Vec<Source>,
    /// Sources below --min-customers, and the customers they brought.
    pub small_sources: u64,
    pub small_customers: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub source: String,
    pub customers: u64,
    pub share: f64,
    pub buyers: u64,
    pub conversion: f64,
    pub conversion_low: f64,
    pub conversion_high: f64,
    pub median_days_to_purchase: Option<f64>,
    pub p25_days_to_purchase: Option<f64>,
    pub p75_days_to_purchase: Option<f64>,
    /// Mean predicted 12-month CLV of the source's buyers, with its 95 % interval.
    pub mean_clv: Option<f64>,
    pub clv_low: Option<f64>,
    pub clv_high: Option<f64>,
    /// Conversion × mean CLV: what a customer brought by this source is worth.
    pub value_per_customer: Option<f64>,
}

#[derive(Debug, Clone, Default)]
struct Tally {
    customers: u64,
    buyers: u64,
    days: Vec<f64>,
    clv: Moments,
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        self.customers += o.customers;
        self.buyers += o.buyers;
        self.days.extend(o.days);
        self.clv.merge(&o.clv);
    }
}

#[derive(Debug, Clone, Default)]
pub struct DiscoveryPartial {
    customers: u64,
    buyers: u64,
    /// Per dimension: source → tally.
    tables: [FxHashMap<String, Tally>; 3],
}

struct DiscoveryFold<'m> {
    model: &'m Model,
    scope: &'m Scope,
    persona: Option<usize>,
    clv: Option<Arc<HashMap<u32, f64>>>,
}

/// The content of an event: its campaign, else its page's path.
fn content(t: &Timeline<'_>, j: usize) -> String {
    let r = t.idx[j];
    if let Some(c) = t.rows.str_at(Col::Campaign, r).filter(|c| !c.is_empty()) {
        return format!("campaign: {c}");
    }
    match t.rows.str_at(Col::Url, r).filter(|u| !u.is_empty()) {
        Some(url) => {
            let rest = url.split_once("://").map_or(url, |(_, r)| r);
            let path = rest.find('/').map_or("/", |i| &rest[i..]);
            let path = path.split(['?', '#']).next().unwrap_or("/");
            format!("page: {path}")
        }
        None => "(none)".into(),
    }
}

impl Fold for DiscoveryFold<'_> {
    type Partial = DiscoveryPartial;
    type Scratch = ();
    type Report = DiscoveryPartial;

    fn columns(&self) -> Vec<Col> {
        let mut c = self.model.timeline_columns();
        c.extend([Col::Campaign, Col::Url]);
        c
    }

    fn init(&self) -> DiscoveryPartial {
        DiscoveryPartial::default()
    }

    fn fold(&self, p: &mut DiscoveryPartial, _: &mut (), span: Span<'_>) {
        let Some(t) = Timeline::build(self.model, self.scope, span) else { return };
        if self.persona.is_some() && t.persona != self.persona {
            return;
        }
        let m = self.model;
        let Some(j0) = (0..t.idx.len()).find(|&j| !Model::flag(&m.is_passive, t.rows.event[t.idx[j]])) else {
            return;
        };
        let first = t.rows.ts[t.idx[j0]];
        let bought = (j0..t.idx.len()).find(|&j| t.nth_purchase[j] > 0).map(|j| t.rows.ts[t.idx[j]]);
        let clv = bought.and(self.clv.as_ref().and_then(|c| c.get(&t.customer).copied()));
        p.customers += 1;
        p.buyers += u64::from(bought.is_some());
        let keys = [m.touchpoint_name(t.touchpoint(m, j0)), m.channel_name(t.channel[j0]).to_string(), content(&t, j0)];
        for (table, key) in p.tables.iter_mut().zip(keys) {
            let x = table.entry(key).or_default();
            x.customers += 1;
            if let Some(b) = bought {
                x.buyers += 1;
                x.days.push((b - first) as f64 / 86_400e6);
            }
            if let Some(v) = clv {
                x.clv.add(v);
            }
        }
    }

    fn merge(&self, mut a: DiscoveryPartial, b: DiscoveryPartial) -> DiscoveryPartial {
        a.customers += b.customers;
        a.buyers += b.buyers;
        for (x, y) in a.tables.iter_mut().zip(b.tables) {
            for (k, v) in y {
                x.entry(k).or_default().merge(v);
            }
        }
        a
    }

    fn finish(&self, p: DiscoveryPartial) -> DiscoveryPartial {
        p
    }
}

/// Wilson's 95 % interval of x/n.
fn wilson(x: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (n, p, z) = (n as f64, x as f64 / n as f64, 1.96f64);
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Discovery sources over a scope.
pub fn discovery(
    store: &Store,
    model: &Model,
    scope: &Scope,
    spec: &DiscoverySpec,
) -> Result<DiscoveryReport, EngineError> {
    for d in &spec.dimensions {
        if !DIMENSIONS.contains(&d.as_str()) {
            return Err(EngineError::InvalidQuery(format!(
                "--by '{d}': expected {}{}",
                DIMENSIONS.join(", "),
                wayfarer_core::suggest::hint(d, &DIMENSIONS)
            )));
        }
    }
    let clv = if model.purchase_code.is_some() {
        let cs = crate::clv::ClvSpec { historic: false, ..crate::clv::ClvSpec::defaults(model) };
        crate::clv::clv(store, model, &scope.without_persona(), &cs)
            .ok()
            .map(|r| r.predicted_by_customer)
            .filter(|c| !c.is_empty())
    } else {
        None
    };
    let f = DiscoveryFold { model, scope, persona: model.resolve_persona(scope.persona.as_deref())?, clv };
    let has_clv = f.clv.is_some();
    let p = crate::fold::report(store, &f)?;
    let mut tables = Vec::new();
    for (i, dim) in DIMENSIONS.iter().enumerate() {
        if !spec.dimensions.iter().any(|d| d == dim) {
            continue;
        }
        let (mut small_sources, mut small_customers) = (0, 0);
        let mut sources: Vec<Source> = Vec::new();
        for (name, mut x) in p.tables[i].clone() {
            if x.customers < spec.min_customers {
                small_sources += 1;
                small_customers += x.customers;
                continue;
            }
            let (lo, hi) = wilson(x.buyers, x.customers);
            let conversion = x.buyers as f64 / x.customers as f64;
            let mean = x.clv.mean();
            let half = x.clv.variance().map(|v| 1.96 * (v / x.clv.n as f64).sqrt());
            sources.push(Source {
                source: name,
                customers: x.customers,
                share: x.customers as f64 / p.customers.max(1) as f64,
                buyers: x.buyers,
                conversion,
                conversion_low: lo,
                conversion_high: hi,
                median_days_to_purchase: quantile(&mut x.days, 0.5),
                p25_days_to_purchase: quantile(&mut x.days, 0.25),
                p75_days_to_purchase: quantile(&mut x.days, 0.75),
                mean_clv: mean,
                clv_low: mean.zip(half).map(|(m, h)| m - h),
                clv_high: mean.zip(half).map(|(m, h)| m + h),
                value_per_customer: mean.map(|m| m * conversion),
            });
        }
        sources.sort_by(|a, b| {
            b.value_per_customer
                .unwrap_or(b.conversion)
                .total_cmp(&a.value_per_customer.unwrap_or(a.conversion))
                .then_with(|| b.customers.cmp(&a.customers))
                .then_with(|| a.source.cmp(&b.source))
        });
        sources.truncate(spec.top);
        tables.push(DiscoveryTable { dimension: (*dim).to_string(), sources, small_sources, small_customers });
    }
    Ok(DiscoveryReport { customers: p.customers, buyers: p.buyers, has_clv, tables })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ev, model, store};

    #[test]
    fn wilson_matches_the_textbook() {
        // 8 of 10: 0.4902 to 0.9433 (Wilson, z = 1.96).
        let (lo, hi) = wilson(8, 10);
        assert!((lo - 0.4902).abs() < 1e-4 && (hi - 0.9433).abs() < 1e-4, "{lo} {hi}");
    }

    #[test]
    fn first_touches_and_their_buyers() {
        let mut events = Vec::new();
        for u in 0..30 {
            let id = format!("s{u}");
            let mut e = ev(&id, 0.0, "Page Viewed");
            e.campaign = Some("spring".into());
            events.push(e);
            if u % 3 == 0 {
                events.push(ev(&id, 60.0 * 24.0, "Order Completed"));
            }
        }
        for u in 0..25 {
            let id = format!("h{u}");
            let mut e = ev(&id, 0.0, "Page Viewed");
            e.url = Some("https://shop.example/help?q=1".into());
            events.push(e);
        }
        let (_d, s) = store(events);
        let m = model(&s);
        let r = discovery(&s, &m, &Scope::default(), &DiscoverySpec::default()).unwrap();
        assert_eq!((r.customers, r.buyers), (55, 10));
        let content = r.tables.iter().find(|t| t.dimension == "content").unwrap();
        let spring = content.sources.iter().find(|s| s.source == "campaign: spring").unwrap();
        assert_eq!((spring.customers, spring.buyers), (30, 10));
        assert_eq!(spring.median_days_to_purchase, Some(1.0));
        let help = content.sources.iter().find(|s| s.source == "page: /help").unwrap();
        assert_eq!((help.customers, help.buyers, help.conversion), (25, 0, 0.0));
        // Sorted: the source that converts first.
        assert_eq!(content.sources[0].source, "campaign: spring");
        let e = discovery(
            &s,
            &m,
            &Scope::default(),
            &DiscoverySpec { dimensions: vec!["chanel".into()], ..Default::default() },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("did you mean 'channel'"), "{e}");
    }
}
