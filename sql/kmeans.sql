-- K-means segments (src/kmeans.rs, core/src/kmeans.rs).

-- K-means (issue 14): tiers.kmeans_model, tiers.kmeans_choose_k and stored models
CREATE TYPE tiers.kmeans_model AS (
    k                integer,
    dimensions       integer,
    n                bigint,
    distinct_points  bigint,
    centroids        double precision[],
    scaled_centroids double precision[],
    standardized     boolean,
    log1p            boolean[],
    means            double precision[],
    sds              double precision[],
    inertia          double precision,
    iterations       integer,
    converged        boolean,
    sizes            bigint[],
    silhouette       double precision,
    silhouette_exact boolean,
    davies_bouldin   double precision
);
COMMENT ON TYPE tiers.kmeans_model IS
    'A K-means model (tiers.kmeans_model aggregate). Clusters are numbered 1..k by decreasing size: sizes[c] rows, centroid centroids[c][1:] in the original units (for a log1p feature, expm1 of the mean log), scaled_centroids[c][1:] in the space the clustering used. dimensions features per row; n rows, distinct_points distinct scaled rows; standardized: features were standardized with the population means and sds (ddof 0) after ln(1 + x) for the log1p features; inertia = sum of squared distances to the nearest centroid (scaled space); iterations and converged of the kept restart; silhouette (NULL when undefined) on every row when silhouette_exact, else on a fixed-seed sample; Davies-Bouldin index.';
CREATE TYPE tiers.kmeans_choice AS (
    k              integer,
    inertia        double precision,
    silhouette     double precision,
    davies_bouldin double precision
);
COMMENT ON TYPE tiers.kmeans_choice IS
    'One k of tiers.kmeans_choose_k: the inertia (for an elbow chart), silhouette (higher is better; NULL when undefined) and Davies-Bouldin index (lower is better) of the model with k clusters.';

CREATE TABLE tiers.kmeans_models (
    name        text PRIMARY KEY CHECK (pg_catalog.btrim(name) OPERATOR(pg_catalog.<>) ''
                                        AND pg_catalog.octet_length(name) OPERATOR(pg_catalog.<=) 1000),
    model       tiers.kmeans_model NOT NULL,
    features    text[] NOT NULL CHECK (features OPERATOR(pg_catalog.<@) ARRAY['since_last', 'recency', 'tenure',
                    'frequency', 'orders', 'occasions', 'monetary', 'monetary_total', 'recent_spend',
                    'earlier_spend']::pg_catalog.text[]
                    AND pg_catalog.cardinality(features) OPERATOR(pg_catalog.=) (model).dimensions),
    description text NOT NULL DEFAULT '',
    saved_at    timestamp with time zone NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE tiers.kmeans_models IS
    'Stored K-means models for tier views (option "kmeans_model"): the model and the tier-view columns it was fitted on, in order (features). Written by tiers.save_kmeans_model; kept by pg_dump. Centroids are group means, not per-customer data: readable by everyone.';
SELECT pg_catalog.pg_extension_config_dump('tiers.kmeans_models', '');

-- K-means (issue 14): segments as an alternative to RFM quantile scores -------------------------

CREATE FUNCTION tiers.kmeans_model_trans(bytea, double precision[], integer)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_kmeans_model_trans';
COMMENT ON FUNCTION tiers.kmeans_model_trans(bytea, double precision[], integer) IS 'Transition function of tiers.kmeans_model (internal).';
CREATE FUNCTION tiers.kmeans_model_trans(bytea, double precision[], integer, jsonb)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_kmeans_model_trans';
COMMENT ON FUNCTION tiers.kmeans_model_trans(bytea, double precision[], integer, jsonb) IS 'Transition function of tiers.kmeans_model with options (internal).';
CREATE FUNCTION tiers.kmeans_combine(bytea, bytea)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_kmeans_combine';
COMMENT ON FUNCTION tiers.kmeans_combine(bytea, bytea) IS 'Combine function of tiers.kmeans_model and tiers.kmeans_choose_k (internal).';
CREATE FUNCTION tiers.kmeans_model_final(bytea)
    RETURNS tiers.kmeans_model LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_kmeans_model_final';
COMMENT ON FUNCTION tiers.kmeans_model_final(bytea) IS 'Final function of tiers.kmeans_model (internal).';
CREATE AGGREGATE tiers.kmeans_model(features double precision[], k integer) (
    SFUNC = tiers.kmeans_model_trans, STYPE = bytea, FINALFUNC = tiers.kmeans_model_final,
    COMBINEFUNC = tiers.kmeans_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.kmeans_model(double precision[], integer) IS
    'K-means model (tiers.kmeans_model) of the feature rows with k clusters (2..50, at most the number of distinct rows, else 22003): features standardized, greedy k-means++ with 10 restarts from seed 0 and Lloyd iterations as scikit-learn''s KMeans, so the same rows give the same model in any order and plan. Rows with NULL features are skipped; NULL elements: 22004; NaN/Infinity, an empty row, more than 16 features or rows of different lengths: 22023; NULL k: 22004. NULL without rows.';
CREATE AGGREGATE tiers.kmeans_model(features double precision[], k integer, options jsonb) (
    SFUNC = tiers.kmeans_model_trans, STYPE = bytea, FINALFUNC = tiers.kmeans_model_final,
    COMBINEFUNC = tiers.kmeans_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.kmeans_model(double precision[], integer, jsonb) IS
    'tiers.kmeans_model with options (constant within a group, else 22023; NULL = defaults): scale ("standardize" or "none"), log1p (true for every feature or one boolean per feature: ln(1 + x) first; a negative value: 22023), n_init (restarts, 1..1000, default 10), max_iter (1..100000, default 300), tol (>= 0, default 1e-4, relative to the mean feature variance), seed (integer, default 0), silhouette_sample (0 = none, else 2..100000, default 10000: more rows than this and the silhouette is computed on a fixed-seed sample). Unknown option or bad value: 22023.';

CREATE FUNCTION tiers.kmeans_choose_k_trans(bytea, double precision[], integer, integer)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_kmeans_choose_k_trans';
COMMENT ON FUNCTION tiers.kmeans_choose_k_trans(bytea, double precision[], integer, integer) IS 'Transition function of tiers.kmeans_choose_k (internal).';
CREATE FUNCTION tiers.kmeans_choose_k_trans(bytea, double precision[], integer, integer, jsonb)
    RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_kmeans_choose_k_trans';
COMMENT ON FUNCTION tiers.kmeans_choose_k_trans(bytea, double precision[], integer, integer, jsonb) IS 'Transition function of tiers.kmeans_choose_k with options (internal).';
CREATE FUNCTION tiers.kmeans_choose_k_final(bytea)
    RETURNS tiers.kmeans_choice[] LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_kmeans_choose_k_final';
COMMENT ON FUNCTION tiers.kmeans_choose_k_final(bytea) IS 'Final function of tiers.kmeans_choose_k (internal).';
CREATE AGGREGATE tiers.kmeans_choose_k(features double precision[], k_min integer, k_max integer) (
    SFUNC = tiers.kmeans_choose_k_trans, STYPE = bytea, FINALFUNC = tiers.kmeans_choose_k_final,
    COMBINEFUNC = tiers.kmeans_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.kmeans_choose_k(double precision[], integer, integer) IS
    'Fits tiers.kmeans_model for every k in k_min..k_max (2..50) and returns one tiers.kmeans_choice per k (inertia, silhouette, Davies-Bouldin) for an elbow chart: SELECT (unnest(tiers.kmeans_choose_k(f, 2, 8))).*. k_min > k_max: 22023; other errors as tiers.kmeans_model. NULL without rows.';
CREATE AGGREGATE tiers.kmeans_choose_k(features double precision[], k_min integer, k_max integer, options jsonb) (
    SFUNC = tiers.kmeans_choose_k_trans, STYPE = bytea, FINALFUNC = tiers.kmeans_choose_k_final,
    COMBINEFUNC = tiers.kmeans_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE tiers.kmeans_choose_k(double precision[], integer, integer, jsonb) IS
    'tiers.kmeans_choose_k with the options of tiers.kmeans_model (constant within a group).';

CREATE FUNCTION tiers.kmeans_assign(features double precision[], model tiers.kmeans_model) RETURNS integer
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_kmeans_assign';
COMMENT ON FUNCTION tiers.kmeans_assign(double precision[], tiers.kmeans_model) IS
    'The cluster (1..k) of a feature row: the nearest centroid after the model''s scaling (log1p, standardization). NULL arguments: NULL. A row of another length, NULL elements (22004), NaN/Infinity, a negative value of a log1p feature, or an inconsistent model: 22023.';

CREATE FUNCTION tiers.kmeans_label(model tiers.kmeans_model, cluster integer,
                                   lang text DEFAULT NULL)
    RETURNS text LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_kmeans_label';
COMMENT ON FUNCTION tiers.kmeans_label(tiers.kmeans_model, integer, text) IS
    'Names a cluster of an RFM-shaped model (3 features in the order since_last, frequency, monetary) with the 8-class RFM labels (tiers.rfm_class8): recent when the centroid''s since_last is below the population mean, frequent and high value when its frequency and monetary are above theirs (in the scaled space). lang ''zh'' (重要价值客户 …) or ''en''; without lang (or NULL), the setting customer_tiers.language, else ''zh''. Another number of features, a cluster outside 1..k or another lang: 22023. NULL model or cluster: NULL.';

CREATE FUNCTION tiers.save_kmeans_model(name text, model tiers.kmeans_model, features text[],
                                        description text DEFAULT '')
    RETURNS void
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $save$
DECLARE
    allowed constant text[] := ARRAY['since_last', 'recency', 'tenure', 'frequency', 'orders', 'occasions',
        'monetary', 'monetary_total', 'recent_spend', 'earlier_spend'];
    f text;
BEGIN
    IF name IS NULL OR model IS NULL OR features IS NULL OR description IS NULL THEN
        RAISE EXCEPTION 'save_kmeans_model: name, model, features and description must not be NULL'
            USING ERRCODE = '22004';
    END IF;
    IF btrim(name) = '' OR octet_length(name) > 1000 THEN
        RAISE EXCEPTION 'name must be 1 to 1000 bytes and not blank, got % bytes', octet_length(name)
            USING ERRCODE = '22023';
    END IF;
    FOREACH f IN ARRAY features LOOP
        IF f IS NULL OR NOT f = ANY (allowed) THEN
            RAISE EXCEPTION 'features must name numeric columns of a tier view, got %', coalesce(quote_literal(f), 'NULL')
                USING ERRCODE = '22023', HINT = 'One of: ' || array_to_string(allowed, ', ');
        END IF;
    END LOOP;
    IF cardinality(features) IS DISTINCT FROM model.dimensions THEN
        RAISE EXCEPTION 'features must name one column per feature of the model: % names for % features',
            cardinality(features), model.dimensions USING ERRCODE = '22023';
    END IF;
    -- the model itself is checked by assigning its first centroid
    PERFORM tiers.kmeans_assign(model.centroids[1:1][:], model);
    INSERT INTO tiers.kmeans_models AS m (name, model, features, description)
    VALUES (save_kmeans_model.name, save_kmeans_model.model, save_kmeans_model.features,
            save_kmeans_model.description)
    ON CONFLICT ON CONSTRAINT kmeans_models_pkey DO UPDATE
    SET model = excluded.model, features = excluded.features, description = excluded.description,
        saved_at = now();
END
$save$;
COMMENT ON FUNCTION tiers.save_kmeans_model(text, tiers.kmeans_model, text[], text) IS
    'Stores (or replaces) a K-means model under a name in tiers.kmeans_models, with the tier-view columns it was fitted on, in order (since_last, recency, tenure, frequency, orders, occasions, monetary, monetary_total, recent_spend, earlier_spend). Tier views with the option "kmeans_model" then carry its cluster. NULL arguments: 22004; bad name, features or model: 22023; needs INSERT and UPDATE on tiers.kmeans_models (42501).';

CREATE FUNCTION tiers.kmeans_stored_model(name text, features text[]) RETURNS tiers.kmeans_model
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS $stored$
DECLARE
    m tiers.kmeans_models;
BEGIN
    SELECT * INTO m FROM tiers.kmeans_models s WHERE s.name = kmeans_stored_model.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'K-means model "%" does not exist in tiers.kmeans_models', name USING ERRCODE = '22023';
    END IF;
    IF m.features IS DISTINCT FROM kmeans_stored_model.features THEN
        RAISE EXCEPTION 'K-means model "%" is now fitted on (%), not (%)', name,
            array_to_string(m.features, ', '), array_to_string(kmeans_stored_model.features, ', ')
            USING ERRCODE = '22023',
                  HINT = 'tiers.alter_tier_view(view, ''{}'') rebuilds a tier view with the model''s features.';
    END IF;
    RETURN m.model;
END
$stored$;
COMMENT ON FUNCTION tiers.kmeans_stored_model(text, text[]) IS
    'The stored K-means model of that name, checked to be fitted on these features (used by tier views with the option "kmeans_model"). Missing model or other features: 22023.';
GRANT SELECT ON tiers.kmeans_models TO PUBLIC;
