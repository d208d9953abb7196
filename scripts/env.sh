# Sourced by the scripts: common paths.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PGRX_HOME="$REPO/pgrx-config"
PG_CONFIG="${PG_CONFIG:-/usr/bin/pg_config}"
PGBIN="$("$PG_CONFIG" --bindir)"
PG_REGRESS="$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress"
# Servers must not run with RUST_BACKTRACE: it puts backtraces into error details.
as_postgres() { sudo -u postgres env -u RUST_BACKTRACE "$@"; }

# A throw-away cluster run as postgres without RUST_BACKTRACE, stopped when the script exits:
# throwaway_cluster PORT DIR [server option ...]   (e.g. "-c work_mem=1GB")
# With THROWAWAY_CORES=1 a crashing backend leaves a core file in DIR/data (pg_ctl -c).
throwaway_cluster() {
    local port=$1 dir=$2
    shift 2
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_postgres "$PGBIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"; mkdir -p "$dir/sock" "$dir/out"; chown -R postgres: "$dir"
    as_postgres "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    local start=(as_postgres)
    # sudo caps the core file size at 0; runuser keeps root's limits
    [ -n "${THROWAWAY_CORES:-}" ] && start=(runuser -u postgres -- env -u RUST_BACKTRACE)
    "${start[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w ${THROWAWAY_CORES:+-c} \
        -o "-p $port -k $dir/sock -c listen_addresses='' $*" start >/dev/null
    # shellcheck disable=SC2064
    trap "as_postgres '$PGBIN/pg_ctl' -D '$dir/data' -m immediate stop >/dev/null 2>&1 || true" EXIT
}
