#!/bin/bash
# The PCP clients a performance engineer reads the agent with: pmval, pmrep
# and pmie, as they are, against a script's counters, maps, histograms and
# instant values, and a pmval that keeps reporting while its drop-in script
# is edited and restarts.
. "$(dirname "$0")/lib.sh"

# @keys["alpha"] counts twice as fast as @keys["beta"], both printed in one
# block, so over any run of samples their rates are in the ratio 2:1.
drop clients <<'BT'
BEGIN { @h = hist(100); @level = 42; @st["one"] = 1; @st["two"] = 2; @st["three"] = 3; }
interval:ms:10 { @ticks = count(); @keys["alpha"] = count(); @h = hist(5); }
interval:ms:20 { @keys["beta"] = count(); }
BT
start_pmcd || exit 1
check "script started" wait_until 20 started clients
check "counter has a value" wait_until 10 has_data bpftrace.scripts.clients.data.ticks
M=bpftrace.scripts.clients.data

# pmrep CSV on stdin: the sum of the numbers in field N of the rows after
# the header (empty fields and text skipped)
col_sum() { tail -n +2 | awk -v f="$1" -F, '$f ~ /^[0-9]+(\.[0-9]+)?$/ { s += $f } END { print s + 0 }'; }
# col_of HEADER PATTERN: the number of the CSV field that matches
col_of() { echo "$1" | tr ',' '\n' | grep -n -- "$2" | cut -d: -f1; }
mean() { awk '{ s += $1; n++ } END { if (n) printf "%.1f\n", s / n }'; }
# between LOW HIGH VALUE: a number within [LOW, HIGH]
between() { awk -v lo="$1" -v hi="$2" -v v="$3" 'BEGIN { exit !(v != "" && v >= lo && v <= hi) }'; }

# --- pmval: a count() at 100 per second is shown as a rate near 100/s.
# A sample sees 0, 1 or 2 of the once-a-second prints, but the mean of six
# consecutive rates is the change over six seconds: 100/s within 100/6.
out=$(pmval -h "$HOST" -t 1 -s 6 -f 1 $M.ticks 2>&1)
check_match "pmval converts the counter to a rate" "semantics: cumulative counter \(converting to rate\)" "$out"
check_match "...per second (no units, as the Python agent's)" "units: +none \(converting to / sec\)" "$out"
rates=$(echo "$out" | awk 'NF == 1 && $1 ~ /^[0-9.]+$/')
check_eq "pmval printed six rates" 6 "$(echo "$rates" | grep -c .)"
m=$(echo "$rates" | mean)
check "pmval's mean rate is near 100/s (got $m)" between 60 140 "$m"

# --- pmval -r: the raw counts, growing (2 s apart: every interval holds a print)
raw=$(pmval -h "$HOST" -r -t 2 -s 3 $M.ticks 2>&1 | awk 'NF == 1 && $1 ~ /^[0-9]+$/')
check_eq "pmval -r printed three counts" 3 "$(echo "$raw" | grep -c .)"
check "...growing from sample to sample" bash -c "echo '$raw' | awk 'NR > 1 && \$1 <= prev { bad = 1 } { prev = \$1 } END { exit bad || NR != 3 }'"

# --- pmval on a map: one column per key, picked with -i
out=$(pmval -h "$HOST" -t 1 -s 3 -i alpha,beta $M.keys 2>&1)
check_match "pmval names the map's keys as instances" "alpha +beta|beta +alpha" "$out"

# --- two pmvals at once on a map printed once a second and not changing,
# 20 samples a second each, one of them asking for one key (an instance
# profile of its own).  Between two prints the agent sends its last answer
# again as it was, but only to a fetch that asks for the same: each pmval
# gets its own instances, every time.
pmval -h "$HOST" -t 0.05 -s 40 -i one $M.st > "$T/pv-one.out" 2>&1 &
PV1=$!
pmval -h "$HOST" -t 0.05 -s 40 $M.st > "$T/pv-all.out" 2>&1
wait "$PV1"
check_eq "pmval -i one: 40 samples, each of key one alone" 40 "$(grep -Ec '^ +1 *$' "$T/pv-one.out")"
check_eq "...pmval beside it: 40 samples of the three keys" 40 "$(grep -Ec '^ +1 +2 +3 *$' "$T/pv-all.out")"
check "...and no other line holds a value" bash -c "! grep -Ehv '^ +1( +2 +3)? *\$|^(metric|host|semantics|units|samples|interval|instance|) *:|^ *(one|one +two +three) *\$|^ *\$' '$T/pv-one.out' '$T/pv-all.out' | grep ."
check "the agent sent unchanged answers again as they were, and said so" \
    grep -q 'fetch answers unchanged since the last are sent again as they were' "$T/bpftrace.log"

# --- pmrep: the map as CSV, a column per key
out=$(pmrep -h "$HOST" -t 1 -s 6 -o csv $M.keys 2>&1)
hdr=$(echo "$out" | head -1)
check_match "pmrep has a column for alpha" "\"$M\.keys-alpha\"" "$hdr"
check_match "...and for beta" "\"$M\.keys-beta\"" "$hdr"
sum_a=$(echo "$out" | col_sum "$(col_of "$hdr" 'keys-alpha')")
sum_b=$(echo "$out" | col_sum "$(col_of "$hdr" 'keys-beta')")
ratio=$(awk -v a="$sum_a" -v b="$sum_b" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
check "pmrep's rates of alpha and beta are 2:1 (got $sum_a and $sum_b)" between 1.8 2.2 "$ratio"

# --- pmrep -i takes a regular expression: one key of the two
hdr=$(pmrep -h "$HOST" -t 1 -s 1 -o csv -i '^alpha$' $M.keys 2>&1 | head -1)
check_eq "pmrep -i '^alpha\$' picks that key alone" "Time,\"$M.keys-alpha\"" "$hdr"

# --- pmrep: a histogram, a column per bucket, the empty ones between
# included; 4-7 fills at 100 a second, 64-127 holds its one value.  (pmrep
# shows rates even with -r: the Python agent's data metrics have no units,
# and pmrep asks for raw values through the units.)
out=$(pmrep -h "$HOST" -s 4 -t 1 -o csv $M.h 2>&1)
hdr=$(echo "$out" | head -1)
check_match "pmrep has the histogram's buckets as columns" "\"$M\.h-4-7\",\"$M\.h-8-15\",\"$M\.h-16-31\",\"$M\.h-32-63\",\"$M\.h-64-127\"" "$hdr"
sum_47=$(echo "$out" | col_sum 2)
sum_64=$(echo "$out" | col_sum 6)
check "...the 4-7 bucket fills (got $sum_47)" awk "BEGIN { exit !($sum_47 > 0) }"
check_eq "...the 64-127 bucket does not grow" 0 "$sum_64"

# --- pmrep: a whole script's subtree, strings and numbers side by side
out=$(pmrep -h "$HOST" -s 1 -r -o csv bpftrace.scripts.clients 2>&1)
hdr=$(echo "$out" | head -1)
row=$(echo "$out" | tail -1)
col_s=$(col_of "$hdr" '\.clients\.status"')
col_l=$(col_of "$hdr" '\.data\.level"')
check "pmrep expands the script's subtree (status, data.level)" test -n "$col_s" -a -n "$col_l"
check_eq "...status column" '"started"' "$(echo "$row" | cut -d, -f"${col_s:-1}")"
check_eq "...data.level column" "42" "$(echo "$row" | cut -d, -f"${col_l:-1}")"

# --- pmie: rules on a rate, on map instances and on an instant value; the
# rule that must not fire shows the others are evaluated, not always true
cat > "$T/rules.pmie" <<EOF
$M.ticks > 50 -> print "ticking %v";
some_inst ($M.keys > 10) -> print "key %i";
$M.level == 42 -> print "level %v";
$M.level > 100 -> print "never";
EOF
out=$(pmie -h "$HOST" -c "$T/rules.pmie" -t 1 -T 5sec 2>&1)
check_match "pmie fires on the counter's rate" "ticking [0-9]" "$out"
check_match "pmie names the map instance alpha" "key alpha" "$out"
check_match "...and beta" "key beta" "$out"
check_match "pmie fires on the instant value" "level 42" "$out"
check "pmie does not fire the false rule" bash -c "! echo '$out' | grep -q never"

# --- pmval across an edit of the drop-in file: the script restarts under
# the same metric id, and pmval goes on reporting without a restart of its own
pid1=$(value bpftrace.scripts.clients.pid)
pmval -h "$HOST" -t 1 -s 14 -f 1 $M.ticks > "$T/pmval.out" 2>&1 &
PMVAL_PID=$!
sleep 3
drop clients <<'BT'
// edited: the same variables
BEGIN { @h = hist(100); @level = 42; @st["one"] = 1; @st["two"] = 2; @st["three"] = 3; }
interval:ms:10 { @ticks = count(); @keys["alpha"] = count(); @h = hist(5); }
interval:ms:20 { @keys["beta"] = count(); }
BT
check "the edited script restarts" wait_until 20 bash -c "p=\$(pminfo -h $HOST -f bpftrace.scripts.clients.pid | sed -n 's/^ *value //p'); [ -n \"\$p\" ] && [ \"\$p\" != '$pid1' ] && [ \"\$(pminfo -h $HOST -f bpftrace.scripts.clients.status | grep -c started)\" = 1 ]"
wait "$PMVAL_PID"; rc=$?
check_eq "pmval ran to its end" 0 "$rc"
check "pmval reported no error" bash -c "! grep -Eiq 'error|unknown|illegal' '$T/pmval.out'"
last=$(awk 'NF == 1 && $1 ~ /^[0-9.]+$/' "$T/pmval.out" | tail -4)
check_eq "pmval's last four samples, after the restart, are rates" 4 "$(echo "$last" | grep -c .)"
# (a one-second sample can miss the once-a-second print: most, not all)
check "...most of them above zero" bash -c "[ \$(echo '$last' | awk '\$1 > 0' | wc -l) -ge 3 ]"

# --- every answer above went through pmcd as the agent encoded it (pdu.c):
# the log says so once, so a link that stops binding libpcp_pmda's
# __pmSendResult to the agent's does not go unseen
check_eq "the agent encoded the fetch answers itself, and said so once" 1 \
    "$(grep -c 'fetch answers are encoded by the agent' "$T/bpftrace.log")"
