//! Decoding one record into a canonical [`Event`]: a raw Segment message
//! (track, identify, page, screen, group, alias) or a flat row (CSV, NDJSON
//! object, Parquet row) whose columns are recognised by name.
//!
//! Every failure is a [`FieldError`] naming the field and what was expected;
//! the caller adds the file and line.

use std::borrow::Cow;

use serde_json::{Map, Value};
use wayfarer_core::config::IngestConfig;
use wayfarer_core::event::{ALIAS, GROUP, IDENTIFY, PAGE_VIEWED, SCREEN_VIEWED};
use wayfarer_core::time::{EXPECTED, format_rfc3339, from_epoch_number, parse_timestamp};
use wayfarer_core::{ErrorCode, Event, Kind};
use xxhash_rust::xxh3::Xxh3;

use crate::derive::ChannelDeriver;

/// What was wrong with a record: the field at fault, why, and the stable
/// error code the HTTP API and rejects files report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
    pub code: ErrorCode,
}

impl FieldError {
    /// A value that is present but wrong (`invalid_field`).
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> FieldError {
        FieldError { field: field.into(), reason: reason.into(), code: ErrorCode::InvalidField }
    }

    /// A required value that is absent (`missing_field`).
    pub fn missing(field: impl Into<String>, reason: impl Into<String>) -> FieldError {
        FieldError::new(field, reason).with_code(ErrorCode::MissingField)
    }

    pub fn with_code(mut self, code: ErrorCode) -> FieldError {
        self.code = code;
        self
    }
}

/// A number as people write it: 12.5, 1000000000, 1e308.
fn number(x: f64) -> String {
    if x.abs() >= 1e15 { format!("{x:e}") } else { format!("{x}") }
}

/// What decoding accepts beyond well-formed values: a plausible time range
/// and revenue (`[ingest]` in the configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Events dated before this (µs) are refused.
    pub earliest: i64,
    /// Events dated more than this (µs) after they were received are refused.
    pub max_future: i64,
    /// Revenue larger than this in absolute value is refused.
    pub max_revenue: f64,
    /// The property that gives revenue to events without their own.
    pub revenue_property: Option<String>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::from_config(&IngestConfig::default())
    }
}

impl Limits {
    pub fn from_config(c: &IngestConfig) -> Limits {
        Limits {
            earliest: c.earliest_micros(),
            max_future: (c.max_future_hours * wayfarer_core::time::MICROS_PER_HOUR as f64) as i64,
            max_revenue: c.max_revenue,
            revenue_property: c.revenue_property.clone().filter(|p| !p.trim().is_empty()),
        }
    }

    /// The revenue an event gets from the configured revenue property
    /// (when it has none of its own), and the field it came from:
    /// `Ok(None)` when no property is configured or the event lacks it.
    pub fn revenue_from_property(&self, e: &Event) -> Result<Option<(f64, String)>, FieldError> {
        let Some(p) = &self.revenue_property else { return Ok(None) };
        if e.revenue.is_some() || !e.properties.contains(p.as_str()) {
            return Ok(None);
        }
        let Ok(Value::Object(props)) = serde_json::from_str::<Value>(&e.properties) else { return Ok(None) };
        let field = format!("properties.{p}");
        match props.get(p) {
            Some(v) => Ok(Cell::Json(v).number(&field)?.map(|n| (n, field))),
            None => Ok(None),
        }
    }

    /// Fills an event's revenue from the revenue property; the field to
    /// name when the revenue is refused.
    fn fill_revenue(&self, e: &mut Event) -> Result<Option<String>, FieldError> {
        Ok(self.revenue_from_property(e)?.map(|(n, field)| {
            e.revenue = Some(n);
            field
        }))
    }

    /// Checks an event's time and revenue.
    fn check(&self, e: &Event, time_field: &str, revenue_field: &str) -> Result<(), FieldError> {
        if e.timestamp < self.earliest {
            return Err(FieldError::new(
                time_field,
                format!(
                    "{} is before {}, the earliest accepted time ([ingest] earliest)",
                    format_rfc3339(e.timestamp),
                    format_rfc3339(self.earliest)
                ),
            )
            .with_code(ErrorCode::TimestampOutOfRange));
        }
        let latest = e.received_at.saturating_add(self.max_future);
        if e.timestamp > latest {
            return Err(FieldError::new(
                time_field,
                format!(
                    "{} is more than {} hours after the event was received ({}); is the sender's clock wrong? ([ingest] max_future_hours)",
                    format_rfc3339(e.timestamp),
                    self.max_future as f64 / wayfarer_core::time::MICROS_PER_HOUR as f64,
                    format_rfc3339(e.received_at)
                ),
            )
            .with_code(ErrorCode::TimestampOutOfRange));
        }
        if let Some(r) = e.revenue
            && r.abs() > self.max_revenue
        {
            return Err(FieldError::new(
                revenue_field,
                format!(
                    "{} is larger than {} in absolute value ([ingest] max_revenue)",
                    number(r),
                    number(self.max_revenue)
                ),
            )
            .with_code(ErrorCode::ValueOutOfRange));
        }
        Ok(())
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Turns records into events; holds what decoding needs to know.
#[derive(Debug, Clone)]
pub struct Decoder {
    pub channels: ChannelDeriver,
    /// The acceptance time stamped on events that do not carry one.
    pub received_at: i64,
    pub limits: Limits,
    /// Correct senders' clock skew with `sentAt` (Segment's rule). Only
    /// where the receipt time is real: the HTTP server, not file imports.
    pub correct_skew: bool,
}

/// The meaning of a flat column, recognised by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    EventId,
    UserId,
    AnonymousId,
    PreviousId,
    Timestamp,
    ReceivedAt,
    Kind,
    Event,
    Channel,
    Source,
    Medium,
    Campaign,
    Url,
    Referrer,
    Revenue,
    Score,
    Survey,
    Text,
    Properties,
    /// Any other column: becomes a property.
    Extra,
}

impl Role {
    /// Recognises a column name (case-insensitive, `_`, `-` and spaces ignored).
    pub fn of(name: &str) -> Role {
        let n: String =
            name.chars().filter(|c| !matches!(c, '_' | '-' | ' ')).map(|c| c.to_ascii_lowercase()).collect();
        match n.as_str() {
            "eventid" | "messageid" => Role::EventId,
            "customerid" | "userid" | "customer" => Role::UserId,
            "anonymousid" => Role::AnonymousId,
            "previousid" => Role::PreviousId,
            "timestamp" | "time" | "ts" | "eventtime" | "occurredat" | "datetime" => Role::Timestamp,
            "receivedat" => Role::ReceivedAt,
            "type" | "kind" => Role::Kind,
            "event" | "eventname" => Role::Event,
            "channel" => Role::Channel,
            "source" | "utmsource" => Role::Source,
            "medium" | "utmmedium" => Role::Medium,
            "campaign" | "utmcampaign" => Role::Campaign,
            "url" | "pageurl" => Role::Url,
            "referrer" | "referer" => Role::Referrer,
            "revenue" => Role::Revenue,
            "score" => Role::Score,
            "survey" => Role::Survey,
            "text" | "comment" => Role::Text,
            "properties" => Role::Properties,
            _ => Role::Extra,
        }
    }

    /// The columns a flat file must have (one of the identity columns).
    pub fn missing_required(roles: &[Role]) -> Option<&'static str> {
        if !roles.iter().any(|r| matches!(r, Role::UserId | Role::AnonymousId)) {
            return Some("customer_id");
        }
        if !roles.contains(&Role::Timestamp) {
            return Some("timestamp");
        }
        if !roles.contains(&Role::Event) && !roles.contains(&Role::Kind) {
            return Some("event");
        }
        None
    }
}

/// One value of a flat row, whatever the file format.
#[derive(Debug, Clone)]
pub enum Cell<'a> {
    Null,
    Text(Cow<'a, str>),
    Num(f64),
    Int(i64),
    Bool(bool),
    /// Microseconds since the epoch (a typed timestamp column).
    Time(i64),
    Json(&'a Value),
}

impl Cell<'_> {
    /// Its text, when it is text.
    pub(crate) fn as_text(&self) -> Option<&str> {
        match self {
            Cell::Text(s) => Some(s),
            Cell::Json(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// Not JSON null (an absent field is no cell at all).
    fn is_present(&self) -> bool {
        !matches!(self, Cell::Json(Value::Null) | Cell::Null)
    }

    /// The JSON type's name, for errors.
    fn json_type(&self) -> &'static str {
        match self {
            Cell::Json(v) => json_type(v),
            Cell::Null => "null",
            Cell::Text(_) | Cell::Time(_) => "text",
            Cell::Num(_) | Cell::Int(_) => "a number",
            Cell::Bool(_) => "a boolean",
        }
    }

    fn is_null(&self) -> bool {
        match self {
            Cell::Null => true,
            Cell::Text(s) => s.trim().is_empty(),
            Cell::Json(v) => v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()),
            _ => false,
        }
    }

    /// [`Cell::text`] into `slot`, reusing the string it holds.
    fn text_into(&self, field: &str, slot: &mut Option<String>) -> Result<(), FieldError> {
        let put = |slot: &mut Option<String>, s: &str| match slot {
            Some(old) => {
                old.clear();
                old.push_str(s);
            }
            None => *slot = Some(s.to_string()),
        };
        match self {
            // (Text is null when blank: trimmed once for both.)
            Cell::Text(s) => match s.trim() {
                "" => *slot = None,
                t => put(slot, t),
            },
            Cell::Json(Value::String(s)) => match s.trim() {
                "" => *slot = None,
                t => put(slot, t),
            },
            _ if self.is_null() => *slot = None,
            Cell::Int(i) => put(slot, itoa::Buffer::new().format(*i)),
            _ => *slot = self.text(field)?,
        }
        Ok(())
    }

    /// [`Cell::text`] into `s` (emptied when there is none), reusing it.
    fn text_into_string(&self, field: &str, s: &mut String) -> Result<(), FieldError> {
        let mut slot = Some(std::mem::take(s));
        self.text_into(field, &mut slot)?;
        *s = slot.unwrap_or_default();
        Ok(())
    }

    fn text(&self, field: &str) -> Result<Option<String>, FieldError> {
        if self.is_null() {
            return Ok(None);
        }
        Ok(Some(match self {
            Cell::Text(s) => s.trim().to_string(),
            Cell::Num(n) => n.to_string(),
            // (Ids are often integer columns: written without the formatter.)
            Cell::Int(i) => itoa::Buffer::new().format(*i).to_owned(),
            Cell::Bool(b) => b.to_string(),
            Cell::Time(t) => wayfarer_core::time::format_rfc3339(*t),
            Cell::Json(Value::String(s)) => s.trim().to_string(),
            Cell::Json(Value::Number(n)) => n.to_string(),
            Cell::Json(Value::Bool(b)) => b.to_string(),
            Cell::Json(other) => {
                return Err(FieldError::new(field, format!("expected text, found {}", json_type(other))));
            }
            Cell::Null => return Ok(None),
        }))
    }

    fn number(&self, field: &str) -> Result<Option<f64>, FieldError> {
        if self.is_null() {
            return Ok(None);
        }
        let n = match self {
            Cell::Num(n) => *n,
            Cell::Int(i) => *i as f64,
            Cell::Text(s) => parse_number(s, field)?,
            Cell::Json(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
            Cell::Json(Value::String(s)) => parse_number(s, field)?,
            Cell::Json(other) => {
                return Err(FieldError::new(field, format!("expected a number, found {}", json_type(other))));
            }
            Cell::Bool(_) | Cell::Time(_) => {
                return Err(FieldError::new(field, "expected a number"));
            }
            Cell::Null => return Ok(None),
        };
        if !n.is_finite() {
            return Err(FieldError::new(field, "expected a finite number"));
        }
        Ok(Some(n))
    }

    fn time(&self, field: &str) -> Result<Option<i64>, FieldError> {
        if self.is_null() {
            return Ok(None);
        }
        let r = match self {
            Cell::Time(t) => Ok(*t),
            Cell::Num(n) => from_epoch_number(*n),
            Cell::Int(i) => from_epoch_number(*i as f64),
            Cell::Text(s) => parse_timestamp(s),
            Cell::Json(Value::String(s)) => parse_timestamp(s),
            Cell::Json(Value::Number(n)) => from_epoch_number(n.as_f64().unwrap_or(f64::NAN)),
            _ => Err("not a timestamp".to_string()),
        };
        r.map(Some).map_err(|e| {
            FieldError::new(field, format!("{e}; expected {EXPECTED}")).with_code(ErrorCode::InvalidTimestamp)
        })
    }

    /// The value as JSON, for properties. Text that is a plain number (no
    /// leading zeros, so codes like 02134 stay text) becomes a number.
    fn to_json(&self) -> Value {
        match self {
            Cell::Null => Value::Null,
            Cell::Text(s) => text_to_json(s),
            Cell::Num(n) => serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number),
            Cell::Int(i) => Value::from(*i),
            Cell::Bool(b) => Value::Bool(*b),
            Cell::Time(t) => Value::String(wayfarer_core::time::format_rfc3339(*t)),
            Cell::Json(v) => (*v).clone(),
        }
    }
}

fn text_to_json(s: &str) -> Value {
    let t = s.trim();
    if t.is_empty() {
        return Value::Null;
    }
    let numeric_shape = t.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
        && !(t.len() > 1 && t.starts_with('0') && !t.starts_with("0."));
    if numeric_shape {
        if let Ok(i) = t.parse::<i64>() {
            return Value::from(i);
        }
        if let Ok(f) = t.parse::<f64>()
            && let Some(n) = serde_json::Number::from_f64(f)
        {
            return Value::Number(n);
        }
    }
    match t {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(t.to_string()),
    }
}

fn parse_number(s: &str, field: &str) -> Result<f64, FieldError> {
    let t = s.trim();
    t.parse::<f64>().map_err(|_| FieldError::new(field, format!("expected a number, found '{}'", clip(t, 40))))
}

/// A JSON value's type in words, for error messages ("found an array").
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Shortens a value for an error message.
pub fn clip(s: &str, n: usize) -> Cow<'_, str> {
    match s.char_indices().nth(n) {
        Some((i, _)) => Cow::Owned(format!("{}…", &s[..i])),
        None => Cow::Borrowed(s),
    }
}

/// Checks a survey answer against its scale.
pub fn check_score(survey: Option<&str>, score: f64) -> Result<(), FieldError> {
    let (lo, hi, name) = match survey {
        Some("nps") => (0.0, 10.0, "an NPS answer"),
        Some("csat") => (1.0, 5.0, "a CSAT answer"),
        Some("ces") => (1.0, 7.0, "a CES answer"),
        _ => return Ok(()),
    };
    if score < lo || score > hi {
        return Err(FieldError::new("score", format!("expected {lo}–{hi} for {name}, found {score}")));
    }
    Ok(())
}

impl Decoder {
    pub fn new(channels: ChannelDeriver, received_at: i64) -> Decoder {
        Decoder { channels, received_at, limits: Limits::default(), correct_skew: false }
    }

    /// The same decoder with these limits, and clock-skew correction on or off.
    pub fn with_limits(mut self, limits: Limits, correct_skew: bool) -> Decoder {
        self.limits = limits;
        self.correct_skew = correct_skew;
        self
    }

    /// Decodes a flat row given its columns' roles and names.
    pub fn decode_flat(&self, roles: &[Role], names: &[String], cells: &[Cell<'_>]) -> Result<Event, FieldError> {
        let mut e = Event::new(String::new(), 0, String::new());
        self.decode_flat_into(&mut e, roles, names, cells)?;
        Ok(e)
    }

    /// [`Decoder::decode_flat`] into an event whose strings are reused: a
    /// decoding task decodes row after row into one event, and a field
    /// whose text fits the buffer of the row before costs no allocation.
    /// After an error the event is left half-filled (the next row
    /// overwrites all of it).
    pub fn decode_flat_into(
        &self,
        e: &mut Event,
        roles: &[Role],
        names: &[String],
        cells: &[Cell<'_>],
    ) -> Result<(), FieldError> {
        // Every field this row's columns do not set is reset (the columns
        // set theirs, null or not, below).
        let given = roles.iter().fold(0u32, |m, r| m | 1 << *r as u32);
        let unset = |role: Role, slot: &mut Option<String>| {
            if given & 1 << role as u32 == 0 {
                *slot = None;
            }
        };
        unset(Role::UserId, &mut e.user_id);
        unset(Role::AnonymousId, &mut e.anonymous_id);
        unset(Role::PreviousId, &mut e.previous_id);
        unset(Role::Channel, &mut e.channel);
        unset(Role::Source, &mut e.source);
        unset(Role::Medium, &mut e.medium);
        unset(Role::Campaign, &mut e.campaign);
        unset(Role::Url, &mut e.url);
        unset(Role::Referrer, &mut e.referrer);
        unset(Role::Survey, &mut e.survey);
        unset(Role::Text, &mut e.text);
        e.event_id.clear();
        e.event.clear();
        e.timestamp = 0;
        e.received_at = self.received_at;
        e.kind = Kind::Track;
        e.revenue = None;
        e.score = None;
        let mut timestamp = None;
        let mut kind = None;
        let mut props = Map::new();
        let mut given_props: Option<Map<String, Value>> = None;
        let (mut time_field, mut revenue_field) = ("timestamp", "revenue");
        for ((role, name), cell) in roles.iter().zip(names).zip(cells) {
            let name = name.as_str();
            match role {
                Role::EventId => cell.text_into_string(name, &mut e.event_id)?,
                Role::UserId => cell.text_into(name, &mut e.user_id)?,
                Role::AnonymousId => cell.text_into(name, &mut e.anonymous_id)?,
                Role::PreviousId => cell.text_into(name, &mut e.previous_id)?,
                Role::Timestamp => {
                    timestamp = cell.time(name)?;
                    time_field = name;
                }
                Role::ReceivedAt => {
                    if let Some(t) = cell.time(name)? {
                        e.received_at = t;
                    }
                }
                Role::Kind => {
                    if let Some(k) = cell.text(name)? {
                        kind = Some(Kind::parse(&k).ok_or_else(|| {
                            FieldError::new(
                                name,
                                format!(
                                    "expected one of track, page, screen, identify, group, alias; found '{}'",
                                    clip(&k, 30)
                                ),
                            )
                        })?);
                    }
                }
                Role::Event => cell.text_into_string(name, &mut e.event)?,
                Role::Channel => cell.text_into(name, &mut e.channel)?,
                Role::Source => cell.text_into(name, &mut e.source)?,
                Role::Medium => cell.text_into(name, &mut e.medium)?,
                Role::Campaign => cell.text_into(name, &mut e.campaign)?,
                Role::Url => cell.text_into(name, &mut e.url)?,
                Role::Referrer => cell.text_into(name, &mut e.referrer)?,
                Role::Revenue => {
                    e.revenue = cell.number(name)?;
                    revenue_field = name;
                }
                Role::Score => e.score = cell.number(name)?,
                Role::Survey => {
                    cell.text_into(name, &mut e.survey)?;
                    if let Some(s) = &mut e.survey {
                        s.make_ascii_lowercase();
                    }
                }
                Role::Text => cell.text_into(name, &mut e.text)?,
                Role::Properties => {
                    if !cell.is_null() {
                        given_props = Some(parse_properties(cell, name)?);
                    }
                }
                Role::Extra => {
                    if !cell.is_null() {
                        props.insert(name.to_string(), cell.to_json());
                    }
                }
            }
        }
        if e.user_id.is_none() && e.anonymous_id.is_none() {
            return Err(FieldError::missing(
                "customer_id",
                "missing: every row needs customer_id (or user_id / anonymous_id)",
            )
            .with_code(ErrorCode::MissingIdentity));
        }
        e.timestamp =
            timestamp.ok_or_else(|| FieldError::missing("timestamp", format!("missing; expected {EXPECTED}")))?;
        // Without a type column, the event name tells page and screen views apart.
        let kind = kind.unwrap_or(match e.event.as_str() {
            PAGE_VIEWED => Kind::Page,
            SCREEN_VIEWED => Kind::Screen,
            _ => Kind::Track,
        });
        e.kind = kind;
        if e.event.is_empty() {
            e.event.push_str(match kind {
                Kind::Track => {
                    return Err(FieldError::missing("event", "missing: every row needs an event name"));
                }
                Kind::Page => PAGE_VIEWED,
                Kind::Screen => SCREEN_VIEWED,
                Kind::Identify => IDENTIFY,
                Kind::Group => GROUP,
                Kind::Alias => ALIAS,
            });
        }
        if kind == Kind::Alias && (e.previous_id.is_none() || e.user_id.is_none()) {
            return Err(FieldError::new("previous_id", "an alias row needs previous_id and customer_id"));
        }
        if let Some(s) = e.score {
            check_score(e.survey.as_deref(), s)?;
        }
        let mut all = given_props.unwrap_or_default();
        if !props.is_empty() {
            all.extend(props);
        }
        if all.is_empty() {
            e.properties.clear();
            // With room for the given channel (`derive::record_given`), so
            // recording it does not allocate again.
            e.properties.reserve(48);
            e.properties.push_str("{}");
        } else {
            e.properties = serde_json::to_string(&all).map_err(|err| FieldError::new("properties", err.to_string()))?;
        }
        let from_property = self.limits.fill_revenue(e)?;
        self.limits.check(e, time_field, from_property.as_deref().unwrap_or(revenue_field))?;
        self.finish(e, all)
    }

    /// Decodes a raw Segment message (one element of a batch, or one line).
    pub fn decode_segment(&self, msg: &Map<String, Value>) -> Result<Event, FieldError> {
        self.decode_segment_at(msg, self.received_at)
    }

    /// Decodes a raw Segment message received at `received_at` (µs), the
    /// time stamped on it when it carries none.
    pub fn decode_segment_at(&self, msg: &Map<String, Value>, received_at: i64) -> Result<Event, FieldError> {
        let kind_text = msg.get("type").and_then(Value::as_str).unwrap_or("");
        let kind = Kind::parse(kind_text).ok_or_else(|| {
            FieldError::new(
                "type",
                format!(
                    "expected one of track, identify, page, screen, group, alias; found {}",
                    msg.get("type").map_or("nothing".to_string(), |v| format!("'{}'", clip(&v.to_string(), 30)))
                ),
            )
        })?;
        self.decode_message(&mut ParsedMessage(msg), kind, received_at)
    }

    /// Decodes a Segment message of a known kind, however it was parsed:
    /// a JSON object in hand or a typed parse of its text (`typed`); both
    /// give the same event and, where the typed parse cannot, the object
    /// gives the errors.
    pub(crate) fn decode_message<M: Message>(
        &self,
        msg: &mut M,
        kind: Kind,
        received_at: i64,
    ) -> Result<Event, FieldError> {
        let mut e = Event::new(String::new(), 0, String::new());
        e.kind = kind;
        e.user_id = identity(msg.field("userId"), "userId")?;
        e.anonymous_id = identity(msg.field("anonymousId"), "anonymousId")?;
        if kind == Kind::Alias {
            e.previous_id = identity(msg.field("previousId"), "previousId")?;
            if e.previous_id.is_none() {
                return Err(FieldError::missing("previousId", "missing: an alias needs the previousId it merges"));
            }
            if e.user_id.is_none() {
                return Err(FieldError::missing("userId", "missing: an alias needs the userId it merges into"));
            }
        }
        if e.user_id.is_none() && e.anonymous_id.is_none() {
            return Err(FieldError::missing("userId", "missing: a message needs a userId or an anonymousId")
                .with_code(ErrorCode::MissingIdentity));
        }
        e.event_id = match msg.field("messageId") {
            None | Some(Cell::Json(Value::Null)) => String::new(),
            Some(Cell::Json(Value::Number(n))) => n.to_string(),
            Some(c) => match c.as_text() {
                Some(s) => s.trim().to_string(),
                None => return Err(FieldError::new("messageId", format!("expected text, found {}", c.json_type()))),
            },
        };
        let own_receipt = msg.field("receivedAt").filter(Cell::is_present);
        let has_own_receipt = own_receipt.is_some();
        e.received_at = match own_receipt {
            Some(c) => c.time("receivedAt")?.unwrap_or(received_at),
            None => received_at,
        };
        let given = ["timestamp", "originalTimestamp"]
            .iter()
            .find_map(|k| msg.field(k).filter(Cell::is_present).map(|c| (*k, c)));
        let mut time_field = given.as_ref().map_or("receivedAt", |(k, _)| *k);
        e.timestamp = match &given {
            Some((k, c)) => c.time(k)?.unwrap_or(e.received_at),
            None => e.received_at,
        };
        // Segment's clock-skew correction: a client's clock may be off, so
        // the time is taken as "this long before it was sent", measured on
        // the client's clock and placed on ours:
        // timestamp = receivedAt − (sentAt − originalTimestamp). A message
        // that already carries a receivedAt was processed by a pipeline
        // (an export); its timestamp is already corrected.
        let mut corrected = e.timestamp;
        if self.correct_skew
            && !has_own_receipt
            && given.is_some()
            && let Some(sent) = msg.field("sentAt").filter(Cell::is_present)
        {
            let sent = sent.time("sentAt")?.unwrap_or(e.received_at);
            let original = match msg.field("originalTimestamp").filter(Cell::is_present) {
                Some(c) => c.time("originalTimestamp")?.unwrap_or(e.timestamp),
                None => e.timestamp,
            };
            corrected = e.received_at.saturating_sub(sent.saturating_sub(original));
            time_field = "sentAt";
        }
        msg.check_context()?;
        let mut props = match kind {
            Kind::Identify => match msg.take_object("traits")? {
                Some(t) => t,
                None => msg.context_traits(),
            },
            Kind::Group => {
                let mut p = msg.take_object("traits")?.unwrap_or_default();
                if let Some(g) = msg.value("groupId") {
                    p.insert("groupId".to_string(), g);
                }
                p
            }
            Kind::Alias => {
                let mut p = Map::new();
                if let Some(prev) = &e.previous_id {
                    p.insert("previousId".to_string(), Value::String(prev.clone()));
                }
                p
            }
            _ => msg.take_object("properties")?.unwrap_or_default(),
        };
        e.event = match kind {
            Kind::Track => match msg.field("event") {
                None | Some(Cell::Json(Value::Null)) => {
                    return Err(FieldError::missing("event", "missing: a track call needs an event name"));
                }
                Some(c) => match c.as_text() {
                    Some(s) if !s.trim().is_empty() => s.trim().to_string(),
                    Some(_) => return Err(FieldError::missing("event", "missing: a track call needs an event name")),
                    None => return Err(FieldError::new("event", format!("expected text, found {}", c.json_type()))),
                },
            },
            Kind::Page | Kind::Screen => {
                for key in ["name", "category"] {
                    if let Some(s) = msg.field(key).as_ref().and_then(Cell::as_text) {
                        props.entry(key.to_string()).or_insert_with(|| Value::String(s.to_string()));
                    }
                }
                if kind == Kind::Page { PAGE_VIEWED } else { SCREEN_VIEWED }.to_string()
            }
            Kind::Identify => IDENTIFY.to_string(),
            Kind::Group => GROUP.to_string(),
            Kind::Alias => ALIAS.to_string(),
        };
        // Traffic: context.campaign (UTM), page URL and referrer.
        let traffic = msg.traffic()?;
        (e.source, e.medium, e.campaign) = (traffic.source, traffic.medium, traffic.campaign);
        (e.url, e.referrer) = (traffic.url, traffic.referrer);
        if matches!(kind, Kind::Page | Kind::Screen | Kind::Track) {
            if let Some(u) = str_field(&props, "url") {
                e.url = Some(u);
            }
            if let Some(r) = str_field(&props, "referrer") {
                e.referrer = Some(r);
            }
        }
        if let Some(v) = props.get("channel") {
            e.channel = Cell::Json(v).text("properties.channel")?;
        }
        let mut revenue_field = "properties.revenue";
        for key in ["revenue", "total", "value"] {
            if let Some(v) = props.get(key)
                && let Some(n) = Cell::Json(v).number(&format!("properties.{key}"))?
            {
                e.revenue = Some(n);
                revenue_field = match key {
                    "total" => "properties.total",
                    "value" => "properties.value",
                    _ => "properties.revenue",
                };
                break;
            }
        }
        if let Some(v) = props.get("survey") {
            e.survey = Cell::Json(v).text("properties.survey")?.map(|s| s.to_ascii_lowercase());
        }
        if let Some(v) = props.get("score") {
            e.score = Cell::Json(v).number("properties.score")?;
        }
        if let Some(s) = e.score {
            check_score(e.survey.as_deref(), s).map_err(|mut fe| {
                fe.field = "properties.score".to_string();
                fe
            })?;
        }
        for key in ["text", "comment", "review_body", "body", "message"] {
            if let Some(Value::String(s)) = props.get(key)
                && !s.trim().is_empty()
            {
                e.text = Some(s.clone());
                break;
            }
        }
        e.properties = serde_json::to_string(&props).map_err(|err| FieldError::new("properties", err.to_string()))?;
        if e.event_id.is_empty() {
            // Identified by the sender's own time, so a retry (a later
            // sentAt) is still a duplicate.
            e.event_id = content_id(&e);
        }
        e.timestamp = corrected;
        let from_property = self.limits.fill_revenue(&mut e)?;
        self.limits.check(&e, time_field, from_property.as_deref().unwrap_or(revenue_field))?;
        self.finish(&mut e, props)?;
        Ok(e)
    }

    /// Decodes any JSON record: a Segment message when it has a Segment
    /// `type` and an identity, otherwise a flat row.
    pub fn decode_json(&self, v: &Value) -> Result<Event, FieldError> {
        let Some(obj) = v.as_object() else {
            return Err(FieldError::new("(record)", format!("expected a JSON object, found {}", json_type(v))));
        };
        if is_segment_message(obj) {
            return self.decode_segment(obj);
        }
        let names: Vec<String> = obj.keys().cloned().collect();
        let roles: Vec<Role> = names.iter().map(|n| Role::of(n)).collect();
        let cells: Vec<Cell<'_>> = obj.values().map(Cell::Json).collect();
        self.decode_flat(&roles, &names, &cells)
    }

    /// Fills the event id (a stable content hash when absent) and the
    /// channel; `props` are the event's properties as an object, which
    /// spares parsing them to record a given channel.
    fn finish(&self, e: &mut Event, props: Map<String, Value>) -> Result<(), FieldError> {
        // The content id is of the properties as given, without the channel.
        if e.event_id.is_empty() {
            e.event_id = content_id(e);
        }
        if let Some(given) = &e.channel {
            if props.is_empty() {
                crate::derive::record_given(&mut e.properties, given);
            } else if !props.contains_key("channel") {
                let mut m = props;
                m.insert("channel".into(), Value::String(given.clone()));
                e.properties = Value::Object(m).to_string();
            }
        }
        // A given channel stands (see `ChannelDeriver::derive`), kept as it is.
        if e.channel.is_none() {
            e.channel = self.channels.derive(e);
        }
        Ok(())
    }
}

/// Whether a JSON object is a Segment message rather than a flat row.
pub fn is_segment_message(obj: &Map<String, Value>) -> bool {
    let typed = obj.get("type").and_then(Value::as_str).is_some_and(|t| Kind::parse(t).is_some());
    let flat_identity = obj.keys().any(|k| matches!(Role::of(k), Role::UserId) && k != "userId");
    typed && !flat_identity
}

fn identity(cell: Option<Cell<'_>>, key: &str) -> Result<Option<String>, FieldError> {
    match cell {
        None | Some(Cell::Json(Value::Null)) => Ok(None),
        Some(Cell::Json(Value::Number(n))) => Ok(Some(n.to_string())),
        Some(c) => match c.as_text() {
            Some(s) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
            None => Err(FieldError::new(key, format!("expected text, found {}", c.json_type()))),
        },
    }
}

fn object_field<'m>(msg: &'m Map<String, Value>, key: &str) -> Result<Option<&'m Map<String, Value>>, FieldError> {
    match msg.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(other) => Err(FieldError::new(key, format!("expected an object, found {}", json_type(other)))),
    }
}

/// The traffic a Segment message's context gives: `context.campaign`'s
/// UTM fields and `context.page`'s URL and referrer (each non-blank text,
/// trimmed).
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    pub url: Option<String>,
    pub referrer: Option<String>,
}

/// What decoding a Segment message reads of it: the one view shared by a
/// parsed JSON object and the typed parse of a line (`typed`).
pub(crate) trait Message {
    /// A top-level field: text as `Cell::Text` or `Cell::Json`, anything
    /// else as `Cell::Json`; `None` when absent.
    fn field(&self, key: &str) -> Option<Cell<'_>>;
    /// A top-level field as JSON.
    fn value(&self, key: &str) -> Option<Value>;
    /// The object at a top-level key (`None` when absent or null); an
    /// error names the key when it is something else.
    fn take_object(&mut self, key: &str) -> Result<Option<Map<String, Value>>, FieldError>;
    /// Checks that `context`, when given, is an object.
    fn check_context(&self) -> Result<(), FieldError>;
    /// `context.traits`, for an identify call without traits.
    fn context_traits(&self) -> Map<String, Value>;
    /// The traffic of `context` (`context.campaign` must be an object).
    fn traffic(&self) -> Result<Traffic, FieldError>;
}

/// A Segment message parsed into a JSON object.
struct ParsedMessage<'m>(&'m Map<String, Value>);

impl Message for ParsedMessage<'_> {
    fn field(&self, key: &str) -> Option<Cell<'_>> {
        self.0.get(key).map(Cell::Json)
    }

    fn value(&self, key: &str) -> Option<Value> {
        self.0.get(key).cloned()
    }

    fn take_object(&mut self, key: &str) -> Result<Option<Map<String, Value>>, FieldError> {
        Ok(object_field(self.0, key)?.cloned())
    }

    fn check_context(&self) -> Result<(), FieldError> {
        object_field(self.0, "context").map(|_| ())
    }

    fn context_traits(&self) -> Map<String, Value> {
        object_field(self.0, "context")
            .ok()
            .flatten()
            .and_then(|c| c.get("traits"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    fn traffic(&self) -> Result<Traffic, FieldError> {
        let mut t = Traffic::default();
        if let Some(c) = object_field(self.0, "context")? {
            if let Some(camp) = c.get("campaign") {
                let camp = camp.as_object().ok_or_else(|| FieldError::new("context.campaign", "expected an object"))?;
                t.source = str_field(camp, "source");
                t.medium = str_field(camp, "medium");
                t.campaign = str_field(camp, "name");
            }
            if let Some(Value::Object(page)) = c.get("page") {
                t.url = str_field(page, "url");
                t.referrer = str_field(page, "referrer");
            }
        }
        Ok(t)
    }
}

fn str_field(obj: &Map<String, Value>, key: &str) -> Option<String> {
    match obj.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

fn parse_properties(cell: &Cell<'_>, field: &str) -> Result<Map<String, Value>, FieldError> {
    let parsed;
    let v = match cell {
        Cell::Json(v) => *v,
        Cell::Text(s) => {
            parsed = serde_json::from_str::<Value>(s)
                .map_err(|e| FieldError::new(field, format!("expected a JSON object: {e}")))?;
            &parsed
        }
        _ => return Err(FieldError::new(field, "expected a JSON object")),
    };
    v.as_object()
        .cloned()
        .ok_or_else(|| FieldError::new(field, format!("expected a JSON object, found {}", json_type(v))))
}

/// Prefix of the ids Wayfarer generates for events that have none.
pub const GENERATED_ID_PREFIX: &str = "wfh:";

/// A stable id for an event without one: a hash of its content, so that
/// re-importing the same rows adds nothing. (Identical rows within one file
/// are told apart by their occurrence; see `files::read_file`.)
pub fn content_id(e: &Event) -> String {
    let mut h = Xxh3::new();
    let mut put = |s: &str| {
        h.update(s.as_bytes());
        h.update(&[0x1f]);
    };
    put(e.kind.as_str());
    put(&e.event);
    put(e.user_id.as_deref().unwrap_or("\u{0}"));
    put(e.anonymous_id.as_deref().unwrap_or("\u{0}"));
    put(e.previous_id.as_deref().unwrap_or("\u{0}"));
    put(&e.timestamp.to_string());
    put(e.channel.as_deref().unwrap_or("\u{0}"));
    put(e.source.as_deref().unwrap_or("\u{0}"));
    put(e.medium.as_deref().unwrap_or("\u{0}"));
    put(e.campaign.as_deref().unwrap_or("\u{0}"));
    put(e.url.as_deref().unwrap_or("\u{0}"));
    put(e.referrer.as_deref().unwrap_or("\u{0}"));
    put(&e.revenue.map_or("\u{0}".to_string(), |r| r.to_string()));
    put(&e.score.map_or("\u{0}".to_string(), |r| r.to_string()));
    put(e.survey.as_deref().unwrap_or("\u{0}"));
    put(e.text.as_deref().unwrap_or("\u{0}"));
    put(&e.properties);
    format!("{GENERATED_ID_PREFIX}{:032x}", h.digest128())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decoder() -> Decoder {
        Decoder::new(ChannelDeriver::default(), 1_767_225_600_000_000)
    }

    fn flat(pairs: &[(&str, &str)]) -> Result<Event, FieldError> {
        let names: Vec<String> = pairs.iter().map(|(k, _)| k.to_string()).collect();
        let roles: Vec<Role> = names.iter().map(|n| Role::of(n)).collect();
        let cells: Vec<Cell<'_>> = pairs.iter().map(|(_, v)| Cell::Text(Cow::Borrowed(*v))).collect();
        decoder().decode_flat(&roles, &names, &cells)
    }

    /// The values a column of the reuse test takes.
    fn column_values(name: &str) -> Vec<Cell<'static>> {
        let t = |s: &'static str| Cell::Text(Cow::Borrowed(s));
        let mut v = vec![Cell::Null, t(""), t("   ")];
        v.extend(match name {
            "event_id" => vec![t("e1"), t(" e-22 "), Cell::Int(7), Cell::Int(-1_000_000_007)],
            "customer_id" | "anonymous_id" | "previous_id" => vec![t("c1"), t(" c 2 "), Cell::Int(42)],
            "timestamp" => {
                vec![Cell::Time(1_767_225_600_000_000), t("2026-01-01T00:00:00Z"), t("not a time"), t("1999-01-01")]
            }
            "received_at" => vec![Cell::Time(1_767_225_600_000_000)],
            "type" => vec![t("track"), t("page"), t("alias"), t("identify"), t("bogus")],
            "event" => vec![t("Order Completed"), t("Page Viewed"), t(" Signed Up ")],
            "channel" => vec![t("Email"), t(" Phone ")],
            "utm_source" => vec![t("google"), t("newsletter")],
            "utm_medium" => vec![t("cpc"), t("email")],
            "url" => vec![t("https://shop.example/?utm_source=facebook&utm_medium=paid_social")],
            "referrer" => vec![t("https://www.google.com/"), t("https://shop.example/cart")],
            "revenue" => vec![Cell::Num(12.5), t("3"), t("lots"), Cell::Num(1e15)],
            "score" => vec![Cell::Int(9), Cell::Int(11), t("4")],
            "survey" => vec![t("NPS"), t("csat"), t("poll")],
            "comment" => vec![t("slow delivery"), t(" great ")],
            "properties" => {
                vec![t(r#"{"revenue": 20}"#), t(r#"{"channel": "Partner", "plan": "pro"}"#), t("[1]"), t("{")]
            }
            _ => vec![t("pro"), Cell::Int(3), Cell::Bool(true)],
        });
        v
    }

    proptest::proptest! {
        /// Rows decoded one after the other into one reused event come out
        /// exactly as each decoded into a new one: every field a row does
        /// not set is reset, whatever the row before (or its error) left.
        #[test]
        fn decoding_into_a_reused_event_is_decoding_each_row_afresh(
            chosen in proptest::collection::vec(proptest::bool::ANY, 17),
            rows in proptest::collection::vec(proptest::collection::vec(0usize..64, 17), 1..24),
        ) {
            const COLUMNS: [&str; 17] = [
                "event_id", "customer_id", "anonymous_id", "previous_id", "timestamp", "received_at", "type",
                "event", "channel", "utm_source", "utm_medium", "url", "referrer", "revenue", "score", "survey",
                "comment",
            ];
            let mut names: Vec<String> =
                COLUMNS.iter().zip(&chosen).filter(|(_, c)| **c).map(|(n, _)| n.to_string()).collect();
            names.extend(["properties".to_string(), "plan".to_string()]);
            let roles: Vec<Role> = names.iter().map(|n| Role::of(n)).collect();
            let values: Vec<Vec<Cell<'static>>> = names.iter().map(|n| column_values(n)).collect();
            let d = decoder();
            let mut reused = Event::new("stale", 1, "Stale");
            reused.channel = Some("Stale".into());
            reused.revenue = Some(1.0);
            for picks in &rows {
                let cells: Vec<Cell<'_>> =
                    values.iter().zip(picks).map(|(v, p)| v[p % v.len()].clone()).collect();
                let afresh = d.decode_flat(&roles, &names, &cells);
                let again = d.decode_flat_into(&mut reused, &roles, &names, &cells);
                match afresh {
                    Ok(e) => {
                        proptest::prop_assert_eq!(again, Ok(()));
                        proptest::prop_assert_eq!(&reused, &e);
                    }
                    Err(err) => proptest::prop_assert_eq!(again, Err(err)),
                }
            }
        }
    }

    #[test]
    fn integer_cells_read_as_text_are_their_decimal_digits() {
        for i in [0i64, 7, -7, 1_000_000_007, i64::MIN, i64::MAX] {
            assert_eq!(Cell::Int(i).text("event_id").unwrap(), Some(i.to_string()));
        }
        let names: Vec<String> = ["event_id", "customer_id", "timestamp", "event"].map(String::from).to_vec();
        let roles: Vec<Role> = names.iter().map(|n| Role::of(n)).collect();
        let cells = [
            Cell::Int(-42),
            Cell::Int(9_007_199_254_740_993),
            Cell::Time(1_767_225_600_000_000),
            Cell::Text("Signed Up".into()),
        ];
        let e = decoder().decode_flat(&roles, &names, &cells).unwrap();
        assert_eq!((e.event_id.as_str(), e.user_id.as_deref()), ("-42", Some("9007199254740993")));
    }

    #[test]
    fn a_given_channel_is_recorded_after_the_content_id_is_made() {
        // Ids made before given channels were recorded in the properties
        // must stay the same, or re-importing a file would add it again.
        for extra in [None, Some(("plan", "pro"))] {
            let mut pairs = vec![
                ("customer_id", "c1"),
                ("timestamp", "2026-01-01T00:00:00Z"),
                ("event", "Order Completed"),
                ("channel", "Phone"),
            ];
            pairs.extend(extra);
            let e = flat(&pairs).unwrap();
            let mut without = e.clone();
            without.event_id = String::new();
            without.channel = Some("Phone".into());
            without.properties = match extra {
                None => "{}".to_string(),
                Some((k, v)) => json!({ k: v }).to_string(),
            };
            assert_eq!(e.event_id, content_id(&without), "{extra:?}");
            let mut recorded = without.properties.clone();
            crate::derive::record_given(&mut recorded, "Phone");
            assert_eq!(e.properties, recorded, "{extra:?}");
        }
    }

    #[test]
    fn flat_minimal_schema_with_extras() {
        let e = flat(&[
            ("customer_id", "c1"),
            ("timestamp", "2026-01-01T00:00:00Z"),
            ("event", "Order Completed"),
            ("channel", "Phone"),
            ("revenue", "19.90"),
            ("plan", "pro"),
            ("zip", "02134"),
            ("qty", "3"),
        ])
        .unwrap();
        assert_eq!(e.user_id.as_deref(), Some("c1"));
        assert_eq!(e.timestamp, 1_767_225_600_000_000);
        assert_eq!(e.channel.as_deref(), Some("Phone"));
        assert_eq!(e.revenue, Some(19.9));
        let p: Value = serde_json::from_str(&e.properties).unwrap();
        // The given channel is kept among the properties, so it survives a
        // change of the channel rules.
        assert_eq!(p, json!({"plan": "pro", "zip": "02134", "qty": 3, "channel": "Phone"}));
        assert!(e.event_id.starts_with(GENERATED_ID_PREFIX));
        // The same row hashes the same; a different row differently.
        let again = flat(&[
            ("customer_id", "c1"),
            ("timestamp", "2026-01-01T01:00:00+01:00"),
            ("event", "Order Completed"),
            ("channel", "Phone"),
            ("revenue", "19.9"),
            ("plan", "pro"),
            ("zip", "02134"),
            ("qty", "3"),
        ])
        .unwrap();
        assert_eq!(again.event_id, e.event_id);
    }

    #[test]
    fn flat_errors_name_the_field() {
        let e = flat(&[("customer_id", "c1"), ("timestamp", "soon"), ("event", "x")]).unwrap_err();
        assert_eq!(e.field, "timestamp");
        let e = flat(&[("customer_id", "c1"), ("timestamp", "2026-01-01"), ("event", "x"), ("revenue", "abc")])
            .unwrap_err();
        assert_eq!(e.field, "revenue");
        assert!(e.reason.contains("'abc'"), "{}", e.reason);
        let e = flat(&[("customer_id", ""), ("timestamp", "2026-01-01"), ("event", "x")]).unwrap_err();
        assert_eq!(e.field, "customer_id");
        let e = flat(&[("customer_id", "c"), ("timestamp", "2026-01-01"), ("event", "")]).unwrap_err();
        assert_eq!(e.field, "event");
        let e = flat(&[
            ("customer_id", "c"),
            ("timestamp", "2026-01-01"),
            ("event", "Survey Responded"),
            ("survey", "NPS"),
            ("score", "11"),
        ])
        .unwrap_err();
        assert_eq!(e.field, "score");
    }

    #[test]
    fn segment_track_page_identify_alias() {
        let d = decoder();
        let e = d
            .decode_json(&json!({
                "type": "track", "event": "Order Completed", "userId": "u1", "anonymousId": "a1",
                "messageId": "m-1", "timestamp": "2026-01-01T00:00:00.000Z",
                "properties": {"total": 30.5, "channel": "Store"},
                "context": {"campaign": {"source": "newsletter", "medium": "email", "name": "jan"}}
            }))
            .unwrap();
        assert_eq!(e.event_id, "m-1");
        assert_eq!(e.revenue, Some(30.5));
        assert_eq!(e.channel.as_deref(), Some("Store"));
        assert_eq!(e.source.as_deref(), Some("newsletter"));

        let p = d
            .decode_json(&json!({"type": "page", "anonymousId": "a1", "name": "Home",
                "originalTimestamp": 1767225600000i64,
                "properties": {"url": "https://shop.example/?utm_source=google&utm_medium=cpc"}}))
            .unwrap();
        assert_eq!(p.event, "Page Viewed");
        assert_eq!(p.timestamp, 1_767_225_600_000_000);
        assert_eq!(p.url.as_deref(), Some("https://shop.example/?utm_source=google&utm_medium=cpc"));

        let i = d
            .decode_json(
                &json!({"type": "identify", "userId": "u1", "traits": {"plan": "pro"}, "timestamp": "2026-01-02"}),
            )
            .unwrap();
        assert_eq!(i.kind, Kind::Identify);
        assert_eq!(i.properties, r#"{"plan":"pro"}"#);

        let a = d
            .decode_json(&json!({"type": "alias", "userId": "u2", "previousId": "u1", "timestamp": "2026-01-02"}))
            .unwrap();
        assert_eq!(a.previous_id.as_deref(), Some("u1"));
    }

    #[test]
    fn segment_errors() {
        let d = decoder();
        let err = |v: Value| d.decode_json(&v).unwrap_err();
        assert_eq!(err(json!({"type": "track", "event": "x", "timestamp": "2026-01-01"})).field, "userId");
        assert_eq!(err(json!({"type": "click", "userId": "u", "event": "x"})).field, "type");
        assert_eq!(err(json!({"type": "track", "userId": "u", "timestamp": "2026-01-01"})).field, "event");
        assert_eq!(err(json!({"type": "track", "userId": {"a": 1}, "event": "x"})).field, "userId");
        assert_eq!(err(json!({"type": "track", "userId": "u", "event": "x", "timestamp": "nope"})).field, "timestamp");
        assert_eq!(err(json!({"type": "track", "userId": "u", "event": "x", "properties": [1]})).field, "properties");
        assert_eq!(
            err(json!({"type": "track", "userId": "u", "event": "x", "properties": {"revenue": "lots"}})).field,
            "properties.revenue"
        );
        assert_eq!(err(json!({"type": "alias", "userId": "u"})).field, "previousId");
        assert_eq!(err(json!([1, 2])).field, "(record)");
    }

    #[test]
    fn a_configured_revenue_property_gives_revenue_to_events_without_their_own() {
        let limits = Limits { revenue_property: Some("order_value".into()), ..Limits::default() };
        let d = decoder().with_limits(limits, false);
        let row = |pairs: &[(&str, &str)]| {
            let names: Vec<String> = pairs.iter().map(|(k, _)| k.to_string()).collect();
            let roles: Vec<Role> = names.iter().map(|n| Role::of(n)).collect();
            let cells: Vec<Cell<'_>> = pairs.iter().map(|(_, v)| Cell::Text(Cow::Borrowed(*v))).collect();
            d.decode_flat(&roles, &names, &cells)
        };
        let base = [("customer_id", "c"), ("timestamp", "2025-06-01"), ("event", "purchase")];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            row(&v)
        };
        assert_eq!(with(&[("order_value", "40.5")]).unwrap().revenue, Some(40.5));
        assert_eq!(with(&[("order_value", "")]).unwrap().revenue, None);
        assert_eq!(with(&[]).unwrap().revenue, None);
        // The event's own revenue wins; the property stays a property.
        let own = with(&[("revenue", "12"), ("order_value", "40")]).unwrap();
        assert_eq!(own.revenue, Some(12.0));
        assert!(own.properties.contains("order_value"));
        // Out of range or not a number: refused, naming the property.
        let e = with(&[("order_value", "5e12")]).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("properties.order_value", ErrorCode::ValueOutOfRange));
        assert_eq!(with(&[("order_value", "lots")]).unwrap_err().field, "properties.order_value");
        // Segment messages too.
        let m = json!({"type": "track", "userId": "u", "event": "x", "timestamp": "2025-06-01", "properties": {"order_value": 7}});
        assert_eq!(d.decode_json(&m).unwrap().revenue, Some(7.0));
    }

    #[test]
    fn times_and_revenue_out_of_range_are_refused_with_a_code() {
        let d = decoder(); // received 2026-01-01T00:00:00Z
        let err = |v: Value| d.decode_json(&v).unwrap_err();
        let far = err(json!({"type": "track", "userId": "u", "event": "x", "timestamp": "2199-12-31T00:00:00Z"}));
        assert_eq!((far.field.as_str(), far.code), ("timestamp", ErrorCode::TimestampOutOfRange));
        assert!(far.reason.contains("24 hours after"), "{}", far.reason);
        let old = err(json!({"type": "track", "userId": "u", "event": "x", "timestamp": "1999-12-31T23:59:59Z"}));
        assert_eq!((old.field.as_str(), old.code), ("timestamp", ErrorCode::TimestampOutOfRange));
        let rich = err(json!({"type": "track", "userId": "u", "event": "x", "properties": {"revenue": 1e308}}));
        assert_eq!((rich.field.as_str(), rich.code), ("properties.revenue", ErrorCode::ValueOutOfRange));
        // The bounds: a day ahead, the first instant of 2000, a billion.
        let ok = |ts: &str, rev: f64| {
            d.decode_json(
                &json!({"type": "track", "userId": "u", "event": "x", "timestamp": ts, "properties": {"revenue": rev}}),
            )
        };
        assert!(ok("2026-01-02T00:00:00Z", 1e9).is_ok());
        assert!(ok("2000-01-01T00:00:00Z", -1e9).is_ok());
        assert!(ok("2026-01-02T00:00:01Z", 1.0).is_err());
        // Flat rows name their own columns.
        let e = flat(&[("customer_id", "c"), ("ts", "2030-01-01"), ("event", "x")]);
        assert!(e.is_err_and(|e| e.field == "ts" && e.code == ErrorCode::TimestampOutOfRange));
        let e = flat(&[("customer_id", "c"), ("timestamp", "2025-01-01"), ("event", "x"), ("revenue", "2e9")]);
        assert!(e.is_err_and(|e| e.field == "revenue" && e.code == ErrorCode::ValueOutOfRange));
        // Configurable.
        let wide = decoder().with_limits(
            Limits { earliest: 0, max_future: i64::MAX / 2, max_revenue: f64::MAX, revenue_property: None },
            false,
        );
        assert!(
            wide.decode_json(&json!({"type": "track", "userId": "u", "event": "x", "timestamp": "1997-01-01"})).is_ok()
        );
    }

    #[test]
    fn a_senders_clock_is_corrected_with_sent_at() {
        // Received at 2026-01-01T00:00:00Z; the sender's clock is ten years
        // ahead: it says the event happened 5 s before it was sent.
        let live = decoder().with_limits(Limits::default(), true);
        let msg = json!({"type": "track", "userId": "u", "event": "x", "messageId": "m",
                         "timestamp": "2036-01-01T00:00:00Z", "sentAt": "2036-01-01T00:00:05Z"});
        let e = live.decode_json(&msg).unwrap();
        assert_eq!(e.timestamp, 1_767_225_600_000_000 - 5_000_000);
        // originalTimestamp (RudderStack's name) is the sender's clock too.
        let rudder = json!({"type": "track", "userId": "u", "event": "x",
                            "originalTimestamp": "2016-01-01T00:00:00Z", "sentAt": "2016-01-01T00:01:00Z"});
        assert_eq!(live.decode_json(&rudder).unwrap().timestamp, 1_767_225_600_000_000 - 60_000_000);
        // Without correction (file imports) the same message is ten years ahead: refused.
        assert!(decoder().decode_json(&msg).is_err());
        // A message that was already received somewhere keeps its timestamp.
        let exported = json!({"type": "track", "userId": "u", "event": "x", "timestamp": "2025-06-01T00:00:00Z",
                              "sentAt": "2025-06-01T00:00:09Z", "receivedAt": "2025-06-01T00:00:10Z"});
        assert_eq!(live.decode_json(&exported).unwrap().timestamp, 1_748_736_000_000_000);
        // Without a messageId, a retry (a later sentAt) is the same event.
        let retry = |sent: &str| {
            live.decode_json(&json!({"type": "track", "userId": "u", "event": "x",
                                     "timestamp": "2025-12-31T23:59:00Z", "sentAt": sent}))
                .unwrap()
                .event_id
        };
        assert_eq!(retry("2025-12-31T23:59:01Z"), retry("2025-12-31T23:59:30Z"));
    }
}
