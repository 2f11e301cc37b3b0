#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (CI: scripts/test.sh, 30 s each; by hand,
# longer):
#
#   scripts/fuzz-ci.sh                                  # every target, 30 s each
#   FUZZ_SECONDS=600 scripts/fuzz-ci.sh rules event      # some targets, 10 minutes each
#   FUZZ_JOBS=2 FUZZ_SECONDS=3600 scripts/fuzz-ci.sh report_csv
#   FUZZ_WORK=/tmp/fz FUZZ_SECONDS=600 scripts/fuzz-ci.sh   # keep what libFuzzer found
#   FUZZ_ARGS="-only_ascii=1" scripts/fuzz-ci.sh template   # extra libFuzzer flags
#
# Needs the nightly toolchain and cargo-fuzz (scripts/install-test-tools.sh installs it).
#
# - Seeds are read from fuzz/corpus/<target>/ (committed) and never written: libFuzzer adds what
#   it finds to the first corpus directory only, which is a per-run work directory (a fresh
#   temporary one, removed at exit, unless FUZZ_WORK names one to keep).
# - A crash, timeout (one input over 20 s) or out-of-memory (over 2 GiB) fails the script and
#   leaves the input in fuzz/artifacts/<target>/ (ignored by git): reproduce with
#   `cargo +nightly fuzz run --sanitizer none --debug-assertions <target> <file>`, minimize with
#   `cargo +nightly fuzz tmin …`, then add a test to tests/regressions.rs and the input to the
#   corpus (docs/bad-input.md, "Fuzzing").
# - A target that executed nothing (missing binary, no stats) fails the script too.
# - Each target's executions, exec/s and corpus growth are printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

SECONDS_EACH="${FUZZ_SECONDS:-30}"
JOBS="${FUZZ_JOBS:-1}"
ALL=(report_json report_csv event rules template)
if [ "$#" -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL[@]}"); fi
for t in "${TARGETS[@]}"; do
  if [ ! -f "fuzz/fuzz_targets/$t.rs" ]; then
    echo "fuzz-ci: no target '$t' (have: ${ALL[*]})" >&2
    exit 2
  fi
done

if [ -n "${FUZZ_WORK:-}" ]; then
  WORK="$(mkdir -p "$FUZZ_WORK" && cd "$FUZZ_WORK" && pwd)"
else
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/audit-router-fuzz.XXXXXX")"
  trap 'rm -rf "$WORK"' EXIT
fi

# Safe Rust: no sanitizer (faster builds and runs); debug assertions on, so integer overflow and
# debug_assert! fire.
FLAGS=(--sanitizer none --debug-assertions)
cargo +nightly fuzz build "${FLAGS[@]}"

# The binaries cargo-fuzz just built, run directly: the script controls their working directory
# (libFuzzer's -jobs mode writes fuzz-N.log there) and every flag.
TRIPLE="$(rustc +nightly -vV | sed -n 's/^host: //p')"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/fuzz/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
BIN_DIR="$TARGET_DIR/$TRIPLE/release"
for t in "${TARGETS[@]}"; do
  if [ ! -x "$BIN_DIR/$t" ]; then
    echo "fuzz-ci: cargo fuzz build left no binary $BIN_DIR/$t" >&2
    exit 1
  fi
done

# Sum of one libFuzzer final stat over the given logs.
final_stat() {
  local name="$1"
  shift
  cat "$@" 2>/dev/null | sed -n "s/^stat::$name: *\([0-9]*\).*/\1/p" | awk '{s+=$1} END {print s+0}'
}

failed=()
summary=()
for t in "${TARGETS[@]}"; do
  run="$WORK/$t"
  mkdir -p "$run/corpus" "fuzz/artifacts/$t"
  log="$run/fuzz.log"
  args=(
    "$run/corpus" "$ROOT/fuzz/corpus/$t"
    -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=2048 -timeout=20
    -artifact_prefix="$ROOT/fuzz/artifacts/$t/" -print_final_stats=1
  )
  if [ "$JOBS" -gt 1 ]; then args+=(-jobs="$JOBS" -workers="$JOBS"); fi
  # shellcheck disable=SC2206 # extra libFuzzer flags, split at spaces on purpose
  args+=(${FUZZ_ARGS:-})
  find "fuzz/artifacts/$t" -type f | sort >"$run/artifacts.before"
  echo "== fuzz $t for ${SECONDS_EACH}s (jobs: $JOBS)"
  # A hard stop well past the time limit, should libFuzzer itself hang.
  if (cd "$run" && timeout --signal=KILL $((SECONDS_EACH + 300)) \
      "$BIN_DIR/$t" "${args[@]}" >"$log" 2>&1); then
    status=ok
  else
    status="FAILED (exit $?)"
  fi
  # In -jobs mode each job's stats are in its own fuzz-N.log (the main log repeats them).
  logs=("$log")
  if [ "$JOBS" -gt 1 ]; then logs=("$run"/fuzz-*.log); fi
  runs=$(final_stat number_of_executed_units "${logs[@]}")
  rate=$(final_stat average_exec_per_sec "${logs[@]}")
  seeds=$(find "fuzz/corpus/$t" -maxdepth 1 -type f | wc -l)
  found=$(find "$run/corpus" -type f | wc -l)
  new_artifacts=$(find "fuzz/artifacts/$t" -type f | sort | comm -13 "$run/artifacts.before" -)
  if [ "$status" = ok ] && [ "$runs" -eq 0 ]; then
    status="FAILED (no executions: the target did not run)"
  fi
  if [ "$status" != ok ]; then
    failed+=("$t")
    echo "-- last lines of $t's log:"
    tail -40 "$log"
    if [ -n "$new_artifacts" ]; then
      echo "-- the input(s) that failed:"
      echo "$new_artifacts"
    fi
  fi
  summary+=("$t: $status, $runs executions ($rate/s), corpus $seeds seeds + $found found")
done

echo "== fuzz summary (${SECONDS_EACH}s each)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz-ci: failing targets: ${failed[*]} (see their logs above; failing inputs are kept in fuzz/artifacts/<target>/)" >&2
  exit 1
fi
