#!/usr/bin/env bash
# Issue 18 regression test: installing the library while a backend runs code from it must not
# kill that backend.
#
# The cause of the reported SIGBUS in paretonbd_fit: the test command's `cargo pgrx test --runas
# postgres` installs with `cargo pgrx install --sudo`, which copies each file with `sudo cp`,
# rewriting the installed customer_tiers.so in place. Every backend executing code from the old
# file (here: the ₂F₁ series of the Pareto/NBD likelihood) died with signal 7 (bench/crash_stress.sh
# --reproduce shows it). scripts/test.sh now puts scripts/sudo-shim first on the PATH, which
# replaces files by rename.
#
# Here: a long fit runs in a throw-away cluster while `cargo pgrx install --sudo` (the same
# code path, release profile so that the installed build stays the release one) installs the
# library again through that PATH; the backend must still be running afterwards, answer a
# cancel with an ERROR within 2 s, and a new session must load the new file. The current
# version must be built (cargo pgrx install --release).
# The fit: K-means with 1000 restarts on 200,000 rows (minutes of Rust code; cancel is checked
# every 65,536 point operations). The reported Pareto/NBD fit, which ran for tens of seconds in
# 0.2.0, now takes milliseconds (issue 13), so it no longer keeps a backend busy.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh

PORT=54342
DIR=/tmp/customer_tiers-live-install
THROWAWAY_CORES=1 throwaway_cluster $PORT "$DIR" -c jit=off
q() { env -u RUST_BACKTRACE psql -X -q -At -h "$DIR/sock" -p $PORT -U postgres -d postgres "$@"; }
fail() { echo "FAIL: $*"; grep -E "terminated by signal|PANIC" "$DIR/server.log" || true; exit 1; }

q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION customer_tiers;
CREATE TABLE s AS SELECT ARRAY[(g * 7919 % 1000)::float8, (g * 104729 % 997)::float8, (g % 13)::float8] AS x
FROM generate_series(1::bigint, 200000) g;
SQL

(PGAPPNAME=fit q -c "SET statement_timeout = '300s'" \
    -c "SELECT tiers.kmeans_model(x, 50, '{\"n_init\": 1000}') FROM s" >"$DIR/fit.out" 2>&1
 echo $? >"$DIR/fit.rc") &
fit_running() { [ -n "$(q -c "SELECT 1 FROM pg_stat_activity WHERE application_name = 'fit' AND state = 'active'")" ]; }
for _ in $(seq 50); do fit_running && break; sleep 0.1; done
fit_running || fail "the fit did not start"
sleep 1

# the install path of `cargo pgrx test --runas` (cargo pgrx install --sudo), with the stand-in
PATH="$PWD/scripts/sudo-shim:$PATH" cargo pgrx install --release --sudo --pg-config "$PG_CONFIG" \
    >"$DIR/install.log" 2>&1 || { cat "$DIR/install.log"; fail "cargo pgrx install --sudo"; }
grep -q "sudo cp .*customer_tiers.so" "$DIR/install.log" || fail "the library was not copied by sudo cp"

sleep 0.5
if grep -qE "terminated by signal" "$DIR/server.log"; then fail "the install killed the backend running the fit"; fi
fit_running || { cat "$DIR/fit.out"; fail "the fit did not survive the install"; }
echo "ok: a K-means fit kept running while cargo pgrx install --sudo replaced the library"

t0=$(date +%s%N)
q -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'fit'" >/dev/null
wait
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
grep -q "canceling statement due to user request" "$DIR/fit.out" || { cat "$DIR/fit.out"; fail "no cancel ERROR"; }
[ "$ms" -lt 2000 ] || fail "the cancel took $ms ms"
echo "ok: the fit answered a cancel with an ERROR after $ms ms"

if grep -qE "terminated by signal|PANIC" "$DIR/server.log"; then fail "server crash"; fi
n=$(q -c "SELECT (tiers.kmeans_model(x, 3, '{\"n_init\": 1}')).n FROM s WHERE x[3] = 0")
[ "$n" = 15384 ] || fail "a new session with the new library: $n"
echo "ok: no crash; a new session works with the new library"
echo "== live install test passed"
