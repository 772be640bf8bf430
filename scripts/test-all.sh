#!/usr/bin/env bash
# Every test: Rust kernels on the host, then each workspace package's `test` script (TypeScript in Node,
# parity with onnxruntime-node, browser tests in Debian chromium). Installs what it needs first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh --tests
eval "$(bash scripts/setup-toolchain.sh 2>/dev/null | grep '^CARGO_CMD=' | sed 's/^CARGO_CMD=\(.*\)$/CARGO_CMD="\1"/')"
echo "== cargo test (kernels against the naive reference)"
$CARGO_CMD test --offline --quiet -p atrous-kernels
echo "== workspace tests"
pnpm -r --workspace-concurrency=1 --if-present run test
echo "== all tests passed"
