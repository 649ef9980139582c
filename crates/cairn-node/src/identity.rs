//! What a node knows about itself and its cluster, kept in its engine (node-local, not
//! replicated): its node id, the gRPC address of every node it has heard of, and the cluster's
//! range layout as bootstrapped.
//!
//! Keys (in the node-local `0x01` space of `cairn_raft::keys`, under `'n'`):
//! - `0x01 'n' 'i'` → node id (u64 BE);
//! - `0x01 'n' 'a' node_id(u64 BE)` → gRPC address (UTF-8);
//! - `0x01 'n' 'l'` → layout: `count varint | count × RangeDescriptor::encode`.

use std::collections::BTreeMap;

use cairn_codec::{varint, Decoder};
use cairn_raft::engine::{Batch, Engine};
use cairn_raft::{Error, NodeId, RangeDescriptor, Result};

fn id_key() -> Vec<u8> {
    vec![0x01, b'n', b'i']
}

fn addr_key(node: NodeId) -> Vec<u8> {
    let mut k = vec![0x01, b'n', b'a'];
    k.extend_from_slice(&node.to_be_bytes());
    k
}

fn layout_key() -> Vec<u8> {
    vec![0x01, b'n', b'l']
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub node_id: Option<NodeId>,
    pub nodes: BTreeMap<NodeId, String>,
    pub layout: Vec<RangeDescriptor>,
}

fn corrupt(key: &[u8], detail: impl Into<String>) -> Error {
    Error::Corrupt {
        key: cairn_raft::state::hex(key),
        detail: detail.into(),
    }
}

impl Identity {
    pub fn load(engine: &dyn Engine) -> Result<Self> {
        let mut me = Identity::default();
        if let Some(v) = engine.get(&id_key())? {
            let b: [u8; 8] = v
                .as_slice()
                .try_into()
                .map_err(|_| corrupt(&id_key(), "node id is not 8 bytes"))?;
            me.node_id = Some(u64::from_be_bytes(b));
        }
        let start = vec![0x01, b'n', b'a'];
        let end = vec![0x01, b'n', b'b'];
        let mut bad = None;
        engine.scan(&start, &end, &mut |k, v| {
            let id = k.get(3..11).and_then(|b| <[u8; 8]>::try_from(b).ok());
            match (id, std::str::from_utf8(v)) {
                (Some(id), Ok(addr)) => {
                    me.nodes.insert(u64::from_be_bytes(id), addr.to_string());
                    true
                }
                _ => {
                    bad = Some(corrupt(k, "node address entry"));
                    false
                }
            }
        })?;
        if let Some(e) = bad {
            return Err(e);
        }
        if let Some(v) = engine.get(&layout_key())? {
            let mut d = Decoder::new(&v);
            let n = d
                .varint_len("range count")
                .map_err(|e| corrupt(&layout_key(), e.to_string()))?;
            for _ in 0..n {
                me.layout.push(
                    RangeDescriptor::decode(&mut d)
                        .map_err(|e| corrupt(&layout_key(), e.to_string()))?,
                );
            }
        }
        Ok(me)
    }

    /// Stages one node's address.
    pub fn stage_address(batch: &mut Batch, node: NodeId, addr: &str) {
        batch.put(addr_key(node), addr.as_bytes().to_vec());
    }

    /// Stages everything into `batch`.
    pub fn stage(&self, batch: &mut Batch) {
        if let Some(id) = self.node_id {
            batch.put(id_key(), id.to_be_bytes().to_vec());
        }
        for (id, addr) in &self.nodes {
            batch.put(addr_key(*id), addr.as_bytes().to_vec());
        }
        let mut l = Vec::new();
        varint::put_u64(&mut l, self.layout.len() as u64);
        for d in &self.layout {
            d.encode(&mut l);
        }
        batch.put(layout_key(), l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_raft::{MemEngine, ReplicaDescriptor};

    #[test]
    fn identity_round_trips() {
        let e = MemEngine::new();
        assert_eq!(Identity::load(&e).unwrap(), Identity::default());
        let me = Identity {
            node_id: Some(2),
            nodes: [
                (1, "127.0.0.1:1".to_string()),
                (2, "127.0.0.1:2".to_string()),
            ]
            .into(),
            layout: vec![RangeDescriptor {
                range_id: 1,
                generation: 1,
                start_key: vec![],
                end_key: b"u".to_vec(),
                replicas: vec![ReplicaDescriptor {
                    replica_id: 1,
                    node_id: 1,
                }],
                next_replica_id: 2,
            }],
        };
        let mut b = Batch::new();
        me.stage(&mut b);
        e.write(b, true).unwrap();
        assert_eq!(Identity::load(&e).unwrap(), me);
    }
}
