//! Customer segmentations that split the journey map: by first
//! (acquisition) channel, by purchases (none, one, repeat), by status
//! (active, churned), and by the value of any event property (the
//! customer's latest) or identify trait. A segmentation splits every customer of the scope into
//! named groups and is handed to the map in the same form as personas (a
//! customer → group assignment), so all of a segmentation's maps come from
//! one pass over the data.

use std::collections::HashMap;
use std::sync::Arc;

use wayfarer_core::predicate::{self, Field, Value};
use wayfarer_store::{Col, NO_CHANNEL, Store};

use crate::fold::{self, Fold, Span};
use crate::journey::Personas;
use crate::model::Model;
use crate::timeline::Timeline;
use crate::{EngineError, Scope};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segmentation {
    FirstChannel,
    Purchases,
    Status,
    /// The customer's latest value of an event property (`properties.platform`).
    Property(String),
    /// The customer's identify trait (`traits.plan`).
    Trait(String),
}

/// A property or trait split shows this many of its most common values;
/// the rest are one group.
pub const MAX_VALUE_GROUPS: usize = 8;
/// The group of customers beyond the most common values.
pub const OTHER_VALUES: &str = "Other values";

impl Segmentation {
    /// The built-in segmentations.
    pub const BUILT_IN: [Segmentation; 3] = [Segmentation::FirstChannel, Segmentation::Purchases, Segmentation::Status];

    /// The name used in URLs and flags (`first_channel:Email`, `properties.platform:iOS`).
    pub fn key(&self) -> String {
        match self {
            Segmentation::FirstChannel => "first_channel".into(),
            Segmentation::Purchases => "purchases".into(),
            Segmentation::Status => "status".into(),
            Segmentation::Property(p) => format!("properties.{p}"),
            Segmentation::Trait(p) => format!("traits.{p}"),
        }
    }

    pub fn label(&self) -> String {
        match self {
            Segmentation::FirstChannel => "First channel".into(),
            Segmentation::Purchases => "Purchases".into(),
            Segmentation::Status => "Status".into(),
            Segmentation::Property(p) => format!("Property {p}"),
            Segmentation::Trait(p) => format!("Trait {p}"),
        }
    }

    /// `first_channel`, `purchases`, `status`, `properties.NAME` (or
    /// `property:NAME`, as funnel breakdowns write it) or `traits.NAME`.
    pub fn parse(s: &str) -> Option<Segmentation> {
        if let Some(b) = Segmentation::BUILT_IN.into_iter().find(|x| x.key() == s) {
            return Some(b);
        }
        let named = |p: &str| (!p.is_empty()).then(|| p.to_string());
        if let Some(p) = s.strip_prefix("properties.").or_else(|| s.strip_prefix("property:")) {
            return named(p).map(Segmentation::Property);
        }
        s.strip_prefix("traits.").and_then(named).map(Segmentation::Trait)
    }

    /// Parses `KEY`, or says which keys exist; a property or trait the data
    /// does not hold is an error naming the closest.
    pub fn resolve(s: &str, model: &Model) -> Result<Segmentation, EngineError> {
        let by = Segmentation::parse(s).ok_or_else(|| {
            EngineError::InvalidQuery(format!(
                "no segmentation '{s}': expected first_channel, purchases, status, properties.NAME or traits.NAME"
            ))
        })?;
        let field = match &by {
            Segmentation::Property(p) => Field::Property(p.clone()),
            Segmentation::Trait(p) => Field::Trait(p.clone()),
            _ => return Ok(by),
        };
        model.vocabulary().check_key(&field).map_err(|e| EngineError::InvalidQuery(format!("split '{s}': {e}")))?;
        Ok(by)
    }

    fn group(&self, model: &Model, t: &Timeline<'_>) -> String {
        let value = |f: Field| {
            let facts = crate::facts::Facts::customer(t, model);
            match predicate::Facts::get(&facts, &f) {
                Value::Null => None,
                v => Some(v.text().into_owned()),
            }
        };
        match self {
            Segmentation::FirstChannel => {
                let c = t.channel.iter().copied().find(|&c| c != NO_CHANNEL).unwrap_or(NO_CHANNEL);
                model.channel_name(c).to_string()
            }
            Segmentation::Purchases => match t.purchases() {
                0 => "Never bought".to_string(),
                1 => "One purchase".to_string(),
                _ => "Repeat buyers".to_string(),
            },
            Segmentation::Status => if t.churned(model, model.data_end) { "Churned" } else { "Active" }.to_string(),
            Segmentation::Property(p) => value(Field::Property(p.clone())).unwrap_or_else(|| format!("(no {p})")),
            Segmentation::Trait(p) => value(Field::Trait(p.clone())).unwrap_or_else(|| format!("(no {p})")),
        }
    }
}

pub struct SegmentFold<'a> {
    model: &'a Model,
    scope: &'a Scope,
    by: &'a Segmentation,
}

impl<'a> SegmentFold<'a> {
    pub fn new(model: &'a Model, scope: &'a Scope, by: &'a Segmentation) -> SegmentFold<'a> {
        SegmentFold { model, scope, by }
    }
}

impl Fold for SegmentFold<'_> {
    type Partial = Vec<(u32, String)>;
    type Scratch = ();
    type Report = Vec<(u32, String)>;

    fn wire(&self) -> Option<crate::fold::Wire<Self::Partial>> {
        Some(crate::fold::Wire::serde())
    }

    fn columns(&self) -> Vec<Col> {
        let mut c = self.model.timeline_columns();
        c.push(Col::Revenue);
        if matches!(self.by, Segmentation::Property(_) | Segmentation::Trait(_)) {
            c.push(Col::Properties);
        }
        c
    }

    fn init(&self) -> Self::Partial {
        Vec::new()
    }

    fn fold(&self, p: &mut Self::Partial, _: &mut (), span: Span<'_>) {
        if let Some(t) = Timeline::build(self.model, self.scope, span) {
            p.push((t.customer, self.by.group(self.model, &t)));
        }
    }

    fn merge(&self, mut a: Self::Partial, b: Self::Partial) -> Self::Partial {
        a.extend(b);
        a
    }

    /// Each customer's group, by customer.
    fn finish(&self, mut pairs: Vec<(u32, String)>) -> Vec<(u32, String)> {
        pairs.sort_unstable();
        pairs
    }
}

/// Splits the scope's customers by `by`; groups are ordered by size,
/// largest first. A property or trait keeps its [`MAX_VALUE_GROUPS`] most
/// common values; customers with others are in [`OTHER_VALUES`].
pub fn segment(store: &Store, model: &Model, scope: &Scope, by: &Segmentation) -> Result<Personas, EngineError> {
    let scope = scope.without_persona();
    let pairs = fold::report(store, &SegmentFold { model, scope: &scope, by })?;
    let mut sizes: HashMap<&str, usize> = HashMap::new();
    for (_, g) in &pairs {
        *sizes.entry(g.as_str()).or_insert(0) += 1;
    }
    let mut names: Vec<(&str, usize)> = sizes.into_iter().collect();
    names.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let capped = matches!(by, Segmentation::Property(_) | Segmentation::Trait(_)) && names.len() > MAX_VALUE_GROUPS;
    let mut index: HashMap<&str, usize> = names.iter().enumerate().map(|(i, (n, _))| (*n, i)).collect();
    if capped {
        let other = MAX_VALUE_GROUPS - 1;
        let rest: usize = names[other..].iter().map(|(_, n)| n).sum();
        for (n, _) in &names[other..] {
            index.insert(n, other);
        }
        names.truncate(other);
        names.push((OTHER_VALUES, rest));
    }
    let assignment: HashMap<u32, usize> = pairs.iter().map(|(c, g)| (*c, index[g.as_str()])).collect();
    Ok(Personas {
        names: names.iter().map(|(n, _)| ((*n).to_string(), format!("{}: {n}", by.label()))).collect(),
        assignment: crate::journey::Assignment::Table(Arc::new(assignment)),
        noun: "segments",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil;

    #[test]
    fn every_customer_lands_in_exactly_one_segment() {
        use crate::testutil::{ev, store, with};
        let buy = |u: &str, m: f64, r: f64| with(ev(u, m, "Order Completed"), |e| e.revenue = Some(r));
        let via = |u: &str, m: f64, c: &str| with(ev(u, m, "Page Viewed"), |e| e.channel = Some(c.to_string()));
        let (_dir, store) = store(vec![
            via("a", 0.0, "Email"),
            buy("a", 10.0, 20.0),
            buy("a", 9000.0, 30.0),
            via("b", 0.0, "Paid Search"),
            buy("b", 60.0, 25.0),
            via("c", 5.0, "Email"),
        ]);
        let model = testutil::model(&store);
        let p = segment(&store, &model, &Scope::default(), &Segmentation::Purchases).unwrap();
        let a = p.table().unwrap();
        assert_eq!(a.len(), 3);
        let name = |id: &str| {
            let mut ids = store.identity().unwrap();
            let c = ids.canonical(ids.lookup(&format!("u:{id}")).unwrap());
            p.names[a[&c]].0.clone()
        };
        assert_eq!(
            (name("a").as_str(), name("b").as_str(), name("c").as_str()),
            ("Repeat buyers", "One purchase", "Never bought")
        );
        let f = segment(&store, &model, &Scope::default(), &Segmentation::FirstChannel).unwrap();
        assert_eq!(f.names[0].0, "Email", "the largest group first");
        assert_eq!(f.table().unwrap().values().filter(|&&g| g == 0).count(), 2);
    }
}
