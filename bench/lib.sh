# Sourced by the benchmark scripts: a throw-away cluster tuned for measuring, the `q` client,
# and the SQL function bench(query, repetitions) -> median execution time in ms.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
. scripts/env.sh
# BENCH_NO_INSTALL=1 measures the library already installed (e.g. an older release)
[ -n "${BENCH_NO_INSTALL:-}" ] || cargo pgrx install --release --pg-config "$PG_CONFIG" >/dev/null 2>&1

PORT=54330
DIR=/tmp/customer_tiers-bench
throwaway_cluster $PORT "$DIR" -c shared_buffers=2GB -c work_mem=2GB \
    -c max_parallel_workers_per_gather=0 -c jit=off
q() { psql -X -q -At -h "$DIR/sock" -p $PORT -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

q <<'SQL'
CREATE EXTENSION customer_tiers;
-- median execution time (ms) of a query over several runs, measured by EXPLAIN ANALYZE
-- (no client transfer; TIMING OFF to avoid per-node clock overhead)
CREATE FUNCTION bench(q text, reps int) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE t numeric[] := '{}'; plan json;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ' || q INTO plan;  -- warm-up
  FOR i IN 1..reps LOOP
    EXECUTE 'EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ' || q INTO plan;
    t := t || (plan->0->>'Execution Time')::numeric;
  END LOOP;
  RETURN (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(t) x);
END $$;
-- median wall time (ms) of a statement over several runs (statements EXPLAIN cannot time)
CREATE FUNCTION timed(stmt text, reps int) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE t numeric[] := '{}'; t0 timestamptz;
BEGIN
  FOR i IN 1..reps LOOP
    t0 := clock_timestamp();
    EXECUTE stmt;
    t := t || (1000 * extract(epoch FROM clock_timestamp() - t0))::numeric;
  END LOOP;
  RETURN (SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY x)::numeric, 1) FROM unnest(t) x);
END $$;
SQL

declare -A MS
run() { MS[$1]=$(q -c "SELECT round(bench(\$q\$$2\$q\$, $REPS), 1)"); }
# pair A B SQL_A SQL_B: the two queries alternated run by run ($REPS rounds, so that a busy machine
# weighs on both alike): MS[A], MS[B] their medians and PAIR_RATIO the median of the per-round
# ratios B/A
pair() {
    local out
    out=$(q -c "SELECT concat_ws(' ', percentile_cont(0.5) WITHIN GROUP (ORDER BY a), percentile_cont(0.5) WITHIN GROUP (ORDER BY b),
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY b / a))
                FROM (SELECT bench(\$q\$$3\$q\$, 1) AS a, bench(\$q\$$4\$q\$, 1) AS b FROM generate_series(1, $REPS) i) r")
    read -r a b PAIR_RATIO <<<"$out"
    MS[$1]=$(printf '%.1f' "$a"); MS[$2]=$(printf '%.1f' "$b"); PAIR_RATIO=$(printf '%.2f' "$PAIR_RATIO")
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
machine() {
    echo "Machine: $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB; PostgreSQL $(q -c 'SHOW server_version')"
}
