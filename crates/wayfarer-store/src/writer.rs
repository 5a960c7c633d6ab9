//! The writer: accepts events, drops duplicates (by event id), resolves
//! identities, and commits new segments with one atomic manifest swap.
//!
//! ```text
//!  add(EventRows) ─> dedupe ─> seq ─> identity links ─> codes ─> pending batches
//!                                     │ (every SPILL_ROWS or SPILL_BYTES: sorted runs per partition)
//!  commit() ─> resolve identities ─> merge runs + pending into one segment per partition
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

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMicrosecondType, UInt8Type, UInt32Type};
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, TimestampMicrosecondArray, UInt32Array, UInt64Array};
use rayon::prelude::*;
use serde::Serialize;
use wayfarer_core::{Event, Kind, Timings};
use xxhash_rust::xxh3::xxh3_128;

use crate::dedupe::EventKeys;
use crate::identity::{ANON_PREFIX, USER_PREFIX};
use crate::key_runs::{self, KeyRun};
use crate::keys::Keys;
use crate::manifest::{Manifest, SegmentMeta};
use crate::rows::{self, EventRows, PREVIOUS_ID, staged_index};
use crate::segment::{self, Col};
use crate::{DirLock, IdentityGraph, StoreError, partition_of};

/// Pending rows are written out as segments when this many accumulate.
pub const SPILL_ROWS: usize = 4_000_000;
/// … or when their columns take this many bytes (rows with long URLs and
/// properties reach it first).
pub const SPILL_BYTES: usize = 512 << 20;
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

/// A batch of accepted rows, with what the writer assigned them.
struct Pending {
    /// Staged columns (see `rows`), duplicates removed.
    batch: RecordBatch,
    /// The raw identity of each row (its customer is resolved at spill).
    idents: Vec<u32>,
    /// The seq of the first row; the rows' seqs follow on.
    seq0: u64,
    event_codes: Vec<u32>,
    channel_codes: Vec<Option<u32>>,
}

/// A pending batch at spill: its rows grouped by partition, each row with
/// its customer (resolved), timestamp and seq, and the staged columns a
/// segment takes from it ([`partition_batch`]).
struct Grouped {
    /// By staged column index; None for what a segment does not take.
    columns: Vec<Option<ArrayRef>>,
    customers: Vec<u32>,
    times: Vec<i64>,
    seqs: Vec<u64>,
    event_codes: Vec<u32>,
    channel_codes: Vec<Option<u32>>,
    /// `bounds[q]..bounds[q + 1]`: the rows of partition q.
    bounds: Vec<usize>,
}

impl Grouped {
    fn new(p: Pending, canon: &[u32], parts: u32) -> Result<Grouped, StoreError> {
        let customers: Vec<u32> = p.idents.iter().map(|&i| canon[i as usize]).collect();
        let part_of: Vec<u32> = customers.iter().map(|&c| partition_of(c, parts)).collect();
        let (bounds, order) = crate::order_by_bucket(&part_of, parts as usize);
        let times = staged_index(Col::Timestamp)
            .and_then(|i| p.batch.column(i).as_primitive_opt::<TimestampMicrosecondType>())
            .ok_or_else(|| StoreError::Internal("staged timestamp column".into()))?
            .values();
        let seqs = order.iter().map(|&r| p.seq0 + u64::from(r)).collect();
        let times = order.iter().map(|&r| times[r as usize]).collect();
        let event_codes = order.iter().map(|&r| p.event_codes[r as usize]).collect();
        let channel_codes = order.iter().map(|&r| p.channel_codes[r as usize]).collect();
        let customers = order.iter().map(|&r| customers[r as usize]).collect();
        let indices = UInt32Array::from(order);
        let mut columns: Vec<Option<ArrayRef>> = vec![None; p.batch.num_columns()];
        for c in Col::ALL.into_iter().filter(|&c| gathered(c)) {
            let i = staged_index(c).ok_or_else(|| StoreError::Internal(format!("column {}", c.name())))?;
            let taken = arrow_select::take::take(p.batch.column(i).as_ref(), &indices, None)
                .map_err(|e| StoreError::Internal(format!("grouping rows: {e}")))?;
            columns[i] = Some(taken);
        }
        // Taken by value so the batch is freed as soon as it is copied.
        drop(p);
        Ok(Grouped { columns, customers, times, seqs, event_codes, channel_codes, bounds })
    }
}

/// Whether a segment column is gathered from the staged columns as it is
/// (the others are made from the rows' keys and codes): the columns of the
/// `_` arm of [`partition_batch`], the only ones [`Grouped`] copies.
fn gathered(c: Col) -> bool {
    !matches!(
        c,
        Col::Customer
            | Col::Timestamp
            | Col::Seq
            | Col::EventCode
            | Col::ChannelCode
            | Col::Kind
            | Col::Event
            | Col::Channel
    )
}

type Dict = rustc_hash::FxHashMap<String, u32>;

/// The idents the identity graph knew for a batch's user and anonymous
/// ids before the batch (see [`IdentityGraph::find_all`]).
struct Found<'a> {
    users: &'a [Option<u32>],
    anons: &'a [Option<u32>],
}

/// One list of keys of several batches, in order (a single batch's as it is).
fn joined<'a>(pieces: &'a [EventRows], keys: fn(&EventRows) -> &[u128]) -> std::borrow::Cow<'a, [u128]> {
    match pieces {
        [one] => std::borrow::Cow::Borrowed(keys(one)),
        _ => pieces.iter().flat_map(|p| keys(p).iter().copied()).collect(),
    }
}

/// A pending row's sort key and address: (customer, timestamp, seq,
/// pending batch, row).
type RowKey = (u32, i64, u64, u32, u32);

/// The single writer of a data directory.
pub struct Writer {
    dir: PathBuf,
    _lock: DirLock,
    manifest: Manifest,
    /// The identity graph, loaded at the first events added (as the
    /// dedupe set): gigabytes' worth of a server's memory at 100M events
    /// that a server nobody ingests into does not need.
    identity: Option<IdentityGraph>,
    event_dict: Dict,
    channel_dict: Dict,
    /// The stored events' keys, loaded at the first [`add`](Self::add): a
    /// writer that only folds now and then (a server that is mostly read)
    /// holds no dedupe set until events arrive.
    seen: Option<EventKeys>,
    /// The key runs the next commit names, and the run files it stops
    /// naming (written before the dedupe set is released).
    staged_key_runs: Option<(Vec<KeyRun>, Vec<String>)>,
    /// A key run could not be written: the commits name none, and the
    /// next writer reads the keys from the segments.
    keys_unsaved: bool,
    /// New events expected ([`open_expecting`](Self::open_expecting)).
    expected: u64,
    pending: Vec<Pending>,
    pending_rows: usize,
    pending_bytes: usize,
    /// Sorted runs spilled by a bulk load, per partition (merged at commit).
    runs: Vec<Vec<PathBuf>>,
    /// Segments written by this writer, not yet committed.
    new_segments: Vec<SegmentMeta>,
    /// Idents that were canonical when some segment was written.
    was_canonical: Vec<bool>,
    stats: CommitStats,
    committed: bool,
    spill_rows: usize,
    /// Whether an add checks its keys and finds its identities on the
    /// calling thread rather than on the pool ([`adding_here`](Self::adding_here)).
    adds_here: bool,
    /// Segment files superseded by a commit of this writer, with when.
    retired: Vec<(std::time::Instant, Vec<PathBuf>)>,
    /// Where this writer's time went (phases that run on several threads
    /// are summed over them).
    times: Timings,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("dir", &self.dir).field("pending", &self.pending_rows).finish()
    }
}

impl Writer {
    /// Opens (creating if needed) the data directory for writing: takes the
    /// lock, removes files left by interrupted writers, loads the identity
    /// graph (and, at the first events added, the dedupe set).
    pub fn open(dir: &Path, now: i64) -> Result<Writer, StoreError> {
        Writer::open_expecting(dir, now, 0)
    }

    /// [`open`](Self::open) for about `expected` new events (an estimate is
    /// fine): the dedupe set is sized once for them and the stored ones.
    pub fn open_expecting(dir: &Path, now: i64, expected: u64) -> Result<Writer, StoreError> {
        if let Some(url) = crate::objects::origin(dir) {
            return Err(StoreError::Invalid(format!(
                "{} is a read-only copy of {url}; write to the data directory published there, then publish it again",
                dir.display()
            )));
        }
        let lock = DirLock::acquire(dir)?;
        let mut manifest = Manifest::load(dir)?.unwrap_or_else(|| Manifest::new(crate::DEFAULT_PARTITIONS, now));
        collect_garbage(dir, &manifest)?;
        if manifest.keys.is_none() {
            manifest.keys = Some(scan_keys(dir, &manifest)?);
        }
        let event_dict = manifest.event_names.iter().enumerate().map(|(i, n)| (n.clone(), i as u32)).collect();
        let channel_dict = manifest.channels.iter().enumerate().map(|(i, n)| (n.clone(), i as u32)).collect();
        let manifest_partitions = manifest.partitions as usize;
        Ok(Writer {
            dir: dir.to_path_buf(),
            _lock: lock,
            manifest,
            identity: None,
            event_dict,
            channel_dict,
            seen: None,
            staged_key_runs: None,
            keys_unsaved: false,
            expected,
            pending: Vec::new(),
            pending_rows: 0,
            pending_bytes: 0,
            runs: vec![Vec::new(); manifest_partitions],
            new_segments: Vec::new(),
            was_canonical: Vec::new(),
            stats: CommitStats::default(),
            committed: false,
            spill_rows: SPILL_ROWS,
            adds_here: false,
            retired: Vec::new(),
            times: Timings::default(),
        })
    }

    /// Whether the dedupe set and the identity graph are loaded (tests).
    #[cfg(test)]
    pub(crate) fn loaded(&self) -> (bool, bool) {
        (self.seen.is_some(), self.identity.is_some())
    }

    /// Writes pending rows out every `rows` rows (default [`SPILL_ROWS`]).
    pub fn with_spill_rows(mut self, rows: usize) -> Writer {
        self.spill_rows = rows.max(1);
        self
    }

    /// Accepts events in arrival order; returns (accepted, duplicates).
    pub fn add(&mut self, events: Vec<Event>) -> Result<(u64, u64), StoreError> {
        let rows = EventRows::from_events(&events)?;
        drop(events);
        self.add_rows(rows)
    }

    /// For a caller that keeps the thread pool busy itself (an import
    /// decoding the next chunk on it while this one is added): each add
    /// checks its keys for duplicates and looks up its identities on the
    /// calling thread, rather than queueing that work on the pool behind
    /// the decoding and waiting idle for it. (Spills still use the pool.)
    pub fn adding_here(mut self) -> Writer {
        self.adds_here = true;
        self
    }

    /// Accepts events already in columns (built off this thread, see
    /// [`EventRowsBuilder`](crate::EventRowsBuilder)); returns (accepted,
    /// duplicates).
    pub fn add_rows(&mut self, rows: EventRows) -> Result<(u64, u64), StoreError> {
        self.add_all(vec![rows])
    }

    /// [`add_rows`](Self::add_rows) for several batches in order (a chunk
    /// of an import): their keys are checked against the dedupe set in one
    /// go, which a large enough set of keys does on all cores.
    pub fn add_all(&mut self, pieces: Vec<EventRows>) -> Result<(u64, u64), StoreError> {
        let pieces: Vec<EventRows> = pieces.into_iter().filter(|p| !p.is_empty()).collect();
        if pieces.is_empty() {
            // (A server seals its staging file each round, often empty.)
            return Ok((0, 0));
        }
        let seen = match &mut self.seen {
            Some(seen) => seen,
            None => {
                let (dir, manifest, expected) = (&self.dir, &self.manifest, self.expected);
                let seen = self.times.time("stored event keys", || load_event_keys(dir, manifest, expected))?;
                self.seen.insert(seen)
            }
        };
        let started = std::time::Instant::now();
        let fresh = seen.insert_all(&joined(&pieces, |p| &p.keys), !self.adds_here);
        self.times.add("dedupe", started.elapsed());
        if self.identity.is_none() {
            let mut graph = match self.manifest.identity_file.as_deref() {
                Some(g) => self.times.time("identity graph", || crate::load_identity(&self.dir, g))?,
                None => IdentityGraph::new(),
            };
            self.was_canonical = graph.canonical_map().iter().enumerate().map(|(i, &c)| c as usize == i).collect();
            self.identity = Some(graph);
        }
        let started = std::time::Instant::now();
        let identity = self.identity.as_ref().ok_or_else(|| StoreError::Internal("identity graph".into()))?;
        let users = identity.find_all(&joined(&pieces, |p| &p.user_keys), !self.adds_here);
        let anons = identity.find_all(&joined(&pieces, |p| &p.anon_keys), !self.adds_here);
        self.times.add("identities and codes", started.elapsed());
        let (mut acc, mut dup, mut from) = (0, 0, 0);
        for rows in pieces {
            let n = rows.len();
            let found = Found { users: &users[from..from + n], anons: &anons[from..from + n] };
            let (a, d) = self.accept(rows, &fresh[from..from + n], &found)?;
            from += n;
            acc += a;
            dup += d;
        }
        Ok((acc, dup))
    }

    /// Takes the rows `fresh` says are not duplicates: their seq, identity
    /// and codes.
    fn accept(&mut self, rows: EventRows, fresh: &[bool], found: &Found<'_>) -> Result<(u64, u64), StoreError> {
        let started = std::time::Instant::now();
        let b = &rows.batch;
        let n = b.num_rows();
        let text = |c: Col| staged_index(c).map(|i| b.column(i).as_string::<i32>());
        let bad = || StoreError::Internal("staged batch columns".into());
        let (user_ids, anon_ids, ids) = (
            text(Col::UserId).ok_or_else(bad)?,
            text(Col::AnonymousId).ok_or_else(bad)?,
            text(Col::EventId).ok_or_else(bad)?,
        );
        let previous = b.column(PREVIOUS_ID).as_string::<i32>();
        let kinds = staged_index(Col::KindCode)
            .and_then(|i| b.column(i).as_primitive_opt::<arrow_array::types::UInt8Type>())
            .ok_or_else(bad)?
            .values();
        let times = staged_index(Col::Timestamp)
            .and_then(|i| b.column(i).as_primitive_opt::<TimestampMicrosecondType>())
            .ok_or_else(bad)?
            .values();
        let seq0 = self.manifest.next_seq;
        let mut keep: Option<Vec<bool>> = None;
        let mut event_code = vec![u32::MAX; rows.events.values.len()];
        let mut channel_code = vec![u32::MAX; rows.channels.values.len()];
        let (mut idents, mut event_codes, mut channel_codes) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let identity = self.identity.as_mut().ok_or_else(|| StoreError::Internal("identity graph".into()))?;
        for i in 0..n {
            if !fresh[i] {
                keep.get_or_insert_with(|| vec![true; n])[i] = false;
                continue;
            }
            let seq = self.manifest.next_seq;
            self.manifest.next_seq += 1;
            let ts = times[i];
            // New identities get their key (prefixed id) made; known ones
            // are found by the key's hash alone.
            let user = opt(user_ids, i).map(|u| {
                identity.intern_found(found.users[i], rows.user_keys[i], || format!("{USER_PREFIX}{u}"), ts, seq)
            });
            let anon = opt(anon_ids, i).map(|a| {
                identity.intern_found(found.anons[i], rows.anon_keys[i], || format!("{ANON_PREFIX}{a}"), ts, seq)
            });
            if let (Some(a), Some(u)) = (anon, user) {
                identity.link_anon_user(a, u, ts, seq);
            }
            if kinds[i] == Kind::Alias.code()
                && let (Some(prev), Some(u)) = (opt(previous, i), user)
            {
                identity.link_alias(prev, u, ts, seq);
            }
            let Some(ident) = user.or(anon) else {
                // The decoder guarantees an identity; refuse rather than guess.
                return Err(StoreError::Internal(format!("event {} has no identity", ids.value(i))));
            };
            idents.push(ident);
            // A name gets a store code when a row that carries it is
            // accepted (a duplicate's names are not new names).
            let e = rows.events.rows[i] as usize;
            if event_code[e] == u32::MAX {
                event_code[e] =
                    Self::code(&mut self.event_dict, &mut self.manifest.event_names, &rows.events.values[e]);
            }
            event_codes.push(event_code[e]);
            let c = rows.channels.rows[i];
            channel_codes.push((c != u32::MAX).then(|| {
                let c = c as usize;
                if channel_code[c] == u32::MAX {
                    channel_code[c] =
                        Self::code(&mut self.channel_dict, &mut self.manifest.channels, &rows.channels.values[c]);
                }
                channel_code[c]
            }));
        }
        self.was_canonical.resize(identity.len(), false);
        let acc = idents.len() as u64;
        let dup = n as u64 - acc;
        self.stats.accepted += acc;
        self.stats.duplicates += dup;
        if acc > 0 {
            let batch = match keep {
                None => rows.batch,
                Some(k) => arrow_select::filter::filter_record_batch(&rows.batch, &BooleanArray::from(k))
                    .map_err(|e| StoreError::Internal(e.to_string()))?,
            };
            self.pending_rows += idents.len();
            self.pending_bytes += batch.get_array_memory_size();
            self.pending.push(Pending { batch, idents, seq0, event_codes, channel_codes });
        }
        self.times.add("identities and codes", started.elapsed());
        if self.pending_rows >= self.spill_rows || self.pending_bytes >= SPILL_BYTES {
            self.spill()?;
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

    fn code(dict: &mut Dict, names: &mut Vec<String>, name: &str) -> u32 {
        if let Some(&c) = dict.get(name) {
            return c;
        }
        let c = names.len() as u32;
        names.push(name.to_string());
        dict.insert(name.to_string(), c);
        c
    }

    /// The pending rows as one batch per partition (segment columns,
    /// sorted), with the property names they carry; empties `pending`.
    fn partition_pending(&mut self) -> Result<Vec<Option<(RecordBatch, Keys)>>, StoreError> {
        let parts = self.manifest.partitions as usize;
        if self.pending.is_empty() {
            return Ok((0..parts).map(|_| None).collect());
        }
        let canon = self.canon();
        for (i, &c) in canon.iter().enumerate() {
            if c as usize == i {
                self.was_canonical[i] = true;
            }
        }
        let started = std::time::Instant::now();
        let pending = std::mem::take(&mut self.pending);
        self.pending_rows = 0;
        self.pending_bytes = 0;
        // First each batch's rows grouped by partition (a copy within the
        // batch, which the caches hold), so that each partition then
        // gathers its rows from its own stretches of the batches rather
        // than from all of the pending rows (hundreds of megabytes, where
        // nearly every row read missed the caches).
        let grouped: Vec<Grouped> = pending
            .into_par_iter()
            .map(|p| Grouped::new(p, &canon, parts as u32))
            .collect::<Result<_, StoreError>>()?;
        let by_part: Vec<Vec<RowKey>> = (0..parts)
            .into_par_iter()
            .map(|q| {
                let n = grouped.iter().map(|g| g.bounds[q + 1] - g.bounds[q]).sum();
                let mut rows = Vec::with_capacity(n);
                for (k, g) in grouped.iter().enumerate() {
                    for r in g.bounds[q]..g.bounds[q + 1] {
                        rows.push((g.customers[r], g.times[r], g.seqs[r], k as u32, r as u32));
                    }
                }
                rows
            })
            .collect();
        self.times.add("partition rows", started.elapsed());
        let out: Vec<(Option<(RecordBatch, Keys)>, Timings)> = by_part
            .into_par_iter()
            .map(|mut rows| {
                let mut times = Timings::default();
                if rows.is_empty() {
                    return Ok((None, times));
                }
                times.time("sort", || rows.par_sort_unstable());
                let batch = times.time("build columns", || partition_batch(&grouped, &rows))?;
                drop(rows);
                let keys = times.time("property names", || property_names(&batch))?;
                Ok((Some((batch, keys)), times))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(out
            .into_iter()
            .map(|(b, t)| {
                self.times.extend(&t);
                b
            })
            .collect())
    }

    /// Writes the pending rows as sorted runs, one per partition.
    fn spill(&mut self) -> Result<(), StoreError> {
        let parts = self.partition_pending()?;
        let first_id = self.manifest.next_segment;
        self.manifest.next_segment += parts.len() as u64;
        let dir = self.dir.clone();
        let started = std::time::Instant::now();
        let written: Vec<Option<(PathBuf, Keys)>> = parts
            .into_par_iter()
            .enumerate()
            .map(|(p, part)| {
                let Some((batch, keys)) = part else { return Ok(None) };
                let path = dir.join(format!("segments/p{p:03}/r{:010}.run", first_id + p as u64));
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
                }
                rows::write_run(&path, &batch)?;
                Ok(Some((path, keys)))
            })
            .collect::<Result<_, StoreError>>()?;
        self.times.add("write runs", started.elapsed());
        let known = self.manifest.keys.get_or_insert_with(Keys::default);
        for (p, w) in written.into_iter().enumerate() {
            if let Some((path, keys)) = w {
                known.extend(keys);
                self.runs[p].push(path);
            }
        }
        Ok(())
    }

    /// Rows spilled before their customer merged into another (an
    /// anonymous visitor who signed up later) take the surviving customer
    /// now: they leave their run for a new run in the survivor's partition,
    /// so the commit need not rewrite whole segments to move them.
    fn resolve_runs(&mut self, canon: &[u32]) -> Result<(), StoreError> {
        let merged = |c: u32| canon.get(c as usize).copied().unwrap_or(c);
        if self.runs.iter().all(Vec::is_empty)
            || !self.was_canonical.iter().enumerate().any(|(i, &was)| was && merged(i as u32) != i as u32)
        {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let parts = self.manifest.partitions;
        let all: Vec<PathBuf> = self.runs.iter().flatten().cloned().collect();
        let first_id = self.manifest.next_segment;
        self.manifest.next_segment += (all.len() * parts as usize) as u64;
        let (dir, schema) = (self.dir.clone(), segment::pending_schema());
        let moved: Vec<(u64, Vec<(usize, PathBuf)>)> = all
            .par_iter()
            .enumerate()
            .map(|(k, path)| {
                let batch = rows::read_run(path, &schema)?;
                let cs = customers(&batch)?.values();
                if cs.iter().all(|&c| merged(c) == c) {
                    return Ok((0, Vec::new()));
                }
                let internal = |e: arrow_schema::ArrowError| StoreError::Internal(e.to_string());
                let stay: BooleanArray = cs.iter().map(|&c| Some(merged(c) == c)).collect();
                rows::write_run(path, &arrow_select::filter::filter_record_batch(&batch, &stay).map_err(internal)?)?;
                let mut by_target: Vec<Vec<u32>> = vec![Vec::new(); parts as usize];
                for (i, &c) in cs.iter().enumerate() {
                    if merged(c) != c {
                        by_target[partition_of(merged(c), parts) as usize].push(i as u32);
                    }
                }
                let mut out = Vec::new();
                let mut n = 0;
                for (t, idx) in by_target.into_iter().enumerate() {
                    if idx.is_empty() {
                        continue;
                    }
                    n += idx.len() as u64;
                    let rows_t = segment::take_rows(&batch, &UInt32Array::from(idx))?;
                    let mut cols = rows_t.columns().to_vec();
                    cols[Col::Customer.index()] = Arc::new(UInt32Array::from_iter_values(
                        customers(&rows_t)?.values().iter().map(|&c| merged(c)),
                    ));
                    let remapped = RecordBatch::try_new(rows_t.schema(), cols).map_err(internal)?;
                    let id = first_id + (k * parts as usize + t) as u64;
                    let target = dir.join(format!("segments/p{t:03}/r{id:010}.run"));
                    if let Some(parent) = target.parent() {
                        fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
                    }
                    rows::write_run(&target, &sort_batches(&[remapped])?)?;
                    out.push((t, target));
                }
                Ok((n, out))
            })
            .collect::<Result<_, StoreError>>()?;
        for (n, runs) in moved {
            self.stats.rows_moved += n;
            for (t, path) in runs {
                self.runs[t].push(path);
            }
        }
        self.times.add("move merged customers", started.elapsed());
        Ok(())
    }

    /// Writes everything added as segments: per partition, its runs and
    /// its pending rows merged into one.
    fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() && self.runs.iter().all(Vec::is_empty) {
            return Ok(());
        }
        let parts = self.partition_pending()?;
        let canon = self.canon();
        self.resolve_runs(&canon)?;
        let runs = std::mem::replace(&mut self.runs, vec![Vec::new(); parts.len()]);
        let first_id = self.manifest.next_segment;
        self.manifest.next_segment += parts.len() as u64;
        let dir = self.dir.clone();
        let schema = segment::pending_schema();
        let names = (self.manifest.event_names.as_slice(), self.manifest.channels.as_slice());
        let metas: Vec<(Option<SegmentMeta>, Keys, Timings)> = parts
            .into_par_iter()
            .zip(runs)
            .enumerate()
            .map(|(p, (part, runs))| {
                let mut times = Timings::default();
                let mut inputs: Vec<rows::Sorted> = runs
                    .iter()
                    .map(|r| Ok(Box::new(rows::RunReader::open(r, &schema)?) as rows::Sorted))
                    .collect::<Result<_, StoreError>>()?;
                let (last, keys) = match part {
                    Some((batch, keys)) => (Some(batch), keys),
                    None => (None, Keys::default()),
                };
                let m = match (inputs.is_empty(), last) {
                    (true, None) => return Ok((None, keys, times)),
                    (true, Some(batch)) => {
                        let batch = times.time("build columns", || with_texts(&batch, names));
                        write_new_segment(&dir, p as u32, first_id + p as u64, [batch], &mut times)?
                    }
                    (false, last) => {
                        inputs.extend(last.map(|b| Box::new(std::iter::once(Ok(b))) as rows::Sorted));
                        let mut merge = rows::Merge::new(inputs, segment::ROW_GROUP_ROWS)?;
                        if merge.is_empty() {
                            // Every row of these runs moved to another partition.
                            for r in &runs {
                                let _ = fs::remove_file(r);
                            }
                            return Ok((None, keys, times));
                        }
                        // Reading and merging the runs is timed apart from encoding them.
                        let merging = std::cell::Cell::new(std::time::Duration::ZERO);
                        let chunks = std::iter::from_fn(|| {
                            let t = std::time::Instant::now();
                            let chunk = merge.next().map(|c| c.and_then(|c| with_texts(&c, names)));
                            merging.set(merging.get() + t.elapsed());
                            chunk
                        });
                        let m = write_new_segment(&dir, p as u32, first_id + p as u64, chunks, &mut times)?;
                        times.add("read and merge runs", merging.get());
                        m
                    }
                };
                for r in &runs {
                    let _ = fs::remove_file(r);
                }
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
        Ok(())
    }

    /// Makes everything added visible, atomically.
    pub fn commit(self) -> Result<CommitStats, StoreError> {
        self.commit_timed().map(|(stats, _)| stats)
    }

    /// [`commit`](Self::commit), also returning where the writer's time went.
    pub fn commit_timed(mut self) -> Result<(CommitStats, Timings), StoreError> {
        // Nothing more is added: the dedupe set (gigabytes at 100M events)
        // is written out and released before the commit merges the runs.
        self.save_event_keys(true);
        self.seen = None;
        let stats = self.commit_open()?;
        self.committed = true;
        Ok((stats, std::mem::take(&mut self.times)))
    }

    /// Makes everything added so far visible, atomically, and keeps the
    /// writer open for more; returns what this commit did.
    pub fn commit_open(&mut self) -> Result<CommitStats, StoreError> {
        if self.staged_key_runs.is_none() {
            self.save_event_keys(false);
        }
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
        if !self.new_segments.is_empty() || !self.pending.is_empty() || self.runs.iter().any(|r| !r.is_empty()) {
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
            let meta = write_new_segment(&self.dir, seg.partition, id, [Ok(rewritten)], &mut self.times)?;
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

    /// Each identity's customer (itself, or the customer it merged into);
    /// empty while the graph is not loaded (nothing has merged then).
    fn canon(&mut self) -> Vec<u32> {
        self.identity.as_mut().map(|g| g.canonical_map().to_vec()).unwrap_or_default()
    }

    /// Events in the store, committed.
    pub fn events_total(&self) -> u64 {
        self.manifest.events_total
    }

    /// Writes the keys added since the last commit as a run and stages the
    /// runs the commit will name (`release`: the set is freed shard by
    /// shard as it is read). The runs are an index the next writer can
    /// rebuild: if one cannot be written, the commit goes on naming none.
    fn save_event_keys(&mut self, release: bool) {
        let Some(seen) = self.seen.as_mut() else { return };
        if self.keys_unsaved || (seen.from_runs && self.stats.accepted == 0) {
            return;
        }
        let started = std::time::Instant::now();
        let generation = self.manifest.generation + 1;
        let file = key_runs::file_of(generation);
        let written = (|| {
            let mut out = key_runs::RunWriter::create(&self.dir, &file)?;
            // Sections are written on a thread of their own while the
            // next shards are read and sorted.
            let rows = std::thread::scope(|scope| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<crate::dedupe::Key>>(2);
                let writing = scope.spawn(move || {
                    for keys in rx {
                        out.section(&keys)?;
                    }
                    out.finish()
                });
                let stopped = || StoreError::Internal("the key run's writer stopped".into());
                let drained = seen.drain_unwritten(release, |keys| tx.send(keys).map_err(|_| stopped()));
                drop(tx);
                let rows = writing.join().map_err(|_| stopped())?;
                drained.and(rows)
            })?;
            let new = KeyRun { file: file.clone(), rows };
            let old = self.manifest.key_runs.clone().unwrap_or_default();
            if seen.from_runs {
                key_runs::add(&self.dir, old, new, &format!("{generation:08}"))
            } else {
                // Read from the segments: this run holds every key.
                Ok((vec![new], old.into_iter().map(|r| r.file).collect()))
            }
        })();
        seen.from_runs = true;
        let committed = self.manifest.events_total + self.stats.accepted;
        match written {
            Ok((runs, gone)) if runs.iter().map(|r| r.rows).sum::<u64>() == committed => {
                self.staged_key_runs = Some((runs, gone));
            }
            _ => {
                let _ = fs::remove_file(self.dir.join(&file));
                self.keys_unsaved = true;
            }
        }
        self.times.add("event key runs", started.elapsed());
    }

    fn commit_now(&mut self) -> Result<CommitStats, StoreError> {
        self.flush()?;
        let canon = self.canon();
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
        if let Some(identity) = self.identity.as_mut()
            && !identity.is_empty()
            && (identity.is_unsaved() || self.manifest.identity_file.is_none())
        {
            let started = std::time::Instant::now();
            crate::store_identity(&self.dir, &generation, identity)?;
            self.times.add("identity files", started.elapsed());
            self.manifest.identity_file = Some(generation);
            identity.mark_saved();
        }
        let mut unnamed = Vec::new();
        if self.keys_unsaved {
            self.manifest.key_runs = None;
        } else if let Some((runs, gone)) = self.staged_key_runs.take() {
            self.manifest.key_runs = Some(runs);
            unnamed = gone;
        }
        self.times.time("manifest", || self.manifest.store(&self.dir))?;
        for f in unnamed {
            let _ = fs::remove_file(self.dir.join(f));
        }
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
            let meta = write_new_segment(&self.dir, p as u32, id, [Ok(merged)], &mut Timings::default())?;
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
                keep.push(write_new_segment(&dir, p as u32, first_id + p as u64, [Ok(merged)], &mut times)?);
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
        for r in self.runs.iter().flatten() {
            let _ = fs::remove_file(r);
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
    let (c, t, s) = rows::sort_keys(b)?;
    let mut idx: Vec<u32> = (0..b.num_rows() as u32).collect();
    idx.par_sort_unstable_by_key(|&i| (c[i as usize], t[i as usize], s[i as usize]));
    Ok(UInt32Array::from(idx))
}

/// Writes a segment from batches of rows in order (each is written as it
/// comes), with its hot columns; fsyncs both and renames them into place.
fn write_new_segment(
    dir: &Path,
    partition: u32,
    id: u64,
    batches: impl IntoIterator<Item = Result<RecordBatch, StoreError>>,
    times: &mut Timings,
) -> Result<SegmentMeta, StoreError> {
    let rel = format!("segments/p{partition:03}/s{id:010}.parquet");
    let path = dir.join(&rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
    }
    let part = path.with_extension("parquet.part");
    let mut out = segment::SegmentFile::create(&part)?;
    // The hot columns of every batch, to build the hot file from.
    let hot_cols =
        [Col::Customer, Col::Timestamp, Col::Seq, Col::EventCode, Col::ChannelCode, Col::KindCode, Col::Revenue];
    let mut hot_parts: Vec<RecordBatch> = Vec::new();
    for b in batches {
        let b = b?;
        times.time("encode Parquet", || out.write(&b))?;
        hot_parts.push(b.project(&hot_cols.map(Col::index)).map_err(|e| StoreError::Internal(e.to_string()))?);
    }
    let (rows, file) = times.time("encode Parquet", || out.finish())?;
    times.time("fsync", || file.sync_all()).map_err(|e| StoreError::io(&part, e))?;
    // The hot columns first, so a visible Parquet segment always has them.
    let hot = match hot_parts.len() {
        1 => hot_parts.pop().unwrap_or_else(|| RecordBatch::new_empty(segment::schema())),
        _ => {
            let schema = hot_parts
                .first()
                .map(RecordBatch::schema)
                .ok_or_else(|| StoreError::Internal(format!("segment {rel} without rows")))?;
            arrow_select::concat::concat_batches(&schema, &hot_parts)
                .map_err(|e| StoreError::Internal(e.to_string()))?
        }
    };
    drop(hot_parts);
    let hot_path = crate::hot::hot_path(&path);
    let hot_part = hot_path.with_extension("hot.part");
    let file = times.time("hot columns", || crate::hot::write(&hot_part, &crate::hot::from_batch(&hot)?))?;
    times.time("fsync", || file.sync_all()).map_err(|e| StoreError::io(&hot_part, e))?;
    fs::rename(&hot_part, &hot_path).map_err(|e| StoreError::io(&hot_path, e))?;
    fs::rename(&part, &path).map_err(|e| StoreError::io(&path, e))?;
    let c = customers(&hot)?.values();
    let t = hot
        .column_by_name("timestamp")
        .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
        .ok_or_else(|| StoreError::Internal("timestamp column".into()))?
        .values();
    // Rows are sorted by customer: the first and last are the extremes.
    let (min_c, max_c) = (c.first().copied().unwrap_or(u32::MAX), c.last().copied().unwrap_or(0));
    let (min_ts, max_ts) = t.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    Ok(SegmentMeta { id, partition, file: rel, rows, min_ts, max_ts, min_customer: min_c, max_customer: max_c })
}

/// A partition's pending rows, `rows` sorted (customer, timestamp, seq,
/// pending batch, row), as a batch of segment columns ([`segment::pending_schema`]):
/// the kind, event and channel texts are left empty, and written from the
/// rows' codes when the segment is encoded ([`with_texts`]), not gathered
/// from the scattered pending rows nor carried through runs.
fn partition_batch(pending: &[Grouped], rows: &[RowKey]) -> Result<RecordBatch, StoreError> {
    let order: Vec<(usize, usize)> = rows.iter().map(|r| (r.3 as usize, r.4 as usize)).collect();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(Col::ALL.len());
    for c in Col::ALL {
        let built: ArrayRef = match c {
            Col::Customer => Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.0))),
            Col::Timestamp => {
                Arc::new(TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.1)).with_timezone("UTC"))
            }
            Col::Seq => Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.2))),
            Col::EventCode => {
                Arc::new(UInt32Array::from_iter_values(order.iter().map(|&(k, r)| pending[k].event_codes[r])))
            }
            Col::ChannelCode => {
                Arc::new(order.iter().map(|&(k, r)| pending[k].channel_codes[r]).collect::<UInt32Array>())
            }
            // Written from the codes as the segment is encoded (`with_texts`):
            // empty until then, so runs neither write nor merge them.
            Col::Kind | Col::Event | Col::Channel => arrow_array::new_null_array(&c.data_type(), rows.len()),
            _ => {
                let missing = || StoreError::Internal(format!("column {}", c.name()));
                let i = staged_index(c).ok_or_else(missing)?;
                let arrays: Vec<&dyn Array> = pending
                    .iter()
                    .map(|p| p.columns.get(i).and_then(Option::as_deref).ok_or_else(missing))
                    .collect::<Result<_, _>>()?;
                rows::gather_column(&arrays, &order)?
            }
        };
        columns.push(built);
    }
    RecordBatch::try_new(segment::pending_schema(), columns)
        .map_err(|e| StoreError::Internal(format!("segment batch: {e}")))
}

/// A partition batch (see [`partition_batch`]) with its kind, event and
/// channel texts written from its codes and the store's names.
fn with_texts(batch: &RecordBatch, names: (&[String], &[String])) -> Result<RecordBatch, StoreError> {
    let internal = |what: &str| StoreError::Internal(format!("{what} codes"));
    let kinds = batch.column(Col::KindCode.index()).as_primitive_opt::<UInt8Type>().ok_or_else(|| internal("kind"))?;
    let events =
        batch.column(Col::EventCode.index()).as_primitive_opt::<UInt32Type>().ok_or_else(|| internal("event"))?;
    let channels =
        batch.column(Col::ChannelCode.index()).as_primitive_opt::<UInt32Type>().ok_or_else(|| internal("channel"))?;
    let kind = text_of_codes(kinds.values().iter().map(|&k| Some(Kind::from_code(k).as_str())));
    let event = text_of_codes(events.values().iter().map(|&e| names.0.get(e as usize).map(String::as_str)));
    let channel = text_of_codes(channels.iter().map(|c| c.and_then(|c| names.1.get(c as usize)).map(String::as_str)));
    let mut columns = batch.columns().to_vec();
    columns[Col::Kind.index()] = Arc::new(kind);
    columns[Col::Event.index()] = Arc::new(event);
    columns[Col::Channel.index()] = Arc::new(channel);
    RecordBatch::try_new(segment::schema(), columns).map_err(|e| StoreError::Internal(format!("segment batch: {e}")))
}

/// A text column of values looked up from codes, in row order.
fn text_of_codes<'a>(values: impl ExactSizeIterator<Item = Option<&'a str>>) -> arrow_array::StringArray {
    let mut b = arrow_array::builder::StringBuilder::with_capacity(values.len(), values.len() * 12);
    for v in values {
        b.append_option(v);
    }
    b.finish()
}

/// The property and trait names of a segment batch's rows.
fn property_names(b: &RecordBatch) -> Result<Keys, StoreError> {
    let kinds = b.column_by_name("kind_code").and_then(|c| c.as_primitive_opt::<arrow_array::types::UInt8Type>());
    let props = b.column_by_name("properties").and_then(|c| c.as_string_opt::<i32>());
    let (Some(kinds), Some(props)) = (kinds, props) else {
        return Err(StoreError::Corrupt("kind_code or properties column".into()));
    };
    let mut keys = Keys::default();
    let identify = Kind::Identify.code();
    let mut last: Option<(bool, &str)> = None;
    for (i, &k) in kinds.values().iter().enumerate() {
        if props.is_null(i) {
            continue;
        }
        // Neighbouring rows (one customer's) often carry the same properties.
        let this = (k == identify, props.value(i));
        if last != Some(this) {
            keys.add(this.0, this.1);
            last = Some(this);
        }
    }
    Ok(keys)
}

/// The value of a nullable string column at row `i`.
fn opt(a: &arrow_array::StringArray, i: usize) -> Option<&str> {
    (!a.is_null(i)).then(|| a.value(i))
}

/// The dedupe key of an event id.
pub fn event_key(event_id: &str) -> u128 {
    xxh3_128(event_id.as_bytes())
}

fn load_event_keys(dir: &Path, manifest: &Manifest, expected: u64) -> Result<EventKeys, StoreError> {
    if let Some(runs) = &manifest.key_runs
        && runs.iter().map(|r| r.rows).sum::<u64>() == manifest.events_total
        && let Ok(stored) = key_runs::read(dir, runs)
    {
        let mut seen = EventKeys::with_stored(stored);
        seen.size_for(expected);
        return Ok(seen);
    }
    // Written before the runs, or a run is damaged: every segment's ids.
    let mut seen = EventKeys::new();
    seen.size_for(manifest.segments.iter().map(|s| s.rows).sum::<u64>() + expected);
    // A few segments at a time: their keys are read in parallel, but a
    // large store's are never all held twice.
    for group in manifest.segments.chunks(rayon::current_num_threads().max(1) * 2) {
        let sets: Vec<Vec<u128>> = group
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
        for keys in sets {
            seen.insert_all(&keys, true);
        }
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
            property_names(&b).map_err(|e| StoreError::Corrupt(format!("{}: {e}", s.file)))
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
    key_runs::collect_garbage(dir, manifest.key_runs.as_deref().unwrap_or_default());
    Ok(())
}

fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each stored row's kind, event and channel texts, by event id.
    fn texts(dir: &Path) -> Vec<(String, String, String, Option<String>)> {
        let manifest = Manifest::load(dir).unwrap().unwrap();
        let mut out = Vec::new();
        for s in &manifest.segments {
            let b = segment::read_segment(&dir.join(&s.file), &[Col::EventId, Col::Kind, Col::Event, Col::Channel])
                .unwrap();
            let col = |i: usize| b.column(i).as_string::<i32>().clone();
            let (id, kind, event, channel) = (col(0), col(1), col(2), col(3));
            for r in 0..b.num_rows() {
                out.push((
                    id.value(r).to_string(),
                    kind.value(r).to_string(),
                    event.value(r).to_string(),
                    channel.is_valid(r).then(|| channel.value(r).to_string()),
                ));
            }
        }
        out.sort();
        out
    }

    #[test]
    fn stored_kind_event_and_channel_texts_are_the_rows_own() {
        // Written straight from pending rows and through spilled runs.
        for spill in [usize::MAX, 2] {
            let dir = tempfile::tempdir().unwrap();
            let mut w = Writer::open(dir.path(), 0).unwrap().with_spill_rows(spill);
            let mut events = Vec::new();
            for (i, (kind, name, channel)) in [
                (Kind::Page, "Page Viewed", Some("Organic Search")),
                (Kind::Track, "Order Completed", None),
                (Kind::Identify, "Identify", Some("Email")),
                (Kind::Track, "Order Completed", Some("Email")),
                (Kind::Screen, "Screen Viewed", Some("Paid Social")),
            ]
            .into_iter()
            .enumerate()
            {
                let mut e = Event::new(format!("e{i}"), 10 + i as i64, name);
                e.kind = kind;
                e.user_id = Some(format!("u{}", i % 2));
                e.channel = channel.map(str::to_string);
                events.push(e);
            }
            // The second batch brings a name and a channel the first did not.
            w.add(events[..3].to_vec()).unwrap();
            w.add(events[3..].to_vec()).unwrap();
            w.commit().unwrap();
            let want: Vec<_> = events
                .iter()
                .map(|e| (e.event_id.clone(), e.kind.as_str().to_string(), e.event.clone(), e.channel.clone()))
                .collect();
            assert_eq!(texts(dir.path()), want, "spill every {spill} rows");
        }
    }

    #[test]
    fn a_spill_groups_rows_by_the_partition_of_their_customer_at_the_spill() {
        // Visitors browse anonymously; some sign up in a later batch of the
        // same spill, so their earlier rows' customer (and partition) is
        // the user's, which the rows only learn when the spill resolves
        // identities. Every row must land in its customer's partition, in
        // order, under the surviving customer.
        for spill in [usize::MAX, 40, 7] {
            let dir = tempfile::tempdir().unwrap();
            let mut w = Writer::open(dir.path(), 0).unwrap().with_spill_rows(spill);
            let mut batch = Vec::new();
            for v in 0..30u32 {
                for j in 0..3 {
                    let mut e = Event::new(format!("a{v}-{j}"), 1_000 + i64::from(v * 10 + j), "Page Viewed");
                    e.anonymous_id = Some(format!("anon{v}"));
                    batch.push(e);
                }
            }
            w.add(std::mem::take(&mut batch)).unwrap();
            for v in (0..30u32).step_by(3) {
                let mut e = Event::new(format!("s{v}"), 2_000 + i64::from(v), "Signed Up");
                e.anonymous_id = Some(format!("anon{v}"));
                e.user_id = Some(format!("user{v}"));
                batch.push(e);
            }
            w.add(batch).unwrap();
            w.commit().unwrap();
            let manifest = Manifest::load(dir.path()).unwrap().unwrap();
            let mut by_id = std::collections::HashMap::new();
            for s in &manifest.segments {
                let b =
                    segment::read_segment(&dir.path().join(&s.file), &[Col::Customer, Col::EventId, Col::Timestamp])
                        .unwrap();
                let customers = customers(&b).unwrap().values().to_vec();
                let ids = b.column_by_name(Col::EventId.name()).unwrap().as_string::<i32>();
                let times = b
                    .column_by_name(Col::Timestamp.name())
                    .unwrap()
                    .as_primitive::<TimestampMicrosecondType>()
                    .values();
                for r in 0..b.num_rows() {
                    assert_eq!(partition_of(customers[r], manifest.partitions), s.partition, "spill {spill}");
                    if r > 0 {
                        assert!((customers[r - 1], times[r - 1]) <= (customers[r], times[r]), "spill {spill}: order");
                    }
                    by_id.insert(ids.value(r).to_string(), customers[r]);
                }
            }
            assert_eq!(by_id.len(), 100, "spill {spill}");
            for v in 0..30u32 {
                let first = by_id[&format!("a{v}-0")];
                assert!((1..3).all(|j| by_id[&format!("a{v}-{j}")] == first), "spill {spill}: visitor {v}");
                if v % 3 == 0 {
                    assert_eq!(by_id[&format!("s{v}")], first, "spill {spill}: visitor {v} signed up");
                }
            }
            let distinct: HashSet<u32> = by_id.values().copied().collect();
            assert_eq!(distinct.len(), 30, "spill {spill}: one customer per visitor");
        }
    }

    fn events(ids: std::ops::Range<u32>) -> Vec<Event> {
        ids.map(|i| {
            let mut e = Event::new(format!("k{i}"), 100 + i64::from(i), "Page Viewed");
            e.user_id = Some(format!("u{}", i % 7));
            e
        })
        .collect()
    }

    fn runs_of(dir: &Path) -> Vec<KeyRun> {
        Manifest::load(dir).unwrap().unwrap().key_runs.expect("the manifest names key runs")
    }

    #[test]
    fn committed_keys_are_read_from_their_runs_and_rebuilt_when_a_run_is_unusable() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut w = Writer::open(d, 0).unwrap();
        assert_eq!(w.add(events(0..300)).unwrap(), (300, 0));
        w.commit().unwrap();
        let runs = runs_of(d);
        assert_eq!(runs.iter().map(|r| r.rows).sum::<u64>(), 300);

        // A second import: the stored ids are duplicates, found in the run
        // (the segments' ids are not read: they are made unreadable here).
        let segments = Manifest::load(d).unwrap().unwrap().segments;
        let hidden: Vec<(PathBuf, Vec<u8>)> = segments
            .iter()
            .map(|s| {
                let p = d.join(&s.file);
                let bytes = fs::read(&p).unwrap();
                fs::write(&p, b"not parquet").unwrap();
                (p, bytes)
            })
            .collect();
        let mut w = Writer::open(d, 0).unwrap();
        assert_eq!(w.add(events(250..320)).unwrap(), (20, 50));
        drop(w);
        for (p, bytes) in &hidden {
            fs::write(p, bytes).unwrap();
        }
        let mut w = Writer::open(d, 0).unwrap();
        assert_eq!(w.add(events(250..320)).unwrap(), (20, 50));
        w.commit().unwrap();
        let runs = runs_of(d);
        assert_eq!(runs.iter().map(|r| r.rows).sum::<u64>(), 320);
        // 20 new keys beside 300 stay a run of their own.
        assert_eq!(runs.len(), 2, "{runs:?}");

        // A damaged run, a missing one, a manifest without runs (written
        // before them): the keys come from the segments, and the commit
        // names one run of them all.
        let damage: [&dyn Fn(&Path); 3] = [
            &|d| {
                let r = &runs_of(d)[0];
                let p = d.join(&r.file);
                let mut bytes = fs::read(&p).unwrap();
                let at = bytes.len() - 1;
                bytes[at] ^= 0x40;
                fs::write(p, bytes).unwrap();
            },
            &|d| fs::remove_file(d.join(&runs_of(d)[0].file)).unwrap(),
            &|d| {
                let mut m = Manifest::load(d).unwrap().unwrap();
                m.key_runs = None;
                m.store(d).unwrap();
            },
        ];
        let mut next = 320;
        for (case, damage) in damage.iter().enumerate() {
            damage(d);
            let mut w = Writer::open(d, 0).unwrap();
            assert_eq!(w.add(events(0..next + 10)).unwrap(), (10, u64::from(next)), "case {case}");
            w.commit().unwrap();
            next += 10;
            let runs = runs_of(d);
            assert_eq!(runs.len(), 1, "case {case}");
            assert_eq!(runs[0].rows, u64::from(next));
            let files: Vec<_> = fs::read_dir(d.join(key_runs::DIR)).unwrap().flatten().collect();
            assert_eq!(files.len(), 1, "the unnamed runs are removed (case {case})");
        }

        // A long-lived writer commits again and again: each commit writes
        // only its own keys, and the runs always hold every stored key.
        let mut w = Writer::open(d, 0).unwrap();
        for round in 0..5u32 {
            let from = next + round * 40;
            assert_eq!(w.add(events(from - 5..from + 40)).unwrap(), (40, 5), "round {round}");
            let stats = w.commit_open().unwrap();
            let runs = runs_of(d);
            assert_eq!(runs.iter().map(|r| r.rows).sum::<u64>(), stats.events_total, "round {round}");
            assert!(runs.windows(2).all(|p| p[0].rows > p[1].rows * 2), "{runs:?}");
        }
        drop(w);
        let total = next + 200;
        let mut w = Writer::open(d, 0).unwrap();
        assert_eq!(w.add(events(0..total + 1)).unwrap(), (1, u64::from(total)));
        drop(w);

        // A run that cannot be written (here: a file where its directory
        // goes) does not fail the commit: the events are committed, the
        // manifest names no runs, and the next writer reads the segments.
        fs::remove_dir_all(d.join(key_runs::DIR)).unwrap();
        fs::write(d.join(key_runs::DIR), b"in the way").unwrap();
        let mut w = Writer::open(d, 0).unwrap();
        assert_eq!(w.add(events(total..total + 5)).unwrap(), (5, 0));
        assert_eq!(w.commit().unwrap().events_total, u64::from(total) + 5);
        assert_eq!(Manifest::load(d).unwrap().unwrap().key_runs, None);
        fs::remove_file(d.join(key_runs::DIR)).unwrap();
        let mut w = Writer::open(d, 0).unwrap();
        assert_eq!(w.add(events(0..total + 6)).unwrap(), (1, u64::from(total) + 5));
        w.commit().unwrap();
        assert_eq!(runs_of(d).iter().map(|r| r.rows).sum::<u64>(), u64::from(total) + 6);
    }
}
