#!/usr/bin/env bash
# Stress loop for issue 18 (a backend died with SIGBUS during paretonbd_fit): runs the reported
# statements again and again in a throw-away cluster with core files enabled, and interrupts
# them in every way PostgreSQL can:
#   plain      the reported statements (statement_timeout 60 s), EXPLAIN ANALYZE as reported
#   timeout    statement_timeout firing in the middle of the fit (0.3 .. 20 s)
#   cancel     pg_cancel_backend from a second session at a random moment
#   terminate  pg_terminate_backend (FATAL path) at a random moment
#   concurrent three fits at once plus an unrelated aggregate load, one of them cancelled
#   install    the library installed again (as `cargo pgrx install` does it) during a fit
# After every round the server log is checked for a crash and the data directory for a core
# file; a core is printed with gdb's backtrace and the script fails.
#
# Usage: bench/crash_stress.sh [ROUNDS] [--debug] [--reproduce]
#   ROUNDS       default 30
#   --debug      the debug build instead of the release build
#   --reproduce  shows the cause instead: each round rewrites the installed library in place
#                (what `sudo cp` in cargo-pgrx's `install --sudo` did) during a fit, and counts
#                the backends killed by SIGBUS (with gdb's backtrace of the first core file)
# Prints one line per round and a summary; exit 1 on any crash (not with --reproduce).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
. scripts/env.sh

ROUNDS=30 PROFILE=--release REPRODUCE=""
for a in "$@"; do
    case $a in
    --debug) PROFILE="" ;;
    --reproduce) REPRODUCE=1 ;;
    *) ROUNDS=$a ;;
    esac
done
ulimit -c unlimited 2>/dev/null || true
cargo pgrx install $PROFILE --pg-config "$PG_CONFIG" >/dev/null 2>&1
LIB="$("$PG_CONFIG" --pkglibdir)/customer_tiers.so"

PORT=54341
DIR=/tmp/customer_tiers-stress
THROWAWAY_CORES=1 throwaway_cluster $PORT "$DIR" -c jit=off
q() { env -u RUST_BACKTRACE psql -X -q -At -h "$DIR/sock" -p $PORT -U postgres -d postgres "$@"; }

q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION customer_tiers;
CREATE TABLE s AS SELECT g AS id, (g % 31)::float8 AS frequency,
       CASE WHEN g % 31 = 0 THEN 0 ELSE (g * 7919 % 600) END::float8 AS recency, 700::float8 AS tenure
FROM generate_series(1, 1000) g;
CREATE TABLE orders AS SELECT g % 5000 AS customer, date '2020-01-01' + (g % 700) AS ordered_on,
       (g % 97)::numeric AS amount FROM generate_series(1, 300000) g;
SQL

FIT="SET statement_timeout = '60s'; SET jit = off;
EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) SELECT tiers.bgnbd_fit(frequency, recency, tenure) FROM s;
EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) SELECT tiers.paretonbd_fit(frequency, recency, tenure) FROM s;"
PNBD="EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) SELECT tiers.paretonbd_fit(frequency, recency, tenure) FROM s"
LOAD="SELECT count(*) FROM (SELECT tiers.customer_summary(ordered_on, amount, '2022-01-01') FROM orders GROUP BY customer) x"

# runs SQL in the background under application_name $1; the outcome goes to $DIR/out/$1
bg() { local name=$1; shift
       (rc=0; PGAPPNAME=$name q -c "$*" >/dev/null 2>"$DIR/out/$name.err" || rc=$?
        echo $rc >"$DIR/out/$name.rc") & }
pid_of() { for _ in $(seq 100); do
               p=$(q -c "SELECT pid FROM pg_stat_activity WHERE application_name = '$1' AND state = 'active'")
               [ -n "$p" ] && { echo "$p"; return; }; sleep 0.1; done; }
outcome() { local rc; rc=$(cat "$DIR/out/$1.rc")
            if [ "$rc" = 0 ]; then echo finished
            elif grep -q "statement timeout" "$DIR/out/$1.err"; then echo timeout
            elif grep -q "canceling statement due to user request" "$DIR/out/$1.err"; then echo cancelled
            elif grep -q "terminating connection due to administrator command" "$DIR/out/$1.err"; then echo terminated
            elif grep -q "server closed the connection unexpectedly" "$DIR/out/$1.err"; then echo "connection lost"
            else echo "other: $(head -c 200 "$DIR/out/$1.err")"; fi; }
rand_ms() { echo $(( (RANDOM % ($2 - $1)) + $1 )); }
sleep_ms() { sleep "$(awk -v m="$1" 'BEGIN { printf "%.3f", m / 1000 }')"; }

crashed() {
    if grep -qE "terminated by signal|PANIC|was terminated by exception" "$DIR/server.log"; then
        grep -E "terminated by signal|PANIC|exception" "$DIR/server.log" | head -5
        local core
        for core in $(find "$DIR/data" -maxdepth 1 -name 'core*' 2>/dev/null); do
            echo "core file $core:"
            gdb -batch -ex "bt 40" "$("$PG_CONFIG" --bindir)/postgres" "$core" 2>/dev/null | tail -45
        done
        return 0
    fi
    return 1
}

if [ -n "$REPRODUCE" ]; then
    crashes=0
    cp "$LIB" "$DIR/lib.copy"
    for round in $(seq 1 "$ROUNDS"); do
        ms=$(rand_ms 500 5000)
        before=$(grep -c "terminated by signal 7" "$DIR/server.log" || true)
        bg r$round "SET statement_timeout = '30s'; $PNBD"; pid_of r$round >/dev/null; sleep_ms "$ms"
        cp "$DIR/lib.copy" "$LIB"     # in place: the same inode, truncated and written again
        wait
        sleep 0.5   # the postmaster logs the signal after the client has seen the connection drop
        after=$(grep -c "terminated by signal 7" "$DIR/server.log" || true)
        if [ "$after" -gt "$before" ]; then crashes=$((crashes + 1)); r="SIGBUS"; else r=$(outcome r$round); fi
        echo "round $round: library rewritten in place at ${ms} ms: $r"
        for _ in $(seq 100); do q -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done  # crash recovery
    done
    core=$(find "$DIR/data" -maxdepth 1 -name 'core*' | head -1)
    if [ -n "$core" ]; then
        echo "== backtrace of $core:"
        gdb -batch -ex "bt 12" "$("$PG_CONFIG" --bindir)/postgres" "$core" 2>/dev/null | grep -E "^#|signal"
    fi
    echo "== $crashes of $ROUNDS backends killed by SIGBUS when the library was rewritten in place"
    exit 0
fi

declare -A COUNT
status=0
start=$(date +%s)
SCENARIOS=(plain timeout cancel terminate concurrent install)
for round in $(seq 1 "$ROUNDS"); do
    scenario=${SCENARIOS[$(( (round - 1) % ${#SCENARIOS[@]} ))]}
    t0=$(date +%s.%N)
    case $scenario in
    plain)
        bg r$round "$FIT"; wait; result=$(outcome r$round) ;;
    timeout)
        ms=$(rand_ms 300 20000)
        bg r$round "SET statement_timeout = '${ms}ms'; $PNBD"; wait
        result="$(outcome r$round) after ${ms} ms" ;;
    cancel)
        ms=$(rand_ms 200 15000)
        bg r$round "$FIT"; p=$(pid_of r$round); sleep_ms "$ms"
        q -c "SELECT pg_cancel_backend($p)" >/dev/null; wait
        result="$(outcome r$round) at ${ms} ms" ;;
    terminate)
        ms=$(rand_ms 200 15000)
        bg r$round "$FIT"; p=$(pid_of r$round); sleep_ms "$ms"
        q -c "SELECT pg_terminate_backend($p)" >/dev/null; wait
        result="$(outcome r$round) at ${ms} ms" ;;
    concurrent)
        ms=$(rand_ms 1000 15000)
        bg r${round}a "$FIT"; bg r${round}b "SET statement_timeout = '20s'; $PNBD"; bg r${round}c "$FIT"
        bg r${round}l "$LOAD; $LOAD; $LOAD"
        p=$(pid_of r${round}c); sleep_ms "$ms"
        q -c "SELECT pg_cancel_backend($p)" >/dev/null; wait
        result="$(outcome r${round}a), $(outcome r${round}b), $(outcome r${round}c) (cancel at ${ms} ms), load $(outcome r${round}l)" ;;
    install)
        # what `cargo pgrx install` does: remove the file, then write a new one
        ms=$(rand_ms 500 10000)
        bg r$round "SET statement_timeout = '30s'; $PNBD"; pid_of r$round >/dev/null; sleep_ms "$ms"
        cp "$LIB" "$DIR/lib.copy"; rm -f "$LIB"; cp "$DIR/lib.copy" "$LIB"; wait
        result="$(outcome r$round), library reinstalled at ${ms} ms" ;;
    esac
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    if crashed; then
        echo "round $round ($scenario): SERVER CRASHED"; status=1; break
    fi
    COUNT[$scenario]=$(( ${COUNT[$scenario]:-0} + 1 ))
    echo "round $round ($scenario, ${secs} s): $result"
done
echo "== $(( $(date +%s) - start )) s; rounds per scenario: $(for k in "${!COUNT[@]}"; do printf '%s=%s ' "$k" "${COUNT[$k]}"; done)"
echo "== server: $(q -c 'SHOW server_version'), library $( [ -n "$PROFILE" ] && echo release || echo debug ), core files enabled (pg_ctl -c, core_pattern $(cat /proc/sys/kernel/core_pattern))"
if [ $status = 0 ]; then echo "== no crash, no core file"; fi
exit $status
