//! Time arithmetic shared by the summaries: PostgreSQL's epoch (2000-01-01), microsecond ticks,
//! and the conversion of an `interval` unit to microseconds.

/// Microseconds per day.
pub const USECS_PER_DAY: i64 = 86_400_000_000;

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
    fn day_of_floors_negative_times() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(USECS_PER_DAY - 1), 0);
        assert_eq!(day_of(-1), -1);
        assert_eq!(day_of(-USECS_PER_DAY), -1);
    }
}
