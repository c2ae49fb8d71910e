// SPDX-License-Identifier: GPL-2.0

//! Mappings of memory that has no `struct page` (device memory), filled in at page-fault time.
//!
//! A driver that lets user space map a page of device memory (a doorbell, a work-submission
//! portal) can put the page in the mapping while `mmap` runs (`remap_pfn_range()`), or give the
//! mapping a fault handler that inserts the page when user space first touches it
//! (`vm_operations_struct.fault` and `vmf_insert_pfn()`). The second way lets the driver decide,
//! at every fault and under its own lock, whether the page may still be mapped. That matters
//! when the driver must take mappings away while their files stay open
//! ([`crate::fs::mapping::InodeMappings::unmap_all`], `unmap_mapping_range()`): the kernel links
//! a new mapping to its file only after `mmap` returns (`__mmap_new_vma()` in `mm/vma.c` calls
//! `mmap_file()`, then `vma_link_file()`), so an unmapping that runs in between misses a page
//! that `mmap` itself inserted; a fault, by contrast, can only happen on a linked mapping.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)

use crate::{
    bindings,
    mm::virt::{flags, vm_flags_t, VmaNew},
    prelude::*,
    sync::{Arc, ArcBorrow},
};
use core::{marker::PhantomData, ptr::NonNull};

/// What a fault handler tells the kernel (`vm_fault_t`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FaultResult(bindings::vm_fault_t);

impl FaultResult {
    /// The access gets `SIGBUS` (`VM_FAULT_SIGBUS`).
    pub const SIGBUS: Self =
        Self(bindings::vm_fault_reason_VM_FAULT_SIGBUS as bindings::vm_fault_t);

    /// There was not enough memory to handle the fault (`VM_FAULT_OOM`).
    pub const OOM: Self = Self(bindings::vm_fault_reason_VM_FAULT_OOM as bindings::vm_fault_t);

    /// The page is in the page tables; the access is retried (`VM_FAULT_NOPAGE`, what
    /// `vmf_insert_pfn()` returns on success).
    pub const NOPAGE: Self =
        Self(bindings::vm_fault_reason_VM_FAULT_NOPAGE as bindings::vm_fault_t);

    /// The `vm_fault_t` value.
    pub fn as_raw(self) -> bindings::vm_fault_t {
        self.0
    }
}

/// The fault handler of a PFN mapping ([`VmaNew::set_pfn_fault_handler`]).
pub trait PfnFaultHandler: Send + Sync + 'static {
    /// Handles a fault of user space on the mapping, at [`PfnFault::address`], typically by
    /// inserting a page there ([`PfnFault::insert_pfn`] or a bus's safe wrapper of it) or by
    /// answering [`FaultResult::SIGBUS`].
    ///
    /// Called in process context with the `mmap_lock` or the VMA's own lock held for read:
    /// may sleep, must not take the `mmap_lock`. Faults on one mapping may run at once.
    fn fault(&self, vmf: &PfnFault<'_>) -> FaultResult;
}

/// A page fault on a PFN mapping that [`VmaNew::set_pfn_fault_handler`] set up, being handled.
///
/// # Invariants
///
/// For `'a`, `vmf` is the valid `struct vm_fault` of a fault being handled by the `fault`
/// operation of a VMA set up by [`VmaNew::set_pfn_fault_handler`], whose flags have
/// `VM_PFNMAP` and whose `vm_flags` did not have `VM_MIXEDMAP` nor make it a copy-on-write
/// mapping when it was set up.
pub struct PfnFault<'a> {
    vmf: NonNull<bindings::vm_fault>,
    _p: PhantomData<&'a bindings::vm_fault>,
}

impl PfnFault<'_> {
    fn vma(&self) -> *mut bindings::vm_area_struct {
        // SAFETY: By the type invariant `vmf` is valid, and so is the VMA it names.
        unsafe { (*self.vmf.as_ptr()).__bindgen_anon_1.vma }
    }

    /// The faulting address, rounded down to its page.
    pub fn address(&self) -> usize {
        // SAFETY: By the type invariant `vmf` is valid.
        unsafe { (*self.vmf.as_ptr()).__bindgen_anon_1.address as usize }
    }

    /// The offset of the faulting page in the file (`vm_pgoff` plus its page in the mapping),
    /// in pages.
    pub fn pgoff(&self) -> usize {
        // SAFETY: By the type invariant `vmf` is valid.
        unsafe { (*self.vmf.as_ptr()).__bindgen_anon_1.pgoff as usize }
    }

    /// The mapping's page protection (`vm_page_prot`), as set up by `mmap` and `mprotect()`.
    pub fn page_prot(&self) -> bindings::pgprot_t {
        // SAFETY: The VMA is valid while its fault is handled; its protection changes only
        // under the VMA's write lock, which excludes the lock the fault holds.
        unsafe { (*self.vma()).vm_page_prot }
    }

    /// Inserts page frame `pfn` at the faulting address with protection `prot`
    /// (`vmf_insert_pfn_prot()`); the handler returns the result.
    ///
    /// The VMA's flags are checked again first: if they were changed since the mapping was set
    /// up into ones `vmf_insert_pfn_prot()` does not take (`VM_MIXEDMAP` added by
    /// [`VmaNew::set_mixedmap`]), the fault gets [`FaultResult::SIGBUS`] instead of the kernel's
    /// `BUG()`.
    ///
    /// # Safety
    ///
    /// `pfn` must be a page frame of memory that the kernel does not manage as RAM (device
    /// memory), which user space may read and write with `prot` without breaking the kernel's
    /// memory safety, for as long as the page-table entry stays: the caller removes it (for
    /// example [`crate::fs::mapping::InodeMappings::unmap_all`]) before that memory goes away.
    pub unsafe fn insert_pfn(&self, pfn: usize, prot: bindings::pgprot_t) -> FaultResult {
        let vma = self.vma();
        // SAFETY: The VMA is valid while its fault is handled.
        let f: vm_flags_t = unsafe { (*vma).__bindgen_anon_2.vm_flags };
        if f & (flags::PFNMAP | flags::MIXEDMAP) != flags::PFNMAP || is_cow(f) {
            return FaultResult::SIGBUS;
        }
        // SAFETY: This runs in the VMA's `fault` operation; the flags are those
        // `vmf_insert_pfn_prot()` requires (checked above); the caller vouches for `pfn`.
        FaultResult(unsafe {
            bindings::vmf_insert_pfn_prot(vma, self.address() as _, pfn as _, prot)
        })
    }
}

/// Whether `vm_flags` make a copy-on-write mapping (`is_cow_mapping()`): private and possibly
/// writable.
fn is_cow(f: vm_flags_t) -> bool {
    f & (flags::SHARED | flags::MAYWRITE) == flags::MAYWRITE
}

/// The `vm_operations_struct` of PFN mappings handled by `T`.
///
/// # Invariants
///
/// The VMAs that use [`Self::VTABLE`] have in `vm_private_data` a pointer from
/// [`Arc::into_raw`] on an `Arc<T>`, whose reference each of them owns.
struct PfnMapVtable<T>(PhantomData<T>);

impl<T: PfnFaultHandler> PfnMapVtable<T> {
    const VTABLE: bindings::vm_operations_struct = bindings::vm_operations_struct {
        open: Some(Self::open),
        close: Some(Self::close),
        fault: Some(Self::fault),
        ..pin_init::zeroed()
    };

    const fn build() -> &'static bindings::vm_operations_struct {
        &Self::VTABLE
    }

    /// # Safety
    ///
    /// `vma` is a new VMA copied from one using [`Self::VTABLE`] (split, moved or forked),
    /// with its `vm_private_data`.
    unsafe extern "C" fn open(vma: *mut bindings::vm_area_struct) {
        // SAFETY: The copy's `vm_private_data` is its original's, from `Arc::into_raw` (type
        // invariant); the original holds its reference while this runs.
        let h = unsafe { ArcBorrow::<T>::from_raw((*vma).vm_private_data.cast()) };
        // The copy's own reference, given up by `close`: the invariant holds for it too.
        core::mem::forget(Arc::<T>::from(h));
    }

    /// # Safety
    ///
    /// `vma` uses [`Self::VTABLE`] and is being removed.
    unsafe extern "C" fn close(vma: *mut bindings::vm_area_struct) {
        // SAFETY: By the type invariant the VMA owns a reference from `Arc::into_raw`, given
        // up here once (the VMA is removed after this).
        drop(unsafe { Arc::<T>::from_raw((*vma).vm_private_data.cast()) });
    }

    /// # Safety
    ///
    /// `vmf` is a fault being handled on a VMA that uses [`Self::VTABLE`].
    unsafe extern "C" fn fault(vmf: *mut bindings::vm_fault) -> bindings::vm_fault_t {
        // SAFETY: `vmf` is valid for this call, and so is its VMA.
        let data = unsafe { (*(*vmf).__bindgen_anon_1.vma).vm_private_data };
        // SAFETY: By the type invariant `data` is from `Arc::into_raw` on an `Arc<T>` that the
        // VMA holds while its fault is handled.
        let h = unsafe { ArcBorrow::<T>::from_raw(data.cast()) };
        // INVARIANT: The VMA uses `VTABLE`, set only by `set_pfn_fault_handler` on a mapping it
        // checked; `vmf` is valid for this call.
        let f = PfnFault {
            // SAFETY: The kernel passes a valid, non-null `vmf`.
            vmf: unsafe { NonNull::new_unchecked(vmf) },
            _p: PhantomData,
        };
        h.fault(&f).as_raw()
    }
}

impl VmaNew {
    /// Makes this mapping a PFN mapping whose pages `handler` inserts when user space touches
    /// them ([`PfnFaultHandler::fault`]): sets `VM_PFNMAP`, `VM_IO` (the pages are not looked
    /// at by the rest of the kernel: no `get_user_pages()`, no core dump, `VM_DONTCOPY` stays),
    /// `VM_DONTEXPAND` and `VM_DONTDUMP`, and the mapping's operations. Each VMA the mapping
    /// becomes (split, moved by `mremap()`, copied by `fork()` unless `VM_DONTCOPY`) holds a
    /// reference on `handler`; the last one gone drops it.
    ///
    /// Call it last in `mmap`, once nothing else can fail: the kernel frees the VMA of a
    /// failed `mmap` without closing it, and `handler`'s reference would be leaked.
    ///
    /// Returns `EINVAL` for a copy-on-write mapping (`MAP_PRIVATE` of a file that may be
    /// written, which `vmf_insert_pfn()` does not take: the caller may refuse it or clear
    /// `VM_MAYWRITE` first) or a mapping with `VM_MIXEDMAP`; `EBUSY` if the mapping already has
    /// private data (this was called on it before).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{pfnmap::{FaultResult, PfnFault, PfnFaultHandler}, virt::VmaNew};
    /// use kernel::{prelude::*, sync::Arc};
    ///
    /// /// A mapping whose accesses all get `SIGBUS`.
    /// struct Nothing;
    ///
    /// impl PfnFaultHandler for Nothing {
    ///     fn fault(&self, _vmf: &PfnFault<'_>) -> FaultResult {
    ///         FaultResult::SIGBUS
    ///     }
    /// }
    ///
    /// fn mmap(vma: &VmaNew) -> Result {
    ///     vma.set_pfn_fault_handler(Arc::new(Nothing, GFP_KERNEL)?)
    /// }
    /// ```
    pub fn set_pfn_fault_handler<T: PfnFaultHandler>(&self, handler: Arc<T>) -> Result {
        let raw = self.as_ptr();
        let f = self.flags();
        if is_cow(f) || f & flags::MIXEDMAP != 0 {
            return Err(EINVAL);
        }
        // SAFETY: `raw` is the VMA being set up by this `mmap` (type invariant of `VmaNew`).
        if !unsafe { (*raw).vm_private_data }.is_null() {
            return Err(EBUSY);
        }
        // `VM_PFNMAP` without `VM_MIXEDMAP` on a mapping that is not copy-on-write (checked
        // above) is what `vmf_insert_pfn()` takes; the other flags may always be set.
        let set = flags::PFNMAP | flags::IO | flags::DONTEXPAND | flags::DONTDUMP;
        // INVARIANT: the VMA gets `PfnMapVtable::<T>::VTABLE` with a pointer from
        // `Arc::into_raw`, whose reference it owns.
        let data = Arc::into_raw(handler).cast_mut().cast();
        // SAFETY: The VMA is in its initial setup, not shared yet, so its fields may be
        // written (as `VmaNew`'s own methods do); the values are explained above.
        unsafe {
            (*raw).__bindgen_anon_2.vm_flags = f | set;
            (*raw).vm_private_data = data;
            (*raw).vm_ops = PfnMapVtable::<T>::build();
        }
        Ok(())
    }
}
