#!/usr/bin/env bash
# Fuzzing for a bounded time (not part of the test command): the stable mutation fuzzer over the
# core's state decoders and the tag-expression parser, and the cargo-fuzz targets when a nightly
# toolchain with cargo-fuzz is available. Usage: bench/fuzz.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_BUDGET=${1:-60}
cargo run --quiet --release -p customer_tiers_core --example fuzz -- "$SECONDS_BUDGET"
if cargo +nightly fuzz --version >/dev/null 2>&1; then
    (cd fuzz && for t in states tag_expression; do
        cargo +nightly fuzz run "$t" -- -max_total_time="$SECONDS_BUDGET"
    done)
else
    echo "cargo-fuzz targets (fuzz/) skipped: they need a nightly toolchain with cargo-fuzz"
fi
