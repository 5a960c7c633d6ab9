//! Two journey maps compared (DESIGN §11): per persona group and stage the
//! change in reach and conversion (two-proportion tests), time to the next
//! stage (Mann–Whitney on the maps' time histograms), emotion (Welch) and
//! NPS (normal approximation), with 95 % intervals; pain points appeared,
//! resolved, worsened and improved. Every test of one comparison is one
//! family: a change is significant when its Benjamini–Hochberg q-value is
//! below 5 %, so when nothing changed, the chance that anything is flagged
//! is at most 5 %.
//!
//! The inputs are maps (the map of all customers first, then one per
//! persona) from two snapshots, two periods, or before and after an
//! annotation; the comparison needs nothing but the maps.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wayfarer_models::stats::{
    Moments, benjamini_hochberg, difference_interval, mann_whitney_binned, two_proportion, two_sided_p, welch,
};

use super::pain::{PainKind, PainPoint};
use super::report::{JourneyMap, StageReport};

/// The false-discovery rate of a comparison.
pub const FDR: f64 = 0.05;

/// Fewer customers than this on a side: no test (the change is shown, never flagged).
pub const MIN_N: u64 = 10;

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Side {
    /// A snapshot's name, a period (`2026-07-01..2026-10-01`) or "before"/"after".
    pub label: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub customers: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapComparison {
    pub a: Side,
    pub b: Side,
    /// All customers first, then each persona found on both sides.
    pub groups: Vec<GroupChange>,
    pub pain_points: Vec<PainChange>,
    /// How many tests the family had, and how many were significant.
    pub tests: usize,
    pub significant: usize,
    pub fdr: f64,
    /// Personas on one side only (not compared).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmatched_personas: Vec<String>,
    /// What the reader should know (different configurations, overlapping periods).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Periods compared: how long each stage-entry cohort was followed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon_seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupChange {
    /// None: all customers.
    pub persona: Option<String>,
    pub a_customers: u64,
    pub b_customers: u64,
    pub stages: Vec<StageChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageChange {
    pub stage: String,
    /// Share of the group's customers who reached the stage.
    pub reach: Change,
    /// Conversion to the next stage (none for the last).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversion: Option<Change>,
    /// Median time to the next stage, seconds (the test compares the whole distributions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_next: Option<Change>,
    /// Mean emotion in [−1, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emotion: Option<Change>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nps: Option<Change>,
}

impl StageChange {
    pub fn changes(&self) -> impl Iterator<Item = (&'static str, &Change)> {
        [
            ("reach", Some(&self.reach)),
            ("conversion", self.conversion.as_ref()),
            ("time to next", self.time_to_next.as_ref()),
            ("emotion", self.emotion.as_ref()),
            ("NPS", self.nps.as_ref()),
        ]
        .into_iter()
        .filter_map(|(k, c)| c.map(|c| (k, c)))
    }

    pub fn any_significant(&self) -> bool {
        self.changes().any(|(_, c)| c.significant)
    }
}

/// One measure on both sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub a: Option<f64>,
    pub b: Option<f64>,
    /// b − a.
    pub difference: Option<f64>,
    /// 95 % interval of the difference, where there is one.
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub n_a: u64,
    pub n_b: u64,
    pub p_value: Option<f64>,
    pub q_value: Option<f64>,
    pub significant: bool,
    /// Whether b is better than a (higher reach, conversion, emotion, NPS;
    /// shorter time), when the two differ.
    pub better: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PainStatus {
    Appeared,
    Worsened,
    Resolved,
    Improved,
    /// Found on one side only, without a significant change of its measure.
    OneSide,
    Unchanged,
}

impl PainStatus {
    pub fn label(self) -> &'static str {
        match self {
            PainStatus::Appeared => "appeared",
            PainStatus::Worsened => "worsened",
            PainStatus::Resolved => "resolved",
            PainStatus::Improved => "improved",
            PainStatus::OneSide => "one side",
            PainStatus::Unchanged => "unchanged",
        }
    }
}

/// A pain point matched across the two sides by kind, stage, touchpoint
/// and persona.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PainChange {
    pub id: String,
    pub status: PainStatus,
    pub kind: PainKind,
    pub stage: String,
    pub persona: Option<String>,
    pub touchpoint: Option<String>,
    pub title: String,
    pub metric: String,
    /// Whether each side's map reported it as a pain point.
    pub found_a: bool,
    pub found_b: bool,
    /// Its measure on each side (where the side did not report it, read
    /// from that side's maps, with no baseline or severity).
    pub a: Option<PainSide>,
    pub b: Option<PainSide>,
    /// The test of the two values (both sides found it and its metric is a share).
    pub p_value: Option<f64>,
    pub q_value: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PainSide {
    pub value: f64,
    pub baseline: Option<f64>,
    pub n: u64,
    pub affected_customers: u64,
    pub severity: f64,
}

impl From<&PainPoint> for PainSide {
    fn from(p: &PainPoint) -> PainSide {
        PainSide {
            value: p.value,
            baseline: Some(p.baseline),
            n: p.n,
            affected_customers: p.affected_customers,
            severity: p.severity,
        }
    }
}

/// A test waiting for its q-value: where its result goes.
enum Slot {
    Stage(usize, usize, &'static str),
    Pain(usize),
}

/// Compares two lists of maps (all customers first, then personas).
pub fn compare(a_label: &str, a: &[JourneyMap], b_label: &str, b: &[JourneyMap]) -> MapComparison {
    let side = |label: &str, maps: &[JourneyMap]| Side {
        label: label.to_string(),
        from: maps.first().and_then(|m| m.scope.from.clone()),
        to: maps.first().and_then(|m| m.scope.to.clone()),
        customers: maps.first().map_or(0, |m| m.scope.customers),
    };
    let mut groups = Vec::new();
    let mut unmatched = Vec::new();
    for (i, ma) in a.iter().enumerate() {
        let name = if i == 0 { None } else { ma.scope.persona.clone() };
        let mb = if i == 0 { b.first() } else { b.iter().skip(1).find(|m| m.scope.persona == ma.scope.persona) };
        match mb {
            Some(mb) => groups.push(group_change(name, ma, mb)),
            None => unmatched.extend(name),
        }
    }
    for mb in b.iter().skip(1) {
        if !a.iter().skip(1).any(|m| m.scope.persona == mb.scope.persona) {
            unmatched.extend(mb.scope.persona.clone());
        }
    }
    let mut c = MapComparison {
        a: side(a_label, a),
        b: side(b_label, b),
        groups,
        pain_points: pain_changes(a, b),
        tests: 0,
        significant: 0,
        fdr: FDR,
        unmatched_personas: unmatched,
        warnings: Vec::new(),
        horizon_seconds: None,
    };
    judge(&mut c);
    c
}

/// Two periods compared: the maps' measures, with reach, conversion and
/// time to next from the stage-entry cohorts (whole histories, each
/// customer followed for the same horizon) instead of the period maps.
pub fn compare_periods(
    a_label: &str,
    a: &[JourneyMap],
    b_label: &str,
    b: &[JourneyMap],
    cohorts: &super::cohorts::Cohorts,
) -> MapComparison {
    let mut c = compare(a_label, a, b_label, b);
    for g in &mut c.groups {
        let i = match &g.persona {
            None => 0,
            Some(p) => match cohorts.names.iter().position(|n| n == p) {
                Some(i) => i + 1,
                None => continue,
            },
        };
        let (ca, cb) = (&cohorts.a[i], &cohorts.b[i]);
        g.a_customers = ca.new_customers;
        g.b_customers = cb.new_customers;
        let last = ca.stages.len().saturating_sub(1);
        for (k, st) in g.stages.iter_mut().enumerate() {
            let (sa, sb) = (&ca.stages[k], &cb.stages[k]);
            st.reach = proportion(sa.reached, ca.new_customers, sb.reached, cb.new_customers, true);
            if k < last {
                st.conversion = Some(proportion(sa.converted, sa.entered, sb.converted, sb.entered, true));
                let p_value = (sa.converted >= MIN_N && sb.converted >= MIN_N)
                    .then(|| mann_whitney_binned(&sa.time_bins, &sb.time_bins))
                    .flatten()
                    .map(|c| c.p_value);
                let (ma, mb) = (binned_median(&sa.time_bins), binned_median(&sb.time_bins));
                st.time_to_next = Some(change(
                    ma,
                    mb,
                    ma.zip(mb).map(|(a, b)| b - a),
                    None,
                    None,
                    sa.converted,
                    sb.converted,
                    p_value,
                    false,
                ));
            }
            st.emotion = emotion_of(&sa.emotion, &sb.emotion);
            st.nps = nps_of(sa.nps, sb.nps);
        }
    }
    // A drop-off's measure is the stage's conversion, an exit touchpoint's
    // its exit rate, negative emotion the share unhappy: from the cohorts
    // too. Other pain points (friction, slow, dips) are shown, not tested.
    for pc in c.pain_points.iter_mut() {
        if !matches!(pc.kind, PainKind::DropOff | PainKind::ExitTouchpoint | PainKind::NegativeEmotion) {
            // Measured on maps cut at the periods' edges: shown, not tested.
            pc.p_value = None;
            continue;
        }
        let i = match &pc.persona {
            None => 0,
            Some(p) => match cohorts.names.iter().position(|n| n == p) {
                Some(i) => i + 1,
                None => continue,
            },
        };
        let Some(k) = c.groups.first().and_then(|g| g.stages.iter().position(|s| s.stage == pc.stage)) else {
            continue;
        };
        let (sa, sb) = (&cohorts.a[i].stages[k], &cohorts.b[i].stages[k]);
        // (count, of customers): converted of entered, or exits of those who met it.
        let measure = |s: &super::cohorts::StageCohort| match (&pc.kind, &pc.touchpoint) {
            (PainKind::ExitTouchpoint, Some(tp)) => s.touchpoints.get(tp).map_or((0, 0), |&(met, exits)| (exits, met)),
            (PainKind::NegativeEmotion, _) => (s.unhappy, s.emotion_customers),
            _ => (s.converted, s.entered),
        };
        let ((ka, na), (kb, nb)) = (measure(sa), measure(sb));
        let set = |side: &mut Option<PainSide>, (x, n): (u64, u64)| {
            let value = if n > 0 { x as f64 / n as f64 } else { 0.0 };
            match side {
                Some(p) => {
                    p.value = value;
                    p.n = n;
                }
                None => *side = Some(PainSide { value, baseline: None, n, affected_customers: 0, severity: 0.0 }),
            }
        };
        set(&mut pc.a, (ka, na));
        set(&mut pc.b, (kb, nb));
        pc.p_value = (na >= MIN_N && nb >= MIN_N).then(|| two_proportion(ka, na, kb, nb)).flatten().map(|c| c.p_value);
    }
    c.a.customers = cohorts.a[0].new_customers;
    c.b.customers = cohorts.b[0].new_customers;
    c.horizon_seconds = Some(cohorts.horizon_seconds);
    judge(&mut c);
    c
}

/// The median of binned times: the geometric middle of the median's bin.
fn binned_median(bins: &[u64]) -> Option<f64> {
    let n: u64 = bins.iter().sum();
    if n == 0 {
        return None;
    }
    let mut seen = 0;
    for (i, &c) in bins.iter().enumerate() {
        seen += c;
        if 2 * seen >= n {
            return Some(if i == 0 { 0.5 } else { 2f64.powf((i as f64 - 0.5) / 2.0) });
        }
    }
    None
}

/// Benjamini–Hochberg over every p-value of the comparison (one family),
/// then each change's significance and each pain point's status.
fn judge(c: &mut MapComparison) {
    let groups = &mut c.groups;
    let pain_points = &mut c.pain_points;
    let mut slots = Vec::new();
    let mut ps = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        for (s, stage) in group.stages.iter().enumerate() {
            for (what, c) in stage.changes() {
                if let Some(p) = c.p_value {
                    slots.push(Slot::Stage(g, s, what));
                    ps.push(p);
                }
            }
        }
    }
    for (i, pc) in pain_points.iter().enumerate() {
        if let Some(p) = pc.p_value {
            slots.push(Slot::Pain(i));
            ps.push(p);
        }
    }
    let qs = benjamini_hochberg(&ps);
    let mut significant = 0;
    for (slot, q) in slots.iter().zip(&qs) {
        let hit = *q < FDR;
        significant += usize::from(hit);
        match *slot {
            Slot::Stage(g, s, what) => {
                let st = &mut groups[g].stages[s];
                let c = match what {
                    "reach" => Some(&mut st.reach),
                    "conversion" => st.conversion.as_mut(),
                    "time to next" => st.time_to_next.as_mut(),
                    "emotion" => st.emotion.as_mut(),
                    _ => st.nps.as_mut(),
                };
                if let Some(c) = c {
                    c.q_value = Some(*q);
                    c.significant = hit;
                }
            }
            Slot::Pain(i) => pain_points[i].q_value = Some(*q),
        }
    }
    for pc in pain_points.iter_mut() {
        pc.status = pain_status(pc);
    }
    pain_points.sort_by(|x, y| x.status.cmp(&y.status).then_with(|| severity(y).total_cmp(&severity(x))));
    c.tests = ps.len();
    c.significant = significant;
}

fn severity(p: &PainChange) -> f64 {
    p.b.as_ref().or(p.a.as_ref()).map_or(0.0, |s| s.severity)
}

fn group_change(persona: Option<String>, a: &JourneyMap, b: &JourneyMap) -> GroupChange {
    let stages = a
        .stages
        .iter()
        .filter_map(|sa| {
            let sb = b.stages.iter().find(|s| s.name == sa.name)?;
            Some(stage_change(sa, a.scope.customers, sb, b.scope.customers))
        })
        .collect();
    GroupChange { persona, a_customers: a.scope.customers, b_customers: b.scope.customers, stages }
}

fn stage_change(a: &StageReport, a_all: u64, b: &StageReport, b_all: u64) -> StageChange {
    let reach = proportion(a.customers, a_all, b.customers, b_all, true);
    let conversion = (a.conversion_to_next.is_some() && b.conversion_to_next.is_some())
        .then(|| proportion(a.customers - a.dropped, a.customers, b.customers - b.dropped, b.customers, true));
    let time_to_next = (!a.time_to_next_bins.is_empty() || !b.time_to_next_bins.is_empty())
        .then(|| time_change(a, b))
        .filter(|c| c.n_a > 0 && c.n_b > 0);
    let emotion = emotion_change(a, b);
    let nps = nps_change(a, b);
    StageChange { stage: a.name.clone(), reach, conversion, time_to_next, emotion, nps }
}

/// Shares x/n on both sides.
fn proportion(xa: u64, na: u64, xb: u64, nb: u64, higher_is_better: bool) -> Change {
    let share = |x: u64, n: u64| (n > 0).then(|| x as f64 / n as f64);
    let (a, b) = (share(xa, na), share(xb, nb));
    let difference = a.zip(b).map(|(a, b)| b - a);
    let (low, high) = difference_interval(xb, nb, xa, na).map_or((None, None), |(l, h)| (Some(l), Some(h)));
    let p_value = (na >= MIN_N && nb >= MIN_N).then(|| two_proportion(xa, na, xb, nb)).flatten().map(|c| c.p_value);
    change(a, b, difference, low, high, na, nb, p_value, higher_is_better)
}

#[allow(clippy::too_many_arguments)]
fn change(
    a: Option<f64>,
    b: Option<f64>,
    difference: Option<f64>,
    low: Option<f64>,
    high: Option<f64>,
    n_a: u64,
    n_b: u64,
    p_value: Option<f64>,
    higher_is_better: bool,
) -> Change {
    let better = difference.filter(|d| *d != 0.0).map(|d| (d > 0.0) == higher_is_better);
    Change { a, b, difference, low, high, n_a, n_b, p_value, q_value: None, significant: false, better }
}

fn time_change(a: &StageReport, b: &StageReport) -> Change {
    let (n_a, n_b): (u64, u64) = (a.time_to_next_bins.iter().sum(), b.time_to_next_bins.iter().sum());
    let (ma, mb) = (a.median_time_to_next_seconds, b.median_time_to_next_seconds);
    let p_value = (n_a >= MIN_N && n_b >= MIN_N)
        .then(|| mann_whitney_binned(&a.time_to_next_bins, &b.time_to_next_bins))
        .flatten()
        .map(|c| c.p_value);
    change(ma, mb, ma.zip(mb).map(|(a, b)| b - a), None, None, n_a, n_b, p_value, false)
}

/// Moments rebuilt from a mean, a standard deviation and a count.
fn moments(mean: f64, sd: f64, n: u64) -> Moments {
    let nf = n as f64;
    let sum = mean * nf;
    Moments { n, sum, sum_sq: sd * sd * (nf - 1.0).max(0.0) + sum * sum / nf.max(1.0) }
}

fn emotion_change(a: &StageReport, b: &StageReport) -> Option<Change> {
    let (ea, eb) = (&a.emotion, &b.emotion);
    // A map holds the answers' mean and spread, not each customer's mean:
    // the test counts customers, not answers (a customer's answers are not
    // independent), which with the answers' wider spread is conservative.
    let m = |e: &super::report::EmotionReport| {
        Some(moments(e.score?, e.score_sd.unwrap_or(0.0), e.customers.clamp(1, e.n.max(1))))
    };
    emotion_of(&m(ea)?, &m(eb)?)
}

/// The change of a mean emotion (Welch's test, 95 % interval).
fn emotion_of(a: &Moments, b: &Moments) -> Option<Change> {
    let (ma, mb) = (a.mean()?, b.mean()?);
    let d = mb - ma;
    let var = |m: &Moments| m.variance().unwrap_or(0.0) / m.n.max(1) as f64;
    let se = (var(a) + var(b)).sqrt();
    let p_value = (a.n >= MIN_N && b.n >= MIN_N).then(|| welch(b, a)).flatten().map(|c| c.p_value);
    let (low, high) = if se > 0.0 { (Some(d - 1.96 * se), Some(d + 1.96 * se)) } else { (None, None) };
    Some(change(Some(ma), Some(mb), Some(d), low, high, a.n, b.n, p_value, true))
}

fn nps_change(a: &StageReport, b: &StageReport) -> Option<Change> {
    let (na, nb) = (a.emotion.nps.as_ref()?, b.emotion.nps.as_ref()?);
    // The answers scaled to the customers who gave them (see emotion_change).
    let per_customer = |r: &crate::surveys::NpsReport, customers: u64| {
        let f = if r.n > customers && customers > 0 { customers as f64 / r.n as f64 } else { 1.0 };
        [r.promoters, r.passives, r.detractors].map(|c| (c as f64 * f).round() as u64)
    };
    nps_of(per_customer(na, a.emotion.customers), per_customer(nb, b.emotion.customers))
}

/// The change of an NPS from (promoters, passives, detractors): NPS =
/// 100 (p − d), its variance 100² (p + d − (p − d)²) / n.
fn nps_of(a: [u64; 3], b: [u64; 3]) -> Option<Change> {
    let stats = |c: [u64; 3]| {
        let n: u64 = c.iter().sum();
        (n > 0).then(|| {
            let (p, d) = (c[0] as f64 / n as f64, c[2] as f64 / n as f64);
            (100.0 * (p - d), 1e4 * (p + d - (p - d) * (p - d)) / n as f64, n)
        })
    };
    let ((sa, va, na), (sb, vb, nb)) = (stats(a)?, stats(b)?);
    let d = sb - sa;
    let se = (va + vb).sqrt();
    let p_value = (na >= MIN_N && nb >= MIN_N && se > 0.0).then(|| two_sided_p(d / se));
    let (low, high) = if se > 0.0 { (Some(d - 1.96 * se), Some(d + 1.96 * se)) } else { (None, None) };
    Some(change(Some(sa), Some(sb), Some(d), low, high, na, nb, p_value, true))
}

/// Every pain point of either side (all maps), matched by id (kind, stage,
/// touchpoint, persona).
fn pain_changes(a: &[JourneyMap], b: &[JourneyMap]) -> Vec<PainChange> {
    let collect = |maps: &[JourneyMap]| {
        let mut m: BTreeMap<String, PainPoint> = BTreeMap::new();
        for p in maps.iter().flat_map(|m| &m.pain_points) {
            m.entry(p.id.clone()).or_insert_with(|| p.clone());
        }
        m
    };
    let (pa, pb) = (collect(a), collect(b));
    let mut ids: Vec<&String> = pa.keys().chain(pb.keys()).collect();
    ids.sort();
    ids.dedup();
    ids.into_iter()
        .map(|id| {
            let (x, y) = (pa.get(id), pb.get(id));
            let p = y.or(x).expect("an id of either side");
            // The measure on both sides: the pain point's own where it was
            // found, else the same measure read from that side's maps.
            let count = |q: &PainPoint| ((q.value * q.n as f64).round() as u64, q.n);
            let xa = x.map(count).or_else(|| measure(a, p));
            let xb = y.map(count).or_else(|| measure(b, p));
            let p_value = match (xa, xb) {
                (Some((ka, na)), Some((kb, nb))) if is_share(p.kind) && na >= MIN_N && nb >= MIN_N => {
                    two_proportion(ka, na, kb, nb).map(|c| c.p_value)
                }
                _ => None,
            };
            let side = |q: Option<&PainPoint>, m: Option<(u64, u64)>| {
                q.map(PainSide::from).or_else(|| {
                    m.filter(|(_, n)| *n > 0).map(|(k, n)| PainSide {
                        value: k as f64 / n as f64,
                        baseline: None,
                        n,
                        affected_customers: 0,
                        severity: 0.0,
                    })
                })
            };
            PainChange {
                id: id.clone(),
                status: PainStatus::Unchanged,
                kind: p.kind,
                stage: p.stage.clone(),
                persona: p.persona.clone(),
                touchpoint: p.touchpoint.clone(),
                title: p.title.clone(),
                metric: p.metric.clone(),
                found_a: x.is_some(),
                found_b: y.is_some(),
                a: side(x, xa),
                b: side(y, xb),
                p_value,
                q_value: None,
            }
        })
        .collect()
}

/// A pain point's measure (count, customers) read from a side's maps
/// where that side did not find it: a drop-off's conversion, an exit
/// touchpoint's exits, a friction event's conversion.
fn measure(maps: &[JourneyMap], p: &PainPoint) -> Option<(u64, u64)> {
    let map = match &p.persona {
        None => maps.first()?,
        Some(name) => maps.iter().skip(1).find(|m| m.scope.persona.as_deref() == Some(name))?,
    };
    let st = map.stages.iter().find(|s| s.name == p.stage)?;
    match p.kind {
        PainKind::DropOff => st.conversion_to_next.map(|_| (st.customers - st.dropped, st.customers)),
        PainKind::ExitTouchpoint => {
            let tp = st.touchpoints.iter().find(|t| Some(&t.name) == p.touchpoint.as_ref())?;
            Some((tp.exits, tp.customers))
        }
        PainKind::Friction => {
            let e = st.friction.top_events.iter().find(|e| p.terms.first() == Some(&e.event))?;
            Some(((e.conversion_with? * e.customers as f64).round() as u64, e.customers))
        }
        _ => None,
    }
}

/// Whether a pain point's value is a share of its `n` customers.
fn is_share(kind: PainKind) -> bool {
    matches!(kind, PainKind::DropOff | PainKind::ExitTouchpoint | PainKind::Friction | PainKind::NegativeEmotion)
}

/// Whether a higher value of the pain point's metric is worse.
fn higher_is_worse(kind: PainKind) -> bool {
    !matches!(kind, PainKind::DropOff | PainKind::Friction | PainKind::Dip)
}

/// Appeared or resolved: found on one side only and its measure changed
/// significantly for the worse or the better; worsened or improved: found
/// on both and changed significantly; one side only: found on one side but
/// its measure did not change significantly (or cannot be tested), so it
/// only crossed the map's detection threshold; else unchanged.
fn pain_status(p: &PainChange) -> PainStatus {
    let moved = match (&p.a, &p.b) {
        (Some(a), Some(b)) if p.q_value.is_some_and(|q| q < FDR) => {
            Some((b.value > a.value) != higher_is_worse(p.kind))
        }
        _ => None,
    };
    match (p.found_a, p.found_b, moved) {
        (false, true, Some(false)) => PainStatus::Appeared,
        (true, false, Some(true)) => PainStatus::Resolved,
        (true, true, Some(false)) => PainStatus::Worsened,
        (true, true, Some(true)) => PainStatus::Improved,
        (true, true, None) => PainStatus::Unchanged,
        _ => PainStatus::OneSide,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journey::journey_maps;
    use crate::testutil::{ev, model, store};
    use crate::{Scope, journey::journey_map};

    #[test]
    fn moments_rebuilt_from_mean_and_sd_give_them_back() {
        let mut m = Moments::default();
        for x in [0.5, -0.25, 1.0, 0.0, 0.75] {
            m.add(x);
        }
        let r = moments(m.mean().unwrap(), m.variance().unwrap().sqrt(), m.n);
        assert!((r.mean().unwrap() - m.mean().unwrap()).abs() < 1e-12);
        assert!((r.variance().unwrap() - m.variance().unwrap()).abs() < 1e-12);
    }

    /// A map compared with itself changes nothing; halving a stage's
    /// conversion is flagged there and (nearly) nowhere else.
    #[test]
    fn a_map_against_itself_and_against_a_changed_one() {
        let mut events = Vec::new();
        for u in 0..400 {
            let id = format!("u{u}");
            events.push(ev(&id, f64::from(u), "Page Viewed"));
            events.push(ev(&id, f64::from(u) + 1.0, "Product Viewed"));
            if u % 2 == 0 {
                events.push(ev(&id, f64::from(u) + 2.0, "Product Added"));
            }
        }
        let (_d, s) = store(events.clone());
        let m = model(&s);
        let a = journey_maps(&s, &m, &Scope::default()).unwrap();
        let same = compare("a", &a, "b", &a);
        assert_eq!(same.significant, 0);
        assert!(same.tests > 0);
        assert!(same.pain_points.iter().all(|p| p.status == PainStatus::Unchanged));
        // Now only a tenth of the customers add to cart.
        let fewer: Vec<_> = events
            .into_iter()
            .filter(|e| {
                e.event != "Product Added"
                    || e.user_id.as_deref().is_some_and(|id| id[1..].parse::<u32>().unwrap() % 10 == 0)
            })
            .collect();
        let (_d2, s2) = store(fewer);
        let b = vec![journey_map(&s2, &model(&s2), &Scope::default()).unwrap()];
        let c = compare("a", &a[..1], "b", &b);
        let flagged: Vec<(&str, &str)> = c.groups[0]
            .stages
            .iter()
            .flat_map(|s| s.changes().filter(|(_, c)| c.significant).map(move |(w, _)| (s.stage.as_str(), w)))
            .collect();
        assert!(!flagged.is_empty(), "{c:#?}");
        let changed: Vec<&StageChange> = c.groups[0].stages.iter().filter(|s| s.any_significant()).collect();
        for s in changed {
            for (_, ch) in s.changes().filter(|(_, c)| c.significant) {
                assert_eq!(ch.better, Some(false), "{}: fewer carts is worse: {ch:?}", s.stage);
            }
        }
    }
}
