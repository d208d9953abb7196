//! Gamma-Gamma spend model (Fader & Hardie 2013): likelihood, fit, expected spend.

use super::*;
use statrs::function::gamma::{digamma, ln_gamma};

/// Log-likelihood of Gamma-Gamma and its gradient in (p, q, v), over customers with x > 0.
pub fn gamma_gamma_ll(theta: &[f64], data: &[([f64; 2], f64)]) -> (f64, [f64; 3]) {
    let (p, q, v) = (theta[0], theta[1], theta[2]);
    let (lg_q, dg_q, ln_v) = (ln_gamma(q), digamma(q), v.ln());
    let mut ll = 0.0;
    let mut g = [0.0; 3];
    // terms that depend on x only are computed once per distinct frequency (data sorted by x)
    let mut last_x = f64::NAN;
    let (mut px, mut head, mut dg_pxq, mut dg_px, mut ln_x) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &([x, m], w) in data {
        if x != last_x {
            last_x = x;
            px = p * x;
            ln_x = x.ln();
            head = ln_gamma(px + q) - ln_gamma(px) - lg_q + q * ln_v + px * ln_x;
            dg_pxq = digamma(px + q);
            dg_px = digamma(px);
        }
        let ln_m = m.ln();
        let ln_vxm = (v + x * m).ln();
        ll += w * (head + (px - 1.0) * ln_m - (px + q) * ln_vxm);
        g[0] += w * x * (dg_pxq - dg_px + ln_m + ln_x - ln_vxm);
        g[1] += w * (dg_pxq - dg_q + ln_v - ln_vxm);
        g[2] += w * (q / v - (px + q) / (v + x * m));
    }
    (ll, g)
}

/// Fits Gamma-Gamma to weighted (frequency, monetary) patterns of repeat buyers.
pub fn gamma_gamma_fit(
    data: &[([f64; 2], f64)],
    penalizer: f64,
    interrupt: &mut dyn FnMut(),
) -> Result<Fit, CoreError> {
    let n: f64 = data.iter().map(|d| d.1).sum();
    if n <= 0.0 {
        return Err(CoreError::InvalidParameter(
            "gamma_gamma_fit needs at least one customer with frequency > 0 and monetary > 0"
                .into(),
        ));
    }
    let interrupt = std::cell::RefCell::new(interrupt);
    let ll = |th: &[f64]| chunked_ll(th, data, &interrupt, gamma_gamma_ll, CHUNK);
    fit_model("gamma_gamma_fit", 3, n, &ll, penalizer, &mut || {
        (interrupt.borrow_mut())()
    })
}

/// Expected mean transaction value of a customer (Fader & Hardie 2013, eq. 5); for x = 0 the
/// population mean p v / (q − 1), which exists only when q > 1.
pub fn gamma_gamma_expected(theta: &[f64], x: f64, m: f64) -> Result<f64, CoreError> {
    let (p, q, v) = (theta[0], theta[1], theta[2]);
    if x == 0.0 {
        if q <= 1.0 {
            return Err(CoreError::OutOfRange(format!(
                "the population mean spend is infinite when q <= 1 (q = {q})"
            )));
        }
        Ok(p * v / (q - 1.0))
    } else {
        Ok(p * (v + x * m) / (p * x + q - 1.0))
    }
}
