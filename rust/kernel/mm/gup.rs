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
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)

use super::MmapReadGuard;
use crate::{bindings, page::PAGE_SIZE, prelude::*};

/// What [`MmapReadGuard::fault_in_nowait`] achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultIn {
    /// Every page of the range is now present with the access asked for.
    Done,
    /// A page could not be faulted in without waiting (I/O started, a userfault pending, a
    /// lock busy); a later retry may succeed.
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
    /// process, another task or I/O.
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
        let mut flags = bindings::FOLL_NOWAIT;
        if write {
            flags |= bindings::FOLL_WRITE;
        }
        // SAFETY: `MmapReadGuard` holds `self.mm`'s mmap lock for read, as required; NULL `pages`
        // takes no page references (none to release); NULL `locked` keeps the lock held.
        let ret = unsafe {
            bindings::get_user_pages_remote(
                self.mm.as_raw(),
                start,
                nr,
                flags as _,
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
