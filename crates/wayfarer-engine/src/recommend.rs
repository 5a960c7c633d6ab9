//! Product recommendations (DESIGN §10) over the Segment e-commerce events:
//! `product_id` of Product Viewed and Product Added, and of each of Order
//! Completed's `products`. One fold gathers every customer's product
//! interactions; the models (popularity, co-occurrence, EASE) live in
//! `wayfarer-models`. `evaluate` trains before a split and scores the
//! purchases after it; `for_customer` trains on everything.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value as Json;
use wayfarer_models::recommend::{self as rec, CoOccurrence, Ease, History, Metrics, Popularity, Scorer};
use wayfarer_store::{Col, PropertyRows, Store};

use crate::EngineError;
use crate::fold::{self, Fold, Span};
use crate::model::Model;

/// The events whose `product_id` counts (besides the purchase event's products).
pub const PRODUCT_EVENTS: [&str; 2] = ["Product Viewed", "Product Added"];
/// Above this many items EASE (a dense item × item inverse) is not fitted;
/// co-occurrence still is.
pub const EASE_MAX_ITEMS: usize = 3000;
/// EASE's L2 penalty.
pub const EASE_LAMBDA: f64 = 500.0;

/// One product interaction: when, which product, whether it was bought.
type Touch = (i64, String, bool);

struct ProductFold<'a> {
    model: &'a Model,
    codes: Vec<u32>,
}

impl Fold for ProductFold<'_> {
    type Partial = Vec<(u32, Vec<Touch>)>;
    type Scratch = ();
    type Report = Vec<(u32, Vec<Touch>)>;

    fn columns(&self) -> Vec<Col> {
        vec![Col::Customer, Col::Timestamp, Col::EventCode, Col::KindCode, Col::Properties]
    }

    fn property_rows(&self) -> PropertyRows {
        PropertyRows::Of { kinds: Vec::new(), events: self.codes.clone() }
    }

    fn init(&self) -> Self::Partial {
        Vec::new()
    }

    fn fold(&self, p: &mut Self::Partial, _: &mut (), span: Span<'_>) {
        let rows = span.rows;
        let mut touches = Vec::new();
        for r in span.start..span.end {
            let code = rows.event[r];
            if !self.codes.contains(&code) {
                continue;
            }
            let Some(Ok(props)) = rows.str_at(Col::Properties, r).map(serde_json::from_str::<Json>) else { continue };
            let bought = Some(code) == self.model.purchase_code;
            let id = |v: &Json| match v.get("product_id") {
                Some(Json::String(s)) if !s.is_empty() => Some(s.clone()),
                Some(Json::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            if bought {
                for item in props.get("products").and_then(Json::as_array).into_iter().flatten() {
                    if let Some(i) = id(item) {
                        touches.push((rows.ts[r], i, true));
                    }
                }
            }
            if let Some(i) = id(&props) {
                touches.push((rows.ts[r], i, bought));
            }
        }
        if !touches.is_empty() {
            p.push((span.customer, touches));
        }
    }

    fn merge(&self, mut a: Self::Partial, b: Self::Partial) -> Self::Partial {
        a.extend(b);
        a
    }

    fn finish(&self, p: Self::Partial) -> Self::Report {
        p
    }
}

/// A numbered product interaction: when, which item, whether bought.
type Numbered = (i64, usize, bool);

/// Every customer's product interactions, with the products numbered.
struct Interactions {
    items: Vec<String>,
    customers: Vec<(u32, Vec<Numbered>)>,
}

fn interactions(store: &Store, model: &Model) -> Result<Interactions, EngineError> {
    let mut codes: Vec<u32> = PRODUCT_EVENTS.iter().filter_map(|e| store.event_code(e)).collect();
    codes.extend(model.purchase_code);
    if codes.is_empty() {
        return Err(EngineError::InvalidQuery(format!(
            "recommendations read product_id of {} and of the purchase event's products; the data has none of these events",
            PRODUCT_EVENTS.join(", ")
        )));
    }
    let found = fold::report(&store.all_customers(), &ProductFold { model, codes })?;
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut items = Vec::new();
    let mut customers = Vec::with_capacity(found.len());
    for (c, touches) in found {
        let t = touches
            .into_iter()
            .map(|(ts, id, bought)| {
                let n = *index.entry(id.clone()).or_insert_with(|| {
                    items.push(id);
                    items.len() - 1
                });
                (ts, n, bought)
            })
            .collect();
        customers.push((c, t));
    }
    if items.is_empty() {
        return Err(EngineError::InvalidQuery(
            "no event in the data carries a product_id (Segment's e-commerce spec: Product Viewed, Product Added, \
             Order Completed products[])"
                .into(),
        ));
    }
    Ok(Interactions { items, customers })
}

fn history(touches: &[Numbered], before: i64) -> History {
    let mut h: Vec<usize> = touches.iter().filter(|t| t.0 < before).map(|t| t.1).collect();
    h.sort_unstable();
    h.dedup();
    h
}

/// One model's scores on the test purchases.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelScore {
    pub model: String,
    #[serde(flatten)]
    pub metrics: Metrics,
    pub seconds_to_train: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub split: String,
    pub items: usize,
    /// Customers with interactions before the split (the training data).
    pub train_customers: usize,
    pub n: usize,
    /// Popularity first (the baseline), then co-occurrence and EASE.
    pub models: Vec<ModelScore>,
    pub notes: Vec<String>,
}

/// Trains before `split` (µs; default: 80 % into the data's time span) and
/// scores every customer's purchases after it that they had not bought
/// before, at the top `n` of the full catalogue minus what they already had.
pub fn evaluate(store: &Store, model: &Model, split: Option<i64>, n: usize) -> Result<Evaluation, EngineError> {
    let data = interactions(store, model)?;
    let split = split.unwrap_or(model.data_start + (model.data_end - model.data_start) / 5 * 4);
    let items = data.items.len();
    let train: Vec<History> = data.customers.iter().map(|(_, t)| history(t, split)).filter(|h| !h.is_empty()).collect();
    let cases: Vec<(History, Vec<usize>)> = data
        .customers
        .iter()
        .filter_map(|(_, t)| {
            let before = history(t, split);
            let bought_before: Vec<usize> = t.iter().filter(|x| x.0 < split && x.2).map(|x| x.1).collect();
            let mut after: Vec<usize> =
                t.iter().filter(|x| x.0 >= split && x.2 && !bought_before.contains(&x.1)).map(|x| x.1).collect();
            after.sort_unstable();
            after.dedup();
            (!before.is_empty() && !after.is_empty()).then_some((before, after))
        })
        .collect();
    if cases.is_empty() {
        return Err(EngineError::InvalidQuery(format!(
            "no customer both interacted with products before {} and bought a new one after it; choose another --split",
            wayfarer_core::time::format_rfc3339(split)
        )));
    }
    let mut models = Vec::new();
    let mut notes = Vec::new();
    let mut score = |name: &str, m: &dyn Scorer, secs: f64| {
        models.push(ModelScore { model: name.into(), metrics: rec::evaluate(m, &cases, n), seconds_to_train: secs });
    };
    let timed = |f: &dyn Fn() -> Box<dyn Scorer>| {
        let t = std::time::Instant::now();
        let m = f();
        (m, t.elapsed().as_secs_f64())
    };
    let (pop, s) = timed(&|| Box::new(Popularity::fit(&train, items)));
    score("popularity", pop.as_ref(), s);
    let (co, s) = timed(&|| Box::new(CoOccurrence::fit(&train, items)));
    score("co-occurrence", co.as_ref(), s);
    if items <= EASE_MAX_ITEMS {
        let t = std::time::Instant::now();
        match Ease::fit(&train, items, EASE_LAMBDA) {
            Some(e) => score("ease", &e, t.elapsed().as_secs_f64()),
            None => notes.push("EASE: the item Gram matrix could not be inverted".into()),
        }
    } else {
        notes.push(format!("EASE is fitted up to {EASE_MAX_ITEMS} items; the catalogue has {items}"));
    }
    Ok(Evaluation {
        split: wayfarer_core::time::format_rfc3339(split),
        items,
        train_customers: train.len(),
        n,
        models,
        notes,
    })
}

/// One recommended product.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommended {
    pub product_id: String,
    pub score: f64,
}

/// A recommender trained on all the data: EASE (co-occurrence above
/// [`EASE_MAX_ITEMS`]) over every customer's products, and popularity for
/// customers without any.
pub struct Recommender {
    items: Vec<String>,
    histories: HashMap<u32, History>,
    scorer: Box<dyn Scorer + Send + Sync>,
    popular: Vec<f64>,
}

impl std::fmt::Debug for Recommender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recommender")
            .field("items", &self.items.len())
            .field("customers", &self.histories.len())
            .finish()
    }
}

impl Recommender {
    /// None when no event carries a product.
    pub fn train(store: &Store, model: &Model) -> Result<Option<Recommender>, EngineError> {
        match interactions(store, model) {
            Ok(d) => Ok(Some(Recommender::of(d))),
            Err(EngineError::InvalidQuery(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn of(data: Interactions) -> Recommender {
        let items = data.items.len();
        let histories: HashMap<u32, History> = data.customers.iter().map(|(c, t)| (*c, history(t, i64::MAX))).collect();
        let all: Vec<History> = histories.values().cloned().collect();
        let scorer: Box<dyn Scorer + Send + Sync> =
            match (items <= EASE_MAX_ITEMS).then(|| Ease::fit(&all, items, EASE_LAMBDA)).flatten() {
                Some(e) => Box::new(e),
                None => Box::new(CoOccurrence::fit(&all, items)),
            };
        let popular = Popularity::fit(&all, items).scores(&[]);
        Recommender { items: data.items, histories, scorer, popular }
    }

    /// The `n` best products for a customer, leaving out what they had.
    pub fn top(&self, customer: u32, n: usize) -> Vec<Recommended> {
        let mine = self.histories.get(&customer).map_or(&[][..], Vec::as_slice);
        let scores = if mine.is_empty() { self.popular.clone() } else { self.scorer.scores(mine) };
        rec::top_n(&scores, mine, n)
            .into_iter()
            .map(|i| Recommended { product_id: self.items[i].clone(), score: scores[i] })
            .collect()
    }
}

/// The `n` best products for one customer (see [`Recommender`]).
pub fn for_customer(store: &Store, model: &Model, customer: u32, n: usize) -> Result<Vec<Recommended>, EngineError> {
    // A store without products is an error saying what is missing.
    Ok(Recommender::of(interactions(store, model)?).top(customer, n))
}

/// A product's appeal in a group of customers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupItem {
    pub product_id: String,
    /// Customers of the group who viewed, added or bought it.
    pub customers: u64,
    /// Their share of the group.
    pub share: f64,
    /// That share over the share among all customers with products.
    pub lift: f64,
}

/// The products a group of customers turns to most (by how many of them
/// had each), with how much more than everyone: "top items for this
/// segment".
pub fn top_for_group(
    store: &Store,
    model: &Model,
    group: &wayfarer_store::CustomerSet,
    n: usize,
) -> Result<Vec<GroupItem>, EngineError> {
    let data = interactions(store, model)?;
    let items = data.items.len();
    let (mut all, mut mine) = (vec![0u64; items], vec![0u64; items]);
    let (mut everyone, mut members) = (0u64, 0u64);
    for (c, t) in &data.customers {
        let h = history(t, i64::MAX);
        let member = group.contains(*c);
        everyone += 1;
        members += u64::from(member);
        for i in h {
            all[i] += 1;
            if member {
                mine[i] += 1;
            }
        }
    }
    let mut out: Vec<GroupItem> = (0..items)
        .filter(|&i| mine[i] > 0)
        .map(|i| {
            let share = mine[i] as f64 / members.max(1) as f64;
            let base = all[i] as f64 / everyone.max(1) as f64;
            GroupItem {
                product_id: data.items[i].clone(),
                customers: mine[i],
                share,
                lift: if base > 0.0 { share / base } else { 0.0 },
            }
        })
        .collect();
    out.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.product_id.cmp(&b.product_id)));
    out.truncate(n);
    Ok(out)
}
