//! Quantiles exactly as PostgreSQL's `percentile_cont` computes them, and bin scoring.

use crate::CoreError;

/// `percentile_cont(p) WITHIN GROUP (ORDER BY x)` over `sorted` (ascending, no NaN, not empty),
/// reproducing PostgreSQL's arithmetic bit for bit: row position `p * (n - 1)`, linear
/// interpolation `lo + (pos - floor(pos)) * (hi - lo)`.
pub fn percentile_cont_sorted(sorted: &[f64], p: f64) -> f64 {
    debug_assert!(!sorted.is_empty());
    let pos = p * (sorted.len() - 1) as f64;
    let first = pos.floor();
    let second = pos.ceil();
    let lo = sorted[first as usize];
    if first == second {
        return lo;
    }
    let hi = sorted[second as usize];
    lo + (pos - first) * (hi - lo)
}

/// The `bins − 1` inner breakpoints: the `k / bins` quantiles, `k = 1 .. bins − 1`.
pub fn breakpoints(sorted: &[f64], bins: usize) -> Vec<f64> {
    (1..bins)
        .map(|k| percentile_cont_sorted(sorted, k as f64 / bins as f64))
        .collect()
}

/// A sorted copy of `values`, which must be free of NaN.
pub fn sorted_copy(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(|a, b| a.partial_cmp(b).expect("NaN is rejected before sorting"));
    sorted
}

/// Number of breakpoints strictly below `value`.
#[inline]
pub fn below(breaks: &[f64], value: f64) -> usize {
    breaks.partition_point(|&b| b < value)
}

/// Score where larger is better (frequency, monetary): `1 + #breaks < value`.
#[inline]
pub fn score_up(breaks: &[f64], value: f64) -> u8 {
    1 + below(breaks, value) as u8
}

/// Score where smaller is better (recency as time since the last purchase):
/// `bins − #breaks < value`.
#[inline]
pub fn score_down(breaks: &[f64], value: f64) -> u8 {
    (breaks.len() + 1 - below(breaks, value)) as u8
}

/// Validates a bin count.
pub fn check_bins(bins: i32) -> Result<usize, CoreError> {
    if (2..=10).contains(&bins) {
        Ok(bins as usize)
    } else {
        Err(CoreError::OutOfRange(format!(
            "bins must be between 2 and 10, got {bins}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hand_computed_percentile_cont() {
        // percentile_cont(0.25) over 1,2,3,4 = 1.75 ; (0.5) = 2.5 ; single value -> itself
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile_cont_sorted(&v, 0.25), 1.75);
        assert_eq!(percentile_cont_sorted(&v, 0.5), 2.5);
        assert_eq!(percentile_cont_sorted(&v, 0.0), 1.0);
        assert_eq!(percentile_cont_sorted(&v, 1.0), 4.0);
        assert_eq!(percentile_cont_sorted(&[7.0], 0.8), 7.0);
        assert_eq!(
            breakpoints(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 5),
            vec![2.0, 3.0, 4.0, 5.0]
        );
    }

    #[test]
    fn scores_share_ties_and_respect_direction() {
        let breaks = [2.0, 4.0, 6.0, 8.0];
        assert_eq!(score_up(&breaks, 1.0), 1);
        assert_eq!(score_up(&breaks, 2.0), 1); // not strictly above 2
        assert_eq!(score_up(&breaks, 2.5), 2);
        assert_eq!(score_up(&breaks, 100.0), 5);
        assert_eq!(score_down(&breaks, 0.0), 5);
        assert_eq!(score_down(&breaks, 2.0), 5);
        assert_eq!(score_down(&breaks, 9.0), 1);
        // all equal values: everyone the same score
        let flat = breakpoints(&[3.0; 10], 5);
        assert_eq!(score_up(&flat, 3.0), 1);
        assert_eq!(score_down(&flat, 3.0), 5);
    }

    #[test]
    fn bins_are_checked() {
        assert!(check_bins(1).is_err());
        assert!(check_bins(11).is_err());
        assert_eq!(check_bins(5), Ok(5));
    }
}
