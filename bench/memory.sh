#!/usr/bin/env bash
# Memory benchmark: peak private memory (RssAnon of the backend, sampled every 10 ms; shared
# buffers excluded) of the summary and fit aggregates over 1M, 5M and 10M orders of the same
# 100k customers, each buying on the same 10 distinct days (10, 50, 100 orders per customer).
# Flat means the state is per customer and distinct day / per distinct pattern, not per row.
# The queries use the aggregate's result: PostgreSQL drops unused subquery outputs, aggregates
# included, so `SELECT count(*) FROM (SELECT agg(...) ... GROUP BY ...)` would measure nothing.
# Not a test. Usage: bench/memory.sh
. "$(dirname "$0")/lib.sh"

peak() {   # peak RssAnon (MiB) of a backend running $1
    local sql=$1 pidfile="$DIR/pid.txt" out="$DIR/peak.txt"
    rm -f "$pidfile"
    (q -c "SELECT pg_backend_pid()" -c "\\o /dev/null" -c "$sql" >"$pidfile") &
    local bg=$! pid="" max=0
    for _ in $(seq 1 500); do pid=$(head -1 "$pidfile" 2>/dev/null || true); [ -n "$pid" ] && break; sleep 0.01; done
    while kill -0 $bg 2>/dev/null; do
        kb=$(awk '/^RssAnon/ {print $2}' /proc/"$pid"/status 2>/dev/null || echo 0)
        [ "${kb:-0}" -gt "$max" ] && max=$kb
        sleep 0.01
    done
    wait $bg
    awk -v k="$max" 'BEGIN { printf "%.0f", k / 1024 }'
}

echo "| orders | customer_summary, GROUP BY 100k customers | built-in count/min/max/sum, same GROUP BY | bgnbd_fit over the rows (≤ 30k patterns) | abc_model over the rows (one value per row) |"
echo "| ---: | ---: | ---: | ---: | ---: |"
for N in 1000000 5000000 10000000; do
    q -c "DROP TABLE IF EXISTS mem" -c "CREATE TABLE mem AS
      SELECT (g % 100000)::int AS customer, date '2021-01-01' + ((g / 100000) % 10)::int * 30 AS d,
             ((g * 104729) % 20000) / 100.0 AS amount,
             (g % 30)::float8 AS f, CASE WHEN g % 30 = 0 THEN 0 ELSE 1 + (g % 30) * 3 + (g / 30) % 10 END::float8 AS r,
             (200 + (g / 300) % 100)::float8 AS t
      FROM generate_series(1::bigint, $N) g" -c "VACUUM ANALYZE mem" >/dev/null
    S=$(peak "SELECT sum((s).occasions) FROM (SELECT tiers.customer_summary(d, amount, '2024-01-01') AS s FROM mem GROUP BY customer) x")
    B=$(peak "SELECT sum(n) FROM (SELECT count(*) AS n, min(d), max(d), sum(amount) FROM mem GROUP BY customer) x")
    F=$(peak "SELECT tiers.bgnbd_fit(f, r, t) FROM mem")
    A=$(peak "SELECT tiers.abc_model(amount::float8) FROM mem")
    echo "| $N | $S MiB | $B MiB | $F MiB | $A MiB |"
done
echo
echo "$(machine); work_mem 2GB, serial plans."
