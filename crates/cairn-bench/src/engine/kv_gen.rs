//! Keys, values and random orders of the engine benchmark.
//!
//! **What**: deterministic generators for the data every engine is fed, so two runs with one
//! seed write byte-identical databases. **Role**: the runner (`super::runner`) asks for the key
//! of index `i`, the value of `(i, round)` and the `k`-th index of a random order.
//!
//! **Format** of the data written (stable; results are only comparable if it stays put):
//! - key of index `i`: [`KEY_BYTES`] = 16 ASCII digits, `i` in decimal zero-padded on the left.
//!   Index 1234 is `0000000000001234` (hex `30 30 .. 31 32 33 34`). Byte order equals numeric
//!   order, so `fillseq` really writes in key order and the key is readable in `debug sst`.
//! - missing key `j`: 15 digits of `j` zero-padded, then `.` (0x2E). `000000000000123.` sorts
//!   just before the key of index 1230 (because `.` < `0`), so missing keys fall *between*
//!   existing keys: neither a table's key range nor its first/last key can reject them, only
//!   the bloom filter or a block search.
//! - value of `(i, round)`, `value_bytes` long: the first `value_bytes / 2` bytes are a slice
//!   of a 1 MiB seeded random pool (incompressible), the rest repeats one byte (compressible),
//!   so the value compresses to about half, like db_bench's `--compression_ratio 0.5`. The
//!   round makes an overwrite store different bytes than the fill it replaces.
//!
//! **Invariants**:
//! 1. Same seed, same output: `generators_are_deterministic_for_a_seed`.
//! 2. A [`KeyPermutation`] is a bijection of `0..n`: `permutation_is_a_bijection`.
//! 3. A missing key never equals an existing key: `missing_keys_sort_between_existing_keys`.
//!
//! The random source is our own SplitMix64 rather than `rand`'s `StdRng`, whose stream may
//! change between `rand` releases; a benchmark seed must mean the same data forever.

/// Bytes of every benchmark key.
pub const KEY_BYTES: usize = 16;

/// Bytes of the random pool values are cut from. Larger than any value and than the block
/// sizes of the engines, so blocks do not see repeating values.
pub const VALUE_POOL_BYTES: usize = 1 << 20;

/// Largest `--value-size` accepted: half of the value comes from the pool.
pub const VALUE_BYTES_MAX: usize = VALUE_POOL_BYTES;

/// Writes the key of index `index` into `out`.
///
/// Indexes up to 10^16 - 1 fit the 16 digits; the runner never comes close.
pub fn key_into(index: u64, out: &mut [u8; KEY_BYTES]) {
    write_decimal(index, out);
}

/// Writes missing key `j` into `out`: sorts just before the key of index `10 * j`.
pub fn missing_key_into(j: u64, out: &mut [u8; KEY_BYTES]) {
    let (digits, last) = out.split_at_mut(KEY_BYTES - 1);
    write_decimal(j, digits);
    last.fill(b'.');
}

/// Writes `value` as zero-padded decimal filling all of `out`; high digits that do not fit
/// are dropped (callers keep `value` below `10^out.len()`).
fn write_decimal(mut value: u64, out: &mut [u8]) {
    for digit in out.iter_mut().rev() {
        let d = (value % 10) as u8;
        *digit = b'0' + d;
        value /= 10;
    }
}

/// SplitMix64: a 64-bit generator with a fixed, documented stream (Steele et al., 2014).
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.state)
    }

    /// Uniform in `0..bound` (`bound > 0`), by multiply-high. The bias is below
    /// `bound / 2^64`, far under anything a benchmark can notice.
    pub fn below(&mut self, bound: u64) -> u64 {
        debug_assert!(bound > 0, "below(0) has no value to return");
        let wide = u128::from(self.next_u64()) * u128::from(bound);
        (wide >> 64) as u64
    }
}

/// The SplitMix64 output function: a bijective 64-bit mixer.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seeded random order of `0..n` computed on demand, so a benchmark of 10^8 keys does not
/// hold a 800 MB shuffled array (which would also inflate the peak RSS we report).
///
/// A 4-round Feistel network permutes `0..2^(2h)` (the smallest even power of two >= n);
/// indexes that land at or above `n` are encrypted again ("cycle walking") until they fall
/// inside. Because the network is a bijection, the cycle through any `x < n` returns below
/// `n`, and since the domain is under `4n`, the expected walk is under 4 steps.
#[derive(Debug, Clone)]
pub struct KeyPermutation {
    n: u64,
    half_bits: u32,
    round_keys: [u64; 4],
}

impl KeyPermutation {
    pub fn new(n: u64, seed: u64) -> KeyPermutation {
        let domain_bits = (64 - n.saturating_sub(1).leading_zeros()).max(2);
        let half_bits = domain_bits.div_ceil(2);
        let mut rng = SplitMix64::new(seed ^ 0x7065_726D_7574_6521);
        let round_keys = [
            rng.next_u64(),
            rng.next_u64(),
            rng.next_u64(),
            rng.next_u64(),
        ];
        KeyPermutation {
            n,
            half_bits,
            round_keys,
        }
    }

    /// The `position`-th index of the order; `position < n`.
    pub fn at(&self, position: u64) -> u64 {
        assert!(
            position < self.n,
            "position {} outside permutation of {}",
            position,
            self.n
        );
        let mut x = self.encrypt(position);
        while x >= self.n {
            x = self.encrypt(x);
        }
        x
    }

    fn encrypt(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half_bits) - 1;
        let mut left = x >> self.half_bits;
        let mut right = x & mask;
        for key in self.round_keys {
            let next_right = left ^ (mix64(right ^ key) & mask);
            left = right;
            right = next_right;
        }
        (left << self.half_bits) | right
    }
}

/// Produces benchmark values: see the module doc for their layout.
#[derive(Debug, Clone)]
pub struct ValueGen {
    pool: Vec<u8>,
    value_bytes: usize,
    seed: u64,
}

impl ValueGen {
    /// `value_bytes` must be in `1..=VALUE_BYTES_MAX` (checked by the runner's config).
    pub fn new(value_bytes: usize, seed: u64) -> ValueGen {
        assert!(value_bytes > 0, "values must not be empty");
        assert!(
            value_bytes <= VALUE_BYTES_MAX,
            "value of {value_bytes} bytes over the pool"
        );
        let mut rng = SplitMix64::new(seed ^ 0x7661_6C75_6573_2121);
        let mut pool = Vec::with_capacity(VALUE_POOL_BYTES);
        while pool.len() < VALUE_POOL_BYTES {
            pool.extend_from_slice(&rng.next_u64().to_le_bytes());
        }
        ValueGen {
            pool,
            value_bytes,
            seed,
        }
    }

    pub fn value_bytes(&self) -> usize {
        self.value_bytes
    }

    /// Bytes taken from the random pool (the incompressible half).
    pub fn random_bytes(&self) -> usize {
        self.value_bytes / 2
    }

    /// Writes the value of key `index` in write round `round` into `out`
    /// (`out.len() == value_bytes`).
    pub fn value_into(&self, index: u64, round: u64, out: &mut [u8]) {
        assert_eq!(
            out.len(),
            self.value_bytes,
            "value buffer of the wrong size"
        );
        let random_bytes = self.random_bytes();
        let start_max = (VALUE_POOL_BYTES - random_bytes) as u64;
        let start = (mix64(index ^ mix64(round ^ self.seed)) % (start_max + 1)) as usize;
        let (random, repeated) = out.split_at_mut(random_bytes);
        let source = self
            .pool
            .get(start..start + random_bytes)
            .expect("start is bounded by start_max");
        random.copy_from_slice(source);
        let filler = self.pool.get(start).copied().unwrap_or(b'x');
        repeated.fill(filler);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn keys_are_16_zero_padded_digits() {
        let mut key = [0u8; KEY_BYTES];
        key_into(1234, &mut key);
        assert_eq!(&key, b"0000000000001234");
        key_into(0, &mut key);
        assert_eq!(&key, b"0000000000000000");
        key_into(9_999_999_999_999_999, &mut key);
        assert_eq!(&key, b"9999999999999999");
    }

    #[test]
    fn key_order_is_index_order() {
        let mut a = [0u8; KEY_BYTES];
        let mut b = [0u8; KEY_BYTES];
        for i in [0u64, 9, 10, 99, 100, 123_456, 999_999] {
            key_into(i, &mut a);
            key_into(i + 1, &mut b);
            assert!(a < b, "key {i} does not sort before key {}", i + 1);
        }
    }

    #[test]
    fn missing_keys_sort_between_existing_keys() {
        let mut missing = [0u8; KEY_BYTES];
        let mut below = [0u8; KEY_BYTES];
        let mut at = [0u8; KEY_BYTES];
        for j in [1u64, 7, 123, 99_999] {
            missing_key_into(j, &mut missing);
            key_into(10 * j - 1, &mut below);
            key_into(10 * j, &mut at);
            assert_eq!(missing.len(), KEY_BYTES);
            assert!(
                below < missing,
                "missing key {j} sorts before key {}",
                10 * j - 1
            );
            assert!(missing < at, "missing key {j} sorts after key {}", 10 * j);
            assert_eq!(missing.last(), Some(&b'.'));
        }
        missing_key_into(123, &mut missing);
        assert_eq!(&missing, b"000000000000123.");
    }

    #[test]
    fn permutation_is_a_bijection() {
        for n in [1u64, 2, 3, 4, 5, 17, 1000, 4096, 4097, 65_537] {
            let permutation = KeyPermutation::new(n, 42);
            let seen: HashSet<u64> = (0..n).map(|p| permutation.at(p)).collect();
            assert_eq!(seen.len() as u64, n, "permutation of {n} repeats an index");
            assert!(
                seen.iter().all(|&x| x < n),
                "permutation of {n} leaves the range"
            );
        }
    }

    #[test]
    fn permutation_is_not_the_identity() {
        let permutation = KeyPermutation::new(10_000, 42);
        let fixed_points = (0..10_000).filter(|&p| permutation.at(p) == p).count();
        assert!(
            fixed_points < 100,
            "{fixed_points} fixed points: order is barely shuffled"
        );
    }

    #[test]
    fn generators_are_deterministic_for_a_seed() {
        let a = ValueGen::new(100, 42);
        let b = ValueGen::new(100, 42);
        let c = ValueGen::new(100, 43);
        let (mut va, mut vb, mut vc) = ([0u8; 100], [0u8; 100], [0u8; 100]);
        a.value_into(5, 0, &mut va);
        b.value_into(5, 0, &mut vb);
        c.value_into(5, 0, &mut vc);
        assert_eq!(va, vb);
        assert_ne!(va, vc, "different seeds give the same value");

        let p = KeyPermutation::new(1000, 42);
        let q = KeyPermutation::new(1000, 42);
        let r = KeyPermutation::new(1000, 43);
        let order_p: Vec<u64> = (0..1000).map(|i| p.at(i)).collect();
        let order_q: Vec<u64> = (0..1000).map(|i| q.at(i)).collect();
        let order_r: Vec<u64> = (0..1000).map(|i| r.at(i)).collect();
        assert_eq!(order_p, order_q);
        assert_ne!(order_p, order_r, "different seeds give the same order");

        let mut x = SplitMix64::new(42);
        let mut y = SplitMix64::new(42);
        assert!((0..100).all(|_| x.next_u64() == y.next_u64()));
    }

    #[test]
    fn values_are_half_random_half_repeated() {
        let values = ValueGen::new(100, 42);
        let mut value = [0u8; 100];
        values.value_into(77, 0, &mut value);
        let (random, repeated) = value.split_at(50);
        assert!(
            repeated.iter().all(|&b| b == repeated[0]),
            "second half is not one repeated byte"
        );
        let distinct: HashSet<u8> = random.iter().copied().collect();
        assert!(
            distinct.len() > 30,
            "first half has only {} distinct bytes",
            distinct.len()
        );

        let mut overwritten = [0u8; 100];
        values.value_into(77, 1, &mut overwritten);
        assert_ne!(
            value, overwritten,
            "an overwrite round stores the same bytes"
        );
    }

    #[test]
    fn odd_and_tiny_value_sizes_fill_the_buffer() {
        for value_bytes in [1usize, 2, 3, 101, 4096] {
            let values = ValueGen::new(value_bytes, 1);
            let mut value = vec![0u8; value_bytes];
            values.value_into(3, 0, &mut value);
            assert_eq!(value.len(), value_bytes);
        }
    }

    #[test]
    fn below_stays_in_bounds() {
        let mut rng = SplitMix64::new(7);
        for bound in [1u64, 2, 3, 1000, u64::MAX] {
            for _ in 0..1000 {
                assert!(rng.below(bound) < bound);
            }
        }
    }
}
