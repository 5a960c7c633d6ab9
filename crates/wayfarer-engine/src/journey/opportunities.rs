//! Opportunities (DESIGN §4.9), derived from the pain points and from
//! positive signals: promoters who never advocated, high-lift touchpoints
//! with low reach, and channels that convert a persona better than its
//! favourite one; each with the customers it concerns and an expected
//! impact.

use super::pain::*;
use crate::journey::{GroupStats, StageReport, ratio};
use wayfarer_models::stats::two_proportion;

/// Opportunities for the scope.
pub fn opportunities(
    ctx: &Context<'_>,
    scope: &GroupStats,
    groups: &[GroupStats],
    persona: Option<usize>,
    pains: &[PainPoint],
    stages: &[StageReport],
) -> Vec<Opportunity> {
    let k_stages = ctx.model.stages();
    let mut out = Vec::new();
    // The value of moving a customer from stage k to k+1: mean historic
    // revenue of customers who reached k+1 minus that of customers who stopped at k.
    let value_gain = |k: usize| -> Option<f64> {
        let next = scope.stages.get(k + 1)?;
        let here = &scope.stages[k];
        let reached_next = (next.reached > 0).then(|| next.revenue_reached / next.reached as f64)?;
        let stopped_here = if here.stopped > 0 { here.revenue_stopped / here.stopped as f64 } else { 0.0 };
        Some((reached_next - stopped_here).max(0.0))
    };
    for p in pains.iter().take(10) {
        let (conversions, action) = match p.kind {
            PainKind::DropOff => (
                Some(p.affected_customers as f64 * (p.baseline - p.value)),
                "Find out what stops them and fix it; compare their path with the other groups'".to_string(),
            ),
            PainKind::ExitTouchpoint => (
                Some(p.affected_customers as f64 * (p.value - p.baseline)),
                "Redesign this step so it no longer loses customers (content, price surprises, errors)".to_string(),
            ),
            PainKind::Friction => (
                Some(p.affected_customers as f64 * (p.baseline - p.value)),
                match p.terms.first() {
                    Some(event) => format!(
                        "Remove the cause of {event}, and give customers who meet it a way on (an alternative, a retry, a clear message)"
                    ),
                    None => "Remove the errors and retries; give customers who contact support twice a faster path"
                        .to_string(),
                },
            ),
            PainKind::Dip => (
                Some(p.affected_customers as f64 * (p.baseline - p.value)),
                "Find what changed in those weeks (a release, an outage, a price or stock change), make sure it cannot recur, and win back the customers it cost".to_string(),
            ),
            PainKind::Slow => (None, "Shorten the path: reminders, fewer steps, a nudge at the right time".to_string()),
            PainKind::NegativeEmotion => {
                (None, "Fix what the negative comments name and follow up with the unhappy customers".to_string())
            }
        };
        let k = p.stage_index;
        let revenue = conversions.and_then(|c| value_gain(k).map(|v| c * v));
        out.push(Opportunity {
            id: format!("fix:{}", p.id),
            kind: "fix_pain_point".to_string(),
            stage: Some(p.stage.clone()),
            stage_index: Some(k),
            persona: p.persona.clone(),
            title: format!("Fix: {}", p.title),
            action,
            customers: p.affected_customers,
            segment: segment_of(p),
            expected_conversions: conversions,
            expected_revenue: revenue,
            assumption: match p.kind {
                PainKind::DropOff | PainKind::ExitTouchpoint | PainKind::Friction | PainKind::Dip => format!(
                    "if the affected customers converted at the baseline rate ({}); value = extra conversions × the revenue gap between customers who move on and those who stop",
                    pct(p.baseline)
                ),
                _ => "impact not estimated in conversions; the evidence shows where customers suffer".to_string(),
            },
            pain_point: Some(p.id.clone()),
            ..Default::default()
        });
    }
    // Promoters who never advocated.
    let last = k_stages.saturating_sub(1);
    let waiting = scope.promoters.saturating_sub(scope.promoters_advocates);
    if waiting >= min_n(ctx) {
        let rate = ratio(scope.promoters_advocates, scope.promoters).unwrap_or(0.0);
        out.push(Opportunity {
            id: "promoters-without-advocacy".to_string(),
            kind: "ask_promoters".to_string(),
            stage: Some(ctx.model.stage_names[last].clone()),
            stage_index: Some(last),
            persona: persona.map(|p| group_label(ctx, p)),
            title: format!("{waiting} promoters have never recommended you"),
            action: "Ask customers who scored 9–10 for a referral or a review while they are happy".to_string(),
            customers: waiting,
            segment: format!("NPS answer 9–10 and not reached {}", ctx.model.stage_names[last]),
            expected_conversions: Some(waiting as f64 * rate),
            expected_revenue: None,
            assumption: format!("if asked, they advocate at the rate promoters already do ({})", pct(rate)),
            pain_point: None,
            ..Default::default()
        });
    }
    // High-lift touchpoints with low reach.
    for s in stages.iter().take(k_stages.saturating_sub(1)) {
        for t in &s.touchpoints {
            let (Some(with), Some(without), Some(lift)) = (t.conversion_with, t.conversion_without, t.lift) else {
                continue;
            };
            if !t.configured || lift < 1.25 || t.reach > 0.25 || t.reach < 0.02 || t.customers < min_n(ctx) {
                continue;
            }
            let others = s.customers.saturating_sub(t.customers);
            let sig = two_proportion(
                (with * t.customers as f64).round() as u64,
                t.customers,
                (without * others as f64).round() as u64,
                others,
            );
            if sig.is_none_or(|c| c.p_value >= alpha(ctx)) {
                continue;
            }
            let extra = others as f64 * 0.25 * (with - without);
            out.push(Opportunity {
                id: format!("extend:{}:{}", slug(&s.name), slug(&t.name)),
                kind: "extend_touchpoint".to_string(),
                stage: Some(s.name.clone()),
                stage_index: Some(s.index),
                persona: persona.map(|p| group_label(ctx, p)),
                title: format!("{} converts {lift:.1}× better but reaches only {} of {}", t.name, pct(t.reach), s.name),
                action: format!("Bring more {} customers to {}", s.name, t.name),
                customers: others,
                segment: format!("in {} without {}", s.name, t.name),
                expected_conversions: Some(extra),
                expected_revenue: value_gain(s.index).map(|v| extra * v),
                assumption: format!(
                    "if a quarter of them met {} and converted like those who did ({} vs {}); the lift is observed, not proven causal",
                    t.name,
                    pct(with),
                    pct(without)
                ),
                pain_point: None,
                ..Default::default()
            });
        }
    }
    // A channel converting a persona better than its favourite channel.
    let persona_groups: Vec<usize> = match persona {
        Some(p) => vec![p],
        None => (0..ctx.personas.names.len()).collect(),
    };
    for gi in persona_groups {
        let g = &groups[gi];
        if g.customers < min_n(ctx) {
            continue;
        }
        let Some((fav, fav_stats)) =
            g.channel_customers.iter().max_by(|a, b| a.1.0.cmp(&b.1.0).then_with(|| b.0.cmp(a.0)))
        else {
            continue;
        };
        let fav_rate = ratio(fav_stats.1, fav_stats.0).unwrap_or(0.0);
        let best = g
            .channel_customers
            .iter()
            .filter(|(c, v)| *c != fav && v.0 >= min_n(ctx))
            .map(|(c, v)| (*c, v.0, ratio(v.1, v.0).unwrap_or(0.0)))
            .max_by(|a, b| a.2.total_cmp(&b.2).then_with(|| b.0.cmp(&a.0)));
        let Some((best, reach, rate)) = best else {
            continue;
        };
        if rate < 1.25 * fav_rate || reach * 2 > g.customers {
            continue;
        }
        let name = group_label(ctx, gi);
        let channel = ctx.model.channel_name(best).to_string();
        let others = g.customers - reach;
        let base = ratio(g.purchasers, g.customers).unwrap_or(0.0);
        let extra = others as f64 * 0.1 * (rate - base).max(0.0);
        out.push(Opportunity {
            id: format!("channel:{}:{}", slug(&name), slug(&channel)),
            kind: "under_used_channel".to_string(),
            stage: None,
            stage_index: None,
            persona: Some(name.clone()),
            title: format!(
                "{name}: {channel} converts {} but reaches only {} of them (favourite: {})",
                pct(rate),
                pct(reach as f64 / g.customers as f64),
                ctx.model.channel_name(*fav)
            ),
            action: format!("Reach more {name} through {channel}"),
            customers: others,
            segment: format!("{name} never reached through {channel}"),
            expected_conversions: Some(extra),
            expected_revenue: None,
            assumption: format!(
                "if 10% of them were reached through {channel} and purchased at its rate ({}) instead of the persona's ({})",
                pct(rate),
                pct(base)
            ),
            pain_point: None,
            ..Default::default()
        });
    }
    out.sort_by(|a, b| {
        b.expected_conversions
            .unwrap_or(0.0)
            .total_cmp(&a.expected_conversions.unwrap_or(0.0))
            .then_with(|| a.id.cmp(&b.id))
    });
    out
}

fn group_label(ctx: &Context<'_>, i: usize) -> String {
    ctx.personas.name(i)
}

fn segment_of(p: &PainPoint) -> String {
    let who = p.persona.clone().unwrap_or_else(|| "Customers".to_string());
    match p.kind {
        PainKind::ExitTouchpoint => format!(
            "{who} whose last step in {} was {} and who went no further",
            p.stage,
            p.touchpoint.clone().unwrap_or_default()
        ),
        PainKind::DropOff => format!("{who} who reached {} and went no further", p.stage),
        PainKind::Friction => match p.terms.first() {
            Some(event) => format!("{who} who met {event} in {}", p.stage),
            None => format!("{who} who met friction in {}", p.stage),
        },
        PainKind::Slow => format!("{who} moving on from {}", p.stage),
        PainKind::Dip => format!(
            "{who} who started in {} from {} to {}",
            p.stage,
            p.terms.first().cloned().unwrap_or_default(),
            p.terms.get(1).cloned().unwrap_or_default()
        ),
        PainKind::NegativeEmotion => {
            format!("{who} with negative comments or low scores in {}", p.stage)
        }
    }
}
