-- The demo, part 2: a tier view over CDNOW for BI tools, refreshed for two quarter ends so the
-- report shows how customers moved between tiers. Idempotent: it starts from scratch each run.
\pset footer off
SET client_min_messages = warning;
DO $$ BEGIN
    IF to_regclass('public.cdnow_tiers') IS NOT NULL THEN
        PERFORM tiers.drop_tier_view('public.cdnow_tiers');
    END IF;
    IF to_regclass('public.cdnow_regions') IS NOT NULL THEN   -- made by the README's example
        PERFORM tiers.drop_tier_view('public.cdnow_regions');
    END IF;
END $$;
-- a synthetic CRM customer table for the README's examples: regions of very different sizes
DROP TABLE IF EXISTS cdnow_customers;
CREATE TABLE cdnow_customers AS
SELECT customer_id, 'Customer ' || customer_id AS name,
       CASE WHEN customer_id % 10 < 5 THEN 'East' WHEN customer_id % 10 < 8 THEN 'North'
            WHEN customer_id % 10 = 8 THEN 'West' ELSE 'South' END AS region,
       CASE WHEN customer_id % 3 = 0 THEN 'online' ELSE 'store' END AS channel
FROM generate_series(1, 23570) customer_id;
ALTER TABLE cdnow_customers ADD PRIMARY KEY (customer_id);
COMMENT ON COLUMN cdnow_customers.region IS 'sales region (synthetic)';
-- the donations data of Fader, Hardie & Shang (2010) for the README's BG/BB example
DROP TABLE IF EXISTS donations;
CREATE TABLE donations (frequency float8, recency float8, n_periods float8, donors float8);
\copy donations FROM 'data/donations/donations.csv' WITH (FORMAT csv, HEADER true)
DELETE FROM tiers.tier_history WHERE scheme = 'cdnow_loyalty';
DELETE FROM tiers.tier_evaluations WHERE scheme = 'cdnow_loyalty';
SELECT tiers.define_tier_scheme('cdnow_loyalty', '[
  {"tier": "Bronze",   "entry": 0},
  {"tier": "Silver",   "entry": 100,  "retain": 80},
  {"tier": "Gold",     "entry": 500,  "retain": 400},
  {"tier": "Platinum", "entry": 2000, "retain": 1500}]', max_drop => 1,
  description => 'CDNOW demo: spend to date, hysteresis, one tier down at most per quarter') \g /dev/null

\echo
\echo 'Tier view public.cdnow_tiers: one row per customer (summary, RFM, 8-class, ABC, CLV, tier, tags)'
SELECT tiers.create_tier_view('cdnow_tiers', 'cdnow_master', 'customer_id', 'ordered_on', 'amount',
  '{"as_of": "1998-03-31", "clv": true, "tier_scheme": "cdnow_loyalty"}') AS created;
UPDATE tiers.tier_views SET options = options || '{"as_of": "1998-06-30"}' WHERE view_name = 'cdnow_tiers';
SELECT as_of::date, customers, round(fit_ms) AS fit_ms, round(refresh_ms) AS refresh_ms,
       round(history_ms) AS history_ms
FROM tiers.refresh_tier_view('cdnow_tiers');
SELECT customer, round(monetary_total) AS revenue, segment, class8, abc_class,
       round(p_alive::numeric, 2) AS p_alive, round(clv::numeric, 2) AS clv, previous_tier, tier, tags
FROM cdnow_tiers ORDER BY clv DESC LIMIT 5;
