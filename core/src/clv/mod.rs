//! Customer-lifetime-value models fitted by maximum likelihood: BG/NBD (Fader, Hardie & Lee
//! 2005), modified BG/NBD, Pareto/NBD and Gamma-Gamma (Fader & Hardie 2013), with predictions.
//!
//! Fits work on the counts of distinct (frequency, recency, tenure) patterns, so their cost
//! grows with the number of distinct patterns, not with customers. Likelihoods are computed in
//! log space with analytic gradients and minimised over log-parameters (which keeps every
//! parameter positive) by BFGS with a backtracking line search.

mod bgnbd;
mod gamma_gamma;
mod mbgnbd;
mod optimize;
mod paretonbd;
mod patterns;
mod power_integral;
mod purchase;
mod special;
mod value;

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
#[allow(clippy::excessive_precision)]
mod robust_tests;
#[cfg(test)]
mod tests;

pub use bgnbd::*;
pub use gamma_gamma::*;
pub use mbgnbd::*;
pub use optimize::*;
pub use paretonbd::*;
pub use patterns::*;
pub use power_integral::*;
pub use purchase::*;
pub use special::*;
pub use value::*;

use crate::CoreError;

/// Result of a maximum-likelihood fit.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    pub params: Vec<f64>,
    pub log_likelihood: f64,
    pub customers: f64,
    pub converged: bool,
    pub iterations: u32,
    /// Standard errors from the inverse of the observed information (numerical Hessian of the
    /// analytic gradient); `None` when it is not positive definite.
    pub std_errors: Option<Vec<f64>>,
    /// The covariance matrix of the parameters (row-major k × k; its diagonal squares
    /// `std_errors`), `None` with them.
    pub covariance: Option<Vec<f64>>,
}

/// Patterns per likelihood chunk of the closed-form models (BG/NBD, MBG/NBD, Gamma-Gamma, about
/// 0.1 µs a pattern): query cancel is checked between chunks, so even a fit over millions of
/// distinct patterns stops within a millisecond or so of a cancel request.
pub const CHUNK: usize = 4096;

/// Checks the data of a purchase model: customers and at least one repeat buyer.
fn purchase_data(name: &str, data: &[([f64; 3], f64)]) -> Result<f64, CoreError> {
    let n: f64 = data.iter().map(|d| d.1).sum();
    if n <= 0.0 {
        return Err(CoreError::InvalidParameter(format!(
            "{name} needs at least one customer"
        )));
    }
    if !data.iter().any(|d| d.0[0] > 0.0) {
        return Err(CoreError::InvalidParameter(format!(
            "{name} needs at least one repeat buyer (frequency > 0)"
        )));
    }
    Ok(n)
}
