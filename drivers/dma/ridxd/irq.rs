// SPDX-License-Identifier: GPL-2.0

//! The misc interrupt (MSI-X vector 0) and what it dispatches: command completion, software
//! errors (SWERR), a device halt, and the event log.
//!
//! Facts (`registers.h`): INTCAUSE (0x98) says why the vector fired and is cleared by writing
//! the bits back (`IDXD_INTC_ERR` 0x01, `IDXD_INTC_CMD` 0x02, `IDXD_INTC_HALT_STATE` 0x10,
//! `IDXD_INTC_EVL` 0x20); SWERR (0xc0, 256 bits) holds one software error until acknowledged
//! with `IDXD_SWERR_ACK`, its `overflow` bit saying more were lost; GENSTS.state HALT with
//! GENSTS.reset_type says which reset a halted device needs.

use crate::{
    cmd::Commands,
    evl::{self, EvlKind, EvlRing, Take},
    fault::FaultPath,
    hw::DsaEvlEntry,
    hwif::DeviceIo,
    regs::{self, intcause, off, DeviceState, ResetType},
};
use kernel::{
    device::Device,
    new_spinlock,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, Mutex, SpinLock,
    },
    time::{Delta, Instant, Monotonic},
};

/// Counters of a device's misc interrupt, as read by [`MiscIrq::stats`].
#[cfg(all(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST, CONFIG_INTEL_IDXD_RUST_SIM))]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DevStats {
    /// Event-log entries drained.
    pub(crate) evl_entries: u64,
    /// Of those, CR faults (`CRA_XLAT`), batch CRs and drain CRs.
    pub(crate) evl_cr: u64,
    /// Of those, other errors.
    pub(crate) evl_other: u64,
    /// Command completions signalled by the misc interrupt (INTCAUSE.CMD).
    pub(crate) cmd_irqs: u64,
    /// Times the device halted (INTCAUSE.HALT_STATE with GENSTS.state HALT).
    pub(crate) halts: u64,
}

/// The counters of [`DevStats`], each an atomic (they are only ever added to).
struct Counters {
    evl_entries: Atomic<u64>,
    evl_cr: Atomic<u64>,
    evl_other: Atomic<u64>,
    cmd_irqs: Atomic<u64>,
    halts: Atomic<u64>,
}

/// At most [`RateLimit::BURST`] messages per [`RateLimit::WINDOW`].
struct RateLimit {
    start: Option<Instant<Monotonic>>,
    count: u32,
}

impl RateLimit {
    const BURST: u32 = 10;
    const WINDOW: Delta = Delta::from_secs(5);

    fn allow(&mut self) -> bool {
        let now = Instant::<Monotonic>::now();
        match self.start {
            Some(t) if now - t < Self::WINDOW => {}
            _ => {
                self.start = Some(now);
                self.count = 0;
            }
        }
        self.count += 1;
        self.count <= Self::BURST
    }
}

/// What the misc interrupt of one device works on.
pub(crate) struct MiscCtx<'a, I: DeviceIo + ?Sized> {
    /// The bus device, for messages.
    pub(crate) dev: &'a Device,
    /// The device's registers.
    pub(crate) io: &'a I,
    /// Command waiters, woken on INTCAUSE.CMD.
    pub(crate) cmds: &'a Commands,
    /// The event-log ring, while set up.
    pub(crate) evl: &'a Mutex<Option<EvlRing>>,
    /// Where CR-carrying entries and software errors go.
    pub(crate) faults: &'a Arc<FaultPath>,
}

/// The misc interrupt's own state: counters and the message rate limit.
///
/// # Locks
///
/// `ratelimit` is a leaf spinlock. The handler takes the event-log lock (`ctx.evl`) while it
/// drains the ring and the fault path's locks under it ([`FaultPath::try_push`]); when the
/// fault path is full it waits, holding the event-log lock, for fix-ups to make room
/// ([`FaultPath::wait_room`]), which the fault path's work items do without taking any device
/// lock. It takes no other device lock, so commands may wait for INTCAUSE.CMD while holding
/// the configuration lock (a full fault path delays that completion until there is room).
#[pin_data]
pub(crate) struct MiscIrq {
    counters: Counters,
    #[pin]
    ratelimit: SpinLock<RateLimit>,
}

impl MiscIrq {
    /// Zeroed counters.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            counters: Counters {
                evl_entries: Atomic::new(0),
                evl_cr: Atomic::new(0),
                evl_other: Atomic::new(0),
                cmd_irqs: Atomic::new(0),
                halts: Atomic::new(0),
            },
            ratelimit <- new_spinlock!(RateLimit { start: None, count: 0 }, "ridxd::irq::ratelimit"),
        })
    }

    /// The counters.
    #[cfg(all(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST, CONFIG_INTEL_IDXD_RUST_SIM))]
    pub(crate) fn stats(&self) -> DevStats {
        let c = &self.counters;
        DevStats {
            evl_entries: c.evl_entries.load(Relaxed),
            evl_cr: c.evl_cr.load(Relaxed),
            evl_other: c.evl_other.load(Relaxed),
            cmd_irqs: c.cmd_irqs.load(Relaxed),
            halts: c.halts.load(Relaxed),
        }
    }

    fn warn_allowed(&self) -> bool {
        self.ratelimit.lock().allow()
    }

    /// The misc interrupt: acknowledges INTCAUSE, wakes the command waiter, reports a software
    /// error or a halt, drains the event log. Runs in process context (a threaded handler, or
    /// the model's work). Returns the reset a halted device needs, if it halted (the caller
    /// has the device recovered where the driver can).
    pub(crate) fn handle<I: DeviceIo + ?Sized>(&self, ctx: &MiscCtx<'_, I>) -> Option<ResetType> {
        let cause = ctx.io.read32(off::INTCAUSE);
        if cause == 0 {
            return None;
        }
        let mut halt = None;
        ctx.io.write32(off::INTCAUSE, cause);
        if cause & intcause::CMD != 0 {
            self.counters.cmd_irqs.add(1, Relaxed);
            ctx.cmds.completed();
        }
        if cause & intcause::ERR != 0 {
            self.report_swerr(ctx);
        }
        if cause & intcause::HALT_STATE != 0 {
            halt = self.report_halt(ctx);
        }
        if cause & intcause::EVL != 0 {
            self.drain_evl(ctx);
        }
        halt
    }

    /// Reports a halt: the device stopped on a fatal error and works again only after the
    /// reset GENSTS.reset_type names. Returns that reset if the device is halted: the driver
    /// does a software reset (Reset Device) and has a function-level one done
    /// ([`crate::device::Recovery`], as idxd's `idxd_halt()`); the others are outside it.
    fn report_halt<I: DeviceIo + ?Sized>(&self, ctx: &MiscCtx<'_, I>) -> Option<ResetType> {
        let st = regs::GenSts::from_raw(ctx.io.read32(off::GENSTS));
        if st.state() != DeviceState::Halt {
            return None;
        }
        self.counters.halts.add(1, Relaxed);
        let (reset, how) = match st.reset_type() {
            ResetType::Software => ("software", "resetting it, then enabling it again"),
            ResetType::Flr => ("function-level", "resetting the PCI function"),
            ResetType::Warm => ("warm", "a warm reset of the platform"),
            ResetType::Cold => ("cold", "a cold reset of the platform"),
        };
        dev_err!(
            ctx.dev,
            "device halted: it needs a {} reset ({})\n",
            reset,
            how
        );
        Some(st.reset_type())
    }

    /// Reads, reports (rate-limited) and acknowledges SWERR; attributes the error to its
    /// process when SWERR names the descriptor's PASID and WQ.
    fn report_swerr<I: DeviceIo + ?Sized>(&self, ctx: &MiscCtx<'_, I>) {
        let q0 = regs::SwErr0::from_raw(ctx.io.read64(off::SWERR));
        if !q0.valid() {
            return;
        }
        let fault_addr = ctx.io.read64(off::SWERR + 16);
        ctx.io.write64(off::SWERR, regs::SWERR_ACK);
        if q0.wq_idx_valid() && q0.desc_valid() {
            ctx.faults.note_error(q0.pasid().get() as u32, q0.wq_idx());
        }
        if self.warn_allowed() {
            let more = if q0.overflow() {
                ", more were lost"
            } else {
                ""
            };
            dev_warn!(
                ctx.dev,
                "software error {:#x}: wq {} (valid {}), opcode {:#x}, pasid {:#x}, fault address {:#x}{}\n",
                q0.error(),
                q0.wq_idx(),
                u8::from(q0.wq_idx_valid()),
                q0.operation(),
                q0.pasid().get(),
                fault_addr,
                more
            );
        }
    }

    /// Drains the event log, handing each entry to the fault path. Called by [`Self::handle`]
    /// for INTCAUSE.EVL, and directly by code that must not wait for the interrupt.
    pub(crate) fn drain_evl<I: DeviceIo + ?Sized>(&self, ctx: &MiscCtx<'_, I>) {
        let ring = ctx.evl.lock();
        let Some(ring) = ring.as_ref() else {
            return;
        };
        let mut cr = 0u64;
        let mut other = 0u64;
        let take = |index: u32, e: &DsaEvlEntry| {
            let kind = EvlKind::of(e);
            if ctx.faults.try_push(e).is_err() {
                return Take::Full;
            }
            if kind == EvlKind::Other {
                // Attributed to its process (for `poll`) by the fault path.
                other += 1;
                if self.warn_allowed() {
                    dev_warn!(
                        ctx.dev,
                        "event log error {:#x}: wq {}, opcode {:#x}, pasid {:#x}, address {:#x}\n",
                        e.header.info.error(),
                        e.header.info.wq_idx(),
                        e.header.info.operation(),
                        e.header.info.pasid(),
                        e.header.fault_addr
                    );
                }
            } else {
                // The completion-record fix-up writes these into the owner's memory.
                cr += 1;
                dev_dbg!(
                    ctx.dev,
                    "evl[{}]: error {:#x} wq {} pasid {:#x} op {:#x} cr {:#x} status {:#x}\n",
                    index,
                    e.header.info.error(),
                    e.header.info.wq_idx(),
                    e.header.info.pasid(),
                    e.header.info.operation(),
                    e.header.fault_addr,
                    e.cr.status
                );
            }
            Take::Taken
        };
        // Back-pressure: with the fault path full, the ring is left undrained (the device
        // waits for room) until fix-ups make room.
        let n = evl::drain(ctx.io, ring, take, || ctx.faults.wait_room());
        // The last run of entries the fault path collected: written now, by this thread.
        ctx.faults.end_drain();
        let c = &self.counters;
        c.evl_entries.add(u64::from(n), Relaxed);
        c.evl_cr.add(cr, Relaxed);
        c.evl_other.add(other, Relaxed);
    }
}
