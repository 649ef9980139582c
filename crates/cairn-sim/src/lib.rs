//! cairn-sim: deterministic simulation of a Cairn cluster.
//!
//! A cluster of real [`cairn_raft::RaftNode`]s in one process, on virtual time, with a seeded
//! network (delay, loss, duplication, reordering, asymmetric partitions), crashes that lose
//! unsynced writes, membership changes, and clients recording a history. Safety is checked
//! throughout and convergence at the end; see [`cluster`]. A seed replays exactly:
//! `CAIRN_SEED=n cargo test -p cairn-sim --test sim replay_seed -- --nocapture`.

pub mod cluster;
pub mod rng;

pub use cluster::{run_seed, Faults, Sim, SimConfig, SimReport};
