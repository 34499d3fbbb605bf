#!/bin/bash
# The control plane as pmstore and Grafana use it: register (the JSON
# answer, once, in the storing context), refused scripts, deregister by id,
# name and list, start/stop, the info metrics and labels, and expiry of
# unnamed scripts nobody fetches.
. "$(dirname "$0")/lib.sh"

command -v jq >/dev/null || { skip "jq is not installed (test/deps-debian)"; exit 0; }
make -s -C "$TOP" helpers >/dev/null || { echo "cannot build the test helpers"; exit 1; }
SAF=$TOP/build/store_and_fetch

# saf [-n COUNT] METRIC VALUE: store, then fetch in the same context
saf() { "$SAF" -h "$HOST" "$@"; }

# register CODE: REG_RC (0 stored, 1 refused), REG_JSON (first fetch),
# REG_AGAIN (second fetch, same context), REG_ERR (the store error)
register() {
    local out
    out=$(saf -n 2 bpftrace.control.register "$1" 2>"$T/saf.err"); REG_RC=$?
    REG_JSON=$(sed -n 1p <<<"$out")
    REG_AGAIN=$(sed -n 2p <<<"$out")
    REG_ERR=$(cat "$T/saf.err")
}
jf() { jq -r "$1" <<<"$REG_JSON" 2>&1; }
# control METRIC VALUE: ANSWER and RC of a store into a control metric
control() {
    ANSWER=$(saf "bpftrace.control.$1" "$2" 2>"$T/saf.err"); RC=$?
}
gone() { ! pminfo -h "$HOST" "$1" >/dev/null 2>&1; }
pmid_of() { pmi -m "$1" 2>/dev/null | awk '{print $3}'; }

start_pmcd || exit 1

# ---- before any script
json=$(value bpftrace.info.scripts_json)
check_eq "scripts_json with no scripts is []" "[]" "$json"
check "scripts_json with no scripts is a JSON array" jq -e 'type == "array" and length == 0' <<<"$json"
for m in register deregister start stop; do
    check_eq "control.$m answers {} when nothing was stored" "{}" "$(value bpftrace.control.$m)"
done
check_match "info.scripts has no instances" "No value" "$(pmi -f bpftrace.info.scripts 2>&1)"
ids=$(pmi -m bpftrace.control bpftrace.info | awk '{print $1, $3}' | sort -k2 -V | tr '\n' ' ')
check_eq "control and info PMIDs as upstream" "bpftrace.control.register 151.0.0 bpftrace.control.deregister 151.0.1 bpftrace.control.start 151.0.2 bpftrace.control.stop 151.0.3 bpftrace.info.scripts 151.1.0 bpftrace.info.scripts_json 151.1.1 bpftrace.info.tracepoints 151.1.2 " "$ids"
desc=$(pmi -dt bpftrace.info.tracepoints)
check_match "info.tracepoints: string, singular, upstream one-line help" "\\[list all available tracepoints\\].*Data Type: string +InDom: PM_INDOM_NULL" "$(echo $desc)"
check_match "info.scripts has the scripts indom 151.0" "InDom: 151\.0 " "$(pmi -d bpftrace.info.scripts)"
check_match "bpftrace.info is labelled metrictype control" '"metrictype":"control"' "$(pmi -l bpftrace.info.scripts_json)"
check "bpftrace.control carries no metrictype label" bash -c "! pminfo -h $HOST -l bpftrace.control.register | grep -q metrictype"

# ---- register: the answer, once, in the same context
code='interval:ms:100 { @zeta = count(); @hist = hist(3); @alpha = sum(1); printf("hello\n"); }'
register "$code"
check_eq "register stores" "0" "$REG_RC"
check "register answer is a JSON object" jq -e 'type == "object"' <<<"$REG_JSON"
id=$(jf .script_id)
check_match "script_id is s + 32 hex digits" '^s[0-9a-f]{32}$' "$id"
check_eq "second fetch in the same context answers {}" "{}" "$REG_AGAIN"
check_eq "another context gets {}" "{}" "$(value bpftrace.control.register)"
check_eq "metadata.name null for an unnamed script" "null" "$(jf .metadata.name)"
check_eq "metadata fields" "null null false" "$(jf '[.metadata.include, .metadata.table_retain_lines, .metadata.custom_output_block] | map(tostring) | join(" ")')"
check_eq "variables in script order, @output last" "@zeta @hist @alpha @output" "$(jf '.variables | keys_unsorted | join(" ")')"
check_eq "metrictype of each variable" "null histogram null output" "$(jf '[.variables[].metrictype] | map(tostring) | join(" ")')"
check_eq "count(): counter U64, single" "1 3 true" "$(jf '.variables["@zeta"] | "\(.semantics) \(.datatype) \(.single)"')"
check_eq "hist(): counter U64 with instances" "1 3 false" "$(jf '.variables["@hist"] | "\(.semantics) \(.datatype) \(.single)"')"
check_eq "sum(): instant" "3" "$(jf '.variables["@alpha"].semantics')"
check_eq "@output: STRING" "6" "$(jf '.variables["@output"].datatype')"
check_eq "state.status starting" "starting" "$(jf .state.status)"
check_eq "state.error empty" "" "$(jf .state.error)"
check_match "state.pid is bpftrace's" '^[1-9][0-9]*$' "$(jf .state.pid)"
check_eq "username is the storing user" "root" "$(jf .username)"
check_eq "unnamed script is not persistent" "false" "$(jf .persistent)"
check_eq "code as stored" "$code" "$(jf .code)"
check_eq "answer's fields, in upstream's order" "script_id username persistent created_at last_accessed_at code metadata variables state" "$(jf 'keys_unsorted | join(" ")')"
check_eq "state's fields, as upstream" "status pid exit_code error probes data_bytes" "$(jf '.state | keys_unsorted | join(" ")')"
check_match "created_at is an ISO timestamp" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{6}$' "$(jf .created_at)"
# the names resolve at once, while bpftrace still compiles
check "data metric names resolve right after register" \
    pmi bpftrace.scripts.$id.data.zeta bpftrace.scripts.$id.data.hist bpftrace.scripts.$id.data.alpha bpftrace.scripts.$id.data.output
check "registration logged with user=root" grep -q "registered script $id (user=root" "$T/bpftrace.log"
check "script reaches started" wait_until 20 status_is $id started
check "count() metric gets values" wait_until 10 has_data bpftrace.scripts.$id.data.zeta
check_eq "info.scripts: an instance named by the id, value the code" "$id=\"$code\"" "$(instances bpftrace.info.scripts)"
json=$(value bpftrace.info.scripts_json)
check "scripts_json is a JSON array" jq -e 'type == "array"' <<<"$json"
check_eq "scripts_json lists the script, started" "$id started" "$(jq -r '.[] | "\(.script_id) \(.state.status)"' <<<"$json")"
check_match "histogram label" '"metrictype":"histogram"' "$(pmi -l bpftrace.scripts.$id.data.hist)"
check_match "output label" '"metrictype":"output"' "$(pmi -l bpftrace.scripts.$id.data.output)"
check "plain count() has no metrictype label" bash -c "! pminfo -h $HOST -l bpftrace.scripts.$id.data.zeta | grep -q metrictype"
check_match "printf text in data.output" "hello" "$(value bpftrace.scripts.$id.data.output)"

register '// name: stk
profile:hz:99 { @st[kstack] = count(); }'
check_eq "kstack-keyed count() is metrictype stacks" "stacks" "$(jf '.variables["@st"].metrictype')"
check_match "stacks label" '"metrictype":"stacks"' "$(pmi -l bpftrace.scripts.stk.data.st)"
check_eq "named script: metadata.name" "stk" "$(jf .metadata.name)"
check_eq "named script is persistent" "true" "$(jf .persistent)"
stk_id=$(jf .script_id)

# ---- refused scripts: PM_ERR_BADSTORE, the error script in the context
novars="no bpftrace variables or printf statements found, please include at least one variable or printf statement in your script"
register 'interval:s:1 { }'
check_eq "script without variables is refused" "1" "$REG_RC"
check_eq "refusal is PM_ERR_BADSTORE" "pmStore: Bad input to pmstore" "$REG_ERR"
check_eq "refused script's answer: status error" "error" "$(jf .state.status)"
check_eq "refused script's answer: upstream's words" "$novars" "$(jf .state.error)"
check_match "QA 1705's grep finds it" "\"error\": \"$novars\"" "$REG_JSON"
check_match "refused script's answer has variables and metadata" "object object" "$(jf '"\(.variables|type) \(.metadata|type)"')"
check_eq "refused answer is given once too" "{}" "$REG_AGAIN"
refused=$(jf .script_id)
check "refused script is not registered" bash -c "! pminfo -h $HOST -f bpftrace.info.scripts_json | grep -q $refused"
out=$(pst bpftrace.control.register 'interval:s:1 { }' 2>&1)
check_match "pmstore reports Bad input" "pmStore: Bad input to pmstore" "$out"
check "refusal logged with the error" grep -q "failed to register .*$novars" "$T/bpftrace.log"

register '// name: taken
interval:ms:100 { @x = count(); }'
check_eq "first script named taken is accepted" "0" "$REG_RC"
taken_id=$(jf .script_id)
register '// name: taken
interval:ms:100 { @y = count(); }'
check_eq "second script named taken is refused" "1" "$REG_RC"
check_eq "taken name: upstream's words" "Script name taken is already in use by another script." "$(jf .state.error)"
check_eq "the first 'taken' keeps running" "$taken_id" "$(jq -r '.[] | select(.metadata.name == "taken") | .script_id' <<<"$(value bpftrace.info.scripts_json)")"
check "the refused twin exports nothing" gone bpftrace.scripts.taken.data.y

register '// name: 9lives
interval:ms:100 { @x = count(); }'
check_eq "invalid name annotation refused" "1" "$REG_RC"
check_match "invalid name: upstream's words" "^invalid value '9lives' for name: must contain only alphanumeric characters and start with a letter" "$(jf .state.error)"
register '// table-retain-lines: many
interval:ms:100 { printf("x\n"); }'
check_eq "invalid table-retain-lines refused" "1" "$REG_RC"
check_eq "invalid table-retain-lines: upstream's words" "invalid value 'many' for table-retain-lines, must be numeric" "$(jf .state.error)"

# ---- start and stop, by name and by id
ss_code='// name: ss
BEGIN { @k[pid] = 1; }
interval:ms:100 { @n = count(); }'
register "$ss_code"
ss_id=$(jf .script_id)
check "ss starts" wait_until 20 status_is ss started
pid1=$(value bpftrace.scripts.ss.pid)
# BEGIN, the interval probe and the appended print block
check_eq "probes: the attached probes bpftrace reported" "3" "$(value bpftrace.scripts.ss.probes)"
check_eq "code: the script's text" "$ss_code" "$(pminfo -h $HOST -f bpftrace.scripts.ss.code | sed -n '/^    value "/,$p' | sed '1s/^    value "//; $s/"$//')"
check_match "state metrics are labelled metrictype control" '"metrictype":"control"' "$(pmi -l bpftrace.scripts.ss.status)"
check_eq "bpftrace runs at nice 5" "5" "$(ps -o ni= -p "$pid1" | tr -d ' ')"
# @k's key is bpftrace's pid: the first run's key has id 0
check "ss's map has its key" wait_until 10 bash -c "pminfo -h $HOST -f bpftrace.scripts.ss.data.k | grep -q 'inst \[0 or \"$pid1\"\]'"
out=$(pst -F bpftrace.control.stop ss 2>&1)
check_eq "pmstore -F stop prints upstream's answer" 'bpftrace.control.stop old value="{}" new value="{"success": "true"}"' "$out"
check "stopped script reaches status stopped" wait_until 15 status_is ss stopped
check "its bpftrace exited" wait_until 5 exited "$pid1"
check "a stopped script keeps its metrics" pmi bpftrace.scripts.ss.data.n
check_eq "scripts_json says stopped" "stopped" "$(jq -r ".[] | select(.script_id == \"$ss_id\") | .state.status" <<<"$(value bpftrace.info.scripts_json)")"
control start ss
check_eq "start answers success" '{"success": "true"}' "$ANSWER"
check "started again" wait_until 20 status_is ss started
pid2=$(value bpftrace.scripts.ss.pid)
check "a new bpftrace runs" bash -c "[ -n '$pid2' ] && [ '$pid2' != '$pid1' ] && kill -0 $pid2"
check "ids survive stop and start: the new run's key gets id 1, not 0" \
    wait_until 10 bash -c "pminfo -h $HOST -f bpftrace.scripts.ss.data.k | grep -q 'inst \[1 or \"$pid2\"\]'"
control stop "$ss_id"
check_eq "stop by id answers success" '{"success": "true"}' "$ANSWER"
check "stop by id stops" wait_until 15 status_is ss stopped
control start "$ss_id"
check_eq "start by id answers success" '{"success": "true"}' "$ANSWER"
check "start by id starts" wait_until 20 status_is ss started
# a start while bpftrace is still stopping is not lost
pid3=$(value bpftrace.scripts.ss.pid)
control stop ss; control start ss
check_eq "start right after stop answers success" '{"success": "true"}' "$ANSWER"
check "start during stopping: running again, new pid" wait_until 20 bash -c \
    "[ \"\$(pminfo -h $HOST -f bpftrace.scripts.ss.status | grep -c started)\" = 1 ] && ! pminfo -h $HOST -f bpftrace.scripts.ss.pid | grep -q 'value $pid3\$'"
for m in start stop; do
    control $m nosuchscript
    check_eq "$m of an unknown script: error answer" '{"error": "script not found"}' "$ANSWER"
    check_eq "$m of an unknown script: PM_ERR_BADSTORE" "pmStore: Bad input to pmstore" "$(cat "$T/saf.err")"
done

# ---- deregister: by id of a named script, by name, lists
register '// name: byid
interval:ms:100 { @n = count(); }'
byid_id=$(jf .script_id)
check "byid starts" wait_until 20 status_is byid started
byid_pid=$(value bpftrace.scripts.byid.pid)
out=$(pst -F bpftrace.control.deregister "$byid_id" 2>&1)
check_eq "deregister a named script by its id" 'bpftrace.control.deregister old value="{}" new value="{"success": "true"}"' "$out"
check "its metrics are gone" gone bpftrace.scripts.byid.data.n
check_match "pminfo says Unknown metric name" "Unknown metric name" "$(pmi bpftrace.scripts.byid.data.n 2>&1)"
check "its bpftrace is stopped" wait_until 15 exited "$byid_pid"
control deregister stk
check_eq "deregister by name" '{"success": "true"}' "$ANSWER"
check "stk is gone" gone bpftrace.scripts.stk
check "stk is gone from scripts_json" bash -c "! pminfo -h $HOST -f bpftrace.info.scripts_json | grep -q $stk_id"

for n in l1 l2 l3 l4; do
    register "// name: $n
interval:ms:100 { @n = count(); }"
done
control deregister "l1,l2"
check_eq "deregister a comma list" '{"success": "true"}' "$ANSWER"
control deregister "l3, l4"
check_eq "deregister a list with a space" '{"success": "true"}' "$ANSWER"
check "all four are gone" bash -c "! pminfo -h $HOST -f bpftrace.info.scripts | grep -q '\"l[1-4]\"'"
control deregister nosuchscript
check_eq "deregister of an unknown script: error answer" '{"error": "one or more scripts were not found"}' "$ANSWER"
check_eq "deregister of an unknown script: PM_ERR_BADSTORE" "1" "$RC"
register '// name: half
interval:ms:100 { @n = count(); }'
control deregister "half,nosuchscript"
check_eq "a list with an unknown name: error answer" '{"error": "one or more scripts were not found"}' "$ANSWER"
check "...but the known one is deregistered" gone bpftrace.scripts.half
for s in "$id" taken ss; do
    control deregister "$s"
done
check_eq "scripts_json is [] again" "[]" "$(value bpftrace.info.scripts_json)"

# ---- tracepoints: bpftrace -l, gathered in the background
check "info.tracepoints gets filled" wait_until 60 bash -c "pminfo -h $HOST -f bpftrace.info.tracepoints | grep -q 'tracepoint:syscalls:sys_enter_read,'"
tp=$(value bpftrace.info.tracepoints)
check_match "tracepoints: a comma list of probes" '^[a-z]+:[^,]*(,[a-z]+:[^,]*)+$' "$tp"
check "tracepoints: no newline inside" bash -c "[ \$(printf %s \"\$1\" | wc -l) = 0 ]" _ "$tp"

# ---- expiry: unnamed scripts nobody fetches go, named and fetched stay
stop_pmcd
start_pmcd $'[bpftrace]\nscript_expiry_time = 3\n[dynamic_scripts]\nenabled = true\nauth_enabled = false' || exit 1
register 'interval:ms:100 { @a = count(); }'; idle=$(jf .script_id); idle_pid=$(jf .state.pid)
register 'interval:ms:100 { @b = count(); }'; busy=$(jf .script_id)
register 'interval:ms:100 { @c = count(); }'; jsononly=$(jf .script_id)
register 'interval:ms:100 { @d = count(); }'; watched=$(jf .script_id)
register '// name: keeper
interval:ms:100 { @k = count(); }'
check "idle script ran" kill -0 "$idle_pid"
for i in $(seq 1 14); do	# 7 s: more than twice the expiry time
    pmi -f bpftrace.scripts.$busy.data.b >/dev/null 2>&1
    pmi -f bpftrace.info.scripts_json >/dev/null 2>&1
    pmi -f bpftrace.scripts.$watched.status >/dev/null 2>&1
    sleep 0.5
done
check "unnamed script not fetched expired" gone bpftrace.scripts.$idle
check "expiry logged as upstream does" grep -q "deregistering script $idle .*(wasn't requested in the last 3 seconds)" "$T/bpftrace.log"
check "expired script's bpftrace is stopped" wait_until 15 exited "$idle_pid"
check "fetching scripts_json does not keep a script alive" gone bpftrace.scripts.$jsononly
check "unnamed script whose data is fetched survives" has_data bpftrace.scripts.$busy.data.b
check "unnamed script whose status alone is fetched survives (as upstream)" has_data bpftrace.scripts.$watched.data.d
check "named script never expires" has_data bpftrace.scripts.keeper.data.k
check_eq "scripts_json: exactly the survivors" "$busy $watched keeper" "$(jq -r '[.[] | .metadata.name // .script_id] | join(" ")' <<<"$(value bpftrace.info.scripts_json)")"
