// SPDX-License-Identifier: GPL-2.0

//! KUnit: ridxd's hardware formats against the kernel's own C definitions.
//!
//! The oracle is `bindgen`'s rendering of `include/uapi/linux/idxd.h` (descriptor, completion
//! record, codes) and `drivers/dma/idxd/registers.h` (event-log entry), included into
//! `kernel::bindings` for KUnit builds only. A bitfield is compared as a byte image: the field is
//! set to all ones on a zeroed value, once through the C layout's setter and once through ours,
//! and the two 64-byte images must be identical, so a field that moves, grows or shrinks fails.

use super::*;
use core::mem::{offset_of, size_of};
use kernel::bindings as c;

/// Image size: every format checked here is at most 64 bytes.
const IMG: usize = 64;

/// The bytes of `value` in a zero-padded image.
fn image<T: AsBytes>(value: &T) -> [u8; IMG] {
    let mut img = [0u8; IMG];
    let b = value.as_bytes();
    img[..b.len()].copy_from_slice(b);
    img
}

/// The image of a C bitfield storage unit placed at byte offset `at`, read bit by bit through
/// bindgen's accessor (bit `i` of the unit is bit `i % 8` of byte `i / 8`, little endian).
fn unit_image<const N: usize>(unit: &c::__BindgenBitfieldUnit<[u8; N]>, at: usize) -> [u8; IMG] {
    let mut img = [0u8; IMG];
    for i in 0..N * 8 {
        if unit.get_bit(i) {
            img[at + i / 8] |= 1 << (i % 8);
        }
    }
    img
}

/// Our image of a `T` whose one field was set by `set`.
fn ours<T: AsBytes + Default>(set: impl FnOnce(&mut T)) -> [u8; IMG] {
    let mut v = T::default();
    set(&mut v);
    image(&v)
}

/// Asserts that setting a bitfield to all ones gives the same bytes in C and in Rust.
///
/// `$cty`/`$cset`: the C type and its bindgen setter; `$cat`: byte offset of the C type's
/// bitfield unit within the whole format; `$rty`/`$rset`: our type and setter.
macro_rules! same_bitfield {
    ($cty:ty, $cset:ident, $cat:expr, $rty:ty, $rset:ident) => {{
        let mut cv = <$cty>::default();
        cv.$cset(!0);
        let at = $cat + offset_of!($cty, _bitfield_1);
        assert_eq!(
            unit_image(&cv._bitfield_1, at),
            ours::<$rty>(|v| v.$rset(!0))
        );
    }};
}

/// Like [`same_bitfield!`], for an event-log header field set to all ones by `$set` (a
/// closure on an [`EvlHeader`]).
macro_rules! same_field {
    ($cty:ty, $cset:ident, $cat:expr, $set:expr) => {{
        let mut cv = <$cty>::default();
        cv.$cset(!0);
        let at = $cat + offset_of!($cty, _bitfield_1);
        assert_eq!(unit_image(&cv._bitfield_1, at), ours::<EvlHeader>($set));
    }};
}

#[kunit_tests(ridxd_hw_format)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_size_and_fields() {
        assert_eq!(size_of::<Descriptor>(), Descriptor::SIZE);
        assert_eq!(size_of::<c::dsa_hw_desc>(), Descriptor::SIZE);
        assert_eq!(
            offset_of!(c::dsa_hw_desc, completion_addr),
            offset_of!(Descriptor, completion_addr)
        );
        assert_eq!(
            offset_of!(c::dsa_hw_desc, __bindgen_anon_1),
            offset_of!(Descriptor, src_addr)
        );
        assert_eq!(
            offset_of!(c::dsa_hw_desc, __bindgen_anon_2),
            offset_of!(Descriptor, dst_addr)
        );
        assert_eq!(
            offset_of!(c::dsa_hw_desc, __bindgen_anon_3),
            offset_of!(Descriptor, xfer_size)
        );
        assert_eq!(
            offset_of!(c::dsa_hw_desc, int_handle),
            offset_of!(Descriptor, int_handle)
        );
        assert_eq!(
            offset_of!(c::dsa_hw_desc, rsvd1),
            offset_of!(Descriptor, rsvd1)
        );
        assert_eq!(
            offset_of!(c::dsa_hw_desc, __bindgen_anon_4),
            offset_of!(Descriptor, op_specific)
        );
        assert_eq!(size_of::<c::dsa_hw_desc__bindgen_ty_1>(), size_of::<u64>());
        assert_eq!(size_of::<c::dsa_hw_desc__bindgen_ty_2>(), size_of::<u64>());
        assert_eq!(size_of::<c::dsa_hw_desc__bindgen_ty_3>(), size_of::<u32>());
        assert_eq!(size_of::<c::dsa_hw_desc__bindgen_ty_4>(), 24);
    }

    #[test]
    fn descriptor_bitfields() {
        same_bitfield!(c::dsa_hw_desc, set_pasid, 0, Descriptor, set_pasid);
        same_bitfield!(c::dsa_hw_desc, set_flags, 0, Descriptor, set_flags);
        same_bitfield!(c::dsa_hw_desc, set_opcode, 0, Descriptor, set_opcode);
        // `priv` is a bool on our side.
        let mut cv = c::dsa_hw_desc::default();
        cv.set_priv(1);
        assert_eq!(
            unit_image(&cv._bitfield_1, 0),
            ours::<Descriptor>(|d| d.set_priv(true))
        );
    }

    #[test]
    fn descriptor_accessors_round_trip() {
        let mut d = Descriptor::default();
        d.set_pasid(0xfffff);
        d.set_priv(true);
        d.set_flags(flags::CRAV | flags::RCR);
        d.set_opcode(opcode::MEMMOVE);
        assert_eq!(d.pasid(), 0xfffff);
        assert!(d.priv_());
        assert_eq!(d.rsvd_dword0(), 0);
        assert_eq!(d.flags(), flags::CRAV | flags::RCR);
        assert_eq!(d.opcode(), opcode::MEMMOVE);
        // Truncation: a PASID wider than 20 bits must not reach the reserved bits.
        d.set_pasid(0x123456);
        assert_eq!(d.pasid(), 0x23456);
        assert_eq!(d.rsvd_dword0(), 0);
        assert!(d.priv_());
    }

    #[test]
    fn completion_record_layout() {
        assert_eq!(size_of::<CompletionRecord>(), CompletionRecord::SIZE);
        assert_eq!(
            size_of::<c::dsa_completion_record>(),
            CompletionRecord::SIZE
        );
        assert_eq!(
            offset_of!(c::dsa_completion_record, status),
            offset_of!(CompletionRecord, status)
        );
        assert_eq!(
            offset_of!(CompletionRecord, status),
            CompletionRecord::STATUS_OFFSET
        );
        assert_eq!(
            offset_of!(c::dsa_completion_record, __bindgen_anon_1),
            offset_of!(CompletionRecord, result)
        );
        assert_eq!(
            offset_of!(c::dsa_completion_record, fault_info),
            offset_of!(CompletionRecord, fault_info)
        );
        assert_eq!(
            offset_of!(c::dsa_completion_record, __bindgen_anon_2),
            offset_of!(CompletionRecord, bytes_completed)
        );
        assert_eq!(
            offset_of!(c::dsa_completion_record, fault_addr),
            offset_of!(CompletionRecord, fault_addr)
        );
        assert_eq!(
            offset_of!(c::dsa_completion_record, __bindgen_anon_3),
            offset_of!(CompletionRecord, op_specific)
        );
        assert_eq!(size_of::<c::dsa_completion_record__bindgen_ty_1>(), 1);
        assert_eq!(size_of::<c::dsa_completion_record__bindgen_ty_2>(), 4);
        assert_eq!(size_of::<c::dsa_completion_record__bindgen_ty_3>(), 16);
    }

    #[test]
    fn evl_entry_layout() {
        assert_eq!(size_of::<EvlHeader>(), EvlHeader::SIZE);
        assert_eq!(size_of::<c::__evl_entry>(), EvlHeader::SIZE);
        assert_eq!(size_of::<DsaEvlEntry>(), DsaEvlEntry::SIZE);
        assert_eq!(size_of::<c::dsa_evl_entry>(), DsaEvlEntry::SIZE);
        assert_eq!(
            offset_of!(c::dsa_evl_entry, e),
            offset_of!(DsaEvlEntry, header)
        );
        assert_eq!(
            offset_of!(c::dsa_evl_entry, cr),
            offset_of!(DsaEvlEntry, cr)
        );
        assert_eq!(
            offset_of!(c::__evl_entry, batch_idx),
            offset_of!(EvlHeader, batch_idx)
        );
        assert_eq!(
            offset_of!(c::__evl_entry, rsvd3),
            offset_of!(EvlHeader, rsvd3)
        );
        assert_eq!(
            offset_of!(c::__evl_entry, __bindgen_anon_1),
            offset_of!(EvlHeader, desc)
        );
        assert_eq!(
            offset_of!(c::__evl_entry, fault_addr),
            offset_of!(EvlHeader, fault_addr)
        );
        assert_eq!(
            offset_of!(c::__evl_entry, rsvd5),
            offset_of!(EvlHeader, rsvd5)
        );
        // Entry sizes: 32 << GENCAP.evl_support, DSA (1) and IAA (2).
        assert_eq!(evl_entry_size(0), None);
        assert_eq!(evl_entry_size(1), Some(size_of::<c::dsa_evl_entry>()));
        assert_eq!(evl_entry_size(2), Some(size_of::<c::iax_evl_entry>()));
    }

    #[test]
    fn evl_header_bitfields() {
        type E = c::__evl_entry;
        /// Sets one `EvlInfo` field of a header to all ones, through its mask.
        macro_rules! info {
            ($mask:ident) => {
                |h: &mut EvlHeader| h.info = EvlInfo::from_raw(EvlInfo::$mask)
            };
        }
        /// Sets one `EvlDescInfo` field of a header to all ones, through its mask.
        macro_rules! desc {
            ($mask:ident) => {
                |h: &mut EvlHeader| h.desc = EvlDescInfo::from_raw(EvlDescInfo::$mask)
            };
        }
        same_field!(E, set_desc_valid, 0, info!(DESC_VALID_MASK));
        same_field!(E, set_wq_idx_valid, 0, info!(WQ_IDX_VALID_MASK));
        same_field!(E, set_batch, 0, info!(BATCH_MASK));
        same_field!(E, set_fault_rw, 0, info!(FAULT_RW_MASK));
        same_field!(E, set_priv, 0, info!(PRIV__MASK));
        same_field!(E, set_err_info_valid, 0, info!(ERR_INFO_VALID_MASK));
        same_field!(E, set_error, 0, info!(ERROR_MASK));
        same_field!(E, set_wq_idx, 0, info!(WQ_IDX_MASK));
        same_field!(E, set_batch_id, 0, info!(BATCH_ID_MASK));
        same_field!(E, set_operation, 0, info!(OPERATION_MASK));
        same_field!(E, set_pasid, 0, info!(PASID_MASK));

        // The dword at 12 is a union: the invalid flags, or int_handle + the flag bits.
        type U = c::__evl_entry__bindgen_ty_1__bindgen_ty_1;
        let at = offset_of!(E, __bindgen_anon_1);
        same_field!(U, set_rci, at, desc!(RCI_MASK));
        same_field!(U, set_ims, at, desc!(IMS_MASK));
        same_field!(U, set_rcr, at, desc!(RCR_MASK));
        same_field!(
            U,
            set_first_err_in_batch,
            at,
            desc!(FIRST_ERR_IN_BATCH_MASK)
        );
        same_field!(U, set_operand_id, at, desc!(OPERAND_ID_MASK));
        assert_eq!(at + offset_of!(U, int_handle), offset_of!(EvlHeader, desc));
        assert_eq!(size_of::<c::__evl_entry__bindgen_ty_1>(), size_of::<u32>());
        let h = EvlDescInfo::zeroed().with_int_handle(0xffff);
        assert_eq!(h.invalid_flags(), 0xffff);
    }

    #[test]
    fn codes_match_uapi() {
        assert_eq!(u32::from(opcode::NOOP), c::dsa_opcode_DSA_OPCODE_NOOP);
        assert_eq!(u32::from(opcode::BATCH), c::dsa_opcode_DSA_OPCODE_BATCH);
        assert_eq!(u32::from(opcode::DRAIN), c::dsa_opcode_DSA_OPCODE_DRAIN);
        assert_eq!(u32::from(opcode::MEMMOVE), c::dsa_opcode_DSA_OPCODE_MEMMOVE);
        assert_eq!(u32::from(opcode::MEMFILL), c::dsa_opcode_DSA_OPCODE_MEMFILL);
        assert_eq!(u32::from(opcode::COMPARE), c::dsa_opcode_DSA_OPCODE_COMPARE);
        assert_eq!(u32::from(opcode::COMPVAL), c::dsa_opcode_DSA_OPCODE_COMPVAL);
        assert_eq!(
            u32::from(opcode::CR_DELTA),
            c::dsa_opcode_DSA_OPCODE_CR_DELTA
        );
        assert_eq!(
            u32::from(opcode::AP_DELTA),
            c::dsa_opcode_DSA_OPCODE_AP_DELTA
        );
        assert_eq!(
            u32::from(opcode::DUALCAST),
            c::dsa_opcode_DSA_OPCODE_DUALCAST
        );
        assert_eq!(u32::from(opcode::CRCGEN), c::dsa_opcode_DSA_OPCODE_CRCGEN);
        assert_eq!(
            u32::from(opcode::COPY_CRC),
            c::dsa_opcode_DSA_OPCODE_COPY_CRC
        );
        assert_eq!(u32::from(opcode::CFLUSH), c::dsa_opcode_DSA_OPCODE_CFLUSH);

        assert_eq!(flags::FENCE, c::IDXD_OP_FLAG_FENCE);
        assert_eq!(flags::BOF, c::IDXD_OP_FLAG_BOF);
        assert_eq!(flags::CRAV, c::IDXD_OP_FLAG_CRAV);
        assert_eq!(flags::RCR, c::IDXD_OP_FLAG_RCR);
        assert_eq!(flags::RCI, c::IDXD_OP_FLAG_RCI);
        assert_eq!(flags::CC, c::IDXD_OP_FLAG_CC);

        type S = c::dsa_completion_status;
        let pairs: [(u8, S); 19] = [
            (status::NONE, c::dsa_completion_status_DSA_COMP_NONE),
            (status::SUCCESS, c::dsa_completion_status_DSA_COMP_SUCCESS),
            (
                status::SUCCESS_PRED,
                c::dsa_completion_status_DSA_COMP_SUCCESS_PRED,
            ),
            (
                status::PAGE_FAULT_NOBOF,
                c::dsa_completion_status_DSA_COMP_PAGE_FAULT_NOBOF,
            ),
            (
                status::BATCH_FAIL,
                c::dsa_completion_status_DSA_COMP_BATCH_FAIL,
            ),
            (
                status::BATCH_PAGE_FAULT,
                c::dsa_completion_status_DSA_COMP_BATCH_PAGE_FAULT,
            ),
            (
                status::BAD_OPCODE,
                c::dsa_completion_status_DSA_COMP_BAD_OPCODE,
            ),
            (
                status::INVALID_FLAGS,
                c::dsa_completion_status_DSA_COMP_INVALID_FLAGS,
            ),
            (
                status::NOZERO_RESERVE,
                c::dsa_completion_status_DSA_COMP_NOZERO_RESERVE,
            ),
            (
                status::XFER_ERANGE,
                c::dsa_completion_status_DSA_COMP_XFER_ERANGE,
            ),
            (
                status::DESC_CNT_ERANGE,
                c::dsa_completion_status_DSA_COMP_DESC_CNT_ERANGE,
            ),
            (
                status::OVERLAP_BUFFERS,
                c::dsa_completion_status_DSA_COMP_OVERLAP_BUFFERS,
            ),
            (status::CRA_XLAT, c::dsa_completion_status_DSA_COMP_CRA_XLAT),
            (
                status::CRA_ALIGN,
                c::dsa_completion_status_DSA_COMP_CRA_ALIGN,
            ),
            (status::PRIV_BAD, c::dsa_completion_status_DSA_COMP_PRIV_BAD),
            (
                status::TRANSLATION_FAIL,
                c::dsa_completion_status_DSA_COMP_TRANSLATION_FAIL,
            ),
            (
                status::DRAIN_EVL,
                c::dsa_completion_status_DSA_COMP_DRAIN_EVL,
            ),
            (
                status::BATCH_EVL_ERR,
                c::dsa_completion_status_DSA_COMP_BATCH_EVL_ERR,
            ),
            (status::MASK, c::DSA_COMP_STATUS_MASK),
        ];
        for (ours, theirs) in pairs {
            assert_eq!(u32::from(ours), theirs);
        }
        assert_eq!(u32::from(status::WRITE), c::DSA_COMP_STATUS_WRITE);
    }
}
