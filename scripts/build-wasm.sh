#!/usr/bin/env bash
# Builds the three wasm variants of the kernels into packages/atrous/wasm/, each optimised by wasm-opt:
#   scalar   no SIMD, for engines without wasm SIMD
#   simd128  wasm SIMD
#   relaxed  wasm SIMD + relaxed-simd (fused multiply-add)
# The loader picks the best one the engine validates at run time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
eval "$(bash scripts/setup-toolchain.sh 2>/dev/null | grep -E '^(CARGO_CMD|WASM_OPT)=' | sed 's/^\([A-Z_]*\)=\(.*\)$/\1="\2"/')"
out=packages/atrous/wasm
mkdir -p "$out"
declare -A features=([scalar]="" [simd128]="+simd128" [relaxed]="+simd128,+relaxed-simd")
declare -A opt_flags=([scalar]="" [simd128]="--enable-simd" [relaxed]="--enable-simd --enable-relaxed-simd")
for variant in scalar simd128 relaxed; do
  flags=""
  [ -n "${features[$variant]}" ] && flags="-C target-feature=${features[$variant]}"
  # A RUSTFLAGS env var would replace these; the per-target variable keeps variants apart.
  env -u RUSTFLAGS CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$flags" CARGO_TARGET_DIR="target/wasm-$variant" \
    $CARGO_CMD build --offline --quiet --release --target wasm32-unknown-unknown -p atrous-wasm
  # Inlining a kernel into its only caller would hand V8 one huge function whose register allocation
  # suffers (measured: depthwise 3x3 several times slower); keep single-caller functions above 100 bytes apart.
  "$WASM_OPT" -O3 --one-caller-inline-max-function-size 100 --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-mutable-globals --enable-multivalue --enable-reference-types ${opt_flags[$variant]} \
    "target/wasm-$variant/wasm32-unknown-unknown/release/atrous_wasm.wasm" -o "$out/atrous-$variant.wasm"
  echo "built $out/atrous-$variant.wasm ($(stat -c %s "$out/atrous-$variant.wasm") bytes)"
done
