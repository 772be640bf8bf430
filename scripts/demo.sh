#!/usr/bin/env bash
# The main job: installs what it needs, builds, then runs the demo (`pnpm demo`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
pnpm demo
