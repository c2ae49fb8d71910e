// SPDX-License-Identifier: GPL-2.0

//! KUnit: the device model on its own, through its registers (not through the driver).

use super::*;
use crate::regs::{cmd, cmdsts, grpcfg, intcause, off, state, wqcfg};
use kernel::{
    new_spinlock,
    sync::Arc,
    time::{delay::fsleep, Delta},
};

/// An interrupt receiver that counts what fired.
#[pin_data]
pub(super) struct CountingSink {
    #[pin]
    pub(super) fired: SpinLock<[u32; regfile::NUM_VECTORS]>,
}

impl IrqSink for CountingSink {
    fn fire(&self, vector: u16) {
        self.fired.lock()[vector as usize] += 1;
    }
}

pub(super) fn counting_sink() -> Result<Arc<CountingSink>> {
    Arc::pin_init(
        pin_init!(CountingSink {
            fired <- new_spinlock!([0; regfile::NUM_VECTORS], "ridxd_sim_test::fired"),
        }),
        GFP_KERNEL,
    )
}

/// Runs command `code` with `operand` and returns CMDSTS.err once it completed.
fn run_cmd(d: &Arc<SimDevice>, code: u32, operand: u32) -> u32 {
    d.write32(off::CMD, code << 20 | operand);
    d.wait_idle();
    let sts = d.read32(off::CMDSTS);
    assert_eq!(sts & (1 << 31), 0);
    sts & 0xff
}

/// Byte offset of dword `idx` of WQ `wq`'s WQCFG entry.
fn wqcfg_off(d: &SimDevice, wq: usize, idx: usize) -> usize {
    let p = d.personality();
    p.wqcfg_offset() + wq * p.wqcfg_stride() + idx * 4
}

/// Byte offset of group `g`'s GRPCFG qword at `field` (a [`grpcfg`] offset).
fn grpcfg_off(d: &SimDevice, g: usize, field: usize) -> usize {
    d.personality().grpcfg_offset() + g * grpcfg::SIZE + field
}

/// Group 0 gets WQ 0 and engine 0; WQ 0 is a dedicated 16-entry WQ for PASID 5.
fn basic_config(d: &Arc<SimDevice>) {
    d.write64(grpcfg_off(d, 0, grpcfg::WQS), 1);
    d.write64(grpcfg_off(d, 0, grpcfg::ENGINES), 1);
    d.write32(wqcfg_off(d, 0, wqcfg::SIZE_IDX), 16);
    d.write32(wqcfg_off(d, 0, wqcfg::MODE_IDX), 1 | 5 << 8 | 1 << 28);
}

#[kunit_tests(ridxd_sim_regs)]
mod tests {
    use super::*;

    #[test]
    fn reset_values_dsa1() -> Result {
        let h = SimHandle::new(Generation::Dsa1)?;
        let d = h.dev();
        assert_eq!(d.read32(off::VERSION), 0x100);
        let gencap = d.read64(off::GENCAP);
        assert_eq!((gencap >> 13) & 0x3, 0); // no event log
        assert_eq!(gencap >> 31 & 1, 1); // configurable
        let wqcap = d.read64(off::WQCAP);
        assert_eq!(wqcap >> 55 & 1, 0); // no per-WQ PRS disable
        assert_eq!(wqcap >> 24 & 0xf, 0); // 32-byte WQCFG entries
        assert_eq!(wqcap >> 16 & 0xff, 8);
        assert_eq!(d.read32(off::GENSTS), state::DISABLED);
        assert_eq!(d.read32(off::INTCAUSE), 0);
        assert_eq!(d.read32(off::CMDSTS), 0);
        // Opcodes 0..=6 and nothing else.
        assert_eq!(d.read64(off::OPCAP), 0x7f);
        assert_eq!(d.read64(off::OPCAP + 8), 0);
        // No event-log registers.
        assert_eq!(d.read64(off::EVLCFG), 0);
        assert_eq!(d.read64(off::EVLSTATUS), 0);
        // Unmapped offsets read as zero.
        assert_eq!(d.read32(0x8), 0);
        assert_eq!(d.read32(0x3f8), 0);
        Ok(())
    }

    #[test]
    fn reset_values_dsa2() -> Result {
        let h = SimHandle::new(Generation::Dsa2)?;
        let d = h.dev();
        assert_eq!(d.read32(off::VERSION), 0x200);
        assert_eq!((d.read64(off::GENCAP) >> 13) & 0x3, 1); // 64-byte EVL entries
        let wqcap = d.read64(off::WQCAP);
        assert_eq!(wqcap >> 55 & 1, 1);
        assert_eq!(wqcap >> 24 & 0xf, 1); // 64-byte WQCFG entries
        assert_eq!(d.read64(off::EVLCFG), 0);
        assert_eq!(d.read64(off::EVLSTATUS), 0);
        // Every WQ is disabled, with mode_support set.
        for w in 0..personality::NUM_WQS {
            assert_eq!(d.read32(wqcfg_off(d, w, wqcfg::STATE_IDX)), 1 << 29);
        }
        Ok(())
    }

    #[test]
    fn reserved_bits_read_zero() -> Result {
        for (gen, evl) in [(Generation::Dsa1, false), (Generation::Dsa2, true)] {
            let h = SimHandle::new(gen)?;
            let d = h.dev();
            d.write32(off::GENCFG, !0);
            assert_eq!(d.read32(off::GENCFG), 0xff | 1 << 12 | u32::from(evl) << 13);
            d.write32(off::GENCTRL, !0);
            assert_eq!(d.read32(off::GENCTRL), 0x3 | u32::from(evl) << 2);
            d.write64(off::EVLCFG, !0);
            let expect = if evl { 0xffff_ffff_ffff_f003 } else { 0 };
            assert_eq!(d.read64(off::EVLCFG), expect);
            // Read-only registers ignore writes.
            d.write32(off::VERSION, 0);
            assert!(d.read32(off::VERSION) != 0);
            d.write64(off::GENCAP, 0);
            assert!(d.read64(off::GENCAP) != 0);
            // WQCFG: PRS disable only where WQCAP offers it.
            let mode = wqcfg_off(d, 1, wqcfg::MODE_IDX);
            d.write32(mode, 1 << 3);
            assert_eq!(d.read32(mode), u32::from(evl) << 3);
            // The state dword is read-only.
            let st = wqcfg_off(d, 1, wqcfg::STATE_IDX);
            d.write32(st, !0);
            assert_eq!(d.read32(st), 1 << 29);
        }
        Ok(())
    }

    #[test]
    fn enable_device_refusals() -> Result {
        let h = SimHandle::new(Generation::Dsa2)?;
        let d = h.dev();
        // Nothing configured: no group can do work.
        assert_eq!(run_cmd(d, cmd::ENABLE_DEVICE, 0), cmdsts::ERR_GRP_CONFIG);
        // A group with a WQ and no engine.
        d.write64(grpcfg_off(d, 0, grpcfg::WQS), 1);
        d.write32(wqcfg_off(d, 0, wqcfg::SIZE_IDX), 16);
        assert_eq!(run_cmd(d, cmd::ENABLE_DEVICE, 0), cmdsts::ERR_GRP_CONFIG);
        // The same WQ in two groups.
        d.write64(grpcfg_off(d, 0, grpcfg::ENGINES), 1);
        d.write64(grpcfg_off(d, 1, grpcfg::WQS), 1);
        d.write64(grpcfg_off(d, 1, grpcfg::ENGINES), 2);
        assert_eq!(run_cmd(d, cmd::ENABLE_DEVICE, 0), cmdsts::ERR_GRP_CONFIG2);
        d.write64(grpcfg_off(d, 1, grpcfg::WQS), 0);
        // A WQ with entries in no group.
        d.write32(wqcfg_off(d, 3, wqcfg::SIZE_IDX), 4);
        assert_eq!(run_cmd(d, cmd::ENABLE_DEVICE, 0), cmdsts::ERR_GRP_CONFIG3);
        d.write32(wqcfg_off(d, 3, wqcfg::SIZE_IDX), 0);
        // WQ sizes over WQCAP.total_wq_size.
        d.write32(
            wqcfg_off(d, 0, wqcfg::SIZE_IDX),
            personality::TOTAL_WQ_SIZE + 1,
        );
        assert_eq!(
            run_cmd(d, cmd::ENABLE_DEVICE, 0),
            cmdsts::ERR_WQ_SIZE_ERANGE
        );
        d.write32(wqcfg_off(d, 0, wqcfg::SIZE_IDX), 16);
        // Event log enabled with a size below the minimum.
        d.write32(off::GENCFG, 1 << 13);
        d.write64(off::EVLCFG, 0x10_0000);
        d.write64(off::EVLCFG + 8, 32);
        assert_eq!(run_cmd(d, cmd::ENABLE_DEVICE, 0), cmdsts::ERR_CONFIG);
        assert_eq!(d.read32(off::GENSTS), state::DISABLED);
        // Fixed: enables; a second enable is refused.
        d.write64(off::EVLCFG + 8, 64);
        assert_eq!(run_cmd(d, cmd::ENABLE_DEVICE, 0), cmdsts::SUCCESS);
        assert_eq!(d.read32(off::GENSTS), state::ENABLED);
        assert_eq!(run_cmd(d, cmd::ENABLE_DEVICE, 0), cmdsts::ERR_DEV_ENABLED);
        // Configuration registers are frozen while enabled.
        d.write64(off::EVLCFG + 8, 128);
        assert_eq!(d.read64(off::EVLCFG + 8), 64);
        d.write32(off::GENCFG, 0);
        assert_eq!(d.read32(off::GENCFG), 1 << 13);
        d.write64(grpcfg_off(d, 2, grpcfg::ENGINES), 4);
        assert_eq!(d.read64(grpcfg_off(d, 2, grpcfg::ENGINES)), 0);
        Ok(())
    }

    #[test]
    fn wq_commands() -> Result {
        let h = SimHandle::new(Generation::Dsa1)?;
        let d = h.dev();
        basic_config(d);
        assert_eq!(run_cmd(d, cmd::ENABLE_WQ, 0), cmdsts::ERR_DEV_NOTEN);
        assert_eq!(run_cmd(d, cmd::DISABLE_WQ, 1), cmdsts::ERR_DEV_NOT_EN);
        assert_eq!(run_cmd(d, cmd::DISABLE_DEVICE, 0), cmdsts::ERR_DIS_DEV_EN);
        assert_eq!(run_cmd(d, cmd::ENABLE_DEVICE, 0), cmdsts::SUCCESS);
        assert_eq!(run_cmd(d, cmd::ENABLE_WQ, 8), cmdsts::INVAL_WQIDX);
        assert_eq!(run_cmd(d, cmd::ENABLE_WQ, 1), cmdsts::ERR_WQ_SIZE);
        assert_eq!(run_cmd(d, cmd::ENABLE_WQ, 0), cmdsts::SUCCESS);
        assert_eq!(d.read32(wqcfg_off(d, 0, wqcfg::STATE_IDX)) >> 30, 1);
        assert_eq!(run_cmd(d, cmd::ENABLE_WQ, 0), cmdsts::ERR_WQ_ENABLED);
        // WQCFG of an enabled WQ is frozen.
        d.write32(wqcfg_off(d, 0, wqcfg::SIZE_IDX), 8);
        assert_eq!(d.read32(wqcfg_off(d, 0, wqcfg::SIZE_IDX)), 16);
        assert_eq!(run_cmd(d, cmd::DRAIN_WQ, 1), cmdsts::SUCCESS);
        assert_eq!(run_cmd(d, cmd::DRAIN_PASID, 5), cmdsts::SUCCESS);
        assert_eq!(run_cmd(d, cmd::DISABLE_WQ, 1), cmdsts::SUCCESS);
        assert_eq!(d.read32(wqcfg_off(d, 0, wqcfg::STATE_IDX)) >> 30, 0);
        d.write32(wqcfg_off(d, 0, wqcfg::SIZE_IDX), 8);
        assert_eq!(d.read32(wqcfg_off(d, 0, wqcfg::SIZE_IDX)), 8);
        // Reset WQ clears its configuration.
        assert_eq!(run_cmd(d, cmd::RESET_WQ, 1), cmdsts::SUCCESS);
        assert_eq!(d.read32(wqcfg_off(d, 0, wqcfg::SIZE_IDX)), 0);
        // Size limits above GENCAP's.
        basic_config(d);
        d.write32(
            wqcfg_off(d, 0, wqcfg::LIMITS_IDX),
            personality::MAX_XFER_SHIFT + 1,
        );
        assert_eq!(run_cmd(d, cmd::ENABLE_WQ, 0), cmdsts::ERR_MAX_XFER_SIZE);
        d.write32(
            wqcfg_off(d, 0, wqcfg::LIMITS_IDX),
            (personality::MAX_BATCH_SHIFT + 1) << 5,
        );
        assert_eq!(run_cmd(d, cmd::ENABLE_WQ, 0), cmdsts::ERR_MAX_BATCH_SIZE);
        d.write32(wqcfg_off(d, 0, wqcfg::LIMITS_IDX), 0);
        assert_eq!(run_cmd(d, cmd::ENABLE_WQ, 0), cmdsts::SUCCESS);
        // Disable device disables every WQ.
        assert_eq!(run_cmd(d, cmd::DISABLE_DEVICE, 0), cmdsts::SUCCESS);
        assert_eq!(d.read32(off::GENSTS), state::DISABLED);
        assert_eq!(d.read32(wqcfg_off(d, 0, wqcfg::STATE_IDX)) >> 30, 0);
        Ok(())
    }

    #[test]
    fn reset_and_unknown_commands() -> Result {
        let h = SimHandle::new(Generation::Dsa2)?;
        let d = h.dev();
        basic_config(d);
        d.write32(off::GENCFG, 1 << 13);
        d.write64(off::EVLCFG, 0x20_0000);
        d.write64(off::EVLCFG + 8, 64);
        assert_eq!(run_cmd(d, cmd::ENABLE_DEVICE, 0), cmdsts::SUCCESS);
        assert_eq!(run_cmd(d, cmd::REQUEST_INT_HANDLE, 0), cmdsts::INVAL_CMD);
        assert_eq!(run_cmd(d, 31, 0), cmdsts::INVAL_CMD);
        assert_eq!(run_cmd(d, cmd::RESET_DEVICE, 0), cmdsts::SUCCESS);
        assert_eq!(d.read32(off::GENSTS), state::DISABLED);
        assert_eq!(d.read32(off::GENCFG), 0);
        assert_eq!(d.read64(off::EVLCFG), 0);
        assert_eq!(d.read64(off::EVLCFG + 8), 0);
        assert_eq!(d.read64(grpcfg_off(d, 0, grpcfg::WQS)), 0);
        assert_eq!(d.read32(wqcfg_off(d, 0, wqcfg::SIZE_IDX)), 0);
        Ok(())
    }

    #[test]
    fn command_interrupt_and_intcause() -> Result {
        let h = SimHandle::new(Generation::Dsa2)?;
        let d = h.dev();
        let sink = counting_sink()?;
        d.set_irq_sink(Some(sink.clone()));
        // Without int_req: no interrupt, no cause.
        assert_eq!(run_cmd(d, cmd::DISABLE_DEVICE, 0), cmdsts::ERR_DIS_DEV_EN);
        assert_eq!(sink.fired.lock()[0], 0);
        assert_eq!(d.read32(off::INTCAUSE), 0);
        // With int_req: INTCAUSE.CMD and one misc interrupt, even for a failed command.
        d.write32(off::CMD, 1 << 31 | cmd::DISABLE_DEVICE << 20);
        d.wait_idle();
        assert_eq!(d.read32(off::INTCAUSE), intcause::CMD);
        assert_eq!(sink.fired.lock()[0], 1);
        // A second one while the cause is still set raises no new interrupt.
        d.write32(off::CMD, 1 << 31 | cmd::DISABLE_DEVICE << 20);
        d.wait_idle();
        assert_eq!(sink.fired.lock()[0], 1);
        // Write 1 to clear; writing 0 clears nothing.
        d.write32(off::INTCAUSE, 0);
        assert_eq!(d.read32(off::INTCAUSE), intcause::CMD);
        d.write32(off::INTCAUSE, intcause::CMD);
        assert_eq!(d.read32(off::INTCAUSE), 0);
        d.write32(off::CMD, 1 << 31 | cmd::DISABLE_DEVICE << 20);
        d.wait_idle();
        assert_eq!(sink.fired.lock()[0], 2);
        d.set_irq_sink(None);
        Ok(())
    }

    #[test]
    fn delayed_interrupts_arrive_late_and_coalesce() -> Result {
        let h = SimHandle::new(Generation::Dsa2)?;
        let d = h.dev();
        let sink = counting_sink()?;
        d.set_irq_sink(Some(sink.clone()));
        d.set_irq_delay(Delta::from_millis(200));
        // The command completes, and the cause is set, before its interrupt arrives.
        d.write32(off::CMD, 1 << 31 | cmd::DISABLE_DEVICE << 20);
        d.wait_idle();
        assert_eq!(d.read32(off::CMDSTS) & (1 << 31), 0);
        assert_eq!(d.read32(off::INTCAUSE), intcause::CMD);
        assert_eq!(sink.fired.lock()[0], 0);
        // Raised again (a new cause) while held: one message.
        d.write32(off::INTCAUSE, intcause::CMD);
        d.write32(off::CMD, 1 << 31 | cmd::DISABLE_DEVICE << 20);
        d.wait_idle();
        fsleep(Delta::from_millis(400));
        assert_eq!(sink.fired.lock()[0], 1);
        // Without a delay, at once again.
        d.set_irq_delay(Delta::ZERO);
        d.write32(off::INTCAUSE, intcause::CMD);
        d.write32(off::CMD, 1 << 31 | cmd::DISABLE_DEVICE << 20);
        d.wait_idle();
        assert_eq!(sink.fired.lock()[0], 2);
        d.set_irq_sink(None);
        Ok(())
    }

    #[test]
    fn injected_command_faults() -> Result {
        let h = SimHandle::new(Generation::Dsa2)?;
        let d = h.dev();
        basic_config(d);
        // Fail: HW_ERR, nothing changes.
        d.inject_cmd_fault(cmd::ENABLE_DEVICE, Some(CmdFault::Fail));
        assert_eq!(run_cmd(d, cmd::ENABLE_DEVICE, 0), cmdsts::HW_ERR);
        assert_eq!(d.read32(off::GENSTS) & 0x3, state::DISABLED);
        // Kept across a reset; undone with None.
        assert_eq!(run_cmd(d, cmd::RESET_DEVICE, 0), cmdsts::SUCCESS);
        basic_config(d);
        assert_eq!(run_cmd(d, cmd::ENABLE_DEVICE, 0), cmdsts::HW_ERR);
        d.inject_cmd_fault(cmd::ENABLE_DEVICE, None);
        assert_eq!(run_cmd(d, cmd::ENABLE_DEVICE, 0), cmdsts::SUCCESS);
        // Hang: stays active; later commands are dropped, even Reset Device.
        d.inject_cmd_fault(cmd::DRAIN_ALL, Some(CmdFault::Hang));
        d.write32(off::CMD, cmd::DRAIN_ALL << 20);
        d.wait_idle();
        fsleep(Delta::from_millis(50));
        assert_eq!(d.read32(off::CMDSTS), 1 << 31);
        d.write32(off::CMD, cmd::RESET_DEVICE << 20);
        d.wait_idle();
        assert_eq!(d.read32(off::CMDSTS), 1 << 31);
        assert_eq!(d.read32(off::GENSTS) & 0x3, state::ENABLED);
        assert_eq!(d.regs.lock().cmds_dropped, 1);
        Ok(())
    }

    #[test]
    fn one_command_at_a_time() {
        // On the register file itself, so that the first command is still pending.
        let mut r = RegFile::new(Personality::new(Generation::Dsa1));
        assert_eq!(
            r.write32(off::CMD, cmd::ENABLE_DEVICE << 20),
            WriteEffect::Command
        );
        assert_eq!(r.read32(off::CMDSTS), 1 << 31);
        assert_eq!(
            r.write32(off::CMD, cmd::RESET_DEVICE << 20),
            WriteEffect::None
        );
        assert_eq!(r.cmds_dropped, 1);
        let raw = r.take_command();
        assert_eq!(raw, Some(cmd::ENABLE_DEVICE << 20));
        // The dropped command left CMD as the first one wrote it.
        assert_eq!(r.read32(off::CMD), cmd::ENABLE_DEVICE << 20);
        assert!(!r.finish(cmd::ENABLE_DEVICE << 20));
        assert_eq!(r.read32(off::CMDSTS), cmdsts::ERR_GRP_CONFIG);
        assert_eq!(r.take_command(), None);
    }

    #[test]
    fn swerr_overflow() {
        let mut r = RegFile::new(Personality::new(Generation::Dsa1));
        r.write32(off::GENCTRL, 1);
        // First error: recorded, interrupt.
        assert!(r.swerr([0x1a << 8 | 1 << 2, 0, 0x1000, 0]));
        assert_eq!(r.read64(off::SWERR) & 0x3, 1);
        assert_eq!(r.read64(off::SWERR) >> 8 & 0xff, 0x1a);
        assert_eq!(r.read64(off::SWERR + 16), 0x1000);
        // Second before it is cleared: overflow, the first error kept, no new interrupt.
        assert!(!r.swerr([0x13 << 8, 0, 0x2000, 0]));
        assert_eq!(r.read64(off::SWERR) & 0x3, 3);
        assert_eq!(r.read64(off::SWERR) >> 8 & 0xff, 0x1a);
        assert_eq!(r.read64(off::SWERR + 16), 0x1000);
        // Acknowledge: both bits clear.
        r.write64(off::SWERR, crate::regs::SWERR_ACK);
        assert_eq!(r.read64(off::SWERR) & 0x3, 0);
        assert_eq!(r.read32(off::INTCAUSE), intcause::ERR);
        // Next error is recorded again.
        r.write32(off::INTCAUSE, intcause::ERR);
        assert!(r.swerr([0x13 << 8, 0, 0x2000, 0]));
        assert_eq!(r.read64(off::SWERR + 16), 0x2000);
    }
}
