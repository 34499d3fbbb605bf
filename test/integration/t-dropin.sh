#!/bin/bash
# Drop-in scripts: values and types of each kind of variable, hot reload in
# all three directions, a broken script beside a good one, refused files.
. "$(dirname "$0")/lib.sh"

drop kinds <<'BT'
// every kind of variable the agent exports
BEGIN { @str = "hello world"; @neg = -5; @lh = lhist(50, 0, 100, 10); @st = stats(10); @st = stats(20); }
interval:ms:100 {
    @ticks = count();
    @by["a b"] = count();
    @two["x", 2] = sum(3);
    @minimum = min(-7);
    @avg = avg(4);
    @h = hist(0); @h = hist(1); @h = hist(-1); @h = hist(2); @h = hist(100);
    @hk["k1"] = hist(5);
    @ = count();
}
BT
drop broken <<'BT'
interval:s:1 { @x = count() }}}
BT
# -A is repeatable: a second folder, as the agent watches two by default
mkdir -m 755 "$T/second"
echo 'interval:ms:100 { @n = count(); }' | drop other_dir 644 "$T/second"
AGENT_ARGS="-A $T/second" start_pmcd || exit 1

check "good script reaches status started" wait_until 20 bash -c "[ \"\$(pminfo -h $HOST -f bpftrace.scripts.kinds.status | grep -c started)\" = 1 ]"
check "counter has a value" wait_until 10 has_data bpftrace.scripts.kinds.data.ticks

desc=$(pmi -d bpftrace.scripts.kinds.data.ticks)
check_match "count() is a U64 counter" "64-bit unsigned int.*Semantics: counter" "$(echo $desc)"
desc=$(pmi -d bpftrace.scripts.kinds.data.neg)
check_match "plain number is a signed 64-bit instant" "Data Type: 64-bit int .*Semantics: instant" "$(echo $desc)"
check_eq "negative value stays negative" "-5" "$(value bpftrace.scripts.kinds.data.neg)"
check_eq "min() of a negative stays negative" "-7" "$(value bpftrace.scripts.kinds.data.minimum)"
check_eq "avg()" "4" "$(value bpftrace.scripts.kinds.data.avg)"
desc=$(pmi -d bpftrace.scripts.kinds.data.str)
check_match "string value is a STRING metric" "Data Type: string" "$(echo $desc)"
check_eq "string value" "hello world" "$(value bpftrace.scripts.kinds.data.str)"
check "anonymous map @ is data.root" wait_until 5 has_data bpftrace.scripts.kinds.data.root

inst=$(instances bpftrace.scripts.kinds.data.by)
check_match "map key with a space is one instance" '^a b=[0-9]+$' "$inst"
inst=$(instances bpftrace.scripts.kinds.data.two)
check_match "two keys: instance 'x,2'" '^x,2=[0-9]+$' "$inst"
names=$(instances bpftrace.scripts.kinds.data.h | cut -d= -f1 | tr '\n' ' ')
check_eq "hist buckets sorted by lower bound" "-inf--1 0-0 1-1 2-3 4-7 8-15 16-31 32-63 64-127 " "$names"
desc=$(pmi -d bpftrace.scripts.kinds.data.h)
check_match "hist is a U64 counter with an indom" "64-bit unsigned int +InDom: 151\.[0-9]+.*counter" "$(echo $desc)"
names=$(instances bpftrace.scripts.kinds.data.lh | cut -d= -f1 | tr '\n' ' ')
check_eq "lhist bucket names" "50-59 " "$names"
inst=$(instances bpftrace.scripts.kinds.data.hk)
check_match "keyed hist instance names key and bucket" '^k1:4-7=[0-9]+$' "$inst"
inst=$(instances bpftrace.scripts.kinds.data.st | tr '\n' ' ')
check_eq "stats() count, average, total" "average=15 count=2 total=30 " "$inst"
labels=$(pmi -l bpftrace.scripts.kinds.data.h)
check_match "histogram label" '"metrictype":"histogram"' "$labels"
help=$(pmi -T bpftrace.scripts.kinds.data.h)
check_match "help text for a variable" "@h variable of bpftrace script" "$help"

# the broken script reports bpftrace's error, the other keeps running
check "broken script has status error" wait_until 20 bash -c "pminfo -h $HOST -f bpftrace.scripts.broken.status | grep -q error"
err=$(value bpftrace.scripts.broken.error)
check_match "error is bpftrace's syntax error" "stdin:1:.*ERROR: syntax error" "$err"
# bpftrace prints its RLIMIT_MEMLOCK notice as an "ERROR:" line before the real one
if printf 'interval:s:1 { @x = count() }}}\n' | bpftrace -f json - 2>&1 | grep -q RLIMIT_MEMLOCK; then
    check_match "the RLIMIT_MEMLOCK notice bpftrace printed first is not part of the error" '^"?stdin:1:' "$err"
    check "...nor anywhere in it" bash -c "! echo '$err' | grep -q RLIMIT"
else
    skip "this bpftrace prints no RLIMIT_MEMLOCK notice here: nothing to filter"
fi
check_eq "broken script exit_code" "1" "$(value bpftrace.scripts.broken.exit_code)"
check_eq "good script still started" "started" "$(value bpftrace.scripts.kinds.status)"

# hot reload: a new file starts
# "ID=NAME ..." of a metric's instances, by id
inst_ids() {
    pminfo -h "$HOST" -f "$1" 2>/dev/null | sed -n 's/^    inst \[\([0-9]*\) or "\(.*\)"\] value .*$/\1=\2/p' | sort -n | tr '\n' ' '
}
drop added <<'BT'
BEGIN { @k["a"] = 1; @k["b"] = 2; }
interval:ms:100 { @n = count(); }
BT
check "new drop-in file starts without a restart" wait_until 20 has_data bpftrace.scripts.added.data.n
pmid_before=$(pmi -m bpftrace.scripts.added.data.n | awk '{print $3}')
pid_before=$(value bpftrace.scripts.added.pid)
check_eq "map keys and their instance ids" "0=a 1=b " "$(inst_ids bpftrace.scripts.added.data.k)"
# a changed file restarts, keeping its metric names, and the ids of its keys
drop added <<'BT'
BEGIN { @k["b"] = 2; @k["c"] = 3; }
interval:ms:100 { @n = count(); @m = sum(2); }
BT
check "changed file restarts with its new variable" wait_until 20 has_data bpftrace.scripts.added.data.m
check "changed file runs a new bpftrace" bash -c "[ \"$(value bpftrace.scripts.added.pid)\" != \"$pid_before\" ]"
check_eq "changed file keeps its PMIDs" "$pmid_before" "$(pmi -m bpftrace.scripts.added.data.n | awk '{print $3}')"
check_eq "changed file: a key keeps its instance id, a new key gets a new one" "1=b 2=c " "$(inst_ids bpftrace.scripts.added.data.k)"
# a deleted file stops and its metrics go
old_pid=$(value bpftrace.scripts.added.pid)
rm -f "$T/autostart/added.bt"
check "deleted file's metrics go away" wait_until 20 bash -c "! pminfo -h $HOST bpftrace.scripts.added >/dev/null 2>&1"
check "deleted file's bpftrace is stopped" wait_until 15 exited "$old_pid"

# refused files: writable by others, and a second file mapping to a taken name
drop open 666 <<'BT'
interval:ms:100 { @n = count(); }
BT
drop my-tool <<'BT'
interval:ms:100 { @n = count(); }
BT
drop my_tool <<'BT'
interval:ms:100 { @n = count(); }
BT
check "file name made a metric name (my-tool -> my_tool)" wait_until 20 pmi bpftrace.scripts.my_tool.data.n
check "refusal is logged with the file name" wait_until 10 grep -q "open.bt.*exclusively writable by root" "$T/bpftrace.log"
check "world-writable file is not run" bash -c "! pminfo -h $HOST bpftrace.scripts.open >/dev/null 2>&1"
check "name collision is logged" grep -q "my_tool.bt" "$T/bpftrace.log"
n=$(pmi bpftrace.info.scripts -f | grep -c 'my_tool')
check_eq "only one script named my_tool" "1" "$n"
chmod 644 "$T/autostart/open.bt"
check "fixing the permissions starts the file" wait_until 20 pmi bpftrace.scripts.open.data.n

# variables whose names start with "_" are metrics too (data._tmp), as upstream
drop under <<'BT'
interval:ms:100 { @_tmp = count(); @ok = count(); }
BT
check "@_tmp becomes data._tmp, with values" \
    wait_until 20 has_data bpftrace.scripts.under.data._tmp

# a "// name:" line names a drop-in script, over its file name, as upstream:
# drop_named FILE NAME writes FILE.bt saying "// name: NAME"
drop_named() {
    printf '// name: %s\ninterval:ms:100 { @n = count(); }\n' "$2" | drop "$1"
}
drop_named stem annotated
check "// name: in a drop-in file names its metrics" \
    wait_until 20 has_data bpftrace.scripts.annotated.data.n
check "...not the file's stem" bash -c "! pminfo -h $HOST bpftrace.scripts.stem >/dev/null 2>&1"
check_eq "...and scripts_json agrees" "annotated" \
    "$(pminfo -h $HOST -f bpftrace.info.scripts_json | sed -n 's/.*"metadata": {"name": "\(annotated\)".*/\1/p')"
drop_named other annotated
check "a second file naming the same script is refused, with a logged reason" \
    wait_until 10 grep -q "Skipping autostart script $T/autostart/other.bt: Script name annotated is already in use" "$T/bpftrace.log"
rm -f "$T/autostart/other.bt"
# an edit of the name line renames the script
drop_named stem renamed
check "an edited // name: line renames the script" \
    wait_until 20 has_data bpftrace.scripts.renamed.data.n
check "...and the old name goes" bash -c "! pminfo -h $HOST bpftrace.scripts.annotated >/dev/null 2>&1"

# the second folder is read at start and watched as the first
check "a script in a second -A folder runs" \
    wait_until 10 has_data bpftrace.scripts.other_dir.data.n
echo 'interval:ms:100 { @m = count(); }' | drop late_second 644 "$T/second"
check "a file dropped in the second folder starts" \
    wait_until 20 has_data bpftrace.scripts.late_second.data.m
