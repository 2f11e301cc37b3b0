#!/usr/bin/env bash
# Whole-binary benchmark of audit-router against bare-parse baselines (see BENCHMARKS.md).
#
# Builds the release binaries, generates resource compliance reports (~30 % non-compliant) of
# 25 MB and 250 MB as JSON, CSV, JSON.gz and CSV.gz, and runs under /usr/bin/time -v:
#   - audit-router-gen        (generator speed; proves it streams: flat RSS)
#   - audit-router-baseline   (bare serde_json -> IgnoredAny / bare csv ByteRecord pass)
#   - route_file              (benches/route_file.rs: the Lambda's path through the library,
#                              pipeline::route_report with RouteOptions::default(): read + parse
#                              + match + group into digests that keep what they render + counts)
#   - audit-router dry-run    (the CLI; with --format summary once it has it, else its listing)
# plus the rule-scale check (10 vs 1 000 rules over 1 M findings, library path), the state stage
# (notify = "changes": the previous state read and the report's own written, library path), the
# start-up
# time of a dry run on a tiny report, the release binary's size, the seed's job (a 57 MB control
# compliance report through the Python seed's parse + loop, scripts/seed_parse_loop.py, and
# through audit-router, each of ours the mean of SEED_LOOPS runs) and the Lambda wall time those
# CPU times give at 128 MB and 1 769 MB.
# With --before, an older route_file binary runs on the same files in the same run. Prints one
# markdown table per section.
#
# MB/s and the ratio use CPU time (user + sys): the throughput target is per core, and the build
# machines are shared, so wall time is noisy. Sizes are uncompressed report bytes (10^6 B = 1 MB).
#
# Usage: scripts/bench.sh [--quick] [--sizes "25MB 250MB"] [--router PATH | --no-router]
#                         [--lib PATH] [--dir DIR] [--keep] [--out FILE] [--timeout SECS]
#   --quick       small files (1 MB, 10 000 findings for rule scale): proves it builds and runs
#   --router PATH use this audit-router binary instead of building target/release/audit-router
#   --lib PATH    use this route_file binary instead of building it with cargo bench --no-run
#   --before PATH also run this (older) route_file binary on every file: "before" rows, and
#                 the speed-up over it, measured in the same run
#   --no-seed     skip the seed's job (needs python3 with boto3 otherwise)
#   --no-router   only the generator and the baselines (no route_file, no audit-router)
#   --dir DIR     work directory for the generated files (default: a new temp dir)
#   --keep        keep the generated files
#   --out FILE    also write the tables to FILE
#   --timeout S   per-command limit in seconds (default 900)
#   --repeat N    run every measured command N times and keep its least CPU time (default 3;
#                 the machine is shared: one run mostly measures the neighbours). Peak RSS is
#                 the largest of the N runs. The generator runs once.
set -euo pipefail

QUICK=0
SIZES=""
ROUTER=""
NO_ROUTER=0
WORKDIR=""
KEEP=0
OUT=""
LIMIT=900
REPEAT=3
# The seed's job takes a few hundredths of a second: each of its measurements is the mean of
# this many runs under one timer (10 ms steps would be a quarter of the figure).
SEED_LOOPS=10
LIB_GIVEN=""
BEFORE=""
SEED=1

die() { echo "bench.sh: $*" >&2; exit 2; }
log() { echo "bench.sh: $*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --sizes) [ $# -ge 2 ] || die "--sizes needs a value"; SIZES="$2"; shift ;;
    --router) [ $# -ge 2 ] || die "--router needs a path"; ROUTER="$2"; shift ;;
    --no-router) NO_ROUTER=1 ;;
    --lib) [ $# -ge 2 ] || die "--lib needs a path"; LIB_GIVEN="$2"; shift ;;
    --before) [ $# -ge 2 ] || die "--before needs a path"; BEFORE="$2"; shift ;;
    --no-seed) SEED=0 ;;
    --dir) [ $# -ge 2 ] || die "--dir needs a path"; WORKDIR="$2"; shift ;;
    --keep) KEEP=1 ;;
    --out) [ $# -ge 2 ] || die "--out needs a path"; OUT="$2"; shift ;;
    --timeout) [ $# -ge 2 ] || die "--timeout needs seconds"; LIMIT="$2"; shift ;;
    --repeat) [ $# -ge 2 ] && [ "$2" -ge 1 ] 2>/dev/null || die "--repeat needs a count ≥ 1"; REPEAT="$2"; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ -z "$SIZES" ]; then
  if [ "$QUICK" = 1 ]; then SIZES="1MB"; else SIZES="25MB 250MB"; fi
fi
if [ "$QUICK" = 1 ]; then SCALE_ITEMS=10000; else SCALE_ITEMS=1000000; fi

# --- tools ---
TIME_BIN=/usr/bin/time
if ! "$TIME_BIN" -v true >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    log "installing GNU time (apt-get install -y time)"
    apt-get install -y time >/dev/null || die "could not install GNU time"
  fi
  "$TIME_BIN" -v true >/dev/null 2>&1 || die "GNU time is required at /usr/bin/time (apt-get install -y time)"
fi
command -v timeout >/dev/null 2>&1 || die "coreutils timeout is required"

PACKAGES=(-p audit-router-gen -p audit-router-baseline)
if [ "$NO_ROUTER" = 0 ] && [ -z "$ROUTER" ]; then
  PACKAGES+=(-p audit-router)
  ROUTER="$ROOT/target/release/audit-router"
fi
log "building release binaries: cargo build --release ${PACKAGES[*]}"
cargo build --release --quiet "${PACKAGES[@]}" >&2 || die "cargo build failed"
GEN="$ROOT/target/release/audit-router-gen"
BASE="$ROOT/target/release/audit-router-baseline"
# The library route path: the `route_file` bench binary (release profile via `cargo bench`).
LIB="$LIB_GIVEN"
if [ "$NO_ROUTER" = 0 ] && [ -z "$LIB" ]; then
  log "building the library route path: cargo bench --no-run --bench route_file"
  LIB=$(cargo bench --no-run --quiet --bench route_file --message-format=json 2>/dev/null \
    | sed -n 's/.*"executable":"\([^"]*route_file[^"]*\)".*/\1/p' | tail -n 1)
  [ -n "$LIB" ] && [ -x "$LIB" ] || die "could not build benches/route_file.rs"
fi

if [ -z "$WORKDIR" ]; then
  WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/audit-router-bench.XXXXXX")"
  [ "$KEEP" = 1 ] || trap 'rm -rf "$WORKDIR"' EXIT
else
  mkdir -p "$WORKDIR"
fi
log "work directory: $WORKDIR"

# The router must not wander off to AWS for credentials or region during a dry run.
export AWS_EC2_METADATA_DISABLED=true AWS_REGION="${AWS_REGION:-us-east-1}"

# --- measuring ---
# measure NAME CMD...: runs CMD under time -v and timeout, $REPEAT times (M_TIMES overrides;
# M_LOOPS=N times each measurement as N runs in a row under one timer, divided by N);
# sets M_RC (the first failure's, else 0), M_WALL and M_CPU of the run with the least CPU
# time, M_RSS_MB the largest peak RSS of the runs.
measure() {
  local name="$1"; shift
  local tfile="$WORKDIR/$name.time" efile="$WORKDIR/$name.err"
  local start end run wall cpu rss times="${M_TIMES:-$REPEAT}" loops="${M_LOOPS:-1}"
  M_RC=0; M_WALL="?"; M_CPU="?"; M_RSS_MB="?"; M_ERR=""
  for run in $(seq "$times"); do
    start=$(date +%s%N)
    set +e
    if [ "$loops" -gt 1 ]; then
      # A short process, run $loops times under one timer (time -v counts 10 ms steps): the
      # CPU below is the mean per run, the shell's forks included.
      timeout "$LIMIT" "$TIME_BIN" -v -o "$tfile" bash -c \
        'n=$1; shift; for _ in $(seq "$n"); do "$@" >/dev/null || exit $?; done' _ "$loops" "$@" \
        >"$WORKDIR/$name.out" 2>"$efile"
    else
      timeout "$LIMIT" "$TIME_BIN" -v -o "$tfile" "$@" >"$WORKDIR/$name.out" 2>"$efile"
    fi
    local rc=$?
    set -e
    end=$(date +%s%N)
    if [ "$rc" != 0 ]; then
      M_RC=$rc
      M_ERR="$(grep -v '^\s*$' "$efile" | tail -n 1 | cut -c1-120 || true)"
      return
    fi
    [ -s "$tfile" ] || continue
    wall=$(awk -v a="$start" -v b="$end" -v n="$loops" 'BEGIN { printf "%.3f", (b - a) / 1e9 / n }')
    cpu=$(awk -F': ' -v n="$loops" '/User time \(seconds\)/ { u = $2 } /System time \(seconds\)/ { s = $2 }
                      END { printf (n > 1 ? "%.3f" : "%.2f"), (u + s) / n }' "$tfile")
    rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$tfile")
    if [ "$M_CPU" = "?" ] || awk -v a="$cpu" -v b="$M_CPU" 'BEGIN { exit !(a < b) }'; then
      M_CPU="$cpu"; M_WALL="$wall"
    fi
    if [ "$M_RSS_MB" = "?" ] || awk -v a="$rss" -v b="$M_RSS_MB" 'BEGIN { exit !(a > b) }'; then
      M_RSS_MB="$rss"
    fi
  done
}

mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
rate() { awk -v b="$1" -v s="$2" 'BEGIN { if (s + 0 > 0) printf "%.1f", b / 1e6 / s; else print "—" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "—" }'; }
fsize() { stat -c %s "$1"; }

TABLES=""
emit() { TABLES+="$1"$'\n'; }

# Router capabilities: until the CLI has `dry-run`, rows say "not yet".
ROUTER_STATE="skipped (--no-router)"
ROUTER_ARGS=()
if [ "$NO_ROUTER" = 0 ]; then
  if [ ! -x "$ROUTER" ]; then
    ROUTER_STATE="not yet: no binary at $ROUTER"
  elif ! "$ROUTER" --help 2>&1 | grep -q 'dry-run'; then
    ROUTER_STATE="not yet: audit-router has no dry-run command"
  else
    ROUTER_STATE="ok"
    # `--format summary` (digest summary only, no per-finding listing) once the CLI has it;
    # until then the default text listing, which keeps a row per routed finding.
    if "$ROUTER" dry-run --help 2>&1 | grep -q 'summary'; then
      ROUTER_ARGS=(--format summary)
    fi
  fi
fi
log "router: $ROUTER_STATE"

# lib_route NAME RULES FILE BYTES [MODE]: one library route (route_file; MODE --read-only or
# --route-only to stop after reading or routing); sets L_CELLS and L_CPU.
lib_route() {
  local name="$1" rules="$2" file="$3" bytes="$4" mode=()
  [ $# -lt 5 ] || mode=("$5")
  L_CPU=""
  measure "$name" "$LIB" --rules "$rules" "${mode[@]}" "$file"
  if [ "$M_RC" != 0 ]; then
    L_CELLS="| — | — | — | — | failed (exit $M_RC: ${M_ERR//|/\\|})"
    return
  fi
  L_CPU="$M_CPU"
  L_CELLS="| $M_WALL | $M_CPU | $(rate "$bytes" "$M_CPU") | $M_RSS_MB"
}

# route NAME RULES FILE: one dry run; sets R_CELLS (seconds/MB/s/RSS cells) and R_CPU.
route() {
  local name="$1" rules="$2" file="$3" bytes="$4"
  R_CPU=""
  if [ "$ROUTER_STATE" != ok ]; then
    R_CELLS="| — | — | — | — | $ROUTER_STATE"
    return
  fi
  measure "$name" "$ROUTER" dry-run --rules "$rules" "${ROUTER_ARGS[@]}" "$file"
  if [ "$M_RC" != 0 ]; then
    R_CELLS="| — | — | — | — | not yet (exit $M_RC: ${M_ERR//|/\\|})"
    return
  fi
  R_CPU="$M_CPU"
  R_CELLS="| $M_WALL | $M_CPU | $(rate "$bytes" "$M_CPU") | $M_RSS_MB"
}

# --- inputs ---
T=RESOURCE_COMPLIANCE_REPORT
PERIOD=20261125T000000Z_20261126T000000Z
log "generating rules (10 and 1000)"
"$GEN" --rules 10 -o "$WORKDIR/rules-10.toml" 2>/dev/null
"$GEN" --rules 1000 -o "$WORKDIR/rules-1000.toml" 2>/dev/null

emit "### Throughput and memory ($T, ~30 % non-compliant, rules: 10)"
emit ""
emit "| file | size MB | tool | wall s | cpu s | MB/s (cpu) | peak RSS MB | ratio vs baseline |"
emit "|---|---:|---|---:|---:|---:|---:|---:|"
# Lambda-path CPU per file, for the wall-time estimates and the before/after speed-ups.
LAMBDA_ROWS=()
SPEEDUPS=()

for size in $SIZES; do
  for variant in json csv json.gz csv.gz; do
    fmt="${variant%%.*}"
    gz=(); [ "$variant" = "${variant%.gz}" ] || gz=(--gzip)
    file="$WORKDIR/${T}_bench${size}_${PERIOD}.${variant}"
    label="$(basename "$file")"
    log "generating $label"
    M_TIMES=1 measure "gen-$size-$variant" "$GEN" --template "$T" --format "$fmt" "${gz[@]}" \
      --size "$size" --seed 42 --non-compliant 0.3 -o "$file"
    [ "$M_RC" = 0 ] || die "generator failed on $label: $M_ERR"
    # The generator reports the uncompressed size on stderr: "…, N bytes…".
    bytes=$(sed -n 's/.* items, \([0-9]*\) bytes.*/\1/p' "$WORKDIR/gen-$size-$variant.err")
    [ -n "$bytes" ] || die "could not read the generated size of $label"
    size_cell="$(mb "$bytes")"
    [ ${#gz[@]} = 0 ] || size_cell="$size_cell (gz $(mb "$(fsize "$file")"))"
    emit "| $label | $size_cell | generator | $M_WALL | $M_CPU | $(rate "$bytes" "$M_CPU") | $M_RSS_MB | |"

    log "baseline $fmt on $label"
    measure "base-$size-$variant" "$BASE" "$fmt" "$file"
    [ "$M_RC" = 0 ] || die "baseline failed on $label: $M_ERR"
    base_cpu="$M_CPU"
    emit "| $label | $size_cell | baseline $fmt | $M_WALL | $M_CPU | $(rate "$bytes" "$M_CPU") | $M_RSS_MB | 1.00 |"

    if [ -n "$LIB" ]; then
      log "library route path on $label"
      after_cpu=""
      for stage in read-only route-only all; do
        case "$stage" in
          read-only) tool="route_file --read-only (read + normalise)"; mode=(--read-only) ;;
          route-only) tool="route_file --route-only (+ match)"; mode=(--route-only) ;;
          all) tool="**route_file (+ group: the Lambda path)**"; mode=() ;;
        esac
        lib_route "lib-$size-$variant-$stage" "$WORKDIR/rules-10.toml" "$file" "$bytes" "${mode[@]}"
        if [ -n "$L_CPU" ]; then
          emit "| $label | $size_cell | $tool $L_CELLS | $(ratio "$base_cpu" "$L_CPU") |"
          [ "$stage" = all ] && LAMBDA_ROWS+=("$size $variant $bytes $L_CPU")
        else
          emit "| $label | $size_cell | $tool $L_CELLS |"
        fi
        [ "$stage" = all ] && after_cpu="$L_CPU"
      done
      if [ -n "$BEFORE" ]; then
        log "route_file before ($BEFORE) on $label"
        LIB_SAVED="$LIB"; LIB="$BEFORE"
        lib_route "before-$size-$variant" "$WORKDIR/rules-10.toml" "$file" "$bytes"
        LIB="$LIB_SAVED"
        if [ -n "$L_CPU" ]; then
          emit "| $label | $size_cell | route_file before (the Lambda path, \`--before\`) $L_CELLS | $(ratio "$base_cpu" "$L_CPU") |"
          [ -n "$after_cpu" ] && SPEEDUPS+=("| $size $variant | $L_CPU | $after_cpu | $(ratio "$L_CPU" "$after_cpu")× |")
        else
          emit "| $label | $size_cell | route_file before $L_CELLS |"
        fi
      fi
    fi

    log "router on $label"
    route "route-$size-$variant" "$WORKDIR/rules-10.toml" "$file" "$bytes"
    if [ -n "$R_CPU" ]; then
      emit "| $label | $size_cell | audit-router dry-run $R_CELLS | $(ratio "$base_cpu" "$R_CPU") |"
    else
      emit "| $label | $size_cell | audit-router dry-run $R_CELLS |"
    fi
    # Keep the disk bounded: only the current size's files live at once.
    rm -f "$file"
  done
done

if [ ${#SPEEDUPS[@]} -gt 0 ]; then
  emit ""
  emit "### The Lambda path before and after (\`--before\` $(basename "$BEFORE"), same files, same run)"
  emit ""
  emit "| file | before cpu s | now cpu s | speed-up |"
  emit "|---|---:|---:|---:|"
  for row in "${SPEEDUPS[@]}"; do emit "$row"; done
fi

if [ ${#LAMBDA_ROWS[@]} -gt 0 ]; then
  # Lambda gives a function CPU in proportion to its memory: one vCPU at 1 769 MB. The estimate
  # is the measured CPU time (this machine, one core) divided by that share, for the report and
  # for one four times its size (the path is linear in the report); fetching from S3, rendering
  # and delivery are not in it, nor the speed difference between this CPU and the function's.
  emit ""
  emit "### Estimated Lambda wall time of the Lambda path (CPU s measured above ÷ the memory's vCPU share: 128/1769 at 128 MB, 1 at 1 769 MB)"
  emit ""
  emit "| file | cpu s | at 128 MB | at 1 769 MB | 4× the size at 128 MB | 4× at 1 769 MB |"
  emit "|---|---:|---:|---:|---:|---:|"
  for row in "${LAMBDA_ROWS[@]}"; do
    read -r size variant bytes cpu <<<"$row"
    est() { awk -v c="$1" -v m="$2" -v k="$3" 'BEGIN { printf "%.1f s", c * k * 1769 / m }'; }
    emit "| $size $variant ($(mb "$bytes") MB) | $cpu | $(est "$cpu" 128 1) | $(est "$cpu" 1769 1) | $(est "$cpu" 128 4) | $(est "$cpu" 1769 4) |"
  done
fi

emit ""
emit "### Rule scale ($SCALE_ITEMS findings, CSV, 10 vs 1 000 rules, library route path; target: 1 000 within 2× of 10)"
emit ""
emit "| rules | wall s | cpu s | MB/s (cpu) | peak RSS MB | time vs 10 rules |"
emit "|---:|---:|---:|---:|---:|---:|"
scale_file="$WORKDIR/${T}_benchscale_${PERIOD}.csv"
log "generating $SCALE_ITEMS findings for the rule-scale check"
"$GEN" --template "$T" --format csv --items "$SCALE_ITEMS" --seed 7 -o "$scale_file" 2>/dev/null
scale_bytes=$(fsize "$scale_file")
cpu10=""
for stage in route-only all; do
  cpu10=""
  for n in 10 1000; do
    if [ -z "$LIB" ]; then emit "| $n | — | — | — | — | skipped (--no-router) |"; continue; fi
    if [ "$stage" = all ]; then mode=(); label="$n (read + match + group)"; else mode=(--route-only); label="$n (read + match)"; fi
    lib_route "scale-$n-$stage" "$WORKDIR/rules-$n.toml" "$scale_file" "$scale_bytes" "${mode[@]}"
    rel=""
    if [ -n "$L_CPU" ]; then
      [ "$n" = 10 ] && cpu10="$L_CPU"
      [ -n "$cpu10" ] && rel="$(ratio "$L_CPU" "$cpu10")×"
    fi
    if [ -n "$L_CPU" ]; then emit "| $label $L_CELLS | $rel |"; else emit "| $label $L_CELLS |"; fi
  done
done
rm -f "$scale_file"

emit ""
emit "### State (notify = \"changes\"; library route path with the previous state read and the report's own written; target: peak RSS ≤ 64 MB at 250 MB)"
emit ""
emit 'Rules: every NON_COMPLIANT finding (~30 %) to one sink with `notify = "changes"`; `route_file --previous-state S --write-state S2` runs the state stage as the Lambda does, the documents in files instead of S3.'
emit ""
emit "| report | compared with | wall s | cpu s | peak RSS MB | state document MB (gzip) |"
emit "|---|---|---:|---:|---:|---:|"
state_rules="$WORKDIR/rules-state.toml"
cat >"$state_rules" <<'RULES'
[sinks.changes]
type = "log"
notify = "changes"

[[rules]]
name = "non-compliant"
sinks = ["changes"]
[rules.match]
status = "NON_COMPLIANT"
RULES
for size in $SIZES; do
  [ -n "$LIB" ] || { emit "| $size | — | — | — | — | skipped (--no-router) |"; continue; }
  day1="$WORKDIR/${T}_benchstate1_${PERIOD}.json"
  other="$WORKDIR/${T}_benchstate2_${PERIOD}.json"
  log "generating $size for the state check (seeds 42 and 43)"
  "$GEN" --template "$T" --format json --size "$size" --seed 42 -o "$day1" 2>/dev/null
  "$GEN" --template "$T" --format json --size "$size" --seed 43 -o "$other" 2>/dev/null
  s1="$WORKDIR/state1.json.gz"
  for case in first same other; do
    case "$case" in
      first) args=(--write-state "$s1" "$day1"); label="$size, a stream's first report"; with="nothing" ;;
      same) args=(--previous-state "$s1" --write-state "$WORKDIR/state2.json.gz" "$day1"); label="$size, the same report again"; with="its own state: every finding ongoing" ;;
      other) args=(--previous-state "$s1" --write-state "$WORKDIR/state3.json.gz" "$other"); label="$size, another report (seed 43)"; with="seed 42's state: every finding new, every old one resolved" ;;
    esac
    measure "state-$size-$case" "$LIB" --rules "$state_rules" "${args[@]}"
    if [ "$M_RC" != 0 ]; then
      emit "| $label | $with | — | — | — | failed (exit $M_RC: ${M_ERR//|/\\|}) |"
      continue
    fi
    doc="${args[1]}"
    emit "| $label | $with | $M_WALL | $M_CPU | $M_RSS_MB | $(mb "$(fsize "$doc")") |"
  done
  rm -f "$day1" "$other" "$WORKDIR"/state[123].json.gz
done

emit ""
emit "### Start-up (dry run of a 12-item report; target ≤ 20 ms wall)"
emit ""
emit "| file | wall ms | peak RSS MB | |"
emit "|---|---:|---:|---|"
tiny="$WORKDIR/${T}_benchtiny_${PERIOD}.json"
"$GEN" --template "$T" --format json --items 12 -o "$tiny" 2>/dev/null
# The harness itself (timeout + time + fork/exec) costs a few ms: measure it on `true`.
best=""
for _ in 1 2 3 4 5; do
  M_TIMES=1 measure overhead true
  ms=$(awk -v s="$M_WALL" 'BEGIN { printf "%.1f", s * 1000 }')
  if [ -z "$best" ] || awk -v a="$ms" -v b="$best" 'BEGIN { exit !(a < b) }'; then best="$ms"; fi
done
emit "| (harness overhead: \`true\`) | $best (best of 5) | $M_RSS_MB | included in the row below |"
if [ "$ROUTER_STATE" = ok ]; then
  best=""
  for _ in 1 2 3 4 5; do
    M_TIMES=1 route tiny "$WORKDIR/rules-10.toml" "$tiny" "$(fsize "$tiny")"
    [ -n "$R_CPU" ] || break
    ms=$(awk -v s="$M_WALL" 'BEGIN { printf "%.1f", s * 1000 }')
    if [ -z "$best" ] || awk -v a="$ms" -v b="$best" 'BEGIN { exit !(a < b) }'; then best="$ms"; fi
  done
  if [ -n "$best" ]; then
    emit "| $(basename "$tiny") | $best (best of 5) | $M_RSS_MB | |"
  else
    emit "| $(basename "$tiny") | — | — | not yet (exit $M_RC: ${M_ERR//|/\\|}) |"
  fi
else
  emit "| $(basename "$tiny") | — | — | $ROUTER_STATE |"
fi

if [ "$SEED" = 1 ]; then
  emit ""
  emit "### The seed's job: a control compliance report, NON_COMPLIANT controls to one SNS topic"
  emit ""
  emit "| tool | cpu s | ratio (Python parse + loop ÷ tool) | |"
  emit "|---|---:|---:|---|"
  if [ "$QUICK" = 1 ]; then seed_size=1MB; else seed_size=57MB; fi
  seed_file="$WORKDIR/CONTROL_COMPLIANCE_REPORT_seed_${PERIOD}.json"
  "$GEN" --template CONTROL_COMPLIANCE_REPORT --format json --size "$seed_size" --seed 42 \
    --non-compliant 0.3 -o "$seed_file" 2>/dev/null
  seed_rules="$WORKDIR/rules-seed.toml"
  cat >"$seed_rules" <<'RULES'
# The seed's job: one SNS message when a control of a control compliance report is not compliant.
[sinks.alarm]
type = "sns"
topic_arn = "arn:aws:sns:us-east-1:111111111111:backup-alarm"

[[rules]]
name = "non-compliant controls"
sinks = ["alarm"]
[rules.match]
report = "CONTROL_COMPLIANCE_REPORT"
status = "NON_COMPLIANT"
RULES
  py_cpu=""
  if command -v python3 >/dev/null 2>&1 && python3 -c 'import boto3' 2>/dev/null; then
    # The parse + loop's own CPU (time.process_time, boto3 imported before it), least of the runs.
    for _ in $(seq "$REPEAT"); do
      t=$(python3 "$ROOT/scripts/seed_parse_loop.py" "$seed_file" 2>&1 >/dev/null \
        | sed -n 's/.*cpu_s=\([0-9.]*\).*/\1/p')
      if [ -n "$t" ] && { [ -z "$py_cpu" ] || awk -v a="$t" -v b="$py_cpu" 'BEGIN { exit !(a < b) }'; }; then
        py_cpu="$t"
      fi
    done
    measure seed-python python3 "$ROOT/scripts/seed_parse_loop.py" "$seed_file"
    emit "| Python seed: parse + loop (\`json.loads\`, the loop and its prints), scripts/seed_parse_loop.py | $py_cpu | 1.00 | the whole process: $M_CPU s (interpreter, boto3 import) |"
  else
    emit "| Python seed | — | — | skipped: python3 with boto3 not found |"
  fi
  if [ -n "$LIB" ]; then
    M_LOOPS=$SEED_LOOPS lib_route seed-lib "$seed_rules" "$seed_file" "$(fsize "$seed_file")"
    [ -n "$L_CPU" ] && emit "| route_file (the Lambda path: read → route → group), whole process (mean of $SEED_LOOPS runs) | $L_CPU | $(ratio "$py_cpu" "$L_CPU") | |"
  fi
  if [ "$ROUTER_STATE" = ok ]; then
    M_LOOPS=$SEED_LOOPS route seed-cli "$seed_rules" "$seed_file" "$(fsize "$seed_file")"
    [ -n "$R_CPU" ] && emit "| audit-router dry-run ${ROUTER_ARGS[*]} (start-up, rules, render every message), whole process (mean of $SEED_LOOPS runs) | $R_CPU | $(ratio "$py_cpu" "$R_CPU") | |"
  fi
  emit ""
  emit "Report: $(basename "$seed_file"), $(mb "$(fsize "$seed_file")") MB."
  rm -f "$seed_file"
fi

emit ""
emit "### Release binary"
emit ""
emit "| binary | bytes | MB |"
emit "|---|---:|---:|"
if [ "$ROUTER_STATE" = ok ] || [ -x "$ROUTER" ]; then
  emit "| $(basename "$ROUTER") | $(fsize "$ROUTER") | $(mb "$(fsize "$ROUTER")") |"
else
  emit "| audit-router | — | — |"
fi

emit ""
emit "Machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%MZ)."

printf '%s' "$TABLES"
if [ -n "$OUT" ]; then printf '%s' "$TABLES" >"$OUT"; log "tables written to $OUT"; fi
