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
