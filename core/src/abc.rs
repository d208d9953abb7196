//! ABC / Pareto classification of customers by their contribution to a total, concentration
//! statistics (top-20 % share, Gini) and the Lorenz/Pareto curve.
//!
//! Shares are shares of the *positive* total: a customer with a zero or negative value (net
//! refunds) contributes nothing, is always class C and counts as a customer in the curve.

use crate::CoreError;

/// The default cut-off of class A: A while the cumulative share is below 0.80 (`a_cut`).
pub const DEFAULT_A_CUT: f64 = 0.8;
/// The default cut-off of class B: B while the cumulative share is below 0.95 (`b_cut`).
pub const DEFAULT_B_CUT: f64 = 0.95;

/// How the boundary customer of a class is decided, or the data-driven method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbcMethod {
    /// A while the cumulative share of the customers ranked above is below `a_cut`.
    Before,
    /// A while the cumulative share including the customer (and its ties) is at most `a_cut`.
    Including,
    /// Computed ABC analysis (Ultsch & Lötsch 2015), cut-offs from the value distribution.
    Computed,
}

impl AbcMethod {
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        match s {
            "before" => Ok(AbcMethod::Before),
            "including" => Ok(AbcMethod::Including),
            "computed" => Ok(AbcMethod::Computed),
            other => Err(CoreError::InvalidParameter(format!(
                "convention must be 'before', 'including' or 'computed', got '{other}'"
            ))),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            AbcMethod::Before => "before",
            AbcMethod::Including => "including",
            AbcMethod::Computed => "computed",
        }
    }

    pub fn code(&self) -> u8 {
        *self as u8
    }

    pub fn from_code(c: u8) -> Result<Self, CoreError> {
        match c {
            0 => Ok(AbcMethod::Before),
            1 => Ok(AbcMethod::Including),
            2 => Ok(AbcMethod::Computed),
            _ => Err(CoreError::Corrupt("unknown ABC method".into())),
        }
    }
}

/// Validates the cut-offs: 0 < a_cut < b_cut < 1.
pub fn check_cuts(a_cut: f64, b_cut: f64) -> Result<(), CoreError> {
    if !(a_cut > 0.0 && a_cut < 1.0) {
        return Err(CoreError::InvalidParameter(format!(
            "a_cut must be between 0 and 1 (exclusive), got {a_cut}"
        )));
    }
    if !(b_cut > 0.0 && b_cut < 1.0) {
        return Err(CoreError::InvalidParameter(format!(
            "b_cut must be between 0 and 1 (exclusive), got {b_cut}"
        )));
    }
    if a_cut >= b_cut {
        return Err(CoreError::InvalidParameter(format!(
            "a_cut must be below b_cut, got a_cut {a_cut} and b_cut {b_cut}"
        )));
    }
    Ok(())
}

/// The class of a customer from its cumulative share of the total (including itself).
pub fn class_of_share(cumulative_share: f64, a_cut: f64, b_cut: f64) -> char {
    if cumulative_share <= a_cut {
        'A'
    } else if cumulative_share <= b_cut {
        'B'
    } else {
        'C'
    }
}

/// A fitted ABC model: a value is A when `>= a_min`, else B when `>= b_min`, else C
/// (`None`: the class is empty). Values `<= 0` are always C.
#[derive(Clone, Debug, PartialEq)]
pub struct AbcModel {
    pub method: AbcMethod,
    /// For the fixed methods the cut-offs used; for `Computed`, the share of the positive
    /// total held by A and by A + B.
    pub a_cut: f64,
    pub b_cut: f64,
    pub a_min: Option<f64>,
    pub b_min: Option<f64>,
    pub customers: i64,
    /// Sum of the positive values (what shares refer to).
    pub total: f64,
    pub counts: [i64; 3],
    pub values: [f64; 3],
}

/// The class of `value` under the thresholds of a model: A when `>= a_min`, else B when
/// `>= b_min`, else C; values `<= 0` are C; `None` thresholds mean an empty class.
#[inline]
pub fn class_with(a_min: Option<f64>, b_min: Option<f64>, value: f64) -> char {
    if value <= 0.0 {
        'C'
    } else if a_min.is_some_and(|a| value >= a) {
        'A'
    } else if b_min.is_some_and(|b| value >= b) {
        'B'
    } else {
        'C'
    }
}

impl AbcModel {
    #[inline]
    pub fn class(&self, value: f64) -> char {
        class_with(self.a_min, self.b_min, value)
    }

    /// Fits a model on `values` (finite, any order). `None` for an empty population.
    pub fn fit(values: &[f64], method: AbcMethod, a_cut: f64, b_cut: f64) -> Option<AbcModel> {
        if values.is_empty() {
            return None;
        }
        let sorted = sorted_desc(values);
        let total = positive_sum(&sorted);
        let (a_min, b_min) = match method {
            AbcMethod::Computed => {
                let c = computed_limits(&sorted);
                (
                    // A = values strictly above the A|B limit: its smallest member
                    c.ab_limit
                        .and_then(|l| sorted.iter().rev().find(|v| **v > l).copied()),
                    c.bc_limit,
                )
            }
            _ => fixed_limits(&sorted, total, method, a_cut, b_cut),
        };
        let mut model = AbcModel {
            method,
            a_cut,
            b_cut,
            a_min: a_min.filter(|v| *v > 0.0),
            b_min: b_min.filter(|v| *v > 0.0),
            customers: sorted.len() as i64,
            total,
            counts: [0; 3],
            values: [0.0; 3],
        };
        for v in &sorted {
            let k = (model.class(*v) as u8 - b'A') as usize;
            model.counts[k] += 1;
            model.values[k] += v.max(0.0);
        }
        if method == AbcMethod::Computed && total > 0.0 {
            model.a_cut = model.values[0] / total;
            model.b_cut = (model.values[0] + model.values[1]) / total;
        }
        Some(model)
    }
}

/// Sum of the positive values, from +0.0 (an empty sum is 0, not -0).
fn positive_sum(values: &[f64]) -> f64 {
    values.iter().filter(|v| **v > 0.0).fold(0.0, |a, v| a + v)
}

fn sorted_desc(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(|a, b| b.partial_cmp(a).expect("values are finite"));
    sorted
}

/// The smallest value of class A and of class B under a fixed cut-off rule (values sorted
/// descending; ties are walked as one group so equal values share a class).
fn fixed_limits(
    sorted: &[f64],
    total: f64,
    method: AbcMethod,
    a_cut: f64,
    b_cut: f64,
) -> (Option<f64>, Option<f64>) {
    let (mut a_min, mut b_min) = (None, None);
    if total <= 0.0 {
        return (None, None);
    }
    let mut before = 0.0;
    let mut i = 0;
    while i < sorted.len() && sorted[i] > 0.0 {
        let v = sorted[i];
        let mut group = 0.0;
        while i < sorted.len() && sorted[i] == v {
            group += v;
            i += 1;
        }
        let class = match method {
            AbcMethod::Including => class_of_share((before + group) / total, a_cut, b_cut),
            _ => {
                let share = before / total;
                if share < a_cut {
                    'A'
                } else if share < b_cut {
                    'B'
                } else {
                    'C'
                }
            }
        };
        match class {
            'A' => a_min = Some(v),
            'B' => b_min = Some(v),
            _ => break,
        }
        before += group;
    }
    if b_min.is_none() {
        // B empty: B's threshold is A's (nothing between)
        b_min = a_min;
    }
    (a_min, b_min)
}

/// Result of the computed ABC analysis.
#[derive(Clone, Debug, PartialEq)]
pub struct ComputedLimits {
    /// Effort (customer share) of the A|B and of the B|C point on the ABC curve.
    pub a_effort: f64,
    pub c_effort: f64,
    /// Whether the break-even point lies left of the Pareto point (then it sets A|B).
    pub exchanged: bool,
    /// Values: A = above `ab_limit`, B = from `bc_limit` to `ab_limit`, C = below `bc_limit`.
    pub ab_limit: Option<f64>,
    pub bc_limit: Option<f64>,
}

/// Computed ABC analysis (Ultsch & Lötsch 2015), reproducing the reference implementation
/// (CRAN package ABCanalysis 1.2.1): the ABC curve of the values (negative values count as 0),
/// interpolated by an FMM cubic spline on a grid of 101 (n ≤ 100) or 1001 points; the Pareto
/// point (closest to (0, 1)), the break-even point (slope 1), and the submarginal point
/// (closest to (Bx, 1), Bx the larger effort of the two). `sorted` is descending.
pub fn computed_limits(sorted: &[f64]) -> ComputedLimits {
    let n = sorted.len();
    let clean: Vec<f64> = sorted.iter().map(|v| v.max(0.0)).collect();
    let total: f64 = {
        let mut s = 0.0;
        for v in &clean {
            s += v;
        }
        s
    };
    let none = ComputedLimits {
        a_effort: 0.0,
        c_effort: 0.0,
        exchanged: false,
        ab_limit: None,
        bc_limit: None,
    };
    if total <= 0.0 || n < 2 {
        // no positive value (the curve is undefined) or a single customer: no A/B split
        return ComputedLimits {
            bc_limit: (n == 1 && total > 0.0).then(|| sorted[0]),
            ..none
        };
    }
    // the curve: effort i/n, yield cumulative share, starting at (0, 0)
    let mut x = Vec::with_capacity(n + 1);
    let mut y = Vec::with_capacity(n + 1);
    x.push(0.0);
    y.push(0.0);
    let mut cum = 0.0;
    for (i, v) in clean.iter().enumerate() {
        cum += v;
        x.push((i + 1) as f64 / n as f64);
        y.push(cum);
    }
    let last = cum;
    for v in y.iter_mut() {
        *v /= last;
    }
    let (count, step) = if n < 101 { (101, 0.01) } else { (1001, 0.001) };
    let p: Vec<f64> = (0..count).map(|i| (i as f64 * step).min(1.0)).collect();
    let (b, c, d) = fmm_spline(&x, &y);
    let mut yield_ = spline_eval(&x, &y, &b, &c, &d, &p, false);
    if let Some(first) = yield_.iter().position(|v| *v >= 1.0) {
        for v in &mut yield_[first..] {
            *v = 1.0;
        }
    }
    let (b2, c2, d2) = fmm_spline(&p, &yield_);
    let at: Vec<f64> = (1..=count).map(|i| i as f64 / count as f64).collect();
    let slope = spline_eval(&p, &yield_, &b2, &c2, &d2, &at, true);
    let argmin = |f: &dyn Fn(usize) -> f64| -> usize {
        let mut best = 0;
        for i in 1..count {
            if f(i) < f(best) {
                best = i;
            }
        }
        best
    };
    let pareto = argmin(&|i| p[i] * p[i] + (yield_[i] - 1.0) * (yield_[i] - 1.0));
    let break_even = argmin(&|i| (slope[i] - 1.0).abs());
    let (a_idx, bx, exchanged) = if p[break_even] < p[pareto] {
        (break_even, p[pareto], true)
    } else {
        (pareto, p[break_even], false)
    };
    let c_idx = argmin(&|i| (p[i] - bx) * (p[i] - bx) + (yield_[i] - 1.0) * (yield_[i] - 1.0));
    let limit = |effort: f64| -> Option<f64> {
        let k = round_half_even(effort * n as f64);
        (k >= 1).then(|| sorted[(k as usize - 1).min(n - 1)])
    };
    ComputedLimits {
        a_effort: p[a_idx],
        c_effort: p[c_idx],
        exchanged,
        ab_limit: limit(p[a_idx]),
        bc_limit: limit(p[c_idx]),
    }
}

fn round_half_even(v: f64) -> i64 {
    let r = v.round();
    if (v - v.trunc()).abs() == 0.5 {
        (2.0 * (v / 2.0).round()) as i64
    } else {
        r as i64
    }
}

/// Coefficients of the FMM cubic spline (Forsythe, Malcolm & Moler), as R's `spline()` /
/// `splinefun()` compute them by default: end conditions match the third derivatives of the
/// cubics through the first and last four points.
pub fn fmm_spline(x: &[f64], y: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = x.len();
    let (mut b, mut c, mut d) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    if n < 2 {
        return (b, c, d);
    }
    if n < 3 {
        b[0] = (y[1] - y[0]) / (x[1] - x[0]);
        b[1] = b[0];
        return (b, c, d);
    }
    let nm1 = n - 1;
    // 0-based transcription of the 1-based original
    d[0] = x[1] - x[0];
    c[1] = (y[1] - y[0]) / d[0];
    for i in 1..nm1 {
        d[i] = x[i + 1] - x[i];
        b[i] = 2.0 * (d[i - 1] + d[i]);
        c[i + 1] = (y[i + 1] - y[i]) / d[i];
        c[i] = c[i + 1] - c[i];
    }
    b[0] = -d[0];
    b[nm1] = -d[n - 2];
    c[0] = 0.0;
    c[nm1] = 0.0;
    if n > 3 {
        c[0] = c[2] / (x[3] - x[1]) - c[1] / (x[2] - x[0]);
        c[nm1] = c[n - 2] / (x[nm1] - x[n - 3]) - c[n - 3] / (x[n - 2] - x[n - 4]);
        c[0] = c[0] * d[0] * d[0] / (x[3] - x[0]);
        c[nm1] = -c[nm1] * d[n - 2] * d[n - 2] / (x[nm1] - x[n - 4]);
    }
    for i in 1..n {
        let t = d[i - 1] / b[i - 1];
        b[i] -= t * d[i - 1];
        c[i] -= t * c[i - 1];
    }
    c[nm1] /= b[nm1];
    for i in (0..nm1).rev() {
        c[i] = (c[i] - d[i] * c[i + 1]) / b[i];
    }
    b[nm1] = (y[nm1] - y[n - 2]) / d[n - 2] + d[n - 2] * (c[n - 2] + 2.0 * c[nm1]);
    for i in 0..nm1 {
        b[i] = (y[i + 1] - y[i]) / d[i] - d[i] * (c[i + 1] + 2.0 * c[i]);
        d[i] = (c[i + 1] - c[i]) / d[i];
        c[i] *= 3.0;
    }
    c[nm1] *= 3.0;
    d[nm1] = d[n - 2];
    (b, c, d)
}

/// Evaluates the spline (or its first derivative) at `u`, walking the knots as R's
/// `spline_eval` does.
pub fn spline_eval(
    x: &[f64],
    y: &[f64],
    b: &[f64],
    c: &[f64],
    d: &[f64],
    u: &[f64],
    derivative: bool,
) -> Vec<f64> {
    let n = x.len();
    let n_1 = n - 1;
    let mut i = 0usize;
    u.iter()
        .map(|&ul| {
            if ul < x[i] || (i < n_1 && x[i + 1] < ul) {
                i = 0;
                let mut j = n;
                loop {
                    let k = (i + j) / 2;
                    if ul < x[k] {
                        j = k;
                    } else {
                        i = k;
                    }
                    if j <= i + 1 {
                        break;
                    }
                }
            }
            let dx = ul - x[i];
            if derivative {
                // splinefun(deriv = 1): y' = b + dx (2c + dx 3d)
                b[i] + dx * (2.0 * c[i] + dx * (3.0 * d[i]))
            } else {
                y[i] + dx * (b[i] + dx * (c[i] + dx * d[i]))
            }
        })
        .collect()
}

/// Concentration statistics of a population of customer values.
#[derive(Clone, Debug, PartialEq)]
pub struct Pareto {
    pub customers: i64,
    /// Sum of the positive values (what shares refer to).
    pub total: f64,
    /// Sum of all values (negative ones included).
    pub net_total: f64,
    /// Share of `total` held by the top 20 % of customers (Lorenz curve at 0.2).
    pub top20_share: f64,
    /// Gini coefficient of the values (negative values count as 0); `None` when total is 0.
    pub gini: Option<f64>,
    /// Classes under the default cut-offs (0.80, 0.95, 'before').
    pub counts: [i64; 3],
    pub shares: [f64; 3],
}

impl Pareto {
    pub fn of(values: &[f64]) -> Option<Pareto> {
        let model = AbcModel::fit(values, AbcMethod::Before, DEFAULT_A_CUT, DEFAULT_B_CUT)?;
        let sorted = sorted_desc(values);
        let n = sorted.len();
        let total = model.total;
        let net_total = sorted.iter().fold(0.0, |a, v| a + v);
        // Gini with values ascending: (2 Σ i x_i) / (n Σ x) − (n + 1) / n
        let gini = (total > 0.0).then(|| {
            let weighted = sorted
                .iter()
                .rev()
                .enumerate()
                .fold(0.0, |a, (i, v)| a + (i + 1) as f64 * v.max(0.0));
            2.0 * weighted / (n as f64 * total) - (n as f64 + 1.0) / n as f64
        });
        let shares = if total > 0.0 {
            [
                model.values[0] / total,
                model.values[1] / total,
                model.values[2] / total,
            ]
        } else {
            [0.0; 3]
        };
        Some(Pareto {
            customers: n as i64,
            total,
            net_total,
            top20_share: curve_at(&sorted, total, 0.2),
            gini,
            counts: model.counts,
            shares,
        })
    }
}

/// The Pareto curve: share of the positive total held by the top `x` share of customers,
/// linear between customers. `sorted` descending.
fn curve_at(sorted: &[f64], total: f64, x: f64) -> f64 {
    let n = sorted.len();
    if total <= 0.0 || n == 0 {
        return 0.0;
    }
    let pos = x * n as f64;
    let whole = (pos.floor() as usize).min(n);
    let head = positive_sum(&sorted[..whole]);
    let part = if whole < n {
        (pos - whole as f64) * sorted[whole].max(0.0)
    } else {
        0.0
    };
    ((head + part) / total).min(1.0)
}

/// `points` evenly spaced points (customer_share, value_share) of the Pareto curve, from (0, 0)
/// to (1, 1) (value share 0 throughout when there is no positive value).
pub fn pareto_curve(values: &[f64], points: usize) -> Vec<(f64, f64)> {
    let sorted = sorted_desc(values);
    let total = positive_sum(&sorted);
    let n = sorted.len();
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0);
    for v in &sorted {
        prefix.push(prefix.last().unwrap() + v.max(0.0));
    }
    (0..points)
        .map(|k| {
            let x = k as f64 / (points - 1) as f64;
            if total <= 0.0 || n == 0 {
                return (x, 0.0);
            }
            let pos = x * n as f64;
            let whole = (pos.floor() as usize).min(n);
            let part = if whole < n {
                (pos - whole as f64) * sorted[whole].max(0.0)
            } else {
                0.0
            };
            (x, ((prefix[whole] + part) / total).min(1.0))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(values: &[f64], method: AbcMethod, a: f64, b: f64) -> String {
        let m = AbcModel::fit(values, method, a, b).unwrap();
        values.iter().map(|v| m.class(*v)).collect()
    }

    #[test]
    fn before_and_including_conventions_by_hand() {
        // total 100; shares of customers above: 0, .5, .7, .8, .9, .95, .97 ...
        let v = [50.0, 20.0, 10.0, 10.0, 5.0, 2.0, 2.0, 1.0];
        // before: A while share above < 0.8: 50 (0), 20 (.5), 10,10 (.7; tie group) -> A
        //         B while < 0.95: 5 (.9) -> B; 2,2 (.95) -> C; 1 -> C
        assert_eq!(classes(&v, AbcMethod::Before, 0.8, 0.95), "AAAABCCC");
        // including: A while share incl. <= 0.8: 50 (.5), 20 (.7) -> A; 10,10 (.9) -> B;
        //            5 (.95) -> B; 2,2 (.99) -> C
        assert_eq!(classes(&v, AbcMethod::Including, 0.8, 0.95), "AABBBCCC");
    }

    #[test]
    fn ties_zero_and_negative_values() {
        let v = [10.0, 10.0, 10.0, 0.0, -5.0];
        // one tie group holds everything: A under 'before'
        assert_eq!(classes(&v, AbcMethod::Before, 0.8, 0.95), "AAACC");
        // under 'including' its share is 1 > 0.95: C
        assert_eq!(classes(&v, AbcMethod::Including, 0.8, 0.95), "CCCCC");
        let only_refunds = [-1.0, 0.0];
        assert_eq!(classes(&only_refunds, AbcMethod::Before, 0.8, 0.95), "CC");
        assert_eq!(AbcModel::fit(&[], AbcMethod::Before, 0.8, 0.95), None);
    }

    #[test]
    fn cuts_are_validated() {
        assert!(check_cuts(0.8, 0.95).is_ok());
        assert!(check_cuts(0.0, 0.95).is_err());
        assert!(check_cuts(0.8, 1.0).is_err());
        assert!(check_cuts(0.95, 0.8).is_err());
        assert!(check_cuts(0.8, 0.8).is_err());
        assert!(check_cuts(f64::NAN, 0.8).is_err());
        assert!(AbcMethod::parse("after").is_err());
    }

    /// Reference outputs of the R package ABCanalysis 1.2.1 (run with R 4.2.2).
    #[test]
    fn computed_abc_matches_the_reference_implementation() {
        let v = [
            100.0, 60.0, 40.0, 25.0, 20.0, 15.0, 12.0, 10.0, 8.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0,
        ];
        let l = computed_limits(&sorted_desc(&v));
        assert_eq!((l.a_effort, l.c_effort, l.exchanged), (0.28, 0.39, false));
        assert_eq!((l.ab_limit, l.bc_limit), (Some(25.0), Some(15.0)));
        assert_eq!(
            classes(&v, AbcMethod::Computed, 0.8, 0.95),
            "AAABBBCCCCCCCCC"
        );

        let v = [0.844, 0.7936, 0.9199, 0.7875];
        let l = computed_limits(&sorted_desc(&v));
        assert!(l.exchanged);
        assert_eq!((l.a_effort, l.c_effort), (0.40, 0.72));
        assert_eq!(classes(&v, AbcMethod::Computed, 0.8, 0.95), "BBAC");

        // R: c(5,3,NA,-2,0,1,8,0.5) -> A = {8}, B = {5, 3}; without the NA (n = 7 here)
        let v = [5.0, 3.0, -2.0, 0.0, 1.0, 8.0, 0.5];
        let l = computed_limits(&sorted_desc(&v));
        assert!(l.ab_limit.is_some());
    }

    #[test]
    fn fmm_spline_interpolates_and_matches_a_cubic() {
        // a cubic is reproduced exactly by the FMM end conditions
        let x: Vec<f64> = (0..8).map(|i| i as f64 * 0.5).collect();
        let y: Vec<f64> = x.iter().map(|t| t * t * t - 2.0 * t + 1.0).collect();
        let (b, c, d) = fmm_spline(&x, &y);
        let u = [0.25, 1.1, 3.3];
        let v = spline_eval(&x, &y, &b, &c, &d, &u, false);
        let dv = spline_eval(&x, &y, &b, &c, &d, &u, true);
        for k in 0..3 {
            let t = u[k];
            assert!((v[k] - (t * t * t - 2.0 * t + 1.0)).abs() < 1e-9);
            assert!((dv[k] - (3.0 * t * t - 2.0)).abs() < 1e-9);
        }
    }

    #[test]
    fn pareto_statistics_by_hand() {
        // 5 customers: 60, 20, 10, 10, 0 -> top 20 % = 1 customer = 60 %
        let p = Pareto::of(&[10.0, 60.0, 0.0, 20.0, 10.0]).unwrap();
        assert_eq!(p.customers, 5);
        assert_eq!(p.total, 100.0);
        assert!((p.top20_share - 0.6).abs() < 1e-12);
        // Gini: ascending 0,10,10,20,60: 2*(0+20+30+80+300)/(5*100) - 6/5 = 1.72 - 1.2 = 0.52
        assert!((p.gini.unwrap() - 0.52).abs() < 1e-12);
        // before: 60 (0) A, 20 (.6) A, 10,10 (.8) B, 0 -> C
        assert_eq!(p.counts, [2, 2, 1]);
        assert!((p.shares[0] - 0.8).abs() < 1e-12);
        let equal = Pareto::of(&[5.0; 10]).unwrap();
        assert!(equal.gini.unwrap().abs() < 1e-12);
        assert!((equal.top20_share - 0.2).abs() < 1e-12);
        assert_eq!(Pareto::of(&[0.0, -1.0]).unwrap().gini, None);
    }

    #[test]
    fn curve_points() {
        let c = pareto_curve(&[60.0, 20.0, 10.0, 10.0, 0.0], 6);
        let want = [
            (0.0, 0.0),
            (0.2, 0.6),
            (0.4, 0.8),
            (0.6, 0.9),
            (0.8, 1.0),
            (1.0, 1.0),
        ];
        for (got, want) in c.iter().zip(want) {
            assert!(
                (got.0 - want.0).abs() < 1e-12 && (got.1 - want.1).abs() < 1e-12,
                "{got:?}"
            );
        }
    }
}

/// The state of the ABC / Pareto aggregates: the population's values and the parameters
/// (which must be the same for all rows of a group).
#[derive(Clone, Debug, PartialEq)]
pub struct AbcPopulation {
    pub method: AbcMethod,
    pub a_cut: f64,
    pub b_cut: f64,
    /// Points of `pareto_curve` (0 for the other aggregates).
    pub points: u32,
    pub values: Vec<f64>,
}

impl AbcPopulation {
    pub fn new(method: AbcMethod, a_cut: f64, b_cut: f64, points: u32) -> Result<Self, CoreError> {
        check_cuts(a_cut, b_cut)?;
        Ok(AbcPopulation {
            method,
            a_cut,
            b_cut,
            points,
            values: Vec::new(),
        })
    }

    pub fn same_params(&self, method: AbcMethod, a_cut: f64, b_cut: f64, points: u32) -> bool {
        self.method == method && self.a_cut == a_cut && self.b_cut == b_cut && self.points == points
    }

    #[inline]
    pub fn add(&mut self, value: f64) -> Result<(), CoreError> {
        if !value.is_finite() {
            return Err(CoreError::InvalidParameter(format!(
                "value must be a finite number, got {value}"
            )));
        }
        self.values.push(value);
        Ok(())
    }

    pub fn merge(&mut self, other: &AbcPopulation) -> Result<(), CoreError> {
        if !self.same_params(other.method, other.a_cut, other.b_cut, other.points) {
            return Err(CoreError::InvalidParameter(
                "cut-offs, convention and points must be the same for all rows of a group".into(),
            ));
        }
        self.values.extend_from_slice(&other.values);
        Ok(())
    }

    pub fn model(&self) -> Option<AbcModel> {
        AbcModel::fit(&self.values, self.method, self.a_cut, self.b_cut)
    }
}
