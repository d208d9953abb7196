#!/usr/bin/env bash
# Every SQL block of docs/bi.md runs, in order, on a database set up as the demo does (CDNOW,
# scripts/demo_views.sql's tier view cdnow_tiers), and the dashboard's numbers agree with the view:
# the tier overview adds up to all customers and revenue, and the churn-risk count per tier equals
# the tag column. The extension must be installed. Throw-away cluster on port 54334.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh

PORT=54334
DIR=/tmp/customer_tiers-docs-bi
throwaway_cluster $PORT "$DIR"
q() { env -u RUST_BACKTRACE PGOPTIONS=--client-min-messages=warning \
        psql -X -q -At -h "$DIR/sock" -p $PORT -U postgres -v ON_ERROR_STOP=1 -d postgres "$@"; }
fail() { echo "FAIL: $*"; exit 1; }

q -c "CREATE EXTENSION customer_tiers" -f tests/sql/load_cdnow.sql >/dev/null
q -f scripts/demo_views.sql >/dev/null
blocks=0
while IFS= read -r -d '' block; do
    blocks=$((blocks + 1))
    printf '%s' "$block" | q >/dev/null 2>"$DIR/err" || { cat "$DIR/err"; printf '%s\n' "$block"; fail "docs/bi.md block $blocks"; }
done < <(awk '/^```sql$/ {on = 1; next} /^```$/ && on {on = 0; printf "%s%c", b, 0; b = ""; next} on {b = b $0 "\n"}' docs/bi.md)
[ "$blocks" -ge 8 ] || fail "only $blocks SQL blocks found in docs/bi.md"
check=$(q <<'SQL'
SELECT (SELECT sum(customers) FROM (SELECT tier, count(*) AS customers FROM cdnow_tiers GROUP BY tier, tier_rank) t)
       = (SELECT count(*) FROM cdnow_tiers)
   AND (SELECT sum(revenue) FROM (SELECT sum(monetary_total) AS revenue FROM cdnow_tiers GROUP BY tier) t)
       = (SELECT sum(amount) FROM cdnow_master WHERE ordered_on <= '1998-06-30')
   AND (SELECT sum(n) FROM (SELECT count(*) AS n FROM cdnow_tiers WHERE tag_churn_risk GROUP BY tier) t)
       = (SELECT count(*) FROM cdnow_tiers WHERE 'churn_risk' = ANY (tags))
SQL
)
[ "$check" = t ] || fail "the dashboard's numbers do not add up"
echo "ok: the $blocks SQL blocks of docs/bi.md run on the demo's tier view, and their totals agree with the orders"
