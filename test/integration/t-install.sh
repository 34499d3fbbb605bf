#!/bin/bash
# make install, ./Install </dev/null and ./Remove against the system pmcd,
# as a user would do it; the agent's state before the test is restored.
. "$(dirname "$0")/lib.sh"

dir=$PCP_PMDAS_DIR/bpftrace
if [ "$AGENT_BIN" != "$TOP/pmdabpftrace" ]; then
    skip "install test: it installs ./pmdabpftrace, not AGENT_BIN=$AGENT_BIN (make asan)"
    exit 0
fi
if ! pmprobe -h local: pmcd.version >/dev/null 2>&1; then
    skip "install test: the system pmcd is not running"
    exit 0
fi
was_installed=0
grep -q '^bpftrace' "$PCP_PMCDCONF_PATH" && was_installed=1

check "make install" make -s -C "$TOP" install
check "Install runs without a terminal" bash -c "cd $dir && ./Install </dev/null >$T/install.out 2>&1"
check "Install reports the metrics appeared" grep -q "Check bpftrace metrics have appeared ... [0-9]* metrics" "$T/install.out"
check "pmcd.conf starts the agent notready" grep -q "^bpftrace	151	pipe	binary notready.*pmdabpftrace -d 151" "$PCP_PMCDCONF_PATH"
check_eq "system pmcd serves scripts_json" "ok" "$(pminfo -f bpftrace.info.scripts_json | grep -q 'value "\[' && echo ok)"
check "help text from the agent" bash -c "pminfo -t bpftrace.control.register | grep -q 'register a new bpftrace script'"

# a drop-in script in the real autostart folder
cat > "$dir/autostart/zz_install_test.bt" <<'BT'
interval:ms:100 { @n = count(); }
BT
chmod 644 "$dir/autostart/zz_install_test.bt"
check "drop-in script in \$PCP_PMDAS_DIR/bpftrace/autostart runs" \
    wait_until 20 bash -c "pminfo -f bpftrace.scripts.zz_install_test.data.n | grep -q 'value [1-9]'"
pid=$(pminfo -f bpftrace.scripts.zz_install_test.pid | sed -n 's/.*value //p')
agent=$(pgrep -f "^$dir/pmdabpftrace -d 151" | head -1)
rm -f "$dir/autostart/zz_install_test.bt"

check "Remove runs" bash -c "cd $dir && ./Remove >$T/remove.out 2>&1"
check "Remove: metrics gone" grep -q "Check bpftrace metrics have gone away ... OK" "$T/remove.out"
check "Remove leaves no bpftrace running" wait_until 10 exited "$pid"
check "Remove stops the agent" wait_until 10 exited "$agent"

if [ $was_installed = 1 ]; then
    (cd "$dir" && ./Install </dev/null >/dev/null 2>&1)
fi
