//! Nelder–Mead minimisation: derivative-free, robust for the handful of
//! parameters the models fit (in log space, so every parameter stays
//! positive). Restarts from the best point until the simplex stops moving.

/// Minimises `f` from `start`; returns the best point and its value.
pub fn nelder_mead(f: &dyn Fn(&[f64]) -> f64, start: &[f64], step: f64, tol: f64, max_iter: usize) -> (Vec<f64>, f64) {
    let n = start.len();
    let eval = |x: &[f64]| {
        let v = f(x);
        if v.is_finite() { v } else { f64::INFINITY }
    };
    let mut best = (start.to_vec(), eval(start));
    // Restart until a restart no longer improves (guards against collapse).
    for _ in 0..8 {
        let mut simplex: Vec<(Vec<f64>, f64)> = vec![best.clone()];
        for i in 0..n {
            let mut x = best.0.clone();
            x[i] += step;
            let v = eval(&x);
            simplex.push((x, v));
        }
        let mut iter = 0;
        loop {
            simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
            let spread = (simplex[n].1 - simplex[0].1).abs();
            if iter >= max_iter || (spread <= tol * (simplex[0].1.abs() + tol) && simplex_size(&simplex) < 1e-9) {
                break;
            }
            iter += 1;
            let mut centroid = vec![0.0; n];
            for p in &simplex[..n] {
                for (c, x) in centroid.iter_mut().zip(&p.0) {
                    *c += x / n as f64;
                }
            }
            let worst = simplex[n].clone();
            let at = |t: f64| -> Vec<f64> { centroid.iter().zip(&worst.0).map(|(c, w)| c + t * (w - c)).collect() };
            let xr = at(-1.0);
            let fr = eval(&xr);
            if fr < simplex[0].1 {
                let xe = at(-2.0);
                let fe = eval(&xe);
                simplex[n] = if fe < fr { (xe, fe) } else { (xr, fr) };
            } else if fr < simplex[n - 1].1 {
                simplex[n] = (xr, fr);
            } else {
                let (xc, fc) = if fr < worst.1 {
                    let x = at(-0.5);
                    let v = eval(&x);
                    (x, v)
                } else {
                    let x = at(0.5);
                    let v = eval(&x);
                    (x, v)
                };
                if fc < worst.1.min(fr) {
                    simplex[n] = (xc, fc);
                } else {
                    // Shrink towards the best point.
                    let b = simplex[0].0.clone();
                    for p in simplex.iter_mut().skip(1) {
                        for (x, bj) in p.0.iter_mut().zip(&b) {
                            *x = bj + 0.5 * (*x - bj);
                        }
                        p.1 = eval(&p.0);
                    }
                }
            }
        }
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let improved = simplex[0].1 < best.1 - tol * (best.1.abs() + tol);
        best = simplex[0].clone();
        if !improved {
            break;
        }
    }
    best
}

fn simplex_size(s: &[(Vec<f64>, f64)]) -> f64 {
    let b = &s[0].0;
    s.iter().skip(1).map(|p| p.0.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)).fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_rosenbrock_minimum() {
        let f = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let (x, v) = nelder_mead(&f, &[-1.2, 1.0], 0.5, 1e-14, 20_000);
        assert!(v < 1e-10, "{v}");
        assert!((x[0] - 1.0).abs() < 1e-4 && (x[1] - 1.0).abs() < 1e-4, "{x:?}");
    }
}
