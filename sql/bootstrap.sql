-- customer_tiers bootstrap: types and user-editable configuration tables.
-- Runs before any function is created. No CREATE OR REPLACE, no IF NOT EXISTS: a pre-existing
-- object of the same name makes CREATE EXTENSION fail instead of adopting it.

-- Never adopt a pre-existing schema: CREATE EXTENSION creates "tiers" when it is missing, but
-- installs into an existing one. A schema that already holds objects or belongs to another role
-- could plant objects the extension would then trust, so installing into it fails.
DO $adopt$
DECLARE
    ns oid := (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) 'tiers');
BEGIN
    IF (SELECT n.nspowner FROM pg_catalog.pg_namespace n WHERE n.oid OPERATOR(pg_catalog.=) ns)
           OPERATOR(pg_catalog.<>) (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)
       OR EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.relnamespace OPERATOR(pg_catalog.=) ns)
       OR EXISTS (SELECT FROM pg_catalog.pg_proc p WHERE p.pronamespace OPERATOR(pg_catalog.=) ns)
       OR EXISTS (SELECT FROM pg_catalog.pg_type t WHERE t.typnamespace OPERATOR(pg_catalog.=) ns)
       OR EXISTS (SELECT FROM pg_catalog.pg_operator o WHERE o.oprnamespace OPERATOR(pg_catalog.=) ns)
       OR EXISTS (SELECT FROM pg_catalog.pg_collation o WHERE o.collnamespace OPERATOR(pg_catalog.=) ns)
       OR EXISTS (SELECT FROM pg_catalog.pg_conversion o WHERE o.connamespace OPERATOR(pg_catalog.=) ns)
       OR EXISTS (SELECT FROM pg_catalog.pg_opclass o WHERE o.opcnamespace OPERATOR(pg_catalog.=) ns)
       OR EXISTS (SELECT FROM pg_catalog.pg_ts_config o WHERE o.cfgnamespace OPERATOR(pg_catalog.=) ns) THEN
        RAISE EXCEPTION 'schema "tiers" already exists with objects in it or another owner; customer_tiers will not install into it'
            USING ERRCODE = '42P06',
                  HINT = 'Drop or rename that schema (after checking who created it and why), then CREATE EXTENSION customer_tiers.';
    END IF;
END
$adopt$;


CREATE TYPE tiers.customer_summary AS (
    first_purchase date,
    last_purchase  date,
    orders         bigint,
    returns        bigint,
    occasions      bigint,
    frequency      bigint,
    recency        double precision,
    tenure         double precision,
    since_last     double precision,
    monetary_total double precision,
    monetary       double precision
);

CREATE TYPE tiers.rfm_model AS (
    bins      integer,
    customers bigint,
    r_breaks  double precision[],
    f_breaks  double precision[],
    m_breaks  double precision[],
    r_mean    double precision,
    f_mean    double precision,
    m_mean    double precision
);

CREATE TYPE tiers.rfm_score AS (
    r       integer,
    f       integer,
    m       integer,
    score   text,
    segment text
);

CREATE TABLE tiers.rfm_rule_sets (
    rule_set    text PRIMARY KEY CHECK (pg_catalog.btrim(rule_set) OPERATOR(pg_catalog.<>) ''),
    bins        integer NOT NULL CHECK (bins OPERATOR(pg_catalog.>=) 2 AND bins OPERATOR(pg_catalog.<=) 10),
    description text NOT NULL DEFAULT '',
    preset      boolean NOT NULL DEFAULT false
);

CREATE TABLE tiers.rfm_segment_rules (
    rule_set text NOT NULL REFERENCES tiers.rfm_rule_sets (rule_set)
                 ON UPDATE CASCADE ON DELETE CASCADE,
    priority integer NOT NULL,
    segment  text NOT NULL CHECK (pg_catalog.btrim(segment) OPERATOR(pg_catalog.<>) ''
                                  AND segment OPERATOR(pg_catalog.<>) 'Others'),
    r_min    integer NOT NULL,
    r_max    integer NOT NULL,
    f_min    integer NOT NULL,
    f_max    integer NOT NULL,
    m_min    integer NOT NULL,
    m_max    integer NOT NULL,
    preset   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (rule_set, priority),
    CHECK (1 OPERATOR(pg_catalog.<=) r_min AND r_min OPERATOR(pg_catalog.<=) r_max AND r_max OPERATOR(pg_catalog.<=) 10),
    CHECK (1 OPERATOR(pg_catalog.<=) f_min AND f_min OPERATOR(pg_catalog.<=) f_max AND f_max OPERATOR(pg_catalog.<=) 10),
    CHECK (1 OPERATOR(pg_catalog.<=) m_min AND m_min OPERATOR(pg_catalog.<=) m_max AND m_max OPERATOR(pg_catalog.<=) 10)
);

-- pg_dump keeps the user's rule sets; presets come back with CREATE EXTENSION.
SELECT pg_catalog.pg_extension_config_dump('tiers.rfm_rule_sets', 'WHERE NOT preset');
SELECT pg_catalog.pg_extension_config_dump('tiers.rfm_segment_rules', 'WHERE NOT preset');

CREATE TYPE tiers.abc_model AS (
    method      text,
    a_cut       double precision,
    b_cut       double precision,
    a_min       double precision,
    b_min       double precision,
    customers   bigint,
    total       double precision,
    a_customers bigint,
    b_customers bigint,
    c_customers bigint,
    a_value     double precision,
    b_value     double precision,
    c_value     double precision
);

CREATE TYPE tiers.pareto AS (
    customers   bigint,
    total       double precision,
    net_total   double precision,
    top20_share double precision,
    gini        double precision,
    a_customers bigint,
    b_customers bigint,
    c_customers bigint,
    a_share     double precision,
    b_share     double precision,
    c_share     double precision
);

CREATE TYPE tiers.pareto_point AS (
    customer_share double precision,
    value_share    double precision
);

CREATE TYPE tiers.bgnbd_model AS (
    r              double precision,
    alpha          double precision,
    a              double precision,
    b              double precision,
    log_likelihood double precision,
    customers      double precision,
    converged      boolean,
    iterations     integer,
    se_r           double precision,
    se_alpha       double precision,
    se_a           double precision,
    se_b           double precision,
    covariance     double precision[]
);

CREATE TYPE tiers.gamma_gamma_model AS (
    p              double precision,
    q              double precision,
    v              double precision,
    log_likelihood double precision,
    customers      double precision,
    converged      boolean,
    iterations     integer,
    se_p           double precision,
    se_q           double precision,
    se_v           double precision,
    covariance     double precision[]
);

CREATE TYPE tiers.mbgnbd_model AS (
    r              double precision,
    alpha          double precision,
    a              double precision,
    b              double precision,
    log_likelihood double precision,
    customers      double precision,
    converged      boolean,
    iterations     integer,
    se_r           double precision,
    se_alpha       double precision,
    se_a           double precision,
    se_b           double precision,
    covariance     double precision[]
);

CREATE TYPE tiers.paretonbd_model AS (
    r              double precision,
    alpha          double precision,
    s              double precision,
    beta           double precision,
    log_likelihood double precision,
    customers      double precision,
    converged      boolean,
    iterations     integer,
    se_r           double precision,
    se_alpha       double precision,
    se_s           double precision,
    se_beta        double precision,
    covariance     double precision[]
);

CREATE TABLE tiers.tier_schemes (
    scheme          text PRIMARY KEY CHECK (pg_catalog.btrim(scheme) OPERATOR(pg_catalog.<>) ''),
    max_drop        integer CHECK (max_drop IS NULL OR max_drop OPERATOR(pg_catalog.>=) 1),
    lowest_is_floor boolean NOT NULL DEFAULT true,
    description     text NOT NULL DEFAULT '',
    grace_evaluations integer CHECK (grace_evaluations IS NULL OR grace_evaluations OPERATOR(pg_catalog.>=) 1)
);

CREATE TABLE tiers.tier_levels (
    scheme text NOT NULL REFERENCES tiers.tier_schemes (scheme) ON UPDATE CASCADE ON DELETE CASCADE,
    rank   integer NOT NULL CHECK (rank OPERATOR(pg_catalog.>=) 1),
    tier   text NOT NULL CHECK (pg_catalog.btrim(tier) OPERATOR(pg_catalog.<>) ''),
    entry  double precision NOT NULL,
    retain double precision NOT NULL,
    PRIMARY KEY (scheme, rank),
    UNIQUE (scheme, tier),
    CHECK (retain OPERATOR(pg_catalog.<=) entry)
);

SELECT pg_catalog.pg_extension_config_dump('tiers.tier_schemes', '');
SELECT pg_catalog.pg_extension_config_dump('tiers.tier_levels', '');

-- One row per change of a customer's tier (valid_from inclusive, valid_to exclusive; NULL = now).
CREATE TABLE tiers.tier_history (
    scheme     text NOT NULL,
    customer   text NOT NULL,
    tier       text,
    value      double precision,
    valid_from date NOT NULL,
    valid_to   date,
    grace_used integer NOT NULL DEFAULT 0,
    PRIMARY KEY (scheme, customer, valid_from),
    CHECK (valid_to IS NULL OR valid_to OPERATOR(pg_catalog.>) valid_from)
);
CREATE INDEX tier_history_current ON tiers.tier_history (scheme, customer) WHERE valid_to IS NULL;

-- One row per evaluation: the numbers managers judge a grading program by.
CREATE TABLE tiers.tier_evaluations (
    scheme       text NOT NULL,
    evaluated_on date NOT NULL,
    customers    bigint NOT NULL,
    upgraded     bigint NOT NULL,
    downgraded   bigint NOT NULL,
    retained     bigint NOT NULL,
    new          bigint NOT NULL,
    lost         bigint NOT NULL,
    PRIMARY KEY (scheme, evaluated_on)
);

SELECT pg_catalog.pg_extension_config_dump('tiers.tier_history', '');
SELECT pg_catalog.pg_extension_config_dump('tiers.tier_evaluations', '');

-- Tag rules: a boolean expression over the columns of a customer row (see tiers.tag_columns()),
-- with named parameters ($name in the expression, values in params). Presets are read-only rows
-- restored by CREATE EXTENSION; a user row with the same tag overrides the preset.
CREATE TABLE tiers.tag_rules (
    tag         text NOT NULL CHECK (pg_catalog.btrim(tag) OPERATOR(pg_catalog.<>) ''
                                     AND tag OPERATOR(pg_catalog.=) pg_catalog.btrim(tag)),
    expression  text NOT NULL,
    params      jsonb NOT NULL DEFAULT '{}'
                CHECK (pg_catalog.jsonb_typeof(params) OPERATOR(pg_catalog.=) 'object'),
    label_zh    text,
    description text NOT NULL DEFAULT '',
    position    integer NOT NULL DEFAULT 1000,
    enabled     boolean NOT NULL DEFAULT true,
    preset      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tag, preset)
);

SELECT pg_catalog.pg_extension_config_dump('tiers.tag_rules', 'WHERE NOT preset');

-- Tier views: one row per declared materialized view (options normalised, every default filled).
CREATE TABLE tiers.tier_views (
    view_schema       name NOT NULL,
    view_name         name NOT NULL,
    source_schema     name NOT NULL,
    source_name       name NOT NULL,
    customer_column   name NOT NULL,
    ordered_at_column name NOT NULL,
    amount_column     name NOT NULL,
    options           jsonb NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by        name NOT NULL DEFAULT CURRENT_USER,
    PRIMARY KEY (view_schema, view_name)
);
-- One tier view at most records the history of a scheme (enforced whatever rows a role sees).
CREATE UNIQUE INDEX tier_views_history_scheme ON tiers.tier_views ((options OPERATOR(pg_catalog.->>) 'tier_scheme'))
    WHERE (options OPERATOR(pg_catalog.->>) 'history')::boolean;

-- One row per refresh: the as_of the view was computed for, the CLV models fitted for it, and
-- the time each stage took. The view reads its as_of and models from the latest row.
CREATE TABLE tiers.tier_view_refreshes (
    view_schema  name NOT NULL,
    view_name    name NOT NULL,
    refreshed_at timestamptz NOT NULL,
    as_of        timestamptz NOT NULL,
    customers    bigint,
    bgnbd        tiers.bgnbd_model,
    gamma_gamma  tiers.gamma_gamma_model,
    fit_ms       double precision,
    refresh_ms   double precision,
    history_ms   double precision,
    PRIMARY KEY (view_schema, view_name, refreshed_at),
    FOREIGN KEY (view_schema, view_name) REFERENCES tiers.tier_views (view_schema, view_name)
        ON UPDATE CASCADE ON DELETE CASCADE
);

SELECT pg_catalog.pg_extension_config_dump('tiers.tier_views', '');
SELECT pg_catalog.pg_extension_config_dump('tiers.tier_view_refreshes', '');

-- Judging a tiering (issue 14): results of tiers.ab_test, tiers.nps and tiers.nps_compare
CREATE TYPE tiers.ab_variant AS (
    variant         text,
    is_control      boolean,
    n               bigint,
    mean            double precision,
    sd              double precision,
    method          text,
    difference      double precision,
    difference_low  double precision,
    difference_high double precision,
    lift            double precision,
    lift_low        double precision,
    lift_high       double precision,
    statistic       double precision,
    df              double precision,
    p_value         double precision
);
COMMENT ON TYPE tiers.ab_variant IS
    'One variant of tiers.ab_test: n, mean, sample standard deviation (NULL below 2 rows); against the control: method (''two_proportion_z'' when every outcome of both groups is 0 or 1, else ''welch_t''), difference of means with its 95 % interval, lift (mean / control mean - 1) with its 95 % delta-method interval (NULL when the control mean is 0), the test statistic, Welch''s degrees of freedom and the two-sided p-value. The control row and variants with fewer than 2 rows have NULL comparisons.';
CREATE TYPE tiers.nps_result AS (
    n               bigint,
    promoters       bigint,
    passives        bigint,
    detractors      bigint,
    nps             double precision,
    margin_of_error double precision
);
COMMENT ON TYPE tiers.nps_result IS
    'Net Promoter Score of a group (tiers.nps): answers, promoters (9-10), passives (7-8), detractors (0-6), nps = 100 * (promoters - detractors) / n in -100..100, and the half-width of its 95 % interval, 1.96 * 100 * sqrt((p + d - (p - d)^2) / n) with p, d the shares of promoters and detractors.';
CREATE TYPE tiers.nps_comparison AS (
    difference      double precision,
    difference_low  double precision,
    difference_high double precision,
    statistic       double precision,
    p_value         double precision
);
COMMENT ON TYPE tiers.nps_comparison IS
    'tiers.nps_compare(a, b): b.nps - a.nps with its 95 % interval, the z statistic and the two-sided p-value (normal approximation, independent samples).';

-- K-means (issue 14): tiers.kmeans_model, tiers.kmeans_choose_k and stored models
CREATE TYPE tiers.kmeans_model AS (
    k                integer,
    dimensions       integer,
    n                bigint,
    distinct_points  bigint,
    centroids        double precision[],
    scaled_centroids double precision[],
    standardized     boolean,
    log1p            boolean[],
    means            double precision[],
    sds              double precision[],
    inertia          double precision,
    iterations       integer,
    converged        boolean,
    sizes            bigint[],
    silhouette       double precision,
    silhouette_exact boolean,
    davies_bouldin   double precision
);
COMMENT ON TYPE tiers.kmeans_model IS
    'A K-means model (tiers.kmeans_model aggregate). Clusters are numbered 1..k by decreasing size: sizes[c] rows, centroid centroids[c][1:] in the original units (for a log1p feature, expm1 of the mean log), scaled_centroids[c][1:] in the space the clustering used. dimensions features per row; n rows, distinct_points distinct scaled rows; standardized: features were standardized with the population means and sds (ddof 0) after ln(1 + x) for the log1p features; inertia = sum of squared distances to the nearest centroid (scaled space); iterations and converged of the kept restart; silhouette (NULL when undefined) on every row when silhouette_exact, else on a fixed-seed sample; Davies-Bouldin index.';
CREATE TYPE tiers.kmeans_choice AS (
    k              integer,
    inertia        double precision,
    silhouette     double precision,
    davies_bouldin double precision
);
COMMENT ON TYPE tiers.kmeans_choice IS
    'One k of tiers.kmeans_choose_k: the inertia (for an elbow chart), silhouette (higher is better; NULL when undefined) and Davies-Bouldin index (lower is better) of the model with k clusters.';

CREATE TABLE tiers.kmeans_models (
    name        text PRIMARY KEY CHECK (pg_catalog.btrim(name) OPERATOR(pg_catalog.<>) ''
                                        AND pg_catalog.octet_length(name) OPERATOR(pg_catalog.<=) 1000),
    model       tiers.kmeans_model NOT NULL,
    features    text[] NOT NULL CHECK (features OPERATOR(pg_catalog.<@) ARRAY['since_last', 'recency', 'tenure',
                    'frequency', 'orders', 'occasions', 'monetary', 'monetary_total', 'recent_spend',
                    'earlier_spend']::pg_catalog.text[]
                    AND pg_catalog.cardinality(features) OPERATOR(pg_catalog.=) (model).dimensions),
    description text NOT NULL DEFAULT '',
    saved_at    timestamp with time zone NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE tiers.kmeans_models IS
    'Stored K-means models for tier views (option "kmeans_model"): the model and the tier-view columns it was fitted on, in order (features). Written by tiers.save_kmeans_model; kept by pg_dump. Centroids are group means, not per-customer data: readable by everyone.';
SELECT pg_catalog.pg_extension_config_dump('tiers.kmeans_models', '');

-- BG/BB (issue 13): the discrete-time purchase model
CREATE TYPE tiers.bgbb_model AS (
    alpha          double precision,
    beta           double precision,
    gamma          double precision,
    delta          double precision,
    log_likelihood double precision,
    customers      double precision,
    converged      boolean,
    iterations     integer,
    se_alpha       double precision,
    se_beta        double precision,
    se_gamma       double precision,
    se_delta       double precision,
    covariance     double precision[]
);
COMMENT ON TYPE tiers.bgbb_model IS
    'A fitted BG/BB model (Fader, Hardie & Shang 2010): alpha, beta (the beta distribution of the purchase probability per opportunity), gamma, delta (the beta distribution of the dropout probability per opportunity), log_likelihood, customers (sum of weights), converged (false also when a standard error exceeds 10 times its parameter: a flat likelihood), iterations, standard errors (NULL when the information matrix is not positive definite) and covariance (the parameters'' covariance matrix, row and column order as the parameters; NULL with the standard errors).';

-- intervals of predictions (issue 13): tiers.prediction_interval
CREATE TYPE tiers.prediction_interval AS (
    estimate double precision,
    low      double precision,
    high     double precision,
    se       double precision,
    level    double precision
);
COMMENT ON TYPE tiers.prediction_interval IS
    'A model prediction with its confidence interval from the uncertainty of the fitted parameters (tiers.expected_purchases_interval, tiers.clv_interval): estimate, low and high (the log-scale delta method: estimate * exp(-/+ z * sd(ln estimate)), z the normal quantile of level), se (the delta-method standard error of the estimate), level. low, high and se are NULL when the model has no covariance (not a proper maximum, or a model fitted by 0.2.0). The interval covers the model''s expectation, not the purchases a customer will actually make.';

-- calibration/holdout split of an order history (issue 13): tiers.holdout_summary
CREATE TYPE tiers.holdout_summary AS (
    first_purchase         date,
    last_purchase          date,
    orders                 bigint,
    returns                bigint,
    occasions              bigint,
    frequency              bigint,
    recency                double precision,
    tenure                 double precision,
    since_last             double precision,
    monetary_total         double precision,
    monetary               double precision,
    holdout_orders         bigint,
    holdout_occasions      bigint,
    holdout_monetary_total double precision,
    holdout_monetary       double precision,
    holdout_length         double precision
);
COMMENT ON TYPE tiers.holdout_summary IS
    'Result of tiers.holdout_summary: the fields of tiers.customer_summary as of calibration_end (first_purchase ... monetary), then the holdout period (calibration_end, holdout_end]: holdout_orders (rows with an amount >= 0 or NULL), holdout_occasions (distinct purchase days: lifetimes'' frequency_holdout), holdout_monetary_total (net value, returns netted), holdout_monetary (holdout_monetary_total / holdout_occasions, 0 without holdout purchases: lifetimes'' monetary_value_holdout), holdout_length (holdout_end - calibration_end in unit: lifetimes'' duration_holdout).';

-- CLV validation (issue 13): tiers.clv_validation
CREATE TYPE tiers.clv_validation_bucket AS (
    frequency     integer,
    bucket        text,
    customers     bigint,
    mean_actual   double precision,
    mean_expected double precision
);
COMMENT ON TYPE tiers.clv_validation_bucket IS
    'One calibration-frequency group of tiers.clv_validation (lifetimes'' calibration/holdout plot): frequency 0..6, and 7 for every customer with 7 or more (bucket ''7+''); its customers, their mean actual holdout purchases and mean expected ones.';
CREATE TYPE tiers.spend_validation AS (
    customers     bigint,
    mean_expected double precision,
    mean_actual   double precision,
    mae           double precision,
    rmse          double precision,
    bias          double precision,
    relative_bias double precision,
    correlation   double precision
);
COMMENT ON TYPE tiers.spend_validation IS
    'How well a Gamma-Gamma model predicts the holdout mean spend (tiers.clv_validation(gamma_gamma_model, ...)): over the customers with a holdout purchase, expected = the model''s expected mean transaction value from the calibration (frequency, monetary), actual = holdout_monetary; means, mae, rmse, bias = mean(expected - actual), relative_bias = bias / mean actual (NULL when 0), correlation (Pearson; NULL when constant).';
CREATE TYPE tiers.clv_validation AS (
    customers      bigint,
    mae            double precision,
    rmse           double precision,
    bias           double precision,
    relative_bias  double precision,
    correlation    double precision,
    total_expected double precision,
    total_actual   double precision,
    buyers         bigint,
    purchase_share double precision,
    brier          double precision,
    auc            double precision,
    scored         bigint,
    buckets        tiers.clv_validation_bucket[]
);
COMMENT ON TYPE tiers.clv_validation IS
    'How well a purchase model predicts a holdout period (tiers.clv_validation): per customer expected = the model''s conditional expected purchases over holdout_length, actual = holdout_occasions; mae and rmse of expected - actual, bias = total_expected - total_actual, relative_bias = bias / total_actual (NULL when 0), correlation (Pearson; NULL when constant), buyers (customers with a holdout purchase) and their share; brier = mean (p_alive - bought)^2 and auc = ROC AUC of p_alive for bought (ties count one half; NULL unless both outcomes occur), over the scored customers; buckets by calibration frequency.';
