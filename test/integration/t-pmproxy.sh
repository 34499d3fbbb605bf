#!/bin/bash
# grafana-pcp's bpftrace data source, replayed with curl against a private
# pmproxy (REST API only: no Redis, no discovery) in front of the private
# pmcd: context, store, fetch of the register answer, metric, fetch with
# scripts_json, indom, deregister, tracepoints - checking each answer the
# plugin reads (see /work/shared/docs/grafana-pcp-contract.md).
. "$(dirname "$0")/lib.sh"

command -v jq >/dev/null || { skip "jq is not installed (test/deps-debian)"; exit 0; }
PMPROXY_PID=
stop_pmproxy() {
    [ -n "$PMPROXY_PID" ] || return 0
    kill "$PMPROXY_PID" 2>/dev/null
    wait "$PMPROXY_PID" 2>/dev/null
    PMPROXY_PID=
}
at_exit stop_pmproxy

# pmproxy's context setup reads pmcd.hostname: pmcd's own agent is needed
WITH_PMCD_PMDA=1 start_pmcd || exit 1

cat > "$T/pmproxy.conf" <<'EOF'
[pmproxy]
pcp.enabled = true
http.enabled = true
redis.enabled = false
secure.enabled = false
[redis]
enabled = false
[keys]
enabled = false
[discover]
enabled = false
[pmsearch]
enabled = false
[pmseries]
enabled = false
EOF
for i in 1 2 3 4 5; do
    PPORT=$(free_port)
    PCP_RUN_DIR=$T/run "$PCP_BINADM_DIR/pmproxy" -f -A -p "$PPORT" -s "$T/pmproxy.socket" \
	-c "$T/pmproxy.conf" -l "$T/pmproxy.log" >"$T/pmproxy.out" 2>&1 &
    PMPROXY_PID=$!
    wait_until 10 curl -sf "http://127.0.0.1:$PPORT/pmapi/context?hostspec=pcp://127.0.0.1:$PORT" && break
    stop_pmproxy
done
[ -n "$PMPROXY_PID" ] || { echo "pmproxy did not start"; cat "$T/pmproxy.log"; exit 1; }

URL=http://127.0.0.1:$PPORT
HOSTSPEC=pcp://127.0.0.1:$PORT
# api PATH [curl -G args...]: GET with the plugin's 6 s timeout
api() { local p=$1; shift; curl -s -m 6 -G "$URL$p" "$@"; }
# status PATH [args...]: the HTTP status only
http_status() { local p=$1; shift; curl -s -m 6 -o /dev/null -w '%{http_code}' -G "$URL$p" "$@"; }
# fetched VALUE-of-first-instance of NAME in context
fetch_value() { api /pmapi/fetch -d "context=$1" -d "names=$2" | jq -r '.values[0].instances[0].value'; }

# 1, 2: a poller context and a store context
C1=$(api /pmapi/context -d "hostspec=$HOSTSPEC" -d polltimeout=11 | jq -r .context)
C2=$(api /pmapi/context -d "hostspec=$HOSTSPEC" -d polltimeout=30 | jq -r .context)
check_match "poller context" '^[0-9]+$' "$C1"
check_match "store context, another one" '^[0-9]+$' "$C2"
check "two contexts" test "$C1" != "$C2"
check_eq "scripts_json before any script" "[]" "$(fetch_value $C1 bpftrace.info.scripts_json)"

# 3: store
code='// table-retain-lines: 5
interval:ms:100 { @calls = count(); @lat = hist(3); @lat = hist(100); printf("a,b\n"); }'
ans=$(api /pmapi/store -d "context=$C2" -d name=bpftrace.control.register --data-urlencode "value=$code")
check_eq "store answers success" "true" "$(jq -r .success <<<"$ans")"

# 4: the register answer, fetched in the store context
reg=$(fetch_value $C2 bpftrace.control.register)
check "register answer is a JSON object" jq -e 'type == "object"' <<<"$reg"
id=$(jq -r .script_id <<<"$reg")
check_match "script_id: s + 32 hex digits" '^s[0-9a-f]{32}$' "$id"
check_eq "metadata object, name null" "object null" "$(jq -r '"\(.metadata|type) \(.metadata.name)"' <<<"$reg")"
check_eq "metadata.table_retain_lines" "5" "$(jq -r .metadata.table_retain_lines <<<"$reg")"
check_eq "variables in script order with metrictype" "@calls:null @lat:histogram @output:output" \
    "$(jq -r '[.variables | to_entries[] | "\(.key):\(.value.metrictype)"] | join(" ")' <<<"$reg")"
check_eq "state.status starting" "starting" "$(jq -r .state.status <<<"$reg")"
check_eq "state.error empty" "" "$(jq -r .state.error <<<"$reg")"
check_eq "the answer is given once" "{}" "$(fetch_value $C2 bpftrace.control.register)"
check_eq "the poller context never sees it" "{}" "$(fetch_value $C1 bpftrace.control.register)"

# 5: metric - every name resolves at once, while bpftrace still compiles
names=bpftrace.scripts.$id.data.calls,bpftrace.scripts.$id.data.lat,bpftrace.scripts.$id.data.output
meta=$(api /pmapi/metric -d "context=$C1" -d "names=$names")
check_eq "all data metrics resolve right after the store" "3" "$(jq '.metrics | length' <<<"$meta")"
check_eq "their types and semantics" "u64/counter u64/counter string/instant" \
    "$(jq -r '[.metrics[] | "\(.type)/\(.sem)"] | join(" ")' <<<"$meta")"
check_eq "metrictype labels" "null histogram output" \
    "$(jq -r '[.metrics[] | .labels.metrictype] | map(tostring) | join(" ")' <<<"$meta")"
check_match "the histogram has an indom" '^151\.[0-9]+$' "$(jq -r '.metrics[1].indom' <<<"$meta")"

# 6: the poller fetches data and scripts_json every refresh
poll_ready() {
    api /pmapi/fetch -d "context=$C1" -d "names=$names,bpftrace.info.scripts_json" > "$T/poll.json"
    jq -e --arg id "$id" '.values[] | select(.name == "bpftrace.info.scripts_json") | .instances[0].value | fromjson | .[] | select(.script_id == $id) | .state.status == "started"' "$T/poll.json" >/dev/null &&
	jq -e '.values[] | select(.name | endswith(".data.calls")) | .instances[0].value > 0' "$T/poll.json" >/dev/null &&
	jq -e '.values[] | select(.name | endswith(".data.lat")) | .instances | length >= 2' "$T/poll.json" >/dev/null
}
check "poll: counter counts, histogram fills, scripts_json says started" wait_until 20 poll_ready
check "scripts_json is a JSON array" jq -e '.values[] | select(.name == "bpftrace.info.scripts_json") | .instances[0].value | fromjson | type == "array"' "$T/poll.json"
check_match "CSV output: header first" '^a,b' "$(jq -r '.values[] | select(.name | endswith(".data.output")) | .instances[0].value' "$T/poll.json")"

# 7: indom for instance ids the plugin has not seen
ids=$(jq -r '.values[] | select(.name | endswith(".data.lat")) | [.instances[].instance] | sort | map(tostring) | join(",")' "$T/poll.json")
indom=$(api /pmapi/indom -d "context=$C1" -d "name=bpftrace.scripts.$id.data.lat")
check_eq "indom: the fetched instance ids" "$ids" "$(jq -r '[.instances[].instance] | sort | map(tostring) | join(",")' <<<"$indom")"
check_eq "histogram buckets named min-max" "2-3 4-7 8-15 16-31 32-63 64-127" \
    "$(jq -r '[.instances[].name] | sort_by(split("-")[0] | tonumber) | join(" ")' <<<"$indom")"
# pmproxy lists an indom in its own order; the fetch keeps the agent's
order=$(jq -r --argjson indom "$indom" '.values[] | select(.name | endswith(".data.lat")) | [.instances[].instance as $i | $indom.instances[] | select(.instance == $i) | .name] | join(" ")' "$T/poll.json")
check_eq "fetched buckets sorted by lower bound" "2-3 4-7 8-15 16-31 32-63 64-127" "$order"

# 8: deregister from a fresh context
C3=$(api /pmapi/context -d "hostspec=$HOSTSPEC" -d polltimeout=30 | jq -r .context)
ans=$(api /pmapi/store -d "context=$C3" -d name=bpftrace.control.deregister -d "value=$id")
check_eq "deregister store answers success" "true" "$(jq -r .success <<<"$ans")"
check_eq "deregister answer" '{"success": "true"}' "$(fetch_value $C3 bpftrace.control.deregister)"
check_eq "scripts_json empty again" "[]" "$(fetch_value $C1 bpftrace.info.scripts_json)"
check "the data metrics are gone" bash -c "! curl -s -G '$URL/pmapi/metric' -d context=$C1 -d names=bpftrace.scripts.$id.data.calls | jq -e '.metrics | length > 0' >/dev/null 2>&1"

# 9: tracepoints for the editor, by hostspec
tp=$(api /pmapi/fetch -d "hostspec=$HOSTSPEC" -d names=bpftrace.info.tracepoints | jq -r '.values[0].instances[0].value')
check_match "tracepoints: a comma list" '(^|,)tracepoint:syscalls:sys_enter_read(,|$)' "$tp"

# errors as the plugin sees them: HTTP 400 and a message, the answer in the context
C4=$(api /pmapi/context -d "hostspec=$HOSTSPEC" -d polltimeout=30 | jq -r .context)
code=$(http_status /pmapi/store -d "context=$C4" -d name=bpftrace.control.register --data-urlencode 'value=interval:s:1 { }')
check_eq "refused script: HTTP 400" "400" "$code"
msg=$(api /pmapi/store -d "context=$C4" -d name=bpftrace.control.register --data-urlencode 'value=interval:s:1 { }' | jq -r .message)
check_match "refused script: pmproxy's message" "Bad input to pmstore" "$msg"
err=$(fetch_value $C4 bpftrace.control.register)
check_eq "refused script's state in the context" "error: no bpftrace variables or printf statements found, please include at least one variable or printf statement in your script" \
    "$(jq -r '"\(.state.status): \(.state.error)"' <<<"$err")"
api /pmapi/store -d "context=$C4" -d name=bpftrace.control.register --data-urlencode 'value=// name: twice
interval:s:1 { @x = count(); }' >/dev/null
api /pmapi/store -d "context=$C4" -d name=bpftrace.control.register --data-urlencode 'value=// name: twice
interval:s:1 { @x = count(); }' >/dev/null
check_eq "a taken name, as the panel shows it" "Script name twice is already in use by another script." \
    "$(fetch_value $C4 bpftrace.control.register | jq -r .state.error)"

# authentication on: pmproxy's TCP connection carries no user
stop_pmcd
WITH_PMCD_PMDA=1 start_pmcd $'[dynamic_scripts]\nenabled = true\nauth_enabled = true\nallowed_users = root' || exit 1
HOSTSPEC=pcp://127.0.0.1:$PORT
C5=$(api /pmapi/context -d "hostspec=$HOSTSPEC" -d polltimeout=30 | jq -r .context)
msg=$(api /pmapi/store -d "context=$C5" -d name=bpftrace.control.register --data-urlencode 'value=interval:s:1 { @x = count(); }' | jq -r .message)
check_match "without a user: No permission" "No permission to perform requested operation" "$msg"
check "denial of the unauthenticated user logged" grep -q "permission denied for unauthenticated user" "$T/bpftrace.log"
