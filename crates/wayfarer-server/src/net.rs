//! Connections and the layers every answer passes through.
//!
//! ```text
//!  accept ─ a free connection slot? (else wait: the kernel queues the rest)
//!   └─ hyper HTTP/1.1: headers within client_timeout (also the idle time
//!      between keep-alive requests), a write that makes no progress for
//!      client_timeout closes the connection (ingestion bodies, too, must
//!      arrive within it)
//!       └─ layers: 431 for too many or too large headers, security
//!          headers, every error as JSON {code, message, hint}
//! ```
//!
//! The connection cap keeps descriptors for the store: by default it is what
//! the process's descriptor limit (raised to its hard limit at start) leaves
//! after a reserve, so idle or slow clients can never take the descriptors
//! that staging, folding and queries need. Shutting down stops accepting,
//! closes idle connections, and gives requests in flight `drain` to finish.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tower_http::set_header::SetResponseHeaderLayer;
use wayfarer_core::ErrorCode;

use crate::error::ApiError;

/// More request headers than this is 431.
pub const MAX_HEADERS: usize = 100;
/// Request headers larger than this in all is 431.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Headers hyper itself accepts before answering 431 with no body (beyond
/// what [`check_headers`] explains in JSON). Hyper prepares room for this
/// many on every request, so it stays small.
const HYPER_MAX_HEADERS: usize = 200;
/// Descriptors kept for the store when the connection cap is derived from
/// the descriptor limit (at least this many, or an eighth of the limit).
const RESERVED_DESCRIPTORS: u64 = 64;
/// The most connections by default, whatever the descriptor limit.
const MAX_CONNECTIONS: u64 = 10_000;

/// The content security policy of every answer: the dashboard's own script
/// and styles (inline style attributes for bar widths and colours), no
/// frames, no plugins, forms only to this server.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Connection limits and timeouts.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; more wait in the kernel's queue.
    pub max_connections: usize,
    /// How long a client may take: a request's headers must arrive within
    /// this (also how long an idle keep-alive connection stays open), an
    /// ingestion body too, and an answer that makes no progress for this
    /// long (the client stopped reading) closes the connection.
    pub client_timeout: Duration,
    /// On shutdown, how long requests in flight may take to finish.
    pub drain: Duration,
}

impl Limits {
    /// The defaults, with `max_connections` from the flag or from the
    /// descriptor limit.
    pub fn new(max_connections: Option<usize>, client_timeout: Duration) -> Limits {
        let max = max_connections.unwrap_or_else(|| match descriptor_limit() {
            Some(limit) => {
                let reserve = RESERVED_DESCRIPTORS.max(limit / 8);
                limit.saturating_sub(reserve).clamp(1, MAX_CONNECTIONS) as usize
            }
            None => 1024,
        });
        Limits { max_connections: max.max(1), client_timeout, drain: Duration::from_secs(10) }
    }
}

/// Connections the kernel queues for us while every slot is taken (the
/// standard library's 128 drops the rest's SYNs, so they retry seconds later).
const BACKLOG: u32 = 1024;

/// A listening socket on `addr` with a deep accept queue.
pub fn listen(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// The process's soft limit of open files.
pub fn descriptor_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

/// Raises the soft limit of open files to the hard limit (as many servers
/// do at start); returns the limit in effect.
pub fn raise_descriptor_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut l = getrlimit(Resource::Nofile);
    let hard = l.maximum.unwrap_or(1 << 20).min(1 << 20);
    if l.current.is_some_and(|c| c < hard) {
        l.current = Some(hard);
        let _ = setrlimit(Resource::Nofile, l);
    }
    descriptor_limit()
}

/// Serves connections on `listener` until `stop` completes, then drains.
pub async fn serve_connections(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: &Limits,
    stop: impl std::future::Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.client_timeout).max_headers(HYPER_MAX_HEADERS);
    let service = TowerToHyperService::new(router);
    tokio::pin!(stop);
    loop {
        let slot = tokio::select! {
            () = &mut stop => break,
            s = slots.clone().acquire_owned() => match s { Ok(s) => s, Err(_) => break },
        };
        let stream = tokio::select! {
            () = &mut stop => break,
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors (EMFILE, ENFILE) or memory: wait for
                    // some to be freed rather than spin; a peer that reset
                    // before we accepted is nothing to wait for.
                    if !matches!(e.kind(), std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset) {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    continue;
                }
            },
        };
        let mut io = tokio_io_timeout::TimeoutStream::new(stream);
        io.set_write_timeout(Some(limits.client_timeout));
        let conn = http.serve_connection(TokioIo::new(Box::pin(io)), service.clone());
        let watched = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = watched.await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(limits.drain, graceful.shutdown()).await;
}

/// Wraps the routes in the layers every answer goes through. They wrap
/// the router once (not each route), so a request pays for them once.
pub fn harden(router: Router) -> Router {
    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    // Outermost first.
    let stack = tower::ServiceBuilder::new()
        .layer(header(header::REFERRER_POLICY, "same-origin"))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(axum::middleware::from_fn(guard))
        .service(router);
    Router::new().fallback_service(stack)
}

/// How much of an oversized body is read and dropped so that its sender
/// sees the 413 (beyond this the connection is closed on it).
const DRAIN_LIMIT: usize = 64 << 20;

/// Reads a request body of at most `limit` bytes from a client that keeps
/// sending: no more than `idle` may pass without data, and no more than
/// ten times that in all (a slow but steady 4 MB batch arrives; a trickle
/// does not hold the connection forever). Errors are the answers to give.
pub async fn read_body(body: axum::body::Body, limit: usize, idle: Duration, what: &str) -> Result<Vec<u8>, ApiError> {
    use http_body_util::BodyExt;
    let too_large = || ApiError::new(ErrorCode::PayloadTooLarge, format!("{what} is larger than {} KB", limit / 1024));
    let late = || {
        ApiError::new(ErrorCode::RequestTimeout, format!("{what} did not arrive in time (the client stopped sending)"))
    };
    let read = async {
        let mut body = body;
        let mut out = Vec::new();
        loop {
            let frame = match tokio::time::timeout(idle, body.frame()).await {
                Err(_) => return Err(late()),
                Ok(None) => return Ok(out),
                Ok(Some(Err(e))) => {
                    return Err(ApiError::new(ErrorCode::InvalidJson, format!("{what} could not be read: {e}")));
                }
                Ok(Some(Ok(frame))) => frame,
            };
            if let Ok(data) = frame.into_data() {
                if out.len() + data.len() > limit {
                    // Read (and drop) the rest, up to a bound, before
                    // answering: closing a connection with unread data
                    // resets it, and the client would never see the 413.
                    let mut drained = out.len() + data.len();
                    drop(out);
                    while drained <= DRAIN_LIMIT {
                        match tokio::time::timeout(idle, body.frame()).await {
                            Ok(Some(Ok(f))) => drained += f.data_ref().map_or(0, |d| d.len()),
                            _ => break,
                        }
                    }
                    return Err(too_large());
                }
                out.extend_from_slice(&data);
            }
        }
    };
    tokio::time::timeout(idle * 10, read).await.unwrap_or_else(|_| Err(late()))
}

/// A time limit for routes that read a form body (the dashboard's), which
/// no other limit covers: 408 in JSON after `limit`.
pub fn form_timeout(limit: Duration) -> tower_http::timeout::TimeoutLayer {
    tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, limit)
}

/// One middleware for what every request needs: 431 (in JSON) for too many
/// or too large headers, and every error answer in JSON.
async fn guard(req: Request, next: Next) -> Response {
    if let Some(refused) = check_headers(&req) {
        return refused;
    }
    json_errors(next.run(req).await).await
}

/// 431 (in JSON) for requests with too many or too large headers.
fn check_headers(req: &Request) -> Option<Response> {
    let headers = req.headers();
    let bytes: usize = headers.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if headers.len() > MAX_HEADERS {
        return Some(
            ApiError::new(
                ErrorCode::HeadersTooLarge,
                format!("the request has {} headers; at most {MAX_HEADERS} are accepted", headers.len()),
            )
            .into_response(),
        );
    }
    if bytes > MAX_HEADER_BYTES {
        return Some(
            ApiError::new(
                ErrorCode::HeadersTooLarge,
                format!("the request's headers are {bytes} bytes; at most {} KB are accepted", MAX_HEADER_BYTES / 1024),
            )
            .into_response(),
        );
    }
    None
}

/// Error answers that are not JSON or HTML yet (empty or plain text, from
/// routing, extractors or layers) become `{code, message, hint}`.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let typed = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json") || t.starts_with("text/html"));
    if typed {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let code = ErrorCode::for_status(status.as_u16());
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_string() } else { text };
    let mut out = (status, axum::Json(ApiError::new(code, message).body())).into_response();
    for (k, v) in &parts.headers {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k, v.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty(status: StatusCode) -> Response {
        (status, axum::body::Body::empty()).into_response()
    }

    #[tokio::test]
    async fn plain_errors_become_json_with_a_code() {
        let r = json_errors(empty(StatusCode::METHOD_NOT_ALLOWED)).await;
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["code"], "method_not_allowed");
        assert!(v["hint"].as_str().is_some_and(|h| !h.is_empty()));
        let r = json_errors(
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Expected request with `Content-Type: application/x-www-form-urlencoded`",
            )
                .into_response(),
        )
        .await;
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["code"], "unsupported_media_type");
        assert!(v["message"].as_str().unwrap().contains("Content-Type"));
        let ok = json_errors(empty(StatusCode::OK)).await;
        assert_eq!(ok.headers().get(header::CONTENT_TYPE), None, "successes pass untouched");
    }

    #[tokio::test]
    async fn every_answer_passes_the_layers() {
        use tower::ServiceExt;
        let slow = || async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            "late"
        };
        let app = harden(
            Router::new()
                .route("/slow", axum::routing::get(slow).layer(form_timeout(Duration::from_millis(50))))
                .route("/ok", axum::routing::get(|| async { "ok" })),
        );
        let call = |path: &str, method: &str| {
            let req = Request::builder().uri(path).method(method).body(axum::body::Body::empty()).unwrap();
            app.clone().oneshot(req)
        };
        let json = |r: Response| async move {
            let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
            serde_json::from_slice::<serde_json::Value>(&body).unwrap()
        };
        // A form's timeout answers 408, in JSON too.
        let r = call("/slow", "GET").await.unwrap();
        assert_eq!(r.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(json(r).await["code"], "request_timeout");
        // Routing's own 405, and security headers on a success.
        let r = call("/ok", "POST").await.unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(json(r).await["code"], "method_not_allowed");
        let r = call("/ok", "GET").await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("frame-ancestors 'none'"));
        assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }

    #[test]
    fn the_connection_cap_leaves_descriptors_for_the_store() {
        let l = Limits::new(Some(7), Duration::from_secs(30));
        assert_eq!(l.max_connections, 7);
        if let Some(limit) = descriptor_limit().filter(|l| *l >= 2 * RESERVED_DESCRIPTORS) {
            let derived = Limits::new(None, Duration::from_secs(30)).max_connections as u64;
            assert!(derived + RESERVED_DESCRIPTORS <= limit, "{derived} connections of {limit} descriptors");
            assert!(derived <= MAX_CONNECTIONS);
        }
    }
}
