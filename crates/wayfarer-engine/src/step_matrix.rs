//! The step matrix (DESIGN §4.6): the share of customers with each event
//! at each step of their path, as Retentioneering's `StepMatrix` defines
//! it. Without an anchor, step 1 is each customer's first event; with one
//! (`--anchor EVENT`), step 0 is the customer's first such event and only
//! customers who have it count, so the steps before it show what led
//! there. A customer whose path has ended counts as `ENDED` at the later
//! steps, and before its start as `(start)`, so every step's shares add up
//! to 1. Two groups' matrices are compared cell by cell ([`difference`]).

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use wayfarer_core::Kind;
use wayfarer_core::glob::glob_match;
use wayfarer_store::{Col, Store};

use crate::fold::{self, Fold, Span};
use crate::model::Model;
use crate::paths::NodeBy;
use crate::timeline::Timeline;
use crate::{EngineError, Scope};

/// The label of the steps after a customer's last event.
pub const ENDED: &str = "ENDED";
/// The label of the steps before a customer's first event (anchored only).
pub const BEFORE_START: &str = "(start)";

#[derive(Debug, Clone)]
pub struct StepSpec {
    pub by: NodeBy,
    /// Step 0 is each customer's first event matching this name or glob.
    pub anchor: Option<String>,
    /// The first and last steps shown: `1..=10` without an anchor,
    /// e.g. `-5..=10` with one.
    pub first: i32,
    pub last: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRow {
    pub event: String,
    /// The share of the customers with this event at each step.
    pub shares: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepMatrix {
    pub anchor: Option<String>,
    pub steps: Vec<i32>,
    /// Customers counted (with the anchor, when there is one).
    pub customers: u64,
    /// Ordered by the step where each is most common, then by that share.
    pub rows: Vec<StepRow>,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct StepPartial {
    labels: crate::paths::Labels,
    customers: u64,
    /// (step offset from `first`, label) → customers.
    cells: FxHashMap<(u16, u32), u64>,
}

struct StepFold<'a> {
    model: &'a Model,
    scope: &'a Scope,
    spec: &'a StepSpec,
    persona: Option<usize>,
}

/// The step matrix of the customers in scope.
pub fn step_matrix(store: &Store, model: &Model, scope: &Scope, spec: &StepSpec) -> Result<StepMatrix, EngineError> {
    if spec.first > spec.last || (spec.anchor.is_none() && spec.first < 1) {
        return Err(EngineError::InvalidQuery(format!(
            "--steps {}..{}: {}",
            spec.first,
            spec.last,
            if spec.anchor.is_none() { "without --anchor steps start at 1" } else { "the first step comes first" }
        )));
    }
    if spec.last - spec.first > 200 {
        return Err(EngineError::InvalidQuery("--steps: at most 200 steps".into()));
    }
    if let Some(a) = &spec.anchor
        && !model.event_names.iter().any(|n| glob_match(a, n))
    {
        return Err(EngineError::NotFound(format!(
            "--anchor: no event '{a}' in the data{}",
            wayfarer_core::suggest::hint(a, &model.event_names)
        )));
    }
    let persona = model.resolve_persona(scope.persona.as_deref())?;
    fold::report(store, &StepFold { model, scope, spec, persona })
}

impl Fold for StepFold<'_> {
    type Partial = StepPartial;
    type Scratch = Vec<u32>;
    type Report = StepMatrix;

    fn wire(&self) -> Option<crate::fold::Wire<Self::Partial>> {
        Some(crate::fold::Wire::serde())
    }

    fn columns(&self) -> Vec<Col> {
        let mut c = if self.persona.is_some() { self.model.timeline_columns() } else { Vec::new() };
        c.extend([Col::Timestamp, Col::EventCode, Col::KindCode]);
        if self.spec.by == NodeBy::Url {
            c.push(Col::Url);
        }
        c.sort_by_key(|c| c.index());
        c.dedup();
        c
    }

    fn init(&self) -> StepPartial {
        let mut p = StepPartial { labels: crate::paths::Labels::with_events(self.model), ..StepPartial::default() };
        p.labels.intern(ENDED);
        p.labels.intern(BEFORE_START);
        p
    }

    fn fold(&self, p: &mut StepPartial, seq: &mut Vec<u32>, span: Span<'_>) {
        if let Some(want) = self.persona {
            let Some(t) = Timeline::build(self.model, self.scope, span) else { return };
            if t.persona != Some(want) {
                return;
            }
        }
        let rows = span.rows;
        seq.clear();
        let mut anchor_at: Option<usize> = None;
        for r in span.start..span.end {
            if !Kind::code_is_interaction(rows.kind[r]) || !self.scope.contains(rows.ts[r]) {
                continue;
            }
            let code = rows.event[r];
            if anchor_at.is_none()
                && self.spec.anchor.as_deref().is_some_and(|a| glob_match(a, self.model.event_name(code)))
            {
                anchor_at = Some(seq.len());
            }
            seq.push(p.labels.of_row(self.spec.by, rows, r));
        }
        if seq.is_empty() {
            return;
        }
        // Index of step 0 in the sequence: the anchor, or before the first event.
        let zero = match (&self.spec.anchor, anchor_at) {
            (Some(_), Some(i)) => i as i64,
            (Some(_), None) => return,
            (None, _) => -1,
        };
        p.customers += 1;
        let (ended, before) = (p.labels.intern(ENDED), p.labels.intern(BEFORE_START));
        for (k, step) in (self.spec.first..=self.spec.last).enumerate() {
            let i = zero + i64::from(step);
            let label = if i < 0 {
                before
            } else if i as usize >= seq.len() {
                ended
            } else {
                seq[i as usize]
            };
            *p.cells.entry((k as u16, label)).or_insert(0) += 1;
        }
    }

    fn merge(&self, mut a: StepPartial, b: StepPartial) -> StepPartial {
        let map = a.labels.absorb(&b.labels);
        a.customers += b.customers;
        for ((k, l), c) in b.cells {
            *a.cells.entry((k, map[l as usize])).or_insert(0) += c;
        }
        a
    }

    fn finish(&self, p: StepPartial) -> StepMatrix {
        let steps: Vec<i32> = (self.spec.first..=self.spec.last).collect();
        let n = p.customers.max(1) as f64;
        let mut by_label: FxHashMap<u32, Vec<f64>> = FxHashMap::default();
        for (&(k, l), &c) in &p.cells {
            by_label.entry(l).or_insert_with(|| vec![0.0; steps.len()])[k as usize] = c as f64 / n;
        }
        let mut rows: Vec<StepRow> =
            by_label.into_iter().map(|(l, shares)| StepRow { event: p.labels.name(l).to_string(), shares }).collect();
        sort_rows(&mut rows);
        StepMatrix { anchor: self.spec.anchor.clone(), steps, customers: p.customers, rows }
    }
}

/// Rows by the step where each is most common (earliest first), then by
/// that share (largest first); the markers last.
fn sort_rows(rows: &mut [StepRow]) {
    let key = |r: &StepRow| {
        let (at, top) = r
            .shares
            .iter()
            .copied()
            .enumerate()
            .fold((0, f64::MIN), |best, (i, s)| if s > best.1 { (i, s) } else { best });
        (r.event == ENDED || r.event == BEFORE_START, at, top)
    };
    rows.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0).then(ka.1.cmp(&kb.1)).then(kb.2.total_cmp(&ka.2)).then_with(|| a.event.cmp(&b.event))
    });
}

/// Two groups' step matrices compared: A's share minus B's in each cell
/// (an event absent from one group counts 0 there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDifference {
    pub a: String,
    pub b: String,
    pub a_customers: u64,
    pub b_customers: u64,
    pub steps: Vec<i32>,
    /// Ordered by the largest difference in any step.
    pub rows: Vec<StepRow>,
}

pub fn difference(a_name: &str, a: &StepMatrix, b_name: &str, b: &StepMatrix) -> StepDifference {
    let mut all: FxHashMap<&str, Vec<f64>> = FxHashMap::default();
    for r in &a.rows {
        let v = all.entry(&r.event).or_insert_with(|| vec![0.0; a.steps.len()]);
        for (x, s) in v.iter_mut().zip(&r.shares) {
            *x += s;
        }
    }
    for r in &b.rows {
        let v = all.entry(&r.event).or_insert_with(|| vec![0.0; a.steps.len()]);
        for (x, s) in v.iter_mut().zip(&r.shares) {
            *x -= s;
        }
    }
    let mut rows: Vec<StepRow> = all.into_iter().map(|(e, shares)| StepRow { event: e.to_string(), shares }).collect();
    let peak = |r: &StepRow| r.shares.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    rows.sort_by(|x, y| peak(y).total_cmp(&peak(x)).then_with(|| x.event.cmp(&y.event)));
    StepDifference {
        a: a_name.to_string(),
        b: b_name.to_string(),
        a_customers: a.customers,
        b_customers: b.customers,
        steps: a.steps.clone(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{self, ev, store};

    fn shares<'m>(m: &'m StepMatrix, event: &str) -> &'m [f64] {
        &m.rows.iter().find(|r| r.event == event).unwrap_or_else(|| panic!("no row {event}: {m:?}")).shares
    }

    #[test]
    fn steps_from_the_start_and_from_an_anchor() {
        let (_dir, s) = store(vec![
            ev("a", 0.0, "Home"),
            ev("a", 1.0, "Cart"),
            ev("a", 2.0, "Order"),
            ev("b", 0.0, "Home"),
            ev("b", 1.0, "Search"),
            ev("b", 2.0, "Cart"),
            ev("c", 0.0, "Search"),
        ]);
        let model = testutil::model(&s);
        let spec = StepSpec { by: NodeBy::Event, anchor: None, first: 1, last: 4 };
        let m = step_matrix(&s, &model, &Scope::default(), &spec).unwrap();
        assert_eq!((m.customers, m.steps.clone()), (3, vec![1, 2, 3, 4]));
        let third = 1.0 / 3.0;
        assert_eq!(shares(&m, "Home"), [2.0 * third, 0.0, 0.0, 0.0]);
        assert_eq!(shares(&m, "Cart"), [0.0, third, third, 0.0]);
        assert_eq!(shares(&m, ENDED), [0.0, third, third, 1.0]);
        // Every step adds up to one.
        for k in 0..4 {
            let sum: f64 = m.rows.iter().map(|r| r.shares[k]).sum();
            assert!((sum - 1.0).abs() < 1e-12, "{sum}");
        }
        // Anchored at Cart: only a and b; step 0 is Cart.
        let spec = StepSpec { by: NodeBy::Event, anchor: Some("Cart".into()), first: -2, last: 1 };
        let m = step_matrix(&s, &model, &Scope::default(), &spec).unwrap();
        assert_eq!(m.customers, 2);
        assert_eq!(shares(&m, "Cart"), [0.0, 0.0, 1.0, 0.0]);
        assert_eq!(shares(&m, BEFORE_START), [0.5, 0.0, 0.0, 0.0]);
        assert_eq!(shares(&m, "Home"), [0.5, 0.5, 0.0, 0.0]);
        assert_eq!(shares(&m, "Order"), [0.0, 0.0, 0.0, 0.5]);
        assert_eq!(shares(&m, ENDED), [0.0, 0.0, 0.0, 0.5]);
        // A typo names the closest event.
        let bad = StepSpec { anchor: Some("Crt".into()), ..spec };
        let e = step_matrix(&s, &model, &Scope::default(), &bad).unwrap_err().to_string();
        assert!(e.contains("did you mean 'Cart'"), "{e}");
    }
}
