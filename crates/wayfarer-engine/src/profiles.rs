//! Customer profiles for personalisation (DESIGN §10): an in-memory index,
//! built by one fold per generation of the store, that answers "who is
//! this visitor?" by any identity (user id, anonymous id, alias) in
//! microseconds: identities, traits, current stage and when it was
//! entered, persona, segments, first and last seen. The server rebuilds it
//! after each commit and swaps it in whole.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value as Json;
use wayfarer_store::{Col, IdentityGraph, PropertyRows, Store};

use crate::facts::{self, Facts};
use crate::fold::{self, Fold, Span};
use crate::membership::Segment;
use crate::model::Model;
use crate::timeline::Timeline;
use crate::{EngineError, Scope};

/// One customer as a website or an email tool reads them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    pub customer_id: String,
    /// `user:ID` and `anonymous:ID`, every identity merged into this customer.
    pub identities: Vec<String>,
    pub traits: Json,
    pub stage: Option<String>,
    pub stage_entered_at: Option<String>,
    pub persona: Option<String>,
    pub segments: Vec<String>,
    pub events: usize,
    pub first_seen: String,
    pub last_seen: String,
    /// The store generation the profile was read from.
    pub generation: u64,
}

/// What the index keeps of one customer.
#[derive(Debug, Clone)]
struct Entry {
    stage: Option<(u8, i64)>,
    persona: Option<u8>,
    segments: Vec<u16>,
    traits: Box<str>,
    events: u32,
    first: i64,
    last: i64,
}

/// Every customer's profile, by canonical number, with the identity graph
/// to find them by any of their ids.
#[derive(Debug)]
pub struct ProfileIndex {
    generation: u64,
    ids: Arc<IdentityGraph>,
    /// Canonical number of each identity.
    canonical: Vec<u32>,
    /// Each customer's identities (by canonical number).
    members: HashMap<u32, Vec<u32>>,
    entries: HashMap<u32, Entry>,
    stages: Vec<String>,
    personas: Vec<String>,
    segments: Vec<String>,
}

impl ProfileIndex {
    /// Builds the index of the store's customers, with the saved segments'
    /// membership.
    pub fn build(store: &Store, model: &Model, segments: &[Segment]) -> Result<ProfileIndex, EngineError> {
        let store = store.all_customers();
        let entries = fold::report(&store, &ProfileFold { model, segments })?;
        let mut graph = store.identity()?;
        let canonical = graph.canonical_map().to_vec();
        let mut members: HashMap<u32, Vec<u32>> = HashMap::new();
        for (ident, &c) in canonical.iter().enumerate() {
            members.entry(c).or_default().push(ident as u32);
        }
        Ok(ProfileIndex {
            generation: store.manifest().generation,
            ids: Arc::new(graph),
            canonical,
            members,
            entries: entries.into_iter().collect(),
            stages: model.stage_names.clone(),
            personas: model.personas.iter().map(|(n, _, _)| n.clone()).collect(),
            segments: segments.iter().map(|s| s.name.clone()).collect(),
        })
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The profile of the customer with this user id, anonymous id or
    /// alias; `None` when no customer has it.
    pub fn profile(&self, id: &str) -> Option<Profile> {
        let ident = self.ids.lookup(&format!("u:{id}")).or_else(|| self.ids.lookup(&format!("a:{id}")))?;
        let customer = *self.canonical.get(ident as usize)?;
        let e = self.entries.get(&customer)?;
        let time = wayfarer_core::time::format_rfc3339;
        let identities = self.members.get(&customer).map_or_else(Vec::new, |list| {
            list.iter()
                .map(|&i| {
                    let kind = if self.ids.is_user(i) { "user" } else { "anonymous" };
                    format!("{kind}:{}", self.ids.external_id(i))
                })
                .collect()
        });
        Some(Profile {
            customer_id: self.ids.external_id(customer).to_string(),
            identities,
            traits: serde_json::from_str(&e.traits).unwrap_or(Json::Object(Default::default())),
            stage: e.stage.map(|(s, _)| self.stages[s as usize].clone()),
            stage_entered_at: e.stage.map(|(_, at)| time(at)),
            persona: e.persona.map(|p| self.personas[p as usize].clone()),
            segments: e.segments.iter().map(|&s| self.segments[s as usize].clone()).collect(),
            events: e.events as usize,
            first_seen: time(e.first),
            last_seen: time(e.last),
            generation: self.generation,
        })
    }
}

struct ProfileFold<'a> {
    model: &'a Model,
    segments: &'a [Segment],
}

impl Fold for ProfileFold<'_> {
    type Partial = Vec<(u32, Entry)>;
    type Scratch = ();
    type Report = Vec<(u32, Entry)>;

    fn columns(&self) -> Vec<Col> {
        let mut c = self.model.timeline_columns();
        c.push(Col::Properties);
        c.extend(self.segments.iter().flat_map(|s| s.predicate.fields()).flat_map(facts::columns));
        c.sort_by_key(|c| c.index());
        c.dedup();
        c
    }

    fn property_rows(&self) -> PropertyRows {
        let latest = self
            .segments
            .iter()
            .flat_map(|s| s.predicate.fields())
            .any(|f| matches!(f, wayfarer_core::predicate::Field::Property(_)));
        if latest {
            PropertyRows::All
        } else {
            // What the stage rules and touchpoints read, and identify calls' traits.
            self.model.property_rows()
        }
    }

    fn init(&self) -> Self::Partial {
        Vec::new()
    }

    fn fold(&self, p: &mut Self::Partial, _: &mut (), span: Span<'_>) {
        let Some(t) = Timeline::build(self.model, &Scope::default(), span) else { return };
        let facts = Facts::customer(&t, self.model);
        let segments =
            self.segments.iter().enumerate().filter(|(_, s)| s.predicate.eval(&facts)).map(|(i, _)| i as u16).collect();
        let stage = t.current_stage().and_then(|s| t.entry[s].map(|at| (s as u8, at)));
        p.push((
            t.customer,
            Entry {
                stage,
                persona: t.persona.map(|x| x as u8),
                segments,
                traits: serde_json::to_string(&t.traits).unwrap_or_else(|_| "{}".into()).into_boxed_str(),
                events: t.idx.len() as u32,
                first: t.first_ts(),
                last: t.last_ts(),
            },
        ));
    }

    fn merge(&self, mut a: Self::Partial, b: Self::Partial) -> Self::Partial {
        a.extend(b);
        a
    }

    fn finish(&self, p: Self::Partial) -> Self::Report {
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::membership;
    use crate::testutil::{self, ev, store, with};
    use wayfarer_core::Kind;

    #[test]
    fn a_profile_by_any_identity() {
        let mut anon = ev("x", 0.0, "Page Viewed");
        anon.user_id = None;
        anon.anonymous_id = Some("anon-1".into());
        let mut linked = ev("ann", 1.0, "Page Viewed");
        linked.anonymous_id = Some("anon-1".into());
        let identify = with(ev("ann", 2.0, "Identify"), |e| {
            e.kind = Kind::Identify;
            e.properties = r#"{"email":"ann@example.com","plan":"pro"}"#.into();
        });
        let order = with(ev("ann", 3.0, "Order Completed"), |e| e.revenue = Some(30.0));
        let (_dir, store) = store(vec![anon, linked, identify, order, ev("bob", 0.0, "Page Viewed")]);
        let model = testutil::model(&store);
        let segs = vec![
            membership::compile("Buyers", "did 'Order Completed'", &model).unwrap(),
            membership::compile("Pros", "traits.plan = 'pro'", &model).unwrap(),
        ];
        let index = ProfileIndex::build(&store, &model, &segs).unwrap();
        let by_anon = index.profile("anon-1").unwrap();
        assert_eq!(index.profile("ann").unwrap(), by_anon);
        assert_eq!(by_anon.customer_id, "ann");
        assert_eq!(by_anon.segments, ["Buyers", "Pros"]);
        assert_eq!(by_anon.traits["email"], "ann@example.com");
        assert_eq!(by_anon.stage.as_deref(), Some("Purchase"));
        assert!(by_anon.identities.contains(&"anonymous:anon-1".to_string()), "{:?}", by_anon.identities);
        assert!(by_anon.identities.contains(&"user:ann".to_string()));
        let bob = index.profile("bob").unwrap();
        assert!(bob.segments.is_empty());
        assert_eq!(index.profile("nobody"), None);
    }
}
