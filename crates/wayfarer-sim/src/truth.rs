//! The ground truth written beside the synthetic data: the hidden model
//! (personas with their shares, transition probabilities, channel mixes,
//! purchase processes and order values; the true channel effects), the
//! injected pain points with the values measured in the simulation, what the
//! customers actually reached (overall and per persona), and every customer's
//! persona and identities, so tests can check that Wayfarer recovers them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::customer::CustomerOut;
use crate::event::format_ts;
use crate::model::{Channel, DEAL_HUNTER, PERSONAS, STAGES, effect_sum, shift_logit};

/// Everything the simulation knows and the data only shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroundTruth {
    pub company: String,
    pub seed: u64,
    /// Number of simulated customers (identified or not).
    pub customers: u64,
    /// Number of events generated.
    pub events: u64,
    /// The simulated window, RFC 3339.
    pub start: String,
    pub end: String,
    /// The stage names, in order.
    pub stages: Vec<String>,
    pub personas: Vec<PersonaTruth>,
    /// True additive effect of each channel on the log-odds of the
    /// Decision→Purchase transition (once per distinct channel touched
    /// before deciding).
    pub channel_effects: BTreeMap<String, f64>,
    /// Channels sorted by effect, descending.
    pub channel_ranking: Vec<String>,
    /// First purchases each channel caused, in expectation: for every
    /// first-purchase decision inside the window, the Shapley value of each
    /// touched channel in the true purchase probability (base probability
    /// shifted by the effects of the channels present), summed. This is what
    /// a data-driven attribution of first purchases estimates.
    pub channel_contributions: BTreeMap<String, f64>,
    /// Channels that took part in a decision, by contribution, descending.
    pub contribution_ranking: Vec<String>,
    /// Expected first purchases credited to each channel: the same Shapley
    /// value, but of the whole purchase probability (no touch, no visit, no
    /// purchase), so the credits add up to the expected first purchases.
    /// This is what attribution models share out; compare their rankings.
    pub channel_credit: BTreeMap<String, f64>,
    /// Channels by credit, descending.
    pub credit_ranking: Vec<String>,
    /// First-purchase decisions inside the window.
    pub decisions: u64,
    pub pain_points: Vec<PainPoint>,
    /// The company's dated change, if it made one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intervention: Option<InterventionTruth>,
    pub realized: Realized,
    pub customer_list: Vec<CustomerTruth>,
}

/// What changed on a date, and where a comparison around it should see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InterventionTruth {
    /// RFC 3339.
    pub at: String,
    pub description: String,
    pub persona: String,
    /// The stage whose conversion to the next changes, and the pain point it fixes.
    pub stage: String,
    pub pain_point: String,
    /// Share of the shipping-page exits that buy instead.
    pub recovered: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PersonaTruth {
    pub key: String,
    pub name: String,
    pub share: f64,
    /// Awareness→Consideration, →Decision, →Purchase, →Retention, →Advocacy
    /// (before channel effects and the window's end).
    pub transition_probabilities: [f64; 5],
    /// Acquisition channel mix.
    pub channel_mix: BTreeMap<String, f64>,
    pub purchase: PurchaseProcess,
    /// Mean order value the baskets are drawn around (USD).
    pub mean_order_value: f64,
    /// The `signup_reason` trait that reveals the persona (85% of the time).
    pub signup_reason: String,
}

/// The repeat-purchase process: λ ~ Gamma(r, α) purchases per day (α a
/// rate), dropout after each repeat purchase with p ~ Beta(a, b).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PurchaseProcess {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PainPoint {
    pub id: String,
    /// "exit_touchpoint" or "negative_emotion".
    pub kind: String,
    pub stage: String,
    /// Persona key, when the pain point concerns one persona.
    pub persona: Option<String>,
    pub touchpoint: Option<String>,
    pub url_pattern: Option<String>,
    /// Terms the negative texts mention.
    pub terms: Vec<String>,
    pub description: String,
    pub affected_customers: u64,
    /// Values measured in the simulated data.
    pub metrics: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Realized {
    pub overall: StageCounts,
    /// By persona key.
    pub by_persona: BTreeMap<String, StageCounts>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StageCounts {
    pub customers: u64,
    /// Customers who reached stage k or a later one (skipped stages count).
    pub reached: [u64; 6],
    /// reached[k+1] / reached[k].
    pub conversion: [f64; 5],
    pub identified: u64,
    /// Customers who reached Purchase without a Consideration or Decision
    /// event (phone orders: the stage-skipping case).
    pub skipped_to_purchase: u64,
    pub orders: u64,
    pub revenue: f64,
    pub mean_order_value: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomerTruth {
    /// Persona key.
    pub persona: String,
    pub user_ids: Vec<String>,
    pub anonymous_ids: Vec<String>,
    /// Index of the furthest stage reached (0 = Awareness).
    pub stage_reached: usize,
    pub identified: bool,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

impl StageCounts {
    fn add(&mut self, c: &CustomerOut) {
        self.customers += 1;
        for r in self.reached.iter_mut().take(c.facts.stage_reached.min(5) + 1) {
            *r += 1;
        }
        if c.facts.identified {
            self.identified += 1;
        }
        if c.facts.phone_skip {
            self.skipped_to_purchase += 1;
        }
        self.orders += c.facts.orders;
        self.revenue += c.facts.revenue;
    }

    fn finish(&mut self) {
        for k in 0..5 {
            self.conversion[k] = ratio(self.reached[k + 1] as f64, self.reached[k] as f64);
        }
        self.revenue = (self.revenue * 100.0).round() / 100.0;
        self.mean_order_value = (ratio(self.revenue, self.orders as f64) * 100.0).round() / 100.0;
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Each channel's expected contribution to first purchases (see
/// [`GroundTruth::channel_contributions`]), over the channels that took
/// part in some decision; their credit (see [`GroundTruth::channel_credit`]);
/// and the number of decisions.
#[allow(clippy::type_complexity)]
fn channel_contributions(customers: &[CustomerOut]) -> (Vec<(Channel, f64)>, Vec<(Channel, f64)>, u64) {
    let mut total = [0.0f64; Channel::ALL.len()];
    let mut credit = [0.0f64; Channel::ALL.len()];
    let mut seen = [false; Channel::ALL.len()];
    let mut decisions = 0;
    for (base, touched) in customers.iter().filter_map(|c| c.facts.decision) {
        decisions += 1;
        let present: Vec<usize> = (0..Channel::ALL.len()).filter(|&i| touched & Channel::ALL[i].bit() != 0).collect();
        let k = present.len();
        let worth = |mask: u32| -> f64 {
            let bits = present
                .iter()
                .enumerate()
                .filter(|(j, _)| mask & (1 << j) != 0)
                .fold(0u16, |a, (_, &i)| a | Channel::ALL[i].bit());
            shift_logit(base, effect_sum(bits))
        };
        let fact = |n: usize| -> f64 { (2..=n).map(|i| i as f64).product() };
        for (j, &i) in present.iter().enumerate() {
            seen[i] = true;
            let (mut phi, mut whole) = (0.0, 0.0);
            for s in 0..(1u32 << k) {
                if s & (1 << j) == 0 {
                    let m = s.count_ones() as usize;
                    let w = fact(m) * fact(k - m - 1) / fact(k);
                    let with = worth(s | (1 << j));
                    phi += w * (with - worth(s));
                    whole += w * (with - if s == 0 { 0.0 } else { worth(s) });
                }
            }
            total[i] += phi;
            credit[i] += whole;
        }
    }
    let pick = |t: &[f64]| (0..Channel::ALL.len()).filter(|&i| seen[i]).map(|i| (Channel::ALL[i], t[i])).collect();
    (pick(&total), pick(&credit), decisions)
}

/// Builds the ground truth from the finished customers.
pub(crate) fn build(
    seed: u64,
    start: i64,
    end: i64,
    customers: &[CustomerOut],
    events: u64,
    intervention: Option<crate::Intervention>,
) -> GroundTruth {
    let personas = PERSONAS
        .iter()
        .map(|p| PersonaTruth {
            key: p.key.to_string(),
            name: p.name.to_string(),
            share: p.share,
            transition_probabilities: p.transitions,
            channel_mix: p.channels.iter().map(|(c, s)| (c.name().to_string(), *s)).collect(),
            purchase: PurchaseProcess { r: p.r, alpha: p.alpha, a: p.a, b: p.b },
            mean_order_value: p.mean_order_value,
            signup_reason: p.signup_reason.to_string(),
        })
        .collect();
    let channel_effects: BTreeMap<String, f64> =
        Channel::ALL.iter().map(|c| (c.name().to_string(), c.effect())).collect();
    let mut ranking: Vec<Channel> = Channel::ALL.to_vec();
    ranking.sort_by(|a, b| b.effect().total_cmp(&a.effect()).then_with(|| a.name().cmp(b.name())));

    let (contributions, credit, decisions) = channel_contributions(customers);
    let rank = |v: &[(Channel, f64)]| -> Vec<String> {
        let mut r = v.to_vec();
        r.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.name().cmp(b.0.name())));
        r.iter().map(|c| c.0.name().to_string()).collect()
    };
    let contribution_ranking = rank(&contributions);
    let credit_ranking = rank(&credit);

    let mut overall = StageCounts::default();
    let mut by_persona: BTreeMap<String, StageCounts> =
        PERSONAS.iter().map(|p| (p.key.to_string(), StageCounts::default())).collect();
    // Pain point 1: exits at the shipping page among Decision drop-outs.
    let (mut dh_drop, mut dh_exit, mut other_drop, mut other_exit) = (0u64, 0u64, 0u64, 0u64);
    // Pain point 2: late deliveries.
    let mut deliveries = [0u64; 4];
    let (mut csat_late, mut csat_on_time) = ((0.0, 0u64), (0.0, 0u64));
    let mut late_repeat_customers = 0u64;
    let mut customer_list = Vec::with_capacity(customers.len());
    for c in customers {
        let persona = PERSONAS.get(c.meta.persona).map_or("unknown", |p| p.key);
        overall.add(c);
        if let Some(s) = by_persona.get_mut(persona) {
            s.add(c);
        }
        if let Some(shipping) = c.facts.exit_at_shipping {
            if c.meta.persona == DEAL_HUNTER {
                dh_drop += 1;
                dh_exit += u64::from(shipping);
            } else {
                other_drop += 1;
                other_exit += u64::from(shipping);
            }
        }
        for (d, x) in deliveries.iter_mut().zip(c.facts.deliveries) {
            *d += x;
        }
        if c.facts.deliveries[3] > 0 {
            late_repeat_customers += 1;
        }
        csat_late.0 += c.facts.csat_late.0;
        csat_late.1 += c.facts.csat_late.1;
        csat_on_time.0 += c.facts.csat_on_time.0;
        csat_on_time.1 += c.facts.csat_on_time.1;
        customer_list.push(CustomerTruth {
            persona: persona.to_string(),
            user_ids: c.facts.user_ids.clone(),
            anonymous_ids: c.facts.anonymous_ids.clone(),
            stage_reached: c.facts.stage_reached,
            identified: c.facts.identified,
        });
    }
    overall.finish();
    for s in by_persona.values_mut() {
        s.finish();
    }

    let dh_rate = ratio(dh_exit as f64, dh_drop as f64);
    let other_rate = ratio(other_exit as f64, other_drop as f64);
    let shipping = PainPoint {
        id: "shipping-costs-exit".to_string(),
        kind: "exit_touchpoint".to_string(),
        stage: "Decision".to_string(),
        persona: Some(PERSONAS[DEAL_HUNTER].key.to_string()),
        touchpoint: Some("Shipping costs page".to_string()),
        url_pattern: Some("*/checkout/shipping*".to_string()),
        terms: vec!["shipping".to_string(), "costs".to_string()],
        description: "Deal hunters who drop out of Decision leave right after the shipping costs \
                      page (/checkout/shipping): it is their last interaction in the stage far \
                      more often than for the other personas, who leave at the cart, the start \
                      of checkout or the payment page."
            .to_string(),
        affected_customers: dh_exit,
        metrics: BTreeMap::from([
            ("exit_rate_persona".to_string(), round4(dh_rate)),
            ("exit_rate_others".to_string(), round4(other_rate)),
            ("dropouts_persona".to_string(), dh_drop as f64),
            ("dropouts_others".to_string(), other_drop as f64),
            ("exits_persona".to_string(), dh_exit as f64),
            ("exits_others".to_string(), other_exit as f64),
        ]),
    };
    let first = deliveries[0] + deliveries[1];
    let repeat = deliveries[2] + deliveries[3];
    let late = PainPoint {
        id: "late-repeat-deliveries".to_string(),
        kind: "negative_emotion".to_string(),
        stage: "Retention".to_string(),
        persona: None,
        touchpoint: None,
        url_pattern: None,
        terms: vec!["delivery".to_string(), "late".to_string()],
        description: "Deliveries of repeat orders are often late (5–12 days), far more than \
                      first orders; late deliveries bring low CSAT scores, negative comments \
                      about the late delivery and support tickets, so the Retention stage's \
                      emotion is negative."
            .to_string(),
        affected_customers: late_repeat_customers,
        metrics: BTreeMap::from([
            ("late_share_retention".to_string(), round4(ratio(deliveries[3] as f64, repeat as f64))),
            ("late_share_purchase".to_string(), round4(ratio(deliveries[1] as f64, first as f64))),
            ("deliveries_retention".to_string(), repeat as f64),
            ("deliveries_purchase".to_string(), first as f64),
            ("csat_mean_late".to_string(), round4(ratio(csat_late.0, csat_late.1 as f64))),
            ("csat_mean_on_time".to_string(), round4(ratio(csat_on_time.0, csat_on_time.1 as f64))),
            ("csat_responses_late".to_string(), csat_late.1 as f64),
            ("csat_responses_on_time".to_string(), csat_on_time.1 as f64),
        ]),
    };

    GroundTruth {
        company: "Northwind Outfitters".to_string(),
        seed,
        customers: customers.len() as u64,
        events,
        start: format_ts(start, 0),
        end: format_ts(end, 0),
        stages: STAGES.iter().map(|s| (*s).to_string()).collect(),
        personas,
        channel_effects,
        channel_ranking: ranking.iter().map(|c| c.name().to_string()).collect(),
        contribution_ranking,
        channel_contributions: contributions.iter().map(|(c, v)| (c.name().to_string(), round4(*v))).collect(),
        channel_credit: credit.iter().map(|(c, v)| (c.name().to_string(), round4(*v))).collect(),
        credit_ranking,
        decisions,
        intervention: intervention.map(|iv| InterventionTruth {
            at: format_ts(iv.at_micros, 0),
            description: crate::Intervention::DESCRIPTION.to_string(),
            persona: PERSONAS[crate::model::DEAL_HUNTER].name.to_string(),
            stage: "Decision".to_string(),
            pain_point: shipping.id.clone(),
            recovered: iv.recovered,
        }),
        pain_points: vec![shipping, late],
        realized: Realized { overall, by_persona },
        customer_list,
    }
}
