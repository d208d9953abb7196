//! The thin, allocation-aware glue between PostgreSQL's fmgr and the core: raw V1 functions,
//! aggregate-state memory, composite results with a cached tuple descriptor, and errors.
//!
//! Hot functions (aggregate transitions, per-row scoring) are written against `fcinfo` directly:
//! no per-row conversion layers, no per-row allocation.

use customer_tiers_core::CoreError;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;

/// Declares a raw V1 SQL-callable function `$name(fcinfo) -> Datum` with panic/error guarding.
#[macro_export]
macro_rules! sql_function {
    ($name:ident, |$fcinfo:ident| $body:block) => {
        ::paste::paste! {
            #[no_mangle]
            #[doc(hidden)]
            pub extern "C" fn [<pg_finfo_ $name>]() -> &'static ::pgrx::pg_sys::Pg_finfo_record {
                const V1_API: ::pgrx::pg_sys::Pg_finfo_record =
                    ::pgrx::pg_sys::Pg_finfo_record { api_version: 1 };
                &V1_API
            }
        }
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(
            $fcinfo: ::pgrx::pg_sys::FunctionCallInfo,
        ) -> ::pgrx::pg_sys::Datum {
            ::pgrx::pg_sys::submodules::panic::pgrx_extern_c_guard(move || $body)
        }
    };
}

/// Raises `ERROR` with the SQLSTATE that matches a core error.
pub fn raise(err: CoreError) -> ! {
    let code = match err {
        CoreError::InvalidParameter(_) => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        CoreError::OutOfRange(_) => PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
        CoreError::Corrupt(_) => PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
    };
    ereport!(ERROR, code, err.to_string());
}

/// Unwraps a core result or raises its error.
pub fn check<T>(r: Result<T, CoreError>) -> T {
    r.unwrap_or_else(|e| raise(e))
}

/// Unwraps a core result or raises its error, with the core's names of arguments replaced by
/// the SQL ones: `(core, sql)` pairs, matched at the start of the message.
pub fn check_named<T>(r: Result<T, CoreError>, names: &[(&str, &str)]) -> T {
    check(r.map_err(|e| match e {
        CoreError::InvalidParameter(m) => {
            let m = names
                .iter()
                .find_map(|(core, sql)| m.strip_prefix(core).map(|rest| format!("{sql}{rest}")))
                .unwrap_or(m);
            CoreError::InvalidParameter(m)
        }
        other => other,
    }))
}

/// Raises `ERROR` 22023 (invalid_parameter_value).
pub fn invalid(msg: impl Into<String>) -> ! {
    ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        msg.into()
    );
}

/// Raises `ERROR` 22004 (null_value_not_allowed).
pub fn null_not_allowed(arg: &str) -> ! {
    ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
        format!("{arg} must not be NULL")
    );
}

#[inline]
pub unsafe fn arg(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> Option<pg_sys::Datum> {
    let a = &(*fcinfo).args.as_slice((*fcinfo).nargs as usize)[n];
    (!a.isnull).then_some(a.value)
}

#[inline]
pub unsafe fn nargs(fcinfo: pg_sys::FunctionCallInfo) -> usize {
    (*fcinfo).nargs as usize
}

#[inline]
pub unsafe fn return_null(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    (*fcinfo).isnull = true;
    pg_sys::Datum::from(0usize)
}

/// The aggregate memory context, or an error when not called as an aggregate.
pub unsafe fn agg_context(fcinfo: pg_sys::FunctionCallInfo, func: &str) -> pg_sys::MemoryContext {
    let mut cx: pg_sys::MemoryContext = std::ptr::null_mut();
    if pg_sys::AggCheckCallContext(fcinfo, &mut cx) == 0 {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("{func} can only be called as part of an aggregate")
        );
    }
    cx
}

/// Returns a pointer as an `internal` datum.
#[inline]
pub fn ptr_datum<T>(p: *mut T) -> pg_sys::Datum {
    pg_sys::Datum::from(p as *mut std::ffi::c_void)
}

/// A `bytea` datum holding `bytes`, allocated in the current memory context.
pub unsafe fn bytea_datum(bytes: &[u8]) -> pg_sys::Datum {
    let len = bytes.len() + pg_sys::VARHDRSZ;
    let p = pg_sys::palloc(len) as *mut u8;
    pgrx::set_varsize_4b(p as *mut pg_sys::varlena, len as i32);
    std::ptr::copy_nonoverlapping(bytes.as_ptr(), p.add(pg_sys::VARHDRSZ), bytes.len());
    pg_sys::Datum::from(p)
}

/// The bytes of a (possibly toasted or short-header) varlena datum. Plain in-line values
/// (the per-row case) are read in place; only compressed or external values are detoasted,
/// into the current memory context.
#[inline]
pub unsafe fn varlena_bytes<'a>(d: pg_sys::Datum) -> &'a [u8] {
    let p = d.cast_mut_ptr::<pg_sys::varlena>();
    let (data, len) = if pgrx::varatt_is_4b_u(p) {
        ((p as *const u8).add(4), pgrx::varsize_4b(p) - 4)
    } else if pgrx::varatt_is_1b(p) && !pgrx::varatt_is_1b_e(p) {
        ((p as *const u8).add(1), pgrx::varsize_1b(p) - 1)
    } else {
        let v = pg_sys::pg_detoast_datum_packed(p);
        (
            pgrx::vardata_any(v) as *const u8,
            pgrx::varsize_any_exhdr(v),
        )
    };
    std::slice::from_raw_parts(data, len)
}

/// A text datum.
pub unsafe fn text_datum(s: &str) -> pg_sys::Datum {
    pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(
        s.as_ptr() as *const std::os::raw::c_char,
        s.len() as i32,
    ))
}

/// The text of a text datum.
pub unsafe fn text_str<'a>(d: pg_sys::Datum) -> &'a str {
    std::str::from_utf8(varlena_bytes(d)).unwrap_or_else(|_| invalid("text is not valid UTF-8"))
}

/// Per-call-site cache kept in `fn_extra` (lives as long as the query's `FmgrInfo`): the blessed
/// result tuple descriptor plus whatever the function wants to remember between rows.
pub struct CallCache<T> {
    pub tupdesc: pg_sys::TupleDesc,
    pub extra: T,
}

/// The call site's cache, created on first use in `fn_mcxt`.
pub unsafe fn call_cache<T: Default>(
    fcinfo: pg_sys::FunctionCallInfo,
) -> &'static mut CallCache<T> {
    let flinfo = (*fcinfo).flinfo;
    if (*flinfo).fn_extra.is_null() {
        let mut cx = PgMemoryContexts::For((*flinfo).fn_mcxt);
        let cache = cx.leak_and_drop_on_delete(CallCache {
            tupdesc: std::ptr::null_mut(),
            extra: T::default(),
        });
        (*flinfo).fn_extra = cache as *mut std::ffi::c_void;
    }
    &mut *((*flinfo).fn_extra as *mut CallCache<T>)
}

/// The number of fields of the function's declared row type (its descriptor cached as
/// [`composite`] does).
pub unsafe fn result_natts<T>(fcinfo: pg_sys::FunctionCallInfo, cache: &mut CallCache<T>) -> usize {
    bless_result_type(fcinfo, cache);
    (*cache.tupdesc).natts as usize
}

unsafe fn bless_result_type<T>(fcinfo: pg_sys::FunctionCallInfo, cache: &mut CallCache<T>) {
    if cache.tupdesc.is_null() {
        let mut td: pg_sys::TupleDesc = std::ptr::null_mut();
        if pg_sys::get_call_result_type(fcinfo, std::ptr::null_mut(), &mut td)
            != pg_sys::TypeFuncClass::TYPEFUNC_COMPOSITE
        {
            ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                "function returning a row called in a context that cannot accept one"
            );
        }
        let old = pg_sys::MemoryContextSwitchTo((*(*fcinfo).flinfo).fn_mcxt);
        cache.tupdesc = pg_sys::BlessTupleDesc(pg_sys::CreateTupleDescCopy(td));
        pg_sys::MemoryContextSwitchTo(old);
    }
}

/// Builds a composite result of the function's declared row type from `values`/`nulls`.
pub unsafe fn composite<T>(
    fcinfo: pg_sys::FunctionCallInfo,
    cache: &mut CallCache<T>,
    values: &[pg_sys::Datum],
    nulls: &[bool],
) -> pg_sys::Datum {
    bless_result_type(fcinfo, cache);
    // heap_form_tuple reads natts values and nulls: a row type that does not match the Rust
    // side (an edited SQL definition) must be an error, not a read past the arrays
    if (*cache.tupdesc).natts as usize != values.len() || nulls.len() != values.len() {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
            format!(
                "result row type has {} columns, the function returns {}",
                (*cache.tupdesc).natts,
                values.len()
            )
        );
    }
    let tuple = pg_sys::heap_form_tuple(
        cache.tupdesc,
        values.as_ptr() as *mut pg_sys::Datum,
        nulls.as_ptr() as *mut bool,
    );
    pg_sys::HeapTupleHeaderGetDatum((*tuple).t_data)
}

/// An array of composites of the function's declared result type (an array of a row type):
/// one element per row of `(value, is_null)` fields. The element type comes from the function's
/// catalog entry, not the call expression (Citus's `coord_combine_agg` calls final functions
/// without one).
pub unsafe fn composite_array<const N: usize>(
    fcinfo: pg_sys::FunctionCallInfo,
    rows: &[[(pg_sys::Datum, bool); N]],
    type_name: &str,
) -> pg_sys::Datum {
    // SAFETY: the caller is a V1 function whose declared result is an array of a row type
    unsafe {
        let array_type = pg_sys::get_func_rettype((*(*fcinfo).flinfo).fn_oid);
        rows_array(pg_sys::get_element_type(array_type), rows, type_name)
    }
}

/// An array of composites of the row type `elem_type`: one element per row of `(value,
/// is_null)` fields; the row type must have exactly `N` attributes (22023 otherwise).
pub unsafe fn rows_array<const N: usize>(
    elem_type: pg_sys::Oid,
    rows: &[[(pg_sys::Datum, bool); N]],
    type_name: &str,
) -> pg_sys::Datum {
    // SAFETY: elem_type is a composite type (checked by lookup_rowtype_tupdesc, which raises
    // otherwise); heap_form_tuple reads exactly natts = N values and nulls
    unsafe {
        let tupdesc = pg_sys::lookup_rowtype_tupdesc(elem_type, -1);
        // heap_form_tuple reads natts values: a row type that does not match is an error
        if (*tupdesc).natts as usize != N {
            release_tupdesc(tupdesc);
            invalid(format!(
                "{type_name} does not have the fields this library writes"
            ));
        }
        let mut elems: Vec<pg_sys::Datum> = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values: [pg_sys::Datum; N] = std::array::from_fn(|i| row[i].0);
            let mut nulls: [bool; N] = std::array::from_fn(|i| row[i].1);
            let tuple = pg_sys::heap_form_tuple(tupdesc, values.as_mut_ptr(), nulls.as_mut_ptr());
            elems.push(pg_sys::HeapTupleHeaderGetDatum((*tuple).t_data));
        }
        release_tupdesc(tupdesc);
        let (mut typlen, mut byval, mut align) = (0i16, false, 0 as std::ffi::c_char);
        pg_sys::get_typlenbyvalalign(elem_type, &mut typlen, &mut byval, &mut align);
        let array = pg_sys::construct_array(
            elems.as_mut_ptr(),
            elems.len() as i32,
            elem_type,
            typlen as i32,
            byval,
            align,
        );
        pg_sys::Datum::from(array)
    }
}

/// A copy, in the current memory context, of a varlena kept in the call-site cache.
pub unsafe fn copy_out(bytes: &[u8]) -> pg_sys::Datum {
    let p = pg_sys::palloc(bytes.len()) as *mut u8;
    std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
    pg_sys::Datum::from(p)
}

/// Keeps a copy of a varlena datum in the function's long-lived memory context.
pub unsafe fn keep(fcinfo: pg_sys::FunctionCallInfo, d: pg_sys::Datum) -> &'static [u8] {
    let len = pgrx::varsize_any(d.cast_mut_ptr());
    let p = pg_sys::MemoryContextAlloc((*(*fcinfo).flinfo).fn_mcxt, len) as *mut u8;
    std::ptr::copy_nonoverlapping(d.cast_mut_ptr::<u8>(), p, len);
    std::slice::from_raw_parts(p, len)
}

/// `ReleaseTupleDesc`: tuple descriptors from `lookup_rowtype_tupdesc` are reference counted
/// only when `tdrefcount >= 0` (those of record types shared with parallel workers are not).
#[inline]
pub unsafe fn release_tupdesc(tupdesc: pg_sys::TupleDesc) {
    if (*tupdesc).tdrefcount >= 0 {
        pg_sys::DecrTupleDescRefCount(tupdesc);
    }
}

/// The fields of a composite datum of a known row type with `N` attributes.
pub unsafe fn deform<const N: usize>(
    d: pg_sys::Datum,
    type_name: &str,
) -> ([pg_sys::Datum; N], [bool; N]) {
    deform_at_least::<N>(d, type_name, N)
}

/// As [`deform`], but a row of an older version of the type with only its first `min` (≤ N)
/// fields is accepted too; the missing trailing fields read as NULL. (Between installing a new
/// library and `ALTER EXTENSION … UPDATE`, values of the old type reach the new code.)
pub unsafe fn deform_at_least<const N: usize>(
    d: pg_sys::Datum,
    type_name: &str,
    min: usize,
) -> ([pg_sys::Datum; N], [bool; N]) {
    let hdr = pg_sys::pg_detoast_datum(d.cast_mut_ptr()) as pg_sys::HeapTupleHeader;
    let tupdesc = pg_sys::lookup_rowtype_tupdesc(
        pgrx::heap_tuple_header_get_type_id(hdr),
        pgrx::heap_tuple_header_get_typmod(hdr),
    );
    let natts = (*tupdesc).natts as usize;
    if natts > N || natts < min {
        release_tupdesc(tupdesc);
        invalid(format!("model is not a {type_name}"));
    }
    let mut tuple: pg_sys::HeapTupleData = std::mem::zeroed();
    tuple.t_len = pgrx::heap_tuple_header_get_datum_length(hdr) as u32;
    tuple.t_data = hdr;
    let mut values = [pg_sys::Datum::from(0usize); N];
    let mut nulls = [true; N];
    // heap_deform_tuple writes natts entries (≤ N): the rest stay NULL
    pg_sys::heap_deform_tuple(&mut tuple, tupdesc, values.as_mut_ptr(), nulls.as_mut_ptr());
    release_tupdesc(tupdesc);
    (values, nulls)
}

/// A nullable `double precision` result field: (datum, is_null).
pub fn opt_f8(v: Option<f64>) -> (pg_sys::Datum, bool) {
    match v {
        Some(x) => (f8_datum(x), false),
        None => (pg_sys::Datum::from(0usize), true),
    }
}

/// A `double precision` argument datum as f64.
#[inline]
pub fn f8(d: pg_sys::Datum) -> f64 {
    f64::from_bits(d.value() as u64)
}

/// An f64 as a `double precision` datum.
#[inline]
pub fn f8_datum(v: f64) -> pg_sys::Datum {
    pg_sys::Datum::from(v.to_bits() as usize)
}

/// Runs a catalog/configuration lookup through SPI **read-only**: it sees the calling query's
/// snapshot and never increments the command counter, so the STABLE, PARALLEL SAFE functions
/// that call it also work inside parallel plans and in transactions that already wrote (pgrx's
/// `Spi` runs read-write as soon as the transaction has an xid, which parallel mode forbids).
/// Returns the rows as text (`None` for NULL).
pub fn read_only_query(sql: &str) -> Vec<Vec<Option<String>>> {
    let query = std::ffi::CString::new(sql).expect("no NUL in internal queries");
    unsafe {
        if pg_sys::SPI_connect() != pg_sys::SPI_OK_CONNECT as i32 {
            ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                "SPI_connect failed"
            );
        }
        let rc = pg_sys::SPI_execute(query.as_ptr(), true, 0);
        if rc != pg_sys::SPI_OK_SELECT as i32 {
            pg_sys::SPI_finish();
            ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                format!("lookup failed (SPI code {rc})")
            );
        }
        let table = pg_sys::SPI_tuptable;
        let n = pg_sys::SPI_processed as usize;
        let mut rows = Vec::with_capacity(n);
        if !table.is_null() {
            let tupdesc = (*table).tupdesc;
            let natts = (*tupdesc).natts;
            let tuples = std::slice::from_raw_parts((*table).vals, n);
            for &tuple in tuples {
                let mut row = Vec::with_capacity(natts as usize);
                for k in 1..=natts {
                    let v = pg_sys::SPI_getvalue(tuple, tupdesc, k);
                    row.push(if v.is_null() {
                        None
                    } else {
                        Some(std::ffi::CStr::from_ptr(v).to_string_lossy().into_owned())
                    });
                }
                rows.push(row);
            }
        }
        pg_sys::SPI_finish();
        rows
    }
}

/// A float8 column of [`read_only_query`] (PostgreSQL's text output, `Infinity` included).
pub fn text_f64(v: &Option<String>) -> Option<f64> {
    v.as_deref().and_then(|s| match s {
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        s => s.parse().ok(),
    })
}

/// An integer column of [`read_only_query`].
pub fn text_i32(v: &Option<String>) -> Option<i32> {
    v.as_deref().and_then(|s| s.parse().ok())
}

/// A boolean column of [`read_only_query`].
pub fn text_bool(v: &Option<String>) -> Option<bool> {
    v.as_deref().map(|s| s == "t")
}

/// A `float8[]` argument as a vector; NULL elements are 22004.
pub unsafe fn f8_array(d: pg_sys::Datum, name: &str) -> Vec<f64> {
    pgrx::Array::<f64>::from_polymorphic_datum(d, false, pg_sys::FLOAT8ARRAYOID)
        .expect("not null")
        .iter()
        .map(|v| v.unwrap_or_else(|| null_not_allowed(&format!("an element of {name}"))))
        .collect()
}

/// A two-dimensional `float8[rows][cols]` array (lower bounds 1).
pub unsafe fn f8_matrix(values: &[f64], rows: usize, cols: usize) -> pg_sys::Datum {
    let mut elems: Vec<pg_sys::Datum> = values.iter().map(|v| f8_datum(*v)).collect();
    let mut dims = [rows as i32, cols as i32];
    let mut lbs = [1i32, 1];
    let array = pg_sys::construct_md_array(
        elems.as_mut_ptr(),
        std::ptr::null_mut(),
        2,
        dims.as_mut_ptr(),
        lbs.as_mut_ptr(),
        pg_sys::FLOAT8OID,
        8,
        true,
        pg_sys::TYPALIGN_DOUBLE as std::ffi::c_char,
    );
    pg_sys::Datum::from(array)
}
