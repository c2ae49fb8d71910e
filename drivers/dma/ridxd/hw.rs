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

use kernel::transmute::{AsBytes, FromBytes};

#[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
mod layout_test;

/// Returns bits `lo..lo + width` of `word` (`width` < 64).
const fn bits(word: u64, lo: u32, width: u32) -> u64 {
    (word >> lo) & ((1u64 << width) - 1)
}

/// Returns `word` with bits `lo..lo + width` replaced by `val` (truncated to `width` bits).
const fn with_bits(word: u64, lo: u32, width: u32, val: u64) -> u64 {
    let mask = ((1u64 << width) - 1) << lo;
    (word & !mask) | ((val << lo) & mask)
}

/// Descriptor opcodes (`enum dsa_opcode`, uapi `idxd.h`).
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
    pub(crate) const CR_DELTA: u8 = 0x07;
    /// Apply delta record.
    pub(crate) const AP_DELTA: u8 = 0x08;
    /// Dualcast.
    pub(crate) const DUALCAST: u8 = 0x09;
    /// CRC generation.
    pub(crate) const CRCGEN: u8 = 0x10;
    /// Copy with CRC generation.
    pub(crate) const COPY_CRC: u8 = 0x11;
    /// Cache flush.
    pub(crate) const CFLUSH: u8 = 0x20;
}

/// Descriptor flags, bits 23:0 of the second descriptor dword (`IDXD_OP_FLAG_*`, uapi `idxd.h`).
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

/// A 64-byte DSA work descriptor (`struct dsa_hw_desc`).
///
/// Layout: dword 0 = PASID (19:0), reserved (30:20), priv (31); dword 1 = flags (23:0),
/// opcode (31:24); then completion address, source, destination, transfer size, interrupt
/// handle, reserved, and 24 operation-specific bytes.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct Descriptor {
    pasid_priv: u32,
    flags_opcode: u32,
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

// SAFETY: `Descriptor` is `repr(C)` with only integer fields laid out without padding (4 + 4 +
// 8 * 3 + 4 + 2 + 2 + 24 = 64 bytes), so every byte is initialised.
unsafe impl AsBytes for Descriptor {}
// SAFETY: Every bit pattern is a valid `Descriptor`: all fields are integers.
unsafe impl FromBytes for Descriptor {}

impl Descriptor {
    /// Size of a descriptor in bytes.
    pub(crate) const SIZE: usize = 64;

    /// PASID the descriptor is tagged with (20 bits).
    pub(crate) fn pasid(&self) -> u32 {
        bits(self.pasid_priv.into(), 0, 20) as u32
    }

    /// Sets the PASID (truncated to 20 bits).
    pub(crate) fn set_pasid(&mut self, pasid: u32) {
        self.pasid_priv = with_bits(self.pasid_priv.into(), 0, 20, pasid.into()) as u32;
    }

    /// Whether the descriptor asks for privileged (supervisor) access.
    pub(crate) fn priv_(&self) -> bool {
        bits(self.pasid_priv.into(), 31, 1) != 0
    }

    /// Sets the privileged bit.
    pub(crate) fn set_priv(&mut self, on: bool) {
        self.pasid_priv = with_bits(self.pasid_priv.into(), 31, 1, on.into()) as u32;
    }

    /// The reserved bits 30:20 of dword 0 (must be zero).
    pub(crate) fn rsvd_dword0(&self) -> u32 {
        bits(self.pasid_priv.into(), 20, 11) as u32
    }

    /// The 24 flag bits (`flags::*`).
    pub(crate) fn flags(&self) -> u32 {
        bits(self.flags_opcode.into(), 0, 24) as u32
    }

    /// Sets the flags (truncated to 24 bits).
    pub(crate) fn set_flags(&mut self, flags: u32) {
        self.flags_opcode = with_bits(self.flags_opcode.into(), 0, 24, flags.into()) as u32;
    }

    /// The opcode (`opcode::*`).
    pub(crate) fn opcode(&self) -> u8 {
        bits(self.flags_opcode.into(), 24, 8) as u8
    }

    /// Sets the opcode.
    pub(crate) fn set_opcode(&mut self, op: u8) {
        self.flags_opcode = with_bits(self.flags_opcode.into(), 24, 8, op.into()) as u32;
    }

    /// The reserved 16 bits at offset 38 (must be zero).
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

/// The 32-byte header of an event-log entry (`struct __evl_entry`, `registers.h`).
///
/// Qword 0: desc_valid (2), wq_idx_valid (3), batch (4), fault_rw (5), priv (6),
/// err_info_valid (7), error (15:8), wq_idx (23:16), batch_id (31:24), operation (39:32),
/// pasid (59:40). Then batch_idx (u16 at 8), reserved (u16 at 10), a dword at 12 holding either
/// the invalid flags or int_handle (15:0), rci (16), ims (17), rcr (18),
/// first_err_in_batch (19), operand_id (31:29); the fault address (u64 at 16); reserved (24).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct EvlHeader {
    qw0: u64,
    /// Index of the descriptor within its batch, when `batch` is set.
    pub(crate) batch_idx: u16,
    rsvd3: u16,
    dw3: u32,
    /// The faulting address (for a CR fault: the CR address).
    pub(crate) fault_addr: u64,
    rsvd5: u64,
}

// SAFETY: `EvlHeader` is `repr(C)` with only integer fields and no padding (8 + 2 + 2 + 4 + 8 + 8
// = 32 bytes).
unsafe impl AsBytes for EvlHeader {}
// SAFETY: Every bit pattern is a valid `EvlHeader`: all fields are integers.
unsafe impl FromBytes for EvlHeader {}

/// Declares a getter and a setter for a bitfield of an integer field.
macro_rules! bitfield_accessors {
    ($(#[$doc:meta])* $field:ident, $get:ident, $set:ident, $lo:expr, $width:expr, $ty:ty) => {
        $(#[$doc])*
        pub(crate) fn $get(&self) -> $ty {
            bits(self.$field.into(), $lo, $width) as $ty
        }

        $(#[$doc])*
        ///
        /// The value is truncated to the field's width.
        pub(crate) fn $set(&mut self, val: $ty) {
            self.$field = with_bits(self.$field.into(), $lo, $width, val as u64) as _;
        }
    };
}

impl EvlHeader {
    /// Size of the header in bytes.
    pub(crate) const SIZE: usize = 32;

    bitfield_accessors!(
        /// Descriptor valid: the entry carries the descriptor's fields.
        qw0, desc_valid, set_desc_valid, 2, 1, u8);
    bitfield_accessors!(
        /// `wq_idx` is valid.
        qw0, wq_idx_valid, set_wq_idx_valid, 3, 1, u8);
    bitfield_accessors!(
        /// The descriptor was part of a batch.
        qw0, batch, set_batch, 4, 1, u8);
    bitfield_accessors!(
        /// The faulting access was a write.
        qw0, fault_rw, set_fault_rw, 5, 1, u8);
    bitfield_accessors!(
        /// The descriptor was privileged.
        qw0, priv_, set_priv, 6, 1, u8);
    bitfield_accessors!(
        /// Error information valid.
        qw0, err_info_valid, set_err_info_valid, 7, 1, u8);
    bitfield_accessors!(
        /// The error code: a completion status code (`status::*`).
        qw0, error, set_error, 8, 8, u8);
    bitfield_accessors!(
        /// Index of the WQ the descriptor was submitted to.
        qw0, wq_idx, set_wq_idx, 16, 8, u8);
    bitfield_accessors!(
        /// Batch identifier, when `batch` is set.
        qw0, batch_id, set_batch_id, 24, 8, u8);
    bitfield_accessors!(
        /// The descriptor's opcode.
        qw0, operation, set_operation, 32, 8, u8);
    bitfield_accessors!(
        /// The descriptor's PASID (20 bits).
        qw0, pasid, set_pasid, 40, 20, u32);
    bitfield_accessors!(
        /// Invalid flags (error `INVALID_FLAGS`); shares its dword with the fields below.
        dw3, invalid_flags, set_invalid_flags, 0, 32, u32);
    bitfield_accessors!(
        /// The descriptor's interrupt handle.
        dw3, int_handle, set_int_handle, 0, 16, u16);
    bitfield_accessors!(
        /// The descriptor requested a completion interrupt.
        dw3, rci, set_rci, 16, 1, u8);
    bitfield_accessors!(
        /// The interrupt handle is an IMS handle.
        dw3, ims, set_ims, 17, 1, u8);
    bitfield_accessors!(
        /// The descriptor requested a completion record.
        dw3, rcr, set_rcr, 18, 1, u8);
    bitfield_accessors!(
        /// First error in the batch: per-batch error state starts over.
        dw3, first_err_in_batch, set_first_err_in_batch, 19, 1, u8);
    bitfield_accessors!(
        /// Which operand faulted.
        dw3, operand_id, set_operand_id, 29, 3, u8);
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
