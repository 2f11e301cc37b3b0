#!/usr/bin/env bash
# The whole test suite, as the README gives it: installs what the tests need (moto_server,
# cfn-lint), then format, lint and tests. Tests start and stop their own moto_server and HTTP
# listeners on loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-tools.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
# The benchmarks must keep building (BENCHMARKS.md). Dev profile: reuses the test build and
# takes well under 2 minutes; the release build of `cargo bench --no-run` (fat LTO) does not.
echo "== benches build"
cargo build --benches --locked
