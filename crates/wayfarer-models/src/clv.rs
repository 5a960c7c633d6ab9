//! Customer lifetime value models: BG/NBD (Fader, Hardie & Lee 2005,
//! "Counting your customers the easy way") for the number of future
//! purchases and whether a customer is still alive, and the Gamma-Gamma
//! model of spend per purchase. Both are fitted by maximum likelihood in log
//! space with BFGS on analytic gradients from several starting points
//! (Nelder–Mead as the fallback); identical RFM triples are grouped, and the
//! per-evaluation work is cached by distinct x, T and t_x (Gamma-Gamma: by
//! distinct x), so a million customers fit in about a second.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use rayon::prelude::*;

use crate::optim::{bfgs, nelder_mead};

/// Rows per parallel chunk of a likelihood evaluation.
const CHUNK: usize = 1 << 14;
use crate::special::{digamma, hyp2f1, ln_beta, ln_gamma};

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

/// The terms of the BG/NBD likelihood that depend on x only, with their
/// derivatives: A₁ = lnΓ(r+x) − lnΓ(r) + r ln α, A₂ = ln B(a, b+x) − ln B(a, b),
/// A₃ = ln B(a+1, b+x−1) − ln B(a, b) (x > 0).
struct PerX {
    a1: f64,
    a1_r: f64,
    a2: f64,
    a2_a: f64,
    a2_b: f64,
    a3: f64,
    a3_a: f64,
    a3_b: f64,
}

impl Grouped {
    fn count(&self) -> f64 {
        self.rows.iter().map(|r| r.3).sum()
    }

    /// Total log-likelihood at (r, α, a, b).
    fn log_likelihood(&self, r: f64, alpha: f64, a: f64, b: f64) -> f64 {
        self.log_likelihood_and_gradient(r, alpha, a, b, &mut [0.0; 4])
    }

    /// Total log-likelihood at (r, α, a, b); writes ∂LL/∂(r, α, a, b).
    /// Per customer LL = A₁ + ln(e^{L₂} + e^{L₃}) with
    /// L₂ = A₂ − (r+x) ln(α+T) and L₃ = A₃ − (r+x) ln(α+t_x), so each
    /// derivative is A₁'s plus the e^{L}-weighted mean of L₂'s and L₃'s.
    fn log_likelihood_and_gradient(&self, r: f64, alpha: f64, a: f64, b: f64, grad: &mut [f64; 4]) -> f64 {
        let lb_ab = ln_beta(a, b);
        let (lg_r, psi_r, psi_a, psi_b, psi_ab, psi_a1) =
            (ln_gamma(r), digamma(r), digamma(a), digamma(b), digamma(a + b), digamma(a + 1.0));
        let ln_alpha = alpha.ln();
        let per_x: Vec<PerX> = self
            .xs
            .iter()
            .map(|&x| {
                let psi_abx = digamma(a + b + x);
                let (a3, a3_a, a3_b) = if x > 0.0 {
                    (
                        ln_beta(a + 1.0, b + x - 1.0) - lb_ab,
                        psi_a1 - psi_abx - psi_a + psi_ab,
                        digamma(b + x - 1.0) - psi_abx - psi_b + psi_ab,
                    )
                } else {
                    (f64::NEG_INFINITY, 0.0, 0.0)
                };
                PerX {
                    a1: ln_gamma(r + x) - lg_r + r * ln_alpha,
                    a1_r: digamma(r + x) - psi_r + ln_alpha,
                    a2: ln_beta(a, b + x) - lb_ab,
                    a2_a: psi_ab - psi_abx,
                    a2_b: digamma(b + x) - psi_abx - psi_b + psi_ab,
                    a3,
                    a3_a,
                    a3_b,
                }
            })
            .collect();
        let ln_t: Vec<f64> = self.ts.iter().map(|t| (alpha + t).ln()).collect();
        let inv_t: Vec<f64> = self.ts.iter().map(|t| 1.0 / (alpha + t)).collect();
        let ln_tx: Vec<f64> = self.txs.iter().map(|t| (alpha + t).ln()).collect();
        let inv_tx: Vec<f64> = self.txs.iter().map(|t| 1.0 / (alpha + t)).collect();
        // Chunks in parallel, summed in order (deterministic).
        let parts: Vec<[f64; 5]> = self
            .rows
            .par_chunks(CHUNK)
            .map(|rows| {
                let (mut total, mut g_r, mut g_alpha, mut g_a, mut g_b) = (0.0, 0.0, 0.0, 0.0, 0.0);
                for &(xi, txi, ti, c) in rows {
                    let x = self.xs[xi as usize];
                    let k = &per_x[xi as usize];
                    let (ti, txi) = (ti as usize, txi as usize);
                    let l2 = k.a2 - (r + x) * ln_t[ti];
                    // Weights of the two terms: w₂ + w₃ = 1.
                    let (lse, w2, w3) = if x > 0.0 {
                        let l3 = k.a3 - (r + x) * ln_tx[txi];
                        let (hi, lo) = if l2 >= l3 { (l2, l3) } else { (l3, l2) };
                        let e = (lo - hi).exp();
                        let (w_hi, w_lo) = (1.0 / (1.0 + e), e / (1.0 + e));
                        let (w2, w3) = if l2 >= l3 { (w_hi, w_lo) } else { (w_lo, w_hi) };
                        (hi + e.ln_1p(), w2, w3)
                    } else {
                        (l2, 1.0, 0.0)
                    };
                    total += c * (k.a1 + lse);
                    g_r += c * (k.a1_r - w2 * ln_t[ti] - w3 * ln_tx[txi]);
                    g_alpha += c * (r / alpha - (r + x) * (w2 * inv_t[ti] + w3 * inv_tx[txi]));
                    g_a += c * (w2 * k.a2_a + w3 * k.a3_a);
                    g_b += c * (w2 * k.a2_b + w3 * k.a3_b);
                }
                [total, g_r, g_alpha, g_a, g_b]
            })
            .collect();
        let mut sum = [0.0; 5];
        for p in &parts {
            for (s, v) in sum.iter_mut().zip(p) {
                *s += v;
            }
        }
        *grad = [sum[1], sum[2], sum[3], sum[4]];
        sum[0]
    }
}

/// Minimises from each start by BFGS (Nelder–Mead if BFGS fails at every
/// start) and returns the best point in log space.
fn minimise(f: &dyn Fn(&[f64], &mut [f64]) -> f64, starts: &[&[f64]]) -> Option<(Vec<f64>, f64)> {
    fn keep(best: &mut Option<(Vec<f64>, f64)>, (x, v): (Vec<f64>, f64)) {
        if v.is_finite() && best.as_ref().is_none_or(|b| v < b.1) {
            *best = Some((x, v));
        }
    }
    let mut best: Option<(Vec<f64>, f64)> = None;
    for start in starts {
        let (x, v) = bfgs(f, start, 1e-10, 1_000);
        // Two starts that reach the same optimum settle it.
        let agrees = best.as_ref().is_some_and(|(bx, bv)| {
            (v - bv).abs() <= 1e-12 * (1.0 + bv.abs()) && x.iter().zip(bx).all(|(a, b)| (a - b).abs() < 1e-5)
        });
        keep(&mut best, (x, v));
        if agrees {
            break;
        }
    }
    if best.is_none() {
        let value = |p: &[f64]| f(p, &mut vec![0.0; p.len()]);
        for start in starts {
            keep(&mut best, nelder_mead(&value, start, 0.5, 1e-12, 4_000));
        }
    }
    best
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
        let n = g.count();
        // The mean negative log-likelihood and its gradient in log space.
        let neg = |p: &[f64], grad: &mut [f64]| -> f64 {
            let theta = [p[0].exp(), p[1].exp(), p[2].exp(), p[3].exp()];
            let mut d = [0.0; 4];
            let ll = g.log_likelihood_and_gradient(theta[0], theta[1], theta[2], theta[3], &mut d);
            for i in 0..4 {
                grad[i] = -theta[i] * d[i] / n;
            }
            if ll.is_finite() { -ll / n } else { f64::INFINITY }
        };
        let starts: [&[f64]; 4] =
            [&[0.0, 0.0, 0.0, 0.0], &[-1.0, 0.5, -0.5, 0.5], &[0.5, 1.0, 0.5, 1.0], &[-2.0, -1.0, 0.0, 1.0]];
        let (p, v) = minimise(&neg, &starts).ok_or(FitError::NoConvergence)?;
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
        let scaled = Spend::new(data.iter().map(|(x, m)| (*x, m * scale)));
        let n = data.len() as f64;
        let neg = |p: &[f64], grad: &mut [f64]| -> f64 {
            let theta = [p[0].exp(), p[1].exp(), p[2].exp()];
            let mut d = [0.0; 3];
            let ll = scaled.log_likelihood_and_gradient(theta[0], theta[1], theta[2], &mut d);
            for i in 0..3 {
                grad[i] = -theta[i] * d[i] / n;
            }
            if ll.is_finite() { -ll / n } else { f64::INFINITY }
        };
        let starts: [&[f64]; 3] = [&[0.0, 0.0, 0.0], &[1.0, 1.0, 0.0], &[2.0, 1.0, 1.0]];
        let (p, v) = minimise(&neg, &starts).ok_or(FitError::NoConvergence)?;
        if !v.is_finite() {
            return Err(FitError::NoConvergence);
        }
        let (pp, q, vv) = (p[0].exp(), p[1].exp(), p[2].exp() / scale);
        let log_likelihood = Spend::new(data.iter().copied()).log_likelihood_and_gradient(pp, q, vv, &mut [0.0; 3]);
        Ok(GammaGamma { p: pp, q, v: vv, log_likelihood })
    }

    /// Expected mean spend per purchase of a customer with x repeat
    /// purchases of mean value m (the population mean when x = 0).
    pub fn expected_spend(&self, x: f64, m: f64) -> f64 {
        if x > 0.0 { self.p * (self.v + x * m) / (self.p * x + self.q - 1.0) } else { self.p * self.v / (self.q - 1.0) }
    }
}

/// Gamma-Gamma inputs sorted by x, so the terms in x alone are computed
/// once per distinct x.
struct Spend {
    /// (x, ln x, start, end) of each run of equal x.
    runs: Vec<(f64, f64, usize, usize)>,
    m: Vec<f64>,
    ln_m: Vec<f64>,
}

impl Spend {
    fn new(data: impl Iterator<Item = (f64, f64)>) -> Spend {
        let mut data: Vec<(f64, f64)> = data.collect();
        data.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let mut runs = Vec::new();
        let mut start = 0;
        for i in 1..=data.len() {
            if i == data.len() || data[i].0 != data[start].0 {
                runs.push((data[start].0, data[start].0.ln(), start, i));
                start = i;
            }
        }
        Spend { runs, m: data.iter().map(|d| d.1).collect(), ln_m: data.iter().map(|d| d.1.ln()).collect() }
    }

    /// Σ lnΓ(px+q) − lnΓ(px) − lnΓ(q) + q ln v + (px−1) ln m + px ln x − (px+q) ln(xm+v),
    /// with ∂/∂(p, q, v) written to `grad`.
    fn log_likelihood_and_gradient(&self, p: f64, q: f64, v: f64, grad: &mut [f64; 3]) -> f64 {
        let (lg_q, psi_q, ln_v) = (ln_gamma(q), digamma(q), v.ln());
        let (mut total, mut g_p, mut g_q, mut g_v) = (0.0, 0.0, 0.0, 0.0);
        for &(x, ln_x, start, end) in &self.runs {
            let px = p * x;
            let lg = ln_gamma(px + q) - ln_gamma(px) - lg_q + q * ln_v + px * ln_x;
            let (psi_pxq, psi_px) = (digamma(px + q), digamma(px));
            // Chunks in parallel, summed in order (deterministic).
            let parts: Vec<[f64; 3]> = (start..end)
                .into_par_iter()
                .with_min_len(CHUNK)
                .fold_chunks(
                    CHUNK,
                    || [0.0; 3],
                    |mut s, i| {
                        let xmv = x * self.m[i] + v;
                        s[0] += self.ln_m[i];
                        s[1] += xmv.ln();
                        s[2] += 1.0 / xmv;
                        s
                    },
                )
                .collect();
            let (mut s_ln_m, mut s_ln_xmv, mut s_inv_xmv) = (0.0, 0.0, 0.0);
            for s in &parts {
                s_ln_m += s[0];
                s_ln_xmv += s[1];
                s_inv_xmv += s[2];
            }
            let k = (end - start) as f64;
            total += k * lg + (px - 1.0) * s_ln_m - (px + q) * s_ln_xmv;
            g_p += x * (k * (psi_pxq - psi_px + ln_x) + s_ln_m - s_ln_xmv);
            g_q += k * (psi_pxq - psi_q + ln_v) - s_ln_xmv;
            g_v += k * q / v - (px + q) * s_inv_xmv;
        }
        *grad = [g_p, g_q, g_v];
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Central differences of `f` in each coordinate.
    fn numeric_gradient<const N: usize>(f: impl Fn([f64; N]) -> f64, at: [f64; N]) -> [f64; N] {
        let mut g = [0.0; N];
        for i in 0..N {
            let h = 1e-6 * at[i];
            let (mut up, mut down) = (at, at);
            up[i] += h;
            down[i] -= h;
            g[i] = (f(up) - f(down)) / (2.0 * h);
        }
        g
    }

    #[test]
    fn analytic_gradients_match_finite_differences() {
        let data = [
            Rfm { x: 0.0, t_x: 0.0, t: 30.0 },
            Rfm { x: 1.0, t_x: 2.0, t: 38.0 },
            Rfm { x: 4.0, t_x: 30.5, t: 31.0 },
            Rfm { x: 12.0, t_x: 20.0, t: 39.0 },
            Rfm { x: 1.0, t_x: 2.0, t: 38.0 },
        ];
        let g = group(&data, 1.0);
        let at = [0.3, 4.5, 0.8, 2.4];
        let mut analytic = [0.0; 4];
        g.log_likelihood_and_gradient(at[0], at[1], at[2], at[3], &mut analytic);
        let numeric = numeric_gradient(|p| g.log_likelihood(p[0], p[1], p[2], p[3]), at);
        for i in 0..4 {
            assert!((analytic[i] - numeric[i]).abs() < 1e-6 * (1.0 + numeric[i].abs()), "{analytic:?} vs {numeric:?}");
        }
        let spend = Spend::new([(1.0, 20.0), (3.0, 35.5), (3.0, 12.0), (7.0, 80.0)].into_iter());
        let at = [6.0, 3.5, 15.0];
        let mut analytic = [0.0; 3];
        spend.log_likelihood_and_gradient(at[0], at[1], at[2], &mut analytic);
        let numeric = numeric_gradient(|p| spend.log_likelihood_and_gradient(p[0], p[1], p[2], &mut [0.0; 3]), at);
        for i in 0..3 {
            assert!((analytic[i] - numeric[i]).abs() < 1e-6 * (1.0 + numeric[i].abs()), "{analytic:?} vs {numeric:?}");
        }
    }

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
