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
/// More events than a path keeps.
const MORE: &str = "…";

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

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct MatchPartial {
    customers: u64,
    matched: u64,
    occurrences: u64,
    /// Labels by id: every event name first (its code is its id), then
    /// the markers, then URL paths as they come.
    labels: crate::paths::Labels,
    next: FxHashMap<u32, u64>,
    previous: FxHashMap<u32, u64>,
    matched_paths: FxHashMap<Vec<u32>, u64>,
    next_paths: FxHashMap<Vec<u32>, u64>,
    previous_paths: FxHashMap<Vec<u32>, u64>,
}

/// A fold thread's buffers: the customer's events in scope, their term
/// bit sets, the search's thread lists.
#[derive(Default)]
pub struct Scratch {
    idx: Vec<usize>,
    masks: Vec<u64>,
    search: wayfarer_core::pattern::Search,
}

struct MatchFold<'a> {
    model: &'a Model,
    scope: &'a Scope,
    spec: &'a MatchSpec,
    persona: Option<usize>,
    /// Per term, per event code: whether the term names that event.
    names: Vec<Vec<bool>>,
    /// Whether a customer's timeline is needed (conditions on events, a persona).
    timeline: bool,
    /// Per event code, the terms that name it (bit t), when every term is a
    /// plain name: the search then reads a bit set per event.
    masks: Option<Vec<u64>>,
    /// Per event code: whether a match can start with it (None: any may).
    starts: Option<Vec<bool>>,
    /// Per event code: the required terms (bit k: the k-th) that name it;
    /// a customer must have events covering `required` to match.
    required_of: Vec<u64>,
    required: u64,
}

/// Who matches the pattern and what they did around it.
pub fn path_match(store: &Store, model: &Model, scope: &Scope, spec: &MatchSpec) -> Result<MatchReport, EngineError> {
    let persona = model.resolve_persona(scope.persona.as_deref())?;
    let names: Vec<Vec<bool>> =
        spec.pattern.terms.iter().map(|t| model.event_names.iter().map(|n| t.matches_name(n)).collect()).collect();
    let timeline = persona.is_some() || spec.pattern.terms.iter().any(|t| t.filter.is_some());
    let starts = spec
        .pattern
        .first_terms()
        .map(|terms| (0..model.event_names.len()).map(|code| terms.iter().any(|&t| names[t][code])).collect());
    // Up to 64 required terms are checked before matching.
    let req: Vec<usize> = spec.pattern.required_terms().into_iter().take(64).collect();
    let required_of = (0..model.event_names.len())
        .map(|code| req.iter().enumerate().filter(|(_, t)| names[**t][code]).fold(0u64, |m, (k, _)| m | 1 << k))
        .collect();
    let required = if req.is_empty() { 0 } else { u64::MAX >> (64 - req.len()) };
    let masks = (spec.pattern.maskable() && spec.pattern.terms.iter().all(|t| t.filter.is_none())).then(|| {
        (0..model.event_names.len())
            .map(|code| names.iter().enumerate().filter(|(_, n)| n[code]).fold(0u64, |m, (t, _)| m | 1 << t))
            .collect()
    });
    fold::report(
        store,
        &MatchFold { model, scope, spec, persona, names, timeline, masks, starts, required_of, required },
    )
}

impl Fold for MatchFold<'_> {
    type Partial = MatchPartial;
    type Scratch = Scratch;
    type Report = MatchReport;

    fn wire(&self) -> Option<crate::fold::Wire<Self::Partial>> {
        Some(crate::fold::Wire::serde())
    }

    fn columns(&self) -> Vec<Col> {
        let mut c = if self.timeline {
            self.model.timeline_columns()
        } else {
            vec![Col::Timestamp, Col::EventCode, Col::KindCode]
        };
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
        let mut p = MatchPartial { labels: crate::paths::Labels::with_events(self.model), ..MatchPartial::default() };
        for marker in [END, START, MORE] {
            p.labels.intern(marker);
        }
        p
    }

    fn fold(&self, p: &mut MatchPartial, scratch: &mut Scratch, span: Span<'_>) {
        let Scratch { idx: idx_scratch, masks, search } = scratch;
        let rows = span.rows;
        let model = self.model;
        let pattern = &self.spec.pattern;
        // Conditions read a timeline; plain names only the rows.
        let timeline = if self.timeline {
            let Some(t) = Timeline::build(self.model, self.scope, span) else { return };
            if self.persona.is_some() && t.persona != self.persona {
                return;
            }
            Some(t)
        } else {
            idx_scratch.clear();
            idx_scratch.extend((span.start..span.end).filter(|&r| {
                wayfarer_core::Kind::code_is_interaction(rows.kind[r]) && self.scope.contains(rows.ts[r])
            }));
            if idx_scratch.is_empty() {
                return;
            }
            None
        };
        let idx: &[usize] = timeline.as_ref().map_or(idx_scratch.as_slice(), |t| t.idx.as_slice());
        p.customers += 1;
        let n = idx.len();
        let ts = |i: usize| rows.ts[idx[i]];
        let mut test = |term: usize, i: usize| {
            let code = rows.event[idx[i]] as usize;
            self.names[term].get(code).copied().unwrap_or(false)
                && pattern.terms[term]
                    .filter
                    .as_ref()
                    .is_none_or(|(f, _, _)| timeline.as_ref().is_some_and(|t| f.eval(&Facts::event(t, model, i))))
        };
        // Every required term must name one of the customer's events.
        if self.required != 0 {
            let mut have = 0u64;
            for &r in idx {
                have |= self.required_of.get(rows.event[r] as usize).copied().unwrap_or(0);
                if have == self.required {
                    break;
                }
            }
            if have != self.required {
                return;
            }
        }
        // A match starts at an event one of its first terms names: search from the first.
        let from = match &self.starts {
            Some(starts) => match (0..n).find(|&i| starts.get(rows.event[idx[i]] as usize).copied().unwrap_or(false)) {
                Some(i) => i,
                None => return,
            },
            None => 0,
        };
        // Plain names: a bit set per event, and the search's buffers reused.
        if let Some(code_masks) = &self.masks {
            masks.clear();
            masks.extend(idx.iter().map(|&r| code_masks.get(rows.event[r] as usize).copied().unwrap_or(0)));
        }
        let mut find = |from: usize| match &self.masks {
            Some(_) => pattern.find_masked(masks, from, &ts, search),
            None => pattern.find(n, from, &ts, &mut test),
        };
        let Some((s, e)) = find(from) else { return };
        p.matched += 1;
        // The other occurrences, without overlap.
        let (mut from, mut occurrences) = (e, 1u64);
        while from < n {
            let Some((_, end)) = find(from) else { break };
            occurrences += 1;
            from = end;
        }
        p.occurrences += occurrences;
        let (end, start, more) = (p.labels.intern(END), p.labels.intern(START), p.labels.intern(MORE));
        let by = self.spec.by;
        let label = |p: &mut MatchPartial, i: usize| -> u32 { p.labels.of_row(by, rows, idx[i]) };
        let next = if e < n { label(p, e) } else { end };
        *p.next.entry(next).or_insert(0) += 1;
        let previous = if s > 0 { label(p, s - 1) } else { start };
        *p.previous.entry(previous).or_insert(0) += 1;
        let run = |p: &mut MatchPartial, a: usize, b: usize| (a..b).map(|i| label(p, i)).collect::<Vec<u32>>();
        let mut shown = run(p, s, e.min(s + MATCH_SHOWN));
        if e > s + MATCH_SHOWN {
            shown.push(more);
        }
        *p.matched_paths.entry(shown).or_insert(0) += 1;
        let mut after = run(p, e, (e + self.spec.context).min(n));
        if after.len() < self.spec.context {
            after.push(end);
        }
        *p.next_paths.entry(after).or_insert(0) += 1;
        let mut before = run(p, s.saturating_sub(self.spec.context), s);
        if before.len() < self.spec.context {
            before.insert(0, start);
        }
        *p.previous_paths.entry(before).or_insert(0) += 1;
    }

    fn merge(&self, mut a: MatchPartial, b: MatchPartial) -> MatchPartial {
        let map = a.labels.absorb(&b.labels);
        a.customers += b.customers;
        a.matched += b.matched;
        a.occurrences += b.occurrences;
        for (mine, theirs) in [(&mut a.next, b.next), (&mut a.previous, b.previous)] {
            for (k, v) in theirs {
                *mine.entry(map[k as usize]).or_insert(0) += v;
            }
        }
        for (mine, theirs) in [
            (&mut a.matched_paths, b.matched_paths),
            (&mut a.next_paths, b.next_paths),
            (&mut a.previous_paths, b.previous_paths),
        ] {
            for (k, v) in theirs {
                *mine.entry(k.iter().map(|&l| map[l as usize]).collect()).or_insert(0) += v;
            }
        }
        a
    }

    fn finish(&self, p: MatchPartial) -> MatchReport {
        let of = p.matched.max(1) as f64;
        let name = |l: u32| p.labels.name(l).to_string();
        let neighbours = |m: &FxHashMap<u32, u64>| {
            let mut v: Vec<Neighbour> =
                m.iter().map(|(&c, &n)| Neighbour { event: name(c), customers: n, share: n as f64 / of }).collect();
            v.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.event.cmp(&b.event)));
            v.truncate(self.spec.top);
            v
        };
        let top = |m: &FxHashMap<Vec<u32>, u64>| {
            let mut v: Vec<TopPath> = m
                .iter()
                .map(|(path, &n)| TopPath {
                    path: path.iter().map(|&l| name(l)).collect(),
                    customers: n,
                    share: n as f64 / of,
                })
                .collect();
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
