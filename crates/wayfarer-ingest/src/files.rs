//! Reading files: format detection (by extension or `--format`), CSV, NDJSON
//! (Segment messages, Segment batches, or flat objects, one per line; or a
//! JSON array) and Parquet, decoded in parallel chunks that keep file order.
//!
//! A malformed record becomes a [`Reject`] naming the file, line, field and
//! reason, and reading goes on. A file that cannot be read at all (missing,
//! binary, truncated Parquet, no required columns) is an [`ImportError`].

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;
use wayfarer_core::{ErrorCode, Event};

use crate::decode::{Cell, Decoder, FieldError, Role, clip};
use crate::segment;

/// Bytes sampled from the start of a text file to check it.
const HEAD_BYTES: usize = 16 * 1024;

/// Rows decoded per chunk handed to the sink.
pub const CHUNK_ROWS: usize = 64 * 1024;
/// Rows one decoding task takes: a chunk is decoded in pieces of this many.
pub const PIECE_ROWS: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Ndjson,
    Parquet,
}

impl Format {
    /// The format implied by a file name's extension.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "csv" | "tsv" | "txt" => Format::Csv,
            "ndjson" | "jsonl" | "json" => Format::Ndjson,
            "parquet" | "pq" => Format::Parquet,
            _ => return None,
        })
    }

    pub fn parse(s: &str) -> Option<Format> {
        Some(match s.to_ascii_lowercase().as_str() {
            "csv" | "tsv" => Format::Csv,
            "ndjson" | "jsonl" | "json" => Format::Ndjson,
            "parquet" => Format::Parquet,
            _ => return None,
        })
    }
}

/// One rejected record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reject {
    pub file: String,
    /// 1-based line (CSV/NDJSON; the CSV header is line 1) or row (Parquet).
    pub line: u64,
    /// Position inside a Segment batch on that line, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    pub field: String,
    pub reason: String,
    /// The stable error code (as the HTTP API reports it).
    pub code: ErrorCode,
    /// The record as read (clipped), so it can be fixed and re-imported.
    pub raw: String,
}

impl Reject {
    /// The reject of a record whose decoding failed.
    pub fn of(file: &str, line: u64, index: Option<u32>, e: FieldError, raw: String) -> Reject {
        Reject { file: file.to_string(), line, index, field: e.field, reason: e.reason, code: e.code, raw }
    }
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if let Some(i) = self.index {
            write!(f, " [message {i}]")?;
        }
        write!(f, ": {}: {}", self.field, self.reason)
    }
}

/// What the events of a piece are gathered into as they are decoded. Each
/// decoded event is handed to `push`, which may drop it there and then, so
/// a decoding task holds one event at a time rather than its piece's (the
/// import builds the store's columns; [`Listed`] keeps the events).
pub trait Gather: Sync {
    /// A piece's events, gathered.
    type Piece: Send;
    /// A piece being gathered.
    type Builder;
    /// A builder for about `rows` events.
    fn start(&self, rows: usize) -> Self::Builder;
    fn push(&self, builder: &mut Self::Builder, event: Event);
    /// Takes an event the decoder goes on to reuse (a flat file's rows are
    /// decoded one after the other into the same event).
    fn push_ref(&self, builder: &mut Self::Builder, event: &Event) {
        self.push(builder, event.clone());
    }
    fn finish(&self, builder: Self::Builder) -> Self::Piece;
    /// Gives events of a gathered piece other ids: (place in the piece, id).
    fn rename(&self, piece: &mut Self::Piece, renamed: &[(usize, String)]);
}

/// Gathers the events themselves.
pub struct Listed;

impl Gather for Listed {
    type Piece = Vec<Event>;
    type Builder = Vec<Event>;

    fn start(&self, rows: usize) -> Vec<Event> {
        Vec::with_capacity(rows)
    }

    fn push(&self, builder: &mut Vec<Event>, event: Event) {
        builder.push(event);
    }

    fn finish(&self, builder: Vec<Event>) -> Vec<Event> {
        builder
    }

    fn rename(&self, piece: &mut Vec<Event>, renamed: &[(usize, String)]) {
        for (i, id) in renamed {
            piece[*i].event_id.clone_from(id);
        }
    }
}

/// Decoded records in file order.
#[derive(Debug)]
pub struct Chunk<P = Vec<Event>> {
    /// The events, in pieces of at most [`PIECE_ROWS`] rows (each decoded
    /// by one task, so the next stage can take them a piece at a time).
    pub pieces: Vec<P>,
    /// Per piece, its events whose id was made from their content: (place
    /// in the piece, id); the file's later copies of a row get ":1", ":2"….
    generated: Vec<Vec<(usize, String)>>,
    /// How many events the pieces hold.
    events: usize,
    pub rejects: Vec<Reject>,
    /// How far into the file reading has got, in bytes (for progress).
    pub position: u64,
}

impl<P> Default for Chunk<P> {
    fn default() -> Self {
        Chunk { pieces: Vec::new(), generated: Vec::new(), events: 0, rejects: Vec::new(), position: 0 }
    }
}

impl<P> Chunk<P> {
    /// How many events.
    pub fn len(&self) -> usize {
        self.events
    }

    pub fn is_empty(&self) -> bool {
        self.events == 0
    }
}

impl Chunk<Vec<Event>> {
    /// The events in file order.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.pieces.iter().flatten()
    }
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct FileStats {
    pub records: u64,
    pub decoded: u64,
    pub rejected: u64,
}

/// A file that cannot be imported at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: cannot read: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("{file}: unknown format (extension not .csv, .ndjson, .jsonl, .json or .parquet); name it with --format")]
    UnknownFormat { file: String },
    #[error(
        "{file}: missing required column '{column}' (columns found: {found}); flat files need customer_id, timestamp and event"
    )]
    MissingColumn { file: String, column: String, found: String },
    #[error("{0}")]
    Sink(String),
}

impl ImportError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ImportError::Unreadable { .. } | ImportError::MissingColumn { .. } => ErrorCode::UnreadableFile,
            ImportError::UnknownFormat { .. } => ErrorCode::UnknownFormat,
            ImportError::Sink(_) => ErrorCode::Internal,
        }
    }
}

fn unreadable(file: &str, reason: impl std::fmt::Display) -> ImportError {
    ImportError::Unreadable { file: file.to_string(), reason: reason.to_string() }
}

/// Checks a file can be read as the given format without decoding it all:
/// it exists, is not binary (for text formats), has a readable header or
/// footer and the required columns. Used to refuse an import before anything
/// is written.
pub fn check_file(path: &Path, format: Format) -> Result<(), ImportError> {
    let name = path.display().to_string();
    match format {
        Format::Csv => {
            let head = read_head(path, &name)?;
            let delim = detect_delimiter(&head);
            let names = csv_header(&head, delim);
            if names.is_empty() {
                return Err(unreadable(&name, "empty file (no header line)"));
            }
            let roles: Vec<Role> = names.iter().map(|n| Role::of(n)).collect();
            if let Some(col) = Role::missing_required(&roles) {
                return Err(ImportError::MissingColumn { file: name, column: col.into(), found: names.join(", ") });
            }
            Ok(())
        }
        Format::Ndjson => {
            let head = read_head(path, &name)?;
            if head.iter().all(|b| b.is_ascii_whitespace()) {
                return Err(unreadable(&name, "empty file"));
            }
            Ok(())
        }
        Format::Parquet => {
            let file = File::open(path).map_err(|e| unreadable(&name, e))?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file)
                .map_err(|e| unreadable(&name, format!("not a readable Parquet file: {e}")))?;
            let names: Vec<String> = builder.schema().fields().iter().map(|f| f.name().clone()).collect();
            let roles: Vec<Role> = names.iter().map(|n| Role::of(n)).collect();
            if let Some(col) = Role::missing_required(&roles) {
                return Err(ImportError::MissingColumn { file: name, column: col.into(), found: names.join(", ") });
            }
            Ok(())
        }
    }
}

/// Reads and decodes a whole file, handing chunks to `sink` in file order,
/// their events gathered by `gather`.
pub fn read_file<G, F>(
    path: &Path,
    format: Format,
    decoder: &Decoder,
    gather: &G,
    mut sink: F,
) -> Result<FileStats, ImportError>
where
    G: Gather,
    F: FnMut(Chunk<G::Piece>) -> Result<(), String>,
{
    check_file(path, format)?;
    let name = path.display().to_string();
    let before = Snapshot::of(path, &name)?;
    let mut stats = FileStats::default();
    // Rows without an id get a hash of their content; identical rows in one
    // file (two equal purchases on the same day) are distinct events, so the
    // second gets ":1", the third ":2"… — the same on every re-import.
    let mut seen: std::collections::HashMap<u128, u32> = std::collections::HashMap::new();
    let mut emit = |mut chunk: Chunk<G::Piece>, records: u64| -> Result<(), ImportError> {
        for (piece, generated) in chunk.pieces.iter_mut().zip(&chunk.generated) {
            let mut renamed = Vec::new();
            for (i, id) in generated {
                let n = seen.entry(xxhash_rust::xxh3::xxh3_128(id.as_bytes())).or_insert(0);
                if *n > 0 {
                    renamed.push((*i, format!("{id}:{n}")));
                }
                *n += 1;
            }
            if !renamed.is_empty() {
                gather.rename(piece, &renamed);
            }
        }
        stats.records += records;
        stats.decoded += chunk.len() as u64;
        stats.rejected += chunk.rejects.len() as u64;
        sink(chunk).map_err(ImportError::Sink)
    };
    let reading = Reading { path, name: &name, decoder, gather };
    match format {
        Format::Csv => read_csv(&reading, &mut emit)?,
        Format::Ndjson => read_ndjson(&reading, &mut emit)?,
        Format::Parquet => read_parquet(&reading, &mut emit)?,
    }
    // A file truncated, rewritten or appended to while it was read gave a
    // part of itself: refuse it rather than import that part silently.
    let after = Snapshot::of(path, &name)?;
    if after != before {
        return Err(unreadable(
            &name,
            format!(
                "the file changed while it was being read ({} bytes when the import started, {} bytes now); \
                 import it again once it is complete",
                before.len, after.len
            ),
        ));
    }
    Ok(stats)
}

/// About how many records a file holds, to size the import's structures:
/// exact for Parquet (its footer says), else the file's size over the
/// length of the lines at its start (taking no record to be shorter than
/// 32 bytes); None if the file cannot be read.
pub fn estimate_records(path: &Path, format: Format) -> Option<u64> {
    let name = path.display().to_string();
    match format {
        Format::Parquet => {
            let file = File::open(path).ok()?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).ok()?;
            u64::try_from(builder.metadata().file_metadata().num_rows()).ok()
        }
        Format::Csv | Format::Ndjson => {
            let size = std::fs::metadata(path).ok()?.len();
            let head = read_head(path, &name).ok()?;
            let lines = head.iter().filter(|&&b| b == b'\n').count().max(1) as u64;
            // Short lines at the start do not make every record short.
            Some((size * lines / (head.len() as u64).max(1)).min(size / 32))
        }
    }
}

/// A file's size and modification time, to notice it changing under us.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Snapshot {
    fn of(path: &Path, name: &str) -> Result<Snapshot, ImportError> {
        let m = std::fs::metadata(path).map_err(|e| unreadable(name, e))?;
        Ok(Snapshot { len: m.len(), modified: m.modified().ok() })
    }
}

/// What a format's reader is given: the file, its name in messages, the
/// decoder, and what the events are gathered into.
struct Reading<'a, G> {
    path: &'a Path,
    name: &'a str,
    decoder: &'a Decoder,
    gather: &'a G,
}

type Emit<'a, P> = dyn FnMut(Chunk<P>, u64) -> Result<(), ImportError> + 'a;

fn read_head(path: &Path, name: &str) -> Result<Vec<u8>, ImportError> {
    let mut file = File::open(path).map_err(|e| unreadable(name, e))?;
    let mut head = vec![0u8; HEAD_BYTES];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(unreadable(name, e)),
        }
    }
    head.truncate(n);
    if head.contains(&0) {
        return Err(unreadable(name, "binary data (NUL bytes); expected text"));
    }
    // A stray invalid byte only costs its line (rejected, with its line
    // number); a file whose lines are mostly not UTF-8 is another encoding.
    let lines: Vec<&[u8]> = head.split(|&b| b == b'\n').collect();
    // The sample's last line may be cut off (and a character with it).
    let whole = if n == HEAD_BYTES { lines.len().saturating_sub(1) } else { lines.len() };
    let bad: Vec<(usize, usize)> = lines[..whole]
        .iter()
        .enumerate()
        .filter_map(|(i, l)| std::str::from_utf8(l).err().map(|e| (i + 1, e.valid_up_to() + 1)))
        .collect();
    if whole > 0 && bad.len() * 2 > whole {
        let (line, column) = bad[0];
        return Err(unreadable(
            name,
            format!(
                "not UTF-8 text: {} of the first {whole} lines have invalid bytes (line {line}, column {column} is the first); \
                 convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)",
                bad.len()
            ),
        ));
    }
    Ok(head)
}

fn detect_delimiter(head: &[u8]) -> u8 {
    let first = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
    [b',', b'\t', b';', b'|'].into_iter().max_by_key(|d| first.iter().filter(|b| *b == d).count()).unwrap_or(b',')
}

fn csv_header(head: &[u8], delim: u8) -> Vec<String> {
    let mut rdr = csv::ReaderBuilder::new().delimiter(delim).has_headers(false).from_reader(head);
    let mut rec = csv::ByteRecord::new();
    match rdr.read_byte_record(&mut rec) {
        Ok(true) => rec
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let s = String::from_utf8_lossy(f);
                let s = if i == 0 { s.trim_start_matches('\u{feff}').to_string() } else { s.to_string() };
                s.trim().to_string()
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn read_csv<G: Gather>(reading: &Reading<'_, G>, emit: &mut Emit<'_, G::Piece>) -> Result<(), ImportError> {
    let Reading { path, name, decoder, gather } = *reading;
    let head = read_head(path, name)?;
    let delim = detect_delimiter(&head);
    let names = csv_header(&head, delim);
    let roles: Vec<Role> = names.iter().map(|n| Role::of(n)).collect();
    let file = File::open(path).map_err(|e| unreadable(name, e))?;
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delim)
        .has_headers(true)
        .flexible(true)
        .from_reader(BufReader::with_capacity(1 << 20, file));
    let mut batch: Vec<(u64, csv::ByteRecord)> = Vec::with_capacity(CHUNK_ROWS);
    loop {
        let mut rec = csv::ByteRecord::new();
        let more = rdr.read_byte_record(&mut rec).map_err(|e| unreadable(name, e))?;
        if more {
            let line = rec.position().map_or(0, |p| p.line());
            batch.push((line, rec));
        }
        if batch.len() >= CHUNK_ROWS || (!more && !batch.is_empty()) {
            let rows = std::mem::take(&mut batch);
            let n = rows.len() as u64;
            let mut chunk = decode_rows(gather, rows.len(), |range, out| {
                // One event and one row's cells at a time, reused.
                let mut e = Event::new(String::new(), 0, String::new());
                let mut cells = Vec::with_capacity(names.len());
                for (line, rec) in &rows[range] {
                    let row = CsvRow { file: name, line: *line, rec, delim };
                    match row.decode(decoder, &roles, &names, &mut cells, &mut e) {
                        Ok(()) => out.take_ref(&e),
                        Err(r) => out.reject(r),
                    }
                }
            });
            chunk.position = rdr.position().byte();
            emit(chunk, n)?;
        }
        if !more {
            return Ok(());
        }
    }
}

/// One record of a CSV file and where it is.
struct CsvRow<'r> {
    file: &'r str,
    line: u64,
    rec: &'r csv::ByteRecord,
    delim: u8,
}

impl<'r> CsvRow<'r> {
    /// Decodes the record into `e` (see [`Decoder::decode_flat_into`]),
    /// its fields read into `cells`.
    fn decode(
        &self,
        decoder: &Decoder,
        roles: &[Role],
        names: &[String],
        cells: &mut Vec<Cell<'r>>,
        e: &mut Event,
    ) -> Result<(), Reject> {
        let reject = |err: FieldError| {
            Reject::of(self.file, self.line, None, err, clip(&raw_csv(self.rec, self.delim), 1000).into_owned())
        };
        if self.rec.len() != names.len() {
            return Err(reject(FieldError::new(
                "(row)",
                format!("expected {} fields ({}), found {}", names.len(), names.join(","), self.rec.len()),
            )));
        }
        cells.clear();
        for (i, f) in self.rec.iter().enumerate() {
            match std::str::from_utf8(f) {
                Ok(s) => cells.push(Cell::Text(Cow::Borrowed(s))),
                Err(_) => return Err(reject(FieldError::new(&names[i], "not valid UTF-8 text"))),
            }
        }
        decoder.decode_flat_into(e, roles, names, cells).map_err(reject)
    }
}

fn raw_csv(rec: &csv::ByteRecord, delim: u8) -> String {
    let parts: Vec<Cow<'_, str>> = rec.iter().map(String::from_utf8_lossy).collect();
    parts.join(&(delim as char).to_string())
}

/// Decodes rows `0..n` in parallel, a piece of [`PIECE_ROWS`] per task,
/// straight into the chunk's pieces and rejects (both in file order).
/// `decode` turns a range of rows, in order, into events (a Segment batch
/// line is several) and rejects, handing each to `out`.
fn decode_rows<G, F>(gather: &G, n: usize, decode: F) -> Chunk<G::Piece>
where
    G: Gather,
    F: Fn(std::ops::Range<usize>, &mut Out<'_, G>) + Sync,
{
    let pieces: Vec<Decoded<G::Piece>> = (0..n.div_ceil(PIECE_ROWS))
        .into_par_iter()
        .map(|p| {
            let rows = p * PIECE_ROWS..((p + 1) * PIECE_ROWS).min(n);
            let mut out = Out {
                gather,
                builder: gather.start(rows.len()),
                events: 0,
                generated: Vec::new(),
                rejects: Vec::new(),
            };
            decode(rows, &mut out);
            Decoded {
                piece: gather.finish(out.builder),
                events: out.events,
                generated: out.generated,
                rejects: out.rejects,
            }
        })
        .collect();
    let mut chunk = Chunk::default();
    for d in pieces {
        chunk.rejects.extend(d.rejects);
        if d.events > 0 {
            chunk.events += d.events;
            chunk.generated.push(d.generated);
            chunk.pieces.push(d.piece);
        }
    }
    chunk
}

/// What one decoding task made of its rows.
struct Decoded<P> {
    piece: P,
    events: usize,
    generated: Vec<(usize, String)>,
    rejects: Vec<Reject>,
}

/// Where one decoding task's records go: events to its piece, rejects to
/// their list.
struct Out<'g, G: Gather> {
    gather: &'g G,
    builder: G::Builder,
    events: usize,
    generated: Vec<(usize, String)>,
    rejects: Vec<Reject>,
}

impl<G: Gather> Out<'_, G> {
    /// Takes one decoded record.
    fn take(&mut self, decoded: Result<Event, Reject>) {
        match decoded {
            Ok(e) => {
                self.generated_id(&e);
                self.gather.push(&mut self.builder, e);
                self.events += 1;
            }
            Err(r) => self.rejects.push(r),
        }
    }

    /// Takes one decoded event the decoder goes on to reuse.
    fn take_ref(&mut self, e: &Event) {
        self.generated_id(e);
        self.gather.push_ref(&mut self.builder, e);
        self.events += 1;
    }

    /// Notes the event about to be taken when its id was made from its content.
    fn generated_id(&mut self, e: &Event) {
        if e.event_id.starts_with(crate::decode::GENERATED_ID_PREFIX) {
            self.generated.push((self.events, e.event_id.clone()));
        }
    }

    fn reject(&mut self, r: Reject) {
        self.rejects.push(r);
    }
}

fn read_ndjson<G: Gather>(reading: &Reading<'_, G>, emit: &mut Emit<'_, G::Piece>) -> Result<(), ImportError> {
    let Reading { path, name, decoder, gather } = *reading;
    let head = read_head(path, name)?;
    let file = File::open(path).map_err(|e| unreadable(name, e))?;
    let reader = BufReader::with_capacity(1 << 20, file);
    if head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        // A JSON array of records.
        let all: Vec<Value> = serde_json::from_reader(reader)
            .map_err(|e| unreadable(name, format!("a JSON array that does not parse: {e}")))?;
        let n = all.len() as u64;
        let mut chunk = decode_rows(gather, all.len(), |range, out| {
            for i in range {
                out.take(decode_json_record(decoder, name, (i + 1) as u64, None, &all[i]));
            }
        });
        chunk.position = std::fs::metadata(path).map_or(0, |m| m.len());
        emit(chunk, n)?;
        return Ok(());
    }
    let mut lines = Lines::new(reader);
    loop {
        let (block, position) = lines.next_block(CHUNK_ROWS).map_err(|e| unreadable(name, e))?;
        let Some(block) = block else { return Ok(()) };
        let count = block.lines.len() as u64;
        let mut chunk = decode_rows(gather, block.lines.len(), |rows, out| {
            for (line, range) in &block.lines[rows] {
                decode_ndjson_line(decoder, name, *line, &block.text[range.clone()], out);
            }
        });
        chunk.position = position;
        lines.recycle(block.text);
        emit(chunk, count)?;
    }
}

/// The non-blank lines of a block of an NDJSON file: their numbers and
/// where each lies in the block's text.
struct Block {
    text: Vec<u8>,
    lines: Vec<(u64, std::ops::Range<usize>)>,
}

/// Reads an NDJSON file in blocks of whole lines (one read buffer per
/// block, not one allocation per line).
struct Lines<R> {
    reader: R,
    /// Bytes read after the last line of the previous block.
    rest: Vec<u8>,
    line_no: u64,
    /// File offset of the end of the last block's last line.
    position: u64,
    done: bool,
    /// A block's buffer, to read the next block into.
    spare: Vec<u8>,
    /// How much to read at a time (at least; twice a partial line).
    read_size: usize,
}

impl<R: std::io::Read> Lines<R> {
    fn new(reader: R) -> Lines<R> {
        Lines { reader, rest: Vec::new(), line_no: 0, position: 0, done: false, spare: Vec::new(), read_size: 8 << 20 }
    }

    /// Takes back a block's buffer once its lines are decoded.
    fn recycle(&mut self, mut text: Vec<u8>) {
        text.clear();
        self.spare = text;
    }

    /// The next block of at most `max_lines` non-blank lines (fewer at the
    /// end of the file; `None` after it) and the file offset it ends at.
    fn next_block(&mut self, max_lines: usize) -> std::io::Result<(Option<Block>, u64)> {
        let mut text = std::mem::take(&mut self.spare);
        text.extend_from_slice(&self.rest);
        let mut lines = Vec::with_capacity(max_lines.min(1 << 16));
        let mut start = 0;
        let mut scanned = 0;
        loop {
            // Take the complete lines read so far.
            while lines.len() < max_lines {
                let Some(nl) = memchr::memchr(b'\n', &text[scanned..]) else {
                    scanned = text.len();
                    break;
                };
                let end = scanned + nl + 1;
                self.line_no += 1;
                if !text[start..end].iter().all(u8::is_ascii_whitespace) {
                    lines.push((self.line_no, start..end));
                }
                self.position += (end - start) as u64;
                start = end;
                scanned = end;
            }
            if lines.len() >= max_lines {
                break;
            }
            if self.done {
                // The last line may lack its newline.
                if start < text.len() {
                    self.line_no += 1;
                    if !text[start..].iter().all(u8::is_ascii_whitespace) {
                        lines.push((self.line_no, start..text.len()));
                    }
                    self.position += (text.len() - start) as u64;
                    start = text.len();
                }
                break;
            }
            // Read more: 8 MB at a time, more for a longer line.
            let want = self.read_size.max((text.len() - start) * 2);
            text.reserve(want);
            let n = (&mut self.reader).take(want as u64).read_to_end(&mut text)?;
            self.done = n < want;
        }
        self.rest.clear();
        self.rest.extend_from_slice(&text[start..]);
        text.truncate(start);
        Ok((if lines.is_empty() { None } else { Some(Block { text, lines }) }, self.position))
    }
}

fn decode_ndjson_line<G: Gather>(decoder: &Decoder, file: &str, line: u64, bytes: &[u8], out: &mut Out<'_, G>) {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            out.reject(Reject {
                file: file.to_string(),
                line,
                index: None,
                field: "(text)".to_string(),
                reason: format!("not valid UTF-8: an invalid byte at column {}", e.valid_up_to() + 1),
                code: ErrorCode::InvalidJson,
                raw: clip(String::from_utf8_lossy(bytes).trim_end(), 1000).into_owned(),
            });
            return;
        }
    };
    // Nearly every line is one track, page or screen message.
    if let Some(e) = crate::typed::decode_line(decoder, text) {
        out.take(Ok(e));
        return;
    }
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            out.reject(Reject {
                file: file.to_string(),
                line,
                index: None,
                field: "(json)".to_string(),
                reason: format!("invalid JSON: {e}"),
                code: ErrorCode::InvalidJson,
                raw: clip(text.trim_end(), 1000).into_owned(),
            });
            return;
        }
    };
    match v {
        Value::Object(obj) if segment::is_batch(&obj) => match segment::batch_messages(obj) {
            // A Segment batch envelope: its context, integrations and sentAt apply to each message.
            Ok(batch) => {
                for (i, m) in batch.iter().enumerate() {
                    out.take(decode_json_record(decoder, file, line, u32::try_from(i).ok(), m));
                }
            }
            Err(r) => out.reject(Reject {
                file: file.to_string(),
                line,
                index: None,
                field: "batch".to_string(),
                reason: r.message,
                code: r.code,
                raw: clip(text.trim_end(), 1000).into_owned(),
            }),
        },
        v => out.take(decode_json_record(decoder, file, line, None, &v)),
    }
}

fn decode_json_record(
    decoder: &Decoder,
    file: &str,
    line: u64,
    index: Option<u32>,
    v: &Value,
) -> Result<Event, Reject> {
    decoder.decode_json(v).map_err(|e| Reject::of(file, line, index, e, clip(&v.to_string(), 1000).into_owned()))
}

fn read_parquet<G: Gather>(reading: &Reading<'_, G>, emit: &mut Emit<'_, G::Piece>) -> Result<(), ImportError> {
    let Reading { path, name, decoder, gather } = *reading;
    let file = File::open(path).map_err(|e| unreadable(name, e))?;
    let size = file.metadata().map_or(0, |m| m.len());
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| unreadable(name, format!("not a readable Parquet file: {e}")))?;
    let total_rows = builder.metadata().file_metadata().num_rows().max(1) as u64;
    let reader = builder.with_batch_size(CHUNK_ROWS).build().map_err(|e| unreadable(name, e))?;
    let mut row0 = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| unreadable(name, format!("corrupt Parquet data: {e}")))?;
        let n = batch.num_rows();
        let mut chunk = decode_record_batch(decoder, gather, name, row0, &batch);
        row0 += n as u64;
        chunk.position = size * row0 / total_rows;
        emit(chunk, n as u64)?;
    }
    Ok(())
}

/// Decodes the rows of an Arrow record batch (flat columns recognised by
/// name); `row0` is the 0-based index of its first row in the file.
pub fn decode_record_batch<G: Gather>(
    decoder: &Decoder,
    gather: &G,
    file: &str,
    row0: u64,
    batch: &RecordBatch,
) -> Chunk<G::Piece> {
    let schema = batch.schema();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let roles: Vec<Role> = names.iter().map(|n| Role::of(n)).collect();
    let cols: Vec<ColumnView<'_>> = batch.columns().iter().map(ColumnView::new).collect();
    decode_rows(gather, batch.num_rows(), |rows, out| {
        // One event and one row's cells at a time, reused.
        let mut e = Event::new(String::new(), 0, String::new());
        let mut cells: Vec<Cell<'_>> = Vec::with_capacity(cols.len());
        for row in rows {
            cells.clear();
            cells.extend(cols.iter().map(|c| c.cell(row)));
            match decoder.decode_flat_into(&mut e, &roles, &names, &cells) {
                Ok(()) => out.take_ref(&e),
                Err(err) => out.reject(Reject::of(
                    file,
                    row0 + row as u64 + 1,
                    None,
                    err,
                    clip(&raw_row(&names, &cells), 1000).into_owned(),
                )),
            }
        }
    })
}

fn raw_row(names: &[String], cells: &[Cell<'_>]) -> String {
    let mut m = serde_json::Map::new();
    for (n, c) in names.iter().zip(cells) {
        let v = match c {
            Cell::Null => Value::Null,
            Cell::Text(s) => Value::String(s.to_string()),
            Cell::Num(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Cell::Int(i) => Value::from(*i),
            Cell::Bool(b) => Value::Bool(*b),
            Cell::Time(t) => Value::String(wayfarer_core::time::format_rfc3339(*t)),
            Cell::Json(v) => (*v).clone(),
        };
        m.insert(n.clone(), v);
    }
    Value::Object(m).to_string()
}

/// A typed view of one Arrow column, resolved once per batch.
struct ColumnView<'a> {
    array: &'a dyn Array,
    /// Whether any row is null (else no row's validity is looked up).
    nullable: bool,
    values: Values<'a>,
}

/// A column's values, by type.
enum Values<'a> {
    Utf8(&'a arrow_array::StringArray),
    LargeUtf8(&'a arrow_array::LargeStringArray),
    Utf8View(&'a arrow_array::StringViewArray),
    /// A dictionary's keys (as positions) and values.
    Dictionary(Vec<usize>, &'a arrow_array::StringArray),
    Int(Vec<i64>),
    Float(Vec<f64>),
    Bool(&'a arrow_array::BooleanArray),
    Time(Vec<i64>),
    Unsupported,
}

impl<'a> ColumnView<'a> {
    fn new(a: &'a ArrayRef) -> ColumnView<'a> {
        let array: &'a dyn Array = a.as_ref();
        ColumnView { array, nullable: array.null_count() > 0, values: Values::of(array) }
    }

    fn cell(&self, i: usize) -> Cell<'a> {
        if self.nullable && !self.array.is_valid(i) {
            return Cell::Null;
        }
        match &self.values {
            Values::Utf8(s) => Cell::Text(Cow::Borrowed(s.value(i))),
            Values::LargeUtf8(s) => Cell::Text(Cow::Borrowed(s.value(i))),
            Values::Utf8View(s) => Cell::Text(Cow::Borrowed(s.value(i))),
            Values::Dictionary(keys, values) => Cell::Text(Cow::Borrowed(values.value(keys[i]))),
            Values::Int(v) => Cell::Int(v[i]),
            Values::Float(v) => Cell::Num(v[i]),
            Values::Bool(a) => Cell::Bool(a.value(i)),
            Values::Time(v) => Cell::Time(v[i]),
            Values::Unsupported => Cell::Null,
        }
    }
}

impl<'a> Values<'a> {
    fn of(arr: &'a dyn Array) -> Values<'a> {
        macro_rules! ints {
            ($t:ty) => {
                Values::Int(arr.as_primitive::<$t>().values().iter().map(|v| *v as i64).collect())
            };
        }
        match arr.data_type() {
            DataType::Utf8 => Values::Utf8(arr.as_string::<i32>()),
            DataType::LargeUtf8 => Values::LargeUtf8(arr.as_string::<i64>()),
            DataType::Utf8View => Values::Utf8View(arr.as_string_view()),
            DataType::Dictionary(_, v) if matches!(v.as_ref(), DataType::Utf8) => {
                let Some(d) = arr.as_any_dictionary_opt() else {
                    return Values::Unsupported;
                };
                Values::Dictionary(d.normalized_keys(), d.values().as_string::<i32>())
            }
            DataType::Int8 => ints!(Int8Type),
            DataType::Int16 => ints!(Int16Type),
            DataType::Int32 => ints!(Int32Type),
            DataType::Int64 => ints!(Int64Type),
            DataType::UInt8 => ints!(UInt8Type),
            DataType::UInt16 => ints!(UInt16Type),
            DataType::UInt32 => ints!(UInt32Type),
            DataType::UInt64 => ints!(UInt64Type),
            DataType::Float32 => {
                Values::Float(arr.as_primitive::<Float32Type>().values().iter().map(|v| *v as f64).collect())
            }
            DataType::Float64 => Values::Float(arr.as_primitive::<Float64Type>().values().to_vec()),
            DataType::Boolean => Values::Bool(arr.as_boolean()),
            DataType::Timestamp(unit, _) => {
                let per = match unit {
                    TimeUnit::Second => 1_000_000i64,
                    TimeUnit::Millisecond => 1_000,
                    TimeUnit::Microsecond => 1,
                    TimeUnit::Nanosecond => -1_000,
                };
                let raw = arr.to_data();
                let values = raw.buffers().first().map(|b| b.typed_data::<i64>().to_vec()).unwrap_or_default();
                let values = values
                    .iter()
                    .skip(raw.offset())
                    .take(arr.len())
                    .map(|v| if per > 0 { v.saturating_mul(per) } else { v / -per })
                    .collect();
                Values::Time(values)
            }
            DataType::Date32 => Values::Time(
                arr.as_primitive::<arrow_array::types::Date32Type>()
                    .values()
                    .iter()
                    .map(|d| *d as i64 * wayfarer_core::time::MICROS_PER_DAY)
                    .collect(),
            ),
            _ => Values::Unsupported,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::ChannelDeriver;
    use std::io::Write;

    fn decoder() -> Decoder {
        Decoder::new(ChannelDeriver::default(), 1_767_225_600_000_000)
    }

    fn collect(path: &Path, format: Format) -> Result<(Vec<Event>, Vec<Reject>), ImportError> {
        let mut events = Vec::new();
        let mut rejects = Vec::new();
        read_file(path, format, &decoder(), &Listed, |c| {
            events.extend(c.pieces.into_iter().flatten());
            rejects.extend(c.rejects);
            Ok(())
        })?;
        Ok((events, rejects))
    }

    #[test]
    fn records_are_counted_in_parquet_and_estimated_in_text() {
        let dir = tempfile::tempdir().unwrap();
        let nd = dir.path().join("e.ndjson");
        let mut f = File::create(&nd).unwrap();
        for i in 0..5_000 {
            writeln!(f, r#"{{"customer_id":"c{i}","timestamp":"2026-01-01T00:00:00Z","event":"Page Viewed"}}"#)
                .unwrap();
        }
        drop(f);
        let est = estimate_records(&nd, Format::Ndjson).unwrap();
        assert!((4_500..=5_500).contains(&est), "{est}");
        // Short lines at the start: no record is taken to be under 32 bytes.
        let skewed = dir.path().join("s.csv");
        let mut f = File::create(&skewed).unwrap();
        writeln!(f, "a").unwrap();
        for _ in 0..2_000 {
            writeln!(f, "1").unwrap();
        }
        for _ in 0..2_000 {
            writeln!(f, "{}", "x".repeat(200)).unwrap();
        }
        drop(f);
        let size = std::fs::metadata(&skewed).unwrap().len();
        assert_eq!(estimate_records(&skewed, Format::Csv), Some(size / 32));
        let pq = dir.path().join("e.parquet");
        let batch = arrow_array::RecordBatch::try_from_iter([(
            "customer_id",
            std::sync::Arc::new(arrow_array::StringArray::from(vec!["a"; 1234])) as arrow_array::ArrayRef,
        )])
        .unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(File::create(&pq).unwrap(), batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        assert_eq!(estimate_records(&pq, Format::Parquet), Some(1234));
        assert_eq!(estimate_records(&dir.path().join("missing.csv"), Format::Csv), None);
    }

    #[test]
    fn csv_with_rejects_and_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.csv");
        let mut f = File::create(&p).unwrap();
        writeln!(f, "customer_id,timestamp,event,channel,revenue").unwrap();
        writeln!(f, "c1,2026-01-01T00:00:00Z,Page Viewed,,").unwrap();
        writeln!(f, "c1,not-a-time,Product Viewed,,").unwrap();
        writeln!(f, "c2,1767225600,Order Completed,Phone,12.5").unwrap();
        writeln!(f, "c2,1767225600,Order Completed").unwrap();
        writeln!(f, "c3,2026-01-01,Order Completed,,ten").unwrap();
        drop(f);
        let (events, rejects) = collect(&p, Format::Csv).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(rejects.len(), 3);
        assert_eq!((rejects[0].line, rejects[0].field.as_str()), (3, "timestamp"));
        assert_eq!((rejects[1].line, rejects[1].field.as_str()), (5, "(row)"));
        assert_eq!((rejects[2].line, rejects[2].field.as_str()), (6, "revenue"));
        assert!(rejects[2].to_string().contains("e.csv:6: revenue: expected a number, found 'ten'"));
    }

    #[test]
    fn csv_missing_column_and_binary_are_file_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.csv");
        std::fs::write(&p, "customer_id,event\nc1,x\n").unwrap();
        let e = collect(&p, Format::Csv).unwrap_err();
        assert!(matches!(e, ImportError::MissingColumn { ref column, .. } if column == "timestamp"), "{e}");
        let b = dir.path().join("b.csv");
        std::fs::write(&b, [0x50u8, 0x4b, 0x03, 0x04, 0, 0, 0xff, 0xfe]).unwrap();
        assert!(matches!(collect(&b, Format::Csv).unwrap_err(), ImportError::Unreadable { .. }));
        let pq = dir.path().join("b.parquet");
        std::fs::write(&pq, b"PAR1 this is not parquet").unwrap();
        assert!(matches!(collect(&pq, Format::Parquet).unwrap_err(), ImportError::Unreadable { .. }));
    }

    #[test]
    fn ndjson_lines_are_read_in_blocks_whatever_the_read_size() {
        // Lines of every length (blank ones, one longer than a read, the
        // last without its newline), read a few bytes at a time and in
        // blocks of a few lines, come out as a plain split gives them.
        let mut text = Vec::new();
        for i in 0..200usize {
            match i % 7 {
                0 => text.extend_from_slice(b"  \n"),
                3 => text.extend_from_slice(format!("{}\n", "x".repeat(i * 3)).as_bytes()),
                _ => text.extend_from_slice(format!("line {i}\r\n").as_bytes()),
            }
        }
        text.extend_from_slice(b"last line");
        let mut expected = Vec::new();
        for (n, l) in text.split_inclusive(|&b| b == b'\n').enumerate() {
            if !l.iter().all(u8::is_ascii_whitespace) {
                expected.push((n as u64 + 1, l.to_vec()));
            }
        }
        for (read_size, max_lines) in [(1, 1), (5, 3), (64, 7), (1 << 20, 1000)] {
            let mut lines = Lines::new(&text[..]);
            lines.read_size = read_size;
            let mut got = Vec::new();
            let mut last_position = 0;
            loop {
                let (block, position) = lines.next_block(max_lines).unwrap();
                let Some(block) = block else { break };
                assert!(block.lines.len() <= max_lines);
                assert!(position > last_position);
                last_position = position;
                for (n, r) in &block.lines {
                    got.push((*n, block.text[r.clone()].to_vec()));
                }
                lines.recycle(block.text);
            }
            assert_eq!(got, expected, "read size {read_size}, {max_lines} lines a block");
            assert_eq!(last_position, text.len() as u64);
        }
    }

    #[test]
    fn ndjson_segment_batches_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.ndjson");
        let text = concat!(
            r#"{"type":"track","event":"Signed Up","userId":"u1","messageId":"m1","timestamp":"2026-01-01T00:00:00Z"}"#,
            "\n\n",
            r#"{"batch":[{"type":"page","anonymousId":"a1","messageId":"m2","timestamp":"2026-01-01T00:00:01Z"},{"type":"track","userId":"u2"}]}"#,
            "\n",
            r#"{"customer_id":"c9","timestamp":"2026-01-02","event":"Order Completed","revenue":5}"#,
            "\n",
            r#"{"type":"track","event":"Order Compl"#,
        );
        std::fs::write(&p, text).unwrap();
        let (events, rejects) = collect(&p, Format::Ndjson).unwrap();
        assert_eq!(
            events.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(),
            ["Signed Up", "Page Viewed", "Order Completed"]
        );
        assert_eq!(rejects.len(), 2);
        assert_eq!((rejects[0].line, rejects[0].index, rejects[0].field.as_str()), (3, Some(1), "event"));
        assert_eq!((rejects[1].line, rejects[1].field.as_str()), (5, "(json)"));
    }

    #[test]
    fn a_batch_line_shares_its_context_as_over_http() {
        // The same batch a server would get: the shared campaign makes it Email.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.ndjson");
        let line = r#"{"batch":[{"type":"track","event":"Product Viewed","userId":"u1","timestamp":"2026-01-01T00:00:00Z"},{"type":"track","event":"Product Viewed","userId":"u2","timestamp":"2026-01-01T00:00:00Z","context":{"campaign":{"source":"google","medium":"cpc"}}}],"context":{"campaign":{"source":"newsletter","medium":"email"}}}"#;
        std::fs::write(&p, format!("{line}\n{}\n", r#"{"batch":"not a list"}"#)).unwrap();
        let (events, rejects) = collect(&p, Format::Ndjson).unwrap();
        let channels: Vec<_> = events.iter().map(|e| e.channel.as_deref()).collect();
        assert_eq!(channels, [Some("Email"), Some("Paid Search")]);
        assert_eq!((rejects.len(), rejects[0].line, rejects[0].code), (1, 2, ErrorCode::InvalidField));
        let Value::Object(obj) = serde_json::from_str::<Value>(line).unwrap() else { unreachable!() };
        let (http, _) =
            crate::segment::decode_messages(&decoder(), crate::segment::Envelope::Batch, obj, 1_767_225_600_000_000)
                .unwrap();
        let http: Vec<_> = http.iter().map(|e| e.channel.as_deref()).collect();
        assert_eq!(http, channels);
    }

    #[test]
    fn identical_rows_in_a_file_are_distinct_events_but_reimports_match() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, "customer_id,timestamp,event,revenue\nc,2025-01-01,Order Completed,10\nc,2025-01-01,Order Completed,10\nc,2025-01-02,Order Completed,10\n").unwrap();
        let (a, _) = collect(&p, Format::Csv).unwrap();
        let (b, _) = collect(&p, Format::Csv).unwrap();
        let ids: Vec<&str> = a.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids.len(), 3);
        assert_ne!(ids[0], ids[1], "two equal purchases are two events");
        assert!(ids[1].ends_with(":1"));
        assert_eq!(ids, b.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(), "stable across reads");
    }

    #[test]
    fn an_invalid_byte_costs_its_line_not_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let ok = r#"{"type":"track","event":"Signed Up","userId":"u1","timestamp":"2026-01-01T00:00:00Z"}"#;
        let mut bad = br#"{"type":"track","event":"Caf"#.to_vec();
        bad.extend_from_slice(&[0xe9]);
        bad.extend_from_slice(br#"","userId":"u2","timestamp":"2026-01-01T00:00:00Z"}"#);
        let mut text = Vec::new();
        for line in [ok.as_bytes(), &bad, ok.as_bytes()] {
            text.extend_from_slice(line);
            text.push(b'\n');
        }
        let p = dir.path().join("e.ndjson");
        std::fs::write(&p, &text).unwrap();
        let (events, rejects) = collect(&p, Format::Ndjson).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!((rejects[0].line, rejects[0].field.as_str()), (2, "(text)"));
        assert!(rejects[0].reason.contains("column 29"), "{}", rejects[0].reason);
        // CSV: the field with the byte is named.
        let c = dir.path().join("e.csv");
        let mut csv = b"customer_id,timestamp,event\nc1,2026-01-01,Caf".to_vec();
        csv.extend_from_slice(&[0xe9, b'\n']);
        csv.extend_from_slice(b"c2,2026-01-01,Cafe\n");
        std::fs::write(&c, &csv).unwrap();
        let (events, rejects) = collect(&c, Format::Csv).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!((rejects[0].line, rejects[0].field.as_str()), (2, "event"));
        // A file of another encoding is refused, naming the first bad line.
        let latin = dir.path().join("latin1.csv");
        let mut l = b"customer_id,timestamp,event\n".to_vec();
        for _ in 0..5 {
            l.extend_from_slice(b"c1,2026-01-01,Caf\xe9 cr\xe8me\n");
        }
        std::fs::write(&latin, &l).unwrap();
        let e = collect(&latin, Format::Csv).unwrap_err().to_string();
        assert!(e.contains("not UTF-8") && e.contains("line 2, column 18"), "{e}");
    }

    #[test]
    fn a_file_that_changes_while_it_is_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.csv");
        let mut text = String::from("customer_id,timestamp,event\n");
        for i in 0..100 {
            text.push_str(&format!("c{i},2026-01-01,Page Viewed\n"));
        }
        std::fs::write(&p, &text).unwrap();
        let mut chunks = 0;
        let e = read_file(&p, Format::Csv, &decoder(), &Listed, |_| {
            chunks += 1;
            // Someone truncates the file while it is being imported.
            let f = std::fs::OpenOptions::new().write(true).open(&p).map_err(|e| e.to_string())?;
            f.set_len(100).map_err(|e| e.to_string())
        })
        .unwrap_err()
        .to_string();
        assert_eq!(chunks, 1);
        assert!(e.contains("changed while it was being read") && e.contains("100 bytes now"), "{e}");
    }

    #[test]
    fn formats_by_extension() {
        assert_eq!(Format::from_path(Path::new("a/b.CSV")), Some(Format::Csv));
        assert_eq!(Format::from_path(Path::new("x.jsonl")), Some(Format::Ndjson));
        assert_eq!(Format::from_path(Path::new("x.parquet")), Some(Format::Parquet));
        assert_eq!(Format::from_path(Path::new("x.xls")), None);
    }
}
