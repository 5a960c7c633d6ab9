//! The journey fold: each timeline into its persona group's statistics.

use super::*;

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
    seen_tp: Vec<(u8, TpKey)>,
    tp_times: Vec<(u8, TpKey, i64)>,
    seen_action: Vec<(u8, u32)>,
    seen_channel: Vec<(u8, u32)>,
    friction_met: Vec<(u8, u32)>,
    channels_touched: Vec<u32>,
    entries: Vec<(i64, u8)>,
    scanner: Option<Scanner>,
}

impl Fold for JourneyFold<'_> {
    type Partial = JourneyPartial;
    type Scratch = Scratch;
    type Report = Vec<JourneyMap>;

    fn columns(&self) -> Vec<Col> {
        let mut c = self.model.timeline_columns();
        c.extend([Col::Revenue, Col::Score, Col::Survey, Col::Text]);
        c
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
        let g = &mut p.groups[self.personas.of(&t).unwrap_or(self.personas.names.len())];
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
        // Stage reach and time to next come from the funnel engine: a funnel over
        // stage entries with no window (the numbers `wayfarer funnel stage:…` gives).
        let entries = &mut scratch.entries;
        entries.clear();
        entries.extend(t.entry.iter().enumerate().filter_map(|(k, e)| e.map(|ts| (ts, STEP0 + k as u8))));
        let scanner = scratch
            .scanner
            .get_or_insert_with(|| Scanner::new(k_stages, i64::MAX, Mode::Default, vec![None; k_stages]));
        let level = scanner.scan(entries);
        let times = &scanner.best;
        let reached: Vec<bool> = (0..k_stages).map(|k| k < level).collect();
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
        // Per-event pass.
        let n = t.idx.len();
        let Scratch { seen_tp, tp_times, seen_action, seen_channel, friction_met, channels_touched, .. } = scratch;
        seen_tp.clear();
        tp_times.clear();
        seen_action.clear();
        seen_channel.clear();
        friction_met.clear();
        channels_touched.clear();
        let mut friction = vec![false; k_stages];
        let mut support = vec![0u32; k_stages];
        let mut emotion_seen = vec![Moments::default(); k_stages];
        let mut last_touch: Vec<Option<TpKey>> = vec![None; k_stages];
        // Whether that last touch was a purchase: an order is an outcome,
        // never where a customer got stuck, so it is not an exit touchpoint.
        let mut last_was_purchase = vec![false; k_stages];
        let mut max_nps: Option<f64> = None;
        for j in 0..n {
            let s = t.stage[j];
            if s == NO_STAGE {
                continue;
            }
            let su = s as usize;
            let r = t.idx[j];
            let event = rows.event[r];
            let tp = t.touchpoint(m, j);
            let st = &mut g.stages[su];
            st.touchpoints.entry(tp).or_default().events += 1;
            seen_tp.push((s, tp));
            tp_times.push((s, tp, rows.ts[r]));
            st.actions.entry(event).or_default().events += 1;
            seen_action.push((s, event));
            let passive = Model::flag(&m.is_passive, event);
            if !passive && t.channel[j] != NO_CHANNEL {
                st.channels.entry(t.channel[j]).or_default().events += 1;
                seen_channel.push((s, t.channel[j]));
            }
            if !passive {
                last_touch[su] = Some(tp);
                last_was_purchase[su] = t.nth_purchase[j] > 0;
            }
            if Model::flag(&m.is_friction, event) {
                friction[su] = true;
                st.friction_events.entry(event).or_default().events += 1;
                friction_met.push((s, event));
            }
            if j > 0 && t.stage[j - 1] == s && rows.event[t.idx[j - 1]] == event && !Model::flag(&m.is_passive, event) {
                let gap = rows.ts[r] - rows.ts[t.idx[j - 1]];
                if gap <= m.retry_within && Model::flag(&m.is_friction, event) {
                    st.retries += 1;
                }
            }
            if Model::flag(&m.is_support, event) {
                support[su] += 1;
            }
            if t.nth_purchase[j] > 0 {
                st.revenue += rows.f64_at(Col::Revenue, r).unwrap_or(0.0);
            }
            if let (Some(score), Some(survey)) = (rows.f64_at(Col::Score, r), rows.str_at(Col::Survey, r)) {
                if let Some(e) = survey_emotion(survey, score) {
                    st.emotion.add(e);
                    emotion_seen[su].add(e);
                }
                match survey {
                    "nps" => {
                        let bucket = if score >= 9.0 {
                            0
                        } else if score >= 7.0 {
                            1
                        } else {
                            2
                        };
                        st.nps[bucket] += 1;
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
            if let Some(text) = rows.str_at(Col::Text, r)
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
        seen_tp.sort_unstable();
        seen_tp.dedup();
        for &(s, tp) in seen_tp.iter() {
            let e = g.stages[s as usize].touchpoints.entry(tp).or_default();
            e.customers += 1;
            if converted(s) {
                e.converted += 1;
            }
        }
        seen_action.sort_unstable();
        seen_action.dedup();
        for &(s, a) in seen_action.iter() {
            g.stages[s as usize].actions.entry(a).or_default().customers += 1;
        }
        seen_channel.sort_unstable();
        seen_channel.dedup();
        let purchased = self.purchase_stage.is_some_and(|ps| reached[ps]);
        for &(s, c) in seen_channel.iter() {
            g.stages[s as usize].channels.entry(c).or_default().customers += 1;
            channels_touched.push(c);
        }
        channels_touched.sort_unstable();
        channels_touched.dedup();
        for &c in channels_touched.iter() {
            let e = g.channel_customers.entry(c).or_insert((0, 0));
            e.0 += 1;
            if purchased {
                e.1 += 1;
            }
        }
        if purchased {
            g.purchasers += 1;
        }
        // Weekly conversion after each touchpoint's first time in a stage.
        tp_times.sort_unstable();
        tp_times.dedup_by_key(|x| (x.0, x.1));
        for &(s, tp, ts) in tp_times.iter() {
            let next = s as usize + 1;
            if next >= k_stages {
                continue;
            }
            let soon = reached[next] && times[next] >= ts && times[next] - ts <= TREND_WINDOW;
            let w = g.stages[s as usize].weekly_touchpoints.entry(tp).or_default().entry(week_of(ts)).or_insert((0, 0));
            w.0 += 1;
            w.1 += u64::from(soon);
        }
        friction_met.sort_unstable();
        friction_met.dedup();
        for &(s, event) in friction_met.iter() {
            let went_on = converted(s);
            let f = g.stages[s as usize].friction_events.entry(event).or_default();
            f.customers += 1;
            f.converted += u64::from(went_on);
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

    /// Each map asked for, from the one merged partial.
    fn finish(&self, p: JourneyPartial) -> Vec<JourneyMap> {
        let (model, personas) = (self.model, self.personas);
        self.maps
            .iter()
            .map(|(scope, persona)| finish::finish(model, scope, *persona, &p, &self.identity, personas))
            .collect()
    }
}
