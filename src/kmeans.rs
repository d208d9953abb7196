//! Judging a tiering (issue 14): K-means segments in SQL. The algorithm (k-means++, Lloyd,
//! silhouette, Davies–Bouldin, labels) is in `core/src/kmeans.rs`; this file reads arguments,
//! options and stored models, and builds the result rows.
//!
//! Clusters are numbered from 1 in SQL (1 = the largest cluster), like PostgreSQL arrays: the
//! cluster `c` of a model has the size `sizes[c]` and the centroid `centroids[c][1:]`.

use crate::defaults;
use crate::names;
use crate::raw::*;
use crate::sql_function;
use crate::state::*;
use customer_tiers_core::kmeans::{
    assign, choose_k, fit, label, KmeansAccumulator, KmeansModel, KmeansOptions, Scaling,
};
use customer_tiers_core::CoreError;
use pgrx::pg_sys;
use pgrx::prelude::*;

const MODEL_AGG: &str = "kmeans_model";
const CHOOSE_AGG: &str = "kmeans_choose_k";
const MODEL_TYPE: &str = "tiers.kmeans_model";

impl AggState for KmeansAccumulator {
    const MAGIC: u64 = 0x6374_6b6d_6e00_0001;
    fn encode(&self) -> Vec<u8> {
        KmeansAccumulator::encode(self)
    }
    fn decode(bytes: &[u8]) -> Result<Self, CoreError> {
        KmeansAccumulator::decode(bytes)
    }
}

// ------------------------------------------------------------------------------ options

/// The option keys of `kmeans_model` and `kmeans_choose_k`.
const OPTION_KEYS: [&str; 7] = [
    "scale",
    "log1p",
    "n_init",
    "max_iter",
    "tol",
    "seed",
    "silhouette_sample",
];

/// The options (canonical JSON text, empty = defaults) as core options with `k`; `dim` expands a
/// single `"log1p": true` to every feature (unknown while no row was read).
fn parse_options(text: &str, k: i64, dim: Option<usize>) -> KmeansOptions {
    let mut o = KmeansOptions::new(k);
    if text.is_empty() {
        return o;
    }
    let value: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|e| invalid(format!("options: {e}")));
    let Some(map) = value.as_object() else {
        invalid("options must be a jsonb object");
    };
    let int = |key: &str, v: &serde_json::Value| -> i64 {
        v.as_i64()
            .unwrap_or_else(|| invalid(format!("options.{key} must be an integer, got {v}")))
    };
    for (key, v) in map {
        if v.is_null() {
            continue;
        }
        match key.as_str() {
            "scale" => {
                o.scale = match v.as_str() {
                    Some("standardize") => Scaling::Standardize,
                    Some("none") => Scaling::None,
                    _ => invalid(format!(
                        "options.scale must be \"standardize\" or \"none\", got {v}"
                    )),
                }
            }
            "log1p" => {
                o.log1p = match v {
                    serde_json::Value::Bool(b) => vec![*b; dim.unwrap_or(0)],
                    serde_json::Value::Array(a) => a
                        .iter()
                        .map(|e| {
                            e.as_bool().unwrap_or_else(|| {
                                invalid(format!(
                                    "options.log1p must be a boolean or an array of booleans, got {v}"
                                ))
                            })
                        })
                        .collect(),
                    _ => invalid(format!(
                        "options.log1p must be a boolean or an array of booleans, got {v}"
                    )),
                };
                if let Some(d) = dim {
                    if o.log1p.len() != d {
                        invalid(format!(
                            "options.log1p must have one element per feature: {} for {d} features",
                            o.log1p.len()
                        ));
                    }
                }
            }
            "n_init" => o.n_init = int(key, v),
            "max_iter" => o.max_iter = int(key, v),
            "seed" => o.seed = int(key, v),
            "silhouette_sample" => o.silhouette_sample = int(key, v),
            "tol" => {
                o.tol = v
                    .as_f64()
                    .unwrap_or_else(|| invalid(format!("options.tol must be a number, got {v}")))
            }
            other => invalid(format!(
                "unknown option \"{other}\" (known: {})",
                OPTION_KEYS.join(", ")
            )),
        }
    }
    o
}

/// The options argument `n` as canonical text ("" when absent or NULL), through a per-call-site
/// cache of the last raw value: rows repeat the same jsonb, which is printed once.
#[derive(Default)]
struct OptionsCache {
    raw: Vec<u8>,
    text: String,
}

/// # Safety
///
/// `fcinfo` is the current call's, whose call site caches an [`OptionsCache`] (or nothing yet);
/// argument `a`, if any, a `jsonb`.
unsafe fn options_text(fcinfo: pg_sys::FunctionCallInfo, a: Arg) -> String {
    // SAFETY: `fcinfo` is the current call's (caller)
    if !unsafe { has(fcinfo, a) } {
        return String::new();
    }
    // SAFETY: as above
    let Some(d) = (unsafe { arg(fcinfo, a) }) else {
        return String::new();
    };
    // SAFETY: the call site's cache (caller); `d` is a jsonb (a varlena) argument
    unsafe {
        with_call_cache::<OptionsCache, _>(fcinfo, |cache| {
            let cache = &mut cache.extra;
            let raw = varlena_bytes(&d);
            if cache.raw.is_empty() || cache.raw != raw {
                let value = crate::tags::jsonb_value(d, a.name);
                cache.text = value.to_string();
                cache.raw.clear();
                cache.raw.extend_from_slice(raw);
            }
            cache.text.clone()
        })
    }
}

/// An integer argument that must not be NULL.
///
/// # Safety
///
/// `fcinfo` is the current call's; argument `a` an `integer`.
unsafe fn int_arg(fcinfo: pg_sys::FunctionCallInfo, a: Arg) -> i64 {
    // SAFETY: `fcinfo` is the current call's (caller)
    match unsafe { arg(fcinfo, a) } {
        Some(d) => d.value() as i32 as i64,
        None => null_not_allowed(a.name),
    }
}

// ------------------------------------------------------------------------------ aggregates

/// The transition shared by both aggregates: `k_min`/`k_max` are the arguments' values (equal
/// for `kmeans_model`); they and the options are fixed by a group's first row.
///
/// # Safety
///
/// `fcinfo` is the current call's, of a transition function of `agg` (argument 0 the state,
/// argument `features` a `float8[]`, argument `options_arg`, if any, a `jsonb`).
unsafe fn transition(
    fcinfo: pg_sys::FunctionCallInfo,
    agg: &str,
    k: (i64, i64),
    features: Arg,
    options_arg: Arg,
) -> pg_sys::Datum {
    // SAFETY: the caller's obligations
    let options = unsafe { options_text(fcinfo, options_arg) };
    // SAFETY: argument 0 is the aggregate's state (caller)
    let (state, datum) = unsafe {
        state_or_init(fcinfo, agg, || {
            // the options are checked once, before any row is kept
            let o = parse_options(&options, k.0, None);
            check(o.validate());
            if k.0 != k.1 {
                check(
                    KmeansOptions {
                        k: k.1,
                        ..o.clone()
                    }
                    .validate(),
                );
            }
            KmeansAccumulator {
                k_min: k.0,
                k_max: k.1,
                options: options.clone(),
                ..Default::default()
            }
        })
    };
    // SAFETY: state_or_init returns the group's live state object, used by nothing else during
    // the call
    let state = unsafe { &mut *state };
    if (state.k_min, state.k_max) != k {
        invalid("k must be the same for all rows of a group");
    }
    if state.options != options {
        invalid("options must be the same for all rows of a group");
    }
    // SAFETY: `fcinfo` is the current call's (caller)
    if let Some(f) = unsafe { arg(fcinfo, features) } {
        // SAFETY: argument `features` is a float8[] (caller)
        check(state.data.add(&unsafe { f8_vector(f, features.name) }));
    }
    datum
}

// tiers.kmeans_model_trans(state, features float8[], k integer [, options jsonb])
sql_function!(ct_kmeans_model_trans, |fcinfo| {
    use crate::args::kmeans_model::*;
    let k = int_arg(fcinfo, K);
    transition(fcinfo, MODEL_AGG, (k, k), FEATURES, OPTIONS)
});

// tiers.kmeans_choose_k_trans(state, features float8[], k_min integer, k_max integer
// [, options jsonb])
sql_function!(ct_kmeans_choose_k_trans, |fcinfo| {
    use crate::args::kmeans_choose_k::*;
    let k_min = int_arg(fcinfo, K_MIN);
    let k_max = int_arg(fcinfo, K_MAX);
    if k_min > k_max {
        invalid(format!("k_min ({k_min}) must not exceed k_max ({k_max})"));
    }
    transition(fcinfo, CHOOSE_AGG, (k_min, k_max), FEATURES, OPTIONS)
});

sql_function!(ct_kmeans_combine, |fcinfo| {
    combine_states(fcinfo, MODEL_AGG, KmeansAccumulator::merge)
});

fn interrupt() {
    pgrx::check_for_interrupts!();
}

/// The fields of `tiers.kmeans_model`, in order.
const MODEL_FIELDS: [&str; 17] = names::KMEANS_MODEL;

/// A `tiers.kmeans_model` row.
///
/// # Safety
///
/// `fcinfo` is the current call's, of a function returning `tiers.kmeans_model`.
unsafe fn model_row(fcinfo: pg_sys::FunctionCallInfo, m: &KmeansModel) -> pg_sys::Datum {
    let mut nulls = [false; MODEL_FIELDS.len()];
    let values = [
        pg_sys::Datum::from(m.k as i32),
        pg_sys::Datum::from(m.dim as i32),
        pg_sys::Datum::from(m.n as i64),
        pg_sys::Datum::from(m.distinct as i64),
        f8_matrix(&m.centroids, m.k, m.dim),
        f8_matrix(&m.scaled_centroids, m.k, m.dim),
        pg_sys::Datum::from(m.standardized),
        m.log1p.clone().into_datum().expect("an array"),
        m.means.clone().into_datum().expect("an array"),
        m.sds.clone().into_datum().expect("an array"),
        f8_datum(m.inertia),
        pg_sys::Datum::from(m.iterations as i32),
        pg_sys::Datum::from(m.converged),
        m.sizes
            .iter()
            .map(|s| *s as i64)
            .collect::<Vec<i64>>()
            .into_datum()
            .expect("an array"),
        match m.silhouette {
            Some(s) => f8_datum(s),
            None => {
                nulls[14] = true;
                pg_sys::Datum::from(0usize)
            }
        },
        pg_sys::Datum::from(m.silhouette_exact),
        f8_datum(m.davies_bouldin),
    ];
    // SAFETY: the function returns tiers.kmeans_model (caller), whose fields the values are
    unsafe { with_call_cache::<(), _>(fcinfo, |cache| composite(fcinfo, cache, &values, &nulls)) }
}

// tiers.kmeans_model_final(state) -> tiers.kmeans_model; NULL without rows.
sql_function!(ct_kmeans_model_final, |fcinfo| {
    let Some(state) = state_arg::<KmeansAccumulator>(fcinfo, STATE) else {
        return return_null(fcinfo);
    };
    if state.data.is_empty() {
        return return_null(fcinfo);
    }
    let o = parse_options(&state.options, state.k_min, Some(state.data.dim()));
    let model = check(fit(&state.data, &o, &mut interrupt));
    model_row(fcinfo, &model)
});

/// The fields of `tiers.kmeans_choice`.
const CHOICE_FIELDS: usize = names::KMEANS_CHOICE.len();

// tiers.kmeans_choose_k_final(state) -> tiers.kmeans_choice[]: one element per k; NULL without
// rows.
sql_function!(ct_kmeans_choose_k_final, |fcinfo| {
    let Some(state) = state_arg::<KmeansAccumulator>(fcinfo, STATE) else {
        return return_null(fcinfo);
    };
    if state.data.is_empty() {
        return return_null(fcinfo);
    }
    let o = parse_options(&state.options, state.k_min, Some(state.data.dim()));
    let choices = check(choose_k(
        &state.data,
        state.k_min,
        state.k_max,
        &o,
        &mut interrupt,
    ));
    let rows: Vec<[(pg_sys::Datum, bool); CHOICE_FIELDS]> = choices
        .iter()
        .map(|c| {
            [
                (pg_sys::Datum::from(c.k as i32), false),
                (f8_datum(c.inertia), false),
                match c.silhouette {
                    Some(s) => (f8_datum(s), false),
                    None => (pg_sys::Datum::from(0usize), true),
                },
                (f8_datum(c.davies_bouldin), false),
            ]
        })
        .collect();
    composite_array(fcinfo, &rows, "tiers.kmeans_choice")
});

// ------------------------------------------------------------------------------ using a model

/// A `tiers.kmeans_model` argument, parsed once per call site and value.
#[derive(Default)]
struct ModelCache {
    bytes: Vec<u8>,
    model: Option<KmeansModel>,
}

/// Runs `f` with the model `d`, parsed and checked once per call site and value into the call
/// site's cache.
///
/// # Safety
///
/// `fcinfo` is the current call's, whose call site caches a [`ModelCache`] (or nothing yet), and
/// `d` a `tiers.kmeans_model` datum of it.
unsafe fn model_arg<R>(
    fcinfo: pg_sys::FunctionCallInfo,
    d: pg_sys::Datum,
    f: impl FnOnce(&KmeansModel) -> R,
) -> R {
    // SAFETY: the call site's cache (caller); `d` is a kmeans_model row (caller)
    unsafe {
        with_call_cache::<ModelCache, _>(fcinfo, |cache| {
            let cache = &mut cache.extra;
            let bytes = varlena_bytes(&d);
            if cache.model.is_none() || cache.bytes != bytes {
                let m = read_model(d);
                check(m.validate());
                cache.model = Some(m);
                cache.bytes.clear();
                cache.bytes.extend_from_slice(bytes);
            }
            f(cache.model.as_ref().expect("set above"))
        })
    }
}

/// # Safety
///
/// `d` is a `tiers.kmeans_model` datum of the current call.
unsafe fn read_model(d: pg_sys::Datum) -> KmeansModel {
    // SAFETY: `d` is a row of tiers.kmeans_model (caller)
    let (v, nulls) = unsafe { deform::<{ MODEL_FIELDS.len() }>(d, MODEL_TYPE) };
    let field = |i: usize| -> pg_sys::Datum {
        if nulls[i] && MODEL_FIELDS[i] != "silhouette" {
            invalid(format!("model.{} must not be NULL", MODEL_FIELDS[i]));
        }
        v[i]
    };
    let count = |i: usize| -> usize {
        let c = field(i).value() as i32;
        usize::try_from(c)
            .unwrap_or_else(|_| invalid(format!("model.{} must be >= 0", MODEL_FIELDS[i])))
    };
    // SAFETY: the fields read with it are float8[] (MODEL_FIELDS), not NULL (field())
    let floats = |i: usize| unsafe { f8_array(field(i), &format!("model.{}", MODEL_FIELDS[i])) };
    let bools = |i: usize| -> Vec<bool> {
        let d = field(i);
        // SAFETY: the fields read with it are boolean[], not NULL (field())
        let array =
            unsafe { pgrx::Array::<bool>::from_polymorphic_datum(d, false, pg_sys::BOOLARRAYOID) };
        array
            .expect("not null")
            .iter()
            .map(|b| {
                b.unwrap_or_else(|| {
                    invalid(format!("model.{} must not contain NULL", MODEL_FIELDS[i]))
                })
            })
            .collect()
    };
    let sizes_d = field(13);
    // SAFETY: field 13 (sizes) is a bigint[], not NULL (field())
    let sizes =
        unsafe { pgrx::Array::<i64>::from_polymorphic_datum(sizes_d, false, pg_sys::INT8ARRAYOID) };
    let sizes: Vec<u64> = sizes
        .expect("not null")
        .iter()
        .map(|s| match s {
            Some(s) if s >= 0 => s as u64,
            _ => invalid("model.sizes must hold counts >= 0"),
        })
        .collect();
    KmeansModel {
        k: count(0),
        dim: count(1),
        n: field(2).value() as i64 as u64,
        distinct: field(3).value() as i64 as u64,
        centroids: floats(4),
        scaled_centroids: floats(5),
        standardized: field(6).value() != 0,
        log1p: bools(7),
        means: floats(8),
        sds: floats(9),
        inertia: f8(field(10)),
        iterations: field(11).value() as i32 as u32,
        converged: field(12).value() != 0,
        sizes,
        silhouette: (!nulls[14]).then(|| f8(v[14])),
        silhouette_exact: field(15).value() != 0,
        davies_bouldin: f8(field(16)),
    }
}

// tiers.kmeans_assign(features float8[], model tiers.kmeans_model) -> integer (1..k): the
// nearest centroid after the model's scaling. STRICT.
sql_function!(ct_kmeans_assign, |fcinfo| {
    use crate::args::kmeans_assign::*;
    let (Some(f), Some(m)) = (arg(fcinfo, FEATURES), arg(fcinfo, MODEL)) else {
        return return_null(fcinfo);
    };
    let c = model_arg(fcinfo, m, |model| {
        let features = f8_vector(f, FEATURES.name);
        check(assign(model, &features))
    });
    pg_sys::Datum::from(c as i32 + 1)
});

// tiers.kmeans_label(model, cluster integer, lang text) -> text: the 8-class name of an
// RFM-shaped model's cluster (1..k); NULL model or cluster: NULL; NULL lang: the setting.
sql_function!(ct_kmeans_label, |fcinfo| {
    use crate::args::kmeans_label::*;
    let (Some(m), Some(c)) = (arg(fcinfo, MODEL), arg(fcinfo, CLUSTER)) else {
        return return_null(fcinfo);
    };
    let l = arg(fcinfo, LANG);
    let lang = crate::language::label_language(
        &fcinfo,
        l.as_ref().map(|d| text_str(d)),
        defaults::KMEANS_LABEL_LANG,
    );
    model_arg(fcinfo, m, |model| {
        let cluster = c.value() as i32 as i64;
        if !(1..=model.k as i64).contains(&cluster) {
            invalid(format!(
                "cluster must be between 1 and {}, got {cluster}",
                model.k
            ));
        }
        text_datum(check(label(model, cluster - 1, lang)))
    })
});
