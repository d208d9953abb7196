#!/usr/bin/env bash
# Benchmark: the population aggregates on one node, serial and with 2 parallel workers, over
# per-customer summaries (1M by default: the data of tests/citus's byte measurement). Used to compare the
# bytea states of 0.3.0 (issue 12) with the internal states of the previous library:
#   BENCH_NO_INSTALL=1 bench/states.sh   # after installing the other library
# Prints a markdown table of medians (ms). Not a test: it asserts nothing.
# Usage: bench/states.sh [customers] [repetitions]
CUSTOMERS=${1:-1000000}
REPS=${2:-5}
. "$(dirname "$0")/lib.sh"

q >/dev/null <<SQL
CREATE TABLE s AS
SELECT g AS customer_id, f AS frequency, CASE WHEN f = 0 THEN 0 ELSE least(r, t) END AS recency, t AS tenure,
       t - CASE WHEN f = 0 THEN 0 ELSE least(r, t) END AS since_last, m AS monetary, m * (f + 1) AS monetary_total
FROM (SELECT g, ((hashint4(g) & 1023) % 12)::float8 AS f, ((hashint4(g + 1) & 2147483647) % 365)::float8 AS r,
             (365 + (hashint4(g + 2) & 2147483647) % 365)::float8 AS t, ((hashint4(g + 3) & 2147483647) % 20000) / 100.0 AS m
      FROM generate_series(1, $CUSTOMERS) g) z;
VACUUM FREEZE ANALYZE s;
SQL
par() { q -c "SET max_parallel_workers_per_gather = 2" -c "SET parallel_setup_cost = 0" -c "SET min_parallel_table_scan_size = 0" \
          -c "SELECT round(bench(\$q\$$1\$q\$, $REPS), 1)"; }
echo "$(machine); $(q -c "SELECT extversion FROM pg_extension WHERE extname = 'customer_tiers'") catalog"
echo "| aggregate over $CUSTOMERS summaries | serial ms | 2 workers ms |"
echo "|---|---|---|"
# the fits in weeks (a few thousand patterns, a fast fit: the time is the states' share); Gamma-Gamma
# uses the same pattern state, and does not converge on this uniform data (BENCHMARKS.md)
for agg in "tiers.rfm_model(since_last, frequency, monetary)" "tiers.abc_model(monetary_total)" \
           "tiers.pareto(monetary_total)" "tiers.bgnbd_fit(frequency, floor(recency / 7), floor(tenure / 7))" \
           "tiers.mbgnbd_fit(frequency, floor(recency / 7), floor(tenure / 7))"; do
    # STATES_NO_FITS=1: the state-bound aggregates only (the fits take minutes)
    [[ -n "${STATES_NO_FITS:-}" && "$agg" == *_fit* ]] && continue
    run serial "SELECT $agg FROM s"
    echo "| \`${agg}\` | ${MS[serial]} | $(par "SELECT $agg FROM s") |"
done
run window "SELECT count(tiers.rfm_score(since_last, frequency, monetary, m)) FROM (SELECT *, tiers.rfm_model(since_last, frequency, monetary) OVER () AS m FROM s) x"
echo "| \`rfm_model(...) OVER ()\` + \`rfm_score\` | ${MS[window]} | — |"
