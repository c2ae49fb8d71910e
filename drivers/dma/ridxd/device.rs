// SPDX-License-Identifier: GPL-2.0

//! A DSA device, whatever carries it: capabilities, command interface, configuration, enable
//! and disable, the misc interrupt and the event log.
//!
//! Probe is the same for a PCI device and for a model device: read VERSION and the capability
//! registers through the [`DeviceIo`] seam, check them, reset the device.

use crate::{
    config::Config,
    evl::{self, EvlKind, EvlRing},
    fault::FaultPath,
    hwif::{DeviceBus, DeviceIo, IrqHandler},
    regs::{self, cmd, cmdsts, intcause, off},
};
use kernel::{
    device::Device,
    io::poll::read_poll_timeout,
    new_condvar, new_mutex, new_spinlock,
    prelude::*,
    sync::{aref::ARef, Arc, CondVar, CondVarTimeoutResult, Mutex, SpinLock},
    time::{delay::fsleep, msecs_to_jiffies, Delta, Instant, Monotonic},
};

/// What a device reports in its read-only registers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caps {
    /// VERSION (0x100: DSA 1.0, 0x200: DSA 2.0).
    pub(crate) version: u32,
    /// GENCAP.
    pub(crate) gencap: regs::GenCap,
    /// WQCAP.
    pub(crate) wqcap: regs::WqCap,
    /// GRPCAP.
    pub(crate) grpcap: regs::GrpCap,
    /// ENGCAP.
    pub(crate) engcap: regs::EngCap,
    /// OPCAP: bit N set when opcode N is supported.
    pub(crate) opcap: [u64; 4],
    /// Table offsets (low qword).
    pub(crate) tables: regs::TableOffsets,
    /// CMDCAP, when GENCAP.cmd_cap says it is valid.
    pub(crate) cmdcap: Option<u32>,
}

impl Caps {
    /// Reads the capability registers.
    ///
    /// Returns `ENODEV` for a device this driver does not know: a VERSION major other than 1
    /// or 2, no WQs, groups or engines, or a table outside the register page.
    pub(crate) fn read(dev: &Device, io: &dyn DeviceIo) -> Result<Self> {
        let version = io.read32(off::VERSION);
        let caps = Self {
            version,
            gencap: regs::GenCap::from_raw(io.read64(off::GENCAP)),
            wqcap: regs::WqCap::from_raw(io.read64(off::WQCAP)),
            grpcap: regs::GrpCap::from_raw(io.read64(off::GRPCAP)),
            engcap: regs::EngCap::from_raw(io.read64(off::ENGCAP)),
            opcap: core::array::from_fn(|i| io.read64(off::OPCAP + 8 * i)),
            tables: regs::TableOffsets::from_raw(io.read64(off::TABLE_OFFSETS)),
            cmdcap: None,
        };
        let caps = Self {
            cmdcap: (caps.gencap.cmd_cap().get() != 0).then(|| io.read32(off::CMDCAP)),
            ..caps
        };
        let major = (version >> 8) & 0xf;
        if !(1..=2).contains(&major) {
            dev_err!(dev, "unsupported DSA version {:#x}\n", version);
            return Err(ENODEV);
        }
        if caps.num_wqs() == 0 || caps.num_groups() == 0 || caps.num_engines() == 0 {
            dev_err!(
                dev,
                "device reports {} WQs, {} groups, {} engines\n",
                caps.num_wqs(),
                caps.num_groups(),
                caps.num_engines()
            );
            return Err(ENODEV);
        }
        if caps.tables.grpcfg().get() == 0 || caps.tables.wqcfg().get() == 0 {
            dev_err!(dev, "device reports no GRPCFG or WQCFG table\n");
            return Err(ENODEV);
        }
        Ok(caps)
    }

    /// The major version (VERSION bits 11:8): 1 for DSA 1.0, 2 for DSA 2.0.
    pub(crate) fn major(&self) -> u32 {
        (self.version >> 8) & 0xf
    }

    /// Number of WQs (WQCAP.num_wqs).
    pub(crate) fn num_wqs(&self) -> usize {
        self.wqcap.num_wqs().get() as usize
    }

    /// Number of groups (GRPCAP.num_groups).
    pub(crate) fn num_groups(&self) -> usize {
        self.grpcap.num_groups().get() as usize
    }

    /// Number of engines (ENGCAP.num_engines).
    pub(crate) fn num_engines(&self) -> usize {
        self.engcap.num_engines().get() as usize
    }

    /// Total WQ entries (WQCAP.total_wq_size).
    pub(crate) fn total_wq_size(&self) -> u32 {
        self.wqcap.total_wq_size().get() as u32
    }

    /// Event-log entry size in bytes, if the device has an event log (GENCAP.evl_support).
    pub(crate) fn evl_entry_size(&self) -> Option<usize> {
        crate::hw::evl_entry_size(self.gencap.evl_support().get() as u8)
    }

    /// Whether WQs can turn PRS off (WQCAP.wq_prs_support).
    pub(crate) fn wq_prs_disable(&self) -> bool {
        self.wqcap.wq_prs_support().get() != 0
    }

    /// Whether the device is configurable by software (GENCAP.config_en).
    pub(crate) fn configurable(&self) -> bool {
        self.gencap.config_en().get() != 0
    }
}

/// A CMDSTS error code and its meaning (`enum idxd_cmdsts_err`), for messages.
fn cmdsts_name(err: u32) -> &'static str {
    match err {
        cmdsts::INVAL_CMD => "invalid command",
        cmdsts::INVAL_WQIDX => "invalid WQ index",
        cmdsts::HW_ERR => "hardware error",
        cmdsts::ERR_DEV_ENABLED => "device already enabled",
        cmdsts::ERR_CONFIG => "invalid configuration",
        cmdsts::ERR_BUSMASTER_EN => "bus mastering disabled",
        cmdsts::ERR_PASID_INVAL => "invalid PASID",
        cmdsts::ERR_WQ_SIZE_ERANGE => "WQ sizes exceed the total",
        cmdsts::ERR_GRP_CONFIG
        | cmdsts::ERR_GRP_CONFIG2
        | cmdsts::ERR_GRP_CONFIG3
        | cmdsts::ERR_GRP_CONFIG4 => "invalid group configuration",
        cmdsts::ERR_DEV_NOTEN | cmdsts::ERR_DEV_NOT_EN => "device not enabled",
        cmdsts::ERR_WQ_ENABLED => "WQ already enabled",
        cmdsts::ERR_WQ_SIZE => "invalid WQ size",
        cmdsts::ERR_WQ_PRIOR => "invalid WQ priority",
        cmdsts::ERR_WQ_MODE => "invalid WQ mode",
        cmdsts::ERR_BOF_EN => "block on fault not supported",
        cmdsts::ERR_PASID_EN => "invalid PASID enable",
        cmdsts::ERR_MAX_BATCH_SIZE => "max batch size out of range",
        cmdsts::ERR_MAX_XFER_SIZE => "max transfer size out of range",
        cmdsts::ERR_DIS_DEV_EN => "device not enabled",
        _ => "unknown error",
    }
}

/// How long a command may take before the driver gives up on the device.
const CMD_TIMEOUT: Delta = Delta::from_secs(5);

/// CMDSTS.active (bit 31, `IDXD_CMDSTS_ACTIVE`).
const CMDSTS_ACTIVE: u32 = 1 << 31;
/// CMD.int_req (bit 31): raise INTCAUSE.CMD on the misc vector when the command completes.
const CMD_INT_REQ: u32 = 1 << 31;

/// Runs device command `code` with `operand` and waits for it (polling CMDSTS.active): for
/// when the device's interrupts are not connected (probe, teardown).
///
/// Returns the command's result field on success; `EIO` (with the decoded CMDSTS error
/// logged) when the device refuses it, `ETIMEDOUT` when it does not complete.
pub(crate) fn command(dev: &Device, io: &dyn DeviceIo, code: u32, operand: u32) -> Result<u32> {
    io.write32(off::CMD, code << 20 | (operand & 0xf_ffff));
    let sts = read_poll_timeout(
        || Ok(io.read32(off::CMDSTS)),
        |s: &u32| s & CMDSTS_ACTIVE == 0,
        Delta::from_micros(100),
        CMD_TIMEOUT,
    )
    .inspect_err(|_| dev_err!(dev, "command {} timed out\n", code))?;
    command_result(dev, code, operand, sts)
}

/// Decodes the CMDSTS `sts` of completed command `code`: its result field, or `EIO` with the
/// error logged.
fn command_result(dev: &Device, code: u32, operand: u32, sts: u32) -> Result<u32> {
    let err = sts & 0xff;
    if err != cmdsts::SUCCESS {
        dev_err!(
            dev,
            "command {} (operand {:#x}) failed: {:#x} ({})\n",
            code,
            operand,
            err,
            cmdsts_name(err)
        );
        return Err(EIO);
    }
    Ok(sts >> 8 & 0xffff)
}

/// Counters of a device.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DevStats {
    /// Misc interrupts handled.
    pub(crate) misc_irqs: u64,
    /// Event-log entries drained.
    pub(crate) evl_entries: u64,
    /// Of those, CR faults (`CRA_XLAT`), batch CRs and drain CRs.
    pub(crate) evl_cr: u64,
    /// Of those, other errors.
    pub(crate) evl_other: u64,
    /// Software errors read from SWERR.
    pub(crate) swerrs: u64,
    /// Messages not printed because of the rate limit.
    pub(crate) suppressed: u64,
    /// Command completions signalled by the misc interrupt (INTCAUSE.CMD).
    pub(crate) cmd_irqs: u64,
    /// Times the device halted (INTCAUSE.HALT_STATE with GENSTS.state HALT).
    pub(crate) halts: u64,
}

/// Interrupt-driven command completion.
struct CmdState {
    /// The misc interrupt is connected: commands ask for INTCAUSE.CMD and wait for it.
    irq_on: bool,
    /// INTCAUSE.CMD interrupts seen.
    irqs: u64,
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

/// A probed DSA device, on PCI or on the model.
///
/// Configuration is kept in [`Config`] under a sleeping lock and written to the device when it
/// is enabled. The event log, when the device has one, is allocated at enable and freed at
/// disable, under its own sleeping lock (draining may wait on the fault path).
#[pin_data]
pub(crate) struct DsaDevice<H: DeviceBus> {
    io: H,
    caps: Caps,
    dev: ARef<Device>,
    #[pin]
    cfg: Mutex<Config>,
    #[pin]
    evl: Mutex<Option<EvlRing>>,
    #[pin]
    stats: SpinLock<DevStats>,
    #[pin]
    ratelimit: SpinLock<RateLimit>,
    /// One command in flight.
    #[pin]
    cmd_lock: Mutex<()>,
    #[pin]
    cmd: SpinLock<CmdState>,
    /// Signalled by the misc handler on INTCAUSE.CMD.
    #[pin]
    cmd_done: CondVar,
    faults: Arc<FaultPath>,
}

impl<H: DeviceBus> DsaDevice<H> {
    /// Probes the device behind `io`: reads and checks its capabilities, resets it.
    ///
    /// Returns `ENODEV` for a device this driver does not handle, `EIO`/`ETIMEDOUT` when the
    /// reset fails, `ENOMEM` on allocation failure.
    pub(crate) fn probe(dev: &Device, io: H) -> Result<Arc<Self>> {
        let caps = Caps::read(dev, &io)?;
        if caps.configurable() {
            command(dev, &io, cmd::RESET_DEVICE, 0)?;
        }
        dev_info!(
            dev,
            "DSA {}.{}: {} WQs ({} entries), {} engines, {} groups, event log: {}, PRS disable: {}\n",
            caps.version >> 8 & 0xf,
            caps.version >> 4 & 0xf,
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
                cfg <- new_mutex!(cfg, "ridxd::cfg"),
                evl <- new_mutex!(None, "ridxd::evl"),
                stats <- new_spinlock!(DevStats::default(), "ridxd::stats"),
                ratelimit <- new_spinlock!(RateLimit { start: None, count: 0 }, "ridxd::ratelimit"),
                cmd_lock <- new_mutex!((), "ridxd::cmd_lock"),
                cmd <- new_spinlock!(CmdState { irq_on: false, irqs: 0 }, "ridxd::cmd"),
                cmd_done <- new_condvar!("ridxd::cmd_done"),
                faults,
            }),
            GFP_KERNEL,
        )
    }

    /// Runs device command `code` with `operand`, one at a time. With the misc interrupt
    /// connected the command asks for INTCAUSE.CMD and the caller sleeps until the misc
    /// handler sees it (checking CMDSTS every 10 ms too, so that a lost interrupt or a pending
    /// signal only slows it down); without, CMDSTS is polled.
    ///
    /// Returns the command's result field; `EIO` (with the decoded CMDSTS error logged) when
    /// the device refuses it, `ETIMEDOUT` when it does not complete in 5 s.
    pub(crate) fn run_command(&self, code: u32, operand: u32) -> Result<u32> {
        let _one = self.cmd_lock.lock();
        let start = {
            let c = self.cmd.lock();
            if !c.irq_on {
                drop(c);
                return command(&self.dev, &self.io, code, operand);
            }
            c.irqs
        };
        self.io
            .write32(off::CMD, CMD_INT_REQ | code << 20 | (operand & 0xf_ffff));
        let start_time = Instant::<Monotonic>::now();
        let sts = loop {
            let sts = self.io.read32(off::CMDSTS);
            let mut c = self.cmd.lock();
            let by_irq = c.irqs != start;
            if sts & CMDSTS_ACTIVE == 0 {
                break sts;
            }
            if start_time.elapsed() > CMD_TIMEOUT {
                drop(c);
                dev_err!(self.dev, "command {} timed out\n", code);
                return Err(ETIMEDOUT);
            }
            if !by_irq {
                let r = self
                    .cmd_done
                    .wait_interruptible_timeout(&mut c, msecs_to_jiffies(10));
                if let CondVarTimeoutResult::Signal { .. } = r {
                    drop(c);
                    fsleep(Delta::from_millis(1));
                }
            }
        };
        command_result(&self.dev, code, operand, sts)
    }

    /// The bus device (for messages).
    pub(crate) fn dev(&self) -> &Device {
        &self.dev
    }

    /// The device's capabilities.
    pub(crate) fn caps(&self) -> &Caps {
        &self.caps
    }

    /// The device's registers.
    pub(crate) fn io(&self) -> &H {
        &self.io
    }

    /// The name of the bus device (for messages and the admin interface).
    pub(crate) fn name(&self) -> &CStr {
        self.dev.name()
    }

    /// Calls `f` with every non-empty entry of the event-log ring, in ring order.
    pub(crate) fn for_each_evl_entry(&self, mut f: impl FnMut(u32, &crate::hw::DsaEvlEntry)) {
        let ring = self.evl.lock();
        let Some(ring) = ring.as_ref() else {
            return;
        };
        for i in 0..ring.size() {
            if let Ok(e) = ring.entry(i) {
                if e != crate::hw::DsaEvlEntry::default() {
                    f(i, &e);
                }
            }
        }
    }

    /// The device's completion-record fault path.
    pub(crate) fn faults(&self) -> &Arc<FaultPath> {
        &self.faults
    }

    /// The device's counters.
    pub(crate) fn stats(&self) -> DevStats {
        *self.stats.lock()
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
        let g0 = self.caps.tables.grpcfg().get() as usize * regs::TABLE_MULT;
        for g in 0..self.caps.num_groups() {
            let (wqs, engines) = cfg.grpcfg(g);
            let base = g0 + g * regs::grpcfg::SIZE;
            for (i, q) in wqs.iter().enumerate() {
                io.write64(base + regs::grpcfg::WQS + 8 * i, *q);
            }
            io.write64(base + regs::grpcfg::ENGINES, engines);
            io.write64(base + regs::grpcfg::FLAGS, 0);
        }
        for w in 0..self.caps.num_wqs() {
            for (i, d) in cfg.wqcfg(w).iter().enumerate() {
                io.write32(self.wqcfg_off(w, i), *d);
            }
        }
        // The event log is set up before Enable Device.
        if let Some(entry_size) = self.caps.evl_entry_size() {
            let size = cfg.evl_size;
            let buf = io.alloc_dma(size as usize * entry_size)?;
            let ring = EvlRing::new(buf, size, entry_size)?;
            let (lo, hi) = ring.evlcfg();
            io.write64(off::EVLCFG, lo);
            io.write64(off::EVLCFG + 8, hi);
            io.write32(off::GENCFG, regs::GenCfg::EVL_EN_MASK);
            *self.evl.lock() = Some(ring);
        }
        io.write32(
            off::GENCTRL,
            regs::GenCtrl::SOFTERR_INT_EN_MASK
                | regs::GenCtrl::HALT_INT_EN_MASK
                | if self.caps.evl_entry_size().is_some() {
                    regs::GenCtrl::EVL_INT_EN_MASK
                } else {
                    0
                },
        );
        if let Err(e) = self.run_command(cmd::ENABLE_DEVICE, 0) {
            self.teardown_evl();
            return Err(e);
        }
        cfg.enabled = true;
        Ok(())
    }

    /// Byte offset of dword `idx` of WQ `wq`'s WQCFG entry.
    fn wqcfg_off(&self, wq: usize, idx: usize) -> usize {
        let stride =
            1usize << (regs::wqcfg::SIZE_SHIFT_MIN + self.caps.wqcap.wqcfg_size().get() as u32);
        self.caps.tables.wqcfg().get() as usize * regs::TABLE_MULT + wq * stride + idx * 4
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
        for (i, d) in cfg.wqcfg(wq).iter().enumerate() {
            self.io.write32(self.wqcfg_off(wq, i), *d);
        }
        self.run_command(cmd::ENABLE_WQ, wq as u32)?;
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
            if w.mode != crate::config::WqMode::Dedicated {
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
        self.run_command(cmd::DRAIN_PASID, pasid).map(|_| ())
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
        let r = self.run_command(cmd::DISABLE_WQ, 1 << (wq % 16) | (wq as u32 / 16) << 16);
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
        let r = self.run_command(cmd::DISABLE_DEVICE, 0);
        if r.is_err() {
            let _ = self.run_command(cmd::RESET_DEVICE, 0);
        }
        cfg.enabled = false;
        for w in cfg.wqs.iter_mut() {
            w.enabled = false;
        }
        drop(cfg);
        self.teardown_evl();
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
    pub(crate) fn evl_bus_addr(&self) -> Option<u64> {
        self.evl.lock().as_ref().map(|r| r.bus_addr())
    }

    fn warn_allowed(&self) -> bool {
        let ok = self.ratelimit.lock().allow();
        if !ok {
            self.stats.lock().suppressed += 1;
        }
        ok
    }

    /// The misc interrupt: acknowledges INTCAUSE, reports a software error, drains the event
    /// log. Runs in process context (a threaded handler, or the model's work).
    pub(crate) fn handle_misc(&self) {
        let cause = self.io.read32(off::INTCAUSE);
        self.stats.lock().misc_irqs += 1;
        if cause == 0 {
            return;
        }
        self.io.write32(off::INTCAUSE, cause);
        if cause & intcause::CMD != 0 {
            self.cmd.lock().irqs += 1;
            self.stats.lock().cmd_irqs += 1;
            self.cmd_done.notify_all();
        }
        if cause & intcause::ERR != 0 {
            self.report_swerr();
        }
        if cause & intcause::HALT_STATE != 0 {
            self.report_halt();
        }
        if cause & intcause::EVL != 0 {
            self.drain_evl();
        }
    }

    /// The device's state for users: "halted" when GENSTS says so (until it is reset),
    /// otherwise "enabled" or "disabled".
    pub(crate) fn state_name(&self) -> &'static str {
        let st = regs::GenSts::from_raw(self.io.read32(off::GENSTS));
        if st.state().get() == regs::state::HALT {
            "halted"
        } else if self.cfg.lock().enabled {
            "enabled"
        } else {
            "disabled"
        }
    }

    /// Reports a halt: the device stopped on a fatal error and works again only after the
    /// reset GENSTS.reset_type names. A software reset is what disabling the device does
    /// (Disable Device fails on a halted device, so Reset Device follows); the others are
    /// outside the driver.
    fn report_halt(&self) {
        let st = regs::GenSts::from_raw(self.io.read32(off::GENSTS));
        if st.state().get() != regs::state::HALT {
            return;
        }
        self.stats.lock().halts += 1;
        let (reset, how) = match st.reset_type().get() {
            0 => ("software", "disable and re-enable the device"),
            1 => ("function-level", "reset the PCI function"),
            2 => ("warm", "a warm reset of the platform"),
            _ => ("cold", "a cold reset of the platform"),
        };
        dev_err!(
            self.dev,
            "device halted: it needs a {} reset ({})\n",
            reset,
            how
        );
    }

    /// Reads, reports (rate-limited) and acknowledges SWERR.
    fn report_swerr(&self) {
        let q0 = regs::SwErr0::from_raw(self.io.read64(off::SWERR));
        if q0.valid().get() == 0 {
            return;
        }
        let fault_addr = self.io.read64(off::SWERR + 16);
        self.io.write64(off::SWERR, regs::SWERR_ACK);
        self.stats.lock().swerrs += 1;
        if q0.wq_idx_valid().get() != 0 && q0.desc_valid().get() != 0 {
            self.faults
                .note_error(q0.pasid().get() as u32, q0.wq_idx().get() as u8);
        }
        if self.warn_allowed() {
            let more = if q0.overflow().get() != 0 {
                ", more were lost"
            } else {
                ""
            };
            dev_warn!(
                self.dev,
                "software error {:#x}: wq {} (valid {}), opcode {:#x}, pasid {:#x}, fault address {:#x}{}\n",
                q0.error().get(),
                q0.wq_idx().get(),
                q0.wq_idx_valid().get(),
                q0.operation().get(),
                q0.pasid().get(),
                fault_addr,
                more
            );
        }
    }

    /// Drains the event log, dispatching each entry.
    pub(crate) fn drain_evl(&self) {
        let ring = self.evl.lock();
        let Some(ring) = ring.as_ref() else {
            return;
        };
        let mut cr = 0u64;
        let mut other = 0u64;
        let n = evl::drain(&self.io, ring, |index, e| match EvlKind::of(e) {
            EvlKind::CrFault | EvlKind::BatchCr | EvlKind::DrainCr => {
                // The completion-record fix-up writes these into the owner's memory.
                cr += 1;
                self.faults.push(e);
                dev_dbg!(
                    self.dev,
                    "evl[{}]: error {:#x} wq {} pasid {:#x} op {:#x} cr {:#x} status {:#x}\n",
                    index,
                    e.header.error(),
                    e.header.wq_idx(),
                    e.header.pasid(),
                    e.header.operation(),
                    e.header.fault_addr,
                    e.cr.status
                );
            }
            EvlKind::Other => {
                other += 1;
                // Attributed to its process (for `poll`) by the fault path's work.
                self.faults.push(e);
                if self.warn_allowed() {
                    dev_warn!(
                        self.dev,
                        "event log error {:#x}: wq {}, opcode {:#x}, pasid {:#x}, address {:#x}\n",
                        e.header.error(),
                        e.header.wq_idx(),
                        e.header.operation(),
                        e.header.pasid(),
                        e.header.fault_addr
                    );
                }
            }
        });
        let mut st = self.stats.lock();
        st.evl_entries += u64::from(n);
        st.evl_cr += cr;
        st.evl_other += other;
    }
}

impl<H: DeviceBus + 'static> DsaDevice<H> {
    /// Connects the device's interrupts to this device's handlers.
    pub(crate) fn connect_irq(self: &Arc<Self>) -> Result {
        let handler: Arc<dyn IrqHandler> = self.clone();
        self.io.connect_irq(Some(handler))?;
        // Commands now complete through INTCAUSE.CMD.
        self.cmd.lock().irq_on = true;
        Ok(())
    }

    /// Stops interrupt delivery, disables the device if enabled, and stops the fault path:
    /// what unbind needs.
    pub(crate) fn shutdown(&self) {
        self.cmd.lock().irq_on = false;
        let _ = self.io.connect_irq(None);
        if self.cfg.lock().enabled {
            let _ = self.disable();
        }
        self.faults.shutdown();
    }
}

impl<H: DeviceBus> IrqHandler for DsaDevice<H> {
    fn irq(&self, vector: u16) {
        if vector == 0 {
            self.handle_misc();
        }
    }
}
