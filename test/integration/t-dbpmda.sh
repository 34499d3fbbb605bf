#!/bin/bash
# The agent driven by dbpmda, PCP's PMDA debugger, with no pmcd between:
# help text is given only for what exists now.  A client holding a PMID or
# an instance domain from before (pmlogger, pmproxy) asks the agent for
# text by number, and a metric that is gone, or a single value's indom
# that never was, must answer "no text", not another metric's help.
. "$(dirname "$0")/lib.sh"

command -v dbpmda >/dev/null || { skip "dbpmda is not installed (the pcp package has it)"; exit 0; }
printf '[dynamic_scripts]\nenabled = true\nauth_enabled = false\n' > "$T/bpftrace.conf"
drop one <<'BT'
interval:ms:100 { @a = count(); @m[1] = count(); }
BT
# -R: no READY notice, which dbpmda would take for the answer to its
# first request, and every answer after would be one behind
cat > "$T/dbpmda.in" <<IN
open pipe $AGENT_BIN -R -d 151 -c $T/bpftrace.conf -A $T/autostart -M $T/map -l $T/bpftrace.log
wait 3
text indom 151.0
text 151.100.1
text 151.100.10
text indom 151.100011
text indom 151.100010
text 151.4000.1
text 151.4000.10
text indom 151.4000011
IN
timeout 60 dbpmda -e < "$T/dbpmda.in" > "$T/dbpmda.out" 2>&1
# block WHAT: dbpmda's output for the last "text WHAT" command
block() { awk -v c="text $1" '$0 == c { n++; b = "" ; next } /^(text|wait) / { if (n) { last = b; n = 0 } } n { b = b $0 "\n" } END { if (n) last = b; printf "%s", last }' "$T/dbpmda.out"; }
check_match "the scripts' indom has its text" "bpftrace scripts" "$(block 'indom 151.0')"
check_match "a live script's pid has its text" "pid of bpftrace process" "$(block 151.100.1)"
check_match "a live variable has its text" "@a variable of bpftrace script" "$(block 151.100.10)"
check_match "a live map's indom has its text" "keys of a bpftrace map" "$(block 'indom 151.100011')"
check_match "a single value's indom (none) has no text" "text is not available" "$(block 'indom 151.100010')"
check "...and no map's text" bash -c "! grep -q 'keys of a bpftrace map' <<< '$(block 'indom 151.100010')'"
check_match "a cluster no script holds: no text for its pid" "text is not available" "$(block 151.4000.1)"
check "...nor the status help in its place" bash -c "! grep -q 'bpftrace process' <<< '$(block 151.4000.1)'"
check_match "...no text for a variable item there" "text is not available" "$(block 151.4000.10)"
check_match "...nor for an indom there" "text is not available" "$(block 'indom 151.4000011')"
