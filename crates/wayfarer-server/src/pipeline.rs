//! The write path behind the ingestion endpoints.
//!
//! ```text
//!  handlers ──Append──> stager thread: append every queued request's
//!                        record, one fsync, then answer them all (group commit)
//!  folder thread ─Rotate─> stager: seal the staging file, start a new one
//!  folder thread: read the sealed file ─> Writer::add ─> commit ─> delete it
//! ```
//!
//! The stager owns the staging file and the folder owns the store's writer,
//! so neither needs a lock. A request is answered only after the fsync that
//! covers its record; the folder makes events visible to queries within one
//! fold interval (plus the commit). At start, staging files left by an
//! earlier run (a crash) are folded in before the server accepts anything.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wayfarer_store::StoreError;
use wayfarer_store::staging::{self, Staging};
use wayfarer_store::writer::Writer;

use crate::metrics::Metrics;

/// Requests are grouped into one fsync up to this many at a time.
const MAX_GROUP: usize = 4096;
/// Retired segment files are deleted after this long (queries that opened an
/// older manifest may still read them).
const RETIRE_GRACE: Duration = Duration::from_secs(120);

enum Request {
    Append { payload: Vec<u8>, events: u64, done: tokio::sync::oneshot::Sender<Result<(), String>> },
    Rotate { done: Sender<Result<Option<PathBuf>, String>> },
}

/// The handlers' side of the stager.
#[derive(Clone)]
pub struct Stager {
    tx: Sender<Request>,
}

impl Stager {
    /// Appends one record (a JSON array of `events` events) and waits until
    /// it is durable. Durable events are counted even if the caller stops
    /// waiting (a client that hung up).
    pub async fn append(&self, payload: Vec<u8>, events: u64) -> Result<(), String> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.tx
            .send(Request::Append { payload, events, done })
            .map_err(|_| "the staging writer has stopped".to_string())?;
        wait.await.map_err(|_| "the staging writer has stopped".to_string())?
    }

    fn rotate(&self) -> Result<Option<PathBuf>, String> {
        let (done, wait) = mpsc::channel();
        self.tx.send(Request::Rotate { done }).map_err(|_| "the staging writer has stopped".to_string())?;
        wait.recv().map_err(|_| "the staging writer has stopped".to_string())?
    }
}

/// The running write path.
pub struct Pipeline {
    pub stager: Stager,
    stop: Arc<AtomicBool>,
    stager_thread: Option<JoinHandle<()>>,
    folder_thread: Option<JoinHandle<()>>,
}

impl Pipeline {
    /// Folds staging left by an earlier run into the store, then starts the
    /// stager and the folder.
    pub fn start(dir: &Path, fold_every: Duration, metrics: Arc<Metrics>) -> Result<Pipeline, StoreError> {
        let mut writer = Writer::open(dir, now_micros())?;
        let (staging, leftovers) = Staging::open(dir)?;
        if !leftovers.is_empty() {
            let mut events = 0;
            for path in &leftovers {
                let sealed = staging::read_sealed(path)?;
                events += sealed.events.len() as u64;
                writer.add(sealed.events)?;
            }
            writer.commit_open()?;
            for path in &leftovers {
                staging::remove_sealed(path)?;
            }
            metrics.replayed.fetch_add(events, Ordering::Relaxed);
        }
        metrics.events_total.store(writer.events_total(), Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        let stager = Stager { tx };
        let stop = Arc::new(AtomicBool::new(false));
        let m = metrics.clone();
        let stager_thread = std::thread::Builder::new()
            .name("wayfarer-stager".into())
            .spawn(move || stage_loop(staging, &rx, &m))
            .map_err(|e| StoreError::Internal(format!("starting the staging thread: {e}")))?;
        let (s, st) = (stager.clone(), stop.clone());
        let folder_thread = std::thread::Builder::new()
            .name("wayfarer-folder".into())
            .spawn(move || fold_loop(writer, &s, &st, fold_every, &metrics))
            .map_err(|e| StoreError::Internal(format!("starting the fold thread: {e}")))?;
        Ok(Pipeline { stager, stop, stager_thread: Some(stager_thread), folder_thread: Some(folder_thread) })
    }

    /// Folds what is staged and stops (graceful shutdown).
    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.folder_thread.take() {
            let _ = t.join();
        }
        drop(self.stager);
        if let Some(t) = self.stager_thread.take() {
            let _ = t.join();
        }
    }
}

fn stage_loop(mut staging: Staging, rx: &Receiver<Request>, metrics: &Metrics) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(r) => group.push(r),
                Err(_) => break,
            }
        }
        let payloads: Vec<&[u8]> = group
            .iter()
            .filter_map(|r| match r {
                Request::Append { payload, .. } => Some(payload.as_slice()),
                Request::Rotate { .. } => None,
            })
            .collect();
        let durable = if payloads.is_empty() {
            Ok(())
        } else {
            let t = Instant::now();
            let r = staging.append(&payloads).and_then(|()| staging.sync());
            metrics.fsync.observe(t.elapsed());
            r.map_err(|e| e.to_string())
        };
        for r in group {
            match r {
                Request::Append { done, events, .. } => {
                    if durable.is_ok() {
                        metrics.ingested.fetch_add(events, Ordering::Relaxed);
                    }
                    let _ = done.send(durable.clone());
                }
                Request::Rotate { done } => {
                    let _ = done.send(staging.rotate().map_err(|e| e.to_string()));
                }
            }
        }
    }
}

fn fold_loop(writer: Writer, stager: &Stager, stop: &AtomicBool, every: Duration, metrics: &Metrics) {
    let dir = writer.dir().to_path_buf();
    let mut writer = Some(writer);
    let mut last = Instant::now();
    // Sealed files not yet folded (kept across a failed round).
    let mut sealed: Vec<PathBuf> = Vec::new();
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        if !stopping && last.elapsed() < every {
            std::thread::sleep(Duration::from_millis(20).min(every));
            continue;
        }
        last = Instant::now();
        if writer.is_none() {
            match Writer::open(&dir, now_micros()) {
                Ok(w) => writer = Some(w),
                Err(e) => {
                    eprintln!("wayfarer: reopening the store failed: {e}");
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            }
        }
        let w = writer.as_mut().expect("opened above");
        match fold_once(w, stager, &mut sealed) {
            Ok(n) => {
                if n > 0 {
                    metrics.folded.fetch_add(n, Ordering::Relaxed);
                    metrics.events_total.store(w.events_total(), Ordering::Relaxed);
                }
                w.delete_retired(RETIRE_GRACE);
            }
            Err(e) => {
                // The sealed files stay and the writer starts again from the
                // committed state (dropping it removes what it half wrote);
                // the next round, or a restart, folds them.
                metrics.fold_errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("wayfarer: folding staged events failed: {e}");
                writer = None;
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        if stopping {
            return;
        }
    }
}

/// Seals the staging file and folds every sealed file into the store;
/// returns the events read.
fn fold_once(writer: &mut Writer, stager: &Stager, sealed: &mut Vec<PathBuf>) -> Result<u64, String> {
    if let Some(path) = stager.rotate()? {
        sealed.push(path);
    }
    if sealed.is_empty() {
        return Ok(0);
    }
    let mut n = 0;
    for path in sealed.iter() {
        let s = staging::read_sealed(path).map_err(|e| e.to_string())?;
        n += s.events.len() as u64;
        writer.add(s.events).map_err(|e| e.to_string())?;
    }
    writer.commit_open().map_err(|e| e.to_string())?;
    for path in sealed.drain(..) {
        staging::remove_sealed(&path).map_err(|e| e.to_string())?;
    }
    Ok(n)
}

pub fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}
