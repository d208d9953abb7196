-- Distributed versus single-node answers, on the coordinator of the test cluster (setup.sql has
-- loaded every table twice: *_local and *_dist). Each check runs one query against both copies
-- ({T} is replaced by local, then dist) and compares the two jsonb answers with close().
-- A failing check raises an error naming it; the last line counts the checks.
SET client_min_messages = warning;
CREATE TEMP TABLE checks (name text, query text);
INSERT INTO checks VALUES
-- per-customer summaries: computed where the orders are (GROUP BY the distribution column)
('customer_summary CDNOW', $q$SELECT jsonb_build_object('n', count(*), 'md5', md5(string_agg(s::text, ';' ORDER BY customer_id))) FROM s_cdnow_{T} s$q$),
('customer_summary synthetic', $q$SELECT jsonb_build_object('n', count(*), 'md5', md5(string_agg(s::text, ';' ORDER BY customer_id))) FROM s_synth_{T} s$q$),
('customer_summary straight from the orders', $q$SELECT jsonb_build_object('md5', md5(string_agg(x::text, ';' ORDER BY c))) FROM (SELECT customer_id AS c, tiers.customer_summary(ordered_on, amount, date '1998-06-30') AS x FROM cdnow_{T} GROUP BY customer_id) z$q$),
-- population aggregates over distributed summaries
('rfm_model', $q$SELECT to_jsonb(tiers.rfm_model(since_last, frequency, monetary)) FROM s_cdnow_{T}$q$),
('rfm_model bins 4', $q$SELECT to_jsonb(tiers.rfm_model(since_last, frequency, monetary, 4)) FROM s_synth_{T}$q$),
('abc_model', $q$SELECT to_jsonb(tiers.abc_model(monetary_total)) FROM s_cdnow_{T}$q$),
('abc_model cuts', $q$SELECT to_jsonb(tiers.abc_model(monetary_total, 0.7, 0.9)) FROM s_synth_{T}$q$),
('abc_model convention', $q$SELECT to_jsonb(tiers.abc_model(monetary_total, 0.8, 0.95, 'before')) FROM s_cdnow_{T}$q$),
('abc_model convention only', $q$SELECT to_jsonb(tiers.abc_model(monetary_total, 'before')) FROM s_cdnow_{T}$q$),
('pareto', $q$SELECT to_jsonb(tiers.pareto(monetary_total)) FROM s_synth_{T}$q$),
('pareto_curve', $q$SELECT to_jsonb(tiers.pareto_curve(monetary_total)) FROM s_cdnow_{T}$q$),
('pareto_curve points', $q$SELECT to_jsonb(tiers.pareto_curve(monetary_total, 11)) FROM s_synth_{T}$q$),
('bgnbd_fit', $q$SELECT to_jsonb(tiers.bgnbd_fit(frequency, recency, tenure)) FROM s_cdnow_{T}$q$),
('bgnbd_fit weight', $q$SELECT to_jsonb(tiers.bgnbd_fit(frequency, recency, tenure, 1 + customer_id % 2)) FROM s_cdnow_{T}$q$),
('bgnbd_fit penalizer', $q$SELECT to_jsonb(tiers.bgnbd_fit(frequency, recency, tenure, 1, 0.01)) FROM s_synth_{T}$q$),
('mbgnbd_fit', $q$SELECT to_jsonb(tiers.mbgnbd_fit(frequency, recency, tenure)) FROM s_cdnow_{T}$q$),
('paretonbd_fit', $q$SELECT to_jsonb(tiers.paretonbd_fit(frequency, recency, tenure)) FROM s_cdnow_{T}$q$),
('gamma_gamma_fit', $q$SELECT to_jsonb(tiers.gamma_gamma_fit(frequency, monetary)) FROM s_cdnow_{T} WHERE frequency > 0$q$),
('gamma_gamma_fit weight', $q$SELECT to_jsonb(tiers.gamma_gamma_fit(frequency, monetary, 1)) FROM s_synth_{T} WHERE frequency > 0$q$),
('gamma_gamma_fit penalizer', $q$SELECT to_jsonb(tiers.gamma_gamma_fit(frequency, monetary, 1, 0.1)) FROM s_cdnow_{T} WHERE frequency > 0$q$),
-- judging a tiering (issue 14): an A/B readout and NPS, partial on the workers
('ab_test', $q$SELECT to_jsonb(tiers.ab_test(tiers.ab_assign(customer_id::text, 'citus', '{0.5, 0.5}'), frequency::float8)) FROM s_cdnow_{T}$q$),
('ab_test per group with control', $q$SELECT jsonb_agg(to_jsonb(t) ORDER BY g) FROM (SELECT customer_id % 3 AS g, tiers.ab_test(tiers.ab_assign(customer_id::text, 'citus', '{1, 1, 2}'), (frequency > 0)::int, 'C') AS t FROM s_synth_{T} GROUP BY 1) z$q$),
('nps', $q$SELECT to_jsonb(tiers.nps((customer_id % 11)::int)) FROM s_synth_{T}$q$),
-- K-means: the rows are fitted in a canonical order, so the workers' partial states give the model
('kmeans_model', $q$SELECT to_jsonb(tiers.kmeans_model(ARRAY[since_last, frequency, monetary], 4)) FROM s_cdnow_{T}$q$),
('kmeans_model options per group', $q$SELECT jsonb_agg(to_jsonb(m) ORDER BY g) FROM (SELECT customer_id % 2 AS g, tiers.kmeans_model(ARRAY[since_last, frequency, monetary], 3, '{"log1p": [false, true, false], "seed": 7, "n_init": 3}') AS m FROM s_synth_{T} GROUP BY 1) z$q$),
('kmeans_choose_k', $q$SELECT to_jsonb(tiers.kmeans_choose_k(ARRAY[since_last, frequency, monetary], 2, 4)) FROM s_cdnow_{T}$q$),
('kmeans clusters per customer', $q$WITH m AS (SELECT tiers.kmeans_model(ARRAY[since_last, frequency, monetary], 4) AS m FROM s_cdnow_{T})
   SELECT jsonb_build_object('md5', md5(string_agg(concat_ws('|', customer_id, tiers.kmeans_assign(ARRAY[since_last, frequency, monetary], m.m),
       tiers.kmeans_label(m.m, tiers.kmeans_assign(ARRAY[since_last, frequency, monetary], m.m), 'en')), ';' ORDER BY customer_id)))
   FROM s_cdnow_{T}, m$q$),
-- grouped population aggregates (a group per shard key bucket and across shards)
('rfm_model per group', $q$SELECT jsonb_agg(to_jsonb(m) ORDER BY g) FROM (SELECT customer_id % 3 AS g, tiers.rfm_model(since_last, frequency, monetary) AS m FROM s_cdnow_{T} GROUP BY 1) z$q$),
-- scoring per customer with models computed over the distributed population (the model is
-- computed first, then shipped with the per-row query)
('rfm scores and segments', $q$WITH m AS (SELECT tiers.rfm_model(since_last, frequency, monetary) AS m FROM s_cdnow_{T})
   SELECT jsonb_build_object('md5', md5(string_agg(concat_ws('|', customer_id, (tiers.rfm_score(since_last, frequency, monetary, m.m))::text,
       tiers.rfm_class8(since_last, frequency, monetary, m.m), tiers.rfm_class8(since_last, frequency, monetary, m.m, 'en')), ';' ORDER BY customer_id)))
   FROM s_cdnow_{T}, m$q$),
('rfm segment by rule set', $q$SELECT jsonb_build_object('md5', md5(string_agg(concat_ws('|', customer_id, tiers.rfm_segment((customer_id % 5 + 1)::int, (frequency % 5 + 1)::int, 3, 'citus_rules')), ';' ORDER BY customer_id))) FROM s_cdnow_{T}$q$),
('abc classes', $q$WITH m AS (SELECT tiers.abc_model(monetary_total) AS m FROM s_cdnow_{T})
   SELECT jsonb_build_object('md5', md5(string_agg(concat_ws('|', customer_id, tiers.abc_class(monetary_total, m.m)), ';' ORDER BY customer_id))) FROM s_cdnow_{T}, m$q$),
('clv per customer', $q$WITH bg AS (SELECT tiers.bgnbd_fit(frequency, recency, tenure) AS b FROM s_cdnow_{T}),
        gg AS (SELECT tiers.gamma_gamma_fit(frequency, monetary) AS g FROM s_cdnow_{T} WHERE frequency > 0)
   SELECT jsonb_build_object('p_alive', sum(tiers.p_alive(bg.b, frequency, recency, tenure)),
                             'clv', sum(tiers.clv_estimate(bg.b, gg.g, frequency, recency, tenure, monetary, interval '12 months', 0.01, interval '7 days')))
   FROM s_cdnow_{T}, bg, gg$q$),
('CLV model predictions per customer', $q$WITH bg AS (SELECT tiers.bgnbd_fit(frequency, recency, tenure) AS b, tiers.mbgnbd_fit(frequency, recency, tenure) AS mb,
                tiers.paretonbd_fit(frequency, recency, tenure) AS pn FROM s_cdnow_{T}),
        gg AS (SELECT tiers.gamma_gamma_fit(frequency, monetary) AS g FROM s_cdnow_{T} WHERE frequency > 0)
   SELECT jsonb_build_object('bg', sum(tiers.expected_purchases(bg.b, 52, frequency, recency, tenure)),
                             'mbg_alive', sum(tiers.p_alive(bg.mb, frequency, recency, tenure)),
                             'mbg', sum(tiers.expected_purchases(bg.mb, 52, frequency, recency, tenure)),
                             'pnbd_alive', sum(tiers.p_alive(bg.pn, frequency, recency, tenure)),
                             'pnbd', sum(tiers.expected_purchases(bg.pn, 52, frequency, recency, tenure)),
                             'new', min(tiers.expected_purchases(bg.b, 52)),
                             'spend', sum(tiers.expected_spend(gg.g, frequency, monetary)))
   FROM s_cdnow_{T}, bg, gg$q$),
('tier_of with the previous tier', $q$SELECT jsonb_object_agg(t, n) FROM (SELECT tiers.tier_of(monetary_total, 'citus_loyalty', CASE WHEN customer_id % 3 = 0 THEN 'Gold' END) AS t, count(*) AS n FROM s_cdnow_{T} GROUP BY 1) z$q$),
('tier_of with a scheme', $q$SELECT jsonb_object_agg(t, n) FROM (SELECT tiers.tier_of(monetary_total, 'citus_loyalty') AS t, count(*) AS n FROM s_cdnow_{T} GROUP BY 1) z$q$),
('tier_of inline', $q$SELECT jsonb_object_agg(t, n) FROM (SELECT tiers.tier_of(monetary_total, '{0,100,500}'::float8[], '{Bronze,Silver,Gold}'::text[]) AS t, count(*) AS n FROM s_cdnow_{T} GROUP BY 1) z$q$),
('customer_tags', $q$SELECT jsonb_object_agg(coalesce(t, '-'), n) FROM (SELECT unnest(tiers.customer_tags(s)) AS t, count(*) AS n FROM s_cdnow_{T} s GROUP BY 1) z$q$),
('customer_tags zh', $q$SELECT jsonb_object_agg(coalesce(t, '-'), n) FROM (SELECT unnest(tiers.customer_tags(s, NULL, 'zh')) AS t, count(*) AS n FROM s_cdnow_{T} s GROUP BY 1) z$q$);

DO $$
DECLARE
    c record;
    a jsonb;
    b jsonb;
BEGIN
    FOR c IN SELECT * FROM checks LOOP
        EXECUTE replace(c.query, '{T}', 'local') INTO a;
        EXECUTE replace(c.query, '{T}', 'dist') INTO b;
        IF a IS NULL OR a IN ('null', '{}', '[]') THEN
            RAISE EXCEPTION 'check "%": empty single-node answer %', c.name, a;
        END IF;
        IF NOT close(a, b) THEN
            RAISE EXCEPTION 'check "%": distributed answer differs from single-node', c.name
                USING DETAIL = format('single node: %s / distributed: %s', left(a::text, 600), left(b::text, 600));
        END IF;
    END LOOP;
END $$;
SELECT 'ok: ' || count(*) || ' distributed answers equal the single-node answers (aggregates, scores, tiers, tags; CDNOW and 1M synthetic orders)' FROM checks;
