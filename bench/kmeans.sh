#!/usr/bin/env bash
# Benchmark: K-means in SQL (tiers.kmeans_model, kmeans_assign) versus scikit-learn's KMeans on
# the same rows, in one run: 1M synthetic customers (since_last days, frequency, monetary) and the
# CDNOW sample's 2,357 RFM vectors, standardized, k = 5, 10 restarts each. scikit-learn runs in a
# venv outside the repository (/var/cache/customer_tiers/bench-venv, created on first use) and
# uses every core (OpenMP) unless SKLEARN_THREADS is set; it is also timed on one thread, as one
# PostgreSQL backend. Prints a markdown table for BENCHMARKS.md. Not a test: it asserts nothing.
# Usage: bench/kmeans.sh [customers]
CUSTOMERS=${1:-1000000}
REPS=1
. "$(dirname "$0")/lib.sh"

VENV=/var/cache/customer_tiers/bench-venv
if ! "$VENV/bin/python" -c "import sklearn, threadpoolctl" 2>/dev/null; then
    python3 -m venv "$VENV" && "$VENV/bin/pip" install -q scikit-learn threadpoolctl >/dev/null
fi

q <<SQL
SELECT setseed(0.25);
CREATE TABLE f AS
SELECT g AS customer, floor(random() * 730)::float8 AS since_last,
       floor(-ln(1 - random()) * 3)::float8 AS frequency,
       round((exp(3 + random() * 2) + random() * 10)::numeric, 2)::float8 AS monetary
FROM generate_series(1, $CUSTOMERS) g;
VACUUM FREEZE ANALYZE f;
SQL
q -f tests/sql/load_cdnow.sql >/dev/null
q <<'SQL'
CREATE TABLE c AS
SELECT customer_id AS customer, s.since_last, s.frequency::float8, s.monetary
FROM (SELECT customer_id, (tiers.customer_summary(ordered_on, amount, '1998-06-30'::date, '1 day')).*
      FROM cdnow_sample GROUP BY customer_id) s;
SQL
DISTINCT=$(q -c "SELECT count(*) FROM (SELECT DISTINCT since_last, frequency, monetary FROM f) d")

FIT="SELECT tiers.kmeans_model(ARRAY[since_last, frequency, monetary], 5) FROM f"
FIT_NOSIL="SELECT tiers.kmeans_model(ARRAY[since_last, frequency, monetary], 5, '{\"silhouette_sample\": 0}') FROM f"
q -c "CREATE TABLE m AS $FIT"
ASSIGN="SELECT customer, tiers.kmeans_assign(ARRAY[since_last, frequency, monetary], m.kmeans_model) FROM f, m"
run fit "$FIT"; run fit_nosil "$FIT_NOSIL"; run assign "$ASSIGN"
run read "SELECT count(ARRAY[since_last, frequency, monetary]) FROM f"
INERTIA=$(q -c "SELECT (kmeans_model).inertia FROM m")
CDNOW_MS=$(q -c "SELECT round(bench(\$q\$SELECT tiers.kmeans_model(ARRAY[since_last, frequency, monetary], 5) FROM c\$q\$, 5), 1)")
CDNOW_INERTIA=$(q -c "SELECT (tiers.kmeans_model(ARRAY[since_last, frequency, monetary], 5)).inertia FROM c")

q -c "\\copy f TO '$DIR/f.csv' WITH (FORMAT csv)"
q -c "\\copy c TO '$DIR/c.csv' WITH (FORMAT csv)"
PY=$(cat <<'PYEOF'
import sys, time, numpy as np
from sklearn.preprocessing import StandardScaler
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score, davies_bouldin_score
from threadpoolctl import threadpool_limits
def one(path, threads):
    X = np.loadtxt(path, delimiter=',', usecols=(1, 2, 3))
    with threadpool_limits(threads):
        t = time.perf_counter()
        Z = StandardScaler().fit_transform(X)
        km = KMeans(n_clusters=5, n_init=10, random_state=0).fit(Z)
        fit = time.perf_counter() - t
        t = time.perf_counter()
        s = silhouette_score(Z, km.labels_, sample_size=min(10000, len(Z)), random_state=0)
        db = davies_bouldin_score(Z, km.labels_)
        quality = time.perf_counter() - t
        t = time.perf_counter(); km.predict(Z); predict = time.perf_counter() - t
    return fit * 1000, quality * 1000, predict * 1000, km.inertia_
for path in sys.argv[1:]:
    a = one(path, None); b = one(path, 1)
    print(' '.join('%.6f' % v for v in a + b))
PYEOF
)
read -r SK_FIT SK_Q SK_PRED SK_INERTIA SK1_FIT SK1_Q SK1_PRED _ <<<"$("$VENV/bin/python" -c "$PY" "$DIR/f.csv")"
read -r SKC_FIT SKC_Q _ SKC_INERTIA SKC1_FIT SKC1_Q _ _ <<<"$("$VENV/bin/python" -c "$PY" "$DIR/c.csv")"
SKV=$("$VENV/bin/python" -c "import sklearn; print(sklearn.__version__)")

fmt() { printf "%.0f" "$1"; }
echo "$(machine); scikit-learn $SKV; $CUSTOMERS synthetic customers ($DISTINCT distinct rows) and the CDNOW sample (2357 customers); k = 5, n_init = 10, standardized; one run."
echo
echo "| Data | Step | SQL (ms) | scikit-learn, $(nproc) threads (ms) | scikit-learn, 1 thread (ms) | SQL / sklearn (1 thread) | Inertia SQL / sklearn |"
echo "|---|---|---:|---:|---:|---:|---:|"
echo "| ${CUSTOMERS} synthetic | fit incl. scaling, silhouette (10,000-row sample) and Davies-Bouldin | ${MS[fit]} | $(fmt $(awk -v a=$SK_FIT -v b=$SK_Q 'BEGIN{print a+b}')) | $(fmt $(awk -v a=$SK1_FIT -v b=$SK1_Q 'BEGIN{print a+b}')) | $(ratio ${MS[fit]} $(awk -v a=$SK1_FIT -v b=$SK1_Q 'BEGIN{print a+b}')) | $(awk -v a=$INERTIA -v b=$SK_INERTIA 'BEGIN{printf "%.5f", a/b}') |"
echo "| ${CUSTOMERS} synthetic | fit only (no silhouette) | ${MS[fit_nosil]} | $(fmt $SK_FIT) | $(fmt $SK1_FIT) | $(ratio ${MS[fit_nosil]} $SK1_FIT) | |"
echo "| ${CUSTOMERS} synthetic | (of which reading the rows as arrays) | ${MS[read]} | | | | |"
echo "| ${CUSTOMERS} synthetic | assign every row (kmeans_assign / predict) | ${MS[assign]} | $(fmt $SK_PRED) | $(fmt $SK1_PRED) | $(ratio ${MS[assign]} $SK1_PRED) | |"
echo "| CDNOW sample | fit incl. silhouette (exact) and Davies-Bouldin | $CDNOW_MS | $(awk -v a=$SKC_FIT -v b=$SKC_Q 'BEGIN{printf "%.1f", a+b}') | $(awk -v a=$SKC1_FIT -v b=$SKC1_Q 'BEGIN{printf "%.1f", a+b}') | $(ratio $CDNOW_MS $(awk -v a=$SKC1_FIT -v b=$SKC1_Q 'BEGIN{print a+b}')) | $(awk -v a=$CDNOW_INERTIA -v b=$SKC_INERTIA 'BEGIN{printf "%.5f", a/b}') |"
