// SPDX-License-Identifier: GPL-2.0

//! The DSA MMIO register file (BAR0): offsets, field layouts, commands and their status codes.
//!
//! Every fact here is from the DSA architecture specification as encoded in
//! `drivers/dma/idxd/registers.h` (the names in brackets are its names). Registers wider than
//! 64 bits are split into 64-bit words (`_LO`/`_HI`, or an index). The KUnit suite
//! `ridxd_regs` checks each field against `registers.h` through `bindgen`.

use kernel::{bitfield, num::Bounded, prelude::*};

#[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
mod layout_test;

/// Register offsets in BAR0, in bytes.
#[cfg_attr(
    not(any(CONFIG_INTEL_IDXD_RUST_SIM, CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)),
    expect(
        dead_code,
        reason = "a table of the specification; the device model and the layout tests use the entries the driver does not"
    )
)]
pub(crate) mod off {
    /// VERSION, 32 bits [`IDXD_VER_OFFSET`].
    pub(crate) const VERSION: usize = 0x00;
    /// GENCAP, general capabilities, 64 bits [`IDXD_GENCAP_OFFSET`].
    pub(crate) const GENCAP: usize = 0x10;
    /// WQCAP, work-queue capabilities, 64 bits [`IDXD_WQCAP_OFFSET`].
    pub(crate) const WQCAP: usize = 0x20;
    /// GRPCAP, group capabilities, 64 bits [`IDXD_GRPCAP_OFFSET`].
    pub(crate) const GRPCAP: usize = 0x30;
    /// ENGCAP, engine capabilities, 64 bits [`IDXD_ENGCAP_OFFSET`].
    pub(crate) const ENGCAP: usize = 0x38;
    /// OPCAP, supported operations, 256 bits (4 qwords; bit N = opcode N) [`IDXD_OPCAP_OFFSET`].
    pub(crate) const OPCAP: usize = 0x40;
    /// Table offsets, 128 bits (2 qwords) [`IDXD_TABLE_OFFSET`].
    pub(crate) const TABLE_OFFSETS: usize = 0x60;
    /// GENCFG, general configuration, 32 bits [`IDXD_GENCFG_OFFSET`].
    pub(crate) const GENCFG: usize = 0x80;
    /// GENCTRL, general control (interrupt enables), 32 bits [`IDXD_GENCTRL_OFFSET`].
    pub(crate) const GENCTRL: usize = 0x88;
    /// GENSTS, general status, 32 bits [`IDXD_GENSTATS_OFFSET`].
    pub(crate) const GENSTS: usize = 0x90;
    /// INTCAUSE, interrupt cause (write 1 to clear), 32 bits [`IDXD_INTCAUSE_OFFSET`].
    pub(crate) const INTCAUSE: usize = 0x98;
    /// CMD, command, 32 bits [`IDXD_CMD_OFFSET`].
    pub(crate) const CMD: usize = 0xa0;
    /// CMDSTS, command status, 32 bits [`IDXD_CMDSTS_OFFSET`].
    pub(crate) const CMDSTS: usize = 0xa8;
    /// CMDCAP, supported commands (bit N = command N), 32 bits [`IDXD_CMDCAP_OFFSET`].
    pub(crate) const CMDCAP: usize = 0xb0;
    /// SWERR, software error, 256 bits (4 qwords) [`IDXD_SWERR_OFFSET`].
    pub(crate) const SWERR: usize = 0xc0;
    /// EVLCFG, event log configuration, 128 bits (2 qwords) [`IDXD_EVLCFG_OFFSET`].
    pub(crate) const EVLCFG: usize = 0xe0;
    /// EVLSTATUS, event log status, 64 bits [`IDXD_EVLSTATUS_OFFSET`].
    pub(crate) const EVLSTATUS: usize = 0xf0;
}

bitfield! {
    /// VERSION [`IDXD_VER_OFFSET`]: the DSA architecture version, major.minor.
    pub(crate) struct Version(u32) {
        /// Major version: 1 for DSA 1.0, 2 for DSA 2.0 (`?=>` [`Major`]).
        11:8 major ?=> Major;
        /// Minor version.
        7:4 minor;
    }
}

/// A VERSION major this driver knows [`DEVICE_VERSION_1`, `DEVICE_VERSION_2`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Major {
    /// DSA 1.0 (Sapphire Rapids): no event log, no per-WQ PRS disable.
    Dsa1 = 1,
    /// DSA 2.0: event log, per-WQ PRS disable.
    Dsa2 = 2,
}

impl TryFrom<Bounded<u32, 4>> for Major {
    type Error = Error;

    /// `ENODEV` for a major version this driver does not know.
    fn try_from(v: Bounded<u32, 4>) -> Result<Self> {
        match v.get() {
            1 => Ok(Self::Dsa1),
            2 => Ok(Self::Dsa2),
            _ => Err(ENODEV),
        }
    }
}

impl From<Major> for Bounded<u32, 4> {
    fn from(m: Major) -> Self {
        match m {
            Major::Dsa1 => Bounded::<u32, 4>::new::<1>(),
            Major::Dsa2 => Bounded::<u32, 4>::new::<2>(),
        }
    }
}

/// VERSION values [`DEVICE_VERSION_1`, `DEVICE_VERSION_2`].
#[cfg_attr(
    not(any(CONFIG_INTEL_IDXD_RUST_SIM, CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)),
    expect(
        dead_code,
        reason = "a table of the specification; the device model and the layout tests use the entries the driver does not"
    )
)]
pub(crate) mod version {
    /// DSA 1.0 (Sapphire Rapids): no event log, no per-WQ PRS disable.
    pub(crate) const DSA_1_0: u32 = 0x100;
    /// DSA 2.0: event log, per-WQ PRS disable.
    pub(crate) const DSA_2_0: u32 = 0x200;
}

bitfield! {
    /// GENCAP [`union gen_cap_reg`].
    pub(crate) struct GenCap(u64) {
        /// Block-on-fault supported.
        0:0 block_on_fault => bool;
        /// Overlapping copy supported.
        1:1 overlap_copy => bool;
        /// Cache control (memory) supported.
        2:2 cache_control_mem => bool;
        /// Cache control (cache) supported.
        3:3 cache_control_cache => bool;
        /// CMDCAP is valid.
        4:4 cmd_cap => bool;
        /// Destination readback supported.
        8:8 dest_readback => bool;
        /// Drain readback supported.
        9:9 drain_readback => bool;
        /// Event log support: 0 none, else entry size `32 << evl_support` bytes.
        14:13 evl_support;
        /// Batch continuation supported.
        15:15 batch_continuation => bool;
        /// Maximum transfer size is `1 << max_xfer_shift` bytes.
        20:16 max_xfer_shift;
        /// Maximum batch size is `1 << max_batch_shift` descriptors.
        24:21 max_batch_shift;
        /// IMS multiplier.
        30:25 max_ims_mult;
        /// The device is configurable (WQCFG/GRPCFG writable).
        31:31 config_en => bool;
    }
}

bitfield! {
    /// WQCAP [`union wq_cap_reg`].
    pub(crate) struct WqCap(u64) {
        /// Total WQ entries shared by all WQs.
        15:0 total_wq_size;
        /// Number of WQs.
        23:16 num_wqs;
        /// WQCFG entry size is `1 << (5 + wqcfg_size)` bytes [`IDXD_WQCFG_MIN`].
        27:24 wqcfg_size;
        /// Shared WQs supported.
        48:48 shared_mode => bool;
        /// Dedicated WQs supported.
        49:49 dedicated_mode => bool;
        /// Per-WQ ATS disable supported.
        50:50 wq_ats_support => bool;
        /// WQ priority supported.
        51:51 priority => bool;
        /// Occupancy reporting supported.
        52:52 occupancy => bool;
        /// Occupancy interrupt supported.
        53:53 occupancy_int => bool;
        /// Per-WQ operation configuration supported.
        54:54 op_config => bool;
        /// Per-WQ PRS disable supported (DSA 2.0).
        55:55 wq_prs_support => bool;
    }
}

bitfield! {
    /// GRPCAP [`union group_cap_reg`].
    pub(crate) struct GrpCap(u64) {
        /// Number of groups.
        7:0 num_groups;
        /// Total read buffers.
        15:8 total_rdbufs;
        /// Read buffer control supported.
        16:16 rdbuf_ctrl => bool;
        /// Read buffer limit supported.
        17:17 rdbuf_limit => bool;
        /// Progress limit supported.
        18:18 progress_limit => bool;
    }
}

bitfield! {
    /// ENGCAP [`union engine_cap_reg`].
    pub(crate) struct EngCap(u64) {
        /// Number of engines.
        7:0 num_engines;
    }
}

bitfield! {
    /// Table offsets, low qword [`union offsets_reg`], in units of [`TABLE_MULT`] bytes.
    pub(crate) struct TableOffsets(u64) {
        /// GRPCFG table.
        15:0 grpcfg;
        /// WQCFG table.
        31:16 wqcfg;
        /// MSI-X permission table.
        47:32 msix_perm;
        /// IMS table.
        63:48 ims;
    }
}

/// Unit of the table offsets, in bytes [`IDXD_TABLE_MULT`].
pub(crate) const TABLE_MULT: usize = 0x100;

bitfield! {
    /// GENCFG [`union gencfg_reg`].
    pub(crate) struct GenCfg(u32) {
        /// Global read buffer limit.
        7:0 rdbuf_limit;
        /// User-mode interrupts enable.
        12:12 user_int_en => bool;
        /// Event log enable; written only while the device is disabled.
        13:13 evl_en => bool;
    }
}

bitfield! {
    /// A group's flags, GRPCFG qword 5 [`union group_flags`].
    pub(crate) struct GroupFlags(u64) {
        /// Traffic class of descriptor and CR accesses.
        2:0 tc_a;
        /// Traffic class of source and destination accesses.
        5:3 tc_b;
        /// The group's engines honour GENCFG.rdbuf_limit.
        7:7 use_rdbuf_limit => bool;
        /// Read buffers reserved for the group.
        15:8 rdbufs_reserved;
        /// Read buffers the group may use.
        27:20 rdbufs_allowed;
        /// Descriptor progress limit (GRPCAP.progress_limit).
        33:32 desc_progress_limit;
        /// Batch progress limit (GRPCAP.progress_limit).
        37:36 batch_progress_limit;
    }
}

bitfield! {
    /// GENCTRL [`union genctrl_reg`].
    pub(crate) struct GenCtrl(u32) {
        /// Software error interrupt enable.
        0:0 softerr_int_en => bool;
        /// Halt state interrupt enable.
        1:1 halt_int_en => bool;
        /// Event log interrupt enable.
        2:2 evl_int_en => bool;
    }
}

bitfield! {
    /// GENSTS [`union gensts_reg`].
    pub(crate) struct GenSts(u32) {
        /// Device state.
        1:0 state => DeviceState;
        /// Reset type needed to leave the halt state.
        3:2 reset_type => ResetType;
    }
}

/// GENSTS.state [`enum idxd_device_status_state`]; the raw values are in [`state`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeviceState {
    /// Disabled.
    Disabled,
    /// Enabled.
    Enabled,
    /// Draining (disable in progress).
    Drain,
    /// Halted on a fatal error; needs the reset of GENSTS.reset_type.
    Halt,
}

impl From<Bounded<u32, 2>> for DeviceState {
    fn from(v: Bounded<u32, 2>) -> Self {
        match v.get() {
            state::DISABLED => Self::Disabled,
            state::ENABLED => Self::Enabled,
            state::DRAIN => Self::Drain,
            _ => Self::Halt,
        }
    }
}

impl From<DeviceState> for Bounded<u32, 2> {
    fn from(s: DeviceState) -> Self {
        match s {
            DeviceState::Disabled => Bounded::<u32, 2>::new::<{ state::DISABLED }>(),
            DeviceState::Enabled => Bounded::<u32, 2>::new::<{ state::ENABLED }>(),
            DeviceState::Drain => Bounded::<u32, 2>::new::<{ state::DRAIN }>(),
            DeviceState::Halt => Bounded::<u32, 2>::new::<{ state::HALT }>(),
        }
    }
}

/// GENSTS.reset_type [`enum idxd_device_reset_type`]: the reset a halted device needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResetType {
    /// Software reset: Reset Device (what disabling a device does after Disable fails).
    Software,
    /// PCI function-level reset.
    Flr,
    /// Warm reset of the platform.
    Warm,
    /// Cold reset of the platform.
    Cold,
}

impl From<Bounded<u32, 2>> for ResetType {
    fn from(v: Bounded<u32, 2>) -> Self {
        match v.get() {
            0 => Self::Software,
            1 => Self::Flr,
            2 => Self::Warm,
            _ => Self::Cold,
        }
    }
}

impl From<ResetType> for Bounded<u32, 2> {
    fn from(r: ResetType) -> Self {
        match r {
            ResetType::Software => Bounded::<u32, 2>::new::<0>(),
            ResetType::Flr => Bounded::<u32, 2>::new::<1>(),
            ResetType::Warm => Bounded::<u32, 2>::new::<2>(),
            ResetType::Cold => Bounded::<u32, 2>::new::<3>(),
        }
    }
}

/// GENSTS.state values [`enum idxd_device_status_state`].
pub(crate) mod state {
    /// Disabled.
    pub(crate) const DISABLED: u32 = 0;
    /// Enabled.
    pub(crate) const ENABLED: u32 = 1;
    /// Draining (disable in progress).
    pub(crate) const DRAIN: u32 = 2;
    /// Halted on a fatal error; needs the reset of GENSTS.reset_type.
    pub(crate) const HALT: u32 = 3;
}

/// INTCAUSE bits [`IDXD_INTC_*`]; write 1 to clear.
pub(crate) mod intcause {
    /// A software error was recorded in SWERR.
    pub(crate) const ERR: u32 = 0x01;
    /// A command completed (when the command asked for an interrupt).
    pub(crate) const CMD: u32 = 0x02;
    /// Occupancy interrupt.
    #[cfg_attr(
        not(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST),
        expect(
            dead_code,
            reason = "part of the table the layout tests check against registers.h; the driver does not use it"
        )
    )]
    pub(crate) const OCCUPY: u32 = 0x04;
    /// Perfmon counter overflow.
    #[cfg_attr(
        not(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST),
        expect(
            dead_code,
            reason = "part of the table the layout tests check against registers.h; the driver does not use it"
        )
    )]
    pub(crate) const PERFMON_OVFL: u32 = 0x08;
    /// The device entered the halt state.
    pub(crate) const HALT_STATE: u32 = 0x10;
    /// New event-log entries.
    pub(crate) const EVL: u32 = 0x20;
}

bitfield! {
    /// CMD [`union idxd_command_reg`].
    pub(crate) struct Cmd(u32) {
        /// Operand: WQ bitmask/index or PASID, per command.
        19:0 operand;
        /// Command code ([`cmd`]).
        24:20 cmd;
        /// Raise INTCAUSE.CMD on the misc vector when done.
        31:31 int_req => bool;
    }
}

/// Command codes [`enum idxd_cmd`].
#[cfg_attr(
    not(any(CONFIG_INTEL_IDXD_RUST_SIM, CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)),
    expect(
        dead_code,
        reason = "a table of the specification; the device model and the layout tests use the entries the driver does not"
    )
)]
pub(crate) mod cmd {
    /// Enable device.
    pub(crate) const ENABLE_DEVICE: u32 = 1;
    /// Disable device.
    pub(crate) const DISABLE_DEVICE: u32 = 2;
    /// Drain all WQs.
    pub(crate) const DRAIN_ALL: u32 = 3;
    /// Abort all WQs.
    pub(crate) const ABORT_ALL: u32 = 4;
    /// Reset device (software reset).
    pub(crate) const RESET_DEVICE: u32 = 5;
    /// Enable WQ (operand: WQ index).
    pub(crate) const ENABLE_WQ: u32 = 6;
    /// Disable WQs (operand: bit 16..19 select a 16-WQ block, 15:0 a mask within it).
    pub(crate) const DISABLE_WQ: u32 = 7;
    /// Drain WQs (operand as for disable).
    pub(crate) const DRAIN_WQ: u32 = 8;
    /// Abort WQs (operand as for disable).
    pub(crate) const ABORT_WQ: u32 = 9;
    /// Reset WQs (operand as for disable).
    pub(crate) const RESET_WQ: u32 = 10;
    /// Drain PASID (operand: PASID).
    pub(crate) const DRAIN_PASID: u32 = 11;
    /// Abort PASID (operand: PASID).
    pub(crate) const ABORT_PASID: u32 = 12;
    /// Request an interrupt handle.
    #[cfg_attr(
        not(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST),
        expect(
            dead_code,
            reason = "part of the table the layout tests check against registers.h; the driver does not use it"
        )
    )]
    pub(crate) const REQUEST_INT_HANDLE: u32 = 13;
    /// Release an interrupt handle.
    #[cfg_attr(
        not(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST),
        expect(
            dead_code,
            reason = "part of the table the layout tests check against registers.h; the driver does not use it"
        )
    )]
    pub(crate) const RELEASE_INT_HANDLE: u32 = 14;
}

bitfield! {
    /// CMDSTS [`union cmdsts_reg`].
    pub(crate) struct CmdSts(u32) {
        /// Error code ([`cmdsts`]); 0 on success.
        7:0 err => u8;
        /// Command result.
        23:8 result => u16;
        /// A command is in progress.
        31:31 active => bool;
    }
}

/// CMDSTS.err codes [`enum idxd_cmdsts_err`].
pub(crate) mod cmdsts {
    /// Success.
    pub(crate) const SUCCESS: u32 = 0x00;
    /// Invalid command code.
    pub(crate) const INVAL_CMD: u32 = 0x01;
    /// Invalid WQ index.
    pub(crate) const INVAL_WQIDX: u32 = 0x02;
    /// Hardware error.
    pub(crate) const HW_ERR: u32 = 0x03;
    /// Enable device: already enabled.
    pub(crate) const ERR_DEV_ENABLED: u32 = 0x10;
    /// Enable device: invalid configuration.
    pub(crate) const ERR_CONFIG: u32 = 0x11;
    /// Enable device: bus mastering is off.
    pub(crate) const ERR_BUSMASTER_EN: u32 = 0x12;
    /// Enable device: invalid PASID (event log).
    pub(crate) const ERR_PASID_INVAL: u32 = 0x13;
    /// Enable device: WQ sizes add up to more than WQCAP.total_wq_size.
    pub(crate) const ERR_WQ_SIZE_ERANGE: u32 = 0x14;
    /// Enable device: group configuration error (a group with WQs has no engine).
    pub(crate) const ERR_GRP_CONFIG: u32 = 0x15;
    /// Enable device: group configuration error 2 (a WQ or engine in two groups).
    pub(crate) const ERR_GRP_CONFIG2: u32 = 0x16;
    /// Enable device: group configuration error 3.
    pub(crate) const ERR_GRP_CONFIG3: u32 = 0x17;
    /// Enable device: group configuration error 4.
    pub(crate) const ERR_GRP_CONFIG4: u32 = 0x18;
    /// Enable WQ: the device is not enabled.
    pub(crate) const ERR_DEV_NOTEN: u32 = 0x20;
    /// Enable WQ: the WQ is already enabled.
    pub(crate) const ERR_WQ_ENABLED: u32 = 0x21;
    /// Enable WQ: WQ size is 0.
    pub(crate) const ERR_WQ_SIZE: u32 = 0x22;
    /// Enable WQ: invalid priority.
    pub(crate) const ERR_WQ_PRIOR: u32 = 0x23;
    /// Enable WQ: invalid mode (not supported by WQCAP).
    pub(crate) const ERR_WQ_MODE: u32 = 0x24;
    /// Enable WQ: block on fault set but not supported.
    pub(crate) const ERR_BOF_EN: u32 = 0x25;
    /// Enable WQ: PASID enable mismatch.
    pub(crate) const ERR_PASID_EN: u32 = 0x26;
    /// Enable WQ: max batch size out of range.
    pub(crate) const ERR_MAX_BATCH_SIZE: u32 = 0x27;
    /// Enable WQ: max transfer size out of range.
    pub(crate) const ERR_MAX_XFER_SIZE: u32 = 0x28;
    /// Disable device: the device is not enabled.
    pub(crate) const ERR_DIS_DEV_EN: u32 = 0x31;
    /// Disable/drain/abort/reset WQ: the device (or WQ) is not enabled.
    pub(crate) const ERR_DEV_NOT_EN: u32 = 0x32;
}

bitfield! {
    /// SWERR qword 0 [`union sw_err_reg`].
    pub(crate) struct SwErr0(u64) {
        /// An error is recorded.
        0:0 valid => bool;
        /// A further error arrived before this one was cleared.
        1:1 overflow => bool;
        /// Descriptor fields valid.
        2:2 desc_valid => bool;
        /// `wq_idx` valid.
        3:3 wq_idx_valid => bool;
        /// The descriptor was in a batch.
        4:4 batch => bool;
        /// The faulting access was a write.
        5:5 fault_rw => bool;
        /// Privileged descriptor.
        6:6 priv_ => bool;
        /// Error code (a completion status code).
        15:8 error => u8;
        /// WQ index.
        23:16 wq_idx => u8;
        /// Opcode.
        39:32 operation => u8;
        /// PASID.
        59:40 pasid;
    }
}

bitfield! {
    /// SWERR qword 1 [`union sw_err_reg`].
    pub(crate) struct SwErr1(u64) {
        /// Index within the batch.
        15:0 batch_idx;
        /// Invalid flags.
        63:32 invalid_flags;
    }
}

/// SWERR qword 0 bits written back to acknowledge an error [`IDXD_SWERR_ACK`].
pub(crate) const SWERR_ACK: u64 = 0x3;

bitfield! {
    /// EVLCFG low qword [`union evlcfg_reg`].
    pub(crate) struct EvlCfgLo(u64) {
        /// The event log is written with `pasid`.
        0:0 pasid_en => bool;
        /// The event log is written with supervisor privilege.
        1:1 priv_ => bool;
        /// Base address bits 63:12 (the ring is page aligned).
        63:12 base_addr;
    }
}

bitfield! {
    /// EVLCFG high qword [`union evlcfg_reg`].
    pub(crate) struct EvlCfgHi(u64) {
        /// Number of entries.
        15:0 size;
        /// PASID used when `pasid_en`.
        35:16 pasid;
    }
}

/// Event log size limits, in entries [`IDXD_EVL_SIZE_MIN`, `IDXD_EVL_SIZE_MAX`].
pub(crate) const EVL_SIZE_MIN: u32 = 0x40;
/// See [`EVL_SIZE_MIN`].
pub(crate) const EVL_SIZE_MAX: u32 = 0xffff;

bitfield! {
    /// EVLSTATUS [`union evl_status_reg`].
    pub(crate) struct EvlStatus(u64) {
        /// Head: next entry software reads (written by software).
        15:0 head;
        /// Tail: next entry the device writes.
        47:32 tail;
        /// An interrupt is pending; write 1 to the upper dword's bit 30 to clear.
        62:62 int_pending => bool;
    }
}

/// Offset of the upper dword of EVLSTATUS, written with [`EVLSTATUS_INT_PENDING_HI`] to clear
/// `int_pending` without touching `head`.
pub(crate) const EVLSTATUS_HI: usize = off::EVLSTATUS + 4;
/// `int_pending` in the upper dword of EVLSTATUS.
pub(crate) const EVLSTATUS_INT_PENDING_HI: u32 = 1 << 30;

/// WQCFG: each WQ has a `1 << (5 + WQCAP.wqcfg_size)`-byte entry in the WQCFG table, made of
/// 32-bit words [`union wqcfg`].
#[cfg_attr(
    not(any(CONFIG_INTEL_IDXD_RUST_SIM, CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)),
    expect(
        dead_code,
        reason = "a table of the specification; the device model and the layout tests use the entries the driver does not"
    )
)]
pub(crate) mod wqcfg {
    /// Minimum entry size shift [`IDXD_WQCFG_MIN`].
    pub(crate) const SIZE_SHIFT_MIN: u32 = 5;
    /// Dword 0: WQ size (entries), bits 15:0.
    pub(crate) const SIZE_IDX: usize = 0;
    /// Dword 1: WQ threshold (shared WQ), bits 15:0.
    pub(crate) const THRESH_IDX: usize = 1;
    /// Dword 2: mode and PASID, see [`super::WqCfgMode`].
    pub(crate) const MODE_IDX: usize = 2;
    /// Dword 3: size limits, see [`super::WqCfgLimits`].
    pub(crate) const LIMITS_IDX: usize = 3;
    /// Dword 6: occupancy and state, see [`super::WqCfgState`].
    pub(crate) const STATE_IDX: usize = 6;
    /// Dwords 8-15 (64-byte entries only): OPCFG, the operations the WQ runs, one bit per
    /// opcode, as OPCAP [`op_config[4]` in `union wqcfg`, bytes 32-63].
    pub(crate) const OPCFG_IDX: usize = 8;

    /// The bits of dwords 0-3 this driver programs [`union wqcfg`]: wq_size (15:0), wq_thresh
    /// (15:0), mode to priv (29:0), max_xfer_shift and max_batch_shift (8:0). The others
    /// (reserved, max_sgl_shift of IAA) keep what the device has.
    pub(crate) const OWNED: [u32; 4] = [0xffff, 0xffff, 0x3fff_ffff, 0x1ff];

    /// Dword `i` (0-3) as written: `ours` in the bits this driver programs ([`OWNED`]), what
    /// the device has (`hw`) in the others, as idxd's `idxd_wq_config_write()` reads WQCFG
    /// back first ("the sticky values that are present on some devices").
    pub(crate) fn merge(i: usize, hw: u32, ours: u32) -> u32 {
        (hw & !OWNED[i]) | (ours & OWNED[i])
    }
}

bitfield! {
    /// WQCFG dword 2 [`union wqcfg`].
    pub(crate) struct WqCfgMode(u32) {
        /// WQ mode (1: dedicated, 0: shared).
        0:0 mode => WqMode;
        /// Block on fault.
        1:1 bof => bool;
        /// ATS disabled for this WQ.
        2:2 wq_ats_disable => bool;
        /// PRS disabled for this WQ (needs WQCAP.wq_prs_support).
        3:3 wq_prs_disable => bool;
        /// Priority.
        7:4 priority;
        /// PASID of a dedicated WQ.
        27:8 pasid;
        /// `pasid` is valid.
        28:28 pasid_en => bool;
        /// Privileged (supervisor) WQ.
        29:29 priv_ => bool;
    }
}

/// WQ mode, WQCFG.mode [`union wqcfg`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WqMode {
    /// One submitter (MOVDIR64B); the WQ carries the PASID.
    Dedicated,
    /// Many submitters (ENQCMD/ENQCMDS); each submission carries its PASID.
    Shared,
}

impl From<Bounded<u32, 1>> for WqMode {
    fn from(v: Bounded<u32, 1>) -> Self {
        if v.into_bool() {
            Self::Dedicated
        } else {
            Self::Shared
        }
    }
}

impl From<WqMode> for Bounded<u32, 1> {
    fn from(m: WqMode) -> Self {
        (m == WqMode::Dedicated).into()
    }
}

bitfield! {
    /// WQCFG dword 3 [`union wqcfg`].
    pub(crate) struct WqCfgLimits(u32) {
        /// Maximum transfer size shift.
        4:0 max_xfer_shift;
        /// Maximum batch size shift.
        8:5 max_batch_shift;
    }
}

bitfield! {
    /// WQCFG dword 6 [`union wqcfg`].
    pub(crate) struct WqCfgState(u32) {
        /// Current occupancy (entries in use).
        15:0 occupancy;
        /// The WQ supports the mode bit being written.
        29:29 mode_support => bool;
        /// WQ state: 0 disabled, 1 enabled.
        31:30 wq_state;
    }
}

/// GRPCFG: 64 bytes per group [`GRPCFG_SIZE`]: four qwords of WQ bitmap, the engine bitmap at
/// byte 32 and the group flags at byte 40.
pub(crate) mod grpcfg {
    /// Size of one group's entry in bytes.
    pub(crate) const SIZE: usize = 64;
    /// Offset of the WQ bitmap (256 bits).
    pub(crate) const WQS: usize = 0;
    /// Offset of the engine bitmap (64 bits).
    pub(crate) const ENGINES: usize = 32;
    /// Offset of the group flags (64 bits).
    pub(crate) const FLAGS: usize = 40;
}
