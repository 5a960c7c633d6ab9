//! The compiled configuration: stage rules, touchpoints, personas and event
//! classes resolved against the store's event and channel dictionaries, so a
//! fold tests integers, not names, on the hot path. Only rules with a channel
//! glob or a condition are evaluated per event.

use std::collections::HashSet;

use wayfarer_core::Kind;
use wayfarer_core::config::Config;
use wayfarer_core::event::{GA4_CHANNELS, OFFLINE_CHANNELS};
use wayfarer_core::glob::glob_match;
use wayfarer_core::predicate::{Field, Predicate, Vocabulary};
use wayfarer_core::time::{MICROS_PER_DAY, MICROS_PER_MINUTE, MICROS_PER_SECOND};
use wayfarer_store::keys::Keys;
use wayfarer_store::{Col, PropertyRows, Store};

use crate::EngineError;

/// The integer columns every timeline build reads.
pub const TIMELINE_CORE: [Col; 4] = [Col::Timestamp, Col::EventCode, Col::ChannelCode, Col::KindCode];

/// Name of the channel given to events and sessions with no traffic source.
pub const DIRECT: &str = "Direct";
/// Name shown for events without any channel (server-side events outside web sessions).
pub const NONE: &str = "(none)";

#[derive(Debug, Clone)]
pub struct Rule {
    pub stage: usize,
    pub channel: Option<String>,
    pub when: Option<Predicate>,
}

#[derive(Debug, Clone)]
pub struct Touchpoint {
    pub name: String,
    pub channel: Option<String>,
    pub when: Option<Predicate>,
}

/// A touchpoint as counted: a configured one (index into the model's
/// touchpoints), or the event itself for events no touchpoint matches
/// (always with `NO_CHANNEL` since touchpoints are grouped by event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize, serde::Deserialize)]
pub enum TpKey {
    Defined(u32),
    #[default]
    None,
    Fallback(u32, u32),
}

/// What decides which touchpoint an event is, beyond its code: lets a fold
/// remember the touchpoint per distinct input instead of evaluating the
/// touchpoints' conditions (URL globs, say) event by event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TpInputs {
    /// No touchpoint names the event: it is its own.
    Nothing,
    /// Some of: the event's effective channel, its kind, one text column
    /// (its URL, say).
    Few { channel: bool, kind: bool, text: Option<Col> },
    /// Something else (properties, traits, customer facts…): evaluated per event.
    Anything,
}

/// What the touchpoints an event's code may match read.
fn tp_inputs(touchpoints: &[Touchpoint], candidates: &[usize]) -> TpInputs {
    use wayfarer_core::predicate::Field;
    if candidates.is_empty() {
        return TpInputs::Nothing;
    }
    let (mut channel, mut kind, mut text) = (false, false, None::<Col>);
    for &i in candidates {
        channel |= touchpoints[i].channel.is_some();
        for f in touchpoints[i].when.iter().flat_map(Predicate::fields) {
            let col = match f {
                Field::Event => continue,
                Field::Kind => {
                    kind = true;
                    continue;
                }
                Field::Channel => {
                    channel = true;
                    continue;
                }
                Field::Url => Col::Url,
                Field::Source => Col::Source,
                Field::Medium => Col::Medium,
                Field::Campaign => Col::Campaign,
                Field::Referrer => Col::Referrer,
                _ => return TpInputs::Anything,
            };
            if text.is_some_and(|c| c != col) {
                return TpInputs::Anything;
            }
            text = Some(col);
        }
    }
    TpInputs::Few { channel, kind, text }
}

/// A configuration compiled against one store.
#[derive(Debug, Clone)]
pub struct Model {
    pub config: Config,
    pub stage_names: Vec<String>,
    pub event_names: Vec<String>,
    /// Store channels, plus "Direct" if the store has none by that name.
    pub channels: Vec<String>,
    pub direct: u32,
    rules: Vec<Rule>,
    /// Per event code: indices into `rules` whose event glob matches.
    rules_by_event: Vec<Vec<usize>>,
    pub touchpoints: Vec<Touchpoint>,
    /// Per event code: touchpoint indices whose event glob matches, in config order.
    tps_by_event: Vec<Vec<usize>>,
    /// Per event code: what its touchpoint is a function of.
    tp_inputs: Vec<TpInputs>,
    pub personas: Vec<(String, String, Predicate)>,
    pub purchase_code: Option<u32>,
    pub is_friction: Vec<bool>,
    pub is_support: Vec<bool>,
    pub is_passive: Vec<bool>,
    pub is_conversion: Vec<bool>,
    pub session_timeout: i64,
    pub engaged_after: i64,
    pub churn_after: i64,
    pub retry_within: i64,
    /// The latest timestamp in the data: "now" for churn.
    pub data_end: i64,
    pub data_start: i64,
    /// Extra columns the compiled predicates read.
    pub predicate_columns: Vec<Col>,
    /// The property and trait names of the data (None: not recorded).
    pub keys: Option<Keys>,
}

impl Model {
    pub fn compile(config: &Config, store: &Store) -> Result<Model, EngineError> {
        config.validate("config").map_err(|e| EngineError::Config(e.to_string()))?;
        let event_names = store.event_names().to_vec();
        let mut channels = store.channels().to_vec();
        let direct = match channels.iter().position(|c| c == DIRECT) {
            Some(i) => i as u32,
            None => {
                channels.push(DIRECT.to_string());
                (channels.len() - 1) as u32
            }
        };
        let keys = store.manifest().keys.clone();
        let vocab = vocabulary(config, &event_names, &channels, keys.as_ref());
        config.check_conditions(&vocab).map_err(|(key, e)| EngineError::Config(format!("{key}: {e}")))?;
        if let Some(p) = &config.ingest.revenue_property {
            vocab
                .check_key(&wayfarer_core::predicate::Field::Property(p.clone()))
                .map_err(|e| EngineError::Config(format!("ingest.revenue_property: {e}")))?;
        }
        // Checked above; parsed here with the stages' order (`stage >= 'Purchase'`).
        let stage_order: Vec<String> = config.stages.iter().map(|s| s.name.clone()).collect();
        let parse = |s: &Option<String>| -> Result<Option<Predicate>, EngineError> {
            s.as_deref()
                .map(|w| {
                    Predicate::parse(w)
                        .map(|p| p.order_stages(&stage_order))
                        .map_err(|e| EngineError::Config(format!("'{w}': {e}")))
                })
                .transpose()
        };
        let mut rules = Vec::new();
        let mut rule_globs = Vec::new();
        for (k, s) in config.stages.iter().enumerate() {
            for r in &s.rules {
                rules.push(Rule { stage: k, channel: r.channel.clone(), when: parse(&r.when)? });
                rule_globs.push(r.event.clone());
            }
        }
        let rules_by_event =
            event_names.iter().map(|n| (0..rules.len()).filter(|&i| glob_match(&rule_globs[i], n)).collect()).collect();
        let mut touchpoints = Vec::new();
        let mut tp_globs = Vec::new();
        for t in &config.touchpoints {
            touchpoints.push(Touchpoint { name: t.name.clone(), channel: t.channel.clone(), when: parse(&t.when)? });
            tp_globs.push(t.event.clone());
        }
        let tps_by_event: Vec<Vec<usize>> = event_names
            .iter()
            .map(|n| (0..touchpoints.len()).filter(|&i| glob_match(&tp_globs[i], n)).collect())
            .collect();
        let tp_inputs = (0..event_names.len()).map(|e| tp_inputs(&touchpoints, &tps_by_event[e])).collect();
        let personas: Vec<(String, String, Predicate)> = config
            .personas
            .iter()
            .map(|p| {
                Predicate::parse(&p.when)
                    .map(|w| (p.name.clone(), p.description.clone(), w.order_stages(&stage_order)))
                    .map_err(|e| EngineError::Config(format!("persona '{}': {e}", p.name)))
            })
            .collect::<Result<_, _>>()?;
        let classes = |globs: &[String]| -> Vec<bool> {
            event_names.iter().map(|n| globs.iter().any(|g| glob_match(g, n))).collect()
        };
        let j = &config.journey;
        let mut predicate_columns: HashSet<Col> = HashSet::new();
        let mut preds: Vec<&Predicate> = Vec::new();
        preds.extend(rules.iter().filter_map(|r: &Rule| r.when.as_ref()));
        preds.extend(touchpoints.iter().filter_map(|t: &Touchpoint| t.when.as_ref()));
        preds.extend(personas.iter().map(|(_, _, p)| p));
        for p in &preds {
            predicate_columns.extend(p.fields().into_iter().flat_map(crate::facts::columns));
        }
        let mut predicate_columns: Vec<Col> = predicate_columns.into_iter().collect();
        predicate_columns.sort();
        let segments = &store.manifest().segments;
        Ok(Model {
            stage_names: config.stages.iter().map(|s| s.name.clone()).collect(),
            purchase_code: event_names.iter().position(|n| *n == j.purchase_event).map(|i| i as u32),
            is_friction: classes(&j.friction_events),
            is_support: classes(&j.support_events),
            is_passive: classes(&j.passive_events),
            is_conversion: classes(&config.sessions.conversion_events),
            session_timeout: (config.sessions.timeout_minutes * MICROS_PER_MINUTE as f64).round() as i64,
            engaged_after: (config.sessions.engaged_seconds * MICROS_PER_SECOND as f64).round() as i64,
            churn_after: (j.churn_after_days * MICROS_PER_DAY as f64).round() as i64,
            retry_within: (j.retry_seconds * MICROS_PER_SECOND as f64).round() as i64,
            data_end: segments.iter().map(|s| s.max_ts).max().unwrap_or(0),
            data_start: segments.iter().map(|s| s.min_ts).min().unwrap_or(0),
            config: config.clone(),
            event_names,
            channels,
            direct,
            rules,
            rules_by_event,
            touchpoints,
            tps_by_event,
            tp_inputs,
            personas,
            predicate_columns,
            keys,
        })
    }

    pub fn stages(&self) -> usize {
        self.stage_names.len()
    }

    pub fn rules_for(&self, event: u32) -> &[usize] {
        self.rules_by_event.get(event as usize).map_or(&[], Vec::as_slice)
    }

    pub fn rule(&self, i: usize) -> &Rule {
        &self.rules[i]
    }

    pub fn touchpoints_for(&self, event: u32) -> &[usize] {
        self.tps_by_event.get(event as usize).map_or(&[], Vec::as_slice)
    }

    /// What the touchpoint of an event with this code is a function of.
    pub fn touchpoint_inputs(&self, event: u32) -> TpInputs {
        self.tp_inputs.get(event as usize).copied().unwrap_or(TpInputs::Anything)
    }

    /// A touchpoint's display name.
    pub fn touchpoint_name(&self, k: TpKey) -> String {
        match k {
            TpKey::Defined(i) => self.touchpoints.get(i as usize).map_or("?".into(), |t| t.name.clone()),
            TpKey::Fallback(e, c) if c == wayfarer_store::NO_CHANNEL => self.event_name(e).to_string(),
            TpKey::Fallback(e, c) => format!("{} @ {}", self.event_name(e), self.channel_name(c)),
            TpKey::None => "(none)".into(),
        }
    }

    pub fn event_name(&self, code: u32) -> &str {
        self.event_names.get(code as usize).map_or("?", String::as_str)
    }

    /// Which event codes a name or glob given in a query matches; an error
    /// naming it (and the closest event name) when it matches none, so a
    /// typo never answers with zeros. `what` says where it was given
    /// (`step 'Product Viewd'`, `--from-event`).
    pub fn events_matching(&self, glob: &str, what: &str) -> Result<Vec<bool>, EngineError> {
        let m: Vec<bool> = self.event_names.iter().map(|n| glob_match(glob, n)).collect();
        if m.iter().any(|&b| b) {
            return Ok(m);
        }
        let hint = wayfarer_core::suggest::hint(glob, &self.event_names);
        Err(EngineError::InvalidQuery(if self.event_names.is_empty() {
            format!("{what}: no event named '{glob}': the data holds no events yet")
        } else if hint.is_empty() && self.event_names.len() <= 30 {
            format!("{what}: no event named '{glob}' in the data; events: {}", self.event_names.join(", "))
        } else {
            format!("{what}: no event named '{glob}' in the data{hint}")
        }))
    }

    pub fn channel_name(&self, code: u32) -> &str {
        self.channels.get(code as usize).map_or(DIRECT, String::as_str)
    }

    /// Columns every timeline build needs: the core ones and those the
    /// compiled conditions read (identify traits live in `properties`).
    pub fn timeline_columns(&self) -> Vec<Col> {
        let mut cols = self.predicate_columns.clone();
        cols.extend(TIMELINE_CORE);
        cols.sort();
        cols.dedup();
        cols
    }

    /// Whose properties the compiled conditions read: a stage rule's or a
    /// touchpoint's `properties.x` is about its events' rows, traits come
    /// from identify calls, and a persona's `properties.x` (the latest value
    /// of any event) needs every row.
    pub fn property_rows(&self) -> PropertyRows {
        let reads_property = |p: &Predicate| p.fields().iter().any(|f| matches!(f, Field::Property(_)));
        if self.personas.iter().any(|(_, _, p)| reads_property(p)) {
            return PropertyRows::All;
        }
        let rule_reads = |r: &usize| self.rules[*r].when.as_ref().is_some_and(reads_property);
        let tp_reads = |t: &usize| self.touchpoints[*t].when.as_ref().is_some_and(reads_property);
        let events = (0..self.event_names.len())
            .filter(|&e| {
                self.rules_for(e as u32).iter().any(rule_reads) || self.touchpoints_for(e as u32).iter().any(tp_reads)
            })
            .map(|e| e as u32)
            .collect();
        PropertyRows::Of { kinds: vec![Kind::Identify.code()], events }
    }

    /// What the data holds, for checking conditions written against it.
    pub fn vocabulary(&self) -> Vocabulary {
        vocabulary(&self.config, &self.event_names, &self.channels, self.keys.as_ref())
    }

    /// The index of a persona named by the user, or an error listing the known ones.
    pub fn resolve_persona(&self, name: Option<&str>) -> Result<Option<usize>, EngineError> {
        let Some(name) = name else { return Ok(None) };
        self.persona_index(name).map(Some).ok_or_else(|| {
            let known: Vec<&str> = self.personas.iter().map(|(n, _, _)| n.as_str()).collect();
            EngineError::InvalidQuery(if known.is_empty() {
                format!("no persona '{name}': the configuration defines no personas ([[personas]] in wayfarer.toml)")
            } else {
                format!("no persona '{name}'; known personas: {}", known.join(", "))
            })
        })
    }

    pub fn persona_index(&self, name: &str) -> Option<usize> {
        self.personas.iter().position(|(n, _, _)| n.eq_ignore_ascii_case(name))
    }

    /// Whether an interaction at `ts` starts a new session after one at
    /// `prev` (DESIGN §4.2: a gap longer than the timeout).
    pub fn new_session(&self, prev: i64, ts: i64) -> bool {
        ts - prev > self.session_timeout
    }

    pub fn flag(v: &[bool], code: u32) -> bool {
        v.get(code as usize).copied().unwrap_or(false)
    }
}

/// The names conditions may compare with: the store's events, every channel
/// a rule or the data can produce (GA4's, the offline ones, configured
/// rules', the store's) and the stages. With no data yet, events and
/// channels are not checked.
fn vocabulary(config: &Config, events: &[String], store_channels: &[String], keys: Option<&Keys>) -> Vocabulary {
    let mut channels: Vec<String> = Vec::new();
    if !events.is_empty() {
        let named = GA4_CHANNELS.iter().chain(OFFLINE_CHANNELS).map(|c| c.to_string());
        channels.extend(named.chain(config.channels.rules.iter().map(|r| r.name.clone())));
        channels.extend(store_channels.iter().cloned());
        channels.push(NONE.to_string());
        channels.sort();
        channels.dedup();
    }
    Vocabulary {
        events: events.to_vec(),
        channels,
        stages: config.stages.iter().map(|s| s.name.clone()).collect(),
        touchpoints: config.touchpoints.iter().map(|t| t.name.clone()).collect(),
        properties: keys.map(|k| k.properties.iter().cloned().collect()),
        traits: keys.map(|k| k.traits.iter().cloned().collect()),
        personas: config.personas.iter().map(|p| p.name.clone()).collect(),
        discovered_personas: Vec::new(),
        absent_property_is_error: true,
    }
}
