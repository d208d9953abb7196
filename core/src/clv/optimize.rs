//! The optimiser of the fits: BFGS with a backtracking line search and a stall rule, the
//! generic fit over log-parameters, and its finish (log-likelihood, information matrix).

use super::*;

/// An objective: value and gradient at a point.
pub type Objective<'a> = &'a dyn Fn(&[f64]) -> (f64, Vec<f64>);

/// The largest |gradient| component (of the objective, a mean negative log-likelihood, in the
/// optimiser's coordinates) at which BFGS stops converged.
pub const GRADIENT_TOL: f64 = 1e-7;

/// A stop for another reason (failed line search, stall rule, no change of the objective)
/// counts as converged when the largest |gradient| component is below this.
pub const LOOSE_GRADIENT_TOL: f64 = 1e-5;

/// Armijo's sufficient-decrease factor of the line searches.
pub const ARMIJO: f64 = 1e-4;

/// Factor by which [`bfgs_stall`]'s line search shortens a refused step.
pub const BACKTRACK: f64 = 0.5;

/// Step length (of the quasi-Newton direction) below which [`bfgs_stall`]'s line search fails.
pub const MIN_STEP: f64 = 1e-20;

/// Curvature s'y above which the BFGS update of the inverse Hessian is made (skipped below).
pub const MIN_CURVATURE: f64 = 1e-12;

/// A change of the objective by at most this times max(|f|, 1) is no change (at the rounding
/// of the objective).
pub const F_REL_TOL: f64 = 1e-15;

/// Pivots below this make the information matrix singular ([`invert`]).
pub const SINGULAR_PIVOT: f64 = 1e-300;

/// The relative step of the central differences of the information matrix.
pub const HESSIAN_STEP: f64 = 1e-5;
/// The least |θ| that [`HESSIAN_STEP`] is relative to.
pub const HESSIAN_STEP_FLOOR: f64 = 1e-3;

/// Minimises `f` (value and gradient) from `x0` by BFGS with Armijo backtracking.
/// `interrupt` is called once per iteration (query cancel).
pub fn bfgs(
    f: Objective<'_>,
    x0: Vec<f64>,
    max_iter: u32,
    interrupt: &mut dyn FnMut(),
) -> (Vec<f64>, f64, bool, u32) {
    bfgs_stall(f, x0, max_iter, interrupt, None)
}

/// A stopping rule on stagnation: stop once the objective has decreased by at most
/// `rel · max(|f|, 1)` over the last `window` iterations.
#[derive(Clone, Copy, Debug)]
pub struct Stall {
    pub window: usize,
    pub rel: f64,
}

/// [`bfgs`] with an optional [`Stall`] rule (`None`: exactly [`bfgs`]). A stop by the rule
/// reports convergence as a failed line search does: when the gradient is below 1e-5.
pub fn bfgs_stall(
    f: Objective<'_>,
    x0: Vec<f64>,
    max_iter: u32,
    interrupt: &mut dyn FnMut(),
    stall: Option<Stall>,
) -> (Vec<f64>, f64, bool, u32) {
    let mut history: Vec<f64> = Vec::new();
    let n = x0.len();
    let mut x = x0;
    let (mut fx, mut g) = f(&x);
    let mut h = vec![vec![0.0; n]; n];
    for (i, row) in h.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    let norm = |g: &[f64]| g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for iter in 0..max_iter {
        interrupt();
        if !fx.is_finite() {
            return (x, fx, false, iter);
        }
        if norm(&g) < GRADIENT_TOL {
            return (x, fx, true, iter);
        }
        let mut p: Vec<f64> = (0..n)
            .map(|i| -(0..n).map(|j| h[i][j] * g[j]).sum::<f64>())
            .collect();
        let mut slope: f64 = p.iter().zip(&g).map(|(a, b)| a * b).sum();
        if slope >= 0.0 {
            // not a descent direction: restart from steepest descent
            for (i, row) in h.iter_mut().enumerate() {
                row.iter_mut().for_each(|v| *v = 0.0);
                row[i] = 1.0;
            }
            p = g.iter().map(|v| -v).collect();
            slope = -g.iter().map(|v| v * v).sum::<f64>();
        }
        let mut step = 1.0;
        let (mut x_new, mut f_new, mut g_new);
        loop {
            x_new = x
                .iter()
                .zip(&p)
                .map(|(a, b)| a + step * b)
                .collect::<Vec<f64>>();
            (f_new, g_new) = f(&x_new);
            if f_new.is_finite() && f_new <= fx + ARMIJO * step * slope {
                break;
            }
            step *= BACKTRACK;
            if step < MIN_STEP {
                return (x, fx, norm(&g) < LOOSE_GRADIENT_TOL, iter);
            }
        }
        let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy: f64 = s.iter().zip(&y).map(|(a, b)| a * b).sum();
        if sy > MIN_CURVATURE {
            let hy: Vec<f64> = (0..n)
                .map(|i| (0..n).map(|j| h[i][j] * y[j]).sum())
                .collect();
            let yhy: f64 = y.iter().zip(&hy).map(|(a, b)| a * b).sum();
            for i in 0..n {
                for j in 0..n {
                    h[i][j] +=
                        (sy + yhy) * s[i] * s[j] / (sy * sy) - (hy[i] * s[j] + s[i] * hy[j]) / sy;
                }
            }
        }
        let converged_f = (fx - f_new).abs() <= F_REL_TOL * fx.abs().max(1.0);
        x = x_new;
        fx = f_new;
        g = g_new;
        if converged_f && norm(&g) < LOOSE_GRADIENT_TOL {
            return (x, fx, true, iter + 1);
        }
        if let Some(st) = stall {
            history.push(fx);
            if history.len() > st.window {
                let past = history[history.len() - 1 - st.window];
                if past - fx <= st.rel * fx.abs().max(1.0) {
                    return (x, fx, norm(&g) < LOOSE_GRADIENT_TOL, iter + 1);
                }
            }
        }
    }
    (x, fx, norm(&g) < GRADIENT_TOL, max_iter)
}

/// Inverse of a small symmetric matrix by Gauss-Jordan; `None` if singular.
pub(super) fn invert(mut m: Vec<Vec<f64>>) -> Option<Vec<Vec<f64>>> {
    let n = m.len();
    let mut inv: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    if m.iter().flatten().any(|v| !v.is_finite()) {
        return None; // a Hessian with NaN or infinite entries (degenerate data) has no inverse
    }
    for c in 0..n {
        let p = (c..n).max_by(|a, b| m[*a][c].abs().total_cmp(&m[*b][c].abs()))?;
        if m[p][c].abs() < SINGULAR_PIVOT {
            return None;
        }
        m.swap(c, p);
        inv.swap(c, p);
        let d = m[c][c];
        for j in 0..n {
            m[c][j] /= d;
            inv[c][j] /= d;
        }
        for r in 0..n {
            if r != c {
                let k = m[r][c];
                for j in 0..n {
                    m[r][j] -= k * m[c][j];
                    inv[r][j] -= k * inv[c][j];
                }
            }
        }
    }
    Some(inv)
}

/// The standard errors and the covariance matrix (row-major k × k) of the maximum-likelihood
/// estimate `theta`: the inverse of the observed information, a numerical Hessian (central
/// differences) of the analytic gradient `grad` of the negative log-likelihood, symmetrised.
/// `None` when it is not positive definite (no proper maximum).
pub(crate) fn inverse_information(
    grad: &dyn Fn(&[f64]) -> Vec<f64>,
    theta: &[f64],
) -> Option<(Vec<f64>, Vec<f64>)> {
    let n = theta.len();
    let mut hess = vec![vec![0.0; n]; n];
    for j in 0..n {
        let h = HESSIAN_STEP * theta[j].abs().max(HESSIAN_STEP_FLOOR);
        let mut up = theta.to_vec();
        let mut down = theta.to_vec();
        up[j] += h;
        down[j] -= h;
        let (gu, gd) = (grad(&up), grad(&down));
        for (i, row) in hess.iter_mut().enumerate() {
            row[j] = (gu[i] - gd[i]) / (2.0 * h);
        }
    }
    // symmetrise
    let hess: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| 0.5 * (hess[i][j] + hess[j][i])).collect())
        .collect();
    let inv = invert(hess)?;
    let var: Vec<f64> = (0..n).map(|i| inv[i][i]).collect();
    if !var.iter().all(|v| v.is_finite() && *v > 0.0) {
        return None;
    }
    let covariance: Vec<f64> = (0..n)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .map(|(i, j)| 0.5 * (inv[i][j] + inv[j][i]))
        .collect();
    if covariance.iter().any(|v| !v.is_finite()) {
        return None;
    }
    Some((var.into_iter().map(f64::sqrt).collect(), covariance))
}

/// Maximum-likelihood fit of a model with `k` positive parameters: minimises the mean negative
/// log-likelihood plus `penalizer · Σ θ²` (the convention of the Python package lifetimes)
/// over log-parameters from θ = 1, and reports the unpenalized log-likelihood.
pub(super) fn fit_model(
    name: &str,
    k: usize,
    n: f64,
    ll: Objective<'_>,
    penalizer: f64,
    interrupt: &mut dyn FnMut(),
) -> Result<Fit, CoreError> {
    let min = minimise_log_params(k, n, ll, penalizer, interrupt);
    finish_fit(name, n, ll, min.theta, min.converged, min.iterations)
}

/// The optimiser's result: the parameters θ, its own coordinates `x` (ln θ, or the Pareto/NBD's
/// v) and the objective `f` there, whether the gradient vanished, the iterations.
pub struct Minimum {
    pub theta: Vec<f64>,
    pub x: Vec<f64>,
    pub f: f64,
    pub converged: bool,
    pub iterations: u32,
}

/// The optimisation of [`fit_model`]: the mean negative log-likelihood plus
/// `penalizer · Σ θ²` minimised over ln θ from θ = 1 by [`bfgs_stall`] with [`FIT_STALL`].
pub(super) fn minimise_log_params(
    k: usize,
    n: f64,
    ll: Objective<'_>,
    penalizer: f64,
    interrupt: &mut dyn FnMut(),
) -> Minimum {
    let f = |lp: &[f64]| -> (f64, Vec<f64>) {
        let theta: Vec<f64> = lp.iter().map(|v| v.exp()).collect();
        let (l, g) = ll(&theta);
        let pen: f64 = theta.iter().map(|t| t * t).sum::<f64>() * penalizer;
        (
            -l / n + pen,
            (0..k)
                .map(|i| -g[i] * theta[i] / n + 2.0 * penalizer * theta[i] * theta[i])
                .collect(),
        )
    };
    let (lp, f, converged, iterations) = bfgs_stall(
        &f,
        vec![0.0; k],
        FIT_MAX_ITERATIONS,
        interrupt,
        Some(FIT_STALL),
    );
    Minimum {
        theta: lp.iter().map(|v| v.exp()).collect(),
        x: lp,
        f,
        converged,
        iterations,
    }
}

/// Iterations of BFGS at most in a fit (the Pareto/NBD's included).
pub const FIT_MAX_ITERATIONS: u32 = 500;

/// The [`Fit`] at the optimiser's final parameters `theta`: unpenalized log-likelihood,
/// standard errors and the convergence flag (see the comment below).
pub(super) fn finish_fit(
    name: &str,
    n: f64,
    ll: Objective<'_>,
    theta: Vec<f64>,
    converged: bool,
    iterations: u32,
) -> Result<Fit, CoreError> {
    let (log_likelihood, score) = ll(&theta);
    if !log_likelihood.is_finite() || theta.iter().any(|v| !v.is_finite()) {
        return Err(CoreError::OutOfRange(format!(
            "{name} did not reach finite parameters"
        )));
    }
    let grad = |th: &[f64]| -> Vec<f64> { ll(th).1.iter().map(|v| -v).collect() };
    // where the optimiser did not converge (it stopped far out on a ridge, or ran out of
    // iterations) the point is no maximum, and the inverse information there no covariance of
    // anything; where the gradient itself is not finite (e.g. the Pareto/NBD's r -> 0) there is
    // no information matrix: then the eight evaluations of the gradient are skipped
    let (std_errors, covariance) = match (converged && score.iter().all(|v| v.is_finite()))
        .then(|| inverse_information(&grad, &theta))
        .flatten()
    {
        Some((se, cov)) => (Some(se), Some(cov)),
        None => (None, None),
    };
    Ok(Fit {
        covariance,
        // converged: the gradient vanished at a proper interior maximum (positive definite
        // information); a flat likelihood running off to infinity (e.g. one customer) is not
        converged: converged && std_errors.is_some(),
        std_errors,
        params: theta,
        log_likelihood,
        customers: n,
        iterations,
    })
}

/// The stagnation rule of the closed-form fits (BG/NBD, MBG/NBD, Gamma-Gamma): a likelihood that
/// keeps rising by less than 1e-13 (relative) over 10 iterations is running off along a ridge to
/// infinite parameters (e.g. BG/NBD's a, b → ∞ on the data of issue 18: 500 iterations, 300 ms,
/// before this rule; 46 now, not converged). Proper maxima converge by the gradient first.
pub(super) const FIT_STALL: Stall = Stall {
    window: 10,
    rel: 1e-13,
};

/// A log-likelihood with its gradient over weighted patterns.
pub(super) type PatternLl<const N: usize, const K: usize> =
    fn(&[f64], &[([f64; N], f64)]) -> (f64, [f64; K]);

/// The log-likelihood and gradient of `data`, summed chunk by chunk with `interrupt` called
/// before each chunk.
pub(super) fn chunked_ll<const N: usize, const K: usize>(
    theta: &[f64],
    data: &[([f64; N], f64)],
    interrupt: &std::cell::RefCell<&mut dyn FnMut()>,
    ll: PatternLl<N, K>,
    chunk_size: usize,
) -> (f64, Vec<f64>) {
    let mut total = 0.0;
    let mut grad = [0.0; K];
    for chunk in data.chunks(chunk_size) {
        (interrupt.borrow_mut())();
        let (l, g) = ll(theta, chunk);
        total += l;
        for (a, b) in grad.iter_mut().zip(g) {
            *a += b;
        }
    }
    (total, grad.to_vec())
}

#[cfg(test)]
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, tol: f64) -> bool {
        (got - want).abs() <= tol * want.abs().max(1.0)
    }

    /// The stall rule stops a crawl that the gradient test would not.
    #[test]
    fn bfgs_stall_rule_stops_a_crawl() {
        // f = 1e12 − ln(1 + x²) + y²: no minimum, the gradient in x vanishes only like 2/x, and
        // the relative decrease per iteration is tiny from the start
        let f = |v: &[f64]| -> (f64, Vec<f64>) {
            let q = 1.0 + v[0] * v[0];
            (
                1e12 - q.ln() + v[1] * v[1],
                vec![-2.0 * v[0] / q, 2.0 * v[1]],
            )
        };
        let (_, _, _, plain) = bfgs(&f, vec![1.0, 1.0], 500, &mut || {});
        let stall = Stall {
            window: 5,
            rel: 1e-10,
        };
        let (_, fx, converged, it) = bfgs_stall(&f, vec![1.0, 1.0], 500, &mut || {}, Some(stall));
        assert!(
            it <= 10 && plain >= 40 && !converged,
            "{it} vs {plain}, {fx}"
        );
    }

    /// [`finish_fit`] skips the information matrix (eight gradient evaluations) where the
    /// gradient at the final point is not finite, and computes it otherwise (two parameters:
    /// the value and four gradients).
    #[test]
    fn finish_fit_skips_the_information_without_a_gradient() {
        // not converged: no information either
        let calls = std::cell::Cell::new(0);
        let ll = |th: &[f64]| -> (f64, Vec<f64>) {
            calls.set(calls.get() + 1);
            (
                -th.iter().map(|t| (t - 2.0).powi(2)).sum::<f64>(),
                th.iter().map(|t| -2.0 * (t - 2.0)).collect(),
            )
        };
        let fit = finish_fit("test", 1.0, &ll, vec![2.0, 2.0], false, 3).unwrap();
        assert_eq!(calls.get(), 1);
        assert!(fit.std_errors.is_none() && fit.covariance.is_none() && !fit.converged);
        for (nan, calls_want) in [(false, 5), (true, 1)] {
            let calls = std::cell::Cell::new(0);
            let ll = |th: &[f64]| -> (f64, Vec<f64>) {
                calls.set(calls.get() + 1);
                let l = -th.iter().map(|t| (t - 2.0).powi(2)).sum::<f64>();
                let mut g: Vec<f64> = th.iter().map(|t| -2.0 * (t - 2.0)).collect();
                if nan {
                    g[0] = f64::NAN;
                }
                (l, g)
            };
            let fit = finish_fit("test", 1.0, &ll, vec![2.0, 2.0], true, 3).unwrap();
            assert_eq!(calls.get(), calls_want, "{nan}");
            assert_eq!(fit.std_errors.is_some(), !nan);
            assert_eq!(fit.converged, !nan);
            if !nan {
                let se = fit.std_errors.unwrap();
                assert!(se.iter().all(|v| close(*v, 0.5f64.sqrt(), 1e-8)), "{se:?}");
            }
        }
    }
}
