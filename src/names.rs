//! The fields of every composite type of the extension, named once (issue 17): the Rust code
//! reads and builds rows by these tables (their lengths and [`field`] positions), and the
//! `#[pg_test]` `composite_fields_match_the_catalog` checks each table against `pg_attribute`, so
//! a field added, removed or reordered in `sql/` without the Rust side fails the tests.

/// The position of `name` in `fields` (a compile-time error when it is missing, in const use).
pub const fn field(fields: &[&str], name: &str) -> usize {
    let mut i = 0;
    while i < fields.len() {
        if eq(fields[i], name) {
            return i;
        }
        i += 1;
    }
    panic!("no such field");
}

pub(crate) const fn eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `tiers.abc_model` (sql/abc.sql).
pub const ABC_MODEL: [&str; 13] = [
    "method",
    "a_cut",
    "b_cut",
    "a_min",
    "b_min",
    "customers",
    "total",
    "a_customers",
    "b_customers",
    "c_customers",
    "a_value",
    "b_value",
    "c_value",
];

/// `tiers.pareto` (sql/abc.sql).
pub const PARETO: [&str; 11] = [
    "customers",
    "total",
    "net_total",
    "top20_share",
    "gini",
    "a_customers",
    "b_customers",
    "c_customers",
    "a_share",
    "b_share",
    "c_share",
];

/// `tiers.pareto_point` (sql/abc.sql).
pub const PARETO_POINT: [&str; 2] = ["customer_share", "value_share"];

/// `tiers.bgbb_model` (sql/bgbb.sql).
pub const BGBB_MODEL: [&str; 13] = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "log_likelihood",
    "customers",
    "converged",
    "iterations",
    "se_alpha",
    "se_beta",
    "se_gamma",
    "se_delta",
    "covariance",
];

/// `tiers.bgnbd_model` (sql/clv.sql).
pub const BGNBD_MODEL: [&str; 13] = [
    "r",
    "alpha",
    "a",
    "b",
    "log_likelihood",
    "customers",
    "converged",
    "iterations",
    "se_r",
    "se_alpha",
    "se_a",
    "se_b",
    "covariance",
];

/// `tiers.gamma_gamma_model` (sql/clv.sql).
pub const GAMMA_GAMMA_MODEL: [&str; 11] = [
    "p",
    "q",
    "v",
    "log_likelihood",
    "customers",
    "converged",
    "iterations",
    "se_p",
    "se_q",
    "se_v",
    "covariance",
];

/// `tiers.mbgnbd_model` (sql/clv.sql).
pub const MBGNBD_MODEL: [&str; 13] = [
    "r",
    "alpha",
    "a",
    "b",
    "log_likelihood",
    "customers",
    "converged",
    "iterations",
    "se_r",
    "se_alpha",
    "se_a",
    "se_b",
    "covariance",
];

/// `tiers.paretonbd_model` (sql/clv.sql).
pub const PARETONBD_MODEL: [&str; 13] = [
    "r",
    "alpha",
    "s",
    "beta",
    "log_likelihood",
    "customers",
    "converged",
    "iterations",
    "se_r",
    "se_alpha",
    "se_s",
    "se_beta",
    "covariance",
];

/// `tiers.prediction_interval` (sql/clv.sql).
pub const PREDICTION_INTERVAL: [&str; 5] = ["estimate", "low", "high", "se", "level"];

/// `tiers.ab_variant` (sql/evaluation.sql).
pub const AB_VARIANT: [&str; 15] = [
    "variant",
    "is_control",
    "n",
    "mean",
    "sd",
    "method",
    "difference",
    "difference_low",
    "difference_high",
    "lift",
    "lift_low",
    "lift_high",
    "statistic",
    "df",
    "p_value",
];

/// `tiers.nps_result` (sql/evaluation.sql).
pub const NPS_RESULT: [&str; 6] = [
    "n",
    "promoters",
    "passives",
    "detractors",
    "nps",
    "margin_of_error",
];

/// `tiers.nps_comparison` (sql/evaluation.sql).
pub const NPS_COMPARISON: [&str; 5] = [
    "difference",
    "difference_low",
    "difference_high",
    "statistic",
    "p_value",
];

/// `tiers.kmeans_model` (sql/kmeans.sql).
pub const KMEANS_MODEL: [&str; 17] = [
    "k",
    "dimensions",
    "n",
    "distinct_points",
    "centroids",
    "scaled_centroids",
    "standardized",
    "log1p",
    "means",
    "sds",
    "inertia",
    "iterations",
    "converged",
    "sizes",
    "silhouette",
    "silhouette_exact",
    "davies_bouldin",
];

/// `tiers.kmeans_choice` (sql/kmeans.sql).
pub const KMEANS_CHOICE: [&str; 4] = ["k", "inertia", "silhouette", "davies_bouldin"];

/// `tiers.rfm_model` (sql/rfm.sql).
pub const RFM_MODEL: [&str; 8] = [
    "bins",
    "customers",
    "r_breaks",
    "f_breaks",
    "m_breaks",
    "r_mean",
    "f_mean",
    "m_mean",
];

/// `tiers.rfm_score` (sql/rfm.sql).
pub const RFM_SCORE: [&str; 5] = ["r", "f", "m", "score", "segment"];

/// `tiers.customer_summary` (sql/summary.sql).
pub const CUSTOMER_SUMMARY: [&str; 11] = [
    "first_purchase",
    "last_purchase",
    "orders",
    "returns",
    "occasions",
    "frequency",
    "recency",
    "tenure",
    "since_last",
    "monetary_total",
    "monetary",
];

/// `tiers.holdout_summary` (sql/summary.sql).
pub const HOLDOUT_SUMMARY: [&str; 16] = [
    "first_purchase",
    "last_purchase",
    "orders",
    "returns",
    "occasions",
    "frequency",
    "recency",
    "tenure",
    "since_last",
    "monetary_total",
    "monetary",
    "holdout_orders",
    "holdout_occasions",
    "holdout_monetary_total",
    "holdout_monetary",
    "holdout_length",
];

/// `tiers.clv_validation_bucket` (sql/validation.sql).
pub const CLV_VALIDATION_BUCKET: [&str; 5] = [
    "frequency",
    "bucket",
    "customers",
    "mean_actual",
    "mean_expected",
];

/// `tiers.spend_validation` (sql/validation.sql).
pub const SPEND_VALIDATION: [&str; 8] = [
    "customers",
    "mean_expected",
    "mean_actual",
    "mae",
    "rmse",
    "bias",
    "relative_bias",
    "correlation",
];

/// `tiers.clv_validation` (sql/validation.sql).
pub const CLV_VALIDATION: [&str; 14] = [
    "customers",
    "mae",
    "rmse",
    "bias",
    "relative_bias",
    "correlation",
    "total_expected",
    "total_actual",
    "buyers",
    "purchase_share",
    "brier",
    "auc",
    "scored",
    "buckets",
];

/// Every composite type and its fields (for the catalog test).
#[cfg_attr(not(any(test, feature = "pg_test")), allow(dead_code))]
pub const ALL: &[(&str, &[&str])] = &[
    ("abc_model", &ABC_MODEL),
    ("pareto", &PARETO),
    ("pareto_point", &PARETO_POINT),
    ("bgbb_model", &BGBB_MODEL),
    ("bgnbd_model", &BGNBD_MODEL),
    ("gamma_gamma_model", &GAMMA_GAMMA_MODEL),
    ("mbgnbd_model", &MBGNBD_MODEL),
    ("paretonbd_model", &PARETONBD_MODEL),
    ("prediction_interval", &PREDICTION_INTERVAL),
    ("ab_variant", &AB_VARIANT),
    ("nps_result", &NPS_RESULT),
    ("nps_comparison", &NPS_COMPARISON),
    ("kmeans_model", &KMEANS_MODEL),
    ("kmeans_choice", &KMEANS_CHOICE),
    ("rfm_model", &RFM_MODEL),
    ("rfm_score", &RFM_SCORE),
    ("customer_summary", &CUSTOMER_SUMMARY),
    ("holdout_summary", &HOLDOUT_SUMMARY),
    ("clv_validation_bucket", &CLV_VALIDATION_BUCKET),
    ("spend_validation", &SPEND_VALIDATION),
    ("clv_validation", &CLV_VALIDATION),
];
