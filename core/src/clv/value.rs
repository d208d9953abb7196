//! Customer value: discounted CLV from a purchase model and the classic CLV formula.

use super::*;

/// Discounted expected value of a customer over a horizon, from a purchase model and an
/// expected spend: the horizon is cut into `steps` discount periods of `period` time units each;
/// period k contributes `spend · (E[X(k·period)] − E[X((k−1)·period)]) / (1 + discount_rate)^k`,
/// where `cumulative(t)` is the model's expected number of purchases within t units.
pub fn discounted_clv(
    cumulative: &dyn Fn(f64) -> f64,
    spend: f64,
    period: f64,
    steps: u32,
    discount_rate: f64,
) -> f64 {
    let mut value = 0.0;
    let mut before = 0.0;
    for k in 1..=steps {
        let now = cumulative(k as f64 * period);
        value += spend * (now - before) / (1.0 + discount_rate).powi(k as i32);
        before = now;
    }
    value
}

/// The classic CLV formula: margin per period `m = avg_order_value · purchases_per_period ·
/// margin`, a customer active in period t (t = 1, 2, …) with probability
/// `retention_rate^(t−1)`, cash at the end of each period discounted by `(1 + discount_rate)^t`:
/// `Σ_{t=1..periods} m r^(t−1) / (1+d)^t`, and for an infinite horizon `m / (1 + d − r)`.
pub fn simple_clv(
    avg_order_value: f64,
    purchases_per_period: f64,
    margin: f64,
    retention_rate: f64,
    discount_rate: f64,
    periods: Option<i64>,
) -> Result<f64, CoreError> {
    let bad = |m: String| Err(CoreError::InvalidParameter(m));
    for (name, v) in [
        ("avg_order_value", avg_order_value),
        ("purchases_per_period", purchases_per_period),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return bad(format!("{name} must be a finite number >= 0, got {v}"));
        }
    }
    if !(0.0..=1.0).contains(&margin) {
        return bad(format!("margin must be between 0 and 1, got {margin}"));
    }
    if !(0.0..=1.0).contains(&retention_rate) {
        return bad(format!(
            "retention_rate must be between 0 and 1, got {retention_rate}"
        ));
    }
    if !(discount_rate.is_finite() && discount_rate >= 0.0) {
        return bad(format!(
            "discount_rate must be a finite number >= 0, got {discount_rate}"
        ));
    }
    let m = avg_order_value * purchases_per_period * margin;
    let q = retention_rate / (1.0 + discount_rate);
    let finite = |v: f64| {
        if v.is_finite() {
            Ok(v)
        } else {
            Err(CoreError::OutOfRange(
                "the CLV exceeds the range of double precision".into(),
            ))
        }
    };
    match periods {
        Some(n) if n < 1 => bad(format!("periods must be >= 1, got {n}")),
        Some(n) => {
            // geometric sum m/(1+d) · (1 − q^n)/(1 − q), or n terms when q = 1
            let sum = if q == 1.0 {
                n as f64
            } else {
                (1.0 - q.powf(n as f64)) / (1.0 - q)
            };
            finite(m / (1.0 + discount_rate) * sum)
        }
        None if q >= 1.0 => Err(CoreError::OutOfRange(
            "the infinite-horizon CLV diverges when retention_rate >= 1 + discount_rate".into(),
        )),
        None => finite(m / (1.0 + discount_rate - retention_rate)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_is_an_error_in_both_forms() {
        // fuzzing found the finite horizon returning Infinity where the infinite one raised
        assert!(matches!(
            simple_clv(1e300, 1e300, 1.0, 1.0, 0.0, Some(10)),
            Err(CoreError::OutOfRange(_))
        ));
        assert!(matches!(
            simple_clv(1e300, 1e300, 1.0, 0.5, 0.0, None),
            Err(CoreError::OutOfRange(_))
        ));
        assert_eq!(
            simple_clv(100.0, 1.0, 0.5, 0.0, 0.0, Some(3)).unwrap(),
            50.0
        );
    }
}
