#!/bin/bash
# A drop-in script whose bpftrace cannot even be started (here: the agent
# is out of file descriptors, so pipe2() fails with EMFILE) reports the
# error, is retried with the usual backoff, and starts once the shortage
# is over.  Nobody has to touch the file.
#
# Starting a script takes 6 descriptors for a moment (three pipes) and
# keeps 3 until its program is written, then 2.  The agent gets a
# descriptor limit that leaves it 10 free: the first two scripts of one
# scan start, the third cannot, and 1 s later (their programs written by
# then) there is room for it.
. "$(dirname "$0")/lib.sh"

# 1. the agent's descriptors with no script running
start_pmcd || exit 1
apid=$(agent_pid)
check "agent runs" test -n "$apid"
# at start-up the agent also lists the probes with "bpftrace -l": its
# pipes come and go, so wait for it to end before counting descriptors
check "the probe lister has ended" wait_until 60 bash -c "! pgrep -P $apid >/dev/null"
open=$(ls /proc/"$apid"/fd 2>/dev/null | sort -n | tr '\n' ' ')
note "agent descriptors without scripts: $open"
stop_pmcd
wait_until 5 exited "$apid"

# the lowest limit with 10 descriptor numbers free below it
limit=0 free=0
while [ "$free" -lt 10 ]; do
    [[ " $open" == *" $limit "* ]] || free=$((free + 1))
    limit=$((limit + 1))
done
note "descriptor limit for the agent: $limit"

for n in one two three; do
    drop "$n" <<'BT'
interval:ms:100 { @n = count(); }
BT
done

# 2. the same agent under that limit, three scripts in its first scan, all
# three started at once (max_starting would otherwise hold the third back
# until one had attached, and by then there are descriptors for it)
AGENT_PREFIX="prlimit --nofile=$limit:$limit" start_pmcd "$(printf '%s\n' \
    '[dynamic_scripts]' 'enabled = true' 'auth_enabled = false' '[limits]' 'max_starting = 3')" || exit 1
check "a script could not start: no descriptor left (logged)" \
    wait_until 10 grep -q "failed to start .*cannot start .*Too many open files" "$T/bpftrace.log"
check "the retry is logged with the reason and the delay" \
    wait_until 10 grep -q "could not start (not started: Too many open files), restarting in 1 s" "$T/bpftrace.log"
for n in one two three; do
    check "$n: started" wait_until 20 started "$n"
    check "$n: values advance" wait_until 10 has_data bpftrace.scripts.$n.data.n
done
retried=
for n in one two three; do
    [ "$(value bpftrace.scripts.$n.restarts)" -ge 1 ] && retried="$retried $n"
done
check "the script that could not start counts a restart" test -n "$retried"
for n in $retried; do
    check_match "$n: last_exit says why it did not start" "^not started: Too many open files$" \
	"$(value bpftrace.scripts.$n.last_exit)"
done
