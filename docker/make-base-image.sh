#!/usr/bin/env bash
# make-base-image.sh — prepares this machine to build and run weft's containers with podman, and makes
# the local base image localhost/debian:bookworm (no container registry is needed or used).
#
#   docker/make-base-image.sh            # as root; prints the CONTAINERS_CONF line to export
#   . docker/make-base-image.sh          # sourced: also exports CONTAINERS_CONF into your shell
#
# What it does, each step skipped when already done:
#   1. installs podman, podman-compose, docker-compose, runc and debootstrap (apt-get) if missing
#      (compose.yaml runs with docker-compose against podman's API: see docs/operations-containers.md);
#   2. writes a containers.conf for this host (runc, ulimits within the hard limit, cgroupfs, file events
#      logger; see docs/operations-containers.md) to $WEFT_CONTAINERS_CONF (default
#      /tmp/weft-containers/containers.conf) and exports CONTAINERS_CONF=<that file>;
#   3. if podman has no localhost/debian:bookworm yet: debootstrap --variant=minbase bookworm from the
#      Debian mirror apt already uses here (read from /etc/apt/sources.list{,.d/*}), then podman import.
#      docker/Containerfile starts FROM debian:bookworm: docker pulls it, and podman, which can reach no
#      registry here, resolves that short name to this local image without pulling.
#
# Environment: WEFT_CONTAINERS_CONF (where to write containers.conf), WEFT_DEBIAN_MIRROR (override the
# mirror), WEFT_BASE_IMAGE (default localhost/debian:bookworm), WEFT_DEBOOTSTRAP_CACHE (a folder to keep
# the downloaded .debs in between runs; default /var/cache/weft-debootstrap).

# Works both executed and sourced: everything runs in a function that returns, never exits.
_weft_make_base_image() {
    local image=${WEFT_BASE_IMAGE:-localhost/debian:bookworm}
    local conf=${WEFT_CONTAINERS_CONF:-/tmp/weft-containers/containers.conf}
    local cache=${WEFT_DEBOOTSTRAP_CACHE:-/var/cache/weft-debootstrap}
    local suite=bookworm

    if [ "$(id -u)" -ne 0 ]; then
        echo "make-base-image: run as root (debootstrap and rootful podman need it)" >&2
        return 1
    fi

    # --- 1. packages ---
    local missing=() p
    for p in podman podman-compose docker-compose runc debootstrap; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "make-base-image: installing ${missing[*]}" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2 ||
            { DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 &&
              DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2; } || {
            echo "make-base-image: could not install ${missing[*]}" >&2
            return 1
        }
    fi

    # --- 2. containers.conf ---
    # crun refuses this host's hybrid cgroup layout, runc works; root lacks CAP_SYS_RESOURCE and the hard
    # nofile limit is 20000, so podman's default ulimits (1048576) fail; there is no systemd.
    local hard_nofile
    hard_nofile=$(ulimit -Hn)
    [ "$hard_nofile" = unlimited ] && hard_nofile=1048576
    [ "$hard_nofile" -gt 20000 ] 2>/dev/null && hard_nofile=20000
    local hard_nproc
    hard_nproc=$(ulimit -Hu)
    [ "$hard_nproc" = unlimited ] && hard_nproc=32768
    [ "$hard_nproc" -gt 32768 ] 2>/dev/null && hard_nproc=32768
    mkdir -p "$(dirname "$conf")"
    local tmp="$conf.$$"
    cat >"$tmp" <<EOF
# Written by weft's docker/make-base-image.sh for podman on this host; use with CONTAINERS_CONF=$conf
[containers]
default_ulimits = ["nofile=$hard_nofile:$hard_nofile", "nproc=$hard_nproc:$hard_nproc"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
    mv -f "$tmp" "$conf"
    export CONTAINERS_CONF="$conf"

    # --- 3. the base image ---
    if podman image exists "$image"; then
        echo "make-base-image: $image exists" >&2
        echo "export CONTAINERS_CONF=$conf"
        return 0
    fi

    local mirror=${WEFT_DEBIAN_MIRROR:-}
    if [ -z "$mirror" ]; then
        mirror=$(_weft_apt_mirror "$suite")
    fi
    if [ -z "$mirror" ]; then
        echo "make-base-image: no Debian mirror for $suite in /etc/apt/sources.list{,.d/*};" \
             "set WEFT_DEBIAN_MIRROR" >&2
        return 1
    fi

    local rootfs
    rootfs=$(mktemp -d /var/tmp/weft-rootfs.XXXXXX) || return 1
    mkdir -p "$cache"
    echo "make-base-image: debootstrap --variant=minbase $suite from $mirror" >&2
    local started=$SECONDS
    if ! debootstrap --variant=minbase --cache-dir="$cache" "$suite" "$rootfs" "$mirror" \
            >/tmp/weft-debootstrap.log 2>&1; then
        echo "make-base-image: debootstrap failed; the end of /tmp/weft-debootstrap.log:" >&2
        tail -n 20 /tmp/weft-debootstrap.log >&2
        rm -rf --one-file-system "$rootfs"
        return 1
    fi
    # keep the image small: no downloaded packages, and apt lists are fetched again by `apt-get update`
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/tmp/*
    # containers never need recommended packages or documentation
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
        >"$rootfs/etc/apt/apt.conf.d/90weft-no-recommends"
    printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\n' \
        >"$rootfs/etc/dpkg/dpkg.cfg.d/90weft-no-docs"
    echo "make-base-image: importing into podman as $image" >&2
    if ! tar --numeric-owner -C "$rootfs" -c . |
            podman import --change 'CMD ["/bin/bash"]' - "$image" >/dev/null; then
        echo "make-base-image: podman import failed" >&2
        rm -rf --one-file-system "$rootfs"
        return 1
    fi
    rm -rf --one-file-system "$rootfs"
    echo "make-base-image: made $image in $((SECONDS - started)) s" >&2
    echo "export CONTAINERS_CONF=$conf"
}

# Prints the URI of the first apt source (one-line or deb822 format) that serves Debian suite $1.
_weft_apt_mirror() {
    local suite=$1 f
    local files=()
    [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && files+=("$f")
    done
    for f in "${files[@]}"; do
        case "$f" in
        *.sources)
            # deb822 stanzas separated by blank lines: Types, URIs, Suites, Enabled
            awk -v want="$suite" '
                function flush() {
                    if (types ~ /(^| )deb( |$)/ && enabled != "no" && uris != "" && (" " suites " ") ~ (" " want " "))
                        { split(uris, u, " "); print u[1]; found = 1; exit }
                    types = uris = suites = ""; enabled = "yes"
                }
                BEGIN { enabled = "yes" }
                /^[ \t]*#/ { next }
                /^[ \t]*$/ { flush(); next }
                { key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
                  if (key == "types") types = $0; else if (key == "uris") uris = $0
                  else if (key == "suites") suites = $0; else if (key == "enabled") enabled = tolower($0) }
                END { if (!found) flush() }' "$f"
            ;;
        *)
            # deb [options] URI suite components...
            awk -v want="$suite" '
                $1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                              if ($(i + 1) == want) { print $i; exit } }' "$f"
            ;;
        esac
    done | head -n 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -uo pipefail
    _weft_make_base_image
    exit $?
else
    _weft_make_base_image
fi
