//! Links that reach customers (DESIGN §10). Hosted surveys: `GET /s/{token}` asks the token's question
//! (NPS, CSAT or CES, with an optional comment), `POST /s/{token}` takes
//! the answer. The token is the only credential: HMAC-signed over the
//! customer, the survey and its expiry (`wayfarer_store::tokens`), so a
//! forged or altered one is refused, an expired one is closed, and each
//! token takes one answer (a second sees "already answered"). The answer
//! goes through the durable ingest path as a `Survey Responded` track
//! event (survey, score, text), so it is in the surveys and the map's
//! emotion lane after the next commit. Unsubscribe links: `GET /u/{token}`
//! asks to confirm (so a mail scanner following links unsubscribes no
//! one), `POST /u/{token}` (also RFC 8058's one-click) records an
//! `Unsubscribed` event the same durable way, after which triggers send
//! that customer no email. Referral links: `GET /r/{code}` records a
//! `Referral Link Clicked` (referrer, code) for the new visitor and
//! redirects to the configured landing page with `ref=CODE`; an order or
//! sign-up that carries `referral_code` adds a `Referral Converted` event
//! to the referrer's timeline in the same durable append
//! ([`referral_conversions`]), which counts toward Advocacy.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use wayfarer_core::Kind;
use wayfarer_render::survey::{self, SurveyState};
use wayfarer_store::tokens::{self, SurveyToken};

use crate::App;
use crate::ingest::Endpoint;

/// The file of answered tokens (their occurrence ids), one per line.
const ANSWERED: &str = "answered.txt";
const DIR: &str = "surveys";

/// The answered tokens, read at start.
pub fn answered(data: &std::path::Path) -> HashSet<String> {
    std::fs::read_to_string(data.join(DIR).join(ANSWERED))
        .map(|t| t.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

fn html(status: StatusCode, state: &SurveyState<'_>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
        survey::page(state),
    )
        .into_response()
}

/// The token's survey, or the page that says why there is none.
fn check(app: &App, token: &str) -> Result<SurveyToken, Box<Response>> {
    let Ok(t) = tokens::verify::<SurveyToken>(&app.secret, "s", token) else {
        return Err(Box::new(html(StatusCode::FORBIDDEN, &SurveyState::Invalid)));
    };
    if survey::scale(&t.k).is_none() {
        return Err(Box::new(html(StatusCode::FORBIDDEN, &SurveyState::Invalid)));
    }
    if t.e < app.clock.now_us() / 1_000_000 {
        return Err(Box::new(html(StatusCode::GONE, &SurveyState::Expired)));
    }
    Ok(t)
}

pub async fn show(State(app): State<Arc<App>>, Path(token): Path<String>) -> Response {
    let t = match check(&app, &token) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    if app.answered.lock().await.contains(&t.o) {
        return html(StatusCode::OK, &SurveyState::AlreadyAnswered);
    }
    html(StatusCode::OK, &SurveyState::Ask { kind: &t.k, error: None, comment: "" })
}

#[derive(Debug, Deserialize)]
pub struct Answer {
    score: Option<String>,
    #[serde(default)]
    comment: String,
}

pub async fn answer(State(app): State<Arc<App>>, Path(token): Path<String>, Form(a): Form<Answer>) -> Response {
    let t = match check(&app, &token) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let Some((_, range, _, _)) = survey::scale(&t.k) else { return html(StatusCode::FORBIDDEN, &SurveyState::Invalid) };
    let comment: String = a.comment.trim().chars().take(2000).collect();
    let score = a.score.as_deref().and_then(|s| s.trim().parse::<u8>().ok()).filter(|s| range.contains(s));
    let Some(score) = score else {
        let error = format!("Choose a score from {} to {}.", range.start(), range.end());
        return html(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SurveyState::Ask { kind: &t.k, error: Some(&error), comment: &comment },
        );
    };
    // One answer per token: checked, stored and marked under one lock.
    let mut answered = app.answered.lock().await;
    if answered.contains(&t.o) {
        return html(StatusCode::OK, &SurveyState::AlreadyAnswered);
    }
    let mut properties = json!({"survey": t.k, "score": score, "survey_name": t.n, "via": "hosted survey"});
    if !comment.is_empty() {
        properties["text"] = Value::String(comment);
    }
    if let Err(e) = record(&app, &t.c, t.u, "Survey Responded", format!("survey-{}", t.o), properties).await {
        eprintln!("wayfarer: a hosted survey answer could not be stored: {e}");
        let error = "Your answer could not be saved just now; please try again in a minute.";
        return html(
            StatusCode::SERVICE_UNAVAILABLE,
            &SurveyState::Ask { kind: &t.k, error: Some(error), comment: "" },
        );
    }
    // Durable now; remember the token (a crash before this line lets the
    // token answer again, and the same message id keeps one answer).
    let dir = app.data.join(DIR);
    let line = format!("{}\n", t.o).into_bytes();
    let marked = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        wayfarer_store::manifest::append_durable(&dir.join(ANSWERED), line).map_err(|e| e.to_string())
    })
    .await;
    if !matches!(marked, Ok(Ok(()))) {
        eprintln!("wayfarer: a hosted survey's token could not be marked answered");
    }
    answered.insert(t.o);
    html(StatusCode::OK, &SurveyState::Thanks)
}

/// Stores one track event for a token's customer through the durable
/// ingest path.
async fn record(
    app: &App,
    customer: &str,
    user: bool,
    event: &str,
    id: String,
    properties: Value,
) -> Result<(), String> {
    let now = app.clock.now_us();
    let who = if user { "userId" } else { "anonymousId" };
    let message = json!({
        "type": "track",
        "event": event,
        who: customer,
        "messageId": id,
        "timestamp": wayfarer_core::time::format_rfc3339(now),
        "properties": properties,
    });
    let Value::Object(obj) = message else { return Err("not an object".into()) };
    let (events, _) = wayfarer_ingest::segment::decode_messages(&app.decoder, Endpoint::Single(Kind::Track), obj, now)
        .map_err(|r| r.message)?;
    let n = events.len() as u64;
    app.pipeline.append(wayfarer_store::staging::encode_payload(&events), n).await
}

fn unsubscribe_html(status: StatusCode, state: survey::Unsubscribe) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
        survey::unsubscribe_page(state),
    )
        .into_response()
}

pub async fn unsubscribe_show(State(app): State<Arc<App>>, Path(token): Path<String>) -> Response {
    match tokens::verify::<tokens::UnsubscribeToken>(&app.secret, "u", &token) {
        Ok(_) => unsubscribe_html(StatusCode::OK, survey::Unsubscribe::Confirm),
        Err(_) => unsubscribe_html(StatusCode::FORBIDDEN, survey::Unsubscribe::Invalid),
    }
}

pub async fn unsubscribe(State(app): State<Arc<App>>, Path(token): Path<String>) -> Response {
    let Ok(t) = tokens::verify::<tokens::UnsubscribeToken>(&app.secret, "u", &token) else {
        return unsubscribe_html(StatusCode::FORBIDDEN, survey::Unsubscribe::Invalid);
    };
    // One Unsubscribed event per customer, however often the link is used.
    let id = format!("unsubscribe-{}-{}", if t.u { "u" } else { "a" }, t.c);
    match record(&app, &t.c, t.u, "Unsubscribed", id, json!({"via": "unsubscribe link"})).await {
        Ok(()) => unsubscribe_html(StatusCode::OK, survey::Unsubscribe::Done),
        Err(e) => {
            eprintln!("wayfarer: an unsubscribe could not be stored: {e}");
            unsubscribe_html(StatusCode::SERVICE_UNAVAILABLE, survey::Unsubscribe::Confirm)
        }
    }
}

/// The registered referral codes, re-read when the file changes.
#[derive(Debug, Default)]
pub struct Codes {
    seen: Option<(std::time::SystemTime, u64)>,
    codes: std::collections::HashMap<String, wayfarer_store::referrals::Code>,
}

fn referrer(app: &App, code: &str) -> Option<wayfarer_store::referrals::Code> {
    let path = app.data.join("referrals").join("codes.ndjson");
    let stamp = std::fs::metadata(&path).ok().map(|m| (m.modified().unwrap_or(std::time::UNIX_EPOCH), m.len()));
    let mut codes = app.referral_codes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if codes.seen != stamp {
        codes.codes = wayfarer_store::referrals::load(&app.data).unwrap_or_default();
        codes.seen = stamp;
    }
    codes.codes.get(code).cloned()
}

/// Orders (`Order Completed` or the configuration's purchase event) and
/// sign-ups that carry a known `referral_code` (as a property):
/// a `Referral Converted` event for the referrer each (not for referring
/// oneself), its id derived from the order's so a retried request adds
/// nothing twice.
pub fn referral_conversions(app: &App, events: &[wayfarer_core::Event]) -> Vec<wayfarer_core::Event> {
    let mut out = Vec::new();
    for e in events {
        let converts = matches!(e.event.as_str(), "Order Completed" | "Signed Up") || e.event == app.purchase_event;
        if !converts || !e.properties.contains("referral_code") {
            continue;
        }
        let Ok(Value::Object(p)) = serde_json::from_str::<Value>(&e.properties) else { continue };
        let Some(code) = p.get("referral_code").and_then(Value::as_str).map(|c| c.trim().to_ascii_uppercase()) else {
            continue;
        };
        let Some(r) = referrer(app, &code) else { continue };
        let referred = e.user_id.as_deref().or(e.anonymous_id.as_deref()).unwrap_or("");
        if referred == r.customer {
            continue;
        }
        let mut c =
            wayfarer_core::Event::new(format!("referral-converted-{}", e.event_id), e.timestamp, "Referral Converted");
        c.received_at = e.received_at;
        if r.user {
            c.user_id = Some(r.customer.clone());
        } else {
            c.anonymous_id = Some(r.customer.clone());
        }
        c.properties = json!({
            "referred": referred,
            "referral_code": code,
            "converted_by": e.event,
            "order_revenue": e.revenue,
        })
        .to_string();
        out.push(c);
    }
    out
}

fn not_a_referral() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        survey::page(&SurveyState::Invalid).replace("Not a survey link", "Not a referral link"),
    )
        .into_response()
}

pub async fn referral(State(app): State<Arc<App>>, Path(code): Path<String>) -> Response {
    let code = code.trim().to_ascii_uppercase();
    let Some(r) = referrer(&app, &code) else { return not_a_referral() };
    let landing = std::fs::read_to_string(app.data.join(wayfarer_core::triggers::FILE))
        .ok()
        .and_then(|t| wayfarer_core::triggers::read_file(&t).ok())
        .and_then(|f| f.referrals)
        .map(|r| r.landing_url);
    let Some(landing) = landing else { return not_a_referral() };
    let mut bytes = [0u8; 12];
    if getrandom::fill(&mut bytes).is_err() {
        return not_a_referral();
    }
    let visitor: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let clicked = json!({"referrer": r.customer, "referral_code": code});
    if let Err(e) = record(
        &app,
        &format!("ref-{visitor}"),
        false,
        "Referral Link Clicked",
        format!("referral-click-{visitor}"),
        clicked,
    )
    .await
    {
        eprintln!("wayfarer: a referral click could not be stored: {e}");
    }
    let sep = if landing.contains('?') { '&' } else { '?' };
    let to = format!("{landing}{sep}ref={code}");
    (StatusCode::FOUND, [(header::LOCATION, to.as_str()), (header::CACHE_CONTROL, "no-store")]).into_response()
}
