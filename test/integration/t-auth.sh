#!/bin/bash
# Who may register: dynamic scripts only when enabled; with authentication
# only the users in allowed_users (the user pmcd reports for the local
# socket, resolved with getpwuid).  pmstore of other users fails with "No
# permission", and the agent logs the denial with the user's name.
#
# Unprivileged clients run as nobody with runuser: pmcd's unix socket is
# srw-rw-rw- in a 0755 folder, and pmcd passes the client's uid to the
# agent (PMDA_ATTR_USERID) once the agent asked for it.
. "$(dirname "$0")/lib.sh"

make -s -C "$TOP" helpers >/dev/null || { echo "cannot build the test helpers"; exit 1; }
# a copy nobody can run: the tree may be in a folder only root may enter
# (a clone in /root), while $T is 0755
cp "$TOP/build/store_and_fetch" "$T/store_and_fetch" || exit 1
SAF=$T/store_and_fetch
SCRIPT='interval:ms:100 { @c = count(); }'
NOPERM="No permission to perform requested operation"

as_nobody() { runuser -u nobody -- "$@"; }
# reg [USER-PREFIX...]: register SCRIPT as root, or run through a prefix
reg_root()   { pmstore -h "$HOST" bpftrace.control.register "$SCRIPT" 2>&1; }
reg_nobody() { as_nobody pmstore -h "$HOST" bpftrace.control.register "$SCRIPT" 2>&1; }
nscripts()   { pminfo -h "$HOST" -f bpftrace.info.scripts 2>/dev/null | grep -c 'inst \['; }
logged()     { grep -q -- "$1" "$T/bpftrace.log"; }

# restart CONFIG-TEXT: a fresh pmcd and agent with this bpftrace.conf
restart() {
    stop_pmcd
    start_pmcd "$1" || exit 1
}

# ---- dynamic scripts off: everybody refused, auth or not
start_pmcd $'[dynamic_scripts]\nenabled = false\nauth_enabled = false' || exit 1
check "nobody can use the private pmcd's socket" as_nobody pminfo -h "$HOST" bpftrace.info.scripts_json
out=$(reg_root)
check_match "dynamic scripts disabled: root's pmstore fails" "pmStore: $NOPERM" "$out"
check "dynamic scripts disabled: upstream's log line" logged "dynamic scripts are disabled in configuration"
check_eq "nothing registered" "0" "$(nscripts)"
restart '# nothing set'
check_match "empty configuration: dynamic scripts are off" "pmStore: $NOPERM" "$(reg_root)"

# ---- QA 1724's first case: enabled, authentication by default, no users
restart $'[dynamic_scripts]\nenabled = true'
out=$(reg_root)
check_match "auth on, no allowed users: root refused" "bpftrace.control.register: new value=\".*\" pmStore: $NOPERM" "$out"
check "denial logged with the user's name" logged "permission denied for user root"
check_eq "nothing registered" "0" "$(nscripts)"

# ---- allowed_users
restart $'[dynamic_scripts]\nenabled = true\nauth_enabled = true\nallowed_users = some_user,root'
out=$(reg_root)
check_match "root in allowed_users registers" '^bpftrace.control.register old value="\{\}" new value=' "$out"
check "registration logged with user=root" logged "registered script s[0-9a-f]* (user=root"
out=$(reg_nobody)
check_match "nobody (not allowed) is refused" "pmStore: $NOPERM" "$out"
check "nobody's denial logged with the name" logged "permission denied for user nobody"
check_eq "only root's script is registered" "1" "$(nscripts)"
id=$(pminfo -h "$HOST" -f bpftrace.info.scripts | sed -n 's/.*inst \[[0-9]* or "\(s[0-9a-f]*\)"\].*/\1/p')
for m in deregister stop start; do
    out=$(as_nobody pmstore -h "$HOST" bpftrace.control.$m "$id" 2>&1)
    check_match "nobody may not $m either" "pmStore: $NOPERM" "$out"
done
check_eq "root's script is still there" "1" "$(nscripts)"
check "nobody may still read the metrics" as_nobody pminfo -h "$HOST" -f bpftrace.scripts.$id.status
out=$(as_nobody "$SAF" -h "$HOST" bpftrace.control.register "$SCRIPT" 2>"$T/saf.err")
check_eq "store_and_fetch as nobody: PM_ERR_PERMISSION" "pmStore: $NOPERM" "$(cat "$T/saf.err")"
check_eq "a refused user gets no answer in the context" "{}" "$out"

# a space after the comma, as QA 1724 writes it
restart $'[dynamic_scripts]\nenabled = true\nauth_enabled = true\nallowed_users = some_user, nobody'
out=$(as_nobody "$SAF" -h "$HOST" bpftrace.control.register "$SCRIPT" 2>&1)
check_eq "nobody allowed (space after the comma)" "nobody" "$(jq -r .username <<<"$out" 2>&1)"
check "registration logged with user=nobody" logged "registered script s[0-9a-f]* (user=nobody"
check_match "root not in the list is refused" "pmStore: $NOPERM" "$(reg_root)"
check "root's denial logged" logged "permission denied for user root"

# a uid without a passwd entry is no user at all
out=$(setpriv --reuid=54321 --regid=54321 --clear-groups pmstore -h "$HOST" bpftrace.control.register "$SCRIPT" 2>&1)
check_match "unknown uid refused" "pmStore: $NOPERM" "$out"
check "unknown uid logged as upstream does" logged "Cannot resolve uid 54321 to a valid user account"
check "unauthenticated denial logged" logged "permission denied for unauthenticated user"

# ---- authentication off: anybody
restart $'[dynamic_scripts]\nenabled = true\nauth_enabled = false'
out=$(reg_nobody)
check_match "auth off: nobody registers" '^bpftrace.control.register old value="\{\}" new value=' "$out"
check "...logged with user=nobody" logged "(user=nobody"
out=$(setpriv --reuid=54321 --regid=54321 --clear-groups pmstore -h "$HOST" bpftrace.control.register "$SCRIPT" 2>&1)
check_match "auth off: even an unknown uid registers" '^bpftrace.control.register old value="\{\}"' "$out"
check "...logged as anonymous" logged "(user=anonymous"

# ---- legacy [authentication] (PCP < 5.1, QA 1706)
restart $'[dynamic_scripts]\nenabled = true\n[authentication]\nenabled = true\nallowed_users = some_user,nobody'
check_match "legacy section: nobody allowed" '^bpftrace.control.register old value="\{\}"' "$(reg_nobody)"
check_match "legacy section: root refused" "pmStore: $NOPERM" "$(reg_root)"
restart $'[dynamic_scripts]\nenabled = true\n[authentication]\nenabled = false'
check_match "legacy enabled = false: authentication off" '^bpftrace.control.register old value="\{\}"' "$(reg_nobody)"
# [dynamic_scripts] wins over [authentication] whatever the order (upstream reads it last)
restart $'[dynamic_scripts]\nenabled = true\nauth_enabled = true\nallowed_users = root\n[authentication]\nenabled = false\nallowed_users = nobody'
check_match "[dynamic_scripts] auth_enabled beats legacy enabled = false" "pmStore: $NOPERM" "$(reg_nobody)"
check_match "[dynamic_scripts] allowed_users beats the legacy list" '^bpftrace.control.register old value="\{\}"' "$(reg_root)"
