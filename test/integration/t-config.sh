#!/bin/bash
# bpftrace.conf as upstream reads it: [bpftrace] bpftrace_path,
# script_expiry_time, max_throughput; [dynamic_scripts].  Bad lines are
# logged with their line number and the agent starts with defaults for
# them.  (Authentication settings: t-auth.sh; expiry: t-control.sh.)
. "$(dirname "$0")/lib.sh"

logged() { grep -q -- "$1" "$T/bpftrace.log"; }
restart() {
    stop_pmcd
    start_pmcd "$1" || exit 1
}

# ---- a file with problems on purpose: each is logged, the rest applies
conf='# problems on purpose
[bpftrace]
script_expiry_time = soon
no_such_key = 1
this line is junk
max_throughput = 4096
[dynamic_scripts]
Enabled = yes
auth_enabled = off
auth_enabled = off
[mystery]
x = 1'
start_pmcd "$conf" || exit 1
C=$T/bpftrace.conf
check "agent runs despite a bad configuration" pmi bpftrace.info.scripts_json
check "bad integer logged with its line number, default kept" \
    logged "$C:3: script_expiry_time = 'soon': not an integer, expected one from 1 to [0-9]*, keeping 60"
check "unknown key logged with its line number" logged "$C:4: unknown key 'no_such_key' in \[bpftrace\], ignored"
check "malformed line logged with its line number" logged "$C:5: 'this line is junk' is neither \[section\] nor key = value, ignored"
check "duplicate key logged" logged "$C:10: duplicate key 'auth_enabled' in \[dynamic_scripts\]"
check "unknown section logged" logged "$C:11: unknown section \[mystery\], its keys are ignored"
check "no line without a problem is logged" bash -c "! grep -E '$C:(1|2|6|7|8|9|12):' $T/bpftrace.log"
# the good lines still apply: yes/off booleans, a key in capitals, max_throughput
out=$(pmstore -h "$HOST" bpftrace.control.register '// name: chatty
interval:ms:1 { printf("%s %s\n", "012345678901234567890123456789", "012345678901234567890123456789"); }' 2>&1)
check_match "enabled = yes (key in capitals) and auth_enabled = off apply" '^bpftrace.control.register old value="\{\}"' "$out"
check "max_throughput = 4096 stops a chatty script" wait_until 20 status_is chatty error
check_eq "throughput error: upstream's words" "BPFtrace output exceeds limit of 4096 bytes per second" "$(value bpftrace.scripts.chatty.error)"
check "...and it is logged" logged "name=chatty.*BPFtrace output exceeds limit of 4096 bytes per second"

# ---- bpftrace_path: the agent runs what it names, for scripts and for -l
cat > "$T/mybpftrace" <<EOF
#!/bin/sh
echo "\$*" >> "$T/mybpftrace.calls"
exec bpftrace "\$@"
EOF
chmod 755 "$T/mybpftrace"
restart "[bpftrace]
bpftrace_path = $T/mybpftrace
[dynamic_scripts]
enabled = true
auth_enabled = false"
pmstore -h "$HOST" bpftrace.control.register '// name: viapath
interval:ms:100 { @n = count(); }' >/dev/null 2>&1
check "a script runs through bpftrace_path" wait_until 20 status_is viapath started
check "bpftrace_path ran the script" grep -q -- "-f json -" "$T/mybpftrace.calls"
check "bpftrace_path lists the tracepoints too" wait_until 30 grep -q -- "-l" "$T/mybpftrace.calls"
check "tracepoints come through it" wait_until 60 bash -c "pminfo -h $HOST -f bpftrace.info.tracepoints | grep -q tracepoint:"

restart "[bpftrace]
bpftrace_path = $T/no-such-bpftrace
[dynamic_scripts]
enabled = true
auth_enabled = false"
check "agent starts with a bpftrace_path that does not exist" pmi bpftrace.info.scripts_json
pmstore -h "$HOST" bpftrace.control.register '// name: nopath
interval:ms:100 { @n = count(); }' >/dev/null 2>&1
check "a script then ends in status error" wait_until 20 status_is nopath error
check_match "...saying why" "no-such-bpftrace|No such file" "$(value bpftrace.scripts.nopath.error)"

# ---- values out of range keep the default; an empty file is all defaults
restart $'[bpftrace]\nmax_throughput = -5\nscript_expiry_time = 0\n[dynamic_scripts]\nenabled = maybe'
check "negative max_throughput refused" logged "$C:2: max_throughput = '-5': "
check "zero script_expiry_time refused" logged "$C:3: script_expiry_time = '0': out of range"
check "non-boolean refused" logged "$C:5: enabled = 'maybe': not a boolean"
check_match "...so dynamic scripts stay off" "No permission" "$(pmstore -h "$HOST" bpftrace.control.register 'interval:s:1 { @n = count(); }' 2>&1)"
restart '# nothing'
check "an empty configuration logs no problem" bash -c "! grep -q '$C:' $T/bpftrace.log"
check_match "defaults: dynamic scripts off" "No permission" "$(pmstore -h "$HOST" bpftrace.control.register 'interval:s:1 { @n = count(); }' 2>&1)"
