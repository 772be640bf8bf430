#!/usr/bin/env bash
# Regenerates packages/atrous/src/tflite/schema/tflite_generated.ts, the TypeScript reader and builder of
# atrous's own TFLite schema (packages/atrous/src/tflite/schema/tflite.fbs), with Debian's flatc
# (apt-get install flatbuffers-compiler; 2.0.8 in Debian 12, matching the `flatbuffers` npm package 2.0.7
# the package depends on). Only a change to the .fbs needs it: the generated file is committed, so neither
# the build nor the tests run flatc.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/packages/atrous/src/tflite/schema"
command -v flatc >/dev/null || { echo "gen-tflite-schema.sh: flatc not found (apt-get install flatbuffers-compiler)" >&2; exit 1; }
flatc --ts --ts-flat-files -o "$dir" "$dir/tflite.fbs"
echo "wrote $dir/tflite_generated.ts with $(flatc --version)" >&2
