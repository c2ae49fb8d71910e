// SPDX-License-Identifier: GPL-2.0

//! How the model reaches memory.
//!
//! * **SVA**: a descriptor's addresses are virtual addresses of the process bound to its PASID.
//!   The model keeps its own PASID → mm table ([`PasidTable`], filled when the driver binds a
//!   process) and accesses that mm from its work thread with `kthread_use_mm()`.
//! * **Page faults**: with PRS enabled, a non-present page is faulted in, as the IOMMU's
//!   page-request handling would do; with PRS disabled the access fails at the first byte
//!   that is not present ([`Access`]). Accesses go page by page, so a fault reports exactly how
//!   many bytes were done before it and where it hit. A page is never written unless present.
//! * **DMA buffers** of the driver (the event log) are [`DmaRegion`]s registered at a bus
//!   address; the model writes them as a device writes coherent memory.
//!
//! Not modelled: IOMMU page tables, ATS and the device TLB, access timing.

use kernel::{
    mm::Mm,
    new_spinlock,
    page::PAGE_SIZE,
    prelude::*,
    sync::{aref::ARef, Arc, SpinLock},
    uaccess::{nofault, UserPtr, UserSlice},
};

/// A PASID is 20 bits wide.
pub(crate) const PASID_MAX: u32 = (1 << 20) - 1;

/// The model's PASID → address space table.
///
/// PASIDs are handed out lowest-free-first, as the IOMMU core does (`iommu_sva_bind_device()`
/// takes an mm's PASID from `iommu_alloc_global_pasid()`, an `ida_alloc_range()` from 1): a
/// PASID given up is the very next one given out, so a driver that lets a released PASID's
/// work reach the next holder shows it at once. (Linux frees an mm's PASID when the mm itself
/// goes, which can only be later than the last unbind the model frees it at.)
pub(crate) struct PasidTable {
    /// `(pasid, mm, binds)`, sorted by PASID.
    entries: KVec<(u32, ARef<Mm>, u32)>,
}

impl PasidTable {
    /// An empty table.
    pub(crate) fn new() -> Self {
        Self {
            entries: KVec::new(),
        }
    }

    /// Binds `mm`: returns its PASID, the lowest free one unless `mm` is bound already (each
    /// bind then needs its own [`Self::unbind`]). PASID 0 is never given out.
    ///
    /// Returns `ENOSPC` when every PASID is taken, `ENOMEM` when the table cannot grow.
    pub(crate) fn bind(&mut self, mm: &Mm) -> Result<u32> {
        for e in self.entries.iter_mut() {
            if core::ptr::eq(&*e.1, mm) {
                e.2 += 1;
                return Ok(e.0);
            }
        }
        // The first gap in the sorted PASIDs 1, 2, 3, ...
        let at = self
            .entries
            .iter()
            .enumerate()
            .position(|(i, e)| e.0 != i as u32 + 1)
            .unwrap_or(self.entries.len());
        let pasid = at as u32 + 1;
        if pasid > PASID_MAX {
            return Err(ENOSPC);
        }
        self.entries.reserve(1, GFP_KERNEL)?;
        self.entries
            .insert_within_capacity(at, (pasid, ARef::from(mm), 1))
            .map_err(|_| EINVAL)?;
        Ok(pasid)
    }

    /// Drops one bind of `pasid`. Returns `EINVAL` if it is not bound.
    pub(crate) fn unbind(&mut self, pasid: u32) -> Result {
        let i = self
            .entries
            .iter()
            .position(|e| e.0 == pasid)
            .ok_or(EINVAL)?;
        self.entries[i].2 -= 1;
        if self.entries[i].2 == 0 {
            self.entries.retain(|e| e.0 != pasid);
        }
        Ok(())
    }

    /// The address space bound to `pasid`.
    pub(crate) fn lookup(&self, pasid: u32) -> Option<ARef<Mm>> {
        self.entries
            .iter()
            .find(|e| e.0 == pasid)
            .map(|e| e.1.clone())
    }

    /// Number of bound PASIDs.
    #[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// How the engine treats a page that is not present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// PRS enabled: the page is faulted in (a page request the IOMMU answers).
    FaultIn,
    /// PRS disabled: the access fails.
    NoFault,
}

/// A failed access: the address of the first byte that could not be accessed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fault {
    /// Faulting address.
    pub(crate) addr: u64,
    /// The access was a write.
    pub(crate) write: bool,
}

/// Bytes from `addr` to the end of its page, at most `len`.
fn chunk(addr: u64, len: usize) -> usize {
    let in_page = PAGE_SIZE - (addr as usize & (PAGE_SIZE - 1));
    in_page.min(len)
}

/// Copies user memory at `addr` of the current address space into `out`, page by page.
/// Must run inside `MmWithUser::kthread_use`. On a fault, `out` holds the bytes before it.
pub(crate) fn read(addr: u64, out: &mut [u8], access: Access) -> Result<(), Fault> {
    let mut done = 0;
    while done < out.len() {
        let a = addr.wrapping_add(done as u64);
        let n = chunk(a, out.len() - done);
        let dst = &mut out[done..done + n];
        let ok = match access {
            Access::FaultIn => UserSlice::new(UserPtr::from_addr(a as usize), n)
                .reader()
                .read_slice(dst)
                .is_ok(),
            Access::NoFault => nofault::read(UserPtr::from_addr(a as usize), dst).is_ok(),
        };
        if !ok {
            return Err(Fault {
                addr: a,
                write: false,
            });
        }
        done += n;
    }
    Ok(())
}

/// Copies `data` to user memory at `addr` of the current address space, page by page. Must
/// run inside `MmWithUser::kthread_use`. On a fault, the pages before it were written and the
/// faulting page was not.
pub(crate) fn write(addr: u64, data: &[u8], access: Access) -> Result<(), Fault> {
    let mut done = 0;
    while done < data.len() {
        let a = addr.wrapping_add(done as u64);
        let n = chunk(a, data.len() - done);
        let src = &data[done..done + n];
        let ok = match access {
            Access::FaultIn => UserSlice::new(UserPtr::from_addr(a as usize), n)
                .writer()
                .write_slice(src)
                .is_ok(),
            Access::NoFault => nofault::write(UserPtr::from_addr(a as usize), src).is_ok(),
        };
        if !ok {
            return Err(Fault {
                addr: a,
                write: true,
            });
        }
        done += n;
    }
    Ok(())
}

/// A driver buffer the model can write at a bus address: the stand-in for coherent DMA
/// memory. Reads and writes are whole-range copies under a lock.
#[pin_data]
pub(crate) struct DmaRegion {
    #[pin]
    mem: SpinLock<KVVec<u8>>,
    len: usize,
}

impl DmaRegion {
    /// A zeroed region of `len` bytes.
    pub(crate) fn new(len: usize) -> Result<Arc<Self>> {
        let mut v = KVVec::with_capacity(len, GFP_KERNEL)?;
        v.resize(len, 0, GFP_KERNEL)?;
        Arc::pin_init(
            try_pin_init!(Self {
                mem <- new_spinlock!(v, "ridxd_sim::dma"),
                len,
            }),
            GFP_KERNEL,
        )
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Copies `out.len()` bytes at `off` into `out`. Returns `EINVAL` when out of range.
    pub(crate) fn read(&self, off: usize, out: &mut [u8]) -> Result {
        let end = off.checked_add(out.len()).ok_or(EINVAL)?;
        let mem = self.mem.lock();
        out.copy_from_slice(mem.get(off..end).ok_or(EINVAL)?);
        Ok(())
    }

    /// Copies `data` to `off`. Returns `EINVAL` when out of range.
    pub(crate) fn write(&self, off: usize, data: &[u8]) -> Result {
        let end = off.checked_add(data.len()).ok_or(EINVAL)?;
        let mut mem = self.mem.lock();
        mem.get_mut(off..end).ok_or(EINVAL)?.copy_from_slice(data);
        Ok(())
    }
}
