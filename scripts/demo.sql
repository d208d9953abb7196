-- The demo: a full RFM analysis of the CDNOW purchase history, in plain SQL.
\pset footer off
\echo
\echo 'RFM segments of the 23,570 CDNOW customers (history to 1998-06-30, one model, one query)'
WITH summaries AS (
    SELECT customer_id, (tiers.customer_summary(ordered_on, amount, '1998-06-30')).*
    FROM cdnow_master
    GROUP BY customer_id
), scored AS (
    SELECT s.*, tiers.rfm_score(since_last, frequency, monetary_total,
                                tiers.rfm_model(since_last, frequency, monetary_total) OVER ()) AS rfm
    FROM summaries s
)
SELECT (rfm).segment                                         AS segment,
       count(*)                                              AS customers,
       round(100.0 * count(*) / sum(count(*)) OVER (), 1)    AS "% customers",
       round(avg(since_last))                                AS "days since last",
       round(avg(frequency + 1), 1)                          AS "purchase days",
       round(sum(monetary_total))                            AS revenue,
       round((100 * sum(monetary_total) / sum(sum(monetary_total)) OVER ())::numeric, 1) AS "% revenue"
FROM scored
GROUP BY 1
ORDER BY revenue DESC;

\echo
\echo '8-class RFM model (客户价值分类), split at the population means'
WITH summaries AS (
    SELECT customer_id, (tiers.customer_summary(ordered_on, amount, '1998-06-30')).*
    FROM cdnow_master
    GROUP BY customer_id
)
SELECT class8 AS "分类", class8_en AS class, count(*) AS customers,
       round(sum(monetary_total)) AS revenue
FROM (SELECT monetary_total,
             tiers.rfm_class8(since_last, frequency, monetary_total, m) AS class8,
             tiers.rfm_class8(since_last, frequency, monetary_total, m, 'en') AS class8_en
      FROM (SELECT *, tiers.rfm_model(since_last, frequency, monetary_total) OVER () AS m
            FROM summaries) s) t
GROUP BY 1, 2
ORDER BY revenue DESC;
