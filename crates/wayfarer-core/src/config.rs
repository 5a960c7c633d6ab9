//! The configuration schema: sessions, journey facts, channel rules, the stage
//! model, touchpoints, hand-written personas and map options, read from TOML.
//!
//! The documented default file (`default_config.toml`, written by
//! `wayfarer config init`) *is* the default: [`Config::default`] parses it, so
//! the two can never disagree. Unknown keys are rejected. Conditions are
//! parsed and checked by [`Config::validate`], which names the offending key.

use serde::{Deserialize, Serialize};

use crate::predicate::{Predicate, Scope, Vocabulary};

/// The commented default configuration, written by `wayfarer config init`.
pub const DEFAULT_TOML: &str = include_str!("default_config.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub sessions: SessionConfig,
    pub journey: JourneyConfig,
    pub channels: ChannelConfig,
    #[serde(default)]
    pub stages: Vec<StageDef>,
    #[serde(default)]
    pub touchpoints: Vec<TouchpointDef>,
    #[serde(default)]
    pub personas: Vec<PersonaDef>,
    pub map: MapConfig,
    /// Absent in files written before it existed: then the defaults.
    #[serde(default)]
    pub ingest: IngestConfig,
    /// Command-line options' values: `[options.funnel] window = "14d"`
    /// (the key is the flag's name with `_` for `-`; nested commands nest:
    /// `[options.keys.create]`). A flag and its `WAYFARER_*` variable take
    /// precedence; the binary checks every key against its flags.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub options: toml::Table,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    pub timeout_minutes: f64,
    pub engaged_seconds: f64,
    pub conversion_events: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneyConfig {
    pub churn_after_days: f64,
    pub purchase_event: String,
    pub friction_events: Vec<String>,
    pub support_events: Vec<String>,
    pub retry_seconds: f64,
    pub passive_events: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub own_domains: Vec<String>,
    pub inherit_session_channel: bool,
    #[serde(default)]
    pub rules: Vec<ChannelRuleDef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelRuleDef {
    pub name: String,
    pub when: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageDef {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub rules: Vec<RuleDef>,
}

/// One way of matching an event: name glob, optional channel glob, optional condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    #[serde(default = "any_event")]
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

fn any_event() -> String {
    "*".to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TouchpointDef {
    pub name: String,
    #[serde(default = "any_event")]
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonaDef {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub when: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapConfig {
    pub top: usize,
    pub verbatims: usize,
    pub significance: f64,
    pub min_customers: u64,
}

/// What ingestion (files and HTTP) accepts beyond well-formed values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Events dated before this date (UTC) are rejected.
    pub earliest: String,
    /// Events dated more than this many hours after they were received are rejected.
    pub max_future_hours: f64,
    /// Revenue larger than this in absolute value is rejected.
    pub max_revenue: f64,
    /// An event property that holds the revenue of events that carry none
    /// of their own (e.g. `order_value`); stored events follow a change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revenue_property: Option<String>,
}

impl Default for IngestConfig {
    /// The same values as `default_config.toml` (a unit test checks).
    fn default() -> Self {
        IngestConfig { earliest: "2000-01-01".into(), max_future_hours: 24.0, max_revenue: 1e9, revenue_property: None }
    }
}

impl IngestConfig {
    /// `earliest` in µs since the epoch (validated at load; the default's
    /// value if it does not parse).
    pub fn earliest_micros(&self) -> i64 {
        crate::time::parse_timestamp(&self.earliest).unwrap_or(946_684_800_000_000)
    }
}

/// A configuration problem, naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    Toml { path: String, message: String },
    #[error("{path}: {key}: {message}")]
    Invalid { path: String, key: String, message: String },
}

impl Default for Config {
    fn default() -> Self {
        // The default file is part of the crate and checked by a unit test.
        match toml::from_str(DEFAULT_TOML) {
            Ok(c) => c,
            Err(e) => panic!("built-in default_config.toml is invalid: {e}"),
        }
    }
}

impl Config {
    /// Parses and validates a TOML configuration; `path` names it in errors.
    pub fn from_toml(text: &str, path: &str) -> Result<Config, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigError::Toml { path: path.to_string(), message: e.to_string() })?;
        config.validate(path)?;
        Ok(config)
    }

    /// Checks every condition parses and every list that must not be empty isn't.
    pub fn validate(&self, path: &str) -> Result<(), ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid { path: path.to_string(), key, message };
        if self.stages.is_empty() {
            return Err(invalid("stages".into(), "at least one stage is required".into()));
        }
        let vocab =
            Vocabulary { stages: self.stages.iter().map(|s| s.name.clone()).collect(), ..Vocabulary::default() };
        self.check_conditions(&vocab).map_err(|(key, message)| invalid(key, message))?;
        let mut names = std::collections::HashSet::new();
        for (i, s) in self.stages.iter().enumerate() {
            if !names.insert(s.name.as_str()) {
                return Err(invalid(format!("stages[{i}].name"), format!("duplicate stage '{}'", s.name)));
            }
            if s.rules.is_empty() {
                return Err(invalid(format!("stages[{i}].rules"), format!("stage '{}' has no rules", s.name)));
            }
        }
        if self.sessions.timeout_minutes.is_nan() || self.sessions.timeout_minutes <= 0.0 {
            return Err(invalid("sessions.timeout_minutes".into(), "must be greater than 0".into()));
        }
        if self.map.significance.is_nan() || self.map.significance <= 0.0 || self.map.significance >= 1.0 {
            return Err(invalid("map.significance".into(), "must be between 0 and 1".into()));
        }
        crate::time::parse_timestamp(&self.ingest.earliest)
            .map_err(|e| invalid("ingest.earliest".into(), format!("'{}': {e}", self.ingest.earliest)))?;
        if !self.ingest.max_future_hours.is_finite() || self.ingest.max_future_hours < 0.0 {
            return Err(invalid("ingest.max_future_hours".into(), "must be 0 or more hours".into()));
        }
        if !self.ingest.max_revenue.is_finite() || self.ingest.max_revenue <= 0.0 {
            return Err(invalid("ingest.max_revenue".into(), "must be a number greater than 0".into()));
        }
        Ok(())
    }

    /// Every condition of the configuration compiled in its scope against a
    /// vocabulary: `Err((key, message))` names the first that cannot hold,
    /// e.g. `("personas[0].when", "at column 1: 'first_chanel' is not a customer fact; …")`.
    pub fn check_conditions(&self, vocab: &Vocabulary) -> Result<(), (String, String)> {
        let check_in = |vocab: &Vocabulary, key: String, when: &str, scope: Scope| {
            Predicate::compile(when, scope, vocab).map(drop).map_err(|e| (key, format!("'{when}': {e}")))
        };
        let check = |key: String, when: &str, scope: Scope| check_in(vocab, key, when, scope);
        // Stage and touchpoint rules may name properties the data lacks
        // (the doctor lists rules that match nothing); typos are errors.
        let lenient = Vocabulary { absent_property_is_error: false, ..vocab.clone() };
        for (i, s) in self.stages.iter().enumerate() {
            for (j, r) in s.rules.iter().enumerate() {
                if let Some(w) = &r.when {
                    let key = format!("stages[{i}].rules[{j}].when (stage '{}')", s.name);
                    check_in(&lenient, key, w, Scope::Event)?;
                }
            }
        }
        for (i, t) in self.touchpoints.iter().enumerate() {
            if let Some(w) = &t.when {
                check_in(&lenient, format!("touchpoints[{i}].when (touchpoint '{}')", t.name), w, Scope::Event)?;
            }
        }
        for (i, p) in self.personas.iter().enumerate() {
            let key = format!("personas[{i}].when (persona '{}')", p.name);
            check(key.clone(), &p.when, Scope::Customer)?;
            // A persona is what these rules decide; a rule cannot read it.
            let reads_persona = Predicate::parse(&p.when).is_ok_and(|w| {
                w.fields().contains(&&crate::predicate::Field::Customer(crate::predicate::CustomerFact::Persona))
            });
            if reads_persona {
                return Err((
                    key,
                    format!("'{}': a persona rule cannot read 'persona', which the rules decide", p.when),
                ));
            }
        }
        for (i, r) in self.channels.rules.iter().enumerate() {
            check(format!("channels.rules[{i}].when (channel '{}')", r.name), &r.when, Scope::Ingest)?;
        }
        Ok(())
    }

    pub fn stage_names(&self) -> Vec<&str> {
        self.stages.iter().map(|s| s.name.as_str()).collect()
    }

    /// Serialises the configuration (without comments).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_is_the_default() {
        let c = Config::from_toml(DEFAULT_TOML, "default").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.stage_names(), ["Awareness", "Consideration", "Decision", "Purchase", "Retention", "Advocacy"]);
        assert_eq!(c.sessions.timeout_minutes, 30.0);
        assert_eq!(c.journey.churn_after_days, 90.0);
        // Round trip through serialisation.
        let again = Config::from_toml(&c.to_toml(), "roundtrip").unwrap();
        assert_eq!(again, c);
        assert_eq!(c.ingest, IngestConfig::default(), "[ingest] of the file and IngestConfig::default agree");
        assert_eq!(c.ingest.earliest_micros(), 946_684_800_000_000);
    }

    #[test]
    fn ingest_bounds_are_optional_and_checked() {
        let start = DEFAULT_TOML.find("[ingest]").unwrap();
        let old = Config::from_toml(&DEFAULT_TOML[..start], "old.toml").unwrap();
        assert_eq!(old.ingest, IngestConfig::default(), "a file from before [ingest] gets the defaults");
        let bad = DEFAULT_TOML.replace("earliest = \"2000-01-01\"", "earliest = \"the dawn of time\"");
        let e = Config::from_toml(&bad, "w.toml").unwrap_err().to_string();
        assert!(e.contains("ingest.earliest"), "{e}");
        let bad = DEFAULT_TOML.replace("max_revenue = 1000000000", "max_revenue = -1");
        let e = Config::from_toml(&bad, "w.toml").unwrap_err().to_string();
        assert!(e.contains("ingest.max_revenue"), "{e}");
    }

    #[test]
    fn unknown_keys_and_bad_conditions_name_the_key() {
        let bad = DEFAULT_TOML.replace("timeout_minutes = 30", "timeout_minutes = 30\ntimeout_mins = 5");
        let e = Config::from_toml(&bad, "w.toml").unwrap_err().to_string();
        assert!(e.contains("timeout_mins"), "{e}");

        let bad = DEFAULT_TOML.replace("nth_purchase >= 2", "nth_purchase >=");
        let e = Config::from_toml(&bad, "w.toml").unwrap_err().to_string();
        assert!(e.contains("stages[4].rules[0].when"), "{e}");
    }
}
