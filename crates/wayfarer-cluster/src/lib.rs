//! Wayfarer on Apache DataFusion Ballista (the `distributed` feature): the
//! engine's folds run as aggregate UDFs over the store's Parquet segments on
//! a cluster, and their merged partial comes back to the client, which
//! finishes the report as an embedded run does.
//!
//! ```text
//!  client (wayfarer funnel --cluster URL)            executors
//!  fold::run ─> ClusterRunner ─> Ballista plan:
//!    SELECT wayfarer_merge(job, p) FROM (
//!      SELECT wayfarer_fold(job, customer, timestamp, …) AS p   ─> the rows of one store partition
//!      FROM <the manifest's segments> GROUP BY customer % 16)       ─> Replay: the query again,
//!  <─ the merged partial (bytes) ─ fold::run decodes, finishes        its k-th fold over these rows
//! ```
//!
//! There is one implementation of each analysis. An executor does not know
//! analyses: it replays the client's command (its arguments, made explicit)
//! with a [`ReplayRunner`] as the store's fold runner, which answers the
//! query's earlier folds with the results the client recorded, and at the
//! fold asked for folds the rows it was given (or merges the partials it
//! was given) with that fold's own code, then stops the command.
//!
//! ```text
//!  udaf.rs     wayfarer_fold and wayfarer_merge, and the job they carry as a literal argument
//!  client.rs   the client's fold runner: one Ballista query per fold
//!  replay.rs   the executors' fold runner
//!  serve.rs    `wayfarer cluster scheduler` and `wayfarer cluster executor`
//!  stores.rs   the object stores every process reads segments through (file://, s3://)
//! ```
//!
//! The data is a directory every machine mounts at the same path, or an
//! object-store URL a data directory was published to
//! ([`wayfarer_store::objects`]): the executors then read the segments from
//! the object store, and each process's replay reads the manifest,
//! configuration and identity graph from its own local copy.

mod client;
mod replay;
mod serve;
mod stores;
mod udaf;

pub use client::ClusterRunner;
pub use replay::{Replay, ReplayRunner};
pub use serve::{ExecutorOptions, executor, scheduler};
pub use udaf::Job;

/// The version clients and executors must share (a replay runs the
/// client's command with the executor's code).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
