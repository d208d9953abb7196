#!/usr/bin/env bash
# Builds Citus 13.2.2 for the host's PostgreSQL 15 and installs it, once: the build tree is kept
# under /var/cache/customer_tiers (outside the repository) and `make install` runs only when the
# installed citus.so differs from the cached build. The Citus source (AGPL-3.0) is never copied
# into this repository: it comes from $CITUS_SOURCE (a tarball made by `git archive v13.2.2`) or
# from ../shared/vendor/citus next to the repository.
# Exit status 3 (and a loud SKIPPED line) when no source is available.
set -euo pipefail
. "$(dirname "$0")/../../scripts/env.sh"

VENDOR="$REPO/../shared/vendor/citus"
TARBALL="${CITUS_SOURCE:-$VENDOR/citus-13.2.2.tar.gz}"
if [ ! -f "$TARBALL" ]; then
    echo "=================================================================================="
    echo "SKIPPED: Citus tests. No Citus source: set CITUS_SOURCE to a tarball of"
    echo "github.com/citusdata/citus at tag v13.2.2 (git archive v13.2.2 | gzip), or put it at"
    echo "$VENDOR/citus-13.2.2.tar.gz"
    echo "=================================================================================="
    exit 3
fi
PATCH="$(dirname "$TARBALL")/pg15.20-have_createdb_privilege.patch"

CACHE="${CT_CACHE:-/var/cache/customer_tiers}"
major="$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')"
sum="$(sha256sum "$TARBALL" | cut -c1-12)"
BUILD="$CACHE/citus-$sum-pg$major"

missing=()
for p in liblz4-dev libzstd-dev libkrb5-dev libssl-dev libselinux1-dev libxslt1-dev libpam0g-dev libreadline-dev make gcc; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "citus: installing build packages ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -f "$BUILD/.built" ]; then
    echo "citus: building Citus from $TARBALL for PostgreSQL $major (once, ~5 min; cached in $BUILD)"
    rm -rf "$BUILD"; mkdir -p "$BUILD"
    tar xzf "$TARBALL" -C "$BUILD"
    if [ "$major" = 15 ] && [ -f "$PATCH" ] && "$PG_CONFIG" --version | grep -q '15\.\(1[7-9]\|[2-9][0-9]\)'; then
        (cd "$BUILD" && patch -s -p1 < "$PATCH")
    fi
    (cd "$BUILD" && ./configure -q --without-libcurl PG_CONFIG="$PG_CONFIG" >"$BUILD/configure.log" 2>&1 \
        && make -s -j"$(nproc)" >"$BUILD/make.log" 2>&1) || { tail -30 "$BUILD/make.log" "$BUILD/configure.log" 2>/dev/null; exit 1; }
    touch "$BUILD/.built"
fi
libdir="$("$PG_CONFIG" --pkglibdir)"
if ! cmp -s "$BUILD/src/backend/distributed/citus.so" "$libdir/citus.so"; then
    echo "citus: installing into $libdir"
    (cd "$BUILD" && make -s install >"$BUILD/install.log" 2>&1) || { tail -30 "$BUILD/install.log"; exit 1; }
fi
