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

# ---- with notready (as Install writes it), READY waits for bpftrace -l,
# as the Python agent lists the probes before it connects: a client that
# asks at once (grafana-pcp's editor fetches the list once and keeps it)
# gets the list, not "".  A lister that takes 3 s here.
stop_pmcd
cat > "$T/slowlist" <<EOF
#!/bin/sh
[ "\$1" = -l ] && sleep "\$(cat $T/slowlist.secs)"
exec bpftrace "\$@"
EOF
chmod 755 "$T/slowlist"
conf="[bpftrace]
bpftrace_path = $T/slowlist
[dynamic_scripts]
enabled = true
auth_enabled = false"
echo 3 > "$T/slowlist.secs"
: > "$T/bpftrace.log"
t0=$(ms_now)
start_pmcd "$conf" || exit 1
ms=$(($(ms_now) - t0))
check_match "once pmcd has the agent ready, the probe list is there at the first fetch" \
    "tracepoint:syscalls:sys_enter_read" "$(value bpftrace.info.tracepoints)"
check "...READY came after the 3 s listing (${ms} ms)" test "$ms" -ge 3000
check "...and was logged" grep -q "Ready to process requests.$" "$T/bpftrace.log"

# a lister that hangs holds READY back for 10 s, no longer
stop_pmcd
echo 60 > "$T/slowlist.secs"
: > "$T/bpftrace.log"
t0=$(ms_now)
start_pmcd "$conf" || exit 1
ms=$(($(ms_now) - t0))
check "a hung lister: READY after 10 s all the same (${ms} ms)" test "$ms" -ge 9500 -a "$ms" -lt 15000
check "...logged as such" grep -q "Ready to process requests (bpftrace -l still listing probes after 10 s)" "$T/bpftrace.log"
check_eq "...the list is empty meanwhile" "" "$(value bpftrace.info.tracepoints)"
stop_pmcd
pkill -f "$T/slowlist" 2>/dev/null

finish
