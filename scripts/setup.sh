#!/usr/bin/env bash
# Everything a fresh Debian 12 machine (Node 20, npm, root) needs to build and test atrous, offline from
# the npm registry and Debian's apt only. Idempotent: a rerun takes seconds.
# `--tests` also installs what only the tests use (redis-server for segment-node's queue test), so the demo
# (`bash scripts/demo.sh`, which runs this without it) installs none of that.
set -euo pipefail
for_tests=0
for arg in "$@"; do
  case "$arg" in
    --tests) for_tests=1 ;;
    *) echo "setup.sh: unknown argument $arg (the only one is --tests)" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { printf '[setup] %s\n' "$*" >&2; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

# Debian packages: Chromium for the browser tests, python3 torch/onnx for exporting test models.
want=(chromium)
[ "$for_tests" = 1 ] && want+=(redis-server)
[ "${ATROUS_SKIP_PYTHON:-0}" = 1 ] || want+=(python3-torch python3-torchvision python3-onnx python3-skimage libonnx-testdata)
missing=()
for p in "${want[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

bash scripts/setup-toolchain.sh >/dev/null

if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version)" != 10.34.9 ]; then
  say "npm: installing pnpm 10.34.9"
  $SUDO npm install -g --no-audit --no-fund --loglevel=error pnpm@10.34.9 >/dev/null
fi
say "pnpm install"
pnpm install --frozen-lockfile --reporter=append-only
say "selfie models (npm @mediapipe/selfie_segmentation) into models/selfie/"
node tools/fetch-selfie-models.mjs >/dev/null
say "building wasm and TypeScript"
bash scripts/build-wasm.sh >&2
pnpm -r --filter './packages/**' run build >&2
say "ready"
