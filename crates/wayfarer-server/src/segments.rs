//! `/api/segments`: saved segments over HTTP. A read token (or an admin
//! token) lists them, shows one and its members; only an admin token
//! creates, replaces or deletes one, since segments decide who is acted on.
//! Each handler checks the key and runs the CLI's `segments` command on
//! the query executor; the JSON is what `--json` prints.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;
use wayfarer_core::ErrorCode;

use crate::error::ApiError;
use crate::keys::KeyKind;
use crate::{App, dashboard, query};

/// `GET /api/segments`: every segment with its size.
pub async fn list(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    crate::require_read(&app, &headers)?;
    query::run(&app, "segments list".into(), Vec::new()).await
}

/// `GET /api/segments/{name}`: the definition, size and stages.
pub async fn show(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    crate::require_read(&app, &headers)?;
    query::run(&app, "segments show".into(), vec![("name".into(), name)]).await
}

/// `GET /api/segments/{name}/members`: every member.
pub async fn members(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    crate::require_read(&app, &headers)?;
    query::run(&app, "segments members".into(), vec![("name".into(), name)]).await
}

/// `GET /api/segments/{name}/changes?since=DATE&customer=ID`: entries and
/// exits recorded after each commit.
pub async fn changes(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    axum::extract::Query(params): axum::extract::Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    crate::require_read(&app, &headers)?;
    let mut args = vec![("name".to_string(), name)];
    for (k, v) in params {
        if !matches!(k.as_str(), "since" | "customer") {
            return Err(ApiError::new(ErrorCode::InvalidQuery, format!("unknown parameter '{k}' (since, customer)")));
        }
        args.push((k, v));
    }
    query::run(&app, "segments changes".into(), args).await
}

/// The body of `POST /api/segments`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSegment {
    pub name: String,
    /// The condition (the CLI's `--where`).
    pub condition: String,
    #[serde(default)]
    pub description: String,
    /// Replace a segment of the same name.
    #[serde(default)]
    pub replace: bool,
}

/// `POST /api/segments` (admin token): saves a segment, checked against
/// the data first; answers with it and its size.
pub async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Json<NewSegment>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&app, &headers)?;
    let Json(s) = body.map_err(|e| ApiError::new(ErrorCode::InvalidJson, e.body_text()))?;
    let mut params =
        vec![("name".into(), s.name), ("where".into(), s.condition), ("description".into(), s.description)];
    if s.replace {
        params.push(("replace".into(), "true".into()));
    }
    query::run(&app, "segments create".into(), params).await
}

/// `DELETE /api/segments/{name}` (admin token).
pub async fn delete(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    require_admin(&app, &headers)?;
    query::run(&app, "segments delete".into(), vec![("name".into(), name)]).await
}

/// The presented token must be an admin token.
pub fn require_admin(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = dashboard::token(headers) else {
        return Err(ApiError::new(ErrorCode::Unauthorized, "no admin token: send 'Authorization: Bearer <token>'"));
    };
    app.keys.require(&token, KeyKind::Admin)
}

/// `GET /api/segment-preview?where=CONDITION`: how many customers a
/// condition would hold (the Segments page's live count), or the error
/// naming its column.
pub async fn preview(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    axum::extract::Query(params): axum::extract::Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    crate::require_read(&app, &headers)?;
    let Some((_, condition)) = params.into_iter().find(|(k, _)| k == "where") else {
        return Err(ApiError::new(ErrorCode::InvalidQuery, "where: the condition is missing"));
    };
    query::run(&app, "segments count".into(), vec![("where".into(), condition)]).await
}

/// The form of the Segments page.
#[derive(Debug, Deserialize)]
pub struct SegmentFormData {
    pub name: String,
    pub condition: String,
    #[serde(default)]
    pub description: String,
}

/// `POST /segments` (the dashboard's form, an admin token): saves the
/// segment and shows it; a refusal shows the form again with the reason.
pub async fn create_form(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<SegmentFormData>,
) -> axum::response::Response {
    use axum::response::{IntoResponse, Redirect};
    if !crate::dashboard::same_origin(&headers) {
        return ApiError::new(ErrorCode::Forbidden, "a form from another site").into_response();
    }
    let again = |error: &str| {
        let q = [
            ("name", f.name.as_str()),
            ("condition", f.condition.as_str()),
            ("description", f.description.as_str()),
            ("error", error),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={}", wayfarer_core::url::percent_encode(v, true)))
        .collect::<Vec<_>>()
        .join("&");
        Redirect::to(&format!("/segments?{q}#new-segment")).into_response()
    };
    if let Err(e) = require_admin(&app, &headers) {
        return again(&format!(
            "{} Sign in with an admin token (wayfarer keys create --admin) to save segments.",
            e.message
        ));
    }
    let params = vec![
        ("name".into(), f.name.clone()),
        ("where".into(), f.condition.clone()),
        ("description".into(), f.description.clone()),
    ];
    match query::run(&app, "segments create".into(), params).await {
        Ok(_) => {
            Redirect::to(&format!("/segments/{}", wayfarer_core::url::percent_encode(&f.name, false))).into_response()
        }
        Err(e) => again(&e.message),
    }
}

/// `POST /segments/{name}/delete` (an admin token).
pub async fn delete_form(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> axum::response::Response {
    use axum::response::{IntoResponse, Redirect};
    if !crate::dashboard::same_origin(&headers) {
        return ApiError::new(ErrorCode::Forbidden, "a form from another site").into_response();
    }
    if let Err(e) = require_admin(&app, &headers) {
        return e.into_response();
    }
    match query::run(&app, "segments delete".into(), vec![("name".into(), name)]).await {
        Ok(_) => Redirect::to("/segments").into_response(),
        Err(e) => e.into_response(),
    }
}
