# Sourced by tests/citus/*.sh: a three-node Citus cluster on this machine, run as postgres, with
# its own ports, sockets and data under /tmp: a coordinator (54350, pg_cron preloaded) and two
# workers (54351, 54352). citus_cluster_start builds/installs Citus if needed (tests/citus/build.sh);
# the cluster is stopped when the calling script exits.
CITUS_DIR=/tmp/customer_tiers-citus
CITUS_PORTS=(54350 54351 54352)
CITUS_NAMES=(coordinator worker1 worker2)
CITUS_DB=ct

# psql on node N (0 = coordinator): cq N [psql args]
cq() {
    local n=$1; shift
    env -u RUST_BACKTRACE PGOPTIONS=--client-min-messages=warning \
        psql -X -q -At -h "$CITUS_DIR/sock" -p "${CITUS_PORTS[$n]}" -U postgres -v ON_ERROR_STOP=1 -d "$CITUS_DB" "$@"
}

citus_cluster_stop() {
    local n
    for n in 0 1 2; do
        [ -f "$CITUS_DIR/${CITUS_NAMES[$n]}/postmaster.pid" ] &&
            as_postgres "$PGBIN/pg_ctl" -D "$CITUS_DIR/${CITUS_NAMES[$n]}" -m immediate stop >/dev/null 2>&1
    done
    return 0
}

citus_cluster_start() {
    citus_cluster_stop
    rm -rf "$CITUS_DIR"; mkdir -p "$CITUS_DIR/sock"; chown -R postgres: "$CITUS_DIR"
    local n preload
    for n in 0 1 2; do
        local data="$CITUS_DIR/${CITUS_NAMES[$n]}"
        as_postgres "$PGBIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
        preload=citus
        [ "$n" = 0 ] && preload="citus,pg_cron"
        cat >> "$data/postgresql.conf" <<CONF
port = ${CITUS_PORTS[$n]}
listen_addresses = 'localhost'
unix_socket_directories = '$CITUS_DIR/sock'
shared_preload_libraries = '$preload'
cron.database_name = '$CITUS_DB'
cron.use_background_workers = on
max_worker_processes = 32
max_wal_senders = 0
wal_level = minimal
fsync = off
synchronous_commit = off
full_page_writes = off
citus.log_remote_commands = off
CONF
        as_postgres "$PGBIN/pg_ctl" -D "$data" -l "$CITUS_DIR/${CITUS_NAMES[$n]}.log" -w start >/dev/null
    done
    # shellcheck disable=SC2064
    trap "citus_cluster_stop" EXIT
    for n in 0 1 2; do
        env -u RUST_BACKTRACE psql -X -q -h "$CITUS_DIR/sock" -p "${CITUS_PORTS[$n]}" -U postgres -d postgres \
            -c "CREATE DATABASE $CITUS_DB" >/dev/null
        cq "$n" -c "CREATE EXTENSION citus" >/dev/null
    done
    cq 0 -c "SELECT citus_set_coordinator_host('localhost', ${CITUS_PORTS[0]})" \
         -c "SELECT citus_add_node('localhost', ${CITUS_PORTS[1]})" \
         -c "SELECT citus_add_node('localhost', ${CITUS_PORTS[2]})" >/dev/null
}
