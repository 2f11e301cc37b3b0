#!/usr/bin/env bash
# Installs the tools the test suite and the Lambda build need on a fresh machine, from PyPI:
#   moto[server]  -> `moto_server`, the S3/SNS/SQS stand-in the integration tests start
#   cfn-lint      -> lints template.yaml (tests/template_yaml.rs)
#   jsonschema    -> validates rules files against rules.schema.json (tests/rules_schema.rs) and
#                    the metrics lines against AWS's EMF schema (tests/common/emf.rs);
#                    cfn-lint's dependencies bring it too, pinned here because tests call it
#   cargo-lambda  -> `cargo lambda build` (scripts/lambda-build.sh)
#   ziglang       -> Zig, cargo-lambda's cross linker for arm64
#   aws-sam-cli   -> `sam local generate-event` (tests/public_events.rs renders AWS's own sample
#                    events with it) and `sam validate --lint`
#   slack_sdk     -> the official Slack SDK's Block Kit models, which validate every Slack payload
#                    the tests render (tools/test-support/slack_blocks.py)
# and from crates.io:
#   cargo-fuzz    -> `cargo +nightly fuzz` (scripts/fuzz-ci.sh, the last step of scripts/test.sh)
# Versions are pinned to ones that work together here. Idempotent: prints nothing and installs
# nothing when every pinned version is already present.
set -euo pipefail

PY="${PYTHON:-python3}"
PINS=(
  "moto[server]==5.2.1"
  "cfn-lint==1.58.0"
  "jsonschema==4.26.0"
  "cargo-lambda==1.9.2"
  "ziglang==0.15.2"
  "aws-sam-cli==1.170.0"
  "slack_sdk==3.48.0"
)

# Prints the pins whose distribution is missing or at another version.
missing="$("$PY" - "${PINS[@]}" <<'EOF'
import sys
from importlib import metadata
for pin in sys.argv[1:]:
    name, version = pin.split("==")
    dist = name.split("[")[0]
    try:
        have = metadata.version(dist)
    except metadata.PackageNotFoundError:
        have = None
    # moto's [server] extra brings flask; a bare moto install lacks `moto_server`.
    if have == version and name.endswith("[server]"):
        try:
            metadata.version("flask")
        except metadata.PackageNotFoundError:
            have = None
    if have != version:
        print(pin)
EOF
)"

if [ -n "$missing" ]; then
  # shellcheck disable=SC2086 # one pin per line, none contains spaces
  "$PY" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore $missing
  echo "install-test-tools: installed $(echo $missing)"
fi

for cmd in moto_server cfn-lint cargo-lambda sam; do
  command -v "$cmd" >/dev/null 2>&1 || {
    echo "install-test-tools: '$cmd' is not on PATH after installing (pip's script dir: $("$PY" -c 'import sysconfig; print(sysconfig.get_path("scripts"))'))" >&2
    exit 1
  }
done

# The bounded fuzz run (scripts/fuzz-ci.sh) needs cargo-fuzz and a nightly toolchain. cargo-fuzz
# builds from crates.io (about two minutes, once); when the pinned version is present this costs
# one `cargo fuzz --version`.
CARGO_FUZZ_VERSION=0.13.2
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  echo "install-test-tools: building cargo-fuzz $CARGO_FUZZ_VERSION from crates.io (a few minutes, once)"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --quiet
  echo "install-test-tools: installed cargo-fuzz $CARGO_FUZZ_VERSION"
fi
# The repo pins 1.95.0 (rust-toolchain.toml); `cargo +nightly` overrides it per command.
if ! cargo +nightly --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal || {
    echo "install-test-tools: no nightly toolchain and 'rustup toolchain install nightly' failed: the fuzz step (scripts/fuzz-ci.sh) needs one" >&2
    exit 1
  }
fi
