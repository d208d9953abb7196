//! Modified BG/NBD (Batislam, Denizel & Filiztekin 2007): likelihood, fit, predictions.

use super::*;
use statrs::function::gamma::{digamma, ln_gamma};

/// The modified BG/NBD (Batislam, Denizel & Filiztekin 2007; the form of Wagner & Hoppe 2008
/// and of lifetimes): as the BG/NBD, but a customer can drop out right after the first purchase
/// too, so P(alive) < 1 also for one-time buyers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MbgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// Log-likelihood of the modified BG/NBD and its gradient in (r, alpha, a, b).
pub fn mbgnbd_ll(theta: &[f64], data: &[([f64; 3], f64)]) -> (f64, [f64; 4]) {
    MbgNbd::from_theta(theta).log_likelihood(data)
}

/// Fits the modified BG/NBD to weighted (frequency, recency, tenure) patterns
/// ([`fit_purchases`]).
pub fn mbgnbd_fit(
    data: &[([f64; 3], f64)],
    penalizer: f64,
    interrupt: &mut dyn FnMut(),
) -> Result<Fit, CoreError> {
    fit_purchases::<MbgNbd>(data, penalizer, interrupt)
}

/// P(alive | x, t_x, T) under the modified BG/NBD.
pub fn mbgnbd_p_alive(theta: &[f64], x: f64, t_x: f64, t: f64) -> f64 {
    MbgNbd::from_theta(theta).p_alive(x, t_x, t)
}

/// Expected purchases in the next `horizon` under the modified BG/NBD.
pub fn mbgnbd_expected(theta: &[f64], horizon: f64, x: f64, t_x: f64, t: f64) -> f64 {
    MbgNbd::from_theta(theta).expected_purchases(horizon, x, t_x, t)
}

/// Expected purchases of a new customer in `horizon` under the modified BG/NBD.
pub fn mbgnbd_expected_new(theta: &[f64], horizon: f64) -> f64 {
    MbgNbd::from_theta(theta).expected_purchases_new(horizon)
}

impl PurchaseProcess for MbgNbd {
    const FIT_NAME: &'static str = "mbgnbd_fit";
    const NAMES: [&'static str; 4] = ["r", "alpha", "a", "b"];
    /// The patterns as they are, summed in chunks of [`CHUNK`].
    type Arranged<'a> = &'a [([f64; 3], f64)];

    fn from_theta(theta: &[f64]) -> Self {
        let [r, alpha, a, b] = theta[..4].try_into().expect("four parameters");
        MbgNbd { r, alpha, a, b }
    }

    fn to_theta(&self) -> [f64; 4] {
        [self.r, self.alpha, self.a, self.b]
    }

    fn arrange<'a>(
        data: &'a [([f64; 3], f64)],
        _interrupt: &mut dyn FnMut(),
    ) -> &'a [([f64; 3], f64)] {
        data
    }

    fn arranged_log_likelihood(
        &self,
        data: &&[([f64; 3], f64)],
        interrupt: &mut dyn FnMut(),
    ) -> (f64, [f64; 4]) {
        let mut total = 0.0;
        let mut grad = [0.0; 4];
        for chunk in data.chunks(CHUNK) {
            interrupt();
            let (l, g) = self.log_likelihood(chunk);
            total += l;
            for (a, b) in grad.iter_mut().zip(g) {
                *a += b;
            }
        }
        (total, grad)
    }

    fn log_likelihood(&self, data: &[([f64; 3], f64)]) -> (f64, [f64; 4]) {
        let MbgNbd { r, alpha, a, b } = *self;
        let (lg_r, lg_ab, lg_b) = (ln_gamma(r), ln_gamma(a + b), ln_gamma(b));
        let (dg_r, dg_ab, dg_b) = (digamma(r), digamma(a + b), digamma(b));
        let (ln_alpha, ln_a) = (alpha.ln(), a.ln());
        let mut ll = 0.0;
        let mut g = [0.0; 4];
        let mut last_x = f64::NAN;
        let (mut a12, mut d_r1, mut d_a2, mut d_b2, mut ln_bx) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for &([x, t_x, t], w) in data {
            if x != last_x {
                last_x = x;
                a12 = ln_gamma(r + x) - lg_r + r * ln_alpha + lg_ab + ln_gamma(b + x + 1.0)
                    - lg_b
                    - ln_gamma(a + b + x + 1.0);
                d_r1 = digamma(r + x) - dg_r + ln_alpha;
                let dg_abx1 = digamma(a + b + x + 1.0);
                d_a2 = dg_ab - dg_abx1;
                d_b2 = dg_ab + digamma(b + x + 1.0) - dg_b - dg_abx1;
                ln_bx = (b + x).ln();
            }
            let (ln_at, ln_atx) = ((alpha + t).ln(), (alpha + t_x).ln());
            let a3 = -(r + x) * ln_at;
            let a4 = ln_a - ln_bx + (r + x) * (ln_at - ln_atx);
            // softplus(a4) = ln(1 + e^a4) and its derivative, the logistic function
            let (softplus, s) = if a4 > 0.0 {
                let e = (-a4).exp();
                (a4 + e.ln_1p(), 1.0 / (1.0 + e))
            } else {
                let e = a4.exp();
                (e.ln_1p(), e / (1.0 + e))
            };
            ll += w * (a12 + a3 + softplus);
            g[0] += w * (d_r1 - ln_at + s * (ln_at - ln_atx));
            g[1] += w
                * (r / alpha - (r + x) / (alpha + t)
                    + s * (r + x) * (1.0 / (alpha + t) - 1.0 / (alpha + t_x)));
            g[2] += w * (d_a2 + s / a);
            g[3] += w * (d_b2 - s / (b + x));
        }
        (ll, g)
    }

    fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        let MbgNbd { r, alpha, a, b } = *self;
        let ln_odds = a.ln() - (b + x).ln() + (r + x) * ((alpha + t).ln() - (alpha + t_x).ln());
        1.0 / (1.0 + ln_odds.exp())
    }

    fn expected_purchases(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> f64 {
        let MbgNbd { r, alpha, a, b } = *self;
        let z = horizon / (alpha + t + horizon);
        let body = 1.0
            - ((alpha + t) / (alpha + t + horizon)).powf(r + x)
                * hyp2f1(r + x, b + x + 1.0, a + b + x, z);
        let denom = 1.0 + a / (b + x) * ((alpha + t) / (alpha + t_x)).powf(r + x);
        (a + b + x) / (a - 1.0) * body / denom
    }

    fn expected_purchases_new(&self, horizon: f64) -> f64 {
        let MbgNbd { r, alpha, a, b } = *self;
        b / (a - 1.0)
            * (1.0
                - hyp2f1(r, b + 1.0, a + b, horizon / (alpha + horizon))
                    * (alpha / (alpha + horizon)).powf(r))
    }
}
