#!/usr/bin/env bash
# Benchmark: fitting BG/NBD (and Gamma-Gamma, Pareto/NBD) inside PostgreSQL versus the Python
# package lifetimes fitting the same summaries, on CDNOW (2,357 customers) and on simulated
# customers (default 1,000,000, day resolution, in weeks, tenure 20 to 80 weeks: about 424,000
# distinct (frequency, recency, tenure) patterns); the stages of a fit (reading rows, sorting the
# patterns, each iteration: from the fit's DEBUG1 message); Pareto/NBD against BG/NBD on the same
# data (alternated round by round), including the unusual data of issue 18; and the throughput of
# scoring CLV in SQL.
# Installs lifetimes from PyPI into a venv outside the repository
# (/var/cache/customer_tiers/bench-venv, shared with bench/kmeans.sh), for the comparison only.
# Not a test: it asserts nothing.
# Usage: bench/clv.sh [customers] [repetitions]
CUSTOMERS=${1:-1000000}
REPS=${2:-3}
. "$(dirname "$0")/lib.sh"
VENV=/var/cache/customer_tiers/bench-venv
if ! "$VENV/bin/python" -c "import lifetimes, numpy" 2>/dev/null; then
    python3 -m venv "$VENV" && "$VENV/bin/pip" install -q lifetimes >/dev/null
fi
PY=$VENV/bin/python

WORK=$DIR/clv; mkdir -p "$WORK"; chmod 755 "$WORK"
"$PY" bench/simulate_bgnbd.py "$CUSTOMERS" 7 140 560 > "$WORK/sim.csv"
q -f tests/sql/load_cdnow.sql >/dev/null
q <<SQL
CREATE TABLE cdnow_cal AS
SELECT (s).frequency::float8 AS x, (s).recency AS t_x, (s).tenure AS t, (s).monetary AS m
FROM (SELECT tiers.customer_summary(ordered_on, amount, '1997-09-30', '7 days') s
      FROM cdnow_sample GROUP BY customer_id) c;
CREATE TABLE sim (x float8, t_x float8, t float8, m float8);
\copy sim FROM '$WORK/sim.csv' WITH (FORMAT csv)
VACUUM FREEZE ANALYZE sim;
\copy cdnow_cal TO '$WORK/cdnow.csv' WITH (FORMAT csv)
-- issue 18: 1000 customers on which Pareto/NBD's likelihood drifts to huge s and beta
CREATE TABLE unusual AS
SELECT g, (g % 31)::float8 AS x, CASE WHEN g % 31 = 0 THEN 0 ELSE (g * 7919 % 600) END::float8 AS t_x,
       700::float8 AS t, 0::float8 AS m
FROM generate_series(1, 1000) g;
-- SQL versions of the core timing test's adversarial inputs (Pareto/NBD against BG/NBD)
CREATE TABLE zeros AS SELECT g, 0::float8 AS x, 0::float8 AS t_x, (10 + g % 50)::float8 AS t FROM generate_series(0, 4999) g
  UNION ALL VALUES (NULL::int, 1, 3, 55), (NULL, 2, 20, 55), (NULL, 1, 40, 55);
CREATE TABLE huge AS SELECT (g % 7)::float8 AS x,
    CASE WHEN g % 7 = 0 THEN 0 ELSE floor((30 + g % 40) * ((g * 2654435761::bigint) % 1000) / 1000.0) END::float8 AS t_x,
    (30 + g % 40)::float8 AS t FROM generate_series(0, 1999) g
  UNION ALL SELECT 500 + g, 60 - g % 3, 60 FROM generate_series(0, 19) g;
CREATE TABLE distinct_x AS SELECT g::float8 AS x,
    CASE WHEN g = 0 THEN 0 ELSE floor(100 * ((g * 2654435761::bigint) % 1000) / 1000.0) END::float8 AS t_x,
    100::float8 AS t FROM generate_series(0, 1499) g;
-- a realistic mid-size input: the first 5,000 simulated customers (a converged fit, with the
-- information matrix for the standard errors)
CREATE TABLE sim5k AS SELECT x, t_x, t FROM sim LIMIT 5000;
CREATE TABLE alike AS SELECT 3::float8 AS x, 20::float8 AS t_x, 30::float8 AS t FROM generate_series(1, 500)
  UNION ALL SELECT 0, 0, 30 FROM generate_series(1, 500);
-- the same kinds of data, small: fits of well under a millisecond, where the Pareto/NBD's cost per
-- likelihood evaluation counts and reading the rows does not
CREATE TABLE unusual100 AS SELECT x, t_x, t FROM unusual WHERE g <= 100;
CREATE TABLE zeros56 AS SELECT x, t_x, t FROM zeros WHERE g < 53 OR g IS NULL;
SQL

for d in cdnow_cal sim; do
    run "bg_$d" "SELECT tiers.bgnbd_fit(x, t_x, t) FROM $d"
done
# Pareto/NBD against BG/NBD: both fits alternated round by round (a busy machine weighs on both
# alike), on CDNOW, the simulated customers, 5,000 of them and the unusual inputs
declare -A PAIRS
PARETO_DATA="cdnow_cal sim sim5k unusual zeros huge distinct_x alike unusual100 zeros56"
for d in $PARETO_DATA; do
    pair "bgp_$d" "pnbdp_$d" "SELECT tiers.bgnbd_fit(x, t_x, t) FROM $d" "SELECT tiers.paretonbd_fit(x, t_x, t) FROM $d"
    PAIRS[$d]=$PAIR_RATIO
done
run gg_sim "SELECT tiers.gamma_gamma_fit(x, m) FROM sim"
run read_sim "SELECT count(x + t_x + t) FROM sim"
q -c "CREATE TABLE models AS SELECT tiers.bgnbd_fit(x, t_x, t) bg, tiers.gamma_gamma_fit(x, m) gg FROM sim"
run score_sim "SELECT sum(tiers.expected_purchases(bg, 52, x, t_x, t) * tiers.expected_spend(gg, x, m)) FROM sim, models"
OURS=$(q -c "SELECT format('r %s alpha %s a %s b %s | p %s q %s v %s', round((bg).r::numeric, 4), round((bg).alpha::numeric, 4), round((bg).a::numeric, 4), round((bg).b::numeric, 4), round((gg).p::numeric, 4), round((gg).q::numeric, 4), round((gg).v::numeric, 4)) FROM models")
PATTERNS=$(q -c "SELECT count(*) FROM (SELECT DISTINCT x, t_x, t FROM sim) d")
# the stages of one BG/NBD fit on the simulated data (DEBUG1 message of the final function)
STAGES=$(q -c "SET client_min_messages = debug1" -c "SELECT (tiers.bgnbd_fit(x, t_x, t)).r FROM sim" 2>&1 >/dev/null | grep -o 'customer_tiers fit: .*')

lt() { "$PY" bench/lifetimes_fit.py "$1"; }
LT_CDNOW=$(lt "$WORK/cdnow.csv")
LT_SIM=$(lt "$WORK/sim.csv")
ms() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(round(d[sys.argv[2]]*1000, 1))" "$1" "$2"; }
params() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); b=d['bgnbd']; g=d['gg']; print('r %.4f alpha %.4f a %.4f b %.4f | p %.4f q %.4f v %.4f' % (b['r'], b['alpha'], b['a'], b['b'], g['p'], g['q'], g['v']))" "$1"; }

echo
echo "$(machine); CDNOW sample 2357 customers; simulated $CUSTOMERS customers ($PATTERNS distinct patterns; truth r 0.5 alpha 5 a 0.8 b 2.5 | p 6 q 4 v 15); median of $REPS runs (lifetimes: one run)."
echo
echo "| fit | lifetimes ms | customer_tiers ms | speed-up |"
echo "| --- | ---: | ---: | ---: |"
echo "| BG/NBD, CDNOW sample | $(ms "$LT_CDNOW" bgnbd_s) | ${MS[bg_cdnow_cal]} | $(ratio $(ms "$LT_CDNOW" bgnbd_s) ${MS[bg_cdnow_cal]})x |"
echo "| BG/NBD, simulated $CUSTOMERS | $(ms "$LT_SIM" bgnbd_s) | ${MS[bg_sim]} | $(ratio $(ms "$LT_SIM" bgnbd_s) ${MS[bg_sim]})x |"
echo "| Gamma-Gamma, simulated $CUSTOMERS | $(ms "$LT_SIM" gg_s) | ${MS[gg_sim]} | $(ratio $(ms "$LT_SIM" gg_s) ${MS[gg_sim]})x |"
echo
echo "Stages of one BG/NBD fit on the simulated data: reading the $CUSTOMERS rows into distinct patterns is the rest of the ${MS[bg_sim]} ms after: $STAGES (a plain count over the same rows: ${MS[read_sim]} ms)."
echo
echo "Parameters on the simulated data: customer_tiers $OURS; lifetimes $(params "$LT_SIM")."
echo
echo "| Pareto/NBD against BG/NBD, fits alternated ($REPS rounds) | rows | BG/NBD ms | Pareto/NBD ms | median ratio |"
echo "| --- | ---: | ---: | ---: | ---: |"
for d in $PARETO_DATA; do
    echo "| $d | $(q -c "SELECT count(*) FROM $d") | ${MS[bgp_$d]} | ${MS[pnbdp_$d]} | ${PAIRS[$d]}x |"
done
echo
echo "Scoring expected 52-week purchases x expected spend for $CUSTOMERS customers in SQL: ${MS[score_sim]} ms ($(python3 -c "print(round($CUSTOMERS / ${MS[score_sim]} * 1000))") customers/s)."
