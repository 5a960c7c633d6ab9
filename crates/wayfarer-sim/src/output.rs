//! Writing the company's events: NDJSON of Segment messages exactly as the
//! client libraries send them (one per line, in time order, serialised with
//! serde from small borrowed structs, rendered in parallel chunks), and the
//! same events as flat Parquet rows (the documented columns, properties as
//! JSON text).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use rayon::prelude::*;
use serde::Serialize;
use wayfarer_core::Kind;

use crate::customer::CustomerMeta;
use crate::event::{Ev, SRC_SERVER, format_ts, members, message_id, push_json_num, push_json_str};
use crate::model::Platform;
use crate::{Company, SimError};

/// Events per rendering chunk, and chunks rendered at once.
const CHUNK: usize = 16_384;
const GROUP: usize = 8;
/// Rows per Parquet record batch.
const BATCH: usize = 65_536;

#[derive(Serialize)]
struct Msg<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "messageId")]
    message_id: &'a str,
    timestamp: &'a str,
    #[serde(rename = "userId", skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    #[serde(rename = "anonymousId", skip_serializing_if = "Option::is_none")]
    anonymous_id: Option<&'a str>,
    #[serde(rename = "previousId", skip_serializing_if = "Option::is_none")]
    previous_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'a str>,
    context: Ctx<'a>,
}

#[derive(Serialize)]
struct Ctx<'a> {
    library: Lib,
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<PageOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    campaign: Option<CampaignOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app: Option<AppOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<DeviceOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    os: Option<OsOut>,
    #[serde(rename = "userAgent", skip_serializing_if = "Option::is_none")]
    user_agent: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    locale: Option<&'static str>,
}

#[derive(Serialize)]
struct Lib {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct PageOut<'a> {
    path: &'a str,
    referrer: &'a str,
    search: &'a str,
    title: &'a str,
    url: &'a str,
}

#[derive(Serialize)]
struct CampaignOut<'a> {
    source: &'a str,
    medium: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    term: Option<&'a str>,
}

#[derive(Serialize)]
struct AppOut {
    name: &'static str,
    version: &'static str,
    build: &'static str,
    namespace: &'static str,
}

#[derive(Serialize)]
struct DeviceOut<'a> {
    id: &'a str,
    manufacturer: &'static str,
    model: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct OsOut {
    name: &'static str,
    version: &'static str,
}

const WEB_LIB: Lib = Lib { name: "analytics.js", version: "next-1.70.0" };
const SERVER_LIB: Lib = Lib { name: "analytics-node", version: "2.1.2" };
const IOS_LIB: Lib = Lib { name: "analytics-swift", version: "1.6.2" };
const ANDROID_LIB: Lib = Lib { name: "analytics-kotlin", version: "1.16.3" };

/// Appends JSON object members to a string, handling the commas.
struct Members<'s> {
    out: &'s mut String,
    first: bool,
}

impl<'s> Members<'s> {
    fn open(out: &'s mut String) -> Members<'s> {
        out.push('{');
        Members { out, first: true }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_json_str(self.out, k);
        self.out.push(':');
    }

    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        push_json_str(self.out, v);
    }

    fn num(&mut self, k: &str, v: f64) {
        self.key(k);
        push_json_num(self.out, v);
    }

    /// Appends the members of a JSON object text.
    fn rest(&mut self, obj: &str) {
        let m = members(obj);
        if m.is_empty() {
            return;
        }
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push_str(m);
    }

    fn close(self) {
        self.out.push('}');
    }
}

/// Segment `properties` of a track, page or screen call.
fn segment_properties(e: &Ev, out: &mut String) {
    let mut m = Members::open(out);
    if e.kind == Kind::Page
        && let Some(p) = &e.page
    {
        m.str("path", p.path());
        m.str("referrer", &p.referrer);
        m.str("search", p.search());
        m.str("title", &p.title);
        m.str("url", &p.url);
    }
    special_members(e, &mut m);
    m.rest(&e.props);
    m.close();
}

fn special_members(e: &Ev, m: &mut Members<'_>) {
    if let Some(x) = &e.extra {
        if let Some(c) = x.channel {
            m.str("channel", c);
        }
        if let Some(r) = x.revenue {
            m.num("revenue", r);
        }
        if let Some(s) = x.survey {
            m.str("survey", s);
        }
        if let Some(s) = x.score {
            m.num("score", s);
        }
        if let Some(t) = &x.text {
            m.str(x.text_key, t);
        }
    }
}

/// The flat row's `properties`: everything without a column of its own.
fn flat_properties(e: &Ev, out: &mut String) {
    let mut m = Members::open(out);
    match e.kind {
        Kind::Page => {
            m.str("name", e.name);
            if let Some(p) = &e.page {
                m.str("category", p.category);
                m.str("path", p.path());
                m.str("title", &p.title);
                m.str("search", p.search());
            }
        }
        Kind::Screen => m.str("name", e.name),
        _ => {}
    }
    m.rest(&e.props);
    m.close();
}

/// Offset to write an event's timestamp with.
fn offset_of(e: &Ev, cust: &CustomerMeta) -> i32 {
    if !e.local_tz {
        0
    } else if cust.tz_minutes == 0 {
        120
    } else {
        cust.tz_minutes
    }
}

fn anonymous_id<'c>(e: &Ev, customers: &'c [CustomerMeta]) -> Option<&'c str> {
    if e.slot == 0 {
        return None;
    }
    customers.get(e.anon_owner as usize).map(|o| &*o.anon[usize::from(e.slot.min(2) - 1)])
}

/// Renders one event as a Segment message line.
pub(crate) fn write_message(
    buf: &mut Vec<u8>,
    e: &Ev,
    seed: u64,
    customers: &[CustomerMeta],
    scratch: &mut String,
) -> Result<(), serde_json::Error> {
    let Some(cust) = customers.get(e.cust as usize) else {
        return Ok(());
    };
    let message_id = message_id(seed, e.cust, e.seq);
    let ts = format_ts(e.ts, offset_of(e, cust));
    let anon = anonymous_id(e, customers);
    let device = if e.src == SRC_SERVER || e.slot == 0 {
        None
    } else {
        customers.get(e.anon_owner as usize).map(|o| &o.devices[usize::from(e.slot.min(2) - 1)])
    };
    let page = e.page.as_deref().map(|p| PageOut {
        path: p.path(),
        referrer: &p.referrer,
        search: p.search(),
        title: &p.title,
        url: &p.url,
    });
    let campaign = e.campaign.as_deref().map(|c| CampaignOut {
        source: &c.source,
        medium: c.medium,
        name: c.name.as_deref(),
        term: c.term,
    });
    let mut ctx = Ctx {
        library: SERVER_LIB,
        page,
        campaign,
        app: None,
        device: None,
        os: None,
        user_agent: None,
        ip: None,
        locale: None,
    };
    if let Some(d) = device {
        ctx.ip = Some(&*d.ip);
        ctx.locale = Some("en-US");
        if ctx.page.is_some() || !d.platform.is_app() {
            ctx.library = WEB_LIB;
            ctx.user_agent = Some(d.ua);
        } else {
            let ios = d.platform == Platform::Ios;
            ctx.library = if ios { IOS_LIB } else { ANDROID_LIB };
            ctx.app =
                Some(AppOut { name: "Northwind", version: "3.4.1", build: "341", namespace: "example.northwind.app" });
            ctx.device = Some(DeviceOut {
                id: anon.unwrap_or(""),
                manufacturer: d.manufacturer,
                model: d.model,
                kind: if ios { "ios" } else { "android" },
            });
            ctx.os = Some(OsOut { name: if ios { "iOS" } else { "Android" }, version: d.os_version });
        }
    }
    let msg = Msg {
        kind: e.kind.as_str(),
        message_id: &message_id,
        timestamp: &ts,
        user_id: cust.user_id(e.user),
        anonymous_id: anon,
        previous_id: if e.kind == Kind::Alias { cust.crm_id.as_deref() } else { None },
        event: (e.kind == Kind::Track).then_some(e.name),
        name: matches!(e.kind, Kind::Page | Kind::Screen).then_some(e.name),
        category: e.page.as_deref().filter(|_| e.kind == Kind::Page).map(|p| p.category),
        context: ctx,
    };
    serde_json::to_writer(&mut *buf, &msg)?;
    match e.kind {
        Kind::Track | Kind::Page | Kind::Screen => {
            buf.pop();
            buf.extend_from_slice(b",\"properties\":");
            scratch.clear();
            segment_properties(e, scratch);
            buf.extend_from_slice(scratch.as_bytes());
            buf.push(b'}');
        }
        Kind::Identify => {
            buf.pop();
            buf.extend_from_slice(b",\"traits\":");
            if e.props.is_empty() {
                buf.extend_from_slice(b"{}");
            } else {
                buf.extend_from_slice(e.props.as_bytes());
            }
            buf.push(b'}');
        }
        Kind::Group | Kind::Alias => {}
    }
    buf.push(b'\n');
    Ok(())
}

fn render_chunk(company: &Company, events: &[Ev]) -> Result<Vec<u8>, serde_json::Error> {
    let mut buf = Vec::with_capacity(events.len() * 700);
    let mut scratch = String::with_capacity(1024);
    for e in events {
        write_message(&mut buf, e, company.seed, &company.customers, &mut scratch)?;
    }
    Ok(buf)
}

fn io_error(path: &Path, source: std::io::Error) -> SimError {
    SimError::Io { path: path.to_path_buf(), source }
}

pub(crate) fn write_ndjson(company: &Company, path: &Path) -> Result<u64, SimError> {
    let file = File::create(path).map_err(|e| io_error(path, e))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let chunks: Vec<&[Ev]> = company.events.chunks(CHUNK).collect();
    for group in chunks.chunks(GROUP) {
        let rendered: Vec<Result<Vec<u8>, serde_json::Error>> =
            group.par_iter().map(|c| render_chunk(company, c)).collect();
        for r in rendered {
            let bytes = r.map_err(|source| SimError::Json { path: path.to_path_buf(), source })?;
            w.write_all(&bytes).map_err(|e| io_error(path, e))?;
        }
    }
    w.flush().map_err(|e| io_error(path, e))?;
    Ok(company.events.len() as u64)
}

/// The documented flat columns.
pub(crate) const PARQUET_COLUMNS: [&str; 18] = [
    "event_id",
    "type",
    "event",
    "user_id",
    "anonymous_id",
    "previous_id",
    "timestamp",
    "channel",
    "source",
    "medium",
    "campaign",
    "url",
    "referrer",
    "revenue",
    "score",
    "survey",
    "text",
    "properties",
];

pub(crate) fn parquet_schema() -> SchemaRef {
    let fields = PARQUET_COLUMNS
        .iter()
        .map(|&name| {
            let (data_type, nullable) = match name {
                "timestamp" => (DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
                "revenue" | "score" => (DataType::Float64, true),
                "event_id" | "type" | "event" | "properties" => (DataType::Utf8, false),
                _ => (DataType::Utf8, true),
            };
            Field::new(name, data_type, nullable)
        })
        .collect::<Vec<_>>();
    Arc::new(Schema::new(fields))
}

fn build_batch(company: &Company, events: &[Ev], schema: &SchemaRef) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let n = events.len();
    let customers = &company.customers;
    let mut strings: Vec<StringBuilder> = (0..15).map(|_| StringBuilder::with_capacity(n, n * 16)).collect();
    let mut ts = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut revenue = Float64Builder::with_capacity(n);
    let mut score = Float64Builder::with_capacity(n);
    let mut props = String::with_capacity(512);
    for e in events {
        let Some(cust) = customers.get(e.cust as usize) else {
            continue;
        };
        let id = message_id(company.seed, e.cust, e.seq);
        props.clear();
        flat_properties(e, &mut props);
        let page = e.page.as_deref();
        let camp = e.campaign.as_deref();
        let values: [Option<&str>; 15] = [
            Some(id.as_str()),
            Some(e.kind.as_str()),
            Some(e.event_name()),
            cust.user_id(e.user),
            anonymous_id(e, customers),
            if e.kind == Kind::Alias { cust.crm_id.as_deref() } else { None },
            e.channel(),
            camp.map(|c| &*c.source),
            camp.map(|c| c.medium),
            camp.and_then(|c| c.name.as_deref()),
            page.map(|p| &*p.url),
            page.and_then(|p| p.referrer()),
            e.survey(),
            e.text(),
            Some(props.as_str()),
        ];
        for (b, v) in strings.iter_mut().zip(values) {
            b.append_option(v);
        }
        ts.append_value(e.ts);
        revenue.append_option(e.revenue());
        score.append_option(e.score());
    }
    let mut cols: Vec<ArrayRef> = strings.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef).collect();
    // cols: 0 event_id, 1 type, 2 event, 3 user_id, 4 anonymous_id,
    // 5 previous_id, 6 channel, 7 source, 8 medium, 9 campaign, 10 url,
    // 11 referrer, 12 survey, 13 text, 14 properties.
    let properties = cols.pop();
    let text = cols.pop();
    let survey = cols.pop();
    let (Some(properties), Some(text), Some(survey)) = (properties, text, survey) else {
        return Err(arrow_schema::ArrowError::InvalidArgumentError("column count".into()));
    };
    let ts: ArrayRef = Arc::new(ts.finish());
    let revenue: ArrayRef = Arc::new(revenue.finish());
    let score: ArrayRef = Arc::new(score.finish());
    let mut ordered: Vec<ArrayRef> = Vec::with_capacity(18);
    ordered.extend(cols.drain(0..6));
    ordered.push(ts);
    ordered.append(&mut cols);
    ordered.push(revenue);
    ordered.push(score);
    ordered.push(survey);
    ordered.push(text);
    ordered.push(properties);
    RecordBatch::try_new(Arc::clone(schema), ordered)
}

pub(crate) fn write_parquet(company: &Company, path: &Path) -> Result<u64, SimError> {
    let arrow_err = |source: arrow_schema::ArrowError| SimError::Arrow { path: path.to_path_buf(), source };
    let parquet_err = |source: parquet::errors::ParquetError| SimError::Parquet { path: path.to_path_buf(), source };
    let schema = parquet_schema();
    let file = File::create(path).map_err(|e| io_error(path, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by("wayfarer-sim".to_string())
        .build();
    let mut writer = ArrowWriter::try_new(file, Arc::clone(&schema), Some(props)).map_err(parquet_err)?;
    let chunks: Vec<&[Ev]> = company.events.chunks(BATCH).collect();
    let mut rows = 0u64;
    for group in chunks.chunks(4) {
        let batches: Vec<Result<RecordBatch, arrow_schema::ArrowError>> =
            group.par_iter().map(|c| build_batch(company, c, &schema)).collect();
        for b in batches {
            let b = b.map_err(arrow_err)?;
            rows += b.num_rows() as u64;
            writer.write(&b).map_err(parquet_err)?;
        }
    }
    let _metadata = writer.close().map_err(parquet_err)?;
    Ok(rows)
}

/// The flat benchmark table (see `Company::write_bench_parquet`), written in
/// chunks of events so that very large companies need not fit in memory.
pub(crate) struct BenchWriter {
    writer: ArrowWriter<File>,
    schema: SchemaRef,
    row: i64,
    path: std::path::PathBuf,
}

/// The columns of the benchmark table: event_id, customer_id, timestamp,
/// event, revenue (the clickstream adds a channel).
pub(crate) fn bench_fields() -> Vec<Field> {
    vec![
        Field::new("event_id", DataType::Int64, false),
        Field::new("customer_id", DataType::Int64, false),
        Field::new("timestamp", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        Field::new("event", DataType::Utf8, false),
        Field::new("revenue", DataType::Float64, true),
    ]
}

impl BenchWriter {
    pub(crate) fn create(path: &Path) -> Result<BenchWriter, SimError> {
        let parquet_err =
            |source: parquet::errors::ParquetError| SimError::Parquet { path: path.to_path_buf(), source };
        let schema = Arc::new(Schema::new(bench_fields()));
        let file = File::create(path).map_err(|e| io_error(path, e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by("wayfarer-sim".to_string())
            .build();
        let writer = ArrowWriter::try_new(file, Arc::clone(&schema), Some(props)).map_err(parquet_err)?;
        Ok(BenchWriter { writer, schema, row: 0, path: path.to_path_buf() })
    }

    /// Appends the interaction events (track, page, screen) in the given order.
    pub(crate) fn write(&mut self, events: &[Ev]) -> Result<(), SimError> {
        use arrow_array::builder::Int64Builder;
        let path = self.path.clone();
        let arrow_err = |source: arrow_schema::ArrowError| SimError::Arrow { path: path.clone(), source };
        let parquet_err = |source: parquet::errors::ParquetError| SimError::Parquet { path: path.clone(), source };
        for chunk in events.chunks(BATCH * 4) {
            let (mut id, mut cust, mut ts) = (
                Int64Builder::with_capacity(chunk.len()),
                Int64Builder::with_capacity(chunk.len()),
                TimestampMicrosecondBuilder::with_capacity(chunk.len()).with_timezone("UTC"),
            );
            let mut event = StringBuilder::with_capacity(chunk.len(), chunk.len() * 14);
            let mut revenue = Float64Builder::with_capacity(chunk.len());
            for e in chunk {
                if !matches!(e.kind, Kind::Track | Kind::Page | Kind::Screen) {
                    continue;
                }
                id.append_value(self.row);
                self.row += 1;
                cust.append_value(e.cust as i64);
                ts.append_value(e.ts);
                event.append_value(e.event_name());
                revenue.append_option(e.revenue());
            }
            let cols: Vec<ArrayRef> = vec![
                Arc::new(id.finish()),
                Arc::new(cust.finish()),
                Arc::new(ts.finish()),
                Arc::new(event.finish()),
                Arc::new(revenue.finish()),
            ];
            let batch = RecordBatch::try_new(Arc::clone(&self.schema), cols).map_err(arrow_err)?;
            self.writer.write(&batch).map_err(parquet_err)?;
        }
        Ok(())
    }

    pub(crate) fn close(self) -> Result<u64, SimError> {
        let path = self.path.clone();
        self.writer.close().map_err(|source| SimError::Parquet { path, source })?;
        Ok(self.row as u64)
    }
}

/// The flat benchmark table of a generated company.
pub(crate) fn write_bench_parquet(company: &Company, path: &Path) -> Result<u64, SimError> {
    let mut w = BenchWriter::create(path)?;
    w.write(&company.events)?;
    w.close()
}
