#!/usr/bin/env bash
# Benchmark: customer summaries and RFM scoring versus the plain-SQL way, in one run, on the
# same synthetic data (default 5M orders of 500k customers). Prints a markdown table of medians
# and ratios for BENCHMARKS.md. Not a test: it asserts nothing.
# Usage: bench/rfm.sh [orders] [customers] [repetitions]
ORDERS=${1:-5000000}
CUSTOMERS=${2:-500000}
REPS=${3:-5}
. "$(dirname "$0")/lib.sh"

q <<SQL
SELECT setseed(0.5);
CREATE TABLE orders AS
SELECT (1 + floor(random() * $CUSTOMERS))::int AS customer,
       date '2021-01-01' + floor(random() * 1095)::int AS ordered_on,
       round((random() * 200)::numeric, 2) AS amount
FROM generate_series(1, $ORDERS);
ALTER TABLE orders ADD COLUMN amount_f8 double precision;
UPDATE orders SET amount_f8 = amount;
VACUUM FREEZE ANALYZE orders;
CREATE TABLE summaries AS
SELECT customer, (tiers.customer_summary(ordered_on, amount, '2024-01-01')).* FROM orders GROUP BY customer;
VACUUM FREEZE ANALYZE summaries;
SQL


BUILTIN_NUM="SELECT customer, min(ordered_on), max(ordered_on), count(*), sum(amount) FROM orders GROUP BY customer"
OURS_NUM="SELECT customer, tiers.customer_summary(ordered_on, amount, '2024-01-01') FROM orders GROUP BY customer"
BUILTIN_F8="SELECT customer, min(ordered_on), max(ordered_on), count(*), sum(amount_f8) FROM orders GROUP BY customer"
OURS_F8="SELECT customer, tiers.customer_summary(ordered_on, amount_f8, '2024-01-01') FROM orders GROUP BY customer"
SQL_FULL="SELECT customer, min(ordered_on), max(ordered_on), count(*), count(DISTINCT ordered_on), sum(amount) FROM orders GROUP BY customer"
NTILE="SELECT customer, r, f, m, r::text || f || m AS score FROM (SELECT customer, ntile(5) OVER (ORDER BY since_last DESC) AS r, ntile(5) OVER (ORDER BY frequency) AS f, ntile(5) OVER (ORDER BY monetary_total) AS m FROM summaries) s"
OURS_SCORE="SELECT customer, tiers.rfm_score(since_last, frequency, monetary_total, tiers.rfm_model(since_last, frequency, monetary_total) OVER ()) FROM summaries"
OURS_CLASS8="SELECT customer, tiers.rfm_class8(since_last, frequency, monetary_total, tiers.rfm_model(since_last, frequency, monetary_total) OVER ()) FROM summaries"
SQL_CLASS8="SELECT customer, CASE WHEN monetary_total > am THEN 'important' ELSE 'general' END || CASE WHEN since_last < ar AND frequency > af THEN ' value' WHEN frequency > af THEN ' retain' WHEN since_last < ar THEN ' develop' ELSE ' win-back' END FROM (SELECT *, avg(since_last) OVER () ar, avg(frequency) OVER () af, avg(monetary_total) OVER () am FROM summaries) s"

run builtin_num "$BUILTIN_NUM"; run ours_num "$OURS_NUM"
run builtin_f8 "$BUILTIN_F8"; run ours_f8 "$OURS_F8"
run sql_full "$SQL_FULL"
run ntile "$NTILE"; run ours_score "$OURS_SCORE"
run sql_class8 "$SQL_CLASS8"; run ours_class8 "$OURS_CLASS8"

# Peak memory of the hash aggregation (states live in the aggregate memory context, so
# PostgreSQL accounts for them): all rows versus the first half of the rows, same customers.
peak() {
    q -c "SELECT (j->0->'Plan'->>'Peak Memory Usage')::bigint / 1024 FROM (SELECT bench_plan(\$q\$$1\$q\$) j) x"
}
q >/dev/null <<'SQL'
CREATE FUNCTION bench_plan(q text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
  SET LOCAL enable_sort = off;
  EXECUTE 'EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ' || q INTO plan;
  RETURN plan;
END $$;
SQL
MEM_BUILTIN=$(peak "$BUILTIN_NUM")
MEM_BUILTIN_HALF=$(peak "SELECT customer, min(ordered_on), max(ordered_on), count(*), sum(amount) FROM orders WHERE ordered_on < '2022-07-01' GROUP BY customer")
MEM_OURS=$(peak "$OURS_NUM")
MEM_OURS_HALF=$(peak "SELECT customer, tiers.customer_summary(ordered_on, amount, '2024-01-01') FROM orders WHERE ordered_on < '2022-07-01' GROUP BY customer")

echo
echo "$(machine); $ORDERS orders of $(q -c 'SELECT count(*) FROM summaries') customers; median of $REPS runs, serial plans."
echo
echo "| query | plain SQL ms | customer_tiers ms | ratio (ours / plain) |"
echo "| --- | ---: | ---: | ---: |"
echo "| summary per customer, numeric amounts: min/max/count/sum vs customer_summary | ${MS[builtin_num]} | ${MS[ours_num]} | $(ratio ${MS[ours_num]} ${MS[builtin_num]}) |"
echo "| summary per customer, float8 amounts: min/max/count/sum vs customer_summary | ${MS[builtin_f8]} | ${MS[ours_f8]} | $(ratio ${MS[ours_f8]} ${MS[builtin_f8]}) |"
echo "| summary incl. distinct purchase days: + count(DISTINCT day) vs customer_summary | ${MS[sql_full]} | ${MS[ours_num]} | $(ratio ${MS[ours_num]} ${MS[sql_full]}) |"
echo "| RFM scores: three NTILE windows vs rfm_model OVER () + rfm_score | ${MS[ntile]} | ${MS[ours_score]} | $(ratio ${MS[ours_score]} ${MS[ntile]}) (= $(ratio ${MS[ntile]} ${MS[ours_score]})x faster) |"
echo "| 8 classes: avg() OVER () + CASE vs rfm_model OVER () + rfm_class8 | ${MS[sql_class8]} | ${MS[ours_class8]} | $(ratio ${MS[ours_class8]} ${MS[sql_class8]}) |"
echo
echo "Peak memory of the hash aggregation (EXPLAIN ANALYZE): built-in min/max/count/sum(numeric) ${MEM_BUILTIN_HALF} MiB over the first half of the rows, ${MEM_BUILTIN} MiB over all rows; customer_summary ${MEM_OURS_HALF} MiB / ${MEM_OURS} MiB (same customers)."
