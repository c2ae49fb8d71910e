// SPDX-License-Identifier: GPL-2.0

//! Mapping a page of a PCI memory BAR into user space.
//!
//! Some devices take work from user space directly through a page of their MMIO space (a
//! "portal"): the process writes commands there, and the device tells processes apart by the
//! PASID of the write. [`Device::map_bar_page`] maps one such page into a VMA being set up by
//! `mmap`, uncached, as C drivers do with `io_remap_pfn_range()`.

use super::{Bar, Device};
use crate::{
    bindings,
    device::Bound,
    error::to_result,
    mm::virt::VmaNew,
    page::{PAGE_SHIFT, PAGE_SIZE},
    prelude::*,
};

impl Device<Bound> {
    /// Maps page `offset` (bytes, page aligned) of memory BAR `bar` into `vma`, which must be
    /// exactly one page: uncached (`pgprot_noncached()`), not inherited by child processes
    /// (`VM_DONTCOPY`), with `io_remap_pfn_range()`.
    ///
    /// Returns `EINVAL` for a BAR that does not exist or is not a memory BAR, an offset that is
    /// not page aligned or beyond the BAR, or a VMA that is not one page; the errors of
    /// `io_remap_pfn_range()`.
    pub fn map_bar_page(&self, vma: &VmaNew, bar: u32, offset: u64) -> Result {
        if !Bar::index_is_valid(bar) {
            return Err(EINVAL);
        }
        // SAFETY: `bar` is a valid resource index of the valid `struct pci_dev` `self.as_raw()`.
        let flags = unsafe { (*self.as_raw()).resource[bar as usize].flags };
        if flags & bindings::IORESOURCE_MEM as usize == 0 {
            return Err(EINVAL);
        }
        let len = self.resource_len(bar)?;
        let page = PAGE_SIZE as u64;
        if offset % page != 0 || offset.checked_add(page).is_none_or(|end| end > len) {
            return Err(EINVAL);
        }
        if vma.end() - vma.start() != PAGE_SIZE {
            return Err(EINVAL);
        }
        let phys = self.resource_start(bar)? + offset;
        vma.set_dontcopy();
        let raw = vma.as_ptr();
        // SAFETY: `raw` is the VMA being set up by this `mmap`, which may change its page
        // protection; `phys` is one page inside a memory BAR of this bound device, so the
        // mapping gives user space that device page and nothing else.
        unsafe {
            (*raw).vm_page_prot = bindings::pgprot_noncached((*raw).vm_page_prot);
            to_result(bindings::io_remap_pfn_range(
                raw,
                vma.start() as _,
                (phys >> PAGE_SHIFT) as _,
                PAGE_SIZE as _,
                (*raw).vm_page_prot,
            ))
        }
    }
}
