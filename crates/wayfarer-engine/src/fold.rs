//! The fold contract (DESIGN §3) and its one parallel runner. An analysis
//! says which extra columns it reads, how to start a partial, how to fold
//! one timeline into it (with working memory reused across a partition's
//! timelines) and how to merge two partials; optionally, which events'
//! postings suffice to answer it, and how to fold a partition from them.
//! The runner reads partitions in parallel — from postings where the
//! analysis allows it and the partition has them, else from rows — and
//! merges as they finish. A cancelled store (its query timed out) stops the
//! run at the next partition or the next few thousand timelines.
//!
//! A store that carries a fold runner (a cluster) gets the fold instead:
//! the runner folds and merges elsewhere, through the fold's own `fold` and
//! `merge`, and hands back the merged partial, which crosses processes in
//! the encoding the fold's [`Wire`] gives.

use rayon::prelude::*;
use wayfarer_store::remote::{FoldRunner, LocalFold};
use wayfarer_store::{Col, CustomerSet, Postings, PropertyRows, Rows, Store, StoreError};

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
    /// What folding some timelines produces; partials of disjoint sets of
    /// customers merge into the partial of their union.
    type Partial: Send;
    /// Working memory of one partition's fold (buffers reused from one
    /// timeline to the next); never merged.
    type Scratch: Default;
    /// What the merged partial of all customers becomes.
    type Report;
    /// Columns beyond the core (customer, timestamp, seq, event, channel, kind).
    fn columns(&self) -> Vec<Col>;
    /// Whose properties to read when [`columns`](Self::columns) has them:
    /// every row's unless the fold knows which rows its conditions read.
    fn property_rows(&self) -> PropertyRows {
        PropertyRows::All
    }
    fn init(&self) -> Self::Partial;
    fn fold(&self, partial: &mut Self::Partial, scratch: &mut Self::Scratch, span: Span<'_>);
    fn merge(&self, a: Self::Partial, b: Self::Partial) -> Self::Partial;
    /// Turns the merged partial into the report.
    fn finish(&self, partial: Self::Partial) -> Self::Report;
    /// The postings fast path: the event codes whose postings alone answer
    /// this query (and whether revenue is needed), or `None` to fold rows.
    fn postings(&self) -> Option<PostingsPlan> {
        None
    }
    /// Folds a partition from the postings [`postings`](Self::postings)
    /// asked for; must give what folding its rows would.
    fn fold_postings(&self, _partial: &mut Self::Partial, _scratch: &mut Self::Scratch, _post: &Postings) {
        unreachable!("fold_postings without a postings plan")
    }
    /// How the partial crosses between processes, for folds that run on a
    /// cluster; `None`: this fold runs only here.
    fn wire(&self) -> Option<Wire<Self::Partial>> {
        None
    }
}

/// How a partial is encoded to cross between a cluster's processes
/// (MessagePack with field names, so optional fields and floats such as
/// infinities survive).
pub struct Wire<P> {
    encode: fn(&P) -> Result<Vec<u8>, String>,
    decode: fn(&[u8]) -> Result<P, String>,
}

impl<P: serde::Serialize + serde::de::DeserializeOwned> Wire<P> {
    pub fn serde() -> Wire<P> {
        Wire {
            encode: |p| rmp_serde::to_vec_named(p).map_err(|e| e.to_string()),
            decode: |b| rmp_serde::from_slice(b).map_err(|e| e.to_string()),
        }
    }
}

impl<P> Wire<P> {
    pub fn encode(&self, p: &P) -> Result<Vec<u8>, StoreError> {
        (self.encode)(p).map_err(|e| StoreError::Internal(format!("encoding a partial: {e}")))
    }

    pub fn decode(&self, b: &[u8]) -> Result<P, StoreError> {
        (self.decode)(b).map_err(|e| StoreError::Internal(format!("decoding a partial: {e}")))
    }
}

/// A fold as a runner sees it: folds rows it was given, merges partials.
struct Local<'a, F: Fold> {
    f: &'a F,
    wire: Wire<F::Partial>,
    only: Option<&'a CustomerSet>,
}

impl<F: Fold> LocalFold for Local<'_, F> {
    fn name(&self) -> String {
        let init = self.wire.encode(&self.f.init()).unwrap_or_default();
        format!("{} {:?} {:016x}", std::any::type_name::<F>(), self.f.columns(), xxhash_rust::xxh3::xxh3_64(&init))
    }

    fn here(&self, store: &Store) -> Result<Vec<u8>, StoreError> {
        let partial = run(&store.without_runner(), self.f).map_err(|e| match e {
            EngineError::Store(s) => s,
            other => StoreError::Internal(other.to_string()),
        })?;
        self.wire.encode(&partial)
    }

    fn fold(&self, rows: &Rows) -> Result<Vec<u8>, StoreError> {
        let mut acc = self.f.init();
        let mut scratch = F::Scratch::default();
        for (customer, r) in rows.timelines() {
            if self.only.is_some_and(|set| !set.contains(customer)) {
                continue;
            }
            self.f.fold(&mut acc, &mut scratch, Span { customer, rows, start: r.start, end: r.end });
        }
        self.wire.encode(&acc)
    }

    fn merge(&self, parts: &[Vec<u8>]) -> Result<Vec<u8>, StoreError> {
        let mut out = self.f.init();
        for p in parts {
            out = self.f.merge(out, self.wire.decode(p)?);
        }
        self.wire.encode(&out)
    }
}

/// Hands the fold to the store's runner: the merged partial of all customers.
fn run_elsewhere<F: Fold>(store: &Store, f: &F, runner: &dyn FoldRunner) -> Result<F::Partial, EngineError> {
    let Some(wire) = f.wire() else {
        let name = std::any::type_name::<F>();
        let name = name.split('<').next().unwrap_or(name).rsplit("::").next().unwrap_or(name);
        return Err(EngineError::InvalidQuery(format!(
            "this analysis ({name}) does not run on a cluster yet; run it without --cluster"
        )));
    };
    let local = Local { f, wire, only: store.customer_filter() };
    let bytes = runner.run(store, &f.columns(), &f.property_rows(), &local)?;
    Ok(local.wire.decode(&bytes)?)
}

/// Which postings a fold can be answered from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostingsPlan {
    pub codes: Vec<u32>,
    pub revenue: bool,
}

/// Folds one partition into `acc`: from postings when the fold has a plan
/// and the partition has them, else from its rows.
fn fold_partition<F: Fold>(
    store: &Store,
    f: &F,
    plan: Option<&PostingsPlan>,
    partition: u32,
    acc: &mut F::Partial,
) -> Result<(), EngineError> {
    let mut scratch = F::Scratch::default();
    let only = store.customer_filter();
    // Postings hold every customer: a segment's scope folds rows.
    if let Some(plan) = plan.filter(|_| only.is_none())
        && let Some(post) = store.read_postings(partition, &plan.codes, plan.revenue)?
    {
        f.fold_postings(acc, &mut scratch, &post);
        return Ok(());
    }
    let rows = store.read_partition_with(partition, &f.columns(), &f.property_rows())?;
    for (i, (customer, r)) in rows.timelines().enumerate() {
        if i % CHECK_EVERY == 0 {
            store.check_cancel()?;
        }
        if only.is_some_and(|set| !set.contains(customer)) {
            continue;
        }
        f.fold(acc, &mut scratch, Span { customer, rows: &rows, start: r.start, end: r.end });
    }
    Ok(())
}

/// Folds every timeline of the store, partitions in parallel, and merges.
pub fn run<F: Fold>(store: &Store, f: &F) -> Result<F::Partial, EngineError> {
    if let Some(runner) = store.fold_runner() {
        return run_elsewhere(store, f, runner.as_ref());
    }
    let plan = f.postings();
    // Under a customer filter, only the partitions its customers live in.
    let parts = store.partitions();
    let wanted: Vec<u32> = match store.customer_filter() {
        Some(set) => {
            let mut hit = vec![false; parts as usize];
            for c in set.iter() {
                hit[wayfarer_store::partition_of(c, parts) as usize] = true;
            }
            (0..parts).filter(|&p| hit[p as usize]).collect()
        }
        None => (0..parts).collect(),
    };
    let partials: Vec<F::Partial> = wanted
        .into_par_iter()
        .map(|p| -> Result<F::Partial, EngineError> {
            let mut acc = f.init();
            fold_partition(store, f, plan.as_ref(), p, &mut acc)?;
            Ok(acc)
        })
        .collect::<Result<_, _>>()?;
    Ok(partials.into_iter().fold(f.init(), |a, b| f.merge(a, b)))
}

/// Folds every timeline and finishes: the analysis's report.
pub fn report<F: Fold>(store: &Store, f: &F) -> Result<F::Report, EngineError> {
    Ok(f.finish(run(store, f)?))
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
    let (cols, props) = (f.columns(), f.property_rows());
    let mut parts: Vec<Option<F::Partial>> = (0..groups).map(|_| Some(f.init())).collect();
    let mut scratch = F::Scratch::default();
    for p in 0..store.partitions() {
        let rows = store.read_partition_with(p, &cols, &props)?;
        for (customer, r) in rows.timelines() {
            if store.customer_filter().is_some_and(|set| !set.contains(customer)) {
                continue;
            }
            let g = group_of(customer) % groups.max(1);
            if let Some(acc) = parts[g].as_mut() {
                f.fold(acc, &mut scratch, Span { customer, rows: &rows, start: r.start, end: r.end });
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

/// Walks postings lists timeline by timeline and calls `f(timeline,
/// ranges)` once per timeline that has any item, with the range of each
/// list (by index into `post.lists`) that belongs to it (each list's items
/// are in row order; a fold that needs them across lists in order merges
/// them).
pub fn walk_postings_ranges(post: &Postings, f: impl FnMut(usize, &[(usize, std::ops::Range<usize>)])) {
    let lists: Vec<&[u32]> = post.lists.iter().map(|(_, rows, _)| rows.as_slice()).collect();
    walk_ranges(&post.starts, &lists, f);
}

/// [`walk_postings_ranges`] over any lists of ascending rows (each list's
/// rows of one partition, `starts` its timelines' first rows).
pub fn walk_ranges(starts: &[u32], lists: &[&[u32]], mut f: impl FnMut(usize, &[(usize, std::ops::Range<usize>)])) {
    let mut cursor = vec![0usize; lists.len()];
    let mut ranges: Vec<(usize, std::ops::Range<usize>)> = Vec::new();
    let mut timeline = 0usize;
    // The first row not yet walked, over all lists.
    while let Some(first) = lists.iter().enumerate().filter_map(|(i, rows)| rows.get(cursor[i])).min() {
        // Its timeline: the last one starting at or before it (galloping
        // from the current one, as the next timeline with items is usually
        // near).
        let rest = &starts[timeline + 1..];
        timeline += count_below(rest, *first + 1);
        let end = starts.get(timeline + 1).copied().unwrap_or(u32::MAX);
        ranges.clear();
        for (i, rows) in lists.iter().enumerate() {
            let c0 = cursor[i];
            let c = c0 + count_below(&rows[c0..], end);
            if c > c0 {
                ranges.push((i, c0..c));
            }
            cursor[i] = c;
        }
        f(timeline, &ranges);
    }
}

/// How many of the leading (sorted) values are below `bound`: a galloping
/// search, cheap when the answer is small.
pub fn count_below<T: Copy + PartialOrd>(sorted: &[T], bound: T) -> usize {
    let mut hi = 1;
    while hi <= sorted.len() && sorted[hi - 1] < bound {
        hi *= 2;
    }
    let lo = hi / 2;
    lo + sorted[lo..hi.min(sorted.len())].partition_point(|&v| v < bound)
}

#[cfg(test)]
mod tests {
    use super::count_below;
    use std::sync::Arc;
    use wayfarer_store::remote::{FoldRunner, LocalFold};
    use wayfarer_store::{Col, PropertyRows, Rows, Store, StoreError};

    /// Runs folds as a cluster does: each partition's rows read from its
    /// Parquet segments as an executor's scan gives them (shuffled),
    /// folded into an encoded partial, the partials merged in partition
    /// order — with the fold's own code, across the wire encoding.
    #[derive(Debug)]
    struct AsACluster;

    impl FoldRunner for AsACluster {
        fn run(
            &self,
            store: &Store,
            cols: &[Col],
            _: &PropertyRows,
            local: &dyn LocalFold,
        ) -> Result<Vec<u8>, StoreError> {
            let mut want: Vec<Col> = Col::ALL.iter().copied().filter(|c| wayfarer_store::read::is_hot(*c)).collect();
            want.extend(cols.iter().copied().filter(|c| !wayfarer_store::read::is_hot(*c)));
            let mut parts = Vec::new();
            for p in 0..store.partitions() {
                let mut batches = Vec::new();
                for s in store.manifest().segments_of(p) {
                    batches.push(wayfarer_store::segment::read_segment(&store.dir().join(&s.file), &want)?);
                }
                if batches.is_empty() {
                    continue;
                }
                let all = arrow_select::concat::concat_batches(&batches[0].schema(), &batches).unwrap();
                // Rows in another order than the store's.
                let reversed = arrow_array::UInt32Array::from_iter_values((0..all.num_rows() as u32).rev());
                let shuffled = arrow_select::take::take_record_batch(&all, &reversed).unwrap();
                parts.push(local.fold(&Rows::from_batch(&shuffled)?)?);
            }
            local.merge(&parts)
        }
    }

    /// A funnel answered from postings step by step (a glob step over two
    /// events, a step that repeats an earlier one, equal timestamps) gives
    /// the answer of the rows and the scan: levels, step times, time to
    /// convert.
    #[test]
    fn a_funnel_from_postings_step_by_step_is_the_funnel_from_rows() {
        use crate::Scope;
        use crate::fold::Fold;
        use crate::funnel::{FunnelFold, FunnelSpec, Mode, Step};
        use crate::testutil::*;
        let names = ["Product Viewed", "Product Added", "Product Shared", "Checkout Started", "Order Completed"];
        let mut events = Vec::new();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for c in 0..400u32 {
            let user = format!("u{c}");
            // Heavy-tailed: a few customers with many events.
            let n = if c % 50 == 0 { 200 } else { 1 + c % 9 };
            let mut t = f64::from(c % 13) * 600.0;
            for _ in 0..n {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Some events share the previous one's minute.
                t += [0.0, 0.0, 3.0, 45.0, 2000.0, 9000.0][(state % 6) as usize];
                events.push(ev(&user, t, names[(state >> 8) as usize % names.len()]));
            }
        }
        let (_d, s) = store(events);
        let m = model(&s);
        let scope = Scope::default();
        for steps in [
            vec!["Product Viewed", "Product A*", "Checkout Started", "Order Completed"],
            vec!["Product Viewed", "Product Viewed", "Order Completed"],
            vec!["Product *", "Checkout Started"],
        ] {
            let steps = steps.iter().map(|e| Step::parse(e, &m).unwrap()).collect();
            let spec = FunnelSpec::new(steps, 3 * 86_400_000_000, Mode::Default);
            let answer = |from_rows: bool| {
                let mut f = FunnelFold::new(&m, &scope, &spec).unwrap();
                // Collecting each customer's level reads rows, not postings.
                f.collect_levels = from_rows;
                assert_eq!(f.postings().is_some(), !from_rows);
                let (p, _) = super::run(&s, &f).unwrap();
                serde_json::to_value(f.finish((p, Vec::new()))).unwrap()
            };
            let postings = answer(false);
            assert_eq!(postings, answer(true));
            assert!(postings["level_counts"].as_array().unwrap().iter().filter(|n| n.as_u64() > Some(0)).count() > 2);
        }
    }

    #[test]
    fn folds_run_elsewhere_give_the_embedded_answers() {
        use crate::Scope;
        use crate::testutil::*;
        let mut events = Vec::new();
        for c in 0..300u32 {
            let user = format!("u{c}");
            let base = f64::from(c % 17) * 1440.0;
            events.push(with(ev(&user, base, "Page Viewed"), |e| e.url = Some(format!("https://x.test/p{}", c % 5))));
            if c % 2 == 0 {
                events.push(ev(&user, base + 5.0, "Product Viewed"));
            }
            if c % 3 == 0 {
                for k in 0..(c % 4 + 1) {
                    let t = base + 30.0 + f64::from(k) * 2880.0;
                    events.push(with(ev(&user, t, "Order Completed"), |e| e.revenue = Some(f64::from(c) * 0.1 + 0.07)));
                }
            }
            if c % 5 == 0 {
                events.push(with(ev(&user, base + 90.0, "Survey Responded"), |e| {
                    e.score = Some(f64::from(c % 11));
                    e.survey = Some("nps".into());
                    e.text = Some(if c % 2 == 0 { "great, love it".into() } else { "slow and broken".into() });
                }));
            }
        }
        let (_d, s) = store(events);
        let m = model(&s);
        let scope = Scope::default();
        let remote = s.clone().with_runner(Arc::new(AsACluster));
        let json = |v: serde_json::Value| v.to_string();
        let steps = ["Page Viewed", "Product Viewed", "Order Completed"]
            .iter()
            .map(|e| crate::funnel::Step::parse(e, &m).unwrap())
            .collect();
        let spec = crate::funnel::FunnelSpec::new(steps, 7 * 86_400_000_000, crate::window_funnel::Mode::Default);
        let both = |f: &dyn Fn(&Store) -> serde_json::Value| (json(f(&s)), json(f(&remote)));
        let checks: Vec<(&str, (String, String))> = vec![
            (
                "funnel",
                both(&|st| serde_json::to_value(crate::funnel::funnel(st, &m, &scope, &spec).unwrap()).unwrap()),
            ),
            (
                "paths",
                both(&|st| {
                    serde_json::to_value(
                        crate::paths::paths(st, &m, &scope, &crate::paths::PathSpec::default()).unwrap(),
                    )
                    .unwrap()
                }),
            ),
            (
                "retention",
                both(&|st| {
                    let spec = crate::retention::RetentionSpec {
                        period: crate::period::Period::Week,
                        periods: 4,
                        start_event: None,
                        return_event: None,
                    };
                    serde_json::to_value(crate::retention::retention(st, &m, &scope, &spec).unwrap()).unwrap()
                }),
            ),
            (
                "rfm",
                both(&|st| {
                    let spec = crate::rfm::RfmSpec {
                        event: "Order Completed".into(),
                        calibration_end: None,
                        unit: crate::rfm::Unit::Day,
                        keep_customers: true,
                    };
                    serde_json::to_value(crate::rfm::rfm(st, &m, &scope, &spec).unwrap()).unwrap()
                }),
            ),
            ("sessions", both(&|st| serde_json::to_value(crate::sessions::sessions(st, &m, &scope).unwrap()).unwrap())),
            ("map", both(&|st| serde_json::to_value(crate::journey::journey_maps(st, &m, &scope).unwrap()).unwrap())),
        ];
        for (name, (here, there)) in checks {
            assert!(here.len() > 50, "{name}: {here}");
            assert_eq!(here, there, "{name} differs when run elsewhere");
        }
        // A fold without a wire encoding says so instead of answering.
        let e = crate::doctor::doctor(&remote, &m).unwrap_err().to_string();
        assert!(e.contains("does not run on a cluster"), "{e}");
    }

    #[test]
    fn galloping_counts_like_a_scan() {
        let sorted: Vec<u32> = (0..300).map(|i| i * 3 / 2).collect();
        for len in [0, 1, 2, 3, 7, 64, 65, 300] {
            let s = &sorted[..len];
            for bound in 0..460 {
                assert_eq!(count_below(s, bound), s.iter().filter(|&&v| v < bound).count(), "len {len} bound {bound}");
            }
        }
    }
}
