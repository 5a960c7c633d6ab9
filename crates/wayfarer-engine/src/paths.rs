//! Paths (DESIGN §4.6): consecutive-event transitions over every timeline
//! (ties in arrival order, self-transitions counted), optionally with
//! repeats collapsed and labels cleaned by regex rewrites; the most frequent
//! first-N-event paths from a start event or up to an end event, with the
//! share of customers on each; and Sankey nodes and links by step index.

use std::collections::HashMap;

use rustc_hash::FxHashMap;

use regex::Regex;
use serde::{Deserialize, Serialize};
use wayfarer_core::Kind;
use wayfarer_core::glob::glob_match;
use wayfarer_store::{Col, Store};

use crate::fold::{self, Fold, Span};
use crate::model::Model;
use crate::{EngineError, Scope, Unit};

/// What a path node is named after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeBy {
    /// The event name.
    Event,
    /// The page's URL path for page and screen views, else the event name.
    Url,
}

#[derive(Debug, Clone)]
pub struct PathSpec {
    pub from_event: Option<String>,
    pub to_event: Option<String>,
    pub length: usize,
    pub top: usize,
    pub collapse_repeats: bool,
    /// Rewrites applied in order to every label.
    pub clean: Vec<(Regex, String)>,
    pub by: NodeBy,
    /// Customers (one sequence per timeline) or sessions (one per session).
    pub per: Unit,
}

impl Default for PathSpec {
    fn default() -> Self {
        PathSpec {
            from_event: None,
            to_event: None,
            length: 5,
            top: 10,
            collapse_repeats: false,
            clean: Vec::new(),
            by: NodeBy::Event,
            per: Unit::Customers,
        }
    }
}

/// Parses `REGEX=>REPLACEMENT` (the replacement may use `$1`).
pub fn parse_clean(s: &str) -> Result<(Regex, String), EngineError> {
    let (pat, rep) = s
        .split_once("=>")
        .ok_or_else(|| EngineError::InvalidQuery(format!("--clean '{s}': expected REGEX=>REPLACEMENT")))?;
    let re = Regex::new(pat).map_err(|e| EngineError::InvalidQuery(format!("--clean '{s}': {e}")))?;
    Ok((re, rep.to_string()))
}

/// Event dictionaries up to this size count transitions in a dense matrix.
const DENSE: usize = 256;

/// Labels are interned per partial (every event name first, so an event's
/// code is its label); merging maps them by name.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct PathsPartial {
    labels: Vec<String>,
    index: FxHashMap<String, u32>,
    /// Transitions between event-name labels when there are few: [from * width + to].
    dense: Vec<u64>,
    width: usize,
    transitions: FxHashMap<(u32, u32), u64>,
    paths: FxHashMap<Vec<u32>, u64>,
    /// (step, label) → customers; (step, from, to) → customers.
    nodes: FxHashMap<(u16, u32), u64>,
    links: FxHashMap<(u16, u32, u32), u64>,
    customers: u64,
    customers_with_path: u64,
    scratch_seq: Vec<u32>,
    scratch_codes: Vec<u32>,
}

impl PathsPartial {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.labels.len() as u32;
        self.labels.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

pub struct PathsFold<'m> {
    model: &'m Model,
    scope: &'m Scope,
    spec: &'m PathSpec,
}

impl PathsFold<'_> {
    fn label(&self, p: &mut PathsPartial, rows: &wayfarer_store::Rows, r: usize) -> u32 {
        let code = rows.event[r];
        let by_url = self.spec.by == NodeBy::Url && Kind::from_code(rows.kind[r]).is_view();
        if !by_url && self.spec.clean.is_empty() {
            // Every event name was interned first: the code is the label.
            return code;
        }
        let mut label = if by_url {
            rows.str_at(Col::Url, r).map_or_else(|| self.model.event_name(code).to_string(), url_path)
        } else {
            self.model.event_name(code).to_string()
        };
        for (re, rep) in &self.spec.clean {
            label = re.replace_all(&label, rep.as_str()).into_owned();
        }
        p.intern(&label)
    }
}

/// Node labels interned to ids for the path folds (graph, step matrix,
/// matches): every event name first, so an event's code is its id, then
/// what a fold adds (markers, URL paths); partials map each other's labels
/// by name when they merge.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Labels {
    names: Vec<String>,
    index: FxHashMap<String, u32>,
}

impl Labels {
    /// Every event name of the model, in code order.
    pub fn with_events(model: &Model) -> Labels {
        let mut l = Labels::default();
        for name in &model.event_names {
            l.intern(name);
        }
        l
    }

    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }

    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The ids here of another partial's labels (new ones added).
    pub fn absorb(&mut self, other: &Labels) -> Vec<u32> {
        other.names.iter().map(|l| self.intern(l)).collect()
    }

    /// Row `r`'s label: its event code, or with `NodeBy::Url` a view's URL path.
    pub fn of_row(&mut self, by: NodeBy, rows: &wayfarer_store::Rows, r: usize) -> u32 {
        if by == NodeBy::Url
            && Kind::from_code(rows.kind[r]).is_view()
            && let Some(u) = rows.str_at(Col::Url, r)
        {
            return self.intern(&url_path(u));
        }
        rows.event[r]
    }
}

/// The path of a URL: no scheme, host, query or fragment.
pub(crate) fn url_path(u: &str) -> String {
    let rest = u.split_once("://").map_or(u, |(_, r)| r.split_once('/').map_or("", |(_, p)| p));
    let path = rest.split(['?', '#']).next().unwrap_or("");
    format!("/{}", path.trim_start_matches('/'))
}

impl Fold for PathsFold<'_> {
    type Partial = PathsPartial;
    type Scratch = ();
    type Report = PathsReport;

    fn wire(&self) -> Option<crate::fold::Wire<Self::Partial>> {
        Some(crate::fold::Wire::serde())
    }

    fn columns(&self) -> Vec<Col> {
        let mut c = vec![Col::Timestamp, Col::EventCode, Col::KindCode];
        if self.spec.by == NodeBy::Url {
            c.push(Col::Url);
        }
        c
    }

    fn init(&self) -> PathsPartial {
        let mut p = PathsPartial::default();
        for name in &self.model.event_names {
            p.intern(name);
        }
        if p.labels.len() <= DENSE {
            p.width = p.labels.len();
            p.dense = vec![0; p.width * p.width];
        }
        p
    }

    fn fold(&self, p: &mut PathsPartial, _: &mut (), span: Span<'_>) {
        let rows = span.rows;
        let mut seq = std::mem::take(&mut p.scratch_seq);
        let mut codes = std::mem::take(&mut p.scratch_codes);
        seq.clear();
        codes.clear();
        let unbounded = self.scope.from.is_none() && self.scope.to.is_none();
        let per_session = self.spec.per == Unit::Sessions;
        let mut last_ts: Option<i64> = None;
        for r in span.start..span.end {
            if !Kind::code_is_interaction(rows.kind[r]) || (!unbounded && !self.scope.contains(rows.ts[r])) {
                continue;
            }
            if per_session && last_ts.is_some_and(|t| self.model.new_session(t, rows.ts[r])) {
                self.record(p, &seq, &codes);
                seq.clear();
                codes.clear();
            }
            last_ts = Some(rows.ts[r]);
            let l = self.label(p, rows, r);
            if self.spec.collapse_repeats && seq.last() == Some(&l) {
                continue;
            }
            seq.push(l);
            codes.push(rows.event[r]);
        }
        self.record(p, &seq, &codes);
        p.scratch_seq = seq;
        p.scratch_codes = codes;
    }

    fn merge(&self, a: PathsPartial, b: PathsPartial) -> PathsPartial {
        self.merge_partials(a, b)
    }

    /// The report of a merged partial.
    fn finish(&self, p: PathsPartial) -> PathsReport {
        let p = &p;
        let name = |l: u32| p.labels[l as usize].clone();
        let w = p.width;
        let dense =
            p.dense.iter().enumerate().filter(|(_, c)| **c > 0).map(|(i, &c)| ((i / w) as u32, (i % w) as u32, c));
        let mut transitions: Vec<Transition> = p
            .transitions
            .iter()
            .map(|(&(a, b), &c)| (a, b, c))
            .chain(dense)
            .map(|(a, b, c)| Transition { from: name(a), to: name(b), count: c })
            .collect();
        transitions
            .sort_by(|x, y| y.count.cmp(&x.count).then_with(|| x.from.cmp(&y.from)).then_with(|| x.to.cmp(&y.to)));
        let mut top: Vec<(Vec<String>, u64)> =
            p.paths.iter().map(|(path, c)| (path.iter().map(|&l| name(l)).collect(), *c)).collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        top.truncate(self.spec.top);
        let total = p.customers_with_path.max(1) as f64;
        let top_paths =
            top.into_iter().map(|(path, c)| TopPath { path, customers: c, share: c as f64 / total }).collect();

        // Sankey: the most frequent labels per step, others folded together.
        let steps = p.nodes.keys().map(|k| k.0).max().map_or(0, |m| m as usize + 1);
        let mut nodes = Vec::new();
        let mut id_of: HashMap<(u16, Option<u32>), usize> = HashMap::new();
        for s in 0..steps as u16 {
            let mut here: Vec<(u32, u64)> = p.nodes.iter().filter(|(k, _)| k.0 == s).map(|(k, c)| (k.1, *c)).collect();
            here.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| name(a.0).cmp(&name(b.0))));
            let mut other = 0u64;
            for (i, (l, c)) in here.iter().enumerate() {
                if i < SANKEY_LABELS {
                    id_of.insert((s, Some(*l)), nodes.len());
                    nodes.push(SankeyNode { id: nodes.len(), step: s as usize, label: name(*l), customers: *c });
                } else {
                    other += c;
                }
            }
            if other > 0 {
                id_of.insert((s, None), nodes.len());
                nodes.push(SankeyNode { id: nodes.len(), step: s as usize, label: "(other)".into(), customers: other });
            }
        }
        let node = |s: u16, l: u32| id_of.get(&(s, Some(l))).or_else(|| id_of.get(&(s, None))).copied();
        let mut links: HashMap<(usize, usize), u64> = HashMap::new();
        for (&(s, a, b), &c) in &p.links {
            if let (Some(x), Some(y)) = (node(s, a), node(s + 1, b)) {
                *links.entry((x, y)).or_insert(0) += c;
            }
        }
        let mut links: Vec<SankeyLink> =
            links.into_iter().map(|((x, y), c)| SankeyLink { source: x, target: y, customers: c }).collect();
        links.sort_by_key(|l| (l.source, l.target));
        PathsReport {
            unit: self.spec.per,
            customers: p.customers,
            customers_with_path: p.customers_with_path,
            transitions,
            top_paths,
            sankey: Sankey { nodes, links },
        }
    }
}

impl PathsFold<'_> {
    fn record(&self, p: &mut PathsPartial, seq: &[u32], codes: &[u32]) {
        if seq.is_empty() {
            return;
        }
        p.customers += 1;
        let w = p.width as u32;
        for t in seq.windows(2) {
            if t[0] < w && t[1] < w {
                p.dense[(t[0] * w + t[1]) as usize] += 1;
            } else {
                *p.transitions.entry((t[0], t[1])).or_insert(0) += 1;
            }
        }
        // The path window.
        let hit = |g: &str, i: usize| glob_match(g, self.model.event_name(codes[i]));
        let path: &[u32] = match (&self.spec.from_event, &self.spec.to_event) {
            (Some(f), _) => match (0..seq.len()).find(|&i| hit(f, i)) {
                Some(i) => &seq[i..(i + self.spec.length).min(seq.len())],
                None => return,
            },
            (None, Some(t)) => match (0..seq.len()).find(|&i| hit(t, i)) {
                Some(i) => &seq[(i + 1).saturating_sub(self.spec.length)..=i],
                None => return,
            },
            (None, None) => &seq[..self.spec.length.min(seq.len())],
        };
        p.customers_with_path += 1;
        *p.paths.entry(path.to_vec()).or_insert(0) += 1;
        for (i, &l) in path.iter().enumerate() {
            *p.nodes.entry((i as u16, l)).or_insert(0) += 1;
            if i + 1 < path.len() {
                *p.links.entry((i as u16, l, path[i + 1])).or_insert(0) += 1;
            }
        }
    }

    fn merge_partials(&self, mut a: PathsPartial, b: PathsPartial) -> PathsPartial {
        let map: Vec<u32> = b.labels.iter().map(|l| a.intern(l)).collect();
        // Both interned every event name first, so their dense matrices line up.
        for (x, y) in a.dense.iter_mut().zip(&b.dense) {
            *x += y;
        }
        for ((x, y), c) in b.transitions {
            *a.transitions.entry((map[x as usize], map[y as usize])).or_insert(0) += c;
        }
        for (path, c) in b.paths {
            let p: Vec<u32> = path.iter().map(|&l| map[l as usize]).collect();
            *a.paths.entry(p).or_insert(0) += c;
        }
        for ((s, l), c) in b.nodes {
            *a.nodes.entry((s, map[l as usize])).or_insert(0) += c;
        }
        for ((s, x, y), c) in b.links {
            *a.links.entry((s, map[x as usize], map[y as usize])).or_insert(0) += c;
        }
        a.customers += b.customers;
        a.customers_with_path += b.customers_with_path;
        a
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathsReport {
    /// What `customers` and the counts below count (customers or sessions).
    #[serde(default)]
    pub unit: Unit,
    pub customers: u64,
    pub customers_with_path: u64,
    pub transitions: Vec<Transition>,
    pub top_paths: Vec<TopPath>,
    pub sankey: Sankey,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub from: String,
    pub to: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopPath {
    pub path: Vec<String>,
    pub customers: u64,
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sankey {
    pub nodes: Vec<SankeyNode>,
    pub links: Vec<SankeyLink>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SankeyNode {
    pub id: usize,
    pub step: usize,
    pub label: String,
    pub customers: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SankeyLink {
    pub source: usize,
    pub target: usize,
    pub customers: u64,
}

impl<'m> PathsFold<'m> {
    pub fn new(model: &'m Model, scope: &'m Scope, spec: &'m PathSpec) -> PathsFold<'m> {
        PathsFold { model, scope, spec }
    }
}

/// Labels kept per Sankey step; the rest become "(other)".
const SANKEY_LABELS: usize = 12;

pub fn paths(store: &Store, model: &Model, scope: &Scope, spec: &PathSpec) -> Result<PathsReport, EngineError> {
    if spec.length == 0 {
        return Err(EngineError::InvalidQuery("--length must be at least 1".into()));
    }
    if spec.from_event.is_some() && spec.to_event.is_some() {
        return Err(EngineError::InvalidQuery("use either --from-event or --to-event, not both".into()));
    }
    if scope.persona.is_some() {
        return Err(EngineError::InvalidQuery("paths do not take --persona yet".into()));
    }
    if let Some(e) = &spec.from_event {
        model.events_matching(e, "--from-event")?;
    }
    if let Some(e) = &spec.to_event {
        model.events_matching(e, "--to-event")?;
    }
    let f = PathsFold { model, scope, spec };
    fold::report(store, &f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    fn get(r: &PathsReport, from: &str, to: &str) -> u64 {
        r.transitions.iter().find(|t| t.from == from && t.to == to).map_or(0, |t| t.count)
    }

    #[test]
    fn transitions_keep_arrival_order_and_count_self_transitions() {
        let (_d, s) = store(vec![
            ev("a", 0.0, "A"),
            ev("a", 1.0, "B"),
            ev("a", 1.0, "C"), // same instant as B, arrived after it
            ev("a", 2.0, "C"),
            ev("b", 0.0, "A"),
            ev("c", 5.0, "Identify"), // not an interaction
        ]);
        let m = model(&s);
        let r = paths(&s, &m, &Scope::default(), &PathSpec::default()).unwrap();
        assert_eq!(get(&r, "A", "B"), 1);
        assert_eq!(get(&r, "B", "C"), 1);
        assert_eq!(get(&r, "C", "C"), 1, "self-transitions count");
        assert_eq!(r.transitions.iter().map(|t| t.count).sum::<u64>(), 3, "b has one event: no transition");
        assert_eq!(r.customers, 2);
        let collapsed =
            paths(&s, &m, &Scope::default(), &PathSpec { collapse_repeats: true, ..PathSpec::default() }).unwrap();
        assert_eq!(get(&collapsed, "C", "C"), 0);
    }

    #[test]
    fn top_paths_from_and_to_an_event_with_cleaning() {
        let (_d, s) = store(vec![
            ev("a", 0.0, "Home"),
            ev("a", 1.0, "Product 12"),
            ev("a", 2.0, "Cart"),
            ev("b", 0.0, "Blog"),
            ev("b", 1.0, "Home"),
            ev("b", 2.0, "Product 7"),
            ev("b", 3.0, "Cart"),
            ev("c", 0.0, "Home"),
        ]);
        let m = model(&s);
        let spec = PathSpec {
            from_event: Some("Home".into()),
            length: 3,
            clean: vec![parse_clean(r"Product \d+=>Product").unwrap()],
            ..PathSpec::default()
        };
        let r = paths(&s, &m, &Scope::default(), &spec).unwrap();
        assert_eq!(r.top_paths[0].path, ["Home", "Product", "Cart"]);
        assert_eq!(r.top_paths[0].customers, 2);
        assert!((r.top_paths[0].share - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(r.sankey.nodes.iter().filter(|n| n.step == 0).count(), 1);
        let to = PathSpec { to_event: Some("Cart".into()), length: 2, ..PathSpec::default() };
        let r = paths(&s, &m, &Scope::default(), &to).unwrap();
        assert_eq!(r.customers_with_path, 2);
        assert!(r.top_paths.iter().all(|p| p.path.len() == 2 && p.path[1] == "Cart"));
        assert!(parse_clean("no arrow").is_err());
        assert_eq!(url_path("https://shop.example/p/12?utm=x#top"), "/p/12");
    }
}
