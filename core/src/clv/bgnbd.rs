//! BG/NBD (Fader, Hardie & Lee 2005): likelihood over arranged patterns, fit, predictions.

use super::*;
use statrs::function::gamma::{digamma, ln_gamma};
use std::collections::HashMap;

/// The BG/NBD: purchases at rate λ ~ Gamma(r, α) while alive, after each purchase a dropout
/// with probability p ~ Beta(a, b).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// Log-likelihood of BG/NBD and its gradient in (r, alpha, a, b) (see [`BgnbdData::ll`]).
pub fn bgnbd_ll(theta: &[f64], data: &[([f64; 3], f64)]) -> (f64, [f64; 4]) {
    BgNbd::from_theta(theta).log_likelihood(data)
}

/// The patterns of one frequency in [`BgnbdData`].
pub(super) struct BgnbdFreq {
    pub(super) x: f64,
    /// the number of customers (sum of the weights)
    pub(super) weight: f64,
    /// ranges of [`BgnbdData::rows`], of [`BgnbdData::tenure_ids`] and of
    /// [`BgnbdData::recency_ids`]
    pub(super) rows: std::ops::Range<usize>,
    pub(super) tenures: std::ops::Range<usize>,
    pub(super) recencies: std::ops::Range<usize>,
}

/// The patterns of a BG/NBD fit arranged for the likelihood, once per fit: grouped by
/// frequency, with the distinct tenures and recencies of each frequency listed, so that
/// ln(α+T), 1/(α+T) and (α+T)^(r+x) are computed once per distinct T or (x, T) and likewise
/// for t_x, not once per pattern (day-resolution data in weeks have a few hundred distinct T
/// and t_x and a few dozen x for hundreds of thousands of patterns).
pub struct BgnbdData {
    pub(super) tenures: Vec<f64>,
    pub(super) recencies: Vec<f64>,
    pub(super) freqs: Vec<BgnbdFreq>,
    /// per frequency, its distinct tenures (indices into `tenures`) and recencies (into
    /// `recencies`)
    pub(super) tenure_ids: Vec<u32>,
    pub(super) recency_ids: Vec<u32>,
    /// per pattern: (index of T in its frequency's tenures, of t_x in its recencies, weight)
    pub(super) rows: Vec<(u32, u32, f64)>,
}

/// The largest |exponent| of the factors (α+T)^(r+x) and (α+t_x)^−(r+x) (scaled, see
/// [`BgnbdData::ll`]) whose product gives the odds of a dropout at t_x: within it the product
/// neither under- nor overflows; frequencies beyond it take the one-exponential-per-pattern
/// path.
pub(super) const BGNBD_TABLE_EXP: f64 = 300.0;

/// The distinct values of T (or t_x) while [`BgnbdData`] is arranged: their global index and
/// their index in the current frequency's list.
#[derive(Default)]
pub(super) struct BgnbdValues {
    /// in the order of first appearance
    pub(super) values: Vec<f64>,
    pub(super) index: HashMap<u64, usize, std::hash::BuildHasherDefault<KeyHasher>>,
    /// per value, its index in the list of a frequency (valid when stamped with that
    /// frequency)
    pub(super) local: Vec<(usize, u32)>,
    /// the last value looked up and its index (sorted data repeat t_x in runs)
    pub(super) last: Option<(u64, usize)>,
}

impl BgnbdValues {
    /// The index of `v` in the list of frequency `freq` (`ids[range]`), appended if new.
    pub(super) fn local(
        &mut self,
        v: f64,
        freq: usize,
        ids: &mut Vec<u32>,
        range: &mut std::ops::Range<usize>,
    ) -> u32 {
        let bits = v.to_bits();
        let id = match self.last {
            Some((b, id)) if b == bits => id,
            _ => {
                let values = &mut self.values;
                let id = *self.index.entry(bits).or_insert_with(|| {
                    values.push(v);
                    values.len() - 1
                });
                self.local.resize(values.len(), (usize::MAX, 0));
                self.last = Some((bits, id));
                id
            }
        };
        let slot = &mut self.local[id];
        if slot.0 != freq {
            *slot = (freq, range.len() as u32);
            ids.push(id as u32);
            range.end += 1;
        }
        slot.1
    }
}

impl BgnbdData {
    /// `interrupt` is called between the steps and every [`CHUNK`] patterns (see
    /// [`PnbdData::new`]).
    pub(super) fn new(data: &[([f64; 3], f64)], interrupt: &mut dyn FnMut()) -> Self {
        let sorted = sorted_patterns(data, interrupt);
        let (mut tenures, mut recencies) = (BgnbdValues::default(), BgnbdValues::default());
        let mut freqs: Vec<BgnbdFreq> = Vec::new();
        let (mut tenure_ids, mut recency_ids) = (Vec::new(), Vec::new());
        let mut rows = Vec::with_capacity(sorted.len());
        for (i, &([x, t_x, t], w)) in sorted.iter().enumerate() {
            if i % CHUNK == CHUNK - 1 {
                interrupt();
            }
            if freqs.last().is_none_or(|f| f.x.to_bits() != x.to_bits()) {
                freqs.push(BgnbdFreq {
                    x,
                    weight: 0.0,
                    rows: i..i,
                    tenures: tenure_ids.len()..tenure_ids.len(),
                    recencies: recency_ids.len()..recency_ids.len(),
                });
            }
            let fi = freqs.len() - 1;
            let f = &mut freqs[fi];
            let ti = tenures.local(t, fi, &mut tenure_ids, &mut f.tenures);
            let txi = recencies.local(t_x, fi, &mut recency_ids, &mut f.recencies);
            f.weight += w;
            f.rows.end = i + 1;
            rows.push((ti, txi, w));
        }
        let (tenures, recencies) = (tenures.values, recencies.values);
        BgnbdData {
            tenures,
            recencies,
            freqs,
            tenure_ids,
            recency_ids,
            rows,
        }
    }

    /// The log-likelihood and its gradient in (r, α, a, b); `interrupt` is called before every
    /// [`CHUNK`] patterns.
    ///
    /// A pattern's likelihood is A₁A₂ (α+T)^−(r+x) (1 + e), where e = a/(b+x−1) ·
    /// ((α+T)/(α+t_x))^(r+x) is the odds of a dropout at t_x against being alive at T (e = 0
    /// when x = 0): its logarithm is ln A₁A₂ − (r+x) ln(α+T) + ln(1+e), and its gradient that
    /// of the first two terms plus e/(1+e) times that of ln e. Within a frequency, e is the
    /// product of a factor per T and one per t_x, both scaled by a power of α+c (ln(α+c) the
    /// middle of the range of ln(α+T) and ln(α+t_x)) to stay within e^±[`BGNBD_TABLE_EXP`];
    /// this leaves one logarithm and one division per pattern, and the sums over the patterns
    /// of a frequency are combined with its constants once.
    pub(super) fn ll(&self, theta: &[f64], interrupt: &mut dyn FnMut()) -> (f64, [f64; 4]) {
        let BgNbd { r, alpha, a, b } = BgNbd::from_theta(theta);
        let (lg_r, lg_ab, lg_b) = (ln_gamma(r), ln_gamma(a + b), ln_gamma(b));
        let (dg_r, dg_ab, dg_b) = (digamma(r), digamma(a + b), digamma(b));
        let (ln_alpha, ln_a) = (alpha.ln(), a.ln());
        let d_al1 = r / alpha;
        // ln(α+v) and 1/(α+v) per distinct tenure and recency
        let at = |v: &f64| ((alpha + v).ln(), 1.0 / (alpha + v));
        let l_t: Vec<(f64, f64)> = self.tenures.iter().map(at).collect();
        let l_tx: Vec<(f64, f64)> = self.recencies.iter().map(at).collect();
        let (lo, hi) = l_t
            .iter()
            .chain(&l_tx)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v.0), hi.max(v.0))
            });
        let (centre, half) = (0.5 * (lo + hi), 0.5 * (hi - lo));
        // the current frequency's (factor, ln(α+v), 1/(α+v)) per distinct tenure and recency
        let mut ft: Vec<[f64; 3]> = Vec::new();
        let mut ftx: Vec<[f64; 3]> = Vec::new();
        let mut ll = 0.0;
        let mut g = [0.0; 4];
        let mut done = 0usize;
        for f in &self.freqs {
            let x = f.x;
            let rx = r + x;
            // differences of ln Γ and ψ, stable where the arguments are huge (the ridge
            // a, b → ∞ with a/b fixed, or r, α → ∞)
            let (lr, dr) = ln_gamma_diff(r, x, lg_r, dg_r);
            let (lb, db) = ln_gamma_diff(b, x, lg_b, dg_b);
            let (lab, dab) = ln_gamma_diff(a + b, x, lg_ab, dg_ab);
            let a1 = lr + r * ln_alpha;
            let a2 = lb - lab;
            let d_r1 = dr + ln_alpha;
            let d_a2 = -dab;
            let d_b2 = db - dab;
            // ln e = k + (r+x)(ln(α+T) − ln(α+t_x)) when x > 0
            let (ln_bx1, inv_bx1) = ((b + x - 1.0).ln(), 1.0 / (b + x - 1.0));
            let k = ln_a - ln_bx1;
            let table = x > 0.0 && k.abs() + rx * half <= BGNBD_TABLE_EXP;
            ft.clear();
            ft.extend(self.tenure_ids[f.tenures.clone()].iter().map(|&i| {
                let (l, inv) = l_t[i as usize];
                let e = if table {
                    (k + rx * (l - centre)).exp()
                } else {
                    0.0
                };
                [e, l, inv]
            }));
            ftx.clear();
            ftx.extend(self.recency_ids[f.recencies.clone()].iter().map(|&i| {
                let (l, inv) = l_tx[i as usize];
                let e = if table {
                    (rx * (centre - l)).exp()
                } else {
                    0.0
                };
                [e, l, inv]
            }));
            // Σ w ln(1+e), Σ w ln(α+T), Σ w/(α+T), Σ w e/(1+e), and the latter times
            // ln(α+T) − ln(α+t_x) and 1/(α+t_x) − 1/(α+T)
            let mut s = [0.0; 6];
            for &(ti, txi, w) in &self.rows[f.rows.clone()] {
                if done.is_multiple_of(CHUNK) {
                    interrupt();
                }
                done += 1;
                let [pt, lt, it] = ft[ti as usize];
                s[1] += w * lt;
                s[2] += w * it;
                if x > 0.0 {
                    let [ptx, ltx, itx] = ftx[txi as usize];
                    let (l1, w4) = if table {
                        let e = pt * ptx;
                        let s1 = 1.0 + e;
                        (s1.ln(), e / s1)
                    } else {
                        // ln(1+e) and e/(1+e) with one exponential that cannot overflow
                        let d = k + rx * (lt - ltx);
                        if d <= 0.0 {
                            let e = d.exp();
                            (e.ln_1p(), e / (1.0 + e))
                        } else {
                            let e = (-d).exp();
                            (d + e.ln_1p(), 1.0 / (1.0 + e))
                        }
                    };
                    s[0] += w * l1;
                    s[3] += w * w4;
                    s[4] += w * w4 * (lt - ltx);
                    s[5] += w * w4 * (itx - it);
                }
            }
            let wx = f.weight;
            ll += wx * (a1 + a2) - rx * s[1] + s[0];
            g[0] += wx * d_r1 - s[1] + s[4];
            g[1] += wx * d_al1 - rx * (s[2] + s[5]);
            g[2] += wx * d_a2;
            g[3] += wx * d_b2;
            if x > 0.0 {
                g[2] += s[3] / a;
                g[3] -= inv_bx1 * s[3];
            }
        }
        (ll, g)
    }
}

/// Fits BG/NBD to weighted (frequency, recency, tenure) patterns ([`fit_purchases`]).
pub fn bgnbd_fit(
    data: &[([f64; 3], f64)],
    penalizer: f64,
    interrupt: &mut dyn FnMut(),
) -> Result<Fit, CoreError> {
    fit_purchases::<BgNbd>(data, penalizer, interrupt)
}

/// How far along the ridge a, b → ∞ (in ln a and ln b) [`bgnbd_fit`] looks for a likelihood
/// at least as high before it calls a maximum converged.
pub const BGNBD_RIDGE_STEP: f64 = 4.0;

/// P(alive | x, t_x, T) under BG/NBD.
pub fn bgnbd_p_alive(theta: &[f64], x: f64, t_x: f64, t: f64) -> f64 {
    BgNbd::from_theta(theta).p_alive(x, t_x, t)
}

/// Expected purchases in the next `horizon` of a customer with (x, t_x, T) (FHL 2005, eq. 10).
pub fn bgnbd_expected(theta: &[f64], horizon: f64, x: f64, t_x: f64, t: f64) -> f64 {
    BgNbd::from_theta(theta).expected_purchases(horizon, x, t_x, t)
}

/// Expected purchases of a new customer in `horizon` (FHL 2005, eq. 7).
pub fn bgnbd_expected_new(theta: &[f64], horizon: f64) -> f64 {
    BgNbd::from_theta(theta).expected_purchases_new(horizon)
}

impl PurchaseProcess for BgNbd {
    const FIT_NAME: &'static str = "bgnbd_fit";
    const NAMES: [&'static str; 4] = ["r", "alpha", "a", "b"];
    type Arranged<'a> = BgnbdData;

    fn from_theta(theta: &[f64]) -> Self {
        let [r, alpha, a, b] = theta[..4].try_into().expect("four parameters");
        BgNbd { r, alpha, a, b }
    }

    fn to_theta(&self) -> [f64; 4] {
        [self.r, self.alpha, self.a, self.b]
    }

    fn arrange(data: &[([f64; 3], f64)], interrupt: &mut dyn FnMut()) -> BgnbdData {
        BgnbdData::new(data, interrupt)
    }

    fn arranged_log_likelihood(
        &self,
        data: &BgnbdData,
        interrupt: &mut dyn FnMut(),
    ) -> (f64, [f64; 4]) {
        data.ll(&self.to_theta(), interrupt)
    }

    fn log_likelihood(&self, data: &[([f64; 3], f64)]) -> (f64, [f64; 4]) {
        BgnbdData::new(data, &mut || {}).ll(&self.to_theta(), &mut || {})
    }

    fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        if x == 0.0 {
            return 1.0;
        }
        let BgNbd { r, alpha, a, b } = *self;
        let ln_odds =
            a.ln() - (b + x - 1.0).ln() + (r + x) * ((alpha + t).ln() - (alpha + t_x).ln());
        1.0 / (1.0 + ln_odds.exp())
    }

    fn expected_purchases(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let z = horizon / (alpha + t + horizon);
        let head = (a + b + x - 1.0) / (a - 1.0);
        let body = 1.0
            - ((alpha + t) / (alpha + t + horizon)).powf(r + x)
                * hyp2f1(r + x, b + x, a + b + x - 1.0, z);
        let denom = if x > 0.0 {
            1.0 + a / (b + x - 1.0) * ((alpha + t) / (alpha + t_x)).powf(r + x)
        } else {
            1.0
        };
        head * body / denom
    }

    fn expected_purchases_new(&self, horizon: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        (a + b - 1.0) / (a - 1.0)
            * (1.0
                - (alpha / (alpha + horizon)).powf(r)
                    * hyp2f1(r, b, a + b - 1.0, horizon / (alpha + horizon)))
    }

    /// a, b → ∞ with a/b fixed (a common dropout probability) is a ridge along which the
    /// likelihood can rise to its supremum: no proper maximum where it is at least as high
    /// further out (a, b times e^[`BGNBD_RIDGE_STEP`]).
    fn beyond_ridge(problem: &FitProblem<'_>, min: &Minimum) -> bool {
        let m = BgNbd::from_theta(&min.theta);
        let far = BgNbd {
            a: m.a * BGNBD_RIDGE_STEP.exp(),
            b: m.b * BGNBD_RIDGE_STEP.exp(),
            ..m
        };
        let here = (problem.ll)(&min.theta).0;
        let lfar = (problem.ll)(&far.to_theta()).0;
        !(lfar.is_finite() && lfar < here)
    }
}
