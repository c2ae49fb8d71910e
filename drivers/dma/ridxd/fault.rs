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
//! * Event-log processing hands each entry to its context, found by PASID and WQ in an
//!   XArray ([`FaultPath::try_push`]). Consecutive entries of one context make a run, handled
//!   in order: one `mmget_not_zero()` (a process that is gone counts failures) and one
//!   `kthread_use_mm()` for the run, then per CR the body, a write barrier, and the status
//!   byte, so that a reader that sees a non-zero status sees the whole record.
//! * The drain's own thread (the misc interrupt's) handles a run itself when nothing of the
//!   context is queued and every CR can be written without waiting: no work item is woken,
//!   so a fix-up costs little more than the copy. Otherwise the run, from the first CR that
//!   would wait, goes to the context's own work item, which may wait: the writes never wait
//!   on a page fault ([`NowaitWriter`]), but CR pages that user space keeps from being faulted
//!   in (a `userfaultfd` nobody answers, a hung FUSE daemon) are retried for at most
//!   [`FIXUP_BOUND`] per run and then count as failures. Contexts' work items run in
//!   parallel, so no process delays another's fix-ups, and a process's `close()` waits for
//!   its own work item only.
//! * Pending entries are bounded ([`PENDING_MAX`], over all contexts): beyond it the event log
//!   is left undrained (back-pressure on the device) until fix-ups make room.
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
    new_condvar, new_mutex, new_poll_condvar, new_spinlock,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        barrier::{smp_mb, Write},
        poll::PollCondVar,
        Arc, CondVar, Mutex, MutexGuard, SpinLock,
    },
    time::{delay::fsleep, Delta, Instant, Monotonic},
    transmute::AsBytes,
    uaccess::{nofault, UserPtr},
    workqueue::{
        impl_has_work, new_work,
        owned::{flags, OwnedQueue},
        Work, WorkItem,
    },
    xarray::{AllocKind, XArray},
};

/// Where a CR copy writes: user memory of the adopted address space, or a recorder in tests.
pub(crate) trait CrWriter {
    /// Writes `data` at user address `addr`.
    fn write(&mut self, addr: u64, data: &[u8]) -> Result;
    /// Orders the writes before against the writes after (`smp_wmb()`).
    fn barrier(&mut self);
}

/// How long one run of a context's fix-ups may spend, in all, retrying CRs whose pages cannot
/// be faulted in without waiting; a CR still not written then counts as a failure, and so does
/// every later one of the run that would have to wait. Retries sleep, so this bounds what a
/// context whose pages user space holds back costs its own work item (other contexts' work
/// items do not wait for it).
const FIXUP_BOUND: Delta = Delta::from_millis(20);

/// Writes to the current address space (inside `kthread_use_mm`) without ever waiting on a page
/// fault: a non-faulting copy ([`nofault::write`]); when the page is not there, it is faulted
/// in with `FOLL_NOWAIT` ([`MmapReadGuard::fault_in_nowait`], the mmap lock only tried), and
/// the copy retried. A fault that would have to wait (a `userfaultfd` nobody answers, a FUSE
/// daemon that does not reply, I/O in flight, the mmap lock held) is retried after 1 ms until
/// [`FIXUP_BOUND`] has passed since `waiting` (the run's first such fault); then the write fails
/// with `ETIMEDOUT`. A page that cannot be written at all fails with `EFAULT`.
///
/// [`MmapReadGuard::fault_in_nowait`]: kernel::mm::MmapReadGuard::fault_in_nowait
struct NowaitWriter<'a> {
    mm: &'a MmWithUser,
    /// When the run's first fault that would wait came: the bound runs from there. (Read
    /// only then: a run whose pages are present reads no clock.)
    waiting: Option<Instant<Monotonic>>,
    /// Never sleep: a fault that would wait fails at once with `EAGAIN` (the drain's inline
    /// fix-ups, which hand such an entry to the context's work item instead).
    defer: bool,
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
                    if self.defer {
                        return Err(EAGAIN);
                    }
                    let now = Instant::<Monotonic>::now();
                    let since = *self.waiting.get_or_insert(now);
                    if now - since >= FIXUP_BOUND {
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

/// Most event-log entries the fault path holds at once, over all contexts of a device: 1024
/// entries of [`DsaEvlEntry::SIZE`] (64) bytes. Each context's queue is a vector that grows
/// by doubling, so the queues' memory is at most twice that, 128 KiB, whatever the number of
/// contexts or the event log's size.
///
/// When it is reached, the event log is not drained further (back-pressure): the entries stay
/// in the ring, which is the device's own bounded queue, until fix-ups make room; a device
/// whose log is full holds the entry it has to log until there is room (so does the model:
/// its engine waits, `evl_full_waits`). Each time counts in [`FaultStats::backpressure`].
pub(crate) const PENDING_MAX: usize = 1024;

/// Counters of one context, as the idxd ABI names them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CrCounters {
    /// Completion records the driver wrote for the process.
    pub(crate) cr_faults: u64,
    /// Completion records that could not be written.
    pub(crate) cr_fault_failures: u64,
}

/// A process's context on a WQ (one per open file): what the fault path needs to write its
/// CRs, the entries waiting for that, its counters, and the work item that handles them.
///
/// Each context's entries are handled by its own work item, in the order the device logged
/// them, so a context whose fix-ups are slow (its CR pages cannot be faulted in) delays only
/// itself; the work items of different contexts run in parallel on the fault path's
/// workqueue.
#[pin_data]
pub(crate) struct UserContext {
    pasid: u32,
    wq: u8,
    mm: ARef<Mm>,
    shared: Arc<Shared>,
    /// Non-zero once the context is going away: its entries are skipped. Set under `state`'s
    /// lock, so that a run checked under that lock before it is handled inline is not handled
    /// after it; every entry is checked again when it is handled. Read without the lock to
    /// pick a context for an entry.
    closing: Atomic<u32>,
    /// Per batch identifier, one bit: a sub-descriptor CR of the batch could not be written.
    /// (A batch's sub-descriptors and the batch descriptor carry the same PASID and WQ, so
    /// this is per context.) Read and written only by whoever handles the context's entries,
    /// which is one thread at a time (`state.busy`, or `state` held by the drain's inline
    /// run), with that exclusion's ordering: relaxed loads and stores, no lock.
    batch_fail: [Atomic<u64>; 4],
    #[pin]
    state: Mutex<CtxState>,
    #[pin]
    work: Work<UserContext>,
}

impl_has_work! {
    impl HasWork<Self> for UserContext { self.work }
}

impl WorkItem for UserContext {
    type Pointer = Arc<UserContext>;

    fn run(this: Arc<UserContext>) {
        this.run_pending();
    }
}

struct CtxState {
    counters: CrCounters,
    /// Software errors attributed to the context.
    errors: u64,
    /// Entries handed to the context's work item and not handled yet, oldest first.
    queue: KVec<DsaEvlEntry>,
    /// Entries of the context are being handled (by its work item, or inline by the drain):
    /// new ones must queue behind them.
    busy: bool,
}

impl UserContext {
    fn batch_failed(&self, id: u8) -> bool {
        self.batch_fail[usize::from(id / 64)].load(Relaxed) & (1 << (id % 64)) != 0
    }

    /// Only the context's handler calls it (see `batch_fail`): a load and a store suffice.
    fn set_batch_failed(&self, id: u8, failed: bool) {
        let w = &self.batch_fail[usize::from(id / 64)];
        let bit = 1u64 << (id % 64);
        let old = w.load(Relaxed);
        w.store(if failed { old | bit } else { old & !bit }, Relaxed);
    }

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

    /// Waits until the context's work item is idle (benchmark).
    #[cfg(CONFIG_INTEL_IDXD_RUST_SIM)]
    pub(crate) fn wait_idle(&self) {
        self.work.flush();
    }

    fn is_closing(&self) -> bool {
        self.closing.load(Relaxed) != 0
    }

    /// Counts a software error of the context and wakes its pollers.
    fn add_error(&self) {
        self.state.lock().errors += 1;
        self.shared.err_wait.notify_all();
    }

    /// The work: handles the entries queued so far, as one run. Entries queued while it runs
    /// have queued the work again.
    fn run_pending(&self) {
        let run = {
            let mut st = self.state.lock();
            if st.queue.is_empty() {
                return;
            }
            st.busy = true;
            core::mem::take(&mut st.queue)
        };
        let mut t = Tally::default();
        self.handle_run(&run, false, &mut t);
        let mut st = self.state.lock();
        st.busy = false;
        t.add_to_ctx(&mut st);
        drop(st);
        self.settle_stats(&t);
        self.shared.release(run.len());
    }

    /// Handles a run of the context's entries, in order, with one `mmget_not_zero()` and one
    /// `kthread_use_mm()` for the whole run, and one [`FIXUP_BOUND`] for all its waits; what
    /// the entries did goes into `t`.
    ///
    /// `inline` (the drain's own thread): nothing sleeps; at the first CR whose page cannot be
    /// faulted in without waiting, or if this thread cannot adopt an address space, the run
    /// stops. Returns how many entries were handled (all of them unless `inline`).
    fn handle_run(&self, run: &[DsaEvlEntry], inline: bool, t: &mut Tally) -> usize {
        let needs_mm = run.iter().any(|e| EvlKind::of(e) != EvlKind::Other);
        // Dropped with mmput_async(): if the process exits meanwhile, this reference is its
        // address space's last user, and tearing it down (exit_mmap, which takes the mmap lock)
        // must not happen here, where the drain holds its own locks (lockdep found it
        // closing the cycle inline -> mmap_lock in the debug guest).
        let mm = if needs_mm && !self.is_closing() {
            self.mm.mmget_not_zero().map(MmWithUser::into_mmput_async)
        } else {
            None
        };
        let Some(mm) = mm else {
            // No CR to write, or a process that is gone (its CRs cannot be written).
            for e in run {
                self.handle(e, &mut |_, _| Err(ESRCH), t);
            }
            return run.len();
        };
        let done = mm.kthread_use(|| {
            let mut w = NowaitWriter {
                mm: &mm,
                waiting: None,
                defer: inline,
            };
            let mut n = 0;
            for e in run {
                let copy = &mut |addr, cr: &CompletionRecord| match write_cr(
                    &mut w,
                    addr,
                    cr.as_bytes(),
                ) {
                    // Only an inline run hands entries on; a work item's run counts it failed.
                    Err(e) if e == EAGAIN && !inline => Err(EFAULT),
                    r => r,
                };
                if self.handle(e, copy, t) == Handled::Deferred {
                    break;
                }
                n += 1;
            }
            n
        });
        match done {
            Ok(n) => {
                t.mm_uses += 1;
                n
            }
            // This thread has an address space (a process draining the log at release).
            Err(_) if inline => 0,
            Err(_) => {
                // Not a kernel thread: cannot happen on a workqueue; count them, lose none.
                for e in run {
                    self.handle(e, &mut |_, _| Err(EINVAL), t);
                }
                run.len()
            }
        }
    }

    /// Handles one entry per the rules in the module documentation; `copy` writes a CR.
    ///
    /// Returns [`Handled::Deferred`], having changed nothing, when `copy` fails with `EAGAIN`
    /// (the CR could not be written without waiting).
    fn handle(
        &self,
        e: &DsaEvlEntry,
        copy: &mut dyn FnMut(u64, &CompletionRecord) -> Result,
        t: &mut Tally,
    ) -> Handled {
        let kind = EvlKind::of(e);
        let h = &e.header;
        let id = h.info.batch_id();
        if self.is_closing() {
            t.handled += 1;
            t.skipped += 1;
            return Handled::Done;
        }
        let mut cr = e.cr;
        let mut was_failed = false;
        // No lock: only the context's handler is here (see `batch_fail`).
        let write = match kind {
            EvlKind::CrFault => {
                if h.info.batch() && h.desc.first_err_in_batch() {
                    self.set_batch_failed(id, false);
                }
                true
            }
            EvlKind::BatchCr => {
                let failed = self.batch_failed(id);
                was_failed = failed;
                if failed {
                    if cr.status_code() == status::SUCCESS {
                        cr.status = status::BATCH_FAIL;
                    }
                    cr.result = 1;
                    self.set_batch_failed(id, false);
                }
                h.desc.rcr() || failed
            }
            // Written only when the drain asked for a CR (idxd drops it otherwise).
            EvlKind::DrainCr => h.desc.rcr(),
            EvlKind::Other => {
                t.errors += 1;
                t.handled += 1;
                return Handled::Done;
            }
        };
        if !write {
            t.handled += 1;
            return Handled::Done;
        }
        let res = copy(h.fault_addr, &cr);
        if res == Err(EAGAIN) {
            // Handed on: undo what this entry changed (clearing a batch's failure flag again
            // when the entry is handled later is harmless).
            if was_failed {
                self.set_batch_failed(id, true);
            }
            return Handled::Deferred;
        }
        t.handled += 1;
        let ok = res.is_ok();
        pr_debug!(
            "cr fix-up: pasid {:#x} wq {} addr {:#x} status {:#x} result {}: {}\n",
            h.pasid(),
            h.info.wq_idx(),
            h.fault_addr,
            cr.status,
            cr.result,
            if ok { "written" } else { "failed" }
        );
        if ok {
            t.cr_faults += 1;
        } else {
            t.failures += 1;
            t.errors += 1;
            if kind == EvlKind::CrFault && h.info.batch() {
                self.set_batch_failed(id, true);
            }
        }
        Handled::Done
    }

    /// Adds a run's tally to the fault path's statistics (its caller adds it to the context's
    /// counters, under the lock it takes anyway) and wakes pollers if the run had errors: one
    /// lock of each per run, not per entry.
    fn settle_stats(&self, t: &Tally) {
        t.add_to_stats(&mut self.shared.stats.lock());
        if t.errors != 0 {
            self.shared.err_wait.notify_all();
        }
    }
}

/// What a run's entries did, added to the counters once per run.
#[derive(Default)]
struct Tally {
    cr_faults: u64,
    failures: u64,
    errors: u64,
    handled: u64,
    skipped: u64,
    mm_uses: u64,
    inline: u64,
    deferred: u64,
}

impl Tally {
    fn add_to_ctx(&self, st: &mut CtxState) {
        st.counters.cr_faults += self.cr_faults;
        st.counters.cr_fault_failures += self.failures;
        st.errors += self.errors;
    }

    fn add_to_stats(&self, s: &mut FaultStats) {
        s.handled += self.handled;
        s.skipped += self.skipped;
        s.mm_uses += self.mm_uses;
        s.inline += self.inline;
        s.deferred += self.deferred;
    }
}

/// What [`UserContext::handle`] did with an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Handled {
    /// Handled: written, failed, skipped, or nothing to write.
    Done,
    /// Not handled: its CR could not be written without waiting; it goes to the work item.
    Deferred,
}

/// Counters of a device's fault path.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FaultStats {
    /// Entries handled by a context's work (written, failed, not to be written, or skipped).
    pub(crate) handled: u64,
    /// Entries with no context (no process has that PASID open on that WQ).
    pub(crate) no_ctx: u64,
    /// Entries skipped because their context was closing.
    pub(crate) skipped: u64,
    /// Entries dropped because the fault path was shut down (the device is going away).
    pub(crate) lost: u64,
    /// Times an entry could not be taken because [`PENDING_MAX`] entries were pending (or
    /// memory for one could not be had): the event log was left undrained until there was
    /// room.
    pub(crate) backpressure: u64,
    /// Most entries pending at once.
    pub(crate) peak_pending: u64,
    /// Address-space adoptions (`mmget_not_zero()` + `kthread_use_mm()`): one per run of a
    /// context's entries, not one per entry.
    pub(crate) mm_uses: u64,
    /// Entries the drain handled itself (inline, without waking a work item).
    pub(crate) inline: u64,
    /// Entries handed to their context's work item: the context had entries queued or being
    /// handled, a CR page could not be faulted in without waiting, or the drain ran in a
    /// process (at release) rather than a kernel thread.
    pub(crate) deferred: u64,
}

impl FaultStats {
    /// Adds `o`'s counts to these (`peak_pending` is not a count: left as it is).
    fn add(&mut self, o: &FaultStats) {
        self.handled += o.handled;
        self.no_ctx += o.no_ctx;
        self.skipped += o.skipped;
        self.lost += o.lost;
        self.backpressure += o.backpressure;
        self.mm_uses += o.mm_uses;
        self.inline += o.inline;
        self.deferred += o.deferred;
    }
}

/// Why [`FaultPath::try_push`] did not take an entry: [`PENDING_MAX`] entries are pending (or
/// no memory could be had for one). Try again after [`FaultPath::wait_room`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Full;

/// What a fault path and its contexts share.
#[pin_data]
struct Shared {
    /// Entries pending (queued to a context's work item and not handled yet), and whether the
    /// path is shut down. Taken under a context's `state` lock, never the other way round.
    #[pin]
    budget: SpinLock<Budget>,
    /// Signalled when pending entries are handled (room for more) or at shutdown.
    #[pin]
    room: CondVar,
    #[pin]
    stats: SpinLock<FaultStats>,
    /// Signalled when a software error is attributed to a context (`poll` waits on it).
    #[pin]
    err_wait: PollCondVar,
    wq: Arc<OwnedQueue>,
}

struct Budget {
    /// Entries queued to contexts' work items and not handled yet. With the entries the drain
    /// has collected and not handled ([`InlineRun`], at most [`INLINE_RUN_MAX`]), never more
    /// than `max`: [`FaultPath::try_push`] checks the sum.
    pending: usize,
    /// Most entries held at once so far (queued, plus collected by the drain).
    peak: usize,
    /// Threads waiting in [`FaultPath::wait_room`] (only they need waking).
    waiting: usize,
    /// Most entries pending at once: [`PENDING_MAX`], or less in tests.
    max: usize,
    /// The device is going away: nothing more is taken.
    dead: bool,
}

impl Shared {
    /// Returns `n` handled entries' room.
    fn release(&self, n: usize) {
        let mut b = self.budget.lock();
        b.pending -= n;
        let waiting = b.waiting != 0;
        drop(b);
        if waiting {
            self.room.notify_all();
        }
    }
}

/// The XArray index of the contexts of `pasid` (20 bits) on WQ `wq`.
fn key(pasid: u32, wq: u8) -> usize {
    (pasid as usize) << 8 | usize::from(wq)
}

/// A device's fault path: its contexts, found by PASID and WQ, and the workqueue their work
/// items run on.
///
/// # Locks
///
/// All are taken after the device's locks (the misc interrupt's handler pushes entries while
/// it holds the event-log lock). `ctxs` (sleeping) serialises adding and removing contexts;
/// `by_key` (the XArray's spinlock) is taken under it, and by lookups (under `inline` in the
/// drain). A context's
/// `state` (sleeping) is never taken under `by_key`; the shared `budget` spinlock is taken
/// under a context's `state`; `stats` is a leaf. `inline` (sleeping) is the drain's: taken by
/// [`Self::try_push`], [`Self::end_drain`], [`Self::wait_room`], at shutdown, and briefly by
/// [`Self::remove_ctx`] and [`Self::stats`] (under none of these), and held while the drain
/// handles a run itself (a context's `state`, held for the whole run, `budget`, `by_key`,
/// `stats` and the address space's mmap lock, only ever tried, are taken under it); work
/// items never take it.
#[pin_data]
pub(crate) struct FaultPath {
    /// Every context, oldest first (for the per-WQ sums, and to rebuild a key's list).
    #[pin]
    ctxs: Mutex<KVec<Arc<UserContext>>>,
    /// The contexts of each (PASID, WQ) ([`key`]), oldest first: a process that opened a
    /// shared WQ more than once has one per file.
    #[pin]
    by_key: XArray<KBox<KVec<Arc<UserContext>>>>,
    /// The run the drain is collecting: consecutive entries of one context.
    #[pin]
    inline: Mutex<InlineRun>,
    shared: Arc<Shared>,
}

/// Consecutive entries of one context collected by [`FaultPath::try_push`], handled as one
/// run when another context's entry comes, [`INLINE_RUN_MAX`] are collected, or the drain ends.
struct InlineRun {
    /// The context of the entries; kept after they are handled, so that the next drain's
    /// entries of the same context need no lookup ([`FaultPath::remove_ctx`] takes it away).
    ctx: Option<Arc<UserContext>>,
    /// The entries (not in [`Budget::pending`] until handed to a work item); the vector keeps
    /// its memory from run to run.
    entries: KVec<DsaEvlEntry>,
    /// The last [`FaultPath::try_push`] could not allocate.
    nomem: bool,
    /// What the drain's own thread did: added to [`Shared::stats`] when they are read, so that
    /// a run handled inline takes no lock of the statistics.
    stats: FaultStats,
}

/// Most entries of one context collected before they are handled: 4 KiB.
const INLINE_RUN_MAX: usize = 64;

impl FaultPath {
    /// A fault path with its own workqueue, holding at most [`PENDING_MAX`] entries.
    ///
    /// Returns `ENOMEM` on allocation failure.
    pub(crate) fn new() -> Result<Arc<Self>> {
        // Unbound, not ordered: the contexts' work items run in parallel (each one in order
        // with itself, as every work item).
        let wq = Arc::new(
            OwnedQueue::new(c"ridxd_fault", flags::UNBOUND | flags::MEM_RECLAIM, 0)?,
            GFP_KERNEL,
        )?;
        let shared = Arc::pin_init(
            try_pin_init!(Shared {
                budget <- new_spinlock!(
                    Budget { pending: 0, peak: 0, waiting: 0, max: PENDING_MAX, dead: false },
                    "ridxd::fault::budget"
                ),
                room <- new_condvar!("ridxd::fault::room"),
                stats <- new_spinlock!(FaultStats::default(), "ridxd::fault::stats"),
                err_wait <- new_poll_condvar!("ridxd::fault::err_wait"),
                wq,
            }),
            GFP_KERNEL,
        )?;
        Arc::pin_init(
            try_pin_init!(Self {
                ctxs <- new_mutex!(KVec::new(), "ridxd::fault::ctxs"),
                by_key <- XArray::new(AllocKind::Alloc),
                inline <- new_mutex!(
                    InlineRun {
                        ctx: None,
                        entries: KVec::new(),
                        nomem: false,
                        stats: FaultStats::default(),
                    },
                    "ridxd::fault::inline"
                ),
                shared,
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
    /// Returns `ENOMEM` on allocation failure (nothing is registered then).
    pub(crate) fn add_ctx(&self, pasid: u32, wq: u8, mm: &Mm) -> Result<Arc<UserContext>> {
        let ctx = Arc::pin_init(
            pin_init!(UserContext {
                pasid,
                wq,
                mm: ARef::from(mm),
                shared: self.shared.clone(),
                closing: Atomic::new(0),
                batch_fail: [const { Atomic::new(0) }; 4],
                state <- new_mutex!(
                    CtxState {
                        counters: CrCounters::default(),
                        errors: 0,
                        queue: KVec::new(),
                        busy: false,
                    },
                    "ridxd::fault::ctx"
                ),
                work <- new_work!("ridxd::fault::ctx_work"),
            }),
            GFP_KERNEL,
        )?;
        let mut all = self.ctxs.lock();
        all.reserve(1, GFP_KERNEL)?;
        // The key's new list, built aside and swapped in, so that lookups never miss the
        // contexts already there.
        let mut same = KVec::new();
        for c in all.iter().filter(|c| c.pasid == pasid && c.wq == wq) {
            same.push(c.clone(), GFP_KERNEL)?;
        }
        same.push(ctx.clone(), GFP_KERNEL)?;
        let same = KBox::new(same, GFP_KERNEL)?;
        let old = self
            .by_key
            .lock()
            .store(key(pasid, wq), same, GFP_KERNEL)
            .map_err(Error::from)?;
        drop(old);
        all.push_within_capacity(ctx.clone()).map_err(|_| ENOMEM)?;
        Ok(ctx)
    }

    /// Removes `ctx`: its entries are skipped from now on, its own work is waited for (no
    /// other context's), then it leaves the maps. The caller drops its reference (and with it
    /// the `mm`) after. (The device must already have stopped using the PASID: drained.)
    pub(crate) fn remove_ctx(&self, ctx: &Arc<UserContext>) {
        self.close_ctx(ctx);
        {
            // Entries the drain collected for it and has not handled are skipped now (a drain
            // looks it up again and finds it closing): nothing of it is queued after the flush.
            let mut run = self.inline.lock();
            if run.ctx.as_ref().is_some_and(|c| Arc::ptr_eq(c, ctx)) {
                run.stats.skipped += run.entries.len() as u64;
                run.stats.handled += run.entries.len() as u64;
                run.entries.clear();
                run.ctx = None;
            }
        }
        ctx.work.flush();
        let mut all = self.ctxs.lock();
        all.retain(|c| !Arc::ptr_eq(c, ctx));
        let k = key(ctx.pasid, ctx.wq);
        let mut xa = self.by_key.lock();
        let now_empty = match xa.get_mut(k) {
            Some(same) => {
                same.retain(|c| !Arc::ptr_eq(c, ctx));
                same.is_empty()
            }
            None => false,
        };
        let gone = if now_empty { xa.remove(k) } else { None };
        drop(xa);
        drop(gone);
    }

    /// Marks `ctx` closing: its entries are skipped from now on (not written, not counted),
    /// also those already queued to it. [`Self::remove_ctx`] does it too.
    pub(crate) fn close_ctx(&self, ctx: &Arc<UserContext>) {
        let _st = ctx.state.lock();
        ctx.closing.store(1, Relaxed);
    }

    /// Number of contexts registered: one per open file, until its release (or its
    /// revocation) removes it.
    pub(crate) fn ctx_count(&self) -> usize {
        self.ctxs.lock().len()
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
        &self.shared.err_wait
    }

    /// Attributes a software error (SWERR) to the context using `pasid` on WQ `wq`, if there is
    /// one, and wakes its pollers. Must be called in process context.
    pub(crate) fn note_error(&self, pasid: u32, wq: u8) {
        if let Some(ctx) = self.find(pasid, wq) {
            ctx.add_error();
        }
    }

    /// The context of `pasid` on `wq`: the oldest one not closing, else a closing one. One
    /// XArray lookup, whatever the number of contexts.
    fn find(&self, pasid: u32, wq: u8) -> Option<Arc<UserContext>> {
        let xa = self.by_key.lock();
        let same = xa.get(key(pasid, wq))?;
        let found = same
            .iter()
            .find(|c| !c.is_closing())
            .or(same.first())
            .cloned();
        found
    }

    /// Hands an event-log entry to its context: consecutive entries of one context are
    /// collected as a run, handled when another context's entry comes, 64 are collected, or
    /// the drain ends ([`Self::end_drain`]). CR-carrying entries are written, others are
    /// attributed to the context as software errors. An entry with no context, or whose
    /// context is closing, is counted and dropped at once. The context of the last run is
    /// remembered: a drain's entries of the context it had last need no lookup.
    ///
    /// Returns [`Full`] when [`PENDING_MAX`] entries are held (queued to work items, or
    /// collected here), or no memory could be had: the entry was not taken. Must be called in
    /// process context (it may allocate).
    pub(crate) fn try_push(&self, e: &DsaEvlEntry) -> Result<(), Full> {
        let sh = &*self.shared;
        let h = &e.header;
        let (pasid, wq) = (h.pasid(), h.info.wq_idx());
        let mut run = self.inline.lock();
        let cached = matches!(
            &run.ctx,
            Some(c) if c.pasid == pasid && c.wq == wq && !c.is_closing()
        );
        if !cached {
            let Some(ctx) = self.find(pasid, wq) else {
                run.stats.no_ctx += 1;
                return Ok(());
            };
            if ctx.is_closing() {
                run.stats.skipped += 1;
                return Ok(());
            }
            self.flush_run(&mut run);
            run.ctx = Some(ctx);
        }
        if run.entries.len() >= INLINE_RUN_MAX {
            self.flush_run(&mut run);
        }
        if run.entries.reserve(1, GFP_KERNEL).is_err() {
            run.nomem = true;
            run.stats.backpressure += 1;
            return Err(Full);
        }
        let held = run.entries.len() + 1;
        let mut b = sh.budget.lock();
        if b.dead {
            drop(b);
            run.stats.lost += 1;
            return Ok(());
        }
        if b.pending + held > b.max {
            drop(b);
            run.stats.backpressure += 1;
            return Err(Full);
        }
        if b.pending + held > b.peak {
            b.peak = b.pending + held;
        }
        drop(b);
        // Reserved above, under the same lock.
        let _ = run.entries.push_within_capacity(*e);
        Ok(())
    }

    /// Handles the entries [`Self::try_push`] collected: the drain calls it when it has
    /// handed over every entry it found (and [`Self::wait_room`] before it waits).
    pub(crate) fn end_drain(&self) {
        let mut run = self.inline.lock();
        self.flush_run(&mut run);
    }

    /// Handles the collected run of one context: inline, in the calling thread, when nothing
    /// of the context is queued or being handled and its CRs can be written without waiting;
    /// what cannot be goes to the context's work item, behind what it has. The run's context
    /// stays remembered.
    fn flush_run(&self, run: &mut InlineRun) {
        let InlineRun {
            ctx,
            entries,
            stats,
            ..
        } = run;
        let Some(ctx) = ctx.as_ref() else {
            return;
        };
        if entries.is_empty() {
            return;
        }
        let mut t = Tally::default();
        let mut st = ctx.state.lock();
        let done = if st.busy || !st.queue.is_empty() || ctx.is_closing() {
            0
        } else {
            // Handled under the context's lock, taken once: an inline run never sleeps, and
            // the context's work item, which takes the lock to start, waits for it.
            let n = ctx.handle_run(entries, true, &mut t);
            t.add_to_ctx(&mut st);
            n
        };
        t.inline = done as u64;
        let rest = &entries[done..];
        t.deferred = rest.len() as u64;
        if !rest.is_empty() {
            st = self.queue_to_work(ctx, st, rest, rest.len());
        }
        drop(st);
        t.add_to_stats(stats);
        if t.errors != 0 {
            self.shared.err_wait.notify_all();
        }
        entries.clear();
    }

    /// Appends `entries` to `ctx`'s queue, behind what it has, counts `count` more pending, and
    /// queues its work item. `st` is `ctx`'s state, locked; it is given back locked (it is
    /// dropped while waiting for memory: entries are not dropped for the lack of it).
    fn queue_to_work<'a>(
        &self,
        ctx: &'a Arc<UserContext>,
        mut st: MutexGuard<'a, CtxState>,
        entries: &[DsaEvlEntry],
        count: usize,
    ) -> MutexGuard<'a, CtxState> {
        let sh = &*self.shared;
        while st.queue.extend_from_slice(entries, GFP_KERNEL).is_err() {
            drop(st);
            sh.stats.lock().backpressure += 1;
            fsleep(Delta::from_millis(1));
            st = ctx.state.lock();
        }
        // Queued under the budget lock, so that `shutdown` (which sets `dead` under it, then
        // drains the workqueue) never sees a work queued after it began. `Err`: the work is
        // already queued, and will take these entries.
        let mut b = sh.budget.lock();
        b.pending += count;
        if !b.dead {
            let _ = sh.wq.enqueue(ctx.clone());
        }
        drop(b);
        st
    }

    /// Hands `entries` to `ctx` as one run, with one queueing of its work (the benchmark's
    /// runs): each entry is looked up as [`Self::try_push`] does and must belong to `ctx`.
    ///
    /// Returns `EINVAL` for an entry of another context or a closing `ctx`, `EBUSY` when the
    /// entries do not fit in the bound now.
    #[cfg(CONFIG_INTEL_IDXD_RUST_SIM)]
    pub(crate) fn push_run(&self, ctx: &Arc<UserContext>, entries: &[DsaEvlEntry]) -> Result {
        for e in entries {
            match self.find(e.header.pasid(), e.header.info.wq_idx()) {
                Some(c) if Arc::ptr_eq(&c, ctx) => {}
                _ => return Err(EINVAL),
            }
        }
        let st = ctx.state.lock();
        if ctx.is_closing() {
            return Err(EINVAL);
        }
        let mut b = self.shared.budget.lock();
        if b.dead || b.pending + entries.len() > b.max {
            return Err(EBUSY);
        }
        b.pending += entries.len();
        if b.pending > b.peak {
            b.peak = b.pending;
        }
        drop(b);
        drop(self.queue_to_work(ctx, st, entries, 0));
        Ok(())
    }

    /// Waits until an entry could be taken: handles the collected run first
    /// ([`Self::end_drain`]), then waits until fewer than [`PENDING_MAX`] entries are pending,
    /// or for 1 ms if the last [`Self::try_push`] found no memory. Returns `false` once the
    /// fault path is shut down. May sleep; the wait ends because contexts' work items run,
    /// which wait on nothing of the caller's.
    pub(crate) fn wait_room(&self) -> bool {
        let nomem = {
            let mut run = self.inline.lock();
            self.flush_run(&mut run);
            core::mem::take(&mut run.nomem)
        };
        let sh = &*self.shared;
        let mut b = sh.budget.lock();
        while b.pending >= b.max && !b.dead {
            b.waiting += 1;
            sh.room.wait(&mut b);
            b.waiting -= 1;
        }
        let alive = !b.dead;
        drop(b);
        if nomem && alive {
            fsleep(Delta::from_millis(1));
        }
        alive
    }

    /// Sets the most entries pending at once to `max` instead of [`PENDING_MAX`] (tests use
    /// small bounds to reach it). `EINVAL` for 0 (nothing could ever be taken).
    #[cfg(all(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST, CONFIG_INTEL_IDXD_RUST_SIM))]
    pub(crate) fn set_max_pending(&self, max: usize) -> Result {
        if max == 0 {
            return Err(EINVAL);
        }
        self.shared.budget.lock().max = max;
        self.shared.room.notify_all();
        Ok(())
    }

    /// Queues `e` like [`Self::try_push`], waiting for room as long as needed.
    #[cfg(all(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST, CONFIG_INTEL_IDXD_RUST_SIM))]
    pub(crate) fn push(&self, e: &DsaEvlEntry) {
        while self.try_push(e).is_err() {
            if !self.wait_room() {
                return;
            }
        }
    }

    /// Waits until every entry pushed so far has been handled (the collected run first, as at
    /// the end of a drain).
    #[cfg(all(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST, CONFIG_INTEL_IDXD_RUST_SIM))]
    pub(crate) fn flush(&self) {
        self.end_drain();
        self.shared.wq.flush();
    }

    /// The most entries it holds at once ([`PENDING_MAX`] unless a test set it lower).
    pub(crate) fn max_pending(&self) -> usize {
        self.shared.budget.lock().max
    }

    /// The fault path's counters.
    pub(crate) fn stats(&self) -> FaultStats {
        let mut s = self.inline.lock().stats;
        s.add(&self.shared.stats.lock());
        s.peak_pending = self.shared.budget.lock().peak as u64;
        s
    }

    /// Stops taking entries, wakes a drain waiting for room, and waits for the contexts'
    /// work; after this no work of the fault path is pending or running. Must not be called
    /// from a context's work.
    pub(crate) fn shutdown(&self) {
        {
            // Nothing is collected outside a drain, which always ends with `end_drain`.
            let mut run = self.inline.lock();
            run.stats.lost += run.entries.len() as u64;
            run.entries.clear();
            run.ctx = None;
        }
        self.shared.budget.lock().dead = true;
        self.shared.room.notify_all();
        self.shared.wq.drain();
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
