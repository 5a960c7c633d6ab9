//! The executors' side: a query replayed up to the one fold an aggregate
//! asks for. The command runs again from its explicit arguments; its store
//! carries a [`ReplayRunner`], which answers the query's earlier folds with
//! the merged partials the client recorded, runs the fold asked for over
//! the rows (or partials) the aggregate gathered, keeps the result and
//! stops the command there.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use wayfarer_store::remote::{FoldRunner, LocalFold};
use wayfarer_store::{Col, PropertyRows, Rows, Store, StoreError};

use crate::udaf::Job;

/// Runs a command line with its folds going through a runner: the binary
/// provides it (it knows the commands); the executor registers it with the
/// aggregates.
pub trait Replay: Send + Sync + std::fmt::Debug {
    /// Runs the command `argv` (its options all explicit, the process
    /// environment ignored) with `runner` as its store's fold runner.
    fn run(&self, argv: &[String], runner: Arc<dyn FoldRunner>) -> Result<(), String>;

    /// Where data directories must lie for this executor to read them.
    fn data_root(&self) -> Option<&Path> {
        None
    }
}

/// What the fold asked for is given.
#[derive(Debug)]
pub enum Work {
    /// Rows of whole customers, to fold.
    Fold(Box<Rows>),
    /// Partials, to merge.
    Merge(Vec<Vec<u8>>),
}

/// The fold runner of a replayed query.
#[derive(Debug)]
pub struct ReplayRunner {
    job: Job,
    next: AtomicUsize,
    work: Mutex<Option<Work>>,
    result: Mutex<Option<Vec<u8>>>,
}

impl ReplayRunner {
    /// Replays `job`'s query up to its fold and runs it on `work`: the
    /// partial, encoded.
    pub fn execute(replay: &dyn Replay, job: &Job, work: Work) -> Result<Vec<u8>, String> {
        if job.version != crate::VERSION {
            return Err(format!(
                "the client runs Wayfarer {} and this executor {}: run the same version on every machine",
                job.version,
                crate::VERSION
            ));
        }
        if let Some(root) = replay.data_root() {
            let inside = if wayfarer_store::objects::is_url(&job.dir) {
                let root = root.to_string_lossy();
                let root = root.trim_end_matches('/');
                job.dir == root || job.dir.strip_prefix(root).is_some_and(|rest| rest.starts_with('/'))
            } else {
                std::fs::canonicalize(&job.dir).map_err(|e| format!("{}: {e}", job.dir))?.starts_with(root)
            };
            if !inside {
                return Err(format!(
                    "the data directory {} is outside this executor's data root {}",
                    job.dir,
                    root.display()
                ));
            }
        }
        let runner = Arc::new(ReplayRunner {
            job: job.clone(),
            next: AtomicUsize::new(0),
            work: Mutex::new(Some(work)),
            result: Mutex::new(None),
        });
        let outcome = replay.run(&job.argv, runner.clone());
        if let Some(bytes) = runner.result.lock().map_err(|_| "poisoned".to_string())?.take() {
            return Ok(bytes);
        }
        match outcome {
            Err(e) => Err(e),
            Ok(()) => Err(format!("the query ended before its fold {} (wayfarer {})", job.call, job.argv.join(" "))),
        }
    }
}

impl FoldRunner for ReplayRunner {
    fn run(
        &self,
        store: &Store,
        _cols: &[Col],
        _props: &PropertyRows,
        local: &dyn LocalFold,
    ) -> Result<Vec<u8>, StoreError> {
        if store.manifest().generation != self.job.generation {
            return Err(StoreError::Remote(format!(
                "the data directory {} changed while the query ran (generation {} when it started, {} now); run it again",
                self.job.dir,
                self.job.generation,
                store.manifest().generation
            )));
        }
        let i = self.next.fetch_add(1, Ordering::SeqCst);
        let name = local.name();
        let same = self.job.folds.get(i).is_some_and(|n| *n == name);
        if i < self.job.call {
            // An earlier fold: the client's result — unless the replay took
            // another way than the client did (it read a file the client
            // wrote meanwhile, such as a saved persona fit): then this
            // fold runs here, over the same state of the data.
            if !same {
                return local.here(store);
            }
            let path = self.job.priors.get(i).ok_or_else(|| {
                StoreError::Remote(format!(
                    "the client sent no result for the query's fold {i} (it asked for fold {})",
                    self.job.call
                ))
            })?;
            return if wayfarer_store::objects::is_url(path) {
                wayfarer_store::objects::fetch(path)
            } else {
                std::fs::read(path).map_err(|e| StoreError::io(Path::new(path), e))
            };
        }
        if i == self.job.call {
            if !same {
                return Err(StoreError::Remote(format!(
                    "replaying `wayfarer {}` on an executor reached {} as fold {i}, where the client ran {}; run the query again",
                    self.job.argv.iter().skip(1).cloned().collect::<Vec<_>>().join(" "),
                    name,
                    self.job.folds.get(i).map_or("none", String::as_str)
                )));
            }
            let work = self.work.lock().map_err(|_| StoreError::Internal("poisoned".into()))?.take();
            let bytes = match work {
                Some(Work::Fold(rows)) => local.fold(&rows)?,
                Some(Work::Merge(parts)) => local.merge(&parts)?,
                None => return Err(StoreError::FoldHanded),
            };
            *self.result.lock().map_err(|_| StoreError::Internal("poisoned".into()))? = Some(bytes);
        }
        Err(StoreError::FoldHanded)
    }
}
