#!/usr/bin/env python3
"""Checks Slack message bodies with the official Slack SDK's Block Kit models (PyPI slack_sdk).

Reads one JSON message body per line on stdin; writes one JSON line per body on stdout:
{"ok": true} or {"ok": false, "error": "..."}. For every block, slack_sdk must know its type
(Block.parse), accept it (to_dict() runs the SDK's validators: text lengths, counts of fields and
elements, required attributes) and write it back exactly as it was read (so nothing we send is
something the SDK would read differently). The top-level "text" must be a string when present.

Called by tools/test-support/src/slack.rs (slack_sdk_check); the suite installs slack_sdk with
scripts/install-test-tools.sh.
"""
import json
import sys

from slack_sdk.models.blocks import Block


def check(body):
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    text = body.get("text")
    if text is not None and not isinstance(text, str):
        return "text is not a string"
    blocks = body.get("blocks")
    if blocks is None:
        return None if text else "neither text nor blocks"
    if not isinstance(blocks, list):
        return "blocks is not a list"
    for i, raw in enumerate(blocks):
        try:
            block = Block.parse(raw)
        except Exception as e:  # the SDK raises on shapes it cannot read
            return f"block {i + 1}: slack_sdk cannot parse it: {e}"
        if block is None:
            return f"block {i + 1}: slack_sdk knows no block {raw!r}"
        try:
            back = block.to_dict()
        except Exception as e:  # SlackObjectFormationError from the validators
            return f"block {i + 1} ({raw.get('type')}): {e}"
        if back != raw:
            return f"block {i + 1}: slack_sdk writes it back differently: {json.dumps(back)} != {json.dumps(raw)}"
    return None


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        error = check(json.loads(line))
        print(json.dumps({"ok": error is None, "error": error}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
