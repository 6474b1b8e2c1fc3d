#!/usr/bin/env bash
# test_membership.sh BIN_DIR — membership certificates in every Noise handshake (docs/membership.md).
# A hub and three members of a managed mesh in network namespaces: alpha (the admin: its node key signs
# the certificates), beta and gamma, each with a certificate made by weft-cert. They ping each other.
# Then a fourth node, mallory, is put on the hub's roster (so the hub lists it and ICE connects it) but
# presents in turn a certificate signed by a non-admin key, an expired one, one for another mesh, and
# none at all: it never completes a handshake (ping fails both ways) and alpha's crypto counts each
# refusal. Last, the admin kicks gamma with a signed revocation sent to the hub (a real Kick request):
# within 5 s beta and alpha have closed gamma's sessions, gamma can no longer reach either, and the
# revocation is kept in each node's Redis (weft:revoked).
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
lab_init "${1:?usage: test_membership.sh BIN_DIR}"
CERT="$BIN/weft-cert"
[ -x "$CERT" ] || lab_fail "no weft-cert in $BIN"

lab_switch
lab_hub hub 10.99.0.1
HUB_REDIS="unix://$(lab_home hub)/run/redis.sock"
lab_wait 20 "the hub's redis" test -S "$(lab_home hub)/run/redis.sock"

# member_init NAME IP: a host and an initialised (not started) node; prints nothing
member_init() {
  lab_host "$1" "$2/24"
  "$BIN/weft" init --home "$(lab_home "$1")" --name "$1" --address "$3/16" --hub "$HUB_ENDPOINT" \
    --hub-key "$HUB_KEY" >/dev/null || lab_fail "weft init $1 failed"
  LAB_HOMES+=("$(lab_home "$1")")
}
node_id() { "$CERT" id "$(lab_home "$1")/identity.key"; }

# managed NAME: weft.yaml gets mesh.id and mesh.admin_key (the certificate is <home>/member.cert)
managed() {
  sed -i "/^mesh:/a\\  id: \"$MESH\"\\n  admin_key: \"$ADMIN\"" "$(lab_home "$1")/weft.yaml"
}
# issue NAME OVERLAY [weft-cert issue options]: a certificate for NAME signed by the admin (or --signer)
issue() {
  local name=$1 overlay=$2
  shift 2
  "$CERT" issue --signer "$(lab_home alpha)/identity.key" --mesh "$MESH" --member "$(node_id "$name")" \
    --address "$overlay/16" --out "$(lab_home "$name")/member.cert" "$@" || lab_fail "weft-cert issue for $name failed"
}
up() { lab_exec "$1" "$BIN/weft" up --home "$(lab_home "$1")" || lab_fail "weft up $1 failed"; }
down() { "$BIN/weft" down --home "$(lab_home "$1")" >/dev/null 2>&1 || true; }

crypto_counter() { lab_counter "$1" crypto "$2"; }   # crypto_counter NAME COUNTER
at_least() { [ "$(crypto_counter "$1" "$2")" -ge "$3" ]; }
no_ping() { ! lab_exec "$1" ping -c 3 -i 0.3 -W 1 "$2" >/dev/null 2>&1; }
pings() { lab_exec "$1" ping -c 5 -i 0.1 -W 2 "$2" | grep -q " 0% packet loss"; }

lab_log "three members, certificates signed by alpha's key"
member_init alpha 10.99.0.2 10.100.0.1
member_init beta 10.99.0.3 10.100.0.2
member_init gamma 10.99.0.4 10.100.0.3
member_init mallory 10.99.0.9 10.100.0.9
ADMIN=$(node_id alpha)
MESH=$("$CERT" mesh --redis "$HUB_REDIS" --name lab --admin "$ADMIN") || lab_fail "cannot create the mesh at the hub"
lab_log "mesh $MESH, admin $ADMIN"
i=1
for n in alpha beta gamma; do
  "$CERT" roster --redis "$HUB_REDIS" --mesh "$MESH" --member "$(node_id $n)" --name $n --address 10.100.0.$i ||
    lab_fail "cannot put $n on the roster"
  issue $n 10.100.0.$i
  managed $n
  i=$((i + 1))
done
"$CERT" roster --redis "$HUB_REDIS" --mesh "$MESH" --member "$(node_id mallory)" --name mallory --address 10.100.0.9 ||
  lab_fail "cannot put mallory on the roster"
"$CERT" show "$(lab_home beta)/member.cert"
for n in alpha beta gamma; do up $n; done

lab_wait 40 "alpha to connect to beta" lab_peer_connected alpha 10.100.0.2
lab_wait 40 "alpha to connect to gamma" lab_peer_connected alpha 10.100.0.3
lab_wait 40 "beta to connect to gamma" lab_peer_connected beta 10.100.0.3
for pair in "alpha 10.100.0.2" "alpha 10.100.0.3" "beta 10.100.0.1" "beta 10.100.0.3" "gamma 10.100.0.1" "gamma 10.100.0.2"; do
  set -- $pair
  lab_wait 15 "$1 to ping $2" pings "$1" "$2"
done
lab_log "members ping each other: every handshake carried and checked a certificate"
[ "$(crypto_counter alpha handshakes_refused)" -eq 0 ] || lab_fail "alpha refused a member's handshake"
grep -q "certificates checked" <("$BIN/weft" status --home "$(lab_home alpha)") ||
  lab_fail "alpha's crypto does not say it checks certificates"

# mallory_case DESCRIPTION: start mallory as it is configured; it must stay cut off
mallory_case() {
  local before
  before=$(crypto_counter alpha handshakes_refused)
  up mallory
  lab_wait 40 "mallory to have an ICE path to alpha" lab_peer_connected mallory 10.100.0.1
  no_ping mallory 10.100.0.1 || lab_fail "$1: mallory pinged alpha"
  no_ping alpha 10.100.0.9 || lab_fail "$1: alpha pinged mallory"
  no_ping beta 10.100.0.9 || lab_fail "$1: beta pinged mallory"
  lab_wait 10 "alpha to count the refusal ($1)" at_least alpha handshakes_refused $((before + 1))
  lab_log "$1: refused (alpha's handshakes_refused $before -> $(crypto_counter alpha handshakes_refused))"
  grep -h "refused a handshake" "$(lab_home alpha)"/log/crypto.log | tail -1 >&2
}
managed mallory
issue mallory 10.100.0.9 --signer "$(lab_home mallory)/identity.key"
mallory_case "certificate signed by a non-admin key"
down mallory
issue mallory 10.100.0.9 --expired-ago 60
mallory_case "expired certificate"
down mallory
OTHER=$(python3 -c 'import os; print(os.urandom(16).hex())')
"$CERT" issue --signer "$(lab_home alpha)/identity.key" --mesh "$OTHER" --member "$(node_id mallory)" \
  --address 10.100.0.9/16 --out "$(lab_home mallory)/member.cert"
mallory_case "certificate for another mesh"
down mallory
# no certificate at all: a node without mesh.id cannot even enter the mesh - discovery refuses to
# register under a managed mesh's id as a plain name, so the hub never relays its signals. (A handshake
# without a certificate against a member is refused too: tests/unit/test_session.c,
# test_cert_against_node_without_certificates.)
sed -i "/^  id: /d; /^  admin_key: /d; /^mesh:/,/^[a-z]/ s/^  name: .*/  name: \"$MESH\"/" "$(lab_home mallory)/weft.yaml"
rm -f "$(lab_home mallory)/member.cert"
up mallory
lab_wait 20 "mallory's discovery to refuse the managed mesh's id as a plain name" \
  grep -q "32 hex characters name a managed mesh" "$(lab_home mallory)/log/discovery.log"
no_ping alpha 10.100.0.9 || lab_fail "no certificate: alpha pinged mallory"
lab_log "no certificate: mallory cannot enter the mesh ($(grep -h -m1 -o "mesh.name .*managed mesh" "$(lab_home mallory)/log/discovery.log"))"
down mallory
pings alpha 10.100.0.2 || lab_fail "alpha -> beta broke during mallory's attempts"

lab_log "kick gamma: a revocation signed by the admin, sent to the hub"
lab_exec beta ping -D -i 0.1 -W 1 10.100.0.3 >"$LAB_DIR/beta-gamma.ping" 2>&1 & LAB_PIDS+=($!)
lab_wait 10 "beta's ping to reach gamma" grep -q "bytes from" "$LAB_DIR/beta-gamma.ping"
kick_at=$(date +%s.%N)
lab_exec alpha "$CERT" kick --hub "$HUB_ENDPOINT" --hub-key "$HUB_KEY" --admin "$(lab_home alpha)/identity.key" --mesh "$MESH" \
  --member "$(node_id gamma)" || lab_fail "the hub refused the kick"
lab_wait 5 "beta to revoke gamma" at_least beta revocations 1
lab_wait 5 "alpha to revoke gamma" at_least alpha revocations 1
revoked_at=$(date +%s.%N)
sleep 2
kill "${LAB_PIDS[-1]}" 2>/dev/null || true
last=$(grep "bytes from" "$LAB_DIR/beta-gamma.ping" | tail -1 | sed 's/^\[\([0-9.]*\)\].*/\1/')
cut=$(python3 -c "import sys; print('%+.3f' % (float(sys.argv[1]) - float(sys.argv[2])))" "$last" "$kick_at")
lab_log "kick -> both members revoked gamma: $(python3 -c "import sys; print('%.2f' % (float(sys.argv[1]) - float(sys.argv[2])))" "$revoked_at" "$kick_at") s; last reply beta got from gamma: $cut s after the kick"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 5.0 else 1)" "$cut" || lab_fail "gamma still answered $cut s after the kick"
no_ping gamma 10.100.0.2 || lab_fail "gamma still pings beta after the kick"
no_ping gamma 10.100.0.1 || lab_fail "gamma still pings alpha after the kick"
no_ping beta 10.100.0.3 || lab_fail "beta still pings gamma after the kick"
[ "$(crypto_counter beta sessions)" -le 1 ] || lab_fail "beta still has a session with gamma"
gamma_id=$(node_id gamma)
for n in alpha beta; do
  [ "$(redis-cli -s "$(lab_home $n)/run/redis.sock" SISMEMBER weft:revoked "$gamma_id")" = 1 ] ||
    lab_fail "$n did not keep the revocation in weft:revoked"
done
pings alpha 10.100.0.2 || lab_fail "alpha -> beta broke after the kick"
pings beta 10.100.0.1 || lab_fail "beta -> alpha broke after the kick"

lab_log "beta's crypto restarts (kill -9): gamma stays cut off, alpha is reached again"
old=$(lab_service_pid beta crypto)
kill -9 "$old"
lab_wait 10 "beta/crypto to be restarted" bash -c "p=\$(cat $(lab_home beta)/run/crypto.pid); [ -n \"\$p\" ] && [ \"\$p\" != $old ] && kill -0 \$p"
lab_wait 10 "beta to reach alpha again" pings beta 10.100.0.1
at_least beta revocations 1 || lab_fail "beta's restarted crypto forgot the revocation"
no_ping gamma 10.100.0.2 || lab_fail "gamma pings beta after beta's crypto restarted"
lab_log "PASS"
