//! Where queries and pages run: their own thread pool, apart from ingestion
//! and folding (which use the process's global pool and their own threads)
//! and at a lower priority than them, with a bound on how many may run or
//! wait, a timeout, and cooperative cancellation.
//!
//! ```text
//!  handler ─ slot? (else 503 busy) ─> blocking thread: f(&job)
//!              job.install(parallel work) ─> query pool
//!          <─ answer, or 504 when the timeout fires: the token is cancelled and
//!             the computation stops at its next check (a partition read, a
//!             few thousand timelines, a k-means iteration); its slot is
//!             freed only when it has really stopped
//! ```
//!
//! A computation runs on a blocking thread and hands only its parallel work
//! to the pool ([`Job::install`]): anything that *waits* (for a page another
//! request is computing) must not wait on a pool thread, where rayon may
//! stack another job on top of it — one that could be waiting for the
//! first. Every job's token is a child of the executor's, so shutting down
//! cancels them all; a client that hangs up cancels its own.

use std::sync::Arc;
use std::time::Duration;

use wayfarer_core::{Cancel, ErrorCode};

use crate::error::ApiError;

/// The query pool and its limits.
pub struct Executor {
    pool: Arc<rayon::ThreadPool>,
    slots: Arc<tokio::sync::Semaphore>,
    max: usize,
    shutdown: Cancel,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor").field("threads", &self.pool.current_num_threads()).field("max", &self.max).finish()
    }
}

/// What a computation gets: its cancellation token, and the pool to run
/// its parallel work on.
#[derive(Clone)]
pub struct Job {
    cancel: Cancel,
    pool: Arc<rayon::ThreadPool>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("cancelled", &self.cancel.is_cancelled()).finish()
    }
}

impl Job {
    pub fn cancel(&self) -> &Cancel {
        &self.cancel
    }

    /// Runs `f` (and the parallel work it starts) on the query pool. `f`
    /// must not wait for other jobs.
    pub fn install<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        self.pool.install(f)
    }
}

/// Cancels a token when dropped: a request whose client hung up (its
/// future dropped) stops its computation.
struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// How much nicer than the rest of the process query threads are: when the
/// cores are busy, acknowledging and folding events come first.
const QUERY_NICENESS: i32 = 10;

/// Lowers the calling thread's scheduling priority (Linux: per thread).
fn yield_to_ingestion() {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        let now = rustix::process::getpriority_process(Some(tid)).unwrap_or(0);
        let _ = rustix::process::setpriority_process(Some(tid), now + QUERY_NICENESS);
    }
}

impl Executor {
    /// A pool of `threads` threads (0: one per core) taking at most `max`
    /// queries and pages at a time (running or waiting for a thread).
    pub fn new(threads: usize, max: usize) -> Result<Arc<Executor>, String> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("wayfarer-query-{i}"))
            .start_handler(|_| yield_to_ingestion())
            .build()
            .map_err(|e| format!("starting the query threads: {e}"))?;
        let max = max.max(1);
        Ok(Arc::new(Executor {
            pool: Arc::new(pool),
            slots: Arc::new(tokio::sync::Semaphore::new(max)),
            max,
            shutdown: Cancel::new(),
        }))
    }

    /// A job for work the server starts by itself (the dashboard's
    /// background refresh): cancelled after `timeout` or at shutdown.
    pub fn job(&self, timeout: Duration) -> Job {
        Job { cancel: self.shutdown.child(Some(timeout)), pool: self.pool.clone() }
    }

    /// Runs `f` on a blocking thread with a job cancelled after `timeout`;
    /// 503 when all slots are taken, 504 when the time runs out.
    pub async fn run<T: Send + 'static>(
        &self,
        timeout: Duration,
        f: impl FnOnce(&Job) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            return Err(ApiError::new(
                ErrorCode::Busy,
                format!("the server is busy: {} queries are running or waiting; try again shortly", self.max),
            ));
        };
        if self.shutdown.is_cancelled() {
            return Err(ApiError::new(ErrorCode::Busy, "the server is shutting down"));
        }
        let job = self.job(timeout);
        let _hang_up = CancelOnDrop(job.cancel.clone());
        let cancel = job.cancel.clone();
        let task = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            f(&job)
        });
        match tokio::time::timeout(timeout, task).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(ApiError::new(ErrorCode::Internal, format!("the query failed: {e}"))),
            Err(_) => {
                cancel.cancel();
                Err(ApiError::new(
                    ErrorCode::QueryTimeout,
                    format!("the query took longer than {} s and was stopped", timeout.as_secs_f64()),
                ))
            }
        }
    }

    /// Cancels every running query and refuses new ones.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }
}
