#!/bin/bash
# Bad input: names that would escape the namespace, bad registrations (each
# refused with PM_ERR_BADSTORE and a clear error in the register answer,
# while the agent and its other scripts go on), script text reaching
# bpftrace only on stdin, symlinks leading out of the drop-in folder.
. "$(dirname "$0")/lib.sh"

make -s -C "$TOP" helpers || exit 1
SAF=$TOP/build/store_and_fetch
num() { pminfo -h "$HOST" -f "$1" 2>/dev/null | sed -n 's/^    value //p' | head -1; }
# register FILE: store its bytes into control.register; answer in $T/answer
register() {
    "$SAF" -h "$HOST" -f "$1" bpftrace.control.register > "$T/answer" 2> "$T/store.err"
}
# refused DESCRIPTION ERROR-REGEX: the text in $T/script is refused
refused() {
    local rc
    register "$T/script"; rc=$?
    check "$1: refused" test "$rc" -eq 1
    check_match "$1: PM_ERR_BADSTORE" "^pmStore: Bad input to pmstore" "$(cat "$T/store.err")"
    check_match "$1: answer has status error" '"status": "error"' "$(cat "$T/answer")"
    check_match "$1: answer says why" "\"error\": \"$2" "$(cat "$T/answer")"
    check "$1: answer is valid JSON" python3 -c "import json,sys; json.loads(open('$T/answer','rb').read())"
}
script() { printf '%s' "$1" > "$T/script"; }
GOOD='interval:s:1 { @a = count(); }'

drop tick <<'BT'
// tick_marker
interval:ms:100 { @n = count(); }
BT
mkdir -p "$T/outside"
printf '// evil_marker\ninterval:ms:100 { @n = count(); }\n' > "$T/outside/evil.bt"
chmod 644 "$T/outside/evil.bt"
ln -s "$T/outside/evil.bt" "$T/autostart/evil.bt"
ln -s ../outside/evil.bt "$T/autostart/relative.bt"
ln -s /etc/passwd "$T/autostart/passwd.bt"
ln -s tick.bt "$T/autostart/alias.bt"
ln -s alias.bt "$T/autostart/chain.bt"
ln -s "$T/nowhere.bt" "$T/autostart/dangling.bt"
ln -s "$T/autostart/../outside/evil.bt" "$T/autostart/dotdot.bt"
drop badname <<'BT'
// name: ../x
interval:ms:100 { @n = count(); }
BT
drop badvar <<'BT'
interval:ms:100 { @v12345678901234567890123456789012345678901234567890123456789012345 = count(); }
BT
printf 'interval:ms:100 { @n = count(); } // caf\xe9\n' | drop latin1
LONG=$(head -c 100 /dev/zero | tr '\0' a)
drop "$LONG" <<'BT'
interval:ms:100 { @n = count(); }
BT
start_pmcd || exit 1
check "drop-in tick started" wait_until 20 started tick

# ---- script text only on stdin
pid=$(num bpftrace.scripts.tick.pid)
check_eq "bpftrace's command line is exactly 'bpftrace -f json -'" "bpftrace -f json -" "$(ps -o args= -p "$pid")"
# (the marker as a pattern that does not match itself)
check "the script text is in no process's arguments" bash -c "! grep -qs 'tick_marke[r]' /proc/[0-9]*/cmdline"

# ---- names: never outside the namespace
script "// name: ../x
$GOOD"
refused "name ../x" "invalid value '../x' for name: must contain only alphanumeric characters and start with a letter"
script "// name: a/b
$GOOD"
refused "name a/b" "invalid value 'a/b' for name"
script "// name: 1abc
$GOOD"
refused "name 1abc" "invalid value '1abc' for name"
script "// name: $(head -c 300 /dev/zero | tr '\0' a)
$GOOD"
refused "300-character name" "invalid value 'a+' for name"
script "// name: a.b
$GOOD"
refused "name a.b (a PMNS separator)" "invalid value 'a.b' for name"
check "no metric outside bpftrace.scripts.NAME" bash -c "[ -z \"\$(pminfo -h $HOST bpftrace | grep -vE '^bpftrace\.(control|info)\.|^bpftrace\.scripts\.[A-Za-z][A-Za-z0-9_]*\.')\" ]"
check "no metric named x, a or b" bash -c "! pminfo -h $HOST bpftrace | grep -qE '^bpftrace\.scripts\.(x|a|b|_x|1abc)\.'"

# drop-in files: the name comes from the file, a bad annotation is an error
check "drop-in with '// name: ../x' has status error" wait_until 10 bash -c "pminfo -h $HOST -f bpftrace.scripts.badname.status | grep -q error"
check_match "... and says why" "invalid value '../x' for name" "$(value bpftrace.scripts.badname.error)"
check "drop-in with a 66-character variable has status error" bash -c "pminfo -h $HOST -f bpftrace.scripts.badvar.status | grep -q error"
check_match "... and says why" "variable @v1234.*is too long: at most 64 characters" "$(value bpftrace.scripts.badvar.error)"

check "drop-in with non-UTF-8 text has status error" bash -c "pminfo -h $HOST -f bpftrace.scripts.latin1.status | grep -q error"
check_match "... and says why" "script is not valid UTF-8 text" "$(value bpftrace.scripts.latin1.error)"
check "drop-in with a 100-character file name has no metrics" bash -c "! pminfo -h $HOST bpftrace | grep -q aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
check "... and is logged" grep -q "Skipping autostart script $T/autostart/$LONG.bt: its file name makes no metric name" "$T/bpftrace.log"

# ---- bad registrations
script ''
refused "empty text" "empty script"
script 'BEGIN { exit(); }'
refused "no variables" "no bpftrace variables or printf statements found"
printf 'interval:s:1 { @a = count(); } // \xff\xfe\n' > "$T/script"
refused "non-UTF-8 bytes" "script is not valid UTF-8 text"
printf '// name: caf\xc3\n%s\n' "$GOOD" > "$T/script"
refused "truncated UTF-8 sequence" "script is not valid UTF-8 text"
{ echo "$GOOD"; head -c 61440 /dev/zero | tr '\0' ' '; } > "$T/script"
refused "60 KB of text" "script is 6[0-9]* bytes long, longer than the limit of 32768 bytes \\(max_script_size\\)"
script '// table-retain-lines: abc
interval:s:1 { printf("hi\n"); }'
refused "table-retain-lines: abc" "invalid value 'abc' for table-retain-lines, must be numeric"
script '// table-retain-lines: -1
interval:s:1 { printf("hi\n"); }'
refused "table-retain-lines: -1" "invalid value '-1' for table-retain-lines"
printf 'interval:s:1 { @a = count(); }\0interval:s:1 { @b = count(); }' > "$T/script"
refused "embedded NUL byte" "script text contains a NUL byte"
script 'interval:s:1 { @a = count(); }}}'
register "$T/script"
check_match "a syntax error is bpftrace's to report: registered" '"status": "starting"' "$(cat "$T/answer")"

# the command line tool reports the refusal too
out=$(pmstore -h "$HOST" bpftrace.control.register "$(printf 'interval:s:1 { @a = count(); } // \xff')" 2>&1)
check_match "pmstore prints the error (non-UTF-8)" "Bad input to pmstore" "$out"
out=$(pmstore -h "$HOST" bpftrace.control.register 'BEGIN { exit(); }' 2>&1)
check_match "pmstore prints the error (no variables)" "Bad input to pmstore" "$out"

# ---- the agent lives, nothing was registered, the others keep running
check "agent answers" pmi bpftrace.info.scripts_json
check "scripts_json is valid JSON" bash -c "$SAF -h $HOST bpftrace.info.scripts_json | python3 -c 'import json,sys; json.load(sys.stdin)'"
n=$(pminfo -h "$HOST" -f bpftrace.info.scripts | grep -c 'inst \[')
# tick, alias, chain, badname, badvar, latin1 and the syntax error
check_eq "only the good scripts are registered" "7" "$n"
n1=$(num bpftrace.scripts.tick.data.n)
check "drop-in tick's value still advances" wait_until 10 bash -c "[ \"\$(pminfo -h $HOST -f bpftrace.scripts.tick.data.n | sed -n 's/^    value //p')\" -gt ${n1:-0} ]"
check_eq "tick still runs the same bpftrace" "$pid" "$(num bpftrace.scripts.tick.pid)"

# ---- symlinks
for f in evil relative dotdot; do
    check "symlink $f.bt leading outside is refused" bash -c "! pminfo -h $HOST bpftrace.scripts.$f >/dev/null 2>&1"
    check "... with a logged reason" grep -q "Skipping autostart script $T/autostart/$f.bt: symlink to $T/outside/evil.bt leads outside $T/autostart" "$T/bpftrace.log"
done
check "symlink to /etc/passwd is refused" bash -c "! pminfo -h $HOST bpftrace.scripts.passwd >/dev/null 2>&1"
check "... with a logged reason" grep -q "Skipping autostart script $T/autostart/passwd.bt: symlink to /etc/passwd leads outside" "$T/bpftrace.log"
check "dangling symlink is refused with a logged reason" grep -q "Skipping autostart script $T/autostart/dangling.bt: cannot resolve symlink" "$T/bpftrace.log"
check "symlink inside the folder is accepted" wait_until 10 started alias
check "symlink to a symlink inside the folder is accepted" wait_until 10 started chain
evil_never_ran() {
    check "$1" bash -c "pminfo -h $HOST -f bpftrace.info.scripts | grep -q tick_marker &&
	! pminfo -h $HOST -f bpftrace.info.scripts | grep -q evil_marker"
}
evil_never_ran "evil.bt's text is no script's code"
# a symlink swapped to lead outside while the agent runs
rm -f "$T/autostart/alias.bt"
ln -s "$T/outside/evil.bt" "$T/autostart/alias.bt"
check "symlink changed to lead outside: its script goes" wait_until 15 bash -c "! pminfo -h $HOST bpftrace.scripts.alias >/dev/null 2>&1"
check "... with a logged reason" grep -q "Skipping autostart script $T/autostart/alias.bt: symlink to $T/outside/evil.bt leads outside" "$T/bpftrace.log"
evil_never_ran "evil.bt's text is still no script's code"
check "agent still answers" pmi bpftrace.info.scripts_json
