#!/usr/bin/env bash
# Builds the wasm variants of the kernels into packages/atrous/wasm/, each optimised by wasm-opt:
#   scalar           no SIMD, for engines without wasm SIMD
#   simd128          wasm SIMD
#   relaxed          wasm SIMD + relaxed-simd (fused multiply-add)
#   simd128-threads  simd128 over an imported shared memory (atomics, bulk memory), for intra-op threads
#   relaxed-threads  relaxed over an imported shared memory
# The loader picks the best one the engine validates at run time, threaded where shared memory can be made.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
eval "$(bash scripts/setup-toolchain.sh 2>/dev/null | grep -E '^(CARGO_CMD|WASM_OPT|THREADS_SYSROOT)=' | sed 's/^\([A-Z_]*\)=\(.*\)$/\1="\2"/')"
out=packages/atrous/wasm
mkdir -p "$out"
declare -A features=([scalar]="" [simd128]="+simd128" [relaxed]="+simd128,+relaxed-simd"
  [simd128-threads]="+simd128,+atomics,+bulk-memory" [relaxed-threads]="+simd128,+relaxed-simd,+atomics,+bulk-memory")
declare -A opt_flags=([scalar]="" [simd128]="--enable-simd" [relaxed]="--enable-simd --enable-relaxed-simd"
  [simd128-threads]="--enable-simd --enable-threads" [relaxed-threads]="--enable-simd --enable-relaxed-simd --enable-threads")
# The shared memory's maximum is part of the module (a shared memory must declare one): all of wasm32's
# 4 GiB, as the single-thread builds may use. Engines reserve address space, not memory, for it. Each
# helper instance gets its own stack: the loader moves `__stack_pointer` (exported for that) onto a block
# the allocator gave it. TLS is exported too (`__wasm_init_tls`), though the kernels keep no thread-locals.
THREAD_LINK="--cfg atrous_threads -C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--max-memory=4294967296 -C link-arg=--export=__stack_pointer"
variants="scalar simd128 relaxed"
if [ -n "${THREADS_SYSROOT:-}" ]; then
  variants="$variants simd128-threads relaxed-threads"
else
  echo "build-wasm: no atomics sysroot (rustup toolchain): threaded builds skipped" >&2
fi
# ATROUS_WASM_VARIANTS="relaxed-threads" rebuilds only the variants named (a development shortcut).
variants=${ATROUS_WASM_VARIANTS:-$variants}
for variant in $variants; do
  flags=""
  [ -n "${features[$variant]}" ] && flags="-C target-feature=${features[$variant]}"
  case $variant in *-threads) flags="$flags --sysroot $THREADS_SYSROOT $THREAD_LINK" ;; esac
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
