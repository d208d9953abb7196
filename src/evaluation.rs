//! Judging a tiering (issue 14): A/B tests of tier strategies, Holm's adjustment, NPS, and the
//! deterministic assignment of customers to experiment variants. The statistics are in
//! `core/src/evaluation.rs`; this file converts types and raises errors.

use crate::names;
use crate::raw::*;
use crate::sql_function;
use crate::state::*;
use customer_tiers_core::evaluation::{
    ab_assign, holm, nps_compare, AbComparison, AbTest, Nps, NpsResult,
};
use customer_tiers_core::CoreError;
use pgrx::pg_sys;
use pgrx::prelude::*;

const AB_AGG: &str = "ab_test";
const NPS_AGG: &str = "nps";

/// The state of `ab_test`: the accumulator and the control named by the 3-argument form (the
/// same for every row of a group).
#[derive(Clone, Default)]
pub struct AbState {
    control: Option<String>,
    test: AbTest,
}

const AB_STATE_MAGIC: u8 = b'X';
const AB_STATE_VERSION: u8 = 1;

impl AggState for AbState {
    const MAGIC: u64 = 0x6374_6162_7400_0001;
    fn encode(&self) -> Vec<u8> {
        let mut out = vec![AB_STATE_MAGIC, AB_STATE_VERSION];
        match &self.control {
            None => out.push(0),
            Some(c) => {
                out.push(1);
                out.extend_from_slice(&(c.len() as u32).to_le_bytes());
                out.extend_from_slice(c.as_bytes());
            }
        }
        out.extend_from_slice(&self.test.encode());
        out
    }
    fn decode(bytes: &[u8]) -> Result<Self, CoreError> {
        let corrupt = |m: &str| CoreError::Corrupt(m.into());
        let [magic, version, flag, rest @ ..] = bytes else {
            return Err(corrupt("ab_test state is truncated"));
        };
        if (*magic, *version) != (AB_STATE_MAGIC, AB_STATE_VERSION) {
            return Err(corrupt("not an ab_test state"));
        }
        let (control, rest) = match flag {
            0 => (None, rest),
            1 => {
                let (len, rest) = rest
                    .split_first_chunk::<4>()
                    .ok_or_else(|| corrupt("ab_test state is truncated"))?;
                let len = u32::from_le_bytes(*len) as usize;
                if rest.len() < len {
                    return Err(corrupt("ab_test state is truncated"));
                }
                let name = std::str::from_utf8(&rest[..len])
                    .map_err(|_| corrupt("ab_test state holds invalid UTF-8"))?;
                (Some(name.to_string()), &rest[len..])
            }
            _ => return Err(corrupt("ab_test state has a bad control flag")),
        };
        Ok(AbState {
            control,
            test: AbTest::decode(rest)?,
        })
    }
}

impl AggState for Nps {
    const MAGIC: u64 = 0x6374_6e70_7300_0001;
    fn encode(&self) -> Vec<u8> {
        Nps::encode(self)
    }
    fn decode(bytes: &[u8]) -> Result<Self, CoreError> {
        Nps::decode(bytes)
    }
}

// ---------------------------------------------------------------- ab_test aggregate

// tiers.ab_test_trans(state, variant text, outcome float8 [, control text]): NULL variant or
// outcome rows are skipped; a NULL control (3-argument form) means the default control.
sql_function!(ct_ab_test_trans, |fcinfo| {
    use crate::args::ab_test::*;
    // borrowed: compared on every row, copied only into a new state
    let control_arg = if has(fcinfo, CONTROL) {
        arg(fcinfo, CONTROL)
    } else {
        None
    };
    let control: Option<&str> = control_arg.as_ref().map(|d| text_str(d));
    let (state, datum) = state_or_init(fcinfo, AB_AGG, || AbState {
        control: control.map(str::to_string),
        test: AbTest::new(),
    });
    let state = &mut *state;
    if state.control.as_deref() != control {
        invalid("control must be the same for all rows of a group");
    }
    if let (Some(v), Some(x)) = (arg(fcinfo, VARIANT), arg(fcinfo, OUTCOME)) {
        check(state.test.add(text_str(&v), f8(x)));
    }
    datum
});

sql_function!(ct_ab_test_combine, |fcinfo| {
    combine_states(fcinfo, AB_AGG, |a: &mut AbState, b: &AbState| {
        if a.control != b.control {
            return Err(CoreError::InvalidParameter(
                "control must be the same for all rows of a group".into(),
            ));
        }
        a.test.merge(&b.test)
    })
});

/// The fields of `tiers.ab_variant`, in order.
const AB_VARIANT_FIELDS: usize = names::AB_VARIANT.len();

// tiers.ab_test_final(state) -> tiers.ab_variant[]: one element per variant, by name; NULL
// without rows.
sql_function!(ct_ab_test_final, |fcinfo| {
    let Some(state) = state_arg::<AbState>(fcinfo, STATE) else {
        return return_null(fcinfo);
    };
    if state.test.is_empty() {
        return return_null(fcinfo);
    }
    let rows = check(state.test.result(state.control.as_deref()));
    let elems: Vec<[(pg_sys::Datum, bool); AB_VARIANT_FIELDS]> = rows
        .iter()
        .map(|r| {
            let c: Option<&AbComparison> = r.comparison.as_ref();
            let mut row = [(pg_sys::Datum::from(0usize), false); AB_VARIANT_FIELDS];
            row[0].0 = text_datum(&r.variant);
            row[1].0 = pg_sys::Datum::from(r.is_control);
            row[2].0 = pg_sys::Datum::from(r.n as i64);
            row[3].0 = f8_datum(r.mean);
            row[4] = opt_f8(r.sd);
            row[5] = match c {
                Some(c) => (text_datum(c.method.name()), false),
                None => (pg_sys::Datum::from(0usize), true),
            };
            let fields = [
                c.map(|c| c.difference),
                c.map(|c| c.difference_low),
                c.map(|c| c.difference_high),
                c.and_then(|c| c.lift),
                c.and_then(|c| c.lift_low),
                c.and_then(|c| c.lift_high),
                c.map(|c| c.statistic),
                c.and_then(|c| c.df),
                c.map(|c| c.p_value),
            ];
            for (k, v) in fields.into_iter().enumerate() {
                row[6 + k] = opt_f8(v);
            }
            row
        })
        .collect();
    composite_array(fcinfo, &elems, "tiers.ab_variant")
});

// ---------------------------------------------------------------- holm(p float8[])

// tiers.holm(p float8[]) -> float8[]: Holm-Bonferroni adjusted p-values in the input's order;
// NULL elements stay NULL and are not counted as tests.
sql_function!(ct_holm, |fcinfo| {
    let Some(d) = arg(fcinfo, crate::args::holm::P) else {
        return return_null(fcinfo);
    };
    let d = check_list_shape(d, crate::args::holm::P.name);
    let p: Vec<Option<f64>> =
        pgrx::Array::<f64>::from_polymorphic_datum(d, false, pg_sys::FLOAT8ARRAYOID)
            .expect("not null")
            .iter()
            .collect();
    let adjusted = check(holm(&p).map_err(|e| match e {
        CoreError::InvalidParameter(m) => CoreError::InvalidParameter(format!("p: {m}")),
        other => other,
    }));
    adjusted.into_datum().expect("an array")
});

// ---------------------------------------------------------------- nps aggregate

// tiers.nps_trans(state, score integer): NULL scores are skipped; outside 0..10 is 22003.
sql_function!(ct_nps_trans, |fcinfo| {
    let (state, datum) = state_or_init(fcinfo, NPS_AGG, Nps::new);
    if let Some(s) = arg(fcinfo, crate::args::nps::SCORE) {
        check((*state).add(s.value() as i32 as i64));
    }
    datum
});

sql_function!(ct_nps_combine, |fcinfo| {
    combine_states(fcinfo, NPS_AGG, Nps::merge)
});

/// A `tiers.nps_result` row.
///
/// # Safety
///
/// `fcinfo` is the current call's, of a function returning `tiers.nps_result`.
unsafe fn nps_row(fcinfo: pg_sys::FunctionCallInfo, r: &NpsResult) -> pg_sys::Datum {
    let values = [
        pg_sys::Datum::from(r.n as i64),
        pg_sys::Datum::from(r.promoters as i64),
        pg_sys::Datum::from(r.passives as i64),
        pg_sys::Datum::from(r.detractors as i64),
        f8_datum(r.nps),
        f8_datum(r.margin_of_error),
    ];
    // SAFETY: the function returns tiers.nps_result (caller), whose fields the values are
    unsafe {
        with_call_cache::<(), _>(fcinfo, |cache| {
            composite(fcinfo, cache, &values, &[false; names::NPS_RESULT.len()])
        })
    }
}

// tiers.nps_final(state) -> tiers.nps_result; NULL without scores.
sql_function!(ct_nps_final, |fcinfo| {
    match state_arg::<Nps>(fcinfo, STATE).and_then(|s| s.result()) {
        Some(r) => nps_row(fcinfo, &r),
        None => return_null(fcinfo),
    }
});

/// A `tiers.nps_result` argument, checked: counts that add up, an NPS that matches them.
///
/// # Safety
///
/// `d` is a `tiers.nps_result` datum of the current call.
unsafe fn nps_arg(d: pg_sys::Datum, name: &str) -> NpsResult {
    // SAFETY: `d` is a row of tiers.nps_result (caller)
    let (v, nulls) = unsafe { deform::<{ names::NPS_RESULT.len() }>(d, "tiers.nps_result") };
    if nulls[1] || nulls[2] || nulls[3] {
        invalid(format!(
            "{name} must have promoters, passives and detractors"
        ));
    }
    let count = |k: usize| -> u64 {
        let c = v[k].value() as i64;
        if c < 0 {
            invalid(format!("{name} has a negative count"));
        }
        c as u64
    };
    NpsResult::from_counts(count(1), count(2), count(3))
        .unwrap_or_else(|| invalid(format!("{name} has no answers")))
}

// tiers.nps_compare(a tiers.nps_result, b tiers.nps_result) -> tiers.nps_comparison (b - a).
sql_function!(ct_nps_compare, |fcinfo| {
    use crate::args::nps_compare::*;
    let (Some(a), Some(b)) = (arg(fcinfo, A), arg(fcinfo, B)) else {
        return return_null(fcinfo);
    };
    let c = nps_compare(&nps_arg(a, A.name), &nps_arg(b, B.name));
    let values = [
        f8_datum(c.difference),
        f8_datum(c.low),
        f8_datum(c.high),
        f8_datum(c.statistic),
        f8_datum(c.p_value),
    ];
    with_call_cache::<(), _>(fcinfo, |cache| {
        composite(
            fcinfo,
            cache,
            &values,
            &[false; names::NPS_COMPARISON.len()],
        )
    })
});

// ---------------------------------------------------------------- ab_assign

// tiers.ab_assign(customer text, experiment text, shares float8[] [, variants text[]]) -> text
sql_function!(ct_ab_assign, |fcinfo| {
    use crate::args::ab_assign::*;
    let (Some(c), Some(e), Some(s)) = (
        arg(fcinfo, CUSTOMER),
        arg(fcinfo, EXPERIMENT),
        arg(fcinfo, SHARES),
    ) else {
        return return_null(fcinfo);
    };
    let s = check_list_shape(s, SHARES.name);
    let shares: Vec<f64> =
        pgrx::Array::<f64>::from_polymorphic_datum(s, false, pg_sys::FLOAT8ARRAYOID)
            .expect("not null")
            .iter()
            .map(|x| x.unwrap_or_else(|| invalid("shares must not contain NULL")))
            .collect();
    let names: Option<Vec<String>> = if has(fcinfo, VARIANTS) {
        let Some(v) = arg(fcinfo, VARIANTS) else {
            return return_null(fcinfo);
        };
        let v = check_list_shape(v, VARIANTS.name);
        let names: Vec<String> =
            pgrx::Array::<&str>::from_polymorphic_datum(v, false, pg_sys::TEXTARRAYOID)
                .expect("not null")
                .iter()
                .map(|x| {
                    x.map(str::to_string)
                        .unwrap_or_else(|| invalid("variants must not contain NULL"))
                })
                .collect();
        if names.len() != shares.len() {
            invalid(format!(
                "variants must have one name per share: {} names for {} shares",
                names.len(),
                shares.len()
            ));
        }
        Some(names)
    } else {
        if shares.len() > 26 {
            invalid("more than 26 shares need variant names (the 4-argument form)");
        }
        None
    };
    let k = check(ab_assign(text_str(&c), text_str(&e), &shares));
    match names {
        Some(n) => text_datum(&n[k]),
        None => text_datum(&((b'A' + k as u8) as char).to_string()),
    }
});
