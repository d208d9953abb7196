-- Tier schemes and tier_of: hysteresis boundaries, soft landing over several evaluations,
-- floors, unknown tiers, NULLs, validation errors, and cache invalidation between statements.
\set VERBOSITY terse
\i tests/sql/helpers.sql

SELECT tiers.define_tier_scheme('loyalty', '[
  {"tier": "Bronze",   "entry": 0},
  {"tier": "Silver",   "entry": 1000,  "retain": 800},
  {"tier": "Gold",     "entry": 5000,  "retain": 4000},
  {"tier": "Platinum", "entry": 20000, "retain": 15000}]', max_drop => 1);
SELECT scheme, max_drop, lowest_is_floor FROM tiers.tier_schemes;
SELECT rank, tier, entry, retain FROM tiers.tier_levels ORDER BY rank;

-- entry thresholds: boundaries belong to the higher tier
SELECT v, tiers.tier_of(v, 'loyalty') FROM unnest(ARRAY[-5, 0, 999.99, 1000, 4999, 5000, 25000]::float8[]) v;

-- hysteresis: a Gold customer keeps Gold at exactly its retain threshold, drops just below
SELECT prev, v, tiers.tier_of(v, 'loyalty', prev) AS next
FROM (VALUES ('Gold', 4000.0::float8), ('Gold', 3999.99), ('Silver', 4500), ('Silver', 5000),
             ('Bronze', 30000), ('Gold', 900), (NULL, 1200)) t(prev, v);

-- soft landing: max_drop 1, a Platinum customer with nothing left falls one tier per evaluation
WITH RECURSIVE evals(n, tier) AS (
  SELECT 0, 'Platinum'::text
  UNION ALL SELECT n + 1, tiers.tier_of(100, 'loyalty', tier) FROM evals WHERE n < 4)
SELECT n, tier FROM evals ORDER BY n;

-- no floor and a bigger drop
SELECT tiers.define_tier_scheme('strict', '[{"tier": "Member", "entry": 100}, {"tier": "VIP", "entry": 1000, "retain": 500}]',
                                max_drop => NULL, lowest_is_floor => false);
SELECT tiers.tier_of(50, 'strict') IS NULL AS below_all_without_floor,
       tiers.tier_of(600, 'strict', 'VIP') AS vip_retained,
       tiers.tier_of(50, 'strict', 'VIP') IS NULL AS dropped_out;

-- a later statement sees the redefined scheme
SELECT tiers.tier_of(1200, 'loyalty');
SELECT tiers.define_tier_scheme('loyalty', '[{"tier": "Bronze", "entry": 0}, {"tier": "Silver", "entry": 1500}]');
SELECT tiers.tier_of(1200, 'loyalty');

-- the inline form, ascending or descending
SELECT tiers.tier_of(150, ARRAY[0, 100, 1000], ARRAY['C', 'B', 'A']) AS asc_form,
       tiers.tier_of(150, ARRAY[1000, 100, 0], ARRAY['A', 'B', 'C']) AS desc_form,
       tiers.tier_of(-1, ARRAY[0, 100], ARRAY['low', 'high']) IS NULL AS below_all;

-- NULLs
SELECT tiers.tier_of(NULL, 'loyalty') IS NULL, tiers.tier_of(1, NULL::text) IS NULL,
       tiers.tier_of(NULL, 'loyalty', 'Silver') IS NULL;

-- errors
SELECT pg_temp.err($$SELECT tiers.tier_of(1, 'nope')$$);
SELECT pg_temp.err($$SELECT tiers.tier_of(1, 'loyalty', 'Diamond')$$);
SELECT pg_temp.err($$SELECT tiers.tier_of('NaN', 'loyalty')$$);
SELECT pg_temp.err($$SELECT tiers.define_tier_scheme('x', '[]')$$);
SELECT pg_temp.err($$SELECT tiers.define_tier_scheme('x', '{"tier": "A"}')$$);
SELECT pg_temp.err($$SELECT tiers.define_tier_scheme('x', '[{"tier": "A", "entry": 10}, {"tier": "A", "entry": 20}]')$$);
SELECT pg_temp.err($$SELECT tiers.define_tier_scheme('x', '[{"tier": "A", "entry": 10}, {"tier": "B", "entry": 5}]')$$);
SELECT pg_temp.err($$SELECT tiers.define_tier_scheme('x', '[{"tier": "A", "entry": 10, "retain": 20}]')$$);
SELECT pg_temp.err($$SELECT tiers.define_tier_scheme('x', '[{"tier": "A", "entry": 0}, {"tier": "B", "entry": 10, "retain": -1}]')$$);
SELECT pg_temp.err($$SELECT tiers.define_tier_scheme('x', '[{"tier": "A"}]')$$);
SELECT pg_temp.err($$SELECT tiers.define_tier_scheme('x', '[{"tier": "A", "entry": "ten"}]')$$);
SELECT pg_temp.err($$SELECT tiers.define_tier_scheme('x', '[{"tier": "A", "entry": 0}]', max_drop => 0)$$);
SELECT pg_temp.err($$SELECT tiers.tier_of(1, ARRAY[0, 5, 2], ARRAY['a', 'b', 'c'])$$);
SELECT pg_temp.err($$SELECT tiers.tier_of(1, ARRAY[0, 5], ARRAY['a'])$$);
-- thresholds and names are lists: a matrix is 2202E (it was read flat), one row is a list
SELECT pg_temp.err($$SELECT tiers.tier_of(1, '{{0, 5}, {10, 20}}'::float8[], '{a, b, c, d}'::text[])$$),
       pg_temp.err($$SELECT tiers.tier_of(1, '{0, 5, 10, 20}'::float8[], '{{a, b}, {c, d}}'::text[])$$),
       tiers.tier_of(7, '{{0, 5, 10}}'::float8[], '{{a}, {b}, {c}}'::text[]) AS one_row_and_one_column;
SELECT pg_temp.err($$SELECT tiers.tier_of(1, ARRAY[0, 5], ARRAY['a', 'a'])$$);
SELECT pg_temp.err($$SELECT tiers.tier_of(1, ARRAY[0, NULL], ARRAY['a', 'b'])$$);
SELECT scheme FROM tiers.tier_schemes ORDER BY 1;
