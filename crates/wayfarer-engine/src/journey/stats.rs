//! The journey fold's statistics: per stage, touchpoint, channel and
//! persona group, and how two of them merge.

use super::*;

use rustc_hash::FxHashMap;

#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct TpStats {
    pub customers: u64,
    pub events: u64,
    /// Customers who touched it in the stage and reached the next stage.
    pub converted: u64,
    /// Customers for whom it was the last step in the stage before dropping out.
    pub exits: u64,
}

#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct Count {
    pub customers: u64,
    pub events: u64,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Candidate {
    pub score: f64,
    pub text: String,
    pub touchpoint: TpKey,
    pub customer: u32,
}

/// Conversion week by week: per week (weeks since the first Monday after
/// the epoch) the customers who started in it and how many of them reached
/// the next stage within [`TREND_WINDOW`].
pub type Weekly = FxHashMap<i64, (u64, u64)>;

/// How soon after entering a stage (or meeting a touchpoint) reaching the
/// next stage counts for the weekly conversion series.
pub const TREND_WINDOW: i64 = 7 * 86_400 * 1_000_000;
/// One week in microseconds.
pub const WEEK: i64 = 7 * 86_400 * 1_000_000;
/// 1970-01-05, the first Monday after the epoch, in microseconds.
const FIRST_MONDAY: i64 = 4 * 86_400 * 1_000_000;

/// The week (Monday to Sunday, UTC) of a time.
pub fn week_of(ts: i64) -> i64 {
    (ts - FIRST_MONDAY).div_euclid(WEEK)
}

/// When a week starts.
pub fn week_start(week: i64) -> i64 {
    week * WEEK + FIRST_MONDAY
}

fn merge_weekly(a: &mut Weekly, b: Weekly) {
    for (w, (n, x)) in b {
        let e = a.entry(w).or_insert((0, 0));
        e.0 += n;
        e.1 += x;
    }
}

/// One friction event in one stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FrictionCount {
    pub events: u64,
    pub customers: u64,
    pub converted: u64,
}

/// Statistics of one stage for one persona group (mergeable).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct StageStats {
    pub reached: u64,
    pub converted: u64,
    pub current_active: u64,
    pub current_churned: u64,
    pub to_next: Vec<f64>,
    pub touchpoints: FxHashMap<TpKey, TpStats>,
    pub actions: FxHashMap<u32, Count>,
    pub channels: FxHashMap<u32, Count>,
    pub friction: u64,
    pub friction_converted: u64,
    /// Per friction event: its events, the customers who met it in the
    /// stage, and how many of them reached the next stage.
    pub friction_events: FxHashMap<u32, FrictionCount>,
    /// Weekly conversion to the next stage of the customers who entered
    /// the stage, and of those who met each touchpoint in it (first time).
    pub weekly: Weekly,
    pub weekly_touchpoints: FxHashMap<TpKey, Weekly>,
    pub retries: u64,
    pub repeated_support: u64,
    pub emotion: Moments,
    pub sentiment: Moments,
    pub emotion_customers: u64,
    /// Customers whose mean emotion in the stage is below zero.
    pub unhappy: u64,
    pub nps: [u64; 3],
    pub csat: Moments,
    pub csat_satisfied: u64,
    pub ces: Moments,
    pub negative_texts: TermCounts,
    pub other_texts: TermCounts,
    pub negative: Vec<Candidate>,
    pub positive: Vec<Candidate>,
    pub revenue: f64,
    /// Historic revenue of customers who reached this stage / stopped here.
    pub revenue_reached: f64,
    pub stopped: u64,
    pub revenue_stopped: f64,
    /// Predicted CLV of the customers who stopped here (and how many had one).
    pub clv_stopped: f64,
    pub clv_stopped_n: u64,
}

impl StageStats {
    pub fn merge(&mut self, o: StageStats) {
        self.reached += o.reached;
        self.converted += o.converted;
        self.current_active += o.current_active;
        self.current_churned += o.current_churned;
        self.clv_stopped += o.clv_stopped;
        self.clv_stopped_n += o.clv_stopped_n;
        self.to_next.extend(o.to_next);
        for (k, v) in o.touchpoints {
            let e = self.touchpoints.entry(k).or_default();
            e.customers += v.customers;
            e.events += v.events;
            e.converted += v.converted;
            e.exits += v.exits;
        }
        for (map, other) in [(&mut self.actions, o.actions), (&mut self.channels, o.channels)] {
            for (k, v) in other {
                let e = map.entry(k).or_default();
                e.customers += v.customers;
                e.events += v.events;
            }
        }
        self.friction += o.friction;
        self.friction_converted += o.friction_converted;
        for (k, v) in o.friction_events {
            let e = self.friction_events.entry(k).or_default();
            e.events += v.events;
            e.customers += v.customers;
            e.converted += v.converted;
        }
        merge_weekly(&mut self.weekly, o.weekly);
        for (k, v) in o.weekly_touchpoints {
            merge_weekly(self.weekly_touchpoints.entry(k).or_default(), v);
        }
        self.retries += o.retries;
        self.repeated_support += o.repeated_support;
        self.emotion.merge(&o.emotion);
        self.sentiment.merge(&o.sentiment);
        self.emotion_customers += o.emotion_customers;
        self.unhappy += o.unhappy;
        for i in 0..3 {
            self.nps[i] += o.nps[i];
        }
        self.csat.merge(&o.csat);
        self.csat_satisfied += o.csat_satisfied;
        self.ces.merge(&o.ces);
        self.negative_texts.merge(o.negative_texts);
        self.other_texts.merge(o.other_texts);
        self.negative.extend(o.negative);
        self.positive.extend(o.positive);
        prune(&mut self.negative, false);
        prune(&mut self.positive, true);
        self.revenue += o.revenue;
        self.revenue_reached += o.revenue_reached;
        self.stopped += o.stopped;
        self.revenue_stopped += o.revenue_stopped;
    }
}

/// Keeps the pool of verbatim candidates bounded (most extreme first).
pub(super) fn prune(v: &mut Vec<Candidate>, positive: bool) {
    if v.len() > VERBATIM_POOL * 2 {
        sort_candidates(v, positive);
        v.truncate(VERBATIM_POOL);
    }
}

pub(super) fn sort_candidates(v: &mut [Candidate], positive: bool) {
    v.sort_by(|a, b| {
        let o = if positive { b.score.total_cmp(&a.score) } else { a.score.total_cmp(&b.score) };
        o.then_with(|| a.customer.cmp(&b.customer)).then_with(|| a.text.cmp(&b.text))
    });
}

/// Statistics of one persona group.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct GroupStats {
    pub customers: u64,
    pub events: u64,
    pub revenue: f64,
    pub stages: Vec<StageStats>,
    pub promoters: u64,
    pub promoters_advocates: u64,
    /// Per channel: customers who touched it, and of them who reached the
    /// purchase stage (the stage entered by the purchase event).
    pub channel_customers: FxHashMap<u32, (u64, u64)>,
    pub purchasers: u64,
    /// Sum and count of predicted CLVs.
    pub clv: f64,
    pub clv_n: u64,
    /// Per touchpoint of the first interaction: customers, of them buyers.
    pub first_touch: FxHashMap<TpKey, (u64, u64)>,
}

impl GroupStats {
    pub(super) fn new(stages: usize) -> GroupStats {
        GroupStats { stages: vec![StageStats::default(); stages], ..GroupStats::default() }
    }

    pub fn merge(&mut self, o: GroupStats) {
        self.customers += o.customers;
        self.events += o.events;
        self.revenue += o.revenue;
        for (a, b) in self.stages.iter_mut().zip(o.stages) {
            a.merge(b);
        }
        self.promoters += o.promoters;
        self.promoters_advocates += o.promoters_advocates;
        for (k, (c, p)) in o.channel_customers {
            let e = self.channel_customers.entry(k).or_insert((0, 0));
            e.0 += c;
            e.1 += p;
        }
        self.purchasers += o.purchasers;
        self.clv += o.clv;
        self.clv_n += o.clv_n;
        for (k, (c, b)) in o.first_touch {
            let e = self.first_touch.entry(k).or_insert((0, 0));
            e.0 += c;
            e.1 += b;
        }
    }
}

/// The mergeable partial of the journey fold: one group per persona, plus
/// "Unassigned" last.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct JourneyPartial {
    pub groups: Vec<GroupStats>,
}
