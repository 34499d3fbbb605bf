#!/bin/bash
# Lifecycle under faults: drop-in scripts restarted with exponential backoff
# (capped by restart_max_backoff) after their bpftrace exits or is killed,
# stop = SIGINT then SIGKILL after stop_grace without the agent waiting, and
# no child left behind whichever way the agent ends (pmcd closing its pipe,
# SIGTERM, SIGKILL).
. "$(dirname "$0")/lib.sh"

# milliseconds a command takes
took_ms() { local t0; t0=$(ms_now); "$@" >/dev/null 2>&1; echo $(($(ms_now) - t0)); }
# every process the agent started, and everything in their process groups
agent_tree() {
    local a p; a=$(agent_pid)
    [ -n "$a" ] || return 0
    for p in $(pgrep -P "$a"); do
	echo "$p"; pgrep -g "$p"
    done | sort -u
}
# the restart delays logged for a script, in order: "1 2 4 "
delays() {
    grep "name=$1,.*restarting in" "$T/bpftrace.log" | sed 's/.*restarting in \([0-9]*\) s$/\1/' | tr '\n' ' '
}
advancing() {	# metric: its value grows within 10 s (bpftrace prints once a second, or so)
    local a b; a=$(value "$1")
    wait_until 10 bash -c "v=\$(pminfo -h $HOST -f $1 | sed -n 's/^    value //p'); [ -n \"\$v\" ] && [ \"\$v\" -gt \"${a:-0}\" ]"
}
conf() {	# conf EXTRA-LINES: dynamic scripts on, no auth, plus the lines
    printf '[dynamic_scripts]\nenabled = true\nauth_enabled = false\n%s\n' "$1"
}

drop quick <<'BT'
// exits at once: restarted with growing delays
BEGIN { @x = 1; exit(); }
BT
drop victim <<'BT'
interval:ms:100 { @n = count(); }
BT

# ---- 1: kill -9, capped backoff, pmcd closing the agent's pipe
start_pmcd "$(conf $'[limits]\nrestart_max_backoff = 2')" || exit 1
check "victim started" wait_until 20 started victim
pid1=$(value bpftrace.scripts.victim.pid)
check_eq "no restarts yet" "0" "$(value bpftrace.scripts.victim.restarts)"
check_eq "last_exit empty while the first bpftrace runs" "" "$(value bpftrace.scripts.victim.last_exit)"
kill -9 "$pid1"
check "kill -9: restarts counts it" wait_until 10 bash -c "[ \"\$(pminfo -h $HOST -f bpftrace.scripts.victim.restarts | sed -n 's/^    value //p')\" = 1 ]"
check_eq "kill -9: last_exit" "killed by signal 9 (Killed)" "$(value bpftrace.scripts.victim.last_exit)"
check "kill -9: a new bpftrace runs" wait_until 10 bash -c "p=\$(pminfo -h $HOST -f bpftrace.scripts.victim.pid | sed -n 's/^    value //p'); [ -n \"\$p\" ] && [ \"\$p\" != 0 ] && [ \"\$p\" != $pid1 ] && kill -0 \$p"
check "kill -9: restarted script started" wait_until 20 started victim
check "kill -9: values advance again" advancing bpftrace.scripts.victim.data.n
check "restart is logged with the reason" grep -q "name=victim,.*exited (killed by signal 9 (Killed)), restarting in 1 s" "$T/bpftrace.log"
# a run longer than restart_max_backoff earns a fresh backoff
sleep 3
kill -9 "$(value bpftrace.scripts.victim.pid)"
check "second kill: restarts 2" wait_until 10 bash -c "[ \"\$(pminfo -h $HOST -f bpftrace.scripts.victim.restarts | sed -n 's/^    value //p')\" = 2 ]"
check_eq "a long run resets the backoff to 1 s" "1 1 " "$(delays victim)"

check "exiting script restarted 4 times (cap 2)" wait_until 15 bash -c "[ \"\$(grep -c 'name=quick,.*restarting in' $T/bpftrace.log)\" -ge 4 ]"
check_eq "backoff 1, 2, then capped at restart_max_backoff = 2" "1 2 2 2 " "$(delays quick | cut -d' ' -f1-4) "
check_eq "exit code 0 is reported" "exit code 0" "$(value bpftrace.scripts.quick.last_exit)"

check "victim runs again" wait_until 10 started victim
kids=$(agent_tree)
check "agent has bpftrace children" test -n "$kids"
stop_pmcd
check "pmcd closed the pipe: no child left" wait_until 10 none_alive $kids
check "shutdown logged" grep -q "shutdown pmdabpftrace" "$T/bpftrace.log"

# ---- 2: uncapped backoff grows exponentially; stop; SIGTERM to the agent
: > "$T/bpftrace.log"
start_pmcd "$(conf '')" || exit 1
t0=$(ms_now)
check "victim started" wait_until 20 started victim
pid1=$(value bpftrace.scripts.victim.pid)
pst bpftrace.control.stop victim >/dev/null
check "stop: bpftrace exits on SIGINT" wait_until 5 exited "$pid1"
check "stop: status stopped" wait_until 5 bash -c "pminfo -h $HOST -f bpftrace.scripts.victim.status | grep -q '\"stopped\"'"
check_eq "stop: last_exit is bpftrace's own" "exit code 0" "$(value bpftrace.scripts.victim.last_exit)"
sleep 2
check_eq "stop: a stopped drop-in script is not restarted" "0" "$(value bpftrace.scripts.victim.restarts)"
check_eq "stop: no new pid" "$pid1" "$(value bpftrace.scripts.victim.pid)"
pst bpftrace.control.start victim >/dev/null
check "start: runs again" wait_until 20 started victim
check "start: a new bpftrace" bash -c "[ \"$(value bpftrace.scripts.victim.pid)\" != \"$pid1\" ]"

check "exiting script: 4 restarts logged" wait_until 20 bash -c "[ \"\$(grep -c 'name=quick,.*restarting in' $T/bpftrace.log)\" -ge 4 ]"
check_eq "backoff doubles: 1, 2, 4, 8 s" "1 2 4 8 " "$(delays quick | cut -d' ' -f1-4) "
secs=$((($(ms_now) - t0) / 1000))
n=$(value bpftrace.scripts.quick.restarts)
bound=2; for ((i = secs; i > 1; i /= 2)); do bound=$((bound + 1)); done
note "quick: $n restarts in $secs s (bound $bound)"
check "restarts after $secs s are bounded by ~log2 ($n <= $bound)" test "$n" -le "$bound"

kids=$(agent_tree)
apid=$(agent_pid)
check "agent has bpftrace children" test -n "$kids"
kill -TERM "$apid"
check "SIGTERM: the agent exits" wait_until 10 exited "$apid"
check "SIGTERM: no child left" wait_until 10 none_alive $kids
check "SIGTERM: exit is logged" grep -q "caught signal 15, exiting" "$T/bpftrace.log"
stop_pmcd

# ---- 3: SIGKILL to the agent: the parent-death signal ends its children
rm -f "$T/autostart/quick.bt"
start_pmcd "$(conf '')" || exit 1
check "victim started" wait_until 20 started victim
kids=$(agent_tree)
apid=$(agent_pid)
check "agent has bpftrace children" test -n "$kids"
kill -KILL "$apid"
check "SIGKILL: no child left" wait_until 10 none_alive $kids
stop_pmcd

# ---- 4: a child that ignores SIGINT is killed after stop_grace; nobody waits
cat > "$T/stubborn" <<'SH'
#!/bin/bash
# stands in for bpftrace: ignores SIGINT (and so do its children)
trap '' INT
[ "$1" = "-l" ] && { echo 'tracepoint:x:y'; exit 0; }
cat > /dev/null
echo '{"type": "attached_probes", "data": {"probes": 1}}'
n=0
while :; do n=$((n + 1)); echo "{\"type\": \"map\", \"data\": {\"@n\": $n}}"; sleep 0.2; done
SH
chmod 755 "$T/stubborn"
: > "$T/bpftrace.log"
start_pmcd "$(conf "$(printf '[bpftrace]\nbpftrace_path = %s\n[limits]\nstop_grace = 3' "$T/stubborn")")" || exit 1
check "bpftrace_path from the config is used" wait_until 20 started victim
spid=$(value bpftrace.scripts.victim.pid)
check_eq "wrapper runs with the script on stdin" "/bin/bash $T/stubborn -f json -" "$(ps -o args= -p "$spid")"
check "wrapper values arrive" advancing bpftrace.scripts.victim.data.n
t0=$(ms_now)
pst bpftrace.control.stop victim >/dev/null
ms=$(($(ms_now) - t0))
check "stop answers at once (${ms} ms)" test "$ms" -lt 1000
check_eq "status stopping during the grace period" "stopping" "$(value bpftrace.scripts.victim.status)"
worst=0
while [ $(($(ms_now) - t0)) -lt 2500 ]; do
    ms=$(took_ms pminfo -h "$HOST" -f bpftrace.scripts.victim.status bpftrace.info.scripts_json)
    [ "$ms" -gt "$worst" ] && worst=$ms
    sleep 0.2
done
check "pmcd requests stay fast during the grace period (worst ${worst} ms)" test "$worst" -lt 1000
check "the stubborn child is still alive after 2.5 s" kill -0 "$spid"
check "SIGKILL after stop_grace" wait_until 5 exited "$spid"
ms=$(($(ms_now) - t0))
check "killed after about stop_grace = 3 s (${ms} ms)" test "$ms" -ge 2900 -a "$ms" -lt 5000
check "status stopped" wait_until 3 bash -c "pminfo -h $HOST -f bpftrace.scripts.victim.status | grep -q '\"stopped\"'"
check_eq "last_exit names SIGKILL" "killed by signal 9 (Killed)" "$(value bpftrace.scripts.victim.last_exit)"
check_eq "a requested stop is no restart" "0" "$(value bpftrace.scripts.victim.restarts)"
# start while the stubborn child is still stopping: runs once it is gone
pst bpftrace.control.start victim >/dev/null
check "started again" wait_until 10 started victim
spid=$(value bpftrace.scripts.victim.pid)
pst bpftrace.control.stop victim >/dev/null
pst bpftrace.control.start victim >/dev/null
check "start during the grace period: a new bpftrace after the kill" wait_until 8 bash -c "! kill -0 $spid && p=\$(pminfo -h $HOST -f bpftrace.scripts.victim.pid | sed -n 's/^    value //p') && [ \"\$p\" != $spid ] && [ \"\$p\" != 0 ]"
check "... and it is started" wait_until 10 started victim
# the agent ends while a stubborn child runs: it must not wait for it
kids=$(agent_tree)
apid=$(agent_pid)
t0=$(ms_now)
kill -TERM "$apid"
check "SIGTERM with a stubborn child: the agent exits" wait_until 5 exited "$apid"
ms=$(($(ms_now) - t0))
check "... at once (${ms} ms)" test "$ms" -lt 2000
check "... and kills it" wait_until 5 none_alive $kids

# ---- 5: a debugger calling a function in the agent while it sleeps in
# poll() (gdb's "call") makes that poll fail once with a kernel-internal
# code; the agent logs it and carries on, its scripts untouched
stop_pmcd
start_pmcd "$(conf '')" || exit 1
check "victim started" wait_until 20 started victim
if command -v gdb >/dev/null; then
    apid=$(agent_pid)
    bpid=$(value bpftrace.scripts.victim.pid)
    gdb -p "$apid" -batch -ex 'call (int)getpid()' >"$T/gdb.out" 2>&1
    sleep 1
    check_eq "gdb's call: the same agent serves" "$apid" "$(agent_pid)"
    check_eq "... with the same bpftrace" "$bpid" "$(value bpftrace.scripts.victim.pid)"
    check "... whose values advance" advancing bpftrace.scripts.victim.data.n
else
    skip "a debugger's call into the agent: gdb is not installed (test/deps-debian installs it)"
fi

# ---- 6: started with SIGCHLD ignored, which exec hands on (a wrapper or
# an init system may leave it so): the kernel would reap the children
# unseen, scripts that exit would stay "started" and never restart, and
# a later stop would signal a process group that may no longer be theirs.
# The agent sets SIGCHLD back to its default first thing.
stop_pmcd
cat > "$T/ignore-sigchld" <<'PL'
#!/usr/bin/perl
$SIG{CHLD} = 'IGNORE';
exec @ARGV or die "exec: $!";
PL
chmod 755 "$T/ignore-sigchld"
: > "$T/bpftrace.log"
drop quick <<'BT'
BEGIN { @x = 1; exit(); }
BT
AGENT_PREFIX="$T/ignore-sigchld" start_pmcd "$(conf '')" || exit 1
check "SIGCHLD ignored by its parent: the agent runs" wait_until 20 started victim
check "...sees an exiting script end and restarts it" \
    wait_until 15 grep -q "name=quick,.*restarting in" "$T/bpftrace.log"
check_eq "...whose last exit it reports" "exit code 0" "$(value bpftrace.scripts.quick.last_exit)"
