-- Loads the CDNOW data carried in data/cdnow/ (whitespace-separated text) into
-- cdnow_master(customer_id, ordered_on, cds, amount) and cdnow_sample(.. + sample_id).
-- Run with psql from the repository root.
SET client_min_messages = warning;
DROP TABLE IF EXISTS cdnow_master, cdnow_sample;
RESET client_min_messages;
CREATE TEMP TABLE cdnow_lines (line text);
\copy cdnow_lines FROM 'data/cdnow/CDNOW_master.txt'
CREATE TABLE cdnow_master AS
SELECT f[1]::int AS customer_id, to_date(f[2], 'YYYYMMDD') AS ordered_on,
       f[3]::int AS cds, f[4]::numeric(10,2) AS amount
FROM (SELECT regexp_split_to_array(btrim(line), '\s+') AS f FROM cdnow_lines) s
WHERE f[1] ~ '^\d+$';
TRUNCATE cdnow_lines;
\copy cdnow_lines FROM 'data/cdnow/CDNOW_sample.txt'
CREATE TABLE cdnow_sample AS
SELECT f[2]::int AS customer_id, f[1]::int AS master_id, to_date(f[3], 'YYYYMMDD') AS ordered_on,
       f[4]::int AS cds, f[5]::numeric(10,2) AS amount
FROM (SELECT regexp_split_to_array(btrim(line), '\s+') AS f FROM cdnow_lines) s;
DROP TABLE cdnow_lines;
ANALYZE cdnow_master;
ANALYZE cdnow_sample;
