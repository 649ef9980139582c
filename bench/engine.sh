#!/usr/bin/env bash
# Compare Cairn's storage engine with RocksDB and fjall using `cairn bench engine`.
#
# Usage: bench/engine.sh [bench engine flags...]
#   e.g. bench/engine.sh --num 1000000 --threads 2
#        ENGINES=cairn,rocksdb bench/engine.sh --workloads fillrandom,readrandom --json
#
# Each engine runs in a process of its own, one after the other, so the peak RSS each
# reports (the process's VmHWM) is that engine's alone. Flags are passed to every run;
# do not pass --engines, set ENGINES instead. Output is also saved under bench/results/.
#
# The peer engines are cargo features of the `cairn` binary, off by default. RocksDB is
# C++ and needs clang and libclang (for bindgen); it takes about half an hour to build on
# two cores the first time.
set -euo pipefail

ENGINES="${ENGINES:-cairn,rocksdb,fjall}"
FEATURES="${FEATURES:-rocksdb,fjall}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

for arg in "$@"; do
    case "$arg" in
        --engines|--engines=*)
            echo "engine.sh: set ENGINES=... instead of --engines (one process per engine)" >&2
            exit 2
            ;;
    esac
done

if [[ ",$FEATURES," == *",rocksdb,"* ]]; then
    bench/install-clang.sh
fi

cargo_flags=(--release -p cairn --features "$FEATURES")

echo "engine.sh: building cairn with features $FEATURES" >&2
cargo build "${cargo_flags[@]}"

mkdir -p bench/results
results="bench/results/engine-$(date -u +%Y%m%dT%H%M%SZ)-$(git rev-parse --short HEAD 2>/dev/null || echo nogit).txt"
{
    echo "# commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
    echo "# host: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo 2>/dev/null || echo '? kB')"
    echo "# flags: $*"
} >"$results"

IFS=',' read -r -a engines <<<"$ENGINES"
for engine in "${engines[@]}"; do
    echo "engine.sh: running $engine" >&2
    cargo run --quiet "${cargo_flags[@]}" -- bench engine --engines "$engine" "$@" | tee -a "$results"
done
echo "engine.sh: results saved to $results" >&2
