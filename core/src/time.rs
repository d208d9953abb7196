//! Time arithmetic shared by the summaries: PostgreSQL's epoch (2000-01-01), microsecond ticks,
//! and the conversion of an `interval` unit to microseconds.

/// Microseconds per day.
pub const USECS_PER_DAY: i64 = 86_400_000_000;

/// PostgreSQL's range of `timestamp` and `timestamptz` in microseconds since 2000-01-01
/// (`MIN_TIMESTAMP` and `END_TIMESTAMP` of `datatype/timestamp.h`): `MIN_TIMESTAMP <= t <
/// END_TIMESTAMP`, 4714-11-24 00:00 BC to 294277-01-01 00:00 (exclusive).
pub const MIN_TIMESTAMP: i64 = -211_813_488_000_000_000;
pub const END_TIMESTAMP: i64 = 9_223_371_331_200_000_000;
/// The first and the last day (since 2000-01-01) of that range: 4714-11-24 BC and 294276-12-31,
/// the dates PostgreSQL can cast to `timestamp`. A `date` goes on to 5874897 AD, where its
/// microseconds would no longer fit an `i64`.
pub const MIN_TIMESTAMP_DAY: i32 = (MIN_TIMESTAMP / USECS_PER_DAY) as i32;
pub const MAX_TIMESTAMP_DAY: i32 = (END_TIMESTAMP / USECS_PER_DAY) as i32 - 1;
/// The range in words, for messages.
pub const TIMESTAMP_RANGE_TEXT: &str = "4714-11-24 BC to 294276-12-31 AD";

/// Whether a time in microseconds is within the range of `timestamp`.
#[inline]
pub fn timestamp_in_range(usecs: i64) -> bool {
    (MIN_TIMESTAMP..END_TIMESTAMP).contains(&usecs)
}

/// Microseconds of midnight of a date (days since 2000-01-01), or `None` when the date is
/// outside the range of `timestamp` ([`MIN_TIMESTAMP_DAY`]..=[`MAX_TIMESTAMP_DAY`]).
#[inline]
pub fn checked_date_usecs(day: i32) -> Option<i64> {
    (MIN_TIMESTAMP_DAY..=MAX_TIMESTAMP_DAY)
        .contains(&day)
        .then(|| day as i64 * USECS_PER_DAY)
}

/// Length of an interval in microseconds, with the convention PostgreSQL uses to compare
/// intervals (and `justify_days`): a month is 30 days, a day 24 hours — so '12 months',
/// '1 year' and '360 days' are the same length and '1 year' is a whole number of '1 month'.
pub fn interval_usecs(months: i32, days: i32, usecs: i64) -> f64 {
    (months as f64 * 30.0 + days as f64) * USECS_PER_DAY as f64 + usecs as f64
}

/// The calendar day (days since 2000-01-01) that contains a timestamp given in microseconds
/// since 2000-01-01 00:00 (local wall-clock time).
#[inline]
pub fn day_of(usecs: i64) -> i32 {
    usecs.div_euclid(USECS_PER_DAY) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_units_follow_postgres_interval_comparison() {
        assert_eq!(interval_usecs(0, 7, 0), 7.0 * USECS_PER_DAY as f64);
        assert_eq!(interval_usecs(1, 0, 0), 30.0 * USECS_PER_DAY as f64);
        assert_eq!(interval_usecs(12, 0, 0), 360.0 * USECS_PER_DAY as f64);
        assert_eq!(interval_usecs(12, 0, 0), 12.0 * interval_usecs(1, 0, 0));
        assert_eq!(interval_usecs(0, 0, 3_600_000_000), 3.6e9);
    }

    #[test]
    fn dates_beyond_the_timestamp_range_have_no_microseconds() {
        // PostgreSQL: '4714-11-24 BC' is julian day 0, '294277-01-01' julian day 109203528,
        // 2000-01-01 julian day 2451545
        assert_eq!(MIN_TIMESTAMP_DAY, -2_451_545);
        assert_eq!(MAX_TIMESTAMP_DAY, 109_203_528 - 2_451_545 - 1);
        assert_eq!(checked_date_usecs(0), Some(0));
        assert_eq!(checked_date_usecs(MIN_TIMESTAMP_DAY), Some(MIN_TIMESTAMP));
        assert_eq!(
            checked_date_usecs(MAX_TIMESTAMP_DAY),
            Some(END_TIMESTAMP - USECS_PER_DAY)
        );
        assert!(timestamp_in_range(END_TIMESTAMP - 1) && timestamp_in_range(MIN_TIMESTAMP));
        assert!(!timestamp_in_range(END_TIMESTAMP) && !timestamp_in_range(MIN_TIMESTAMP - 1));
        // 300000-01-05 (the reviewer's example), the date type's last day 5874897-12-31, and
        // the days past the last whole day of an i64 of microseconds: no value, never a wrap
        for day in [
            MAX_TIMESTAMP_DAY + 1,
            106_752_028,
            110_332_848,
            2_147_483_493 - 2_451_545,
            i32::MAX,
            MIN_TIMESTAMP_DAY - 1,
            i32::MIN,
        ] {
            assert_eq!(checked_date_usecs(day), None, "{day}");
        }
    }

    #[test]
    fn day_of_floors_negative_times() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(USECS_PER_DAY - 1), 0);
        assert_eq!(day_of(-1), -1);
        assert_eq!(day_of(-USECS_PER_DAY), -1);
    }
}
