//! Multi-touch attribution over channel paths (DESIGN §4.9, docs/attribution.md):
//! the heuristics (first, last, linear, time decay, position based), Markov
//! chains of order 1–3 with removal effects computed exactly by
//! absorbing-chain algebra (the quantity the ChannelAttribution package
//! estimates by simulation), and Shapley values over channel sets.
//!
//! Channels are small integers (`0..channels`); the caller keeps the names.

use std::collections::HashMap;

/// One distinct path: the channels touched in order (repeats kept), with the
/// conversions, their total value and the journeys that did not convert.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub channels: Vec<u32>,
    pub conversions: u64,
    pub value: f64,
    pub nulls: u64,
}

/// Conversions and value credited to each channel.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Credit {
    pub conversions: Vec<f64>,
    pub value: Vec<f64>,
}

impl Credit {
    pub fn new(channels: usize) -> Credit {
        Credit { conversions: vec![0.0; channels], value: vec![0.0; channels] }
    }

    /// Adds `weight` of one conversion worth `value` to a channel.
    pub fn add(&mut self, channel: u32, weight: f64, value: f64) {
        let c = channel as usize;
        if c >= self.conversions.len() {
            self.conversions.resize(c + 1, 0.0);
            self.value.resize(c + 1, 0.0);
        }
        self.conversions[c] += weight;
        self.value[c] += weight * value;
    }

    pub fn merge(&mut self, other: &Credit) {
        let n = other.conversions.len();
        if n > self.conversions.len() {
            self.conversions.resize(n, 0.0);
            self.value.resize(n, 0.0);
        }
        for c in 0..n {
            self.conversions[c] += other.conversions[c];
            self.value[c] += other.value[c];
        }
    }
}

/// A rule-based model: how one conversion's credit is split over its touches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Heuristic {
    First,
    Last,
    /// Each touch (each occurrence of a channel) gets an equal share.
    Linear,
    /// A touch's weight halves for every `half_life_days` before the conversion.
    TimeDecay {
        half_life_days: f64,
    },
    /// `first` to the first touch, `last` to the last, the rest shared by the
    /// touches between; one touch gets everything, two share first:last.
    Position {
        first: f64,
        last: f64,
    },
}

impl Heuristic {
    /// The weight of each touch (summing to 1), given each touch's age in
    /// days at the conversion, oldest first.
    pub fn weights(self, ages_days: &[f64], out: &mut Vec<f64>) {
        out.clear();
        let n = ages_days.len();
        if n == 0 {
            return;
        }
        out.resize(n, 0.0);
        match self {
            Heuristic::First => out[0] = 1.0,
            Heuristic::Last => out[n - 1] = 1.0,
            Heuristic::Linear => out.fill(1.0 / n as f64),
            Heuristic::TimeDecay { half_life_days } => {
                let h = half_life_days.max(1e-9);
                let newest = ages_days.iter().copied().fold(f64::INFINITY, f64::min);
                for (w, a) in out.iter_mut().zip(ages_days) {
                    *w = (-(a - newest).max(0.0) / h * std::f64::consts::LN_2).exp();
                }
                let s: f64 = out.iter().sum();
                out.iter_mut().for_each(|w| *w /= s);
            }
            Heuristic::Position { first, last } => {
                if n == 1 {
                    out[0] = 1.0;
                } else if n == 2 {
                    out[0] = first / (first + last);
                    out[1] = last / (first + last);
                } else {
                    out[0] = first;
                    out[n - 1] = last;
                    let middle = (1.0 - first - last) / (n - 2) as f64;
                    out[1..n - 1].fill(middle);
                }
            }
        }
    }
}

/// Credits every conversion of the paths by a heuristic that needs no times
/// (first, last, linear, position); as ChannelAttribution's
/// `heuristic_models` for the first three.
pub fn heuristic(paths: &[Path], channels: usize, h: Heuristic) -> Credit {
    let mut credit = Credit::new(channels);
    let mut w = Vec::new();
    let mut ages = Vec::new();
    for p in paths.iter().filter(|p| p.conversions > 0 && !p.channels.is_empty()) {
        ages.clear();
        ages.resize(p.channels.len(), 0.0);
        h.weights(&ages, &mut w);
        let per = p.value / p.conversions as f64;
        for (&c, &wi) in p.channels.iter().zip(&w) {
            credit.add(c, wi * p.conversions as f64, per);
        }
    }
    credit
}

/// A Markov chain's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Markov {
    pub order: usize,
    /// Transient states besides (start).
    pub states: usize,
    /// Probability that a walk from (start) converts.
    pub p_conversion: f64,
    /// 1 − P(conversion | channel removed) / P(conversion), per channel.
    pub removal_effect: Vec<f64>,
    /// The same for the expected conversion value.
    pub removal_effect_value: Vec<f64>,
    pub credit: Credit,
    pub total_conversions: f64,
    pub total_value: f64,
}

/// The chain built from the paths: state 0 is (start); `trans[a]` lists
/// (b, probability) to transient states; `conv[a]` is the probability of
/// converting from a; `reward[a]` is `conv[a]` times the mean value of a
/// conversion whose path ended in a.
#[derive(Debug, Clone)]
pub struct Chain {
    /// The channels of each state (empty for (start)).
    pub state_channels: Vec<Vec<u32>>,
    pub trans: Vec<Vec<(usize, f64)>>,
    pub conv: Vec<f64>,
    pub null: Vec<f64>,
    pub reward: Vec<f64>,
}

impl Chain {
    /// Builds the order-`order` chain as ChannelAttribution does: states are
    /// the windows of the last `order` channels (a shorter path is one state
    /// of all its channels), consecutive identical states are merged, and
    /// every transition is counted once per journey that made it.
    pub fn build(paths: &[Path], order: usize) -> Chain {
        let order = order.max(1);
        let mut ids: HashMap<Vec<u32>, usize> = HashMap::new();
        let mut state_channels: Vec<Vec<u32>> = vec![Vec::new()];
        let mut counts: Vec<HashMap<usize, f64>> = vec![HashMap::new()];
        let mut to_conv: Vec<f64> = vec![0.0];
        let mut to_null: Vec<f64> = vec![0.0];
        let mut conv_value: Vec<(f64, f64)> = vec![(0.0, 0.0)];
        let mut seq: Vec<usize> = Vec::new();
        for p in paths {
            let weight = (p.conversions + p.nulls) as f64;
            if weight == 0.0 || p.channels.is_empty() {
                continue;
            }
            seq.clear();
            let windows: Vec<&[u32]> =
                if p.channels.len() < order { vec![&p.channels[..]] } else { p.channels.windows(order).collect() };
            for w in windows {
                let id = *ids.entry(w.to_vec()).or_insert_with(|| {
                    state_channels.push(w.to_vec());
                    counts.push(HashMap::new());
                    to_conv.push(0.0);
                    to_null.push(0.0);
                    conv_value.push((0.0, 0.0));
                    state_channels.len() - 1
                });
                if seq.last() != Some(&id) {
                    seq.push(id);
                }
            }
            let mut from = 0;
            for &s in &seq {
                *counts[from].entry(s).or_insert(0.0) += weight;
                from = s;
            }
            to_conv[from] += p.conversions as f64;
            to_null[from] += p.nulls as f64;
            if p.conversions > 0 {
                conv_value[from].0 += p.value;
                conv_value[from].1 += p.conversions as f64;
            }
        }
        let n = state_channels.len();
        let mut trans = Vec::with_capacity(n);
        let (mut conv, mut null, mut reward) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        for a in 0..n {
            let total: f64 = counts[a].values().sum::<f64>() + to_conv[a] + to_null[a];
            let mut row: Vec<(usize, f64)> = counts[a].iter().map(|(&b, &c)| (b, c / total.max(1e-300))).collect();
            row.sort_by_key(|e| e.0);
            trans.push(row);
            if total > 0.0 {
                conv[a] = to_conv[a] / total;
                null[a] = to_null[a] / total;
            }
            let mean_value = if conv_value[a].1 > 0.0 { conv_value[a].0 / conv_value[a].1 } else { 0.0 };
            reward[a] = conv[a] * mean_value;
        }
        Chain { state_channels, trans, conv, null, reward }
    }

    /// Expected absorption reward from (start), for rewards `r`, with the
    /// states where `keep` is false removed (walks entering them are lost).
    pub fn absorb(&self, r: &[f64], keep: &[bool]) -> f64 {
        solve_absorbing(&self.trans, r, keep)[0]
    }
}

/// Largest system solved by dense elimination; larger chains are solved by
/// Gauss–Seidel iteration to machine precision.
const DENSE_LIMIT: usize = 700;

/// Solves x = r + Q x over the kept states (x of removed states is 0).
fn solve_absorbing(q: &[Vec<(usize, f64)>], r: &[f64], keep: &[bool]) -> Vec<f64> {
    let n = q.len();
    let idx: Vec<usize> = (0..n).filter(|&i| keep[i]).collect();
    let mut x = vec![0.0; n];
    if idx.is_empty() {
        return x;
    }
    if idx.len() <= DENSE_LIMIT {
        let m = idx.len();
        let mut pos = vec![usize::MAX; n];
        for (k, &i) in idx.iter().enumerate() {
            pos[i] = k;
        }
        // (I − Q) x = r, augmented with r as the last column.
        let w = m + 1;
        let mut a = vec![0.0; m * w];
        for (k, &i) in idx.iter().enumerate() {
            a[k * w + k] = 1.0;
            for &(j, p) in &q[i] {
                if pos[j] != usize::MAX {
                    a[k * w + pos[j]] -= p;
                }
            }
            a[k * w + m] = r[i];
        }
        for col in 0..m {
            let piv = (col..m).max_by(|&u, &v| a[u * w + col].abs().total_cmp(&a[v * w + col].abs())).unwrap_or(col);
            if a[piv * w + col].abs() < 1e-300 {
                continue;
            }
            if piv != col {
                for c in 0..w {
                    a.swap(piv * w + c, col * w + c);
                }
            }
            let d = a[col * w + col];
            for row in col + 1..m {
                let f = a[row * w + col] / d;
                if f != 0.0 {
                    for c in col..w {
                        a[row * w + c] -= f * a[col * w + c];
                    }
                }
            }
        }
        let mut sol = vec![0.0; m];
        for row in (0..m).rev() {
            let mut s = a[row * w + m];
            for c in row + 1..m {
                s -= a[row * w + c] * sol[c];
            }
            let d = a[row * w + row];
            sol[row] = if d.abs() < 1e-300 { 0.0 } else { s / d };
        }
        for (k, &i) in idx.iter().enumerate() {
            x[i] = sol[k];
        }
        return x;
    }
    for _ in 0..1_000_000 {
        let mut change: f64 = 0.0;
        for &i in idx.iter().rev() {
            let mut s = r[i];
            for &(j, p) in &q[i] {
                if keep[j] {
                    s += p * x[j];
                }
            }
            change = change.max((s - x[i]).abs());
            x[i] = s;
        }
        if change <= 1e-16 * x[0].abs().max(1e-300) {
            break;
        }
    }
    x
}

/// Markov chain attribution of order 1–3 with removal effects, exactly.
pub fn markov(paths: &[Path], channels: usize, order: usize) -> Markov {
    let chain = Chain::build(paths, order);
    let n = chain.state_channels.len();
    let all = vec![true; n];
    let p = chain.absorb(&chain.conv, &all);
    let e = chain.absorb(&chain.reward, &all);
    let mut re = vec![0.0; channels];
    let mut rev = vec![0.0; channels];
    let mut present = vec![false; channels];
    for s in &chain.state_channels {
        for &c in s {
            if (c as usize) < channels {
                present[c as usize] = true;
            }
        }
    }
    for c in 0..channels {
        if !present[c] {
            continue;
        }
        let keep: Vec<bool> = chain.state_channels.iter().map(|s| !s.contains(&(c as u32))).collect();
        if p > 0.0 {
            re[c] = (1.0 - chain.absorb(&chain.conv, &keep) / p).clamp(0.0, 1.0);
        }
        if e > 0.0 {
            rev[c] = (1.0 - chain.absorb(&chain.reward, &keep) / e).clamp(0.0, 1.0);
        }
    }
    let total_conversions: f64 = paths.iter().map(|p| p.conversions as f64).sum();
    let total_value: f64 = paths.iter().filter(|p| p.conversions > 0).map(|p| p.value).sum();
    let (sre, srev): (f64, f64) = (re.iter().sum(), rev.iter().sum());
    let credit = Credit {
        conversions: re.iter().map(|r| if sre > 0.0 { total_conversions * r / sre } else { 0.0 }).collect(),
        value: rev.iter().map(|r| if srev > 0.0 { total_value * r / srev } else { 0.0 }).collect(),
    };
    Markov {
        order,
        states: n - 1,
        p_conversion: p,
        removal_effect: re,
        removal_effect_value: rev,
        credit,
        total_conversions,
        total_value,
    }
}

/// Shapley values over channel sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Shapley {
    pub credit: Credit,
    pub total_conversions: f64,
    pub total_value: f64,
}

/// Shapley values of the channels in the game whose worth of a set S of
/// channels is the number of conversions (and their value) of the journeys
/// that touched only channels of S — the "simplified Shapley value method"
/// of Zhao, Mahboobi & Bagheri (2018) that Google's Ads Data Hub uses. The
/// worth is a sum of unanimity games, one per set T of channels seen
/// together, so the Shapley value has a closed form, exact for any number of
/// channels: every converting journey's conversions and value are shared
/// equally among the distinct channels it touched (order and repeats do not
/// matter, unlike the linear model).
pub fn shapley(paths: &[Path], channels: usize) -> Shapley {
    let mut credit = Credit::new(channels);
    let mut set: Vec<u32> = Vec::new();
    for p in paths.iter().filter(|p| p.conversions > 0) {
        set.clear();
        set.extend(p.channels.iter().copied().filter(|&c| (c as usize) < channels));
        set.sort_unstable();
        set.dedup();
        if set.is_empty() {
            continue;
        }
        let share = p.conversions as f64 / set.len() as f64;
        let per = p.value / p.conversions as f64;
        for &c in &set {
            credit.add(c, share, per);
        }
    }
    let total_conversions: f64 = paths.iter().map(|p| p.conversions as f64).sum();
    let total_value: f64 = paths.iter().filter(|p| p.conversions > 0).map(|p| p.value).sum();
    Shapley { credit, total_conversions, total_value }
}

/// The Shapley value of one channel by enumerating every coalition of the
/// channels present, from the worth function itself (for tests of the
/// closed form, and small games only).
pub fn shapley_by_enumeration(paths: &[Path], channel: u32) -> f64 {
    let mut present: Vec<u32> = paths.iter().flat_map(|p| p.channels.iter().copied()).collect();
    present.sort_unstable();
    present.dedup();
    let k = present.len();
    assert!(k <= 20, "enumeration is for small games");
    let Some(me) = present.iter().position(|&c| c == channel) else { return 0.0 };
    let mask_of = |p: &Path| -> u64 {
        p.channels.iter().map(|c| 1u64 << present.iter().position(|x| x == c).unwrap_or(0)).fold(0, |a, b| a | b)
    };
    let sets: Vec<(u64, f64)> = paths.iter().map(|p| (mask_of(p), p.conversions as f64)).collect();
    let worth = |s: u64| -> f64 { sets.iter().filter(|(m, _)| m & !s == 0).map(|x| x.1).sum() };
    let fact = |n: usize| -> f64 { (2..=n).map(|i| i as f64).product() };
    let mut phi = 0.0;
    for s in 0..(1u64 << k) {
        if s & (1 << me) == 0 {
            let m = s.count_ones() as usize;
            phi += fact(m) * fact(k - m - 1) / fact(k) * (worth(s | (1 << me)) - worth(s));
        }
    }
    phi
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(c: &[u32], conv: u64, value: f64, nulls: u64) -> Path {
        Path { channels: c.to_vec(), conversions: conv, value, nulls }
    }

    #[test]
    fn the_textbook_example() {
        // C1 > C2 > C3 converts once; C1 and C2 > C3 do not.
        let paths = [path(&[0, 1, 2], 1, 10.0, 0), path(&[0], 0, 0.0, 1), path(&[1, 2], 0, 0.0, 1)];
        let m = markov(&paths, 3, 1);
        assert!((m.p_conversion - 1.0 / 3.0).abs() < 1e-12);
        let want = [0.5, 1.0, 1.0];
        for (got, want) in m.removal_effect.iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{:?}", m.removal_effect);
        }
        assert!((m.credit.conversions[0] - 0.2).abs() < 1e-12);
        assert!((m.credit.value[1] - 4.0).abs() < 1e-12);
    }

    #[test]
    fn heuristic_weights() {
        let mut w = Vec::new();
        Heuristic::Position { first: 0.4, last: 0.4 }.weights(&[3.0, 2.0, 1.0, 0.0], &mut w);
        for (a, b) in w.iter().zip([0.4, 0.1, 0.1, 0.4]) {
            assert!((a - b).abs() < 1e-12, "{w:?}");
        }
        Heuristic::Position { first: 0.4, last: 0.4 }.weights(&[1.0, 0.0], &mut w);
        assert_eq!(w, vec![0.5, 0.5]);
        Heuristic::TimeDecay { half_life_days: 7.0 }.weights(&[14.0, 7.0, 0.0], &mut w);
        let s = 0.25 + 0.5 + 1.0;
        for (a, b) in w.iter().zip([0.25 / s, 0.5 / s, 1.0 / s]) {
            assert!((a - b).abs() < 1e-12);
        }
        Heuristic::Linear.weights(&[0.0, 0.0, 0.0, 0.0], &mut w);
        assert_eq!(w, vec![0.25; 4]);
    }

    #[test]
    fn shapley_closed_form_equals_the_enumerated_game() {
        let paths = [
            path(&[0], 20, 200.0, 80),
            path(&[1, 1], 10, 100.0, 90),
            path(&[0, 1], 30, 300.0, 70),
            path(&[2, 0, 1, 0], 12, 120.0, 5),
            path(&[3], 0, 0.0, 40),
        ];
        let s = shapley(&paths, 4);
        for c in 0..4u32 {
            let e = shapley_by_enumeration(&paths, c);
            assert!(
                (s.credit.conversions[c as usize] - e).abs() < 1e-9,
                "channel {c}: {} vs {e}",
                s.credit.conversions[c as usize]
            );
        }
        // A: 20 + 30/2 + 12/3; the total is every conversion.
        assert!((s.credit.conversions[0] - 39.0).abs() < 1e-12);
        assert!((s.credit.conversions.iter().sum::<f64>() - 72.0).abs() < 1e-9);
        assert!((s.credit.value[0] - 390.0).abs() < 1e-9);
        assert_eq!(s.credit.conversions[3], 0.0);
    }

    #[test]
    fn large_chains_are_solved_iteratively_to_the_same_answer() {
        let paths: Vec<Path> = (0..40u32)
            .flat_map(|a| (0..30u32).map(move |b| path(&[a, b, (a + b) % 40], u64::from((a * b) % 3), 5.0, 2)))
            .collect();
        let chain = Chain::build(&paths, 2);
        assert!(chain.state_channels.len() > DENSE_LIMIT);
        let all = vec![true; chain.state_channels.len()];
        let iter = chain.absorb(&chain.conv, &all);
        // The same from the definition: walk the probabilities forward.
        let n = chain.state_channels.len();
        let mut mass = vec![0.0; n];
        mass[0] = 1.0;
        let mut p = 0.0;
        for _ in 0..50 {
            let mut next = vec![0.0; n];
            for (a, &m) in mass.iter().enumerate() {
                p += m * chain.conv[a];
                for &(b, q) in &chain.trans[a] {
                    next[b] += m * q;
                }
            }
            mass = next;
        }
        assert!((iter - p).abs() < 1e-12, "{iter} vs {p}");
    }
}
