# Sourced by the scripts: common paths.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PGRX_HOME="$REPO/pgrx-config"
PG_CONFIG=/usr/bin/pg_config
PGBIN="$("$PG_CONFIG" --bindir)"
PG_REGRESS="$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress"
# Servers must not run with RUST_BACKTRACE: it puts backtraces into error details.
as_postgres() { sudo -u postgres env -u RUST_BACKTRACE "$@"; }
