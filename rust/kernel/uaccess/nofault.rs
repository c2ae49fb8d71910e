// SPDX-License-Identifier: GPL-2.0

//! User memory accessors that never fault pages in.
//!
//! [`read`] and [`write`] copy between kernel buffers and the current address space like
//! [`super::UserSlice`], but with page faults disabled (`copy_from_user_nofault()`,
//! `copy_to_user_nofault()`): a page that is not present, or not accessible, makes the copy fail
//! with `EFAULT` instead of being faulted in. This is how a device without page-request
//! service sees memory, and what code that must not sleep can use.
//!
//! C header: [`include/linux/uaccess.h`](srctree/include/linux/uaccess.h)

use super::UserPtr;
use crate::{bindings, prelude::*};

/// Copies `out.len()` bytes from user address `src` of the current address space into `out`.
///
/// Returns `EFAULT` if any byte of the range is not mapped, not readable, or not present in the
/// page tables, or if the range is not a user range; `out` may then hold part of the data.
/// Never sleeps and never faults a page in.
///
/// # Examples
///
/// ```
/// use kernel::kunit::user::{madvise_dontneed, prot, vm_mmap_anon};
/// use kernel::uaccess::{nofault, UserSlice};
///
/// let p = vm_mmap_anon(4096, prot::READ | prot::WRITE)?;
/// let mut b = [0u8; 1];
/// // Never touched: not present, so the read fails rather than faulting the page in.
/// assert_eq!(nofault::read(p, &mut b), Err(EFAULT));
/// // A faulting write makes it present.
/// UserSlice::new(p, 1).writer().write_slice(&[7])?;
/// nofault::read(p, &mut b)?;
/// assert_eq!(b[0], 7);
/// // Discarded: not present again.
/// madvise_dontneed(p, 4096)?;
/// assert_eq!(nofault::read(p, &mut b), Err(EFAULT));
/// # Ok::<(), Error>(())
/// ```
pub fn read(src: UserPtr, out: &mut [u8]) -> Result {
    // SAFETY: `out` is valid for writes of `out.len()` bytes. `copy_from_user_nofault()` checks
    // that the source is a user range and does not fault.
    let ret = unsafe {
        bindings::copy_from_user_nofault(out.as_mut_ptr().cast(), src.as_const_ptr(), out.len())
    };
    if ret == 0 {
        Ok(())
    } else {
        Err(EFAULT)
    }
}

/// Copies `data` to user address `dst` of the current address space.
///
/// Returns `EFAULT` if any byte of the range is not mapped, not writable, or not present in the
/// page tables, or if the range is not a user range; part of `data` may then have been written.
/// Never sleeps and never faults a page in.
pub fn write(dst: UserPtr, data: &[u8]) -> Result {
    // SAFETY: `data` is valid for reads of `data.len()` bytes. `copy_to_user_nofault()` checks
    // that the destination is a user range and does not fault.
    let ret = unsafe {
        bindings::copy_to_user_nofault(dst.as_mut_ptr(), data.as_ptr().cast(), data.len())
    };
    if ret == 0 {
        Ok(())
    } else {
        Err(EFAULT)
    }
}
