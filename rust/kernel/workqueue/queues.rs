// SPDX-License-Identifier: GPL-2.0

//! The system work queues that replace `system_wq` and `system_unbound_wq`.
//!
//! Since Linux 6.18 `system_wq` and `system_unbound_wq` are deprecated: the first work item
//! queued on either logs "enqueued on deprecated workqueue. Use system_{percpu|dfl}_wq
//! instead" (`__WQ_DEPRECATED` in `kernel/workqueue.c`). [`system`](super::system) and
//! [`system_unbound`](super::system_unbound) return them; these return their replacements.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h).

use super::Queue;
use crate::bindings;

/// Returns the per-CPU system work queue (`system_percpu_wq`), what `system_wq` was:
/// multi-CPU multi-threaded, for work items that do not run long.
pub fn system_percpu() -> &'static Queue {
    // SAFETY: `system_percpu_wq` is a C global, set up at boot and never freed.
    unsafe { Queue::from_raw(bindings::system_percpu_wq) }
}

/// Returns the default unbound system work queue (`system_dfl_wq`), what `system_unbound_wq`
/// was: workers not bound to a CPU, not concurrency managed; work items run as soon as
/// `max_active` allows.
///
/// # Examples
///
/// ```
/// use kernel::{prelude::*, sync::{Arc, Completion}, workqueue::queues::system_dfl};
///
/// let done = Arc::pin_init(Completion::new(), GFP_KERNEL)?;
/// let d = done.clone();
/// system_dfl().try_spawn(GFP_KERNEL, move || d.complete_all())?;
/// done.wait_for_completion();
/// # Ok::<(), Error>(())
/// ```
pub fn system_dfl() -> &'static Queue {
    // SAFETY: `system_dfl_wq` is a C global, set up at boot and never freed.
    unsafe { Queue::from_raw(bindings::system_dfl_wq) }
}
