#!/usr/bin/env bash
# Builds the Lambda binary (`bootstrap`) with cargo-lambda and prints its size.
#
#   scripts/lambda-build.sh            # arm64 (the architecture template.yaml deploys)
#   ARCH=x86-64 scripts/lambda-build.sh
#
# Output: target/lambda/audit-router/bootstrap (cargo-lambda's layout, what `cargo lambda deploy`
# and SAM's rust-cargolambda build method pick up).
#
# Needs (installed here when missing): the Rust standard library for the target (rustup), and
# cargo-lambda and Zig (both from PyPI; Zig is the cross linker, so no aarch64 gcc is needed).
set -euo pipefail

ARCH="${ARCH:-arm64}"
BIN="${BIN:-audit-router}"
CARGO_LAMBDA_VERSION="1.9.2"
ZIGLANG_VERSION="0.15.2"

cd "$(dirname "$0")/.."

log() { printf 'lambda-build: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

case "$ARCH" in
  arm64) TRIPLE=aarch64-unknown-linux-gnu ;;
  x86-64) TRIPLE=x86_64-unknown-linux-gnu ;;
  *) die "ARCH must be arm64 or x86-64, got '$ARCH'" ;;
esac

# --- cargo-lambda and Zig -------------------------------------------------------------------------
if ! command -v cargo-lambda >/dev/null 2>&1; then
  log "installing cargo-lambda==$CARGO_LAMBDA_VERSION from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
fi
if ! command -v zig >/dev/null 2>&1 && ! python3 -c 'import ziglang' >/dev/null 2>&1; then
  log "installing ziglang==$ZIGLANG_VERSION from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check "ziglang==$ZIGLANG_VERSION"
fi

# --- the target's standard library ----------------------------------------------------------------
if ! rustup target list --installed | grep -qx "$TRIPLE"; then
  log "rustup target add $TRIPLE"
  rustup target add "$TRIPLE" >/dev/null
fi

# --- build ------------------------------------------------------------------------------------------
start=$(date +%s)
log "cargo lambda build --release --$ARCH --bin $BIN"
cargo lambda build --release "--$ARCH" --bin "$BIN" --lambda-dir target/lambda
elapsed=$(( $(date +%s) - start ))

out="target/lambda/$BIN/bootstrap"
[ -f "$out" ] || die "expected $out after the build"
size=$(stat -c %s "$out")
printf 'built %s (%s, %s) in %ss: %s bytes (%s MiB)\n' "$out" "$TRIPLE" \
  "$(file -b "$out" 2>/dev/null | cut -d, -f1-2 || echo binary)" "$elapsed" "$size" \
  "$(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1048576 }')"
