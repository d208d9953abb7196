//! The distribution of the number of purchases in a period, for a new customer and for a
//! customer with a history, and the churn probability, under the purchase models of
//! [`crate::clv`]: BG/NBD, modified BG/NBD (MBG/NBD) and Pareto/NBD.
//!
//! # Conventions
//!
//! * `theta` is `[r, alpha, a, b]` (BG/NBD, MBG/NBD) or `[r, alpha, s, beta]` (Pareto/NBD), all
//!   finite and > 0, as fitted by [`crate::clv`].
//! * A customer's history is `(x, t_x, T)` = (frequency = repeat purchases, recency = time of
//!   the last repeat purchase, tenure = time since the first purchase), checked by
//!   [`crate::clv::check_customer`]. The first purchase (time 0) is never counted.
//! * `n` is a whole number >= 0 (an `f64` holding an integer), `t` a finite time >= 0 in the
//!   units of the fit. For `t = 0` every distribution is the point mass at 0.
//! * `X(t)` is the number of repeat purchases of a new customer in `(0, t]` (the first purchase
//!   at 0 not counted); `X(T, T+t)` the number of purchases in `(T, T+t]`.
//! * Results are probabilities in [0, 1]; a value that is not finite is
//!   [`CoreError::OutOfRange`], a bad argument [`CoreError::InvalidParameter`].
//!
//! # The models (individual level, then mixed)
//!
//! While alive a customer purchases as a Poisson process of rate `λ ~ Gamma(r, α)`.
//!
//! * BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way", *Marketing
//!   Science* 24(2), FHL below): after each repeat purchase the customer drops out with
//!   probability `p ~ Beta(a, b)`.
//! * MBG/NBD (Batislam, Denizel & Filiztekin 2007, *Int. J. of Research in Marketing* 24(3);
//!   the form of lifetimes' `ModifiedBetaGeoFitter`): the customer may also drop out right after
//!   the first purchase (time 0), i.e. after each of the purchases 0, 1, 2, …
//! * Pareto/NBD (Schmittlein, Morrison & Colombo 1987; Fader & Hardie's 2005 note "A note on
//!   deriving the Pareto/NBD model and related expressions", FH05 below): the lifetime is
//!   exponential of rate `μ ~ Gamma(s, β)`, i.e. `P(τ > u) = (β/(β+u))^s` after mixing.
//!
//! ## New customer
//!
//! With `NB(n; r, α, t) = Γ(r+n)/(Γ(r) n!) · (α/(α+t))^r · (t/(α+t))^n` (the negative binomial
//! count of a Gamma-Poisson customer who stays alive) and its upper tail
//! `NB⁺(n; r, α, t) = Σ_{j>=n} NB(j; r, α, t) = I_{t/(α+t)}(n, r)` (the regularized incomplete
//! beta function; `= 1` for `n = 0`):
//!
//! * BG/NBD (FHL eq. 8; lifetimes `BetaGeoFitter.probability_of_n_purchases_up_to_time`):
//!   `P(X(t) = n) = B(a, b+n)/B(a, b) · NB(n; r, α, t)
//!      + 1(n > 0) B(a+1, b+n−1)/B(a, b) · NB⁺(n; r, α, t)`.
//!
//!   FHL write the tail as `1 − (α/(α+t))^r Σ_{j<n} Γ(r+j)/(Γ(r) j!) (t/(α+t))^j`, a difference
//!   that loses every digit when the tail is small; here it is the incomplete beta function,
//!   evaluated in log space by its continued fraction (no cancellation, see below).
//! * MBG/NBD (lifetimes `ModifiedBetaGeoFitter.probability_of_n_purchases_up_to_time`):
//!   `P(X(t) = n) = B(a, b+n+1)/B(a, b) · NB(n; r, α, t) + B(a+1, b+n)/B(a, b) · NB⁺(n; r, α, t)`,
//!   which is `a/(a+b) · 1(n = 0) + b/(a+b) · P_BG(n; r, α, a, b+1)`: dead at time 0 with
//!   probability `a/(a+b)`, else a BG/NBD customer with `b + 1`.
//! * Pareto/NBD: by conditioning on the lifetime `τ` (`λ` and `μ` are independent, so the mixing
//!   over `λ` can be done for each `τ`),
//!   `P(X(t) = n) = NB(n; r, α, t) · (β/(β+t))^s + ∫_0^t s/β (1+τ/β)^−(s+1) NB(n; r, α, τ) dτ`
//!   (alive at `t` with `n` purchases, plus dead at `τ < t` with `n` purchases before). This is
//!   FH05's expression for `P(X(t) = x)` (there written with Gauss hypergeometric functions and
//!   a finite sum whose terms cancel) in an integral form; the integral has a positive,
//!   log-concave integrand in `u = ln τ` and is computed by Gauss–Legendre panels around its
//!   maximum with a bounded number of nodes (see below). It sums to 1 over `n` by construction.
//!
//! ## Customer with a history (x, t_x, T)
//!
//! In each model the posterior given the history splits into "alive at T" (probability
//! `π = P(alive | x, t_x, T)`, [`crate::clv::bgnbd_p_alive`], [`crate::clv::mbgnbd_p_alive`],
//! [`crate::clv::paretonbd_p_alive`]) and "dead at T". An alive customer's posterior is the
//! alive term of the likelihood times the prior — `Gamma(r+x, α+T)` for `λ`, and
//! `Beta(a, b+x)` (BG/NBD), `Beta(a, b+x+1)` (MBG/NBD: it survived purchases 0..x) or
//! `Gamma(s, β+T)` (Pareto/NBD) — and by the memorylessness of the Poisson process (and of the
//! exponential lifetime) from `T` on it behaves like a new customer of these parameters, except
//! that an MBG/NBD customer cannot drop out at `T` (no purchase there): its future is a BG/NBD
//! one. Hence
//!
//! `P(X(T, T+t) = n | x, t_x, T) = (1 − π) 1(n = 0) + π · P_new(n; θ')` with
//!
//! * BG/NBD: `θ' = (r+x, α+T, a, b+x)` in the BG/NBD formula;
//! * MBG/NBD: `θ' = (r+x, α+T, a, b+x+1)` in the **BG/NBD** formula;
//! * Pareto/NBD: `θ' = (r+x, α+T, s, β+T)` in the Pareto/NBD formula.
//!
//! For BG/NBD this is the expression of Fader, Hardie & Lee's note "Deriving the conditional PMF
//! of the BG/NBD model" (2010); for Pareto/NBD it is equal to eq. (16) of Fader & Hardie's note
//! "Deriving the conditional PMF of the Pareto/NBD model" (2014, lifetimes
//! `ParetoNBDFitter.conditional_probability_of_n_purchases_up_to_time`), which writes the dead
//! part with ₂F₁ terms and a finite sum that cancel. The mean of each conditional pmf is the
//! model's conditional expectation (FHL eq. 10, [`crate::clv::bgnbd_expected`], …): the tests
//! check both this and that the pmf sums to 1, against the functions of [`crate::clv`].
//!
//! ## Churn
//!
//! [`churn_probability`] is `P(X(T, T+t) = 0 | x, t_x, T)`: no purchase in the next `t`. It
//! counts customers who are dead at `T` (probability `1 − π`, [`dead_probability`]) **and**
//! customers who are alive but simply do not buy in `(T, T+t]` (`π · P_new(0; θ')`), so it is
//! never below `1 − π`. It decreases in `t`; as `t → ∞` it tends to the probability of never
//! buying again: `1 − π` under BG/NBD and MBG/NBD (an alive customer can only drop out right
//! after a purchase, so he buys again for sure), `1 − π + π E[μ/(λ+μ)]` under the Pareto/NBD
//! (he may die first). For reference, `P(dead at T) = 1 − π` is [`dead_probability`]; it is the
//! quantity lifetimes calls `1 − conditional_probability_alive`.
//!
//! # Numerics
//!
//! Everything is computed in log space: `ln Γ` ratios by [`crate::bgbb::ln_gamma_ratio`]
//! (accurate for `n` up to 10^9 and beyond, where a difference of two `ln Γ` loses digits), the
//! two terms of a pmf combined by log-sum-exp, so a probability is accurate relative to its own
//! size down to the underflow at about 1e-308 (about 1e-13 for moderate `n`, 1e-11 for `n`
//! around 10^4, where the logarithm being exponentiated is itself of order 10^4).
//!
//! * `ln I_x(a, b)` by the continued fraction of the incomplete beta function (modified Lentz;
//!   for `x > (a+1)/(a+b+2)` through `I_x(a, b) = 1 − I_{1−x}(b, a)`, which is then at least
//!   about 1/2, so `ln(1 − ·)` does not cancel). It converges in O(√max(a, b)) iterations,
//!   capped at [`BETA_CF_MAX_ITER`]; `n` and `x` are limited to [`MAX_COUNT`] so the cap is
//!   never reached (checked by a test).
//! * The Pareto/NBD integral in `u = ln τ` has the log-integrand
//!   `φ(u) = (n+1) u − (r+n) ln(α+e^u) − (s+1) ln(β+e^u) + const`, concave (`φ'` decreases
//!   from `n+1` to `−(r+s)`), with singularities only at `ln α ± iπ`, `ln β ± iπ`. Its maximum is
//!   found by bisection; from there panels of 16-point Gauss–Legendre go outwards on each side,
//!   each panel no longer than 3 (or than its distance to the singularities), and short enough
//!   that `φ` falls by at most 5 (+ a quarter of the fall already reached) across it, until
//!   `φ` is e^−45 below its maximum or the end `ln t` is reached: at most [`PNBD_PANELS`] panels
//!   per side. Differences `φ(u) − φ(u*)` are evaluated as `ln(1 + σ (e^δ − 1))` so they stay
//!   accurate when `n` is large.
//!
//! No call needs more than a few tens of microseconds (measured: at most ~25 µs, over `n` up to
//! 10^9, `t` up to 10^8 and `x` up to 10^6), so none takes an interrupt callback.
//!
//! # Validation (tests)
//!
//! * lifetimes 0.11.3: `BetaGeoFitter` and `ModifiedBetaGeoFitter
//!   .probability_of_n_purchases_up_to_time` (to 1e-12 relative + 2e-15 absolute: lifetimes'
//!   `1 − finite sum` loses absolute digits, and returns −7e-19 for BG/NBD at t = 1, n = 30,
//!   where the true value is 2.44e-25), `ParetoNBDFitter
//!   .conditional_probability_of_n_purchases_up_to_time` (75 cases, 1e-10 relative);
//! * mpmath integrals of the model definitions (BG/NBD and MBG/NBD new customers and
//!   conditional pmfs: 1e-12 relative; large `n`: 1e-11), scipy nested quadrature over
//!   `(λ, μ)` of the Pareto/NBD (new and conditional: 1e-10);
//! * every pmf sums to 1 (1e-13) and its mean equals [`crate::clv`]'s expectation (1e-11).

use crate::bgbb::ln_gamma_ratio;
use crate::clv::{bgnbd_p_alive, check_customer, mbgnbd_p_alive, paretonbd_p_alive};
use crate::CoreError;
use statrs::function::gamma::ln_gamma;

/// Largest accepted `n` and frequency `x`: the continued fraction of the incomplete beta
/// function then converges within [`BETA_CF_MAX_ITER`] iterations.
pub const MAX_COUNT: f64 = 1e9;

/// Iterations at most of the incomplete-beta continued fraction.
pub const BETA_CF_MAX_ITER: usize = 20_000;

/// Panels at most on each side of the maximum in the Pareto/NBD quadrature.
pub const PNBD_PANELS: usize = 40;

/// The purchase model of a `theta`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PurchaseModel {
    /// BG/NBD, `theta = [r, alpha, a, b]`.
    BgNbd,
    /// Modified BG/NBD, `theta = [r, alpha, a, b]`.
    MbgNbd,
    /// Pareto/NBD, `theta = [r, alpha, s, beta]`.
    ParetoNbd,
}

// ----------------------------------------------------------------------------- arguments

fn check_theta(theta: &[f64]) -> Result<(), CoreError> {
    if theta.len() != 4 {
        return Err(CoreError::InvalidParameter(format!(
            "the model needs 4 parameters, got {}",
            theta.len()
        )));
    }
    if let Some(v) = theta.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
        return Err(CoreError::InvalidParameter(format!(
            "model parameters must be finite numbers > 0, got {v}"
        )));
    }
    Ok(())
}

fn check_n_t(n: f64, t: f64) -> Result<(), CoreError> {
    if !(n.is_finite() && n >= 0.0 && n.fract() == 0.0) {
        return Err(CoreError::InvalidParameter(format!(
            "the number of purchases must be a whole number >= 0, got {n}"
        )));
    }
    if n > MAX_COUNT {
        return Err(CoreError::InvalidParameter(format!(
            "the number of purchases must be at most {MAX_COUNT}, got {n}"
        )));
    }
    check_t(t)
}

fn check_t(t: f64) -> Result<(), CoreError> {
    if !(t.is_finite() && t >= 0.0) {
        return Err(CoreError::InvalidParameter(format!(
            "the period length must be a finite number >= 0, got {t}"
        )));
    }
    Ok(())
}

fn check_history(x: f64, t_x: f64, big_t: f64) -> Result<(), CoreError> {
    check_customer(x, t_x, big_t)?;
    if x > MAX_COUNT {
        return Err(CoreError::InvalidParameter(format!(
            "frequency must be at most {MAX_COUNT}, got {x}"
        )));
    }
    Ok(())
}

fn finite(p: f64, what: &str) -> Result<f64, CoreError> {
    if p.is_finite() {
        Ok(p.clamp(0.0, 1.0))
    } else {
        Err(CoreError::OutOfRange(format!("{what} is not finite ({p})")))
    }
}

// ----------------------------------------------------------------------------- helpers

/// `ln(e^a + e^b)`.
fn log_add(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + ((a - m).exp() + (b - m).exp()).ln()
}

/// `ln [Γ(r+n) / (Γ(r) n!)]`, the coefficient of the negative binomial: the ratio of the two
/// large `Γ` by [`ln_gamma_ratio`], the smaller `ln Γ` apart (its absolute error is what is left).
fn ln_nb_coef(r: f64, n: f64) -> f64 {
    if n <= r {
        ln_gamma_ratio(r, n) - ln_gamma(n + 1.0)
    } else {
        ln_gamma_ratio(n + 1.0, r - 1.0) - ln_gamma(r)
    }
}

/// `ln B(a, b)`, accurate when one argument is large.
fn ln_beta(a: f64, b: f64) -> f64 {
    let (small, large) = if a <= b { (a, b) } else { (b, a) };
    ln_gamma(small) - ln_gamma_ratio(large, small)
}

/// The continued fraction of the incomplete beta function (Numerical Recipes `betacf`, modified
/// Lentz): `I_x(a, b) = x^a y^b / (a B(a, b)) · cf`. Returns `(cf, iterations)`.
fn beta_cf(a: f64, b: f64, x: f64) -> (f64, usize) {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=BETA_CF_MAX_ITER {
        let mf = m as f64;
        let m2 = 2.0 * mf;
        let aa = mf * (b - mf) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + mf) * (qab + mf) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() <= 1e-16 {
            return (h, m);
        }
    }
    (h, BETA_CF_MAX_ITER)
}

/// `ln I_x(a, b)` (regularized incomplete beta) for `a, b > 0`, with `x` and `y = 1 − x` both
/// given (each accurate), `0 < x < 1`; also the iterations of the continued fraction.
fn ln_beta_reg(a: f64, b: f64, x: f64, y: f64) -> (f64, usize) {
    let front = a * x.ln() + b * y.ln() - ln_beta(a, b);
    if x < (a + 1.0) / (a + b + 2.0) {
        let (cf, it) = beta_cf(a, b, x);
        (front + cf.ln() - a.ln(), it)
    } else {
        let (cf, it) = beta_cf(b, a, y);
        let ln_c = front + cf.ln() - b.ln();
        ((-ln_c.exp()).ln_1p(), it)
    }
}

// ----------------------------------------------------------------------------- BG/NBD family

/// `ln P(X(t) = n)` for a new BG/NBD customer (`t > 0`).
fn ln_bg_pmf(n: f64, t: f64, r: f64, alpha: f64, a: f64, b: f64) -> f64 {
    // x = t/(α+t), y = α/(α+t), each without cancellation
    let (ln_x, ln_y) = (-(alpha / t).ln_1p(), -(t / alpha).ln_1p());
    let ln_b0 = ln_gamma_ratio(b, a); // ln Γ(a+b) − ln Γ(b)
    let ln_nb = ln_nb_coef(r, n) + r * ln_y + if n > 0.0 { n * ln_x } else { 0.0 };
    // ln B(a, b+n)/B(a, b) = [ln Γ(b+n) − ln Γ(a+b+n)] + [ln Γ(a+b) − ln Γ(b)]
    let alive = ln_b0 - ln_gamma_ratio(b + n, a) + ln_nb;
    if n == 0.0 {
        return alive;
    }
    // ln B(a+1, b+n−1)/B(a, b) = ln a + ln Γ(b+n−1) − ln Γ(a+b+n) + ln Γ(a+b) − ln Γ(b)
    let ln_w = a.ln() - ln_gamma_ratio(b + n - 1.0, a + 1.0) + ln_b0;
    let (ln_tail, _) = ln_beta_reg(n, r, ln_x.exp(), ln_y.exp());
    log_add(alive, ln_w + ln_tail)
}

/// `(1 − π) 1(n = 0) + π P` from `π` and `ln P`.
fn mix_dead(n: f64, pi: f64, ln_p: f64) -> f64 {
    let alive = if pi > 0.0 {
        (pi.ln() + ln_p).exp()
    } else {
        0.0
    };
    if n == 0.0 {
        (1.0 - pi) + alive
    } else {
        alive
    }
}

/// P(X(t) = n) for a new customer under BG/NBD (FHL 2005 eq. 8).
pub fn bgnbd_pmf(theta: &[f64], n: f64, t: f64) -> Result<f64, CoreError> {
    check_theta(theta)?;
    check_n_t(n, t)?;
    if t == 0.0 {
        return Ok(if n == 0.0 { 1.0 } else { 0.0 });
    }
    let p = ln_bg_pmf(n, t, theta[0], theta[1], theta[2], theta[3]).exp();
    finite(p, "bgnbd_pmf")
}

/// P(X(t) = n) for a new customer under the modified BG/NBD (lifetimes'
/// `ModifiedBetaGeoFitter.probability_of_n_purchases_up_to_time`).
pub fn mbgnbd_pmf(theta: &[f64], n: f64, t: f64) -> Result<f64, CoreError> {
    check_theta(theta)?;
    check_n_t(n, t)?;
    if t == 0.0 {
        return Ok(if n == 0.0 { 1.0 } else { 0.0 });
    }
    let (r, alpha, a, b) = (theta[0], theta[1], theta[2], theta[3]);
    let p = mix_dead(n, b / (a + b), ln_bg_pmf(n, t, r, alpha, a, b + 1.0));
    finite(p, "mbgnbd_pmf")
}

/// P(X(T, T+t) = n | x, t_x, T) under BG/NBD: `(1 − π)1(n = 0) + π P_BG(n; r+x, α+T, a, b+x)`.
pub fn bgnbd_conditional_pmf(
    theta: &[f64],
    n: f64,
    t: f64,
    x: f64,
    t_x: f64,
    big_t: f64,
) -> Result<f64, CoreError> {
    check_theta(theta)?;
    check_n_t(n, t)?;
    check_history(x, t_x, big_t)?;
    if t == 0.0 {
        return Ok(if n == 0.0 { 1.0 } else { 0.0 });
    }
    let (r, alpha, a, b) = (theta[0], theta[1], theta[2], theta[3]);
    let pi = bgnbd_p_alive(theta, x, t_x, big_t);
    let p = mix_dead(n, pi, ln_bg_pmf(n, t, r + x, alpha + big_t, a, b + x));
    finite(p, "bgnbd_conditional_pmf")
}

/// P(X(T, T+t) = n | x, t_x, T) under the modified BG/NBD:
/// `(1 − π)1(n = 0) + π P_BG(n; r+x, α+T, a, b+x+1)`.
pub fn mbgnbd_conditional_pmf(
    theta: &[f64],
    n: f64,
    t: f64,
    x: f64,
    t_x: f64,
    big_t: f64,
) -> Result<f64, CoreError> {
    check_theta(theta)?;
    check_n_t(n, t)?;
    check_history(x, t_x, big_t)?;
    if t == 0.0 {
        return Ok(if n == 0.0 { 1.0 } else { 0.0 });
    }
    let (r, alpha, a, b) = (theta[0], theta[1], theta[2], theta[3]);
    let pi = mbgnbd_p_alive(theta, x, t_x, big_t);
    let p = mix_dead(n, pi, ln_bg_pmf(n, t, r + x, alpha + big_t, a, b + x + 1.0));
    finite(p, "mbgnbd_conditional_pmf")
}

// ----------------------------------------------------------------------------- Pareto/NBD

/// Gauss–Legendre rule of 16 points on [0, 1] (nodes and weights to 22 digits, mpmath).
#[allow(clippy::excessive_precision)]
const GL_X: [f64; 16] = [
    0.005299532504175033701923,
    0.02771248846338371196101,
    0.06718439880608412805977,
    0.1222977958224984830524,
    0.1910618777986781257767,
    0.2709916111713863068288,
    0.3591982246103705433848,
    0.4524937450811812799073,
    0.5475062549188187200927,
    0.6408017753896294566152,
    0.7290083888286136931712,
    0.8089381222013218742233,
    0.8777022041775015169476,
    0.9328156011939158719402,
    0.972287511536616288039,
    0.9947004674958249662981,
];
#[allow(clippy::excessive_precision)]
const GL_W: [f64; 16] = [
    0.01357622970587704742589,
    0.03112676196932394643142,
    0.04757925584124639240496,
    0.06231448562776693602624,
    0.07479799440828836604075,
    0.08457825969750126909466,
    0.09130170752246179443338,
    0.0947253052275342481427,
    0.0947253052275342481427,
    0.09130170752246179443338,
    0.08457825969750126909466,
    0.07479799440828836604075,
    0.06231448562776693602624,
    0.04757925584124639240496,
    0.03112676196932394643142,
    0.01357622970587704742589,
];

/// The integrand is dropped below e^−PNBD_DROP of its maximum.
const PNBD_DROP: f64 = 45.0;
/// Longest panel near the singularities (strip |Im u| < π).
const PNBD_PANEL: f64 = 3.0;
/// Largest fall of the log-integrand across a panel next to the maximum.
const PNBD_PANEL_DROP: f64 = 5.0;

/// `σ_c(u) = e^u/(c + e^u)` without overflow.
fn sigma(u: f64, ln_c: f64) -> f64 {
    let d = u - ln_c;
    if d > 0.0 {
        1.0 / (1.0 + (-d).exp())
    } else {
        let e = d.exp();
        e / (1.0 + e)
    }
}

/// `ln ∫_0^t s/β (1+τ/β)^−(s+1) (τ/(α+τ))^n (α/(α+τ))^r dτ` (t > 0) and the nodes used.
fn ln_pnbd_dead(n: f64, t: f64, r: f64, alpha: f64, s: f64, beta: f64) -> (f64, usize) {
    let (la, lb) = (alpha.ln(), beta.ln());
    let (pa, pb, p1) = (n + r, s + 1.0, n + 1.0);
    let dphi = |u: f64| p1 - pa * sigma(u, la) - pb * sigma(u, lb);
    // φ(u) with τ = e^u (Jacobian included)
    let phi = |u: f64| {
        let ea = (u - la).exp(); // τ/α
        let eb = (u - lb).exp();
        let lt = if n > 0.0 {
            -n * (-(u - la)).exp().ln_1p()
        } else {
            0.0
        };
        lt - r * ea.ln_1p() - pb * eb.ln_1p() + (s / beta).ln() + u
    };
    let u1 = t.ln();
    // the maximum (φ' decreases from n+1 to −(r+s))
    let u_star = if dphi(u1) >= 0.0 {
        u1
    } else {
        let mut hi = u1;
        let mut lo = u1 - 1.0;
        let mut step = 1.0;
        while dphi(lo) <= 0.0 {
            hi = lo;
            step *= 2.0;
            lo -= step;
        }
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if dphi(mid) > 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    };
    let phi_star = phi(u_star);
    let (sa, sb) = (sigma(u_star, la), sigma(u_star, lb));
    // φ(u) − φ(u*), accurate also for large n
    let dif = |u: f64| {
        let d = u - u_star;
        let em = d.exp_m1();
        p1 * d - pa * (sa * em).ln_1p() - pb * (sb * em).ln_1p()
    };
    let (lmin, lmax) = (la.min(lb), la.max(lb));
    let mut sum = 0.0;
    let mut nodes = 0;
    for dir in [-1.0f64, 1.0] {
        let mut s0 = u_star;
        let mut drop = 0.0;
        for _ in 0..PNBD_PANELS {
            let rem = if dir > 0.0 { u1 - s0 } else { f64::INFINITY };
            if rem <= 0.0 || drop > PNBD_DROP {
                break;
            }
            // away from the singularities (real parts ln α, ln β) a panel may be longer
            let dist = if dir > 0.0 { s0 - lmax } else { lmin - s0 };
            let c = PNBD_PANEL_DROP + 0.25 * drop;
            let mut h = rem.min(PNBD_PANEL.max(dist));
            for _ in 0..80 {
                let k_far = (-dir * dphi(s0 + dir * h)).max(0.0);
                if k_far * h > c {
                    h *= (c / (k_far * h)).max(0.5);
                } else {
                    break;
                }
            }
            for (&g, &w) in GL_X.iter().zip(&GL_W) {
                sum += w * h * dif(s0 + dir * h * g).exp();
            }
            nodes += GL_X.len();
            s0 = if h >= rem { u1 } else { s0 + dir * h };
            drop = -dif(s0);
        }
    }
    (phi_star + sum.ln(), nodes)
}

/// `ln P(X(t) = n)` for a new Pareto/NBD customer (`t > 0`).
fn ln_pnbd_pmf(n: f64, t: f64, r: f64, alpha: f64, s: f64, beta: f64) -> f64 {
    let coef = ln_nb_coef(r, n);
    let alive = if n > 0.0 {
        -n * (alpha / t).ln_1p()
    } else {
        0.0
    } - r * (t / alpha).ln_1p()
        - s * (t / beta).ln_1p();
    let (dead, _) = ln_pnbd_dead(n, t, r, alpha, s, beta);
    coef + log_add(alive, dead)
}

/// P(X(t) = n) for a new customer under the Pareto/NBD (FH05; computed as the integral over
/// the lifetime, see the module docs).
pub fn paretonbd_pmf(theta: &[f64], n: f64, t: f64) -> Result<f64, CoreError> {
    check_theta(theta)?;
    check_n_t(n, t)?;
    if t == 0.0 {
        return Ok(if n == 0.0 { 1.0 } else { 0.0 });
    }
    let p = ln_pnbd_pmf(n, t, theta[0], theta[1], theta[2], theta[3]).exp();
    finite(p, "paretonbd_pmf")
}

/// P(X(T, T+t) = n | x, t_x, T) under the Pareto/NBD (Fader & Hardie 2014 eq. 16):
/// `(1 − π)1(n = 0) + π P_PNBD(n; r+x, α+T, s, β+T)`.
pub fn paretonbd_conditional_pmf(
    theta: &[f64],
    n: f64,
    t: f64,
    x: f64,
    t_x: f64,
    big_t: f64,
) -> Result<f64, CoreError> {
    check_theta(theta)?;
    check_n_t(n, t)?;
    check_history(x, t_x, big_t)?;
    if t == 0.0 {
        return Ok(if n == 0.0 { 1.0 } else { 0.0 });
    }
    let (r, alpha, s, beta) = (theta[0], theta[1], theta[2], theta[3]);
    let pi = paretonbd_p_alive(theta, x, t_x, big_t);
    let p = mix_dead(
        n,
        pi,
        ln_pnbd_pmf(n, t, r + x, alpha + big_t, s, beta + big_t),
    );
    finite(p, "paretonbd_conditional_pmf")
}

// ----------------------------------------------------------------------------- by model

/// P(X(t) = n) for a new customer of `model`.
pub fn purchases_pmf(
    model: PurchaseModel,
    theta: &[f64],
    n: f64,
    t: f64,
) -> Result<f64, CoreError> {
    match model {
        PurchaseModel::BgNbd => bgnbd_pmf(theta, n, t),
        PurchaseModel::MbgNbd => mbgnbd_pmf(theta, n, t),
        PurchaseModel::ParetoNbd => paretonbd_pmf(theta, n, t),
    }
}

/// P(X(T, T+t) = n | x, t_x, T) under `model`.
pub fn conditional_purchases_pmf(
    model: PurchaseModel,
    theta: &[f64],
    n: f64,
    t: f64,
    x: f64,
    t_x: f64,
    big_t: f64,
) -> Result<f64, CoreError> {
    match model {
        PurchaseModel::BgNbd => bgnbd_conditional_pmf(theta, n, t, x, t_x, big_t),
        PurchaseModel::MbgNbd => mbgnbd_conditional_pmf(theta, n, t, x, t_x, big_t),
        PurchaseModel::ParetoNbd => paretonbd_conditional_pmf(theta, n, t, x, t_x, big_t),
    }
}

/// P(no purchase in (T, T+t] | x, t_x, T): the conditional pmf at 0. It includes the customers
/// alive at T who do not buy in the period, so it is at least [`dead_probability`].
pub fn churn_probability(
    model: PurchaseModel,
    theta: &[f64],
    t: f64,
    x: f64,
    t_x: f64,
    big_t: f64,
) -> Result<f64, CoreError> {
    conditional_purchases_pmf(model, theta, 0.0, t, x, t_x, big_t)
}

/// P(dead at T | x, t_x, T) = 1 − P(alive | x, t_x, T) ([`crate::clv`]'s `*_p_alive`): a lower
/// bound of [`churn_probability`], and its limit as t → ∞ under BG/NBD and MBG/NBD (under the
/// Pareto/NBD an alive customer may also die before buying again).
pub fn dead_probability(
    model: PurchaseModel,
    theta: &[f64],
    x: f64,
    t_x: f64,
    big_t: f64,
) -> Result<f64, CoreError> {
    check_theta(theta)?;
    check_history(x, t_x, big_t)?;
    let pi = match model {
        PurchaseModel::BgNbd => bgnbd_p_alive(theta, x, t_x, big_t),
        PurchaseModel::MbgNbd => mbgnbd_p_alive(theta, x, t_x, big_t),
        PurchaseModel::ParetoNbd => paretonbd_p_alive(theta, x, t_x, big_t),
    };
    finite(1.0 - pi, "dead_probability")
}

#[cfg(test)]
#[allow(clippy::excessive_precision)] // reference values as printed by Python
mod tests {
    use super::*;
    use crate::clv::{
        bgnbd_expected, bgnbd_expected_new, mbgnbd_expected, mbgnbd_expected_new,
        paretonbd_expected, paretonbd_expected_new, paretonbd_p_alive,
    };

    const BG: [f64; 4] = [0.243, 4.414, 0.793, 2.426];
    const MBG: [f64; 4] = [0.525, 6.183, 0.891, 1.614];
    const PNBD: [f64; 4] = [0.553, 10.578, 0.606, 11.669];

    /// |got − want| <= rel·|want| + abs.
    fn close(got: f64, want: f64, rel: f64, abs: f64, what: &str) {
        assert!(
            (got - want).abs() <= rel * want.abs() + abs,
            "{what}: got {got:e}, want {want:e}, rel err {:e}",
            (got - want) / want
        );
    }

    // BetaGeoFitter with params_ = (r 0.243, alpha 4.414, a 0.793, b 2.426):
    // bg.probability_of_n_purchases_up_to_time(t, n) -> (t, n, value)
    const LIFETIMES_BG_NEW: [(f64, f64, f64); 30] = [
        (1.0, 0.0, 0.9515887977331471),
        (1.0, 1.0, 0.04411506603217741),
        (1.0, 2.0, 0.003808096896808458),
        (1.0, 5.0, 7.34956652189663e-06),
        (1.0, 10.0, 5.901949948447302e-10),
        (1.0, 30.0, -6.95905552886271e-19),
        (10.0, 0.0, 0.7500835102681114),
        (10.0, 1.0, 0.15686869662325523),
        (10.0, 2.0, 0.05085761166636753),
        (10.0, 5.0, 0.005006152921812143),
        (10.0, 10.0, 0.0002877417086157957),
        (10.0, 30.0, 3.519769486476163e-08),
        (39.0, 0.0, 0.5737863520960094),
        (39.0, 1.0, 0.19939528083591135),
        (39.0, 2.0, 0.08542975953906072),
        (39.0, 5.0, 0.017965493866579044),
        (39.0, 10.0, 0.0035904295401896764),
        (39.0, 30.0, 7.029279962770503e-05),
        (52.0, 0.0, 0.5384027142293999),
        (52.0, 1.0, 0.2046009827379892),
        (52.0, 2.0, 0.09058484922448018),
        (52.0, 5.0, 0.02060596908074573),
        (52.0, 10.0, 0.004649230986839782),
        (52.0, 30.0, 0.00014891192453724954),
        (200.0, 0.0, 0.393767774593681),
        (200.0, 1.0, 0.21990145796815364),
        (200.0, 2.0, 0.10745409763906323),
        (200.0, 5.0, 0.030007674434175832),
        (200.0, 10.0, 0.00901713516231887),
        (200.0, 30.0, 0.0008768978552010827),
    ];
    // ModifiedBetaGeoFitter with params_ = (r 0.525, alpha 6.183, a 0.891, b 1.614):
    // mbg.probability_of_n_purchases_up_to_time(t, n) -> (t, n, value)
    const LIFETIMES_MBG_NEW: [(f64, f64, f64); 30] = [
        (1.0, 0.0, 0.9512339544916595),
        (1.0, 1.0, 0.044859520780194305),
        (1.0, 2.0, 0.0035371115355362992),
        (1.0, 5.0, 3.68519114062042e-06),
        (1.0, 10.0, 8.420429750797084e-11),
        (1.0, 30.0, 4.1869756792800944e-19),
        (10.0, 0.0, 0.7444824952287221),
        (10.0, 1.0, 0.15902165262670054),
        (10.0, 2.0, 0.054640851307339415),
        (10.0, 5.0, 0.0047314024384485995),
        (10.0, 10.0, 0.00017820995523415884),
        (10.0, 30.0, 2.7113709373561277e-09),
        (39.0, 0.0, 0.5824731894932891),
        (39.0, 1.0, 0.18278307728754056),
        (39.0, 2.0, 0.08689482567349055),
        (39.0, 5.0, 0.01938732355357039),
        (39.0, 10.0, 0.0036261877952900303),
        (39.0, 30.0, 3.971085268733582e-05),
        (52.0, 0.0, 0.5542786551542274),
        (52.0, 1.0, 0.18279913112698915),
        (52.0, 2.0, 0.08999192926448965),
        (52.0, 5.0, 0.022068673042271586),
        (52.0, 10.0, 0.004833940204047073),
        (52.0, 30.0, 0.00010291153452288363),
        (200.0, 0.0, 0.4578984504212383),
        (200.0, 1.0, 0.1766259063984688),
        (200.0, 2.0, 0.09531720648159762),
        (200.0, 5.0, 0.029200499172800806),
        (200.0, 10.0, 0.00909381601855921),
        (200.0, 30.0, 0.0008551103484728177),
    ];
    // ParetoNBDFitter with params_ = (r 0.553, alpha 10.578, s 0.606, beta 11.669):
    // pn.conditional_probability_of_n_purchases_up_to_time(n, t, x, t_x, T) -> (n, t, x, t_x, T, value)
    const LIFETIMES_PNBD_COND: [(f64, f64, f64, f64, f64, f64); 75] = [
        (0.0, 10.0, 0.0, 0.0, 38.86, 0.9728836368223552),
        (1.0, 10.0, 0.0, 0.0, 38.86, 0.023589841141536706),
        (2.0, 10.0, 0.0, 0.0, 38.86, 0.0030227771346788626),
        (5.0, 10.0, 0.0, 0.0, 38.86, 9.715683212717828e-06),
        (10.0, 10.0, 0.0, 0.0, 38.86, 9.638185052808327e-10),
        (0.0, 39.0, 0.0, 0.0, 38.86, 0.9307148159456802),
        (1.0, 39.0, 0.0, 0.0, 38.86, 0.04589812412580952),
        (2.0, 39.0, 0.0, 0.0, 38.86, 0.014677144710534716),
        (5.0, 39.0, 0.0, 0.0, 38.86, 0.0008056916079821032),
        (10.0, 39.0, 0.0, 0.0, 38.86, 9.640806248952894e-06),
        (0.0, 52.0, 0.0, 0.0, 38.86, 0.9200959516147964),
        (1.0, 52.0, 0.0, 0.0, 38.86, 0.04865595959482686),
        (2.0, 52.0, 0.0, 0.0, 38.86, 0.017745844001510535),
        (5.0, 52.0, 0.0, 0.0, 38.86, 0.0014971457136336405),
        (10.0, 52.0, 0.0, 0.0, 38.86, 3.761274592405187e-05),
        (0.0, 10.0, 2.0, 30.43, 38.86, 0.6897794041891424),
        (1.0, 10.0, 2.0, 30.43, 38.86, 0.22357544210844504),
        (2.0, 10.0, 2.0, 30.43, 38.86, 0.06528077575431913),
        (5.0, 10.0, 2.0, 30.43, 38.86, 0.0008392798066241128),
        (10.0, 10.0, 2.0, 30.43, 38.86, 2.7873025180928897e-07),
        (0.0, 39.0, 2.0, 30.43, 38.86, 0.4080627236064643),
        (1.0, 39.0, 2.0, 30.43, 38.86, 0.21928749790096388),
        (2.0, 39.0, 2.0, 30.43, 38.86, 0.15175652075729812),
        (5.0, 39.0, 2.0, 30.43, 38.86, 0.03198197026118472),
        (10.0, 39.0, 2.0, 30.43, 38.86, 0.0012662393407791293),
        (0.0, 52.0, 2.0, 30.43, 38.86, 0.36848320560469205),
        (1.0, 52.0, 2.0, 30.43, 38.86, 0.19206239790381885),
        (2.0, 52.0, 2.0, 30.43, 38.86, 0.14617880569159838),
        (5.0, 52.0, 2.0, 30.43, 38.86, 0.04583161670509348),
        (10.0, 52.0, 2.0, 30.43, 38.86, 0.00377242022655016),
        (0.0, 10.0, 7.0, 35.0, 38.86, 0.325633931267769),
        (1.0, 10.0, 7.0, 35.0, 38.86, 0.29178217809484697),
        (2.0, 10.0, 7.0, 35.0, 38.86, 0.20204489670915185),
        (5.0, 10.0, 7.0, 35.0, 38.86, 0.01807834019904067),
        (10.0, 10.0, 7.0, 35.0, 38.86, 5.073917694206564e-05),
        (0.0, 39.0, 7.0, 35.0, 38.86, 0.1397866266134698),
        (1.0, 39.0, 7.0, 35.0, 38.86, 0.08146466618491227),
        (2.0, 39.0, 7.0, 35.0, 38.86, 0.09413061124425913),
        (5.0, 39.0, 7.0, 35.0, 38.86, 0.10311043257753155),
        (10.0, 39.0, 7.0, 35.0, 38.86, 0.03229522986476496),
        (0.0, 52.0, 7.0, 35.0, 38.86, 0.1346819726182774),
        (1.0, 52.0, 7.0, 35.0, 38.86, 0.06600226876031248),
        (2.0, 52.0, 7.0, 35.0, 38.86, 0.06833552784834666),
        (5.0, 52.0, 7.0, 35.0, 38.86, 0.08291321807508165),
        (10.0, 52.0, 7.0, 35.0, 38.86, 0.049659205707565955),
        (0.0, 10.0, 1.0, 5.0, 40.0, 0.9430221506973419),
        (1.0, 10.0, 1.0, 5.0, 40.0, 0.045384397709993515),
        (2.0, 10.0, 1.0, 5.0, 40.0, 0.009367132569406515),
        (5.0, 10.0, 1.0, 5.0, 40.0, 6.180218629254833e-05),
        (10.0, 10.0, 1.0, 5.0, 40.0, 1.0593637167028428e-08),
        (0.0, 39.0, 1.0, 5.0, 40.0, 0.8746157724663137),
        (1.0, 39.0, 1.0, 5.0, 40.0, 0.06310362780624226),
        (2.0, 39.0, 1.0, 5.0, 40.0, 0.03206030327949267),
        (5.0, 39.0, 1.0, 5.0, 40.0, 0.0036226787531138003),
        (10.0, 39.0, 1.0, 5.0, 40.0, 7.691099827107468e-05),
        (0.0, 52.0, 1.0, 5.0, 40.0, 0.8615086814577058),
        (1.0, 52.0, 1.0, 5.0, 40.0, 0.06047590708385713),
        (2.0, 52.0, 1.0, 5.0, 40.0, 0.03462568849006591),
        (5.0, 52.0, 1.0, 5.0, 40.0, 0.0059702686263353654),
        (10.0, 52.0, 1.0, 5.0, 40.0, 0.00026729766036933934),
        (0.0, 10.0, 20.0, 39.0, 40.0, 0.06329301950873184),
        (1.0, 10.0, 20.0, 39.0, 40.0, 0.09681497981370615),
        (2.0, 10.0, 20.0, 39.0, 40.0, 0.1492447704935786),
        (5.0, 10.0, 20.0, 39.0, 40.0, 0.13314907652999028),
        (10.0, 10.0, 20.0, 39.0, 40.0, 0.008321909671041865),
        (0.0, 39.0, 20.0, 39.0, 40.0, 0.042198566434918344),
        (1.0, 39.0, 20.0, 39.0, 40.0, 0.025749403278230498),
        (2.0, 39.0, 20.0, 39.0, 40.0, 0.024175015097083506),
        (5.0, 39.0, 20.0, 39.0, 40.0, 0.023721389146696744),
        (10.0, 39.0, 20.0, 39.0, 40.0, 0.0469546707347727),
        (0.0, 52.0, 20.0, 39.0, 40.0, 0.042193488887478175),
        (1.0, 52.0, 20.0, 39.0, 40.0, 0.025704496772480403),
        (2.0, 52.0, 20.0, 39.0, 40.0, 0.023967185060038577),
        (5.0, 52.0, 20.0, 39.0, 40.0, 0.02020033486114351),
        (10.0, 52.0, 20.0, 39.0, 40.0, 0.023351671359013875),
    ];
    // mpmath (dps 30) from the model definition: E[(1-p)^j p^i] as Beta moments, E_lambda of the
    // Poisson pmf as the negative binomial, the tail P(N(t) >= n) as the direct sum of the
    // negative binomial pmf over j >= n (not the incomplete beta function) -> (t, n, value)
    const MP_BG_NEW: [(f64, f64, f64); 4] = [
        (1.0, 30.0, 2.4448907968604599e-25),
        (52.0, 3.0, 0.049995985750676884),
        (52.0, 100.0, 6.9440273639143319e-8),
        (1000.0, 40.0, 0.00094930485297497163),
    ];
    const MP_MBG_NEW: [(f64, f64, f64); 4] = [
        (1.0, 30.0, 1.5300940820985536e-28),
        (52.0, 3.0, 0.051941692776567106),
        (52.0, 100.0, 7.0124981349651621e-9),
        (1000.0, 40.0, 0.00085896947399131602),
    ];
    // mpmath (dps 30): posterior integrals of the model definition (likelihood x future pmf,
    // p by Beta moments, lambda by mp.quad) -> (n, t, x, t_x, T, value)
    const MP_BG_COND: [(f64, f64, f64, f64, f64, f64); 16] = [
        (0.0, 10.0, 0.0, 0.0, 38.86, 0.95073602735501242),
        (1.0, 39.0, 0.0, 0.0, 38.86, 0.10987298880071779),
        (3.0, 52.0, 0.0, 0.0, 38.86, 0.010458766713343952),
        (10.0, 52.0, 0.0, 0.0, 38.86, 2.7378772869407482e-5),
        (0.0, 10.0, 2.0, 30.43, 38.86, 0.72921270205615847),
        (1.0, 39.0, 2.0, 30.43, 38.86, 0.23931893743502776),
        (3.0, 52.0, 2.0, 30.43, 38.86, 0.093950185245386035),
        (10.0, 52.0, 2.0, 30.43, 38.86, 0.002281534553058973),
        (0.0, 10.0, 7.0, 35.0, 38.86, 0.34341459518072561),
        (1.0, 39.0, 7.0, 35.0, 38.86, 0.090310098588402672),
        (3.0, 52.0, 7.0, 35.0, 38.86, 0.078096750349507833),
        (10.0, 52.0, 7.0, 35.0, 38.86, 0.044336783651611124),
        (0.0, 10.0, 1.0, 5.0, 40.0, 0.93132484382482658),
        (1.0, 39.0, 1.0, 5.0, 40.0, 0.097802207750788779),
        (3.0, 52.0, 1.0, 5.0, 40.0, 0.022306751391988331),
        (10.0, 52.0, 1.0, 5.0, 40.0, 0.00018185785703420287),
    ];
    const MP_MBG_COND: [(f64, f64, f64, f64, f64, f64); 16] = [
        (0.0, 10.0, 0.0, 0.0, 38.86, 0.96106140617114259),
        (1.0, 39.0, 0.0, 0.0, 38.86, 0.078704132912308732),
        (3.0, 52.0, 0.0, 0.0, 38.86, 0.0092928970998334578),
        (10.0, 52.0, 0.0, 0.0, 38.86, 2.7958625550290767e-5),
        (0.0, 10.0, 2.0, 30.43, 38.86, 0.719460112414664),
        (1.0, 39.0, 2.0, 30.43, 38.86, 0.23422405642628645),
        (3.0, 52.0, 2.0, 30.43, 38.86, 0.095885556391972484),
        (10.0, 52.0, 2.0, 30.43, 38.86, 0.0024369096472367932),
        (0.0, 10.0, 7.0, 35.0, 38.86, 0.35260108410368698),
        (1.0, 39.0, 7.0, 35.0, 38.86, 0.094181104715147217),
        (3.0, 52.0, 7.0, 35.0, 38.86, 0.079479931198783635),
        (10.0, 52.0, 7.0, 35.0, 38.86, 0.042232120322273832),
        (0.0, 10.0, 1.0, 5.0, 40.0, 0.93481858996179975),
        (1.0, 39.0, 1.0, 5.0, 40.0, 0.08583257453457107),
        (3.0, 52.0, 1.0, 5.0, 40.0, 0.02154116033038311),
        (10.0, 52.0, 1.0, 5.0, 40.0, 0.00019149526188399954),
    ];

    #[test]
    fn purchases_new_customer_matches_lifetimes() {
        // lifetimes computes the tail as 1 − a finite sum: absolute errors ~1e-16 (it even
        // returns −7e-19 at t = 1, n = 30); the mpmath tables check small values relatively
        for &(t, n, want) in &LIFETIMES_BG_NEW {
            let got = bgnbd_pmf(&BG, n, t).unwrap();
            close(got, want, 1e-12, 2e-15, &format!("bg t={t} n={n}"));
        }
        for &(t, n, want) in &LIFETIMES_MBG_NEW {
            let got = mbgnbd_pmf(&MBG, n, t).unwrap();
            close(got, want, 1e-12, 2e-15, &format!("mbg t={t} n={n}"));
        }
        for &(t, n, want) in &MP_BG_NEW {
            let got = bgnbd_pmf(&BG, n, t).unwrap();
            close(got, want, 1e-12, 0.0, &format!("mp bg t={t} n={n}"));
        }
        for &(t, n, want) in &MP_MBG_NEW {
            let got = mbgnbd_pmf(&MBG, n, t).unwrap();
            close(got, want, 1e-12, 0.0, &format!("mp mbg t={t} n={n}"));
        }
    }

    #[test]
    fn purchases_conditional_matches_references() {
        for &(n, t, x, t_x, big_t, want) in &LIFETIMES_PNBD_COND {
            let got = paretonbd_conditional_pmf(&PNBD, n, t, x, t_x, big_t).unwrap();
            close(got, want, 1e-10, 1e-15, &format!("pnbd n={n} t={t} x={x}"));
        }
        for &(n, t, x, t_x, big_t, want) in &MP_BG_COND {
            let got = bgnbd_conditional_pmf(&BG, n, t, x, t_x, big_t).unwrap();
            close(got, want, 1e-12, 0.0, &format!("bg n={n} t={t} x={x}"));
        }
        for &(n, t, x, t_x, big_t, want) in &MP_MBG_COND {
            let got = mbgnbd_conditional_pmf(&MBG, n, t, x, t_x, big_t).unwrap();
            close(got, want, 1e-12, 0.0, &format!("mbg n={n} t={t} x={x}"));
        }
    }

    // scipy (float64): nested integrate.quad over lambda ~ Gamma(r, alpha) and mu ~ Gamma(s, beta)
    // (epsrel 1e-13) of the individual Pareto/NBD pmf e^(-mu t) Poi(n; lambda t)
    // + mu lambda^n/(lambda+mu)^(n+1) P(n+1, (lambda+mu) t) -> (t, n, value)
    const SCIPY_PNBD_NEW: [(f64, f64, f64); 7] = [
        (1.0, 0.0, 0.9524569682931416),
        (1.0, 3.0, 0.00021587946978109316),
        (10.0, 1.0, 0.16316173871638087),
        (52.0, 0.0, 0.5738699817726514),
        (52.0, 2.0, 0.08168008289010638),
        (52.0, 10.0, 0.005886550812242959),
        (200.0, 5.0, 0.02435990650529648),
    ];
    // scipy, the same nested quad of (likelihood x future pmf) / likelihood over (lambda, mu),
    // a check of the Pareto/NBD conditional independent of lifetimes -> (n, t, x, t_x, T, value)
    const SCIPY_PNBD_COND: [(f64, f64, f64, f64, f64, f64); 5] = [
        (0.0, 52.0, 2.0, 30.43, 38.86, 0.36848320560469155),
        (2.0, 39.0, 7.0, 35.0, 38.86, 0.09413061124425932),
        (5.0, 52.0, 20.0, 39.0, 40.0, 0.02020033486114361),
        (1.0, 10.0, 1.0, 5.0, 40.0, 0.045384397709993446),
        (0.0, 10.0, 0.0, 0.0, 38.86, 0.9728836368223552),
    ];
    // large n, mpmath (dps 40): BG/NBD by FHL eq. 8 with mp.betainc for the tail (the same
    // numbers to 17 digits by mp.quad over lambda of the Poisson tail 1 − mp.gammainc(n, λt, ∞));
    // Pareto/NBD by mp.quad over the lifetime tau of s/β (1+τ/β)^−(s+1) NB(n; r, α, τ) plus the
    // alive term -> (t, n, value)
    const MP_BG_LARGE: [(f64, f64, f64); 4] = [
        (1e5, 1e4, 3.5912336245610737e-8),
        (1e5, 5e3, 1.6461482138940943e-7),
        (1e2, 1e3, 9.6214669447491141e-25),
        (1e3, 2e3, 1.7311198820141963e-10),
    ];
    const MP_PNBD_LARGE: [(f64, f64, f64); 4] = [
        (1e6, 1e4, 1.4759880929554173e-7),
        (1e5, 3e3, 1.0982974435822219e-6),
        (1e3, 1e2, 0.00024120875314279415),
        (52.0, 60.0, 2.0893911368500233e-7),
    ];

    #[test]
    fn purchases_pareto_matches_brute_force() {
        for &(t, n, want) in &SCIPY_PNBD_NEW {
            let got = paretonbd_pmf(&PNBD, n, t).unwrap();
            close(got, want, 1e-10, 0.0, &format!("pnbd new t={t} n={n}"));
        }
        for &(n, t, x, t_x, big_t, want) in &SCIPY_PNBD_COND {
            let got = paretonbd_conditional_pmf(&PNBD, n, t, x, t_x, big_t).unwrap();
            close(got, want, 1e-10, 0.0, &format!("pnbd cond n={n} x={x}"));
        }
        for &(t, n, want) in &MP_PNBD_LARGE {
            let got = paretonbd_pmf(&PNBD, n, t).unwrap();
            close(got, want, 1e-11, 0.0, &format!("pnbd large t={t} n={n}"));
        }
        // x = 500, t_x = 95, T = 100: the alive part is the new-customer pmf at
        // (r+x, α+T, s, β+T), by the same mp.quad over tau: 0.00074531795370174094
        let pi = paretonbd_p_alive(&PNBD, 500.0, 95.0, 100.0);
        let got = paretonbd_conditional_pmf(&PNBD, 1000.0, 200.0, 500.0, 95.0, 100.0).unwrap();
        close(got / pi, 0.00074531795370174094, 1e-11, 0.0, "pnbd x=500");
    }

    #[test]
    fn purchases_large_n() {
        for &(t, n, want) in &MP_BG_LARGE {
            let got = bgnbd_pmf(&BG, n, t).unwrap();
            close(got, want, 1e-11, 0.0, &format!("bg large t={t} n={n}"));
        }
        // huge counts: finite probabilities, continued fraction within its cap
        for &n in &[1e4, 1e6, 1e9] {
            for &t in &[1.0, 52.0, 1e4, 1e8] {
                for model in [
                    PurchaseModel::BgNbd,
                    PurchaseModel::MbgNbd,
                    PurchaseModel::ParetoNbd,
                ] {
                    let th = if model == PurchaseModel::ParetoNbd {
                        PNBD
                    } else {
                        BG
                    };
                    let p = purchases_pmf(model, &th, n, t).unwrap();
                    assert!((0.0..=1.0).contains(&p), "{model:?} n={n} t={t}: {p}");
                    let c = conditional_purchases_pmf(model, &th, n, t, 1e9, 50.0, 60.0).unwrap();
                    assert!((0.0..=1.0).contains(&c), "{model:?} n={n} t={t}: {c}");
                }
            }
        }
        for &(a, b) in &[(1e9, 0.2), (0.2, 1e9), (1e9, 1e9), (1e9, 1e3), (5e8, 1e9)] {
            for &x in &[1e-9, 1e-3, 0.1, 0.5, 0.9, 0.999999] {
                let (v, it) = ln_beta_reg(a, b, x, 1.0 - x);
                assert!(it < BETA_CF_MAX_ITER, "a={a} b={b} x={x}: {it} iterations");
                assert!(v <= 0.0 && !v.is_nan(), "a={a} b={b} x={x}: {v}");
            }
        }
    }

    /// Σ_n P(n) and Σ_n n P(n) over n < 4000 (the tails are far below 1e-16 there).
    fn moments(pmf: impl Fn(f64) -> f64) -> (f64, f64) {
        let (mut s0, mut s1) = (0.0, 0.0);
        for n in 0..4000 {
            let p = pmf(n as f64);
            s0 += p;
            s1 += n as f64 * p;
        }
        (s0, s1)
    }

    const HISTORIES: [(f64, f64, f64); 7] = [
        (0.0, 0.0, 38.86),
        (2.0, 30.43, 38.86),
        (7.0, 35.0, 38.86),
        (1.0, 5.0, 40.0),
        (20.0, 39.0, 40.0),
        (60.0, 10.0, 70.0),
        (1e3, 990.0, 1e3),
    ];

    #[test]
    fn purchases_sum_to_one_and_match_expected() {
        for &t in &[1.0, 10.0, 52.0, 200.0] {
            let (s0, s1) = moments(|n| bgnbd_pmf(&BG, n, t).unwrap());
            close(s0, 1.0, 0.0, 1e-13, "bg new sum");
            close(s1, bgnbd_expected_new(&BG, t), 1e-11, 0.0, "bg new mean");
            let (s0, s1) = moments(|n| mbgnbd_pmf(&MBG, n, t).unwrap());
            close(s0, 1.0, 0.0, 1e-13, "mbg new sum");
            close(s1, mbgnbd_expected_new(&MBG, t), 1e-11, 0.0, "mbg new mean");
            let (s0, s1) = moments(|n| paretonbd_pmf(&PNBD, n, t).unwrap());
            close(s0, 1.0, 0.0, 1e-13, "pnbd new sum");
            close(
                s1,
                paretonbd_expected_new(&PNBD, t),
                1e-11,
                0.0,
                "pnbd new mean",
            );
            for &(x, t_x, big_t) in &HISTORIES {
                let what = format!("t={t} x={x} t_x={t_x} T={big_t}");
                // at x = 1000 clv's closed forms (1 − power · ₂F₁, a long series) lose digits:
                // see `purchases_large_history_mean` for that case against mpmath
                let tol = if x > 100.0 { 1e-9 } else { 1e-11 };
                let (s0, s1) =
                    moments(|n| bgnbd_conditional_pmf(&BG, n, t, x, t_x, big_t).unwrap());
                close(s0, 1.0, 0.0, 1e-13, &format!("bg sum {what}"));
                let e = bgnbd_expected(&BG, t, x, t_x, big_t);
                close(s1, e, tol, 0.0, &format!("bg mean {what}"));
                let (s0, s1) =
                    moments(|n| mbgnbd_conditional_pmf(&MBG, n, t, x, t_x, big_t).unwrap());
                close(s0, 1.0, 0.0, 1e-13, &format!("mbg sum {what}"));
                let e = mbgnbd_expected(&MBG, t, x, t_x, big_t);
                close(s1, e, tol, 0.0, &format!("mbg mean {what}"));
                let (s0, s1) =
                    moments(|n| paretonbd_conditional_pmf(&PNBD, n, t, x, t_x, big_t).unwrap());
                close(s0, 1.0, 0.0, 1e-13, &format!("pnbd sum {what}"));
                let e = paretonbd_expected(&PNBD, t, x, t_x, big_t);
                close(s1, e, tol, 0.0, &format!("pnbd mean {what}"));
            }
        }
    }

    #[test]
    fn purchases_pareto_quadrature_extreme_parameters() {
        // α and β far apart (where the ₂F₁ series of the closed forms needs ~1/(1−z) terms),
        // tiny and large shapes: the pmf must still sum to 1 and have the model's mean
        for th in [
            [0.553, 0.01, 0.606, 1000.0],
            [0.553, 1000.0, 0.606, 0.01],
            [0.05, 1.0, 0.02, 5.0],
            [30.0, 50.0, 8.0, 0.5],
            [2.0, 3.0, 1.0, 3.0],
        ] {
            for &t in &[0.5, 20.0, 100.0] {
                let mean = paretonbd_expected_new(&th, t);
                if mean > 300.0 {
                    continue; // the 4000 terms of `moments` would not reach the tail
                }
                let (s0, s1) = moments(|n| paretonbd_pmf(&th, n, t).unwrap());
                close(s0, 1.0, 0.0, 1e-13, &format!("{th:?} t={t} sum"));
                close(s1, mean, 1e-11, 0.0, &format!("{th:?} t={t} mean"));
            }
        }
    }

    #[test]
    fn purchases_churn() {
        for model in [
            PurchaseModel::BgNbd,
            PurchaseModel::MbgNbd,
            PurchaseModel::ParetoNbd,
        ] {
            let th = match model {
                PurchaseModel::BgNbd => BG,
                PurchaseModel::MbgNbd => MBG,
                PurchaseModel::ParetoNbd => PNBD,
            };
            for &(x, t_x, big_t) in &HISTORIES {
                let dead = dead_probability(model, &th, x, t_x, big_t).unwrap();
                let mut last = 1.0;
                for &t in &[0.0, 1.0, 10.0, 52.0, 1e3, 1e6] {
                    let c = churn_probability(model, &th, t, x, t_x, big_t).unwrap();
                    let p0 = conditional_purchases_pmf(model, &th, 0.0, t, x, t_x, big_t).unwrap();
                    assert_eq!(c, p0);
                    assert!(
                        c >= dead - 1e-15 && c <= last + 1e-15,
                        "{model:?} t={t}: {c}"
                    );
                    last = c;
                }
            }
        }
        // lifetimes: pn.conditional_probability_of_n_purchases_up_to_time(0, 52, 2, 30.43, 38.86)
        let c = churn_probability(PurchaseModel::ParetoNbd, &PNBD, 52.0, 2.0, 30.43, 38.86);
        close(c.unwrap(), 0.36848320560469205, 1e-10, 0.0, "pnbd churn");
        // P(dead) = 1 − P(alive); BG/NBD: a customer without repeat purchase is alive
        let d = dead_probability(PurchaseModel::BgNbd, &BG, 0.0, 0.0, 38.86).unwrap();
        assert_eq!(d, 0.0);
    }

    #[test]
    fn purchases_arguments() {
        let bad = |r: Result<f64, CoreError>| matches!(r, Err(CoreError::InvalidParameter(_)));
        for n in [-1.0, 0.5, f64::NAN, f64::INFINITY, 2e9] {
            assert!(bad(bgnbd_pmf(&BG, n, 1.0)), "n={n}");
            assert!(
                bad(paretonbd_conditional_pmf(&PNBD, n, 1.0, 1.0, 1.0, 2.0)),
                "n={n}"
            );
        }
        for t in [-1.0, f64::NAN, f64::INFINITY] {
            assert!(bad(mbgnbd_pmf(&MBG, 0.0, t)), "t={t}");
            assert!(bad(churn_probability(
                PurchaseModel::BgNbd,
                &BG,
                t,
                1.0,
                1.0,
                2.0
            )));
        }
        for th in [
            &[0.2, 1.0, 1.0][..],
            &[0.2, 1.0, 1.0, 0.0],
            &[0.2, f64::NAN, 1.0, 1.0],
        ] {
            assert!(bad(paretonbd_pmf(th, 0.0, 1.0)));
            assert!(bad(dead_probability(
                PurchaseModel::MbgNbd,
                th,
                0.0,
                0.0,
                1.0
            )));
        }
        // bad histories (clv::check_customer): recency > tenure, fractional or negative frequency
        for (x, t_x, big_t) in [
            (1.0, 3.0, 2.0),
            (1.5, 1.0, 2.0),
            (-1.0, 0.0, 1.0),
            (0.0, 1.0, 2.0),
        ] {
            assert!(bad(bgnbd_conditional_pmf(&BG, 0.0, 1.0, x, t_x, big_t)));
            assert!(bad(churn_probability(
                PurchaseModel::ParetoNbd,
                &PNBD,
                1.0,
                x,
                t_x,
                big_t
            )));
        }
        // t = 0: the point mass at 0
        assert_eq!(bgnbd_pmf(&BG, 0.0, 0.0), Ok(1.0));
        assert_eq!(
            paretonbd_conditional_pmf(&PNBD, 3.0, 0.0, 1.0, 1.0, 2.0),
            Ok(0.0)
        );
    }

    #[test]
    fn purchases_large_history_mean() {
        // mpmath (dps 50) of FHL eq. 10 for x = 1000, t_x = 990, T = 1000, t = 1:
        // (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) mp.hyp2f1(r+x, b+x, a+b+x−1, t/(α+T+t))]
        // / [1 + a/(b+x−1) ((α+T)/(α+t_x))^(r+x)] = 0.053551155973730075
        let (s0, s1) = moments(|n| bgnbd_conditional_pmf(&BG, n, 1.0, 1e3, 990.0, 1e3).unwrap());
        close(s0, 1.0, 0.0, 1e-13, "sum");
        close(s1, 0.053551155973730075, 1e-12, 0.0, "mean");
    }
}
