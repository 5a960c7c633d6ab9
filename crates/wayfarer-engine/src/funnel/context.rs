//! Funnel ⟷ paths (DESIGN §4.10): what customers did around a funnel, read
//! from the same best chain the funnel counts. `--before`: the events
//! before step 1 of those who entered; `--between I`: the events between
//! step I and step I+1 of those who made it, beside the next events of
//! those who stopped at step I; `--after-drop I`: the next events of those
//! who stopped at step I (what they did instead). Customers only.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::*;
use crate::paths::TopPath;

/// Which path around the funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Around {
    Before,
    /// Between step I and I+1 (1-based I).
    Between(usize),
    /// After step I, for those who stopped there.
    AfterDrop(usize),
}

#[derive(Debug, Clone)]
pub struct ContextSpec {
    pub around: Around,
    /// Events kept per path (1–20).
    pub events: usize,
    pub top: usize,
}

/// One side's paths: the customers, and their most common paths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathsOf {
    pub customers: u64,
    pub paths: Vec<TopPath>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelPaths {
    pub around: Around,
    pub events: usize,
    /// `before`: those who entered the funnel; `between`: those who made
    /// the step; `after_drop`: empty.
    pub converted: Option<PathsOf>,
    /// `between` and `after_drop`: those who stopped at step I.
    pub dropped: Option<PathsOf>,
}

/// The end of a customer's events, in a path.
const END: &str = "(end)";
/// More events followed than a path keeps.
const MORE: &str = "…";

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ContextPartial {
    converted: (u64, FxHashMap<Vec<String>, u64>),
    dropped: (u64, FxHashMap<Vec<String>, u64>),
}

struct ContextFold<'a> {
    funnel: FunnelFold<'a>,
    model: &'a Model,
    scope: &'a Scope,
    spec: &'a ContextSpec,
}

/// The paths around a funnel's steps.
pub fn funnel_paths(
    store: &Store,
    model: &Model,
    scope: &Scope,
    funnel: &FunnelSpec,
    spec: &ContextSpec,
) -> Result<FunnelPaths, EngineError> {
    let n = funnel.steps.len();
    match spec.around {
        Around::Between(i) if i == 0 || i >= n => {
            return Err(EngineError::InvalidQuery(format!(
                "--between {i}: the steps go from 1 to {n}, so between is 1 to {}",
                n.saturating_sub(1)
            )));
        }
        Around::AfterDrop(i) if i == 0 || i >= n => {
            return Err(EngineError::InvalidQuery(format!(
                "--after-drop {i}: customers can stop after step 1 to {} of {n}",
                n.saturating_sub(1)
            )));
        }
        _ => {}
    }
    if let Around::Between(i) | Around::AfterDrop(i) = spec.around
        && let Some(k) = [i - 1, i].into_iter().find(|&k| funnel.steps[k].optional)
    {
        return Err(EngineError::InvalidQuery(format!(
            "step {} ('{}') is optional, so a chain may skip it: name a step that is not optional",
            k + 1,
            funnel.steps[k].label
        )));
    }
    if funnel.per != Unit::Customers {
        return Err(EngineError::InvalidQuery(
            "the paths around a funnel count customers (leave --per at customer)".into(),
        ));
    }
    let f = FunnelFold::new(model, scope, funnel)?;
    crate::fold::report(store, &ContextFold { funnel: f, model, scope, spec })
}

impl Fold for ContextFold<'_> {
    type Partial = ContextPartial;
    type Scratch = Scratch;
    type Report = FunnelPaths;

    fn wire(&self) -> Option<crate::fold::Wire<Self::Partial>> {
        Some(crate::fold::Wire::serde())
    }

    fn columns(&self) -> Vec<Col> {
        let mut c = self.funnel.columns();
        c.extend([Col::Timestamp, Col::EventCode, Col::KindCode]);
        c.sort();
        c.dedup();
        c
    }

    fn init(&self) -> ContextPartial {
        ContextPartial::default()
    }

    fn fold(&self, p: &mut ContextPartial, scratch: &mut Scratch, span: Span<'_>) {
        if self.funnel.build_entries(scratch, span).is_none() {
            return;
        }
        let (level, best) = self.funnel.level_of(scratch);
        let best = best.to_vec();
        // The customer's events in scope, in order, with their times.
        let rows = span.rows;
        let events: Vec<(i64, u32)> = (span.start..span.end)
            .filter(|&r| Kind::code_is_interaction(rows.kind[r]) && self.scope.contains(rows.ts[r]))
            .map(|r| (rows.ts[r], rows.event[r]))
            .collect();
        let name = |c: u32| self.model.event_name(c).to_string();
        let n = self.spec.events;
        let after = |t: i64| -> Vec<String> {
            let mut v: Vec<String> = events.iter().filter(|e| e.0 > t).take(n + 1).map(|e| name(e.1)).collect();
            if v.len() > n {
                v.truncate(n);
                v.push(MORE.into());
            } else {
                v.push(END.into());
            }
            v
        };
        match self.spec.around {
            Around::Before if level >= 1 => {
                let before: Vec<&(i64, u32)> = events.iter().filter(|e| e.0 < best[0]).collect();
                let skip = before.len().saturating_sub(n);
                let mut v: Vec<String> = before[skip..].iter().map(|e| name(e.1)).collect();
                if skip > 0 {
                    v.insert(0, MORE.into());
                }
                if v.is_empty() {
                    v.push("(start)".into());
                }
                add(&mut p.converted, v);
            }
            Around::Between(i) if level > i => {
                let mut v: Vec<String> = events
                    .iter()
                    .filter(|e| e.0 > best[i - 1] && e.0 < best[i])
                    .take(n + 1)
                    .map(|e| name(e.1))
                    .collect();
                if v.len() > n {
                    v.truncate(n);
                    v.push(MORE.into());
                }
                if v.is_empty() {
                    v.push("(straight on)".into());
                }
                add(&mut p.converted, v);
            }
            Around::Between(i) | Around::AfterDrop(i) if level == i => add(&mut p.dropped, after(best[i - 1])),
            _ => {}
        }
    }

    fn merge(&self, mut a: ContextPartial, b: ContextPartial) -> ContextPartial {
        for (mine, theirs) in [(&mut a.converted, b.converted), (&mut a.dropped, b.dropped)] {
            mine.0 += theirs.0;
            for (k, v) in theirs.1 {
                *mine.1.entry(k).or_insert(0) += v;
            }
        }
        a
    }

    fn finish(&self, p: ContextPartial) -> FunnelPaths {
        let side = |s: &(u64, FxHashMap<Vec<String>, u64>)| {
            let of = s.0.max(1) as f64;
            let mut paths: Vec<TopPath> =
                s.1.iter()
                    .map(|(path, &c)| TopPath { path: path.clone(), customers: c, share: c as f64 / of })
                    .collect();
            paths.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.path.cmp(&b.path)));
            paths.truncate(self.spec.top);
            PathsOf { customers: s.0, paths }
        };
        let (converted, dropped) = match self.spec.around {
            Around::Before => (Some(side(&p.converted)), None),
            Around::Between(_) => (Some(side(&p.converted)), Some(side(&p.dropped))),
            Around::AfterDrop(_) => (None, Some(side(&p.dropped))),
        };
        FunnelPaths { around: self.spec.around, events: self.spec.events, converted, dropped }
    }
}

fn add(side: &mut (u64, FxHashMap<Vec<String>, u64>), path: Vec<String>) {
    side.0 += 1;
    *side.1.entry(path).or_insert(0) += 1;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{self, ev, store};

    #[test]
    fn paths_before_between_and_after_a_drop() {
        let (_dir, s) = store(vec![
            // a: Home, View, Cart, Order: converted, with Help between View and Cart.
            ev("a", 0.0, "Home"),
            ev("a", 1.0, "View"),
            ev("a", 2.0, "Help"),
            ev("a", 3.0, "Cart"),
            ev("a", 4.0, "Order"),
            // b: View, then left for Search and Home: dropped after step 1.
            ev("b", 0.0, "View"),
            ev("b", 1.0, "Search"),
            ev("b", 2.0, "Home"),
            // c: View, Cart straight on, then nothing: dropped after step 2.
            ev("c", 0.0, "Search"),
            ev("c", 1.0, "View"),
            ev("c", 2.0, "Cart"),
        ]);
        let model = testutil::model(&s);
        let steps = ["View", "Cart", "Order"].iter().map(|e| Step::parse(e, &model).unwrap()).collect();
        let funnel = FunnelSpec::new(steps, 86_400_000_000, Mode::Default);
        let run = |around| {
            let spec = ContextSpec { around, events: 2, top: 10 };
            funnel_paths(&s, &model, &Scope::default(), &funnel, &spec).unwrap()
        };
        let paths = |p: &PathsOf| -> Vec<(Vec<String>, u64)> {
            p.paths.iter().map(|t| (t.path.clone(), t.customers)).collect()
        };
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let before = run(Around::Before);
        let b = before.converted.as_ref().unwrap();
        assert_eq!(b.customers, 3);
        assert!(paths(b).contains(&(v(&["Home"]), 1)) && paths(b).contains(&(v(&["(start)"]), 1)), "{b:?}");
        let between = run(Around::Between(1));
        let made = between.converted.as_ref().unwrap();
        assert_eq!(made.customers, 2);
        assert!(paths(made).contains(&(v(&["Help"]), 1)) && paths(made).contains(&(v(&["(straight on)"]), 1)));
        let stopped = between.dropped.as_ref().unwrap();
        assert_eq!(paths(stopped), [(v(&["Search", "Home", "(end)"]), 1)]);
        let drop2 = run(Around::AfterDrop(2));
        assert_eq!(paths(drop2.dropped.as_ref().unwrap()), [(v(&["(end)"]), 1)]);
        let e = funnel_paths(
            &s,
            &model,
            &Scope::default(),
            &funnel,
            &ContextSpec { around: Around::AfterDrop(3), events: 2, top: 5 },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("1 to 2 of 3"), "{e}");
    }
}
