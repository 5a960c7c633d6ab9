//! Data-driven personas (DESIGN §4.9): behavioural features per customer
//! (recency, frequency, monetary value, the share of their events per
//! channel, stage reached, tenure, NPS), standardised; k-means with
//! k-means++ seeding and k chosen by silhouette (or given), deterministic for
//! a seed, fitted on a sample of at most 20,000 customers (those whose id
//! hashes lowest) with every customer joining its nearest centroid. The fit
//! ([`PersonaFit`]: scale, centroids, and each persona's name and
//! description, labelled by its most distinctive features when fitted) is
//! saved in the data directory (`cache/`) and reused while the question and
//! the population stay the same, so maps do not re-cluster per request,
//! assignments stay stable and a map places each customer as it folds the
//! timeline (no pass over the data beforehand). Making a fit reads only the
//! sample's timelines. The personas report describes each persona by its
//! size, favourite channel and channel mix, typical path, median value, NPS,
//! stage distribution and top pain point (from its own journey map).
//! Hand-written personas can be compared with the discovered ones
//! (cross-tabulation and adjusted Rand index).

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use wayfarer_core::cancel::Cancelled;
use wayfarer_core::time::MICROS_PER_DAY;
use wayfarer_models::cluster::{
    KMeans, adjusted_rand_index, kmeans_more, kmeans_until, nearest, silhouette_until, standardise,
};
use wayfarer_models::stats::{nps, quantile};
use wayfarer_store::{Col, NO_CHANNEL, Store};

use crate::fold::{self, Fold, Span};
use crate::journey::{MapInputs, Personas, journey_maps_with};
use crate::model::Model;
use crate::model::TpKey;
use crate::timeline::Timeline;
use crate::{EngineError, Scope};

/// Fixed features before the channel shares.
const FIXED: [&str; 9] =
    ["recency_days", "purchases", "revenue", "stage", "tenure_days", "nps", "events", "app_share", "order_value"];

/// One customer's features and facts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CustomerFeatures {
    pub customer: u32,
    pub features: Vec<f64>,
    pub path: Vec<TpKey>,
    pub nps: Option<f64>,
    pub revenue: f64,
    pub stage: Option<usize>,
    pub hand_written: Option<usize>,
}

/// The features of one timeline (its typical-path prefix left empty).
pub fn features(m: &Model, scope: &Scope, t: &Timeline<'_>) -> CustomerFeatures {
    let channels = m.channels.len();
    // Channel preference: the share of the customer's sessions that came
    // through each channel (a session counts once, whatever its length).
    let mut shares = vec![0.0; channels];
    let mut counted = 0.0;
    let mut last_nps = None;
    let (mut views, mut screens) = (0.0, 0.0);
    let mut last_session = u32::MAX;
    let surveys = t.rows.has_values(Col::Survey);
    for (j, &r) in t.idx.iter().enumerate() {
        let c = t.channel[j];
        if t.session[j] != last_session
            && c != NO_CHANNEL
            && !Model::flag(&m.is_passive, t.rows.event[r])
            && (c as usize) < channels
        {
            last_session = t.session[j];
            shares[c as usize] += 1.0;
            counted += 1.0;
        }
        match wayfarer_core::Kind::from_code(t.rows.kind[r]) {
            wayfarer_core::Kind::Page => views += 1.0,
            wayfarer_core::Kind::Screen => {
                views += 1.0;
                screens += 1.0;
            }
            _ => {}
        }
        if surveys
            && t.rows.str_at(Col::Survey, r) == Some("nps")
            && let Some(s) = t.rows.f64_at(Col::Score, r)
        {
            last_nps = Some(s);
        }
    }
    if counted > 0.0 {
        for s in &mut shares {
            *s /= counted;
        }
    }
    let app_share = if views > 0.0 { screens / views } else { 0.0 };
    let end = scope.to.unwrap_or(m.data_end + 1).min(m.data_end + 1);
    let day = MICROS_PER_DAY as f64;
    let revenue = t.revenue();
    let stage = t.current_stage();
    let aov = if t.purchases() > 0 { revenue / t.purchases() as f64 } else { f64::NAN };
    let mut features = vec![
        (end - t.last_ts()) as f64 / day,
        t.purchases() as f64,
        (1.0 + revenue.max(0.0)).ln(),
        stage.map_or(0.0, |s| s as f64 + 1.0),
        (t.last_ts() - t.first_ts()) as f64 / day,
        last_nps.unwrap_or(f64::NAN),
        (t.idx.len() as f64).ln(),
        app_share,
        aov.ln(),
    ];
    features.extend(shares);
    CustomerFeatures {
        customer: t.customer,
        features,
        path: Vec::new(),
        nps: last_nps,
        revenue,
        stage,
        hand_written: t.persona,
    }
}

/// The names of the features, in order.
fn feature_names(model: &Model) -> Vec<String> {
    let mut names: Vec<String> = FIXED.iter().map(|s| (*s).to_string()).collect();
    names.extend(model.channels.iter().map(|c| format!("share:{c}")));
    names
}

pub struct FeatureFold<'m> {
    model: &'m Model,
    scope: &'m Scope,
}

impl<'m> FeatureFold<'m> {
    /// One feature row per customer of the scope (its persona ignored).
    pub fn new(model: &'m Model, scope: &'m Scope) -> FeatureFold<'m> {
        FeatureFold { model, scope }
    }
}

impl Fold for FeatureFold<'_> {
    type Partial = Vec<CustomerFeatures>;
    type Scratch = ();
    type Report = Vec<CustomerFeatures>;

    fn wire(&self) -> Option<crate::fold::Wire<Self::Partial>> {
        Some(crate::fold::Wire::serde())
    }

    fn columns(&self) -> Vec<Col> {
        let mut c = self.model.timeline_columns();
        c.extend([Col::Revenue, Col::Score, Col::Survey]);
        c
    }

    fn init(&self) -> Vec<CustomerFeatures> {
        Vec::new()
    }

    fn fold(&self, p: &mut Vec<CustomerFeatures>, _: &mut (), span: Span<'_>) {
        let Some(t) = Timeline::build(self.model, self.scope, span) else { return };
        let mut f = features(self.model, self.scope, &t);
        // The first four touchpoints, repeats collapsed.
        let m = self.model;
        for (j, &r) in t.idx.iter().enumerate() {
            if Model::flag(&m.is_passive, t.rows.event[r]) {
                continue;
            }
            let tp = t.touchpoint(m, j);
            if tp != TpKey::None && f.path.last() != Some(&tp) {
                f.path.push(tp);
                if f.path.len() == 4 {
                    break;
                }
            }
        }
        p.push(f);
    }

    fn merge(&self, mut a: Vec<CustomerFeatures>, b: Vec<CustomerFeatures>) -> Vec<CustomerFeatures> {
        a.extend(b);
        a
    }

    /// One feature row per customer, by customer.
    fn finish(&self, mut rows: Vec<CustomerFeatures>) -> Vec<CustomerFeatures> {
        rows.sort_by_key(|r| r.customer);
        rows
    }
}

#[derive(Debug, Clone)]
pub struct PersonaSpec {
    /// A fixed number of personas; else chosen by silhouette in 2..=max_k.
    pub k: Option<usize>,
    pub max_k: usize,
    pub seed: u64,
    /// Also build each persona's journey map (for its top pain point).
    pub with_maps: bool,
    /// k-means is fitted on at most this many customers (chosen by a hash
    /// of their id); the others join the nearest persona.
    pub fit_sample: usize,
}

impl Default for PersonaSpec {
    fn default() -> Self {
        PersonaSpec { k: None, max_k: 8, seed: 17, with_maps: true, fit_sample: FIT_SAMPLE }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscoveredPersona {
    pub name: String,
    pub description: String,
    pub customers: u64,
    pub share: f64,
    pub favourite_channel: Option<String>,
    pub channel_mix: Vec<(String, f64)>,
    pub typical_path: Vec<String>,
    /// Median historic value of the persona's buyers.
    pub median_revenue: Option<f64>,
    /// Share of the persona's customers who bought.
    pub buyers: f64,
    /// Mean predicted CLV of its purchasers (BG/NBD and Gamma-Gamma, a year).
    pub mean_predicted_clv: Option<f64>,
    pub mean_revenue: f64,
    pub nps: Option<f64>,
    pub nps_responses: u64,
    /// Share of the persona's customers who reached each stage.
    pub stages: Vec<(String, f64)>,
    pub top_pain_point: Option<String>,
    /// Mean standardised value of each feature (what sets it apart).
    pub profile: Vec<(String, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// hand-written persona → discovered persona → customers
    pub table: Vec<(String, Vec<(String, u64)>)>,
    pub adjusted_rand_index: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiscoveredReport {
    pub k: usize,
    pub chosen_by: String,
    pub silhouettes: Vec<(usize, f64)>,
    pub features: Vec<String>,
    pub customers: u64,
    pub personas: Vec<DiscoveredPersona>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared_with_hand_written: Option<Comparison>,
    /// Customer → persona (not serialised; for maps and tests).
    #[serde(skip)]
    pub assignment: Arc<HashMap<u32, usize>>,
}

impl DiscoveredReport {
    /// The discovered personas as map groups.
    pub fn as_personas(&self) -> Personas {
        Personas {
            names: self.personas.iter().map(|p| (p.name.clone(), p.description.clone())).collect(),
            assignment: crate::journey::Assignment::Table(Arc::clone(&self.assignment)),
            noun: "personas",
        }
    }
}

/// Discovers personas: the fit (saved, or made and saved) and every
/// customer of the scope placed with the nearest persona and described.
pub fn discover(
    store: &Store,
    model: &Model,
    scope: &Scope,
    spec: &PersonaSpec,
) -> Result<DiscoveredReport, EngineError> {
    let scope = scope.without_persona();
    let rows = fold::report(store, &FeatureFold { model, scope: &scope })?;
    let names = feature_names(model);
    if rows.len() < 4 {
        return Err(too_few(rows.len()));
    }
    let key = fit_key(model, &scope, spec);
    let fit = match PersonaFit::load(store, &key).filter(|f| f.fits(&names, rows.len())) {
        Some(f) => f,
        None => {
            let sample = lowest_hashes(rows.iter().collect(), spec);
            PersonaFit::from_sample(store, model, spec, key, names.clone(), rows.len(), &sample)?
        }
    };
    let k = fit.k;
    // Every customer joins the nearest persona.
    let labels: Vec<usize> = rows.par_iter().map(|r| fit.assign(&r.features)).collect();
    let assignment: HashMap<u32, usize> = rows.iter().zip(&labels).map(|(r, &l)| (r.customer, l)).collect();
    // Profiles are told in plain standard scores (missing values take the
    // column's mean).
    let raw: Vec<&[f64]> = rows.iter().map(|r| r.features.as_slice()).collect();
    let mut z = FeatureScale::fill(&raw, &FeatureScale::means(&raw, names.len()));
    standardise(&mut z);

    let total = rows.len() as f64;
    let mut personas = Vec::new();
    for p in 0..k {
        let members: Vec<usize> = (0..rows.len()).filter(|&i| labels[i] == p).collect();
        let n = members.len().max(1) as f64;
        let profile: Vec<(String, f64)> =
            (0..names.len()).map(|j| (names[j].clone(), members.iter().map(|&i| z[i][j]).sum::<f64>() / n)).collect();
        let mix = channel_mix(model, &members.iter().map(|&i| &rows[i]).collect::<Vec<_>>(), n);
        // The typical path is the most common one among the customers who
        // went beyond a single touchpoint (a bounce says little about a
        // persona), else the most common one.
        let mut paths: HashMap<&[TpKey], usize> = HashMap::new();
        for &i in &members {
            *paths.entry(&rows[i].path).or_insert(0) += 1;
        }
        let typical = paths
            .iter()
            .max_by(|a, b| (a.0.len() > 1, a.1).cmp(&(b.0.len() > 1, b.1)).then_with(|| b.0.cmp(a.0)))
            .map(|(p, _)| p.iter().map(|&k| model.touchpoint_name(k)).collect())
            .unwrap_or_default();
        let revenue: Vec<f64> = members.iter().map(|&i| rows[i].revenue).collect();
        let mean_revenue = revenue.iter().sum::<f64>() / n;
        let mut bought: Vec<f64> = revenue.iter().copied().filter(|v| *v > 0.0).collect();
        // Buyers are customers with a purchase, whether or not it carried
        // revenue (data without revenue still has buyers).
        let purchases = FIXED.iter().position(|f| *f == "purchases").unwrap_or(1);
        let buyers = members.iter().filter(|&&i| rows[i].features[purchases] > 0.0).count() as f64 / n;
        let scores: Vec<f64> = members.iter().filter_map(|&i| rows[i].nps).collect();
        let prom = scores.iter().filter(|s| **s >= 9.0).count() as u64;
        let det = scores.iter().filter(|s| **s <= 6.0).count() as u64;
        let stages = (0..model.stages())
            .map(|s| {
                let reached = members.iter().filter(|&&i| rows[i].stage.is_some_and(|c| c >= s)).count();
                (model.stage_names[s].clone(), reached as f64 / n)
            })
            .collect();
        let (name, description) = fit.personas[p].clone();
        personas.push(DiscoveredPersona {
            description,
            name,
            customers: members.len() as u64,
            share: members.len() as f64 / total,
            favourite_channel: mix.first().map(|m| m.0.clone()),
            channel_mix: mix,
            typical_path: typical,
            median_revenue: quantile(&mut bought, 0.5),
            buyers,
            mean_predicted_clv: None,
            mean_revenue,
            nps: nps(prom, scores.len() as u64 - prom - det, det).map(|(s, _)| s),
            nps_responses: scores.len() as u64,
            stages,
            top_pain_point: None,
            profile,
        });
    }
    let compared = (!model.personas.is_empty()).then(|| {
        let hand: Vec<usize> = rows.iter().map(|r| r.hand_written.unwrap_or(model.personas.len())).collect();
        let mut table = Vec::new();
        for h in 0..=model.personas.len() {
            let name = model.personas.get(h).map_or("Unassigned".to_string(), |p| p.0.clone());
            let cells = (0..k)
                .map(|d| {
                    (
                        personas[d].name.clone(),
                        (0..rows.len()).filter(|&i| hand[i] == h && labels[i] == d).count() as u64,
                    )
                })
                .collect();
            table.push((name, cells));
        }
        Comparison { table, adjusted_rand_index: adjusted_rand_index(&hand, &labels) }
    });
    let mut report = DiscoveredReport {
        k,
        chosen_by: fit.chosen_by.clone(),
        silhouettes: fit.silhouettes,
        features: names,
        customers: rows.len() as u64,
        personas,
        compared_with_hand_written: compared,
        assignment: Arc::new(assignment),
    };
    if spec.with_maps {
        let inputs = MapInputs::with_predicted_clv(store, model, &scope, report.as_personas())?;
        let maps = journey_maps_with(store, model, &scope.without_persona(), &inputs)?;
        for (p, map) in report.personas.iter_mut().zip(maps.iter().skip(1)) {
            p.top_pain_point = map.pain_points.first().map(|x| x.title.clone());
            p.mean_predicted_clv = map.personas.iter().find(|s| s.name == p.name).and_then(|s| s.mean_predicted_clv);
        }
    }
    Ok(report)
}

/// The fit of discovered personas for maps: the saved one while it fits the
/// scope's population, else a new one (fitted on a sample, then saved).
/// Customers are placed by [`PersonaFit::assign`] as the map folds them.
pub fn persona_fit(store: &Store, model: &Model, scope: &Scope, spec: &PersonaSpec) -> Result<PersonaFit, EngineError> {
    // Personas describe the whole population, also when a segment scopes the map.
    let store = &store.all_customers();
    let scope = scope.without_persona();
    let names = feature_names(model);
    let key = fit_key(model, &scope, spec);
    if let Some(f) = PersonaFit::load(store, &key).filter(|f| f.features == names) {
        let population = fold::run(store, &Population { scope: &scope })?;
        if f.fits(&names, population as usize) {
            return Ok(f);
        }
    }
    let (population, sample) = sampled_features(store, model, &scope, spec)?;
    if population < 4 {
        return Err(too_few(population as usize));
    }
    let sample: Vec<&CustomerFeatures> = sample.iter().collect();
    PersonaFit::from_sample(store, model, spec, key, names, population as usize, &sample)
}

fn too_few(n: usize) -> EngineError {
    EngineError::InvalidQuery(format!("{n} customers are too few to discover personas"))
}

/// Counts the customers with an interaction in scope (those a timeline is
/// built for), from the core columns alone.
struct Population<'s> {
    scope: &'s Scope,
}

impl Fold for Population<'_> {
    type Partial = u64;
    type Scratch = ();
    type Report = u64;

    fn wire(&self) -> Option<crate::fold::Wire<Self::Partial>> {
        Some(crate::fold::Wire::serde())
    }
    fn columns(&self) -> Vec<Col> {
        vec![Col::Timestamp, Col::KindCode]
    }
    fn init(&self) -> u64 {
        0
    }
    fn fold(&self, n: &mut u64, _: &mut (), span: Span<'_>) {
        *n += u64::from(Timeline::in_scope(self.scope, span));
    }
    fn merge(&self, a: u64, b: u64) -> u64 {
        a + b
    }
    fn finish(&self, n: u64) -> u64 {
        n
    }
}

/// The features of the customers whose id hashes below a bound, and the
/// number of customers in scope.
struct SampleFold<'m> {
    model: &'m Model,
    scope: &'m Scope,
    seed: u64,
    below: u64,
}

impl Fold for SampleFold<'_> {
    type Partial = (u64, Vec<CustomerFeatures>);
    type Scratch = ();
    type Report = (u64, Vec<CustomerFeatures>);

    fn wire(&self) -> Option<crate::fold::Wire<Self::Partial>> {
        Some(crate::fold::Wire::serde())
    }
    fn columns(&self) -> Vec<Col> {
        let mut c = self.model.timeline_columns();
        c.extend([Col::Revenue, Col::Score, Col::Survey]);
        c
    }
    fn init(&self) -> Self::Partial {
        (0, Vec::new())
    }
    fn fold(&self, p: &mut Self::Partial, _: &mut (), span: Span<'_>) {
        if sample_hash(span.customer, self.seed) < self.below {
            if let Some(t) = Timeline::build(self.model, self.scope, span) {
                p.0 += 1;
                p.1.push(features(self.model, self.scope, &t));
            }
        } else {
            p.0 += u64::from(Timeline::in_scope(self.scope, span));
        }
    }
    fn merge(&self, mut a: Self::Partial, b: Self::Partial) -> Self::Partial {
        a.0 += b.0;
        a.1.extend(b.1);
        a
    }
    fn finish(&self, p: Self::Partial) -> Self::Partial {
        p
    }
}

/// The customers k-means is fitted on, read without building every
/// timeline: the customers whose id hashes lowest (the same
/// [`lowest_hashes`] picks from all of them), found among those hashing
/// below a bound about twice the sample's share of the identities.
fn sampled_features(
    store: &Store,
    model: &Model,
    scope: &Scope,
    spec: &PersonaSpec,
) -> Result<(u64, Vec<CustomerFeatures>), EngineError> {
    let size = spec.fit_sample.max(100);
    let identities = store.identity_shared()?.len().max(1) as f64;
    let share = 2.0 * size as f64 / identities;
    let mut below = if share >= 1.0 { u64::MAX } else { (share * u64::MAX as f64) as u64 };
    loop {
        let (population, found) = fold::run(store, &SampleFold { model, scope, seed: spec.seed, below })?;
        // Enough below the bound, or everyone: the lowest hashes are among them.
        if found.len() >= size || found.len() as u64 == population || below == u64::MAX {
            let mut sample: Vec<CustomerFeatures> =
                lowest_hashes(found.iter().collect(), spec).into_iter().cloned().collect();
            sample.sort_by_key(|r| r.customer);
            return Ok((population, sample));
        }
        below = u64::MAX;
    }
}

/// A customer's place in the order samples are drawn in.
fn sample_hash(customer: u32, seed: u64) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(&customer.to_le_bytes(), seed)
}

/// The rows k-means is fitted on: every row up to the sample size, else the
/// rows whose customers hash lowest (stable as the data grows), by customer.
fn lowest_hashes<'r>(mut rows: Vec<&'r CustomerFeatures>, spec: &PersonaSpec) -> Vec<&'r CustomerFeatures> {
    let size = spec.fit_sample.max(100);
    if rows.len() > size {
        rows.select_nth_unstable_by_key(size - 1, |r| sample_hash(r.customer, spec.seed));
        rows.truncate(size);
    }
    rows.sort_by_key(|r| r.customer);
    rows
}

/// Chooses k (by silhouette, unless given) and fits k-means on the sample.
fn cluster(store: &Store, xs: &[Vec<f64>], spec: &PersonaSpec) -> Result<Clustering, EngineError> {
    // The clustering stops when the query is cancelled.
    let stop = &|| store.cancel().is_cancelled();
    // The final fit takes the best of 6 seeded runs; a k chosen by
    // silhouette already has the best of the first 3.
    const RUNS: usize = 6;
    const SEARCH_RUNS: usize = 3;
    let (k, chosen_by, silhouettes, searched) = match spec.k {
        Some(k) => (k.clamp(1, xs.len()), "given".to_string(), Vec::new(), None),
        None => {
            // Each k is fitted and scored on its own (seeded): in parallel.
            let mut fits: Vec<(usize, f64, KMeans)> = (2..=spec.max_k.max(2).min(xs.len() - 1))
                .into_par_iter()
                .map(|k| -> Result<(usize, f64, KMeans), Cancelled> {
                    let m = kmeans_until(xs, k, spec.seed, SEARCH_RUNS, stop).ok_or(Cancelled)?;
                    let score = silhouette_until(xs, &m.labels, k, 2000, stop).ok_or(Cancelled)?;
                    Ok((k, score, m))
                })
                .collect::<Result<_, _>>()?;
            let scores: Vec<(usize, f64)> = fits.iter().map(|(k, s, _)| (*k, *s)).collect();
            let best = scores.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(&a.0)));
            let k = best.map_or(2, |b| b.0);
            let searched = fits.iter().position(|f| f.0 == k).map(|i| fits.swap_remove(i).2);
            (k, "silhouette".to_string(), scores, searched)
        }
    };
    let first = if searched.is_some() { SEARCH_RUNS } else { 0 };
    let fit = kmeans_more(xs, k, spec.seed, searched, first..RUNS, stop).ok_or(Cancelled)?;
    Ok(Clustering { k, chosen_by, silhouettes, fit })
}

/// The number of personas, how it was chosen, and the fit.
struct Clustering {
    k: usize,
    chosen_by: String,
    silhouettes: Vec<(usize, f64)>,
    fit: KMeans,
}

/// How raw features become the clustering's: missing values take the
/// column's mean (`fill`), then each column is `(v' − offset) × factor`,
/// where v' is v for the fixed features and √v for the channel shares.
/// Fitted once and saved with the centroids, so later customers are
/// placed on the same scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureScale {
    fill: Vec<f64>,
    offset: Vec<f64>,
    factor: Vec<f64>,
    fixed: usize,
}

impl FeatureScale {
    fn means<R: AsRef<[f64]>>(raw: &[R], d: usize) -> Vec<f64> {
        (0..d)
            .map(|j| {
                let (sum, n) = raw
                    .iter()
                    .map(|r| r.as_ref()[j])
                    .filter(|v| v.is_finite())
                    .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
                if n == 0 { 0.0 } else { sum / n as f64 }
            })
            .collect()
    }

    fn fill<R: AsRef<[f64]> + Sync>(raw: &[R], means: &[f64]) -> Vec<Vec<f64>> {
        raw.par_iter()
            .map(|r| r.as_ref().iter().zip(means).map(|(v, m)| if v.is_finite() { *v } else { *m }).collect())
            .collect()
    }

    /// Puts the features on comparable scales: the fixed features are
    /// standardised (lifecycle ones down-weighted, app share and order
    /// value at full weight); the channel shares are a composition, so they
    /// take the Hellinger transform (square roots) and one common scale —
    /// standardising each channel on its own would let a channel that five
    /// customers used weigh as much as the favourite channel of thousands.
    fn fit<R: AsRef<[f64]>>(raw: &[R], fixed: usize) -> FeatureScale {
        let d = raw.first().map_or(0, |r| r.as_ref().len());
        let fill = FeatureScale::means(raw, d);
        let n = raw.len().max(1) as f64;
        let value = |r: &R, j: usize| {
            let r = r.as_ref();
            let v = if r[j].is_finite() { r[j] } else { fill[j] };
            if j >= fixed { v.max(0.0).sqrt() } else { v }
        };
        let mut offset = vec![0.0; d];
        for r in raw {
            for (j, o) in offset.iter_mut().enumerate() {
                *o += value(r, j) / n;
            }
        }
        let mut var = vec![0.0; d];
        for r in raw {
            for (j, s) in var.iter_mut().enumerate() {
                *s += (value(r, j) - offset[j]).powi(2) / n;
            }
        }
        let channels = d.saturating_sub(fixed).max(1) as f64;
        let pooled: f64 = var[fixed.min(d)..].iter().sum::<f64>() / channels;
        let share_scale = if pooled > 1e-12 { CHANNEL_WEIGHT / pooled.sqrt() } else { 0.0 };
        let factor = (0..d)
            .map(|j| {
                if j >= fixed {
                    share_scale
                } else if var[j].sqrt() <= 1e-12 {
                    0.0
                } else {
                    let weight = if matches!(FIXED[j], "app_share" | "order_value") { 1.0 } else { LIFECYCLE_WEIGHT };
                    weight / var[j].sqrt()
                }
            })
            .collect();
        FeatureScale { fill, offset, factor, fixed }
    }

    fn apply(&self, raw: &[f64]) -> Vec<f64> {
        raw.iter()
            .enumerate()
            .map(|(j, v)| {
                let v = if v.is_finite() { *v } else { self.fill[j] };
                let v = if j >= self.fixed { v.max(0.0).sqrt() } else { v };
                (v - self.offset[j]) * self.factor[j]
            })
            .collect()
    }
}

/// A fit of discovered personas, saved in the data directory
/// (`cache/personas-KEY.json`) and reused while the question and the
/// population stay the same: how features are scaled, the centroids in
/// persona order (largest first when fitted) and each persona's name and
/// description (from the customers it was fitted on, so names stay put as
/// the data grows).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PersonaFit {
    version: u32,
    key: String,
    features: Vec<String>,
    customers: u64,
    scale: FeatureScale,
    pub k: usize,
    pub chosen_by: String,
    pub silhouettes: Vec<(usize, f64)>,
    centroids: Vec<Vec<f64>>,
    /// (name, description) of each persona, in centroid order.
    pub personas: Vec<(String, String)>,
}

/// A saved fit is used while the population is within this factor of the
/// one it was fitted on.
const REFIT_GROWTH: f64 = 1.2;

impl PersonaFit {
    const VERSION: u32 = 2;

    /// The persona a customer with these (raw) features joins: the nearest.
    pub fn assign(&self, raw: &[f64]) -> usize {
        nearest(&self.scale.apply(raw), &self.centroids)
    }

    /// Fits k-means on the sample, names the personas by what sets their
    /// members apart, and saves the fit.
    fn from_sample(
        store: &Store,
        model: &Model,
        spec: &PersonaSpec,
        key: String,
        features: Vec<String>,
        population: usize,
        sample: &[&CustomerFeatures],
    ) -> Result<PersonaFit, EngineError> {
        let raw: Vec<&[f64]> = sample.iter().map(|r| r.features.as_slice()).collect();
        let scale = FeatureScale::fit(&raw, FIXED.len());
        let x: Vec<Vec<f64>> = raw.par_iter().map(|r| scale.apply(r)).collect();
        let Clustering { k, chosen_by, silhouettes, fit } = cluster(store, &x, spec)?;
        // Personas by size, largest first, so names and indexes are stable.
        let mut sizes: Vec<(usize, usize)> =
            (0..k).map(|c| (c, fit.labels.iter().filter(|&&l| l == c).count())).collect();
        sizes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        // Names from plain standard scores (missing values take the mean)
        // and the channel mix of each persona's members.
        let mut z = FeatureScale::fill(&raw, &FeatureScale::means(&raw, features.len()));
        standardise(&mut z);
        let mut used: HashMap<String, usize> = HashMap::new();
        let mut personas = Vec::with_capacity(k);
        for &(c, size) in &sizes {
            let members: Vec<usize> = (0..sample.len()).filter(|&i| fit.labels[i] == c).collect();
            let n = size.max(1) as f64;
            let profile: Vec<(String, f64)> = (0..features.len())
                .map(|j| (features[j].clone(), members.iter().map(|&i| z[i][j]).sum::<f64>() / n))
                .collect();
            let rows: Vec<&CustomerFeatures> = members.iter().map(|&i| sample[i]).collect();
            let mix = channel_mix(model, &rows, n);
            let base = label(&profile, &mix);
            let count = used.entry(base.clone()).or_insert(0);
            *count += 1;
            let name = if *count > 1 { format!("{base} ({count})") } else { base };
            personas.push((name, describe(&profile)));
        }
        let f = PersonaFit {
            version: PersonaFit::VERSION,
            key,
            features,
            customers: population as u64,
            scale,
            k,
            chosen_by,
            silhouettes,
            centroids: sizes.iter().map(|&(c, _)| fit.centroids[c].clone()).collect(),
            personas,
        };
        f.save(store);
        Ok(f)
    }

    fn path(store: &Store, key: &str) -> std::path::PathBuf {
        store.dir().join("cache").join(format!("personas-{key}.json"))
    }

    /// The saved fit, if it is whole: a file that does not parse or whose
    /// parts disagree in size (damaged, edited) is not used; the next
    /// request fits again.
    fn load(store: &Store, key: &str) -> Option<PersonaFit> {
        let text = std::fs::read_to_string(PersonaFit::path(store, key)).ok()?;
        serde_json::from_str::<PersonaFit>(&text).ok().filter(|f| {
            let d = f.features.len();
            let s = &f.scale;
            f.version == PersonaFit::VERSION
                && f.key == key
                && f.personas.len() == f.centroids.len()
                && f.k == f.centroids.len()
                && [s.fill.len(), s.offset.len(), s.factor.len()].iter().all(|&n| n == d)
                && f.centroids.iter().all(|c| c.len() == d)
        })
    }

    /// Whether the fit applies to these features and this many customers.
    fn fits(&self, features: &[String], customers: usize) -> bool {
        let (n, at) = (customers as f64, self.customers.max(1) as f64);
        self.features == features && n <= at * REFIT_GROWTH && n * REFIT_GROWTH >= at && !self.centroids.is_empty()
    }

    /// Saves the fit, atomically; a directory that cannot be written (read
    /// only) just means the next request fits again.
    fn save(&self, store: &Store) {
        let dir = store.dir().join("cache");
        let Ok(bytes) = serde_json::to_vec(self) else { return };
        if std::fs::create_dir_all(&dir).is_ok() {
            let _ = wayfarer_store::manifest::write_atomic(&dir, &format!("personas-{}.json", self.key), &bytes);
        }
    }
}

/// The mean share of each channel among some customers (the five largest,
/// zeros left out), largest first.
fn channel_mix(model: &Model, members: &[&CustomerFeatures], n: f64) -> Vec<(String, f64)> {
    let mut mix: Vec<(String, f64)> = (0..model.channels.len())
        .map(|c| (model.channels[c].clone(), members.iter().map(|r| r.features[FIXED.len() + c]).sum::<f64>() / n))
        .filter(|(_, s)| *s > 0.0)
        .collect();
    mix.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    mix.truncate(5);
    mix
}

/// What a fit answers: the configuration, the spec and the time window.
fn fit_key(model: &Model, scope: &Scope, spec: &PersonaSpec) -> String {
    let what = format!(
        "{}|{:?}|{}|{}|{}|{:?}|{:?}",
        model.config.to_toml(),
        spec.k,
        spec.max_k,
        spec.seed,
        spec.fit_sample,
        scope.from,
        scope.to
    );
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(what.as_bytes()))
}

/// By default, k-means is fitted on at most this many customers.
pub const FIT_SAMPLE: usize = 20_000;

/// Weight of the lifecycle features (recency, purchases, revenue, stage,
/// tenure, NPS, events): where a customer is in the journey, which the map's
/// stages already show, matters less to who they are than their preferences.
const LIFECYCLE_WEIGHT: f64 = 0.4;
/// Weight of the channel-preference block, in units of one standardised
/// feature per channel.
const CHANNEL_WEIGHT: f64 = 3.0;

/// A short name from the most distinctive features.
fn label(profile: &[(String, f64)], mix: &[(String, f64)]) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some((c, s)) = mix.first()
        && *s >= 0.25
    {
        parts.push(format!("{c}-led"));
    }
    let get = |k: &str| profile.iter().find(|p| p.0 == k).map_or(0.0, |p| p.1);
    let traits = [
        (get("revenue"), "high spenders", "non-buyers"),
        (get("purchases"), "frequent buyers", "one-time visitors"),
        (get("recency_days"), "lapsed", "recently active"),
        (get("stage"), "far along the journey", "early in the journey"),
        (get("nps"), "promoters", "detractors"),
        (get("tenure_days"), "long-standing", "new"),
    ];
    let mut ranked: Vec<(f64, &str)> =
        traits.iter().map(|(z, hi, lo)| if *z >= 0.0 { (*z, *hi) } else { (-*z, *lo) }).collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (z, word) in ranked {
        if parts.len() >= 2 || z < 0.4 {
            break;
        }
        parts.push(word.to_string());
    }
    if parts.is_empty() {
        "Average customers".to_string()
    } else {
        let mut s = parts.join(", ");
        if let Some(f) = s.get_mut(0..1) {
            f.make_ascii_uppercase();
        }
        s
    }
}

/// A sentence listing the features that set the persona apart.
fn describe(profile: &[(String, f64)]) -> String {
    let mut v: Vec<&(String, f64)> = profile.iter().filter(|p| p.1.abs() >= 0.5).collect();
    v.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    if v.is_empty() {
        return "Close to the average customer on every feature.".to_string();
    }
    let parts: Vec<String> = v
        .iter()
        .take(4)
        .map(|(name, z)| {
            format!(
                "{} {} ({:+.1} sd)",
                if *z > 0.0 { "high" } else { "low" },
                name.replace('_', " ").replace("share:", "share of "),
                z
            )
        })
        .collect();
    format!("{}.", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ev, model, store, with};

    /// Two obvious groups: search shoppers on the web who buy big, and social
    /// browsers in the app who do not buy.
    fn two_groups() -> Vec<wayfarer_core::Event> {
        let mut events = Vec::new();
        for i in 0..30 {
            let u = format!("search{i}");
            let t = f64::from(i) * 600.0;
            for k in 0..3 {
                events.push(with(ev(&u, t + f64::from(k) * 2000.0, "Page Viewed"), |e| {
                    e.channel = Some("Paid Search".into());
                }));
            }
            events.push(with(ev(&u, t + 4500.0, "Order Completed"), |e| {
                e.revenue = Some(200.0 + f64::from(i));
                e.channel = Some("Paid Search".into());
            }));
        }
        for i in 0..30 {
            let u = format!("social{i}");
            let t = f64::from(i) * 600.0;
            for k in 0..2 {
                events.push(with(ev(&u, t + f64::from(k) * 3000.0, "Screen Viewed"), |e| {
                    e.channel = Some("Paid Social".into());
                }));
            }
        }
        events
    }

    #[test]
    fn finds_the_two_groups_and_names_them_by_their_channel() {
        let (_d, s) = store(two_groups());
        let m = model(&s);
        let spec = PersonaSpec { with_maps: false, ..PersonaSpec::default() };
        let r = discover(&s, &m, &Scope::default(), &spec).unwrap();
        assert_eq!(r.k, 2, "silhouettes {:?}", r.silhouettes);
        assert_eq!(r.customers, 60);
        let names: Vec<&str> = r.personas.iter().map(|p| p.favourite_channel.as_deref().unwrap()).collect();
        assert!(names.contains(&"Paid Search") && names.contains(&"Paid Social"), "{names:?}");
        let search = r.personas.iter().find(|p| p.favourite_channel.as_deref() == Some("Paid Search")).unwrap();
        assert_eq!(search.customers, 30);
        assert!((search.buyers - 1.0).abs() < 1e-12);
        assert_eq!(search.median_revenue, Some(214.5));
        assert!(search.name.starts_with("Paid Search-led"), "{}", search.name);
        let social = r.personas.iter().find(|p| p.favourite_channel.as_deref() == Some("Paid Social")).unwrap();
        assert_eq!(social.buyers, 0.0);
        assert_eq!(social.median_revenue, None);
        // Every customer is assigned, and the two groups are separated exactly.
        let ids = s.identity().unwrap();
        for (c, p) in r.assignment.iter() {
            let group = if ids.external_id(*c).starts_with("search") { "Paid Search" } else { "Paid Social" };
            assert_eq!(r.personas[*p].favourite_channel.as_deref(), Some(group));
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_personas() {
        let (_d, s) = store(two_groups());
        let m = model(&s);
        let spec = PersonaSpec { with_maps: false, k: Some(3), ..PersonaSpec::default() };
        let a = discover(&s, &m, &Scope::default(), &spec).unwrap();
        let b = discover(&s, &m, &Scope::default(), &spec).unwrap();
        assert_eq!(a.personas, b.personas);
        assert_eq!(a.assignment, b.assignment);
    }

    /// `n` customers in three kinds (search buyers, social browsers, email
    /// readers), one a minute.
    fn three_kinds(n: usize) -> Vec<wayfarer_core::Event> {
        let mut events = Vec::new();
        for i in 0..n {
            let u = format!("c{i}");
            let t = i as f64;
            let (channel, buys) = match i % 3 {
                0 => ("Paid Search", true),
                1 => ("Paid Social", false),
                _ => ("Email", i % 2 == 0),
            };
            for k in 0..(1 + i % 4) {
                events.push(with(ev(&u, t + k as f64 * 45.0, "Page Viewed"), |e| e.channel = Some(channel.into())));
            }
            if buys {
                events.push(with(ev(&u, t + 200.0, "Order Completed"), |e| e.revenue = Some(50.0 + (i % 7) as f64)));
            }
        }
        events
    }

    #[test]
    fn the_sample_read_without_every_timeline_is_the_lowest_hashes_of_all() {
        let (_d, s) = store(three_kinds(600));
        let m = model(&s);
        let spec = PersonaSpec { fit_sample: 100, ..PersonaSpec::default() };
        // The whole window, and one that leaves out three in four customers (the
        // bound drawn from all identities then finds too few: read again).
        for scope in
            [Scope::default(), Scope { from: Some(crate::testutil::T0 + 450 * 60_000_000), ..Scope::default() }]
        {
            let all = fold::report(&s, &FeatureFold::new(&m, &scope)).unwrap();
            let want: Vec<u32> = lowest_hashes(all.iter().collect(), &spec).iter().map(|r| r.customer).collect();
            let (population, sample) = sampled_features(&s, &m, &scope, &spec).unwrap();
            assert_eq!(population, all.len() as u64);
            assert_eq!(sample.iter().map(|r| r.customer).collect::<Vec<_>>(), want);
            assert_eq!(want.len(), 100);
            // The features are those of the full pass (the path aside).
            for r in &sample {
                let full = all.iter().find(|a| a.customer == r.customer).unwrap();
                assert_eq!(format!("{:?}", r.features), format!("{:?}", full.features));
            }
        }
    }

    #[test]
    fn a_map_places_customers_as_the_personas_report_does() {
        let (_d, s) = store(three_kinds(600));
        let m = model(&s);
        let spec = PersonaSpec { fit_sample: 150, with_maps: false, ..PersonaSpec::default() };
        // The map's fit first (from its sample), then the report reuses it.
        let fit = persona_fit(&s, &m, &Scope::default(), &spec).unwrap();
        let report = discover(&s, &m, &Scope::default(), &spec).unwrap();
        assert_eq!(report.k, fit.k);
        let names: Vec<&str> = report.personas.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, fit.personas.iter().map(|p| p.0.as_str()).collect::<Vec<_>>());
        // Each persona's map holds the customers the report gives it.
        let inputs = MapInputs { personas: Personas::discovered(fit), predicted_clv: None };
        let maps = journey_maps_with(&s, &m, &Scope::default(), &inputs).unwrap();
        for (p, map) in report.personas.iter().zip(maps.iter().skip(1)) {
            assert_eq!(map.scope.persona.as_deref(), Some(p.name.as_str()));
            assert_eq!(map.stages[0].customers, p.customers, "{}", p.name);
        }
        assert_eq!(report.personas.iter().map(|p| p.customers).sum::<u64>(), 600);
    }

    #[test]
    fn a_saved_fit_is_reused_and_places_customers_alike() {
        let (dir, s) = store(two_groups());
        let m = model(&s);
        let spec = PersonaSpec { with_maps: false, ..PersonaSpec::default() };
        let fresh = discover(&s, &m, &Scope::default(), &spec).unwrap();
        let saved: Vec<_> = std::fs::read_dir(dir.path().join("cache")).unwrap().collect();
        assert_eq!(saved.len(), 1, "one fit saved");
        let again = discover(&s, &m, &Scope::default(), &spec).unwrap();
        assert_eq!((fresh.k, &fresh.assignment, &fresh.silhouettes), (again.k, &again.assignment, &again.silhouettes));
        assert_eq!(fresh.personas, again.personas);
        // A saved fit with other centroids is what the next call uses: proof
        // that it is read, not recomputed.
        let path = saved[0].as_ref().unwrap().path();
        let mut fit: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let first = fit["centroids"][0].clone();
        for c in fit["centroids"].as_array_mut().unwrap() {
            *c = first.clone();
        }
        std::fs::write(&path, fit.to_string()).unwrap();
        let collapsed = discover(&s, &m, &Scope::default(), &spec).unwrap();
        assert!(collapsed.assignment.values().all(|&p| p == 0), "every customer joins the first of equal centroids");
        // A damaged fit (a centroid cut short) is not used, nor does it
        // stop the personas: they are fitted again.
        fit["centroids"][0] = serde_json::json!([0.0]);
        std::fs::write(&path, fit.to_string()).unwrap();
        let refitted = discover(&s, &m, &Scope::default(), &spec).unwrap();
        assert_eq!(refitted.assignment, fresh.assignment);
        // Another spec is another fit.
        let three = discover(&s, &m, &Scope::default(), &PersonaSpec { k: Some(3), ..spec }).unwrap();
        assert_eq!(three.k, 3);
        assert_eq!(std::fs::read_dir(dir.path().join("cache")).unwrap().count(), 2);
    }

    #[test]
    fn channel_shares_share_one_scale() {
        // A channel used by one customer must not outweigh the favourite
        // channel of the others, as per-column standardising would make it.
        // Here one customer came once in 25 sessions through channel B.
        let raw = vec![vec![0.0, 1.0, 0.0], vec![0.0, 1.0, 0.0], vec![0.0, 0.96, 0.04], vec![0.0, 0.0, 0.0]];
        let scale = FeatureScale::fit(&raw, 1);
        let x: Vec<Vec<f64>> = raw.iter().map(|r| scale.apply(r)).collect();
        let spread = |c: usize| {
            x.iter().map(|r| r[c]).fold(f64::MIN, f64::max) - x.iter().map(|r| r[c]).fold(f64::MAX, f64::min)
        };
        assert!(spread(2) < 0.25 * spread(1), "{x:?}");
    }
}
