//! Versioned binary encoding of aggregate states (for parallel aggregation and Citus).
//!
//! Layout: one magic byte per state kind, one version byte, then little-endian fields.
//! Decoding checks every length, so a damaged or foreign `bytea` gives an error, never a crash.
//!
//! The population states (RFM, ABC, patterns) travel between Citus nodes as text, so version 2
//! packs their numbers: a column of values whose order does not matter is sorted, and when every
//! value is an integer after scaling by 10^d (d ≤ 4: counts, days, weeks, money in cents) it is
//! written as varint deltas, else as raw doubles. Every value takes at least one byte, so a state
//! never decodes to more than 8 bytes per byte received (no decompression bombs from a crafted
//! `bytea`).

use crate::abc::{AbcMethod, AbcPopulation};
use crate::clv::Patterns;
use crate::rfm::RfmPopulation;
#[cfg(test)]
use crate::summary::date_usecs;
use crate::summary::{
    CompensatedSum, DayCell, DayStore, HoldoutState, PurchaseDays, StoredState, SummaryState,
    TimeKind,
};
use crate::time::{timestamp_in_range, MAX_TIMESTAMP_DAY, MIN_TIMESTAMP_DAY, TIMESTAMP_RANGE_TEXT};
use crate::CoreError;

const SUMMARY_MAGIC: u8 = b'S';
const HOLDOUT_MAGIC: u8 = b'H';
const RFM_MAGIC: u8 = b'R';
const ABC_MAGIC: u8 = b'A';
const PATTERNS_MAGIC: u8 = b'P';
const STORED_MAGIC: u8 = b'C';
const VERSION: u8 = 1;
/// Version of the packed population states (RFM, ABC, patterns).
const PACKED: u8 = 2;
/// Marks a column written as raw doubles.
const RAW: u8 = 255;
/// Largest decimal scale tried for packing (10^4: 1/100 of a cent).
const MAX_SCALE: u8 = 4;
/// Integers up to 2^53 are exact in a double.
const EXACT: i64 = 1 << 53;

/// A bounds-checked little-endian reader over an encoded state: every read that would pass the
/// end is a `Corrupt` error. Shared by every encoding of the core (`evaluation`, `kmeans`).
pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], CoreError> {
        if self.buf.len() < n {
            return Err(CoreError::Corrupt("aggregate state is truncated".into()));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, CoreError> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn u64(&mut self) -> Result<u64, CoreError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    pub(crate) fn u32(&mut self) -> Result<u32, CoreError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    pub(crate) fn i32(&mut self) -> Result<i32, CoreError> {
        Ok(i32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    pub(crate) fn i64(&mut self) -> Result<i64, CoreError> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    pub(crate) fn f64(&mut self) -> Result<f64, CoreError> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    pub(crate) fn header(&mut self, magic: u8) -> Result<(), CoreError> {
        self.header_version(magic, VERSION)
    }
    pub(crate) fn header_version(&mut self, magic: u8, version: u8) -> Result<(), CoreError> {
        if self.u8()? != magic {
            return Err(CoreError::Corrupt("not a state of this aggregate".into()));
        }
        match self.u8()? {
            v if v == version => Ok(()),
            v => Err(CoreError::Corrupt(format!("unknown state version {v}"))),
        }
    }
    pub(crate) fn varint(&mut self) -> Result<u64, CoreError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                if shift == 63 && b > 1 {
                    break;
                }
                return Ok(v);
            }
        }
        Err(CoreError::Corrupt(
            "aggregate state has a bad varint".into(),
        ))
    }
    pub(crate) fn zigzag(&mut self) -> Result<i64, CoreError> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }
    /// A count of items that take at least `min_bytes` each.
    pub(crate) fn packed_count(&mut self, min_bytes: usize) -> Result<usize, CoreError> {
        let n = self.varint()?;
        if n.checked_mul(min_bytes as u64)
            .is_none_or(|b| b > self.buf.len() as u64)
        {
            return Err(CoreError::Corrupt("aggregate state is truncated".into()));
        }
        Ok(n as usize)
    }
    /// The scale byte of a packed column and its factor.
    pub(crate) fn scale(&mut self) -> Result<Option<f64>, CoreError> {
        match self.u8()? {
            RAW => Ok(None),
            d if d <= MAX_SCALE => Ok(Some(10f64.powi(d as i32))),
            d => Err(CoreError::Corrupt(format!(
                "aggregate state has a bad scale {d}"
            ))),
        }
    }
    /// One packed number: a zigzag delta from `prev` (updated) when scaled, else a raw double.
    pub(crate) fn packed(&mut self, scale: Option<f64>, prev: &mut i64) -> Result<f64, CoreError> {
        let v = match scale {
            None => self.f64()?,
            Some(f) => {
                let k = prev
                    .checked_add(self.zigzag()?)
                    .filter(|k| k.abs() <= EXACT)
                    .ok_or_else(|| {
                        CoreError::Corrupt("aggregate state value out of range".into())
                    })?;
                *prev = k;
                k as f64 / f
            }
        };
        if v.is_finite() {
            Ok(v)
        } else {
            Err(CoreError::Corrupt(
                "aggregate state holds a non-finite value".into(),
            ))
        }
    }
    /// A packed column (see [`put_column`]).
    pub(crate) fn column(&mut self) -> Result<Vec<f64>, CoreError> {
        let scale = self.scale()?;
        let n = self.packed_count(1)?;
        if scale.is_some() {
            let mut prev = 0i64;
            return (0..n).map(|_| self.packed(scale, &mut prev)).collect();
        }
        // raw: deltas of the order-preserving bit patterns of the sorted values
        let mut prev = 0u64;
        (0..n)
            .map(|_| {
                prev = prev.checked_add(self.varint()?).ok_or_else(|| {
                    CoreError::Corrupt("aggregate state value out of range".into())
                })?;
                match from_ordered(prev) {
                    v if v.is_finite() => Ok(v),
                    _ => Err(CoreError::Corrupt(
                        "aggregate state holds a non-finite value".into(),
                    )),
                }
            })
            .collect()
    }
    pub(crate) fn count(&mut self, elem: usize) -> Result<usize, CoreError> {
        let n = self.u32()? as usize;
        if n.checked_mul(elem)
            .is_none_or(|bytes| bytes > self.buf.len())
        {
            return Err(CoreError::Corrupt("aggregate state is truncated".into()));
        }
        Ok(n)
    }
    pub(crate) fn end(&self) -> Result<(), CoreError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(CoreError::Corrupt(
                "aggregate state has trailing bytes".into(),
            ))
        }
    }
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn put_zigzag(out: &mut Vec<u8>, v: i64) {
    put_varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// The smallest decimal scale d (10^d) at which every value is an exact integer of at most 2^53,
/// or None.
pub(crate) fn common_scale(values: impl Iterator<Item = f64> + Clone) -> Option<u8> {
    (0..=MAX_SCALE).find(|&d| {
        let f = 10f64.powi(d as i32);
        values.clone().all(|v| {
            let k = (v * f).round();
            k.abs() <= EXACT as f64 && k / f == v
        })
    })
}

/// Writes a scale byte; returns the factor to use with [`put_packed`].
pub(crate) fn put_scale(out: &mut Vec<u8>, scale: Option<u8>) -> Option<f64> {
    out.push(scale.unwrap_or(RAW));
    scale.map(|d| 10f64.powi(d as i32))
}

/// One packed number (see [`Reader::packed`]).
pub(crate) fn put_packed(out: &mut Vec<u8>, v: f64, scale: Option<f64>, prev: &mut i64) {
    match scale {
        None => out.extend_from_slice(&v.to_le_bytes()),
        Some(f) => {
            let k = (v * f).round() as i64;
            put_zigzag(out, k - *prev);
            *prev = k;
        }
    }
}

/// A double's bits mapped so that unsigned order is `f64::total_cmp` order.
pub(crate) fn to_ordered(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | 1 << 63
    }
}

pub(crate) fn from_ordered(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// A column of values whose order does not matter: sorted, scale byte, count, then varint
/// deltas of the scaled integers, or (raw) of the order-preserving bit patterns, which share
/// their high bits when sorted.
pub(crate) fn put_column(out: &mut Vec<u8>, values: &[f64]) {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let scale = put_scale(out, common_scale(sorted.iter().copied()));
    put_varint(out, sorted.len() as u64);
    if scale.is_some() {
        let mut prev = 0i64;
        for v in sorted {
            put_packed(out, v, scale, &mut prev);
        }
    } else {
        let mut prev = 0u64;
        for v in sorted {
            let k = to_ordered(v);
            put_varint(out, k - prev);
            prev = k;
        }
    }
}

impl<S: DayStore> SummaryState<S> {
    pub fn encode(&self) -> Vec<u8> {
        let days = self.days.cells();
        let mut out = Vec::with_capacity(60 + 16 * days.len());
        out.extend_from_slice(&[SUMMARY_MAGIC, VERSION]);
        out.extend_from_slice(&self.as_of.to_le_bytes());
        out.extend_from_slice(&self.unit.to_le_bytes());
        out.extend_from_slice(&self.first_at.to_le_bytes());
        out.extend_from_slice(&self.last_at.to_le_bytes());
        out.extend_from_slice(&self.orders.to_le_bytes());
        out.extend_from_slice(&self.returns.to_le_bytes());
        out.extend_from_slice(&self.total.sum.to_le_bytes());
        out.extend_from_slice(&self.total.compensation.to_le_bytes());
        out.extend_from_slice(&(days.len() as u32).to_le_bytes());
        for c in days {
            out.extend_from_slice(&c.day.to_le_bytes());
            out.extend_from_slice(&c.orders.to_le_bytes());
            out.extend_from_slice(&c.value.to_le_bytes());
        }
        out
    }

    /// Decodes into a state over `days` (which must be empty).
    pub fn decode_into(buf: &[u8], days: S) -> Result<Self, CoreError> {
        let mut r = Reader { buf };
        r.header(SUMMARY_MAGIC)?;
        let mut s = SummaryState::with_store(r.i64()?, r.f64()?, days)?;
        s.first_at = r.i64()?;
        s.last_at = r.i64()?;
        s.orders = r.i64()?;
        s.returns = r.i64()?;
        s.total.sum = r.f64()?;
        s.total.compensation = r.f64()?;
        let n = r.count(16)?;
        for k in 0..n {
            let cell = DayCell {
                day: r.i32()?,
                orders: r.u32()?,
                value: r.f64()?,
            };
            if s.days.cells().last().is_some_and(|l| l.day >= cell.day) {
                return Err(CoreError::Corrupt(
                    "aggregate state days are not sorted".into(),
                ));
            }
            s.days.insert(k, cell);
        }
        r.end()?;
        let consistent = s.orders >= 0
            && s.returns >= 0
            && s.total.is_finite()
            && timestamp_in_range(s.as_of)
            && (s.orders == 0
                || (timestamp_in_range(s.first_at)
                    && s.first_at <= s.last_at
                    && s.last_at <= s.as_of))
            && s.days.cells().iter().all(|c| c.value.is_finite());
        if !consistent {
            return Err(CoreError::Corrupt("aggregate state is inconsistent".into()));
        }
        Ok(s)
    }
}

impl<S: DayStore> HoldoutState<S> {
    /// Both summaries, the calibration's behind its length.
    pub fn encode(&self) -> Vec<u8> {
        let (c, h) = (self.calibration.encode(), self.holdout.encode());
        let mut out = Vec::with_capacity(6 + c.len() + h.len());
        out.extend_from_slice(&[HOLDOUT_MAGIC, VERSION]);
        out.extend_from_slice(&(c.len() as u32).to_le_bytes());
        out.extend_from_slice(&c);
        out.extend_from_slice(&h);
        out
    }

    /// Decodes into a state over two empty day stores.
    pub fn decode_into(
        buf: &[u8],
        calibration_days: S,
        holdout_days: S,
    ) -> Result<Self, CoreError> {
        let mut r = Reader { buf };
        r.header(HOLDOUT_MAGIC)?;
        let n = r.u32()? as usize;
        let calibration = SummaryState::decode_into(r.take(n)?, calibration_days)?;
        let holdout = SummaryState::decode_into(r.buf, holdout_days)?;
        let h = &holdout;
        let consistent = h.as_of > calibration.as_of
            && h.unit == calibration.unit
            && (h.orders == 0 || h.first_at > calibration.as_of);
        if !consistent {
            return Err(CoreError::Corrupt("aggregate state is inconsistent".into()));
        }
        Ok(HoldoutState {
            calibration,
            holdout,
        })
    }
}

impl SummaryState {
    pub fn decode(buf: &[u8]) -> Result<Self, CoreError> {
        SummaryState::decode_into(buf, Vec::new())
    }
}

/// Bytes of a [`StoredState`] encoding before its return-only days and purchase days.
pub const STORED_HEADER_BYTES: usize = 80;
/// Bytes per return-only day before the first purchase day: the day and a compensated sum.
pub const STORED_EARLY_DAY_BYTES: usize = 20;
/// Prefix of the text form of a [`StoredState`].
pub const STORED_TEXT_PREFIX: &str = "v1:";

impl StoredState {
    /// The length of the encoding of a state whose purchase days span `span_days` days (first to
    /// last purchase day inclusive, 0 without orders), with `purchase_days` purchase days and
    /// `early_return_days` return-only days before the first purchase day. It is exact for every
    /// state ([`StoredState::encode`] keeps whichever of list and bitmap is smaller):
    ///
    /// 80 bytes + min(4 + 4 × purchase days, 8 + ⌈span / 8⌉) + 20 × return-only days before the
    /// first purchase day
    ///
    /// so at most 80 + 8 + ⌈span / 8⌉ + 20 × early days, whatever the number of rows: a customer
    /// buying every day of 10 years (3653 days) takes 80 + 8 + 457 = 545 bytes, one buying 12
    /// times a year for 10 years (120 days over at most 3653) 80 + min(484, 465) = 545 bytes
    /// (`to_text` doubles it and adds 3). Return-only days count only before the first order
    /// (a customer whose first rows are returns), at 20 bytes each.
    pub fn max_encoded_len(span_days: u64, purchase_days: u64, early_return_days: u64) -> usize {
        let list = crate::summary::list_bytes(purchase_days);
        let bitmap = crate::summary::bitmap_bytes(span_days);
        let days = if purchase_days == 0 {
            list
        } else {
            list.min(bitmap)
        };
        (STORED_HEADER_BYTES as u64)
            .saturating_add(days)
            .saturating_add(early_return_days.saturating_mul(STORED_EARLY_DAY_BYTES as u64))
            .try_into()
            .unwrap_or(usize::MAX)
    }

    /// Version 1, little-endian:
    ///
    /// | offset | bytes | field |
    /// |---|---|---|
    /// | 0 | 1 | magic `b'C'` |
    /// | 1 | 1 | version 1 |
    /// | 2 | 1 | kind: 0 date, 1 timestamp, 2 timestamptz |
    /// | 3 | 1 | purchase days: 0 list, 1 bitmap |
    /// | 4 | 8 | orders `i64` |
    /// | 12 | 8 | returns `i64` |
    /// | 20 | 16 | total: sum, compensation (`f64`) |
    /// | 36 | 8 | first_at `i64` (`i64::MAX` without orders) |
    /// | 44 | 8 | last_at `i64` (`i64::MIN` without orders) |
    /// | 52 | 8 | latest_at `i64` (`i64::MIN` without rows) |
    /// | 60 | 16 | first purchase day's net value: sum, compensation |
    /// | 76 | 4 | e = return-only days before the first purchase day `u32` |
    /// | 80 | 20 e | per such day, ascending: day `i32`, sum `f64`, compensation `f64` |
    /// | | | list: n `u32`, n ascending days `i32` |
    /// | | | bitmap: first day `i32`, byte count b `u32`, b bytes (bit k = first day + k) |
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            STORED_HEADER_BYTES
                + STORED_EARLY_DAY_BYTES * self.early_returns.len()
                + self.days.encoded_len(),
        );
        out.extend_from_slice(&[
            STORED_MAGIC,
            VERSION,
            self.kind.code(),
            self.days.is_bitmap() as u8,
        ]);
        out.extend_from_slice(&self.orders.to_le_bytes());
        out.extend_from_slice(&self.returns.to_le_bytes());
        out.extend_from_slice(&self.total.sum.to_le_bytes());
        out.extend_from_slice(&self.total.compensation.to_le_bytes());
        out.extend_from_slice(&self.first_at.to_le_bytes());
        out.extend_from_slice(&self.last_at.to_le_bytes());
        out.extend_from_slice(&self.latest_at.to_le_bytes());
        out.extend_from_slice(&self.first_day_value.sum.to_le_bytes());
        out.extend_from_slice(&self.first_day_value.compensation.to_le_bytes());
        out.extend_from_slice(&(self.early_returns.len() as u32).to_le_bytes());
        for (day, v) in &self.early_returns {
            out.extend_from_slice(&day.to_le_bytes());
            out.extend_from_slice(&v.sum.to_le_bytes());
            out.extend_from_slice(&v.compensation.to_le_bytes());
        }
        if let Some(list) = self.days.as_list() {
            out.extend_from_slice(&(list.len() as u32).to_le_bytes());
            for d in list {
                out.extend_from_slice(&d.to_le_bytes());
            }
        } else if let Some((first, bits)) = self.days.as_bitmap() {
            out.extend_from_slice(&first.to_le_bytes());
            out.extend_from_slice(&(bits.len() as u32).to_le_bytes());
            out.extend_from_slice(bits);
        }
        out
    }

    /// Decodes [`StoredState::encode`]'s bytes, checking every field: the version and kind, the
    /// canonical list or bitmap (sorted unique list no larger than the bitmap; bitmap with its
    /// first and last day set and smaller than the list), non-negative counts that cover the
    /// purchase and return-only days, finite sums, return-only days before the first purchase
    /// day with negative values, times that agree with the days and each other, and times and
    /// days within the range of `timestamp` (4714-11-24 BC to 294276-12-31 AD).
    pub fn decode(buf: &[u8]) -> Result<StoredState, CoreError> {
        let corrupt = |m: &str| CoreError::Corrupt(format!("summary state is inconsistent: {m}"));
        let mut r = Reader { buf };
        r.header(STORED_MAGIC)?;
        let kind = TimeKind::from_code(r.u8()?)?;
        let bitmap = match r.u8()? {
            0 => false,
            1 => true,
            b => {
                return Err(CoreError::Corrupt(format!(
                    "summary state has an unknown purchase-day representation {b}"
                )))
            }
        };
        let mut s = StoredState::new(kind);
        s.orders = r.i64()?;
        s.returns = r.i64()?;
        s.total = CompensatedSum {
            sum: r.f64()?,
            compensation: r.f64()?,
        };
        s.first_at = r.i64()?;
        s.last_at = r.i64()?;
        s.latest_at = r.i64()?;
        s.first_day_value = CompensatedSum {
            sum: r.f64()?,
            compensation: r.f64()?,
        };
        let e = r.count(STORED_EARLY_DAY_BYTES)?;
        s.early_returns.reserve_exact(e);
        for _ in 0..e {
            let day = r.i32()?;
            let v = CompensatedSum {
                sum: r.f64()?,
                compensation: r.f64()?,
            };
            if s.early_returns.last().is_some_and(|l| l.0 >= day) {
                return Err(corrupt("return-only days are not sorted"));
            }
            if !(v.sum < 0.0 && v.compensation.is_finite() && v.value() < 0.0) {
                return Err(corrupt("a return-only day without a negative value"));
            }
            s.early_returns.push((day, v));
        }
        s.days = if bitmap {
            let first = r.i32()?;
            let b = r.count(1)?;
            PurchaseDays::from_bitmap(first, r.take(b)?.to_vec())?
        } else {
            let n = r.count(4)?;
            let mut list = Vec::with_capacity(n);
            for _ in 0..n {
                list.push(r.i32()?);
            }
            let days = PurchaseDays::from_sorted(&list)
                .map_err(|_| corrupt("purchase days are not sorted"))?;
            if days.is_bitmap() {
                return Err(corrupt("a list where the bitmap is smaller"));
            }
            days
        };
        r.end()?;
        let finite = CompensatedSum::is_finite;
        if s.orders < 0 || s.returns < 0 {
            return Err(corrupt("negative counts"));
        }
        if !finite(&s.total) || !finite(&s.first_day_value) {
            return Err(corrupt("non-finite sums"));
        }
        if (s.days.len() as u64) > s.orders as u64 || (e as u64) > s.returns as u64 {
            return Err(corrupt("more days than rows"));
        }
        if (s.orders == 0 && s.returns == 0) != (s.latest_at == i64::MIN) {
            return Err(corrupt("latest row without rows"));
        }
        // the calendar day of a timestamptz is the session's: up to a day from the UTC day
        let slack = (kind == TimeKind::Timestamptz) as i32;
        let day_in_range =
            |d: i32| (MIN_TIMESTAMP_DAY - slack..=MAX_TIMESTAMP_DAY + slack).contains(&d);
        let times_in_range = [s.first_at, s.last_at, s.latest_at]
            .into_iter()
            .filter(|&t| t != i64::MAX && t != i64::MIN)
            .all(timestamp_in_range);
        let days_in_range = s
            .early_returns
            .iter()
            .map(|e| e.0)
            .chain(s.days.first())
            .chain(s.days.last())
            .all(day_in_range);
        if !(times_in_range && days_in_range) {
            return Err(corrupt(&format!(
                "a time outside the range of timestamp ({TIMESTAMP_RANGE_TEXT})"
            )));
        }
        if kind == TimeKind::Date
            && s.latest_at != i64::MIN
            && s.latest_at.rem_euclid(crate::time::USECS_PER_DAY) != 0
        {
            return Err(corrupt("a date that is not midnight"));
        }
        match (s.days.first(), s.days.last()) {
            (Some(first), Some(last)) => {
                let ok = s.orders > 0
                    && s.first_at <= s.last_at
                    && s.last_at <= s.latest_at
                    && kind.day_fits(s.first_at, first)
                    && kind.day_fits(s.last_at, last)
                    && s.early_returns.last().is_none_or(|l| l.0 < first);
                if !ok {
                    return Err(corrupt("orders, days and times disagree"));
                }
            }
            _ => {
                let empty = s.orders == 0
                    && s.first_at == i64::MAX
                    && s.last_at == i64::MIN
                    && s.first_day_value == CompensatedSum::default();
                if !empty {
                    return Err(corrupt("orders without purchase days"));
                }
            }
        }
        Ok(s)
    }

    /// The text form: `v1:` and the lowercase hexadecimal of [`StoredState::encode`].
    pub fn to_text(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let bytes = self.encode();
        let mut text = String::with_capacity(STORED_TEXT_PREFIX.len() + 2 * bytes.len());
        text.push_str(STORED_TEXT_PREFIX);
        for b in bytes {
            text.push(HEX[(b >> 4) as usize] as char);
            text.push(HEX[(b & 15) as usize] as char);
        }
        text
    }

    /// Parses [`StoredState::to_text`]'s form: exactly `v1:` followed by an even number of
    /// lowercase hexadecimal digits that decode to a valid state. A malformed text is an
    /// `InvalidParameter` error, a well-formed text of a damaged state a `Corrupt` one.
    pub fn from_text(text: &str) -> Result<StoredState, CoreError> {
        let Some(hex) = text.strip_prefix(STORED_TEXT_PREFIX) else {
            return Err(CoreError::InvalidParameter(format!(
                "a summary state text must start with \"{STORED_TEXT_PREFIX}\" (version 1 states)"
            )));
        };
        if hex.len() % 2 != 0 {
            return Err(CoreError::InvalidParameter(
                "a summary state text must have an even number of hexadecimal digits".into(),
            ));
        }
        if let Some(c) = hex.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
            return Err(CoreError::InvalidParameter(format!(
                "a summary state text may hold only lowercase hexadecimal digits after \
                 \"{STORED_TEXT_PREFIX}\", not {c:?}"
            )));
        }
        // only ASCII digits remain
        let digit = |c: u8| if c <= b'9' { c - b'0' } else { c - b'a' + 10 };
        let bytes: Vec<u8> = hex
            .as_bytes()
            .chunks_exact(2)
            .map(|p| digit(p[0]) << 4 | digit(p[1]))
            .collect();
        StoredState::decode(&bytes)
    }
}

impl RfmPopulation {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + 6 * self.recency.len());
        out.extend_from_slice(&[RFM_MAGIC, PACKED, self.bins as u8]);
        put_column(&mut out, &self.recency);
        put_column(&mut out, &self.frequency);
        put_column(&mut out, &self.monetary);
        out
    }

    pub fn decode(buf: &[u8]) -> Result<Self, CoreError> {
        let mut r = Reader { buf };
        r.header_version(RFM_MAGIC, PACKED)?;
        let mut p =
            RfmPopulation::new(r.u8()? as i32).map_err(|e| CoreError::Corrupt(e.to_string()))?;
        p.recency = r.column()?;
        p.frequency = r.column()?;
        p.monetary = r.column()?;
        r.end()?;
        if p.frequency.len() != p.recency.len() || p.monetary.len() != p.recency.len() {
            return Err(CoreError::Corrupt(
                "aggregate state columns differ in length".into(),
            ));
        }
        Ok(p)
    }
}

impl AbcPopulation {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + 3 * self.values.len());
        out.extend_from_slice(&[ABC_MAGIC, PACKED, self.method.code()]);
        out.extend_from_slice(&self.a_cut.to_le_bytes());
        out.extend_from_slice(&self.b_cut.to_le_bytes());
        out.extend_from_slice(&self.points.to_le_bytes());
        put_column(&mut out, &self.values);
        out
    }

    pub fn decode(buf: &[u8]) -> Result<Self, CoreError> {
        let mut r = Reader { buf };
        r.header_version(ABC_MAGIC, PACKED)?;
        let method = AbcMethod::from_code(r.u8()?)?;
        let (a_cut, b_cut, points) = (r.f64()?, r.f64()?, r.u32()?);
        let mut p = AbcPopulation::new(method, a_cut, b_cut, points)
            .map_err(|e| CoreError::Corrupt(e.to_string()))?;
        p.values = r.column()?;
        r.end()?;
        Ok(p)
    }
}

impl<const N: usize> Patterns<N> {
    /// Entries sorted by key, so equal states encode to equal bytes: N + 1 packed columns (one
    /// scale byte each, then per entry the N numbers as deltas from the previous entry's and the
    /// weight).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + (N + 1) * 2 * self.counts.len());
        out.extend_from_slice(&[PATTERNS_MAGIC, PACKED, N as u8]);
        out.extend_from_slice(&self.penalizer.to_le_bytes());
        let mut entries: Vec<(&[u64; N], &f64)> = self.counts.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut scales = [None; N];
        for (j, s) in scales.iter_mut().enumerate() {
            *s = put_scale(
                &mut out,
                common_scale(entries.iter().map(|(k, _)| f64::from_bits(k[j]))),
            );
        }
        let weight_scale = put_scale(&mut out, common_scale(entries.iter().map(|(_, w)| **w)));
        put_varint(&mut out, entries.len() as u64);
        let mut prev = [0i64; N];
        for (k, w) in entries {
            for j in 0..N {
                put_packed(&mut out, f64::from_bits(k[j]), scales[j], &mut prev[j]);
            }
            put_packed(&mut out, *w, weight_scale, &mut 0);
        }
        out
    }

    pub fn decode(buf: &[u8]) -> Result<Self, CoreError> {
        let mut r = Reader { buf };
        r.header_version(PATTERNS_MAGIC, PACKED)?;
        if r.u8()? as usize != N {
            return Err(CoreError::Corrupt("pattern state of another model".into()));
        }
        let penalizer = Patterns::<N>::check_penalizer(r.f64()?)
            .map_err(|e| CoreError::Corrupt(e.to_string()))?;
        let mut scales = [None; N];
        for s in scales.iter_mut() {
            *s = r.scale()?;
        }
        let weight_scale = r.scale()?;
        let n = r.packed_count(N + 1)?;
        let mut p = Patterns::<N> {
            penalizer,
            ..Default::default()
        };
        let mut prev = [0i64; N];
        for _ in 0..n {
            let mut k = [0u64; N];
            for j in 0..N {
                k[j] = r.packed(scales[j], &mut prev[j])?.to_bits();
            }
            let w = r.packed(weight_scale, &mut 0)?;
            if w <= 0.0 {
                return Err(CoreError::Corrupt(
                    "pattern state has invalid values".into(),
                ));
            }
            *p.counts.entry(k).or_insert(0.0) += w;
        }
        r.end()?;
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_round_trip_and_corruption() {
        let mut s = SummaryState::new(1_000, 7.0).unwrap();
        s.add_local(10, Some(3.5)).unwrap();
        s.add_local(-86_400_000_001, Some(-1.0)).unwrap();
        s.add_local(20, None).unwrap();
        let bytes = s.encode();
        assert_eq!(SummaryState::decode(&bytes).unwrap(), s);
        for cut in 0..bytes.len() {
            assert!(SummaryState::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(SummaryState::decode(&extra).is_err());
        let mut wrong_version = bytes;
        wrong_version[1] = 9;
        assert!(SummaryState::decode(&wrong_version).is_err());
    }

    #[test]
    fn abc_round_trip_and_corruption() {
        let mut p = AbcPopulation::new(AbcMethod::Including, 0.7, 0.9, 11).unwrap();
        p.add(3.0).unwrap();
        p.add(-1.5).unwrap();
        let bytes = p.encode();
        // values come back sorted (their order does not matter to the model)
        let mut sorted = p.clone();
        sorted.values = vec![-1.5, 3.0];
        assert_eq!(AbcPopulation::decode(&bytes).unwrap(), sorted);
        for cut in 0..bytes.len() {
            assert!(AbcPopulation::decode(&bytes[..cut]).is_err());
        }
        let mut bad_method = bytes.clone();
        bad_method[2] = 7;
        assert!(AbcPopulation::decode(&bad_method).is_err());
        let mut bad_cut = bytes.clone();
        bad_cut[3..11].copy_from_slice(&2.0f64.to_le_bytes());
        assert!(AbcPopulation::decode(&bad_cut).is_err());
    }

    #[test]
    fn patterns_round_trip_and_corruption() {
        let mut p = Patterns::<3>::default();
        p.add([2.0, 30.43, 38.86], 1.0);
        p.add([0.0, 0.0, 38.86], 2.0);
        p.add([2.0, 30.43, 38.86], 1.0);
        let bytes = p.encode();
        assert_eq!(Patterns::<3>::decode(&bytes).unwrap(), p);
        assert!(Patterns::<2>::decode(&bytes).is_err());
        for cut in 0..bytes.len() {
            assert!(Patterns::<3>::decode(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn packing_picks_the_scale_and_stays_exact() {
        let mut p = RfmPopulation::new(5).unwrap();
        for i in 0..1000 {
            // days, counts, cents, and a column that only raw doubles can hold
            p.add(i as f64, (i % 7) as f64, (i + 10) as f64 / 100.0)
                .unwrap();
        }
        let bytes = p.encode();
        assert!(bytes.len() < 6 * 1000, "packed: {} bytes", bytes.len());
        let back = RfmPopulation::decode(&bytes).unwrap();
        assert_eq!(back.monetary, {
            let mut m = p.monetary.clone();
            m.sort_by(f64::total_cmp);
            m
        });
        let mut q = RfmPopulation::new(5).unwrap();
        q.add(0.1 + 0.2, 1e300, -7.25).unwrap();
        q.add(1.0 / 3.0, -1e300, 7.0).unwrap();
        let back = RfmPopulation::decode(&q.encode()).unwrap();
        assert_eq!(back.recency, vec![0.1 + 0.2, 1.0 / 3.0]);
        assert_eq!(back.frequency, vec![-1e300, 1e300]);
        assert_eq!(back.monetary, vec![-7.25, 7.0]);
        assert_eq!(common_scale([0.5, 2.25].into_iter()), Some(2));
        for v in [-1e300, -1.0, -0.0, 0.0, 5e-324, 0.1, 1e300] {
            assert_eq!(from_ordered(to_ordered(v)).to_bits(), v.to_bits());
        }
        assert!(to_ordered(-1.0) < to_ordered(-0.0) && to_ordered(-0.0) < to_ordered(0.0));
        assert_eq!(common_scale([1e17].into_iter()), None);
    }

    #[test]
    fn packed_counts_cannot_exceed_the_bytes() {
        // a column claiming 2^40 values in a few bytes is rejected before any allocation
        let mut bytes = vec![b'A', PACKED, 0];
        bytes.extend_from_slice(&0.8f64.to_le_bytes());
        bytes.extend_from_slice(&0.95f64.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.push(0);
        put_varint(&mut bytes, 1 << 40);
        bytes.extend_from_slice(&[0; 16]);
        assert!(AbcPopulation::decode(&bytes).is_err());
        // deltas that overflow or leave the exact range are rejected
        let mut r = Reader { buf: &[] };
        let mut over = Vec::new();
        put_zigzag(&mut over, i64::MAX);
        r.buf = &over;
        let mut prev = 1i64;
        assert!(r.packed(Some(1.0), &mut prev).is_err());
    }

    #[test]
    fn rfm_round_trip_and_corruption() {
        let mut p = RfmPopulation::new(4).unwrap();
        p.add(1.0, 2.0, 3.0).unwrap();
        p.add(4.0, 5.0, -6.0).unwrap();
        let bytes = p.encode();
        let mut sorted = p.clone();
        sorted.monetary = vec![-6.0, 3.0];
        assert_eq!(RfmPopulation::decode(&bytes).unwrap(), sorted);
        for cut in 0..bytes.len() {
            assert!(RfmPopulation::decode(&bytes[..cut]).is_err());
        }
        assert!(RfmPopulation::decode(&SummaryState::new(0, 1.0).unwrap().encode()).is_err());
        let mut bad_bins = bytes;
        bad_bins[2] = 1;
        assert!(RfmPopulation::decode(&bad_bins).is_err());
    }

    fn stored_sample(kind: TimeKind) -> StoredState {
        // a return-only day (1) before the first order (day 3), orders on 3, 50 and 90 (a list)
        let mut s = StoredState::new(kind);
        let us = crate::time::USECS_PER_DAY;
        s.add(us, 1, Some(-2.0)).unwrap();
        for (d, v) in [
            (3i64, Some(4.0)),
            (50, None),
            (90, Some(2.5)),
            (3, Some(-1.0)),
        ] {
            s.add(d * us, d as i32, v).unwrap();
        }
        s
    }

    fn patched(bytes: &[u8], at: usize, with: &[u8]) -> Vec<u8> {
        let mut b = bytes.to_vec();
        b[at..at + with.len()].copy_from_slice(with);
        b
    }

    #[test]
    fn stored_state_decode_rejects_corruption() {
        let s = stored_sample(TimeKind::Date);
        let bytes = s.encode();
        assert_eq!(StoredState::decode(&bytes).unwrap(), s);
        // layout: header 80, one early day (20), list: count 3, days 3, 50, 90
        assert_eq!(bytes.len(), 80 + 20 + 4 + 12);
        assert_eq!(&bytes[100..104], &3u32.to_le_bytes());
        for cut in 0..bytes.len() {
            assert!(StoredState::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        let bad: Vec<(&str, Vec<u8>)> = vec![
            ("trailing byte", extra),
            ("magic", patched(&bytes, 0, b"S")),
            ("version", patched(&bytes, 1, &[2])),
            ("kind", patched(&bytes, 2, &[3])),
            ("representation", patched(&bytes, 3, &[2])),
            ("list read as a bitmap", patched(&bytes, 3, &[1])),
            (
                "negative orders",
                patched(&bytes, 4, &(-1i64).to_le_bytes()),
            ),
            (
                "fewer orders than days",
                patched(&bytes, 4, &2i64.to_le_bytes()),
            ),
            ("no returns", patched(&bytes, 12, &0i64.to_le_bytes())),
            ("NaN total", patched(&bytes, 20, &f64::NAN.to_le_bytes())),
            (
                "infinite compensation",
                patched(&bytes, 28, &f64::INFINITY.to_le_bytes()),
            ),
            (
                "first_at after last_at",
                patched(&bytes, 36, &i64::MAX.to_le_bytes()),
            ),
            (
                "first_at on another day",
                patched(&bytes, 36, &0i64.to_le_bytes()),
            ),
            (
                "last_at on another day",
                patched(&bytes, 44, &date_usecs(89).to_le_bytes()),
            ),
            (
                "latest before last",
                patched(&bytes, 52, &date_usecs(89).to_le_bytes()),
            ),
            (
                "date not at midnight",
                patched(&bytes, 52, &(date_usecs(90) + 1).to_le_bytes()),
            ),
            (
                "NaN first-day value",
                patched(&bytes, 60, &f64::NAN.to_le_bytes()),
            ),
            ("early count", patched(&bytes, 76, &2u32.to_le_bytes())),
            (
                "early day on the first day",
                patched(&bytes, 80, &3i32.to_le_bytes()),
            ),
            (
                "early day after the first day",
                patched(&bytes, 80, &4i32.to_le_bytes()),
            ),
            (
                "positive early value",
                patched(&bytes, 84, &2.0f64.to_le_bytes()),
            ),
            (
                "zero early value",
                patched(&bytes, 84, &0.0f64.to_le_bytes()),
            ),
            ("list count", patched(&bytes, 100, &u32::MAX.to_le_bytes())),
            ("unsorted list", patched(&bytes, 104, &70i32.to_le_bytes())),
            ("duplicate day", patched(&bytes, 108, &3i32.to_le_bytes())),
            ("first day moved", patched(&bytes, 104, &2i32.to_le_bytes())),
        ];
        for (what, b) in bad {
            assert!(
                matches!(StoredState::decode(&b), Err(CoreError::Corrupt(_))),
                "{what} accepted"
            );
        }
        // an empty state with a latest row, or with orders but no days
        let mut empty = StoredState::new(TimeKind::Timestamp).encode();
        assert!(StoredState::decode(&empty).is_ok());
        empty[52..60].copy_from_slice(&0i64.to_le_bytes());
        assert!(StoredState::decode(&empty).is_err());
        let mut orders_no_days = StoredState::new(TimeKind::Timestamp).encode();
        orders_no_days[4..12].copy_from_slice(&1i64.to_le_bytes());
        orders_no_days[52..60].copy_from_slice(&0i64.to_le_bytes());
        assert!(StoredState::decode(&orders_no_days).is_err());

        // a bitmap: days 0..64 except 1 (63 days over 64: 8 + 8 bytes)
        let mut m = StoredState::new(TimeKind::Timestamp);
        for d in (0..64).filter(|&d| d != 1) {
            m.add(date_usecs(d) + 5, d, Some(1.0)).unwrap();
        }
        let bytes = m.encode();
        assert!(m.days.is_bitmap());
        assert_eq!(bytes.len(), 80 + 8 + 8);
        assert_eq!(StoredState::decode(&bytes).unwrap(), m);
        for cut in 0..bytes.len() {
            assert!(StoredState::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let bad: Vec<(&str, Vec<u8>)> = vec![
            ("bitmap read as a list", patched(&bytes, 3, &[0])),
            ("first bit clear", patched(&bytes, 88, &[0xfc])),
            ("last byte empty", patched(&bytes, 95, &[0])),
            ("last bit moved", patched(&bytes, 95, &[0x7f])),
            ("first day moved", patched(&bytes, 80, &1i32.to_le_bytes())),
            ("byte count", patched(&bytes, 84, &7u32.to_le_bytes())),
            (
                "byte count too big",
                patched(&bytes, 84, &u32::MAX.to_le_bytes()),
            ),
            (
                "fewer orders than days",
                patched(&bytes, 4, &62i64.to_le_bytes()),
            ),
            (
                "two days over 64: a list is smaller",
                patched(&bytes, 88, &[0x01, 0, 0, 0, 0, 0, 0, 0x80]),
            ),
        ];
        for (what, b) in bad {
            assert!(
                matches!(StoredState::decode(&b), Err(CoreError::Corrupt(_))),
                "{what} accepted"
            );
        }
        // a bitmap that would pass i32::MAX
        let mut far = bytes.clone();
        far[80..84].copy_from_slice(&(i32::MAX - 10).to_le_bytes());
        assert!(StoredState::decode(&far).is_err());

        // timestamptz days may be one day off the UTC day, not two
        let mut tz = StoredState::new(TimeKind::Timestamptz);
        tz.add(date_usecs(5) - 1, 5, Some(1.0)).unwrap(); // 23:59:59.999999 UTC on day 4, local day 5
        let b = tz.encode();
        assert_eq!(StoredState::decode(&b).unwrap(), tz);
        assert!(StoredState::decode(&patched(&b, 84, &6i32.to_le_bytes())).is_err());
    }

    #[test]
    fn stored_state_text_round_trips_and_rejects_other_text() {
        for kind in [TimeKind::Date, TimeKind::Timestamp, TimeKind::Timestamptz] {
            let s = stored_sample(kind);
            let text = s.to_text();
            assert!(text.starts_with("v1:43"), "{text}"); // 'C'
            assert!(text[3..]
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
            assert_eq!(text.len(), 3 + 2 * s.encode().len());
            assert_eq!(StoredState::from_text(&text).unwrap(), s);
        }
        let text = stored_sample(TimeKind::Date).to_text();
        let hex = &text[3..];
        for (what, t) in [
            ("empty", String::new()),
            ("no prefix", hex.to_string()),
            ("other version", format!("v2:{hex}")),
            ("upper-case prefix", format!("V1:{hex}")),
            ("upper-case hex", format!("v1:{}", hex.to_uppercase())),
            ("odd length", format!("{text}0")),
            ("not hex", format!("{}g{}", &text[..10], &text[11..])),
            ("space", format!("v1: {}", &hex[1..])),
            ("non-ASCII", format!("{}é{}", &text[..10], &text[12..])),
        ] {
            let e = StoredState::from_text(&t).unwrap_err();
            assert!(matches!(e, CoreError::InvalidParameter(_)), "{what}: {e:?}");
            if what == "non-ASCII" {
                assert!(e.to_string().contains("'é'"), "{e}");
            }
        }
        // well-formed text of damaged bytes is a corrupt state
        let e = StoredState::from_text(&format!("v1:{}", &hex[..hex.len() - 2])).unwrap_err();
        assert!(matches!(e, CoreError::Corrupt(_)), "{e:?}");
        let m = StoredState::from_text("x").unwrap_err().to_string();
        assert!(m.contains("v1:"), "{m}");
    }
}
