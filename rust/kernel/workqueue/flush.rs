// SPDX-License-Identifier: GPL-2.0

//! Waiting for one work item to finish (`flush_work()`).
//!
//! [`super::owned::OwnedQueue::flush`] waits for everything queued on a workqueue. A user of
//! many work items on one queue (one per client, say) often needs less: to wait for its own
//! item only, so that one client's teardown does not wait for every other client's work.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

use super::Work;
use crate::bindings;

impl<T: ?Sized, const ID: u64> Work<T, ID> {
    /// Waits until this work item's last queueing has finished running.
    ///
    /// Returns `true` if it had to wait (the item was queued or running), `false` if the item
    /// was idle. If the item queues itself again while it runs, only the run that was
    /// pending when this was called is waited for. Calling it from the item's own `run` would
    /// wait forever (lockdep reports it). May sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::prelude::*;
    /// use kernel::sync::{atomic::{Atomic, Relaxed}, Arc};
    /// use kernel::workqueue::{self, impl_has_work, new_work, Work, WorkItem};
    ///
    /// #[pin_data]
    /// struct Counter {
    ///     runs: Atomic<u32>,
    ///     #[pin]
    ///     work: Work<Counter>,
    /// }
    ///
    /// impl_has_work! {
    ///     impl HasWork<Self> for Counter { self.work }
    /// }
    ///
    /// impl WorkItem for Counter {
    ///     type Pointer = Arc<Counter>;
    ///
    ///     fn run(this: Arc<Counter>) {
    ///         this.runs.add(1, Relaxed);
    ///     }
    /// }
    ///
    /// let c = Arc::pin_init(
    ///     pin_init!(Counter { runs: Atomic::new(0), work <- new_work!("Counter::work") }),
    ///     GFP_KERNEL,
    /// )?;
    /// assert!(!c.work.flush());
    /// let _ = workqueue::queues::system_dfl().enqueue(c.clone());
    /// c.work.flush();
    /// assert_eq!(c.runs.load(Relaxed), 1);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn flush(&self) -> bool {
        // SAFETY: `self` is a live, initialised `Work` (it can only be made by `Work::new`'s
        // initialiser), so `raw_get` gets a pointer to its `work_struct`, valid for the call.
        let w = unsafe { Self::raw_get(self) };
        // SAFETY: `w` points to an initialised `work_struct` that lives for the whole call
        // (`self` is borrowed); `flush_work()` only waits on it.
        unsafe { bindings::flush_work(w) }
    }
}
