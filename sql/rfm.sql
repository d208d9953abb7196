-- RFM: rfm_model, scores, 8 classes, rule sets (src/rfm.rs, core/src/rfm.rs, core/src/quantile.rs).

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
COMMENT ON TYPE tiers.rfm_model IS
    'An RFM model value: bins, customers, r_breaks/f_breaks/m_breaks (bins - 1 ascending breakpoints each), r_mean/f_mean/m_mean. Storable in tables; text form round-trips.';

CREATE TYPE tiers.rfm_score AS (
    r       integer,
    f       integer,
    m       integer,
    score   text,
    segment text
);
COMMENT ON TYPE tiers.rfm_score IS
    'Result of tiers.rfm_score: r, f, m (1..bins, higher is better), score (the digits as text), segment.';

CREATE TABLE tiers.rfm_rule_sets (
    rule_set    text PRIMARY KEY CHECK (pg_catalog.btrim(rule_set) OPERATOR(pg_catalog.<>) ''),
    bins        integer NOT NULL CHECK (bins OPERATOR(pg_catalog.>=) 2 AND bins OPERATOR(pg_catalog.<=) 10),
    description text NOT NULL DEFAULT '',
    preset      boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE tiers.rfm_rule_sets IS
    'RFM segment rule sets (user-editable, kept by pg_dump; presets are read-only and restored by CREATE EXTENSION).';

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
COMMENT ON TABLE tiers.rfm_segment_rules IS
    'Rules of each rule set: the lowest priority matching rule wins; inclusive score ranges per dimension; unmatched cells are ''Others''.';

-- pg_dump keeps the user's rule sets; presets come back with CREATE EXTENSION.
SELECT pg_catalog.pg_extension_config_dump('tiers.rfm_rule_sets', 'WHERE NOT preset');
SELECT pg_catalog.pg_extension_config_dump('tiers.rfm_segment_rules', 'WHERE NOT preset');

------------------------------------------------------------------------------------------
-- rfm_model(since_last, frequency, monetary [, bins])
------------------------------------------------------------------------------------------
CREATE FUNCTION tiers.rfm_model_trans(bytea, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_model_trans';
COMMENT ON FUNCTION tiers.rfm_model_trans(bytea, double precision, double precision, double precision) IS 'Transition function of tiers.rfm_model (internal).';
CREATE FUNCTION tiers.rfm_model_trans(bytea, double precision, double precision, double precision, integer)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_model_trans_bins';
COMMENT ON FUNCTION tiers.rfm_model_trans(bytea, double precision, double precision, double precision, integer) IS 'Transition function of tiers.rfm_model (internal).';
CREATE FUNCTION tiers.rfm_model_combine(bytea, bytea)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_model_combine';
COMMENT ON FUNCTION tiers.rfm_model_combine(bytea, bytea) IS 'Combine function of tiers.rfm_model (internal).';
CREATE FUNCTION tiers.rfm_model_final(bytea)
    RETURNS tiers.rfm_model LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_model_final';
COMMENT ON FUNCTION tiers.rfm_model_final(bytea) IS 'Final function of tiers.rfm_model (internal).';

CREATE AGGREGATE tiers.rfm_model(since_last double precision, frequency double precision, monetary double precision) (
    SFUNC = tiers.rfm_model_trans, STYPE = bytea,
    FINALFUNC = tiers.rfm_model_final,
    COMBINEFUNC = tiers.rfm_model_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.rfm_model(double precision, double precision, double precision) IS
    'RFM model of a customer population with 5 bins: per dimension the k/5 quantiles (exactly percentile_cont) and the mean. since_last is the time since the last purchase (the R of RFM). Rows with a NULL are skipped; NaN/Infinity is an error (22023). NULL for an empty population. Use as tiers.rfm_model(r, f, m) OVER () to score in one query.';
CREATE AGGREGATE tiers.rfm_model(since_last double precision, frequency double precision, monetary double precision, bins integer) (
    SFUNC = tiers.rfm_model_trans, STYPE = bytea,
    FINALFUNC = tiers.rfm_model_final,
    COMBINEFUNC = tiers.rfm_model_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.rfm_model(double precision, double precision, double precision, integer) IS
    'RFM model with bins (2..10, else 22003) quantile bins per dimension: breakpoints are the k/bins quantiles computed exactly as percentile_cont, plus the population means.';

------------------------------------------------------------------------------------------
-- scoring
------------------------------------------------------------------------------------------
CREATE FUNCTION tiers.rfm_score(since_last double precision, frequency double precision,
                                monetary double precision, model tiers.rfm_model)
    RETURNS tiers.rfm_score LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_score';
COMMENT ON FUNCTION tiers.rfm_score(double precision, double precision, double precision, tiers.rfm_model) IS
    'RFM scores (r, f, m, score, segment): f and m = 1 + breakpoints strictly below the value; r = bins - breakpoints strictly below the time since the last purchase (recent = high). score is the digits as text (''545''; joined by ''-'' for 10 bins). segment from rule set ''standard'' when the model has 5 bins, else NULL. NULL input gives NULL; NaN/Infinity is an error (22023).';
CREATE FUNCTION tiers.rfm_score(since_last double precision, frequency double precision,
                                monetary double precision, model tiers.rfm_model, rule_set text)
    RETURNS tiers.rfm_score LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_score_rules';
COMMENT ON FUNCTION tiers.rfm_score(double precision, double precision, double precision, tiers.rfm_model, text) IS
    'RFM scores with the segment from the named rule set (its bins must equal the model''s, else 22023).';
CREATE FUNCTION tiers.rfm_segment(r integer, f integer, m integer, rule_set text DEFAULT 'standard')
    RETURNS text LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_segment';
COMMENT ON FUNCTION tiers.rfm_segment(integer, integer, integer, text) IS
    'Segment name of the scores (r, f, m) under a rule set of tiers.rfm_segment_rules (first matching rule by priority wins; ''Others'' when none matches). Unknown rule set: 22023; a score outside 1..bins: 22003; NULL scores give NULL.';
CREATE FUNCTION tiers.rfm_class8(since_last double precision, frequency double precision,
                                 monetary double precision, model tiers.rfm_model,
                                 lang text DEFAULT NULL)
    RETURNS text LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_class8';
COMMENT ON FUNCTION tiers.rfm_class8(double precision, double precision, double precision, tiers.rfm_model, text) IS
    'The 8-class RFM model used in China: each dimension high/low against the model''s population mean (recent: since_last < r_mean; frequent: frequency > f_mean; important: monetary > m_mean). lang ''zh'' (重要价值客户 …) or ''en'' (Important Value …); without lang (or NULL), the setting customer_tiers.language, else ''zh''; other lang: 22023. NULL in another argument: NULL.';

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
COMMENT ON FUNCTION tiers.rfm_rule_check(text) IS
    'Reports the gaps (cells no rule matches, which get ''Others''), the overlaps between pairs of rules (the lower priority wins) and the rules that never match, of a rule set.';
COMMENT ON FUNCTION tiers.rfm_preset_rules() IS
    'The preset rule sets compiled into the extension (standard, rfm_0_3); used by the install script.';
