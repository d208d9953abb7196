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
    /// to infinite parameters than at the optimiser's converged result `min`: then it is no
    /// proper maximum. Checked only where the optimiser converged, before the information
    /// matrix (which such a point would only discard); default: no ridge.
    fn beyond_ridge(_problem: &FitProblem<'_>, _min: &Minimum) -> bool {
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
    // no proper maximum where the likelihood rises further along a ridge: not converged, and so
    // no information matrix either (its eight gradients took a third of the Pareto/NBD fit on
    // the data of issue 18, only to be discarded)
    let converged = min.converged && !M::beyond_ridge(&problem, &min);
    finish_fit(
        M::FIT_NAME,
        n,
        &ll,
        min.theta.clone(),
        converged,
        min.iterations,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// Evaluations of the test models' likelihood on this thread.
        static EVALUATIONS: Cell<usize> = const { Cell::new(0) };
    }

    /// A model whose log-likelihood −Σ(θ − 2)² has its maximum at θ = 2 (the optimiser's
    /// result, without evaluations), on a ridge (`RIDGE`) or a proper maximum.
    struct Quadratic<const RIDGE: bool>([f64; 4]);

    impl<const RIDGE: bool> PurchaseProcess for Quadratic<RIDGE> {
        const FIT_NAME: &'static str = "quadratic_fit";
        const NAMES: [&'static str; 4] = ["a", "b", "c", "d"];
        type Arranged<'a> = ();

        fn from_theta(theta: &[f64]) -> Self {
            Quadratic(theta[..4].try_into().expect("four values"))
        }
        fn to_theta(&self) -> [f64; 4] {
            self.0
        }
        fn arrange(_: &[([f64; 3], f64)], _: &mut dyn FnMut()) {}
        fn arranged_log_likelihood(&self, _: &(), _: &mut dyn FnMut()) -> (f64, [f64; 4]) {
            EVALUATIONS.with(|e| e.set(e.get() + 1));
            (
                -self.0.iter().map(|t| (t - 2.0).powi(2)).sum::<f64>(),
                self.0.map(|t| -2.0 * (t - 2.0)),
            )
        }
        fn log_likelihood(&self, _: &[([f64; 3], f64)]) -> (f64, [f64; 4]) {
            self.arranged_log_likelihood(&(), &mut || {})
        }
        fn p_alive(&self, _: f64, _: f64, _: f64) -> f64 {
            1.0
        }
        fn expected_purchases(&self, _: f64, _: f64, _: f64, _: f64) -> f64 {
            0.0
        }
        fn expected_purchases_new(&self, _: f64) -> f64 {
            0.0
        }
        fn minimise(_: &FitProblem<'_>) -> Minimum {
            Minimum {
                theta: vec![2.0; 4],
                x: vec![2.0f64.ln(); 4],
                f: 0.0,
                converged: true,
                iterations: 1,
            }
        }
        fn beyond_ridge(_: &FitProblem<'_>, _: &Minimum) -> bool {
            RIDGE
        }
    }

    /// A converged optimum that lies beyond a ridge is not converged and gets no information
    /// matrix: one evaluation (the log-likelihood there) instead of nine (its eight gradients
    /// only to be discarded); a proper maximum gets its standard errors.
    #[test]
    fn no_information_matrix_beyond_a_ridge() {
        let data = [([1.0, 1.0, 2.0], 1.0)];
        let evaluations = |fit: &dyn Fn() -> Fit| {
            EVALUATIONS.with(|e| e.set(0));
            let fit = fit();
            (fit, EVALUATIONS.with(Cell::get))
        };
        let (ridge, n) =
            evaluations(&|| fit_purchases::<Quadratic<true>>(&data, 0.0, &mut || {}).unwrap());
        assert!(!ridge.converged && ridge.std_errors.is_none() && ridge.covariance.is_none());
        assert_eq!(n, 1);
        let (proper, n) =
            evaluations(&|| fit_purchases::<Quadratic<false>>(&data, 0.0, &mut || {}).unwrap());
        assert!(proper.converged);
        let se = proper.std_errors.unwrap();
        // the information of −Σ(θ − 2)² is 2 I: standard errors 1/√2
        assert!(
            se.iter().all(|s| (s - 0.5f64.sqrt()).abs() < 1e-6),
            "{se:?}"
        );
        assert_eq!(n, 9);
    }
}
