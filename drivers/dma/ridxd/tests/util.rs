// SPDX-License-Identifier: GPL-2.0

//! Helpers shared by the KUnit suites that work on a test's own user memory.

use crate::hw::{flags, CompletionRecord, Descriptor};
use kernel::{
    kunit::user::{prot, vm_mmap_anon},
    page::PAGE_SIZE,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
    time::{delay::fsleep, Delta},
    transmute::FromBytes,
    uaccess::{nofault, UserPtr, UserSlice},
    workqueue::{self, impl_has_work, new_work, Work, WorkItem},
};

/// Waits until `cond` holds, checking every 10 ms, for `ms` milliseconds at most (what a work
/// item does in the background, say). Returns whether it held.
pub(crate) fn wait_for(ms: u32, mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..ms.div_ceil(10) {
        if cond() {
            return true;
        }
        fsleep(Delta::from_millis(10));
    }
    cond()
}

/// Maps `pages` pages of anonymous memory with protection `p` (not populated).
pub(crate) fn map(pages: usize, p: u32) -> Result<u64> {
    Ok(vm_mmap_anon(pages * PAGE_SIZE, p)?.as_const_ptr() as u64)
}

/// Maps `pages` read-write pages (not populated).
pub(crate) fn map_rw(pages: usize) -> Result<u64> {
    map(pages, prot::READ | prot::WRITE)
}

/// Writes `data` at user address `addr` (faulting pages in).
pub(crate) fn put(addr: u64, data: &[u8]) -> Result {
    UserSlice::new(UserPtr::from_addr(addr as usize), data.len())
        .writer()
        .write_slice(data)
}

/// Reads `out.len()` bytes at user address `addr` (faulting pages in).
pub(crate) fn get(addr: u64, out: &mut [u8]) -> Result {
    UserSlice::new(UserPtr::from_addr(addr as usize), out.len())
        .reader()
        .read_slice(out)
}

/// The completion record at `addr` (zeroed if it cannot be read).
pub(crate) fn cr_at(addr: u64) -> CompletionRecord {
    let mut raw = [0u8; CompletionRecord::SIZE];
    let _ = get(addr, &mut raw);
    CompletionRecord::from_bytes_copy(&raw).unwrap_or_default()
}

/// Whether the page of `addr` is present (a non-faulting read succeeds).
pub(crate) fn present(addr: u64) -> bool {
    let mut b = [0u8; 1];
    nofault::read(UserPtr::from_addr(addr as usize), &mut b).is_ok()
}

/// A descriptor with opcode `op`, `CRAV | RCR`, the CR at `cr`.
pub(crate) fn desc(op: u8, src: u64, dst: u64, len: u32, cr: u64) -> Descriptor {
    let mut d = Descriptor::default();
    d.set_opcode(op);
    d.set_flags(flags::CRAV | flags::RCR);
    d.completion_addr = cr;
    d.src_addr = src;
    d.dst_addr = dst;
    d.xfer_size = len;
    d
}

/// What a [`Job`] runs: returns a non-zero result.
pub(crate) type JobFn = KBox<dyn Fn() -> i32 + Send + Sync>;

/// Runs a closure on the system workqueue, from another thread than the test's, and stores
/// what it returned in `result` (which the test set to 0 beforehand). (`Queue::try_spawn`
/// would do, but its lock class is shared by every closure type while its name is not, which
/// lockdep reports.)
#[pin_data]
pub(crate) struct Job {
    #[pin]
    work: Work<Job>,
    f: JobFn,
    result: Arc<Atomic<i32>>,
}

impl_has_work! {
    impl HasWork<Self> for Job { self.work }
}

impl WorkItem for Job {
    type Pointer = Pin<KBox<Job>>;

    fn run(this: Pin<KBox<Job>>) {
        let r = (this.f)();
        this.result.store(r, Relaxed);
    }
}

impl Job {
    /// Queues `f`; its result goes to `result`.
    ///
    /// Returns `ENOMEM`.
    pub(crate) fn spawn(
        f: impl Fn() -> i32 + Send + Sync + 'static,
        result: Arc<Atomic<i32>>,
    ) -> Result {
        let f: JobFn = KBox::new(f, GFP_KERNEL)?;
        let j = KBox::pin_init(
            pin_init!(Job {
                work <- new_work!("ridxd::tests::Job"),
                f,
                result,
            }),
            GFP_KERNEL,
        )?;
        // `system_long`: a job may block for seconds (`system_wq` is deprecated in 7.3).
        workqueue::system_long().enqueue(j);
        Ok(())
    }

    /// Waits up to `ms` milliseconds for `result` to become non-zero, and returns it.
    pub(crate) fn wait(result: &Atomic<i32>, ms: u32) -> i32 {
        let mut waited = 0;
        while result.load(Relaxed) == 0 && waited < ms {
            kernel::time::delay::fsleep(kernel::time::Delta::from_millis(1));
            waited += 1;
        }
        result.load(Relaxed)
    }
}
