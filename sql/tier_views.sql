-- Tier views: generated materialized views for BI tools, refresh, schedule, reports (PL/pgSQL).

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
COMMENT ON TABLE tiers.tier_views IS
    'Declared tier views (tiers.create_tier_view): the view, its source and columns, and the normalised options. Kept by pg_dump; a restored database refreshes them with tiers.refresh_tier_view. Row-level security: a tier view''s rows are visible to the roles that may read the view (docs/security.md).';
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
    incremental    boolean,
    new_orders     bigint,
    watermark      text,
    watermark_rows bigint,
    fold_ms        double precision,
    fold_cut       text,
    PRIMARY KEY (view_schema, view_name, refreshed_at),
    FOREIGN KEY (view_schema, view_name) REFERENCES tiers.tier_views (view_schema, view_name)
        ON UPDATE CASCADE ON DELETE CASCADE
);
COMMENT ON TABLE tiers.tier_view_refreshes IS
    'One row per refresh of a tier view: the as_of it was computed for, the BG/NBD and Gamma-Gamma models fitted for it (CLV views), customers, and milliseconds per stage (fit, refresh, history); for incremental views (option incremental) also whether the refresh folded only new orders (incremental) or rebuilt the per-customer states (false), the orders folded (new_orders), the watermark (the largest value of the incremental column folded, as text), the orders at or below it (watermark_rows), fold_ms, and fold_cut (as_of in the type of the orders'' time column as the fold applied it: a date or timestamp in the session''s TimeZone; a later fold whose cut is earlier rebuilds the states). A tier view reads its as_of and models from its latest row. Kept by pg_dump. Row-level security: a tier view''s rows are visible to the roles that may read the view (docs/security.md).';

SELECT pg_catalog.pg_extension_config_dump('tiers.tier_views', '');
SELECT pg_catalog.pg_extension_config_dump('tiers.tier_view_refreshes', '');

-- What a tier view reads of its refresh records: with row_security = on (see
-- tiers.tier_history_before), so that a restore can refresh a view a non-superuser owns.
CREATE FUNCTION tiers.tier_view_last_refresh(view_schema name, view_name name)
    RETURNS SETOF tiers.tier_view_refreshes
    LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
    SET search_path = pg_catalog, pg_temp SET row_security = on AS $$
    SELECT r.* FROM tiers.tier_view_refreshes r
    WHERE r.view_schema = $1 AND r.view_name = $2
    ORDER BY r.refreshed_at DESC LIMIT 1
$$;
COMMENT ON FUNCTION tiers.tier_view_last_refresh(name, name) IS
    'The latest refresh record of a tier view (its as_of and models), as far as the current role may read it (row-level security applies even under row_security = off, as in a restore). Tier views read their as_of with it. No record or NULL arguments: no row.';

-- The declaration of a tier view, after the privilege the operation needs (42501 otherwise):
-- 'read' (SELECT on the view) or 'own' (membership in the view's owner role).
CREATE FUNCTION tiers.tier_view_declaration(view regclass, need text) RETURNS tiers.tier_views
    LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v tiers.tier_views;
    kind "char";
    owner oid;
BEGIN
    IF view IS NULL THEN
        RAISE EXCEPTION 'view must not be NULL' USING ERRCODE = '22004';
    END IF;
    SELECT c.relkind, c.relowner INTO kind, owner FROM pg_class c WHERE c.oid = view;
    IF kind IS DISTINCT FROM 'm' THEN
        RAISE EXCEPTION '% is not a tier view (see tiers.tier_views)', view USING ERRCODE = '22023';
    END IF;
    IF need = 'own' AND NOT pg_has_role(owner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of materialized view %', view USING ERRCODE = '42501';
    ELSIF NOT has_table_privilege(view, 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for materialized view %', view USING ERRCODE = '42501';
    END IF;
    SELECT d.* INTO v FROM tiers.tier_views d
    JOIN pg_class c ON c.relname = d.view_name JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = view AND n.nspname = d.view_schema;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is not a tier view (see tiers.tier_views)', view USING ERRCODE = '22023';
    END IF;
    RETURN v;
END
$$;
COMMENT ON FUNCTION tiers.tier_view_declaration(regclass, text) IS
    'The declaration of a tier view, checked for the privilege an operation needs: need ''read'' (SELECT on the view: reports) or ''own'' (member of the owner role: refresh, schedule, drop). Not a tier view: 22023; missing privilege: 42501; NULL view: 22004.';

------------------------------------------------------------------------------------------
-- tier views: generated materialized views for BI, refresh, schedule, reports
------------------------------------------------------------------------------------------

CREATE FUNCTION tiers.interval_seconds(value interval) RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    -- OPERATOR() syntax has one precedence for all operators: every product is parenthesised
    SELECT (((pg_catalog.date_part('year', $1) OPERATOR(pg_catalog.*) 12)
              OPERATOR(pg_catalog.+) pg_catalog.date_part('month', $1)) OPERATOR(pg_catalog.*) 2592000)
           OPERATOR(pg_catalog.+) (pg_catalog.date_part('day', $1) OPERATOR(pg_catalog.*) 86400)
           OPERATOR(pg_catalog.+) pg_catalog.date_part('epoch', $1 OPERATOR(pg_catalog.-) pg_catalog.date_trunc('day', $1))
$$;
COMMENT ON FUNCTION tiers.interval_seconds(interval) IS
    'Length of an interval in seconds under PostgreSQL''s interval comparison (a month is 30 days, a year 360 days): the convention every time unit of this extension uses.';

-- Checks and normalises the options of a tier view; every default filled in.
CREATE FUNCTION tiers.tier_view_options(options jsonb) RETURNS jsonb
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS $opts$
DECLARE
    known constant text[] := ARRAY['as_of', 'unit', 'bins', 'rule_set', 'class8_lang', 'abc_a_cut',
        'abc_b_cut', 'tier_scheme', 'tier_value', 'history', 'clv', 'clv_horizon', 'clv_discount',
        'recent_window', 'filter', 'orders_since', 'schema', 'kmeans_model', 'customers', 'grade_within',
        'clv_within', 'clv_interval', 'incremental'];
    o jsonb := '{"unit": "1 day", "bins": 5, "rule_set": "standard",
        "abc_a_cut": 0.8, "abc_b_cut": 0.95, "tier_value": "monetary_total", "history": true,
        "clv": false, "clv_horizon": "12 months", "clv_discount": 0.01, "recent_window": "90 days",
        "schema": "public", "clv_within": false}';
    k text;
    v jsonb;
BEGIN
    -- the language of the 8-class labels: the setting customer_tiers.language when the view is
    -- declared, else Chinese (kept in the declaration: later changes of the setting do not move it)
    o := o || jsonb_build_object('class8_lang', COALESCE(NULLIF(current_setting('customer_tiers.language', true), ''), 'zh'));
    IF options IS NULL THEN
        options := '{}';
    END IF;
    IF jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options must be a jsonb object' USING ERRCODE = '22023';
    END IF;
    FOR k, v IN SELECT * FROM jsonb_each(options) LOOP
        IF NOT k = ANY (known) THEN
            RAISE EXCEPTION 'unknown option "%"', k USING ERRCODE = '22023',
                HINT = 'Known options: ' || array_to_string(known, ', ');
        END IF;
        IF jsonb_typeof(v) = 'null' THEN
            CONTINUE;
        END IF;
        IF k IN ('bins', 'abc_a_cut', 'abc_b_cut', 'clv_discount', 'clv_interval') AND jsonb_typeof(v) <> 'number'
           OR k IN ('history', 'clv', 'clv_within') AND jsonb_typeof(v) <> 'boolean'
           OR k IN ('filter', 'customers') AND jsonb_typeof(v) <> 'object'
           OR k = 'grade_within' AND jsonb_typeof(v) <> 'array'
           OR k IN ('as_of', 'unit', 'rule_set', 'class8_lang', 'tier_scheme', 'tier_value',
                    'clv_horizon', 'recent_window', 'orders_since', 'schema', 'kmeans_model')
              AND jsonb_typeof(v) <> 'string' THEN
            RAISE EXCEPTION 'option "%" has the wrong type (%)', k, jsonb_typeof(v) USING ERRCODE = '22023';
        END IF;
        o := o || jsonb_build_object(k, v);
    END LOOP;
    BEGIN
        PERFORM (o->>'as_of')::timestamptz, (o->>'orders_since')::timestamptz, (o->>'unit')::interval,
                (o->>'clv_horizon')::interval, (o->>'recent_window')::interval;
    EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR invalid_parameter_value
                   OR syntax_error THEN
        RAISE EXCEPTION 'bad date or interval in options: %', SQLERRM USING ERRCODE = '22023';
    END;
    -- an infinite as_of has no summaries (customer_summary: 22008): refused here, not at refresh
    IF NOT isfinite((o->>'as_of')::timestamptz) THEN
        RAISE EXCEPTION 'option "as_of" must be a finite date or timestamp, got %', o->>'as_of' USING ERRCODE = '22023';
    END IF;
    IF tiers.interval_seconds((o->>'unit')::interval) <= 0
       OR tiers.interval_seconds((o->>'clv_horizon')::interval) <= 0
       OR tiers.interval_seconds((o->>'recent_window')::interval) <= 0 THEN
        RAISE EXCEPTION 'unit, clv_horizon and recent_window must be positive intervals' USING ERRCODE = '22023';
    END IF;
    IF (o->>'bins')::numeric NOT IN (2, 3, 4, 5, 6, 7, 8, 9, 10) THEN
        RAISE EXCEPTION 'option "bins" must be an integer between 2 and 10, got %', o->>'bins'
            USING ERRCODE = '22023';
    END IF;
    o := o || jsonb_build_object('bins', (o->>'bins')::numeric::int);  -- 5.0 is 5
    IF NOT (0 < (o->>'abc_a_cut')::float8 AND (o->>'abc_a_cut')::float8 < (o->>'abc_b_cut')::float8
            AND (o->>'abc_b_cut')::float8 < 1) THEN
        RAISE EXCEPTION 'options need 0 < abc_a_cut < abc_b_cut < 1' USING ERRCODE = '22023';
    END IF;
    IF (o->>'clv_discount')::float8 < 0 OR (o->>'clv_discount')::float8 >= 1 THEN
        RAISE EXCEPTION 'option "clv_discount" must be in [0, 1) (a rate per month)' USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT FROM tiers.rfm_rule_sets s WHERE s.rule_set = o->>'rule_set') THEN
        RAISE EXCEPTION 'rule_set "%" does not exist in tiers.rfm_rule_sets', o->>'rule_set' USING ERRCODE = '22023';
    END IF;
    IF (SELECT s.bins FROM tiers.rfm_rule_sets s WHERE s.rule_set = o->>'rule_set') <> (o->>'bins')::int THEN
        RAISE EXCEPTION 'rule_set "%" is written for % bins, not %', o->>'rule_set',
            (SELECT s.bins FROM tiers.rfm_rule_sets s WHERE s.rule_set = o->>'rule_set'), o->>'bins'
            USING ERRCODE = '22023';
    END IF;
    IF o->>'class8_lang' NOT IN ('zh', 'en') THEN
        RAISE EXCEPTION 'option "class8_lang" must be ''zh'' or ''en''' USING ERRCODE = '22023';
    END IF;
    IF o ? 'tier_scheme' AND o->>'tier_scheme' IS NOT NULL
       AND NOT EXISTS (SELECT FROM tiers.tier_schemes s WHERE s.scheme = o->>'tier_scheme') THEN
        RAISE EXCEPTION 'scheme "%" does not exist in tiers.tier_schemes', o->>'tier_scheme' USING ERRCODE = '22023';
    END IF;
    IF NOT o->>'tier_value' = ANY (ARRAY['monetary_total', 'monetary', 'orders', 'occasions', 'frequency',
            'recent_spend', 'earlier_spend', 'clv', 'expected_purchases', 'p_alive']) THEN
        RAISE EXCEPTION 'option "tier_value" must name a numeric column of the view, got "%"', o->>'tier_value'
            USING ERRCODE = '22023', HINT = 'monetary_total, monetary, orders, occasions, frequency, recent_spend, earlier_spend, clv, expected_purchases, p_alive';
    END IF;
    IF o->>'tier_value' IN ('clv', 'expected_purchases', 'p_alive') AND NOT (o->>'clv')::boolean THEN
        RAISE EXCEPTION 'option "tier_value" = "%" needs "clv": true', o->>'tier_value' USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_namespace n WHERE n.nspname = o->>'schema') THEN
        RAISE EXCEPTION 'schema "%" does not exist', o->>'schema' USING ERRCODE = '3F000';
    END IF;
    -- customer attributes: {"table": ..., "key": ..., "columns": [...]} (names checked against the
    -- catalog when the view's SQL is built)
    IF o->'customers' IS NOT NULL THEN
        IF EXISTS (SELECT FROM jsonb_object_keys(o->'customers') x WHERE x NOT IN ('table', 'key', 'columns')) THEN
            RAISE EXCEPTION 'option "customers" has the keys table, key and columns only' USING ERRCODE = '22023';
        END IF;
        IF jsonb_typeof(o->'customers'->'table') IS DISTINCT FROM 'string'
           OR jsonb_typeof(o->'customers'->'key') IS DISTINCT FROM 'string' THEN
            RAISE EXCEPTION 'option "customers" needs "table" and "key" (strings)' USING ERRCODE = '22023';
        END IF;
        IF o->'customers' ? 'columns' AND (jsonb_typeof(o->'customers'->'columns') <> 'array'
           OR EXISTS (SELECT FROM jsonb_array_elements(o->'customers'->'columns') e WHERE jsonb_typeof(e) <> 'string')) THEN
            RAISE EXCEPTION 'option "customers": "columns" must be an array of column names' USING ERRCODE = '22023';
        END IF;
    END IF;
    IF o->'grade_within' IS NOT NULL AND (jsonb_array_length(o->'grade_within') = 0
       OR EXISTS (SELECT FROM jsonb_array_elements(o->'grade_within') e WHERE jsonb_typeof(e) <> 'string')) THEN
        RAISE EXCEPTION 'option "grade_within" must be a non-empty array of column names' USING ERRCODE = '22023';
    END IF;
    IF o->>'clv_interval' IS NOT NULL AND NOT (0 < (o->>'clv_interval')::float8 AND (o->>'clv_interval')::float8 < 1) THEN
        RAISE EXCEPTION 'option "clv_interval" must be a level between 0 and 1 (e.g. 0.9), got %', o->>'clv_interval'
            USING ERRCODE = '22023';
    END IF;
    IF o->>'clv_interval' IS NOT NULL AND NOT (o->>'clv')::boolean THEN
        RAISE EXCEPTION 'option "clv_interval" needs "clv": true' USING ERRCODE = '22023';
    END IF;
    IF (o->>'clv_within')::boolean AND (NOT (o->>'clv')::boolean OR o->'grade_within' IS NULL) THEN
        RAISE EXCEPTION 'option "clv_within" needs "clv": true and "grade_within"' USING ERRCODE = '22023';
    END IF;
    IF o ? 'kmeans_model' AND o->>'kmeans_model' IS NOT NULL
       AND NOT EXISTS (SELECT FROM tiers.kmeans_models m WHERE m.name = o->>'kmeans_model') THEN
        RAISE EXCEPTION 'K-means model "%" does not exist in tiers.kmeans_models', o->>'kmeans_model'
            USING ERRCODE = '22023', HINT = 'Store one with tiers.save_kmeans_model.';
    END IF;
    -- incremental refresh: {"column": a column of the orders that only grows (an id, an insertion time)}
    IF o->'incremental' IS NOT NULL AND jsonb_typeof(o->'incremental') <> 'null' THEN
        IF jsonb_typeof(o->'incremental') <> 'object'
           OR EXISTS (SELECT FROM jsonb_object_keys(o->'incremental') x WHERE x <> 'column')
           OR jsonb_typeof(o->'incremental'->'column') IS DISTINCT FROM 'string' THEN
            RAISE EXCEPTION 'option "incremental" must be {"column": "<a column of the orders that only grows>"}'
                USING ERRCODE = '22023', HINT = 'For example {"incremental": {"column": "order_id"}}.';
        END IF;
    ELSE
        o := o - 'incremental';
    END IF;
    RETURN o;
END
$opts$;
COMMENT ON FUNCTION tiers.tier_view_options(jsonb) IS
    'Validates the options of a tier view and returns them with every default filled in (see tiers.create_tier_view). Unknown option, wrong type or value: 22023; missing schema: 3F000.';

-- The conditions of a tier view's options on the orders (alias o): "filter" and "orders_since".
CREATE FUNCTION tiers.tier_view_filter(v tiers.tier_views) RETURNS text
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS $filter$
DECLARE
    o jsonb := v.options;
    src regclass := format('%I.%I', v.source_schema, v.source_name)::regclass;
    filter text := '';
    k text;
    vals jsonb;
BEGIN
    IF o ? 'filter' AND o->'filter' IS NOT NULL THEN
        FOR k, vals IN SELECT * FROM jsonb_each(o->'filter') LOOP
            IF NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = src AND a.attname = k
                           AND a.attnum > 0 AND NOT a.attisdropped) THEN
                RAISE EXCEPTION 'filter column "%" does not exist in %', k, src USING ERRCODE = '42703';
            END IF;
            IF jsonb_typeof(vals) <> 'array' THEN
                vals := jsonb_build_array(vals);
            END IF;
            filter := filter || format(' AND (o.%I)::text = ANY (%L::text[])', k,
                (SELECT coalesce(array_agg(x), '{}') FROM jsonb_array_elements_text(vals) x));
        END LOOP;
    END IF;
    IF o->>'orders_since' IS NOT NULL THEN
        filter := filter || format(' AND o.%I >= %L::%s', v.ordered_at_column, o->>'orders_since',
            (SELECT format_type(a.atttypid, NULL) FROM pg_attribute a
             WHERE a.attrelid = src AND a.attname = v.ordered_at_column AND NOT a.attisdropped));
    END IF;
    RETURN filter;
END
$filter$;
COMMENT ON FUNCTION tiers.tier_view_filter(tiers.tier_views) IS
    'The conditions that the options "filter" and "orders_since" of a tier view put on its orders (table alias o), as SQL text from catalog-resolved, quoted names; used by the view''s SQL and by the CLV fit of each refresh. Unknown filter column: 42703.';

-- The customer table of a tier view's options (option "customers"): a qualified name as given, an
-- unqualified one in the view's schema (never the caller's search_path: the view must not depend on it).
CREATE FUNCTION tiers.tier_view_customer_table(options jsonb) RETURNS regclass
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS $customers$
DECLARE
    name text := options->'customers'->>'table';
    parts text[];
    t regclass;
BEGIN
    IF name IS NULL THEN
        RETURN NULL;
    END IF;
    BEGIN
        parts := parse_ident(name);
    EXCEPTION WHEN invalid_parameter_value THEN
        RAISE EXCEPTION 'customers.table: "%" is not a valid table name', name USING ERRCODE = '42602';
    END;
    -- table or schema.table (to_regclass would raise 42601 or 0A000 for more parts)
    IF cardinality(parts) > 2 THEN
        RAISE EXCEPTION 'customers.table: "%" is not a valid table name (table or schema.table)', name
            USING ERRCODE = '42602';
    END IF;
    IF cardinality(parts) = 1 THEN
        t := to_regclass(format('%I.%I', coalesce(options->>'schema', 'public'), parts[1]));
    ELSE
        t := to_regclass(name);
    END IF;
    IF t IS NULL THEN
        RAISE EXCEPTION 'customers.table "%" does not exist', name USING ERRCODE = '42P01',
            HINT = 'An unqualified name is looked up in the view''s schema (option schema).';
    END IF;
    RETURN t;
END
$customers$;
COMMENT ON FUNCTION tiers.tier_view_customer_table(jsonb) IS
    'The customer table named by the tier-view option customers.table: a schema-qualified name as given, an unqualified one in the view''s schema (option schema), never through the search_path. Missing: 42P01; invalid name: 42602.';

-- Raises 22023 with a message (used inside generated queries, where a plain RAISE is impossible).
CREATE FUNCTION tiers.tier_view_fail(message text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS $fail$
BEGIN
    RAISE EXCEPTION '%', message USING ERRCODE = '22023';
END
$fail$;
COMMENT ON FUNCTION tiers.tier_view_fail(text) IS
    'Raises 22023 with the message; used by tier views whose per-group CLV models cannot be fitted (option clv_within) and by tiers.cohort_retention on a NaN or infinite amount.';

-- The relation orders are read from: it exists (a regclass made from an OID may name a dropped
-- one) and has rows (not a composite type, an index or a sequence).
CREATE FUNCTION tiers.check_source(source regclass) RETURNS void
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS $source$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = source) THEN
        RAISE EXCEPTION 'relation with OID % does not exist', source::oid USING ERRCODE = '42P01';
    ELSIF NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = source AND c.relkind IN ('r', 'p', 'v', 'm', 'f')) THEN
        RAISE EXCEPTION 'source % is not a table, view, materialized view or foreign table', source
            USING ERRCODE = '42809';
    END IF;
END
$source$;
COMMENT ON FUNCTION tiers.check_source(regclass) IS
    'Checks the source of tiers.create_tier_view and tiers.cohort_retention: the OID of a dropped relation is 42P01, a relation without rows (a composite type, an index, a sequence) 42809.';

-- The SELECT of a tier view, built from catalog-resolved, re-quoted names only.
CREATE FUNCTION tiers.tier_view_sql(v tiers.tier_views) RETURNS text
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS $sql$
DECLARE
    o jsonb;
    src text;
    ts_type text;
    filter text := '';
    k text;
    vals jsonb;
    clv boolean;
    scheme text;
    horizon_units float8;
    money text;
    tag_columns text := '';
    tag record;
    q text;
    km_features text[];
    km_run text := '';
    km_scored text := '';
    km_final text := '';
    km_args text;
    km_guard text;
    view_columns constant text[] := ARRAY['customer', 'first_purchase', 'last_purchase', 'orders', 'returns',
        'occasions', 'frequency', 'recency', 'tenure', 'since_last', 'monetary_total', 'monetary', 'recent_spend',
        'earlier_spend', 'r', 'f', 'm', 'score', 'segment', 'class8', 'abc_class', 'p_alive', 'expected_purchases',
        'expected_spend', 'clv', 'clv_low', 'clv_high', 'value', 'previous_tier', 'tier', 'cluster', 'cluster_label', 'segment_rank',
        'tier_rank', 'tags', 'as_of'];
    cust regclass;
    cust_key text;
    key_attnum smallint;
    key_type oid;
    col text;
    n integer := 0;
    out_names text[] := '{}';
    src_grade text := '';       -- src: the orders' grading columns
    s0_grade text := '';        -- s0: their values at the customer's last order
    s_extra text := '';         -- s: customer attributes and the grading group
    s_join text := '';
    grade_elems text[] := '{}';
    final_extra text := '';
    clv_from text := 'run';
    models_grade text := '';
    models_group text := '';
    scored_join text := ' CROSS JOIN models m';
    clv_ctes text := '';
    s0_sql text;
BEGIN
    IF v IS NULL THEN
        RAISE EXCEPTION 'v must not be NULL (a row of tiers.tier_views)' USING ERRCODE = '22004';
    END IF;
    o := v.options;
    src := format('%I.%I', v.source_schema, v.source_name);
    clv := (o->>'clv')::boolean;
    scheme := o->>'tier_scheme';
    horizon_units := tiers.interval_seconds((o->>'clv_horizon')::interval)
                     / tiers.interval_seconds((o->>'unit')::interval);
    SELECT format_type(a.atttypid, NULL) INTO ts_type
    FROM pg_attribute a
    WHERE a.attrelid = src::regclass AND a.attname = v.ordered_at_column AND NOT a.attisdropped;
    -- money columns stay exact decimals when the amounts are (numeric, integers, money);
    -- double precision amounts give double precision sums
    SELECT CASE WHEN a.atttypid IN ('float4'::regtype, 'float8'::regtype) THEN '::float8' ELSE '' END
    INTO money
    FROM pg_attribute a
    WHERE a.attrelid = src::regclass AND a.attname = v.amount_column AND NOT a.attisdropped;
    -- one boolean column per tag in force (BI tools filter on them without SQL)
    FOR tag IN SELECT r.tag FROM tiers.effective_tag_rules r WHERE r.enabled ORDER BY r.position, r.tag LOOP
        IF octet_length('tag_' || tag.tag) > 63 THEN
            RAISE NOTICE 'tag "%" has no boolean column (tag_% is longer than 63 bytes); it is in the tags column',
                tag.tag, tag.tag;
            CONTINUE;
        END IF;
        tag_columns := tag_columns || format(', %L = ANY (x.tags) AS %I', tag.tag, 'tag_' || tag.tag);
    END LOOP;
    filter := tiers.tier_view_filter(v);
    -- a stored K-means model: the features it was fitted on are fixed in the view's SQL, and every
    -- refresh checks that the stored model still uses them (tiers.kmeans_stored_model)
    IF o->>'kmeans_model' IS NOT NULL THEN
        SELECT m.features INTO km_features FROM tiers.kmeans_models m WHERE m.name = o->>'kmeans_model';
        IF km_features IS NULL THEN
            RAISE EXCEPTION 'K-means model "%" does not exist in tiers.kmeans_models', o->>'kmeans_model'
                USING ERRCODE = '22023';
        END IF;
        km_run := format(', tiers.kmeans_stored_model(%L, %L::text[]) AS kmeans', o->>'kmeans_model', km_features);
        -- no cluster for a customer the model cannot place: NULL features (returns only), or a
        -- negative value (returns exceeding purchases) of a feature the model takes log1p of
        SELECT string_agg(format('s.%I::float8', c), ', ' ORDER BY i),
               string_agg(format('s.%1$I IS NOT NULL AND (s.%1$I >= 0 OR NOT coalesce((run.kmeans).log1p[%2$s], false))', c, i),
                          ' AND ' ORDER BY i)
        INTO km_args, km_guard
        FROM unnest(km_features) WITH ORDINALITY AS u(f, i),
             LATERAL (SELECT CASE f WHEN 'monetary_total' THEN 'net_revenue' ELSE f END) AS col(c);
        km_scored := format(', CASE WHEN %2$s THEN tiers.kmeans_assign(ARRAY[%1$s], run.kmeans) END AS cluster',
            km_args, km_guard);
        km_final := ', t.cluster';
        -- 8-class names for a model of (since_last, frequency or occasions or orders, monetary)
        IF cardinality(km_features) = 3 AND km_features[1] = 'since_last'
           AND km_features[2] IN ('frequency', 'occasions', 'orders')
           AND km_features[3] IN ('monetary', 'monetary_total') THEN
            km_scored := km_scored || format(', CASE WHEN %3$s THEN tiers.kmeans_label(run.kmeans, tiers.kmeans_assign(ARRAY[%1$s], run.kmeans), %2$L) END AS cluster_label',
                km_args, o->>'class8_lang', km_guard);
            km_final := km_final || ', t.cluster_label';
        END IF;
    END IF;
    -- customer attributes (option "customers"): a table with one row per customer key
    IF o->'customers' IS NOT NULL THEN
        cust := tiers.tier_view_customer_table(o);
        cust_key := o->'customers'->>'key';
        SELECT a.attnum, a.atttypid INTO key_attnum, key_type FROM pg_attribute a
        WHERE a.attrelid = cust AND a.attname = cust_key AND a.attnum > 0 AND NOT a.attisdropped;
        IF key_attnum IS NULL THEN
            RAISE EXCEPTION 'customers.key: column "%" does not exist in %', cust_key, cust USING ERRCODE = '42703';
        END IF;
        IF key_type IS DISTINCT FROM (SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = src::regclass
                                      AND a.attname = v.customer_column AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'customers.key "%" of % has type %, the customer column "%" of % has type %',
                cust_key, cust, format_type(key_type, NULL), v.customer_column, src,
                (SELECT format_type(a.atttypid, NULL) FROM pg_attribute a WHERE a.attrelid = src::regclass
                 AND a.attname = v.customer_column AND NOT a.attisdropped)
                USING ERRCODE = '42804';
        END IF;
        IF NOT EXISTS (SELECT FROM pg_index i WHERE i.indrelid = cust AND i.indisunique AND i.indnkeyatts = 1
                       AND i.indkey[0] = key_attnum AND i.indpred IS NULL AND i.indexprs IS NULL) THEN
            RAISE EXCEPTION 'customers.key "%" of % needs a unique index (one row per customer)', cust_key, cust
                USING ERRCODE = '42P10', HINT = format('CREATE UNIQUE INDEX ON %s (%I)', cust, cust_key);
        END IF;
        IF NOT has_column_privilege(cust, cust_key::name, 'SELECT') THEN
            RAISE EXCEPTION 'permission denied for %: a tier view with customer attributes needs SELECT on the table''s key and columns', cust
                USING ERRCODE = '42501';
        END IF;
        s_join := format(' LEFT JOIN %s AS c ON c.%I = s0.customer', cust, cust_key);
        FOR col IN SELECT jsonb_array_elements_text(coalesce(o->'customers'->'columns', '[]')) LOOP
            IF NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = cust AND a.attname = col
                           AND a.attnum > 0 AND NOT a.attisdropped) THEN
                RAISE EXCEPTION 'customers.columns: column "%" does not exist in %', col, cust USING ERRCODE = '42703';
            END IF;
            IF NOT has_column_privilege(cust, col::name, 'SELECT') THEN
                RAISE EXCEPTION 'permission denied for column % of %', col, cust USING ERRCODE = '42501';
            END IF;
            IF col = ANY (view_columns) OR col LIKE 'tag\_%' OR col = ANY (out_names) THEN
                RAISE EXCEPTION 'customers.columns: "%" is already a column of the tier view', col
                    USING ERRCODE = '42701';
            END IF;
            n := n + 1;
            out_names := out_names || col;
            s_extra := s_extra || format(', c.%I AS ct_attr_%s', col, n);
            final_extra := final_extra || format(', t.ct_attr_%s AS %I', n, col);
        END LOOP;
    END IF;
    -- grading within groups (option "grade_within"): a column of the customer table (preferred) or
    -- of the orders (its value at the customer's last order)
    IF o->'grade_within' IS NOT NULL THEN
        FOR col IN SELECT jsonb_array_elements_text(o->'grade_within') LOOP
            IF cust IS NOT NULL AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = cust AND a.attname = col
                                            AND a.attnum > 0 AND NOT a.attisdropped) THEN
                IF NOT has_column_privilege(cust, col::name, 'SELECT') THEN
                    RAISE EXCEPTION 'permission denied for column % of %', col, cust USING ERRCODE = '42501';
                END IF;
                grade_elems := grade_elems || format('(c.%I)::text', col);
                IF NOT col = ANY (out_names) THEN
                    IF col = ANY (view_columns) OR col LIKE 'tag\_%' THEN
                        RAISE EXCEPTION 'grade_within: "%" is already a column of the tier view', col USING ERRCODE = '42701';
                    END IF;
                    n := n + 1;
                    out_names := out_names || col;
                    s_extra := s_extra || format(', c.%I AS ct_attr_%s', col, n);
                    final_extra := final_extra || format(', t.ct_attr_%s AS %I', n, col);
                END IF;
            ELSIF EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = src::regclass AND a.attname = col
                          AND a.attnum > 0 AND NOT a.attisdropped) THEN
                IF col = ANY (view_columns) OR col LIKE 'tag\_%' OR col = ANY (out_names) THEN
                    RAISE EXCEPTION 'grade_within: "%" is already a column of the tier view', col USING ERRCODE = '42701';
                END IF;
                n := n + 1;
                out_names := out_names || col;
                src_grade := src_grade || format(', o.%I AS ct_ograde_%s', col, n);
                -- at the last order: a return (amount < 0) is no order
                s0_grade := s0_grade || format(', (array_agg(src.ct_ograde_%1$s ORDER BY src.ordered_at DESC, (src.ct_ograde_%1$s)::text DESC NULLS LAST) FILTER (WHERE src.amount IS NULL OR src.amount >= 0))[1] AS ct_ograde_%1$s', n);
                s_extra := s_extra || format(', s0.ct_ograde_%s AS ct_attr_%s', n, n);
                grade_elems := grade_elems || format('(s0.ct_ograde_%s)::text', n);
                final_extra := final_extra || format(', t.ct_attr_%s AS %I', n, col);
            ELSE
                RAISE EXCEPTION 'grade_within: column "%" exists neither in the customer table nor in %', col, src
                    USING ERRCODE = '42703';
            END IF;
        END LOOP;
        s_extra := s_extra || format(', ARRAY[%s]::text[] AS ct_grade', array_to_string(grade_elems, ', '));
        models_grade := 's.ct_grade, ';
        models_group := ' GROUP BY s.ct_grade';
        scored_join := ' JOIN models m ON m.ct_grade = s.ct_grade';
        IF (o->>'clv_within')::boolean THEN
            clv_from := 'cm';
            scored_join := scored_join || ' JOIN clv_models cm ON cm.ct_grade = s.ct_grade AND cm.failed IS NULL';
            clv_ctes := $c$
-- per-group CLV models (clv_within): a group without a repeat buyer cannot be fitted
clv_fits AS (
    SELECT x.ct_grade,
           tiers.bgnbd_fit(x.frequency, x.recency, x.tenure) FILTER (WHERE x.fittable) AS bgnbd,
           tiers.gamma_gamma_fit(x.frequency, x.monetary) FILTER (WHERE x.fittable) AS gamma_gamma
    FROM (SELECT s.ct_grade, s.frequency, s.recency, s.tenure, s.monetary,
                 bool_or(s.frequency > 0 AND s.monetary > 0) OVER (PARTITION BY s.ct_grade) AS fittable
          FROM s) x
    GROUP BY x.ct_grade),
clv_models AS (
    SELECT f.ct_grade, f.bgnbd, f.gamma_gamma,
           CASE WHEN f.bgnbd IS NULL OR f.gamma_gamma IS NULL THEN tiers.tier_view_fail(format(
               'clv_within: the CLV models of group (%s) cannot be fitted: it has no repeat buyer with a positive spend',
               array_to_string(f.ct_grade, ', ', 'NULL'))) END AS failed
    FROM clv_fits f),$c$;
        END IF;
    END IF;
    IF o->'incremental' IS NULL THEN
        s0_sql := format($s0$
src AS (
    SELECT o.%1$I AS customer, o.%2$I AS ordered_at, (o.%3$I)::numeric AS amount%9$s
    FROM %4$s AS o
    WHERE o.%1$I IS NOT NULL AND o.%2$I IS NOT NULL AND o.%3$I IS NOT NULL%5$s),
s0 AS (
    SELECT src.customer%10$s,
           (tiers.customer_summary(src.ordered_at, src.amount, run.as_of::%6$s, %7$L::interval)).*,
           -- the exact decimal sum: equal revenues stay equal (and share their ABC class and M score)
           sum(src.amount)%11$s AS net_revenue,
           coalesce(sum(src.amount) FILTER (WHERE src.ordered_at > run.as_of::%6$s - %8$L::interval), 0)%11$s AS recent_spend,
           coalesce(sum(src.amount) FILTER (WHERE src.ordered_at <= run.as_of::%6$s - %8$L::interval
                    AND src.ordered_at > run.as_of::%6$s - 2 * %8$L::interval), 0)%11$s AS earlier_spend
    FROM src CROSS JOIN run
    WHERE src.ordered_at <= run.as_of::%6$s
    GROUP BY src.customer),$s0$,
            v.customer_column, v.ordered_at_column, v.amount_column, src, filter, ts_type, o->>'unit',
            o->>'recent_window', src_grade, s0_grade, money);
    ELSE
        -- the same columns from the per-customer states that refresh_tier_view folds the new
        -- orders into (tiers.tier_view_fold): the summary from the state, the exact revenue, and
        -- the spend of the recent windows from the kept rows of the last 2 x recent_window
        IF src_grade <> '' THEN
            RAISE EXCEPTION 'option "incremental" cannot grade within columns of the orders (grade_within)'
                USING ERRCODE = '0A000',
                      HINT = 'Put the grading columns in a customer table (option customers) or drop "incremental".';
        END IF;
        s0_sql := format($s0$
-- the window bounds once (not per row)
windows AS MATERIALIZED (
    SELECT run.as_of::%3$s AS upto, run.as_of::%3$s - %5$L::interval AS recent_from,
           run.as_of::%3$s - 2 * %5$L::interval AS earlier_from
    FROM run),
s0 AS (
    SELECT st.customer, f.*,
           (st.net_revenue)%6$s AS net_revenue,
           coalesce(rc.recent_spend, 0)%6$s AS recent_spend,
           coalesce(rc.earlier_spend, 0)%6$s AS earlier_spend
    FROM %1$s AS st CROSS JOIN run
    -- in FROM, so that the state is read once per customer (not once per field)
    CROSS JOIN LATERAL tiers.summary_from_state(st.state, run.as_of::%3$s, %4$L::interval) AS f
    LEFT JOIN (
        SELECT x.customer,
               sum(x.amount) FILTER (WHERE x.ordered_at > w.recent_from) AS recent_spend,
               sum(x.amount) FILTER (WHERE x.ordered_at <= w.recent_from) AS earlier_spend
        FROM %2$s AS x CROSS JOIN windows w
        WHERE x.folded AND x.ordered_at <= w.upto AND x.ordered_at > w.earlier_from
        GROUP BY x.customer) rc ON rc.customer = st.customer),$s0$,
            (tiers.tier_view_state_tables(v))[1], (tiers.tier_view_state_tables(v))[2], ts_type,
            o->>'unit', o->>'recent_window', money);
    END IF;
    q := format($q$
WITH run AS (
    SELECT r.as_of, r.bgnbd, r.gamma_gamma%25$s FROM tiers.tier_view_last_refresh(%1$L, %2$L) r),
%37$s
s AS (
    SELECT s0.*%30$s FROM s0%31$s),
models AS (
    SELECT %32$stiers.rfm_model(s.since_last, s.frequency, s.net_revenue::float8, %11$s) AS rfm,
           tiers.abc_model(s.net_revenue::float8, %12$s, %13$s) AS abc
    FROM s%33$s),%34$s
scored AS (
    SELECT s.*, tiers.rfm_score(s.since_last, s.frequency, s.net_revenue::float8, m.rfm, %14$L) AS sc,
           tiers.rfm_class8(s.since_last, s.frequency, s.net_revenue::float8, m.rfm, %15$L) AS class8,
           tiers.abc_class(s.net_revenue::float8, m.abc) AS abc_class%16$s%26$s
    FROM s%35$s CROSS JOIN run),
-- segments in the order of the rule set (1 = its first segment, Others last), tiers from the top
segment_ranks AS (
    SELECT r.segment, (row_number() OVER (ORDER BY min(r.priority)))::int AS segment_rank
    FROM tiers.rfm_segment_rules r WHERE r.rule_set = %14$L GROUP BY r.segment
    UNION ALL
    SELECT 'Others', (count(DISTINCT r.segment) + 1)::int FROM tiers.rfm_segment_rules r WHERE r.rule_set = %14$L),
tier_ranks AS (
    SELECT l.tier, (max(l.rank) OVER () + 1 - l.rank)::int AS tier_rank
    FROM tiers.tier_levels l WHERE l.scheme = %21$L),
final AS (
    SELECT t.customer%36$s, t.first_purchase, t.last_purchase, t.orders, t.returns, t.occasions,
           t.frequency, t.recency, t.tenure, t.since_last, t.net_revenue AS monetary_total, t.monetary,
           t.recent_spend, t.earlier_spend, (t.sc).r, (t.sc).f, (t.sc).m, (t.sc).score,
           (t.sc).segment, t.class8, t.abc_class%17$s%27$s%18$s
    FROM scored t%19$s)
SELECT x.*%23$s FROM (
    SELECT customer_row.*, sr.segment_rank%22$s, tiers.customer_tags(customer_row) AS tags, run.as_of
    FROM final customer_row CROSS JOIN run
    LEFT JOIN segment_ranks sr ON sr.segment = customer_row.segment%24$s
    OFFSET 0) x  -- not flattened: the tag columns read tags instead of calling customer_tags again
$q$,
        v.view_schema, v.view_name, v.customer_column, v.ordered_at_column, v.amount_column, src, filter,
        ts_type, o->>'unit', o->>'recent_window', (o->>'bins')::int, (o->>'abc_a_cut')::float8,
        (o->>'abc_b_cut')::float8, o->>'rule_set', o->>'class8_lang',
        CASE WHEN clv THEN format($c$,
           tiers.p_alive(%5$s.bgnbd, s.frequency, s.recency, s.tenure) AS p_alive,
           tiers.expected_purchases(%5$s.bgnbd, %1$s, s.frequency, s.recency, s.tenure) AS expected_purchases,
           -- Gamma-Gamma models a mean spend >= 0: NULL where returns exceed the purchases
           CASE WHEN s.monetary >= 0 THEN tiers.expected_spend(%5$s.gamma_gamma, s.frequency, s.monetary) END AS expected_spend,
           CASE WHEN s.monetary >= 0 THEN tiers.clv_estimate(%5$s.bgnbd, %5$s.gamma_gamma, s.frequency, s.recency, s.tenure, s.monetary,
                              %2$L::interval, %3$s, %4$L::interval) END AS clv%6$s$c$,
           horizon_units, o->>'clv_horizon', (o->>'clv_discount')::float8, o->>'unit', clv_from,
           CASE WHEN o->>'clv_interval' IS NOT NULL THEN format($i$,
           CASE WHEN s.monetary >= 0 THEN tiers.clv_interval(%1$s.bgnbd, %1$s.gamma_gamma, s.frequency, s.recency, s.tenure, s.monetary,
                              %2$L::interval, %3$s, %4$L::interval, interval '1 month', %5$s) END AS clv_ci$i$,
               clv_from, o->>'clv_horizon', (o->>'clv_discount')::float8, o->>'unit', (o->>'clv_interval')::float8)
           ELSE '' END) ELSE '' END,
        CASE WHEN clv THEN ', t.p_alive, t.expected_purchases, t.expected_spend, t.clv'
             || CASE WHEN o->>'clv_interval' IS NOT NULL THEN ', (t.clv_ci).low AS clv_low, (t.clv_ci).high AS clv_high' ELSE '' END
             ELSE '' END,
        CASE WHEN scheme IS NOT NULL THEN format(
           ', t.%1$I::float8 AS value, h.tier AS previous_tier, '
           'tiers.tier_of(t.%1$I::float8, %2$L, h.tier, h.grace_used) AS tier',
           CASE o->>'tier_value' WHEN 'monetary_total' THEN 'net_revenue' ELSE o->>'tier_value' END, scheme)
           ELSE '' END,
        -- the previous tier is the one in force the day before as_of, so a second refresh for
        -- the same date gives the same tiers as the first
        CASE WHEN scheme IS NOT NULL THEN format(
           ' CROSS JOIN run LEFT JOIN tiers.tier_history_before(%L, run.as_of::date) h'
           ' ON h.customer = t.customer::text', scheme) ELSE '' END,
        money, scheme,
        CASE WHEN scheme IS NOT NULL THEN ', tr.tier_rank' ELSE '' END,
        tag_columns,
        CASE WHEN scheme IS NOT NULL THEN ' LEFT JOIN tier_ranks tr ON tr.tier = customer_row.tier' ELSE '' END,
        km_run, km_scored, km_final,
        src_grade, s0_grade, s_extra, s_join, models_grade, models_group, clv_ctes, scored_join, final_extra,
        s0_sql);
    RETURN q;
END
$sql$;
COMMENT ON FUNCTION tiers.tier_view_sql(tiers.tier_views) IS
    'The SELECT behind a declared tier view (for inspection; create_tier_view uses it). Every name comes from the catalog and is quoted.';

-- Incremental tier views (option incremental): the per-customer states and the recent rows kept
-- next to the view, in its schema, owned by its owner and readable by nobody else.
CREATE FUNCTION tiers.tier_view_state_tables(v tiers.tier_views) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT ARRAY[format('%I.%I', v.view_schema, v.view_name OPERATOR(pg_catalog.||) '_states'),
                 format('%I.%I', v.view_schema, v.view_name OPERATOR(pg_catalog.||) '_recent')]
$$;
COMMENT ON FUNCTION tiers.tier_view_state_tables(tiers.tier_views) IS
    'The two tables of an incremental tier view, as quoted qualified names: <view>_states (one row per customer: the summary state of the folded orders, tiers.summary_state, and their exact net revenue) and <view>_recent (the orders of the last 2 x recent_window before as_of, and orders dated after as_of, not yet folded).';

-- Creates the tables of an incremental tier view (tier_view_build); checks the column.
CREATE FUNCTION tiers.tier_view_state_create(v tiers.tier_views) RETURNS void
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $state$
DECLARE
    src regclass := format('%I.%I', v.source_schema, v.source_name)::regclass;
    col name := v.options->'incremental'->>'column';
    t text[] := tiers.tier_view_state_tables(v);
    col_type regtype;
    not_null boolean;
    customer_type text;
BEGIN
    SELECT a.atttypid::regtype, a.attnotnull INTO col_type, not_null FROM pg_attribute a
    WHERE a.attrelid = src AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF col_type IS NULL THEN
        RAISE EXCEPTION 'incremental.column: column "%" does not exist in %', col, src USING ERRCODE = '42703';
    END IF;
    IF col_type NOT IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype,
                        'date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype) THEN
        RAISE EXCEPTION 'incremental.column "%" has type %; an integer, numeric, date or timestamp column that only grows is needed',
            col, col_type USING ERRCODE = '42804';
    END IF;
    IF NOT not_null THEN
        RAISE EXCEPTION 'incremental.column "%" of % must be NOT NULL (rows without a value could never be folded)', col, src
            USING ERRCODE = '22023', HINT = format('ALTER TABLE %s ALTER COLUMN %I SET NOT NULL', src, col);
    END IF;
    IF octet_length(v.view_name) > 63 - octet_length('_states') THEN
        RAISE EXCEPTION 'an incremental tier view''s name may have at most 56 bytes (its tables add _states and _recent), got %',
            octet_length(v.view_name) USING ERRCODE = '42622';
    END IF;
    IF to_regclass(t[1]) IS NOT NULL OR to_regclass(t[2]) IS NOT NULL THEN
        RAISE EXCEPTION 'relation % or % already exists', t[1], t[2] USING ERRCODE = '42P07',
            HINT = 'An incremental tier view keeps its per-customer states in these two tables.';
    END IF;
    SELECT format_type(a.atttypid, a.atttypmod) INTO customer_type FROM pg_attribute a
    WHERE a.attrelid = src AND a.attname = v.customer_column AND NOT a.attisdropped;
    EXECUTE format('CREATE TABLE %s (customer %s PRIMARY KEY, state tiers.summary_state NOT NULL, net_revenue numeric NOT NULL)',
        t[1], customer_type);
    EXECUTE format('COMMENT ON TABLE %s IS %L', t[1], format(
        'Per-customer states of the incremental tier view %I.%I (customer_tiers): the summary state (tiers.summary_state) and the exact net revenue of the orders folded so far. Maintained by tiers.refresh_tier_view; rebuilt with full => true.',
        v.view_schema, v.view_name));
    EXECUTE format('CREATE TABLE %s (customer %s NOT NULL, ordered_at %s NOT NULL, amount numeric NOT NULL, folded boolean NOT NULL)',
        t[2], customer_type,
        (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
         WHERE a.attrelid = src AND a.attname = v.ordered_at_column AND NOT a.attisdropped));
    EXECUTE format('CREATE INDEX ON %s (ordered_at)', t[2]);
    EXECUTE format('COMMENT ON TABLE %s IS %L', t[2], format(
        'Orders of the last 2 x recent_window before as_of (recent_spend, earlier_spend) and orders dated after as_of (folded = false until as_of reaches them) of the incremental tier view %I.%I (customer_tiers). Maintained by tiers.refresh_tier_view.',
        v.view_schema, v.view_name));
END
$state$;
COMMENT ON FUNCTION tiers.tier_view_state_create(tiers.tier_views) IS
    'Creates the two tables of an incremental tier view (tiers.tier_view_state_tables) after checking its column: missing 42703; not an integer, numeric, date or timestamp 42804; nullable 22023; view name over 56 bytes 42622; tables already there 42P07.';

-- The fold of an incremental refresh: the orders past the watermark (or all of them) into the
-- per-customer states; returns the refresh row with the watermark filled in.
CREATE FUNCTION tiers.tier_view_fold(v tiers.tier_views, r tiers.tier_view_refreshes, rebuild boolean)
    RETURNS tiers.tier_view_refreshes
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $fold$
DECLARE
    o jsonb := v.options;
    src regclass := format('%I.%I', v.source_schema, v.source_name)::regclass;
    col name := o->'incremental'->>'column';
    t text[] := tiers.tier_view_state_tables(v);
    col_type text;
    ts_type text;
    base text;
    last tiers.tier_view_refreshes;
    below bigint;
    why text;
    as_of_lit text;
    window_lit text;
    moved_back boolean;
    cut text;
BEGIN
    SELECT format_type(a.atttypid, NULL) INTO col_type FROM pg_attribute a
    WHERE a.attrelid = src AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF col_type IS NULL THEN
        RAISE EXCEPTION 'incremental.column: column "%" does not exist in %', col, src USING ERRCODE = '42703';
    END IF;
    SELECT format_type(a.atttypid, NULL) INTO ts_type FROM pg_attribute a
    WHERE a.attrelid = src AND a.attname = v.ordered_at_column AND NOT a.attisdropped;
    -- the orders of the view (the same conditions as a full view) that have a value in the column
    base := format('o.%I IS NOT NULL AND o.%I IS NOT NULL AND o.%I IS NOT NULL AND o.%I IS NOT NULL%s',
        v.customer_column, v.ordered_at_column, v.amount_column, col, tiers.tier_view_filter(v));
    as_of_lit := format('%L::timestamptz::%s', r.as_of, ts_type);
    -- as_of in the type of the orders' time column (the day or time in the session's TimeZone)
    -- (written by to_jsonb: ISO 8601 whatever the session's DateStyle, as the watermark)
    EXECUTE format('SELECT to_jsonb(%s) #>> ''{}''', as_of_lit) INTO cut;
    r.fold_cut := cut;
    window_lit := format('%L::interval', o->>'recent_window');
    SELECT x.* INTO last FROM tiers.tier_view_refreshes x
    WHERE x.view_schema = v.view_schema AND x.view_name = v.view_name AND x.watermark_rows IS NOT NULL
    ORDER BY x.refreshed_at DESC LIMIT 1;
    IF NOT rebuild THEN
        IF last.watermark_rows IS NULL THEN
            rebuild := true;  -- the first refresh
        ELSE
            -- compared with the cut the last fold applied (set with its watermark), in the type of
            -- the orders' time column: a date or timestamp cut depends on the session's TimeZone,
            -- and a refresh from another zone (pg_cron runs in the server's) may cut earlier
            EXECUTE format('SELECT %1$L::%3$s < %2$L::%3$s', cut, last.fold_cut, ts_type) INTO moved_back;
        END IF;
        IF moved_back THEN
            why := format('as_of %s is before the last refresh''s %s', cut, last.fold_cut);
        ELSIF last.watermark_rows IS NOT NULL THEN
            -- orders at or below the watermark added, deleted (or moved across it) since the last
            -- refresh: an index on the column makes this count cheap
            IF last.watermark IS NULL THEN
                below := 0;
            ELSE
                EXECUTE format('SELECT count(*) FROM %s AS o WHERE %s AND o.%I <= %L::%s', src, base, col,
                               last.watermark, col_type) INTO below;
            END IF;
            IF below <> last.watermark_rows THEN
                why := format('%s orders at or below the watermark %s of column %I, %s at the last refresh: older orders were added or deleted',
                              below, last.watermark, col, last.watermark_rows);
            END IF;
        END IF;
        IF why IS NOT NULL THEN
            RAISE NOTICE 'tier view %.%: the per-customer states are rebuilt from all orders (%)',
                quote_ident(v.view_schema), quote_ident(v.view_name), why;
            rebuild := true;
        END IF;
    END IF;

    IF rebuild THEN
        EXECUTE format('TRUNCATE %s, %s', t[1], t[2]);
        -- one statement, one snapshot: the states, the recent rows and the watermark agree
        EXECUTE format($full$
            WITH g AS MATERIALIZED (
                SELECT o.%1$I AS customer,
                       tiers.summary_state(o.%2$I, (o.%3$I)::numeric) FILTER (WHERE o.%2$I <= %4$s) AS state,
                       sum((o.%3$I)::numeric) FILTER (WHERE o.%2$I <= %4$s) AS net_revenue,
                       max(o.%5$I) AS mark, count(*) AS n
                FROM %6$s AS o WHERE %7$s
                GROUP BY o.%1$I),
            states AS (
                INSERT INTO %8$s (customer, state, net_revenue)
                SELECT g.customer, g.state, g.net_revenue FROM g WHERE g.state IS NOT NULL),
            recent AS (
                INSERT INTO %9$s (customer, ordered_at, amount, folded)
                SELECT o.%1$I, o.%2$I, (o.%3$I)::numeric, o.%2$I <= %4$s
                FROM %6$s AS o WHERE %7$s AND o.%2$I > %4$s - 2 * %10$s)
            SELECT to_jsonb(max(g.mark)) #>> '{}', coalesce(sum(g.n), 0)::bigint FROM g $full$,
            v.customer_column, v.ordered_at_column, v.amount_column, as_of_lit, col, src, base, t[1], t[2],
            window_lit)
        INTO r.watermark, r.watermark_rows;
        r.new_orders := r.watermark_rows;
        r.incremental := false;
        RETURN r;
    END IF;

    -- the new orders, read once (one snapshot)
    IF to_regclass('pg_temp.ct_tier_view_new') IS NOT NULL THEN
        DROP TABLE pg_temp.ct_tier_view_new;
    END IF;
    EXECUTE format($new$
        CREATE TEMP TABLE ct_tier_view_new ON COMMIT DROP AS
        SELECT o.%1$I AS customer, o.%2$I AS ordered_at, (o.%3$I)::numeric AS amount, o.%4$I AS mark
        FROM %5$s AS o WHERE %6$s%7$s $new$,
        v.customer_column, v.ordered_at_column, v.amount_column, col, src, base,
        -- no watermark yet: the last refresh saw no orders
        CASE WHEN last.watermark IS NOT NULL THEN format(' AND o.%I > %L::%s', col, last.watermark, col_type) ELSE '' END);
    -- those of the recent windows (or after as_of) are kept; folded below when due
    EXECUTE format('INSERT INTO %s (customer, ordered_at, amount, folded)
                    SELECT n.customer, n.ordered_at, n.amount, false FROM pg_temp.ct_tier_view_new n
                    WHERE n.ordered_at > %s - 2 * %s', t[2], as_of_lit, window_lit);
    -- fold: the older new orders, and the kept orders that as_of has reached
    EXECUTE format($merge$
        INSERT INTO %1$s AS s (customer, state, net_revenue)
        SELECT d.customer, tiers.summary_state(d.ordered_at, d.amount), sum(d.amount)
        FROM (SELECT n.customer, n.ordered_at, n.amount FROM pg_temp.ct_tier_view_new n
              WHERE n.ordered_at <= %3$s - 2 * %4$s
              UNION ALL
              SELECT k.customer, k.ordered_at, k.amount FROM %2$s k
              WHERE NOT k.folded AND k.ordered_at <= %3$s) d
        GROUP BY d.customer
        ON CONFLICT (customer) DO UPDATE
        SET state = tiers.summary_state_merge(s.state, excluded.state),
            net_revenue = s.net_revenue + excluded.net_revenue $merge$,
        t[1], t[2], as_of_lit, window_lit);
    EXECUTE format('UPDATE %s SET folded = true WHERE NOT folded AND ordered_at <= %s', t[2], as_of_lit);
    EXECUTE format('DELETE FROM %s WHERE ordered_at <= %s - 2 * %s', t[2], as_of_lit, window_lit);
    SELECT coalesce(to_jsonb(max(n.mark)) #>> '{}', last.watermark), count(*)
    INTO r.watermark, r.new_orders FROM pg_temp.ct_tier_view_new n;
    r.watermark_rows := last.watermark_rows + r.new_orders;
    r.incremental := true;
    DROP TABLE pg_temp.ct_tier_view_new;
    RETURN r;
END
$fold$;
COMMENT ON FUNCTION tiers.tier_view_fold(tiers.tier_views, tiers.tier_view_refreshes, boolean) IS
    'The first stage of refreshing an incremental tier view: folds the orders whose incremental column is past the watermark of the last refresh into the per-customer states (rows dated within 2 x recent_window before as_of, or after it, are kept in <view>_recent; rows after as_of are folded once as_of reaches them), or rebuilds the states from all orders (rebuild, the first refresh, as_of before the last one, or a changed count of orders at or below the watermark: NOTICE). Returns r with incremental, new_orders, watermark, watermark_rows and fold_cut set.';

CREATE FUNCTION tiers.refresh_tier_view(view regclass, wait boolean DEFAULT true, "full" boolean DEFAULT false)
    RETURNS tiers.tier_view_refreshes
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $refresh$
DECLARE
    v tiers.tier_views;
    r tiers.tier_view_refreshes;
    o jsonb;
    ts_type text;
    t0 timestamptz;
    t1 timestamptz;
    populated boolean;
    last_eval date;
    lock_key bigint;
BEGIN
    IF view IS NULL OR wait IS NULL OR "full" IS NULL THEN
        RAISE EXCEPTION 'view, wait and full must not be NULL' USING ERRCODE = '22004';
    END IF;
    v := tiers.tier_view_declaration(view, 'own');
    o := v.options;
    -- one refresh per view at a time (transaction-level advisory lock keyed by the view's oid)
    lock_key := ('tiers.tier_views'::regclass::oid::bigint << 32) | view::oid::bigint;
    IF NOT pg_try_advisory_xact_lock(lock_key) THEN
        IF NOT wait THEN
            RAISE NOTICE 'tier view % is being refreshed by another session; skipped', view;
            RETURN NULL;
        END IF;
        RAISE NOTICE 'tier view % is being refreshed by another session; waiting (lock_timeout applies)', view;
        PERFORM pg_advisory_xact_lock(lock_key);
    END IF;

    r.view_schema := v.view_schema;
    r.view_name := v.view_name;
    r.as_of := coalesce((o->>'as_of')::timestamptz, now());
    r.refreshed_at := clock_timestamp();
    -- 0. incremental views: the orders past the watermark folded into the per-customer states
    IF o->'incremental' IS NOT NULL THEN
        t0 := clock_timestamp();
        r := tiers.tier_view_fold(v, r, "full");
        r.fold_ms := 1000 * extract(epoch FROM clock_timestamp() - t0);
    END IF;
    -- 1. CLV models fitted on the summaries as of this refresh
    t0 := clock_timestamp();
    IF (o->>'clv')::boolean THEN
        SELECT format_type(a.atttypid, NULL) INTO ts_type FROM pg_attribute a
        WHERE a.attrelid = format('%I.%I', v.source_schema, v.source_name)::regclass
          AND a.attname = v.ordered_at_column;
    END IF;
    IF (o->>'clv')::boolean AND o->'incremental' IS NOT NULL THEN
        EXECUTE format($fit$
            SELECT tiers.bgnbd_fit(s.frequency, s.recency, s.tenure),
                   tiers.gamma_gamma_fit(s.frequency, s.monetary)
            FROM %3$s AS st
            CROSS JOIN LATERAL tiers.summary_from_state(st.state, $1::%1$s, %2$L::interval) AS s $fit$,
            ts_type, o->>'unit', (tiers.tier_view_state_tables(v))[1])
        INTO r.bgnbd, r.gamma_gamma USING r.as_of;
    ELSIF (o->>'clv')::boolean THEN
        EXECUTE format($fit$
            SELECT tiers.bgnbd_fit(s.frequency, s.recency, s.tenure),
                   tiers.gamma_gamma_fit(s.frequency, s.monetary)
            FROM (SELECT (tiers.customer_summary(o.%1$I, (o.%2$I)::numeric, $1::%3$s, %4$L::interval)).*
                  FROM %5$I.%6$I AS o
                  WHERE o.%7$I IS NOT NULL AND o.%1$I IS NOT NULL AND o.%2$I IS NOT NULL
                    AND o.%1$I <= $1::%3$s%8$s
                  GROUP BY o.%7$I) s $fit$,
            v.ordered_at_column, v.amount_column, ts_type, o->>'unit', v.source_schema, v.source_name,
            v.customer_column, tiers.tier_view_filter(v))
        INTO r.bgnbd, r.gamma_gamma USING r.as_of;
    END IF;
    r.fit_ms := 1000 * extract(epoch FROM clock_timestamp() - t0);
    INSERT INTO tiers.tier_view_refreshes VALUES (r.*);

    -- 2. the view itself: CONCURRENTLY once populated, so readers are never blocked
    t0 := clock_timestamp();
    SELECT c.relispopulated INTO populated FROM pg_class c WHERE c.oid = view;
    IF populated THEN
        EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY %I.%I', v.view_schema, v.view_name);
    ELSE
        EXECUTE format('REFRESH MATERIALIZED VIEW %I.%I', v.view_schema, v.view_name);
    END IF;
    EXECUTE format('SELECT count(*) FROM %I.%I', v.view_schema, v.view_name) INTO r.customers;
    r.refresh_ms := 1000 * extract(epoch FROM clock_timestamp() - t0);

    -- 3. tier changes into the history (once per as_of date)
    t0 := clock_timestamp();
    IF o->>'tier_scheme' IS NOT NULL AND (o->>'history')::boolean THEN
        SELECT max(e.evaluated_on) INTO last_eval FROM tiers.tier_evaluations e
        WHERE e.scheme = o->>'tier_scheme';
        IF last_eval IS NULL OR last_eval < r.as_of::date THEN
            PERFORM tiers.snapshot_tiers(o->>'tier_scheme', view, 'customer', 'value', r.as_of::date);
        ELSE
            RAISE NOTICE 'tier history of scheme "%" already has an evaluation on or after %; not recorded again',
                o->>'tier_scheme', r.as_of::date;
        END IF;
    END IF;
    r.history_ms := 1000 * extract(epoch FROM clock_timestamp() - t0);
    UPDATE tiers.tier_view_refreshes x
    SET customers = r.customers, refresh_ms = r.refresh_ms, history_ms = r.history_ms
    WHERE x.view_schema = r.view_schema AND x.view_name = r.view_name AND x.refreshed_at = r.refreshed_at;
    RETURN r;
END
$refresh$;
COMMENT ON FUNCTION tiers.refresh_tier_view(regclass, boolean, boolean) IS
    'Refreshes a tier view in one transaction: for incremental views (option incremental) folds the orders past the watermark into the per-customer states, or rebuilds them from all orders with full => true, on the first refresh, when as_of moved back or (with a NOTICE) when the number of orders at or below the watermark changed; fits the CLV models for the new as_of (when the view has CLV columns), refreshes the materialized view (CONCURRENTLY once populated: readers see the old contents until commit), records tier changes in tiers.tier_history (once per as_of date), and returns the refresh row with the time of each stage. Runs at most once at a time per view (advisory transaction lock): a second caller waits (lock_timeout applies; 55P03 when it expires) or, with wait => false, gets a NOTICE and NULL. On error or cancel nothing changes. Not a tier view: 22023.';

-- Creates the materialized view of a declaration WITH NO DATA, its unique index on customer and
-- a comment on the view and on every column (create_tier_view and alter_tier_view).
CREATE FUNCTION tiers.tier_view_build(v tiers.tier_views) RETURNS regclass
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $build$
DECLARE
    o jsonb := v.options;
    view regclass;
    col record;
BEGIN
    IF o->'incremental' IS NOT NULL THEN
        PERFORM tiers.tier_view_state_create(v);
    END IF;
    EXECUTE format('CREATE MATERIALIZED VIEW %I.%I AS %s WITH NO DATA',
                   v.view_schema, v.view_name, tiers.tier_view_sql(v));
    view := format('%I.%I', v.view_schema, v.view_name)::regclass;
    EXECUTE format('CREATE UNIQUE INDEX ON %I.%I (customer)', v.view_schema, v.view_name);
    EXECUTE format('COMMENT ON MATERIALIZED VIEW %I.%I IS %L', v.view_schema, v.view_name,
        format('Tier view of %s (customer_tiers): one row per customer. Refresh with tiers.refresh_tier_view(%L). Declared in tiers.tier_views.',
               format('%I.%I', v.source_schema, v.source_name), view::text));
    FOR col IN SELECT a.attname, d.description
               FROM pg_attribute a
               JOIN (VALUES
                 ('customer', 'the customer key (source column ' || quote_ident(v.customer_column) || ')'),
                 ('first_purchase', 'date of the first purchase'),
                 ('last_purchase', 'date of the last purchase up to as_of'),
                 ('orders', 'rows with an amount >= 0 (orders)'),
                 ('returns', 'rows with a negative amount'),
                 ('occasions', 'distinct purchase periods (unit ' || (o->>'unit') || ')'),
                 ('frequency', 'repeat purchase occasions (occasions - 1)'),
                 ('recency', 'first to last purchase, in units of ' || (o->>'unit')),
                 ('tenure', 'first purchase to as_of, in units of ' || (o->>'unit')),
                 ('since_last', 'last purchase to as_of, in units of ' || (o->>'unit')),
                 ('monetary_total', 'net revenue up to as_of (exact decimal sum of the amounts)'),
                 ('monetary', 'mean value of the repeat purchase occasions'),
                 ('recent_spend', 'revenue in the last ' || (o->>'recent_window') || ' before as_of'),
                 ('earlier_spend', 'revenue in the ' || (o->>'recent_window') || ' before that'),
                 ('r', 'RFM recency score 1..' || (o->>'bins') || ' (higher is more recent)'),
                 ('f', 'RFM frequency score 1..' || (o->>'bins')),
                 ('m', 'RFM monetary score 1..' || (o->>'bins')),
                 ('score', 'RFM cell, the three scores as text'),
                 ('segment', 'RFM segment under rule set ' || (o->>'rule_set')),
                 ('class8', '8-class RFM label (' || (o->>'class8_lang') || ')'),
                 ('abc_class', 'ABC class by revenue (A up to ' || (o->>'abc_a_cut') || ', B up to ' || (o->>'abc_b_cut') || ' of revenue)'),
                 ('p_alive', 'BG/NBD probability that the customer is alive at as_of'),
                 ('expected_purchases', 'BG/NBD expected purchases in the next ' || (o->>'clv_horizon')),
                 ('expected_spend', 'Gamma-Gamma expected mean spend per purchase (NULL where returns exceed the purchases: monetary < 0)'),
                 ('clv', 'BG/NBD + Gamma-Gamma CLV over ' || (o->>'clv_horizon') || ', discount ' || (o->>'clv_discount') || ' per month (NULL where monetary < 0)'),
                 ('clv_low', 'lower bound of the ' || (o->>'clv_interval') || ' confidence interval of clv from the models'' parameter uncertainty (tiers.clv_interval)'),
                 ('clv_high', 'upper bound of the ' || (o->>'clv_interval') || ' confidence interval of clv (tiers.clv_interval)'),
                 ('value', 'the value driving the tier (' || (o->>'tier_value') || ')'),
                 ('previous_tier', 'tier recorded in tiers.tier_history before this refresh'),
                 ('tier', 'tier under scheme ' || coalesce(o->>'tier_scheme', '') || ' (entry/retain/max_drop applied to previous_tier)'),
                 ('segment_rank', 'position of the segment in rule set ' || (o->>'rule_set') || ' (1 = its first segment, Others last): sort segments by it'),
                 ('tier_rank', 'rank of the tier, 1 = the highest tier of scheme ' || coalesce(o->>'tier_scheme', '') || ': sort tiers by it'),
                 ('cluster', 'K-means cluster (1 = the largest) under the stored model ' || coalesce(o->>'kmeans_model', '') || ' (tiers.kmeans_models); NULL for a customer the model cannot place (no purchase, or a negative value of a log1p feature)'),
                 ('cluster_label', '8-class name of the K-means cluster (' || (o->>'class8_lang') || ', tiers.kmeans_label)'),
                 ('tags', 'customer tags (tiers.customer_tags)'),
                 ('as_of', 'the time the view was computed for')) AS d(name, description)
                 ON d.name = a.attname
               WHERE a.attrelid = view AND a.attnum > 0
               UNION ALL
               -- customer attributes (option customers) and grading columns (option grade_within)
               SELECT a.attname,
                      CASE WHEN ca.attname IS NOT NULL THEN
                               format('from %s.%I', tiers.tier_view_customer_table(o), a.attname)
                               || coalesce(': ' || col_description(ca.attrelid, ca.attnum), '')
                               || CASE WHEN o->'grade_within' ? a.attname::text THEN ' (customers are graded within its values)' ELSE '' END
                           ELSE format('value of %I at the customer''s last order (customers are graded within its values)', a.attname) END
               FROM pg_attribute a
               LEFT JOIN pg_attribute ca ON o->'customers' IS NOT NULL
                    AND ca.attrelid = tiers.tier_view_customer_table(o) AND ca.attname = a.attname
                    AND ca.attnum > 0 AND NOT ca.attisdropped
               WHERE a.attrelid = view AND a.attnum > 0
                 AND (ca.attname IS NOT NULL AND o->'customers'->'columns' ? a.attname::text
                      OR o->'grade_within' ? a.attname::text)
               UNION ALL
               SELECT a.attname, format('TRUE when the customer has the tag %s (tiers.effective_tag_rules)', substr(a.attname, 5))
               FROM pg_attribute a
               WHERE a.attrelid = view AND a.attnum > 0 AND a.attname LIKE 'tag\_%' AND a.atttypid = 'bool'::regtype LOOP
        EXECUTE format('COMMENT ON COLUMN %I.%I.%I IS %L', v.view_schema, v.view_name, col.attname, col.description);
    END LOOP;
    RETURN view;
END
$build$;
COMMENT ON FUNCTION tiers.tier_view_build(tiers.tier_views) IS
    'Creates the materialized view of a tier-view declaration (WITH NO DATA), its unique index on customer and the comments on the view and its columns. Used by create_tier_view and alter_tier_view.';

CREATE FUNCTION tiers.create_tier_view(view_name text, source regclass, customer_column name,
                                       ordered_at_column name, amount_column name,
                                       options jsonb DEFAULT '{}')
    RETURNS regclass
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $create$
DECLARE
    v tiers.tier_views;
    o jsonb;
    t regtype;
    view regclass;
    other text;
    col record;
BEGIN
    IF view_name IS NULL OR source IS NULL OR customer_column IS NULL OR ordered_at_column IS NULL
       OR amount_column IS NULL THEN
        RAISE EXCEPTION 'create_tier_view: view_name, source and the column names must not be NULL'
            USING ERRCODE = '22004';
    END IF;
    IF view_name = '' OR octet_length(view_name) > 63 THEN
        RAISE EXCEPTION 'view_name must be 1 to 63 bytes long, got % bytes', octet_length(view_name)
            USING ERRCODE = '42622';
    END IF;
    o := tiers.tier_view_options(options);
    PERFORM tiers.check_source(source);
    IF NOT has_table_privilege(source, 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for %: create_tier_view needs SELECT on the source', source
            USING ERRCODE = '42501';
    END IF;
    SELECT n.nspname, c.relname INTO v.source_schema, v.source_name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = source;
    -- the columns, resolved through the catalog
    FOR col IN SELECT x.role, x.col, a.atttypid::regtype AS typ
               FROM (VALUES ('customer_column', customer_column), ('ordered_at_column', ordered_at_column),
                            ('amount_column', amount_column)) AS x(role, col)
               LEFT JOIN pg_attribute a ON a.attrelid = source AND a.attname = x.col
                                       AND a.attnum > 0 AND NOT a.attisdropped LOOP
        IF col.typ IS NULL THEN
            RAISE EXCEPTION '%: column "%" does not exist in %', col.role, col.col, source
                USING ERRCODE = '42703';
        END IF;
        IF col.role = 'ordered_at_column' AND col.typ NOT IN
               ('date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype) THEN
            RAISE EXCEPTION 'ordered_at_column "%" has type %; date, timestamp or timestamptz is needed',
                col.col, col.typ USING ERRCODE = '42804';
        END IF;
        IF col.role = 'amount_column' AND col.typ NOT IN ('numeric'::regtype, 'float8'::regtype,
               'float4'::regtype, 'int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'money'::regtype) THEN
            RAISE EXCEPTION 'amount_column "%" has type %; a number type is needed', col.col, col.typ
                USING ERRCODE = '42804';
        END IF;
    END LOOP;
    IF o->>'tier_scheme' IS NOT NULL AND (o->>'history')::boolean THEN
        SELECT format('%I.%I', d.view_schema, d.view_name) INTO other FROM tiers.tier_views d
        WHERE d.options->>'tier_scheme' = o->>'tier_scheme' AND (d.options->>'history')::boolean;
        IF other IS NOT NULL THEN
            RAISE EXCEPTION 'the tier history of scheme "%" is already recorded by tier view %', o->>'tier_scheme', other
                USING ERRCODE = '22023',
                      HINT = 'Use a copy of the scheme or "history": false for the second view.';
        END IF;
    END IF;
    IF to_regclass(format('%I.%I', o->>'schema', view_name)) IS NOT NULL THEN
        RAISE EXCEPTION 'relation %.% already exists', quote_ident(o->>'schema'), quote_ident(view_name)
            USING ERRCODE = '42P07';
    END IF;
    v.view_schema := o->>'schema';
    v.view_name := view_name;
    v.customer_column := customer_column;
    v.ordered_at_column := ordered_at_column;
    v.amount_column := amount_column;
    v.options := o;
    v.created_at := now();
    v.created_by := current_user;
    BEGIN
        INSERT INTO tiers.tier_views VALUES (v.*);
    EXCEPTION WHEN unique_violation THEN
        GET STACKED DIAGNOSTICS other = CONSTRAINT_NAME;
        IF other = 'tier_views_history_scheme' THEN
            -- a declaration this role cannot see (row-level security) records the scheme already
            RAISE EXCEPTION 'the tier history of scheme "%" is already recorded by another tier view', o->>'tier_scheme'
                USING ERRCODE = '22023',
                      HINT = 'Use a copy of the scheme or "history": false for the second view.';
        END IF;
        RAISE EXCEPTION 'tier view %.% is declared already, but its materialized view is missing',
            quote_ident(v.view_schema), quote_ident(v.view_name)
            USING ERRCODE = '42P07',
                  HINT = 'It was dropped without tiers.drop_tier_view: a superuser deletes the declaration from tiers.tier_views.';
    END;

    view := tiers.tier_view_build(v);
    PERFORM tiers.refresh_tier_view(view);
    RETURN view;
END
$create$;
COMMENT ON FUNCTION tiers.create_tier_view(text, regclass, name, name, name, jsonb) IS
    'Creates and populates a materialized tier view named view_name (used verbatim, 1..63 bytes) in options.schema over the orders in source: one row per customer with the summary, recent/earlier spend, RFM scores and segment, 8-class label, ABC class, optional CLV columns, optional tier, tags and as_of; a unique index on customer (for concurrent refresh) and a comment on every column. Options: as_of, unit, bins, rule_set, class8_lang, abc_a_cut, abc_b_cut, tier_scheme, tier_value, history, clv, clv_horizon, clv_discount, recent_window, filter ({column: value or [values]}), orders_since, schema, kmeans_model (a model stored with tiers.save_kmeans_model: adds cluster and, for RFM-shaped models, cluster_label), customers ({"table", "key", "columns"}: customer attributes joined on the key, which needs a unique index (42P10) and the type of the customer column (42804)), grade_within (columns of the customer table or of the orders: RFM, ABC and 8-class computed within each group), clv_within (CLV models per group). Needs SELECT on source and on the customer table''s columns (42501). Errors: NULL arguments 22004; bad options 22023; unknown columns 42703; wrong column types 42804; existing relation 42P07.';

CREATE FUNCTION tiers.alter_tier_view(view regclass, options jsonb) RETURNS regclass
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $alter$
DECLARE
    v tiers.tier_views;
    o jsonb;
    acl aclitem[];
    owner name;
    view_comment text;
    job_schedule text;
    cron_ns name := tiers.cron_schema();
    g record;
    new_view regclass;
    was_incremental boolean;
BEGIN
    IF view IS NULL OR options IS NULL THEN
        RAISE EXCEPTION 'view and options must not be NULL' USING ERRCODE = '22004';
    END IF;
    v := tiers.tier_view_declaration(view, 'own');
    was_incremental := v.options->'incremental' IS NOT NULL;
    IF jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options must be a jsonb object' USING ERRCODE = '22023';
    END IF;
    -- the declared options changed by options; a null value resets an option to its default
    o := tiers.tier_view_options(jsonb_strip_nulls(v.options || options));
    IF o->>'schema' IS DISTINCT FROM v.view_schema THEN
        RAISE EXCEPTION 'alter_tier_view cannot move a view to another schema (ALTER MATERIALIZED VIEW ... SET SCHEMA does not move its declaration either)'
            USING ERRCODE = '22023';
    END IF;
    -- no refresh of this view meanwhile (the lock refresh_tier_view takes)
    PERFORM pg_advisory_xact_lock(('tiers.tier_views'::regclass::oid::bigint << 32) | view::oid::bigint);
    SELECT c.relacl, pg_get_userbyid(c.relowner) INTO acl, owner FROM pg_class c WHERE c.oid = view;
    view_comment := obj_description(view, 'pg_class');
    IF cron_ns IS NOT NULL THEN
        EXECUTE format('SELECT j.schedule FROM %I.job j WHERE j.jobname = $1', cron_ns)
        INTO job_schedule USING tiers.tier_view_job_name(view);
    END IF;

    BEGIN
        UPDATE tiers.tier_views d SET options = o
        WHERE d.view_schema = v.view_schema AND d.view_name = v.view_name;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'the tier history of scheme "%" is already recorded by another tier view', o->>'tier_scheme'
            USING ERRCODE = '22023',
                  HINT = 'Use a copy of the scheme or "history": false for this view.';
    END;
    v.options := o;
    IF job_schedule IS NOT NULL THEN
        PERFORM tiers.unschedule_tier_view(view);
    END IF;
    -- dependent objects of the user make this fail (2BP01) and nothing changes
    EXECUTE format('DROP MATERIALIZED VIEW %I.%I', v.view_schema, v.view_name);
    -- the tables of an incremental view are rebuilt (the next refresh folds all orders)
    IF was_incremental THEN
        EXECUTE format('DROP TABLE IF EXISTS %s', array_to_string(tiers.tier_view_state_tables(v), ', '));
    END IF;
    new_view := tiers.tier_view_build(v);
    -- the owner, grants, comment and schedule the view had
    IF owner <> current_user THEN
        EXECUTE format('ALTER MATERIALIZED VIEW %s OWNER TO %I', new_view, owner);
        IF o->'incremental' IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %s OWNER TO %I', (tiers.tier_view_state_tables(v))[1], owner);
            EXECUTE format('ALTER TABLE %s OWNER TO %I', (tiers.tier_view_state_tables(v))[2], owner);
        END IF;
    END IF;
    FOR g IN SELECT a.grantee, a.privilege_type, a.is_grantable FROM aclexplode(acl) a
             WHERE a.grantee <> (SELECT c.relowner FROM pg_class c WHERE c.oid = new_view) LOOP
        EXECUTE format('GRANT %s ON %s TO %s%s', g.privilege_type, new_view,
                       CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(g.grantee)) END,
                       CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
    EXECUTE format('COMMENT ON MATERIALIZED VIEW %s IS %L', new_view, view_comment);
    IF job_schedule IS NOT NULL THEN
        PERFORM tiers.schedule_tier_view(new_view, job_schedule);
    END IF;
    PERFORM tiers.refresh_tier_view(new_view, "full" => true);
    RETURN new_view;
END
$alter$;
COMMENT ON FUNCTION tiers.alter_tier_view(regclass, jsonb) IS
    'Changes the options of a tier view (merged into the declared ones; a null value resets an option to its default) and rebuilds it with its new columns in one transaction: the owner, grants, view comment, pg_cron schedule, refresh records and tier history are kept, column comments describe the new options, and the view is refreshed. Needs the view''s owner (42501); bad options 22023 (also a scheme whose history another view records, or a change of schema); objects depending on the view: 2BP01; NULL arguments 22004.';

CREATE FUNCTION tiers.cron_schema() RETURNS name
    LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    -- the schema of pg_cron's own schedule function (pg_cron puts its objects in "cron",
    -- whatever its extension schema says), found through the extension's dependencies
    SELECT n.nspname FROM pg_extension e
    JOIN pg_depend d ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
                    AND d.deptype = 'e' AND d.classid = 'pg_proc'::regclass
    JOIN pg_proc p ON p.oid = d.objid AND p.proname = 'schedule'
    JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE e.extname = 'pg_cron'
    LIMIT 1
$$;
COMMENT ON FUNCTION tiers.cron_schema() IS
    'Schema of the pg_cron functions in this database (found through the extension''s own objects), NULL when pg_cron is not installed.';

CREATE FUNCTION tiers.tier_view_job_name(view regclass) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT 'customer_tiers refresh ' || $1::oid::text
$$;
COMMENT ON FUNCTION tiers.tier_view_job_name(regclass) IS
    'Name of the pg_cron job that refreshes a tier view.';

CREATE FUNCTION tiers.schedule_tier_view(view regclass, cron text) RETURNS bigint
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $schedule$
DECLARE
    cron_ns name := tiers.cron_schema();
    job bigint;
BEGIN
    IF view IS NULL OR cron IS NULL THEN
        RAISE EXCEPTION 'view and cron must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF cron_ns IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not installed in this database'
            USING ERRCODE = '55000',
                  HINT = 'Install the package postgresql-15-cron, add pg_cron to shared_preload_libraries, set cron.database_name to this database, restart, then CREATE EXTENSION pg_cron.';
    END IF;
    PERFORM tiers.tier_view_declaration(view, 'own');
    EXECUTE format('SELECT %I.schedule($1, $2, $3)', cron_ns)
    INTO job
    USING tiers.tier_view_job_name(view), cron,
          format('SELECT tiers.refresh_tier_view(%L::regclass, wait => false)', view::oid::regclass::text);
    RETURN job;
END
$schedule$;
COMMENT ON FUNCTION tiers.schedule_tier_view(regclass, text) IS
    'Schedules tiers.refresh_tier_view(view, wait => false) with pg_cron (cron syntax, or ''N seconds''); scheduling again replaces the schedule. Returns the job id. pg_cron missing: 55000 with instructions; not a tier view: 22023.';

CREATE FUNCTION tiers.unschedule_tier_view(view regclass) RETURNS boolean
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $unschedule$
DECLARE
    cron_ns name := tiers.cron_schema();
    found_job boolean;
BEGIN
    IF view IS NULL THEN
        RAISE EXCEPTION 'view must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF cron_ns IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not installed in this database' USING ERRCODE = '55000';
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT FROM %I.job j WHERE j.jobname = $1)', cron_ns)
    INTO found_job USING tiers.tier_view_job_name(view);
    IF found_job THEN
        EXECUTE format('SELECT %I.unschedule($1)', cron_ns) USING tiers.tier_view_job_name(view);
    END IF;
    RETURN found_job;
END
$unschedule$;
COMMENT ON FUNCTION tiers.unschedule_tier_view(regclass) IS
    'Removes the pg_cron job of a tier view; returns whether there was one. pg_cron missing: 55000.';

CREATE FUNCTION tiers.drop_tier_view(view regclass) RETURNS void
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $drop$
DECLARE
    v tiers.tier_views;
BEGIN
    v := tiers.tier_view_declaration(view, 'own');
    IF tiers.cron_schema() IS NOT NULL THEN
        PERFORM tiers.unschedule_tier_view(view);
    END IF;
    -- the declaration first: row-level security shows it only while the view exists
    DELETE FROM tiers.tier_views d WHERE d.view_schema = v.view_schema AND d.view_name = v.view_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the declaration of tier view % could not be deleted', view
            USING ERRCODE = '42501', HINT = 'Dropping a tier view needs DELETE on tiers.tier_views.';
    END IF;
    EXECUTE format('DROP MATERIALIZED VIEW %I.%I', v.view_schema, v.view_name);
    IF v.options->'incremental' IS NOT NULL THEN
        EXECUTE format('DROP TABLE IF EXISTS %s', array_to_string(tiers.tier_view_state_tables(v), ', '));
    END IF;
END
$drop$;
COMMENT ON FUNCTION tiers.drop_tier_view(regclass) IS
    'Drops a tier view, its pg_cron schedule, its declaration, its refresh records and the tables of an incremental view (the tier history of its scheme stays). Not a tier view: 22023; dependent objects: 2BP01.';

CREATE FUNCTION tiers.tier_report(view regclass)
    RETURNS TABLE (dimension text, grp text, customers bigint, customer_share double precision,
                   revenue double precision, revenue_share double precision, avg_clv double precision,
                   total_clv double precision, avg_since_last double precision, upgrades bigint,
                   downgrades bigint, new bigint, lost bigint, repeat_rate double precision,
                   active_rate double precision)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS $report$
DECLARE
    v tiers.tier_views;
    tier_scheme text;
    last_eval date;
    has_clv boolean;
    has_tier boolean;
    has_cluster boolean;
    has_label boolean;
BEGIN
    v := tiers.tier_view_declaration(view, 'read');
    SELECT bool_or(a.attname = 'cluster'), bool_or(a.attname = 'cluster_label') INTO has_cluster, has_label
    FROM pg_attribute a WHERE a.attrelid = view AND a.attnum > 0 AND NOT a.attisdropped;
    tier_scheme := v.options->>'tier_scheme';
    has_clv := (v.options->>'clv')::boolean;
    has_tier := tier_scheme IS NOT NULL;
    SELECT max(e.evaluated_on) INTO last_eval FROM tiers.tier_evaluations e WHERE e.scheme = tier_scheme;
    RETURN QUERY EXECUTE format($q$
        WITH t AS (
            SELECT %2$s AS tier, x.segment, x.abc_class, x.monetary_total, x.since_last, %3$s AS clv,
                   x.frequency, %5$s AS cluster, %6$s AS cluster_number, %7$s AS grade_group
            FROM %1$I.%4$I x),
        tot AS (SELECT count(*) AS n, sum(t.monetary_total) AS rev FROM t),
        cur AS (SELECT h.customer, h.tier FROM tiers.tier_history h
                WHERE h.scheme = $1 AND h.valid_from = $2),
        prev AS (SELECT h.customer, h.tier FROM tiers.tier_history h
                 WHERE h.scheme = $1 AND h.valid_to = $2),
        moves AS (
            SELECT coalesce(c.tier, p.tier) AS tier,
                   CASE WHEN p.customer IS NULL THEN 'new' WHEN c.customer IS NULL THEN 'lost'
                        WHEN coalesce(lc.rank, 0) > coalesce(lp.rank, 0) THEN 'up'
                        WHEN coalesce(lc.rank, 0) < coalesce(lp.rank, 0) THEN 'down' END AS move
            FROM cur c FULL JOIN prev p ON p.customer = c.customer
            LEFT JOIN tiers.tier_levels lc ON lc.scheme = $1 AND lc.tier = c.tier
            LEFT JOIN tiers.tier_levels lp ON lp.scheme = $1 AND lp.tier = p.tier),
        mv AS (
            SELECT m.tier, count(*) FILTER (WHERE m.move = 'up') AS up,
                   count(*) FILTER (WHERE m.move = 'down') AS down,
                   count(*) FILTER (WHERE m.move = 'new') AS new,
                   count(*) FILTER (WHERE m.move = 'lost') AS lost
            FROM moves m GROUP BY m.tier),
        g AS (
            SELECT 'tier' AS dimension, t.tier AS grp, t.* FROM t WHERE $3
            UNION ALL SELECT 'segment', t.segment, t.* FROM t
            UNION ALL SELECT 'abc_class', t.abc_class, t.* FROM t
            UNION ALL SELECT 'cluster', t.cluster, t.* FROM t WHERE $5
            UNION ALL SELECT 'group', t.grade_group, t.* FROM t WHERE $6
            UNION ALL SELECT 'all', 'all', t.* FROM t)
        SELECT g.dimension, g.grp, count(*), count(*)::float8 / nullif(tot.n, 0),
               sum(g.monetary_total)::float8, (sum(g.monetary_total) / nullif(tot.rev, 0))::float8,
               avg(g.clv), sum(g.clv), avg(g.since_last),
               CASE WHEN g.dimension = 'tier' AND $2 IS NOT NULL THEN coalesce(max(mv.up), 0) END,
               CASE WHEN g.dimension = 'tier' AND $2 IS NOT NULL THEN coalesce(max(mv.down), 0) END,
               CASE WHEN g.dimension = 'tier' AND $2 IS NOT NULL THEN coalesce(max(mv.new), 0) END,
               CASE WHEN g.dimension = 'tier' AND $2 IS NOT NULL THEN coalesce(max(mv.lost), 0) END,
               -- a customer without a purchase (returns only, NULL frequency) counts as neither
               avg(coalesce(g.frequency >= 1, false)::int)::float8,
               avg(coalesce(g.since_last < $4, false)::int)::float8
        FROM g CROSS JOIN tot
        LEFT JOIN mv ON g.dimension = 'tier' AND mv.tier IS NOT DISTINCT FROM g.grp
        GROUP BY g.dimension, g.grp, tot.n, tot.rev
        ORDER BY array_position(ARRAY['tier', 'segment', 'abc_class', 'cluster', 'group', 'all'], g.dimension),
                 CASE WHEN g.dimension = 'tier' THEN -(SELECT l.rank FROM tiers.tier_levels l
                                                       WHERE l.scheme = $1 AND l.tier = g.grp) END,
                 CASE WHEN g.dimension = 'cluster' THEN min(g.cluster_number) END,
                 sum(g.monetary_total) DESC, g.grp $q$,
        v.view_schema,
        CASE WHEN has_tier THEN 'x.tier' ELSE 'NULL::text' END,
        CASE WHEN has_clv THEN 'x.clv' ELSE 'NULL::float8' END,
        v.view_name,
        CASE WHEN has_label THEN 'x.cluster || '' '' || x.cluster_label'
             WHEN has_cluster THEN 'x.cluster::text' ELSE 'NULL::text' END,
        CASE WHEN has_cluster THEN 'x.cluster' ELSE 'NULL::integer' END,
        -- the grading group (option grade_within): its columns' values, NULL shown as NULL
        coalesce((SELECT format('concat_ws(%L, %s)', ' / ', z.parts)
                  FROM (SELECT string_agg(format('coalesce((x.%I)::text, %L)', g, 'NULL'), ', ' ORDER BY i) AS parts
                        FROM jsonb_array_elements_text(v.options->'grade_within') WITH ORDINALITY AS u(g, i)) z
                  WHERE z.parts IS NOT NULL), 'NULL::text'))
    USING tier_scheme, last_eval, has_tier,
          tiers.interval_seconds((v.options->>'recent_window')::interval)
          / tiers.interval_seconds((v.options->>'unit')::interval),
          coalesce(has_cluster, false), v.options->'grade_within' IS NOT NULL;
END
$report$;
COMMENT ON FUNCTION tiers.tier_report(regclass) IS
    'Per-tier, per-RFM-segment, per-ABC-class, per-K-means-cluster (views with the option kmeans_model), per-grading-group (views with grade_within; grp = the group''s values joined by " / ") and overall figures of a tier view: customers and share, revenue (monetary_total) and share, average and total CLV (NULL without CLV columns), average since_last, for tiers the upgrades, downgrades, new and lost customers of the last recorded evaluation (lost customers are reported under the tier they left), the repeat rate (复购率: share of the group''s customers with two or more purchase occasions, frequency >= 1) and the active rate (share with a purchase within recent_window before as_of: since_last below recent_window in units of unit). Tiers are listed highest first, clusters by number. Not a tier view: 22023.';
