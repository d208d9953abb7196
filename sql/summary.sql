-- Per-customer summaries: customer_summary and holdout_summary (src/summary.rs, core/src/summary.rs).

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
COMMENT ON TYPE tiers.customer_summary IS
    'Result of tiers.customer_summary: first_purchase, last_purchase, orders, returns, occasions, frequency, recency, tenure, since_last, monetary_total, monetary.';

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
    'Result of tiers.holdout_summary: the fields of tiers.customer_summary as of calibration_end (first_purchase ... monetary), then the holdout period (calibration_end, holdout_end]: holdout_orders (rows with an amount >= 0 or NULL), holdout_occasions (distinct purchase days: lifetimes'' frequency_holdout), holdout_monetary_total (net value, returns netted), holdout_monetary (holdout_monetary_total / holdout_occasions, the mean value of a holdout purchase day, 0 without one as in lifetimes, whose monetary_value_holdout averages rows instead of days), holdout_length (holdout_end - calibration_end in unit: lifetimes'' duration_holdout).';
-- customer_tiers API: hand-written C-language functions and aggregates over the raw
-- functions of the extension library, presets, guards and comments.
-- Every function states its volatility and parallel safety; every object has a COMMENT.

------------------------------------------------------------------------------------------
-- customer_summary(ordered_at, amount, as_of [, unit])
------------------------------------------------------------------------------------------
CREATE FUNCTION tiers.customer_summary_trans(internal, date, double precision, date)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_date_f8';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, date, double precision, date) IS 'Transition function of tiers.customer_summary (internal).';
CREATE FUNCTION tiers.customer_summary_trans(internal, date, numeric, date)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_date_num';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, date, numeric, date) IS 'Transition function of tiers.customer_summary (internal).';
CREATE FUNCTION tiers.customer_summary_trans(internal, timestamp without time zone, double precision, timestamp without time zone)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_ts_f8';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, timestamp without time zone, double precision, timestamp without time zone) IS 'Transition function of tiers.customer_summary (internal).';
CREATE FUNCTION tiers.customer_summary_trans(internal, timestamp without time zone, numeric, timestamp without time zone)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_ts_num';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, timestamp without time zone, numeric, timestamp without time zone) IS 'Transition function of tiers.customer_summary (internal).';
CREATE FUNCTION tiers.customer_summary_trans(internal, timestamp with time zone, double precision, timestamp with time zone)
    RETURNS internal LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_tstz_f8';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, timestamp with time zone, double precision, timestamp with time zone) IS 'Transition function of tiers.customer_summary (internal).';
CREATE FUNCTION tiers.customer_summary_trans(internal, timestamp with time zone, numeric, timestamp with time zone)
    RETURNS internal LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_tstz_num';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, timestamp with time zone, numeric, timestamp with time zone) IS 'Transition function of tiers.customer_summary (internal).';
CREATE FUNCTION tiers.customer_summary_trans(internal, date, double precision, date, interval)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_date_f8_unit';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, date, double precision, date, interval) IS 'Transition function of tiers.customer_summary (internal).';
CREATE FUNCTION tiers.customer_summary_trans(internal, date, numeric, date, interval)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_date_num_unit';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, date, numeric, date, interval) IS 'Transition function of tiers.customer_summary (internal).';
CREATE FUNCTION tiers.customer_summary_trans(internal, timestamp without time zone, double precision, timestamp without time zone, interval)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_ts_f8_unit';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, timestamp without time zone, double precision, timestamp without time zone, interval) IS 'Transition function of tiers.customer_summary (internal).';
CREATE FUNCTION tiers.customer_summary_trans(internal, timestamp without time zone, numeric, timestamp without time zone, interval)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_ts_num_unit';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, timestamp without time zone, numeric, timestamp without time zone, interval) IS 'Transition function of tiers.customer_summary (internal).';
CREATE FUNCTION tiers.customer_summary_trans(internal, timestamp with time zone, double precision, timestamp with time zone, interval)
    RETURNS internal LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_tstz_f8_unit';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, timestamp with time zone, double precision, timestamp with time zone, interval) IS 'Transition function of tiers.customer_summary (internal).';
CREATE FUNCTION tiers.customer_summary_trans(internal, timestamp with time zone, numeric, timestamp with time zone, interval)
    RETURNS internal LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_tstz_num_unit';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, timestamp with time zone, numeric, timestamp with time zone, interval) IS 'Transition function of tiers.customer_summary (internal).';
CREATE FUNCTION tiers.customer_summary_combine(internal, internal)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_combine';
COMMENT ON FUNCTION tiers.customer_summary_combine(internal, internal) IS 'Combine function of tiers.customer_summary (parallel aggregation, internal).';
CREATE FUNCTION tiers.customer_summary_serialize(internal)
    RETURNS bytea LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_serialize';
COMMENT ON FUNCTION tiers.customer_summary_serialize(internal) IS 'Serializes a tiers.customer_summary state (versioned binary, internal).';
CREATE FUNCTION tiers.customer_summary_deserialize(bytea, internal)
    RETURNS internal LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_deserialize';
COMMENT ON FUNCTION tiers.customer_summary_deserialize(bytea, internal) IS 'Deserializes a tiers.customer_summary state; rejects damaged input (internal).';
CREATE FUNCTION tiers.customer_summary_final(internal)
    RETURNS tiers.customer_summary LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_final';
COMMENT ON FUNCTION tiers.customer_summary_final(internal) IS 'Final function of tiers.customer_summary (internal).';
CREATE AGGREGATE tiers.customer_summary(ordered_at date, amount double precision, as_of date) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.customer_summary(date, double precision, date) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
CREATE AGGREGATE tiers.customer_summary(ordered_at date, amount numeric, as_of date) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.customer_summary(date, numeric, date) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
CREATE AGGREGATE tiers.customer_summary(ordered_at timestamp without time zone, amount double precision, as_of timestamp without time zone) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.customer_summary(timestamp without time zone, double precision, timestamp without time zone) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
CREATE AGGREGATE tiers.customer_summary(ordered_at timestamp without time zone, amount numeric, as_of timestamp without time zone) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.customer_summary(timestamp without time zone, numeric, timestamp without time zone) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
CREATE AGGREGATE tiers.customer_summary(ordered_at timestamp with time zone, amount double precision, as_of timestamp with time zone) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.customer_summary(timestamp with time zone, double precision, timestamp with time zone) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
CREATE AGGREGATE tiers.customer_summary(ordered_at timestamp with time zone, amount numeric, as_of timestamp with time zone) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.customer_summary(timestamp with time zone, numeric, timestamp with time zone) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
CREATE AGGREGATE tiers.customer_summary(ordered_at date, amount double precision, as_of date, unit interval) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.customer_summary(date, double precision, date, interval) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
CREATE AGGREGATE tiers.customer_summary(ordered_at date, amount numeric, as_of date, unit interval) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.customer_summary(date, numeric, date, interval) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
CREATE AGGREGATE tiers.customer_summary(ordered_at timestamp without time zone, amount double precision, as_of timestamp without time zone, unit interval) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.customer_summary(timestamp without time zone, double precision, timestamp without time zone, interval) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
CREATE AGGREGATE tiers.customer_summary(ordered_at timestamp without time zone, amount numeric, as_of timestamp without time zone, unit interval) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.customer_summary(timestamp without time zone, numeric, timestamp without time zone, interval) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
CREATE AGGREGATE tiers.customer_summary(ordered_at timestamp with time zone, amount double precision, as_of timestamp with time zone, unit interval) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.customer_summary(timestamp with time zone, double precision, timestamp with time zone, interval) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
CREATE AGGREGATE tiers.customer_summary(ordered_at timestamp with time zone, amount numeric, as_of timestamp with time zone, unit interval) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.customer_summary(timestamp with time zone, numeric, timestamp with time zone, interval) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';

------------------------------------------------------------------------------------------
-- holdout_summary(ordered_at, amount, calibration_end, holdout_end [, unit])
------------------------------------------------------------------------------------------
CREATE FUNCTION tiers.holdout_summary_trans(internal, date, double precision, date, date)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_holdout_summary_trans_date_f8';
COMMENT ON FUNCTION tiers.holdout_summary_trans(internal, date, double precision, date, date) IS 'Transition function of tiers.holdout_summary (internal).';
CREATE FUNCTION tiers.holdout_summary_trans(internal, date, numeric, date, date)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_holdout_summary_trans_date_num';
COMMENT ON FUNCTION tiers.holdout_summary_trans(internal, date, numeric, date, date) IS 'Transition function of tiers.holdout_summary (internal).';
CREATE FUNCTION tiers.holdout_summary_trans(internal, timestamp without time zone, double precision, timestamp without time zone, timestamp without time zone)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_holdout_summary_trans_ts_f8';
COMMENT ON FUNCTION tiers.holdout_summary_trans(internal, timestamp without time zone, double precision, timestamp without time zone, timestamp without time zone) IS 'Transition function of tiers.holdout_summary (internal).';
CREATE FUNCTION tiers.holdout_summary_trans(internal, timestamp without time zone, numeric, timestamp without time zone, timestamp without time zone)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_holdout_summary_trans_ts_num';
COMMENT ON FUNCTION tiers.holdout_summary_trans(internal, timestamp without time zone, numeric, timestamp without time zone, timestamp without time zone) IS 'Transition function of tiers.holdout_summary (internal).';
CREATE FUNCTION tiers.holdout_summary_trans(internal, timestamp with time zone, double precision, timestamp with time zone, timestamp with time zone)
    RETURNS internal LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_holdout_summary_trans_tstz_f8';
COMMENT ON FUNCTION tiers.holdout_summary_trans(internal, timestamp with time zone, double precision, timestamp with time zone, timestamp with time zone) IS 'Transition function of tiers.holdout_summary (internal).';
CREATE FUNCTION tiers.holdout_summary_trans(internal, timestamp with time zone, numeric, timestamp with time zone, timestamp with time zone)
    RETURNS internal LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_holdout_summary_trans_tstz_num';
COMMENT ON FUNCTION tiers.holdout_summary_trans(internal, timestamp with time zone, numeric, timestamp with time zone, timestamp with time zone) IS 'Transition function of tiers.holdout_summary (internal).';
CREATE FUNCTION tiers.holdout_summary_trans(internal, date, double precision, date, date, interval)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_holdout_summary_trans_date_f8_unit';
COMMENT ON FUNCTION tiers.holdout_summary_trans(internal, date, double precision, date, date, interval) IS 'Transition function of tiers.holdout_summary (internal).';
CREATE FUNCTION tiers.holdout_summary_trans(internal, date, numeric, date, date, interval)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_holdout_summary_trans_date_num_unit';
COMMENT ON FUNCTION tiers.holdout_summary_trans(internal, date, numeric, date, date, interval) IS 'Transition function of tiers.holdout_summary (internal).';
CREATE FUNCTION tiers.holdout_summary_trans(internal, timestamp without time zone, double precision, timestamp without time zone, timestamp without time zone, interval)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_holdout_summary_trans_ts_f8_unit';
COMMENT ON FUNCTION tiers.holdout_summary_trans(internal, timestamp without time zone, double precision, timestamp without time zone, timestamp without time zone, interval) IS 'Transition function of tiers.holdout_summary (internal).';
CREATE FUNCTION tiers.holdout_summary_trans(internal, timestamp without time zone, numeric, timestamp without time zone, timestamp without time zone, interval)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_holdout_summary_trans_ts_num_unit';
COMMENT ON FUNCTION tiers.holdout_summary_trans(internal, timestamp without time zone, numeric, timestamp without time zone, timestamp without time zone, interval) IS 'Transition function of tiers.holdout_summary (internal).';
CREATE FUNCTION tiers.holdout_summary_trans(internal, timestamp with time zone, double precision, timestamp with time zone, timestamp with time zone, interval)
    RETURNS internal LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_holdout_summary_trans_tstz_f8_unit';
COMMENT ON FUNCTION tiers.holdout_summary_trans(internal, timestamp with time zone, double precision, timestamp with time zone, timestamp with time zone, interval) IS 'Transition function of tiers.holdout_summary (internal).';
CREATE FUNCTION tiers.holdout_summary_trans(internal, timestamp with time zone, numeric, timestamp with time zone, timestamp with time zone, interval)
    RETURNS internal LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_holdout_summary_trans_tstz_num_unit';
COMMENT ON FUNCTION tiers.holdout_summary_trans(internal, timestamp with time zone, numeric, timestamp with time zone, timestamp with time zone, interval) IS 'Transition function of tiers.holdout_summary (internal).';
CREATE FUNCTION tiers.holdout_summary_combine(internal, internal)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_holdout_summary_combine';
COMMENT ON FUNCTION tiers.holdout_summary_combine(internal, internal) IS 'Combine function of tiers.holdout_summary (parallel aggregation, internal).';
CREATE FUNCTION tiers.holdout_summary_serialize(internal)
    RETURNS bytea LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_holdout_summary_serialize';
COMMENT ON FUNCTION tiers.holdout_summary_serialize(internal) IS 'Serializes a tiers.holdout_summary state (versioned binary, internal).';
CREATE FUNCTION tiers.holdout_summary_deserialize(bytea, internal)
    RETURNS internal LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_holdout_summary_deserialize';
COMMENT ON FUNCTION tiers.holdout_summary_deserialize(bytea, internal) IS 'Deserializes a tiers.holdout_summary state; rejects damaged input (internal).';
CREATE FUNCTION tiers.holdout_summary_final(internal)
    RETURNS tiers.holdout_summary LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_holdout_summary_final';
COMMENT ON FUNCTION tiers.holdout_summary_final(internal) IS 'Final function of tiers.holdout_summary (internal).';
CREATE AGGREGATE tiers.holdout_summary(ordered_at date, amount double precision, calibration_end date, holdout_end date) (
    SFUNC = tiers.holdout_summary_trans, STYPE = internal, SSPACE = 320,
    FINALFUNC = tiers.holdout_summary_final,
    COMBINEFUNC = tiers.holdout_summary_combine,
    SERIALFUNC = tiers.holdout_summary_serialize,
    DESERIALFUNC = tiers.holdout_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.holdout_summary(date, double precision, date, date) IS
    'Calibration and holdout summary of one customer''s orders in one pass (use with GROUP BY customer; lifetimes'' calibration_and_holdout_data with freq=''D''): the tiers.customer_summary fields as of calibration_end, then holdout_orders, holdout_occasions (distinct purchase days after calibration_end up to holdout_end), holdout_monetary_total, holdout_monetary (mean value of a holdout purchase day, 0 without one) and holdout_length (holdout_end - calibration_end), times in unit (default 1 day). Negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount is an order of unknown (zero) value; rows after holdout_end are ignored. NULL when the customer has no order up to calibration_end (as lifetimes leaves such customers out). calibration_end, holdout_end or unit NULL: 22004; holdout_end not after calibration_end, a non-positive unit or different values within a group: 22023; infinite dates: 22008.';
CREATE AGGREGATE tiers.holdout_summary(ordered_at date, amount numeric, calibration_end date, holdout_end date) (
    SFUNC = tiers.holdout_summary_trans, STYPE = internal, SSPACE = 320,
    FINALFUNC = tiers.holdout_summary_final,
    COMBINEFUNC = tiers.holdout_summary_combine,
    SERIALFUNC = tiers.holdout_summary_serialize,
    DESERIALFUNC = tiers.holdout_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.holdout_summary(date, numeric, date, date) IS
    'tiers.holdout_summary for these argument types.';
CREATE AGGREGATE tiers.holdout_summary(ordered_at timestamp without time zone, amount double precision, calibration_end timestamp without time zone, holdout_end timestamp without time zone) (
    SFUNC = tiers.holdout_summary_trans, STYPE = internal, SSPACE = 320,
    FINALFUNC = tiers.holdout_summary_final,
    COMBINEFUNC = tiers.holdout_summary_combine,
    SERIALFUNC = tiers.holdout_summary_serialize,
    DESERIALFUNC = tiers.holdout_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.holdout_summary(timestamp without time zone, double precision, timestamp without time zone, timestamp without time zone) IS
    'tiers.holdout_summary for these argument types.';
CREATE AGGREGATE tiers.holdout_summary(ordered_at timestamp without time zone, amount numeric, calibration_end timestamp without time zone, holdout_end timestamp without time zone) (
    SFUNC = tiers.holdout_summary_trans, STYPE = internal, SSPACE = 320,
    FINALFUNC = tiers.holdout_summary_final,
    COMBINEFUNC = tiers.holdout_summary_combine,
    SERIALFUNC = tiers.holdout_summary_serialize,
    DESERIALFUNC = tiers.holdout_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.holdout_summary(timestamp without time zone, numeric, timestamp without time zone, timestamp without time zone) IS
    'tiers.holdout_summary for these argument types.';
CREATE AGGREGATE tiers.holdout_summary(ordered_at timestamp with time zone, amount double precision, calibration_end timestamp with time zone, holdout_end timestamp with time zone) (
    SFUNC = tiers.holdout_summary_trans, STYPE = internal, SSPACE = 320,
    FINALFUNC = tiers.holdout_summary_final,
    COMBINEFUNC = tiers.holdout_summary_combine,
    SERIALFUNC = tiers.holdout_summary_serialize,
    DESERIALFUNC = tiers.holdout_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.holdout_summary(timestamp with time zone, double precision, timestamp with time zone, timestamp with time zone) IS
    'tiers.holdout_summary for these argument types.';
CREATE AGGREGATE tiers.holdout_summary(ordered_at timestamp with time zone, amount numeric, calibration_end timestamp with time zone, holdout_end timestamp with time zone) (
    SFUNC = tiers.holdout_summary_trans, STYPE = internal, SSPACE = 320,
    FINALFUNC = tiers.holdout_summary_final,
    COMBINEFUNC = tiers.holdout_summary_combine,
    SERIALFUNC = tiers.holdout_summary_serialize,
    DESERIALFUNC = tiers.holdout_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.holdout_summary(timestamp with time zone, numeric, timestamp with time zone, timestamp with time zone) IS
    'tiers.holdout_summary for these argument types.';
CREATE AGGREGATE tiers.holdout_summary(ordered_at date, amount double precision, calibration_end date, holdout_end date, unit interval) (
    SFUNC = tiers.holdout_summary_trans, STYPE = internal, SSPACE = 320,
    FINALFUNC = tiers.holdout_summary_final,
    COMBINEFUNC = tiers.holdout_summary_combine,
    SERIALFUNC = tiers.holdout_summary_serialize,
    DESERIALFUNC = tiers.holdout_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.holdout_summary(date, double precision, date, date, interval) IS
    'tiers.holdout_summary for these argument types.';
CREATE AGGREGATE tiers.holdout_summary(ordered_at date, amount numeric, calibration_end date, holdout_end date, unit interval) (
    SFUNC = tiers.holdout_summary_trans, STYPE = internal, SSPACE = 320,
    FINALFUNC = tiers.holdout_summary_final,
    COMBINEFUNC = tiers.holdout_summary_combine,
    SERIALFUNC = tiers.holdout_summary_serialize,
    DESERIALFUNC = tiers.holdout_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.holdout_summary(date, numeric, date, date, interval) IS
    'tiers.holdout_summary for these argument types.';
CREATE AGGREGATE tiers.holdout_summary(ordered_at timestamp without time zone, amount double precision, calibration_end timestamp without time zone, holdout_end timestamp without time zone, unit interval) (
    SFUNC = tiers.holdout_summary_trans, STYPE = internal, SSPACE = 320,
    FINALFUNC = tiers.holdout_summary_final,
    COMBINEFUNC = tiers.holdout_summary_combine,
    SERIALFUNC = tiers.holdout_summary_serialize,
    DESERIALFUNC = tiers.holdout_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.holdout_summary(timestamp without time zone, double precision, timestamp without time zone, timestamp without time zone, interval) IS
    'tiers.holdout_summary for these argument types.';
CREATE AGGREGATE tiers.holdout_summary(ordered_at timestamp without time zone, amount numeric, calibration_end timestamp without time zone, holdout_end timestamp without time zone, unit interval) (
    SFUNC = tiers.holdout_summary_trans, STYPE = internal, SSPACE = 320,
    FINALFUNC = tiers.holdout_summary_final,
    COMBINEFUNC = tiers.holdout_summary_combine,
    SERIALFUNC = tiers.holdout_summary_serialize,
    DESERIALFUNC = tiers.holdout_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.holdout_summary(timestamp without time zone, numeric, timestamp without time zone, timestamp without time zone, interval) IS
    'tiers.holdout_summary for these argument types.';
CREATE AGGREGATE tiers.holdout_summary(ordered_at timestamp with time zone, amount double precision, calibration_end timestamp with time zone, holdout_end timestamp with time zone, unit interval) (
    SFUNC = tiers.holdout_summary_trans, STYPE = internal, SSPACE = 320,
    FINALFUNC = tiers.holdout_summary_final,
    COMBINEFUNC = tiers.holdout_summary_combine,
    SERIALFUNC = tiers.holdout_summary_serialize,
    DESERIALFUNC = tiers.holdout_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.holdout_summary(timestamp with time zone, double precision, timestamp with time zone, timestamp with time zone, interval) IS
    'tiers.holdout_summary for these argument types.';
CREATE AGGREGATE tiers.holdout_summary(ordered_at timestamp with time zone, amount numeric, calibration_end timestamp with time zone, holdout_end timestamp with time zone, unit interval) (
    SFUNC = tiers.holdout_summary_trans, STYPE = internal, SSPACE = 320,
    FINALFUNC = tiers.holdout_summary_final,
    COMBINEFUNC = tiers.holdout_summary_combine,
    SERIALFUNC = tiers.holdout_summary_serialize,
    DESERIALFUNC = tiers.holdout_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.holdout_summary(timestamp with time zone, numeric, timestamp with time zone, timestamp with time zone, interval) IS
    'tiers.holdout_summary for these argument types.';

------------------------------------------------------------------------------------------
-- summary_state: a storable, mergeable, bounded per-customer summary (issue 15)
------------------------------------------------------------------------------------------
CREATE TYPE tiers.summary_state;
CREATE FUNCTION tiers.summary_state_in(cstring) RETURNS tiers.summary_state
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_summary_state_in';
COMMENT ON FUNCTION tiers.summary_state_in(cstring) IS 'Input function of tiers.summary_state (the text form v1:<hex>); anything else: 22P02.';
CREATE FUNCTION tiers.summary_state_out(tiers.summary_state) RETURNS cstring
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_summary_state_out';
COMMENT ON FUNCTION tiers.summary_state_out(tiers.summary_state) IS 'Output function of tiers.summary_state (v1: and the versioned encoding in hex).';
CREATE FUNCTION tiers.summary_state_recv(internal) RETURNS tiers.summary_state
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_summary_state_recv';
COMMENT ON FUNCTION tiers.summary_state_recv(internal) IS 'Binary input of tiers.summary_state (the versioned encoding, checked; damaged: 22P03).';
CREATE FUNCTION tiers.summary_state_send(tiers.summary_state) RETURNS bytea
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_summary_state_send';
COMMENT ON FUNCTION tiers.summary_state_send(tiers.summary_state) IS 'Binary output of tiers.summary_state (the versioned encoding).';
CREATE TYPE tiers.summary_state (
    INPUT = tiers.summary_state_in, OUTPUT = tiers.summary_state_out,
    RECEIVE = tiers.summary_state_recv, SEND = tiers.summary_state_send,
    INTERNALLENGTH = VARIABLE, STORAGE = extended);
COMMENT ON TYPE tiers.summary_state IS
    'A customer''s purchase history condensed for storage (tiers.summary_state aggregate): mergeable (tiers.summary_state_merge) and turned into the customer summary at any as_of by tiers.summary_from_state, equal to tiers.customer_summary over the same orders. No as_of inside: every row counts. Size bounded by 80 bytes + min(4 + 4 x purchase days, 8 + span in days / 8) + 20 bytes per return-only day before the first purchase (at most 545 bytes for ten years of daily purchases).';

CREATE FUNCTION tiers.summary_state_trans(internal, date, double precision)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_state_trans_date_f8';
COMMENT ON FUNCTION tiers.summary_state_trans(internal, date, double precision) IS 'Transition function of tiers.summary_state (internal).';
CREATE FUNCTION tiers.summary_state_trans(internal, date, numeric)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_state_trans_date_num';
COMMENT ON FUNCTION tiers.summary_state_trans(internal, date, numeric) IS 'Transition function of tiers.summary_state (internal).';
CREATE FUNCTION tiers.summary_state_trans(internal, timestamp without time zone, double precision)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_state_trans_ts_f8';
COMMENT ON FUNCTION tiers.summary_state_trans(internal, timestamp without time zone, double precision) IS 'Transition function of tiers.summary_state (internal).';
CREATE FUNCTION tiers.summary_state_trans(internal, timestamp without time zone, numeric)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_state_trans_ts_num';
COMMENT ON FUNCTION tiers.summary_state_trans(internal, timestamp without time zone, numeric) IS 'Transition function of tiers.summary_state (internal).';
CREATE FUNCTION tiers.summary_state_trans(internal, timestamp with time zone, double precision)
    RETURNS internal LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_state_trans_tstz_f8';
COMMENT ON FUNCTION tiers.summary_state_trans(internal, timestamp with time zone, double precision) IS 'Transition function of tiers.summary_state (internal).';
CREATE FUNCTION tiers.summary_state_trans(internal, timestamp with time zone, numeric)
    RETURNS internal LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_state_trans_tstz_num';
COMMENT ON FUNCTION tiers.summary_state_trans(internal, timestamp with time zone, numeric) IS 'Transition function of tiers.summary_state (internal).';
CREATE FUNCTION tiers.summary_state_merge_trans(internal, tiers.summary_state)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_state_merge_trans';
COMMENT ON FUNCTION tiers.summary_state_merge_trans(internal, tiers.summary_state) IS 'Transition function of the aggregate tiers.summary_state_merge (internal).';
CREATE FUNCTION tiers.summary_state_combine(internal, internal)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_state_combine';
COMMENT ON FUNCTION tiers.summary_state_combine(internal, internal) IS 'Combine function of tiers.summary_state and tiers.summary_state_merge (parallel aggregation, internal).';
CREATE FUNCTION tiers.summary_state_serialize(internal)
    RETURNS bytea LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_state_serialize';
COMMENT ON FUNCTION tiers.summary_state_serialize(internal) IS 'Serializes a tiers.summary_state aggregate state (internal).';
CREATE FUNCTION tiers.summary_state_deserialize(bytea, internal)
    RETURNS internal LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_state_deserialize';
COMMENT ON FUNCTION tiers.summary_state_deserialize(bytea, internal) IS 'Deserializes a tiers.summary_state aggregate state; rejects damaged input (internal).';
CREATE FUNCTION tiers.summary_state_final(internal)
    RETURNS tiers.summary_state LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_state_final';
COMMENT ON FUNCTION tiers.summary_state_final(internal) IS 'Final function of tiers.summary_state and tiers.summary_state_merge (internal).';

CREATE AGGREGATE tiers.summary_state(ordered_at date, amount double precision) (
    SFUNC = tiers.summary_state_trans, STYPE = internal, SSPACE = 128,
    FINALFUNC = tiers.summary_state_final,
    COMBINEFUNC = tiers.summary_state_combine,
    SERIALFUNC = tiers.summary_state_serialize,
    DESERIALFUNC = tiers.summary_state_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.summary_state(date, double precision) IS
    'The storable summary state of a customer''s rows (use with GROUP BY customer): the same row rules as tiers.customer_summary (negative amounts are returns, a NULL amount an order of unknown value, NULL ordered_at rows ignored) but no as_of: every row counts. Merge states with tiers.summary_state_merge; read the summary with tiers.summary_from_state. NULL when no row has an ordered_at. Calendar days of timestamptz rows are those of the session''s time zone.';
CREATE AGGREGATE tiers.summary_state(ordered_at date, amount numeric) (
    SFUNC = tiers.summary_state_trans, STYPE = internal, SSPACE = 128,
    FINALFUNC = tiers.summary_state_final,
    COMBINEFUNC = tiers.summary_state_combine,
    SERIALFUNC = tiers.summary_state_serialize,
    DESERIALFUNC = tiers.summary_state_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.summary_state(date, numeric) IS
    'tiers.summary_state for these argument types.';
CREATE AGGREGATE tiers.summary_state(ordered_at timestamp without time zone, amount double precision) (
    SFUNC = tiers.summary_state_trans, STYPE = internal, SSPACE = 128,
    FINALFUNC = tiers.summary_state_final,
    COMBINEFUNC = tiers.summary_state_combine,
    SERIALFUNC = tiers.summary_state_serialize,
    DESERIALFUNC = tiers.summary_state_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.summary_state(timestamp without time zone, double precision) IS
    'tiers.summary_state for these argument types.';
CREATE AGGREGATE tiers.summary_state(ordered_at timestamp without time zone, amount numeric) (
    SFUNC = tiers.summary_state_trans, STYPE = internal, SSPACE = 128,
    FINALFUNC = tiers.summary_state_final,
    COMBINEFUNC = tiers.summary_state_combine,
    SERIALFUNC = tiers.summary_state_serialize,
    DESERIALFUNC = tiers.summary_state_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.summary_state(timestamp without time zone, numeric) IS
    'tiers.summary_state for these argument types.';
CREATE AGGREGATE tiers.summary_state(ordered_at timestamp with time zone, amount double precision) (
    SFUNC = tiers.summary_state_trans, STYPE = internal, SSPACE = 128,
    FINALFUNC = tiers.summary_state_final,
    COMBINEFUNC = tiers.summary_state_combine,
    SERIALFUNC = tiers.summary_state_serialize,
    DESERIALFUNC = tiers.summary_state_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.summary_state(timestamp with time zone, double precision) IS
    'tiers.summary_state for these argument types.';
CREATE AGGREGATE tiers.summary_state(ordered_at timestamp with time zone, amount numeric) (
    SFUNC = tiers.summary_state_trans, STYPE = internal, SSPACE = 128,
    FINALFUNC = tiers.summary_state_final,
    COMBINEFUNC = tiers.summary_state_combine,
    SERIALFUNC = tiers.summary_state_serialize,
    DESERIALFUNC = tiers.summary_state_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.summary_state(timestamp with time zone, numeric) IS
    'tiers.summary_state for these argument types.';
CREATE AGGREGATE tiers.summary_state_merge(state tiers.summary_state) (
    SFUNC = tiers.summary_state_merge_trans, STYPE = internal, SSPACE = 128,
    FINALFUNC = tiers.summary_state_final,
    COMBINEFUNC = tiers.summary_state_combine,
    SERIALFUNC = tiers.summary_state_serialize,
    DESERIALFUNC = tiers.summary_state_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.summary_state_merge(tiers.summary_state) IS
    'The state of the rows of all the states aggregated (NULL states skipped; NULL when all are NULL). States of different time types: 22023.';
CREATE FUNCTION tiers.summary_state_merge(a tiers.summary_state, b tiers.summary_state)
    RETURNS tiers.summary_state LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_state_merge';
COMMENT ON FUNCTION tiers.summary_state_merge(tiers.summary_state, tiers.summary_state) IS
    'The state of the rows of a and b (commutative and associative; a NULL state has no rows). States of different time types: 22023.';

CREATE FUNCTION tiers.summary_from_state(state tiers.summary_state, as_of date, unit interval DEFAULT '1 day')
    RETURNS tiers.customer_summary LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_from_state_date';
COMMENT ON FUNCTION tiers.summary_from_state(tiers.summary_state, date, interval) IS
    'The customer summary (tiers.customer_summary) of the rows of a state at as_of in unit: equal to tiers.customer_summary over the same rows with the same as_of (the money fields up to rounding). NULL for a NULL state or one without orders. as_of before the state''s latest row: 22023 (a state cannot leave rows out); a state of another time type than as_of: 42804 (the DETAIL names the cast); dates or times beyond the range of timestamp: 22008; NULL as_of or unit: 22004; unit not positive: 22023.';
CREATE FUNCTION tiers.summary_from_state(state tiers.summary_state, as_of timestamp without time zone, unit interval DEFAULT '1 day')
    RETURNS tiers.customer_summary LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_from_state_ts';
COMMENT ON FUNCTION tiers.summary_from_state(tiers.summary_state, timestamp without time zone, interval) IS
    'The customer summary (tiers.customer_summary) of the rows of a state at as_of in unit: equal to tiers.customer_summary over the same rows with the same as_of (the money fields up to rounding). NULL for a NULL state or one without orders. as_of before the state''s latest row: 22023 (a state cannot leave rows out); a state of another time type than as_of: 42804 (the DETAIL names the cast); dates or times beyond the range of timestamp: 22008; NULL as_of or unit: 22004; unit not positive: 22023.';
CREATE FUNCTION tiers.summary_from_state(state tiers.summary_state, as_of timestamp with time zone, unit interval DEFAULT '1 day')
    RETURNS tiers.customer_summary LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_from_state_tstz';
COMMENT ON FUNCTION tiers.summary_from_state(tiers.summary_state, timestamp with time zone, interval) IS
    'The customer summary (tiers.customer_summary) of the rows of a state at as_of in unit: equal to tiers.customer_summary over the same rows with the same as_of (the money fields up to rounding). NULL for a NULL state or one without orders. as_of before the state''s latest row: 22023 (a state cannot leave rows out); a state of another time type than as_of: 42804 (the DETAIL names the cast); dates or times beyond the range of timestamp: 22008; NULL as_of or unit: 22004; unit not positive: 22023.';