//! Referrals (DESIGN §10): per referrer, the clicks on their link
//! (`Referral Link Clicked` with `referrer`), the conversions it brought
//! (`Referral Converted` on their timeline, with the order's revenue) and,
//! per discount code, its redemptions (`Coupon Applied` with `coupon_id`,
//! `coupon_name` or `coupon`), from one fold.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value as Json;
use wayfarer_store::{Col, PropertyRows, Store};

use crate::EngineError;
use crate::fold::{self, Fold, Span};
use crate::model::Model;

#[derive(Debug, Clone, Default)]
pub struct Found {
    /// By referrer id: clicks, conversions, revenue.
    pub referrers: HashMap<String, (u64, u64, f64)>,
    /// By coupon (upper-cased): redemptions.
    pub coupons: HashMap<String, u64>,
}

struct ReferralFold<'a> {
    model: &'a Model,
    ids: std::sync::Arc<wayfarer_store::IdentityGraph>,
}

impl Fold for ReferralFold<'_> {
    type Partial = Found;
    type Scratch = ();
    type Report = Found;

    fn columns(&self) -> Vec<Col> {
        let mut c = self.model.timeline_columns();
        c.push(Col::Properties);
        c
    }

    fn property_rows(&self) -> PropertyRows {
        PropertyRows::All
    }

    fn init(&self) -> Found {
        Found::default()
    }

    fn fold(&self, p: &mut Found, _: &mut (), span: Span<'_>) {
        let rows = span.rows;
        let me = self.ids.external_id(span.customer);
        for r in span.start..span.end {
            let name = self.model.event_name(rows.event[r]);
            if !matches!(name, "Referral Link Clicked" | "Referral Converted" | "Coupon Applied") {
                continue;
            }
            let props: Json =
                rows.str_at(Col::Properties, r).and_then(|s| serde_json::from_str(s).ok()).unwrap_or(Json::Null);
            match name {
                "Referral Link Clicked" => {
                    if let Some(who) = props["referrer"].as_str() {
                        p.referrers.entry(who.to_string()).or_default().0 += 1;
                    }
                }
                "Referral Converted" => {
                    let e = p.referrers.entry(me.to_string()).or_default();
                    e.1 += 1;
                    e.2 += props["order_revenue"].as_f64().unwrap_or(0.0);
                }
                _ => {
                    let coupon = ["coupon_id", "coupon_name", "coupon"].iter().find_map(|k| props[*k].as_str());
                    if let Some(c) = coupon {
                        *p.coupons.entry(c.trim().to_ascii_uppercase()).or_default() += 1;
                    }
                }
            }
        }
    }

    fn merge(&self, mut a: Found, b: Found) -> Found {
        for (k, (c, v, r)) in b.referrers {
            let e = a.referrers.entry(k).or_default();
            e.0 += c;
            e.1 += v;
            e.2 += r;
        }
        for (k, n) in b.coupons {
            *a.coupons.entry(k).or_default() += n;
        }
        a
    }

    fn finish(&self, p: Found) -> Found {
        p
    }
}

/// One referrer in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Referrer {
    pub customer: String,
    pub code: String,
    pub clicks: u64,
    pub conversions: u64,
    pub revenue: f64,
    pub discount_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub referrers: Vec<Referrer>,
    /// Redemptions of each discount code the offers carried.
    pub discount_redemptions: Vec<(String, u64)>,
}

/// The report over the registered codes, best referrers first.
pub fn report(
    store: &Store,
    model: &Model,
    codes: &HashMap<String, wayfarer_store::referrals::Code>,
) -> Result<Report, EngineError> {
    let found = fold::report(store, &ReferralFold { model, ids: store.identity_shared()? })?;
    let mut referrers: Vec<Referrer> = codes
        .values()
        .map(|c| {
            let (clicks, conversions, revenue) = found.referrers.get(&c.customer).copied().unwrap_or_default();
            Referrer {
                customer: c.customer.clone(),
                code: c.code.clone(),
                clicks,
                conversions,
                revenue,
                discount_code: c.discount_code.clone(),
            }
        })
        .collect();
    referrers.sort_by(|a, b| (b.conversions, b.clicks, &a.customer).cmp(&(a.conversions, a.clicks, &b.customer)));
    let mut discounts: Vec<String> = codes.values().filter_map(|c| c.discount_code.clone()).collect();
    discounts.sort();
    discounts.dedup();
    let discount_redemptions = discounts
        .into_iter()
        .map(|d| {
            let n = found.coupons.get(&d.to_ascii_uppercase()).copied().unwrap_or(0);
            (d, n)
        })
        .collect();
    Ok(Report { referrers, discount_redemptions })
}
