-- customer_tiers 0.2.0 -> 0.3.0
-- Access control (issue 16): the per-customer tier history, the evaluations and the records of
-- tier views were readable by every role (PUBLIC had SELECT on the tables). Row-level security
-- now shows a role only the rows it is entitled to (docs/security.md): a tier view's declaration
-- and refresh records to the roles that may read the view, a scheme's history and evaluations
-- to the roles that may read the tier view recording the scheme, own a view using it, or may write
-- the history. Functions
-- that read a named scheme's history or a tier view raise 42501 instead of answering nothing.
-- One tier view at most records a scheme's history: now a unique index (it holds whatever rows a
-- role sees) instead of a lookup.
-- Kept: every table and its rows; user objects that depend on transitions, tier_movements and
-- tier_report (replaced in place).
\echo Use "ALTER EXTENSION customer_tiers UPDATE TO '0.3.0'" to load this file. \quit

-- rfm_model, rfm_score and rfm_class8 (issue 17): the first argument is the time since the last
-- purchase, renamed from recency to since_last. CREATE OR REPLACE cannot rename an argument and
-- dropping them would drop the tier views that call them; the name is only the catalog's label
-- (views store calls by position), so it is changed in place.
UPDATE pg_catalog.pg_proc SET proargnames[1] = 'since_last'
WHERE pronamespace OPERATOR(pg_catalog.=) 'tiers'::pg_catalog.regnamespace
  AND proname OPERATOR(pg_catalog.=) ANY (ARRAY['rfm_model', 'rfm_score', 'rfm_class8']::pg_catalog.name[])
  AND proargnames[1] OPERATOR(pg_catalog.=) 'recency';

------------------------------------------------------------------------------------------
-- one tier view at most records the history of a scheme
------------------------------------------------------------------------------------------
CREATE UNIQUE INDEX tier_views_history_scheme ON tiers.tier_views ((options OPERATOR(pg_catalog.->>) 'tier_scheme'))
    WHERE (options OPERATOR(pg_catalog.->>) 'history')::boolean;

------------------------------------------------------------------------------------------
-- access control (docs/security.md): the configuration is readable by everyone; the
-- per-customer tier history and the records of tier views only row by row, to the roles
-- entitled to them (row-level security). Writing anything needs the DBA's grants.
------------------------------------------------------------------------------------------
COMMENT ON TABLE tiers.tier_history IS
    'Tier assignments per scheme and customer, one row per change: valid_from (inclusive) to valid_to (exclusive, NULL = current); value is the driving value when the tier was assigned. Filled by tiers.snapshot_tiers; kept by pg_dump. Row-level security: a scheme''s rows are visible to the roles that may read the tier view recording the scheme''s history or own a tier view using the scheme, and to those that may write the history (docs/security.md).';
COMMENT ON TABLE tiers.tier_evaluations IS
    'One row per evaluation (tiers.snapshot_tiers): customers evaluated, upgraded, downgraded, retained, new, lost. Kept by pg_dump. Row-level security: a scheme''s rows are visible to the roles that may read the tier view recording the scheme''s history or own a tier view using the scheme, and to those that may write the history (docs/security.md).';
COMMENT ON TABLE tiers.tier_views IS
    'Declared tier views (tiers.create_tier_view): the view, its source and columns, and the normalised options. Kept by pg_dump; a restored database refreshes them with tiers.refresh_tier_view. Row-level security: a tier view''s rows are visible to the roles that may read the view (docs/security.md).';
COMMENT ON TABLE tiers.tier_view_refreshes IS
    'One row per refresh of a tier view: the as_of it was computed for, the BG/NBD and Gamma-Gamma models fitted for it (CLV views), customers, and milliseconds per stage (fit, refresh, history); for incremental views (option incremental) also whether the refresh folded only new orders (incremental) or rebuilt the per-customer states (false), the orders folded (new_orders), the watermark (the largest value of the incremental column folded, as text), the orders at or below it (watermark_rows), fold_ms, and fold_cut (as_of in the type of the orders'' time column as the fold applied it: a date or timestamp in the session''s TimeZone; a later fold whose cut is earlier rebuilds the states). A tier view reads its as_of and models from its latest row. Kept by pg_dump. Row-level security: a tier view''s rows are visible to the roles that may read the view (docs/security.md).';
-- incremental tier views (issue 15): what each refresh folded
ALTER TABLE tiers.tier_view_refreshes
    ADD COLUMN incremental boolean,
    ADD COLUMN new_orders bigint,
    ADD COLUMN watermark text,
    ADD COLUMN watermark_rows bigint,
    ADD COLUMN fold_ms double precision,
    ADD COLUMN fold_cut text;
-- The grants of 0.2.0 stay as they are (SELECT for PUBLIC on these four tables, unless a DBA
-- revoked it): nothing is granted again here; the policies below decide which rows a role sees.
ALTER TABLE tiers.tier_views ENABLE ROW LEVEL SECURITY;
ALTER TABLE tiers.tier_view_refreshes ENABLE ROW LEVEL SECURITY;
ALTER TABLE tiers.tier_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE tiers.tier_evaluations ENABLE ROW LEVEL SECURITY;

-- Whether the current role belongs to the owner role of the materialized view schema.name: it may
-- refresh, alter and drop the tier view (tiers.tier_view_declaration), write its declaration and
-- refresh rows (the policies of docs/security.md) and read its scheme's history.
CREATE FUNCTION tiers.owns_tier_view(view_schema name, view_name name) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'm'
                     AND pg_has_role(c.relowner, 'USAGE'))
$$;
COMMENT ON FUNCTION tiers.owns_tier_view(name, name) IS
    'TRUE when the current role is a member of the owner role of the materialized view view_schema.view_name (FALSE when there is none): it may write the view''s declaration and refresh records and reads its scheme''s tier history.';

-- A declaration (source table, filter, options) is visible to the roles that may read the view.
CREATE POLICY tier_view_readers ON tiers.tier_views
    USING (EXISTS (SELECT FROM pg_catalog.pg_class c
                   JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                   WHERE n.nspname OPERATOR(pg_catalog.=) tier_views.view_schema
                     AND c.relname OPERATOR(pg_catalog.=) tier_views.view_name
                     AND pg_catalog.has_table_privilege(c.oid, 'SELECT')))
    -- written only for a name not taken yet (create_tier_view declares before it creates the
    -- view) or for a materialized view of the writer's (its owner role's members)
    WITH CHECK (pg_catalog.to_regclass(pg_catalog.format('%I.%I', view_schema, view_name)) IS NULL
                OR tiers.owns_tier_view(view_schema, view_name));
COMMENT ON POLICY tier_view_readers ON tiers.tier_views IS
    'A tier view''s declaration is visible to the roles that may SELECT from the view (its owner, and whoever it is granted to). Writing needs INSERT/UPDATE on this table (a DBA''s grant), and a row may only name a relation that does not exist yet or a materialized view whose owner role the writer belongs to.';

CREATE POLICY tier_view_readers ON tiers.tier_view_refreshes
    USING (EXISTS (SELECT FROM tiers.tier_views v
                   WHERE v.view_schema OPERATOR(pg_catalog.=) tier_view_refreshes.view_schema
                     AND v.view_name OPERATOR(pg_catalog.=) tier_view_refreshes.view_name))
    -- written only by the view's owner role's members (refresh_tier_view needs them too)
    WITH CHECK (tiers.owns_tier_view(view_schema, view_name));
COMMENT ON POLICY tier_view_readers ON tiers.tier_view_refreshes IS
    'The refresh records of a tier view are visible to the roles that may SELECT from the view; they are written (with INSERT/UPDATE on this table, a DBA''s grant) only by members of the view''s owner role.';

CREATE FUNCTION tiers.history_schemes() RETURNS text[]
    LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    -- the declarations visible to the caller are those of the tier views it may read
    -- (of them: those that record the scheme's history, and those the role owns, whose refreshes
    -- read the previous tiers of the scheme also with "history": false)
    SELECT coalesce(array_agg(DISTINCT v.options->>'tier_scheme'), '{}') FROM tiers.tier_views v
    WHERE v.options->>'tier_scheme' IS NOT NULL
      AND ((v.options->>'history')::boolean OR tiers.owns_tier_view(v.view_schema, v.view_name))
$$;
COMMENT ON FUNCTION tiers.history_schemes() IS
    'The schemes whose tier history the current role may read through a tier view: those whose history is recorded by a tier view it may SELECT from, and those of the tier views it owns (their refreshes read the previous tiers); a view read with "history": false opens nothing to its readers. Roles holding INSERT on tiers.tier_history read every scheme''s history.';

CREATE FUNCTION tiers.writes_history() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT has_table_privilege('tiers.tier_history'::regclass, 'INSERT')
$$;
COMMENT ON FUNCTION tiers.writes_history() IS
    'Whether the current role may write the tier history (INSERT on tiers.tier_history, granted by a DBA to whoever runs snapshot_tiers or refreshes tier views that record history): such a role reads the history of every scheme.';

-- What a tier view reads of the history: its rows pass the policies (row_security = on) even where
-- the session turned row security off, as pg_dump's restore script does before it refreshes the
-- materialized views (whose owner, not a superuser, would otherwise get "query would be affected
-- by row-level security policy" and leave the view unpopulated).
CREATE FUNCTION tiers.tier_history_before(scheme text, day date) RETURNS SETOF tiers.tier_history
    LANGUAGE sql STABLE PARALLEL SAFE ROWS 1000
    SET search_path = pg_catalog, pg_temp SET row_security = on AS $$
    SELECT h.* FROM tiers.tier_history h
    WHERE h.scheme = $1 AND h.valid_from < $2 AND (h.valid_to IS NULL OR h.valid_to >= $2)
$$;
COMMENT ON FUNCTION tiers.tier_history_before(text, date) IS
    'The tier history rows of scheme in force the day before day (one per customer), as far as the current role may read them (row-level security applies even under row_security = off, as in a restore). Tier views read their previous tiers with it. NULL arguments: no rows.';

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

-- The history of a scheme is visible to the roles that may read the tier view recording it or own
-- a tier view using it,
-- and to the roles allowed to write the history. Both tests run once per query (InitPlans).
CREATE POLICY scheme_readers ON tiers.tier_history
    USING ((SELECT tiers.writes_history())
           OR scheme OPERATOR(pg_catalog.=) ANY ((SELECT tiers.history_schemes())::pg_catalog.text[]))
    WITH CHECK (true);
COMMENT ON POLICY scheme_readers ON tiers.tier_history IS
    'Rows of a scheme are visible to the roles that may SELECT from the tier view recording its history or own a tier view using it (tiers.history_schemes()) and to the roles that may write the history (tiers.writes_history()).';

CREATE POLICY scheme_readers ON tiers.tier_evaluations
    USING ((SELECT tiers.writes_history())
           OR scheme OPERATOR(pg_catalog.=) ANY ((SELECT tiers.history_schemes())::pg_catalog.text[]))
    WITH CHECK (true);
COMMENT ON POLICY scheme_readers ON tiers.tier_evaluations IS
    'Rows of a scheme are visible to the roles that may SELECT from the tier view recording its history or own a tier view using it (tiers.history_schemes()) and to the roles that may write the history (tiers.writes_history()).';

-- Functions that read the history of a named scheme raise instead of answering with nothing.
CREATE FUNCTION tiers.check_history_access(scheme text) RETURNS boolean
    LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF scheme IS NULL OR tiers.writes_history() OR scheme = ANY (tiers.history_schemes()) THEN
        RETURN true;
    END IF;
    RAISE EXCEPTION 'permission denied for the tier history of scheme "%"', scheme
        USING ERRCODE = '42501',
              HINT = 'The history of a scheme is visible to the roles that may read the tier view recording it (GRANT SELECT ON the view) or own a tier view using it and to those that may write it (GRANT INSERT ON tiers.tier_history). See docs/security.md.';
END
$$;
COMMENT ON FUNCTION tiers.check_history_access(text) IS
    'TRUE when the current role may read the tier history of scheme (see tiers.history_schemes() and tiers.writes_history()); otherwise raises 42501. NULL scheme: TRUE.';

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

-- pgspot: CREATE OR REPLACE is deliberate for the functions that return tables: they are
-- already members of this extension (ALTER EXTENSION UPDATE cannot replace an object it does not
-- own), and user views that call them must survive the update (DROP would refuse or break them).

CREATE OR REPLACE FUNCTION tiers.transitions(scheme text, from_date date, to_date date)
    RETURNS TABLE (from_tier text, to_tier text, customers bigint, direction text, value double precision)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS $transitions$
    WITH a AS (
        SELECT h.customer, h.tier, h.value FROM tiers.tier_history h
        WHERE h.scheme = $1 AND h.valid_from <= $2 AND (h.valid_to IS NULL OR h.valid_to > $2)),
    b AS (
        SELECT h.customer, h.tier, h.value FROM tiers.tier_history h
        WHERE h.scheme = $1 AND h.valid_from <= $3 AND (h.valid_to IS NULL OR h.valid_to > $3)),
    moves AS (
        SELECT a.tier AS from_tier, b.tier AS to_tier, a.customer IS NULL AS is_new,
               b.customer IS NULL AS is_gone,
               coalesce(la.rank, 0) AS ra, coalesce(lb.rank, 0) AS rb, coalesce(b.value, a.value) AS value
        FROM a FULL JOIN b USING (customer)
        LEFT JOIN tiers.tier_levels la ON la.scheme = $1 AND la.tier = a.tier
        LEFT JOIN tiers.tier_levels lb ON lb.scheme = $1 AND lb.tier = b.tier)
    SELECT from_tier, to_tier, count(*),
           CASE WHEN is_new THEN 'new' WHEN is_gone THEN 'gone'
                WHEN rb > ra THEN 'up' WHEN rb < ra THEN 'down' ELSE 'same' END,
           sum(value)
    FROM moves
    WHERE tiers.check_history_access($1)
    GROUP BY from_tier, to_tier, 4
    ORDER BY 4, from_tier NULLS FIRST, to_tier NULLS FIRST
$transitions$;
COMMENT ON FUNCTION tiers.transitions(text, date, date) IS
    'Migration matrix between the tiers valid at from_date and at to_date: from_tier, to_tier, customers, direction (up / down / same / new / gone) and the value they carry (driving value of the later assignment, or of the earlier one for gone customers).';

CREATE OR REPLACE FUNCTION tiers.tier_movements(scheme text)
    RETURNS TABLE (evaluated_on date, customers bigint, upgraded bigint, downgraded bigint,
                   retained bigint, new bigint, lost bigint, upgrade_rate double precision,
                   downgrade_rate double precision, retention_rate double precision,
                   churn_rate double precision)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS $movements$
    SELECT e.evaluated_on, e.customers, e.upgraded, e.downgraded, e.retained, e.new, e.lost,
           e.upgraded::float8 / nullif(prev, 0), e.downgraded::float8 / nullif(prev, 0),
           e.retained::float8 / nullif(prev, 0), e.lost::float8 / nullif(prev, 0)
    FROM (SELECT e.*, e.upgraded + e.downgraded + e.retained + e.lost AS prev
          FROM tiers.tier_evaluations e WHERE e.scheme = $1) e
    WHERE tiers.check_history_access($1)
    ORDER BY e.evaluated_on
$movements$;
COMMENT ON FUNCTION tiers.tier_movements(text) IS
    'Per evaluation: customers, upgraded, downgraded, retained, new, lost, and rates relative to the customers tiered before the evaluation (upgraded + downgraded + retained + lost).';

CREATE OR REPLACE FUNCTION tiers.tier_report(view regclass)
    RETURNS TABLE (dimension text, grp text, customers bigint, customer_share double precision,
                   revenue double precision, revenue_share double precision, avg_clv double precision,
                   total_clv double precision, avg_since_last double precision, upgrades bigint,
                   downgrades bigint, new bigint, lost bigint)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS $report$
DECLARE
    v tiers.tier_views;
    tier_scheme text;
    last_eval date;
    has_clv boolean;
    has_tier boolean;
BEGIN
    v := tiers.tier_view_declaration(view, 'read');
    tier_scheme := v.options->>'tier_scheme';
    has_clv := (v.options->>'clv')::boolean;
    has_tier := tier_scheme IS NOT NULL;
    SELECT max(e.evaluated_on) INTO last_eval FROM tiers.tier_evaluations e WHERE e.scheme = tier_scheme;
    RETURN QUERY EXECUTE format($q$
        WITH t AS (
            SELECT %2$s AS tier, x.segment, x.abc_class, x.monetary_total, x.since_last, %3$s AS clv
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
            UNION ALL SELECT 'all', 'all', t.* FROM t)
        SELECT g.dimension, g.grp, count(*), count(*)::float8 / nullif(tot.n, 0),
               sum(g.monetary_total)::float8, (sum(g.monetary_total) / nullif(tot.rev, 0))::float8,
               avg(g.clv), sum(g.clv), avg(g.since_last),
               CASE WHEN g.dimension = 'tier' AND $2 IS NOT NULL THEN coalesce(max(mv.up), 0) END,
               CASE WHEN g.dimension = 'tier' AND $2 IS NOT NULL THEN coalesce(max(mv.down), 0) END,
               CASE WHEN g.dimension = 'tier' AND $2 IS NOT NULL THEN coalesce(max(mv.new), 0) END,
               CASE WHEN g.dimension = 'tier' AND $2 IS NOT NULL THEN coalesce(max(mv.lost), 0) END
        FROM g CROSS JOIN tot
        LEFT JOIN mv ON g.dimension = 'tier' AND mv.tier IS NOT DISTINCT FROM g.grp
        GROUP BY g.dimension, g.grp, tot.n, tot.rev
        ORDER BY array_position(ARRAY['tier', 'segment', 'abc_class', 'all'], g.dimension),
                 CASE WHEN g.dimension = 'tier' THEN -(SELECT l.rank FROM tiers.tier_levels l
                                                       WHERE l.scheme = $1 AND l.tier = g.grp) END,
                 sum(g.monetary_total) DESC, g.grp $q$,
        v.view_schema,
        CASE WHEN has_tier THEN 'x.tier' ELSE 'NULL::text' END,
        CASE WHEN has_clv THEN 'x.clv' ELSE 'NULL::float8' END,
        v.view_name)
    USING tier_scheme, last_eval, has_tier;
END
$report$;
COMMENT ON FUNCTION tiers.tier_report(regclass) IS
    'Per-tier, per-RFM-segment, per-ABC-class and overall figures of a tier view: customers and share, revenue (monetary_total) and share, average and total CLV (NULL without CLV columns), average since_last, and for tiers the upgrades, downgrades, new and lost customers of the last recorded evaluation (lost customers are reported under the tier they left). Tiers are listed highest first. Not a tier view: 22023.';

-- tier_report gains repeat_rate, active_rate and a cluster dimension (issue 14): a new result
-- type, so the function is replaced. User views over the 0.2.0 result keep working: when any
-- exists, the access-controlled function above is kept for them as tiers.tier_report_0_2, no
-- longer part of the extension (drop it with those views), and a NOTICE says so.
DO $report$
DECLARE
    dependents text;
BEGIN
    SELECT pg_catalog.string_agg(DISTINCT r.ev_class::pg_catalog.regclass::pg_catalog.text, ', ') INTO dependents
    FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite r ON r.oid OPERATOR(pg_catalog.=) d.objid
    WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass
      AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
      AND d.refobjid OPERATOR(pg_catalog.=) 'tiers.tier_report(pg_catalog.regclass)'::pg_catalog.regprocedure;
    IF dependents IS NULL THEN
        DROP FUNCTION tiers.tier_report(pg_catalog.regclass);
    ELSE
        ALTER FUNCTION tiers.tier_report(pg_catalog.regclass) RENAME TO tier_report_0_2;
        ALTER EXTENSION customer_tiers DROP FUNCTION tiers.tier_report_0_2(pg_catalog.regclass);
        COMMENT ON FUNCTION tiers.tier_report_0_2(pg_catalog.regclass) IS
            'tiers.tier_report as of customer_tiers 0.2.0 (13 columns), kept by the update to 0.3.0 for the views that use it; not part of the extension. Use tiers.tier_report (with repeat_rate, active_rate and clusters) and drop this function with those views.';
        RAISE NOTICE 'views % use tiers.tier_report: they now use tiers.tier_report_0_2 (the 0.2.0 columns); tiers.tier_report has new columns', dependents;
    END IF;
END
$report$;
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

DROP FUNCTION tiers.refresh_tier_view(regclass, boolean);
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

------------------------------------------------------------------------------------------
-- BI-friendly tier views (issue 16): tier_rank, segment_rank, one boolean column per tag, exact
-- money columns for numeric amounts; alter_tier_view. Existing tier views keep their columns
-- until they are altered (tiers.alter_tier_view(view, '{}') rebuilds one with the new columns).
------------------------------------------------------------------------------------------
-- Tier views with customer attributes and grading within groups (issue 19): helpers
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

DROP FUNCTION tiers.tier_view_sql(tiers.tier_views);
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

DROP FUNCTION tiers.create_tier_view(text, regclass, name, name, name, jsonb);
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

DROP FUNCTION tiers.schedule_tier_view(regclass, text);
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

DROP FUNCTION tiers.drop_tier_view(regclass);
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

-- Citus (docs/citus.md): the coordinator's configuration, published to every node --------------

CREATE FUNCTION tiers.citus_node_role() RETURNS text
    LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_citus_node_role';
COMMENT ON FUNCTION tiers.citus_node_role() IS
    'This node''s part in a Citus cluster: ''none'' (Citus not installed in this database), ''coordinator'' (node group 0, or not yet in a cluster) or ''worker''. On a worker, tier schemes, RFM rule sets and tag rules are read from the snapshot the coordinator publishes (tiers.citus_setup), never from the worker''s own tables.';

CREATE FUNCTION tiers.citus_publish() RETURNS integer
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $publish$
DECLARE
    kind text;
    snapshot jsonb;
    changed integer := 0;
    n integer;
BEGIN
    IF pg_catalog.to_regclass('customer_tiers_citus.configuration') IS NULL THEN
        RAISE EXCEPTION 'customer_tiers_citus.configuration does not exist'
            USING ERRCODE = '55000', HINT = 'Run SELECT tiers.citus_setup() on the coordinator.';
    END IF;
    FOREACH kind IN ARRAY ARRAY['tier_schemes', 'tier_levels', 'rfm_rule_sets', 'rfm_segment_rules',
                                'effective_tag_rules'] LOOP
        EXECUTE format('SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY to_jsonb(t)), ''[]'') FROM tiers.%I AS t', kind)
            INTO snapshot;
        EXECUTE 'INSERT INTO customer_tiers_citus.configuration AS c (kind, rows, published_at)
                 VALUES ($1, $2, now())
                 ON CONFLICT (kind) DO UPDATE SET rows = excluded.rows, published_at = excluded.published_at
                 WHERE c.rows IS DISTINCT FROM excluded.rows'
            USING kind, snapshot;
        GET DIAGNOSTICS n = ROW_COUNT;
        changed := changed + n;
    END LOOP;
    RETURN changed;
END
$publish$;
COMMENT ON FUNCTION tiers.citus_publish() IS
    'Copies the coordinator''s tier schemes and levels, RFM rule sets and rules and the tag rules in force into the reference table customer_tiers_citus.configuration, which Citus writes on every node in the same transaction. Returns the number of kinds that changed. Called by tiers.citus_setup() and by triggers on the configuration tables; without that table: 55000.';

CREATE FUNCTION tiers.citus_publish_trigger() RETURNS trigger
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $trigger$
BEGIN
    -- nothing to do without Citus or before tiers.citus_setup(); a worker never publishes (its
    -- tables are not the configuration: they change only with the extension itself)
    IF pg_catalog.to_regclass('customer_tiers_citus.configuration') IS NOT NULL
       AND tiers.citus_node_role() = 'coordinator' THEN
        PERFORM tiers.citus_publish();
    END IF;
    RETURN NULL;
END
$trigger$;
COMMENT ON FUNCTION tiers.citus_publish_trigger() IS
    'Statement trigger on the configuration tables: on a Citus coordinator set up with tiers.citus_setup(), publishes the configuration to every node in the same transaction.';
CREATE TRIGGER citus_publish AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tiers.tier_schemes
    FOR EACH STATEMENT EXECUTE FUNCTION tiers.citus_publish_trigger();
CREATE TRIGGER citus_publish AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tiers.tier_levels
    FOR EACH STATEMENT EXECUTE FUNCTION tiers.citus_publish_trigger();
CREATE TRIGGER citus_publish AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tiers.rfm_rule_sets
    FOR EACH STATEMENT EXECUTE FUNCTION tiers.citus_publish_trigger();
CREATE TRIGGER citus_publish AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tiers.rfm_segment_rules
    FOR EACH STATEMENT EXECUTE FUNCTION tiers.citus_publish_trigger();
CREATE TRIGGER citus_publish AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tiers.tag_rules
    FOR EACH STATEMENT EXECUTE FUNCTION tiers.citus_publish_trigger();

CREATE FUNCTION tiers.citus_setup() RETURNS TABLE (kind text, published_at timestamp with time zone)
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $setup$
DECLARE
    role text := tiers.citus_node_role();
BEGIN
    IF role <> 'coordinator' THEN
        RAISE EXCEPTION 'tiers.citus_setup() runs on the Citus coordinator (this node: %)', role
            USING ERRCODE = '55000';
    END IF;
    IF pg_catalog.to_regclass('customer_tiers_citus.configuration') IS NULL THEN
        CREATE SCHEMA IF NOT EXISTS customer_tiers_citus;
        COMMENT ON SCHEMA customer_tiers_citus IS
            'customer_tiers on Citus: the coordinator''s configuration, published to every node (tiers.citus_setup).';
        CREATE TABLE customer_tiers_citus.configuration (
            kind text PRIMARY KEY,
            rows jsonb NOT NULL,
            published_at timestamp with time zone NOT NULL);
        COMMENT ON TABLE customer_tiers_citus.configuration IS
            'The coordinator''s customer_tiers configuration (one row per relation: tier_schemes, tier_levels, rfm_rule_sets, rfm_segment_rules, effective_tag_rules), a Citus reference table: functions running on workers read it. Written by tiers.citus_publish(); do not edit.';
        PERFORM create_reference_table('customer_tiers_citus.configuration');
        -- configuration, not customer data: every role that may run the functions reads it
        GRANT USAGE ON SCHEMA customer_tiers_citus TO PUBLIC;
        GRANT SELECT ON customer_tiers_citus.configuration TO PUBLIC;
    END IF;
    PERFORM tiers.citus_publish();
    RETURN QUERY SELECT c.kind, c.published_at FROM customer_tiers_citus.configuration AS c ORDER BY c.kind;
END
$setup$;
COMMENT ON FUNCTION tiers.citus_setup() IS
    'Run once on a Citus coordinator (idempotent): creates the reference table customer_tiers_citus.configuration and publishes tier schemes, RFM rule sets and tag rules to every node; afterwards every change of that configuration on the coordinator is published in the same transaction. Returns the published kinds. Not a coordinator: 55000.';

CREATE FUNCTION tiers.citus_configuration_status()
    RETURNS TABLE (kind text, published_at timestamp with time zone, in_step boolean)
    LANGUAGE plpgsql STABLE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $status$
DECLARE
    k text;
    here jsonb;
BEGIN
    IF pg_catalog.to_regclass('customer_tiers_citus.configuration') IS NULL THEN
        RAISE EXCEPTION 'customer_tiers configuration has not been published'
            USING ERRCODE = '55000', HINT = 'Run SELECT tiers.citus_setup() on the coordinator.';
    END IF;
    FOREACH k IN ARRAY ARRAY['effective_tag_rules', 'rfm_rule_sets', 'rfm_segment_rules', 'tier_levels',
                             'tier_schemes'] LOOP
        EXECUTE format('SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY to_jsonb(t)), ''[]'') FROM tiers.%I AS t', k)
            INTO here;
        kind := k;
        SELECT c.published_at, c.rows = here INTO published_at, in_step
        FROM customer_tiers_citus.configuration AS c WHERE c.kind = k;
        in_step := coalesce(in_step, false);
        RETURN NEXT;
    END LOOP;
END
$status$;
COMMENT ON FUNCTION tiers.citus_configuration_status() IS
    'On the coordinator: for each published kind of configuration, when it was published and whether the published snapshot equals this node''s tables (false after changes made with triggers disabled, e.g. session_replication_role = replica; run SELECT tiers.citus_publish() then). Not published: 55000.';

-- Population aggregates with a bytea state (issue 12): Citus pushes partial aggregation to the
-- workers only for aggregates whose state type it can send. The aggregates keep their OIDs, so
-- views that use them (tier views included) stay valid: the bytea support functions are created
-- next to the internal ones, each aggregate's pg_aggregate row and dependencies are pointed at
-- them, and the internal functions (with the serialize/deserialize pairs) are dropped.
CREATE FUNCTION tiers.rfm_model_trans(bytea, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_model_trans';
CREATE FUNCTION tiers.rfm_model_trans(bytea, double precision, double precision, double precision, integer)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_model_trans_bins';
CREATE FUNCTION tiers.rfm_model_combine(bytea, bytea)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_model_combine';
CREATE FUNCTION tiers.rfm_model_final(bytea)
    RETURNS tiers.rfm_model LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_model_final';
CREATE FUNCTION tiers.abc_trans(bytea, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_abc_trans';
CREATE FUNCTION tiers.abc_trans(bytea, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_abc_trans_cuts';
CREATE FUNCTION tiers.abc_trans(bytea, double precision, double precision, double precision, text)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_abc_trans_conv';
CREATE FUNCTION tiers.abc_trans(bytea, double precision, text)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_abc_trans_method';
CREATE FUNCTION tiers.pareto_curve_trans(bytea, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_pareto_curve_trans';
CREATE FUNCTION tiers.pareto_curve_trans(bytea, double precision, integer)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_pareto_curve_trans_points';
CREATE FUNCTION tiers.abc_combine(bytea, bytea)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_abc_combine';
CREATE FUNCTION tiers.abc_model_final(bytea)
    RETURNS tiers.abc_model LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_abc_model_final';
CREATE FUNCTION tiers.pareto_final(bytea)
    RETURNS tiers.pareto LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_pareto_final';
CREATE FUNCTION tiers.pareto_curve_final(bytea)
    RETURNS tiers.pareto_point[] LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_pareto_curve_final';
CREATE FUNCTION tiers.bgnbd_trans(bytea, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_trans';
CREATE FUNCTION tiers.bgnbd_trans(bytea, double precision, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_trans';
CREATE FUNCTION tiers.bgnbd_trans(bytea, double precision, double precision, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_trans';
CREATE FUNCTION tiers.bgnbd_combine(bytea, bytea)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_combine';
CREATE FUNCTION tiers.bgnbd_final(bytea)
    RETURNS tiers.bgnbd_model LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_final';
CREATE FUNCTION tiers.gamma_gamma_trans(bytea, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_gamma_gamma_trans';
CREATE FUNCTION tiers.gamma_gamma_trans(bytea, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_gamma_gamma_trans';
CREATE FUNCTION tiers.gamma_gamma_trans(bytea, double precision, double precision, double precision, double precision)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_gamma_gamma_trans';
CREATE FUNCTION tiers.gamma_gamma_combine(bytea, bytea)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_gamma_gamma_combine';
CREATE FUNCTION tiers.gamma_gamma_final(bytea)
    RETURNS tiers.gamma_gamma_model LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_gamma_gamma_final';
CREATE FUNCTION tiers.mbgnbd_final(bytea)
    RETURNS tiers.mbgnbd_model LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_mbgnbd_final';
CREATE FUNCTION tiers.paretonbd_final(bytea)
    RETURNS tiers.paretonbd_model LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_paretonbd_final';
COMMENT ON FUNCTION tiers.rfm_model_trans(bytea, double precision, double precision, double precision) IS 'Transition function of tiers.rfm_model (internal).';
COMMENT ON FUNCTION tiers.rfm_model_trans(bytea, double precision, double precision, double precision, integer) IS 'Transition function of tiers.rfm_model (internal).';
COMMENT ON FUNCTION tiers.rfm_model_combine(bytea, bytea) IS 'Combine function of tiers.rfm_model (internal).';
COMMENT ON FUNCTION tiers.rfm_model_final(bytea) IS 'Final function of tiers.rfm_model (internal).';
COMMENT ON FUNCTION tiers.abc_trans(bytea, double precision) IS 'Transition function of tiers.abc_model and tiers.pareto (internal).';
COMMENT ON FUNCTION tiers.abc_trans(bytea, double precision, double precision, double precision) IS 'Transition function of tiers.abc_model (internal).';
COMMENT ON FUNCTION tiers.abc_trans(bytea, double precision, double precision, double precision, text) IS 'Transition function of tiers.abc_model (internal).';
COMMENT ON FUNCTION tiers.abc_trans(bytea, double precision, text) IS 'Transition function of tiers.abc_model (internal).';
COMMENT ON FUNCTION tiers.pareto_curve_trans(bytea, double precision) IS 'Transition function of tiers.pareto_curve (internal).';
COMMENT ON FUNCTION tiers.pareto_curve_trans(bytea, double precision, integer) IS 'Transition function of tiers.pareto_curve (internal).';
COMMENT ON FUNCTION tiers.abc_combine(bytea, bytea) IS 'Combine function of the ABC/Pareto aggregates (internal).';
COMMENT ON FUNCTION tiers.abc_model_final(bytea) IS 'Final function of tiers.abc_model (internal).';
COMMENT ON FUNCTION tiers.pareto_final(bytea) IS 'Final function of tiers.pareto (internal).';
COMMENT ON FUNCTION tiers.pareto_curve_final(bytea) IS 'Final function of tiers.pareto_curve (internal).';
COMMENT ON FUNCTION tiers.bgnbd_trans(bytea, double precision, double precision, double precision, double precision, double precision) IS 'Transition function of tiers.bgnbd_fit (internal).';
COMMENT ON FUNCTION tiers.bgnbd_trans(bytea, double precision, double precision, double precision) IS 'Transition function of tiers.bgnbd_fit (internal).';
COMMENT ON FUNCTION tiers.bgnbd_trans(bytea, double precision, double precision, double precision, double precision) IS 'Transition function of tiers.bgnbd_fit (internal).';
COMMENT ON FUNCTION tiers.bgnbd_combine(bytea, bytea) IS 'Combine function of tiers.bgnbd_fit (internal).';
COMMENT ON FUNCTION tiers.bgnbd_final(bytea) IS 'Final function of tiers.bgnbd_fit: the maximum-likelihood fit (internal).';
COMMENT ON FUNCTION tiers.gamma_gamma_trans(bytea, double precision, double precision, double precision, double precision) IS 'Transition function of tiers.gamma_gamma_fit (internal).';
COMMENT ON FUNCTION tiers.gamma_gamma_trans(bytea, double precision, double precision) IS 'Transition function of tiers.gamma_gamma_fit (internal).';
COMMENT ON FUNCTION tiers.gamma_gamma_trans(bytea, double precision, double precision, double precision) IS 'Transition function of tiers.gamma_gamma_fit (internal).';
COMMENT ON FUNCTION tiers.gamma_gamma_combine(bytea, bytea) IS 'Combine function of tiers.gamma_gamma_fit (internal).';
COMMENT ON FUNCTION tiers.gamma_gamma_final(bytea) IS 'Final function of tiers.gamma_gamma_fit: the maximum-likelihood fit (internal).';
COMMENT ON FUNCTION tiers.mbgnbd_final(bytea) IS 'Final function of tiers.mbgnbd_fit: the maximum-likelihood fit (internal).';
COMMENT ON FUNCTION tiers.paretonbd_final(bytea) IS 'Final function of tiers.paretonbd_fit: the maximum-likelihood fit (internal).';

DO $bytea_states$
DECLARE
    a record;
    twin_trans oid;
    twin_final oid;
    twin_combine oid;
BEGIN
    FOR a IN
        SELECT g.aggfnoid, g.aggtransfn, g.aggfinalfn, g.aggcombinefn, g.aggserialfn, g.aggdeserialfn
        FROM pg_catalog.pg_aggregate AS g
        JOIN pg_catalog.pg_proc AS p ON p.oid OPERATOR(pg_catalog.=) g.aggfnoid
        WHERE p.pronamespace OPERATOR(pg_catalog.=) 'tiers'::pg_catalog.regnamespace
          AND p.proname OPERATOR(pg_catalog.<>) 'customer_summary'
          AND g.aggtranstype OPERATOR(pg_catalog.=) 'pg_catalog.internal'::pg_catalog.regtype
    LOOP
        SELECT t.oid INTO STRICT twin_trans FROM pg_catalog.pg_proc AS o, pg_catalog.pg_proc AS t
        WHERE o.oid OPERATOR(pg_catalog.=) a.aggtransfn AND t.proname OPERATOR(pg_catalog.=) o.proname
          AND t.pronamespace OPERATOR(pg_catalog.=) o.pronamespace
          AND pg_catalog.oidvectortypes(t.proargtypes)
              OPERATOR(pg_catalog.=) pg_catalog.replace(pg_catalog.oidvectortypes(o.proargtypes), 'internal', 'bytea');
        SELECT t.oid INTO STRICT twin_final FROM pg_catalog.pg_proc AS o, pg_catalog.pg_proc AS t
        WHERE o.oid OPERATOR(pg_catalog.=) a.aggfinalfn AND t.proname OPERATOR(pg_catalog.=) o.proname
          AND t.pronamespace OPERATOR(pg_catalog.=) o.pronamespace
          AND pg_catalog.oidvectortypes(t.proargtypes) OPERATOR(pg_catalog.=) 'bytea';
        SELECT t.oid INTO STRICT twin_combine FROM pg_catalog.pg_proc AS o, pg_catalog.pg_proc AS t
        WHERE o.oid OPERATOR(pg_catalog.=) a.aggcombinefn AND t.proname OPERATOR(pg_catalog.=) o.proname
          AND t.pronamespace OPERATOR(pg_catalog.=) o.pronamespace
          AND pg_catalog.oidvectortypes(t.proargtypes) OPERATOR(pg_catalog.=) 'bytea, bytea';
        UPDATE pg_catalog.pg_aggregate
        SET aggtransfn = twin_trans::pg_catalog.regproc, aggfinalfn = twin_final::pg_catalog.regproc,
            aggcombinefn = twin_combine::pg_catalog.regproc, aggserialfn = 0, aggdeserialfn = 0,
            aggtranstype = 'pg_catalog.bytea'::pg_catalog.regtype, aggtransspace = 0
        WHERE aggfnoid OPERATOR(pg_catalog.=) a.aggfnoid;
        UPDATE pg_catalog.pg_depend
        SET refobjid = CASE refobjid WHEN a.aggtransfn THEN twin_trans WHEN a.aggfinalfn THEN twin_final
                                     ELSE twin_combine END
        WHERE classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
          AND objid OPERATOR(pg_catalog.=) a.aggfnoid
          AND refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
          AND refobjid OPERATOR(pg_catalog.=) ANY (ARRAY[a.aggtransfn, a.aggfinalfn, a.aggcombinefn]::pg_catalog.oid[]);
        DELETE FROM pg_catalog.pg_depend
        WHERE classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
          AND objid OPERATOR(pg_catalog.=) a.aggfnoid
          AND refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
          AND refobjid OPERATOR(pg_catalog.=) ANY (ARRAY[a.aggserialfn, a.aggdeserialfn]::pg_catalog.oid[]);
    END LOOP;
END
$bytea_states$;
DROP FUNCTION tiers.rfm_model_trans(internal, double precision, double precision, double precision);
DROP FUNCTION tiers.rfm_model_trans(internal, double precision, double precision, double precision, integer);
DROP FUNCTION tiers.rfm_model_combine(internal, internal);
DROP FUNCTION tiers.rfm_model_final(internal);
DROP FUNCTION tiers.abc_trans(internal, double precision);
DROP FUNCTION tiers.abc_trans(internal, double precision, double precision, double precision);
DROP FUNCTION tiers.abc_trans(internal, double precision, double precision, double precision, text);
DROP FUNCTION tiers.abc_trans(internal, double precision, text);
DROP FUNCTION tiers.pareto_curve_trans(internal, double precision);
DROP FUNCTION tiers.pareto_curve_trans(internal, double precision, integer);
DROP FUNCTION tiers.abc_combine(internal, internal);
DROP FUNCTION tiers.abc_model_final(internal);
DROP FUNCTION tiers.pareto_final(internal);
DROP FUNCTION tiers.pareto_curve_final(internal);
DROP FUNCTION tiers.bgnbd_trans(internal, double precision, double precision, double precision);
DROP FUNCTION tiers.bgnbd_trans(internal, double precision, double precision, double precision, double precision);
DROP FUNCTION tiers.bgnbd_trans(internal, double precision, double precision, double precision, double precision, double precision);
DROP FUNCTION tiers.bgnbd_combine(internal, internal);
DROP FUNCTION tiers.bgnbd_final(internal);
DROP FUNCTION tiers.gamma_gamma_trans(internal, double precision, double precision);
DROP FUNCTION tiers.gamma_gamma_trans(internal, double precision, double precision, double precision);
DROP FUNCTION tiers.gamma_gamma_trans(internal, double precision, double precision, double precision, double precision);
DROP FUNCTION tiers.gamma_gamma_combine(internal, internal);
DROP FUNCTION tiers.gamma_gamma_final(internal);
DROP FUNCTION tiers.mbgnbd_final(internal);
DROP FUNCTION tiers.paretonbd_final(internal);
DROP FUNCTION tiers.rfm_model_serialize(internal);
DROP FUNCTION tiers.rfm_model_deserialize(bytea, internal);
DROP FUNCTION tiers.abc_serialize(internal);
DROP FUNCTION tiers.abc_deserialize(bytea, internal);
DROP FUNCTION tiers.bgnbd_serialize(internal);
DROP FUNCTION tiers.bgnbd_deserialize(bytea, internal);
DROP FUNCTION tiers.gamma_gamma_serialize(internal);
DROP FUNCTION tiers.gamma_gamma_deserialize(bytea, internal);

-- One language policy (issue 16): without lang, the 8-class labels, tags and new tier views follow
-- the setting customer_tiers.language ('en' or 'zh'); unset, each keeps its 0.2.0 default.
CREATE OR REPLACE FUNCTION tiers.rfm_class8(since_last double precision, frequency double precision,
                                 monetary double precision, model tiers.rfm_model,
                                 lang text DEFAULT NULL)
    RETURNS text LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_rfm_class8';
COMMENT ON FUNCTION tiers.rfm_class8(double precision, double precision, double precision, tiers.rfm_model, text) IS
    'The 8-class RFM model used in China: each dimension high/low against the model''s population mean (recent: since_last < r_mean; frequent: frequency > f_mean; important: monetary > m_mean). lang ''zh'' (重要价值客户 …) or ''en'' (Important Value …); without lang (or NULL), the setting customer_tiers.language, else ''zh''; other lang: 22023. NULL in another argument: NULL.';
CREATE OR REPLACE FUNCTION tiers.customer_tags(customer record, tags text[] DEFAULT NULL,
                                    lang text DEFAULT NULL)
    RETURNS text[] LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_customer_tags';
COMMENT ON FUNCTION tiers.customer_tags(record, text[], text) IS
    'Tags of a customer row (any row type; columns are matched by name, see tiers.tag_columns(); a missing column is NULL): the enabled rules of tiers.effective_tag_rules that are TRUE for the row, in position order, or only the rules named in tags. lang ''zh'' returns the Chinese labels; without lang (or NULL), the setting customer_tiers.language, else ''en''. NULL row: NULL; no match: {}. Unknown tag: 22023; a column of the wrong type: 42804.';

-- Checks and normalises the options of a tier view; every default filled in.
CREATE OR REPLACE FUNCTION tiers.tier_view_options(options jsonb) RETURNS jsonb
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

-- Judging a tiering (issue 14): new types and functions

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

-- K-means (issue 14): models, the choice of k, stored models for tier views

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

-- K-means (issue 14): segments as an alternative to RFM quantile scores -------------------------

CREATE FUNCTION tiers.kmeans_model_trans(bytea, double precision[], integer)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_kmeans_model_trans';
COMMENT ON FUNCTION tiers.kmeans_model_trans(bytea, double precision[], integer) IS 'Transition function of tiers.kmeans_model (internal).';
CREATE FUNCTION tiers.kmeans_model_trans(bytea, double precision[], integer, jsonb)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_kmeans_model_trans';
COMMENT ON FUNCTION tiers.kmeans_model_trans(bytea, double precision[], integer, jsonb) IS 'Transition function of tiers.kmeans_model with options (internal).';
CREATE FUNCTION tiers.kmeans_combine(bytea, bytea)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_kmeans_combine';
COMMENT ON FUNCTION tiers.kmeans_combine(bytea, bytea) IS 'Combine function of tiers.kmeans_model and tiers.kmeans_choose_k (internal).';
CREATE FUNCTION tiers.kmeans_model_final(bytea)
    RETURNS tiers.kmeans_model LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_kmeans_model_final';
COMMENT ON FUNCTION tiers.kmeans_model_final(bytea) IS 'Final function of tiers.kmeans_model (internal).';
CREATE AGGREGATE tiers.kmeans_model(features double precision[], k integer) (
    SFUNC = tiers.kmeans_model_trans, STYPE = bytea, FINALFUNC = tiers.kmeans_model_final,
    COMBINEFUNC = tiers.kmeans_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.kmeans_model(double precision[], integer) IS
    'K-means model (tiers.kmeans_model) of the feature rows with k clusters (2..50, at most the number of distinct rows, else 22003): features standardized, greedy k-means++ with 10 restarts from seed 0 and Lloyd iterations as scikit-learn''s KMeans, so the same rows give the same model in any order and plan. Rows with NULL features are skipped; NULL elements: 22004; NaN/Infinity, an empty row, more than 16 features or rows of different lengths: 22023; NULL k: 22004. NULL without rows.';
CREATE AGGREGATE tiers.kmeans_model(features double precision[], k integer, options jsonb) (
    SFUNC = tiers.kmeans_model_trans, STYPE = bytea, FINALFUNC = tiers.kmeans_model_final,
    COMBINEFUNC = tiers.kmeans_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.kmeans_model(double precision[], integer, jsonb) IS
    'tiers.kmeans_model with options (constant within a group, else 22023; NULL = defaults): scale ("standardize" or "none"), log1p (true for every feature or one boolean per feature: ln(1 + x) first; a negative value: 22023), n_init (restarts, 1..1000, default 10), max_iter (1..100000, default 300), tol (>= 0, default 1e-4, relative to the mean feature variance), seed (integer, default 0), silhouette_sample (0 = none, else 2..100000, default 10000: more rows than this and the silhouette is computed on a fixed-seed sample). Unknown option or bad value: 22023.';

CREATE FUNCTION tiers.kmeans_choose_k_trans(bytea, double precision[], integer, integer)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_kmeans_choose_k_trans';
COMMENT ON FUNCTION tiers.kmeans_choose_k_trans(bytea, double precision[], integer, integer) IS 'Transition function of tiers.kmeans_choose_k (internal).';
CREATE FUNCTION tiers.kmeans_choose_k_trans(bytea, double precision[], integer, integer, jsonb)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_kmeans_choose_k_trans';
COMMENT ON FUNCTION tiers.kmeans_choose_k_trans(bytea, double precision[], integer, integer, jsonb) IS 'Transition function of tiers.kmeans_choose_k with options (internal).';
CREATE FUNCTION tiers.kmeans_choose_k_final(bytea)
    RETURNS tiers.kmeans_choice[] LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_kmeans_choose_k_final';
COMMENT ON FUNCTION tiers.kmeans_choose_k_final(bytea) IS 'Final function of tiers.kmeans_choose_k (internal).';
CREATE AGGREGATE tiers.kmeans_choose_k(features double precision[], k_min integer, k_max integer) (
    SFUNC = tiers.kmeans_choose_k_trans, STYPE = bytea, FINALFUNC = tiers.kmeans_choose_k_final,
    COMBINEFUNC = tiers.kmeans_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.kmeans_choose_k(double precision[], integer, integer) IS
    'Fits tiers.kmeans_model for every k in k_min..k_max (2..50) and returns one tiers.kmeans_choice per k (inertia, silhouette, Davies-Bouldin) for an elbow chart: SELECT (unnest(tiers.kmeans_choose_k(f, 2, 8))).*. k_min > k_max: 22023; other errors as tiers.kmeans_model. NULL without rows.';
CREATE AGGREGATE tiers.kmeans_choose_k(features double precision[], k_min integer, k_max integer, options jsonb) (
    SFUNC = tiers.kmeans_choose_k_trans, STYPE = bytea, FINALFUNC = tiers.kmeans_choose_k_final,
    COMBINEFUNC = tiers.kmeans_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.kmeans_choose_k(double precision[], integer, integer, jsonb) IS
    'tiers.kmeans_choose_k with the options of tiers.kmeans_model (constant within a group).';

CREATE FUNCTION tiers.kmeans_assign(features double precision[], model tiers.kmeans_model) RETURNS integer
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_kmeans_assign';
COMMENT ON FUNCTION tiers.kmeans_assign(double precision[], tiers.kmeans_model) IS
    'The cluster (1..k) of a feature row: the nearest centroid after the model''s scaling (log1p, standardization). NULL arguments: NULL. A row of another length, NULL elements (22004), NaN/Infinity, a negative value of a log1p feature, or an inconsistent model: 22023.';

CREATE FUNCTION tiers.kmeans_label(model tiers.kmeans_model, cluster integer,
                                   lang text DEFAULT NULL)
    RETURNS text LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_kmeans_label';
COMMENT ON FUNCTION tiers.kmeans_label(tiers.kmeans_model, integer, text) IS
    'Names a cluster of an RFM-shaped model (3 features in the order since_last, frequency, monetary) with the 8-class RFM labels (tiers.rfm_class8): recent when the centroid''s since_last is below the population mean, frequent and high value when its frequency and monetary are above theirs (in the scaled space). lang ''zh'' (重要价值客户 …) or ''en''; without lang (or NULL), the setting customer_tiers.language, else ''zh''. Another number of features, a cluster outside 1..k or another lang: 22023. NULL model or cluster: NULL.';

CREATE FUNCTION tiers.save_kmeans_model(name text, model tiers.kmeans_model, features text[],
                                        description text DEFAULT '')
    RETURNS void
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $save$
DECLARE
    allowed constant text[] := ARRAY['since_last', 'recency', 'tenure', 'frequency', 'orders', 'occasions',
        'monetary', 'monetary_total', 'recent_spend', 'earlier_spend'];
    f text;
BEGIN
    IF name IS NULL OR model IS NULL OR features IS NULL OR description IS NULL THEN
        RAISE EXCEPTION 'save_kmeans_model: name, model, features and description must not be NULL'
            USING ERRCODE = '22004';
    END IF;
    IF btrim(name) = '' OR octet_length(name) > 1000 THEN
        RAISE EXCEPTION 'name must be 1 to 1000 bytes and not blank, got % bytes', octet_length(name)
            USING ERRCODE = '22023';
    END IF;
    FOREACH f IN ARRAY features LOOP
        IF f IS NULL OR NOT f = ANY (allowed) THEN
            RAISE EXCEPTION 'features must name numeric columns of a tier view, got %', coalesce(quote_literal(f), 'NULL')
                USING ERRCODE = '22023', HINT = 'One of: ' || array_to_string(allowed, ', ');
        END IF;
    END LOOP;
    IF cardinality(features) IS DISTINCT FROM model.dimensions THEN
        RAISE EXCEPTION 'features must name one column per feature of the model: % names for % features',
            cardinality(features), model.dimensions USING ERRCODE = '22023';
    END IF;
    -- the model itself is checked by assigning its first centroid
    PERFORM tiers.kmeans_assign(model.centroids[1:1][:], model);
    INSERT INTO tiers.kmeans_models AS m (name, model, features, description)
    VALUES (save_kmeans_model.name, save_kmeans_model.model, save_kmeans_model.features,
            save_kmeans_model.description)
    ON CONFLICT ON CONSTRAINT kmeans_models_pkey DO UPDATE
    SET model = excluded.model, features = excluded.features, description = excluded.description,
        saved_at = now();
END
$save$;
COMMENT ON FUNCTION tiers.save_kmeans_model(text, tiers.kmeans_model, text[], text) IS
    'Stores (or replaces) a K-means model under a name in tiers.kmeans_models, with the tier-view columns it was fitted on, in order (since_last, recency, tenure, frequency, orders, occasions, monetary, monetary_total, recent_spend, earlier_spend). Tier views with the option "kmeans_model" then carry its cluster. NULL arguments: 22004; bad name, features or model: 22023; needs INSERT and UPDATE on tiers.kmeans_models (42501).';

CREATE FUNCTION tiers.kmeans_stored_model(name text, features text[]) RETURNS tiers.kmeans_model
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS $stored$
DECLARE
    m tiers.kmeans_models;
BEGIN
    SELECT * INTO m FROM tiers.kmeans_models s WHERE s.name = kmeans_stored_model.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'K-means model "%" does not exist in tiers.kmeans_models', name USING ERRCODE = '22023';
    END IF;
    IF m.features IS DISTINCT FROM kmeans_stored_model.features THEN
        RAISE EXCEPTION 'K-means model "%" is now fitted on (%), not (%)', name,
            array_to_string(m.features, ', '), array_to_string(kmeans_stored_model.features, ', ')
            USING ERRCODE = '22023',
                  HINT = 'tiers.alter_tier_view(view, ''{}'') rebuilds a tier view with the model''s features.';
    END IF;
    RETURN m.model;
END
$stored$;
COMMENT ON FUNCTION tiers.kmeans_stored_model(text, text[]) IS
    'The stored K-means model of that name, checked to be fitted on these features (used by tier views with the option "kmeans_model"). Missing model or other features: 22023.';
GRANT SELECT ON tiers.kmeans_models TO PUBLIC;

-- BG/BB (issue 13)

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

-- CLV validation (issue 13)

-- intervals of predictions (issue 13): every fitted model carries its covariance matrix
ALTER TYPE tiers.bgnbd_model ADD ATTRIBUTE covariance double precision[];
COMMENT ON TYPE tiers.bgnbd_model IS
    'A fitted BG/NBD model (Fader, Hardie & Lee 2005): r, alpha, a, b, log_likelihood, customers (sum of weights), converged, iterations, standard errors (NULL when the information matrix is not positive definite) and covariance (the parameters'' covariance matrix, row and column order as the parameters; NULL with the standard errors).';
ALTER TYPE tiers.gamma_gamma_model ADD ATTRIBUTE covariance double precision[];
COMMENT ON TYPE tiers.gamma_gamma_model IS
    'A fitted Gamma-Gamma spend model (Fader & Hardie 2013): p, q, v (gamma), log_likelihood, customers, converged, iterations, standard errors and covariance (the parameters'' covariance matrix, row and column order as the parameters; NULL with the standard errors).';
ALTER TYPE tiers.mbgnbd_model ADD ATTRIBUTE covariance double precision[];
COMMENT ON TYPE tiers.mbgnbd_model IS
    'A fitted modified BG/NBD model (Batislam, Denizel & Filiztekin 2007): r, alpha, a, b, log_likelihood, customers, converged, iterations, standard errors and covariance (the parameters'' covariance matrix, row and column order as the parameters; NULL with the standard errors).';
ALTER TYPE tiers.paretonbd_model ADD ATTRIBUTE covariance double precision[];
COMMENT ON TYPE tiers.paretonbd_model IS
    'A fitted Pareto/NBD model (Schmittlein, Morrison & Colombo 1987): r, alpha, s, beta, log_likelihood, customers, converged, iterations, standard errors and covariance (the parameters'' covariance matrix, row and column order as the parameters; NULL with the standard errors).';

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
    'Result of tiers.holdout_summary: the fields of tiers.customer_summary as of calibration_end (first_purchase ... monetary), then the holdout period (calibration_end, holdout_end]: holdout_orders (rows with an amount >= 0 or NULL), holdout_occasions (distinct purchase days: lifetimes'' frequency_holdout), holdout_monetary_total (net value, returns netted), holdout_monetary (holdout_monetary_total / holdout_occasions, the mean value of a holdout purchase day, 0 without one as in lifetimes, whose monetary_value_holdout averages rows instead of days), holdout_length (holdout_end - calibration_end in unit: lifetimes'' duration_holdout).';

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
CREATE FUNCTION tiers.expected_purchases_interval(model tiers.bgbb_model, periods double precision,
                                                  frequency double precision, recency double precision,
                                                  n_periods double precision, level double precision DEFAULT 0.9)
    RETURNS tiers.prediction_interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_bgbb_expected_purchases_interval';
COMMENT ON FUNCTION tiers.expected_purchases_interval(tiers.bgbb_model, double precision, double precision, double precision, double precision, double precision) IS
    'tiers.expected_purchases(bgbb_model, periods, frequency, recency, n_periods) with its confidence interval (see the BG/NBD overload).';
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

-- C symbols named after the SQL functions (issue 17): the functions of 0.2.0 point at the new
-- names (the library keeps the old ones for catalogs not yet updated: src/legacy.rs)
CREATE OR REPLACE FUNCTION tiers.customer_summary_trans(internal, date, double precision, date)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_date_f8';
CREATE OR REPLACE FUNCTION tiers.customer_summary_trans(internal, date, numeric, date)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_date_num';
CREATE OR REPLACE FUNCTION tiers.customer_summary_trans(internal, timestamp without time zone, double precision, timestamp without time zone)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_ts_f8';
CREATE OR REPLACE FUNCTION tiers.customer_summary_trans(internal, timestamp without time zone, numeric, timestamp without time zone)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_ts_num';
CREATE OR REPLACE FUNCTION tiers.customer_summary_trans(internal, timestamp with time zone, double precision, timestamp with time zone)
    RETURNS internal LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_tstz_f8';
CREATE OR REPLACE FUNCTION tiers.customer_summary_trans(internal, timestamp with time zone, numeric, timestamp with time zone)
    RETURNS internal LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_tstz_num';
CREATE OR REPLACE FUNCTION tiers.customer_summary_trans(internal, date, double precision, date, interval)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_date_f8_unit';
CREATE OR REPLACE FUNCTION tiers.customer_summary_trans(internal, date, numeric, date, interval)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_date_num_unit';
CREATE OR REPLACE FUNCTION tiers.customer_summary_trans(internal, timestamp without time zone, double precision, timestamp without time zone, interval)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_ts_f8_unit';
CREATE OR REPLACE FUNCTION tiers.customer_summary_trans(internal, timestamp without time zone, numeric, timestamp without time zone, interval)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_ts_num_unit';
CREATE OR REPLACE FUNCTION tiers.customer_summary_trans(internal, timestamp with time zone, double precision, timestamp with time zone, interval)
    RETURNS internal LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_tstz_f8_unit';
CREATE OR REPLACE FUNCTION tiers.customer_summary_trans(internal, timestamp with time zone, numeric, timestamp with time zone, interval)
    RETURNS internal LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_trans_tstz_num_unit';
CREATE OR REPLACE FUNCTION tiers.customer_summary_combine(internal, internal)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_combine';
CREATE OR REPLACE FUNCTION tiers.customer_summary_serialize(internal)
    RETURNS bytea LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_serialize';
CREATE OR REPLACE FUNCTION tiers.customer_summary_deserialize(bytea, internal)
    RETURNS internal LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_deserialize';
CREATE OR REPLACE FUNCTION tiers.customer_summary_final(internal)
    RETURNS tiers.customer_summary LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ct_customer_summary_final';
CREATE OR REPLACE FUNCTION tiers.p_alive(model tiers.bgnbd_model, frequency double precision,
                              recency double precision, tenure double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_p_alive';
CREATE OR REPLACE FUNCTION tiers.expected_purchases(model tiers.bgnbd_model, horizon double precision,
                                         frequency double precision, recency double precision, tenure double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_expected_purchases';
CREATE OR REPLACE FUNCTION tiers.expected_purchases(model tiers.bgnbd_model, horizon double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_expected_purchases_new';
CREATE OR REPLACE FUNCTION tiers.expected_spend(model tiers.gamma_gamma_model, frequency double precision, monetary double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_gamma_gamma_expected_spend';
CREATE OR REPLACE FUNCTION tiers.p_alive(model tiers.mbgnbd_model, frequency double precision,
                              recency double precision, tenure double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_mbgnbd_p_alive';
CREATE OR REPLACE FUNCTION tiers.expected_purchases(model tiers.mbgnbd_model, horizon double precision,
                                         frequency double precision, recency double precision, tenure double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_mbgnbd_expected_purchases';
CREATE OR REPLACE FUNCTION tiers.expected_purchases(model tiers.mbgnbd_model, horizon double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_mbgnbd_expected_purchases_new';
CREATE OR REPLACE FUNCTION tiers.clv_estimate(purchase_model tiers.bgnbd_model, gg_model tiers.gamma_gamma_model,
                                   frequency double precision, recency double precision,
                                   tenure double precision, monetary double precision,
                                   horizon interval, discount_rate double precision, unit interval,
                                   discount_period interval DEFAULT interval '1 month')
    RETURNS double precision LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_bgnbd_clv_estimate';
CREATE OR REPLACE FUNCTION tiers.clv_estimate(purchase_model tiers.mbgnbd_model, gg_model tiers.gamma_gamma_model,
                                   frequency double precision, recency double precision,
                                   tenure double precision, monetary double precision,
                                   horizon interval, discount_rate double precision, unit interval,
                                   discount_period interval DEFAULT interval '1 month')
    RETURNS double precision LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_mbgnbd_clv_estimate';
CREATE OR REPLACE FUNCTION tiers.p_alive(model tiers.paretonbd_model, frequency double precision,
                              recency double precision, tenure double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_paretonbd_p_alive';
CREATE OR REPLACE FUNCTION tiers.expected_purchases(model tiers.paretonbd_model, horizon double precision,
                                         frequency double precision, recency double precision, tenure double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_paretonbd_expected_purchases';
CREATE OR REPLACE FUNCTION tiers.expected_purchases(model tiers.paretonbd_model, horizon double precision)
    RETURNS double precision LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_paretonbd_expected_purchases_new';
CREATE OR REPLACE FUNCTION tiers.clv_estimate(purchase_model tiers.paretonbd_model, gg_model tiers.gamma_gamma_model,
                                   frequency double precision, recency double precision,
                                   tenure double precision, monetary double precision,
                                   horizon interval, discount_rate double precision, unit interval,
                                   discount_period interval DEFAULT interval '1 month')
    RETURNS double precision LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_paretonbd_clv_estimate';

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

-- the comments of rfm_model (since_last)
COMMENT ON AGGREGATE tiers.rfm_model(double precision, double precision, double precision) IS
    'RFM model of a customer population with 5 bins: per dimension the k/5 quantiles (exactly percentile_cont) and the mean. since_last is the time since the last purchase (the R of RFM). Rows with a NULL are skipped; NaN/Infinity is an error (22023). NULL for an empty population. Use as tiers.rfm_model(r, f, m) OVER () to score in one query.';
COMMENT ON AGGREGATE tiers.rfm_model(double precision, double precision, double precision, integer) IS
    'RFM model with bins (2..10, else 22003) quantile bins per dimension: breakpoints are the k/bins quantiles computed exactly as percentile_cont, plus the population means.';

-- the penalizer comments of bgnbd_fit and gamma_gamma_fit (a NULL penalizer is an error)
COMMENT ON AGGREGATE tiers.bgnbd_fit(double precision, double precision, double precision, double precision, double precision) IS
    'BG/NBD fit with weights and an L2 penalizer (finite >= 0, else 22023; NULL: 22004; constant within a group): minimises the mean negative log-likelihood plus penalizer * (r^2 + alpha^2 + a^2 + b^2), the convention of the Python package lifetimes; log_likelihood reports the unpenalized value.';
COMMENT ON AGGREGATE tiers.gamma_gamma_fit(double precision, double precision, double precision, double precision) IS
    'Gamma-Gamma fit with weights and an L2 penalizer (finite >= 0, else 22023; NULL: 22004; constant within a group): mean negative log-likelihood plus penalizer * (p^2 + q^2 + v^2).';
