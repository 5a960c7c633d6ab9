//! Saved segments' membership (DESIGN §10): each segment is a condition
//! over a whole customer in the one condition language (traits, customer
//! facts, `did` terms, ordered stages), checked against the data when
//! compiled, and one fold over the timelines decides every segment's
//! members at once.

use serde::Serialize;
use serde_json::Value as Json;
use wayfarer_core::Kind;
use wayfarer_core::predicate::{Field, Predicate, Scope as Where};
use wayfarer_store::segment_defs::SegmentDef;
use wayfarer_store::{Col, CustomerSet, PropertyRows, Store};

use crate::facts::{self, Facts};
use crate::fold::{self, Fold, Span};
use crate::model::Model;
use crate::timeline::Timeline;
use crate::{EngineError, Scope};

/// A segment ready to evaluate.
#[derive(Debug, Clone)]
pub struct Segment {
    pub name: String,
    pub predicate: Predicate,
}

/// Compiles a segment's condition against the data; the error names the
/// segment and the column.
pub fn compile(name: &str, condition: &str, model: &Model) -> Result<Segment, EngineError> {
    let predicate = Predicate::compile(condition, Where::Customer, &model.vocabulary())
        .map_err(|e| EngineError::InvalidQuery(format!("segment '{name}', condition {e}")))?;
    Ok(Segment { name: name.to_string(), predicate })
}

/// Compiles saved definitions.
pub fn compile_all(defs: &[SegmentDef], model: &Model) -> Result<Vec<Segment>, EngineError> {
    defs.iter().map(|d| compile(&d.name, &d.condition, model)).collect()
}

/// One member of a segment, with what a team needs to reach them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Member {
    pub customer_id: String,
    #[serde(skip)]
    pub customer: u32,
    pub stage: Option<String>,
    pub events: usize,
    pub first_seen: String,
    pub last_seen: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Who is in each segment.
#[derive(Debug, Clone, Serialize)]
pub struct Membership {
    /// Customers with activity in the scope (each segment's base).
    pub customers: usize,
    /// The members of each segment, in the order given, each sorted by
    /// customer id.
    pub members: Vec<Vec<Member>>,
}

/// Every segment's members, from one pass over the timelines.
pub fn members(store: &Store, model: &Model, scope: &Scope, segments: &[Segment]) -> Result<Membership, EngineError> {
    let scope = scope.without_persona();
    let (customers, found) = fold::report(store, &MembershipFold { model, scope: &scope, segments })?;
    let ids = store.identity_shared()?;
    let members = found
        .into_iter()
        .map(|mut list| {
            for m in &mut list {
                m.customer_id = ids.external_id(m.customer).to_string();
            }
            list.sort_by(|a, b| a.customer_id.cmp(&b.customer_id));
            list
        })
        .collect();
    Ok(Membership { customers, members })
}

/// The customers (canonical numbers) of one segment: what `--segment`
/// limits an analysis to.
pub fn customers(store: &Store, model: &Model, scope: &Scope, segment: &Segment) -> Result<CustomerSet, EngineError> {
    let scope = scope.without_persona();
    let (_, found) =
        fold::report(store, &MembershipFold { model, scope: &scope, segments: std::slice::from_ref(segment) })?;
    Ok(found.into_iter().flatten().map(|m| m.customer).collect())
}

/// How many customers each segment has.
pub fn sizes(store: &Store, model: &Model, scope: &Scope, segments: &[Segment]) -> Result<Vec<usize>, EngineError> {
    Ok(members(store, model, scope, segments)?.members.iter().map(Vec::len).collect())
}

struct MembershipFold<'a> {
    model: &'a Model,
    scope: &'a Scope,
    segments: &'a [Segment],
}

impl MembershipFold<'_> {
    fn fields(&self) -> impl Iterator<Item = &Field> {
        self.segments.iter().flat_map(|s| s.predicate.fields())
    }
}

impl Fold for MembershipFold<'_> {
    /// Customers seen, and each segment's members.
    type Partial = (usize, Vec<Vec<Member>>);
    type Scratch = ();
    type Report = (usize, Vec<Vec<Member>>);

    fn columns(&self) -> Vec<Col> {
        let mut c = self.model.timeline_columns();
        // Traits for email and phone, besides what the conditions read.
        c.push(Col::Properties);
        c.extend(self.fields().flat_map(facts::columns));
        c.sort_by_key(|c| c.index());
        c.dedup();
        c
    }

    /// Identify calls' traits, and every event's properties only when a
    /// condition reads a customer's latest `properties.x`.
    fn property_rows(&self) -> PropertyRows {
        if self.fields().any(|f| matches!(f, Field::Property(_))) {
            PropertyRows::All
        } else {
            PropertyRows::Of { kinds: vec![Kind::Identify.code()], events: Vec::new() }
        }
    }

    fn init(&self) -> Self::Partial {
        (0, vec![Vec::new(); self.segments.len()])
    }

    fn fold(&self, p: &mut Self::Partial, _: &mut (), span: Span<'_>) {
        let Some(t) = Timeline::build(self.model, self.scope, span) else { return };
        p.0 += 1;
        let facts = Facts::customer(&t, self.model);
        let mut member: Option<Member> = None;
        for (i, s) in self.segments.iter().enumerate() {
            if s.predicate.eval(&facts) {
                let m = member.get_or_insert_with(|| self.member(&t));
                p.1[i].push(m.clone());
            }
        }
    }

    fn merge(&self, mut a: Self::Partial, b: Self::Partial) -> Self::Partial {
        a.0 += b.0;
        for (x, y) in a.1.iter_mut().zip(b.1) {
            x.extend(y);
        }
        a
    }

    fn finish(&self, p: Self::Partial) -> Self::Report {
        p
    }
}

impl MembershipFold<'_> {
    fn member(&self, t: &Timeline<'_>) -> Member {
        let text = |key: &str| match t.traits.get(key) {
            Some(Json::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Json::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Member {
            customer_id: String::new(),
            customer: t.customer,
            stage: t.current_stage().map(|s| self.model.stage_names[s].clone()),
            events: t.idx.len(),
            first_seen: wayfarer_core::time::format_rfc3339(t.first_ts()),
            last_seen: wayfarer_core::time::format_rfc3339(t.last_ts()),
            email: text("email"),
            phone: text("phone"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{self, ev, store, with};

    #[test]
    fn one_pass_decides_every_segment() {
        let buy = |u: &str, m: f64| with(ev(u, m, "Order Completed"), |e| e.revenue = Some(20.0));
        let (_dir, store) = store(vec![
            ev("a", 0.0, "Page Viewed"),
            buy("a", 10.0),
            buy("a", 20.0),
            ev("b", 0.0, "Page Viewed"),
            buy("b", 60.0),
            ev("c", 5.0, "Page Viewed"),
        ]);
        let model = testutil::model(&store);
        let segs = vec![
            compile("repeat", "did 'Order Completed' >= 2", &model).unwrap(),
            compile("buyers", "orders >= 1", &model).unwrap(),
            compile("browsers", "not did 'Order Completed'", &model).unwrap(),
        ];
        let all = members(&store, &model, &Scope::default(), &segs).unwrap();
        assert_eq!(all.customers, 3);
        let found = all.members;
        let ids: Vec<Vec<&str>> = found.iter().map(|l| l.iter().map(|m| m.customer_id.as_str()).collect()).collect();
        assert_eq!(ids, [vec!["a"], vec!["a", "b"], vec!["c"]]);
        assert_eq!(found[0][0].events, 3);
    }

    #[test]
    fn persona_rules_order_stages_and_cannot_read_persona() {
        use wayfarer_core::Config;
        use wayfarer_core::config::PersonaDef;
        let (_dir, store) =
            store(vec![ev("a", 0.0, "Page Viewed"), ev("a", 1.0, "Order Completed"), ev("b", 0.0, "Page Viewed")]);
        let mut c = Config::default();
        let rule = |when: &str| PersonaDef { name: "Buyers".into(), description: String::new(), when: when.into() };
        c.personas.push(rule("stage < 'Advocacy'"));
        let model = testutil::model_with(&store, &c);
        // Textually no stage name sorts before 'Advocacy'; in the model's order every stage but the last does.
        let buyers = compile("b", "persona = 'Buyers'", &model).unwrap();
        let ids: Vec<String> = members(&store, &model, &Scope::default(), &[buyers]).unwrap().members[0]
            .iter()
            .map(|m| m.customer_id.clone())
            .collect();
        assert_eq!(ids, ["a", "b"]);
        let mut c = Config::default();
        c.personas.push(rule("persona = 'Buyers'"));
        let e = crate::model::Model::compile(&c, &store).unwrap_err().to_string();
        assert!(e.contains("cannot read 'persona'"), "{e}");
    }

    #[test]
    fn a_bad_condition_names_the_segment_and_column() {
        let (_dir, store) = store(vec![ev("a", 0.0, "Page Viewed"), ev("a", 1.0, "Order Completed")]);
        let model = testutil::model(&store);
        let e = compile("x", "orders >= 1 and did 'Order Complete'", &model).unwrap_err().to_string();
        assert!(e.contains("segment 'x', condition at column 17") && e.contains("'Order Completed'"), "{e}");
    }
}
