#!/usr/bin/env bash
# Benchmark: ABC classification and Pareto statistics versus the hand-written SQL with
# running-sum windows, in one run, on the same synthetic customer values (default 600k
# customers; values with two decimals, so with ties). Prints a markdown table for
# BENCHMARKS.md. Not a test: it asserts nothing.
# Usage: bench/abc.sh [customers] [repetitions]
CUSTOMERS=${1:-600000}
REPS=${2:-5}
. "$(dirname "$0")/lib.sh"

q <<SQL
SELECT setseed(0.25);
CREATE TABLE customer_values AS
SELECT g AS id, round((exp(random() * 8) - 1)::numeric, 2)::float8 AS v
FROM generate_series(1, $CUSTOMERS) g;
VACUUM FREEZE ANALYZE customer_values;
SQL

OURS_BEFORE="SELECT id, tiers.abc_class(v, tiers.abc_model(v) OVER ()) FROM customer_values"
SQL_BEFORE="SELECT id, CASE WHEN v <= 0 THEN 'C' WHEN above < 0.8 THEN 'A' WHEN above < 0.95 THEN 'B' ELSE 'C' END FROM (SELECT id, v, (sum(greatest(v, 0)) OVER (ORDER BY v DESC) - sum(greatest(v, 0)) OVER (PARTITION BY v)) / sum(greatest(v, 0)) OVER () AS above FROM customer_values) s"
OURS_INCL="SELECT id, tiers.abc_class(v, tiers.abc_model(v, 0.8, 0.95, 'including') OVER ()) FROM customer_values"
SQL_INCL="SELECT id, CASE WHEN s <= 0.8 THEN 'A' WHEN s <= 0.95 THEN 'B' ELSE 'C' END FROM (SELECT id, sum(v) OVER (ORDER BY v DESC) / sum(v) OVER () AS s FROM customer_values) t"
OURS_COMPUTED="SELECT id, tiers.abc_class(v, tiers.abc_model(v, 'computed') OVER ()) FROM customer_values"
OURS_PARETO="SELECT tiers.pareto(v) FROM customer_values"
SQL_PARETO="SELECT 2 * sum(rn * x) / (count(*) * sum(x)) - (count(*) + 1.0) / count(*) AS gini, sum(x) FILTER (WHERE rn > 0.8 * n) / sum(x) AS top20 FROM (SELECT greatest(v, 0) x, row_number() OVER (ORDER BY v) rn, count(*) OVER () n FROM customer_values) s"

run ours_before "$OURS_BEFORE"; run sql_before "$SQL_BEFORE"
run ours_incl "$OURS_INCL"; run sql_incl "$SQL_INCL"
run ours_computed "$OURS_COMPUTED"
run ours_pareto "$OURS_PARETO"; run sql_pareto "$SQL_PARETO"

echo
echo "$(machine); $(q -c 'SELECT count(*) FROM customer_values') customers; median of $REPS runs, serial plans."
echo
echo "| query | plain SQL ms | customer_tiers ms | ratio (ours / plain) |"
echo "| --- | ---: | ---: | ---: |"
echo "| ABC 'before' (ties share a class): running sum minus peer sum vs abc_model OVER () + abc_class | ${MS[sql_before]} | ${MS[ours_before]} | $(ratio ${MS[ours_before]} ${MS[sql_before]}) (= $(ratio ${MS[sql_before]} ${MS[ours_before]})x faster) |"
echo "| ABC 'including': running-sum window vs abc_model(..., 'including') OVER () + abc_class | ${MS[sql_incl]} | ${MS[ours_incl]} | $(ratio ${MS[ours_incl]} ${MS[sql_incl]}) (= $(ratio ${MS[sql_incl]} ${MS[ours_incl]})x faster) |"
echo "| computed ABC (Ultsch & Lötsch) + abc_class (no plain-SQL equivalent) | — | ${MS[ours_computed]} | — |"
echo "| Gini + top-20 % share: row_number window + sums vs pareto() | ${MS[sql_pareto]} | ${MS[ours_pareto]} | $(ratio ${MS[ours_pareto]} ${MS[sql_pareto]}) |"
