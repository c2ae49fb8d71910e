// SPDX-License-Identifier: GPL-2.0

//! Mapping a page of a PCI memory BAR into user space.
//!
//! Some devices take work from user space directly through a page of their MMIO space (a
//! "portal"): the process writes commands there, and the device tells processes apart by the
//! PASID of the write. [`Device::insert_bar_page`] puts one such page, uncached, in a PFN
//! mapping when user space touches it ([`crate::mm::pfnmap`]), as C drivers do with
//! `vmf_insert_pfn()` in their `fault` operation (vfio-pci's BARs, for one).

use super::{Bar, Device};
use crate::{
    bindings,
    device::Bound,
    mm::pfnmap::{FaultResult, PfnFault},
    page::{PAGE_SHIFT, PAGE_SIZE},
};

impl Device<Bound> {
    /// Inserts page `offset` (bytes, page aligned) of memory BAR `bar` at the faulting address
    /// of `vmf`, uncached (`pgprot_noncached()`); the fault handler returns the result.
    ///
    /// Returns [`FaultResult::SIGBUS`] for a BAR that does not exist or is not a memory BAR, or
    /// an offset that is not page aligned or beyond the BAR; else what `vmf_insert_pfn_prot()`
    /// returns ([`FaultResult::NOPAGE`] once the page is mapped).
    ///
    /// The page stays mapped until the driver takes it away
    /// ([`crate::fs::mapping::InodeMappings::unmap_all`]); a driver does so before it unbinds,
    /// as its fault handler, which may run only while the device is bound (this method takes a
    /// bound device), refuses the page from then on.
    pub fn insert_bar_page(&self, vmf: &PfnFault<'_>, bar: u32, offset: u64) -> FaultResult {
        if !Bar::index_is_valid(bar) {
            return FaultResult::SIGBUS;
        }
        // SAFETY: `bar` is a valid resource index of the valid `struct pci_dev` `self.as_raw()`.
        let flags = unsafe { (*self.as_raw()).resource[bar as usize].flags };
        if flags & bindings::IORESOURCE_MEM as usize == 0 {
            return FaultResult::SIGBUS;
        }
        let (Ok(len), Ok(start)) = (self.resource_len(bar), self.resource_start(bar)) else {
            return FaultResult::SIGBUS;
        };
        let page = PAGE_SIZE as u64;
        if offset % page != 0 || offset.checked_add(page).is_none_or(|end| end > len) {
            return FaultResult::SIGBUS;
        }
        let pfn = ((start + offset) >> PAGE_SHIFT) as usize;
        // SAFETY: `pgprot_noncached()` only changes the cache mode bits of a protection.
        let prot = unsafe { bindings::pgprot_noncached(vmf.page_prot()) };
        // The page-table entry outlives the binding only if the driver does not take its
        // mappings away before it unbinds (documented above).
        // SAFETY: `pfn` is one page of a memory BAR of this bound device: device memory, not
        // RAM, which stays this device's BAR until the driver unbinds.
        unsafe { vmf.insert_pfn(pfn, prot) }
    }
}
