//! Special functions: the Gauss hypergeometric series (with derivatives) and stable
//! differences of ln Γ and ψ.

use statrs::function::gamma::{digamma, ln_gamma};

/// ₂F₁(a, b; c; z) and its partial derivatives (∂a, ∂b, ∂c, ∂z) by one pass over the power
/// series (0 <= z < 1): each term t_k carries ∂ln t_k/∂a = Σ_{j<k} 1/(a+j) (likewise b, and
/// −Σ 1/(c+j) for c) and ∂t_k/∂z = k t_k / z. Sums at most [`HYP2F1_MAX_TERMS`] terms, which
/// takes milliseconds as z → 1: the Pareto/NBD calls [`hyp2f1_series`] only where it is short.
pub fn hyp2f1_grad(a: f64, b: f64, c: f64, z: f64) -> [f64; 5] {
    hyp2f1_series(a, b, c, z, HYP2F1_MAX_TERMS).0
}

/// [`hyp2f1_grad`] summing at most `max_terms` terms; also returns the number of terms summed.
pub(super) fn hyp2f1_series(a: f64, b: f64, c: f64, z: f64, max_terms: usize) -> ([f64; 5], usize) {
    let (mut t, mut f) = (1.0, 1.0);
    let (mut sa, mut sb, mut sc) = (0.0, 0.0, 0.0);
    let (mut fa, mut fb, mut fc, mut fz) = (0.0, 0.0, 0.0, 0.0);
    let mut terms = max_terms;
    for k in 0..max_terms {
        let kf = k as f64;
        sa += 1.0 / (a + kf);
        sb += 1.0 / (b + kf);
        sc += 1.0 / (c + kf);
        t *= (a + kf) * (b + kf) / ((c + kf) * (kf + 1.0)) * z;
        f += t;
        fa += t * sa;
        fb += t * sb;
        fc -= t * sc;
        fz += t * (kf + 1.0);
        if t.abs() <= 1e-17 * f.abs() && k > 2 {
            terms = k + 1;
            break;
        }
    }
    let fz = if z > 0.0 { fz / z } else { a * b / c };
    ([f, fa, fb, fc, fz], terms)
}

/// Upper estimate of the terms the series of ₂F₁(a, b; a+1; z) needs for 1e-17: the terms
/// grow while (b+k) z > k+1, i.e. up to k ≈ (b−1) z/(1−z), and then shrink at least
/// geometrically towards the ratio z (40 / −ln z terms for a factor 1e-17).
pub(super) fn hyp2f1_a1_series_terms(b: f64, z: f64) -> f64 {
    if z <= 0.0 {
        return 3.0;
    }
    (b - 1.0).max(0.0) * z / (1.0 - z) + 40.0 / -z.ln() + 3.0
}

/// ln Γ(z+x) − ln Γ(z) and ψ(z+x) − ψ(z) (x >= 0) given `lg_z`, `dg_z` = ln Γ(z), ψ(z): for
/// z >= 100 by the differences of Stirling's series, as [`pnbd_gamma_ratio`] (the direct
/// differences lose ε · ln Γ(z) each, 4e-7 at z = 1e8: BG/NBD's a, b → ∞ along a ridge made
/// the objective that noisy, and its line searches halved the step some 44 times an
/// iteration).
pub(super) fn ln_gamma_diff(z: f64, x: f64, lg_z: f64, dg_z: f64) -> (f64, f64) {
    if x == 0.0 {
        return (0.0, 0.0);
    }
    if z < 100.0 {
        return (ln_gamma(z + x) - lg_z, digamma(z + x) - dg_z);
    }
    let stirling = |z: f64| {
        let z2 = 1.0 / (z * z);
        (1.0 / 12.0 - z2 * (1.0 / 360.0 - z2 * (1.0 / 1260.0 - z2 / 1680.0))) / z
    };
    let psi_tail = |z: f64| {
        let z2 = 1.0 / (z * z);
        0.5 / z + z2 * (1.0 / 12.0 - z2 * (1.0 / 120.0 - z2 / 252.0))
    };
    let l = (x / z).ln_1p();
    (
        (z - 0.5) * l - x + x * (z + x).ln() + stirling(z + x) - stirling(z),
        l - psi_tail(z + x) + psi_tail(z),
    )
}

/// Terms summed at most by the ₂F₁ power series ([`hyp2f1`], [`hyp2f1_grad`]).
pub const HYP2F1_MAX_TERMS: usize = 1_000_000;

/// Gauss hypergeometric 2F1(a, b; c; z) for 0 <= z < 1 by its power series.
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let (mut term, mut sum) = (1.0, 1.0);
    for k in 0..HYP2F1_MAX_TERMS {
        let k = k as f64;
        term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        sum += term;
        if term.abs() <= 1e-16 * sum.abs() {
            break;
        }
    }
    sum
}
