#!/usr/bin/env bash
# node_memory.sh [BIN_DIR] — one idle node's memory, process by process (docs/performance.md, "Memory").
# Starts a hub and two nodes in the lab's namespaces (extra `weft up` arguments from LAB_UP_ARGS, e.g.
# --colocate), pings across, and prints for each process of node a: VmRSS, Pss, Pss_Anon, Pss_File (kB),
# then the sums and the node's unique resident pages (each physical page once, from /proc/PID/pagemap:
# what the node really occupies). Needs root. Traffic stays inside the lab's namespaces.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../tests/lib/netlab.sh"
lab_init "${1:-$here/../build/bin}"
lab_switch
lab_hub hub 10.99.0.1
lab_node a 10.99.0.2 10.100.0.1
lab_node b 10.99.0.3 10.100.0.2
lab_wait 30 "a to connect to b" lab_peer_connected a 10.100.0.2
lab_exec a ping -c 3 -i 0.2 10.100.0.2 >/dev/null
sleep 3

pids=()
printf '%-14s %8s %8s %8s %8s\n' process VmRSS Pss Pss_Anon Pss_File
rss=0 pss=0
for f in "$(lab_home a)"/run/*.pid; do
  p=$(cat "$f")
  pids+=("$p")
  r=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status")
  read -r ps pa pf < <(awk '/^Pss:/ {p = $2} /^Pss_Anon:/ {a = $2} /^Pss_File:/ {f = $2} END {print p, a, f}' "/proc/$p/smaps_rollup")
  printf '%-14s %8s %8s %8s %8s\n' "$(basename "$f" .pid)" "$r" "$ps" "$pa" "$pf"
  rss=$((rss + r)) pss=$((pss + ps))
done
echo "sum: RSS $rss kB, PSS $pss kB"
python3 - "${pids[@]}" <<'EOF'
import struct, sys
pages, files = set(), set()
for pid in sys.argv[1:]:
    with open(f'/proc/{pid}/maps') as maps, open(f'/proc/{pid}/pagemap', 'rb') as pagemap:
        for line in maps:
            f = line.split()
            if len(f) > 5 and f[5] == '[vsyscall]':
                continue
            lo, hi = (int(x, 16) for x in f[0].split('-'))
            pagemap.seek(lo // 4096 * 8)
            data = pagemap.read((hi - lo) // 4096 * 8)
            for (e,) in struct.iter_unpack('<Q', data):
                pfn = e & ((1 << 55) - 1)
                if e >> 63 and pfn:
                    pages.add(pfn)
                    if len(f) > 5 and f[5].startswith('/'):
                        files.add(pfn)
print(f"unique: {len(pages) * 4} kB resident ({len(files) * 4} kB file pages, {(len(pages) - len(files)) * 4} kB other)")
EOF
