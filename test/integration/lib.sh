# Shared by the integration tests: a private pmcd running this agent, and
# the checks.  Source it; each test then calls start_pmcd and its checks.
#
# The private pmcd listens on its own unix socket ($SOCK, what $HOST names)
# and a free TCP port ($PORT); the system pmcd is left alone.  Every test
# runs in its own scratch folder $T, removed at exit.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
AGENT_BIN=${AGENT_BIN:-$TOP/pmdabpftrace}
. /etc/pcp.env
set -u
export PATH=/usr/bin:/usr/sbin:/bin:/sbin:$PCP_BINADM_DIR
T=$(mktemp -d /tmp/bpftrace-test.XXXXXX)
chmod 755 "$T"
mkdir -p "$T/autostart" "$T/run" "$T/var/config/pmda"
chmod 755 "$T/autostart"
SOCK=$T/pmcd.socket
HOST=unix:$SOCK
# An ASan/UBSan build of the agent (make asan) writes its reports, leaks at
# exit included, to $T/sanitizer.PID: pmcd passes its environment on to the
# agents it starts.  finish() fails the test on any report.  Programs not
# built with a sanitizer ignore these.
export ASAN_OPTIONS="log_path=$T/sanitizer:detect_leaks=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="log_path=$T/sanitizer:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$TOP/test/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
PORT=
PMCD_PID=
TESTS_PASSED=0
TESTS_FAILED=0

ok()     { TESTS_PASSED=$((TESTS_PASSED + 1)); echo "ok - $*"; }
not_ok() { TESTS_FAILED=$((TESTS_FAILED + 1)); echo "not ok - $*"; }
skip()   { echo "skip - $*"; }
note()   { echo "# $*"; }

# check DESCRIPTION COMMAND...: passes when the command succeeds
check() {
    local desc=$1; shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
    if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1: expected [$2], got [$3]"; fi
}

# check_match DESCRIPTION REGEX ACTUAL
check_match() {
    if [[ "$3" =~ $2 ]]; then ok "$1"; else not_ok "$1: [$3] does not match /$2/"; fi
}

# milliseconds of the clock, for durations a test checks
ms_now() { date +%s%3N; }

# wait_until SECONDS COMMAND...: poll every 0.2 s
wait_until() {
    local limit=$1 i; shift
    for ((i = 0; i < limit * 5; i++)); do
	"$@" >/dev/null 2>&1 && return 0
	sleep 0.2
    done
    return 1
}

# exited PID: PID is a process id (not empty, not 0) and that process has
# ended (gone, or a zombie nobody has reaped yet)
exited() {
    local st
    [[ "${1:-}" =~ ^[1-9][0-9]*$ ]] || return 1
    st=$(ps -o stat= -p "$1" 2>/dev/null)
    [ -z "$st" ] || [[ "$st" == Z* ]]
}

# none_alive PID...: at least one PID given, and every one has exited
none_alive() {
    local p
    [ $# -gt 0 ] || return 1
    for p in "$@"; do exited "$p" || return 1; done
}

# the PCP tools against the private pmcd
pmi()   { pminfo -h "$HOST" "$@"; }
pst()   { pmstore -h "$HOST" "$@"; }

# value of a singular metric, as pminfo -f prints it (strings without quotes)
value() {
    pminfo -h "$HOST" -f "$1" 2>/dev/null | sed -n 's/^    value //p' | head -1 | sed 's/^"\(.*\)"$/\1/'
}

# a script's status: status_is NAME STATUS, started NAME
status_is() { [ "$(value "bpftrace.scripts.$1.status")" = "$2" ]; }
started() { status_is "$1" started; }
# METRIC has a value above 0 (a counter that has counted)
has_data() { pminfo -h "$HOST" -f "$1" 2>/dev/null | grep -q 'value [1-9]'; }

# "name=value" lines of a metric with instances, in instance order
instances() {
    pminfo -h "$HOST" -f "$1" 2>/dev/null | sed -n 's/^    inst \[[0-9]* or "\(.*\)"\] value \(.*\)$/\1=\2/p'
}

# write a drop-in script owned by root, mode 644 unless MODE says otherwise,
# into $T/autostart unless DIR says otherwise; it appears in the folder
# whole, with its mode: drop NAME [MODE [DIR]] < text
drop() {
    local f=${3:-$T/autostart}/$1.bt
    cat > "$f.tmp" && chmod "${2:-644}" "$f.tmp" && mv "$f.tmp" "$f"
}

# A port for a test's server: below the kernel's ephemeral range, since a
# client socket the kernel gave that port (another test's pminfo, say)
# makes pmcd's IPv4 bind fail, and pmcd then listens on IPv6 alone, so
# "localhost" (127.0.0.1) is refused.  Any socket on it counts as taken.
free_port() {
    local low p i
    read -r low _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
    [ "$low" -gt 12000 ] || low=32768	# an odd range: the classic one
    for i in 1 2 3 4 5 6 7 8 9 10; do
	p=$((low - 10000 + RANDOM % 9000))
	ss -tan 2>/dev/null | grep -q ":$p " || { echo "$p"; return 0; }
    done
    echo "$p"
}
# listening on IPv4, where "localhost" and 127.0.0.1 connect
port_listening() { ss -ltn 2>/dev/null | grep -Eq "(0\.0\.0\.0|127\.0\.0\.1):$1 "; }

# start_pmcd [CONFIG-TEXT]: the agent's bpftrace.conf (default: dynamic
# scripts on, no authentication); WITH_PMCD_PMDA=1 adds pmcd's own agent.
# Optional, all empty by default: PMCD_ENV, VAR=VALUE words in pmcd's
# environment only (pmcd passes its environment on to the agent, unless
# AGENT_PREFIX, words put before the agent's command in pmcd.conf, say
# otherwise, e.g. "env -u VAR"); PMCD_ARGS, more pmcd options; AGENT_IPC,
# the pmcd.conf protocol words (default "binary notready").  None may
# hold a space inside a word.
start_pmcd() {
    local conf=${1:-$'[dynamic_scripts]\nenabled = true\nauth_enabled = false\n'} i
    printf '%s\n' "$conf" > "$T/bpftrace.conf"
    printf 'bpftrace\t151\tpipe\t%s\t%s%s -d 151 -c %s -A %s -M %s -l %s %s\n' \
	"${AGENT_IPC:-binary notready}" "${AGENT_PREFIX:+$AGENT_PREFIX }" "$AGENT_BIN" "$T/bpftrace.conf" "$T/autostart" "$T/var/config/pmda/151.clusters" \
	"$T/bpftrace.log" "${AGENT_ARGS:-}" > "$T/pmcd.conf"
    if [ -n "${WITH_PMCD_PMDA:-}" ]; then
	# pmproxy and pmlogger need pmcd's own metrics (pmcd.hostname, ...)
	printf 'root {\n    pmcd\n    bpftrace\t151:*:*\n}\n' > "$T/root"
	sed '/^root {/,/^}/d' "$PCP_VAR_DIR/pmns/root_pmcd" >> "$T/root"
	printf 'pmcd\t2\tdso\tpmcd_init\t%s/pmcd/pmda_pmcd.so\n' "$PCP_PMDAS_DIR" >> "$T/pmcd.conf"
    else
	printf 'root {\n    bpftrace\t151:*:*\n}\n' > "$T/root"
    fi
    for i in 1 2 3 4 5; do
	PORT=$(free_port)
	# shellcheck disable=SC2086 # PMCD_ENV and PMCD_ARGS are lists of words
	env PCP_RUN_DIR="$T/run" PCP_VAR_DIR="$T/var" ${PMCD_ENV:-} \
	    "$PCP_BINADM_DIR/pmcd" -f -A -p "$PORT" -s "$SOCK" -c "$T/pmcd.conf" \
	    -n "$T/root" -l "$T/pmcd.log" -U root -q 10 -t 10 ${PMCD_ARGS:-} >"$T/pmcd.out" 2>&1 &
	PMCD_PID=$!
	# up on its unix socket, and listening on the port (a port taken
	# between free_port and pmcd's bind: try another one)
	if wait_until 15 pminfo -h "$HOST" bpftrace.info.scripts_json &&
	   wait_until 5 port_listening "$PORT"; then
	    return 0
	fi
	kill "$PMCD_PID" 2>/dev/null; wait "$PMCD_PID" 2>/dev/null
    done
    echo "pmcd did not start"; cat "$T/pmcd.log" "$T/bpftrace.log" 2>/dev/null
    return 1
}

agent_pid() {
    pgrep -f "^$AGENT_BIN -d 151 -c $T/bpftrace.conf" | head -1
}

# bpftrace children of the agent right now
agent_children() {
    local a; a=$(agent_pid)
    [ -n "$a" ] && pgrep -P "$a" -x bpftrace
}

stop_pmcd() {
    [ -n "$PMCD_PID" ] || return 0
    kill "$PMCD_PID" 2>/dev/null
    wait "$PMCD_PID" 2>/dev/null
    PMCD_PID=
}

finish() {
    local kids agent san
    kids=$(agent_children 2>/dev/null)
    agent=$(agent_pid 2>/dev/null)
    # The agent is stopped first, and waited for: pmcd's own shutdown
    # SIGKILLs an agent still running after 150 ms, which would lose
    # LeakSanitizer's (or valgrind's) report at exit.
    if [ -n "$agent" ]; then
	kill -TERM "$agent" 2>/dev/null
	# gone, or a zombie that pmcd has not reaped yet
	wait_until 60 exited "$agent" ||
	    not_ok "the agent did not exit within 60 s of SIGTERM"
    fi
    stop_pmcd
    san=$(cat "$T"/sanitizer.* 2>/dev/null
	  grep -h -A30 -E 'ERROR: (Address|Leak)Sanitizer|\.[ch]:[0-9]+:[0-9]+: runtime error:' \
	       "$T/bpftrace.log" 2>/dev/null)
    if [ -n "$san" ]; then
	not_ok "AddressSanitizer/UBSan report from the agent"
	echo "$san" | head -80 | sed 's/^/# /'
    fi
    # the agent must not leave any bpftrace behind
    # shellcheck disable=SC2086 # one pid per word
    if [ -n "$kids" ] && ! wait_until 10 none_alive $kids; then
	not_ok "bpftrace processes $kids outlived the agent"
	kill -9 $kids 2>/dev/null
    fi
    if [ "$TESTS_FAILED" -gt 0 ] || [ -n "${KEEP:-}" ]; then
	echo "# --- bpftrace.log"; sed 's/^/# /' "$T/bpftrace.log" 2>/dev/null | tail -40
    fi
    [ -n "${KEEP:-}" ] || rm -rf "$T"
    echo "# $TESTS_PASSED passed, $TESTS_FAILED failed"
    [ "$TESTS_FAILED" -eq 0 ]
}
# at_exit FUNCTION: run FUNCTION at exit, before finish() (e.g. to stop a
# pmlogger or pmproxy the test started).  A test that exits early with a
# non-zero status fails, whatever its checks said so far.
EXIT_HOOKS=()
at_exit() { EXIT_HOOKS+=("$1"); }
on_exit() {
    local rc=$1 frc h
    for h in "${EXIT_HOOKS[@]}"; do "$h"; done
    finish; frc=$?
    [ "$rc" -ne 0 ] && not_ok "the test exited with status $rc"
    return $(( rc ? rc : frc ))
}
trap 'on_exit $?; exit $?' EXIT
