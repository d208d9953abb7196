-- Validating a CLV model on a holdout period (src/validation.rs, core/src/validation.rs).

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

-- CLV validation (issue 13): a calibration/holdout readout of a purchase model ------------------

CREATE FUNCTION tiers.clv_validation_trans(bytea, tiers.bgnbd_model, double precision, double precision, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_clv_validation_trans';
COMMENT ON FUNCTION tiers.clv_validation_trans(bytea, tiers.bgnbd_model, double precision, double precision, double precision, double precision, double precision) IS 'Transition function of tiers.clv_validation for BG/NBD (internal).';
CREATE FUNCTION tiers.clv_validation_trans(bytea, tiers.mbgnbd_model, double precision, double precision, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_mbgnbd_clv_validation_trans';
COMMENT ON FUNCTION tiers.clv_validation_trans(bytea, tiers.mbgnbd_model, double precision, double precision, double precision, double precision, double precision) IS 'Transition function of tiers.clv_validation for MBG/NBD (internal).';
CREATE FUNCTION tiers.clv_validation_trans(bytea, tiers.paretonbd_model, double precision, double precision, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_paretonbd_clv_validation_trans';
COMMENT ON FUNCTION tiers.clv_validation_trans(bytea, tiers.paretonbd_model, double precision, double precision, double precision, double precision, double precision) IS 'Transition function of tiers.clv_validation for Pareto/NBD (internal).';
CREATE FUNCTION tiers.clv_validation_trans(bytea, tiers.bgbb_model, double precision, double precision, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgbb_clv_validation_trans';
COMMENT ON FUNCTION tiers.clv_validation_trans(bytea, tiers.bgbb_model, double precision, double precision, double precision, double precision, double precision) IS 'Transition function of tiers.clv_validation for BG/BB (internal).';
CREATE FUNCTION tiers.clv_validation_combine(bytea, bytea)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_clv_validation_combine';
COMMENT ON FUNCTION tiers.clv_validation_combine(bytea, bytea) IS 'Combine function of tiers.clv_validation (internal).';
CREATE FUNCTION tiers.clv_validation_final(bytea)
    RETURNS tiers.clv_validation LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_clv_validation_final';
COMMENT ON FUNCTION tiers.clv_validation_final(bytea) IS 'Final function of tiers.clv_validation (internal).';
CREATE AGGREGATE tiers.clv_validation(model tiers.bgnbd_model, frequency double precision, recency double precision,
                                      tenure double precision, holdout_occasions double precision, holdout_length double precision) (
    SFUNC = tiers.clv_validation_trans, STYPE = bytea, FINALFUNC = tiers.clv_validation_final,
    COMBINEFUNC = tiers.clv_validation_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.clv_validation(tiers.bgnbd_model, double precision, double precision, double precision, double precision, double precision) IS
    'Validation of a BG/NBD model fitted on a calibration period against the holdout period (tiers.clv_validation): one row per customer with the calibration (frequency, recency, tenure), the purchase occasions in the holdout and its length (the model''s time unit). Rows with NULL customer data or holdout skipped; NULL model: 22004; bad history, negative or non-finite holdout values: 22023. NULL without rows.';
CREATE AGGREGATE tiers.clv_validation(model tiers.mbgnbd_model, frequency double precision, recency double precision,
                                      tenure double precision, holdout_occasions double precision, holdout_length double precision) (
    SFUNC = tiers.clv_validation_trans, STYPE = bytea, FINALFUNC = tiers.clv_validation_final,
    COMBINEFUNC = tiers.clv_validation_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.clv_validation(tiers.mbgnbd_model, double precision, double precision, double precision, double precision, double precision) IS
    'tiers.clv_validation for an MBG/NBD model.';
CREATE AGGREGATE tiers.clv_validation(model tiers.paretonbd_model, frequency double precision, recency double precision,
                                      tenure double precision, holdout_occasions double precision, holdout_length double precision) (
    SFUNC = tiers.clv_validation_trans, STYPE = bytea, FINALFUNC = tiers.clv_validation_final,
    COMBINEFUNC = tiers.clv_validation_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.clv_validation(tiers.paretonbd_model, double precision, double precision, double precision, double precision, double precision) IS
    'tiers.clv_validation for a Pareto/NBD model.';
CREATE AGGREGATE tiers.clv_validation(model tiers.bgbb_model, frequency double precision, recency double precision,
                                      n_periods double precision, holdout_occasions double precision, holdout_length double precision) (
    SFUNC = tiers.clv_validation_trans, STYPE = bytea, FINALFUNC = tiers.clv_validation_final,
    COMBINEFUNC = tiers.clv_validation_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.clv_validation(tiers.bgbb_model, double precision, double precision, double precision, double precision, double precision) IS
    'tiers.clv_validation for a BG/BB model: n_periods calibration opportunities, holdout_length a whole number of opportunities; P(alive) for the next opportunity (periods_ahead 1).';

CREATE FUNCTION tiers.clv_validation_spend_trans(bytea, tiers.gamma_gamma_model, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_clv_validation_spend_trans';
COMMENT ON FUNCTION tiers.clv_validation_spend_trans(bytea, tiers.gamma_gamma_model, double precision, double precision, double precision) IS 'Transition function of tiers.clv_validation for Gamma-Gamma (internal).';
CREATE FUNCTION tiers.clv_validation_spend_combine(bytea, bytea)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_clv_validation_spend_combine';
COMMENT ON FUNCTION tiers.clv_validation_spend_combine(bytea, bytea) IS 'Combine function of tiers.clv_validation for Gamma-Gamma (internal).';
CREATE FUNCTION tiers.clv_validation_spend_final(bytea)
    RETURNS tiers.spend_validation LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_clv_validation_spend_final';
COMMENT ON FUNCTION tiers.clv_validation_spend_final(bytea) IS 'Final function of tiers.clv_validation for Gamma-Gamma (internal).';
CREATE AGGREGATE tiers.clv_validation(model tiers.gamma_gamma_model, frequency double precision, monetary double precision,
                                      holdout_monetary double precision) (
    SFUNC = tiers.clv_validation_spend_trans, STYPE = bytea, FINALFUNC = tiers.clv_validation_spend_final,
    COMBINEFUNC = tiers.clv_validation_spend_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.clv_validation(tiers.gamma_gamma_model, double precision, double precision, double precision) IS
    'Validation of a Gamma-Gamma model against the holdout (tiers.spend_validation): per customer the calibration (frequency, monetary) and the mean value of the holdout purchase occasions; customers without a holdout purchase (holdout_monetary 0, as tiers.holdout_summary and lifetimes give it, or NULL) are skipped: Gamma-Gamma models positive spend. NULL model: 22004; bad frequency or monetary, negative or non-finite holdout_monetary: 22023. NULL without rows.';
