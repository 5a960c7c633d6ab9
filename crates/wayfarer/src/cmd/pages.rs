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

/// Keeps the recently asked pages computed for the latest data, their
/// parallel work on the query threads, each within the query timeout;
/// ends when the server drops its runner.
fn refresh_loop(dash: &std::sync::Weak<Dash>, exec: &Executor, timeout: Duration) {
    // The requests already computed for `generation`.
    let mut generation: Option<u64> = None;
    let mut done: Vec<PageRequest> = Vec::new();
    loop {
        let Some(d) = dash.upgrade() else { return };
        if let Ok(g) = d.generation() {
            if generation != Some(g) {
                generation = Some(g);
                done.clear();
            }
            let recent = d.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            // Most recent first: the page someone is looking at now.
            for req in recent.iter().rev() {
                if !done.contains(req) {
                    d.under(exec.job(timeout), false).handle(req);
                    done.push(req.clone());
                }
            }
        }
        drop(d);
        std::thread::sleep(REFRESH_EVERY);
    }
}

/// Marks a key as being computed; when dropped (also on a panic), unmarks
/// it and wakes whoever waits for it.
struct Computing<'a> {
    dash: &'a Dash,
    key: String,
}

impl Drop for Computing<'_> {
    fn drop(&mut self) {
        let (lock, ready) = &*self.dash.computed;
        lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.key);
        ready.notify_all();
    }
}

struct MapBundle {
    inputs: MapInputs,
    maps: Vec<JourneyMap>,
}

struct Entry {
    generation: u64,
    at: Instant,
    value: Arc<dyn Any + Send + Sync>,
}

struct Dash {
    data: PathBuf,
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
const ANALYSES: [(&str, &str, &str, &str); 7] = [
    ("/funnels", "funnel", "funnel", "Funnels"),
    ("/paths", "paths", "paths", "Paths"),
    ("/retention", "retention", "retention", "Retention and churn"),
    ("/attribution", "attribution", "attribution", "Attribution"),
    ("/clv", "clv", "clv", "Customer lifetime value"),
    ("/personas", "personas", "personas", "Personas"),
    ("/surveys", "surveys", "surveys", "Surveys: NPS, CSAT, CES and sentiment"),
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

    fn remember(&self, req: &PageRequest) {
        let mut recent = self.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        recent.retain(|r| r.path != req.path || r.params != req.params);
        recent.push(req.clone());
        if recent.len() > RECENT {
            recent.remove(0);
        }
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

    /// The cached value for `key`, or `f()` (cached; its parallel work on
    /// the query pool). One computation per key at a time: a request that
    /// finds its key being computed waits for that answer (on its own
    /// thread, and only until its job is cancelled) instead of computing it
    /// again.
    fn cached<T: Send + Sync + 'static>(
        &self,
        key: &str,
        f: impl FnOnce() -> Result<T, Problem> + Send,
    ) -> Result<Arc<T>, Problem> {
        let generation = self.generation()?;
        let lookup = || {
            let cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            cache
                .get(key)
                .filter(|e| e.generation == generation || (self.serve_stale && e.at.elapsed() < STALE_FOR))
                .and_then(|e| e.value.clone().downcast::<T>().ok())
        };
        let _computing = {
            let (lock, ready) = &*self.computed;
            let mut busy = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            loop {
                if let Some(v) = lookup() {
                    return Ok(v);
                }
                if busy.insert(key.to_string()) {
                    break Computing { dash: self, key: key.to_string() };
                }
                if self.cancel().is_cancelled() {
                    return Err(Problem::Cancelled);
                }
                busy = ready
                    .wait_timeout(busy, Duration::from_millis(100))
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0;
            }
        };
        let v = Arc::new(self.compute(f)?);
        let mut cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= CACHE_ENTRIES
            && let Some(oldest) = cache.iter().min_by_key(|(_, e)| e.at).map(|(k, _)| k.clone())
        {
            cache.remove(&oldest);
        }
        cache.insert(key.to_string(), Entry { generation, at: Instant::now(), value: v.clone() });
        Ok(v)
    }

    fn parse(&self, command: &str, params: &[(String, String)]) -> Result<crate::cli::Cli, Problem> {
        let mut cli = super::api::parse(&self.data, command, params)?;
        cli.global.cancel = self.cancel();
        cli.global.snapshot = Some(self.snapshot()?);
        Ok(cli)
    }

    fn event_names(&self) -> Vec<String> {
        self.snapshot().map(|s| s.store.event_names().to_vec()).unwrap_or_default()
    }

    // ---- the journey map ----

    fn map(&self, params: &[(String, String)], export: bool) -> Result<PageOutput, Problem> {
        let scope_params: Vec<(String, String)> = command_params(params)
            .into_iter()
            .filter(|(k, _)| matches!(k.as_str(), "persona" | "from" | "to"))
            .collect();
        let cli = self.parse("map", &scope_params)?;
        let Command::Map(args) = cli.command else { return Err(Problem::Query("not a map".into())) };
        let scope = super::scope(&args.scope)?;
        let (config, _) = self.config()?;
        let bundle = self.map_bundle(&config, &scope)?;
        let maps = &bundle.maps;
        let persona_names: Vec<String> = bundle.inputs.personas.names.iter().map(|(n, _)| n.clone()).collect();
        if let Some(p) = &scope.persona
            && !persona_names.contains(p)
        {
            return Err(Problem::Query(format!(
                "persona: there is no persona '{p}'; there are: {}",
                persona_names.join(", ")
            )));
        }
        // A segment (`first_channel:Email`) instead of a persona: the maps
        // of that segmentation, from one pass too.
        let segment = param(params, "segment").map(str::to_string);
        let segment_maps;
        let (maps, wanted, label): (&[JourneyMap], Option<String>, Option<&str>) = match &segment {
            None => (maps, scope.persona.clone(), None),
            Some(s) => {
                if scope.persona.is_some() {
                    return Err(Problem::Query("persona and segment: choose one of them".into()));
                }
                let Some((by, group)) = s.split_once(':').and_then(|(k, g)| Segmentation::parse(k).map(|b| (b, g)))
                else {
                    return Err(Problem::Query(format!(
                        "segment: expected first_channel:NAME, purchases:NAME or status:NAME, found '{s}'"
                    )));
                };
                segment_maps = self.segment_maps(&config, &scope, by, &bundle)?;
                (segment_maps.as_slice(), Some(group.to_string()), Some(by.label()))
            }
        };
        let Some(map) = maps.iter().find(|m| m.scope.persona == wanted) else {
            return Err(Problem::Query(format!(
                "segment: no customer of this scope is in '{}'",
                segment.as_deref().unwrap_or_default()
            )));
        };
        if export {
            let format = param(params, "format").unwrap_or("html");
            let title = "Customer journey map";
            let name = match &wanted {
                Some(p) => format!("journey-map-{}", slug(p)),
                None => "journey-map".into(),
            };
            return match format {
                "svg" => Ok(file(&name, "svg", wayfarer_render::mapsvg::map_svg(map, title).into_bytes())),
                "png" => Ok(file(&name, "png", self.png(&wayfarer_render::mapsvg::map_svg(map, title))?)),
                "json" => Ok(file(&name, "json", serde_json::to_vec_pretty(map).map_err(anyhow::Error::from)?)),
                "csv" => {
                    let mut buf = Vec::new();
                    wayfarer_render::tabular::write_csv(map, &mut buf).map_err(anyhow::Error::from)?;
                    Ok(file(&name, "csv", buf))
                }
                "html" | "xlsx" => {
                    // The report has the persona tabs: all customers, then each persona.
                    let one;
                    let maps: &[JourneyMap] = if scope.persona.is_some() {
                        one = [map.clone()];
                        &one
                    } else {
                        maps
                    };
                    if format == "html" {
                        Ok(file(&name, "html", wayfarer_render::html::report(maps, title).into_bytes()))
                    } else {
                        Ok(file(
                            &name,
                            "xlsx",
                            wayfarer_render::tabular::xlsx_bytes(maps).map_err(anyhow::Error::from)?,
                        ))
                    }
                }
                other => {
                    Err(Problem::Query(format!("format: expected html, svg, png, csv, xlsx or json, found '{other}'")))
                }
            };
        }
        let notes = wayfarer_store::notes::list(&self.data).map_err(anyhow::Error::from)?;
        let selected =
            param(params, "cell").and_then(|c| c.split_once('|')).map(|(s, l)| (s.to_string(), l.to_string()));
        let mut export_params = scope_params;
        if let Some(s) = &segment {
            export_params.push(("segment".into(), s.clone()));
        }
        let q = dashboard::query(&export_params);
        let exports = ["HTML", "PNG", "SVG", "XLSX", "CSV", "JSON"]
            .iter()
            .map(|f| {
                (
                    f.to_string(),
                    format!("/export?{q}{}format={}", if q.is_empty() { "" } else { "&" }, f.to_lowercase()),
                )
            })
            .collect();
        let s = &map.scope;
        let subtitle = format!(
            "{} · {} – {} · {} customers · {} events · revenue {}",
            match (label, &s.persona) {
                (Some(l), Some(g)) => format!("{l}: {g}"),
                (None, Some(p)) => p.clone(),
                _ => "All customers".to_string(),
            },
            s.from.as_deref().unwrap_or(&s.data_start).get(..10).unwrap_or(""),
            s.to.as_deref().unwrap_or(&s.data_end).get(..10).unwrap_or(""),
            wayfarer_render::count(s.customers),
            wayfarer_render::count(s.events),
            wayfarer_render::money(s.revenue)
        );
        let page = dashboard::MapPage {
            chrome: Chrome { page: "map".into(), title: "Customer journey map".into(), subtitle, exports },
            map,
            personas: persona_names,
            segments: segment_options(&bundle.maps),
            segment,
            persona: scope.persona,
            from: args.scope.from.clone(),
            to: args.scope.to,
            notes: &notes,
            selected,
            config: &config,
        };
        Ok(PageOutput::html(dashboard::map_page(&page)))
    }

    /// The maps of a time window — all customers, then each persona, from
    /// one pass over the data, so switching persona is instant — with the
    /// inputs they were built with (personas, predicted CLV), cached together
    /// so they always belong to the same data.
    fn map_bundle(&self, config: &Config, scope: &Scope) -> Result<Arc<MapBundle>, Problem> {
        let scope = scope.without_persona();
        self.cached(&format!("map|{:?}|{:?}", scope.from, scope.to), || {
            let store = self.store()?;
            let model = Model::compile(config, &store).map_err(anyhow::Error::from)?;
            let personas = super::map::personas(&store, &model, &scope, PersonaSource::Auto)?;
            let inputs =
                MapInputs::with_predicted_clv(&store, &model, &scope, personas).map_err(anyhow::Error::from)?;
            let maps = journey_maps_with(&store, &model, &scope, &inputs).map_err(anyhow::Error::from)?;
            Ok(MapBundle { inputs, maps })
        })
    }

    /// The maps of one segmentation (all customers, then each group) for a
    /// time window, with the predicted CLV of the window's map.
    fn segment_maps(
        &self,
        config: &Config,
        scope: &Scope,
        by: Segmentation,
        bundle: &MapBundle,
    ) -> Result<Arc<Vec<JourneyMap>>, Problem> {
        let scope = scope.without_persona();
        self.cached(&format!("segment|{}|{:?}|{:?}", by.key(), scope.from, scope.to), || {
            let store = self.store()?;
            let model = Model::compile(config, &store).map_err(anyhow::Error::from)?;
            let personas = segments::segment(&store, &model, &scope, by).map_err(anyhow::Error::from)?;
            let inputs = MapInputs { personas, predicted_clv: bundle.inputs.predicted_clv.clone() };
            Ok(journey_maps_with(&store, &model, &scope, &inputs).map_err(anyhow::Error::from)?)
        })
    }

    fn png(&self, svg: &str) -> Result<Vec<u8>, Problem> {
        Ok(self.png.render(svg, 2.0).map_err(anyhow::Error::from)?)
    }

    // ---- analyses ----

    fn view(&self, command: &str, params: &[(String, String)]) -> Result<Option<View>, Problem> {
        let params = command_params(params);
        if command == "funnel" && params.iter().filter(|(k, _)| k == "step").count() < 2 {
            return Ok(None);
        }
        // Sizes a page can draw (the CLI takes any).
        for (name, most) in [("periods", 200u64), ("length", 20), ("top", 200), ("k", 30), ("max-k", 30)] {
            if let Some(v) = param(&params, name).and_then(|v| v.parse::<u64>().ok())
                && v > most
            {
                return Err(Problem::Query(format!("{name}: at most {most} on the dashboard (found {v})")));
            }
        }
        let key = format!("{command}|{}", dashboard::query(&params));
        let view = self.cached(&key, || {
            let cli = self.parse(command, &params)?;
            let g = &cli.global;
            Ok(match cli.command {
                Command::Funnel(a) => views::funnel(&super::analyses::funnel_report(g, &a)?),
                Command::Paths(a) => views::paths(&super::analyses::paths_report(g, &a)?),
                Command::Retention(a) => views::retention(&super::analyses::retention_report(g, &a)?),
                Command::Clv(a) => views::clv(&super::analyses::clv_report(g, &a)?),
                Command::Attribution(a) => views::attribution(&super::analyses::attribution_report(g, &a)?),
                Command::Personas(a) => views::personas(&super::analyses::personas_report(g, &a)?.1),
                Command::Surveys(a) => views::surveys(&super::analyses::surveys_report(g, &a)?),
                _ => return Err(Problem::NotFound(format!("no page for {command}"))),
            })
        })?;
        Ok(Some((*view).clone()))
    }

    fn analysis(
        &self,
        page: (&str, &str, &str, &str),
        params: &[(String, String)],
        export: bool,
    ) -> Result<PageOutput, Problem> {
        let (path, command, key, title) = page;
        let result = match self.view(command, params) {
            Ok(v) => Ok(v),
            Err(Problem::Query(e)) => Err(e),
            Err(other) => return Err(other),
        };
        if export {
            let view = match result {
                Ok(Some(v)) => v,
                Ok(None) => return Err(Problem::Query("nothing to export: the query has no steps yet".into())),
                Err(e) => return Err(Problem::Query(e)),
            };
            return self.export(key, &view, params);
        }
        let q = dashboard::query(&command_params(params));
        let sep = if q.is_empty() { "" } else { "&" };
        let exports = match &result {
            Ok(Some(_)) => vec![
                ("HTML report".to_string(), format!("{path}/export?{q}{sep}format=html")),
                ("XLSX (all tables)".to_string(), format!("{path}/export?{q}{sep}format=xlsx")),
            ],
            _ => Vec::new(),
        };
        let form = self.form(command, path, params);
        let (intro, empty) = intro(command);
        let page = AnalysisPage {
            chrome: Chrome { page: key.into(), title: title.into(), subtitle: String::new(), exports },
            intro: intro.into(),
            form,
            result,
            empty: (empty.0.into(), empty.1.into()),
            export_base: format!("{path}/export?{q}"),
            api: format!("/api/{command}?{q}"),
        };
        let mut out = PageOutput::html(dashboard::analysis_page(&page));
        if page.result.is_err() {
            out.status = 400;
        }
        Ok(out)
    }

    fn export(&self, key: &str, view: &View, params: &[(String, String)]) -> Result<PageOutput, Problem> {
        let format = param(params, "format").unwrap_or("html");
        let chart = param(params, "chart");
        let bytes = export::view_export(view, format, chart, &self.png).map_err(|e| Problem::Query(e.to_string()))?;
        let name = chart.map_or_else(|| key.to_string(), |c| format!("{key}-{c}"));
        Ok(file(&name, format, bytes))
    }

    /// A page's form, generated from the command's flag definitions — the
    /// same that parse its query and describe `/api/*` — so a page offers
    /// exactly what the command takes, with its defaults and allowed values.
    fn form(&self, command: &str, path: &str, params: &[(String, String)]) -> Form {
        let personas: Vec<String> =
            self.config().map(|(c, _)| c.personas.iter().map(|p| p.name.clone()).collect()).unwrap_or_default();
        let fields = super::api::commands()
            .into_iter()
            .find(|c| c.name == command)
            .map(|c| c.params.iter().filter_map(|p| form_field(p, params, &personas)).collect())
            .unwrap_or_default();
        Form { action: path.into(), fields, submit: "Run".into(), event_names: self.event_names() }
    }

    // ---- customers and settings ----

    fn customers(&self, params: &[(String, String)]) -> Result<PageOutput, Problem> {
        let q = param(params, "q").unwrap_or("").to_string();
        let (matches, error) = if q.trim().is_empty() {
            (Vec::new(), None)
        } else {
            let store = self.store()?;
            match self.compute(|| wayfarer_engine::customers::search(&store, &q, 50)) {
                Ok(m) => (m, None),
                Err(e) => (Vec::new(), Some(e.to_string())),
            }
        };
        let page = dashboard::CustomersPage {
            chrome: Chrome { page: "customers".into(), title: "Customers".into(), ..Chrome::default() },
            query: &q,
            matches: &matches,
            error,
        };
        Ok(PageOutput::html(dashboard::customers_page(&page)))
    }

    fn customer(&self, id: &str) -> Result<PageOutput, Problem> {
        let id = wayfarer_core::url::percent_decode(id, false);
        let (config, _) = self.config()?;
        let store = self.store()?;
        let model = Model::compile(&config, &store).map_err(anyhow::Error::from)?;
        let Some(profile) = self
            .compute(|| wayfarer_engine::customers::customer_profile(&store, &model, &Scope::default(), &id, 200))
            .map_err(anyhow::Error::from)?
        else {
            return Err(Problem::NotFound(format!("No customer has the user id or anonymous id '{id}'.")));
        };
        // Predicted CLV from the (cached) inputs of the home page's map.
        let clv = self.map_bundle(&config, &Scope::default()).ok().and_then(|bundle| {
            let inputs = &bundle.inputs;
            let mut ids = store.identity().ok()?;
            let ident = ids.lookup(&format!("u:{id}")).or_else(|| ids.lookup(&format!("a:{id}")))?;
            let customer = ids.canonical(ident);
            inputs.predicted_clv.as_ref()?.get(&customer).copied()
        });
        let chrome = Chrome {
            page: "customers".into(),
            title: format!("Customer {}", profile.customer_id),
            ..Chrome::default()
        };
        Ok(PageOutput::html(dashboard::customer_page(&chrome, &profile, clv)))
    }

    fn settings(&self) -> Result<PageOutput, Problem> {
        let (config, source) = self.config()?;
        let keys: Vec<KeyRow> = wayfarer_server::keys::list(&self.data)
            .map_err(|e| Problem::Query(e.to_string()))?
            .into_iter()
            .map(|k| KeyRow {
                id: k.id,
                kind: format!("{:?}", k.kind).to_lowercase(),
                name: k.name,
                created_at: k.created_at,
                revoked_at: k.revoked_at,
            })
            .collect();
        let chrome = Chrome { page: "settings".into(), title: "Settings".into(), ..Chrome::default() };
        Ok(PageOutput::html(dashboard::settings_page(&chrome, &config, &source, &keys)))
    }
}

/// The segments offered on the map: first channels (those of the first
/// stage, by share), purchases and status.
/// Flags a page does not offer (every customer's rows belong in exports).
const NOT_ON_PAGES: [&str; 1] = ["customers"];

/// The form field of one flag; `None` for flags a page does not offer, and
/// for `--persona` when the configuration has no hand-written personas.
fn form_field(p: &QueryParam, params: &[(String, String)], personas: &[String]) -> Option<Field> {
    if NOT_ON_PAGES.contains(&p.name.as_str()) {
        return None;
    }
    let mut label = p.name.replace('-', " ");
    label[..1].make_ascii_uppercase();
    let none = || (String::new(), "none".to_string());
    let kind = match p.kind {
        ParamKind::Switch => FieldKind::Check,
        _ if p.name == "persona" => {
            if personas.is_empty() {
                return None;
            }
            let mut options = vec![(String::new(), "All customers".to_string())];
            options.extend(personas.iter().map(|n| (n.clone(), n.clone())));
            FieldKind::Select(options)
        }
        _ if !p.values.is_empty() => {
            let mut options: Vec<(String, String)> = Vec::new();
            if !p.required && p.default.is_none() {
                options.push(none());
            }
            options.extend(p.values.iter().map(|v| (v.clone(), v.replace('_', " "))));
            FieldKind::Select(options)
        }
        ParamKind::Event if p.repeated && p.required => {
            label = "Steps".into();
            FieldKind::Steps
        }
        _ if p.repeated => FieldKind::Repeat(1),
        ParamKind::Integer => FieldKind::Number,
        ParamKind::Number => FieldKind::Decimal,
        ParamKind::Date => FieldKind::Date,
        ParamKind::Text | ParamKind::Event => FieldKind::Text,
    };
    let hint = !matches!(kind, FieldKind::Check | FieldKind::Select(_) | FieldKind::Date);
    let default: Vec<&str> = p.default.iter().map(String::as_str).collect();
    let mut f = Field::new(&p.name, &label, kind).from(params, &default);
    if hint {
        f = f.hint(p.help.trim_end_matches('.'));
    }
    Some(if p.kind == ParamKind::Event { f.events() } else { f })
}

fn segment_options(maps: &[JourneyMap]) -> Vec<(String, Vec<(String, String)>)> {
    let group = |by: Segmentation, names: Vec<String>| {
        (by.label().to_string(), names.into_iter().map(|n| (format!("{}:{n}", by.key()), n)).collect())
    };
    let channels = maps
        .first()
        .and_then(|m| m.stages.first())
        .map(|s| s.channels.iter().map(|c| c.channel.clone()).collect())
        .unwrap_or_default();
    let names = |v: &[&str]| v.iter().map(ToString::to_string).collect();
    vec![
        group(Segmentation::FirstChannel, channels),
        group(Segmentation::Purchases, names(&["Never bought", "One purchase", "Repeat buyers"])),
        group(Segmentation::Status, names(&["Active", "Churned"])),
    ]
}

/// What each analysis page says about itself: intro, and the empty state.
fn intro(command: &str) -> (&'static str, (&'static str, &'static str)) {
    let none = ("", "");
    match command {
        "funnel" => (
            "Conversion through ordered steps within a window from the first step (ClickHouse windowFunnel semantics), with exclusions, breakdowns and a trend.",
            ("Build a funnel", "Type at least two steps — event names are suggested as you type — then Run."),
        ),
        "paths" => ("The sequences of events customers take from (or to) an event; ribbon width is customers.", none),
        "retention" => (
            "Cohorts by the period of their first activity, the share active in each later period, and the lifecycle of active customers.",
            none,
        ),
        "attribution" => (
            "Credit for conversions by channel: rule-based models beside the data-driven Markov (removal effect) and Shapley models.",
            none,
        ),
        "clv" => (
            "Value to date and predicted customer lifetime value (BG/NBD for purchases, Gamma-Gamma for order value).",
            none,
        ),
        "personas" => (
            "Personas discovered from behaviour (k-means on channel mix, stages reached, value and sentiment), with the number chosen by silhouette.",
            none,
        ),
        _ => (
            "Survey scores (NPS, CSAT, CES) and the sentiment of customers' texts, by stage, touchpoint, persona, channel and period.",
            none,
        ),
    }
}

fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
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
