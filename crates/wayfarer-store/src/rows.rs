//! Events on their way into segments, in columns.
//!
//! ```text
//!  Event ─> EventRowsBuilder ─> EventRows (every column the event itself
//!                                determines, the alias's previous id, the
//!                                dedupe keys)
//!            ─> writer: + customer, seq, event_code, channel_code
//!            ─> sorted partition batches ─> run files (a bulk load's spills)
//!            ─> commit: merge a partition's runs ─> one Parquet segment
//! ```
//!
//! The import builds [`EventRows`] off the writer's thread, in parallel, an
//! event at a time as the decoder hands each over (no list of events); the
//! writer keeps the batches as they came (no copy per row) and assigns only
//! what it alone can. A bulk load spills every few million rows as sorted
//! runs, one per partition, in Arrow IPC: temporary files, never synced and
//! never named by the manifest (a crash leaves them to the next writer's
//! garbage collection). The commit merges a partition's runs into one
//! segment, so every row is encoded as Parquet once.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, StringBuilder, TimestampMicrosecondBuilder, UInt8Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMicrosecondType, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use wayfarer_core::Event;

use crate::StoreError;
use crate::identity::{ANON_PREFIX, USER_PREFIX, key_hash};
use crate::segment::Col;

/// The segment columns the writer fills (the kind, event and channel texts
/// from their codes); a staged batch has every other one, in segment order.
const ASSIGNED: [Col; 7] =
    [Col::Customer, Col::Seq, Col::EventCode, Col::ChannelCode, Col::Kind, Col::Event, Col::Channel];

fn staged() -> impl Iterator<Item = Col> {
    Col::ALL.into_iter().filter(|c| !ASSIGNED.contains(c))
}

/// A staged batch's last column: an alias's previous id (not stored in
/// segments; the identity graph keeps it).
pub(crate) const PREVIOUS_ID: usize = Col::ALL.len() - ASSIGNED.len();

/// Where a segment column is in a staged batch.
pub(crate) fn staged_index(c: Col) -> Option<usize> {
    staged().position(|s| s == c)
}

fn staged_schema() -> SchemaRef {
    let mut fields: Vec<Field> = staged().map(|c| Field::new(c.name(), c.data_type(), c.nullable())).collect();
    fields.push(Field::new("previous_id", DataType::Utf8, true));
    Arc::new(Schema::new(fields))
}

/// Decoded events as columns, with the dedupe key of each event id and
/// the identity graph's key of each user id and anonymous id (0: none).
#[derive(Debug, Clone)]
pub struct EventRows {
    pub(crate) batch: RecordBatch,
    pub(crate) keys: Vec<u128>,
    pub(crate) user_keys: Vec<u128>,
    pub(crate) anon_keys: Vec<u128>,
    /// The event names and channels of these rows, each as an index into
    /// its list of distinct values (the writer turns a handful of names
    /// into store codes instead of looking up every row's).
    pub(crate) events: Local,
    pub(crate) channels: Local,
}

/// The distinct values of a column in first-seen order, and each row's.
#[derive(Debug, Clone, Default)]
pub(crate) struct Local {
    pub(crate) values: Vec<String>,
    /// Per row: index into `values`, or `u32::MAX` for none.
    pub(crate) rows: Vec<u32>,
    index: rustc_hash::FxHashMap<String, u32>,
}

impl Local {
    fn push(&mut self, v: Option<&str>) {
        let i = match v {
            None => u32::MAX,
            Some(v) => match self.index.get(v) {
                Some(&i) => i,
                None => {
                    let i = self.values.len() as u32;
                    self.values.push(v.to_string());
                    self.index.insert(v.to_string(), i);
                    i
                }
            },
        };
        self.rows.push(i);
    }
}

/// Text columns of a staged batch, in staged order, then previous_id.
const TEXTS: usize = 12;

fn texts_of(e: &Event) -> [Option<&str>; TEXTS] {
    [
        Some(&e.event_id),
        e.user_id.as_deref(),
        e.anonymous_id.as_deref(),
        e.source.as_deref(),
        e.medium.as_deref(),
        e.campaign.as_deref(),
        e.url.as_deref(),
        e.referrer.as_deref(),
        e.survey.as_deref(),
        e.text.as_deref(),
        Some(&e.properties),
        e.previous_id.as_deref(),
    ]
}

/// [`EventRows`] built an event at a time: a decoder hands each event over
/// as soon as it is decoded and may drop it at once, so no list of events
/// is ever held (their strings are freed while the allocator still has
/// them at hand, not a piece later).
pub struct EventRowsBuilder {
    ts: TimestampMicrosecondBuilder,
    kind_code: UInt8Builder,
    received: TimestampMicrosecondBuilder,
    revenue: Float64Builder,
    score: Float64Builder,
    texts: Vec<TextColumn>,
    keys: Vec<u128>,
    user_keys: Vec<u128>,
    anon_keys: Vec<u128>,
    events: Local,
    channels: Local,
    buf: String,
}

impl EventRowsBuilder {
    /// Room for `rows` events; `bytes` is each text column's room (they
    /// grow as needed).
    pub fn with_capacity(rows: usize, bytes: [usize; TEXTS]) -> EventRowsBuilder {
        EventRowsBuilder {
            ts: TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            kind_code: UInt8Builder::with_capacity(rows),
            received: TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            revenue: Float64Builder::with_capacity(rows),
            score: Float64Builder::with_capacity(rows),
            texts: bytes.iter().map(|&b| TextColumn::new(rows, b)).collect(),
            keys: Vec::with_capacity(rows),
            user_keys: Vec::with_capacity(rows),
            anon_keys: Vec::with_capacity(rows),
            events: Local::default(),
            channels: Local::default(),
            buf: String::new(),
        }
    }

    fn ident(&mut self, prefix: &str, id: Option<&str>) -> u128 {
        id.map_or(0, |id| {
            self.buf.clear();
            self.buf.push_str(prefix);
            self.buf.push_str(id);
            key_hash(&self.buf)
        })
    }

    /// Appends an event.
    pub fn push(&mut self, e: &Event) {
        self.keys.push(crate::writer::event_key(&e.event_id));
        let user = self.ident(USER_PREFIX, e.user_id.as_deref());
        self.user_keys.push(user);
        let anon = self.ident(ANON_PREFIX, e.anonymous_id.as_deref());
        self.anon_keys.push(anon);
        self.events.push(Some(&e.event));
        self.channels.push(e.channel.as_deref());
        self.ts.append_value(e.timestamp);
        self.kind_code.append_value(e.kind.code());
        self.received.append_value(e.received_at);
        self.revenue.append_option(e.revenue);
        self.score.append_option(e.score);
        for (b, v) in self.texts.iter_mut().zip(texts_of(e)) {
            b.append_option(v);
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The events appended, as columns.
    pub fn finish(mut self) -> Result<EventRows, StoreError> {
        let mut t = self.texts.into_iter().map(TextColumn::finish);
        let mut text = || t.next().ok_or_else(|| StoreError::Internal("staged column count".into()));
        let (event_id, user_id, anonymous_id) = (text()?, text()?, text()?);
        let (source, medium, campaign, url, referrer) = (text()?, text()?, text()?, text()?, text()?);
        let (survey, text_col, properties, previous) = (text()?, text()?, text()?, text()?);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.ts.finish()),
            Arc::new(self.kind_code.finish()),
            event_id,
            Arc::new(self.received.finish()),
            user_id,
            anonymous_id,
            source,
            medium,
            campaign,
            url,
            referrer,
            Arc::new(self.revenue.finish()),
            Arc::new(self.score.finish()),
            survey,
            text_col,
            properties,
            previous,
        ];
        let batch = RecordBatch::try_new(staged_schema(), columns)
            .map_err(|e| StoreError::Internal(format!("staged batch: {e}")))?;
        Ok(EventRows {
            batch,
            keys: self.keys,
            user_keys: self.user_keys,
            anon_keys: self.anon_keys,
            events: self.events,
            channels: self.channels,
        })
    }
}

/// One text column being built. Nothing is allocated or appended for it
/// until its first value: most of a file's optional columns (the URL, the
/// survey, free text…) are null in every row, and a column of nulls is
/// made at once when the piece is finished.
struct TextColumn {
    /// Rows and bytes to make room for at the first value.
    rows: usize,
    bytes: usize,
    /// Nulls before the first value.
    nulls: usize,
    builder: Option<StringBuilder>,
}

impl TextColumn {
    fn new(rows: usize, bytes: usize) -> TextColumn {
        TextColumn { rows, bytes, nulls: 0, builder: None }
    }

    fn append_option(&mut self, v: Option<&str>) {
        match (&mut self.builder, v) {
            (Some(b), v) => b.append_option(v),
            (None, None) => self.nulls += 1,
            (None, Some(v)) => {
                let mut b = StringBuilder::with_capacity(self.rows.max(self.nulls + 1), self.bytes.max(v.len()));
                b.append_nulls(self.nulls);
                b.append_value(v);
                self.builder = Some(b);
            }
        }
    }

    /// The bytes of text appended.
    fn bytes(&self) -> usize {
        self.builder.as_ref().map_or(0, |b| b.values_slice().len())
    }

    fn finish(self) -> ArrayRef {
        match self.builder {
            Some(mut b) => Arc::new(b.finish()),
            None => arrow_array::new_null_array(&DataType::Utf8, self.nulls),
        }
    }
}

/// Sizes the builders of one file's pieces, which are built in parallel:
/// each text column from the bytes per event of the last piece finished
/// (a file's events are alike: a piece of Segment messages holds megabytes
/// of properties, one of flat rows a few bytes; a column that outgrows its
/// room is copied).
#[derive(Debug, Default)]
pub struct TextSizes {
    /// Per text column: sixteenths of a byte per event.
    per_event: [std::sync::atomic::AtomicUsize; TEXTS],
}

impl TextSizes {
    /// A builder for about `rows` events.
    pub fn builder(&self, rows: usize) -> EventRowsBuilder {
        EventRowsBuilder::with_capacity(rows, self.bytes(rows))
    }

    /// Each text column's room for `rows` events.
    fn bytes(&self, rows: usize) -> [usize; TEXTS] {
        use std::sync::atomic::Ordering;
        let per_event: [usize; TEXTS] = std::array::from_fn(|i| self.per_event[i].load(Ordering::Relaxed));
        if per_event.iter().all(|&b| b == 0) {
            // Nothing learnt yet: the id, the identities and the
            // properties are nearly always there, the other texts seldom.
            return std::array::from_fn(|i| if matches!(i, 0 | 1 | 10) { rows * 16 } else { 0 });
        }
        // An eighth to spare, so a piece a little longer than the last is
        // not copied.
        per_event.map(|b| rows * b / 16 * 9 / 8)
    }

    /// Learns from a piece about to be finished.
    pub fn learn(&self, piece: &EventRowsBuilder) {
        let events = piece.len().max(1);
        for (slot, b) in self.per_event.iter().zip(&piece.texts) {
            slot.store(b.bytes() * 16 / events, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl EventRows {
    /// The events as columns, in their order.
    pub fn from_events(events: &[Event]) -> Result<EventRows, StoreError> {
        // Each text column's bytes, so its buffer is allocated once.
        let mut bytes = [0usize; TEXTS];
        for e in events {
            for (b, v) in bytes.iter_mut().zip(texts_of(e)) {
                *b += v.map_or(0, str::len);
            }
        }
        let mut b = EventRowsBuilder::with_capacity(events.len(), bytes);
        for e in events {
            b.push(e);
        }
        b.finish()
    }

    /// Gives some events other ids: (row, new id). The id column is built
    /// again (rare: a file's identical rows without ids, the second and
    /// later of which take ":1", ":2"… after their content id).
    pub fn rename(&mut self, renamed: &[(usize, String)]) -> Result<(), StoreError> {
        if renamed.is_empty() {
            return Ok(());
        }
        let i = staged_index(Col::EventId).ok_or_else(|| StoreError::Internal("staged event_id".into()))?;
        let old = self
            .batch
            .column(i)
            .as_string_opt::<i32>()
            .ok_or_else(|| StoreError::Internal("staged event_id type".into()))?;
        let mut ids: Vec<Option<&str>> = old.iter().collect();
        for (row, id) in renamed {
            let slot = ids.get_mut(*row).ok_or_else(|| StoreError::Internal(format!("rename row {row}")))?;
            *slot = Some(id);
            self.keys[*row] = crate::writer::event_key(id);
        }
        let column: ArrayRef = Arc::new(arrow_array::StringArray::from(ids));
        let mut columns = self.batch.columns().to_vec();
        columns[i] = column;
        self.batch = RecordBatch::try_new(self.batch.schema(), columns)
            .map_err(|e| StoreError::Internal(format!("staged batch: {e}")))?;
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.batch.num_rows()
    }

    pub fn is_empty(&self) -> bool {
        self.batch.num_rows() == 0
    }
}

/// Schema metadata of a run: the columns left out because no row filled them.
const EMPTY_COLUMNS: &str = "wayfarer.empty_columns";

/// Writes a sorted partition batch as a run (Arrow IPC, not synced);
/// columns no row filled are left out and named in the schema's metadata.
pub(crate) fn write_run(path: &Path, batch: &RecordBatch) -> Result<(), StoreError> {
    let io = |e: std::io::Error| StoreError::io(path, e);
    let arrow = |e: arrow_schema::ArrowError| StoreError::io(path, std::io::Error::other(e));
    let schema = batch.schema();
    let (mut kept, mut empty) = (Vec::new(), Vec::new());
    for (i, c) in batch.columns().iter().enumerate() {
        if !c.is_empty() && c.null_count() == c.len() {
            empty.push(schema.field(i).name().clone());
        } else {
            kept.push(i);
        }
    }
    let projected = batch.project(&kept).map_err(arrow)?;
    let mut metadata = std::collections::HashMap::new();
    metadata.insert(EMPTY_COLUMNS.to_string(), empty.join(","));
    let run_schema = Arc::new(projected.schema().as_ref().clone().with_metadata(metadata));
    let projected = projected.with_schema(run_schema.clone()).map_err(arrow)?;
    let file = File::create(path).map_err(io)?;
    let mut w =
        arrow_ipc::writer::FileWriter::try_new(BufWriter::with_capacity(1 << 20, file), &run_schema).map_err(arrow)?;
    // In slices, so a merge holds one slice of each run at a time.
    let mut offset = 0;
    while offset < projected.num_rows() || offset == 0 {
        let len = RUN_BATCH_ROWS.min(projected.num_rows() - offset);
        w.write(&projected.slice(offset, len)).map_err(arrow)?;
        offset += len.max(1);
    }
    w.finish().map_err(arrow)?;
    Ok(())
}

/// Rows per record batch of a run file.
const RUN_BATCH_ROWS: usize = 16 * 1024;

/// A run written by [`write_run`], read a slice at a time as batches of
/// `schema` (the left-out columns come back empty).
pub(crate) struct RunReader {
    path: std::path::PathBuf,
    reader: arrow_ipc::reader::FileReader<BufReader<File>>,
    schema: SchemaRef,
}

impl RunReader {
    pub(crate) fn open(path: &Path, schema: &SchemaRef) -> Result<RunReader, StoreError> {
        let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
        let reader = arrow_ipc::reader::FileReader::try_new(BufReader::with_capacity(1 << 20, file), None)
            .map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?;
        Ok(RunReader { path: path.to_path_buf(), reader, schema: schema.clone() })
    }

    fn expand(&self, run: &RecordBatch) -> Result<RecordBatch, StoreError> {
        let corrupt = |what: String| StoreError::Corrupt(format!("{}: {what}", self.path.display()));
        let run_schema = run.schema();
        let empty = run_schema.metadata().get(EMPTY_COLUMNS);
        let columns: Vec<ArrayRef> = self
            .schema
            .fields()
            .iter()
            .map(|f| match run.column_by_name(f.name()) {
                Some(c) => Ok(c.clone()),
                None if empty.is_some_and(|e| e.split(',').any(|n| n == f.name())) => {
                    Ok(arrow_array::new_null_array(f.data_type(), run.num_rows()))
                }
                None => Err(corrupt(format!("no column {}", f.name()))),
            })
            .collect::<Result<_, _>>()?;
        RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| corrupt(e.to_string()))
    }
}

impl Iterator for RunReader {
    type Item = Result<RecordBatch, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let run = self.reader.next()?;
        Some(
            run.map_err(|e| StoreError::Corrupt(format!("{}: {e}", self.path.display()))).and_then(|r| self.expand(&r)),
        )
    }
}

/// Reads a whole run written by [`write_run`] as one batch of `schema`.
pub(crate) fn read_run(path: &Path, schema: &SchemaRef) -> Result<RecordBatch, StoreError> {
    let batches: Vec<RecordBatch> = RunReader::open(path, schema)?.collect::<Result<_, _>>()?;
    arrow_select::concat::concat_batches(schema, &batches).map_err(|e| StoreError::Internal(e.to_string()))
}

/// A row's place in a segment: (customer, timestamp, seq).
pub(crate) type SortKey = (u32, i64, u64);

/// The (customer, timestamp, seq) columns of a segment batch.
type KeyColumns<'a> = (&'a [u32], &'a [i64], &'a [u64]);

pub(crate) fn sort_keys(b: &RecordBatch) -> Result<KeyColumns<'_>, StoreError> {
    let bad = || StoreError::Corrupt("segment core columns have unexpected types".into());
    let c = b.column_by_name("customer").and_then(|c| c.as_primitive_opt::<UInt32Type>()).ok_or_else(bad)?;
    let t =
        b.column_by_name("timestamp").and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>()).ok_or_else(bad)?;
    let s = b.column_by_name("seq").and_then(|c| c.as_primitive_opt::<UInt64Type>()).ok_or_else(bad)?;
    Ok((c.values(), t.values(), s.values()))
}

/// Batches of rows, in (customer, timestamp, seq) order.
pub(crate) type Sorted = Box<dyn Iterator<Item = Result<RecordBatch, StoreError>> + Send>;

/// One input of a merge: its current batch, that batch's sort keys, and
/// the next row to take.
struct Cursor {
    input: Sorted,
    batch: RecordBatch,
    keys: (arrow_array::UInt32Array, arrow_array::TimestampMicrosecondArray, arrow_array::UInt64Array),
    row: usize,
    /// Where `batch` is among the current chunk's batches.
    slot: Option<usize>,
}

impl Cursor {
    fn key(&self) -> SortKey {
        (self.keys.0.value(self.row), self.keys.1.value(self.row), self.keys.2.value(self.row))
    }

    /// Moves to the input's next non-empty batch; false when it has none.
    fn advance(&mut self) -> Result<bool, StoreError> {
        loop {
            let Some(batch) = self.input.next().transpose()? else { return Ok(false) };
            if batch.num_rows() == 0 {
                continue;
            }
            let (c, t, s) = sort_keys(&batch)?;
            self.keys = (c.to_vec().into(), t.to_vec().into(), s.to_vec().into());
            self.batch = batch;
            self.row = 0;
            self.slot = None;
            return Ok(true);
        }
    }
}

/// Merges inputs, each sorted by (customer, timestamp, seq), into batches of
/// at most `chunk` rows in that order, holding one batch of each input (and
/// the batches the current chunk takes rows from) at a time.
pub(crate) struct Merge {
    cursors: Vec<Cursor>,
    heap: BinaryHeap<Reverse<(SortKey, usize)>>,
    chunk: usize,
}

impl Merge {
    pub(crate) fn new(inputs: Vec<Sorted>, chunk: usize) -> Result<Merge, StoreError> {
        let mut cursors = Vec::new();
        let mut heap = BinaryHeap::new();
        for input in inputs {
            let mut c = Cursor {
                input,
                batch: RecordBatch::new_empty(Arc::new(Schema::empty())),
                keys: (Vec::<u32>::new().into(), Vec::<i64>::new().into(), Vec::<u64>::new().into()),
                row: 0,
                slot: None,
            };
            if c.advance()? {
                heap.push(Reverse((c.key(), cursors.len())));
                cursors.push(c);
            }
        }
        Ok(Merge { cursors, heap, chunk: chunk.max(1) })
    }

    /// Whether every input was empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.cursors.is_empty()
    }

    fn next_chunk(&mut self) -> Result<Option<RecordBatch>, StoreError> {
        let mut batches: Vec<RecordBatch> = Vec::new();
        let mut order: Vec<(usize, usize)> = Vec::with_capacity(self.chunk);
        for c in &mut self.cursors {
            c.slot = None;
        }
        while order.len() < self.chunk {
            let Some(Reverse((_, i))) = self.heap.pop() else { break };
            let bound = self.heap.peek().map(|Reverse((k, _))| *k);
            let c = &mut self.cursors[i];
            loop {
                let slot = *c.slot.get_or_insert_with(|| {
                    batches.push(c.batch.clone());
                    batches.len() - 1
                });
                order.push((slot, c.row));
                c.row += 1;
                if c.row == c.batch.num_rows() && !c.advance()? {
                    break;
                }
                // Take the input's following rows while they stay ahead of
                // every other input (one customer's rows are long runs).
                if order.len() == self.chunk || bound.is_some_and(|b| c.key() > b) {
                    self.heap.push(Reverse((c.key(), i)));
                    break;
                }
            }
        }
        if order.is_empty() {
            return Ok(None);
        }
        gather(&batches, &order).map(Some)
    }
}

impl Iterator for Merge {
    type Item = Result<RecordBatch, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_chunk().transpose()
    }
}

/// The rows at `order` of `sources` (batches of one schema) as one batch.
pub(crate) fn gather(sources: &[RecordBatch], order: &[(usize, usize)]) -> Result<RecordBatch, StoreError> {
    let schema =
        sources.first().map(RecordBatch::schema).ok_or_else(|| StoreError::Internal("gather from nothing".into()))?;
    let columns: Vec<ArrayRef> = (0..schema.fields().len())
        .map(|i| {
            let arrays: Vec<&dyn Array> = sources.iter().map(|b| b.column(i).as_ref()).collect();
            gather_column(&arrays, order)
        })
        .collect::<Result<_, _>>()?;
    RecordBatch::try_new(schema, columns).map_err(|e| StoreError::Internal(e.to_string()))
}

/// The values at `order` ((array, row) pairs) of arrays of one type, as
/// one array. A column no row filled (most sources leave most columns
/// empty) needs no gathering; text is copied in one pass.
pub(crate) fn gather_column(arrays: &[&dyn Array], order: &[(usize, usize)]) -> Result<ArrayRef, StoreError> {
    let Some(first) = arrays.first() else {
        return Err(StoreError::Internal("gather from nothing".into()));
    };
    if arrays.iter().all(|a| a.null_count() == a.len()) {
        return Ok(arrow_array::new_null_array(first.data_type(), order.len()));
    }
    if *first.data_type() == DataType::Utf8 {
        let strings: Option<Vec<&arrow_array::StringArray>> = arrays.iter().map(|a| a.as_string_opt::<i32>()).collect();
        if let Some(strings) = strings {
            return gather_strings(&strings, order);
        }
    }
    arrow_select::interleave::interleave(arrays, order).map_err(|e| StoreError::Internal(e.to_string()))
}

/// Rows whose values [`gather_strings`] reads ahead before copying them.
const GATHER_GROUP: usize = 16;

/// [`gather_column`] for text: offsets and bytes written as the rows are
/// visited (Arrow's `interleave` visits them twice).
fn gather_strings(arrays: &[&arrow_array::StringArray], order: &[(usize, usize)]) -> Result<ArrayRef, StoreError> {
    let rows: usize = arrays.iter().map(|a| a.len()).sum::<usize>().max(1);
    let bytes: usize = arrays.iter().map(|a| a.value_data().len()).sum();
    // The rows' share of the bytes, with an eighth to spare: a partition's
    // rows may be longer than the average (growing would copy them all).
    let estimate = (bytes as u128 * order.len() as u128).div_ceil(rows as u128) as usize;
    let mut values: Vec<u8> = Vec::with_capacity(estimate + estimate / 8 + 64);
    let mut offsets: Vec<i32> = Vec::with_capacity(order.len() + 1);
    offsets.push(0);
    let nullable = arrays.iter().any(|a| a.null_count() > 0);
    let mut valid = arrow_buffer::BooleanBufferBuilder::new(if nullable { order.len() } else { 0 });
    for group in order.chunks(GATHER_GROUP) {
        // The rows are scattered over large arrays: read a group's offsets,
        // then the first byte of each value, before copying any (the loads
        // of a group do not depend on each other, so their misses overlap).
        let mut touched = 0i32;
        for &(a, r) in group {
            touched ^= arrays[a].value_offsets()[r];
        }
        for &(a, r) in group {
            let arr = arrays[a];
            let start = arr.value_offsets()[r] as usize;
            touched ^= i32::from(arr.value_data().get(start).copied().unwrap_or(0));
        }
        std::hint::black_box(touched);
        for &(a, r) in group {
            let arr = arrays[a];
            if nullable {
                let ok = arr.is_valid(r);
                valid.append(ok);
                if !ok {
                    offsets.push(values.len() as i32);
                    continue;
                }
            }
            values.extend_from_slice(arr.value(r).as_bytes());
            let end = i32::try_from(values.len())
                .map_err(|_| StoreError::Internal("a text column of more than 2 GiB in one batch".into()))?;
            offsets.push(end);
        }
    }
    let nulls = nullable.then(|| arrow_buffer::NullBuffer::new(valid.finish()));
    let array = arrow_array::StringArray::try_new(
        arrow_buffer::OffsetBuffer::new(arrow_buffer::ScalarBuffer::from(offsets)),
        arrow_buffer::Buffer::from_vec(values),
        nulls,
    )
    .map_err(|e| StoreError::Internal(e.to_string()))?;
    Ok(Arc::new(array))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{TimestampMicrosecondArray, UInt32Array, UInt64Array};

    #[test]
    fn a_text_column_holds_its_nulls_before_and_after_its_first_value() {
        let mut events: Vec<Event> = (0..5).map(|i| Event::new(format!("e{i}"), i, "Viewed")).collect();
        events[2].url = Some("https://shop.example/a".into());
        events[4].url = Some(String::new());
        for rows in [0, 5] {
            let sizes = TextSizes::default();
            let mut b = sizes.builder(rows);
            for e in &events {
                b.push(e);
            }
            let batch = b.finish().unwrap().batch;
            let url = batch.column_by_name("url").unwrap().as_string::<i32>();
            let got: Vec<Option<&str>> = (0..url.len()).map(|i| url.is_valid(i).then(|| url.value(i))).collect();
            assert_eq!(got, [None, None, Some("https://shop.example/a"), None, Some("")]);
            // A column no event fills is all nulls, of the same type.
            let survey = batch.column_by_name("survey").unwrap();
            assert_eq!((survey.len(), survey.null_count(), survey.data_type()), (5, 5, &DataType::Utf8));
        }
    }

    fn keyed(rows: &[(u32, i64, u64)]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("customer", DataType::UInt32, false),
            Field::new("timestamp", DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, None), false),
            Field::new("seq", DataType::UInt64, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(UInt32Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
                Arc::new(TimestampMicrosecondArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
                Arc::new(UInt64Array::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())),
            ],
        )
        .unwrap()
    }

    fn sorted(batches: Vec<RecordBatch>) -> Sorted {
        Box::new(batches.into_iter().map(Ok))
    }

    #[test]
    fn merging_sorted_runs_gives_the_sorted_whole() {
        // Inputs of several batches (some empty), chunks smaller than a batch.
        let a = vec![keyed(&[(1, 5, 0), (1, 9, 3)]), keyed(&[]), keyed(&[(2, 1, 4), (7, 0, 8)])];
        let b = vec![keyed(&[(1, 5, 1), (3, 0, 2), (3, 0, 9)])];
        let d = vec![keyed(&[(0, 0, 7)]), keyed(&[(9, 9, 5)])];
        assert!(Merge::new(vec![sorted(vec![keyed(&[])]), sorted(vec![])], 4).unwrap().is_empty());
        let merge = Merge::new(vec![sorted(a), sorted(b), sorted(vec![]), sorted(d)], 4).unwrap();
        assert!(!merge.is_empty());
        let chunks: Vec<RecordBatch> = merge.collect::<Result<_, _>>().unwrap();
        assert_eq!(chunks.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), vec![4, 4, 1]);
        let mut got = Vec::new();
        for m in &chunks {
            let (cs, ts, ss) = sort_keys(m).unwrap();
            got.extend((0..m.num_rows()).map(|i| (cs[i], ts[i], ss[i])));
        }
        let mut want = got.clone();
        want.sort();
        assert_eq!(got, want);
        assert_eq!(got.len(), 9);
        assert_eq!(got.first(), Some(&(0, 0, 7)));
        assert_eq!(got.last(), Some(&(9, 9, 5)));
        // Equal (customer, timestamp): seq decides.
        assert_eq!(&got[1..3], &[(1, 5, 0), (1, 5, 1)]);
    }

    #[test]
    fn a_run_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = Event::new("e1", 10, "Signed Up");
        e.user_id = Some("u1".into());
        e.channel = Some("Email".into());
        let rows = EventRows::from_events(&[e.clone(), Event { event_id: "e2".into(), ..e }]).unwrap();
        let path = dir.path().join("r.run");
        write_run(&path, &rows.batch).unwrap();
        let back = read_run(&path, &rows.batch.schema()).unwrap();
        assert_eq!(back, rows.batch);
        // A run longer than a slice reads back whole, a slice at a time.
        let many: Vec<Event> = (0..RUN_BATCH_ROWS + 5).map(|i| Event::new(format!("m{i}"), i as i64, "A")).collect();
        let big = EventRows::from_events(&many).unwrap();
        let path_big = dir.path().join("big.run");
        write_run(&path_big, &big.batch).unwrap();
        let slices: Vec<RecordBatch> =
            RunReader::open(&path_big, &big.batch.schema()).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(slices.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), vec![RUN_BATCH_ROWS, 5]);
        assert_eq!(read_run(&path_big, &big.batch.schema()).unwrap(), big.batch);
        // The empty columns were left out of the file.
        let file = arrow_ipc::reader::FileReader::try_new(File::open(&path).unwrap(), None).unwrap();
        assert!(file.schema().column_with_name("url").is_none());
        assert!(file.schema().column_with_name("user_id").is_some());
    }

    #[test]
    fn gathering_text_keeps_values_and_nulls() {
        let a = arrow_array::StringArray::from(vec![Some("a"), None, Some("ccc")]);
        let b = arrow_array::StringArray::from(vec![Some(""), Some("dd")]);
        let order = [(1, 1), (0, 2), (0, 1), (1, 0), (0, 0)];
        let got = gather_column(&[&a, &b], &order).unwrap();
        let want = arrow_select::interleave::interleave(&[&a, &b], &order).unwrap();
        assert_eq!(got.as_string::<i32>(), want.as_string::<i32>());
        assert_eq!(got.null_count(), 1);
        let empty = arrow_array::StringArray::from(vec![None::<&str>, None]);
        let nulls = gather_column(&[&empty], &[(0, 1), (0, 0), (0, 0)]).unwrap();
        assert_eq!((nulls.len(), nulls.null_count()), (3, 3));
        let ints = arrow_array::UInt32Array::from(vec![Some(1), None]);
        let got = gather_column(&[&ints], &[(0, 1), (0, 0)]).unwrap();
        assert_eq!(got.as_primitive::<UInt32Type>(), &arrow_array::UInt32Array::from(vec![None, Some(1)]));
    }

    #[test]
    fn events_become_columns_with_their_keys() {
        let mut e = Event::new("e1", 10, "Signed Up");
        e.user_id = Some("u1".into());
        let mut alias = Event::new("e2", 11, "Alias");
        alias.kind = wayfarer_core::Kind::Alias;
        alias.user_id = Some("u1".into());
        alias.previous_id = Some("old".into());
        let rows = EventRows::from_events(&[e, alias]).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows.keys, vec![crate::writer::event_key("e1"), crate::writer::event_key("e2")]);
        let prev = rows.batch.column(PREVIOUS_ID).as_string::<i32>();
        assert!(prev.is_null(0));
        assert_eq!(prev.value(1), "old");
        assert_eq!(rows.events.values[rows.events.rows[0] as usize], "Signed Up");
        assert_eq!(staged_index(Col::Event), None, "the writer fills the event text from its code");
        // An event at a time, with room for fewer than come.
        let sizes = TextSizes::default();
        let mut b = sizes.builder(1);
        for i in 0..40 {
            let mut e = Event::new(format!("id{i}"), i, "A");
            e.anonymous_id = Some(format!("a{i}"));
            b.push(&e);
        }
        // The next piece is sized from this one's bytes per event (ids of
        // 150 bytes in all, anonymous ids of 110, "{}" properties, no user
        // ids), with an eighth to spare.
        sizes.learn(&b);
        let want = |bytes: usize| 1000 * (bytes * 16 / 40) / 16 * 9 / 8;
        let room = sizes.bytes(1000);
        assert_eq!((room[0], room[1], room[2], room[10]), (want(150), 0, want(110), want(80)));
        assert!(room[0] > 4000 && room[3] == 0);
        let mut rows = b.finish().unwrap();
        assert_eq!(rows.len(), 40);
        assert_eq!(rows.anon_keys[39], key_hash(&format!("{ANON_PREFIX}a39")));
        // Renamed: the id column and the dedupe keys follow.
        rows.rename(&[(3, "id3:1".to_string()), (39, "other".to_string())]).unwrap();
        let ids = rows.batch.column(staged_index(Col::EventId).unwrap()).as_string::<i32>();
        assert_eq!((ids.value(2), ids.value(3), ids.value(39)), ("id2", "id3:1", "other"));
        assert_eq!(rows.keys[3], crate::writer::event_key("id3:1"));
        assert_eq!(rows.keys[39], crate::writer::event_key("other"));
        assert_eq!(rows.keys[2], crate::writer::event_key("id2"));
    }
}
