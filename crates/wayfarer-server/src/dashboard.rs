//! The dashboard over HTTP: sign-in with a read token kept in an HttpOnly
//! cookie, the pages (rendered by a runner the binary provides, on a
//! blocking thread with a timeout), their exports, the two static assets,
//! and the analysts' notes (written to `DIR/notes.json`).
//!
//! Everything here needs the cookie (or a bearer read token) except
//! `/login`; a browser without one is sent to `/login?next=…`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use wayfarer_core::ErrorCode;
use wayfarer_render::dashboard;
use wayfarer_store::notes::{self, CellRef, NoteStatus};

use crate::App;
use crate::error::ApiError;
use crate::exec::Job;
use crate::keys::{KeyKind, Verdict};

/// The cookie that carries the read token.
pub const COOKIE: &str = "wayfarer_token";

/// A page to render: its path (`/funnels`, `/funnels/export`,
/// `/customers/ID`) and query parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub path: String,
    pub params: Vec<(String, String)>,
}

/// What a page runner answers: HTML, or a file to download.
#[derive(Debug)]
pub struct PageOutput {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    /// Set for exports: the download's file name.
    pub filename: Option<String>,
}

impl PageOutput {
    pub fn html(body: String) -> PageOutput {
        PageOutput {
            status: 200,
            content_type: "text/html; charset=utf-8".into(),
            body: body.into_bytes(),
            filename: None,
        }
    }
}

/// Draws a page, its parallel work on the job's pool; stops early (any
/// answer will do) once the job is cancelled.
pub type PageRunner = Arc<dyn Fn(&PageRequest, &Job) -> PageOutput + Send + Sync>;

/// What the binary gives the server to draw pages.
#[derive(Clone)]
pub struct Pages {
    pub run: PageRunner,
    pub timeout: Duration,
}

impl std::fmt::Debug for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages").field("timeout", &self.timeout).finish()
    }
}

/// The read token of a request: `Authorization: Bearer …` or the cookie.
pub fn token(headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string());
    bearer.or_else(|| {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == COOKIE)
            .map(|(_, v)| v.trim().to_string())
    })
}

fn signed_in(app: &App, headers: &HeaderMap) -> bool {
    token(headers).is_some_and(|t| app.keys.require(&t, KeyKind::Read).is_ok())
}

/// Only local paths, so `next` and `back` cannot send the browser elsewhere
/// (browsers drop tabs and newlines in URLs, so `/\t/evil` would be `//evil`).
fn local(path: &str) -> &str {
    let plain = !path.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    if plain && path.starts_with('/') && !path.starts_with("//") { path } else { "/" }
}

/// Refuses a form posted from another site: the `Origin`, when the browser
/// sends one, must be this server (the cookie is also SameSite=Strict).
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    origin.split_once("://").is_some_and(|(_, rest)| rest == host)
}

fn login_redirect(uri: &axum::http::Uri) -> Response {
    let next = uri.path_and_query().map_or("/", |p| p.as_str());
    Redirect::to(&format!("/login?next={}", dashboard::enc(next))).into_response()
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

pub async fn login_page(Query(q): Query<LoginQuery>) -> Response {
    html(StatusCode::OK, dashboard::login(None, local(q.next.as_deref().unwrap_or("/"))))
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
    next: Option<String>,
}

pub async fn login(State(app): State<Arc<App>>, headers: HeaderMap, Form(f): Form<LoginForm>) -> Response {
    if !same_origin(&headers) {
        return ApiError::new(ErrorCode::Forbidden, "a form from another site").into_response();
    }
    let next = local(f.next.as_deref().unwrap_or("/")).to_string();
    let token = f.token.trim();
    let problem = match app.keys.check(token) {
        Verdict::Valid(KeyKind::Read | KeyKind::Admin) => None,
        Verdict::Valid(KeyKind::Write) => Some("That is a write key (for sending events). Sign in with a read token."),
        Verdict::Valid(KeyKind::Profile) => {
            Some("That is a profile key (for a website's backend). Sign in with a read token.")
        }
        Verdict::Revoked => Some("That read token has been revoked."),
        Verdict::Unknown => Some("Unknown token. Check that you copied the whole read token."),
    };
    if let Some(p) = problem {
        return html(StatusCode::UNAUTHORIZED, dashboard::login(Some(p), &next));
    }
    let mut r = Redirect::to(&next).into_response();
    // Behind a TLS-terminating proxy the cookie is also Secure (the server
    // itself speaks plain HTTP, on loopback unless told otherwise).
    let tls =
        headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let secure = if tls { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=2592000{secure}");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

pub async fn logout(headers: HeaderMap) -> Response {
    if !same_origin(&headers) {
        return ApiError::new(ErrorCode::Forbidden, "a form from another site").into_response();
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("wayfarer_token=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    r
}

pub async fn asset(State(app): State<Arc<App>>, headers: HeaderMap, Path(name): Path<String>) -> Response {
    if !signed_in(&app, &headers) {
        return ApiError::new(ErrorCode::Unauthorized, "sign in first").into_response();
    }
    let (body, kind) = match name.as_str() {
        "app.css" => (dashboard::CSS, "text/css; charset=utf-8"),
        "app.js" => (dashboard::JS, "text/javascript; charset=utf-8"),
        _ => return ApiError::new(ErrorCode::NotFound, format!("no asset {name}")).into_response(),
    };
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "private, max-age=300")], body).into_response()
}

/// Every page and export: checks the session, then asks the runner.
pub async fn page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    if !signed_in(&app, &headers) {
        return login_redirect(&uri);
    }
    let Some(pages) = app.pages.clone() else {
        return ApiError::new(ErrorCode::NotFound, "this server has no dashboard").into_response();
    };
    let req = PageRequest { path: uri.path().to_string(), params };
    let started = Instant::now();
    let run = pages.run.clone();
    let out = match app.exec.run(pages.timeout, move |job| run(&req, job)).await {
        Ok(out) => out,
        Err(e) => {
            let (status, title, heading, text) = match e.code {
                ErrorCode::QueryTimeout => (
                    StatusCode::GATEWAY_TIMEOUT,
                    "Taking too long",
                    "This page is taking too long",
                    format!(
                        "This page took longer than {} s to compute and was stopped. Narrow the date range, or raise --query-timeout.",
                        pages.timeout.as_secs_f64()
                    ),
                ),
                ErrorCode::Busy => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Busy",
                    "The server is busy",
                    format!("{}. Reload the page in a moment.", e.message),
                ),
                _ => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error",
                    "Something went wrong",
                    "Drawing this page failed inside the server. Please report it with the address of the page."
                        .to_string(),
                ),
            };
            let c = dashboard::Chrome { title: title.into(), ..dashboard::Chrome::default() };
            return html(status, dashboard::message(&c, heading, &text));
        }
    };
    app.metrics.page.observe(started.elapsed());
    let status = StatusCode::from_u16(out.status).unwrap_or(StatusCode::OK);
    let mut r = (status, out.body).into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&out.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Some(name) = out.filename
        && let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", name.replace('"', "")))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("render;dur={:.1}", started.elapsed().as_secs_f64() * 1000.0)) {
        h.insert("server-timing", v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[derive(Deserialize)]
pub struct NewNote {
    stage: String,
    lane: String,
    persona: Option<String>,
    hypothesis: String,
    #[serde(default)]
    owner: String,
    status: Option<String>,
    back: Option<String>,
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub async fn add_note(State(app): State<Arc<App>>, headers: HeaderMap, Form(n): Form<NewNote>) -> Response {
    if !signed_in(&app, &headers) {
        return ApiError::new(ErrorCode::Unauthorized, "sign in first").into_response();
    }
    if !same_origin(&headers) {
        return ApiError::new(ErrorCode::Forbidden, "a form from another site").into_response();
    }
    let status = match n.status.as_deref() {
        None | Some("") => NoteStatus::Open,
        Some(s) => match NoteStatus::parse(s) {
            Some(s) => s,
            None => {
                return ApiError::new(ErrorCode::InvalidQuery, format!("status: unknown status '{s}'")).into_response();
            }
        },
    };
    if n.hypothesis.trim().is_empty() || n.stage.trim().is_empty() || n.lane.trim().is_empty() {
        return ApiError::new(ErrorCode::InvalidQuery, "a note needs a stage, a lane and some text").into_response();
    }
    let cell = CellRef { stage: n.stage, lane: n.lane, persona: n.persona.filter(|p| !p.is_empty()) };
    let back = local(n.back.as_deref().unwrap_or("/")).to_string();
    let dir = app.data.clone();
    let lock = app.notes.clone();
    let res = tokio::task::spawn_blocking(move || {
        let _guard = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        notes::add(&dir, cell, n.hypothesis.trim(), n.owner.trim(), status, &now())
    })
    .await;
    match res {
        Ok(Ok(_)) => Redirect::to(&back).into_response(),
        Ok(Err(e)) => ApiError::new(e.code(), e.to_string()).into_response(),
        Err(e) => ApiError::new(ErrorCode::Internal, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
pub struct NoteChange {
    action: String,
    status: Option<String>,
    back: Option<String>,
}

pub async fn change_note(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<u64>,
    Form(c): Form<NoteChange>,
) -> Response {
    if !signed_in(&app, &headers) {
        return ApiError::new(ErrorCode::Unauthorized, "sign in first").into_response();
    }
    if !same_origin(&headers) {
        return ApiError::new(ErrorCode::Forbidden, "a form from another site").into_response();
    }
    let back = local(c.back.as_deref().unwrap_or("/")).to_string();
    let status = match (c.action.as_str(), c.status.as_deref().and_then(NoteStatus::parse)) {
        ("delete", _) => None,
        ("status", Some(s)) => Some(s),
        _ => {
            return ApiError::new(
                ErrorCode::InvalidQuery,
                "action: expected 'status' with a valid status, or 'delete'",
            )
            .into_response();
        }
    };
    let dir = app.data.clone();
    let lock = app.notes.clone();
    let res = tokio::task::spawn_blocking(move || {
        let _guard = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match status {
            Some(s) => notes::set_status(&dir, id, s, &now()),
            None => notes::delete(&dir, id),
        }
    })
    .await;
    match res {
        Ok(Ok(true)) => Redirect::to(&back).into_response(),
        Ok(Ok(false)) => ApiError::new(ErrorCode::NotFound, format!("no note {id}")).into_response(),
        Ok(Err(e)) => ApiError::new(e.code(), e.to_string()).into_response(),
        Err(e) => ApiError::new(ErrorCode::Internal, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
pub struct NewAnnotation {
    date: String,
    text: String,
    back: Option<String>,
}

/// Adds a dated annotation from the "What changed" page (`POST /annotations`).
pub async fn add_annotation(State(app): State<Arc<App>>, headers: HeaderMap, Form(a): Form<NewAnnotation>) -> Response {
    if !signed_in(&app, &headers) {
        return ApiError::new(ErrorCode::Unauthorized, "sign in first").into_response();
    }
    if !same_origin(&headers) {
        return ApiError::new(ErrorCode::Forbidden, "a form from another site").into_response();
    }
    let at = match wayfarer_core::time::parse_date_arg(a.date.trim()) {
        Ok(t) => wayfarer_core::time::format_rfc3339(t),
        Err(e) => return ApiError::new(ErrorCode::InvalidQuery, format!("date '{}': {e}", a.date)).into_response(),
    };
    let back = local(a.back.as_deref().unwrap_or("/changes")).to_string();
    let dir = app.data.clone();
    let lock = app.notes.clone();
    let res = tokio::task::spawn_blocking(move || {
        let _guard = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        wayfarer_store::annotations::add(&dir, &at, &a.text, &now())
    })
    .await;
    match res {
        Ok(Ok(_)) => Redirect::to(&back).into_response(),
        Ok(Err(e)) => ApiError::new(e.code(), e.to_string()).into_response(),
        Err(e) => ApiError::new(ErrorCode::Internal, e.to_string()).into_response(),
    }
}

/// Runs an edit of the notes file on a blocking thread under the notes
/// lock, then sends the browser back; a refusal is the store's error.
async fn edit_notes<T: Send + 'static>(
    app: &Arc<App>,
    back: String,
    edit: impl FnOnce(&std::path::Path) -> Result<T, wayfarer_store::StoreError> + Send + 'static,
) -> Response {
    let dir = app.data.clone();
    let lock = app.notes.clone();
    let res = tokio::task::spawn_blocking(move || {
        let _guard = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        edit(&dir)
    })
    .await;
    match res {
        Ok(Ok(_)) => Redirect::to(&back).into_response(),
        Ok(Err(e)) => ApiError::new(e.code(), e.to_string()).into_response(),
        Err(e) => ApiError::new(ErrorCode::Internal, e.to_string()).into_response(),
    }
}

/// A form may change the team's notes: signed in, from this site.
fn may_edit(app: &App, headers: &HeaderMap) -> Option<Response> {
    if !signed_in(app, headers) {
        return Some(ApiError::new(ErrorCode::Unauthorized, "sign in first").into_response());
    }
    if !same_origin(headers) {
        return Some(ApiError::new(ErrorCode::Forbidden, "a form from another site").into_response());
    }
    None
}

#[derive(Deserialize)]
pub struct PlanForm {
    effort: String,
    #[serde(default)]
    owner: String,
    back: Option<String>,
}

/// Sets an opportunity's effort and owner (`POST /opportunities/{id}`; an
/// empty effort forgets the plan).
pub async fn plan_opportunity(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<PlanForm>,
) -> Response {
    if let Some(r) = may_edit(&app, &headers) {
        return r;
    }
    let plan = match f.effort.trim() {
        "" => None,
        e => match e.parse::<u8>() {
            Ok(effort) if effort <= 5 => {
                Some(wayfarer_store::notes::Plan { effort, owner: f.owner.trim().to_string(), updated_at: now() })
            }
            _ => {
                return ApiError::new(
                    ErrorCode::InvalidQuery,
                    format!("effort '{e}': from 0 (trivial) to 5 (a project)"),
                )
                .into_response();
            }
        },
    };
    let back = local(f.back.as_deref().unwrap_or("/opportunities")).to_string();
    edit_notes(&app, back, move |dir| wayfarer_store::notes::set_plan(dir, &id, plan)).await
}

#[derive(Deserialize)]
pub struct TargetForm {
    stage: String,
    persona: Option<String>,
    metric: String,
    op: String,
    value: String,
    #[serde(default)]
    owner: String,
    back: Option<String>,
}

/// Adds a KPI target (`POST /targets`).
pub async fn add_target(State(app): State<Arc<App>>, headers: HeaderMap, Form(f): Form<TargetForm>) -> Response {
    if let Some(r) = may_edit(&app, &headers) {
        return r;
    }
    if !app.stage_names.contains(&f.stage) {
        let hint = wayfarer_core::suggest::hint(&f.stage, &app.stage_names);
        return ApiError::new(ErrorCode::InvalidQuery, format!("stage '{}': no such stage{hint}", f.stage))
            .into_response();
    }
    let value = match wayfarer_engine::journey::plans::parse_target_value(&f.metric, &f.value) {
        Ok(v) => v,
        Err(e) => return ApiError::new(ErrorCode::InvalidQuery, format!("value: {e}")).into_response(),
    };
    let target = wayfarer_store::notes::Target {
        id: 0,
        stage: f.stage,
        persona: f.persona.filter(|p| !p.is_empty()),
        metric: f.metric,
        op: f.op,
        value,
        owner: f.owner.trim().to_string(),
        created_at: now(),
    };
    let back = local(f.back.as_deref().unwrap_or("/opportunities")).to_string();
    edit_notes(&app, back, move |dir| wayfarer_store::notes::add_target(dir, target)).await
}

#[derive(Deserialize)]
pub struct TargetDelete {
    back: Option<String>,
}

/// Deletes a KPI target (`POST /targets/{id}`).
pub async fn delete_target(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<u64>,
    Form(f): Form<TargetDelete>,
) -> Response {
    if let Some(r) = may_edit(&app, &headers) {
        return r;
    }
    let back = local(f.back.as_deref().unwrap_or("/opportunities")).to_string();
    edit_notes(&app, back, move |dir| {
        if wayfarer_store::notes::delete_target(dir, id)? {
            Ok(())
        } else {
            Err(wayfarer_store::StoreError::Invalid(format!("no target {id}")))
        }
    })
    .await
}

/// The annotations as JSON (`GET /api/annotations`).
pub async fn list_annotations(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<axum::Json<Vec<wayfarer_store::annotations::Annotation>>, ApiError> {
    crate::require_read(&app, &headers)?;
    wayfarer_store::annotations::list(&app.data).map(axum::Json).map_err(|e| ApiError::new(e.code(), e.to_string()))
}

/// The notes as JSON (`GET /api/notes`).
pub async fn list_notes(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<axum::Json<Vec<notes::Note>>, ApiError> {
    crate::require_read(&app, &headers)?;
    notes::list(&app.data).map(axum::Json).map_err(|e| ApiError::new(e.code(), e.to_string()))
}

fn html(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_the_bearer_header_or_the_cookie() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; wayfarer_token=wfr_abc; b=2"));
        assert_eq!(token(&h).as_deref(), Some("wfr_abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer wfr_xyz"));
        assert_eq!(token(&h).as_deref(), Some("wfr_xyz"));
        assert_eq!(token(&HeaderMap::new()), None);
    }

    #[test]
    fn redirects_stay_on_this_server() {
        assert_eq!(local("/funnels?step=a"), "/funnels?step=a");
        assert_eq!(local("https://evil.example/"), "/");
        assert_eq!(local("//evil.example/"), "/");
        assert_eq!(local("/\\evil.example"), "/");
        assert_eq!(local("/\t/evil.example"), "/");
        assert_eq!(local("/ok?next=a b"), "/");
    }

    #[test]
    fn forms_from_other_sites_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&h), "no Origin: not a cross-site browser form");
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:9999"));
        assert!(!same_origin(&h));
    }
}
