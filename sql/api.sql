-- customer_tiers API: hand-written C-language functions and aggregates over the raw
-- functions of the extension library, presets, guards and comments.
-- Every function states its volatility and parallel safety; every object has a COMMENT.

------------------------------------------------------------------------------------------
-- customer_summary(ordered_at, amount, as_of [, unit])
------------------------------------------------------------------------------------------
CREATE FUNCTION tiers.customer_summary_trans(internal, date, double precision, date)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_trans_date_f8';
CREATE FUNCTION tiers.customer_summary_trans(internal, date, numeric, date)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_trans_date_num';
CREATE FUNCTION tiers.customer_summary_trans(internal, timestamp without time zone, double precision, timestamp without time zone)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_trans_ts_f8';
CREATE FUNCTION tiers.customer_summary_trans(internal, timestamp without time zone, numeric, timestamp without time zone)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_trans_ts_num';
CREATE FUNCTION tiers.customer_summary_trans(internal, timestamp with time zone, double precision, timestamp with time zone)
    RETURNS internal LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_trans_tstz_f8';
CREATE FUNCTION tiers.customer_summary_trans(internal, timestamp with time zone, numeric, timestamp with time zone)
    RETURNS internal LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_trans_tstz_num';
CREATE FUNCTION tiers.customer_summary_trans(internal, date, double precision, date, interval)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_trans_date_f8_unit';
CREATE FUNCTION tiers.customer_summary_trans(internal, date, numeric, date, interval)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_trans_date_num_unit';
CREATE FUNCTION tiers.customer_summary_trans(internal, timestamp without time zone, double precision, timestamp without time zone, interval)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_trans_ts_f8_unit';
CREATE FUNCTION tiers.customer_summary_trans(internal, timestamp without time zone, numeric, timestamp without time zone, interval)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_trans_ts_num_unit';
CREATE FUNCTION tiers.customer_summary_trans(internal, timestamp with time zone, double precision, timestamp with time zone, interval)
    RETURNS internal LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_trans_tstz_f8_unit';
CREATE FUNCTION tiers.customer_summary_trans(internal, timestamp with time zone, numeric, timestamp with time zone, interval)
    RETURNS internal LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_trans_tstz_num_unit';
CREATE FUNCTION tiers.customer_summary_combine(internal, internal)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_combine';
CREATE FUNCTION tiers.customer_summary_serialize(internal)
    RETURNS bytea LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_serialize';
CREATE FUNCTION tiers.customer_summary_deserialize(bytea, internal)
    RETURNS internal LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_deserialize';
CREATE FUNCTION tiers.customer_summary_final(internal)
    RETURNS tiers.customer_summary LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_summary_final';
CREATE AGGREGATE tiers.customer_summary(ordered_at date, amount double precision, as_of date) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
CREATE AGGREGATE tiers.customer_summary(ordered_at date, amount numeric, as_of date) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
CREATE AGGREGATE tiers.customer_summary(ordered_at timestamp without time zone, amount double precision, as_of timestamp without time zone) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
CREATE AGGREGATE tiers.customer_summary(ordered_at timestamp without time zone, amount numeric, as_of timestamp without time zone) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
CREATE AGGREGATE tiers.customer_summary(ordered_at timestamp with time zone, amount double precision, as_of timestamp with time zone) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
CREATE AGGREGATE tiers.customer_summary(ordered_at timestamp with time zone, amount numeric, as_of timestamp with time zone) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
CREATE AGGREGATE tiers.customer_summary(ordered_at date, amount double precision, as_of date, unit interval) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
CREATE AGGREGATE tiers.customer_summary(ordered_at date, amount numeric, as_of date, unit interval) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
CREATE AGGREGATE tiers.customer_summary(ordered_at timestamp without time zone, amount double precision, as_of timestamp without time zone, unit interval) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
CREATE AGGREGATE tiers.customer_summary(ordered_at timestamp without time zone, amount numeric, as_of timestamp without time zone, unit interval) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
CREATE AGGREGATE tiers.customer_summary(ordered_at timestamp with time zone, amount double precision, as_of timestamp with time zone, unit interval) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
CREATE AGGREGATE tiers.customer_summary(ordered_at timestamp with time zone, amount numeric, as_of timestamp with time zone, unit interval) (
    SFUNC = tiers.customer_summary_trans, STYPE = internal, SSPACE = 160,
    FINALFUNC = tiers.customer_summary_final,
    COMBINEFUNC = tiers.customer_summary_combine,
    SERIALFUNC = tiers.customer_summary_serialize,
    DESERIALFUNC = tiers.customer_summary_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.customer_summary(date, double precision, date) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
COMMENT ON AGGREGATE tiers.customer_summary(date, numeric, date) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
COMMENT ON AGGREGATE tiers.customer_summary(timestamp without time zone, double precision, timestamp without time zone) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
COMMENT ON AGGREGATE tiers.customer_summary(timestamp without time zone, numeric, timestamp without time zone) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
COMMENT ON AGGREGATE tiers.customer_summary(timestamp with time zone, double precision, timestamp with time zone) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
COMMENT ON AGGREGATE tiers.customer_summary(timestamp with time zone, numeric, timestamp with time zone) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
COMMENT ON AGGREGATE tiers.customer_summary(date, double precision, date, interval) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
COMMENT ON AGGREGATE tiers.customer_summary(date, numeric, date, interval) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
COMMENT ON AGGREGATE tiers.customer_summary(timestamp without time zone, double precision, timestamp without time zone, interval) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
COMMENT ON AGGREGATE tiers.customer_summary(timestamp without time zone, numeric, timestamp without time zone, interval) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
COMMENT ON AGGREGATE tiers.customer_summary(timestamp with time zone, double precision, timestamp with time zone, interval) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
COMMENT ON AGGREGATE tiers.customer_summary(timestamp with time zone, numeric, timestamp with time zone, interval) IS
    'Per-customer purchase summary (use with GROUP BY customer): first/last purchase day, orders, returns, occasions (distinct purchase days), frequency (= occasions - 1), recency (first to last purchase), tenure (first purchase to as_of), since_last (last purchase to as_of), monetary_total (net sum), monetary (mean value of repeat occasions, 0 without repeats); times in unit (default 1 day). Rows after as_of are ignored; negative amounts are returns (netted, not purchases); NULL ordered_at rows are ignored; a NULL amount counts as an order of unknown (zero) value. NULL when the customer has no order up to as_of.';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, date, double precision, date) IS 'Transition function of tiers.customer_summary (internal).';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, date, numeric, date) IS 'Transition function of tiers.customer_summary (internal).';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, timestamp without time zone, double precision, timestamp without time zone) IS 'Transition function of tiers.customer_summary (internal).';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, timestamp without time zone, numeric, timestamp without time zone) IS 'Transition function of tiers.customer_summary (internal).';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, timestamp with time zone, double precision, timestamp with time zone) IS 'Transition function of tiers.customer_summary (internal).';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, timestamp with time zone, numeric, timestamp with time zone) IS 'Transition function of tiers.customer_summary (internal).';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, date, double precision, date, interval) IS 'Transition function of tiers.customer_summary (internal).';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, date, numeric, date, interval) IS 'Transition function of tiers.customer_summary (internal).';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, timestamp without time zone, double precision, timestamp without time zone, interval) IS 'Transition function of tiers.customer_summary (internal).';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, timestamp without time zone, numeric, timestamp without time zone, interval) IS 'Transition function of tiers.customer_summary (internal).';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, timestamp with time zone, double precision, timestamp with time zone, interval) IS 'Transition function of tiers.customer_summary (internal).';
COMMENT ON FUNCTION tiers.customer_summary_trans(internal, timestamp with time zone, numeric, timestamp with time zone, interval) IS 'Transition function of tiers.customer_summary (internal).';
COMMENT ON FUNCTION tiers.customer_summary_combine(internal, internal) IS 'Combine function of tiers.customer_summary (parallel aggregation, internal).';
COMMENT ON FUNCTION tiers.customer_summary_serialize(internal) IS 'Serializes a tiers.customer_summary state (versioned binary, internal).';
COMMENT ON FUNCTION tiers.customer_summary_deserialize(bytea, internal) IS 'Deserializes a tiers.customer_summary state; rejects damaged input (internal).';
COMMENT ON FUNCTION tiers.customer_summary_final(internal) IS 'Final function of tiers.customer_summary (internal).';
COMMENT ON TYPE tiers.customer_summary IS
    'Result of tiers.customer_summary: first_purchase, last_purchase, orders, returns, occasions, frequency, recency, tenure, since_last, monetary_total, monetary.';

------------------------------------------------------------------------------------------
-- rfm_model(recency, frequency, monetary [, bins])
------------------------------------------------------------------------------------------
CREATE FUNCTION tiers.rfm_model_trans(internal, double precision, double precision, double precision)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_model_trans';
CREATE FUNCTION tiers.rfm_model_trans(internal, double precision, double precision, double precision, integer)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_model_trans_bins';
CREATE FUNCTION tiers.rfm_model_combine(internal, internal)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_model_combine';
CREATE FUNCTION tiers.rfm_model_serialize(internal)
    RETURNS bytea LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_model_serialize';
CREATE FUNCTION tiers.rfm_model_deserialize(bytea, internal)
    RETURNS internal LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_model_deserialize';
CREATE FUNCTION tiers.rfm_model_final(internal)
    RETURNS tiers.rfm_model LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_model_final';

CREATE AGGREGATE tiers.rfm_model(recency double precision, frequency double precision, monetary double precision) (
    SFUNC = tiers.rfm_model_trans, STYPE = internal,
    FINALFUNC = tiers.rfm_model_final,
    COMBINEFUNC = tiers.rfm_model_combine,
    SERIALFUNC = tiers.rfm_model_serialize,
    DESERIALFUNC = tiers.rfm_model_deserialize,
    PARALLEL = SAFE);
CREATE AGGREGATE tiers.rfm_model(recency double precision, frequency double precision, monetary double precision, bins integer) (
    SFUNC = tiers.rfm_model_trans, STYPE = internal,
    FINALFUNC = tiers.rfm_model_final,
    COMBINEFUNC = tiers.rfm_model_combine,
    SERIALFUNC = tiers.rfm_model_serialize,
    DESERIALFUNC = tiers.rfm_model_deserialize,
    PARALLEL = SAFE);

COMMENT ON AGGREGATE tiers.rfm_model(double precision, double precision, double precision) IS
    'RFM model of a customer population with 5 bins: per dimension the k/5 quantiles (exactly percentile_cont) and the mean. Pass recency as the time since the last purchase. Rows with a NULL are skipped; NaN/Infinity is an error (22023). NULL for an empty population. Use as tiers.rfm_model(r, f, m) OVER () to score in one query.';
COMMENT ON AGGREGATE tiers.rfm_model(double precision, double precision, double precision, integer) IS
    'RFM model with bins (2..10, else 22003) quantile bins per dimension: breakpoints are the k/bins quantiles computed exactly as percentile_cont, plus the population means.';
COMMENT ON FUNCTION tiers.rfm_model_trans(internal, double precision, double precision, double precision) IS 'Transition function of tiers.rfm_model (internal).';
COMMENT ON FUNCTION tiers.rfm_model_trans(internal, double precision, double precision, double precision, integer) IS 'Transition function of tiers.rfm_model (internal).';
COMMENT ON FUNCTION tiers.rfm_model_combine(internal, internal) IS 'Combine function of tiers.rfm_model (internal).';
COMMENT ON FUNCTION tiers.rfm_model_serialize(internal) IS 'Serializes a tiers.rfm_model state (internal).';
COMMENT ON FUNCTION tiers.rfm_model_deserialize(bytea, internal) IS 'Deserializes a tiers.rfm_model state (internal).';
COMMENT ON FUNCTION tiers.rfm_model_final(internal) IS 'Final function of tiers.rfm_model (internal).';
COMMENT ON TYPE tiers.rfm_model IS
    'An RFM model value: bins, customers, r_breaks/f_breaks/m_breaks (bins - 1 ascending breakpoints each), r_mean/f_mean/m_mean. Storable in tables; text form round-trips.';

------------------------------------------------------------------------------------------
-- scoring
------------------------------------------------------------------------------------------
CREATE FUNCTION tiers.rfm_score(recency double precision, frequency double precision,
                                monetary double precision, model tiers.rfm_model)
    RETURNS tiers.rfm_score LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_score';
CREATE FUNCTION tiers.rfm_score(recency double precision, frequency double precision,
                                monetary double precision, model tiers.rfm_model, rule_set text)
    RETURNS tiers.rfm_score LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_score_rules';
CREATE FUNCTION tiers.rfm_segment(r integer, f integer, m integer, rule_set text DEFAULT 'standard')
    RETURNS text LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_segment';
CREATE FUNCTION tiers.rfm_class8(recency double precision, frequency double precision,
                                 monetary double precision, model tiers.rfm_model, lang text DEFAULT 'zh')
    RETURNS text LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_class8';

COMMENT ON FUNCTION tiers.rfm_score(double precision, double precision, double precision, tiers.rfm_model) IS
    'RFM scores (r, f, m, score, segment): f and m = 1 + breakpoints strictly below the value; r = bins - breakpoints strictly below the time since the last purchase (recent = high). score is the digits as text (''545''; joined by ''-'' for 10 bins). segment from rule set ''standard'' when the model has 5 bins, else NULL. NULL input gives NULL; NaN/Infinity is an error (22023).';
COMMENT ON FUNCTION tiers.rfm_score(double precision, double precision, double precision, tiers.rfm_model, text) IS
    'RFM scores with the segment from the named rule set (its bins must equal the model''s, else 22023).';
COMMENT ON FUNCTION tiers.rfm_segment(integer, integer, integer, text) IS
    'Segment name of the scores (r, f, m) under a rule set of tiers.rfm_segment_rules (first matching rule by priority wins; ''Others'' when none matches). Unknown rule set: 22023; a score outside 1..bins: 22003; NULL scores give NULL.';
COMMENT ON FUNCTION tiers.rfm_class8(double precision, double precision, double precision, tiers.rfm_model, text) IS
    'The 8-class RFM model used in China: each dimension high/low against the model''s population mean (recent: recency < r_mean; frequent: frequency > f_mean; important: monetary > m_mean). lang ''zh'' (重要价值客户 …) or ''en'' (Important Value …); other lang: 22023.';

COMMENT ON TYPE tiers.rfm_score IS
    'Result of tiers.rfm_score: r, f, m (1..bins, higher is better), score (the digits as text), segment.';

------------------------------------------------------------------------------------------
-- rule sets: presets, guards, helpers
------------------------------------------------------------------------------------------
INSERT INTO tiers.rfm_rule_sets (rule_set, bins, description, preset)
SELECT DISTINCT p.rule_set, p.bins, p.description, true FROM tiers.rfm_preset_rules() AS p;
INSERT INTO tiers.rfm_segment_rules (rule_set, priority, segment, r_min, r_max, f_min, f_max, m_min, m_max, preset)
SELECT p.rule_set, p.priority, p.segment, p.r_min, p.r_max, p.f_min, p.f_max, p.m_min, p.m_max, true
FROM tiers.rfm_preset_rules() AS p;

CREATE FUNCTION tiers.rfm_rules_guard() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $guard$
DECLARE
    set_bins integer;
    set_preset boolean;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.preset THEN
        RAISE EXCEPTION 'rule set "%" is a preset and cannot be changed', OLD.rule_set
            USING ERRCODE = '22023',
                  HINT = 'Copy it with tiers.rfm_copy_rule_set(source, target) and edit the copy.';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF TG_TABLE_NAME = 'rfm_segment_rules' THEN
        SELECT s.bins, s.preset INTO set_bins, set_preset
        FROM tiers.rfm_rule_sets AS s WHERE s.rule_set = NEW.rule_set;
        IF set_preset AND NOT NEW.preset THEN
            RAISE EXCEPTION 'rule set "%" is a preset and cannot be changed', NEW.rule_set
                USING ERRCODE = '22023';
        END IF;
        IF greatest(NEW.r_max, NEW.f_max, NEW.m_max) > set_bins THEN
            RAISE EXCEPTION 'rule "%" of rule set "%": score ranges must lie within 1..% (the rule set''s bins)',
                NEW.segment, NEW.rule_set, set_bins USING ERRCODE = '22023';
        END IF;
    ELSIF TG_OP = 'UPDATE' AND NEW.bins < OLD.bins AND EXISTS (
        SELECT FROM tiers.rfm_segment_rules AS r
        WHERE r.rule_set = NEW.rule_set AND greatest(r.r_max, r.f_max, r.m_max) > NEW.bins) THEN
        RAISE EXCEPTION 'rule set "%": existing rules use scores above % bins', NEW.rule_set, NEW.bins
            USING ERRCODE = '22023';
    END IF;
    RETURN NEW;
END
$guard$;
COMMENT ON FUNCTION tiers.rfm_rules_guard() IS
    'Trigger: presets are read-only; rule ranges must fit the rule set''s bins.';

CREATE TRIGGER rfm_rule_sets_guard BEFORE UPDATE OR DELETE ON tiers.rfm_rule_sets
    FOR EACH ROW EXECUTE FUNCTION tiers.rfm_rules_guard();
CREATE TRIGGER rfm_segment_rules_guard BEFORE INSERT OR UPDATE OR DELETE ON tiers.rfm_segment_rules
    FOR EACH ROW EXECUTE FUNCTION tiers.rfm_rules_guard();

CREATE FUNCTION tiers.rfm_copy_rule_set(source text, target text, description text DEFAULT NULL)
    RETURNS integer LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $copy$
DECLARE
    copied integer;
BEGIN
    IF source IS NULL OR target IS NULL THEN
        RAISE EXCEPTION 'source and target must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF NOT EXISTS (SELECT FROM tiers.rfm_rule_sets AS s WHERE s.rule_set = source) THEN
        RAISE EXCEPTION 'rule_set "%" does not exist in tiers.rfm_rule_sets', source USING ERRCODE = '22023';
    END IF;
    INSERT INTO tiers.rfm_rule_sets (rule_set, bins, description)
    SELECT target, s.bins, coalesce(rfm_copy_rule_set.description, 'Copy of ' || source)
    FROM tiers.rfm_rule_sets AS s WHERE s.rule_set = source;
    INSERT INTO tiers.rfm_segment_rules (rule_set, priority, segment, r_min, r_max, f_min, f_max, m_min, m_max)
    SELECT target, r.priority, r.segment, r.r_min, r.r_max, r.f_min, r.f_max, r.m_min, r.m_max
    FROM tiers.rfm_segment_rules AS r WHERE r.rule_set = source;
    GET DIAGNOSTICS copied = ROW_COUNT;
    RETURN copied;
END
$copy$;
COMMENT ON FUNCTION tiers.rfm_copy_rule_set(text, text, text) IS
    'Copies a rule set (e.g. a preset) under a new name so it can be edited; returns the number of rules copied. Unknown source: 22023; existing target: 23505.';

COMMENT ON TABLE tiers.rfm_rule_sets IS
    'RFM segment rule sets (user-editable, kept by pg_dump; presets are read-only and restored by CREATE EXTENSION).';
COMMENT ON TABLE tiers.rfm_segment_rules IS
    'Rules of each rule set: the lowest priority matching rule wins; inclusive score ranges per dimension; unmatched cells are ''Others''.';
COMMENT ON FUNCTION tiers.rfm_rule_check(text) IS
    'Reports the gaps (cells no rule matches, which get ''Others''), the overlaps between pairs of rules (the lower priority wins) and the rules that never match, of a rule set.';
COMMENT ON FUNCTION tiers.rfm_preset_rules() IS
    'The preset rule sets compiled into the extension (standard, rfm_0_3); used by the install script.';
