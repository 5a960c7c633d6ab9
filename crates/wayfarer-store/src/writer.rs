//! The writer: accepts events, drops duplicates (by event id), resolves
//! identities, and commits new segments with one atomic manifest swap.
//!
//! ```text
//!  add(events) ─> dedupe ─> seq ─> identity links ─> pending
//!                                                      │ (spill every SPILL_ROWS)
//!  commit() ─> resolve identities ─> write segments per partition
//!          ─> move rows of customers merged since they were written
//!          ─> compact partitions with many segments
//!          ─> identity files ─> manifest (atomic)
//! ```
//!
//! Until `commit` nothing is visible; dropping a writer removes the files it
//! wrote. Files the committed manifest no longer names are removed the next
//! time a writer opens the directory. A long-lived writer (the server's)
//! commits again and again with `commit_open`; the segments a commit
//! supersedes are retired and deleted by `delete_retired` once no reader can
//! still be using them.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMicrosecondType, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch, UInt32Array};
use rayon::prelude::*;
use serde::Serialize;
use wayfarer_core::{Event, Kind, Timings};
use xxhash_rust::xxh3::xxh3_128;

use crate::identity::{ANON_PREFIX, USER_PREFIX};
use crate::keys::Keys;
use crate::manifest::{Manifest, SegmentMeta};
use crate::segment::{self, Col, RowRef};
use crate::{DirLock, IdentityGraph, StoreError, partition_of};

/// The keys of the events already stored (xxh3-128 of their ids, already
/// well mixed, so a cheap hasher suffices).
type EventKeys = HashSet<u128, std::hash::BuildHasherDefault<rustc_hash::FxHasher>>;

/// Pending rows are written out as segments when this many accumulate.
pub const SPILL_ROWS: usize = 4_000_000;
/// A batch at least this large is taken for a bulk load (see `add`).
const BULK_BATCH: usize = 10_000;
/// A partition with more segments than this is compacted into one.
pub const MAX_SEGMENTS_PER_PARTITION: usize = 4;

/// An event's derived facts: its channel (None: it inherits its
/// session's) and revenue.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    pub channel: Option<String>,
    pub revenue: Option<f64>,
}

/// What re-deriving the channels did.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct RederiveStats {
    pub rows: u64,
    pub rows_changed: u64,
    pub segments_rewritten: u64,
}

/// What a commit did.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct CommitStats {
    pub accepted: u64,
    pub duplicates: u64,
    pub segments_written: u64,
    pub rows_moved: u64,
    pub partitions_compacted: u64,
    pub events_total: u64,
    pub generation: u64,
}

struct Pending {
    event: Event,
    seq: u64,
    ident: u32,
}

/// The single writer of a data directory.
pub struct Writer {
    dir: PathBuf,
    _lock: DirLock,
    manifest: Manifest,
    identity: IdentityGraph,
    event_dict: HashMap<String, u32>,
    channel_dict: HashMap<String, u32>,
    seen: EventKeys,
    pending: Vec<Pending>,
    /// Segments written by this writer, not yet committed.
    new_segments: Vec<SegmentMeta>,
    /// Idents that were canonical when some segment was written.
    was_canonical: Vec<bool>,
    stats: CommitStats,
    committed: bool,
    spill_rows: usize,
    /// Segment files superseded by a commit of this writer, with when.
    retired: Vec<(std::time::Instant, Vec<PathBuf>)>,
    /// Where this writer's time went (phases that run on several threads
    /// are summed over them).
    times: Timings,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("dir", &self.dir).field("pending", &self.pending.len()).finish()
    }
}

impl Writer {
    /// Opens (creating if needed) the data directory for writing: takes the
    /// lock, removes files left by interrupted writers, loads the dedupe set
    /// and the identity graph.
    pub fn open(dir: &Path, now: i64) -> Result<Writer, StoreError> {
        let lock = DirLock::acquire(dir)?;
        let mut manifest = Manifest::load(dir)?.unwrap_or_else(|| Manifest::new(crate::DEFAULT_PARTITIONS, now));
        collect_garbage(dir, &manifest)?;
        if manifest.keys.is_none() {
            manifest.keys = Some(scan_keys(dir, &manifest)?);
        }
        let mut identity = match manifest.identity_file.as_deref() {
            Some(g) => crate::load_identity(dir, g)?,
            None => IdentityGraph::new(),
        };
        let canon = identity.canonical_map();
        let was_canonical = canon.iter().enumerate().map(|(i, &c)| c as usize == i).collect();
        let seen = load_event_keys(dir, &manifest)?;
        let event_dict = manifest.event_names.iter().enumerate().map(|(i, n)| (n.clone(), i as u32)).collect();
        let channel_dict = manifest.channels.iter().enumerate().map(|(i, n)| (n.clone(), i as u32)).collect();
        Ok(Writer {
            dir: dir.to_path_buf(),
            _lock: lock,
            manifest,
            identity,
            event_dict,
            channel_dict,
            seen,
            pending: Vec::new(),
            new_segments: Vec::new(),
            was_canonical,
            stats: CommitStats::default(),
            committed: false,
            spill_rows: SPILL_ROWS,
            retired: Vec::new(),
            times: Timings::default(),
        })
    }

    /// Writes pending rows out every `rows` rows (default [`SPILL_ROWS`]).
    pub fn with_spill_rows(mut self, rows: usize) -> Writer {
        self.spill_rows = rows.max(1);
        self
    }

    /// Accepts events in arrival order; returns (accepted, duplicates).
    pub fn add(&mut self, events: Vec<Event>) -> Result<(u64, u64), StoreError> {
        let started = std::time::Instant::now();
        // A bulk load fills the buffer up to a spill: reserve it once rather
        // than grow it by copying (small batches grow it as they come).
        // (A spill follows the batch that reaches `spill_rows`, so the
        // buffer holds at most `spill_rows` plus one batch.)
        let bulk = self.spill_rows + events.len();
        if events.len() >= BULK_BATCH && self.pending.capacity() < bulk {
            self.pending.reserve_exact(bulk - self.pending.len());
        }
        let (mut acc, mut dup) = (0, 0);
        let mut key = String::new();
        for e in events {
            if !self.seen.insert(event_key(&e.event_id)) {
                dup += 1;
                continue;
            }
            let seq = self.manifest.next_seq;
            self.manifest.next_seq += 1;
            // The identity keys are built in one reused buffer (no allocation per event).
            let mut intern = |prefix: &str, id: &str| {
                key.clear();
                key.push_str(prefix);
                key.push_str(id);
                self.identity.intern(&key, e.timestamp, seq)
            };
            let user = e.user_id.as_deref().map(|u| intern(USER_PREFIX, u));
            let anon = e.anonymous_id.as_deref().map(|a| intern(ANON_PREFIX, a));
            if let (Some(a), Some(u)) = (anon, user) {
                self.identity.link_anon_user(a, u, e.timestamp, seq);
            }
            if e.kind == Kind::Alias
                && let (Some(prev), Some(u)) = (e.previous_id.as_deref(), user)
            {
                self.identity.link_alias(prev, u, e.timestamp, seq);
            }
            let Some(ident) = user.or(anon) else {
                // The decoder guarantees an identity; refuse rather than guess.
                return Err(StoreError::Internal(format!("event {} has no identity", e.event_id)));
            };
            self.was_canonical.resize(self.identity.len(), false);
            self.pending.push(Pending { event: e, seq, ident });
            acc += 1;
        }
        self.stats.accepted += acc;
        self.stats.duplicates += dup;
        self.times.add("dedupe and identities", started.elapsed());
        if self.pending.len() >= self.spill_rows {
            self.flush()?;
        }
        Ok((acc, dup))
    }

    /// Where this writer's time went so far.
    pub fn timings(&self) -> &Timings {
        &self.times
    }

    /// Events accepted so far (not yet committed).
    pub fn accepted(&self) -> u64 {
        self.stats.accepted
    }

    fn code(dict: &mut HashMap<String, u32>, names: &mut Vec<String>, name: &str) -> u32 {
        if let Some(&c) = dict.get(name) {
            return c;
        }
        let c = names.len() as u32;
        names.push(name.to_string());
        dict.insert(name.to_string(), c);
        c
    }

    /// Writes pending rows as segments, one per partition.
    fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let canon = self.identity.canonical_map().to_vec();
        for (i, &c) in canon.iter().enumerate() {
            if c as usize == i {
                self.was_canonical[i] = true;
            }
        }
        let started = std::time::Instant::now();
        let mut pending = std::mem::take(&mut self.pending);
        let parts = self.manifest.partitions;
        let mut by_part: Vec<Vec<RowRef<'_>>> = (0..parts).map(|_| Vec::new()).collect();
        for p in &pending {
            let customer = canon[p.ident as usize];
            let event_code = Self::code(&mut self.event_dict, &mut self.manifest.event_names, &p.event.event);
            let channel_code =
                p.event.channel.as_deref().map(|c| Self::code(&mut self.channel_dict, &mut self.manifest.channels, c));
            by_part[partition_of(customer, parts) as usize].push(RowRef {
                customer,
                seq: p.seq,
                event_code,
                channel_code,
                event: &p.event,
            });
        }
        self.times.add("partition rows", started.elapsed());
        let first_id = self.manifest.next_segment;
        self.manifest.next_segment += parts as u64;
        let dir = self.dir.clone();
        let metas: Vec<(Option<SegmentMeta>, Keys, Timings)> = by_part
            .into_par_iter()
            .enumerate()
            .map(|(p, mut rows)| {
                let mut keys = Keys::default();
                let mut times = Timings::default();
                if rows.is_empty() {
                    return Ok((None, keys, times));
                }
                times.time("property names", || {
                    for r in &rows {
                        keys.add(r.event.kind == Kind::Identify, &r.event.properties);
                    }
                });
                times.time("sort", || rows.sort_by_key(|r| (r.customer, r.event.timestamp, r.seq)));
                let batch = times.time("build columns", || segment::batch_from_rows(&rows))?;
                drop(rows);
                let m = write_new_segment(&dir, p as u32, first_id + p as u64, &[batch], &mut times)?;
                Ok((Some(m), keys, times))
            })
            .collect::<Result<_, StoreError>>()?;
        let known = self.manifest.keys.get_or_insert_with(Keys::default);
        for (m, keys, times) in metas {
            known.extend(keys);
            self.times.extend(&times);
            let Some(m) = m else { continue };
            self.stats.segments_written += 1;
            self.new_segments.push(m);
        }
        // The next spill reuses the buffer (its pages stay mapped: no
        // growth copies, no page faults); a commit releases it.
        pending.clear();
        self.pending = pending;
        Ok(())
    }

    /// Makes everything added visible, atomically.
    pub fn commit(self) -> Result<CommitStats, StoreError> {
        self.commit_timed().map(|(stats, _)| stats)
    }

    /// [`commit`](Self::commit), also returning where the writer's time went.
    pub fn commit_timed(mut self) -> Result<(CommitStats, Timings), StoreError> {
        let stats = self.commit_open()?;
        self.committed = true;
        Ok((stats, std::mem::take(&mut self.times)))
    }

    /// Makes everything added so far visible, atomically, and keeps the
    /// writer open for more; returns what this commit did.
    pub fn commit_open(&mut self) -> Result<CommitStats, StoreError> {
        let before: Vec<SegmentMeta> = self.manifest.segments.clone();
        let identity_before = self.manifest.identity_file.clone();
        let stats = self.commit_now()?;
        let live: HashSet<u64> = self.manifest.segments.iter().map(|s| s.id).collect();
        let mut gone: Vec<PathBuf> =
            before.iter().filter(|s| !live.contains(&s.id)).map(|s| self.dir.join(&s.file)).collect();
        if let Some(g) = identity_before
            && self.manifest.identity_file.as_deref() != Some(g.as_str())
        {
            gone.push(crate::ids_path(&self.dir, &g));
            gone.push(crate::links_path(&self.dir, &g));
        }
        if !gone.is_empty() {
            self.retired.push((std::time::Instant::now(), gone));
        }
        // What was written is committed now: a later drop must keep it.
        self.new_segments.clear();
        self.stats = CommitStats::default();
        Ok(stats)
    }

    /// Deletes segment files that commits superseded at least `grace` ago
    /// (readers that opened an older manifest may still read them until then).
    pub fn delete_retired(&mut self, grace: std::time::Duration) {
        let now = std::time::Instant::now();
        self.retired.retain(|(at, files)| {
            if now.duration_since(*at) < grace {
                return true;
            }
            for f in files {
                let _ = fs::remove_file(crate::hot::hot_path(f));
                let _ = fs::remove_file(f);
            }
            false
        });
    }

    /// The fingerprint of the channel rules the stored channels follow.
    pub fn channels_fingerprint(&self) -> Option<&str> {
        self.manifest.channels_fingerprint.as_deref()
    }

    /// Records the channel rules of a directory with no events yet (the
    /// first import derives with them; nothing to re-derive).
    pub fn set_channels_fingerprint_if_empty(&mut self, fingerprint: &str) {
        if self.manifest.segments.is_empty() {
            self.manifest.channels_fingerprint = Some(fingerprint.to_string());
        }
    }

    /// Derives every stored event's channel and revenue again — `derive`
    /// gets the row as an event (its channel unset, its stored revenue
    /// set) and the channel it was stored with, and returns both — rewrites
    /// the segments where either changes, records `fingerprint` and
    /// commits. Nothing else changes: ids, order, identities.
    pub fn rederive_channels(
        &mut self,
        fingerprint: &str,
        derive: &(dyn Fn(&Event, Option<&str>) -> Derived + Sync),
    ) -> Result<RederiveStats, StoreError> {
        self.flush()?;
        if !self.new_segments.is_empty() || !self.pending.is_empty() {
            return Err(StoreError::Internal("re-derive channels before adding events".into()));
        }
        let mut stats = RederiveStats::default();
        let mut segments = self.manifest.segments.clone();
        for seg in segments.iter_mut() {
            let path = self.dir.join(&seg.file);
            let batch = segment::read_segment(&path, &Col::ALL)?;
            let events = segment::events_of(&batch)?;
            let old = batch.column(Col::Channel.index()).as_string::<i32>();
            let new: Vec<Derived> = events
                .par_iter()
                .enumerate()
                .map(|(i, e)| derive(e, (!old.is_null(i)).then(|| old.value(i))))
                .collect();
            stats.rows += new.len() as u64;
            let changed = new
                .iter()
                .zip(&events)
                .enumerate()
                .filter(|(i, (d, e))| {
                    d.channel.as_deref() != (!old.is_null(*i)).then(|| old.value(*i))
                        || d.revenue.map(f64::to_bits) != e.revenue.map(f64::to_bits)
                })
                .count();
            if changed == 0 {
                continue;
            }
            stats.rows_changed += changed as u64;
            let codes: Vec<Option<u32>> = new
                .iter()
                .map(|d| {
                    d.channel.as_deref().map(|c| Self::code(&mut self.channel_dict, &mut self.manifest.channels, c))
                })
                .collect();
            let revenue: Vec<Option<f64>> = new.iter().map(|d| d.revenue).collect();
            let channels: Vec<Option<String>> = new.into_iter().map(|d| d.channel).collect();
            let mut cols = batch.columns().to_vec();
            cols[Col::Channel.index()] = Arc::new(arrow_array::StringArray::from(channels));
            cols[Col::ChannelCode.index()] = Arc::new(UInt32Array::from(codes));
            cols[Col::Revenue.index()] = Arc::new(arrow_array::Float64Array::from(revenue));
            let rewritten =
                RecordBatch::try_new(batch.schema(), cols).map_err(|e| StoreError::Internal(e.to_string()))?;
            let id = self.manifest.next_segment;
            self.manifest.next_segment += 1;
            let meta = write_new_segment(&self.dir, seg.partition, id, &[rewritten], &mut self.times)?;
            self.new_segments.push(meta.clone());
            stats.segments_rewritten += 1;
            *seg = meta;
        }
        let before = self.manifest.segments.clone();
        self.manifest.segments = segments;
        self.manifest.channels_fingerprint = Some(fingerprint.to_string());
        self.manifest.generation += 1;
        self.manifest.updated_at = now_micros();
        self.manifest.store(&self.dir)?;
        self.new_segments.clear();
        let live: HashSet<u64> = self.manifest.segments.iter().map(|s| s.id).collect();
        let gone: Vec<PathBuf> =
            before.iter().filter(|s| !live.contains(&s.id)).map(|s| self.dir.join(&s.file)).collect();
        if !gone.is_empty() {
            self.retired.push((std::time::Instant::now(), gone));
        }
        Ok(stats)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Events in the store, committed.
    pub fn events_total(&self) -> u64 {
        self.manifest.events_total
    }

    fn commit_now(&mut self) -> Result<CommitStats, StoreError> {
        self.flush()?;
        // A long-lived writer does not keep a bulk load's buffer.
        self.pending = Vec::new();
        let canon = self.identity.canonical_map().to_vec();
        // Customers that were canonical when rows were written but are no
        // longer (merged by later links): their rows move to the new customer.
        let demoted: HashSet<u32> = (0..canon.len())
            .filter(|&i| self.was_canonical.get(i).copied().unwrap_or(false) && canon[i] as usize != i)
            .map(|i| i as u32)
            .collect();
        let mut segments: Vec<SegmentMeta> = self.manifest.segments.clone();
        segments.extend(self.new_segments.iter().cloned());
        if !demoted.is_empty() {
            let started = std::time::Instant::now();
            segments = self.move_merged_rows(segments, &demoted, &canon)?;
            self.times.add("move merged customers", started.elapsed());
        }
        segments = self.compact(segments)?;
        self.manifest.segments = segments;
        self.manifest.generation += 1;
        self.manifest.events_total += self.stats.accepted;
        self.manifest.updated_at = now_micros();
        let generation = format!("{:08}", self.manifest.generation);
        // The identity files are rewritten only when the graph changed
        // (a live server's commits mostly bring known customers).
        if !self.identity.is_empty() && (self.identity.is_unsaved() || self.manifest.identity_file.is_none()) {
            let started = std::time::Instant::now();
            crate::store_identity(&self.dir, &generation, &self.identity)?;
            self.times.add("identity files", started.elapsed());
            self.manifest.identity_file = Some(generation);
            self.identity.mark_saved();
        }
        self.times.time("manifest", || self.manifest.store(&self.dir))?;
        self.stats.events_total = self.manifest.events_total;
        self.stats.generation = self.manifest.generation;
        Ok(self.stats)
    }

    fn move_merged_rows(
        &mut self,
        segments: Vec<SegmentMeta>,
        demoted: &HashSet<u32>,
        canon: &[u32],
    ) -> Result<Vec<SegmentMeta>, StoreError> {
        let (min_d, max_d) = (demoted.iter().min().copied().unwrap_or(0), demoted.iter().max().copied().unwrap_or(0));
        let parts = self.manifest.partitions;
        let mut keep = Vec::new();
        let mut moved: Vec<Vec<RecordBatch>> = (0..parts).map(|_| Vec::new()).collect();
        for s in segments {
            let candidate = s.max_customer >= min_d && s.min_customer <= max_d;
            let path = self.dir.join(&s.file);
            let hit = candidate && {
                let b = segment::read_segment(&path, &[Col::Customer])?;
                customers(&b)?.values().iter().any(|c| demoted.contains(c))
            };
            if !hit {
                keep.push(s);
                continue;
            }
            let batch = segment::read_segment(&path, &Col::ALL)?;
            let old = customers(&batch)?;
            let new: Vec<u32> = old.values().iter().map(|&c| canon[c as usize]).collect();
            self.stats.rows_moved += old.values().iter().zip(&new).filter(|(a, b)| a != b).count() as u64;
            let mut by_part: Vec<Vec<u32>> = (0..parts).map(|_| Vec::new()).collect();
            for (row, &c) in new.iter().enumerate() {
                by_part[partition_of(c, parts) as usize].push(row as u32);
            }
            let mut cols = batch.columns().to_vec();
            cols[Col::Customer.index()] = Arc::new(UInt32Array::from(new));
            let remapped =
                RecordBatch::try_new(batch.schema(), cols).map_err(|e| StoreError::Internal(e.to_string()))?;
            for (p, rows) in by_part.into_iter().enumerate() {
                if !rows.is_empty() {
                    moved[p].push(segment::take_rows(&remapped, &UInt32Array::from(rows))?);
                }
            }
            self.track_new_segment_removal(&s);
        }
        for (p, batches) in moved.into_iter().enumerate() {
            if batches.is_empty() {
                continue;
            }
            let merged = sort_batches(&batches)?;
            let id = self.manifest.next_segment;
            self.manifest.next_segment += 1;
            // Timed as a whole, by the caller.
            let meta = write_new_segment(&self.dir, p as u32, id, &[merged], &mut Timings::default())?;
            self.new_segments.push(meta.clone());
            self.stats.segments_written += 1;
            keep.push(meta);
        }
        Ok(keep)
    }

    /// Segments written by this writer and then superseded before commit are
    /// deleted now (they were never visible).
    fn track_new_segment_removal(&mut self, s: &SegmentMeta) {
        if let Some(pos) = self.new_segments.iter().position(|n| n.id == s.id) {
            let n = self.new_segments.remove(pos);
            let p = self.dir.join(&n.file);
            let _ = fs::remove_file(crate::hot::hot_path(&p));
            let _ = fs::remove_file(p);
        }
    }

    fn compact(&mut self, segments: Vec<SegmentMeta>) -> Result<Vec<SegmentMeta>, StoreError> {
        let parts = self.manifest.partitions;
        let mut by_part: Vec<Vec<SegmentMeta>> = (0..parts).map(|_| Vec::new()).collect();
        for s in segments {
            by_part[s.partition as usize].push(s);
        }
        let first_id = self.manifest.next_segment;
        self.manifest.next_segment += parts as u64;
        let dir = self.dir.clone();
        let new_ids: HashSet<u64> = self.new_segments.iter().map(|s| s.id).collect();
        let results: Vec<(Vec<SegmentMeta>, Option<Vec<SegmentMeta>>, Timings)> = by_part
            .into_par_iter()
            .enumerate()
            .map(|(p, segs)| {
                // Too many segments: merge them all. Several written by this
                // writer (a large import spilled): merge those, so a bulk load
                // leaves one segment per partition.
                let (merge, mut keep): (Vec<SegmentMeta>, Vec<SegmentMeta>) = if segs.len() > MAX_SEGMENTS_PER_PARTITION
                {
                    // Size-tiered: merge the smallest segments, taking the
                    // next one only while it is at most twice what is
                    // merged so far. Steady ingestion (a live server's small
                    // commits) then rewrites each row O(log n) times, not
                    // the whole partition every few commits.
                    let mut segs = segs;
                    segs.sort_by_key(|s| (s.rows, s.id));
                    let mut take = 1;
                    let mut acc = segs[0].rows;
                    while take < segs.len() && (take < 2 || segs[take].rows <= 2 * acc.max(1)) {
                        acc += segs[take].rows;
                        take += 1;
                    }
                    let keep = segs.split_off(take);
                    (segs, keep)
                } else if segs.iter().filter(|s| new_ids.contains(&s.id)).count() > 1 {
                    segs.into_iter().partition(|s| new_ids.contains(&s.id))
                } else {
                    return Ok((segs, None, Timings::default()));
                };
                let mut times = Timings::default();
                let batches: Vec<RecordBatch> = times.time("compact: read segments", || {
                    merge.iter().map(|s| segment::read_segment(&dir.join(&s.file), &Col::ALL)).collect::<Result<_, _>>()
                })?;
                let merged = times.time("compact: sort", || sort_batches(&batches))?;
                drop(batches);
                keep.push(write_new_segment(&dir, p as u32, first_id + p as u64, &[merged], &mut times)?);
                Ok((keep, Some(merge), times))
            })
            .collect::<Result<_, StoreError>>()?;
        let mut out = Vec::new();
        for (segs, replaced, times) in results {
            self.times.extend(&times);
            if let Some(old) = replaced {
                self.stats.partitions_compacted += 1;
                self.stats.segments_written += 1;
                for s in &old {
                    self.track_new_segment_removal(s);
                }
                if let Some(m) = segs.last() {
                    self.new_segments.push(m.clone());
                }
            }
            out.extend(segs);
        }
        Ok(out)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if !self.committed {
            // Never visible: remove what this writer wrote.
            for s in &self.new_segments {
                let p = self.dir.join(&s.file);
                let _ = fs::remove_file(crate::hot::hot_path(&p));
                let _ = fs::remove_file(p);
            }
        }
    }
}

fn customers(b: &RecordBatch) -> Result<&arrow_array::PrimitiveArray<UInt32Type>, StoreError> {
    b.column_by_name(Col::Customer.name())
        .and_then(|c| c.as_primitive_opt::<UInt32Type>())
        .ok_or_else(|| StoreError::Corrupt("segment without a customer column".into()))
}

/// Concatenates batches and sorts the rows by (customer, timestamp, seq).
pub(crate) fn sort_batches(batches: &[RecordBatch]) -> Result<RecordBatch, StoreError> {
    let schema = batches.first().map(|b| b.schema()).unwrap_or_else(segment::schema);
    let all =
        arrow_select::concat::concat_batches(&schema, batches).map_err(|e| StoreError::Internal(e.to_string()))?;
    let idx = sort_order(&all)?;
    segment::take_rows(&all, &idx)
}

/// The permutation that sorts a batch by (customer, timestamp, seq).
pub(crate) fn sort_order(b: &RecordBatch) -> Result<UInt32Array, StoreError> {
    let bad = || StoreError::Corrupt("segment core columns have unexpected types".into());
    let c = b.column_by_name("customer").and_then(|c| c.as_primitive_opt::<UInt32Type>()).ok_or_else(bad)?;
    let t =
        b.column_by_name("timestamp").and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>()).ok_or_else(bad)?;
    let s = b.column_by_name("seq").and_then(|c| c.as_primitive_opt::<UInt64Type>()).ok_or_else(bad)?;
    let (c, t, s) = (c.values(), t.values(), s.values());
    let mut idx: Vec<u32> = (0..b.num_rows() as u32).collect();
    idx.par_sort_unstable_by_key(|&i| (c[i as usize], t[i as usize], s[i as usize]));
    Ok(UInt32Array::from(idx))
}

fn write_new_segment(
    dir: &Path,
    partition: u32,
    id: u64,
    batches: &[RecordBatch],
    times: &mut Timings,
) -> Result<SegmentMeta, StoreError> {
    let rel = format!("segments/p{partition:03}/s{id:010}.parquet");
    let path = dir.join(&rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
    }
    let part = path.with_extension("parquet.part");
    let (rows, file) = times.time("encode Parquet", || segment::write_segment(&part, batches))?;
    times.time("fsync", || file.sync_all()).map_err(|e| StoreError::io(&part, e))?;
    // The hot columns first, so a visible Parquet segment always has them.
    let batch = if batches.len() == 1 {
        batches[0].clone()
    } else {
        arrow_select::concat::concat_batches(&segment::schema(), batches)
            .map_err(|e| StoreError::Internal(e.to_string()))?
    };
    let hot_path = crate::hot::hot_path(&path);
    let hot_part = hot_path.with_extension("hot.part");
    let file = times.time("hot columns", || crate::hot::write(&hot_part, &crate::hot::from_batch(&batch)?))?;
    times.time("fsync", || file.sync_all()).map_err(|e| StoreError::io(&hot_part, e))?;
    fs::rename(&hot_part, &hot_path).map_err(|e| StoreError::io(&hot_path, e))?;
    fs::rename(&part, &path).map_err(|e| StoreError::io(&path, e))?;
    let (mut min_ts, mut max_ts, mut min_c, mut max_c) = (i64::MAX, i64::MIN, u32::MAX, 0u32);
    for b in batches {
        let c = customers(b)?;
        let t = b
            .column_by_name("timestamp")
            .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
            .ok_or_else(|| StoreError::Internal("timestamp column".into()))?;
        for v in c.values() {
            min_c = min_c.min(*v);
            max_c = max_c.max(*v);
        }
        for v in t.values() {
            min_ts = min_ts.min(*v);
            max_ts = max_ts.max(*v);
        }
    }
    Ok(SegmentMeta { id, partition, file: rel, rows, min_ts, max_ts, min_customer: min_c, max_customer: max_c })
}

/// The dedupe key of an event id.
pub fn event_key(event_id: &str) -> u128 {
    xxh3_128(event_id.as_bytes())
}

fn load_event_keys(dir: &Path, manifest: &Manifest) -> Result<EventKeys, StoreError> {
    let sets: Vec<Vec<u128>> = manifest
        .segments
        .par_iter()
        .map(|s| {
            let b = segment::read_segment(&dir.join(&s.file), &[Col::EventId])?;
            let ids = b
                .column(0)
                .as_string_opt::<i32>()
                .ok_or_else(|| StoreError::Corrupt(format!("{}: event_id column", s.file)))?;
            Ok((0..ids.len()).map(|i| event_key(ids.value(i))).collect())
        })
        .collect::<Result<_, StoreError>>()?;
    let mut seen = EventKeys::with_capacity_and_hasher(sets.iter().map(Vec::len).sum(), Default::default());
    for s in sets {
        seen.extend(s);
    }
    Ok(seen)
}

/// The property and trait names of a directory written before they were
/// recorded in the manifest (read once; the next commit records them).
fn scan_keys(dir: &Path, manifest: &Manifest) -> Result<Keys, StoreError> {
    let parts: Vec<Keys> = manifest
        .segments
        .par_iter()
        .map(|s| {
            let b = segment::read_segment(&dir.join(&s.file), &[Col::KindCode, Col::Properties])?;
            let kinds =
                b.column_by_name("kind_code").and_then(|c| c.as_primitive_opt::<arrow_array::types::UInt8Type>());
            let props = b.column_by_name("properties").and_then(|c| c.as_string_opt::<i32>());
            let (Some(kinds), Some(props)) = (kinds, props) else {
                return Err(StoreError::Corrupt(format!("{}: kind_code or properties column", s.file)));
            };
            let mut keys = Keys::default();
            for i in 0..props.len() {
                if !props.is_null(i) {
                    keys.add(kinds.value(i) == Kind::Identify.code(), props.value(i));
                }
            }
            Ok(keys)
        })
        .collect::<Result<_, StoreError>>()?;
    let mut keys = Keys::default();
    for k in parts {
        keys.extend(k);
    }
    Ok(keys)
}

/// Removes files the committed manifest does not name (left by interrupted
/// or superseded writes).
fn collect_garbage(dir: &Path, manifest: &Manifest) -> Result<(), StoreError> {
    let live: HashSet<PathBuf> = manifest
        .segments
        .iter()
        .flat_map(|s| {
            let p = dir.join(&s.file);
            [crate::hot::hot_path(&p), p]
        })
        .collect();
    let seg_root = dir.join("segments");
    if let Ok(parts) = fs::read_dir(&seg_root) {
        for p in parts.flatten() {
            if let Ok(files) = fs::read_dir(p.path()) {
                for f in files.flatten() {
                    if !live.contains(&f.path()) {
                        let _ = fs::remove_file(f.path());
                    }
                }
            }
        }
    }
    let idir = dir.join("identity");
    if let Ok(files) = fs::read_dir(&idir) {
        let keep = manifest.identity_file.as_deref().unwrap_or("");
        for f in files.flatten() {
            let name = f.file_name().to_string_lossy().to_string();
            let live =
                !keep.is_empty() && (name == format!("ids-{keep}.parquet") || name == format!("links-{keep}.parquet"));
            if !live {
                let _ = fs::remove_file(f.path());
            }
        }
    }
    let _ = fs::remove_file(dir.join("manifest.json.part"));
    Ok(())
}

fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}
