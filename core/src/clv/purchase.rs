//! The purchase models (BG/NBD, modified BG/NBD, Pareto/NBD) behind one trait: named
//! parameters, the likelihood over weighted (frequency, recency, tenure) patterns, the
//! predictions, and one maximum-likelihood fit for all of them ([`fit_purchases`]).

use super::*;
use std::cell::RefCell;

/// A buy-till-you-die purchase model given by its four parameters: a purchase process while
/// alive and a dropout process, observed per customer as (x, t_x, T) = (repeat purchases,
/// time of the last one, time since the first purchase).
pub trait PurchaseProcess: Sized {
    /// The name of the fit in messages (the SQL aggregate's).
    const FIT_NAME: &'static str;
    /// The parameter names, in the order of [`Self::to_theta`].
    const NAMES: [&'static str; 4];
    /// The patterns arranged once per fit for the many evaluations of the likelihood.
    type Arranged<'a>;

    /// The parameters from θ (in the order of [`Self::NAMES`]; at least four values).
    fn from_theta(theta: &[f64]) -> Self;
    /// θ, in the order of [`Self::NAMES`].
    fn to_theta(&self) -> [f64; 4];

    /// Arranges weighted patterns for [`Self::arranged_log_likelihood`]; `interrupt` is called
    /// between steps (query cancel).
    fn arrange<'a>(data: &'a [([f64; 3], f64)], interrupt: &mut dyn FnMut()) -> Self::Arranged<'a>;
    /// The log-likelihood of arranged patterns and its gradient in θ; `interrupt` is called
    /// every chunk of patterns.
    fn arranged_log_likelihood(
        &self,
        data: &Self::Arranged<'_>,
        interrupt: &mut dyn FnMut(),
    ) -> (f64, [f64; 4]);
    /// The log-likelihood of weighted patterns and its gradient in θ.
    fn log_likelihood(&self, data: &[([f64; 3], f64)]) -> (f64, [f64; 4]);

    /// P(alive at T | x, t_x, T).
    fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64;
    /// Expected purchases in the next `horizon` of a customer with (x, t_x, T).
    fn expected_purchases(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> f64;
    /// Expected purchases of a new customer in `horizon`.
    fn expected_purchases_new(&self, horizon: f64) -> f64;

    /// Minimises the fit's objective (see [`minimise_log_params`], the default).
    fn minimise(problem: &FitProblem<'_>) -> Minimum {
        let ll = |th: &[f64]| {
            let (l, g) = (problem.ll)(th);
            (l, g.to_vec())
        };
        minimise_log_params(4, problem.n, &ll, problem.penalizer, &mut || {
            (problem.interrupt)()
        })
    }

    /// Whether the likelihood (the objective) is at least as high further out along a ridge
    /// to infinite parameters than at the converged fit `fit` (`min` the optimiser's result):
    /// then the fit is no proper maximum. Checked only for converged fits; default: no ridge.
    fn beyond_ridge(_problem: &FitProblem<'_>, _min: &Minimum, _fit: &Fit) -> bool {
        false
    }
}

/// A purchase model's log-likelihood and its gradient at θ.
pub type PurchaseLl<'a> = dyn Fn(&[f64]) -> (f64, [f64; 4]) + 'a;

/// What the optimiser of a purchase model sees: the (cached) log-likelihood and its gradient in
/// θ, the patterns, the number of customers, the penalizer and the query-cancel callback.
pub struct FitProblem<'a> {
    pub ll: &'a PurchaseLl<'a>,
    pub data: &'a [([f64; 3], f64)],
    pub n: f64,
    pub penalizer: f64,
    pub interrupt: &'a dyn Fn(),
}

/// Evaluations of the likelihood kept by [`fit_purchases`]: the fit evaluates the optimiser's
/// final point again, which need not be its very last evaluation (a refused trial step or the
/// ridge check may come after it).
const FIT_CACHE: usize = 4;

/// Maximum-likelihood fit of the purchase model `M` to weighted (frequency, recency, tenure)
/// patterns: minimises the mean negative log-likelihood plus `penalizer · Σ θ²` (the
/// convention of the Python package lifetimes) by [`PurchaseProcess::minimise`], and reports
/// the unpenalized log-likelihood with standard errors ([`finish_fit`]). `converged` is true
/// only at a proper interior maximum, not [`PurchaseProcess::beyond_ridge`].
pub fn fit_purchases<M: PurchaseProcess>(
    data: &[([f64; 3], f64)],
    penalizer: f64,
    interrupt: &mut dyn FnMut(),
) -> Result<Fit, CoreError> {
    let n = purchase_data(M::FIT_NAME, data)?;
    let plan = M::arrange(data, interrupt);
    let interrupt = RefCell::new(interrupt);
    type Evaluation = (Vec<f64>, f64, [f64; 4]);
    let cache: RefCell<Vec<Evaluation>> = Default::default();
    let cached = |th: &[f64]| -> (f64, [f64; 4]) {
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
        if let Some((_, l, g)) = cache.borrow().iter().find(|e| bits(&e.0) == bits(th)) {
            return (*l, *g);
        }
        let (l, g) =
            M::from_theta(th).arranged_log_likelihood(&plan, &mut || (interrupt.borrow_mut())());
        let mut c = cache.borrow_mut();
        if c.len() == FIT_CACHE {
            c.remove(0);
        }
        c.push((th.to_vec(), l, g));
        (l, g)
    };
    let interrupt_fn = || (interrupt.borrow_mut())();
    let problem = FitProblem {
        ll: &cached,
        data,
        n,
        penalizer,
        interrupt: &interrupt_fn,
    };
    let min = M::minimise(&problem);
    let ll = |th: &[f64]| {
        let (l, g) = cached(th);
        (l, g.to_vec())
    };
    let mut fit = finish_fit(
        M::FIT_NAME,
        n,
        &ll,
        min.theta.clone(),
        min.converged,
        min.iterations,
    )?;
    if fit.converged && M::beyond_ridge(&problem, &min, &fit) {
        // no proper maximum: no covariance either (as for any fit that did not converge)
        fit.converged = false;
        fit.std_errors = None;
        fit.covariance = None;
    }
    Ok(fit)
}
