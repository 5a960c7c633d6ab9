//! Channel derivation for one event: an explicit channel is kept verbatim;
//! otherwise the config's custom rules are tried in order; otherwise GA4's
//! default channel grouping over UTM values, click ids and the referrer.
//! `None` means the event carries no traffic information and inherits its
//! session's channel (the engine does that, since sessions span imports).

use wayfarer_core::Event;
use wayfarer_core::config::ChannelConfig;
use wayfarer_core::predicate::{EventFacts, Predicate, Scope, Vocabulary};

use crate::channels::{self, Traffic};

#[derive(Debug, Clone, Default)]
pub struct ChannelDeriver {
    rules: Vec<(String, Predicate)>,
    own_domains: Vec<String>,
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
        Ok(ChannelDeriver { rules, own_domains: config.own_domains.iter().map(|d| d.to_ascii_lowercase()).collect() })
    }

    /// The channel for an event, or None to inherit the session's.
    pub fn derive(&self, e: &Event) -> Option<String> {
        if let Some(c) = &e.channel {
            return Some(c.clone());
        }
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
        channels::classify(&t, &self.own_domains).map(str::to_string)
    }
}
