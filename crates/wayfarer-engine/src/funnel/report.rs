//! The funnel's report: steps, levels, time to convert, groups, trend.

use super::fold::BUCKETS;
use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelReport {
    /// What `customers` and the counts count: customers or sessions.
    #[serde(default)]
    pub unit: Unit,
    pub steps: Vec<StepReport>,
    /// Customers whose maximum level is exactly L, for L = 0..=steps.
    pub level_counts: Vec<u64>,
    pub customers: u64,
    pub window_seconds: f64,
    pub mode: Mode,
    pub time_to_convert: TimeToConvert,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub breakdown: Vec<GroupReport>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub trend: Vec<TrendPoint>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub previous: Option<Box<FunnelReport>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub to: Option<String>,
    /// The paths around the steps (`--before`, `--between`, `--after-drop`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub paths: Option<super::context::FunnelPaths>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    pub name: String,
    pub customers: u64,
    pub conversion_from_previous: Option<f64>,
    pub conversion_from_first: Option<f64>,
    pub median_seconds_from_previous: Option<f64>,
    /// A segment condition for the customers who reached this step and not
    /// the next ("save as segment" on the drop-off); absent for the last
    /// step and where no condition can say it
    /// ([`crate::membership::funnel_dropped`]).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dropped_segment: Option<String>,
    /// The share of all customers counted who did this step at all, in any
    /// order or time.
    #[serde(default)]
    pub base_rate: Option<f64>,
    /// Conversion from the previous step divided by the base rate: how much
    /// more likely the step is after the previous one than in general.
    #[serde(default)]
    pub lift: Option<f64>,
    /// An optional step (`?Step`): `customers` took it on their way, and the
    /// next step's conversion counts from the step before this one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeToConvert {
    pub customers: u64,
    pub median_seconds: Option<f64>,
    pub buckets: Vec<Bucket>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub label: String,
    pub max_seconds: Option<f64>,
    pub customers: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupReport {
    pub group: String,
    pub customers: u64,
    pub level_counts: Vec<u64>,
    pub steps: Vec<StepReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendPoint {
    pub period_start: String,
    pub entered: u64,
    pub converted: u64,
    pub conversion: Option<f64>,
}

fn steps_report(spec: &FunnelSpec, g: &GroupPartial) -> Vec<StepReport> {
    let n = spec.steps.len();
    let reached = &g.through;
    let all: u64 = g.levels.iter().sum();
    (0..n)
        .map(|k| {
            let mut secs = g.step_seconds[k].clone();
            let base_rate = ratio(g.present.get(k).copied().unwrap_or(0), all);
            // From the nearest step before that a chain cannot skip.
            let from_previous = spec.required_before(k).and_then(|p| ratio(reached[k], reached[p]));
            StepReport {
                base_rate,
                lift: from_previous.zip(base_rate).filter(|(_, b)| *b > 0.0).map(|(c, b)| c / b),
                name: spec.steps[k].label.clone(),
                customers: reached[k],
                optional: spec.steps[k].optional,
                conversion_from_previous: from_previous,
                conversion_from_first: ratio(reached[k], reached[0]),
                median_seconds_from_previous: if k == 0 { None } else { quantile(&mut secs, 0.5) },
                dropped_segment: None,
            }
        })
        .collect()
}

/// The report of a merged partial.
pub fn report(spec: &FunnelSpec, p: &FunnelPartial, scope: &Scope) -> FunnelReport {
    let g = &p.all;
    let mut secs = g.convert_seconds.clone();
    let mut breakdown: Vec<GroupReport> = p
        .groups
        .iter()
        .map(|(name, gp)| GroupReport {
            group: name.clone(),
            customers: gp.levels.iter().sum(),
            level_counts: gp.levels.clone(),
            steps: steps_report(spec, gp),
        })
        .collect();
    breakdown.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.group.cmp(&b.group)));
    let mut trend: Vec<(i64, (u64, u64))> = g.trend.iter().map(|(k, v)| (*k, *v)).collect();
    trend.sort_unstable();
    FunnelReport {
        unit: spec.per,
        steps: steps_report(spec, g),
        level_counts: g.levels.clone(),
        customers: g.levels.iter().sum(),
        window_seconds: spec.window as f64 / 1e6,
        mode: spec.mode,
        time_to_convert: TimeToConvert {
            customers: g.convert_seconds.len() as u64,
            median_seconds: quantile(&mut secs, 0.5),
            buckets: BUCKETS
                .iter()
                .zip(&g.convert_buckets)
                .map(|((label, max), c)| Bucket {
                    label: (*label).to_string(),
                    max_seconds: max.is_finite().then_some(*max),
                    customers: *c,
                })
                .collect(),
        },
        breakdown,
        trend: spec
            .trend
            .map(|per| {
                trend
                    .iter()
                    .map(|(k, (e, c))| TrendPoint {
                        period_start: per.label(*k),
                        entered: *e,
                        converted: *c,
                        conversion: ratio(*c, *e),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        previous: None,
        from: scope.from.map(wayfarer_core::time::format_rfc3339),
        to: scope.to.map(wayfarer_core::time::format_rfc3339),
        paths: None,
    }
}
