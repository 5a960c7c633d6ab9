//! Hot columns: a plain binary copy of the integer columns of a segment,
//! written beside its Parquet file (`sNNNNNNNNNN.hot`), so that the journey
//! folds read timelines at memory speed instead of decoding Parquet.
//!
//! The Parquet segment stays the durable, interoperable record; the hot file
//! is derived from it at write time (and can be rebuilt from it). Layout (header
//! words little-endian, columns in the writing machine's byte order, checked
//! by a marker; every column 8-byte aligned):
//!
//! ```text
//!  header   magic "WFHOT001", endian marker u64, rows u64, timelines u64, revenue rows u64
//!  directory  9 × (offset u64, bytes u64)
//!  customers  u32 × timelines        canonical customer of each timeline
//!  starts     u32 × (timelines + 1)  first row of each timeline, then rows
//!  ts         i64 × rows             µs since the epoch
//!  seq        u64 × rows             arrival order
//!  event      u32 × rows             event code
//!  channel    u32 × rows             channel code, u32::MAX for none
//!  kind       u8  × rows             Segment call type
//!  rev_rows   u32 × revenue rows     rows that carry revenue …
//!  rev_vals   f64 × revenue rows     … and their values
//! ```
//!
//! Reading asks for the columns it needs; the others are never touched.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampMicrosecondType, UInt8Type, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};

use crate::StoreError;
use crate::read::NO_CHANNEL;

const MAGIC: &[u8; 8] = b"WFHOT001";
const ENDIAN: u64 = 0x0102_0304_0506_0708;
const COLUMNS: usize = 9;
const HEADER: u64 = 8 + 8 * 4 + (COLUMNS as u64) * 16;

/// The hot file of a segment's Parquet file.
pub fn hot_path(parquet: &Path) -> PathBuf {
    parquet.with_extension("hot")
}

/// Which hot columns to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HotWant {
    pub ts: bool,
    pub seq: bool,
    pub event: bool,
    pub channel: bool,
    pub kind: bool,
    pub revenue: bool,
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
    for (i, &c) in cv.iter().enumerate() {
        if i == 0 || cv[i - 1] != c {
            customers.push(c);
            starts.push(i as u32);
        }
    }
    starts.push(rows as u32);
    let (mut rev_rows, mut rev_vals) = (Vec::new(), Vec::new());
    for i in 0..rows {
        if revenue.is_valid(i) {
            rev_rows.push(i as u32);
            rev_vals.push(revenue.value(i));
        }
    }
    Ok(HotSegment {
        rows,
        customers,
        starts,
        ts: ts.values().to_vec(),
        seq: seq.values().to_vec(),
        event: event.values().to_vec(),
        channel: (0..rows).map(|i| if channel.is_null(i) { NO_CHANNEL } else { channel.value(i) }).collect(),
        kind: kind.values().to_vec(),
        rev_rows,
        rev_vals,
    })
}

/// Writes the hot file (caller renames it into place); fsyncs.
pub fn write(path: &Path, h: &HotSegment) -> Result<(), StoreError> {
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
    ];
    let file = File::create(path).map_err(io)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    w.write_all(MAGIC).map_err(io)?;
    // Columns are written in the machine's byte order; the marker says which.
    w.write_all(&ENDIAN.to_ne_bytes()).map_err(io)?;
    for v in [h.rows as u64, h.customers.len() as u64, h.rev_rows.len() as u64] {
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
    let file = w.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)
}

/// Reads the requested columns of a hot file.
pub fn read(path: &Path, want: HotWant) -> Result<HotSegment, StoreError> {
    let io = |e: std::io::Error| StoreError::io(path, e);
    let corrupt = |what: &str| StoreError::Corrupt(format!("{}: {what}", path.display()));
    let mut f = File::open(path).map_err(io)?;
    let mut head = [0u8; HEADER as usize];
    f.read_exact(&mut head).map_err(|_| corrupt("truncated header"))?;
    if &head[..8] != MAGIC {
        return Err(corrupt("not a Wayfarer hot file"));
    }
    let word = |i: usize| u64::from_le_bytes(head[8 + i * 8..16 + i * 8].try_into().unwrap_or([0; 8]));
    if u64::from_ne_bytes(head[8..16].try_into().unwrap_or([0; 8])) != ENDIAN {
        return Err(corrupt("written on a machine of another byte order"));
    }
    let (rows, timelines, revenue) = (word(1) as usize, word(2) as usize, word(3) as usize);
    let dir = |c: usize| (word(4 + 2 * c), word(5 + 2 * c));
    let expect =
        [timelines * 4, (timelines + 1) * 4, rows * 8, rows * 8, rows * 4, rows * 4, rows, revenue * 4, revenue * 8];
    for (c, want_len) in expect.iter().enumerate() {
        if dir(c).1 != *want_len as u64 {
            return Err(corrupt("column sizes do not match the row count"));
        }
    }
    let mut h = HotSegment { rows, ..HotSegment::default() };
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
    f.seek(SeekFrom::Start(offset)).map_err(|e| StoreError::io(path, e))?;
    f.read_exact(buf).map_err(|_| StoreError::Corrupt(format!("{}: truncated column", path.display())))?;
    Ok(v)
}
