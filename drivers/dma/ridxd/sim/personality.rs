// SPDX-License-Identifier: GPL-2.0

//! What a model device reports in its read-only registers: DSA 1.0 and DSA 2.0 personalities.
//!
//! Capability values follow the field layouts of `registers.h` (see [`crate::regs`]). The sizes
//! (WQs, groups, engines, WQ entries) are small but of the shape of real parts; where a real
//! part's exact value is not public, the value is the model's own and says so.

use crate::{hw::opcode, regs};
use kernel::prelude::*;

/// Which DSA generation a model device is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Generation {
    /// DSA 1.0 (Sapphire Rapids): no event log, no per-WQ PRS disable; errors go to SWERR.
    Dsa1,
    /// DSA 2.0: event log (64-byte entries), per-WQ PRS disable.
    Dsa2,
}

/// The read-only face of a model device.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Personality {
    /// VERSION.
    pub(crate) version: u32,
    /// GENCAP.
    pub(crate) gencap: u64,
    /// WQCAP.
    pub(crate) wqcap: u64,
    /// GRPCAP.
    pub(crate) grpcap: u64,
    /// ENGCAP.
    pub(crate) engcap: u64,
    /// OPCAP: bit N set when opcode N is supported.
    pub(crate) opcap: [u64; 4],
    /// CMDCAP: bit N set when command N is supported.
    pub(crate) cmdcap: u32,
    /// TABLE_OFFSETS (two qwords), in units of [`regs::TABLE_MULT`].
    pub(crate) table_offsets: [u64; 2],
}

/// Number of WQs of a model device (the model's choice; SPR has 8).
pub(crate) const NUM_WQS: usize = 8;
/// Number of groups (the model's choice; SPR has 4).
pub(crate) const NUM_GROUPS: usize = 4;
/// Number of engines (the model's choice; SPR has 4).
pub(crate) const NUM_ENGINES: usize = 4;
/// Total WQ entries shared by all WQs (the model's choice; SPR has 128).
pub(crate) const TOTAL_WQ_SIZE: u32 = 128;
/// Maximum transfer size shift: 2 MiB (the model's choice; SPR reports 31).
pub(crate) const MAX_XFER_SHIFT: u32 = 21;
/// Maximum batch size shift: 1024 descriptors (SPR's value).
pub(crate) const MAX_BATCH_SHIFT: u32 = 10;
/// GENCAP.evl_support of a DSA 2.0 device: 64-byte entries (`32 << 1`).
const EVL_SUPPORT: u64 = 1;

/// The opcodes the model executes; OPCAP advertises exactly these.
const OPS: [u8; 7] = [
    opcode::NOOP,
    opcode::BATCH,
    opcode::DRAIN,
    opcode::MEMMOVE,
    opcode::MEMFILL,
    opcode::COMPARE,
    opcode::COMPVAL,
];

/// The commands the model executes; CMDCAP advertises exactly these.
const CMDS: [u32; 12] = [
    regs::cmd::ENABLE_DEVICE,
    regs::cmd::DISABLE_DEVICE,
    regs::cmd::DRAIN_ALL,
    regs::cmd::ABORT_ALL,
    regs::cmd::RESET_DEVICE,
    regs::cmd::ENABLE_WQ,
    regs::cmd::DISABLE_WQ,
    regs::cmd::DRAIN_WQ,
    regs::cmd::ABORT_WQ,
    regs::cmd::RESET_WQ,
    regs::cmd::DRAIN_PASID,
    regs::cmd::ABORT_PASID,
];

impl Personality {
    /// The personality of a `generation` device.
    pub(crate) fn new(generation: Generation) -> Self {
        let dsa2 = matches!(generation, Generation::Dsa2);
        // GENCAP: block-on-fault, cache control, CMDCAP valid, configurable; the event log
        // (64-byte entries) on DSA 2.0; 2 MiB transfers, 1024-descriptor batches. No
        // overlapping copy: the model refuses overlapping memmove buffers.
        let gencap = regs::GenCap::zeroed()
            .with_block_on_fault(true)
            .with_cache_control_mem(true)
            .with_cache_control_cache(true)
            .with_cmd_cap(true)
            .with_config_en(true)
            .with_const_evl_support::<{ EVL_SUPPORT }>()
            .with_const_max_xfer_shift::<{ MAX_XFER_SHIFT as u64 }>()
            .with_const_max_batch_shift::<{ MAX_BATCH_SHIFT as u64 }>();
        let gencap = if dsa2 {
            gencap
        } else {
            gencap.with_const_evl_support::<0>()
        };
        // WQCAP: 128 entries over 8 WQs; 32-byte WQCFG entries on 1.0, 64-byte ones
        // (wqcfg_size 1) on 2.0; shared and dedicated modes, ATS disable, priority,
        // occupancy; per-WQ PRS disable and operation configuration (OPCFG) on 2.0, as
        // accel-config's tests expect of every device but a version 0x100 one
        // (`test/dsa_config_test_runner.sh`).
        let wqcap = regs::WqCap::zeroed()
            .with_const_total_wq_size::<{ TOTAL_WQ_SIZE as u64 }>()
            .with_const_num_wqs::<{ NUM_WQS as u64 }>()
            .with_shared_mode(true)
            .with_dedicated_mode(true)
            .with_wq_ats_support(true)
            .with_priority(true)
            .with_occupancy(true)
            .with_wq_prs_support(dsa2)
            .with_op_config(dsa2);
        let wqcap = if dsa2 {
            wqcap.with_const_wqcfg_size::<1>()
        } else {
            wqcap
        };
        // GRPCAP: 96 read buffers in all (the model does not use them).
        let grpcap = regs::GrpCap::zeroed()
            .with_const_num_groups::<{ NUM_GROUPS as u64 }>()
            .with_const_total_rdbufs::<96>();
        let engcap = regs::EngCap::zeroed().with_const_num_engines::<{ NUM_ENGINES as u64 }>();
        let mut opcap = [0u64; 4];
        let mut i = 0;
        while i < OPS.len() {
            let op = OPS[i] as usize;
            opcap[op / 64] |= 1 << (op % 64);
            i += 1;
        }
        let mut cmdcap = 0u32;
        let mut i = 0;
        while i < CMDS.len() {
            cmdcap |= 1 << CMDS[i];
            i += 1;
        }
        // Tables, in units of IDXD_TABLE_MULT: GRPCFG at 0x400 (4 groups x 64 B), WQCFG at
        // 0x500 (8 WQs x 32 or 64 B), MSI-X permissions at 0x700 (8 B per vector).
        let tables = regs::TableOffsets::zeroed()
            .with_const_grpcfg::<0x4>()
            .with_const_wqcfg::<0x5>()
            .with_const_msix_perm::<0x7>();
        let table_offsets = [tables.into_raw(), 0];
        Self {
            version: if dsa2 {
                regs::version::DSA_2_0
            } else {
                regs::version::DSA_1_0
            },
            gencap: gencap.into_raw(),
            wqcap: wqcap.into_raw(),
            grpcap: grpcap.into_raw(),
            engcap: engcap.into_raw(),
            opcap,
            cmdcap,
            table_offsets,
        }
    }

    /// Whether opcode `op` is advertised in OPCAP.
    pub(crate) fn supports_op(&self, op: u8) -> bool {
        self.opcap[op as usize / 64] & (1 << (op % 64)) != 0
    }

    /// Whether the device has an event log (GENCAP.evl_support != 0).
    pub(crate) fn has_evl(&self) -> bool {
        regs::GenCap::from_raw(self.gencap).evl_support().get() != 0
    }

    /// Byte size of one WQCFG entry: `1 << (5 + WQCAP.wqcfg_size)`.
    pub(crate) fn wqcfg_stride(&self) -> usize {
        let shift = regs::WqCap::from_raw(self.wqcap).wqcfg_size().get() as u32;
        1usize << (regs::wqcfg::SIZE_SHIFT_MIN + shift)
    }

    /// Byte offset of the GRPCFG table in BAR0.
    pub(crate) fn grpcfg_offset(&self) -> usize {
        let t = regs::TableOffsets::from_raw(self.table_offsets[0]);
        t.grpcfg().get() as usize * regs::TABLE_MULT
    }

    /// Byte offset of the WQCFG table in BAR0.
    pub(crate) fn wqcfg_offset(&self) -> usize {
        let t = regs::TableOffsets::from_raw(self.table_offsets[0]);
        t.wqcfg().get() as usize * regs::TABLE_MULT
    }

    /// Byte offset of the MSI-X permission table in BAR0.
    pub(crate) fn msix_perm_offset(&self) -> usize {
        let t = regs::TableOffsets::from_raw(self.table_offsets[0]);
        t.msix_perm().get() as usize * regs::TABLE_MULT
    }
}
