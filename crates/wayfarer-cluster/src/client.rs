//! The client's fold runner: each fold of a query becomes one Ballista
//! query over the manifest's segments, grouped by customer number, folded
//! by `wayfarer_fold` and merged by `wayfarer_merge`; the merged partial
//! comes back as bytes. Results of earlier folds are written under the data
//! directory's `cluster/` (a folder, or a prefix of its object-store URL)
//! for the executors replaying later ones, and removed when the query ends.

use std::path::PathBuf;
use std::sync::Mutex;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use datafusion::common::ScalarValue;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext, col, lit, when};
use wayfarer_store::objects::Remote;
use wayfarer_store::read::is_hot;
use wayfarer_store::remote::{FoldRunner, LocalFold};
use wayfarer_store::{Col, PropertyRows, Store, StoreError};

use crate::udaf::{self, Job};

/// Runs a query's folds on the cluster at `url`.
#[derive(Debug)]
pub struct ClusterRunner {
    url: String,
    argv: Vec<String>,
    runtime: tokio::runtime::Runtime,
    /// Each fold's merged partial so far, and the file it was written to.
    done: Mutex<Vec<(Vec<u8>, Option<String>)>>,
    /// Each finished fold's identity ([`LocalFold::name`]).
    names: Mutex<Vec<String>>,
    /// Where earlier results go for the executors (created when needed).
    scratch: Mutex<Option<Scratch>>,
}

/// Where a query's earlier results are: a folder of the data directory,
/// or a prefix of its object store.
#[derive(Debug)]
enum Scratch {
    Dir(PathBuf),
    Objects(Remote, String),
}

/// Where the data is, as every machine of the cluster names it.
enum Data {
    Dir(PathBuf),
    Url(String),
}

impl Data {
    fn of(store: &Store) -> Data {
        match store.origin() {
            Some(url) => Data::Url(url.to_string()),
            None => Data::Dir(std::fs::canonicalize(store.dir()).unwrap_or_else(|_| store.dir().to_path_buf())),
        }
    }

    fn name(&self) -> String {
        match self {
            Data::Dir(d) => d.display().to_string(),
            Data::Url(u) => u.clone(),
        }
    }

    fn file(&self, rel: &str) -> String {
        match self {
            Data::Dir(d) => d.join(rel).display().to_string(),
            Data::Url(u) => format!("{u}/{rel}"),
        }
    }
}

impl ClusterRunner {
    /// A runner for the command `argv` (every option explicit, without
    /// `--cluster`) on the scheduler at `url` (`df://host:port`, or
    /// `host:port`).
    pub fn new(url: &str, argv: Vec<String>) -> Result<ClusterRunner, StoreError> {
        let url = if url.contains("://") { url.to_string() } else { format!("df://{url}") };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| StoreError::Remote(format!("starting the cluster client: {e}")))?;
        Ok(ClusterRunner {
            url,
            argv,
            runtime,
            done: Mutex::new(Vec::new()),
            names: Mutex::new(Vec::new()),
            scratch: Mutex::new(None),
        })
    }

    /// The files holding the results of the folds before this one.
    fn priors(&self, data: &Data) -> Result<Vec<String>, StoreError> {
        let mut done = self.done.lock().map_err(|_| StoreError::Internal("poisoned".into()))?;
        let mut scratch = self.scratch.lock().map_err(|_| StoreError::Internal("poisoned".into()))?;
        let mut out = Vec::new();
        for (i, (bytes, file)) in done.iter_mut().enumerate() {
            if file.is_none() {
                if scratch.is_none() {
                    let nanos =
                        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
                    let name = format!("q-{}-{nanos}", std::process::id());
                    *scratch = Some(match data {
                        Data::Dir(dir) => {
                            forget_stale(&dir.join("cluster"));
                            let d = dir.join("cluster").join(name);
                            std::fs::create_dir_all(&d).map_err(|e| StoreError::io(&d, e))?;
                            Scratch::Dir(d)
                        }
                        Data::Url(url) => {
                            let remote = Remote::open(url)?;
                            remote.delete_under("cluster", STALE)?;
                            Scratch::Objects(remote, format!("cluster/{name}"))
                        }
                    });
                }
                let name = format!("fold-{i}.bin");
                *file = Some(match scratch.as_ref() {
                    Some(Scratch::Dir(d)) => {
                        let path = d.join(name);
                        std::fs::write(&path, &bytes).map_err(|e| StoreError::io(&path, e))?;
                        path.display().to_string()
                    }
                    Some(Scratch::Objects(remote, prefix)) => {
                        let rel = format!("{prefix}/{name}");
                        remote.put(&rel, bytes.clone())?;
                        remote.url_of(&rel)
                    }
                    None => return Err(StoreError::Internal("no scratch".into())),
                });
            }
            out.extend(file.clone());
        }
        Ok(out)
    }

    async fn query(
        &self,
        files: Vec<String>,
        job: &Job,
        props: &PropertyRows,
    ) -> datafusion::error::Result<Option<Vec<u8>>> {
        let config = SessionConfig::new_with_ballista()
            .set_bool("datafusion.execution.parquet.schema_force_view_types", false)
            .set_bool("datafusion.execution.parquet.binary_as_string", false);
        let state = SessionStateBuilder::new()
            .with_default_features()
            .with_config(config)
            .with_runtime_env(crate::stores::runtime_env(None)?)
            .build();
        let ctx = SessionContext::remote_with_state(&self.url, state).await?;
        // Registered after the session is made remote, which resets the functions.
        let [fold, merge] = udaf::functions(None);
        ctx.register_udaf(fold.as_ref().clone());
        ctx.register_udaf(merge.as_ref().clone());
        let json = job.to_json();
        let mut args = vec![lit(json.clone())];
        args.extend(job.columns.iter().map(|c| {
            let column = col(format!("\"{c}\""));
            match props {
                // Only the rows the fold's conditions read keep their
                // properties (the others read as null, as the embedded
                // reader gives them): the largest column, nulled before
                // the shuffle.
                PropertyRows::Of { kinds, events } if c == Col::Properties.name() => {
                    let kinds = kinds.iter().map(|k| lit(*k)).collect();
                    let events = events.iter().map(|e| lit(*e)).collect();
                    let wanted = col("kind_code").in_list(kinds, false).or(col("event_code").in_list(events, false));
                    when(wanted, column).otherwise(lit(ScalarValue::Utf8(None))).unwrap_or_else(|_| col(c))
                }
                _ => column,
            }
        }));
        let df = ctx
            .read_parquet(files, ParquetReadOptions::default())
            .await?
            .aggregate(
                vec![(col("customer") % lit(job.partitions.max(1))).alias("partition")],
                vec![fold.call(args).alias("partial")],
            )?
            .aggregate(vec![], vec![merge.call(vec![lit(json), col("partial")]).alias("merged")])?;
        let batches = df.collect().await?;
        for b in &batches {
            if let Some(a) = b.column(0).as_any().downcast_ref::<arrow_array::BinaryArray>()
                && let Some(v) = a.iter().flatten().next()
            {
                return Ok(Some(v.to_vec()));
            }
        }
        Ok(None)
    }
}

impl FoldRunner for ClusterRunner {
    fn run(
        &self,
        store: &Store,
        cols: &[Col],
        props: &PropertyRows,
        local: &dyn LocalFold,
    ) -> Result<Vec<u8>, StoreError> {
        let call = self.done.lock().map_err(|_| StoreError::Internal("poisoned".into()))?.len();
        let data = Data::of(store);
        let files: Vec<String> = store.manifest().segments.iter().map(|s| data.file(&s.file)).collect();
        // The core columns and revenue always; the fold's others by name.
        let mut columns: Vec<Col> = Col::ALL.iter().copied().filter(|c| is_hot(*c)).collect();
        columns.extend(Col::ALL.iter().copied().filter(|c| !is_hot(*c) && cols.contains(c)));
        // The folds run so far (recorded with their results), and this one.
        let mut folds = self.names.lock().map_err(|_| StoreError::Internal("poisoned".into()))?.clone();
        folds.push(local.name());
        let job = Job {
            dir: data.name(),
            generation: store.manifest().generation,
            argv: self.argv.clone(),
            call,
            folds: folds.clone(),
            priors: self.priors(&data)?,
            version: crate::VERSION.to_string(),
            columns: columns.iter().map(|c| c.name().to_string()).collect(),
            partitions: store.partitions(),
        };
        let bytes = if files.is_empty() {
            local.merge(&[])?
        } else {
            let got = self
                .runtime
                .block_on(self.query(files, &job, props))
                .map_err(|e| StoreError::Remote(format!("the cluster at {}: {e}", self.url)))?;
            got.ok_or_else(|| {
                StoreError::Remote(format!("the cluster at {} answered without the fold's partial", self.url))
            })?
        };
        self.done.lock().map_err(|_| StoreError::Internal("poisoned".into()))?.push((bytes.clone(), None));
        self.names.lock().map_err(|_| StoreError::Internal("poisoned".into()))?.push(folds.pop().unwrap_or_default());
        Ok(bytes)
    }
}

/// How long a killed client's scratch stays.
const STALE: std::time::Duration = std::time::Duration::from_secs(86_400);

/// Removes the scratch directories of queries that ended more than a day
/// ago without removing their own (a killed client).
fn forget_stale(cluster: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(cluster) else { return };
    for e in entries.flatten() {
        let old =
            e.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok()).is_some_and(|a| a > STALE);
        if old && e.file_name().to_string_lossy().starts_with("q-") {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

impl Drop for ClusterRunner {
    fn drop(&mut self) {
        match self.scratch.lock().map(|mut s| s.take()) {
            Ok(Some(Scratch::Dir(d))) => {
                let _ = std::fs::remove_dir_all(d);
            }
            Ok(Some(Scratch::Objects(remote, prefix))) => {
                let _ = remote.delete_under(&prefix, std::time::Duration::ZERO);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn scratch_left_by_a_killed_client_goes_after_a_day() {
        let tmp = tempfile::tempdir().unwrap();
        let (old, new, other) = (tmp.path().join("q-1-1"), tmp.path().join("q-2-2"), tmp.path().join("keep"));
        for d in [&old, &new, &other] {
            std::fs::create_dir(d).unwrap();
        }
        let two_days = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
        for d in [&old, &other] {
            std::fs::File::open(d).unwrap().set_modified(two_days).unwrap();
        }
        super::forget_stale(tmp.path());
        assert!(!old.exists() && new.exists() && other.exists());
    }
}
