#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (CI: 30 s each by default; by hand, longer):
#
#   scripts/fuzz-ci.sh                 # every target, 30 s each
#   FUZZ_SECONDS=600 scripts/fuzz-ci.sh rules event
#   FUZZ_JOBS=2 FUZZ_SECONDS=3600 scripts/fuzz-ci.sh report_csv
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Seeds are read from
# fuzz/corpus/<target>/ (committed, never written); what libFuzzer finds goes to
# fuzz/work/<target>/ (ignored by git). A crash leaves its input in fuzz/artifacts/<target>/ and
# fails the script: reproduce with `cargo +nightly fuzz run <target> <file>`, then add a test to
# tests/regressions.rs. Each target's last stats line (executions, corpus) is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH="${FUZZ_SECONDS:-30}"
JOBS="${FUZZ_JOBS:-1}"
ALL=(report_json report_csv event rules template)
if [ "$#" -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL[@]}"); fi

# Safe Rust: no sanitizer (faster builds and runs); debug assertions on, so integer overflow and
# debug_assert! fire.
FLAGS=(--sanitizer none --debug-assertions)

cargo +nightly fuzz build "${FLAGS[@]}"

failed=()
summary=()
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/work/$t" "fuzz/artifacts/$t"
  log="fuzz/work/$t.log"
  echo "== fuzz $t for ${SECONDS_EACH}s (jobs: $JOBS)"
  if cargo +nightly fuzz run "${FLAGS[@]}" "$t" "fuzz/work/$t" "fuzz/corpus/$t" -- \
      -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=2048 -timeout=20 \
      -jobs="$JOBS" -workers="$JOBS" -print_final_stats=1 >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed+=("$t")
    tail -40 "$log"
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
  summary+=("$t: $status, $runs executions")
done

echo "== summary"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "crashing targets: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
