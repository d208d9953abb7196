-- Tier history: snapshots over several evaluations, one row per change, transitions and
-- movements checked by hand, hostile identifiers, errors.
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
\i tests/sql/helpers.sql

SELECT tiers.define_tier_scheme('club', '[
  {"tier": "Basic", "entry": 0},
  {"tier": "Silver", "entry": 100, "retain": 80},
  {"tier": "Gold", "entry": 500, "retain": 400}]', max_drop => 1);

-- a source with an awkward name and columns
CREATE TABLE "Spend; DROP TABLE x" ("Customer ID" text, "spend ""total""" numeric);
INSERT INTO "Spend; DROP TABLE x" VALUES ('ann', 600), ('bob', 150), ('cy', 50);

SELECT * FROM tiers.snapshot_tiers('club', '"Spend; DROP TABLE x"', 'Customer ID', 'spend "total"', '2024-01-31');

-- February: ann falls to 300 (Gold retain 400 -> one tier down: Silver), bob at 90 keeps
-- Silver (retain 80), cy rises to 700 (Gold), dee is new, nobody lost
TRUNCATE "Spend; DROP TABLE x";
INSERT INTO "Spend; DROP TABLE x" VALUES ('ann', 300), ('bob', 90), ('cy', 700), ('dee', 20);
SELECT * FROM tiers.snapshot_tiers('club', '"Spend; DROP TABLE x"', 'Customer ID', 'spend "total"', '2024-02-29');

-- March: ann at 0 drops one more tier (soft landing), bob is gone, others unchanged
DELETE FROM "Spend; DROP TABLE x" WHERE "Customer ID" = 'bob';
UPDATE "Spend; DROP TABLE x" SET "spend ""total""" = 0 WHERE "Customer ID" = 'ann';
SELECT * FROM tiers.snapshot_tiers('club', '"Spend; DROP TABLE x"', 'Customer ID', 'spend "total"', '2024-03-31');

-- one row per change, not per evaluation
SELECT customer, tier, value, valid_from, valid_to FROM tiers.tier_history ORDER BY customer, valid_from;

SELECT * FROM tiers.transitions('club', '2024-01-31', '2024-03-31');
SELECT * FROM tiers.tier_movements('club');

-- errors; nothing was written by the failed calls
SELECT pg_temp.err($$SELECT tiers.snapshot_tiers('club', '"Spend; DROP TABLE x"', 'Customer ID', 'spend "total"', '2024-03-01')$$);
SELECT pg_temp.err($$SELECT tiers.snapshot_tiers('nope', '"Spend; DROP TABLE x"', 'Customer ID', 'spend "total"', '2024-04-30')$$);
SELECT pg_temp.err($$SELECT tiers.snapshot_tiers('club', '"Spend; DROP TABLE x"', 'no such column', 'spend "total"', '2024-04-30')$$);
SELECT pg_temp.err($$SELECT tiers.snapshot_tiers('club', 'no_such_table', 'a', 'b', '2024-04-30')$$);
SELECT pg_temp.err($$SELECT tiers.snapshot_tiers('club', NULL, 'a', 'b', '2024-04-30')$$);
INSERT INTO "Spend; DROP TABLE x" VALUES ('cy', 1);
SELECT pg_temp.err($$SELECT tiers.snapshot_tiers('club', '"Spend; DROP TABLE x"', 'Customer ID', 'spend "total"', '2024-04-30')$$);
SELECT count(*) AS evaluations FROM tiers.tier_evaluations;
SELECT count(*) AS tables_named_x FROM pg_class WHERE relname = 'x';

-- grace period: with grace_evaluations = 2 a customer who qualifies only for a lower tier keeps
-- the tier for two consecutive evaluations and drops at the third; a recovery resets the count
SELECT tiers.define_tier_scheme('grace', '[
  {"tier": "Basic", "entry": 0},
  {"tier": "Gold", "entry": 500, "retain": 400}]', grace_evaluations => 2);
SELECT pg_temp.err($$SELECT tiers.define_tier_scheme('g0', '[{"tier": "A", "entry": 0}]', grace_evaluations => 0)$$);
CREATE TABLE grace_src (customer text, spend numeric);
CREATE FUNCTION pg_temp.grace_step(d date, eve numeric, fay numeric) RETURNS text LANGUAGE plpgsql AS $$
DECLARE e tiers.tier_evaluations;
BEGIN
    TRUNCATE grace_src;
    INSERT INTO grace_src VALUES ('eve', eve), ('fay', fay);
    e := tiers.snapshot_tiers('grace', 'grace_src', 'customer', 'spend', d);
    RETURN format('up %s down %s kept %s | %s', e.upgraded, e.downgraded, e.retained,
        (SELECT string_agg(format('%s=%s/%s', customer, tier, grace_used), ' ' ORDER BY customer)
         FROM tiers.tier_history WHERE scheme = 'grace' AND valid_to IS NULL));
END $$;
SELECT pg_temp.grace_step('2024-01-31', 600, 600);  -- both Gold
SELECT pg_temp.grace_step('2024-02-29', 100, 100);  -- both below retain: held, 1 used
SELECT pg_temp.grace_step('2024-03-31', 100, 450);  -- eve held (2 used); fay recovers (reset)
SELECT pg_temp.grace_step('2024-04-30', 100, 100);  -- eve drops to Basic; fay held again (1)
SELECT customer, tier, valid_from, valid_to FROM tiers.tier_history
WHERE scheme = 'grace' ORDER BY customer, valid_from;
