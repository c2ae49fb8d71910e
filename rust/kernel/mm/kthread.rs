// SPDX-License-Identifier: GPL-2.0

//! Operating on a user address space from a kernel thread (`kthread_use_mm()`).
//!
//! A kernel thread has no address space of its own. `kthread_use_mm()` lets it adopt one, so
//! that the user-space accessors ([`crate::uaccess`]) act on that process's memory, until
//! `kthread_unuse_mm()`. [`MmWithUser::kthread_use`] is the scoped form: the address space is
//! adopted for the duration of a closure and left again before it returns, so it cannot be left
//! in use by mistake.
//!
//! C header: [`include/linux/kthread.h`](srctree/include/linux/kthread.h)

use crate::{bindings, mm::MmWithUser, prelude::*, task::Task};

impl MmWithUser {
    /// Runs `f` with the calling kernel thread operating on this address space.
    ///
    /// Inside `f`, user pointers refer to this mm's memory: [`crate::uaccess::UserSlice`] and
    /// the non-faulting accessors of [`crate::uaccess::nofault`] read and write it, and page
    /// faults are resolved in it. `MmWithUser` guarantees the mm's users count is non-zero for
    /// the whole call (the caller holds it through `mmget`), so the memory cannot be torn down
    /// under `f`.
    ///
    /// `f` must be [`Send`]: this keeps it from capturing a [`crate::task::CurrentTask`] taken
    /// before the switch, whose `mm()` would name the wrong address space.
    ///
    /// Returns `EINVAL`, without calling `f`, when the caller is not a kernel thread or already
    /// operates on an address space (a user task, or a nested call). May sleep.
    ///
    /// # Examples
    ///
    /// A thread that has an address space cannot adopt one:
    ///
    /// ```
    /// use kernel::kunit::user::{prot, vm_mmap_anon};
    ///
    /// // This gives the test's thread an address space of its own.
    /// vm_mmap_anon(4096, prot::READ)?;
    /// let task = kernel::current!();
    /// let mm = task.mm().ok_or(EINVAL)?;
    /// assert_eq!(mm.kthread_use(|| 1), Err(EINVAL));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn kthread_use<T>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        let cur = Task::current_raw();
        // SAFETY: `current_raw()` is the running task, valid for the whole call. Its `flags` and
        // `mm` are only changed by the task itself, so reading them here does not race.
        let (flags, mm) = unsafe { ((*cur).flags, (*cur).mm) };
        if flags & bindings::PF_KTHREAD == 0 || !mm.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: The caller is a kernel thread with no mm (checked above), which is what
        // `kthread_use_mm()` requires; `self.as_raw()` is a live mm with users (type invariant of
        // `MmWithUser`), and `self` outlives the call.
        unsafe { bindings::kthread_use_mm(self.as_raw()) };
        let ret = f();
        // SAFETY: Paired with the `kthread_use_mm()` above on the same mm, in the same thread.
        // `f` cannot have left the mm itself: no safe API exposes `kthread_unuse_mm()`.
        unsafe { bindings::kthread_unuse_mm(self.as_raw()) };
        Ok(ret)
    }
}
