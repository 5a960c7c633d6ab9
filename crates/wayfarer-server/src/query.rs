//! The query API: `GET /api/{command}?…` answers with exactly the JSON that
//! `wayfarer <command> --json` prints — the binary hands the server a
//! runner that parses the query parameters as the command's flags (same
//! names, same validation) and captures the command's JSON. Read tokens
//! only; every query runs on a blocking thread with a timeout.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde_json::Value;
use wayfarer_core::ErrorCode;

use crate::App;
use crate::error::ApiError;
use crate::exec::Job;

/// What a parameter's value is, as the flag's definition says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Text,
    /// A whole number (a counted flag: `--top`, `--periods`).
    Integer,
    Number,
    /// A date or date-time (`--from 2026-05-01`).
    Date,
    /// An event name or glob (`--from-event`, funnel steps).
    Event,
    /// A switch: `true` or `false`.
    Switch,
}

/// One query parameter (a flag of the command).
#[derive(Debug, Clone)]
pub struct QueryParam {
    pub name: String,
    pub help: String,
    pub required: bool,
    /// May be given several times (`?step=A&step=B`).
    pub repeated: bool,
    /// A switch: `true` or `false`.
    pub flag: bool,
    pub kind: ParamKind,
    /// The allowed values, when there is a fixed list.
    pub values: Vec<String>,
    pub default: Option<String>,
}

/// One command of the query API.
#[derive(Debug, Clone)]
pub struct QueryCommand {
    pub name: String,
    pub summary: String,
    pub params: Vec<QueryParam>,
}

/// Runs a command with its query parameters on the job's pool; returns its
/// JSON. Stops with an error once the job is cancelled.
pub type Runner = Arc<dyn Fn(&str, &[(String, String)], &Job) -> Result<Value, ApiError> + Send + Sync>;

/// What the binary gives the server so it can answer queries.
#[derive(Clone)]
pub struct QueryApi {
    pub commands: Vec<QueryCommand>,
    /// Commands the runner also serves, as MCP tools only (`segments
    /// list`…; over HTTP they have their own routes).
    pub more: Vec<QueryCommand>,
    pub run: Runner,
    pub timeout: Duration,
}

impl std::fmt::Debug for QueryApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryApi").field("commands", &self.commands.len()).field("timeout", &self.timeout).finish()
    }
}

pub async fn handle(
    State(app): State<Arc<App>>,
    Path(command): Path<String>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    crate::require_read(&app, &headers)?;
    let Some(api) = app.queries.clone() else {
        return Err(ApiError::new(ErrorCode::NotFound, "this server has no query API"));
    };
    if !api.commands.iter().any(|c| c.name == command) {
        let names: Vec<&str> = api.commands.iter().map(|c| c.name.as_str()).collect();
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("no query '{command}'; there are: {}", names.join(", ")),
        ));
    }
    run(&app, command, params).await
}

/// Runs a command (`funnel`, `segments list`…) on the query executor, under
/// its timeout, after the caller checked the key.
pub async fn run(app: &App, command: String, params: Vec<(String, String)>) -> Result<Json<Value>, ApiError> {
    let Some(api) = app.queries.clone() else {
        return Err(ApiError::new(ErrorCode::NotFound, "this server has no query API"));
    };
    let started = Instant::now();
    let run = api.run.clone();
    let result = app.exec.run(api.timeout, move |job| run(&command, &params, job)).await.and_then(|r| r);
    app.metrics.query.observe(started.elapsed());
    app.metrics.queries.fetch_add(1, Ordering::Relaxed);
    result.map(Json)
}
