// SPDX-License-Identifier: GPL-2.0

//! KUnit: the device lifecycle (configuration, enable/disable, halt, the event log) on model
//! devices.

use kernel::prelude::*;

#[kunit_tests(ridxd_device)]
mod tests {
    use crate::{
        caps::Caps,
        cmd as command,
        config::WqMode,
        device::test_hooks,
        hw::{opcode, Descriptor},
        hwif::DeviceIo,
        regs::{self, cmd, off, state, wqcfg},
        sim::{Generation, Portal, SimDevice},
        sim_drv::SimInstance,
        tests::util::{wait_for, Job},
    };
    use kernel::{
        kunit::user::{prot, vm_mmap_anon},
        page::PAGE_SIZE,
        prelude::*,
        sync::{
            atomic::{Atomic, Relaxed},
            Arc,
        },
        time::{delay::fsleep, Delta},
    };

    fn wq_state(s: &SimInstance, wq: usize) -> u32 {
        let p = s.model().personality();
        s.model()
            .read32(p.wqcfg_offset() + wq * p.wqcfg_stride() + wqcfg::STATE_IDX * 4)
            >> 30
    }

    #[test]
    fn default_config_enables() -> Result {
        for (gen, evl) in [(Generation::Dsa1, false), (Generation::Dsa2, true)] {
            let s = SimInstance::new(110, gen, true, None)?;
            let m = s.model();
            assert_eq!(m.read32(off::GENSTS), state::ENABLED);
            // Enable Device and two Enable WQ commands, each completed by INTCAUSE.CMD.
            m.wait_idle();
            assert_eq!(s.inst().dsa().stats().cmd_irqs, 3);
            assert_eq!(wq_state(&s, 0), 1);
            assert_eq!(wq_state(&s, 1), 1);
            assert_eq!(wq_state(&s, 2), 0);
            // Dedicated WQ 0 and shared WQ 1, 16 entries each, in group 0 with every engine.
            let p = m.personality();
            let mode = |w: usize| m.read32(p.wqcfg_offset() + w * p.wqcfg_stride() + 8);
            assert_eq!(mode(0) & 1, 1);
            assert_eq!(mode(1) & 1, 0);
            assert_eq!(m.read64(p.grpcfg_offset()), 0b11);
            assert_eq!(m.read64(p.grpcfg_offset() + 32), 0b1111);
            if evl {
                // The event log: EVLCFG holds the ring, GENCFG/GENCTRL enable it.
                let bus = s.inst().dsa().evl_bus_addr().ok_or(EINVAL)?;
                assert_eq!(m.read64(off::EVLCFG), bus);
                assert_eq!(m.read64(off::EVLCFG + 8), 64);
                assert_eq!(m.read32(off::GENCFG), regs::GenCfg::EVL_EN_MASK);
                assert!(m.read32(off::GENCTRL) & regs::GenCtrl::EVL_INT_EN_MASK != 0);
                assert_eq!(m.dma_mapped(), 1);
            } else {
                assert_eq!(s.inst().dsa().evl_size(), None);
                assert_eq!(m.read32(off::GENCFG), 0);
                assert_eq!(m.dma_mapped(), 0);
            }
        }
        Ok(())
    }

    #[test]
    fn refusals_change_nothing() -> Result {
        let s1 = SimInstance::new(111, Generation::Dsa1, true, None)?;
        let s2 = SimInstance::new(112, Generation::Dsa2, true, None)?;
        let d2 = &s2.inst().dsa();
        // PRS disable: not on DSA 1.0; not on an enabled WQ.
        assert!(s1.inst().dsa().with_config(|c| c.set_prs_disable(0, true)) == Err(EOPNOTSUPP));
        assert!(d2.with_config(|c| c.set_prs_disable(0, true)) == Err(EPERM));
        assert!(!d2.with_config(|c| c.wqs[0].prs_disable));
        // Event-log size: not on DSA 1.0; not while enabled; 64..=65535 only.
        assert!(s1.inst().dsa().with_config(|c| c.set_evl_size(128)) == Err(EOPNOTSUPP));
        assert!(d2.with_config(|c| c.set_evl_size(128)) == Err(EPERM));
        d2.disable()?;
        assert!(d2.with_config(|c| c.set_evl_size(63)) == Err(EINVAL));
        assert!(d2.with_config(|c| c.set_evl_size(65536)) == Err(EINVAL));
        assert_eq!(d2.with_config(|c| c.evl_size), 64);
        // WQ sizes above WQCAP.total_wq_size (128; 16 are taken by WQ 1).
        assert!(d2.with_config(|c| c.set_wq_size(0, 113)) == Err(EINVAL));
        assert_eq!(d2.with_config(|c| c.wqs[0].size), 16);
        d2.with_config(|c| c.set_wq_size(0, 112))?;
        // Priority 0..=15; threshold 1..=size on a shared WQ only; limits powers of two up to
        // the device's (GENCAP: 2 MiB transfers, 1024-descriptor batches on the model).
        assert!(d2.with_config(|c| c.set_wq_priority(0, 16)) == Err(EINVAL));
        d2.with_config(|c| c.set_wq_priority(0, 7))?;
        assert!(d2.with_config(|c| c.set_wq_threshold(0, 4)) == Err(EINVAL)); // dedicated
        assert!(d2.with_config(|c| c.set_wq_threshold(1, 17)) == Err(EINVAL));
        assert!(d2.with_config(|c| c.set_wq_threshold(1, 0)) == Err(EINVAL));
        d2.with_config(|c| c.set_wq_threshold(1, 12))?;
        // A shared WQ made dedicated forgets its threshold (idxd's `wq_mode_store()`).
        d2.with_config(|c| c.set_wq_mode(1, WqMode::Dedicated))?;
        assert_eq!(d2.with_config(|c| c.wqs[1].threshold), 0);
        d2.with_config(|c| c.set_wq_mode(1, WqMode::Shared))?;
        d2.with_config(|c| c.set_wq_threshold(1, 12))?;
        assert!(d2.with_config(|c| c.set_max_transfer_size(0, 3000)) == Err(EINVAL));
        assert!(d2.with_config(|c| c.set_max_transfer_size(0, 4 << 20)) == Err(EINVAL));
        d2.with_config(|c| c.set_max_transfer_size(0, 4096))?;
        assert!(d2.with_config(|c| c.set_max_batch_size(0, 2048)) == Err(EINVAL));
        d2.with_config(|c| c.set_max_batch_size(0, 32))?;
        d2.with_config(|c| c.set_ats_disable(0, true))?;
        assert!(s1.inst().dsa().with_config(|c| c.set_wq_priority(0, 1)) == Err(EPERM));
        // PRS disable turns block-on-fault off, and then refuses it.
        d2.with_config(|c| c.set_block_on_fault(0, true))?;
        d2.with_config(|c| c.set_prs_disable(0, true))?;
        assert!(!d2.with_config(|c| c.wqs[0].block_on_fault));
        assert!(d2.with_config(|c| c.set_block_on_fault(0, true)) == Err(EINVAL));
        // Not enabled: WQ enable refused.
        assert!(d2.enable_wq(0) == Err(ENXIO));
        // Enable with the new settings: WQCFG carries them.
        d2.with_config(|c| c.set_evl_size(1000))?;
        d2.enable()?;
        d2.enable_wq(0)?;
        let m = s2.model();
        let p = m.personality();
        assert_eq!(m.read32(p.wqcfg_offset()), 112);
        // prs_disable, ats_disable, no bof; priority 7 in bits 7:4 [union wqcfg].
        let mode = m.read32(p.wqcfg_offset() + 8);
        assert_eq!(mode & 0b1110, 0b1100);
        assert_eq!(mode >> 4 & 0xf, 7);
        // max_xfer_shift 12 (4096), max_batch_shift 5 (32).
        assert_eq!(m.read32(p.wqcfg_offset() + 12) & 0x1ff, 12 | 5 << 5);
        assert_eq!(m.read32(p.wqcfg_offset() + 4), 0); // dedicated: no threshold
        assert_eq!(m.read64(off::EVLCFG + 8), 1000);
        assert!(d2.enable() == Err(EBUSY));
        assert!(d2.enable_wq(0) == Err(EBUSY));
        Ok(())
    }

    /// A device whose registers read all ones (a PCI device after surprise removal or unbind)
    /// has no command in flight: commands fail at once with `ENODEV` instead of polling
    /// CMDSTS.active for the 5 s timeout.
    #[test]
    fn commands_fail_fast_on_a_device_that_reads_all_ones() -> Result {
        let s = SimInstance::new(119, Generation::Dsa2, false, None)?;
        let gone = AllOnes;
        assert!(command::run_polled(s.dev(), &gone, cmd::DRAIN_PASID, 1) == Err(ENODEV));
        Ok(())
    }

    /// A halted device runs no command but Reset Device (the one that recovers it): the others
    /// are refused with `EIO` before CMD is written.
    #[test]
    fn halted_device_refuses_commands() -> Result {
        let s = SimInstance::new(126, Generation::Dsa2, true, None)?;
        let m = s.model();
        // Without the driver's own recovery, which would race with what this checks.
        s.inst().dsa().set_recovery(None);
        m.inject_halt(regs::ResetType::Software);
        m.wait_idle();
        let before = m.read32(off::CMD);
        assert!(s.inst().dsa().drain_pasid(1) == Err(EIO));
        assert_eq!(m.read32(off::CMD), before);
        // Disabling it still recovers it (Disable refused, Reset Device runs).
        assert!(s.inst().dsa().disable().is_err());
        assert_eq!(m.read32(off::GENSTS), state::DISABLED);
        Ok(())
    }

    /// Registers that read all ones, as a PCI read of a device that is gone.
    struct AllOnes;

    impl DeviceIo for AllOnes {
        fn read32(&self, _off: usize) -> u32 {
            !0
        }

        fn read64(&self, _off: usize) -> u64 {
            !0
        }

        fn write32(&self, _off: usize, _val: u32) {}

        fn write64(&self, _off: usize, _val: u64) {}
    }

    /// A WQ nobody configured reads as idxd's (`idxd_setup_wqs()`): shared, priority 0,
    /// 32-descriptor batches (the model allows 1024), 32 ENQCMDS retries, which take values up
    /// to 64 (more is 64) on a shared WQ only.
    #[test]
    fn new_wqs_read_as_idxds() -> Result {
        let s = SimInstance::new(127, Generation::Dsa2, false, None)?;
        let d = s.inst().dsa();
        let w = d.with_config(|c| c.wqs[3]);
        assert!(w.mode == WqMode::Shared);
        assert_eq!(w.priority, 0);
        assert_eq!(w.max_batch_shift, 5);
        assert_eq!(w.max_xfer_shift, 21);
        assert_eq!(w.enqcmds_retries, 32);
        d.with_config(|c| c.set_enqcmds_retries(3, 100))?;
        assert_eq!(d.with_config(|c| c.wqs[3].enqcmds_retries), 64);
        d.with_config(|c| c.set_wq_mode(3, WqMode::Dedicated))?;
        assert!(d.with_config(|c| c.set_enqcmds_retries(3, 1)) == Err(EOPNOTSUPP));
        Ok(())
    }

    /// A WQ size whose sum with the others does not fit in 32 bits is refused like any size
    /// over WQCAP.total_wq_size (a root write of 4294967295 to `size`).
    #[test]
    fn wq_size_overflow_is_refused() -> Result {
        let s = SimInstance::new(117, Generation::Dsa2, false, None)?;
        let d = s.inst().dsa();
        d.with_config(|c| c.set_wq_size(1, 16))?;
        assert!(d.with_config(|c| c.set_wq_size(0, u32::MAX)) == Err(EINVAL));
        assert_eq!(d.with_config(|c| c.wqs[0].size), 0);
        Ok(())
    }

    /// GRPCFG's engine bitmap has 64 bits: a device that reports more engines cannot be
    /// configured, and probe refuses it.
    #[test]
    fn more_than_64_engines_are_refused() -> Result {
        let s = SimInstance::new(118, Generation::Dsa2, false, None)?;
        let m = s.model();
        let regs = Engines65(m.clone());
        assert!(Caps::read(s.dev(), &regs).err() == Some(ENODEV));
        Ok(())
    }

    /// The model's registers, except that ENGCAP reports 65 engines.
    struct Engines65(Arc<SimDevice>);

    impl DeviceIo for Engines65 {
        fn read32(&self, off: usize) -> u32 {
            self.0.read32(off)
        }

        fn read64(&self, off: usize) -> u64 {
            if off == off::ENGCAP {
                65
            } else {
                self.0.read64(off)
            }
        }

        fn write32(&self, off: usize, val: u32) {
            self.0.write32(off, val)
        }

        fn write64(&self, off: usize, val: u64) {
            self.0.write64(off, val)
        }
    }

    #[test]
    fn halt_is_reported_and_recovered() -> Result {
        let s = SimInstance::new(115, Generation::Dsa2, true, None)?;
        let m = s.model();
        assert_eq!(s.inst().dsa().state_name(), "enabled");
        // Recovered by hand here (the driver's own: software_reset_halt_recovers_by_itself).
        s.inst().dsa().set_recovery(None);
        m.inject_halt(regs::ResetType::Software);
        m.wait_idle();
        assert_eq!(s.inst().dsa().stats().halts, 1);
        assert_eq!(s.inst().dsa().state_name(), "halted");
        // Disable Device fails on a halted device; the Reset Device that follows recovers it.
        assert!(s.inst().dsa().disable().is_err());
        assert_eq!(m.read32(off::GENSTS), state::DISABLED);
        assert_eq!(s.inst().dsa().state_name(), "disabled");
        s.inst().dsa().enable()?;
        s.inst().dsa().enable_wq(0)?;
        assert_eq!(s.inst().dsa().state_name(), "enabled");
        assert_eq!(wq_state(&s, 0), 1);
        Ok(())
    }

    /// A device that halts needing a software reset (GENSTS.reset_type 0) is reset and
    /// enabled again by the driver itself, with the WQs that were enabled, as idxd's
    /// `idxd_device_reinit()` does.
    #[test]
    fn software_reset_halt_recovers_by_itself() -> Result {
        let s = SimInstance::new(128, Generation::Dsa2, true, None)?;
        let m = s.model();
        assert_eq!(s.inst().dsa().state_name(), "enabled");
        assert_eq!(wq_state(&s, 0), 1);
        m.inject_halt(regs::ResetType::Software);
        m.wait_idle();
        assert_eq!(s.inst().dsa().stats().halts, 1);
        // The recovery runs in a work item: wait for it, 2 s at most.
        wait_for(2000, || {
            s.inst().dsa().state_name() == "enabled" && wq_state(&s, 0) == 1
        });
        assert_eq!(s.inst().dsa().state_name(), "enabled");
        assert_eq!(m.read32(off::GENSTS), state::ENABLED);
        assert_eq!(wq_state(&s, 0), 1);
        Ok(())
    }

    /// A device that halts needing a reset the driver cannot do itself (a function-level one
    /// on the model, which has no PCI function to reset; a warm reset of the platform) is
    /// left halted, but nothing stays open on it: the device and its WQs are disabled (their
    /// files revoked), as idxd's `idxd_halt()` quiesces its WQs. Reset Device does not
    /// recover it.
    #[test]
    fn halt_needing_another_reset_disables_and_stays_halted() -> Result {
        for (i, t) in [(149, regs::ResetType::Flr), (150, regs::ResetType::Warm)] {
            let s = SimInstance::new(i, Generation::Dsa2, true, None)?;
            let m = s.model();
            assert_eq!(wq_state(&s, 0), 1);
            m.inject_halt(t);
            m.wait_idle();
            assert_eq!(s.inst().dsa().stats().halts, 1);
            // The recovery runs in a work item: wait for it, 2 s at most.
            wait_for(2000, || !s.inst().dsa().with_config(|c| c.enabled));
            assert!(!s.inst().dsa().with_config(|c| c.enabled));
            assert!(!s.inst().dsa().with_config(|c| c.wqs[0].enabled));
            assert_eq!(s.inst().dsa().state_name(), "halted");
            assert!(s.inst().dsa().reset().is_err());
            assert_eq!(s.inst().dsa().state_name(), "halted");
        }
        Ok(())
    }

    /// WQCFG dwords 0-3 are written read-modify-write, as idxd's `idxd_wq_config_write()`
    /// reads WQCFG back first: the bits the driver does not program (reserved ones, IAA's
    /// max_sgl_shift) keep what the device has, the fields it programs are its own.
    #[test]
    fn wqcfg_keeps_the_bits_the_driver_does_not_program() {
        use crate::regs::wqcfg::merge;
        assert_eq!(merge(0, 0xabcd_0010, 0x20), 0xabcd_0020);
        assert_eq!(merge(1, 0x8000_ffff, 8), 0x8000_0008);
        // Mode (bit 0) is the driver's: cleared; bits 31:30 are not.
        assert_eq!(merge(2, 0xc000_0001, 0x10), 0xc000_0010);
        assert_eq!(
            merge(3, 0xffff_ffff, 21 | 5 << 5),
            0xffff_fe00 | 21 | 5 << 5
        );
        assert_eq!(merge(3, 0, 0xffff_ffff), 0x1ff);
    }

    #[test]
    fn enable_disable_cycles_leak_nothing() -> Result {
        let s = SimInstance::new(113, Generation::Dsa2, true, None)?;
        let m = s.model().clone();
        for _ in 0..3 {
            assert_eq!(m.dma_mapped(), 1);
            s.inst().dsa().disable()?;
            assert_eq!(m.dma_mapped(), 0);
            assert_eq!(m.read32(off::GENSTS), state::DISABLED);
            assert_eq!(m.read32(off::GENCFG), 0);
            assert_eq!(m.read64(off::EVLCFG), 0);
            s.inst().dsa().enable()?;
        }
        // A device reset behind the driver's back clears GENCFG.evl_en; disable still frees
        // the ring (it does not decide by reading GENCFG).
        m.write32(off::CMD, cmd::RESET_DEVICE << 20);
        m.wait_idle();
        assert_eq!(m.read32(off::GENCFG), 0);
        assert!(s.inst().dsa().disable().is_err());
        assert_eq!(m.dma_mapped(), 0);
        assert!(s.inst().dsa().disable() == Err(EINVAL));
        Ok(())
    }

    /// Enable and disable change only their own GENCFG and GENCTRL fields, as idxd's
    /// read-modify-writes do (`idxd_device_evl_setup()`, `idxd_groups_config_write()`): a
    /// field the driver does not own (GENCFG.user_int_en, set here as firmware or an earlier
    /// owner may have left it) stays as it was.
    #[test]
    fn enable_and_disable_keep_gencfg_fields_they_do_not_own() -> Result {
        let s = SimInstance::new(117, Generation::Dsa2, true, None)?;
        let m = s.model().clone();
        s.inst().dsa().disable()?;
        let user_int = regs::GenCfg::USER_INT_EN_MASK;
        m.write32(off::GENCFG, user_int);
        assert_eq!(m.read32(off::GENCFG), user_int);
        s.inst().dsa().enable()?;
        assert_eq!(m.read32(off::GENCFG), user_int | regs::GenCfg::EVL_EN_MASK);
        s.inst().dsa().disable()?;
        assert_eq!(m.read32(off::GENCFG), user_int);
        assert_eq!(m.read32(off::GENCTRL), 0);
        assert_eq!(m.dma_mapped(), 0);
        Ok(())
    }

    /// A device that is not configurable (GENCAP.config_en 0) holds what its firmware or a host
    /// programmed: the driver reads it back (idxd's `idxd_device_load_config()`), refuses
    /// changes with `EPERM`, and enables the device (binding it, as at probe) and its WQs
    /// with that configuration, leaving the tables as they were.
    #[test]
    fn a_device_that_is_not_configurable_is_read_back_and_enabled() -> Result {
        let wqcfg = |p: &crate::sim::Personality, w: usize, i: usize| {
            p.wqcfg_offset() + w * p.wqcfg_stride() + 4 * i
        };
        let grpcfg = |p: &crate::sim::Personality, g: usize| p.grpcfg_offset() + g * 64;
        // Group 0: WQ 0 (dedicated, 16 entries, priority 3) and engines 0-1; group 1: WQ 1
        // (shared, 8 entries, threshold 4, priority 2, PRS off, 4 KiB transfers) and engine 2.
        let flags0: u64 = 1 | 1 << 3 | 8 << 20;
        let flags1: u64 = 1 | 1 << 3 | 16 << 20;
        let s = SimInstance::new_programmed(118, Generation::Dsa2, |dev| {
            dev.program_as_firmware(|m| {
                let p = m.personality();
                m.write32(wqcfg(&p, 0, 0), 16);
                m.write32(wqcfg(&p, 0, 2), 1 | 3 << 4);
                m.write32(wqcfg(&p, 0, 3), 21 | 5 << 5);
                m.write32(wqcfg(&p, 1, 0), 8);
                m.write32(wqcfg(&p, 1, 1), 4);
                m.write32(wqcfg(&p, 1, 2), 1 << 3 | 2 << 4 | 1 << 28);
                m.write32(wqcfg(&p, 1, 3), 12 | 3 << 5);
                m.write64(grpcfg(&p, 0), 0b01);
                m.write64(grpcfg(&p, 0) + 32, 0b011);
                m.write64(grpcfg(&p, 0) + 40, flags0);
                m.write64(grpcfg(&p, 1), 0b10);
                m.write64(grpcfg(&p, 1) + 32, 0b100);
                m.write64(grpcfg(&p, 1) + 40, flags1);
            })
        })?;
        let m = s.model().clone();
        let p = m.personality();
        let dsa = s.inst().dsa();
        assert!(!dsa.caps().configurable());
        let read_back = dsa.with_config(|c| {
            let (w0, w1) = (&c.wqs[0], &c.wqs[1]);
            w0.size == 16
                && w0.mode == WqMode::Dedicated
                && w0.priority == 3
                && w0.group == Some(0)
                && w0.max_xfer_shift == 21
                && w1.size == 8
                && w1.mode == WqMode::Shared
                && w1.threshold == 4
                && w1.priority == 2
                && w1.prs_disable
                && w1.group == Some(1)
                && w1.max_xfer_shift == 12
                && w1.max_batch_shift == 3
                && c.wqs[2].size == 0
                && c.engines[0] == Some(0)
                && c.engines[1] == Some(0)
                && c.engines[2] == Some(1)
                && c.engines[3].is_none()
                && c.groups[1].rdbufs_allowed.get() == 16
        });
        assert!(read_back);
        assert_eq!(dsa.with_config(|c| c.set_wq_size(2, 8)), Err(EPERM));
        // The sysfs ABI says so, as idxd's does.
        let t = s.inst().sysfs();
        let shown = crate::sysfs::read_attr(t.device_node(), c"configurable")?;
        assert_eq!(shown.to_bytes(), b"0\n");
        let size = t.with_wq_node(0, |n| crate::sysfs::read_attr(n, c"size"))?;
        assert_eq!(size.to_bytes(), b"16\n");
        assert_eq!(
            t.with_wq_node(2, |n| crate::sysfs::write_attr(n, c"size", b"8\n")),
            Err(EPERM)
        );
        // Bound at probe, as idxd's device driver binds such a device: enabled as it is.
        assert_eq!(m.read32(off::GENSTS), state::ENABLED);
        dsa.enable_wq(0)?;
        dsa.enable_wq(1)?;
        assert_eq!(wq_state(&s, 0), 1);
        assert_eq!(wq_state(&s, 1), 1);
        assert_eq!(m.read32(wqcfg(&p, 0, 0)), 16);
        assert_eq!(m.read32(wqcfg(&p, 1, 1)), 4);
        assert_eq!(m.read64(grpcfg(&p, 0) + 32), 0b011);
        assert_eq!(m.read64(grpcfg(&p, 1) + 40), flags1);
        // A disable keeps what the device holds (nothing to forget: it is not ours).
        dsa.disable()?;
        assert_eq!(dsa.with_config(|c| c.wqs[0].size), 16);
        Ok(())
    }

    /// An enable that runs while a disable is tearing the event log down must not have its new
    /// ring freed under it: the disable holds the configuration until the teardown is done, so
    /// the enable waits and then sets up a ring of its own.
    #[test]
    fn enable_racing_disable_keeps_its_event_log() -> Result {
        let s = SimInstance::new(116, Generation::Dsa2, true, None)?;
        let m = s.model().clone();
        let dsa = s.inst().dsa().clone();
        // 0: not run yet, 1: enabled, -1: enable failed.
        let result = Arc::new(Atomic::new(0i32), GFP_KERNEL)?;
        let (d, r, seen) = (dsa.clone(), result.clone(), result.clone());
        test_hooks::set(
            test_hooks::Point::BeforeEvlTeardown,
            KBox::new(
                move || {
                    // From another thread, enable the device being disabled, and give it up to a
                    // second to finish (it cannot while the disable holds the configuration).
                    let d = d.clone();
                    let spawned =
                        Job::spawn(move || if d.enable().is_ok() { 1 } else { -1 }, r.clone());
                    let mut waited = 0;
                    while spawned.is_ok() && seen.load(Relaxed) == 0 && waited < 1000 {
                        fsleep(Delta::from_millis(1));
                        waited += 1;
                    }
                },
                GFP_KERNEL,
            )?,
        );
        dsa.disable()?;
        let mut waited = 0;
        while result.load(Relaxed) == 0 && waited < 5000 {
            fsleep(Delta::from_millis(1));
            waited += 1;
        }
        assert_eq!(result.load(Relaxed), 1);
        // The enable that won is whole: device enabled, its ring mapped and programmed.
        m.wait_idle();
        assert_eq!(m.read32(off::GENSTS), state::ENABLED);
        assert_eq!(m.dma_mapped(), 1);
        let bus = dsa.evl_bus_addr().ok_or(EINVAL)?;
        assert_eq!(m.read64(off::EVLCFG), bus);
        assert_eq!(m.read32(off::GENCFG), regs::GenCfg::EVL_EN_MASK);
        assert!(m.read32(off::GENCTRL) & regs::GenCtrl::EVL_INT_EN_MASK != 0);
        Ok(())
    }

    #[test]
    fn evl_burst_larger_than_the_ring() -> Result {
        const FAULTS: u64 = 300;
        let s = SimInstance::new(114, Generation::Dsa2, true, None)?;
        let d = &s.inst().dsa();
        let m = s.model().clone();
        // Shared WQ 1 with PRS off.
        d.disable_wq(1)?;
        d.with_config(|c| c.set_prs_disable(1, true))?;
        d.enable_wq(1)?;
        // CRs in a page that is never present.
        let crs = vm_mmap_anon(PAGE_SIZE, prot::READ | prot::WRITE)?.as_const_ptr() as u64;
        let pasid = {
            let task = kernel::current!();
            m.bind_mm(task.mm().ok_or(EINVAL)?)?
        };
        let mut sent = 0u64;
        let mut spins = 0;
        while sent < FAULTS {
            let mut desc = Descriptor::default();
            desc.set_opcode(opcode::NOOP);
            desc.set_flags(crate::hw::flags::CRAV | crate::hw::flags::RCR);
            desc.completion_addr = crs + (sent % 128) * 32;
            if m.enqcmd(1, &desc, pasid, false, Portal::Unlimited).is_ok() {
                sent += 1;
            } else {
                fsleep(Delta::from_millis(1));
                spins += 1;
                assert!(spins < 10_000);
            }
        }
        m.wait_idle();
        // Every entry drained exactly once, in the driver, through the misc interrupt.
        assert_eq!(m.stats().evl_entries, FAULTS);
        assert_eq!(d.stats().evl_entries, FAULTS);
        assert_eq!(d.stats().evl_cr, FAULTS);
        assert_eq!(d.stats().evl_other, 0);
        let st = regs::EvlStatus::from_raw(m.read64(off::EVLSTATUS));
        assert_eq!(st.head().get(), st.tail().get());
        assert!(!st.int_pending());
        m.unbind_pasid(pasid)?;
        Ok(())
    }
}
