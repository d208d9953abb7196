//! `tiers.clv_validation(model, frequency, recency, tenure, holdout_occasions, holdout_length)`
//! (issue 13): how well a purchase model fitted on a calibration period predicts the holdout
//! period. Per customer the transition computes the model's conditional expected purchases over
//! `holdout_length` and P(alive); `core/src/validation.rs` accumulates the errors, the
//! calibration-frequency buckets of lifetimes' calibration/holdout plot, the Brier score and the
//! ROC AUC.

use crate::clv::{customer, finite, params, SqlPurchase, GG_FIELDS, PURCHASE_FIELDS};
use crate::names;
use crate::raw::*;
use crate::sql_function;
use crate::state::*;
use customer_tiers_core::bgbb::{bgbb_expected, bgbb_p_alive, check_bgbb_customer};
use customer_tiers_core::clv::{BgNbd, MbgNbd, ParetoNbd};
use customer_tiers_core::validation::{SpendAccumulator, ValidationAccumulator, FREQUENCY_CAP};
use customer_tiers_core::CoreError;
use pgrx::pg_sys;

const AGG: &str = "clv_validation";

impl AggState for ValidationAccumulator {
    const MAGIC: u64 = 0x6374_7661_6c00_0001;
    fn encode(&self) -> Vec<u8> {
        ValidationAccumulator::encode(self)
    }
    fn decode(bytes: &[u8]) -> Result<Self, CoreError> {
        ValidationAccumulator::decode(bytes)
    }
}

/// The model of an overload.
#[derive(Clone, Copy)]
enum Model {
    /// BG/NBD, MBG/NBD or Pareto/NBD: [`purchase_prediction`] for that model.
    Purchase(Prediction),
    Bgbb,
}

/// (frequency, expected holdout purchases, P(alive)) of the current row, None for a NULL input.
type Prediction =
    unsafe fn(pg_sys::FunctionCallInfo, pg_sys::Datum, f64) -> Option<(f64, f64, f64)>;

/// The prediction of a purchase model `M` for the current row: its model `m`, the customer's
/// history, the holdout `length`.
///
/// # Safety
///
/// `fcinfo` is the current call's, of a `clv_validation` transition for `M`; `m` its model.
unsafe fn purchase_prediction<M: SqlPurchase>(
    fcinfo: pg_sys::FunctionCallInfo,
    m: pg_sys::Datum,
    length: f64,
) -> Option<(f64, f64, f64)> {
    use crate::args::clv_validation::*;
    // SAFETY: `fcinfo` is the current call's (caller)
    let (x, t_x, t) = unsafe { customer(fcinfo, [FREQUENCY, RECENCY, TENURE]) }?;
    // SAFETY: `m` is a model of `M` (caller)
    let th = unsafe { params::<PURCHASE_FIELDS>(fcinfo, m, 4, &M::NAMES, M::SQL_TYPE) };
    let model = M::from_theta(&th);
    Some((
        x,
        model.expected_purchases(length, x, t_x, t),
        model.p_alive(x, t_x, t),
    ))
}

/// holdout_occasions and holdout_length, checked; None if either is NULL. At the same positions
/// in the BG/BB overload (asserted in `src/args.rs`).
///
/// # Safety
///
/// `fcinfo` is the current call's.
unsafe fn holdout(fcinfo: pg_sys::FunctionCallInfo) -> Option<(f64, f64)> {
    use crate::args::clv_validation::*;
    // SAFETY: `fcinfo` is the current call's (caller)
    let (a, h) = unsafe {
        (
            f8(arg(fcinfo, HOLDOUT_OCCASIONS)?),
            f8(arg(fcinfo, HOLDOUT_LENGTH)?),
        )
    };
    if !(a.is_finite() && a >= 0.0) {
        invalid(format!(
            "holdout_occasions must be a finite number >= 0, got {a}"
        ));
    }
    if !(h.is_finite() && h >= 0.0) {
        invalid(format!(
            "holdout_length must be a finite number >= 0, got {h}"
        ));
    }
    Some((a, h))
}

/// The transition of `clv_validation(model, frequency, recency, tenure, holdout_occasions,
/// holdout_length)`.
///
/// # Safety
///
/// `fcinfo` is the current call's, of a `clv_validation` transition function for `model`
/// (argument 0 the state, argument 1 the model).
unsafe fn transition(fcinfo: pg_sys::FunctionCallInfo, model: Model) -> pg_sys::Datum {
    // SAFETY: argument 0 is the aggregate's state (caller)
    let (state, datum) = unsafe { state_or_init(fcinfo, AGG, ValidationAccumulator::new) };
    // SAFETY: state_or_init returns the group's live state object, used by nothing else during
    // the call
    let state = unsafe { &mut *state };
    use crate::args::clv_validation::*;
    // SAFETY: `fcinfo` is the current call's (caller)
    let Some(m) = (unsafe { arg(fcinfo, MODEL) }) else {
        null_not_allowed(MODEL.name)
    };
    // SAFETY: as above
    let Some((actual, length)) = (unsafe { holdout(fcinfo) }) else {
        return datum;
    };
    let (x, expected, alive) = match model {
        Model::Purchase(predict) => {
            // SAFETY: `predict` is the prediction of this overload's model (caller)
            let Some(p) = (unsafe { predict(fcinfo, m, length) }) else {
                return datum;
            };
            p
        }
        Model::Bgbb => {
            // SAFETY: `fcinfo` is the current call's (caller)
            use crate::args::bgbb_clv_validation as bgbb;
            // SAFETY: `fcinfo` is the current call's (caller)
            let (Some(x), Some(t_x), Some(n)) = (unsafe {
                (
                    arg(fcinfo, bgbb::FREQUENCY),
                    arg(fcinfo, bgbb::RECENCY),
                    arg(fcinfo, bgbb::N_PERIODS),
                )
            }) else {
                return datum;
            };
            let (x, t_x, n) = (f8(x), f8(t_x), f8(n));
            check(check_bgbb_customer(x, t_x, n));
            // SAFETY: argument 1 is a tiers.bgbb_model (caller)
            let th = unsafe {
                params::<PURCHASE_FIELDS>(
                    fcinfo,
                    m,
                    4,
                    &["alpha", "beta", "gamma", "delta"],
                    "tiers.bgbb_model",
                )
            };
            let e = check_named(
                bgbb_expected(&th, length, x, t_x, n),
                &[("n_star", "holdout_length")],
            );
            (x, e, check(bgbb_p_alive(&th, x, t_x, n, 1.0)))
        }
    };
    if !(expected.is_finite() && alive.is_finite()) {
        finite(f64::NAN, "the model's prediction");
    }
    check(
        state
            .add(x, expected, actual, Some(alive))
            .map_err(|e| match e {
                CoreError::InvalidParameter(m) => {
                    CoreError::InvalidParameter(m.replacen("actual", "holdout_occasions", 1))
                }
                other => other,
            }),
    );
    datum
}

sql_function!(ct_bgnbd_clv_validation_trans, |fcinfo| {
    transition(fcinfo, Model::Purchase(purchase_prediction::<BgNbd>))
});
sql_function!(ct_mbgnbd_clv_validation_trans, |fcinfo| {
    transition(fcinfo, Model::Purchase(purchase_prediction::<MbgNbd>))
});
sql_function!(ct_paretonbd_clv_validation_trans, |fcinfo| {
    transition(fcinfo, Model::Purchase(purchase_prediction::<ParetoNbd>))
});
sql_function!(ct_bgbb_clv_validation_trans, |fcinfo| {
    transition(fcinfo, Model::Bgbb)
});

sql_function!(ct_clv_validation_combine, |fcinfo| {
    combine_states(fcinfo, AGG, ValidationAccumulator::merge)
});

/// The fields of `tiers.clv_validation` and `tiers.clv_validation_bucket`.
const FIELDS: usize = 14;
const BUCKET_FIELDS: usize = 5;

// tiers.clv_validation_final(state) -> tiers.clv_validation; NULL without rows.
sql_function!(ct_clv_validation_final, |fcinfo| {
    let Some(r) = state_arg::<ValidationAccumulator>(fcinfo, STATE).and_then(|s| s.result()) else {
        return return_null(fcinfo);
    };
    // the row type, and the element type of its buckets array (the last field)
    let mut td: pg_sys::TupleDesc = std::ptr::null_mut();
    if pg_sys::get_call_result_type(fcinfo, std::ptr::null_mut(), &mut td)
        != pg_sys::TypeFuncClass::TYPEFUNC_COMPOSITE
        || (*td).natts as usize != FIELDS
    {
        invalid("tiers.clv_validation does not have the fields this library writes");
    }
    // PgTupleDesc reads the attributes on every major (PostgreSQL 18 moved them behind
    // compact_attrs); from_pg_unchecked: not released on drop, the descriptor belongs to the
    // function's result type lookup
    let desc = pgrx::PgTupleDesc::from_pg_unchecked(td);
    let bucket_type =
        pg_sys::get_element_type(desc.get(FIELDS - 1).expect("natts checked above").atttypid);
    let buckets: Vec<[(pg_sys::Datum, bool); BUCKET_FIELDS]> = r
        .buckets
        .iter()
        .map(|b| {
            let label = if b.frequency >= FREQUENCY_CAP {
                format!("{FREQUENCY_CAP}+")
            } else {
                b.frequency.to_string()
            };
            let row: [(pg_sys::Datum, bool); names::CLV_VALIDATION_BUCKET.len()] = [
                (pg_sys::Datum::from(b.frequency as i32), false),
                (text_datum(&label), false),
                (pg_sys::Datum::from(b.customers as i64), false),
                (f8_datum(b.mean_actual), false),
                (f8_datum(b.mean_expected), false),
            ];
            row
        })
        .collect();
    let values: [(pg_sys::Datum, bool); names::CLV_VALIDATION.len()] = [
        (pg_sys::Datum::from(r.n as i64), false),
        (f8_datum(r.mae), false),
        (f8_datum(r.rmse), false),
        (f8_datum(r.bias), false),
        opt_f8(r.relative_bias),
        opt_f8(r.correlation),
        (f8_datum(r.total_expected), false),
        (f8_datum(r.total_actual), false),
        (pg_sys::Datum::from(r.buyers as i64), false),
        (f8_datum(r.purchase_share), false),
        opt_f8(r.brier),
        opt_f8(r.auc),
        (pg_sys::Datum::from(r.scored as i64), false),
        (
            rows_array(bucket_type, &buckets, "tiers.clv_validation_bucket"),
            false,
        ),
    ];
    let (v, n): (Vec<pg_sys::Datum>, Vec<bool>) = values.into_iter().unzip();
    with_call_cache::<(), _>(fcinfo, |cache| composite(fcinfo, cache, &v, &n))
});

// ------------------------------------------------------------- Gamma-Gamma spend validation

impl AggState for SpendAccumulator {
    const MAGIC: u64 = 0x6374_7376_6c00_0001;
    fn encode(&self) -> Vec<u8> {
        SpendAccumulator::encode(self)
    }
    fn decode(bytes: &[u8]) -> Result<Self, CoreError> {
        SpendAccumulator::decode(bytes)
    }
}

const SPEND_AGG: &str = "clv_validation";

// tiers.clv_validation_spend_trans(state, model tiers.gamma_gamma_model, frequency, monetary,
// holdout_monetary): customers without a holdout purchase (holdout_monetary 0, as
// tiers.holdout_summary and lifetimes give it, or NULL) are skipped: Gamma-Gamma models positive
// spend (its fit skips a monetary of 0 likewise).
sql_function!(ct_clv_validation_spend_trans, |fcinfo| {
    let (state, datum) = state_or_init(fcinfo, SPEND_AGG, SpendAccumulator::new);
    let state = &mut *state;
    use crate::args::spend_validation::*;
    let Some(m) = arg(fcinfo, MODEL) else {
        null_not_allowed(MODEL.name)
    };
    let (Some(x), Some(mon), Some(actual)) = (
        arg(fcinfo, FREQUENCY),
        arg(fcinfo, MONETARY),
        arg(fcinfo, HOLDOUT_MONETARY),
    ) else {
        return datum;
    };
    let (x, mon, actual) = (f8(x), f8(mon), f8(actual));
    if !(x.is_finite() && x >= 0.0 && x.fract() == 0.0) {
        invalid(format!("frequency must be a whole number >= 0, got {x}"));
    }
    if x > 0.0 && !(mon.is_finite() && mon >= 0.0) {
        invalid(format!(
            "monetary must be a finite number >= 0 for a repeat buyer, got {mon}"
        ));
    }
    let th = params::<GG_FIELDS>(fcinfo, m, 3, &["p", "q", "v"], "tiers.gamma_gamma_model");
    // skipped only once the row and the model are checked: bad input errs either way
    if actual == 0.0 {
        return datum;
    }
    let expected = check(customer_tiers_core::clv::gamma_gamma_expected(&th, x, mon));
    check(state.add(expected, actual).map_err(|e| {
        match e {
            CoreError::InvalidParameter(msg) => CoreError::InvalidParameter(
                msg.replacen("actual_spend", "holdout_monetary", 1)
                    .replacen("expected_spend", "the expected spend", 1),
            ),
            other => other,
        }
    }));
    datum
});

sql_function!(ct_clv_validation_spend_combine, |fcinfo| {
    combine_states(fcinfo, SPEND_AGG, SpendAccumulator::merge)
});

// tiers.clv_validation_spend_final(state) -> tiers.spend_validation; NULL without rows.
sql_function!(ct_clv_validation_spend_final, |fcinfo| {
    let Some(r) = state_arg::<SpendAccumulator>(fcinfo, STATE).and_then(|s| s.result()) else {
        return return_null(fcinfo);
    };
    let values: [(pg_sys::Datum, bool); names::SPEND_VALIDATION.len()] = [
        (pg_sys::Datum::from(r.n as i64), false),
        (f8_datum(r.mean_expected), false),
        (f8_datum(r.mean_actual), false),
        (f8_datum(r.mae), false),
        (f8_datum(r.rmse), false),
        (f8_datum(r.bias), false),
        opt_f8(r.relative_bias),
        opt_f8(r.correlation),
    ];
    let (v, n): (Vec<pg_sys::Datum>, Vec<bool>) = values.into_iter().unzip();
    with_call_cache::<(), _>(fcinfo, |cache| composite(fcinfo, cache, &v, &n))
});
