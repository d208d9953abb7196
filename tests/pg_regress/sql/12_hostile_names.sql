-- 100+ hostile names as schema, table, column, view and scheme names: every tier-view function
-- (create, refresh, report, tags, drop) works with them or fails cleanly; nothing is injected and
-- no object is left behind.
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
CREATE TABLE canary (x int);
INSERT INTO canary VALUES (1);

CREATE TABLE hostile (id serial, name text);
INSERT INTO hostile (name)
SELECT n FROM unnest(ARRAY[
  '''', '''''', '"', '""', 'a"b', 'a""b', '"; DROP TABLE canary; --', 'x''; DROP TABLE canary; --',
  '); DROP TABLE canary; --', ''')); DROP TABLE canary; --', '$$', '$x$', '$1', '/* c */', '-- c',
  'a.b', '.', '..', 'public.canary', 'pg_catalog.pg_class', 'U&"\0041"', '\', '\\', '%I', '%s', '%L',
  '%%', '%1$s', 'select', 'table', 'user', 'current_user', 'order', 'group', 'all', 'null', 'true',
  'MixedCase', 'UPPER', 'lower', ' leading', 'trailing ', E'tab\there', E'new\nline', E'cr\rret',
  '日本語', '客户分级', 'émoji 😀', E'zero\u200bwidth', 'a;b', 'a,b', 'a(b)', '[x]', '{x}', 'a:b',
  'a::int', 'a||b', '*', '?', '@', '#', '&', '|', '!', '~', '<>', '=', '+', '^', '`', 'a b c',
  repeat('x', 63), repeat('é', 31) || 'x', '""""', '''||pg_sleep(1)||''', 'E''\x41''', ';', '--',
  '1', '1abc', '_', '$', 'customer', 'frequency', 'tags', 'tier', 'as_of', 'run', 'src', 's',
  'final', 'customer_row', 'o', 'h', 'x', 't', 'pg_temp', 'tiers', 'tier_views', 'cron',
  'information_schema', 'pg_toast', 'CASCADE', 'DROP', 'SET ROLE postgres', 'COPY x TO PROGRAM ''id''',
  'ctid', 'oid', 'xmin', 'tableoid', '\N', 'NaN', 'Infinity', '-1', '0x1', 'a\nb', 'a%', '%',
  repeat('y', 64), repeat('é', 32), repeat('😀', 16)
]) AS n;
SELECT count(*) AS names, count(*) FILTER (WHERE octet_length(name) > 63) AS too_long FROM hostile;

CREATE FUNCTION pg_temp.try(n text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    -- a schema of its own for each name; identifiers cut to 15 characters (<= 60 bytes)
    sch text := 'S ' || left(n, 15);
    vsch text := 'V ' || left(n, 15);   -- the view goes into another schema
    tbl text := left(n, 15);
    c_cust text := CASE WHEN n IN ('ctid', 'oid', 'xmin', 'xmax', 'cmin', 'cmax', 'tableoid')
                        THEN 'c' || n ELSE left(n, 15) END;   -- system column names are reserved
    c_at text := 'd' || left(n, 15);
    c_amt text := 'a' || left(n, 15);
    view regclass;
    outcome text := '';
    k bigint;
BEGIN
    EXECUTE format('CREATE SCHEMA %I', sch);
    EXECUTE format('CREATE SCHEMA %I', vsch);
    EXECUTE format('CREATE TABLE %I.%I (%I int, %I date, %I numeric)', sch, tbl, c_cust, c_at, c_amt);
    EXECUTE format('INSERT INTO %I.%I VALUES (1, ''2020-01-01'', 10), (1, ''2020-02-01'', 20), (2, ''2020-01-15'', 500), (3, ''2020-03-01'', 5)',
                   sch, tbl);
    BEGIN
        PERFORM tiers.define_tier_scheme(n, '[{"tier": "low", "entry": 0}, {"tier": "high", "entry": 100}]');
        view := tiers.create_tier_view(n, format('%I.%I', sch, tbl)::regclass, c_cust, c_at, c_amt,
                    jsonb_build_object('schema', vsch, 'as_of', '2020-03-31', 'tier_scheme', n));
        PERFORM tiers.refresh_tier_view(view);
        EXECUTE format('SELECT count(*) FROM %s WHERE tier = ''high'' AND tags IS NOT NULL', view) INTO k;
        outcome := 'ok ' || k;
        SELECT outcome || ' ' || count(*) INTO outcome FROM tiers.tier_report(view);
        SELECT outcome || ' ' || count(*) INTO outcome FROM tiers.tier_history h WHERE h.scheme = n;
        PERFORM tiers.drop_tier_view(view);
    EXCEPTION WHEN OTHERS THEN
        outcome := SQLSTATE || ': ' || SQLERRM;
    END;
    DELETE FROM tiers.tier_schemes s WHERE s.scheme = n;
    DELETE FROM tiers.tier_history h WHERE h.scheme = n;
    DELETE FROM tiers.tier_evaluations e WHERE e.scheme = n;
    EXECUTE format('DROP SCHEMA %I CASCADE', sch);
    EXECUTE format('DROP SCHEMA %I', vsch);   -- fails if anything was left in it
    RETURN outcome;
END $$;

CREATE TEMP TABLE objects_before AS
SELECT c.oid FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
WHERE ns.nspname NOT LIKE 'pg_temp%' AND ns.nspname NOT LIKE 'pg_toast%';
CREATE TEMP TABLE procs_before AS SELECT oid FROM pg_proc;

SET client_min_messages = warning;
CREATE TEMP TABLE outcomes AS SELECT h.id, h.name, pg_temp.try(h.name) AS outcome FROM hostile h;
RESET client_min_messages;

-- every name either works end to end (3 customers -> 1 high-tier customer, the report,
-- 3 history rows) or fails with a clean error; list the failures
SELECT count(*) FILTER (WHERE outcome ~ '^ok 1 \d+ 3$') AS worked,
       count(*) FILTER (WHERE outcome !~ '^ok 1 \d+ 3$') AS failed_cleanly FROM outcomes;
SELECT to_json(name) AS name, outcome FROM outcomes WHERE outcome !~ '^ok 1 \d+ 3$' ORDER BY id;
-- nothing injected, nothing left behind
SELECT count(*) AS canary_rows FROM canary;
SELECT count(*) AS new_relations FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
WHERE ns.nspname NOT LIKE 'pg_temp%' AND ns.nspname NOT LIKE 'pg_toast%'
  AND c.oid NOT IN (SELECT oid FROM objects_before);
SELECT count(*) AS new_functions FROM pg_proc WHERE oid NOT IN (SELECT oid FROM procs_before)
  AND pronamespace <> pg_my_temp_schema();
SELECT count(*) AS declarations, (SELECT count(*) FROM tiers.tier_view_refreshes) AS refreshes,
       (SELECT count(*) FROM tiers.tier_schemes WHERE scheme IN (SELECT name FROM hostile)) AS schemes
FROM tiers.tier_views;
