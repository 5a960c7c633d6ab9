//! Segment's HTTP tracking API as a protocol, for every way messages arrive
//! (HTTP requests and NDJSON import lines alike): a single message, or a
//! batch `{"batch": [...], "context": {...}, "integrations": {...},
//! "sentAt": ...}` whose shared `context` and `integrations` keys and
//! `sentAt` apply to each message that lacks its own. Limits are Segment's
//! (32 KB per message) and RudderStack's (4 MB per batch). A batch is
//! accepted in part: each invalid message is reported by index with a code.

use serde_json::{Map, Value, json};
use wayfarer_core::{ErrorCode, Event, Kind};

use crate::decode::{Decoder, json_type};

/// The largest message (Segment's limit).
pub const MESSAGE_LIMIT: usize = 32 * 1024;
/// The largest batch (RudderStack's limit; Segment's is 500 KB).
pub const BATCH_LIMIT: usize = 4 * 1024 * 1024;

/// How messages arrive: one message of a kind (`/v1/track`…), or a batch.
#[derive(Debug, Clone, Copy)]
pub enum Envelope {
    Single(Kind),
    Batch,
}

/// One message of a batch that was not accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub index: usize,
    pub code: ErrorCode,
    /// The field at fault, when one is.
    pub field: Option<String>,
    pub message: String,
}

impl Rejected {
    pub fn to_json(&self) -> Value {
        json!({"index": self.index, "code": self.code.code(), "message": self.message})
    }
}

/// A request or line whose messages cannot be taken at all.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub code: ErrorCode,
    pub message: String,
    /// Each message's reason, when there were messages.
    pub rejected: Vec<Rejected>,
}

impl Refused {
    fn new(code: ErrorCode, message: impl Into<String>) -> Refused {
        Refused { code, message: message.into(), rejected: Vec::new() }
    }
}

/// Whether a JSON object is a batch envelope.
pub fn is_batch(obj: &Map<String, Value>) -> bool {
    obj.contains_key("batch")
}

/// The messages of a batch envelope, each with the batch's shared fields
/// filled in where it has none of its own.
pub fn batch_messages(mut obj: Map<String, Value>) -> Result<Vec<Value>, Refused> {
    match obj.remove("batch") {
        Some(Value::Array(items)) => {
            let shared = |k: &str| obj.get(k).and_then(Value::as_object);
            let (context, integrations) = (shared("context"), shared("integrations"));
            let sent_at = obj.get("sentAt").filter(|v| !v.is_null());
            Ok(items.into_iter().map(|m| with_batch_fields(m, context, integrations, sent_at)).collect())
        }
        Some(other) => Err(Refused::new(
            ErrorCode::InvalidField,
            format!("batch: expected an array of messages, found {}", json_type(&other)),
        )),
        None => Err(Refused::new(ErrorCode::MissingField, "batch: missing: send {\"batch\": [messages]}")),
    }
}

/// Decodes the messages of a request body (the write key already removed),
/// received at `now` (µs): the events of the valid ones, and a report of
/// each invalid one. At least one message must be valid.
pub fn decode_messages(
    decoder: &Decoder,
    envelope: Envelope,
    mut obj: Map<String, Value>,
    now: i64,
) -> Result<(Vec<Event>, Vec<Rejected>), Refused> {
    let messages: Vec<Value> = match envelope {
        Envelope::Single(kind) => {
            match obj.get("type").and_then(Value::as_str) {
                None => {
                    obj.insert("type".into(), Value::String(kind.as_str().into()));
                }
                Some(t) if Kind::parse(t) == Some(kind) => {}
                Some(t) => {
                    return Err(Refused::new(
                        ErrorCode::InvalidField,
                        format!("type: '{t}' sent to /v1/{}; send it to /v1/{t} or /v1/batch", kind.as_str()),
                    ));
                }
            }
            vec![Value::Object(obj)]
        }
        Envelope::Batch => batch_messages(obj)?,
    };
    let mut events = Vec::with_capacity(messages.len());
    let mut rejected = Vec::new();
    for (index, m) in messages.iter().enumerate() {
        match decode_message(decoder, m, now) {
            Ok(e) => events.push(e),
            Err(r) => rejected.push(Rejected { index, ..r }),
        }
    }
    if !events.is_empty() {
        return Ok((events, rejected));
    }
    if let Envelope::Single(_) = envelope
        && let Some(first) = rejected.pop()
    {
        return Err(Refused::new(first.code, first.message));
    }
    if rejected.is_empty() {
        return Err(Refused::new(ErrorCode::MissingField, "batch: the batch is empty"));
    }
    let n = rejected.len();
    let mut refused = if rejected.iter().all(|r| r.code == ErrorCode::PayloadTooLarge) {
        Refused::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "every message of the batch is larger than {} KB ({n} rejected); nothing was stored",
                MESSAGE_LIMIT / 1024
            ),
        )
    } else {
        // One reason for all is that reason's code; mixed reasons are invalid_field.
        let first = rejected[0].code;
        let code = if rejected.iter().all(|r| r.code == first) { first } else { ErrorCode::InvalidField };
        Refused::new(code, format!("no valid message in the batch ({n} rejected); message 0: {}", rejected[0].message))
    };
    refused.rejected = rejected;
    Err(refused)
}

/// Decodes one message of a request: within the size limit, an object,
/// a valid Segment message (index 0; the caller sets it).
fn decode_message(decoder: &Decoder, m: &Value, now: i64) -> Result<Event, Rejected> {
    let reject = |code, field: Option<String>, message| Rejected { index: 0, code, field, message };
    let Value::Object(msg) = m else {
        return Err(reject(ErrorCode::InvalidJson, None, format!("expected a message object, found {}", json_type(m))));
    };
    let size = serde_json::to_string(m).map_or(0, |s| s.len());
    if size > MESSAGE_LIMIT {
        return Err(reject(
            ErrorCode::PayloadTooLarge,
            None,
            format!("the message is {size} bytes; the limit is {MESSAGE_LIMIT}"),
        ));
    }
    decoder.decode_segment_at(msg, now).map_err(|e| reject(e.code, Some(e.field.clone()), e.to_string()))
}

/// A batch message with the batch's shared fields filled in where it has
/// none of its own: the `context` and `integrations` keys, and `sentAt`
/// (the clock-skew correction needs it).
fn with_batch_fields(
    m: Value,
    context: Option<&Map<String, Value>>,
    integrations: Option<&Map<String, Value>>,
    sent_at: Option<&Value>,
) -> Value {
    let Value::Object(mut msg) = m else { return m };
    for (key, shared) in [("context", context), ("integrations", integrations)] {
        let Some(shared) = shared else { continue };
        match msg.get_mut(key) {
            Some(Value::Object(own)) => {
                for (k, v) in shared {
                    own.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            None | Some(Value::Null) => {
                msg.insert(key.into(), Value::Object(shared.clone()));
            }
            Some(_) => {}
        }
    }
    if let Some(t) = sent_at
        && msg.get("sentAt").is_none_or(Value::is_null)
    {
        msg.insert("sentAt".into(), t.clone());
    }
    Value::Object(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_context_and_integrations_fill_in_missing_keys() {
        let obj = json!({
            "batch": [
                {"type": "track", "context": {"ip": "9.9.9.9"}},
                {"type": "track", "sentAt": "2026-01-01T00:00:00Z", "integrations": {"All": false}},
                "not an object"
            ],
            "context": {"ip": "1.1.1.1", "library": {"name": "x"}},
            "integrations": {"All": true, "Mixpanel": false},
            "sentAt": "2026-01-02T00:00:00Z"
        });
        let Value::Object(obj) = obj else { unreachable!() };
        let m = batch_messages(obj).unwrap();
        assert_eq!(m[0]["context"]["ip"], "9.9.9.9");
        assert_eq!(m[0]["context"]["library"]["name"], "x");
        assert_eq!(m[0]["integrations"]["Mixpanel"], false);
        assert_eq!(m[0]["sentAt"], "2026-01-02T00:00:00Z");
        assert_eq!(m[1]["sentAt"], "2026-01-01T00:00:00Z");
        assert_eq!(m[1]["integrations"]["All"], false);
        assert_eq!(m[1]["integrations"]["Mixpanel"], false);
        assert_eq!(m[2], "not an object");
    }

    #[test]
    fn a_batch_is_accepted_in_part_with_codes() {
        let d = Decoder::new(crate::derive::ChannelDeriver::default(), 1_800_000_000_000_000);
        let obj = json!({"batch": [
            {"type": "track", "event": "A", "userId": "u", "timestamp": "2026-01-01T00:00:00Z"},
            {"type": "track", "event": "B"},
            {"type": "track", "userId": "u", "event": "C", "timestamp": "yesterday"},
            {"type": "track", "userId": "u", "event": "D", "properties": {"x": "y".repeat(40_000)}},
        ]});
        let Value::Object(obj) = obj else { unreachable!() };
        let (events, rejected) = decode_messages(&d, Envelope::Batch, obj, 1_800_000_000_000_000).unwrap();
        assert_eq!(events.len(), 1);
        let codes: Vec<(usize, ErrorCode)> = rejected.iter().map(|r| (r.index, r.code)).collect();
        assert_eq!(
            codes,
            [(1, ErrorCode::MissingIdentity), (2, ErrorCode::InvalidTimestamp), (3, ErrorCode::PayloadTooLarge)]
        );
        let Value::Object(obj) = json!({"batch": [{"type": "track", "event": "B"}]}) else { unreachable!() };
        let refused = decode_messages(&d, Envelope::Batch, obj, 0).unwrap_err();
        assert_eq!((refused.code, refused.rejected.len()), (ErrorCode::MissingIdentity, 1));
        let Value::Object(obj) = json!({"batch": []}) else { unreachable!() };
        assert_eq!(decode_messages(&d, Envelope::Batch, obj, 0).unwrap_err().code, ErrorCode::MissingField);
    }
}
