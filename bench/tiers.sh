#!/usr/bin/env bash
# Benchmark: tier_of over a million customers (scheme read once per call site) versus the
# plain-SQL CASE expression with the same thresholds, and the inline form. Not a test.
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
SQL

run sql_case "SELECT id, CASE WHEN v >= 20000 THEN 'Platinum' WHEN v >= 5000 THEN 'Gold' WHEN v >= 1000 THEN 'Silver' ELSE 'Bronze' END FROM spend"
run ours_entry "SELECT id, tiers.tier_of(v, 'loyalty') FROM spend"
run ours_prev "SELECT id, tiers.tier_of(v, 'loyalty', prev) FROM spend"
run ours_inline "SELECT id, tiers.tier_of(v, ARRAY[0, 1000, 5000, 20000], ARRAY['Bronze', 'Silver', 'Gold', 'Platinum']) FROM spend"

echo
echo "$(machine); $CUSTOMERS customers; median of $REPS runs, serial plans."
echo
echo "| query | ms | per customer |"
echo "| --- | ---: | ---: |"
for k in sql_case ours_entry ours_prev ours_inline; do
    echo "| $k | ${MS[$k]} | $(awk -v a="${MS[$k]}" -v n="$CUSTOMERS" 'BEGIN { printf "%.0f ns", a * 1e6 / n }') |"
done
