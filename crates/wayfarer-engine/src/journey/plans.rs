//! What the team adds to a map (DESIGN §11): each opportunity's effort and
//! owner, which turn its value into a score (value ÷ effort) that orders
//! the opportunities; and KPI targets on cells, each met or missed by the
//! map's numbers. Both are kept with the notes (`wayfarer_store::notes`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wayfarer_store::notes::{Plan, Target};

use super::pain::Opportunity;
use super::report::JourneyMap;

/// An effort of 0 (trivial) counts as this much when dividing by it.
const TRIVIAL: f64 = 0.5;

/// Sets each opportunity's customer value (customers who would convert,
/// else customers concerned) and business value: the revenue at stake from
/// the CLV model — the customers who would move on × the difference in
/// predicted 12-month CLV between customers who stopped after the stage and
/// those who stopped at it (customers without a prediction, who never
/// bought, count as 0) — else the map's expected revenue.
pub fn value_opportunities(map: &mut JourneyMap) {
    let stopped = |s: &super::report::StageReport| {
        (s.value.mean_predicted_clv.unwrap_or(0.0) * s.value.predicted_customers as f64, s.value.customers)
    };
    // Per stage: the mean predicted CLV of those who stopped at it, and of those who went further.
    let gaps: Vec<Option<f64>> = (0..map.stages.len())
        .map(|k| {
            let (here, n) = stopped(&map.stages[k]);
            let (later, m) = map.stages[k + 1..].iter().map(stopped).fold((0.0, 0u64), |a, b| (a.0 + b.0, a.1 + b.1));
            let has_clv = map.stages.iter().any(|s| s.value.predicted_customers > 0);
            (has_clv && n > 0 && m > 0).then(|| later / m as f64 - here / n as f64).filter(|g| *g > 0.0)
        })
        .collect();
    let value = |o: &mut Opportunity| {
        o.customer_value = o.expected_conversions.unwrap_or(o.customers as f64);
        let at_stake = o.stage_index.and_then(|k| gaps.get(k).copied().flatten()).zip(o.expected_conversions);
        o.business_value = at_stake.map(|(gap, conv)| gap * conv).or(o.expected_revenue);
    };
    map.opportunities.iter_mut().for_each(value);
    map.stages.iter_mut().flat_map(|s| s.opportunities.iter_mut()).for_each(value);
}

/// Sets each opportunity's effort and owner from the team's plans and its
/// score = value ÷ effort (business value where known, else customer
/// value); the scored opportunities come first, by score (the others keep
/// their order), on the map and in each stage.
pub fn score_opportunities(map: &mut JourneyMap, plans: &BTreeMap<String, Plan>) {
    value_opportunities(map);
    let score = |o: &mut Opportunity| {
        let plan = plans.get(&o.id);
        o.effort = plan.map(|p| p.effort);
        o.owner = plan.map(|p| p.owner.clone()).filter(|s| !s.is_empty());
        o.score = o.effort.map(|e| o.business_value.unwrap_or(o.customer_value) / f64::from(e).max(TRIVIAL));
    };
    let order = |a: &Opportunity, b: &Opportunity| {
        b.score.is_some().cmp(&a.score.is_some()).then(b.score.unwrap_or(0.0).total_cmp(&a.score.unwrap_or(0.0)))
    };
    map.opportunities.iter_mut().for_each(score);
    map.opportunities.sort_by(order);
    for s in &mut map.stages {
        s.opportunities.iter_mut().for_each(score);
        s.opportunities.sort_by(order);
    }
}

/// A target against a map: the map's number and whether it meets it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetStatus {
    pub target: Target,
    /// The number the target is about, from the map of its persona (or of all customers).
    pub actual: Option<f64>,
    /// None: the map has no such number (no such stage or persona, no answers).
    pub met: Option<bool>,
}

/// Each target against the maps (all customers first, then personas).
pub fn target_statuses(maps: &[JourneyMap], targets: &[Target]) -> Vec<TargetStatus> {
    targets
        .iter()
        .map(|t| {
            let map = match &t.persona {
                None => maps.first(),
                Some(p) => maps.iter().skip(1).find(|m| m.scope.persona.as_deref() == Some(p)),
            };
            let actual =
                map.and_then(|m| m.stages.iter().find(|s| s.name == t.stage)).and_then(|s| match t.metric.as_str() {
                    "conversion" => s.conversion_to_next,
                    "reach" => Some(s.share),
                    "time_to_next" => s.median_time_to_next_seconds,
                    "emotion" => s.emotion.score,
                    "nps" => s.emotion.nps.as_ref().map(|n| n.score),
                    _ => None,
                });
            let met = actual.map(|a| if t.op == "<=" { a <= t.value } else { a >= t.value });
            TargetStatus { target: t.clone(), actual, met }
        })
        .collect()
}

/// A target's value as typed: shares as `65 %`, `65` or `0.65`; times as a
/// duration (`2d`) or seconds; emotion and NPS as numbers.
pub fn parse_target_value(metric: &str, text: &str) -> Result<f64, String> {
    let t = text.trim();
    match metric {
        "conversion" | "reach" => {
            let (num, percent) = match t.strip_suffix('%') {
                Some(n) => (n.trim(), true),
                None => (t, false),
            };
            let v: f64 = num.parse().map_err(|_| format!("'{text}' is not a share (65 %, 65 or 0.65)"))?;
            let v = if percent || v > 1.0 { v / 100.0 } else { v };
            if (0.0..=1.0).contains(&v) { Ok(v) } else { Err(format!("'{text}' is not a share from 0 to 100 %")) }
        }
        "time_to_next" => match t.parse::<f64>() {
            Ok(s) => Ok(s),
            Err(_) => wayfarer_core::time::parse_duration(t).map(|us| us as f64 / 1e6),
        },
        _ => t.parse().map_err(|_| format!("'{text}' is not a number")),
    }
}

/// A target in words: "Decision conversion ≥ 65.0 %".
pub fn describe(t: &Target) -> String {
    let op = if t.op == "<=" { "≤" } else { "≥" };
    let value = match t.metric.as_str() {
        "conversion" | "reach" => format!("{:.1} %", t.value * 100.0),
        "time_to_next" => wayfarer_core::time::format_duration_seconds(t.value),
        _ => format!("{:+.2}", t.value),
    };
    let who = t.persona.as_deref().map_or(String::new(), |p| format!(" ({p})"));
    format!("{} {} {op} {value}{who}", t.stage, t.metric.replace('_', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_values_as_typed() {
        assert_eq!(parse_target_value("conversion", "65 %"), Ok(0.65));
        assert_eq!(parse_target_value("conversion", "65"), Ok(0.65));
        assert_eq!(parse_target_value("reach", "0.4"), Ok(0.4));
        assert!(parse_target_value("reach", "140%").is_err());
        assert_eq!(parse_target_value("time_to_next", "2d"), Ok(172_800.0));
        assert_eq!(parse_target_value("nps", "30"), Ok(30.0));
        assert!(parse_target_value("emotion", "good").is_err());
    }
}
