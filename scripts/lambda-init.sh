#!/usr/bin/env bash
# Lambda init of an audit-router binary under `cargo lambda watch` (its Runtime API emulator):
# process start → "ready for invocations" (rules and templates loaded, sinks and SDK clients
# built), best and median of N cold starts. For BENCHMARKS.md; nothing is sent anywhere.
#
#   scripts/lambda-init.sh [--bin target/release/audit-router] [--rules rules.toml] [--runs 7]
#
# Needs `cargo lambda` (scripts/install-test-tools.sh). The function logs its own init time
# (`init_ms`, from the start of `run()`); the script also reports the wall time from spawning
# the process to that line (includes process start and the async runtime).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/audit-router
RULES=rules.toml
RUNS=7
while [ $# -gt 0 ]; do
    case "$1" in
        --bin) BIN=$2; shift 2 ;;
        --rules) RULES=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
[ -x "$BIN" ] || { echo "no executable $BIN (cargo build --release)" >&2; exit 2; }
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cargo lambda watch --only-lambda-apis -A 127.0.0.1 -P "$port" >"$work/watch.log" 2>&1 &
watch=$!
trap 'kill $watch 2>/dev/null; pkill -P $watch 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do
    (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
inits=(); walls=()
for i in $(seq "$RUNS"); do
    log="$work/fn-$i.log"
    start=$(date +%s%N)
    env -i PATH="$PATH" HOME="$HOME" \
        AWS_LAMBDA_RUNTIME_API="127.0.0.1:$port" AWS_LAMBDA_FUNCTION_NAME=_ \
        AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128 \
        AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
        AWS_ENDPOINT_URL=http://127.0.0.1:9 AUDIT_ROUTER_RULES="$RULES" \
        ALARM_TOPIC_ARN=arn:aws:sns:us-east-1:123456789012:alarms \
        SLACK_WEBHOOK_URL=https://hooks.slack.invalid/services/T/B/x \
        "$BIN" >"$log" 2>&1 &
    fn=$!
    ready=
    for _ in $(seq 3000); do
        if grep -q '"ready for invocations"' "$log"; then ready=1; break; fi
        if ! kill -0 $fn 2>/dev/null; then break; fi
        sleep 0.001
    done
    end=$(date +%s%N)
    kill $fn 2>/dev/null || true
    wait $fn 2>/dev/null || true
    if [ -z "$ready" ]; then echo "run $i: the function did not get ready:" >&2; cat "$log" >&2; exit 1; fi
    init=$(grep '"ready for invocations"' "$log" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["init_ms"])')
    inits+=("$init"); walls+=($(( (end - start) / 1000000 )))
done
stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "best %d ms, median %d ms", a[1], a[int((NR+1)/2)]}'; }
echo "binary: $BIN ($(stat -c %s "$BIN") bytes), rules: $RULES, $RUNS cold starts"
echo "init_ms (logged by the function): $(stats "${inits[@]}")"
echo "spawn → ready line (wall, polled every ~1 ms): $(stats "${walls[@]}")"
