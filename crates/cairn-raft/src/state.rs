//! Persisted per-replica state: the hard state and the apply state.
//!
//! The hard state (term, vote, commit) is raft-rs's protobuf `HardState`, written in the synced
//! log batch. The apply state is written in the (unsynced) apply batch together with the data
//! it describes, so after a crash the two agree and the driver re-applies the log from
//! `applied_index + 1`.
//!
//! Apply state encoding, version 1 (varints are LEB128):
//! `0x01 | applied_index | applied_term | truncated_index | truncated_term |
//!  conf_state (len-prefixed protobuf eraftpb.ConfState) | descriptor ([`RangeDescriptor::encode`])`.
//! `truncated_*` is the last entry removed from the log (or the snapshot the log starts after);
//! the log holds `truncated_index + 1 ..= last`.

use cairn_codec::{varint, Decoder};
use protobuf::Message as _;
use raft::eraftpb::{ConfState, HardState};

use crate::error::{Error, Result};
use crate::types::RangeDescriptor;

const APPLY_STATE_VERSION: u8 = 1;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApplyState {
    pub applied_index: u64,
    pub applied_term: u64,
    pub truncated_index: u64,
    pub truncated_term: u64,
    pub conf_state: ConfState,
    pub desc: RangeDescriptor,
}

impl ApplyState {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![APPLY_STATE_VERSION];
        varint::put_u64(&mut out, self.applied_index);
        varint::put_u64(&mut out, self.applied_term);
        varint::put_u64(&mut out, self.truncated_index);
        varint::put_u64(&mut out, self.truncated_term);
        varint::put_len_prefixed(&mut out, &encode_pb(&self.conf_state));
        self.desc.encode(&mut out);
        out
    }

    pub fn decode(key: &[u8], bytes: &[u8]) -> Result<Self> {
        let corrupt = |detail: String| Error::Corrupt {
            key: hex(key),
            detail,
        };
        let mut d = Decoder::new(bytes);
        let version = d
            .u8("apply state version")
            .map_err(|e| corrupt(e.to_string()))?;
        if version != APPLY_STATE_VERSION {
            return Err(corrupt(format!("unknown apply state version {version}")));
        }
        let mut read = || -> std::result::Result<ApplyState, cairn_codec::DecodeError> {
            let applied_index = d.varint_u64()?;
            let applied_term = d.varint_u64()?;
            let truncated_index = d.varint_u64()?;
            let truncated_term = d.varint_u64()?;
            let cs = d.len_prefixed("conf state")?;
            let conf_state =
                ConfState::parse_from_bytes(cs).map_err(|_| cairn_codec::DecodeError {
                    offset: d.position(),
                    what: "conf state protobuf",
                    reason: cairn_codec::DecodeErrorReason::Malformed,
                })?;
            let desc = RangeDescriptor::decode(&mut d)?;
            Ok(ApplyState {
                applied_index,
                applied_term,
                truncated_index,
                truncated_term,
                conf_state,
                desc,
            })
        };
        read().map_err(|e| corrupt(e.to_string()))
    }
}

pub fn encode_pb<M: protobuf::Message>(m: &M) -> Vec<u8> {
    // Writing a protobuf message into a Vec cannot fail (no I/O); an error would mean a
    // message over 2 GiB, which the driver never builds. Fall back to empty rather than panic.
    m.write_to_bytes().unwrap_or_default()
}

pub fn decode_hard_state(key: &[u8], bytes: &[u8]) -> Result<HardState> {
    HardState::parse_from_bytes(bytes).map_err(|e| Error::Corrupt {
        key: hex(key),
        detail: format!("hard state: {e}"),
    })
}

pub fn decode_pb<M: protobuf::Message>(key: &[u8], what: &str, bytes: &[u8]) -> Result<M> {
    M::parse_from_bytes(bytes).map_err(|e| Error::Corrupt {
        key: hex(key),
        detail: format!("{what}: {e}"),
    })
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ReplicaDescriptor;

    #[test]
    fn apply_state_round_trips_and_rejects_damage() {
        let mut cs = ConfState::default();
        cs.voters = vec![1, 2, 3];
        cs.learners = vec![4];
        let s = ApplyState {
            applied_index: 77,
            applied_term: 5,
            truncated_index: 40,
            truncated_term: 4,
            conf_state: cs,
            desc: RangeDescriptor {
                range_id: 9,
                generation: 3,
                start_key: b"a".to_vec(),
                end_key: b"m".to_vec(),
                replicas: vec![
                    ReplicaDescriptor {
                        replica_id: 1,
                        node_id: 10,
                    },
                    ReplicaDescriptor {
                        replica_id: 4,
                        node_id: 13,
                    },
                ],
                next_replica_id: 5,
            },
        };
        let bytes = s.encode();
        assert_eq!(ApplyState::decode(b"k", &bytes).unwrap(), s);
        for cut in 0..bytes.len() {
            assert!(
                ApplyState::decode(b"k", &bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut bad = bytes.clone();
        bad[0] = 9;
        let err = ApplyState::decode(b"k", &bad).unwrap_err().to_string();
        assert!(err.contains("version 9"), "{err}");
    }
}
