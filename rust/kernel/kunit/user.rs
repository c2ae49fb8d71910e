// SPDX-License-Identifier: GPL-2.0

//! User memory for KUnit tests.
//!
//! A KUnit test runs in a kernel thread, which has no address space. [`vm_mmap_anon`] gives the
//! test one (`kunit_attach_mm()`) and maps anonymous memory into it (`kunit_vm_mmap()`), so that
//! code under test can be run against real user pages: present, never touched, discarded
//! ([`madvise_dontneed`]) or inaccessible (`prot::NONE`). The mappings and the address space
//! go away with the test.
//!
//! Only with KUnit built in (`CONFIG_KUNIT=y`): the helpers are for tests, and
//! `kunit_vm_mmap()` is not there for the kernel crate otherwise.
//!
//! C header: [`include/kunit/test.h`](srctree/include/kunit/test.h)

#![cfg(CONFIG_KUNIT = "y")]

use crate::{bindings, mm::Mm, prelude::*, sync::aref::ARef, task::Task, uaccess::UserPtr};

/// Protection bits for [`vm_mmap_anon`] (`PROT_*`, `include/uapi/asm-generic/mman-common.h`;
/// user ABI, so fixed).
pub mod prot {
    /// No access: every access faults and fails (`PROT_NONE`).
    pub const NONE: u32 = 0x0;
    /// Readable (`PROT_READ`).
    pub const READ: u32 = 0x1;
    /// Writable (`PROT_WRITE`).
    pub const WRITE: u32 = 0x2;
}

/// `MAP_PRIVATE` (`include/uapi/linux/mman.h`).
const MAP_PRIVATE: u64 = 0x02;
/// `MAP_ANONYMOUS` (`include/uapi/asm-generic/mman-common.h`).
const MAP_ANONYMOUS: u64 = 0x20;
/// `MADV_DONTNEED` (`include/uapi/asm-generic/mman-common.h`).
const MADV_DONTNEED: i32 = 4;

/// Maps `len` bytes (rounded up to pages) of private anonymous memory with protection `prot`
/// (see [`prot`]) into the address space of the running KUnit test, giving the test's thread
/// an address space first if it has none. Pages are not populated: each is faulted in (zeroed)
/// on first access. The mapping lasts until the test ends.
///
/// Returns `EINVAL` when not called from a KUnit test, `ENOMEM` when the mapping fails.
pub fn vm_mmap_anon(len: usize, prot: u32) -> Result<UserPtr> {
    // SAFETY: `kunit_get_current_test()` only reads the current task's KUnit pointer.
    let test = unsafe { bindings::kunit_get_current_test() };
    if test.is_null() || len == 0 {
        return Err(EINVAL);
    }
    // SAFETY: `test` is the running test, live for this call. With no file, `vm_mmap()` makes an
    // anonymous mapping; the address hint 0 lets it choose.
    let addr = unsafe {
        bindings::kunit_vm_mmap(
            test,
            core::ptr::null_mut(),
            0,
            len as _,
            prot as _,
            (MAP_PRIVATE | MAP_ANONYMOUS) as _,
            0,
        )
    };
    // `vm_mmap()` errors are negative errno values; KUnit reports its own as 0.
    if addr == 0 || addr as usize >= (-(bindings::MAX_ERRNO as isize)) as usize {
        return Err(ENOMEM);
    }
    Ok(UserPtr::from_addr(addr as usize))
}

/// Discards the pages of `[addr, addr + len)` in the current address space
/// (`madvise(MADV_DONTNEED)`): they are no longer present, and the next access faults in a
/// fresh zero page.
///
/// Returns `EINVAL` when the caller has no address space or the range is invalid.
pub fn madvise_dontneed(addr: UserPtr, len: usize) -> Result {
    let cur = Task::current_raw();
    // SAFETY: `current` is valid, and only it changes its own `mm`.
    let mm = unsafe { (*cur).mm };
    if mm.is_null() {
        return Err(EINVAL);
    }
    // SAFETY: `mm` is the caller's own address space, live while the caller runs; `do_madvise()`
    // validates the range and takes the mmap lock itself.
    let ret =
        unsafe { bindings::do_madvise(mm, addr.as_const_ptr() as usize as _, len, MADV_DONTNEED) };
    if ret == 0 {
        Ok(())
    } else {
        Err(Error::from_errno(ret))
    }
}

/// An address space whose process is gone: allocated (`mm_alloc()`), referenced (`mmgrab`,
/// the returned [`ARef`]), then released by its only user (`mmput()`), as the `mm` of a process
/// that exited while a driver still holds a reference to it. [`Mm::mmget_not_zero`] on it
/// fails.
///
/// Returns `ENOMEM` when it cannot be allocated.
pub fn exited_mm() -> Result<ARef<Mm>> {
    // SAFETY: `mm_alloc()` has no preconditions.
    let raw = unsafe { bindings::mm_alloc() };
    if raw.is_null() {
        return Err(ENOMEM);
    }
    // SAFETY: `mm_alloc()` returned a valid `mm_struct` with one user and one reference; it is
    // valid for this borrow, and `ARef::from` takes a reference of its own (`mmgrab`).
    let mm: ARef<Mm> = ARef::from(unsafe { Mm::from_raw(raw) });
    // SAFETY: This drops the user `mm_alloc()` gave; `mm` keeps the structure allocated.
    unsafe { bindings::mmput(raw) };
    Ok(mm)
}
