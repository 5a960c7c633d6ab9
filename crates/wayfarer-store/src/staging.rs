//! Write-ahead staging: events the server has acknowledged but not yet
//! folded into segments.
//!
//! ```text
//!  DIR/staging/wal-NNNNNNNNNN.log          the file being appended: framed records, fsync'd
//!  DIR/staging/wal-NNNNNNNNNN-LEN.sealed   a sealed file holding LEN bytes of acknowledged records
//!  DIR/staging/damaged/                    files that held unreadable bytes (kept, never deleted)
//!  record = [payload length: u32 LE][xxh3-64 of payload: u64 LE][payload]
//!  payload = JSON array of canonical events
//! ```
//!
//! The server appends the records of many requests, fsyncs once (group
//! commit) and only then acknowledges them. A background task rotates to a
//! new file, folds the sealed one into the store with an ordinary commit and
//! deletes it. Replaying a file whose events were already committed adds
//! nothing: the writer drops duplicate event ids.
//!
//! **Failures.** A write or fsync that fails (a full disk, a quota, an I/O
//! error) may leave part of a record in the file. Nothing of it was
//! acknowledged, and nothing may follow it: before anything else is
//! appended, the file is truncated back to the end of the last record made
//! durable and that is fsync'd; until that succeeds every append fails (the
//! server answers 503 and clients retry). Rotation creates the next file
//! before it switches to it, so a failed `open` (no descriptors, no inodes)
//! leaves appends going to the current file. A crash can still leave a torn
//! record at the very end of a file — never acknowledged. The reader takes
//! every intact record, also past a damaged stretch (it looks for the next
//! intact record), and says how many bytes it could not read, so the folder
//! never deletes a file that held acknowledged records it did not commit.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use wayfarer_core::Event;
use xxhash_rust::xxh3::xxh3_64;

use crate::StoreError;

const HEADER: usize = 12;
/// A record larger than this is corrupt (requests are at most a few MB).
const MAX_RECORD: usize = 64 << 20;

/// The open staging file of a data directory.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    file: File,
    id: u64,
    /// Bytes written to the current file (whole records, maybe not yet durable).
    written: u64,
    /// Bytes of the current file known durable (the end of the last fsync'd record).
    durable: u64,
    /// Set after a failed write or fsync until the file is truncated back to
    /// `durable`; appends are refused meanwhile.
    broken: Option<String>,
}

/// A staging file sealed by [`Staging::rotate`], or left by an earlier run:
/// its path and, when known, how many bytes of acknowledged records it
/// holds (a sealed file's name says it; the file a crash interrupted may
/// end in a torn, never acknowledged record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedFile {
    pub path: PathBuf,
    pub len: Option<u64>,
}

impl SealedFile {
    /// Whether what was read of it holds every acknowledged record, so it
    /// may be deleted once its events are committed.
    pub fn read_whole(&self, read: &Sealed) -> bool {
        match self.len {
            Some(len) => read.holds_all(len),
            None => read.skipped_bytes == 0,
        }
    }
}

/// What reading a staging file found.
#[derive(Debug, Default)]
pub struct Sealed {
    pub events: Vec<Event>,
    pub records: u64,
    /// End of the last intact record.
    pub end: u64,
    /// Bytes after the last intact record (a torn append), not read.
    pub torn_bytes: u64,
    /// Bytes between intact records that could not be read (damage).
    pub skipped_bytes: u64,
}

impl Sealed {
    /// Whether every byte up to `acknowledged` was read as intact records:
    /// only then may the file be deleted once its events are committed.
    pub fn holds_all(&self, acknowledged: u64) -> bool {
        self.skipped_bytes == 0 && self.end >= acknowledged
    }
}

fn wal_name(id: u64) -> String {
    format!("wal-{id:010}.log")
}

fn sealed_name(id: u64, len: u64) -> String {
    format!("wal-{id:010}-{len}.sealed")
}

/// The id of a staging file and, for a sealed one, its acknowledged length.
fn parse_name(name: &str) -> Option<(u64, Option<u64>)> {
    let rest = name.strip_prefix("wal-")?;
    if let Some(id) = rest.strip_suffix(".log") {
        return Some((id.parse().ok()?, None));
    }
    let (id, len) = rest.strip_suffix(".sealed")?.split_once('-')?;
    Some((id.parse().ok()?, Some(len.parse().ok()?)))
}

impl Staging {
    /// Opens `DIR/staging` and starts a new staging file; returns it and
    /// the files left by earlier runs, oldest first (to be replayed).
    pub fn open(data_dir: &Path) -> Result<(Staging, Vec<SealedFile>), StoreError> {
        let dir = data_dir.join("staging");
        fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        let mut old: Vec<(u64, SealedFile)> = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| StoreError::io(&dir, e))? {
            let path = entry.map_err(|e| StoreError::io(&dir, e))?.path();
            if let Some((id, len)) = path.file_name().and_then(|n| n.to_str()).and_then(parse_name) {
                old.push((id, SealedFile { path, len }));
            }
        }
        old.sort_by_key(|(id, _)| *id);
        let id = old.last().map_or(1, |(id, _)| id + 1);
        let file = create(&dir, id)?;
        let staging = Staging { dir, file, id, written: 0, durable: 0, broken: None };
        Ok((staging, old.into_iter().map(|(_, f)| f).collect()))
    }

    /// Appends one record per payload (not yet durable: call [`sync`](Self::sync)).
    /// On an error nothing of the payloads stays in the file.
    pub fn append(&mut self, payloads: &[&[u8]]) -> Result<(), StoreError> {
        self.repair()?;
        let mut buf = Vec::with_capacity(payloads.iter().map(|p| p.len() + HEADER).sum());
        for p in payloads {
            if p.len() > MAX_RECORD {
                return Err(StoreError::Internal(format!("a staging record of {} bytes is too large", p.len())));
            }
            buf.extend_from_slice(&(p.len() as u32).to_le_bytes());
            buf.extend_from_slice(&xxh3_64(p).to_le_bytes());
            buf.extend_from_slice(p);
        }
        match self.file.write_all(&buf) {
            Ok(()) => {
                self.written += buf.len() as u64;
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Makes everything appended durable. On an error the records appended
    /// since the last successful sync are removed (they were never durable).
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.repair()?;
        match self.file.sync_data() {
            Ok(()) => {
                self.durable = self.written;
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Why appends are refused, if they are (a failed write not yet undone).
    pub fn broken(&self) -> Option<&str> {
        self.broken.as_deref()
    }

    /// Bytes in the current file.
    pub fn len(&self) -> u64 {
        self.written
    }

    pub fn is_empty(&self) -> bool {
        self.written == 0
    }

    /// Seals the current file (if it holds anything) and starts a new one;
    /// returns the sealed file. The new file is created first: if that
    /// fails, the current one stays open and nothing is sealed.
    pub fn rotate(&mut self) -> Result<Option<SealedFile>, StoreError> {
        if self.written == 0 {
            return Ok(None);
        }
        self.sync()?;
        let next = create(&self.dir, self.id + 1)?;
        // The name records how many bytes are acknowledged, so a restart
        // knows a shorter read is damage, not a torn tail.
        let (old, len) = (self.path(), self.durable);
        let named = self.dir.join(sealed_name(self.id, len));
        let path = match fs::rename(&old, &named) {
            Ok(()) => named,
            Err(_) => old,
        };
        self.file = next;
        self.id += 1;
        self.written = 0;
        self.durable = 0;
        Ok(Some(SealedFile { path, len: Some(len) }))
    }

    fn path(&self) -> PathBuf {
        self.dir.join(wal_name(self.id))
    }

    /// Records a failed write or fsync and tries to undo it at once.
    fn fail(&mut self, e: std::io::Error) -> StoreError {
        let err = StoreError::io(&self.path(), e);
        self.broken = Some(err.to_string());
        // If the truncation fails too, the next append tries again first.
        let _ = self.repair();
        err
    }

    /// Truncates the file back to its durable end after a failure.
    fn repair(&mut self) -> Result<(), StoreError> {
        let Some(why) = self.broken.clone() else { return Ok(()) };
        let path = self.path();
        let undo = self.file.set_len(self.durable).and_then(|()| self.file.sync_all());
        match undo {
            Ok(()) => {
                self.written = self.durable;
                self.broken = None;
                Ok(())
            }
            Err(e) => Err(StoreError::io(
                &path,
                std::io::Error::new(e.kind(), format!("{e} (undoing a failed append: {why})")),
            )),
        }
    }
}

fn create(dir: &Path, id: u64) -> Result<File, StoreError> {
    let path = dir.join(wal_name(id));
    let file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| StoreError::io(&path, e))?;
    // The new name must survive a crash too.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(file)
}

/// A record's payload: the events of one acknowledged request. The one
/// place the payload format is written…
pub fn encode_payload(events: &[Event]) -> Vec<u8> {
    serde_json::to_vec(events).expect("events always serialise")
}

/// …and read.
fn decode_payload(bytes: &[u8]) -> Result<Vec<Event>, serde_json::Error> {
    serde_json::from_slice(bytes)
}

/// The intact record at `at`, if there is one: its payload's end.
fn record_at(data: &[u8], at: usize) -> Option<usize> {
    let header = data.get(at..at + HEADER)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let hash = u64::from_le_bytes(header[4..].try_into().ok()?);
    let end = at + HEADER + len;
    // Payloads are JSON arrays: a cheap test before the checksum.
    if len > MAX_RECORD || end > data.len() || data.get(at + HEADER) != Some(&b'[') {
        return None;
    }
    (xxh3_64(&data[at + HEADER..end]) == hash).then_some(end)
}

/// Reads a staging file: every intact record, also past damage.
pub fn read_sealed(path: &Path) -> Result<Sealed, StoreError> {
    let mut data = Vec::new();
    File::open(path).and_then(|mut f| f.read_to_end(&mut data)).map_err(|e| StoreError::io(path, e))?;
    let mut out = Sealed::default();
    let mut at = 0;
    while at + HEADER <= data.len() {
        let Some(end) = record_at(&data, at) else {
            // Damage or a torn tail: continue at the next intact record, if any.
            match (at + 1..data.len().saturating_sub(HEADER)).find(|&p| record_at(&data, p).is_some()) {
                Some(next) => {
                    out.skipped_bytes += (next - at) as u64;
                    at = next;
                    continue;
                }
                None => break,
            }
        };
        // An intact record that is not a list of events (never written by
        // this code) is skipped like damage, so it cannot stall folding.
        match decode_payload(&data[at + HEADER..end]) {
            Ok(events) => {
                out.events.extend(events);
                out.records += 1;
            }
            Err(_) => out.skipped_bytes += (end - at) as u64,
        }
        at = end;
        out.end = end as u64;
    }
    out.torn_bytes = (data.len() as u64).saturating_sub(out.end);
    Ok(out)
}

/// Bytes staged and not yet folded: the staging files of `data_dir` (the
/// current one and the sealed ones; not the damaged ones kept aside).
pub fn backlog_bytes(data_dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(data_dir.join("staging")) else { return 0 };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().and_then(parse_name).is_some())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// Deletes a staging file once its events are committed.
pub fn remove_sealed(path: &Path) -> Result<(), StoreError> {
    fs::remove_file(path).map_err(|e| StoreError::io(path, e))
}

/// Moves a staging file that held unreadable bytes to `staging/damaged/`
/// (its intact records are committed; the rest is kept for inspection),
/// never over an earlier one; returns where it went.
pub fn keep_damaged(path: &Path) -> Result<PathBuf, StoreError> {
    let dir = damaged_dir(path.parent().unwrap_or(Path::new(".")));
    fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("wal").to_string();
    let mut to = dir.join(&name);
    let mut n = 1;
    while to.exists() {
        n += 1;
        to = dir.join(format!("{name}.{n}"));
    }
    fs::rename(path, &to).map_err(|e| StoreError::io(&to, e))?;
    Ok(to)
}

fn damaged_dir(staging: &Path) -> PathBuf {
    staging.join("damaged")
}

/// How many damaged staging files `DIR/staging/damaged/` holds.
pub fn damaged_files(data_dir: &Path) -> u64 {
    fs::read_dir(damaged_dir(&data_dir.join("staging"))).map_or(0, |d| d.count() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wayfarer_core::Kind;

    fn event(id: &str) -> Event {
        let mut e = Event::new(id, 1_700_000_000_000_000, "Order Completed");
        e.kind = Kind::Track;
        e.user_id = Some("u1".into());
        e.revenue = Some(12.5);
        e
    }

    fn ids(s: &Sealed) -> Vec<&str> {
        s.events.iter().map(|e| e.event_id.as_str()).collect()
    }

    #[test]
    fn records_round_trip_and_a_torn_tail_is_ignored() {
        let t = tempfile::tempdir().unwrap();
        let (mut s, old) = Staging::open(t.path()).unwrap();
        assert!(old.is_empty());
        let a = encode_payload(&[event("a"), event("b")]);
        let b = encode_payload(&[event("c")]);
        s.append(&[&a, &b]).unwrap();
        s.sync().unwrap();
        let sealed = s.rotate().unwrap().unwrap();
        assert_eq!(sealed.len, Some((2 * HEADER + a.len() + b.len()) as u64));
        assert!(sealed.path.to_str().unwrap().ends_with(&format!("-{}.sealed", 2 * HEADER + a.len() + b.len())));
        assert_eq!(s.rotate().unwrap(), None, "an empty file is not sealed");
        // A crash in the middle of the next append.
        let mut f = OpenOptions::new().append(true).open(&sealed.path).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2, 3]).unwrap();
        let r = read_sealed(&sealed.path).unwrap();
        assert_eq!(r.records, 2);
        assert_eq!(ids(&r), ["a", "b", "c"]);
        assert_eq!(r.torn_bytes, 7);
        assert_eq!(r.skipped_bytes, 0);
        assert!(sealed.read_whole(&r), "bytes after the acknowledged ones are not damage");
        let mut cut = fs::read(&sealed.path).unwrap();
        cut.truncate(HEADER + a.len() + HEADER + 5);
        fs::write(&sealed.path, &cut).unwrap();
        let r = read_sealed(&sealed.path).unwrap();
        assert_eq!(r.records, 1);
        assert!(!sealed.read_whole(&r), "a sealed file missing acknowledged bytes is damaged, even at its end");
        assert_eq!(r.events[0], event("a"));
        // Reopening lists the files left behind, oldest first (the sealed one
        // with its acknowledged length, the one being written without), and
        // starts a new one.
        drop(s);
        let (s2, old) = Staging::open(t.path()).unwrap();
        assert_eq!(old.len(), 2);
        assert_eq!(old[0], sealed);
        assert_eq!(old[1].len, None);
        let crashed = SealedFile { path: old[1].path.clone(), len: None };
        let mut f = OpenOptions::new().append(true).open(&crashed.path).unwrap();
        f.write_all(&[9, 0, 0, 0, 1]).unwrap();
        assert!(crashed.read_whole(&read_sealed(&crashed.path).unwrap()), "a crash's torn tail is not damage");
        assert!(s2.is_empty());
    }

    #[test]
    fn damage_in_the_middle_is_skipped_and_reported() {
        let t = tempfile::tempdir().unwrap();
        let (mut s, _) = Staging::open(t.path()).unwrap();
        let a = encode_payload(&[event("a")]);
        let b = encode_payload(&[event("b")]);
        let c = encode_payload(&[event("c")]);
        s.append(&[&a, &b, &c]).unwrap();
        s.sync().unwrap();
        let sealed = s.rotate().unwrap().unwrap();
        // A flipped byte inside the second record: the first and third are read.
        let mut bytes = fs::read(&sealed.path).unwrap();
        bytes[HEADER + a.len() + HEADER + 3] ^= 0xff;
        fs::write(&sealed.path, &bytes).unwrap();
        let r = read_sealed(&sealed.path).unwrap();
        assert_eq!(ids(&r), ["a", "c"]);
        assert_eq!(r.skipped_bytes, (HEADER + b.len()) as u64);
        assert!(!sealed.read_whole(&r), "a file with unreadable acknowledged bytes is not deletable");
        // Torn bytes (an append that failed half-way) followed by a record
        // acknowledged later: the later record is still found.
        let mut torn = bytes[..HEADER + a.len()].to_vec();
        torn.extend_from_slice(&[0x40, 0x01, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9, b'[', b'{']);
        torn.extend_from_slice(&bytes[HEADER + a.len() + HEADER + b.len()..]);
        fs::write(&sealed.path, &torn).unwrap();
        let r = read_sealed(&sealed.path).unwrap();
        assert_eq!(ids(&r), ["a", "c"]);
        assert_eq!(r.skipped_bytes, 14);
        assert_eq!(r.torn_bytes, 0);
    }

    #[test]
    fn a_failed_rotation_keeps_appending_to_the_current_file() {
        let t = tempfile::tempdir().unwrap();
        let (mut s, _) = Staging::open(t.path()).unwrap();
        let a = encode_payload(&[event("a")]);
        s.append(&[&a]).unwrap();
        s.sync().unwrap();
        // The next file's name is taken by a directory: creating it fails.
        let next = t.path().join("staging").join(wal_name(s.id + 1));
        fs::create_dir(&next).unwrap();
        assert!(s.rotate().is_err());
        let b = encode_payload(&[event("b")]);
        s.append(&[&b]).unwrap();
        s.sync().unwrap();
        fs::remove_dir(&next).unwrap();
        let sealed = s.rotate().unwrap().unwrap();
        let r = read_sealed(&sealed.path).unwrap();
        assert_eq!(ids(&r), ["a", "b"]);
        assert!(sealed.read_whole(&r));
    }

    #[test]
    fn damaged_files_are_kept() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("staging").join(wal_name(3));
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, b"x").unwrap();
        let to = keep_damaged(&p).unwrap();
        assert!(!p.exists());
        assert_eq!(fs::read(&to).unwrap(), b"x");
        // Another damaged file of the same name does not replace it.
        fs::write(&p, b"y").unwrap();
        let to2 = keep_damaged(&p).unwrap();
        assert_ne!(to, to2);
        assert_eq!((fs::read(&to).unwrap(), fs::read(&to2).unwrap()), (b"x".to_vec(), b"y".to_vec()));
        assert_eq!(damaged_files(t.path()), 2);
        let (_, old) = Staging::open(t.path()).unwrap();
        assert!(old.is_empty(), "damaged files are not replayed again");
        assert_eq!(parse_name("wal-0000000007-1234.sealed"), Some((7, Some(1234))));
        assert_eq!(parse_name("wal-0000000007.log"), Some((7, None)));
        assert_eq!(parse_name("wal-x.log"), None);
    }

    /// A real full disk: a small tmpfs (needs root to mount; skipped otherwise).
    #[test]
    fn a_full_disk_never_leaves_a_torn_record_before_an_acknowledged_one() {
        let Some(mount) = crate::testfs::Tmpfs::mount("1m") else {
            eprintln!("SKIP: mounting a tmpfs needs root");
            return;
        };
        let (mut s, _) = Staging::open(mount.path()).unwrap();
        let small = encode_payload(&[event("small-1")]);
        s.append(&[&small]).unwrap();
        s.sync().unwrap();
        // Fill the disk, leaving a little room.
        let filler = mount.path().join("filler");
        crate::testfs::fill(&filler, 8192);
        // A large record does not fit: the append fails and leaves nothing.
        let big: Vec<Event> = (0..200).map(|i| event(&format!("big-{i}"))).collect();
        let big = encode_payload(&big);
        assert!(s.append(&[&big]).and_then(|()| s.sync()).is_err());
        assert!(s.broken().is_none(), "truncating back needs no space");
        // Space again: the next small record is acknowledged and must be read.
        fs::remove_file(&filler).unwrap();
        let small2 = encode_payload(&[event("small-2")]);
        s.append(&[&small2]).unwrap();
        s.sync().unwrap();
        let sealed = s.rotate().unwrap().unwrap();
        let r = read_sealed(&sealed.path).unwrap();
        assert_eq!(ids(&r), ["small-1", "small-2"]);
        assert!(sealed.read_whole(&r));
        assert_eq!(r.torn_bytes + r.skipped_bytes, 0);
    }
}
