-- Tier views for BI tools (issue 16): tier_rank and segment_rank to sort by, one boolean column
-- per tag to filter on, exact money columns for numeric amounts, and alter_tier_view, which keeps
-- grants, comment, refresh records and history. Checked against independent SQL on CDNOW.
\set VERBOSITY terse
\i tests/sql/helpers.sql
\set ECHO none
\set QUIET on
\i tests/sql/load_cdnow.sql
\set QUIET off
\set ECHO all
SELECT tiers.define_tier_scheme('bi_club', '[{"tier": "Bronze", "entry": 0}, {"tier": "Silver", "entry": 50},
  {"tier": "Gold", "entry": 200}, {"tier": "Platinum", "entry": 1000}]');
SELECT tiers.create_tier_view('bi_tiers', 'cdnow_master', 'customer_id', 'ordered_on', 'amount',
  '{"as_of": "1998-06-30", "tier_scheme": "bi_club"}') AS view;

-- the new columns and their types (amount is numeric(10,2): the money columns are numeric)
SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, col_description(a.attrelid, a.attnum) AS comment
FROM pg_attribute a WHERE a.attrelid = 'bi_tiers'::regclass AND a.attnum > 0
  AND (a.attname IN ('monetary_total', 'recent_spend', 'earlier_spend', 'monetary', 'segment_rank', 'tier_rank')
       OR a.attname LIKE 'tag\_%')
ORDER BY a.attnum;

-- money: the exact decimal sums of the orders
SELECT count(*) AS customers, sum(monetary_total) AS revenue,
       (SELECT sum(amount) FROM cdnow_master) AS orders_revenue,
       count(*) FILTER (WHERE monetary_total <> o.total) AS mismatches
FROM bi_tiers v JOIN (SELECT customer_id, sum(amount) AS total FROM cdnow_master GROUP BY 1) o
  ON o.customer_id = v.customer;

-- tier_rank: 1 = the highest tier, from tiers.tier_levels; charts sort tiers by it
SELECT tier, tier_rank, count(*) AS customers FROM bi_tiers GROUP BY 1, 2 ORDER BY tier_rank;
SELECT count(*) AS tier_rank_mismatches FROM bi_tiers v JOIN tiers.tier_levels l ON l.scheme = 'bi_club' AND l.tier = v.tier
WHERE v.tier_rank <> (SELECT max(rank) FROM tiers.tier_levels WHERE scheme = 'bi_club') + 1 - l.rank;

-- segment_rank: the order of the rule set (first rule's priority), Others last
SELECT segment, segment_rank, count(*) AS customers FROM bi_tiers GROUP BY 1, 2 ORDER BY segment_rank;
SELECT count(*) AS segment_rank_mismatches FROM bi_tiers v
WHERE v.segment_rank IS DISTINCT FROM coalesce(
    (SELECT r.n FROM (SELECT segment, row_number() OVER (ORDER BY min(priority)) AS n
                      FROM tiers.rfm_segment_rules WHERE rule_set = 'standard' GROUP BY segment) r
     WHERE r.segment = v.segment),
    (SELECT count(DISTINCT segment) + 1 FROM tiers.rfm_segment_rules WHERE rule_set = 'standard'));

-- one boolean column per tag in force, equal to membership in tags: churn risk by tier, no SQL arrays
SELECT count(*) FILTER (WHERE tag_churn_risk IS DISTINCT FROM 'churn_risk' = ANY (tags)
                           OR tag_vip IS DISTINCT FROM 'vip' = ANY (tags)
                           OR tag_lost IS DISTINCT FROM 'lost' = ANY (tags)
                           OR tag_new IS DISTINCT FROM 'new' = ANY (tags)) AS tag_mismatches
FROM bi_tiers;
SELECT tier, count(*) AS churn_risk_customers FROM bi_tiers WHERE tag_churn_risk GROUP BY tier, tier_rank ORDER BY tier_rank;

-- the report: revenue as the exact sum, rounded once
SELECT grp, customers, revenue FROM tiers.tier_report('bi_tiers') WHERE dimension IN ('tier', 'all');

-- double precision amounts give double precision money columns
CREATE TABLE float_orders AS SELECT customer_id, ordered_on, amount::float8 AS amount FROM cdnow_master WHERE customer_id <= 500;
SELECT tiers.create_tier_view('bi_float', 'float_orders', 'customer_id', 'ordered_on', 'amount', '{"as_of": "1998-06-30"}') AS view;
SELECT format_type(atttypid, NULL) AS monetary_total_type FROM pg_attribute WHERE attrelid = 'bi_float'::regclass AND attname = 'monetary_total';
SELECT count(*) AS columns_without_comment FROM pg_attribute a
WHERE a.attrelid = 'bi_float'::regclass AND a.attnum > 0 AND col_description(a.attrelid, a.attnum) IS NULL;
SELECT tiers.drop_tier_view('bi_float');

-- alter_tier_view: new options, same grants, comment, refresh records and history
CREATE ROLE bi_reader;
GRANT SELECT ON bi_tiers TO bi_reader;
COMMENT ON MATERIALIZED VIEW bi_tiers IS 'Loyalty dashboard source (owner: CRM team)';
SELECT count(*) AS refreshes_before FROM tiers.tier_view_refreshes WHERE view_name = 'bi_tiers';
SELECT count(*) AS history_before FROM tiers.tier_history WHERE scheme = 'bi_club';
SELECT tiers.alter_tier_view('bi_tiers', '{"class8_lang": "en", "clv": true, "clv_horizon": "6 months"}') AS view;
SELECT options->>'class8_lang' AS class8_lang, options->>'clv' AS clv, options->>'clv_horizon' AS horizon,
       options->>'tier_scheme' AS scheme, options->>'as_of' AS as_of
FROM tiers.tier_views WHERE view_name = 'bi_tiers';
SELECT count(*) AS customers, count(clv) AS with_clv, min(class8) AS some_class8 FROM bi_tiers;
SELECT has_table_privilege('bi_reader', 'bi_tiers', 'SELECT') AS reader_keeps_select,
       has_table_privilege('bi_reader', 'bi_tiers', 'INSERT') AS reader_has_no_insert,
       obj_description('bi_tiers'::regclass, 'pg_class') AS comment;
SELECT count(*) AS refreshes_after FROM tiers.tier_view_refreshes WHERE view_name = 'bi_tiers';
SELECT count(*) AS history_after FROM tiers.tier_history WHERE scheme = 'bi_club';
SELECT col_description('bi_tiers'::regclass, (SELECT attnum FROM pg_attribute WHERE attrelid = 'bi_tiers'::regclass AND attname = 'clv')) AS clv_comment;
-- a null value resets an option to its default
SELECT tiers.alter_tier_view('bi_tiers', '{"clv": null, "clv_horizon": null}') IS NOT NULL AS altered;
SELECT options->>'clv' AS clv, options->>'clv_horizon' AS horizon FROM tiers.tier_views WHERE view_name = 'bi_tiers';
SELECT count(*) AS clv_columns FROM pg_attribute WHERE attrelid = 'bi_tiers'::regclass AND attname = 'clv';
-- errors change nothing
SELECT pg_temp.err($$SELECT tiers.alter_tier_view('bi_tiers', '{"bins": 4}')$$);
SELECT pg_temp.err($$SELECT tiers.alter_tier_view('bi_tiers', '{"schema": "other"}')$$);
SELECT pg_temp.err($$SELECT tiers.alter_tier_view('bi_tiers', '{"nonsense": 1}')$$);
SELECT pg_temp.err($$SELECT tiers.alter_tier_view('bi_tiers', NULL)$$);
SELECT pg_temp.err($$SELECT tiers.alter_tier_view('cdnow_master', '{}')$$);
CREATE VIEW bi_dependent AS SELECT customer FROM bi_tiers;
SELECT pg_temp.err($$SELECT tiers.alter_tier_view('bi_tiers', '{"class8_lang": "zh"}')$$);
DROP VIEW bi_dependent;
SET ROLE bi_reader;
SELECT pg_temp.err($$SELECT tiers.alter_tier_view('bi_tiers', '{"class8_lang": "zh"}')$$);
RESET ROLE;
SELECT options->>'class8_lang' AS class8_lang FROM tiers.tier_views WHERE view_name = 'bi_tiers';
SELECT has_table_privilege('bi_reader', 'bi_tiers', 'SELECT') AS reader_keeps_select;

SELECT tiers.drop_tier_view('bi_tiers');
DROP ROLE bi_reader;
DELETE FROM tiers.tier_history WHERE scheme = 'bi_club';
DELETE FROM tiers.tier_evaluations WHERE scheme = 'bi_club';
DELETE FROM tiers.tier_schemes WHERE scheme = 'bi_club';

-- one language setting: customer_tiers.language, when no lang is passed (unset: 8 classes in
-- Chinese, tags in English; an explicit lang wins; new tier views keep the language they got)
CREATE TEMP TABLE lang_s AS
SELECT customer_id, (tiers.customer_summary(ordered_on, amount, '1998-06-30')).*
FROM cdnow_master WHERE customer_id <= 200 GROUP BY customer_id;
CREATE TEMP TABLE lang_m AS SELECT tiers.rfm_model(since_last, frequency, monetary) AS m FROM lang_s;
CREATE FUNCTION pg_temp.labels() RETURNS TABLE (class8 text, tags text) LANGUAGE sql AS $$
    SELECT string_agg(DISTINCT tiers.rfm_class8(s.since_last, s.frequency, s.monetary, m.m), ', '),
           string_agg(DISTINCT t, ', ')
    FROM lang_s s CROSS JOIN lang_m m LEFT JOIN LATERAL unnest(tiers.customer_tags(s)) t ON true
    WHERE s.customer_id IN (1, 2, 3, 4, 5) $$;
SELECT * FROM pg_temp.labels();
SET customer_tiers.language = 'en';
SELECT * FROM pg_temp.labels();
SELECT tiers.rfm_class8(1, 5, 100, m, 'zh') AS explicit_lang_wins FROM lang_m;
SELECT tiers.tier_view_options('{}')->>'class8_lang' AS new_view_lang;
SET customer_tiers.language = 'zh';
SELECT * FROM pg_temp.labels();
SELECT tiers.tier_view_options('{}')->>'class8_lang' AS new_view_lang;
-- a real setting: another value is refused when it is set, and the functions keep the last one
SELECT pg_temp.err($$SET customer_tiers.language = 'fr'$$);
SELECT current_setting('customer_tiers.language') AS still;
-- lang => NULL is the setting, like leaving lang out
SELECT tiers.rfm_class8(1, 5, 100, m, NULL) = tiers.rfm_class8(1, 5, 100, m) AS null_is_default FROM lang_m;
RESET customer_tiers.language;
SELECT * FROM pg_temp.labels();
