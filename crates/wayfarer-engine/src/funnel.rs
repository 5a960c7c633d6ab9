//! Funnels (DESIGN §4.5): exactly ClickHouse's `windowFunnel` — see
//! docs/window-funnel.md for the specification this follows line by line —
//! plus what analysts expect beyond it: exclusion events, per-step time
//! limits, breakdowns, the time-to-convert distribution, conversion per
//! period and comparison with the previous period.
//!
//! ```text
//!  timeline ──> entries (ts, step) sorted by (ts, step index)
//!           ──> scan (ClickHouse's per-level greedy slots) ──> level + step times
//!  fold: level counts, step-time samples, histogram, trend, breakdown groups
//! ```

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use wayfarer_core::Kind;
use wayfarer_core::glob::glob_match;
use wayfarer_core::predicate::{Facts as _, Field, Predicate, Scope as PScope, Value};
use wayfarer_core::time::format_duration_seconds;
use wayfarer_models::stats::quantile;
use wayfarer_store::{Col, NO_CHANNEL, Rows, Store};

use crate::facts::{self, Facts};
use crate::fold::{self, Fold, PostingsPlan, Span};
use crate::model::Model;
use crate::period::Period;
use crate::timeline::Timeline;
use crate::{EngineError, Scope};

/// The most steps a funnel may have (as ClickHouse).
pub const MAX_STEPS: usize = 32;

/// ClickHouse windowFunnel modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Default,
    StrictOrder,
    StrictDeduplication,
    StrictIncrease,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "default" => Some(Mode::Default),
            "strict_order" => Some(Mode::StrictOrder),
            "strict_deduplication" | "strict" => Some(Mode::StrictDeduplication),
            "strict_increase" => Some(Mode::StrictIncrease),
            _ => None,
        }
    }
}

/// Entry codes: exclusion events sort before intervening events, which sort
/// before steps at the same timestamp.
pub const EXCLUDED: u8 = 0;
pub const INTERVENING: u8 = 1;
/// Step `k` (0-based) has code `STEP0 + k`.
pub const STEP0: u8 = 2;

/// The reusable state of the scan.
#[derive(Debug, Clone)]
pub struct Scanner {
    n: usize,
    window: i64,
    mode: Mode,
    /// Per step (1-based k), the longest allowed time since step k−1.
    step_windows: Vec<Option<i64>>,
    set: Vec<bool>,
    first: Vec<i64>,
    last: Vec<i64>,
    /// chain[k * n .. k * n + k + 1]: timestamps of the chain in slot k.
    chain: Vec<i64>,
    /// Times of the chain that first reached the best level.
    pub best: Vec<i64>,
}

impl Scanner {
    pub fn new(n: usize, window: i64, mode: Mode, step_windows: Vec<Option<i64>>) -> Scanner {
        Scanner {
            n,
            window,
            mode,
            step_windows,
            set: vec![false; n],
            first: vec![0; n],
            last: vec![0; n],
            chain: vec![0; n * n],
            best: Vec::with_capacity(n),
        }
    }

    /// Scans entries sorted by (timestamp, code); returns the level reached.
    /// `best` holds the step times of the chain that reached it.
    pub fn scan(&mut self, entries: &[(i64, u8)]) -> usize {
        let n = self.n;
        self.set.iter_mut().for_each(|s| *s = false);
        self.best.clear();
        let mut level = 0usize;
        let mut first_event = false;
        let strict_order = self.mode == Mode::StrictOrder;
        for &(ts, code) in entries {
            if code == EXCLUDED {
                // An exclusion between steps breaks every chain in progress.
                if self.set.iter().any(|s| *s) {
                    self.set.iter_mut().for_each(|s| *s = false);
                    first_event = false;
                }
                continue;
            }
            if code == INTERVENING {
                if strict_order && first_event {
                    break;
                }
                continue;
            }
            let k = (code - STEP0) as usize;
            if k >= n {
                continue;
            }
            if k == 0 {
                self.set[0] = true;
                self.first[0] = ts;
                self.last[0] = ts;
                self.chain[0] = ts;
                first_event = true;
                if level == 0 {
                    level = 1;
                    self.best.clear();
                    self.best.push(ts);
                }
                if n == 1 {
                    return 1;
                }
            } else if (self.mode == Mode::StrictDeduplication && self.set[k])
                || (strict_order && first_event && !self.set[k - 1])
            {
                // A repeated step (strict_deduplication) or a step before its
                // predecessor (strict_order) ends the scan.
                break;
            } else if self.set[k - 1] {
                let (first, prev) = (self.first[k - 1], self.last[k - 1]);
                let mut ok = ts <= first.saturating_add(self.window);
                if self.mode == Mode::StrictIncrease {
                    ok &= prev < ts;
                }
                if let Some(Some(limit)) = self.step_windows.get(k) {
                    ok &= ts - prev <= *limit;
                }
                if ok {
                    self.set[k] = true;
                    self.first[k] = first;
                    self.last[k] = ts;
                    let (src, dst) = ((k - 1) * n, k * n);
                    self.chain.copy_within(src..src + k, dst);
                    self.chain[dst + k] = ts;
                    if k + 1 > level {
                        level = k + 1;
                        self.best.clear();
                        self.best.extend_from_slice(&self.chain[dst..dst + k + 1]);
                    }
                    if k + 1 == n {
                        return n;
                    }
                }
            }
        }
        level
    }
}

/// Sorts entries by (timestamp, code). They usually arrive in time order,
/// so only ties need reordering: an insertion sort does that in one pass,
/// and gives way to a full sort if the input turns out not to be ordered.
pub fn sort_entries(entries: &mut [(i64, u8)]) {
    let mut moves = 0usize;
    for i in 1..entries.len() {
        let mut j = i;
        while j > 0 && entries[j - 1] > entries[j] {
            entries.swap(j - 1, j);
            j -= 1;
            moves += 1;
        }
        if moves > entries.len() {
            entries.sort_unstable();
            return;
        }
    }
}

// ------------------------------------------------------------------ spec

/// One funnel step: an event (exact name or glob) with an optional
/// condition, or entering a stage.
#[derive(Debug, Clone)]
pub struct Step {
    pub label: String,
    pub event: Option<String>,
    pub filter: Option<Predicate>,
    pub stage: Option<usize>,
}

impl Step {
    /// Parses `Event Name`, `Event Name[condition]` or `stage:Stage Name`;
    /// an event name or glob that matches no event of the data is an error
    /// naming it and the closest name.
    pub fn parse(text: &str, model: &Model) -> Result<Step, EngineError> {
        let step = Step::parse_allowing_absent(text, model)?;
        if let Some(event) = &step.event {
            model.events_matching(event, &format!("step '{}'", step.label))?;
        }
        Ok(step)
    }

    /// [`Step::parse`] without the check that the event occurs: for
    /// conformance with ClickHouse, whose `windowFunnel` takes a condition on
    /// an event absent from the data (the chain stops there).
    pub fn parse_allowing_absent(text: &str, model: &Model) -> Result<Step, EngineError> {
        let t = text.trim();
        if let Some(name) = t.strip_prefix("stage:") {
            let k = model.stage_names.iter().position(|s| s.eq_ignore_ascii_case(name.trim())).ok_or_else(|| {
                EngineError::InvalidQuery(format!(
                    "step '{t}': no stage '{}' (stages: {})",
                    name.trim(),
                    model.stage_names.join(", ")
                ))
            })?;
            return Ok(Step {
                label: format!("stage:{}", model.stage_names[k]),
                event: None,
                filter: None,
                stage: Some(k),
            });
        }
        let (event, filter) = match t.find('[') {
            Some(i) if t.ends_with(']') => {
                let cond = &t[i + 1..t.len() - 1];
                let p = Predicate::compile(cond, PScope::Event, &model.vocabulary())
                    .map_err(|e| EngineError::InvalidQuery(format!("step '{t}': condition '{cond}': {e}")))?;
                (t[..i].trim().to_string(), Some(p))
            }
            Some(_) => {
                return Err(EngineError::InvalidQuery(format!(
                    "step '{t}': a condition goes in [brackets] at the end"
                )));
            }
            None => (t.to_string(), None),
        };
        if event.is_empty() {
            return Err(EngineError::InvalidQuery(format!("step '{t}' has no event name")));
        }
        Ok(Step { label: t.to_string(), event: Some(event), filter, stage: None })
    }
}

/// How to split a funnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breakdown {
    /// Effective channel of the step-1 event.
    Channel,
    /// The customer's first channel.
    FirstChannel,
    Persona,
    /// A property of the step-1 event.
    Property(String),
}

impl Breakdown {
    pub fn parse(s: &str) -> Result<Breakdown, EngineError> {
        match s {
            "channel" => Ok(Breakdown::Channel),
            "first_channel" => Ok(Breakdown::FirstChannel),
            "persona" => Ok(Breakdown::Persona),
            _ => match s.strip_prefix("property:") {
                Some(p) if !p.is_empty() => Ok(Breakdown::Property(p.to_string())),
                _ => Err(EngineError::InvalidQuery(format!(
                    "breakdown '{s}': expected channel, first_channel, persona or property:NAME"
                ))),
            },
        }
    }
}

/// Everything that defines a funnel query.
#[derive(Debug, Clone)]
pub struct FunnelSpec {
    pub steps: Vec<Step>,
    /// In µs, measured from step 1, inclusive.
    pub window: i64,
    pub mode: Mode,
    pub exclude: Vec<String>,
    /// Per step (index 0 unused): the longest time since the previous step, µs.
    pub step_windows: Vec<Option<i64>>,
    pub breakdown: Option<Breakdown>,
    pub trend: Option<Period>,
}

impl FunnelSpec {
    pub fn new(steps: Vec<Step>, window: i64, mode: Mode) -> FunnelSpec {
        let n = steps.len();
        FunnelSpec {
            steps,
            window,
            mode,
            exclude: Vec::new(),
            step_windows: vec![None; n],
            breakdown: None,
            trend: None,
        }
    }

    fn check(&self) -> Result<(), EngineError> {
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            return Err(EngineError::InvalidQuery(format!("a funnel needs 1 to {MAX_STEPS} steps")));
        }
        if self.window < 0 {
            return Err(EngineError::InvalidQuery("the window must not be negative".into()));
        }
        Ok(())
    }

    /// Whether the per-customer facts of a timeline (sessions, channels,
    /// stages, persona) are needed, or rows suffice.
    fn needs_timeline(&self) -> bool {
        self.breakdown.is_some()
            || self.steps.iter().any(|s| s.stage.is_some() || s.filter.as_ref().is_some_and(facts::needs_timeline))
    }
}

// ------------------------------------------------------------------ fold

/// Time-to-convert buckets (upper bounds in seconds).
const BUCKETS: [(&str, f64); 10] = [
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
#[derive(Debug, Clone, Default)]
pub struct GroupPartial {
    pub levels: Vec<u64>,
    /// Per step k ≥ 1: seconds from step k−1 to step k in the best chain.
    pub step_seconds: Vec<Vec<f64>>,
    pub convert_buckets: Vec<u64>,
    pub convert_seconds: Vec<f64>,
    /// Period number → (customers whose best chain started then, of them converted).
    pub trend: HashMap<i64, (u64, u64)>,
}

impl GroupPartial {
    fn new(n: usize) -> GroupPartial {
        GroupPartial {
            levels: vec![0; n + 1],
            step_seconds: vec![Vec::new(); n],
            convert_buckets: vec![0; BUCKETS.len()],
            convert_seconds: Vec::new(),
            trend: HashMap::new(),
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
        for (k, (e, c)) in o.trend {
            let x = self.trend.entry(k).or_insert((0, 0));
            x.0 += e;
            x.1 += c;
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct FunnelPartial {
    pub all: GroupPartial,
    pub groups: HashMap<String, GroupPartial>,
}

pub struct FunnelFold<'m> {
    model: &'m Model,
    scope: &'m Scope,
    spec: &'m FunnelSpec,
    /// Per event code: bit k set when step k matches the name and has no condition.
    name_mask: Vec<u32>,
    /// Per event code: bit k set when step k matches the name and has a condition.
    cond_mask: Vec<u32>,
    excluded: Vec<bool>,
    /// Per event code: whether a row of it can matter (step, condition or exclusion).
    relevant: Vec<bool>,
    extra_cols: Vec<Col>,
    persona: Option<usize>,
    /// Collect (customer, level) pairs instead of only counting (tests, exports).
    pub collect_levels: bool,
}

impl<'m> FunnelFold<'m> {
    pub fn new(model: &'m Model, scope: &'m Scope, spec: &'m FunnelSpec) -> Result<FunnelFold<'m>, EngineError> {
        spec.check()?;
        let mut name_mask = vec![0u32; model.event_names.len()];
        let mut cond_mask = vec![0u32; model.event_names.len()];
        for (k, s) in spec.steps.iter().enumerate() {
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
        for s in &spec.steps {
            if let Some(f) = &s.filter {
                for field in f.fields() {
                    extra_cols.extend(facts::column(field));
                }
            }
        }
        if let Some(Breakdown::Property(_)) = spec.breakdown {
            extra_cols.push(Col::Properties);
        }
        let persona = model.resolve_persona(scope.persona.as_deref())?;
        Ok(FunnelFold {
            model,
            scope,
            spec,
            name_mask,
            cond_mask,
            excluded,
            relevant,
            extra_cols,
            persona,
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
            for k in 0..self.spec.steps.len() {
                if cond & (1 << k) != 0 && self.spec.steps[k].filter.as_ref().is_some_and(|f| f.eval(&facts)) {
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
                    v => value_text(&v),
                },
                None => "(no step 1)".to_string(),
            },
        })
    }
}

fn value_text(v: &Value<'_>) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Num(n) => {
            if n.fract() == 0.0 {
                format!("{}", *n as i64)
            } else {
                n.to_string()
            }
        }
        Value::Str(s) => s.to_string(),
    }
}

/// Working memory of one partition's funnel fold.
#[derive(Default)]
pub struct Scratch {
    /// Made at the first timeline (it needs the spec).
    scanner: Option<Scanner>,
    entries: Vec<(i64, u8)>,
    /// For the timeline path: the row index of each entry's event in `idx`.
    entry_rows: Vec<usize>,
}

impl FunnelFold<'_> {
    fn scanner<'s>(&self, scanner: &'s mut Option<Scanner>) -> &'s mut Scanner {
        scanner.get_or_insert_with(|| {
            Scanner::new(self.spec.steps.len(), self.spec.window, self.spec.mode, self.spec.step_windows.clone())
        })
    }
}

impl Fold for FunnelFold<'_> {
    /// The counts, and (customer, level) pairs when `collect_levels` is set.
    type Partial = (FunnelPartial, Vec<(u32, u8)>);
    type Scratch = Scratch;
    type Report = FunnelReport;

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
        scratch.entries.clear();
        scratch.entry_rows.clear();
        let rows = span.rows;
        let timeline = if self.spec.needs_timeline() || self.persona.is_some() {
            let Some(t) = Timeline::build(self.model, self.scope, span) else { return };
            if self.persona.is_some() && t.persona != self.persona {
                return;
            }
            Some(t)
        } else {
            None
        };
        match &timeline {
            None => {
                if !self.entries_from_rows(rows, &span, &mut scratch.entries) {
                    return;
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
                for (k, s) in self.spec.steps.iter().enumerate() {
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
        let scanner = self.scanner(&mut scratch.scanner);
        let level = scanner.scan(&scratch.entries);
        let best = &scanner.best;
        let best_first_row = if level > 0 {
            scratch
                .entries
                .iter()
                .position(|&(ts, code)| ts == best[0] && code == STEP0)
                .and_then(|i| scratch.entry_rows.get(i).copied())
        } else {
            None
        };
        let group = self.group_of(timeline.as_ref(), best_first_row);
        if self.collect_levels {
            acc.1.push((span.customer, level as u8));
        }
        self.record(&mut acc.0.all, level, best);
        if let Some(g) = group {
            self.record(acc.0.groups.entry(g).or_insert_with(|| GroupPartial::new(n)), level, best);
        }
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
        let mut processed = 0u64;
        let all = &mut acc.0.all;
        self.scanner(&mut scratch.scanner);
        fold::walk_postings(post, |_, items| {
            scratch.entries.clear();
            for &(_, ts, code) in items {
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
            // Grouped by event, not in time order: a small sort orders them.
            scratch.entries.sort_unstable();
            let scanner = scratch.scanner.as_mut().expect("made above");
            let level = scanner.scan(&scratch.entries);
            self.record(all, level, &scanner.best);
            processed += 1;
        });
        // Customers who met none of these events stay at level 0.
        all.levels[0] += post.interactive.saturating_sub(processed);
    }
}

impl FunnelFold<'_> {
    /// Adds one customer's level and best chain times.
    fn record(&self, g: &mut GroupPartial, level: usize, best: &[i64]) {
        let n = self.spec.steps.len();
        g.levels[level] += 1;
        for k in 1..level {
            g.step_seconds[k].push((best[k] - best[k - 1]) as f64 / 1e6);
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

// ---------------------------------------------------------------- report

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelReport {
    pub steps: Vec<StepReport>,
    /// Customers whose maximum level is exactly L, for L = 0..=steps.
    pub level_counts: Vec<u64>,
    pub customers: u64,
    pub window_seconds: f64,
    pub mode: Mode,
    pub time_to_convert: TimeToConvert,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub breakdown: Vec<GroupReport>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub trend: Vec<TrendPoint>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub previous: Option<Box<FunnelReport>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    pub name: String,
    pub customers: u64,
    pub conversion_from_previous: Option<f64>,
    pub conversion_from_first: Option<f64>,
    pub median_seconds_from_previous: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeToConvert {
    pub customers: u64,
    pub median_seconds: Option<f64>,
    pub buckets: Vec<Bucket>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub label: String,
    pub max_seconds: Option<f64>,
    pub customers: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupReport {
    pub group: String,
    pub customers: u64,
    pub level_counts: Vec<u64>,
    pub steps: Vec<StepReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendPoint {
    pub period_start: String,
    pub entered: u64,
    pub converted: u64,
    pub conversion: Option<f64>,
}

fn steps_report(spec: &FunnelSpec, g: &GroupPartial) -> Vec<StepReport> {
    let n = spec.steps.len();
    let reached: Vec<u64> = (0..n).map(|k| g.levels[k + 1..].iter().sum()).collect();
    (0..n)
        .map(|k| {
            let mut secs = g.step_seconds[k].clone();
            StepReport {
                name: spec.steps[k].label.clone(),
                customers: reached[k],
                conversion_from_previous: if k == 0 { None } else { ratio(reached[k], reached[k - 1]) },
                conversion_from_first: ratio(reached[k], reached[0]),
                median_seconds_from_previous: if k == 0 { None } else { quantile(&mut secs, 0.5) },
            }
        })
        .collect()
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// The report of a merged partial.
pub fn report(spec: &FunnelSpec, p: &FunnelPartial, scope: &Scope) -> FunnelReport {
    let g = &p.all;
    let mut secs = g.convert_seconds.clone();
    let mut breakdown: Vec<GroupReport> = p
        .groups
        .iter()
        .map(|(name, gp)| GroupReport {
            group: name.clone(),
            customers: gp.levels.iter().sum(),
            level_counts: gp.levels.clone(),
            steps: steps_report(spec, gp),
        })
        .collect();
    breakdown.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.group.cmp(&b.group)));
    let mut trend: Vec<(i64, (u64, u64))> = g.trend.iter().map(|(k, v)| (*k, *v)).collect();
    trend.sort_unstable();
    FunnelReport {
        steps: steps_report(spec, g),
        level_counts: g.levels.clone(),
        customers: g.levels.iter().sum(),
        window_seconds: spec.window as f64 / 1e6,
        mode: spec.mode,
        time_to_convert: TimeToConvert {
            customers: g.convert_seconds.len() as u64,
            median_seconds: quantile(&mut secs, 0.5),
            buckets: BUCKETS
                .iter()
                .zip(&g.convert_buckets)
                .map(|((label, max), c)| Bucket {
                    label: (*label).to_string(),
                    max_seconds: max.is_finite().then_some(*max),
                    customers: *c,
                })
                .collect(),
        },
        breakdown,
        trend: spec
            .trend
            .map(|per| {
                trend
                    .iter()
                    .map(|(k, (e, c))| TrendPoint {
                        period_start: per.label(*k),
                        entered: *e,
                        converted: *c,
                        conversion: ratio(*c, *e),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        previous: None,
        from: scope.from.map(wayfarer_core::time::format_rfc3339),
        to: scope.to.map(wayfarer_core::time::format_rfc3339),
    }
}

/// Runs a funnel over the store.
pub fn funnel(store: &Store, model: &Model, scope: &Scope, spec: &FunnelSpec) -> Result<FunnelReport, EngineError> {
    let f = FunnelFold::new(model, scope, spec)?;
    let (p, _) = fold::run(store, &f)?;
    Ok(report(spec, &p, scope))
}

/// Runs a funnel and the same funnel over the previous period of equal
/// length (which needs --from and --to).
pub fn funnel_with_previous(
    store: &Store,
    model: &Model,
    scope: &Scope,
    spec: &FunnelSpec,
) -> Result<FunnelReport, EngineError> {
    let (Some(from), Some(to)) = (scope.from, scope.to) else {
        return Err(EngineError::InvalidQuery("--compare-previous needs --from and --to".into()));
    };
    let mut current = funnel(store, model, scope, spec)?;
    let prev_scope = Scope { from: Some(from - (to - from)), to: Some(from), ..scope.clone() };
    current.previous = Some(Box::new(funnel(store, model, &prev_scope, spec)?));
    Ok(current)
}

/// Every customer's level (by canonical ident), for tests and exports.
pub fn funnel_levels(
    store: &Store,
    model: &Model,
    scope: &Scope,
    spec: &FunnelSpec,
) -> Result<Vec<(u32, u8)>, EngineError> {
    let mut f = FunnelFold::new(model, scope, spec)?;
    f.collect_levels = true;
    let (_, mut levels) = fold::run(store, &f)?;
    levels.sort_unstable();
    Ok(levels)
}

/// A short human description of a step time.
pub fn describe_seconds(s: Option<f64>) -> String {
    s.map_or_else(|| "–".to_string(), format_duration_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(mode: Mode, window: i64, n: usize, entries: &[(i64, u8)]) -> usize {
        let mut e: Vec<(i64, u8)> = entries.iter().map(|&(t, k)| (t, k)).collect();
        sort_entries(&mut e);
        Scanner::new(n, window, mode, vec![None; n]).scan(&e)
    }

    const A: u8 = STEP0;
    const B: u8 = STEP0 + 1;
    const C: u8 = STEP0 + 2;

    #[test]
    fn default_mode_examples_from_the_spec() {
        assert_eq!(run(Mode::Default, 10, 3, &[(0, A), (5, B), (10, C)]), 3);
        assert_eq!(run(Mode::Default, 10, 3, &[(0, A), (5, B), (11, C)]), 2);
        assert_eq!(run(Mode::Default, 10, 3, &[(5, B), (5, A), (6, C)]), 3);
        assert_eq!(run(Mode::Default, 10, 3, &[(0, A), (5, B), (8, A), (12, C)]), 2);
        assert_eq!(run(Mode::Default, 10, 3, &[(0, A), (8, A), (12, B), (15, C)]), 3);
        assert_eq!(run(Mode::Default, 0, 3, &[(4, A), (4, B), (4, C)]), 3);
    }

    #[test]
    fn strict_modes() {
        assert_eq!(run(Mode::StrictDeduplication, 10, 3, &[(1, A), (2, B), (3, B), (4, C)]), 2);
        assert_eq!(run(Mode::StrictOrder, 10, 3, &[(1, A), (2, INTERVENING), (3, B), (4, C)]), 1);
        assert_eq!(run(Mode::StrictIncrease, 10, 3, &[(1, A), (1, B), (2, C)]), 1);
    }

    #[test]
    fn exclusions_break_chains_but_keep_the_best_level() {
        assert_eq!(run(Mode::Default, 100, 3, &[(0, A), (1, B), (2, EXCLUDED), (3, C)]), 2);
        assert_eq!(run(Mode::Default, 100, 3, &[(0, A), (1, B), (2, EXCLUDED), (3, A), (4, B), (5, C)]), 3);
        assert_eq!(run(Mode::Default, 100, 3, &[(0, EXCLUDED), (1, A), (2, B), (3, C)]), 3);
    }

    #[test]
    fn step_windows_and_best_times() {
        let mut s = Scanner::new(3, 100, Mode::Default, vec![None, Some(5), None]);
        assert_eq!(s.scan(&[(0, A), (10, B), (11, C)]), 1, "B is 10 after A, limit 5");
        assert_eq!(s.scan(&[(0, A), (4, B), (50, C)]), 3);
        assert_eq!(s.best, vec![0, 4, 50]);
    }
}
