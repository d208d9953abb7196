-- BG/BB, the discrete-time purchase model (src/bgbb.rs, core/src/bgbb.rs).

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

-- BG/BB (issue 13): one chance to buy per period (Fader, Hardie & Shang 2010) ------------------

CREATE FUNCTION tiers.bgbb_trans(bytea, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgbb_trans';
COMMENT ON FUNCTION tiers.bgbb_trans(bytea, double precision, double precision, double precision) IS 'Transition function of tiers.bgbb_fit (internal).';
CREATE FUNCTION tiers.bgbb_trans(bytea, double precision, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgbb_trans';
COMMENT ON FUNCTION tiers.bgbb_trans(bytea, double precision, double precision, double precision, double precision) IS 'Transition function of tiers.bgbb_fit with weights (internal).';
CREATE FUNCTION tiers.bgbb_trans(bytea, double precision, double precision, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgbb_trans';
COMMENT ON FUNCTION tiers.bgbb_trans(bytea, double precision, double precision, double precision, double precision, double precision) IS 'Transition function of tiers.bgbb_fit with weights and a penalizer (internal).';
CREATE FUNCTION tiers.bgbb_combine(bytea, bytea)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgbb_combine';
COMMENT ON FUNCTION tiers.bgbb_combine(bytea, bytea) IS 'Combine function of tiers.bgbb_fit (internal).';
CREATE FUNCTION tiers.bgbb_final(bytea)
    RETURNS tiers.bgbb_model LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgbb_final';
COMMENT ON FUNCTION tiers.bgbb_final(bytea) IS 'Final function of tiers.bgbb_fit (internal).';
CREATE AGGREGATE tiers.bgbb_fit(frequency double precision, recency double precision, n_periods double precision) (
    SFUNC = tiers.bgbb_trans, STYPE = bytea, FINALFUNC = tiers.bgbb_final,
    COMBINEFUNC = tiers.bgbb_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.bgbb_fit(double precision, double precision, double precision) IS
    'Fits BG/BB by maximum likelihood to (frequency, recency, n_periods): frequency = repeat transactions in n_periods opportunities, recency = the opportunity of the last one (0 without), whole numbers with 0 <= frequency <= recency <= n_periods (else 22023, naming the argument). Works on distinct patterns; rows with a NULL skipped; no rows: NULL; no repeat buyer: 22023. Reproduces Fader, Hardie & Shang (2010) on the donations data.';
CREATE AGGREGATE tiers.bgbb_fit(frequency double precision, recency double precision, n_periods double precision, weight double precision) (
    SFUNC = tiers.bgbb_trans, STYPE = bytea, FINALFUNC = tiers.bgbb_final,
    COMBINEFUNC = tiers.bgbb_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.bgbb_fit(double precision, double precision, double precision, double precision) IS
    'BG/BB fit with a weight per row (e.g. the number of customers with that pattern; 0 skips the row, negative/NaN 22023).';
CREATE AGGREGATE tiers.bgbb_fit(frequency double precision, recency double precision, n_periods double precision, weight double precision, penalizer double precision) (
    SFUNC = tiers.bgbb_trans, STYPE = bytea, FINALFUNC = tiers.bgbb_final,
    COMBINEFUNC = tiers.bgbb_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.bgbb_fit(double precision, double precision, double precision, double precision, double precision) IS
    'BG/BB fit with weights and an L2 penalizer (finite >= 0, else 22023; NULL: 22004; constant within a group): mean negative log-likelihood plus penalizer * (alpha^2 + beta^2 + gamma^2 + delta^2), as lifetimes; log_likelihood is unpenalized.';

CREATE FUNCTION tiers.p_alive(model tiers.bgbb_model, frequency double precision, recency double precision,
                              n_periods double precision, periods_ahead integer DEFAULT 1)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgbb_p_alive';
COMMENT ON FUNCTION tiers.p_alive(tiers.bgbb_model, double precision, double precision, double precision, integer) IS
    'Probability that a customer with (frequency, recency, n_periods) is alive at opportunity n_periods + periods_ahead under a BG/BB model: periods_ahead 1 (default) is FHS 2010 eq. (11), alive for the next opportunity; 0 is alive at the last observed one (lifetimes'' conditional_probability_alive(m_periods_in_future, ...)). Bad history or periods_ahead < 0: 22023.';
CREATE FUNCTION tiers.expected_purchases(model tiers.bgbb_model, periods double precision, frequency double precision,
                                         recency double precision, n_periods double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgbb_expected_purchases';
COMMENT ON FUNCTION tiers.expected_purchases(tiers.bgbb_model, double precision, double precision, double precision, double precision) IS
    'Expected purchases in the next periods opportunities of a customer with (frequency, recency, n_periods) under a BG/BB model: FHS 2010 eq. (13), lifetimes'' conditional_expected_number_of_purchases_up_to_time. periods a whole number >= 0 (else 22023).';
CREATE FUNCTION tiers.expected_purchases(model tiers.bgbb_model, periods double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgbb_expected_purchases_new';
COMMENT ON FUNCTION tiers.expected_purchases(tiers.bgbb_model, double precision) IS
    'Expected purchases of a new customer in its first periods opportunities under a BG/BB model: FHS 2010 eq. (8).';
CREATE FUNCTION tiers.probability_of_purchases(model tiers.bgbb_model, n integer, periods double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgbb_probability_of_purchases';
COMMENT ON FUNCTION tiers.probability_of_purchases(tiers.bgbb_model, integer, double precision) IS
    'P(exactly n purchases in the first periods opportunities) of a new customer under a BG/BB model: FHS 2010 eq. (7). n < 0 or periods not a whole number >= 0: 22023.';
CREATE FUNCTION tiers.probability_of_purchases(model tiers.bgbb_model, n integer, periods double precision,
                                               frequency double precision, recency double precision, n_periods double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgbb_probability_of_purchases';
COMMENT ON FUNCTION tiers.probability_of_purchases(tiers.bgbb_model, integer, double precision, double precision, double precision, double precision) IS
    'P(exactly n purchases in the next periods opportunities | frequency, recency, n_periods) under a BG/BB model: (n = 0) (1 - pi) + pi P(X(periods) = n | alpha + x, beta + n_periods - x, gamma, delta + n_periods), pi = P(alive at n_periods); sums to 1 over n and its mean is expected_purchases (tested, and against brute-force integration).';
CREATE FUNCTION tiers.churn_probability(model tiers.bgbb_model, periods double precision, frequency double precision,
                                        recency double precision, n_periods double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgbb_churn_probability';
COMMENT ON FUNCTION tiers.churn_probability(tiers.bgbb_model, double precision, double precision, double precision, double precision) IS
    'P(no purchase in the next periods opportunities | frequency, recency, n_periods) under a BG/BB model: the customers who left plus those alive who do not buy (probability_of_purchases at n = 0). 1 - p_alive(model, ..., 0) is the probability of having left already.';
CREATE FUNCTION tiers.expected_purchases_interval(model tiers.bgbb_model, periods double precision,
                                                  frequency double precision, recency double precision,
                                                  n_periods double precision, level double precision DEFAULT 0.9)
    RETURNS tiers.prediction_interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_bgbb_expected_purchases_interval';
COMMENT ON FUNCTION tiers.expected_purchases_interval(tiers.bgbb_model, double precision, double precision, double precision, double precision, double precision) IS
    'tiers.expected_purchases(bgbb_model, periods, frequency, recency, n_periods) with its confidence interval (see the BG/NBD overload).';
