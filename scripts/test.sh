#!/usr/bin/env bash
# The whole test suite, as the README gives it: installs what the tests need (moto_server,
# cfn-lint), then format, lint and tests. Tests start and stop their own moto_server and HTTP
# listeners on loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-tools.sh
# The tests that need cfn-lint, sam or cargo-lambda (tests/template_yaml.rs, tests/lambda_e2e.rs)
# skip with a note when the tool is missing, unless CI=true, where a missing tool fails them. The
# line above has just installed every one, so here a missing tool is a broken setup, never a
# reason to skip: the suite is strict.
export CI=true

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
# The whole suite's output, passing tests' included (--show-output), is kept and searched for the
# marker every test secret contains: no secret may reach logs, errors, dry-run output or receipts
# (docs/reliability.md). pipefail (above) keeps a test failure failing the script through tee.
test_log=target/test-output.log
mkdir -p target
cargo test --workspace --locked -- --show-output 2>&1 | tee "$test_log"
if grep -n 'TESTSECRET' "$test_log" > target/test-secret-leaks.txt; then
  echo "error: a test secret (marker TESTSECRET) appears in the test output ($test_log):" >&2
  head -n 50 target/test-secret-leaks.txt >&2
  exit 1
fi
# The benchmarks must keep building (BENCHMARKS.md). Dev profile: reuses the test build and
# takes well under 2 minutes; the release build of `cargo bench --no-run` (fat LTO) does not.
echo "== benches build"
cargo build --benches --locked
# Every cargo-fuzz target for a bounded time (docs/bad-input.md, "Fuzzing"): the nightly build of
# fuzz/ (its own workspace and target dir, cold on a fresh clone: ~9 minutes of 2 cores) plus
# 5 targets x 30 s. Longer by hand: FUZZ_SECONDS=600 bash scripts/fuzz-ci.sh.
echo "== fuzz (bounded)"
FUZZ_SECONDS=${FUZZ_SECONDS:-30} bash scripts/fuzz-ci.sh
