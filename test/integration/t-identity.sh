#!/bin/bash
# Stable metric identity: a script name keeps its PMID cluster, and a
# variable its item, across agent restarts (the map in $PCP_VAR_DIR, here
# $T/var).  A PMID never names another metric while it can be helped: new
# names take clusters in turn (across restarts too), so a gone script's
# cluster comes back only after all the others, and a variable whose
# descriptor changes under the same name gets a new item.  The 12-bit
# cluster space never runs out or wraps onto the control/info clusters.
. "$(dirname "$0")/lib.sh"

MAP=$T/var/config/pmda/151.clusters
pmid_of() { pminfo -h "$HOST" -m "$1" 2>/dev/null | awk '{print $3}'; }
cluster_of() { pmid_of "$1" | cut -d. -f2; }
# distinct A B...: all non-empty (the metrics exist) and all different
distinct() {
    local a
    for a in "$@"; do [ -n "$a" ] || return 1; done
    [ "$(printf '%s\n' "$@" | sort -u | wc -l)" -eq $# ]
}
reg() { pmstore -h "$HOST" bpftrace.control.register "$1" >/dev/null 2>&1; }
dereg() { pmstore -h "$HOST" bpftrace.control.deregister "$1" >/dev/null 2>&1; }
restart() {
    stop_pmcd
    start_pmcd "${1:-}" || exit 1
}
# the id of the newest unnamed script: register one and read its answer
command -v jq >/dev/null || { skip "jq is not installed (test/deps-debian)"; exit 0; }
make -s -C "$TOP" helpers >/dev/null || { echo "cannot build the test helpers"; exit 1; }
reg_id() { "$TOP/build/store_and_fetch" -h "$HOST" bpftrace.control.register "$1" | jq -r .script_id; }

drop dropped <<'BT'
interval:ms:100 { @d = count(); }
BT
start_pmcd || exit 1
check "drop-in script metrics appear" wait_until 20 pmi bpftrace.scripts.dropped.data.d
reg '// name: alpha
interval:ms:100 { @a = count(); @b = sum(2); }'
reg 'interval:ms:100 { @u = count(); }'
d1=$(pmid_of bpftrace.scripts.dropped.data.d)
a1=$(pmid_of bpftrace.scripts.alpha.data.a)
b1=$(pmid_of bpftrace.scripts.alpha.data.b)
st1=$(pmid_of bpftrace.scripts.alpha.status)
check_match "PMIDs in the script clusters (100+)" '^151\.(1[0-9][0-9]|[2-9][0-9][0-9]|[1-4][0-9]{3})\.' "$a1"
check "map file saved" test -s "$MAP"
check "map file has the named scripts" bash -c "grep -q ' alpha ' $MAP && grep -q ' dropped ' $MAP"
check "map file has no unnamed script" bash -c "! grep -q ' s[0-9a-f]\{32\} ' $MAP"

# ---- restart: other scripts first, variables in another order, one more
restart
check "drop-in script back after the restart" wait_until 20 pmi bpftrace.scripts.dropped.data.d
reg '// name: beta
interval:ms:100 { @z = count(); }'
reg '// name: alpha
interval:ms:100 { @c = count(); @b = sum(2); @a = count(); }'
check_eq "drop-in script keeps its PMID across restarts" "$d1" "$(pmid_of bpftrace.scripts.dropped.data.d)"
check_eq "named script keeps its PMID across restarts" "$a1" "$(pmid_of bpftrace.scripts.alpha.data.a)"
check_eq "...for each variable, whatever their order" "$b1" "$(pmid_of bpftrace.scripts.alpha.data.b)"
check_eq "...and for its state metrics" "$st1" "$(pmid_of bpftrace.scripts.alpha.status)"
c=$(pmid_of bpftrace.scripts.alpha.data.c)
check "a new variable gets a new item" distinct "$c" "$a1" "$b1"
check "a new name gets a cluster of its own" distinct "$(cluster_of bpftrace.scripts.beta.data.z)" \
    "$(cluster_of bpftrace.scripts.alpha.data.a)" "$(cluster_of bpftrace.scripts.dropped.data.d)"

# a deregistered name keeps its cluster for when it comes back
alpha_cluster=$(cluster_of bpftrace.scripts.alpha.data.a)
dereg alpha
reg '// name: gamma
interval:ms:100 { @g = count(); }'
check "a newcomer does not take a saved name's cluster" distinct "$(cluster_of bpftrace.scripts.gamma.data.g)" "$alpha_cluster"
reg '// name: alpha
interval:ms:100 { @a = count(); }'
check_eq "a name registered again gets its PMIDs back" "$a1" "$(pmid_of bpftrace.scripts.alpha.data.a)"

# ---- a variable whose descriptor changes under its name gets a new item
# (pmlogger has the old descriptor in its archive under the old PMID);
# edited back, it has its old PMID again
drop shape <<'BT'
interval:ms:100 { @v = count(); @w = count(); }
BT
check "shape: first version runs" wait_until 20 has_data bpftrace.scripts.shape.data.v
v1=$(pmid_of bpftrace.scripts.shape.data.v)
w1=$(pmid_of bpftrace.scripts.shape.data.w)
drop shape <<'BT'
interval:ms:100 { @v[1] = count(); @w = count(); }
BT
check "shape: the edited version, @v now a map, runs" wait_until 20 \
    bash -c "pminfo -h $HOST -d bpftrace.scripts.shape.data.v | grep -q 'InDom: 151\.'"
v2=$(pmid_of bpftrace.scripts.shape.data.v)
check "a variable now keyed has a PMID of its own" distinct "$v1" "$v2"
check_eq "...the unchanged variable beside it keeps its PMID" "$w1" "$(pmid_of bpftrace.scripts.shape.data.w)"
drop shape <<'BT'
interval:ms:100 { @v = avg(5); @w = count(); }
BT
check "shape: the third version, @v now an average (instant, signed), runs" wait_until 20 \
    bash -c "pminfo -h $HOST -d bpftrace.scripts.shape.data.v | grep -q 'Semantics: instant'"
v3=$(pmid_of bpftrace.scripts.shape.data.v)
check "...another PMID again" distinct "$v1" "$v2" "$v3"
drop shape <<'BT'
interval:ms:100 { @v = count(); @w = count(); }
BT
check "shape: edited back, @v is a counter again" wait_until 20 \
    bash -c "pminfo -h $HOST -d bpftrace.scripts.shape.data.v | grep -q 'Semantics: counter'"
check_eq "...under its first PMID" "$v1" "$(pmid_of bpftrace.scripts.shape.data.v)"
check_match "the map keeps each descriptor's item" " @v=[0-9]+:3:1:0 .*@v=[0-9]+:3:1:1 .*@v=[0-9]+:2:3:0" "$(grep ' shape ' "$MAP")"
rm -f "$T/autostart/shape.bt"

# ---- unnamed scripts: a new name takes the next cluster in turn, so a
# deregistered script's cluster is not given to the next one
id=$(reg_id 'interval:ms:100 { @x = count(); }')
c1=$(cluster_of bpftrace.scripts.$id.data.x)
check_match "an unnamed script gets a cluster" '^[0-9]+$' "$c1"
dereg "$id"
check "deregistered unnamed script is gone" bash -c "! pminfo -h $HOST bpftrace.scripts.$id >/dev/null 2>&1"
id2=$(reg_id 'interval:ms:100 { @y = count(); }')
c2=$(cluster_of bpftrace.scripts.$id2.data.y)
check_eq "the next unnamed script takes the next cluster, not the freed one" "$((c1 + 1))" "$c2"
dereg "$id2"
clusters=
for i in $(seq 1 40); do
    id=$(reg_id 'interval:s:10 { @x = count(); }')
    clusters="$clusters $(cluster_of bpftrace.scripts.$id.data.x)"
    dereg "$id"
done
check_eq "40 registrations in a row, each with a cluster" 40 "$(echo $clusters | wc -w)"
check "...40 different ones" bash -c "[ \$(echo $clusters | tr ' ' '\n' | sort -u | wc -l) -eq 40 ]"
last=$(echo $clusters | awk '{print $NF}')
check_match "the map says where the next new name starts" "^next $((last + 1))\$" "$(grep '^next ' "$MAP")"
restart
id=$(reg_id 'interval:ms:100 { @x = count(); }')
check_eq "after a restart, new names go on from there" "$((last + 1))" "$(cluster_of bpftrace.scripts.$id.data.x)"
dereg "$id"

# ---- round the end of the space: from 4095 back to the first free one
stop_pmcd
sed -i 's/^next .*/next 4095/' "$MAP"
start_pmcd || exit 1
reg '// name: last
interval:ms:100 { @l = count(); }'
check_eq "a new name at the end of the space takes cluster 4095" "151.4095.10" "$(pmid_of bpftrace.scripts.last.data.l)"
reg '// name: wrapped
interval:ms:100 { @l = count(); }'
c=$(cluster_of bpftrace.scripts.wrapped.data.l)
check "the next one wraps to a free cluster among the first" bash -c "[ '$c' -ge 100 ] && [ '$c' -lt 200 ]"
check_eq "...one no other saved name holds" "$c wrapped" "$(grep "^$c " "$MAP" | cut -d' ' -f1,2)"

# ---- every cluster saved: the least recently used name gives its cluster
stop_pmcd
rm -f "$T/autostart/dropped.bt"
{
    echo "# all 3996 script clusters taken"
    for c in $(seq 100 4095); do echo "$c old$c $((1000000 + c)) @v=10"; done
} > "$MAP"
start_pmcd || exit 1
reg '// name: fresh
interval:ms:100 { @f = count(); }'
check_eq "with every cluster saved, the least recently used one is taken" "151.100.10" "$(pmid_of bpftrace.scripts.fresh.data.f)"
check "the map now gives cluster 100 to fresh" grep -q '^100 fresh ' "$MAP"
check "...and forgot its old name" bash -c "! grep -q ' old100 ' $MAP"
reg '// name: fresher
interval:ms:100 { @f = count(); }'
check_eq "the next name takes the next least recently used" "151.101.10" "$(pmid_of bpftrace.scripts.fresher.data.f)"
check_eq "control metrics keep their PMID" "151.0.0" "$(pmid_of bpftrace.control.register)"
check_eq "info metrics keep their PMID" "151.1.1" "$(pmid_of bpftrace.info.scripts_json)"
check "other saved names are kept" grep -q '^4095 old4095 ' "$MAP"
check "no cluster beyond 12 bits" bash -c "! pminfo -h $HOST -m bpftrace.scripts | awk '{print \$3}' | cut -d. -f2 | awk '\$1 > 4095 || \$1 < 100' | grep -q ."
# a map line of the agent before descriptors were saved (VAR=ITEM alone):
# the name keeps its item, and the line learns the descriptor
reg '// name: old4095
interval:ms:100 { @v = count(); }'
check_eq "a name from an old map line keeps its PMID" "151.4095.10" "$(pmid_of bpftrace.scripts.old4095.data.v)"
check "...and its line now says the descriptor" grep -q '^4095 old4095 [0-9]* @v=10:3:1:0$' "$MAP"

# ---- a script whose saved line is longer than 8 KiB (112 variables with
# 64-character names, the longest allowed; four probes, as the kernel
# allows a BPF program 64 maps): read back whole after a restart, every
# variable keeps its PMID (a line cut at a fixed buffer gave two variables
# one item, or took its tail for another cluster's line)
long=$(printf 'v%.0s' $(seq 1 59))
wide="// name: wide"
for g in 0 1 2 3; do
    b=
    for j in $(seq 1 28); do b="$b@${long}_$(printf %03d $((g * 28 + j))) = 1; "; done
    wide="$wide
interval:s:$((100 + g)) { $b}"
done
W=bpftrace.scripts.wide.data.$long
reg "$wide"
check "wide: its 112th variable has a PMID" wait_until 20 pmi ${W}_112
w1=$(pmid_of ${W}_001)
w56=$(pmid_of ${W}_056)
w112=$(pmid_of ${W}_112)
count_pmids() { pminfo -h "$HOST" -m bpftrace.scripts.wide.data | awk '{print $3}' | sort -u | wc -l; }
check_eq "...112 PMIDs, all different" 112 "$(count_pmids)"
check "the map line of wide is longer than 8 KiB" awk '$2 == "wide" && length($0) > 8192 { f = 1 } END { exit !f }' "$MAP"
restart
reg "$wide"
check "wide after a restart" wait_until 20 pmi ${W}_112
check_eq "...its first variable keeps its PMID" "$w1" "$(pmid_of ${W}_001)"
check_eq "...its 56th" "$w56" "$(pmid_of ${W}_056)"
check_eq "...its 112th" "$w112" "$(pmid_of ${W}_112)"
check_eq "...still 112 PMIDs, all different" 112 "$(count_pmids)"
check "no map line was misread" bash -c "! grep -q 'bad cluster\|bad item' $T/bpftrace.log"
