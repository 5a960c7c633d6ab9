//! Command-line flags, defined once: every option is also a `WAYFARER_*`
//! environment variable and a `[options.COMMAND]` key of `wayfarer.toml`
//! (precedence flag > environment > file > default; `options.rs` adds the
//! variables and the file's values, docs/configuration.md lists them all).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "wayfarer",
    version,
    about = "Evidence-based customer journey maps from every interaction your customers have with you.",
    long_about = "Wayfarer turns events (web and app analytics, campaigns, email, support, purchases, surveys, reviews) \
into a customer journey map built from evidence: stages, touchpoints, channels, emotions, pain points with the numbers \
that prove them, and opportunities. One binary, an embedded store.\n\n\
Start with `wayfarer demo`, then `wayfarer import --data DIR your-events.csv` and `wayfarer map --data DIR`.",
    after_help = "Data lives in one directory (--data, env WAYFARER_DATA, default ./wayfarer-data). \
The configuration (stages, touchpoints, channel rules, personas) is read from --config, else DIR/wayfarer.toml, else built-in defaults; \
`wayfarer config init` writes the documented default."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Data directory (map, funnel, paths, retention, rfm and sessions also read an object-store URL a
    /// data directory was published to: s3://BUCKET/PREFIX or file:///PATH; needs --features distributed).
    #[arg(long, global = true, env = "WAYFARER_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Configuration file (default: DIR/wayfarer.toml if present, else built-in defaults).
    #[arg(long, global = true, env = "WAYFARER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// No progress bars or chatter on stderr.
    #[arg(long, short, global = true, env = "WAYFARER_QUIET")]
    pub quiet: bool,
    /// Cancels the command's computation (the server sets it per query;
    /// never cancelled on the command line).
    #[arg(skip)]
    pub cancel: wayfarer_core::Cancel,
    /// The store and configuration to read (the server sets one per
    /// request; on the command line they come from --data and --config).
    #[arg(skip)]
    pub snapshot: Option<std::sync::Arc<crate::cmd::Snapshot>>,
    /// Where the command's folds run when not here: a cluster (set from
    /// --cluster), or an executor replaying a cluster query.
    #[arg(skip)]
    pub runner: Option<std::sync::Arc<dyn wayfarer_store::remote::FoldRunner>>,
    /// A cluster executor replaying a client's command: it reads the data
    /// as the client left it and writes nothing.
    #[arg(skip)]
    pub replay: bool,
}

/// Where a query runs: here (the default) or on a Ballista cluster.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// Run the analysis on the Ballista cluster whose scheduler listens at URL (df://HOST:PORT or
    /// HOST:PORT; needs --features distributed): executors read the data directory's segments at
    /// the same path, or from the object store --data names; the answer is the embedded run's.
    #[arg(long, value_name = "URL")]
    pub cluster: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a synthetic company, import it, and build its journey map (the two-minute tour).
    Demo(DemoArgs),
    /// Import events from CSV, NDJSON (Segment messages or flat rows) or Parquet files.
    Import(ImportArgs),
    /// Build the journey map: stages, touchpoints, channels, emotions, pain points, opportunities.
    Map(MapArgs),
    /// Count sessions (a gap of more than 30 minutes starts a new one), bounces and engaged sessions.
    Sessions(SessionsArgs),
    /// Funnel conversion with ClickHouse windowFunnel semantics, plus exclusions, breakdowns and trends.
    Funnel(FunnelArgs),
    /// Consecutive-event transitions, the most frequent paths, and a Sankey of them.
    Paths(PathsArgs),
    /// Cohort retention, lifecycle (new, returning, resurrecting, dormant) and churn per period.
    Retention(RetentionArgs),
    /// Per-customer RFM inputs (frequency, recency, T, monetary) as BG/NBD defines them.
    Rfm(RfmArgs),
    /// NPS, CSAT, CES and text sentiment by stage, touchpoint, persona, channel and period.
    Surveys(SurveysArgs),
    /// Customer lifetime value: historic, and predicted with BG/NBD and Gamma-Gamma.
    Clv(ClvArgs),
    /// Discover personas by clustering behaviour (k-means++, k by silhouette).
    Personas(PersonasArgs),
    /// Multi-touch attribution of conversions to channels (heuristics, Markov, Shapley).
    Attribution(AttributionArgs),
    /// Discovery: which first touchpoints, channels and content bring the customers who buy, with
    /// conversion, days to the first purchase and 12-month CLV per source.
    Discovery(DiscoveryArgs),
    /// Loyalty: how many customers reach each loyalty action (referral, review, repeat order,
    /// upgrade, or your own), by persona, and the journeys that precede them.
    Loyalty(LoyaltyArgs),
    /// One customer: identities, traits, current stage, persona, purchases, channels and timeline.
    Customers(CustomersArgs),
    /// Next-best-action: which channel moves customers of a stage (and persona) to the next stage,
    /// with the evidence; for one customer, the best they have not had.
    Nba(NbaArgs),
    /// Product recommendations (co-occurrence, EASE) for a customer, or their evaluation against
    /// popularity on the purchases after a split date.
    Recommend(RecommendArgs),
    /// The journey map's opportunities with their customer and business value, the team's effort
    /// (0–5) and owner, and score = value ÷ effort; `plan ID --effort N --owner NAME` sets them.
    #[command(subcommand)]
    Opportunities(OpportunitiesCommand),
    /// KPI targets on map cells ("Decision conversion >= 65 %", with an owner): add, list (met or
    /// missed now and in every snapshot), delete.
    #[command(subcommand)]
    Targets(TargetsCommand),
    /// Add a dated annotation ("2026-08-01" "Checkout redesigned"): a marker on trend charts,
    /// and what `wayfarer map --around` compares before and after.
    Annotate(AnnotateArgs),
    /// Dated annotations: list or delete them.
    #[command(subcommand)]
    Annotations(AnnotationsCommand),
    /// Saved segments: customers by a condition (traits, behaviour, stage, persona, channel, NPS),
    /// their members, and ad-platform audiences.
    #[command(subcommand)]
    Segments(SegmentsCommand),
    /// Triggers (DIR/triggers.toml): act when a customer enters a stage or segment or does
    /// something, after a wait, with a held-out control group, and measure the effect.
    #[command(subcommand)]
    Triggers(TriggersCommand),
    /// The outbox of triggers' actions: the delivery log, delivering due webhooks, and retrying
    /// dead letters.
    #[command(subcommand)]
    Actions(ActionsCommand),
    /// Referrals: each referrer's code, the clicks on their link, the conversions it brought
    /// and their revenue, and the redemptions of the offers' discount codes.
    Referrals {
        /// Print JSON: {"referrers": [{"customer", "code", "clicks", "conversions", "revenue",
        /// "discount_code"}], "discount_redemptions": [[CODE, N]]}.
        #[arg(long)]
        json: bool,
    },
    /// Read-only SQL over the events (table `events`) with Apache DataFusion (needs --features sql).
    Sql(SqlArgs),
    /// Run a Ballista scheduler or executor for --cluster queries (needs --features distributed).
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Generate the synthetic company's events without importing them (for tests and benchmarks).
    Simulate(SimulateArgs),
    /// Configuration: write the documented default, or show the one in effect.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check how the configuration fits the data: event names no stage rule knows, rules matching nothing,
    /// stages nobody reaches, empty personas, unassigned channels, data too thin for the models.
    Doctor(DoctorArgs),
    /// Derive every stored event's channel and revenue again with the configuration's channel rules
    /// and [ingest] revenue_property (done automatically by the next command when they change;
    /// this forces it).
    Reindex,
    /// Run the HTTP server: the dashboard (/), Segment-compatible ingestion (/v1/*), the query API (/api/*), metrics.
    Serve(ServeArgs),
    /// Serve every analysis as an MCP tool over stdin and stdout, for AI assistants (the server
    /// offers the same tools at POST /mcp): `{"command": "wayfarer", "args": ["mcp", "--data", DIR]}`.
    Mcp(McpArgs),
    /// API keys: write keys for ingestion, read tokens for queries.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print JSON: {"customers", "events", "checks": [{"check", "level" (ok, warning, problem), "message", "items"}]}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default; use 0.0.0.0:PORT to accept other machines).
    #[arg(long, env = "WAYFARER_BIND", default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,
    /// How often acknowledged events are folded into the store (milliseconds); queries see an
    /// event within about this long after it was acknowledged.
    #[arg(long, env = "WAYFARER_FOLD_MS", default_value_t = 500, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub fold_ms: u64,
    /// Longest a query API request or dashboard page may run (seconds, fractions allowed, or a
    /// duration such as 2m; at most an hour); then it is stopped and answered with 504.
    #[arg(long, env = "WAYFARER_QUERY_TIMEOUT", default_value = "60", value_name = "SECONDS",
          value_parser = seconds)]
    pub query_timeout: std::time::Duration,
    /// How long a client may take (seconds): to send a request's headers (also how long an idle
    /// connection stays open), between two parts of a request body (ten times this in all), and
    /// to read an answer that makes no progress.
    #[arg(long, env = "WAYFARER_CLIENT_TIMEOUT", default_value = "30", value_name = "SECONDS",
          value_parser = seconds)]
    pub client_timeout: std::time::Duration,
    /// Queries and dashboard pages computed or waiting at once; more are answered with 503.
    /// They run on their own threads (one per core), apart from ingestion and folding.
    #[arg(long, env = "WAYFARER_MAX_QUERIES", default_value_t = 16, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_queries: u64,
    /// Connections served at once; more wait until one closes (default: what the open-files
    /// limit leaves after a reserve for the store, at most 10000).
    #[arg(long, env = "WAYFARER_MAX_CONNECTIONS", value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: Option<u64>,
    /// Free disk space kept besides twice the staged events not yet folded (MiB): an ingestion
    /// request that would leave less is refused with 503 and retried by the client, so what is
    /// acknowledged can always be folded into the store (default: 1/32 of the file system,
    /// between 1 and 256 MiB).
    #[arg(long, env = "WAYFARER_DISK_RESERVE", value_name = "MIB",
          value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub disk_reserve: Option<u64>,
    /// Do not compute the dashboard's main pages in the background (at start-up and after
    /// new data); each is then computed when first asked for.
    #[arg(long, env = "WAYFARER_NO_WARM")]
    pub no_warm: bool,
    /// Do not save a snapshot of each complete month's map (`month-YYYY-MM` in DIR/snapshots/;
    /// by default the server saves the ones missing for the last twelve months with data).
    #[arg(long, env = "WAYFARER_NO_SNAPSHOTS")]
    pub no_snapshots: bool,
    /// When to look for missing monthly snapshots first (then every minute).
    #[arg(long, env = "WAYFARER_SNAPSHOTS_AFTER", default_value = "20", value_name = "SECONDS", value_parser = seconds)]
    pub snapshots_after: std::time::Duration,
    /// For simulations: run the server on an accelerated clock that starts at this time (the
    /// times it stamps on events, trigger timers and link expiry follow it; see
    /// `simulate --live`). Default: the wall clock.
    #[arg(long, env = "WAYFARER_CLOCK_START", value_name = "TIME",
          value_parser = wayfarer_core::time::parse_date_arg)]
    pub clock_start: Option<i64>,
    /// With --clock-start: how many times faster than real time the clock runs (e.g. 43200:
    /// a day in two seconds).
    #[arg(long, env = "WAYFARER_CLOCK_SPEED", value_name = "FACTOR", default_value_t = 1.0,
          requires = "clock_start", value_parser = clock_speed)]
    pub clock_speed: f64,
}

fn clock_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (1.0..=10_000_000.0).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a speed between 1 and 10000000")),
    }
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (once: only its hash is stored).
    Create {
        /// A write key, for ingestion (/v1/*).
        #[arg(long, conflicts_with_all = ["read", "admin", "profile"], required_unless_present_any = ["read", "admin", "profile"])]
        write: bool,
        /// A read token, for queries (/api/*, /metrics) and the dashboard.
        #[arg(long, conflicts_with_all = ["admin", "profile"])]
        read: bool,
        /// An admin token: what a read token may do, and creating, changing and deleting segments
        /// (API and dashboard).
        #[arg(long, conflicts_with = "profile")]
        admin: bool,
        /// A profile key: customer profiles (/api/profiles/{id}) and nothing else, for a website's
        /// or an email tool's backend.
        #[arg(long)]
        profile: bool,
        /// A name to recognise it by.
        #[arg(long)]
        name: Option<String>,
    },
    /// List keys (ids, names, kinds, dates; never the keys).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by its id or name; the server refuses it from the next request on.
    Revoke {
        /// The key's id (as `keys list` shows it) or name.
        key: String,
    },
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of synthetic customers (about 50 events each).
    #[arg(long, env = "WAYFARER_DEMO_CUSTOMERS", default_value_t = 20_000)]
    pub customers: usize,
    /// Random seed; the same seed gives the same company.
    #[arg(long, env = "WAYFARER_DEMO_SEED", default_value_t = 7)]
    pub seed: u64,
    /// Length of the simulated period in days.
    #[arg(long, env = "WAYFARER_DEMO_DAYS", default_value_t = 184)]
    pub days: u32,
    /// Where to write the HTML report.
    #[arg(long, env = "WAYFARER_DEMO_OUT", default_value = "journey-map.html", value_name = "FILE")]
    pub out: PathBuf,
    /// Delete the demo data directory first instead of re-using it.
    #[arg(long)]
    pub fresh: bool,
    /// When the company fixes its shipping-costs page for deal hunters (a dated change to find
    /// with `wayfarer map --around`): halfway, a date, or none.
    #[arg(long, env = "WAYFARER_DEMO_INTERVENTION", default_value = "halfway", value_name = "WHEN")]
    pub intervention: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum InputFormat {
    Csv,
    Ndjson,
    Parquet,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files to import (format from the extension: .csv, .ndjson/.jsonl/.json, .parquet).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Format of every file, whatever its extension.
    #[arg(long, env = "WAYFARER_FORMAT", value_enum)]
    pub format: Option<InputFormat>,
    /// Where to write rejected records (default: DIR/rejects/import-<time>.ndjson).
    #[arg(long, env = "WAYFARER_REJECTS", value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also print where the time went: reading and decoding, deduplication and identities, sorting,
    /// encoding, fsync, compaction (the JSON summary always has them).
    #[arg(long)]
    pub timings: bool,
}

/// Which personas the map is split by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PersonaSource {
    /// The configuration's hand-written personas if it has any, else discovered ones.
    Auto,
    /// The hand-written personas of the configuration.
    Configured,
    /// Personas discovered by clustering (as `wayfarer personas` finds them).
    Discovered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MapFormat {
    Text,
    Json,
    Html,
    Csv,
    Xlsx,
    /// The map as one SVG picture.
    Svg,
    /// The same picture as PNG (rendered with resvg).
    Png,
}

/// Saving the report's charts and tables (the dashboard's exports).
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write a chart or table to FILE instead of printing; the format is the
    /// extension: .svg, .png, .csv, .xlsx or .html (.html and .xlsx without
    /// --chart hold every chart and table).
    #[arg(long, value_name = "FILE")]
    pub export: Option<PathBuf>,
    /// Which chart or table to export (default: the first chart); the names
    /// are listed when an unknown one is asked for.
    #[arg(long, value_name = "NAME", requires = "export")]
    pub chart: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ScopeArgs {
    /// Only this persona (a hand-written persona of the configuration; for the map, also a discovered one).
    #[arg(long, env = "WAYFARER_PERSONA")]
    pub persona: Option<String>,
    /// Only events at or after this date/time (e.g. 2026-05-01 or 2026-05-01T12:00:00Z).
    #[arg(long, env = "WAYFARER_FROM", value_name = "DATE")]
    pub from: Option<String>,
    /// Only events before this date/time.
    #[arg(long, env = "WAYFARER_TO", value_name = "DATE")]
    pub to: Option<String>,
    /// Only the customers of this saved segment (`wayfarer segments list`).
    #[arg(long, env = "WAYFARER_SEGMENT", value_name = "NAME")]
    pub segment: Option<String>,
}

#[derive(Debug, Args)]
pub struct MapArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Output format.
    #[arg(long, env = "WAYFARER_MAP_FORMAT", value_enum, default_value = "text")]
    pub format: MapFormat,
    /// Same as --format json.
    #[arg(long)]
    pub json: bool,
    /// Personas of the per-persona maps (HTML and XLSX) and of --persona.
    #[arg(long, env = "WAYFARER_MAP_PERSONAS", value_enum, default_value = "auto")]
    pub personas: PersonaSource,
    /// Split customers by a segmentation instead of personas: first_channel, purchases,
    /// status, properties.NAME (the customer's latest value of an event property) or
    /// traits.NAME. HTML and XLSX get one tab per group (the 7 largest, then "Other values").
    #[arg(long, value_name = "KEY", conflicts_with = "persona")]
    pub split_by: Option<String>,
    /// With --split-by: the map of one group (e.g. --split-by properties.platform --group ios).
    #[arg(long, value_name = "VALUE", requires = "split_by")]
    pub group: Option<String>,
    /// Output file (default: stdout for text/json/csv, journey-map.html, .xlsx, .svg or .png otherwise).
    #[arg(long, env = "WAYFARER_MAP_OUT", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Compare two maps: A is a saved snapshot (`wayfarer map snapshots`) or a period FROM..TO
    /// (2026-07-01..2026-10-01; an end may be left open). Prints per stage and persona what
    /// changed from A to B, with tests; only changes significant at a 5 % false-discovery rate
    /// are flagged.
    #[arg(long, value_name = "A", requires = "vs", conflicts_with_all = ["split_by", "persona"])]
    pub compare: Option<String>,
    /// With --compare: the map compared with A (a snapshot or a period).
    #[arg(long, value_name = "B", requires = "compare")]
    pub vs: Option<String>,
    /// Compare the --days before a dated annotation (its id, or a word of its text) with the
    /// --days from it on (`wayfarer annotate DATE TEXT` adds one).
    #[arg(long, value_name = "ANNOTATION", conflicts_with_all = ["compare", "vs", "split_by", "persona", "from", "to"])]
    pub around: Option<String>,
    /// Comparing two periods: how long each customer who enters a stage is followed to see
    /// whether (and how fast) they reach the next one.
    #[arg(long, value_name = "DURATION", default_value = "14d")]
    pub horizon: String,
    /// With --around: the days on each side.
    #[arg(long, value_name = "N", default_value_t = 28, value_parser = clap::value_parser!(u32).range(1..=3660))]
    pub days: u32,
    #[command(subcommand)]
    pub action: Option<MapAction>,
}

#[derive(Debug, Subcommand)]
pub enum MapAction {
    /// Save the map of all customers and of each persona, with the configuration's hash, the
    /// data range and the notes, in DIR/snapshots/NAME.json (compare it later with --compare).
    Snapshot {
        /// The snapshot's name (default: the data's last day, e.g. 2026-10-01).
        #[arg(long)]
        name: Option<String>,
        /// Replace a snapshot of the same name.
        #[arg(long)]
        replace: bool,
        /// Only events at or after this date (a snapshot of a period).
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Only events before this date.
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
        /// Personas of the per-persona maps.
        #[arg(long, value_enum, default_value = "auto")]
        personas: PersonaSource,
        /// Print the snapshot's summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the saved snapshots: name, data range, customers, personas, configuration hash.
    Snapshots {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a saved snapshot.
    DeleteSnapshot { name: String },
}

#[derive(Debug, Subcommand)]
pub enum OpportunitiesCommand {
    /// Every opportunity of the map of all customers, by score (those with an effort), then as found.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set an opportunity's effort (0 = trivial … 5 = a project) and owner.
    Plan {
        /// The opportunity's id (`opportunities list` shows them).
        id: String,
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=5))]
        effort: u8,
        #[arg(long, default_value = "")]
        owner: String,
    },
    /// Forget an opportunity's effort and owner.
    Unplan { id: String },
}

#[derive(Debug, Subcommand)]
pub enum TargetsCommand {
    /// Add a KPI target on a stage (and persona): METRIC OP VALUE.
    Add {
        #[arg(long)]
        stage: String,
        /// conversion, reach, time_to_next, emotion or nps.
        #[arg(long)]
        metric: String,
        /// >= or <=.
        #[arg(long, default_value = ">=")]
        op: String,
        /// The number: a share (65 %, 65 or 0.65), a time (2d), an emotion or an NPS.
        #[arg(long)]
        value: String,
        /// Who owns it.
        #[arg(long, default_value = "")]
        owner: String,
        /// Only this persona's map.
        #[arg(long)]
        persona: Option<String>,
    },
    /// Every target: met or missed by the map now, and in each snapshot.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a target by its id.
    Delete { id: u64 },
}

#[derive(Debug, Args)]
pub struct AnnotateArgs {
    /// When it happened: a date (2026-08-01) or a time (2026-08-01T09:00:00Z).
    pub date: String,
    /// What happened ("Checkout redesigned").
    pub text: String,
}

#[derive(Debug, Subcommand)]
pub enum AnnotationsCommand {
    /// Every annotation, in time order.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete an annotation by its id.
    Delete { id: u64 },
}

#[derive(Debug, Args)]
pub struct SessionsArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Print JSON: {"customers", "events", "sessions", "bounce_sessions", "engaged_sessions", "total_duration_seconds"}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The query, e.g. "SELECT event, count(*) FROM events GROUP BY event ORDER BY 2 DESC".
    #[arg(value_name = "QUERY")]
    pub query: String,
    /// Return at most this many rows (1–100000).
    #[arg(long, default_value_t = 1000, value_parser = between(1, 100_000))]
    pub limit: usize,
    /// Print JSON: {"columns", "rows", "row_limit", "truncated"}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum TriggersCommand {
    /// Check DIR/triggers.toml against the data: every error names the trigger and the key.
    Check {
        /// Print JSON: [{"name", "when", "wait", "holdout", "action"}].
        #[arg(long)]
        json: bool,
    },
    /// The triggers with what they did: occurrences recorded, acted on, held out, pending and
    /// dead deliveries.
    List {
        /// Print JSON: [{"name", "paused", "recorded", "acted", "held_out", "pending", "delivered",
        /// "dead"}].
        #[arg(long)]
        json: bool,
    },
    /// Evaluate the triggers now and record the actions that are due in the outbox (then
    /// `wayfarer actions deliver` sends them; the server does both after each commit). An
    /// occurrence is acted on once however often this runs.
    Run {
        /// Back-fill: consider occurrences from this date or time (default: each trigger's
        /// `start`, else when it was first evaluated).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Show what would be recorded without recording it.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON: {"triggers": [{"name", "occurrences", "due", "held_out", "waiting",
        /// "cancelled", "expired", "not_if", "limited", "recorded_before", "recorded"}]}.
        #[arg(long)]
        json: bool,
    },
    /// Test a trigger with one customer: each occurrence in their data, what became of it, and the
    /// action that would be recorded (the webhook's payload, the rendered email, the survey or
    /// referral link), without recording anything.
    Preview {
        name: String,
        /// The customer (user id or anonymous id).
        #[arg(long, value_name = "ID")]
        customer: String,
        /// Print JSON: [{"occurred_at", "due_at", "outcome", "held_out", "action", "payload"}].
        #[arg(long)]
        json: bool,
    },
    /// Pause a trigger (`paused = true` in DIR/triggers.toml): it records nothing and acts on
    /// nothing until resumed; what it recorded stays.
    Pause {
        name: String,
        /// Print JSON: {"trigger", "paused"}.
        #[arg(long)]
        json: bool,
    },
    /// Resume a paused trigger. Occurrences while it was paused are not acted on.
    Resume {
        name: String,
        /// Print JSON: {"trigger", "paused"}.
        #[arg(long)]
        json: bool,
    },
    /// Add a trigger, or replace the one called NAME, with a `[[trigger]]` block of TOML (what the
    /// dashboard's editor does); the file is checked against the data before it is written, and
    /// its comments and other triggers are kept.
    Save {
        /// The trigger to replace (none: a new trigger).
        name: Option<String>,
        /// The definition: `[[trigger]]` and its keys and tables, as in DIR/triggers.toml.
        #[arg(long, value_name = "TOML")]
        definition: String,
        /// Print JSON: {"trigger", "saved"}.
        #[arg(long)]
        json: bool,
    },
    /// Remove a trigger from DIR/triggers.toml (its recorded actions stay in the outbox).
    Delete {
        name: String,
        /// Print JSON: {"trigger", "deleted"}.
        #[arg(long)]
        json: bool,
    },
    /// A trigger's measured effect: customers acted on and held out, the goal reached in each
    /// arm, the difference and relative lift with 95 % confidence intervals, and the p-value.
    Report {
        name: String,
        /// Only the actions due at or after this time.
        #[arg(long, value_name = "TIME", value_parser = wayfarer_core::time::parse_date_arg)]
        since: Option<i64>,
        /// Only the actions due at or before this time (a date means its start).
        #[arg(long, value_name = "TIME", value_parser = wayfarer_core::time::parse_date_arg)]
        until: Option<i64>,
        /// Print JSON: {"trigger", "goal", "goal_within", "recorded", "effect": {"acted",
        /// "acted_goal", "held_out", "held_out_goal", "rate_acted", "rate_held_out",
        /// "difference", "difference_ci", "relative_lift", "relative_lift_ci", "p_value"}}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ActionsCommand {
    /// The delivery log: each action with its state (pending, delivered, dead, recorded),
    /// attempts and last error.
    Log {
        /// Only this trigger's.
        #[arg(long)]
        trigger: Option<String>,
        /// Only this customer's.
        #[arg(long)]
        customer: Option<String>,
        /// Only actions in this state.
        #[arg(long, value_parser = ["pending", "delivered", "dead", "recorded"])]
        state: Option<String>,
        /// Show at most this many, newest first (text only).
        #[arg(long, default_value_t = 50, value_parser = between(1, 1_000_000))]
        limit: usize,
        /// Print JSON: every matching action.
        #[arg(long)]
        json: bool,
    },
    /// Deliver the webhooks that are due now: POST with Wayfarer-Signature (t=UNIX,v1=HMAC-SHA256
    /// of "t.body") and Idempotency-Key; a 2xx is delivered, anything else is retried with
    /// exponential backoff and jitter, and after max_attempts goes to the dead letters.
    Deliver {
        /// Print JSON: {"delivered", "failed", "dead"}.
        #[arg(long)]
        json: bool,
    },
    /// Put dead letters back to be delivered (all of them, or one by id).
    Retry {
        /// Only this action.
        #[arg(long)]
        id: Option<String>,
        /// Print JSON: {"retried"}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SegmentsCommand {
    /// Save a segment: the customers a condition holds for. The condition is checked against the
    /// data first; an unknown field, event, stage or persona is an error naming its column.
    /// Examples: "did 'Order Completed' >= 2 within 90d", "persona = 'Deal hunters' and
    /// did 'Page Viewed' and not did 'Order Completed'", "stage >= 'Purchase' and
    /// nps_group = 'promoter'", "traits.plan = 'pro' and favourite_channel = 'Email'".
    Create {
        /// The segment's name: letters, digits, spaces, '-', '_' and '.' (1–64 characters).
        name: String,
        /// The condition over a whole customer: traits.NAME, properties.NAME (the latest value),
        /// first_channel, favourite_channel, stage (ordered: stage >= 'Purchase'), persona,
        /// discovered_persona, nps_group, churned, clv, p_alive, first_seen, last_seen, orders, revenue_total, events,
        /// did 'EVENT'[condition] [>= N] [within 90d], and did PATTERN [>= N] with a path pattern
        /// ('Product Viewed' -> [^'Order Completed']* -> 'Product Viewed' within 7d; the README's
        /// "Path patterns").
        #[arg(long = "where", value_name = "CONDITION")]
        condition: String,
        /// What the segment is for.
        #[arg(long, default_value = "")]
        description: String,
        /// Replace a segment of the same name.
        #[arg(long)]
        replace: bool,
        /// Print JSON: {"name", "condition", "description", "created_at", "updated_at", "customers"}.
        #[arg(long)]
        json: bool,
    },
    /// How many customers a condition holds, without saving it (the dashboard's live count).
    Count {
        /// The condition, as for `create`.
        #[arg(long = "where", value_name = "CONDITION")]
        condition: String,
        /// Print JSON: {"customers", "of"}.
        #[arg(long)]
        json: bool,
    },
    /// List the saved segments with their sizes.
    List {
        /// Print JSON: [{"name", "condition", "description", "created_at", "updated_at", "customers"}].
        #[arg(long)]
        json: bool,
    },
    /// One segment: its definition and size, by stage.
    Show {
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The customers of a segment (id, stage, events, first and last seen, email, phone).
    Members {
        name: String,
        /// Print JSON.
        #[arg(long, conflicts_with = "format")]
        json: bool,
        /// Print as a table (text) or CSV.
        #[arg(long, value_enum, default_value = "text")]
        format: MembersFormat,
        /// Show at most this many (text only; JSON and CSV have every member).
        #[arg(long, default_value_t = 50, value_parser = between(1, 1_000_000))]
        limit: usize,
    },
    /// Who entered and left a segment, and when, as the server recorded it after each commit of
    /// new events (a new or changed segment starts from its members, without entries).
    Changes {
        name: String,
        /// Only changes at or after this date/time.
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Only this customer's (their canonical id, as `segments members` shows it).
        #[arg(long, value_name = "ID")]
        customer: Option<String>,
        /// Print JSON: [{"at", "at_us", "segment", "customer", "change" (entered or left)}].
        #[arg(long)]
        json: bool,
    },
    /// Bring live membership up to date now, recording who entered and who left each segment
    /// since the last refresh: what the server does after each commit, for data imported
    /// without it. Only customers with new rows are decided again while every condition reads
    /// only the customer's own events (no `within` window, churned, clv, p_alive or
    /// discovered_persona).
    Refresh {
        /// Print JSON: {"generation", "segments", "entered", "left", "started", "decided",
        /// "incremental", "seconds"}.
        #[arg(long)]
        json: bool,
    },
    /// Delete a saved segment.
    Delete {
        name: String,
        /// Print JSON: {"deleted": NAME}.
        #[arg(long)]
        json: bool,
    },
    /// Write a segment as an ad-platform audience: SHA-256 of each member's trimmed, lower-cased
    /// email and of their E.164 phone, under the column names Google Customer Match (Email, Phone)
    /// or Meta Custom Audiences (email, phone) accept.
    Export {
        name: String,
        /// The CSV file to write.
        #[arg(long, value_name = "FILE.csv")]
        audience: PathBuf,
        /// Whose format: Google hashes the phone with its '+', Meta hashes its digits only.
        #[arg(long, value_enum, default_value = "google")]
        platform: AudiencePlatform,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MembersFormat {
    Text,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AudiencePlatform {
    Google,
    Meta,
}

#[derive(Debug, Args)]
pub struct RecommendArgs {
    /// The customer (user id or anonymous id) to recommend products to.
    #[arg(long, value_name = "ID", required_unless_present = "evaluate", conflicts_with = "evaluate")]
    pub customer: Option<String>,
    /// Train before --split and score the purchases after it: hit rate, NDCG and recall at --n for
    /// popularity, co-occurrence and EASE.
    #[arg(long)]
    pub evaluate: bool,
    /// The date that splits training from test purchases (default: 80 % into the data's span).
    #[arg(long, value_name = "DATE", requires = "evaluate")]
    pub split: Option<String>,
    /// How many products (1–1000).
    #[arg(long, default_value_t = 10, value_parser = between(1, 1000))]
    pub n: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct NbaArgs {
    /// The stage whose customers to move on (its next stage is the goal); with --customer, their
    /// current stage.
    #[arg(long, value_name = "STAGE", required_unless_present = "customer")]
    pub stage: Option<String>,
    /// Only customers of this configured persona; with --customer, theirs.
    #[arg(long)]
    pub persona: Option<String>,
    /// One customer (user id or anonymous id): the best action for them, leaving out channels they
    /// already had.
    #[arg(long, value_name = "ID", conflicts_with_all = ["stage", "persona"])]
    pub customer: Option<String>,
    /// Customers needed with and without a channel to judge it.
    #[arg(long, default_value_t = 30, value_parser = between(1, 1_000_000))]
    pub min_customers: usize,
    /// Significance level of a channel's effect (0–1, exclusive).
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Moving on counts within this long after entering the stage (7d, 12h…); customers who
    /// entered it less than this before the end of the data are left out.
    #[arg(long, default_value = "14d")]
    pub window: String,
    /// Print JSON: {"stage", "next_stage", "persona", "customers", "advanced", "base_rate",
    /// "actions": [{"channel", "customers_with", "rate_with", "rate_without", "lift", "p_value",
    /// "effect", "effect_ci", "effect_p_value", "recommended"}], "recommended", "too_few"}; with
    /// --customer also "customer", "had" and "next_best_action".
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CustomersArgs {
    /// The customer's user id or anonymous id.
    #[arg(value_name = "ID")]
    pub id: String,
    /// Show at most this many of the latest events (1–10000).
    #[arg(long, default_value_t = 200, value_parser = between(1, 10_000))]
    pub limit: usize,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FunnelArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Steps in order: an event name (globs allowed), optionally with a condition in brackets
    /// ("Order Completed[revenue > 100]", "Page Viewed[url ~ '*/pricing*']"), or stage:NAME;
    /// "?STEP" is optional (may be skipped), "{A, B}" is done when all of A and B happened after
    /// the previous step, in any order.
    #[arg(required = true, value_name = "STEP", num_args = 1..=32)]
    pub steps: Vec<String>,
    /// Also the paths before step 1: the last --context events of those who entered the funnel.
    #[arg(long, conflicts_with_all = ["between", "after_drop", "compare_previous"])]
    pub before: bool,
    /// Also the paths between step I and I+1: the events in between of those who made it, beside
    /// the next --context events of those who stopped at step I.
    #[arg(long, value_name = "I", conflicts_with_all = ["after_drop", "compare_previous"])]
    pub between: Option<usize>,
    /// Also what those who stopped at step I did next (the next --context events).
    #[arg(long, value_name = "I", conflicts_with = "compare_previous")]
    pub after_drop: Option<usize>,
    /// With --before, --between or --after-drop: events per path (1–20), and paths listed (--top).
    #[arg(long, default_value_t = 5, value_parser = between(1, 20), value_name = "N")]
    pub context: usize,
    /// With --before, --between or --after-drop: how many paths to list (1–100).
    #[arg(long, default_value_t = 10, value_parser = between(1, 100), value_name = "N")]
    pub top: usize,
    /// Conversion window from step 1, inclusive: 7d, 12h, 30m, 45s or seconds (at most 100 years).
    #[arg(long, env = "WAYFARER_FUNNEL_WINDOW", default_value = "7d")]
    pub window: String,
    /// ClickHouse windowFunnel mode.
    #[arg(long, env = "WAYFARER_FUNNEL_MODE", default_value = "default",
          value_parser = ["default", "strict_order", "strict_deduplication", "strict_increase"])]
    pub mode: String,
    /// An event that breaks the chain when it happens between steps (repeatable).
    #[arg(long, value_name = "EVENT")]
    pub exclude: Vec<String>,
    /// Longest time from the previous step to step K, as K=DURATION (e.g. 3=2h; repeatable).
    #[arg(long, value_name = "K=DURATION")]
    pub step_window: Vec<String>,
    /// Split by channel (of the step-1 event), first_channel, persona or property:NAME (of the step-1 event).
    #[arg(long)]
    pub breakdown: Option<String>,
    /// Conversion per period of the step-1 event: day, week or month.
    #[arg(long, value_name = "PERIOD", value_parser = ["day", "week", "month"])]
    pub trend: Option<String>,
    /// Also run the funnel over the previous period of the same length (needs --from and --to).
    #[arg(long)]
    pub compare_previous: bool,
    /// Count customers (each timeline once) or sessions (each session on its own; a gap longer
    /// than [sessions] timeout_minutes starts a new one).
    #[arg(long, default_value = "customer", value_parser = ["customer", "session"])]
    pub per: String,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub export: ExportArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PathsArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Who did what a path pattern says (e.g. "'Product Added' -> 'Shipping Viewed' -> [^Checkout
    /// Started]* -> $": added to cart, saw shipping costs, never checked out), with what they did
    /// right after and before the match (the README's "Path patterns").
    #[arg(long = "match", value_name = "PATTERN",
          conflicts_with_all = ["from_event", "to_event", "collapse_repeats", "clean", "export", "chart"])]
    pub pattern: Option<String>,
    /// The transition graph: every event (or page, with --by url) as a node and each pair of
    /// consecutive events as an edge, with transitions, customers, P(next|from), P(prev|to) and
    /// the median and p95 time between them.
    #[arg(long, conflicts_with_all = ["pattern", "from_event", "to_event", "collapse_repeats", "clean", "export", "chart"])]
    pub graph: bool,
    /// With --graph: leave out edges and nodes fewer customers made.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub min_customers: u64,
    /// With --graph: compare two groups edge by edge (a two-proportion test per edge and
    /// Benjamini–Hochberg q-values); with --step-matrix: the difference of their matrices.
    /// A group is `persona:NAME`, `segment:NAME` or a period `FROM..TO`.
    #[arg(long, value_name = "GROUP", requires = "vs")]
    pub compare: Option<String>,
    /// The group --compare is compared with.
    #[arg(long, value_name = "GROUP", requires = "compare")]
    pub vs: Option<String>,
    /// The step matrix: the share of customers with each event at each step of their path
    /// (Retentioneering's definition; `ENDED` after a path's last event).
    #[arg(long, conflicts_with_all = ["graph", "pattern", "from_event", "to_event", "collapse_repeats", "clean", "export", "chart"])]
    pub step_matrix: bool,
    /// With --step-matrix: step 0 is each customer's first such event (name or glob), and only
    /// customers who have it count.
    #[arg(long, value_name = "EVENT", requires = "step_matrix")]
    pub anchor: Option<String>,
    /// With --step-matrix: the steps shown, FIRST..LAST (default 1..10, or -5..10 with --anchor).
    #[arg(long, value_name = "FIRST..LAST", requires = "step_matrix", allow_hyphen_values = true)]
    pub steps: Option<String>,
    /// With --match: events kept after and before each match (1–20).
    #[arg(long, default_value_t = 5, value_parser = between(1, 20), value_name = "N")]
    pub context: usize,
    /// Paths start at each customer's first occurrence of this event.
    #[arg(long, value_name = "EVENT", conflicts_with = "to_event")]
    pub from_event: Option<String>,
    /// Paths end at each customer's first occurrence of this event.
    #[arg(long, value_name = "EVENT")]
    pub to_event: Option<String>,
    /// Events per path (1–20).
    #[arg(long, default_value_t = 5, value_parser = between(1, 20))]
    pub length: usize,
    /// How many top paths to list (1–1000).
    #[arg(long, default_value_t = 10, value_parser = between(1, 1000))]
    pub top: usize,
    /// Collapse repeated consecutive events into one.
    #[arg(long)]
    pub collapse_repeats: bool,
    /// Rewrite labels with a regex, as REGEX=>REPLACEMENT (repeatable, applied in order).
    #[arg(long, value_name = "REGEX=>REPLACEMENT")]
    pub clean: Vec<String>,
    /// Name nodes by event name, or by URL path for page and screen views.
    #[arg(long, default_value = "event", value_parser = ["event", "url"])]
    pub by: String,
    /// Count customers (each timeline once) or sessions (each session on its own; a gap longer
    /// than [sessions] timeout_minutes starts a new one).
    #[arg(long, default_value = "customer", value_parser = ["customer", "session"])]
    pub per: String,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub export: ExportArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RetentionArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Cohort and activity period: day, week (ISO, Monday, UTC) or month.
    #[arg(long, default_value = "week", value_parser = ["day", "week", "month"])]
    pub period: String,
    /// Report offsets 0 to N (1–500).
    #[arg(long, default_value_t = 8, value_parser = between(1, 500))]
    pub periods: usize,
    /// Cohorts by the first occurrence of this event (default: any event).
    #[arg(long, value_name = "EVENT")]
    pub start_event: Option<String>,
    /// Count a customer active in a period when they do this event (default: any event).
    #[arg(long, value_name = "EVENT")]
    pub return_event: Option<String>,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub export: ExportArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RfmArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// The purchase event (default: journey.purchase_event of the configuration).
    #[arg(long, value_name = "EVENT")]
    pub event: Option<String>,
    /// Ignore purchases after this date; T is measured to it (default: the end of the data).
    #[arg(long, value_name = "DATE")]
    pub calibration_end: Option<String>,
    /// Unit of recency and T: day or week (days / 7).
    #[arg(long, default_value = "day", value_parser = ["day", "week"])]
    pub unit: String,
    /// Include every customer's row in the JSON output.
    #[arg(long)]
    pub customers: bool,
    /// Write every customer's row to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct McpArgs {
    /// Longest one tool call may run (seconds, fractions allowed, or a duration such as 2m).
    #[arg(long, env = "WAYFARER_QUERY_TIMEOUT", default_value = "60", value_name = "SECONDS",
          value_parser = seconds)]
    pub query_timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Number of customers (about 47 events each).
    #[arg(long, conflicts_with = "events")]
    pub customers: Option<usize>,
    /// Aim for about this many events instead (e.g. 10M, 1.5M, 250k).
    #[arg(long)]
    pub events: Option<String>,
    /// Random seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Length of the simulated period in days.
    #[arg(long, default_value_t = 184)]
    pub days: u32,
    /// Write Segment messages as NDJSON here.
    #[arg(long, value_name = "FILE")]
    pub ndjson: Option<std::path::PathBuf>,
    /// Write the same events as flat Parquet rows here.
    #[arg(long, value_name = "FILE")]
    pub parquet: Option<std::path::PathBuf>,
    /// Write the benchmark table here (event_id, customer_id, timestamp, event, revenue; identities resolved).
    #[arg(long, value_name = "FILE")]
    pub bench: Option<std::path::PathBuf>,
    /// Write the ground truth here.
    #[arg(long, value_name = "FILE")]
    pub truth: Option<std::path::PathBuf>,
    /// Instead of the company, write a heavy-tailed e-commerce clickstream (Pareto sessions per
    /// customer, a Markov chain over 30 Segment e-commerce names, 8 channels, shuffled rows) to
    /// the --bench file, with a channel column; --days is its length.
    #[arg(long, requires = "bench", conflicts_with_all = ["ndjson", "parquet", "truth", "customers"])]
    pub clickstream: bool,
    /// Play the customers against a running server in accelerated time (start it with
    /// `serve --clock-start … --clock-speed …`), receive its triggers' webhooks on --listen and
    /// react with known true effects (answer surveys, refer friends, order after a reminder);
    /// --truth gets each trigger's true lift. --days is the period played.
    #[arg(long, requires_all = ["server", "write_key"], conflicts_with_all = ["ndjson", "parquet", "bench", "clickstream"])]
    pub live: bool,
    /// With --live: the server's URL (e.g. http://127.0.0.1:8787).
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// With --live: a write key of the server.
    #[arg(long, env = "WAYFARER_WRITE_KEY", value_name = "KEY", hide_env_values = true)]
    pub write_key: Option<String>,
    /// With --live: where to receive the triggers' webhooks (their url must point here).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8788")]
    pub listen: std::net::SocketAddr,
    /// With --live: days played after the last event, so the last actions' goal windows close.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub tail: u32,
}

#[derive(Debug, Args)]
pub struct SurveysArgs {
    /// Period of the trend: day, week or month.
    #[arg(long, default_value = "month", value_parser = ["day", "week", "month"])]
    pub period: String,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub export: ExportArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ClvArgs {
    /// The purchase event (default: journey.purchase_event of the configuration).
    #[arg(long, value_name = "EVENT")]
    pub event: Option<String>,
    /// End of the calibration period (inclusive; a date means the whole day). Default: the end of the data.
    #[arg(long, value_name = "DATE")]
    pub calibration_end: Option<String>,
    /// Time unit of recency, T and the horizon.
    #[arg(long, default_value = "week", value_parser = ["day", "week"])]
    pub unit: String,
    /// Prediction horizon, in units (default: a year; at most ten years).
    #[arg(long, value_parser = positive_number)]
    pub horizon: Option<f64>,
    /// Discount rate per month (0 to under 1).
    #[arg(long, default_value_t = 0.01, value_parser = rate)]
    pub discount_rate: f64,
    /// Include every purchasing customer's prediction.
    #[arg(long)]
    pub customers: bool,
    /// Include the N customers with the highest predicted CLV (1–100000).
    #[arg(long, value_name = "N", value_parser = between(1, 100_000))]
    pub top: Option<usize>,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub export: ExportArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DiscoveryArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// How a first touch is named: touchpoint, channel, content (campaign, else page path); comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "touchpoint,channel,content")]
    pub by: Vec<String>,
    /// Leave out sources that brought fewer customers.
    #[arg(long, default_value_t = 20)]
    pub min_customers: u64,
    /// Sources per table.
    #[arg(long, default_value_t = 15)]
    pub top: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LoyaltyArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// A loyalty action, NAME=EVENT or NAME=EVENT[condition] (repeatable; replaces the defaults:
    /// Referral Converted, Product Reviewed, a repeat order, *Upgraded).
    #[arg(long = "action", value_name = "NAME=EVENT")]
    pub actions: Vec<String>,
    /// Events shown before each action.
    #[arg(long, default_value_t = 4)]
    pub context: usize,
    /// Journeys listed per action.
    #[arg(long, default_value_t = 8)]
    pub top: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AttributionArgs {
    /// Model: first, last, linear, time_decay, position, markov, shapley, a comma-separated list, or all.
    #[arg(long, default_value = "all", value_name = "MODEL")]
    pub model: String,
    /// Order of the Markov chain (1–3): how many past channels a state remembers.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=3))]
    pub order: u8,
    /// The conversion event (default: journey.purchase_event of the configuration); its revenue is the value.
    #[arg(long, value_name = "EVENT")]
    pub conversion: Option<String>,
    /// Leave out touches older than this before a conversion (e.g. 30d; default: no limit).
    #[arg(long, value_name = "DURATION")]
    pub lookback: Option<String>,
    /// Half-life of the time-decay model.
    #[arg(long, default_value = "7d", value_name = "DURATION")]
    pub half_life: String,
    /// Attribute only each customer's first conversion (acquisition), not repeat ones.
    #[arg(long)]
    pub first_only: bool,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub export: ExportArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PersonasArgs {
    /// Number of personas, 1–20 (default: chosen by silhouette).
    #[arg(long, value_parser = between(1, 20))]
    pub k: Option<usize>,
    /// Largest number of personas tried (2–20).
    #[arg(long, default_value_t = 8, value_parser = between(2, 20))]
    pub max_k: usize,
    /// Seed of the clustering (the same seed gives the same personas).
    #[arg(long, default_value_t = 17)]
    pub seed: u64,
    /// Fit the clustering on at most this many customers (chosen by a hash of their id, 100 or
    /// more); every other customer joins the nearest persona.
    #[arg(long, default_value_t = wayfarer_engine::personas::FIT_SAMPLE, value_parser = between(100, 10_000_000))]
    pub fit_sample: usize,
    /// Write each customer's persona to this CSV file (customer_id,persona).
    #[arg(long, value_name = "FILE")]
    pub assignments: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub export: ExportArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Write the documented default configuration, or one proposed from the data (--from-data).
    Init {
        /// Where to write it (default: DIR/wayfarer.toml when --data is given, else ./wayfarer.toml).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
        /// Propose the configuration from the events already imported into DIR: stage rules
        /// placed by each event name's words and typical position, the purchase event,
        /// friction, support and passive events, readable touchpoints, and channel rules from a
        /// channel-like column (every guess commented in the file).
        #[arg(long)]
        from_data: bool,
    },
    /// Print the configuration in effect (after reading --config or DIR/wayfarer.toml).
    Show,
    /// Print the reference of every option: flag, environment variable, wayfarer.toml key, default (Markdown).
    Reference,
}

/// A whole number from `lo` to `hi` (clap names the flag in its error).
fn between(lo: u64, hi: u64) -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(lo..=hi)
}

/// A finite number greater than 0.
fn positive_number(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(_) => Err(format!("'{s}' must be a finite number greater than 0")),
        Err(_) => Err(format!("'{s}' is not a number")),
    }
}

/// A rate from 0 up to (not including) 1.
fn rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if (0.0..1.0).contains(&v) => Ok(v),
        Ok(_) => Err(format!("'{s}' must be at least 0 and less than 1")),
        Err(_) => Err(format!("'{s}' is not a number")),
    }
}

/// A time limit: seconds (fractions allowed) or a duration such as 2m,
/// from a millisecond to an hour.
fn seconds(s: &str) -> Result<std::time::Duration, String> {
    let micros = wayfarer_core::time::parse_duration(s)?;
    if (1_000..=3_600_000_000).contains(&micros) {
        Ok(std::time::Duration::from_micros(micros as u64))
    } else {
        Err(format!("'{s}' must be from 1 ms to an hour"))
    }
}

impl Command {
    /// The cluster a query command is to run on (--cluster).
    pub fn cluster(&self) -> Option<String> {
        match self {
            Command::Map(a) => a.cluster.cluster.clone(),
            Command::Sessions(a) => a.cluster.cluster.clone(),
            Command::Funnel(a) => a.cluster.cluster.clone(),
            Command::Paths(a) => a.cluster.cluster.clone(),
            Command::Retention(a) => a.cluster.cluster.clone(),
            Command::Rfm(a) => a.cluster.cluster.clone(),
            _ => None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Run a Ballista scheduler: clients (--cluster) submit queries to it, executors register with it.
    Scheduler {
        /// Address to listen on (keep it private: the cluster's ports have no authentication).
        #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
        bind: std::net::SocketAddr,
        /// An executor silent this long (it sends a heartbeat every 5 s) is lost: its tasks run again
        /// on the others, or its queries fail with an error.
        #[arg(long, default_value = "30s", value_name = "DURATION")]
        executor_timeout: String,
    },
    /// Run a Ballista executor: it registers with the scheduler and runs Wayfarer's folds over the
    /// segments of data directories it can read at the clients' paths.
    Executor {
        /// The scheduler (df://HOST:PORT or HOST:PORT).
        #[arg(long, value_name = "URL")]
        scheduler: String,
        /// Only read data under this path or object-store URL prefix (default: any the client names).
        #[arg(long, value_name = "DIR|URL")]
        data_root: Option<PathBuf>,
        /// Address to listen on for shuffle reads (Arrow Flight) and gRPC; keep it private.
        #[arg(long, default_value = "127.0.0.1", value_name = "HOST")]
        bind: String,
        /// The host name or address the scheduler and other executors reach this one at
        /// (default: --bind; required when --bind is 0.0.0.0).
        #[arg(long, value_name = "HOST")]
        advertise: Option<String>,
        /// Arrow Flight port.
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// gRPC port.
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Tasks run at once (default: the machine's cores).
        #[arg(long, value_name = "N")]
        concurrent_tasks: Option<usize>,
        /// Where shuffle files go (default: a temporary directory).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
    },
    /// Copy the committed state of the data directory (--data) to an object store, where a cluster's
    /// executors and any client read it with `--data URL`: segments and identity first, the manifest
    /// last; never API keys, token keys, staging, rejects or the outbox.
    Publish {
        /// s3://BUCKET/PREFIX (credentials, region and endpoint from AWS_* variables, e.g.
        /// AWS_ENDPOINT_URL for an S3-compatible server) or file:///PATH.
        #[arg(value_name = "URL")]
        url: String,
        /// Publish again this often (e.g. 1m), each time the data changed, until stopped.
        #[arg(long, value_name = "DURATION")]
        every: Option<String>,
        /// The URL holds another data directory's data (one deleted and imported again): remove it.
        #[arg(long)]
        replace: bool,
        /// Print JSON: {"url", "generation", "uploaded", "bytes", "unchanged", "removed"}.
        #[arg(long)]
        json: bool,
    },
}
