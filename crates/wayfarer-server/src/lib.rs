//! `wayfarer serve`: the HTTP server (DESIGN §5–6).
//!
//! ```text
//!  /v1/* (write key) ─> ingest: auth, limits, gunzip, decode every message
//!        ─> pipeline: staging append + group fsync ─> {"success": true}
//!        ─> folder: staging ─> Writer commit ─> visible to queries
//!  /api/{command} (read token) ─> the binary's runner: the command's flags
//!        from the query string, its `--json` answer (query pool, timeout,
//!        cancellation: [`exec`])
//!  /mcp (the same commands as MCP tools, Streamable HTTP, read token)
//!  /api/openapi.json (generated from the flag definitions), /healthz (no
//!  auth; the write path's health), /metrics (Prometheus)
//!  /, /funnels, … (read-token cookie; /login sets it) ─> the binary's page
//!        runner: HTML pages and exports; POST /notes ─> DIR/notes.json
//! ```
//!
//! Handlers are thin: they check and translate; the work lives in
//! `wayfarer-ingest` (decoding), `wayfarer-store` (staging, segments) and
//! the pipeline threads. Connections (limits, timeouts, graceful shutdown)
//! and the layers every answer passes are in [`net`]. All state is in
//! [`App`], owned by the router.

pub mod dashboard;
pub mod error;
pub mod exec;
pub mod health;
pub mod ingest;
pub mod keys;
pub mod mcp;
pub mod metrics;
pub mod net;
pub mod openapi;
pub mod pipeline;
pub mod query;
pub mod segments;
pub mod sql;
pub mod surveys;
pub mod trigger_forms;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use wayfarer_core::{Config, ErrorCode, Kind};
use wayfarer_ingest::Decoder;
use wayfarer_ingest::derive::ChannelDeriver;

use crate::dashboard::Pages;
use crate::error::ApiError;
use crate::exec::Executor;
use crate::health::Health;
use crate::ingest::Endpoint;
use crate::keys::KeyRing;
use crate::metrics::Metrics;
use crate::net::Limits;
use crate::pipeline::{Pipeline, Stager};
use crate::query::QueryApi;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub data: PathBuf,
    pub bind: SocketAddr,
    pub config: Config,
    /// How often staged events are folded into the store.
    pub fold_every: Duration,
    /// Free space kept besides twice the staged events (bytes; `None`: 1/32
    /// of the file system, between 1 MB and 256 MB); appends that would
    /// leave less are refused.
    pub disk_reserve: Option<u64>,
    /// Where queries and pages run (their own pool, limits, cancellation).
    pub exec: Arc<Executor>,
    /// The query API (`/api/*`), if the caller provides one.
    pub queries: Option<QueryApi>,
    /// The dashboard pages, if the caller provides them.
    pub pages: Option<Pages>,
    /// Customer profiles by any identity, if the caller provides them.
    pub profiles: Option<ProfileLookup>,
    /// Connection limits and timeouts.
    pub limits: Limits,
    /// The time the server stamps events by (the wall clock, or an
    /// accelerated clock for simulations).
    pub clock: wayfarer_core::time::Clock,
}

/// A customer's profile by any of their ids: `Ok(None)` for an unknown id,
/// `Err` while no profile index exists yet (the reason).
#[derive(Clone)]
pub struct ProfileLookup(pub Arc<LookupFn>);

/// See [`ProfileLookup`].
pub type LookupFn = dyn Fn(&str) -> Result<Option<serde_json::Value>, String> + Send + Sync;

impl std::fmt::Debug for ProfileLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProfileLookup")
    }
}

/// Everything the handlers share.
pub struct App {
    pub data: PathBuf,
    pub keys: KeyRing,
    pub decoder: Decoder,
    pub pipeline: Stager,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    pub exec: Arc<Executor>,
    pub queries: Option<QueryApi>,
    pub pages: Option<Pages>,
    pub profiles: Option<ProfileLookup>,
    /// How long a client may take to send a request body.
    pub client_timeout: Duration,
    /// Serialises edits of `notes.json` and `annotations.json`.
    pub notes: Arc<std::sync::Mutex<()>>,
    /// The data directory's signing secret (survey, unsubscribe and
    /// referral links).
    pub secret: wayfarer_store::tokens::Secret,
    /// Hosted surveys' answered tokens.
    pub answered: tokio::sync::Mutex<std::collections::HashSet<String>>,
    /// Referral codes (re-read when their file changes).
    pub referral_codes: std::sync::Mutex<surveys::Codes>,
    /// See [`ServeOptions::clock`].
    pub clock: wayfarer_core::time::Clock,
    /// The configuration's purchase event (an order carrying a referral
    /// code converts the referral).
    pub purchase_event: String,
    /// The stage model's stage names (KPI targets name one).
    pub stage_names: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] wayfarer_store::StoreError),
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    #[error("channel rules: {0}")]
    Config(String),
    #[error("binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
}

/// A started server: its state and write path (stop it with [`Started::shutdown`]).
pub struct Started {
    pub app: Arc<App>,
    pipeline: Pipeline,
}

impl Started {
    /// Replays staging left by an earlier run and starts the write path.
    pub fn start(opts: &ServeOptions) -> Result<Started, ServeError> {
        let metrics = Arc::new(Metrics::default());
        let health = Arc::new(Health::default());
        let room = pipeline::Room { dir: opts.data.clone(), reserve: opts.disk_reserve };
        let pipeline = Pipeline::start(&opts.data, opts.fold_every, room, metrics.clone(), health.clone())?;
        let channels = ChannelDeriver::new(&opts.config.channels).map_err(ServeError::Config)?;
        let decoder = Decoder::new(channels, opts.clock.now_us())
            .with_limits(wayfarer_ingest::decode::Limits::from_config(&opts.config.ingest), true);
        let app = Arc::new(App {
            data: opts.data.clone(),
            keys: KeyRing::open(&opts.data)?,
            decoder,
            pipeline: pipeline.stager.clone(),
            metrics,
            health,
            exec: opts.exec.clone(),
            queries: opts.queries.clone(),
            pages: opts.pages.clone(),
            profiles: opts.profiles.clone(),
            client_timeout: opts.limits.client_timeout,
            notes: Arc::default(),
            secret: wayfarer_store::tokens::secret(&opts.data)?,
            answered: tokio::sync::Mutex::new(surveys::answered(&opts.data)),
            referral_codes: std::sync::Mutex::default(),
            clock: opts.clock,
            purchase_event: opts.config.journey.purchase_event.clone(),
            stage_names: opts.config.stages.iter().map(|s| s.name.clone()).collect(),
        });
        Ok(Started { app, pipeline })
    }

    pub fn router(&self) -> Router {
        router(self.app.clone())
    }

    /// Folds what is staged and stops the write path.
    pub fn shutdown(self) {
        drop(self.app);
        self.pipeline.shutdown();
    }
}

/// Runs the server until Ctrl-C or SIGTERM; `ready` is told the bound address.
///
/// Shutting down: queries are cancelled, no new connection is accepted,
/// requests in flight get [`Limits::drain`] to finish (idle connections are
/// closed at once), then what is staged is folded and the process can exit.
pub async fn serve(opts: ServeOptions, ready: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    let started = Started::start(&opts)?;
    let listener = net::listen(opts.bind).map_err(|source| ServeError::Bind { addr: opts.bind, source })?;
    // The handlers are in place before anyone learns the address: a
    // SIGTERM sent right after start shuts down gracefully too.
    let signals = Signals::install();
    ready(listener.local_addr()?);
    let exec = opts.exec.clone();
    let stop = async move {
        signals.wait().await;
        // Running queries stop at their next check.
        exec.shutdown();
    };
    net::serve_connections(listener, started.router(), &opts.limits, stop).await;
    tokio::task::spawn_blocking(move || started.shutdown()).await.ok();
    Ok(())
}

/// Ctrl-C and SIGTERM, listened for from the moment of installing (a
/// signal that arrives before anyone waits is kept, not fatal).
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Signals { term: signal(SignalKind::terminate()).ok(), int: signal(SignalKind::interrupt()).ok() }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    async fn wait(self) {
        #[cfg(unix)]
        {
            async fn recv(s: Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                () = recv(self.term) => {},
                () = recv(self.int) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The routes, and the layers every answer goes through: security headers,
/// errors always as JSON with a code, header and body limits.
pub fn router(app: Arc<App>) -> Router {
    let single = |kind: Kind| {
        post(move |State(app): State<Arc<App>>, headers: HeaderMap, body: Body| {
            ingest::handle(app, Endpoint::Single(kind), headers, body)
        })
    };
    let batch = || {
        post(|State(app): State<Arc<App>>, headers: HeaderMap, body: Body| {
            ingest::handle(app, Endpoint::Batch, headers, body)
        })
    };
    // Form bodies must arrive within the client timeout, like ingestion bodies.
    let form_timeout = net::form_timeout(app.client_timeout);
    let routes = Router::new()
        .route("/v1/track", single(Kind::Track))
        .route("/v1/identify", single(Kind::Identify))
        .route("/v1/page", single(Kind::Page))
        .route("/v1/screen", single(Kind::Screen))
        .route("/v1/group", single(Kind::Group))
        .route("/v1/alias", single(Kind::Alias))
        .route("/v1/batch", batch())
        .route("/v1/import", batch())
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/customers/{id}", get(customer))
        .route("/api/sql", post(sql::handle))
        .route("/api/segments", get(segments::list).post(segments::create))
        .route("/api/segments/{name}", get(segments::show).delete(segments::delete))
        .route("/api/segments/{name}/members", get(segments::members))
        .route("/api/segments/{name}/changes", get(segments::changes))
        .route("/api/segment-preview", get(segments::preview))
        .route("/api/profiles/{id}", get(profile))
        .route("/api/{command}", get(query::handle))
        .route("/api/notes", get(dashboard::list_notes))
        .route("/api/annotations", get(dashboard::list_annotations))
        .route("/healthz", get(healthz))
        .route("/login", get(dashboard::login_page).post(dashboard::login).layer(form_timeout))
        .route("/logout", post(dashboard::logout))
        .route("/assets/{name}", get(dashboard::asset))
        .route("/notes", post(dashboard::add_note).layer(form_timeout))
        .route("/annotations", post(dashboard::add_annotation).layer(form_timeout))
        .route("/opportunities/{id}", post(dashboard::plan_opportunity).layer(form_timeout))
        .route("/targets", post(dashboard::add_target).layer(form_timeout))
        .route("/targets/{id}", post(dashboard::delete_target).layer(form_timeout))
        .route("/s/{token}", get(surveys::show).post(surveys::answer).layer(form_timeout))
        .route("/u/{token}", get(surveys::unsubscribe_show).post(surveys::unsubscribe).layer(form_timeout))
        .route("/r/{code}", get(surveys::referral))
        .route("/notes/{id}", post(dashboard::change_note).layer(form_timeout))
        .route("/", get(dashboard::page))
        .route("/export", get(dashboard::page))
        .route("/{page}", get(dashboard::page))
        .route("/{page}/export", get(dashboard::page))
        .route("/customers/{id}", get(dashboard::page))
        .route("/segments", get(dashboard::page).post(segments::create_form).layer(form_timeout))
        .route("/segments/{name}", get(dashboard::page))
        .route("/segments/{name}/{part}", get(dashboard::page))
        .route("/segments/{name}/delete", post(segments::delete_form).layer(form_timeout))
        .route("/triggers", get(dashboard::page).post(trigger_forms::save).layer(form_timeout))
        .route("/triggers/{name}/{action}", post(trigger_forms::pause_or_resume).layer(form_timeout))
        .route("/metrics", get(metrics));
    // MCP over Streamable HTTP, for a read token.
    let routes = match app.queries.clone() {
        Some(api) => {
            let tools = mcp::Tools::new(api, app.exec.clone());
            let service = Router::new()
                .nest_service("/mcp", mcp::http_service(tools))
                .layer(axum::middleware::from_fn_with_state(app.clone(), mcp_auth));
            routes.merge(service)
        }
        None => routes,
    };
    let routes = routes.fallback(not_found).method_not_allowed_fallback(method_not_allowed).with_state(app);
    net::harden(routes)
}

/// `/mcp` answers only a read token.
async fn mcp_auth(
    State(app): State<Arc<App>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if let Err(e) = require_read(&app, request.headers()) {
        return e.into_response();
    }
    next.run(request).await
}

/// `GET /api/profiles/{id}`: a customer by any identity, from the profile
/// index (a profile key, a read token or an admin token).
async fn profile(
    State(app): State<Arc<App>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let Some(token) = dashboard::token(&headers) else {
        return Err(ApiError::new(ErrorCode::Unauthorized, "no key: send 'Authorization: Bearer <profile key>'"));
    };
    app.keys.require(&token, keys::KeyKind::Profile)?;
    let Some(lookup) = app.profiles.clone() else {
        return Err(ApiError::new(ErrorCode::NotFound, "this server serves no profiles"));
    };
    app.metrics.queries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    match (lookup.0)(&id) {
        Ok(Some(p)) => Ok(axum::Json(p)),
        Ok(None) => {
            Err(ApiError::new(ErrorCode::NotFound, format!("no customer has the user id or anonymous id '{id}'")))
        }
        Err(why) => Err(ApiError::new(ErrorCode::Unavailable, why)),
    }
}

async fn openapi_json(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    require_read(&app, &headers)?;
    let commands = app.queries.as_ref().map(|q| q.commands.clone()).unwrap_or_default();
    Ok(axum::Json(openapi::document(&commands)))
}

/// `GET /api/customers/{id}?limit=…&from=…`: the `customers` query with the
/// id from the path and the other parameters from the query string.
async fn customer(
    State(app): State<Arc<App>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: HeaderMap,
    axum::extract::Query(mut params): axum::extract::Query<Vec<(String, String)>>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    if params.iter().any(|(k, _)| k == "id") {
        return Err(ApiError::new(ErrorCode::InvalidQuery, "id: given in the path; do not repeat it as a parameter"));
    }
    params.push(("id".to_string(), id));
    query::handle(State(app), axum::extract::Path("customers".to_string()), headers, axum::extract::Query(params)).await
}

/// `/healthz`: 200 when the write path works, 503 with the reasons when not
/// (see [`health`]). Needs no key.
async fn healthz(State(app): State<Arc<App>>) -> Response {
    let (healthy, mut body) = app.health.report(pipeline::now_micros());
    // The server's clock, for simulations that play against it.
    body["clock"] = serde_json::json!({
        "now": wayfarer_core::time::format_rfc3339(app.clock.now_us()),
        "speed": app.clock.speed(),
    });
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    require_read(&app, &headers)?;
    let mut text = app.metrics.render() + &app.health.render(pipeline::now_micros());
    let dir = app.data.clone();
    text += &tokio::task::spawn_blocking(move || actions_metrics(&dir)).await.unwrap_or_default();
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}

/// The outbox's actions by trigger, kind and state, for Prometheus.
fn actions_metrics(dir: &std::path::Path) -> String {
    use std::collections::BTreeMap;
    let Ok(actions) = wayfarer_store::outbox::Outbox::new(dir).load() else { return String::new() };
    let mut counts: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    let name = |v: serde_json::Value| v.as_str().unwrap_or("").to_string();
    for a in &actions {
        let key = (
            a.trigger.clone(),
            name(serde_json::to_value(a.kind).unwrap_or_default()),
            name(serde_json::to_value(a.state).unwrap_or_default()),
        );
        *counts.entry(key).or_default() += 1;
    }
    let mut out = String::from(
        "# HELP wayfarer_actions Triggers' actions in the outbox, by trigger, kind and state.\n# TYPE wayfarer_actions gauge\n",
    );
    for ((trigger, kind, state), n) in counts {
        let trigger = trigger.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        out += &format!("wayfarer_actions{{trigger=\"{trigger}\",kind=\"{kind}\",state=\"{state}\"}} {n}\n");
    }
    out
}

/// Checks for a valid read token (`Authorization: Bearer <token>`, or the
/// dashboard's cookie).
pub fn require_read(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = dashboard::token(headers) else {
        return Err(ApiError::new(ErrorCode::Unauthorized, "no read token: send 'Authorization: Bearer <token>'"));
    };
    app.keys.require(&token, keys::KeyKind::Read)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(ErrorCode::NotFound, format!("no endpoint {}", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, format!("{method} is not allowed on {}", uri.path()))
}
