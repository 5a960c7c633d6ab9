//! Segment-compatible ingestion: `/v1/{track,identify,page,screen,group,alias}`
//! take one message, `/v1/batch` (and `/v1/import`) a `{"batch": [...]}`.
//!
//! A request is authenticated by a write key — the HTTP Basic user name
//! with an empty password, as Segment's and RudderStack's libraries send it,
//! or a `writeKey` field in the body. Bodies may be gzip-compressed (any
//! Content-Type: RudderStack's Node library labels gzipped JSON as a form).
//! Limits: 32 KB per message (Segment's), 4 MB per batch (RudderStack's
//! libraries send up to 4 MB; Segment's own stay under 500 KB), after
//! decompression; a body over them is 413, and so is a batch whose only
//! messages are over 32 KB. The body must keep arriving: no gap longer
//! than the client timeout (`--client-timeout`), or the answer is 408.
//!
//! A batch is **accepted in part**: every valid message is stored, each
//! invalid one is reported by index, field and reason (and never partly
//! stored: a message is decoded whole before anything is written). The
//! answer is 200 `{"success": true}` (with `"rejected": [...]` when some were
//! invalid) only after the valid messages are durable; 400 if none was
//! valid. Official clients do not retry a 400, so rejecting a whole batch
//! for one bad message would throw the good ones away.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Body;
use axum::http::HeaderMap;
use base64::Engine;
use serde_json::{Map, Value, json};
use wayfarer_core::{ErrorCode, Event, Kind};
use wayfarer_ingest::Decoder;
use wayfarer_ingest::decode::json_type;

use crate::App;
use crate::error::{ApiError, field_code};
use crate::keys::{KeyKind, Verdict};

/// The largest message (Segment's limit).
pub const MESSAGE_LIMIT: usize = 32 * 1024;
/// The largest batch (RudderStack's limit; Segment's is 500 KB).
pub const BATCH_LIMIT: usize = 4 * 1024 * 1024;

/// Which endpoint was called.
#[derive(Debug, Clone, Copy)]
pub enum Endpoint {
    Single(Kind),
    Batch,
}

pub async fn handle(
    app: Arc<App>,
    endpoint: Endpoint,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let result = accept(&app, endpoint, &headers, body).await;
    if result.is_err() {
        app.metrics.requests_refused.fetch_add(1, Ordering::Relaxed);
    }
    result
}

async fn accept(app: &App, endpoint: Endpoint, headers: &HeaderMap, body: Body) -> Result<Json<Value>, ApiError> {
    let limit = match endpoint {
        Endpoint::Single(_) => MESSAGE_LIMIT,
        Endpoint::Batch => BATCH_LIMIT,
    };
    let header_key = basic_user(headers);
    if let Some(k) = &header_key {
        authorize(app, k)?;
    }
    let raw = crate::net::read_body(body, limit, app.client_timeout, "the request body").await?;
    let gzip = headers
        .get(axum::http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
    let bytes = if gzip { gunzip(&raw, limit)? } else { raw };
    if bytes.len() > limit {
        return Err(too_large(limit, "the request body"));
    }
    let mut obj = match parse_object(&bytes) {
        Ok(obj) => obj,
        Err(_) if header_key.is_none() => return Err(no_key()),
        Err(e) => return Err(e),
    };
    if header_key.is_none() {
        match obj.get("writeKey").and_then(Value::as_str) {
            Some(k) => authorize(app, k)?,
            None => return Err(no_key()),
        }
    }
    obj.remove("writeKey");
    let (events, rejected) = decode_messages(&app.decoder, endpoint, obj, crate::pipeline::now_micros())?;
    app.metrics.rejected.fetch_add(rejected.len() as u64, Ordering::Relaxed);
    let n = events.len() as u64;
    let payload = serde_json::to_vec(&events).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    app.pipeline.append(payload, n).await.map_err(|e| ApiError::new(ErrorCode::Unavailable, e))?;
    let mut answer = json!({"success": true});
    if !rejected.is_empty() {
        answer["accepted"] = json!(n);
        answer["rejected"] = Value::Array(rejected);
    }
    Ok(Json(answer))
}

/// Parses a request body that must be one JSON object.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(obj)) => Ok(obj),
        Ok(v) => Err(ApiError::new(ErrorCode::InvalidJson, format!("expected a JSON object, found {}", json_type(&v)))),
        Err(e) => Err(ApiError::new(ErrorCode::InvalidJson, format!("the body is not valid JSON: {e}"))),
    }
}

/// Decodes the messages of a request body (the write key already removed):
/// the events of the valid ones, and a report of each invalid one. At least
/// one message must be valid.
pub fn decode_messages(
    decoder: &Decoder,
    endpoint: Endpoint,
    mut obj: Map<String, Value>,
    now: i64,
) -> Result<(Vec<Event>, Vec<Value>), ApiError> {
    let messages: Vec<Value> = match endpoint {
        Endpoint::Single(kind) => {
            match obj.get("type").and_then(Value::as_str) {
                None => {
                    obj.insert("type".into(), Value::String(kind.as_str().into()));
                }
                Some(t) if Kind::parse(t) == Some(kind) => {}
                Some(t) => {
                    return Err(ApiError::new(
                        ErrorCode::InvalidField,
                        format!("type: '{t}' sent to /v1/{}; send it to /v1/{t} or /v1/batch", kind.as_str()),
                    ));
                }
            }
            vec![Value::Object(obj)]
        }
        Endpoint::Batch => match obj.remove("batch") {
            Some(Value::Array(items)) => {
                let shared = obj.get("context").and_then(Value::as_object).cloned();
                let sent_at = obj.get("sentAt").filter(|v| !v.is_null());
                items.into_iter().map(|m| with_batch_fields(m, shared.as_ref(), sent_at)).collect()
            }
            Some(other) => {
                return Err(ApiError::new(
                    ErrorCode::InvalidField,
                    format!("batch: expected an array of messages, found {}", json_type(&other)),
                ));
            }
            None => return Err(ApiError::new(ErrorCode::MissingField, "batch: missing: send {\"batch\": [messages]}")),
        },
    };

    let mut events = Vec::with_capacity(messages.len());
    let mut rejected = Vec::new();
    for (index, m) in messages.iter().enumerate() {
        let outcome = match m {
            Value::Object(msg) => {
                let size = serde_json::to_string(m).map_or(0, |s| s.len());
                if size > MESSAGE_LIMIT {
                    Err((
                        ErrorCode::PayloadTooLarge,
                        format!("the message is {size} bytes; the limit is {MESSAGE_LIMIT}"),
                    ))
                } else {
                    decoder.decode_segment_at(msg, now).map_err(|e| (field_code(&e), e.to_string()))
                }
            }
            other => Err((ErrorCode::InvalidJson, format!("expected a message object, found {}", json_type(other)))),
        };
        match outcome {
            Ok(e) => events.push(e),
            Err((code, message)) => rejected.push(json!({"index": index, "code": code.code(), "message": message})),
        }
    }
    if events.is_empty() {
        if let Endpoint::Single(_) = endpoint {
            let code = match rejected.first().and_then(|r| r["code"].as_str()) {
                Some(c) => ErrorCode::ALL.into_iter().find(|k| k.code() == c).unwrap_or(ErrorCode::InvalidField),
                None => ErrorCode::InvalidField,
            };
            let message = rejected.first().and_then(|r| r["message"].as_str()).unwrap_or("invalid message").to_string();
            return Err(ApiError::new(code, message));
        }
        if rejected.is_empty() {
            return Err(ApiError::new(ErrorCode::MissingField, "batch: the batch is empty"));
        }
        let too_large = ErrorCode::PayloadTooLarge.code();
        if rejected.iter().all(|r| r["code"] == too_large) {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "every message of the batch is larger than {} KB ({} rejected); nothing was stored",
                    MESSAGE_LIMIT / 1024,
                    rejected.len()
                ),
            )
            .with_details(Value::Array(rejected)));
        }
        let first = rejected[0]["message"].as_str().unwrap_or_default().to_string();
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            format!("no valid message in the batch ({} rejected); message 0: {first}", rejected.len()),
        )
        .with_details(Value::Array(rejected)));
    }
    Ok((events, rejected))
}

/// A batch message with the batch's shared fields filled in where it has
/// none of its own: the `context` keys, and `sentAt` (the clock-skew
/// correction needs it).
fn with_batch_fields(m: Value, shared: Option<&Map<String, Value>>, sent_at: Option<&Value>) -> Value {
    let Value::Object(mut msg) = m else { return m };
    if let Some(shared) = shared {
        match msg.get_mut("context") {
            Some(Value::Object(ctx)) => {
                for (k, v) in shared {
                    ctx.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            None | Some(Value::Null) => {
                msg.insert("context".into(), Value::Object(shared.clone()));
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

fn too_large(limit: usize, what: &str) -> ApiError {
    ApiError::new(ErrorCode::PayloadTooLarge, format!("{what} is larger than {} KB", limit / 1024))
}

fn no_key() -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, "no write key: send it as the HTTP Basic user name or as writeKey")
}

/// Checks that `key` is a valid write key.
fn authorize(app: &App, key: &str) -> Result<(), ApiError> {
    match app.keys.check(key) {
        Verdict::Valid(KeyKind::Write) => Ok(()),
        Verdict::Valid(KeyKind::Read) => {
            Err(ApiError::new(ErrorCode::Forbidden, "this is a read token; ingestion needs a write key"))
        }
        Verdict::Revoked => Err(ApiError::new(ErrorCode::Unauthorized, "this write key has been revoked")),
        Verdict::Unknown => Err(ApiError::new(ErrorCode::Unauthorized, "unknown write key")),
    }
}

/// The user name of an `Authorization: Basic` header.
fn basic_user(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let user = text.split_once(':').map_or(text.as_str(), |(u, _)| u);
    Some(user.to_string()).filter(|u| !u.is_empty())
}

fn gunzip(raw: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(raw)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("the body is not valid gzip: {e}")))?;
    if out.len() > limit {
        return Err(too_large(limit, "the decompressed body"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_user_is_the_key() {
        let mut h = HeaderMap::new();
        let v = base64::engine::general_purpose::STANDARD.encode("wfw_abc:");
        h.insert(axum::http::header::AUTHORIZATION, format!("Basic {v}").parse().unwrap());
        assert_eq!(basic_user(&h).as_deref(), Some("wfw_abc"));
        h.insert(axum::http::header::AUTHORIZATION, "Bearer wfr_x".parse().unwrap());
        assert_eq!(basic_user(&h), None);
    }

    #[test]
    fn gzip_bombs_stop_at_the_limit() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![b' '; 2 * BATCH_LIMIT]).unwrap();
        let small = enc.finish().unwrap();
        assert!(small.len() < 10_000);
        let e = gunzip(&small, BATCH_LIMIT).unwrap_err();
        assert_eq!(e.code, ErrorCode::PayloadTooLarge);
        assert_eq!(gunzip(b"not gzip", BATCH_LIMIT).unwrap_err().code, ErrorCode::InvalidJson);
    }

    #[test]
    fn batch_context_fills_in_missing_keys() {
        let shared: Map<String, Value> =
            serde_json::from_str(r#"{"library": {"name": "x"}, "ip": "1.2.3.4"}"#).unwrap();
        let sent = json!("2026-05-01T12:00:00Z");
        let m = with_batch_fields(json!({"type": "track", "context": {"ip": "9.9.9.9"}}), Some(&shared), Some(&sent));
        assert_eq!(m["context"]["ip"], "9.9.9.9");
        assert_eq!(m["context"]["library"]["name"], "x");
        assert_eq!(m["sentAt"], sent);
        let own = json!("2026-05-01T12:00:05Z");
        let m = with_batch_fields(json!({"type": "track", "sentAt": own}), None, Some(&sent));
        assert_eq!(m["sentAt"], own, "a message's own sentAt wins");
    }
}
