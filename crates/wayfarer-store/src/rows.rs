//! Events on their way into segments, in columns.
//!
//! ```text
//!  Vec<Event> ─> EventRows (every column the event itself determines,
//!                           the alias's previous id, the dedupe keys)
//!            ─> writer: + customer, seq, event_code, channel_code
//!            ─> sorted partition batches ─> run files (a bulk load's spills)
//!            ─> commit: merge a partition's runs ─> one Parquet segment
//! ```
//!
//! The import builds [`EventRows`] off the writer's thread, in parallel; the
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
use rayon::prelude::*;
use wayfarer_core::Event;

use crate::StoreError;
use crate::segment::Col;

/// The segment columns an event determines by itself, in segment order
/// (all but customer, seq, event_code and channel_code).
pub(crate) const STAGED: [Col; 19] = [
    Col::Timestamp,
    Col::KindCode,
    Col::EventId,
    Col::ReceivedAt,
    Col::Kind,
    Col::Event,
    Col::UserId,
    Col::AnonymousId,
    Col::Channel,
    Col::Source,
    Col::Medium,
    Col::Campaign,
    Col::Url,
    Col::Referrer,
    Col::Revenue,
    Col::Score,
    Col::Survey,
    Col::Text,
    Col::Properties,
];

/// A staged batch's last column: an alias's previous id (not stored in
/// segments; the identity graph keeps it).
pub(crate) const PREVIOUS_ID: usize = STAGED.len();

/// Where a segment column is in a staged batch.
pub(crate) fn staged_index(c: Col) -> Option<usize> {
    STAGED.iter().position(|&s| s == c)
}

fn staged_schema() -> SchemaRef {
    let mut fields: Vec<Field> = STAGED.iter().map(|c| Field::new(c.name(), c.data_type(), c.nullable())).collect();
    fields.push(Field::new("previous_id", DataType::Utf8, true));
    Arc::new(Schema::new(fields))
}

/// Decoded events as columns, with the dedupe key of each event id.
#[derive(Debug, Clone)]
pub struct EventRows {
    pub(crate) batch: RecordBatch,
    pub(crate) keys: Vec<u128>,
}

/// Rows per piece when a chunk of events is turned into columns in parallel.
const PIECE_ROWS: usize = 16 * 1024;

impl EventRows {
    /// The events as columns, in their order.
    pub fn from_events(events: &[Event]) -> Result<EventRows, StoreError> {
        let n = events.len();
        let mut ts = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
        let mut kind_code = UInt8Builder::with_capacity(n);
        let mut received = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
        let mut revenue = Float64Builder::with_capacity(n);
        let mut score = Float64Builder::with_capacity(n);
        // Text columns, in STAGED order, then previous_id.
        const TEXTS: usize = 15;
        let mut texts: Vec<StringBuilder> = (0..TEXTS).map(|_| StringBuilder::with_capacity(n, n * 8)).collect();
        let mut keys = Vec::with_capacity(n);
        for e in events {
            keys.push(crate::writer::event_key(&e.event_id));
            ts.append_value(e.timestamp);
            kind_code.append_value(e.kind.code());
            received.append_value(e.received_at);
            revenue.append_option(e.revenue);
            score.append_option(e.score);
            let values: [Option<&str>; TEXTS] = [
                Some(&e.event_id),
                Some(e.kind.as_str()),
                Some(&e.event),
                e.user_id.as_deref(),
                e.anonymous_id.as_deref(),
                e.channel.as_deref(),
                e.source.as_deref(),
                e.medium.as_deref(),
                e.campaign.as_deref(),
                e.url.as_deref(),
                e.referrer.as_deref(),
                e.survey.as_deref(),
                e.text.as_deref(),
                Some(&e.properties),
                e.previous_id.as_deref(),
            ];
            for (b, v) in texts.iter_mut().zip(values) {
                b.append_option(v);
            }
        }
        let mut t = texts.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef);
        let mut text = || t.next().ok_or_else(|| StoreError::Internal("staged column count".into()));
        let (event_id, kind, event, user_id, anonymous_id) = (text()?, text()?, text()?, text()?, text()?);
        let (channel, source, medium, campaign, url, referrer) = (text()?, text()?, text()?, text()?, text()?, text()?);
        let (survey, text_col, properties, previous) = (text()?, text()?, text()?, text()?);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(ts.finish()),
            Arc::new(kind_code.finish()),
            event_id,
            Arc::new(received.finish()),
            kind,
            event,
            user_id,
            anonymous_id,
            channel,
            source,
            medium,
            campaign,
            url,
            referrer,
            Arc::new(revenue.finish()),
            Arc::new(score.finish()),
            survey,
            text_col,
            properties,
            previous,
        ];
        let batch = RecordBatch::try_new(staged_schema(), columns)
            .map_err(|e| StoreError::Internal(format!("staged batch: {e}")))?;
        Ok(EventRows { batch, keys })
    }

    /// [`from_events`](Self::from_events) on pieces of the events at once;
    /// the pieces are in order.
    pub fn from_events_parallel(events: &[Event]) -> Result<Vec<EventRows>, StoreError> {
        events.par_chunks(PIECE_ROWS).map(EventRows::from_events).collect()
    }

    pub fn len(&self) -> usize {
        self.batch.num_rows()
    }

    pub fn is_empty(&self) -> bool {
        self.batch.num_rows() == 0
    }
}

/// Writes a sorted partition batch as a run (Arrow IPC, not synced).
pub(crate) fn write_run(path: &Path, batch: &RecordBatch) -> Result<(), StoreError> {
    let io = |e: std::io::Error| StoreError::io(path, e);
    let arrow = |e: arrow_schema::ArrowError| StoreError::io(path, std::io::Error::other(e));
    let file = File::create(path).map_err(io)?;
    let mut w = arrow_ipc::writer::FileWriter::try_new(BufWriter::with_capacity(1 << 20, file), &batch.schema())
        .map_err(arrow)?;
    w.write(batch).map_err(arrow)?;
    w.finish().map_err(arrow)?;
    Ok(())
}

/// Reads a run written by [`write_run`].
pub(crate) fn read_run(path: &Path) -> Result<RecordBatch, StoreError> {
    let corrupt = |e: arrow_schema::ArrowError| StoreError::Corrupt(format!("{}: {e}", path.display()));
    let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let reader =
        arrow_ipc::reader::FileReader::try_new(BufReader::with_capacity(1 << 20, file), None).map_err(corrupt)?;
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().map_err(corrupt)?;
    match batches.len() {
        1 => Ok(batches.into_iter().next().unwrap_or_else(|| RecordBatch::new_empty(schema))),
        _ => arrow_select::concat::concat_batches(&schema, &batches).map_err(|e| StoreError::Internal(e.to_string())),
    }
}

/// A row's place in a segment: (customer, timestamp, seq).
pub(crate) type SortKey = (u32, i64, u64);

/// The (customer, timestamp, seq) columns of a segment batch.
type KeyColumns<'a> = (&'a [u32], &'a [i64], &'a [u64]);

fn sort_keys(b: &RecordBatch) -> Result<KeyColumns<'_>, StoreError> {
    let bad = || StoreError::Corrupt("segment core columns have unexpected types".into());
    let c = b.column(Col::Customer.index()).as_primitive_opt::<UInt32Type>().ok_or_else(bad)?;
    let t = b.column(Col::Timestamp.index()).as_primitive_opt::<TimestampMicrosecondType>().ok_or_else(bad)?;
    let s = b.column(Col::Seq.index()).as_primitive_opt::<UInt64Type>().ok_or_else(bad)?;
    Ok((c.values(), t.values(), s.values()))
}

/// The order that merges segment batches, each sorted by (customer,
/// timestamp, seq), into one: (batch, row) pairs.
pub(crate) fn merge_order(sources: &[RecordBatch]) -> Result<Vec<(usize, usize)>, StoreError> {
    let keys: Vec<KeyColumns<'_>> = sources.iter().map(sort_keys).collect::<Result<_, _>>()?;
    let total: usize = sources.iter().map(RecordBatch::num_rows).sum();
    let mut order = Vec::with_capacity(total);
    let key = |src: usize, row: usize| (keys[src].0[row], keys[src].1[row], keys[src].2[row]);
    let mut heap: BinaryHeap<Reverse<(SortKey, usize)>> = BinaryHeap::with_capacity(sources.len());
    let mut next = vec![0usize; sources.len()];
    for (src, b) in sources.iter().enumerate() {
        if b.num_rows() > 0 {
            heap.push(Reverse((key(src, 0), src)));
        }
    }
    while let Some(Reverse((_, src))) = heap.pop() {
        let row = next[src];
        order.push((src, row));
        next[src] += 1;
        // Take the source's following rows while they stay ahead of every
        // other source (runs of one customer are long).
        let len = sources[src].num_rows();
        let bound = heap.peek().map(|Reverse((k, _))| *k);
        while next[src] < len && bound.is_none_or(|b| key(src, next[src]) < b) {
            order.push((src, next[src]));
            next[src] += 1;
        }
        if next[src] < len {
            heap.push(Reverse((key(src, next[src]), src)));
        }
    }
    Ok(order)
}

/// The rows at `order` of `sources` (batches of one schema) as one batch.
pub(crate) fn gather(sources: &[RecordBatch], order: &[(usize, usize)]) -> Result<RecordBatch, StoreError> {
    let schema =
        sources.first().map(RecordBatch::schema).ok_or_else(|| StoreError::Internal("gather from nothing".into()))?;
    let columns: Vec<ArrayRef> = (0..schema.fields().len())
        .map(|i| {
            let arrays: Vec<&dyn Array> = sources.iter().map(|b| b.column(i).as_ref()).collect();
            arrow_select::interleave::interleave(&arrays, order)
        })
        .collect::<Result<_, _>>()
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    RecordBatch::try_new(schema, columns).map_err(|e| StoreError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{TimestampMicrosecondArray, UInt32Array, UInt64Array};

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

    #[test]
    fn merging_sorted_runs_gives_the_sorted_whole() {
        let a = keyed(&[(1, 5, 0), (1, 9, 3), (2, 1, 4), (7, 0, 8)]);
        let b = keyed(&[(1, 5, 1), (3, 0, 2), (3, 0, 9)]);
        let c = keyed(&[]);
        let d = keyed(&[(0, 0, 7), (9, 9, 5)]);
        let order = merge_order(&[a.clone(), b.clone(), c, d.clone()]).unwrap();
        assert_eq!(order.len(), 9);
        let merged = gather(&[a, b, keyed(&[]), d], &order).unwrap();
        let (cs, ts, ss) = sort_keys(&merged).unwrap();
        let got: Vec<(u32, i64, u64)> = (0..merged.num_rows()).map(|i| (cs[i], ts[i], ss[i])).collect();
        let mut want = got.clone();
        want.sort();
        assert_eq!(got, want);
        assert_eq!(got.first(), Some(&(0, 0, 7)));
        assert_eq!(got.last(), Some(&(9, 9, 5)));
        // Equal (customer, timestamp): seq decides.
        assert_eq!(&got[1..3], &[(1, 5, 0), (1, 5, 1)]);
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
        let ev = rows.batch.column(staged_index(Col::Event).unwrap()).as_string::<i32>();
        assert_eq!(ev.value(0), "Signed Up");
        let pieces = EventRows::from_events_parallel(&vec![Event::new("x", 1, "A"); PIECE_ROWS + 3]).unwrap();
        assert_eq!(pieces.iter().map(EventRows::len).collect::<Vec<_>>(), vec![PIECE_ROWS, 3]);
    }
}
