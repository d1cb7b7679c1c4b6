#!/bin/sh
# Builds build/{{name}}.wasm (Rust, the wasm32-wasip1 target).
set -eu
cd "$(dirname "$0")"
rustup target add wasm32-wasip1 >/dev/null 2>&1 || true
cargo build --release --quiet --target-dir target
mkdir -p build
cp "target/wasm32-wasip1/release/{{crate}}.wasm" "build/{{name}}.wasm"
echo "built build/{{name}}.wasm"
