#!/bin/bash
# Who may register, for clients that log in to pmcd with SASL: pmcd passes
# the authenticated name to the agent (PMDA_ATTR_USERNAME), and the agent
# checks it against allowed_users as it does the unix socket's uid.
#
# A real SASL login: a private sasldb with two users, PLAIN over TCP, and a
# SASL configuration for pmcd in $T/sasl (libpcp takes the folder from
# PCP_SASL2_CONFIG_PATH; the file is named after the program, pmcd.conf).
# PCP_SASLCONF_DIR in pcp.conf only tells where the package installs it.
#
# pmcd before PCP 7.0 refuses a SASL user without a local account, after
# a successful authentication ("Authenticated user NAME not found", the
# client sees "No such process"): there pmcd alone is given the two users
# through nss_wrapper (libnss-wrapper), and the agent is not, so it gets
# the name as PMDA_ATTR_USERNAME and a uid it cannot resolve.  The system's
# /etc/passwd is left alone.
. "$(dirname "$0")/lib.sh"

command -v jq >/dev/null || { skip "jq is not installed (test/deps-debian)"; exit 0; }

# ---- what SASL PLAIN with a sasldb needs here
viewer=$(command -v saslpluginviewer || command -v pluginviewer)
why=
for tool in saslpasswd2 sasldblistusers2; do
    command -v $tool >/dev/null || why="$why, no $tool (sasl2-bin)"
done
if [ -z "$viewer" ]; then
    why="$why, no saslpluginviewer (sasl2-bin)"
else
    "$viewer" -s 2>/dev/null | grep -q 'Plugin "plain"' || why="$why, no server PLAIN mechanism (libsasl2-modules)"
    "$viewer" -c 2>/dev/null | grep -q 'Plugin "plain"' || why="$why, no client PLAIN mechanism (libsasl2-modules)"
    "$viewer" -a 2>/dev/null | grep -q 'Plugin "sasldb"' || why="$why, no sasldb plugin (libsasl2-modules-db)"
fi
"$PCP_BINADM_DIR/pmconfig" -L authentication 2>/dev/null | grep -q '=true' ||
    why="$why, this libpcp has no SASL authentication"
if [ -n "$why" ]; then
    skip "SASL: ${why#, } (test/deps-debian installs them)"
    exit 0
fi
make -s -C "$TOP" helpers >/dev/null || { echo "cannot build the test helpers"; exit 1; }
SAF=$TOP/build/store_and_fetch
SCRIPT='interval:ms:100 { @c = count(); }'
NOPERM="No permission to perform requested operation"
NEWVAL='^bpftrace.control.register old value="\{\}" new value='

# ---- the sasldb and pmcd's SASL configuration
mkdir -p "$T/sasl"
echo secret | saslpasswd2 -p -a pmcd -f "$T/sasldb" alloweduser
echo hidden | saslpasswd2 -p -a pmcd -f "$T/sasldb" otheruser
users=$(sasldblistusers2 -f "$T/sasldb" 2>&1)
check_match "sasldb has alloweduser" '(^|'$'\n'')alloweduser@[^:]*: userPassword' "$users"
check_match "sasldb has otheruser" '(^|'$'\n'')otheruser@[^:]*: userPassword' "$users"
printf 'mech_list: plain\nsasldb_path: %s\n' "$T/sasldb" > "$T/sasl/pmcd.conf"
PMCD_ENV="PCP_SASL2_CONFIG_PATH=$T/sasl"

# pmcd's host specifications (PORT changes with each start_pmcd): a SASL
# login, and TCP without any
sasl() { echo "pcp://localhost:$PORT?username=$1&password=$2&method=plain"; }
ALLOWED() { sasl alloweduser secret; }
OTHER()   { sasl otheruser hidden; }
PLAIN()   { echo "pcp://localhost:$PORT"; }

reg()     { pmstore -h "$1" bpftrace.control.register "$SCRIPT" 2>&1; }
nscripts() { pminfo -h "$HOST" -f bpftrace.info.scripts 2>/dev/null | grep -c 'inst \['; }
logged()   { grep -q -- "$1" "$T/bpftrace.log"; }
restart()  { stop_pmcd; start_pmcd "$1" || exit 1; }
quiet()    { "$@" >/dev/null; }

CONF=$'[dynamic_scripts]\nenabled = true\nauth_enabled = true\nallowed_users = alloweduser'
start_pmcd "$CONF" || exit 1

# ---- is a SASL user without a local account accepted by this pmcd?
out=$(pminfo -h "$(ALLOWED)" bpftrace.info.scripts_json 2>&1)
wrapped=
if [ "$out" != bpftrace.info.scripts_json ] &&
       grep -q 'Authenticated user alloweduser not found' "$T/pmcd.log"; then
    note "this pmcd ($PCP_VERSION) needs a local account for a SASL user: $out"
    wrapper=$(ls /usr/lib/*/libnss_wrapper.so /usr/lib64/libnss_wrapper.so /usr/lib/libnss_wrapper.so \
		 /usr/local/lib/libnss_wrapper.so 2>/dev/null | head -1)
    if [ -z "$wrapper" ]; then
	skip "SASL: pmcd $PCP_VERSION refuses SASL users without a local account, and nss_wrapper (libnss-wrapper) is not installed to give it some"
	exit 0
    fi
    # two free uids and gids, unknown to the agent
    uid=61000
    while getent passwd $((uid + 1)) >/dev/null || getent passwd $((uid + 2)) >/dev/null ||
	  getent group $((uid + 1)) >/dev/null || getent group $((uid + 2)) >/dev/null; do
	uid=$((uid + 10))
    done
    AUID=$((uid + 1)) OUID=$((uid + 2))
    { cat /etc/passwd
      echo "alloweduser:x:$AUID:$AUID::/nonexistent:/usr/sbin/nologin"
      echo "otheruser:x:$OUID:$OUID::/nonexistent:/usr/sbin/nologin"; } > "$T/passwd"
    { cat /etc/group; echo "alloweduser:x:$AUID:"; echo "otheruser:x:$OUID:"; } > "$T/group"
    PMCD_ENV="$PMCD_ENV LD_PRELOAD=$wrapper NSS_WRAPPER_PASSWD=$T/passwd NSS_WRAPPER_GROUP=$T/group"
    AGENT_PREFIX="env -u LD_PRELOAD -u NSS_WRAPPER_PASSWD -u NSS_WRAPPER_GROUP"
    wrapped=1
    restart "$CONF"
    out=$(pminfo -h "$(ALLOWED)" bpftrace.info.scripts_json 2>&1)
fi
if [ "$out" != bpftrace.info.scripts_json ]; then
    not_ok "SASL PLAIN login as alloweduser: $out"
    sed 's/^/# pmcd.log: /' "$T/pmcd.log" | tail -15
    exit 1
fi
ok "SASL PLAIN login as alloweduser over TCP${wrapped:+ (local accounts for pmcd from nss_wrapper)}"
check "pmcd logged the authentication" grep -q 'Successful authentication for user "alloweduser"' "$T/pmcd.log"

# ---- pmcd without -S: SASL is the client's choice
out=$(pminfo -h "$(sasl alloweduser wrong)" bpftrace.info.scripts_json 2>&1)
check_match "a wrong password is refused by pmcd" "Authentication - authentication failure" "$out"
out=$(pminfo -h "$(sasl nosuchuser secret)" bpftrace.info.scripts_json 2>&1)
check_match "a user not in the sasldb is refused by pmcd" "Authentication - " "$out"

out=$(reg "$(ALLOWED)")
check_match "alloweduser registers via SASL" "$NEWVAL" "$out"
check "registration logged with user=alloweduser" logged "registered script s[0-9a-f]* (user=alloweduser"
if [ -n "$wrapped" ]; then
    # the uid pmcd sends too means nothing to the agent: the name came
    # from PMDA_ATTR_USERNAME
    check "the agent could not resolve pmcd's uid for alloweduser" logged "Cannot resolve uid $AUID to a valid user account"
fi
check_eq "one script registered" "1" "$(nscripts)"
id=$(pminfo -h "$HOST" -f bpftrace.info.scripts | sed -n 's/.*inst \[[0-9]* or "\(s[0-9a-f]*\)"\].*/\1/p')
json=$(pminfo -h "$(ALLOWED)" -f bpftrace.info.scripts_json | sed -n 's/^    value "\(.*\)"$/\1/p')
check_eq "scripts_json: the script's username is alloweduser" "alloweduser" \
    "$(jq -r ".[] | select(.script_id == \"$id\") | .username" <<<"$json" 2>&1)"
check_match "scripts_json says \"username\": \"alloweduser\"" '"username": "alloweduser"' "$json"
running() { [ "$(pminfo -h "$(ALLOWED)" -f "bpftrace.scripts.$id.status" | sed -n 's/^    value "\(.*\)"$/\1/p')" = started ]; }
check "alloweduser's script starts" wait_until 30 running
cval() { pminfo -h "$(ALLOWED)" -f "bpftrace.scripts.$id.data.c" 2>/dev/null | sed -n 's/^    value \([0-9]*\)$/\1/p'; }
counted() { [ "$(cval)" -gt 0 ] 2>/dev/null; }
check "its metric is fetchable over the SASL connection" wait_until 20 counted
note "bpftrace.scripts.$id.data.c = $(cval)"

# the answer in the same context, as grafana-pcp reads it
out=$("$SAF" -h "$(ALLOWED)" bpftrace.control.register "$SCRIPT" 2>&1)
check_eq "store_and_fetch as alloweduser: the answer's username" "alloweduser" "$(jq -r .username <<<"$out" 2>&1)"

out=$(reg "$(OTHER)")
check_match "otheruser (not allowed) is refused" "pmStore: $NOPERM" "$out"
check "otheruser's denial logged with the name" logged "permission denied for user otheruser"
out=$("$SAF" -h "$(OTHER)" bpftrace.control.register "$SCRIPT" 2>&1 >/dev/null)
check_eq "store_and_fetch as otheruser: PM_ERR_PERMISSION" "pmStore: $NOPERM" "$out"
out=$(pmstore -h "$(OTHER)" bpftrace.control.deregister "$id" 2>&1)
check_match "otheruser may not deregister alloweduser's script" "pmStore: $NOPERM" "$out"
check "otheruser may still read the metrics" quiet pminfo -h "$(OTHER)" -f "bpftrace.scripts.$id.status"

out=$(reg "$(PLAIN)" </dev/null)
check_match "TCP without credentials: registration refused" "pmStore: $NOPERM" "$out"
check "...logged as an unauthenticated user" logged "permission denied for unauthenticated user"
check_eq "only alloweduser's two scripts are registered" "2" "$(nscripts)"

out=$(pmstore -h "$(ALLOWED)" bpftrace.control.deregister "$id" 2>&1)
check_match "alloweduser deregisters the script via SASL" '^bpftrace.control.deregister old value=' "$out"
check_eq "one script left" "1" "$(nscripts)"

# ---- authentication off: a SASL user is named, whoever it is
restart $'[dynamic_scripts]\nenabled = true\nauth_enabled = false'
check_match "auth off: otheruser registers via SASL" "$NEWVAL" "$(reg "$(OTHER)")"
check "...logged with user=otheruser" logged "registered script s[0-9a-f]* (user=otheruser"
json=$(pminfo -h "$HOST" -f bpftrace.info.scripts_json | sed -n 's/^    value "\(.*\)"$/\1/p')
check_match "...and its JSON says \"username\": \"otheruser\"" '"username": "otheruser"' "$json"

# ---- pmcd -S: every client must authenticate, the unix socket by its uid
PMCD_ARGS=-S
restart "$CONF"
# pmcd asks for a SASL login, and libsasl would prompt on the terminal
out=$(pminfo -h "$(PLAIN)" bpftrace.info.scripts_json 2>&1 </dev/null)
check_match "pmcd -S: a TCP connection without credentials is refused" \
    "Cannot connect to PMCD on host \"pcp://localhost:$PORT\": Authentication - " "$out"
out=$(reg "$(PLAIN)" </dev/null)
check_match "pmcd -S: so is pmstore without credentials" "Cannot connect to PMCD .*Authentication - " "$out"
check "pmcd -S: the unix socket still connects (root)" quiet pminfo -h "$HOST" bpftrace.info.scripts_json
check_match "pmcd -S: root over the unix socket is not in allowed_users" "pmStore: $NOPERM" "$(reg "$HOST")"
check "...logged: permission denied for user root" logged "permission denied for user root"
check_match "pmcd -S: alloweduser registers via SASL" "$NEWVAL" "$(reg "$(ALLOWED)")"
check "...logged with user=alloweduser" logged "registered script s[0-9a-f]* (user=alloweduser"
check_match "pmcd -S: otheruser is refused" "pmStore: $NOPERM" "$(reg "$(OTHER)")"
check "...logged: permission denied for user otheruser" logged "permission denied for user otheruser"
