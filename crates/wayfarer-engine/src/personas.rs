//! Data-driven personas (DESIGN §4.9): behavioural features per customer
//! (recency, frequency, monetary value, the share of their events per
//! channel, stage reached, tenure, NPS), standardised; k-means with
//! k-means++ seeding and k chosen by silhouette (or given), deterministic for
//! a seed. Each persona is labelled by its most distinctive features and
//! described by its size, favourite channel and channel mix, typical path,
//! median value, NPS, stage distribution and top pain point (from its own
//! journey map). Hand-written personas can be compared with the discovered
//! ones (cross-tabulation and adjusted Rand index).

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use wayfarer_core::cancel::Cancelled;
use wayfarer_core::time::MICROS_PER_DAY;
use wayfarer_models::cluster::{adjusted_rand_index, kmeans_until, silhouette_until, standardise};
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
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerFeatures {
    pub customer: u32,
    pub features: Vec<f64>,
    pub path: Vec<TpKey>,
    pub nps: Option<f64>,
    pub revenue: f64,
    pub stage: Option<usize>,
    pub hand_written: Option<usize>,
}

pub struct FeatureFold<'m> {
    model: &'m Model,
    scope: &'m Scope,
    channels: usize,
}

impl<'m> FeatureFold<'m> {
    /// One feature row per customer of the scope (its persona ignored).
    pub fn new(model: &'m Model, scope: &'m Scope) -> FeatureFold<'m> {
        FeatureFold { model, scope, channels: model.channels.len() }
    }
}

impl Fold for FeatureFold<'_> {
    type Partial = Vec<CustomerFeatures>;
    type Scratch = ();
    type Report = Vec<CustomerFeatures>;

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
        let m = self.model;
        // Channel preference: the share of the customer's sessions that came
        // through each channel (a session counts once, whatever its length).
        let mut shares = vec![0.0; self.channels];
        let mut counted = 0.0;
        let mut last_nps = None;
        let (mut views, mut screens) = (0.0, 0.0);
        let mut last_session = u32::MAX;
        for (j, &r) in t.idx.iter().enumerate() {
            let c = t.channel[j];
            if t.session[j] != last_session
                && c != NO_CHANNEL
                && !Model::flag(&m.is_passive, t.rows.event[r])
                && (c as usize) < self.channels
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
            if t.rows.str_at(Col::Survey, r) == Some("nps")
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
        let end = self.scope.to.unwrap_or(m.data_end + 1).min(m.data_end + 1);
        let day = MICROS_PER_DAY as f64;
        let revenue = t.revenue();
        let stage = t.current_stage();
        // The first four touchpoints, repeats collapsed.
        let mut path: Vec<TpKey> = Vec::with_capacity(4);
        for (j, &r) in t.idx.iter().enumerate() {
            if Model::flag(&m.is_passive, t.rows.event[r]) {
                continue;
            }
            let tp = t.touchpoint(m, j);
            if tp != TpKey::None && path.last() != Some(&tp) {
                path.push(tp);
                if path.len() == 4 {
                    break;
                }
            }
        }
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
        p.push(CustomerFeatures {
            customer: t.customer,
            features,
            path,
            nps: last_nps,
            revenue,
            stage,
            hand_written: t.persona,
        });
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
}

impl Default for PersonaSpec {
    fn default() -> Self {
        PersonaSpec { k: None, max_k: 8, seed: 17, with_maps: true }
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
            assignment: Some(Arc::clone(&self.assignment)),
            noun: "personas",
        }
    }
}

/// Discovers personas.
pub fn discover(
    store: &Store,
    model: &Model,
    scope: &Scope,
    spec: &PersonaSpec,
) -> Result<DiscoveredReport, EngineError> {
    let channels = model.channels.len();
    let rows = fold::report(store, &FeatureFold { model, scope: &scope.without_persona(), channels })?;
    let mut names: Vec<String> = FIXED.iter().map(|s| (*s).to_string()).collect();
    names.extend(model.channels.iter().map(|c| format!("share:{c}")));
    // Missing values (NPS of those who never answered, order value of those
    // who never bought) take the column's mean before standardising.
    let d = names.len();
    let means: Vec<f64> = (0..d)
        .map(|j| {
            let v: Vec<f64> = rows.iter().map(|r| r.features[j]).filter(|v| v.is_finite()).collect();
            if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 }
        })
        .collect();
    let mut x: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| r.features.iter().enumerate().map(|(j, v)| if v.is_finite() { *v } else { means[j] }).collect())
        .collect();
    // Profiles are told in plain standard scores; the clustering uses the
    // weighted features.
    let mut z = x.clone();
    standardise(&mut z);
    scale_features(&mut x, FIXED.len());
    if x.len() < 4 {
        return Err(EngineError::InvalidQuery(format!("{} customers are too few to discover personas", x.len())));
    }
    // The clustering stops when the query is cancelled.
    let stop = &|| store.cancel().is_cancelled();
    // Choose k by silhouette on a deterministic sample.
    let (k, chosen_by, silhouettes) = match spec.k {
        Some(k) => (k.clamp(1, x.len()), "given".to_string(), Vec::new()),
        None => {
            let mut scores = Vec::new();
            for k in 2..=spec.max_k.max(2).min(x.len() - 1) {
                let m = kmeans_until(&x, k, spec.seed, 3, stop).ok_or(Cancelled)?;
                scores.push((k, silhouette_until(&x, &m.labels, k, 2000, stop).ok_or(Cancelled)?));
            }
            let best = scores.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(&a.0)));
            (best.map_or(2, |b| b.0), "silhouette".to_string(), scores)
        }
    };
    let fit = kmeans_until(&x, k, spec.seed, 6, stop).ok_or(Cancelled)?;
    // Order personas by size, largest first, so names and indexes are stable.
    let mut sizes: Vec<(usize, usize)> = (0..k).map(|c| (c, fit.labels.iter().filter(|&&l| l == c).count())).collect();
    sizes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let rank: HashMap<usize, usize> = sizes.iter().enumerate().map(|(i, (c, _))| (*c, i)).collect();
    let labels: Vec<usize> = fit.labels.iter().map(|l| rank[l]).collect();
    let assignment: HashMap<u32, usize> = rows.iter().zip(&labels).map(|(r, &l)| (r.customer, l)).collect();

    let total = rows.len() as f64;
    let mut personas = Vec::new();
    let mut used_names: HashMap<String, usize> = HashMap::new();
    for p in 0..k {
        let members: Vec<usize> = (0..rows.len()).filter(|&i| labels[i] == p).collect();
        let n = members.len().max(1) as f64;
        let profile: Vec<(String, f64)> =
            (0..names.len()).map(|j| (names[j].clone(), members.iter().map(|&i| z[i][j]).sum::<f64>() / n)).collect();
        let mut mix: Vec<(String, f64)> = (0..channels)
            .map(|c| {
                (model.channels[c].clone(), members.iter().map(|&i| rows[i].features[FIXED.len() + c]).sum::<f64>() / n)
            })
            .filter(|(_, s)| *s > 0.0)
            .collect();
        mix.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        mix.truncate(5);
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
        let base = label(&profile, &mix);
        let count = used_names.entry(base.clone()).or_insert(0);
        *count += 1;
        let name = if *count > 1 { format!("{base} ({count})") } else { base };
        personas.push(DiscoveredPersona {
            description: describe(&profile),
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
        chosen_by,
        silhouettes,
        features: names,
        customers: rows.len() as u64,
        personas,
        compared_with_hand_written: compared,
        assignment: Arc::new(assignment),
    };
    if spec.with_maps {
        let inputs = MapInputs::with_predicted_clv(store, model, scope, report.as_personas())?;
        let maps = journey_maps_with(store, model, &scope.without_persona(), &inputs)?;
        for (p, map) in report.personas.iter_mut().zip(maps.iter().skip(1)) {
            p.top_pain_point = map.pain_points.first().map(|x| x.title.clone());
            p.mean_predicted_clv = map.personas.iter().find(|s| s.name == p.name).and_then(|s| s.mean_predicted_clv);
        }
    }
    Ok(report)
}

/// Weight of the lifecycle features (recency, purchases, revenue, stage,
/// tenure, NPS, events): where a customer is in the journey, which the map's
/// stages already show, matters less to who they are than their preferences.
const LIFECYCLE_WEIGHT: f64 = 0.4;
/// Weight of the channel-preference block, in units of one standardised
/// feature per channel.
const CHANNEL_WEIGHT: f64 = 3.0;

/// Puts the features on comparable scales: the fixed features are
/// standardised (lifecycle ones down-weighted, app share and order value at
/// full weight); the channel shares are a composition, so they take the
/// Hellinger transform (square roots) and one common scale — standardising
/// each channel on its own would let a channel that five customers used
/// weigh as much as the favourite channel of thousands.
fn scale_features(x: &mut [Vec<f64>], fixed: usize) {
    if x.is_empty() {
        return;
    }
    let d = x[0].len();
    for row in x.iter_mut() {
        for v in &mut row[fixed..] {
            *v = v.max(0.0).sqrt();
        }
    }
    let shares: Vec<Vec<f64>> = x.iter().map(|r| r[fixed..].to_vec()).collect();
    standardise(x);
    let n = x.len() as f64;
    let channels = d - fixed;
    let mut mean = vec![0.0; channels];
    for r in &shares {
        for (m, v) in mean.iter_mut().zip(r) {
            *m += v / n;
        }
    }
    let pooled_var: f64 =
        shares.iter().map(|r| r.iter().zip(&mean).map(|(v, m)| (v - m) * (v - m)).sum::<f64>()).sum::<f64>()
            / n
            / channels.max(1) as f64;
    let scale = if pooled_var > 1e-12 { CHANNEL_WEIGHT / pooled_var.sqrt() } else { 0.0 };
    for (row, r) in x.iter_mut().zip(&shares) {
        for (j, v) in row.iter_mut().enumerate().take(fixed) {
            if !matches!(FIXED[j], "app_share" | "order_value") {
                *v *= LIFECYCLE_WEIGHT;
            }
        }
        for (c, v) in r.iter().enumerate() {
            row[fixed + c] = (v - mean[c]) * scale;
        }
    }
}

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

    #[test]
    fn channel_shares_share_one_scale() {
        // A channel used by one customer must not outweigh the favourite
        // channel of the others, as per-column standardising would make it.
        // Here one customer came once in 25 sessions through channel B.
        let mut x = vec![vec![0.0, 1.0, 0.0], vec![0.0, 1.0, 0.0], vec![0.0, 0.96, 0.04], vec![0.0, 0.0, 0.0]];
        scale_features(&mut x, 1);
        let spread = |c: usize| {
            x.iter().map(|r| r[c]).fold(f64::MIN, f64::max) - x.iter().map(|r| r[c]).fold(f64::MAX, f64::min)
        };
        assert!(spread(2) < 0.25 * spread(1), "{x:?}");
    }
}
