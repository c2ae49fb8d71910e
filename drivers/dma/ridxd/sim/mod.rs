// SPDX-License-Identifier: GPL-2.0

//! A software model of a DSA device: a test device in the spirit of `netdevsim` or `vdpa_sim`.
//!
//! There is no DSA hardware on the machines that build and test ridxd, and no public DSA
//! emulator. The model gives the driver a device that honours the DSA hardware contract: a
//! BAR0 register file ([`regfile`]), device commands, MSI-X-like interrupts, WQ portals, and a
//! descriptor engine ([`engine`]) working on the submitting process's virtual addresses
//! ([`mem`]), with page faults, completion records and the event log.
//!
//! It is written from the hardware facts (`drivers/dma/idxd/registers.h`,
//! `include/uapi/linux/idxd.h`, through [`crate::regs`] and [`crate::hw`]), not from what the
//! driver expects; where the two disagree the model is right unless the spec says otherwise.
//! See `Documentation/driver-api/ridxd.rst`, "The device model".
//!
//! Commands and descriptors run on the device's own workqueue, never in the caller's context,
//! as on hardware: a write to CMD returns at once with CMDSTS.active set, a portal write
//! returns once the descriptor is queued. The device has one engine thread: a descriptor that
//! waits for a page request (PRS enabled) holds up every WQ, as it holds up every WQ sharing
//! its engine on hardware.

use kernel::{
    mm::Mm,
    new_condvar, new_mutex, new_spinlock,
    prelude::*,
    sync::{Arc, CondVar, Mutex, SpinLock},
    time::{delay::fsleep, Delta},
    transmute::AsBytes,
    workqueue::{
        impl_has_work, new_work,
        owned::{flags, OwnedQueue},
        Work, WorkItem,
    },
};

pub(crate) mod engine;
pub(crate) mod mem;
mod personality;
mod regfile;
#[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
mod tests;
#[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
mod tests_engine;

use crate::{
    hw::{opcode, status, Descriptor, DsaEvlEntry},
    regs::{self, DeviceState},
};
use engine::{CrFate, Stats, WqCtx};
use mem::{Access, DmaRegion, PasidTable};
pub(crate) use personality::{Generation, Personality, NUM_WQS};
#[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
pub(crate) use regfile::CmdFault;
use regfile::{Quiesce, RegFile, WqMask, WriteEffect};

/// Receives the model's interrupts, as the MSI-X messages of a PCI device would be.
pub(crate) trait IrqSink: Send + Sync {
    /// Vector `vector` fired: 0 is the misc vector (commands, errors, event log), `1 + n` the
    /// completion vector of WQ `n`'s descriptors that asked for an interrupt.
    fn fire(&self, vector: u16);
}

/// Which of a shared WQ's portals a submission is written to (`enum idxd_portal_prot` of the C
/// driver's `idxd.h`). The unlimited portal takes a descriptor while the WQ holds fewer than
/// its size; the limited portal only while it holds fewer than its threshold (WQCFG dword 1;
/// `Documentation/ABI/stable/sysfs-driver-dma-idxd`: "the number of entries in this work
/// queue that may be filled via a limited portal").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Portal {
    /// Offset 0 of the WQ's portal pages.
    Unlimited,
    /// The next page: the one user mappings and idxd's (and ridxd's) `write()` use.
    Limited,
}

/// A descriptor waiting in a WQ.
#[derive(Clone, Copy, Debug)]
struct Submission {
    desc: Descriptor,
    /// The PASID of an ENQCMD(S) submission; a dedicated WQ uses its WQCFG PASID.
    pasid: Option<u32>,
    /// ENQCMDS with privilege.
    privileged: bool,
}

/// The WQs' descriptor queues.
struct Queues {
    q: [KVec<Submission>; NUM_WQS],
    /// Round-robin position.
    next: usize,
    /// Next batch identifier.
    batch_id: u8,
    /// Per WQ: a CR fault went to the event log since the last drain descriptor.
    evl_since_drain: [bool; NUM_WQS],
}

/// Connection of a model device to the outside.
struct Control {
    /// The owning [`SimHandle`] is gone: no work may be queued any more.
    dead: bool,
    /// Fault injection ([`SimDevice::inject_halt_in_batch`]): the next batch halts the device
    /// with this reset type before it runs sub-descriptor `.0`.
    batch_halt: Option<(u32, regs::ResetType)>,
    /// Bus mastering is off ([`SimDevice::stop_bus_mastering`]): the device makes no memory
    /// request any more.
    no_bus_master: bool,
}

/// Delivery of the device's interrupt messages to its [`IrqSink`].
///
/// With no delay a message is delivered at once, from the device's work. Hardware gives no
/// bound on when a message reaches software (a masked MSI-X vector holds it; the handler's
/// thread may not run for a while), so a delay can be set ([`SimDevice::set_irq_delay`]): the
/// messages are then held and delivered from a work of their own after the delay, while the
/// device goes on completing commands and writing event-log entries. A vector raised again
/// while its message is held is delivered once, as an MSI-X vector's pending bit holds one
/// message.
#[pin_data]
struct IrqDelivery {
    #[pin]
    state: SpinLock<IrqState>,
    #[pin]
    work: Work<IrqDelivery>,
    wq: Arc<OwnedQueue>,
}

struct IrqState {
    /// Where interrupts go.
    sink: Option<Arc<dyn IrqSink>>,
    /// How long a message is held before delivery.
    delay: Delta,
    /// Vectors raised and not delivered yet (bit `n`: vector `n`).
    held: u64,
    /// The owning [`SimHandle`] is gone: nothing more is queued.
    dead: bool,
}

impl_has_work! {
    impl HasWork<Self> for IrqDelivery { self.work }
}

impl WorkItem for IrqDelivery {
    type Pointer = Arc<IrqDelivery>;

    fn run(this: Arc<IrqDelivery>) {
        this.deliver_held();
    }
}

impl IrqDelivery {
    /// Raises vector `vector` (below 64).
    fn raise(self: &Arc<Self>, vector: u16) {
        let mut st = self.state.lock();
        if st.delay.as_nanos() == 0 {
            let sink = st.sink.clone();
            drop(st);
            if let Some(sink) = sink {
                sink.fire(vector);
            }
            return;
        }
        if st.dead || vector >= 64 {
            return;
        }
        st.held |= 1 << vector;
        drop(st);
        // An `Err` means the work is already queued; it will deliver this vector too.
        let _ = self.wq.enqueue(self.clone());
    }

    /// Waits for the delay, then delivers every held vector, lowest first.
    fn deliver_held(&self) {
        let delay = self.state.lock().delay;
        fsleep(delay);
        let (held, sink) = {
            let mut st = self.state.lock();
            (core::mem::take(&mut st.held), st.sink.clone())
        };
        let Some(sink) = sink else {
            return;
        };
        for v in 0..64u16 {
            if held & 1 << v != 0 {
                sink.fire(v);
            }
        }
    }
}

/// The driver buffers mapped for the device, at fake bus addresses.
struct DmaMap {
    maps: KVec<(u64, Arc<DmaRegion>)>,
    next: u64,
}

/// First bus address the model hands out; mappings are 4 GiB apart.
const DMA_BUS_BASE: u64 = 0x1000_0000_0000;

/// One model device.
///
/// Created through [`SimHandle::new`], which owns the device's workqueue and drains it before
/// the device goes away.
#[pin_data]
pub(crate) struct SimDevice {
    #[pin]
    regs: SpinLock<RegFile>,
    #[pin]
    ctl: SpinLock<Control>,
    irq: Arc<IrqDelivery>,
    #[pin]
    queues: SpinLock<Queues>,
    #[pin]
    pasids: Mutex<PasidTable>,
    #[pin]
    dma: SpinLock<DmaMap>,
    #[pin]
    stats: SpinLock<Stats>,
    /// Signalled when software frees event-log entries, or the device goes away.
    #[pin]
    evl_room: CondVar,
    #[pin]
    work: Work<SimDevice>,
    wq: Arc<OwnedQueue>,
}

impl_has_work! {
    impl HasWork<Self> for SimDevice { self.work }
}

impl WorkItem for SimDevice {
    type Pointer = Arc<SimDevice>;

    fn run(this: Arc<SimDevice>) {
        this.process();
    }
}

impl SimDevice {
    /// The device's personality (its read-only registers).
    pub(crate) fn personality(&self) -> Personality {
        self.regs.lock().p
    }

    /// Reads the 32-bit register at byte offset `off` of BAR0.
    pub(crate) fn read32(&self, off: usize) -> u32 {
        self.regs.lock().read32(off)
    }

    /// Reads the 64-bit register at byte offset `off` of BAR0.
    pub(crate) fn read64(&self, off: usize) -> u64 {
        self.regs.lock().read64(off)
    }

    /// Writes the 32-bit register at byte offset `off` of BAR0.
    pub(crate) fn write32(self: &Arc<Self>, off: usize, val: u32) {
        let effect = self.regs.lock().write32(off, val);
        self.effect(effect);
    }

    /// Writes the 64-bit register at byte offset `off` of BAR0.
    pub(crate) fn write64(self: &Arc<Self>, off: usize, val: u64) {
        let effect = self.regs.lock().write64(off, val);
        self.effect(effect);
    }

    /// Makes the device one that is not configurable, holding a configuration someone else
    /// programmed: `program` writes the configuration tables (GRPCFG, WQCFG, GENCFG) as the
    /// device's firmware or a host would, then GENCAP.config_en reads 0 and the tables are
    /// read-only to the driver. Call it before the driver probes the device.
    #[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
    pub(crate) fn program_as_firmware(self: &Arc<Self>, program: impl FnOnce(&Arc<Self>)) {
        self.regs.lock().firmware = true;
        program(self);
        let mut r = self.regs.lock();
        r.firmware = false;
        r.p.gencap = regs::GenCap::from_raw(r.p.gencap)
            .with_config_en(false)
            .into_raw();
    }

    /// Connects (or, with `None`, disconnects) the receiver of the device's interrupts.
    pub(crate) fn set_irq_sink(&self, sink: Option<Arc<dyn IrqSink>>) {
        self.irq.state.lock().sink = sink;
    }

    /// Disconnects the receiver of the device's interrupts and waits until no call into it is
    /// running (interrupts are only delivered from the device's work and the delivery work).
    /// Must not be called from the receiver itself.
    pub(crate) fn disconnect_irq(&self) {
        self.set_irq_sink(None);
        self.irq.wq.flush();
        self.wq.flush();
    }

    /// Sets how long the device's interrupt messages take to reach the receiver (zero: at
    /// once, the reset value). Fault injection: hardware bounds this by nothing.
    pub(crate) fn set_irq_delay(&self, delay: Delta) {
        self.irq.state.lock().delay = delay;
    }

    /// Number of DMA regions mapped for the device.
    #[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
    pub(crate) fn dma_mapped(&self) -> usize {
        self.dma.lock().maps.len()
    }

    /// The device's counters.
    #[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
    pub(crate) fn stats(&self) -> Stats {
        *self.stats.lock()
    }

    /// Fault injection for tests (KUnit, debugfs `inject_halt`): the device halts as on an
    /// internal fatal error, which software cannot otherwise cause (GENSTS.state HALT with
    /// `reset_type`, WQs disabled, INTCAUSE.HALT_STATE on the misc vector if GENCTRL enables
    /// it).
    pub(crate) fn inject_halt(&self, reset_type: regs::ResetType) {
        let irq = self.regs.lock().halt(reset_type);
        if irq {
            self.fire(0);
        }
    }

    /// Turns the device's bus mastering off, as clearing Bus Master Enable in a PCI function's
    /// command register does (PCI Express Base Specification, "Command Register"): from then
    /// on the device makes no memory request. What is queued is discarded unrun, a descriptor
    /// running fails its remaining accesses (as faults, which it cannot report), an engine
    /// waiting for room in a full event log gives its entry up, nothing more is written to
    /// memory (CRs, event-log entries, data) and no interrupt message is sent (an MSI-X
    /// message is a memory write). Registers still work. It stays off for the device's life:
    /// the driver turns it off only as the device goes away.
    pub(crate) fn stop_bus_mastering(self: &Arc<Self>) {
        self.ctl.lock().no_bus_master = true;
        // An engine waiting for room in a full event log gives up the entry (under `regs`,
        // which the waiter holds from its check to its wait: the wakeup is not lost). A
        // descriptor running now fails its remaining accesses; the work discards what is
        // queued.
        {
            let _regs = self.regs.lock();
            self.evl_room.notify_all();
        }
        self.kick();
    }

    /// Whether bus mastering is on (not turned off by [`Self::stop_bus_mastering`]).
    pub(crate) fn bus_master(&self) -> bool {
        !self.ctl.lock().no_bus_master
    }

    /// Fault injection for tests: the next batch halts the device (as [`Self::inject_halt`]
    /// does) just before it runs its sub-descriptor `idx`, which with those after it and the
    /// batch's own CR is never reported, as when an internal error halts hardware in the middle
    /// of a batch.
    #[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
    pub(crate) fn inject_halt_in_batch(&self, idx: u32, reset_type: regs::ResetType) {
        self.ctl.lock().batch_halt = Some((idx, reset_type));
    }

    /// Fault injection for tests: command `code` does `fault` from now on ([`CmdFault`]; `None`
    /// undoes it). Kept across Reset Device.
    #[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
    pub(crate) fn inject_cmd_fault(&self, code: u32, fault: Option<CmdFault>) {
        self.regs.lock().inject_cmd_fault(code, fault);
    }

    /// Binds address space `mm` for SVA: returns the PASID whose descriptors work on it (the
    /// same one if `mm` is bound already; each bind needs an unbind).
    ///
    /// Returns `ENOSPC` when no PASID is free, `ENOMEM` on allocation failure.
    pub(crate) fn bind_mm(&self, mm: &Mm) -> Result<u32> {
        self.pasids.lock().bind(mm)
    }

    /// Undoes one [`Self::bind_mm`] of `pasid`. Returns `EINVAL` if it is not bound.
    pub(crate) fn unbind_pasid(&self, pasid: u32) -> Result {
        self.pasids.lock().unbind(pasid)?;
        self.count_release();
        Ok(())
    }

    /// Counts a DMA mapping or PASID given back ([`Stats::released_while_mastering`]).
    fn count_release(&self) {
        if self.bus_master() {
            self.stats.lock().released_while_mastering += 1;
        }
    }

    /// Number of PASIDs bound.
    #[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
    pub(crate) fn pasids_bound(&self) -> usize {
        self.pasids.lock().len()
    }

    /// Maps `region` for the device: returns the bus address the device reaches it at (page
    /// aligned). Returns `ENOMEM` on allocation failure.
    pub(crate) fn dma_map(&self, region: Arc<DmaRegion>) -> Result<u64> {
        let mut dma = self.dma.lock();
        let bus = dma.next;
        dma.maps.push((bus, region), GFP_ATOMIC)?;
        dma.next += 1 << 32;
        Ok(bus)
    }

    /// Unmaps the region at bus address `bus`. Returns `EINVAL` if nothing is mapped there.
    pub(crate) fn dma_unmap(&self, bus: u64) -> Result {
        let mut dma = self.dma.lock();
        let n = dma.maps.len();
        dma.maps.retain(|m| m.0 != bus);
        if dma.maps.len() == n {
            return Err(EINVAL);
        }
        drop(dma);
        self.count_release();
        Ok(())
    }

    /// A 64-byte portal write by MOVDIR64B to dedicated WQ `wq`: the descriptor runs with the
    /// WQ's PASID (WQCFG), whatever its own PASID field says.
    ///
    /// Like the instruction, it reports nothing: a descriptor for a disabled, shared or full
    /// WQ is discarded (counted in [`Stats::discarded`]).
    pub(crate) fn movdir64b(self: &Arc<Self>, wq: usize, desc: &Descriptor) {
        let ok = {
            let regs = self.regs.lock();
            wq < NUM_WQS
                && regs.wq_enabled(wq)
                && regs.wq_mode(wq).mode() == regs::WqMode::Dedicated
        };
        let s = Submission {
            desc: *desc,
            pasid: None,
            privileged: false,
        };
        // A dedicated WQ has no threshold: every entry may be filled.
        if !ok || self.push(wq, s, Portal::Unlimited).is_err() {
            self.stats.lock().discarded += 1;
        }
    }

    /// ENQCMD (`privileged` false) or ENQCMDS to `portal` of shared WQ `wq`, tagged with
    /// `pasid`.
    ///
    /// Returns `EAGAIN` ("retry", the instruction's ZF) when the WQ is full (for the limited
    /// portal: holds its threshold), disabled, or not a shared WQ.
    pub(crate) fn enqcmd(
        self: &Arc<Self>,
        wq: usize,
        desc: &Descriptor,
        pasid: u32,
        privileged: bool,
        portal: Portal,
    ) -> Result {
        {
            let regs = self.regs.lock();
            if wq >= NUM_WQS
                || !regs.wq_enabled(wq)
                || regs.wq_mode(wq).mode() == regs::WqMode::Dedicated
            {
                return Err(EAGAIN);
            }
        }
        self.push(
            wq,
            Submission {
                desc: *desc,
                pasid: Some(pasid & mem::PASID_MAX),
                privileged,
            },
            portal,
        )
    }

    /// Queues `s` on WQ `wq` if it has room (WQCFG size; the threshold too through the limited
    /// portal), and kicks the engine.
    fn push(self: &Arc<Self>, wq: usize, s: Submission, portal: Portal) -> Result {
        let size = {
            let r = self.regs.lock();
            let size = r.wqcfg(wq, regs::wqcfg::SIZE_IDX) & 0xffff;
            match portal {
                Portal::Unlimited => size,
                Portal::Limited => size.min(r.wqcfg(wq, regs::wqcfg::THRESH_IDX) & 0xffff),
            }
        } as usize;
        let n = {
            let mut q = self.queues.lock();
            if q.q[wq].len() >= size {
                return Err(EAGAIN);
            }
            q.q[wq].push(s, GFP_ATOMIC).map_err(|_| EAGAIN)?;
            q.q[wq].len()
        };
        self.regs.lock().set_wq_occupancy(wq, n as u32);
        self.kick();
        Ok(())
    }

    fn effect(self: &Arc<Self>, effect: WriteEffect) {
        match effect {
            WriteEffect::None => {}
            WriteEffect::Command => {
                // An engine waiting for room in the event log must see an abort or reset.
                self.evl_room.notify_all();
                self.kick();
            }
            WriteEffect::EvlHeadMoved => self.evl_room.notify_all(),
        }
    }

    /// Makes sure the device's work runs (again) soon.
    fn kick(self: &Arc<Self>) {
        // Queue under the lock that `SimHandle::drop` sets `dead` under, so nothing is queued
        // once the handle started draining.
        let ctl = self.ctl.lock();
        if !ctl.dead {
            // An `Err` means the work is already queued; it will see the new state.
            let _ = self.wq.enqueue(self.clone());
        }
    }

    fn fire(&self, vector: u16) {
        // An interrupt message is a memory write.
        if self.bus_master() {
            self.irq.raise(vector);
        }
    }

    /// Discards the queued descriptors `q` selects.
    fn abort(&self, q: Quiesce) {
        let mut n = 0;
        let mut left = [0u32; NUM_WQS];
        {
            let mut queues = self.queues.lock();
            for (w, queue) in queues.q.iter_mut().enumerate() {
                let before = queue.len();
                match q {
                    Quiesce::AbortWqs(m) if m.has(w) => queue.clear(),
                    Quiesce::AbortPasid(p) => queue.retain(|s| s.pasid != Some(p)),
                    _ => {}
                }
                n += before - queue.len();
                left[w] = queue.len() as u32;
            }
        }
        let mut regs = self.regs.lock();
        for (w, n) in left.iter().enumerate() {
            regs.set_wq_occupancy(w, *n);
        }
        drop(regs);
        self.stats.lock().discarded += n as u64;
    }

    /// Takes the next descriptor, round-robin over the WQs.
    fn next_submission(&self) -> Option<(usize, Submission)> {
        let (wq, s, left) = {
            let mut queues = self.queues.lock();
            let start = queues.next;
            let wq = (0..NUM_WQS)
                .map(|i| (start + i) % NUM_WQS)
                .find(|&w| !queues.q[w].is_empty())?;
            let s = queues.q[wq].remove(0).ok()?;
            queues.next = (wq + 1) % NUM_WQS;
            (wq, s, queues.q[wq].len())
        };
        self.regs.lock().set_wq_occupancy(wq, left as u32);
        Some((wq, s))
    }

    /// The device's work: run queued descriptors, then a pending command.
    fn process(&self) {
        loop {
            // A halted device runs nothing more: what is queued is lost (Reset Device, the one
            // command it takes then, clears the WQs anyway). Nor does one that may not reach
            // memory.
            if self.regs.lock().state() == DeviceState::Halt || !self.bus_master() {
                self.abort(Quiesce::AbortWqs(WqMask((1 << NUM_WQS) - 1)));
                break;
            }
            // An abort or reset discards what is queued before anything more runs.
            let pending = self.regs.lock().peek_command();
            if let Some(raw) = pending {
                let q = self.regs.lock().quiesce_for(raw);
                if matches!(q, Quiesce::AbortWqs(_) | Quiesce::AbortPasid(_)) {
                    self.abort(q);
                }
            }
            match self.next_submission() {
                Some((wq, s)) => self.run(wq, s),
                None => break,
            }
        }
        // Every queued descriptor has completed: a drain is satisfied.
        let Some(raw) = self.regs.lock().take_command() else {
            return;
        };
        let q = self.regs.lock().quiesce_for(raw);
        if matches!(q, Quiesce::AbortWqs(_) | Quiesce::AbortPasid(_)) {
            self.abort(q);
        }
        let irq = self.regs.lock().finish(raw);
        if irq {
            self.fire(0);
        }
    }

    /// The settings descriptor `s` of WQ `wq` runs with, and its PASID (`None`: no address
    /// space to run in).
    fn wq_ctx(&self, wq: usize, s: &Submission) -> (WqCtx, Option<u32>) {
        let r = self.regs.lock();
        let mode = r.wq_mode(wq);
        let gencap = regs::GenCap::from_raw(r.p.gencap);
        let limits = regs::WqCfgLimits::from_raw(r.wqcfg(wq, regs::wqcfg::LIMITS_IDX));
        let dedicated = mode.mode() == regs::WqMode::Dedicated;
        let pasid = if dedicated {
            mode.pasid_en().then(|| mode.pasid().get() as u32)
        } else {
            s.pasid
        };
        let xfer_shift = match u64::from(limits.max_xfer_shift().get()) {
            0 => gencap.max_xfer_shift().get(),
            n => n,
        };
        let batch_shift = match u64::from(limits.max_batch_shift().get()) {
            0 => gencap.max_batch_shift().get(),
            n => n,
        };
        let prs_off = mode.wq_prs_disable();
        let ctx = WqCtx {
            wq: wq as u8,
            pasid: pasid.unwrap_or(0),
            privileged: s.privileged || (dedicated && mode.priv_()),
            access: if prs_off {
                Access::NoFault
            } else {
                Access::FaultIn
            },
            bof: mode.bof(),
            evl: prs_off && r.evl_enabled(),
            max_xfer: 1u64 << xfer_shift,
            max_batch: 1u32 << batch_shift,
        };
        (ctx, pasid)
    }

    /// Runs one descriptor of WQ `wq` to completion.
    fn run(&self, wq: usize, s: Submission) {
        let (ctx, pasid) = self.wq_ctx(wq, &s);
        if ctx.privileged {
            self.stats.lock().privileged += 1;
        }
        let d = s.desc;
        let mm = pasid.and_then(|p| self.pasids.lock().lookup(p));
        let Some(mm) = mm.and_then(|m| m.mmget_not_zero()) else {
            // No address space: nothing can be read or written, not even the CR.
            let sw = engine::swerr_of(&d, &ctx, status::TRANSLATION_FAIL, d.completion_addr);
            engine::Sink::swerr(self, sw);
            return;
        };
        let batch_id = if d.opcode() == opcode::BATCH {
            let mut q = self.queues.lock();
            let id = q.batch_id;
            q.batch_id = q.batch_id.wrapping_add(1);
            id
        } else {
            0
        };
        let drain_after_evl = d.opcode() == opcode::DRAIN && self.queues.lock().evl_since_drain[wq];
        let p = self.personality();
        // OPCFG is writable only while the WQ is disabled, and a disabled WQ runs nothing.
        let opcfg = self.regs.lock().wq_opcfg(wq);
        let ran = mm.kthread_use(|| {
            let sink: &dyn engine::Sink = self;
            // An operation the WQ's OPCFG leaves out completes as one the device does not
            // have (model: "unsupported operation code", as the project's QEMU device).
            let supports = |op: u8| {
                p.supports_op(op)
                    && opcfg.is_none_or(|o| o[usize::from(op / 32)] & (1 << (op % 32)) != 0)
            };
            let fate = if d.opcode() == opcode::BATCH {
                // `None`: the device halted in the middle; nothing more is reported.
                engine::run_batch(&d, &ctx, sink, &supports, batch_id)?.1
            } else {
                let cr = engine::run_op(&d, &ctx, sink, &supports);
                if drain_after_evl && ctx.evl && d.flags() & crate::hw::flags::CRAV != 0 {
                    // The drain's CR follows the earlier CR faults through the event log, so
                    // that software writes it after theirs.
                    let e = engine::evl_entry(&d, &ctx, None, false, status::DRAIN_EVL, &cr);
                    if sink.evl(&e) {
                        CrFate::Evl
                    } else {
                        CrFate::Lost
                    }
                } else {
                    engine::write_cr(&d, &ctx, sink, &cr, None, false, status::CRA_XLAT, None)
                }
            };
            engine::interrupt(&d, sink);
            sink.completed();
            Some(fate)
        });
        match ran {
            Ok(None) => {}
            Ok(Some(fate)) => {
                let mut q = self.queues.lock();
                if d.opcode() == opcode::DRAIN {
                    q.evl_since_drain[wq] = false;
                } else if fate == CrFate::Evl {
                    q.evl_since_drain[wq] = true;
                }
            }
            Err(_) => {
                // Not on a kernel thread: cannot happen on the device's workqueue.
                let sw = engine::swerr_of(&d, &ctx, status::TRANSLATION_FAIL, 0);
                engine::Sink::swerr(self, sw);
            }
        }
    }

    /// Waits until no command is pending or running and no descriptor is queued.
    #[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
    pub(crate) fn wait_idle(&self) {
        loop {
            self.wq.flush();
            // Once the work has run, a command still active but no longer waiting has hung
            // (`CmdFault::Hang`): it will never complete, so it does not count as busy.
            let busy_cmd = self.regs.lock().command_pending();
            let queued = self.queues.lock().q.iter().any(|q| !q.is_empty());
            if !busy_cmd && !queued {
                break;
            }
        }
    }
}

impl engine::Sink for SimDevice {
    fn evl(&self, entry: &DsaEvlEntry) -> bool {
        let mut counted_wait = false;
        let mut regs = self.regs.lock();
        loop {
            if !regs.evl_enabled() || regs.evl_size() == 0 || !self.bus_master() {
                return false;
            }
            let (head, tail) = regs.evl_head_tail();
            let size = regs.evl_size();
            if (tail + 1) % size != head {
                let at = regs.evl_base() + u64::from(tail) * DsaEvlEntry::SIZE as u64;
                let written = {
                    let dma = self.dma.lock();
                    dma.maps.iter().any(|(bus, r)| {
                        at >= *bus
                            && at - *bus + DsaEvlEntry::SIZE as u64 <= r.len() as u64
                            && r.write((at - bus) as usize, entry.as_bytes()).is_ok()
                    })
                };
                if !written {
                    // Model: the log points at memory nobody mapped; the entry is lost.
                    drop(regs);
                    self.stats.lock().swerrs += 1;
                    return false;
                }
                let irq = regs.evl_push();
                drop(regs);
                self.stats.lock().evl_entries += 1;
                if irq {
                    self.fire(0);
                }
                return true;
            }
            // Full: the engine blocks until software frees an entry. It gives up only when
            // the device is going away or an abort/reset is waiting.
            if self.ctl.lock().dead || regs.abort_pending() {
                return false;
            }
            if !counted_wait {
                counted_wait = true;
                self.stats.lock().evl_full_waits += 1;
            }
            self.evl_room.wait(&mut regs);
        }
    }

    fn swerr(&self, qw: [u64; 4]) {
        let irq = self.regs.lock().swerr(qw);
        self.stats.lock().swerrs += 1;
        if irq {
            self.fire(0);
        }
    }

    fn irq(&self, vector: u16) {
        if (vector as usize) < regfile::NUM_VECTORS {
            self.fire(vector);
        }
    }

    fn page_request(&self) {
        self.stats.lock().page_requests += 1;
    }

    fn completed(&self) {
        self.stats.lock().completed += 1;
    }

    fn bus_master(&self) -> bool {
        SimDevice::bus_master(self)
    }

    fn batch_step(&self, idx: u32) -> bool {
        let halt = {
            let mut ctl = self.ctl.lock();
            match ctl.batch_halt {
                Some((at, t)) if at == idx => {
                    ctl.batch_halt = None;
                    Some(t)
                }
                _ => None,
            }
        };
        if let Some(t) = halt {
            self.inject_halt(t);
        }
        self.regs.lock().state() != DeviceState::Halt
    }
}

/// Owner of a model device: creating it makes the device, dropping it drains the device's
/// workqueues, so no work of the device runs after the handle is gone.
pub(crate) struct SimHandle {
    dev: Arc<SimDevice>,
    wq: Arc<OwnedQueue>,
    irq_wq: Arc<OwnedQueue>,
}

impl SimHandle {
    /// Creates a model device of `generation`, in its reset state.
    ///
    /// Returns `ENOMEM` when memory or the workqueue cannot be allocated.
    pub(crate) fn new(generation: Generation) -> Result<Self> {
        let wq = Arc::new(
            OwnedQueue::new(c"ridxd_sim", flags::UNBOUND | flags::MEM_RECLAIM, 1)?,
            GFP_KERNEL,
        )?;
        let dev_wq = wq.clone();
        let irq_wq = Arc::new(
            OwnedQueue::new(c"ridxd_sim_irq", flags::UNBOUND | flags::MEM_RECLAIM, 1)?,
            GFP_KERNEL,
        )?;
        let delivery_wq = irq_wq.clone();
        let irq = Arc::pin_init(
            pin_init!(IrqDelivery {
                state <- new_spinlock!(
                    IrqState { sink: None, delay: Delta::ZERO, held: 0, dead: false },
                    "ridxd_sim::irq"
                ),
                work <- new_work!("ridxd_sim::irq_work"),
                wq: delivery_wq,
            }),
            GFP_KERNEL,
        )?;
        let dev = Arc::pin_init(
            try_pin_init!(SimDevice {
                regs <- new_spinlock!(RegFile::new(Personality::new(generation)), "ridxd_sim::regs"),
                ctl <- new_spinlock!(
                    Control {
                        dead: false,
                        batch_halt: None,
                        no_bus_master: false,
                    },
                    "ridxd_sim::ctl"
                ),
                irq,
                queues <- new_spinlock!(Queues {
                    q: core::array::from_fn(|_| KVec::new()),
                    next: 0,
                    batch_id: 0,
                    evl_since_drain: [false; NUM_WQS],
                }, "ridxd_sim::queues"),
                pasids <- new_mutex!(PasidTable::new(), "ridxd_sim::pasids"),
                dma <- new_spinlock!(DmaMap { maps: KVec::new(), next: DMA_BUS_BASE }, "ridxd_sim::dma"),
                stats <- new_spinlock!(Stats::default(), "ridxd_sim::stats"),
                evl_room <- new_condvar!("ridxd_sim::evl_room"),
                work <- new_work!("ridxd_sim::work"),
                wq: dev_wq,
            }),
            GFP_KERNEL,
        )?;
        Ok(Self { dev, wq, irq_wq })
    }

    /// The device.
    pub(crate) fn dev(&self) -> &Arc<SimDevice> {
        &self.dev
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        {
            self.dev.ctl.lock().dead = true;
            let mut irq = self.dev.irq.state.lock();
            irq.dead = true;
            irq.sink = None;
        }
        // Wake an engine blocked on a full event log: it gives up once `dead` is set.
        self.dev.evl_room.notify_all();
        // After this no work item of the device is pending or running, and none can be queued:
        // whoever drops the last `Arc<SimDevice>` (and so the queue) is not one of its workers.
        self.wq.drain();
        self.irq_wq.drain();
    }
}
