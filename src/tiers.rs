//! Tier schemes in SQL: `define_tier_scheme` and the three forms of `tier_of`.

use crate::citus::config_query;
use crate::raw::*;
use crate::sql_function;
use customer_tiers_core::tiers::{InlineTiers, Level, Scheme};
use pgrx::pg_sys;
use pgrx::prelude::*;

/// The longest scheme name `define_tier_scheme` accepts.
const MAX_SCHEME_BYTES: usize = 1000;

/// Reads a scheme from `tiers.tier_schemes` / `tiers.tier_levels` and validates it.
fn load_scheme(name: &str) -> Scheme {
    let head = config_query(
        |from| {
            format!(
                // grace_evaluations through to_jsonb: NULL in a 0.1.0 catalog, which lacks the
                // column (this library serves that catalog until ALTER EXTENSION customer_tiers
                // UPDATE); the column is an integer, so its jsonb text casts back exactly
                "SELECT s.max_drop, s.lowest_is_floor, \
                        (pg_catalog.to_jsonb(s) OPERATOR(pg_catalog.->>) 'grace_evaluations')\
                        ::pg_catalog.int4 \
                 FROM {} AS s WHERE s.scheme OPERATOR(pg_catalog.=) $1",
                from("tier_schemes")
            )
        },
        &[SqlParam::from(name)],
        |row| {
            (
                row.get::<i32>(1),
                row.get::<bool>(2).unwrap_or(true),
                row.get::<i32>(3),
            )
        },
    );
    let Some(&(max_drop, floor, grace)) = head.first() else {
        invalid(format!(
            "scheme \"{name}\" does not exist in tiers.tier_schemes"
        ))
    };
    let levels: Vec<Level> = config_query(
        |from| {
            format!(
                "SELECT l.tier, l.entry, l.retain FROM {} AS l \
                 WHERE l.scheme OPERATOR(pg_catalog.=) $1 ORDER BY l.rank",
                from("tier_levels")
            )
        },
        &[SqlParam::from(name)],
        |row| Level {
            name: row.get::<String>(1).unwrap_or_default(),
            entry: row.get::<f64>(2).unwrap_or(f64::NAN),
            retain: row.get::<f64>(3).unwrap_or(f64::NAN),
        },
    );
    check(Scheme::new(levels, max_drop, floor).and_then(|s| s.with_grace(grace)))
}

/// The scheme of a call site, reloaded when the name changes (and by every new statement,
/// which gets a new call site).
#[derive(Default)]
struct SchemeCache {
    name: String,
    scheme: Option<Scheme>,
    texts: Vec<Option<Kept>>,
}

impl SchemeCache {
    /// The scheme named by a text datum; the bytes are compared first, so the common case (the
    /// same constant name on every row) does no UTF-8 validation and no allocation.
    ///
    /// # Safety
    ///
    /// `name` is a `text` datum of the current call.
    unsafe fn scheme_of(&mut self, name: pg_sys::Datum) -> &Scheme {
        // SAFETY: `name` is a text (a varlena) of the current call (caller)
        let same = self.scheme.is_some() && self.name.as_bytes() == unsafe { varlena_bytes(&name) };
        if same {
            return self.scheme.as_ref().expect("checked above");
        }
        // SAFETY: as above
        self.scheme(unsafe { text_str(&name) })
    }

    fn scheme(&mut self, name: &str) -> &Scheme {
        if self.scheme.is_none() || self.name != name {
            let s = load_scheme(name);
            self.texts = vec![None; s.levels.len()];
            self.scheme = Some(s);
            self.name = name.to_string();
        }
        self.scheme.as_ref().unwrap()
    }
}

/// The tier name datum (kept per call site, copied per row).
///
/// # Safety
///
/// `fcinfo` is the current call's and `cache` its call site's cache.
unsafe fn tier_datum(
    fcinfo: pg_sys::FunctionCallInfo,
    cache: &mut SchemeCache,
    k: usize,
) -> pg_sys::Datum {
    if cache.texts[k].is_none() {
        let name = cache.scheme.as_ref().unwrap().levels[k].name.clone();
        // SAFETY: `fcinfo` is the current call's (caller); the text is a plain varlena just made
        cache.texts[k] = Some(unsafe { keep(fcinfo, text_datum(&name)) });
    }
    // SAFETY: kept above or by an earlier call of this call site (the cache is its, caller)
    unsafe { copy_out(cache.texts[k].unwrap()) }
}

/// The `value` argument 0; None if NULL, 22023 for NaN.
///
/// # Safety
///
/// `fcinfo` is the current call's.
unsafe fn value_arg(fcinfo: pg_sys::FunctionCallInfo) -> Option<f64> {
    use crate::args::tier_of::VALUE;
    // SAFETY: `fcinfo` is the current call's (caller)
    let v = f8(unsafe { arg(fcinfo, VALUE) }?);
    if v.is_nan() {
        invalid(format!("{} must be a number, got NaN", VALUE.name));
    }
    Some(v)
}

sql_function!(ct_tier_of, |fcinfo| {
    use crate::args::tier_of::*;
    let (Some(v), Some(name)) = (value_arg(fcinfo), arg(fcinfo, SCHEME)) else {
        return return_null(fcinfo);
    };
    with_call_cache::<SchemeCache, _>(fcinfo, |cache| {
        let cache = &mut cache.extra;
        match cache.scheme_of(name).entry_tier(v) {
            Some(k) => tier_datum(fcinfo, cache, k),
            None => return_null(fcinfo),
        }
    })
});

/// The tier after one evaluation from `previous_tier` (argument 2); with `grace` the scheme's
/// grace period applies, `grace_used` being argument 3 (NULL = 0).
///
/// # Safety
///
/// `fcinfo` is the current call's, of `tier_of(value, scheme text, previous_tier text
/// [, grace_used integer])`.
unsafe fn tier_after(fcinfo: pg_sys::FunctionCallInfo, grace: bool) -> pg_sys::Datum {
    use crate::args::tier_of::*;
    // SAFETY: `fcinfo` is the current call's (caller)
    let (Some(v), Some(name)) = (unsafe { (value_arg(fcinfo), arg(fcinfo, SCHEME)) }) else {
        // SAFETY: as above
        return unsafe { return_null(fcinfo) };
    };
    // grace_used exists only in the grace form
    let grace_used = if grace {
        // SAFETY: as above
        match unsafe { arg(fcinfo, GRACE_USED) } {
            Some(d) => {
                let g = d.value() as i32;
                if g < 0 {
                    invalid(format!("{} must not be negative, got {g}", GRACE_USED.name));
                }
                Some(g as u32)
            }
            None => Some(0),
        }
    } else {
        None
    };
    // SAFETY: the call site's cache (caller); scheme and previous_tier are texts (caller)
    unsafe {
        with_call_cache::<SchemeCache, _>(fcinfo, |cache| {
            let cache = &mut cache.extra;
            let scheme = cache.scheme_of(name);
            let next = match arg(fcinfo, PREVIOUS_TIER) {
                None => scheme.entry_tier(v),
                Some(prev) => {
                    let p = check(scheme.rank(text_str(&prev)));
                    match grace_used {
                        Some(used) => scheme.next_tier_grace(v, p, used),
                        None => scheme.next_tier(v, p),
                    }
                }
            };
            match next {
                Some(k) => tier_datum(fcinfo, cache, k),
                None => return_null(fcinfo),
            }
        })
    }
}

sql_function!(ct_tier_of_previous, |fcinfo| { tier_after(fcinfo, false) });

sql_function!(ct_tier_of_grace, |fcinfo| { tier_after(fcinfo, true) });

/// The inline tiers of a call site, re-validated only when the array arguments change.
#[derive(Default)]
struct InlineCache {
    thresholds: Vec<u8>,
    names: Vec<u8>,
    tiers: Option<InlineTiers>,
    texts: Vec<Kept>,
}

/// `tier_of(value, thresholds float8[], names text[])`.
///
/// # Safety
///
/// `fcinfo` is the current call's, with those arguments.
unsafe fn tier_of_inline(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    use crate::args::tier_of_inline::*;
    // SAFETY: `fcinfo` is the current call's (caller)
    let (Some(v), Some(t), Some(n)) = (unsafe {
        (
            arg(fcinfo, VALUE),
            arg(fcinfo, THRESHOLDS),
            arg(fcinfo, NAMES),
        )
    }) else {
        // SAFETY: as above
        return unsafe { return_null(fcinfo) };
    };
    let value = f8(v);
    if value.is_nan() {
        invalid("value must be a number, got NaN");
    }
    // SAFETY: the call site's cache (caller); `t` is a float8[] and `n` a text[] of the call
    // (caller), the texts kept are plain varlenas just made and copied out by this call site
    unsafe {
        with_call_cache::<InlineCache, _>(fcinfo, |cache| {
            let cache = &mut cache.extra;
            let (tb, nb) = (varlena_bytes(&t), varlena_bytes(&n));
            if cache.tiers.is_none() || cache.thresholds != tb || cache.names != nb {
                let (t, n) = (
                    check_list_shape(t, THRESHOLDS.name),
                    check_list_shape(n, NAMES.name),
                );
                let thresholds: Vec<f64> =
                    pgrx::Array::<f64>::from_polymorphic_datum(t, false, pg_sys::FLOAT8ARRAYOID)
                        .expect("not null")
                        .iter()
                        .map(|x| x.unwrap_or_else(|| invalid("thresholds must not contain NULL")))
                        .collect();
                let names: Vec<String> =
                    pgrx::Array::<&str>::from_polymorphic_datum(n, false, pg_sys::TEXTARRAYOID)
                        .expect("not null")
                        .iter()
                        .map(|x| {
                            x.map(str::to_string)
                                .unwrap_or_else(|| invalid("names must not contain NULL"))
                        })
                        .collect();
                let tiers = check(InlineTiers::new(&thresholds, &names));
                cache.texts = names.iter().map(|s| keep(fcinfo, text_datum(s))).collect();
                cache.thresholds = tb.to_vec();
                cache.names = nb.to_vec();
                cache.tiers = Some(tiers);
            }
            match cache.tiers.as_ref().unwrap().tier(value) {
                Some(k) => copy_out(cache.texts[k]),
                None => return_null(fcinfo),
            }
        })
    }
}

sql_function!(ct_tier_of_inline, |fcinfo| { tier_of_inline(fcinfo) });

// The 0.1.0 install script declared tier_of(value, thresholds, names) with this symbol (a pgrx
// wrapper then); it stays exported so that script, and with it the 0.1.0 -> 0.2.0 update path,
// still loads. The update points the function at ct_tier_of_inline.
sql_function!(tier_of_inline_wrapper, |fcinfo| { tier_of_inline(fcinfo) });

// Creates or replaces a tier scheme from a jsonb array of tiers, lowest first:
// `[{"tier": "Silver", "entry": 1000, "retain": 800}, ...]` (`retain` defaults to `entry`).
// SQL: `define_tier_scheme(scheme text, tiers jsonb, max_drop integer DEFAULT NULL,
// lowest_is_floor boolean DEFAULT true, description text DEFAULT '', grace_evaluations integer
// DEFAULT NULL) -> integer`. Written against fmgr directly so that NULL arguments and jsonb
// numbers beyond double precision are proper errors (22004, 22023).
sql_function!(ct_define_tier_scheme, |fcinfo| {
    define_tier_scheme_args(fcinfo, 6)
});

// The 0.1.0 signature (scheme, tiers, max_drop, lowest_is_floor, description): kept exported so
// a 0.1.0 catalog keeps working with this library until ALTER EXTENSION customer_tiers UPDATE.
sql_function!(define_tier_scheme_wrapper, |fcinfo| {
    define_tier_scheme_args(fcinfo, 5)
});

/// `define_tier_scheme` with `n` (5 or 6) arguments.
///
/// # Safety
///
/// `fcinfo` is the current call's, with the arguments of `define_tier_scheme` (the first `n`).
unsafe fn define_tier_scheme_args(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> pg_sys::Datum {
    use crate::args::define_tier_scheme::*;
    // SAFETY: `fcinfo` is the current call's (caller)
    let get = |a: Arg| unsafe { arg(fcinfo, a) };
    let scheme = match get(SCHEME) {
        // SAFETY: argument `scheme` is a text (caller)
        Some(d) => unsafe { text_str(&d) }.to_string(),
        None => null_not_allowed(SCHEME.name),
    };
    // a key of tiers.tier_schemes: far below the btree limit, so a long name is bad input
    // (22023), not an index-size failure (54000)
    if scheme.len() > MAX_SCHEME_BYTES {
        invalid(format!(
            "scheme must be at most {MAX_SCHEME_BYTES} bytes, got {}",
            scheme.len()
        ));
    }
    let tiers = match get(TIERS) {
        // SAFETY: argument `tiers` is a jsonb (caller)
        Some(d) => unsafe { crate::tags::jsonb_value(d, TIERS.name) },
        None => null_not_allowed(TIERS.name),
    };
    let max_drop = get(MAX_DROP).map(|d| d.value() as i32);
    let floor = match get(LOWEST_IS_FLOOR) {
        Some(d) => d.value() != 0,
        None => null_not_allowed(LOWEST_IS_FLOOR.name),
    };
    let description = match get(DESCRIPTION) {
        // SAFETY: argument `description` is a text (caller)
        Some(d) => unsafe { text_str(&d) }.to_string(),
        None => null_not_allowed(DESCRIPTION.name),
    };
    let grace = if n > GRACE_EVALUATIONS.pos {
        get(GRACE_EVALUATIONS).map(|d| d.value() as i32)
    } else {
        None
    };
    pg_sys::Datum::from(store_scheme(
        &scheme,
        pgrx::JsonB(tiers),
        max_drop,
        floor,
        &description,
        grace,
    ))
}

fn store_scheme(
    scheme: &str,
    tiers: pgrx::JsonB,
    max_drop: Option<i32>,
    lowest_is_floor: bool,
    description: &str,
    grace_evaluations: Option<i32>,
) -> i32 {
    if let Some(g) = grace_evaluations {
        if g < 1 {
            invalid(format!(
                "grace_evaluations must be at least 1 (or NULL for no grace period), got {g}"
            ));
        }
    }
    let items = match &tiers.0 {
        serde_json::Value::Array(items) => items.clone(),
        _ => invalid("tiers must be a jsonb array of {\"tier\", \"entry\", \"retain\"} objects"),
    };
    let number = |v: Option<&serde_json::Value>, what: &str, i: usize| -> Option<f64> {
        match v {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Number(n)) => n.as_f64(),
            Some(serde_json::Value::String(s)) if s == "-Infinity" => Some(f64::NEG_INFINITY),
            Some(other) => invalid(format!(
                "tier {}: {what} must be a number, got {other}",
                i + 1
            )),
        }
    };
    let levels: Vec<Level> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let name = match item.get("tier") {
                Some(serde_json::Value::String(s)) => s.clone(),
                _ => invalid(format!("tier {}: \"tier\" must be a string", i + 1)),
            };
            let entry = number(item.get("entry"), "entry", i)
                .unwrap_or_else(|| invalid(format!("tier {}: \"entry\" is required", i + 1)));
            let retain = number(item.get("retain"), "retain", i).unwrap_or(entry);
            Level {
                name,
                entry,
                retain,
            }
        })
        .collect();
    let s = check(Scheme::new(levels, max_drop, lowest_is_floor));
    if scheme.trim().is_empty() {
        invalid("scheme must not be empty");
    }
    // $1 scheme, $2 max_drop, $3 lowest_is_floor, $4 description, $5 grace_evaluations (read
    // only when given), then per level: rank, tier, entry, retain
    let mut sql = format!(
        "DELETE FROM tiers.tier_schemes WHERE scheme OPERATOR(pg_catalog.=) $1; \
         INSERT INTO tiers.tier_schemes (scheme, max_drop, lowest_is_floor, description{}) \
         VALUES ($1, $2, $3, $4{});",
        // the column is named only when used, so the 0.1.0 entry point works on a 0.1.0 catalog
        if grace_evaluations.is_some() {
            ", grace_evaluations"
        } else {
            ""
        },
        if grace_evaluations.is_some() {
            ", $5"
        } else {
            ""
        },
    );
    let mut params: Vec<SqlParam<'_>> = vec![
        SqlParam::from(scheme),
        SqlParam::from(max_drop),
        SqlParam::from(lowest_is_floor),
        SqlParam::from(description),
        SqlParam::from(grace_evaluations),
    ];
    for (i, l) in s.levels.iter().enumerate() {
        let p = params.len();
        sql.push_str(&format!(
            " INSERT INTO tiers.tier_levels (scheme, rank, tier, entry, retain) VALUES ($1, ${}, ${}, ${}, ${});",
            p + 1,
            p + 2,
            p + 3,
            p + 4
        ));
        params.push(SqlParam::from(i as i32 + 1));
        params.push(SqlParam::from(l.name.as_str()));
        params.push(SqlParam::from(l.entry));
        params.push(SqlParam::from(l.retain));
    }
    Spi::run_with_args(&sql, &params)
        .unwrap_or_else(|e| invalid(format!("cannot store scheme \"{scheme}\": {e}")));
    s.levels.len() as i32
}
