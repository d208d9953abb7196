-- Privileges as non-superuser roles: everyone may call the functions and read the configuration;
-- what reads a source needs SELECT on it; writing configuration needs the grants a DBA gives.
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
\i tests/sql/helpers.sql
\set ECHO none
\set QUIET on
\i tests/sql/load_cdnow.sql
\set QUIET off
\set ECHO all
CREATE TABLE secret_orders AS SELECT * FROM cdnow_master WHERE customer_id <= 200;
SELECT tiers.define_tier_scheme('priv', '[{"tier": "Basic", "entry": 0}, {"tier": "Gold", "entry": 100}]');
CREATE ROLE analyst;
CREATE ROLE outsider;
CREATE ROLE reader;
GRANT SELECT ON secret_orders TO analyst;
GRANT CREATE ON SCHEMA public TO analyst, outsider;
GRANT INSERT, UPDATE, DELETE ON tiers.tier_views, tiers.tier_view_refreshes, tiers.tier_history,
    tiers.tier_evaluations, tiers.tier_schemes, tiers.tier_levels, tiers.tag_rules TO analyst, outsider;

-- a role with no grants at all: functions and configuration are readable, writing is refused
SET ROLE reader;
SELECT tiers.tier_of(150, 'priv'), tiers.tier_of(5, ARRAY[0, 4], ARRAY['x', 'y']),
       (SELECT count(*) > 0 FROM tiers.tag_rules) AS reads_tag_rules;
SELECT tiers.customer_tags(c) FROM (SELECT 1 AS frequency, 400 AS since_last) c;
SELECT pg_temp.err($$SELECT tiers.define_tier_scheme('mine', '[{"tier": "A", "entry": 0}]')$$);
SELECT pg_temp.err($$INSERT INTO tiers.tag_rules (tag, expression) VALUES ('x', 'true')$$);
SELECT pg_temp.err($$SELECT count(*) FROM secret_orders$$);
RESET ROLE;

-- without SELECT on the source: refused, nothing created
SET ROLE outsider;
SELECT pg_temp.err($$SELECT tiers.create_tier_view('outsider_view', 'secret_orders', 'customer_id', 'ordered_on', 'amount')$$);
SELECT pg_temp.err($$SELECT tiers.snapshot_tiers('priv', 'secret_orders', 'customer_id', 'amount', '2000-01-01')$$);
SELECT pg_temp.err($$SELECT count(*) FROM (SELECT tiers.customer_summary(ordered_on, amount, '1998-06-30') FROM secret_orders GROUP BY customer_id) s$$);
RESET ROLE;
SELECT count(*) AS declarations FROM tiers.tier_views;

-- with SELECT: the analyst declares, refreshes, reports and drops a tier view
SET ROLE analyst;
SELECT tiers.create_tier_view('analyst_view', 'secret_orders', 'customer_id', 'ordered_on', 'amount',
  '{"as_of": "1998-06-30", "tier_scheme": "priv"}');
SELECT customers FROM tiers.refresh_tier_view('analyst_view');
SELECT grp, customers FROM tiers.tier_report('analyst_view') WHERE dimension = 'tier';
RESET ROLE;
-- others can neither refresh nor drop the analyst's view (refreshing needs ownership)
SET ROLE outsider;
SELECT pg_temp.err($$SELECT tiers.refresh_tier_view('analyst_view')$$);
SELECT pg_temp.err($$SELECT tiers.drop_tier_view('analyst_view')$$);
SELECT pg_temp.err($$SELECT count(*) FROM analyst_view$$);
RESET ROLE;

-- Per-customer data (issue 16): the tier history, the evaluations, the declarations and the
-- refresh records are readable row by row only by the roles entitled to them (row-level security).
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
       (SELECT string_agg(p.polname, ', ') FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
FROM pg_class c WHERE c.relnamespace = 'tiers'::regnamespace AND c.relkind = 'r' ORDER BY 1;
-- a second tier view, of a superuser, recording the history of another scheme
SELECT tiers.define_tier_scheme('priv2', '[{"tier": "Low", "entry": 0}, {"tier": "High", "entry": 50}]');
SELECT tiers.create_tier_view('secret_view', 'secret_orders', 'customer_id', 'ordered_on', 'amount',
  '{"as_of": "1998-06-30", "tier_scheme": "priv2"}') IS NOT NULL AS created;
SELECT scheme, count(*) AS history_rows FROM tiers.tier_history GROUP BY 1 ORDER BY 1;
CREATE ROLE bi;
CREATE ROLE bi_member IN ROLE bi;
-- a role without grants sees no row, and the functions that read a scheme or a view say why
SET ROLE reader;
SELECT (SELECT count(*) FROM tiers.tier_history) AS history, (SELECT count(*) FROM tiers.tier_evaluations) AS evaluations,
       (SELECT count(*) FROM tiers.tier_views) AS declarations, (SELECT count(*) FROM tiers.tier_view_refreshes) AS refreshes;
SELECT pg_temp.err($$SELECT * FROM tiers.transitions('priv', '1998-06-29', '1998-06-30')$$);
SELECT pg_temp.err($$SELECT * FROM tiers.tier_movements('priv')$$);
SELECT pg_temp.err($$SELECT * FROM tiers.tier_report('analyst_view')$$);
SELECT pg_temp.err($$SELECT count(*) FROM analyst_view$$);
RESET ROLE;
-- the analyst grants its view to bi: bi (and its members) see exactly that view's part
SET ROLE analyst;
GRANT SELECT ON analyst_view TO bi;
RESET ROLE;
SET ROLE bi;
SELECT scheme, count(*) AS history_rows FROM tiers.tier_history GROUP BY 1 ORDER BY 1;
SELECT scheme, count(*) AS evaluations FROM tiers.tier_evaluations GROUP BY 1 ORDER BY 1;
SELECT view_name FROM tiers.tier_views ORDER BY 1;
SELECT view_name, count(*) AS refreshes FROM tiers.tier_view_refreshes GROUP BY 1 ORDER BY 1;
SELECT direction, sum(customers) AS customers FROM tiers.transitions('priv', '1998-06-29', '1998-06-30') GROUP BY 1;
SELECT customers, new FROM tiers.tier_movements('priv');
SELECT grp, customers FROM tiers.tier_report('analyst_view') WHERE dimension = 'tier' ORDER BY 1;
SELECT pg_temp.err($$SELECT * FROM tiers.transitions('priv2', '1998-06-29', '1998-06-30')$$);
SELECT pg_temp.err($$SELECT * FROM tiers.tier_report('secret_view')$$);
SELECT pg_temp.err($$SELECT tiers.refresh_tier_view('analyst_view')$$);
SELECT pg_temp.err($$UPDATE tiers.tier_history SET tier = 'x'$$);
RESET ROLE;
SET ROLE bi_member;
SELECT count(DISTINCT scheme) AS schemes, count(*) AS history_rows FROM tiers.tier_history;
RESET ROLE;
-- a role allowed to write the history (INSERT on tiers.tier_history) reads every scheme's history
SET ROLE outsider;
SELECT scheme, count(*) AS history_rows FROM tiers.tier_history GROUP BY 1 ORDER BY 1;
SELECT count(*) AS declarations FROM tiers.tier_views;
RESET ROLE;
-- but its write grants do not let it declare someone else's relation (opening a scheme's history to
-- that relation's readers) or record refreshes of a view it does not own
SET ROLE outsider;
SELECT pg_temp.err($$INSERT INTO tiers.tier_views (view_schema, view_name, source_schema, source_name, customer_column, ordered_at_column, amount_column, options) VALUES ('pg_catalog', 'pg_class', 'public', 'secret_orders', 'customer_id', 'ordered_on', 'amount', '{"tier_scheme": "priv", "history": false}')$$);
SELECT pg_temp.err($$INSERT INTO tiers.tier_view_refreshes (view_schema, view_name, refreshed_at, as_of) VALUES ('public', 'analyst_view', '2099-01-01', '2099-01-01')$$);
RESET ROLE;
SELECT count(*) AS forged_refreshes FROM tiers.tier_view_refreshes WHERE refreshed_at = '2099-01-01';
-- one tier view records a scheme's history, even when the other declaration is invisible
SET ROLE analyst;
SELECT view_name FROM tiers.tier_views;
SELECT pg_temp.err($$SELECT tiers.create_tier_view('analyst_view2', 'secret_orders', 'customer_id', 'ordered_on', 'amount', '{"tier_scheme": "priv2"}')$$);
SELECT to_regclass('analyst_view2') AS not_created;
RESET ROLE;
-- revoking the view takes its part away again
SET ROLE analyst;
REVOKE SELECT ON analyst_view FROM bi;
RESET ROLE;
SET ROLE bi;
SELECT (SELECT count(*) FROM tiers.tier_history) AS history, (SELECT count(*) FROM tiers.tier_views) AS declarations;
RESET ROLE;
-- a tier view itself is readable by its owner only until granted
SELECT c.relname, array_agg(DISTINCT CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END) AS grantees
FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
WHERE c.relname IN ('analyst_view', 'secret_view') GROUP BY 1 ORDER BY 1;
-- a view using a scheme without recording its history ("history": false), owned by a role that may
-- not write the history: the owner reads the scheme's history (its refreshes need the previous
-- tiers); the view's readers read none of it (not what secret_view records for the same scheme)
CREATE ROLE nohist_owner;
CREATE ROLE bi_nohist;
GRANT SELECT ON secret_orders TO nohist_owner;
GRANT CREATE ON SCHEMA public TO nohist_owner;
GRANT INSERT, UPDATE, DELETE ON tiers.tier_views, tiers.tier_view_refreshes TO nohist_owner;
SET ROLE nohist_owner;
SELECT tiers.create_tier_view('nohist_view', 'secret_orders', 'customer_id', 'ordered_on', 'amount',
  '{"as_of": "1998-07-31", "tier_scheme": "priv2", "history": false}') IS NOT NULL AS created;
SELECT count(*) AS customers, count(previous_tier) AS with_previous_tier FROM nohist_view;
SELECT tiers.history_schemes() AS schemes, (SELECT count(*) FROM tiers.tier_history WHERE scheme = 'priv2') AS history_rows;
GRANT SELECT ON nohist_view TO bi_nohist;
RESET ROLE;
SET ROLE bi_nohist;
SELECT (SELECT count(*) FROM nohist_view) AS view_rows, (SELECT count(*) FROM tiers.tier_history) AS history,
       (SELECT count(*) FROM tiers.tier_evaluations) AS evaluations,
       (SELECT string_agg(view_name, ',') FROM tiers.tier_views) AS declarations, tiers.history_schemes() AS schemes;
SELECT pg_temp.err($$SELECT * FROM tiers.transitions('priv2', '1998-06-29', '1998-06-30')$$);
RESET ROLE;
SET ROLE nohist_owner;
SELECT tiers.drop_tier_view('nohist_view');
RESET ROLE;
REVOKE ALL ON secret_orders FROM nohist_owner;
REVOKE CREATE ON SCHEMA public FROM nohist_owner;
REVOKE ALL ON tiers.tier_views, tiers.tier_view_refreshes FROM nohist_owner;
DROP ROLE bi_nohist;
DROP ROLE nohist_owner;
DROP ROLE bi_member;
DROP ROLE bi;
SELECT tiers.drop_tier_view('secret_view');
DELETE FROM tiers.tier_history WHERE scheme = 'priv2';
DELETE FROM tiers.tier_evaluations WHERE scheme = 'priv2';

SET ROLE analyst;
SELECT tiers.drop_tier_view('analyst_view');
RESET ROLE;

-- no function of the extension runs with its owner's rights
SELECT count(*) AS security_definer_functions FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'customer_tiers'
WHERE p.prosecdef;

DELETE FROM tiers.tier_history WHERE scheme = 'priv';
DELETE FROM tiers.tier_evaluations WHERE scheme = 'priv';
REVOKE ALL ON tiers.tier_views, tiers.tier_view_refreshes, tiers.tier_history, tiers.tier_evaluations,
    tiers.tier_schemes, tiers.tier_levels, tiers.tag_rules FROM analyst, outsider;
REVOKE ALL ON secret_orders FROM analyst;
REVOKE CREATE ON SCHEMA public FROM analyst, outsider;
DROP ROLE analyst;
DROP ROLE outsider;
DROP ROLE reader;
