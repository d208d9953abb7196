//! `customer_tiers`: customer tiering (RFM, ABC, CLV, tiers) inside PostgreSQL.
//!
//! The mathematics lives in the pure-Rust crate `customer_tiers_core`; this crate is the SQL
//! skin: argument checks, type conversion, errors, and the hand-written SQL in `sql/`.

use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

mod abc;
mod bgbb;
mod citus;
mod clv;
mod evaluation;
mod kmeans;
mod numeric;
mod raw;
mod rfm;
mod state;
mod summary;
mod tags;
mod tiers;
mod validation;

// Types and configuration tables first, then the functions pgrx generates, then the
// hand-written functions, aggregates, presets and comments.
extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);
extension_sql_file!("../sql/api.sql", name = "api", finalize);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    include!("tests.rs");
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
