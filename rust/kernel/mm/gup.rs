// SPDX-License-Identifier: GPL-2.0

//! Faulting pages of an address space in without waiting (`get_user_pages_remote()` with
//! `FOLL_NOWAIT`).
//!
//! A page fault may sleep on things user space controls: a `userfaultfd` nobody answers, a
//! FUSE daemon that never replies, a page lock held across slow I/O. Code that writes into a
//! process's memory on behalf of a device must not wait on those. With `FOLL_NOWAIT` the fault
//! handler is asked (`FAULT_FLAG_RETRY_NOWAIT`) to start what it needs (I/O, a userfault
//! message) and return at once instead of sleeping for it; the mmap lock is never dropped.
//! [`MmapReadGuard::fault_in_nowait`] is that call for a range of user addresses, taking no page
//! references (`pages == NULL`); the caller then retries its non-faulting access
//! ([`crate::uaccess::nofault`]).
//!
//! `FOLL_NOWAIT` is a request, not a promise: a filesystem's `read_folio()` or readahead may
//! wait inside the fault handler whatever its flags. A FUSE file whose daemon did not ask for
//! `FUSE_ASYNC_READ` is read synchronously (`fuse_send_readpages()` calls
//! `fuse_simple_request()` and waits for the daemon's reply), so a fault on a page of it that
//! is not in the page cache waits for the daemon, `FAULT_FLAG_RETRY_NOWAIT` or not. Only
//! anonymous, shmem and hugetlb memory are faulted in here: their faults wait on nothing user
//! space controls but a `userfaultfd`, which honours `FAULT_FLAG_RETRY_NOWAIT`
//! (`handle_userfault()`). Pages of other file mappings are only written where they are present.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)

use super::{
    virt::{flags, VmaRef},
    MmapReadGuard,
};
use crate::{bindings, page::PAGE_SIZE, prelude::*};

/// What [`MmapReadGuard::fault_in_nowait`] achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultIn {
    /// Every page of the range is now present with the access asked for.
    Done,
    /// A page could not be faulted in without waiting (I/O started, a userfault pending, a
    /// lock busy), or it is in a file mapping other than shmem or hugetlbfs, whose fault may
    /// wait on the filesystem (see the module's documentation) and is not tried; a later
    /// retry may succeed (the page may have become present meanwhile).
    WouldWait,
}

impl MmapReadGuard<'_> {
    /// Faults the pages of `[addr, addr + len)` in, writable if `write`, without sleeping on the
    /// fault (`FOLL_NOWAIT`, no page references taken).
    ///
    /// Returns [`FaultIn::Done`] when every page is present, [`FaultIn::WouldWait`] when one
    /// needs something the fault handler may not wait for, `EFAULT` for a range that cannot be
    /// accessed that way (no mapping, `PROT_NONE`, read-only for a write, past the end of a
    /// file, a hardware-poisoned page), `ENOMEM` when memory for the fault could not be had,
    /// and `EINVAL` for an empty or wrapping range. May allocate memory; never waits on the
    /// process, another task or I/O: pages of file mappings other than shmem and hugetlbfs are
    /// not faulted in ([`FaultIn::WouldWait`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::kunit::user::{prot, vm_mmap_anon};
    /// use kernel::mm::gup::FaultIn;
    /// use kernel::uaccess::nofault;
    ///
    /// let rw = vm_mmap_anon(8192, prot::READ | prot::WRITE)?;
    /// let ro = vm_mmap_anon(4096, prot::READ)?;
    /// let addr = rw.as_const_ptr() as usize;
    /// let task = kernel::current!();
    /// let mm = task.mm().ok_or(EINVAL)?;
    /// // Never touched: not present, so a non-faulting write fails ...
    /// assert_eq!(nofault::write(rw, &[1]), Err(EFAULT));
    /// // ... until both pages are faulted in, writable.
    /// assert_eq!(mm.mmap_read_lock().fault_in_nowait(addr + 4000, 200, true), Ok(FaultIn::Done));
    /// nofault::write(rw, &[1])?;
    /// nofault::write(rw.wrapping_byte_add(8191), &[1])?;
    /// // A read-only mapping cannot be faulted in for writing.
    /// let ro = ro.as_const_ptr() as usize;
    /// assert_eq!(mm.mmap_read_lock().fault_in_nowait(ro, 32, true), Err(EFAULT));
    /// assert_eq!(mm.mmap_read_lock().fault_in_nowait(ro, 0, true), Err(EINVAL));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn fault_in_nowait(&self, addr: usize, len: usize, write: bool) -> Result<FaultIn> {
        let end = addr.checked_add(len).filter(|_| len > 0).ok_or(EINVAL)?;
        let start = addr & !(PAGE_SIZE - 1);
        let nr = (end - start).div_ceil(PAGE_SIZE);
        let mut at = start;
        while at < end {
            let vma = self.vma_lookup(at).ok_or(EFAULT)?;
            if vma.flags() & (flags::IO | flags::PFNMAP) != 0 {
                return Err(EFAULT);
            }
            if !nowait_honoured(vma) {
                return Ok(FaultIn::WouldWait);
            }
            at = vma.end();
        }
        let mut foll = bindings::FOLL_NOWAIT;
        if write {
            foll |= bindings::FOLL_WRITE;
        }
        // SAFETY: `MmapReadGuard` holds `self.mm`'s mmap lock for read, as required; NULL `pages`
        // takes no page references (none to release); NULL `locked` keeps the lock held.
        let ret = unsafe {
            bindings::get_user_pages_remote(
                self.mm.as_raw(),
                start,
                nr,
                foll as _,
                core::ptr::null_mut(),
                core::ptr::null_mut(),
            )
        };
        if ret < 0 {
            return Err(Error::from_errno(ret as i32));
        }
        Ok(if ret as usize >= nr {
            FaultIn::Done
        } else {
            FaultIn::WouldWait
        })
    }
}

/// Whether a fault in `vma` with `FAULT_FLAG_RETRY_NOWAIT` waits on nothing user space controls:
/// anonymous memory (no `vm_ops`, as `vma_is_anonymous()`), shmem (`vma_is_shmem()`) and
/// hugetlb (`VM_HUGETLB`), whose userfaults honour the flag. Not other file mappings: their
/// filesystem's read may wait for a server (a FUSE daemon) inside the fault.
fn nowait_honoured(vma: &VmaRef) -> bool {
    if vma.flags() & flags::HUGETLB != 0 {
        return true;
    }
    let raw = vma.as_ptr();
    // SAFETY: `VmaRef` is only handed out while the mmap lock is held for read (its invariant),
    // under which `vma` stays valid and its `vm_ops` does not change.
    if unsafe { (*raw).vm_ops }.is_null() {
        return true;
    }
    #[cfg(CONFIG_SHMEM)]
    // SAFETY: As above, `raw` is a valid VMA under the mmap lock, which `vma_is_shmem()` needs.
    if unsafe { bindings::vma_is_shmem(raw) } {
        return true;
    }
    false
}
