//! ClickHouse's `windowFunnel(window)(timestamp, cond1, …, condN)` scan
//! (DESIGN §4.5; docs/window-funnel.md is the specification this follows
//! line by line): a customer's entries `(timestamp, step)` sorted by
//! timestamp and step index, scanned with ClickHouse's per-level greedy
//! slots, give the highest level reached and the best chain's step times.
//! Used by funnels and by the journey map's stage conversions.

use serde::{Deserialize, Serialize};

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

/// A step the best chain skipped (an optional step), in [`Scanner::best`].
pub const SKIPPED: i64 = i64::MIN;

/// The shape of a funnel beyond ClickHouse's: optional steps and any-order
/// groups. Entry code `STEP0 + a` stands for atom `a`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub steps: Vec<LayoutStep>,
}

/// One step of a [`Layout`]: its atoms (one, or a group's members) and
/// whether a chain may skip it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutStep {
    pub atoms: Vec<u8>,
    pub optional: bool,
}

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
    /// Set for a funnel with optional steps or groups.
    flex: Option<Box<Flex>>,
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
            flex: None,
        }
    }

    /// A scanner for a funnel with optional steps or any-order groups
    /// (default mode); see [`Flex`].
    pub fn with_layout(layout: Layout, window: i64, step_windows: Vec<Option<i64>>) -> Scanner {
        let n = layout.steps.len();
        let mut s = Scanner::new(n, window, Mode::Default, step_windows);
        s.flex = Some(Box::new(Flex::new(layout)));
        s
    }

    /// Scans entries sorted by (timestamp, code); returns the level reached.
    /// `best` holds the step times of the chain that reached it.
    pub fn scan(&mut self, entries: &[(i64, u8)]) -> usize {
        if let Some(f) = &mut self.flex {
            return f.scan(entries, self.window, &self.step_windows, &mut self.best);
        }
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

/// One chain's progress in the [`Flex`] scan: it completed step `step` at
/// entry `seq` (time `last`), started at `start`, and came from `parent`.
#[derive(Debug, Clone, Copy)]
struct State {
    seq: u32,
    step: u8,
    start: i64,
    last: i64,
    parent: u32,
}

const NO_PARENT: u32 = u32::MAX;

/// The scan of a funnel with optional steps and any-order groups, in the
/// spirit of windowFunnel's default mode: for each step it keeps the chains
/// that completed it, in entry order; a step (or a group, when its last
/// missing member arrives) extends the latest chain of the step before it —
/// or of any step before that up to the nearest required one, when the
/// steps between are optional — that completed before the step's (or, for
/// a group, each member's latest) entry, preferring the latest start (then
/// the latest previous step), within the window from the start and the
/// step's own limit from the previous step. The latest start is the best
/// for every later step, so the level is the furthest step any chain
/// within the window reaches. An exclusion breaks every chain in progress.
#[derive(Debug, Clone)]
struct Flex {
    layout: Layout,
    /// Per atom: its step.
    atom_step: Vec<u8>,
    /// Per step: indices into `states` of the chains that completed it.
    done: Vec<Vec<u32>>,
    states: Vec<State>,
    /// Per atom: the latest entry (seq, time) of it.
    seen: Vec<Option<(u32, i64)>>,
}

impl Flex {
    fn new(layout: Layout) -> Flex {
        let atoms: usize = layout.steps.iter().map(|s| s.atoms.len()).sum();
        let mut atom_step = vec![0u8; atoms];
        for (k, s) in layout.steps.iter().enumerate() {
            for &a in &s.atoms {
                atom_step[a as usize] = k as u8;
            }
        }
        let n = layout.steps.len();
        Flex { layout, atom_step, done: vec![Vec::new(); n], states: Vec::new(), seen: vec![None; atoms] }
    }

    fn scan(&mut self, entries: &[(i64, u8)], window: i64, step_windows: &[Option<i64>], best: &mut Vec<i64>) -> usize {
        let n = self.layout.steps.len();
        self.done.iter_mut().for_each(Vec::clear);
        self.states.clear();
        self.seen.iter_mut().for_each(|s| *s = None);
        best.clear();
        let (mut level, mut best_state) = (0usize, NO_PARENT);
        for (q, &(ts, code)) in entries.iter().enumerate() {
            let q = q as u32;
            if code == EXCLUDED {
                // Chains in progress, and members seen of groups, end here.
                self.done.iter_mut().for_each(Vec::clear);
                self.seen.iter_mut().for_each(|s| *s = None);
                continue;
            }
            if code < STEP0 || (code - STEP0) as usize >= self.atom_step.len() {
                continue;
            }
            let a = (code - STEP0) as usize;
            self.seen[a] = Some((q, ts));
            let k = self.atom_step[a] as usize;
            // The entry every member must follow the previous step's: this
            // one, or for a group the earliest of its members' latest.
            let mut after = (q, ts);
            let mut complete = true;
            for &m in &self.layout.steps[k].atoms {
                match self.seen[m as usize] {
                    Some(s) => after = after.min(s),
                    None => complete = false,
                }
            }
            if !complete {
                continue;
            }
            let from = if k == 0 {
                (ts - after.1 <= window).then_some((after.1, NO_PARENT))
            } else {
                let mut pick: Option<(i64, i64, u32)> = None;
                let mut i = k - 1;
                loop {
                    let list = &self.done[i];
                    let at = list.partition_point(|&s| self.states[s as usize].seq < after.0);
                    if at > 0 {
                        let s = self.states[list[at - 1] as usize];
                        let ok = ts <= s.start.saturating_add(window)
                            && step_windows.get(k).copied().flatten().is_none_or(|limit| ts - s.last <= limit);
                        if ok && pick.is_none_or(|(start, last, _)| (s.start, s.last) > (start, last)) {
                            pick = Some((s.start, s.last, list[at - 1]));
                        }
                    }
                    if i == 0 || !self.layout.steps[i].optional {
                        break;
                    }
                    i -= 1;
                }
                pick.map(|(start, _, parent)| (start, parent))
            };
            let Some((start, parent)) = from else { continue };
            let id = self.states.len() as u32;
            self.states.push(State { seq: q, step: k as u8, start, last: ts, parent });
            self.done[k].push(id);
            if k + 1 > level {
                level = k + 1;
                best_state = id;
            }
            if level == n {
                break;
            }
        }
        if best_state != NO_PARENT {
            best.resize(level, SKIPPED);
            let mut s = best_state;
            while s != NO_PARENT {
                let st = self.states[s as usize];
                best[st.step as usize] = st.last;
                s = st.parent;
            }
        }
        level
    }
}

/// [`Scanner::scan`] in the default mode (no exclusions, no per-step
/// windows, no optional steps), computed one step at a time from each
/// step's times instead of from the merged entries: level k's slot is only
/// ever set by a step-k event that found level k−1's slot set and its chain
/// start within the window, and at equal times step k−1 comes first, so
/// the valid step-k events are a two-pointer walk of step k's times against
/// step k−1's valid events. No merge, no sort, and a step no chain reaches
/// ends the work. Same level and best chain as the scan (tested).
#[derive(Debug, Default)]
pub struct StepScan {
    /// Per step k ≥ 1, its valid events: time, chain start, and the index
    /// of the step k−1 event the chain came through.
    time: Vec<Vec<i64>>,
    start: Vec<Vec<i64>>,
    back: Vec<Vec<u32>>,
}

impl StepScan {
    /// The level reached from each step's times (ascending); `best` gets
    /// the times of the chain that first reached it.
    pub fn scan(&mut self, steps: &[&[i64]], window: i64, best: &mut Vec<i64>) -> usize {
        let n = steps.len();
        best.clear();
        if n == 0 || steps[0].is_empty() {
            return 0;
        }
        if self.time.len() < n {
            self.time.resize_with(n, Vec::new);
            self.start.resize_with(n, Vec::new);
            self.back.resize_with(n, Vec::new);
        }
        let mut level = 1;
        for k in 1..n {
            let mut time = std::mem::take(&mut self.time[k]);
            let mut start = std::mem::take(&mut self.start[k]);
            let mut back = std::mem::take(&mut self.back[k]);
            let (prev_time, prev_start): (&[i64], &[i64]) =
                if k == 1 { (steps[0], steps[0]) } else { (&self.time[k - 1], &self.start[k - 1]) };
            time.clear();
            start.clear();
            back.clear();
            let last = k + 1 == n;
            let mut p = 0;
            for &t in steps[k] {
                while p < prev_time.len() && prev_time[p] <= t {
                    p += 1;
                }
                if p == 0 {
                    continue;
                }
                let s = prev_start[p - 1];
                if t <= s.saturating_add(window) {
                    time.push(t);
                    start.push(s);
                    back.push((p - 1) as u32);
                    if last {
                        break;
                    }
                } else if p == prev_time.len() {
                    // Later times are further from the same chain start.
                    break;
                }
            }
            let reached = !time.is_empty();
            self.time[k] = time;
            self.start[k] = start;
            self.back[k] = back;
            if !reached {
                break;
            }
            level = k + 1;
        }
        // The chain that first reached the level: its last step's first
        // valid event, back through the steps it came from.
        best.resize(level, 0);
        let mut i = 0usize;
        for k in (1..level).rev() {
            best[k] = self.time[k][i];
            i = self.back[k][i] as usize;
        }
        best[0] = steps[0][i];
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

    /// A layout of steps `shape` (atoms per step, optional or not).
    fn layout(shape: &[(usize, bool)]) -> Layout {
        let mut next = 0u8;
        let steps = shape
            .iter()
            .map(|&(k, optional)| {
                let atoms = (next..next + k as u8).collect();
                next += k as u8;
                LayoutStep { atoms, optional }
            })
            .collect();
        Layout { steps }
    }

    #[test]
    fn optional_steps_and_groups_by_example() {
        let flex = |shape: &[(usize, bool)], window: i64, e: &[(i64, u8)]| {
            let mut s = Scanner::with_layout(layout(shape), window, vec![None; shape.len()]);
            let mut e = e.to_vec();
            sort_entries(&mut e);
            (s.scan(&e), s.best.clone())
        };
        // A, ?B, C: C straight after A reaches the end with B skipped.
        let abc = [(1, false), (1, true), (1, false)];
        assert_eq!(flex(&abc, 10, &[(0, A), (5, C)]), (3, vec![0, SKIPPED, 5]));
        assert_eq!(flex(&abc, 10, &[(0, A), (2, B), (5, C)]), (3, vec![0, 2, 5]));
        // Stopping at the optional step is level 2.
        assert_eq!(flex(&abc, 10, &[(0, A), (2, B)]).0, 2);
        // A, {B, C}: the group is done when both have happened after A, in any order.
        let group = [(1, false), (2, false)];
        assert_eq!(flex(&group, 10, &[(0, A), (3, C), (4, B)]), (2, vec![0, 4]));
        assert_eq!(flex(&group, 10, &[(0, C), (1, A), (4, B)]).0, 1, "C came before A");
        assert_eq!(flex(&group, 10, &[(0, C), (1, A), (4, B), (6, C)]), (2, vec![1, 6]));
        assert_eq!(flex(&group, 5, &[(0, A), (3, C), (6, B)]).0, 1, "B is outside the window");
        // A group first: its start is its earliest member.
        let first = [(2, false), (1, false)];
        assert_eq!(flex(&first, 10, &[(0, B), (3, A), (9, C)]), (2, vec![3, 9]));
        assert_eq!(flex(&first, 10, &[(0, B), (3, A), (11, C)]).0, 1);
        // An exclusion forgets the members seen before it.
        assert_eq!(flex(&group, 10, &[(0, A), (1, B), (2, EXCLUDED), (3, A), (4, C)]).0, 1);
    }

    /// The level by definition: the furthest step of any chain that does
    /// each step it does not skip (only optional steps are skipped; the
    /// last step a chain does counts) with every atom of the step after
    /// the previous step's last entry, within the window from its first
    /// entry and with no exclusion between its first and last entries.
    fn brute(shape: &[(usize, bool)], window: i64, e: &[(i64, u8)]) -> usize {
        let l = layout(shape);
        fn go(
            l: &Layout,
            window: i64,
            e: &[(i64, u8)],
            k: usize,
            prev: Option<usize>,
            first: Option<usize>,
            start: i64,
        ) -> usize {
            if k == l.steps.len() {
                return 0;
            }
            // Skipping an optional step counts only if a later step is done.
            let mut best = 0;
            if l.steps[k].optional && k > 0 {
                best = go(l, window, e, k + 1, prev, first, start);
            }
            // Each atom's entry: every combination of entries after `prev`.
            let atoms = &l.steps[k].atoms;
            let lo = prev.map_or(0, |p| p + 1);
            let candidates: Vec<Vec<usize>> =
                atoms.iter().map(|&a| (lo..e.len()).filter(|&i| e[i].1 == STEP0 + a).collect()).collect();
            let mut pick = vec![0usize; atoms.len()];
            if candidates.iter().any(Vec::is_empty) {
                return best;
            }
            loop {
                let chosen: Vec<usize> = pick.iter().zip(&candidates).map(|(&p, c)| c[p]).collect();
                let last = *chosen.iter().max().expect("atoms");
                let earliest = *chosen.iter().min().expect("atoms");
                let first_i = first.unwrap_or(earliest);
                let start_t = if first.is_some() { start } else { e[earliest].0 };
                let ok = e[last].0 <= start_t.saturating_add(window) && !(first_i..last).any(|i| e[i].1 == EXCLUDED);
                if ok {
                    best = best.max(k + 1).max(go(l, window, e, k + 1, Some(last), Some(first_i), start_t));
                }
                let mut d = 0;
                while d < pick.len() {
                    pick[d] += 1;
                    if pick[d] < candidates[d].len() {
                        break;
                    }
                    pick[d] = 0;
                    d += 1;
                }
                if d == pick.len() {
                    return best;
                }
            }
        }
        go(&l, window, e, 0, None, None, 0)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// With optional steps and groups, the scan's level is the level by
        /// definition, and its best chain is a chain of that level.
        #[test]
        fn optional_steps_and_groups_match_the_definition(
            shape in proptest::collection::vec((1usize..=2, proptest::bool::ANY), 2..=4),
            raw in proptest::collection::vec((0i64..12, 0u8..6), 0..9),
            window in 0i64..12,
        ) {
            let mut shape = shape;
            shape[0].1 = false;
            let last = shape.len() - 1;
            shape[last].1 = false;
            let atoms: usize = shape.iter().map(|s| s.0).sum();
            // Codes: EXCLUDED, or an atom (some codes beyond the atoms are ignored).
            let mut e: Vec<(i64, u8)> = raw
                .iter()
                .map(|&(t, c)| (t, if c == 0 { EXCLUDED } else { STEP0 + (c - 1) % atoms as u8 }))
                .collect();
            sort_entries(&mut e);
            let mut s = Scanner::with_layout(layout(&shape), window, vec![None; shape.len()]);
            let level = s.scan(&e);
            proptest::prop_assert_eq!(level, brute(&shape, window, &e), "{:?} {:?} window {}", shape, e, window);
            proptest::prop_assert_eq!(s.best.len(), level);
            if level > 0 {
                proptest::prop_assert!(s.best[level - 1] != SKIPPED);
                proptest::prop_assert!(s.best[0] != SKIPPED);
                let done: Vec<i64> = s.best.iter().copied().filter(|&t| t != SKIPPED).collect();
                proptest::prop_assert!(done.windows(2).all(|w| w[0] <= w[1]), "{:?}", s.best);
            }
        }

        /// A layout of plain steps scans as ClickHouse's default mode.
        #[test]
        fn a_plain_layout_is_windowfunnel(
            n in 1usize..=4,
            raw in proptest::collection::vec((0i64..12, 0u8..5), 0..12),
            window in 0i64..12,
        ) {
            let mut e: Vec<(i64, u8)> =
                raw.iter().map(|&(t, c)| (t, if c == 0 { EXCLUDED } else { STEP0 + (c - 1) % n as u8 })).collect();
            sort_entries(&mut e);
            let shape = vec![(1, false); n];
            let mut flex = Scanner::with_layout(layout(&shape), window, vec![None; n]);
            let mut ch = Scanner::new(n, window, Mode::Default, vec![None; n]);
            proptest::prop_assert_eq!(flex.scan(&e), ch.scan(&e), "{:?}", e);
            proptest::prop_assert_eq!(&flex.best, &ch.best);
        }

        /// The step-by-step scan gives the default-mode scan's level and
        /// best chain, with ties across steps and times one event matching
        /// several steps would give.
        #[test]
        fn the_step_scan_is_the_default_scan(
            n in 1usize..=5,
            raw in proptest::collection::vec((0i64..16, 0usize..5), 0..24),
            window in 0i64..10,
        ) {
            let mut steps: Vec<Vec<i64>> = vec![Vec::new(); n];
            for &(t, k) in &raw {
                steps[k % n].push(t);
            }
            steps.iter_mut().for_each(|s| s.sort_unstable());
            let mut e: Vec<(i64, u8)> =
                steps.iter().enumerate().flat_map(|(k, s)| s.iter().map(move |&t| (t, STEP0 + k as u8))).collect();
            sort_entries(&mut e);
            let mut ch = Scanner::new(n, window, Mode::Default, vec![None; n]);
            let want = ch.scan(&e);
            let slices: Vec<&[i64]> = steps.iter().map(Vec::as_slice).collect();
            let mut best = Vec::new();
            let mut scan = StepScan::default();
            // Twice: the second reuses the first one's working memory.
            for _ in 0..2 {
                proptest::prop_assert_eq!(scan.scan(&slices, window, &mut best), want, "{:?} window {}", steps, window);
                proptest::prop_assert_eq!(&best, &ch.best, "{:?} window {}", steps, window);
            }
        }
    }
}
