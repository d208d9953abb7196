//! Confidence intervals of model predictions from the uncertainty of the fitted parameters.
//!
//! A fit reports the covariance Σ of its maximum-likelihood estimate θ̂ (the inverse of the
//! observed information, [`crate::clv::Fit::covariance`]). A prediction g(θ) — expected
//! purchases, CLV — inherits that uncertainty. The intervals here are the delta method on the
//! log scale: with d = ∂ ln g / ∂ ln θ (central differences) and Σ_log = D⁻¹ Σ D⁻¹, D = diag(θ̂)
//! (the covariance of ln θ̂ to first order), `sd = sqrt(dᵀ Σ_log d)` and the interval is
//! `g(θ̂) · exp(∓ z · sd)` with z the normal quantile of the level.
//!
//! Why the log scale: every quantity here is positive and its sampling distribution is skewed;
//! the plain delta method (`g ± z · se`) can cross zero for customers with little history,
//! while the log form cannot, and it is invariant to whether one thinks in g or in ln g. To first
//! order both have the same standard error `se = g · sd`, which is reported.
//!
//! What the interval is not: it covers the model's *expectation* for the customer, given the
//! uncertainty of the parameters estimated from the whole customer base. It is not a prediction
//! interval for the purchases the customer will actually make (that spread is much wider; see
//! `purchases::conditional_purchases_pmf`). With many customers the parameters are precise and
//! the intervals narrow; with a few hundred they are wide.

use crate::CoreError;

/// A prediction and its interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    /// The delta-method standard error of the estimate (`estimate · sd(ln estimate)`).
    pub se: f64,
}

/// Step of the central differences in ln θ: truncation error ~h² (1e-8), rounding error of the
/// model functions (≤ 1e-12 relative) over h ~1e-8.
const LOG_STEP: f64 = 1e-4;

/// The standard normal quantile z with P(|Z| ≤ z) = `level`, 0 < level < 1.
pub fn z_of_level(level: f64) -> Result<f64, CoreError> {
    if !(level > 0.0 && level < 1.0) {
        return Err(CoreError::InvalidParameter(format!(
            "level must be between 0 and 1 (exclusive), got {level}"
        )));
    }
    Ok(normal_upper_quantile((1.0 - level) / 2.0))
}

/// z with P(Z > z) = q, 0 < q ≤ ½: Acklam's rational approximation (relative error 1.2e-9)
/// refined by one Halley step on `libm::erfc`, accurate to a few ulps.
fn normal_upper_quantile(q: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    // the lower quantile of p = q (≤ ½), negated at the end
    let p = q;
    let x = if p < 0.02425 {
        let r = (-2.0 * p.ln()).sqrt();
        (((((C[0] * r + C[1]) * r + C[2]) * r + C[3]) * r + C[4]) * r + C[5])
            / ((((D[0] * r + D[1]) * r + D[2]) * r + D[3]) * r + 1.0)
    } else {
        let r = p - 0.5;
        let s = r * r;
        (((((A[0] * s + A[1]) * s + A[2]) * s + A[3]) * s + A[4]) * s + A[5]) * r
            / (((((B[0] * s + B[1]) * s + B[2]) * s + B[3]) * s + B[4]) * s + 1.0)
    };
    // Halley: e = Φ(x) − p, u = e·sqrt(2π)·exp(x²/2)
    let e = 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    let x = x - u / (1.0 + x * u / 2.0);
    -x
}

/// The log-scale delta-method interval of `g` at `theta` (all positive) with the parameters'
/// covariance `cov` (row-major, `theta.len()²`), at `level`. `g` must be positive or zero at
/// and around `theta`; a zero estimate (e.g. a zero horizon) has the interval [0, 0].
pub fn log_delta(
    g: &dyn Fn(&[f64]) -> f64,
    theta: &[f64],
    cov: &[f64],
    level: f64,
) -> Result<Interval, CoreError> {
    let z = z_of_level(level)?;
    let k = theta.len();
    if cov.len() != k * k {
        return Err(CoreError::InvalidParameter(format!(
            "the covariance must be a {k} x {k} matrix"
        )));
    }
    let estimate = g(theta);
    if !(estimate.is_finite() && estimate >= 0.0) {
        return Err(CoreError::OutOfRange(format!(
            "the prediction is not a finite number >= 0 ({estimate})"
        )));
    }
    if estimate == 0.0 {
        return Ok(Interval {
            estimate,
            low: 0.0,
            high: 0.0,
            se: 0.0,
        });
    }
    let mut d = vec![0.0; k];
    let mut at = theta.to_vec();
    for i in 0..k {
        at[i] = theta[i] * LOG_STEP.exp();
        let up = g(&at);
        at[i] = theta[i] * (-LOG_STEP).exp();
        let down = g(&at);
        at[i] = theta[i];
        if !(up > 0.0 && down > 0.0 && up.is_finite() && down.is_finite()) {
            return Err(CoreError::OutOfRange(
                "the prediction is not positive and finite near the fitted parameters".into(),
            ));
        }
        d[i] = (up.ln() - down.ln()) / (2.0 * LOG_STEP);
    }
    let mut var = 0.0;
    for i in 0..k {
        for j in 0..k {
            var += d[i] * d[j] * cov[i * k + j] / (theta[i] * theta[j]);
        }
    }
    // a positive semi-definite covariance gives var >= 0 up to rounding
    let sd = var.max(0.0).sqrt();
    if !sd.is_finite() {
        return Err(CoreError::OutOfRange(
            "the interval is not finite for this model".into(),
        ));
    }
    Ok(Interval {
        estimate,
        low: estimate * (-z * sd).exp(),
        high: estimate * (z * sd).exp(),
        se: estimate * sd,
    })
}

/// The block-diagonal covariance of two independently fitted parameter vectors (a purchase
/// model and Gamma-Gamma: the latter's assumption is that spend and purchasing are
/// independent), row-major over the concatenated parameters.
pub fn block_diagonal(a: &[f64], ka: usize, b: &[f64], kb: usize) -> Vec<f64> {
    let k = ka + kb;
    let mut out = vec![0.0; k * k];
    for i in 0..ka {
        out[i * k..i * k + ka].copy_from_slice(&a[i * ka..(i + 1) * ka]);
    }
    for i in 0..kb {
        out[(ka + i) * k + ka..(ka + i) * k + k].copy_from_slice(&b[i * kb..(i + 1) * kb]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantiles_match_scipy() {
        // scipy.stats.norm.ppf(1 - (1 - level) / 2), scipy 1.17
        for (level, z) in [
            (0.9, 1.6448536269514722),
            (0.95, 1.959963984540054),
            (0.5, 0.6744897501960817),
            (0.999999, 4.891638475671085),
            (1e-6, 1.253314137491014e-06),
        ] {
            let got = z_of_level(level).unwrap();
            // the extreme levels differ in how 1 − (1 − level)/2 rounds
            let tol = if level > 0.4 && level < 0.99 {
                1e-15
            } else {
                1e-9
            };
            assert!((got - z).abs() <= tol * z, "{level}: {got} vs {z}");
        }
        for bad in [0.0, 1.0, -0.1, 1.5, f64::NAN, f64::INFINITY] {
            assert!(z_of_level(bad).is_err());
        }
    }

    #[test]
    fn a_product_of_parameters_has_the_exact_log_variance() {
        // ln(θ0 θ1²) = ln θ0 + 2 ln θ1: d = (1, 2), var = Σ00/θ0² + 4 Σ11/θ1² + 4 Σ01/(θ0 θ1)
        let theta = [2.0, 3.0];
        let cov = [0.04, 0.01, 0.01, 0.09];
        let g = |t: &[f64]| t[0] * t[1] * t[1];
        let i = log_delta(&g, &theta, &cov, 0.9).unwrap();
        let var: f64 = 0.04 / 4.0 + 4.0 * 0.09 / 9.0 + 4.0 * 0.01 / 6.0;
        let z = 1.6448536269514722;
        assert!((i.estimate - 18.0).abs() < 1e-12);
        assert!((i.se - 18.0 * var.sqrt()).abs() < 1e-7 * i.se);
        assert!((i.low - 18.0 * (-z * var.sqrt()).exp()).abs() < 1e-7 * i.low);
        assert!((i.high - 18.0 * (z * var.sqrt()).exp()).abs() < 1e-7 * i.high);
        assert!((i.low * i.high - 18.0 * 18.0).abs() < 1e-9 * 324.0); // symmetric in ln g
                                                                      // zero estimate, bad covariance, negative prediction
        let zero = log_delta(&|_: &[f64]| 0.0, &theta, &cov, 0.9).unwrap();
        assert_eq!((zero.low, zero.high, zero.se), (0.0, 0.0, 0.0));
        assert!(log_delta(&g, &theta, &cov[..3], 0.9).is_err());
        assert!(log_delta(&|_: &[f64]| -1.0, &theta, &cov, 0.9).is_err());
        assert!(log_delta(&|_: &[f64]| f64::NAN, &theta, &cov, 0.9).is_err());
        assert!(log_delta(&g, &theta, &cov, 1.0).is_err());
    }

    #[test]
    fn block_diagonal_places_both_blocks() {
        let m = block_diagonal(&[1.0, 2.0, 3.0, 4.0], 2, &[5.0], 1);
        assert_eq!(m, vec![1.0, 2.0, 0.0, 3.0, 4.0, 0.0, 0.0, 0.0, 5.0]);
    }
}
