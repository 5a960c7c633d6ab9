//! The funnel fold: each timeline's entries scanned, its level and best
//! chain counted in its group.

use super::*;

/// Time-to-convert buckets (upper bounds in seconds).
pub(super) const BUCKETS: [(&str, f64); 10] = [
    ("< 1 min", 60.0),
    ("1–10 min", 600.0),
    ("10–60 min", 3600.0),
    ("1–6 h", 21_600.0),
    ("6–24 h", 86_400.0),
    ("1–3 d", 259_200.0),
    ("3–7 d", 604_800.0),
    ("7–14 d", 1_209_600.0),
    ("14–30 d", 2_592_000.0),
    ("> 30 d", f64::INFINITY),
];

/// Mergeable statistics of one funnel group.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct GroupPartial {
    pub levels: Vec<u64>,
    /// Per step k ≥ 1: seconds from step k−1 to step k in the best chain.
    pub step_seconds: Vec<Vec<f64>>,
    pub convert_buckets: Vec<u64>,
    pub convert_seconds: Vec<f64>,
    /// Period number → (customers whose best chain started then, of them converted).
    pub trend: HashMap<i64, (u64, u64)>,
    /// Per step: customers who did it at all, in any order (its base rate).
    pub present: Vec<u64>,
    /// Per step: customers whose best chain holds it (for a step that is
    /// not optional, those whose level is above it).
    pub through: Vec<u64>,
}

impl GroupPartial {
    fn new(n: usize) -> GroupPartial {
        GroupPartial {
            levels: vec![0; n + 1],
            step_seconds: vec![Vec::new(); n],
            convert_buckets: vec![0; BUCKETS.len()],
            convert_seconds: Vec::new(),
            trend: HashMap::new(),
            present: vec![0; n],
            through: vec![0; n],
        }
    }

    fn merge(&mut self, o: GroupPartial) {
        for (a, b) in self.levels.iter_mut().zip(o.levels) {
            *a += b;
        }
        for (a, b) in self.step_seconds.iter_mut().zip(o.step_seconds) {
            a.extend(b);
        }
        for (a, b) in self.convert_buckets.iter_mut().zip(o.convert_buckets) {
            *a += b;
        }
        self.convert_seconds.extend(o.convert_seconds);
        for (a, b) in self.present.iter_mut().zip(o.present) {
            *a += b;
        }
        for (a, b) in self.through.iter_mut().zip(o.through) {
            *a += b;
        }
        for (k, (e, c)) in o.trend {
            let x = self.trend.entry(k).or_insert((0, 0));
            x.0 += e;
            x.1 += c;
        }
    }
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct FunnelPartial {
    pub all: GroupPartial,
    pub groups: HashMap<String, GroupPartial>,
}

pub struct FunnelFold<'m> {
    model: &'m Model,
    scope: &'m Scope,
    spec: &'m FunnelSpec,
    /// Per event code: bit k set when atom k (a step, or a group's member:
    /// [`FunnelSpec::atoms`]) matches the name and has no condition.
    name_mask: Vec<u32>,
    /// Per event code: bit k set when atom k matches the name and has a condition.
    cond_mask: Vec<u32>,
    /// Per step: the bits of its atoms.
    step_atoms: Vec<u32>,
    excluded: Vec<bool>,
    /// Per event code: whether a row of it can matter (step, condition or exclusion).
    relevant: Vec<bool>,
    extra_cols: Vec<Col>,
    persona: Option<usize>,
    /// A plain default-mode chain (no optional steps or groups, exclusions
    /// or per-step windows): postings are scanned step by step
    /// ([`StepScan`]), without merging the lists.
    by_step: bool,
    /// Collect (customer, level) pairs instead of only counting (tests, exports).
    pub collect_levels: bool,
}

impl<'m> FunnelFold<'m> {
    pub fn new(model: &'m Model, scope: &'m Scope, spec: &'m FunnelSpec) -> Result<FunnelFold<'m>, EngineError> {
        spec.check()?;
        let mut name_mask = vec![0u32; model.event_names.len()];
        let mut cond_mask = vec![0u32; model.event_names.len()];
        for (k, s) in spec.atoms().into_iter().enumerate() {
            let Some(ev) = &s.event else { continue };
            for (code, name) in model.event_names.iter().enumerate() {
                if glob_match(ev, name) {
                    if s.filter.is_some() {
                        cond_mask[code] |= 1 << k;
                    } else {
                        name_mask[code] |= 1 << k;
                    }
                }
            }
        }
        let mut excluded = vec![false; model.event_names.len()];
        for g in &spec.exclude {
            let m = model.events_matching(g, &format!("exclusion '{g}'"))?;
            excluded.iter_mut().zip(m).for_each(|(a, b)| *a |= b);
        }
        let relevant =
            (0..model.event_names.len()).map(|c| name_mask[c] != 0 || cond_mask[c] != 0 || excluded[c]).collect();
        let mut extra_cols = Vec::new();
        for s in spec.atoms() {
            if let Some(f) = &s.filter {
                for field in f.fields() {
                    extra_cols.extend(facts::columns(field));
                }
            }
        }
        if let Some(Breakdown::Property(p)) = &spec.breakdown {
            model
                .vocabulary()
                .check_key(&wayfarer_core::predicate::Field::Property(p.clone()))
                .map_err(|e| EngineError::InvalidQuery(format!("breakdown 'property:{p}': {e}")))?;
            extra_cols.push(Col::Properties);
        }
        let persona = model.resolve_persona(scope.persona.as_deref())?;
        Ok(FunnelFold {
            model,
            scope,
            spec,
            name_mask,
            cond_mask,
            step_atoms: spec
                .layout()
                .map(|l| l.steps.iter().map(|s| s.atoms.iter().fold(0u32, |m, a| m | 1 << a)).collect())
                .unwrap_or_else(|| (0..spec.steps.len()).map(|k| 1u32 << k).collect()),
            excluded,
            relevant,
            extra_cols,
            persona,
            by_step: spec.mode == Mode::Default
                && spec.layout().is_none()
                && spec.exclude.is_empty()
                && spec.step_windows.iter().all(Option::is_none),
            collect_levels: false,
        })
    }

    /// Builds the sorted entries of one customer from plain rows.
    fn entries_from_rows(&self, rows: &Rows, span: &Span<'_>, out: &mut Vec<(i64, u8)>) -> bool {
        let strict_order = self.spec.mode == Mode::StrictOrder;
        if !strict_order && self.scope.from.is_none() && self.scope.to.is_none() {
            // The hot path: only rows that are a step, a conditional step or
            // an exclusion can change the result; skip the rest cheaply.
            let kinds = &rows.kind[span.start..span.end];
            if !kinds.iter().any(|&k| Kind::code_is_interaction(k)) {
                return false;
            }
            for (i, &code) in rows.event[span.start..span.end].iter().enumerate() {
                if self.relevant.get(code as usize).copied().unwrap_or(false) && Kind::code_is_interaction(kinds[i]) {
                    let r = span.start + i;
                    self.push_row(rows, r, None, false, out);
                }
            }
            return true;
        }
        let mut any = false;
        for r in span.start..span.end {
            if !Kind::from_code(rows.kind[r]).is_interaction() || !self.scope.contains(rows.ts[r]) {
                continue;
            }
            any = true;
            self.push_row(rows, r, None, strict_order, out);
        }
        any
    }

    /// Adds row `r`'s entries; `at` is its place in the customer's timeline
    /// when one was built (conditions then read every field).
    fn push_row(
        &self,
        rows: &Rows,
        r: usize,
        at: Option<(&Timeline<'_>, usize)>,
        strict_order: bool,
        out: &mut Vec<(i64, u8)>,
    ) {
        let ts = rows.ts[r];
        let code = rows.event[r] as usize;
        let mut mask = self.name_mask.get(code).copied().unwrap_or(0);
        let cond = self.cond_mask.get(code).copied().unwrap_or(0);
        if cond != 0 {
            let facts = match at {
                Some((t, j)) => Facts::event(t, self.model, j),
                None => Facts::row(rows, r, self.model),
            };
            for (k, atom) in self.spec.atoms().into_iter().enumerate() {
                if cond & (1 << k) != 0 && atom.filter.as_ref().is_some_and(|f| f.eval(&facts)) {
                    mask |= 1 << k;
                }
            }
        }
        if self.excluded.get(code).copied().unwrap_or(false) && mask == 0 {
            out.push((ts, EXCLUDED));
        } else if mask == 0 {
            if strict_order {
                out.push((ts, INTERVENING));
            }
        } else {
            let mut m = mask;
            while m != 0 {
                let k = m.trailing_zeros() as u8;
                out.push((ts, STEP0 + k));
                m &= m - 1;
            }
        }
    }

    fn group_of(&self, t: Option<&Timeline<'_>>, best_first_row: Option<usize>) -> Option<String> {
        let b = self.spec.breakdown.as_ref()?;
        let t = t?;
        Some(match b {
            Breakdown::Persona => {
                t.persona.map_or_else(|| "Unassigned".to_string(), |i| self.model.personas[i].0.clone())
            }
            Breakdown::FirstChannel => {
                let c = t.channel.iter().copied().find(|&c| c != NO_CHANNEL).unwrap_or(NO_CHANNEL);
                self.model.channel_name(c).to_string()
            }
            Breakdown::Channel => match best_first_row {
                Some(j) => self.model.channel_name(t.channel[j]).to_string(),
                None => "(no step 1)".to_string(),
            },
            Breakdown::Property(p) => match best_first_row {
                Some(j) => match Facts::event(t, self.model, j).get(&Field::Property(p.clone())) {
                    Value::Null => "(none)".to_string(),
                    v => v.text().into_owned(),
                },
                None => "(no step 1)".to_string(),
            },
        })
    }
}

impl FunnelFold<'_> {
    /// A customer's sorted step entries in `scratch` (and, on the timeline
    /// path, each entry's event in `entry_rows`); the timeline when one was
    /// built; None when the customer does not count (no events in scope,
    /// another persona).
    pub(super) fn build_entries<'a>(&self, scratch: &mut Scratch, span: Span<'a>) -> Option<Option<Timeline<'a>>> {
        scratch.entries.clear();
        scratch.entry_rows.clear();
        let rows = span.rows;
        let timeline = if self.spec.needs_timeline() || self.persona.is_some() {
            let t = Timeline::build(self.model, self.scope, span)?;
            if self.persona.is_some() && t.persona != self.persona {
                return None;
            }
            Some(t)
        } else {
            None
        };
        match &timeline {
            None => {
                if !self.entries_from_rows(rows, &span, &mut scratch.entries) {
                    return None;
                }
            }
            Some(t) => {
                let strict_order = self.spec.mode == Mode::StrictOrder;
                let mut tagged: Vec<(i64, u8, usize)> = Vec::new();
                for (j, &r) in t.idx.iter().enumerate() {
                    let before = scratch.entries.len();
                    self.push_row(rows, r, Some((t, j)), strict_order, &mut scratch.entries);
                    for e in scratch.entries.drain(before..) {
                        tagged.push((e.0, e.1, j));
                    }
                }
                for (k, s) in self.spec.atoms().into_iter().enumerate() {
                    if let Some(st) = s.stage
                        && let Some(ts) = t.entry[st]
                    {
                        let j = t.idx.iter().position(|&r| rows.ts[r] >= ts).unwrap_or(0);
                        tagged.push((ts, STEP0 + k as u8, j));
                    }
                }
                tagged.sort_unstable();
                for (ts, code, j) in tagged {
                    scratch.entries.push((ts, code));
                    scratch.entry_rows.push(j);
                }
            }
        }
        sort_entries(&mut scratch.entries);
        Some(timeline)
    }

    /// The level and best chain (step times) of a customer's entries.
    pub(super) fn level_of<'s>(&self, scratch: &'s mut Scratch) -> (usize, &'s [i64]) {
        let entries = std::mem::take(&mut scratch.entries);
        let scanner = scratch.scanner.get_or_insert_with(|| self.spec.scanner());
        let level = scanner.scan(&entries);
        scratch.entries = entries;
        (level, &scratch.scanner.as_ref().expect("made above").best)
    }
}

/// The atoms a unit's entries hold (bit k: atom k), in any order.
fn present(entries: &[(i64, u8)]) -> u32 {
    entries.iter().filter(|e| e.1 >= STEP0).fold(0u32, |m, e| m | 1 << (e.1 - STEP0))
}

/// Working memory of one partition's funnel fold.
#[derive(Default)]
pub struct Scratch {
    /// Made at the first timeline (it needs the spec).
    scanner: Option<Scanner>,
    entries: Vec<(i64, u8)>,
    /// For the timeline path: the row index of each entry's event in `idx`.
    entry_rows: Vec<usize>,
    steps: StepScan,
    best: Vec<i64>,
}

impl FunnelFold<'_> {
    fn scanner<'s>(&self, scanner: &'s mut Option<Scanner>) -> &'s mut Scanner {
        scanner.get_or_insert_with(|| self.spec.scanner())
    }
}

impl Fold for FunnelFold<'_> {
    /// The counts, and (customer, level) pairs when `collect_levels` is set.
    type Partial = (FunnelPartial, Vec<(u32, u8)>);
    type Scratch = Scratch;
    type Report = FunnelReport;

    fn wire(&self) -> Option<crate::fold::Wire<Self::Partial>> {
        Some(crate::fold::Wire::serde())
    }

    fn columns(&self) -> Vec<Col> {
        let mut c = if self.spec.needs_timeline() || self.persona.is_some() {
            self.model.timeline_columns()
        } else {
            vec![Col::Timestamp, Col::EventCode, Col::KindCode]
        };
        c.extend(self.extra_cols.iter().copied());
        c.sort();
        c.dedup();
        c
    }

    fn init(&self) -> Self::Partial {
        let n = self.spec.steps.len();
        let p = FunnelPartial { all: GroupPartial::new(n), groups: HashMap::new() };
        (p, Vec::new())
    }

    fn fold(&self, acc: &mut Self::Partial, scratch: &mut Scratch, span: Span<'_>) {
        let n = self.spec.steps.len();
        let Some(timeline) = self.build_entries(scratch, span) else { return };
        let (Some(t), Unit::Sessions) = (&timeline, self.spec.per) else {
            let entries = std::mem::take(&mut scratch.entries);
            self.score(acc, scratch, &entries, 0, timeline.as_ref(), span.customer);
            scratch.entries = entries;
            return;
        };
        // Each session is a unit: its entries (contiguous, as sessions are
        // in time order) are scanned on their own.
        let entries = std::mem::take(&mut scratch.entries);
        let sessions = t.session.last().map_or(0, |&s| s as u64 + 1);
        let mut scored = 0u64;
        let mut a = 0;
        while a < entries.len() {
            let session = t.session[scratch.entry_rows[a]];
            let mut b = a + 1;
            while b < entries.len() && t.session[scratch.entry_rows[b]] == session {
                b += 1;
            }
            self.score(acc, scratch, &entries[a..b], a, Some(t), span.customer);
            scored += 1;
            a = b;
        }
        // Sessions without a step or an exclusion stay at level 0.
        let idle = sessions.saturating_sub(scored);
        acc.0.all.levels[0] += idle;
        if let Some(g) = self.group_of(Some(t), None).filter(|_| idle > 0 && self.spec.breakdown.is_some()) {
            acc.0.groups.entry(g).or_insert_with(|| GroupPartial::new(n)).levels[0] += idle;
        }
        scratch.entries = entries;
    }

    fn merge(&self, mut a: Self::Partial, b: Self::Partial) -> Self::Partial {
        a.0.all.merge(b.0.all);
        for (k, v) in b.0.groups {
            let n = self.spec.steps.len();
            a.0.groups.entry(k).or_insert_with(|| GroupPartial::new(n)).merge(v);
        }
        a.1.extend(b.1);
        a
    }

    fn finish(&self, p: Self::Partial) -> FunnelReport {
        report(self.spec, &p.0, self.scope)
    }

    /// The event codes to read postings for, when the query can be answered
    /// from postings alone: no conditions, breakdown, persona, time window or
    /// strict_order (which needs every event), and no per-customer export.
    fn postings(&self) -> Option<PostingsPlan> {
        let plain = self.spec.mode != Mode::StrictOrder
            && !self.spec.needs_timeline()
            && self.persona.is_none()
            && self.scope.from.is_none()
            && self.scope.to.is_none()
            && !self.collect_levels
            && self.cond_mask.iter().all(|&m| m == 0);
        let codes = (0..self.relevant.len() as u32).filter(|&c| self.relevant[c as usize]).collect();
        plain.then_some(PostingsPlan { codes, revenue: false })
    }

    /// Folds one partition from the postings of the step and exclusion
    /// events: a merge of the lists by row gives each customer's relevant
    /// events in timeline order.
    fn fold_postings(&self, acc: &mut Self::Partial, scratch: &mut Scratch, post: &wayfarer_store::Postings) {
        if self.by_step {
            return self.fold_postings_by_step(acc, scratch, post);
        }
        let mut processed = 0u64;
        let all = &mut acc.0.all;
        self.scanner(&mut scratch.scanner);
        let mut heads: Vec<(usize, usize, usize)> = Vec::new();
        crate::fold::walk_postings_ranges(post, |_, ranges| {
            scratch.entries.clear();
            // Each list's items are in time order: a merge of the lists by
            // time (then a pass that orders equal times by step) is cheaper
            // than sorting, above all for long timelines.
            heads.clear();
            heads.extend(ranges.iter().map(|(i, r)| (*i, r.start, r.end)));
            loop {
                let mut best: Option<(usize, i64)> = None;
                for (g, &(list, at, end)) in heads.iter().enumerate() {
                    if at < end {
                        let ts = post.lists[list].2[at];
                        if best.is_none_or(|(_, b)| ts < b) {
                            best = Some((g, ts));
                        }
                    }
                }
                let Some((g, ts)) = best else { break };
                let code = post.lists[heads[g].0].0;
                heads[g].1 += 1;
                let mask = self.name_mask.get(code as usize).copied().unwrap_or(0);
                if mask == 0 {
                    scratch.entries.push((ts, EXCLUDED));
                } else {
                    let mut m = mask;
                    while m != 0 {
                        scratch.entries.push((ts, STEP0 + m.trailing_zeros() as u8));
                        m &= m - 1;
                    }
                }
            }
            sort_entries(&mut scratch.entries);
            let scanner = scratch.scanner.as_mut().expect("made above");
            let level = scanner.scan(&scratch.entries);
            self.record(all, level, &scanner.best, present(&scratch.entries));
            processed += 1;
        });
        // Customers who met none of these events stay at level 0.
        all.levels[0] += post.interactive.saturating_sub(processed);
    }
}

impl FunnelFold<'_> {
    /// [`Fold::fold_postings`] for a plain chain: each step's events (one
    /// code's list, or a glob's codes merged by row) walked timeline by
    /// timeline and scanned step by step.
    fn fold_postings_by_step(
        &self,
        acc: &mut (FunnelPartial, Vec<(u32, u8)>),
        scratch: &mut Scratch,
        post: &wayfarer_store::Postings,
    ) {
        let n = self.spec.steps.len();
        let of_step = |k: usize| post.lists.iter().filter(move |(code, ..)| self.mask_of(*code) >> k & 1 == 1);
        let merged: Vec<Option<(Vec<u32>, Vec<i64>)>> = (0..n)
            .map(|k| {
                (of_step(k).count() > 1).then(|| {
                    let mut items: Vec<(u32, i64)> =
                        of_step(k).flat_map(|(_, rows, ts)| rows.iter().copied().zip(ts.iter().copied())).collect();
                    items.sort_unstable();
                    items.into_iter().unzip()
                })
            })
            .collect();
        let empty = (&[][..], &[][..]);
        let lists: Vec<(&[u32], &[i64])> = (0..n)
            .map(|k| match &merged[k] {
                Some((rows, ts)) => (rows.as_slice(), ts.as_slice()),
                None => of_step(k).next().map_or(empty, |(_, rows, ts)| (rows.as_slice(), ts.as_slice())),
            })
            .collect();
        let rows: Vec<&[u32]> = lists.iter().map(|l| l.0).collect();
        let mut times: Vec<&[i64]> = vec![&[]; n];
        let mut processed = 0u64;
        let all = &mut acc.0.all;
        crate::fold::walk_ranges(&post.starts, &rows, |_, ranges| {
            times.iter_mut().for_each(|t| *t = &[]);
            let mut present = 0u32;
            for (k, r) in ranges {
                times[*k] = &lists[*k].1[r.clone()];
                present |= 1 << k;
            }
            let level = scratch.steps.scan(&times, self.spec.window, &mut scratch.best);
            self.record(all, level, &scratch.best, present);
            processed += 1;
        });
        // Customers who met none of these events stay at level 0.
        all.levels[0] += post.interactive.saturating_sub(processed);
    }

    fn mask_of(&self, code: u32) -> u32 {
        self.name_mask.get(code as usize).copied().unwrap_or(0)
    }

    /// Scans one unit's entries (a customer's, or one session's, starting
    /// at entry `offset`) and counts its level in its group.
    fn score(
        &self,
        acc: &mut (FunnelPartial, Vec<(u32, u8)>),
        scratch: &mut Scratch,
        entries: &[(i64, u8)],
        offset: usize,
        timeline: Option<&Timeline<'_>>,
        customer: u32,
    ) {
        let n = self.spec.steps.len();
        let scanner = self.scanner(&mut scratch.scanner);
        let level = scanner.scan(entries);
        let best = &scanner.best;
        let best_first_row = if level > 0 {
            entries
                .iter()
                .position(|&(ts, code)| ts == best[0] && code >= STEP0 && self.step_atoms[0] >> (code - STEP0) & 1 == 1)
                .and_then(|i| scratch.entry_rows.get(offset + i).copied())
        } else {
            None
        };
        let group = self.group_of(timeline, best_first_row);
        if self.collect_levels {
            acc.1.push((customer, level as u8));
        }
        let seen = present(entries);
        self.record(&mut acc.0.all, level, best, seen);
        if let Some(g) = group {
            self.record(acc.0.groups.entry(g).or_insert_with(|| GroupPartial::new(n)), level, best, seen);
        }
    }

    /// Adds one customer's level and best chain times (a skipped optional
    /// step's is [`SKIPPED`]), and the atoms they did at all (bit k: atom k).
    fn record(&self, g: &mut GroupPartial, level: usize, best: &[i64], present: u32) {
        let n = self.spec.steps.len();
        g.levels[level] += 1;
        for (c, &atoms) in g.present.iter_mut().zip(&self.step_atoms) {
            *c += u64::from(present & atoms == atoms);
        }
        let mut previous = best.first().copied().unwrap_or(0);
        for (k, &t) in best.iter().enumerate().take(level) {
            if t == SKIPPED {
                continue;
            }
            g.through[k] += 1;
            if k > 0 {
                g.step_seconds[k].push((t - previous) as f64 / 1e6);
                previous = t;
            }
        }
        if level == n && n > 1 {
            let secs = (best[n - 1] - best[0]) as f64 / 1e6;
            let b = BUCKETS.iter().position(|(_, max)| secs < *max).unwrap_or(BUCKETS.len() - 1);
            g.convert_buckets[b] += 1;
            g.convert_seconds.push(secs);
        }
        if let (Some(p), true) = (self.spec.trend, level > 0) {
            let e = g.trend.entry(p.number(best[0])).or_insert((0, 0));
            e.0 += 1;
            if level == n {
                e.1 += 1;
            }
        }
    }
}
