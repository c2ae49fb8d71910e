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
    fault::FaultPath,
    hw::DsaEvlEntry,
    hwif::{DeviceBus, IrqHandler},
    irq::{MiscCtx, MiscIrq},
    regs::{self, cmd as code, off, DeviceState},
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
///    entries to the fault path, whose locks nest inside). Never held while a command runs.
///
/// `misc` ([`MiscIrq`]) keeps its counters in atomics and has one leaf spinlock (its message
/// rate limit); the fault path ([`FaultPath`]) documents its own locks, all taken after these.
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
        let cfg = Config::new(&caps)?;
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
    /// Returns `EBUSY` when already enabled, `EPERM` on a device that is not configurable,
    /// `ENOMEM` when the event log cannot be allocated, `EIO` when the device refuses the
    /// configuration (nothing stays set up then).
    pub(crate) fn enable(&self) -> Result {
        let mut cfg = self.cfg.lock();
        if cfg.enabled {
            return Err(EBUSY);
        }
        if !self.caps.configurable() {
            return Err(EPERM);
        }
        let io = &self.io;
        for g in 0..self.caps.num_groups() {
            let (wqs, engines) = cfg.grpcfg(g);
            let base = self.caps.grpcfg_offset(g);
            for (i, q) in wqs.iter().enumerate() {
                io.write64(base + regs::grpcfg::WQS + 8 * i, *q);
            }
            io.write64(base + regs::grpcfg::ENGINES, engines);
            io.write64(base + regs::grpcfg::FLAGS, 0);
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
            io.write32(
                off::GENCFG,
                regs::GenCfg::zeroed().with_evl_en(true).into_raw(),
            );
            *self.evl.lock() = Some(ring);
        }
        let ctrl = regs::GenCtrl::zeroed()
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

    /// Writes WQ `wq`'s WQCFG from `cfg`.
    fn write_wqcfg(&self, cfg: &Config, wq: usize) {
        for (i, d) in cfg.wqcfg(wq).iter().enumerate() {
            self.io.write32(self.caps.wqcfg_offset(wq, i), *d);
        }
    }

    /// Writes WQ `wq`'s configuration to its WQCFG and enables it (configured, in a group, on
    /// an enabled device).
    ///
    /// Returns `EINVAL` for a WQ that does not exist or has no size or group, `EBUSY` when it
    /// is already enabled, `ENXIO` when the device is not enabled, `EIO` when the device
    /// refuses.
    pub(crate) fn enable_wq(&self, wq: usize) -> Result {
        let mut cfg = self.cfg.lock();
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
        self.write_wqcfg(&cfg, wq);
        self.run_command(code::ENABLE_WQ, wq as u32)?;
        cfg.wqs[wq].enabled = true;
        Ok(())
    }

    /// Sets the PASID of dedicated WQ `wq` (`None`: none): the WQ is disabled (drained),
    /// its WQCFG rewritten, and enabled again if it was.
    ///
    /// Returns `EINVAL` for a WQ that does not exist or is not dedicated, `EIO` when the
    /// device refuses.
    pub(crate) fn set_wq_pasid(&self, wq: usize, pasid: Option<u32>) -> Result {
        let was_enabled = {
            let cfg = self.cfg.lock();
            let w = cfg.wqs.get(wq).ok_or(EINVAL)?;
            if w.mode != WqMode::Dedicated {
                return Err(EINVAL);
            }
            w.enabled
        };
        if was_enabled {
            self.disable_wq(wq)?;
        }
        self.cfg.lock().wqs[wq].pasid = pasid;
        if was_enabled {
            self.enable_wq(wq)?;
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
        let mut cfg = self.cfg.lock();
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
    /// Returns `EINVAL` when the device is not enabled; on `EIO` from the device the driver's
    /// state is still torn down (a reset follows).
    pub(crate) fn disable(&self) -> Result {
        let mut cfg = self.cfg.lock();
        if !cfg.enabled {
            return Err(EINVAL);
        }
        let r = self.run_command(code::DISABLE_DEVICE, 0);
        if r.is_err() {
            let _ = self.run_command(code::RESET_DEVICE, 0);
        }
        cfg.enabled = false;
        for w in cfg.wqs.iter_mut() {
            w.enabled = false;
        }
        // Still under `cfg`: an enable waits until this ring is gone, and sets up its own.
        #[cfg(all(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST, CONFIG_INTEL_IDXD_RUST_SIM))]
        test_hooks::before_evl_teardown();
        self.teardown_evl();
        drop(cfg);
        r.map(|_| ())
    }

    /// Clears the event-log configuration and frees the ring. The ring is freed here, outside
    /// any spinlock, and regardless of GENCFG (a reset clears GENCFG.evl_en; deciding on it
    /// leaked the ring in the C driver).
    fn teardown_evl(&self) {
        self.io.write32(off::GENCTRL, 0);
        self.io.write32(off::GENCFG, 0);
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
        let st = regs::GenSts::from_raw(self.io.read32(off::GENSTS));
        if st.state() == DeviceState::Halt {
            "halted"
        } else if self.cfg.lock().enabled {
            "enabled"
        } else {
            "disabled"
        }
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
    }
}

impl IrqHandler for DsaDevice {
    fn irq(&self, vector: u16) {
        if vector == 0 {
            self.misc.handle(&MiscCtx {
                dev: &self.dev,
                io: &*self.io,
                cmds: &self.cmds,
                evl: &self.evl,
                faults: &self.faults,
            });
        }
    }
}

/// Hooks that let KUnit tests stop the driver at a chosen point, to run something beside it.
#[cfg(all(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST, CONFIG_INTEL_IDXD_RUST_SIM))]
pub(crate) mod test_hooks {
    use kernel::prelude::*;

    /// A hook, run once.
    pub(crate) type Hook = KBox<dyn FnMut() + Send>;

    kernel::static_mutex! {
        static BEFORE_EVL_TEARDOWN: Option<Hook> = (c"ridxd::device::test_hooks", None);
    }

    /// Runs `hook` the next time a device's disable is about to tear its event log down.
    pub(crate) fn set_before_evl_teardown(hook: Hook) {
        *BEFORE_EVL_TEARDOWN.lock() = Some(hook);
    }

    /// Called by [`super::DsaDevice::disable`].
    pub(super) fn before_evl_teardown() {
        let hook = BEFORE_EVL_TEARDOWN.lock().take();
        if let Some(mut hook) = hook {
            hook();
        }
    }
}
