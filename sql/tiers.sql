-- Tier schemes, tier_of with loyalty mechanics, tier history (src/tiers.rs, core/src/tiers.rs).

CREATE TABLE tiers.tier_schemes (
    scheme          text PRIMARY KEY CHECK (pg_catalog.btrim(scheme) OPERATOR(pg_catalog.<>) ''),
    max_drop        integer CHECK (max_drop IS NULL OR max_drop OPERATOR(pg_catalog.>=) 1),
    lowest_is_floor boolean NOT NULL DEFAULT true,
    description     text NOT NULL DEFAULT '',
    grace_evaluations integer CHECK (grace_evaluations IS NULL OR grace_evaluations OPERATOR(pg_catalog.>=) 1)
);
COMMENT ON TABLE tiers.tier_schemes IS
    'Tier schemes (user data, kept by pg_dump): max_drop limits how many tiers a customer may drop per evaluation (NULL: no limit); lowest_is_floor gives the lowest tier to values below every entry threshold; grace_evaluations (NULL: none) lets tiers.snapshot_tiers keep a customer who qualifies only for a lower tier in the tier for that many consecutive evaluations before the drop.';

CREATE TABLE tiers.tier_levels (
    scheme text NOT NULL REFERENCES tiers.tier_schemes (scheme) ON UPDATE CASCADE ON DELETE CASCADE,
    rank   integer NOT NULL CHECK (rank OPERATOR(pg_catalog.>=) 1),
    tier   text NOT NULL CHECK (pg_catalog.btrim(tier) OPERATOR(pg_catalog.<>) ''),
    entry  double precision NOT NULL,
    retain double precision NOT NULL,
    PRIMARY KEY (scheme, rank),
    UNIQUE (scheme, tier),
    CHECK (retain OPERATOR(pg_catalog.<=) entry)
);
COMMENT ON TABLE tiers.tier_levels IS
    'Tiers of each scheme, rank 1 = lowest: a value >= entry qualifies; a customer in the tier keeps it while the value >= retain (retain <= entry: hysteresis). Write them with tiers.define_tier_scheme, which validates.';

SELECT pg_catalog.pg_extension_config_dump('tiers.tier_schemes', '');
SELECT pg_catalog.pg_extension_config_dump('tiers.tier_levels', '');

-- One row per change of a customer's tier (valid_from inclusive, valid_to exclusive; NULL = now).
CREATE TABLE tiers.tier_history (
    scheme     text NOT NULL,
    customer   text NOT NULL,
    tier       text,
    value      double precision,
    valid_from date NOT NULL,
    valid_to   date,
    grace_used integer NOT NULL DEFAULT 0,
    PRIMARY KEY (scheme, customer, valid_from),
    CHECK (valid_to IS NULL OR valid_to OPERATOR(pg_catalog.>) valid_from)
);
COMMENT ON TABLE tiers.tier_history IS
    'Tier assignments per scheme and customer, one row per change: valid_from (inclusive) to valid_to (exclusive, NULL = current); value is the driving value when the tier was assigned. Filled by tiers.snapshot_tiers; kept by pg_dump. Row-level security: a scheme''s rows are visible to the roles that may read the tier view recording the scheme''s history or own a tier view using the scheme, and to those that may write the history (docs/security.md).';
CREATE INDEX tier_history_current ON tiers.tier_history (scheme, customer) WHERE valid_to IS NULL;

-- One row per evaluation: the numbers managers judge a grading program by.
CREATE TABLE tiers.tier_evaluations (
    scheme       text NOT NULL,
    evaluated_on date NOT NULL,
    customers    bigint NOT NULL,
    upgraded     bigint NOT NULL,
    downgraded   bigint NOT NULL,
    retained     bigint NOT NULL,
    new          bigint NOT NULL,
    lost         bigint NOT NULL,
    PRIMARY KEY (scheme, evaluated_on)
);
COMMENT ON TABLE tiers.tier_evaluations IS
    'One row per evaluation (tiers.snapshot_tiers): customers evaluated, upgraded, downgraded, retained, new, lost. Kept by pg_dump. Row-level security: a scheme''s rows are visible to the roles that may read the tier view recording the scheme''s history or own a tier view using the scheme, and to those that may write the history (docs/security.md).';

SELECT pg_catalog.pg_extension_config_dump('tiers.tier_history', '');
SELECT pg_catalog.pg_extension_config_dump('tiers.tier_evaluations', '');

------------------------------------------------------------------------------------------
-- tiers: schemes as data, tier_of with loyalty mechanics
------------------------------------------------------------------------------------------
CREATE FUNCTION tiers.tier_of(value double precision, scheme text)
    RETURNS text LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_tier_of';
COMMENT ON FUNCTION tiers.tier_of(double precision, text) IS
    'The tier a value qualifies for on the entry thresholds of a scheme (highest tier with entry <= value); below every entry: the lowest tier when lowest_is_floor, else NULL. Unknown scheme 22023; NULL value or scheme: NULL; NaN 22023. The scheme is read once per call site and statement.';
CREATE FUNCTION tiers.tier_of(value double precision, scheme text, previous_tier text)
    RETURNS text LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_tier_of_previous';
COMMENT ON FUNCTION tiers.tier_of(double precision, text, text) IS
    'The tier after one evaluation of a customer who was in previous_tier: up to the highest tier whose entry is met; else kept while value >= the previous tier''s retain; else down to the highest lower tier whose retain is met, by at most max_drop tiers (below every retain: the floor, or NULL without floor, still limited by max_drop). NULL previous_tier: as tier_of(value, scheme). Unknown previous tier or scheme: 22023.';
CREATE FUNCTION tiers.tier_of(value double precision, scheme text, previous_tier text, grace_used integer)
    RETURNS text LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_tier_of_grace';
COMMENT ON FUNCTION tiers.tier_of(double precision, text, text, integer) IS
    'tier_of(value, scheme, previous_tier) with the scheme''s grace period: when the customer would drop (or lose its tier) and grace_used (drops already held in a row; NULL = 0) is below the scheme''s grace_evaluations, previous_tier is kept. Negative grace_used: 22023.';
CREATE FUNCTION tiers.tier_of(value double precision, thresholds double precision[], names text[])
    RETURNS text LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_tier_of_inline';
CREATE FUNCTION tiers.define_tier_scheme(scheme text, tiers jsonb, max_drop integer DEFAULT NULL,
                                         lowest_is_floor boolean DEFAULT true, description text DEFAULT '',
                                         grace_evaluations integer DEFAULT NULL)
    RETURNS integer LANGUAGE c VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'ct_define_tier_scheme';
COMMENT ON FUNCTION tiers.define_tier_scheme(text, jsonb, integer, boolean, text, integer) IS
    'Creates or replaces a tier scheme from a jsonb array, lowest tier first: [{"tier": "Silver", "entry": 1000, "retain": 800}, ...] (retain defaults to entry; "-Infinity" allowed for the lowest tier). Validates: at least one tier, unique non-empty names, strictly ascending entry, ascending retain, retain <= entry, max_drop >= 1, grace_evaluations >= 1 or NULL (else 22023). Returns the number of tiers.';
COMMENT ON FUNCTION tiers.tier_of(double precision, double precision[], text[]) IS
    'Inline tiers for ad-hoc queries: thresholds strictly ascending or descending, one name each; the name of the largest threshold <= value, NULL below all. Mismatched lengths, NULL elements, duplicates or unordered thresholds: 22023.';

------------------------------------------------------------------------------------------
-- tier history, transitions and movements
------------------------------------------------------------------------------------------
CREATE FUNCTION tiers.snapshot_tiers(scheme text, source regclass, customer_column name,
                                     value_column name, evaluated_on date DEFAULT CURRENT_DATE)
    RETURNS tiers.tier_evaluations
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $snapshot$
DECLARE
    result tiers.tier_evaluations;
    last_eval date;
    duplicate text;
BEGIN
    IF scheme IS NULL OR source IS NULL OR customer_column IS NULL OR value_column IS NULL
       OR evaluated_on IS NULL THEN
        RAISE EXCEPTION 'snapshot_tiers: no argument may be NULL' USING ERRCODE = '22004';
    END IF;
    IF NOT EXISTS (SELECT FROM tiers.tier_schemes s WHERE s.scheme = snapshot_tiers.scheme) THEN
        RAISE EXCEPTION 'scheme "%" does not exist in tiers.tier_schemes', scheme USING ERRCODE = '22023';
    END IF;
    SELECT max(e.evaluated_on) INTO last_eval FROM tiers.tier_evaluations e WHERE e.scheme = snapshot_tiers.scheme;
    IF last_eval IS NOT NULL AND evaluated_on <= last_eval THEN
        RAISE EXCEPTION 'evaluated_on (%) must be after the last evaluation of scheme "%" (%)',
            evaluated_on, scheme, last_eval USING ERRCODE = '22023';
    END IF;
    EXECUTE format('SELECT (%1$I)::text FROM %2$s WHERE %1$I IS NOT NULL GROUP BY 1 HAVING count(*) > 1 LIMIT 1',
                   customer_column, source) INTO duplicate;
    IF duplicate IS NOT NULL THEN
        RAISE EXCEPTION 'source has several rows for customer "%": one row per customer is needed', duplicate
            USING ERRCODE = '22023';
    END IF;
    -- one statement: read the source (names resolved through the catalog and quoted), evaluate
    -- every customer against its current tier, close changed and gone rows, open new ones
    EXECUTE format($q$
        WITH src AS (
            SELECT (%1$I)::text AS customer, (%2$I)::double precision AS value
            FROM %3$s WHERE %1$I IS NOT NULL),
        cur AS (
            SELECT h.ctid AS hctid, h.customer, h.tier, h.grace_used FROM tiers.tier_history h
            WHERE h.scheme = $1 AND h.valid_to IS NULL),
        nxt AS (
            SELECT s.customer, s.value, c.tier AS prev, c.customer IS NULL AS is_new,
                   coalesce(c.grace_used, 0) AS grace_used,
                   CASE WHEN c.customer IS NULL THEN tiers.tier_of(s.value, $1)
                        ELSE tiers.tier_of(s.value, $1, c.tier) END AS candidate
            FROM src s LEFT JOIN cur c USING (customer)),
        judged AS (
            SELECT n.*, coalesce(lc.rank, 0) AS candidate_rank, coalesce(lp.rank, 0) AS prev_rank,
                   NOT n.is_new AND coalesce(lc.rank, 0) < coalesce(lp.rank, 0)
                       AND n.grace_used < coalesce(sc.grace_evaluations, 0) AS held
            FROM nxt n
            CROSS JOIN tiers.tier_schemes sc
            LEFT JOIN tiers.tier_levels lc ON lc.scheme = $1 AND lc.tier = n.candidate
            LEFT JOIN tiers.tier_levels lp ON lp.scheme = $1 AND lp.tier = n.prev
            WHERE sc.scheme = $1),
        ranked AS (
            SELECT j.customer, j.value, j.prev, j.is_new, j.prev_rank,
                   CASE WHEN j.held THEN j.prev ELSE j.candidate END AS tier,
                   CASE WHEN j.held THEN j.prev_rank ELSE j.candidate_rank END AS new_rank,
                   CASE WHEN j.held THEN j.grace_used + 1 ELSE 0 END AS grace
            FROM judged j),
        changes AS (
            SELECT c.hctid, c.tier AS old_tier, c.grace_used, r.customer IS NULL AS gone,
                   r.tier, r.grace
            FROM cur c LEFT JOIN ranked r ON r.customer = c.customer),
        closed AS (
            -- rows are addressed by ctid: one lookup each, whatever the planner estimates for
            -- a freshly filled history
            UPDATE tiers.tier_history h
            SET valid_to = CASE WHEN x.gone OR x.tier IS DISTINCT FROM x.old_tier THEN $2 END,
                grace_used = CASE WHEN x.gone OR x.tier IS DISTINCT FROM x.old_tier
                                  THEN h.grace_used ELSE x.grace END
            FROM changes x
            WHERE h.ctid = x.hctid
              AND (x.gone OR x.tier IS DISTINCT FROM x.old_tier OR x.grace <> x.grace_used)
            RETURNING h.customer),
        opened AS (
            INSERT INTO tiers.tier_history (scheme, customer, tier, value, valid_from)
            SELECT $1, r.customer, r.tier, r.value, $2 FROM ranked r
            WHERE r.is_new OR r.tier IS DISTINCT FROM r.prev
            RETURNING customer)
        SELECT $1, $2, count(*),
               count(*) FILTER (WHERE NOT is_new AND new_rank > prev_rank),
               count(*) FILTER (WHERE NOT is_new AND new_rank < prev_rank),
               count(*) FILTER (WHERE NOT is_new AND new_rank = prev_rank),
               count(*) FILTER (WHERE is_new),
               (SELECT count(*) FROM changes x WHERE x.gone)
        FROM ranked $q$,
        customer_column, value_column, source)
    INTO result USING scheme, evaluated_on;
    INSERT INTO tiers.tier_evaluations VALUES (result.*);
    RETURN result;
END
$snapshot$;
COMMENT ON FUNCTION tiers.snapshot_tiers(text, regclass, name, name, date) IS
    'Evaluates every customer of source (customer_column, value_column; any table or view the caller can read) against its current tier with tier_of(value, scheme, previous_tier) (new customers: tier_of(value, scheme)); records changes in tiers.tier_history (with the scheme''s grace_evaluations, a drop is held for that many consecutive evaluations, counted in tier_history.grace_used; a held customer counts as retained), closes customers missing from source (lost), and returns and stores the counts. evaluated_on must be after the scheme''s last evaluation (22023); unknown scheme 22023; NULL arguments 22004; unknown columns 42703. Identifiers are quoted; search_path is pinned.';

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

CREATE FUNCTION tiers.transitions(scheme text, from_date date, to_date date)
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

CREATE FUNCTION tiers.tier_movements(scheme text)
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
