#!/bin/bash
# pmlogger logging the dynamic subtree bpftrace.scripts: a script
# registered while it runs is logged from then on (the agent flags the
# names change, pmlogger walks the subtree again), and a deregistration
# does not stop pmlogger.  The early script has a map, so that pmlogger's
# fetches hold keyed values, which the agent answers on its own path
# (fetch.c) beside pmdaFetch's: the flag must come through that one too.
. "$(dirname "$0")/lib.sh"

PMLOGGER_PID=
stop_pmlogger() {
    [ -n "$PMLOGGER_PID" ] || return 0
    kill -INT "$PMLOGGER_PID" 2>/dev/null
    wait "$PMLOGGER_PID" 2>/dev/null
    PMLOGGER_PID=
}
at_exit stop_pmlogger
reg() { pmstore -h "$HOST" bpftrace.control.register "$1" >/dev/null 2>&1; }
# values logged for METRIC in the archive (one per line)
logged_values() { pmdumplog "$T/archive" "$1" 2>/dev/null | sed -n 's/.*(\(.*\)): value \([0-9]*\)$/\2/p'; }

# pmlogger needs pmcd's own metrics (pmcd.hostname, pmcd.timezone, ...)
WITH_PMCD_PMDA=1 start_pmcd || exit 1
reg '// name: early
interval:ms:100 { @e = count(); @ek[1] = count(); }'
check "early script runs" wait_until 20 status_is early started

printf 'log mandatory on every 1 second {\n    bpftrace.scripts\n}\n' > "$T/pmlogger.conf"
mkdir -p "$T/tmp"
# its own PCP_TMP_DIR and PCP_RUN_DIR: the system's pmlogger map is left alone
PCP_TMP_DIR=$T/tmp PCP_RUN_DIR=$T/run "$PCP_BINADM_DIR/pmlogger" -h "$HOST" -c "$T/pmlogger.conf" \
    -t 1 -l "$T/pmlogger.log" "$T/archive" >"$T/pmlogger.out" 2>&1 &
PMLOGGER_PID=$!
check "pmlogger writes an archive" wait_until 15 test -s "$T/archive.0"
sleep 2

# registered mid-run: a name pmlogger has never seen.  pmlogger looks for
# new names when a fetch returns pmcd's names-change flag, which the agent
# sets on its next answer to anyone.  Until pmlogger has had its chance,
# nothing here fetches (pminfo -m only looks names up), so that the flag
# must come back on pmlogger's own fetches; the deregistration further
# down flags a names change of its own.
reg '// name: late
interval:ms:100 { @l = count(); @m = hist(5); }'
has_name() { pmi -m "$1" >/dev/null 2>&1; }
check "late script's names appear" wait_until 20 has_name bpftrace.scripts.late.data.l
late_pmid=$(pmi -m bpftrace.scripts.late.data.l | awk '{print $3}')
check "pmlogger adds the late script's metrics after its own fetches" \
    wait_until 10 grep -q "metric: bpftrace.scripts.late.data.l$" "$T/pmlogger.log"
check "late script runs" wait_until 20 status_is late started
sleep 4
reg_pmids=$(pmi -m bpftrace.scripts.early.data.e | awk '{print $3}')
pmstore -h "$HOST" bpftrace.control.deregister early >/dev/null 2>&1
sleep 3
check "pmlogger is still running after a registration and a deregistration" kill -0 "$PMLOGGER_PID"
stop_pmlogger

names=$(pminfo -a "$T/archive" bpftrace.scripts 2>&1)
check_match "the early script's data metric is in the archive" "bpftrace\.scripts\.early\.data\.e" "$names"
check_match "...and its map" "bpftrace\.scripts\.early\.data\.ek" "$names"
check_match "the script registered mid-run is in the archive" "bpftrace\.scripts\.late\.data\.l" "$names"
check_match "...with its histogram" "bpftrace\.scripts\.late\.data\.m" "$names"
check_eq "...under the PMID the agent gave it" "$late_pmid" "$(pminfo -a "$T/archive" -m bpftrace.scripts.late.data.l | awk '{print $3}')"
check_eq "the early script under its PMID" "$reg_pmids" "$(pminfo -a "$T/archive" -m bpftrace.scripts.early.data.e | awk '{print $3}')"
vals=$(logged_values bpftrace.scripts.late.data.l)
check "the mid-run script's values were logged" bash -c "[ \$(echo '$vals' | grep -c '^[1-9]') -ge 2 ]"
check "its values never go down, and grow (a counter)" bash -c "echo '$vals' | awk 'NR == 1 { first = \$1 } NR > 1 && \$1 < prev { bad = 1 } { prev = \$1 } END { exit bad || prev <= first }'"
check "histogram instances were logged" bash -c "pmdumplog '$T/archive' bpftrace.scripts.late.data.m | grep -q 'inst \[[0-9]* or \"4-7\"\]'"
check_match "the archive's descriptor of the new metric" "64-bit unsigned int.*counter" "$(echo $(pminfo -a "$T/archive" -d bpftrace.scripts.late.data.l))"

# --- a client whose fetches hold nothing but keyed values (one script's
# histogram, as a dashboard panel asks for through pmproxy) is told of new
# names too: the agent answers such a fetch without pmdaFetch.  pmlogger
# is gone and nothing else fetches until the watcher has its answer; it
# must come after the registration, not on the watcher's first fetches.
make -s -C "$TOP" helpers >/dev/null || { echo "cannot build the test helpers"; exit 1; }
"$TOP/build/names_watch" -h "$HOST" -t 15 bpftrace.scripts.late.data.m >"$T/watch.out" 2>&1 &
WATCH_PID=$!
sleep 2
reg '// name: later
interval:ms:100 { @x = count(); }'
wait "$WATCH_PID"
check_eq "a client fetching only a histogram is told the names changed" 0 "$?"
check "...after the registration, not on its first fetches ($(cat "$T/watch.out"))" \
    awk '$1 == "names" { exit !($4 >= 15) } END { exit NR != 1 }' "$T/watch.out"
