//! `wayfarer cluster scheduler|executor|publish`, `--cluster URL` on the
//! query commands, and `--data URL` (an object store a data directory was
//! published to) on the same commands (the `distributed` feature; without
//! it each says how to get it).
//! The executor replays a client's command line with the fold runner the
//! cluster gives it, through the same `run_with` as the command line.

use std::sync::Arc;

use anyhow::Result;
use wayfarer_store::remote::FoldRunner;

use crate::cli::{Cli, ClusterCommand, Command, Global};
use crate::cmd::Out;

/// Whether a command runs on a cluster: the six query commands, and the
/// map itself (not its snapshots or comparisons).
pub fn check(command: &Command) -> Result<()> {
    match command {
        Command::Map(a) if a.action.is_some() || a.compare.is_some() || a.around.is_some() => {
            anyhow::bail!("--cluster runs the map itself; run map snapshots and comparisons without it")
        }
        Command::Map(_)
        | Command::Sessions(_)
        | Command::Funnel(_)
        | Command::Paths(_)
        | Command::Retention(_)
        | Command::Rfm(_) => Ok(()),
        _ => anyhow::bail!("only map, funnel, paths, retention, rfm and sessions run on a cluster"),
    }
}

#[cfg(not(feature = "distributed"))]
const NO_CLUSTER: &str = "this build of Wayfarer cannot use a cluster; build it with \
`cargo build --release --features distributed` (Ballista makes the first build much longer)";

/// The fold runner of a query run with `--cluster URL`.
#[cfg(feature = "distributed")]
pub fn client(url: &str, g: &Global) -> Result<Arc<dyn FoldRunner>> {
    let argv = crate::options::explicit_argv(&super::data_dir(g, super::DEFAULT_DATA))?;
    Ok(Arc::new(wayfarer_cluster::ClusterRunner::new(url, argv)?))
}

#[cfg(not(feature = "distributed"))]
pub fn client(_url: &str, _g: &Global) -> Result<Arc<dyn FoldRunner>> {
    anyhow::bail!("--cluster: {NO_CLUSTER}")
}

/// Points a command whose `--data` is an object-store URL at its local
/// copy, brought up to date (with the segments when the folds run here,
/// not on a cluster). Only the commands a cluster runs read a URL.
pub fn local_data(cli: &mut Cli) -> Result<()> {
    let Some(data) = cli.global.data.as_ref().map(|d| d.display().to_string()) else { return Ok(()) };
    if !wayfarer_store::objects::is_url(&data) {
        return Ok(());
    }
    if check(&cli.command).is_err() {
        anyhow::bail!(
            "--data {data}: an object store is read by map, funnel, paths, retention, rfm and sessions (with or \
             without --cluster); other commands take a local data directory (publish one with `wayfarer cluster publish`)"
        );
    }
    mirror(&mut cli.global, &data)
}

#[cfg(feature = "distributed")]
fn mirror(g: &mut Global, url: &str) -> Result<()> {
    let m = wayfarer_store::objects::mirror(url, g.runner.is_none())?;
    if !g.quiet && m.files > 0 {
        eprintln!("fetched {} files ({:.1} MB) of {url} into {}", m.files, m.bytes as f64 / 1e6, m.dir.display());
    }
    g.data = Some(m.dir);
    Ok(())
}

#[cfg(not(feature = "distributed"))]
fn mirror(_: &mut Global, url: &str) -> Result<()> {
    anyhow::bail!("--data {url}: reading an object store needs the distributed build: {NO_CLUSTER}")
}

/// The local copy of an object-store URL's configuration, for the options
/// its `wayfarer.toml` sets (`None`: not fetched).
pub fn mirrored_config_dir(url: &str) -> Option<std::path::PathBuf> {
    #[cfg(feature = "distributed")]
    {
        wayfarer_store::objects::mirror(url, false).ok().map(|m| m.dir)
    }
    #[cfg(not(feature = "distributed"))]
    {
        let _ = url;
        None
    }
}

#[cfg(feature = "distributed")]
pub fn serve(g: &Global, c: &ClusterCommand, out: &mut Out) -> Result<()> {
    use anyhow::{Context, anyhow};
    match c {
        ClusterCommand::Publish { url, every, replace, json } => {
            publish(g, url, every.as_deref(), *replace, *json, out)
        }
        ClusterCommand::Scheduler { bind, executor_timeout } => {
            let micros = wayfarer_core::time::parse_duration(executor_timeout)
                .map_err(|e| anyhow!("--executor-timeout: {e}"))?;
            let timeout = std::time::Duration::from_micros(micros.max(0) as u64);
            eprintln!("Wayfarer scheduler listening on {bind}");
            wayfarer_cluster::scheduler(*bind, timeout).map_err(|e| anyhow!("scheduler: {e}"))
        }
        ClusterCommand::Executor {
            scheduler,
            data_root,
            bind,
            advertise,
            port,
            grpc_port,
            concurrent_tasks,
            work_dir,
        } => {
            let advertise = match advertise {
                Some(a) => a.clone(),
                None if matches!(bind.as_str(), "0.0.0.0" | "::" | "[::]") => {
                    anyhow::bail!("--bind {bind}: say with --advertise HOST where the others reach this executor")
                }
                None => bind.clone(),
            };
            let hostport = scheduler.split_once("://").map_or(scheduler.as_str(), |(_, r)| r).trim_end_matches('/');
            let (host, p) = hostport
                .rsplit_once(':')
                .with_context(|| format!("--scheduler {scheduler}: expected HOST:PORT or df://HOST:PORT"))?;
            let scheduler_port: u16 =
                p.parse().with_context(|| format!("--scheduler {scheduler}: the port must be a number"))?;
            let data_root = match data_root {
                Some(d) if wayfarer_store::objects::is_url(&d.display().to_string()) => Some(d.clone()),
                Some(d) => Some(std::fs::canonicalize(d).with_context(|| format!("--data-root {}", d.display()))?),
                None => None,
            };
            let opts = wayfarer_cluster::ExecutorOptions {
                scheduler_host: host.to_string(),
                scheduler_port,
                bind_host: bind.clone(),
                advertise_host: advertise.clone(),
                port: *port,
                grpc_port: *grpc_port,
                concurrent_tasks: concurrent_tasks
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get)),
                work_dir: work_dir.clone(),
            };
            eprintln!(
                "Wayfarer executor on {bind}:{port} (gRPC {grpc_port}) as {advertise}, scheduler {host}:{scheduler_port}"
            );
            wayfarer_cluster::executor(&opts, Arc::new(Replayer { data_root })).map_err(|e| anyhow!("executor: {e}"))
        }
    }
}

#[cfg(not(feature = "distributed"))]
pub fn serve(_: &Global, _: &ClusterCommand, _: &mut Out) -> Result<()> {
    anyhow::bail!("{NO_CLUSTER}")
}

/// `wayfarer cluster publish URL`: once, or every interval the data changed.
#[cfg(feature = "distributed")]
fn publish(g: &Global, url: &str, every: Option<&str>, replace: bool, json: bool, out: &mut Out) -> Result<()> {
    let dir = super::data_dir(g, super::DEFAULT_DATA);
    if !wayfarer_store::objects::is_url(url) {
        anyhow::bail!("{url}: publish to an object-store URL (s3://BUCKET/PREFIX or file:///PATH)");
    }
    let interval = match every {
        Some(e) => Some(std::time::Duration::from_micros(
            wayfarer_core::time::parse_duration(e).map_err(|err| anyhow::anyhow!("--every: {err}"))?.max(1) as u64,
        )),
        None => None,
    };
    let mut last: Option<(u64, std::time::SystemTime)> = None;
    loop {
        // The manifest changes with every commit; side files (notes,
        // configuration) have their own times: any change publishes.
        let stamp = wayfarer_store::Manifest::load(&dir)?.map(|m| m.generation).unwrap_or(0);
        let changed = newest_change(&dir);
        if last != Some((stamp, changed)) {
            let p = match wayfarer_store::objects::publish(&dir, url, replace) {
                Ok(p) => p,
                // Publishing again and again: a failure (the store out of
                // reach) is said and tried again at the next interval.
                Err(e) if interval.is_some() => {
                    eprintln!("publishing {} to {url} failed (trying again): {e}", dir.display());
                    std::thread::sleep(interval.unwrap_or_default());
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if json {
                out.json(&p)?;
            } else {
                say!(
                    "published generation {} of {} to {}: {} files uploaded ({:.1} MB), {} unchanged, {} removed",
                    p.generation,
                    dir.display(),
                    p.url,
                    p.uploaded,
                    p.bytes as f64 / 1e6,
                    p.unchanged,
                    p.removed
                );
            }
            last = Some((stamp, changed));
        }
        match interval {
            Some(i) => std::thread::sleep(i),
            None => return Ok(()),
        }
    }
}

/// The latest modification time among the side files a publish copies.
#[cfg(feature = "distributed")]
fn newest_change(dir: &std::path::Path) -> std::time::SystemTime {
    let files = wayfarer_store::objects::side_files(dir).unwrap_or_default();
    let times = files.iter().filter_map(|rel| std::fs::metadata(dir.join(rel)).and_then(|m| m.modified()).ok());
    times.max().unwrap_or(std::time::SystemTime::UNIX_EPOCH)
}

/// Replays a client's command line on an executor.
#[cfg(feature = "distributed")]
#[derive(Debug)]
struct Replayer {
    data_root: Option<std::path::PathBuf>,
}

#[cfg(feature = "distributed")]
impl wayfarer_cluster::Replay for Replayer {
    fn run(&self, argv: &[String], runner: Arc<dyn FoldRunner>) -> Result<(), String> {
        let mut cli = crate::options::parse_replayed(argv).map_err(|e| e.to_string())?;
        // Only the query commands, which read and print: never one that writes.
        check(&cli.command).map_err(|e| e.to_string())?;
        cli.global.quiet = true;
        cli.global.replay = true;
        cli.global.runner = Some(runner);
        local_data(&mut cli).map_err(|e| format!("{e:#}"))?;
        super::run_with(cli, &mut super::Out::Capture(None)).map_err(|e| format!("{e:#}"))
    }

    fn data_root(&self) -> Option<&std::path::Path> {
        self.data_root.as_deref()
    }
}
