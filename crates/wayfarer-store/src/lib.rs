//! The data directory: the only state Wayfarer keeps.
//!
//! ```text
//!  DIR/
//!    manifest.json            what is committed (replaced atomically)
//!    LOCK                     held by the one writer
//!    segments/pNNN/sNNNNNNNN.parquet   events of partition NNN, sorted by (customer, timestamp, seq)
//!    segments/pNNN/rNNNNNNNN.run       a bulk load's sorted run, until its commit ([`rows`])
//!    identity/ids-G.parquet   raw identities of generation G
//!    identity/links-G.parquet identity links of generation G
//!    event-keys/G.keys        the keys of committed events, for the dedupe ([`key_runs`])
//!    staging/wal-N.log        the server's acknowledged, not yet folded events
//!    rejects/                 rejected records of imports (NDJSON)
//!    notes.json               analysts' notes on map cells ([`notes`])
//!    wayfarer.toml            optional configuration
//! ```
//!
//! Customers are partitioned by their canonical ident, so a partition holds
//! whole timelines and partitions are read and folded in parallel. Writes
//! ([`Writer`]) go to new files first; a commit replaces the manifest
//! atomically, so a crash at any moment leaves the previous state. Files not
//! named by the manifest are removed by the next writer.
//!
//! The write-ahead staging of the HTTP server ([`staging`]) sits beside
//! `segments/` and is folded in through the same [`Writer`].

pub mod annotations;
mod dedupe;
pub mod hot;
pub mod identity;
pub mod key_runs;
pub mod keys;
pub mod manifest;
pub mod notes;
pub mod objects;
pub mod outbox;
pub mod read;
pub mod referrals;
pub mod remote;
pub mod rows;
pub mod segment;
pub mod segment_defs;
pub mod snapshots;
pub mod staging;
#[cfg(any(test, feature = "testing"))]
pub mod testfs;
pub mod tokens;
pub mod writer;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use arrow_array::builder::{StringBuilder, TimestampMicrosecondBuilder, UInt8Builder, UInt32Builder, UInt64Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMicrosecondType, UInt8Type, UInt32Type, UInt64Type};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use wayfarer_core::{Cancel, ErrorCode};

pub use identity::IdentityGraph;
pub use manifest::{Manifest, SegmentMeta};
pub use read::{NO_CHANNEL, Postings, PropertyRows, Rows};
pub use rows::{EventRows, EventRowsBuilder, TextSizes};
pub use segment::Col;
pub use writer::{CommitStats, Derived, RederiveStats, Writer};

/// Default number of customer partitions of a new data directory.
pub const DEFAULT_PARTITIONS: u32 = 16;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("the data directory {0} holds no Wayfarer data yet; import events first (wayfarer import --data DIR FILE)")]
    Empty(String),
    #[error("another Wayfarer process is writing to {0}; wait for it to finish")]
    Locked(String),
    #[error("damaged data directory: {0}")]
    Corrupt(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// A request the store refuses (a malformed or taken name).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Cancelled(#[from] wayfarer_core::cancel::Cancelled),
    /// An executor replaying a query reached the fold it was asked for and
    /// ran it; the rest of the query runs on the client.
    #[error("the fold asked for has run; the query continues on the client")]
    FoldHanded,
    /// A cluster a query ran on failed it (unreachable, an executor lost).
    #[error("{0}")]
    Remote(String),
    /// An object store holding the data failed a request ([`objects`]).
    #[error("{0}")]
    Objects(String),
}

impl StoreError {
    pub fn io(path: &Path, source: std::io::Error) -> StoreError {
        StoreError::Io { path: path.display().to_string(), error: source }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            // A full disk, a failing one, a read-only one: not a bug.
            StoreError::Io { .. } => ErrorCode::Unavailable,
            StoreError::Internal(_) => ErrorCode::Internal,
            StoreError::Invalid(_) => ErrorCode::InvalidQuery,
            StoreError::Empty(_) => ErrorCode::NotFound,
            StoreError::Locked(_) => ErrorCode::DataDirLocked,
            StoreError::Corrupt(_) => ErrorCode::DataDirInvalid,
            StoreError::Cancelled(_) => ErrorCode::QueryTimeout,
            StoreError::FoldHanded => ErrorCode::Internal,
            StoreError::Remote(_) | StoreError::Objects(_) => ErrorCode::Unavailable,
        }
    }
}

/// A committed state of the data directory, for reading. It carries the
/// reader's cancellation token: every partition read checks it, so a
/// cancelled query stops at its next read.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    manifest: Manifest,
    cancel: Cancel,
    /// The identity graph, loaded once per committed state and shared by
    /// its clones (one map request reads it for several analyses).
    identity: Arc<OnceLock<Arc<IdentityGraph>>>,
    /// Only these customers' timelines are folded (a segment's scope).
    only: Option<Arc<CustomerSet>>,
    /// Where folds run when not here (a cluster, or an executor's replay).
    runner: Option<Arc<dyn remote::FoldRunner>>,
    /// The object-store URL this directory is a local copy of ([`objects`]).
    origin: Option<Arc<str>>,
}

/// A set of customers (canonical numbers), as a bit set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerSet {
    bits: Vec<u64>,
    len: usize,
}

impl CustomerSet {
    pub fn contains(&self, customer: u32) -> bool {
        self.bits.get(customer as usize / 64).is_some_and(|w| w & (1 << (customer % 64)) != 0)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The customers, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.bits
            .iter()
            .enumerate()
            .flat_map(|(w, &bits)| (0..64u32).filter(move |b| bits & (1 << b) != 0).map(move |b| w as u32 * 64 + b))
    }
}

impl FromIterator<u32> for CustomerSet {
    fn from_iter<I: IntoIterator<Item = u32>>(customers: I) -> CustomerSet {
        let mut set = CustomerSet::default();
        for c in customers {
            let (word, bit) = (c as usize / 64, 1u64 << (c % 64));
            if set.bits.len() <= word {
                set.bits.resize(word + 1, 0);
            }
            if set.bits[word] & bit == 0 {
                set.bits[word] |= bit;
                set.len += 1;
            }
        }
        set
    }
}

impl Store {
    /// Opens the committed state; an error if nothing was ever imported.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        match Manifest::load(dir)? {
            Some(manifest) => Ok(Store {
                dir: dir.to_path_buf(),
                manifest,
                cancel: Cancel::never(),
                identity: Arc::default(),
                only: None,
                runner: None,
                origin: objects::origin(dir).map(Arc::from),
            }),
            None => Err(StoreError::Empty(dir.display().to_string())),
        }
    }

    /// The same state, read under `cancel`.
    pub fn with_cancel(mut self, cancel: Cancel) -> Store {
        self.cancel = cancel;
        self
    }

    /// The same state, whose folds see only these customers' timelines:
    /// how a segment scopes every analysis.
    pub fn only_customers(mut self, customers: Arc<CustomerSet>) -> Store {
        self.only = Some(customers);
        self
    }

    /// The same state with every customer (for what describes the whole
    /// population, such as the persona fit).
    pub fn all_customers(&self) -> Store {
        Store { only: None, ..self.clone() }
    }

    /// The same state, whose folds run through `runner` (a cluster).
    pub fn with_runner(mut self, runner: Arc<dyn remote::FoldRunner>) -> Store {
        self.runner = Some(runner);
        self
    }

    /// The same state, its folds run over this process's reads.
    pub fn without_runner(&self) -> Store {
        Store { runner: None, ..self.clone() }
    }

    /// Where folds run, when not over this process's reads.
    pub fn fold_runner(&self) -> Option<&Arc<dyn remote::FoldRunner>> {
        self.runner.as_ref()
    }

    /// The customers folds are limited to, if any.
    pub fn customer_filter(&self) -> Option<&CustomerSet> {
        self.only.as_deref()
    }

    /// The reader's cancellation token (for computations between reads).
    pub fn cancel(&self) -> &Cancel {
        &self.cancel
    }

    /// `Err(Cancelled)` once the reader's token is cancelled.
    pub fn check_cancel(&self) -> Result<(), StoreError> {
        Ok(self.cancel.check()?)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The object-store URL the data comes from, when [`dir`](Self::dir)
    /// is its local copy.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn partitions(&self) -> u32 {
        self.manifest.partitions
    }

    pub fn event_names(&self) -> &[String] {
        &self.manifest.event_names
    }

    pub fn channels(&self) -> &[String] {
        &self.manifest.channels
    }

    /// The property names of the events (empty if not yet recorded).
    pub fn property_keys(&self) -> Vec<String> {
        self.manifest.keys.as_ref().map(|k| k.properties.iter().cloned().collect()).unwrap_or_default()
    }

    /// The trait names of identify calls (empty if not yet recorded).
    pub fn trait_keys(&self) -> Vec<String> {
        self.manifest.keys.as_ref().map(|k| k.traits.iter().cloned().collect()).unwrap_or_default()
    }

    pub fn events_total(&self) -> u64 {
        self.manifest.events_total
    }

    /// The code of an event name, if it occurs in the data.
    pub fn event_code(&self, name: &str) -> Option<u32> {
        self.manifest.event_names.iter().position(|n| n == name).map(|i| i as u32)
    }

    /// The identity graph of the committed generation, read from disk the
    /// first time and shared after (for lookups; [`identity`](Self::identity)
    /// gives a graph of one's own).
    pub fn identity_shared(&self) -> Result<Arc<IdentityGraph>, StoreError> {
        if let Some(g) = self.identity.get() {
            return Ok(g.clone());
        }
        let g = Arc::new(self.identity()?);
        Ok(self.identity.get_or_init(|| g).clone())
    }

    /// Loads the identity graph of the committed generation.
    pub fn identity(&self) -> Result<IdentityGraph, StoreError> {
        match self.manifest.identity_file.as_deref() {
            Some(g) => load_identity(&self.dir, g),
            None => Ok(IdentityGraph::new()),
        }
    }
}

/// The exclusive writer lock of a data directory.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

impl DirLock {
    pub(crate) fn acquire(dir: &Path) -> Result<DirLock, StoreError> {
        fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let path = dir.join("LOCK");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        // A lock can look held for an instant after its holder let it go:
        // a process forked by another thread (to run a command) keeps a copy
        // of the descriptor until it executes. A few short retries tell that
        // from a lock another writer really holds.
        for attempt in 0.. {
            match file.try_lock() {
                Ok(()) => return Ok(DirLock { _file: file }),
                Err(fs::TryLockError::WouldBlock) if attempt < LOCK_RETRIES => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(fs::TryLockError::WouldBlock) => return Err(StoreError::Locked(dir.display().to_string())),
                Err(fs::TryLockError::Error(e)) => return Err(StoreError::io(&path, e)),
            }
        }
        unreachable!("the loop returns")
    }
}

/// Retries of a lock that looks held (5 ms apart): see `DirLock::acquire`.
const LOCK_RETRIES: u32 = 20;

pub(crate) fn ids_path(dir: &Path, generation: &str) -> PathBuf {
    dir.join("identity").join(format!("ids-{generation}.parquet"))
}

pub(crate) fn links_path(dir: &Path, generation: &str) -> PathBuf {
    dir.join("identity").join(format!("links-{generation}.parquet"))
}

/// Writes the identity graph as two Parquet files named by `generation`.
pub(crate) fn store_identity(dir: &Path, generation: &str, g: &mut IdentityGraph) -> Result<(), StoreError> {
    let idir = dir.join("identity");
    fs::create_dir_all(&idir).map_err(|e| StoreError::io(&idir, e))?;
    let canon = g.canonical_map().to_vec();
    let g = &*g;
    // The two files are built, encoded and made durable side by side.
    let (ids, links) = rayon::join(|| store_ids(dir, generation, g, &canon), || store_links(dir, generation, g));
    ids.and(links)
}

/// The identities file: each raw identity's key, first sighting and customer.
fn store_ids(dir: &Path, generation: &str, g: &IdentityGraph, canon: &[u32]) -> Result<(), StoreError> {
    let ts_type = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let mut key = StringBuilder::new();
    let mut first_ts = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut first_seq = UInt64Builder::new();
    let mut canonical = UInt32Builder::new();
    for (i, k) in g.keys().iter().enumerate() {
        key.append_value(k);
        let (t, s) = g.first_seen_all()[i];
        first_ts.append_value(t);
        first_seq.append_value(s);
        canonical.append_value(canon[i]);
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("first_seen", ts_type, false),
        Field::new("first_seq", DataType::UInt64, false),
        Field::new("canonical", DataType::UInt32, false),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(key.finish()),
        Arc::new(first_ts.finish()),
        Arc::new(first_seq.finish()),
        Arc::new(canonical.finish()),
    ];
    write_parquet_atomic(&ids_path(dir, generation), schema, cols)
}

/// The links file: every link the graph was built from, in order.
fn store_links(dir: &Path, generation: &str, g: &IdentityGraph) -> Result<(), StoreError> {
    let ts_type = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let mut kind = UInt8Builder::new();
    let mut a = UInt32Builder::new();
    let mut b = UInt32Builder::new();
    let mut prev = StringBuilder::new();
    let mut ts = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut seq = UInt64Builder::new();
    for l in g.links() {
        kind.append_value(l.kind as u8);
        a.append_value(l.a);
        b.append_value(l.b);
        prev.append_option(l.previous.as_deref());
        ts.append_value(l.ts);
        seq.append_value(l.seq);
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("kind", DataType::UInt8, false),
        Field::new("a", DataType::UInt32, false),
        Field::new("b", DataType::UInt32, false),
        Field::new("previous", DataType::Utf8, true),
        Field::new("ts", ts_type, false),
        Field::new("seq", DataType::UInt64, false),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(kind.finish()),
        Arc::new(a.finish()),
        Arc::new(b.finish()),
        Arc::new(prev.finish()),
        Arc::new(ts.finish()),
        Arc::new(seq.finish()),
    ];
    write_parquet_atomic(&links_path(dir, generation), schema, cols)
}

fn write_parquet_atomic(path: &Path, schema: Arc<Schema>, cols: Vec<ArrayRef>) -> Result<(), StoreError> {
    let batch = RecordBatch::try_new(schema.clone(), cols).map_err(|e| StoreError::Internal(e.to_string()))?;
    let part = path.with_extension("parquet.part");
    let file = File::create(&part).map_err(|e| StoreError::io(&part, e))?;
    let mut w = ArrowWriter::try_new(file, schema, None).map_err(|e| StoreError::Internal(e.to_string()))?;
    w.write(&batch).map_err(|e| StoreError::io(&part, std::io::Error::other(e)))?;
    let file = w.into_inner().map_err(|e| StoreError::io(&part, std::io::Error::other(e)))?;
    file.sync_all().map_err(|e| StoreError::io(&part, e))?;
    fs::rename(&part, path).map_err(|e| StoreError::io(path, e))
}

fn read_parquet(path: &Path) -> Result<Vec<RecordBatch>, StoreError> {
    let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.with_batch_size(1 << 20).build())
        .map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?;
    reader.map(|b| b.map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))).collect()
}

pub(crate) fn load_identity(dir: &Path, generation: &str) -> Result<IdentityGraph, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("identity {generation}: {what}"));
    // The two files are read side by side.
    let (ids, link_batches) =
        rayon::join(|| read_parquet(&ids_path(dir, generation)), || read_parquet(&links_path(dir, generation)));
    let (ids, link_batches) = (ids?, link_batches?);
    let mut keys = Vec::new();
    let mut first = Vec::new();
    for b in ids {
        let k = b.column(0).as_string_opt::<i32>().ok_or_else(|| corrupt("key column"))?;
        let t = b.column(1).as_primitive_opt::<TimestampMicrosecondType>().ok_or_else(|| corrupt("first_seen"))?;
        let s = b.column(2).as_primitive_opt::<UInt64Type>().ok_or_else(|| corrupt("first_seq"))?;
        for i in 0..b.num_rows() {
            keys.push(k.value(i).to_string());
            first.push((t.value(i), s.value(i)));
        }
    }
    let mut links = Vec::new();
    for b in link_batches {
        let kind = b.column(0).as_primitive_opt::<UInt8Type>().ok_or_else(|| corrupt("kind"))?;
        let a = b.column(1).as_primitive_opt::<UInt32Type>().ok_or_else(|| corrupt("a"))?;
        let bb = b.column(2).as_primitive_opt::<UInt32Type>().ok_or_else(|| corrupt("b"))?;
        let prev = b.column(3).as_string_opt::<i32>().ok_or_else(|| corrupt("previous"))?;
        let ts = b.column(4).as_primitive_opt::<TimestampMicrosecondType>().ok_or_else(|| corrupt("ts"))?;
        let seq = b.column(5).as_primitive_opt::<UInt64Type>().ok_or_else(|| corrupt("seq"))?;
        for i in 0..b.num_rows() {
            links.push(identity::Link {
                kind: if kind.value(i) == 0 { identity::LinkKind::AnonUser } else { identity::LinkKind::Alias },
                a: a.value(i),
                b: bb.value(i),
                previous: if arrow_array::Array::is_null(prev, i) { None } else { Some(prev.value(i).to_string()) },
                ts: ts.value(i),
                seq: seq.value(i),
            });
        }
    }
    if keys.iter().any(|k| !(k.starts_with(identity::USER_PREFIX) || k.starts_with(identity::ANON_PREFIX))) {
        return Err(corrupt("identity keys without a namespace"));
    }
    Ok(IdentityGraph::from_parts(keys, first, links))
}

/// A stable counting sort of positions by bucket: `order` lists the
/// positions of `bucket_of` (each below `buckets`) bucket by bucket, each
/// bucket's in their order, and bucket `b`'s are
/// `order[bounds[b]..bounds[b + 1]]`. (A writer groups a batch's rows by
/// partition and a batch's keys by dedupe shard this way.)
pub(crate) fn order_by_bucket(bucket_of: &[u32], buckets: usize) -> (Vec<usize>, Vec<u32>) {
    let mut bounds = vec![0usize; buckets + 1];
    for &b in bucket_of {
        bounds[b as usize + 1] += 1;
    }
    for b in 0..buckets {
        bounds[b + 1] += bounds[b];
    }
    let mut next = bounds.clone();
    let mut order = vec![0u32; bucket_of.len()];
    for (i, &b) in bucket_of.iter().enumerate() {
        order[next[b as usize]] = i as u32;
        next[b as usize] += 1;
    }
    (bounds, order)
}

/// The partition of a customer.
pub fn partition_of(customer: u32, partitions: u32) -> u32 {
    customer % partitions.max(1)
}
