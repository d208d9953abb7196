//! `#[pg_test]` integration tests: run inside a real PostgreSQL by `cargo pgrx test`.
use pgrx::prelude::*;

#[pg_test]
fn summary_of_one_customer() {
    let freq = Spi::get_one::<i64>(
        "SELECT (tiers.customer_summary(d, a, date '2020-01-31')).frequency \
         FROM (VALUES (date '2020-01-01', 1.0::float8), ('2020-01-01', 2), ('2020-01-05', 3)) v(d, a)",
    );
    assert_eq!(freq, Ok(Some(1)));
}
