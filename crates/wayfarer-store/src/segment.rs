//! Segment files: Parquet, one per (partition, write), rows sorted by
//! (customer, timestamp, seq). The layout is documented so DuckDB, Polars or
//! Spark can read the data directory directly:
//!
//! | column | type | meaning |
//! |---|---|---|
//! | customer | UInt32 | canonical customer (ident; see identity.parquet) |
//! | timestamp | Timestamp(µs, UTC) | when it happened |
//! | seq | UInt64 | arrival order (ties in timestamp keep it) |
//! | event_code, channel_code, kind_code | UInt32/UInt32/UInt8 | store-wide dictionary codes (manifest) |
//! | event_id … properties | as DESIGN §2 | the canonical event |
//!
//! Reading projects columns: the journey folds read a few integer columns and
//! only the text columns they need.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchReader, UInt32Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReaderBuilder, RowSelection};
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::StoreError;

/// Columns of a segment, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Col {
    Customer,
    Timestamp,
    Seq,
    EventCode,
    ChannelCode,
    KindCode,
    EventId,
    ReceivedAt,
    Kind,
    Event,
    UserId,
    AnonymousId,
    Channel,
    Source,
    Medium,
    Campaign,
    Url,
    Referrer,
    Revenue,
    Score,
    Survey,
    Text,
    Properties,
}

impl Col {
    pub const ALL: [Col; 23] = [
        Col::Customer,
        Col::Timestamp,
        Col::Seq,
        Col::EventCode,
        Col::ChannelCode,
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

    /// The columns every timeline read includes.
    pub const CORE: [Col; 6] =
        [Col::Customer, Col::Timestamp, Col::Seq, Col::EventCode, Col::ChannelCode, Col::KindCode];

    pub fn name(self) -> &'static str {
        match self {
            Col::Customer => "customer",
            Col::Timestamp => "timestamp",
            Col::Seq => "seq",
            Col::EventCode => "event_code",
            Col::ChannelCode => "channel_code",
            Col::KindCode => "kind_code",
            Col::EventId => "event_id",
            Col::ReceivedAt => "received_at",
            Col::Kind => "kind",
            Col::Event => "event",
            Col::UserId => "user_id",
            Col::AnonymousId => "anonymous_id",
            Col::Channel => "channel",
            Col::Source => "source",
            Col::Medium => "medium",
            Col::Campaign => "campaign",
            Col::Url => "url",
            Col::Referrer => "referrer",
            Col::Revenue => "revenue",
            Col::Score => "score",
            Col::Survey => "survey",
            Col::Text => "text",
            Col::Properties => "properties",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn data_type(self) -> DataType {
        match self {
            Col::Customer | Col::EventCode | Col::ChannelCode => DataType::UInt32,
            Col::Seq => DataType::UInt64,
            Col::KindCode => DataType::UInt8,
            Col::Timestamp | Col::ReceivedAt => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Col::Revenue | Col::Score => DataType::Float64,
            _ => DataType::Utf8,
        }
    }

    pub(crate) fn nullable(self) -> bool {
        !matches!(
            self,
            Col::Customer
                | Col::Timestamp
                | Col::Seq
                | Col::EventCode
                | Col::KindCode
                | Col::EventId
                | Col::ReceivedAt
                | Col::Kind
                | Col::Event
                | Col::Properties
        )
    }
}

/// The Arrow schema of every segment.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(
        Col::ALL.iter().map(|c| Field::new(c.name(), c.data_type(), c.nullable())).collect::<Vec<_>>(),
    ))
}

/// The schema of a partition's rows on their way to a segment (a bulk
/// load's runs): the kind, event and channel texts, written from their
/// codes as the segment is encoded, are empty until then.
pub(crate) fn pending_schema() -> SchemaRef {
    let derived = [Col::Kind, Col::Event, Col::Channel];
    Arc::new(Schema::new(
        Col::ALL
            .iter()
            .map(|c| Field::new(c.name(), c.data_type(), c.nullable() || derived.contains(c)))
            .collect::<Vec<_>>(),
    ))
}

/// Rows per Parquet row group: large enough for fast scans, small enough
/// that a reader can stream.
pub(crate) const ROW_GROUP_ROWS: usize = 256 * 1024;

/// Text columns written without statistics: ids, URLs, free text and
/// properties.
const NO_STATISTICS: [Col; 7] =
    [Col::EventId, Col::UserId, Col::AnonymousId, Col::Url, Col::Referrer, Col::Text, Col::Properties];

/// Columns written without a dictionary: ids and times, nearly all distinct.
const NO_DICTIONARY: [Col; 4] = [Col::EventId, Col::Seq, Col::Timestamp, Col::ReceivedAt];

/// The largest dictionary of a row group's properties (distinct values);
/// beyond it the rest of the row group is written plain.
const PROPERTIES_DICTIONARY: usize = 32 << 20;

/// A segment file being written: Parquet, one row group per
/// [`ROW_GROUP_ROWS`] rows, snappy; ids and times (nearly all distinct)
/// without a dictionary ([`NO_DICTIONARY`]); free text without statistics
/// ([`NO_STATISTICS`]).
pub(crate) struct SegmentFile {
    path: std::path::PathBuf,
    writer: ArrowWriter<File>,
    rows: u64,
}

impl SegmentFile {
    pub(crate) fn create(path: &Path) -> Result<SegmentFile, StoreError> {
        let file = File::create(path).map_err(|e| StoreError::io(path, e))?;
        let mut props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by("wayfarer".to_string());
        // Columns whose values are nearly all distinct: a dictionary would
        // intern every value of a row group (up to its size limit) only to
        // be given up.
        for c in NO_DICTIONARY {
            props = props.set_column_dictionary_enabled(ColumnPath::from(c.name()), false);
        }
        // Properties repeat (a page's, a product's): kept whole in the
        // dictionary, a reader that wants a few rows' (traits, one event's)
        // decompresses the distinct values and skips the others' indices,
        // instead of decompressing every row's text.
        props = props
            .set_column_dictionary_page_size_limit(ColumnPath::from(Col::Properties.name()), PROPERTIES_DICTIONARY);
        // Minimum and maximum of free text prune nothing (every row group
        // spans nearly the whole range) and cost a comparison per value.
        for c in NO_STATISTICS {
            props = props.set_column_statistics_enabled(ColumnPath::from(c.name()), EnabledStatistics::None);
        }
        let props = props.build();
        let writer = ArrowWriter::try_new(file, schema(), Some(props))
            .map_err(|e| StoreError::Internal(format!("parquet writer: {e}")))?;
        Ok(SegmentFile { path: path.to_path_buf(), writer, rows: 0 })
    }

    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), StoreError> {
        self.rows += batch.num_rows() as u64;
        self.writer.write(batch).map_err(|e| StoreError::io(&self.path, std::io::Error::other(e)))
    }

    /// Finishes the file; returns its rows and the file, not yet synced (the
    /// caller syncs it, times that apart, and renames it into place).
    pub(crate) fn finish(self) -> Result<(u64, File), StoreError> {
        let file = self.writer.into_inner().map_err(|e| StoreError::io(&self.path, std::io::Error::other(e)))?;
        Ok((self.rows, file))
    }
}

/// Reads the given columns of a segment (in `Col` order) as one batch.
pub fn read_segment(path: &Path, cols: &[Col]) -> Result<RecordBatch, StoreError> {
    read_segment_rows(path, cols, None)
}

/// Reads the given columns of a segment's selected rows (all rows without
/// a selection) as one batch. Skipped values are not decoded.
pub fn read_segment_rows(path: &Path, cols: &[Col], rows: Option<RowSelection>) -> Result<RecordBatch, StoreError> {
    let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?;
    let mut sorted: Vec<Col> = cols.to_vec();
    sorted.sort();
    sorted.dedup();
    let mask = ProjectionMask::roots(builder.parquet_schema(), sorted.iter().map(|c| c.index()));
    let mut builder = builder.with_projection(mask).with_batch_size(1 << 20);
    if let Some(rows) = rows {
        builder = builder.with_row_selection(rows);
    }
    let reader = builder.build().map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?;
    let schema = reader.schema();
    let mut batches = Vec::new();
    for b in reader {
        batches.push(b.map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?);
    }
    arrow_select::concat::concat_batches(&schema, &batches).map_err(|e| StoreError::Internal(e.to_string()))
}

/// The rows of a batch read with every column as events (for deriving
/// facts again); the channel is left unset.
pub fn events_of(batch: &RecordBatch) -> Result<Vec<wayfarer_core::Event>, StoreError> {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, TimestampMicrosecondType};
    let missing = |c: Col| StoreError::Corrupt(format!("segment lacks column {}", c.name()));
    let text = |c: Col| batch.column_by_name(c.name()).and_then(|a| a.as_string_opt::<i32>()).ok_or_else(|| missing(c));
    let num = |c: Col| {
        batch.column_by_name(c.name()).and_then(|a| a.as_primitive_opt::<Float64Type>()).ok_or_else(|| missing(c))
    };
    let time = |c: Col| {
        batch
            .column_by_name(c.name())
            .and_then(|a| a.as_primitive_opt::<TimestampMicrosecondType>())
            .ok_or_else(|| missing(c))
    };
    let (ts, received) = (time(Col::Timestamp)?, time(Col::ReceivedAt)?);
    let (revenue, score) = (num(Col::Revenue)?, num(Col::Score)?);
    let [
        event_id,
        kind,
        event,
        user_id,
        anonymous_id,
        source,
        medium,
        campaign,
        url,
        referrer,
        survey,
        text_col,
        properties,
    ] = [
        Col::EventId,
        Col::Kind,
        Col::Event,
        Col::UserId,
        Col::AnonymousId,
        Col::Source,
        Col::Medium,
        Col::Campaign,
        Col::Url,
        Col::Referrer,
        Col::Survey,
        Col::Text,
        Col::Properties,
    ]
    .map(text);
    let (event_id, kind, event, user_id, anonymous_id) = (event_id?, kind?, event?, user_id?, anonymous_id?);
    let (source, medium, campaign, url, referrer) = (source?, medium?, campaign?, url?, referrer?);
    let (survey, text_col, properties) = (survey?, text_col?, properties?);
    let opt = |a: &arrow_array::StringArray, i: usize| (!a.is_null(i)).then(|| a.value(i).to_string());
    let optf = |a: &arrow_array::Float64Array, i: usize| (!a.is_null(i)).then(|| a.value(i));
    (0..batch.num_rows())
        .map(|i| {
            let k = kind.value(i);
            Ok(wayfarer_core::Event {
                event_id: event_id.value(i).to_string(),
                timestamp: ts.value(i),
                received_at: received.value(i),
                kind: wayfarer_core::Kind::parse(k)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown kind '{k}'")))?,
                event: event.value(i).to_string(),
                user_id: opt(user_id, i),
                anonymous_id: opt(anonymous_id, i),
                previous_id: None,
                channel: None,
                source: opt(source, i),
                medium: opt(medium, i),
                campaign: opt(campaign, i),
                url: opt(url, i),
                referrer: opt(referrer, i),
                revenue: optf(revenue, i),
                score: optf(score, i),
                survey: opt(survey, i),
                text: opt(text_col, i),
                properties: properties.value(i).to_string(),
            })
        })
        .collect()
}

/// `channel` of an event that carries no traffic information.
pub const NO_CHANNEL: u32 = u32::MAX;

/// The rows of a batch at these indices, in that order.
pub(crate) fn take_rows(batch: &RecordBatch, idx: &UInt32Array) -> Result<RecordBatch, StoreError> {
    let cols: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| arrow_select::take::take(c.as_ref(), idx, None))
        .collect::<Result<_, _>>()
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    RecordBatch::try_new(batch.schema(), cols).map_err(|e| StoreError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Writer;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    #[test]
    fn free_text_is_written_without_statistics_keys_with_them_and_ids_without_a_dictionary() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::open(dir.path(), 0).unwrap();
        let mut e = wayfarer_core::Event::new("e1", 10, "Signed Up");
        e.user_id = Some("u1".into());
        e.url = Some("https://example.com/a".into());
        w.add(vec![e]).unwrap();
        w.commit().unwrap();
        let manifest = crate::Manifest::load(dir.path()).unwrap().unwrap();
        let file = File::open(dir.path().join(&manifest.segments[0].file)).unwrap();
        let meta = SerializedFileReader::new(file).unwrap().metadata().clone();
        let group = meta.row_group(0);
        let stats = |c: Col| group.column(c.index()).statistics().is_some();
        for c in NO_STATISTICS {
            assert!(!stats(c), "{}", c.name());
        }
        assert!(stats(Col::Timestamp) && stats(Col::Customer) && stats(Col::Event));
        // Ids and times are written plain; names through a dictionary.
        let dictionary = |c: Col| group.column(c.index()).dictionary_page_offset().is_some();
        for c in [Col::EventId, Col::Seq, Col::Timestamp, Col::ReceivedAt] {
            assert!(!dictionary(c), "{}", c.name());
        }
        assert!(dictionary(Col::UserId) && dictionary(Col::Event) && dictionary(Col::Customer));
    }

    #[test]
    fn repeated_properties_stay_in_the_dictionary_beyond_its_default_size() {
        // 20k distinct properties of ~100 bytes (2 MB, twice Parquet's
        // default dictionary limit), each used three times.
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::open(dir.path(), 0).unwrap();
        let events: Vec<wayfarer_core::Event> = (0..60_000)
            .map(|i| {
                let mut e = wayfarer_core::Event::new(format!("e{i}"), 10 + i, "Page Viewed");
                e.user_id = Some("u1".into());
                e.properties = format!(r#"{{"path":"/p/{:05}","title":"{}"}}"#, i % 20_000, "t".repeat(70));
                e
            })
            .collect();
        w.add(events).unwrap();
        w.commit().unwrap();
        let manifest = crate::Manifest::load(dir.path()).unwrap().unwrap();
        let file = File::open(dir.path().join(&manifest.segments[0].file)).unwrap();
        let meta = SerializedFileReader::new(file).unwrap().metadata().clone();
        let chunk = meta.row_group(0).column(Col::Properties.index());
        // In the dictionary: the distinct values (~2 MB) and small indices.
        // Falling back to plain pages at 1 MB would write most rows' text
        // again (~5 MB more).
        let size = chunk.uncompressed_size();
        assert!(size < 3_000_000, "the properties fell back to plain pages: {size} bytes");
    }
}
