//! The iterator interface every sorted source implements (memtable, SSTable, level, merge).
//!
//! Contract of [`InternalIterator`]:
//! - keys are internal keys (see [`crate::ikey`]) in [`crate::ikey::compare`] order;
//! - positioning calls (`seek*`, `next`, `prev`) return `Err` on an I/O or corruption failure,
//!   after which the iterator is not valid;
//! - `key`/`value` may be called only while `valid()`; the slices live until the next
//!   positioning call;
//! - `next` and `prev` may be called only while `valid()`.
use crate::error::Result;

pub trait InternalIterator: Send {
    fn valid(&self) -> bool;
    fn seek_to_first(&mut self) -> Result<()>;
    fn seek_to_last(&mut self) -> Result<()>;
    /// Positions at the first entry `>= target` (an internal key).
    fn seek(&mut self, target: &[u8]) -> Result<()>;
    /// Positions at the last entry `<= target` (an internal key).
    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()>;
    fn next(&mut self) -> Result<()>;
    fn prev(&mut self) -> Result<()>;
    fn key(&self) -> &[u8];
    fn value(&self) -> &[u8];
}
