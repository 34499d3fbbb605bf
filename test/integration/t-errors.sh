#!/bin/bash
# Scripts that cannot run report status error with the reason, while the
# others keep running: unknown probe, no variables, missing bpftrace binary.
. "$(dirname "$0")/lib.sh"

drop good <<'BT'
interval:ms:100 { @n = count(); }
BT
drop noprobe <<'BT'
tracepoint:nosuchgroup:nosuchevent { @n = count(); }
BT
drop novars <<'BT'
BEGIN { $x = 1; }
BT
start_pmcd || exit 1

check "unknown probe: status error" wait_until 20 bash -c "pminfo -h $HOST -f bpftrace.scripts.noprobe.status | grep -q error"
check_match "unknown probe: bpftrace's message" "nosuchgroup|nosuchevent|tracepoint" "$(value bpftrace.scripts.noprobe.error)"
check_eq "no variables: status error" "error" "$(value bpftrace.scripts.novars.status)"
check_match "no variables: upstream's message" "no bpftrace variables or printf statements found" "$(value bpftrace.scripts.novars.error)"
check "the good script runs beside them" wait_until 20 bash -c "pminfo -h $HOST -f bpftrace.scripts.good.data.n | grep -q 'value [1-9]'"
stop_pmcd

# a bpftrace binary that is not there
start_pmcd $'[bpftrace]\nbpftrace_path = /nonexistent/bpftrace\n' || exit 1
drop missing <<'BT'
interval:ms:100 { @n = count(); }
BT
check "missing bpftrace: status error" wait_until 20 bash -c "pminfo -h $HOST -f bpftrace.scripts.missing.status | grep -q error"
check_match "missing bpftrace: the reason" "cannot execute bpftrace.*No such file" "$(value bpftrace.scripts.missing.error)"
check "agent still answers (tracepoints, and scripts_json with the script)" bash -c \
    "pminfo -h $HOST -f bpftrace.info.tracepoints | grep -q '^    value ' &&
     pminfo -h $HOST -f bpftrace.info.scripts_json | grep -q '\"name\": *\"missing\"'"
