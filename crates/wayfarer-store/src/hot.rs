//! Hot columns: a plain binary copy of the integer columns of a segment,
//! written beside its Parquet file (`sNNNNNNNNNN.hot`), so that the journey
//! folds read timelines at memory speed instead of decoding Parquet.
//!
//! The Parquet segment stays the durable, interoperable record; the hot file
//! is derived from it at write time (and rebuilt from it when missing or of
//! an older version). Layout (header words little-endian, columns in the
//! writing machine's byte order, checked by a marker; every column 8-byte
//! aligned):
//!
//! ```text
//!  header     magic "WFHOT002", endian marker, rows, timelines, revenue rows,
//!             event codes, posting rows, interactive timelines (u64 each)
//!  directory  12 × (offset u64, bytes u64)
//!  customers  u32 × timelines        canonical customer of each timeline
//!  starts     u32 × (timelines + 1)  first row of each timeline, then rows
//!  ts         i64 × rows             µs since the epoch
//!  seq        u64 × rows             arrival order
//!  event      u32 × rows             event code
//!  channel    u32 × rows             channel code, u32::MAX for none
//!  kind       u8  × rows             Segment call type
//!  rev_rows   u32 × revenue rows     rows that carry revenue …
//!  rev_vals   f64 × revenue rows     … and their values
//!  post_start u32 × (codes + 1)      postings: where each event code's list starts
//!  post_rows  u32 × posting rows     interaction rows of each event code, ascending …
//!  post_ts    i64 × posting rows     … and their timestamps
//! ```
//!
//! The postings are an inverted index of the event column: a query about a
//! few events (a funnel's steps, purchases) reads only their rows.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampMicrosecondType, UInt8Type, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use wayfarer_core::Kind;

use crate::StoreError;
use crate::segment::NO_CHANNEL;

const MAGIC: &[u8; 8] = b"WFHOT002";
const ENDIAN: u64 = 0x0102_0304_0506_0708;
const WORDS: usize = 8;
const COLUMNS: usize = 12;
const HEADER: u64 = 8 + 8 * WORDS as u64 + (COLUMNS as u64) * 16;

/// The hot file of a segment's Parquet file.
pub fn hot_path(parquet: &Path) -> PathBuf {
    parquet.with_extension("hot")
}

/// Which hot columns to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HotWant {
    pub ts: bool,
    pub seq: bool,
    pub event: bool,
    pub channel: bool,
    pub kind: bool,
    pub revenue: bool,
    /// Event codes whose postings to read.
    pub postings: Vec<u32>,
}

/// The hot columns of one segment (unrequested ones are empty).
#[derive(Debug, Clone, Default)]
pub struct HotSegment {
    pub rows: usize,
    pub customers: Vec<u32>,
    pub starts: Vec<u32>,
    pub ts: Vec<i64>,
    pub seq: Vec<u64>,
    pub event: Vec<u32>,
    pub channel: Vec<u32>,
    pub kind: Vec<u8>,
    pub rev_rows: Vec<u32>,
    pub rev_vals: Vec<f64>,
    /// Timelines with at least one interaction row.
    pub interactive: u64,
    pub post_start: Vec<u32>,
    pub post_rows: Vec<u32>,
    pub post_ts: Vec<i64>,
    /// The postings that were read: (event code, rows, timestamps).
    pub postings: Vec<(u32, Vec<u32>, Vec<i64>)>,
}

fn bad(what: &str) -> StoreError {
    StoreError::Corrupt(format!("segment batch without a usable {what} column"))
}

/// Extracts the hot columns of a sorted segment batch.
pub fn from_batch(b: &RecordBatch) -> Result<HotSegment, StoreError> {
    let col = |name: &str| b.column_by_name(name).ok_or_else(|| bad(name));
    let customer = col("customer")?.as_primitive_opt::<UInt32Type>().ok_or_else(|| bad("customer"))?;
    let ts = col("timestamp")?.as_primitive_opt::<TimestampMicrosecondType>().ok_or_else(|| bad("timestamp"))?;
    let seq = col("seq")?.as_primitive_opt::<UInt64Type>().ok_or_else(|| bad("seq"))?;
    let event = col("event_code")?.as_primitive_opt::<UInt32Type>().ok_or_else(|| bad("event_code"))?;
    let channel = col("channel_code")?.as_primitive_opt::<UInt32Type>().ok_or_else(|| bad("channel_code"))?;
    let kind = col("kind_code")?.as_primitive_opt::<UInt8Type>().ok_or_else(|| bad("kind_code"))?;
    let revenue = col("revenue")?.as_primitive_opt::<Float64Type>().ok_or_else(|| bad("revenue"))?;
    let rows = b.num_rows();
    let (mut customers, mut starts) = (Vec::new(), Vec::new());
    let cv = customer.values();
    let kv = kind.values();
    let mut interactive = 0u64;
    for (i, &c) in cv.iter().enumerate() {
        if i == 0 || cv[i - 1] != c {
            customers.push(c);
            starts.push(i as u32);
        }
    }
    starts.push(rows as u32);
    for w in starts.windows(2) {
        if kv[w[0] as usize..w[1] as usize].iter().any(|&k| Kind::code_is_interaction(k)) {
            interactive += 1;
        }
    }
    let (mut rev_rows, mut rev_vals) = (Vec::new(), Vec::new());
    for i in 0..rows {
        if revenue.is_valid(i) {
            rev_rows.push(i as u32);
            rev_vals.push(revenue.value(i));
        }
    }
    // Postings: a counting sort of the interaction rows by event code.
    let ev = event.values();
    let codes = ev.iter().copied().max().map_or(0, |m| m as usize + 1);
    let mut post_start = vec![0u32; codes + 1];
    for (i, &e) in ev.iter().enumerate() {
        if Kind::code_is_interaction(kv[i]) {
            post_start[e as usize + 1] += 1;
        }
    }
    for c in 0..codes {
        post_start[c + 1] += post_start[c];
    }
    let total = post_start[codes] as usize;
    let (mut post_rows, mut post_ts) = (vec![0u32; total], vec![0i64; total]);
    let mut fill = post_start.clone();
    let tv = ts.values();
    for (i, &e) in ev.iter().enumerate() {
        if Kind::code_is_interaction(kv[i]) {
            let at = fill[e as usize] as usize;
            post_rows[at] = i as u32;
            post_ts[at] = tv[i];
            fill[e as usize] += 1;
        }
    }
    Ok(HotSegment {
        rows,
        customers,
        starts,
        ts: tv.to_vec(),
        seq: seq.values().to_vec(),
        event: ev.to_vec(),
        channel: (0..rows).map(|i| if channel.is_null(i) { NO_CHANNEL } else { channel.value(i) }).collect(),
        kind: kv.to_vec(),
        rev_rows,
        rev_vals,
        interactive,
        post_start,
        post_rows,
        post_ts,
        postings: Vec::new(),
    })
}

/// Keeps only what `want` asks for, as [`read`] would return it.
pub fn project(mut h: HotSegment, want: &HotWant) -> HotSegment {
    h.postings = want
        .postings
        .iter()
        .map(|&c| {
            let (a, b) = posting_range(&h.post_start, c);
            (c, h.post_rows[a..b].to_vec(), h.post_ts[a..b].to_vec())
        })
        .collect();
    h.post_rows = Vec::new();
    h.post_ts = Vec::new();
    h
}

fn posting_range(post_start: &[u32], code: u32) -> (usize, usize) {
    let c = code as usize;
    if c + 1 < post_start.len() { (post_start[c] as usize, post_start[c + 1] as usize) } else { (0, 0) }
}

/// Writes the hot file and returns it, not yet synced (the caller syncs it
/// and renames it into place).
pub fn write(path: &Path, h: &HotSegment) -> Result<File, StoreError> {
    let io = |e: std::io::Error| StoreError::io(path, e);
    let parts: [&[u8]; COLUMNS] = [
        bytemuck::cast_slice(&h.customers),
        bytemuck::cast_slice(&h.starts),
        bytemuck::cast_slice(&h.ts),
        bytemuck::cast_slice(&h.seq),
        bytemuck::cast_slice(&h.event),
        bytemuck::cast_slice(&h.channel),
        &h.kind,
        bytemuck::cast_slice(&h.rev_rows),
        bytemuck::cast_slice(&h.rev_vals),
        bytemuck::cast_slice(&h.post_start),
        bytemuck::cast_slice(&h.post_rows),
        bytemuck::cast_slice(&h.post_ts),
    ];
    let file = File::create(path).map_err(io)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    w.write_all(MAGIC).map_err(io)?;
    // Columns are written in the machine's byte order; the marker says which.
    w.write_all(&ENDIAN.to_ne_bytes()).map_err(io)?;
    let codes = h.post_start.len().saturating_sub(1) as u64;
    for v in [
        h.rows as u64,
        h.customers.len() as u64,
        h.rev_rows.len() as u64,
        codes,
        h.post_rows.len() as u64,
        h.interactive,
        0,
    ] {
        w.write_all(&v.to_le_bytes()).map_err(io)?;
    }
    let mut offset = HEADER;
    for p in parts {
        w.write_all(&offset.to_le_bytes()).map_err(io)?;
        w.write_all(&(p.len() as u64).to_le_bytes()).map_err(io)?;
        offset += (p.len() as u64).div_ceil(8) * 8;
    }
    for p in parts {
        w.write_all(p).map_err(io)?;
        let pad = (p.len() as u64).div_ceil(8) * 8 - p.len() as u64;
        w.write_all(&[0u8; 8][..pad as usize]).map_err(io)?;
    }
    w.into_inner().map_err(|e| io(e.into_error()))
}

/// Whether a hot file exists in the current version (older ones are
/// ignored and the columns derived from Parquet instead).
pub fn usable(path: &Path) -> bool {
    let mut magic = [0u8; 8];
    File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == MAGIC
}

/// Reads the requested columns of a hot file.
pub fn read(path: &Path, want: &HotWant) -> Result<HotSegment, StoreError> {
    let io = |e: std::io::Error| StoreError::io(path, e);
    let corrupt = |what: &str| StoreError::Corrupt(format!("{}: {what}", path.display()));
    let mut f = File::open(path).map_err(io)?;
    let mut head = [0u8; HEADER as usize];
    f.read_exact(&mut head).map_err(|_| corrupt("truncated header"))?;
    if &head[..8] != MAGIC {
        return Err(corrupt("not a Wayfarer hot file of this version"));
    }
    if u64::from_ne_bytes(head[8..16].try_into().unwrap_or([0; 8])) != ENDIAN {
        return Err(corrupt("written on a machine of another byte order"));
    }
    let word = |i: usize| u64::from_le_bytes(head[8 + i * 8..16 + i * 8].try_into().unwrap_or([0; 8]));
    let (rows, timelines, revenue) = (word(1) as usize, word(2) as usize, word(3) as usize);
    let (codes, postings, interactive) = (word(4) as usize, word(5) as usize, word(6));
    let dir = |c: usize| (word(WORDS + 2 * c), word(WORDS + 1 + 2 * c));
    let expect = [
        timelines * 4,
        (timelines + 1) * 4,
        rows * 8,
        rows * 8,
        rows * 4,
        rows * 4,
        rows,
        revenue * 4,
        revenue * 8,
        (codes + 1) * 4,
        postings * 4,
        postings * 8,
    ];
    for (c, want_len) in expect.iter().enumerate() {
        if dir(c).1 != *want_len as u64 {
            return Err(corrupt("column sizes do not match the row count"));
        }
    }
    let mut h = HotSegment { rows, interactive, ..HotSegment::default() };
    h.customers = read_col(&mut f, dir(0), timelines, path)?;
    h.starts = read_col(&mut f, dir(1), timelines + 1, path)?;
    if want.ts {
        h.ts = read_col(&mut f, dir(2), rows, path)?;
    }
    if want.seq {
        h.seq = read_col(&mut f, dir(3), rows, path)?;
    }
    if want.event {
        h.event = read_col(&mut f, dir(4), rows, path)?;
    }
    if want.channel {
        h.channel = read_col(&mut f, dir(5), rows, path)?;
    }
    if want.kind {
        h.kind = read_col(&mut f, dir(6), rows, path)?;
    }
    if want.revenue {
        h.rev_rows = read_col(&mut f, dir(7), revenue, path)?;
        h.rev_vals = read_col(&mut f, dir(8), revenue, path)?;
    }
    if !want.postings.is_empty() {
        let post_start: Vec<u32> = read_col(&mut f, dir(9), codes + 1, path)?;
        if post_start.windows(2).any(|w| w[0] > w[1]) || post_start.last().copied() != Some(postings as u32) {
            return Err(corrupt("postings are not in order"));
        }
        let (rows_at, ts_at) = (dir(10).0, dir(11).0);
        for &c in &want.postings {
            let (a, b) = posting_range(&post_start, c);
            let r: Vec<u32> = read_col(&mut f, (rows_at + 4 * a as u64, 4 * (b - a) as u64), b - a, path)?;
            let t: Vec<i64> = read_col(&mut f, (ts_at + 8 * a as u64, 8 * (b - a) as u64), b - a, path)?;
            if r.iter().any(|&x| x as usize >= rows) {
                return Err(corrupt("posting rows out of range"));
            }
            h.postings.push((c, r, t));
        }
    }
    if h.starts.last().copied() != Some(rows as u32) || h.starts.windows(2).any(|w| w[0] > w[1]) {
        return Err(corrupt("timeline starts are not increasing"));
    }
    Ok(h)
}

fn read_col<T: bytemuck::Pod + Default + Clone>(
    f: &mut File,
    (offset, bytes): (u64, u64),
    n: usize,
    path: &Path,
) -> Result<Vec<T>, StoreError> {
    let mut v = vec![T::default(); n];
    let buf: &mut [u8] = bytemuck::cast_slice_mut(&mut v);
    if buf.len() as u64 != bytes {
        return Err(StoreError::Corrupt(format!("{}: column size mismatch", path.display())));
    }
    if n == 0 {
        return Ok(v);
    }
    f.seek(SeekFrom::Start(offset)).map_err(|e| StoreError::io(path, e))?;
    f.read_exact(buf).map_err(|_| StoreError::Corrupt(format!("{}: truncated column", path.display())))?;
    Ok(v)
}
