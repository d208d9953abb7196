//! CLV in SQL: `bgnbd_fit` and `gamma_gamma_fit` aggregates over distinct customer patterns,
//! and per-row predictions (`p_alive`, `expected_purchases`, `expected_spend`) with a
//! per-call-site model cache.

use crate::names;
use crate::raw::*;
use crate::sql_function;
use crate::state::*;
use customer_tiers_core::clv::{
    bgnbd_fit, check_customer, gamma_gamma_expected, gamma_gamma_fit, mbgnbd_fit, paretonbd_fit,
    BgNbd, Fit, MbgNbd, ParetoNbd, Patterns, PurchaseProcess,
};
use customer_tiers_core::CoreError;
use pgrx::pg_sys;

/// The optional `weight` argument `a` (1 when the overload has none); `None` for a NULL or
/// zero weight (the row is skipped).
///
/// # Safety
///
/// `fcinfo` is the current call's; argument `a`, if any, a `double precision`.
pub(crate) unsafe fn weight(fcinfo: pg_sys::FunctionCallInfo, a: Arg) -> Option<f64> {
    // SAFETY: `fcinfo` is the current call's (caller)
    if !unsafe { has(fcinfo, a) } {
        return Some(crate::defaults::WEIGHT);
    }
    // SAFETY: as above
    let w = f8(unsafe { arg(fcinfo, a) }?);
    if !(w.is_finite() && w >= 0.0) {
        invalid(format!("{} must be a finite number >= 0, got {w}", a.name));
    }
    (w > 0.0).then_some(w)
}

// ------------------------------------------------------------------------------ aggregates

/// The penalizer argument `a` (0 when the overload has none), checked constant within a group.
///
/// # Safety
///
/// `fcinfo` is the current call's, of a transition function of the fit aggregate `agg` over
/// `Patterns<N>` (argument 0 the state); argument `a`, if any, a `double precision`.
pub(crate) unsafe fn penalizer<const N: usize>(
    fcinfo: pg_sys::FunctionCallInfo,
    a: Arg,
    agg: &str,
) -> (*mut Patterns<N>, pg_sys::Datum) {
    // SAFETY: `fcinfo` is the current call's (caller)
    let pen = if unsafe { has(fcinfo, a) } {
        // SAFETY: as above
        match unsafe { arg(fcinfo, a) } {
            Some(d) => check(Patterns::<N>::check_penalizer(f8(d))),
            None => null_not_allowed(a.name),
        }
    } else {
        crate::defaults::PENALIZER
    };
    // SAFETY: argument 0 is this aggregate's state (caller)
    let (state, datum) = unsafe {
        state_or_init(fcinfo, agg, || Patterns::<N> {
            penalizer: pen,
            ..Default::default()
        })
    };
    // SAFETY: state_or_init returns the group's live state object
    if unsafe { (*state).penalizer } != pen {
        invalid("penalizer must be the same for all rows of a group");
    }
    (state, datum)
}

sql_function!(ct_bgnbd_trans, |fcinfo| {
    use crate::args::purchase_fit::*;
    let (state, datum) = penalizer::<3>(fcinfo, PENALIZER, "bgnbd_fit");
    let state = &mut *state;
    if let (Some(x), Some(t_x), Some(t)) = (
        arg(fcinfo, FREQUENCY),
        arg(fcinfo, RECENCY),
        arg(fcinfo, TENURE),
    ) {
        let (x, t_x, t) = (f8(x), f8(t_x), f8(t));
        check(check_customer(x, t_x, t));
        if let Some(w) = weight(fcinfo, WEIGHT) {
            state.add([x, t_x, t], w);
        }
    }
    datum
});

sql_function!(ct_gamma_gamma_trans, |fcinfo| {
    use crate::args::gamma_gamma_fit::*;
    let (state, datum) = penalizer::<2>(fcinfo, PENALIZER, "gamma_gamma_fit");
    let state = &mut *state;
    if let (Some(x), Some(m)) = (arg(fcinfo, FREQUENCY), arg(fcinfo, MONETARY)) {
        let (x, m) = (f8(x), f8(m));
        // recency and tenure are not part of this model: only the frequency checks apply
        check(check_customer(x, 0.0, 0.0));
        if !m.is_finite() {
            invalid(format!("monetary must be a finite number, got {m}"));
        }
        // the model is defined for repeat buyers with a positive mean spend
        if x > 0.0 && m > 0.0 {
            if let Some(w) = weight(fcinfo, WEIGHT) {
                state.add([x, m], w);
            }
        }
    }
    datum
});

sql_function!(ct_bgnbd_combine, |fcinfo| {
    combine_states(fcinfo, "bgnbd_fit", Patterns::<3>::merge)
});

sql_function!(ct_gamma_gamma_combine, |fcinfo| {
    combine_states(fcinfo, "gamma_gamma_fit", Patterns::<2>::merge)
});

// serialize/deserialize of the internal-state aggregates of 0.2.0 catalogs (src/state.rs)
sql_function!(ct_bgnbd_serialize, |fcinfo| {
    serialize_state::<Patterns<3>>(fcinfo)
});

sql_function!(ct_bgnbd_deserialize, |fcinfo| {
    deserialize_state::<Patterns<3>>(fcinfo, "bgnbd_fit")
});

sql_function!(ct_gamma_gamma_serialize, |fcinfo| {
    serialize_state::<Patterns<2>>(fcinfo)
});

sql_function!(ct_gamma_gamma_deserialize, |fcinfo| {
    deserialize_state::<Patterns<2>>(fcinfo, "gamma_gamma_fit")
});

/// The model row: parameters, log-likelihood, customers, converged, iterations, std errors,
/// covariance.
///
/// # Safety
///
/// `fcinfo` is the current call's, of a function returning the fit's model row type.
unsafe fn model_row(fcinfo: pg_sys::FunctionCallInfo, fit: Fit) -> pg_sys::Datum {
    let k = fit.params.len();
    let mut values: Vec<pg_sys::Datum> = fit.params.iter().map(|v| f8_datum(*v)).collect();
    values.push(f8_datum(fit.log_likelihood));
    values.push(f8_datum(fit.customers));
    values.push(pg_sys::Datum::from(fit.converged));
    values.push(pg_sys::Datum::from(fit.iterations as i32));
    let mut nulls = vec![false; values.len()];
    for i in 0..k {
        match &fit.std_errors {
            Some(se) => values.push(f8_datum(se[i])),
            None => {
                values.push(pg_sys::Datum::from(0usize));
                nulls.push(true);
                continue;
            }
        }
        nulls.push(false);
    }
    match &fit.covariance {
        Some(c) => {
            values.push(f8_matrix(c, k, k));
            nulls.push(false);
        }
        None => {
            values.push(pg_sys::Datum::from(0usize));
            nulls.push(true);
        }
    }
    // SAFETY: `fcinfo` is the current call's and the values are of the model type's fields
    // (caller); the cache is this call site's
    unsafe {
        with_call_cache::<(), _>(fcinfo, |cache| {
            // the model type of 0.2.0 (no covariance) until ALTER EXTENSION … UPDATE
            if result_natts(fcinfo, cache) + 1 == values.len() {
                values.pop();
                nulls.pop();
            }
            composite(fcinfo, cache, &values, &nulls)
        })
    }
}

pub(crate) fn interrupt() {
    pgrx::check_for_interrupts!();
}

/// A maximum-likelihood fit over patterns of N numbers (from the core).
type FitFn<const N: usize> =
    fn(&[([f64; N], f64)], f64, &mut dyn FnMut()) -> Result<Fit, CoreError>;

/// The final step shared by all fit aggregates: NULL without rows, else the fitted model row.
///
/// # Safety
///
/// `fcinfo` is the current call's, of the final function of a fit aggregate over
/// `Patterns<N>` (argument 0 the state) returning the fit's model row type.
pub(crate) unsafe fn final_fit<const N: usize>(
    fcinfo: pg_sys::FunctionCallInfo,
    fit: FitFn<N>,
) -> pg_sys::Datum {
    // SAFETY: argument 0 is the aggregate's state (caller); `p` is used during the call only
    let Some(p) = (unsafe { state_arg::<Patterns<N>>(fcinfo, STATE) }) else {
        // SAFETY: `fcinfo` is the current call's (caller)
        return unsafe { return_null(fcinfo) };
    };
    if p.counts.is_empty() {
        // SAFETY: as above
        return unsafe { return_null(fcinfo) };
    }
    let start = std::time::Instant::now();
    let sorted = p.sorted_with(&mut interrupt);
    let sorted_at = start.elapsed();
    let result = check(fit(&sorted, p.penalizer, &mut interrupt));
    // for the benchmarks and a DBA wondering where the time goes (SET client_min_messages = debug1)
    let fit_time = start.elapsed() - sorted_at;
    pgrx::debug1!(
        "customer_tiers fit: {} patterns sorted in {:.3} ms, {} iterations in {:.3} ms ({:.3} ms per iteration)",
        sorted.len(),
        sorted_at.as_secs_f64() * 1e3,
        result.iterations,
        fit_time.as_secs_f64() * 1e3,
        fit_time.as_secs_f64() * 1e3 / f64::from(result.iterations.max(1))
    );
    // SAFETY: the function returns the model row type (caller)
    unsafe { model_row(fcinfo, result) }
}

sql_function!(ct_bgnbd_final, |fcinfo| {
    final_fit::<3>(fcinfo, bgnbd_fit)
});
sql_function!(ct_mbgnbd_final, |fcinfo| {
    final_fit::<3>(fcinfo, mbgnbd_fit)
});
sql_function!(ct_paretonbd_final, |fcinfo| {
    final_fit::<3>(fcinfo, paretonbd_fit)
});
sql_function!(ct_gamma_gamma_final, |fcinfo| {
    final_fit::<2>(fcinfo, gamma_gamma_fit)
});

// ----------------------------------------------------------------------------- predictions

/// The parameters of a model value, parsed once per call site and value.
#[derive(Default)]
pub(crate) struct ModelCache {
    bytes: Vec<u8>,
    params: Vec<f64>,
    /// The `covariance` field (row-major k × k), `None` when NULL (no positive-definite
    /// information matrix, or a model stored by 0.2.0).
    covariance: Option<Vec<f64>>,
}

/// Fields of the purchase models' rows (`tiers.bgnbd_model`, `mbgnbd_model`, `paretonbd_model`,
/// `bgbb_model`): 4 parameters, log_likelihood, customers, converged, iterations, 4 standard
/// errors, covariance.
pub(crate) const PURCHASE_FIELDS: usize = names::BGNBD_MODEL.len();
const _: () = assert!(
    names::MBGNBD_MODEL.len() == PURCHASE_FIELDS
        && names::PARETONBD_MODEL.len() == PURCHASE_FIELDS
        && names::BGBB_MODEL.len() == PURCHASE_FIELDS
        && names::field(&names::BGNBD_MODEL, "covariance") == PURCHASE_FIELDS - 1
);
/// Fields of `tiers.gamma_gamma_model`: 3 parameters, log_likelihood, customers, converged,
/// iterations, 3 standard errors, covariance.
pub(crate) const GG_FIELDS: usize = names::GAMMA_GAMMA_MODEL.len();
const _: () = assert!(names::field(&names::GAMMA_GAMMA_MODEL, "covariance") == GG_FIELDS - 1);

/// The first `k` parameters of the model `d` (a row of `N` fields, the covariance last), parsed
/// once per call site and value into the call site's [`ModelCache`].
///
/// # Safety
///
/// `fcinfo` is the current call's, whose call site caches a [`ModelCache`] (or nothing yet), and
/// `d` a datum of it of the model row type `type_name`.
pub(crate) unsafe fn params<const N: usize>(
    fcinfo: pg_sys::FunctionCallInfo,
    d: pg_sys::Datum,
    k: usize,
    names: &[&str],
    type_name: &str,
) -> Vec<f64> {
    // SAFETY: the caller's obligations
    unsafe {
        with_call_cache::<ModelCache, _>(fcinfo, |cache| {
            cached_params::<N>(&mut cache.extra, d, k, names, type_name)
        })
    }
}

/// As [`params`], with the cache given.
///
/// # Safety
///
/// `d` is a datum of the current call of the model row type `type_name` (`N` fields).
unsafe fn cached_params<const N: usize>(
    cache: &mut ModelCache,
    d: pg_sys::Datum,
    k: usize,
    names: &[&str],
    type_name: &str,
) -> Vec<f64> {
    // SAFETY: `d` is a composite (varlena) datum of the current call (caller)
    let bytes = unsafe { varlena_bytes(&d) };
    if cache.params.is_empty() || cache.bytes != bytes {
        // a model of the 0.2.0 type has no covariance field (read as NULL)
        // SAFETY: `d` is a row of the model type (caller)
        let (values, nulls) = unsafe { deform_at_least::<N>(d, type_name, N - 1) };
        let mut ps = Vec::with_capacity(k);
        for i in 0..k {
            let v = f8(values[i]);
            if nulls[i] || !(v.is_finite() && v > 0.0) {
                invalid(format!("model.{} must be a positive number", names[i]));
            }
            ps.push(v);
        }
        cache.covariance = (!nulls[N - 1]).then(|| {
            // SAFETY: the last field of the model type is a float8[], not NULL here
            let c = unsafe { f8_array(values[N - 1], "model.covariance") };
            let square = c.len() == k * k && c.iter().all(|v| v.is_finite());
            if !square || (0..k).any(|i| c[i * k + i] <= 0.0) {
                invalid(format!(
                    "model.covariance must be a {k} x {k} matrix of finite numbers with a positive diagonal"
                ));
            }
            c
        });
        cache.params = ps;
        cache.bytes.clear();
        cache.bytes.extend_from_slice(bytes);
    }
    cache.params.clone()
}

pub(crate) fn finite(v: f64, what: &str) -> pg_sys::Datum {
    if !v.is_finite() {
        check::<()>(Err(CoreError::OutOfRange(format!(
            "{what} is not finite for this model (e.g. a = 1 or q <= 1)"
        ))));
    }
    f8_datum(v)
}

/// A repeat buyer's mean spend must be a finite number >= 0 (0 is the prior mean shrunk by x).
fn check_monetary(x: f64, m: f64) {
    if x > 0.0 && !(m.is_finite() && m >= 0.0) {
        invalid(format!(
            "monetary must be a finite number >= 0 for a repeat buyer, got {m}"
        ));
    }
}

/// The customer's (frequency, recency, tenure) from the arguments `[frequency, recency,
/// tenure]`, checked; None if any is NULL.
///
/// # Safety
///
/// `fcinfo` is the current call's.
pub(crate) unsafe fn customer(
    fcinfo: pg_sys::FunctionCallInfo,
    [frequency, recency, tenure]: [Arg; 3],
) -> Option<(f64, f64, f64)> {
    // SAFETY: `fcinfo` is the current call's (caller)
    let get = |a: Arg| unsafe { arg(fcinfo, a) };
    let (x, t_x, t) = (f8(get(frequency)?), f8(get(recency)?), f8(get(tenure)?));
    check(check_customer(x, t_x, t));
    Some((x, t_x, t))
}

/// The `horizon` argument `a`, checked; None if NULL.
///
/// # Safety
///
/// `fcinfo` is the current call's.
unsafe fn horizon(fcinfo: pg_sys::FunctionCallInfo, a: Arg) -> Option<f64> {
    // SAFETY: `fcinfo` is the current call's (caller)
    let h = f8(unsafe { arg(fcinfo, a) }?);
    if !(h.is_finite() && h >= 0.0) {
        invalid(format!("{} must be a finite number >= 0, got {h}", a.name));
    }
    Some(h)
}

/// A purchase model as the SQL skin sees it: the core's model (named parameters, likelihood and
/// predictions through `PurchaseProcess`), its SQL row type and its purchase-count model. The C
/// functions are generic over it (`p_alive::<BgNbd>`), so no code matches on the model kind.
pub(crate) trait SqlPurchase: PurchaseProcess {
    /// The composite type of its fits (four parameters first: the row layout all three share).
    const SQL_TYPE: &'static str;
    /// The same model in the purchase-count module.
    const COUNTS: customer_tiers_core::purchases::PurchaseModel;
}

impl SqlPurchase for BgNbd {
    const SQL_TYPE: &'static str = "tiers.bgnbd_model";
    const COUNTS: customer_tiers_core::purchases::PurchaseModel =
        customer_tiers_core::purchases::PurchaseModel::BgNbd;
}

impl SqlPurchase for MbgNbd {
    const SQL_TYPE: &'static str = "tiers.mbgnbd_model";
    const COUNTS: customer_tiers_core::purchases::PurchaseModel =
        customer_tiers_core::purchases::PurchaseModel::MbgNbd;
}

impl SqlPurchase for ParetoNbd {
    const SQL_TYPE: &'static str = "tiers.paretonbd_model";
    const COUNTS: customer_tiers_core::purchases::PurchaseModel =
        customer_tiers_core::purchases::PurchaseModel::ParetoNbd;
}

/// `p_alive(model, frequency, recency, tenure)`.
///
/// # Safety
///
/// `fcinfo` is the current call's, argument 0 a model of `M`.
unsafe fn p_alive<M: SqlPurchase>(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    use crate::args::p_alive::*;
    // SAFETY: `fcinfo` is the current call's (caller)
    let (Some(model), Some((x, t_x, t))) = (unsafe {
        (
            arg(fcinfo, MODEL),
            customer(fcinfo, [FREQUENCY, RECENCY, TENURE]),
        )
    }) else {
        // SAFETY: as above
        return unsafe { return_null(fcinfo) };
    };
    // SAFETY: argument 0 is a model of `M` (caller)
    let theta = unsafe { params::<PURCHASE_FIELDS>(fcinfo, model, 4, &M::NAMES, M::SQL_TYPE) };
    finite(M::from_theta(&theta).p_alive(x, t_x, t), "p_alive")
}

/// `expected_purchases(model, horizon, frequency, recency, tenure)`.
///
/// # Safety
///
/// `fcinfo` is the current call's, argument 0 a model of `M`.
unsafe fn expected<M: SqlPurchase>(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    use crate::args::expected_purchases::*;
    // SAFETY: `fcinfo` is the current call's (caller)
    let (Some(model), Some(h), Some((x, t_x, t))) = (unsafe {
        (
            arg(fcinfo, MODEL),
            horizon(fcinfo, HORIZON),
            customer(fcinfo, [FREQUENCY, RECENCY, TENURE]),
        )
    }) else {
        // SAFETY: as above
        return unsafe { return_null(fcinfo) };
    };
    // SAFETY: argument 0 is a model of `M` (caller)
    let theta = unsafe { params::<PURCHASE_FIELDS>(fcinfo, model, 4, &M::NAMES, M::SQL_TYPE) };
    finite(
        M::from_theta(&theta).expected_purchases(h, x, t_x, t),
        "expected_purchases",
    )
}

/// `expected_purchases(model, horizon)`: a new customer.
///
/// # Safety
///
/// `fcinfo` is the current call's, argument 0 a model of `M`.
unsafe fn expected_new<M: SqlPurchase>(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    use crate::args::expected_purchases::*;
    // SAFETY: `fcinfo` is the current call's (caller)
    let (Some(model), Some(h)) = (unsafe { (arg(fcinfo, MODEL), horizon(fcinfo, HORIZON)) }) else {
        // SAFETY: as above
        return unsafe { return_null(fcinfo) };
    };
    // SAFETY: argument 0 is a model of `M` (caller)
    let theta = unsafe { params::<PURCHASE_FIELDS>(fcinfo, model, 4, &M::NAMES, M::SQL_TYPE) };
    finite(
        M::from_theta(&theta).expected_purchases_new(h),
        "expected_purchases",
    )
}

sql_function!(ct_bgnbd_p_alive, |fcinfo| { p_alive::<BgNbd>(fcinfo) });
sql_function!(ct_mbgnbd_p_alive, |fcinfo| { p_alive::<MbgNbd>(fcinfo) });
sql_function!(ct_bgnbd_expected_purchases, |fcinfo| {
    expected::<BgNbd>(fcinfo)
});
sql_function!(ct_mbgnbd_expected_purchases, |fcinfo| {
    expected::<MbgNbd>(fcinfo)
});
sql_function!(ct_bgnbd_expected_purchases_new, |fcinfo| {
    expected_new::<BgNbd>(fcinfo)
});
sql_function!(ct_mbgnbd_expected_purchases_new, |fcinfo| {
    expected_new::<MbgNbd>(fcinfo)
});
sql_function!(ct_paretonbd_p_alive, |fcinfo| {
    p_alive::<ParetoNbd>(fcinfo)
});
sql_function!(ct_paretonbd_expected_purchases, |fcinfo| {
    expected::<ParetoNbd>(fcinfo)
});
sql_function!(ct_paretonbd_expected_purchases_new, |fcinfo| {
    expected_new::<ParetoNbd>(fcinfo)
});

sql_function!(ct_gamma_gamma_expected_spend, |fcinfo| {
    use crate::args::expected_spend::*;
    let (Some(model), Some(x), Some(m)) = (
        arg(fcinfo, MODEL),
        arg(fcinfo, FREQUENCY),
        arg(fcinfo, MONETARY),
    ) else {
        return return_null(fcinfo);
    };
    let (x, m) = (f8(x), f8(m));
    if !(x.is_finite() && x >= 0.0 && x.fract() == 0.0) {
        invalid(format!("frequency must be a whole number >= 0, got {x}"));
    }
    check_monetary(x, m);
    let theta = params::<GG_FIELDS>(
        fcinfo,
        model,
        3,
        &["p", "q", "v"],
        "tiers.gamma_gamma_model",
    );
    finite(check(gamma_gamma_expected(&theta, x, m)), "expected_spend")
});

// ------------------------------------------------------------------------- simple formula

fn simple(
    avg_order_value: f64,
    purchases_per_period: f64,
    margin: f64,
    retention_rate: f64,
    discount_rate: f64,
    periods: Option<i64>,
) -> f64 {
    check(customer_tiers_core::clv::simple_clv(
        avg_order_value,
        purchases_per_period,
        margin,
        retention_rate,
        discount_rate,
        periods,
    ))
}

/// The classic CLV formula over an infinite horizon.
#[pgrx::pg_extern(immutable, strict, parallel_safe, name = "clv_estimate")]
fn clv_estimate_infinite(
    avg_order_value: f64,
    purchases_per_period: f64,
    margin: f64,
    retention_rate: f64,
    discount_rate: f64,
) -> f64 {
    simple(
        avg_order_value,
        purchases_per_period,
        margin,
        retention_rate,
        discount_rate,
        None,
    )
}

/// The classic CLV formula over `periods` periods.
#[pgrx::pg_extern(immutable, strict, parallel_safe, name = "clv_estimate")]
fn clv_estimate_periods(
    avg_order_value: f64,
    purchases_per_period: f64,
    margin: f64,
    retention_rate: f64,
    discount_rate: f64,
    periods: i32,
) -> f64 {
    simple(
        avg_order_value,
        purchases_per_period,
        margin,
        retention_rate,
        discount_rate,
        Some(periods as i64),
    )
}

// ------------------------------------------------------------------- model-based CLV

/// Both models of a `clv_estimate` call site.
#[derive(Default)]
struct TwoModels {
    purchase: ModelCache,
    spend: ModelCache,
}

/// An `interval` argument that must not be NULL, in microseconds.
///
/// # Safety
///
/// `fcinfo` is the current call's and argument `a` an `interval`.
unsafe fn interval_arg(fcinfo: pg_sys::FunctionCallInfo, a: Arg) -> f64 {
    // SAFETY: `fcinfo` is the current call's (caller)
    let Some(d) = (unsafe { arg(fcinfo, a) }) else {
        null_not_allowed(a.name)
    };
    // SAFETY: a non-NULL interval datum points at an Interval (caller), valid for the call
    let iv = unsafe { &*(d.cast_mut_ptr::<pg_sys::Interval>()) };
    customer_tiers_core::time::interval_usecs(iv.month, iv.day, iv.time)
}

/// The checked arguments of `clv_estimate`/`clv_interval` after the two models.
struct ClvArgs {
    /// The discount period in the unit of the summaries.
    period: f64,
    steps: u32,
    discount_rate: f64,
    x: f64,
    t_x: f64,
    t: f64,
    m: f64,
}

/// Reads and checks the arguments (purchase_model, gg_model, frequency, recency, tenure,
/// monetary, horizon, discount_rate, unit, discount_period); `None` when a model or the
/// customer's data are NULL (the result is NULL).
///
/// # Safety
///
/// `fcinfo` is the current call's, with those arguments (horizon, unit and discount_period
/// `interval`s, the others `double precision` after the two models); `clv_interval`'s start
/// with them (asserted in `src/args.rs`).
unsafe fn clv_args(
    fcinfo: pg_sys::FunctionCallInfo,
) -> Option<(pg_sys::Datum, pg_sys::Datum, ClvArgs)> {
    use crate::args::clv_estimate::*;
    // SAFETY: horizon, unit and discount_period are intervals (caller)
    let (unit, horizon, period) = unsafe {
        (
            interval_arg(fcinfo, UNIT),
            interval_arg(fcinfo, HORIZON),
            interval_arg(fcinfo, DISCOUNT_PERIOD),
        )
    };
    if unit <= 0.0 {
        invalid("unit must be a positive interval (the unit the summaries were computed in)");
    }
    if period <= 0.0 {
        invalid("discount_period must be a positive interval");
    }
    if horizon < 0.0 {
        invalid("horizon must not be negative");
    }
    let steps = horizon / period;
    if (steps - steps.round()).abs() > 1e-9 * steps.max(1.0) || steps > 100_000.0 {
        invalid("horizon must be a whole number (at most 100000) of discount periods");
    }
    // SAFETY: `fcinfo` is the current call's (caller)
    let Some(d) = (unsafe { arg(fcinfo, DISCOUNT_RATE) }).map(f8) else {
        null_not_allowed(DISCOUNT_RATE.name)
    };
    if !(d.is_finite() && d >= 0.0) {
        invalid(format!(
            "discount_rate must be a finite number >= 0, got {d}"
        ));
    }
    // SAFETY: `fcinfo` is the current call's (caller)
    let (Some(pm), Some(gm), Some((x, t_x, t)), Some(m)) = (unsafe {
        (
            arg(fcinfo, PURCHASE_MODEL),
            arg(fcinfo, GG_MODEL),
            customer(fcinfo, [FREQUENCY, RECENCY, TENURE]),
            arg(fcinfo, MONETARY).map(f8),
        )
    }) else {
        return None;
    };
    check_monetary(x, m);
    let a = ClvArgs {
        period: period / unit,
        steps: steps.round() as u32,
        discount_rate: d,
        x,
        t_x,
        t,
        m,
    };
    Some((pm, gm, a))
}

/// The CLV of one customer: purchase model `theta` × Gamma-Gamma `gg`.
fn clv_value<M: SqlPurchase>(theta: &[f64], gg: &[f64], a: &ClvArgs) -> Result<f64, CoreError> {
    let spend = gamma_gamma_expected(gg, a.x, a.m)?;
    let cumulative = |h: f64| M::from_theta(theta).expected_purchases(h, a.x, a.t_x, a.t);
    Ok(customer_tiers_core::clv::discounted_clv(
        &cumulative,
        spend,
        a.period,
        a.steps,
        a.discount_rate,
    ))
}

/// Both models of a CLV call, read once per call site and value into the call site's cache
/// (the only cache type these functions use): parameters and covariances.
///
/// # Safety
///
/// `pm` is a datum of the current call of `M`'s model type, `gm` one of
/// `tiers.gamma_gamma_model`.
unsafe fn two_models<M: SqlPurchase>(
    cache: &mut CallCache<TwoModels>,
    pm: pg_sys::Datum,
    gm: pg_sys::Datum,
) -> (Vec<f64>, Vec<f64>) {
    // SAFETY: `pm` is a model of `M` (caller)
    let theta = unsafe {
        cached_params::<PURCHASE_FIELDS>(&mut cache.extra.purchase, pm, 4, &M::NAMES, M::SQL_TYPE)
    };
    // SAFETY: `gm` is a Gamma-Gamma model (caller)
    let gg = unsafe {
        cached_params::<GG_FIELDS>(
            &mut cache.extra.spend,
            gm,
            3,
            &["p", "q", "v"],
            "tiers.gamma_gamma_model",
        )
    };
    (theta, gg)
}

/// Discounted expected value over `horizon`: purchase model × Gamma-Gamma spend, discounted
/// once per `discount_period`; every time is an interval, converted with the `unit` the
/// summaries were computed in, so a horizon in months cannot be read as weeks.
///
/// # Safety
///
/// `fcinfo` is the current call's, of `clv_estimate` for `M` (see [`clv_args`]).
unsafe fn clv<M: SqlPurchase>(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: the arguments are clv_estimate's (caller)
    let Some((pm, gm, a)) = (unsafe { clv_args(fcinfo) }) else {
        // SAFETY: `fcinfo` is the current call's (caller)
        return unsafe { return_null(fcinfo) };
    };
    // SAFETY: the call site's cache; `pm` and `gm` are the two models (caller)
    let (theta, gg) =
        unsafe { with_call_cache::<TwoModels, _>(fcinfo, |cache| two_models::<M>(cache, pm, gm)) };
    finite(check(clv_value::<M>(&theta, &gg, &a)), "clv_estimate")
}

// ------------------------------------------------------------ intervals (issue 13)

/// The `level` argument: a number strictly between 0 and 1 (22023 otherwise).
///
/// # Safety
///
/// `fcinfo` is the current call's.
pub(crate) unsafe fn level_arg(fcinfo: pg_sys::FunctionCallInfo, a: Arg) -> f64 {
    // SAFETY: `fcinfo` is the current call's (caller)
    let Some(d) = (unsafe { arg(fcinfo, a) }) else {
        null_not_allowed(a.name)
    };
    let level = f8(d);
    check(customer_tiers_core::intervals::z_of_level(level));
    level
}

/// A `tiers.prediction_interval` row (estimate, low, high, se, level): the log-scale delta
/// method over the model's covariance `cov`; low, high and se NULL without a covariance.
/// `cache` is the call site's cache (its result descriptor is kept there).
///
/// # Safety
///
/// `fcinfo` is the current call's, of a function returning `tiers.prediction_interval`, and
/// `cache` its call site's cache.
unsafe fn interval_row<T>(
    fcinfo: pg_sys::FunctionCallInfo,
    cache: &mut CallCache<T>,
    g: &dyn Fn(&[f64]) -> f64,
    theta: &[f64],
    cov: Option<&[f64]>,
    level: f64,
    what: &str,
) -> pg_sys::Datum {
    let estimate = g(theta) + 0.0; // no -0 for a zero horizon
    finite(estimate, what);
    let iv = cov.map(|c| {
        check(customer_tiers_core::intervals::log_delta(
            g, theta, c, level,
        ))
    });
    let (low, low_null) = opt_f8(iv.map(|i| i.low));
    let (high, high_null) = opt_f8(iv.map(|i| i.high));
    let (se, se_null) = opt_f8(iv.map(|i| i.se));
    let values: [pg_sys::Datum; names::PREDICTION_INTERVAL.len()] =
        [f8_datum(estimate), low, high, se, f8_datum(level)];
    let nulls = [false, low_null, high_null, se_null, false];
    // SAFETY: the caller's obligations; the values are the row type's five float8 fields
    unsafe { composite(fcinfo, cache, &values, &nulls) }
}

/// The interval of a prediction `g(θ)` of a model argument (4 parameters; parsed once per call
/// site and value); shared with BG/BB.
///
/// # Safety
///
/// `fcinfo` is the current call's, of a function returning `tiers.prediction_interval` whose
/// call site caches a [`ModelCache`] (or nothing yet); `model` a datum of it of the model row
/// type `type_name` (`N` fields).
pub(crate) unsafe fn prediction_interval<const N: usize>(
    fcinfo: pg_sys::FunctionCallInfo,
    model: pg_sys::Datum,
    names: &[&str],
    type_name: &str,
    level: f64,
    g: &dyn Fn(&[f64]) -> f64,
    what: &str,
) -> pg_sys::Datum {
    // SAFETY: the caller's obligations
    unsafe {
        with_call_cache::<ModelCache, _>(fcinfo, |cache| {
            let theta = cached_params::<N>(&mut cache.extra, model, 4, names, type_name);
            let cov = cache.extra.covariance.clone();
            interval_row(fcinfo, cache, g, &theta, cov.as_deref(), level, what)
        })
    }
}

// tiers.expected_purchases_interval(model, horizon, frequency, recency, tenure, level)
/// # Safety
///
/// `fcinfo` is the current call's, of `expected_purchases_interval` for `M`.
unsafe fn expected_interval<M: SqlPurchase>(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    use crate::args::expected_purchases_interval::*;
    // SAFETY: `fcinfo` is the current call's (caller)
    let (Some(model), Some(h), Some((x, t_x, t))) = (unsafe {
        (
            arg(fcinfo, MODEL),
            horizon(fcinfo, HORIZON),
            customer(fcinfo, [FREQUENCY, RECENCY, TENURE]),
        )
    }) else {
        // SAFETY: as above
        return unsafe { return_null(fcinfo) };
    };
    // SAFETY: as above
    let level = unsafe { level_arg(fcinfo, LEVEL) };
    let g = |th: &[f64]| M::from_theta(th).expected_purchases(h, x, t_x, t);
    // SAFETY: argument 0 is a model of `M`; the function returns a prediction interval
    // (caller)
    unsafe {
        prediction_interval::<PURCHASE_FIELDS>(
            fcinfo,
            model,
            &M::NAMES,
            M::SQL_TYPE,
            level,
            &g,
            "expected_purchases",
        )
    }
}

sql_function!(ct_bgnbd_expected_purchases_interval, |fcinfo| {
    expected_interval::<BgNbd>(fcinfo)
});
sql_function!(ct_mbgnbd_expected_purchases_interval, |fcinfo| {
    expected_interval::<MbgNbd>(fcinfo)
});
sql_function!(ct_paretonbd_expected_purchases_interval, |fcinfo| {
    expected_interval::<ParetoNbd>(fcinfo)
});

// tiers.clv_interval(purchase_model, gg_model, frequency, recency, tenure, monetary, horizon,
// discount_rate, unit, discount_period, level): the two models' parameters are independent
// estimates (Gamma-Gamma assumes spend independent of purchasing), so their covariance is
// block-diagonal.
/// # Safety
///
/// `fcinfo` is the current call's, of `clv_interval` for `M` (see [`clv_args`]; argument
/// 10 the level).
unsafe fn clv_interval<M: SqlPurchase>(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: the arguments are clv_interval's (caller)
    let args = unsafe { clv_args(fcinfo) };
    // checked like the other scalar arguments, also where NULL data make the result NULL
    // SAFETY: as above
    let level = unsafe { level_arg(fcinfo, crate::args::clv_interval::LEVEL) };
    let Some((pm, gm, a)) = args else {
        // SAFETY: `fcinfo` is the current call's (caller)
        return unsafe { return_null(fcinfo) };
    };
    // SAFETY: the call site's cache; `pm` and `gm` are the two models and the function returns
    // a prediction interval (caller)
    unsafe {
        with_call_cache::<TwoModels, _>(fcinfo, |cache| {
            let (theta, gg) = two_models::<M>(cache, pm, gm);
            let all: Vec<f64> = theta.iter().chain(&gg).copied().collect();
            let cov = match (
                &cache.extra.purchase.covariance,
                &cache.extra.spend.covariance,
            ) {
                (Some(p), Some(s)) => {
                    Some(customer_tiers_core::intervals::block_diagonal(p, 4, s, 3))
                }
                _ => None,
            };
            let g = |th: &[f64]| clv_value::<M>(&th[..4], &th[4..], &a).unwrap_or(f64::NAN);
            interval_row(
                fcinfo,
                cache,
                &g,
                &all,
                cov.as_deref(),
                level,
                "clv_interval",
            )
        })
    }
}

sql_function!(ct_bgnbd_clv_interval, |fcinfo| {
    clv_interval::<BgNbd>(fcinfo)
});
sql_function!(ct_mbgnbd_clv_interval, |fcinfo| {
    clv_interval::<MbgNbd>(fcinfo)
});
sql_function!(ct_paretonbd_clv_interval, |fcinfo| {
    clv_interval::<ParetoNbd>(fcinfo)
});

sql_function!(ct_bgnbd_clv_estimate, |fcinfo| { clv::<BgNbd>(fcinfo) });
sql_function!(ct_mbgnbd_clv_estimate, |fcinfo| { clv::<MbgNbd>(fcinfo) });
sql_function!(ct_paretonbd_clv_estimate, |fcinfo| {
    clv::<ParetoNbd>(fcinfo)
});

// ------------------------------------------------- purchase counts and churn (issue 13)

/// The core's descriptions of the arguments and their SQL names.
const NAMES: &[(&str, &str)] = &[("the number of purchases", "n"), ("the period length", "t")];

// tiers.probability_of_purchases(model, n integer, t [, frequency, recency, tenure])
/// # Safety
///
/// `fcinfo` is the current call's, of `probability_of_purchases` for `M`.
unsafe fn probability_of_purchases<M: SqlPurchase>(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    use crate::args::probability_of_purchases::*;
    // SAFETY: `fcinfo` is the current call's (caller)
    let (Some(m), Some(n), Some(t)) =
        (unsafe { (arg(fcinfo, MODEL), arg(fcinfo, N), arg(fcinfo, T)) })
    else {
        // SAFETY: as above
        return unsafe { return_null(fcinfo) };
    };
    // SAFETY: argument 0 is a model of `M` (caller)
    let theta = unsafe { params::<PURCHASE_FIELDS>(fcinfo, m, 4, &M::NAMES, M::SQL_TYPE) };
    let (n, t) = (n.value() as i32 as f64, f8(t));
    // SAFETY: as above
    let v = if unsafe { has(fcinfo, FREQUENCY) } {
        // SAFETY: as above
        let Some((x, t_x, big_t)) = (unsafe { customer(fcinfo, [FREQUENCY, RECENCY, TENURE]) })
        else {
            // SAFETY: as above
            return unsafe { return_null(fcinfo) };
        };
        check_named(
            customer_tiers_core::purchases::conditional_purchases_pmf(
                M::COUNTS,
                &theta,
                n,
                t,
                x,
                t_x,
                big_t,
            ),
            NAMES,
        )
    } else {
        check_named(
            customer_tiers_core::purchases::purchases_pmf(M::COUNTS, &theta, n, t),
            NAMES,
        )
    };
    finite(v, "probability_of_purchases")
}

// tiers.churn_probability(model, t, frequency, recency, tenure)
/// # Safety
///
/// `fcinfo` is the current call's, of `churn_probability` for `M`.
unsafe fn churn_probability<M: SqlPurchase>(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    use crate::args::churn_probability::*;
    // SAFETY: `fcinfo` is the current call's (caller)
    let (Some(m), Some(t), Some((x, t_x, big_t))) = (unsafe {
        (
            arg(fcinfo, MODEL),
            arg(fcinfo, T),
            customer(fcinfo, [FREQUENCY, RECENCY, TENURE]),
        )
    }) else {
        // SAFETY: as above
        return unsafe { return_null(fcinfo) };
    };
    // SAFETY: argument 0 is a model of `M` (caller)
    let theta = unsafe { params::<PURCHASE_FIELDS>(fcinfo, m, 4, &M::NAMES, M::SQL_TYPE) };
    let v = check_named(
        customer_tiers_core::purchases::churn_probability(M::COUNTS, &theta, f8(t), x, t_x, big_t),
        NAMES,
    );
    finite(v, "churn_probability")
}

sql_function!(ct_bgnbd_probability_of_purchases, |fcinfo| {
    probability_of_purchases::<BgNbd>(fcinfo)
});
sql_function!(ct_mbgnbd_probability_of_purchases, |fcinfo| {
    probability_of_purchases::<MbgNbd>(fcinfo)
});
sql_function!(ct_paretonbd_probability_of_purchases, |fcinfo| {
    probability_of_purchases::<ParetoNbd>(fcinfo)
});
sql_function!(ct_bgnbd_churn_probability, |fcinfo| {
    churn_probability::<BgNbd>(fcinfo)
});
sql_function!(ct_mbgnbd_churn_probability, |fcinfo| {
    churn_probability::<MbgNbd>(fcinfo)
});
sql_function!(ct_paretonbd_churn_probability, |fcinfo| {
    churn_probability::<ParetoNbd>(fcinfo)
});
