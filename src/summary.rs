//! `tiers.customer_summary(ordered_at, amount, as_of [, unit])` and
//! `tiers.holdout_summary(ordered_at, amount, calibration_end, holdout_end [, unit])`:
//! hand-written aggregates with an `internal` state (the core's `SummaryState` and
//! `HoldoutState`), parallel safe through combine / serialize / deserialize. One transition
//! function per (time type, amount type, with or without unit); everything else is shared.

use crate::names;
use crate::raw::*;
use crate::sql_function;
use customer_tiers_core::summary::{
    DayCell, DayStore, HoldoutState, StoredState, Summary, SummaryState, TimeKind,
};
use customer_tiers_core::time::{
    checked_date_usecs, day_of, interval_usecs, TIMESTAMP_RANGE_TEXT, USECS_PER_DAY,
};
use pgrx::pg_sys;
use pgrx::prelude::*;

const AGG: &str = "customer_summary";

/// Day cells kept in the aggregate memory context: PostgreSQL accounts for the memory (hash
/// aggregation spills on time) and frees it with the context; nothing to drop, no malloc.
///
/// The first `INLINE_DAYS` cells live in the same chunk as the state (one allocation and
/// adjacent cache lines for the typical customer); longer histories move to their own chunk.
pub struct PallocDays {
    ptr: *mut DayCell,
    len: usize,
    cap: usize,
    inline: bool,
    cx: pg_sys::MemoryContext,
}

const INLINE_DAYS: usize = 6;

impl PallocDays {
    /// Cells stored in `buffer` (room for `INLINE_DAYS` cells) until they outgrow it.
    fn new(cx: pg_sys::MemoryContext, buffer: *mut DayCell) -> Self {
        PallocDays {
            ptr: buffer,
            len: 0,
            cap: INLINE_DAYS,
            inline: true,
            cx,
        }
    }

    fn reserve(&mut self, needed: usize) {
        if needed <= self.cap {
            return;
        }
        let cap = needed.max(self.cap * 2);
        let bytes = cap * std::mem::size_of::<DayCell>();
        // SAFETY: palloc'd memory of the aggregate context, MAXALIGNed (DayCell aligns to 8);
        // the inline buffer is never freed on its own (it belongs to the state's chunk).
        unsafe {
            if self.inline {
                let p = pg_sys::MemoryContextAlloc(self.cx, bytes) as *mut DayCell;
                std::ptr::copy_nonoverlapping(self.ptr, p, self.len);
                self.ptr = p;
                self.inline = false;
            } else {
                self.ptr =
                    pg_sys::repalloc(self.ptr as *mut std::ffi::c_void, bytes) as *mut DayCell;
            }
        }
        self.cap = cap;
    }
}

impl DayStore for PallocDays {
    fn cells(&self) -> &[DayCell] {
        if self.len == 0 {
            &[]
        } else {
            // SAFETY: `ptr` holds `len` initialised cells (below `cap`), in memory of the
            // aggregate context that outlives the state
            unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
        }
    }
    fn cells_mut(&mut self) -> &mut [DayCell] {
        if self.len == 0 {
            &mut []
        } else {
            // SAFETY: as in `cells`; `&mut self` makes the borrow unique
            unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
        }
    }
    fn insert(&mut self, index: usize, cell: DayCell) {
        assert!(index <= self.len);
        self.reserve(self.len + 1);
        // SAFETY: `reserve` made room for `len + 1` cells and `index <= len`: the cells from
        // `index` move up by one within the buffer, then `index` is written
        unsafe {
            std::ptr::copy(
                self.ptr.add(index),
                self.ptr.add(index + 1),
                self.len - index,
            );
            self.ptr.add(index).write(cell);
        }
        self.len += 1;
    }
    fn assign(&mut self, cells: &[DayCell]) {
        self.reserve(cells.len());
        // SAFETY: `reserve` made room for `cells.len()` cells; `cells` is a Rust slice, not
        // this buffer (`&mut self` is unique), so they do not overlap
        unsafe { std::ptr::copy_nonoverlapping(cells.as_ptr(), self.ptr, cells.len()) };
        self.len = cells.len();
    }
}

type State = SummaryState<PallocDays>;

/// Places a state, followed by room for `INLINE_DAYS` cells, in one chunk of the aggregate
/// memory context (no destructor needed).
///
/// # Safety
///
/// `fcinfo` is the current call's, of a `customer_summary` support function.
unsafe fn alloc_state(
    fcinfo: pg_sys::FunctionCallInfo,
    make: impl FnOnce(PallocDays) -> State,
) -> *mut State {
    const _: () =
        assert!(std::mem::size_of::<State>().is_multiple_of(std::mem::align_of::<DayCell>()));
    // SAFETY: `fcinfo` is the current call's (caller)
    let cx = unsafe { agg_context(fcinfo, AGG) };
    let bytes = std::mem::size_of::<State>() + INLINE_DAYS * std::mem::size_of::<DayCell>();
    // SAFETY: a MAXALIGNed chunk of `bytes`: the state, then INLINE_DAYS cells (aligned: the
    // state's size is a multiple of the cells' alignment), written before use
    unsafe {
        let p = pg_sys::MemoryContextAlloc(cx, bytes) as *mut State;
        p.write(make(PallocDays::new(cx, p.add(1) as *mut DayCell)));
        p
    }
}

#[derive(Clone, Copy)]
enum Time {
    Date,
    Timestamp,
    TimestampTz,
}

#[derive(Clone, Copy)]
enum Amount {
    Float8,
    Numeric,
}

/// A date or timestamp argument a summary cannot use: infinite, or (a date) beyond the range
/// of `timestamp`.
enum BadTime {
    Infinite,
    OutOfRange,
}

/// Raises 22008 (datetime_field_overflow) naming the argument `what`: the one place of this
/// SQLSTATE.
fn bad_time(what: &str, why: BadTime) -> ! {
    let message = match why {
        BadTime::Infinite => format!("{what} must be a finite date or timestamp, not infinity"),
        BadTime::OutOfRange => {
            format!("{what} is out of range for timestamp ({TIMESTAMP_RANGE_TEXT})")
        }
    };
    ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_DATETIME_FIELD_OVERFLOW,
        message
    );
}

/// Microseconds since 2000-01-01 of a date / timestamp / timestamptz datum: finite and within
/// the range of `timestamp` (a date beyond 294276 AD has no microseconds in an `i64`).
#[inline(always)]
fn usecs(time: Time, d: pg_sys::Datum, what: &str) -> i64 {
    match time {
        Time::Date => {
            let v = d.value() as i32;
            if v == i32::MIN || v == i32::MAX {
                bad_time(what, BadTime::Infinite)
            }
            checked_date_usecs(v).unwrap_or_else(|| bad_time(what, BadTime::OutOfRange))
        }
        Time::Timestamp | Time::TimestampTz => {
            let v = d.value() as i64;
            // PostgreSQL keeps every finite timestamp within the range
            if v == i64::MIN || v == i64::MAX {
                bad_time(what, BadTime::Infinite)
            }
            v
        }
    }
}

/// The calendar day of a purchase: for `timestamptz` in the session's time zone.
#[inline(always)]
fn day(time: Time, at: i64) -> i32 {
    match time {
        Time::Date => (at / USECS_PER_DAY) as i32,
        Time::Timestamp => day_of(at),
        Time::TimestampTz => {
            let mut tz: i32 = 0;
            // SAFETY: pg_tm is a plain C struct (integers and a string pointer): all zeroes is a
            // valid value
            let mut tm: pg_sys::pg_tm = unsafe { std::mem::zeroed() };
            let mut fsec: pg_sys::fsec_t = 0;
            // SAFETY: timestamp2tm writes only through the out-pointers given, all valid; the
            // NULL time-zone name and zone ask for the session's zone
            let rc = unsafe {
                pg_sys::timestamp2tm(
                    at,
                    &mut tz,
                    &mut tm,
                    &mut fsec,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            };
            if rc != 0 {
                bad_time("ordered_at", BadTime::OutOfRange)
            }
            // tz is seconds west of UTC: local wall clock = UTC − tz
            day_of(at - tz as i64 * 1_000_000)
        }
    }
}

/// A finite amount as f64.
///
/// # Safety
///
/// `d` is a non-NULL datum of the current call of the type `kind` says.
#[inline(always)]
unsafe fn amount(kind: Amount, d: pg_sys::Datum) -> f64 {
    let v = match kind {
        Amount::Float8 => f64::from_bits(d.value() as u64),
        // SAFETY: `d` is a numeric of the current call (caller)
        Amount::Numeric => unsafe { crate::numeric::to_f64(d) },
    };
    if !v.is_finite() {
        invalid(format!("amount must be a finite number, got {v}"));
    }
    v
}

/// The `unit` argument `a` in microseconds (a positive interval).
///
/// # Safety
///
/// `fcinfo` is the current call's and argument `a` an `interval`.
unsafe fn unit_usecs(fcinfo: pg_sys::FunctionCallInfo, a: Arg) -> f64 {
    // SAFETY: `fcinfo` is the current call's (caller)
    let Some(d) = (unsafe { arg(fcinfo, a) }) else {
        null_not_allowed(a.name)
    };
    // SAFETY: a non-NULL interval datum points at an Interval (caller), valid for the call
    let iv = unsafe { &*(d.cast_mut_ptr::<pg_sys::Interval>()) };
    let u = interval_usecs(iv.month, iv.day, iv.time);
    if u.is_nan() || u <= 0.0 || u.is_infinite() {
        invalid("unit must be a positive interval, e.g. '1 day' or '7 days'");
    }
    u
}

/// The transition of `customer_summary(ordered_at, amount, as_of [, unit])`.
///
/// # Safety
///
/// `fcinfo` is the current call's, of a `customer_summary` transition function: argument 0 the
/// `internal` state made by [`alloc_state`], 1 and 3 of type `time`, 2 of type `kind`, 4 the
/// `interval` unit `with_unit`.
#[inline(always)]
unsafe fn transition(
    fcinfo: pg_sys::FunctionCallInfo,
    time: Time,
    kind: Amount,
    with_unit: bool,
) -> pg_sys::Datum {
    use crate::args::customer_summary::*;
    // SAFETY: `fcinfo` is the current call's (caller)
    let Some(as_of_d) = (unsafe { arg(fcinfo, AS_OF) }) else {
        null_not_allowed(AS_OF.name)
    };
    let as_of = usecs(time, as_of_d, AS_OF.name);
    // SAFETY: as above
    let state = match unsafe { arg(fcinfo, STATE) } {
        Some(p) => {
            // SAFETY: a non-NULL state is the group's State made by alloc_state (caller), in the
            // aggregate context; nothing else uses it during the call
            let s = unsafe { &mut *p.cast_mut_ptr::<State>() };
            if s.as_of != as_of {
                invalid("as_of must be the same for all rows of a group");
            }
            // SAFETY: argument `unit` is an interval `with_unit` (caller)
            if with_unit && s.unit != unsafe { unit_usecs(fcinfo, UNIT) } {
                invalid("unit must be the same for all rows of a group");
            }
            s
        }
        None => {
            let unit = if with_unit {
                // SAFETY: as above
                unsafe { unit_usecs(fcinfo, UNIT) }
            } else {
                crate::defaults::UNIT_USECS
            };
            // SAFETY: a new State in the aggregate context, lives until the group ends
            unsafe {
                &mut *alloc_state(fcinfo, |days| {
                    check(SummaryState::with_store(as_of, unit, days))
                })
            }
        }
    };
    // SAFETY: `fcinfo` is the current call's (caller)
    if let Some(at_d) = unsafe { arg(fcinfo, ORDERED_AT) } {
        let at = usecs(time, at_d, ORDERED_AT.name);
        if at <= state.as_of {
            // SAFETY: as above; argument `amount` is of type `kind` (caller)
            let value = unsafe { arg(fcinfo, AMOUNT).map(|d| amount(kind, d)) };
            check(state.add(at, day(time, at), value));
        }
    }
    ptr_datum(state)
}

macro_rules! transitions {
    ($($name:ident => $time:ident, $amount:ident, $unit:literal;)*) => {$(
        sql_function!($name, |fcinfo| { transition(fcinfo, Time::$time, Amount::$amount, $unit) });
    )*};
}

transitions! {
    ct_customer_summary_trans_date_f8 => Date, Float8, false;
    ct_customer_summary_trans_date_num => Date, Numeric, false;
    ct_customer_summary_trans_ts_f8 => Timestamp, Float8, false;
    ct_customer_summary_trans_ts_num => Timestamp, Numeric, false;
    ct_customer_summary_trans_tstz_f8 => TimestampTz, Float8, false;
    ct_customer_summary_trans_tstz_num => TimestampTz, Numeric, false;
    ct_customer_summary_trans_date_f8_unit => Date, Float8, true;
    ct_customer_summary_trans_date_num_unit => Date, Numeric, true;
    ct_customer_summary_trans_ts_f8_unit => Timestamp, Float8, true;
    ct_customer_summary_trans_ts_num_unit => Timestamp, Numeric, true;
    ct_customer_summary_trans_tstz_f8_unit => TimestampTz, Float8, true;
    ct_customer_summary_trans_tstz_num_unit => TimestampTz, Numeric, true;
}

sql_function!(ct_customer_summary_combine, |fcinfo| {
    match (arg(fcinfo, STATE), arg(fcinfo, OTHER_STATE)) {
        (None, None) => return_null(fcinfo),
        (Some(a), None) => a,
        (None, Some(b)) => {
            let other = &*b.cast_mut_ptr::<State>();
            let copy = alloc_state(fcinfo, |days| {
                check(SummaryState::with_store(other.as_of, other.unit, days))
            });
            check((*copy).merge(other));
            ptr_datum(copy)
        }
        (Some(a), Some(b)) => {
            let s = &mut *a.cast_mut_ptr::<State>();
            check(s.merge(&*b.cast_mut_ptr::<State>()));
            a
        }
    }
});

sql_function!(ct_customer_summary_serialize, |fcinfo| {
    let s = &*arg(fcinfo, STATE).expect("strict").cast_mut_ptr::<State>();
    bytea_datum(&s.encode())
});

sql_function!(ct_customer_summary_deserialize, |fcinfo| {
    let d = arg(fcinfo, STATE).expect("strict");
    let bytes = varlena_bytes(&d);
    ptr_datum(alloc_state(fcinfo, |days| {
        check(SummaryState::decode_into(bytes, days))
    }))
});

sql_function!(ct_customer_summary_final, |fcinfo| {
    let Some(p) = arg(fcinfo, STATE) else {
        return return_null(fcinfo);
    };
    let Some(s) = check((*p.cast_mut_ptr::<State>()).summary()) else {
        return return_null(fcinfo);
    };
    summary_datum(fcinfo, &s)
});

/// A `tiers.customer_summary` row (the result of `customer_summary` and `summary_from_state`).
///
/// # Safety
///
/// `fcinfo` is the current call's, of a function returning `tiers.customer_summary`.
unsafe fn summary_datum(fcinfo: pg_sys::FunctionCallInfo, s: &Summary) -> pg_sys::Datum {
    // SAFETY: the caller's obligation; the result type is tiers.customer_summary
    unsafe {
        with_call_cache::<(), _>(fcinfo, |cache| {
            composite(
                fcinfo,
                cache,
                &summary_values(s),
                &[false; names::CUSTOMER_SUMMARY.len()],
            )
        })
    }
}

/// The fields of `tiers.customer_summary`, in order (also the first fields of
/// `tiers.holdout_summary`).
fn summary_values(s: &Summary) -> [pg_sys::Datum; names::CUSTOMER_SUMMARY.len()] {
    [
        pg_sys::Datum::from(s.first_day),
        pg_sys::Datum::from(s.last_day),
        pg_sys::Datum::from(s.orders),
        pg_sys::Datum::from(s.returns),
        pg_sys::Datum::from(s.occasions),
        pg_sys::Datum::from(s.frequency),
        f8_datum(s.recency),
        f8_datum(s.tenure),
        f8_datum(s.since_last),
        f8_datum(s.monetary_total),
        f8_datum(s.monetary),
    ]
}

// ------------------------------------------------------------------------ holdout_summary

const HOLDOUT_AGG: &str = "holdout_summary";

type Holdout = HoldoutState<PallocDays>;

/// Places a holdout state and room for `INLINE_DAYS` cells of each of its two summaries in one
/// chunk of the aggregate memory context (no destructor needed).
///
/// # Safety
///
/// `fcinfo` is the current call's, of a `holdout_summary` support function.
unsafe fn alloc_holdout(
    fcinfo: pg_sys::FunctionCallInfo,
    make: impl FnOnce(PallocDays, PallocDays) -> Holdout,
) -> *mut Holdout {
    const _: () =
        assert!(std::mem::size_of::<Holdout>().is_multiple_of(std::mem::align_of::<DayCell>()));
    // SAFETY: `fcinfo` is the current call's (caller)
    let cx = unsafe { agg_context(fcinfo, HOLDOUT_AGG) };
    let bytes = std::mem::size_of::<Holdout>() + 2 * INLINE_DAYS * std::mem::size_of::<DayCell>();
    // SAFETY: a MAXALIGNed chunk of `bytes`: the state, then twice INLINE_DAYS cells (aligned:
    // the state's size is a multiple of the cells' alignment), written before use
    unsafe {
        let p = pg_sys::MemoryContextAlloc(cx, bytes) as *mut Holdout;
        let cells = p.add(1) as *mut DayCell;
        p.write(make(
            PallocDays::new(cx, cells),
            PallocDays::new(cx, cells.add(INLINE_DAYS)),
        ));
        p
    }
}

/// The transition of `holdout_summary(ordered_at, amount, calibration_end, holdout_end
/// [, unit])`.
///
/// # Safety
///
/// `fcinfo` is the current call's, of a `holdout_summary` transition function: argument 0 the
/// `internal` state made by [`alloc_holdout`], 1, 3 and 4 of type `time`, 2 of type `kind`, 5
/// the `interval` unit `with_unit`.
#[inline(always)]
unsafe fn holdout_transition(
    fcinfo: pg_sys::FunctionCallInfo,
    time: Time,
    kind: Amount,
    with_unit: bool,
) -> pg_sys::Datum {
    use crate::args::holdout_summary::*;
    // SAFETY: `fcinfo` is the current call's (caller)
    let Some(cal_d) = (unsafe { arg(fcinfo, CALIBRATION_END) }) else {
        null_not_allowed(CALIBRATION_END.name)
    };
    // SAFETY: as above
    let Some(end_d) = (unsafe { arg(fcinfo, HOLDOUT_END) }) else {
        null_not_allowed(HOLDOUT_END.name)
    };
    let cal_end = usecs(time, cal_d, CALIBRATION_END.name);
    let end = usecs(time, end_d, HOLDOUT_END.name);
    // SAFETY: as above
    let state = match unsafe { arg(fcinfo, STATE) } {
        Some(p) => {
            // SAFETY: a non-NULL state is the group's Holdout made by alloc_holdout (caller), in
            // the aggregate context; nothing else uses it during the call
            let s = unsafe { &mut *p.cast_mut_ptr::<Holdout>() };
            if s.calibration.as_of != cal_end || s.holdout.as_of != end {
                invalid("calibration_end and holdout_end must be the same for all rows of a group");
            }
            // SAFETY: argument `unit` is an interval `with_unit` (caller)
            if with_unit && s.calibration.unit != unsafe { unit_usecs(fcinfo, UNIT) } {
                invalid("unit must be the same for all rows of a group");
            }
            s
        }
        None => {
            let unit = if with_unit {
                // SAFETY: as above
                unsafe { unit_usecs(fcinfo, UNIT) }
            } else {
                crate::defaults::UNIT_USECS
            };
            // SAFETY: a new Holdout in the aggregate context, lives until the group ends
            unsafe {
                &mut *alloc_holdout(fcinfo, |a, b| {
                    check(HoldoutState::with_stores(cal_end, end, unit, a, b))
                })
            }
        }
    };
    // SAFETY: `fcinfo` is the current call's (caller)
    if let Some(at_d) = unsafe { arg(fcinfo, ORDERED_AT) } {
        let at = usecs(time, at_d, ORDERED_AT.name);
        if at <= end {
            // SAFETY: as above; argument `amount` is of type `kind` (caller)
            let value = unsafe { arg(fcinfo, AMOUNT).map(|d| amount(kind, d)) };
            check(state.add(at, day(time, at), value));
        }
    }
    ptr_datum(state)
}

macro_rules! holdout_transitions {
    ($($name:ident => $time:ident, $amount:ident, $unit:literal;)*) => {$(
        sql_function!($name, |fcinfo| {
            holdout_transition(fcinfo, Time::$time, Amount::$amount, $unit)
        });
    )*};
}

holdout_transitions! {
    ct_holdout_summary_trans_date_f8 => Date, Float8, false;
    ct_holdout_summary_trans_date_num => Date, Numeric, false;
    ct_holdout_summary_trans_ts_f8 => Timestamp, Float8, false;
    ct_holdout_summary_trans_ts_num => Timestamp, Numeric, false;
    ct_holdout_summary_trans_tstz_f8 => TimestampTz, Float8, false;
    ct_holdout_summary_trans_tstz_num => TimestampTz, Numeric, false;
    ct_holdout_summary_trans_date_f8_unit => Date, Float8, true;
    ct_holdout_summary_trans_date_num_unit => Date, Numeric, true;
    ct_holdout_summary_trans_ts_f8_unit => Timestamp, Float8, true;
    ct_holdout_summary_trans_ts_num_unit => Timestamp, Numeric, true;
    ct_holdout_summary_trans_tstz_f8_unit => TimestampTz, Float8, true;
    ct_holdout_summary_trans_tstz_num_unit => TimestampTz, Numeric, true;
}

sql_function!(ct_holdout_summary_combine, |fcinfo| {
    match (arg(fcinfo, STATE), arg(fcinfo, OTHER_STATE)) {
        (None, None) => return_null(fcinfo),
        (Some(a), None) => a,
        (None, Some(b)) => {
            let other = &*b.cast_mut_ptr::<Holdout>();
            let copy = alloc_holdout(fcinfo, |x, y| {
                check(HoldoutState::with_stores(
                    other.calibration.as_of,
                    other.holdout.as_of,
                    other.calibration.unit,
                    x,
                    y,
                ))
            });
            check((*copy).merge(other));
            ptr_datum(copy)
        }
        (Some(a), Some(b)) => {
            let s = &mut *a.cast_mut_ptr::<Holdout>();
            check(s.merge(&*b.cast_mut_ptr::<Holdout>()));
            a
        }
    }
});

sql_function!(ct_holdout_summary_serialize, |fcinfo| {
    let s = &*arg(fcinfo, STATE)
        .expect("strict")
        .cast_mut_ptr::<Holdout>();
    bytea_datum(&s.encode())
});

sql_function!(ct_holdout_summary_deserialize, |fcinfo| {
    let d = arg(fcinfo, STATE).expect("strict");
    let bytes = varlena_bytes(&d);
    ptr_datum(alloc_holdout(fcinfo, |a, b| {
        check(HoldoutState::decode_into(bytes, a, b))
    }))
});

sql_function!(ct_holdout_summary_final, |fcinfo| {
    let Some(p) = arg(fcinfo, STATE) else {
        return return_null(fcinfo);
    };
    let Some(h) = check((*p.cast_mut_ptr::<Holdout>()).summary()) else {
        return return_null(fcinfo);
    };
    let mut values = summary_values(&h.calibration).to_vec();
    values.extend([
        pg_sys::Datum::from(h.orders),
        pg_sys::Datum::from(h.occasions),
        f8_datum(h.monetary_total),
        f8_datum(h.monetary),
        f8_datum(h.length),
    ]);
    with_call_cache::<(), _>(fcinfo, |cache| {
        composite(
            fcinfo,
            cache,
            &values,
            &[false; names::HOLDOUT_SUMMARY.len()],
        )
    })
});

// ------------------------------------------------------------------------ summary_state

// `tiers.summary_state`: the storable, mergeable, bounded summary state (issue 15). The type's
// value is the core's versioned encoding in a varlena; the aggregates keep a `StoredState` while
// they run.

const STATE_AGG: &str = "summary_state";

fn time_kind(time: Time) -> TimeKind {
    match time {
        Time::Date => TimeKind::Date,
        Time::Timestamp => TimeKind::Timestamp,
        Time::TimestampTz => TimeKind::Timestamptz,
    }
}

/// Drops a `StoredState` made by [`owned_state`] when its memory context goes away.
///
/// # Safety
///
/// `arg` is a pointer made by `Box::into_raw` in [`owned_state`], registered once.
unsafe extern "C-unwind" fn drop_owned_state(arg: *mut std::ffi::c_void) {
    // SAFETY: registered once per box with the box as argument (caller); nothing uses the state
    // once its context is reset or deleted
    drop(unsafe { Box::from_raw(arg as *mut StoredState) })
}

/// Moves `state` to the heap and ties its lifetime to the memory context `cx` (a reset callback
/// drops it), for the aggregate state of one group. Its size is bounded (see
/// `StoredState::max_encoded_len`); the aggregates declare an estimate as SSPACE.
///
/// # Safety
///
/// `cx` is a valid memory context (the aggregate context of the current call).
unsafe fn owned_state(cx: pg_sys::MemoryContext, state: StoredState) -> *mut StoredState {
    let p = Box::into_raw(Box::new(state));
    // SAFETY: a callback record in `cx` itself, written before it is registered; the callback
    // runs once, when `cx` is reset or deleted, and frees the box
    unsafe {
        let cb =
            pg_sys::MemoryContextAlloc(cx, std::mem::size_of::<pg_sys::MemoryContextCallback>())
                as *mut pg_sys::MemoryContextCallback;
        cb.write(pg_sys::MemoryContextCallback {
            func: Some(drop_owned_state),
            arg: p as *mut std::ffi::c_void,
            next: std::ptr::null_mut(),
        });
        pg_sys::MemoryContextRegisterResetCallback(cx, cb);
    }
    p
}

/// Decodes a `tiers.summary_state` value; damaged bytes are XX001 (data corrupted): the type's
/// input and receive functions accept only valid states.
///
/// # Safety
///
/// `d` is a non-NULL `tiers.summary_state` datum valid for the call.
unsafe fn state_value(d: &pg_sys::Datum) -> StoredState {
    // SAFETY: a varlena datum valid for the call (caller)
    check(StoredState::decode(unsafe { varlena_bytes(d) }))
}

/// A `tiers.summary_state` datum (the encoding in a varlena, current memory context).
fn state_datum(s: &StoredState) -> pg_sys::Datum {
    bytea_datum(&s.encode())
}

/// The transition of `summary_state(ordered_at, amount)`.
///
/// # Safety
///
/// `fcinfo` is the current call's, of a `summary_state` transition function: argument 0 the
/// `internal` state made by [`owned_state`], 1 of type `time`, 2 of type `kind`.
#[inline(always)]
unsafe fn state_transition(
    fcinfo: pg_sys::FunctionCallInfo,
    time: Time,
    kind: Amount,
) -> pg_sys::Datum {
    use crate::args::summary_state::*;
    // SAFETY: `fcinfo` is the current call's (caller)
    let state = match unsafe { arg(fcinfo, STATE) } {
        // SAFETY: a non-NULL state is the group's StoredState made by owned_state (caller);
        // nothing else uses it during the call
        Some(p) => unsafe { &mut *p.cast_mut_ptr::<StoredState>() },
        // SAFETY: the aggregate context outlives the group
        None => unsafe {
            &mut *owned_state(
                agg_context(fcinfo, STATE_AGG),
                StoredState::new(time_kind(time)),
            )
        },
    };
    // SAFETY: `fcinfo` is the current call's (caller)
    if let Some(at_d) = unsafe { arg(fcinfo, ORDERED_AT) } {
        let at = usecs(time, at_d, ORDERED_AT.name);
        // SAFETY: the amount is of type `kind` (caller)
        let value = unsafe { arg(fcinfo, AMOUNT).map(|d| amount(kind, d)) };
        check(state.add(at, day(time, at), value));
    }
    ptr_datum(state)
}

macro_rules! state_transitions {
    ($($name:ident => $time:ident, $amount:ident;)*) => {$(
        sql_function!($name, |fcinfo| { state_transition(fcinfo, Time::$time, Amount::$amount) });
    )*};
}

state_transitions! {
    ct_summary_state_trans_date_f8 => Date, Float8;
    ct_summary_state_trans_date_num => Date, Numeric;
    ct_summary_state_trans_ts_f8 => Timestamp, Float8;
    ct_summary_state_trans_ts_num => Timestamp, Numeric;
    ct_summary_state_trans_tstz_f8 => TimestampTz, Float8;
    ct_summary_state_trans_tstz_num => TimestampTz, Numeric;
}

// The transition of the aggregate `summary_state_merge(state)`: merges each row's state.
sql_function!(ct_summary_state_merge_trans, |fcinfo| {
    use crate::args::summary_state_merge_agg as agg;
    let Some(d) = arg(fcinfo, agg::STATE) else {
        return match arg(fcinfo, STATE) {
            Some(s) => s,
            None => return_null(fcinfo),
        };
    };
    let value = state_value(&d);
    match arg(fcinfo, STATE) {
        Some(p) => {
            check((*p.cast_mut_ptr::<StoredState>()).merge(&value));
            p
        }
        None => ptr_datum(owned_state(agg_context(fcinfo, STATE_AGG), value)),
    }
});

sql_function!(ct_summary_state_combine, |fcinfo| {
    match (arg(fcinfo, STATE), arg(fcinfo, OTHER_STATE)) {
        (None, None) => return_null(fcinfo),
        (Some(a), None) => a,
        (None, Some(b)) => {
            let copy = (*b.cast_mut_ptr::<StoredState>()).clone();
            ptr_datum(owned_state(agg_context(fcinfo, STATE_AGG), copy))
        }
        (Some(a), Some(b)) => {
            check((*a.cast_mut_ptr::<StoredState>()).merge(&*b.cast_mut_ptr::<StoredState>()));
            a
        }
    }
});

sql_function!(ct_summary_state_serialize, |fcinfo| {
    state_datum(
        &*arg(fcinfo, STATE)
            .expect("strict")
            .cast_mut_ptr::<StoredState>(),
    )
});

sql_function!(ct_summary_state_deserialize, |fcinfo| {
    let d = arg(fcinfo, STATE).expect("strict");
    let value = state_value(&d);
    ptr_datum(owned_state(agg_context(fcinfo, STATE_AGG), value))
});

// The result of both aggregates: the state, NULL when no row had an `ordered_at`.
sql_function!(ct_summary_state_final, |fcinfo| {
    match arg(fcinfo, STATE) {
        Some(p) => {
            let s = &*p.cast_mut_ptr::<StoredState>();
            if s.orders == 0 && s.returns == 0 {
                return_null(fcinfo)
            } else {
                state_datum(s)
            }
        }
        None => return_null(fcinfo),
    }
});

// `summary_state_merge(a, b)`: the state of the rows of both; NULL counts as no rows.
sql_function!(ct_summary_state_merge, |fcinfo| {
    use crate::args::summary_state_merge::*;
    match (arg(fcinfo, A), arg(fcinfo, B)) {
        (None, None) => return_null(fcinfo),
        (Some(a), None) => state_datum(&state_value(&a)),
        (None, Some(b)) => state_datum(&state_value(&b)),
        (Some(a), Some(b)) => {
            let mut s = state_value(&a);
            check(s.merge(&state_value(&b)));
            state_datum(&s)
        }
    }
});

/// `summary_from_state(state, as_of [, unit])`.
///
/// # Safety
///
/// `fcinfo` is the current call's: argument 0 a `tiers.summary_state`, 1 of type `time`, 2 (when
/// given) an `interval`.
unsafe fn from_state(fcinfo: pg_sys::FunctionCallInfo, time: Time) -> pg_sys::Datum {
    use crate::args::summary_from_state::*;
    // SAFETY: `fcinfo` is the current call's (caller)
    let Some(as_of_d) = (unsafe { arg(fcinfo, AS_OF) }) else {
        null_not_allowed(AS_OF.name)
    };
    let as_of = usecs(time, as_of_d, AS_OF.name);
    // SAFETY: as above; the unit is an interval (its SQL default makes it always present)
    let unit = unsafe { unit_usecs(fcinfo, UNIT) };
    // SAFETY: as above
    let Some(d) = (unsafe { arg(fcinfo, STATE) }) else {
        // SAFETY: as above
        return unsafe { return_null(fcinfo) };
    };
    // SAFETY: the state is a summary_state (caller)
    let state = unsafe { state_value(&d) };
    let kind = time_kind(time);
    if state.kind != kind {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
            format!(
                "as_of is a {} but the state was built from {} rows",
                kind.name(),
                state.kind.name()
            ),
            format!("Cast as_of to {}.", state.kind.name())
        );
    }
    let Some(s) = check(state.summary(as_of, unit)) else {
        // SAFETY: as above
        return unsafe { return_null(fcinfo) };
    };
    // SAFETY: as above
    unsafe { summary_datum(fcinfo, &s) }
}

sql_function!(ct_summary_from_state_date, |fcinfo| {
    from_state(fcinfo, Time::Date)
});
sql_function!(ct_summary_from_state_ts, |fcinfo| {
    from_state(fcinfo, Time::Timestamp)
});
sql_function!(ct_summary_from_state_tstz, |fcinfo| {
    from_state(fcinfo, Time::TimestampTz)
});

// The type's input/output: a text form (`v1:` and the encoding in hex) and the encoding itself.

/// The one (unnamed) argument of an input, output, receive or send function.
const IO_ARG: Arg = Arg {
    pos: 0,
    name: "value",
};

fn bad_state_input(code: PgSqlErrorCode, message: String) -> ! {
    ereport!(ERROR, code, message);
}

sql_function!(ct_summary_state_in, |fcinfo| {
    let p = arg(fcinfo, IO_ARG)
        .expect("strict")
        .cast_mut_ptr::<std::os::raw::c_char>();
    let text = std::ffi::CStr::from_ptr(p).to_string_lossy();
    match StoredState::from_text(&text) {
        Ok(s) => state_datum(&s),
        Err(e) => bad_state_input(
            PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
            format!("invalid input syntax for type tiers.summary_state: {e}"),
        ),
    }
});

sql_function!(ct_summary_state_out, |fcinfo| {
    let d = arg(fcinfo, IO_ARG).expect("strict");
    let text = state_value(&d).to_text();
    let c = std::ffi::CString::new(text).expect("hex has no NUL");
    pg_sys::Datum::from(pg_sys::pstrdup(c.as_ptr()))
});

sql_function!(ct_summary_state_recv, |fcinfo| {
    let buf = arg(fcinfo, IO_ARG)
        .expect("strict")
        .cast_mut_ptr::<pg_sys::StringInfoData>();
    let len = ((*buf).len - (*buf).cursor).max(0) as usize;
    let bytes =
        std::slice::from_raw_parts(((*buf).data as *const u8).add((*buf).cursor as usize), len);
    let value = StoredState::decode(bytes).unwrap_or_else(|e| {
        bad_state_input(
            PgSqlErrorCode::ERRCODE_INVALID_BINARY_REPRESENTATION,
            format!("invalid binary value of type tiers.summary_state: {e}"),
        )
    });
    (*buf).cursor = (*buf).len;
    state_datum(&value)
});

sql_function!(ct_summary_state_send, |fcinfo| {
    let d = arg(fcinfo, IO_ARG).expect("strict");
    // the stored bytes are a valid encoding (input and receive check it): sent as they are
    bytea_datum(varlena_bytes(&d))
});
