#!/usr/bin/env bash
# Installs clang and libclang-dev (needed to build RocksDB's bindings), if missing.
# Used by the benchmark scripts that build the `rocksdb` feature.
set -euo pipefail

need_clang_packages() {
    command -v clang >/dev/null 2>&1 || return 0
    # bindgen loads libclang.so at build time.
    ldconfig -p 2>/dev/null | grep -q 'libclang\(-[0-9.]*\)\?\.so' || return 0
    return 1
}
if need_clang_packages; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-clang.sh: install clang and libclang (needed to build RocksDB), then rerun" >&2
        exit 1
    fi
    sudo=""
    if [[ "$(id -u)" -ne 0 ]]; then
        sudo="sudo"
    fi
    echo "install-clang.sh: installing clang and libclang-dev for the RocksDB build" >&2
    $sudo apt-get update
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y clang libclang-dev
fi
