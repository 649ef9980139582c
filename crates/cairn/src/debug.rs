//! `cairn debug ...`: offline inspection of a storage directory (tables, MANIFEST, whole-
//! database checks). Each subcommand reads files directly and never opens the database for
//! writing, so it is safe on a copy taken from a broken node.

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// Print the blocks, index and properties of one SSTable file.
    Sst {
        /// The `.sst` file.
        file: PathBuf,
    },
    /// Print the version edits of a database directory's MANIFEST.
    Manifest {
        /// The database directory.
        dir: PathBuf,
    },
    /// Verify checksums, key order and level invariants of a database directory.
    Check {
        /// The database directory.
        dir: PathBuf,
    },
}

impl DebugCommand {
    fn name(&self) -> &'static str {
        match self {
            DebugCommand::Sst { .. } => "debug sst",
            DebugCommand::Manifest { .. } => "debug manifest",
            DebugCommand::Check { .. } => "debug check",
        }
    }
}

pub fn run(command: &DebugCommand) -> anyhow::Result<()> {
    anyhow::bail!("{}: not supported yet", command.name())
}
