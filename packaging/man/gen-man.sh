#!/usr/bin/env bash
# gen-man.sh WEFT OUT — writes the weft(1) man page OUT from the built weft's own help, at build time:
# help2man turns `weft --help` and `weft --version` into the page, and the help of every command and
# subcommand (the same walk as scripts/gen-cli-doc.sh: the names under "commands:"/"subcommands:", and
# the word after "weft CMD" in a usage line) goes in as the section COMMANDS IN DETAIL, verbatim.
set -euo pipefail
W=${1:?usage: gen-man.sh WEFT OUT}
OUT=${2:?usage: gen-man.sh WEFT OUT}
command -v help2man >/dev/null || { echo "gen-man.sh: help2man is not installed (apt-get install help2man)" >&2; exit 1; }
unset $(env | sed -n 's/^\(WEFT_[A-Za-z0-9_]*\)=.*/\1/p') 2>/dev/null || true
export HOME=/nonexistent LC_ALL=C    # the same page wherever it is built

names_under() {
  awk '/^(sub)?commands:$/ { inside = 1; next } inside && /^$/ { inside = 0 } inside && /^  [a-z]/ { print $1 }'
}
subcommands_of() {   # CMD: its subcommands, from its help
  local help
  help=$("$W" "$1" --help 2>&1) || return 0
  { names_under <<<"$help"; sed -nE "s/^(usage:)? +weft $1 ([a-z][a-z-]*)( .*)?$/\2/p" <<<"$help"; } | awk '!seen[$0]++'
}
# roff-safe verbatim text: backslashes doubled, a leading . or ' escaped
verbatim() { printf '.nf\n'; sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; printf '.fi\n'; }

include=$(mktemp)
trap 'rm -f "$include"' EXIT
{
  echo "[COMMANDS IN DETAIL]"
  for cmd in $("$W" --help | names_under); do
    echo ".SS \"weft $cmd\""
    "$W" "$cmd" --help 2>&1 | verbatim
    for sub in $(subcommands_of "$cmd"); do
      "$W" "$cmd" "$sub" --help >/dev/null 2>&1 || continue
      echo ".SS \"weft $cmd $sub\""
      "$W" "$cmd" "$sub" --help 2>&1 | verbatim
    done
  done
  cat <<'TEXT'
[FILES]
.TP
.I ~/.weft/ \fRor\fP $WEFT_HOME
a node's home: weft.yaml, identity.key, run/ (sockets, pids), log/ (one file per service), data/ (its Redis)
.TP
.I ~/.weft-hub/
a hub's default home (hub.key, its Redis, log/)
.TP
.I /var/lib/weft/NAME/
the home of the node the systemd unit weft@NAME.service runs
.TP
.I /var/lib/weft-hub/
the home of the hub weft-hub.service runs
[ENVIRONMENT]
.TP
.B WEFT_HOME
the home when --home is not given
.TP
.B WEFT_*
every weft.yaml key has one (the list is in docs/config.md)
.TP
.B JOURNAL_STREAM
set by systemd: logs go to the journal, one stream tagged by service, instead of files
[SIGNALS]
SIGHUP to the supervisor (systemctl reload, or logrotate's postrotate) makes every service reopen its
log file; SIGTERM stops the node.
[SEE ALSO]
The docs/ folder of weft's sources: install.md, operations.md, config.md, api.md, membership.md.
TEXT
} >"$include"
help2man --no-info --no-discard-stderr --section=1 --name="peer-to-peer mesh VPN" \
  --include="$include" --output="$OUT" "$W"
