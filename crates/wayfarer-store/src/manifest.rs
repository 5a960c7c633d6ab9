//! The manifest: the one file that says what the data directory holds. It is
//! replaced atomically (write `manifest.json.part`, fsync, rename, fsync the
//! directory), so a reader always sees a complete state and a crash leaves
//! either the old manifest or the new one.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::StoreError;

pub const MANIFEST: &str = "manifest.json";
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// Incremented by every commit.
    pub generation: u64,
    /// Number of customer partitions (fixed when the directory is created).
    pub partitions: u32,
    /// The next arrival sequence number.
    pub next_seq: u64,
    /// The next segment number.
    pub next_segment: u64,
    pub events_total: u64,
    /// Store-wide dictionary of event names (`event_code` indexes it).
    pub event_names: Vec<String>,
    /// Store-wide dictionary of channels (`channel_code` indexes it).
    pub channels: Vec<String>,
    /// The identity graph file of this generation, if any events exist.
    pub identity_file: Option<String>,
    pub segments: Vec<SegmentMeta>,
    /// The fingerprint of the channel rules that derived the stored
    /// channels (`None`: written before channels could be re-derived).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels_fingerprint: Option<String>,
    /// The property and trait names in the data (`None`: written before
    /// they were recorded; the next writer finds them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<crate::keys::Keys>,
    /// The runs of the committed events' keys ([`crate::key_runs`]);
    /// `None` before they were written (the next writer writes them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_runs: Option<Vec<crate::key_runs::KeyRun>>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentMeta {
    pub id: u64,
    pub partition: u32,
    /// Path relative to the data directory.
    pub file: String,
    pub rows: u64,
    pub min_ts: i64,
    pub max_ts: i64,
    pub min_customer: u32,
    pub max_customer: u32,
}

impl Manifest {
    pub fn new(partitions: u32, now: i64) -> Manifest {
        Manifest {
            format: FORMAT,
            generation: 0,
            partitions,
            next_seq: 0,
            next_segment: 0,
            events_total: 0,
            event_names: Vec::new(),
            channels: Vec::new(),
            identity_file: None,
            segments: Vec::new(),
            channels_fingerprint: None,
            keys: Some(crate::keys::Keys::default()),
            key_runs: Some(Vec::new()),
            created_at: now,
            updated_at: now,
        }
    }

    pub fn load(dir: &Path) -> Result<Option<Manifest>, StoreError> {
        let path = dir.join(MANIFEST);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        let m: Manifest =
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?;
        if m.format != FORMAT {
            return Err(StoreError::Corrupt(format!(
                "{}: format {} is not supported by this version (expects {FORMAT})",
                path.display(),
                m.format
            )));
        }
        Ok(Some(m))
    }

    /// Writes the manifest atomically.
    pub fn store(&self, dir: &Path) -> Result<(), StoreError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| StoreError::Internal(e.to_string()))?;
        write_atomic(dir, MANIFEST, text.as_bytes())
    }

    pub fn segments_of(&self, partition: u32) -> impl Iterator<Item = &SegmentMeta> {
        self.segments.iter().filter(move |s| s.partition == partition)
    }
}

/// Writes `dir/name` atomically: `.part`, fsync, rename, fsync the directory.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let part = dir.join(format!("{name}.part"));
    let path = dir.join(name);
    let mut f = File::create(&part).map_err(|e| StoreError::io(&part, e))?;
    f.write_all(bytes).map_err(|e| StoreError::io(&part, e))?;
    f.sync_all().map_err(|e| StoreError::io(&part, e))?;
    drop(f);
    fs::rename(&part, &path).map_err(|e| StoreError::io(&path, e))?;
    sync_dir(dir)
}

/// Appends lines to a log file and makes them durable (fsync). After a
/// torn append (a crash mid-line) the new lines start on their own line,
/// so readers skip only the torn one.
pub fn append_durable(path: &Path, mut text: Vec<u8>) -> Result<(), StoreError> {
    use std::io::{Read, Seek, SeekFrom};
    let io = |e| StoreError::io(path, e);
    let mut f = File::options().create(true).read(true).append(true).open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        f.seek(SeekFrom::Start(len - 1)).map_err(io)?;
        f.read_exact(&mut last).map_err(io)?;
        if last[0] != b'\n' {
            text.insert(0, b'\n');
        }
    }
    f.write_all(&text).map_err(io)?;
    f.sync_data().map_err(io)
}

/// Fsyncs a directory so a rename in it is durable.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    match File::open(dir) {
        Ok(d) => d.sync_all().or(Ok(())),
        Err(e) => Err(StoreError::io(dir, e)),
    }
}
