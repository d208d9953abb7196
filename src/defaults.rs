//! The defaults of the extension, one constant each: the value an argument takes when a call
//! leaves it out, whether an overload without it supplies it here in Rust or a `DEFAULT` clause
//! of `sql/*.sql` does, and the defaults of a tier view's options (`tiers.tier_view_options`).
//!
//! The SQL text cannot name these constants, so it repeats the values; the `#[pg_test]`
//! `defaults_match_the_catalog` (src/tests.rs) reads every default of the extension's functions
//! and of `tiers.tier_view_options('{}')` from the database and checks it against this module
//! (a new default must be added to its table). A default the core also uses is defined there and
//! referred to here.
//!
//! Intervals are given as months and days, as they are written in SQL ('1 month' is not
//! '30 days' to PostgreSQL's text form, although both are 30 days long to the summaries).

// the constants of SQL DEFAULT clauses and view options are read by the catalog test only
#![cfg_attr(not(any(test, feature = "pg_test")), allow(dead_code))]

use customer_tiers_core::time::USECS_PER_DAY;

// ------------------------------------------------------------------ supplied by Rust overloads

/// Bins (quantile groups) of `rfm_model(since_last, frequency, monetary)` without `bins`, and
/// the option `bins` of a tier view.
pub const BINS: i32 = 5;

/// Cut-off of class A: `abc_model(value)` / `abc_model(value, convention)`, `pareto`, the
/// `a_cut` of `abc_class(cumulative_share)` and the option `abc_a_cut` of a tier view.
pub const A_CUT: f64 = customer_tiers_core::abc::DEFAULT_A_CUT;

/// Cut-off of class B: as [`A_CUT`], for `b_cut` and the option `abc_b_cut`.
pub const B_CUT: f64 = customer_tiers_core::abc::DEFAULT_B_CUT;

/// Points of `pareto_curve(value)` without `points`.
pub const PARETO_POINTS: u32 = 101;

/// The summaries' time unit in days: `customer_summary`/`calibration_summary` without `unit`,
/// the `unit` of `summary_from_state` and the option `unit` of a tier view ('1 day').
pub const UNIT_DAYS: i32 = 1;

/// [`UNIT_DAYS`] in microseconds, as the summaries count time.
pub const UNIT_USECS: f64 = UNIT_DAYS as f64 * USECS_PER_DAY as f64;

/// Weight of a row in the BG/NBD, MBG/NBD, Pareto/NBD, Gamma-Gamma and BG/BB fits without
/// `weight`.
pub const WEIGHT: f64 = 1.0;

/// L2 penalizer of those fits without `penalizer` (none).
pub const PENALIZER: f64 = 0.0;

/// RFM rule set of `rfm_segment(r, f, m)` and `rfm_score` without `rule_set`, and the option
/// `rule_set` of a tier view.
pub const RULE_SET: &str = "standard";

/// Language of `rfm_class8` (and the option `class8_lang` of a tier view) when neither `lang`
/// nor the setting `customer_tiers.language` gives one.
pub const CLASS8_LANG: &str = "zh";

/// Language of `kmeans_label` when neither `lang` nor the setting gives one.
pub const KMEANS_LABEL_LANG: &str = "zh";

/// Language of `customer_tags` when neither `lang` nor the setting gives one.
pub const CUSTOMER_TAGS_LANG: &str = "en";

// ------------------------------------------------------- SQL DEFAULT clauses (checked only)

/// Confidence level of the `*_interval` functions (`level`).
pub const LEVEL: f64 = 0.9;

/// Discount period of `clv_estimate`/`clv_interval` in months (`discount_period`, '1 month').
pub const DISCOUNT_PERIOD_MONTHS: i32 = 1;

/// Opportunities ahead of BG/BB `p_alive` (`periods_ahead`): alive for the next one.
pub const PERIODS_AHEAD: i32 = 1;

/// Cohort period of `cohort_retention` in months (`period`, '1 month').
pub const COHORT_PERIOD_MONTHS: i32 = 1;

/// `define_tier_scheme`'s `lowest_is_floor`.
pub const LOWEST_IS_FLOOR: bool = true;

/// `tune_tag`'s `enabled`.
pub const TAG_ENABLED: bool = true;

/// `refresh_tier_view`'s `wait`.
pub const REFRESH_WAIT: bool = true;

/// `refresh_tier_view`'s `full`: an incremental view folds only the new orders.
pub const REFRESH_FULL: bool = false;

// ------------------------------------------------------------- tier view options (checked only)

/// Option `tier_value`: the summary column tiers are assigned by.
pub const VIEW_TIER_VALUE: &str = "monetary_total";

/// Option `history`: record tier changes in `tiers.tier_history`.
pub const VIEW_HISTORY: bool = true;

/// Option `clv`: no CLV columns.
pub const VIEW_CLV: bool = false;

/// Option `clv_horizon` in months ('12 months').
pub const VIEW_CLV_HORIZON_MONTHS: i32 = 12;

/// Option `clv_discount`: the discount rate per month.
pub const VIEW_CLV_DISCOUNT: f64 = 0.01;

/// Option `recent_window` in days ('90 days').
pub const VIEW_RECENT_WINDOW_DAYS: i32 = 90;

/// Option `schema`: where the view is created.
pub const VIEW_SCHEMA: &str = "public";

/// Option `clv_within`.
pub const VIEW_CLV_WITHIN: bool = false;
