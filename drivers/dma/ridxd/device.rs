// SPDX-License-Identifier: GPL-2.0

//! A DSA device, whatever carries it: its capabilities and its command interface.
//!
//! Probe is the same for a PCI device and for a model device: read VERSION and the capability
//! registers through the [`DeviceIo`] seam, check them, reset the device.

use crate::{
    hwif::DeviceIo,
    regs::{self, cmd, cmdsts, off},
};
use kernel::{device::Device, io::poll::read_poll_timeout, prelude::*, time::Delta};

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

/// Runs device command `code` with `operand` and waits for it (polling CMDSTS.active).
///
/// Returns the command's result field on success; `EIO` (with the decoded CMDSTS error
/// logged) when the device refuses it, `ETIMEDOUT` when it does not complete.
pub(crate) fn command(dev: &Device, io: &dyn DeviceIo, code: u32, operand: u32) -> Result<u32> {
    io.write32(off::CMD, code << 20 | (operand & 0xf_ffff));
    let sts = read_poll_timeout(
        || Ok(io.read32(off::CMDSTS)),
        |s: &u32| s & (1 << 31) == 0,
        Delta::from_micros(100),
        CMD_TIMEOUT,
    )
    .inspect_err(|_| dev_err!(dev, "command {} timed out\n", code))?;
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

/// A probed DSA device.
pub(crate) struct DsaDevice<H: DeviceIo> {
    io: H,
    caps: Caps,
}

impl<H: DeviceIo> DsaDevice<H> {
    /// Probes the device behind `io`: reads and checks its capabilities, resets it.
    ///
    /// Returns `ENODEV` for a device this driver does not handle, `EIO`/`ETIMEDOUT` when the
    /// reset fails.
    pub(crate) fn probe(dev: &Device, io: H) -> Result<Self> {
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
        Ok(Self { io, caps })
    }

    /// The device's capabilities.
    pub(crate) fn caps(&self) -> &Caps {
        &self.caps
    }

    /// The device's registers.
    pub(crate) fn io(&self) -> &H {
        &self.io
    }
}
