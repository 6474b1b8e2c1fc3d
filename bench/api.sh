#!/usr/bin/env bash
# bench/api.sh BIN_DIR [REQUESTS] [CLIENTS] — latency and throughput of the node HTTP API (weft-api) on a
# node connected to one peer: each endpoint asked REQUESTS times by CLIENTS parallel keep-alive clients
# (python3 http.client inside the node's namespace). Prints requests/s and p50/p99 latency per endpoint.
# /api/v1/network is left out (its NAT probe is cached 30 s and measures the STUN server, not the API).
# Needs root; all traffic stays on the lab's loopback and namespaces.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../tests/lib/netlab.sh"
lab_init "${1:?usage: api.sh BIN_DIR [REQUESTS] [CLIENTS]}"
REQUESTS=${2:-400}
CLIENTS=${3:-4}
lab_switch
lab_hub hub 10.99.0.1
lab_node alpha 10.99.0.2 10.100.0.1
lab_node beta 10.99.0.3 10.100.0.2
lab_wait 30 "alpha to connect to beta" lab_peer_connected alpha 10.100.0.2
lab_exec alpha ping -c 3 -i 0.2 -W 2 10.100.0.2 >/dev/null
lab_wait 10 "alpha's API" lab_exec alpha curl -sf --max-time 2 http://127.0.0.1:7401/health

printf '%-18s %8s %10s %9s %9s\n' endpoint requests "req/s" "p50 ms" "p99 ms"
for path in /health /api/v1/status /api/v1/peers /api/v1/routes /api/v1/stats /metrics; do
  lab_exec alpha python3 - "$path" "$REQUESTS" "$CLIENTS" <<'EOF'
import http.client, sys, threading, time
path, total, clients = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lat, lock = [], threading.Lock()
def run(n):
    c = http.client.HTTPConnection("127.0.0.1", 7401, timeout=10)
    mine = []
    for _ in range(n):
        t = time.perf_counter()
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        assert r.status == 200, r.status
        mine.append(time.perf_counter() - t)
    with lock:
        lat.extend(mine)
start = time.perf_counter()
threads = [threading.Thread(target=run, args=(total // clients,)) for _ in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
wall = time.perf_counter() - start
lat.sort()
print("%-18s %8d %10.0f %9.2f %9.2f" % (path, len(lat), len(lat) / wall, lat[len(lat) // 2] * 1000,
                                       lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000))
EOF
done
