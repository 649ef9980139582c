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

use std::cmp::Ordering;
use std::sync::Arc;

use crate::file_set::LiveFile;
use crate::ikey;

/// Merges sorted children into one sorted stream.
///
/// Children are ordered newest source first; on equal keys the lower index comes first.
/// A merging iterator moves in one direction at a time: `seek`/`seek_to_first` start a forward
/// pass (then only `next`), `seek_for_prev`/`seek_to_last` a backward pass (then only `prev`).
/// The engine's user-facing iterator re-seeks when the caller changes direction, so children
/// never need to be re-aligned here (asserted in `next`/`prev`).
///
/// The current child is found by a linear scan: sources are few (memtables, L0 files, one per
/// level), so a scan beats a heap's bookkeeping at these sizes.
pub struct MergingIter {
    children: Vec<Box<dyn InternalIterator>>,
    current: Option<usize>,
    forward: bool,
}

impl MergingIter {
    pub fn new(children: Vec<Box<dyn InternalIterator>>) -> MergingIter {
        MergingIter {
            children,
            current: None,
            forward: true,
        }
    }

    fn pick(&mut self) {
        let mut best: Option<usize> = None;
        for (i, c) in self.children.iter().enumerate() {
            if !c.valid() {
                continue;
            }
            best = match best.and_then(|b| self.children.get(b).map(|bc| (b, bc))) {
                None => Some(i),
                Some((b, bc)) => {
                    let ord = ikey::compare(c.key(), bc.key());
                    let better = if self.forward {
                        ord == Ordering::Less
                    } else {
                        ord == Ordering::Greater
                    };
                    if better {
                        Some(i)
                    } else {
                        Some(b)
                    }
                }
            };
        }
        self.current = best;
    }

    fn cur(&self) -> Option<&dyn InternalIterator> {
        self.current
            .and_then(|i| self.children.get(i))
            .map(|c| c.as_ref())
    }
}

impl InternalIterator for MergingIter {
    fn valid(&self) -> bool {
        self.cur().is_some_and(|c| c.valid())
    }

    fn seek_to_first(&mut self) -> Result<()> {
        self.forward = true;
        for c in &mut self.children {
            c.seek_to_first()?;
        }
        self.pick();
        Ok(())
    }

    fn seek_to_last(&mut self) -> Result<()> {
        self.forward = false;
        for c in &mut self.children {
            c.seek_to_last()?;
        }
        self.pick();
        Ok(())
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        self.forward = true;
        for c in &mut self.children {
            c.seek(target)?;
        }
        self.pick();
        Ok(())
    }

    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        self.forward = false;
        for c in &mut self.children {
            c.seek_for_prev(target)?;
        }
        self.pick();
        Ok(())
    }

    fn next(&mut self) -> Result<()> {
        assert!(
            self.forward,
            "merging iterator: next() during a backward pass"
        );
        if let Some(c) = self.current.and_then(|i| self.children.get_mut(i)) {
            c.next()?;
        }
        self.pick();
        Ok(())
    }

    fn prev(&mut self) -> Result<()> {
        assert!(
            !self.forward,
            "merging iterator: prev() during a forward pass"
        );
        if let Some(c) = self.current.and_then(|i| self.children.get_mut(i)) {
            c.prev()?;
        }
        self.pick();
        Ok(())
    }

    fn key(&self) -> &[u8] {
        self.cur().map_or(&[], |c| c.key())
    }

    fn value(&self) -> &[u8] {
        self.cur().map_or(&[], |c| c.value())
    }
}

/// Iterates the sorted, non-overlapping files of one level >= 1 as one sequence, opening each
/// table only when the iteration reaches it.
pub struct LevelIter {
    files: Vec<Arc<LiveFile>>,
    index: usize,
    current: Option<Box<dyn InternalIterator>>,
}

impl LevelIter {
    pub fn new(files: Vec<Arc<LiveFile>>) -> LevelIter {
        LevelIter {
            files,
            index: 0,
            current: None,
        }
    }

    fn open(&mut self, index: usize) -> Result<bool> {
        self.index = index;
        match self.files.get(index) {
            Some(f) => {
                let table = f.table()?;
                self.current = Some(Box::new(table.iter()));
                Ok(true)
            }
            None => {
                self.current = None;
                Ok(false)
            }
        }
    }

    fn cur_valid(&self) -> bool {
        self.current.as_ref().is_some_and(|c| c.valid())
    }

    /// After the current file is exhausted moving forward, continue with the next files.
    fn skip_forward(&mut self) -> Result<()> {
        while self.current.is_some() && !self.cur_valid() {
            if self.open(self.index + 1)? {
                if let Some(c) = self.current.as_mut() {
                    c.seek_to_first()?;
                }
            }
        }
        Ok(())
    }

    fn skip_backward(&mut self) -> Result<()> {
        while self.current.is_some() && !self.cur_valid() {
            if self.index == 0 {
                self.current = None;
                break;
            }
            if self.open(self.index - 1)? {
                if let Some(c) = self.current.as_mut() {
                    c.seek_to_last()?;
                }
            }
        }
        Ok(())
    }
}

impl InternalIterator for LevelIter {
    fn valid(&self) -> bool {
        self.cur_valid()
    }

    fn seek_to_first(&mut self) -> Result<()> {
        if self.open(0)? {
            if let Some(c) = self.current.as_mut() {
                c.seek_to_first()?;
            }
        }
        self.skip_forward()
    }

    fn seek_to_last(&mut self) -> Result<()> {
        if self.files.is_empty() {
            self.current = None;
            return Ok(());
        }
        if self.open(self.files.len() - 1)? {
            if let Some(c) = self.current.as_mut() {
                c.seek_to_last()?;
            }
        }
        self.skip_backward()
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        let idx = self
            .files
            .partition_point(|f| ikey::compare(&f.meta.largest, target) == Ordering::Less);
        if self.open(idx)? {
            if let Some(c) = self.current.as_mut() {
                c.seek(target)?;
            }
        }
        self.skip_forward()
    }

    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        // The last file whose smallest key is <= target.
        let idx = self
            .files
            .partition_point(|f| ikey::compare(&f.meta.smallest, target) != Ordering::Greater);
        let Some(idx) = idx.checked_sub(1) else {
            self.current = None;
            return Ok(());
        };
        if self.open(idx)? {
            if let Some(c) = self.current.as_mut() {
                c.seek_for_prev(target)?;
            }
        }
        self.skip_backward()
    }

    fn next(&mut self) -> Result<()> {
        if let Some(c) = self.current.as_mut() {
            c.next()?;
        }
        self.skip_forward()
    }

    fn prev(&mut self) -> Result<()> {
        if let Some(c) = self.current.as_mut() {
            c.prev()?;
        }
        self.skip_backward()
    }

    fn key(&self) -> &[u8] {
        self.current.as_ref().map_or(&[], |c| c.key())
    }

    fn value(&self) -> &[u8] {
        self.current.as_ref().map_or(&[], |c| c.value())
    }
}
