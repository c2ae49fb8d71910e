// SPDX-License-Identifier: GPL-2.0

//! DSA hardware data formats: the work descriptor, the completion record (CR) and the event-log
//! (EVL) entry, with the opcode, flag and status codes the driver uses.
//!
//! Each layout is defined once here. The facts come from the DSA architecture specification as
//! encoded in the kernel tree: `include/uapi/linux/idxd.h` (`struct dsa_hw_desc`,
//! `struct dsa_completion_record`, opcodes, flags, status codes) and
//! `drivers/dma/idxd/registers.h` (`struct __evl_entry`, `struct dsa_evl_entry`). The KUnit suite
//! in `hw/layout_test.rs` checks every field position against those C definitions.
//!
//! All multi-byte fields are little endian, as the device reads and writes them.

use kernel::{
    bitfield,
    prelude::*,
    transmute::{AsBytes, FromBytes},
};

#[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
mod layout_test;

/// Descriptor opcodes (`enum dsa_opcode`, uapi `idxd.h`).
#[cfg_attr(
    not(any(CONFIG_INTEL_IDXD_RUST_SIM, CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)),
    expect(
        dead_code,
        reason = "a table of the specification; the device model and the layout tests use the entries the driver does not"
    )
)]
pub(crate) mod opcode {
    /// No operation; only writes a CR if asked.
    pub(crate) const NOOP: u8 = 0x00;
    /// Batch: `src_addr` points to an array of `desc_count` descriptors.
    pub(crate) const BATCH: u8 = 0x01;
    /// Drain: completes after all earlier descriptors of the WQ (or PASID) complete.
    pub(crate) const DRAIN: u8 = 0x02;
    /// Memory move: copies `xfer_size` bytes from `src_addr` to `dst_addr`.
    pub(crate) const MEMMOVE: u8 = 0x03;
    /// Memory fill with the 8-byte (or 16-byte) pattern in `src_addr` (`pattern`).
    pub(crate) const MEMFILL: u8 = 0x04;
    /// Compare two buffers.
    pub(crate) const COMPARE: u8 = 0x05;
    /// Compare a buffer with the 8-byte pattern.
    pub(crate) const COMPVAL: u8 = 0x06;
    /// Create delta record.
    #[cfg_attr(
        not(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST),
        expect(
            dead_code,
            reason = "part of the table the layout tests check against idxd.h; the driver does not use it"
        )
    )]
    pub(crate) const CR_DELTA: u8 = 0x07;
    /// Apply delta record.
    #[cfg_attr(
        not(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST),
        expect(
            dead_code,
            reason = "part of the table the layout tests check against idxd.h; the driver does not use it"
        )
    )]
    pub(crate) const AP_DELTA: u8 = 0x08;
    /// Dualcast.
    #[cfg_attr(
        not(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST),
        expect(
            dead_code,
            reason = "part of the table the layout tests check against idxd.h; the driver does not use it"
        )
    )]
    pub(crate) const DUALCAST: u8 = 0x09;
    /// CRC generation.
    #[cfg_attr(
        not(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST),
        expect(
            dead_code,
            reason = "part of the table the layout tests check against idxd.h; the driver does not use it"
        )
    )]
    pub(crate) const CRCGEN: u8 = 0x10;
    /// Copy with CRC generation.
    #[cfg_attr(
        not(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST),
        expect(
            dead_code,
            reason = "part of the table the layout tests check against idxd.h; the driver does not use it"
        )
    )]
    pub(crate) const COPY_CRC: u8 = 0x11;
    /// Cache flush.
    #[cfg_attr(
        not(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST),
        expect(
            dead_code,
            reason = "part of the table the layout tests check against idxd.h; the driver does not use it"
        )
    )]
    pub(crate) const CFLUSH: u8 = 0x20;
}

/// Descriptor flags, bits 23:0 of the second descriptor dword (`IDXD_OP_FLAG_*`, uapi `idxd.h`).
#[cfg_attr(
    not(any(CONFIG_INTEL_IDXD_RUST_SIM, CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)),
    expect(
        dead_code,
        reason = "a table of the specification; the device model and the layout tests use the entries the driver does not"
    )
)]
pub(crate) mod flags {
    /// Fence: within a batch, wait for earlier descriptors to complete.
    pub(crate) const FENCE: u32 = 0x0001;
    /// Block on fault: the device waits for page faults to be resolved.
    pub(crate) const BOF: u32 = 0x0002;
    /// Completion record address valid.
    pub(crate) const CRAV: u32 = 0x0004;
    /// Request completion record (also on success).
    pub(crate) const RCR: u32 = 0x0008;
    /// Request completion interrupt.
    pub(crate) const RCI: u32 = 0x0010;
    /// Cache control: write destination to cache.
    pub(crate) const CC: u32 = 0x0100;
}

/// Completion record status codes, bits 6:0 of `status` (`enum dsa_completion_status`).
#[cfg_attr(
    not(any(CONFIG_INTEL_IDXD_RUST_SIM, CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)),
    expect(
        dead_code,
        reason = "a table of the specification; the device model and the layout tests use the entries the driver does not"
    )
)]
pub(crate) mod status {
    /// Not yet completed (what software initialises the CR status with).
    pub(crate) const NONE: u8 = 0x00;
    /// Success.
    pub(crate) const SUCCESS: u8 = 0x01;
    /// Success with false predicate (compare: buffers differ).
    pub(crate) const SUCCESS_PRED: u8 = 0x02;
    /// Partial completion due to a page fault, block-on-fault off.
    pub(crate) const PAGE_FAULT_NOBOF: u8 = 0x03;
    /// Batch: at least one descriptor of the batch failed.
    pub(crate) const BATCH_FAIL: u8 = 0x05;
    /// Batch: page fault reading the descriptor list.
    pub(crate) const BATCH_PAGE_FAULT: u8 = 0x06;
    /// Unsupported opcode.
    pub(crate) const BAD_OPCODE: u8 = 0x10;
    /// Invalid flags.
    pub(crate) const INVALID_FLAGS: u8 = 0x11;
    /// Non-zero reserved field.
    pub(crate) const NOZERO_RESERVE: u8 = 0x12;
    /// Transfer size out of range.
    pub(crate) const XFER_ERANGE: u8 = 0x13;
    /// Batch descriptor count out of range.
    pub(crate) const DESC_CNT_ERANGE: u8 = 0x14;
    /// Overlapping buffers.
    pub(crate) const OVERLAP_BUFFERS: u8 = 0x16;
    /// Completion record address translation fault (reported in the event log).
    pub(crate) const CRA_XLAT: u8 = 0x1a;
    /// Completion record address not aligned.
    pub(crate) const CRA_ALIGN: u8 = 0x1b;
    /// Privileged descriptor from a context that may not submit one.
    pub(crate) const PRIV_BAD: u8 = 0x1d;
    /// Address translation failed (no address space for the PASID, or an unrecoverable fault).
    pub(crate) const TRANSLATION_FAIL: u8 = 0x22;
    /// Drain: a page fault on an earlier descriptor's CR was reported in the event log.
    pub(crate) const DRAIN_EVL: u8 = 0x26;
    /// Batch: a page fault on the batch or a sub-descriptor CR was reported in the event log.
    pub(crate) const BATCH_EVL_ERR: u8 = 0x27;
    /// Mask of the status code in the `status` byte (`DSA_COMP_STATUS_MASK`).
    pub(crate) const MASK: u8 = 0x7f;
    /// Bit 7 of `status`: the fault was on a write (`DSA_COMP_STATUS_WRITE`).
    pub(crate) const WRITE: u8 = 0x80;
}

bitfield! {
    /// Dword 0 of a descriptor [`struct dsa_hw_desc`]: PASID and privilege.
    pub(crate) struct DescPasid(u32) {
        /// PASID the descriptor is tagged with.
        19:0 pasid;
        /// Reserved, must be zero.
        30:20 rsvd;
        /// Privileged (supervisor) access.
        31:31 priv_ => bool;
    }
}

bitfield! {
    /// Dword 1 of a descriptor [`struct dsa_hw_desc`]: flags and opcode.
    pub(crate) struct DescOp(u32) {
        /// Flags (`flags::*`).
        23:0 flags;
        /// Opcode (`opcode::*`).
        31:24 opcode => u8;
    }
}

/// A 64-byte DSA work descriptor (`struct dsa_hw_desc`).
///
/// Layout: dword 0 = PASID (19:0), reserved (30:20), priv (31) ([`DescPasid`]); dword 1 =
/// flags (23:0), opcode (31:24) ([`DescOp`]); then completion address, source, destination,
/// transfer size, interrupt handle, reserved, and 24 operation-specific bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Descriptor {
    pasid_priv: DescPasid,
    flags_opcode: DescOp,
    /// Completion record address; 32-byte aligned for DSA.
    pub(crate) completion_addr: u64,
    /// Source address (memmove, compare, ...), fill/compare pattern, or batch list address.
    pub(crate) src_addr: u64,
    /// Destination address (memmove, fill), or second source (compare).
    pub(crate) dst_addr: u64,
    /// Transfer size in bytes, or descriptor count for a batch.
    pub(crate) xfer_size: u32,
    /// Interrupt handle (MSI-X table index or IMS handle) for a completion interrupt.
    pub(crate) int_handle: u16,
    rsvd1: u16,
    /// Operation-specific bytes (offsets 40..64): expected result, upper fill pattern, ...
    pub(crate) op_specific: [u8; 24],
}

impl Default for Descriptor {
    fn default() -> Self {
        Self {
            pasid_priv: DescPasid::zeroed(),
            flags_opcode: DescOp::zeroed(),
            completion_addr: 0,
            src_addr: 0,
            dst_addr: 0,
            xfer_size: 0,
            int_handle: 0,
            rsvd1: 0,
            op_specific: [0; 24],
        }
    }
}

// SAFETY: `Descriptor` is `repr(C)` with only integer fields (the two bitfields are
// `repr(transparent)` over `u32`) laid out without padding (4 + 4 + 8 * 3 + 4 + 2 + 2 + 24 = 64
// bytes), so every byte is initialised.
unsafe impl AsBytes for Descriptor {}
// SAFETY: Every bit pattern is a valid `Descriptor`: all fields are integers or bitfields over
// integers.
unsafe impl FromBytes for Descriptor {}

impl Descriptor {
    /// Size of a descriptor in bytes.
    pub(crate) const SIZE: usize = 64;

    /// PASID the descriptor is tagged with (20 bits).
    #[cfg(any(CONFIG_INTEL_IDXD_RUST_SIM, CONFIG_INTEL_IDXD_RUST_KUNIT_TEST))]
    pub(crate) fn pasid(&self) -> u32 {
        self.pasid_priv.pasid().get()
    }

    /// Sets the PASID (truncated to 20 bits).
    pub(crate) fn set_pasid(&mut self, pasid: u32) {
        let field = DescPasid::PASID_MASK >> DescPasid::PASID_SHIFT;
        self.pasid_priv = self
            .pasid_priv
            .try_with_pasid(pasid & field)
            .unwrap_or(self.pasid_priv);
    }

    /// Whether the descriptor asks for privileged (supervisor) access.
    pub(crate) fn priv_(&self) -> bool {
        self.pasid_priv.priv_()
    }

    /// Sets the privileged bit.
    #[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
    pub(crate) fn set_priv(&mut self, on: bool) {
        self.pasid_priv = self.pasid_priv.with_priv_(on);
    }

    /// The reserved bits 30:20 of dword 0 (must be zero).
    #[cfg(any(CONFIG_INTEL_IDXD_RUST_SIM, CONFIG_INTEL_IDXD_RUST_KUNIT_TEST))]
    pub(crate) fn rsvd_dword0(&self) -> u32 {
        self.pasid_priv.rsvd().get()
    }

    /// The 24 flag bits (`flags::*`).
    #[cfg(any(CONFIG_INTEL_IDXD_RUST_SIM, CONFIG_INTEL_IDXD_RUST_KUNIT_TEST))]
    pub(crate) fn flags(&self) -> u32 {
        self.flags_opcode.flags().get()
    }

    /// Sets the flags (truncated to 24 bits).
    #[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
    pub(crate) fn set_flags(&mut self, flags: u32) {
        let field = DescOp::FLAGS_MASK >> DescOp::FLAGS_SHIFT;
        self.flags_opcode = self
            .flags_opcode
            .try_with_flags(flags & field)
            .unwrap_or(self.flags_opcode);
    }

    /// The opcode (`opcode::*`).
    pub(crate) fn opcode(&self) -> u8 {
        self.flags_opcode.opcode()
    }

    /// Sets the opcode.
    #[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
    pub(crate) fn set_opcode(&mut self, op: u8) {
        self.flags_opcode = self.flags_opcode.with_opcode(op);
    }

    /// The reserved 16 bits at offset 38 (must be zero).
    #[cfg(CONFIG_INTEL_IDXD_RUST_SIM)]
    pub(crate) fn rsvd1(&self) -> u16 {
        self.rsvd1
    }
}

/// A 32-byte DSA completion record (`struct dsa_completion_record`).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct CompletionRecord {
    /// Status code (`status::*`) in bits 6:0; bit 7 (`status::WRITE`) marks a write fault.
    /// Zero until the operation completes: the device (or the driver's fix-up) writes it last.
    pub(crate) status: u8,
    /// Operation result (compare: 0 equal, 1 different; batch fail: 1).
    pub(crate) result: u8,
    /// Fault information (read/write, user/supervisor of the faulting access).
    pub(crate) fault_info: u8,
    rsvd: u8,
    /// Bytes completed before a fault, or descriptors completed for a batch.
    pub(crate) bytes_completed: u32,
    /// Faulting address, when `status` reports a page fault.
    pub(crate) fault_addr: u64,
    /// Operation-specific bytes (offsets 16..32): invalid flags (23:0 of the first dword),
    /// CRC value, delta record size, ...
    pub(crate) op_specific: [u8; 16],
}

// SAFETY: `CompletionRecord` is `repr(C)` with only integer fields and no padding (1 * 4 + 4 + 8 +
// 16 = 32 bytes).
unsafe impl AsBytes for CompletionRecord {}
// SAFETY: Every bit pattern is a valid `CompletionRecord`: all fields are integers.
unsafe impl FromBytes for CompletionRecord {}

impl CompletionRecord {
    /// Size of a DSA completion record in bytes.
    #[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
    pub(crate) const SIZE: usize = 32;
    /// Required alignment of a DSA completion record address, in bytes.
    pub(crate) const ALIGN: u64 = 32;
    /// Offset of the status byte within the record.
    pub(crate) const STATUS_OFFSET: usize = 0;

    /// The status code without the write-fault bit.
    pub(crate) fn status_code(&self) -> u8 {
        self.status & status::MASK
    }
}

bitfield! {
    /// Qword 0 of an event-log entry header [`struct __evl_entry`]: what the entry is about.
    pub(crate) struct EvlInfo(u64) {
        /// Descriptor valid: the entry carries the descriptor's fields.
        2:2 desc_valid => bool;
        /// `wq_idx` is valid.
        3:3 wq_idx_valid => bool;
        /// The descriptor was part of a batch.
        4:4 batch => bool;
        /// The faulting access was a write.
        5:5 fault_rw => bool;
        /// The descriptor was privileged.
        6:6 priv_ => bool;
        /// Error information valid.
        7:7 err_info_valid => bool;
        /// The error code: a completion status code (`status::*`).
        15:8 error => u8;
        /// Index of the WQ the descriptor was submitted to.
        23:16 wq_idx => u8;
        /// Batch identifier, when `batch` is set.
        31:24 batch_id => u8;
        /// The descriptor's opcode.
        39:32 operation => u8;
        /// The descriptor's PASID.
        59:40 pasid;
    }
}

bitfield! {
    /// Dword 3 of an event-log entry header [`struct __evl_entry`], a union: the invalid
    /// flags (error `INVALID_FLAGS`), or the interrupt handle and the flag bits below.
    pub(crate) struct EvlDescInfo(u32) {
        /// Invalid flags (error `INVALID_FLAGS`); shares the dword with the fields below.
        31:0 invalid_flags => u32;
        /// The descriptor's interrupt handle.
        15:0 int_handle => u16;
        /// The descriptor requested a completion interrupt.
        16:16 rci => bool;
        /// The interrupt handle is an IMS handle.
        17:17 ims => bool;
        /// The descriptor requested a completion record.
        18:18 rcr => bool;
        /// First error in the batch: per-batch error state starts over.
        19:19 first_err_in_batch => bool;
        /// Which operand faulted.
        31:29 operand_id;
    }
}

/// The 32-byte header of an event-log entry (`struct __evl_entry`, `registers.h`).
///
/// Qword 0 ([`EvlInfo`]); then batch_idx (u16 at 8), reserved (u16 at 10), a dword at 12
/// ([`EvlDescInfo`]); the fault address (u64 at 16); reserved (24).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EvlHeader {
    /// Qword 0: validity bits, error, WQ, batch, opcode, PASID.
    pub(crate) info: EvlInfo,
    /// Index of the descriptor within its batch, when `info.batch()` is set.
    pub(crate) batch_idx: u16,
    rsvd3: u16,
    /// Dword 3: invalid flags, or the descriptor's interrupt and CR request bits.
    pub(crate) desc: EvlDescInfo,
    /// The faulting address (for a CR fault: the CR address).
    pub(crate) fault_addr: u64,
    rsvd5: u64,
}

impl Default for EvlHeader {
    fn default() -> Self {
        Self {
            info: EvlInfo::zeroed(),
            batch_idx: 0,
            rsvd3: 0,
            desc: EvlDescInfo::zeroed(),
            fault_addr: 0,
            rsvd5: 0,
        }
    }
}

// SAFETY: `EvlHeader` is `repr(C)` with only integer fields (the bitfields are
// `repr(transparent)` over integers) and no padding (8 + 2 + 2 + 4 + 8 + 8 = 32 bytes).
unsafe impl AsBytes for EvlHeader {}
// SAFETY: Every bit pattern is a valid `EvlHeader`: all fields are integers or bitfields over
// integers.
unsafe impl FromBytes for EvlHeader {}

impl EvlHeader {
    /// Size of the header in bytes.
    #[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
    pub(crate) const SIZE: usize = 32;

    /// The PASID of the descriptor the entry is about.
    pub(crate) fn pasid(&self) -> u32 {
        u32::from(self.info.pasid())
    }
}

/// A DSA event-log entry (`struct dsa_evl_entry`): the header followed by the CR the device
/// could not write. 64 bytes, the entry size of `GENCAP.evl_support` = 1.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct DsaEvlEntry {
    /// The header.
    pub(crate) header: EvlHeader,
    /// The completion record contents.
    pub(crate) cr: CompletionRecord,
}

// SAFETY: `DsaEvlEntry` is `repr(C)` made of two `AsBytes` types of sizes 32 and 32 and
// alignment 8, so there is no padding.
unsafe impl AsBytes for DsaEvlEntry {}
// SAFETY: Every bit pattern is a valid `DsaEvlEntry`: both fields are `FromBytes`.
unsafe impl FromBytes for DsaEvlEntry {}

impl DsaEvlEntry {
    /// Size of a DSA event-log entry in bytes.
    pub(crate) const SIZE: usize = 64;
}

/// Size in bytes of one event-log entry for a `GENCAP.evl_support` value (`registers.h`
/// `evl_support:2`): `32 << evl_support`, so 64 for DSA (1) and 128 for IAA (2). `None` for 0
/// (no event log).
pub(crate) fn evl_entry_size(evl_support: u8) -> Option<usize> {
    match evl_support & 0x3 {
        0 => None,
        n => Some(32usize << n),
    }
}
