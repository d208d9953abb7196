-- Judging a tiering: A/B tests, Holm, NPS, experiment assignment, cohort retention
-- (src/evaluation.rs, core/src/evaluation.rs).

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

-- Judging a tiering (issue 14): A/B tests, Holm, NPS, experiment assignment --------------------

CREATE FUNCTION tiers.ab_test_trans(bytea, text, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_ab_test_trans';
COMMENT ON FUNCTION tiers.ab_test_trans(bytea, text, double precision) IS 'Transition function of tiers.ab_test (internal).';
CREATE FUNCTION tiers.ab_test_trans(bytea, text, double precision, text)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_ab_test_trans';
COMMENT ON FUNCTION tiers.ab_test_trans(bytea, text, double precision, text) IS 'Transition function of tiers.ab_test with a control (internal).';
CREATE FUNCTION tiers.ab_test_combine(bytea, bytea)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_ab_test_combine';
COMMENT ON FUNCTION tiers.ab_test_combine(bytea, bytea) IS 'Combine function of tiers.ab_test (internal).';
CREATE FUNCTION tiers.ab_test_final(bytea)
    RETURNS tiers.ab_variant[] LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_ab_test_final';
COMMENT ON FUNCTION tiers.ab_test_final(bytea) IS 'Final function of tiers.ab_test (internal).';
CREATE AGGREGATE tiers.ab_test(variant text, outcome double precision) (
    SFUNC = tiers.ab_test_trans, STYPE = bytea, FINALFUNC = tiers.ab_test_final,
    COMBINEFUNC = tiers.ab_test_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.ab_test(text, double precision) IS
    'A/B test of (variant, outcome) rows, e.g. GROUP BY tier: one tiers.ab_variant per variant (by name), compared with the control = the first variant name in byte order. Pooled two-proportion z-test when every outcome is 0 or 1, Welch''s t-test otherwise; 95 % intervals for the difference and the lift. Rows with a NULL variant or outcome are skipped; NaN/Infinity outcome: 22023. NULL without rows. Unnest the array: SELECT (unnest(tiers.ab_test(v, y))).*';
CREATE AGGREGATE tiers.ab_test(variant text, outcome double precision, control text) (
    SFUNC = tiers.ab_test_trans, STYPE = bytea, FINALFUNC = tiers.ab_test_final,
    COMBINEFUNC = tiers.ab_test_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.ab_test(text, double precision, text) IS
    'tiers.ab_test with the control variant named (constant within a group, else 22023; a name no row has: 22023; NULL: the default control).';

CREATE FUNCTION tiers.holm(p double precision[]) RETURNS double precision[]
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_holm';
COMMENT ON FUNCTION tiers.holm(double precision[]) IS
    'Holm-Bonferroni adjusted p-values, in the order given (as statsmodels multipletests(p, method=''holm'')); NULL elements stay NULL and are not counted. A p-value outside 0..1 or NaN: 22023.';

CREATE FUNCTION tiers.nps_trans(bytea, integer)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_nps_trans';
COMMENT ON FUNCTION tiers.nps_trans(bytea, integer) IS 'Transition function of tiers.nps (internal).';
CREATE FUNCTION tiers.nps_combine(bytea, bytea)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_nps_combine';
COMMENT ON FUNCTION tiers.nps_combine(bytea, bytea) IS 'Combine function of tiers.nps (internal).';
CREATE FUNCTION tiers.nps_final(bytea)
    RETURNS tiers.nps_result LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_nps_final';
COMMENT ON FUNCTION tiers.nps_final(bytea) IS 'Final function of tiers.nps (internal).';
CREATE AGGREGATE tiers.nps(score integer) (
    SFUNC = tiers.nps_trans, STYPE = bytea, FINALFUNC = tiers.nps_final,
    COMBINEFUNC = tiers.nps_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.nps(integer) IS
    'Net Promoter Score of survey answers 0..10 (tiers.nps_result), e.g. GROUP BY tier. NULL answers are skipped; outside 0..10: 22003 naming the value. NULL without answers.';

CREATE FUNCTION tiers.nps_compare(a tiers.nps_result, b tiers.nps_result) RETURNS tiers.nps_comparison
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_nps_compare';
COMMENT ON FUNCTION tiers.nps_compare(tiers.nps_result, tiers.nps_result) IS
    'b.nps - a.nps with its 95 % interval and two-sided p-value (tiers.nps_comparison), from the counts of promoters, passives and detractors. Negative or missing counts, or no answers: 22023.';

CREATE FUNCTION tiers.ab_assign(customer text, experiment text, shares double precision[])
    RETURNS text LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_ab_assign';
COMMENT ON FUNCTION tiers.ab_assign(text, text, double precision[]) IS
    'Deterministic experiment variant of a customer: ''A'', ''B'', ... with probabilities proportional to shares. The position floor(u / 2^11) / 2^53, u = the first 8 bytes (big-endian) of sha256(experiment || 0x00 || customer) in UTF-8, is uniform in [0, 1), the same everywhere and independent between experiments. Shares empty, negative, NaN/Infinity, NULL or summing to 0: 22023; more than 26 shares: name the variants.';
CREATE FUNCTION tiers.ab_assign(customer text, experiment text, shares double precision[], variants text[])
    RETURNS text LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_ab_assign';
COMMENT ON FUNCTION tiers.ab_assign(text, text, double precision[], text[]) IS
    'tiers.ab_assign with variant names, one per share (else 22023; NULL names: 22023).';

-- Cohort retention (issue 14): the classic triangle ------------------------------------------

CREATE FUNCTION tiers.cohort_retention(source regclass, customer_column name, ordered_at_column name,
                                       period interval DEFAULT interval '1 month', options jsonb DEFAULT '{}')
    RETURNS TABLE (grp text, cohort date, period_number integer, cohort_customers bigint,
                   active_customers bigint, retention double precision, revenue numeric,
                   cumulative_revenue_per_customer numeric)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS $cohort$
DECLARE
    src text;
    ts_type regtype;
    amount_type regtype;
    amount_col text := options->>'amount_column';
    months integer;
    seconds float8;
    bucket text;
    cohort_date text;
    filter text := '';
    k text;
    vals jsonb;
    split_view regclass;
    split_name text[];
    split_col text;
    grp_expr text := 'NULL::text';
    grp_join text := '';
    as_of timestamp;
    hi timestamp;
    lo timestamp;
    infinite boolean;
BEGIN
    IF source IS NULL OR customer_column IS NULL OR ordered_at_column IS NULL OR period IS NULL THEN
        RAISE EXCEPTION 'source, customer_column, ordered_at_column and period must not be NULL'
            USING ERRCODE = '22004';
    END IF;
    PERFORM tiers.check_source(source);
    options := coalesce(options, '{}');
    IF jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options must be a jsonb object' USING ERRCODE = '22023';
    END IF;
    FOR k IN SELECT jsonb_object_keys(options) LOOP
        IF k NOT IN ('amount_column', 'filter', 'as_of', 'split_by') THEN
            RAISE EXCEPTION 'unknown option "%"', k
                USING ERRCODE = '22023', HINT = 'Options: amount_column, filter, as_of, split_by.';
        END IF;
    END LOOP;
    src := format('%I.%I', (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = source),
                  (SELECT c.relname FROM pg_class c WHERE c.oid = source));
    IF NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = source AND a.attname = customer_column
                   AND a.attnum > 0 AND NOT a.attisdropped) THEN
        RAISE EXCEPTION 'column "%" does not exist in %', customer_column, source USING ERRCODE = '42703';
    END IF;
    SELECT a.atttypid::regtype INTO ts_type FROM pg_attribute a
    WHERE a.attrelid = source AND a.attname = ordered_at_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF ts_type IS NULL THEN
        RAISE EXCEPTION 'column "%" does not exist in %', ordered_at_column, source USING ERRCODE = '42703';
    END IF;
    IF ts_type NOT IN ('date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype) THEN
        RAISE EXCEPTION 'ordered_at_column "%" must be date, timestamp or timestamptz, not %', ordered_at_column, ts_type
            USING ERRCODE = '42804';
    END IF;
    IF amount_col IS NOT NULL THEN
        SELECT a.atttypid::regtype INTO amount_type FROM pg_attribute a
        WHERE a.attrelid = source AND a.attname = amount_col AND a.attnum > 0 AND NOT a.attisdropped;
        IF amount_type IS NULL THEN
            RAISE EXCEPTION 'amount_column "%" does not exist in %', amount_col, source USING ERRCODE = '42703';
        END IF;
        IF amount_type NOT IN ('numeric'::regtype, 'float8'::regtype, 'float4'::regtype, 'int2'::regtype,
                               'int4'::regtype, 'int8'::regtype, 'money'::regtype) THEN
            RAISE EXCEPTION 'amount_column "%" must be a number, not %', amount_col, amount_type USING ERRCODE = '42804';
        END IF;
    END IF;
    -- periods: whole months (calendar buckets) or a fixed length (buckets from Monday 2000-01-03)
    IF period <= interval '0' THEN
        RAISE EXCEPTION 'period must be positive, got %', period USING ERRCODE = '22023';
    ELSIF extract(day FROM period) = 0 AND extract(epoch FROM period - date_trunc('month', period)) = 0
          AND (extract(year FROM period) * 12 + extract(month FROM period)) > 0 THEN
        months := (extract(year FROM period) * 12 + extract(month FROM period))::integer;
        bucket := format('floor((extract(year FROM %%1$s) * 12 + extract(month FROM %%1$s) - 1) / %s)::bigint', months);
        -- the first day of period n; the calendar has no year 0 (1 BC is year -1, as extract
        -- gives it): a period that starts in it starts on 0001-01-01
        cohort_date := format('CASE WHEN floor((%%1$s) * %1$s / 12.0) = 0 THEN date ''0001-01-01'' ELSE make_date(floor((%%1$s) * %1$s / 12.0)::integer, (((%%1$s) * %1$s %%%% 12 + 12) %%%% 12)::integer + 1, 1) END', months);
    ELSIF extract(year FROM period) = 0 AND extract(month FROM period) = 0 THEN
        seconds := extract(epoch FROM period);
        bucket := format('floor(extract(epoch FROM %%1$s - timestamp ''2000-01-03'') / %s)::bigint', seconds);
        cohort_date := format('(timestamp ''2000-01-03'' + (%%1$s) * %L::interval)::date', period);
    ELSE
        RAISE EXCEPTION 'period must be whole months (''1 month'', ''3 months'', ''1 year'') or a fixed length (''7 days''), got %', period
            USING ERRCODE = '22023';
    END IF;
    -- null: the default (all orders), as in tier views
    IF options->>'as_of' IS NOT NULL THEN
        BEGIN
            -- an offset is honoured: the instant, in the session's time zone like the orders
            as_of := (options->>'as_of')::timestamptz::timestamp;
        EXCEPTION WHEN OTHERS THEN
            RAISE EXCEPTION 'option "as_of" must be a date or timestamp, got %', options->'as_of' USING ERRCODE = '22023';
        END;
        filter := filter || format(' AND (o.%I)::timestamp <= %L::timestamp', ordered_at_column, as_of);
    END IF;
    IF options ? 'filter' THEN
        IF jsonb_typeof(options->'filter') <> 'object' THEN
            RAISE EXCEPTION 'option "filter" must be an object {column: value or [values]}' USING ERRCODE = '22023';
        END IF;
        FOR k, vals IN SELECT * FROM jsonb_each(options->'filter') LOOP
            IF NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = source AND a.attname = k
                           AND a.attnum > 0 AND NOT a.attisdropped) THEN
                RAISE EXCEPTION 'filter column "%" does not exist in %', k, source USING ERRCODE = '42703';
            END IF;
            IF jsonb_typeof(vals) <> 'array' THEN
                vals := jsonb_build_array(vals);
            END IF;
            filter := filter || format(' AND (o.%I)::text = ANY (%L::text[])', k,
                (SELECT coalesce(array_agg(x), '{}') FROM jsonb_array_elements_text(vals) x));
        END LOOP;
    END IF;
    IF options ? 'split_by' THEN
        -- a declared tier view (tiers.tier_views, whose rows the caller may read), by name or
        -- schema.name: text in options cannot be resolved with the caller's search_path here
        split_col := options->'split_by'->>'column';
        IF jsonb_typeof(options->'split_by') IS DISTINCT FROM 'object' OR split_col IS NULL
           OR jsonb_typeof(options->'split_by'->'view') IS DISTINCT FROM 'string' THEN
            RAISE EXCEPTION 'option "split_by" must be {"view": a tier view, "column": one of its columns}'
                USING ERRCODE = '22023';
        END IF;
        BEGIN
            split_name := parse_ident(options->'split_by'->>'view');
        EXCEPTION WHEN OTHERS THEN
            RAISE EXCEPTION 'split_by: invalid view name %', options->'split_by'->'view' USING ERRCODE = '22023';
        END;
        IF cardinality(split_name) > 2 THEN
            RAISE EXCEPTION 'split_by: invalid view name %', options->'split_by'->'view' USING ERRCODE = '22023';
        END IF;
        SELECT count(*), min(format('%I.%I', t.view_schema, t.view_name))::regclass INTO k, split_view
        FROM tiers.tier_views t
        WHERE t.view_name = split_name[cardinality(split_name)]
          AND (cardinality(split_name) = 1 OR t.view_schema = split_name[1]);
        IF k::integer = 0 THEN
            RAISE EXCEPTION 'split_by: % is not a tier view (tiers.tier_views)', options->'split_by'->'view'
                USING ERRCODE = '42P01';
        ELSIF k::integer > 1 THEN
            RAISE EXCEPTION 'split_by: tier view % exists in several schemas; name it schema.view', options->'split_by'->'view'
                USING ERRCODE = '22023';
        END IF;
        IF NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = split_view AND a.attname = split_col
                       AND a.attnum > 0 AND NOT a.attisdropped)
           OR NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = split_view AND a.attname = 'customer'
                          AND a.attnum > 0 AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'split_by: % has no column "%" (or no column "customer")', split_view, split_col
                USING ERRCODE = '42703';
        END IF;
        grp_expr := format('(sv.%I)::text', split_col);
        grp_join := format(' LEFT JOIN %I.%I AS sv ON (sv.customer)::text = (f.customer)::text',
            (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = split_view),
            (SELECT c.relname FROM pg_class c WHERE c.oid = split_view));
    END IF;
    -- infinite order times have no period (22008, as in customer_summary); a period far
    -- shorter than the data's span would make an enormous triangle: refuse it
    EXECUTE format('SELECT max(x.t), min(x.t), bool_or(NOT isfinite(x.t)) FROM (SELECT (o.%I)::timestamp AS t FROM %s AS o WHERE o.%I IS NOT NULL AND o.%I IS NOT NULL%s) x',
                   ordered_at_column, src, customer_column, ordered_at_column, filter)
        INTO hi, lo, infinite;
    IF infinite THEN
        RAISE EXCEPTION 'ordered_at_column "%" holds an infinite date or timestamp: order times must be finite', ordered_at_column
            USING ERRCODE = '22008';
    END IF;
    EXECUTE format('SELECT %s - %s', format(bucket, '$1'), format(bucket, '$2')) INTO k USING hi, lo;
    IF k::bigint > 100000 THEN
        RAISE EXCEPTION 'period % gives % periods between the first and the last order (at most 100000)', period, k
            USING ERRCODE = '22023', HINT = 'Choose a longer period, or restrict the orders with as_of or filter.';
    END IF;
    RETURN QUERY EXECUTE format($q$
WITH o AS (
    SELECT o.%1$I AS customer, %2$s AS p, %3$s AS amount
    FROM %4$s AS o
    WHERE o.%1$I IS NOT NULL AND o.%5$I IS NOT NULL%6$s),
purchases AS (SELECT o.customer, o.p FROM o WHERE o.amount IS NULL OR o.amount >= 0),
f AS (SELECT p.customer, min(p.p) AS c FROM purchases p GROUP BY p.customer),
g AS (SELECT f.customer, f.c, %7$s AS grp FROM f%8$s),
size AS (SELECT g.grp, g.c, count(*) AS n FROM g GROUP BY g.grp, g.c),
act AS (
    SELECT g.grp, g.c, p.p - g.c AS k, count(DISTINCT p.customer) AS active
    FROM purchases p JOIN g ON g.customer = p.customer GROUP BY 1, 2, 3),
rev AS (
    SELECT g.grp, g.c, o.p - g.c AS k, sum(o.amount) AS revenue
    FROM o JOIN g ON g.customer = o.customer WHERE o.p >= g.c GROUP BY 1, 2, 3),
grid AS (
    SELECT s.grp, s.c, s.n, k.k
    FROM size s, (SELECT max(p) AS lp FROM o) l, generate_series(0::bigint, l.lp - s.c) AS k(k))
SELECT grid.grp, %9$s, grid.k::integer, grid.n, coalesce(a.active, 0),
       coalesce(a.active, 0)::float8 / grid.n,
       CASE WHEN %10$L THEN coalesce(r.revenue, 0) END,
       CASE WHEN %10$L THEN sum(coalesce(r.revenue, 0)) OVER (PARTITION BY grid.grp, grid.c ORDER BY grid.k) / grid.n END
FROM grid
LEFT JOIN act a ON a.grp IS NOT DISTINCT FROM grid.grp AND a.c = grid.c AND a.k = grid.k
LEFT JOIN rev r ON r.grp IS NOT DISTINCT FROM grid.grp AND r.c = grid.c AND r.k = grid.k
ORDER BY grid.grp NULLS LAST, grid.c, grid.k $q$,
        customer_column,
        format(bucket, format('(o.%I)::timestamp', ordered_at_column)),
        -- NaN and infinite amounts are errors, as in customer_summary (not NaN revenue)
        CASE WHEN amount_col IS NULL THEN 'NULL::numeric'
             ELSE format('CASE WHEN (o.%1$I)::numeric IN (''NaN'', ''Infinity'', ''-Infinity'') THEN CASE WHEN tiers.tier_view_fail(%2$L) THEN NULL::numeric END ELSE (o.%1$I)::numeric END',
                         amount_col, format('amount_column %I holds NaN or Infinity: amounts must be finite', amount_col)) END,
        src, ordered_at_column, filter, grp_expr, grp_join,
        format(cohort_date, 'grid.c'),
        amount_col IS NOT NULL);
END
$cohort$;
COMMENT ON FUNCTION tiers.cohort_retention(regclass, name, name, interval, jsonb) IS
    'The cohort triangle of the orders in source: customers grouped by the period of their first purchase (cohort); for every period since (period_number 0, 1, ... up to the last order''s period): cohort_customers, active_customers (customers of the cohort with a purchase in that period), retention (active / cohort), and with options.amount_column the period''s net revenue and the cumulative revenue per cohort customer. period: whole months (calendar months, quarters, years) or a fixed length (buckets from Monday 2000-01-03). Negative amounts are returns: they count in revenue, not as purchases; NaN or infinite amounts: 22023. Options: amount_column, filter ({column: value or [values]}, as in tier views), as_of (orders after it are ignored), split_by ({"view": a tier view, "column": e.g. "tier"}: one triangle per value, grp). Needs SELECT on source. Errors: NULL arguments 22004; bad period or options 22023; unknown columns 42703; wrong column types 42804; an infinite order time 22008; a dropped source or a split_by naming no tier view 42P01.';
