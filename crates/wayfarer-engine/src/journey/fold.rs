//! The journey fold: each timeline into its persona group's statistics.

use super::*;
use crate::timeline::TpMemo;
use wayfarer_store::PropertyRows;

pub struct JourneyFold<'m> {
    model: &'m Model,
    scope: &'m Scope,
    vader: Vader,
    purchase_stage: Option<usize>,
    personas: &'m Personas,
    predicted_clv: Option<&'m HashMap<u32, f64>>,
    identity: std::sync::Arc<wayfarer_store::IdentityGraph>,
    /// The maps `finish` draws from the one partial: each a scope (its
    /// persona named) and that persona's index.
    pub(super) maps: Vec<(Scope, Option<usize>)>,
}

impl<'m> JourneyFold<'m> {
    /// The fold of the map of `scope` (a persona in it picks that persona's
    /// map) or, with `per_persona`, of the scope's map followed by one map
    /// per persona of `inputs`, all from one pass.
    pub fn new(
        store: &Store,
        model: &'m Model,
        scope: &'m Scope,
        inputs: &'m MapInputs,
        per_persona: bool,
    ) -> Result<JourneyFold<'m>, EngineError> {
        let personas = &inputs.personas;
        let maps = if per_persona {
            let mut m = vec![(scope.without_persona(), None)];
            for (i, (name, _)) in personas.names.iter().enumerate() {
                m.push((Scope { persona: Some(name.clone()), ..scope.clone() }, Some(i)));
            }
            m
        } else {
            vec![(scope.clone(), personas.resolve(scope.persona.as_deref())?)]
        };
        Ok(JourneyFold {
            model,
            scope,
            vader: Vader::new(),
            purchase_stage: purchase_stage(model),
            personas,
            predicted_clv: inputs.predicted_clv.as_deref(),
            identity: store.identity_shared()?,
            maps,
        })
    }
}

/// Maps a survey answer to [−1, 1] by its scale.
pub fn survey_emotion(survey: &str, score: f64) -> Option<f64> {
    match survey {
        "nps" => Some((score - 5.0) / 5.0),
        "csat" => Some((score - 3.0) / 2.0),
        "ces" => Some((score - 4.0) / 3.0),
        _ => None,
    }
}

/// Working memory of one partition's journey fold, reused from customer
/// to customer.
#[derive(Default)]
pub struct Scratch {
    /// (stage, touchpoint, first time met) and how often.
    touchpoints: Tally<(u8, TpKey, i64)>,
    /// (stage, event) and how often.
    actions: Tally<(u8, u32)>,
    /// (stage, channel) and how often.
    channels: Tally<(u8, u32)>,
    /// Channels touched in any stage.
    channels_touched: Tally<u32>,
    entries: Vec<(i64, u8)>,
    scanner: Option<Scanner>,
    touchpoint_memo: TpMemo,
    /// Per stage: reached, friction met, support contacts, emotion, the last
    /// customer-initiated touchpoint and whether it was a purchase.
    reached: Vec<bool>,
    friction: Vec<bool>,
    support: Vec<u32>,
    emotion_seen: Vec<Moments>,
    last_touch: Vec<Option<TpKey>>,
    last_was_purchase: Vec<bool>,
}

/// The distinct keys one customer met, in the order first met, with how
/// often each was met. Each key has a dense slot (its index) that remembers
/// the customer (a generation number) it was last met by, so a customer's
/// tally needs neither sorting nor hashing per event, and starting the
/// next customer clears nothing but the list.
pub(crate) struct Tally<K> {
    generation: u32,
    /// Per slot: the generation that last met it and its position in `items`.
    slots: Vec<(u32, u32)>,
    pub(crate) items: Vec<(K, u32)>,
}

impl<K> Default for Tally<K> {
    fn default() -> Self {
        Tally { generation: 0, slots: Vec::new(), items: Vec::new() }
    }
}

impl<K> Tally<K> {
    /// Starts the next customer.
    pub(crate) fn reset(&mut self) {
        self.items.clear();
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.slots.fill((0, 0));
            self.generation = 1;
        }
    }

    /// Counts one meeting of `key`, whose slot is `slot`; the key is kept
    /// the first time only.
    pub(crate) fn add(&mut self, slot: usize, key: K) {
        if slot >= self.slots.len() {
            self.slots.resize((slot + 1).next_power_of_two(), (0, 0));
        }
        let s = &mut self.slots[slot];
        if s.0 == self.generation {
            self.items[s.1 as usize].1 += 1;
        } else {
            *s = (self.generation, self.items.len() as u32);
            self.items.push((key, 1));
        }
    }
}

/// A dense index of a touchpoint key (for [`Tally`] slots).
fn tp_slot(m: &Model, tp: TpKey) -> usize {
    let defined = m.touchpoints.len();
    match tp {
        TpKey::Defined(i) => i as usize,
        TpKey::None => defined,
        TpKey::Fallback(event, _) => defined + 1 + event as usize,
    }
}

impl Fold for JourneyFold<'_> {
    type Partial = JourneyPartial;
    type Scratch = Scratch;
    type Report = Vec<JourneyMap>;

    fn wire(&self) -> Option<crate::fold::Wire<Self::Partial>> {
        Some(crate::fold::Wire::serde())
    }

    fn columns(&self) -> Vec<Col> {
        let mut c = self.model.timeline_columns();
        c.extend([Col::Revenue, Col::Score, Col::Survey, Col::Text]);
        c
    }

    fn property_rows(&self) -> PropertyRows {
        self.model.property_rows()
    }

    fn init(&self) -> JourneyPartial {
        let groups = self.personas.names.len() + 1;
        JourneyPartial { groups: (0..groups).map(|_| GroupStats::new(self.model.stages())).collect() }
    }

    fn fold(&self, p: &mut JourneyPartial, scratch: &mut Scratch, span: Span<'_>) {
        let Some(t) = Timeline::build(self.model, self.scope, span) else {
            return;
        };
        let m = self.model;
        let k_stages = m.stages();
        let g = &mut p.groups[self.personas.of(m, self.scope, &t).unwrap_or(self.personas.names.len())];
        let rows = t.rows;
        let revenue = t.revenue();
        g.customers += 1;
        g.events += t.idx.len() as u64;
        g.revenue += revenue;
        let current = t.current_stage();
        let churned = t.churned(m, m.data_end);
        let clv = self.predicted_clv.and_then(|p| p.get(&t.customer).copied());
        if let Some(v) = clv {
            g.clv += v;
            g.clv_n += 1;
        }
        // The first interaction's touchpoint (not what the company sent).
        if let Some(j0) = (0..t.idx.len()).find(|&j| {
            let r = t.idx[j];
            wayfarer_core::Kind::code_is_interaction(rows.kind[r]) && !Model::flag(&m.is_passive, rows.event[r])
        }) {
            let e = g.first_touch.entry(t.touchpoint(m, j0)).or_insert((0, 0));
            e.0 += 1;
            e.1 += u64::from(t.nth_purchase.iter().any(|&n| n > 0));
        }
        // Stage reach and time to next come from the funnel engine: a funnel over
        // stage entries with no window (the numbers `wayfarer funnel stage:…` gives).
        let Scratch {
            entries,
            touchpoints,
            actions,
            channels,
            channels_touched,
            scanner,
            reached,
            friction,
            support,
            emotion_seen,
            last_touch,
            last_was_purchase,
            touchpoint_memo,
        } = scratch;
        entries.clear();
        entries.extend(t.entry.iter().enumerate().filter_map(|(k, e)| e.map(|ts| (ts, STEP0 + k as u8))));
        let scanner =
            scanner.get_or_insert_with(|| Scanner::new(k_stages, i64::MAX, Mode::Default, vec![None; k_stages]));
        let level = scanner.scan(entries);
        let times = &scanner.best;
        reached.clear();
        reached.extend((0..k_stages).map(|k| k < level));
        for k in 0..k_stages {
            if !reached[k] {
                continue;
            }
            let st = &mut g.stages[k];
            st.reached += 1;
            st.revenue_reached += revenue;
            if k + 1 < k_stages && reached[k + 1] {
                st.converted += 1;
                st.to_next.push((times[k + 1] - times[k]) as f64 / 1e6);
            }
            if k + 1 < k_stages {
                let soon = reached[k + 1] && times[k + 1] - times[k] <= TREND_WINDOW;
                let w = st.weekly.entry(week_of(times[k])).or_insert((0, 0));
                w.0 += 1;
                w.1 += u64::from(soon);
            }
            if current == Some(k) {
                st.stopped += 1;
                st.revenue_stopped += revenue;
                if let Some(v) = clv {
                    st.clv_stopped += v;
                    st.clv_stopped_n += 1;
                }
                if churned {
                    st.current_churned += 1;
                } else {
                    st.current_active += 1;
                }
            }
        }
        // Per-event pass: what each event adds is tallied per customer,
        // then added to the stage's statistics once per distinct key.
        let n = t.idx.len();
        touchpoints.reset();
        actions.reset();
        channels.reset();
        channels_touched.reset();
        friction.clear();
        friction.resize(k_stages, false);
        support.clear();
        support.resize(k_stages, 0);
        emotion_seen.clear();
        emotion_seen.resize(k_stages, Moments::default());
        last_touch.clear();
        last_touch.resize(k_stages, None);
        // Whether that last touch was a purchase: an order is an outcome,
        // never where a customer got stuck, so it is not an exit touchpoint.
        last_was_purchase.clear();
        last_was_purchase.resize(k_stages, false);
        let mut max_nps: Option<f64> = None;
        // Survey and text columns that hold nothing in this partition are
        // not looked at per event.
        let (surveys, texts) = (rows.has_values(Col::Survey), rows.has_values(Col::Text));
        for j in 0..n {
            let s = t.stage[j];
            if s == NO_STAGE {
                continue;
            }
            let su = s as usize;
            let r = t.idx[j];
            let event = rows.event[r];
            let tp = t.touchpoint_memo(m, j, touchpoint_memo);
            let st = &mut g.stages[su];
            touchpoints.add(tp_slot(m, tp) * k_stages + su, (s, tp, rows.ts[r]));
            actions.add(event as usize * k_stages + su, (s, event));
            let passive = Model::flag(&m.is_passive, event);
            let channel = t.channel[j];
            if !passive && channel != NO_CHANNEL {
                channels.add(channel as usize * k_stages + su, (s, channel));
            }
            if !passive {
                last_touch[su] = Some(tp);
                last_was_purchase[su] = t.nth_purchase[j] > 0;
            }
            let is_friction = Model::flag(&m.is_friction, event);
            if is_friction {
                friction[su] = true;
            }
            if is_friction && !passive && j > 0 && t.stage[j - 1] == s && rows.event[t.idx[j - 1]] == event {
                let gap = rows.ts[r] - rows.ts[t.idx[j - 1]];
                if gap <= m.retry_within {
                    st.retries += 1;
                }
            }
            if Model::flag(&m.is_support, event) {
                support[su] += 1;
            }
            if t.nth_purchase[j] > 0 {
                st.revenue += rows.f64_at(Col::Revenue, r).unwrap_or(0.0);
            }
            if surveys && let (Some(score), Some(survey)) = (rows.f64_at(Col::Score, r), rows.str_at(Col::Survey, r)) {
                if let Some(e) = survey_emotion(survey, score) {
                    st.emotion.add(e);
                    emotion_seen[su].add(e);
                }
                match survey {
                    "nps" => {
                        st.nps[wayfarer_models::stats::nps_group(score)] += 1;
                        max_nps = Some(max_nps.map_or(score, |m: f64| m.max(score)));
                    }
                    "csat" => {
                        st.csat.add(score);
                        if score >= 4.0 {
                            st.csat_satisfied += 1;
                        }
                    }
                    "ces" => st.ces.add(score),
                    _ => {}
                }
            }
            if texts
                && let Some(text) = rows.str_at(Col::Text, r)
                && !text.trim().is_empty()
            {
                let c = self.vader.polarity_scores(text).compound;
                st.sentiment.add(c);
                st.emotion.add(c);
                emotion_seen[su].add(c);
                let cand = Candidate { score: c, text: text.to_string(), touchpoint: tp, customer: t.customer };
                if c <= NEGATIVE {
                    st.negative_texts.add(text);
                    st.negative.push(cand);
                    prune(&mut st.negative, false);
                } else {
                    st.other_texts.add(text);
                    if c >= POSITIVE {
                        st.positive.push(cand);
                        prune(&mut st.positive, true);
                    }
                }
            }
        }
        // Exits: the last customer-initiated touchpoint of a stage the
        // customer went no further from.
        for k in 0..k_stages.saturating_sub(1) {
            if reached[k]
                && !reached[k + 1]
                && !last_was_purchase[k]
                && let Some(tp) = last_touch[k]
            {
                g.stages[k].touchpoints.entry(tp).or_default().exits += 1;
            }
        }
        let converted = |s: u8| (s as usize + 1) < k_stages && reached[s as usize + 1];
        for &((s, tp, first), events) in &touchpoints.items {
            let st = &mut g.stages[s as usize];
            let e = st.touchpoints.entry(tp).or_default();
            e.events += u64::from(events);
            e.customers += 1;
            if converted(s) {
                e.converted += 1;
            }
            // Weekly conversion after each touchpoint's first time in a stage.
            let next = s as usize + 1;
            if next < k_stages {
                let soon = reached[next] && times[next] >= first && times[next] - first <= TREND_WINDOW;
                let w = st.weekly_touchpoints.entry(tp).or_default().entry(week_of(first)).or_insert((0, 0));
                w.0 += 1;
                w.1 += u64::from(soon);
            }
        }
        for &((s, event), events) in &actions.items {
            let st = &mut g.stages[s as usize];
            let a = st.actions.entry(event).or_default();
            a.events += u64::from(events);
            a.customers += 1;
            if Model::flag(&m.is_friction, event) {
                let f = st.friction_events.entry(event).or_default();
                f.events += u64::from(events);
                f.customers += 1;
                f.converted += u64::from(converted(s));
            }
        }
        let purchased = self.purchase_stage.is_some_and(|ps| reached[ps]);
        for &((s, c), events) in &channels.items {
            let e = g.stages[s as usize].channels.entry(c).or_default();
            e.events += u64::from(events);
            e.customers += 1;
            channels_touched.add(c as usize, c);
        }
        for &(c, _) in &channels_touched.items {
            let e = g.channel_customers.entry(c).or_insert((0, 0));
            e.0 += 1;
            if purchased {
                e.1 += 1;
            }
        }
        if purchased {
            g.purchasers += 1;
        }
        for k in 0..k_stages {
            let st = &mut g.stages[k];
            if support[k] >= 2 {
                st.repeated_support += 1;
                friction[k] = true;
            }
            if friction[k] {
                st.friction += 1;
                if converted(k as u8) {
                    st.friction_converted += 1;
                }
            }
            if let Some(mean) = emotion_seen[k].mean() {
                st.emotion_customers += 1;
                if mean < 0.0 {
                    st.unhappy += 1;
                }
            }
        }
        if max_nps.is_some_and(|s| s >= 9.0) {
            g.promoters += 1;
            if reached.last().copied().unwrap_or(false) {
                g.promoters_advocates += 1;
            }
        }
    }

    fn merge(&self, mut a: JourneyPartial, b: JourneyPartial) -> JourneyPartial {
        for (x, y) in a.groups.iter_mut().zip(b.groups) {
            x.merge(y);
        }
        a
    }

    /// Each map asked for, from the one merged partial (in parallel).
    fn finish(&self, p: JourneyPartial) -> Vec<JourneyMap> {
        use rayon::prelude::*;
        let (model, personas) = (self.model, self.personas);
        self.maps
            .par_iter()
            .map(|(scope, persona)| finish::finish(model, scope, *persona, &p, &self.identity, personas))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Tally;

    #[test]
    fn a_tally_counts_each_key_once_in_the_order_first_met_and_forgets_the_last_customer() {
        let mut t: Tally<&str> = Tally::default();
        t.reset();
        for (slot, key) in [(5, "e"), (0, "a"), (5, "e"), (900, "z"), (5, "e")] {
            t.add(slot, key);
        }
        assert_eq!(t.items, [("e", 3), ("a", 1), ("z", 1)]);
        t.reset();
        t.add(0, "a");
        t.add(0, "a");
        assert_eq!(t.items, [("a", 2)], "the previous customer's slots do not count");
        // After the generation number wraps, old marks are cleared, not
        // mistaken for the current customer's.
        t.generation = u32::MAX;
        t.slots[7] = (1, 0);
        t.reset();
        assert_eq!(t.generation, 1);
        t.add(7, "g");
        assert_eq!(t.items, [("g", 1)]);
    }
}
