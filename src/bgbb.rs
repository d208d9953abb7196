//! BG/BB in SQL (issue 13): the discrete-time model of Fader, Hardie & Shang (2010) for customers
//! with one chance to buy per period (yearly donations, subscriptions renewed or not, events).
//! The mathematics is in `core/src/bgbb.rs`; this file reads arguments and raises errors.

use crate::clv::{
    final_fit, finite, level_arg, params, penalizer, prediction_interval, weight, PURCHASE_FIELDS,
};
use crate::raw::*;
use crate::sql_function;
use crate::state::*;
use customer_tiers_core::bgbb::{
    bgbb_conditional_probability_of_purchases, bgbb_expected, bgbb_expected_new, bgbb_fit,
    bgbb_p_alive, bgbb_probability_of_purchases, check_bgbb_customer,
};
use customer_tiers_core::clv::Patterns;
use pgrx::pg_sys;

const AGG: &str = "bgbb_fit";
const TYPE: &str = "tiers.bgbb_model";
const NAMES: [&str; 4] = ["alpha", "beta", "gamma", "delta"];

// tiers.bgbb_trans(state, frequency, recency, n_periods [, weight [, penalizer]]): rows with a
// NULL frequency, recency or n_periods are skipped; a weight of 0 too.
sql_function!(ct_bgbb_trans, |fcinfo| {
    use crate::args::bgbb_fit::*;
    let (state, datum) = penalizer::<3>(fcinfo, PENALIZER, AGG);
    let state = &mut *state;
    if let (Some(x), Some(t_x), Some(n)) = (
        arg(fcinfo, FREQUENCY),
        arg(fcinfo, RECENCY),
        arg(fcinfo, N_PERIODS),
    ) {
        let (x, t_x, n) = (f8(x), f8(t_x), f8(n));
        check(check_bgbb_customer(x, t_x, n));
        if let Some(w) = weight(fcinfo, WEIGHT) {
            state.add([x, t_x, n], w);
        }
    }
    datum
});

sql_function!(ct_bgbb_combine, |fcinfo| {
    combine_states(fcinfo, AGG, Patterns::<3>::merge)
});

sql_function!(ct_bgbb_final, |fcinfo| { final_fit::<3>(fcinfo, bgbb_fit) });

/// The model's parameters (checked once per call site and value).
///
/// # Safety
///
/// As [`params`]: `fcinfo` is the current call's and `d` a `tiers.bgbb_model` datum of it.
unsafe fn theta(fcinfo: pg_sys::FunctionCallInfo, d: pg_sys::Datum) -> Vec<f64> {
    // SAFETY: the caller's obligations
    unsafe { params::<PURCHASE_FIELDS>(fcinfo, d, 4, &NAMES, TYPE) }
}

/// The customer's (frequency, recency, n_periods) from the arguments `[frequency, recency,
/// n_periods]`; None if any is NULL.
///
/// # Safety
///
/// `fcinfo` is the current call's.
unsafe fn history(
    fcinfo: pg_sys::FunctionCallInfo,
    [frequency, recency, n_periods]: [Arg; 3],
) -> Option<(f64, f64, f64)> {
    // SAFETY: `fcinfo` is the current call's (caller)
    let get = |a: Arg| unsafe { arg(fcinfo, a) };
    Some((f8(get(frequency)?), f8(get(recency)?), f8(get(n_periods)?)))
}

// tiers.p_alive(model tiers.bgbb_model, frequency, recency, n_periods, periods_ahead integer)
sql_function!(ct_bgbb_p_alive, |fcinfo| {
    use crate::args::bgbb_p_alive::*;
    let (Some(m), Some((x, t_x, n)), Some(ahead)) = (
        arg(fcinfo, MODEL),
        history(fcinfo, [FREQUENCY, RECENCY, N_PERIODS]),
        arg(fcinfo, PERIODS_AHEAD),
    ) else {
        return return_null(fcinfo);
    };
    let th = theta(fcinfo, m);
    let ahead = ahead.value() as i32 as f64;
    let v = check_named(
        bgbb_p_alive(&th, x, t_x, n, ahead),
        &[("m_periods_in_future", "periods_ahead")],
    );
    finite(v, "p_alive")
});

// tiers.expected_purchases(model tiers.bgbb_model, periods, frequency, recency, n_periods)
sql_function!(ct_bgbb_expected_purchases, |fcinfo| {
    use crate::args::bgbb_expected_purchases::*;
    let (Some(m), Some(p), Some((x, t_x, n))) = (
        arg(fcinfo, MODEL),
        arg(fcinfo, PERIODS),
        history(fcinfo, [FREQUENCY, RECENCY, N_PERIODS]),
    ) else {
        return return_null(fcinfo);
    };
    let th = theta(fcinfo, m);
    let v = check_named(
        bgbb_expected(&th, f8(p), x, t_x, n),
        &[("n_star", "periods")],
    );
    finite(v, "expected_purchases")
});

// tiers.expected_purchases_interval(model tiers.bgbb_model, periods, frequency, recency,
// n_periods, level)
sql_function!(ct_bgbb_expected_purchases_interval, |fcinfo| {
    use crate::args::bgbb_expected_purchases_interval::*;
    let (Some(m), Some(p), Some((x, t_x, n))) = (
        arg(fcinfo, MODEL),
        arg(fcinfo, PERIODS),
        history(fcinfo, [FREQUENCY, RECENCY, N_PERIODS]),
    ) else {
        return return_null(fcinfo);
    };
    let level = level_arg(fcinfo, LEVEL);
    let p = f8(p);
    // the arguments are checked at the fitted parameters; nearby ones only move the estimate
    check_named(
        bgbb_expected(&theta(fcinfo, m), p, x, t_x, n),
        &[("n_star", "periods")],
    );
    let g = |th: &[f64]| bgbb_expected(th, p, x, t_x, n).unwrap_or(f64::NAN);
    prediction_interval::<PURCHASE_FIELDS>(fcinfo, m, &NAMES, TYPE, level, &g, "expected_purchases")
});

// tiers.expected_purchases(model tiers.bgbb_model, periods): a new customer
sql_function!(ct_bgbb_expected_purchases_new, |fcinfo| {
    use crate::args::bgbb_expected_purchases::*;
    let (Some(m), Some(p)) = (arg(fcinfo, MODEL), arg(fcinfo, PERIODS)) else {
        return return_null(fcinfo);
    };
    let th = theta(fcinfo, m);
    let v = check_named(bgbb_expected_new(&th, f8(p)), &[("n_periods", "periods")]);
    finite(v, "expected_purchases")
});

// tiers.probability_of_purchases(model tiers.bgbb_model, n integer, periods [, frequency,
// recency, n_periods]): P(exactly n purchases in the next `periods` opportunities)
sql_function!(ct_bgbb_probability_of_purchases, |fcinfo| {
    use crate::args::bgbb_probability_of_purchases::*;
    let (Some(m), Some(k), Some(p)) = (arg(fcinfo, MODEL), arg(fcinfo, N), arg(fcinfo, PERIODS))
    else {
        return return_null(fcinfo);
    };
    let th = theta(fcinfo, m);
    let k = k.value() as i32 as f64;
    let v = if has(fcinfo, FREQUENCY) {
        let Some((x, t_x, n)) = history(fcinfo, [FREQUENCY, RECENCY, N_PERIODS]) else {
            return return_null(fcinfo);
        };
        check_named(
            bgbb_conditional_probability_of_purchases(&th, k, f8(p), x, t_x, n),
            &[("n_star", "periods"), ("k ", "n ")],
        )
    } else {
        check_named(
            bgbb_probability_of_purchases(&th, k, f8(p)),
            &[("n_periods", "periods"), ("k ", "n ")],
        )
    };
    finite(v, "probability_of_purchases")
});

// tiers.churn_probability(model tiers.bgbb_model, periods, frequency, recency, n_periods):
// P(no purchase in the next `periods` opportunities | history)
sql_function!(ct_bgbb_churn_probability, |fcinfo| {
    use crate::args::bgbb_churn_probability::*;
    let (Some(m), Some(p), Some((x, t_x, n))) = (
        arg(fcinfo, MODEL),
        arg(fcinfo, PERIODS),
        history(fcinfo, [FREQUENCY, RECENCY, N_PERIODS]),
    ) else {
        return return_null(fcinfo);
    };
    let th = theta(fcinfo, m);
    let v = check_named(
        bgbb_conditional_probability_of_purchases(&th, 0.0, f8(p), x, t_x, n),
        &[("n_star", "periods")],
    );
    finite(v, "churn_probability")
});
