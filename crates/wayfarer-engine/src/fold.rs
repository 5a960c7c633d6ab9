//! The fold contract and its parallel runner. An analysis says which extra
//! columns it reads, how to start a partial, how to fold one timeline into it
//! and how to merge two partials; the runner reads partitions in parallel and
//! merges as they finish. A cancelled store (its query timed out) stops the
//! run at the next partition or the next few thousand timelines.

use rayon::prelude::*;
use wayfarer_store::{Col, Rows, Store};

use crate::EngineError;

/// Timelines folded between two checks of the store's cancellation token.
const CHECK_EVERY: usize = 4096;

/// One customer's rows inside a partition.
#[derive(Debug, Clone, Copy)]
pub struct Span<'a> {
    pub customer: u32,
    pub rows: &'a Rows,
    pub start: usize,
    pub end: usize,
}

pub trait Fold: Sync {
    type Partial: Send;
    /// Columns beyond the core (customer, timestamp, seq, event, channel, kind).
    fn columns(&self) -> Vec<Col>;
    fn init(&self) -> Self::Partial;
    fn fold(&self, partial: &mut Self::Partial, span: Span<'_>);
    fn merge(&self, a: Self::Partial, b: Self::Partial) -> Self::Partial;
}

/// Folds the timelines of one partition into `acc`.
pub fn fold_partition<F: Fold>(store: &Store, f: &F, partition: u32, acc: &mut F::Partial) -> Result<(), EngineError> {
    let rows = store.read_partition(partition, &f.columns())?;
    for (customer, r) in rows.timelines() {
        f.fold(acc, Span { customer, rows: &rows, start: r.start, end: r.end });
    }
    Ok(())
}

/// Folds every timeline of the store, partitions in parallel.
pub fn run<F: Fold>(store: &Store, f: &F) -> Result<F::Partial, EngineError> {
    let cols = f.columns();
    let partials: Vec<F::Partial> = (0..store.partitions())
        .into_par_iter()
        .map(|p| -> Result<F::Partial, EngineError> {
            let rows = store.read_partition(p, &cols)?;
            let mut acc = f.init();
            for (i, (customer, r)) in rows.timelines().enumerate() {
                if i % CHECK_EVERY == 0 {
                    store.check_cancel()?;
                }
                f.fold(&mut acc, Span { customer, rows: &rows, start: r.start, end: r.end });
            }
            Ok(acc)
        })
        .collect::<Result<_, _>>()?;
    Ok(partials.into_iter().fold(f.init(), |a, b| f.merge(a, b)))
}

/// Folds the timelines in arbitrary groups (`group_of(customer)` in
/// `0..groups`), then merges the groups' partials in `order`: what a
/// distributed run does when customers are spread over workers. The result
/// must equal [`run`]'s for every split; tests check it.
pub fn run_split<F: Fold>(
    store: &Store,
    f: &F,
    groups: usize,
    group_of: &dyn Fn(u32) -> usize,
    order: &[usize],
) -> Result<F::Partial, EngineError> {
    let cols = f.columns();
    let mut parts: Vec<Option<F::Partial>> = (0..groups).map(|_| Some(f.init())).collect();
    for p in 0..store.partitions() {
        let rows = store.read_partition(p, &cols)?;
        for (customer, r) in rows.timelines() {
            let g = group_of(customer) % groups.max(1);
            if let Some(acc) = parts[g].as_mut() {
                f.fold(acc, Span { customer, rows: &rows, start: r.start, end: r.end });
            }
        }
    }
    let mut out = f.init();
    for &g in order {
        if let Some(p) = parts.get_mut(g).and_then(Option::take) {
            out = f.merge(p, out);
        }
    }
    for p in parts.into_iter().flatten() {
        out = f.merge(out, p);
    }
    Ok(out)
}

/// Walks postings lists timeline by timeline and calls `f(timeline, items)`
/// once per timeline that has any, with its (row, timestamp, event code)
/// items grouped by list (each group in row order; sort across groups if
/// order matters). Timelines without items are skipped.
pub fn walk_postings(post: &wayfarer_store::Postings, mut f: impl FnMut(usize, &[(u32, i64, u32)])) {
    let lists = &post.lists;
    let mut cursor = vec![0usize; lists.len()];
    let mut items: Vec<(u32, i64, u32)> = Vec::new();
    let mut timeline = 0usize;
    // The first row not yet walked, over all lists.
    while let Some(first) = lists.iter().enumerate().filter_map(|(i, (_, rows, _))| rows.get(cursor[i])).min() {
        // Its timeline: the last one starting at or before it.
        timeline += post.starts[timeline + 1..].partition_point(|&s| s <= *first);
        let end = post.starts.get(timeline + 1).copied().unwrap_or(u32::MAX);
        items.clear();
        for (i, (code, rows, ts)) in lists.iter().enumerate() {
            let mut c = cursor[i];
            while c < rows.len() && rows[c] < end {
                items.push((rows[c], ts[c], *code));
                c += 1;
            }
            cursor[i] = c;
        }
        f(timeline, &items);
    }
}
