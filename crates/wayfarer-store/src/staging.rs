//! Write-ahead staging: events the server has acknowledged but not yet
//! folded into segments.
//!
//! ```text
//!  DIR/staging/wal-NNNNNNNNNN.log   framed records, appended, fsync'd
//!  record = [payload length: u32 LE][xxh3-64 of payload: u64 LE][payload]
//!  payload = JSON array of canonical events
//! ```
//!
//! The server appends the records of many requests, fsyncs once (group
//! commit) and only then acknowledges them. A background task rotates to a
//! new file, folds the sealed one into the store with an ordinary commit and
//! deletes it. A crash can leave a torn or corrupt record at the end of a
//! file — it was never acknowledged — so reading stops there. Replaying a
//! file whose events were already committed adds nothing: the writer drops
//! duplicate event ids.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use wayfarer_core::Event;
use xxhash_rust::xxh3::xxh3_64;

use crate::StoreError;

const HEADER: usize = 12;
/// A record larger than this is corrupt (requests are at most 500 KB).
const MAX_RECORD: usize = 64 << 20;

/// The open staging file of a data directory.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    file: File,
    id: u64,
    bytes: u64,
}

/// What reading a sealed staging file found.
#[derive(Debug, Default)]
pub struct Sealed {
    pub events: Vec<Event>,
    pub records: u64,
    /// Bytes after the last whole record (a torn append), ignored.
    pub torn_bytes: u64,
}

fn wal_name(id: u64) -> String {
    format!("wal-{id:010}.log")
}

impl Staging {
    /// Opens `DIR/staging` and starts a new staging file; returns it and
    /// the files left by earlier runs, oldest first (to be replayed).
    pub fn open(data_dir: &Path) -> Result<(Staging, Vec<PathBuf>), StoreError> {
        let dir = data_dir.join("staging");
        fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        let mut old: Vec<(u64, PathBuf)> = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| StoreError::io(&dir, e))? {
            let path = entry.map_err(|e| StoreError::io(&dir, e))?.path();
            let id = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("wal-"))
                .and_then(|n| n.strip_suffix(".log"))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(id) = id {
                old.push((id, path));
            }
        }
        old.sort();
        let id = old.last().map_or(1, |(id, _)| id + 1);
        let file = create(&dir, id)?;
        Ok((Staging { dir, file, id, bytes: 0 }, old.into_iter().map(|(_, p)| p).collect()))
    }

    /// Appends one record per payload (not yet durable: call [`sync`](Self::sync)).
    pub fn append(&mut self, payloads: &[&[u8]]) -> Result<(), StoreError> {
        let mut buf = Vec::with_capacity(payloads.iter().map(|p| p.len() + HEADER).sum());
        for p in payloads {
            buf.extend_from_slice(&(p.len() as u32).to_le_bytes());
            buf.extend_from_slice(&xxh3_64(p).to_le_bytes());
            buf.extend_from_slice(p);
        }
        self.file.write_all(&buf).map_err(|e| StoreError::io(&self.path(), e))?;
        self.bytes += buf.len() as u64;
        Ok(())
    }

    /// Makes everything appended durable.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.file.sync_data().map_err(|e| StoreError::io(&self.path(), e))
    }

    /// Bytes in the current file.
    pub fn len(&self) -> u64 {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    /// Seals the current file (if it holds anything) and starts a new one;
    /// returns the sealed file.
    pub fn rotate(&mut self) -> Result<Option<PathBuf>, StoreError> {
        if self.bytes == 0 {
            return Ok(None);
        }
        self.sync()?;
        let sealed = self.path();
        self.id += 1;
        self.file = create(&self.dir, self.id)?;
        self.bytes = 0;
        Ok(Some(sealed))
    }

    fn path(&self) -> PathBuf {
        self.dir.join(wal_name(self.id))
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

/// Reads a sealed staging file: every whole, intact record.
pub fn read_sealed(path: &Path) -> Result<Sealed, StoreError> {
    let mut data = Vec::new();
    File::open(path).and_then(|mut f| f.read_to_end(&mut data)).map_err(|e| StoreError::io(path, e))?;
    let mut out = Sealed::default();
    let mut at = 0;
    while at + HEADER <= data.len() {
        let len = u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes")) as usize;
        let hash = u64::from_le_bytes(data[at + 4..at + HEADER].try_into().expect("8 bytes"));
        let end = at + HEADER + len;
        if len > MAX_RECORD || end > data.len() || xxh3_64(&data[at + HEADER..end]) != hash {
            break;
        }
        let events: Vec<Event> = serde_json::from_slice(&data[at + HEADER..end])
            .map_err(|e| StoreError::Corrupt(format!("{}: record at byte {at}: {e}", path.display())))?;
        out.events.extend(events);
        out.records += 1;
        at = end;
    }
    out.torn_bytes = (data.len() - at) as u64;
    Ok(out)
}

/// Deletes a sealed staging file once its events are committed.
pub fn remove_sealed(path: &Path) -> Result<(), StoreError> {
    fs::remove_file(path).map_err(|e| StoreError::io(path, e))
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

    #[test]
    fn records_round_trip_and_a_torn_tail_is_ignored() {
        let t = tempfile::tempdir().unwrap();
        let (mut s, old) = Staging::open(t.path()).unwrap();
        assert!(old.is_empty());
        let a = serde_json::to_vec(&vec![event("a"), event("b")]).unwrap();
        let b = serde_json::to_vec(&vec![event("c")]).unwrap();
        s.append(&[&a, &b]).unwrap();
        s.sync().unwrap();
        let sealed = s.rotate().unwrap().unwrap();
        assert_eq!(s.rotate().unwrap(), None, "an empty file is not sealed");
        // A crash in the middle of the next append.
        let mut f = OpenOptions::new().append(true).open(&sealed).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2, 3]).unwrap();
        let r = read_sealed(&sealed).unwrap();
        assert_eq!(r.records, 2);
        assert_eq!(r.events.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(r.torn_bytes, 7);
        assert_eq!(r.events[0], event("a"));
        // A flipped byte inside a record ends the readable part there.
        let mut bytes = fs::read(&sealed).unwrap();
        bytes[HEADER + a.len() + HEADER + 3] ^= 0xff;
        fs::write(&sealed, bytes).unwrap();
        assert_eq!(read_sealed(&sealed).unwrap().records, 1);
        // Reopening lists the files left behind, oldest first, and starts a new one.
        drop(s);
        let (s2, old) = Staging::open(t.path()).unwrap();
        assert_eq!(old.len(), 2);
        assert!(old[0] < old[1]);
        assert!(s2.is_empty());
    }
}
