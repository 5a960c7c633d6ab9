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

use crate::facts::Facts;
use crate::fold::{self, Fold, Span};
use crate::membership::Segment;
use crate::model::Model;
use crate::nba::NbaReport;
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
    /// The channel most likely to move them to the next stage that they
    /// have not had, with its evidence (`wayfarer nba`); none in the last
    /// stage or when no channel has a significant positive effect.
    pub next_best_action: Option<NextAction>,
    /// The products most likely to interest them (`wayfarer recommend`),
    /// leaving out what they had.
    pub recommended: Vec<crate::recommend::Recommended>,
    /// The store generation the profile was read from.
    pub generation: u64,
}

/// Products in a profile.
const RECOMMENDED: usize = 10;

/// A next-best-action with the evidence behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NextAction {
    pub channel: String,
    pub stage: String,
    pub next_stage: String,
    /// The persona whose customers the evidence is from (none: all).
    pub evidence_from: Option<String>,
    pub effect: f64,
    pub effect_ci: (f64, f64),
    pub effect_p_value: f64,
    pub rate_with: f64,
    pub rate_without: f64,
    pub customers_with: u64,
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
    /// The channels of their events (codes, sorted).
    channels: Vec<u32>,
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
    /// Next-best-action rankings by (stage, persona).
    nba: HashMap<(usize, Option<usize>), NbaReport>,
    channel_names: Vec<String>,
    recommender: Option<crate::recommend::Recommender>,
}

/// The settings of profiles' next-best-actions (those of `wayfarer nba`'s
/// defaults).
const NBA_WINDOW: i64 = 14 * 86_400 * 1_000_000;
const NBA_MIN_CUSTOMERS: u64 = 30;
const NBA_ALPHA: f64 = 0.05;

impl ProfileIndex {
    /// Builds the index of the store's customers, with the saved segments'
    /// membership.
    pub fn build(store: &Store, model: &Model, segments: &[Segment]) -> Result<ProfileIndex, EngineError> {
        let store = store.all_customers();
        let predictions = crate::membership::predictions_for(&store, model, segments)?;
        let entries = fold::report(&store, &ProfileFold { model, segments, predictions: predictions.as_ref() })?;
        let nba = crate::nba::rank_all(&store, model, NBA_MIN_CUSTOMERS, NBA_ALPHA, NBA_WINDOW)?;
        let recommender = crate::recommend::Recommender::train(&store, model)?;
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
            nba,
            channel_names: model.channels.clone(),
            recommender,
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
            next_best_action: self.next_action(e),
            recommended: self.recommender.as_ref().map_or_else(Vec::new, |r| r.top(customer, RECOMMENDED)),
            generation: self.generation,
        })
    }

    /// The best recommended channel the customer has not had: from their
    /// persona's evidence when it recommends any, else everyone's.
    fn next_action(&self, e: &Entry) -> Option<NextAction> {
        let (stage, _) = e.stage?;
        let stage = stage as usize;
        let persona = e.persona.map(usize::from);
        let own = persona.and_then(|p| self.nba.get(&(stage, Some(p)))).filter(|r| !r.recommended.is_empty());
        let report = own.or_else(|| self.nba.get(&(stage, None)))?;
        let had: Vec<&str> =
            e.channels.iter().map(|&c| self.channel_names.get(c as usize).map_or("", String::as_str)).collect();
        let a = report.actions.iter().filter(|a| a.recommended).find(|a| !had.contains(&a.channel.as_str()))?;
        Some(NextAction {
            channel: a.channel.clone(),
            stage: report.stage.clone(),
            next_stage: report.next_stage.clone(),
            evidence_from: report.persona.clone(),
            effect: a.effect,
            effect_ci: a.effect_ci,
            effect_p_value: a.effect_p_value,
            rate_with: a.rate_with,
            rate_without: a.rate_without,
            customers_with: a.customers_with,
        })
    }
}

struct ProfileFold<'a> {
    model: &'a Model,
    segments: &'a [Segment],
    predictions: Option<&'a crate::facts::Predictions>,
}

impl Fold for ProfileFold<'_> {
    type Partial = Vec<(u32, Entry)>;
    type Scratch = ();
    type Report = Vec<(u32, Entry)>;

    fn columns(&self) -> Vec<Col> {
        crate::membership::columns(self.model, self.segments, true)
    }

    fn property_rows(&self) -> PropertyRows {
        crate::membership::property_rows(self.model, self.segments)
    }

    fn init(&self) -> Self::Partial {
        Vec::new()
    }

    fn fold(&self, p: &mut Self::Partial, _: &mut (), span: Span<'_>) {
        let Some(t) = Timeline::build(self.model, &Scope::default(), span) else { return };
        let facts = Facts::customer(&t, self.model).with_predictions(self.predictions);
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
                channels: {
                    let mut c: Vec<u32> = t.channel.clone();
                    c.sort_unstable();
                    c.dedup();
                    c
                },
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
            membership::compile(&store, "Buyers", "did 'Order Completed'", &model).unwrap(),
            membership::compile(&store, "Pros", "traits.plan = 'pro'", &model).unwrap(),
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
        assert_eq!(by_anon.next_best_action, None, "too few customers to judge any channel");
        let bob = index.profile("bob").unwrap();
        assert!(bob.segments.is_empty());
        assert_eq!(index.profile("nobody"), None);
    }

    #[test]
    fn the_next_best_action_is_the_recommended_channel_not_yet_had() {
        // 200 customers add to cart (Decision); those who then get an email
        // buy nine times in ten, the others one time in ten.
        let mut events = Vec::new();
        for i in 0..200 {
            let u = format!("c{i:03}");
            events.push(ev(&u, 0.0, "Product Viewed"));
            events.push(ev(&u, 1.0, "Product Added"));
            let emailed = i % 2 == 0;
            if emailed {
                events.push(with(ev(&u, 60.0, "Email Opened"), |e| e.channel = Some("Email".into())));
            }
            if (emailed && i % 10 != 0) || (!emailed && i % 10 == 1) {
                events.push(with(ev(&u, 120.0, "Order Completed"), |e| e.revenue = Some(20.0)));
            }
        }
        // The data runs on for a month, past every customer's window.
        events.push(ev("late", 30.0 * 24.0 * 60.0, "Page Viewed"));
        let (_dir, store) = store(events);
        let model = testutil::model(&store);
        let index = ProfileIndex::build(&store, &model, &[]).unwrap();
        let never_emailed = index.profile("c003").unwrap();
        assert_eq!(never_emailed.stage.as_deref(), Some("Decision"), "{never_emailed:?}");
        let action = never_emailed.next_best_action.expect("a next best action");
        assert_eq!((action.channel.as_str(), action.next_stage.as_str()), ("Email", "Purchase"));
        assert!(action.effect > 2.0 && action.rate_with >= 0.8 && action.rate_without <= 0.2, "{action:?}");
        // Who had the email is not advised to get it again.
        let emailed = index.profile("c000").unwrap();
        assert_eq!(emailed.stage.as_deref(), Some("Decision"));
        assert_eq!(emailed.next_best_action, None);
    }

    #[test]
    fn profiles_recommend_products_by_what_goes_together() {
        let view = |u: &str, m: f64, product: &str| {
            with(ev(u, m, "Product Viewed"), |e| e.properties = format!(r#"{{"product_id":"{product}"}}"#))
        };
        let mut events = Vec::new();
        for i in 0..20 {
            let u = format!("c{i}");
            let (a, b) = if i % 2 == 0 { ("boots", "socks") } else { ("tent", "stove") };
            events.push(view(&u, 0.0, a));
            events.push(view(&u, 1.0, b));
            if i % 4 == 0 {
                events.push(view(&u, 2.0, "tent"));
            }
        }
        events.push(view("new", 0.0, "boots"));
        let (_dir, store) = store(events);
        let model = testutil::model(&store);
        let index = ProfileIndex::build(&store, &model, &[]).unwrap();
        let p = index.profile("new").unwrap();
        assert_eq!(p.recommended.first().map(|r| r.product_id.as_str()), Some("socks"), "{:?}", p.recommended);
        assert!(p.recommended.iter().all(|r| r.product_id != "boots"), "a product they had");
    }
}
