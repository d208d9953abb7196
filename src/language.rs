//! The setting `customer_tiers.language` (`''`, `'zh'` or `'en'`): the language of labels
//! wherever no `lang` is passed (`rfm_class8`, `kmeans_label`, `customer_tags`, new tier views).
//!
//! A real setting, defined when the library loads: a bad value is refused when it is set (22023,
//! by PostgreSQL's setting machinery) and the functions read it per row from the variable
//! PostgreSQL keeps up to date, with no lookup by name (`current_setting` in a default argument
//! cost about 40 ns per row of `customer_tiers.customer_tags`).

use pgrx::pg_sys;
use std::ffi::{c_char, c_void, CStr};

/// The setting's value, kept by PostgreSQL (NULL or a string it owns).
static mut LANGUAGE: *mut c_char = std::ptr::null_mut();

/// The values the setting accepts.
const ALLOWED: [&[u8]; 3] = [b"", b"zh", b"en"];

/// Check hook: only `''`, `'zh'` and `'en'`.
///
/// # Safety
///
/// Called by PostgreSQL's setting machinery with a valid pointer to the proposed value (a
/// NUL-terminated string it allocated, or NULL).
unsafe extern "C-unwind" fn check_language(
    newval: *mut *mut c_char,
    _extra: *mut *mut c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    // SAFETY: `newval` points at the proposed value (caller); a non-NULL value is a C string
    let value = unsafe { *newval };
    if value.is_null() {
        return true;
    }
    // SAFETY: as above
    let bytes = unsafe { CStr::from_ptr(value) }.to_bytes();
    if ALLOWED.contains(&bytes) {
        return true;
    }
    // SAFETY: GUC_check_errdetail_string is PostgreSQL's slot for the detail of a refused value;
    // the string is copied into the current memory context, as its callers expect
    unsafe {
        pg_sys::GUC_check_errdetail_string =
            pg_sys::pstrdup(c"customer_tiers.language is 'zh', 'en' or '' (unset).".as_ptr());
    }
    false
}

/// Defines the setting (from `_PG_init`, once per backend).
pub fn define_setting() {
    // SAFETY: called once while the library loads, on PostgreSQL's thread; LANGUAGE is the
    // variable PostgreSQL then owns and updates (a static of this library, never freed); the
    // names and descriptions are static C strings
    unsafe {
        pg_sys::DefineCustomStringVariable(
            c"customer_tiers.language".as_ptr(),
            c"Language of customer_tiers labels where no lang is given: zh, en, or empty.".as_ptr(),
            c"Used by rfm_class8, kmeans_label and customer_tags when lang is omitted or NULL, and by new tier views (class8_lang). Empty: Chinese 8-class labels, English tag names.".as_ptr(),
            &raw mut LANGUAGE,
            c"".as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            0,
            Some(check_language),
            None,
            None,
        );
    }
}

/// The language of labels: `lang` when given, else the setting when set (non-empty), else
/// `fallback`. Not checked here: the caller names its argument in its error. The result borrows
/// the call (`fcinfo`): the setting's string is PostgreSQL's and changes only when the setting is
/// assigned, never during a function call.
pub fn label_language<'a>(
    _call: &'a pg_sys::FunctionCallInfo,
    lang: Option<&'a str>,
    fallback: &'static str,
) -> &'a str {
    if let Some(l) = lang {
        return l;
    }
    // SAFETY: PostgreSQL keeps LANGUAGE pointing at the setting's current value (or NULL), a C
    // string that stays valid until the setting is assigned again, which does not happen while
    // the current function call runs (the lifetime 'a ends with the call)
    let p = unsafe { LANGUAGE };
    if p.is_null() {
        return fallback;
    }
    // SAFETY: as above
    match unsafe { CStr::from_ptr(p) }.to_str() {
        Ok("") | Err(_) => fallback,
        Ok(s) => s,
    }
}
