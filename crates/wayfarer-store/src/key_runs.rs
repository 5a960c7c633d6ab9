//! The committed events' keys, persisted: every commit that adds events
//! writes their keys as a run (`event-keys/G.keys`, G the generation), and
//! the manifest names the runs. A writer reads them as one sorted array per
//! dedupe shard ([`crate::dedupe`]) instead of reading every stored event
//! id back and hashing it again — at 50M stored events 0.6 GB read in
//! order against 50M strings decoded, hashed and inserted at random.
//!
//! ```text
//!  run  = header, then for each of the 64 shards its keys (12 bytes each,
//!         little-endian u32s, sorted by dedupe::rank)
//!  header = "WFKEYS01", shards u32, 0 u32, count u64 × shards,
//!           xxh3-64 of each section × shards, xxh3-64 of the header before it
//! ```
//!
//! Runs are a derived index: they are written without fsync, and a run
//! that is missing, torn, fails its checksums or whose counts disagree with
//! the manifest makes the writer read the keys from the segments (as a
//! directory written before runs existed) and write one run of all of
//! them. A new run is merged with the one before while it is at least half
//! its size, so each run is more than twice the next: a directory holds a
//! logarithmic number of runs and rewrites each key as often.

use std::fs::{self, File};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::StoreError;
use crate::dedupe::{Key, SHARDS, rank};

const MAGIC: &[u8; 8] = b"WFKEYS01";
/// Bytes of a key in a run.
const KEY_BYTES: usize = 12;
/// The directory of the runs, in the data directory.
pub const DIR: &str = "event-keys";

/// A run the manifest names: its file (relative to the data directory) and
/// how many keys it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRun {
    pub file: String,
    pub rows: u64,
}

fn header_len() -> usize {
    8 + 4 + 4 + SHARDS * 8 * 2 + 8
}

/// Writes a run section by section (shard 0 first), then its header.
pub(crate) struct RunWriter {
    path: PathBuf,
    out: BufWriter<File>,
    counts: Vec<u64>,
    sums: Vec<u64>,
    buf: Vec<u8>,
}

impl RunWriter {
    pub(crate) fn create(dir: &Path, file: &str) -> Result<RunWriter, StoreError> {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
        }
        let f = File::create(&path).map_err(|e| StoreError::io(&path, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, f);
        out.write_all(&vec![0u8; header_len()]).map_err(|e| StoreError::io(&path, e))?;
        Ok(RunWriter { path, out, counts: Vec::new(), sums: Vec::new(), buf: Vec::new() })
    }

    /// The next shard's keys, sorted by rank.
    pub(crate) fn section(&mut self, keys: &[Key]) -> Result<(), StoreError> {
        debug_assert!(keys.windows(2).all(|w| rank(w[0]) < rank(w[1])));
        let bytes: &[u8] = if cfg!(target_endian = "little") {
            // The keys' memory is the file's bytes.
            bytemuck::cast_slice(keys)
        } else {
            self.buf.clear();
            self.buf.extend(keys.iter().flatten().flat_map(|part| part.to_le_bytes()));
            &self.buf
        };
        self.counts.push(keys.len() as u64);
        self.sums.push(xxh3_64(bytes));
        self.out.write_all(bytes).map_err(|e| StoreError::io(&self.path, e))
    }

    /// Writes the header; returns the number of keys.
    pub(crate) fn finish(mut self) -> Result<u64, StoreError> {
        let io = |e| StoreError::io(&self.path, e);
        if self.counts.len() != SHARDS {
            return Err(StoreError::Internal(format!("a key run with {} of {SHARDS} sections", self.counts.len())));
        }
        let mut header = Vec::with_capacity(header_len());
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&(SHARDS as u32).to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        for n in self.counts.iter().chain(&self.sums) {
            header.extend_from_slice(&n.to_le_bytes());
        }
        let sum = xxh3_64(&header);
        header.extend_from_slice(&sum.to_le_bytes());
        self.out.seek(SeekFrom::Start(0)).map_err(io)?;
        self.out.write_all(&header).map_err(io)?;
        self.out.flush().map_err(io)?;
        Ok(self.counts.iter().sum())
    }
}

/// An opened run: where each section starts and what it must hash to.
struct Opened {
    file: File,
    offsets: Vec<u64>,
    counts: Vec<u64>,
    sums: Vec<u64>,
}

/// Why a run cannot be used (the caller falls back to the segments).
fn bad(run: &KeyRun, why: &str) -> StoreError {
    StoreError::Corrupt(format!("{}: {why}", run.file))
}

fn open(dir: &Path, run: &KeyRun) -> Result<Opened, StoreError> {
    let path = dir.join(&run.file);
    let file = File::open(&path).map_err(|e| StoreError::io(&path, e))?;
    let mut header = vec![0u8; header_len()];
    file.read_exact_at(&mut header, 0).map_err(|_| bad(run, "shorter than its header"))?;
    let word = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().unwrap_or_default());
    let end = header_len() - 8;
    if &header[..8] != MAGIC || xxh3_64(&header[..end]) != word(end) {
        return Err(bad(run, "not a key run, or its header is damaged"));
    }
    if u32::from_le_bytes(header[8..12].try_into().unwrap_or_default()) as usize != SHARDS {
        return Err(bad(run, "written for another number of shards"));
    }
    let counts: Vec<u64> = (0..SHARDS).map(|s| word(16 + s * 8)).collect();
    let sums: Vec<u64> = (0..SHARDS).map(|s| word(16 + (SHARDS + s) * 8)).collect();
    let rows = counts.iter().try_fold(0u64, |sum, &n| sum.checked_add(n));
    let want = rows.and_then(|r| r.checked_mul(KEY_BYTES as u64)).and_then(|b| b.checked_add(header_len() as u64));
    let len = file.metadata().map_err(|e| StoreError::io(&path, e))?.len();
    if rows != Some(run.rows) || want != Some(len) {
        return Err(bad(run, "its length or count disagrees with the manifest"));
    }
    let mut offsets = Vec::with_capacity(SHARDS);
    let mut at = header_len() as u64;
    for &n in &counts {
        offsets.push(at);
        at += n * KEY_BYTES as u64;
    }
    Ok(Opened { file, offsets, counts, sums })
}

/// One shard's keys of all the runs, merged in rank order.
fn read_shard(runs: &[KeyRun], opened: &[Opened], shard: usize) -> Result<Vec<Key>, StoreError> {
    let total: u64 = opened.iter().map(|o| o.counts[shard]).sum();
    let mut keys: Vec<Key> = vec![[0; 3]; total as usize];
    let mut at = 0;
    for (run, o) in runs.iter().zip(opened) {
        // Read straight into the keys' memory.
        let section = &mut keys[at..at + o.counts[shard] as usize];
        at += section.len();
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(section);
        o.file.read_exact_at(bytes, o.offsets[shard]).map_err(|_| bad(run, "truncated"))?;
        if xxh3_64(bytes) != o.sums[shard] {
            return Err(bad(run, &format!("section {shard} fails its checksum")));
        }
        if cfg!(target_endian = "big") {
            for part in section.iter_mut().flatten() {
                *part = u32::from_le(*part);
            }
        }
    }
    if runs.len() > 1 {
        // Sorted stretches one after another: the stable sort merges them.
        keys.sort_by_key(|&k| rank(k));
    }
    Ok(keys)
}

/// Every key of `runs`, one sorted array per shard; an error if any run is
/// missing or damaged.
pub(crate) fn read(dir: &Path, runs: &[KeyRun]) -> Result<Vec<Vec<Key>>, StoreError> {
    let opened: Vec<Opened> = runs.iter().map(|r| open(dir, r)).collect::<Result<_, _>>()?;
    (0..SHARDS).into_par_iter().map(|s| read_shard(runs, &opened, s)).collect()
}

/// Merges runs into one (a few shards at a time, so a large run is never
/// held whole).
pub(crate) fn merge(dir: &Path, runs: &[KeyRun], file: &str) -> Result<KeyRun, StoreError> {
    let opened: Vec<Opened> = runs.iter().map(|r| open(dir, r)).collect::<Result<_, _>>()?;
    let mut out = RunWriter::create(dir, file)?;
    let group = rayon::current_num_threads().max(1);
    for first in (0..SHARDS).step_by(group) {
        let sections: Vec<Vec<Key>> = (first..(first + group).min(SHARDS))
            .into_par_iter()
            .map(|s| read_shard(runs, &opened, s))
            .collect::<Result<_, _>>()?;
        for keys in &sections {
            out.section(keys)?;
        }
    }
    let rows = out.finish()?;
    Ok(KeyRun { file: file.to_string(), rows })
}

/// The runs after `new` joins `runs`: while the newest is at least half
/// the size of the one before, the two are merged (into files named after
/// `stem`). Returns the runs and the files no longer named.
pub(crate) fn add(
    dir: &Path,
    mut runs: Vec<KeyRun>,
    new: KeyRun,
    stem: &str,
) -> Result<(Vec<KeyRun>, Vec<String>), StoreError> {
    let mut gone = Vec::new();
    runs.push(new);
    let mut merges = 0;
    while runs.len() >= 2 && runs[runs.len() - 1].rows * 2 >= runs[runs.len() - 2].rows {
        let pair = runs.split_off(runs.len() - 2);
        merges += 1;
        let merged = merge(dir, &pair, &format!("{DIR}/{stem}-m{merges}.keys"))?;
        gone.extend(pair.into_iter().map(|r| r.file));
        runs.push(merged);
    }
    Ok((runs, gone))
}

/// The file of a new run of generation `generation`.
pub(crate) fn file_of(generation: u64) -> String {
    format!("{DIR}/{generation:08}.keys")
}

/// Removes the run files `keep` does not name.
pub(crate) fn collect_garbage(dir: &Path, keep: &[KeyRun]) {
    let Ok(files) = fs::read_dir(dir.join(DIR)) else { return };
    for f in files.flatten() {
        let rel = format!("{DIR}/{}", f.file_name().to_string_lossy());
        if !keep.iter().any(|r| r.file == rel) {
            let _ = fs::remove_file(f.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random keys spread over the shards, each shard's sorted.
    fn sections(seed: u64, per_shard: usize) -> Vec<Vec<Key>> {
        let mut state = seed;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 32) as u32
        };
        (0..SHARDS)
            .map(|s| {
                let mut keys: Vec<Key> = (0..per_shard + s % 3).map(|_| [next(), next(), next()]).collect();
                keys.sort_by_key(|&k| rank(k));
                keys.dedup();
                keys
            })
            .collect()
    }

    fn write(dir: &Path, file: &str, sections: &[Vec<Key>]) -> KeyRun {
        let mut w = RunWriter::create(dir, file).unwrap();
        for s in sections {
            w.section(s).unwrap();
        }
        KeyRun { file: file.to_string(), rows: w.finish().unwrap() }
    }

    #[test]
    fn runs_read_back_merged_per_shard_in_rank_order() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (sections(1, 40), sections(2, 7));
        let runs = vec![write(tmp.path(), "event-keys/a.keys", &a), write(tmp.path(), "event-keys/b.keys", &b)];
        assert_eq!(runs[0].rows, a.iter().map(Vec::len).sum::<usize>() as u64);
        let read = read(tmp.path(), &runs).unwrap();
        for s in 0..SHARDS {
            let mut want: Vec<Key> = a[s].iter().chain(&b[s]).copied().collect();
            want.sort_by_key(|&k| rank(k));
            assert_eq!(read[s], want, "shard {s}");
        }
        // Merged into one file, the same keys.
        let merged = merge(tmp.path(), &runs, "event-keys/m.keys").unwrap();
        assert_eq!(merged.rows, runs[0].rows + runs[1].rows);
        assert_eq!(super::read(tmp.path(), &[merged]).unwrap(), read);
    }

    #[test]
    fn a_damaged_or_disagreeing_run_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let run = write(tmp.path(), "event-keys/a.keys", &sections(3, 20));
        let path = tmp.path().join(&run.file);
        let good = fs::read(&path).unwrap();
        assert!(read(tmp.path(), std::slice::from_ref(&run)).is_ok());
        // A count the manifest does not agree with.
        let wrong = KeyRun { rows: run.rows + 1, ..run.clone() };
        assert!(read(tmp.path(), &[wrong]).is_err());
        // A flipped byte in a section, in the header; a torn tail; no file.
        for at in [good.len() - 5, 20] {
            let mut bytes = good.clone();
            bytes[at] ^= 1;
            fs::write(&path, &bytes).unwrap();
            assert!(read(tmp.path(), std::slice::from_ref(&run)).is_err(), "byte {at}");
        }
        fs::write(&path, &good[..good.len() - 12]).unwrap();
        assert!(read(tmp.path(), std::slice::from_ref(&run)).is_err());
        fs::remove_file(&path).unwrap();
        assert!(read(tmp.path(), std::slice::from_ref(&run)).is_err());
    }

    #[test]
    fn a_new_run_merges_with_the_ones_not_twice_its_size() {
        let tmp = tempfile::tempdir().unwrap();
        let mut runs = Vec::new();
        let mut all: Vec<Vec<Key>> = vec![Vec::new(); SHARDS];
        for round in 0..6u64 {
            let new = sections(10 + round, 5);
            for (s, keys) in new.iter().enumerate() {
                all[s].extend(keys);
            }
            let run = write(tmp.path(), &file_of(round), &new);
            let (next, gone) = add(tmp.path(), runs, run, &format!("{round:08}")).unwrap();
            for g in &gone {
                fs::remove_file(tmp.path().join(g)).unwrap();
            }
            runs = next;
            // Each run at least twice the size of the next.
            assert!(runs.windows(2).all(|w| w[0].rows > w[1].rows * 2), "{runs:?}");
        }
        // Six equal runs leave two: five merged and the last.
        assert_eq!(runs.len(), 2);
        let read = read(tmp.path(), &runs).unwrap();
        for (s, keys) in all.iter_mut().enumerate() {
            keys.sort_by_key(|&k| rank(k));
            assert_eq!(&read[s], keys);
        }
        collect_garbage(tmp.path(), &runs[..1]);
        assert!(!tmp.path().join(&runs[1].file).exists());
        assert!(tmp.path().join(&runs[0].file).exists());
    }
}
