// SPDX-License-Identifier: GPL-2.0

//! KUnit: the register layouts of [`crate::regs`] against `drivers/dma/idxd/registers.h`.
//!
//! Each field is set to all ones through bindgen's setter of the C bitfield struct, and the bits
//! that lights up must be exactly the field's mask on our side. Offsets and codes are compared
//! with the header's constants.
//!
//! `union cmdsts_reg` in `registers.h` does not match the register (its `u16 result` is
//! naturally aligned, so `active` lands outside the 32 bits); the C driver uses the
//! `IDXD_CMDSTS_*` masks instead, and so does this test.

use super::*;
use kernel::bindings as c;

/// The bits of a C bitfield storage unit, bit `i` of the unit as bit `i` of the result.
fn unit_bits<const N: usize>(unit: &c::__BindgenBitfieldUnit<[u8; N]>) -> u128 {
    let mut v = 0u128;
    for i in 0..N * 8 {
        if unit.get_bit(i) {
            v |= 1 << i;
        }
    }
    v
}

/// Asserts that the C field set through `$cset` on `$cty`'s unit `$unit`, shifted left by `$l`
/// and right by `$r` (to line the unit up with our register), is exactly `$mask`.
macro_rules! same_mask {
    ($cty:ty, $unit:ident, $cset:ident, $l:expr, $r:expr, $mask:expr) => {{
        let mut cv = <$cty>::default();
        cv.$cset(!0);
        assert_eq!((unit_bits(&cv.$unit) << $l) >> $r, u128::from($mask));
    }};
    ($cty:ty, $cset:ident, $mask:expr) => {
        same_mask!($cty, _bitfield_1, $cset, 0, 0, $mask)
    };
}

#[kunit_tests(ridxd_regs)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        assert_eq!(off::VERSION as u32, c::IDXD_VER_OFFSET);
        assert_eq!(off::GENCAP as u32, c::IDXD_GENCAP_OFFSET);
        assert_eq!(off::WQCAP as u32, c::IDXD_WQCAP_OFFSET);
        assert_eq!(off::GRPCAP as u32, c::IDXD_GRPCAP_OFFSET);
        assert_eq!(off::ENGCAP as u32, c::IDXD_ENGCAP_OFFSET);
        assert_eq!(off::OPCAP as u32, c::IDXD_OPCAP_OFFSET);
        assert_eq!(off::TABLE_OFFSETS as u32, c::IDXD_TABLE_OFFSET);
        assert_eq!(off::GENCFG as u32, c::IDXD_GENCFG_OFFSET);
        assert_eq!(off::GENCTRL as u32, c::IDXD_GENCTRL_OFFSET);
        assert_eq!(off::GENSTS as u32, c::IDXD_GENSTATS_OFFSET);
        assert_eq!(off::INTCAUSE as u32, c::IDXD_INTCAUSE_OFFSET);
        assert_eq!(off::CMD as u32, c::IDXD_CMD_OFFSET);
        assert_eq!(off::CMDSTS as u32, c::IDXD_CMDSTS_OFFSET);
        assert_eq!(off::CMDCAP as u32, c::IDXD_CMDCAP_OFFSET);
        assert_eq!(off::SWERR as u32, c::IDXD_SWERR_OFFSET);
        assert_eq!(off::EVLCFG as u32, c::IDXD_EVLCFG_OFFSET);
        assert_eq!(off::EVLSTATUS as u32, c::IDXD_EVLSTATUS_OFFSET);
        assert_eq!(TABLE_MULT as u32, c::IDXD_TABLE_MULT);
        assert_eq!(version::DSA_1_0, c::DEVICE_VERSION_1);
        assert_eq!(version::DSA_2_0, c::DEVICE_VERSION_2);
        assert_eq!(EVL_SIZE_MIN, c::IDXD_EVL_SIZE_MIN);
        assert_eq!(EVL_SIZE_MAX, c::IDXD_EVL_SIZE_MAX);
        assert_eq!(wqcfg::SIZE_SHIFT_MIN, c::IDXD_WQCFG_MIN);
        assert_eq!(wqcfg::MODE_IDX as u32, c::WQCFG_PASID_IDX);
        assert_eq!(wqcfg::STATE_IDX as u32, c::WQCFG_OCCUP_IDX);
        assert_eq!(grpcfg::SIZE as u32, c::GRPCFG_SIZE);
        assert_eq!(core::mem::size_of::<c::grpcfg>(), grpcfg::FLAGS + 8);
        assert_eq!(core::mem::offset_of!(c::grpcfg, wqs), grpcfg::WQS);
        assert_eq!(core::mem::offset_of!(c::grpcfg, engines), grpcfg::ENGINES);
        assert_eq!(core::mem::offset_of!(c::grpcfg, flags), grpcfg::FLAGS);
        assert_eq!(SWERR_ACK, u64::from(c::IDXD_SWERR_ACK));
    }

    #[test]
    fn codes() {
        assert_eq!(intcause::ERR, c::IDXD_INTC_ERR);
        assert_eq!(intcause::CMD, c::IDXD_INTC_CMD);
        assert_eq!(intcause::OCCUPY, c::IDXD_INTC_OCCUPY);
        assert_eq!(intcause::PERFMON_OVFL, c::IDXD_INTC_PERFMON_OVFL);
        assert_eq!(intcause::HALT_STATE, c::IDXD_INTC_HALT_STATE);
        assert_eq!(intcause::EVL, c::IDXD_INTC_EVL);
        assert_eq!(
            state::DISABLED,
            c::idxd_device_status_state_IDXD_DEVICE_STATE_DISABLED
        );
        assert_eq!(
            state::ENABLED,
            c::idxd_device_status_state_IDXD_DEVICE_STATE_ENABLED
        );
        assert_eq!(
            state::DRAIN,
            c::idxd_device_status_state_IDXD_DEVICE_STATE_DRAIN
        );
        assert_eq!(
            state::HALT,
            c::idxd_device_status_state_IDXD_DEVICE_STATE_HALT
        );
        let cmds = [
            (cmd::ENABLE_DEVICE, c::idxd_cmd_IDXD_CMD_ENABLE_DEVICE),
            (cmd::DISABLE_DEVICE, c::idxd_cmd_IDXD_CMD_DISABLE_DEVICE),
            (cmd::DRAIN_ALL, c::idxd_cmd_IDXD_CMD_DRAIN_ALL),
            (cmd::ABORT_ALL, c::idxd_cmd_IDXD_CMD_ABORT_ALL),
            (cmd::RESET_DEVICE, c::idxd_cmd_IDXD_CMD_RESET_DEVICE),
            (cmd::ENABLE_WQ, c::idxd_cmd_IDXD_CMD_ENABLE_WQ),
            (cmd::DISABLE_WQ, c::idxd_cmd_IDXD_CMD_DISABLE_WQ),
            (cmd::DRAIN_WQ, c::idxd_cmd_IDXD_CMD_DRAIN_WQ),
            (cmd::ABORT_WQ, c::idxd_cmd_IDXD_CMD_ABORT_WQ),
            (cmd::RESET_WQ, c::idxd_cmd_IDXD_CMD_RESET_WQ),
            (cmd::DRAIN_PASID, c::idxd_cmd_IDXD_CMD_DRAIN_PASID),
            (cmd::ABORT_PASID, c::idxd_cmd_IDXD_CMD_ABORT_PASID),
            (
                cmd::REQUEST_INT_HANDLE,
                c::idxd_cmd_IDXD_CMD_REQUEST_INT_HANDLE,
            ),
            (
                cmd::RELEASE_INT_HANDLE,
                c::idxd_cmd_IDXD_CMD_RELEASE_INT_HANDLE,
            ),
        ];
        for (ours, theirs) in cmds {
            assert_eq!(ours, theirs);
        }
        type E = c::idxd_cmdsts_err;
        let errs: [(u32, E); 26] = [
            (cmdsts::SUCCESS, c::idxd_cmdsts_err_IDXD_CMDSTS_SUCCESS),
            (cmdsts::INVAL_CMD, c::idxd_cmdsts_err_IDXD_CMDSTS_INVAL_CMD),
            (
                cmdsts::INVAL_WQIDX,
                c::idxd_cmdsts_err_IDXD_CMDSTS_INVAL_WQIDX,
            ),
            (cmdsts::HW_ERR, c::idxd_cmdsts_err_IDXD_CMDSTS_HW_ERR),
            (
                cmdsts::ERR_DEV_ENABLED,
                c::idxd_cmdsts_err_IDXD_CMDSTS_ERR_DEV_ENABLED,
            ),
            (
                cmdsts::ERR_CONFIG,
                c::idxd_cmdsts_err_IDXD_CMDSTS_ERR_CONFIG,
            ),
            (
                cmdsts::ERR_BUSMASTER_EN,
                c::idxd_cmdsts_err_IDXD_CMDSTS_ERR_BUSMASTER_EN,
            ),
            (
                cmdsts::ERR_PASID_INVAL,
                c::idxd_cmdsts_err_IDXD_CMDSTS_ERR_PASID_INVAL,
            ),
            (
                cmdsts::ERR_WQ_SIZE_ERANGE,
                c::idxd_cmdsts_err_IDXD_CMDSTS_ERR_WQ_SIZE_ERANGE,
            ),
            (
                cmdsts::ERR_GRP_CONFIG,
                c::idxd_cmdsts_err_IDXD_CMDSTS_ERR_GRP_CONFIG,
            ),
            (
                cmdsts::ERR_GRP_CONFIG2,
                c::idxd_cmdsts_err_IDXD_CMDSTS_ERR_GRP_CONFIG2,
            ),
            (
                cmdsts::ERR_GRP_CONFIG3,
                c::idxd_cmdsts_err_IDXD_CMDSTS_ERR_GRP_CONFIG3,
            ),
            (
                cmdsts::ERR_GRP_CONFIG4,
                c::idxd_cmdsts_err_IDXD_CMDSTS_ERR_GRP_CONFIG4,
            ),
            (
                cmdsts::ERR_DEV_NOTEN,
                c::idxd_cmdsts_err_IDXD_CMDSTS_ERR_DEV_NOTEN,
            ),
            (
                cmdsts::ERR_WQ_ENABLED,
                c::idxd_cmdsts_err_IDXD_CMDSTS_ERR_WQ_ENABLED,
            ),
            (
                cmdsts::ERR_WQ_SIZE,
                c::idxd_cmdsts_err_IDXD_CMDSTS_ERR_WQ_SIZE,
            ),
            (
                cmdsts::ERR_WQ_PRIOR,
                c::idxd_cmdsts_err_IDXD_CMDSTS_ERR_WQ_PRIOR,
            ),
            (
                cmdsts::ERR_WQ_MODE,
                c::idxd_cmdsts_err_IDXD_CMDSTS_ERR_WQ_MODE,
            ),
            (
                cmdsts::ERR_BOF_EN,
                c::idxd_cmdsts_err_IDXD_CMDSTS_ERR_BOF_EN,
            ),
            (
                cmdsts::ERR_PASID_EN,
                c::idxd_cmdsts_err_IDXD_CMDSTS_ERR_PASID_EN,
            ),
            (
                cmdsts::ERR_MAX_BATCH_SIZE,
                c::idxd_cmdsts_err_IDXD_CMDSTS_ERR_MAX_BATCH_SIZE,
            ),
            (
                cmdsts::ERR_MAX_XFER_SIZE,
                c::idxd_cmdsts_err_IDXD_CMDSTS_ERR_MAX_XFER_SIZE,
            ),
            (
                cmdsts::ERR_DIS_DEV_EN,
                c::idxd_cmdsts_err_IDXD_CMDSTS_ERR_DIS_DEV_EN,
            ),
            (
                cmdsts::ERR_DEV_NOT_EN,
                c::idxd_cmdsts_err_IDXD_CMDSTS_ERR_DEV_NOT_EN,
            ),
            (
                cmdsts::ERR_DEV_NOTEN,
                c::idxd_cmdsts_err_IDXD_CMDSTS_ERR_DEV_NOTEN,
            ),
            (cmdsts::SUCCESS, c::idxd_cmdsts_err_IDXD_CMDSTS_SUCCESS),
        ];
        for (ours, theirs) in errs {
            assert_eq!(ours, theirs);
        }
        // CMDSTS: the masks the C driver uses (see the module comment).
        assert_eq!(CmdSts::ACTIVE_MASK, c::IDXD_CMDSTS_ACTIVE);
        assert_eq!(CmdSts::ERR_MASK, c::IDXD_CMDSTS_ERR_MASK);
        assert_eq!(CmdSts::RESULT_SHIFT, c::IDXD_CMDSTS_RES_SHIFT);
    }

    #[test]
    fn capability_fields() {
        type G = c::gen_cap_reg__bindgen_ty_1;
        same_mask!(G, set_block_on_fault, GenCap::BLOCK_ON_FAULT_MASK);
        same_mask!(G, set_overlap_copy, GenCap::OVERLAP_COPY_MASK);
        same_mask!(G, set_cache_control_mem, GenCap::CACHE_CONTROL_MEM_MASK);
        same_mask!(G, set_cache_control_cache, GenCap::CACHE_CONTROL_CACHE_MASK);
        same_mask!(G, set_cmd_cap, GenCap::CMD_CAP_MASK);
        same_mask!(G, set_dest_readback, GenCap::DEST_READBACK_MASK);
        same_mask!(G, set_drain_readback, GenCap::DRAIN_READBACK_MASK);
        same_mask!(G, set_evl_support, GenCap::EVL_SUPPORT_MASK);
        same_mask!(G, set_batch_continuation, GenCap::BATCH_CONTINUATION_MASK);
        same_mask!(G, set_max_xfer_shift, GenCap::MAX_XFER_SHIFT_MASK);
        same_mask!(G, set_max_batch_shift, GenCap::MAX_BATCH_SHIFT_MASK);
        same_mask!(G, set_max_ims_mult, GenCap::MAX_IMS_MULT_MASK);
        same_mask!(G, set_config_en, GenCap::CONFIG_EN_MASK);

        type W = c::wq_cap_reg__bindgen_ty_1;
        same_mask!(W, set_total_wq_size, WqCap::TOTAL_WQ_SIZE_MASK);
        same_mask!(W, set_num_wqs, WqCap::NUM_WQS_MASK);
        same_mask!(W, set_wqcfg_size, WqCap::WQCFG_SIZE_MASK);
        same_mask!(W, set_shared_mode, WqCap::SHARED_MODE_MASK);
        same_mask!(W, set_dedicated_mode, WqCap::DEDICATED_MODE_MASK);
        same_mask!(W, set_wq_ats_support, WqCap::WQ_ATS_SUPPORT_MASK);
        same_mask!(W, set_priority, WqCap::PRIORITY_MASK);
        same_mask!(W, set_occupancy, WqCap::OCCUPANCY_MASK);
        same_mask!(W, set_occupancy_int, WqCap::OCCUPANCY_INT_MASK);
        same_mask!(W, set_op_config, WqCap::OP_CONFIG_MASK);
        same_mask!(W, set_wq_prs_support, WqCap::WQ_PRS_SUPPORT_MASK);

        type R = c::group_cap_reg__bindgen_ty_1;
        same_mask!(R, set_num_groups, GrpCap::NUM_GROUPS_MASK);
        same_mask!(R, set_total_rdbufs, GrpCap::TOTAL_RDBUFS_MASK);
        same_mask!(R, set_rdbuf_ctrl, GrpCap::RDBUF_CTRL_MASK);
        same_mask!(R, set_rdbuf_limit, GrpCap::RDBUF_LIMIT_MASK);
        same_mask!(R, set_progress_limit, GrpCap::PROGRESS_LIMIT_MASK);
        same_mask!(
            c::engine_cap_reg__bindgen_ty_1,
            set_num_engines,
            EngCap::NUM_ENGINES_MASK
        );

        type T = c::offsets_reg__bindgen_ty_1;
        same_mask!(T, set_grpcfg, TableOffsets::GRPCFG_MASK);
        same_mask!(T, set_wqcfg, TableOffsets::WQCFG_MASK);
        same_mask!(T, set_msix_perm, TableOffsets::MSIX_PERM_MASK);
        same_mask!(T, set_ims, TableOffsets::IMS_MASK);
    }

    #[test]
    fn group_flags_fields() {
        type G = c::group_flags__bindgen_ty_1;
        same_mask!(G, set_tc_a, GroupFlags::TC_A_MASK);
        same_mask!(G, set_tc_b, GroupFlags::TC_B_MASK);
        same_mask!(G, set_use_rdbuf_limit, GroupFlags::USE_RDBUF_LIMIT_MASK);
        same_mask!(G, set_rdbufs_reserved, GroupFlags::RDBUFS_RESERVED_MASK);
        same_mask!(G, set_rdbufs_allowed, GroupFlags::RDBUFS_ALLOWED_MASK);
        same_mask!(
            G,
            set_desc_progress_limit,
            GroupFlags::DESC_PROGRESS_LIMIT_MASK
        );
        same_mask!(
            G,
            set_batch_progress_limit,
            GroupFlags::BATCH_PROGRESS_LIMIT_MASK
        );
    }

    #[test]
    fn control_fields() {
        type F = c::gencfg_reg__bindgen_ty_1;
        same_mask!(F, set_rdbuf_limit, GenCfg::RDBUF_LIMIT_MASK);
        same_mask!(F, set_user_int_en, GenCfg::USER_INT_EN_MASK);
        same_mask!(F, set_evl_en, GenCfg::EVL_EN_MASK);
        type C = c::genctrl_reg__bindgen_ty_1;
        same_mask!(C, set_softerr_int_en, GenCtrl::SOFTERR_INT_EN_MASK);
        same_mask!(C, set_halt_int_en, GenCtrl::HALT_INT_EN_MASK);
        same_mask!(C, set_evl_int_en, GenCtrl::EVL_INT_EN_MASK);
        type S = c::gensts_reg__bindgen_ty_1;
        same_mask!(S, set_state, GenSts::STATE_MASK);
        same_mask!(S, set_reset_type, GenSts::RESET_TYPE_MASK);
        type M = c::idxd_command_reg__bindgen_ty_1;
        same_mask!(M, set_operand, Cmd::OPERAND_MASK);
        same_mask!(M, set_cmd, Cmd::CMD_MASK);
        same_mask!(M, set_int_req, Cmd::INT_REQ_MASK);
    }

    #[test]
    fn error_and_evl_fields() {
        type E = c::sw_err_reg__bindgen_ty_1;
        same_mask!(E, set_valid, SwErr0::VALID_MASK);
        same_mask!(E, set_overflow, SwErr0::OVERFLOW_MASK);
        same_mask!(E, set_desc_valid, SwErr0::DESC_VALID_MASK);
        same_mask!(E, set_wq_idx_valid, SwErr0::WQ_IDX_VALID_MASK);
        same_mask!(E, set_batch, SwErr0::BATCH_MASK);
        same_mask!(E, set_fault_rw, SwErr0::FAULT_RW_MASK);
        same_mask!(E, set_priv, SwErr0::PRIV__MASK);
        same_mask!(E, set_error, SwErr0::ERROR_MASK);
        same_mask!(E, set_wq_idx, SwErr0::WQ_IDX_MASK);
        same_mask!(E, set_operation, SwErr0::OPERATION_MASK);
        same_mask!(E, set_pasid, SwErr0::PASID_MASK);
        // The second qword: shift the unit down by 64 bits.
        same_mask!(E, _bitfield_1, set_batch_idx, 0, 64, SwErr1::BATCH_IDX_MASK);
        same_mask!(
            E,
            _bitfield_1,
            set_invalid_flags,
            0,
            64,
            SwErr1::INVALID_FLAGS_MASK
        );

        type L = c::evlcfg_reg__bindgen_ty_1;
        same_mask!(L, set_pasid_en, EvlCfgLo::PASID_EN_MASK);
        same_mask!(L, set_priv, EvlCfgLo::PRIV__MASK);
        same_mask!(L, set_base_addr, EvlCfgLo::BASE_ADDR_MASK);
        same_mask!(L, _bitfield_1, set_size, 0, 64, EvlCfgHi::SIZE_MASK);
        same_mask!(L, _bitfield_1, set_pasid, 0, 64, EvlCfgHi::PASID_MASK);

        type S = c::evl_status_reg__bindgen_ty_1;
        same_mask!(S, set_head, EvlStatus::HEAD_MASK);
        same_mask!(S, set_tail, EvlStatus::TAIL_MASK);
        same_mask!(S, set_int_pending, EvlStatus::INT_PENDING_MASK);
        // Clearing int_pending through the upper dword.
        assert_eq!(
            u64::from(EVLSTATUS_INT_PENDING_HI) << 32,
            EvlStatus::INT_PENDING_MASK
        );
        assert_eq!(EVLSTATUS_HI, off::EVLSTATUS + 4);
    }

    #[test]
    fn wqcfg_fields() {
        // Dwords 2 and 3 share bitfield unit 1, which starts at byte 8 (dword 2).
        type Q = c::wqcfg__bindgen_ty_1;
        assert_eq!(core::mem::offset_of!(Q, _bitfield_1), wqcfg::MODE_IDX * 4);
        assert_eq!(core::mem::offset_of!(Q, wq_size), wqcfg::SIZE_IDX * 4);
        assert_eq!(core::mem::offset_of!(Q, wq_thresh), wqcfg::THRESH_IDX * 4);
        same_mask!(Q, set_mode, WqCfgMode::MODE_MASK);
        same_mask!(Q, set_bof, WqCfgMode::BOF_MASK);
        same_mask!(Q, set_wq_ats_disable, WqCfgMode::WQ_ATS_DISABLE_MASK);
        same_mask!(Q, set_wq_prs_disable, WqCfgMode::WQ_PRS_DISABLE_MASK);
        same_mask!(Q, set_priority, WqCfgMode::PRIORITY_MASK);
        same_mask!(Q, set_pasid, WqCfgMode::PASID_MASK);
        same_mask!(Q, set_pasid_en, WqCfgMode::PASID_EN_MASK);
        same_mask!(Q, set_priv, WqCfgMode::PRIV__MASK);
        same_mask!(
            Q,
            _bitfield_1,
            set_max_xfer_shift,
            0,
            32,
            WqCfgLimits::MAX_XFER_SHIFT_MASK
        );
        same_mask!(
            Q,
            _bitfield_1,
            set_max_batch_shift,
            0,
            32,
            WqCfgLimits::MAX_BATCH_SHIFT_MASK
        );
        // Dword 6: occupancy (u16 at byte 24), then unit 4 holds bits 31:16.
        assert_eq!(core::mem::offset_of!(Q, occupancy), wqcfg::STATE_IDX * 4);
        assert_eq!(
            core::mem::offset_of!(Q, _bitfield_4),
            wqcfg::STATE_IDX * 4 + 2
        );
        same_mask!(
            Q,
            _bitfield_4,
            set_mode_support,
            16,
            0,
            WqCfgState::MODE_SUPPORT_MASK
        );
        same_mask!(
            Q,
            _bitfield_4,
            set_wq_state,
            16,
            0,
            WqCfgState::WQ_STATE_MASK
        );
        assert_eq!(WqCfgState::OCCUPANCY_MASK, c::WQCFG_OCCUP_MASK);
    }
}
