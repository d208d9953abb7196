#!/usr/bin/env bash
# Installs everything customer_tiers needs to build, test and run, idempotently:
# Debian packages (PostgreSQL 15 server + headers, pg_cron, clang for bindgen, sudo) and
# cargo-pgrx 0.18.0.
# A second run checks and changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(postgresql-15 postgresql-server-dev-15 postgresql-15-cron libclang-dev clang sudo debootstrap)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! cargo pgrx --version 2>/dev/null | grep -q "0.18.0"; then
    echo "setup: installing cargo-pgrx 0.18.0 (takes a few minutes, once)"
    cargo install cargo-pgrx --version 0.18.0 --locked
fi

# pgspot (security linter for extension scripts; the tests run it)
if [ "$(python3 -m pip show pgspot 2>/dev/null | sed -n 's/^Version: //p')" != "0.9.4" ]; then
    echo "setup: installing pgspot 0.9.4"
    python3 -m pip install -q --root-user-action=ignore pgspot==0.9.4
fi

# pgrx finds this machine's PostgreSQL through pgrx-config/config.toml (committed).
export PGRX_HOME="$PWD/pgrx-config"
test -f "$PGRX_HOME/config.toml"
