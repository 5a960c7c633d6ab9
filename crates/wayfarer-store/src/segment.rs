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

use arrow_array::builder::{
    Float64Builder, StringBuilder, TimestampMicrosecondBuilder, UInt8Builder, UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch, RecordBatchReader, UInt32Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

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

    fn data_type(self) -> DataType {
        match self {
            Col::Customer | Col::EventCode | Col::ChannelCode => DataType::UInt32,
            Col::Seq => DataType::UInt64,
            Col::KindCode => DataType::UInt8,
            Col::Timestamp | Col::ReceivedAt => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Col::Revenue | Col::Score => DataType::Float64,
            _ => DataType::Utf8,
        }
    }

    fn nullable(self) -> bool {
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

/// One row as the writer sees it (borrowed from an event).
#[derive(Debug, Clone, Copy)]
pub struct RowRef<'a> {
    pub customer: u32,
    pub seq: u64,
    pub event_code: u32,
    pub channel_code: Option<u32>,
    pub event: &'a wayfarer_core::Event,
}

/// Builds a record batch from rows already in order.
pub fn batch_from_rows(rows: &[RowRef<'_>]) -> Result<RecordBatch, StoreError> {
    let n = rows.len();
    let mut customer = UInt32Builder::with_capacity(n);
    let mut ts = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut seq = UInt64Builder::with_capacity(n);
    let mut event_code = UInt32Builder::with_capacity(n);
    let mut channel_code = UInt32Builder::with_capacity(n);
    let mut kind_code = UInt8Builder::with_capacity(n);
    let mut received = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut revenue = Float64Builder::with_capacity(n);
    let mut score = Float64Builder::with_capacity(n);
    let mut strings: Vec<StringBuilder> = (0..14).map(|_| StringBuilder::with_capacity(n, n * 8)).collect();
    for r in rows {
        let e = r.event;
        customer.append_value(r.customer);
        ts.append_value(e.timestamp);
        seq.append_value(r.seq);
        event_code.append_value(r.event_code);
        channel_code.append_option(r.channel_code);
        kind_code.append_value(e.kind.code());
        received.append_value(e.received_at);
        revenue.append_option(e.revenue);
        score.append_option(e.score);
        let texts: [Option<&str>; 14] = [
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
        ];
        for (b, t) in strings.iter_mut().zip(texts) {
            b.append_option(t);
        }
    }
    let mut s: Vec<ArrayRef> = strings.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef).collect();
    // Order of `texts` above: event_id, kind, event, user_id, anonymous_id, channel, source,
    // medium, campaign, url, referrer, survey, text, properties.
    let properties = s.pop();
    let text = s.pop();
    let survey = s.pop();
    let mut it = s.into_iter();
    let mut next = || it.next().ok_or_else(|| StoreError::Internal("column builder count".into()));
    let event_id = next()?;
    let kind = next()?;
    let event = next()?;
    let user_id = next()?;
    let anonymous_id = next()?;
    let channel = next()?;
    let source = next()?;
    let medium = next()?;
    let campaign = next()?;
    let url = next()?;
    let referrer = next()?;
    let missing = || StoreError::Internal("column builder count".into());
    let columns: Vec<ArrayRef> = vec![
        Arc::new(customer.finish()),
        Arc::new(ts.finish()),
        Arc::new(seq.finish()),
        Arc::new(event_code.finish()),
        Arc::new(channel_code.finish()),
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
        survey.ok_or_else(missing)?,
        text.ok_or_else(missing)?,
        properties.ok_or_else(missing)?,
    ];
    RecordBatch::try_new(schema(), columns).map_err(|e| StoreError::Internal(format!("segment batch: {e}")))
}

/// Rows per Parquet row group: large enough for fast scans, small enough
/// that a reader can stream.
const ROW_GROUP_ROWS: usize = 256 * 1024;

/// Writes the batches as a Parquet segment at `path`; returns the rows and
/// the file, not yet synced (the caller syncs it, times that apart, and
/// renames it into place).
pub fn write_segment(path: &Path, batches: &[RecordBatch]) -> Result<(u64, File), StoreError> {
    let file = File::create(path).map_err(|e| StoreError::io(path, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by("wayfarer".to_string())
        .build();
    let mut writer = ArrowWriter::try_new(file, schema(), Some(props))
        .map_err(|e| StoreError::Internal(format!("parquet writer: {e}")))?;
    let mut rows = 0u64;
    for b in batches {
        rows += b.num_rows() as u64;
        writer.write(b).map_err(|e| StoreError::io(path, std::io::Error::other(e)))?;
    }
    let file = writer.into_inner().map_err(|e| StoreError::io(path, std::io::Error::other(e)))?;
    Ok((rows, file))
}

/// Reads the given columns of a segment (in `Col` order) as one batch.
pub fn read_segment(path: &Path, cols: &[Col]) -> Result<RecordBatch, StoreError> {
    let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?;
    let mut sorted: Vec<Col> = cols.to_vec();
    sorted.sort();
    sorted.dedup();
    let mask = ProjectionMask::roots(builder.parquet_schema(), sorted.iter().map(|c| c.index()));
    let reader = builder
        .with_projection(mask)
        .with_batch_size(1 << 20)
        .build()
        .map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?;
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
