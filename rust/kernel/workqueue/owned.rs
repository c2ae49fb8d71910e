// SPDX-License-Identifier: GPL-2.0

//! Workqueues owned by their user.
//!
//! The system workqueues ([`super::system`] and friends) live forever, so nothing guarantees that
//! a work item queued there has finished when its owner goes away. An [`OwnedQueue`] is
//! allocated by its user and destroyed when dropped; destroying it first drains it, so once the
//! queue is dropped no work item queued on it is pending or running.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

use super::Queue;
use crate::{bindings, prelude::*};
use core::{ops::Deref, ptr::NonNull};

/// `WQ_*` flags for [`OwnedQueue::new`].
pub mod flags {
    use crate::bindings;

    /// Work items are not bound to the CPU that queued them (`WQ_UNBOUND`).
    pub const UNBOUND: u32 = bindings::wq_flags_WQ_UNBOUND;
    /// The queue has a rescuer thread and may be used on the memory reclaim path
    /// (`WQ_MEM_RECLAIM`).
    pub const MEM_RECLAIM: u32 = bindings::wq_flags_WQ_MEM_RECLAIM;
    /// Work items run at high priority (`WQ_HIGHPRI`).
    pub const HIGHPRI: u32 = bindings::wq_flags_WQ_HIGHPRI;
}

/// A workqueue allocated with `alloc_workqueue()` and destroyed (after draining) on drop.
///
/// It dereferences to [`Queue`], so work items are queued on it like on a system queue.
///
/// # Invariants
///
/// `self.0` points to a workqueue returned by `alloc_workqueue()` and not yet destroyed.
///
/// # Examples
///
/// ```
/// use kernel::workqueue::owned::{flags, OwnedQueue};
///
/// let wq = OwnedQueue::new(c"rust_doctest_wq", flags::UNBOUND, 1)?;
/// wq.try_spawn(GFP_KERNEL, || pr_info!("ran on an owned workqueue\n"))?;
/// wq.drain();
/// # Ok::<(), Error>(())
/// ```
pub struct OwnedQueue(NonNull<bindings::workqueue_struct>);

// SAFETY: A workqueue may be used and destroyed from any thread.
unsafe impl Send for OwnedQueue {}
// SAFETY: Every operation reachable through `&OwnedQueue` (queueing, flushing, draining) is
// thread safe in C.
unsafe impl Sync for OwnedQueue {}

impl OwnedQueue {
    /// Allocates a workqueue named `name` (as shown by tools such as `ps`), with `WQ_*` `flags`
    /// (see [`flags`]) and at most `max_active` work items running at once (0: the default).
    ///
    /// Returns `ENOMEM` when the workqueue cannot be allocated.
    pub fn new(name: &'static CStr, flags: u32, max_active: i32) -> Result<Self> {
        // SAFETY: `"%s"` and `name` are NUL-terminated strings; the format consumes exactly one
        // string argument, which is `name`. `alloc_workqueue()` copies the formatted name.
        let ptr = unsafe {
            bindings::alloc_workqueue_noprof(
                c"%s".as_char_ptr(),
                flags,
                max_active,
                name.as_char_ptr(),
            )
        };
        // INVARIANT: A non-NULL pointer from `alloc_workqueue()` is a live workqueue.
        NonNull::new(ptr).map(Self).ok_or(ENOMEM)
    }

    /// Waits until every work item queued before this call has finished.
    ///
    /// May sleep. Work items queued during the call are not waited for.
    pub fn flush(&self) {
        // SAFETY: By the type invariant, `self.0` is a live workqueue.
        unsafe { bindings::__flush_workqueue(self.0.as_ptr()) }
    }

    /// Waits until the queue is empty, including work items that its own work items queue
    /// while it drains. Queueing from elsewhere during the drain is a bug (the C side warns).
    ///
    /// May sleep.
    pub fn drain(&self) {
        // SAFETY: By the type invariant, `self.0` is a live workqueue.
        unsafe { bindings::drain_workqueue(self.0.as_ptr()) }
    }
}

impl Deref for OwnedQueue {
    type Target = Queue;

    fn deref(&self) -> &Queue {
        // SAFETY: By the type invariant, `self.0` is a live workqueue, and it stays live for as
        // long as `self` is borrowed.
        unsafe { Queue::from_raw(self.0.as_ptr()) }
    }
}

impl Drop for OwnedQueue {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, `self.0` is a live workqueue; it is not used again.
        // `destroy_workqueue()` drains it first.
        unsafe { bindings::destroy_workqueue(self.0.as_ptr()) }
    }
}
