//! Fast, exact conversion of a `numeric` datum to `f64` without allocation.
//!
//! PostgreSQL's own `numeric_float8` prints the number and parses the text; per row that
//! costs more than the whole summary. Amounts are short decimals, so the common case is a
//! mantissa below 2^53 and a power of ten up to 10^22, where one IEEE multiplication or
//! division is correctly rounded — the same result `numeric_float8` gives (Clinger's fast
//! path). Anything else falls back to `numeric_float8`.

use crate::raw::varlena_bytes;
use pgrx::pg_sys;

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Decodes a numeric's on-disk bytes (after the varlena header) to f64 when the fast path is
/// exact; `None` when the caller must fall back.
pub fn decode(bytes: &[u8]) -> Option<f64> {
    let h0 = u16::from_ne_bytes(bytes.get(0..2)?.try_into().ok()?);
    let (negative, weight, digits) = if h0 & 0x8000 != 0 {
        if h0 & 0xC000 == 0xC000 {
            // special values: NaN 0xC000, +Inf 0xD000, -Inf 0xF000
            return Some(match h0 & 0xF000 {
                0xD000 => f64::INFINITY,
                0xF000 => f64::NEG_INFINITY,
                _ => f64::NAN,
            });
        }
        let w = (h0 & 0x3F) as i32;
        let weight = if h0 & 0x40 != 0 { w | !0x3F } else { w };
        (h0 & 0x2000 != 0, weight, &bytes[2..])
    } else {
        let weight = i16::from_ne_bytes(bytes.get(2..4)?.try_into().ok()?) as i32;
        (h0 & 0xC000 == 0x4000, weight, &bytes[4..])
    };
    let n = digits.len() / 2;
    if n == 0 {
        return Some(0.0);
    }
    if n > 4 {
        return None;
    }
    let mut mantissa: u64 = 0;
    for i in 0..n {
        let d = i16::from_ne_bytes([digits[2 * i], digits[2 * i + 1]]);
        if !(0..10000).contains(&d) {
            return None;
        }
        mantissa = mantissa * 10000 + d as u64;
    }
    if mantissa > (1u64 << 53) {
        return None;
    }
    let exp10 = 4 * (weight - (n as i32 - 1));
    let m = mantissa as f64;
    let v = match exp10 {
        0..=22 => m * POW10[exp10 as usize],
        -22..=-1 => m / POW10[(-exp10) as usize],
        _ => return None,
    };
    Some(if negative { -v } else { v })
}

/// A numeric datum as f64 (NaN and ±Infinity included; the caller checks finiteness).
///
/// # Safety
///
/// `d` is a non-NULL `numeric` datum of the current call (an argument or a field of one).
#[inline]
pub unsafe fn to_f64(d: pg_sys::Datum) -> f64 {
    // SAFETY: `d` is a numeric, a varlena valid for the call (caller)
    match decode(unsafe { varlena_bytes(&d) }) {
        Some(v) => v,
        // SAFETY: numeric_float8 takes one non-NULL numeric (caller)
        None => unsafe { pgrx::direct_function_call::<f64>(pg_sys::numeric_float8, &[Some(d)]) }
            .expect("numeric_float8 of a non-null numeric"),
    }
}
