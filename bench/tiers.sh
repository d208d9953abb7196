#!/usr/bin/env bash
# Benchmark: tier_of over a million customers (scheme read once per call site) versus the
# plain-SQL CASE expression with the same thresholds, and the inline form; customer_tags with the
# ten presets versus the same conditions written as a plain-SQL array of CASEs. Not a test.
# Usage: bench/tiers.sh [customers] [repetitions]
CUSTOMERS=${1:-1000000}
REPS=${2:-5}
. "$(dirname "$0")/lib.sh"

q <<SQL
SELECT setseed(0.3);
CREATE TABLE spend AS SELECT g AS id, (random() * 30000)::float8 AS v, (ARRAY['Bronze','Silver','Gold','Platinum'])[1 + g % 4] AS prev
FROM generate_series(1, $CUSTOMERS) g;
VACUUM FREEZE ANALYZE spend;
SELECT tiers.define_tier_scheme('loyalty', '[{"tier": "Bronze", "entry": 0}, {"tier": "Silver", "entry": 1000, "retain": 800},
  {"tier": "Gold", "entry": 5000, "retain": 4000}, {"tier": "Platinum", "entry": 20000, "retain": 15000}]', max_drop => 1);
CREATE TABLE people AS
SELECT g AS id, (random() * 20)::int AS frequency, random() * 500 AS recency, 500 + random() * 200 AS tenure,
       random() * 600 AS since_last, random() AS p_alive, (ARRAY['A','B','C'])[1 + g % 3] AS abc_class,
       1 + g % 5 AS m, 1 + (g / 5) % 5 AS f, random() * 100 AS recent_spend, random() * 150 AS earlier_spend
FROM generate_series(1, $CUSTOMERS) g;
VACUUM FREEZE ANALYZE people;
SQL

TAGS_SQL="SELECT id, array_remove(ARRAY[
  CASE WHEN tenure <= 30 THEN 'new' END, CASE WHEN since_last <= 90 THEN 'active' END,
  CASE WHEN frequency >= 1 AND since_last > 30 AND since_last > 3 * recency / frequency THEN 'dormant' END,
  CASE WHEN (p_alive < 0.5 OR since_last > 180) AND since_last <= 365 THEN 'churn_risk' END,
  CASE WHEN since_last > 365 THEN 'lost' END, CASE WHEN frequency = 0 AND tenure > 30 THEN 'one_time' END,
  CASE WHEN abc_class = 'A' AND frequency >= 2 AND since_last <= 180 THEN 'vip' END,
  CASE WHEN m >= 5 THEN 'big_spender' END, CASE WHEN f >= 5 THEN 'frequent' END,
  CASE WHEN earlier_spend > 0 AND coalesce(recent_spend, 0) < 0.5 * earlier_spend THEN 'declining' END], NULL) FROM people"
# alternated run by run: the ratio is the median of the per-round ratios
pair sql_tags ours_tags "$TAGS_SQL" "SELECT id, tiers.customer_tags(p) FROM people p"
agree=$(q -c "SELECT count(*) FROM people p WHERE tiers.customer_tags(p) IS DISTINCT FROM array_remove(ARRAY[
  CASE WHEN tenure <= 30 THEN 'new' END, CASE WHEN since_last <= 90 THEN 'active' END,
  CASE WHEN frequency >= 1 AND since_last > 30 AND since_last > 3 * recency / frequency THEN 'dormant' END,
  CASE WHEN (p_alive < 0.5 OR since_last > 180) AND since_last <= 365 THEN 'churn_risk' END,
  CASE WHEN since_last > 365 THEN 'lost' END, CASE WHEN frequency = 0 AND tenure > 30 THEN 'one_time' END,
  CASE WHEN abc_class = 'A' AND frequency >= 2 AND since_last <= 180 THEN 'vip' END,
  CASE WHEN m >= 5 THEN 'big_spender' END, CASE WHEN f >= 5 THEN 'frequent' END,
  CASE WHEN earlier_spend > 0 AND coalesce(recent_spend, 0) < 0.5 * earlier_spend THEN 'declining' END], NULL)")

run sql_case "SELECT id, CASE WHEN v >= 20000 THEN 'Platinum' WHEN v >= 5000 THEN 'Gold' WHEN v >= 1000 THEN 'Silver' ELSE 'Bronze' END FROM spend"
run ours_entry "SELECT id, tiers.tier_of(v, 'loyalty') FROM spend"
run ours_prev "SELECT id, tiers.tier_of(v, 'loyalty', prev) FROM spend"
run ours_inline "SELECT id, tiers.tier_of(v, ARRAY[0, 1000, 5000, 20000], ARRAY['Bronze', 'Silver', 'Gold', 'Platinum']) FROM spend"

echo
echo "$(machine); $CUSTOMERS customers; median of $REPS runs, serial plans."
echo
echo "| query | ms | per customer |"
echo "| --- | ---: | ---: |"
for k in sql_case ours_entry ours_prev ours_inline sql_tags ours_tags; do
    echo "| $k | ${MS[$k]} | $(awk -v a="${MS[$k]}" -v n="$CUSTOMERS" 'BEGIN { printf "%.0f ns", a * 1e6 / n }') |"
done
echo
echo "customer_tags / plain SQL (median of $REPS alternated rounds): ${PAIR_RATIO}x; rows where they disagree: $agree"
