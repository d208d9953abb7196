#!/usr/bin/env bash
# The install script (as generated and installed) and every update script pass pgspot with zero
# errors; the only warnings allowed are the ones explained in the update scripts (PS002 on
# tiers.tier_of in 0.1.0 -> 0.2.0, on transitions, tier_movements and tier_report in 0.2.0 ->
# 0.3.0: replaced in place so that user views that call them survive the update).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
status=0
check() {
    local file=$1 allowed=$2 out
    out=$(pgspot "$file" 2>&1 || true)
    local summary; summary=$(echo "$out" | grep -E "Errors: [0-9]+ Warnings: [0-9]+" || true)
    local errors; errors=$(echo "$summary" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
    local unexpected; unexpected=$(echo "$out" | grep -E "^PS[0-9]+" | grep -vE "$allowed" || true)
    if [ "$errors" != 0 ] || [ -n "$unexpected" ]; then
        echo "FAIL: pgspot $file"; echo "$out"; status=1
    else
        echo "ok: pgspot $(basename "$file"): $summary"
    fi
}
check "$("$PG_CONFIG" --sharedir)/extension/customer_tiers--$VERSION.sql" '^$'
for f in sql/customer_tiers--*--*.sql; do
    check "$f" '^PS002: Unsafe function creation: tiers\.(tier_of\(value double precision,thresholds|transitions\(scheme text,|tier_movements\(scheme text,|tier_report\(view regclass,)'
done
exit $status
