//! `customer_tiers`: customer tiering (RFM, ABC, CLV, tiers) inside PostgreSQL.
//!
//! The mathematics lives in the pure-Rust crate `customer_tiers_core`; this crate is the SQL
//! skin: argument checks, type conversion, errors, and the hand-written SQL in `sql/`.

use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

mod abc;
pub(crate) mod args;
mod bgbb;
mod citus;
mod clv;
pub(crate) mod defaults;
mod evaluation;
mod kmeans;
mod language;
mod legacy;
pub(crate) mod names;
mod numeric;
mod raw;
mod rfm;
mod state;
mod summary;
mod tags;
mod tiers;
mod validation;

// The hand-written SQL, one file per area of sql/ (mirroring the modules here and in the core),
// in this order: the schema first, then each area with its types, tables, functions, aggregates,
// presets and comments (every COMMENT under its CREATE), access control last. The few functions
// pgrx generates (#[pg_extern]) come between the schema and the areas that use them.
extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
extension_sql_file!(
    "../sql/summary.sql",
    name = "summary",
    requires = ["schema"]
);
extension_sql_file!(
    "../sql/rfm.sql",
    name = "rfm",
    requires = ["summary", rfm::rfm_preset_rules, rfm::rfm_rule_check]
);
extension_sql_file!("../sql/abc.sql", name = "abc", requires = ["rfm"]);
extension_sql_file!(
    "../sql/clv.sql",
    name = "clv",
    requires = ["abc", clv::clv_estimate_infinite, clv::clv_estimate_periods]
);
extension_sql_file!("../sql/bgbb.sql", name = "bgbb", requires = ["clv"]);
extension_sql_file!(
    "../sql/validation.sql",
    name = "validation",
    requires = ["bgbb"]
);
extension_sql_file!(
    "../sql/tiers.sql",
    name = "tiers",
    requires = ["validation"]
);
extension_sql_file!(
    "../sql/tags.sql",
    name = "tags",
    requires = ["tiers", tags::tag_columns, tags::tag_presets]
);
extension_sql_file!(
    "../sql/evaluation.sql",
    name = "evaluation",
    requires = ["tags"]
);
extension_sql_file!(
    "../sql/kmeans.sql",
    name = "kmeans",
    requires = ["evaluation"]
);
extension_sql_file!(
    "../sql/tier_views.sql",
    name = "tier_views",
    requires = ["kmeans"]
);
extension_sql_file!(
    "../sql/citus.sql",
    name = "citus",
    requires = ["tier_views"]
);
extension_sql_file!("../sql/security.sql", name = "security", finalize);

/// Defines the setting `customer_tiers.language` when the library is loaded (it was a
/// placeholder setting before 0.3.0's language work, read through `current_setting` by every
/// call): a real setting can be checked when it is set and read per row without a lookup.
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    language::define_setting();
}

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
