#!/usr/bin/env bash
# Benchmark (issue 15): an incremental tier view (option incremental) against a full refresh, in
# one run. Synthetic orders (default 20M orders of 1M customers over three years, with an id that
# grows); then 1 % new orders dated on the next day, as_of one day later, and the refresh:
#   - tiers.refresh_tier_view(incremental view): folds the new orders into the per-customer states,
#     then recomputes the view from the states (work in customers, not orders);
#   - tiers.refresh_tier_view(incremental view, full => true): rebuilds the states from all orders;
#   - tiers.refresh_tier_view(the same view without the option): the full refresh of 0.2.0.
# Checks that the incremental view equals the full one (every column), and reports the stages and
# the size of the per-customer states. Not a test.
# Usage: bench/incremental.sh [orders] [customers]
ORDERS=${1:-20000000}
CUSTOMERS=${2:-1000000}
REPS=1
. "$(dirname "$0")/lib.sh"

q <<SQL
SELECT setseed(0.5);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer int NOT NULL, ordered_on date NOT NULL, amount numeric(10, 2) NOT NULL);
INSERT INTO orders (customer, ordered_on, amount)
SELECT (1 + floor(random() * $CUSTOMERS))::int, date '2021-01-01' + floor(random() * 1095)::int,
       round((random() * 200)::numeric, 2)
FROM generate_series(1, $ORDERS);
VACUUM FREEZE ANALYZE orders;
SELECT tiers.define_tier_scheme('bench', '[{"tier": "Bronze", "entry": 0},
  {"tier": "Silver", "entry": 1000, "retain": 800}, {"tier": "Gold", "entry": 2000, "retain": 1600}]');
-- every column of two tier views: floats to 1e-9 relative, everything else exactly
CREATE FUNCTION view_diff(a regclass, b regclass) RETURNS bigint LANGUAGE plpgsql AS \$\$
DECLARE cond text; n bigint;
BEGIN
    SELECT string_agg(CASE WHEN t.atttypid = 'float8'::regtype
                           THEN format('(x.%1\$I IS NULL AND y.%1\$I IS NULL OR abs(x.%1\$I - y.%1\$I) <= 1e-9 * greatest(1, abs(y.%1\$I)))', t.attname)
                           ELSE format('x.%1\$I IS NOT DISTINCT FROM y.%1\$I', t.attname) END, ' AND ')
    INTO cond FROM pg_attribute t WHERE t.attrelid = a AND t.attnum > 0 AND NOT t.attisdropped;
    EXECUTE format('SELECT count(*) FROM %s x FULL JOIN %s y ON x.customer = y.customer WHERE NOT (%s) OR x.customer IS NULL OR y.customer IS NULL',
                   a, b, cond) INTO n;
    RETURN n;
END \$\$;
SET client_min_messages = warning;
SELECT tiers.create_tier_view('inc_tiers', 'orders', 'customer', 'ordered_on', 'amount',
  '{"as_of": "2024-01-01", "tier_scheme": "bench", "history": false, "incremental": {"column": "id"}}');
SELECT tiers.create_tier_view('full_tiers', 'orders', 'customer', 'ordered_on', 'amount',
  '{"as_of": "2024-01-01", "tier_scheme": "bench", "history": false}');
-- the next day: 1 % new orders, as_of one day later
INSERT INTO orders (customer, ordered_on, amount)
SELECT (1 + floor(random() * $CUSTOMERS))::int, date '2024-01-02', round((random() * 200)::numeric, 2)
FROM generate_series(1, $ORDERS / 100);
ANALYZE orders;
UPDATE tiers.tier_views SET options = options || '{"as_of": "2024-01-02"}' WHERE view_name IN ('inc_tiers', 'full_tiers');
CHECKPOINT;
SQL

stage() {  # the stages of the latest refresh of a view
    q -c "SELECT format('fold %s ms (%s new orders), fit %s ms, view %s ms, history %s ms', round(fold_ms), new_orders, round(fit_ms), round(refresh_ms), round(history_ms)) FROM tiers.tier_view_refreshes WHERE view_name = '$1' ORDER BY refreshed_at DESC LIMIT 1"
}
refresh_ms() { q -c "SET client_min_messages = warning; SELECT round(1000 * extract(epoch FROM clock_timestamp() - now()), 1) FROM (SELECT tiers.refresh_tier_view($1)) x" | tail -1; }
# the view's query alone (the rest of a refresh is REFRESH MATERIALIZED VIEW CONCURRENTLY writing it)
query() { q -c "SET client_min_messages = warning; SELECT timed(format('SELECT count(*) FROM (%s) x', tiers.tier_view_sql(v)), 1) FROM tiers.tier_views v WHERE view_name = '$1'" | tail -1; }
T_INC=$(refresh_ms "'inc_tiers'"); S_INC=$(stage inc_tiers)
Q_INC=$(query inc_tiers)
T_OLD=$(refresh_ms "'full_tiers'"); S_OLD=$(stage full_tiers)
Q_OLD=$(query full_tiers)
DIFF=$(q -c "SELECT view_diff('inc_tiers', 'full_tiers')")
T_FULL=$(refresh_ms "'inc_tiers', \"full\" => true"); S_FULL=$(stage inc_tiers)
SIZES=$(q -c "SELECT format('%s customers; state bytes: mean %s, max %s; states table %s, recent-orders table %s (%s rows); orders table %s',
    count(*), round(avg(pg_column_size(state))), max(pg_column_size(state)),
    pg_size_pretty(pg_total_relation_size('inc_tiers_states')), pg_size_pretty(pg_total_relation_size('inc_tiers_recent')),
    (SELECT count(*) FROM inc_tiers_recent), pg_size_pretty(pg_total_relation_size('orders'))) FROM inc_tiers_states")

echo
echo "$(machine); $ORDERS orders of $CUSTOMERS customers + $((ORDERS / 100)) new orders; one run."
echo
echo "| refresh after 1 % new orders | ms | share of the full refresh |"
echo "| --- | ---: | ---: |"
echo "| incremental view, tiers.refresh_tier_view | $T_INC | $(ratio "$T_INC" "$T_FULL") |"
echo "| incremental view, full => true (states rebuilt) | $T_FULL | 1.00 |"
echo "| the same view without the option (0.2.0's refresh) | $T_OLD | $(ratio "$T_OLD" "$T_FULL") |"
echo
echo "Stages: incremental: $S_INC; full => true: $S_FULL; without the option: $S_OLD."
echo "The view's query alone (SELECT count(*) over it): incremental view $Q_INC ms, without the option $Q_OLD ms; the rest of the view stage is REFRESH MATERIALIZED VIEW CONCURRENTLY comparing and rewriting the changed rows (every row changes when as_of moves)."
echo "$SIZES."
echo "Customers whose row differs between the incremental view and the full one: $DIFF."
