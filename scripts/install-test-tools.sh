#!/usr/bin/env bash
# Installs the programs the test suite talks to, if missing: moto_server (S3/SNS/SQS over HTTP)
# and cfn-lint. Idempotent.
set -euo pipefail
need=()
command -v moto_server >/dev/null 2>&1 || need+=("moto[server]==5.2.1")
command -v cfn-lint >/dev/null 2>&1 || need+=("cfn-lint==1.51.0")
if [ ${#need[@]} -gt 0 ]; then
  echo "== pip install ${need[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${need[@]}"
fi
