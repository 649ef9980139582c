#!/bin/sh
# Demonstrates that pgwire 0.42.1's decoder panic on a malformed Bind takes the
# whole server down when built with panic=abort (as Cairn's release profile is).
set -eu
cd "$(dirname "$0")/.."
ABORT_TARGET=/work/target-pgwire/abort-check
CARGO_PROFILE_DEV_PANIC=abort CARGO_TARGET_DIR="$ABORT_TARGET" cargo build --bin scratch-pgwire
SCRATCH_PGWIRE_ABORT_BIN="$ABORT_TARGET/debug/scratch-pgwire" \
  CARGO_TARGET_DIR=/work/target-pgwire \
  cargo test --test raw_protocol malformed_bind_kills_a_panic_abort_server -- --ignored
