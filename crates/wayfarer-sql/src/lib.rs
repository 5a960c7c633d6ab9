//! SQL over a data directory with Apache DataFusion (the `sql` feature):
//! the committed Parquet segments — exactly the files the manifest names,
//! never staging or files a commit superseded — are the table `events`
//! (the canonical columns of DESIGN §2 plus `customer`, `seq` and the
//! dictionary codes). Read-only: DDL, DML and statements are refused, so a
//! query cannot create, copy or change files. Results stop at a row limit.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type,
    UInt64Type,
};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::context::{SQLOptions, SessionContext};
use serde::Serialize;
use serde_json::Value;
use wayfarer_store::Store;

#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error(transparent)]
    Store(#[from] wayfarer_store::StoreError),
    /// The query is invalid, refused (not read-only) or failed on the data.
    #[error("{0}")]
    Query(String),
    #[error("the data directory has no events yet")]
    Empty,
}

impl From<datafusion::error::DataFusionError> for SqlError {
    fn from(e: datafusion::error::DataFusionError) -> SqlError {
        // DataFusion's messages start with the error kind; keep the useful part.
        SqlError::Query(e.to_string())
    }
}

/// A query's answer: columns, rows as JSON values, and whether the row
/// limit cut it short.
#[derive(Debug, Clone, Serialize)]
pub struct SqlResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    pub row_limit: usize,
    pub truncated: bool,
}

/// Runs a read-only query over the data directory.
pub async fn query(dir: &Path, sql: &str, row_limit: usize) -> Result<SqlResult, SqlError> {
    let store = Store::open(dir)?;
    let files: Vec<String> =
        store.manifest().segments.iter().map(|s| dir.join(&s.file).display().to_string()).collect();
    if files.is_empty() {
        return Err(SqlError::Empty);
    }
    let ctx = SessionContext::new();
    let urls = files.iter().map(ListingTableUrl::parse).collect::<Result<Vec<_>, _>>()?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config =
        ListingTableConfig::new_with_multi_paths(urls).with_listing_options(options).infer_schema(&ctx.state()).await?;
    ctx.register_table("events", Arc::new(ListingTable::try_new(config)?))?;
    let read_only = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
    let df = ctx.sql_with_options(sql, read_only).await?;
    let columns: Vec<String> = df.schema().fields().iter().map(|f| f.name().clone()).collect();
    let batches = df.limit(0, Some(row_limit + 1))?.collect().await?;
    let mut rows = Vec::new();
    for b in &batches {
        rows.extend(batch_rows(b)?);
    }
    let truncated = rows.len() > row_limit;
    rows.truncate(row_limit);
    Ok(SqlResult { columns, rows, row_limit, truncated })
}

fn batch_rows(b: &RecordBatch) -> Result<Vec<Vec<Value>>, SqlError> {
    let cols: Vec<Vec<Value>> = b.columns().iter().map(column_values).collect::<Result<_, _>>()?;
    Ok((0..b.num_rows()).map(|r| cols.iter().map(|c| c[r].clone()).collect()).collect())
}

/// A column as JSON: numbers and booleans as such, everything else as the
/// text Arrow displays (timestamps in RFC 3339).
fn column_values(a: &ArrayRef) -> Result<Vec<Value>, SqlError> {
    macro_rules! numbers {
        ($t:ty) => {{
            let p = a.as_primitive::<$t>();
            (0..a.len()).map(|i| if p.is_null(i) { Value::Null } else { serde_json::json!(p.value(i)) }).collect()
        }};
    }
    Ok(match a.data_type() {
        DataType::Int8 => numbers!(Int8Type),
        DataType::Int16 => numbers!(Int16Type),
        DataType::Int32 => numbers!(Int32Type),
        DataType::Int64 => numbers!(Int64Type),
        DataType::UInt8 => numbers!(UInt8Type),
        DataType::UInt16 => numbers!(UInt16Type),
        DataType::UInt32 => numbers!(UInt32Type),
        DataType::UInt64 => numbers!(UInt64Type),
        DataType::Float32 => numbers!(Float32Type),
        DataType::Float64 => numbers!(Float64Type),
        DataType::Boolean => {
            let p = a.as_boolean();
            (0..a.len()).map(|i| if p.is_null(i) { Value::Null } else { Value::Bool(p.value(i)) }).collect()
        }
        _ => {
            let options = FormatOptions::default();
            let f = ArrayFormatter::try_new(a.as_ref(), &options).map_err(|e| SqlError::Query(e.to_string()))?;
            (0..a.len())
                .map(|i| if a.is_null(i) { Value::Null } else { Value::String(f.value(i).to_string()) })
                .collect()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wayfarer_core::Event;

    fn store_with(dir: &Path, n: usize) {
        let mut w = wayfarer_store::Writer::open(dir, 0).unwrap();
        let events: Vec<Event> = (0..n)
            .map(|i| {
                let mut e =
                    Event::new(format!("e{i}"), 1_767_225_600_000_000 + i as i64 * 1_000_000, "Order Completed");
                e.user_id = Some(format!("u{}", i % 3));
                e.revenue = Some(10.0 + i as f64);
                e
            })
            .collect();
        w.add(events).unwrap();
        w.commit().unwrap();
    }

    #[tokio::test]
    async fn queries_the_committed_events_read_only_with_a_row_limit() {
        let t = tempfile::tempdir().unwrap();
        assert!(matches!(query(t.path(), "SELECT 1", 10).await, Err(SqlError::Empty | SqlError::Store(_))));
        store_with(t.path(), 30);
        let r = query(
            t.path(),
            "SELECT user_id, count(*) AS n, sum(revenue) AS revenue FROM events GROUP BY user_id ORDER BY user_id",
            10,
        )
        .await
        .unwrap();
        assert_eq!(r.columns, ["user_id", "n", "revenue"]);
        assert_eq!(r.rows.len(), 3);
        assert_eq!(r.rows[0][0], "u0");
        assert_eq!(r.rows[0][1], 10);
        assert_eq!(
            r.rows.iter().map(|row| row[2].as_f64().unwrap()).sum::<f64>(),
            (0..30).map(|i| 10.0 + f64::from(i)).sum::<f64>()
        );
        let limited = query(t.path(), "SELECT event_id FROM events", 7).await.unwrap();
        assert_eq!((limited.rows.len(), limited.truncated), (7, true));
        for bad in [
            "CREATE TABLE x AS SELECT 1",
            "COPY (SELECT 1) TO '/tmp/wayfarer-sql-test.csv'",
            "INSERT INTO events SELECT * FROM events",
            "SET datafusion.execution.batch_size = 1",
            "SELEC nonsense",
        ] {
            assert!(matches!(query(t.path(), bad, 10).await, Err(SqlError::Query(_))), "{bad}");
        }
        assert!(!Path::new("/tmp/wayfarer-sql-test.csv").exists());
    }
}
