// SPDX-License-Identifier: GPL-2.0

//! Completion-record (CR) fault fix-up.
//!
//! With PRS disabled on a WQ (DSA 2.0), a descriptor whose CR address faults completes anyway,
//! and the device puts the CR it could not write in the event log (`CRA_XLAT`). The driver
//! writes that CR into the submitting process's memory itself:
//!
//! * Each process that has a WQ open has a context ([`UserContext`], idxd's
//!   `struct idxd_user_context`) keyed by PASID and WQ, holding a reference to its `mm` taken
//!   at open (`mmgrab`). Nothing here asks the IOMMU for the mm
//!   behind a PASID (that lookup was removed upstream).
//! * Event-log processing queues the entries; one work item on the device's own workqueue
//!   handles them in order: `mmget_not_zero()` (a process that is gone counts a failure),
//!   `kthread_use_mm()`, write the CR body, a write barrier, then the status byte, so that a
//!   reader that sees a non-zero status sees the whole record. The writes never wait on a
//!   page fault ([`NowaitWriter`]): a CR page that user space keeps from being faulted in (a
//!   `userfaultfd` nobody answers, a hung FUSE daemon) costs the work at most [`FIXUP_BOUND`]
//!   and counts as a failure, so no process can stall the others' fix-ups or their `close()`.
//! * Batches (the C driver's semantics, `drivers/dma/idxd/irq.c`): a per-batch-id flag
//!   remembers a sub-descriptor CR that could not be written (`first_err_in_batch` resets it);
//!   the batch descriptor's own CR (`BATCH_EVL_ERR`) is then written with status batch-fail
//!   and result 1, and it is written at all only when requested (`rcr`) or on such a failure.
//!   A drain's CR after CR faults (`DRAIN_EVL`) is written as it is, when the drain asked for
//!   one (`rcr`).
//! * Per context: `cr_faults` (records written) and `cr_fault_failures` (could not be: bad
//!   address, unmapped, `PROT_NONE`, process gone), and the software errors attributed to it
//!   (CRs that could not be written, SWERR and other event-log errors with its PASID and WQ),
//!   which make its files readable for `poll` (idxd: `wq->err_queue`).

use crate::{
    evl::EvlKind,
    hw::{status, CompletionRecord, DsaEvlEntry},
};
use kernel::{
    mm::{gup::FaultIn, Mm, MmWithUser},
    new_mutex, new_poll_condvar, new_spinlock,
    prelude::*,
    sync::{
        aref::ARef,
        barrier::{smp_mb, Write},
        poll::PollCondVar,
        Arc, Mutex, SpinLock,
    },
    time::{delay::fsleep, Delta, Instant, Monotonic},
    transmute::AsBytes,
    uaccess::{nofault, UserPtr},
    workqueue::{
        impl_has_work, new_work,
        owned::{flags, OwnedQueue},
        Work, WorkItem,
    },
};

/// Where a CR copy writes: user memory of the adopted address space, or a recorder in tests.
pub(crate) trait CrWriter {
    /// Writes `data` at user address `addr`.
    fn write(&mut self, addr: u64, data: &[u8]) -> Result;
    /// Orders the writes before against the writes after (`smp_wmb()`).
    fn barrier(&mut self);
}

/// How long a fix-up may retry a CR whose page cannot be faulted in without waiting, before it
/// counts as a failure. Retries sleep, so this bounds what one CR can cost the fault work.
const FIXUP_BOUND: Delta = Delta::from_millis(20);

/// Writes to the current address space (inside `kthread_use_mm`) without ever waiting on a page
/// fault: a non-faulting copy ([`nofault::write`]); when the page is not there, it is faulted
/// in with `FOLL_NOWAIT` ([`MmapReadGuard::fault_in_nowait`], the mmap lock only tried), and
/// the copy retried. A fault that would have to wait (a `userfaultfd` nobody answers, a FUSE
/// daemon that does not reply, I/O in flight, the mmap lock held) is retried after 1 ms until
/// [`FIXUP_BOUND`] has passed since the writer was made; then the write fails with
/// `ETIMEDOUT`. A page that cannot be written at all fails with `EFAULT`.
///
/// [`MmapReadGuard::fault_in_nowait`]: kernel::mm::MmapReadGuard::fault_in_nowait
struct NowaitWriter<'a> {
    mm: &'a MmWithUser,
    /// When the writer was made: the bound runs from here.
    start: Instant<Monotonic>,
}

impl CrWriter for NowaitWriter<'_> {
    fn write(&mut self, addr: u64, data: &[u8]) -> Result {
        let ptr = UserPtr::from_addr(addr as usize);
        // A page faulted in may be taken away again before the copy (reclaim): a few rounds.
        let mut rounds = 0;
        loop {
            if nofault::write(ptr, data).is_ok() {
                return Ok(());
            }
            let got = match self.mm.mmap_read_trylock() {
                Some(g) => g.fault_in_nowait(addr as usize, data.len(), true)?,
                None => FaultIn::WouldWait,
            };
            match got {
                FaultIn::Done => {
                    rounds += 1;
                    if rounds > 4 {
                        return Err(EFAULT);
                    }
                }
                FaultIn::WouldWait => {
                    if Instant::<Monotonic>::now() - self.start >= FIXUP_BOUND {
                        return Err(ETIMEDOUT);
                    }
                    fsleep(Delta::from_millis(1));
                }
            }
        }
    }

    fn barrier(&mut self) {
        smp_mb(Write);
    }
}

/// Writes the CR `cr` at `addr`: every byte but the status byte, a write barrier, then the
/// status byte (offset 0). If the first part fails the status byte is not written, so a
/// polling reader never sees a completed status with a partial record.
///
/// Returns the writer's error (`EFAULT` for memory that cannot be written).
pub(crate) fn write_cr(w: &mut impl CrWriter, addr: u64, cr: &[u8]) -> Result {
    let (status, body) = cr.split_at(CompletionRecord::STATUS_OFFSET + 1);
    w.write(addr + 1, body)?;
    w.barrier();
    w.write(addr, status)
}

/// Counters of one context, as the idxd ABI names them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CrCounters {
    /// Completion records the driver wrote for the process.
    pub(crate) cr_faults: u64,
    /// Completion records that could not be written.
    pub(crate) cr_fault_failures: u64,
}

/// A process's context on a WQ (one per open file): what the fault path needs to write its
/// CRs, and its counters.
#[pin_data]
pub(crate) struct UserContext {
    pasid: u32,
    wq: u8,
    mm: ARef<Mm>,
    #[pin]
    state: SpinLock<CtxState>,
}

struct CtxState {
    counters: CrCounters,
    /// Software errors attributed to the context.
    errors: u64,
    /// The context is going away: its pending entries are skipped.
    closing: bool,
}

impl UserContext {
    /// The PASID the context's process has on the device.
    pub(crate) fn pasid(&self) -> u32 {
        self.pasid
    }

    /// The context's counters.
    pub(crate) fn counters(&self) -> CrCounters {
        self.state.lock().counters
    }

    /// Number of software errors attributed to the context: CRs that could not be written,
    /// and SWERR or event-log errors carrying its PASID and WQ.
    pub(crate) fn errors(&self) -> u64 {
        self.state.lock().errors
    }

    /// Counts a software error of the context.
    fn add_error(&self) {
        self.state.lock().errors += 1;
    }
}

/// Counters of a device's fault path.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FaultStats {
    /// Entries handled (written, failed, or skipped).
    pub(crate) handled: u64,
    /// Entries with no context (no process has that PASID open on that WQ).
    pub(crate) no_ctx: u64,
    /// Entries skipped because their context was closing.
    pub(crate) skipped: u64,
    /// Entries dropped because memory for the queue could not be had.
    pub(crate) lost: u64,
}

struct Pending {
    q: KVec<DsaEvlEntry>,
    /// The device is going away: nothing more is queued.
    dead: bool,
}

/// A device's fault path: contexts, pending entries, and the work that writes the CRs.
///
/// # Locks
///
/// All are taken after the device's locks (the misc interrupt pushes entries while it holds
/// the event-log lock). `ctxs` (sleeping) guards the list of contexts; a context's own `state`
/// spinlock is taken under it when looking one up, never the other way round. `batch_fail`
/// (sleeping) is taken only by the fault work. `pending` and `stats` are leaf spinlocks;
/// `pending` may be taken in atomic context ([`FaultPath::push`]).
#[pin_data]
pub(crate) struct FaultPath {
    #[pin]
    ctxs: Mutex<KVec<Arc<UserContext>>>,
    #[pin]
    pending: SpinLock<Pending>,
    /// Per batch identifier: a sub-descriptor CR of the batch could not be written.
    #[pin]
    batch_fail: Mutex<[bool; 256]>,
    #[pin]
    stats: SpinLock<FaultStats>,
    #[pin]
    work: Work<FaultPath>,
    /// Signalled when a software error is attributed to a context (`poll` waits on it).
    #[pin]
    err_wait: PollCondVar,
    wq: Arc<OwnedQueue>,
}

impl_has_work! {
    impl HasWork<Self> for FaultPath { self.work }
}

impl WorkItem for FaultPath {
    type Pointer = Arc<FaultPath>;

    fn run(this: Arc<FaultPath>) {
        this.run_pending();
    }
}

impl FaultPath {
    /// A fault path with its own workqueue.
    ///
    /// Returns `ENOMEM` on allocation failure.
    pub(crate) fn new() -> Result<Arc<Self>> {
        let wq = Arc::new(
            OwnedQueue::new(c"ridxd_fault", flags::UNBOUND | flags::MEM_RECLAIM, 1)?,
            GFP_KERNEL,
        )?;
        Arc::pin_init(
            try_pin_init!(Self {
                ctxs <- new_mutex!(KVec::new(), "ridxd::fault::ctxs"),
                pending <- new_spinlock!(Pending { q: KVec::new(), dead: false }, "ridxd::fault::pending"),
                batch_fail <- new_mutex!([false; 256], "ridxd::fault::batch_fail"),
                stats <- new_spinlock!(FaultStats::default(), "ridxd::fault::stats"),
                work <- new_work!("ridxd::fault::work"),
                err_wait <- new_poll_condvar!("ridxd::fault::err_wait"),
                wq,
            }),
            GFP_KERNEL,
        )
    }

    /// Registers the context of a process (address space `mm`, taken here with `mmgrab`)
    /// using `pasid` on WQ `wq`.
    ///
    /// A process may have several contexts on one WQ (it opened a shared WQ more than once);
    /// its entries then go to the oldest one still open, as in idxd.
    ///
    /// Returns `ENOMEM` on allocation failure.
    pub(crate) fn add_ctx(&self, pasid: u32, wq: u8, mm: &Mm) -> Result<Arc<UserContext>> {
        let ctx = Arc::pin_init(
            pin_init!(UserContext {
                pasid,
                wq,
                mm: ARef::from(mm),
                state <- new_spinlock!(
                    CtxState { counters: CrCounters::default(), errors: 0, closing: false },
                    "ridxd::fault::ctx"
                ),
            }),
            GFP_KERNEL,
        )?;
        self.ctxs.lock().push(ctx.clone(), GFP_KERNEL)?;
        Ok(ctx)
    }

    /// Removes `ctx`: its pending entries are skipped, the fault work is waited for, then the
    /// context leaves the map. The caller drops its reference (and with it the `mm`) after.
    /// (The device must already have stopped using the PASID: drained.)
    pub(crate) fn remove_ctx(&self, ctx: &Arc<UserContext>) {
        self.close_ctx(ctx);
        self.wq.flush();
        self.ctxs.lock().retain(|c| !Arc::ptr_eq(c, ctx));
    }

    /// Marks `ctx` closing: its entries are skipped from now on (not written, not counted),
    /// also those already handed to the fault work. [`Self::remove_ctx`] does it too.
    pub(crate) fn close_ctx(&self, ctx: &Arc<UserContext>) {
        ctx.state.lock().closing = true;
    }

    /// The counters of the contexts open on WQ `wq`, summed, and how many there are.
    pub(crate) fn wq_counters(&self, wq: u8) -> (CrCounters, usize) {
        let mut sum = CrCounters::default();
        let mut n = 0;
        for c in self.ctxs.lock().iter().filter(|c| c.wq == wq) {
            let k = c.counters();
            sum.cr_faults += k.cr_faults;
            sum.cr_fault_failures += k.cr_fault_failures;
            n += 1;
        }
        (sum, n)
    }

    /// What `poll` waits on: signalled whenever a context gets a software error.
    pub(crate) fn err_wait(&self) -> &PollCondVar {
        &self.err_wait
    }

    /// Attributes a software error (SWERR) to the context using `pasid` on WQ `wq`, if there is
    /// one, and wakes its pollers. Must be called in process context.
    pub(crate) fn note_error(&self, pasid: u32, wq: u8) {
        let ctx = self.find(pasid, wq);
        if let Some(ctx) = ctx {
            ctx.add_error();
            self.err_wait.notify_all();
        }
    }

    /// The context of `pasid` on `wq`: the oldest one not closing, else a closing one.
    fn find(&self, pasid: u32, wq: u8) -> Option<Arc<UserContext>> {
        let ctxs = self.ctxs.lock();
        let mut matching = ctxs.iter().filter(|c| c.pasid == pasid && c.wq == wq);
        let first = matching.clone().next();
        matching
            .find(|c| !c.state.lock().closing)
            .or(first)
            .cloned()
    }

    /// Queues an event-log entry for the work: CR-carrying entries are written, others are
    /// attributed to their context as software errors. May be called in atomic context.
    pub(crate) fn push(self: &Arc<Self>, e: &DsaEvlEntry) {
        let mut p = self.pending.lock();
        if p.dead {
            return;
        }
        if p.q.push(*e, GFP_ATOMIC).is_err() {
            drop(p);
            self.stats.lock().lost += 1;
            return;
        }
        // `Err` means the work is already queued; it will see this entry.
        let _ = self.wq.enqueue(self.clone());
    }

    /// Waits until every entry queued so far has been handled.
    #[cfg(all(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST, CONFIG_INTEL_IDXD_RUST_SIM))]
    pub(crate) fn flush(&self) {
        self.wq.flush();
    }

    /// The fault path's counters.
    #[cfg(all(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST, CONFIG_INTEL_IDXD_RUST_SIM))]
    pub(crate) fn stats(&self) -> FaultStats {
        *self.stats.lock()
    }

    /// Stops taking entries and waits for the work; after this no work of the fault path is
    /// pending or running. Must not be called from the fault work.
    pub(crate) fn shutdown(&self) {
        self.pending.lock().dead = true;
        self.wq.drain();
    }

    fn run_pending(&self) {
        loop {
            // Everything queued so far, taken at once (entries stay in order).
            let batch = core::mem::take(&mut self.pending.lock().q);
            if batch.is_empty() {
                return;
            }
            for e in batch.iter() {
                self.handle(e);
            }
        }
    }

    /// Handles one entry: writes its CR into the owner's memory per the rules above.
    fn handle(&self, e: &DsaEvlEntry) {
        self.stats.lock().handled += 1;
        let kind = EvlKind::of(e);
        let h = &e.header;
        let id = h.info.batch_id() as usize;
        let ctx = self.find(h.pasid(), h.info.wq_idx());
        let live = ctx.as_ref().filter(|c| !c.state.lock().closing);
        let Some(ctx) = live else {
            let mut st = self.stats.lock();
            if ctx.is_some() {
                st.skipped += 1;
            } else {
                st.no_ctx += 1;
            }
            drop(st);
            // Keep the batch bookkeeping right for the batch identifier's next use: a
            // sub-descriptor record that is dropped was not written; a batch record ends its
            // batch.
            if kind == EvlKind::CrFault && h.info.batch() {
                self.batch_fail.lock()[id] = true;
            } else if kind == EvlKind::BatchCr {
                self.batch_fail.lock()[id] = false;
            }
            return;
        };
        let mut cr = e.cr;
        let copy = match kind {
            EvlKind::CrFault => {
                if h.info.batch() && h.desc.first_err_in_batch() {
                    self.batch_fail.lock()[id] = false;
                }
                true
            }
            EvlKind::BatchCr => {
                let mut bf = self.batch_fail.lock();
                let failed = bf[id];
                if failed {
                    if cr.status_code() == status::SUCCESS {
                        cr.status = status::BATCH_FAIL;
                    }
                    cr.result = 1;
                    bf[id] = false;
                }
                h.desc.rcr() || failed
            }
            // Written only when the drain asked for a CR (idxd drops it otherwise).
            EvlKind::DrainCr => h.desc.rcr(),
            EvlKind::Other => {
                ctx.add_error();
                self.err_wait.notify_all();
                false
            }
        };
        if !copy {
            return;
        }
        let ok = self.copy(&ctx, h.fault_addr, &cr).is_ok();
        pr_debug!(
            "cr fix-up: pasid {:#x} wq {} addr {:#x} status {:#x} result {}: {}\n",
            h.pasid(),
            h.info.wq_idx(),
            h.fault_addr,
            cr.status,
            cr.result,
            if ok { "written" } else { "failed" }
        );
        let mut st = ctx.state.lock();
        if ok {
            st.counters.cr_faults += 1;
        } else {
            st.counters.cr_fault_failures += 1;
            st.errors += 1;
        }
        drop(st);
        if !ok {
            self.err_wait.notify_all();
        }
        if !ok && kind == EvlKind::CrFault && h.info.batch() {
            self.batch_fail.lock()[id] = true;
        }
    }

    /// Writes `cr` at `addr` in `ctx`'s address space without waiting on a fault
    /// ([`NowaitWriter`]). `ESRCH` when the process is gone, `EFAULT` for memory that cannot
    /// be written, `ETIMEDOUT` when it could not be faulted in within [`FIXUP_BOUND`].
    fn copy(&self, ctx: &UserContext, addr: u64, cr: &CompletionRecord) -> Result {
        let mm = ctx.mm.mmget_not_zero().ok_or(ESRCH)?;
        let bytes = cr.as_bytes();
        let mut w = NowaitWriter {
            mm: &*mm,
            start: Instant::<Monotonic>::now(),
        };
        mm.kthread_use(|| write_cr(&mut w, addr, bytes))?
    }
}

#[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
#[kunit_tests(ridxd_cr_write)]
mod tests {
    use super::*;

    /// Records the writes and barriers a CR copy makes.
    struct Recorder {
        log: KVec<(u64, usize)>,
        barrier_after: Option<usize>,
        fail_at: Option<u64>,
    }

    impl CrWriter for Recorder {
        fn write(&mut self, addr: u64, data: &[u8]) -> Result {
            if self.fail_at == Some(addr) {
                return Err(EFAULT);
            }
            self.log.push((addr, data.len()), GFP_KERNEL)?;
            Ok(())
        }

        fn barrier(&mut self) {
            self.barrier_after = Some(self.log.len());
        }
    }

    #[test]
    fn status_byte_last_after_a_barrier() -> Result {
        let mut r = Recorder {
            log: KVec::new(),
            barrier_after: None,
            fail_at: None,
        };
        let cr = CompletionRecord::default();
        write_cr(&mut r, 0x1000, cr.as_bytes())?;
        assert_eq!(r.log.len(), 2);
        assert_eq!(r.log[0], (0x1001, 31));
        assert_eq!(r.log[1], (0x1000, 1));
        assert_eq!(r.barrier_after, Some(1));
        Ok(())
    }

    #[test]
    fn failed_body_leaves_status_unwritten() -> Result {
        let mut r = Recorder {
            log: KVec::new(),
            barrier_after: None,
            fail_at: Some(0x2001),
        };
        let cr = CompletionRecord::default();
        assert!(write_cr(&mut r, 0x2000, cr.as_bytes()) == Err(EFAULT));
        assert!(r.log.is_empty());
        assert_eq!(r.barrier_after, None);
        Ok(())
    }
}
