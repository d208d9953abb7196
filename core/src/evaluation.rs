//! Judging a tiering (issue 14): A/B tests of tier strategies, Holm–Bonferroni adjustment and
//! the Net Promoter Score per tier.
//!
//! Every accumulator here becomes a PostgreSQL aggregate usable in parallel plans and on Citus:
//! `add` folds one row, `merge` combines two partial states (order-independent up to float
//! rounding), and `encode`/`decode` give a versioned binary state that rejects damaged bytes with
//! [`CoreError::Corrupt`] and never panics.
//!
//! # A/B test ([`AbTest`])
//!
//! Per variant it keeps the count, mean and sum of squared deviations (M2) with Welford's update
//! and Chan et al.'s parallel merge, plus exact counts of outcomes equal to 0 and to 1, so a
//! variant whose every outcome is 0 or 1 ("binary", a conversion rate) is recognised exactly and
//! its mean is `ones / n`, not a rounded running mean.
//!
//! Each variant is compared with the **control** (named by the caller; by default the first
//! variant in byte-wise order, i.e. PostgreSQL `COLLATE "C"` order, which may differ from an
//! `ORDER BY` under a linguistic collation):
//!
//! * `difference` = mean − control mean, with a 95 % interval;
//! * `lift` = mean / control mean − 1, with a 95 % interval by the delta method on the ratio of
//!   two independent means R = m₁/m₀: Var(R) ≈ (se₁² + R²·se₀²) / m₀², interval
//!   `lift ± z₀.₉₇₅·sqrt(Var(R))` (normal quantile, the delta method being asymptotic). `None`
//!   when the control mean is 0;
//! * a two-sided p-value:
//!   - both groups binary: the **pooled two-proportion z-test**
//!     (`statsmodels.stats.proportion.proportions_ztest([x1, x0], [n1, n0])`):
//!     z = (p₁ − p₀) / sqrt(p̂(1 − p̂)(1/n₁ + 1/n₀)), p̂ = (x₁ + x₀)/(n₁ + n₀); the difference
//!     interval is the unpooled Wald one (`confint_proportions_2indep(method='wald')`) and the
//!     standard errors of the lift use p(1 − p)/n;
//!   - otherwise **Welch's t-test** (`scipy.stats.ttest_ind(x1, x0, equal_var=False)`) with the
//!     Welch–Satterthwaite degrees of freedom; the difference interval is
//!     `difference ± t₀.₉₇₅(df)·se` (scipy's `TtestResult.confidence_interval()`), the standard
//!     errors of the lift use the sample variances (n − 1).
//!
//! The control row has no comparison, nor does a variant when either group has fewer than 2
//! observations (scipy returns NaN there).
//!
//! **Zero variance.** When the standard error is exactly 0 (both groups constant):
//! equal means give statistic 0 and p = 1, different means give statistic ±∞ and p = 0, and the
//! interval of the difference is the single point. scipy ≥ 1.11 returns the same ±∞ and p = 0
//! for different constants (with a placeholder `df = 1`; here `df` is `None`) and NaN for equal
//! constants; statsmodels' z-test returns NaN for two identical constant binary groups (the only
//! binary case with a pooled variance of 0). p = 1 is used where they give NaN.
//!
//! # Distribution functions
//!
//! The normal tail is `libm::erfc` (the FreeBSD msun port, correct to an ulp or so). The
//! Student t distribution is computed here ([`t_two_sided_p`], [`t_critical_95`]) rather than
//! with `statrs` 0.18 (already a dependency of this crate): its `erfc` is off by up to 1e-10
//! (relative), `StudentsT::sf` loses about df·ε (9e-10 at df = 10⁶, 4e-8 at 10⁷) and its
//! `inverse_cdf` is wrong by 6e-5 at df = 10⁶ and by 7 % at 10⁷, while Welch's df is of the
//! order of the sample sizes. The two-sided p-value is I_x(df/2, ½), x = df/(df + t²):
//! * df < 40 or t² > 6.4·df: the continued fraction (modified Lentz) with its prefactor in
//!   logarithms;
//! * otherwise an expansion in incomplete gamma functions of u = ln(1 + t²/df) (see
//!   `t_two_sided_p_series`), because near its switch-over point the continued fraction
//!   cancels to a relative error of about ε·df.
//!
//! Against `mpmath.betainc` at 40 digits and `scipy.stats.t` (df 1 … 10¹⁵, |t| 10⁻⁶ … 38) the
//! p-values agree to 1.5e-13 (relative) and `t.ppf(0.975, df)` to 6e-16. p-values below about
//! 1e-300 may underflow to 0.
//!
//! # Holm–Bonferroni ([`holm`])
//!
//! Step-down adjusted p-values equal to
//! `statsmodels.stats.multitest.multipletests(p, method='holm')[1]`; `None` entries are not
//! tests (they stay `None` and do not count in m).
//!
//! # Net Promoter Score ([`Nps`])
//!
//! Scores 0..=10: promoters 9–10, passives 7–8, detractors 0–6; NPS = 100·(P − D)/n. With
//! p_P = P/n and p_D = D/n the score is 100 times the mean of a variable worth +1, 0, −1, whose
//! (trinomial) variance is p_P + p_D − (p_P − p_D)², so the margin of error is
//! `1.96·100·sqrt((p_P + p_D − (p_P − p_D)²)/n)` (the conventional 1.96, as in the NPS
//! literature; a single answer has margin 0). [`nps_compare`] gives b − a with the interval
//! `± 1.96·sqrt(Var_a + Var_b)` and the two-sided normal p-value of the two independent samples.

use std::collections::BTreeMap;

use libm::{erfc, lgamma};

use crate::state::Reader;
use crate::CoreError;

const AB_MAGIC: u8 = b'B';
const NPS_MAGIC: u8 = b'N';
const VERSION: u8 = 1;

/// The 0.975 quantile of the standard normal distribution (`scipy.stats.norm.ppf(0.975)`).
pub const Z95: f64 = 1.959963984540054;
/// The conventional 1.96 of the NPS margin of error.
pub const NPS_Z: f64 = 1.96;

/// Count, mean and M2 (sum of squared deviations) of one variant, with exact counts of the
/// outcomes equal to 0 and to 1.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Moments {
    pub n: u64,
    /// Welford running mean (see [`Moments::mean`] for the exact one of binary groups).
    pub mean: f64,
    pub m2: f64,
    pub zeros: u64,
    pub ones: u64,
}

impl Moments {
    /// Folds one outcome (finite; else `InvalidParameter`). A value so large that the running
    /// moments overflow gives `OutOfRange`. The state is unchanged on error.
    pub fn add(&mut self, x: f64) -> Result<(), CoreError> {
        check_outcome(x)?;
        let n = self.n.checked_add(1).ok_or_else(too_many)?;
        let delta = x - self.mean;
        let mean = self.mean + delta / n as f64;
        let m2 = self.m2 + delta * (x - mean);
        if !(mean.is_finite() && m2.is_finite()) {
            return Err(CoreError::OutOfRange(format!(
                "outcome {x:e} is too large to accumulate"
            )));
        }
        self.n = n;
        self.mean = mean;
        self.m2 = m2;
        if x == 0.0 {
            self.zeros += 1;
        } else if x == 1.0 {
            self.ones += 1;
        }
        Ok(())
    }

    /// Chan et al.'s parallel combination. The state is unchanged on error.
    pub fn merge(&mut self, other: &Moments) -> Result<(), CoreError> {
        *self = self.merged(other)?;
        Ok(())
    }

    fn merged(&self, o: &Moments) -> Result<Moments, CoreError> {
        if o.n == 0 {
            return Ok(*self);
        }
        if self.n == 0 {
            return Ok(*o);
        }
        let n = self.n.checked_add(o.n).ok_or_else(too_many)?;
        let (na, nb, nn) = (self.n as f64, o.n as f64, n as f64);
        let delta = o.mean - self.mean;
        let mean = self.mean + delta * (nb / nn);
        let m2 = self.m2 + o.m2 + delta * delta * (na * (nb / nn));
        if !(mean.is_finite() && m2.is_finite()) {
            return Err(CoreError::OutOfRange(
                "outcomes are too large to accumulate".into(),
            ));
        }
        Ok(Moments {
            n,
            mean,
            m2,
            zeros: self.zeros + o.zeros,
            ones: self.ones + o.ones,
        })
    }

    /// Every outcome is 0 or 1 (and there is at least one).
    pub fn is_binary(&self) -> bool {
        self.n > 0 && self.zeros + self.ones == self.n
    }

    /// The mean: `ones / n` exactly for a binary group, else the running mean.
    pub fn mean(&self) -> f64 {
        if self.is_binary() {
            self.ones as f64 / self.n as f64
        } else {
            self.mean
        }
    }

    /// Sum of squared deviations, exact for a binary group (ones·zeros/n).
    fn sum_sq(&self) -> f64 {
        if self.is_binary() {
            self.ones as f64 * self.zeros as f64 / self.n as f64
        } else {
            self.m2.max(0.0)
        }
    }

    /// The sample variance (divisor n − 1), `None` below 2 observations.
    pub fn variance(&self) -> Option<f64> {
        (self.n >= 2).then(|| self.sum_sq() / (self.n - 1) as f64)
    }

    /// The sample standard deviation (divisor n − 1), `None` below 2 observations.
    pub fn sd(&self) -> Option<f64> {
        self.variance().map(f64::sqrt)
    }
}

fn check_outcome(x: f64) -> Result<(), CoreError> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(CoreError::InvalidParameter(format!(
            "outcome must be a finite number, got {x}"
        )))
    }
}

fn too_many() -> CoreError {
    CoreError::OutOfRange("too many observations".into())
}

/// The test behind a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbMethod {
    /// Pooled two-proportion z-test (every outcome of both groups is 0 or 1).
    TwoProportionZ,
    /// Welch's unequal-variances t-test.
    WelchT,
}

impl AbMethod {
    pub fn name(&self) -> &'static str {
        match self {
            AbMethod::TwoProportionZ => "two_proportion_z",
            AbMethod::WelchT => "welch_t",
        }
    }
}

/// A variant compared with the control.
#[derive(Clone, Debug, PartialEq)]
pub struct AbComparison {
    pub method: AbMethod,
    /// mean − control mean, with its 95 % interval.
    pub difference: f64,
    pub difference_low: f64,
    pub difference_high: f64,
    /// mean / control mean − 1 with its 95 % delta-method interval; `None` if the control mean
    /// is 0.
    pub lift: Option<f64>,
    pub lift_low: Option<f64>,
    pub lift_high: Option<f64>,
    /// z (two-proportion) or t (Welch), variant minus control; ±∞ for different constant groups.
    pub statistic: f64,
    /// Welch–Satterthwaite degrees of freedom; `None` for the z-test and for zero variance.
    pub df: Option<f64>,
    /// Two-sided p-value.
    pub p_value: f64,
}

/// One row of an A/B test result.
#[derive(Clone, Debug, PartialEq)]
pub struct AbVariant {
    pub variant: String,
    pub is_control: bool,
    pub n: u64,
    pub mean: f64,
    /// Sample standard deviation (n − 1); `None` below 2 observations.
    pub sd: Option<f64>,
    /// Every outcome is 0 or 1.
    pub binary: bool,
    /// `None` for the control and when either group has fewer than 2 observations.
    pub comparison: Option<AbComparison>,
}

/// The A/B test accumulator over (variant, outcome) rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AbTest {
    groups: BTreeMap<String, Moments>,
}

impl AbTest {
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds one row. A non-finite outcome is `InvalidParameter`; the state is unchanged on error.
    pub fn add(&mut self, variant: &str, outcome: f64) -> Result<(), CoreError> {
        check_outcome(outcome)?;
        match self.groups.get_mut(variant) {
            Some(m) => m.add(outcome),
            None => {
                let mut m = Moments::default();
                m.add(outcome)?;
                self.groups.insert(variant.to_owned(), m);
                Ok(())
            }
        }
    }

    /// Combines another partial state into this one; unchanged on error.
    pub fn merge(&mut self, other: &AbTest) -> Result<(), CoreError> {
        let mut merged = Vec::with_capacity(other.groups.len());
        for (name, m) in &other.groups {
            let combined = match self.groups.get(name) {
                Some(mine) => mine.merged(m)?,
                None => *m,
            };
            merged.push((name, combined));
        }
        for (name, m) in merged {
            self.groups.insert(name.clone(), m);
        }
        Ok(())
    }

    /// The moments per variant, in byte-wise name order.
    pub fn groups(&self) -> &BTreeMap<String, Moments> {
        &self.groups
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// One row per variant (byte-wise name order) compared with `control`, by default the first
    /// variant. An unknown control is `InvalidParameter`; no rows at all give an empty result.
    pub fn result(&self, control: Option<&str>) -> Result<Vec<AbVariant>, CoreError> {
        let control = match control {
            Some(c) => {
                if !self.groups.contains_key(c) {
                    return Err(CoreError::InvalidParameter(format!(
                        "control variant \"{c}\" has no observations"
                    )));
                }
                c
            }
            None => match self.groups.keys().next() {
                Some(c) => c.as_str(),
                None => return Ok(Vec::new()),
            },
        };
        let c = &self.groups[control];
        self.groups
            .iter()
            .map(|(name, m)| {
                let is_control = name == control;
                Ok(AbVariant {
                    variant: name.clone(),
                    is_control,
                    n: m.n,
                    mean: m.mean(),
                    sd: m.sd(),
                    binary: m.is_binary(),
                    comparison: if is_control { None } else { compare(c, m)? },
                })
            })
            .collect()
    }

    /// `B`, version, u32 number of variants, then per variant in name order: u32 byte length,
    /// UTF-8 name, u64 n, u64 zeros, u64 ones, f64 mean, f64 m2 (little-endian).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(6 + self.groups.len() * 56);
        out.extend_from_slice(&[AB_MAGIC, VERSION]);
        out.extend_from_slice(&(self.groups.len() as u32).to_le_bytes());
        for (name, m) in &self.groups {
            out.extend_from_slice(&(name.len() as u32).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&m.n.to_le_bytes());
            out.extend_from_slice(&m.zeros.to_le_bytes());
            out.extend_from_slice(&m.ones.to_le_bytes());
            out.extend_from_slice(&m.mean.to_le_bytes());
            out.extend_from_slice(&m.m2.to_le_bytes());
        }
        out
    }

    pub fn decode(buf: &[u8]) -> Result<Self, CoreError> {
        let mut r = Reader { buf };
        r.header_version(AB_MAGIC, VERSION)?;
        let count = r.count(4 + 40)?;
        let mut t = AbTest::new();
        let mut previous: Option<String> = None;
        for _ in 0..count {
            let len = r.u32()? as usize;
            let name = std::str::from_utf8(r.take(len)?)
                .map_err(|_| CoreError::Corrupt("aggregate state has a bad variant name".into()))?
                .to_owned();
            if previous.as_ref().is_some_and(|p| *p >= name) {
                return Err(CoreError::Corrupt(
                    "aggregate state variants are not sorted".into(),
                ));
            }
            let m = Moments {
                n: r.u64()?,
                zeros: r.u64()?,
                ones: r.u64()?,
                mean: r.f64()?,
                m2: r.f64()?,
            };
            let consistent = m.n > 0
                && m.zeros.checked_add(m.ones).is_some_and(|k| k <= m.n)
                && m.mean.is_finite()
                && m.m2.is_finite()
                && m.m2 >= 0.0;
            if !consistent {
                return Err(CoreError::Corrupt("aggregate state is inconsistent".into()));
            }
            previous = Some(name.clone());
            t.groups.insert(name, m);
        }
        r.end()?;
        Ok(t)
    }
}

/// p-value and statistic when the standard error is exactly 0 (see the module documentation).
fn degenerate(difference: f64) -> (f64, f64) {
    if difference == 0.0 {
        (0.0, 1.0)
    } else {
        (f64::INFINITY.copysign(difference), 0.0)
    }
}

fn compare(c: &Moments, v: &Moments) -> Result<Option<AbComparison>, CoreError> {
    if c.n < 2 || v.n < 2 {
        return Ok(None);
    }
    let (mc, mv) = (c.mean(), v.mean());
    let (nc, nv) = (c.n as f64, v.n as f64);
    let difference = mv - mc;
    if !difference.is_finite() {
        return Err(CoreError::OutOfRange(
            "difference of the means is out of range".into(),
        ));
    }
    // squared standard errors of the two means, and the critical value of the difference
    let (sec2, sev2, method, statistic, df, p_value, crit);
    if c.is_binary() && v.is_binary() {
        method = AbMethod::TwoProportionZ;
        sec2 = mc * (1.0 - mc) / nc;
        sev2 = mv * (1.0 - mv) / nv;
        let pooled = (c.ones as f64 + v.ones as f64) / (nc + nv);
        let se0 = (pooled * (1.0 - pooled) * (1.0 / nc + 1.0 / nv)).sqrt();
        (statistic, p_value) = if se0 > 0.0 {
            let z = difference / se0;
            (z, normal_two_sided_p(z))
        } else {
            degenerate(difference)
        };
        df = None;
        crit = Z95;
    } else {
        method = AbMethod::WelchT;
        sec2 = c.variance().unwrap_or(0.0) / nc;
        sev2 = v.variance().unwrap_or(0.0) / nv;
        let s = sec2 + sev2;
        if s > 0.0 {
            let (rc, rv) = (sec2 / s, sev2 / s);
            let nu = 1.0 / (rc * rc / (nc - 1.0) + rv * rv / (nv - 1.0));
            let t = difference / s.sqrt();
            statistic = t;
            p_value = t_two_sided_p(t, nu);
            df = Some(nu);
            crit = t_critical_95(nu);
        } else {
            (statistic, p_value) = degenerate(difference);
            df = None;
            crit = 0.0;
        }
    }
    let half = crit * (sec2 + sev2).sqrt();
    let (lift, lift_low, lift_high) = if mc != 0.0 {
        let ratio = mv / mc;
        let se = (sev2 + ratio * ratio * sec2).sqrt() / mc.abs();
        let lift = ratio - 1.0;
        (Some(lift), Some(lift - Z95 * se), Some(lift + Z95 * se))
    } else {
        (None, None, None)
    };
    Ok(Some(AbComparison {
        method,
        difference,
        difference_low: difference - half,
        difference_high: difference + half,
        lift,
        lift_low,
        lift_high,
        statistic,
        df,
        p_value,
    }))
}

/// Two-sided p-value of a standard normal statistic: erfc(|z|/√2).
pub fn normal_two_sided_p(z: f64) -> f64 {
    erfc(z.abs() / std::f64::consts::SQRT_2)
}

/// ln(Γ(a + ½) / Γ(a)) for a ≥ ½: from ln Γ below 10, else by the asymptotic series
/// ½·ln a − 1/(8a) + 1/(192a³) − 1/(640a⁵) + 17/(14336a⁷) − 31/(18432a⁹) (terms from the
/// Bernoulli polynomials at ½; the next one is below 4e-14 at a = 10), which avoids the
/// cancellation of two large ln Γ values.
fn ln_gamma_half_ratio(a: f64) -> f64 {
    if a < 10.0 {
        lgamma(a + 0.5) - lgamma(a)
    } else {
        let z = 1.0 / a;
        let z2 = z * z;
        0.5 * a.ln()
            + z * (-1.0 / 8.0
                + z2 * (1.0 / 192.0
                    + z2 * (-1.0 / 640.0 + z2 * (17.0 / 14336.0 + z2 * (-31.0 / 18432.0)))))
    }
}

/// The continued fraction of the regularized incomplete beta function I_x(a, b) by the modified
/// Lentz method (Numerical Recipes' `betacf`), run to full convergence: it converges for
/// x < (a + 1)/(a + b + 2) in O(sqrt(max(a, b))) steps.
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const MAX_STEPS: u32 = 10_000; // used where it needs at most a few dozen
    let clamp = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / clamp(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..=MAX_STEPS {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / clamp(1.0 + aa * d);
        c = clamp(1.0 + aa / c);
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / clamp(1.0 + aa * d);
        c = clamp(1.0 + aa / c);
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() <= f64::EPSILON {
            break;
        }
    }
    h
}

/// Two-sided p-value P(|T| ≥ |t|) of Student's t with `df` > 0 degrees of freedom
/// (`2*scipy.stats.t.sf(abs(t), df)`): I_x(df/2, ½) with x = df/(df + t²), by the series of
/// `t_two_sided_p_series` for df ≥ 40 and t² ≤ 6.4·df, else by the continued fraction of
/// I_x(df/2, ½) or of 1 − I_{1−x}(½, df/2), whichever converges. NaN for a NaN argument or
/// df ≤ 0.
pub fn t_two_sided_p(t: f64, df: f64) -> f64 {
    let t = t.abs();
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t == 0.0 {
        return 1.0;
    }
    if t.is_infinite() {
        return 0.0;
    }
    if df.is_infinite() {
        return normal_two_sided_p(t);
    }
    let (a, b) = (0.5 * df, 0.5);
    let r = t / df.sqrt();
    let r2 = r * r; // t²/df
    if a >= SERIES_MIN_A && r2.ln_1p() <= SERIES_MAX_U {
        return t_two_sided_p_series(a, r2.ln_1p());
    }
    // ln x = −ln(1 + r²), ln(1 − x) = −ln(1 + 1/r²)
    let ln_x = if r2.is_finite() {
        -r2.ln_1p()
    } else {
        -2.0 * r.ln()
    };
    let ln_y = -(1.0 / r2).ln_1p();
    // ln B(a, ½) = ln √π − ln(Γ(a + ½)/Γ(a))
    let ln_beta = 0.5 * std::f64::consts::PI.ln() - ln_gamma_half_ratio(a);
    let front = (a * ln_x + b * ln_y - ln_beta).exp();
    let x = 1.0 / (1.0 + r2);
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        let y = 1.0 / (1.0 + 1.0 / r2);
        1.0 - front * beta_cf(b, a, y) / b
    }
}

/// Below this a = df/2 the continued fraction is used: its rounding error grows like ε·a near
/// x = (a + 1)/(a + b + 2), where it sums nearly cancelling terms (1e-7 at df = 10¹⁰).
const SERIES_MIN_A: f64 = 20.0;
/// Largest u = ln(1 + t²/df) for the series (its terms shrink at least like (u/2π)² per step).
const SERIES_MAX_U: f64 = 2.0;
/// Number of coefficients of the series.
const SERIES_TERMS: usize = 60;

/// Coefficients c_k of (sinh(w/2)/(w/2))^(−1/2) = Σ c_k·w^(2k): the power −1/2 of
/// Σ v^(2j)/(2j + 1)! (v = w/2) by J. C. P. Miller's recurrence
/// g_n = (1/n)·Σ_{j=1..n} ((α + 1)·j − n)·s_j·g_{n−j}, then c_k = g_k/4^k.
fn half_sinh_coefficients() -> &'static [f64; SERIES_TERMS] {
    static COEFFICIENTS: std::sync::OnceLock<[f64; SERIES_TERMS]> = std::sync::OnceLock::new();
    COEFFICIENTS.get_or_init(|| {
        let mut s = [0.0; SERIES_TERMS];
        let mut factorial = 1.0; // (2j + 1)!
        for (j, sj) in s.iter_mut().enumerate() {
            if j > 0 {
                factorial *= (2 * j) as f64 * (2 * j + 1) as f64;
            }
            *sj = 1.0 / factorial;
        }
        let alpha = -0.5;
        let mut g = [0.0; SERIES_TERMS];
        g[0] = 1.0;
        for n in 1..SERIES_TERMS {
            let acc: f64 = (1..=n)
                .map(|j| ((alpha + 1.0) * j as f64 - n as f64) * s[j] * g[n - j])
                .sum();
            g[n] = acc / n as f64;
        }
        let mut c = [0.0; SERIES_TERMS];
        for (k, ck) in c.iter_mut().enumerate() {
            *ck = g[k] / 4f64.powi(k as i32);
        }
        c
    })
}

/// I_x(a, ½) = P(|T| ≥ t), x = e^(−u), u = ln(1 + t²/df), for large a = df/2: with s = e^(−w),
/// I_x(a, ½) = (1/B(a, ½))·∫_u^∞ e^(−T·w)·w^(−1/2)·(sinh(w/2)/(w/2))^(−1/2) dw, T = a − ¼
/// (the `BGRAT` idea of DiDonato & Morris, 1992). Expanding the last factor (even, radius 2π)
/// gives Σ c_k·Γ(2k + ½, T·u)/T^(2k + ½), the incomplete gamma functions by their upward
/// recurrence from Γ(½, z) = √π·erfc(√z); 1/B(a, ½) = (Γ(a + ½)/Γ(a))/√π. Every quantity is a
/// function of u, known to full relative precision, so nothing cancels however large df is.
fn t_two_sided_p_series(a: f64, u: f64) -> f64 {
    let c = half_sinh_coefficients();
    let big_t = a - 0.25;
    let z = big_t * u;
    let ln_u = u.ln();
    // j = Γ(s, z)/T^s, s = ½, 2½, 4½, …: J(s + 1) = (s·J(s) + u^s·e^(−z))/T
    let mut j = std::f64::consts::PI.sqrt() * erfc(z.sqrt()) / big_t.sqrt();
    let mut s = 0.5;
    let mut sum = c[0] * j;
    for &ck in &c[1..] {
        for _ in 0..2 {
            j = (s * j + (s * ln_u - z).exp()) / big_t;
            s += 1.0;
        }
        let term = ck * j;
        sum += term;
        if term.abs() <= 1e-17 * sum.abs() {
            break;
        }
    }
    (ln_gamma_half_ratio(a) - 0.5 * std::f64::consts::PI.ln()).exp() * sum
}

/// Density of Student's t.
fn t_pdf(t: f64, df: f64) -> f64 {
    (ln_gamma_half_ratio(0.5 * df)
        - 0.5 * (df * std::f64::consts::PI).ln()
        - 0.5 * (df + 1.0) * (t * t / df).ln_1p())
    .exp()
}

/// The 0.975 quantile of Student's t with `df` > 0 degrees of freedom (`scipy.stats.t.ppf`).
///
/// Newton's method on the two-sided p-value, which is convex and decreasing for t > 0, so from
/// a start below the root the iterates rise monotonically to it.
pub fn t_critical_95(df: f64) -> f64 {
    if df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if df.is_infinite() {
        return Z95;
    }
    const ALPHA: f64 = 0.05;
    let z = Z95;
    // first Cornish–Fisher term, a lower bound in practice; else the normal quantile
    let mut t = z + (z * z * z + z) / (4.0 * df);
    if t_two_sided_p(t, df) < ALPHA {
        t = z;
    }
    for _ in 0..200 {
        let step = (t_two_sided_p(t, df) - ALPHA) / (2.0 * t_pdf(t, df));
        if !step.is_finite() {
            break;
        }
        t += step;
        if step.abs() <= 1e-13 * t {
            break;
        }
    }
    t
}

/// Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1), equal to
/// `statsmodels.stats.multitest.multipletests(p, method='holm')[1]` over the present values;
/// `None` stays `None` and does not count as a test. A p-value outside [0, 1] or NaN is
/// `InvalidParameter`.
pub fn holm(p: &[Option<f64>]) -> Result<Vec<Option<f64>>, CoreError> {
    let mut present: Vec<(usize, f64)> = Vec::with_capacity(p.len());
    for (i, v) in p.iter().enumerate() {
        if let Some(v) = *v {
            if !(0.0..=1.0).contains(&v) {
                return Err(CoreError::InvalidParameter(format!(
                    "p-value must be between 0 and 1, got {v}"
                )));
            }
            present.push((i, v));
        }
    }
    present.sort_by(|a, b| a.1.total_cmp(&b.1));
    let m = present.len();
    let mut out = vec![None; p.len()];
    let mut running = 0.0f64;
    for (rank, (i, v)) in present.into_iter().enumerate() {
        running = running.max((m - rank) as f64 * v);
        out[i] = Some(running.min(1.0));
    }
    Ok(out)
}

/// Counts of the NPS answers 0..=10.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Nps {
    counts: [u64; 11],
}

/// The Net Promoter Score of a group.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NpsResult {
    pub n: u64,
    /// Answers 9–10.
    pub promoters: u64,
    /// Answers 7–8.
    pub passives: u64,
    /// Answers 0–6.
    pub detractors: u64,
    /// 100·(promoters − detractors)/n, in −100..=100.
    pub nps: f64,
    /// Half-width of the 95 % interval: 1.96·sqrt([`NpsResult::variance`]).
    pub margin_of_error: f64,
}

/// b − a of two Net Promoter Scores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NpsComparison {
    pub difference: f64,
    pub low: f64,
    pub high: f64,
    /// difference / sqrt(Var_a + Var_b); ±∞ or 0 when both variances are 0.
    pub statistic: f64,
    /// Two-sided normal p-value (1 if both variances are 0 and the scores equal, 0 if they
    /// differ).
    pub p_value: f64,
}

impl Nps {
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds one answer; outside 0..=10 is `OutOfRange`.
    pub fn add(&mut self, score: i64) -> Result<(), CoreError> {
        if !(0..=10).contains(&score) {
            return Err(CoreError::OutOfRange(format!(
                "NPS score {score} is outside 0..10"
            )));
        }
        let c = &mut self.counts[score as usize];
        *c = c.checked_add(1).ok_or_else(too_many)?;
        Ok(())
    }

    /// Combines another partial state into this one; unchanged on error.
    pub fn merge(&mut self, other: &Nps) -> Result<(), CoreError> {
        let mut counts = self.counts;
        for (c, o) in counts.iter_mut().zip(other.counts) {
            *c = c.checked_add(o).ok_or_else(too_many)?;
        }
        if counts
            .iter()
            .try_fold(0u64, |s, &c| s.checked_add(c))
            .is_none()
        {
            return Err(too_many());
        }
        self.counts = counts;
        Ok(())
    }

    /// The number of answers of each score 0..=10.
    pub fn counts(&self) -> &[u64; 11] {
        &self.counts
    }

    pub fn n(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The score, `None` without answers.
    pub fn result(&self) -> Option<NpsResult> {
        let sum = |r: std::ops::RangeInclusive<usize>| self.counts[r].iter().sum::<u64>();
        NpsResult::from_counts(sum(9..=10), sum(7..=8), sum(0..=6))
    }

    /// `N`, version, then the 11 counts as little-endian u64.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + 88);
        out.extend_from_slice(&[NPS_MAGIC, VERSION]);
        for c in self.counts {
            out.extend_from_slice(&c.to_le_bytes());
        }
        out
    }

    pub fn decode(buf: &[u8]) -> Result<Self, CoreError> {
        let mut r = Reader { buf };
        r.header_version(NPS_MAGIC, VERSION)?;
        let mut s = Nps::new();
        for c in s.counts.iter_mut() {
            *c = r.u64()?;
        }
        r.end()?;
        if s.counts
            .iter()
            .try_fold(0u64, |a, &c| a.checked_add(c))
            .is_none()
        {
            return Err(CoreError::Corrupt("aggregate state is inconsistent".into()));
        }
        Ok(s)
    }
}

impl NpsResult {
    /// The score from the three counts; `None` if they are all 0 or their sum overflows.
    pub fn from_counts(promoters: u64, passives: u64, detractors: u64) -> Option<NpsResult> {
        let n = promoters.checked_add(passives)?.checked_add(detractors)?;
        if n == 0 {
            return None;
        }
        let nf = n as f64;
        let (pp, pd) = (promoters as f64 / nf, detractors as f64 / nf);
        let v = (pp + pd - (pp - pd) * (pp - pd)) / nf;
        Some(NpsResult {
            n,
            promoters,
            passives,
            detractors,
            nps: 100.0 * (pp - pd),
            margin_of_error: NPS_Z * 100.0 * v.max(0.0).sqrt(),
        })
    }

    /// Variance of the score estimate in points²: 100²·(p_P + p_D − (p_P − p_D)²)/n.
    pub fn variance(&self) -> f64 {
        let nf = self.n as f64;
        let (pp, pd) = (self.promoters as f64 / nf, self.detractors as f64 / nf);
        (100.0 * 100.0 * ((pp + pd - (pp - pd) * (pp - pd)) / nf)).max(0.0)
    }
}

/// b − a with its 95 % interval (±1.96·sqrt(Var_a + Var_b)) and two-sided normal p-value.
pub fn nps_compare(a: &NpsResult, b: &NpsResult) -> NpsComparison {
    let difference = b.nps - a.nps;
    let se = (a.variance() + b.variance()).sqrt();
    let (statistic, p_value) = if se > 0.0 {
        let z = difference / se;
        (z, normal_two_sided_p(z))
    } else {
        degenerate(difference)
    };
    NpsComparison {
        difference,
        low: difference - NPS_Z * se,
        high: difference + NPS_Z * se,
        statistic,
        p_value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values come from a throw-away venv outside the repository
    // (python3 -m venv /tmp/stats-venv && /tmp/stats-venv/bin/pip install scipy statsmodels numpy;
    // scipy 1.17.1, statsmodels 0.15.0, numpy 2.4.6), printed with repr(); `Z` below is
    // scipy.stats.norm.ppf(0.975).

    /// |actual − expected| ≤ tol·|expected| (absolute tol when expected is 0).
    fn close(actual: f64, expected: f64, tol: f64) -> bool {
        if expected == 0.0 {
            actual.abs() <= tol
        } else {
            (actual - expected).abs() <= tol * expected.abs()
        }
    }

    #[track_caller]
    fn assert_close(actual: f64, expected: f64, tol: f64) {
        assert!(
            close(actual, expected, tol),
            "actual {actual:e}, expected {expected:e}"
        );
    }

    #[track_caller]
    fn assert_some_close(actual: Option<f64>, expected: f64, tol: f64) {
        assert_close(actual.expect("a value"), expected, tol);
    }

    fn ab(rows: &[(&str, &[f64])]) -> AbTest {
        let mut t = AbTest::new();
        for (name, xs) in rows {
            for &x in xs.iter() {
                t.add(name, x).unwrap();
            }
        }
        t
    }

    fn row<'a>(rows: &'a [AbVariant], name: &str) -> &'a AbVariant {
        rows.iter().find(|r| r.variant == name).unwrap()
    }

    fn cmp<'a>(rows: &'a [AbVariant], name: &str) -> &'a AbComparison {
        row(rows, name).comparison.as_ref().expect("a comparison")
    }

    /// Expected numbers of one comparison.
    struct Expected {
        mean: f64,
        sd: f64,
        statistic: f64,
        df: Option<f64>,
        p: f64,
        diff: [f64; 3],
        lift: [f64; 3],
    }

    #[track_caller]
    fn check(rows: &[AbVariant], name: &str, method: AbMethod, e: Expected) {
        const TOL: f64 = 1e-9;
        let r = row(rows, name);
        assert_close(r.mean, e.mean, TOL);
        assert_some_close(r.sd, e.sd, TOL);
        let c = cmp(rows, name);
        assert_eq!(c.method, method);
        assert_close(c.statistic, e.statistic, TOL);
        match e.df {
            Some(df) => assert_some_close(c.df, df, TOL),
            None => assert_eq!(c.df, None),
        }
        assert_close(c.p_value, e.p, TOL);
        assert_close(c.difference, e.diff[0], TOL);
        assert_close(c.difference_low, e.diff[1], TOL);
        assert_close(c.difference_high, e.diff[2], TOL);
        assert_some_close(c.lift, e.lift[0], TOL);
        assert_some_close(c.lift_low, e.lift[1], TOL);
        assert_some_close(c.lift_high, e.lift[2], TOL);
    }

    const D1_A: [f64; 5] = [12.5, 9.0, 14.25, 11.0, 10.5];
    const D1_B: [f64; 8] = [15.0, 13.5, 18.25, 11.75, 16.0, 14.5, 17.0, 19.5];
    const D1_C: [f64; 3] = [8.0, 22.0, 3.5];

    fn d1() -> AbTest {
        ab(&[("A", &D1_A), ("B", &D1_B), ("C", &D1_C)])
    }

    // Welch references, for variant v against control c:
    //   r = scipy.stats.ttest_ind(v, c, equal_var=False)   -> statistic, df, pvalue
    //   r.confidence_interval(0.95)                         -> difference interval
    //   v.mean(), v.std(ddof=1), v.mean() - c.mean()
    //   lift by hand: R = v.mean()/c.mean();
    //   se = np.sqrt(v.var(ddof=1)/len(v) + R*R*c.var(ddof=1)/len(c))/abs(c.mean());
    //   (R-1, R-1-Z*se, R-1+Z*se)
    #[test]
    fn welch_small_uneven_groups_match_scipy() {
        let rows = d1().result(None).unwrap();
        // default control: the first name in byte order
        assert!(row(&rows, "A").is_control && row(&rows, "A").comparison.is_none());
        assert_eq!(
            rows.iter().map(|r| r.variant.as_str()).collect::<Vec<_>>(),
            ["A", "B", "C"]
        );
        assert_close(row(&rows, "A").mean, 11.45, 1e-12);
        assert_some_close(row(&rows, "A").sd, 2.003122562401013, 1e-12);
        check(
            &rows,
            "B",
            AbMethod::WelchT,
            Expected {
                mean: 15.6875,
                sd: 2.5381024970860193,
                statistic: 3.3419585189633305,
                df: Some(10.191281323258623),
                p: 0.007276501402608101,
                diff: [4.237500000000001, 1.4194600979060938, 7.055539902093908],
                lift: [0.3700873362445416, 0.10982961179669426, 0.6303450606923889],
            },
        );
        check(
            &rows,
            "C",
            AbMethod::WelchT,
            Expected {
                mean: 11.166666666666666,
                sd: 9.647970425604203,
                statistic: -0.0502200865291446,
                df: Some(2.104089812245446),
                p: 0.9643100953950865,
                diff: [-0.2833333333333332, -23.442933277980117, 22.876266611313454],
                lift: [
                    -0.024745269286754024,
                    -0.9898958159162741,
                    0.940405277342766,
                ],
            },
        );
        // an explicit control
        let rows = d1().result(Some("C")).unwrap();
        assert!(row(&rows, "C").is_control && row(&rows, "C").comparison.is_none());
        check(
            &rows,
            "A",
            AbMethod::WelchT,
            Expected {
                mean: 11.45,
                sd: 2.003122562401013,
                statistic: 0.0502200865291446,
                df: Some(2.104089812245446),
                p: 0.9643100953950865,
                diff: [0.2833333333333332, -22.876266611313454, 23.442933277980117],
                lift: [
                    0.025373134328358304,
                    -0.9893765612434571,
                    1.0401228299001737,
                ],
            },
        );
        check(
            &rows,
            "B",
            AbMethod::WelchT,
            Expected {
                mean: 15.6875,
                sd: 2.5381024970860193,
                statistic: 0.8012712361433562,
                df: Some(2.104751654440266),
                p: 0.503395762917164,
                diff: [4.520833333333334, -18.63323834570692, 27.674905012373593],
                lift: [0.4048507462686568, -0.9776547952997954, 1.787356287837109],
            },
        );
    }

    fn binary(ones: u64, n: u64) -> Vec<f64> {
        (0..n).map(|i| if i < ones { 1.0 } else { 0.0 }).collect()
    }

    // Two-proportion references, x successes of n for variant v and control c:
    //   statsmodels.stats.proportion.proportions_ztest([xv, xc], [nv, nc])   -> z, p (pooled)
    //   statsmodels.stats.proportion.confint_proportions_2indep(xv, nv, xc, nc,
    //       method='wald', compare='diff')                                   -> difference interval
    //   sd: np.sqrt(pv*(1-pv)*nv/(nv-1)); lift by hand: R = pv/pc;
    //   se = np.sqrt(pv*(1-pv)/nv + R*R*pc*(1-pc)/nc)/pc; (R-1, R-1-Z*se, R-1+Z*se)
    #[test]
    fn two_proportion_z_matches_statsmodels() {
        let t = ab(&[
            ("control", &binary(9, 40)),
            ("treatment", &binary(19, 53)),
            ("zero", &binary(0, 7)),
        ]);
        let rows = t.result(None).unwrap();
        assert!(rows.iter().all(|r| r.binary));
        // the mean of a binary group is ones/n exactly, not a rounded running mean
        assert_eq!(row(&rows, "treatment").mean, 19.0 / 53.0);
        assert_eq!(row(&rows, "control").mean, 9.0 / 40.0);
        for (ones, n) in [(1, 3), (2, 7), (7, 10), (33, 100)] {
            let rows = ab(&[("a", &binary(ones, n))]).result(None).unwrap();
            assert_eq!(rows[0].mean, ones as f64 / n as f64, "{ones}/{n}");
        }
        assert!(row(&rows, "control").is_control);
        // proportions_ztest([19, 9], [53, 40]); confint_proportions_2indep(19, 53, 9, 40, ...)
        check(
            &rows,
            "treatment",
            AbMethod::TwoProportionZ,
            Expected {
                mean: 0.3584905660377358,
                sd: 0.48414633923422806,
                statistic: 1.3893903729846409,
                df: None,
                p: 0.1647140761152074,
                diff: [
                    0.13349056603773582,
                    -0.04930723213814309,
                    0.3162883642136147,
                ],
                lift: [0.5932914046121591, -0.48791146483619374, 1.674494274060512],
            },
        );
        // proportions_ztest([0, 9], [7, 40]): a constant variant is still a defined z-test
        let c = cmp(&rows, "zero");
        assert_eq!(c.method, AbMethod::TwoProportionZ);
        assert_close(c.statistic, -1.39571713315753, 1e-9);
        assert_close(c.p_value, 0.16279969284186158, 1e-9);
        assert_close(c.difference, -0.225, 1e-12);
        assert_close(c.difference_low, -0.3544077259921658, 1e-9);
        assert_close(c.difference_high, -0.09559227400783421, 1e-9);
        assert_eq!(
            (c.lift, c.lift_low, c.lift_high),
            (Some(-1.0), Some(-1.0), Some(-1.0))
        );
        assert_eq!(row(&rows, "zero").sd, Some(0.0));

        // proportions_ztest([6, 0], [6, 4]) -> (3.162277660168379, 0.001565402258002548);
        // confint_proportions_2indep(6, 6, 0, 4, method='wald', compare='diff') -> (1.0, 1.0)
        let rows = ab(&[("a", &binary(0, 4)), ("b", &binary(6, 6))])
            .result(None)
            .unwrap();
        let c = cmp(&rows, "b");
        assert_close(c.statistic, 3.162277660168379, 1e-9);
        assert_close(c.p_value, 0.001565402258002548, 1e-9);
        assert_eq!((c.difference_low, c.difference_high), (1.0, 1.0));
        assert_eq!(c.lift, None, "no lift over a zero control mean");
    }

    #[test]
    fn constant_groups_are_handled_explicitly() {
        let t = ab(&[
            ("a", &[5.0; 4]),
            ("b", &[5.0; 3]),
            ("c", &[7.0; 2]),
            ("d", &[4.0, 6.0, 5.0, 5.0]),
        ]);
        let rows = t.result(None).unwrap();
        // scipy.stats.ttest_ind([5.]*3, [5.]*4, equal_var=False) -> statistic nan, pvalue nan
        // (df = 1.0 placeholder), confidence_interval() -> (0.0, 0.0): here 0 and p = 1
        let c = cmp(&rows, "b");
        assert_eq!((c.statistic, c.p_value, c.df), (0.0, 1.0, None));
        assert_eq!(
            (c.difference, c.difference_low, c.difference_high),
            (0.0, 0.0, 0.0)
        );
        assert_eq!(c.lift, Some(0.0));
        assert_eq!((c.lift_low, c.lift_high), (Some(0.0), Some(0.0)));
        // scipy.stats.ttest_ind([7., 7.], [5.]*4, equal_var=False) -> statistic inf, pvalue 0.0,
        // confidence_interval() -> (2.0, 2.0)
        let c = cmp(&rows, "c");
        assert_eq!((c.statistic, c.p_value, c.df), (f64::INFINITY, 0.0, None));
        assert_eq!((c.difference_low, c.difference_high), (2.0, 2.0));
        assert_close(c.lift.unwrap(), 0.4, 1e-15);
        let rows = t.result(Some("c")).unwrap();
        assert_eq!(cmp(&rows, "a").statistic, f64::NEG_INFINITY);
        assert_eq!(cmp(&rows, "a").p_value, 0.0);
        // one constant group: scipy.stats.ttest_ind([4., 6., 5., 5.], [5.]*4, equal_var=False)
        // and its confidence_interval(); lift by hand as in the Welch test above
        let rows = t.result(None).unwrap();
        check(
            &rows,
            "d",
            AbMethod::WelchT,
            Expected {
                mean: 5.0,
                sd: 0.816496580927726,
                statistic: 0.0,
                df: Some(3.0),
                p: 1.0,
                diff: [0.0, -1.299228263625111, 1.299228263625111],
                lift: [0.0, -0.16003038921184368, 0.16003038921184368],
            },
        );
        // two identical constant binary groups: proportions_ztest([6, 4], [6, 4]) -> (nan, nan)
        let rows = ab(&[("x", &binary(4, 4)), ("y", &binary(6, 6))])
            .result(None)
            .unwrap();
        let c = cmp(&rows, "y");
        assert_eq!(c.method, AbMethod::TwoProportionZ);
        assert_eq!((c.statistic, c.p_value), (0.0, 1.0));
        assert_eq!((c.difference_low, c.difference_high), (0.0, 0.0));
    }

    #[test]
    fn a_binary_control_against_a_continuous_variant_uses_welch() {
        // scipy.stats.ttest_ind([0, 1, 2, 1], [0, 1, 1, 0, 1], equal_var=False) and
        // confidence_interval(); lift by hand as in the Welch test above
        let rows = ab(&[
            ("a", &[0.0, 1.0, 1.0, 0.0, 1.0]),
            ("b", &[0.0, 1.0, 2.0, 1.0]),
        ])
        .result(None)
        .unwrap();
        assert!(row(&rows, "a").binary && !row(&rows, "b").binary);
        check(
            &rows,
            "b",
            AbMethod::WelchT,
            Expected {
                mean: 1.0,
                sd: 0.816496580927726,
                statistic: 0.8401680504168059,
                df: Some(5.0572366022603),
                p: 0.43871773805187836,
                diff: [0.4, -0.8196873469192342, 1.619687346919234],
                lift: [0.6666666666666667, -1.2193095567936199, 2.552642890126953],
            },
        );
    }

    #[test]
    fn large_groups_match_scipy_and_statsmodels() {
        // i = np.arange(200_000, dtype=np.int64); A4 = ((i*7919) % 1009)/100.0
        // j = np.arange(150_000, dtype=np.int64); B4 = ((j*104729) % 1013)/100.0 + 0.02
        // scipy.stats.ttest_ind(B4, A4, equal_var=False) and confidence_interval()
        let mut t = AbTest::new();
        for i in 0..200_000u64 {
            t.add("A", ((i * 7919) % 1009) as f64 / 100.0).unwrap();
        }
        for j in 0..150_000u64 {
            t.add("B", ((j * 104729) % 1013) as f64 / 100.0 + 0.02)
                .unwrap();
        }
        let rows = t.result(None).unwrap();
        check(
            &rows,
            "B",
            AbMethod::WelchT,
            Expected {
                mean: 5.0798834,
                sd: 2.9243004770302994,
                statistic: 4.002381107944576,
                df: Some(322397.34848073276),
                p: 6.272218633027438e-05,
                diff: [
                    0.03990969999999994,
                    0.020365866919226358,
                    0.059453533080773516,
                ],
                lift: [
                    0.00791863259127723,
                    0.004027752217744299,
                    0.011809512964810162,
                ],
            },
        );
        // proportions_ztest([102000, 100000], [10**6, 10**6]);
        // confint_proportions_2indep(102000, 10**6, 100000, 10**6, method='wald', compare='diff')
        let mut t = AbTest::new();
        for i in 0..1_000_000u64 {
            t.add("control", if i < 100_000 { 1.0 } else { 0.0 })
                .unwrap();
            t.add("variant", if i < 102_000 { 1.0 } else { 0.0 })
                .unwrap();
        }
        let rows = t.result(Some("control")).unwrap();
        check(
            &rows,
            "variant",
            AbMethod::TwoProportionZ,
            Expected {
                mean: 0.102,
                sd: 0.3026484620745521,
                statistic: 4.693258388644307,
                df: None,
                p: 2.688875168850581e-06,
                diff: [
                    0.001999999999999988,
                    0.0011647793369397577,
                    0.002835220663060218,
                ],
                lift: [
                    0.019999999999999796,
                    0.011564591887318976,
                    0.028435408112680617,
                ],
            },
        );
    }

    #[test]
    fn t_distribution_matches_scipy() {
        // [2*scipy.stats.t.sf(t, df) for t in (0.1, 1.0, 2.0, 5.0, 30.0)], scipy.stats.t.ppf(0.975, df)
        // (cross-checked against mpmath.betainc(df/2, 1/2, 0, df/(df+t*t), regularized=True)
        // at 50 digits up to df = 1e10: agreement to 5e-15). df 39.9/40.1 straddle the switch
        // to the series, 19.9/20.1 the switch to the asymptotic ln Γ ratio.
        let table: [(f64, [f64; 5], f64); 13] = [
            (
                1.0,
                [
                    0.936548965138893,
                    0.5000000000000001,
                    0.2951672353008665,
                    0.1256659163780024,
                    0.02121280481107085,
                ],
                12.706204736174694,
            ),
            (
                1.5,
                [
                    0.9320414534869628,
                    0.45113536727671033,
                    0.22418833035605112,
                    0.06537576762115621,
                    0.004585642322979406,
                ],
                6.016663104427929,
            ),
            (
                2.7,
                [
                    0.9272983352515441,
                    0.39832434722077276,
                    0.149423438070502,
                    0.019700838926463838,
                    0.00017361344409653245,
                ],
                3.3921483831737507,
            ),
            (
                10.0,
                [
                    0.9223207185644082,
                    0.34089313230206,
                    0.07338803477074037,
                    0.0005373336027564527,
                    3.961792342031325e-11,
                ],
                2.228138851986274,
            ),
            (
                19.9,
                [
                    0.9213449087559751,
                    0.329315831567221,
                    0.05933581331443571,
                    6.970987309314488e-05,
                    4.849984712443849e-18,
                ],
                2.086635638404131,
            ),
            (
                20.1,
                [
                    0.9213350229925639,
                    0.329197904669458,
                    0.05919596556852905,
                    6.777033894583621e-05,
                    3.629771409373356e-18,
                ],
                2.085298346435232,
            ),
            (
                39.9,
                [
                    0.9208451007908927,
                    0.32333678189617815,
                    0.05233960843409473,
                    1.1905645823047524e-05,
                    5.421560544345548e-29,
                ],
                2.021233189707518,
            ),
            (
                40.1,
                [
                    0.9208426115013895,
                    0.32330691578727555,
                    0.05230516485843498,
                    1.1775086631841432e-05,
                    4.340830115325201e-29,
                ],
                2.0209184014716017,
            ),
            (
                1000.0,
                [
                    0.9203643690236041,
                    0.31755241808467255,
                    0.04577034649325166,
                    6.767256364648635e-07,
                    1.5374687444043095e-141,
                ],
                1.9623390808264083,
            ),
            (
                1e5,
                [
                    0.9203445259067263,
                    0.3173129275641102,
                    0.04550296345750651,
                    5.742701678641679e-07,
                    7.37853687222276e-197,
                ],
                1.9599877075346095,
            ),
            (
                1e7,
                [
                    0.9203443274505524,
                    0.31731053205998605,
                    0.04550029089184296,
                    5.733128075008536e-07,
                    1.0014613690817807e-197,
                ],
                1.959964221767205,
            ),
            (
                1e10,
                [
                    0.9203443254479468,
                    0.3173105078871113,
                    0.04550026392335392,
                    5.733031534220653e-07,
                    9.813627019580533e-198,
                ],
                1.959963984777281,
            ),
            (
                1e12,
                [
                    0.9203443254459621,
                    0.3173105078631561,
                    0.04550026389662835,
                    5.73303143855025e-07,
                    9.81342984592814e-198,
                ],
                1.9599639845424262,
            ),
        ];
        for (df, ps, q) in table {
            for (t, p) in [0.1, 1.0, 2.0, 5.0, 30.0].into_iter().zip(ps) {
                let got = t_two_sided_p(t, df);
                assert!(close(got, p, 1e-9), "df {df} t {t}: {got:e} vs {p:e}");
                assert_eq!(t_two_sided_p(-t, df), got);
            }
            let got = t_critical_95(df);
            assert!(close(got, q, 1e-9), "df {df}: quantile {got} vs {q}");
        }
        assert_eq!(t_two_sided_p(0.0, 3.0), 1.0);
        assert_eq!(t_two_sided_p(f64::INFINITY, 3.0), 0.0);
        assert_eq!(t_critical_95(f64::INFINITY), Z95);
        // mpmath.loggamma(a + 0.5) - mpmath.loggamma(a) at 50 digits, around the switch to the
        // asymptotic series
        for (a, v) in [
            (0.5, -0.5723649429247001),
            (3.3, 0.5592236312741705),
            (9.99, 1.1382849922217506),
            (10.0, 1.1387977393222941),
            (10.01, 1.1393099614846003),
            (57.5, 2.0237185882521986),
            (1e6, 6.907755153982137),
        ] {
            assert_close(ln_gamma_half_ratio(a), v, 1e-13);
        }
    }

    #[test]
    fn holm_matches_statsmodels() {
        // statsmodels.stats.multitest.multipletests(p, method='holm')[1] on the present values
        type Case<'a> = (&'a [Option<f64>], &'a [Option<f64>]);
        let cases: [Case; 4] = [
            (
                &[Some(0.01), None, Some(0.04), Some(0.03), Some(0.005), None],
                &[Some(0.03), None, Some(0.06), Some(0.06), Some(0.02), None],
            ),
            (
                &[
                    Some(0.5),
                    Some(0.6),
                    Some(0.01),
                    Some(0.02),
                    Some(0.02),
                    Some(0.9),
                ],
                &[
                    Some(1.0),
                    Some(1.0),
                    Some(0.06),
                    Some(0.1),
                    Some(0.1),
                    Some(1.0),
                ],
            ),
            (
                &[Some(0.0), Some(1.0), Some(0.2)],
                &[Some(0.0), Some(1.0), Some(0.4)],
            ),
            (&[None, Some(0.3)], &[None, Some(0.3)]),
        ];
        for (p, want) in cases {
            let got = holm(p).unwrap();
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(want.iter()) {
                match (g, w) {
                    (Some(g), Some(w)) => assert_close(*g, *w, 1e-12),
                    _ => assert_eq!(g, w),
                }
            }
        }
        assert_eq!(holm(&[]).unwrap(), Vec::<Option<f64>>::new());
        assert_eq!(holm(&[None, None]).unwrap(), vec![None, None]);
        // the order of the input does not matter
        let p = [Some(0.02), Some(0.5), Some(0.01), Some(0.02)];
        let rev: Vec<_> = p.iter().rev().copied().collect();
        let mut back = holm(&rev).unwrap();
        back.reverse();
        assert_eq!(holm(&p).unwrap(), back);
        for bad in [1.5, -0.1, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                holm(&[Some(0.1), Some(bad)]),
                Err(CoreError::InvalidParameter(_))
            ));
        }
    }

    const NPS_A: [i64; 16] = [10, 9, 9, 8, 7, 6, 5, 0, 10, 10, 3, 9, 8, 10, 2, 7];

    fn nps_b() -> Vec<i64> {
        [
            (10, 40),
            (9, 25),
            (8, 12),
            (7, 9),
            (6, 5),
            (4, 3),
            (1, 2),
            (0, 1),
        ]
        .iter()
        .flat_map(|&(s, k)| std::iter::repeat_n(s, k))
        .collect()
    }

    fn nps_of(scores: &[i64]) -> Nps {
        let mut s = Nps::new();
        for &x in scores {
            s.add(x).unwrap();
        }
        s
    }

    // NPS by hand in numpy (s = np.asarray(scores), n = len(s)):
    //   P = np.sum(s >= 9); D = np.sum(s <= 6); pP, pD = P/n, D/n
    //   v = (pP + pD - (pP-pD)**2)/n; nps = 100*(pP-pD); moe = 1.96*100*np.sqrt(v)
    //   compare: va, vb = 100*100*v (per group); se = np.sqrt(va+vb); d = nps_b - nps_a;
    //   (d, d-1.96*se, d+1.96*se, 2*scipy.stats.norm.sf(abs(d)/se))
    #[test]
    fn nps_matches_numpy() {
        let a = nps_of(&NPS_A).result().unwrap();
        assert_eq!((a.n, a.promoters, a.passives, a.detractors), (16, 7, 4, 5));
        assert_close(a.nps, 12.5, 1e-12);
        assert_close(a.margin_of_error, 41.99088442745639, 1e-9);
        let b = nps_of(&nps_b()).result().unwrap();
        assert_eq!(
            (b.n, b.promoters, b.passives, b.detractors),
            (97, 65, 21, 11)
        );
        assert_close(b.nps, 55.6701030927835, 1e-12);
        assert_close(b.margin_of_error, 13.695284579085158, 1e-9);
        let c = nps_compare(&a, &b);
        assert_close(c.difference, 43.1701030927835, 1e-12);
        assert_close(c.low, -0.9977041281113088, 1e-9);
        assert_close(c.high, 87.33791031367831, 1e-9);
        assert_close(c.p_value, 0.05540002326980133, 1e-9);
        let back = nps_compare(&b, &a);
        assert_eq!(back.difference, -c.difference);
        assert_eq!(back.p_value, c.p_value);
        assert_eq!(NpsResult::from_counts(65, 21, 11), Some(b));
        // edges: no answers, one answer, zero variances
        assert_eq!(Nps::new().result(), None);
        assert_eq!(NpsResult::from_counts(0, 0, 0), None);
        let one = nps_of(&[10]).result().unwrap();
        assert_eq!((one.nps, one.margin_of_error), (100.0, 0.0));
        let promoters = NpsResult::from_counts(5, 0, 0).unwrap();
        let c = nps_compare(&one, &promoters);
        assert_eq!(
            (c.difference, c.low, c.high, c.p_value),
            (0.0, 0.0, 0.0, 1.0)
        );
        let detractors = NpsResult::from_counts(0, 0, 3).unwrap();
        assert_eq!(detractors.nps, -100.0);
        let c = nps_compare(&promoters, &detractors);
        assert_eq!(
            (c.difference, c.statistic, c.p_value),
            (-200.0, f64::NEG_INFINITY, 0.0)
        );
        for bad in [-1, 11, i64::MIN, i64::MAX] {
            match Nps::new().add(bad) {
                Err(CoreError::OutOfRange(m)) => assert!(m.contains(&bad.to_string()), "{m}"),
                other => panic!("{other:?}"),
            }
        }
    }

    /// SplitMix64.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn shuffle<T>(&mut self, v: &mut [T]) {
            for i in (1..v.len()).rev() {
                v.swap(i, self.below(i + 1));
            }
        }
    }

    #[track_caller]
    fn assert_same_results(a: &[AbVariant], b: &[AbVariant]) {
        const TOL: f64 = 1e-12;
        let near = |x: f64, y: f64| x == y || close(x, y, TOL);
        let near_opt = |x: Option<f64>, y: Option<f64>| match (x, y) {
            (Some(x), Some(y)) => near(x, y),
            _ => x == y,
        };
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert_eq!(
                (&x.variant, x.is_control, x.n, x.binary),
                (&y.variant, y.is_control, y.n, y.binary)
            );
            assert!(
                near(x.mean, y.mean) && near_opt(x.sd, y.sd),
                "{x:?} vs {y:?}"
            );
            match (&x.comparison, &y.comparison) {
                (Some(c), Some(d)) => {
                    assert_eq!(c.method, d.method);
                    for (u, v) in [
                        (c.difference, d.difference),
                        (c.difference_low, d.difference_low),
                        (c.difference_high, d.difference_high),
                        (c.statistic, d.statistic),
                        (c.p_value, d.p_value),
                    ] {
                        assert!(near(u, v), "{c:?} vs {d:?}");
                    }
                    for (u, v) in [(c.lift, d.lift), (c.lift_low, d.lift_low), (c.df, d.df)] {
                        assert!(near_opt(u, v), "{c:?} vs {d:?}");
                    }
                }
                (c, d) => assert_eq!(c, d),
            }
        }
    }

    #[test]
    fn merging_random_partitions_in_any_order_gives_the_same_result() {
        let mut rng = Rng(14);
        let mut rows: Vec<(&str, f64)> = Vec::new();
        for (name, xs) in [("A", &D1_A[..]), ("B", &D1_B[..]), ("C", &D1_C[..])] {
            rows.extend(xs.iter().map(|&x| (name, x)));
        }
        rows.extend(binary(30, 100).into_iter().map(|x| ("conv", x)));
        rows.extend([("const", 5.0); 7]);
        for i in 0..2_000u64 {
            rows.push(("wide", 1000.0 + ((i * 7919) % 1009) as f64 / 7.0));
        }
        let whole = {
            let mut t = AbTest::new();
            for &(v, x) in &rows {
                t.add(v, x).unwrap();
            }
            t
        };
        let expected = whole.result(Some("B")).unwrap();
        let mut scores: Vec<i64> = NPS_A.to_vec();
        scores.extend(nps_b());
        let nps_whole = nps_of(&scores);
        for round in 0..30 {
            rng.shuffle(&mut rows);
            let k = 1 + rng.below(9);
            let mut parts = vec![AbTest::new(); k];
            for &(v, x) in &rows {
                parts[rng.below(k)].add(v, x).unwrap();
            }
            // through the binary state, as between parallel workers
            let mut parts: Vec<AbTest> = parts
                .iter()
                .map(|p| AbTest::decode(&p.encode()).unwrap())
                .collect();
            rng.shuffle(&mut parts);
            let merged = if round % 2 == 0 {
                let mut acc = AbTest::new();
                for p in &parts {
                    acc.merge(p).unwrap();
                }
                acc
            } else {
                // pairwise, as a tree
                while parts.len() > 1 {
                    let b = parts.pop().unwrap();
                    let i = rng.below(parts.len());
                    parts[i].merge(&b).unwrap();
                }
                parts.pop().unwrap()
            };
            assert_eq!(merged.groups().len(), whole.groups().len());
            for (m, w) in merged.groups().values().zip(whole.groups().values()) {
                assert_eq!((m.n, m.zeros, m.ones), (w.n, w.zeros, w.ones));
            }
            assert_same_results(&merged.result(Some("B")).unwrap(), &expected);

            let mut nps_parts = vec![Nps::new(); k];
            for &s in &scores {
                nps_parts[rng.below(k)].add(s).unwrap();
            }
            rng.shuffle(&mut nps_parts);
            let mut acc = Nps::new();
            for p in &nps_parts {
                acc.merge(&Nps::decode(&p.encode()).unwrap()).unwrap();
            }
            assert_eq!(acc, nps_whole);
        }
        // merging an empty state changes nothing, either way round
        let mut e = AbTest::new();
        e.merge(&whole).unwrap();
        assert_eq!(e, whole);
        let mut w = whole.clone();
        w.merge(&AbTest::new()).unwrap();
        assert_eq!(w, whole);
    }

    #[test]
    fn states_round_trip_and_reject_damage() {
        let t = d1();
        let mut t2 = t.clone();
        t2.add("ünïcode ✓", 1.0).unwrap();
        t2.add("", 0.0).unwrap();
        for s in [AbTest::new(), t, t2] {
            let bytes = s.encode();
            assert_eq!(AbTest::decode(&bytes).unwrap(), s);
            for cut in 0..bytes.len() {
                assert!(AbTest::decode(&bytes[..cut]).is_err(), "cut at {cut}");
            }
            let mut extra = bytes.clone();
            extra.push(0);
            assert!(AbTest::decode(&extra).is_err());
            let mut version = bytes.clone();
            version[1] = 2;
            assert!(matches!(
                AbTest::decode(&version),
                Err(CoreError::Corrupt(_))
            ));
            assert!(AbTest::decode(&nps_of(&[1]).encode()).is_err());
        }
        // field damage: one variant "A" with n = 2
        let mut one = AbTest::new();
        one.add("A", 1.0).unwrap();
        one.add("A", 3.0).unwrap();
        let bytes = one.encode();
        let (n_at, zeros_at, mean_at, m2_at) = (11, 19, 35, 43);
        let patch = |at: usize, v: [u8; 8]| {
            let mut b = bytes.clone();
            b[at..at + 8].copy_from_slice(&v);
            AbTest::decode(&b)
        };
        assert_eq!(AbTest::decode(&bytes).unwrap(), one);
        assert!(patch(n_at, 0u64.to_le_bytes()).is_err());
        assert!(patch(zeros_at, 3u64.to_le_bytes()).is_err());
        assert!(patch(zeros_at, u64::MAX.to_le_bytes()).is_err());
        assert!(patch(mean_at, f64::NAN.to_le_bytes()).is_err());
        assert!(patch(m2_at, (-1.0f64).to_le_bytes()).is_err());
        assert!(patch(m2_at, f64::INFINITY.to_le_bytes()).is_err());
        let mut bad_utf8 = bytes.clone();
        bad_utf8[10] = 0xff;
        assert!(AbTest::decode(&bad_utf8).is_err());
        // duplicate or unsorted names
        let mut two = AbTest::new();
        two.add("A", 1.0).unwrap();
        two.add("B", 1.0).unwrap();
        let mut dup = two.encode();
        let second = 6 + 4 + 1 + 40 + 4;
        dup[second] = b'A';
        assert!(AbTest::decode(&dup).is_err());
        dup[second] = b'0';
        assert!(AbTest::decode(&dup).is_err());
        // a huge count in a short buffer
        let mut huge = vec![AB_MAGIC, VERSION];
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(AbTest::decode(&huge).is_err());

        let s = nps_of(&nps_b());
        let bytes = s.encode();
        assert_eq!(Nps::decode(&bytes).unwrap(), s);
        for cut in 0..bytes.len() {
            assert!(Nps::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(Nps::decode(&extra).is_err());
        let mut overflow = bytes.clone();
        overflow[2..10].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(Nps::decode(&overflow).is_err());
        assert!(Nps::decode(&AbTest::new().encode()).is_err());
        // arbitrary bytes never panic
        let mut rng = Rng(7);
        for _ in 0..2_000 {
            let len = rng.below(80);
            let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if len > 1 && rng.below(2) == 0 {
                b[0] = if rng.below(2) == 0 {
                    AB_MAGIC
                } else {
                    NPS_MAGIC
                };
                b[1] = VERSION;
            }
            let _ = AbTest::decode(&b);
            let _ = Nps::decode(&b);
        }
    }

    #[test]
    fn invalid_input_is_reported() {
        let mut t = d1();
        let before = t.clone();
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            match t.add("A", bad) {
                Err(CoreError::InvalidParameter(m)) => assert!(m.contains("outcome"), "{m}"),
                other => panic!("{other:?}"),
            }
            assert!(t.add("new", bad).is_err());
        }
        assert_eq!(t, before, "a rejected row leaves the state unchanged");
        assert!(matches!(
            t.result(Some("D")),
            Err(CoreError::InvalidParameter(m)) if m.contains("\"D\"")
        ));
        assert!(matches!(
            AbTest::new().result(Some("A")),
            Err(CoreError::InvalidParameter(_))
        ));
        assert_eq!(AbTest::new().result(None).unwrap(), Vec::new());
        // overflow of the running moments
        let mut big = AbTest::new();
        big.add("A", 1e308).unwrap();
        assert!(matches!(
            big.add("A", -1e308),
            Err(CoreError::OutOfRange(_))
        ));
        assert_eq!(big.groups()["A"].n, 1);
        let mut other = AbTest::new();
        other.add("A", -1e308).unwrap();
        let snapshot = big.clone();
        assert!(matches!(big.merge(&other), Err(CoreError::OutOfRange(_))));
        assert_eq!(big, snapshot);
        // the difference of two finite means can overflow
        let mut far = AbTest::new();
        for x in [1e308, 1e308, -1e308, -1e308] {
            far.add(if x > 0.0 { "a" } else { "b" }, x).unwrap();
        }
        assert!(matches!(far.result(None), Err(CoreError::OutOfRange(_))));
    }

    #[test]
    fn groups_below_two_observations_have_no_comparison() {
        // scipy.stats.ttest_ind([1.0], [5.0, 6.0], equal_var=False) -> nan: here None
        let rows = ab(&[("a", &[5.0, 6.0]), ("b", &[1.0]), ("c", &[2.0, 2.5])])
            .result(None)
            .unwrap();
        assert_eq!(row(&rows, "b").sd, None);
        assert!(row(&rows, "b").comparison.is_none());
        assert!(row(&rows, "c").comparison.is_some());
        let rows = ab(&[("a", &[5.0]), ("b", &[1.0, 2.0])])
            .result(None)
            .unwrap();
        assert!(rows.iter().all(|r| r.comparison.is_none()));
        let rows = ab(&[("a", &[1.0, 0.0]), ("b", &[1.0])])
            .result(None)
            .unwrap();
        assert!(row(&rows, "b").comparison.is_none());
    }
}

/// The position of `customer` in `experiment`, uniform in [0, 1): the first 8 bytes of
/// SHA-256(experiment ‖ 0x00 ‖ customer) as a big-endian integer, divided by 2^64. Anyone can
/// recompute it (in SQL: `sha256(convert_to(experiment, 'UTF8') || '\x00' || convert_to(customer,
/// 'UTF8'))`), and two experiments' positions are independent.
pub fn ab_position(customer: &str, experiment: &str) -> f64 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(experiment.as_bytes());
    h.update([0u8]);
    h.update(customer.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // 2^-64 · u: exact for the top 53 bits, so the result is < 1
    (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}

/// Deterministic assignment of a customer to one of `shares.len()` variants: variant i takes the
/// positions in [c(i−1), c(i)), c = the cumulative shares / their sum. Returns the index.
/// Shares must be finite, ≥ 0, and sum to more than 0 (`InvalidParameter` naming `shares`).
pub fn ab_assign(customer: &str, experiment: &str, shares: &[f64]) -> Result<usize, CoreError> {
    if shares.is_empty() {
        return Err(CoreError::InvalidParameter(
            "shares must not be empty".into(),
        ));
    }
    if let Some(bad) = shares.iter().find(|s| !s.is_finite() || **s < 0.0) {
        return Err(CoreError::InvalidParameter(format!(
            "shares must be finite and not negative, got {bad}"
        )));
    }
    let total: f64 = shares.iter().sum();
    if !(total > 0.0 && total.is_finite()) {
        return Err(CoreError::InvalidParameter(
            "shares must add up to more than 0".into(),
        ));
    }
    let x = ab_position(customer, experiment) * total;
    let mut cumulative = 0.0;
    for (i, s) in shares.iter().enumerate() {
        cumulative += s;
        if x < cumulative && *s > 0.0 {
            return Ok(i);
        }
    }
    // rounding at the very top: the last variant with a positive share
    Ok(shares.iter().rposition(|s| *s > 0.0).expect("total > 0"))
}

#[cfg(test)]
mod assign_tests {
    use super::*;

    #[test]
    fn positions_match_sha256() {
        // python3: h = hashlib.sha256(exp.encode() + b'\x00' + cust.encode()).digest();
        //          int.from_bytes(h[:8], 'big') / 2**64
        for (exp, cust, want) in [
            ("spring", "1", 0.7706762713053577),
            ("spring", "2", 0.026370553984972685),
            ("autumn", "1", 0.5024794566814194),
            ("vip-offer", "10079", 0.29752828328768166),
            ("e", "", 0.41954300424396224),
        ] {
            assert!(
                (ab_position(cust, exp) - want).abs() < 1e-15,
                "{exp}/{cust}"
            );
        }
    }

    #[test]
    fn assignment_follows_shares() {
        assert_eq!(ab_assign("1", "spring", &[0.5, 0.5]).unwrap(), 1); // 0.77
        assert_eq!(ab_assign("2", "spring", &[0.5, 0.5]).unwrap(), 0); // 0.026
        assert_eq!(ab_assign("1", "spring", &[0.8, 0.2]).unwrap(), 0); // 0.77 < 0.8
        assert_eq!(ab_assign("1", "spring", &[0.0, 1.0, 0.0]).unwrap(), 1);
        assert_eq!(ab_assign("1", "spring", &[3.0, 1.0]).unwrap(), 1); // 0.77 ≥ 0.75
        let n = 100_000;
        let a = (0..n)
            .filter(|i| ab_assign(&i.to_string(), "x", &[0.1, 0.9]).unwrap() == 0)
            .count();
        assert!((a as f64 / n as f64 - 0.1).abs() < 0.005, "{a}");
        for bad in [
            vec![],
            vec![0.0],
            vec![-1.0, 2.0],
            vec![f64::NAN],
            vec![f64::INFINITY],
        ] {
            assert!(ab_assign("1", "x", &bad).is_err(), "{bad:?}");
        }
    }
}
