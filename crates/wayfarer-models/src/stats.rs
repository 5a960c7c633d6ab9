//! Significance tests and small statistics used to back pain points with
//! evidence: two-proportion z-test, Welch's test on means, quantiles, and the
//! NPS margin of error. p-values are two-sided.

/// Standard normal cumulative distribution function.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Complementary error function (W. J. Cody's rational Chebyshev
/// approximation as in Numerical Recipes `erfcc`; relative error < 1.2e-7).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Two-sided p-value of a z statistic.
pub fn two_sided_p(z: f64) -> f64 {
    if !z.is_finite() {
        return if z.is_nan() { 1.0 } else { 0.0 };
    }
    (2.0 * (1.0 - normal_cdf(z.abs()))).clamp(0.0, 1.0)
}

/// The result of comparing a rate or mean with its baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    pub value: f64,
    pub baseline: f64,
    pub z: f64,
    pub p_value: f64,
}

/// Two-proportion z-test (pooled variance): `x1/n1` against `x2/n2`.
/// Returns None when either group is empty.
pub fn two_proportion(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<Comparison> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let pooled = (x1 + x2) as f64 / (n1 + n2) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    let z = if se > 0.0 { (p1 - p2) / se } else { 0.0 };
    Some(Comparison { value: p1, baseline: p2, z, p_value: two_sided_p(z) })
}

/// The 95 % confidence interval of `x1/n1 - x2/n2` (Wald, unpooled
/// variance); None when either group is empty.
pub fn difference_interval(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<(f64, f64)> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let se = (p1 * (1.0 - p1) / n1 as f64 + p2 * (1.0 - p2) / n2 as f64).sqrt();
    let d = p1 - p2;
    Some((d - 1.959_963_984_540_054 * se, d + 1.959_963_984_540_054 * se))
}

/// Running moments of a sample, mergeable.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Moments {
    pub n: u64,
    pub sum: f64,
    pub sum_sq: f64,
}

impl Moments {
    pub fn add(&mut self, x: f64) {
        self.n += 1;
        self.sum += x;
        self.sum_sq += x * x;
    }

    pub fn merge(&mut self, o: &Moments) {
        self.n += o.n;
        self.sum += o.sum;
        self.sum_sq += o.sum_sq;
    }

    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }

    /// Sample variance (n − 1).
    pub fn variance(&self) -> Option<f64> {
        if self.n < 2 {
            return None;
        }
        let n = self.n as f64;
        Some(((self.sum_sq - self.sum * self.sum / n) / (n - 1.0)).max(0.0))
    }
}

/// Welch's test of two means (normal approximation, fine for the sample sizes
/// a pain point needs). None when a group has fewer than 2 values.
pub fn welch(a: &Moments, b: &Moments) -> Option<Comparison> {
    let (ma, mb) = (a.mean()?, b.mean()?);
    let (va, vb) = (a.variance()?, b.variance()?);
    let se = (va / a.n as f64 + vb / b.n as f64).sqrt();
    let z = if se > 0.0 { (ma - mb) / se } else { 0.0 };
    Some(Comparison { value: ma, baseline: mb, z, p_value: two_sided_p(z) })
}

/// Benjamini–Hochberg adjusted p-values (q-values), in the input's order.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p[i] * m as f64 / (rank + 1) as f64);
        q[i] = running.min(1.0);
    }
    q
}

/// Bins of a time histogram: bin 0 holds times under one second, bin
/// `i ≥ 1` times in [2^((i−1)/2), 2^(i/2)) seconds, the last everything
/// longer (2^31.5 s, about 95 years).
pub const TIME_BINS: usize = 64;

/// The [`TIME_BINS`] bin of a duration in seconds.
pub fn time_bin(seconds: f64) -> usize {
    if seconds.is_nan() || seconds < 1.0 {
        return 0;
    }
    ((2.0 * seconds.log2()).floor() as usize + 1).min(TIME_BINS - 1)
}

/// The Mann–Whitney U test of two samples given as counts per ordered bin
/// (values in one bin are ties), normal approximation with the tie
/// correction. `value` is the probability that a value of `a` exceeds one
/// of `b` (ties count half), `baseline` 0.5. None when a sample is empty.
pub fn mann_whitney_binned(a: &[u64], b: &[u64]) -> Option<Comparison> {
    let (na, nb): (u64, u64) = (a.iter().sum(), b.iter().sum());
    if na == 0 || nb == 0 {
        return None;
    }
    let (na_f, nb_f) = (na as f64, nb as f64);
    let n = na_f + nb_f;
    let (mut below, mut rank_sum, mut ties) = (0.0f64, 0.0f64, 0.0f64);
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i).copied().unwrap_or(0) as f64, b.get(i).copied().unwrap_or(0) as f64);
        let t = x + y;
        if t == 0.0 {
            continue;
        }
        rank_sum += x * (below + (t + 1.0) / 2.0);
        ties += t * t * t - t;
        below += t;
    }
    let u = rank_sum - na_f * (na_f + 1.0) / 2.0;
    let mean = na_f * nb_f / 2.0;
    let var = na_f * nb_f / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)).max(1.0));
    let z = if var > 0.0 { (u - mean) / var.sqrt() } else { 0.0 };
    Some(Comparison { value: u / (na_f * nb_f), baseline: 0.5, z, p_value: two_sided_p(z) })
}

/// Quantile of a sorted slice by linear interpolation (numpy's default);
/// None when empty.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// The same quantile without sorting everything: two selections, O(n).
/// Reorders `values`.
pub fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let (_, lo_v, upper) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let lo_v = *lo_v;
    if hi == lo {
        return Some(lo_v);
    }
    let hi_v = upper.iter().copied().min_by(f64::total_cmp)?;
    Some(lo_v + (hi_v - lo_v) * (pos - lo as f64))
}

/// NPS from counts of promoters, passives and detractors: the score in
/// [−100, 100] and its 95% margin of error (in points).
/// The NPS group of an answer on 0–10 (DESIGN §4.8): 0 promoter (9–10),
/// 1 passive (7–8), 2 detractor (0–6), the order [`nps`] takes them in.
pub fn nps_group(score: f64) -> usize {
    if score >= 9.0 {
        0
    } else if score >= 7.0 {
        1
    } else {
        2
    }
}

/// The names of [`nps_group`]'s groups.
pub const NPS_GROUPS: [&str; 3] = ["promoter", "passive", "detractor"];

pub fn nps(promoters: u64, passives: u64, detractors: u64) -> Option<(f64, f64)> {
    let n = (promoters + passives + detractors) as f64;
    if n == 0.0 {
        return None;
    }
    let (p, d) = (promoters as f64 / n, detractors as f64 / n);
    let score = (p - d) * 100.0;
    // Variance of the per-respondent score (+1, 0, −1).
    let var = p + d - (p - d) * (p - d);
    let moe = 1.96 * (var / n).sqrt() * 100.0;
    Some((score, moe))
}

#[cfg(test)]
mod tests {
    #[test]
    fn mann_whitney_matches_scipy() {
        // scripts/gen_mann_whitney_expectations.py (SciPy 1.x, asymptotic, no continuity correction).
        let c = super::mann_whitney_binned(&[3, 0, 5, 2, 7, 1], &[1, 4, 2, 6, 0, 3]).unwrap();
        assert!((c.value - 0.5451388888888888).abs() < 1e-12, "{c:?}");
        assert!((c.p_value - 0.6480353260005878).abs() < 1e-6, "{c:?}");
        assert!(super::mann_whitney_binned(&[1], &[0, 0]).is_none());
        // Every value of a above every value of b.
        let c = super::mann_whitney_binned(&[0, 0, 0, 40], &[40]).unwrap();
        assert!(c.value == 1.0 && c.p_value < 1e-10);
    }

    #[test]
    fn time_bins_are_half_octaves() {
        use super::time_bin;
        assert_eq!((time_bin(0.0), time_bin(0.99), time_bin(1.0), time_bin(1.42), time_bin(2.0)), (0, 0, 1, 2, 3));
        assert_eq!(time_bin(1e30), super::TIME_BINS - 1);
    }

    use super::*;

    #[test]
    fn normal_cdf_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_963_985) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(-1.0) - 0.158_655_254).abs() < 1e-6);
        assert!((two_sided_p(1.959_963_985) - 0.05).abs() < 1e-6);
    }

    #[test]
    fn two_proportions() {
        // 60/100 vs 10/100 is overwhelming; 50/100 vs 50/100 is nothing.
        let c = two_proportion(60, 100, 10, 100).unwrap();
        assert!(c.p_value < 1e-10 && c.z > 7.0);
        let c = two_proportion(50, 100, 50, 100).unwrap();
        assert!((c.p_value - 1.0).abs() < 1e-6);
        assert!(two_proportion(1, 0, 1, 1).is_none());
        // Textbook: 45/100 vs 30/100 -> z ≈ 2.19.
        let c = two_proportion(45, 100, 30, 100).unwrap();
        assert!((c.z - 2.191).abs() < 0.01, "{}", c.z);
    }

    #[test]
    fn moments_welch_quantiles_nps() {
        let mut a = Moments::default();
        let mut b = Moments::default();
        for x in [1.0, 2.0, 3.0, 4.0] {
            a.add(x);
        }
        assert_eq!(a.mean(), Some(2.5));
        assert!((a.variance().unwrap() - 1.666_666_7).abs() < 1e-6);
        for x in [11.0, 12.0, 13.0, 14.0] {
            b.add(x);
        }
        assert!(welch(&a, &b).unwrap().p_value < 1e-6);
        assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
        assert_eq!(quantile_sorted(&[5.0], 0.9), Some(5.0));
        for q in [0.0, 0.1, 0.5, 0.9, 1.0] {
            let mut v = vec![9.0, 1.0, 7.0, 3.0, 5.0, 2.0];
            let mut s = v.clone();
            s.sort_by(f64::total_cmp);
            assert_eq!(quantile(&mut v, q), quantile_sorted(&s, q));
        }
        assert_eq!(quantile(&mut [], 0.5), None);
        let (s, moe) = nps(50, 30, 20).unwrap();
        assert!((s - 30.0).abs() < 1e-9);
        assert!(moe > 5.0 && moe < 20.0);
    }
}
