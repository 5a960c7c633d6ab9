//! `POST /api/sql`: a read-only SQL query over the events (DataFusion, the
//! `sql` feature), with a row limit and the query timeout, run on the query
//! pool like every query. The body is
//! `{"sql": "...", "limit": N}` or the SQL itself as text.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::Value;
use wayfarer_core::ErrorCode;

use crate::App;
use crate::error::ApiError;

/// Rows returned when the request names no limit, and the most it may ask for.
pub const DEFAULT_ROWS: usize = 10_000;
pub const MAX_ROWS: usize = 100_000;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest request body (a query, not data).
const BODY_LIMIT: usize = 256 * 1024;

pub async fn handle(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Result<Json<Value>, ApiError> {
    crate::require_read(&app, &headers)?;
    let body = crate::net::read_body(body, BODY_LIMIT, app.client_timeout, "the query").await?;
    let (sql, limit) = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(o)) => {
            let sql = o.get("sql").or_else(|| o.get("query")).and_then(Value::as_str).map(str::to_string);
            let Some(sql) = sql else {
                return Err(ApiError::new(ErrorCode::MissingField, "sql: missing: send {\"sql\": \"SELECT …\"}"));
            };
            let limit =
                match o.get("limit") {
                    None | Some(Value::Null) => DEFAULT_ROWS,
                    Some(v) => v.as_u64().filter(|n| *n > 0 && *n as usize <= MAX_ROWS).ok_or_else(|| {
                        ApiError::new(ErrorCode::InvalidField, format!("limit: expected 1–{MAX_ROWS}"))
                    })? as usize,
                };
            (sql, limit)
        }
        _ => (String::from_utf8_lossy(&body).trim().to_string(), DEFAULT_ROWS),
    };
    if sql.is_empty() {
        return Err(ApiError::new(ErrorCode::MissingField, "sql: missing: the body is empty"));
    }
    let timeout = app.queries.as_ref().map_or(DEFAULT_TIMEOUT, |q| q.timeout);
    let started = Instant::now();
    let result = run(&app, &sql, limit, timeout).await;
    app.metrics.query.observe(started.elapsed());
    result.map(Json)
}

/// Runs the query like every other: in a slot of the query pool (not on
/// the threads that serve ingestion), on a runtime of its own, stopped when
/// its token is cancelled.
#[cfg(feature = "sql")]
async fn run(app: &App, sql: &str, limit: usize, timeout: Duration) -> Result<Value, ApiError> {
    use wayfarer_sql::SqlError;
    let (dir, sql) = (app.data.clone(), sql.to_string());
    let answer = app
        .exec
        .run(timeout, move |job| {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            let cancel = job.cancel().clone();
            rt.block_on(async move {
                tokio::select! {
                    r = wayfarer_sql::query(&dir, &sql, limit) => Ok(Some(r)),
                    () = async {
                        while !cancel.is_cancelled() {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    } => Ok(None),
                }
            })
        })
        .await?
        .map_err(|e: String| ApiError::new(ErrorCode::Internal, e))?;
    match answer {
        None => Err(ApiError::new(ErrorCode::QueryTimeout, "the query was stopped")),
        Some(Err(SqlError::Query(m))) => Err(ApiError::new(ErrorCode::InvalidQuery, m)),
        Some(Err(SqlError::Empty)) => Err(ApiError::new(ErrorCode::NotFound, "the data directory has no events yet")),
        Some(Err(SqlError::Store(e))) => Err(ApiError::new(e.code(), e.to_string())),
        Some(Ok(r)) => serde_json::to_value(r).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string())),
    }
}

#[cfg(not(feature = "sql"))]
async fn run(_: &App, _: &str, _: usize, _: Duration) -> Result<Value, ApiError> {
    Err(ApiError::new(
        ErrorCode::NotFound,
        "this build of Wayfarer has no SQL; build it with `cargo build --release --features sql`",
    ))
}
