//! Playing the company live (`wayfarer simulate --live`): its events as
//! Segment messages in time order ([`Playback`]), who an id belongs to,
//! what a customer does on their own (the counterfactual a real experiment
//! never sees), and how customers react to the actions a server's triggers
//! send ([`Offer`], [`EFFECTS`]), with the true effect of each trigger
//! ([`TriggerTruth`]) for the ground truth.
//!
//! The true effect is defined on the customers acted on: each reacts with
//! a known probability, independently of everything else, and reaching the
//! goal by reacting only matters to those who would not have reached it
//! anyway (on their own or through another action). So the expected
//! difference between the acted-on and the held-out arm's goal rates is
//! `p × (share of acted-on customers who would not have reached the goal
//! and whose reaction falls inside the goal's window)`, which the
//! simulator knows exactly.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use crate::Company;
use crate::event::{DAY, MINUTE};
use crate::rng::mix64;

/// What an action offers, read from its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Offer {
    /// A survey link (`survey.url`): answered through the hosted page.
    Survey,
    /// A referral offer (`referral.url`, `referral.code`): a friend clicks
    /// the link and orders with the code.
    Referral,
    /// Anything else (a reminder): the customer may order.
    Reminder,
}

impl Offer {
    pub fn of(payload: &Value) -> Offer {
        if payload["survey"]["url"].is_string() {
            Offer::Survey
        } else if payload["referral"]["code"].is_string() {
            Offer::Referral
        } else {
            Offer::Reminder
        }
    }

    /// The event a reaction to it produces (what its trigger's goal must
    /// be for the effect to be measured).
    pub fn goal_event(self) -> &'static str {
        match self {
            Offer::Survey => "Survey Responded",
            Offer::Referral => "Referral Converted",
            Offer::Reminder => "Order Completed",
        }
    }

    /// The probability that an acted-on customer reacts.
    pub fn probability(self) -> f64 {
        match self {
            Offer::Survey => EFFECTS.answer_survey,
            Offer::Referral => EFFECTS.refer,
            Offer::Reminder => EFFECTS.order_after_reminder,
        }
    }
}

/// The true effects of actions on the simulated customers.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Effects {
    /// A survey invitation is answered.
    pub answer_survey: f64,
    /// A referral offer makes the customer refer a friend who orders.
    pub refer: f64,
    /// A reminder (a cart left behind) makes the customer order.
    pub order_after_reminder: f64,
}

pub const EFFECTS: Effects = Effects { answer_survey: 0.35, refer: 0.25, order_after_reminder: 0.20 };

fn hash_str(seed: u64, s: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64 ^ seed;
    for b in s.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix64(h)
}

fn uniform(seed: u64, s: &str) -> f64 {
    (hash_str(seed, s) >> 11) as f64 / (1u64 << 53) as f64
}

/// Whether the customer reacts to this action (a fixed coin per seed and
/// occurrence, so a re-delivered action gets the same answer).
pub fn reacts(seed: u64, occurrence: &str, offer: Offer) -> bool {
    uniform(seed, &format!("react\0{occurrence}")) < offer.probability()
}

/// How long after an action arrives the customer reacts (30 minutes to a
/// day); for a referral, when the friend orders after clicking.
pub fn delay(seed: u64, occurrence: &str, what: &str) -> i64 {
    let u = uniform(seed, &format!("delay\0{what}\0{occurrence}"));
    30 * MINUTE + (u * (DAY - 30 * MINUTE) as f64) as i64
}

/// A survey score a reacting customer gives (0–10 for NPS, 1–5 for CSAT,
/// 1–7 for CES).
pub fn score(seed: u64, occurrence: &str, kind: &str) -> u32 {
    let u = uniform(seed, &format!("score\0{occurrence}"));
    let top = match kind {
        "nps" => 11.0,
        "ces" => 7.0,
        _ => 5.0,
    };
    let low = u32::from(kind != "nps");
    (low + (u * top) as u32).min(if kind == "nps" { 10 } else { top as u32 })
}

/// The company's events in time order, played up to a time.
pub struct Playback<'c> {
    company: &'c Company,
    next: usize,
    scratch: String,
    /// Event indices per customer.
    by_customer: Vec<Vec<u32>>,
    ids: HashMap<String, (u32, bool)>,
}

impl<'c> Playback<'c> {
    pub fn new(company: &'c Company) -> Playback<'c> {
        let mut by_customer = vec![Vec::new(); company.customers.len()];
        for (i, e) in company.events.iter().enumerate() {
            if let Some(v) = by_customer.get_mut(e.cust as usize) {
                v.push(i as u32);
            }
        }
        let mut ids = HashMap::new();
        for (i, c) in company.customers.iter().enumerate() {
            let i = i as u32;
            ids.insert(c.web_id.to_string(), (i, true));
            if let Some(crm) = &c.crm_id {
                ids.insert(crm.to_string(), (i, true));
            }
            for a in &c.anon {
                ids.insert(a.to_string(), (i, false));
            }
        }
        Playback { company, next: 0, scratch: String::new(), by_customer, ids }
    }

    /// The Segment messages of the events at or before `until_us` not yet
    /// played, at most `max`.
    pub fn due(&mut self, until_us: i64, max: usize) -> Result<Vec<String>, serde_json::Error> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while out.len() < max {
            let Some(e) = self.company.events.get(self.next) else { break };
            if e.ts > until_us {
                break;
            }
            buf.clear();
            crate::output::write_message(&mut buf, e, self.company.seed, &self.company.customers, &mut self.scratch)?;
            self.next += 1;
            if let Some(line) = std::str::from_utf8(&buf).ok().map(str::trim_end).filter(|l| !l.is_empty()) {
                out.push(line.to_string());
            }
        }
        Ok(out)
    }

    /// Whether every event has been played.
    pub fn finished(&self) -> bool {
        self.next >= self.company.events.len()
    }

    /// Events played so far.
    pub fn played(&self) -> usize {
        self.next
    }

    /// The simulated customer an id (user id, CRM id or anonymous id)
    /// belongs to, and whether it is a user id.
    pub fn customer(&self, id: &str) -> Option<(u32, bool)> {
        self.ids.get(id).copied()
    }

    /// Times at which the customer did `event` on their own, after
    /// `after_us` and at or before `by_us`.
    pub fn did(&self, customer: u32, event: &str, after_us: i64, by_us: i64) -> bool {
        self.by_customer.get(customer as usize).is_some_and(|v| {
            v.iter()
                .map(|&i| &self.company.events[i as usize])
                .any(|e| e.kind == wayfarer_core::Kind::Track && e.name == event && e.ts > after_us && e.ts <= by_us)
        })
    }

    /// The customer's usual order value (their own orders' mean, else a
    /// typical basket).
    pub fn order_value(&self, customer: u32) -> f64 {
        let values: Vec<f64> = self
            .by_customer
            .get(customer as usize)
            .into_iter()
            .flatten()
            .map(|&i| &self.company.events[i as usize])
            .filter(|e| e.name == "Order Completed")
            .filter_map(|e| e.extra.as_ref().and_then(|x| x.revenue))
            .collect();
        if values.is_empty() { 85.0 } else { values.iter().sum::<f64>() / values.len() as f64 }
    }
}

/// One action the simulator received, and what the customer did.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    pub trigger: String,
    pub occurrence: String,
    pub customer: String,
    pub offer: Offer,
    pub occurred_at_us: i64,
    pub due_at_us: i64,
    /// The end of the goal's window (from the payload's `goal.by`).
    pub goal_by_us: Option<i64>,
    /// The goal event named by the payload's `goal.what`.
    pub goal: Option<String>,
    /// When the reaction's goal event happens if the customer reacts.
    pub goal_at_us: i64,
    pub reacts: bool,
}

/// A trigger's true effect over the actions the simulator received.
#[derive(Debug, Clone, Serialize)]
pub struct TriggerTruth {
    pub trigger: String,
    pub offer: Offer,
    pub goal: Option<String>,
    /// Actions received (due at or before the cut-off).
    pub acted: u64,
    /// Of those, reached the goal on their own (what the held-out arm
    /// does, in expectation).
    pub reached_on_their_own: u64,
    /// Of the others, reached it through a reaction to another action (the
    /// same trigger's earlier one, say): also an effect of acting, which
    /// the held-out arm never gets.
    pub reached_by_other_actions: u64,
    /// Of the rest, whose reaction would fall inside the goal's window.
    pub could_react: u64,
    /// The customers who reacted.
    pub reacted: u64,
    pub probability: f64,
    /// The expected goal rate of the acted-on arm minus the held-out arm's.
    pub true_difference: f64,
    /// The same relative to the rate without the action.
    pub true_relative_lift: Option<f64>,
    /// The effect on these very customers (the reactions that happened, of
    /// those who would not have reached the goal otherwise): what the
    /// acted-on arm gained, without the chance of the reactions' coins.
    pub realized_difference: f64,
    /// Why the effect cannot be measured, if it cannot (the goal is not
    /// the event the offer's reaction produces).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unmeasured: Option<String>,
}

/// The true effects of the triggers: `received` are the actions due at or
/// before `cutoff_us`; `reactions` are every goal event a reaction
/// produced (customer, event, time), which count as "reached anyway" for
/// the other actions of the same customer; `played_until_us` is when the
/// simulation stopped (a reaction after it never happened).
pub fn truth(
    playback: &Playback<'_>,
    received: &[Received],
    reactions: &[(u32, &'static str, i64, String)],
    played_until_us: i64,
) -> Vec<TriggerTruth> {
    let mut by_trigger: Vec<(String, Vec<&Received>)> = Vec::new();
    for r in received {
        match by_trigger.iter_mut().find(|(t, _)| *t == r.trigger) {
            Some((_, v)) => v.push(r),
            None => by_trigger.push((r.trigger.clone(), vec![r])),
        }
    }
    by_trigger
        .into_iter()
        .map(|(trigger, list)| {
            let offer = list[0].offer;
            let goal = list[0].goal.clone();
            let event = offer.goal_event();
            let measured = goal.as_deref().map(|g| g.trim_matches(['\'', '"', ' ']));
            let unmeasured = (measured != Some(event))
                .then(|| format!("the goal is {:?}; a {offer:?} reaction produces '{event}'", goal.as_deref()));
            let (mut own, mut other, mut could, mut reacted, mut gained) = (0u64, 0u64, 0u64, 0u64, 0u64);
            for r in &list {
                let by = r.goal_by_us.unwrap_or(i64::MIN).min(played_until_us);
                let who = playback.customer(&r.customer).map(|c| c.0);
                if who.is_some_and(|c| playback.did(c, event, r.occurred_at_us, by)) {
                    own += 1;
                } else if reactions.iter().any(|(c, e, at, occ)| {
                    Some(*c) == who && *e == event && *at > r.occurred_at_us && *at <= by && *occ != r.occurrence
                }) {
                    other += 1;
                } else if r.goal_at_us <= by {
                    could += 1;
                    gained += u64::from(r.reacts);
                }
                reacted += u64::from(r.reacts && r.goal_at_us <= by);
            }
            let n = list.len() as u64;
            let p = offer.probability();
            let difference =
                if unmeasured.is_some() || n == 0 { 0.0 } else { (other as f64 + p * could as f64) / n as f64 };
            let base = own as f64 / n.max(1) as f64;
            TriggerTruth {
                trigger,
                offer,
                goal,
                acted: n,
                reached_on_their_own: own,
                reached_by_other_actions: other,
                could_react: could,
                reacted,
                probability: p,
                true_difference: difference,
                true_relative_lift: (base > 0.0).then(|| difference / base),
                realized_difference: if unmeasured.is_some() || n == 0 {
                    0.0
                } else {
                    (other + gained) as f64 / n as f64
                },
                unmeasured,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::HOUR;
    use crate::{SimConfig, generate};

    #[test]
    fn offers_are_read_from_payloads_and_coins_are_stable() {
        assert_eq!(Offer::of(&serde_json::json!({"survey": {"url": "x"}})), Offer::Survey);
        assert_eq!(Offer::of(&serde_json::json!({"referral": {"code": "AB"}})), Offer::Referral);
        assert_eq!(Offer::of(&serde_json::json!({"event": {}})), Offer::Reminder);
        let share = (0..20_000).filter(|i| reacts(7, &format!("occ{i}"), Offer::Survey)).count() as f64 / 20_000.0;
        assert!((share - EFFECTS.answer_survey).abs() < 0.02, "{share}");
        assert_eq!(reacts(7, "a", Offer::Referral), reacts(7, "a", Offer::Referral));
        let d = delay(7, "a", "react");
        assert!((30 * MINUTE..=DAY).contains(&d));
        for i in 0..200 {
            assert!(score(1, &format!("{i}"), "nps") <= 10);
            assert!((1..=5).contains(&score(1, &format!("{i}"), "csat")));
        }
    }

    #[test]
    fn playback_plays_in_time_order_and_knows_the_counterfactual() {
        let company = generate(&SimConfig { customers: 50, days: 30, ..SimConfig::default() });
        let mut p = Playback::new(&company);
        let mid = company.events[company.len() / 2].ts;
        let first = p.due(mid, usize::MAX).unwrap();
        assert!(!first.is_empty() && !p.finished());
        assert!(first.iter().all(|m| serde_json::from_str::<Value>(m).is_ok()));
        let rest = p.due(i64::MAX, usize::MAX).unwrap();
        assert_eq!(first.len() + rest.len(), company.len());
        assert!(p.finished());
        // A customer who ordered: found by their web id, and "did" sees it.
        let buyer = company.events.iter().find(|e| e.name == "Order Completed").unwrap();
        let (c, user) = p.customer(&company.customers[buyer.cust as usize].web_id).unwrap();
        assert!(user && c == buyer.cust);
        assert!(p.did(c, "Order Completed", buyer.ts - 1, buyer.ts));
        assert!(!p.did(c, "Order Completed", buyer.ts, buyer.ts));
    }

    #[test]
    fn the_true_difference_counts_only_those_who_would_not_reach_the_goal() {
        let company = generate(&SimConfig { customers: 50, days: 30, ..SimConfig::default() });
        let p = Playback::new(&company);
        let id = |i: usize| company.customers[i].web_id.to_string();
        let r = |i: usize, occ: &str, at: i64| Received {
            trigger: "t".into(),
            occurrence: occ.into(),
            customer: id(i),
            offer: Offer::Referral,
            occurred_at_us: at,
            due_at_us: at,
            goal_by_us: Some(at + 10 * DAY),
            goal: Some("Referral Converted".into()),
            goal_at_us: at + DAY,
            reacts: true,
        };
        let t0 = company.events[0].ts;
        // Customer 1 reached the goal through another action: "anyway".
        let received = vec![r(0, "a", t0), r(1, "b", t0), r(2, "late", t0 + 20 * DAY)];
        let reactions = vec![(1u32, "Referral Converted", t0 + 2 * DAY, "other".to_string())];
        let truth = truth(&p, &received, &reactions, t0 + 25 * DAY);
        let t = &truth[0];
        assert_eq!((t.acted, t.reached_on_their_own, t.reached_by_other_actions), (3, 0, 1));
        // The late one's reaction (day 21) is inside its window, and the
        // simulation stopped on day 25: in.
        assert_eq!(t.could_react, 2);
        // The other action's conversion is an effect too.
        assert!((t.true_difference - (1.0 + EFFECTS.refer * 2.0) / 3.0).abs() < 1e-12);
        let stopped = super::truth(&p, &received, &reactions, t0 + 20 * DAY + HOUR);
        assert_eq!(stopped[0].could_react, 1);
    }
}
