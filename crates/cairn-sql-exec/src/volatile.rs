//! The wall clock and randomness SQL evaluation may read (`clock_timestamp()`,
//! `gen_random_uuid()`), behind `cairn_sql_plan::expr::Volatile`.
//!
//! Role: the executor hands [`SYSTEM`] to every `EvalContext`; nothing else in the SQL layer
//! reads the clock or draws random numbers. TODO(#sim-volatile): take both from `cairn-env`
//! through the `KvStore` so a simulated cluster replays them from its seed.
//!
//! Invariants:
//! 1. Random bytes come from a SplitMix64 stream whose state starts from an OS-seeded
//!    `RandomState` hash (the standard library seeds those from the OS), so two processes
//!    do not produce the same UUIDs. Test: `random_bytes_differ`.
//! 2. Concurrency: `random_bytes` may run on many threads at once; each call takes two
//!    disjoint draws from one atomic counter, so no two calls share state.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use cairn_sql_plan::expr::Volatile;
use cairn_sql_plan::types::datetime::UNIX_EPOCH_OFFSET_MICROS;

/// The process-wide source (real clock, OS-seeded random stream).
pub static SYSTEM: SystemVolatile = SystemVolatile {
    counter: AtomicU64::new(0),
    seed: OnceLock::new(),
};

#[derive(Debug)]
pub struct SystemVolatile {
    counter: AtomicU64,
    seed: OnceLock<u64>,
}

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

fn splitmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl SystemVolatile {
    fn next(&self) -> u64 {
        let seed = *self.seed.get_or_init(|| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(now_unix_micros() as u64);
            h.finish()
        });
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        splitmix(seed.wrapping_add(n.wrapping_mul(GOLDEN_GAMMA)))
    }
}

fn now_unix_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl Volatile for SystemVolatile {
    fn clock_micros(&self) -> i64 {
        now_unix_micros() - UNIX_EPOCH_OFFSET_MICROS
    }

    fn random_bytes(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.next().to_le_bytes());
        out[8..].copy_from_slice(&self.next().to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_differ() {
        let a = SYSTEM.random_bytes();
        let b = SYSTEM.random_bytes();
        assert_ne!(a, b);
        // 2024-01-01 in PostgreSQL epoch microseconds is about 7.6e14.
        assert!(SYSTEM.clock_micros() > 700_000_000_000_000);
    }
}
