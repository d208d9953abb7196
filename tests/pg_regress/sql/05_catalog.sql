-- Catalog hygiene: every object documented, volatility and parallel safety declared.
SELECT p.oid::regprocedure AS function_without_comment
FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'customer_tiers')
  AND d.deptype = 'e' AND obj_description(p.oid, 'pg_proc') IS NULL;
SELECT p.oid::regprocedure AS function, p.prokind, p.provolatile, p.proparallel, p.proisstrict
FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'customer_tiers')
  AND d.deptype = 'e' AND p.proname NOT LIKE 'customer\_summary%'
ORDER BY p.oid::regprocedure::text;
SELECT count(*) AS aggregates, count(DISTINCT a.aggcombinefn) AS combine,
       count(DISTINCT a.aggserialfn) AS serial, count(DISTINCT a.aggdeserialfn) AS deserial,
       bool_and(p.proparallel = 's') AS parallel_safe
FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
WHERE p.pronamespace = 'tiers'::regnamespace;
SELECT t.typname, obj_description(t.oid, 'pg_type') IS NOT NULL AS commented
FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid
WHERE t.typnamespace = 'tiers'::regnamespace AND c.relkind = 'c' ORDER BY 1;
SELECT c.relname, obj_description(c.oid, 'pg_class') IS NOT NULL AS commented
FROM pg_class c WHERE c.relnamespace = 'tiers'::regnamespace AND c.relkind = 'r' ORDER BY 1;
-- functions that read configuration pin search_path
SELECT p.proname, p.proconfig FROM pg_proc p
WHERE p.pronamespace = 'tiers'::regnamespace AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'plpgsql') ORDER BY 1;
