//! One customer's timeline, with the facts every analysis shares: the
//! interaction events inside the scope, their sessions (§4.2), effective
//! channels (§4.3: an event without traffic information takes its session's
//! channel, a session without any is Direct), purchase numbers, stage entries
//! with skipped stages filled in (§4.4), identify traits (last value wins) and
//! the customer's hand-written persona.

use serde_json::{Map, Value as Json};
use wayfarer_core::Kind;
use wayfarer_core::glob::glob_match;
use wayfarer_store::{Col, NO_CHANNEL, Rows};

use crate::Scope;
use crate::facts::Facts;
use crate::fold::Span;
use crate::model::{Model, TpInputs, TpKey};
use rustc_hash::FxHashMap;

/// Stage index meaning "before the first stage".
pub const NO_STAGE: u8 = u8::MAX;

#[derive(Debug)]
pub struct Timeline<'a> {
    pub customer: u32,
    pub rows: &'a Rows,
    /// Row indices of the interaction events in scope, in timeline order.
    pub idx: Vec<usize>,
    /// Effective channel of each event in `idx`.
    pub channel: Vec<u32>,
    /// Session number (0-based) of each event in `idx`.
    pub session: Vec<u32>,
    /// 1 for the first purchase, 2 for the second…, 0 for other events.
    pub nth_purchase: Vec<u32>,
    /// Stage of each event in `idx` (the highest stage entered at its time).
    pub stage: Vec<u8>,
    /// Effective entry time of each stage (skipped stages take the time of
    /// the later stage that implied them).
    pub entry: Vec<Option<i64>>,
    pub traits: Map<String, Json>,
    pub persona: Option<usize>,
}

impl<'a> Timeline<'a> {
    /// Builds the timeline of one customer; None if it has no interaction in scope.
    pub fn build(model: &Model, scope: &Scope, span: Span<'a>) -> Option<Timeline<'a>> {
        let rows = span.rows;
        let mut idx = Vec::with_capacity(span.end - span.start);
        let mut traits = Map::new();
        // Traits are parsed whenever a condition made the properties column be read.
        let parse_traits = rows.text(Col::Properties).is_some();
        for i in span.start..span.end {
            let kind = Kind::from_code(rows.kind[i]);
            if kind.is_interaction() {
                if scope.contains(rows.ts[i]) {
                    idx.push(i);
                }
            } else if kind == Kind::Identify
                && parse_traits
                && let Some(Ok(Json::Object(t))) = rows.str_at(Col::Properties, i).map(serde_json::from_str::<Json>)
            {
                traits.extend(t);
            }
        }
        if idx.is_empty() {
            return None;
        }
        let n = idx.len();
        // Sessions and effective channels: an event's own channel, else its
        // session's first channel, else Direct for a session with page or
        // screen views, else none (server-side events with no traffic facts).
        let mut session = vec![0u32; n];
        let mut channel = vec![NO_CHANNEL; n];
        let inherit = model.config.channels.inherit_session_channel;
        let mut s = 0u32;
        let mut start = 0usize;
        for k in 0..=n {
            let boundary = k == n || (k > 0 && model.new_session(rows.ts[idx[k - 1]], rows.ts[idx[k]]));
            if boundary && k > 0 {
                let first = idx[start..k].iter().map(|&r| rows.channel[r]).find(|&c| c != NO_CHANNEL);
                let has_view = idx[start..k].iter().any(|&r| Kind::from_code(rows.kind[r]).is_view());
                let fallback = first.unwrap_or(if has_view { model.direct } else { NO_CHANNEL });
                for j in start..k {
                    session[j] = s;
                    let r = idx[j];
                    let own = rows.channel[r];
                    channel[j] = if own != NO_CHANNEL {
                        own
                    } else if inherit {
                        fallback
                    } else if Kind::from_code(rows.kind[r]).is_view() {
                        model.direct
                    } else {
                        NO_CHANNEL
                    };
                }
                s += 1;
                start = k;
            }
        }
        // Purchases.
        let mut nth_purchase = vec![0u32; n];
        let mut count = 0;
        if let Some(pc) = model.purchase_code {
            for (j, &r) in idx.iter().enumerate() {
                if rows.event[r] == pc {
                    count += 1;
                    nth_purchase[j] = count;
                }
            }
        }
        let mut t = Timeline {
            customer: span.customer,
            rows,
            idx,
            channel,
            session,
            nth_purchase,
            stage: Vec::new(),
            entry: vec![None; model.stages()],
            traits,
            persona: None,
        };
        t.compute_stages(model);
        t.persona = t.assign_persona(model);
        Some(t)
    }

    /// Whether the customer has an interaction in scope: whether
    /// [`build`](Self::build) makes a timeline of the span.
    pub fn in_scope(scope: &Scope, span: Span<'_>) -> bool {
        let rows = span.rows;
        (span.start..span.end).any(|i| Kind::from_code(rows.kind[i]).is_interaction() && scope.contains(rows.ts[i]))
    }

    fn compute_stages(&mut self, model: &Model) {
        let k = model.stages();
        let mut first: Vec<Option<i64>> = vec![None; k];
        for j in 0..self.idx.len() {
            let r = self.idx[j];
            let cands = model.rules_for(self.rows.event[r]);
            if cands.is_empty() {
                continue;
            }
            let facts = Facts::event(self, model, j);
            for &ri in cands {
                let rule = model.rule(ri);
                if first[rule.stage].is_some() {
                    continue;
                }
                if let Some(g) = &rule.channel
                    && !glob_match(g, model.channel_name(self.channel[j]))
                {
                    continue;
                }
                if rule.when.as_ref().is_none_or(|w| w.eval(&facts)) {
                    first[rule.stage] = Some(self.rows.ts[r]);
                }
            }
        }
        // Skipped stages count as reached when a later stage is.
        let mut entry = vec![None; k];
        let mut min: Option<i64> = None;
        for s in (0..k).rev() {
            min = match (min, first[s]) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            entry[s] = min;
        }
        // Stage of each event: the highest stage entered at or before it.
        // Entries are Some up to the highest stage reached and non-decreasing.
        let mut stage = Vec::with_capacity(self.idx.len());
        let mut cur = NO_STAGE;
        let mut next = 0usize;
        for &r in &self.idx {
            let ts = self.rows.ts[r];
            while next < k && entry[next].is_some_and(|e| e <= ts) {
                cur = next as u8;
                next += 1;
            }
            stage.push(cur);
        }
        self.entry = entry;
        self.stage = stage;
    }

    /// When the customer's hand-written persona became known: the time of
    /// the first identify call after which their traits so far give the
    /// persona they have now; None when no trait was needed or none was
    /// sent. (Traits arrive over time, and an analysis of a past period
    /// must not know what customers revealed only later.)
    pub fn persona_known_at(&mut self, model: &Model, span: Span<'_>) -> Option<i64> {
        let persona = self.persona?;
        let all = std::mem::take(&mut self.traits);
        let mut known = None;
        if self.assign_persona(model) != Some(persona) {
            let rows = span.rows;
            let mut last = None;
            for i in span.start..span.end {
                if Kind::from_code(rows.kind[i]) != Kind::Identify {
                    continue;
                }
                let Some(Ok(Json::Object(t))) = rows.str_at(Col::Properties, i).map(serde_json::from_str::<Json>)
                else {
                    continue;
                };
                self.traits.extend(t);
                last = Some(rows.ts[i]);
                if self.assign_persona(model) == Some(persona) {
                    break;
                }
            }
            // Found by its traits, or (it needs the whole history) at the last call.
            known = last;
        }
        self.traits = all;
        known
    }

    fn assign_persona(&self, model: &Model) -> Option<usize> {
        if model.personas.is_empty() {
            return None;
        }
        let facts = Facts::customer(self, model);
        model.personas.iter().position(|(_, _, p)| p.eval(&facts))
    }

    /// The highest stage reached, if any.
    pub fn current_stage(&self) -> Option<usize> {
        self.entry.iter().rposition(Option::is_some)
    }

    pub fn reached(&self, stage: usize) -> bool {
        self.entry.get(stage).is_some_and(Option::is_some)
    }

    pub fn first_ts(&self) -> i64 {
        self.rows.ts[self.idx[0]]
    }

    pub fn last_ts(&self) -> i64 {
        self.rows.ts[self.idx[self.idx.len() - 1]]
    }

    /// Churned: no activity for `churn_after` before the end of the data.
    pub fn churned(&self, model: &Model, end: i64) -> bool {
        end - self.last_ts() >= model.churn_after
    }

    /// Total revenue of purchase events.
    pub fn revenue(&self) -> f64 {
        self.idx
            .iter()
            .zip(&self.nth_purchase)
            .filter(|(_, n)| **n > 0)
            .filter_map(|(&r, _)| self.rows.f64_at(Col::Revenue, r))
            .sum()
    }

    /// The channel of the first event that has one ("(none)" if none has).
    pub fn first_channel(&self) -> u32 {
        self.channel.iter().copied().find(|&c| c != NO_CHANNEL).unwrap_or(NO_CHANNEL)
    }

    pub fn purchases(&self) -> u32 {
        self.nth_purchase.iter().copied().max().unwrap_or(0)
    }
}

impl Timeline<'_> {
    /// The touchpoint of event `j`: the first configured touchpoint whose
    /// event glob, channel glob and condition match.
    pub fn touchpoint(&self, model: &Model, j: usize) -> TpKey {
        let r = self.idx[j];
        let event = self.rows.event[r];
        let channel = self.channel[j];
        let facts = Facts::event(self, model, j);
        for &i in model.touchpoints_for(event) {
            let tp = &model.touchpoints[i];
            if let Some(g) = &tp.channel
                && !glob_match(g, model.channel_name(channel))
            {
                continue;
            }
            if tp.when.as_ref().is_none_or(|w| w.eval(&facts)) {
                return TpKey::Defined(i as u32);
            }
        }
        // No touchpoint matched: the event is its own touchpoint, on every
        // channel together (one exit or friction finding per event, not
        // one per event × channel; the channel lane shows the channels).
        TpKey::Fallback(event, wayfarer_store::NO_CHANNEL)
    }

    /// [`touchpoint`](Self::touchpoint), remembered in `memo` per distinct
    /// input where the configuration allows ([`TpInputs`]): the same answer,
    /// without evaluating conditions for every event.
    pub fn touchpoint_memo(&self, model: &Model, j: usize, memo: &mut TpMemo) -> TpKey {
        let r = self.idx[j];
        let event = self.rows.event[r];
        let (channel, kind, col) = match model.touchpoint_inputs(event) {
            TpInputs::Nothing => return TpKey::Fallback(event, wayfarer_store::NO_CHANNEL),
            TpInputs::Anything => return self.touchpoint(model, j),
            TpInputs::Few { channel, kind, text } => (channel, kind, text),
        };
        // The key holds only what the touchpoints read.
        let text = col.and_then(|c| self.rows.str_at(c, r));
        let key = (
            event,
            if channel { self.channel[j] } else { u32::MAX },
            if kind { self.rows.kind[r] } else { u8::MAX },
            text.is_some(),
        );
        let text = text.unwrap_or("");
        let by_text = memo.0.entry(key).or_default();
        *by_text.entry(xxhash_rust::xxh3::xxh3_128(text.as_bytes())).or_insert_with(|| self.touchpoint(model, j))
    }
}

/// Touchpoints remembered per input (see [`Timeline::touchpoint_memo`]):
/// per event code, channel and kind where they matter, and whether the text
/// is present, the touchpoint of each text (one empty text where there is
/// none), known by the text's 128-bit hash (two of a partition's texts
/// sharing one has odds of about n²/2¹²⁹); kept for one partition's fold.
#[derive(Debug, Default)]
pub struct TpMemo(FxHashMap<(u32, u32, u8, bool), FxHashMap<u128, TpKey>>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fold::{Fold, run};
    use crate::testutil::*;
    use wayfarer_core::Config;
    use wayfarer_store::Store;

    /// Builds every timeline and hands (external id, timeline) to `check`.
    fn each(store: &Store, model: &Model, mut check: impl FnMut(&str, &Timeline<'_>)) {
        struct Collect<'m>(&'m Model);
        impl Fold for Collect<'_> {
            type Partial = Vec<(u32, Vec<Option<i64>>, Vec<u8>, Vec<String>, Option<usize>, bool)>;
            type Scratch = ();
            type Report = Self::Partial;
            fn columns(&self) -> Vec<Col> {
                let mut c = self.0.timeline_columns();
                c.push(Col::Properties);
                c
            }
            fn init(&self) -> Self::Partial {
                Vec::new()
            }
            fn fold(&self, p: &mut Self::Partial, _: &mut (), span: Span<'_>) {
                if let Some(t) = Timeline::build(self.0, &Scope::default(), span) {
                    let ch = t.channel.iter().map(|c| self.0.channel_name(*c).to_string()).collect();
                    let churned = t.churned(self.0, self.0.data_end);
                    p.push((t.customer, t.entry.clone(), t.stage.clone(), ch, t.persona, churned));
                }
            }
            fn merge(&self, mut a: Self::Partial, b: Self::Partial) -> Self::Partial {
                a.extend(b);
                a
            }
            fn finish(&self, p: Self::Partial) -> Self::Partial {
                p
            }
        }
        let all = run(store, &Collect(model)).unwrap();
        let ids = store.identity().unwrap();
        for (c, entry, stage, channel, persona, churned) in all {
            let rows = Rows::default();
            let t = Timeline {
                customer: c,
                rows: &rows,
                idx: Vec::new(),
                channel: Vec::new(),
                session: Vec::new(),
                nth_purchase: Vec::new(),
                stage,
                entry,
                traits: Map::new(),
                persona,
            };
            let _ = channel;
            let _ = churned;
            check(ids.external_id(c), &t);
        }
    }

    #[test]
    fn a_remembered_touchpoint_is_the_one_its_conditions_give() {
        use wayfarer_core::config::TouchpointDef;
        // Page views told apart by URL (present, absent, equal ones), one
        // event whose touchpoint depends on its channel, one on a property.
        let mut events = Vec::new();
        for i in 0..40 {
            let u = format!("u{i}");
            let url = match i % 4 {
                0 => Some("https://shop.example/help/returns".to_string()),
                1 => Some(format!("https://shop.example/p/{}", i % 3)),
                2 => Some("https://shop.example/".to_string()),
                _ => None,
            };
            events.push(with(ev(&u, 0.0, "Page Viewed"), |e| e.url = url.clone()));
            let channel = if i % 2 == 0 { "Email" } else { "Paid Search" };
            events.push(with(ev(&u, 1.0, "Signed Up"), |e| e.channel = Some(channel.into())));
            let rating = i % 5;
            events.push(with(ev(&u, 2.0, "Product Reviewed"), |e| e.properties = format!(r#"{{"rating":{rating}}}"#)));
            events.push(ev(&u, 3.0, "Order Completed"));
        }
        let (_d, s) = store(events);
        let mut config = Config::default();
        let tp = |name: &str, event: &str, channel: Option<&str>, when: Option<&str>| TouchpointDef {
            name: name.into(),
            event: event.into(),
            channel: channel.map(Into::into),
            when: when.map(Into::into),
        };
        config.touchpoints = vec![
            tp("Help", "Page Viewed", None, Some("url ~ '*/help/*'")),
            tp("Product page", "Page Viewed", None, Some("url contains '/p/'")),
            tp("Sign-up from email", "Signed Up", Some("Email"), None),
            tp("Good review", "Product Reviewed", None, Some("properties.rating >= 3")),
            tp("Any review", "Product Reviewed", None, None),
        ];
        let m = crate::testutil::model_with(&s, &config);
        let code = |n: &str| s.event_code(n).unwrap();
        assert_eq!(
            m.touchpoint_inputs(code("Page Viewed")),
            TpInputs::Few { channel: false, kind: false, text: Some(Col::Url) }
        );
        assert_eq!(m.touchpoint_inputs(code("Signed Up")), TpInputs::Few { channel: true, kind: false, text: None });
        assert_eq!(m.touchpoint_inputs(code("Product Reviewed")), TpInputs::Anything);
        assert_eq!(m.touchpoint_inputs(code("Order Completed")), TpInputs::Nothing);
        struct Check<'m>(&'m Model);
        impl Fold for Check<'_> {
            type Partial = Vec<String>;
            type Scratch = TpMemo;
            type Report = Vec<String>;
            fn columns(&self) -> Vec<Col> {
                self.0.timeline_columns()
            }
            fn init(&self) -> Vec<String> {
                Vec::new()
            }
            fn fold(&self, p: &mut Vec<String>, memo: &mut TpMemo, span: Span<'_>) {
                let t = Timeline::build(self.0, &Scope::default(), span).unwrap();
                for j in 0..t.idx.len() {
                    let (plain, remembered) = (t.touchpoint(self.0, j), t.touchpoint_memo(self.0, j, memo));
                    assert_eq!(plain, remembered, "event {j} of customer {}", t.customer);
                    p.push(self.0.touchpoint_name(remembered));
                }
            }
            fn merge(&self, mut a: Vec<String>, b: Vec<String>) -> Vec<String> {
                a.extend(b);
                a
            }
            fn finish(&self, p: Vec<String>) -> Vec<String> {
                p
            }
        }
        let mut names = run(&s, &Check(&m)).unwrap();
        names.sort();
        names.dedup();
        let want = [
            "Any review",
            "Good review",
            "Help",
            "Order Completed",
            "Page Viewed",
            "Product page",
            "Sign-up from email",
            "Signed Up",
        ];
        assert_eq!(names, want);
    }

    #[test]
    fn skipped_stages_count_as_reached_at_the_same_time() {
        // A phone order enters Purchase directly; browsing afterwards stays in Purchase.
        let (_d, s) = store(vec![
            with(ev("phone", 0.0, "Order Completed"), |e| {
                e.channel = Some("Phone".into());
            }),
            ev("phone", 60.0, "Product Viewed"),
            ev("web", 0.0, "Page Viewed"),
            ev("web", 5.0, "Product Viewed"),
            ev("web", 10.0, "Order Completed"),
            ev("web", 3000.0, "Order Completed"),
        ]);
        let m = model(&s);
        let mut seen = 0;
        each(&s, &m, |id, t| {
            seen += 1;
            match id {
                "phone" => {
                    assert_eq!(t.entry[..4], [Some(T0); 4]);
                    assert_eq!(t.entry[4], None);
                    assert_eq!(t.stage, vec![3, 3]);
                }
                "web" => {
                    assert_eq!(t.entry[0], Some(T0));
                    assert_eq!(t.entry[1], Some(T0 + 5 * MIN));
                    // Decision was skipped: reached with Purchase.
                    assert_eq!(t.entry[2], Some(T0 + 10 * MIN));
                    assert_eq!(t.entry[3], Some(T0 + 10 * MIN));
                    assert_eq!(t.entry[4], Some(T0 + 3000 * MIN), "the second order enters Retention");
                    assert_eq!(t.stage, vec![0, 1, 3, 4]);
                }
                other => panic!("unexpected customer {other}"),
            }
        });
        assert_eq!(seen, 2);
    }

    #[test]
    fn channels_inherit_the_session_and_default_to_direct() {
        let (_d, s) = store(vec![
            ev("a", 0.0, "Page Viewed"),
            with(ev("a", 1.0, "Product Viewed"), |e| {
                e.channel = Some("Paid Search".into());
            }),
            ev("a", 2.0, "Product Added"),
            ev("a", 200.0, "Page Viewed"),
        ]);
        let m = model(&s);
        let (_d2, _) = (0, 0);
        struct Channels<'m>(&'m Model);
        impl Fold for Channels<'_> {
            type Partial = Vec<String>;
            type Scratch = ();
            type Report = Self::Partial;
            fn columns(&self) -> Vec<Col> {
                self.0.timeline_columns()
            }
            fn init(&self) -> Vec<String> {
                Vec::new()
            }
            fn fold(&self, p: &mut Vec<String>, _: &mut (), span: Span<'_>) {
                if let Some(t) = Timeline::build(self.0, &Scope::default(), span) {
                    p.extend(t.channel.iter().map(|c| self.0.channel_name(*c).to_string()));
                }
            }
            fn merge(&self, mut a: Vec<String>, b: Vec<String>) -> Vec<String> {
                a.extend(b);
                a
            }
            fn finish(&self, p: Self::Partial) -> Self::Partial {
                p
            }
        }
        let got = run(&s, &Channels(&m)).unwrap();
        assert_eq!(got, ["Paid Search", "Paid Search", "Paid Search", "Direct"]);
    }

    #[test]
    fn personas_from_traits_and_rules_with_conditions() {
        let mut config = Config::default();
        config.personas = vec![wayfarer_core::config::PersonaDef {
            name: "Pros".into(),
            description: String::new(),
            when: "traits.plan = 'pro' or orders >= 3".into(),
        }];
        let (_d, s) = store(vec![
            with(ev("p", 0.0, "Identify"), |e| {
                e.properties = r#"{"plan":"free"}"#.into();
            }),
            with(ev("p", 1.0, "Identify"), |e| {
                e.properties = r#"{"plan":"pro"}"#.into();
            }),
            ev("p", 2.0, "Page Viewed"),
            ev("q", 0.0, "Page Viewed"),
            with(ev("r", 0.0, "Product Reviewed"), |e| {
                e.properties = r#"{"rating":5}"#.into();
            }),
            with(ev("lowrating", 0.0, "Product Reviewed"), |e| {
                e.properties = r#"{"rating":2}"#.into();
            }),
        ]);
        let m = model_with(&s, &config);
        each(&s, &m, |id, t| match id {
            "p" => assert_eq!(t.persona, Some(0), "last trait value wins"),
            "q" => assert_eq!(t.persona, None),
            "r" => assert!(t.entry[5].is_some(), "a 5-star review enters Advocacy"),
            "lowrating" => assert!(t.entry[5].is_none() && t.entry[0].is_some()),
            other => panic!("{other}"),
        });
    }

    #[test]
    fn churn_after_ninety_days_of_silence() {
        let (_d, s) = store(vec![
            ev("gone", 0.0, "Page Viewed"),
            ev("here", 0.0, "Page Viewed"),
            ev("here", 91.0 * 24.0 * 60.0, "Page Viewed"),
        ]);
        let m = model(&s);
        struct Churn<'m>(&'m Model);
        impl Fold for Churn<'_> {
            type Partial = Vec<bool>;
            type Scratch = ();
            type Report = Self::Partial;
            fn columns(&self) -> Vec<Col> {
                self.0.timeline_columns()
            }
            fn init(&self) -> Vec<bool> {
                Vec::new()
            }
            fn fold(&self, p: &mut Vec<bool>, _: &mut (), span: Span<'_>) {
                if let Some(t) = Timeline::build(self.0, &Scope::default(), span) {
                    p.push(t.churned(self.0, self.0.data_end));
                }
            }
            fn merge(&self, mut a: Vec<bool>, b: Vec<bool>) -> Vec<bool> {
                a.extend(b);
                a
            }
            fn finish(&self, p: Self::Partial) -> Self::Partial {
                p
            }
        }
        let mut got = run(&s, &Churn(&m)).unwrap();
        got.sort();
        assert_eq!(got, [false, true]);
    }
}
