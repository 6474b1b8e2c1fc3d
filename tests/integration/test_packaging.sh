#!/usr/bin/env bash
# test_packaging.sh BIN_DIR — what `cmake --install` adds for running weft as a service (packaging/):
#  - bash completion offers exactly the commands of the table in services/cli/main.c, each command's
#    subcommands and options as its --help names them, directories after --home, meshes after --mesh;
#  - the man page built from --help has a section for every command and renders without warnings;
#  - `cmake --install` puts the units (naming the installed weft, for the prefix given), completion, man
#    page and /var/lib/weft in place;
#  - a hub and a node do not share a default home (~/.weft-hub and ~/.weft).
set -euo pipefail
BIN=$(cd "${1:?usage: test_packaging.sh BIN_DIR}" && pwd)
BUILD=$(dirname "$BIN")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W="$BIN/weft"
TMP=$(mktemp -d /tmp/weft-packaging.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# --- bash completion ---
table=$(sed -nE 's/^ *\{"([a-z]+)", cmd_[a-z_]+,.*/\1/p' "$ROOT/services/cli/main.c" | sort)
[ -n "$table" ] || fail "no command table found in services/cli/main.c"
source "$ROOT/packaging/bash-completion/weft"
complete_words() {  # WORD... (the last one is being completed): COMPREPLY, one per line, sorted
  COMP_WORDS=("$W" "$@")
  COMP_CWORD=$#
  COMPREPLY=()
  _weft
  printf '%s\n' "${COMPREPLY[@]}" | sort
}
got=$(complete_words "" | grep -v '^--')
[ "$got" = "$table" ] || fail "weft <TAB> offers '$(echo $got)', the command table has '$(echo $table)'"
[ "$(complete_words "st")" = status ] || fail "weft st<TAB> does not complete to status"
for cmd in $table; do
  opts=$(complete_words "$cmd" "--")
  grep -qx -- "--help" <<<"$opts" || fail "weft $cmd --<TAB> does not offer --help: '$(echo $opts)'"
done
for sub in create invite join kick list leave; do
  complete_words mesh "" | grep -qx "$sub" || fail "weft mesh <TAB> does not offer $sub: '$(complete_words mesh "" | tr '\n' ' ')'"
done
[ "$(complete_words hub "" | tr '\n' ' ')" = "key token " ] || fail "weft hub <TAB>: '$(complete_words hub "" | tr '\n' ' ')'"
complete_words up "--" | grep -qx -- "--foreground" || fail "weft up --<TAB> does not offer --foreground"
complete_words mesh create "--" | grep -qx -- "--hub-key" || fail "weft mesh create --<TAB> does not offer --hub-key"
mkdir -p "$TMP/homes/alpha/meshes/office" "$TMP/homes/alpha/meshes/lab"
[ "$(complete_words up --home "$TMP/homes/al")" = "$TMP/homes/alpha" ] || fail "weft up --home DIR<TAB> does not complete the directory"
[ "$(complete_words status --home "$TMP/homes/alpha" --mesh "" | tr '\n' ' ')" = "lab office " ] ||
  fail "weft status --home H --mesh <TAB> does not offer the home's meshes"

# --- the man page ---
man_gz="$BUILD/packaging/weft.1.gz"
if [ -f "$man_gz" ]; then
  page=$(zcat "$man_gz")
  for cmd in $table; do
    grep -q "^\.SS \"weft $cmd\"" <<<"$page" || fail "the man page has no section for weft $cmd"
  done
  grep -qF "$("$W" up --help | head -1 | cut -c1-40)" <<<"$page" || fail "the man page lacks weft up's help"
  warnings=$(groff -man -Tutf8 -ww -z <<<"$page" 2>&1 || true)
  [ -z "$warnings" ] || fail "groff warns about the man page: $warnings"
else
  fail "no $man_gz (help2man missing at configure time? scripts/install-deps.sh installs it)"
fi

# --- cmake --install ---
for prefix in /usr /usr/local; do
  dest="$TMP/install$prefix"
  DESTDIR="$dest" cmake --install "$BUILD" --prefix "$prefix" >/dev/null || { fail "cmake --install --prefix $prefix failed"; continue; }
  for f in "$prefix/bin/weft" "$prefix/bin/weft-hub" "$prefix/lib/systemd/system/weft@.service" \
           "$prefix/lib/systemd/system/weft-hub.service" "$prefix/share/bash-completion/completions/weft" \
           "$prefix/share/man/man1/weft.1.gz"; do
    [ -f "$dest$f" ] || fail "cmake --install --prefix $prefix has no $f"
  done
  [ -d "$dest/var/lib/weft" ] && [ "$(stat -c %a "$dest/var/lib/weft")" = 700 ] || fail "no /var/lib/weft (mode 700)"
  grep -qx "ExecStart=$prefix/bin/weft up --foreground --home /var/lib/weft/%i" "$dest$prefix/lib/systemd/system/weft@.service" ||
    fail "weft@.service (prefix $prefix) does not start $prefix/bin/weft: $(grep ExecStart "$dest$prefix/lib/systemd/system/weft@.service")"
  grep -qx "ExecStart=$prefix/bin/weft hub --foreground --home /var/lib/weft-hub" "$dest$prefix/lib/systemd/system/weft-hub.service" ||
    fail "weft-hub.service (prefix $prefix) does not start $prefix/bin/weft hub"
done

# --- default homes: a hub's is not a node's ---
mkdir "$TMP/user"
(unset WEFT_HOME; HOME="$TMP/user" "$W" hub key >/dev/null) || fail "weft hub key with the default home failed"
[ -f "$TMP/user/.weft-hub/hub.key" ] || fail "the hub's default home is not ~/.weft-hub"
[ ! -e "$TMP/user/.weft" ] || fail "weft hub key wrote into ~/.weft, a node's default home"

[ $failures -eq 0 ] || { echo "test_packaging: $failures failure(s)" >&2; exit 1; }
echo "test_packaging: PASS"
