//! Tag rules in SQL: `tag_rule_check`, `tag_columns`, `tag_presets` and `customer_tags`.

use crate::citus::config_query;
use crate::raw::*;
use crate::sql_function;
use customer_tiers_core::tags::{compile, Kind, Param, Rule, Value, COLUMNS, PRESETS};
use pgrx::pg_sys;
use pgrx::prelude::*;

/// A rule's `params` jsonb as compile-time parameters.
fn params_of(tag: &str, params: &serde_json::Value) -> Vec<(String, Param)> {
    let tag = if tag.is_empty() {
        String::new()
    } else {
        format!("tag \"{tag}\": ")
    };
    let obj = match params {
        serde_json::Value::Object(m) => m,
        serde_json::Value::Null => return Vec::new(),
        _ => invalid(format!("{tag}params must be a jsonb object")),
    };
    obj.iter()
        .map(|(k, v)| {
            let p = match v {
                serde_json::Value::Number(n) => match n.as_f64() {
                    Some(x) if x.is_finite() => Param::Number(x),
                    _ => invalid(format!("{tag}parameter {k} is out of range")),
                },
                serde_json::Value::String(s) => Param::Text(s.clone()),
                serde_json::Value::Bool(b) => Param::Bool(*b),
                _ => invalid(format!(
                    "{tag}parameter {k} must be a number, a string or a boolean"
                )),
            };
            (k.to_lowercase(), p)
        })
        .collect()
}

fn compile_rule(tag: &str, expression: &str, params: &serde_json::Value) -> (Rule, Vec<String>) {
    check(compile(expression, &params_of(tag, params)).map_err(|e| {
        customer_tiers_core::CoreError::InvalidParameter(format!("tag \"{tag}\": {e}"))
    }))
}

/// A jsonb datum parsed by serde_json (numbers beyond f64, e.g. 1e400, are a 22023 error rather
/// than pgrx's internal conversion error).
///
/// # Safety
///
/// `d` is a non-NULL `jsonb` datum of the current call.
pub(crate) unsafe fn jsonb_value(d: pg_sys::Datum, what: &str) -> serde_json::Value {
    // SAFETY: jsonb_out takes one non-NULL jsonb (caller) and returns a C string in the current
    // memory context, valid for the call
    let text =
        unsafe { pgrx::direct_function_call::<&std::ffi::CStr>(pg_sys::jsonb_out, &[Some(d)]) }
            .expect("jsonb_out of a non-null jsonb");
    serde_json::from_str(&text.to_string_lossy())
        .unwrap_or_else(|e| invalid(format!("{what}: {e}")))
}

// tag_rule_check(expression text, params jsonb DEFAULT '{}') -> text[]: validates a tag rule and
// returns the columns it reads; 22023 with the reason otherwise.
sql_function!(ct_tag_rule_check, |fcinfo| {
    use crate::args::tag_rule_check::*;
    let Some(expression) = arg(fcinfo, EXPRESSION) else {
        null_not_allowed(EXPRESSION.name)
    };
    let expression = text_str(&expression);
    let params = match arg(fcinfo, PARAMS) {
        Some(d) => jsonb_value(d, PARAMS.name),
        None => serde_json::Value::Null,
    };
    let given = params_of("", &params);
    let (rule, used) = check(compile(expression, &given));
    if let Some((unused, _)) = given.iter().find(|(n, _)| !used.contains(n)) {
        invalid(format!(
            "tag expression: parameter {unused} is not used by the expression (it uses: {})",
            if used.is_empty() {
                "none".to_string()
            } else {
                used.join(", ")
            }
        ));
    }
    let columns: Vec<String> = rule
        .columns
        .iter()
        .map(|&k| COLUMNS[k].name.to_string())
        .collect();
    columns.into_datum().expect("a text[] datum")
});

/// The columns tag rules may reference.
#[pg_extern(immutable, parallel_safe)]
fn tag_columns() -> TableIterator<
    'static,
    (
        name!(name, String),
        name!(kind, String),
        name!(description, String),
    ),
> {
    TableIterator::new(COLUMNS.iter().map(|c| {
        let kind = match c.kind {
            Kind::Number => "number",
            Kind::Text => "text",
            Kind::Bool => "boolean",
        };
        (
            c.name.to_string(),
            kind.to_string(),
            c.description.to_string(),
        )
    }))
}

/// The preset tag rules compiled into the extension (used by the install script).
#[allow(clippy::type_complexity)]
#[pg_extern(immutable, parallel_safe)]
fn tag_presets() -> TableIterator<
    'static,
    (
        name!(tag, String),
        name!(label_zh, String),
        name!(expression, String),
        name!(params, pgrx::JsonB),
        name!(description, String),
        name!(position, i32),
    ),
> {
    TableIterator::new(PRESETS.iter().enumerate().map(|(i, p)| {
        let params: serde_json::Map<String, serde_json::Value> = p
            .params
            .iter()
            .map(|(n, v)| (n.to_string(), serde_json::json!(v)))
            .collect();
        (
            p.tag.to_string(),
            p.label_zh.to_string(),
            p.expression.to_string(),
            pgrx::JsonB(serde_json::Value::Object(params)),
            p.description.to_string(),
            (i as i32 + 1) * 10,
        )
    }))
}

/// How a column of the input row converts to a rule value.
#[derive(Clone, Copy)]
enum Conv {
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Text,
    Bpchar,
    Name,
    Bool,
}

/// The rules of a call site and the layout of the row type last seen.
#[derive(Default)]
struct TagCache {
    loaded: bool,
    /// (output label as a text datum kept in the call site's context, rule)
    rules: Vec<(Kept, Rule)>,
    /// Union of the columns the rules read.
    needed: Vec<usize>,
    row_type: Option<(pg_sys::Oid, i32)>,
    /// For each needed column: its attribute index in the row and its conversion.
    layout: Vec<(usize, Option<(usize, Conv)>)>,
    values: Vec<pg_sys::Datum>,
    nulls: Vec<bool>,
    key: Option<(Option<Vec<String>>, String)>,
}

/// A `text[]` argument as strings (no NULL elements).
///
/// # Safety
///
/// `d` is a non-NULL `text[]` datum of the current call.
unsafe fn text_array_arg(d: pg_sys::Datum, what: &str) -> Vec<String> {
    // SAFETY: `d` is a text[] of the current call (caller)
    let arr = unsafe { pgrx::Array::<&str>::from_polymorphic_datum(d, false, pg_sys::TEXTOID) }
        .unwrap_or_else(|| null_not_allowed(what));
    arr.iter()
        .map(|t| {
            t.map(str::to_string)
                .unwrap_or_else(|| invalid(format!("{what} must not contain NULL")))
        })
        .collect()
}

/// Loads and compiles the tag rules into the call site's cache.
///
/// # Safety
///
/// `fcinfo` is the current call's and `cache` its call site's cache.
unsafe fn load_rules(
    fcinfo: pg_sys::FunctionCallInfo,
    cache: &mut TagCache,
    wanted: &Option<Vec<String>>,
    lang: &str,
) {
    let label = match lang {
        "en" => "r.tag",
        "zh" => "coalesce(r.label_zh, r.tag)",
        _ => invalid(format!("lang must be 'en' or 'zh', got '{lang}'")),
    };
    // the tags asked for are parameter $1 (a text[]); all enabled rules take none
    let (filter, params): (&str, Vec<SqlParam<'_>>) = match wanted {
        None => ("r.enabled", Vec::new()),
        Some(list) => (
            "r.tag OPERATOR(pg_catalog.=) ANY ($1)",
            vec![SqlParam::from(
                list.iter().map(String::as_str).collect::<Vec<&str>>(),
            )],
        ),
    };
    // params as text, parsed here: a jsonb number beyond f64 is then this 22023 error below
    // (pgrx's JsonB does the same text round trip but panics on it)
    let rows: Vec<(String, String, String, String)> = config_query(
        |from| {
            format!(
                "SELECT r.tag, {label}, r.expression, r.params::pg_catalog.text \
                 FROM {} AS r WHERE {filter} ORDER BY r.position, r.tag",
                from("effective_tag_rules")
            )
        },
        &params,
        |r| {
            let t = |col: usize| r.get::<String>(col).unwrap_or_default();
            (t(1), t(2), t(3), t(4))
        },
    );
    if let Some(list) = wanted {
        for t in list {
            if !rows.iter().any(|r| &r.0 == t) {
                invalid(format!("tag \"{t}\" does not exist in tiers.tag_rules"));
            }
        }
    }
    cache.rules.clear();
    for (tag, label, expression, params) in rows {
        let params: serde_json::Value = serde_json::from_str(&params)
            .unwrap_or_else(|e| invalid(format!("tag \"{tag}\": params: {e}")));
        let (rule, _) = compile_rule(&tag, &expression, &params);
        // SAFETY: `fcinfo` is the current call's (caller); the text is a plain varlena just made
        let label = unsafe { keep(fcinfo, text_datum(&label)) };
        cache.rules.push((label, rule));
    }
    let mut needed: Vec<usize> = cache
        .rules
        .iter()
        .flat_map(|(_, r)| r.columns.iter().copied())
        .collect();
    needed.sort_unstable();
    needed.dedup();
    cache.needed = needed;
    cache.row_type = None;
    cache.loaded = true;
}

/// How a column of type `typid` converts to the kind the rule column `column` needs (42804
/// otherwise).
fn conv_of(column: usize, typid: pg_sys::Oid) -> Conv {
    // SAFETY: a catalog lookup of any type OID (an unknown one raises an ERROR)
    let base = unsafe { pg_sys::getBaseType(typid) };
    let c = &COLUMNS[column];
    let conv = match base {
        pg_sys::INT2OID => Some((Kind::Number, Conv::Int2)),
        pg_sys::INT4OID => Some((Kind::Number, Conv::Int4)),
        pg_sys::INT8OID => Some((Kind::Number, Conv::Int8)),
        pg_sys::FLOAT4OID => Some((Kind::Number, Conv::Float4)),
        pg_sys::FLOAT8OID => Some((Kind::Number, Conv::Float8)),
        pg_sys::NUMERICOID => Some((Kind::Number, Conv::Numeric)),
        pg_sys::TEXTOID | pg_sys::VARCHAROID => Some((Kind::Text, Conv::Text)),
        pg_sys::BPCHAROID => Some((Kind::Text, Conv::Bpchar)),
        pg_sys::NAMEOID => Some((Kind::Text, Conv::Name)),
        pg_sys::BOOLOID => Some((Kind::Bool, Conv::Bool)),
        _ => None,
    };
    match conv {
        Some((k, conv)) if k == c.kind => conv,
        _ => {
            // SAFETY: format_type_be returns a palloc'd NUL-terminated string for any type OID
            let ty = unsafe { std::ffi::CStr::from_ptr(pg_sys::format_type_be(typid)) }
                .to_string_lossy();
            let want = match c.kind {
                Kind::Number => {
                    "a number type (smallint, integer, bigint, real, double precision, numeric)"
                }
                Kind::Text => "a text type (text, varchar, char, name)",
                Kind::Bool => "boolean",
            };
            ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
                format!(
                    "column \"{}\" of the customer row has type {ty}; tag rules need {want}",
                    c.name
                )
            );
        }
    }
}

/// A field of the row as a rule value; text values borrow the datum.
///
/// # Safety
///
/// `d` is a non-NULL field of the current call's row argument, of a type `conv` was made for
/// ([`conv_of`]), valid while borrowed.
unsafe fn value_of(d: &pg_sys::Datum, conv: Conv) -> Value<'_> {
    match conv {
        Conv::Int2 => Value::Number(d.value() as i16 as f64),
        Conv::Int4 => Value::Number(d.value() as i32 as f64),
        Conv::Int8 => Value::Number(d.value() as i64 as f64),
        Conv::Float4 => Value::Number(f32::from_bits(d.value() as u32) as f64),
        Conv::Float8 => Value::Number(f8(*d)),
        // SAFETY: a numeric field (caller)
        Conv::Numeric => Value::Number(unsafe { crate::numeric::to_f64(*d) }),
        // SAFETY: a text or varchar field (caller)
        Conv::Text => Value::Text(unsafe { text_str(d) }),
        // SAFETY: a character field (caller)
        Conv::Bpchar => Value::Text(unsafe { text_str(d) }.trim_end_matches(' ')),
        Conv::Name => {
            // SAFETY: a name field points at a NUL-terminated NameData (caller), valid while
            // `d` is borrowed
            let c = unsafe { std::ffi::CStr::from_ptr(d.cast_mut_ptr::<std::os::raw::c_char>()) };
            Value::Text(c.to_str().unwrap_or(""))
        }
        Conv::Bool => Value::Bool(d.value() != 0),
    }
}

sql_function!(ct_customer_tags, |fcinfo| {
    use crate::args::customer_tags::*;
    let Some(row) = arg(fcinfo, CUSTOMER) else {
        return return_null(fcinfo);
    };
    let wanted = arg(fcinfo, TAGS).map(|d| text_array_arg(d, TAGS.name));
    let lang = match arg(fcinfo, LANG) {
        Some(d) => text_str(&d).to_string(),
        None => null_not_allowed(LANG.name),
    };
    with_call_cache::<TagCache, _>(fcinfo, |cache| {
        let cache = &mut cache.extra;
        let key = (wanted, lang);
        if !cache.loaded || cache.key.as_ref() != Some(&key) {
            load_rules(fcinfo, cache, &key.0, &key.1);
            cache.key = Some(key);
        }

        let hdr = pg_sys::pg_detoast_datum(row.cast_mut_ptr()) as pg_sys::HeapTupleHeader;
        let typ = (
            pgrx::heap_tuple_header_get_type_id(hdr),
            pgrx::heap_tuple_header_get_typmod(hdr),
        );
        let tupdesc = pg_sys::lookup_rowtype_tupdesc(typ.0, typ.1);
        let natts = (*tupdesc).natts as usize;
        if cache.row_type != Some(typ) || cache.values.len() != natts {
            // PgTupleDesc reads the attributes on every major (PostgreSQL 18 moved them behind
            // compact_attrs); from_pg_unchecked: the descriptor is released below, not by the wrapper
            let desc = pgrx::PgTupleDesc::from_pg_unchecked(tupdesc);
            let attrs: Vec<&pg_sys::FormData_pg_attribute> = desc.iter().collect();
            cache.layout = cache
                .needed
                .iter()
                .map(|&k| {
                    let found = attrs.iter().position(|a| {
                        !a.attisdropped
                            && std::ffi::CStr::from_ptr(a.attname.data.as_ptr()).to_bytes()
                                == COLUMNS[k].name.as_bytes()
                    });
                    (k, found.map(|i| (i, conv_of(k, attrs[i].atttypid))))
                })
                .collect();
            cache.values = vec![pg_sys::Datum::from(0usize); natts];
            cache.nulls = vec![true; natts];
            cache.row_type = Some(typ);
        }
        let mut tuple: pg_sys::HeapTupleData = std::mem::zeroed();
        tuple.t_len = pgrx::heap_tuple_header_get_datum_length(hdr) as u32;
        tuple.t_data = hdr;
        pg_sys::heap_deform_tuple(
            &mut tuple,
            tupdesc,
            cache.values.as_mut_ptr(),
            cache.nulls.as_mut_ptr(),
        );
        release_tupdesc(tupdesc);

        let mut vals = [Value::Null; 64];
        debug_assert!(COLUMNS.len() <= vals.len());
        for &(k, at) in &cache.layout {
            if let Some((i, conv)) = at {
                if !cache.nulls[i] {
                    vals[k] = value_of(&cache.values[i], conv);
                }
            }
        }
        let mut out: Vec<pg_sys::Datum> = Vec::with_capacity(cache.rules.len());
        for (label, rule) in &cache.rules {
            if rule.matches(&vals[..COLUMNS.len()]) {
                out.push(label.datum());
            }
        }
        let arr = pg_sys::construct_array(
            out.as_mut_ptr(),
            out.len() as i32,
            pg_sys::TEXTOID,
            -1,
            false,
            pg_sys::TYPALIGN_INT as std::os::raw::c_char,
        );
        pg_sys::Datum::from(arr)
    })
});
