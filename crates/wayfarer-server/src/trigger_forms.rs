//! The Triggers page's forms: save a trigger's definition (`POST
//! /triggers`), pause and resume one (`POST /triggers/{name}/pause|resume`).
//! Only an admin token changes triggers, since they act on customers; each
//! handler runs the CLI's `triggers save|pause|resume` on the query
//! executor (which checks the result against the data and writes
//! `triggers.toml` atomically) and goes back to the page, with the reason
//! when it was refused.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use wayfarer_core::ErrorCode;
use wayfarer_core::url::percent_encode;

use crate::error::ApiError;
use crate::segments::require_admin;
use crate::{App, query};

#[derive(Debug, Deserialize)]
pub struct TriggerFormData {
    /// The trigger being edited (empty: a new one).
    #[serde(default)]
    pub original: String,
    pub definition: String,
}

fn back(params: &[(&str, &str)], anchor: &str) -> Response {
    let q: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", percent_encode(v, true))).collect();
    Redirect::to(&format!("/triggers?{}{anchor}", q.join("&"))).into_response()
}

/// `POST /triggers` (an admin token): saves the definition and shows the
/// list; a refusal shows the editor again with the text and the reason.
pub async fn save(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<TriggerFormData>,
) -> Response {
    if !crate::dashboard::same_origin(&headers) {
        return ApiError::new(ErrorCode::Forbidden, "a form from another site").into_response();
    }
    let again = |error: &str| {
        let which = if f.original.trim().is_empty() { ("new", "1") } else { ("edit", f.original.as_str()) };
        back(&[which, ("definition", &f.definition), ("error", error)], "#editor")
    };
    if let Err(e) = require_admin(&app, &headers) {
        return again(&format!(
            "{} Sign in with an admin token (wayfarer keys create --admin) to change triggers.",
            e.message
        ));
    }
    let mut params = vec![("definition".to_string(), f.definition.clone())];
    if !f.original.trim().is_empty() {
        params.push(("name".to_string(), f.original.clone()));
    }
    match query::run(&app, "triggers save".into(), params).await {
        Ok(v) => back(&[("saved", v["trigger"].as_str().unwrap_or_default())], ""),
        Err(e) => again(&e.message),
    }
}

/// `POST /triggers/{name}/pause` and `/resume` (an admin token).
pub async fn pause_or_resume(
    State(app): State<Arc<App>>,
    Path((name, what)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !crate::dashboard::same_origin(&headers) {
        return ApiError::new(ErrorCode::Forbidden, "a form from another site").into_response();
    }
    let (command, done) = match what.as_str() {
        "pause" => ("triggers pause", "paused"),
        "resume" => ("triggers resume", "resumed"),
        _ => {
            return ApiError::new(ErrorCode::NotFound, format!("no action '{what}' (pause or resume)")).into_response();
        }
    };
    if let Err(e) = require_admin(&app, &headers) {
        return back(
            &[("error_notice", &format!("{} Sign in with an admin token to change triggers.", e.message))],
            "",
        );
    }
    match query::run(&app, command.into(), vec![("name".to_string(), name)]).await {
        Ok(v) => back(&[(done, v["trigger"].as_str().unwrap_or_default())], ""),
        Err(e) => back(&[("error_notice", &e.message)], ""),
    }
}
