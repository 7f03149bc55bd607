#!/usr/bin/env bash
# tests/bench/ha.sh - high availability figures (issue 16): one table.
#
#   tests/bench/ha.sh [--patients N] [--repeat R] [--restore-repeat R1]
#                     [--partitions P] [--figures LIST] [--rate E]
#                     [--keep-topics]
#
# Against a real broker ($VIGIL_BOOTSTRAP, else `ops/kafka-local start`,
# which only prints the address when it runs already; never stopped here),
# on fresh topics, with a population of N simulated patients (default
# 100000; about 2.75 events each):
#   1. whole restore: `vigil process --exit-idle` builds the changelog, then
#      a fresh instance (empty state.dir, same group.id) restores every
#      partition from it: records, restore time and records/s from its log,
#      wall time from its start to `assigned`, changelog records per
#      patient, and the restore time that makes for 1 million patients at
#      the same rate (R1 runs; default R, 1 above 200000 patients);
#   2. takeover after SIGKILL of one of two instances (each with its own
#      state.dir) while data flows (a second simulated chunk written at E
#      events/s, default 500): from the kill to the survivor's `assigned`
#      line (its rebalance noticed, the dead one's partitions restored),
#      and to its `revoked` line (the rebalance noticed), with and without
#      num.standby.replicas=1, with kafka.session.timeout.ms=6000 (R runs)
#      and the default 10000 (1 run each: it only adds the longer wait),
#      and the changelog records restored then. Without standby the
#      survivor has no copy of the partitions it takes
#      (state.cleanup_delay_ms=3000: what it released when the other
#      joined is gone), so it restores them whole, as an instance that
#      never had them;
#   3. takeover after SIGTERM (a planned stop), same measures, with and
#      without standby (R runs each, in the same two instances' runs as 2);
#   4. the changelog's cost: `vigil process` from empty state to lag 0 on
#      the same topics, changelog.enabled=false and the default, side by
#      side in each repetition: events/s (assigned to exit, less the 1 s
#      idle of --exit-idle) and CPU seconds (user + system).
# R runs each (default 3), printed as min / median / max. Figures only:
# nothing is asserted. LIST selects figures (default 1,2,3,4; the
# changelog is always built once, by the first run of figure 4). The
# default run takes about 10 minutes on 2 cores; --patients 1000000
# --figures 1 measures the issue's restore goal (about 2.75 M events: the
# changelog build alone takes several minutes).
#
# Environment: VIGIL_BUILD (default ./build; a RelWithDebInfo build like
# the other benchmarks), VIGIL_BOOTSTRAP, KEEP_TMP (keep the work files:
# logs of every instance). The topics are deleted at the end unless
# --keep-topics.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${VIGIL_BUILD:-$ROOT/build}
VIGIL=$BUILD/vigil
PATIENTS=100000 REPEAT=3 RREPEAT= PARTS=6 FIGS=1,2,3,4 RATE=500 KEEP_TOPICS=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "tests/bench/ha.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case $1 in
    --patients) PATIENTS=${2:?}; shift 2 ;;
    --repeat) REPEAT=${2:?}; shift 2 ;;
    --restore-repeat) RREPEAT=${2:?}; shift 2 ;;
    --partitions) PARTS=${2:?}; shift 2 ;;
    --figures) FIGS=${2:?}; shift 2 ;;
    --rate) RATE=${2:?}; shift 2 ;;
    --keep-topics) KEEP_TOPICS=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "tests/bench/ha.sh: unknown argument: $1 (see --help)" >&2; exit 64 ;;
  esac
done
[ -n "$RREPEAT" ] || { [ "$PATIENTS" -le 200000 ] 2>/dev/null && RREPEAT=$REPEAT || RREPEAT=1; }
for v in PATIENTS REPEAT RREPEAT PARTS RATE; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "tests/bench/ha.sh: ${v,,}: a positive integer" >&2; exit 64; }
done
[[ $FIGS =~ ^[1-4](,[1-4])*$ ]] || { echo "tests/bench/ha.sh: --figures: a list of 1 to 4, e.g. 1,4" >&2; exit 64; }
fig() { [[ ,$FIGS, == *,$1,* ]]; }
[ -x "$VIGIL" ] || die "$VIGIL not built (cmake -S . -B build && cmake --build build)"
command -v /usr/bin/time >/dev/null || die "needs /usr/bin/time (Debian package time)"
for c in curl jq python3; do command -v $c >/dev/null || die "needs $c"; done

if [ -z "${VIGIL_BOOTSTRAP:-}" ]; then
  VIGIL_BOOTSTRAP=$("$ROOT/ops/kafka-local" start)
fi
export VIGIL_BOOTSTRAP
# TMP (work files), topic_args (fresh topic names), PY.
source "$ROOT/tests/integration/lib/common.sh"
S=habench.$$.$(date +%s)
topic_args "$S"

declare -A IPID=() IPORT=() ILOG=()
FEEDER= PRODUCER=
cleanup() {
  local n
  [ -z "$FEEDER" ] || kill "$FEEDER" 2>/dev/null || true
  [ -z "$PRODUCER" ] || kill "$PRODUCER" 2>/dev/null || true
  for n in "${!IPID[@]}"; do kill -9 "${IPID[$n]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for n in "${!IPID[@]}"; do gone "${IPID[$n]}"; done
  if [ $KEEP_TOPICS = 0 ]; then
    "$ROOT/ops/kafka-local" topics-tool --bootstrap-server "$VIGIL_BOOTSTRAP" \
      --delete --topic "${S//./\\.}\\..*" >/dev/null 2>&1 || true
  fi
  if [ -n "${KEEP_TMP:-}" ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "ha bench: $*" >&2; }
gone() { # PID: until it has exited
  while kill -0 "$1" 2>/dev/null; do sleep 0.05; done
}
ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
ts_ms() { date -d "$(cut -c1-24 <<< "$1")" +%s%3N; } # a log line's time
declare -A FIG
add() { FIG[$1]="${FIG[$1]:-} $2"; }
stats() {
  tr ' ' '\n' <<<"${FIG[$1]:-}" | grep -v '^$' | sort -g |
    awk '{v[NR]=$1} END {if (!NR) {print "-\t-\t-"; exit}
         printf "%s\t%s\t%s\n", v[1], v[int((NR+1)/2)], v[NR]}'
}
secs() { awk -v a="$1" 'BEGIN {printf "%.2f", a / 1000}'; }
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$(ms)

# --- the population, the live chunk, the topics ----------------------------
log "simulating $PATIENTS patients"
"$VIGIL" simulate -n "$PATIENTS" --seed 16 --out "$TMP/ev.jsonl" 2>/dev/null
NEV=$(wc -l < "$TMP/ev.jsonl")
if fig 2 || fig 3; then
  # Written during the takeovers, after the population's period: up to
  # 25 s for each of the 4R+2 takeovers at RATE events/s (over 2 events a
  # patient).
  live=$(( (4 * REPEAT + 2) * 25 * RATE / 2 ))
  "$VIGIL" simulate -n "$live" --seed 17 --start 2026-07-01 \
    --out "$TMP/live.jsonl" 2>/dev/null
  echo 0 > "$TMP/live.pos"
fi
"$VIGIL" topics create -p "$PARTS" "${T[@]}" >/dev/null
log "producing $NEV events"
"$VIGIL" produce "${T[@]}" "$TMP/ev.jsonl" 2>"$TMP/produce.log" \
  || { tail -3 "$TMP/produce.log" >&2; die "producing the population failed"; }

# --- 4. the changelog's cost (its first default run builds the changelog) --
# run_process LABEL GROUP OPTS...: empty state to lag 0; adds LABEL_rate,
# LABEL_cpu.
run_process() {
  local label=$1 group=$2 wall user sys ta te s
  shift 2
  rm -rf "$TMP/state"
  /usr/bin/time -f "%e %U %S" -o "$TMP/time" "$VIGIL" process "${T[@]}" \
    -X state.dir="$TMP/state" -X group.id="$group" -X stream.idle_ms=200 \
    "$@" --exit-idle 1 2> "$TMP/$group.log" || {
      tail -5 "$TMP/$group.log" >&2; die "vigil process ($label) failed"; }
  read -r wall user sys < "$TMP/time"
  ta=$(ts_ms "$(grep -m1 ' assigned ' "$TMP/$group.log")")
  te=$(ts_ms "$(grep ' exiting' "$TMP/$group.log" | tail -1)")
  s=$(( te - ta - 1000 )); [ $s -gt 0 ] || s=1
  add "${label}_rate" "$(( NEV * 1000 / s ))"
  add "${label}_cpu" "$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.1f", u + s}')"
  log "  $label: $(secs $s) s, $(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}') s of CPU"
  rm -rf "$TMP/state"
}
G=$S.on1
nruns=1
! fig 4 || nruns=$REPEAT
for r in $(seq 1 $nruns); do
  if fig 4; then
    log "vigil process, changelog off, run $r/$nruns"
    run_process off "$S.off$r" -X changelog.enabled=false
  fi
  log "vigil process, changelog on, run $r/$nruns"
  run_process on "$S.on$r"
done
# Changelog records written (before compaction).
CL_RECORDS=$("$VIGIL" lag -b "$VIGIL_BOOTSTRAP" -X group.id="$G" \
  --topic "$G.changelog" -j 2>/dev/null | jq '[.partitions[].end] | add')

# --- 1. whole restore -------------------------------------------------------
# wait_line FILE FROM PATTERN TIMEOUT_S PID: the first line after line FROM
# of FILE matching PATTERN (ERE); fails if PID exits first.
wait_line() {
  local f=$1 from=$2 pat=$3 limit=$(( $4 * 1000 )) pid=$5 t0 l
  t0=$(ms)
  while :; do
    l=$(tail -n +"$((from + 1))" "$f" | grep -m1 -E -- "$pat" || true)
    [ -z "$l" ] || { echo "$l"; return 0; }
    kill -0 "$pid" 2>/dev/null || { tail -5 "$f" >&2; die "$f: the instance exited before '$pat'"; }
    [ $(( $(ms) - t0 )) -lt $limit ] || { tail -5 "$f" >&2; die "$f: no '$pat' after $4 s"; }
    sleep 0.05
  done
}
# restored FILE FROM TO: records restored between those lines.
restored() {
  sed -n "$(($2 + 1)),$3p" "$1" |
    sed -n 's/.* partitions restored from .*: \([0-9]*\) records in .*/\1/p' |
    awk '{n += $1} END {print n + 0}'
}
if fig 1; then
  for r in $(seq 1 "$RREPEAT"); do
    log "whole restore of $PATIENTS patients, run $r/$RREPEAT"
    rm -rf "$TMP/r"
    t0=$(ms)
    "$VIGIL" process "${T[@]}" -X state.dir="$TMP/r" -X group.id="$G" \
      2> "$TMP/restore$r.log" &
    IPID[r]=$!
    a=$(wait_line "$TMP/restore$r.log" 0 ' assigned ' $(( 300 + PATIENTS / 2000 )) "${IPID[r]}")
    kill -TERM "${IPID[r]}"; wait "${IPID[r]}" || true; unset 'IPID[r]'
    l=$(grep ' partitions restored from ' "$TMP/restore$r.log" | tail -1)
    grep -q ' partitions restored from ' <<< "$l" \
      || die "restore run $r: no restore line in its log (was the changelog empty?)"
    n=$(sed 's/.*: \([0-9]*\) records in \([0-9]*\) ms.*/\1/' <<< "$l")
    m=$(sed 's/.*: \([0-9]*\) records in \([0-9]*\) ms.*/\2/' <<< "$l")
    [ "$m" -gt 0 ] || m=1
    rate=$(( n * 1000 / m ))
    add rs_records "$n"
    add rs_time "$(secs "$m")"
    add rs_rate "$rate"
    add rs_wall "$(secs $(( $(ts_ms "$a") - t0 )))"
    add rs_1m "$(awk -v n="$n" -v p="$PATIENTS" -v r="$rate" 'BEGIN {printf "%.0f", n / p * 1e6 / r}')"
    log "  $n records in $m ms"
    rm -rf "$TMP/r"
  done
fi

# --- 2 and 3. takeovers ------------------------------------------------------
# start NAME OPTS...: instance NAME (state dir TMP/NAME, log TMP/NAME.K.log)
# with /metrics on a free port.
NSTART=0
start() {
  local n=$1 t0 port=
  shift
  NSTART=$((NSTART + 1))
  ILOG[$n]=$TMP/$n.$NSTART.log
  "$VIGIL" process "${T[@]}" -X state.dir="$TMP/$n" -X group.id="$G" \
    -X http.listen=127.0.0.1:0 "$@" 2> "${ILOG[$n]}" &
  IPID[$n]=$!
  disown "${IPID[$n]}" # no "Killed" notice for a SIGKILL; gone() waits
  t0=$(ms)
  while [ -z "$port" ]; do
    kill -0 "${IPID[$n]}" 2>/dev/null || { tail -3 "${ILOG[$n]}" >&2; die "instance $n exited"; }
    [ $(( $(ms) - t0 )) -lt 30000 ] || die "instance $n: no /metrics port after 30 s"
    sleep 0.1
    port=$(sed -n 's/.*serving .*(port \([0-9]*\)).*/\1/p' "${ILOG[$n]}")
  done
  IPORT[$n]=$port
}
stop() { # NAME: SIGTERM, and wait
  kill -TERM "${IPID[$1]}" 2>/dev/null || true
  gone "${IPID[$1]}"
  unset "IPID[$1]"
}
owned() { # NAME: the input partitions it owns, "0 1 2 "
  curl -sf --max-time 3 "http://127.0.0.1:${IPORT[$1]}/metrics" |
    sed -n 's/^vigil_topic_caught_up{.*partition="\([0-9]*\)"} .*/\1/p' |
    sort -un | tr '\n' ' '
}
ALL=$(seq 0 $((PARTS - 1)) | tr '\n' ' ')
# ready STANDBY: a and b own every partition between them and answer
# /readyz; with standby, a's copies of b's partitions are at the
# changelog's end (within a commit marker); without, a has no file of
# them left (state.cleanup_delay_ms).
ready() {
  local sb=$1 t0 oa ob p ce hi h ok why
  t0=$(ms)
  while :; do
    ok=1 why=
    oa=$(owned a || true) ob=$(owned b || true)
    if [ -z "$oa" ] || [ -z "$ob" ] ||
       [ "$(tr ' ' '\n' <<< "$oa$ob" | grep . | sort -n | tr '\n' ' ')" != "$ALL" ]; then
      ok=0 why="owned: a ${oa:-none}, b ${ob:-none}"
    fi
    for n in a b; do
      [ $ok = 0 ] || curl -sf --max-time 3 -o /dev/null "http://127.0.0.1:${IPORT[$n]}/readyz" \
        || ok=0 why="$n not ready"
    done
    if [ $ok = 1 ] && [ "$sb" -gt 0 ]; then
      hi=$("$VIGIL" lag -b "$VIGIL_BOOTSTRAP" -X group.id="$G" --topic "$G.changelog" -j 2>/dev/null) || hi=
      for p in $ob; do
        ce=$("$VIGIL" state show "$p" -X state.dir="$TMP/a" -j 2>/dev/null |
             jq '.meta.changelog_end // -1' 2>/dev/null) || ce=
        h=$(jq ".partitions[] | select(.partition == $p) | .end" <<< "$hi" 2>/dev/null) || h=
        if [ -z "$h" ] || [ -z "$ce" ] || [ "$ce" -lt $(( h - 1 )) ]; then
          ok=0 why="standby copy of partition $p at ${ce:-none} of ${h:-?}"
          break
        fi
      done
    fi
    if [ $ok = 1 ] && [ "$sb" = 0 ]; then
      for p in $ob; do
        [ ! -e "$TMP/a/partition-$p.db" ] || { ok=0 why="a still has partition $p's file"; }
      done
    fi
    [ $ok = 0 ] || { BPARTS=$ob; return 0; }
    [ $(( $(ms) - t0 )) -lt 180000 ] || die "two instances not ready after 180 s: $why"
    sleep 0.5
  done
}
# The live chunk, written at RATE events/s from where the last takeover
# left it, through one `vigil produce` (a FIFO between them).
cat > "$TMP/pace.py" <<'EOF'
import itertools, signal, sys, time
path, posfile, rate = sys.argv[1], sys.argv[2], float(sys.argv[3])
start = int(open(posfile).read())
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
src = itertools.islice(open(path), start, None)
out = sys.stdout
n, t0, done = 0, time.monotonic(), False
while not stop and not done:
    due = int((time.monotonic() - t0) * rate)
    while n < due:
        line = next(src, None)
        if line is None:
            print("ha bench: the live chunk is used up", file=sys.stderr)
            done = True
            break
        out.write(line)
        n += 1
    out.flush()
    time.sleep(0.02)
open(posfile, "w").write(str(start + n))
EOF
feed_start() {
  rm -f "$TMP/feed.fifo"; mkfifo "$TMP/feed.fifo"
  "$VIGIL" produce "${T[@]}" - < "$TMP/feed.fifo" 2>> "$TMP/produce.log" &
  PRODUCER=$!
  python3 "$TMP/pace.py" "$TMP/live.jsonl" "$TMP/live.pos" "$RATE" > "$TMP/feed.fifo" &
  FEEDER=$!
}
feed_stop() {
  kill -TERM "$FEEDER" 2>/dev/null || true
  { wait "$FEEDER"; } 2>/dev/null || true
  FEEDER=
  wait "$PRODUCER" || log "the live producer failed: $(tail -1 "$TMP/produce.log")"
  PRODUCER=
}
# takeover SIG KEY: b gets SIG while data flows; a's time to `assigned`.
takeover() {
  local sig=$1 key=$2 l0 t0 rv as tr tas n la p own
  feed_start
  sleep 1.5
  l0=$(wc -l < "${ILOG[a]}")
  t0=$(ms)
  kill -"$sig" "${IPID[b]}"
  rv=$(wait_line "${ILOG[a]}" "$l0" ' revoked ' 120 "${IPID[a]}")
  as=$(wait_line "${ILOG[a]}" "$l0" " assigned $((5 * PARTS)) topic-partitions" 300 "${IPID[a]}")
  tr=$(ts_ms "$rv") tas=$(ts_ms "$as")
  la=$(grep -n -m1 -F "$as" "${ILOG[a]}" | cut -d: -f1)
  n=$(restored "${ILOG[a]}" "$l0" "$la")
  own=
  for p in $ALL; do
    [[ " $BPARTS" == *" $p "* ]] || ! grep -q "partition $p: restoring from .*(whole" \
      <(sed -n "$((l0 + 1)),${la}p" "${ILOG[a]}") || own+="$p "
  done
  [ -z "$own" ] || log "  note: a restored its own partitions $own whole too"
  add "${key}_time" "$(secs $(( tas - t0 )))"
  add "${key}_detect" "$(secs $(( tr - t0 )))"
  add "${key}_records" "$n"
  feed_stop
  gone "${IPID[b]}"
  unset 'IPID[b]'
  log "  $sig: a assigned after $(secs $(( tas - t0 ))) s (rebalance after $(secs $(( tr - t0 ))) s), $n records restored"
}
# config SB SESSION_MS KINDS...: a and b with these settings; one takeover
# per kind (KILL or TERM), b started again after each.
config() {
  local sb=$1 st=$2 k opts i=0
  shift 2
  opts=(-X num.standby.replicas="$sb" -X kafka.session.timeout.ms="$st")
  # Without standby, a removes what it released 3 s later (after b's
  # join): it takes b's partitions over as an instance that never had them.
  # (0 would also remove its own files between the revoke and the
  # assignment of one rebalance.)
  [ "$sb" -gt 0 ] || opts+=(-X state.cleanup_delay_ms=3000)
  start a "${opts[@]}"
  wait_line "${ILOG[a]}" 0 ' assigned ' 600 "${IPID[a]}" >/dev/null
  for k in "$@"; do
    i=$((i + 1))
    start b "${opts[@]}"
    ready "$sb"
    log "takeover $i/$#: SIG$k of b (partitions $BPARTS), standby $sb, session timeout $st ms"
    takeover "$k" "${k,,}_sb${sb}_st$st"
  done
  stop a
}
if fig 2 || fig 3; then
  kinds=()
  for r in $(seq 1 "$REPEAT"); do
    ! fig 2 || kinds+=(KILL)
    ! fig 3 || kinds+=(TERM)
  done
  config 0 6000 "${kinds[@]}"
  config 1 6000 "${kinds[@]}"
  if fig 2; then
    config 0 10000 KILL
    config 1 10000 KILL
  fi
fi

# --- the table -------------------------------------------------------------
echo
echo "Vigil HA benchmark: $PATIENTS patients, $NEV events, $PARTS partitions, $REPEAT runs each ($(nproc) cores, load $LOAD0 at start, $(cut -d' ' -f1-3 /proc/loadavg) at end; $(( ($(ms) - T_START) / 1000 )) s; $(date -u +%Y-%m-%dT%H:%MZ))"
printf '%-68s %9s %9s %9s\n' "figure" "min" "median" "max"
row() { read -r a b c < <(stats "$2"); printf '%-68s %9s %9s %9s\n' "$1" "$a" "$b" "$c"; }
if fig 1; then
  row "1. whole restore, $PATIENTS patients ($RREPEAT runs): time (s)" rs_time
  row "   changelog records restored" rs_records
  row "   records/s" rs_rate
  row "   start to assigned (s)" rs_wall
  add rs_rpp "$(awk -v n="$CL_RECORDS" -v p="$PATIENTS" 'BEGIN {printf "%.1f", n / p}')"
  row "   changelog records per patient (uncompacted)" rs_rpp
  row "   1 million patients at this rate (s, goal <= 30)" rs_1m
fi
if fig 2; then
  first="2. SIGKILL, session 6 s"
  for st in 6000 10000; do
    for sb in 0 1; do
      k=kill_sb${sb}_st$st
      [ $sb = 1 ] && what="standby 1" || what="no standby"
      [ $st = 6000 ] || first="   SIGKILL, session 10 s (default, 1 run)"
      row "$first, $what: takeover (s)" ${k}_time
      first="   SIGKILL, session 6 s"
      row "      of which until the survivor's rebalance (s)" ${k}_detect
      row "      records restored" ${k}_records
    done
  done
fi
if fig 3; then
  for sb in 0 1; do
    k=term_sb${sb}_st6000
    [ $sb = 1 ] && what="standby 1" || what="no standby"
    [ $sb = 0 ] && first="3. SIGTERM (planned stop)" || first="   SIGTERM (planned stop)"
    row "$first, $what: takeover (s, goal <= 5)" ${k}_time
    row "      of which until the survivor's rebalance (s)" ${k}_detect
    row "      records restored" ${k}_records
  done
fi
row "4. empty state to lag 0, changelog off (ev/s)" off_rate
row "   changelog on, the default (ev/s)" on_rate
if fig 4; then
  for r in $(seq 1 "$REPEAT"); do
    add ratio "$(awk -v a="$(tr ' ' '\n' <<< "${FIG[on_rate]}" | grep . | sed -n "${r}p")" \
      -v b="$(tr ' ' '\n' <<< "${FIG[off_rate]}" | grep . | sed -n "${r}p")" \
      'BEGIN {printf "%.2f", a / b}')"
  done
  row "   on / off, same repetition" ratio
fi
row "   CPU seconds, changelog off" off_cpu
row "   CPU seconds, changelog on" on_cpu
