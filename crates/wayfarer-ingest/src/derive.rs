//! Channel derivation for one event: an explicit channel is kept verbatim;
//! otherwise the config's custom rules are tried in order; otherwise GA4's
//! default channel grouping over UTM values, click ids and the referrer.
//! `None` means the event carries no traffic information and inherits its
//! session's channel (the engine does that, since sessions span imports).

use std::sync::Mutex;

use rustc_hash::FxHashMap;
use wayfarer_core::Event;
use wayfarer_core::config::ChannelConfig;
use wayfarer_core::predicate::{EventFacts, Predicate, Scope, Vocabulary};

use crate::channels::{self, Traffic};

#[derive(Debug, Clone, Default)]
pub struct ChannelDeriver {
    rules: Vec<(String, Predicate)>,
    own_domains: Vec<String>,
    memo: Memo,
}

/// GA4 groups already worked out, by [`channels::classification_key`]:
/// most events repeat their session's traffic (the same campaign, no query,
/// an internal referrer), and the rules (URL and referrer parsing, the
/// source lists) cost more than a lookup. Cleared when it reaches
/// [`MEMO_ENTRIES`]; a clone starts empty.
#[derive(Debug, Default)]
struct Memo(Mutex<FxHashMap<Box<str>, Option<&'static str>>>);

const MEMO_ENTRIES: usize = 1 << 16;

impl Clone for Memo {
    fn clone(&self) -> Memo {
        Memo::default()
    }
}

impl ChannelDeriver {
    /// Builds the deriver; the config must have been validated.
    pub fn new(config: &ChannelConfig) -> Result<ChannelDeriver, String> {
        let rules = config
            .rules
            .iter()
            .map(|r| {
                Predicate::compile(&r.when, Scope::Ingest, &Vocabulary::default())
                    .map(|p| (r.name.clone(), p))
                    .map_err(|e| format!("channel rule '{}': '{}': {e}", r.name, r.when))
            })
            .collect::<Result<_, _>>()?;
        Ok(ChannelDeriver {
            rules,
            own_domains: config.own_domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
            memo: Memo::default(),
        })
    }

    /// The channel for an event, or None to inherit the session's.
    pub fn derive(&self, e: &Event) -> Option<String> {
        if let Some(c) = &e.channel {
            return Some(c.clone());
        }
        self.by_rules(e)
    }

    /// The channel of a stored event under these rules (re-deriving after
    /// the rules changed): the channel it was given (kept as
    /// `properties.channel`, see [`record_given`]) verbatim, else the
    /// rules'. Events stored before given channels were kept (`legacy`)
    /// keep a stored channel that neither traffic nor rules explain.
    pub fn rederive(&self, e: &Event, stored: Option<&str>, legacy: bool) -> Option<String> {
        let props: Option<serde_json::Value> = serde_json::from_str(&e.properties).ok();
        if let Some(c) = props.as_ref().and_then(|p| p.get("channel")).and_then(|c| c.as_str()) {
            return Some(c.to_string());
        }
        let derived = self.by_rules(e);
        if legacy && derived.is_none() { stored.map(str::to_string) } else { derived }
    }

    /// Custom rules, then GA4's default channel grouping.
    fn by_rules(&self, e: &Event) -> Option<String> {
        if !self.rules.is_empty() {
            let props: Option<serde_json::Value> = serde_json::from_str(&e.properties).ok();
            let facts = EventFacts { e, props: props.as_ref() };
            for (name, p) in &self.rules {
                if p.eval(&facts) {
                    return Some(name.clone());
                }
            }
        }
        let t = Traffic {
            source: e.source.as_deref(),
            medium: e.medium.as_deref(),
            campaign: e.campaign.as_deref(),
            url: e.url.as_deref(),
            referrer: e.referrer.as_deref(),
        };
        self.classify(&t).map(str::to_string)
    }

    /// GA4's default channel group of the traffic, remembered.
    fn classify(&self, t: &Traffic<'_>) -> Option<&'static str> {
        let mut key = String::with_capacity(96);
        channels::classification_key(t, &mut key);
        // A poisoned lock only means another thread panicked mid-insert;
        // the map is still a valid cache.
        if let Some(&group) = self.memo.0.lock().unwrap_or_else(|p| p.into_inner()).get(key.as_str()) {
            return group;
        }
        let group = channels::classify(t, &self.own_domains);
        let mut memo = self.memo.0.lock().unwrap_or_else(|p| p.into_inner());
        if memo.len() >= MEMO_ENTRIES {
            memo.clear();
        }
        memo.insert(key.into_boxed_str(), group);
        group
    }
}

/// Keeps a channel the sender gave (a `channel` column) in the event's
/// properties as `channel`, so re-deriving channels after the rules change
/// keeps it; a `properties.channel` already there stays as it is.
pub fn record_given(properties: &mut String, channel: &str) {
    // Most rows carry no other properties.
    if properties.trim() == "{}" || properties.is_empty() {
        // The object is written as serde_json would write it; a name with
        // nothing to escape (nearly every one) is copied as it is.
        properties.clear();
        properties.reserve(channel.len() + 16);
        properties.push_str("{\"channel\":");
        if channel.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
            properties.push('"');
            properties.push_str(channel);
            properties.push('"');
        } else {
            // Serializing a string cannot fail.
            properties.push_str(&serde_json::to_string(channel).unwrap_or_else(|_| "\"\"".to_string()));
        }
        properties.push('}');
        return;
    }
    let mut map = match serde_json::from_str::<serde_json::Value>(properties) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    if map.contains_key("channel") {
        return;
    }
    map.insert("channel".into(), serde_json::Value::String(channel.to_string()));
    *properties = serde_json::Value::Object(map).to_string();
}

/// What identifies a set of channel rules and the revenue property: stored
/// channels and revenue follow the configuration whose fingerprint the
/// manifest records; another fingerprint means they must be derived again.
pub fn fingerprint(config: &ChannelConfig, revenue_property: Option<&str>) -> String {
    // The version changes with the derivation itself (GA4's grouping).
    let mut what = serde_json::json!({"v": 1, "own_domains": config.own_domains, "rules": config.rules});
    if let Some(p) = revenue_property {
        what["revenue_property"] = serde_json::Value::String(p.to_string());
    }
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(what.to_string().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_channel_is_kept_in_the_properties() {
        for name in ["Email", "Paid \"Social\"", "back\\slash", "tab\there", "é ☃"] {
            let mut p = "{}".to_string();
            record_given(&mut p, name);
            assert_eq!(p, serde_json::json!({"channel": name}).to_string(), "{name}");
        }
        let mut p = "{}".to_string();
        record_given(&mut p, "Paid \"Social\"");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&p).unwrap(),
            serde_json::json!({"channel": "Paid \"Social\""})
        );
        let mut q = r#"{"plan":"pro"}"#.to_string();
        record_given(&mut q, "Email");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&q).unwrap(),
            serde_json::json!({"plan": "pro", "channel": "Email"})
        );
        // One already there stays.
        let mut r = r#"{"channel":"Partner"}"#.to_string();
        record_given(&mut r, "Email");
        assert_eq!(r, r#"{"channel":"Partner"}"#);
    }
}
