//! ABC / Pareto in SQL: `abc_model`, `pareto` and `pareto_curve` aggregates (one shared
//! internal state: the population's values), and `abc_class` for per-row classification.

use crate::args;
use crate::defaults::{A_CUT, B_CUT, PARETO_POINTS};
use crate::names;
use crate::raw::*;
use crate::sql_function;
use crate::state::*;
use customer_tiers_core::abc::{
    check_cuts, class_of_share, class_with, pareto_curve, AbcMethod, AbcPopulation, Pareto,
};
use pgrx::pg_sys;

const AGG: &str = "abc_model";

/// A `double precision` argument that must not be NULL.
///
/// # Safety
///
/// `fcinfo` is the current call's.
unsafe fn f8_arg(fcinfo: pg_sys::FunctionCallInfo, a: Arg) -> f64 {
    // SAFETY: `fcinfo` is the current call's (caller)
    match unsafe { arg(fcinfo, a) } {
        Some(d) => f8(d),
        None => null_not_allowed(a.name),
    }
}

/// The `convention` argument `a`.
///
/// # Safety
///
/// `fcinfo` is the current call's and argument `a` a `text`.
unsafe fn method_arg(fcinfo: pg_sys::FunctionCallInfo, a: Arg) -> AbcMethod {
    // SAFETY: `fcinfo` is the current call's (caller)
    match unsafe { arg(fcinfo, a) } {
        // SAFETY: argument `a` is a text (caller)
        Some(d) => check(AbcMethod::parse(unsafe { text_str(&d) })),
        None => null_not_allowed(a.name),
    }
}

/// Shared transition: parameters from `params` (checked constant within the group), value in
/// argument `value` (NULL skipped).
///
/// # Safety
///
/// `fcinfo` is the current call's, of an `abc_model`-state transition function (argument 0 the
/// state, argument `value` a `double precision`).
#[inline(always)]
unsafe fn transition(
    fcinfo: pg_sys::FunctionCallInfo,
    value: Arg,
    (method, a_cut, b_cut, points): (AbcMethod, f64, f64, u32),
) -> pg_sys::Datum {
    // SAFETY: argument 0 is this aggregate's state (caller)
    let (state, datum) = unsafe {
        state_or_init(fcinfo, AGG, || {
            check(AbcPopulation::new(method, a_cut, b_cut, points))
        })
    };
    // SAFETY: state_or_init returns the live state object of this group, used by nothing else
    // during the call
    let state = unsafe { &mut *state };
    if !state.same_params(method, a_cut, b_cut, points) {
        invalid("cut-offs, convention and points must be the same for all rows of a group");
    }
    // SAFETY: `fcinfo` is the current call's (caller)
    if let Some(v) = unsafe { arg(fcinfo, value) } {
        check(state.add(f8(v)));
    }
    datum
}

const DEFAULTS: (AbcMethod, f64, f64, u32) = (AbcMethod::Before, A_CUT, B_CUT, 0);

sql_function!(ct_abc_trans, |fcinfo| {
    transition(fcinfo, args::abc_model::VALUE, DEFAULTS)
});

sql_function!(ct_abc_trans_cuts, |fcinfo| {
    use args::abc_model::*;
    let (a, b) = (f8_arg(fcinfo, A_CUT), f8_arg(fcinfo, B_CUT));
    check(check_cuts(a, b));
    transition(fcinfo, VALUE, (AbcMethod::Before, a, b, 0))
});

sql_function!(ct_abc_trans_conv, |fcinfo| {
    use args::abc_model::*;
    let (a, b) = (f8_arg(fcinfo, A_CUT), f8_arg(fcinfo, B_CUT));
    check(check_cuts(a, b));
    let method = method_arg(fcinfo, CONVENTION);
    if method == AbcMethod::Computed {
        invalid("convention 'computed' takes its cut-offs from the data: use tiers.abc_model(value, 'computed')");
    }
    transition(fcinfo, VALUE, (method, a, b, 0))
});

sql_function!(ct_abc_trans_method, |fcinfo| {
    use args::abc_model_convention::*;
    transition(
        fcinfo,
        VALUE,
        (method_arg(fcinfo, CONVENTION), A_CUT, B_CUT, 0),
    )
});

sql_function!(ct_pareto_curve_trans, |fcinfo| {
    transition(
        fcinfo,
        args::pareto_curve::VALUE,
        (AbcMethod::Before, A_CUT, B_CUT, PARETO_POINTS),
    )
});

sql_function!(ct_pareto_curve_trans_points, |fcinfo| {
    use args::pareto_curve::*;
    let points = match arg(fcinfo, POINTS) {
        Some(d) => d.value() as i32,
        None => null_not_allowed(POINTS.name),
    };
    if !(2..=10001).contains(&points) {
        out_of_range(format!("points must be between 2 and 10001, got {points}"));
    }
    transition(
        fcinfo,
        VALUE,
        (AbcMethod::Before, A_CUT, B_CUT, points as u32),
    )
});

sql_function!(ct_abc_combine, |fcinfo| {
    combine_states(fcinfo, AGG, AbcPopulation::merge)
});

// serialize/deserialize of the internal-state aggregates of 0.2.0 catalogs (src/state.rs)
sql_function!(ct_abc_serialize, |fcinfo| {
    serialize_state::<AbcPopulation>(fcinfo)
});

sql_function!(ct_abc_deserialize, |fcinfo| {
    deserialize_state::<AbcPopulation>(fcinfo, AGG)
});

/// The population of the state argument 0.
///
/// # Safety
///
/// As [`state_arg`]: `fcinfo` is the current call's, argument 0 an `abc_model` state, and the
/// reference is not used after the call.
unsafe fn population<'a>(fcinfo: pg_sys::FunctionCallInfo) -> Option<&'a AbcPopulation> {
    // SAFETY: the caller's obligations
    unsafe { state_arg::<AbcPopulation>(fcinfo, STATE) }
}

sql_function!(ct_abc_model_final, |fcinfo| {
    let Some(m) = population(fcinfo).and_then(|p| p.model()) else {
        return return_null(fcinfo);
    };
    let (a_min, a_null) = opt_f8(m.a_min);
    let (b_min, b_null) = opt_f8(m.b_min);
    let values = [
        text_datum(m.method.name()),
        f8_datum(m.a_cut),
        f8_datum(m.b_cut),
        a_min,
        b_min,
        pg_sys::Datum::from(m.customers),
        f8_datum(m.total),
        pg_sys::Datum::from(m.counts[0]),
        pg_sys::Datum::from(m.counts[1]),
        pg_sys::Datum::from(m.counts[2]),
        f8_datum(m.values[0]),
        f8_datum(m.values[1]),
        f8_datum(m.values[2]),
    ];
    let mut nulls = [false; names::ABC_MODEL.len()];
    nulls[3] = a_null;
    nulls[4] = b_null;
    with_call_cache::<(), _>(fcinfo, |cache| composite(fcinfo, cache, &values, &nulls))
});

sql_function!(ct_pareto_final, |fcinfo| {
    let Some(p) = population(fcinfo).and_then(|p| Pareto::of(&p.values)) else {
        return return_null(fcinfo);
    };
    let (gini, gini_null) = opt_f8(p.gini);
    let values = [
        pg_sys::Datum::from(p.customers),
        f8_datum(p.total),
        f8_datum(p.net_total),
        f8_datum(p.top20_share),
        gini,
        pg_sys::Datum::from(p.counts[0]),
        pg_sys::Datum::from(p.counts[1]),
        pg_sys::Datum::from(p.counts[2]),
        f8_datum(p.shares[0]),
        f8_datum(p.shares[1]),
        f8_datum(p.shares[2]),
    ];
    let mut nulls = [false; names::PARETO.len()];
    nulls[4] = gini_null;
    with_call_cache::<(), _>(fcinfo, |cache| composite(fcinfo, cache, &values, &nulls))
});

/// The element row type of the function's array result, blessed once per call site.
#[derive(Default)]
struct ElementType {
    oid: pg_sys::Oid,
    tupdesc: Option<pg_sys::TupleDesc>,
}

sql_function!(ct_pareto_curve_final, |fcinfo| {
    let Some(p) = population(fcinfo) else {
        return return_null(fcinfo);
    };
    if p.values.is_empty() {
        return return_null(fcinfo);
    }
    with_call_cache::<ElementType, _>(fcinfo, |cache| {
        let tupdesc = match cache.extra.tupdesc {
            Some(t) => t,
            None => {
                let array_type = pg_sys::get_func_rettype((*(*fcinfo).flinfo).fn_oid);
                let oid = pg_sys::get_element_type(array_type);
                let old = pg_sys::MemoryContextSwitchTo((*(*fcinfo).flinfo).fn_mcxt);
                let t = pg_sys::BlessTupleDesc(pg_sys::lookup_rowtype_tupdesc_copy(oid, -1));
                pg_sys::MemoryContextSwitchTo(old);
                cache.extra = ElementType {
                    oid,
                    tupdesc: Some(t),
                };
                t
            }
        };
        let mut elems: Vec<pg_sys::Datum> = pareto_curve(&p.values, p.points as usize)
            .into_iter()
            .map(|(x, y)| {
                let mut values = [f8_datum(x), f8_datum(y)];
                let mut nulls = [false; names::PARETO_POINT.len()];
                let t = pg_sys::heap_form_tuple(tupdesc, values.as_mut_ptr(), nulls.as_mut_ptr());
                pg_sys::HeapTupleHeaderGetDatum((*t).t_data)
            })
            .collect();
        let array = pg_sys::construct_array(
            elems.as_mut_ptr(),
            elems.len() as i32,
            cache.extra.oid,
            -1,
            false,
            pg_sys::TYPALIGN_DOUBLE as std::os::raw::c_char,
        );
        pg_sys::Datum::from(array)
    })
});

// ---------------------------------------------------------------- classification

sql_function!(ct_abc_class_share, |fcinfo| {
    use args::abc_class_share::*;
    let (Some(share), Some(a), Some(b)) = (
        arg(fcinfo, CUMULATIVE_SHARE),
        arg(fcinfo, A_CUT),
        arg(fcinfo, B_CUT),
    ) else {
        return return_null(fcinfo);
    };
    let (share, a, b) = (f8(share), f8(a), f8(b));
    check(check_cuts(a, b));
    if share.is_nan() {
        invalid("cumulative_share must be a number, got NaN");
    }
    let class = class_of_share(share, a, b);
    text_datum(match class {
        'A' => "A",
        'B' => "B",
        _ => "C",
    })
});

/// What an `abc_class(value, model)` call site remembers between rows.
#[derive(Default)]
struct ClassCache {
    model_bytes: Vec<u8>,
    limits: Option<(Option<f64>, Option<f64>)>,
    texts: [Option<Kept>; 3],
}

sql_function!(ct_abc_class_model, |fcinfo| {
    use args::abc_class_model::*;
    let (Some(v), Some(model)) = (arg(fcinfo, VALUE), arg(fcinfo, MODEL)) else {
        return return_null(fcinfo);
    };
    let value = f8(v);
    if !value.is_finite() {
        invalid(format!("value must be a finite number, got {value}"));
    }
    with_call_cache::<ClassCache, _>(fcinfo, |cache| {
        let c = &mut cache.extra;
        let bytes = varlena_bytes(&model);
        if c.limits.is_none() || c.model_bytes != bytes {
            let (values, nulls) = deform::<{ names::ABC_MODEL.len() }>(model, "tiers.abc_model");
            let a_min = (!nulls[3]).then(|| f8(values[3]));
            let b_min = (!nulls[4]).then(|| f8(values[4]));
            if a_min.is_some_and(|a| a.is_nan()) || b_min.is_some_and(|b| b.is_nan()) {
                invalid("model.a_min and model.b_min must be numbers");
            }
            if let (Some(a), Some(b)) = (a_min, b_min) {
                if a < b {
                    invalid(format!(
                        "model.a_min ({a}) must not be below model.b_min ({b})"
                    ));
                }
            }
            c.limits = Some((a_min, b_min));
            c.model_bytes.clear();
            c.model_bytes.extend_from_slice(bytes);
        }
        let (a_min, b_min) = c.limits.unwrap();
        let k = (class_with(a_min, b_min, value) as u8 - b'A') as usize;
        if c.texts[k].is_none() {
            c.texts[k] = Some(keep(fcinfo, text_datum(["A", "B", "C"][k])));
        }
        copy_out(c.texts[k].unwrap())
    })
});
