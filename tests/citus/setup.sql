-- Data for the distributed tests, run on the coordinator: every order table twice, a local copy
-- (*_local) and a Citus table distributed by customer (*_dist), plus their per-customer summaries
-- (the summaries are distributed too: population aggregates run over them).
SET client_min_messages = warning;
\i tests/sql/load_cdnow.sql
CREATE TABLE cdnow_local AS SELECT * FROM cdnow_master;
CREATE TABLE cdnow_dist AS SELECT * FROM cdnow_master;
SELECT create_distributed_table('cdnow_dist', 'customer_id') \g /dev/null
-- 1M synthetic orders of 100,000 customers over two years (deterministic: hashes of the row number)
CREATE TABLE synth_local AS
SELECT (hashint4(g) & 2147483647) % 100000 AS customer_id,
       date '2020-01-01' + ((hashint4(g + 7) & 2147483647) % 730) AS ordered_on,
       round(((hashint4(g + 13) & 2147483647) % 20000) / 100.0 - 5, 2)::numeric(10,2) AS amount
FROM generate_series(1, 1000000) g;
CREATE TABLE synth_dist (LIKE synth_local);
SELECT create_distributed_table('synth_dist', 'customer_id') \g /dev/null
INSERT INTO synth_dist SELECT * FROM synth_local;
ANALYZE cdnow_local, cdnow_dist, synth_local, synth_dist;

-- per-customer summaries (as_of and unit as the README's CLV section: weeks)
CREATE TABLE s_cdnow_local AS
SELECT customer_id, (tiers.customer_summary(ordered_on, amount, date '1998-06-30', interval '7 days')).*
FROM cdnow_local GROUP BY customer_id;
CREATE TABLE s_cdnow_dist AS SELECT * FROM s_cdnow_local WITH NO DATA;
SELECT create_distributed_table('s_cdnow_dist', 'customer_id') \g /dev/null
INSERT INTO s_cdnow_dist
SELECT customer_id, (tiers.customer_summary(ordered_on, amount, date '1998-06-30', interval '7 days')).*
FROM cdnow_dist GROUP BY customer_id;
CREATE TABLE s_synth_local AS
SELECT customer_id, (tiers.customer_summary(ordered_on, amount, date '2021-12-31')).*
FROM synth_local GROUP BY customer_id;
CREATE TABLE s_synth_dist AS SELECT * FROM s_synth_local WITH NO DATA;
SELECT create_distributed_table('s_synth_dist', 'customer_id') \g /dev/null
INSERT INTO s_synth_dist
SELECT customer_id, (tiers.customer_summary(ordered_on, amount, date '2021-12-31')).*
FROM synth_dist GROUP BY customer_id;
ANALYZE s_cdnow_local, s_cdnow_dist, s_synth_local, s_synth_dist;

-- jsonb equality with a relative tolerance on numbers (partial states are combined in another
-- order than a single scan adds them: sums of doubles differ in the last bits)
CREATE FUNCTION close(a jsonb, b jsonb, tol float8 DEFAULT 1e-9) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE k text; i int;
BEGIN
    IF jsonb_typeof(a) IS DISTINCT FROM jsonb_typeof(b) THEN RETURN false; END IF;
    CASE jsonb_typeof(a)
    WHEN 'number' THEN
        RETURN abs(a::numeric - b::numeric) <= tol * greatest(1, abs(a::numeric), abs(b::numeric));
    WHEN 'object' THEN
        IF (SELECT array_agg(x ORDER BY x) FROM jsonb_object_keys(a) x)
           IS DISTINCT FROM (SELECT array_agg(x ORDER BY x) FROM jsonb_object_keys(b) x) THEN RETURN false; END IF;
        FOR k IN SELECT jsonb_object_keys(a) LOOP
            IF NOT close(a->k, b->k, tol) THEN RETURN false; END IF;
        END LOOP;
        RETURN true;
    WHEN 'array' THEN
        IF jsonb_array_length(a) <> jsonb_array_length(b) THEN RETURN false; END IF;
        FOR i IN 0 .. jsonb_array_length(a) - 1 LOOP
            IF NOT close(a->i, b->i, tol) THEN RETURN false; END IF;
        END LOOP;
        RETURN true;
    ELSE RETURN a = b;
    END CASE;
END $$;
