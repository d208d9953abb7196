-- K-means (issue 14): tiers.kmeans_model, kmeans_choose_k, kmeans_assign, kmeans_label, stored
-- models in tier views, and tier_report's repeat and active rates. Checked against
-- scikit-learn 1.9.1 on the CDNOW sample's RFM vectors (the Python is next to the literals; the
-- same figures are in core/src/kmeans.rs) and against plain SQL over the model's own fields.
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
\i tests/sql/helpers.sql
\set ECHO none
\set QUIET on
\i tests/sql/load_cdnow.sql
\set QUIET off
\set ECHO all

-- the CDNOW sample (2,357 customers) as of 1998-06-30: (since_last days, frequency, monetary)
CREATE TEMP TABLE f AS
SELECT customer_id, ARRAY[s.since_last, s.frequency, s.monetary] AS x
FROM (SELECT customer_id, (tiers.customer_summary(ordered_on, amount, '1998-06-30'::date, '1 day')).*
      FROM cdnow_sample GROUP BY customer_id) s;

-- X = the rows above; Z = StandardScaler().fit_transform(X)
-- for k in range(3, 7): KMeans(n_clusters=k, n_init=10, random_state=0).fit(Z).inertia_
--   3: 2478.101125122651  4: 1749.8022083909195  5: 1393.1203060102098  6: 1134.4565703551857
-- our best of 10 restarts is within 0.1 % of scikit-learn's best of 10, or better
SELECT c.k, c.inertia <= s.inertia * 1.001 AS within_0_1_percent, c.inertia >= s.inertia * 0.99 AS plausible,
       c.silhouette BETWEEN -1 AND 1 AS silhouette_range, c.davies_bouldin > 0 AS db_positive
FROM (SELECT (unnest(tiers.kmeans_choose_k(x, 3, 6))).* FROM f) c
JOIN (VALUES (3, 2478.101125122651), (4, 1749.8022083909195), (5, 1393.1203060102098),
             (6, 1134.4565703551857)) AS s(k, inertia) ON s.k = c.k
ORDER BY c.k;
-- k = 5 finds scikit-learn's partition: np.bincount(labels) = [1302, 65, 543, 387, 60],
-- silhouette_score(Z, labels) = 0.6057603775025194, davies_bouldin_score = 0.8080162624746008
CREATE TEMP TABLE m5 AS SELECT tiers.kmeans_model(x, 5) AS m FROM f;
SELECT (m).k, (m).dimensions, (m).n, (m).distinct_points, (m).sizes, (m).standardized, (m).log1p,
       (m).converged, (m).silhouette_exact, pg_temp.near((m).inertia, 1393.1203060102098, 1e-9) AS inertia,
       pg_temp.near((m).silhouette, 0.6057603775025194) AS silhouette,
       pg_temp.near((m).davies_bouldin, 0.8080162624746008) AS davies_bouldin,
       array_dims((m).centroids) AS centroid_dims
FROM m5;
-- the standardization: population means and standard deviations of the features
SELECT pg_temp.near((m).means[1], avg(x[1])) AND pg_temp.near((m).means[2], avg(x[2]))
       AND pg_temp.near((m).means[3], avg(x[3])) AS means,
       pg_temp.near((m).sds[1], stddev_pop(x[1])) AND pg_temp.near((m).sds[2], stddev_pop(x[2]))
       AND pg_temp.near((m).sds[3], stddev_pop(x[3])) AS sds
FROM f, m5 GROUP BY m5.m;
-- every customer's nearest centroid (kmeans_assign) gives the model's sizes; the squared
-- standardized distances to those centroids add up to the inertia. With "tol": 0 Lloyd stops only
-- when no label changes, so the model is a fixed point: each cluster's mean row is its centroid
-- in original units (with the default tol, as in scikit-learn, the centroids are those of the
-- last update and may differ slightly from the means of the final labels).
WITH a AS (SELECT f.x, tiers.kmeans_assign(f.x, m5.m) AS c FROM f, m5)
SELECT c, count(*) = (SELECT (m).sizes[c] FROM m5) AS size FROM a GROUP BY c ORDER BY c;
CREATE TEMP TABLE strict AS SELECT tiers.kmeans_model(x, 5, '{"tol": 0}') AS m FROM f;
WITH a AS (SELECT f.x, tiers.kmeans_assign(f.x, strict.m) AS c FROM f, strict)
SELECT c, min(n) = (SELECT (m).sizes[c] FROM strict) AS size,
       bool_and(pg_temp.near(avg, (SELECT (m).centroids[c][j] FROM strict), 1e-9)) AS centroid_is_mean
FROM (SELECT a.c, j, avg(a.x[j]) AS avg, count(*) AS n FROM a, generate_series(1, 3) j GROUP BY a.c, j) per
GROUP BY c ORDER BY c;
SELECT pg_temp.near(sum(d), (SELECT (m).inertia FROM m5)) AS inertia_from_rows
FROM (SELECT (SELECT sum((((f.x[j] - (m).means[j]) / (m).sds[j]) - (m).scaled_centroids[tiers.kmeans_assign(f.x, m)][j]) ^ 2)
              FROM generate_series(1, 3) j) AS d
      FROM f, m5) s;
-- clusters are numbered by size, and the model does not depend on the order of the rows
SELECT (SELECT tiers.kmeans_model(x, 5) FROM (SELECT x FROM f ORDER BY md5(customer_id::text)) o)::text
       = (SELECT m::text FROM m5) AS order_independent;
-- another seed may find another local optimum, but the same seed gives the same model
SELECT (SELECT tiers.kmeans_model(x, 4, '{"seed": 42, "n_init": 3}') FROM f)::text
       = (SELECT tiers.kmeans_model(x, 4, '{"seed": 42, "n_init": 3}') FROM f)::text AS same_seed_same_model;

-- 8-class names of an RFM model's clusters: recent = since_last below the population mean, ...
SELECT c, tiers.kmeans_label(m, c, 'en') AS en, tiers.kmeans_label(m, c, 'zh') AS zh,
       ((m).scaled_centroids[c][1] < 0) AS recent, ((m).scaled_centroids[c][2] > 0) AS frequent,
       ((m).scaled_centroids[c][3] > 0) AS high_value
FROM m5, generate_series(1, 5) c ORDER BY c;
SET customer_tiers.language = 'en';
SELECT tiers.kmeans_label(m, 1) AS default_follows_setting FROM m5;
RESET customer_tiers.language;

-- options: log1p on every feature, no standardization, silhouette on a sample
SELECT (m).log1p, (m).standardized, (m).silhouette_exact, (m).k,
       pg_temp.near((m).means[2], (SELECT avg(ln(1 + x[2])) FROM f)) AS log_mean,
       (m).sds = '{1,1,1}' AS unit_sds
FROM (SELECT tiers.kmeans_model(x, 3, '{"log1p": true, "scale": "none", "silhouette_sample": 500}') AS m FROM f) s;
SELECT (m).log1p, (m).silhouette IS NULL AS no_silhouette
FROM (SELECT tiers.kmeans_model(x, 3, '{"log1p": [false, true, true], "silhouette_sample": 0}') AS m FROM f) s;
-- per group (GROUP BY), NULL rows skipped, no rows: NULL
SELECT customer_id % 2 AS half, (tiers.kmeans_model(x, 3)).n FROM f GROUP BY 1 ORDER BY 1;
SELECT (tiers.kmeans_model(CASE WHEN customer_id % 2 = 0 THEN x END, 3)).n AS non_null_rows FROM f;
SELECT tiers.kmeans_model(x, 3) IS NULL AS no_rows FROM f WHERE false;
SELECT tiers.kmeans_choose_k(x, 2, 3) IS NULL AS no_rows FROM f WHERE false;

-- errors
SELECT pg_temp.err($$SELECT tiers.kmeans_model(x, 1) FROM f$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_model(x, 51) FROM f$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_model(x, NULL) FROM f$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_model(x, (customer_id % 2) + 2) FROM f$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_model(ARRAY[1, 2]::float8[], 3) FROM generate_series(1, 5)$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_model(ARRAY[g, NULL]::float8[], 2) FROM generate_series(1, 5) g$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_model(ARRAY[g, 'NaN']::float8[], 2) FROM generate_series(1, 5) g$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_model(CASE WHEN g = 3 THEN ARRAY[g] ELSE ARRAY[g, g] END::float8[], 2) FROM generate_series(1, 5) g$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_model('{}'::float8[], 2) FROM generate_series(1, 5) g$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_model(array_fill(1::float8, ARRAY[17]), 2) FROM generate_series(1, 5) g$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_model(x, 3, '{"seeds": 1}') FROM f$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_model(x, 3, '{"n_init": 0}') FROM f$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_model(x, 3, '{"n_init": 1.5}') FROM f$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_model(x, 3, '{"scale": "minmax"}') FROM f$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_model(x, 3, '{"tol": -1}') FROM f$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_model(x, 3, '{"silhouette_sample": 1}') FROM f$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_model(x, 3, '{"log1p": [true]}') FROM f$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_model(x, 3, '{"log1p": "yes"}') FROM f$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_model(x, 3, '[1]') FROM f$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_model(ARRAY[g - 3]::float8[], 2, '{"log1p": true}') FROM generate_series(1, 5) g$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_model(x, 3, CASE WHEN customer_id = 1 THEN '{"seed": 1}'::jsonb END) FROM f$$);
-- k above the number of distinct rows: 22003
SELECT pg_temp.err($$SELECT tiers.kmeans_model(ARRAY[g % 2]::float8[], 3) FROM generate_series(1, 10) g$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_choose_k(x, 5, 3) FROM f$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_choose_k(x, 2, NULL) FROM f$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_assign(ARRAY[1, 2]::float8[], m) FROM m5$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_assign(ARRAY[1, NULL, 2]::float8[], m) FROM m5$$);
SELECT tiers.kmeans_assign(NULL, m) IS NULL AS null_features FROM m5;
SELECT pg_temp.err($$SELECT tiers.kmeans_label(m, 0) FROM m5$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_label(m, 6) FROM m5$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_label(m, 1, 'fr') FROM m5$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_label(tiers.kmeans_model(ARRAY[x[1], x[2]], 2), 1) FROM f$$);
-- a damaged model (hand-edited values) is an error, not a crash or a silent answer
SELECT pg_temp.err($$SELECT tiers.kmeans_assign(x, ROW((m).k, (m).dimensions, (m).n, (m).distinct_points, (m).centroids, (m).scaled_centroids, (m).standardized, (m).log1p, (m).means, '{1,-1,1}', (m).inertia, (m).iterations, (m).converged, (m).sizes, (m).silhouette, (m).silhouette_exact, (m).davies_bouldin)::tiers.kmeans_model) FROM f, m5 LIMIT 1$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_assign(x, ROW(9, (m).dimensions, (m).n, (m).distinct_points, (m).centroids, (m).scaled_centroids, (m).standardized, (m).log1p, (m).means, (m).sds, (m).inertia, (m).iterations, (m).converged, (m).sizes, (m).silhouette, (m).silhouette_exact, (m).davies_bouldin)::tiers.kmeans_model) FROM f, m5 LIMIT 1$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_assign(x, ROW((m).k, (m).dimensions, (m).n, (m).distinct_points, (m).centroids, NULL, (m).standardized, (m).log1p, (m).means, (m).sds, (m).inertia, (m).iterations, (m).converged, (m).sizes, (m).silhouette, (m).silhouette_exact, (m).davies_bouldin)::tiers.kmeans_model) FROM f, m5 LIMIT 1$$);
-- a model whose sizes do not have one count per cluster is not a model (22023)
SELECT pg_temp.err($$SELECT tiers.kmeans_assign(x, ROW((m).k, (m).dimensions, (m).n, (m).distinct_points, (m).centroids, (m).scaled_centroids, (m).standardized, (m).log1p, (m).means, (m).sds, (m).inertia, (m).iterations, (m).converged, (m).sizes[1:2], (m).silhouette, (m).silhouette_exact, (m).davies_bouldin)::tiers.kmeans_model) FROM f, m5 LIMIT 1$$);
-- features are a list: a matrix is 2202E (it was read flat: {{1,2},{3,4}} as four features);
-- a row sliced from the centroids (PostgreSQL keeps its two dimensions) is a list
SELECT pg_temp.err($$SELECT tiers.kmeans_assign('{{1, 2, 3}, {3, 4, 5}}'::float8[], m) FROM m5$$),
       pg_temp.err($$SELECT tiers.kmeans_model(f, 2) FROM (VALUES ('{{1, 2}, {3, 4}}'::float8[]), ('{{3, 4}, {5, 6}}'::float8[])) t(f)$$);
SELECT array_agg(tiers.kmeans_assign((m).centroids[c:c][:], m) ORDER BY c) AS own_centroids FROM m5, generate_series(1, 5) c;
-- a damaged state: 22P03
SELECT pg_temp.err($$SELECT tiers.kmeans_model_final('\x4d01'::bytea)$$);

-- stored models and tier views
SELECT tiers.save_kmeans_model('rfm5', m, '{since_last,frequency,monetary}', 'CDNOW sample, 1998-06-30') FROM m5;
SELECT name, features, (model).k, description FROM tiers.kmeans_models;
SELECT pg_temp.err($$SELECT tiers.save_kmeans_model('x', m, '{since_last,frequency}') FROM m5$$);
SELECT pg_temp.err($$SELECT tiers.save_kmeans_model('x', m, '{since_last,frequency,"customer; drop table f"}') FROM m5$$);
SELECT pg_temp.err($$SELECT tiers.save_kmeans_model(' ', m, '{since_last,frequency,monetary}') FROM m5$$);
SELECT pg_temp.err($$SELECT tiers.save_kmeans_model(NULL, m, '{since_last,frequency,monetary}') FROM m5$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('kv', 'cdnow_sample', 'customer_id', 'ordered_on', 'amount', '{"kmeans_model": "nope"}')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('kv', 'cdnow_sample', 'customer_id', 'ordered_on', 'amount', '{"kmeans_model": 5}')$$);
SELECT tiers.create_tier_view('kv', 'cdnow_sample', 'customer_id', 'ordered_on', 'amount',
    '{"as_of": "1998-06-30", "kmeans_model": "rfm5", "class8_lang": "en"}');
-- the view's cluster is the stored model's assignment of the view's own columns
SELECT count(*) AS customers, bool_and(v.cluster = tiers.kmeans_assign(f.x, m5.m)) AS same_clusters,
       bool_and(v.cluster_label = tiers.kmeans_label(m5.m, v.cluster, 'en')) AS same_labels
FROM kv v JOIN f ON f.customer_id = v.customer, m5;
SELECT col_description('kv'::regclass, a.attnum) FROM pg_attribute a
WHERE a.attrelid = 'kv'::regclass AND a.attname IN ('cluster', 'cluster_label') ORDER BY a.attnum;
-- tier_report: a cluster dimension; repeat and active rates against plain SQL over the orders
SELECT r.grp, r.customers = (SELECT (m).sizes[left(r.grp, 1)::int] FROM m5) AS size
FROM tiers.tier_report('kv') r WHERE r.dimension = 'cluster' ORDER BY r.grp;
WITH o AS (SELECT customer_id, count(DISTINCT ordered_on) AS days, max(ordered_on) AS last
           FROM cdnow_sample WHERE ordered_on <= '1998-06-30' GROUP BY 1),
plain AS (SELECT v.segment AS grp, avg((o.days >= 2)::int)::float8 AS repeat_rate,
                 avg((o.last > date '1998-06-30' - 90)::int)::float8 AS active_rate
          FROM kv v JOIN o ON o.customer_id = v.customer GROUP BY v.segment
          UNION ALL
          SELECT 'all', avg((o.days >= 2)::int), avg((o.last > date '1998-06-30' - 90)::int) FROM o)
SELECT r.dimension, r.grp, pg_temp.near(r.repeat_rate, p.repeat_rate) AS repeat_rate,
       pg_temp.near(r.active_rate, p.active_rate) AS active_rate
FROM tiers.tier_report('kv') r JOIN plain p ON p.grp = r.grp AND r.dimension IN ('segment', 'all')
ORDER BY r.dimension, r.grp;
-- a customer with only returns (NULL features) gets no cluster, and the view builds; tier_report
-- counts it as a customer who neither repeats nor is active (plain SQL over the orders)
CREATE TABLE kv_orders AS SELECT customer_id, ordered_on, amount FROM cdnow_sample
UNION ALL SELECT -1, date '1998-05-01', -20;
-- and one whose returns exceed its purchases (monetary -90): a model taking log1p of monetary
-- cannot place it (kmeans_assign raises 22023 for a negative log1p feature)
INSERT INTO kv_orders VALUES (-2, '1998-01-05', 10), (-2, '1998-02-05', 10), (-2, '1998-03-01', -100);
SELECT tiers.save_kmeans_model('rfm_log', tiers.kmeans_model(x, 3, '{"log1p": [false, false, true]}'), '{since_last,frequency,monetary}') IS NOT NULL AS saved FROM f;
SELECT tiers.create_tier_view('kv_log', 'kv_orders', 'customer_id', 'ordered_on', 'amount',
    '{"as_of": "1998-06-30", "kmeans_model": "rfm_log", "class8_lang": "en"}') IS NOT NULL AS created;
SELECT customer, frequency, monetary, cluster, cluster_label FROM kv_log WHERE customer < 0 ORDER BY customer;
SELECT count(*) AS customers, count(cluster) AS with_cluster FROM kv_log;
SELECT tiers.drop_tier_view('kv_log');
DELETE FROM tiers.kmeans_models WHERE name = 'rfm_log';
SELECT tiers.create_tier_view('kv_ret', 'kv_orders', 'customer_id', 'ordered_on', 'amount',
    '{"as_of": "1998-06-30", "kmeans_model": "rfm5", "class8_lang": "en"}') IS NOT NULL AS created;
SELECT customer, frequency, monetary_total, cluster, cluster_label FROM kv_ret WHERE customer < 0 ORDER BY customer;
SELECT count(*) AS customers, count(*) FILTER (WHERE v.cluster IS DISTINCT FROM k.cluster
                                                  OR v.cluster_label IS DISTINCT FROM k.cluster_label) AS other_clusters
FROM kv_ret v JOIN kv k USING (customer);
WITH o AS (SELECT customer_id, count(DISTINCT ordered_on) FILTER (WHERE amount >= 0) AS days,
                  max(ordered_on) FILTER (WHERE amount >= 0) AS last
           FROM kv_orders WHERE ordered_on <= '1998-06-30' GROUP BY 1)
SELECT r.customers = (SELECT count(*) FROM o) AS all_customers,
       pg_temp.near(r.repeat_rate, (SELECT avg((days >= 2)::int) FROM o)) AS repeat_rate,
       pg_temp.near(r.active_rate, (SELECT avg(coalesce(last > date '1998-06-30' - 90, false)::int) FROM o)) AS active_rate
FROM tiers.tier_report('kv_ret') r WHERE r.dimension = 'all';
SELECT tiers.drop_tier_view('kv_ret');
DROP TABLE kv_orders;
-- a stored model replaced with other features: the refresh refuses, alter_tier_view follows it
SELECT tiers.save_kmeans_model('rfm5', tiers.kmeans_model(ARRAY[x[1], x[2]], 3), '{since_last,frequency}') FROM f;
SELECT pg_temp.err($$SELECT tiers.refresh_tier_view('kv')$$);
SELECT tiers.alter_tier_view('kv', '{}');
SELECT count(*) FILTER (WHERE a.attname = 'cluster') AS cluster, count(*) FILTER (WHERE a.attname = 'cluster_label') AS label
FROM pg_attribute a WHERE a.attrelid = 'kv'::regclass;
SELECT max(cluster) AS clusters FROM kv;
DELETE FROM tiers.kmeans_models;
SELECT pg_temp.err($$SELECT tiers.refresh_tier_view('kv')$$);
SELECT tiers.drop_tier_view('kv');

-- features whose variance or distances overflow double precision: 22003, never Infinity or NaN
SELECT pg_temp.err($$SELECT tiers.kmeans_model(f, 2) FROM (VALUES (array[1e200]), (array[-1e200]), (array[0.0]), (array[1.0])) t(f)$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_model(f, 2, '{"scale": "none"}') FROM (VALUES (array[1e200]), (array[-1e200]), (array[0.0]), (array[1.0])) t(f)$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_choose_k(f, 2, 3) FROM (VALUES (array[1e200]), (array[-1e200]), (array[0.0]), (array[1.0])) t(f)$$);
SELECT pg_temp.err($$SELECT tiers.kmeans_assign(array[-1e300, 1e300]::float8[], m) FROM (SELECT tiers.kmeans_model(f, 2) AS m FROM (VALUES (array[0, 0]::float8[]), (array[1, 0]::float8[]), (array[10, 10]::float8[]), (array[11, 10]::float8[])) t(f)) x$$);
