//! Loyalty (DESIGN §11): which loyalty actions customers reach — a
//! referral that converted, a review, a repeat order, an upgrade, or any
//! event with a condition the team names — by persona, and the journeys
//! that precede them: the last events before the session of a customer's
//! first loyalty action, beside those before the last session of the
//! customers who never took it, with
//! each journey's lift (its share among those who took the action ÷ among
//! those who did not).

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use wayfarer_core::Kind;
use wayfarer_store::{Col, Store};

use crate::facts::{self, Facts};
use crate::fold::{Fold, Span};
use crate::funnel::Step;
use crate::model::Model;
use crate::timeline::Timeline;
use crate::{EngineError, Scope};

/// A loyalty action: a name and the event (with an optional condition) that takes it.
#[derive(Debug, Clone)]
pub struct Action {
    pub name: String,
    pub step: Step,
}

/// The default actions, those whose events occur in the data: a converted
/// referral, a review, a repeat order and an upgrade (Segment's names), and
/// the names of those left out.
pub fn default_actions(model: &Model) -> (Vec<Action>, Vec<String>) {
    let purchase = &model.config.journey.purchase_event;
    let defaults = [
        ("Referral", "Referral Converted".to_string()),
        ("Review", "Product Reviewed".to_string()),
        ("Repeat order", format!("{purchase}[nth_purchase >= 2]")),
        ("Upgrade", "*Upgraded".to_string()),
    ];
    let (mut actions, mut absent) = (Vec::new(), Vec::new());
    for (name, text) in defaults {
        match Step::parse(&text, model) {
            Ok(step) => actions.push(Action { name: name.to_string(), step }),
            Err(_) => absent.push(format!("{name} ({text})")),
        }
    }
    (actions, absent)
}

/// Parses `NAME=STEP` (`Wishlist=Product Added to Wishlist`).
pub fn parse_action(text: &str, model: &Model) -> Result<Action, EngineError> {
    let (name, step) = text.split_once('=').ok_or_else(|| {
        EngineError::InvalidQuery(format!("--action '{text}': expected NAME=EVENT or NAME=EVENT[condition]"))
    })?;
    let (name, step) = (name.trim(), step.trim());
    if name.is_empty() {
        return Err(EngineError::InvalidQuery(format!("--action '{text}': the action needs a name before '='")));
    }
    let step = Step::parse(step, model).map_err(|e| EngineError::InvalidQuery(format!("--action '{name}': {e}")))?;
    if step.stage.is_some() || !step.any_of.is_empty() || step.optional {
        return Err(EngineError::InvalidQuery(format!(
            "--action '{name}': an action is one event, with an optional condition"
        )));
    }
    Ok(Action { name: name.to_string(), step })
}

#[derive(Debug, Clone)]
pub struct LoyaltySpec {
    pub actions: Vec<Action>,
    /// Events shown before the action (or the journey's end).
    pub context: usize,
    /// Journeys listed per action.
    pub top: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoyaltyReport {
    pub customers: u64,
    pub actions: Vec<ActionReport>,
    /// Default actions whose events the data does not have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absent: Vec<String>,
    pub personas: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionReport {
    pub name: String,
    pub condition: String,
    pub customers: u64,
    pub share: f64,
    /// Per persona (as in `personas`, then Unassigned): customers, of them reached, share.
    pub by_persona: Vec<PersonaShare>,
    /// The last events before the first time, against the journeys' ends of the others.
    pub journeys: Vec<Journey>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonaShare {
    pub persona: String,
    pub customers: u64,
    pub reached: u64,
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journey {
    pub path: Vec<String>,
    /// Customers who took the action after this journey, and their share.
    pub reached: u64,
    pub reached_share: f64,
    /// Customers who never took it whose journey ends this way, and their share.
    pub others: u64,
    pub others_share: f64,
    /// reached_share ÷ others_share (none when no other ends this way).
    pub lift: Option<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct LoyaltyPartial {
    customers: u64,
    /// Per persona group (last: unassigned): customers.
    group_customers: Vec<u64>,
    /// Per action: per group reached; journeys of reachers and of the others.
    reached: Vec<Vec<u64>>,
    before: Vec<FxHashMap<Vec<u32>, u64>>,
    ends: Vec<FxHashMap<Vec<u32>, u64>>,
}

struct LoyaltyFold<'m> {
    model: &'m Model,
    scope: &'m Scope,
    spec: &'m LoyaltySpec,
    /// Per action: which event codes it names.
    names: Vec<Vec<bool>>,
    extra: Vec<Col>,
}

impl Fold for LoyaltyFold<'_> {
    type Partial = LoyaltyPartial;
    type Scratch = ();
    type Report = LoyaltyPartial;

    fn columns(&self) -> Vec<Col> {
        let mut c = self.model.timeline_columns();
        c.extend(self.extra.iter().copied());
        c.sort();
        c.dedup();
        c
    }

    fn init(&self) -> LoyaltyPartial {
        let (a, g) = (self.spec.actions.len(), self.model.personas.len() + 1);
        LoyaltyPartial {
            customers: 0,
            group_customers: vec![0; g],
            reached: vec![vec![0; g]; a],
            before: vec![FxHashMap::default(); a],
            ends: vec![FxHashMap::default(); a],
        }
    }

    fn fold(&self, p: &mut LoyaltyPartial, _: &mut (), span: Span<'_>) {
        let Some(t) = Timeline::build(self.model, self.scope, span) else { return };
        let m = self.model;
        // The customer's own interactions (not what the company sent).
        let own: Vec<usize> = (0..t.idx.len())
            .filter(|&j| {
                let r = t.idx[j];
                Kind::code_is_interaction(t.rows.kind[r]) && !Model::flag(&m.is_passive, t.rows.event[r])
            })
            .collect();
        if own.is_empty() {
            return;
        }
        let group = t.persona.unwrap_or(m.personas.len());
        p.customers += 1;
        p.group_customers[group] += 1;
        let n = self.spec.context;
        // The last events before the session of own[i]: the journey that
        // led there, not the clicks of the visit itself.
        let path = |i: usize| -> Vec<u32> {
            let session = t.session[own[i]];
            let before: Vec<u32> =
                own.iter().take(i).filter(|&&j| t.session[j] != session).map(|&j| t.rows.event[t.idx[j]]).collect();
            before[before.len().saturating_sub(n)..].to_vec()
        };
        for (a, action) in self.spec.actions.iter().enumerate() {
            let first = own.iter().position(|&j| {
                let code = t.rows.event[t.idx[j]];
                self.names[a].get(code as usize).copied().unwrap_or(false)
                    && action.step.filter.as_ref().is_none_or(|f| f.eval(&Facts::event(&t, m, j)))
            });
            match first {
                Some(i) => {
                    p.reached[a][group] += 1;
                    *p.before[a].entry(path(i)).or_default() += 1;
                }
                None => *p.ends[a].entry(path(own.len() - 1)).or_default() += 1,
            }
        }
    }

    fn merge(&self, mut a: LoyaltyPartial, b: LoyaltyPartial) -> LoyaltyPartial {
        a.customers += b.customers;
        a.group_customers.iter_mut().zip(b.group_customers).for_each(|(x, y)| *x += y);
        for (x, y) in a.reached.iter_mut().zip(b.reached) {
            x.iter_mut().zip(y).for_each(|(p, q)| *p += q);
        }
        for (x, y) in a.before.iter_mut().zip(b.before).chain(a.ends.iter_mut().zip(b.ends)) {
            for (k, v) in y {
                *x.entry(k).or_default() += v;
            }
        }
        a
    }

    fn finish(&self, p: LoyaltyPartial) -> LoyaltyPartial {
        p
    }
}

/// The loyalty actions over a scope.
pub fn loyalty(store: &Store, model: &Model, scope: &Scope, spec: &LoyaltySpec) -> Result<LoyaltyReport, EngineError> {
    if spec.actions.is_empty() {
        return Err(EngineError::InvalidQuery(
            "no loyalty actions: none of the defaults' events is in the data; name one with --action NAME=EVENT".into(),
        ));
    }
    let mut names = Vec::new();
    let mut extra = Vec::new();
    for a in &spec.actions {
        let glob = a.step.event.as_deref().unwrap_or("");
        names.push(model.events_matching(glob, &format!("action '{}'", a.name))?);
        if let Some(f) = &a.step.filter {
            for field in f.fields() {
                extra.extend(facts::columns(field));
            }
        }
    }
    let f = LoyaltyFold { model, scope, spec, names, extra };
    let p = crate::fold::report(store, &f)?;
    let mut personas: Vec<String> = model.personas.iter().map(|(n, _, _)| n.clone()).collect();
    personas.push("Unassigned".into());
    let name = |path: &[u32]| path.iter().map(|&c| model.event_name(c).to_string()).collect::<Vec<_>>();
    let actions = spec
        .actions
        .iter()
        .enumerate()
        .map(|(a, action)| {
            let reached: u64 = p.reached[a].iter().sum();
            let others = p.customers - reached;
            let by_persona = personas
                .iter()
                .enumerate()
                .filter(|(g, _)| p.group_customers[*g] > 0)
                .map(|(g, name)| PersonaShare {
                    persona: name.clone(),
                    customers: p.group_customers[g],
                    reached: p.reached[a][g],
                    share: p.reached[a][g] as f64 / p.group_customers[g] as f64,
                })
                .collect();
            let mut journeys: Vec<Journey> = p.before[a]
                .iter()
                .map(|(path, &c)| {
                    let o = p.ends[a].get(path).copied().unwrap_or(0);
                    let rs = c as f64 / reached.max(1) as f64;
                    let os = o as f64 / others.max(1) as f64;
                    Journey {
                        path: name(path),
                        reached: c,
                        reached_share: rs,
                        others: o,
                        others_share: os,
                        lift: (o > 0).then(|| rs / os),
                    }
                })
                .collect();
            journeys.sort_by(|x, y| y.reached.cmp(&x.reached).then_with(|| x.path.cmp(&y.path)));
            journeys.truncate(spec.top);
            ActionReport {
                name: action.name.clone(),
                condition: action.step.label.clone(),
                customers: reached,
                share: reached as f64 / p.customers.max(1) as f64,
                by_persona,
                journeys,
            }
        })
        .collect();
    Ok(LoyaltyReport { customers: p.customers, actions, absent: Vec::new(), personas })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ev, model, store};

    #[test]
    fn reached_by_persona_and_the_journeys_before() {
        // One visit an hour (each its own session).
        let mut events = Vec::new();
        for u in 0..10 {
            let id = format!("r{u}");
            events.push(ev(&id, 0.0, "Page Viewed"));
            events.push(ev(&id, 60.0, "Order Completed"));
            events.push(ev(&id, 120.0, "Order Completed"));
            if u < 4 {
                events.push(ev(&id, 180.0, "Product Reviewed"));
            }
        }
        for u in 0..6 {
            let id = format!("o{u}");
            events.push(ev(&id, 0.0, "Page Viewed"));
            events.push(ev(&id, 60.0, "Order Completed"));
            events.push(ev(&id, 120.0, "Page Viewed"));
        }
        let (_d, s) = store(events);
        let m = model(&s);
        let (actions, absent) = default_actions(&m);
        let names: Vec<&str> = actions.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["Review", "Repeat order"], "{absent:?}");
        assert_eq!(absent.len(), 2, "{absent:?}");
        let r = loyalty(&s, &m, &Scope::default(), &LoyaltySpec { actions, context: 2, top: 5 }).unwrap();
        assert_eq!(r.customers, 16);
        let review = &r.actions[0];
        assert_eq!((review.customers, review.share), (4, 0.25));
        assert_eq!(review.journeys[0].path, ["Order Completed", "Order Completed"]);
        let repeat = &r.actions[1];
        assert_eq!(repeat.customers, 10);
        // Repeat buyers got there by viewing and ordering once; the others ended there.
        let j = &repeat.journeys[0];
        assert_eq!(j.path, ["Page Viewed", "Order Completed"]);
        assert_eq!((j.reached, j.others, j.lift), (10, 6, Some(1.0)));
        let e = parse_action("Wish=Wishlist Addd", &m).unwrap_err().to_string();
        assert!(e.contains("Wishlist Addd"), "{e}");
        assert!(parse_action("no equals sign", &m).is_err());
        let a = parse_action("Big order=Order Completed[revenue > 100]", &m).unwrap();
        assert_eq!(a.name, "Big order");
    }
}
