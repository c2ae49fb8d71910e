// SPDX-License-Identifier: GPL-2.0

//! The fault path's benchmark (model builds, `CONFIG_INTEL_IDXD_RUST_SIM`): what a CR fix-up
//! costs, measured against the bare minimum a fix-up must do, in the same run.
//!
//! `/sys/kernel/debug/ridxd/bench` (root only, as all of debugfs). Writing a command runs it
//! in the writer's process, whose address space plays the process whose CRs are fixed up, on
//! a fault path of the benchmark's own (no device is involved: entries are made up, as the
//! event log would yield them). Reading gives the figures so far, one per line, each measured
//! five times and printed as "median (min..max)" (TCG guests are noisy); the user
//! program `ridxd_bench` (`tools/testing/selftests/drivers/dma/ridxd/`) drives it.
//!
//! ```text
//! fixup ADDR PAGES      ADDR: PAGES present, writable pages of the writer (CRs land there)
//!     limit_ns N        mmget_not_zero() + kthread_use_mm() + a 32-byte copy to a present
//!                       page, per fix-up, in a kernel thread: what any fix-up must cost
//!     run<K>_ns N ratio R   a run of K (1, 16, 1024) entries of one context as the drain
//!                       hands them over (in a kernel thread, as the misc interrupt's thread):
//!                       from the first entry handed over to the last status byte written,
//!                       per CR, and its ratio to limit_ns
//!     queued_run<K>_ns N ratio R   the same through the context's work item (the path of
//!                       entries the drain defers): handed over to written, as seen by a waiter
//!     contexts<C>_per_s N   fix-ups per second of one context in drained runs of 16, with C
//!                       (1, 100, 10000) contexts registered
//! procs-reset           forget the processes' counts
//! proc ADDR PAGES MS    fix-ups for MS ms in runs of 16 through the writer's own context's
//!                       work item (processes' work items run in parallel)
//! procs-report P        procs<P>_per_s N: the fix-ups of the `proc` runs since procs-reset,
//!                       per second of their common span
//! reset                 forget every figure
//! ```
//!
//! Errors: `EINVAL` for an unknown command or bad numbers (nothing is run), `ESRCH` when the
//! writer has no address space, the fault path's `ENOMEM`; a CR that could not be written
//! (pages not present or not writable) makes the command fail with `EFAULT`.

use crate::{
    fault::{FaultPath, UserContext},
    hw::{status, DsaEvlEntry, EvlInfo},
};
use kernel::{
    debugfs::{Dir, File},
    mm::Mm,
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    str::CString,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        Arc, Completion, Mutex,
    },
    time::{Delta, Instant, Monotonic},
    uaccess::{nofault, UserPtr, UserSliceReader},
    workqueue,
};

/// The benchmark's debugfs file; removed when dropped.
pub(crate) struct BenchFile {
    _file: Pin<KBox<File<Arc<Bench>>>>,
}

/// Creates `bench` under `root`.
///
/// Returns `ENOMEM` when the benchmark's fault path or the file cannot be allocated.
pub(crate) fn create(root: &Dir) -> Result<BenchFile> {
    let bench = Arc::pin_init(
        try_pin_init!(Bench {
            path: FaultPath::new()?,
            report <- new_mutex!(KVec::new(), "ridxd::bench::report"),
            procs <- new_mutex!(Procs::default(), "ridxd::bench::procs"),
            next_pasid: Atomic::new(1),
        }),
        GFP_KERNEL,
    )?;
    let file = KBox::pin_init(
        root.read_write_callback_file(
            c"bench",
            bench,
            &|b: &Arc<Bench>, f| {
                let r = b.report.lock();
                f.write_str(core::str::from_utf8(&r).unwrap_or("?\n"))
            },
            &|b: &Arc<Bench>, r| b.command(r),
        ),
        GFP_KERNEL,
    )?;
    Ok(BenchFile { _file: file })
}

/// Totals of the `proc` runs since `procs-reset`.
#[derive(Default)]
struct Procs {
    fixups: u64,
    first_start: Option<Instant<Monotonic>>,
    last_end: Option<Instant<Monotonic>>,
}

/// The benchmark's state: its own fault path, the figures so far, and the `proc` totals.
#[pin_data]
pub(crate) struct Bench {
    path: Arc<FaultPath>,
    /// The figures, as text.
    #[pin]
    report: Mutex<KVec<u8>>,
    #[pin]
    procs: Mutex<Procs>,
    /// PASIDs for the benchmark's contexts (its own fault path: no device's PASIDs).
    next_pasid: Atomic<u32>,
}

/// The WQ index the benchmark's contexts use.
const WQ: u8 = 0;
/// CR slots per page (32-byte records).
const SLOTS_PER_PAGE: usize = PAGE_SIZE / 32;
/// Entries measured per figure.
const ENTRIES: usize = 16384;

/// Parses a decimal or `0x` hexadecimal number.
fn number(s: &str) -> Result<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).map_err(|_| EINVAL),
        None => s.parse::<u64>().map_err(|_| EINVAL),
    }
}

/// The user memory the CRs go to: `pages` pages at `addr`.
#[derive(Clone, Copy)]
struct Slots {
    addr: u64,
    pages: usize,
}

impl Slots {
    fn parse(addr: Option<&str>, pages: Option<&str>) -> Result<Self> {
        let addr = number(addr.ok_or(EINVAL)?)?;
        let pages = number(pages.ok_or(EINVAL)?)? as usize;
        if addr % PAGE_SIZE as u64 != 0 || pages == 0 || pages > 1 << 20 {
            return Err(EINVAL);
        }
        Ok(Self { addr, pages })
    }

    /// The address of slot `i` (wrapping around the pages).
    fn at(&self, i: usize) -> u64 {
        self.addr + ((i % (self.pages * SLOTS_PER_PAGE)) * 32) as u64
    }
}

/// A CR-fault entry for `pasid` on [`WQ`] with its CR at `addr`.
fn entry(pasid: u32, addr: u64) -> DsaEvlEntry {
    let mut e = DsaEvlEntry::default();
    let info = EvlInfo::zeroed()
        .with_error(status::CRA_XLAT)
        .with_wq_idx(WQ);
    e.header.info = info.try_with_pasid(u64::from(pasid)).unwrap_or(info);
    e.header.fault_addr = addr;
    e.cr.status = status::SUCCESS;
    e.cr.bytes_completed = 32;
    e
}

/// `n` CR-fault entries for `pasid`, their CRs in successive slots.
fn entries_for(pasid: u32, slots: Slots, n: usize) -> Result<KVec<DsaEvlEntry>> {
    let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
    for i in 0..n {
        v.push(entry(pasid, slots.at(i)), GFP_KERNEL)?;
    }
    Ok(v)
}

/// How many times each figure is measured.
const RUNS: usize = 5;

/// A figure measured [`RUNS`] times: printed as "median (min..max)".
#[derive(Clone, Copy)]
struct Spread {
    median: u64,
    min: u64,
    max: u64,
}

impl kernel::fmt::Display for Spread {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        write!(f, "{} ({}..{})", self.median, self.min, self.max)
    }
}

/// Measures `f` [`RUNS`] times (TCG guests are noisy): median, min and max.
fn spread(mut f: impl FnMut() -> Result<u64>) -> Result<Spread> {
    let mut v = [0u64; RUNS];
    for x in v.iter_mut() {
        *x = f()?;
    }
    v.sort_unstable();
    Ok(Spread {
        median: v[RUNS / 2],
        min: v[0],
        max: v[RUNS - 1],
    })
}

/// Nanoseconds of `d`.
fn ns(d: Delta) -> u64 {
    d.as_nanos().max(0) as u64
}

impl Bench {
    fn command(&self, r: &mut UserSliceReader) -> Result {
        let mut buf = [0u8; 128];
        let n = r.len();
        if n == 0 || n >= buf.len() {
            return Err(EINVAL);
        }
        r.read_slice(&mut buf[..n])?;
        let line = core::str::from_utf8(&buf[..n]).map_err(|_| EINVAL)?;
        let mut words = line.split_ascii_whitespace();
        match words.next().ok_or(EINVAL)? {
            "fixup" => {
                let slots = Slots::parse(words.next(), words.next())?;
                self.fixup(slots)
            }
            "procs-reset" => {
                *self.procs.lock() = Procs::default();
                Ok(())
            }
            "proc" => {
                let slots = Slots::parse(words.next(), words.next())?;
                let ms = number(words.next().ok_or(EINVAL)?)?;
                if ms == 0 || ms > 60_000 {
                    return Err(EINVAL);
                }
                self.proc_run(slots, Delta::from_millis(ms as i64))
            }
            "procs-report" => {
                let p = number(words.next().ok_or(EINVAL)?)?;
                let pr = self.procs.lock();
                let span = match (pr.first_start, pr.last_end) {
                    (Some(a), Some(b)) => ns(b - a),
                    _ => return Err(EINVAL),
                };
                let per_s = pr.fixups * 1_000_000_000 / span.max(1);
                drop(pr);
                self.say(fmt!("procs{}_per_s {}\n", p, per_s))
            }
            "reset" => {
                self.report.lock().clear();
                Ok(())
            }
            _ => Err(EINVAL),
        }
    }

    /// Appends a line to the report (and the kernel log).
    fn say(&self, args: core::fmt::Arguments<'_>) -> Result {
        let s = CString::try_from_fmt(args)?;
        pr_info!("bench: {}", s.to_str().unwrap_or("?\n"));
        self.report
            .lock()
            .extend_from_slice(s.to_bytes(), GFP_KERNEL)?;
        Ok(())
    }

    /// Reports the cost per CR of runs of `k` entries, `<name><k>_ns`, and its ratio to the
    /// limit's median.
    fn say_per_cr(&self, name: &str, k: usize, per: Spread, limit: Spread) -> Result {
        let ratio = per.median * 100 / limit.median.max(1);
        self.say(fmt!(
            "{}{}_ns {} ratio {}.{:02}\n",
            name,
            k,
            per,
            ratio / 100,
            ratio % 100
        ))
    }

    /// The writer's address space.
    fn caller_mm() -> Result<ARef<Mm>> {
        let task = kernel::current!();
        let mm = task.mm().ok_or(ESRCH)?;
        let mm: &Mm = mm;
        Ok(ARef::from(mm))
    }

    fn new_ctx(&self, mm: &Mm) -> Result<Arc<UserContext>> {
        let pasid = self.next_pasid.fetch_add(1, Relaxed) & 0xfffff;
        self.path.add_ctx(pasid.max(1), WQ, mm)
    }

    /// Hands `entries` to `ctx` as one run and waits until its work has handled them.
    fn one_run(&self, ctx: &Arc<UserContext>, entries: &[DsaEvlEntry]) -> Result {
        self.path.push_run(ctx, entries)?;
        ctx.wait_idle();
        Ok(())
    }

    fn fixup(&self, slots: Slots) -> Result {
        let mm = Self::caller_mm()?;
        let limit = spread(|| limit_ns(&mm, slots))?;
        self.say(fmt!("limit_ns {}\n", limit))?;
        let ctx = self.new_ctx(&mm)?;
        let res = (|| -> Result {
            let entries = entries_for(ctx.pasid(), slots, 1024)?;
            for k in [1usize, 16, 1024] {
                let per = spread(|| {
                    let before = ctx.counters().cr_faults;
                    let per = drained(&self.path, &entries, k, ENTRIES)? / ENTRIES as u64;
                    if ctx.counters().cr_faults - before != ENTRIES as u64 {
                        return Err(EFAULT);
                    }
                    Ok(per)
                })?;
                self.say_per_cr("run", k, per, limit)?;
            }
            for k in [1usize, 16, 1024] {
                let per = spread(|| {
                    let before = ctx.counters().cr_faults;
                    let t0 = Instant::<Monotonic>::now();
                    for _ in 0..ENTRIES / k {
                        self.one_run(&ctx, &entries[..k])?;
                    }
                    let per = ns(Instant::<Monotonic>::now() - t0) / ENTRIES as u64;
                    if ctx.counters().cr_faults - before != ENTRIES as u64 {
                        return Err(EFAULT);
                    }
                    Ok(per)
                })?;
                self.say_per_cr("queued_run", k, per, limit)?;
            }
            Ok(())
        })();
        self.path.remove_ctx(&ctx);
        res?;
        for c in [1usize, 100, 10_000] {
            let per_s = self.with_contexts(&mm, slots, c)?;
            self.say(fmt!("contexts{}_per_s {}\n", c, per_s))?;
        }
        Ok(())
    }

    /// Fix-ups per second of one context in runs of 16, with `c` contexts registered in all.
    fn with_contexts(&self, mm: &Mm, slots: Slots, c: usize) -> Result<Spread> {
        let mut idle = KVec::with_capacity(c - 1, GFP_KERNEL)?;
        let res = (|| -> Result<Spread> {
            for _ in 1..c {
                idle.push(self.new_ctx(mm)?, GFP_KERNEL)?;
            }
            let ctx = self.new_ctx(mm)?;
            let r = (|| -> Result<Spread> {
                let entries = entries_for(ctx.pasid(), slots, 16)?;
                spread(|| {
                    let before = ctx.counters().cr_faults;
                    let t = drained(&self.path, &entries, 16, ENTRIES)?;
                    if ctx.counters().cr_faults - before != ENTRIES as u64 {
                        return Err(EFAULT);
                    }
                    Ok(ENTRIES as u64 * 1_000_000_000 / t.max(1))
                })
            })();
            self.path.remove_ctx(&ctx);
            r
        })();
        for c in idle.iter() {
            self.path.remove_ctx(c);
        }
        res
    }

    /// One process's share of `procs`: fix-ups in runs of 16 for `dur`.
    fn proc_run(&self, slots: Slots, dur: Delta) -> Result {
        let mm = Self::caller_mm()?;
        let ctx = self.new_ctx(&mm)?;
        let res = (|| -> Result<u64> {
            let entries = entries_for(ctx.pasid(), slots, 16)?;
            let t0 = Instant::<Monotonic>::now();
            let mut n = 0u64;
            while Instant::<Monotonic>::now() - t0 < dur {
                self.one_run(&ctx, &entries)?;
                n += 16;
            }
            let t1 = Instant::<Monotonic>::now();
            if ctx.counters().cr_faults != n {
                return Err(EFAULT);
            }
            let mut pr = self.procs.lock();
            pr.fixups += n;
            pr.first_start = Some(match pr.first_start {
                Some(s) if ns(t0 - s) == 0 => t0,
                Some(s) => s,
                None => t0,
            });
            pr.last_end = Some(match pr.last_end {
                Some(e) if ns(t1 - e) > 0 => t1,
                Some(e) => e,
                None => t1,
            });
            Ok(n)
        })();
        self.path.remove_ctx(&ctx);
        res.map(|_| ())
    }
}

/// Runs `f` in a kernel thread (a work item on the unbound system workqueue) and waits for
/// it; its result, or `EFAULT` when it failed.
fn in_kthread(f: impl FnOnce() -> Result<u64> + Send + 'static) -> Result<u64> {
    let done = Arc::pin_init(Completion::new(), GFP_KERNEL)?;
    let result = Arc::new(Atomic::<i64>::new(-1), GFP_KERNEL)?;
    let (done2, result2) = (done.clone(), result.clone());
    workqueue::queues::system_dfl().try_spawn(GFP_KERNEL, move || {
        let r = f().map_or(-1, |v| v as i64);
        result2.store(r, Relaxed);
        done2.complete_all();
    })?;
    done.wait_for_completion();
    match result.load(Relaxed) {
        t if t >= 0 => Ok(t as u64),
        _ => Err(EFAULT),
    }
}

/// Hands `total` entries to `path` as the event-log drain does, in runs of `k` taken from
/// `entries` (each run ended as a drain pass ends), in a kernel thread as the misc interrupt's
/// thread is. Returns the time it took, in ns.
fn drained(
    path: &Arc<FaultPath>,
    entries: &KVec<DsaEvlEntry>,
    k: usize,
    total: usize,
) -> Result<u64> {
    let path = path.clone();
    let mut run = KVec::with_capacity(k, GFP_KERNEL)?;
    run.extend_from_slice(&entries[..k], GFP_KERNEL)?;
    in_kthread(move || {
        let t0 = Instant::<Monotonic>::now();
        for _ in 0..total / k {
            for e in run.iter() {
                while path.try_push(e).is_err() {
                    if !path.wait_room() {
                        return Err(ENODEV);
                    }
                }
            }
            path.end_drain();
        }
        Ok(ns(Instant::<Monotonic>::now() - t0))
    })
}

/// The bare cost of a fix-up, per fix-up, in ns: `mmget_not_zero()`, `kthread_use_mm()` and a
/// 32-byte non-faulting copy into the present pages of `slots`, [`ENTRIES`] times, in a kernel
/// thread (a work item: only a thread without an address space may adopt one).
fn limit_ns(mm: &ARef<Mm>, slots: Slots) -> Result<u64> {
    let mm = mm.clone();
    in_kthread(move || {
        let rec = [0x5au8; 32];
        let t0 = Instant::<Monotonic>::now();
        for i in 0..ENTRIES {
            let m = mm.mmget_not_zero().ok_or(ESRCH)?;
            let addr = slots.at(i) as usize;
            let copy = move || nofault::write(UserPtr::from_addr(addr), &rec);
            m.kthread_use(copy)??;
        }
        Ok(ns(Instant::<Monotonic>::now() - t0) / ENTRIES as u64)
    })
}
