//! CRC-32C (Castagnoli) checksums, hardware accelerated by the `crc32c` crate.
//!
//! A checksum stored in the same byte stream as the data it covers is *masked* (rotated and
//! offset, as LevelDB does), so that computing the CRC of a region that happens to contain
//! embedded CRCs does not degenerate. Every stored checksum in Cairn's formats is masked;
//! [`mask`] and [`unmask`] are exact inverses (tested below).

const MASK_DELTA: u32 = 0xa282_ead8;

/// CRC-32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// CRC-32C of the concatenation of `parts`, without copying them together.
pub fn crc32c_parts(parts: &[&[u8]]) -> u32 {
    parts
        .iter()
        .fold(0, |crc, part| crc32c::crc32c_append(crc, part))
}

/// The stored form of a checksum.
pub fn mask(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// Inverse of [`mask`].
pub fn unmask(masked: u32) -> u32 {
    masked.wrapping_sub(MASK_DELTA).rotate_left(15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_round_trips_and_changes_value() {
        for crc in [0u32, 1, 0xdead_beef, u32::MAX] {
            assert_eq!(unmask(mask(crc)), crc);
            assert_ne!(mask(crc), crc);
        }
    }

    #[test]
    fn crc_of_parts_equals_crc_of_whole() {
        let whole = b"hello, cairn";
        assert_eq!(crc32c_parts(&[&whole[..5], &whole[5..]]), crc32c(whole));
        // Known CRC-32C test vector.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }
}
