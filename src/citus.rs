//! Citus: where configuration lookups read from (issue 12).
//!
//! Tier schemes, RFM rule sets and tag rules live in plain tables on every node (the extension
//! is created on every node). Only the coordinator's tables are the configuration: a worker's
//! copy is whatever `CREATE EXTENSION` left there. So on a Citus worker every lookup reads the
//! coordinator's snapshot, published by `tiers.citus_setup()` and by triggers on the
//! configuration tables into the reference table `customer_tiers_citus.configuration`, which
//! Citus writes on every node in the same (two-phase) transaction. A worker without that table
//! raises 55000 instead of answering from its own tables.

use crate::raw::*;
use crate::sql_function;
use pgrx::pg_sys;
use pgrx::prelude::*;

/// The configuration relations a lookup may read; each is published as one row of the
/// snapshot (`kind` = the relation's name).
pub const PUBLISHED: [&str; 5] = [
    "tier_schemes",
    "tier_levels",
    "rfm_rule_sets",
    "rfm_segment_rules",
    "effective_tag_rules",
];

/// The snapshot table on every node of a Citus cluster.
const SNAPSHOT: &str = "customer_tiers_citus.configuration";

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum NodeRole {
    /// Citus is not installed in this database.
    Plain,
    /// The Citus coordinator (node group 0) or a node not yet added to a cluster.
    Coordinator,
    /// A Citus worker: shard queries run here.
    Worker,
}

/// This node's role, from Citus's own catalog `pg_dist_local_group`.
pub fn node_role() -> NodeRole {
    let has_citus = read_only_value::<bool>(
        "SELECT pg_catalog.to_regclass($1) IS NOT NULL",
        &[SqlParam::from("pg_catalog.pg_dist_local_group")],
    );
    if has_citus != Some(true) {
        return NodeRole::Plain;
    }
    // groupid is an integer column; the cast only pins the type the row is read as
    let group = read_only_value::<i32>(
        "SELECT g.groupid::pg_catalog.int4 FROM pg_catalog.pg_dist_local_group AS g",
        &[],
    );
    match group {
        Some(g) if g > 0 => NodeRole::Worker,
        _ => NodeRole::Coordinator,
    }
}

/// Runs a configuration lookup: `build` writes the query given the FROM item of each
/// configuration relation (its argument is a name of [`PUBLISHED`]): `tiers.<name>` on the
/// coordinator and without Citus, the published snapshot of it on a worker. The query's values
/// are `params` (`$1` … `$n`, as in [`read_only_query`]); on a worker the snapshot's `kind`s are
/// further parameters after those, so `build` must not number its own beyond `$n`. Each row is
/// read by `each`, as in [`read_only_query`].
pub fn config_query<R>(
    build: impl Fn(&dyn Fn(&str) -> String) -> String,
    params: &[SqlParam<'_>],
    each: impl FnMut(&Row) -> R,
) -> Vec<R> {
    if node_role() != NodeRole::Worker {
        return read_only_query(&build(&|rel| format!("tiers.{rel}")), params, each);
    }
    let published = read_only_value::<bool>(
        "SELECT pg_catalog.to_regclass($1) IS NOT NULL",
        &[SqlParam::from(SNAPSHOT)],
    );
    if published != Some(true) {
        not_published("the coordinator has not published it (no table customer_tiers_citus.configuration on this node)");
    }
    // the kind of PUBLISHED[k] is parameter $(n + 1 + k), whether the query reads it or not
    let n = params.len();
    let sql = build(&|rel| {
        let k = PUBLISHED
            .iter()
            .position(|p| *p == rel)
            .unwrap_or_else(|| panic!("{rel} is not a published configuration relation"));
        format!(
            "pg_catalog.jsonb_populate_recordset(NULL::tiers.{rel}, \
             (SELECT c.rows FROM {SNAPSHOT} AS c WHERE c.kind OPERATOR(pg_catalog.=) ${}))",
            n + 1 + k
        )
    });
    let all: Vec<SqlParam<'_>> = params
        .iter()
        .map(|p| {
            // SAFETY: the same datum and type as `p`, whose memory outlives this call
            unsafe { SqlParam::new_from_datum(p.datum(), p.oid()) }
        })
        .chain(PUBLISHED.iter().map(|rel| SqlParam::from(*rel)))
        .collect();
    let kinds = format!(
        "SELECT pg_catalog.count(*) FROM {SNAPSHOT} AS c \
         WHERE c.kind OPERATOR(pg_catalog.=) ANY ($1)"
    );
    with_nested_citus_execution(|| {
        let kinds = read_only_value::<i64>(&kinds, &[SqlParam::from(PUBLISHED.to_vec())]);
        if kinds != Some(PUBLISHED.len() as i64) {
            not_published("the snapshot in customer_tiers_citus.configuration is incomplete");
        }
        read_only_query(&sql, &all, each)
    })
}

fn not_published(why: &str) -> ! {
    ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("customer_tiers configuration is not available on this Citus worker: {why}"),
        "Run SELECT tiers.citus_setup() on the coordinator once; it publishes tier schemes, RFM rule sets and tag rules to every node and keeps them in step."
    );
}

/// Runs `f` with `citus.allow_nested_distributed_execution` on, restored afterwards (also on
/// error, by the transaction's GUC stack). Citus refuses any query on a Citus table inside a shard
/// query; the snapshot is a reference table with a placement on this node, so reading it is a
/// local read of a table that is identical on every node, not the nested distributed query that
/// setting guards against.
fn with_nested_citus_execution<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: NewGUCNestLevel/set_config_option/AtEOXact_GUC are PostgreSQL's documented way to
    // set a variable for the duration of a call (as a function's SET clause does); the nest
    // level is popped on success below and by transaction/subtransaction abort on error.
    unsafe {
        let level = pg_sys::NewGUCNestLevel();
        pg_sys::set_config_option(
            c"citus.allow_nested_distributed_execution".as_ptr(),
            c"on".as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            0,
            false,
        );
        let out = f();
        pg_sys::AtEOXact_GUC(true, level);
        out
    }
}

// tiers.citus_node_role() -> text: 'none', 'coordinator' or 'worker'.
sql_function!(ct_citus_node_role, |_fcinfo| {
    let role = match node_role() {
        NodeRole::Plain => "none",
        NodeRole::Coordinator => "coordinator",
        NodeRole::Worker => "worker",
    };
    text_datum(role)
});
