#!/usr/bin/env bash
# Offline Rust -> wasm32 toolchain for Debian 12 (apt + npm registry only; no crates.io, no rustup downloads).
# Idempotent. Every step checks before it acts, so a rerun takes a few seconds.
#
# Why each step exists:
#  - rustup's stable toolchain on these machines has no wasm32 target and no rust-src, and cannot be given one
#    offline. Debian's rustc-web (1.96, LLVM 22) plus rust-web-src (library source with its vendored deps) can.
#  - rustc's wasm32 target calls a linker named `rust-lld`, which rustc-web does not ship: link lld-22 under that name.
#  - The wasm32 std/core/alloc rlibs are built once from Debian's library source with -Zbuild-std (RUSTC_BOOTSTRAP
#    only here) and installed into rustc-web's sysroot; afterwards plain stable cargo builds for wasm32.
#    We build std too: atrous-wasm uses std's allocator (dlmalloc) and Vec::try_reserve for graceful OOM.
#  - Where rustup already has a wasm32-unknown-unknown target, it is used as it is (nothing is built).
#  - binaryen from npm (Debian's binaryen 108 cannot parse relaxed-SIMD) gives wasm-opt.
# Prints `CARGO_CMD=...`, `WASM_OPT=...` and `THREADS_SYSROOT=...` (the atomics sysroot) at the end;
# scripts/build-wasm.sh reads them.
set -euo pipefail

TARGET=wasm32-unknown-unknown
TOOLS_DIR=${ATROUS_TOOLS_DIR:-/opt/atrous-tools}
BINARYEN_VERSION=132.0.0
say() { printf '[setup-toolchain] %s\n' "$*" >&2; }
die() { printf '[setup-toolchain] ERROR: %s\n' "$*" >&2; exit 1; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

apt_install() {  # installs the Debian packages given that are not installed yet
  local missing=() p
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

rustup_has_wasm32() {
  command -v rustup >/dev/null 2>&1 && rustup target list --installed 2>/dev/null | grep -qx "$TARGET"
}

if rustup_has_wasm32; then
  say "rustup already has $TARGET: using it"
  CARGO_CMD="cargo"
else
  apt_install rustc-web cargo-web rust-web-src lld-22
  RUSTC=/usr/bin/rustc
  SYSROOT=$($RUSTC --print sysroot)
  HOST=$($RUSTC -vV | sed -n 's/^host: //p')
  SRC=$SYSROOT/lib/rustlib/src/rust/library
  [ -d "$SRC/vendor" ] || die "library source not found at $SRC (rust-web-src)"
  [ "$(dpkg-query -W -f='${Version}' rustc-web)" = "$(dpkg-query -W -f='${Version}' rust-web-src)" ] \
    || die "rustc-web and rust-web-src versions differ"

  LLD_LINK=$SYSROOT/lib/rustlib/$HOST/bin/rust-lld
  if [ "$(readlink -f "$LLD_LINK" 2>/dev/null)" != "$(readlink -f /usr/bin/lld-22)" ]; then
    $SUDO mkdir -p "$(dirname "$LLD_LINK")"
    $SUDO ln -sfn /usr/bin/lld-22 "$LLD_LINK"
    say "linked $LLD_LINK -> lld-22"
  fi

  # build_sysroot <sysroot> <rustflags>: the wasm32 std rlibs built from Debian's library source with the
  # given target features, installed under <sysroot>/lib/rustlib/$TARGET/lib; skipped when the stamp matches.
  build_sysroot() {
    local root=$1 flags=$2
    local libdir=$root/lib/rustlib/$TARGET/lib
    local stamp=$libdir/.atrous-sysroot
    # The plain sysroot's stamp reads as it always has, so that an existing one is not rebuilt.
    local tag="std"
    [ -n "$flags" ] && tag="std [$flags]"
    local want="$tag $($RUSTC -vV | tr '\n' ' ') $(dpkg-query -W -f='${Version}' rust-web-src)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && ls "$libdir"/libstd-*.rlib >/dev/null 2>&1; then
      say "wasm32 sysroot up to date: $root [$flags]"
      return 0
    fi
    BUILD=$(mktemp -d /tmp/atrous-sysroot.XXXXXX)
    trap 'rm -rf "$BUILD"' EXIT
    say "building the wasm32 std sysroot once (about a minute): $root [$flags]"
    mkdir -p "$BUILD/src"
    cat > "$BUILD/Cargo.toml" <<'TOML'
[package]
name = "sysroot-stub"
version = "0.0.0"
edition = "2021"
[lib]
crate-type = ["rlib"]
[profile.release]
opt-level = 3
panic = "abort"
lto = true
[profile.release.package.compiler_builtins]
codegen-units = 10000
TOML
    echo '' > "$BUILD/src/lib.rs"
    (cd "$BUILD" && env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS -u RUSTC_WRAPPER \
        -u CARGO_BUILD_TARGET -u RUSTUP_TOOLCHAIN \
        RUSTC=$RUSTC RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$BUILD/target" \
        CARGO_HOME="$BUILD/cargo-home" CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$flags" \
        /usr/bin/cargo build --offline --quiet --release --target $TARGET -Zbuild-std=std,panic_abort \
          --config 'source.crates-io.replace-with="rustlib-vendor"' \
          --config "source.rustlib-vendor.directory=\"$SRC/vendor\"" \
          --config "target.$TARGET.linker=\"$LLD_LINK\"")
    $SUDO mkdir -p "$libdir"
    $SUDO rm -f "$libdir"/*.rlib "$libdir"/*.rmeta
    for f in "$BUILD/target/$TARGET/release/deps"/lib*.rlib; do
      case "$(basename "$f")" in libsysroot_stub*) ;; *) $SUDO cp "$f" "$libdir/" ;; esac
    done
    echo "$want" | $SUDO tee "$stamp" >/dev/null
    rm -rf "$BUILD"; trap - EXIT
    say "installed the wasm32 sysroot into $libdir"
  }
  # The single-thread sysroot goes into rustc-web's own sysroot, so plain cargo finds it.
  build_sysroot "$SYSROOT" ""
  # The threaded builds link with --shared-memory, which wasm-ld refuses over objects built without atomics:
  # their std is a second sysroot of its own (selected with --sysroot), with rust-lld linked there as well.
  THREADS_SYSROOT=$TOOLS_DIR/sysroot-atomics
  build_sysroot "$THREADS_SYSROOT" "-C target-feature=+atomics,+bulk-memory"
  THREADS_LLD=$THREADS_SYSROOT/lib/rustlib/$HOST/bin/rust-lld
  if [ "$(readlink -f "$THREADS_LLD" 2>/dev/null)" != "$(readlink -f /usr/bin/lld-22)" ]; then
    $SUDO mkdir -p "$(dirname "$THREADS_LLD")"
    $SUDO ln -sfn /usr/bin/lld-22 "$THREADS_LLD"
  fi
  CARGO_CMD="env RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc /usr/bin/cargo"
fi

# wasm-opt (binaryen) from npm
WASM_OPT=$TOOLS_DIR/node_modules/.bin/wasm-opt
if ! { [ -x "$WASM_OPT" ] && "$WASM_OPT" --version 2>/dev/null | grep -q "version ${BINARYEN_VERSION%%.*}"; }; then
  say "npm: binaryen@$BINARYEN_VERSION into $TOOLS_DIR"
  $SUDO mkdir -p "$TOOLS_DIR"
  [ -f "$TOOLS_DIR/package.json" ] || echo '{"name":"atrous-tools","private":true}' | $SUDO tee "$TOOLS_DIR/package.json" >/dev/null
  (cd "$TOOLS_DIR" && $SUDO npm install --no-audit --no-fund --loglevel=error "binaryen@$BINARYEN_VERSION" >/dev/null)
fi
say "ready: $CARGO_CMD build --target $TARGET; wasm-opt at $WASM_OPT"
echo "CARGO_CMD=$CARGO_CMD"
echo "WASM_OPT=$WASM_OPT"
echo "THREADS_SYSROOT=${THREADS_SYSROOT:-}"
