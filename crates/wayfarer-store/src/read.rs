//! Reading timelines: one partition at a time, its segments merged into rows
//! sorted by (customer, timestamp, seq), with the integer core columns as
//! plain vectors and the other columns on request. Partitions are independent,
//! so callers fold them in parallel.

use std::ops::Range;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampMicrosecondType, UInt8Type, UInt32Type, UInt64Type};
use arrow_array::{Array, Float64Array, RecordBatch, StringArray};

use crate::segment::{self, Col};
use crate::{Store, StoreError};

/// `channel` of an event that carries no traffic information.
pub const NO_CHANNEL: u32 = u32::MAX;

/// The rows of one partition, sorted by (customer, timestamp, seq).
#[derive(Debug, Clone, Default)]
pub struct Rows {
    pub customer: Vec<u32>,
    pub ts: Vec<i64>,
    pub seq: Vec<u64>,
    pub event: Vec<u32>,
    pub channel: Vec<u32>,
    pub kind: Vec<u8>,
    /// The other requested columns, in the same row order.
    extra: Option<RecordBatch>,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.customer.len()
    }

    pub fn is_empty(&self) -> bool {
        self.customer.is_empty()
    }

    /// Each customer's row range, in customer order.
    pub fn timelines(&self) -> Timelines<'_> {
        Timelines { customer: &self.customer, pos: 0 }
    }

    /// A text column, if it was requested.
    pub fn text(&self, col: Col) -> Option<&StringArray> {
        self.extra.as_ref()?.column_by_name(col.name())?.as_string_opt::<i32>()
    }

    /// A float column, if it was requested.
    pub fn float(&self, col: Col) -> Option<&Float64Array> {
        self.extra.as_ref()?.column_by_name(col.name())?.as_primitive_opt::<Float64Type>()
    }

    /// A text value (None when null or not requested).
    pub fn str_at(&self, col: Col, row: usize) -> Option<&str> {
        let a = self.text(col)?;
        if a.is_null(row) { None } else { Some(a.value(row)) }
    }

    /// A float value (None when null or not requested).
    pub fn f64_at(&self, col: Col, row: usize) -> Option<f64> {
        let a = self.float(col)?;
        if a.is_null(row) { None } else { Some(a.value(row)) }
    }
}

/// Iterator over (customer, row range).
#[derive(Debug)]
pub struct Timelines<'a> {
    customer: &'a [u32],
    pos: usize,
}

impl Iterator for Timelines<'_> {
    type Item = (u32, Range<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.pos;
        let c = *self.customer.get(start)?;
        let mut end = start + 1;
        while end < self.customer.len() && self.customer[end] == c {
            end += 1;
        }
        self.pos = end;
        Some((c, start..end))
    }
}

impl Store {
    /// Reads one partition with the core columns plus `extra` columns.
    pub fn read_partition(&self, partition: u32, extra: &[Col]) -> Result<Rows, StoreError> {
        let mut cols: Vec<Col> = Col::CORE.to_vec();
        cols.extend_from_slice(extra);
        cols.sort();
        cols.dedup();
        let batches: Vec<RecordBatch> = self
            .manifest()
            .segments_of(partition)
            .map(|s| segment::read_segment(&self.dir().join(&s.file), &cols))
            .collect::<Result<_, _>>()?;
        if batches.is_empty() {
            return Ok(Rows::default());
        }
        let batch = if batches.len() == 1 {
            batches.into_iter().next().unwrap_or_else(|| RecordBatch::new_empty(segment::schema()))
        } else {
            crate::writer::sort_batches(&batches)?
        };
        rows_from_batch(&batch, extra)
    }
}

fn rows_from_batch(batch: &RecordBatch, extra: &[Col]) -> Result<Rows, StoreError> {
    let bad = |c: Col| StoreError::Corrupt(format!("segment column {} has an unexpected type", c.name()));
    let col = |c: Col| batch.column_by_name(c.name()).ok_or_else(|| bad(c));
    let customer = col(Col::Customer)?.as_primitive_opt::<UInt32Type>().ok_or_else(|| bad(Col::Customer))?;
    let ts = col(Col::Timestamp)?.as_primitive_opt::<TimestampMicrosecondType>().ok_or_else(|| bad(Col::Timestamp))?;
    let seq = col(Col::Seq)?.as_primitive_opt::<UInt64Type>().ok_or_else(|| bad(Col::Seq))?;
    let event = col(Col::EventCode)?.as_primitive_opt::<UInt32Type>().ok_or_else(|| bad(Col::EventCode))?;
    let channel = col(Col::ChannelCode)?.as_primitive_opt::<UInt32Type>().ok_or_else(|| bad(Col::ChannelCode))?;
    let kind = col(Col::KindCode)?.as_primitive_opt::<UInt8Type>().ok_or_else(|| bad(Col::KindCode))?;
    let channel_codes: Vec<u32> = (0..channel.len())
        .map(|i| if channel.is_null(i) { crate::read::NO_CHANNEL } else { channel.value(i) })
        .collect();
    let extra_batch = if extra.is_empty() {
        None
    } else {
        let indices: Vec<usize> = extra.iter().filter_map(|c| batch.schema().index_of(c.name()).ok()).collect();
        Some(batch.project(&indices).map_err(|e| StoreError::Internal(e.to_string()))?)
    };
    Ok(Rows {
        customer: customer.values().to_vec(),
        ts: ts.values().to_vec(),
        seq: seq.values().to_vec(),
        event: event.values().to_vec(),
        channel: channel_codes,
        kind: kind.values().to_vec(),
        extra: extra_batch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Writer;
    use wayfarer_core::Event;

    fn ev(id: &str, user: Option<&str>, anon: Option<&str>, ts: i64, name: &str) -> Event {
        let mut e = Event::new(id, ts, name);
        e.user_id = user.map(str::to_string);
        e.anonymous_id = anon.map(str::to_string);
        e
    }

    fn all_rows(store: &Store, extra: &[Col]) -> Vec<(String, i64, String)> {
        let mut g = store.identity().unwrap();
        let mut out = Vec::new();
        for p in 0..store.partitions() {
            let rows = store.read_partition(p, extra).unwrap();
            for (c, r) in rows.timelines() {
                for i in r {
                    let _ = g.canonical(c);
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
            all_rows(&store, &[]),
            vec![("alice".into(), 10, "Signed Up".into()), ("bob".into(), 5, "Page Viewed".into())]
        );
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
        let rows = all_rows(&store, &[]);
        assert_eq!(rows.len(), 80);
        for i in 0..40 {
            let mine: Vec<_> = rows.iter().filter(|r| r.0 == format!("user{i}")).collect();
            assert_eq!(mine.len(), 2, "user{i}: {mine:?}");
            assert_eq!(mine[0].2, "Page Viewed");
        }
        // Each timeline sits wholly in one partition.
        let mut seen = std::collections::HashSet::new();
        for p in 0..store.partitions() {
            let r = store.read_partition(p, &[]).unwrap();
            for (c, _) in r.timelines() {
                assert!(seen.insert(c), "customer {c} split across partitions or runs");
            }
        }
    }

    #[test]
    fn many_commits_compact_and_keep_order() {
        let dir = tempfile::tempdir().unwrap();
        for k in 0..7 {
            let mut w = Writer::open(dir.path(), 0).unwrap();
            w.add(vec![ev(&format!("e{k}"), Some("alice"), None, 100 - k, &format!("E{k}"))]).unwrap();
            w.commit().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert!(store.manifest().segments.len() <= crate::writer::MAX_SEGMENTS_PER_PARTITION);
        let p = crate::partition_of(0, store.partitions());
        let rows = store.read_partition(p, &[Col::EventId]).unwrap();
        assert_eq!(rows.ts, vec![94, 95, 96, 97, 98, 99, 100]);
        assert_eq!(rows.str_at(Col::EventId, 0), Some("e6"));
        // Garbage from superseded segments is removed by the next writer.
        drop(Writer::open(dir.path(), 0).unwrap());
        let files = std::fs::read_dir(dir.path().join("segments").join(format!("p{p:03}"))).unwrap().count();
        assert_eq!(files, store.manifest().segments_of(p).count());
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
