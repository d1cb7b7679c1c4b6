#!/bin/sh
# Builds examples/c-consensus/c-consensus.wasm (or $1) with clang and wasi-libc
# (Debian: apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32).
# -mexec-model=reactor: a WASI reactor, no _start (ABI.md §1).
set -eu
here=$(dirname "$0")
out=${1:-"$here/c-consensus.wasm"}
exec clang --target=wasm32-wasi -O2 -Wall -Wextra -Werror -mexec-model=reactor \
    -Wl,--strip-all -o "$out" "$here/consensus.c"
