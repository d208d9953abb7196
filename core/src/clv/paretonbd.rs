//! Pareto/NBD (Schmittlein, Morrison & Colombo 1987; Fader, Hardie & Lee 2005): likelihood
//! over arranged patterns with bounded work per pattern, its BFGS with ridge jumps, fit and
//! predictions.

use super::*;
use statrs::function::gamma::{digamma, ln_gamma};

/// Patterns per chunk of the Pareto/NBD likelihood: one pattern sums two ₂F₁ series or a
/// quadrature of bounded work ([`PNBD_MAX_WORK`]), so query cancel is checked before every 16
/// patterns of every evaluation (issue 18: with 4096 it came once every ~9 s on 1000 patterns).
/// The per-frequency constants are shared across chunks (see [`PnbdData`]).
pub const PARETONBD_CHUNK: usize = 16;

/// The likelihood of the Pareto/NBD ([`paretonbd_ll`]) sums a series for the ₂F₁ term at a
/// point when it needs at most this many terms ([`PnbdX::series_at`]): its series takes its
/// coefficients from a table shared by all points of a frequency (no division per term) and
/// sums four terms a step. Beyond, the term is the one at the next larger point plus the
/// integral between the two ([`PnbdData::terms`]), a few Gauss–Legendre nodes of a few
/// transcendental functions each when the points are close: about the cost of 100 series
/// terms (measured on the reproduction, CDNOW and simulated data).
pub const PNBD_LL_SERIES_TERMS: f64 = 100.0;

/// Per-parameter constants of the Pareto/NBD likelihood.
///
/// The likelihood of one customer is written as Γ(r+x)/Γ(r) α^−x · (b1 + b2) with
/// b1 = (1+T/α)^−(r+x) (1+T/β)^−s (alive at T) and b2 = s α^(r+x) β^s ∫_{t_x}^T
/// (α+τ)^−(r+x) (β+τ)^−(s+1) dτ (died in (t_x, T)), i.e. FHL's form multiplied out by
/// α^(r+x) β^s: every quantity stays of order one along the ridge s, β → ∞ with s/β fixed
/// (where the model tends to an NBD with a common exponential lifetime), instead of the
/// difference s ln β − s ln(β+T) of two huge numbers.
pub(super) struct PnbdConst {
    pub(super) r: f64,
    pub(super) alpha: f64,
    pub(super) s: f64,
    pub(super) beta: f64,
    pub(super) alpha_ge: bool,
    /// ln(min(α, β)/max(α, β)) <= 0
    pub(super) ln_ratio: f64,
    /// ln(s/β)
    pub(super) ln_mu: f64,
    /// |α − β| and ln(|α − β| / max(α, β)) (the argument z of the ₂F₁ at y = 0)
    pub(super) gap: f64,
    pub(super) ln_z0: f64,
    pub(super) lg_r: f64,
    pub(super) dg_r: f64,
}

impl PnbdConst {
    pub(super) fn new(theta: &[f64]) -> Self {
        let ParetoNbd { r, alpha, s, beta } = ParetoNbd::from_theta(theta);
        let alpha_ge = alpha >= beta;
        let (lo, hi) = if alpha_ge {
            (beta, alpha)
        } else {
            (alpha, beta)
        };
        // ln(1 + (lo−hi)/hi) near 1; below 1/2 the argument lo/hi − 1 would have lost the
        // digits of a small lo/hi (and −1 itself for lo/hi < 1e-16: −∞)
        let q = lo / hi;
        let ln_ratio = if q >= 0.5 {
            ((lo - hi) / hi).ln_1p()
        } else if q >= f64::MIN_POSITIVE {
            q.ln()
        } else {
            lo.ln() - hi.ln()
        };
        PnbdConst {
            r,
            alpha,
            s,
            beta,
            alpha_ge,
            ln_ratio,
            ln_mu: s.ln() - beta.ln(),
            gap: (alpha - beta).abs(),
            ln_z0: (-alpha.min(beta) / alpha.max(beta)).ln_1p(),
            lg_r: 0.0,
            dg_r: 0.0,
        }
    }

    pub(super) fn max(&self) -> f64 {
        self.alpha.max(self.beta)
    }

    /// The quantities of b1 that depend on T only: ln(1+T/α), ln(1+T/β), T/(α(α+T)),
    /// T/(β(β+T)).
    pub(super) fn tenure(&self, t: f64) -> [f64; 4] {
        let (a, b) = (self.alpha, self.beta);
        [
            (t / a).ln_1p(),
            (t / b).ln_1p(),
            t / (a * (a + t)),
            t / (b * (b + t)),
        ]
    }
}

/// One term F(z(y)) · P(y) of FHL's A0 (F = ₂F₁(r+s+x, b; r+s+x+1; z)) with ln P (scaled as
/// in [`PnbdConst`]), F, ∂(F P)/∂θ / P and the series terms summed.
#[derive(Clone, Copy, Default)]
pub(super) struct PnbdTerm {
    pub(super) lp: f64,
    pub(super) f: f64,
    pub(super) d: [f64; 4],
    pub(super) work: usize,
}

/// Per-frequency constants of the Pareto/NBD likelihood, with the coefficients of the ₂F₁
/// series (which depend on x and θ but not on z), computed as far as a series needs them.
pub(super) struct PnbdX {
    pub(super) rx: f64,
    pub(super) rsx: f64,
    /// b of the ₂F₁: s + 1 if α >= β, else r + x
    pub(super) bb: f64,
    /// b ln(1 + (N−4)/(a+1)), N = [`PNBD_LL_SERIES_TERMS`]: the least fall (in ln) of the
    /// product in the terms of Euler's series over its first N−4 terms (see [`Self::series_at`])
    pub(super) euler_fall: f64,
    /// the series of F = ₂F₁(a, b; a+1; z), per term k: the ratio t_(k+1)/(t_k z),
    /// Σ_{j<=k} 1/(b+j), (k+1)/(a (a+k+1)), k+1
    pub(super) coef: Vec<[f64; 4]>,
    /// Euler's series of G = ₂F₁(1, e; a+1; z), e = a+1−b, per term k: the ratio
    /// g_(k+1)/(g_k z) = (e+k)/(a+1+k), Σ_{j<=k} 1/(e+j), Σ_{j<=k} b/((e+j)(a+1+j)), k+1
    pub(super) euler: Vec<[f64; 4]>,
}

/// Which series [`PnbdX::hyp2f1`] sums at a point.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum PnbdSeries {
    /// the series of F itself
    Direct,
    /// Euler's transformation F = (1−z)^(1−b) ₂F₁(1, a+1−b; a+1; z)
    Euler,
}

impl PnbdX {
    pub(super) fn new(c: &PnbdConst, x: f64) -> Self {
        let rx = c.r + x;
        let rsx = rx + c.s;
        let bb = if c.alpha_ge { c.s + 1.0 } else { rx };
        PnbdX {
            rx,
            rsx,
            bb,
            euler_fall: bb * ((PNBD_LL_SERIES_TERMS - 4.0) / (rsx + 1.0)).ln_1p(),
            coef: Vec::new(),
            euler: Vec::new(),
        }
    }

    /// [`Self::series_at`] at recency t_x.
    pub(super) fn series(&self, c: &PnbdConst, t_x: f64) -> Option<PnbdSeries> {
        self.series_at(c, (t_x / c.max()).ln_1p())
    }

    /// The series that sums the ₂F₁ at y to 1e-17 within [`PNBD_LL_SERIES_TERMS`] terms, if
    /// any, given `l_y` = ln(1 + y/max(α, β)) (ln z = ln(|α−β|/max) − l_y, z/(1−z) =
    /// |α−β|/(min(α, β)+y)). Where b >= 1 Euler's: its terms g_k = z^k Π_{j<k} (1 −
    /// b/(a+1+j)) fall at least as fast as the direct series' and are at most z^k (1 +
    /// k/(a+1))^−b (ln(1−u) <= −u and Σ_{j<k} 1/(a+1+j) >= ln(1 + k/(a+1))), so at most 1e-17
    /// (e^−39.2) once k (−ln z) + b ln(1 + k/(a+1)) >= 39.2, checked at k = N−4 (the series
    /// stops at a multiple of four terms). Else (b < 1) the direct series where
    /// [`hyp2f1_a1_series_terms`] estimates it short enough.
    pub(super) fn series_at(&self, c: &PnbdConst, l_y: f64) -> Option<PnbdSeries> {
        if c.gap == 0.0 {
            return Some(PnbdSeries::Direct);
        }
        if self.bb >= 1.0 {
            return ((PNBD_LL_SERIES_TERMS - 4.0) * (l_y - c.ln_z0) + self.euler_fall >= 39.2)
                .then_some(PnbdSeries::Euler);
        }
        let direct = 40.0 / (l_y - c.ln_z0) + 3.0;
        (direct <= PNBD_LL_SERIES_TERMS).then_some(PnbdSeries::Direct)
    }

    /// Extends a table of coefficients by 32 terms (at most [`PNBD_SERIES_MAX_TERMS`]); false
    /// when it is complete.
    fn extend(&mut self, series: PnbdSeries) -> bool {
        let (a, b) = (self.rsx, self.bb);
        let table = match series {
            PnbdSeries::Direct => &mut self.coef,
            PnbdSeries::Euler => &mut self.euler,
        };
        let k0 = table.len();
        if k0 == PNBD_SERIES_MAX_TERMS {
            return false;
        }
        let e = a + 1.0 - b;
        for k in k0..(k0 + 32).min(PNBD_SERIES_MAX_TERMS) {
            let kf = k as f64;
            let last = table.last().copied().unwrap_or([0.0; 4]);
            table.push(match series {
                PnbdSeries::Direct => {
                    let inv_c = 1.0 / (a + 1.0 + kf);
                    [
                        (a + kf) * (b + kf) * inv_c / (kf + 1.0),
                        last[1] + 1.0 / (b + kf),
                        (kf + 1.0) * inv_c / a,
                        kf + 1.0,
                    ]
                }
                PnbdSeries::Euler => {
                    let (inv_e, inv_c) = (1.0 / (e + kf), 1.0 / (a + 1.0 + kf));
                    [
                        (e + kf) * inv_c,
                        last[1] + inv_e,
                        last[2] + b * inv_e * inv_c,
                        kf + 1.0,
                    ]
                }
            });
        }
        true
    }

    /// ₂F₁(a, b; a+1; z) with a = r+s+x by a series (at most [`PNBD_SERIES_MAX_TERMS`]
    /// terms) and the terms summed: for the direct series F, ∂F/∂a (c = a+1 moving with a),
    /// ∂F/∂b and ∂F/∂z; for Euler's, G = ₂F₁(1, e; a+1; z) (e = a+1−b), ∂G/∂a = Σ g_k Σ_{j<k}
    /// b/((e+j)(a+1+j)), ∂G/∂b = −Σ g_k Σ_{j<k} 1/(e+j) and ∂G/∂z (F = (1−z)^(1−b) G, see
    /// [`Self::term`]). One division-free pass over the coefficients; the direct series makes
    /// the same sums as [`hyp2f1_series`] (to a multiple of four terms). For z in [0, 1) (as in
    /// the likelihood) every term of both is positive.
    pub(super) fn hyp2f1(&mut self, series: PnbdSeries, z: f64) -> ([f64; 4], usize) {
        let (a, b) = (self.rsx, self.bb);
        let (mut t, mut f, mut fa, mut fb, mut fz) = (1.0, 1.0, 0.0, 0.0, 0.0);
        let mut k = 0;
        'sum: loop {
            // the coefficients are extended 32 at a time, outside of the summing loop (which
            // then keeps its sums in registers)
            let len = match series {
                PnbdSeries::Direct => self.coef.len(),
                PnbdSeries::Euler => self.euler.len(),
            };
            if k == len && !self.extend(series) {
                break;
            }
            let table = match series {
                PnbdSeries::Direct => &self.coef,
                PnbdSeries::Euler => &self.euler,
            };
            // four terms a step: t_(k+j) = t_k (c_k … c_(k+j−1)) shortens the chain of
            // dependent multiplications and additions (the table grows by multiples of 4)
            for quad in table[k..].chunks_exact(4) {
                let c0 = quad[0][0] * z;
                let c01 = c0 * (quad[1][0] * z);
                let c23 = (quad[2][0] * z) * (quad[3][0] * z);
                let t1 = t * c0;
                let t2 = t * c01;
                let t3 = t2 * (quad[2][0] * z);
                let t4 = t * (c01 * c23);
                f += (t1 + t2) + (t3 + t4);
                fb += (t1 * quad[0][1] + t2 * quad[1][1]) + (t3 * quad[2][1] + t4 * quad[3][1]);
                fa += (t1 * quad[0][2] + t2 * quad[1][2]) + (t3 * quad[2][2] + t4 * quad[3][2]);
                fz += (t1 * quad[0][3] + t2 * quad[1][3]) + (t3 * quad[2][3] + t4 * quad[3][3]);
                t = t4;
                k += 4;
                if t <= 1e-17 * f {
                    break 'sum;
                }
            }
        }
        let fz = if z > 0.0 {
            fz / z
        } else {
            match series {
                PnbdSeries::Direct => a * b / (a + 1.0),
                PnbdSeries::Euler => (a + 1.0 - b) / (a + 1.0),
            }
        };
        match series {
            PnbdSeries::Direct => ([f, fa, fb, fz], k),
            PnbdSeries::Euler => ([f, fa, -fb, fz], k),
        }
    }

    /// The argument z = |α−β|/(max(α, β)+y) of the ₂F₁ of the term of A0 at y.
    pub(super) fn z_at(&self, c: &PnbdConst, y: f64) -> f64 {
        c.gap / (c.max() + y)
    }

    /// The term of A0 at y (y = t_x or T) by `series`, given `l_y` = ln(1 + y/max(α, β)) and
    /// `l_min` = ln(1 + y/min(α, β)).
    ///
    /// By Euler's series the term is G e^lp with G = ₂F₁(1, a+1−b; a+1; z) and lp = ln P +
    /// (1−b) ln(1−z), 1−z = (min+y)/(max+y), in closed form: −(r+x) ln(1+y/α) − s ln(1+y/β)
    /// if α >= β, else ln(α/β) − (s+1) ln(1+y/β) − (r+x−1) ln(1+y/α) (no cancellation between
    /// ln P and ln (1−z)^(1−b), each huge where α/β or β/α is); its gradient is that of G plus
    /// G times that of lp.
    pub(super) fn term(
        &mut self,
        c: &PnbdConst,
        series: PnbdSeries,
        y: f64,
        l_y: f64,
        l_min: f64,
    ) -> PnbdTerm {
        let (rx, rsx, s) = (self.rx, self.rsx, c.s);
        let ([f, fa, fb, fz], work) = self.hyp2f1(series, self.z_at(c, y));
        let (lp, d) = match (series, c.alpha_ge) {
            (PnbdSeries::Direct, true) => {
                let base = c.alpha + y;
                (
                    -rsx * l_y + s * c.ln_ratio,
                    [
                        fa - f * l_y,
                        fz * (y + c.beta) / (base * base) + f * (rx / c.alpha - rsx / base),
                        fa + fb + f * (c.ln_ratio - l_y),
                        -fz / base + f * s / c.beta,
                    ],
                )
            }
            (PnbdSeries::Direct, false) => {
                let base = c.beta + y;
                (
                    -rsx * l_y + rx * c.ln_ratio,
                    [
                        fa + fb + f * (c.ln_ratio - l_y),
                        -fz / base + f * rx / c.alpha,
                        fa - f * l_y,
                        fz * (y + c.alpha) / (base * base) + f * (s / c.beta - rsx / base),
                    ],
                )
            }
            (PnbdSeries::Euler, true) => {
                // b = s + 1, z = (α−β)/(α+y)
                let base = c.alpha + y;
                (
                    -rx * l_y - s * l_min,
                    [
                        fa - f * l_y,
                        fz * (y + c.beta) / (base * base) + f * (rx / c.alpha - rx / base),
                        fa + fb - f * l_min,
                        -fz / base + f * (s / c.beta - s / (c.beta + y)),
                    ],
                )
            }
            (PnbdSeries::Euler, false) => {
                // b = r + x, z = (β−α)/(β+y)
                let base = c.beta + y;
                (
                    c.ln_ratio - (s + 1.0) * l_y - (rx - 1.0) * l_min,
                    [
                        fa + fb - f * l_min,
                        -fz / base + f * (rx / c.alpha - (rx - 1.0) / (c.alpha + y)),
                        fa - f * l_y,
                        fz * (y + c.alpha) / (base * base) + f * (s / c.beta - (s + 1.0) / base),
                    ],
                )
            }
        };
        PnbdTerm { lp, f, d, work }
    }

    /// ln b1 and its gradient from [`PnbdConst::tenure`].
    pub(super) fn b1(&self, c: &PnbdConst, tq: &[f64; 4]) -> (f64, [f64; 4]) {
        (
            -self.rx * tq[0] - c.s * tq[1],
            [-tq[0], self.rx * tq[2], -tq[1], c.s * tq[3]],
        )
    }

    /// ln(b1 + b2), its gradient and P(alive) = b1/(b1 + b2) by the series: b2 is FHL's
    /// s/(r+s+x) · A0, A0 the difference of the terms at t_x (`t1`) and T (`t2`).
    pub(super) fn combine(
        &self,
        c: &PnbdConst,
        (ln_b1, db1): (f64, [f64; 4]),
        t1: &PnbdTerm,
        t2: &PnbdTerm,
    ) -> (f64, [f64; 4], f64) {
        let (rx, rsx, s) = (self.rx, self.rsx, c.s);
        // scale every quantity by e^−m against underflow; ratios are unaffected
        let m = ln_b1.max(t1.lp);
        let b1 = (ln_b1 - m).exp();
        let (p1, p2) = ((t1.lp - m).exp(), (t2.lp - m).exp());
        let a0 = t1.f * p1 - t2.f * p2;
        let k = s / rsx;
        let sum = b1 + k * a0;
        let inv = 1.0 / sum;
        let da0: [f64; 4] = std::array::from_fn(|i| t1.d[i] * p1 - t2.d[i] * p2);
        let d = [
            (db1[0] * b1 - s / (rsx * rsx) * a0 + k * da0[0]) * inv,
            (db1[1] * b1 + k * da0[1]) * inv,
            (db1[2] * b1 + rx / (rsx * rsx) * a0 + k * da0[2]) * inv,
            (db1[3] * b1 + k * da0[3]) * inv,
        ];
        (m + sum.ln(), d, b1 * inv)
    }

    /// ln(b1 + b2), its gradient, P(alive) and the work by the integral over (t_x, T)
    /// ([`power_integral`]: no cancellation between the two terms, bounded work).
    pub(super) fn quadrature(
        &self,
        c: &PnbdConst,
        (ln_b1, db1): (f64, [f64; 4]),
        t_x: f64,
        t: f64,
    ) -> (f64, [f64; 4], f64, usize) {
        if t <= t_x {
            // nothing died in an empty interval: b2 = 0
            return (ln_b1, db1, 1.0, 0);
        }
        let pi = power_integral_scaled(self.rx, c.alpha, c.s + 1.0, c.beta, t_x, t);
        let ln_b2 = c.ln_mu + pi.ln_j();
        let m = ln_b1.max(ln_b2);
        let (b1, b2) = ((ln_b1 - m).exp(), (ln_b2 - m).exp());
        let sum = b1 + b2;
        let (w1, w2) = (b1 / sum, b2 / sum);
        let g = pi.grad_j;
        let db2 = [g[0], g[1], 1.0 / c.s + g[2], g[3] - 1.0 / c.beta];
        let d = std::array::from_fn(|i| w1 * db1[i] + w2 * db2[i]);
        (m + sum.ln(), d, w1, pi.nodes)
    }
}

/// One pattern of the Pareto/NBD: ln(b1 + b2) (see [`PnbdConst`]; the log-likelihood of the
/// pattern is ln Γ(r+x) − ln Γ(r) − x ln α + ln(b1 + b2)), its gradient in (r, α, s, β), the
/// share b1/(b1 + b2) (P(alive)) and the work done (series terms or quadrature nodes).
///
/// b2 is FHL's s/(r+s+x) · A0, a difference of two ₂F₁(r+s+x, ·; r+s+x+1; z) terms: it is
/// computed so by the series when both are short (the common case), else as the integral
/// over (t_x, T) by [`power_integral`] (no cancellation between the two terms, bounded work).
pub(super) fn paretonbd_pattern(
    theta: &[f64],
    x: f64,
    t_x: f64,
    t: f64,
) -> (f64, [f64; 4], f64, usize) {
    let c = PnbdConst::new(theta);
    let mut px = PnbdX::new(&c, x);
    let tq = c.tenure(t);
    let b1 = px.b1(&c, &tq);
    if let Some(s1) = px.series(&c, t_x) {
        let (l_max, l_min) = if c.alpha_ge {
            (tq[0], tq[1])
        } else {
            (tq[1], tq[0])
        };
        // the series at T (z smaller) is at most as long
        let s2 = px.series_at(&c, l_max).unwrap_or(s1);
        let m = c.alpha.min(c.beta);
        let t1 = px.term(&c, s1, t_x, (t_x / c.max()).ln_1p(), (t_x / m).ln_1p());
        let t2 = px.term(&c, s2, t, l_max, l_min);
        let (l, d, alive) = px.combine(&c, b1, &t1, &t2);
        return (l, d, alive, t1.work + t2.work);
    }
    px.quadrature(&c, b1, t_x, t)
}

/// The patterns of a Pareto/NBD fit arranged for the likelihood: sorted by (x, t_x, T), with
/// the distinct tenures indexed and, per frequency, the distinct recencies and tenures
/// ("points" y) of its patterns with t_x < T, so that the quantities that depend on T only,
/// and the ₂F₁ term of A0 at each point of a frequency, are computed once per evaluation (see
/// [`PnbdData::terms`]).
pub struct PnbdData {
    pub(super) tenures: Vec<f64>,
    pub(super) freqs: Vec<PnbdFreq>,
    /// the points of each frequency, ascending, frequency after frequency
    pub(super) points: Vec<f64>,
    /// the index in `tenures` of each point, `usize::MAX` for one that is no tenure
    pub(super) point_tenures: Vec<usize>,
    /// the distinct values of all points and tenures, ascending, and the index of each point
    /// and tenure in it (the logarithms of 1 + y/α and 1 + y/β are computed once per value)
    pub(super) values: Vec<f64>,
    pub(super) point_values: Vec<usize>,
    pub(super) tenure_values: Vec<usize>,
    pub(super) rows: Vec<PnbdRow>,
}

/// One frequency of [`PnbdData`]: x and its ranges of rows and points.
pub(super) struct PnbdFreq {
    pub(super) x: f64,
    pub(super) rows: std::ops::Range<usize>,
    pub(super) points: std::ops::Range<usize>,
}

/// One pattern of [`PnbdData`]: the indices of t_x and T in the points of its frequency
/// (`NO_POINT` where t_x = T: then nothing died in the empty interval and b2 = 0), of T in the
/// tenures, and its weight.
#[derive(Clone, Copy)]
pub(super) struct PnbdRow {
    pub(super) p1: usize,
    pub(super) p2: usize,
    pub(super) tenure: usize,
    pub(super) w: f64,
}

pub(super) const NO_POINT: usize = usize::MAX;

impl PnbdData {
    /// `interrupt` is called between the steps and every [`CHUNK`] patterns: with a million
    /// patterns the arrangement takes tens of milliseconds, and a query cancel must not wait
    /// for it. Patterns that arrive sorted (as the SQL aggregates pass them) are not sorted
    /// again.
    pub(super) fn new(data: &[([f64; 3], f64)], interrupt: &mut dyn FnMut()) -> Self {
        let sorted = sorted_patterns(data, interrupt);
        let sorted: &[([f64; 3], f64)] = &sorted;
        let mut tenures: Vec<f64> = data.iter().map(|d| d.0[2]).collect();
        tenures.sort_unstable_by(f64::total_cmp);
        tenures.dedup_by(|a, b| a.to_bits() == b.to_bits());
        interrupt();
        let tenure_of = |t: f64| tenures.binary_search_by(|v| v.total_cmp(&t));
        let mut freqs = Vec::new();
        let mut points = Vec::with_capacity(sorted.len());
        let mut point_tenures = Vec::with_capacity(sorted.len());
        let mut rows = Vec::with_capacity(sorted.len());
        let mut first = 0;
        let mut done = 0;
        while first < sorted.len() {
            let x = sorted[first].0[0];
            let end = first
                + sorted[first..]
                    .iter()
                    .position(|d| d.0[0].to_bits() != x.to_bits())
                    .unwrap_or(sorted.len() - first);
            let p0 = points.len();
            points.extend(
                sorted[first..end]
                    .iter()
                    .filter(|d| d.0[1] < d.0[2])
                    .flat_map(|d| [d.0[1], d.0[2]]),
            );
            points[p0..].sort_unstable_by(f64::total_cmp);
            let mut last = f64::NAN;
            let mut k = p0;
            for i in p0..points.len() {
                if points[i].to_bits() != last.to_bits() {
                    last = points[i];
                    points[k] = last;
                    k += 1;
                }
            }
            points.truncate(k);
            point_tenures.extend(
                points[p0..]
                    .iter()
                    .map(|&y| tenure_of(y).unwrap_or(usize::MAX)),
            );
            let find = |v: f64| {
                p0 + points[p0..]
                    .binary_search_by(|p| p.total_cmp(&v))
                    .unwrap_or_default()
            };
            for &([_, t_x, t], w) in &sorted[first..end] {
                if done % CHUNK == CHUNK - 1 {
                    interrupt();
                }
                done += 1;
                let (p1, p2) = if t_x < t {
                    (find(t_x), find(t))
                } else {
                    (NO_POINT, NO_POINT)
                };
                rows.push(PnbdRow {
                    p1,
                    p2,
                    tenure: tenure_of(t).unwrap_or_default(),
                    w,
                });
            }
            freqs.push(PnbdFreq {
                x,
                rows: first..end,
                points: p0..points.len(),
            });
            first = end;
        }
        interrupt();
        let mut values: Vec<f64> = points.iter().chain(&tenures).copied().collect();
        values.sort_unstable_by(f64::total_cmp);
        values.dedup_by(|a, b| a.to_bits() == b.to_bits());
        interrupt();
        let value_of = |y: &f64| {
            values
                .binary_search_by(|v| v.total_cmp(y))
                .unwrap_or_default()
        };
        let point_values = points.iter().map(value_of).collect();
        let tenure_values = tenures.iter().map(value_of).collect();
        PnbdData {
            tenures,
            freqs,
            points,
            point_tenures,
            values,
            point_values,
            tenure_values,
            rows,
        }
    }

    /// The ₂F₁ terms of A0 (see [`PnbdX::combine`]) at the points `ys` (ascending) of one
    /// frequency, into `out`. From the largest point down, while the series is short (it is
    /// shorter the larger y: z = |α−β|/(max(α,β)+y)), each term is its series; below, a term
    /// is the one above plus the integral between the two points ([`PowerBase::piece`]: the
    /// term at y is (r+s+x)/β ∫_y^∞ (1+τ/α)^−(r+x) (1+τ/β)^−(s+1) dτ). Where the series is not
    /// short even at the largest point, the terms are taken relative to that point (the term
    /// there set to 0): A0 needs only differences of terms, and these are as accurate as the
    /// terms (the term at T is at most b1 · (r+s+x)/s, so that cancellation in A0 costs at
    /// most twice the terms' relative error in ln(b1 + b2)). The terms below the series are
    /// kept as e^lp · f with f of order one (no logarithm). `interrupt` is called before every
    /// [`PARETONBD_CHUNK`] terms.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn terms(
        c: &PnbdConst,
        px: &mut PnbdX,
        ys: &[f64],
        ys_values: &[usize],
        l_max: &[f64],
        l_min: &[f64],
        out: &mut Vec<PnbdTerm>,
        interrupt: &mut dyn FnMut(),
    ) {
        out.clear();
        out.resize(ys.len(), PnbdTerm::default());
        let ln_k = px.rsx.ln() - c.beta.ln();
        let inv = 1.0 / px.rsx;
        let base = PowerBase::new(px.rx, c.alpha, c.s + 1.0, c.beta);
        // ln(1+y/m), ln(1+y/M) and the slope of φ at a point
        let point = |k: usize| {
            let j = ys_values[k];
            (l_min[j], l_max[j], base.slope_at(ys[k]))
        };
        let mut above: Option<(f64, f64, f64)> = None;
        let mut series = true;
        for k in (0..ys.len()).rev() {
            if k % PARETONBD_CHUNK == 0 {
                interrupt();
            }
            let y = ys[k];
            let l_y = l_max[ys_values[k]];
            if let Some(kind) = series.then(|| px.series_at(c, l_y)).flatten() {
                out[k] = px.term(c, kind, y, l_y, l_min[ys_values[k]]);
                continue;
            }
            series = false;
            let here = point(k);
            if k + 1 == ys.len() {
                out[k] = PnbdTerm {
                    lp: f64::NEG_INFINITY,
                    f: 0.0,
                    d: [0.0; 4],
                    work: 0,
                };
                above = Some(here);
                continue;
            }
            let up = above.unwrap_or_else(|| point(k + 1));
            above = Some(here);
            let pi = base.piece(y, ys[k + 1], here.0, here.1, here.2, up.2);
            let g = pi.grad_j;
            // the piece: e^lq · sum, ∂/∂θ = e^lq · sum · dq
            let lq = ln_k + pi.ln_scale;
            let dq = [inv + g[0], g[1], inv + g[2], g[3] - 1.0 / c.beta];
            let prev = out[k + 1];
            let lp = lq.max(prev.lp);
            let (wq, wp) = if lq >= prev.lp {
                (pi.sum, (prev.lp - lp).exp())
            } else {
                (pi.sum * (lq - lp).exp(), 1.0)
            };
            out[k] = PnbdTerm {
                lp,
                f: wq + wp * prev.f,
                d: std::array::from_fn(|i| wq * dq[i] + wp * prev.d[i]),
                work: pi.nodes,
            };
        }
    }

    /// The log-likelihood and its gradient in (r, α, s, β); `interrupt` is called before every
    /// [`PARETONBD_CHUNK`] patterns (and terms).
    pub(super) fn ll(&self, theta: &[f64], interrupt: &mut dyn FnMut()) -> (f64, [f64; 4]) {
        let mut c = PnbdConst::new(theta);
        c.lg_r = ln_gamma(c.r);
        c.dg_r = digamma(c.r);
        let ln_alpha = c.alpha.ln();
        // ln(1+y/α), ln(1+y/β) per value; those of b1 per tenure (see PnbdConst::tenure)
        let (ia, ib) = (1.0 / c.alpha, 1.0 / c.beta);
        let la: Vec<f64> = self.values.iter().map(|&y| (y * ia).ln_1p()).collect();
        let lb: Vec<f64> = self.values.iter().map(|&y| (y * ib).ln_1p()).collect();
        let (l_max, l_min) = if c.alpha_ge { (&la, &lb) } else { (&lb, &la) };
        let tq: Vec<[f64; 4]> = self
            .tenures
            .iter()
            .zip(&self.tenure_values)
            .map(|(&t, &j)| {
                [
                    la[j],
                    lb[j],
                    t / (c.alpha * (c.alpha + t)),
                    t / (c.beta * (c.beta + t)),
                ]
            })
            .collect();
        let mut terms = Vec::new();
        // per point of a frequency: e^−L T, e^−L ∂T/∂θ, e^−L b1 and e^−L ∂b1/∂θ (b1 at the
        // point as a tenure), L a common scale of the frequency
        let mut scaled: Vec<(f64, [f64; 4], f64, [f64; 4])> = Vec::new();
        let mut ll = 0.0;
        let mut g = [0.0; 4];
        let mut done = 0usize;
        for fr in &self.freqs {
            let x = fr.x;
            let mut px = PnbdX::new(&c, x);
            let (c0, dc0) = pnbd_gamma_ratio(&c, x, ln_alpha);
            let dc = [dc0, -x / c.alpha];
            let points = &self.points[fr.points.clone()];
            let point_tenures = &self.point_tenures[fr.points.clone()];
            Self::terms(
                &c,
                &mut px,
                points,
                &self.point_values[fr.points.clone()],
                l_max,
                l_min,
                &mut terms,
                interrupt,
            );
            // one scale L for the frequency when all terms and b1 lie within e^±600 of it: then
            // a pattern costs one logarithm (else each is scaled by itself in `combine`)
            // (ln f is bounded by the binary exponent of f, within 0.7)
            let (mut hi, mut lo) = (f64::NEG_INFINITY, f64::INFINITY);
            for (t, &ti) in terms.iter().zip(point_tenures) {
                if t.f > 0.0 {
                    let lf = std::f64::consts::LN_2 * ((t.f.to_bits() >> 52) as f64 - 1023.0);
                    hi = hi.max(t.lp).max(t.lp + lf + 0.7);
                    lo = lo.min(t.lp).min(t.lp + lf);
                }
                if ti != usize::MAX {
                    let l = px.b1(&c, &tq[ti]).0;
                    hi = hi.max(l);
                    lo = lo.min(l);
                }
            }
            let fast = hi - lo <= 1200.0;
            let scale = if fast { 0.5 * (hi + lo) } else { 0.0 };
            if fast {
                scaled.clear();
                scaled.extend(terms.iter().zip(point_tenures).map(|(t, &ti)| {
                    let (et, dt) = if t.f > 0.0 {
                        let e = (t.lp - scale).exp();
                        (t.f * e, t.d.map(|v| v * e))
                    } else {
                        (0.0, [0.0; 4])
                    };
                    let (eb, db) = if ti != usize::MAX {
                        let (lb, db) = px.b1(&c, &tq[ti]);
                        let eb = (lb - scale).exp();
                        (eb, db.map(|v| v * eb))
                    } else {
                        (0.0, [0.0; 4])
                    };
                    (et, dt, eb, db)
                }));
            }
            let p0 = fr.points.start;
            let (rx, rsx, s) = (px.rx, px.rsx, c.s);
            let k = s / rsx;
            let (kr, ks) = (-s / (rsx * rsx), rx / (rsx * rsx));
            let (mut lx, mut gx) = (0.0, [0.0; 4]);
            let mut wx = 0.0;
            for row in &self.rows[fr.rows.clone()] {
                if done.is_multiple_of(PARETONBD_CHUNK) {
                    interrupt();
                }
                done += 1;
                let w = row.w;
                let (l, d) = if row.p1 == NO_POINT {
                    // t_x = T: nothing died in an empty interval (b2 = 0)
                    px.b1(&c, &tq[row.tenure])
                } else if fast {
                    let (t1, d1, _, _) = &scaled[row.p1 - p0];
                    let (t2, d2, b1, db1) = &scaled[row.p2 - p0];
                    let a0 = t1 - t2;
                    let sum = b1 + k * a0;
                    let inv = 1.0 / sum;
                    (
                        scale + sum.ln(),
                        [
                            (db1[0] + kr * a0 + k * (d1[0] - d2[0])) * inv,
                            (db1[1] + k * (d1[1] - d2[1])) * inv,
                            (db1[2] + ks * a0 + k * (d1[2] - d2[2])) * inv,
                            (db1[3] + k * (d1[3] - d2[3])) * inv,
                        ],
                    )
                } else {
                    let b1 = px.b1(&c, &tq[row.tenure]);
                    let (l, d, _) = px.combine(&c, b1, &terms[row.p1 - p0], &terms[row.p2 - p0]);
                    (l, d)
                };
                lx += w * l;
                wx += w;
                for i in 0..4 {
                    gx[i] += w * d[i];
                }
            }
            ll += wx * c0 + lx;
            g[0] += wx * dc[0] + gx[0];
            g[1] += wx * dc[1] + gx[1];
            g[2] += gx[2];
            g[3] += gx[3];
        }
        (ll, g)
    }
}

/// ln Γ(r+x) − ln Γ(r) − x ln α and ψ(r+x) − ψ(r) (`c.lg_r`, `c.dg_r` = ln Γ(r), ψ(r)).
/// For r >= 100 by the differences of Stirling's series (ln Γ(z) = (z−½) ln z − z + ½ ln 2π +
/// 1/(12z) − 1/(360z³) + 1/(1260z⁵) − 1/(1680z⁷), ψ likewise, to ~1e-21 there): along the
/// ridge r, α → ∞ with r/α fixed (a common purchase rate) the direct difference loses
/// ε·ln Γ(r) (1e-5 at r = 1e9) per pattern, a noise that stalls the line search.
pub(super) fn pnbd_gamma_ratio(c: &PnbdConst, x: f64, ln_alpha: f64) -> (f64, f64) {
    let r = c.r;
    if x == 0.0 {
        return (0.0, 0.0);
    }
    if r < 100.0 {
        return (
            ln_gamma(r + x) - c.lg_r - x * ln_alpha,
            digamma(r + x) - c.dg_r,
        );
    }
    let stirling = |z: f64| {
        let z2 = 1.0 / (z * z);
        (1.0 / 12.0 - z2 * (1.0 / 360.0 - z2 * (1.0 / 1260.0 - z2 / 1680.0))) / z
    };
    let psi_tail = |z: f64| {
        let z2 = 1.0 / (z * z);
        0.5 / z + z2 * (1.0 / 12.0 - z2 * (1.0 / 120.0 - z2 / 252.0))
    };
    let l = (x / r).ln_1p();
    (
        (r - 0.5) * l - x + x * ((r + x).ln() - ln_alpha) + stirling(r + x) - stirling(r),
        l - psi_tail(r + x) + psi_tail(r),
    )
}

/// Log-likelihood of the Pareto/NBD (Schmittlein, Morrison & Colombo 1987, in the form of
/// Fader, Hardie & Lee 2005, scaled as in [`PnbdConst`]) and its analytic gradient in
/// (r, alpha, s, beta). The work per pattern is bounded by [`PNBD_MAX_WORK`] (see
/// [`paretonbd_pattern`]).
pub fn paretonbd_ll(theta: &[f64], data: &[([f64; 3], f64)]) -> (f64, [f64; 4]) {
    ParetoNbd::from_theta(theta).log_likelihood(data)
}

/// Fits the Pareto/NBD to weighted (frequency, recency, tenure) patterns.
///
/// The optimisation runs over v = (ln r, ln(r/α), ln μ, ln s) with r/α the mean purchase rate
/// and μ = s/β the mean dropout rate. Where the data are best described by a common
/// exponential lifetime, the likelihood rises towards the limit s, β → ∞ with s/β = μ, a
/// ridge that is diagonal in (ln s, ln β) (BFGS crawled along it for its 500 iterations, 14 s
/// on 1000 patterns) but is the single axis ln s here, along which the objective approaches
/// its limit like e^−v₄ (likewise r, α → ∞ with r/α fixed, a common purchase rate, along
/// ln r). BFGS moves along such an axis by about ln 2 an iteration: [`pnbd_bfgs`] jumps ahead
/// instead, and a stall rule ([`PNBD_STALL`]) stops what is left of any crawl. The start is
/// r = s = β = 1 with α matched to the mean purchase rate or, beyond [`PNBD_SUBSAMPLE`]
/// patterns, the fit of a subsample ([`pnbd_start`]); `iterations` counts those on all the
/// patterns.
///
/// `converged` is true only at a proper interior maximum: the gradient vanished, the
/// information is positive definite, and the likelihood does not rise further along the
/// ridge (checked at s·e^[`PNBD_RIDGE_STEP`] with the same r, α, μ). When the supremum lies at
/// s = ∞, the reported parameters are a point on the ridge whose log-likelihood is within
/// about 1e-7 · customers of the supremum, with `converged` false.
pub fn paretonbd_fit(
    data: &[([f64; 3], f64)],
    penalizer: f64,
    interrupt: &mut dyn FnMut(),
) -> Result<Fit, CoreError> {
    fit_purchases::<ParetoNbd>(data, penalizer, interrupt)
}

/// (r, α, s, β) from v = (ln r, ln(r/α), ln μ, ln s), μ = s/β.
pub(super) fn pnbd_theta(v: &[f64]) -> Vec<f64> {
    let [ln_r, ln_rate, ln_mu, ln_s] = v[..4].try_into().expect("four coordinates");
    vec![
        ln_r.exp(),
        (ln_r - ln_rate).exp(),
        ln_s.exp(),
        (ln_s - ln_mu).exp(),
    ]
}

/// The objective of [`paretonbd_fit`] at v: the mean negative log-likelihood plus
/// `penalizer` · Σ θ², and its gradient in v.
pub(super) fn pnbd_objective(
    plan: &PnbdData,
    n: f64,
    penalizer: f64,
    v: &[f64],
    interrupt: &mut dyn FnMut(),
) -> (f64, Vec<f64>) {
    pnbd_objective_with(
        &mut |theta| plan.ll(theta, &mut *interrupt),
        n,
        penalizer,
        v,
    )
}

/// A Pareto/NBD log-likelihood and its gradient in θ.
pub(super) type PnbdLl<'a> = dyn FnMut(&[f64]) -> (f64, [f64; 4]) + 'a;

/// [`pnbd_objective`] with the log-likelihood `ll` (value and gradient in θ).
pub(super) fn pnbd_objective_with(
    ll: &mut PnbdLl<'_>,
    n: f64,
    penalizer: f64,
    v: &[f64],
) -> (f64, Vec<f64>) {
    if v.iter().any(|x| !x.is_finite()) {
        return (f64::NAN, vec![f64::NAN; 4]);
    }
    let theta = pnbd_theta(v);
    let (l, g) = ll(&theta);
    let pen: f64 = theta.iter().map(|t| t * t).sum::<f64>() * penalizer;
    // the gradient in ln θ, then in v by the chain rule (ln α = v₁ − v₂, ln β = v₄ − v₃)
    let gl: Vec<f64> = (0..4)
        .map(|i| -g[i] * theta[i] / n + 2.0 * penalizer * theta[i] * theta[i])
        .collect();
    (
        -l / n + pen,
        vec![gl[0] + gl[1], -gl[1], -gl[3], gl[2] + gl[3]],
    )
}

/// The gradient (of the objective in v, the mean negative log-likelihood) below which
/// [`paretonbd_fit`] calls the optimisation converged.
pub const PNBD_GRADIENT_TOL: f64 = 1e-7;

/// The gradient below which the fit of a subsample in [`pnbd_start`] stops: it only starts
/// the fit of all the patterns.
pub const PNBD_START_GRADIENT_TOL: f64 = 1e-4;

/// Iterations at most of the fit of a subsample in [`pnbd_start`].
pub const PNBD_START_ITERATIONS: u32 = 50;

/// A subsample fit with s or r above this is taken to be on a ridge (see [`pnbd_start`]).
pub(super) const PNBD_SUBSAMPLE_RIDGE: f64 = 100.0;

/// Above this many patterns [`paretonbd_fit`] starts from the fit of a subsample.
pub const PNBD_SUBSAMPLE: usize = 250;

/// The starting point of [`paretonbd_fit`] (in v) and an inverse Hessian for BFGS.
///
/// With at most [`PNBD_SUBSAMPLE`] patterns: r = s = β = 1 (the start of the earlier code,
/// whose local maximum it keeps finding where the likelihood has several) with α matched to
/// the mean purchase rate Σx/ΣT (r/α), and the identity matrix. Beyond, the fit (gradient
/// below 1e-4, at most 50 iterations) of a quarter of the patterns drawn systematically with
/// probability proportional to their weights ([`pnbd_subsample`]) and the inverse Hessian
/// BFGS built there: the objective is a mean, so its optimum and Hessian are close to those of
/// all the patterns, whose fit then takes a few iterations instead of some twenty. The
/// subsample starts the same way (recursively: 4000 patterns are fitted on 1000, these on
/// 250).
///
/// A subsample can have its supremum far up a ridge (s or r → ∞, beyond
/// [`PNBD_SUBSAMPLE_RIDGE`]) where the patterns it was drawn from have a proper maximum:
/// these, started up there beyond a hump of the likelihood, would not come back. Such a
/// coordinate climbs from s = 1 (r = 1) again, with the subsample's rates — unless `whole`
/// (the objective of all the patterns, given for `data` at the top of the recursion) still
/// falls outwards along that ridge at the subsample's point (one evaluation, the first of the
/// fit of all the patterns): then all the patterns run up the same ridge and start there (the
/// climb back from s = 1 took most of the fit on the data of issue 18). Lower in the
/// recursion the climb is on a subsample and cheap, so it is kept.
pub(super) fn pnbd_start(
    data: &[([f64; 3], f64)],
    n: f64,
    penalizer: f64,
    whole: Option<Objective<'_>>,
    interrupt: &mut dyn FnMut(),
) -> (Vec<f64>, Option<Vec<Vec<f64>>>) {
    if data.len() > PNBD_SUBSAMPLE {
        let sub = pnbd_subsample(data, data.len() / 4);
        let (v0, h0) = pnbd_start(&sub, n, penalizer, None, interrupt);
        let plan = PnbdData::new(&sub, interrupt);
        let interrupt = std::cell::RefCell::new(interrupt);
        let f =
            |v: &[f64]| pnbd_objective(&plan, n, penalizer, v, &mut || (interrupt.borrow_mut())());
        let mut fit = pnbd_bfgs(
            &f,
            v0,
            h0,
            PNBD_START_ITERATIONS,
            PNBD_START_GRADIENT_TOL,
            &mut || (interrupt.borrow_mut())(),
        );
        if fit.x.iter().all(|v| v.is_finite()) {
            let mut reset = false;
            let mut slope: Option<Vec<f64>> = None;
            for k in [3, 0] {
                if fit.x[k] > PNBD_SUBSAMPLE_RIDGE.ln() {
                    let outwards = whole.is_some_and(|w| {
                        // NaN too: climb again
                        slope.get_or_insert_with(|| w(&fit.x).1)[k] <= 0.0
                    });
                    if !outwards {
                        fit.x[k] = 0.0;
                        reset = true;
                    }
                }
            }
            return (fit.x, if reset { None } else { Some(fit.h) });
        }
    }
    let (mut sx, mut st) = (0.0, 0.0);
    for &([x, _, t], w) in data {
        sx += w * x;
        st += w * t;
    }
    let rate = (sx / st).ln();
    let v1 = if rate.is_finite() { rate } else { 0.0 };
    (vec![0.0, v1, 0.0, 0.0], None)
}

/// About `target` of the patterns drawn systematically with probability proportional to their
/// weights (in their order, sorted by frequency first): a pattern is drawn once per multiple of
/// the step W/target its cumulative weight passes, and weighs the step times its draws, so
/// that the total weight W is kept and heavy patterns are always drawn.
pub(super) fn pnbd_subsample(data: &[([f64; 3], f64)], target: usize) -> Vec<([f64; 3], f64)> {
    let total: f64 = data.iter().map(|d| d.1).sum();
    let step = total / target.max(1) as f64;
    let mut out = Vec::with_capacity(target + 1);
    let mut cum = 0.0;
    let mut next = 0.5 * step;
    for &(obs, w) in data {
        cum += w;
        if cum >= next {
            let draws = ((cum - next) / step).floor() + 1.0;
            next += draws * step;
            out.push((obs, draws * step));
        }
    }
    out
}

/// Largest change of a coordinate of v in one step of [`pnbd_bfgs`].
pub const PNBD_MAX_STEP: f64 = 1.0;

/// Longest jump of [`pnbd_bfgs`] along a ridge (in v, i.e. a factor e^20 on s or r).
pub const PNBD_RIDGE_JUMP: f64 = 20.0;

/// A quasi-Newton direction whose slope is at most this times max(|f|, 1) in magnitude
/// promises a decrease below the rounding of the objective: [`pnbd_bfgs`] stops.
pub const PNBD_MIN_STEP_SLOPE: f64 = 1e-14;

/// The largest coordinate change of a step (in v) below which [`pnbd_bfgs`]'s line search fails.
pub const PNBD_MIN_STEP: f64 = 1e-12;

/// A step that moves a coordinate of v by more than this (with the objective still falling
/// that way) counts towards a crawl along a ridge in [`pnbd_bfgs`].
pub const PNBD_CRAWL_MOVE: f64 = 0.3;

/// The result of [`pnbd_bfgs`]: the point, the objective there, whether the gradient
/// vanished, the iterations and the final inverse Hessian.
pub(super) struct PnbdMin {
    pub(super) x: Vec<f64>,
    pub(super) f: f64,
    pub(super) converged: bool,
    pub(super) iterations: u32,
    pub(super) h: Vec<Vec<f64>>,
}

/// BFGS for [`paretonbd_fit`] from `x0` with the inverse Hessian `h0` (else the identity,
/// scaled after the first step by s'y / y'y), Armijo backtracking by quadratic interpolation,
/// steps of at most [`PNBD_MAX_STEP`] in every coordinate. Stops when the gradient is below
/// `tol` (converged), on the stall rule [`PNBD_STALL`] or a failed line search (then
/// converged when the gradient is below 1e-5, as [`bfgs_stall`]). `interrupt` is called once
/// per iteration.
///
/// Ridge jumps: where a step moved coordinate k by more than 0.3 with the objective still
/// falling that way — once on the known ridges (v₄ = ln s and v₁ = ln r upwards), twice in a
/// row in other directions — the objective behaves as f∞ + C e^−|v_k| there, so
/// f − f∞ ≈ |∂f/∂v_k|, and the point D = ln(|∂f/∂v_k| / tol) further (at most
/// [`PNBD_RIDGE_JUMP`], tol the stall tolerance) is as good as the limit: trial points 2, 4,
/// 8, … up to D further replace the ~D/ln 2 iterations BFGS would crawl, the last one taken
/// of those up to which the objective keeps falling with the slope along k the same sign (a
/// proper minimum on the way stops them: past it the slope turns). A direction where even the
/// first trial fails is not tried again.
///
/// A coordinate along which the objective is flat (its slope so small that a move of
/// [`PNBD_RIDGE_JUMP`] would change the objective by less than the stall tolerance: a limit
/// reached far up a ridge) does not move: the inverse Hessian is huge there, and every step,
/// capped at [`PNBD_MAX_STEP`], would be spent on it.
pub(super) fn pnbd_bfgs(
    f: Objective<'_>,
    x0: Vec<f64>,
    h0: Option<Vec<Vec<f64>>>,
    max_iter: u32,
    tol: f64,
    interrupt: &mut dyn FnMut(),
) -> PnbdMin {
    let n = x0.len();
    let identity = || -> Vec<Vec<f64>> {
        (0..n)
            .map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
            .collect()
    };
    let norm = |g: &[f64]| g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut history: Vec<f64> = Vec::new();
    let mut x = x0;
    let (mut fx, mut g) = f(&x);
    let mut fresh = h0.is_none();
    let mut h = h0.unwrap_or_else(identity);
    // per coordinate and direction: steps in a row along it, a refused jump
    let mut crawl = [0u32; 8];
    let mut refused = [false; 8];
    let done = |x, f, converged, iterations, h| PnbdMin {
        x,
        f,
        converged,
        iterations,
        h,
    };
    for iter in 0..max_iter {
        interrupt();
        if !fx.is_finite() || g.iter().any(|v| !v.is_finite()) {
            return done(x, fx, false, iter, h);
        }
        if norm(&g) < tol {
            return done(x, fx, true, iter, h);
        }
        let mut p: Vec<f64> = (0..n)
            .map(|i| -(0..n).map(|j| h[i][j] * g[j]).sum::<f64>())
            .collect();
        let mut slope: f64 = p.iter().zip(&g).map(|(a, b)| a * b).sum();
        let descent = slope < 0.0 && p.iter().all(|v| v.is_finite());
        if !descent {
            // not a descent direction: restart from steepest descent
            h = identity();
            fresh = true;
            p = g.iter().map(|v| -v).collect();
            slope = -g.iter().map(|v| v * v).sum::<f64>();
        }
        // a coordinate along which the objective is flat (a limit reached far up a ridge: moving
        // it by PNBD_RIDGE_JUMP would change the objective by less than the stall tolerance)
        // stays where it is: else the inverse Hessian, huge there, spends every capped step on it
        let flat_tol = PNBD_STALL.rel * fx.abs().max(1.0) / PNBD_RIDGE_JUMP;
        if g.iter().any(|v| v.abs() > flat_tol) {
            let keep = |gi: &f64| gi.abs() > flat_tol;
            for (pi, gi) in p.iter_mut().zip(&g) {
                if !keep(gi) {
                    *pi = 0.0;
                }
            }
            slope = p.iter().zip(&g).map(|(a, b)| a * b).sum();
            if slope >= 0.0 {
                // the direction fell only along the flat coordinates: steepest descent on the others
                h = identity();
                fresh = true;
                p = g.iter().map(|v| if keep(v) { -v } else { 0.0 }).collect();
                slope = -p.iter().map(|v| v * v).sum::<f64>();
            }
        }
        if -slope <= PNBD_MIN_STEP_SLOPE * fx.abs().max(1.0) {
            // the best decrease along p (about half the slope at a Newton step) is below the
            // rounding of the objective: no line search can succeed
            return done(x, fx, norm(&g) < LOOSE_GRADIENT_TOL, iter, h);
        }
        let pmax = norm(&p);
        let mut step = 1.0f64.min(PNBD_MAX_STEP / pmax);
        let (mut x_new, mut f_new, mut g_new);
        loop {
            x_new = x
                .iter()
                .zip(&p)
                .map(|(a, b)| a + step * b)
                .collect::<Vec<f64>>();
            (f_new, g_new) = f(&x_new);
            if f_new.is_finite() && f_new <= fx + ARMIJO * step * slope && f_new < fx {
                break;
            }
            step = if f_new.is_finite() {
                // the minimum of the quadratic through f(0), f'(0) and f(step)
                let q = -slope * step * step / (2.0 * (f_new - fx - slope * step));
                q.clamp(0.1 * step, 0.5 * step)
            } else {
                0.5 * step
            };
            if step * pmax < PNBD_MIN_STEP {
                return done(x, fx, norm(&g) < LOOSE_GRADIENT_TOL, iter, h);
            }
        }
        let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy: f64 = s.iter().zip(&y).map(|(a, b)| a * b).sum();
        if sy > MIN_CURVATURE {
            if fresh {
                let yy: f64 = y.iter().map(|v| v * v).sum();
                h = identity();
                for (i, row) in h.iter_mut().enumerate() {
                    row[i] = sy / yy;
                }
                fresh = false;
            }
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
        let gain_tol = PNBD_STALL.rel * f_new.abs().max(1.0);
        for k in [3, 0, 1, 2] {
            let dir = if s[k] < 0.0 { -1.0 } else { 1.0 };
            let slot = 2 * k + usize::from(dir < 0.0);
            let moving = dir * s[k] > PNBD_CRAWL_MOVE && dir * g_new[k] < 0.0;
            crawl[slot] = if moving { crawl[slot] + 1 } else { 0 };
            let need = if dir > 0.0 && (k == 3 || k == 0) {
                1
            } else {
                2
            };
            if !moving || crawl[slot] < need || refused[slot] {
                continue;
            }
            let jump = (-dir * g_new[k] / gain_tol).ln().min(PNBD_RIDGE_JUMP);
            if jump.is_nan() || jump <= 1.0 {
                continue;
            }
            // out by doubling distances, as long as the objective keeps falling with its slope
            // the same sign (past a proper minimum it rises)
            let mut f_at = f_new;
            let mut reached = None;
            let mut d = jump.min(2.0);
            loop {
                let mut xj = x_new.clone();
                xj[k] += dir * d;
                let (fj, gj) = f(&xj);
                if !(fj.is_finite() && fj <= f_at && dir * gj[k] < 0.0) {
                    break;
                }
                f_at = fj;
                reached = Some((xj, fj, gj));
                if d >= jump {
                    break;
                }
                d = (2.0 * d).min(jump);
            }
            match reached {
                Some(r) => (x_new, f_new, g_new) = r,
                None => refused[slot] = true,
            }
        }
        let converged_f = (fx - f_new).abs() <= F_REL_TOL * fx.abs().max(1.0);
        x = x_new;
        fx = f_new;
        g = g_new;
        if converged_f && norm(&g) < LOOSE_GRADIENT_TOL {
            return done(x, fx, true, iter + 1, h);
        }
        history.push(fx);
        if history.len() > PNBD_STALL.window {
            let past = history[history.len() - 1 - PNBD_STALL.window];
            if past - fx <= PNBD_STALL.rel * fx.abs().max(1.0) {
                return done(x, fx, norm(&g) < LOOSE_GRADIENT_TOL, iter + 1, h);
            }
        }
    }
    let converged = norm(&g) < tol;
    done(x, fx, converged, max_iter, h)
}

/// The stall rule of [`paretonbd_fit`]: stop when the objective (mean negative log-likelihood)
/// fell by at most 1e-10 of itself over 5 iterations.
pub const PNBD_STALL: Stall = Stall {
    window: 5,
    rel: 1e-10,
};

/// How far along the ridge (in ln s, s/β fixed) [`paretonbd_fit`] looks for a higher
/// likelihood before it calls a maximum converged.
pub const PNBD_RIDGE_STEP: f64 = 4.0;

/// P(alive | x, t_x, T) under the Pareto/NBD: the share of the likelihood in which the
/// customer is still alive at T (bounded work, see [`paretonbd_pattern`]).
pub fn paretonbd_p_alive(theta: &[f64], x: f64, t_x: f64, t: f64) -> f64 {
    ParetoNbd::from_theta(theta).p_alive(x, t_x, t)
}

/// Expected purchases in the next `horizon` under the Pareto/NBD (FHL 2005, eq. 23 of the note;
/// s = 1 is the limit ln((β+T+t)/(β+T))).
pub fn paretonbd_expected(theta: &[f64], horizon: f64, x: f64, t_x: f64, t: f64) -> f64 {
    ParetoNbd::from_theta(theta).expected_purchases(horizon, x, t_x, t)
}

/// Expected purchases of a new customer in `horizon` under the Pareto/NBD.
pub fn paretonbd_expected_new(theta: &[f64], horizon: f64) -> f64 {
    ParetoNbd::from_theta(theta).expected_purchases_new(horizon)
}

/// The Pareto/NBD: purchases at rate λ ~ Gamma(r, α) while alive, an exponential lifetime of
/// rate μ ~ Gamma(s, β).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParetoNbd {
    pub r: f64,
    pub alpha: f64,
    pub s: f64,
    pub beta: f64,
}

/// |s − 1| below which the expectations take the limit s = 1 (a logarithm).
const PNBD_S_ONE: f64 = 1e-12;

impl PurchaseProcess for ParetoNbd {
    const FIT_NAME: &'static str = "paretonbd_fit";
    const NAMES: [&'static str; 4] = ["r", "alpha", "s", "beta"];
    type Arranged<'a> = PnbdData;

    fn from_theta(theta: &[f64]) -> Self {
        let [r, alpha, s, beta] = theta[..4].try_into().expect("four parameters");
        ParetoNbd { r, alpha, s, beta }
    }

    fn to_theta(&self) -> [f64; 4] {
        [self.r, self.alpha, self.s, self.beta]
    }

    fn arrange(data: &[([f64; 3], f64)], interrupt: &mut dyn FnMut()) -> PnbdData {
        PnbdData::new(data, interrupt)
    }

    fn arranged_log_likelihood(
        &self,
        data: &PnbdData,
        interrupt: &mut dyn FnMut(),
    ) -> (f64, [f64; 4]) {
        data.ll(&self.to_theta(), interrupt)
    }

    /// Log-likelihood of the Pareto/NBD (Schmittlein, Morrison & Colombo 1987, in the form of
    /// Fader, Hardie & Lee 2005, scaled as in [`PnbdConst`]) and its analytic gradient in
    /// (r, alpha, s, beta). The work per pattern is bounded by [`PNBD_MAX_WORK`] (see
    /// [`paretonbd_pattern`]).
    fn log_likelihood(&self, data: &[([f64; 3], f64)]) -> (f64, [f64; 4]) {
        PnbdData::new(data, &mut || {}).ll(&self.to_theta(), &mut || {})
    }

    fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        paretonbd_pattern(&self.to_theta(), x, t_x, t).2
    }

    /// FHL 2005, eq. 23 of the note; s = 1 is the limit ln((β+T+t)/(β+T)).
    fn expected_purchases(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let tail = if (s - 1.0).abs() < PNBD_S_ONE {
            ((beta + t + horizon) / (beta + t)).ln()
        } else {
            (1.0 - ((beta + t) / (beta + t + horizon)).powf(s - 1.0)) / (s - 1.0)
        };
        (r + x) * (beta + t) / (alpha + t) * tail * self.p_alive(x, t_x, t)
    }

    fn expected_purchases_new(&self, horizon: f64) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let tail = if (s - 1.0).abs() < PNBD_S_ONE {
            ((beta + horizon) / beta).ln()
        } else {
            (1.0 - (beta / (beta + horizon)).powf(s - 1.0)) / (s - 1.0)
        };
        r * beta / alpha * tail
    }

    /// Over v = (ln r, ln(r/α), ln μ, ln s) by [`pnbd_bfgs`] from [`pnbd_start`] (see
    /// [`paretonbd_fit`]).
    fn minimise(problem: &FitProblem<'_>) -> Minimum {
        let FitProblem {
            ll,
            data,
            n,
            penalizer,
            interrupt,
        } = *problem;
        let f = |v: &[f64]| pnbd_objective_with(&mut |th| ll(th), n, penalizer, v);
        let (start, h0) = pnbd_start(data, n, penalizer, Some(&f), &mut || interrupt());
        let min = pnbd_bfgs(
            &f,
            start,
            h0,
            FIT_MAX_ITERATIONS,
            PNBD_GRADIENT_TOL,
            &mut || interrupt(),
        );
        Minimum {
            theta: pnbd_theta(&min.x),
            x: min.x,
            f: min.f,
            converged: min.converged,
            iterations: min.iterations,
        }
    }

    /// The objective no higher at s·e^[`PNBD_RIDGE_STEP`] (same r, α, μ); a NaN far along
    /// the ridge counts as a higher likelihood there (no claim of a maximum that could not
    /// be checked).
    fn beyond_ridge(problem: &FitProblem<'_>, min: &Minimum) -> bool {
        let [ln_r, ln_rate, ln_mu, ln_s] = min.x[..4].try_into().expect("four coordinates");
        let far = [ln_r, ln_rate, ln_mu, ln_s + PNBD_RIDGE_STEP];
        let ffar = pnbd_objective_with(
            &mut |th| (problem.ll)(th),
            problem.n,
            problem.penalizer,
            &far,
        )
        .0;
        !matches!(
            ffar.partial_cmp(&min.f),
            Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)
        )
    }
}
