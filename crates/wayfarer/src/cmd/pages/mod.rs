//! The dashboard's page runner, given to the server like the query API: a
//! page's query string is parsed as its command's flags by the same clap
//! definitions, the command's report is computed by the same code as the
//! CLI, and `wayfarer-render` draws it (page or export).
//!
//! Reports are cached per query and store generation. When new data has
//! been committed, the cached answer is still shown (for at most
//! [`STALE_FOR`]) while a background thread recomputes the pages asked for
//! recently — at start-up the home page, then at most every
//! [`REFRESH_EVERY`] after commits — so a visitor never waits for the map to
//! be computed (a live server commits every half second).
//!
//! `mod.rs` routes a request to its page; `cache.rs` keeps and refreshes
//! answers; `map.rs`, `analyses.rs` and `people.rs` draw the pages.

use std::any::Any;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Result;
use wayfarer_core::{Cancel, Config};
use wayfarer_engine::journey::{JourneyMap, MapInputs, journey_maps_with};
use wayfarer_engine::segments::{self, Segmentation};
use wayfarer_engine::{Model, Scope};
use wayfarer_render::dashboard::{self, AnalysisPage, Chrome, Field, FieldKind, Form, KeyRow};
use wayfarer_render::export::{self, Png};
use wayfarer_render::views::{self, View};
use wayfarer_server::dashboard::{PageOutput, PageRequest, Pages};
use wayfarer_server::exec::{Executor, Job};
use wayfarer_server::query::{ParamKind, QueryParam};
use wayfarer_store::Store;

use super::Snapshot;
use super::api::ServerConfig;
use crate::cli::{Command, PersonaSource};

mod analyses;
mod cache;
mod changes;
mod map;
mod opp;
mod people;
mod saved;

use cache::{Entry, refresh_loop};

/// How long an answer computed before the latest commit may still be shown.
pub const STALE_FOR: Duration = Duration::from_secs(300);
/// How often the background thread looks for new data to recompute pages.
pub const REFRESH_EVERY: Duration = Duration::from_secs(10);
const CACHE_ENTRIES: usize = 64;
/// How many recently asked pages the background thread keeps fresh.
const RECENT: usize = 12;

pub fn pages(data: PathBuf, config: ServerConfig, timeout: Duration, warm: bool, exec: Arc<Executor>) -> Pages {
    // Warm the pages whose defaults take longest, the home page last (most recent).
    let warm_pages = ["/personas", "/clv", "/attribution", "/surveys", "/retention", "/"]
        .iter()
        .map(|p| PageRequest { path: (*p).to_string(), params: Vec::new() })
        .collect();
    let dash = Arc::new(Dash {
        data,
        grammar: super::api::Grammar::new(),
        config,
        png: Arc::new(Png::new()),
        cache: Arc::default(),
        computed: Arc::default(),
        recent: Arc::new(Mutex::new(warm_pages)),
        // Stale answers are only shown while the refresher replaces them.
        serve_stale: warm,
        job: None,
        snapshot: OnceLock::new(),
    });
    if warm {
        let refresher = Arc::downgrade(&dash);
        std::thread::spawn(move || refresh_loop(&refresher, &exec, timeout));
    }
    Pages {
        run: Arc::new(move |req: &PageRequest, job: &Job| dash.under(job.clone(), dash.serve_stale).handle(req)),
        timeout,
    }
}

struct Dash {
    data: PathBuf,
    /// How a page's query string becomes the command's flags.
    grammar: super::api::Grammar,
    /// The server's configuration (the one it ingests with).
    config: ServerConfig,
    png: Arc<Png>,
    cache: Arc<Mutex<HashMap<String, Entry>>>,
    /// Keys being computed now (a second request for one waits for it).
    computed: Arc<(Mutex<std::collections::HashSet<String>>, std::sync::Condvar)>,
    /// Pages asked for lately (most recent last), for the refresher.
    recent: Arc<Mutex<Vec<PageRequest>>>,
    /// False for the refresher: it recomputes what is stale.
    serve_stale: bool,
    /// The request's job: its cancellation token (its time limit, the
    /// server's shutdown) and the query pool (none for the template).
    job: Option<Job>,
    /// The request's store and configuration, opened once at first use.
    snapshot: OnceLock<Arc<Snapshot>>,
}

/// A page's failure, shown in words.
enum Problem {
    /// The query cannot run as asked (shown next to the form).
    Query(String),
    NoData(String),
    NotFound(String),
    /// Stopped: the query timeout passed or the server is shutting down.
    Cancelled,
}

impl From<anyhow::Error> for Problem {
    fn from(e: anyhow::Error) -> Problem {
        if super::code_for(&e) == Some(wayfarer_core::ErrorCode::QueryTimeout) {
            return Problem::Cancelled;
        }
        match e.downcast_ref::<wayfarer_store::StoreError>() {
            Some(wayfarer_store::StoreError::Empty(_)) => Problem::NoData(format!("{e:#}")),
            _ => Problem::Query(format!("{e:#}")),
        }
    }
}

impl From<wayfarer_server::error::ApiError> for Problem {
    fn from(e: wayfarer_server::error::ApiError) -> Problem {
        Problem::Query(e.message)
    }
}

/// The analysis pages: (path, command, nav key, title).
const ANALYSES: [(&str, &str, &str, &str); 9] = [
    ("/funnels", "funnel", "funnel", "Funnels"),
    ("/paths", "paths", "paths", "Paths"),
    ("/retention", "retention", "retention", "Retention and churn"),
    ("/attribution", "attribution", "attribution", "Attribution"),
    ("/clv", "clv", "clv", "Customer lifetime value"),
    ("/personas", "personas", "personas", "Personas"),
    ("/surveys", "surveys", "surveys", "Surveys: NPS, CSAT, CES and sentiment"),
    ("/discovery", "discovery", "discovery", "Discovery: where valuable customers come from"),
    ("/loyalty", "loyalty", "loyalty", "Loyalty actions and the journeys before them"),
];

/// Parameters that belong to the page, not to the command.
const PAGE_PARAMS: [&str; 4] = ["format", "chart", "cell", "segment"];

fn file(name: &str, format: &str, bytes: Vec<u8>) -> PageOutput {
    let content_type = match format {
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "csv" => "text/csv; charset=utf-8",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "json" => "application/json",
        _ => "text/html; charset=utf-8",
    };
    PageOutput {
        status: 200,
        content_type: content_type.into(),
        body: bytes,
        filename: Some(format!("wayfarer-{name}.{format}")),
    }
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params.iter().find(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str())
}

/// The command's own parameters (no page parameters, no empty values).
fn command_params(params: &[(String, String)]) -> Vec<(String, String)> {
    params.iter().filter(|(k, v)| !v.is_empty() && !PAGE_PARAMS.contains(&k.as_str())).cloned().collect()
}

impl Dash {
    /// The same dashboard for a request's job; with `serve_stale` false it
    /// recomputes anything computed before the latest commit (the refresher).
    fn under(&self, job: Job, serve_stale: bool) -> Dash {
        Dash {
            data: self.data.clone(),
            grammar: self.grammar.clone(),
            config: self.config.clone(),
            png: self.png.clone(),
            cache: self.cache.clone(),
            computed: self.computed.clone(),
            recent: self.recent.clone(),
            serve_stale,
            job: Some(job),
            snapshot: OnceLock::new(),
        }
    }

    fn cancel(&self) -> Cancel {
        self.job.as_ref().map_or_else(Cancel::never, |j| j.cancel().clone())
    }

    /// Computes `f` with its parallel work on the query pool. Never waits
    /// there: waiting for another request's page happens in [`Self::cached`],
    /// on the request's own thread.
    fn compute<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        match &self.job {
            Some(j) => j.install(f),
            None => f(),
        }
    }

    /// The request's one view of the committed state and the configuration:
    /// every part of a page reads the same generation.
    fn snapshot(&self) -> Result<Arc<Snapshot>, Problem> {
        if let Some(s) = self.snapshot.get() {
            return Ok(s.clone());
        }
        let store = Store::open(&self.data).map_err(anyhow::Error::from)?.with_cancel(self.cancel());
        let s = Arc::new(self.config.snapshot(store));
        Ok(self.snapshot.get_or_init(|| s).clone())
    }

    fn store(&self) -> Result<Store, Problem> {
        Ok(self.snapshot()?.store.clone())
    }

    fn handle(&self, req: &PageRequest) -> PageOutput {
        let computed = req.path == "/" || ANALYSES.iter().any(|a| a.0 == req.path.trim_end_matches('/'));
        let path = req.path.trim_end_matches('/');
        let path = if path.is_empty() { "/" } else { path };
        let (base, export) = match path.strip_suffix("/export") {
            Some(b) => (if b.is_empty() { "/" } else { b }, true),
            None if path == "/export" => ("/", true),
            None => (path, false),
        };
        let result = match base {
            "/" => self.map(&req.params, export),
            "/customers" => self.customers(&req.params),
            "/settings" => self.settings(),
            "/segments" => self.segments(&req.params),
            "/triggers" => self.triggers(&req.params),
            "/changes" => self.changes(&req.params),
            "/opportunities" => self.opportunities(),
            p if p.starts_with("/segments/") => self.segment(&p["/segments/".len()..], &req.params),
            p if p.starts_with("/customers/") => self.customer(&p["/customers/".len()..]),
            p => match ANALYSES.iter().find(|a| a.0 == p) {
                Some(a) => self.analysis(*a, &req.params, export),
                None => Err(Problem::NotFound(format!("There is no page {p}."))),
            },
        };
        match result {
            Ok(out) => {
                // Only pages that could be drawn are kept fresh.
                if self.serve_stale && computed && out.status == 200 {
                    self.remember(req);
                }
                out
            }
            Err(p) => {
                let (status, heading, text) = match p {
                    Problem::NotFound(t) => (404, "Not found", t),
                    Problem::NoData(t) => (
                        200,
                        "No data yet",
                        format!(
                            "{t}, or send events to /v1/batch with a write key (see the README's Live ingestion). \
                             To look around first, run `wayfarer demo` and serve its data directory."
                        ),
                    ),
                    Problem::Query(t) => (400, "This page could not be drawn", t),
                    Problem::Cancelled => (
                        504,
                        "This page is taking too long",
                        "It was stopped: it took longer than the query timeout, or the server is shutting down."
                            .to_string(),
                    ),
                };
                let chrome = Chrome { title: heading.into(), ..Chrome::default() };
                let mut out = PageOutput::html(dashboard::message(&chrome, heading, &text));
                out.status = status;
                out
            }
        }
    }

    fn config(&self) -> Result<(Config, String), Problem> {
        let s = self.snapshot()?;
        Ok(((*s.config).clone(), s.config_source()))
    }

    fn generation(&self) -> Result<u64, Problem> {
        Ok(self.snapshot()?.store.manifest().generation)
    }

    fn parse(&self, command: &str, params: &[(String, String)]) -> Result<crate::cli::Cli, Problem> {
        let mut cli = self.grammar.parse(&self.data, command, params)?;
        cli.global.cancel = self.cancel();
        cli.global.snapshot = Some(self.snapshot()?);
        Ok(cli)
    }

    fn event_names(&self) -> Vec<String> {
        self.snapshot().map(|s| s.store.event_names().to_vec()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_parameters_are_not_given_to_commands() {
        let p =
            vec![("step".to_string(), "A".to_string()), ("format".into(), "png".into()), ("to".into(), String::new())];
        assert_eq!(command_params(&p), vec![("step".to_string(), "A".to_string())]);
    }
}
