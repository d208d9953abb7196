#!/usr/bin/env bash
# Benchmark: fitting BG/NBD + Gamma-Gamma inside PostgreSQL versus the Python package lifetimes
# fitting the same summaries, on CDNOW (2,357 customers) and on simulated customers (default
# 1,000,000, day resolution, in weeks); and the throughput of scoring CLV in SQL.
# Installs lifetimes from PyPI (for the comparison only). Not a test: it asserts nothing.
# Usage: bench/clv.sh [customers] [repetitions]
CUSTOMERS=${1:-1000000}
REPS=${2:-3}
. "$(dirname "$0")/lib.sh"
python3 -c "import lifetimes" 2>/dev/null || pip install -q lifetimes >/dev/null 2>&1

WORK=$DIR/clv; mkdir -p "$WORK"; chmod 755 "$WORK"
python3 bench/simulate_bgnbd.py "$CUSTOMERS" 7 > "$WORK/sim.csv"
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
SQL

FIT="SELECT tiers.bgnbd_fit(x, t_x, t), tiers.gamma_gamma_fit(x, m) FROM"
run fit_cdnow "$FIT cdnow_cal"
run fit_sim "$FIT sim"
q -c "CREATE TABLE models AS SELECT tiers.bgnbd_fit(x, t_x, t) bg, tiers.gamma_gamma_fit(x, m) gg FROM sim"
run score_sim "SELECT sum(tiers.expected_purchases(bg, 52, x, t_x, t) * tiers.expected_spend(gg, x, m)) FROM sim, models"
OURS=$(q -c "SELECT format('r %s alpha %s a %s b %s | p %s q %s v %s', round((bg).r::numeric, 4), round((bg).alpha::numeric, 4), round((bg).a::numeric, 4), round((bg).b::numeric, 4), round((gg).p::numeric, 4), round((gg).q::numeric, 4), round((gg).v::numeric, 4)) FROM models")
PATTERNS=$(q -c "SELECT count(*) FROM (SELECT DISTINCT x, t_x, t FROM sim) d")

lt() { python3 bench/lifetimes_fit.py "$1"; }
LT_CDNOW=$(lt "$WORK/cdnow.csv")
LT_SIM=$(lt "$WORK/sim.csv")
secs() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(round((d['bgnbd_s']+d['gg_s'])*1000, 1))" "$1"; }
params() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); b=d['bgnbd']; g=d['gg']; print('r %.4f alpha %.4f a %.4f b %.4f | p %.4f q %.4f v %.4f' % (b['r'], b['alpha'], b['a'], b['b'], g['p'], g['q'], g['v']))" "$1"; }

echo
echo "$(machine); CDNOW sample 2357 customers; simulated $CUSTOMERS customers ($PATTERNS distinct patterns; truth r 0.5 alpha 5 a 0.8 b 2.5 | p 6 q 4 v 15); median of $REPS runs (lifetimes: one run)."
echo
echo "| fit BG/NBD + Gamma-Gamma | lifetimes ms | customer_tiers ms | speed-up |"
echo "| --- | ---: | ---: | ---: |"
echo "| CDNOW sample | $(secs "$LT_CDNOW") | ${MS[fit_cdnow]} | $(ratio $(secs "$LT_CDNOW") ${MS[fit_cdnow]})x |"
echo "| simulated $CUSTOMERS | $(secs "$LT_SIM") | ${MS[fit_sim]} | $(ratio $(secs "$LT_SIM") ${MS[fit_sim]})x |"
echo
echo "Parameters on the simulated data: customer_tiers $OURS; lifetimes $(params "$LT_SIM")."
echo "Scoring expected 52-week purchases x expected spend for $CUSTOMERS customers in SQL: ${MS[score_sim]} ms ($(python3 -c "print(round($CUSTOMERS / ${MS[score_sim]} * 1000))") customers/s)."
