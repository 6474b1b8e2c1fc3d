#!/bin/sh
# weft-entrypoint — the weft image's entrypoint (docker/Containerfile). Runs its arguments, with two
# conveniences for compose.yaml:
#
#   weft-entrypoint redis            the node's Redis: a unix socket only (no TCP port), at
#                                    $WEFT_HOME/run/redis.sock, data in $WEFT_HOME/data — the same
#                                    socket and options `weft up` gives the redis-server it starts
#   weft-entrypoint weft-<service>   checks that the node's home has been initialised first, so a
#                                    missing `weft init` reads as that and not as a config error
#   weft-entrypoint CMD...           anything else runs as it is (weft init, weft status, weft hub, bash)
set -eu

home=${WEFT_HOME:-/weft}

case "${1:-}" in
redis)
    shift
    mkdir -p "$home/run" "$home/data"
    chmod 700 "$home/run" "$home/data"
    rm -f "$home/run/redis.sock"
    # a data dir from before the append-only file: its snapshot becomes the AOF's base (as `weft up` does)
    if [ -f "$home/data/dump.rdb" ] && [ ! -e "$home/data/appendonlydir" ]; then
        mkdir -m 700 "$home/data/appendonlydir"
        cp "$home/data/dump.rdb" "$home/data/appendonlydir/appendonly.aof.1.base.rdb"
        echo "file appendonly.aof.1.base.rdb seq 1 type b" >"$home/data/appendonlydir/appendonly.aof.manifest"
    fi
    exec redis-server --port 0 --unixsocket "$home/run/redis.sock" --unixsocketperm 700 \
        --dir "$home/data" --save "" --appendonly yes --appendfsync everysec --daemonize no "$@"
    ;;
weft-device | weft-router | weft-crypto | weft-dataplane | weft-nat | weft-discovery | weft-api)
    if [ ! -f "$home/weft.yaml" ] || [ ! -f "$home/identity.key" ]; then
        echo "$1: $home has no weft.yaml/identity.key: initialise the node's home first, e.g." >&2
        echo "  podman run --rm -v ./node:/weft localhost/weft weft init --home /weft --address 10.100.0.2/16 \\" >&2
        echo "      --hub tcp://HUB:7400 --hub-key KEY" >&2
        echo "(see docs/operations-containers.md); retrying in 10 s" >&2
        sleep 10   # restart: always would otherwise spin
        exit 1
    fi
    mkdir -p "$home/run"
    ;;
esac
exec "$@"
