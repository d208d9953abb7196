//! Per-customer purchase summaries (recency, frequency, monetary, tenure) as the
//! customer-base literature defines them (Fader, Hardie & Lee 2005; the CDNOW conventions).
//!
//! Definitions, for the rows of one customer up to and including `as_of`:
//! * a row with an amount `>= 0` (or an unknown amount) is an **order**; a row with a negative
//!   amount is a **return**: it is netted into the money totals but is not a purchase;
//! * a **purchase occasion** is a calendar day with at least one order;
//! * `frequency` = occasions − 1 (repeat occasions);
//! * `recency` = first → last order (0 without a repeat occasion, also when the first day has
//!   several orders), `tenure` = first order → `as_of`,
//!   `since_last` = last order → `as_of`, all in `unit`;
//! * `monetary_total` = net sum of the amounts; `monetary` = mean value of the repeat occasions,
//!   i.e. (`monetary_total` − net value of the first purchase day) / `frequency`, 0 without repeats.
//!
//! Rows after `as_of` are ignored, so one pass over a full history gives the calibration summary.
//! A customer without any order up to `as_of` has no summary (`None`).
//!
//! [`SummaryState`] keeps a cell per distinct day and is bound to one `as_of`; [`StoredState`] is
//! the bounded, `as_of`-free state to keep in a table and merge with later rows.

use crate::time::{day_of, USECS_PER_DAY};
use crate::CoreError;

/// A compensated (Neumaier) sum: money totals stay correctly rounded for typical amounts
/// (29.33 + 29.73 + 14.96 + 26.48 is 100.5, not 100.50000000000001) at the cost of one f64.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CompensatedSum {
    pub sum: f64,
    pub compensation: f64,
}

impl CompensatedSum {
    #[inline]
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
        self.sum = t;
    }

    pub fn merge(&mut self, other: &CompensatedSum) {
        self.add(other.sum);
        self.compensation += other.compensation;
    }

    #[inline]
    pub fn value(&self) -> f64 {
        self.sum + self.compensation
    }

    /// Whether the sum, its compensation and its value are finite: [`add`](Self::add) and
    /// [`merge`](Self::merge) do not check (an overflow gives ±Infinity or NaN); the summary
    /// states add through [`plus_amount`] and [`merged_amounts`], which do.
    #[inline]
    pub fn is_finite(&self) -> bool {
        self.sum.is_finite() && self.compensation.is_finite() && self.value().is_finite()
    }
}

/// The error of a sum of amounts beyond the range of `f64` (the total, a day's net value, or the
/// value of the repeat purchases): `OutOfRange` (SQLSTATE 22003, as PostgreSQL's `sum(float8)`
/// raises). The one place of its message, for every summary state.
pub fn amount_out_of_range() -> CoreError {
    CoreError::OutOfRange("the sum of amount is out of range for double precision".into())
}

/// `sum` with `x` added, or [`amount_out_of_range`] when it leaves the range of `f64`.
#[inline]
fn plus_amount(mut sum: CompensatedSum, x: f64) -> Result<CompensatedSum, CoreError> {
    sum.add(x);
    finite_amount(sum)
}

/// `a` merged with `b`, or [`amount_out_of_range`] when it leaves the range of `f64`.
fn merged_amounts(mut a: CompensatedSum, b: &CompensatedSum) -> Result<CompensatedSum, CoreError> {
    a.merge(b);
    finite_amount(a)
}

fn finite_amount(sum: CompensatedSum) -> Result<CompensatedSum, CoreError> {
    if sum.is_finite() {
        Ok(sum)
    } else {
        Err(amount_out_of_range())
    }
}

/// `a + b` for the net value of a day, or [`amount_out_of_range`].
#[inline]
fn day_value(a: f64, b: f64) -> Result<f64, CoreError> {
    let v = a + b;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(amount_out_of_range())
    }
}

/// One calendar day of a customer's history.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DayCell {
    /// Days since 2000-01-01.
    pub day: i32,
    /// Orders (non-negative or unknown amounts) on that day.
    pub orders: u32,
    /// Net value of all rows of that day (orders minus returns).
    pub value: f64,
}

/// Where a state keeps its sorted day cells. `Vec` here; the extension stores them in the
/// aggregate's PostgreSQL memory context so PostgreSQL accounts for (and frees) the memory.
pub trait DayStore {
    fn cells(&self) -> &[DayCell];
    fn cells_mut(&mut self) -> &mut [DayCell];
    fn insert(&mut self, index: usize, cell: DayCell);
    /// Replaces the content (used by merge).
    fn assign(&mut self, cells: &[DayCell]);
}

impl DayStore for Vec<DayCell> {
    fn cells(&self) -> &[DayCell] {
        self
    }
    fn cells_mut(&mut self) -> &mut [DayCell] {
        self
    }
    fn insert(&mut self, index: usize, cell: DayCell) {
        Vec::insert(self, index, cell)
    }
    fn assign(&mut self, cells: &[DayCell]) {
        self.clear();
        self.extend_from_slice(cells);
    }
}

/// The aggregate state of `customer_summary`: proportional to the customer's distinct days.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryState<S: DayStore = Vec<DayCell>> {
    /// The evaluation instant, microseconds since 2000-01-01.
    pub as_of: i64,
    /// Microseconds per unit (> 0).
    pub unit: f64,
    /// First and last order, microseconds since 2000-01-01 (`i64::MAX` / `i64::MIN` before any).
    pub first_at: i64,
    pub last_at: i64,
    pub orders: i64,
    pub returns: i64,
    pub total: CompensatedSum,
    /// Sorted by day, one cell per distinct day.
    pub days: S,
}

/// The result of a summary, in the caller's unit.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Day (since 2000-01-01) of the first and of the last purchase occasion.
    pub first_day: i32,
    pub last_day: i32,
    pub orders: i64,
    pub returns: i64,
    pub occasions: i64,
    pub frequency: i64,
    pub recency: f64,
    pub tenure: f64,
    pub since_last: f64,
    pub monetary_total: f64,
    pub monetary: f64,
}

/// What both states know of a customer's rows, the inputs of [`Summary::of`].
struct SummaryInputs {
    /// First and last purchase day, their number and the net value of the first one.
    first_day: i32,
    last_day: i32,
    occasions: i64,
    first_day_value: f64,
    orders: i64,
    returns: i64,
    /// Net value of all rows.
    total: f64,
    /// First and last order, microseconds since 2000-01-01.
    first_at: i64,
    last_at: i64,
}

impl Summary {
    /// The summary at `as_of` in `unit` (microseconds): the definitions of the module doc, one
    /// place for both states. An error when the value of the repeat purchases (the total less
    /// the first purchase day's value, both finite) is beyond the range of `f64`.
    fn of(i: SummaryInputs, as_of: i64, unit: f64) -> Result<Summary, CoreError> {
        let frequency = i.occasions - 1;
        let monetary = if frequency > 0 {
            day_value(i.total, -i.first_day_value)? / frequency as f64
        } else {
            0.0
        };
        // durations in i128: 4713 BC to 294276 AD spans more microseconds than an i64 holds
        let span = |from: i64, to: i64| (to as i128 - from as i128) as f64 / unit;
        Ok(Summary {
            first_day: i.first_day,
            last_day: i.last_day,
            orders: i.orders,
            returns: i.returns,
            occasions: i.occasions,
            frequency,
            // 0 without a repeat occasion (several orders on the first day are one occasion: the
            // models require recency 0 when frequency is 0)
            recency: if frequency == 0 {
                0.0
            } else {
                span(i.first_at, i.last_at)
            },
            tenure: span(i.first_at, as_of),
            since_last: span(i.last_at, as_of),
            monetary_total: i.total,
            monetary,
        })
    }
}

impl SummaryState {
    /// A new, empty state with `Vec` storage.
    pub fn new(as_of: i64, unit: f64) -> Result<Self, CoreError> {
        SummaryState::with_store(as_of, unit, Vec::new())
    }
}

impl<S: DayStore> SummaryState<S> {
    /// A new, empty state over `days` (which must be empty). `unit` is in microseconds and
    /// must be finite and positive.
    pub fn with_store(as_of: i64, unit: f64, days: S) -> Result<Self, CoreError> {
        if !(unit.is_finite() && unit > 0.0) {
            return Err(CoreError::InvalidParameter(
                "unit must be a positive interval".into(),
            ));
        }
        Ok(SummaryState {
            as_of,
            unit,
            first_at: i64::MAX,
            last_at: i64::MIN,
            orders: 0,
            returns: 0,
            total: CompensatedSum::default(),
            days,
        })
    }

    /// Adds one row: `at` in microseconds, `day` its calendar day (the caller decides the time
    /// zone), `amount` `None` when unknown. The amount must be finite (checked by the caller).
    /// An error ([`amount_out_of_range`]) when the total or the day's net value would leave the
    /// range of `f64`; the state is then unchanged.
    #[inline]
    pub fn add(&mut self, at: i64, day: i32, amount: Option<f64>) -> Result<(), CoreError> {
        if at > self.as_of {
            return Ok(());
        }
        let value = amount.unwrap_or(0.0);
        let is_order = value >= 0.0 || amount.is_none();
        let total = plus_amount(self.total, value)?;
        let orders = is_order as u32;
        let cells = self.days.cells_mut();
        let n = cells.len();
        let slot = match cells.last() {
            Some(last) if last.day == day => Ok(n - 1),
            Some(last) if last.day > day => cells.binary_search_by_key(&day, |c| c.day),
            _ => Err(n),
        };
        match slot {
            Ok(i) => {
                let cell = &mut cells[i];
                cell.value = day_value(cell.value, value)?;
                cell.orders += orders;
            }
            Err(i) => self.days.insert(i, DayCell { day, orders, value }),
        }
        self.total = total;
        if is_order {
            self.orders += 1;
            self.first_at = self.first_at.min(at);
            self.last_at = self.last_at.max(at);
        } else {
            self.returns += 1;
        }
        Ok(())
    }

    /// Adds a row given as a local timestamp (microseconds since 2000-01-01 wall-clock time).
    #[inline]
    pub fn add_local(&mut self, at: i64, amount: Option<f64>) -> Result<(), CoreError> {
        self.add(at, day_of(at), amount)
    }

    /// Merges another state of the same group into this one (the combine step). An error when
    /// the groups differ or a sum of amounts would leave the range of `f64`
    /// ([`amount_out_of_range`]); the state is then unchanged.
    pub fn merge<T: DayStore>(&mut self, other: &SummaryState<T>) -> Result<(), CoreError> {
        if other.as_of != self.as_of || other.unit != self.unit {
            return Err(CoreError::InvalidParameter(
                "as_of and unit must be the same for all rows of a group".into(),
            ));
        }
        let total = merged_amounts(self.total, &other.total)?;
        let (mine, theirs) = (self.days.cells(), other.days.cells());
        if theirs.is_empty() {
            self.merge_counts(other, total);
            return Ok(());
        }
        let mut merged = Vec::with_capacity(mine.len() + theirs.len());
        let (mut i, mut j) = (0, 0);
        while i < mine.len() && j < theirs.len() {
            let (a, b) = (mine[i], theirs[j]);
            if a.day < b.day {
                merged.push(a);
                i += 1;
            } else if b.day < a.day {
                merged.push(b);
                j += 1;
            } else {
                merged.push(DayCell {
                    day: a.day,
                    orders: a.orders + b.orders,
                    value: day_value(a.value, b.value)?,
                });
                i += 1;
                j += 1;
            }
        }
        merged.extend_from_slice(&mine[i..]);
        merged.extend_from_slice(&theirs[j..]);
        self.days.assign(&merged);
        self.merge_counts(other, total);
        Ok(())
    }

    /// The part of [`merge`](Self::merge) that cannot fail: counts, times and the new `total`.
    fn merge_counts<T: DayStore>(&mut self, other: &SummaryState<T>, total: CompensatedSum) {
        self.first_at = self.first_at.min(other.first_at);
        self.last_at = self.last_at.max(other.last_at);
        self.orders += other.orders;
        self.returns += other.returns;
        self.total = total;
    }

    /// The summary, or `None` when the customer has no order up to `as_of`; an error when the
    /// value of the repeat purchases is beyond the range of `f64` ([`amount_out_of_range`]).
    pub fn summary(&self) -> Result<Option<Summary>, CoreError> {
        if self.orders == 0 {
            return Ok(None);
        }
        let mut occasions = 0i64;
        let mut first: Option<&DayCell> = None;
        let mut last_day = 0;
        for cell in self.days.cells().iter().filter(|c| c.orders > 0) {
            occasions += 1;
            first.get_or_insert(cell);
            last_day = cell.day;
        }
        let Some(first) = first else {
            return Ok(None);
        };
        Summary::of(
            SummaryInputs {
                first_day: first.day,
                last_day,
                occasions,
                first_day_value: first.value,
                orders: self.orders,
                returns: self.returns,
                total: self.total.value(),
                first_at: self.first_at,
                last_at: self.last_at,
            },
            self.as_of,
            self.unit,
        )
        .map(Some)
    }
}

/// The state of `holdout_summary`: the calibration summary (rows up to `calibration_end`) and,
/// separately, the rows of the holdout period (`calibration_end` < at <= `holdout_end`).
#[derive(Clone, Debug, PartialEq)]
pub struct HoldoutState<S: DayStore = Vec<DayCell>> {
    /// `as_of` = `calibration_end`.
    pub calibration: SummaryState<S>,
    /// `as_of` = `holdout_end`; holds only holdout rows.
    pub holdout: SummaryState<S>,
}

/// A calibration summary and what the customer did in the holdout period (the conventions of
/// lifetimes' `calibration_and_holdout_data` with `freq='D'`: holdout purchases are counted as
/// distinct purchase days, the holdout spend is the mean value of those days).
#[derive(Clone, Debug, PartialEq)]
pub struct HoldoutSummary {
    pub calibration: Summary,
    /// Orders (rows with an amount >= 0 or unknown) in the holdout period.
    pub orders: i64,
    /// Distinct purchase days in the holdout period.
    pub occasions: i64,
    /// Net value of the holdout rows (returns netted).
    pub monetary_total: f64,
    /// `monetary_total / occasions`, 0 without holdout purchases (as lifetimes fills it).
    pub monetary: f64,
    /// `holdout_end − calibration_end` in the unit.
    pub length: f64,
}

impl HoldoutState {
    pub fn new(calibration_end: i64, holdout_end: i64, unit: f64) -> Result<Self, CoreError> {
        HoldoutState::with_stores(calibration_end, holdout_end, unit, Vec::new(), Vec::new())
    }
}

impl<S: DayStore> HoldoutState<S> {
    /// An empty state; `holdout_end` must be after `calibration_end`.
    pub fn with_stores(
        calibration_end: i64,
        holdout_end: i64,
        unit: f64,
        calibration_days: S,
        holdout_days: S,
    ) -> Result<Self, CoreError> {
        if holdout_end <= calibration_end {
            return Err(CoreError::InvalidParameter(
                "holdout_end must be after calibration_end".into(),
            ));
        }
        Ok(HoldoutState {
            calibration: SummaryState::with_store(calibration_end, unit, calibration_days)?,
            holdout: SummaryState::with_store(holdout_end, unit, holdout_days)?,
        })
    }

    /// Adds one row (see [`SummaryState::add`]); rows after `holdout_end` are ignored.
    #[inline]
    pub fn add(&mut self, at: i64, day: i32, amount: Option<f64>) -> Result<(), CoreError> {
        if at <= self.calibration.as_of {
            self.calibration.add(at, day, amount)
        } else {
            self.holdout.add(at, day, amount)
        }
    }

    /// Merges another state of the group. On error (another split, a sum of amounts beyond
    /// `f64`) the calibration part may already be merged: the caller discards the state (the
    /// aggregate raises the error).
    pub fn merge<T: DayStore>(&mut self, other: &HoldoutState<T>) -> Result<(), CoreError> {
        self.calibration.merge(&other.calibration)?;
        self.holdout.merge(&other.holdout)
    }

    /// The summary, or `None` when the customer has no order up to `calibration_end` (lifetimes
    /// leaves such customers out too: a model fitted on the calibration period knows nothing
    /// of them). An error when a sum of amounts is beyond the range of `f64`.
    pub fn summary(&self) -> Result<Option<HoldoutSummary>, CoreError> {
        let Some(calibration) = self.calibration.summary()? else {
            return Ok(None);
        };
        let h = &self.holdout;
        let occasions = h.days.cells().iter().filter(|c| c.orders > 0).count() as i64;
        let monetary_total = h.total.value();
        Ok(Some(HoldoutSummary {
            calibration,
            orders: h.orders,
            occasions,
            monetary_total,
            monetary: if occasions > 0 {
                monetary_total / occasions as f64
            } else {
                0.0
            },
            length: (h.as_of as i128 - self.calibration.as_of as i128) as f64 / h.unit,
        }))
    }
}

/// Microseconds of a date (days since 2000-01-01) at midnight, for a date within the range of
/// `timestamp` (beyond about 294276 AD the product leaves `i64`): a date from SQL goes through
/// [`crate::time::checked_date_usecs`] instead.
#[inline]
pub fn date_usecs(day: i32) -> i64 {
    debug_assert!(crate::time::checked_date_usecs(day).is_some(), "{day}");
    day as i64 * USECS_PER_DAY
}

// ---------------------------------------------------------------------------------------------
// The storable summary state (issue 15): as_of-free, mergeable, bounded.
// ---------------------------------------------------------------------------------------------

/// The SQL type of the `ordered_at` column a [`StoredState`] was built from. Stored in the state:
/// states of different kinds cannot be merged (their microseconds and days mean different things).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeKind {
    /// `date`: `at` is midnight of `day` ([`date_usecs`]).
    Date,
    /// `timestamp`: `day` is [`day_of`]`(at)`.
    Timestamp,
    /// `timestamptz`: `at` is UTC, `day` the calendar day in the session's time zone (an offset
    /// below 24 hours, so within one day of [`day_of`]`(at)`).
    Timestamptz,
}

impl TimeKind {
    /// The byte that stands for the kind in an encoded state.
    pub fn code(self) -> u8 {
        match self {
            TimeKind::Date => 0,
            TimeKind::Timestamp => 1,
            TimeKind::Timestamptz => 2,
        }
    }

    pub fn from_code(code: u8) -> Result<TimeKind, CoreError> {
        match code {
            0 => Ok(TimeKind::Date),
            1 => Ok(TimeKind::Timestamp),
            2 => Ok(TimeKind::Timestamptz),
            c => Err(CoreError::Corrupt(format!(
                "summary state has an unknown time kind {c}"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TimeKind::Date => "date",
            TimeKind::Timestamp => "timestamp",
            TimeKind::Timestamptz => "timestamptz",
        }
    }

    /// Whether `day` can be the calendar day of the instant `at` for this kind.
    pub fn day_fits(self, at: i64, day: i32) -> bool {
        let d = day_of(at) as i64;
        match self {
            TimeKind::Date => at.rem_euclid(USECS_PER_DAY) == 0 && d == day as i64,
            TimeKind::Timestamp => d == day as i64,
            TimeKind::Timestamptz => (d - day as i64).abs() <= 1,
        }
    }

    /// `at` written as PostgreSQL would print a value of this kind (the time zone of a
    /// `timestamptz` as UTC), for messages.
    pub fn format(self, at: i64) -> String {
        let (y, m, d) = civil_from_days(at.div_euclid(USECS_PER_DAY));
        let date = format!("{y:04}-{m:02}-{d:02}");
        if self == TimeKind::Date {
            return date;
        }
        let us = at.rem_euclid(USECS_PER_DAY);
        let (h, mi, s, frac) = (
            us / 3_600_000_000,
            us / 60_000_000 % 60,
            us / 1_000_000 % 60,
            us % 1_000_000,
        );
        let mut text = format!("{date} {h:02}:{mi:02}:{s:02}");
        if frac != 0 {
            let f = format!("{frac:06}");
            text.push('.');
            text.push_str(f.trim_end_matches('0'));
        }
        if self == TimeKind::Timestamptz {
            text.push_str("+00");
        }
        text
    }
}

/// (year, month, day) of a day counted from 2000-01-01 (proleptic Gregorian; year 0 = 1 BC).
fn civil_from_days(day: i64) -> (i64, u32, u32) {
    // H. Hinnant's days_from_civil inverse, shifted from 1970-01-01 (10957 days before 2000)
    let z = day + 10_957 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + (m <= 2) as i64;
    (y, m, d)
}

/// Bytes of a purchase-day list of `n` days in an encoded state: a `u32` count and `n` × `i32`.
pub(crate) fn list_bytes(n: u64) -> u64 {
    4 + 4 * n
}

/// Bytes of a purchase-day bitmap over `span` days: the first day (`i32`), the byte count (`u32`)
/// and ⌈span / 8⌉ bytes.
pub(crate) fn bitmap_bytes(span: u64) -> u64 {
    8 + span.div_ceil(8)
}

/// Whether `n` purchase days spread over `span` days (first to last, inclusive) are kept as a
/// bitmap: exactly when the bitmap is strictly smaller than the list, so a set of days has one
/// representation and equal histories encode to equal bytes.
pub fn purchase_days_use_bitmap(n: u64, span: u64) -> bool {
    bitmap_bytes(span) < list_bytes(n)
}

/// The set of a customer's purchase days (days since 2000-01-01 with at least one order): a sorted
/// list of `i32` days while that is smaller, else a bitmap from the first to the last day (see
/// [`purchase_days_use_bitmap`]). Memory and encoding are min(4 × days, ⌈span / 8⌉) plus a few
/// bytes: at most 1/32 byte per day of span once a customer buys more than every 32nd day.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PurchaseDays {
    repr: DaysRepr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum DaysRepr {
    /// Sorted, unique.
    List(Vec<i32>),
    /// Bit k (of byte k / 8, least significant first) is day `first + k`; the first and the
    /// last bit (`last - first`) are set, the bits after the last are clear.
    Bitmap {
        first: i32,
        last: i32,
        count: usize,
        bits: Vec<u8>,
    },
}

impl Default for DaysRepr {
    fn default() -> Self {
        DaysRepr::List(Vec::new())
    }
}

impl PurchaseDays {
    /// From sorted, unique days, in the canonical representation.
    pub fn from_sorted(days: &[i32]) -> Result<PurchaseDays, CoreError> {
        if days.windows(2).any(|w| w[0] >= w[1]) {
            return Err(CoreError::InvalidParameter(
                "purchase days must be sorted and unique".into(),
            ));
        }
        Ok(PurchaseDays::canonical(days))
    }

    fn canonical(days: &[i32]) -> PurchaseDays {
        let (Some(&first), Some(&last)) = (days.first(), days.last()) else {
            return PurchaseDays::default();
        };
        let span = (last as i64 - first as i64 + 1) as u64;
        if !purchase_days_use_bitmap(days.len() as u64, span) {
            return PurchaseDays {
                repr: DaysRepr::List(days.to_vec()),
            };
        }
        // span < 32 × len here, so the bitmap is smaller than the slice given
        let mut bits = vec![0u8; span.div_ceil(8) as usize];
        for &d in days {
            let k = (d as i64 - first as i64) as usize;
            bits[k / 8] |= 1 << (k % 8);
        }
        PurchaseDays {
            repr: DaysRepr::Bitmap {
                first,
                last,
                count: days.len(),
                bits,
            },
        }
    }

    /// A bitmap as decoded: `bits` must hold exactly ⌈span / 8⌉ bytes with the first and the
    /// last day set, nothing after the last, and be smaller than the list of its days.
    pub(crate) fn from_bitmap(first: i32, bits: Vec<u8>) -> Result<PurchaseDays, CoreError> {
        let corrupt = |m: &str| CoreError::Corrupt(format!("summary state purchase days: {m}"));
        let top = *bits.last().ok_or_else(|| corrupt("empty bitmap"))?;
        if top == 0 {
            return Err(corrupt("the bitmap's last byte is empty"));
        }
        if bits[0] & 1 == 0 {
            return Err(corrupt("the bitmap's first day is not set"));
        }
        // the last day is the highest set bit: nothing can follow it
        let span = (bits.len() as u64 - 1) * 8 + (8 - top.leading_zeros() as u64);
        let last = first as i64 + span as i64 - 1;
        let last = i32::try_from(last).map_err(|_| corrupt("the bitmap passes the last day"))?;
        let count = bits.iter().map(|b| b.count_ones() as usize).sum::<usize>();
        if !purchase_days_use_bitmap(count as u64, span) {
            return Err(corrupt("a bitmap where the list is smaller"));
        }
        Ok(PurchaseDays {
            repr: DaysRepr::Bitmap {
                first,
                last,
                count,
                bits,
            },
        })
    }

    /// Number of purchase days (occasions).
    pub fn len(&self) -> usize {
        match &self.repr {
            DaysRepr::List(v) => v.len(),
            DaysRepr::Bitmap { count, .. } => *count,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_bitmap(&self) -> bool {
        matches!(self.repr, DaysRepr::Bitmap { .. })
    }

    pub fn first(&self) -> Option<i32> {
        match &self.repr {
            DaysRepr::List(v) => v.first().copied(),
            DaysRepr::Bitmap { first, .. } => Some(*first),
        }
    }

    pub fn last(&self) -> Option<i32> {
        match &self.repr {
            DaysRepr::List(v) => v.last().copied(),
            DaysRepr::Bitmap { last, .. } => Some(*last),
        }
    }

    /// Days from the first to the last purchase day, inclusive (0 when empty).
    pub fn span(&self) -> u64 {
        match (self.first(), self.last()) {
            (Some(f), Some(l)) => (l as i64 - f as i64 + 1) as u64,
            _ => 0,
        }
    }

    pub fn contains(&self, day: i32) -> bool {
        match &self.repr {
            DaysRepr::List(v) => v.binary_search(&day).is_ok(),
            DaysRepr::Bitmap {
                first, last, bits, ..
            } => {
                if day < *first || day > *last {
                    return false;
                }
                let k = (day as i64 - *first as i64) as usize;
                bits[k / 8] & (1 << (k % 8)) != 0
            }
        }
    }

    /// The days, ascending.
    pub fn to_vec(&self) -> Vec<i32> {
        match &self.repr {
            DaysRepr::List(v) => v.clone(),
            DaysRepr::Bitmap {
                first, count, bits, ..
            } => {
                let mut out = Vec::with_capacity(*count);
                for (i, &b) in bits.iter().enumerate() {
                    let mut b = b;
                    while b != 0 {
                        let k = i * 8 + b.trailing_zeros() as usize;
                        out.push((*first as i64 + k as i64) as i32);
                        b &= b - 1;
                    }
                }
                out
            }
        }
    }

    /// Adds a day (no change when present), keeping the canonical representation. Never builds
    /// a bitmap larger than the list it replaces.
    pub fn insert(&mut self, day: i32) {
        if self.contains(day) {
            return;
        }
        let n = self.len() as u64 + 1;
        let first = self.first().map_or(day, |f| f.min(day));
        let last = self.last().map_or(day, |l| l.max(day));
        let span = (last as i64 - first as i64 + 1) as u64;
        let want_bitmap = purchase_days_use_bitmap(n, span);
        match &mut self.repr {
            DaysRepr::List(v) if !want_bitmap => {
                let i = v.partition_point(|&d| d < day);
                v.insert(i, day);
            }
            DaysRepr::Bitmap {
                first: f,
                last: l,
                count,
                bits,
            } if want_bitmap && day >= *f => {
                // inside or after the current range: set the bit, growing at the end
                let k = (day as i64 - *f as i64) as usize;
                if k / 8 >= bits.len() {
                    bits.resize(k / 8 + 1, 0);
                }
                bits[k / 8] |= 1 << (k % 8);
                *l = (*l).max(day);
                *count += 1;
            }
            _ => {
                // a change of representation or a day before a bitmap's first: rebuild
                let mut days = self.to_vec();
                let i = days.partition_point(|&d| d < day);
                days.insert(i, day);
                *self = PurchaseDays::canonical(&days);
            }
        }
    }

    /// The union of two sets, canonical.
    pub fn union(&self, other: &PurchaseDays) -> PurchaseDays {
        if other.is_empty() {
            return self.clone();
        }
        if self.is_empty() {
            return other.clone();
        }
        let (a, b) = (self.to_vec(), other.to_vec());
        let mut merged = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a[i].cmp(&b[j]) {
                std::cmp::Ordering::Less => {
                    merged.push(a[i]);
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    merged.push(b[j]);
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    merged.push(a[i]);
                    i += 1;
                    j += 1;
                }
            }
        }
        merged.extend_from_slice(&a[i..]);
        merged.extend_from_slice(&b[j..]);
        PurchaseDays::canonical(&merged)
    }

    /// The list, when the set is kept as one.
    pub(crate) fn as_list(&self) -> Option<&[i32]> {
        match &self.repr {
            DaysRepr::List(v) => Some(v),
            DaysRepr::Bitmap { .. } => None,
        }
    }

    /// The first day and the bytes, when the set is kept as a bitmap.
    pub(crate) fn as_bitmap(&self) -> Option<(i32, &[u8])> {
        match &self.repr {
            DaysRepr::List(_) => None,
            DaysRepr::Bitmap { first, bits, .. } => Some((*first, bits)),
        }
    }

    /// Bytes of the set in an encoded state (without the representation byte).
    pub fn encoded_len(&self) -> usize {
        match &self.repr {
            DaysRepr::List(v) => list_bytes(v.len() as u64) as usize,
            DaysRepr::Bitmap { bits, .. } => 8 + bits.len(),
        }
    }
}

/// The storable state of `customer_summary`: everything [`Summary`] needs except `as_of` and the
/// unit, which the caller gives when summarising ([`StoredState::summary`]). Unlike
/// [`SummaryState`] it does not keep a cell per day, so it can be kept in a table and merged with
/// the state of later rows (an incremental summary):
///
/// * counts, the compensated net total, the first and last order and the latest row;
/// * the purchase days as a [`PurchaseDays`] set (list or bitmap, whichever is smaller);
/// * the net value of the first purchase day (`monetary` subtracts it from the total);
/// * the net value of each return-only day *before* the first purchase day, since a later batch
///   may add an order on such a day and make it the first purchase day. Return-only days after
///   the first purchase day need no value: only the first purchase day's value enters `monetary`.
///
/// Size, exactly (memory is about the same): 80 bytes + min(4 + 4 × purchase days,
/// 8 + ⌈span / 8⌉) + 20 × return-only days before the first purchase day, where span is the
/// number of days from the first to the last purchase day; independent of the number of rows.
/// See [`StoredState::max_encoded_len`]; the encoding is in `state.rs`.
///
/// `merge` is commutative and associative: integer fields, days and times exactly, the money sums
/// up to rounding (compensated sums: the results agree to about 1e-15 of the sum of the absolute
/// amounts whatever the batches and the merge order).
#[derive(Clone, Debug, PartialEq)]
pub struct StoredState {
    pub kind: TimeKind,
    /// Rows with an amount `>= 0` or unknown.
    pub orders: i64,
    /// Rows with a negative amount.
    pub returns: i64,
    /// Net value of all rows.
    pub total: CompensatedSum,
    /// First and last order, microseconds since 2000-01-01 (`i64::MAX` / `i64::MIN` before any).
    pub first_at: i64,
    pub last_at: i64,
    /// The latest row, orders and returns (`i64::MIN` before any): `as_of` may not be before it.
    pub latest_at: i64,
    /// Net value of all rows of the first purchase day (0 without orders).
    pub first_day_value: CompensatedSum,
    /// Return-only days before the first purchase day (all return-only days while there is no
    /// order), sorted, with their net (negative) values.
    pub early_returns: Vec<(i32, CompensatedSum)>,
    /// Days with at least one order.
    pub days: PurchaseDays,
}

impl StoredState {
    /// An empty state for rows whose `ordered_at` is of `kind`.
    pub fn new(kind: TimeKind) -> StoredState {
        StoredState {
            kind,
            orders: 0,
            returns: 0,
            total: CompensatedSum::default(),
            first_at: i64::MAX,
            last_at: i64::MIN,
            latest_at: i64::MIN,
            first_day_value: CompensatedSum::default(),
            early_returns: Vec::new(),
            days: PurchaseDays::default(),
        }
    }

    /// An error unless the state is of `kind` (for callers that summarise or merge with a value
    /// of a given SQL type).
    pub fn check_kind(&self, kind: TimeKind) -> Result<(), CoreError> {
        if self.kind == kind {
            Ok(())
        } else {
            Err(CoreError::InvalidParameter(format!(
                "summary state of {} rows used with {} rows",
                self.kind.name(),
                kind.name()
            )))
        }
    }

    /// Adds one row, with the semantics of [`SummaryState::add`] (but no `as_of`: every row
    /// counts): `at` in microseconds, `day` its calendar day (see [`TimeKind`]; a decoded state
    /// is checked against this), `amount` `None` when unknown (an order of value 0), negative
    /// for a return. The amount must be finite (checked by the caller). An error
    /// ([`amount_out_of_range`]) when a sum of amounts would leave the range of `f64`; the state
    /// is then unchanged.
    pub fn add(&mut self, at: i64, day: i32, amount: Option<f64>) -> Result<(), CoreError> {
        let value = amount.unwrap_or(0.0);
        let is_order = value >= 0.0 || amount.is_none();
        // every sum first: on error nothing has changed. `day_sum` is the new value of the first
        // purchase day (`early` None) or of the return-only day at `early` in `early_returns`
        let total = plus_amount(self.total, value)?;
        let first_day = self.days.first();
        let (day_sum, early) = match first_day {
            Some(f) if day > f => (None, None),
            Some(f) if day == f => (Some(plus_amount(self.first_day_value, value)?), None),
            // a new first purchase day takes over the value of its returns; a return before the
            // first purchase day adds to its return-only day
            _ => {
                let early = self.early_returns.binary_search_by_key(&day, |e| e.0);
                let returns = match early {
                    Ok(i) => self.early_returns[i].1,
                    Err(_) => CompensatedSum::default(),
                };
                (Some(plus_amount(returns, value)?), Some(early))
            }
        };
        self.total = total;
        self.latest_at = self.latest_at.max(at);
        if is_order {
            self.orders = self.orders.saturating_add(1);
            self.first_at = self.first_at.min(at);
            self.last_at = self.last_at.max(at);
            if let Some(v) = day_sum {
                self.first_day_value = v;
                if first_day.is_none_or(|f| day < f) {
                    // the return-only days after the new first purchase day no longer matter
                    let keep = self.early_returns.partition_point(|e| e.0 < day);
                    self.early_returns.truncate(keep);
                }
            }
            self.days.insert(day);
        } else {
            self.returns = self.returns.saturating_add(1);
            match (day_sum, early) {
                (None, _) => {}
                (Some(v), None) => self.first_day_value = v,
                (Some(v), Some(Ok(i))) => self.early_returns[i].1 = v,
                (Some(v), Some(Err(i))) => self.early_returns.insert(i, (day, v)),
            }
        }
        Ok(())
    }

    /// Merges the state of other rows of the same customer (commutative and associative). On
    /// error (another kind, counts beyond `i64`, a sum of amounts beyond `f64`:
    /// [`amount_out_of_range`]) the state is unchanged.
    pub fn merge(&mut self, other: &StoredState) -> Result<(), CoreError> {
        self.check_kind(other.kind)?;
        let (Some(orders), Some(returns)) = (
            self.orders.checked_add(other.orders),
            self.returns.checked_add(other.returns),
        ) else {
            return Err(CoreError::OutOfRange(
                "summary state counts out of range".into(),
            ));
        };
        let days = self.days.union(&other.days);
        let first = days.first();
        // the new first day's value: each side's first-day value or early-return value for it
        let mut first_value = CompensatedSum::default();
        if let Some(f) = first {
            for s in [&*self, other] {
                if s.days.first() == Some(f) {
                    first_value = merged_amounts(first_value, &s.first_day_value)?;
                } else if let Ok(i) = s.early_returns.binary_search_by_key(&f, |e| e.0) {
                    first_value = merged_amounts(first_value, &s.early_returns[i].1)?;
                }
            }
        }
        let before = |d: i32| first.is_none_or(|f| d < f);
        let (a, b) = (&self.early_returns, &other.early_returns);
        let mut early = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let entry = if j == b.len() || (i < a.len() && a[i].0 < b[j].0) {
                i += 1;
                a[i - 1]
            } else if i == a.len() || b[j].0 < a[i].0 {
                j += 1;
                b[j - 1]
            } else {
                let v = merged_amounts(a[i].1, &b[j].1)?;
                i += 1;
                j += 1;
                (a[i - 1].0, v)
            };
            if before(entry.0) {
                early.push(entry);
            }
        }
        let total = merged_amounts(self.total, &other.total)?;
        self.orders = orders;
        self.returns = returns;
        self.total = total;
        self.first_at = self.first_at.min(other.first_at);
        self.last_at = self.last_at.max(other.last_at);
        self.latest_at = self.latest_at.max(other.latest_at);
        self.first_day_value = first_value;
        self.early_returns = early;
        self.days = days;
        Ok(())
    }

    /// The summary at `as_of` in `unit` (microseconds, finite and positive), or `None` when the
    /// state holds no order. An error when the state holds a row after `as_of`: the state cannot
    /// leave rows out, so such a summary would not be the one of the rows up to `as_of`.
    pub fn summary(&self, as_of: i64, unit: f64) -> Result<Option<Summary>, CoreError> {
        if !(unit.is_finite() && unit > 0.0) {
            return Err(CoreError::InvalidParameter(
                "unit must be a positive interval".into(),
            ));
        }
        if self.latest_at > as_of {
            return Err(CoreError::InvalidParameter(format!(
                "as_of {} is before the latest row of the summary state: the state holds rows up \
                 to {}, which is after as_of",
                self.kind.format(as_of),
                self.kind.format(self.latest_at)
            )));
        }
        let (Some(first_day), Some(last_day)) = (self.days.first(), self.days.last()) else {
            return Ok(None);
        };
        if self.orders == 0 {
            return Ok(None);
        }
        Summary::of(
            SummaryInputs {
                first_day,
                last_day,
                occasions: self.days.len() as i64,
                first_day_value: self.first_day_value.value(),
                orders: self.orders,
                returns: self.returns,
                total: self.total.value(),
                first_at: self.first_at,
                last_at: self.last_at,
            },
            as_of,
            unit,
        )
        .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEEK: f64 = 7.0 * USECS_PER_DAY as f64;

    fn state(as_of_day: i32, unit: f64) -> SummaryState {
        SummaryState::new(date_usecs(as_of_day), unit).unwrap()
    }

    fn add_day(s: &mut SummaryState, day: i32, amount: f64) {
        s.add(date_usecs(day), day, Some(amount)).unwrap();
    }

    #[test]
    fn holdout_splits_the_history_at_calibration_end() {
        // calibration to day 100, holdout to day 200, weeks
        let mut h = HoldoutState::new(date_usecs(100), date_usecs(200), WEEK).unwrap();
        for (day, amount) in [
            (10, 5.0),
            (10, 1.0),
            (30, 4.0),
            (100, 2.0),  // the last calibration day
            (101, 7.0),  // first holdout day
            (101, 3.0),  // same day: one occasion, two orders
            (150, -2.0), // a return: netted, not a purchase
            (150, 6.0),
            (200, 1.0),  // the holdout's last day
            (201, 99.0), // after holdout_end: ignored
        ] {
            h.add(date_usecs(day), day, Some(amount)).unwrap();
        }
        let s = h.summary().unwrap().unwrap();
        let c = &s.calibration;
        assert_eq!((c.orders, c.occasions, c.frequency), (4, 3, 2));
        assert_eq!((c.first_day, c.last_day), (10, 100));
        assert!((c.recency - 90.0 / 7.0).abs() < 1e-12);
        assert!((c.tenure - 90.0 / 7.0).abs() < 1e-12);
        assert!((c.monetary - 3.0).abs() < 1e-12); // (4 + 2) / 2
        assert_eq!((s.orders, s.occasions), (4, 3));
        assert!((s.monetary_total - 15.0).abs() < 1e-12);
        assert!((s.monetary - 5.0).abs() < 1e-12);
        assert!((s.length - 100.0 / 7.0).abs() < 1e-12);

        // merging the halves of any split gives the same state; the encoding round-trips
        let mut a = HoldoutState::new(date_usecs(100), date_usecs(200), WEEK).unwrap();
        let mut b = a.clone();
        for (i, day) in [150, 10, 101, 30, 101, 100].into_iter().enumerate() {
            let t = if i % 2 == 0 { &mut a } else { &mut b };
            t.add(date_usecs(day), day, Some(1.0)).unwrap();
        }
        a.merge(&b).unwrap();
        let back = HoldoutState::decode_into(&a.encode(), Vec::new(), Vec::new()).unwrap();
        assert_eq!(back, a);
        assert_eq!(back.summary().unwrap().unwrap().occasions, 2);
        let mut bad = a.encode();
        bad[2] = 0xff;
        assert!(HoldoutState::decode_into(&bad, Vec::new(), Vec::new()).is_err());
    }

    #[test]
    fn holdout_needs_a_calibration_order_and_an_ordered_split() {
        let mut h = HoldoutState::new(date_usecs(100), date_usecs(200), WEEK).unwrap();
        h.add(date_usecs(150), 150, Some(1.0)).unwrap();
        assert!(h.summary().unwrap().is_none()); // only holdout orders: not in the calibration
        h.add(date_usecs(50), 50, Some(1.0)).unwrap();
        let s = h.summary().unwrap().unwrap();
        assert_eq!((s.calibration.frequency, s.occasions), (0, 1));
        let empty = HoldoutState::new(date_usecs(100), date_usecs(200), WEEK).unwrap();
        let mut only_cal = empty.clone();
        only_cal.add(date_usecs(1), 1, None).unwrap();
        assert_eq!(only_cal.summary().unwrap().unwrap().monetary, 0.0);
        assert!(HoldoutState::new(date_usecs(100), date_usecs(100), WEEK).is_err());
        assert!(HoldoutState::new(date_usecs(100), date_usecs(99), WEEK).is_err());
    }

    #[test]
    fn cdnow_customer_1_by_hand() {
        // Customer 1 of the CDNOW sample (master id 4): 1997-01-01, 1997-01-18 and 1997-08-02, as_of 1997-09-30.
        // Days since 2000-01-01: 1997-01-01 = -1095.
        let mut s = state(-1095 + 272, WEEK);
        add_day(&mut s, -1095, 29.33);
        add_day(&mut s, -1095 + 17, 29.73);
        add_day(&mut s, -1095 + 213, 14.96);
        let r = s.summary().unwrap().unwrap();
        assert_eq!(r.frequency, 2);
        assert_eq!(format!("{:.2}", r.recency), "30.43");
        assert_eq!(format!("{:.2}", r.tenure), "38.86");
        assert!((r.monetary - 22.345).abs() < 1e-12); // published: 22.35
    }

    #[test]
    fn same_day_rows_form_one_occasion_in_any_order() {
        let mut a = state(100, USECS_PER_DAY as f64);
        for (d, v) in [(10, 5.0), (3, 1.0), (10, 5.0), (3, 2.0), (7, 4.0)] {
            add_day(&mut a, d, v);
        }
        let r = a.summary().unwrap().unwrap();
        assert_eq!((r.orders, r.occasions, r.frequency), (5, 3, 2));
        assert_eq!((r.first_day, r.last_day), (3, 10));
        assert_eq!(r.recency, 7.0);
        assert_eq!(r.tenure, 97.0);
        assert_eq!(r.since_last, 90.0);
        assert_eq!(r.monetary_total, 17.0);
        assert_eq!(r.monetary, 7.0); // (4 + 10) / 2
    }

    #[test]
    fn money_totals_are_compensated() {
        let mut s = state(1000, USECS_PER_DAY as f64);
        for (d, v) in [(1, 29.33), (2, 29.73), (3, 14.96), (4, 26.48)] {
            add_day(&mut s, d, v);
        }
        assert_eq!(s.summary().unwrap().unwrap().monetary_total, 100.5);
        let mut naive = 0.0;
        for v in [29.33, 29.73, 14.96, 26.48] {
            naive += v;
        }
        assert_ne!(
            naive, 100.5,
            "the example must be one where naive summation drifts"
        );
        let mut big = CompensatedSum::default();
        for _ in 0..1_000_000 {
            big.add(0.1);
        }
        assert!((big.value() - 100_000.0).abs() < 1e-9);
    }

    #[test]
    fn returns_are_netted_but_are_not_occasions() {
        let mut s = state(100, USECS_PER_DAY as f64);
        add_day(&mut s, 1, 10.0);
        add_day(&mut s, 5, 20.0);
        add_day(&mut s, 9, -5.0); // a return after the last order
        let r = s.summary().unwrap().unwrap();
        assert_eq!(
            (r.orders, r.returns, r.occasions, r.frequency),
            (2, 1, 2, 1)
        );
        assert_eq!(r.last_day, 5);
        assert_eq!(r.since_last, 95.0);
        assert_eq!(r.monetary_total, 25.0);
        assert_eq!(r.monetary, 15.0);
    }

    #[test]
    fn zero_and_unknown_amounts_are_orders() {
        let mut s = state(10, USECS_PER_DAY as f64);
        add_day(&mut s, 1, 0.0);
        s.add(date_usecs(2), 2, None).unwrap();
        let r = s.summary().unwrap().unwrap();
        assert_eq!((r.orders, r.occasions, r.frequency), (2, 2, 1));
        assert_eq!(r.monetary, 0.0);
    }

    #[test]
    fn rows_after_as_of_are_ignored_and_nothing_left_is_none() {
        let mut s = state(10, USECS_PER_DAY as f64);
        add_day(&mut s, 11, 5.0);
        assert_eq!(s.summary().unwrap(), None);
        add_day(&mut s, 10, 5.0); // on as_of: included
        let r = s.summary().unwrap().unwrap();
        assert_eq!((r.orders, r.frequency, r.tenure), (1, 0, 0.0));
        let mut only_returns = state(10, USECS_PER_DAY as f64);
        add_day(&mut only_returns, 1, -3.0);
        assert_eq!(only_returns.summary().unwrap(), None);
    }

    #[test]
    fn merge_equals_sequential() {
        let rows: Vec<(i32, f64)> = (0..200)
            .map(|i| ((i * 37) % 61, (i % 13) as f64 - 2.0))
            .collect();
        let mut all = state(100, USECS_PER_DAY as f64);
        let mut a = state(100, USECS_PER_DAY as f64);
        let mut b = state(100, USECS_PER_DAY as f64);
        for (k, &(d, v)) in rows.iter().enumerate() {
            add_day(&mut all, d, v);
            add_day(if k % 3 == 0 { &mut a } else { &mut b }, d, v);
        }
        a.merge(&b).unwrap();
        let (x, y) = (
            all.summary().unwrap().unwrap(),
            a.summary().unwrap().unwrap(),
        );
        assert_eq!(
            (x.orders, x.returns, x.occasions),
            (y.orders, y.returns, y.occasions)
        );
        assert_eq!((x.first_day, x.last_day), (y.first_day, y.last_day));
        assert!((x.monetary_total - y.monetary_total).abs() < 1e-9);
        assert!((x.monetary - y.monetary).abs() < 1e-9);
        assert!(a.merge(&state(99, USECS_PER_DAY as f64)).is_err());
    }

    /// The reviewer's case: amounts whose sum passes f64 (two rows of 1e308) gave a NaN
    /// monetary_total; now every sum of amounts is checked, at each row and each merge.
    #[test]
    fn sums_of_amounts_beyond_f64_are_an_error_not_nan() {
        let big = 1e308;
        let overflow = Err(amount_out_of_range());
        assert!(matches!(amount_out_of_range(), CoreError::OutOfRange(m)
            if m == "the sum of amount is out of range for double precision"));
        assert_eq!(
            plus_amount(CompensatedSum::default(), big).unwrap().value(),
            big
        );
        let half = plus_amount(CompensatedSum::default(), big).unwrap();
        assert_eq!(plus_amount(half, big), Err(amount_out_of_range()));
        assert_eq!(merged_amounts(half, &half), Err(amount_out_of_range()));
        assert!(half.is_finite());
        // the total: two rows of 1e308 on different days (the reviewer's query)
        let mut s = state(60, USECS_PER_DAY as f64);
        add_day(&mut s, 1, big);
        let before = s.clone();
        assert_eq!(s.add(date_usecs(2), 2, Some(big)), overflow);
        assert_eq!(s, before, "a failed add leaves the state unchanged");
        // a day's net value, the total staying finite: +1e308 and -1e308 alternate over two days
        let mut s = state(60, USECS_PER_DAY as f64);
        add_day(&mut s, 1, big);
        add_day(&mut s, 2, -big);
        let before = s.clone();
        assert_eq!(s.add(date_usecs(1), 1, Some(big)), overflow);
        assert_eq!(s, before);
        // the value of the repeat purchases: total 1e308 less a first day of -1e308
        let mut s = state(60, USECS_PER_DAY as f64);
        for (day, amount) in [(1, 0.0), (1, -big), (2, big), (3, big)] {
            add_day(&mut s, day, amount);
        }
        assert_eq!(s.total.value(), big);
        assert_eq!(s.summary(), Err(amount_out_of_range()));
        // merging (the parallel combine): each half is finite, the whole is not
        let mut a = state(60, USECS_PER_DAY as f64);
        let mut b = state(60, USECS_PER_DAY as f64);
        add_day(&mut a, 1, big);
        add_day(&mut b, 2, big);
        let before = a.clone();
        assert_eq!(a.merge(&b), overflow);
        assert_eq!(a, before, "a failed merge leaves the state unchanged");
        // the same day in both halves: the total is finite, the day's value is not
        let mut c = state(60, USECS_PER_DAY as f64);
        add_day(&mut c, 3, -big);
        add_day(&mut c, 1, big);
        let before = c.clone();
        let mut d = state(60, USECS_PER_DAY as f64);
        add_day(&mut d, 3, -big);
        add_day(&mut d, 2, big);
        assert_eq!(c.merge(&d), overflow);
        assert_eq!(c, before);
        // holdout_summary: its calibration and its holdout part
        let mut h = HoldoutState::new(date_usecs(10), date_usecs(20), WEEK).unwrap();
        h.add(date_usecs(1), 1, Some(big)).unwrap();
        assert_eq!(h.add(date_usecs(2), 2, Some(big)), overflow);
        h.add(date_usecs(11), 11, Some(big)).unwrap();
        assert_eq!(h.add(date_usecs(12), 12, Some(big)), overflow);
        let mut g = HoldoutState::new(date_usecs(10), date_usecs(20), WEEK).unwrap();
        g.add(date_usecs(15), 15, Some(big)).unwrap();
        assert_eq!(h.merge(&g), overflow);
        let mut g = HoldoutState::new(date_usecs(10), date_usecs(20), WEEK).unwrap();
        g.add(date_usecs(5), 5, Some(big)).unwrap();
        assert_eq!(h.merge(&g), overflow);
        assert!(h.summary().unwrap().unwrap().monetary_total.is_finite());
    }

    /// The whole range of timestamp: 4714-11-24 BC to 294276-12-31 AD.
    #[test]
    fn dates_at_the_ends_of_the_timestamp_range() {
        use crate::time::{MAX_TIMESTAMP_DAY as MAX, MIN_TIMESTAMP_DAY as MIN};
        let mut s = state(MAX, USECS_PER_DAY as f64);
        add_day(&mut s, MIN, 1.0);
        add_day(&mut s, MAX, 2.0);
        let r = s.summary().unwrap().unwrap();
        assert_eq!((r.first_day, r.last_day, r.frequency), (MIN, MAX, 1));
        let days = (MAX as i64 - MIN as i64) as f64;
        assert_eq!((r.recency, r.tenure, r.since_last), (days, days, 0.0));
        let back = SummaryState::decode(&s.encode()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn bad_unit_is_rejected() {
        assert!(SummaryState::new(0, 0.0).is_err());
        assert!(SummaryState::new(0, -1.0).is_err());
        assert!(SummaryState::new(0, f64::NAN).is_err());
    }
}

#[cfg(test)]
mod stored_tests {
    use super::*;

    const DAY: f64 = USECS_PER_DAY as f64;
    const WEEK: f64 = 7.0 * DAY;

    /// splitmix64: small, deterministic, no dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn range(&mut self, lo: i64, hi: i64) -> i64 {
            lo + self.below((hi - lo + 1) as u64) as i64
        }
        fn percent(&mut self, p: u64) -> bool {
            self.below(100) < p
        }
        fn unit_f64(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[derive(Clone, Copy, Debug)]
    struct Row {
        at: i64,
        day: i32,
        amount: Option<f64>,
    }

    /// The instant of a row on `day` for `kind`; `tz` is the time zone's offset east of UTC.
    fn at_of(rng: &mut Rng, kind: TimeKind, day: i32, tz: i64) -> i64 {
        match kind {
            TimeKind::Date => date_usecs(day),
            TimeKind::Timestamp => date_usecs(day) + rng.below(USECS_PER_DAY as u64) as i64,
            TimeKind::Timestamptz => date_usecs(day) + rng.below(USECS_PER_DAY as u64) as i64 - tz,
        }
    }

    fn amount(rng: &mut Rng, return_percent: u64) -> Option<f64> {
        match rng.below(100) {
            0..=9 => None,
            10..=14 => Some(0.0),
            _ if rng.percent(return_percent) => Some(-(rng.range(1, 20_000) as f64) / 100.0),
            _ if rng.percent(50) => Some(rng.range(1, 50_000) as f64 / 100.0),
            _ => Some(rng.unit_f64() * 1000.0),
        }
    }

    /// A random customer history: (kind, rows, as_of, unit).
    fn random_case(rng: &mut Rng) -> (TimeKind, Vec<Row>, i64, f64) {
        let kind =
            [TimeKind::Date, TimeKind::Timestamp, TimeKind::Timestamptz][rng.below(3) as usize];
        let tz = rng.range(-15 * 3600, 15 * 3600) * 1_000_000;
        let base = rng.range(-5_000, 10_000) as i32;
        let mode = rng.below(6);
        // (distinct candidate days, rows, return percentage)
        let (days, rows, returns): (Vec<i32>, usize, u64) = match mode {
            // a few days, same-day rows
            0 => {
                let n = rng.range(1, 6);
                let days = (0..n).map(|_| base + rng.range(0, 30) as i32).collect();
                (days, rng.range(1, 12) as usize, 30)
            }
            // a single-day customer
            1 => (vec![base], rng.range(1, 8) as usize, 30),
            // many returns, return-only days before and between the orders
            2 => {
                let n = rng.range(2, 8);
                let days = (0..n).map(|_| base + rng.range(0, 60) as i32).collect();
                (days, rng.range(2, 20) as usize, 60)
            }
            // dense over a long span: the purchase days become a bitmap
            3 => {
                let span = rng.range(300, 3_000);
                let n = rng.range(span / 20, span / 4);
                let days = (0..n).map(|_| base + rng.range(0, span) as i32).collect();
                (days, (n as usize) * 3 / 2, 20)
            }
            // sparse over a huge span: a list
            4 => {
                let n = rng.range(1, 10);
                let days = (0..n)
                    .map(|_| base + rng.range(-100_000, 100_000) as i32)
                    .collect();
                (days, rng.range(1, 15) as usize, 25)
            }
            // around the list/bitmap threshold (about one purchase day in 32)
            _ => {
                let span = rng.range(200, 1_200);
                let n = span / 32 + rng.range(-3, 3);
                let days = (0..n.max(1))
                    .map(|_| base + rng.range(0, span) as i32)
                    .collect();
                (days, n.max(1) as usize + rng.range(0, 4) as usize, 15)
            }
        };
        let rows: Vec<Row> = (0..rows)
            .map(|_| {
                let day = days[rng.below(days.len() as u64) as usize];
                Row {
                    at: at_of(rng, kind, day, tz),
                    day,
                    amount: amount(rng, returns),
                }
            })
            .collect();
        let max_at = rows.iter().map(|r| r.at).max().unwrap_or(0);
        let as_of = match rng.below(3) {
            0 => max_at,
            _ => max_at + rng.below(10 * USECS_PER_DAY as u64) as i64,
        };
        let unit = [DAY, WEEK, 1.0, 3.6e9, 30.0 * DAY][rng.below(5) as usize];
        (kind, rows, as_of, unit)
    }

    fn stored(kind: TimeKind, rows: &[Row]) -> StoredState {
        let mut s = StoredState::new(kind);
        for r in rows {
            s.add(r.at, r.day, r.amount).unwrap();
        }
        s
    }

    /// Encoding, text and the size bound of one state, and its canonical day representation.
    fn check_round_trips(s: &StoredState) {
        let bytes = s.encode();
        let back = StoredState::decode(&bytes).unwrap_or_else(|e| panic!("{e}: {s:?}"));
        assert_eq!(&back, s);
        assert_eq!(back.encode(), bytes);
        assert_eq!(&StoredState::from_text(&s.to_text()).unwrap(), s);
        let expected_len = StoredState::max_encoded_len(
            s.days.span(),
            s.days.len() as u64,
            s.early_returns.len() as u64,
        );
        assert_eq!(bytes.len(), expected_len);
        assert_eq!(
            s.days.is_bitmap(),
            purchase_days_use_bitmap(s.days.len() as u64, s.days.span())
        );
    }

    fn close(a: f64, b: f64, scale: f64) -> bool {
        (a - b).abs() <= 1e-12 * scale
    }

    #[test]
    fn stored_state_merged_in_any_batches_equals_summary_state() {
        let mut rng = Rng(0x5EED_0015);
        // how often the interesting cases came up: the test fails if one never does
        let (mut bitmaps, mut switches, mut earlier, mut early_became_first) = (0, 0, 0, 0);
        for case in 0..5_000 {
            let (kind, rows, as_of, unit) = random_case(&mut rng);
            // money scale: results agree to 1e-12 of the sum of the absolute amounts (a relative
            // bound on the result itself cannot hold when the net sums cancel)
            let scale = 1.0
                + rows
                    .iter()
                    .map(|r| r.amount.unwrap_or(0.0).abs())
                    .sum::<f64>();
            let k = rng.range(1, 6) as usize;
            let mut batches: Vec<Vec<Row>> = vec![Vec::new(); k];
            for r in &rows {
                batches[rng.below(k as u64) as usize].push(*r);
            }
            let mut pool: Vec<StoredState> = batches
                .iter_mut()
                .map(|b| {
                    for i in (1..b.len()).rev() {
                        b.swap(i, rng.below(i as u64 + 1) as usize);
                    }
                    let s = stored(kind, b);
                    check_round_trips(&s);
                    s
                })
                .collect();
            while pool.len() > 1 {
                let x = pool.swap_remove(rng.below(pool.len() as u64) as usize);
                let j = rng.below(pool.len() as u64) as usize;
                let (was_bitmap, firsts) = (
                    pool[j].days.is_bitmap() || x.days.is_bitmap(),
                    (pool[j].days.first(), x.days.first()),
                );
                let early_days: Vec<i32> = pool[j]
                    .early_returns
                    .iter()
                    .chain(&x.early_returns)
                    .map(|e| e.0)
                    .collect();
                if rng.percent(50) {
                    pool[j].merge(&x).unwrap();
                } else {
                    let mut y = x;
                    y.merge(&pool[j]).unwrap();
                    pool[j] = y;
                }
                let m = &pool[j];
                check_round_trips(m);
                switches += (m.days.is_bitmap() && !was_bitmap) as u32;
                if let (Some(a), Some(b)) = firsts {
                    earlier += (a != b) as u32;
                }
                early_became_first +=
                    m.days.first().is_some_and(|f| early_days.contains(&f)) as u32;
            }
            let merged = &pool[0];
            let whole = stored(kind, &rows);
            check_round_trips(&whole);
            bitmaps += whole.days.is_bitmap() as u32;
            // the state itself does not depend on the batches (sums up to rounding)
            assert_eq!(merged.days, whole.days, "case {case}");
            assert_eq!(
                (merged.orders, merged.returns, merged.kind),
                (whole.orders, whole.returns, whole.kind)
            );
            assert_eq!(
                (merged.first_at, merged.last_at, merged.latest_at),
                (whole.first_at, whole.last_at, whole.latest_at)
            );
            assert_eq!(
                merged.early_returns.iter().map(|e| e.0).collect::<Vec<_>>(),
                whole.early_returns.iter().map(|e| e.0).collect::<Vec<_>>()
            );
            for (a, b) in merged.early_returns.iter().zip(&whole.early_returns) {
                assert!(close(a.1.value(), b.1.value(), scale));
            }
            assert!(close(
                merged.first_day_value.value(),
                whole.first_day_value.value(),
                scale
            ));

            let mut reference = SummaryState::new(as_of, unit).unwrap();
            for r in &rows {
                reference.add(r.at, r.day, r.amount).unwrap();
            }
            let expected = reference.summary().unwrap();
            let got = merged.summary(as_of, unit).unwrap();
            assert_eq!(got.is_some(), expected.is_some(), "case {case}");
            if let (Some(g), Some(e)) = (got, expected) {
                assert_eq!(
                    (g.first_day, g.last_day, g.orders, g.returns),
                    (e.first_day, e.last_day, e.orders, e.returns),
                    "case {case}"
                );
                assert_eq!((g.occasions, g.frequency), (e.occasions, e.frequency));
                assert_eq!(
                    (g.recency, g.tenure, g.since_last),
                    (e.recency, e.tenure, e.since_last)
                );
                assert!(
                    close(g.monetary_total, e.monetary_total, scale),
                    "case {case}: {} vs {}",
                    g.monetary_total,
                    e.monetary_total
                );
                assert!(
                    close(g.monetary, e.monetary, scale),
                    "case {case}: {} vs {}",
                    g.monetary,
                    e.monetary
                );
            }
            if !rows.is_empty() {
                assert!(merged.summary(merged.latest_at - 1, unit).is_err());
            }
        }
        assert!(bitmaps > 500, "bitmaps: {bitmaps}");
        assert!(switches > 200, "list to bitmap in a merge: {switches}");
        assert!(earlier > 1_000, "first day from either side: {earlier}");
        assert!(
            early_became_first > 200,
            "a return-only day became the first purchase day: {early_became_first}"
        );
    }

    fn row(s: &mut StoredState, day: i32, amount: Option<f64>) {
        s.add(date_usecs(day), day, amount).unwrap();
    }

    /// summary_state kept a non-finite sum that its output function then refused (XX001);
    /// now the row or the merge that passes f64 is the error, and the state is unchanged.
    #[test]
    fn stored_sums_beyond_f64_are_an_error() {
        let big = 1e308;
        let overflow = Err(amount_out_of_range());
        let add =
            |s: &mut StoredState, day: i32, amount: f64| s.add(date_usecs(day), day, Some(amount));
        // the total
        let mut s = StoredState::new(TimeKind::Date);
        row(&mut s, 1, Some(big));
        let before = s.clone();
        assert_eq!(add(&mut s, 2, big), overflow);
        assert_eq!(s, before);
        // the first purchase day's value (the total stays finite)
        row(&mut s, 2, Some(-big));
        let before = s.clone();
        assert_eq!(add(&mut s, 1, big), overflow);
        assert_eq!(s, before);
        // a return-only day before the first purchase day
        let mut r = StoredState::new(TimeKind::Date);
        row(&mut r, 5, Some(-big));
        row(&mut r, 9, Some(big));
        let before = r.clone();
        assert_eq!(add(&mut r, 5, -big), overflow);
        assert_eq!(r, before);
        // a new first purchase day taking over its returns
        let mut f = StoredState::new(TimeKind::Date);
        row(&mut f, 5, Some(-big));
        row(&mut f, 9, Some(big));
        assert_eq!(f.early_returns.len(), 1);
        let before = f.clone();
        assert_eq!(add(&mut f, 5, -big), overflow);
        assert_eq!(f, before);
        // merges (summary_state_merge, the parallel combine): the total, the first day's value
        // and a return-only day, each finite in both states
        let mut a = StoredState::new(TimeKind::Date);
        row(&mut a, 1, Some(big));
        let before = a.clone();
        assert_eq!(a.merge(&a.clone()), overflow);
        assert_eq!(a, before);
        let mut a = StoredState::new(TimeKind::Date);
        row(&mut a, 1, Some(big));
        row(&mut a, 2, Some(-big));
        let mut b = StoredState::new(TimeKind::Date);
        row(&mut b, 1, Some(big));
        row(&mut b, 3, Some(-big));
        let before = a.clone();
        assert_eq!(a.merge(&b), overflow);
        assert_eq!(a, before);
        let mut a = StoredState::new(TimeKind::Date);
        row(&mut a, 1, Some(-big));
        row(&mut a, 2, Some(big));
        let before = a.clone();
        assert_eq!(a.merge(&a.clone()), overflow);
        assert_eq!(a, before);
        // the value of the repeat purchases, at the summary
        let mut m = StoredState::new(TimeKind::Date);
        for (day, amount) in [(1, 0.0), (1, -big), (2, big), (3, big)] {
            row(&mut m, day, Some(amount));
        }
        assert_eq!(m.summary(date_usecs(3), DAY), Err(amount_out_of_range()));
    }

    /// A state's text or bytes with a time or day beyond the range of timestamp are refused
    /// (the input function raises 22P02); the ends of the range are accepted.
    #[test]
    fn stored_times_beyond_the_timestamp_range_are_rejected() {
        use crate::time::{END_TIMESTAMP, MAX_TIMESTAMP_DAY, MIN_TIMESTAMP, MIN_TIMESTAMP_DAY};
        let at_day = |d: i32| d as i64 * USECS_PER_DAY;
        let rejected = |s: &StoredState| {
            let e = StoredState::from_text(&s.to_text()).unwrap_err();
            assert!(e.to_string().contains("range of timestamp"), "{e}");
            assert!(StoredState::decode(&s.encode()).is_err());
        };
        let accepted = |s: &StoredState| {
            assert_eq!(&StoredState::from_text(&s.to_text()).unwrap(), s);
        };
        // the ends of the range, every kind
        for kind in [TimeKind::Date, TimeKind::Timestamp, TimeKind::Timestamptz] {
            let mut s = StoredState::new(kind);
            s.add(MIN_TIMESTAMP, MIN_TIMESTAMP_DAY, Some(1.0)).unwrap();
            s.add(at_day(MAX_TIMESTAMP_DAY), MAX_TIMESTAMP_DAY, Some(2.0))
                .unwrap();
            accepted(&s);
        }
        // an order on 294277-01-01, a date one past the range (300000-01-05 has no microseconds
        // in an i64 at all)
        let mut s = StoredState::new(TimeKind::Date);
        s.add(END_TIMESTAMP, MAX_TIMESTAMP_DAY + 1, Some(1.0))
            .unwrap();
        rejected(&s);
        // a timestamp one microsecond past the end, the latest row a return
        let mut t = StoredState::new(TimeKind::Timestamp);
        row(&mut t, 0, Some(1.0));
        t.add(END_TIMESTAMP, MAX_TIMESTAMP_DAY + 1, Some(-1.0))
            .unwrap();
        rejected(&t);
        // a return-only day before 4714-11-24 BC (its time is in range: a forged state)
        let mut r = StoredState::new(TimeKind::Date);
        r.add(MIN_TIMESTAMP, MIN_TIMESTAMP_DAY - 1, Some(-1.0))
            .unwrap();
        rejected(&r);
        // the session's day of a timestamptz may be a day past the UTC range
        let mut z = StoredState::new(TimeKind::Timestamptz);
        z.add(END_TIMESTAMP - 1, MAX_TIMESTAMP_DAY + 1, Some(1.0))
            .unwrap();
        accepted(&z);
        // the aggregate's own (parallel) state: as_of and the first order
        let mut p = SummaryState::new(END_TIMESTAMP, DAY).unwrap();
        p.add(0, 0, Some(1.0)).unwrap();
        assert!(SummaryState::decode(&p.encode()).is_err());
        let mut p = SummaryState::new(0, DAY).unwrap();
        p.add(MIN_TIMESTAMP - 1, MIN_TIMESTAMP_DAY - 1, Some(1.0))
            .unwrap();
        assert!(SummaryState::decode(&p.encode()).is_err());
    }

    #[test]
    fn stored_first_day_moves_earlier_across_a_merge() {
        // batch a: a return on day 3 (before its first order), orders on days 10 and 20
        let mut a = StoredState::new(TimeKind::Date);
        row(&mut a, 3, Some(-2.0));
        row(&mut a, 10, Some(5.0));
        row(&mut a, 20, Some(8.0));
        row(&mut a, 10, Some(-1.0)); // a return on the first purchase day
        assert_eq!(a.days.first(), Some(10));
        assert_eq!(a.first_day_value.value(), 4.0);
        assert_eq!(a.early_returns.len(), 1);
        // batch b: a return on day 1, an order on day 3 (a's return-only day), one on day 15
        let mut b = StoredState::new(TimeKind::Date);
        row(&mut b, 1, Some(-0.5));
        row(&mut b, 3, Some(7.0));
        row(&mut b, 15, None);
        for (x, y) in [(&a, &b), (&b, &a)] {
            let mut m = x.clone();
            m.merge(y).unwrap();
            assert_eq!(m.days.to_vec(), vec![3, 10, 15, 20]);
            // day 3 is now the first purchase day: its value nets a's return with b's order
            assert_eq!(m.first_day_value.value(), 5.0);
            assert_eq!(m.early_returns.iter().map(|e| e.0).collect::<Vec<_>>(), [1]);
            let s = m.summary(date_usecs(30), DAY).unwrap().unwrap();
            assert_eq!(
                (s.first_day, s.last_day, s.occasions, s.frequency),
                (3, 20, 4, 3)
            );
            assert_eq!((s.orders, s.returns), (4, 3));
            assert_eq!(s.monetary_total, 16.5);
            assert_eq!(s.monetary, (16.5 - 5.0) / 3.0);
            assert_eq!((s.recency, s.tenure, s.since_last), (17.0, 27.0, 10.0));
        }
        // the same within one state: an order arrives on an earlier return-only day
        let mut c = StoredState::new(TimeKind::Date);
        row(&mut c, 2, Some(-3.0));
        row(&mut c, 4, Some(-1.0));
        row(&mut c, 6, Some(10.0));
        row(&mut c, 4, Some(2.0));
        assert_eq!(c.first_day_value.value(), 1.0);
        assert_eq!(c.early_returns.iter().map(|e| e.0).collect::<Vec<_>>(), [2]);
        // a return after the first purchase day keeps no per-day value
        row(&mut c, 5, Some(-1.0));
        assert_eq!(c.early_returns.len(), 1);
        let s = c.summary(date_usecs(6), DAY).unwrap().unwrap();
        // total 7, first purchase day (4) nets to 1, one repeat occasion
        assert_eq!((s.first_day, s.occasions, s.monetary_total), (4, 2, 7.0));
        assert_eq!(s.monetary, 6.0);
    }

    #[test]
    fn stored_days_switch_between_list_and_bitmap_at_the_threshold() {
        // days 0 and 799: a bitmap over 800 days takes 8 + 100 bytes, a list 4 + 4n: the list
        // while n <= 26, the bitmap from n = 27
        let mut s = StoredState::new(TimeKind::Timestamp);
        let mut days = vec![0, 799];
        for d in [0, 799] {
            s.add(date_usecs(d) + 1, d, Some(1.0)).unwrap();
        }
        let mut d = 1;
        while days.len() < 26 {
            s.add(date_usecs(d), d, Some(1.0)).unwrap();
            days.push(d);
            d += 1;
            assert!(!s.days.is_bitmap(), "{} days", days.len());
        }
        let list_len = s.encode().len();
        assert_eq!(list_len, StoredState::max_encoded_len(800, 26, 0));
        assert_eq!(list_len, 80 + 4 + 4 * 26);
        s.add(date_usecs(d), d, None).unwrap();
        days.push(d);
        assert!(s.days.is_bitmap());
        assert_eq!(s.encode().len(), 80 + 8 + 100);
        days.sort_unstable();
        assert_eq!(s.days.to_vec(), days);
        // an order before the bitmap's first day rebuilds it
        s.add(date_usecs(-8), -8, Some(1.0)).unwrap();
        assert!(s.days.is_bitmap() && s.days.first() == Some(-8));
        assert_eq!(s.days.len(), 28);
        // a day far away makes the list smaller again
        s.add(date_usecs(100_000), 100_000, Some(1.0)).unwrap();
        assert!(!s.days.is_bitmap());
        assert_eq!(s.days.len(), 29);
        assert_eq!(s.encode().len(), 80 + 4 + 4 * 29);
        // the same set reached by a merge has the same representation and bytes
        let mut a = StoredState::new(TimeKind::Timestamp);
        let mut b = StoredState::new(TimeKind::Timestamp);
        for (i, d) in (0..40).enumerate() {
            let t = if i % 2 == 0 { &mut a } else { &mut b };
            t.add(date_usecs(d * 30), d * 30, Some(1.0)).unwrap();
        }
        // 20 days over 1171 days each: lists; together 40 over 1171: a bitmap (8 + 147 < 164)
        assert!(!a.days.is_bitmap() && !b.days.is_bitmap());
        let mut one = StoredState::new(TimeKind::Timestamp);
        for d in 0..40 {
            one.add(date_usecs(d * 30), d * 30, Some(1.0)).unwrap();
        }
        a.merge(&b).unwrap();
        assert!(a.days.is_bitmap());
        assert_eq!(a.encode(), one.encode());
        // PurchaseDays directly
        assert!(PurchaseDays::from_sorted(&[3, 2]).is_err());
        assert!(PurchaseDays::from_sorted(&[2, 2]).is_err());
        assert!(PurchaseDays::from_sorted(&[]).unwrap().is_empty());
        let p = PurchaseDays::from_sorted(&(0..64).collect::<Vec<_>>()).unwrap();
        assert!(p.is_bitmap() && p.contains(63) && !p.contains(64) && p.span() == 64);
        let q = PurchaseDays::from_sorted(&[i32::MIN, i32::MAX]).unwrap();
        assert!(!q.is_bitmap() && q.span() == 1 << 32);
        assert_eq!(p.union(&q).to_vec().len(), 66);
    }

    #[test]
    fn stored_summary_rejects_as_of_before_the_latest_row() {
        let mut s = StoredState::new(TimeKind::Date);
        row(&mut s, 10, Some(5.0));
        row(&mut s, 12, Some(-5.0)); // the latest row is a return
        assert_eq!(s.latest_at, date_usecs(12));
        let err = s.summary(date_usecs(11), DAY).unwrap_err();
        let CoreError::InvalidParameter(m) = err else {
            panic!("{err:?}")
        };
        assert!(m.contains("as_of"), "{m}");
        assert!(m.contains("2000-01-13") && m.contains("2000-01-12"), "{m}");
        assert!(s.summary(date_usecs(12), DAY).unwrap().is_some());
        for unit in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(s.summary(date_usecs(20), unit).is_err());
        }
        let mut t = StoredState::new(TimeKind::Timestamptz);
        t.add(-1, -1, Some(1.0)).unwrap();
        let m = t.summary(-2, DAY).unwrap_err().to_string();
        assert!(m.contains("1999-12-31 23:59:59.999999+00"), "{m}");
        assert_eq!(
            TimeKind::Timestamp.format(3_723_500_000),
            "2000-01-01 01:02:03.5"
        );
        assert_eq!(TimeKind::Date.format(date_usecs(-1095)), "1997-01-01");
        assert_eq!(TimeKind::Date.format(date_usecs(60)), "2000-03-01");
    }

    #[test]
    fn stored_kind_mismatch_is_an_error() {
        let mut d = StoredState::new(TimeKind::Date);
        row(&mut d, 1, Some(1.0));
        let before = d.clone();
        let mut t = StoredState::new(TimeKind::Timestamp);
        t.add(5, 0, Some(2.0)).unwrap();
        assert!(matches!(d.merge(&t), Err(CoreError::InvalidParameter(_))));
        assert!(t.merge(&d).is_err());
        assert!(d.merge(&StoredState::new(TimeKind::Timestamptz)).is_err());
        assert_eq!(d, before, "a failed merge leaves the state unchanged");
        assert!(d.check_kind(TimeKind::Date).is_ok());
        let m = d.check_kind(TimeKind::Timestamptz).unwrap_err().to_string();
        assert!(m.contains("date") && m.contains("timestamptz"), "{m}");
        // counts beyond i64 are an error, not a wrap, and leave the state unchanged too
        let mut big = d.clone();
        big.orders = i64::MAX;
        assert!(matches!(d.merge(&big), Err(CoreError::OutOfRange(_))));
        assert_eq!(d, before);
    }

    #[test]
    fn stored_empty_and_return_only_states_have_no_summary() {
        let empty = StoredState::new(TimeKind::Date);
        assert_eq!(empty.summary(0, DAY).unwrap(), None);
        assert_eq!(empty.encode().len(), StoredState::max_encoded_len(0, 0, 0));
        assert_eq!(StoredState::decode(&empty.encode()).unwrap(), empty);
        let mut r = StoredState::new(TimeKind::Date);
        row(&mut r, 5, Some(-1.0));
        row(&mut r, 2, Some(-2.0));
        row(&mut r, 5, Some(-3.0));
        assert_eq!(r.summary(date_usecs(5), DAY).unwrap(), None);
        assert_eq!(
            r.early_returns.iter().map(|e| e.0).collect::<Vec<_>>(),
            [2, 5]
        );
        assert_eq!(r.early_returns[1].1.value(), -4.0);
        // merging an empty state changes nothing; merging a single order on day 5 makes day 5
        // the first purchase day, its value the order net of the returns
        let mut m = r.clone();
        m.merge(&empty).unwrap();
        assert_eq!(m, r);
        let mut o = StoredState::new(TimeKind::Date);
        row(&mut o, 5, Some(10.0));
        m.merge(&o).unwrap();
        assert_eq!(m.first_day_value.value(), 6.0);
        let s = m.summary(date_usecs(5), DAY).unwrap().unwrap();
        assert_eq!(
            (s.orders, s.returns, s.frequency, s.monetary),
            (1, 3, 0, 0.0)
        );
        assert_eq!(s.monetary_total, 4.0);
        // zero and unknown amounts are orders
        let mut z = StoredState::new(TimeKind::Date);
        row(&mut z, 1, Some(0.0));
        row(&mut z, 2, None);
        let s = z.summary(date_usecs(2), DAY).unwrap().unwrap();
        assert_eq!((s.orders, s.occasions, s.monetary), (2, 2, 0.0));
    }

    #[test]
    fn stored_cdnow_customer_1_by_hand() {
        let mut a = StoredState::new(TimeKind::Date);
        let mut b = StoredState::new(TimeKind::Date);
        row(&mut b, -1095 + 213, Some(14.96));
        row(&mut a, -1095 + 17, Some(29.73));
        row(&mut b, -1095, Some(29.33));
        a.merge(&b).unwrap();
        let r = a.summary(date_usecs(-1095 + 272), WEEK).unwrap().unwrap();
        assert_eq!(r.frequency, 2);
        assert_eq!(format!("{:.2}", r.recency), "30.43");
        assert_eq!(format!("{:.2}", r.tenure), "38.86");
        assert!((r.monetary - 22.345).abs() < 1e-12);
    }

    #[test]
    fn stored_size_for_ten_years_of_purchases() {
        // 2000-01-01 .. 2009-12-31: 3653 days
        let (first, last) = (0, 3652);
        let mut daily = StoredState::new(TimeKind::Date);
        for d in first..=last {
            row(&mut daily, d, Some(10.0));
        }
        assert!(daily.days.is_bitmap());
        assert_eq!(daily.encode().len(), 545);
        assert_eq!(
            daily.encode().len(),
            StoredState::max_encoded_len(3653, 3653, 0)
        );
        assert_eq!(daily.to_text().len(), 3 + 2 * 545);
        // 12 times a year (every 30.4 days), from the first to the last day of the 10 years
        let mut monthly = StoredState::new(TimeKind::Date);
        for k in 0..120 {
            let d = first + (k * (last - first)) / 119;
            row(&mut monthly, d, Some(10.0));
        }
        assert_eq!(monthly.days.len(), 120);
        assert!(monthly.days.is_bitmap()); // 8 + 457 bytes < 4 + 480
        assert_eq!(monthly.encode().len(), 545);
        // buying every 32nd day, 120 times (3809 days) keeps the list: 4 + 480 < 8 + 477
        let mut sparser = StoredState::new(TimeKind::Date);
        for k in 0..120 {
            row(&mut sparser, k * 32, Some(1.0));
        }
        assert!(!sparser.days.is_bitmap());
        assert_eq!(sparser.encode().len(), 80 + 484);
        // the bound does not grow with the rows: 100 orders a day are the same 545 bytes
        for _ in 0..99 {
            row(&mut daily, 1000, Some(1.0));
        }
        assert_eq!(daily.encode().len(), 545);
        assert_eq!(StoredState::max_encoded_len(0, 0, 3), 80 + 4 + 60);
    }
}
