//! Minimisers for the handful of parameters the models fit (in log space,
//! so every parameter stays positive): BFGS with analytic gradients and a
//! backtracking line search (fast: a few dozen likelihood evaluations), and
//! Nelder–Mead (derivative-free, restarted until the simplex stops moving)
//! for objectives without a gradient.

/// An objective that also writes its gradient into the second argument.
pub type WithGradient<'a> = &'a dyn Fn(&[f64], &mut [f64]) -> f64;

/// Minimises `f` from `start` by BFGS (inverse-Hessian updates, Armijo
/// backtracking). Stops when the largest gradient component falls below
/// `gtol` or the value stops changing; returns the best point and value
/// (infinite if `f` is not finite at the start).
pub fn bfgs(f: WithGradient, start: &[f64], gtol: f64, max_iter: usize) -> (Vec<f64>, f64) {
    let n = start.len();
    let mut x = start.to_vec();
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    if !fx.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return (x, f64::INFINITY);
    }
    // Inverse Hessian, row-major; starts as the identity.
    let mut h: Vec<f64> = (0..n * n).map(|i| if i % (n + 1) == 0 { 1.0 } else { 0.0 }).collect();
    let mut g_new = vec![0.0; n];
    let mut stalled = 0;
    for _ in 0..max_iter {
        if g.iter().fold(0.0f64, |m, v| m.max(v.abs())) < gtol {
            break;
        }
        let mut d: Vec<f64> = (0..n).map(|i| -(0..n).map(|j| h[i * n + j] * g[j]).sum::<f64>()).collect();
        let mut slope: f64 = d.iter().zip(&g).map(|(a, b)| a * b).sum();
        if slope >= 0.0 {
            // Not a descent direction: restart from steepest descent.
            h.iter_mut().enumerate().for_each(|(i, v)| *v = if i % (n + 1) == 0 { 1.0 } else { 0.0 });
            d = g.iter().map(|v| -v).collect();
            slope = -g.iter().map(|v| v * v).sum::<f64>();
        }
        // Never step further than 2 in log space at once.
        let longest = d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let mut t = if longest > 2.0 { 2.0 / longest } else { 1.0 };
        let mut accepted = None;
        for _ in 0..60 {
            let xt: Vec<f64> = x.iter().zip(&d).map(|(a, b)| a + t * b).collect();
            let ft = f(&xt, &mut g_new);
            if ft.is_finite() && g_new.iter().all(|v| v.is_finite()) && ft <= fx + 1e-4 * t * slope {
                accepted = Some((xt, ft));
                break;
            }
            t *= 0.5;
        }
        let Some((xt, ft)) = accepted else { break };
        let s: Vec<f64> = xt.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy: f64 = s.iter().zip(&y).map(|(a, b)| a * b).sum();
        if sy > 1e-300 {
            // H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ
            let rho = 1.0 / sy;
            let hy: Vec<f64> = (0..n).map(|i| (0..n).map(|j| h[i * n + j] * y[j]).sum()).collect();
            let yhy: f64 = y.iter().zip(&hy).map(|(a, b)| a * b).sum();
            for i in 0..n {
                for j in 0..n {
                    h[i * n + j] += -rho * (hy[i] * s[j] + s[i] * hy[j]) + (rho * rho * yhy + rho) * s[i] * s[j];
                }
            }
        }
        let change = (fx - ft).abs();
        x = xt;
        fx = ft;
        g.copy_from_slice(&g_new);
        stalled = if change <= 1e-15 * (1.0 + fx.abs()) { stalled + 1 } else { 0 };
        if stalled >= 3 {
            break;
        }
    }
    (x, fx)
}

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
    fn bfgs_finds_the_rosenbrock_minimum() {
        let f = |x: &[f64], g: &mut [f64]| {
            g[0] = -2.0 * (1.0 - x[0]) - 400.0 * x[0] * (x[1] - x[0] * x[0]);
            g[1] = 200.0 * (x[1] - x[0] * x[0]);
            (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2)
        };
        let (x, v) = bfgs(&f, &[-1.2, 1.0], 1e-10, 1_000);
        assert!(v < 1e-16, "{v}");
        assert!((x[0] - 1.0).abs() < 1e-7 && (x[1] - 1.0).abs() < 1e-7, "{x:?}");
    }

    #[test]
    fn finds_the_rosenbrock_minimum() {
        let f = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let (x, v) = nelder_mead(&f, &[-1.2, 1.0], 0.5, 1e-14, 20_000);
        assert!(v < 1e-10, "{v}");
        assert!((x[0] - 1.0).abs() < 1e-4 && (x[1] - 1.0).abs() < 1e-4, "{x:?}");
    }
}
