// SPDX-License-Identifier: GPL-2.0

//! The device's command interface: a command is written to CMD (0xa0) and is done when
//! CMDSTS.active (bit 31 of 0xa8) clears; CMDSTS.err then holds its status and CMDSTS.result
//! its result. With CMD.int_req set the device also raises INTCAUSE.CMD on the misc vector
//! when it completes (`registers.h`: `union idxd_command_reg`, `union cmdsts_reg`,
//! `enum idxd_cmdsts_err`, `IDXD_INTC_CMD`). The device runs one command at a time.

use crate::{
    hwif::DeviceIo,
    regs::{self, cmd, cmdsts, off, DeviceState},
};
use kernel::{
    device::Device,
    io::poll::read_poll_timeout,
    new_condvar, new_mutex, new_spinlock,
    prelude::*,
    sync::{CondVar, CondVarTimeoutResult, Mutex, SpinLock},
    time::{delay::fsleep, msecs_to_jiffies, Delta, Instant, Monotonic},
};

/// How long a command may take before the driver gives up on the device.
const CMD_TIMEOUT: Delta = Delta::from_secs(5);

/// How often a waiter re-reads CMDSTS while waiting for INTCAUSE.CMD, so that a lost interrupt
/// or a pending signal only slows a command down.
const RECHECK_MS: u32 = 10;

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

/// The CMD value for command `code` with `operand`, asking for INTCAUSE.CMD if `int_req`.
///
/// Returns `EINVAL` for a code above 31 or an operand above 20 bits.
fn encode(code: u32, operand: u32, int_req: bool) -> Result<u32> {
    let c = regs::Cmd::zeroed()
        .with_int_req(int_req)
        .try_with_cmd(code)
        .and_then(|c| c.try_with_operand(operand))
        .map_err(|_| EINVAL)?;
    Ok(c.into_raw())
}

/// Decodes the CMDSTS of completed command `code`: its result field, or `EIO` with the error
/// logged on `dev`.
fn result(dev: &Device, code: u32, operand: u32, sts: regs::CmdSts) -> Result<u32> {
    let err = u32::from(sts.err());
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
    Ok(u32::from(sts.result()))
}

/// Whether command `code` may be issued to the device behind `io` now: `ENODEV` when its
/// registers read all ones (a PCI read of a device that is gone; CMDSTS.active would look set
/// for ever), `EIO` on a halted device for anything but Reset Device (the command that
/// recovers from a software-reset halt; GENSTS.state HALT), `EBUSY` while CMDSTS.active shows
/// an earlier command that never completed. One line is logged on `dev`.
fn check_issuable(dev: &Device, io: &(impl DeviceIo + ?Sized), code: u32) -> Result {
    let sts = io.read32(off::CMDSTS);
    let gensts = io.read32(off::GENSTS);
    if sts == u32::MAX && gensts == u32::MAX {
        dev_err!(
            dev,
            "command {}: the device does not respond (registers read all ones)\n",
            code
        );
        return Err(ENODEV);
    }
    if regs::GenSts::from_raw(gensts).state() == DeviceState::Halt && code != cmd::RESET_DEVICE {
        dev_err!(dev, "command {}: refused, the device is halted\n", code);
        return Err(EIO);
    }
    if regs::CmdSts::from_raw(sts).active() {
        // Commands are issued one at a time: an active one is a command that timed out and
        // never completed. The device drops a command written while one is active.
        dev_err!(
            dev,
            "command {}: refused, an earlier command never completed\n",
            code
        );
        return Err(EBUSY);
    }
    Ok(())
}

/// Runs device command `code` (`regs::cmd`) with `operand` and polls CMDSTS until it is done:
/// for when the device's interrupts are not connected (probe, teardown) and for tests.
///
/// Returns the command's result field on success; `EINVAL` for a code or operand that does
/// not fit CMD; `ENODEV` for a device whose registers read all ones; `EIO` on a halted device
/// (but for Reset Device) or (with the decoded CMDSTS error logged) when the device refuses
/// it; `EBUSY` while an earlier command is still active; `ETIMEDOUT` when it does not
/// complete in 5 s.
pub(crate) fn run_polled(
    dev: &Device,
    io: &(impl DeviceIo + ?Sized),
    code: u32,
    operand: u32,
) -> Result<u32> {
    let raw = encode(code, operand, false)?;
    check_issuable(dev, io, code)?;
    io.write32(off::CMD, raw);
    let sts = read_poll_timeout(
        || Ok(regs::CmdSts::from_raw(io.read32(off::CMDSTS))),
        |s: &regs::CmdSts| !s.active(),
        Delta::from_micros(100),
        CMD_TIMEOUT,
    )
    .inspect_err(|_| dev_err!(dev, "command {} timed out\n", code))?;
    result(dev, code, operand, sts)
}

/// What the misc interrupt tells command waiters.
struct Completions {
    /// The misc interrupt is connected: commands ask for INTCAUSE.CMD and wait for it.
    irq_on: bool,
    /// INTCAUSE.CMD interrupts seen.
    irqs: u64,
}

/// A device's command interface, one command at a time.
///
/// # Locks
///
/// `one` is held for the whole of a command, including the wait for its completion: it is a
/// sleeping lock and serialises commands (the device runs one at a time). `completions` is a
/// spinlock taken briefly by waiters and by the misc interrupt ([`Commands::completed`]); no
/// other lock is taken under it. Callers may hold the device's configuration lock while
/// running a command, so the misc interrupt must never wait for that lock (it does not).
#[pin_data]
pub(crate) struct Commands {
    #[pin]
    one: Mutex<()>,
    #[pin]
    completions: SpinLock<Completions>,
    /// Signalled by [`Commands::completed`].
    #[pin]
    done: CondVar,
}

impl Commands {
    /// A command interface whose commands are polled until [`Commands::set_irq`] turns the
    /// interrupt on.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            one <- new_mutex!((), "ridxd::cmd::one"),
            completions <- new_spinlock!(
                Completions { irq_on: false, irqs: 0 },
                "ridxd::cmd::completions"
            ),
            done <- new_condvar!("ridxd::cmd::done"),
        })
    }

    /// Whether commands complete through INTCAUSE.CMD (`true`) or are polled.
    pub(crate) fn set_irq(&self, on: bool) {
        self.completions.lock().irq_on = on;
    }

    /// Called by the misc interrupt on INTCAUSE.CMD: wakes the command waiter.
    pub(crate) fn completed(&self) {
        self.completions.lock().irqs += 1;
        self.done.notify_all();
    }

    /// Runs device command `code` with `operand` on `io`, one at a time. With the interrupt
    /// on, the command asks for INTCAUSE.CMD and the caller sleeps until
    /// [`Commands::completed`] (re-reading CMDSTS every 10 ms); otherwise CMDSTS is polled.
    ///
    /// Returns what [`run_polled`] returns.
    pub(crate) fn run(
        &self,
        dev: &Device,
        io: &(impl DeviceIo + ?Sized),
        code: u32,
        operand: u32,
    ) -> Result<u32> {
        let _one = self.one.lock();
        let start = {
            let c = self.completions.lock();
            if !c.irq_on {
                drop(c);
                return run_polled(dev, io, code, operand);
            }
            c.irqs
        };
        let raw = encode(code, operand, true)?;
        check_issuable(dev, io, code)?;
        io.write32(off::CMD, raw);
        let start_time = Instant::<Monotonic>::now();
        let sts = loop {
            let sts = regs::CmdSts::from_raw(io.read32(off::CMDSTS));
            let mut c = self.completions.lock();
            let by_irq = c.irqs != start;
            if !sts.active() {
                break sts;
            }
            if start_time.elapsed() > CMD_TIMEOUT {
                drop(c);
                dev_err!(dev, "command {} timed out\n", code);
                return Err(ETIMEDOUT);
            }
            if !by_irq {
                let r = self
                    .done
                    .wait_interruptible_timeout(&mut c, msecs_to_jiffies(RECHECK_MS));
                if let CondVarTimeoutResult::Signal { .. } = r {
                    drop(c);
                    fsleep(Delta::from_millis(1));
                }
            }
        };
        result(dev, code, operand, sts)
    }
}
