//! The journey map's report types.

use super::*;
pub(crate) use crate::ratio;
pub use crate::surveys::{CesReport, CsatReport, NpsReport};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JourneyMap {
    pub scope: ScopeInfo,
    pub stages: Vec<StageReport>,
    pub emotion_curve: Vec<EmotionPoint>,
    pub pain_points: Vec<pain::PainPoint>,
    pub opportunities: Vec<pain::Opportunity>,
    pub personas: Vec<PersonaSummary>,
    /// Discovery: the touchpoints of customers' first interactions, with
    /// how many of those customers bought (the map's Discovery lane;
    /// `wayfarer discovery` has channels, content, time and CLV too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discovery: Vec<FirstTouch>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirstTouch {
    pub touchpoint: String,
    pub customers: u64,
    /// Of the scope's customers.
    pub share: f64,
    pub buyers: u64,
    pub conversion: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScopeInfo {
    pub persona: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub customers: u64,
    pub events: u64,
    pub revenue: f64,
    /// Whether any event of the data carries revenue: without it the value
    /// lanes have nothing to show (not $0.00).
    #[serde(default = "yes")]
    pub has_revenue: bool,
    /// Whether any event of the data carries a survey score or a text.
    #[serde(default = "yes")]
    pub has_emotion: bool,
    pub data_start: String,
    pub data_end: String,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageReport {
    pub index: usize,
    pub name: String,
    pub description: String,
    pub customers: u64,
    pub share: f64,
    pub conversion_to_next: Option<f64>,
    pub drop_off: Option<f64>,
    pub dropped: u64,
    pub median_time_to_next_seconds: Option<f64>,
    pub p90_time_to_next_seconds: Option<f64>,
    /// Times to the next stage as counts per half-octave bin
    /// ([`wayfarer_models::stats::time_bin`]): what a comparison of two
    /// maps tests (Mann–Whitney) without the samples.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub time_to_next_bins: Vec<u64>,
    /// Customers whose current stage this is: still active / churned.
    pub current_active: u64,
    pub current_churned: u64,
    pub revenue: f64,
    /// What the customers whose current stage this is are worth.
    pub value: StageValue,
    pub touchpoints: Vec<TouchpointReport>,
    pub actions: Vec<ActionReport>,
    pub channels: Vec<ChannelReport>,
    pub favourite_channel: Option<String>,
    /// The favourite among channels a team can act on (not Direct or
    /// Unassigned): how to reach these customers.
    pub actionable_channel: Option<String>,
    /// The channel most over-represented against the baseline (lift above
    /// 1.2, at least the map's minimum of customers).
    pub distinctive_channel: Option<String>,
    pub emotion: EmotionReport,
    pub friction: FrictionReport,
    pub pain_points: Vec<pain::PainPoint>,
    pub opportunities: Vec<pain::Opportunity>,
    pub verbatims: Vec<Verbatim>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageValue {
    /// Customers whose current stage this is.
    pub customers: u64,
    /// Their mean historic revenue.
    pub mean_revenue: Option<f64>,
    /// Their mean predicted CLV (BG/NBD and Gamma-Gamma; purchasers only).
    pub mean_predicted_clv: Option<f64>,
    pub predicted_customers: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TouchpointReport {
    pub name: String,
    /// Defined in the configuration (as opposed to an event that is its own touchpoint).
    pub configured: bool,
    pub customers: u64,
    pub events: u64,
    /// Share of the stage's customers who touched it.
    pub reach: f64,
    pub conversion_with: Option<f64>,
    pub conversion_without: Option<f64>,
    /// conversion_with / conversion_without.
    pub lift: Option<f64>,
    pub exits: u64,
    pub exit_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionReport {
    pub event: String,
    pub customers: u64,
    pub events: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelReport {
    pub channel: String,
    pub customers: u64,
    pub events: u64,
    /// Share of the stage's customers who used it.
    pub share: f64,
    /// `share` against the same channel's share in the baseline: the other
    /// personas at this stage (a persona's map), or every stage (the map of
    /// all customers). Above 1: over-represented here.
    pub lift: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmotionReport {
    /// Mean of text sentiments and survey scores mapped to [−1, 1].
    pub score: Option<f64>,
    /// Their standard deviation (for comparisons of two maps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_sd: Option<f64>,
    pub n: u64,
    pub customers: u64,
    pub sentiment: Option<f64>,
    pub texts: u64,
    pub nps: Option<NpsReport>,
    pub csat: Option<CsatReport>,
    pub ces: Option<CesReport>,
    pub negative_terms: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Term {
    pub term: String,
    /// Share of the stage's negative texts that contain it.
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrictionReport {
    pub customers: u64,
    pub share: f64,
    pub conversion_with: Option<f64>,
    pub conversion_without: Option<f64>,
    pub retries: u64,
    pub repeated_support: u64,
    /// Each friction event met in the stage, most customers first.
    pub top_events: Vec<FrictionEventReport>,
}

/// One friction event: did the customers who met it in the stage go on to
/// the next stage as often as the stage's other customers?
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrictionEventReport {
    pub event: String,
    pub events: u64,
    pub customers: u64,
    /// Share of those customers who reached the next stage (None in the last stage).
    pub conversion_with: Option<f64>,
    /// The same share among the stage's customers who did not meet it.
    pub conversion_without: Option<f64>,
    /// `conversion_with - conversion_without` and its 95 % interval.
    pub difference: Option<f64>,
    pub difference_low: Option<f64>,
    pub difference_high: Option<f64>,
    /// Two-proportion z-test.
    pub p_value: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verbatim {
    pub text: String,
    pub sentiment: f64,
    pub tone: String,
    pub touchpoint: String,
    pub customer: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmotionPoint {
    pub stage: String,
    pub score: Option<f64>,
    pub n: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonaSummary {
    pub name: String,
    pub description: String,
    pub customers: u64,
    pub share: f64,
    pub favourite_channel: Option<String>,
    pub reached: Vec<u64>,
    pub revenue: f64,
    pub mean_revenue: f64,
    /// Mean predicted CLV of the persona's purchasers.
    pub mean_predicted_clv: Option<f64>,
    /// NPS over the persona's answers, in every stage.
    pub nps: Option<f64>,
    pub nps_responses: u64,
}
