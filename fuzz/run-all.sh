#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 120). Installs cargo-fuzz if missing.
# cargo-fuzz needs nightly-only compiler flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain
# accept them, so no second toolchain is needed.
# Usage: fuzz/run-all.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-120}"
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(wal_record manifest_edit sst_block sst_footer_index mvcc_entry keycode pgwire_frames)
fi
for t in "${targets[@]}"; do
  echo "== fuzzing $t for ${seconds}s"
  RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$t" -- -max_total_time="$seconds" -rss_limit_mb=4096 2>&1 | tail -n 4
done
