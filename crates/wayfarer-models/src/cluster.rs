//! Clustering for data-driven personas: standardisation, k-means with
//! k-means++ seeding (deterministic for a seed, best of several runs), the
//! silhouette score to choose k, and the adjusted Rand index to compare two
//! clusterings.

/// Standardises columns to mean 0 and standard deviation 1 (constant
/// columns become 0). Returns (means, standard deviations).
pub fn standardise(rows: &mut [Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let d = rows.first().map_or(0, Vec::len);
    let n = rows.len().max(1) as f64;
    let mut mean = vec![0.0; d];
    for r in rows.iter() {
        for (m, x) in mean.iter_mut().zip(r) {
            *m += x / n;
        }
    }
    let mut sd = vec![0.0; d];
    for r in rows.iter() {
        for j in 0..d {
            sd[j] += (r[j] - mean[j]).powi(2) / n;
        }
    }
    for s in &mut sd {
        *s = s.sqrt();
    }
    for r in rows.iter_mut() {
        for j in 0..d {
            r[j] = if sd[j] > 1e-12 { (r[j] - mean[j]) / sd[j] } else { 0.0 };
        }
    }
    (mean, sd)
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// A small deterministic generator (xorshift64*), so clusterings repeat.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    pub centroids: Vec<Vec<f64>>,
    pub labels: Vec<usize>,
    /// Sum of squared distances to the assigned centroid.
    pub inertia: f64,
}

/// k-means (Lloyd) with k-means++ seeding; the best of `runs` seeded runs.
pub fn kmeans(rows: &[Vec<f64>], k: usize, seed: u64, runs: usize) -> KMeans {
    kmeans_until(rows, k, seed, runs, &|| false).unwrap_or_else(|| KMeans {
        centroids: Vec::new(),
        labels: vec![0; rows.len()],
        inertia: 0.0,
    })
}

/// [`kmeans`] that gives up (`None`) as soon as `stop()` says so; it is
/// asked once per iteration.
pub fn kmeans_until(rows: &[Vec<f64>], k: usize, seed: u64, runs: usize, stop: &dyn Fn() -> bool) -> Option<KMeans> {
    let mut best: Option<KMeans> = None;
    for run in 0..runs.max(1) {
        let m = kmeans_run(rows, k, seed, run, stop)?;
        if best.as_ref().is_none_or(|b| m.inertia < b.inertia) {
            best = Some(m);
        }
    }
    Some(best.unwrap_or(KMeans { centroids: Vec::new(), labels: vec![0; rows.len()], inertia: 0.0 }))
}

/// One seeded run of Lloyd's algorithm from k-means++ seeds.
fn kmeans_run(rows: &[Vec<f64>], k: usize, seed: u64, run: usize, stop: &dyn Fn() -> bool) -> Option<KMeans> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(run as u64 * 7919 + 1) | 1);
    lloyd(rows, seed_plus_plus(rows, k, &mut rng), stop)
}

/// The best of a previous best (`best`, of the runs before `runs`) and the
/// seeded runs `runs`, run in parallel: with `best` from runs `0..a`, the
/// same answer as [`kmeans_until`] with `runs.end` runs (ties go to the
/// earlier run).
pub fn kmeans_more(
    rows: &[Vec<f64>],
    k: usize,
    seed: u64,
    best: Option<KMeans>,
    runs: std::ops::Range<usize>,
    stop: &(dyn Fn() -> bool + Sync),
) -> Option<KMeans> {
    use rayon::prelude::*;
    let more: Vec<KMeans> =
        runs.into_par_iter().map(|run| kmeans_run(rows, k, seed, run, stop)).collect::<Option<_>>()?;
    let mut best = best;
    for m in more {
        if best.as_ref().is_none_or(|b| m.inertia < b.inertia) {
            best = Some(m);
        }
    }
    Some(best.unwrap_or(KMeans { centroids: Vec::new(), labels: vec![0; rows.len()], inertia: 0.0 }))
}

fn seed_plus_plus(rows: &[Vec<f64>], k: usize, rng: &mut Rng) -> Vec<Vec<f64>> {
    let n = rows.len();
    if n == 0 {
        return Vec::new();
    }
    let mut centroids = vec![rows[(rng.next_f64() * n as f64) as usize % n].clone()];
    let mut d2: Vec<f64> = rows.iter().map(|r| dist2(r, &centroids[0])).collect();
    while centroids.len() < k.min(n) {
        let total: f64 = d2.iter().sum();
        let pick = if total > 0.0 {
            let mut target = rng.next_f64() * total;
            let mut i = 0;
            while i + 1 < n && target >= d2[i] {
                target -= d2[i];
                i += 1;
            }
            i
        } else {
            (rng.next_f64() * n as f64) as usize % n
        };
        centroids.push(rows[pick].clone());
        let c = centroids.len() - 1;
        for (i, r) in rows.iter().enumerate() {
            d2[i] = d2[i].min(dist2(r, &centroids[c]));
        }
    }
    centroids
}

/// The index of the centroid nearest to `row` (the first of equals).
pub fn nearest(row: &[f64], centroids: &[Vec<f64>]) -> usize {
    let mut best = (0, f64::INFINITY);
    for (c, ctr) in centroids.iter().enumerate() {
        let v = dist2(row, ctr);
        if v < best.1 {
            best = (c, v);
        }
    }
    best.0
}

fn lloyd(rows: &[Vec<f64>], mut centroids: Vec<Vec<f64>>, stop: &dyn Fn() -> bool) -> Option<KMeans> {
    let (n, k) = (rows.len(), centroids.len());
    let d = rows.first().map_or(0, Vec::len);
    let mut labels = vec![0usize; n];
    for _ in 0..300 {
        if stop() {
            return None;
        }
        let mut changed = false;
        for (i, r) in rows.iter().enumerate() {
            let mut best = (0, f64::INFINITY);
            for (c, ctr) in centroids.iter().enumerate() {
                let v = dist2(r, ctr);
                if v < best.1 {
                    best = (c, v);
                }
            }
            if labels[i] != best.0 {
                labels[i] = best.0;
                changed = true;
            }
        }
        let mut sums = vec![vec![0.0; d]; k];
        let mut counts = vec![0usize; k];
        for (i, r) in rows.iter().enumerate() {
            counts[labels[i]] += 1;
            for j in 0..d {
                sums[labels[i]][j] += r[j];
            }
        }
        for c in 0..k {
            if counts[c] > 0 {
                centroids[c] = sums[c].iter().map(|s| s / counts[c] as f64).collect();
            }
        }
        if !changed {
            break;
        }
    }
    let inertia = rows.iter().enumerate().map(|(i, r)| dist2(r, &centroids[labels[i]])).sum();
    Some(KMeans { centroids, labels, inertia })
}

/// Mean silhouette score of a clustering, on at most `sample` rows (evenly
/// spaced, deterministic) to keep it quadratic in the sample only.
pub fn silhouette(rows: &[Vec<f64>], labels: &[usize], k: usize, sample: usize) -> f64 {
    silhouette_until(rows, labels, k, sample, &|| false).unwrap_or(0.0)
}

/// [`silhouette`] that gives up (`None`) as soon as `stop()` says so; it is
/// asked every 64 sampled rows.
pub fn silhouette_until(
    rows: &[Vec<f64>],
    labels: &[usize],
    k: usize,
    sample: usize,
    stop: &dyn Fn() -> bool,
) -> Option<f64> {
    let n = rows.len();
    if n < 2 || k < 2 {
        return Some(0.0);
    }
    let step = (n / sample.max(1)).max(1);
    let idx: Vec<usize> = (0..n).step_by(step).collect();
    let mut total = 0.0;
    let mut counted = 0usize;
    for (at, &i) in idx.iter().enumerate() {
        if at % 64 == 0 && stop() {
            return None;
        }
        let mut sum = vec![0.0; k];
        let mut cnt = vec![0usize; k];
        for &j in &idx {
            if i != j {
                sum[labels[j]] += dist2(&rows[i], &rows[j]).sqrt();
                cnt[labels[j]] += 1;
            }
        }
        let own = labels[i];
        if cnt[own] == 0 {
            continue;
        }
        let a = sum[own] / cnt[own] as f64;
        let b =
            (0..k).filter(|&c| c != own && cnt[c] > 0).map(|c| sum[c] / cnt[c] as f64).fold(f64::INFINITY, f64::min);
        if b.is_finite() {
            total += (b - a) / a.max(b).max(1e-12);
            counted += 1;
        }
    }
    Some(if counted == 0 { 0.0 } else { total / counted as f64 })
}

/// Adjusted Rand index of two labelings of the same items.
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> f64 {
    use std::collections::HashMap;
    let n = a.len().min(b.len());
    if n < 2 {
        return 1.0;
    }
    let mut table: HashMap<(usize, usize), u64> = HashMap::new();
    let mut ra: HashMap<usize, u64> = HashMap::new();
    let mut rb: HashMap<usize, u64> = HashMap::new();
    for i in 0..n {
        *table.entry((a[i], b[i])).or_insert(0) += 1;
        *ra.entry(a[i]).or_insert(0) += 1;
        *rb.entry(b[i]).or_insert(0) += 1;
    }
    let c2 = |x: u64| (x as f64) * (x as f64 - 1.0) / 2.0;
    let index: f64 = table.values().map(|&v| c2(v)).sum();
    let sa: f64 = ra.values().map(|&v| c2(v)).sum();
    let sb: f64 = rb.values().map(|&v| c2(v)).sum();
    let expected = sa * sb / c2(n as u64);
    let max = (sa + sb) / 2.0;
    if (max - expected).abs() < 1e-12 { 1.0 } else { (index - expected) / (max - expected) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> (Vec<Vec<f64>>, Vec<usize>) {
        let mut rng = Rng(7);
        let centres = [[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]];
        let mut rows = Vec::new();
        let mut truth = Vec::new();
        for (c, ctr) in centres.iter().enumerate() {
            for _ in 0..100 {
                rows.push(vec![ctr[0] + rng.next_f64() - 0.5, ctr[1] + rng.next_f64() - 0.5]);
                truth.push(c);
            }
        }
        (rows, truth)
    }

    #[test]
    fn finds_well_separated_blobs_deterministically() {
        let (rows, truth) = blobs();
        let m = kmeans(&rows, 3, 1, 4);
        assert!((adjusted_rand_index(&m.labels, &truth) - 1.0).abs() < 1e-12);
        assert_eq!(m, kmeans(&rows, 3, 1, 4), "same seed, same answer");
        let s3 = silhouette(&rows, &m.labels, 3, 300);
        let m2 = kmeans(&rows, 2, 1, 4);
        let s2 = silhouette(&rows, &m2.labels, 2, 300);
        assert!(s3 > s2 && s3 > 0.8, "{s3} {s2}");
        // Asked to stop, they give up at once.
        assert_eq!(kmeans_until(&rows, 3, 1, 4, &|| true), None);
        assert_eq!(silhouette_until(&rows, &m.labels, 3, 300, &|| true), None);
        assert_eq!(kmeans_until(&rows, 3, 1, 4, &|| false), Some(m));
    }

    #[test]
    fn more_runs_in_parallel_give_what_all_the_runs_in_turn_give() {
        // Overlapping blobs, so the seeded runs end in different places.
        let rows: Vec<Vec<f64>> =
            (0..600).map(|i| vec![((i * 37) % 101) as f64 / 10.0, ((i * 53) % 97) as f64 / 10.0]).collect();
        for k in [2, 3, 5] {
            let all = kmeans_until(&rows, k, 17, 6, &|| false).unwrap();
            let first = kmeans_until(&rows, k, 17, 3, &|| false).unwrap();
            let more = kmeans_more(&rows, k, 17, Some(first), 3..6, &|| false).unwrap();
            assert_eq!((&more.centroids, &more.labels), (&all.centroids, &all.labels), "k = {k}");
            assert_eq!(more.inertia.to_bits(), all.inertia.to_bits());
            let fresh = kmeans_more(&rows, k, 17, None, 0..6, &|| false).unwrap();
            assert_eq!(fresh.labels, all.labels);
        }
    }

    #[test]
    fn ari_values_and_standardising() {
        assert!((adjusted_rand_index(&[0, 0, 1, 1], &[5, 5, 7, 7]) - 1.0).abs() < 1e-12);
        assert!(adjusted_rand_index(&[0, 0, 1, 1], &[0, 1, 0, 1]) < 0.0);
        let mut rows = vec![vec![1.0, 5.0], vec![3.0, 5.0]];
        let (m, s) = standardise(&mut rows);
        assert_eq!(m, vec![2.0, 5.0]);
        assert_eq!(s, vec![1.0, 0.0]);
        assert_eq!(rows, vec![vec![-1.0, 0.0], vec![1.0, 0.0]]);
    }
}
