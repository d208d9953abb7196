//! The thin, allocation-aware glue between PostgreSQL's fmgr and the core: raw V1 functions,
//! aggregate-state memory, composite results with a cached tuple descriptor, and errors.
//!
//! Hot functions (aggregate transitions, per-row scoring) are written against `fcinfo` directly:
//! no per-row conversion layers, no per-row allocation.
//!
//! # Safety conventions
//!
//! The helpers over a raw `fcinfo` or raw datums are `unsafe fn`s; each states its obligations
//! in a `# Safety` section. The recurring ones:
//! - "`fcinfo` is the current call's": the `FunctionCallInfo` fmgr passed to the V1 function
//!   that is running (its `flinfo`, `nargs` and `args` set up), used during that call.
//! - "a datum of type X": a non-NULL datum whose SQL type is X, which the function's SQL
//!   declaration guarantees for its arguments (and a row type for the fields of a row).
//!
//! Memory handed out by reference is tied to something the caller controls: the bytes of a
//! varlena borrow the datum ([`varlena_bytes`], [`text_str`]), the call site's cache is lent to a
//! closure ([`with_call_cache`]), and data kept across rows is a [`Kept`] handle owned by that
//! cache rather than a `&'static`.

pub use crate::args::{Arg, OTHER_STATE, STATE};
use customer_tiers_core::CoreError;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;
use std::any::TypeId;

/// Declares a raw V1 SQL-callable function `$name(fcinfo) -> Datum` with panic/error guarding.
///
/// The body is an unsafe context (it runs inside an `unsafe` block, which is why the generated
/// function allows `clippy::macro_metavars_in_unsafe`): fmgr calls the function with a valid
/// `fcinfo` for the current call (the V1 calling convention) whose arguments have the number and
/// types of the function's SQL declaration (`sql/*.sql`). Those are the obligations of the
/// helpers of this module, so a body may call them on `fcinfo` and its arguments as long as it
/// reads only arguments its declaration has (or checks `has` first) and treats each as its
/// declared type. Anything else unsafe in a body needs the same care as an `unsafe` block.
/// Arguments are read by the `Arg`s of the function's table in `src/args.rs` (position and
/// SQL name together), and a new symbol goes into a table there (the catalog test checks it).
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
        /// A V1 function, called by PostgreSQL's fmgr.
        ///
        /// # Safety
        ///
        /// `fcinfo` is the `FunctionCallInfo` of a call of the SQL function declared with this
        /// symbol, with the arguments of that declaration.
        #[no_mangle]
        #[allow(clippy::macro_metavars_in_unsafe)] // the body is an unsafe context, see above
        pub unsafe extern "C-unwind" fn $name(
            $fcinfo: ::pgrx::pg_sys::FunctionCallInfo,
        ) -> ::pgrx::pg_sys::Datum {
            #[allow(unused_unsafe)] // a body may need no unsafe operation
            let body = move || -> ::pgrx::pg_sys::Datum {
                // SAFETY: fmgr calls V1 functions with a valid `fcinfo` for the current call,
                // whose arguments have the number and types of the function's SQL declaration;
                // those are the obligations of the raw helpers the body uses.
                unsafe { $body }
            };
            // SAFETY: the top of an `extern "C-unwind"` function called by PostgreSQL, nothing
            // with a destructor above it; the guard turns panics and errors into ERRORs.
            unsafe { ::pgrx::pg_sys::submodules::panic::pgrx_extern_c_guard(body) }
        }
    };
}

// Errors: each kind of failure has its SQLSTATE in one place. A core error is raised by
// [`raise`] (through [`check`]/[`check_named`]), which maps each kind onto the helper the SQL
// layer uses for the same failure of its own checks: [`invalid`] (22023), [`out_of_range`]
// (22003), [`null_not_allowed`] (22004); a corrupt core state is XX001 (data_corrupted).
// The remaining direct `ereport!`s raise codes of their own on purpose: 0A000 (not called as an
// aggregate / no row context, here), 42804 (a row type or column type that does not match:
// `composite` here, `summary_from_state`'s as_of, a tag rule's column), 22P02/22P03 (bad input
// of a type or a damaged aggregate state: src/summary.rs, src/state.rs), 22008 (an infinite
// date, or one beyond the range of timestamp, in a summary: `bad_time` in src/summary.rs), 55000 (Citus configuration not published to a worker, with a hint) and
// XX000 (internal errors: call-site cache, SPI lookups).

/// Raises `ERROR` with the SQLSTATE that matches a core error.
pub fn raise(err: CoreError) -> ! {
    match err {
        CoreError::InvalidParameter(m) => invalid(m),
        CoreError::OutOfRange(m) => out_of_range(m),
        CoreError::Corrupt(m) => {
            ereport!(ERROR, PgSqlErrorCode::ERRCODE_DATA_CORRUPTED, m);
        }
    }
}

/// Unwraps a core result or raises its error.
pub fn check<T>(r: Result<T, CoreError>) -> T {
    r.unwrap_or_else(|e| raise(e))
}

/// Unwraps a core result or raises its error, with the core's names of arguments replaced by
/// the SQL ones: `(core, sql)` pairs, matched at the start of the message.
pub fn check_named<T>(r: Result<T, CoreError>, names: &[(&str, &str)]) -> T {
    let rename = |m: String| {
        names
            .iter()
            .find_map(|(core, sql)| m.strip_prefix(core).map(|rest| format!("{sql}{rest}")))
            .unwrap_or(m)
    };
    check(r.map_err(|e| match e {
        CoreError::InvalidParameter(m) => CoreError::InvalidParameter(rename(m)),
        CoreError::OutOfRange(m) => CoreError::OutOfRange(rename(m)),
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

/// Raises `ERROR` 22003 (numeric_value_out_of_range).
pub fn out_of_range(msg: impl Into<String>) -> ! {
    ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
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

/// Argument `a` of the call (its position from a table of [`crate::args`]), `None` when it is
/// NULL.
///
/// # Safety
///
/// `fcinfo` is the current call's (a position beyond its `nargs` panics, an ERROR).
#[inline]
pub unsafe fn arg(fcinfo: pg_sys::FunctionCallInfo, a: Arg) -> Option<pg_sys::Datum> {
    // SAFETY: fmgr set up `nargs` and as many `args` of the current call (caller)
    let a = unsafe { &(*fcinfo).args.as_slice((*fcinfo).nargs as usize)[a.pos] };
    (!a.isnull).then_some(a.value)
}

/// Whether the call has argument `a` (an overload that leaves out trailing arguments has not).
///
/// # Safety
///
/// `fcinfo` is the current call's.
#[inline]
pub unsafe fn has(fcinfo: pg_sys::FunctionCallInfo, a: Arg) -> bool {
    // SAFETY: the caller's obligation
    unsafe { nargs(fcinfo) > a.pos }
}

/// The number of arguments of the call.
///
/// # Safety
///
/// `fcinfo` is the current call's.
#[inline]
pub unsafe fn nargs(fcinfo: pg_sys::FunctionCallInfo) -> usize {
    // SAFETY: `fcinfo` is valid (caller)
    unsafe { (*fcinfo).nargs as usize }
}

/// Marks the call's result NULL and returns the datum to return with it.
///
/// # Safety
///
/// `fcinfo` is the current call's.
#[inline]
pub unsafe fn return_null(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: `fcinfo` is valid (caller); `isnull` is the result's flag
    unsafe { (*fcinfo).isnull = true };
    pg_sys::Datum::from(0usize)
}

/// The aggregate memory context, or an error when not called as an aggregate.
///
/// # Safety
///
/// `fcinfo` is the current call's.
pub unsafe fn agg_context(fcinfo: pg_sys::FunctionCallInfo, func: &str) -> pg_sys::MemoryContext {
    let mut cx: pg_sys::MemoryContext = std::ptr::null_mut();
    // SAFETY: `fcinfo` is valid (caller); AggCheckCallContext only reads its context node
    if unsafe { pg_sys::AggCheckCallContext(fcinfo, &mut cx) } == 0 {
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
pub fn bytea_datum(bytes: &[u8]) -> pg_sys::Datum {
    let len = bytes.len() + pg_sys::VARHDRSZ;
    // SAFETY: palloc returns `len` writable bytes (or raises an ERROR), which the 4-byte header
    // and the copy of `bytes` fill exactly
    unsafe {
        let p = pg_sys::palloc(len) as *mut u8;
        pgrx::set_varsize_4b(p as *mut pg_sys::varlena, len as i32);
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p.add(pg_sys::VARHDRSZ), bytes.len());
        pg_sys::Datum::from(p)
    }
}

/// The bytes of a (possibly toasted or short-header) varlena datum. Plain in-line values
/// (the per-row case) are read in place; only compressed or external values are detoasted,
/// into the current memory context.
///
/// The slice borrows `d`, so it cannot outlive the caller's copy of the datum (nor be stored in
/// a call cache, which outlives the call).
///
/// # Safety
///
/// `d` is a non-NULL datum of a varlena type whose memory stays valid while `d` is borrowed:
/// an argument of the current call or a field of one (valid for the whole call), or a value
/// made during the call in a memory context not reset before the borrow ends. A detoasted copy
/// is made in the current memory context, which the call does not reset.
#[inline]
pub unsafe fn varlena_bytes(d: &pg_sys::Datum) -> &[u8] {
    let p = d.cast_mut_ptr::<pg_sys::varlena>();
    // SAFETY: `p` points at a varlena (caller): a 4-byte or 1-byte in-line header is followed by
    // the length it holds; anything else (compressed, external) is detoasted into a plain
    // varlena; either stays valid while `d` is borrowed (caller)
    unsafe {
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
}

/// A text datum.
pub fn text_datum(s: &str) -> pg_sys::Datum {
    // SAFETY: cstring_to_text_with_len copies `s.len()` bytes from `s` into a new text in the
    // current memory context
    pg_sys::Datum::from(unsafe {
        pg_sys::cstring_to_text_with_len(s.as_ptr() as *const std::os::raw::c_char, s.len() as i32)
    })
}

/// The text of a text datum (22023 when it is not valid UTF-8); borrows `d` as
/// [`varlena_bytes`] does.
///
/// # Safety
///
/// As [`varlena_bytes`]: `d` is a non-NULL `text` (or `varchar`) datum valid while borrowed.
pub unsafe fn text_str(d: &pg_sys::Datum) -> &str {
    // SAFETY: the caller's obligations are those of varlena_bytes
    let bytes = unsafe { varlena_bytes(d) };
    std::str::from_utf8(bytes).unwrap_or_else(|_| invalid("text is not valid UTF-8"))
}

/// Per-call-site cache kept in `fn_extra` (lives as long as the query's `FmgrInfo`): the blessed
/// result tuple descriptor plus whatever the function wants to remember between rows. Reached
/// only through [`with_call_cache`].
pub struct CallCache<T> {
    pub tupdesc: pg_sys::TupleDesc,
    pub extra: T,
}

/// What `fn_extra` points at: a header, the same for every `T` (`repr(C)`, first field), that
/// says which `T` the slot holds and whether a closure has it, then the cache.
#[repr(C)]
struct CacheSlot<T> {
    header: SlotHeader,
    cache: CallCache<T>,
}

#[repr(C)]
struct SlotHeader {
    type_id: TypeId,
    type_name: &'static str,
    in_use: bool,
}

/// Clears `in_use` when the closure returns or unwinds (an ERROR is a Rust panic here).
struct InUse(*mut SlotHeader);

impl Drop for InUse {
    fn drop(&mut self) {
        // SAFETY: the header of the call site's slot, which lives as long as the FmgrInfo
        unsafe { (*self.0).in_use = false };
    }
}

fn cache_error(message: &str, detail: String) -> ! {
    ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
        format!("internal error: {message}"),
        detail
    );
}

/// Runs `f` with the call site's cache, created on first use in `fn_mcxt` (and dropped when that
/// context is deleted).
///
/// A call site keeps one cache type: asking for another `T` on the same `fcinfo` is an ERROR
/// (XX000 "internal error: call cache type mismatch"), and so is asking for the cache again
/// while `f` holds it, rather than a reinterpretation or an aliased `&mut`.
///
/// # Safety
///
/// `fcinfo` is the current call's, and `fn_extra` of its `flinfo` is used only through this
/// function (it is NULL at the first call of a call site, as fmgr leaves it).
pub unsafe fn with_call_cache<T: Default + 'static, R>(
    fcinfo: pg_sys::FunctionCallInfo,
    f: impl FnOnce(&mut CallCache<T>) -> R,
) -> R {
    // SAFETY: `fcinfo` is valid (caller) and fmgr set up its `flinfo`
    let flinfo = unsafe { (*fcinfo).flinfo };
    // SAFETY: `flinfo` is valid for the call; only this function uses `fn_extra` (caller)
    let extra = unsafe { (*flinfo).fn_extra };
    let slot = if extra.is_null() {
        // SAFETY: as above; `fn_mcxt` is the context the FmgrInfo lives in
        let mcxt = unsafe { (*flinfo).fn_mcxt };
        let slot = PgMemoryContexts::For(mcxt).leak_and_drop_on_delete(CacheSlot::<T> {
            header: SlotHeader {
                type_id: TypeId::of::<T>(),
                type_name: std::any::type_name::<T>(),
                in_use: false,
            },
            cache: CallCache {
                tupdesc: std::ptr::null_mut(),
                extra: T::default(),
            },
        });
        // SAFETY: as above
        unsafe { (*flinfo).fn_extra = slot as *mut std::ffi::c_void };
        slot
    } else {
        let header = extra as *mut SlotHeader;
        // SAFETY: a non-NULL `fn_extra` is a slot made above for some type, whose header is its
        // first field whatever the type (`repr(C)`)
        let (type_id, type_name) = unsafe { ((*header).type_id, (*header).type_name) };
        if type_id != TypeId::of::<T>() {
            cache_error(
                "call cache type mismatch",
                format!(
                    "The call site's cache holds {type_name}, not {}.",
                    std::any::type_name::<T>()
                ),
            );
        }
        extra as *mut CacheSlot<T>
    };
    // SAFETY: `slot` is the call site's live `CacheSlot<T>` (made above, or checked to be one);
    // the header and the cache are separate fields, reached through the raw pointer
    let header = unsafe { &raw mut (*slot).header };
    // SAFETY: as above
    if unsafe { (*header).in_use } {
        cache_error(
            "call cache already in use",
            format!(
                "A call site's cache of {} was asked for twice.",
                std::any::type_name::<T>()
            ),
        );
    }
    // SAFETY: as above
    unsafe { (*header).in_use = true };
    let _in_use = InUse(header);
    // SAFETY: as above; `in_use` guarantees this is the only reference to the cache until `f`
    // returns, and the slot outlives the call
    let cache = unsafe { &mut (*slot).cache };
    f(cache)
}

/// The number of fields of the function's declared row type (its descriptor cached as
/// [`composite`] does).
///
/// # Safety
///
/// `fcinfo` is the current call's and `cache` its call site's cache.
pub unsafe fn result_natts<T>(fcinfo: pg_sys::FunctionCallInfo, cache: &mut CallCache<T>) -> usize {
    // SAFETY: the caller's obligations
    unsafe { bless_result_type(fcinfo, cache) };
    // SAFETY: bless_result_type set a valid descriptor (or raised an ERROR)
    unsafe { (*cache.tupdesc).natts as usize }
}

/// Sets `cache.tupdesc` to a blessed copy, in `fn_mcxt`, of the function's result row type.
///
/// # Safety
///
/// `fcinfo` is the current call's and `cache` its call site's cache.
unsafe fn bless_result_type<T>(fcinfo: pg_sys::FunctionCallInfo, cache: &mut CallCache<T>) {
    if cache.tupdesc.is_null() {
        let mut td: pg_sys::TupleDesc = std::ptr::null_mut();
        // SAFETY: `fcinfo` is valid (caller); `td` receives the result descriptor
        let class = unsafe { pg_sys::get_call_result_type(fcinfo, std::ptr::null_mut(), &mut td) };
        if class != pg_sys::TypeFuncClass::TYPEFUNC_COMPOSITE {
            ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                "function returning a row called in a context that cannot accept one"
            );
        }
        // SAFETY: `td` is a valid descriptor (TYPEFUNC_COMPOSITE); the copy goes to `fn_mcxt`,
        // which lives as long as the cache that keeps it, and the old context is restored
        unsafe {
            let old = pg_sys::MemoryContextSwitchTo((*(*fcinfo).flinfo).fn_mcxt);
            cache.tupdesc = pg_sys::BlessTupleDesc(pg_sys::CreateTupleDescCopy(td));
            pg_sys::MemoryContextSwitchTo(old);
        }
    }
}

/// Builds a composite result of the function's declared row type from `values`/`nulls`.
///
/// # Safety
///
/// `fcinfo` is the current call's and `cache` its call site's cache; `values` are datums of the
/// row type's field types (where not NULL).
pub unsafe fn composite<T>(
    fcinfo: pg_sys::FunctionCallInfo,
    cache: &mut CallCache<T>,
    values: &[pg_sys::Datum],
    nulls: &[bool],
) -> pg_sys::Datum {
    // SAFETY: the caller's obligations
    unsafe { bless_result_type(fcinfo, cache) };
    // SAFETY: bless_result_type set a valid descriptor (or raised an ERROR)
    let natts = unsafe { (*cache.tupdesc).natts };
    // heap_form_tuple reads natts values and nulls: a row type that does not match the Rust
    // side (an edited SQL definition) must be an error, not a read past the arrays
    if natts as usize != values.len() || nulls.len() != values.len() {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
            format!(
                "result row type has {} columns, the function returns {}",
                natts,
                values.len()
            )
        );
    }
    // SAFETY: heap_form_tuple reads natts = values.len() = nulls.len() entries (checked above),
    // of the field types (caller), and does not write them
    unsafe {
        let tuple = pg_sys::heap_form_tuple(
            cache.tupdesc,
            values.as_ptr() as *mut pg_sys::Datum,
            nulls.as_ptr() as *mut bool,
        );
        pg_sys::HeapTupleHeaderGetDatum((*tuple).t_data)
    }
}

/// An array of composites of the function's declared result type (an array of a row type):
/// one element per row of `(value, is_null)` fields. The element type comes from the function's
/// catalog entry, not the call expression (Citus's `coord_combine_agg` calls final functions
/// without one).
///
/// # Safety
///
/// `fcinfo` is the current call's, of a function declared to return an array of a row type;
/// the values are datums of that row type's field types (where not NULL).
pub unsafe fn composite_array<const N: usize>(
    fcinfo: pg_sys::FunctionCallInfo,
    rows: &[[(pg_sys::Datum, bool); N]],
    type_name: &str,
) -> pg_sys::Datum {
    // SAFETY: `fcinfo` and its `flinfo` are valid (caller)
    let array_type = unsafe { pg_sys::get_func_rettype((*(*fcinfo).flinfo).fn_oid) };
    // SAFETY: the function's result is an array of a row type (caller), whose field types the
    // values have
    unsafe { rows_array(pg_sys::get_element_type(array_type), rows, type_name) }
}

/// An array of composites of the row type `elem_type`: one element per row of `(value,
/// is_null)` fields; the row type must have exactly `N` attributes (22023 otherwise).
///
/// # Safety
///
/// `elem_type` is a row type (lookup_rowtype_tupdesc raises an ERROR otherwise) and the values
/// are datums of its field types (where not NULL).
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

/// A varlena copied by [`keep`] into a call site's memory context (`fn_mcxt`): it lives as long
/// as the query's `FmgrInfo`, and so as long as the call site's [`CallCache`] that stores it
/// (the cache is dropped when that context is deleted, before its memory is freed). A raw
/// handle, not a `&'static [u8]`: it is read by [`copy_out`], during calls of that call site.
#[derive(Clone, Copy)]
pub struct Kept {
    ptr: *const u8,
    len: usize,
}

/// A copy, in the current memory context, of a varlena kept in the call-site cache.
///
/// # Safety
///
/// `kept` was made by [`keep`] for the current call's `FmgrInfo` (it is read from that call
/// site's cache during one of its calls).
pub unsafe fn copy_out(kept: Kept) -> pg_sys::Datum {
    // SAFETY: `kept` points at `len` bytes in the call site's `fn_mcxt`, which is alive during
    // its calls (caller); palloc returns `len` fresh bytes (or raises an ERROR)
    unsafe {
        let p = pg_sys::palloc(kept.len) as *mut u8;
        std::ptr::copy_nonoverlapping(kept.ptr, p, kept.len);
        pg_sys::Datum::from(p)
    }
}

/// Keeps a copy of a varlena datum in the function's long-lived memory context (`fn_mcxt`, as
/// long-lived as the `FmgrInfo` and its call cache); see [`Kept`].
///
/// # Safety
///
/// `fcinfo` is the current call's and `d` a non-NULL datum of a varlena type with a plain
/// in-line header (not toasted or expanded: a value this call just made).
pub unsafe fn keep(fcinfo: pg_sys::FunctionCallInfo, d: pg_sys::Datum) -> Kept {
    // SAFETY: `d` points at a plain varlena, `varsize_any` bytes long (caller); `fcinfo` and its
    // `flinfo` are valid (caller), MemoryContextAlloc returns `len` fresh bytes (or raises)
    unsafe {
        let len = pgrx::varsize_any(d.cast_mut_ptr());
        let p = pg_sys::MemoryContextAlloc((*(*fcinfo).flinfo).fn_mcxt, len) as *mut u8;
        std::ptr::copy_nonoverlapping(d.cast_mut_ptr::<u8>(), p, len);
        Kept { ptr: p, len }
    }
}

/// `ReleaseTupleDesc`: tuple descriptors from `lookup_rowtype_tupdesc` are reference counted
/// only when `tdrefcount >= 0` (those of record types shared with parallel workers are not).
///
/// # Safety
///
/// `tupdesc` is a valid descriptor from `lookup_rowtype_tupdesc`, not released yet.
#[inline]
pub unsafe fn release_tupdesc(tupdesc: pg_sys::TupleDesc) {
    // SAFETY: `tupdesc` is valid and holds a reference when counted (caller)
    unsafe {
        if (*tupdesc).tdrefcount >= 0 {
            pg_sys::DecrTupleDescRefCount(tupdesc);
        }
    }
}

/// The fields of a composite datum of a known row type with `N` attributes.
///
/// # Safety
///
/// As [`deform_at_least`].
pub unsafe fn deform<const N: usize>(
    d: pg_sys::Datum,
    type_name: &str,
) -> ([pg_sys::Datum; N], [bool; N]) {
    // SAFETY: the caller's obligations
    unsafe { deform_at_least::<N>(d, type_name, N) }
}

/// As [`deform`], but a row of an older version of the type with only its first `min` (≤ N)
/// fields is accepted too; the missing trailing fields read as NULL. (Between installing a new
/// library and `ALTER EXTENSION … UPDATE`, values of the old type reach the new code.)
///
/// # Safety
///
/// `d` is a non-NULL datum of a composite type, valid for the current call (an argument or a
/// field of one). The by-reference fields returned point into it (or into its detoasted copy in
/// the current memory context) and are valid as long as it is, during the call.
pub unsafe fn deform_at_least<const N: usize>(
    d: pg_sys::Datum,
    type_name: &str,
    min: usize,
) -> ([pg_sys::Datum; N], [bool; N]) {
    // SAFETY: `d` is a composite datum (caller): detoasted, a HeapTupleHeader whose type and
    // typmod name a row type with a descriptor
    let (hdr, tupdesc) = unsafe {
        let hdr = pg_sys::pg_detoast_datum(d.cast_mut_ptr()) as pg_sys::HeapTupleHeader;
        let tupdesc = pg_sys::lookup_rowtype_tupdesc(
            pgrx::heap_tuple_header_get_type_id(hdr),
            pgrx::heap_tuple_header_get_typmod(hdr),
        );
        (hdr, tupdesc)
    };
    // SAFETY: `tupdesc` is valid (looked up above)
    let natts = unsafe { (*tupdesc).natts } as usize;
    if natts > N || natts < min {
        // SAFETY: looked up above, released once
        unsafe { release_tupdesc(tupdesc) };
        invalid(format!("model is not a {type_name}"));
    }
    let mut values = [pg_sys::Datum::from(0usize); N];
    let mut nulls = [true; N];
    // SAFETY: `hdr` is the tuple of `tupdesc`'s row type; heap_deform_tuple writes natts
    // entries (≤ N, checked above): the rest stay NULL
    unsafe {
        let mut tuple: pg_sys::HeapTupleData = std::mem::zeroed();
        tuple.t_len = pgrx::heap_tuple_header_get_datum_length(hdr) as u32;
        tuple.t_data = hdr;
        pg_sys::heap_deform_tuple(&mut tuple, tupdesc, values.as_mut_ptr(), nulls.as_mut_ptr());
        release_tupdesc(tupdesc);
    }
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

/// A parameter of a [`read_only_query`]: a value with its SQL type, made by `SqlParam::from(v)`
/// for any `IntoDatum` value (`&str` → text, `i32` → integer, `f64` → float8, `bool`,
/// `Vec<&str>` → text[], `Option<T>` → T or a NULL of T …). Values made by `IntoDatum` live in
/// the current memory context, which the lookup does not reset.
pub type SqlParam<'a> = pgrx::datum::DatumWithOid<'a>;

/// One row of a [`read_only_query`] result, lent to the caller's closure while SPI holds it.
pub struct Row {
    tuple: pg_sys::HeapTuple,
    tupdesc: pg_sys::TupleDesc,
}

impl Row {
    /// Column `col` (1-based, as in SPI) as a `T`, `None` for NULL: read as a binary datum,
    /// no text round trip (a float8 `Infinity` is `f64::INFINITY`). The column's type must be
    /// `T`'s (or binary coercible to it), else XX000: that is a bug in the lookup's SQL, which
    /// casts where a column's type is not `T`'s.
    ///
    /// `T` must own its value (`String`, `f64`, `i32`, `i64`, `bool`, `Vec<…>` …), not borrow the
    /// datum (`&str`, `pgrx::Array`): the row's memory is SPI's, freed when the lookup returns.
    pub fn get<T: FromDatum + IntoDatum>(&self, col: usize) -> Option<T> {
        // SAFETY: `tuple` and `tupdesc` are a row of SPI_tuptable and its descriptor, valid
        // while the closure that received `&self` runs (read_only_query); `col` is checked
        // against `natts` before SPI_getbinval/SPI_gettypeid read the attribute
        unsafe {
            let natts = (*self.tupdesc).natts as usize;
            if col < 1 || col > natts {
                lookup_error(format!("lookup column {col} of {natts} asked for"));
            }
            let mut isnull = false;
            let d = pg_sys::SPI_getbinval(self.tuple, self.tupdesc, col as i32, &mut isnull);
            let typid = pg_sys::SPI_gettypeid(self.tupdesc, col as i32);
            T::try_from_datum(d, isnull, typid)
                .unwrap_or_else(|e| lookup_error(format!("lookup column {col}: {e}")))
        }
    }
}

fn lookup_error(detail: String) -> ! {
    ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
        "internal error: lookup result of an unexpected shape",
        detail
    );
}

/// Runs a catalog/configuration lookup through SPI **read-only**: it sees the calling query's
/// snapshot and never increments the command counter, so the STABLE, PARALLEL SAFE functions
/// that call it also work inside parallel plans and in transactions that already wrote.
/// (pgrx's `Spi::connect`/`select` is not that: it runs read-write as soon as the transaction
/// has an xid, which parallel mode forbids.)
///
/// Values go in as parameters `$1`, `$2` … of `sql` with their types (never formatted into the
/// text); each result row is lent to `each`, which reads its columns as typed datums
/// ([`Row::get`]) and returns an owned value; the values are returned in row order.
/// An SPI failure is XX000 "lookup failed (SPI code …)"; errors of the query itself are its own.
pub fn read_only_query<R>(
    sql: &str,
    params: &[SqlParam<'_>],
    mut each: impl FnMut(&Row) -> R,
) -> Vec<R> {
    let query = std::ffi::CString::new(sql).expect("no NUL in internal queries");
    let mut types: Vec<pg_sys::Oid> = params.iter().map(|p| p.oid()).collect();
    let mut values: Vec<pg_sys::Datum> = params
        .iter()
        .map(|p| {
            p.datum()
                .map_or(pg_sys::Datum::from(0usize), |d| d.sans_lifetime())
        })
        .collect();
    let nulls: Vec<std::ffi::c_char> = params
        .iter()
        .map(|p| if p.datum().is_some() { b' ' } else { b'n' } as std::ffi::c_char)
        .collect();
    // SAFETY: SPI_connect/SPI_finish bracket the query (SPI_finish also before the ERROR); the
    // parameter arrays hold `params.len()` entries each and the datums live in the caller's
    // memory context (not reset here); SPI_tuptable and its `vals` hold SPI_processed rows of
    // `tupdesc` until SPI_finish, and the rows are lent to `each` only until then (the values
    // it returns are owned)
    unsafe {
        if pg_sys::SPI_connect() != pg_sys::SPI_OK_CONNECT as i32 {
            ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                "SPI_connect failed"
            );
        }
        let rc = if params.is_empty() {
            pg_sys::SPI_execute(query.as_ptr(), true, 0)
        } else {
            pg_sys::SPI_execute_with_args(
                query.as_ptr(),
                params.len() as i32,
                types.as_mut_ptr(),
                values.as_mut_ptr(),
                nulls.as_ptr(),
                true,
                0,
            )
        };
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
            let tuples = std::slice::from_raw_parts((*table).vals, n);
            for &tuple in tuples {
                rows.push(each(&Row { tuple, tupdesc }));
            }
        }
        pg_sys::SPI_finish();
        rows
    }
}

/// The first column of the first row of a [`read_only_query`]; `None` when there is no row or
/// the value is NULL.
pub fn read_only_value<T: FromDatum + IntoDatum>(sql: &str, params: &[SqlParam<'_>]) -> Option<T> {
    read_only_query(sql, params, |row| row.get::<T>(1))
        .into_iter()
        .next()
        .flatten()
}

/// A `float8[]` argument as a vector; NULL elements are 22004.
///
/// # Safety
///
/// `d` is a non-NULL `float8[]` datum valid for the call (an argument or a field of one).
pub unsafe fn f8_array(d: pg_sys::Datum, name: &str) -> Vec<f64> {
    // SAFETY: `d` is a non-NULL float8[] (caller)
    let array =
        unsafe { pgrx::Array::<f64>::from_polymorphic_datum(d, false, pg_sys::FLOAT8ARRAYOID) };
    array
        .expect("not null")
        .iter()
        .map(|v| v.unwrap_or_else(|| null_not_allowed(&format!("an element of {name}"))))
        .collect()
}

/// The array `d` detoasted, after raising `ERROR` 2202E (array_subscript_error) naming the
/// argument when it is a matrix, more than one of its dimensions longer than 1 (PostgreSQL's
/// `width_bucket` refuses any second dimension): a list read from it would be its rows run
/// together, silently. A single row or column is a list, such as the slice `centroids[2:2][:]`
/// (PostgreSQL keeps a slice's dimensions). Read the elements from the returned datum: it is
/// detoasted once.
///
/// # Safety
///
/// `d` is a non-NULL array datum valid for the call (an argument or a field of one).
pub unsafe fn check_list_shape(d: pg_sys::Datum, name: &str) -> pg_sys::Datum {
    // SAFETY: `d` is a non-NULL array (caller): detoasted (a no-op unless it is compressed or
    // out of line, then a copy in the call's memory context) it starts with an ArrayType header,
    // followed by `ndim` (at most MAXDIM) dimension lengths, as ARR_DIMS reads them
    let (array, dims) = unsafe {
        let a = pg_sys::pg_detoast_datum(d.cast_mut_ptr::<pg_sys::varlena>());
        let header = a as *const pg_sys::ArrayType;
        let ndim = (*header).ndim.clamp(0, pg_sys::MAXDIM as i32) as usize;
        let first =
            (header as *const u8).add(std::mem::size_of::<pg_sys::ArrayType>()) as *const i32;
        (a, std::slice::from_raw_parts(first, ndim))
    };
    if dims.iter().filter(|&&n| n > 1).count() > 1 {
        let shape: Vec<String> = dims.iter().map(i32::to_string).collect();
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_ARRAY_ELEMENT_ERROR, // 2202E, array_subscript_error
            format!(
                "{name} must be a list (a one-dimensional array, or one row or column), got a {} array",
                shape.join("x")
            )
        );
    }
    pg_sys::Datum::from(array)
}

/// A `float8[]` list argument as a vector: a matrix is 2202E ([`check_list_shape`]), NULL
/// elements 22004.
///
/// # Safety
///
/// `d` is a non-NULL `float8[]` datum valid for the call (an argument or a field of one).
pub unsafe fn f8_vector(d: pg_sys::Datum, name: &str) -> Vec<f64> {
    // SAFETY: as the caller promises
    unsafe { f8_array(check_list_shape(d, name), name) }
}

/// A two-dimensional `float8[rows][cols]` array (lower bounds 1).
pub fn f8_matrix(values: &[f64], rows: usize, cols: usize) -> pg_sys::Datum {
    assert_eq!(values.len(), rows * cols, "a rows x cols matrix");
    let mut elems: Vec<pg_sys::Datum> = values.iter().map(|v| f8_datum(*v)).collect();
    let mut dims = [rows as i32, cols as i32];
    let mut lbs = [1i32, 1];
    // SAFETY: `elems` holds rows x cols by-value float8 datums (no NULL bitmap), as `dims` and
    // `lbs` (2 dimensions) say; construct_md_array copies them into a new array
    let array = unsafe {
        pg_sys::construct_md_array(
            elems.as_mut_ptr(),
            std::ptr::null_mut(),
            2,
            dims.as_mut_ptr(),
            lbs.as_mut_ptr(),
            pg_sys::FLOAT8OID,
            8,
            true,
            pg_sys::TYPALIGN_DOUBLE as std::ffi::c_char,
        )
    };
    pg_sys::Datum::from(array)
}
