#!/bin/bash
# READY and pmcd.conf's "notready".  Install writes "binary notready", and
# every other test runs the agent that way: pmcd waits for the agent's
# READY before it sends requests.  A pmcd.conf line without "notready"
# (an older Install, a hand-written line) must come with -R: pmcd then
# takes any PDU it did not ask for as a protocol failure and closes the
# agent down, so with -R the agent must send no READY at all and simply
# serve.  (Without -R on such a line, pmcd logs "protocol failure" and the
# agent is gone within a second: checked by hand, not here, as it is pmcd
# that decides.)
. "$(dirname "$0")/lib.sh"

AGENT_IPC=binary AGENT_ARGS=-R start_pmcd || exit 1
check "pmcd.conf has no notready" bash -c "! grep -q notready '$T/pmcd.conf'"
check "pmcd.conf runs the agent with -R" grep -q -- ' -R$' "$T/pmcd.conf"
apid=$(agent_pid)
check "agent runs" test -n "$apid"

drop tick <<'BT'
interval:ms:100 { @n = count(); }
BT
check "a drop-in script has data" wait_until 30 has_data bpftrace.scripts.tick.data.n
first=$(value bpftrace.scripts.tick.data.n)
sleep 2
last=$(value bpftrace.scripts.tick.data.n)
check "its counter goes on counting ($first, then $last)" test "${last:-0}" -gt "${first:-0}"
check "the same agent serves it (pid $apid)" test "$(agent_pid)" = "$apid"
check "pmcd logged no protocol failure" bash -c "! grep -qi 'protocol failure' '$T/pmcd.log'"
check "the agent sent no READY" bash -c "! grep -q 'Ready to process requests' '$T/bpftrace.log'"
check "nor says it is notready" bash -c "! grep -q \"'notready' state\" '$T/bpftrace.log'"

finish
