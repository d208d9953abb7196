#!/usr/bin/env bash
# Package test: the .deb of each PostgreSQL major installs with apt into a clean Debian chroot that
# has that PostgreSQL and nothing else (no Rust, no server headers), CREATE EXTENSION works, the
# CDNOW results come out right, and the package of the previous release (0.2.0, built from its
# commit with scripts/package.sh) is updated by the new package and ALTER EXTENSION ... UPDATE.
# Usage: tests/packages.sh [MAJOR ...]       (default: 15 17 18)
# 0.2.0 never built for PostgreSQL 18 (src/tags.rs), so 18 is tested as a fresh install only.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
. scripts/pgchroot.sh
MAJORS=("$@"); [ ${#MAJORS[@]} -gt 0 ] || MAJORS=(15 17 18)
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
PREVIOUS=0.2.0
PREVIOUS_COMMIT=aaa59a62c7e958c5ffcaced0a90bf6786ad72fbc   # main when 0.2.0 landed (stop 9)
fail() { echo "FAIL: $*"; exit 1; }

# the previous release's package: its sources at its commit (exported outside the repository),
# Cargo features for the other majors added as in this release, built by this package script
previous_deb() {
    local major=$1 src="$CACHE/src-$PREVIOUS" deb
    deb="$src/target/packages/postgresql-$major-customer-tiers_${PREVIOUS}_amd64.deb"
    if [ ! -f "$deb" ]; then
        if [ ! -f "$src/Cargo.toml" ]; then
            rm -rf "$src"; mkdir -p "$src"
            git archive "$PREVIOUS_COMMIT" | tar -x -C "$src" || fail "cannot export $PREVIOUS ($PREVIOUS_COMMIT)"
            sed -i 's|^pg15 = \["pgrx/pg15", "pgrx-tests/pg15"\]|&\npg16 = ["pgrx/pg16", "pgrx-tests/pg16"]\npg17 = ["pgrx/pg17", "pgrx-tests/pg17"]\npg18 = ["pgrx/pg18", "pgrx-tests/pg18"]|' "$src/Cargo.toml"
        fi
        CARGO_TARGET_DIR_OVERRIDE="$CACHE/target-$PREVIOUS" scripts/package.sh "$major" "$src" >&2
    fi
    echo "$deb"
}

for MAJOR in "${MAJORS[@]}"; do
    echo "== package test, PostgreSQL $MAJOR"
    scripts/package.sh "$MAJOR"
    DEB="$REPO/target/packages/postgresql-$MAJOR-customer-tiers_${VERSION}_amd64.deb"
    OLD=""; [ "$MAJOR" != 18 ] && OLD=$(previous_deb "$MAJOR")

    BASE=$(base_chroot "$MAJOR")
    T="$CACHE/pkgtest-pg$MAJOR"
    chroot_umount "$T" 2>/dev/null || true
    rm -rf "$T"; cp -a "$BASE" "$T"
    REPO="" chroot_mount "$T"
    trap 'chroot "$T" pg_ctlcluster '"$MAJOR"' pkgtest stop -m immediate >/dev/null 2>&1 || true; REPO="" chroot_umount "$T"; rm -rf "$T"' EXIT
    # the clean system: PostgreSQL, no Rust toolchain, no server headers
    chroot "$T" sh -c "command -v cargo rustc" >/dev/null && fail "the test chroot has Rust"
    [ -e "$T/usr/include/postgresql/$MAJOR/server/postgres.h" ] && fail "the test chroot has server headers"
    mkdir -p "$T/tmp/ct"; cp -r "$REPO/data" "$REPO/tests" "$T/tmp/ct/"; cp "$DEB" ${OLD:+"$OLD"} "$T/tmp/ct/"
    chroot "$T" pg_createcluster "$MAJOR" pkgtest -p 5499 -- --auth=trust >/dev/null
    chroot "$T" pg_ctlcluster "$MAJOR" pkgtest start
    # psql_in DB: runs the SQL on standard input in the chroot's server, prints the result
    psql_in() { chroot "$T" su postgres -c "cd /tmp/ct && psql -X -q -At -p 5499 -v ON_ERROR_STOP=1 -d $1"; }
    version_in() { echo "SELECT extversion FROM pg_extension WHERE extname = 'customer_tiers'" | psql_in cdnow; }
    create_db() {
        echo "CREATE DATABASE cdnow" | psql_in postgres
        printf 'CREATE EXTENSION customer_tiers;\n\\i tests/sql/load_cdnow.sql\n' | psql_in cdnow >/dev/null
    }
    apt_install() {
        chroot "$T" sh -c "cd /tmp/ct && DEBIAN_FRONTEND=noninteractive apt-get install -y -q ./$(basename "$1")" \
            >"$T/tmp/ct/apt.log" 2>&1 || { cat "$T/tmp/ct/apt.log"; fail "apt-get install ./$(basename "$1")"; }
    }
    if [ -n "$OLD" ]; then
        apt_install "$OLD"
        create_db
        [ "$(version_in)" = "$PREVIOUS" ] || fail "the $PREVIOUS package did not install $PREVIOUS"
        echo "ok: $(basename "$OLD") installed by apt, CREATE EXTENSION gives $PREVIOUS"
    fi
    apt_install "$DEB"
    installed=$(chroot "$T" dpkg-query -W -f='${Version}' "postgresql-$MAJOR-customer-tiers")
    [ "$installed" = "$VERSION" ] || fail "dpkg has $installed"
    if [ -n "$OLD" ]; then
        echo "ALTER EXTENSION customer_tiers UPDATE" | psql_in cdnow
    else
        create_db
    fi
    [ "$(version_in)" = "$VERSION" ] || fail "not at $VERSION: $(version_in)"
    echo "ok: $(basename "$DEB") installed by apt$([ -n "$OLD" ] && echo " over $PREVIOUS, ALTER EXTENSION UPDATE to $VERSION")"

    # CDNOW: ABC classes (checked against window-function SQL in 06_abc), the published BG/NBD
    # parameters (Fader, Hardie & Lee 2005) and a tier view over all customers
    abc=$(psql_in cdnow <<'SQL'
SELECT string_agg(class || '=' || n, ' ' ORDER BY class)
FROM (SELECT class, count(*) AS n
      FROM (SELECT tiers.abc_class(v, tiers.abc_model(v) OVER ()) AS class
            FROM (SELECT sum(amount)::float8 AS v FROM cdnow_master GROUP BY customer_id) r) t
      GROUP BY class) c;
SQL
)
    [ "$abc" = "A=7695 B=8067 C=7808" ] || fail "ABC classes on CDNOW: $abc"
    bg=$(psql_in cdnow <<'SQL'
SELECT concat_ws('/', round((m).r::numeric, 3), round((m).alpha::numeric, 3),
                 round((m).a::numeric, 3), round((m).b::numeric, 3))
FROM (SELECT tiers.bgnbd_fit(frequency, recency, tenure) AS m
      FROM (SELECT (tiers.customer_summary(ordered_on, amount, '1997-09-30', '7 days')).*
            FROM cdnow_sample GROUP BY customer_id) s) x;
SQL
)
    [ "$bg" = "0.243/4.414/0.793/2.426" ] || fail "BG/NBD on the CDNOW sample: $bg"
    n=$(psql_in cdnow <<'SQL'
SELECT tiers.create_tier_view('cdnow_tiers', 'cdnow_master', 'customer_id', 'ordered_on', 'amount',
                              '{"as_of": "1998-06-30"}') IS NOT NULL;
SELECT count(*) FROM cdnow_tiers;
SQL
)
    [ "$(echo "$n" | tail -1)" = 23570 ] || fail "tier view over CDNOW: $n"
    echo "ok: CDNOW: ABC $abc, BG/NBD r/alpha/a/b $bg (published: 0.243/4.414/0.793/2.426), tier view of 23570 customers"

    chroot "$T" pg_ctlcluster "$MAJOR" pkgtest stop
    REPO="" chroot_umount "$T"; rm -rf "$T"; trap - EXIT
done
echo "== package tests passed (${MAJORS[*]})"
