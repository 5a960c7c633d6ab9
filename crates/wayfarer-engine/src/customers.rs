//! One customer's profile: identities, traits (last identify wins), current
//! stage and when each stage was entered, persona, purchases and revenue,
//! channels, and the timeline of events with their channel, session and
//! stage — the same timeline every analysis folds.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value as Json};
use wayfarer_core::Kind;
use wayfarer_core::time::format_rfc3339;
use wayfarer_store::{Col, NO_CHANNEL, PropertyRows, Store, partition_of};

use crate::fold::Span;
use crate::model::Model;
use crate::timeline::{NO_STAGE, Timeline};
use crate::{EngineError, Scope};

#[derive(Debug, Clone, Serialize)]
pub struct StageEntry {
    pub stage: String,
    pub entered_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelCount {
    pub channel: String,
    pub events: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineEvent {
    pub timestamp: String,
    pub event: String,
    pub channel: String,
    pub session: u32,
    pub stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revenue: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomerProfile {
    pub customer_id: String,
    /// Every identity merged into this customer (`user:…`, `anonymous:…`).
    pub identities: Vec<String>,
    pub traits: Map<String, Json>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub events: u64,
    pub sessions: u32,
    pub current_stage: Option<String>,
    pub stages: Vec<StageEntry>,
    pub persona: Option<String>,
    pub purchases: u32,
    pub revenue: f64,
    pub channels: Vec<ChannelCount>,
    /// The most recent events, oldest first (at most `limit`).
    pub timeline: Vec<TimelineEvent>,
    pub timeline_truncated: bool,
}

/// The profile of the customer with this user id or anonymous id; None if
/// no such identity exists.
pub fn customer_profile(
    store: &Store,
    model: &Model,
    scope: &Scope,
    id: &str,
    limit: usize,
) -> Result<Option<CustomerProfile>, EngineError> {
    let mut ids = store.identity()?;
    let Some(ident) = ids.lookup(&format!("u:{id}")).or_else(|| ids.lookup(&format!("a:{id}"))) else {
        return Ok(None);
    };
    let canon = ids.canonical_map().to_vec();
    let customer = canon[ident as usize];
    let identities: Vec<String> = ids
        .keys()
        .iter()
        .enumerate()
        .filter(|(i, _)| canon[*i] == customer)
        .map(|(_, k)| match k.split_once(':') {
            Some(("u", rest)) => format!("user:{rest}"),
            Some(("a", rest)) => format!("anonymous:{rest}"),
            _ => k.clone(),
        })
        .collect();
    let mut cols = Col::CORE.to_vec();
    cols.extend([Col::Revenue, Col::Properties, Col::Text]);
    let rows = store.read_partition(partition_of(customer, store.partitions()), &cols)?;
    let Some((_, range)) = rows.timelines().find(|(c, _)| *c == customer) else {
        return Ok(None);
    };
    let mut traits = Map::new();
    for i in range.clone() {
        if Kind::from_code(rows.kind[i]) == Kind::Identify
            && scope.contains(rows.ts[i])
            && let Some(Ok(Json::Object(t))) = rows.str_at(Col::Properties, i).map(serde_json::from_str::<Json>)
        {
            traits.extend(t);
        }
    }
    let span = Span { customer, rows: &rows, start: range.start, end: range.end };
    let external = ids.external_id(customer).to_string();
    let Some(t) = Timeline::build(model, scope, span) else {
        return Ok(Some(CustomerProfile {
            customer_id: external,
            identities,
            traits,
            first_seen: None,
            last_seen: None,
            events: 0,
            sessions: 0,
            current_stage: None,
            stages: Vec::new(),
            persona: None,
            purchases: 0,
            revenue: 0.0,
            channels: Vec::new(),
            timeline: Vec::new(),
            timeline_truncated: false,
        }));
    };
    let mut channels: BTreeMap<String, u64> = BTreeMap::new();
    for &c in &t.channel {
        *channels.entry(channel_label(model, c)).or_insert(0) += 1;
    }
    let mut channels: Vec<ChannelCount> =
        channels.into_iter().map(|(channel, events)| ChannelCount { channel, events }).collect();
    channels.sort_by(|a, b| b.events.cmp(&a.events).then_with(|| a.channel.cmp(&b.channel)));
    let skip = t.idx.len().saturating_sub(limit);
    let timeline = (skip..t.idx.len())
        .map(|j| {
            let r = t.idx[j];
            TimelineEvent {
                timestamp: format_rfc3339(rows.ts[r]),
                event: model.event_names[rows.event[r] as usize].clone(),
                channel: channel_label(model, t.channel[j]),
                session: t.session[j] + 1,
                stage: (t.stage[j] != NO_STAGE).then(|| model.stage_names[t.stage[j] as usize].clone()),
                revenue: rows.f64_at(Col::Revenue, r),
                text: rows.str_at(Col::Text, r).filter(|s| !s.is_empty()).map(str::to_string),
            }
        })
        .collect();
    Ok(Some(CustomerProfile {
        customer_id: external,
        identities,
        traits,
        first_seen: Some(format_rfc3339(t.first_ts())),
        last_seen: Some(format_rfc3339(t.last_ts())),
        events: t.idx.len() as u64,
        sessions: t.session.last().map_or(0, |s| s + 1),
        current_stage: t.current_stage().map(|s| model.stage_names[s].clone()),
        stages: t
            .entry
            .iter()
            .enumerate()
            .filter_map(|(s, e)| {
                e.map(|at| StageEntry { stage: model.stage_names[s].clone(), entered_at: format_rfc3339(at) })
            })
            .collect(),
        persona: t.persona.map(|p| model.personas[p].0.clone()),
        purchases: t.purchases(),
        revenue: t.revenue(),
        channels,
        timeline,
        timeline_truncated: skip > 0,
    }))
}

fn channel_label(model: &Model, code: u32) -> String {
    if code == NO_CHANNEL { "Direct".to_string() } else { model.channel_name(code).to_string() }
}

/// A customer found by [`search`], and what matched.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerMatch {
    pub customer_id: String,
    /// `user:…`/`anonymous:…` for an identity, `trait NAME = VALUE` for a trait.
    pub matched: String,
}

/// Customers whose user or anonymous id, or one of whose identify traits
/// (`NAME=VALUE` for one trait, or any value), contains `query`, ignoring
/// case; ids first, at most `limit`.
pub fn search(store: &Store, query: &str, limit: usize) -> Result<Vec<CustomerMatch>, EngineError> {
    use rayon::prelude::*;
    let q = query.trim().to_lowercase();
    if q.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let mut ids = store.identity()?;
    let canon = ids.canonical_map().to_vec();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (i, key) in ids.keys().iter().enumerate() {
        let Some((kind, rest)) = key.split_once(':') else { continue };
        if rest.to_lowercase().contains(&q) && seen.insert(canon[i]) {
            let label = if kind == "u" { "user" } else { "anonymous" };
            out.push(CustomerMatch {
                customer_id: ids.external_id(canon[i]).to_string(),
                matched: format!("{label}:{rest}"),
            });
            if out.len() >= limit {
                return Ok(out);
            }
        }
    }
    // Traits: `name=value` looks in one trait, anything else in every value.
    let (name, value) = match q.split_once('=') {
        Some((n, v)) => (Some(n.trim().to_string()), v.trim().to_string()),
        None => (None, q.clone()),
    };
    let found: Vec<Vec<(u32, String)>> = (0..store.partitions())
        .into_par_iter()
        .map(|p| -> Result<Vec<(u32, String)>, EngineError> {
            // Only identify calls' properties (traits) are read: the column is
            // the largest by far, and most rows are other events.
            let identify = PropertyRows::Of { kinds: vec![Kind::Identify.code()], events: Vec::new() };
            let rows = store.read_partition_with(p, &[Col::Customer, Col::KindCode, Col::Properties], &identify)?;
            let mut hits = Vec::new();
            for (customer, range) in rows.timelines() {
                for i in range {
                    if Kind::from_code(rows.kind[i]) != Kind::Identify {
                        continue;
                    }
                    let Some(text) = rows.str_at(Col::Properties, i) else { continue };
                    if !text.to_lowercase().contains(&value) {
                        continue;
                    }
                    let Ok(Json::Object(t)) = serde_json::from_str::<Json>(text) else { continue };
                    let hit = t.iter().find(|(k, v)| {
                        name.as_ref().is_none_or(|n| k.to_lowercase() == *n)
                            && match v {
                                Json::String(s) => s.to_lowercase().contains(&value),
                                other => other.to_string().to_lowercase().contains(&value),
                            }
                    });
                    if let Some((k, v)) = hit {
                        let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                        hits.push((customer, format!("trait {k} = {v}")));
                        break;
                    }
                }
            }
            Ok(hits)
        })
        .collect::<Result<_, _>>()?;
    for (customer, matched) in found.into_iter().flatten() {
        if out.len() >= limit {
            break;
        }
        if seen.insert(customer) {
            out.push(CustomerMatch { customer_id: ids.external_id(customer).to_string(), matched });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ev, store, with};

    #[test]
    fn a_search_finds_ids_then_identify_traits_and_not_other_events_properties() {
        let (_dir, s) = store(vec![
            with(ev("ana", 0.0, "Identify"), |e| e.properties = r#"{"email":"Ana@Example.com","plan":"pro"}"#.into()),
            with(ev("bo", 1.0, "Order Completed"), |e| e.properties = r#"{"coupon":"ana@example.com"}"#.into()),
            with(ev("example-7", 2.0, "Page Viewed"), |e| e.properties = r#"{"plan":"pro"}"#.into()),
        ]);
        let found = |q: &str| -> Vec<(String, String)> {
            search(&s, q, 10).unwrap().into_iter().map(|m| (m.customer_id, m.matched)).collect()
        };
        // A trait, ignoring case; the coupon of bo's order is not a trait.
        assert_eq!(found("ANA@example"), [("ana".to_string(), "trait email = Ana@Example.com".to_string())]);
        // `name=value` looks in that trait only.
        assert_eq!(found("plan=pro"), [("ana".to_string(), "trait plan = pro".to_string())]);
        assert!(found("email=pro").is_empty());
        // Ids come first, then traits.
        assert_eq!(
            found("example"),
            [
                ("example-7".to_string(), "user:example-7".to_string()),
                ("ana".to_string(), "trait email = Ana@Example.com".to_string()),
            ]
        );
    }
}
