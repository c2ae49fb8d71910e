// SPDX-License-Identifier: GPL-2.0

//! What a DSA device says about itself: VERSION and the read-only capability registers, read
//! once at probe and plain data from then on (`registers.h`: `union gen_cap_reg`,
//! `union wq_cap_reg`, `union group_cap_reg`, `union engine_cap_reg`, `union offsets_reg`).

use crate::{
    hwif::DeviceIo,
    regs::{self, off, Major},
};
use kernel::{device::Device, prelude::*};

/// A device's VERSION and capability registers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caps {
    /// VERSION, raw (0x100: DSA 1.0, 0x200: DSA 2.0).
    pub(crate) version: u32,
    /// VERSION's major, one this driver knows.
    pub(crate) major: Major,
    /// GENCAP.
    pub(crate) gencap: regs::GenCap,
    /// WQCAP.
    pub(crate) wqcap: regs::WqCap,
    /// GRPCAP.
    pub(crate) grpcap: regs::GrpCap,
    /// ENGCAP.
    pub(crate) engcap: regs::EngCap,
    /// Table offsets (low qword).
    pub(crate) tables: regs::TableOffsets,
    /// OPCAP, the operations the device has: bit `n` for opcode `n`, qword 0 lowest
    /// [`OPCAP_OFFSET`, 4 qwords].
    pub(crate) opcap: [u64; 4],
}

impl Caps {
    /// Reads the capability registers through `io`.
    ///
    /// Returns `ENODEV` (with one line logged on `dev`) for a device this driver does not
    /// know: a VERSION major other than 1 or 2, no WQs, groups or engines, more than 64
    /// engines, or no GRPCFG/WQCFG table.
    pub(crate) fn read(dev: &Device, io: &(impl DeviceIo + ?Sized)) -> Result<Self> {
        let version = io.read32(off::VERSION);
        let major = regs::Version::from_raw(version)
            .major()
            .inspect_err(|_| dev_err!(dev, "unsupported DSA version {:#x}\n", version))?;
        let gencap = regs::GenCap::from_raw(io.read64(off::GENCAP));
        let caps = Self {
            version,
            major,
            gencap,
            wqcap: regs::WqCap::from_raw(io.read64(off::WQCAP)),
            grpcap: regs::GrpCap::from_raw(io.read64(off::GRPCAP)),
            engcap: regs::EngCap::from_raw(io.read64(off::ENGCAP)),
            tables: regs::TableOffsets::from_raw(io.read64(off::TABLE_OFFSETS)),
            opcap: core::array::from_fn(|i| io.read64(off::OPCAP + 8 * i)),
        };
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
        // GRPCFG's engine bitmap is 64 bits wide [`struct grpcfg`]: engines past it cannot
        // be put in a group.
        if caps.num_engines() > 64 {
            dev_err!(
                dev,
                "device reports {} engines, more than GRPCFG can hold\n",
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

    /// VERSION's minor (bits 7:4).
    pub(crate) fn minor(&self) -> u32 {
        regs::Version::from_raw(self.version).minor().get()
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
        self.wqcap.wq_prs_support()
    }

    /// Whether the device is configurable by software (GENCAP.config_en).
    pub(crate) fn configurable(&self) -> bool {
        self.gencap.config_en()
    }

    /// Byte offset in BAR0 of group `g`'s GRPCFG entry (`TABLE_OFFSETS.grpcfg` ×
    /// `IDXD_TABLE_MULT`, then [`regs::grpcfg::SIZE`] bytes per group).
    pub(crate) fn grpcfg_offset(&self, g: usize) -> usize {
        self.tables.grpcfg().get() as usize * regs::TABLE_MULT + g * regs::grpcfg::SIZE
    }

    /// Byte offset in BAR0 of dword `idx` of WQ `wq`'s WQCFG entry (`TABLE_OFFSETS.wqcfg` ×
    /// `IDXD_TABLE_MULT`, then `1 << (5 + WQCAP.wqcfg_size)` bytes per WQ).
    pub(crate) fn wqcfg_offset(&self, wq: usize, idx: usize) -> usize {
        let stride = 1usize << (regs::wqcfg::SIZE_SHIFT_MIN + self.wqcap.wqcfg_size().get() as u32);
        self.tables.wqcfg().get() as usize * regs::TABLE_MULT + wq * stride + idx * 4
    }
}
