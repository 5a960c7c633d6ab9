//! Command implementations; each module is one subcommand.

/// Prints a line to stdout. A closed pipe (`wayfarer … | head`) ends the
/// command quietly instead of panicking.
macro_rules! say {
    () => { $crate::cmd::emit("")? };
    ($($t:tt)*) => { $crate::cmd::emit(&format!($($t)*))? };
}

mod analyses;
pub(crate) mod api;
pub(crate) mod cluster;
mod config;
mod demo;
mod import;
mod live;
pub(crate) mod map;
mod pages;
pub mod segments;
mod serve;
mod sessions;
mod sql;
mod triggers;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use wayfarer_core::Config;
use wayfarer_engine::{EngineError, Scope};
use wayfarer_ingest::ImportError;
use wayfarer_store::StoreError;

use crate::cli::{Cli, Command, ScopeArgs};
use crate::progress::Progress;

pub const DEFAULT_DATA: &str = "wayfarer-data";
pub const DEMO_DATA: &str = "wayfarer-demo";
pub const CONFIG_FILE: &str = "wayfarer.toml";

pub fn run(mut cli: Cli) -> Result<()> {
    if let Some(url) = cli.command.cluster() {
        cluster::check(&cli.command)?;
        cli.global.runner = Some(cluster::client(&url, &cli.global)?);
    }
    cluster::local_data(&mut cli)?;
    run_with(cli, &mut Out::Print)
}

/// Where a command's JSON goes: printed (the CLI) or captured (the HTTP
/// API, which answers with exactly what `--json` prints).
pub enum Out {
    Print,
    Capture(Option<serde_json::Value>),
}

impl Out {
    pub fn json<T: serde::Serialize>(&mut self, v: &T) -> Result<()> {
        match self {
            Out::Print => emit(&serde_json::to_string_pretty(v)?),
            Out::Capture(slot) => {
                *slot = Some(serde_json::to_value(v)?);
                Ok(())
            }
        }
    }
}

pub fn run_with(cli: Cli, out: &mut Out) -> Result<()> {
    let progress = Progress::new(cli.global.quiet);
    let g = &cli.global;
    match cli.command {
        Command::Demo(args) => demo::run(g, &args, progress),
        Command::Import(args) => import::run(g, &args, progress),
        Command::Map(args) => map::run(g, &args, progress, out),
        Command::Sessions(args) => sessions::run(g, &args, out),
        Command::Funnel(args) => analyses::funnel(g, &args, out),
        Command::Paths(args) => analyses::paths(g, &args, out),
        Command::Retention(args) => analyses::retention(g, &args, out),
        Command::Rfm(args) => analyses::rfm(g, &args, out),
        Command::Surveys(args) => analyses::surveys(g, &args, out),
        Command::Clv(args) => analyses::clv(g, &args, out),
        Command::Personas(args) => analyses::personas(g, &args, out),
        Command::Attribution(args) => analyses::attribution(g, &args, out),
        Command::Discovery(args) => analyses::discovery(g, &args, out),
        Command::Loyalty(args) => analyses::loyalty(g, &args, out),
        Command::Customers(args) => analyses::customers(g, &args, out),
        Command::Annotate(a) => map::annotate(g, &a, out),
        Command::Opportunities(c) => map::opportunities(g, &c, out),
        Command::Targets(c) => map::targets(g, &c, out),
        Command::Annotations(c) => map::annotations(g, &c, out),
        Command::Segments(c) => segments::run(g, c, out),
        Command::Triggers(c) => triggers::run(g, c, out),
        Command::Actions(c) => triggers::actions(g, c, out),
        Command::Referrals { json } => triggers::referrals(g, json, out),
        Command::Nba(args) => analyses::nba(g, &args, out),
        Command::Recommend(args) => analyses::recommend(g, &args, out),
        Command::Sql(args) => sql::run(g, &args, out),
        Command::Cluster(c) => cluster::serve(g, &c, out),
        Command::Simulate(args) => demo::simulate(&args, progress),
        Command::Config(c) => config::run(g, c),
        Command::Doctor(args) => analyses::doctor(g, &args, out),
        Command::Reindex => {
            let dir = data_dir(g, DEFAULT_DATA);
            let (config, _) = load_config(g, &dir)?;
            if follow_channel_rules(&dir, &config, true)?.is_none() {
                bail!("no events in {} to re-derive", dir.display());
            }
            Ok(())
        }
        Command::Serve(args) => serve::serve(g, &args),
        Command::Mcp(args) => serve::mcp(g, &args),
        Command::Keys(c) => serve::keys(g, c),
    }
}

/// The data directory: --data, else the command's default.
pub fn data_dir(g: &crate::cli::Global, default: &str) -> PathBuf {
    g.data.clone().unwrap_or_else(|| PathBuf::from(default))
}

/// What one command or one server request reads: the committed store
/// (under the request's cancellation token) and the configuration, with
/// where it came from. The server makes one per request, with the
/// configuration it ingests with, so a request never sees two store
/// generations or two configurations, and queries and ingestion agree.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub store: wayfarer_store::Store,
    pub config: std::sync::Arc<Config>,
    /// The file the configuration came from (`None`: the built-in defaults).
    pub config_path: Option<PathBuf>,
}

impl Snapshot {
    /// The command's snapshot: the one the server set, else the data
    /// directory and configuration its flags name.
    pub fn of(g: &crate::cli::Global) -> Result<Snapshot> {
        let mut snap = match &g.snapshot {
            Some(s) => (**s).clone(),
            None => {
                let dir = data_dir(g, DEFAULT_DATA);
                let (config, config_path) = load_config(g, &dir)?;
                // A replay reads what the client read (the client followed the rules).
                if !g.replay {
                    follow_channel_rules(&dir, &config, false)?;
                }
                let store = wayfarer_store::Store::open(&dir)?.with_cancel(g.cancel.clone());
                Snapshot { store, config: std::sync::Arc::new(config), config_path }
            }
        };
        if let Some(r) = &g.runner {
            snap.store = snap.store.with_runner(r.clone());
        }
        Ok(snap)
    }

    /// The configuration compiled against the store.
    pub fn model(&self) -> Result<wayfarer_engine::Model> {
        Ok(wayfarer_engine::Model::compile(&self.config, &self.store)?)
    }

    /// Where the configuration came from, in words.
    pub fn config_source(&self) -> String {
        self.config_path.as_ref().map_or_else(|| "the built-in defaults".to_string(), |p| p.display().to_string())
    }
}

/// Makes the stored channels follow the configuration's channel rules:
/// when the rules changed since the events were stored (their fingerprint
/// differs from the manifest's), every event's channel is derived again and
/// the changed segments rewritten (`wayfarer reindex` does it on demand).
/// Touchpoints, stages and personas need nothing: they are derived at query
/// time. When another process holds the store (a running server), queries
/// go on with the stored channels and say so; the server re-derives them
/// when it starts. Returns the rows re-derived, if it ran.
pub fn follow_channel_rules(dir: &Path, config: &Config, force: bool) -> Result<Option<wayfarer_store::RederiveStats>> {
    let fingerprint = derivation_fingerprint(config);
    let stored = match wayfarer_store::Manifest::load(dir) {
        Ok(Some(m)) if !m.segments.is_empty() => m.channels_fingerprint,
        _ => return Ok(None),
    };
    if !force && stored.as_deref() == Some(fingerprint.as_str()) {
        return Ok(None);
    }
    if let Some(url) = wayfarer_store::objects::origin(dir).filter(|_| !force) {
        eprintln!(
            "note: the channel rules or revenue property differ from those {url} was stored with; this answer uses \
             the stored channels (run `wayfarer reindex` where it is published from, and publish again)"
        );
        return Ok(None);
    }
    let mut writer = match wayfarer_store::Writer::open(dir, now_micros()) {
        Ok(w) => w,
        Err(wayfarer_store::StoreError::Locked(_)) if !force => {
            eprintln!(
                "note: the channel rules or revenue property changed since these events were stored; another process (a server?) holds {} \
                 so this answer uses the stored channels until it re-derives them (on its next start)",
                dir.display()
            );
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    rederive_channels(&mut writer, config, force)
}

/// What stored channels and revenue are derived with: the channel rules
/// and the revenue property.
fn derivation_fingerprint(config: &Config) -> String {
    wayfarer_ingest::derive::fingerprint(&config.channels, config.ingest.revenue_property.as_deref())
}

/// Re-derives the channels of the writer's store when its rules'
/// fingerprint is not the configuration's (or always, with `force`).
pub fn rederive_channels(
    writer: &mut wayfarer_store::Writer,
    config: &Config,
    force: bool,
) -> Result<Option<wayfarer_store::RederiveStats>> {
    let fingerprint = derivation_fingerprint(config);
    writer.set_channels_fingerprint_if_empty(&fingerprint);
    if !force && writer.channels_fingerprint() == Some(fingerprint.as_str()) {
        return Ok(None);
    }
    let legacy = writer.channels_fingerprint().is_none();
    let deriver = wayfarer_ingest::derive::ChannelDeriver::new(&config.channels)
        .map_err(|e| anyhow::anyhow!("channel rules: {e}"))?;
    let limits = wayfarer_ingest::decode::Limits::from_config(&config.ingest);
    let started = std::time::Instant::now();
    let stats = writer.rederive_channels(&fingerprint, &|e, stored| wayfarer_store::Derived {
        channel: deriver.rederive(e, stored, legacy),
        // An out-of-range value stays a property, as it would at import.
        revenue: match limits.revenue_from_property(e) {
            Ok(Some((r, _))) if r.abs() <= limits.max_revenue => Some(r),
            _ => e.revenue,
        },
    })?;
    if stats.rows_changed > 0 || force {
        eprintln!(
            "Channel rules {}: derived the channels and revenue of {} events again ({} changed, {} segments rewritten) in {:.1} s",
            if force { "applied" } else { "changed" },
            wayfarer_render::count(stats.rows),
            wayfarer_render::count(stats.rows_changed),
            stats.segments_rewritten,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(Some(stats))
}

/// Loads the configuration: --config, else DIR/wayfarer.toml, else defaults.
pub fn load_config(g: &crate::cli::Global, dir: &Path) -> Result<(Config, Option<PathBuf>)> {
    let path = match &g.config {
        Some(p) => Some(p.clone()),
        None => Some(dir.join(CONFIG_FILE)).filter(|p| p.is_file()),
    };
    match path {
        Some(p) => {
            let text = std::fs::read_to_string(&p).with_context(|| format!("reading configuration {}", p.display()))?;
            let c = Config::from_toml(&text, &p.display().to_string())?;
            Ok((c, Some(p)))
        }
        None => Ok((Config::default(), None)),
    }
}

/// Builds an analysis scope from the common flags.
pub fn scope(args: &ScopeArgs) -> Result<Scope> {
    let parse = |s: &Option<String>, flag: &str| -> Result<Option<i64>> {
        s.as_deref()
            .map(|v| wayfarer_core::time::parse_date_arg(v).map_err(|e| anyhow::anyhow!("--{flag}: {e}")))
            .transpose()
    };
    let from = parse(&args.from, "from")?;
    let to = parse(&args.to, "to")?;
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        bail!("--from must be before --to");
    }
    Ok(Scope { from, to, persona: args.persona.clone() })
}

/// Writes one line to stdout; a broken pipe becomes [`Closed`].
pub fn emit(line: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(anyhow::Error::new(Closed)),
        other => Ok(other?),
    }
}

/// Stdout was closed by the reader: not a failure.
#[derive(Debug)]
pub struct Closed;

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("output closed")
    }
}

impl std::error::Error for Closed {}

/// A hint for an error, from the shared error-code table.
pub fn hint_for(e: &anyhow::Error) -> Option<&'static str> {
    match e.chain().find_map(|c| c.downcast_ref::<StoreError>()) {
        Some(StoreError::Remote(_)) => {
            return Some(
                "Check that the scheduler runs at that address with its executors registered (it prints \
                 'executors: N registered'), and that every machine mounts the data directory at the same path.",
            );
        }
        Some(StoreError::Objects(_)) => {
            return Some(
                "Check the URL and this process's AWS_* variables: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
                 AWS_REGION, and for an S3-compatible server AWS_ENDPOINT_URL (with AWS_ALLOW_HTTP=true for http://).",
            );
        }
        _ => {}
    }
    code_for(e).map(wayfarer_core::ErrorCode::hint)
}

/// The error's code in the shared table, when it has one.
pub fn code_for(e: &anyhow::Error) -> Option<wayfarer_core::ErrorCode> {
    for cause in e.chain() {
        if let Some(s) = cause.downcast_ref::<StoreError>() {
            return Some(s.code());
        }
        if let Some(s) = cause.downcast_ref::<ImportError>() {
            return Some(s.code());
        }
        if let Some(s) = cause.downcast_ref::<EngineError>() {
            return Some(s.code());
        }
        if cause.downcast_ref::<wayfarer_core::config::ConfigError>().is_some() {
            return Some(wayfarer_core::ErrorCode::ConfigInvalid);
        }
    }
    None
}

/// Microseconds since the epoch, now.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// Terminal width for tables.
pub fn term_width() -> u16 {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(160)
}
