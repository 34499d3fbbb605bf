#!/bin/bash
# max_starting: at most that many bpftrace processes compile and attach at
# once; the scripts after them wait their turn in status "starting", with
# no pid, and start in the order they came as places free up (an attach,
# an exit, or 10 s without attaching).  A script stopped or deregistered
# while it waits never runs.
#
# bpftrace_path is a wrapper that waits before it runs the real bpftrace,
# so each start takes a known while: 4 s, or 20 s for a script that says
# "slowstart".
. "$(dirname "$0")/lib.sh"

make -s -C "$TOP" helpers || exit 1
SAF=$TOP/build/store_and_fetch

cat > "$T/slowbpftrace" <<'EOF'
#!/bin/sh
f=$(mktemp)
cat > "$f"
if grep -q slowstart "$f"; then delay=20; else delay=4; fi
exec < "$f"
rm -f "$f"
sleep "$delay"
exec bpftrace "$@"
EOF
chmod 755 "$T/slowbpftrace"

pid_of() { value "bpftrace.scripts.$1.pid"; }
has_pid() { [ "$(pid_of "$1")" -gt 0 ] 2>/dev/null; }
# register NAME [WORD]: a named script, registered through pmstore; WORD
# goes into a comment (the wrapper looks for "slowstart")
register() {
    printf '// name: %s\n// %s\ninterval:ms:100 { @n = count(); }\n' "$1" "${2:-}" > "$T/$1.bt"
    "$SAF" -h "$HOST" -f "$T/$1.bt" bpftrace.control.register > "$T/$1.answer" 2>&1
}
# the line number of the log line that started script NAME (0: none yet)
started_at() {
    grep -n "script: started .*name=$1," "$T/bpftrace.log" | head -1 | cut -d: -f1 | grep . || echo 0
}

start_pmcd "$(printf '%s\n' '[bpftrace]' "bpftrace_path = $T/slowbpftrace" \
    '[dynamic_scripts]' 'enabled = true' 'auth_enabled = false' \
    '[limits]' 'max_starting = 1')" || exit 1

# ---- 1: one at a time, in order
for n in one two three; do register "$n"; done
check_match "the answer for a waiting script says starting" '"status": *"starting"' "$(cat "$T/three.answer")"
check "one: has a bpftrace" has_pid one
check_eq "two: waits, with no pid" "0" "$(pid_of two)"
check_eq "three: waits, with no pid" "0" "$(pid_of three)"
check_eq "two: its status is starting" "starting" "$(value bpftrace.scripts.two.status)"
check "the log says two waits, and why" \
    grep -q "name=two.* waits to start: 1 bpftrace already starting (max_starting 1)" "$T/bpftrace.log"
check_match "pid's help text says what its 0 means" "0 while the script.*waits for its turn to start" \
    "$(pminfo -h "$HOST" -T bpftrace.scripts.two.pid | tr '\n' ' ')"
check "one: started" wait_until 30 started one
check "two: gets its bpftrace once one has attached" wait_until 10 has_pid two
check_eq "three: still waits while two starts" "0" "$(pid_of three)"
check "two: started" wait_until 30 started two
check "three: started" wait_until 30 started three
for n in one two three; do
    check "$n: has values" wait_until 10 has_data "bpftrace.scripts.$n.data.n"
done
a=$(started_at one) b=$(started_at two) c=$(started_at three)
check "they started in the order they were registered ($a < $b < $c)" \
    test "$a" -gt 0 -a "$a" -lt "$b" -a "$b" -lt "$c"

# ---- 2: stopped or deregistered while waiting: never runs
register four
register five
register six
check "five: waits" test "$(pid_of five)" = 0
check "control.stop of a waiting script succeeds" pst bpftrace.control.stop five
check_eq "five: stopped" "stopped" "$(value bpftrace.scripts.five.status)"
check "control.deregister of a waiting script succeeds" pst bpftrace.control.deregister six
check "six: gone from the namespace" bash -c "! pminfo -h $HOST bpftrace.scripts.six >/dev/null 2>&1"
check "four: started" wait_until 30 started four
sleep 6		# what would have been five's and six's turns
check_eq "five: never got a bpftrace" "0" "$(pid_of five)"
check_eq "five: still stopped" "stopped" "$(value bpftrace.scripts.five.status)"
check "the log never started five or six" bash -c "! grep -Eq 'script: started .*name=(five|six),' $T/bpftrace.log"
check "control.start of the stopped one runs it" pst bpftrace.control.start five
check "five: started" wait_until 30 started five

# ---- 3: a bpftrace that takes too long to attach stops holding the place
register slow slowstart
register seven
t0=$(date +%s)
check "slow: has a bpftrace" has_pid slow
check "seven: waits while slow starts" test "$(pid_of seven)" = 0
check "seven: gets its bpftrace after 10 s, slow not attached yet" wait_until 20 has_pid seven
t1=$(date +%s)
check_eq "slow: still starting then" "starting" "$(value bpftrace.scripts.slow.status)"
check "seven waited about 10 s ($((t1 - t0)) s)" test $((t1 - t0)) -ge 8
check "seven: started" wait_until 30 started seven
check "slow: started in the end" wait_until 30 started slow
