//! The bloom filter over a table's user keys, and the 64-bit hash it uses.
//!
//! Role: [`FilterBuilder`] collects one hash per distinct user key while the table is written;
//! [`BloomFilter`] answers "may this table hold `user_key`?" for [`super::Table::get`], so a
//! point read of an absent key usually costs no block read.
//!
//! # Format (contents of the filter block)
//! ```text
//! | bit array (n bytes) | probe byte |
//! ```
//! An empty block means "no filter" (bits per key 0, or no keys): every key may be present.
//! The probe byte says which of two layouts the bit array has:
//!
//! - **Cache-line blocked** (written since format 2; probe byte `0x80 | k`, `k` in 1..=30):
//!   the array is `L >= 1` lines of 64 bytes (512 bits). A key with hash `h` ([`hash64`])
//!   uses line `((h >> 32) * L) >> 32` only, so a probe touches one cache line; within it,
//!   with `g = h as u32`, probe `i` (0-based) tests bit `g_i >> 23` (0..=511), where
//!   `g_0 = g` and `g_{i+1} = g_i * 0x9E3779B9` (wrapping u32). Bit `j` of a line is bit
//!   `j % 8` of its byte `j / 8`. `L = max(1, ceil(keys * b / 512))` for `b` bits per key.
//! - **Classic** (probe byte `k` in 1..=30, `n >= 8`; still read, no longer written): probe
//!   `i` sets bit `(h + i * d) mod m` with `d = h.rotate_right(33) | 1`, `m = 8 * n`, and
//!   `m = max(64, keys * b)` rounded up to a byte.
//!
//! In both, `k = clamp(round(b * 0.69), 1, 30)` (0.69 ~ ln 2 minimises the false-positive
//! rate for a given `b`). The blocked layout costs one cache miss per key instead of up to
//! `k`; its false-positive rate at 10 bits/key measured 0.83% (100,000 keys, test
//! `false_positive_rate_at_10_bits_is_low`). Example: the blocked filter of one key `k` with 10 bits/key is
//! 64 bytes of bits then `87`.
//!
//! The hash is part of the format: it must give the same value on every platform and release.
//! `hash64` reads the key in 8-byte little-endian words, mixes each into the state with a
//! multiply-rotate step, mixes in the zero-padded tail, and finishes with the MurmurHash3
//! 64-bit finalizer. Test vectors are pinned in `hash_is_stable`.
//!
//! What is hashed: each distinct user key, or, when the table's `bloom_strip_suffix_bytes`
//! property is `n > 0`, each distinct user key without its last `n` bytes ([`filter_key`]; a
//! key of `n` bytes or fewer is hashed whole), so that one probe answers for every key that
//! shares that prefix.
//!
//! Invariants:
//! 1. No false negatives: every added key passes `may_contain` (test
//!    `added_keys_are_always_found`).
//! 2. About 1% false positives at 10 bits/key (test `false_positive_rate_at_10_bits_is_low`).
//! 3. A stored filter is used only if its probe count is in 1..=30 and its bit array fits
//!    its layout (classic: at least 8 bytes; blocked: a positive multiple of 64 bytes)
//!    ([`BloomFilter::decode`]).
//!
//! Concurrency: a [`BloomFilter`] is immutable and read by any thread.

const P1: u64 = 0x9e37_79b9_7f4a_7c15;
const P2: u64 = 0xc2b2_ae3d_27d4_eb4f;
const P3: u64 = 0x1656_67b1_9e37_79f9;
const SEED: u64 = 0x2d35_8dcc_aa6c_78a5;

/// Most probes per key a filter may use.
const PROBES_MAX: u8 = 30;
/// Probe-byte flag of the cache-line blocked layout.
const BLOCKED_FLAG: u8 = 0x80;
/// Bytes per line of the blocked layout (one cache line).
const LINE_BYTES: usize = 64;
/// Multiplier that derives each probe's bit within a line from the previous one.
const LINE_PROBE_MUL: u32 = 0x9E37_79B9;

/// Byte offset of the line of a blocked filter with `lines` lines that hash `h` uses.
#[inline]
fn line_base(h: u64, lines: u64) -> usize {
    // The line index is below `lines`, which counts lines of an in-memory array.
    usize::try_from(((h >> 32) * lines) >> 32).map_or(0, |line| line * LINE_BYTES)
}

/// The low 32 bits of a hash, from which a blocked filter derives a key's probes.
#[inline]
fn low32(h: u64) -> u32 {
    let [a, b, c, d, ..] = h.to_le_bytes();
    u32::from_le_bytes([a, b, c, d])
}

#[inline]
fn mix_word(w: u64) -> u64 {
    w.wrapping_mul(P2).rotate_left(31).wrapping_mul(P1)
}

#[inline]
fn absorb(h: u64, w: u64) -> u64 {
    (h ^ mix_word(w))
        .rotate_left(27)
        .wrapping_mul(P1)
        .wrapping_add(P3)
}

/// The filter's 64-bit hash of a user key (see the module header; stable across platforms).
pub(crate) fn hash64(key: &[u8]) -> u64 {
    let mut h = SEED ^ (key.len() as u64).wrapping_mul(P3);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = absorb(h, u64::from_le_bytes(w));
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut w = [0u8; 8];
        if let Some(dst) = w.get_mut(..tail.len()) {
            dst.copy_from_slice(tail);
        }
        h = absorb(h, u64::from_le_bytes(w));
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// Number of probes for `bits_per_key`: `round(bits_per_key * 0.69)` in 1..=30.
fn probe_count(bits_per_key: u32) -> u8 {
    let p = (u64::from(bits_per_key) * 69 + 50) / 100;
    u8::try_from(p.clamp(1, u64::from(PROBES_MAX))).unwrap_or(PROBES_MAX)
}

/// Collects key hashes while a table is written.
#[derive(Debug)]
pub(crate) struct FilterBuilder {
    bits_per_key: u32,
    hashes: Vec<u64>,
}

/// The bytes of `user_key` that a filter built with `strip_suffix_bytes` holds.
pub fn filter_key(user_key: &[u8], strip_suffix_bytes: u32) -> &[u8] {
    let strip = usize::try_from(strip_suffix_bytes).unwrap_or(usize::MAX);
    match user_key.len().checked_sub(strip) {
        Some(keep) if strip > 0 && keep > 0 => user_key.get(..keep).unwrap_or(user_key),
        _ => user_key,
    }
}

impl FilterBuilder {
    pub fn new(bits_per_key: u32) -> FilterBuilder {
        FilterBuilder {
            bits_per_key,
            hashes: Vec::new(),
        }
    }

    /// Adds a user key. The caller adds each distinct user key once (consecutive duplicates
    /// are skipped by the table builder); a repeated key only costs space.
    pub fn add(&mut self, user_key: &[u8]) {
        if self.bits_per_key > 0 {
            self.hashes.push(hash64(user_key));
        }
    }

    /// The filter block contents (empty when there is no filter), in the blocked layout.
    pub fn finish(&self) -> Vec<u8> {
        if self.bits_per_key == 0 || self.hashes.is_empty() {
            return Vec::new();
        }
        let bits = (self.hashes.len() as u64).saturating_mul(u64::from(self.bits_per_key));
        let lines = bits.div_ceil(LINE_BYTES as u64 * 8).max(1);
        let bytes = usize::try_from(lines)
            .ok()
            .and_then(|l| l.checked_mul(LINE_BYTES))
            .expect("filter size fits in memory");
        let probes = probe_count(self.bits_per_key);
        let mut out = vec![0u8; bytes + 1];
        for &h in &self.hashes {
            // line < lines, so the line's bytes are in range.
            let base = line_base(h, lines);
            let mut g = low32(h);
            for _ in 0..probes {
                let bit = (g >> 23) as usize;
                if let Some(byte) = out.get_mut(base + bit / 8) {
                    *byte |= 1 << (bit % 8);
                }
                g = g.wrapping_mul(LINE_PROBE_MUL);
            }
        }
        if let Some(last) = out.last_mut() {
            *last = BLOCKED_FLAG | probes;
        }
        out
    }

    /// The classic layout (tests only: tables written before the blocked layout use it).
    #[cfg(test)]
    pub fn finish_classic(&self) -> Vec<u8> {
        if self.bits_per_key == 0 || self.hashes.is_empty() {
            return Vec::new();
        }
        let bits = (self.hashes.len() as u64)
            .saturating_mul(u64::from(self.bits_per_key))
            .max(64);
        let bytes = usize::try_from(bits.div_ceil(8)).expect("filter size fits in memory");
        let m = bytes as u64 * 8;
        let probes = probe_count(self.bits_per_key);
        let mut out = vec![0u8; bytes + 1];
        for &h in &self.hashes {
            let delta = h.rotate_right(33) | 1;
            let mut pos = h;
            for _ in 0..probes {
                let bit = pos % m;
                if let Some(byte) = out.get_mut((bit / 8) as usize) {
                    *byte |= 1 << (bit % 8);
                }
                pos = pos.wrapping_add(delta);
            }
        }
        if let Some(last) = out.last_mut() {
            *last = probes;
        }
        out
    }
}

/// A decoded bloom filter.
#[derive(Debug, Clone)]
pub(crate) struct BloomFilter {
    /// Bit array followed by the probe byte.
    data: Vec<u8>,
    layout: Layout,
    probes: u8,
}

#[derive(Debug, Clone, Copy)]
enum Layout {
    /// Cache-line blocked, with this many 64-byte lines.
    Blocked { lines: u64 },
    /// Classic, with this many bits.
    Classic { bits: u64 },
}

impl BloomFilter {
    /// Decodes filter block contents: `Ok(None)` for an empty block (no filter), `Err` with
    /// a description for a malformed one.
    pub fn decode(data: Vec<u8>) -> Result<Option<BloomFilter>, &'static str> {
        let Some((&probe_byte, bits)) = data.split_last() else {
            return Ok(None);
        };
        let probes = probe_byte & !BLOCKED_FLAG;
        if probes == 0 || probes > PROBES_MAX {
            return Err("bloom filter probe count out of range");
        }
        let layout = if probe_byte & BLOCKED_FLAG != 0 {
            if bits.is_empty() || bits.len() % LINE_BYTES != 0 {
                return Err("blocked bloom filter is not a whole number of lines");
            }
            Layout::Blocked {
                lines: (bits.len() / LINE_BYTES) as u64,
            }
        } else {
            if bits.len() < 8 {
                return Err("bloom filter bit array too short");
            }
            Layout::Classic {
                bits: bits.len() as u64 * 8,
            }
        };
        Ok(Some(BloomFilter {
            data,
            layout,
            probes,
        }))
    }

    /// False only if `user_key` was certainly not added.
    pub fn may_contain(&self, user_key: &[u8]) -> bool {
        let h = hash64(user_key);
        match self.layout {
            Layout::Blocked { lines } => {
                let base = line_base(h, lines);
                let Some(line) = self.data.get(base..base + LINE_BYTES) else {
                    return true;
                };
                let mut g = low32(h);
                for _ in 0..self.probes {
                    let bit = (g >> 23) as usize;
                    let set = line.get(bit / 8).is_some_and(|b| b & (1 << (bit % 8)) != 0);
                    if !set {
                        return false;
                    }
                    g = g.wrapping_mul(LINE_PROBE_MUL);
                }
                true
            }
            Layout::Classic { bits } => {
                let delta = h.rotate_right(33) | 1;
                let mut pos = h;
                for _ in 0..self.probes {
                    let bit = pos % bits;
                    let set = self
                        .data
                        .get((bit / 8) as usize)
                        .is_some_and(|b| b & (1 << (bit % 8)) != 0);
                    if !set {
                        return false;
                    }
                    pos = pos.wrapping_add(delta);
                }
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter_of(keys: impl Iterator<Item = Vec<u8>>, bits_per_key: u32) -> Option<BloomFilter> {
        let mut b = FilterBuilder::new(bits_per_key);
        for k in keys {
            b.add(&k);
        }
        BloomFilter::decode(b.finish()).expect("valid filter")
    }

    #[test]
    fn hash_is_stable() {
        // Pinned values: the hash is part of the on-disk format.
        let pinned = [
            hash64(b""),
            hash64(b"a"),
            hash64(b"abcdefgh"),
            hash64(b"abcdefghi"),
        ];
        assert_eq!(pinned, PINNED);
        // Zero padding of the tail does not collide with an explicit zero byte (length mixed in).
        assert_ne!(hash64(b"a"), hash64(b"a\0"));
    }

    const PINNED: [u64; 4] = [
        0x3360_5fe8_2fa6_0161,
        0xcb56_0952_09cf_576a,
        0x58f1_f2a2_4e28_d348,
        0xc0ef_dd64_98d0_68db,
    ];

    #[test]
    fn added_keys_are_always_found() {
        for bits in [1, 5, 10, 20, 100] {
            let f =
                filter_of((0..2000u32).map(|i| i.to_le_bytes().to_vec()), bits).expect("filter");
            for i in 0..2000u32 {
                assert!(f.may_contain(&i.to_le_bytes()), "bits {bits} key {i}");
            }
        }
    }

    #[test]
    fn false_positive_rate_at_10_bits_is_low() {
        let f = filter_of(
            (0..100_000u32).map(|i| format!("user{i:08}").into_bytes()),
            10,
        )
        .expect("filter");
        let false_positives = (0..10_000u32)
            .filter(|i| f.may_contain(format!("absent{i:08}").as_bytes()))
            .count();
        let rate = false_positives as f64 / 10_000.0;
        println!("false-positive rate at 10 bits/key: {rate}");
        assert!(rate < 0.02, "false-positive rate {rate}");
    }

    #[test]
    fn no_filter_when_disabled_or_empty() {
        assert!(filter_of(std::iter::once(b"k".to_vec()), 0).is_none());
        assert!(filter_of(std::iter::empty(), 10).is_none());
    }

    #[test]
    fn one_key_example_is_one_line_and_seven_probes() {
        let mut b = FilterBuilder::new(10);
        b.add(b"k");
        let data = b.finish();
        assert_eq!(data.len(), 65);
        assert_eq!(data.last().copied(), Some(0x87));
        // Seven probes set at most seven bits, all in the one line.
        let set: u32 = data[..64].iter().map(|b| b.count_ones()).sum();
        assert!((1..=7).contains(&set), "{set} bits set");
        let mut classic = FilterBuilder::new(10);
        classic.add(b"k");
        let data = classic.finish_classic();
        assert_eq!((data.len(), data.last().copied()), (9, Some(7)));
    }

    #[test]
    fn classic_filters_written_before_the_blocked_layout_still_work() {
        let mut b = FilterBuilder::new(10);
        for i in 0..5000u32 {
            b.add(format!("user{i:08}").as_bytes());
        }
        let f = BloomFilter::decode(b.finish_classic())
            .expect("valid")
            .expect("filter");
        assert!((0..5000u32).all(|i| f.may_contain(format!("user{i:08}").as_bytes())));
        let fp = (0..5000u32)
            .filter(|i| f.may_contain(format!("absent{i:08}").as_bytes()))
            .count();
        assert!(fp < 100, "{fp} false positives of 5000");
    }

    #[test]
    fn malformed_filters_are_rejected() {
        assert!(BloomFilter::decode(vec![0xff; 8].into_iter().chain([0]).collect()).is_err());
        assert!(BloomFilter::decode(vec![0xff; 8].into_iter().chain([31]).collect()).is_err());
        assert!(BloomFilter::decode(vec![0xff, 3]).is_err());
        // Blocked layout: whole lines only, probe count in range.
        assert!(BloomFilter::decode(vec![0xff; 63].into_iter().chain([0x87]).collect()).is_err());
        assert!(BloomFilter::decode(vec![0xff; 64].into_iter().chain([0x80]).collect()).is_err());
        assert!(BloomFilter::decode(vec![0xff; 64].into_iter().chain([0x87]).collect()).is_ok());
    }
}
