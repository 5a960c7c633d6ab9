//! `paths --match PATTERN` (DESIGN §4.10): who did what a path pattern
//! says, and what they did around it. Per customer, the first (leftmost)
//! occurrence of the pattern: the customers and share who match, how many
//! occurrences they hold (without overlap), the events of the match, what
//! came right after it and the next events (what they did instead, for a
//! pattern that ends in a drop-off), and what came before. One fold.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use wayfarer_core::pattern::Pattern;
use wayfarer_store::{Col, PropertyRows, Store};

use crate::facts::Facts;
use crate::fold::{self, Fold, Span};
use crate::model::Model;
use crate::paths::TopPath;
use crate::timeline::Timeline;
use crate::{EngineError, Scope};

/// The most events of a match shown as its path.
const MATCH_SHOWN: usize = 10;
/// The labels of "nothing after the match" and "nothing before it".
const END: &str = "(end)";
const START: &str = "(start)";

/// What to match and how much context to keep.
#[derive(Debug, Clone)]
pub struct MatchSpec {
    /// The pattern, checked against the data (`compile_pattern`).
    pub pattern: Pattern,
    /// Events kept after and before each match (1–20).
    pub context: usize,
    pub top: usize,
    /// Labels: event names, or URL paths for page and screen views (the
    /// pattern still reads event names).
    pub by: crate::paths::NodeBy,
}

/// One event and the customers for whom it came right after (or before)
/// the match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Neighbour {
    pub event: String,
    pub customers: u64,
    /// Of the customers who match.
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchReport {
    pub pattern: String,
    /// Customers with events in scope.
    pub customers: u64,
    /// Customers with at least one occurrence.
    pub matched: u64,
    pub share: f64,
    /// Occurrences among them, without overlap.
    pub occurrences: u64,
    /// The first event after each customer's first occurrence (`(end)`:
    /// none — their last event was the match's).
    pub next: Vec<Neighbour>,
    /// The last event before it (`(start)`: none).
    pub previous: Vec<Neighbour>,
    /// The events of the match (the first 10, then "…").
    pub matched_paths: Vec<TopPath>,
    /// The next `context` events after the match.
    pub next_paths: Vec<TopPath>,
    /// The `context` events before it.
    pub previous_paths: Vec<TopPath>,
    /// The condition of a segment holding these customers.
    pub segment_condition: String,
}

#[derive(Debug, Clone, Default)]
pub struct MatchPartial {
    customers: u64,
    matched: u64,
    occurrences: u64,
    next: FxHashMap<String, u64>,
    previous: FxHashMap<String, u64>,
    matched_paths: FxHashMap<Vec<String>, u64>,
    next_paths: FxHashMap<Vec<String>, u64>,
    previous_paths: FxHashMap<Vec<String>, u64>,
}

struct MatchFold<'a> {
    model: &'a Model,
    scope: &'a Scope,
    spec: &'a MatchSpec,
}

/// Who matches the pattern and what they did around it.
pub fn path_match(store: &Store, model: &Model, scope: &Scope, spec: &MatchSpec) -> Result<MatchReport, EngineError> {
    fold::report(store, &MatchFold { model, scope, spec })
}

impl Fold for MatchFold<'_> {
    type Partial = MatchPartial;
    type Scratch = ();
    type Report = MatchReport;

    fn columns(&self) -> Vec<Col> {
        let mut c = self.model.timeline_columns();
        c.extend(crate::triggers::pattern_columns(&self.spec.pattern));
        if self.spec.by == crate::paths::NodeBy::Url {
            c.extend([Col::Url, Col::KindCode]);
        }
        c.sort_by_key(|c| c.index());
        c.dedup();
        c
    }

    fn property_rows(&self) -> PropertyRows {
        // A condition on an event reads that event's properties.
        if self.spec.pattern.terms.iter().any(|t| t.filter.is_some()) {
            PropertyRows::All
        } else {
            self.model.property_rows()
        }
    }

    fn init(&self) -> MatchPartial {
        MatchPartial::default()
    }

    fn fold(&self, p: &mut MatchPartial, _: &mut (), span: Span<'_>) {
        let Some(t) = Timeline::build(self.model, self.scope, span) else { return };
        p.customers += 1;
        let pattern = &self.spec.pattern;
        let rows = t.rows;
        let n = t.idx.len();
        let ts = |i: usize| rows.ts[t.idx[i]];
        let model = self.model;
        let mut test = |term: usize, i: usize| {
            let spec = &pattern.terms[term];
            spec.matches_name(model.event_name(rows.event[t.idx[i]]))
                && spec.filter.as_ref().is_none_or(|(f, _, _)| f.eval(&Facts::event(&t, model, i)))
        };
        let Some((s, e)) = pattern.find(n, 0, &ts, &mut test) else { return };
        p.matched += 1;
        p.occurrences += pattern.count(n, &ts, &mut test) as u64;
        let by_url = self.spec.by == crate::paths::NodeBy::Url;
        let code = |i: usize| {
            let r = t.idx[i];
            let name = model.event_name(rows.event[r]);
            if by_url && wayfarer_core::Kind::from_code(rows.kind[r]).is_view() {
                rows.str_at(Col::Url, r).map_or_else(|| name.to_string(), crate::paths::url_path)
            } else {
                name.to_string()
            }
        };
        *p.next.entry(if e < n { code(e) } else { END.to_string() }).or_insert(0) += 1;
        *p.previous.entry(if s > 0 { code(s - 1) } else { START.to_string() }).or_insert(0) += 1;
        let run = |a: usize, b: usize| (a..b).map(code).collect::<Vec<String>>();
        let mut shown = run(s, e.min(s + MATCH_SHOWN));
        if e > s + MATCH_SHOWN {
            shown.push("…".to_string());
        }
        *p.matched_paths.entry(shown).or_insert(0) += 1;
        let mut after = run(e, (e + self.spec.context).min(n));
        if after.len() < self.spec.context {
            after.push(END.to_string());
        }
        *p.next_paths.entry(after).or_insert(0) += 1;
        let mut before = run(s.saturating_sub(self.spec.context), s);
        if before.len() < self.spec.context {
            before.insert(0, START.to_string());
        }
        *p.previous_paths.entry(before).or_insert(0) += 1;
    }

    fn merge(&self, mut a: MatchPartial, b: MatchPartial) -> MatchPartial {
        a.customers += b.customers;
        a.matched += b.matched;
        a.occurrences += b.occurrences;
        for (mine, theirs) in [(&mut a.next, b.next), (&mut a.previous, b.previous)] {
            for (k, v) in theirs {
                *mine.entry(k).or_insert(0) += v;
            }
        }
        for (mine, theirs) in [
            (&mut a.matched_paths, b.matched_paths),
            (&mut a.next_paths, b.next_paths),
            (&mut a.previous_paths, b.previous_paths),
        ] {
            for (k, v) in theirs {
                *mine.entry(k).or_insert(0) += v;
            }
        }
        a
    }

    fn finish(&self, p: MatchPartial) -> MatchReport {
        let of = p.matched.max(1) as f64;
        let neighbours = |m: &FxHashMap<String, u64>| {
            let mut v: Vec<Neighbour> =
                m.iter().map(|(c, &n)| Neighbour { event: c.clone(), customers: n, share: n as f64 / of }).collect();
            v.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.event.cmp(&b.event)));
            v.truncate(self.spec.top);
            v
        };
        let top = |m: &FxHashMap<Vec<String>, u64>| {
            let mut v: Vec<TopPath> =
                m.iter().map(|(path, &n)| TopPath { path: path.clone(), customers: n, share: n as f64 / of }).collect();
            v.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.path.cmp(&b.path)));
            v.truncate(self.spec.top);
            v
        };
        MatchReport {
            pattern: self.spec.pattern.text.clone(),
            customers: p.customers,
            matched: p.matched,
            share: if p.customers == 0 { 0.0 } else { p.matched as f64 / p.customers as f64 },
            occurrences: p.occurrences,
            next: neighbours(&p.next),
            previous: neighbours(&p.previous),
            matched_paths: top(&p.matched_paths),
            next_paths: top(&p.next_paths),
            previous_paths: top(&p.previous_paths),
            segment_condition: format!("did {}", self.spec.pattern.text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{self, ev, store};

    #[test]
    fn matches_with_what_came_after_and_before() {
        let (_dir, s) = store(vec![
            // a: cart, shipping page, then left.
            ev("a", 0.0, "Home"),
            ev("a", 1.0, "Product Added"),
            ev("a", 2.0, "Shipping Viewed"),
            // b: cart, shipping, then checkout: does not match `… -> $` without checkout.
            ev("b", 0.0, "Product Added"),
            ev("b", 1.0, "Shipping Viewed"),
            ev("b", 2.0, "Checkout Started"),
            // c: cart, shipping, then help, twice.
            ev("c", 0.0, "Product Added"),
            ev("c", 1.0, "Shipping Viewed"),
            ev("c", 2.0, "Help Viewed"),
            // d: never added.
            ev("d", 0.0, "Home"),
        ]);
        let model = testutil::model(&s);
        let vocab = model.vocabulary();
        let pattern = wayfarer_core::predicate::compile_pattern(
            "'Product Added' -> 'Shipping Viewed' -> [^Checkout Started]* -> $",
            &vocab,
        )
        .unwrap();
        let spec = MatchSpec { pattern, context: 2, top: 10, by: crate::paths::NodeBy::Event };
        let r = path_match(&s, &model, &Scope::default(), &spec).unwrap();
        assert_eq!((r.customers, r.matched, r.occurrences), (4, 2, 2));
        assert!((r.share - 0.5).abs() < 1e-12);
        // The match runs to the end: nothing after it.
        assert_eq!(r.next, [Neighbour { event: "(end)".into(), customers: 2, share: 1.0 }]);
        let prev: Vec<(&str, u64)> = r.previous.iter().map(|n| (n.event.as_str(), n.customers)).collect();
        assert_eq!(prev, [("(start)", 1), ("Home", 1)]);
        let matched: Vec<Vec<&str>> =
            r.matched_paths.iter().map(|p| p.path.iter().map(String::as_str).collect()).collect();
        assert!(matched.contains(&vec!["Product Added", "Shipping Viewed", "Help Viewed"]), "{matched:?}");
        assert!(r.segment_condition.starts_with("did 'Product Added'"));

        // Without the anchor: what they did right after the shipping page.
        let pattern =
            wayfarer_core::predicate::compile_pattern("'Product Added' => 'Shipping Viewed'", &vocab).unwrap();
        let r = path_match(
            &s,
            &model,
            &Scope::default(),
            &MatchSpec { pattern, context: 2, top: 10, by: crate::paths::NodeBy::Event },
        )
        .unwrap();
        assert_eq!(r.matched, 3);
        let next: Vec<(&str, u64)> = r.next.iter().map(|n| (n.event.as_str(), n.customers)).collect();
        assert_eq!(next, [("(end)", 1), ("Checkout Started", 1), ("Help Viewed", 1)]);
        let after: Vec<Vec<&str>> = r.next_paths.iter().map(|p| p.path.iter().map(String::as_str).collect()).collect();
        assert!(after.contains(&vec!["(end)"]) && after.contains(&vec!["Help Viewed", "(end)"]), "{after:?}");
    }
}
