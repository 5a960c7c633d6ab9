//! From merged statistics to the map of a scope or a persona: stages,
//! touchpoints, channels, emotions, verbatims, value, and the pain points
//! and opportunities of `pain`.

use super::*;

/// Channels that say how customers came but give a team nothing to act on.
const NOT_ACTIONABLE: [&str; 4] = ["Direct", "Unassigned", "(none)", "(other)"];

pub(super) fn finish(
    model: &Model,
    scope: &Scope,
    persona: Option<usize>,
    partial: &JourneyPartial,
    identity: &wayfarer_store::IdentityGraph,
    personas: &Personas,
) -> JourneyMap {
    let groups = &partial.groups;
    let k_stages = model.stages();
    let mut scope_stats = GroupStats::new(k_stages);
    let mut rest_stats = GroupStats::new(k_stages);
    for (i, g) in groups.iter().enumerate() {
        if persona.is_none_or(|p| p == i) {
            scope_stats.merge(g.clone());
        } else {
            rest_stats.merge(g.clone());
        }
    }
    let group_name = |i: usize| -> String { personas.name(i) };
    // Of the whole data, not the scope: a persona without revenue is $0.00.
    let has_revenue = groups.iter().any(|g| g.revenue != 0.0);
    let has_emotion = groups.iter().any(|g| g.stages.iter().any(|s| s.emotion.n > 0));
    let tp_name = |k: TpKey| -> String { model.touchpoint_name(k) };
    let top = model.config.map.top;
    let mut stages: Vec<StageReport> = Vec::with_capacity(k_stages);
    for (k, st) in scope_stats.stages.iter().enumerate() {
        let last = k + 1 == k_stages;
        let conversion = if last { None } else { ratio(st.converted, st.reached) };
        let mut times = st.to_next.clone();
        times.sort_by(f64::total_cmp);
        let mut tps: Vec<TouchpointReport> = st
            .touchpoints
            .iter()
            .map(|(key, v)| {
                let with = if last { None } else { ratio(v.converted, v.customers) };
                let without = if last {
                    None
                } else {
                    ratio(st.converted.saturating_sub(v.converted), st.reached.saturating_sub(v.customers))
                };
                TouchpointReport {
                    name: tp_name(*key),
                    configured: matches!(key, TpKey::Defined(_)),
                    customers: v.customers,
                    events: v.events,
                    reach: ratio(v.customers, st.reached).unwrap_or(0.0),
                    conversion_with: with,
                    conversion_without: without,
                    lift: match (with, without) {
                        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                        _ => None,
                    },
                    exits: v.exits,
                    exit_rate: ratio(v.exits, v.customers).unwrap_or(0.0),
                }
            })
            .collect();
        tps.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.name.cmp(&b.name)));
        tps.truncate(top.max(1) * 3);
        let mut actions: Vec<ActionReport> = st
            .actions
            .iter()
            .map(|(e, c)| ActionReport {
                event: model.event_name(*e).to_string(),
                customers: c.customers,
                events: c.events,
            })
            .collect();
        actions.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.event.cmp(&b.event)));
        actions.truncate(top);
        // The baseline of each channel's share: the other personas at this
        // stage, or (all customers) every stage together.
        let base_share = |c: u32| -> Option<f64> {
            if persona.is_some() {
                let r = &rest_stats.stages[k];
                ratio(r.channels.get(&c).map_or(0, |v| v.customers), r.reached)
            } else {
                let used: u64 = scope_stats.stages.iter().map(|s| s.channels.get(&c).map_or(0, |v| v.customers)).sum();
                ratio(used, scope_stats.stages.iter().map(|s| s.reached).sum())
            }
        };
        let mut channels: Vec<ChannelReport> = st
            .channels
            .iter()
            .map(|(c, v)| {
                let share = ratio(v.customers, st.reached).unwrap_or(0.0);
                ChannelReport {
                    channel: model.channel_name(*c).to_string(),
                    customers: v.customers,
                    events: v.events,
                    share,
                    lift: base_share(*c).filter(|b| *b > 0.0).map(|b| share / b),
                }
            })
            .collect();
        channels.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.channel.cmp(&b.channel)));
        let favourite_channel = channels.first().map(|c| c.channel.clone());
        let actionable_channel =
            channels.iter().find(|c| !NOT_ACTIONABLE.contains(&c.channel.as_str())).map(|c| c.channel.clone());
        let distinctive_channel = channels
            .iter()
            .filter(|c| c.customers >= model.config.map.min_customers && c.lift.is_some_and(|l| l > 1.2))
            .max_by(|a, b| a.lift.unwrap_or(0.0).total_cmp(&b.lift.unwrap_or(0.0)))
            .map(|c| c.channel.clone());
        let mut friction_events: Vec<FrictionEventReport> = st
            .friction_events
            .iter()
            .map(|(e, f)| {
                let (without, n_without) =
                    (st.converted.saturating_sub(f.converted), st.reached.saturating_sub(f.customers));
                let test = if last {
                    None
                } else {
                    wayfarer_models::stats::two_proportion(f.converted, f.customers, without, n_without)
                };
                let interval = if last {
                    None
                } else {
                    wayfarer_models::stats::difference_interval(f.converted, f.customers, without, n_without)
                };
                FrictionEventReport {
                    event: model.event_name(*e).to_string(),
                    events: f.events,
                    customers: f.customers,
                    conversion_with: test.map(|c| c.value),
                    conversion_without: test.map(|c| c.baseline),
                    difference: test.map(|c| c.value - c.baseline),
                    difference_low: interval.map(|i| i.0),
                    difference_high: interval.map(|i| i.1),
                    p_value: test.map(|c| c.p_value),
                }
            })
            .collect();
        friction_events.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.event.cmp(&b.event)));
        let mut rest_texts = st.other_texts.clone();
        for (j, o) in scope_stats.stages.iter().enumerate() {
            if j != k {
                rest_texts.merge(o.negative_texts.clone());
                rest_texts.merge(o.other_texts.clone());
            }
        }
        let negative_terms: Vec<Term> = crate::text::distinctive(&st.negative_texts, &rest_texts, 5)
            .into_iter()
            .map(|(term, share)| Term { term, share })
            .collect();
        let nps_report = NpsReport::from_counts(st.nps);
        let top_terms: Vec<String> = negative_terms.iter().map(|t: &Term| t.term.clone()).collect();
        let verbatims = pick_verbatims(st, model.config.map.verbatims, &top_terms, &tp_name, identity);
        stages.push(StageReport {
            index: k,
            name: model.stage_names[k].clone(),
            description: model.config.stages[k].description.clone(),
            customers: st.reached,
            share: ratio(st.reached, scope_stats.customers).unwrap_or(0.0),
            conversion_to_next: conversion,
            drop_off: conversion.map(|c| 1.0 - c),
            dropped: if last { 0 } else { st.reached - st.converted },
            median_time_to_next_seconds: quantile_sorted(&times, 0.5),
            p90_time_to_next_seconds: quantile_sorted(&times, 0.9),
            time_to_next_bins: time_bins(&times),
            current_active: st.current_active,
            current_churned: st.current_churned,
            revenue: st.revenue,
            value: StageValue {
                customers: st.stopped,
                mean_revenue: (has_revenue && st.stopped > 0).then(|| st.revenue_stopped / st.stopped as f64),
                mean_predicted_clv: (has_revenue && st.clv_stopped_n > 0)
                    .then(|| st.clv_stopped / st.clv_stopped_n as f64),
                predicted_customers: st.clv_stopped_n,
            },
            touchpoints: tps,
            actions,
            channels,
            favourite_channel,
            actionable_channel,
            distinctive_channel,
            emotion: EmotionReport {
                score: st.emotion.mean(),
                score_sd: st.emotion.variance().map(f64::sqrt),
                n: st.emotion.n,
                customers: st.emotion_customers,
                sentiment: st.sentiment.mean(),
                texts: st.sentiment.n,
                nps: nps_report,
                csat: CsatReport::from_answers(&st.csat, st.csat_satisfied),
                ces: CesReport::from_answers(&st.ces),
                negative_terms,
            },
            friction: FrictionReport {
                customers: st.friction,
                share: ratio(st.friction, st.reached).unwrap_or(0.0),
                conversion_with: if last { None } else { ratio(st.friction_converted, st.friction) },
                conversion_without: if last {
                    None
                } else {
                    ratio(st.converted.saturating_sub(st.friction_converted), st.reached.saturating_sub(st.friction))
                },
                retries: st.retries,
                repeated_support: st.repeated_support,
                top_events: friction_events,
            },
            pain_points: Vec::new(),
            opportunities: Vec::new(),
            verbatims,
        });
    }
    let emotion_curve =
        stages.iter().map(|s| EmotionPoint { stage: s.name.clone(), score: s.emotion.score, n: s.emotion.n }).collect();

    // Pain points and opportunities.
    let ctx = pain::Context { model, tp_name: &tp_name, personas };
    let mut pains = pain::within_scope(&ctx, &scope_stats, persona.map(group_name).as_deref());
    // Each persona against the other personas ("Unassigned" customers are
    // mostly anonymous visitors and make no fair baseline).
    let named = personas.names.len();
    let comparisons: Vec<usize> = match persona {
        Some(p) => vec![p],
        None => (0..named).collect(),
    };
    for gi in comparisons {
        let mut rest = GroupStats::new(k_stages);
        for (j, g) in groups.iter().enumerate().take(named) {
            if j != gi {
                rest.merge(g.clone());
            }
        }
        pains.extend(pain::versus_rest(&ctx, &groups[gi], &rest, &group_name(gi)));
    }
    let pains = pain::rank(pains);
    let mut opportunities = pain::opportunities(&ctx, &scope_stats, groups, persona, &pains, &stages);
    if !has_revenue {
        // Customers, not money: there is no revenue to value them with.
        for o in &mut opportunities {
            o.expected_revenue = None;
        }
    }
    for s in &mut stages {
        s.pain_points = pains.iter().filter(|p| p.stage_index == s.index).cloned().collect();
        s.opportunities = opportunities.iter().filter(|o| o.stage_index == Some(s.index)).cloned().collect();
    }
    let personas = groups
        .iter()
        .enumerate()
        .filter(|(i, g)| !personas.names.is_empty() && (*i < personas.names.len() || g.customers > 0))
        .map(|(i, g)| {
            let fav = g.channel_customers.iter().max_by(|a, b| a.1.0.cmp(&b.1.0).then_with(|| b.0.cmp(a.0)));
            let total: u64 = groups.iter().map(|g| g.customers).sum();
            let mut buckets = [0u64; 3];
            for st in &g.stages {
                for (b, n) in buckets.iter_mut().zip(st.nps) {
                    *b += n;
                }
            }
            let answers: u64 = buckets.iter().sum();
            let nps_score = nps(buckets[0], buckets[1], buckets[2]);
            PersonaSummary {
                name: group_name(i),
                description: personas.names.get(i).map_or(String::new(), |(_, d)| d.clone()),
                customers: g.customers,
                share: ratio(g.customers, total).unwrap_or(0.0),
                favourite_channel: fav.map(|(c, _)| model.channel_name(*c).to_string()),
                reached: g.stages.iter().map(|s| s.reached).collect(),
                revenue: g.revenue,
                mean_revenue: if g.customers > 0 { g.revenue / g.customers as f64 } else { 0.0 },
                mean_predicted_clv: (g.clv_n > 0).then(|| g.clv / g.clv_n as f64),
                nps: nps_score.map(|(s, _)| s),
                nps_responses: answers,
            }
        })
        .collect();
    let mut map = JourneyMap {
        scope: ScopeInfo {
            persona: persona.map(group_name),
            from: scope.from.map(format_rfc3339),
            to: scope.to.map(format_rfc3339),
            customers: scope_stats.customers,
            events: scope_stats.events,
            revenue: scope_stats.revenue,
            has_revenue,
            has_emotion,
            data_start: format_rfc3339(model.data_start),
            data_end: format_rfc3339(model.data_end),
        },
        stages,
        emotion_curve,
        pain_points: pains,
        opportunities,
        personas,
        discovery: {
            let mut d: Vec<FirstTouch> = scope_stats
                .first_touch
                .iter()
                .map(|(k, &(c, b))| FirstTouch {
                    touchpoint: tp_name(*k),
                    customers: c,
                    share: ratio(c, scope_stats.customers).unwrap_or(0.0),
                    buyers: b,
                    conversion: ratio(b, c).unwrap_or(0.0),
                })
                .collect();
            d.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.touchpoint.cmp(&b.touchpoint)));
            d.truncate(8);
            d
        },
    };
    super::plans::value_opportunities(&mut map);
    map
}

/// Representative comments: negative ones that use the stage's most
/// distinctive negative terms (most terms first, then most negative), and the
/// most positive one.
fn pick_verbatims(
    st: &StageStats,
    n: usize,
    terms: &[String],
    tp_name: &dyn Fn(TpKey) -> String,
    identity: &wayfarer_store::IdentityGraph,
) -> Vec<Verbatim> {
    let mut neg = st.negative.clone();
    sort_candidates(&mut neg, false);
    let hits = |c: &Candidate| -> usize {
        let words: Vec<String> = crate::text::terms(&c.text).collect();
        terms.iter().take(3).filter(|t| words.contains(t)).count()
    };
    neg.sort_by_key(|c| std::cmp::Reverse(hits(c)));
    let mut pos = st.positive.clone();
    sort_candidates(&mut pos, true);
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut push = |c: &Candidate, tone: &str, out: &mut Vec<Verbatim>| {
        if seen.insert(c.text.clone()) {
            out.push(Verbatim {
                text: c.text.clone(),
                sentiment: c.score,
                tone: tone.to_string(),
                touchpoint: tp_name(c.touchpoint),
                customer: identity.external_id(c.customer).to_string(),
            });
        }
    };
    // Mostly the negative voice (that is where the work is), one positive.
    let n_neg = n.saturating_sub(1).max(1);
    for c in &neg {
        if out.len() >= n_neg {
            break;
        }
        push(c, "negative", &mut out);
    }
    if let Some(c) = pos.first() {
        push(c, "positive", &mut out);
    }
    out
}

/// Counts of times (seconds) per [`wayfarer_models::stats::time_bin`],
/// trailing empty bins left out.
fn time_bins(times: &[f64]) -> Vec<u64> {
    let mut bins = vec![0u64; wayfarer_models::stats::TIME_BINS];
    for &t in times {
        bins[wayfarer_models::stats::time_bin(t)] += 1;
    }
    while bins.last() == Some(&0) {
        bins.pop();
    }
    bins
}
