//! The transition graph (DESIGN §4.6, §4.10): every event (or page) as a
//! node and every consecutive pair of a customer's events as an edge, with
//! its transitions, the customers who made it, P(next | from), P(prev | to)
//! and the median and 95th percentile of the time between the two events;
//! nodes carry their customers and their typical position (the mean index
//! of a customer's first such event), which lays the graph out in layers.
//! One fold; [`compare`] tests two groups' graphs edge by edge.
//!
//! Times are kept in a log-scaled histogram per edge (bins 5 % apart), so
//! the median and p95 are within 5 % of the exact ones.

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use wayfarer_core::Kind;
use wayfarer_store::{Col, Store};

use crate::fold::{self, Fold, Span};
use crate::model::Model;
use crate::paths::NodeBy;
use crate::timeline::Timeline;
use crate::{EngineError, Scope};

#[derive(Debug, Clone)]
pub struct GraphSpec {
    pub by: NodeBy,
    /// Edges (and nodes) made by fewer customers are left out.
    pub min_customers: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphNode {
    pub label: String,
    /// Customers with at least one such event.
    pub customers: u64,
    pub events: u64,
    /// The mean index (0-based) of a customer's first such event.
    pub position: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphEdge {
    pub from: String,
    pub to: String,
    /// Transitions from `from` straight to `to`.
    pub count: u64,
    /// Customers who made it at least once.
    pub customers: u64,
    /// Of the transitions out of `from`, the share to `to`.
    pub p_next: f64,
    /// Of the transitions into `to`, the share from `from`.
    pub p_prev: f64,
    pub median_seconds: f64,
    pub p95_seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphReport {
    /// Customers with events in scope.
    pub customers: u64,
    pub nodes: Vec<GraphNode>,
    /// By transitions, most first.
    pub edges: Vec<GraphEdge>,
}

/// Log-scaled time bins: bin k holds times t (seconds) with
/// floor(ln(1 + t) / ln 1.05) = k; the last bin holds everything from
/// about 9 years on.
const BIN_RATIO: f64 = 1.05;
const BINS: usize = 400;

fn bin(seconds: f64) -> u16 {
    ((1.0 + seconds.max(0.0)).ln() / BIN_RATIO.ln()).floor().min((BINS - 1) as f64) as u16
}

/// The middle of a bin, in seconds.
fn unbin(k: u16) -> f64 {
    (BIN_RATIO.powf(f64::from(k) + 0.5) - 1.0).max(0.0)
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct EdgeAcc {
    count: u64,
    customers: u64,
    /// Transitions per time bin (allocated at the first).
    times: Vec<u32>,
}

impl EdgeAcc {
    fn add(&mut self, seconds: f64) {
        if self.times.is_empty() {
            self.times = vec![0; BINS];
        }
        self.count += 1;
        self.times[usize::from(bin(seconds))] += 1;
    }

    fn merge(&mut self, o: EdgeAcc) {
        self.count += o.count;
        self.customers += o.customers;
        if self.times.is_empty() {
            self.times = o.times;
        } else {
            for (a, b) in self.times.iter_mut().zip(o.times) {
                *a += b;
            }
        }
    }
}

/// Event-name labels up to this many keep their edges in a dense matrix.
const DENSE: usize = 256;

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct NodeAcc {
    customers: u64,
    events: u64,
    position_sum: u64,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct GraphPartial {
    labels: crate::paths::Labels,
    customers: u64,
    nodes: FxHashMap<u32, NodeAcc>,
    /// Edges between the first `width` labels: `[from * width + to]`.
    dense: Vec<EdgeAcc>,
    width: usize,
    edges: FxHashMap<(u32, u32), EdgeAcc>,
}

impl GraphPartial {
    fn edge(&mut self, from: u32, to: u32) -> (&mut EdgeAcc, u64) {
        let w = self.width as u32;
        if from < w && to < w {
            let k = (from * w + to) as usize;
            (&mut self.dense[k], k as u64)
        } else {
            (self.edges.entry((from, to)).or_default(), u64::MAX)
        }
    }
}

/// What one customer's fold keeps between events: which nodes and edges
/// it has made (a stamp per dense edge, a set for the others).
#[derive(Debug, Default)]
pub struct GraphScratch {
    stamp: u32,
    dense_seen: Vec<u32>,
    seen_nodes: FxHashSet<u32>,
    seen_edges: FxHashSet<(u32, u32)>,
}

struct GraphFold<'a> {
    model: &'a Model,
    scope: &'a Scope,
    spec: &'a GraphSpec,
    persona: Option<usize>,
}

/// The transition graph of the customers in scope.
pub fn graph(store: &Store, model: &Model, scope: &Scope, spec: &GraphSpec) -> Result<GraphReport, EngineError> {
    let persona = model.resolve_persona(scope.persona.as_deref())?;
    fold::report(store, &GraphFold { model, scope, spec, persona })
}

impl Fold for GraphFold<'_> {
    type Partial = GraphPartial;
    type Scratch = GraphScratch;
    type Report = GraphReport;

    fn wire(&self) -> Option<crate::fold::Wire<Self::Partial>> {
        Some(crate::fold::Wire::serde())
    }

    fn columns(&self) -> Vec<Col> {
        let mut c = if self.persona.is_some() {
            self.model.timeline_columns()
        } else {
            vec![Col::Timestamp, Col::EventCode, Col::KindCode]
        };
        c.extend([Col::Timestamp, Col::EventCode, Col::KindCode]);
        if self.spec.by == NodeBy::Url {
            c.push(Col::Url);
        }
        c.sort_by_key(|c| c.index());
        c.dedup();
        c
    }

    fn init(&self) -> GraphPartial {
        let mut p = GraphPartial { labels: crate::paths::Labels::with_events(self.model), ..GraphPartial::default() };
        if p.labels.len() <= DENSE {
            p.width = p.labels.len();
            p.dense = vec![EdgeAcc::default(); p.width * p.width];
        }
        p
    }

    fn fold(&self, p: &mut GraphPartial, s: &mut GraphScratch, span: Span<'_>) {
        if let Some(want) = self.persona {
            let Some(t) = Timeline::build(self.model, self.scope, span) else { return };
            if t.persona != Some(want) {
                return;
            }
        }
        let rows = span.rows;
        s.seen_nodes.clear();
        s.seen_edges.clear();
        if s.dense_seen.len() != p.dense.len() {
            s.dense_seen = vec![0; p.dense.len()];
        }
        s.stamp = s.stamp.wrapping_add(1);
        if s.stamp == 0 {
            s.dense_seen.iter_mut().for_each(|x| *x = 0);
            s.stamp = 1;
        }
        let mut prev: Option<(u32, i64)> = None;
        let mut position = 0u64;
        for r in span.start..span.end {
            if !Kind::code_is_interaction(rows.kind[r]) || !self.scope.contains(rows.ts[r]) {
                continue;
            }
            let label = p.labels.of_row(self.spec.by, rows, r);
            let node = p.nodes.entry(label).or_default();
            node.events += 1;
            if s.seen_nodes.insert(label) {
                node.customers += 1;
                node.position_sum += position;
            }
            if let Some((from, at)) = prev {
                let (e, k) = p.edge(from, label);
                e.add((rows.ts[r] - at) as f64 / 1e6);
                let first = if k == u64::MAX {
                    s.seen_edges.insert((from, label))
                } else {
                    let seen = &mut s.dense_seen[k as usize];
                    let first = *seen != s.stamp;
                    *seen = s.stamp;
                    first
                };
                if first {
                    e.customers += 1;
                }
            }
            prev = Some((label, rows.ts[r]));
            position += 1;
        }
        if position > 0 {
            p.customers += 1;
        }
    }

    fn merge(&self, mut a: GraphPartial, b: GraphPartial) -> GraphPartial {
        let map = a.labels.absorb(&b.labels);
        a.customers += b.customers;
        for (l, n) in b.nodes {
            let m = a.nodes.entry(map[l as usize]).or_default();
            m.customers += n.customers;
            m.events += n.events;
            m.position_sum += n.position_sum;
        }
        // Both interned every event name first: their dense matrices line up.
        for (x, y) in a.dense.iter_mut().zip(b.dense) {
            x.merge(y);
        }
        for ((x, y), e) in b.edges {
            a.edge(map[x as usize], map[y as usize]).0.merge(e);
        }
        a
    }

    fn finish(&self, mut p: GraphPartial) -> GraphReport {
        // Every edge in one map.
        let w = p.width;
        for (k, e) in std::mem::take(&mut p.dense).into_iter().enumerate() {
            if e.count > 0 {
                p.edges.insert(((k / w) as u32, (k % w) as u32), e);
            }
        }
        let name = |l: u32| p.labels.name(l).to_string();
        let mut out_of: FxHashMap<u32, u64> = FxHashMap::default();
        let mut into: FxHashMap<u32, u64> = FxHashMap::default();
        for (&(x, y), e) in &p.edges {
            *out_of.entry(x).or_insert(0) += e.count;
            *into.entry(y).or_insert(0) += e.count;
        }
        let min = self.spec.min_customers;
        let mut nodes: Vec<GraphNode> = p
            .nodes
            .iter()
            .filter(|(_, n)| n.customers >= min.max(1))
            .map(|(&l, n)| GraphNode {
                label: name(l),
                customers: n.customers,
                events: n.events,
                position: n.position_sum as f64 / n.customers.max(1) as f64,
            })
            .collect();
        nodes.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.label.cmp(&b.label)));
        let mut edges: Vec<GraphEdge> = p
            .edges
            .iter()
            .filter(|(_, e)| e.customers >= min.max(1))
            .map(|(&(x, y), e)| GraphEdge {
                from: name(x),
                to: name(y),
                count: e.count,
                customers: e.customers,
                p_next: e.count as f64 / out_of[&x].max(1) as f64,
                p_prev: e.count as f64 / into[&y].max(1) as f64,
                median_seconds: quantile(&e.times, e.count, 0.5),
                p95_seconds: quantile(&e.times, e.count, 0.95),
            })
            .collect();
        edges.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.from.cmp(&b.from)).then_with(|| a.to.cmp(&b.to)));
        GraphReport { customers: p.customers, nodes, edges }
    }
}

/// The q-quantile of a histogram of `n` times (the nearest-rank one).
fn quantile(times: &[u32], n: u64, q: f64) -> f64 {
    let rank = ((q * n as f64).ceil() as u64).max(1);
    let mut seen = 0u64;
    for (k, &c) in times.iter().enumerate() {
        seen += u64::from(c);
        if seen >= rank {
            return unbin(k as u16);
        }
    }
    0.0
}

/// One edge in two groups: the share of the customers who reached `from`
/// that went straight on to `to`, in each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeDifference {
    pub from: String,
    pub to: String,
    /// Customers with the edge, of the customers with `from`, and the share, in A.
    pub a_customers: u64,
    pub a_of: u64,
    pub a_share: f64,
    pub b_customers: u64,
    pub b_of: u64,
    pub b_share: f64,
    /// A's share minus B's.
    pub difference: f64,
    /// Two-proportion z-test.
    pub p_value: f64,
    /// Benjamini–Hochberg over every edge compared.
    pub q_value: f64,
    /// q < 5 %.
    pub significant: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphComparison {
    pub a: String,
    pub b: String,
    pub a_customers: u64,
    pub b_customers: u64,
    /// Every edge either group made (with `min_customers` in one of them),
    /// significant ones first, then by the size of the difference.
    pub edges: Vec<EdgeDifference>,
    pub significant: usize,
}

/// The false discovery rate kept by [`compare`].
pub const FDR: f64 = 0.05;

/// Compares two groups' graphs edge by edge: per edge, the share of the
/// customers who reached its `from` node that went straight on to its
/// `to` node, in A and in B (customers are the independent units, so a
/// customer who loops counts once), a two-proportion z-test, and
/// Benjamini–Hochberg q-values over all the edges tested.
pub fn compare(a_name: &str, a: &GraphReport, b_name: &str, b: &GraphReport, min_customers: u64) -> GraphComparison {
    let nodes = |g: &GraphReport| -> FxHashMap<String, u64> {
        g.nodes.iter().map(|n| (n.label.clone(), n.customers)).collect()
    };
    let edges = |g: &GraphReport| -> FxHashMap<(String, String), u64> {
        g.edges.iter().map(|e| ((e.from.clone(), e.to.clone()), e.customers)).collect()
    };
    let (na, nb, ea, eb) = (nodes(a), nodes(b), edges(a), edges(b));
    let mut keys: Vec<&(String, String)> = ea.keys().chain(eb.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out: Vec<EdgeDifference> = keys
        .into_iter()
        .filter(|k| ea.get(*k).copied().unwrap_or(0).max(eb.get(*k).copied().unwrap_or(0)) >= min_customers)
        .filter_map(|(from, to)| {
            let (xa, xb) = (
                ea.get(&(from.clone(), to.clone())).copied().unwrap_or(0),
                eb.get(&(from.clone(), to.clone())).copied().unwrap_or(0),
            );
            let (n_a, n_b) = (na.get(from).copied().unwrap_or(0), nb.get(from).copied().unwrap_or(0));
            let test = wayfarer_models::stats::two_proportion(xa, n_a, xb, n_b)?;
            Some(EdgeDifference {
                from: from.clone(),
                to: to.clone(),
                a_customers: xa,
                a_of: n_a,
                a_share: test.value,
                b_customers: xb,
                b_of: n_b,
                b_share: test.baseline,
                difference: test.value - test.baseline,
                p_value: test.p_value,
                q_value: 1.0,
                significant: false,
            })
        })
        .collect();
    let q = benjamini_hochberg(&out.iter().map(|e| e.p_value).collect::<Vec<_>>());
    for (e, q) in out.iter_mut().zip(q) {
        e.q_value = q;
        e.significant = q < FDR;
    }
    out.sort_by(|x, y| {
        y.significant
            .cmp(&x.significant)
            .then_with(|| y.difference.abs().total_cmp(&x.difference.abs()))
            .then_with(|| (&x.from, &x.to).cmp(&(&y.from, &y.to)))
    });
    let significant = out.iter().filter(|e| e.significant).count();
    GraphComparison {
        a: a_name.to_string(),
        b: b_name.to_string(),
        a_customers: a.customers,
        b_customers: b.customers,
        edges: out,
        significant,
    }
}

pub use wayfarer_models::stats::benjamini_hochberg;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{self, ev, store};

    #[test]
    fn edges_carry_counts_customers_probabilities_and_times() {
        let (_dir, s) = store(vec![
            ev("a", 0.0, "Home"),
            ev("a", 1.0, "Product"),
            ev("a", 3.0, "Home"),
            ev("a", 4.0, "Product"),
            ev("b", 0.0, "Home"),
            ev("b", 10.0, "Cart"),
            ev("c", 0.0, "Product"),
        ]);
        let model = testutil::model(&s);
        let spec = GraphSpec { by: NodeBy::Event, min_customers: 1 };
        let g = graph(&s, &model, &Scope::default(), &spec).unwrap();
        assert_eq!(g.customers, 3);
        let edge = |f: &str, t: &str| g.edges.iter().find(|e| e.from == f && e.to == t).unwrap().clone();
        let hp = edge("Home", "Product");
        assert_eq!((hp.count, hp.customers), (2, 1));
        // Out of Home: 2 to Product, 1 to Cart.
        assert!((hp.p_next - 2.0 / 3.0).abs() < 1e-12);
        // Into Product: all from Home.
        assert!((hp.p_prev - 1.0).abs() < 1e-12);
        // One minute each way, within the bins' 5 %.
        assert!((hp.median_seconds - 60.0).abs() <= 3.0, "{}", hp.median_seconds);
        let hc = edge("Home", "Cart");
        assert!((hc.p95_seconds - 600.0).abs() <= 30.0, "{}", hc.p95_seconds);
        let home = g.nodes.iter().find(|n| n.label == "Home").unwrap();
        assert_eq!((home.customers, home.events), (2, 3));
        let product = g.nodes.iter().find(|n| n.label == "Product").unwrap();
        // First Product: index 1 for a, 0 for c.
        assert!((product.position - 0.5).abs() < 1e-12);
    }

    #[test]
    fn two_halves_of_one_population_differ_nowhere() {
        // 600 customers walk one Markov chain; split by the parity of
        // their number, the halves should show no significant edge.
        let names = ["Home", "List", "Product", "Cart", "Checkout", "Exit"];
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut events = Vec::new();
        for c in 0..600 {
            let id = format!("{}{c}", if c % 2 == 0 { "e" } else { "o" });
            let mut at = 0usize;
            for k in 0..8 {
                events.push(ev(&id, k as f64, names[at]));
                if at == 5 {
                    break;
                }
                let u = next();
                at = if u < 0.5 {
                    (at + 1).min(5)
                } else if u < 0.8 {
                    at.saturating_sub(1)
                } else {
                    5
                };
            }
        }
        let (_dir, s) = store(events);
        let model = testutil::model(&s);
        let spec = GraphSpec { by: NodeBy::Event, min_customers: 1 };
        let half = |prefix: char| {
            let ids = s.identity_shared().unwrap();
            let n = ids.len() as u32;
            let who: std::collections::HashSet<u32> =
                (0..n).filter(|&c| ids.external_id(c).starts_with(prefix)).collect();
            s.clone().only_customers(std::sync::Arc::new(who.into_iter().collect()))
        };
        let a = graph(&half('e'), &model, &Scope::default(), &spec).unwrap();
        let b = graph(&half('o'), &model, &Scope::default(), &spec).unwrap();
        assert_eq!((a.customers, b.customers), (300, 300));
        let c = compare("even", &a, "odd", &b, 1);
        assert!(c.edges.len() >= 10, "{}", c.edges.len());
        assert_eq!(c.significant, 0, "{:?}", c.edges.iter().filter(|e| e.significant).collect::<Vec<_>>());
    }

    #[test]
    fn benjamini_hochberg_matches_the_definition() {
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.20), "BH") = 0.04 0.0533 0.0533 0.20
        let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.20]);
        let want = [0.04, 0.16 / 3.0, 0.16 / 3.0, 0.20];
        for (a, b) in q.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{q:?}");
        }
    }

    #[test]
    fn comparing_groups_flags_only_real_differences() {
        let mut events = Vec::new();
        // Group A: 200 customers Home -> Product; B: 200 customers, half go to Cart instead.
        for i in 0..200 {
            let a = format!("a{i}");
            events.push(ev(&a, 0.0, "Home"));
            events.push(ev(&a, 1.0, "Product"));
            let b = format!("b{i}");
            events.push(ev(&b, 0.0, "Home"));
            events.push(ev(&b, 1.0, if i % 2 == 0 { "Product" } else { "Cart" }));
            // Both groups: Product/Cart -> Exit the same way.
            events.push(ev(&a, 2.0, "Exit"));
            events.push(ev(&b, 2.0, "Exit"));
        }
        let (_dir, s) = store(events);
        let model = testutil::model(&s);
        let spec = GraphSpec { by: NodeBy::Event, min_customers: 1 };
        let only = |prefix: char| {
            let ids = s.identity_shared().unwrap();
            let who: std::collections::HashSet<u32> =
                (0..400u32).filter(|&c| ids.external_id(c).starts_with(prefix)).collect();
            s.clone().only_customers(std::sync::Arc::new(who.into_iter().collect()))
        };
        let a = graph(&only('a'), &model, &Scope::default(), &spec).unwrap();
        let b = graph(&only('b'), &model, &Scope::default(), &spec).unwrap();
        assert_eq!((a.customers, b.customers), (200, 200));
        let c = compare("A", &a, "B", &b, 1);
        let flagged: Vec<(&str, &str)> =
            c.edges.iter().filter(|e| e.significant).map(|e| (e.from.as_str(), e.to.as_str())).collect();
        assert!(flagged.contains(&("Home", "Product")) && flagged.contains(&("Home", "Cart")), "{flagged:?}");
        // Product -> Exit: everyone who reached Product left, in both groups.
        assert!(!flagged.contains(&("Product", "Exit")), "{flagged:?}");
        let hp = c.edges.iter().find(|e| e.from == "Home" && e.to == "Product").unwrap();
        assert!((hp.a_share - 1.0).abs() < 1e-12 && (hp.b_share - 0.5).abs() < 1e-12);
    }
}
