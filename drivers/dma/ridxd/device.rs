// SPDX-License-Identifier: GPL-2.0

//! A DSA device, whatever bus carries it: probe, and the enable/disable lifecycle of the
//! device and its WQs (configuration written to GRPCFG/WQCFG, the event log set up and torn
//! down).
//!
//! Probe is the same for a PCI device and for a model device: read VERSION and the capability
//! registers through the [`DeviceBus`] seam ([`Caps`]), check them, reset the device. The
//! command interface is in [`crate::cmd`], the misc interrupt in [`crate::irq`].

use crate::{
    caps::Caps,
    cmd::{self, Commands},
    config::{Config, WqMode},
    evl::EvlRing,
    fault::{FaultPath, UserContext},
    hw::DsaEvlEntry,
    hwif::{DeviceBus, IrqHandler, SvaBond},
    irq::{MiscCtx, MiscIrq},
    regs::{self, cmd as code, off, DeviceState, ResetType},
};
use kernel::{
    device::Device,
    new_mutex,
    prelude::*,
    sync::{aref::ARef, Arc, Mutex},
};

/// A probed DSA device, on PCI or on the model.
///
/// # Locks
///
/// In the order they may be taken:
///
/// 1. `cfg` (sleeping): the configuration and the enabled state of the device and of each WQ
///    ([`Config`]). Held across every command that changes that state, from the register
///    writes before the command to the teardown after it, so that the state it records is the
///    device's state: enable, disable (including the event-log teardown), WQ enable/disable,
///    a dedicated WQ's PASID change.
/// 2. `cmds` (sleeping, [`Commands`]): one command at a time, held while the command waits
///    for its completion. The misc interrupt completes commands without taking `cfg` or
///    `cmds`.
/// 3. `evl` (sleeping): the event-log ring. Taken briefly under `cfg` to install or remove the
///    ring, and by the misc interrupt for as long as it drains the ring (draining hands
///    entries to the fault path, whose locks nest inside, and may wait for room in it).
///    Never held while a command runs.
///
/// `misc` ([`MiscIrq`]) keeps its counters in atomics and has one leaf spinlock (its message
/// rate limit); the fault path ([`FaultPath`]) documents its own locks, all taken after these.
/// `kept` (sleeping) is a leaf, taken after all of them. `recovery` (sleeping) is a leaf too:
/// it is held only to queue the recovery, which takes no lock of the device.
#[pin_data]
pub(crate) struct DsaDevice {
    io: KBox<dyn DeviceBus>,
    caps: Caps,
    dev: ARef<Device>,
    #[pin]
    cfg: Mutex<Config>,
    #[pin]
    cmds: Commands,
    #[pin]
    evl: Mutex<Option<EvlRing>>,
    #[pin]
    misc: MiscIrq,
    faults: Arc<FaultPath>,
    /// SVA bonds of PASIDs the device could not be made to stop using
    /// ([`DsaDevice::release_pasid`]): kept bound, so that the PASID is not given to another
    /// process, until the device goes away or can no longer use them (its bus mastering
    /// turned off as it goes away: [`DsaDevice::shutdown`]).
    #[pin]
    kept: Mutex<KVec<KBox<dyn SvaBond>>>,
    /// What brings the device back after a reset its users did not ask for, while set
    /// ([`DsaDevice::set_recovery`]).
    #[pin]
    recovery: Mutex<Option<Arc<dyn Recovery>>>,
}

/// What brings a device back after it halted needing a software reset (GENSTS.state HALT,
/// reset_type 0), or after [`DsaDevice::release_pasid`] disabled a WQ or reset the device to
/// make it stop using a PASID: revoke the open files of what was lost (their PASIDs went with
/// it), Reset Device if the device is still halted, enable it and its WQs again, as idxd's
/// `idxd_device_reinit()` does after a halt. Provided by the layer that knows which WQs to enable again
/// ([`crate::sysfs::Tree`]).
pub(crate) trait Recovery: Send + Sync {
    /// Brings back what was `lost`. Called from the misc interrupt, which completes
    /// commands, and from a file's release, which holds locks the recovery takes: it must not
    /// run commands or wait, but queue the recovery (a work item) and return.
    fn recover(self: Arc<Self>, lost: Lost);
}

/// What a reset nobody asked for took from a device's users ([`Recovery`]).
#[derive(Clone, Copy)]
pub(crate) enum Lost {
    /// The whole device: a halt, or Reset Device. Every WQ and every PASID.
    Device,
    /// The whole device, which halted needing a function-level reset (GENSTS.reset_type 1):
    /// the recovery has the PCI function reset ([`crate::hwif::DeviceBus::reset_function`]),
    /// whose reset callbacks bring it back, as idxd's `idxd_device_flr()` does.
    Function,
    /// WQ `0`: a Disable WQ, with the PASIDs of the files open on it.
    Wq(usize),
}

impl DsaDevice {
    /// Probes the device behind `io`: reads and checks its capabilities, resets it.
    ///
    /// Returns `ENODEV` for a device this driver does not handle, `EIO`/`ETIMEDOUT` when the
    /// reset fails, `ENOMEM` on allocation failure.
    pub(crate) fn probe(dev: &Device, io: KBox<dyn DeviceBus>) -> Result<Arc<Self>> {
        let caps = Caps::read(dev, &*io)?;
        if caps.configurable() {
            cmd::run_polled(dev, &*io, code::RESET_DEVICE, 0)?;
        }
        dev_info!(
            dev,
            "DSA {}.{}: {} WQs ({} entries), {} engines, {} groups, event log: {}, PRS disable: {}\n",
            caps.major as u32,
            caps.minor(),
            caps.num_wqs(),
            caps.total_wq_size(),
            caps.num_engines(),
            caps.num_groups(),
            if caps.evl_entry_size().is_some() {
                "yes"
            } else {
                "no"
            },
            if caps.wq_prs_disable() { "yes" } else { "no" },
        );
        // A device that is not configurable holds a configuration someone else programmed:
        // read it back, as idxd does.
        let mut cfg = if caps.configurable() {
            Config::new(&caps)?
        } else {
            Config::load(&caps, |o| io.read32(o), |o| io.read64(o))?
        };
        cfg.set_tc_override(crate::module_parameters::tc_override.value());
        let faults = FaultPath::new()?;
        Arc::pin_init(
            try_pin_init!(Self {
                io,
                caps,
                dev: dev.into(),
                cfg <- new_mutex!(cfg, "ridxd::device::cfg"),
                cmds <- Commands::new(),
                evl <- new_mutex!(None, "ridxd::device::evl"),
                misc <- MiscIrq::new(),
                faults,
                kept <- new_mutex!(KVec::new(), "ridxd::device::kept"),
                recovery <- new_mutex!(None, "ridxd::device::recovery"),
            }),
            GFP_KERNEL,
        )
    }

    /// Runs device command `code` with `operand` ([`Commands::run`]).
    fn run_command(&self, code: u32, operand: u32) -> Result<u32> {
        self.cmds.run(&self.dev, &*self.io, code, operand)
    }

    /// The bus device (for messages).
    pub(crate) fn dev(&self) -> &Device {
        &self.dev
    }

    /// The device's capabilities.
    pub(crate) fn caps(&self) -> &Caps {
        &self.caps
    }

    /// The device's bus: registers, DMA, SVA, portals.
    pub(crate) fn io(&self) -> &dyn DeviceBus {
        &*self.io
    }

    /// The name of the bus device (for messages and the admin interface).
    pub(crate) fn name(&self) -> &CStr {
        self.dev.name()
    }

    /// The device's completion-record fault path.
    pub(crate) fn faults(&self) -> &Arc<FaultPath> {
        &self.faults
    }

    /// The misc interrupt's counters.
    #[cfg(all(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST, CONFIG_INTEL_IDXD_RUST_SIM))]
    pub(crate) fn stats(&self) -> crate::irq::DevStats {
        self.misc.stats()
    }

    /// Runs `f` on the configuration (for reading, or changing it under its rules).
    pub(crate) fn with_config<T>(&self, f: impl FnOnce(&mut Config) -> T) -> T {
        f(&mut self.cfg.lock())
    }

    /// Writes the configuration to GRPCFG/WQCFG, sets up the event log, and enables the
    /// device.
    ///
    /// Returns `EBUSY` when already enabled,
    /// `ENOMEM` when the event log cannot be allocated, `EIO` when the device refuses the
    /// configuration (nothing stays set up then).
    pub(crate) fn enable(&self) -> Result {
        let mut cfg = self.cfg.lock();
        if cfg.enabled {
            return Err(EBUSY);
        }
        if cfg.stuck || self.evl.lock().is_some() {
            // A disable could not stop the device, and kept its event log: the ring is freed
            // only once a reset has stopped the device.
            self.reset_locked(&mut cfg)?;
        }
        let io = &self.io;
        // A device that is not configurable keeps the tables it was given (read back at
        // probe: `Config::load`).
        if self.caps.configurable() {
            cfg.settle_traffic_classes();
            for g in 0..self.caps.num_groups() {
                let (wqs, engines) = cfg.grpcfg(g);
                let base = self.caps.grpcfg_offset(g);
                for (i, q) in wqs.iter().enumerate() {
                    io.write64(base + regs::grpcfg::WQS + 8 * i, *q);
                }
                io.write64(base + regs::grpcfg::ENGINES, engines);
                io.write64(base + regs::grpcfg::FLAGS, cfg.group_flags(g));
            }
        }
        for w in 0..self.caps.num_wqs() {
            self.write_wqcfg(&cfg, w);
        }
        // The event log is set up before Enable Device.
        let evl = self.caps.evl_entry_size();
        if let Some(entry_size) = evl {
            let size = cfg.evl_size;
            let buf = io.alloc_dma(size as usize * entry_size)?;
            let ring = EvlRing::new(buf, size, entry_size)?;
            let (lo, hi) = ring.evlcfg();
            io.write64(off::EVLCFG, lo.into_raw());
            io.write64(off::EVLCFG + 8, hi.into_raw());
            *self.evl.lock() = Some(ring);
        }
        // Read-modify-write, as idxd: the fields this driver does not own (GENCFG.user_int_en,
        // the reserved bits) stay as they are.
        let gencfg = regs::GenCfg::from_raw(io.read32(off::GENCFG))
            .with_rdbuf_limit(cfg.rdbuf_limit)
            .with_evl_en(evl.is_some());
        io.write32(off::GENCFG, gencfg.into_raw());
        let ctrl = regs::GenCtrl::from_raw(io.read32(off::GENCTRL))
            .with_softerr_int_en(true)
            .with_halt_int_en(true)
            .with_evl_int_en(evl.is_some());
        io.write32(off::GENCTRL, ctrl.into_raw());
        if let Err(e) = self.run_command(code::ENABLE_DEVICE, 0) {
            self.teardown_evl();
            return Err(e);
        }
        cfg.enabled = true;
        Ok(())
    }

    /// Writes WQ `wq`'s WQCFG from `cfg`: dwords 0-3 read-modify-write (the bits the driver
    /// does not program keep the device's: [`regs::wqcfg::merge`]), OPCFG whole; dwords 4-7
    /// (occupancy, state) are not written. On a device that is not configurable only the PASID
    /// of the mode dword is written (read-modify-write), as idxd's `idxd_wq_set_pasid()`
    /// does: the rest is what the device was given.
    fn write_wqcfg(&self, cfg: &Config, wq: usize) {
        let d = cfg.wqcfg(wq);
        if !self.caps.configurable() {
            let o = self.caps.wqcfg_offset(wq, regs::wqcfg::MODE_IDX);
            let ours = regs::WqCfgMode::from_raw(d.head[regs::wqcfg::MODE_IDX]);
            let mode = regs::WqCfgMode::from_raw(self.io.read32(o))
                .with_pasid(ours.pasid())
                .with_pasid_en(ours.pasid_en());
            self.io.write32(o, mode.into_raw());
            return;
        }
        for (i, v) in d.head.iter().enumerate() {
            let o = self.caps.wqcfg_offset(wq, i);
            self.io
                .write32(o, regs::wqcfg::merge(i, self.io.read32(o), *v));
        }
        for (i, v) in d.opcfg.iter().flatten().enumerate() {
            self.io
                .write32(self.caps.wqcfg_offset(wq, regs::wqcfg::OPCFG_IDX + i), *v);
        }
    }

    /// Writes WQ `wq`'s configuration to its WQCFG and enables it (configured, in a group, on
    /// an enabled device).
    ///
    /// Returns `EINVAL` for a WQ that does not exist or has no size or group, `EBUSY` when it
    /// is already enabled, `ENXIO` when the device is not enabled, `EIO` when the device
    /// refuses.
    pub(crate) fn enable_wq(&self, wq: usize) -> Result {
        self.enable_wq_locked(&mut self.cfg.lock(), wq)
    }

    /// [`Self::enable_wq`] with the configuration lock held.
    fn enable_wq_locked(&self, cfg: &mut Config, wq: usize) -> Result {
        if !cfg.enabled {
            return Err(ENXIO);
        }
        let w = cfg.wqs.get(wq).ok_or(EINVAL)?;
        if w.enabled {
            return Err(EBUSY);
        }
        if w.size == 0 || w.group.is_none() {
            return Err(EINVAL);
        }
        // The WQ's attributes may have changed since the device was enabled; its WQCFG is
        // writable while it is disabled.
        self.write_wqcfg(cfg, wq);
        self.run_command(code::ENABLE_WQ, wq as u32)?;
        cfg.wqs[wq].enabled = true;
        Ok(())
    }

    /// Sets the PASID of dedicated WQ `wq` (`None`: none): the WQ is disabled (drained),
    /// its WQCFG rewritten, and enabled again if it was. All of it under the configuration
    /// lock, so that no one changes the WQ (its mode, say) between the steps.
    ///
    /// If the disable fails, the WQ is left disabled with no PASID (the device may still run
    /// its descriptors with the old one; nothing enables it with that PASID again).
    ///
    /// Returns `EINVAL` for a WQ that does not exist or is not dedicated, `EIO` when the
    /// device refuses.
    pub(crate) fn set_wq_pasid(&self, wq: usize, pasid: Option<u32>) -> Result {
        let mut cfg = self.cfg.lock();
        let w = cfg.wqs.get(wq).ok_or(EINVAL)?;
        if w.mode != WqMode::Dedicated {
            return Err(EINVAL);
        }
        let was_enabled = w.enabled;
        if was_enabled {
            if let Err(e) = self.disable_wq_locked(&mut cfg, wq) {
                cfg.wqs[wq].pasid = None;
                return Err(e);
            }
        }
        #[cfg(all(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST, CONFIG_INTEL_IDXD_RUST_SIM))]
        test_hooks::reached(test_hooks::Point::SetWqPasidDisabled);
        cfg.wqs[wq].pasid = pasid;
        if was_enabled {
            self.enable_wq_locked(&mut cfg, wq)?;
        }
        Ok(())
    }

    /// Waits until the device has completed every descriptor with `pasid` (Drain PASID).
    ///
    /// Returns `EIO` when the device refuses (it is not enabled).
    pub(crate) fn drain_pasid(&self, pasid: u32) -> Result {
        self.run_command(code::DRAIN_PASID, pasid).map(|_| ())
    }

    /// Disables WQ `wq` (draining it first, as the device does).
    ///
    /// Returns `EINVAL` for a WQ that does not exist or is not enabled, `EIO` when the device
    /// refuses.
    pub(crate) fn disable_wq(&self, wq: usize) -> Result {
        self.disable_wq_locked(&mut self.cfg.lock(), wq)
    }

    /// [`Self::disable_wq`] with the configuration lock held.
    fn disable_wq_locked(&self, cfg: &mut Config, wq: usize) -> Result {
        if !cfg.wqs.get(wq).ok_or(EINVAL)?.enabled {
            return Err(EINVAL);
        }
        let r = self.run_command(code::DISABLE_WQ, 1 << (wq % 16) | (wq as u32 / 16) << 16);
        cfg.wqs[wq].enabled = false;
        r.map(|_| ())
    }

    /// Disables the device (its WQs with it), then tears the event log down: GENCFG and
    /// GENCTRL are cleared and the ring freed, whatever the device reports.
    ///
    /// Returns `EINVAL` when the device is not enabled; on `EIO` from the device (or a halted
    /// device) the driver's state is still torn down (a reset follows: Reset Device where it
    /// recovers the device, else the ring is kept until one does, [`Config::stuck`]).
    pub(crate) fn disable(&self) -> Result {
        let mut cfg = self.cfg.lock();
        if !cfg.enabled {
            return Err(EINVAL);
        }
        // A halted device (its halt was reported) runs no Disable Device (`EIO` without
        // trying); Reset Device recovers it from a halt that asks for that reset, and only
        // then is tried.
        let halt = self.halted();
        let r = match halt {
            Some(_) => Err(EIO),
            None => self.run_command(code::DISABLE_DEVICE, 0).map(|_| ()),
        };
        let stopped = r.is_ok()
            || (matches!(halt, None | Some(ResetType::Software))
                && self.run_command(code::RESET_DEVICE, 0).is_ok());
        cfg.enabled = false;
        for w in cfg.wqs.iter_mut() {
            w.enabled = false;
        }
        if !stopped {
            // The device may still write the ring: it stays allocated (and programmed) until
            // a reset succeeds or the device goes away. A device halted needing another reset
            // (a function-level or platform one) said so when it halted.
            cfg.stuck = true;
            if halt.is_none() {
                dev_err!(
                    self.dev,
                    "the device did not stop (Disable and Reset Device failed): its event log is kept until a reset succeeds\n"
                );
            }
            return r;
        }
        // Still under `cfg`: an enable waits until this ring is gone, and sets up its own.
        #[cfg(all(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST, CONFIG_INTEL_IDXD_RUST_SIM))]
        test_hooks::reached(test_hooks::Point::BeforeEvlTeardown);
        self.teardown_evl();
        drop(cfg);
        r
    }

    /// Resets the device (Reset Device): it stops using every WQ and PASID, and clears its
    /// configuration and event-log registers. The driver's state follows: the device and its
    /// WQs are disabled, the event-log ring freed.
    ///
    /// Returns the command's error (`EIO`, `ETIMEDOUT`, `EBUSY`, `ENODEV`) when the reset was
    /// not carried out; the device then counts as stuck (it may still run what it ran), and
    /// nothing else changes.
    pub(crate) fn reset(&self) -> Result {
        self.reset_locked(&mut self.cfg.lock())
    }

    /// [`Self::reset`] with the configuration lock held.
    fn reset_locked(&self, cfg: &mut Config) -> Result {
        if let Err(e) = self.run_command(code::RESET_DEVICE, 0) {
            // Whatever ran on the device may still run.
            cfg.stuck = true;
            return Err(e);
        }
        cfg.enabled = false;
        cfg.stuck = false;
        for w in cfg.wqs.iter_mut() {
            w.enabled = false;
        }
        self.teardown_evl();
        Ok(())
    }

    /// Makes the device stop using PASID `pasid` of a process that leaves WQ `wq` (`shared`
    /// or dedicated), so that the PASID can be unbound and given to another process
    /// ([`Self::release_pasid`]): Drain PASID on a shared WQ; the PASID taken out of a
    /// dedicated WQ's WQCFG (which disables, so drains, the WQ). Nothing to do on a WQ or
    /// device that is disabled (disabling drained it) unless the device is stuck.
    fn stop_pasid(&self, wq: usize, shared: bool, pasid: u32) -> Result {
        if !shared {
            return self.set_wq_pasid(wq, None);
        }
        let running = {
            let cfg = self.cfg.lock();
            if cfg.stuck {
                return Err(EIO);
            }
            cfg.enabled && cfg.wqs.get(wq).is_some_and(|w| w.enabled)
        };
        if running {
            self.drain_pasid(pasid)?;
        }
        Ok(())
    }

    /// Takes PASID `bond.pasid()` of a process leaving WQ `wq` (`shared` or dedicated) away
    /// from the device for good, and removes the process's fault context `ctx`:
    ///
    /// 1. The device stops using the PASID ([`Self::stop_pasid`]). If that fails, the WQ is
    ///    disabled; if that fails too, the device is reset. Each step is reported.
    /// 2. Every entry the device has written to the event log is handed to the fault path now,
    ///    not when the misc interrupt comes: the interrupt may come after the PASID has a new
    ///    owner, whose context would then take the old owner's entries.
    /// 3. `ctx` leaves the fault path: its pending entries are skipped.
    /// 4. `bond` is dropped (SVA unbind) when step 1 succeeded. Otherwise the device may still
    ///    use the PASID, so the bond is kept by the device until it goes away, and the PASID
    ///    is not given to anyone else.
    ///
    /// Returns `EIO` when the PASID had to be kept bound.
    pub(crate) fn release_pasid(
        &self,
        wq: usize,
        shared: bool,
        ctx: &Arc<UserContext>,
        bond: KBox<dyn SvaBond>,
    ) -> Result {
        let pasid = bond.pasid();
        // What the escalation took from the other users of the device, if it went that far.
        let mut lost = None;
        let stopped = self
            .stop_pasid(wq, shared, pasid)
            .or_else(|e| {
                dev_warn!(
                    self.dev,
                    "PASID {:#x}: the device did not stop using it ({:?}): disabling WQ {}\n",
                    pasid,
                    e,
                    wq
                );
                let r = self.disable_wq(wq);
                if r.is_ok() {
                    lost = Some(Lost::Wq(wq));
                }
                r
            })
            .or_else(|e| {
                dev_warn!(
                    self.dev,
                    "PASID {:#x}: WQ {} not disabled ({:?}): resetting the device\n",
                    pasid,
                    wq,
                    e
                );
                let r = self.reset();
                if r.is_ok() {
                    lost = Some(Lost::Device);
                }
                r
            });
        // Closing before the ring is drained: the fault work, which may run as soon as the
        // entries are handed to it, skips the PASID's entries instead of writing them.
        self.faults.close_ctx(ctx);
        self.drain_evl_now();
        self.faults.remove_ctx(ctx);
        if let Some(lost) = lost {
            // The other files' WQ, or every WQ with their PASIDs, went with the escalation.
            self.queue_recovery(lost);
        }
        if let Err(e) = stopped {
            dev_err!(
                self.dev,
                "PASID {:#x}: the device could not be stopped ({:?}): it stays bound to the device until the device goes away\n",
                pasid,
                e
            );
            let mut kept = self.kept.lock();
            match kept.reserve(1, GFP_KERNEL) {
                Ok(()) => {
                    let _ = kept.push_within_capacity(bond);
                }
                // No memory to keep it: leak it rather than let the PASID be reused.
                Err(_) => core::mem::forget(bond),
            }
            return Err(EIO);
        }
        drop(bond);
        Ok(())
    }

    /// Number of PASIDs kept bound by [`Self::release_pasid`].
    #[cfg(all(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST, CONFIG_INTEL_IDXD_RUST_SIM))]
    pub(crate) fn kept_pasids(&self) -> usize {
        self.kept.lock().len()
    }

    /// Hands every entry now in the event-log ring to the fault path, as the misc interrupt
    /// does, without waiting for the interrupt.
    fn drain_evl_now(&self) {
        self.misc.drain_evl(&self.misc_ctx());
    }

    /// What the misc interrupt's handling works on.
    fn misc_ctx(&self) -> MiscCtx<'_, dyn DeviceBus> {
        MiscCtx {
            dev: &self.dev,
            io: &*self.io,
            cmds: &self.cmds,
            evl: &self.evl,
            faults: &self.faults,
        }
    }

    /// Clears the event-log configuration and frees the ring. The ring is freed here, outside
    /// any spinlock, and regardless of GENCFG (a reset clears GENCFG.evl_en; deciding on it
    /// leaked the ring in the C driver).
    fn teardown_evl(&self) {
        // The driver's own fields only (read-modify-write, as at enable).
        let owned_ctrl = regs::GenCtrl::SOFTERR_INT_EN_MASK
            | regs::GenCtrl::HALT_INT_EN_MASK
            | regs::GenCtrl::EVL_INT_EN_MASK;
        let ctrl = self.io.read32(off::GENCTRL);
        self.io.write32(off::GENCTRL, ctrl & !owned_ctrl);
        let owned_cfg = regs::GenCfg::RDBUF_LIMIT_MASK | regs::GenCfg::EVL_EN_MASK;
        let gencfg = self.io.read32(off::GENCFG);
        self.io.write32(off::GENCFG, gencfg & !owned_cfg);
        let ring = self.evl.lock().take();
        if ring.is_some() {
            self.io.write64(off::EVLCFG, 0);
            self.io.write64(off::EVLCFG + 8, 0);
        }
        drop(ring);
    }

    /// Whether the event log is set up, and its size in entries.
    pub(crate) fn evl_size(&self) -> Option<u32> {
        self.evl.lock().as_ref().map(|r| r.size())
    }

    /// The event log's bus address, while set up.
    #[cfg(all(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST, CONFIG_INTEL_IDXD_RUST_SIM))]
    pub(crate) fn evl_bus_addr(&self) -> Option<u64> {
        self.evl.lock().as_ref().map(|r| r.bus_addr())
    }

    /// EVLSTATUS as the device reports it now (head, tail, int_pending).
    pub(crate) fn evl_status(&self) -> regs::EvlStatus {
        regs::EvlStatus::from_raw(self.io.read64(off::EVLSTATUS))
    }

    /// Calls `f` with every non-empty entry of the event-log ring, in ring order.
    pub(crate) fn for_each_evl_entry(&self, mut f: impl FnMut(u32, &DsaEvlEntry)) {
        let ring = self.evl.lock();
        let Some(ring) = ring.as_ref() else {
            return;
        };
        for i in 0..ring.size() {
            if let Ok(e) = ring.entry(i) {
                if e != DsaEvlEntry::default() {
                    f(i, &e);
                }
            }
        }
    }

    /// The device's state for users: "halted" when GENSTS says so (until it is reset),
    /// otherwise "enabled" or "disabled".
    pub(crate) fn state_name(&self) -> &'static str {
        if self.halted().is_some() {
            "halted"
        } else if self.cfg.lock().enabled {
            "enabled"
        } else {
            "disabled"
        }
    }

    /// The reset the device needs if it is halted (GENSTS.state HALT, GENSTS.reset_type).
    /// Registers that read all ones are a device that is gone, not a halted one: `None` (its
    /// commands then fail with `ENODEV`, [`crate::cmd`]).
    pub(crate) fn halted(&self) -> Option<ResetType> {
        let gensts = self.io.read32(off::GENSTS);
        let st = regs::GenSts::from_raw(gensts);
        (gensts != u32::MAX && st.state() == DeviceState::Halt).then(|| st.reset_type())
    }

    /// Connects the device's interrupts to this device's handlers; commands complete through
    /// INTCAUSE.CMD from then on.
    ///
    /// Returns `EOPNOTSUPP` when the device's interrupts cannot be delivered (commands are
    /// then polled).
    pub(crate) fn connect_irq(self: &Arc<Self>) -> Result {
        let handler: Arc<dyn IrqHandler> = self.clone();
        self.io.connect_irq(Some(handler))?;
        self.cmds.set_irq(true);
        Ok(())
    }

    /// Stops interrupt delivery, disables the device if enabled, and stops the fault path:
    /// what unbind needs.
    pub(crate) fn shutdown(&self) {
        self.cmds.set_irq(false);
        let _ = self.io.connect_irq(None);
        if self.cfg.lock().enabled {
            let _ = self.disable();
        }
        self.faults.shutdown();
        self.give_up_stuck();
    }

    /// A device that could not be stopped ([`Config::stuck`], PASIDs kept by
    /// [`Self::release_pasid`]) is going away: if it still has an event-log ring or kept
    /// PASIDs, its bus mastering is turned off
    /// ([`crate::hwif::DeviceBus::stop_bus_mastering`]), after which it can no longer write
    /// the ring or use a PASID, so the ring is freed and the kept PASIDs unbound. Without that
    /// (the device gone already) they stay until the device is dropped.
    fn give_up_stuck(&self) {
        let cfg = self.cfg.lock();
        let kept = self.kept.lock().len();
        if kept == 0 && (!cfg.stuck || self.evl.lock().is_none()) {
            return;
        }
        if let Err(e) = self.io.stop_bus_mastering() {
            dev_err!(
                self.dev,
                "the device did not stop, and its bus mastering could not be turned off ({:?}): its event log and {} PASIDs are kept\n",
                e,
                kept
            );
            return;
        }
        let ring = if self.evl.lock().is_some() {
            "its event log freed, "
        } else {
            ""
        };
        dev_warn!(
            self.dev,
            "the device did not stop: bus mastering turned off, {}{} kept PASIDs unbound\n",
            ring,
            kept
        );
        // Still stuck (the device never stopped), but nothing of it can reach memory now.
        self.teardown_evl();
        drop(cfg);
        drop(core::mem::take(&mut *self.kept.lock()));
    }
}

impl DsaDevice {
    /// Sets (`Some`) or takes away (`None`) what brings the device back after a reset its
    /// users did not ask for ([`Recovery`]). Once this returns `None`'s way, no recovery is
    /// queued any more (the caller then waits for one that is queued).
    pub(crate) fn set_recovery(&self, r: Option<Arc<dyn Recovery>>) {
        *self.recovery.lock() = r;
    }

    /// Whether a recovery is set ([`Self::set_recovery`]).
    pub(crate) fn has_recovery(&self) -> bool {
        self.recovery.lock().is_some()
    }

    /// Queues the recovery of what was `lost`, if a recovery is set.
    fn queue_recovery(&self, lost: Lost) {
        // Under the lock, so that `set_recovery(None)` waits for the queueing.
        let r = self.recovery.lock();
        if let Some(r) = r.as_ref() {
            r.clone().recover(lost);
        }
    }
}

impl IrqHandler for DsaDevice {
    fn irq(&self, vector: u16) {
        if vector != 0 {
            return;
        }
        match self.misc.handle(&self.misc_ctx()) {
            Some(ResetType::Flr) => self.queue_recovery(Lost::Function),
            // Software: the recovery resets the device; warm, cold: only the platform can, the
            // recovery revokes what was open on it.
            Some(_) => self.queue_recovery(Lost::Device),
            None => {}
        }
    }
}

/// Hooks that let KUnit tests stop the driver at a chosen point, to run something beside it.
#[cfg(all(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST, CONFIG_INTEL_IDXD_RUST_SIM))]
pub(crate) mod test_hooks {
    use kernel::prelude::*;

    /// A hook, run once.
    pub(crate) type Hook = KBox<dyn FnMut() + Send>;

    /// Where a hook runs.
    #[derive(Clone, Copy)]
    pub(crate) enum Point {
        /// A device's disable is about to tear its event log down.
        BeforeEvlTeardown = 0,
        /// A dedicated WQ's PASID change has disabled the WQ and not set the PASID yet.
        SetWqPasidDisabled = 1,
    }

    kernel::static_mutex! {
        static HOOKS: [Option<Hook>; 2] = (c"ridxd::device::test_hooks", [None, None]);
    }

    /// Runs `hook` the next time the driver reaches `at`.
    pub(crate) fn set(at: Point, hook: Hook) {
        HOOKS.lock()[at as usize] = Some(hook);
    }

    /// Called by the driver at `at`.
    pub(super) fn reached(at: Point) {
        let hook = HOOKS.lock()[at as usize].take();
        if let Some(mut hook) = hook {
            hook();
        }
    }
}
