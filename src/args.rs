//! The arguments of every SQL function implemented with [`sql_function!`](crate::sql_function),
//! named once (issue 17): one table per SQL function, or per family of overloads that share
//! their arguments' names and positions (the shorter overloads leave out trailing arguments).
//! The Rust code reads each argument through a constant of its table, an [`Arg`] that carries
//! the position and the name together (`args::clv_estimate::UNIT`), so the position read and
//! the name in an error message cannot disagree; the `#[pg_test]`
//! `function_arguments_match_the_catalog` checks every table against `pg_proc`, and that every C
//! function of the extension is covered by a table or listed in [`NO_NAMED_ARGS`] or [`PGRX`].
//!
//! An aggregate's table holds the aggregate's own arguments (`CREATE AGGREGATE name(args)`); its
//! transition function (declared without argument names) receives the state first, so the
//! aggregate's argument `i` is the transition function's argument `i + 1`: [`Kind::Aggregate`]
//! adds that offset ([`Args::arg`]), and [`STATE`] is argument 0.

/// What a table describes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// An SQL function: argument `i` of the table is argument `i` of the call.
    Function,
    /// An aggregate: argument `i` of the table is argument `i + 1` of its transition function
    /// (argument 0 is the state).
    Aggregate,
}

/// One argument as the C function reads it: its position in `fcinfo` and its SQL name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Arg {
    /// The position in the call's arguments (`fcinfo->args`).
    pub pos: usize,
    /// The SQL name (of the function's, or the aggregate's, argument).
    pub name: &'static str,
}

/// The state argument of an aggregate's transition, combine, serialize and final functions
/// (and the serialized state of a deserialize function): argument 0, unnamed in SQL.
pub const STATE: Arg = Arg {
    pos: 0,
    name: "state",
};

/// The second state of a combine function: argument 1, unnamed in SQL.
pub const OTHER_STATE: Arg = Arg {
    pos: 1,
    name: "other state",
};

/// The arguments of an SQL function or aggregate (or a family of overloads).
#[derive(Debug)]
pub struct Args {
    /// The SQL names (in schema `tiers`) the table describes: several for overloads of different
    /// names that share one C function (`bgnbd_fit`, `mbgnbd_fit` and `paretonbd_fit`).
    #[cfg_attr(not(any(test, feature = "pg_test")), allow(dead_code))]
    pub sql: &'static [&'static str],
    pub kind: Kind,
    /// The C symbols that read these arguments (`prosrc`): for an aggregate, its transition
    /// functions.
    #[cfg_attr(not(any(test, feature = "pg_test")), allow(dead_code))]
    pub symbols: &'static [&'static str],
    /// The argument names, in order (the longest overload; shorter ones are prefixes).
    pub names: &'static [&'static str],
}

impl Args {
    /// The position of the table's first argument in the C function's arguments.
    pub const fn offset(&self) -> usize {
        match self.kind {
            Kind::Function => 0,
            Kind::Aggregate => 1,
        }
    }

    /// The argument `name` (a compile-time error when the table has none, in const use).
    pub const fn arg(&self, name: &'static str) -> Arg {
        Arg {
            pos: self.offset() + crate::names::field(self.names, name),
            name,
        }
    }

    /// Whether the names are distinct (each argument named once).
    pub const fn distinct(&self) -> bool {
        let mut i = 0;
        while i < self.names.len() {
            let mut j = i + 1;
            while j < self.names.len() {
                if crate::names::eq(self.names[i], self.names[j]) {
                    return false;
                }
                j += 1;
            }
            i += 1;
        }
        true
    }

    /// Whether this table's arguments start with all of `other`'s, at the same positions (a C
    /// function written against `other`'s constants may then read this table's calls too).
    pub const fn extends(&self, other: &Args) -> bool {
        if self.offset() != other.offset() || self.names.len() < other.names.len() {
            return false;
        }
        let mut i = 0;
        while i < other.names.len() {
            if !crate::names::eq(self.names[i], other.names[i]) {
                return false;
            }
            i += 1;
        }
        true
    }
}

/// Declares the tables: `module: Kind [sql names] [symbols] (argument names);` makes a module
/// with `ARGS` (the [`Args`]) and one [`Arg`] constant per argument, named in upper case
/// (`clv_estimate::DISCOUNT_RATE`); [`ALL`] lists the tables.
macro_rules! tables {
    ($(
        $(#[$doc:meta])*
        $module:ident: $kind:ident [$($sql:literal),+] [$($symbol:ident),+ $(,)?] ($($name:ident),+ $(,)?);
    )*) => {
        $(
            $(#[$doc])*
            #[allow(dead_code)] // not every argument is read by name (some only by count)
            pub mod $module {
                use super::{Arg, Args, Kind};

                /// The table.
                pub const ARGS: Args = Args {
                    sql: &[$($sql),+],
                    kind: Kind::$kind,
                    symbols: &[$(stringify!($symbol)),+],
                    names: &[$(stringify!($name)),+],
                };
                const _: () = assert!(ARGS.distinct(), "an argument named twice");

                ::paste::paste! {
                    $(
                        #[doc = concat!("`", stringify!($name), "`")]
                        pub const [<$name:upper>]: Arg = ARGS.arg(stringify!($name));
                    )+
                }
            }
        )*

        /// Every table (for the catalog test).
        #[cfg_attr(not(any(test, feature = "pg_test")), allow(dead_code))]
        pub const ALL: &[&Args] = &[$(&$module::ARGS),*];
    };
}

tables! {
    // ------------------------------------------------------------------ sql/summary.sql
    /// `customer_summary(ordered_at, amount, as_of [, unit])`.
    customer_summary: Aggregate ["customer_summary"] [
        ct_customer_summary_trans_date_f8, ct_customer_summary_trans_date_num,
        ct_customer_summary_trans_ts_f8, ct_customer_summary_trans_ts_num,
        ct_customer_summary_trans_tstz_f8, ct_customer_summary_trans_tstz_num,
        ct_customer_summary_trans_date_f8_unit, ct_customer_summary_trans_date_num_unit,
        ct_customer_summary_trans_ts_f8_unit, ct_customer_summary_trans_ts_num_unit,
        ct_customer_summary_trans_tstz_f8_unit, ct_customer_summary_trans_tstz_num_unit,
    ] (ordered_at, amount, as_of, unit);
    /// `holdout_summary(ordered_at, amount, calibration_end, holdout_end [, unit])`.
    holdout_summary: Aggregate ["holdout_summary"] [
        ct_holdout_summary_trans_date_f8, ct_holdout_summary_trans_date_num,
        ct_holdout_summary_trans_ts_f8, ct_holdout_summary_trans_ts_num,
        ct_holdout_summary_trans_tstz_f8, ct_holdout_summary_trans_tstz_num,
        ct_holdout_summary_trans_date_f8_unit, ct_holdout_summary_trans_date_num_unit,
        ct_holdout_summary_trans_ts_f8_unit, ct_holdout_summary_trans_ts_num_unit,
        ct_holdout_summary_trans_tstz_f8_unit, ct_holdout_summary_trans_tstz_num_unit,
    ] (ordered_at, amount, calibration_end, holdout_end, unit);
    /// `summary_state(ordered_at, amount)`.
    summary_state: Aggregate ["summary_state"] [
        ct_summary_state_trans_date_f8, ct_summary_state_trans_date_num,
        ct_summary_state_trans_ts_f8, ct_summary_state_trans_ts_num,
        ct_summary_state_trans_tstz_f8, ct_summary_state_trans_tstz_num,
    ] (ordered_at, amount);
    /// The aggregate `summary_state_merge(state)`.
    summary_state_merge_agg: Aggregate ["summary_state_merge"] [ct_summary_state_merge_trans] (state);
    /// The function `summary_state_merge(a, b)`.
    summary_state_merge: Function ["summary_state_merge"] [ct_summary_state_merge] (a, b);
    /// `summary_from_state(state, as_of [, unit])`.
    summary_from_state: Function ["summary_from_state"] [
        ct_summary_from_state_date, ct_summary_from_state_ts, ct_summary_from_state_tstz,
    ] (state, as_of, unit);

    // ---------------------------------------------------------------------- sql/rfm.sql
    /// `rfm_model(since_last, frequency, monetary [, bins])`.
    rfm_model: Aggregate ["rfm_model"] [ct_rfm_model_trans, ct_rfm_model_trans_bins]
        (since_last, frequency, monetary, bins);
    /// `rfm_score(since_last, frequency, monetary, model [, rule_set])`.
    rfm_score: Function ["rfm_score"] [ct_rfm_score, ct_rfm_score_rules]
        (since_last, frequency, monetary, model, rule_set);
    /// `rfm_segment(r, f, m [, rule_set])`.
    rfm_segment: Function ["rfm_segment"] [ct_rfm_segment] (r, f, m, rule_set);
    /// `rfm_class8(since_last, frequency, monetary, model [, lang])`.
    rfm_class8: Function ["rfm_class8"] [ct_rfm_class8] (since_last, frequency, monetary, model, lang);

    // ---------------------------------------------------------------------- sql/abc.sql
    /// `abc_model(value [, a_cut, b_cut [, convention]])` and `pareto(value)`.
    abc_model: Aggregate ["abc_model", "pareto"] [ct_abc_trans, ct_abc_trans_cuts, ct_abc_trans_conv]
        (value, a_cut, b_cut, convention);
    /// `abc_model(value, convention)`.
    abc_model_convention: Aggregate ["abc_model"] [ct_abc_trans_method] (value, convention);
    /// `pareto_curve(value [, points])`.
    pareto_curve: Aggregate ["pareto_curve"] [ct_pareto_curve_trans, ct_pareto_curve_trans_points]
        (value, points);
    /// `abc_class(cumulative_share, a_cut, b_cut)`.
    abc_class_share: Function ["abc_class"] [ct_abc_class_share] (cumulative_share, a_cut, b_cut);
    /// `abc_class(value, model)`.
    abc_class_model: Function ["abc_class"] [ct_abc_class_model] (value, model);

    // ---------------------------------------------------------------------- sql/clv.sql
    /// `bgnbd_fit`, `mbgnbd_fit`, `paretonbd_fit(frequency, recency, tenure [, weight
    /// [, penalizer]])`.
    purchase_fit: Aggregate ["bgnbd_fit", "mbgnbd_fit", "paretonbd_fit"] [ct_bgnbd_trans]
        (frequency, recency, tenure, weight, penalizer);
    /// `gamma_gamma_fit(frequency, monetary [, weight [, penalizer]])`.
    gamma_gamma_fit: Aggregate ["gamma_gamma_fit"] [ct_gamma_gamma_trans]
        (frequency, monetary, weight, penalizer);
    /// `p_alive(model, frequency, recency, tenure)` of the BG/NBD, MBG/NBD and Pareto/NBD models.
    p_alive: Function ["p_alive"] [ct_bgnbd_p_alive, ct_mbgnbd_p_alive, ct_paretonbd_p_alive]
        (model, frequency, recency, tenure);
    /// `expected_purchases(model, horizon [, frequency, recency, tenure])` of the same models.
    expected_purchases: Function ["expected_purchases"] [
        ct_bgnbd_expected_purchases, ct_mbgnbd_expected_purchases, ct_paretonbd_expected_purchases,
        ct_bgnbd_expected_purchases_new, ct_mbgnbd_expected_purchases_new,
        ct_paretonbd_expected_purchases_new,
    ] (model, horizon, frequency, recency, tenure);
    /// `expected_spend(model, frequency, monetary)`.
    expected_spend: Function ["expected_spend"] [ct_gamma_gamma_expected_spend]
        (model, frequency, monetary);
    /// `clv_estimate(purchase_model, gg_model, frequency, recency, tenure, monetary, horizon,
    /// discount_rate, unit, discount_period)`.
    clv_estimate: Function ["clv_estimate"] [
        ct_bgnbd_clv_estimate, ct_mbgnbd_clv_estimate, ct_paretonbd_clv_estimate,
    ] (purchase_model, gg_model, frequency, recency, tenure, monetary, horizon, discount_rate,
       unit, discount_period);
    /// `expected_purchases_interval(model, horizon, frequency, recency, tenure, level)`.
    expected_purchases_interval: Function ["expected_purchases_interval"] [
        ct_bgnbd_expected_purchases_interval, ct_mbgnbd_expected_purchases_interval,
        ct_paretonbd_expected_purchases_interval,
    ] (model, horizon, frequency, recency, tenure, level);
    /// `clv_interval(` the arguments of `clv_estimate` `, level)`.
    clv_interval: Function ["clv_interval"] [
        ct_bgnbd_clv_interval, ct_mbgnbd_clv_interval, ct_paretonbd_clv_interval,
    ] (purchase_model, gg_model, frequency, recency, tenure, monetary, horizon, discount_rate,
       unit, discount_period, level);
    /// `probability_of_purchases(model, n, t [, frequency, recency, tenure])`.
    probability_of_purchases: Function ["probability_of_purchases"] [
        ct_bgnbd_probability_of_purchases, ct_mbgnbd_probability_of_purchases,
        ct_paretonbd_probability_of_purchases,
    ] (model, n, t, frequency, recency, tenure);
    /// `churn_probability(model, t, frequency, recency, tenure)`.
    churn_probability: Function ["churn_probability"] [
        ct_bgnbd_churn_probability, ct_mbgnbd_churn_probability, ct_paretonbd_churn_probability,
    ] (model, t, frequency, recency, tenure);

    // --------------------------------------------------------------------- sql/bgbb.sql
    /// `bgbb_fit(frequency, recency, n_periods [, weight [, penalizer]])`.
    bgbb_fit: Aggregate ["bgbb_fit"] [ct_bgbb_trans]
        (frequency, recency, n_periods, weight, penalizer);
    /// `p_alive(model tiers.bgbb_model, frequency, recency, n_periods, periods_ahead)`.
    bgbb_p_alive: Function ["p_alive"] [ct_bgbb_p_alive]
        (model, frequency, recency, n_periods, periods_ahead);
    /// `expected_purchases(model tiers.bgbb_model, periods [, frequency, recency, n_periods])`.
    bgbb_expected_purchases: Function ["expected_purchases"] [
        ct_bgbb_expected_purchases, ct_bgbb_expected_purchases_new,
    ] (model, periods, frequency, recency, n_periods);
    /// `expected_purchases_interval(model tiers.bgbb_model, periods, frequency, recency,
    /// n_periods, level)`.
    bgbb_expected_purchases_interval: Function ["expected_purchases_interval"] [
        ct_bgbb_expected_purchases_interval,
    ] (model, periods, frequency, recency, n_periods, level);
    /// `probability_of_purchases(model tiers.bgbb_model, n, periods [, frequency, recency,
    /// n_periods])`.
    bgbb_probability_of_purchases: Function ["probability_of_purchases"] [
        ct_bgbb_probability_of_purchases,
    ] (model, n, periods, frequency, recency, n_periods);
    /// `churn_probability(model tiers.bgbb_model, periods, frequency, recency, n_periods)`.
    bgbb_churn_probability: Function ["churn_probability"] [ct_bgbb_churn_probability]
        (model, periods, frequency, recency, n_periods);

    // --------------------------------------------------------------- sql/validation.sql
    /// `clv_validation(model, frequency, recency, tenure, holdout_occasions, holdout_length)` of
    /// the BG/NBD, MBG/NBD and Pareto/NBD models.
    clv_validation: Aggregate ["clv_validation"] [
        ct_bgnbd_clv_validation_trans, ct_mbgnbd_clv_validation_trans,
        ct_paretonbd_clv_validation_trans,
    ] (model, frequency, recency, tenure, holdout_occasions, holdout_length);
    /// `clv_validation(model tiers.bgbb_model, frequency, recency, n_periods,
    /// holdout_occasions, holdout_length)`.
    bgbb_clv_validation: Aggregate ["clv_validation"] [ct_bgbb_clv_validation_trans]
        (model, frequency, recency, n_periods, holdout_occasions, holdout_length);
    /// `clv_validation(model tiers.gamma_gamma_model, frequency, monetary, holdout_monetary)`.
    spend_validation: Aggregate ["clv_validation"] [ct_clv_validation_spend_trans]
        (model, frequency, monetary, holdout_monetary);

    // -------------------------------------------------------------------- sql/tiers.sql
    /// `tier_of(value, scheme [, previous_tier [, grace_used]])`.
    tier_of: Function ["tier_of"] [ct_tier_of, ct_tier_of_previous, ct_tier_of_grace]
        (value, scheme, previous_tier, grace_used);
    /// `tier_of(value, thresholds, names)`.
    tier_of_inline: Function ["tier_of"] [ct_tier_of_inline] (value, thresholds, names);
    /// `define_tier_scheme(scheme, tiers, max_drop, lowest_is_floor, description,
    /// grace_evaluations)`.
    define_tier_scheme: Function ["define_tier_scheme"] [ct_define_tier_scheme]
        (scheme, tiers, max_drop, lowest_is_floor, description, grace_evaluations);

    // --------------------------------------------------------------------- sql/tags.sql
    /// `tag_rule_check(expression, params)`.
    tag_rule_check: Function ["tag_rule_check"] [ct_tag_rule_check] (expression, params);
    /// `customer_tags(customer, tags, lang)`.
    customer_tags: Function ["customer_tags"] [ct_customer_tags] (customer, tags, lang);

    // --------------------------------------------------------------- sql/evaluation.sql
    /// `ab_test(variant, outcome [, control])`.
    ab_test: Aggregate ["ab_test"] [ct_ab_test_trans] (variant, outcome, control);
    /// `holm(p)`.
    holm: Function ["holm"] [ct_holm] (p);
    /// `nps(score)`.
    nps: Aggregate ["nps"] [ct_nps_trans] (score);
    /// `nps_compare(a, b)`.
    nps_compare: Function ["nps_compare"] [ct_nps_compare] (a, b);
    /// `ab_assign(customer, experiment, shares [, variants])`.
    ab_assign: Function ["ab_assign"] [ct_ab_assign] (customer, experiment, shares, variants);

    // ------------------------------------------------------------------- sql/kmeans.sql
    /// `kmeans_model(features, k [, options])`.
    kmeans_model: Aggregate ["kmeans_model"] [ct_kmeans_model_trans] (features, k, options);
    /// `kmeans_choose_k(features, k_min, k_max [, options])`.
    kmeans_choose_k: Aggregate ["kmeans_choose_k"] [ct_kmeans_choose_k_trans]
        (features, k_min, k_max, options);
    /// `kmeans_assign(features, model)`.
    kmeans_assign: Function ["kmeans_assign"] [ct_kmeans_assign] (features, model);
    /// `kmeans_label(model, cluster, lang)`.
    kmeans_label: Function ["kmeans_label"] [ct_kmeans_label] (model, cluster, lang);
}

// `clv_interval`'s arguments are `clv_estimate`'s and a level: one reader serves both.
const _: () = assert!(clv_interval::ARGS.extends(&clv_estimate::ARGS));
// The model and the holdout of `clv_validation` are at the same positions for all models (one
// reader, `holdout` in src/validation.rs, serves them).
const _: () = assert!(
    bgbb_clv_validation::MODEL.pos == clv_validation::MODEL.pos
        && bgbb_clv_validation::HOLDOUT_OCCASIONS.pos == clv_validation::HOLDOUT_OCCASIONS.pos
        && bgbb_clv_validation::HOLDOUT_LENGTH.pos == clv_validation::HOLDOUT_LENGTH.pos
);

/// The C functions of the catalog that read no named argument: aggregate support functions
/// (combine, serialize, deserialize, final: only states, [`STATE`] and [`OTHER_STATE`]) and
/// functions without arguments.
#[cfg_attr(not(any(test, feature = "pg_test")), allow(dead_code))]
pub const NO_NAMED_ARGS: &[&str] = &[
    "ct_customer_summary_combine",
    "ct_customer_summary_serialize",
    "ct_customer_summary_deserialize",
    "ct_customer_summary_final",
    "ct_holdout_summary_combine",
    "ct_holdout_summary_serialize",
    "ct_holdout_summary_deserialize",
    "ct_holdout_summary_final",
    "ct_summary_state_combine",
    "ct_summary_state_serialize",
    "ct_summary_state_deserialize",
    "ct_summary_state_final",
    // the input/output functions of the type tiers.summary_state (unnamed arguments)
    "ct_summary_state_in",
    "ct_summary_state_out",
    "ct_summary_state_recv",
    "ct_summary_state_send",
    "ct_rfm_model_combine",
    "ct_rfm_model_final",
    "ct_abc_combine",
    "ct_abc_model_final",
    "ct_pareto_final",
    "ct_pareto_curve_final",
    "ct_bgnbd_combine",
    "ct_bgnbd_final",
    "ct_gamma_gamma_combine",
    "ct_gamma_gamma_final",
    "ct_mbgnbd_final",
    "ct_paretonbd_final",
    "ct_bgbb_combine",
    "ct_bgbb_final",
    "ct_clv_validation_combine",
    "ct_clv_validation_final",
    "ct_clv_validation_spend_combine",
    "ct_clv_validation_spend_final",
    "ct_ab_test_combine",
    "ct_ab_test_final",
    "ct_nps_combine",
    "ct_nps_final",
    "ct_kmeans_combine",
    "ct_kmeans_model_final",
    "ct_kmeans_choose_k_final",
    "ct_citus_node_role",
];

/// The C functions pgrx generates from `#[pg_extern]` (their `_wrapper` symbols): pgrx reads
/// their arguments by the Rust signature it also declares them from, so they need no table.
#[cfg_attr(not(any(test, feature = "pg_test")), allow(dead_code))]
pub const PGRX: &[&str] = &[
    "clv_estimate_infinite_wrapper",
    "clv_estimate_periods_wrapper",
    "rfm_rule_check_wrapper",
    "rfm_preset_rules_wrapper",
    "tag_columns_wrapper",
    "tag_presets_wrapper",
];
