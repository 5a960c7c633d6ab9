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
//!
//! Appends are admitted only while the disk keeps room to fold what is
//! staged ([`Room`]): a backlog that filled the disk could never be folded
//! (a commit writes segments before the staging files it folds are
//! deleted), and its events would stay invisible until space was freed.
//!
//! Failures never lose an acknowledged event: a failed append is undone in
//! the staging file and answered with an error (clients retry); a failed
//! rotation leaves appends in the current file; a failed fold keeps its
//! sealed files and is retried; a sealed file whose acknowledged bytes could
//! not all be read is kept in `staging/damaged/` instead of being deleted.
//! What goes wrong is recorded in [`Health`] for `/healthz`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wayfarer_store::StoreError;
use wayfarer_store::staging::{self, SealedFile, Staging};
use wayfarer_store::writer::Writer;

use crate::health::Health;
use crate::metrics::Metrics;

/// Requests are grouped into one fsync up to this many at a time.
const MAX_GROUP: usize = 4096;
/// Retired segment files are deleted after this long (queries that opened an
/// older manifest may still read them).
const RETIRE_GRACE: Duration = Duration::from_secs(120);

/// A sealed staging file and when its first record was acknowledged (µs).
type Sealed = (SealedFile, i64);

enum Request {
    Append { payload: Vec<u8>, events: u64, done: tokio::sync::oneshot::Sender<Result<(), String>> },
    Rotate { done: Sender<Result<Option<Sealed>, String>> },
    Stop,
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

    fn rotate(&self) -> Result<Option<Sealed>, String> {
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
    pub fn start(
        dir: &Path,
        fold_every: Duration,
        room: Room,
        metrics: Arc<Metrics>,
        health: Arc<Health>,
    ) -> Result<Pipeline, StoreError> {
        let mut writer = Writer::open(dir, now_micros())?;
        let (staging, leftovers) = Staging::open(dir)?;
        health.damaged_files.store(staging::damaged_files(dir), Ordering::Relaxed);
        if !leftovers.is_empty() {
            let mut events = 0;
            let mut read = Vec::new();
            for file in &leftovers {
                let sealed = staging::read_sealed(&file.path)?;
                events += sealed.events.len() as u64;
                // A sealed file must be read up to its acknowledged length;
                // the file a crash interrupted may end in a torn record
                // (never acknowledged), but unreadable bytes between intact
                // records are damage.
                read.push(file.read_whole(&sealed));
                writer.add(sealed.events)?;
            }
            writer.commit_open()?;
            for (file, whole) in leftovers.iter().zip(read) {
                settle(&file.path, whole, &health).map_err(StoreError::Internal)?;
            }
            metrics.replayed.fetch_add(events, Ordering::Relaxed);
        }
        metrics.events_total.store(writer.events_total(), Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        let stager = Stager { tx };
        let stop = Arc::new(AtomicBool::new(false));
        let (m, h) = (metrics.clone(), health.clone());
        let stager_thread = std::thread::Builder::new()
            .name("wayfarer-stager".into())
            .spawn(move || stage_loop(staging, &room, &rx, &m, &h))
            .map_err(|e| StoreError::Internal(format!("starting the staging thread: {e}")))?;
        let (s, st) = (stager.clone(), stop.clone());
        let folder_thread = std::thread::Builder::new()
            .name("wayfarer-folder".into())
            .spawn(move || fold_loop(writer, &s, &st, fold_every, &metrics, &health))
            .map_err(|e| StoreError::Internal(format!("starting the fold thread: {e}")))?;
        Ok(Pipeline { stager, stop, stager_thread: Some(stager_thread), folder_thread: Some(folder_thread) })
    }

    /// Folds what is staged and stops (graceful shutdown). Appends that
    /// arrive afterwards are refused; anything staged but not folded is
    /// replayed at the next start.
    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.folder_thread.take() {
            let _ = t.join();
        }
        let _ = self.stager.tx.send(Request::Stop);
        if let Some(t) = self.stager_thread.take() {
            let _ = t.join();
        }
    }
}

/// The free space appends must leave: folding what is staged writes it
/// again as segments (and a compaction may rewrite a partition) before the
/// staging files are deleted, and queries and retired segments need room
/// too. An append is refused (503, clients retry) when the disk's free
/// space after it would be less than twice everything staged, plus a
/// reserve.
#[derive(Debug, Clone)]
pub struct Room {
    /// The data directory (its file system is the one measured).
    pub dir: PathBuf,
    /// The fixed reserve in bytes; `None`: 1/32 of the file system, between
    /// 1 MB and 256 MB.
    pub reserve: Option<u64>,
}

impl Room {
    /// Whether `incoming` more staged bytes leave room to fold; the reason
    /// when not. When the free space cannot be measured, appends go on.
    fn admit(&self, incoming: u64) -> Result<(), String> {
        let Ok(fs) = rustix::fs::statvfs(&self.dir) else { return Ok(()) };
        let free = fs.f_bavail.saturating_mul(fs.f_frsize);
        let size = fs.f_blocks.saturating_mul(fs.f_frsize);
        let reserve = self.reserve.unwrap_or_else(|| (size / 32).clamp(1 << 20, 256 << 20));
        let staged = staging::backlog_bytes(&self.dir).saturating_add(incoming);
        let needed = staged.saturating_mul(2).saturating_add(reserve);
        if free >= incoming.saturating_add(needed) {
            return Ok(());
        }
        Err(format!(
            "staging: the disk is nearly full ({} free; folding the {} staged needs {} kept free, reserve included); retry later",
            mb(free),
            mb(staged),
            mb(needed)
        ))
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

fn stage_loop(mut staging: Staging, room: &Room, rx: &Receiver<Request>, metrics: &Metrics, health: &Health) {
    // When the current file's first record was acknowledged (µs), if it has one.
    let mut first_ack: Option<i64> = None;
    // Whether the last append failed: then every rotation first checks
    // that writing works again, so /healthz recovers without traffic.
    let mut failed = false;
    let mut stopping = false;
    while !stopping {
        let Ok(first) = rx.recv() else { return };
        let mut group = vec![first];
        while group.len() < MAX_GROUP && !matches!(group.last(), Some(Request::Stop)) {
            match rx.try_recv() {
                Ok(r) => group.push(r),
                Err(_) => break,
            }
        }
        let payloads: Vec<&[u8]> = group
            .iter()
            .filter_map(|r| match r {
                Request::Append { payload, .. } => Some(payload.as_slice()),
                Request::Rotate { .. } | Request::Stop => None,
            })
            .collect();
        let incoming: u64 = payloads.iter().map(|p| p.len() as u64).sum();
        let durable = if payloads.is_empty() {
            Ok(())
        } else if let Err(message) = room.admit(incoming) {
            metrics.staging_errors.fetch_add(1, Ordering::Relaxed);
            health.staging_failed(&message, false);
            failed = true;
            Err(message)
        } else {
            let t = Instant::now();
            let r = staging.append(&payloads).and_then(|()| staging.sync());
            metrics.fsync.observe(t.elapsed());
            failed = r.is_err();
            match r {
                Ok(()) => {
                    health.staging_ok();
                    if first_ack.is_none() {
                        let now = now_micros();
                        first_ack = Some(now);
                        health.set_current_first_ack(now);
                    }
                    Ok(())
                }
                Err(e) => {
                    metrics.staging_errors.fetch_add(1, Ordering::Relaxed);
                    let message = format!("could not make the events durable: {e}");
                    health.staging_failed(&message, staging.broken().is_some());
                    Err(message)
                }
            }
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
                    if failed && room.admit(0).is_ok() && probe(&mut staging) {
                        failed = false;
                        health.staging_ok();
                    }
                    let sealed = staging.rotate().map_err(|e| e.to_string());
                    let answer = match sealed {
                        Ok(Some(file)) => {
                            health.set_current_first_ack(0);
                            Ok(Some((file, first_ack.take().unwrap_or_else(now_micros))))
                        }
                        Ok(None) => Ok(None),
                        Err(e) => Err(e),
                    };
                    let _ = done.send(answer);
                }
                Request::Stop => stopping = true,
            }
        }
    }
}

/// Whether staging can be written again: appends an empty record (an
/// empty list of events, which folding skips) and makes it durable.
fn probe(staging: &mut Staging) -> bool {
    staging.append(&[b"[]"]).and_then(|()| staging.sync()).is_ok()
}

fn fold_loop(writer: Writer, stager: &Stager, stop: &AtomicBool, every: Duration, metrics: &Metrics, health: &Health) {
    let dir = writer.dir().to_path_buf();
    let mut writer = Some(writer);
    let mut last = Instant::now();
    // Sealed files not yet folded (kept across a failed round), and how
    // often each could not be read.
    let mut pending: Vec<Sealed> = Vec::new();
    let mut unreadable: HashMap<PathBuf, u32> = HashMap::new();
    // How many sealed files one commit folds: all of them normally; after a
    // failed commit (a full disk) half as many each round, down to one, so
    // a backlog that fills the disk is folded file by file, each commit
    // freeing its staging file's space for the next; doubled again after
    // each success.
    let mut limit = usize::MAX;
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        if !stopping && last.elapsed() < every {
            std::thread::sleep(Duration::from_millis(20).min(every));
            continue;
        }
        last = Instant::now();
        // Seal the current file first: if that fails (no descriptor for the
        // next file), appends go on in the current one and what is already
        // sealed is still folded.
        let rotated = stager.rotate();
        match &rotated {
            Ok(Some(s)) => pending.push(s.clone()),
            Ok(None) => {}
            Err(_) => {
                metrics.fold_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        health.set_oldest_pending(pending.iter().map(|(_, t)| *t).min().unwrap_or(0));
        let folded = if pending.is_empty() {
            Ok((0, None))
        } else {
            if writer.is_none() {
                match Writer::open(&dir, now_micros()) {
                    Ok(w) => writer = Some(w),
                    Err(e) => {
                        health.fold_failed(&format!("reopening the store: {e}"));
                        metrics.fold_errors.fetch_add(1, Ordering::Relaxed);
                        eprintln!("wayfarer: reopening the store failed: {e}");
                        if stopping {
                            return;
                        }
                        std::thread::sleep(Duration::from_secs(1));
                        continue;
                    }
                }
            }
            let Some(w) = writer.as_mut() else { continue };
            let tried = pending.len().min(limit);
            let folded = fold_pending(w, &mut pending, &mut unreadable, limit, health);
            limit = if folded.is_ok() { limit.saturating_mul(2) } else { (tried / 2).max(1) };
            folded
        };
        match folded {
            Ok((n, unread)) => {
                if n > 0 {
                    metrics.folded.fetch_add(n, Ordering::Relaxed);
                }
                if let Some(w) = writer.as_mut() {
                    metrics.events_total.store(w.events_total(), Ordering::Relaxed);
                    w.delete_retired(RETIRE_GRACE);
                }
                // What went wrong this round, if anything: the staging file
                // could not be sealed, or a sealed one could not be read.
                let problem = match (&rotated, unread) {
                    (Err(e), _) => Some(format!("sealing the staging file: {e}")),
                    (Ok(_), Some(e)) => Some(format!("reading a staging file: {e}")),
                    (Ok(_), None) => None,
                };
                match problem {
                    Some(message) => {
                        metrics.fold_errors.fetch_add(u64::from(rotated.is_ok()), Ordering::Relaxed);
                        eprintln!("wayfarer: {message}");
                        health.fold_failed(&message);
                    }
                    None => health.fold_ok(),
                }
            }
            Err(e) => {
                // The sealed files stay and the writer starts again from the
                // committed state (dropping it removes what it half wrote);
                // the next round, or a restart, folds them.
                metrics.fold_errors.fetch_add(1, Ordering::Relaxed);
                let message = format!("folding staged events: {e}");
                eprintln!("wayfarer: {message}");
                health.fold_failed(&message);
                writer = None;
                if !stopping {
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
        health.set_oldest_pending(pending.iter().map(|(_, t)| *t).min().unwrap_or(0));
        if stopping {
            return;
        }
    }
}

/// Folds the first `limit` sealed files into the store with one commit, then
/// deletes them (or keeps the damaged ones); returns the events read, and why a
/// file could not be read: such a file (an I/O error, no descriptor) stays
/// pending and is tried again next round, without holding back the others.
fn fold_pending(
    writer: &mut Writer,
    pending: &mut Vec<Sealed>,
    unreadable: &mut HashMap<PathBuf, u32>,
    limit: usize,
    health: &Health,
) -> Result<(u64, Option<String>), String> {
    let mut n = 0;
    let take = pending.len().min(limit);
    let mut read = Vec::with_capacity(take);
    let mut failure = None;
    for (file, _) in pending.iter().take(take) {
        match staging::read_sealed(&file.path) {
            Ok(s) => {
                n += s.events.len() as u64;
                read.push(Some(file.read_whole(&s)));
                writer.add(s.events).map_err(|e| e.to_string())?;
            }
            Err(e) => {
                let tries = unreadable.entry(file.path.clone()).or_insert(0);
                *tries += 1;
                failure = Some(format!("{e} (tried {tries} times; it stays staged)"));
                read.push(None);
            }
        }
    }
    if read.iter().any(Option::is_some) {
        writer.commit_open().map_err(|e| e.to_string())?;
    }
    let mut kept = Vec::new();
    let later: Vec<Sealed> = pending.split_off(take);
    for ((file, first_ack), whole) in pending.drain(..).zip(read) {
        match whole {
            Some(whole) => {
                unreadable.remove(&file.path);
                settle(&file.path, whole, health)?;
            }
            None => kept.push((file, first_ack)),
        }
    }
    kept.extend(later);
    *pending = kept;
    Ok((n, failure))
}

/// After its events are committed: deletes a staging file that was read
/// whole, keeps one that was not in `staging/damaged/`.
fn settle(path: &Path, whole: bool, health: &Health) -> Result<(), String> {
    if whole {
        return staging::remove_sealed(path).map_err(|e| e.to_string());
    }
    health.damaged_files.fetch_add(1, Ordering::Relaxed);
    let to = staging::keep_damaged(path).map_err(|e| e.to_string())?;
    eprintln!(
        "wayfarer: {} held bytes that could not be read; its intact records are committed and the file is kept as {}",
        path.display(),
        to.display()
    );
    Ok(())
}

pub fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wayfarer_core::Event;

    #[test]
    fn appends_are_admitted_only_with_room_to_fold_what_is_staged() {
        let dir = tempfile::tempdir().unwrap();
        let fs = rustix::fs::statvfs(dir.path()).unwrap();
        let free = fs.f_bavail * fs.f_frsize;
        let room = |reserve| Room { dir: dir.path().to_path_buf(), reserve: Some(reserve) };
        assert!(room(0).admit(1 << 20).is_ok());
        // A reserve beyond the free space refuses, and says why.
        let e = room(free).admit(1).unwrap_err();
        assert!(e.starts_with("staging: the disk is nearly full"), "{e}");
        // What is staged counts twice, besides being written: a reserve
        // 64 MiB below the free space admits 16 MiB (16 + 2 × 16 = 48 MiB);
        // with 16 MiB staged already it does not (16 + 2 × 32 = 80 MiB),
        // but the staged bytes alone still fit (2 × 16 = 32 MiB). The
        // margins leave room for other tests writing meanwhile.
        let reserve = free.saturating_sub(64 << 20);
        assert!(room(reserve).admit(16 << 20).is_ok());
        std::fs::create_dir_all(dir.path().join("staging")).unwrap();
        std::fs::write(dir.path().join("staging").join("wal-0000000001.log"), vec![0u8; 16 << 20]).unwrap();
        assert_eq!(staging::backlog_bytes(dir.path()), 16 << 20);
        assert!(room(reserve).admit(16 << 20).is_err());
        assert!(room(reserve).admit(0).is_ok());
    }

    fn event(id: &str) -> Event {
        let mut e = Event::new(id, 1_767_225_600_000_000, "Product Viewed");
        e.user_id = Some("u".into());
        e
    }

    #[test]
    fn a_limited_round_folds_the_oldest_files_and_keeps_the_rest_staged() {
        let dir = tempfile::tempdir().unwrap();
        let (mut staging, _) = Staging::open(dir.path()).unwrap();
        let mut pending: Vec<Sealed> = Vec::new();
        for i in 0..3 {
            staging.append(&[&staging::encode_payload(&[event(&format!("e{i}"))])]).unwrap();
            staging.sync().unwrap();
            pending.push((staging.rotate().unwrap().unwrap(), i));
        }
        let mut writer = Writer::open(dir.path(), 0).unwrap();
        let health = Health::default();
        let mut unreadable = HashMap::new();
        // One file per commit (after a failure): the oldest goes, two stay.
        let (n, problem) = fold_pending(&mut writer, &mut pending, &mut unreadable, 1, &health).unwrap();
        assert_eq!((n, problem, writer.events_total()), (1, None, 1));
        assert_eq!(pending.iter().map(|p| p.1).collect::<Vec<_>>(), [1, 2]);
        let (n, _) = fold_pending(&mut writer, &mut pending, &mut unreadable, usize::MAX, &health).unwrap();
        assert_eq!((n, writer.events_total(), pending.len()), (2, 3, 0));
    }
}
