-- The demo, last part: the per-tier report a manager reads (plain SQL for BI tools).
\pset footer off
\echo
\echo 'tiers.tier_report(''cdnow_tiers''): per tier, with the moves of the last evaluation'
SELECT grp AS tier, customers, round((100 * customer_share)::numeric, 1) AS "% customers",
       round(revenue::numeric) AS revenue, round((100 * revenue_share)::numeric, 1) AS "% revenue",
       round(avg_clv::numeric, 2) AS avg_clv, round(avg_since_last::numeric) AS avg_days_since_last,
       upgrades, downgrades, new, lost
FROM tiers.tier_report('cdnow_tiers') WHERE dimension = 'tier';
\echo
\echo 'per ABC class'
SELECT grp AS abc_class, customers, round((100 * customer_share)::numeric, 1) AS "% customers",
       round(revenue::numeric) AS revenue, round((100 * revenue_share)::numeric, 1) AS "% revenue",
       round(avg_clv::numeric, 2) AS avg_clv
FROM tiers.tier_report('cdnow_tiers') WHERE dimension IN ('abc_class', 'all');
