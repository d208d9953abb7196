-- ABC / Pareto (src/abc.rs, core/src/abc.rs).

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
COMMENT ON TYPE tiers.abc_model IS
    'An ABC model value: method (before | including | computed), a_cut/b_cut (for computed: the shares held by A and by A+B), a_min/b_min (a value is A when >= a_min, else B when >= b_min, else C; NULL = empty class), customers, total (sum of positive values), per class customers and value.';

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
COMMENT ON TYPE tiers.pareto IS
    'Result of tiers.pareto: customers, total (positive values), net_total, top20_share, gini, and per ABC class (0.80/0.95, before) customers and share of total.';

CREATE TYPE tiers.pareto_point AS (
    customer_share double precision,
    value_share    double precision
);
COMMENT ON TYPE tiers.pareto_point IS 'A point of the Pareto/Lorenz curve: customer_share (top customers by value), value_share.';

------------------------------------------------------------------------------------------
-- ABC / Pareto
------------------------------------------------------------------------------------------
CREATE FUNCTION tiers.abc_trans(bytea, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_abc_trans';
COMMENT ON FUNCTION tiers.abc_trans(bytea, double precision) IS 'Transition function of tiers.abc_model and tiers.pareto (internal).';
CREATE FUNCTION tiers.abc_trans(bytea, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_abc_trans_cuts';
COMMENT ON FUNCTION tiers.abc_trans(bytea, double precision, double precision, double precision) IS 'Transition function of tiers.abc_model (internal).';
CREATE FUNCTION tiers.abc_trans(bytea, double precision, double precision, double precision, text)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_abc_trans_conv';
COMMENT ON FUNCTION tiers.abc_trans(bytea, double precision, double precision, double precision, text) IS 'Transition function of tiers.abc_model (internal).';
CREATE FUNCTION tiers.abc_trans(bytea, double precision, text)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_abc_trans_method';
COMMENT ON FUNCTION tiers.abc_trans(bytea, double precision, text) IS 'Transition function of tiers.abc_model (internal).';
CREATE FUNCTION tiers.pareto_curve_trans(bytea, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_pareto_curve_trans';
COMMENT ON FUNCTION tiers.pareto_curve_trans(bytea, double precision) IS 'Transition function of tiers.pareto_curve (internal).';
CREATE FUNCTION tiers.pareto_curve_trans(bytea, double precision, integer)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_pareto_curve_trans_points';
COMMENT ON FUNCTION tiers.pareto_curve_trans(bytea, double precision, integer) IS 'Transition function of tiers.pareto_curve (internal).';
CREATE FUNCTION tiers.abc_combine(bytea, bytea)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_abc_combine';
COMMENT ON FUNCTION tiers.abc_combine(bytea, bytea) IS 'Combine function of the ABC/Pareto aggregates (internal).';
CREATE FUNCTION tiers.abc_model_final(bytea)
    RETURNS tiers.abc_model LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_abc_model_final';
COMMENT ON FUNCTION tiers.abc_model_final(bytea) IS 'Final function of tiers.abc_model (internal).';
CREATE FUNCTION tiers.pareto_final(bytea)
    RETURNS tiers.pareto LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_pareto_final';
COMMENT ON FUNCTION tiers.pareto_final(bytea) IS 'Final function of tiers.pareto (internal).';
CREATE FUNCTION tiers.pareto_curve_final(bytea)
    RETURNS tiers.pareto_point[] LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_pareto_curve_final';
COMMENT ON FUNCTION tiers.pareto_curve_final(bytea) IS 'Final function of tiers.pareto_curve (internal).';

CREATE AGGREGATE tiers.abc_model(value double precision) (
    SFUNC = tiers.abc_trans, STYPE = bytea, FINALFUNC = tiers.abc_model_final,
    COMBINEFUNC = tiers.abc_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.abc_model(double precision) IS
    'ABC model of customer values with cut-offs 0.80 / 0.95 and the ''before'' convention: customers ranked by value descending; A while the share of the total held by the customers ranked above is below 0.80, B below 0.95, else C. Equal values share a class; values <= 0 are C and add nothing to the total; NULL skipped; NaN/Infinity 22023; NULL for no rows. Classify with tiers.abc_class(value, tiers.abc_model(value) OVER ()).';
CREATE AGGREGATE tiers.abc_model(value double precision, a_cut double precision, b_cut double precision) (
    SFUNC = tiers.abc_trans, STYPE = bytea, FINALFUNC = tiers.abc_model_final,
    COMBINEFUNC = tiers.abc_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.abc_model(double precision, double precision, double precision) IS
    'ABC model with cut-offs a_cut < b_cut in (0, 1) (else 22023), ''before'' convention.';
CREATE AGGREGATE tiers.abc_model(value double precision, a_cut double precision, b_cut double precision, convention text) (
    SFUNC = tiers.abc_trans, STYPE = bytea, FINALFUNC = tiers.abc_model_final,
    COMBINEFUNC = tiers.abc_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.abc_model(double precision, double precision, double precision, text) IS
    'ABC model with cut-offs and convention ''before'' (A while the share of the customers ranked above is below a_cut) or ''including'' (A while the share including the customer and its ties is at most a_cut); other values 22023.';
CREATE AGGREGATE tiers.abc_model(value double precision, convention text) (
    SFUNC = tiers.abc_trans, STYPE = bytea, FINALFUNC = tiers.abc_model_final,
    COMBINEFUNC = tiers.abc_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.abc_model(double precision, text) IS
    'ABC model with the default cut-offs and convention ''before''/''including'', or ''computed'': the computed ABC analysis of Ultsch & Lötsch (PLoS ONE 2015), cut-offs from the value distribution (reproduces the R package ABCanalysis 1.2.1).';
CREATE AGGREGATE tiers.pareto(value double precision) (
    SFUNC = tiers.abc_trans, STYPE = bytea, FINALFUNC = tiers.pareto_final,
    COMBINEFUNC = tiers.abc_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.pareto(double precision) IS
    'Concentration statistics of customer values: customers, total, net_total, top20_share (share held by the top 20 % of customers, Lorenz curve interpolated), gini (NULL when no positive value), and the ABC classes under 0.80/0.95 ''before''. Values <= 0 count as 0; NULL skipped; NULL for no rows.';
CREATE AGGREGATE tiers.pareto_curve(value double precision) (
    SFUNC = tiers.pareto_curve_trans, STYPE = bytea, FINALFUNC = tiers.pareto_curve_final,
    COMBINEFUNC = tiers.abc_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.pareto_curve(double precision) IS
    'The Pareto (Lorenz) curve as 101 points (customer_share, value_share) from (0,0) to (1,1): the share of the total held by the top customer_share of customers.';
CREATE AGGREGATE tiers.pareto_curve(value double precision, points integer) (
    SFUNC = tiers.pareto_curve_trans, STYPE = bytea, FINALFUNC = tiers.pareto_curve_final,
    COMBINEFUNC = tiers.abc_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.pareto_curve(double precision, integer) IS
    'The Pareto curve with points evenly spaced points (2..10001, else 22003).';

CREATE FUNCTION tiers.abc_class(cumulative_share double precision,
                                a_cut double precision DEFAULT 0.80, b_cut double precision DEFAULT 0.95)
    RETURNS text LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_abc_class_share';
COMMENT ON FUNCTION tiers.abc_class(double precision, double precision, double precision) IS
    'ABC class from a cumulative share including the customer (e.g. sum(v) OVER (ORDER BY v DESC) / sum(v) OVER ()): A when <= a_cut (0.80), B when <= b_cut (0.95), else C. Bad cut-offs 22023; NULL gives NULL.';
CREATE FUNCTION tiers.abc_class(value double precision, model tiers.abc_model)
    RETURNS text LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_abc_class_model';
COMMENT ON FUNCTION tiers.abc_class(double precision, tiers.abc_model) IS
    'ABC class of a value under a model: A when value >= a_min, B when >= b_min, else C; values <= 0 are C. NULL gives NULL; NaN/Infinity 22023.';
