// SPDX-License-Identifier: GPL-2.0

//! Taking away the memory mappings of a file.
//!
//! A driver that lets user space map device memory (a doorbell, a work-submission portal)
//! through `mmap` of one of its files may have to take those mappings away while the files
//! stay open: the device was reconfigured, reset or unbound. C drivers call
//! `unmap_mapping_range()` on the `address_space` the mappings go through; a later access
//! faults, and a mapping without a `fault` handler (one set up with `remap_pfn_range()`) then
//! gets `SIGBUS`.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)

use crate::{bindings, fs::File, prelude::*};
use core::ptr::NonNull;

/// The mappings of every open file of one inode: all of them go through the inode's
/// `i_mapping`, which this keeps valid by holding a reference on the inode (`ihold()`), after
/// the file it came from is closed too.
///
/// # Invariants
///
/// `inode` points to a valid `struct inode` on which this object holds a reference.
pub struct InodeMappings {
    inode: NonNull<bindings::inode>,
}

// SAFETY: A reference on an inode may be given up on any thread, and `unmap_mapping_range()`
// may be called on any thread in process context.
unsafe impl Send for InodeMappings {}

// SAFETY: The only method through a shared reference, `unmap_all`, may run on several threads
// at once (`unmap_mapping_range()` takes the mapping's own locks).
unsafe impl Sync for InodeMappings {}

impl InodeMappings {
    /// The mappings of `file`'s inode.
    ///
    /// Returns `EINVAL` when `file` maps through another `address_space` than its inode's
    /// (its driver set `f_mapping` to one of its own): unmapping the inode's would not reach
    /// its mappings.
    pub fn of(file: &File) -> Result<Self> {
        let f = file.as_ptr();
        // SAFETY: `f` is a valid file as long as `file` is; an open file holds its inode, so
        // `f_inode` is valid and so is its `i_mapping`.
        let (inode, same) = unsafe {
            let inode = (*f).f_inode;
            (
                inode,
                !inode.is_null() && (*inode).i_mapping == (*f).f_mapping,
            )
        };
        let inode = NonNull::new(inode).ok_or(EINVAL)?;
        if !same {
            return Err(EINVAL);
        }
        // SAFETY: `inode` is valid (the open file holds it); `ihold()` takes a reference on it,
        // which `Drop` gives up: the invariant holds.
        unsafe { bindings::ihold(inode.as_ptr()) };
        Ok(Self { inode })
    }

    /// Removes every page-table entry of every mapping, in every process, of the inode's open
    /// files (`unmap_mapping_range(mapping, 0, 0, 1)`, private COW pages included): a later
    /// access faults. May sleep.
    pub fn unmap_all(&self) {
        // SAFETY: By the type invariant `inode` is valid, and so is its `i_mapping`.
        unsafe { bindings::unmap_mapping_range((*self.inode.as_ptr()).i_mapping, 0, 0, 1) };
    }
}

impl Drop for InodeMappings {
    fn drop(&mut self) {
        // SAFETY: By the type invariant this object holds a reference on `inode`, given up
        // here once.
        unsafe { bindings::iput(self.inode.as_ptr()) };
    }
}
