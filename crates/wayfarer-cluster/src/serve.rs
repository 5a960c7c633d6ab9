//! `wayfarer cluster scheduler` and `wayfarer cluster executor`: Ballista's
//! scheduler and executor processes with Wayfarer's aggregates registered —
//! on the scheduler to plan with, on the executors (with the binary's
//! [`Replay`]) to run.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::execution::FunctionRegistry;

use crate::replay::Replay;
use crate::udaf;

/// How often executors tell the scheduler they are alive.
const HEARTBEAT_SECONDS: u64 = 5;

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 * 1024 * 1024)
        .build()
        .map_err(|e| e.to_string())
}

/// Runs a scheduler listening on `bind` until the process is stopped. It
/// says on stderr whenever the executors registered with it change
/// (`executors: N registered (ID at HOST:PORT, …)`).
/// An executor silent for `executor_timeout` is taken for lost: its
/// tasks run again elsewhere, or its queries fail.
pub fn scheduler(bind: SocketAddr, executor_timeout: std::time::Duration) -> Result<(), String> {
    let timeout = executor_timeout.as_secs().max(2 * HEARTBEAT_SECONDS);
    let mut config = SchedulerConfig {
        bind_host: bind.ip().to_string(),
        bind_port: bind.port(),
        external_host: bind.ip().to_string(),
        executor_timeout_seconds: timeout,
        expire_dead_executor_interval_seconds: HEARTBEAT_SECONDS,
        no_executors_grace_period_seconds: timeout,
        ..SchedulerConfig::default()
    };
    config.override_session_builder = Some(Arc::new(|c| {
        let state = ballista_core::utils::default_session_builder(c)?;
        let mut state = datafusion::execution::SessionStateBuilder::new_from_existing(state)
            .with_runtime_env(crate::stores::runtime_env(None)?)
            .build();
        for f in udaf::functions(None) {
            state.register_udaf(f)?;
        }
        Ok(state)
    }));
    runtime()?.block_on(async move {
        let cluster = BallistaCluster::new_from_config(&config).await.map_err(|e| e.to_string())?;
        let state = cluster.cluster_state();
        tokio::spawn(async move {
            let mut seen: Vec<String> = Vec::new();
            loop {
                let mut now: Vec<String> = state
                    .registered_executor_metadata()
                    .await
                    .into_iter()
                    .map(|m| format!("{} at {}:{}", m.id, m.host, m.grpc_port))
                    .collect();
                now.sort();
                if now != seen {
                    eprintln!("executors: {} registered ({})", now.len(), now.join(", "));
                    seen = now;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        });
        start_server(cluster, bind, Arc::new(config)).await.map_err(|e| e.to_string())
    })
}

/// How an executor runs.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler: host and port.
    pub scheduler_host: String,
    pub scheduler_port: u16,
    /// The address this executor listens on (Arrow Flight), and its gRPC port.
    pub bind_host: String,
    /// The host the scheduler and other executors reach it at.
    pub advertise_host: String,
    pub port: u16,
    pub grpc_port: u16,
    /// Tasks it runs at once.
    pub concurrent_tasks: usize,
    /// Where shuffle files go.
    pub work_dir: Option<PathBuf>,
}

/// Runs an executor registered with the scheduler until the process is
/// stopped; its aggregates answer through `replay`.
pub fn executor(opts: &ExecutorOptions, replay: Arc<dyn Replay>) -> Result<(), String> {
    let mut registry = ballista_core::registry::BallistaFunctionRegistry::default();
    for f in udaf::functions(Some(replay)) {
        registry.aggregate_functions.insert(f.name().to_string(), f);
    }
    let work_dir = opts.work_dir.as_ref().map(|p| p.display().to_string());
    let config = ExecutorProcessConfig {
        bind_host: opts.bind_host.clone(),
        external_host: Some(opts.advertise_host.clone()),
        port: opts.port,
        grpc_port: opts.grpc_port,
        scheduler_host: opts.scheduler_host.clone(),
        scheduler_port: opts.scheduler_port,
        vcores: opts.concurrent_tasks.max(1),
        work_dir: opts.work_dir.as_ref().map(|p| p.display().to_string()),
        override_function_registry: Some(Arc::new(registry)),
        override_runtime_producer: Some(Arc::new(move |_| crate::stores::runtime_env(work_dir.as_deref()))),
        executor_heartbeat_interval_seconds: HEARTBEAT_SECONDS,
        ..ExecutorProcessConfig::default()
    };
    runtime()?.block_on(async move { start_executor_process(Arc::new(config)).await.map_err(|e| e.to_string()) })
}
