//! Tag rules in SQL: `tag_rule_check`, `tag_columns`, `tag_presets` and `customer_tags`.

use crate::citus::config_query;
use crate::raw::*;
use crate::sql_function;
use customer_tiers_core::tags::{compile, Kind, Param, Program, Rule, COLUMNS, MAX_SLOTS, PRESETS};
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

/// The row type of the rows last seen, found as PostgreSQL's own expression evaluator finds it
/// (`get_cached_rowtype` in execExprInterp.c) so that a row costs no type-cache lookup: a named
/// composite type by its type cache entry (never freed) and the identifier of its current
/// descriptor (changed, or 0, when the type is invalidated); a registered RECORD type by its
/// descriptor, which lives as long as the backend.
#[derive(Clone, Copy, Default)]
enum RowType {
    #[default]
    None,
    Named {
        typid: pg_sys::Oid,
        entry: *mut pg_sys::TypeCacheEntry,
    },
    Record {
        typmod: i32,
        tupdesc: pg_sys::TupleDesc,
    },
}

/// The rules of a call site, compiled, and the layout of the row type last seen.
#[derive(Default)]
struct TagCache {
    loaded: bool,
    /// The arguments the rules were loaded for: the bytes of `tags` (None: NULL) and of `lang`.
    key_tags: Option<Vec<u8>>,
    key_lang: Vec<u8>,
    /// The rules, compiled together.
    program: Option<Program>,
    /// The output labels, each as a `text` element of a `text[]` (a varlena with a 4-byte header,
    /// zero-padded to 4-byte alignment), one after another; `label_at[i]` is rule `i`'s
    /// (offset, padded length).
    labels: Vec<u8>,
    label_at: Vec<(usize, usize)>,
    row_type: RowType,
    /// The row descriptor the layout was made for: (type OID, typmod, descriptor identifier).
    layout_of: Option<(pg_sys::Oid, i32, u64)>,
    /// The attributes of the row up to the last one a slot reads, in order: how to step over
    /// each and, for those the program reads, its slot and conversion (a column the row lacks
    /// stays NULL).
    layout: Vec<Att>,
    /// The rules that matched the current row.
    hits: Vec<usize>,
}

/// An attribute of the row as [`read_row`] walks it, as `heap_deform_tuple` does.
#[derive(Clone, Copy)]
struct Att {
    /// `attlen`: a fixed length (> 0), a varlena (-1) or a C string (-2).
    len: i16,
    /// `attalign` in bytes, less one (a power of two less one: a mask).
    align_mask: usize,
    /// The slot of the program that reads the attribute, and its conversion.
    slot: Option<(usize, Conv)>,
}

/// A `text[]` argument as strings (no NULL elements).
///
/// # Safety
///
/// `d` is a non-NULL `text[]` datum of the current call.
unsafe fn text_array_arg(d: pg_sys::Datum, what: &str) -> Vec<String> {
    // SAFETY: `d` is a text[] of the current call (caller)
    let d = unsafe { check_list_shape(d, what) };
    // SAFETY: as above
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
fn load_rules(cache: &mut TagCache, wanted: &Option<Vec<String>>, lang: &str) {
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
    let mut rules = Vec::with_capacity(rows.len());
    cache.labels.clear();
    cache.label_at.clear();
    for (tag, label, expression, params) in rows {
        let params: serde_json::Value = serde_json::from_str(&params)
            .unwrap_or_else(|e| invalid(format!("tag \"{tag}\": params: {e}")));
        let (rule, _) = compile_rule(&tag, &expression, &params);
        rules.push(rule);
        // the element as construct_array stores it: the text varlena (4-byte header) as made by
        // cstring_to_text, then zeros up to the element alignment of text (int)
        let d = text_datum(&label);
        // SAFETY: `d` is a plain varlena just made in the current memory context
        let bytes = unsafe { varlena_with_header(d) };
        let at = cache.labels.len();
        cache.labels.extend_from_slice(bytes);
        cache.labels.resize(at + bytes.len().next_multiple_of(4), 0);
        cache.label_at.push((at, cache.labels.len() - at));
    }
    cache.program = Some(Program::new(rules.iter()));
    cache.layout_of = None;
    cache.loaded = true;
}

/// The whole of a plain varlena with a 4-byte header (header included).
///
/// # Safety
///
/// `d` points at a plain (not compressed, not external) varlena with a 4-byte header, valid while
/// the result is used.
unsafe fn varlena_with_header<'a>(d: pg_sys::Datum) -> &'a [u8] {
    // SAFETY: the caller's obligations; the header holds the total length
    unsafe {
        let p = d.cast_mut_ptr::<pg_sys::varlena>();
        debug_assert!(pgrx::varatt_is_4b_u(p));
        std::slice::from_raw_parts(p as *const u8, pgrx::varsize_4b(p))
    }
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

/// Puts the field at `p` into slot `i` of the program's row (text values into `text[i]`,
/// borrowing the row).
///
/// # Safety
///
/// `p` points at a non-NULL field of the current call's row argument (valid while `text` is
/// used), of a type `conv` was made for ([`conv_of`]), stored as a tuple stores it (a by-value
/// type in its `attlen` bytes, anything else in place).
#[inline(always)]
unsafe fn read_field(
    program: &mut Program,
    text: &mut [Option<&str>],
    i: usize,
    p: *const u8,
    conv: Conv,
) {
    // SAFETY: `p` points at the field, of the type `conv` says (caller); fixed-length fields are
    // read unaligned, so no alignment is assumed
    unsafe {
        match conv {
            Conv::Int2 => program.set_number(i, (p as *const i16).read_unaligned() as f64),
            Conv::Int4 => program.set_number(i, (p as *const i32).read_unaligned() as f64),
            Conv::Int8 => program.set_number(i, (p as *const i64).read_unaligned() as f64),
            Conv::Float4 => program.set_number(i, (p as *const f32).read_unaligned() as f64),
            Conv::Float8 => program.set_number(i, (p as *const f64).read_unaligned()),
            Conv::Numeric => program.set_number(i, crate::numeric::to_f64(pg_sys::Datum::from(p))),
            Conv::Text => text[i] = Some(row_text(p)),
            Conv::Bpchar => text[i] = Some(row_text(p).trim_end_matches(' ')),
            Conv::Name => {
                let c = std::ffi::CStr::from_ptr(p as *const std::os::raw::c_char);
                text[i] = Some(c.to_str().unwrap_or(""));
            }
            Conv::Bool => program.set_bool(i, *p != 0),
        }
    }
}

/// The text of a `text`, `varchar` or `char` field of the row.
///
/// # Safety
///
/// `p` points at a varlena field of the current call's row argument, valid for `'a`.
unsafe fn row_text<'a>(p: *const u8) -> &'a str {
    let d = pg_sys::Datum::from(p);
    // SAFETY: a varlena (caller)
    let s: *const str = unsafe { text_str(&d) };
    // SAFETY: the bytes are the row's, or a detoasted copy in the current memory context, valid
    // for the call ('a, caller), not only while the local `d` lives
    unsafe { &*s }
}

/// Sets the slots of the program (text slots: `text`) from the row `hdr` (a composite datum of
/// the layout's descriptor), attribute by attribute as `heap_deform_tuple` walks a tuple,
/// stopping after the last one read; a NULL attribute, or one past the tuple's own count, leaves
/// its slot NULL.
///
/// # Safety
///
/// `hdr` is a plain (detoasted) composite datum of the current call whose row type `layout` was
/// made for, valid while `text` is used.
unsafe fn read_row(
    layout: &[Att],
    hdr: pg_sys::HeapTupleHeader,
    program: &mut Program,
    text: &mut [Option<&str>],
) {
    program.clear();
    // SAFETY: `hdr` is a valid tuple header (caller): the data starts t_hoff bytes in, the NULL
    // bitmap (when HEAP_HASNULL) has a bit for each of its attributes, and each attribute is
    // where the walk below finds it (alignment and length from the descriptor the layout was made
    // for, as heap_deform_tuple finds them); read_field's obligations follow
    unsafe {
        let data = (hdr as *const u8).add((*hdr).t_hoff as usize);
        let bits = (*hdr).t_bits.as_ptr();
        let has_nulls = (*hdr).t_infomask as u32 & pg_sys::HEAP_HASNULL != 0;
        let natts = ((*hdr).t_infomask2 as u32 & pg_sys::HEAP_NATTS_MASK) as usize;
        let mut off = 0usize;
        for (a, att) in layout.iter().enumerate().take(natts) {
            if has_nulls && *bits.add(a >> 3) & (1 << (a & 7)) == 0 {
                continue;
            }
            // a varlena is aligned unless it starts here with a short header (a non-zero byte;
            // padding is zeros): att_align_pointer
            if att.len != -1 || *data.add(off) == 0 {
                off = (off + att.align_mask) & !att.align_mask;
            }
            let p = data.add(off);
            if let Some((i, conv)) = att.slot {
                read_field(program, text, i, p, conv);
            }
            off += match att.len {
                -1 => pgrx::varsize_any(p as *const pg_sys::varlena),
                -2 => std::ffi::CStr::from_ptr(p as *const std::os::raw::c_char)
                    .to_bytes_with_nul()
                    .len(),
                n => n as usize,
            };
        }
    }
}

/// The descriptor of the row type `(typid, typmod)` and its identity for the layout, from the
/// call site's cache when it is still current (no lookup per row).
///
/// # Safety
///
/// `(typid, typmod)` is the type of a composite datum of the current call. The descriptor is valid
/// until the next catalog access (a type-cache invalidation may free it): use it before any.
unsafe fn row_tupdesc(
    cache: &mut TagCache,
    typid: pg_sys::Oid,
    typmod: i32,
) -> (pg_sys::TupleDesc, (pg_sys::Oid, i32, u64)) {
    if typid != pg_sys::RECORDOID {
        let current = match cache.row_type {
            RowType::Named { typid: t, entry } if t == typid => {
                // SAFETY: type cache entries are never freed; an invalidated descriptor shows
                // as identifier 0 (typcache.c, InvalidateCompositeTypeCacheEntry)
                let id = unsafe { (*entry).tupDesc_identifier };
                (id != 0).then_some(entry)
            }
            _ => None,
        };
        let entry = match current {
            Some(entry) => entry,
            None => {
                // SAFETY: a composite type of a datum of the call (caller); lookup_type_cache
                // raises an ERROR rather than return NULL, and fills tupDesc when asked
                let entry =
                    unsafe { pg_sys::lookup_type_cache(typid, pg_sys::TYPECACHE_TUPDESC as i32) };
                cache.row_type = RowType::Named { typid, entry };
                entry
            }
        };
        // SAFETY: `entry` is a live type cache entry whose descriptor is current (above)
        unsafe { ((*entry).tupDesc, (typid, -1, (*entry).tupDesc_identifier)) }
    } else {
        let tupdesc = match cache.row_type {
            RowType::Record { typmod: m, tupdesc } if m == typmod => tupdesc,
            _ => {
                // SAFETY: a registered RECORD type of a datum of the call (caller); its
                // descriptor is never freed, so the pin can be dropped at once (as
                // get_cached_rowtype does)
                let tupdesc = unsafe {
                    let t = pg_sys::lookup_rowtype_tupdesc(typid, typmod);
                    release_tupdesc(t);
                    t
                };
                cache.row_type = RowType::Record { typmod, tupdesc };
                tupdesc
            }
        };
        (tupdesc, (typid, typmod, 0))
    }
}

/// Makes the layout (attribute and conversion of each slot) for a row descriptor.
///
/// # Safety
///
/// `tupdesc` is valid on entry (it may be freed by the catalog lookups made here: it is read
/// before them).
unsafe fn make_layout(cache: &mut TagCache, tupdesc: pg_sys::TupleDesc) {
    // PgTupleDesc reads the attributes on every major (PostgreSQL 18 moved them behind
    // compact_attrs); from_pg_unchecked: the descriptor is not the wrapper's to release
    // SAFETY: `tupdesc` is valid here (caller)
    let desc = unsafe { pgrx::PgTupleDesc::from_pg_unchecked(tupdesc) };
    let attrs: Vec<(Vec<u8>, pg_sys::Oid, Att)> = desc
        .iter()
        .map(|a| {
            let name = if a.attisdropped {
                Vec::new() // matches no column name
            } else {
                // SAFETY: attname is a NUL-terminated NameData
                unsafe { std::ffi::CStr::from_ptr(a.attname.data.as_ptr()) }
                    .to_bytes()
                    .to_vec()
            };
            let align: usize = match a.attalign as u8 {
                b'c' => 1,
                b's' => 2,
                b'i' => 4,
                _ => 8, // 'd'
            };
            let att = Att {
                len: a.attlen,
                align_mask: align - 1,
                slot: None,
            };
            (name, a.atttypid, att)
        })
        .collect();
    drop(desc);
    let program = cache.program.as_ref().expect("rules loaded");
    // the catalog lookups (conv_of) come after the descriptor was read
    let mut layout: Vec<Att> = attrs.iter().map(|(_, _, att)| *att).collect();
    let mut last = 0;
    for (i, &k) in program.columns().iter().enumerate() {
        let name = COLUMNS[k].name.as_bytes();
        if let Some(a) = attrs.iter().position(|(n, _, _)| n.as_slice() == name) {
            layout[a].slot = Some((i, conv_of(k, attrs[a].1)));
            last = last.max(a + 1);
        }
    }
    layout.truncate(last);
    cache.layout = layout;
}

/// A `text[]` of the labels at `hits` (offsets into `labels`), built as construct_array builds it
/// but in one allocation from the prebuilt elements; `{}` when there are none.
///
/// # Safety
///
/// `labels`/`label_at` are as in [`TagCache`].
unsafe fn labels_array(
    labels: &[u8],
    label_at: &[(usize, usize)],
    hits: &[usize],
) -> pg_sys::Datum {
    if hits.is_empty() {
        // SAFETY: construct_empty_array makes an empty array of any element type
        return pg_sys::Datum::from(unsafe { pg_sys::construct_empty_array(pg_sys::TEXTOID) });
    }
    // ARR_OVERHEAD_NONULLS(1): the header, one dimension and one lower bound, MAXALIGNed
    let header = std::mem::size_of::<pg_sys::ArrayType>() + 2 * std::mem::size_of::<i32>();
    let overhead = header.next_multiple_of(pg_sys::MAXIMUM_ALIGNOF as usize);
    let data: usize = hits.iter().map(|&i| label_at[i].1).sum();
    let total = overhead + data;
    // SAFETY: palloc returns `total` writable bytes (or raises an ERROR); the header fields are
    // written in place (ArrayType is repr(C), the dimension and lower bound follow it), the
    // padding up to `overhead` is zeroed, and the elements are copied from `labels` whose ranges
    // `label_at` gives (caller)
    unsafe {
        let p = pg_sys::palloc(total) as *mut u8;
        let a = p as *mut pg_sys::ArrayType;
        pgrx::set_varsize_4b(p as *mut pg_sys::varlena, total as i32);
        (*a).ndim = 1;
        (*a).dataoffset = 0; // no NULL bitmap
        (*a).elemtype = pg_sys::TEXTOID;
        let dims = p.add(std::mem::size_of::<pg_sys::ArrayType>()) as *mut i32;
        *dims = hits.len() as i32;
        *dims.add(1) = 1; // lower bound
        std::ptr::write_bytes(p.add(header), 0, overhead - header);
        let mut at = overhead;
        for &i in hits {
            let (off, len) = label_at[i];
            std::ptr::copy_nonoverlapping(labels.as_ptr().add(off), p.add(at), len);
            at += len;
        }
        pg_sys::Datum::from(p)
    }
}

sql_function!(ct_customer_tags, |fcinfo| {
    use crate::args::customer_tags::*;
    let Some(row) = arg(fcinfo, CUSTOMER) else {
        return return_null(fcinfo);
    };
    let tags = arg(fcinfo, TAGS);
    let lang = arg(fcinfo, LANG);
    with_call_cache::<TagCache, _>(fcinfo, |cache| {
        let cache = &mut cache.extra;
        // the rules are (re)loaded when the arguments differ from those they were loaded for,
        // compared as bytes (no per-row parsing or allocation)
        let tags_bytes = tags.as_ref().map(|d| varlena_bytes(d));
        let same_tags = cache.loaded && cache.key_tags.as_deref() == tags_bytes;
        let wanted = if same_tags {
            None
        } else {
            Some(tags.map(|d| text_array_arg(d, TAGS.name)))
        };
        let lang_str = crate::language::label_language(
            &fcinfo,
            lang.as_ref().map(|d| text_str(d)),
            crate::defaults::CUSTOMER_TAGS_LANG,
        );
        let lang_bytes = lang_str.as_bytes();
        if !same_tags || cache.key_lang != lang_bytes {
            let wanted = match wanted {
                Some(w) => w,
                None => tags.map(|d| text_array_arg(d, TAGS.name)),
            };
            cache.loaded = false;
            load_rules(cache, &wanted, lang_str);
            cache.key_tags = tags_bytes.map(<[u8]>::to_vec);
            cache.key_lang = lang_bytes.to_vec();
        }

        // a composite datum is a plain varlena unless it was compressed or moved out of line
        let p = row.cast_mut_ptr::<pg_sys::varlena>();
        let hdr = if pgrx::varatt_is_4b_u(p) {
            p
        } else {
            pg_sys::pg_detoast_datum(p)
        } as pg_sys::HeapTupleHeader;
        let typid = pgrx::heap_tuple_header_get_type_id(hdr);
        let typmod = pgrx::heap_tuple_header_get_typmod(hdr);
        // the layout is made (with catalog lookups) for the current descriptor, which is then
        // taken again: it is used only with no catalog access after it was taken
        loop {
            let (tupdesc, id) = row_tupdesc(cache, typid, typmod);
            if cache.layout_of == Some(id) {
                break;
            }
            make_layout(cache, tupdesc);
            cache.layout_of = Some(id);
        }
        let program = cache.program.as_mut().expect("rules loaded");
        let mut text = [None; MAX_SLOTS];
        read_row(&cache.layout, hdr, program, &mut text);
        program.run(&text);
        // the indexes of the matching rules, written without a branch on each result
        cache.hits.resize(program.len(), 0);
        let mut n = 0;
        for i in 0..program.len() {
            cache.hits[n] = i;
            n += program.matches(i) as usize;
        }
        labels_array(&cache.labels, &cache.label_at, &cache.hits[..n])
    })
});
