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
use wayfarer_core::ErrorCode;
use wayfarer_ingest::decode::json_type;
use wayfarer_ingest::segment::{self, Rejected};

use crate::App;
use crate::error::ApiError;
use crate::keys::KeyKind;

pub use wayfarer_ingest::segment::{BATCH_LIMIT, Envelope as Endpoint, MESSAGE_LIMIT};

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
    let (events, rejected) =
        segment::decode_messages(&app.decoder, endpoint, obj, app.clock.now_us()).map_err(|r| {
            let details = (!r.rejected.is_empty()).then(|| r.rejected.iter().map(Rejected::to_json).collect());
            let e = ApiError::new(r.code, r.message);
            match details {
                Some(d) => e.with_details(Value::Array(d)),
                None => e,
            }
        })?;
    app.metrics.rejected.fetch_add(rejected.len() as u64, Ordering::Relaxed);
    let mut events = events;
    let derived = crate::surveys::referral_conversions(app, &events);
    events.extend(derived);
    let n = events.len() as u64;
    let payload = wayfarer_store::staging::encode_payload(&events);
    app.pipeline.append(payload, n).await.map_err(|e| ApiError::new(ErrorCode::Unavailable, e))?;
    let mut answer = json!({"success": true});
    if !rejected.is_empty() {
        answer["accepted"] = json!(n);
        answer["rejected"] = rejected.iter().map(Rejected::to_json).collect();
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

fn too_large(limit: usize, what: &str) -> ApiError {
    ApiError::new(ErrorCode::PayloadTooLarge, format!("{what} is larger than {} KB", limit / 1024))
}

fn no_key() -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, "no write key: send it as the HTTP Basic user name or as writeKey")
}

/// Checks that `key` is a valid write key.
fn authorize(app: &App, key: &str) -> Result<(), ApiError> {
    app.keys.require(key, KeyKind::Write)
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
}
