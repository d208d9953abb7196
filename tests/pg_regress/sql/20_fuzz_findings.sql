-- Inputs found by fuzzing (issue 17), each an ERROR with the right SQLSTATE naming the argument
-- and the value as given.
\set VERBOSITY terse
\i tests/sql/helpers.sql
-- a score far outside the rule set: reported as given, not clamped to 255
SELECT pg_temp.err($$SELECT tiers.rfm_segment(10001, 1, 1)$$);
SELECT pg_temp.err($$SELECT tiers.rfm_segment(3, -7, 1)$$);
SELECT pg_temp.err($$SELECT tiers.rfm_segment(3, 3, 6)$$);
SELECT tiers.rfm_segment(5, 5, 5) AS valid;
-- the finite-horizon classic CLV overflowed to Infinity; the infinite horizon raised 22003
SELECT pg_temp.err($$SELECT tiers.clv_estimate(1e300, 1e300, 1, 1, 0, 10)$$);
SELECT pg_temp.err($$SELECT tiers.clv_estimate(1e300, 1e300, 1, 0.5, 0)$$);
SELECT tiers.clv_estimate(100, 1, 0.5, 0, 0, 3) AS valid;
-- a 1 MB scheme name failed with an index-size error (54000)
SELECT pg_temp.err($$SELECT tiers.define_tier_scheme(repeat('x', 1000000), '[{"tier": "a", "entry": 0}]')$$);
SELECT pg_temp.err($$SELECT tiers.define_tier_scheme(repeat('x', 1001), '[{"tier": "a", "entry": 0}]')$$);
SELECT tiers.define_tier_scheme(repeat('x', 1000), '[{"tier": "a", "entry": 0}]') AS longest_accepted;
DELETE FROM tiers.tier_schemes WHERE scheme = repeat('x', 1000);
-- tier_view_sql(NULL) failed inside the function
SELECT pg_temp.err($$SELECT tiers.tier_view_sql(NULL)$$);
