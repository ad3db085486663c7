#!/usr/bin/env bash
# Builds module/ to the .wasm a SpacetimeDB server publishes, cached by a hash of the module's
# sources (Cargo.lock, Cargo.toml, src/, crates/): a second run with the same sources only
# prints the path. Prints the .wasm's path as its last line.
#
# Toolchain: Debian's rustc-web 1.96 with its std sources (rustup has no wasm32 target on these
# machines), called by full path because rustup's cargo/rustc come first on PATH. As root on
# Debian the packages are apt-installed when missing. Without them, rustup's toolchain is used
# if it has the wasm32-unknown-unknown target; else the script exits 3 with one line saying
# what is missing (the real-server tests skip on it).
#
#   scripts/build-wasm.sh            # build (or reuse) -> module/target/wasm/spaces_module-<hash>.wasm
#   SPACES_WASM_NO_INSTALL=1 ...     # never apt-get
set -euo pipefail
cd "$(dirname "$0")/../module"
packages=(rustc-web cargo-web rust-web-src rust-web-llvm lld-22)
out_dir=target/wasm

hash=$(find Cargo.lock Cargo.toml src crates -type f -not -path '*/target/*' -print0 \
  | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
wasm=$out_dir/spaces_module-$hash.wasm
if [ -s "$wasm" ]; then
  echo "$PWD/$wasm"
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
official=
if [ ${#missing[@]} -gt 0 ] && command -v rustup >/dev/null \
    && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  official=1   # the official toolchain has the wasm32 target: no Debian packages needed
elif [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && [ -z "${SPACES_WASM_NO_INSTALL:-}" ] && command -v apt-get >/dev/null; then
    echo "build-wasm: apt-get install ${missing[*]}" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else
    echo "build-wasm: no wasm32 toolchain (as root on Debian: apt-get install ${packages[*]}; or: rustup target add wasm32-unknown-unknown)" >&2
    exit 3
  fi
fi

start=$SECONDS
# The wasm build has its own target dir: the native checks use module/target itself.
if [ -n "$official" ]; then
  CARGO_TARGET_DIR=target/wasm-rustup cargo build -q -p spaces-module \
    --target wasm32-unknown-unknown --release >&2
  built=target/wasm-rustup
else
  RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=target/wasm-debian \
    /usr/bin/cargo build -q -p spaces-module -Zbuild-std=std,panic_abort \
    --target wasm32-unknown-unknown --release >&2
  built=target/wasm-debian
fi
mkdir -p "$out_dir"
rm -f "$out_dir"/spaces_module-*.wasm
cp "$built"/wasm32-unknown-unknown/release/spaces_module.wasm "$wasm.tmp"
mv "$wasm.tmp" "$wasm"
echo "build-wasm: $(stat -c %s "$wasm") bytes in $((SECONDS - start)) s" >&2
echo "$PWD/$wasm"
