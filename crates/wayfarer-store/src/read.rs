//! Reading timelines: one partition at a time. The integer columns come from
//! the segments' hot files ([`crate::hot`]); other columns are projected from
//! the Parquet files. Several segments of a partition are merged into one
//! order by (customer, timestamp, seq). Partitions are independent, so
//! callers fold them in parallel.

use std::ops::Range;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray, UInt32Array};

use crate::hot::{self, HotSegment, HotWant};
use crate::segment::{self, Col};
use crate::{Store, StoreError};

pub use crate::segment::NO_CHANNEL;

/// Which rows' properties a reader needs (see [`Store::read_partition_with`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PropertyRows {
    /// Every row's.
    #[default]
    All,
    /// Only those of rows of these kinds (codes) or events (codes); the
    /// others read as null.
    Of { kinds: Vec<u8>, events: Vec<u32> },
}

impl PropertyRows {
    fn wants(&self, kind: u8, event: u32) -> bool {
        match self {
            PropertyRows::All => true,
            PropertyRows::Of { kinds, events } => kinds.contains(&kind) || events.contains(&event),
        }
    }
}

/// The rows of one partition, sorted by (customer, timestamp, seq). Only the
/// columns that were asked for are filled.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    /// Canonical customer of each timeline.
    pub customers: Vec<u32>,
    /// First row of each timeline, then the number of rows.
    pub starts: Vec<u32>,
    pub ts: Vec<i64>,
    pub seq: Vec<u64>,
    pub event: Vec<u32>,
    pub channel: Vec<u32>,
    pub kind: Vec<u8>,
    /// Rows that carry revenue, ascending, and their values.
    pub rev_rows: Vec<u32>,
    pub rev_vals: Vec<f64>,
    /// Columns read from Parquet, in the same row order.
    extra: Option<RecordBatch>,
    /// Where each column of [`Col::ALL`] is in `extra`, plus one (0: absent);
    /// looked up per row, so not by name.
    extra_index: [u8; Col::ALL.len()],
}

fn index_extra(extra: Option<&RecordBatch>) -> [u8; Col::ALL.len()] {
    let mut idx = [0u8; Col::ALL.len()];
    if let Some(b) = extra {
        for c in Col::ALL {
            if let Ok(i) = b.schema().index_of(c.name()) {
                idx[c as usize] = (i + 1) as u8;
            }
        }
    }
    idx
}

impl Rows {
    /// Timelines from segment columns read elsewhere (an executor's scan of
    /// the segments), in any row order: the core columns, `revenue`, and
    /// any others by their segment names. Rows are put in (customer,
    /// timestamp, seq) order, as a partition read gives them.
    pub fn from_batch(batch: &RecordBatch) -> Result<Rows, StoreError> {
        let col = |c: Col| {
            batch.column_by_name(c.name()).ok_or_else(|| StoreError::Invalid(format!("no column {}", c.name())))
        };
        let customer = col(Col::Customer)?
            .as_primitive_opt::<arrow_array::types::UInt32Type>()
            .ok_or_else(|| StoreError::Invalid("customer is not u32".into()))?;
        let ts = col(Col::Timestamp)?
            .as_primitive_opt::<arrow_array::types::TimestampMicrosecondType>()
            .ok_or_else(|| StoreError::Invalid("timestamp is not in microseconds".into()))?;
        let seq = col(Col::Seq)?
            .as_primitive_opt::<arrow_array::types::UInt64Type>()
            .ok_or_else(|| StoreError::Invalid("seq is not u64".into()))?;
        let mut order: Vec<(u32, i64, u64, u32)> =
            (0..batch.num_rows()).map(|i| (customer.value(i), ts.value(i), seq.value(i), i as u32)).collect();
        order.sort_unstable();
        let indices = UInt32Array::from_iter_values(order.iter().map(|o| o.3));
        let sorted = arrow_select::take::take_record_batch(batch, &indices)
            .map_err(|e| StoreError::Internal(format!("ordering rows: {e}")))?;
        let h = hot::from_batch(&sorted)?;
        let keep: Vec<usize> = sorted
            .schema()
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| Col::ALL.iter().any(|c| c.name() == f.name() && !is_hot(*c)))
            .map(|(i, _)| i)
            .collect();
        let extra = if keep.is_empty() {
            None
        } else {
            Some(sorted.project(&keep).map_err(|e| StoreError::Internal(e.to_string()))?)
        };
        Ok(rows_from(h, extra))
    }

    pub fn len(&self) -> usize {
        self.starts.last().copied().unwrap_or(0) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each customer's row range, in customer order.
    pub fn timelines(&self) -> impl Iterator<Item = (u32, Range<usize>)> + '_ {
        self.customers.iter().enumerate().map(|(i, &c)| (c, self.starts[i] as usize..self.starts[i + 1] as usize))
    }

    /// A text column, if it was requested.
    pub fn text(&self, col: Col) -> Option<&StringArray> {
        self.extra_column(col)?.as_string_opt::<i32>()
    }

    fn extra_column(&self, col: Col) -> Option<&arrow_array::ArrayRef> {
        let i = self.extra_index[col as usize];
        if i == 0 { None } else { Some(self.extra.as_ref()?.column(usize::from(i) - 1)) }
    }

    /// Whether a column read from Parquet holds any value in this partition
    /// (a fold can skip looking at an empty one row by row).
    pub fn has_values(&self, col: Col) -> bool {
        self.extra_column(col).is_some_and(|a| a.null_count() < a.len())
    }

    /// A float column read from Parquet, if it was requested.
    pub fn float(&self, col: Col) -> Option<&Float64Array> {
        self.extra_column(col)?.as_primitive_opt::<Float64Type>()
    }

    /// A text value (None when null or not requested).
    pub fn str_at(&self, col: Col, row: usize) -> Option<&str> {
        let a = self.text(col)?;
        if a.is_null(row) { None } else { Some(a.value(row)) }
    }

    /// A float value (None when null or not requested). Revenue comes from
    /// the hot columns.
    pub fn f64_at(&self, col: Col, row: usize) -> Option<f64> {
        if col == Col::Revenue {
            return self.rev_rows.binary_search(&(row as u32)).ok().map(|i| self.rev_vals[i]);
        }
        let a = self.float(col)?;
        if a.is_null(row) { None } else { Some(a.value(row)) }
    }
}

/// The Parquet columns the hot columns are derived from.
const HOT_FROM_PARQUET: [Col; 7] =
    [Col::Customer, Col::Timestamp, Col::Seq, Col::EventCode, Col::ChannelCode, Col::KindCode, Col::Revenue];

/// Whether a column lives in the hot files.
pub fn is_hot(c: Col) -> bool {
    matches!(
        c,
        Col::Customer | Col::Timestamp | Col::Seq | Col::EventCode | Col::ChannelCode | Col::KindCode | Col::Revenue
    )
}

/// One partition seen through the postings of some event codes: its
/// timelines, and per code the interaction rows (ascending) and timestamps.
#[derive(Debug, Clone, Default)]
pub struct Postings {
    pub customers: Vec<u32>,
    pub starts: Vec<u32>,
    /// Timelines with at least one interaction.
    pub interactive: u64,
    pub lists: Vec<(u32, Vec<u32>, Vec<i64>)>,
    pub rev_rows: Vec<u32>,
    pub rev_vals: Vec<f64>,
}

impl Store {
    /// Reads the postings of `codes` in one partition; None when the
    /// partition has several segments (the caller reads rows instead).
    pub fn read_postings(&self, partition: u32, codes: &[u32], revenue: bool) -> Result<Option<Postings>, StoreError> {
        self.check_cancel()?;
        let segs: Vec<&crate::SegmentMeta> = self.manifest().segments_of(partition).collect();
        match segs.as_slice() {
            [] => Ok(Some(Postings { starts: vec![0], ..Postings::default() })),
            [s] => {
                let path = self.dir().join(&s.file);
                let hp = hot::hot_path(&path);
                let want = HotWant { revenue, postings: codes.to_vec(), ..HotWant::default() };
                let h = if hot::usable(&hp) {
                    hot::read(&hp, &want)?
                } else {
                    hot::project(hot::from_batch(&segment::read_segment(&path, &HOT_FROM_PARQUET)?)?, &want)
                };
                Ok(Some(Postings {
                    customers: h.customers,
                    starts: h.starts,
                    interactive: h.interactive,
                    lists: h.postings,
                    rev_rows: h.rev_rows,
                    rev_vals: h.rev_vals,
                }))
            }
            _ => Ok(None),
        }
    }

    /// Reads one partition: the hot columns among `cols` and the others from Parquet.
    pub fn read_partition(&self, partition: u32, cols: &[Col]) -> Result<Rows, StoreError> {
        self.read_partition_with(partition, cols, &PropertyRows::All)
    }

    /// [`read_partition`](Self::read_partition), reading the properties
    /// (when among `cols`) of only the rows `props` names: the column is
    /// usually the largest by far, and conditions on properties are mostly
    /// about a few events (and traits about identify calls).
    /// The customers with rows in segments written after segment `after`
    /// (every segment when `None`): whose timelines changed since then,
    /// also by a merge of identities (a merged customer's rows are moved
    /// into new segments).
    pub fn customers_since(&self, after: Option<u64>) -> Result<crate::CustomerSet, StoreError> {
        let mut customers = Vec::new();
        for s in self.manifest().segments.iter().filter(|s| after.is_none_or(|a| s.id > a)) {
            self.check_cancel()?;
            let path = self.dir().join(&s.file);
            let hp = hot::hot_path(&path);
            let h = if hot::usable(&hp) {
                hot::read(&hp, &HotWant::default())?
            } else {
                hot::from_batch(&segment::read_segment(&path, &HOT_FROM_PARQUET)?)?
            };
            customers.extend(h.customers);
        }
        Ok(customers.into_iter().collect())
    }

    pub fn read_partition_with(&self, partition: u32, cols: &[Col], props: &PropertyRows) -> Result<Rows, StoreError> {
        self.check_cancel()?;
        let segs: Vec<&crate::SegmentMeta> = self.manifest().segments_of(partition).collect();
        if segs.is_empty() {
            return Ok(Rows { starts: vec![0], ..Rows::default() });
        }
        let merge = segs.len() > 1;
        let mut want = HotWant::default();
        for c in cols {
            match c {
                Col::Timestamp => want.ts = true,
                Col::Seq => want.seq = true,
                Col::EventCode => want.event = true,
                Col::ChannelCode => want.channel = true,
                Col::KindCode => want.kind = true,
                Col::Revenue => want.revenue = true,
                _ => {}
            }
        }
        if merge {
            want.ts = true;
            want.seq = true;
        }
        let mut extra_cols: Vec<Col> = cols.iter().copied().filter(|c| !is_hot(*c)).collect();
        extra_cols.sort();
        extra_cols.dedup();
        // The properties of some rows: read after the others, by the rows'
        // kinds and events.
        let some_props = *props != PropertyRows::All && extra_cols.contains(&Col::Properties);
        if some_props {
            extra_cols.retain(|c| *c != Col::Properties);
            want.kind = true;
            want.event = true;
        }
        let mut hots = Vec::with_capacity(segs.len());
        let mut extras = Vec::new();
        for s in &segs {
            let path = self.dir().join(&s.file);
            let hp = hot::hot_path(&path);
            hots.push(if hot::usable(&hp) {
                hot::read(&hp, &want)?
            } else {
                // Written before hot files existed: derive the columns from Parquet.
                hot::project(hot::from_batch(&segment::read_segment(&path, &HOT_FROM_PARQUET)?)?, &want)
            });
            let h = hots.last().ok_or_else(|| StoreError::Internal("no hot columns".into()))?;
            let mut b = if extra_cols.is_empty() {
                None
            } else {
                let b = segment::read_segment(&path, &extra_cols)?;
                if b.num_rows() != h.rows {
                    return Err(StoreError::Corrupt(format!("{}: hot file and Parquet disagree on rows", s.file)));
                }
                Some(b)
            };
            if some_props {
                b = Some(with_properties_of(b.as_ref(), &path, h, props)?);
            }
            extras.extend(b);
        }
        if !merge {
            let h = hots.pop().unwrap_or_default();
            return Ok(rows_from(h, extras.pop()));
        }
        merge_segments(hots, &extras)
    }
}

/// Adds to `batch` (the segment's other columns, if any) the properties of
/// the rows `props` names, null in the others.
fn with_properties_of(
    batch: Option<&RecordBatch>,
    path: &std::path::Path,
    h: &HotSegment,
    props: &PropertyRows,
) -> Result<RecordBatch, StoreError> {
    use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
    let wanted: Vec<bool> = (0..h.rows).map(|i| props.wants(h.kind[i], h.event[i])).collect();
    let mut runs: Vec<RowSelector> = Vec::new();
    for chunk in wanted.chunk_by(|a, b| a == b) {
        runs.push(if chunk[0] { RowSelector::select(chunk.len()) } else { RowSelector::skip(chunk.len()) });
    }
    let picked = wanted.iter().filter(|w| **w).count();
    let values: ArrayRef = if picked == 0 {
        arrow_array::new_null_array(&arrow_schema::DataType::Utf8, h.rows)
    } else {
        let b = segment::read_segment_rows(path, &[Col::Properties], Some(RowSelection::from(runs)))?;
        let read = b.column(0).as_string_opt::<i32>().ok_or_else(|| StoreError::Corrupt("properties".into()))?;
        if read.len() != picked {
            return Err(StoreError::Corrupt(format!("{}: {} properties read of {picked}", path.display(), read.len())));
        }
        // Spread the values read over the segment's rows.
        let mut out = arrow_array::builder::StringBuilder::with_capacity(h.rows, read.value_data().len());
        let mut next = 0;
        for w in &wanted {
            if *w {
                if read.is_null(next) {
                    out.append_null();
                } else {
                    out.append_value(read.value(next));
                }
                next += 1;
            } else {
                out.append_null();
            }
        }
        std::sync::Arc::new(out.finish())
    };
    let mut fields: Vec<arrow_schema::FieldRef> = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    if let Some(b) = batch {
        fields.extend(b.schema().fields().iter().cloned());
        columns.extend(b.columns().iter().cloned());
    }
    fields.push(std::sync::Arc::new(arrow_schema::Field::new(
        Col::Properties.name(),
        arrow_schema::DataType::Utf8,
        true,
    )));
    columns.push(values);
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(h.rows));
    RecordBatch::try_new_with_options(std::sync::Arc::new(arrow_schema::Schema::new(fields)), columns, &options)
        .map_err(|e| StoreError::Internal(e.to_string()))
}

fn rows_from(h: HotSegment, extra: Option<RecordBatch>) -> Rows {
    Rows {
        customers: h.customers,
        starts: h.starts,
        ts: h.ts,
        seq: h.seq,
        event: h.event,
        channel: h.channel,
        kind: h.kind,
        rev_rows: h.rev_rows,
        rev_vals: h.rev_vals,
        extra_index: index_extra(extra.as_ref()),
        extra,
    }
}

/// Merges several segments of one partition into (customer, timestamp, seq)
/// order: a k-way merge over the segments' customer lists (each is sorted);
/// only a customer found in several segments has its rows sorted.
fn merge_segments(hots: Vec<HotSegment>, extras: &[RecordBatch]) -> Result<Rows, StoreError> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let total: usize = hots.iter().map(|h| h.rows).sum();
    let mut bases = Vec::with_capacity(hots.len());
    let mut b = 0u32;
    for h in &hots {
        bases.push(b);
        b += h.rows as u32;
    }
    let mut perm: Vec<u32> = Vec::with_capacity(total);
    let mut customers = Vec::new();
    let mut starts = Vec::new();
    let mut cursor = vec![0usize; hots.len()];
    let mut heap: BinaryHeap<Reverse<(u32, usize)>> =
        hots.iter().enumerate().filter_map(|(s, h)| h.customers.first().map(|&c| Reverse((c, s)))).collect();
    let mut here: Vec<usize> = Vec::new();
    let mut tmp: Vec<(i64, u64, u32)> = Vec::new();
    while let Some(Reverse((c, s))) = heap.pop() {
        here.clear();
        here.push(s);
        while let Some(&Reverse((c2, s2))) = heap.peek() {
            if c2 != c {
                break;
            }
            heap.pop();
            here.push(s2);
        }
        customers.push(c);
        starts.push(perm.len() as u32);
        if here.len() == 1 {
            let h = &hots[s];
            let t = cursor[s];
            perm.extend((h.starts[t] + bases[s])..(h.starts[t + 1] + bases[s]));
        } else {
            tmp.clear();
            for &s in &here {
                let h = &hots[s];
                let t = cursor[s];
                for r in h.starts[t] as usize..h.starts[t + 1] as usize {
                    tmp.push((h.ts[r], h.seq[r], bases[s] + r as u32));
                }
            }
            tmp.sort_unstable();
            perm.extend(tmp.iter().map(|x| x.2));
        }
        for &s in &here {
            cursor[s] += 1;
            if let Some(&next) = hots[s].customers.get(cursor[s]) {
                heap.push(Reverse((next, s)));
            }
        }
    }
    starts.push(total as u32);
    fn gather<T: Copy>(parts: Vec<Vec<T>>, perm: &[u32]) -> Vec<T> {
        if parts.iter().all(Vec::is_empty) {
            return Vec::new();
        }
        let all: Vec<T> = parts.into_iter().flatten().collect();
        perm.iter().map(|&i| all[i as usize]).collect()
    }
    // Sparse revenue: remap rows through the permutation.
    let mut rev: Vec<(u32, f64)> = Vec::new();
    let mut inverse = vec![0u32; total];
    for (new, &old) in perm.iter().enumerate() {
        inverse[old as usize] = new as u32;
    }
    let mut base = 0u32;
    for h in &hots {
        for (r, v) in h.rev_rows.iter().zip(&h.rev_vals) {
            rev.push((inverse[(base + r) as usize], *v));
        }
        base += h.rows as u32;
    }
    rev.sort_unstable_by_key(|x| x.0);
    let mut ts_parts = Vec::new();
    let mut seq_parts = Vec::new();
    let mut ev_parts = Vec::new();
    let mut ch_parts = Vec::new();
    let mut kind_parts = Vec::new();
    for h in hots {
        ts_parts.push(h.ts);
        seq_parts.push(h.seq);
        ev_parts.push(h.event);
        ch_parts.push(h.channel);
        kind_parts.push(h.kind);
    }
    let extra = if extras.is_empty() {
        None
    } else {
        let schema = extras[0].schema();
        let all =
            arrow_select::concat::concat_batches(&schema, extras).map_err(|e| StoreError::Internal(e.to_string()))?;
        Some(crate::segment::take_rows(&all, &UInt32Array::from(perm.clone()))?)
    };
    Ok(Rows {
        customers,
        starts,
        ts: gather(ts_parts, &perm),
        seq: gather(seq_parts, &perm),
        event: gather(ev_parts, &perm),
        channel: gather(ch_parts, &perm),
        kind: gather(kind_parts, &perm),
        rev_rows: rev.iter().map(|x| x.0).collect(),
        rev_vals: rev.iter().map(|x| x.1).collect(),
        extra_index: index_extra(extra.as_ref()),
        extra,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Writer;
    use wayfarer_core::Event;

    const CORE: [Col; 4] = [Col::Timestamp, Col::EventCode, Col::ChannelCode, Col::KindCode];

    fn ev(id: &str, user: Option<&str>, anon: Option<&str>, ts: i64, name: &str) -> Event {
        let mut e = Event::new(id, ts, name);
        e.user_id = user.map(str::to_string);
        e.anonymous_id = anon.map(str::to_string);
        e
    }

    fn all_rows(store: &Store) -> Vec<(String, i64, String)> {
        let g = store.identity().unwrap();
        let mut out = Vec::new();
        for p in 0..store.partitions() {
            let rows = store.read_partition(p, &CORE).unwrap();
            for (c, r) in rows.timelines() {
                for i in r {
                    out.push((
                        g.external_id(c).to_string(),
                        rows.ts[i],
                        store.event_names()[rows.event[i] as usize].clone(),
                    ));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn properties_are_read_for_the_rows_asked_for_only() {
        // Two commits: partitions with one segment and with two (merged).
        let dir = tempfile::tempdir().unwrap();
        let mut id = 0;
        for round in 0..2 {
            let mut w = Writer::open(dir.path(), 0).unwrap();
            let mut events = Vec::new();
            for u in 0..40 {
                for (j, name) in ["Identify", "Product Reviewed", "Page Viewed"].iter().enumerate() {
                    id += 1;
                    let mut e = ev(&id.to_string(), Some(&format!("u{u}")), None, 100 * round + j as i64, name);
                    if *name == "Identify" {
                        e.kind = wayfarer_core::Kind::Identify;
                    }
                    e.properties = format!(r#"{{"n":{id}}}"#);
                    events.push(e);
                }
            }
            w.add(events).unwrap();
            w.commit().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert!((0..store.partitions()).any(|p| store.manifest().segments_of(p).count() > 1));
        let reviewed = store.event_names().iter().position(|n| n == "Product Reviewed").unwrap() as u32;
        let identify = wayfarer_core::Kind::Identify.code();
        let some = PropertyRows::Of { kinds: vec![identify], events: vec![reviewed] };
        let cols = [Col::Timestamp, Col::EventCode, Col::KindCode, Col::Url, Col::Properties];
        let (mut picked, mut nulls) = (0, 0);
        for p in 0..store.partitions() {
            let all = store.read_partition(p, &cols).unwrap();
            let part = store.read_partition_with(p, &cols, &some).unwrap();
            assert_eq!((&all.ts, &all.event, &all.kind), (&part.ts, &part.event, &part.kind));
            for i in 0..all.len() {
                if all.kind[i] == identify || all.event[i] == reviewed {
                    assert_eq!(part.str_at(Col::Properties, i), all.str_at(Col::Properties, i));
                    assert!(all.str_at(Col::Properties, i).is_some());
                    picked += 1;
                } else {
                    assert_eq!(part.str_at(Col::Properties, i), None);
                    nulls += 1;
                }
            }
            // Only the properties column differs.
            assert!(part.text(Col::Url).is_some());
        }
        assert_eq!((picked, nulls), (160, 80));
        // Asking for no rows' properties reads none.
        let none = PropertyRows::Of { kinds: vec![], events: vec![] };
        for p in 0..store.partitions() {
            let part = store.read_partition_with(p, &cols, &none).unwrap();
            assert!((0..part.len()).all(|i| part.str_at(Col::Properties, i).is_none()));
        }
    }

    #[test]
    fn write_dedupe_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::open(dir.path(), 0).unwrap();
        let (acc, dup) = w
            .add(vec![
                ev("1", Some("alice"), None, 10, "Signed Up"),
                ev("2", Some("bob"), None, 5, "Page Viewed"),
                ev("1", Some("alice"), None, 10, "Signed Up"),
            ])
            .unwrap();
        assert_eq!((acc, dup), (2, 1));
        let stats = w.commit().unwrap();
        assert_eq!(stats.events_total, 2);

        // Re-adding the same ids adds nothing.
        let mut w = Writer::open(dir.path(), 0).unwrap();
        assert_eq!(w.add(vec![ev("2", Some("bob"), None, 5, "Page Viewed")]).unwrap(), (0, 1));
        w.commit().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.events_total(), 2);
        assert_eq!(
            all_rows(&store),
            vec![("alice".into(), 10, "Signed Up".into()), ("bob".into(), 5, "Page Viewed".into())]
        );

        // Several batches at once: an id stored before, and one the first
        // batch brings and the second repeats, are each a duplicate; a
        // customer the first batch brings is the same one in the second.
        let mut w = Writer::open(dir.path(), 0).unwrap();
        let first = crate::EventRows::from_events(&[
            ev("1", Some("alice"), None, 10, "Signed Up"),
            ev("3", Some("carol"), None, 20, "Page Viewed"),
        ])
        .unwrap();
        let second = crate::EventRows::from_events(&[
            ev("3", Some("carol"), None, 20, "Page Viewed"),
            ev("4", Some("carol"), None, 15, "Order Completed"),
        ])
        .unwrap();
        assert_eq!(w.add_all(vec![first, crate::EventRows::from_events(&[]).unwrap(), second]).unwrap(), (2, 2));
        w.commit().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.events_total(), 4);
        assert_eq!(
            all_rows(&store),
            vec![
                ("alice".into(), 10, "Signed Up".into()),
                ("bob".into(), 5, "Page Viewed".into()),
                ("carol".into(), 15, "Order Completed".into()),
                ("carol".into(), 20, "Page Viewed".into()),
            ]
        );
    }

    #[test]
    fn rows_spilled_before_a_sign_up_join_the_user_without_rewriting_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::open(dir.path(), 0).unwrap().with_spill_rows(3);
        // Anonymous visitors, spilled before anyone signs up.
        let visits: Vec<Event> =
            (0..12).map(|i| ev(&format!("v{i}"), None, Some(&format!("a{}", i % 4)), 10 + i, "Visited")).collect();
        w.add(visits).unwrap();
        // Two of them sign up (a0 as alice, a1 as bob); more rows spill.
        w.add(vec![
            ev("s0", Some("alice"), Some("a0"), 100, "Signed Up"),
            ev("s1", Some("bob"), Some("a1"), 101, "Signed Up"),
            ev("x0", Some("alice"), None, 102, "Ordered"),
        ])
        .unwrap();
        let stats = w.commit().unwrap();
        assert_eq!(stats.rows_moved, 6, "the six visits of a0 and a1 moved");
        let store = Store::open(dir.path()).unwrap();
        for p in 0..store.partitions() {
            assert!(store.manifest().segments_of(p).count() <= 1);
        }
        // Each partition's segment was written once: none rewritten to
        // move rows, none compacted.
        assert_eq!(stats.segments_written, store.manifest().segments.len() as u64);
        assert_eq!(stats.partitions_compacted, 0);
        let rows = all_rows(&store);
        assert_eq!(rows.len(), 15);
        let alice: Vec<(i64, String)> = rows.iter().filter(|r| r.0 == "alice").map(|r| (r.1, r.2.clone())).collect();
        assert_eq!(
            alice,
            vec![
                (10, "Visited".into()),
                (14, "Visited".into()),
                (18, "Visited".into()),
                (100, "Signed Up".into()),
                (102, "Ordered".into())
            ]
        );
        assert_eq!(rows.iter().filter(|r| r.0 == "bob").count(), 4);
        assert_eq!(rows.iter().filter(|r| r.0 == "a2" || r.0 == "a3").count(), 6);
        // The rows moved out of runs, not segments: nothing left to move at commit.
        assert!(!std::fs::read_dir(dir.path().join("segments")).unwrap().flatten().any(|p| {
            std::fs::read_dir(p.path()).unwrap().flatten().any(|f| f.path().extension().is_some_and(|e| e == "run"))
        }));
    }

    #[test]
    fn a_duplicate_brings_no_event_name_or_channel() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::open(dir.path(), 0).unwrap();
        let mut again = ev("1", Some("alice"), None, 10, "Phantom");
        again.channel = Some("Nowhere".into());
        let mut first = ev("1", Some("alice"), None, 10, "Signed Up");
        first.channel = Some("Email".into());
        assert_eq!(w.add(vec![first, again]).unwrap(), (1, 1));
        w.commit().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.manifest().event_names, ["Signed Up"]);
        assert_eq!(store.manifest().channels, ["Email"]);
    }

    #[test]
    fn a_writer_loads_the_stored_keys_and_identities_at_its_first_events() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::open(dir.path(), 0).unwrap();
        let mut linked = ev("1", Some("alice"), Some("a-1"), 10, "Signed Up");
        linked.kind = wayfarer_core::Kind::Identify;
        w.add(vec![linked, ev("2", Some("bob"), None, 11, "Signed Up")]).unwrap();
        w.commit().unwrap();
        // Opened, committed without events: neither the dedupe set nor the
        // identity graph was loaded, and the identities are as they were.
        let mut w = Writer::open(dir.path(), 0).unwrap();
        assert_eq!(w.loaded(), (false, false));
        w.commit_open().unwrap();
        assert_eq!(w.add(Vec::new()).unwrap(), (0, 0));
        assert_eq!(w.loaded(), (false, false));
        drop(w);
        assert_eq!(Store::open(dir.path()).unwrap().identity().unwrap().external_id(0), "alice");
        // The first events load both: a stored event sent again is a
        // duplicate, and the anonymous id already linked to alice is hers.
        let mut w = Writer::open(dir.path(), 0).unwrap();
        let again = ev("2", Some("bob"), None, 11, "Signed Up");
        let known = ev("3", None, Some("a-1"), 12, "Page Viewed");
        assert_eq!(w.add(vec![again, known, ev("4", Some("carol"), None, 13, "Signed Up")]).unwrap(), (2, 1));
        assert_eq!(w.loaded(), (true, true));
        w.commit().unwrap();
        let rows = all_rows(&Store::open(dir.path()).unwrap());
        assert_eq!(rows.len(), 4);
        assert_eq!(rows.iter().filter(|r| r.0 == "alice").count(), 2, "{rows:?}");
    }

    #[test]
    fn property_and_trait_names_are_recorded_and_found_in_older_directories() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::open(dir.path(), 0).unwrap();
        let mut a = ev("1", Some("alice"), None, 10, "Product Viewed");
        a.properties = r#"{"sku":"x","price":{"amount":3}}"#.into();
        let mut b = ev("2", Some("alice"), None, 11, "Identify");
        b.kind = wayfarer_core::Kind::Identify;
        b.properties = r#"{"plan":"pro"}"#.into();
        w.add(vec![a, b]).unwrap();
        w.commit().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.property_keys(), ["price", "sku"]);
        assert_eq!(store.trait_keys(), ["plan"]);
        // A manifest written before names were recorded: the next writer scans them.
        let mut m = crate::Manifest::load(dir.path()).unwrap().unwrap();
        m.keys = None;
        m.store(dir.path()).unwrap();
        assert!(Store::open(dir.path()).unwrap().property_keys().is_empty());
        let mut w = Writer::open(dir.path(), 0).unwrap();
        w.add(vec![ev("3", Some("bob"), None, 12, "Page Viewed")]).unwrap();
        w.commit().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.property_keys(), ["price", "sku"]);
        assert_eq!(store.trait_keys(), ["plan"]);
    }

    #[test]
    fn later_identification_moves_anonymous_rows_to_the_customer() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::open(dir.path(), 0).unwrap();
        // Many anonymous devices so some land in other partitions than their user.
        let mut evs = Vec::new();
        for i in 0..40 {
            evs.push(ev(&format!("p{i}"), None, Some(&format!("dev{i}")), 100 + i, "Page Viewed"));
        }
        w.add(evs).unwrap();
        w.commit().unwrap();
        let mut w = Writer::open(dir.path(), 0).unwrap();
        let mut evs = Vec::new();
        for i in 0..40 {
            evs.push(ev(&format!("s{i}"), Some(&format!("user{i}")), Some(&format!("dev{i}")), 200 + i, "Signed Up"));
        }
        w.add(evs).unwrap();
        let stats = w.commit().unwrap();
        assert!(stats.rows_moved > 0);
        let store = Store::open(dir.path()).unwrap();
        let rows = all_rows(&store);
        assert_eq!(rows.len(), 80);
        for i in 0..40 {
            let mine: Vec<_> = rows.iter().filter(|r| r.0 == format!("user{i}")).collect();
            assert_eq!(mine.len(), 2, "user{i}: {mine:?}");
            assert_eq!(mine[0].2, "Page Viewed");
        }
        // Each timeline sits wholly in one partition.
        let mut seen = std::collections::HashSet::new();
        for p in 0..store.partitions() {
            let r = store.read_partition(p, &CORE).unwrap();
            for (c, _) in r.timelines() {
                assert!(seen.insert(c), "customer {c} split across partitions or runs");
            }
        }
    }

    #[test]
    fn many_commits_compact_and_keep_order_with_extras_and_revenue() {
        let dir = tempfile::tempdir().unwrap();
        for k in 0..7 {
            let mut w = Writer::open(dir.path(), 0).unwrap();
            let mut e = ev(&format!("e{k}"), Some("alice"), None, 100 - k, &format!("E{k}"));
            if k % 2 == 0 {
                e.revenue = Some(k as f64);
            }
            w.add(vec![e]).unwrap();
            w.commit().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert!(store.manifest().segments.len() <= crate::writer::MAX_SEGMENTS_PER_PARTITION);
        let p = crate::partition_of(0, store.partitions());
        let rows = store.read_partition(p, &[Col::Timestamp, Col::EventId, Col::Revenue]).unwrap();
        assert_eq!(rows.ts, vec![94, 95, 96, 97, 98, 99, 100]);
        assert_eq!(rows.str_at(Col::EventId, 0), Some("e6"));
        assert_eq!(rows.f64_at(Col::Revenue, 0), Some(6.0));
        assert_eq!(rows.f64_at(Col::Revenue, 1), None);
        assert_eq!(rows.f64_at(Col::Revenue, 6), Some(0.0));
        // Garbage from superseded segments is removed by the next writer.
        drop(Writer::open(dir.path(), 0).unwrap());
        let files = std::fs::read_dir(dir.path().join("segments").join(format!("p{p:03}"))).unwrap().count();
        assert_eq!(files, 2 * store.manifest().segments_of(p).count(), "a Parquet and a hot file per segment");
    }

    #[test]
    fn unmerged_partitions_with_several_segments_read_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for k in 0..3 {
            let mut w = Writer::open(dir.path(), 0).unwrap();
            // Same timestamp in every commit: arrival order decides.
            let mut e = ev(&format!("x{k}"), Some("bob"), None, 50, &format!("E{k}"));
            e.revenue = Some(10.0 + k as f64);
            w.add(vec![e, ev(&format!("y{k}"), Some("carol"), None, 60 - k, "Y")]).unwrap();
            w.commit().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let names: Vec<String> = all_rows(&store).into_iter().filter(|r| r.0 == "bob").map(|r| r.2).collect();
        assert_eq!(names, ["E0", "E1", "E2"]);
        for p in 0..store.partitions() {
            let rows = store.read_partition(p, &[Col::Timestamp, Col::EventCode, Col::Revenue]).unwrap();
            for (_, r) in rows.timelines() {
                let ts: Vec<i64> = r.clone().map(|i| rows.ts[i]).collect();
                assert!(ts.windows(2).all(|w| w[0] <= w[1]));
                for i in r {
                    let name = &store.event_names()[rows.event[i] as usize];
                    if let Some(k) = name.strip_prefix('E') {
                        assert_eq!(rows.f64_at(Col::Revenue, i), Some(10.0 + k.parse::<f64>().unwrap()));
                    }
                }
            }
        }
    }

    #[test]
    fn a_spilled_bulk_load_leaves_one_segment_per_partition() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::open(dir.path(), 0).unwrap().with_spill_rows(7);
        for k in 0..6 {
            let evs = (0..10)
                .map(|i| ev(&format!("e{k}-{i}"), Some(&format!("u{i}")), None, 100 - k, &format!("E{k}")))
                .collect();
            w.add(evs).unwrap();
        }
        w.commit().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for p in 0..store.partitions() {
            assert!(store.manifest().segments_of(p).count() <= 1);
        }
        let rows = all_rows(&store);
        assert_eq!(rows.len(), 60);
        let u3: Vec<i64> = rows.iter().filter(|r| r.0 == "u3").map(|r| r.1).collect();
        assert_eq!(u3, vec![95, 96, 97, 98, 99, 100]);
    }

    #[test]
    fn postings_list_the_interaction_rows_of_each_event() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::open(dir.path(), 0).unwrap();
        let mut evs = Vec::new();
        for i in 0..30i64 {
            let mut e =
                ev(&format!("e{i}"), Some(&format!("u{}", i % 4)), None, 1000 - i, ["A", "B", "C"][(i % 3) as usize]);
            if i % 5 == 0 {
                e.kind = wayfarer_core::Kind::Identify;
            }
            evs.push(e);
        }
        w.add(evs).unwrap();
        w.commit().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = store.event_code("A").unwrap();
        let c = store.event_code("C").unwrap();
        let mut seen = 0;
        for p in 0..store.partitions() {
            let rows = store.read_partition(p, &[Col::Timestamp, Col::EventCode, Col::KindCode]).unwrap();
            let post = store.read_postings(p, &[a, c], false).unwrap().expect("one segment");
            assert_eq!(post.customers, rows.customers);
            for (code, list_rows, list_ts) in &post.lists {
                let want: Vec<u32> = (0..rows.len())
                    .filter(|&r| rows.event[r] == *code && wayfarer_core::Kind::code_is_interaction(rows.kind[r]))
                    .map(|r| r as u32)
                    .collect();
                assert_eq!(list_rows, &want);
                assert!(list_rows.iter().zip(list_ts).all(|(&r, &t)| rows.ts[r as usize] == t));
                seen += list_rows.len();
            }
            assert_eq!(post.interactive as usize, rows.customers.len());
        }
        assert_eq!(seen, 20 - 4, "A and C rows, minus the identify calls among them");
    }

    #[test]
    fn dropped_writer_leaves_nothing_visible_and_lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::open(dir.path(), 0).unwrap();
        assert!(matches!(Writer::open(dir.path(), 0), Err(StoreError::Locked(_))));
        w.add(vec![ev("1", Some("a"), None, 1, "X")]).unwrap();
        drop(w);
        assert!(matches!(Store::open(dir.path()), Err(StoreError::Empty(_))));
    }
}
