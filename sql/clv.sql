-- CLV: BG/NBD, MBG/NBD, Pareto/NBD, Gamma-Gamma, CLV estimates, intervals, purchase counts
-- and churn (src/clv.rs, core/src/clv.rs, core/src/purchases.rs, core/src/intervals.rs).

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
COMMENT ON TYPE tiers.bgnbd_model IS
    'A fitted BG/NBD model (Fader, Hardie & Lee 2005): r, alpha, a, b, log_likelihood, customers (sum of weights), converged, iterations, standard errors (NULL when the information matrix is not positive definite) and covariance (the parameters'' covariance matrix, row and column order as the parameters; NULL with the standard errors).';

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
COMMENT ON TYPE tiers.gamma_gamma_model IS
    'A fitted Gamma-Gamma spend model (Fader & Hardie 2013): p, q, v (gamma), log_likelihood, customers, converged, iterations, standard errors and covariance (the parameters'' covariance matrix, row and column order as the parameters; NULL with the standard errors).';

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
COMMENT ON TYPE tiers.mbgnbd_model IS
    'A fitted modified BG/NBD model (Batislam, Denizel & Filiztekin 2007): r, alpha, a, b, log_likelihood, customers, converged, iterations, standard errors and covariance (the parameters'' covariance matrix, row and column order as the parameters; NULL with the standard errors).';

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
COMMENT ON TYPE tiers.paretonbd_model IS
    'A fitted Pareto/NBD model (Schmittlein, Morrison & Colombo 1987): r, alpha, s, beta, log_likelihood, customers, converged, iterations, standard errors and covariance (the parameters'' covariance matrix, row and column order as the parameters; NULL with the standard errors).';

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

------------------------------------------------------------------------------------------
-- CLV: BG/NBD and Gamma-Gamma
------------------------------------------------------------------------------------------
CREATE FUNCTION tiers.bgnbd_trans(bytea, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_trans';
COMMENT ON FUNCTION tiers.bgnbd_trans(bytea, double precision, double precision, double precision) IS 'Transition function of tiers.bgnbd_fit (internal).';
CREATE FUNCTION tiers.bgnbd_trans(bytea, double precision, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_trans';
COMMENT ON FUNCTION tiers.bgnbd_trans(bytea, double precision, double precision, double precision, double precision) IS 'Transition function of tiers.bgnbd_fit (internal).';
CREATE FUNCTION tiers.bgnbd_trans(bytea, double precision, double precision, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_trans';
COMMENT ON FUNCTION tiers.bgnbd_trans(bytea, double precision, double precision, double precision, double precision, double precision) IS 'Transition function of tiers.bgnbd_fit (internal).';
CREATE FUNCTION tiers.bgnbd_combine(bytea, bytea)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_combine';
COMMENT ON FUNCTION tiers.bgnbd_combine(bytea, bytea) IS 'Combine function of tiers.bgnbd_fit (internal).';
CREATE FUNCTION tiers.bgnbd_final(bytea)
    RETURNS tiers.bgnbd_model LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_final';
COMMENT ON FUNCTION tiers.bgnbd_final(bytea) IS 'Final function of tiers.bgnbd_fit: the maximum-likelihood fit (internal).';
CREATE FUNCTION tiers.gamma_gamma_trans(bytea, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_gamma_gamma_trans';
COMMENT ON FUNCTION tiers.gamma_gamma_trans(bytea, double precision, double precision) IS 'Transition function of tiers.gamma_gamma_fit (internal).';
CREATE FUNCTION tiers.gamma_gamma_trans(bytea, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_gamma_gamma_trans';
COMMENT ON FUNCTION tiers.gamma_gamma_trans(bytea, double precision, double precision, double precision) IS 'Transition function of tiers.gamma_gamma_fit (internal).';
CREATE FUNCTION tiers.gamma_gamma_trans(bytea, double precision, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_gamma_gamma_trans';
COMMENT ON FUNCTION tiers.gamma_gamma_trans(bytea, double precision, double precision, double precision, double precision) IS 'Transition function of tiers.gamma_gamma_fit (internal).';
CREATE FUNCTION tiers.gamma_gamma_combine(bytea, bytea)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_gamma_gamma_combine';
COMMENT ON FUNCTION tiers.gamma_gamma_combine(bytea, bytea) IS 'Combine function of tiers.gamma_gamma_fit (internal).';
CREATE FUNCTION tiers.gamma_gamma_final(bytea)
    RETURNS tiers.gamma_gamma_model LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_gamma_gamma_final';
COMMENT ON FUNCTION tiers.gamma_gamma_final(bytea) IS 'Final function of tiers.gamma_gamma_fit: the maximum-likelihood fit (internal).';

CREATE AGGREGATE tiers.bgnbd_fit(frequency double precision, recency double precision, tenure double precision) (
    SFUNC = tiers.bgnbd_trans, STYPE = bytea, FINALFUNC = tiers.bgnbd_final,
    COMBINEFUNC = tiers.bgnbd_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.bgnbd_fit(double precision, double precision, double precision) IS
    'Fits BG/NBD by maximum likelihood to (frequency, recency, tenure) of customer summaries, in the summary''s time unit. Works on distinct patterns. frequency a whole number >= 0, 0 <= recency <= tenure, recency 0 when frequency 0, all finite (else 22023); rows with a NULL skipped; no rows: NULL; no repeat buyer: 22023.';
CREATE AGGREGATE tiers.bgnbd_fit(frequency double precision, recency double precision, tenure double precision, weight double precision) (
    SFUNC = tiers.bgnbd_trans, STYPE = bytea, FINALFUNC = tiers.bgnbd_final,
    COMBINEFUNC = tiers.bgnbd_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.bgnbd_fit(double precision, double precision, double precision, double precision) IS
    'BG/NBD fit with a weight per row (e.g. the count of identical customers; 0 skips the row, negative/NaN 22023).';
CREATE AGGREGATE tiers.bgnbd_fit(frequency double precision, recency double precision, tenure double precision, weight double precision, penalizer double precision) (
    SFUNC = tiers.bgnbd_trans, STYPE = bytea, FINALFUNC = tiers.bgnbd_final,
    COMBINEFUNC = tiers.bgnbd_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.bgnbd_fit(double precision, double precision, double precision, double precision, double precision) IS
    'BG/NBD fit with weights and an L2 penalizer (finite >= 0, else 22023; NULL: 22004; constant within a group): minimises the mean negative log-likelihood plus penalizer * (r^2 + alpha^2 + a^2 + b^2), the convention of the Python package lifetimes; log_likelihood reports the unpenalized value.';
CREATE AGGREGATE tiers.gamma_gamma_fit(frequency double precision, monetary double precision, weight double precision, penalizer double precision) (
    SFUNC = tiers.gamma_gamma_trans, STYPE = bytea, FINALFUNC = tiers.gamma_gamma_final,
    COMBINEFUNC = tiers.gamma_gamma_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.gamma_gamma_fit(double precision, double precision, double precision, double precision) IS
    'Gamma-Gamma fit with weights and an L2 penalizer (finite >= 0, else 22023; NULL: 22004; constant within a group): mean negative log-likelihood plus penalizer * (p^2 + q^2 + v^2).';
CREATE AGGREGATE tiers.gamma_gamma_fit(frequency double precision, monetary double precision) (
    SFUNC = tiers.gamma_gamma_trans, STYPE = bytea, FINALFUNC = tiers.gamma_gamma_final,
    COMBINEFUNC = tiers.gamma_gamma_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.gamma_gamma_fit(double precision, double precision) IS
    'Fits the Gamma-Gamma spend model to (frequency, monetary) of repeat buyers: rows with frequency 0 or monetary <= 0 are excluded, as the model requires; frequency must be a whole number >= 0 and monetary finite (else 22023). No remaining rows: NULL.';
CREATE AGGREGATE tiers.gamma_gamma_fit(frequency double precision, monetary double precision, weight double precision) (
    SFUNC = tiers.gamma_gamma_trans, STYPE = bytea, FINALFUNC = tiers.gamma_gamma_final,
    COMBINEFUNC = tiers.gamma_gamma_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.gamma_gamma_fit(double precision, double precision, double precision) IS
    'Gamma-Gamma fit with a weight per row.';

CREATE FUNCTION tiers.p_alive(model tiers.bgnbd_model, frequency double precision,
                              recency double precision, tenure double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_p_alive';
COMMENT ON FUNCTION tiers.p_alive(tiers.bgnbd_model, double precision, double precision, double precision) IS
    'Probability that a customer with (frequency, recency, tenure) is still alive under a BG/NBD model (1 for frequency 0).';
CREATE FUNCTION tiers.expected_purchases(model tiers.bgnbd_model, horizon double precision,
                                         frequency double precision, recency double precision, tenure double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_expected_purchases';
COMMENT ON FUNCTION tiers.expected_purchases(tiers.bgnbd_model, double precision, double precision, double precision, double precision) IS
    'Expected purchases in the next horizon (same unit as the summary the model was fitted on) of a customer with (frequency, recency, tenure): FHL 2005 eq. (10).';
CREATE FUNCTION tiers.expected_purchases(model tiers.bgnbd_model, horizon double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_expected_purchases_new';
COMMENT ON FUNCTION tiers.expected_purchases(tiers.bgnbd_model, double precision) IS
    'Expected purchases of a new customer within horizon: FHL 2005 eq. (7).';
CREATE FUNCTION tiers.expected_spend(model tiers.gamma_gamma_model, frequency double precision, monetary double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_gamma_gamma_expected_spend';
COMMENT ON FUNCTION tiers.expected_spend(tiers.gamma_gamma_model, double precision, double precision) IS
    'Expected mean transaction value of a customer with (frequency, monetary) under a Gamma-Gamma model; the population mean p v / (q - 1) for frequency 0 (22003 when q <= 1); monetary must be finite and >= 0 for repeat buyers (22023; 0 gives the prior mean shrunk by x, as the formula does).';

COMMENT ON FUNCTION tiers.clv_estimate(double precision, double precision, double precision, double precision, double precision) IS
    'Classic CLV, infinite horizon: m / (1 + discount_rate - retention_rate) with m = avg_order_value * purchases_per_period * margin per period (a customer active in period t with probability retention_rate^(t-1), cash at period end, discounted per period). margin and retention_rate in [0, 1], amounts and discount_rate finite >= 0 (else 22023); diverging (retention_rate >= 1 + discount_rate): 22003.';
COMMENT ON FUNCTION tiers.clv_estimate(double precision, double precision, double precision, double precision, double precision, integer) IS
    'Classic CLV over periods (>= 1, else 22023) periods: sum over t = 1..periods of m * retention_rate^(t-1) / (1 + discount_rate)^t.';

------------------------------------------------------------------------------------------
-- CLV: modified BG/NBD (same state as bgnbd_fit)
------------------------------------------------------------------------------------------
CREATE FUNCTION tiers.mbgnbd_final(bytea)
    RETURNS tiers.mbgnbd_model LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_mbgnbd_final';
COMMENT ON FUNCTION tiers.mbgnbd_final(bytea) IS 'Final function of tiers.mbgnbd_fit: the maximum-likelihood fit (internal).';
CREATE AGGREGATE tiers.mbgnbd_fit(frequency double precision, recency double precision, tenure double precision) (
    SFUNC = tiers.bgnbd_trans, STYPE = bytea, FINALFUNC = tiers.mbgnbd_final,
    COMBINEFUNC = tiers.bgnbd_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.mbgnbd_fit(double precision, double precision, double precision) IS
    'Fits the modified BG/NBD (customers may also drop out right after the first purchase, so one-time buyers get P(alive) < 1) to (frequency, recency, tenure); inputs, NULLs and errors as tiers.bgnbd_fit.';
CREATE AGGREGATE tiers.mbgnbd_fit(frequency double precision, recency double precision, tenure double precision, weight double precision) (
    SFUNC = tiers.bgnbd_trans, STYPE = bytea, FINALFUNC = tiers.mbgnbd_final,
    COMBINEFUNC = tiers.bgnbd_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.mbgnbd_fit(double precision, double precision, double precision, double precision) IS
    'Modified BG/NBD fit with a weight per row.';
CREATE AGGREGATE tiers.mbgnbd_fit(frequency double precision, recency double precision, tenure double precision, weight double precision, penalizer double precision) (
    SFUNC = tiers.bgnbd_trans, STYPE = bytea, FINALFUNC = tiers.mbgnbd_final,
    COMBINEFUNC = tiers.bgnbd_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.mbgnbd_fit(double precision, double precision, double precision, double precision, double precision) IS
    'Modified BG/NBD fit with weights and an L2 penalizer (as tiers.bgnbd_fit).';
CREATE FUNCTION tiers.p_alive(model tiers.mbgnbd_model, frequency double precision,
                              recency double precision, tenure double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_mbgnbd_p_alive';
COMMENT ON FUNCTION tiers.p_alive(tiers.mbgnbd_model, double precision, double precision, double precision) IS
    'P(alive) under the modified BG/NBD: 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)), also below 1 for one-time buyers.';
CREATE FUNCTION tiers.expected_purchases(model tiers.mbgnbd_model, horizon double precision,
                                         frequency double precision, recency double precision, tenure double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_mbgnbd_expected_purchases';
COMMENT ON FUNCTION tiers.expected_purchases(tiers.mbgnbd_model, double precision, double precision, double precision, double precision) IS
    'Expected purchases in the next horizon under the modified BG/NBD (Batislam et al. 2007).';
CREATE FUNCTION tiers.expected_purchases(model tiers.mbgnbd_model, horizon double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_mbgnbd_expected_purchases_new';
COMMENT ON FUNCTION tiers.expected_purchases(tiers.mbgnbd_model, double precision) IS
    'Expected purchases of a new customer within horizon under the modified BG/NBD.';

------------------------------------------------------------------------------------------
-- CLV: model-based estimate with explicit time units
------------------------------------------------------------------------------------------
CREATE FUNCTION tiers.clv_estimate(purchase_model tiers.bgnbd_model, gg_model tiers.gamma_gamma_model,
                                   frequency double precision, recency double precision,
                                   tenure double precision, monetary double precision,
                                   horizon interval, discount_rate double precision, unit interval,
                                   discount_period interval DEFAULT interval '1 month')
    RETURNS double precision LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_clv_estimate';
COMMENT ON FUNCTION tiers.clv_estimate(tiers.bgnbd_model, tiers.gamma_gamma_model, double precision, double precision, double precision, double precision, interval, double precision, interval, interval) IS
    'Discounted expected revenue of a customer over horizon: for each discount_period k, expected purchases in that period (BG/NBD) times expected spend (Gamma-Gamma), divided by (1 + discount_rate)^k. Times are intervals: unit is the unit the summaries were computed in (e.g. ''7 days''), so horizon (e.g. ''12 months'') cannot be misread. horizon must be a whole number of discount periods; unit/discount_period > 0; discount_rate finite >= 0 (else 22023); a NULL customer value or model gives NULL; NULL horizon/unit/rate/period is 22004. Intervals convert as PostgreSQL compares them: 1 month = 30 days, 1 year = 360 days.';
CREATE FUNCTION tiers.clv_estimate(purchase_model tiers.mbgnbd_model, gg_model tiers.gamma_gamma_model,
                                   frequency double precision, recency double precision,
                                   tenure double precision, monetary double precision,
                                   horizon interval, discount_rate double precision, unit interval,
                                   discount_period interval DEFAULT interval '1 month')
    RETURNS double precision LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_mbgnbd_clv_estimate';
COMMENT ON FUNCTION tiers.clv_estimate(tiers.mbgnbd_model, tiers.gamma_gamma_model, double precision, double precision, double precision, double precision, interval, double precision, interval, interval) IS
    'Discounted expected revenue over horizon with a modified BG/NBD purchase model (see the BG/NBD overload).';

------------------------------------------------------------------------------------------
-- CLV: Pareto/NBD (same state as bgnbd_fit)
------------------------------------------------------------------------------------------
CREATE FUNCTION tiers.paretonbd_final(bytea)
    RETURNS tiers.paretonbd_model LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_paretonbd_final';
COMMENT ON FUNCTION tiers.paretonbd_final(bytea) IS 'Final function of tiers.paretonbd_fit: the maximum-likelihood fit (internal).';
CREATE AGGREGATE tiers.paretonbd_fit(frequency double precision, recency double precision, tenure double precision) (
    SFUNC = tiers.bgnbd_trans, STYPE = bytea, FINALFUNC = tiers.paretonbd_final,
    COMBINEFUNC = tiers.bgnbd_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.paretonbd_fit(double precision, double precision, double precision) IS
    'Fits the Pareto/NBD (exponential lifetimes with gamma heterogeneity, alpha/beta scales) by maximum likelihood with an analytic gradient through the hypergeometric function; inputs, NULLs and errors as tiers.bgnbd_fit.';
CREATE AGGREGATE tiers.paretonbd_fit(frequency double precision, recency double precision, tenure double precision, weight double precision) (
    SFUNC = tiers.bgnbd_trans, STYPE = bytea, FINALFUNC = tiers.paretonbd_final,
    COMBINEFUNC = tiers.bgnbd_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.paretonbd_fit(double precision, double precision, double precision, double precision) IS
    'Pareto/NBD fit with a weight per row.';
CREATE AGGREGATE tiers.paretonbd_fit(frequency double precision, recency double precision, tenure double precision, weight double precision, penalizer double precision) (
    SFUNC = tiers.bgnbd_trans, STYPE = bytea, FINALFUNC = tiers.paretonbd_final,
    COMBINEFUNC = tiers.bgnbd_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.paretonbd_fit(double precision, double precision, double precision, double precision, double precision) IS
    'Pareto/NBD fit with weights and an L2 penalizer (as tiers.bgnbd_fit).';
CREATE FUNCTION tiers.p_alive(model tiers.paretonbd_model, frequency double precision,
                              recency double precision, tenure double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_paretonbd_p_alive';
COMMENT ON FUNCTION tiers.p_alive(tiers.paretonbd_model, double precision, double precision, double precision) IS
    'P(alive) under the Pareto/NBD (FHL 2005).';
CREATE FUNCTION tiers.expected_purchases(model tiers.paretonbd_model, horizon double precision,
                                         frequency double precision, recency double precision, tenure double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_paretonbd_expected_purchases';
COMMENT ON FUNCTION tiers.expected_purchases(tiers.paretonbd_model, double precision, double precision, double precision, double precision) IS
    'Expected purchases in the next horizon under the Pareto/NBD: (r+x)(beta+T)/((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)] P(alive).';
CREATE FUNCTION tiers.expected_purchases(model tiers.paretonbd_model, horizon double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_paretonbd_expected_purchases_new';
COMMENT ON FUNCTION tiers.expected_purchases(tiers.paretonbd_model, double precision) IS
    'Expected purchases of a new customer within horizon under the Pareto/NBD: r beta/(alpha (s-1)) [1 - (beta/(beta+t))^(s-1)].';
CREATE FUNCTION tiers.clv_estimate(purchase_model tiers.paretonbd_model, gg_model tiers.gamma_gamma_model,
                                   frequency double precision, recency double precision,
                                   tenure double precision, monetary double precision,
                                   horizon interval, discount_rate double precision, unit interval,
                                   discount_period interval DEFAULT interval '1 month')
    RETURNS double precision LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_paretonbd_clv_estimate';
COMMENT ON FUNCTION tiers.clv_estimate(tiers.paretonbd_model, tiers.gamma_gamma_model, double precision, double precision, double precision, double precision, interval, double precision, interval, interval) IS
    'Discounted expected revenue over horizon with a Pareto/NBD purchase model (see the BG/NBD overload).';

------------------------------------------------------------------------------------------
-- intervals of predictions from the parameters' uncertainty (issue 13)
------------------------------------------------------------------------------------------
CREATE FUNCTION tiers.expected_purchases_interval(model tiers.bgnbd_model, horizon double precision,
                                                  frequency double precision, recency double precision,
                                                  tenure double precision, level double precision DEFAULT 0.9)
    RETURNS tiers.prediction_interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_bgnbd_expected_purchases_interval';
COMMENT ON FUNCTION tiers.expected_purchases_interval(tiers.bgnbd_model, double precision, double precision, double precision, double precision, double precision) IS
    'tiers.expected_purchases(model, horizon, frequency, recency, tenure) with its level confidence interval (default 90 %) from the uncertainty of the fitted parameters: the delta method on the log scale over model.covariance (estimate * exp(-/+ z sd), sd from central differences of ln expected_purchases in ln parameters). low, high and se are NULL when the model has no covariance. Bad history, horizon or a level outside (0, 1): 22023; NULL arguments: NULL.';
CREATE FUNCTION tiers.expected_purchases_interval(model tiers.mbgnbd_model, horizon double precision,
                                                  frequency double precision, recency double precision,
                                                  tenure double precision, level double precision DEFAULT 0.9)
    RETURNS tiers.prediction_interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_mbgnbd_expected_purchases_interval';
COMMENT ON FUNCTION tiers.expected_purchases_interval(tiers.mbgnbd_model, double precision, double precision, double precision, double precision, double precision) IS
    'tiers.expected_purchases_interval for an MBG/NBD model.';
CREATE FUNCTION tiers.expected_purchases_interval(model tiers.paretonbd_model, horizon double precision,
                                                  frequency double precision, recency double precision,
                                                  tenure double precision, level double precision DEFAULT 0.9)
    RETURNS tiers.prediction_interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_paretonbd_expected_purchases_interval';
COMMENT ON FUNCTION tiers.expected_purchases_interval(tiers.paretonbd_model, double precision, double precision, double precision, double precision, double precision) IS
    'tiers.expected_purchases_interval for a Pareto/NBD model.';
CREATE FUNCTION tiers.clv_interval(purchase_model tiers.bgnbd_model, gg_model tiers.gamma_gamma_model,
                                   frequency double precision, recency double precision,
                                   tenure double precision, monetary double precision,
                                   horizon interval, discount_rate double precision, unit interval,
                                   discount_period interval DEFAULT interval '1 month',
                                   level double precision DEFAULT 0.9)
    RETURNS tiers.prediction_interval LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_bgnbd_clv_interval';
COMMENT ON FUNCTION tiers.clv_interval(tiers.bgnbd_model, tiers.gamma_gamma_model, double precision, double precision, double precision, double precision, interval, double precision, interval, interval, double precision) IS
    'tiers.clv_estimate with its level confidence interval (default 90 %) from the uncertainty of both fitted models (their covariances, independent of each other as Gamma-Gamma assumes): the delta method on the log scale. low, high and se are NULL when either model has no covariance. Arguments, NULLs and errors as tiers.clv_estimate; level outside (0, 1) or NULL: 22023 / 22004.';
CREATE FUNCTION tiers.clv_interval(purchase_model tiers.mbgnbd_model, gg_model tiers.gamma_gamma_model,
                                   frequency double precision, recency double precision,
                                   tenure double precision, monetary double precision,
                                   horizon interval, discount_rate double precision, unit interval,
                                   discount_period interval DEFAULT interval '1 month',
                                   level double precision DEFAULT 0.9)
    RETURNS tiers.prediction_interval LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_mbgnbd_clv_interval';
COMMENT ON FUNCTION tiers.clv_interval(tiers.mbgnbd_model, tiers.gamma_gamma_model, double precision, double precision, double precision, double precision, interval, double precision, interval, interval, double precision) IS
    'tiers.clv_interval with an MBG/NBD purchase model.';
CREATE FUNCTION tiers.clv_interval(purchase_model tiers.paretonbd_model, gg_model tiers.gamma_gamma_model,
                                   frequency double precision, recency double precision,
                                   tenure double precision, monetary double precision,
                                   horizon interval, discount_rate double precision, unit interval,
                                   discount_period interval DEFAULT interval '1 month',
                                   level double precision DEFAULT 0.9)
    RETURNS tiers.prediction_interval LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_paretonbd_clv_interval';
COMMENT ON FUNCTION tiers.clv_interval(tiers.paretonbd_model, tiers.gamma_gamma_model, double precision, double precision, double precision, double precision, interval, double precision, interval, interval, double precision) IS
    'tiers.clv_interval with a Pareto/NBD purchase model.';

-- Purchase counts and churn (issue 13): BG/NBD, MBG/NBD, Pareto/NBD ------------------------------
CREATE FUNCTION tiers.probability_of_purchases(model tiers.bgnbd_model, n integer, t double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_probability_of_purchases';
COMMENT ON FUNCTION tiers.probability_of_purchases(tiers.bgnbd_model, integer, double precision) IS
    'P(exactly n purchases within t) of a new customer under a BG/NBD model (t in the unit of the summaries the model was fitted on). Matches lifetimes where it has the quantity. n < 0, t < 0 or not finite: 22023.';
CREATE FUNCTION tiers.probability_of_purchases(model tiers.bgnbd_model, n integer, t double precision,
                                               frequency double precision, recency double precision, tenure double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_probability_of_purchases';
COMMENT ON FUNCTION tiers.probability_of_purchases(tiers.bgnbd_model, integer, double precision, double precision, double precision, double precision) IS
    'P(exactly n purchases in the next t | frequency, recency, tenure) under a BG/NBD model: (n = 0)(1 - p_alive) + p_alive P_new(n; the posterior of a customer alive at tenure); sums to 1 over n, its mean is expected_purchases (tested).';
CREATE FUNCTION tiers.churn_probability(model tiers.bgnbd_model, t double precision, frequency double precision,
                                        recency double precision, tenure double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_churn_probability';
COMMENT ON FUNCTION tiers.churn_probability(tiers.bgnbd_model, double precision, double precision, double precision, double precision) IS
    'P(no purchase in the next t | frequency, recency, tenure) under a BG/NBD model (流失预警): customers who left plus those alive who do not buy in t; 1 - p_alive is the probability of having left.';
CREATE FUNCTION tiers.probability_of_purchases(model tiers.mbgnbd_model, n integer, t double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_mbgnbd_probability_of_purchases';
COMMENT ON FUNCTION tiers.probability_of_purchases(tiers.mbgnbd_model, integer, double precision) IS
    'P(exactly n purchases within t) of a new customer under a MBG/NBD model (t in the unit of the summaries the model was fitted on). Matches lifetimes where it has the quantity. n < 0, t < 0 or not finite: 22023.';
CREATE FUNCTION tiers.probability_of_purchases(model tiers.mbgnbd_model, n integer, t double precision,
                                               frequency double precision, recency double precision, tenure double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_mbgnbd_probability_of_purchases';
COMMENT ON FUNCTION tiers.probability_of_purchases(tiers.mbgnbd_model, integer, double precision, double precision, double precision, double precision) IS
    'P(exactly n purchases in the next t | frequency, recency, tenure) under a MBG/NBD model: (n = 0)(1 - p_alive) + p_alive P_new(n; the posterior of a customer alive at tenure); sums to 1 over n, its mean is expected_purchases (tested).';
CREATE FUNCTION tiers.churn_probability(model tiers.mbgnbd_model, t double precision, frequency double precision,
                                        recency double precision, tenure double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_mbgnbd_churn_probability';
COMMENT ON FUNCTION tiers.churn_probability(tiers.mbgnbd_model, double precision, double precision, double precision, double precision) IS
    'P(no purchase in the next t | frequency, recency, tenure) under a MBG/NBD model (流失预警): customers who left plus those alive who do not buy in t; 1 - p_alive is the probability of having left.';
CREATE FUNCTION tiers.probability_of_purchases(model tiers.paretonbd_model, n integer, t double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_paretonbd_probability_of_purchases';
COMMENT ON FUNCTION tiers.probability_of_purchases(tiers.paretonbd_model, integer, double precision) IS
    'P(exactly n purchases within t) of a new customer under a Pareto/NBD model (t in the unit of the summaries the model was fitted on). Matches lifetimes where it has the quantity. n < 0, t < 0 or not finite: 22023.';
CREATE FUNCTION tiers.probability_of_purchases(model tiers.paretonbd_model, n integer, t double precision,
                                               frequency double precision, recency double precision, tenure double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_paretonbd_probability_of_purchases';
COMMENT ON FUNCTION tiers.probability_of_purchases(tiers.paretonbd_model, integer, double precision, double precision, double precision, double precision) IS
    'P(exactly n purchases in the next t | frequency, recency, tenure) under a Pareto/NBD model: (n = 0)(1 - p_alive) + p_alive P_new(n; the posterior of a customer alive at tenure); sums to 1 over n, its mean is expected_purchases (tested).';
CREATE FUNCTION tiers.churn_probability(model tiers.paretonbd_model, t double precision, frequency double precision,
                                        recency double precision, tenure double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_paretonbd_churn_probability';
COMMENT ON FUNCTION tiers.churn_probability(tiers.paretonbd_model, double precision, double precision, double precision, double precision) IS
    'P(no purchase in the next t | frequency, recency, tenure) under a Pareto/NBD model (流失预警): customers who left plus those alive who do not buy in t; 1 - p_alive is the probability of having left.';
