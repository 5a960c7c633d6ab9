//! `wayfarer cluster scheduler|executor`, and `--cluster URL` on the query
//! commands (the `distributed` feature; without it both say how to get it).
//! The executor replays a client's command line with the fold runner the
//! cluster gives it, through the same `run_with` as the command line.

use std::sync::Arc;

use anyhow::Result;
use wayfarer_store::remote::FoldRunner;

use crate::cli::{ClusterCommand, Command, Global};

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

#[cfg(feature = "distributed")]
pub fn serve(c: &ClusterCommand) -> Result<()> {
    use anyhow::{Context, anyhow};
    match c {
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
pub fn serve(_: &ClusterCommand) -> Result<()> {
    anyhow::bail!("{NO_CLUSTER}")
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
        super::run_with(cli, &mut super::Out::Capture(None)).map_err(|e| format!("{e:#}"))
    }

    fn data_root(&self) -> Option<&std::path::Path> {
        self.data_root.as_deref()
    }
}
