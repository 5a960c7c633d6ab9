//! Item recommendations from implicit feedback (DESIGN §10): popularity,
//! item-to-item co-occurrence (cosine) and EASE (Steck 2019, "Embarrassingly
//! Shallow Autoencoders": B = I − P·diag(1/diag P) with P = (XᵀX + λI)⁻¹,
//! diag B = 0), each scoring every item for a user's history; and the
//! top-N metrics they are compared by (hit rate, NDCG, recall).

/// Items each user interacted with (indices below `items`), deduplicated.
pub type History = Vec<usize>;

/// How an item is scored for a history.
pub trait Scorer {
    fn scores(&self, history: &[usize]) -> Vec<f64>;
}

/// Items by how many users had them.
pub struct Popularity {
    counts: Vec<f64>,
}

impl Popularity {
    pub fn fit(histories: &[History], items: usize) -> Popularity {
        let mut counts = vec![0.0; items];
        for h in histories {
            for &i in h {
                counts[i] += 1.0;
            }
        }
        Popularity { counts }
    }
}

impl Scorer for Popularity {
    fn scores(&self, _: &[usize]) -> Vec<f64> {
        self.counts.clone()
    }
}

/// Item-item cosine similarity of co-occurrence in users' histories; an
/// item's score is the sum of its similarities to the history's items.
pub struct CoOccurrence {
    sim: Vec<Vec<f64>>,
}

impl CoOccurrence {
    pub fn fit(histories: &[History], items: usize) -> CoOccurrence {
        let mut co = vec![vec![0.0f64; items]; items];
        for h in histories {
            for &a in h {
                for &b in h {
                    co[a][b] += 1.0;
                }
            }
        }
        let norm: Vec<f64> = (0..items).map(|i| co[i][i].sqrt()).collect();
        let sim =
            (0..items)
                .map(|a| {
                    (0..items)
                        .map(|b| {
                            if a == b || norm[a] == 0.0 || norm[b] == 0.0 {
                                0.0
                            } else {
                                co[a][b] / (norm[a] * norm[b])
                            }
                        })
                        .collect()
                })
                .collect();
        CoOccurrence { sim }
    }
}

impl Scorer for CoOccurrence {
    fn scores(&self, history: &[usize]) -> Vec<f64> {
        let mut s = vec![0.0; self.sim.len()];
        for &h in history {
            for (x, v) in s.iter_mut().zip(&self.sim[h]) {
                *x += v;
            }
        }
        s
    }
}

/// EASE: a closed-form item-item linear model with an L2 penalty `lambda`.
pub struct Ease {
    b: Vec<Vec<f64>>,
}

impl Ease {
    /// None when the Gram matrix cannot be inverted.
    pub fn fit(histories: &[History], items: usize, lambda: f64) -> Option<Ease> {
        let mut g = vec![vec![0.0f64; items]; items];
        for h in histories {
            for &a in h {
                for &b in h {
                    g[a][b] += 1.0;
                }
            }
        }
        for (i, row) in g.iter_mut().enumerate() {
            row[i] += lambda;
        }
        let p = crate::linalg::invert(&g)?;
        let b =
            (0..items).map(|i| (0..items).map(|j| if i == j { 0.0 } else { -p[i][j] / p[j][j] }).collect()).collect();
        Some(Ease { b })
    }
}

impl Scorer for Ease {
    fn scores(&self, history: &[usize]) -> Vec<f64> {
        let mut s = vec![0.0; self.b.len()];
        for &h in history {
            for (x, v) in s.iter_mut().zip(&self.b[h]) {
                *x += v;
            }
        }
        s
    }
}

/// The `n` best items for a history, leaving out `exclude` (best first;
/// ties by item index).
pub fn top_n(scores: &[f64], exclude: &[usize], n: usize) -> Vec<usize> {
    let mut items: Vec<usize> = (0..scores.len()).filter(|i| !exclude.contains(i)).collect();
    items.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    items.truncate(n);
    items
}

/// Mean hit rate, NDCG and recall at `n` over test users: for each, the
/// top `n` of their training history's scores (already-had items left
/// out) against the items they bought in the test period.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Metrics {
    pub users: usize,
    pub hit_rate: f64,
    pub ndcg: f64,
    pub recall: f64,
}

pub fn evaluate(model: &dyn Scorer, cases: &[(History, Vec<usize>)], n: usize) -> Metrics {
    let (mut hit, mut ndcg, mut recall) = (0.0, 0.0, 0.0);
    for (history, truth) in cases {
        let top = top_n(&model.scores(history), history, n);
        let hits: Vec<usize> = top.iter().enumerate().filter(|(_, i)| truth.contains(i)).map(|(r, _)| r).collect();
        hit += f64::from(u8::from(!hits.is_empty()));
        let dcg: f64 = hits.iter().map(|&r| 1.0 / ((r + 2) as f64).log2()).sum();
        let ideal: f64 = (0..truth.len().min(n)).map(|r| 1.0 / ((r + 2) as f64).log2()).sum();
        ndcg += if ideal > 0.0 { dcg / ideal } else { 0.0 };
        recall += hits.len() as f64 / truth.len().min(n).max(1) as f64;
    }
    let users = cases.len();
    let mean = |x: f64| if users > 0 { x / users as f64 } else { 0.0 };
    Metrics { users, hit_rate: mean(hit), ndcg: mean(ndcg), recall: mean(recall) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two tastes: items 0–3 go together, items 4–7 go together; item 8 is
    /// bought by everyone (popular, but no signal).
    fn histories() -> Vec<History> {
        let mut h = Vec::new();
        for u in 0..40 {
            let base = if u % 2 == 0 { 0 } else { 4 };
            h.push(vec![base + u % 4, base + (u + 1) % 4, 8]);
        }
        h
    }

    #[test]
    fn co_occurrence_and_ease_follow_tastes_popularity_does_not() {
        let train = histories();
        let cases: Vec<(History, Vec<usize>)> = vec![(vec![0, 8], vec![1]), (vec![5, 8], vec![6])];
        let pop = Popularity::fit(&train, 9);
        let co = CoOccurrence::fit(&train, 9);
        let ease = Ease::fit(&train, 9, 1.0).unwrap();
        let at = |m: &dyn Scorer| evaluate(m, &cases, 2);
        assert_eq!(at(&co).hit_rate, 1.0, "{:?}", at(&co));
        assert_eq!(at(&ease).hit_rate, 1.0, "{:?}", at(&ease));
        assert!(at(&pop).hit_rate < 1.0, "{:?}", at(&pop));
        // A user's own items are never recommended.
        assert!(!top_n(&co.scores(&[0, 1]), &[0, 1], 3).contains(&0));
    }

    #[test]
    fn ease_has_a_zero_diagonal_and_metrics_are_exact() {
        let ease = Ease::fit(&histories(), 9, 2.0).unwrap();
        assert!((0..9).all(|i| ease.b[i][i] == 0.0));
        // One user: truth {3}, top 2 = [3, x] -> hit 1, NDCG 1, recall 1.
        struct Fixed;
        impl Scorer for Fixed {
            fn scores(&self, _: &[usize]) -> Vec<f64> {
                vec![0.0, 0.0, 0.0, 5.0, 4.0]
            }
        }
        let m = evaluate(&Fixed, &[(vec![0], vec![3]), (vec![0], vec![1])], 2);
        assert_eq!((m.users, m.hit_rate, m.recall), (2, 0.5, 0.5));
        assert!((m.ndcg - 0.5).abs() < 1e-12);
    }
}
