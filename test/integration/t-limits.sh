#!/bin/bash
# Limits, each set in bpftrace.conf and each enforced: max_throughput stops a
# script, max_line drops a line (counted in parse_errors), max_output bounds
# data.output, max_instances drops new keys (counted in dropped_keys),
# max_scripts refuses registrations; and a flood under max_throughput does
# not slow down anybody else's requests.
. "$(dirname "$0")/lib.sh"

make -s -C "$TOP" helpers || exit 1
SAF=$TOP/build/store_and_fetch
num() { pminfo -h "$HOST" -f "$1" 2>/dev/null | sed -n 's/^    value //p' | head -1; }
# register TEXT: store it into control.register, answer in $T/answer
register() {
    printf '%s' "$1" > "$T/script"
    "$SAF" -h "$HOST" -f "$T/script" bpftrace.control.register > "$T/answer" 2> "$T/store.err"
}
xs() { head -c "$1" /dev/zero | tr '\0' x; }

# ---- 1: the limits, small
drop flood <<BT
// about 500 KB/s, five times max_throughput
interval:ms:1 { printf("$(xs 500)\n"); }
BT
drop longline <<BT
// every printf line is longer than max_line; the map lines are not
interval:ms:200 { printf("$(xs 2000)\n"); @n = count(); }
BT
drop output <<BT
interval:ms:10 { printf("line %d $(xs 80)\n", @i); @i = @i + 1; }
BT
drop keys <<'BT'
// up to 50 keys; max_instances keeps 5
interval:ms:10 { @m[rand % 50] = count(); }
BT
drop zextra <<'BT'
interval:ms:100 { @n = count(); }
BT
start_pmcd "$(printf '%s\n' '[bpftrace]' 'max_throughput = 100000' \
    '[dynamic_scripts]' 'enabled = true' 'auth_enabled = false' \
    '[limits]' 'max_line = 1000' 'max_output = 2000' 'max_instances = 5' 'max_scripts = 4')" || exit 1

# max_throughput
check "max_throughput: flooding script is stopped with status error" \
    wait_until 20 bash -c "pminfo -h $HOST -f bpftrace.scripts.flood.status | grep -q '\"error\"'"
check_eq "max_throughput: the error names the limit" \
    "BPFtrace output exceeds limit of 100000 bytes per second" "$(value bpftrace.scripts.flood.error)"
check_match "max_throughput: last_exit names max_throughput" "max_throughput" "$(value bpftrace.scripts.flood.last_exit)"
check "max_throughput: the log names max_throughput" grep -q "name=flood.*exceeds limit of 100000 bytes per second.*max_throughput" "$T/bpftrace.log"
check "max_throughput: its bpftrace is gone" exited "$(num bpftrace.scripts.flood.pid)"
sleep 2
check_eq "max_throughput: not restarted" "0" "$(num bpftrace.scripts.flood.restarts)"
check_eq "max_throughput: still error" "error" "$(value bpftrace.scripts.flood.status)"

# max_line
check "max_line: over-long lines are counted in parse_errors" \
    wait_until 10 bash -c "[ \"\$(pminfo -h $HOST -f bpftrace.scripts.longline.parse_errors | sed -n 's/^    value //p')\" -ge 3 ]"
check "max_line: the script keeps running" started longline
n1=$(num bpftrace.scripts.longline.data.n)
check "max_line: its other values advance" wait_until 10 bash -c "[ \"\$(pminfo -h $HOST -f bpftrace.scripts.longline.data.n | sed -n 's/^    value //p')\" -gt ${n1:-0} ]"
check "max_line: no over-long text reached data.output" bash -c "! pminfo -h $HOST -f bpftrace.scripts.longline.data.output | grep -q xxxxxxxxxx"
check "max_line: the drop is logged" grep -q "longline: dropped a bpftrace output line of [0-9]* bytes, longer than max_line 1000" "$T/bpftrace.log"

# max_output
outlen() { pminfo -h "$HOST" -f bpftrace.scripts.output.data.output | sed -n '/^    value "/,$p' | wc -c; }
check "max_output: output fills up" wait_until 10 bash -c "[ \$(pminfo -h $HOST -f bpftrace.scripts.output.data.output | sed -n '/^    value \"/,\$p' | wc -c) -gt 1500 ]"
o1=$(pminfo -h "$HOST" -f bpftrace.scripts.output.data.output); l1=$(outlen)
sleep 2
o2=$(pminfo -h "$HOST" -f bpftrace.scripts.output.data.output); l2=$(outlen)
note "data.output: $l1 then $l2 bytes as pminfo prints them"
# pminfo adds 'value ""' and a newline around the text
check "max_output: data.output stays within max_output = 2000 ($l1, $l2)" test "$l1" -le 2020 -a "$l2" -le 2020
# lines of about 90 bytes: some 20 fit
n1=$(echo "$o1" | grep -o 'line [0-9]*' | tail -1 | cut -d' ' -f2)
first2=$(echo "$o2" | grep -o 'line [0-9]*' | head -1 | cut -d' ' -f2)
n=$(echo "$o2" | grep -c 'line [0-9]* x*$')
check "max_output: whole lines kept ($n)" test "$n" -ge 10 -a "$n" -le 23
check "max_output: the oldest lines go, the newest stay (${n1:-?} < ${first2:-?})" test "${first2:-0}" -gt "${n1:-0}"

# max_instances
check "max_instances: keys beyond the cap are counted" \
    wait_until 10 bash -c "[ \"\$(pminfo -h $HOST -f bpftrace.scripts.keys.dropped_keys | sed -n 's/^    value //p')\" -gt 0 ]"
n=$(instances bpftrace.scripts.keys.data.m | wc -l)
check_eq "max_instances: 5 instances" "5" "$n"
d1=$(num bpftrace.scripts.keys.dropped_keys)
check "max_instances: dropped_keys keeps counting" wait_until 10 bash -c "[ \"\$(pminfo -h $HOST -f bpftrace.scripts.keys.dropped_keys | sed -n 's/^    value //p')\" -gt $d1 ]"
check "max_instances: the script keeps running" started keys

# max_scripts: 4 drop-ins fill it
check "max_scripts: the fifth drop-in file is skipped" \
    grep -q "Skipping autostart script $T/autostart/zextra.bt: too many scripts: the limit is 4 (max_scripts)" "$T/bpftrace.log"
check "max_scripts: ... and has no metrics" bash -c "! pminfo -h $HOST bpftrace.scripts.zextra >/dev/null 2>&1"
register 'interval:ms:100 { @y = count(); }'
rc=$?
check "max_scripts: registering beyond it fails" test "$rc" -ne 0
check_match "max_scripts: with PM_ERR_BADSTORE" "^pmStore: Bad input to pmstore" "$(cat "$T/store.err")"
check_match "max_scripts: the answer says why" '"status": "error".*"error": "too many scripts: the limit is 4 \(max_scripts\)"' "$(cat "$T/answer")"
check_eq "max_scripts: still 4 scripts" "4" "$(pminfo -h $HOST -f bpftrace.info.scripts | grep -c 'inst \[')"
# a drop-in refused for want of room gets the first place that frees up
rm -f "$T/autostart/keys.bt"
check "max_scripts: the waiting drop-in file takes a freed place" \
    wait_until 15 bash -c "pminfo -h $HOST -f bpftrace.scripts.zextra.status | grep -q start"
check_eq "max_scripts: its refusal was logged once" "1" \
    "$(grep -c "Skipping autostart script $T/autostart/zextra.bt" "$T/bpftrace.log")"
rm -f "$T/autostart/zextra.bt"
check "max_scripts: a freed place can be registered" wait_until 15 register 'interval:ms:100 { @y = count(); }'
check_match "max_scripts: the new script is starting" '"status": "(starting|started)"' "$(cat "$T/answer")"
check "max_scripts: the agent lives" pmi bpftrace.info.scripts_json
# max_instances counts every key a map has had: when its keys come and go
# (pids), ids start again above the old ones rather than every new key
# being dropped for good once 5 have been seen
rm -f "$T/autostart/output.bt"
drop churn <<'BT'
// one key at a time, a new one at every print
interval:ms:100 { delete(@k[@i - 1]); @k[@i] = 1; @i = @i + 1; }
BT
check "max_instances: a map whose keys come and go is served past the cap (ids above 4)" \
    wait_until 30 bash -c "pminfo -h $HOST -f bpftrace.scripts.churn.data.k | grep -Eq 'inst \[([5-9]|[1-9][0-9]+) or'"
note "churn: $(pminfo -h $HOST -f bpftrace.scripts.churn.data.k | grep 'inst \[') dropped_keys $(num bpftrace.scripts.churn.dropped_keys)"
stop_pmcd

# ---- 2: a flood under max_throughput does not slow anybody down
rm -f "$T"/autostart/*.bt
drop flood <<BT
// about 8 MB/s
interval:ms:1 { printf("$(xs 2000)\n"); printf("$(xs 2000)\n"); printf("$(xs 2000)\n"); printf("$(xs 2000)\n"); }
BT
drop tick <<'BT'
interval:ms:100 { @n = count(); }
BT
: > "$T/bpftrace.log"
start_pmcd "$(printf '%s\n' '[bpftrace]' 'max_throughput = 1073741824' \
    '[dynamic_scripts]' 'enabled = true' 'auth_enabled = false')" || exit 1
check "flood: started" wait_until 20 started flood
check "tick: started" wait_until 20 started tick
b1=$(num bpftrace.scripts.flood.data_bytes)
sleep 1
b2=$(num bpftrace.scripts.flood.data_bytes)
note "flood: $(((b2 - b1) / 1024)) KiB/s read"
check "flood: really floods (> 1 MB/s: $((b2 - b1)) B/s)" test $((b2 - b1)) -gt 1000000
worst=0
for i in $(seq 10); do
    t0=$(ms_now)
    v=$(num bpftrace.scripts.tick.data.n)
    ms=$(($(ms_now) - t0))
    [ "$ms" -gt "$worst" ] && worst=$ms
    sleep 0.2
done
check "flood: another script's metric answers quickly (worst of 10: ${worst} ms)" test "$worst" -lt 1000
check "flood: ... with a value" test -n "$v"
t0=$(ms_now)
pmi -f bpftrace.info.scripts_json >/dev/null
ms=$(($(ms_now) - t0))
check "flood: scripts_json answers quickly (${ms} ms)" test "$ms" -lt 1000
check_eq "flood: under the limit it keeps running" "started" "$(value bpftrace.scripts.flood.status)"

# ---- every pmstore's PDU buffer is freed: libpcp_pmda (PCP 6.0 to 7.2)
# keeps the decoded store's buffer, about 100 bytes a store, refused ones
# included, unless the agent unpins it (3,000 stores leaked ~290 kB)
stop_pmcd
rm -f "$T"/autostart/*.bt	# no script: nothing else grows
start_pmcd || exit 1
apid=$(agent_pid)
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$apid/status"; }
for i in $(seq 1 500); do pst bpftrace.control.stop nosuch >/dev/null 2>&1; done
rss0=$(rss)
for i in $(seq 1 3000); do pst bpftrace.control.stop nosuch >/dev/null 2>&1; done
rss1=$(rss)
if ldd "$AGENT_BIN" 2>/dev/null | grep -q libasan; then
    # its quarantine keeps freed memory: 3,000 stores grow it by ~100 MB
    skip "the agent's RSS after 3,000 stores: an AddressSanitizer build's RSS says nothing of leaks (LeakSanitizer checks them at exit)"
else
    check "3,000 refused stores: the agent's RSS grew $((rss1 - rss0)) kB (< 120 kB)" test $((rss1 - rss0)) -lt 120
fi
check_eq "...and it is the same agent" "$apid" "$(agent_pid)"
