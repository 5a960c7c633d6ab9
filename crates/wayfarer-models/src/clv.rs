//! Customer lifetime value models: BG/NBD (Fader, Hardie & Lee 2005,
//! "Counting your customers the easy way") for the number of future
//! purchases and whether a customer is still alive, and the Gamma-Gamma
//! model of spend per purchase. Both are fitted by maximum likelihood in log
//! space with Nelder–Mead from several starting points; identical RFM
//! triples are grouped, and the per-evaluation work is cached by distinct
//! x, T and t_x, so a million customers fit in seconds.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::optim::nelder_mead;
use crate::special::{hyp2f1, ln_beta, ln_gamma};

/// One customer's BG/NBD inputs: x repeat purchases, recency t_x, age T.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rfm {
    pub x: f64,
    pub t_x: f64,
    pub t: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
    /// Total log-likelihood of the data at the fitted parameters.
    pub log_likelihood: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error("no customers to fit")]
    Empty,
    #[error("the fit did not converge to finite parameters")]
    NoConvergence,
}

/// Groups identical (x, t_x, T) and indexes distinct values for caching.
struct Grouped {
    /// (x index, t_x index, T index, count)
    rows: Vec<(u32, u32, u32, f64)>,
    xs: Vec<f64>,
    txs: Vec<f64>,
    ts: Vec<f64>,
}

fn intern(v: f64, map: &mut HashMap<u64, u32>, list: &mut Vec<f64>) -> u32 {
    *map.entry(v.to_bits()).or_insert_with(|| {
        list.push(v);
        (list.len() - 1) as u32
    })
}

fn group(data: &[Rfm], scale: f64) -> Grouped {
    let mut counts: HashMap<(u64, u64, u64), f64> = HashMap::new();
    for d in data {
        *counts.entry((d.x.to_bits(), (d.t_x * scale).to_bits(), (d.t * scale).to_bits())).or_insert(0.0) += 1.0;
    }
    let (mut mx, mut mtx, mut mt) = (HashMap::new(), HashMap::new(), HashMap::new());
    let (mut xs, mut txs, mut ts) = (Vec::new(), Vec::new(), Vec::new());
    let mut keys: Vec<_> = counts.into_iter().collect();
    keys.sort_by_key(|k| k.0);
    let rows = keys
        .into_iter()
        .map(|((x, tx, t), c)| {
            (
                intern(f64::from_bits(x), &mut mx, &mut xs),
                intern(f64::from_bits(tx), &mut mtx, &mut txs),
                intern(f64::from_bits(t), &mut mt, &mut ts),
                c,
            )
        })
        .collect();
    Grouped { rows, xs, txs, ts }
}

fn log_sum_exp(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    if m == f64::NEG_INFINITY { m } else { m + ((a - m).exp() + (b - m).exp()).ln() }
}

impl Grouped {
    /// Total log-likelihood at (r, α, a, b).
    fn log_likelihood(&self, r: f64, alpha: f64, a: f64, b: f64) -> f64 {
        let lb_ab = ln_beta(a, b);
        let lg_r = ln_gamma(r);
        // Per distinct x: lnΓ(r+x) − lnΓ(r) + r ln α, ln B(a, b+x) − ln B(a, b), ln B(a+1, b+x−1) − ln B(a, b).
        let per_x: Vec<(f64, f64, f64)> = self
            .xs
            .iter()
            .map(|&x| {
                let a1 = ln_gamma(r + x) - lg_r + r * alpha.ln();
                let a2 = ln_beta(a, b + x) - lb_ab;
                let a3 = if x > 0.0 { ln_beta(a + 1.0, b + x - 1.0) - lb_ab } else { f64::NEG_INFINITY };
                (a1, a2, a3)
            })
            .collect();
        let ln_t: Vec<f64> = self.ts.iter().map(|t| (alpha + t).ln()).collect();
        let ln_tx: Vec<f64> = self.txs.iter().map(|t| (alpha + t).ln()).collect();
        let mut total = 0.0;
        for &(xi, txi, ti, c) in &self.rows {
            let x = self.xs[xi as usize];
            let (a1, a2, a3) = per_x[xi as usize];
            let l2 = a2 - (r + x) * ln_t[ti as usize];
            let l3 = a3 - (r + x) * ln_tx[txi as usize];
            total += c * (a1 + log_sum_exp(l2, l3));
        }
        total
    }
}

impl BgNbd {
    /// Fits by maximum likelihood. Time is rescaled internally so that the
    /// longest T is 10 (better conditioning); α is scaled back.
    pub fn fit(data: &[Rfm]) -> Result<BgNbd, FitError> {
        if data.is_empty() {
            return Err(FitError::Empty);
        }
        let max_t = data.iter().map(|d| d.t).fold(0.0, f64::max);
        let scale = if max_t > 0.0 { 10.0 / max_t } else { 1.0 };
        let g = group(data, scale);
        let neg = |p: &[f64]| -> f64 {
            let (r, alpha, a, b) = (p[0].exp(), p[1].exp(), p[2].exp(), p[3].exp());
            let ll = g.log_likelihood(r, alpha, a, b);
            if ll.is_finite() { -ll } else { f64::INFINITY }
        };
        let mut best: Option<(Vec<f64>, f64)> = None;
        for start in [[0.0, 0.0, 0.0, 0.0], [-1.0, 0.5, -0.5, 0.5], [0.5, 1.0, 0.5, 1.0], [-2.0, -1.0, 0.0, 1.0]] {
            let (x, v) = nelder_mead(&neg, &start, 0.5, 1e-12, 4_000);
            if v.is_finite() && best.as_ref().is_none_or(|b| v < b.1) {
                best = Some((x, v));
            }
        }
        let (p, v) = best.ok_or(FitError::NoConvergence)?;
        let m = BgNbd { r: p[0].exp(), alpha: p[1].exp() / scale, a: p[2].exp(), b: p[3].exp(), log_likelihood: 0.0 };
        if ![m.r, m.alpha, m.a, m.b].iter().all(|x| x.is_finite() && *x > 0.0) || !v.is_finite() {
            return Err(FitError::NoConvergence);
        }
        let ll = group(data, 1.0).log_likelihood(m.r, m.alpha, m.a, m.b);
        Ok(BgNbd { log_likelihood: ll, ..m })
    }

    /// Total log-likelihood of some data at these parameters.
    pub fn log_likelihood(&self, data: &[Rfm]) -> f64 {
        group(data, 1.0).log_likelihood(self.r, self.alpha, self.a, self.b)
    }

    /// Expected purchases in (0, t] of a new customer.
    pub fn expected_purchases(&self, t: f64) -> f64 {
        let (r, alpha, a, b) = (self.r, self.alpha, self.a, self.b);
        let z = t / (alpha + t);
        (a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + t)).powf(r) * hyp2f1(r, b, a + b - 1.0, z))
    }

    /// ln of the odds term (a/(b+x−1)) ((α+T)/(α+t_x))^(r+x) (x > 0).
    fn ln_dead_odds(&self, c: &Rfm) -> Option<f64> {
        (c.x > 0.0).then(|| {
            (self.a / (self.b + c.x - 1.0)).ln()
                + (self.r + c.x) * ((self.alpha + c.t).ln() - (self.alpha + c.t_x).ln())
        })
    }

    /// P(the customer is still alive at T).
    pub fn p_alive(&self, c: &Rfm) -> f64 {
        match self.ln_dead_odds(c) {
            Some(l) => 1.0 / (1.0 + l.exp()),
            None => 1.0,
        }
    }

    /// Expected purchases in (T, T + t] given the customer's history.
    pub fn conditional_expected_purchases(&self, t: f64, c: &Rfm) -> f64 {
        let (r, alpha, a, b) = (self.r, self.alpha, self.a, self.b);
        let x = c.x;
        let z = t / (alpha + c.t + t);
        let first = (a + b + x - 1.0) / (a - 1.0);
        let second = 1.0 - ((alpha + c.t) / (alpha + c.t + t)).powf(r + x) * hyp2f1(r + x, b + x, a + b + x - 1.0, z);
        first * second * self.p_alive(c)
    }
}

/// The Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV").
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub v: f64,
    pub log_likelihood: f64,
}

impl GammaGamma {
    /// Fits on customers with at least one repeat purchase: (x, mean spend of repeat purchases).
    pub fn fit(data: &[(f64, f64)]) -> Result<GammaGamma, FitError> {
        let data: Vec<(f64, f64)> = data.iter().copied().filter(|(x, m)| *x > 0.0 && *m > 0.0).collect();
        if data.is_empty() {
            return Err(FitError::Empty);
        }
        // Spend is rescaled so that the mean is about 1 (conditioning); v scales with it.
        let mean = data.iter().map(|d| d.1).sum::<f64>() / data.len() as f64;
        let scale = if mean > 0.0 { 1.0 / mean } else { 1.0 };
        let scaled: Vec<(f64, f64)> = data.iter().map(|(x, m)| (*x, m * scale)).collect();
        let neg = |p: &[f64]| -> f64 {
            let ll = gg_log_likelihood(&scaled, p[0].exp(), p[1].exp(), p[2].exp());
            if ll.is_finite() { -ll } else { f64::INFINITY }
        };
        let mut best: Option<(Vec<f64>, f64)> = None;
        for start in [[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [2.0, 1.0, 1.0]] {
            let (x, v) = nelder_mead(&neg, &start, 0.5, 1e-12, 4_000);
            if v.is_finite() && best.as_ref().is_none_or(|b| v < b.1) {
                best = Some((x, v));
            }
        }
        let (p, v) = best.ok_or(FitError::NoConvergence)?;
        if !v.is_finite() {
            return Err(FitError::NoConvergence);
        }
        let (pp, q, vv) = (p[0].exp(), p[1].exp(), p[2].exp() / scale);
        Ok(GammaGamma { p: pp, q, v: vv, log_likelihood: gg_log_likelihood(&data, pp, q, vv) })
    }

    /// Expected mean spend per purchase of a customer with x repeat
    /// purchases of mean value m (the population mean when x = 0).
    pub fn expected_spend(&self, x: f64, m: f64) -> f64 {
        if x > 0.0 { self.p * (self.v + x * m) / (self.p * x + self.q - 1.0) } else { self.p * self.v / (self.q - 1.0) }
    }
}

fn gg_log_likelihood(data: &[(f64, f64)], p: f64, q: f64, v: f64) -> f64 {
    let lg_q = ln_gamma(q);
    data.iter()
        .map(|&(x, m)| {
            ln_gamma(p * x + q) - ln_gamma(p * x) - lg_q + q * v.ln() + (p * x - 1.0) * m.ln() + p * x * x.ln()
                - (p * x + q) * (x * m + v).ln()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_simulated_parameters() {
        // A deterministic BG/NBD-like population: the fit should land near
        // the parameters and be invariant to the time scale.
        let mut state = 42u64;
        let mut rand = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut data = Vec::new();
        for _ in 0..3000 {
            let t = 10.0 + 30.0 * rand();
            let lambda = -0.3 * (rand().max(1e-12)).ln(); // exponential, mean 0.3
            let p = 0.1 + 0.4 * rand();
            let (mut now, mut x, mut tx) = (0.0, 0.0, 0.0);
            loop {
                now += -(rand().max(1e-12)).ln() / lambda.max(1e-9);
                if now > t {
                    break;
                }
                x += 1.0;
                tx = now;
                if rand() < p {
                    break;
                }
            }
            data.push(Rfm { x, t_x: tx, t });
        }
        let m = BgNbd::fit(&data).unwrap();
        assert!(m.log_likelihood.is_finite());
        let weeks: Vec<Rfm> = data.iter().map(|d| Rfm { x: d.x, t_x: d.t_x * 7.0, t: d.t * 7.0 }).collect();
        let m7 = BgNbd::fit(&weeks).unwrap();
        assert!((m7.alpha / m.alpha - 7.0).abs() < 0.01, "{} vs {}", m7.alpha, m.alpha);
        assert!((m7.r / m.r - 1.0).abs() < 0.01);
        // Predictions are sane.
        let c = Rfm { x: 2.0, t_x: 20.0, t: 30.0 };
        let pa = m.p_alive(&c);
        assert!(pa > 0.0 && pa < 1.0);
        assert!(m.conditional_expected_purchases(10.0, &c) > 0.0);
        assert!(m.expected_purchases(10.0) > 0.0);
        assert_eq!(m.p_alive(&Rfm { x: 0.0, t_x: 0.0, t: 5.0 }), 1.0);
    }
}
