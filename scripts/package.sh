#!/usr/bin/env bash
# Builds the Debian package of customer_tiers for one PostgreSQL major, for DBAs who install
# extensions from packages (no Rust on the database server):
#   target/packages/postgresql-MAJOR-customer-tiers_VERSION_amd64.deb
# Usage: scripts/package.sh MAJOR [SOURCE_DIR]     (15, 17 or 18)
#   SOURCE_DIR: build another checkout of the project (tests/packages.sh builds the previous
#   release this way); the package lands in SOURCE_DIR's target/packages.
# Contents: the library (/usr/lib/postgresql/MAJOR/lib), the control file, the install script
# and every update script (/usr/share/postgresql/MAJOR/extension), README, CHANGELOG and licence
# (/usr/share/doc/PACKAGE). Depends: postgresql-MAJOR and the C libraries the library links.
# 15 builds against the host's PostgreSQL; 17 and 18 against the chroots of scripts/pgchroot.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
. scripts/env.sh
. scripts/pgchroot.sh
MAJOR=${1:?usage: scripts/package.sh MAJOR [SOURCE_DIR]}
SRC=$(cd "${2:-$REPO}" && pwd)
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$SRC/Cargo.toml" | head -1)
NAME="postgresql-$MAJOR-customer-tiers"
OUT="$SRC/target/packages"
DEB="$OUT/${NAME}_${VERSION}_amd64.deb"

if [ "$MAJOR" = 15 ]; then
    PGC=/usr/bin/pg_config
else
    DIR=$(dev_chroot "$MAJOR")
    PGC=$(pg_config_wrapper "$MAJOR" "$DIR")
    PGRX_HOME=$(pgrx_home_for "$MAJOR" "$PGC")
    export PGRX_HOME
fi
# the target directory of scripts/test-pg.sh for that major (the build is reused)
export CARGO_TARGET_DIR="$REPO/target/pg$MAJOR"
[ "$MAJOR" = 15 ] && export CARGO_TARGET_DIR="$REPO/target"
# (tests/packages.sh builds the previous release in a target directory of its own)
[ -n "${CARGO_TARGET_DIR_OVERRIDE:-}" ] && export CARGO_TARGET_DIR="$CARGO_TARGET_DIR_OVERRIDE/pg$MAJOR"
WORK=$(mktemp -d /tmp/customer_tiers-package.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
echo "== building $NAME $VERSION"
(cd "$SRC" && cargo pgrx package --no-default-features --features "pg$MAJOR" --pg-config "$PGC" \
    --out-dir "$WORK/pgrx") >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log"; exit 1; }

# the files pgrx produced, placed where Debian's PostgreSQL looks for them
ROOT="$WORK/root"
LIBDIR="$ROOT/usr/lib/postgresql/$MAJOR/lib"
EXTDIR="$ROOT/usr/share/postgresql/$MAJOR/extension"
DOCDIR="$ROOT/usr/share/doc/$NAME"
mkdir -p "$LIBDIR" "$EXTDIR" "$DOCDIR" "$ROOT/DEBIAN"
lib=$(find "$WORK/pgrx" -name customer_tiers.so)
[ -n "$lib" ] || { echo "no customer_tiers.so in the pgrx package"; exit 1; }
install -m 755 "$lib" "$LIBDIR/customer_tiers.so"
strip --strip-unneeded "$LIBDIR/customer_tiers.so"
find "$WORK/pgrx" \( -name 'customer_tiers.control' -o -name 'customer_tiers--*.sql' \) \
    -exec install -m 644 {} "$EXTDIR/" \;
[ -f "$EXTDIR/customer_tiers--$VERSION.sql" ] || { echo "no install script for $VERSION"; exit 1; }
install -m 644 "$SRC/README.md" "$DOCDIR/README.md"
[ -f "$SRC/CHANGELOG.md" ] && gzip -9nc "$SRC/CHANGELOG.md" >"$DOCDIR/changelog.gz"
if [ -f "$SRC/LICENSE" ]; then
    { echo "customer_tiers: $(sed -n 's/^license = "\(.*\)"/\1/p' "$SRC/Cargo.toml")"; echo; cat "$SRC/LICENSE"; } >"$DOCDIR/copyright"
else
    echo "customer_tiers: $(sed -n 's/^license = "\(.*\)"/\1/p' "$SRC/Cargo.toml") licence" >"$DOCDIR/copyright"
fi
chmod 644 "$DOCDIR"/*

# dependencies: the server, and the C libraries of the library at the versions its symbols need
glibc=$(objdump -T "$LIBDIR/customer_tiers.so" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
depends="postgresql-$MAJOR, libc6 (>= $glibc)"
objdump -p "$LIBDIR/customer_tiers.so" | grep -q 'NEEDED *libgcc_s' && depends="$depends, libgcc-s1"
size=$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
cat >"$ROOT/DEBIAN/control" <<EOF
Package: $NAME
Version: $VERSION
Architecture: amd64
Section: database
Priority: optional
Maintainer: customer_tiers developers <customer-tiers@users.noreply.invalid>
Depends: $depends
Installed-Size: $size
Description: customer tiering (RFM, ABC, CLV, tiers) inside PostgreSQL $MAJOR
 customer_tiers brings customer tiering to where CRM data lives: purchase
 summaries, RFM (with the 8-class model), ABC/Pareto, CLV models fitted in SQL
 (BG/NBD, MBG/NBD, Pareto/NBD, Gamma-Gamma), tier schemes with history, tags
 and refreshable tier views for BI tools. After installing the package:
 CREATE EXTENSION customer_tiers; (or ALTER EXTENSION customer_tiers UPDATE;).
EOF
mkdir -p "$OUT"
dpkg-deb --root-owner-group -Zxz --build "$ROOT" "$DEB" >/dev/null
echo "== $DEB ($(du -h "$DEB" | cut -f1)): Depends: $depends"
