#!/usr/bin/env bash
# Compare Cairn's transactions with RocksDB's OptimisticTransactionDB using `cairn bench txn`
# (YCSB A, B, C, F at 1 and 2 threads, both engines in one process, one after the other).
#
# Usage: bench/txn.sh [bench txn flags...]
#   e.g. bench/txn.sh --records 1000000 --ops 200000
#        bench/txn.sh --no-sync --json
#
# RocksDB is C++ and needs clang and libclang (for bindgen), installed here if missing; it
# takes about half an hour to build on two cores the first time. Output is also saved under
# bench/results/.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
bench/install-clang.sh

cargo_flags=(--release -p cairn --features rocksdb)
echo "txn.sh: building cairn with the rocksdb feature" >&2
cargo build "${cargo_flags[@]}"

mkdir -p bench/results
results="bench/results/txn-$(date -u +%Y%m%dT%H%M%SZ)-$(git rev-parse --short HEAD 2>/dev/null || echo nogit).txt"
{
    echo "# commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
    echo "# host: $(uname -srm), $(nproc) cores"
    echo "# flags: $*"
} >"$results"
cargo run --quiet "${cargo_flags[@]}" -- bench txn --engines cairn,rocksdb "$@" | tee -a "$results"
echo "txn.sh: results saved to $results" >&2
