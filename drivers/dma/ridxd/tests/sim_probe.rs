// SPDX-License-Identifier: GPL-2.0

//! KUnit: model devices probed through the driver's seam.

use kernel::prelude::*;

#[kunit_tests(ridxd_sim_probe)]
mod tests {
    use crate::{
        cmd as command,
        hw::opcode,
        regs::{cmd, off, state},
        sim::Generation,
        sim_drv::{parse_del_device, parse_new_device, SimInstance},
        tests::util::{desc, map_rw},
    };
    use kernel::{
        kunit::user::{prot, vm_mmap_anon},
        page::PAGE_SIZE,
        prelude::*,
    };

    #[test]
    fn probe_both_generations() -> Result {
        let a = SimInstance::new(100, Generation::Dsa1, false, None)?;
        let c = a.inst().dsa().caps();
        assert_eq!(c.version, 0x100);
        assert_eq!(c.num_wqs(), 8);
        assert_eq!(c.num_engines(), 4);
        assert_eq!(c.num_groups(), 4);
        assert!(c.evl_entry_size().is_none());
        assert!(!c.wq_prs_disable());
        assert!(c.configurable());

        let b = SimInstance::new(101, Generation::Dsa2, false, None)?;
        let c = b.inst().dsa().caps();
        assert_eq!(c.version, 0x200);
        assert_eq!(c.evl_entry_size(), Some(64));
        assert!(c.wq_prs_disable());
        Ok(())
    }

    #[test]
    fn commands_through_the_seam() -> Result {
        let s = SimInstance::new(102, Generation::Dsa2, false, None)?;
        let dev = s.dev();
        let io = s.inst().dsa().io();
        assert_eq!(io.read32(off::GENSTS), state::DISABLED);
        // Nothing configured: the device refuses to enable, and the driver says so.
        assert!(command::run_polled(dev, io, cmd::ENABLE_DEVICE, 0) == Err(EIO));
        // A command that succeeds.
        assert_eq!(command::run_polled(dev, io, cmd::RESET_DEVICE, 0), Ok(0));
        assert_eq!(io.read32(off::GENSTS), state::DISABLED);
        Ok(())
    }

    /// ENQCMDS carries the privilege of the descriptor it submits (its PASID dword's bit 31),
    /// so the seam's shared-WQ submission, which `write()` uses, runs a descriptor whose bit
    /// is clear (`write()` refuses one with it set) without privilege.
    #[test]
    fn enqcmds_through_the_seam_carries_the_descriptors_privilege() -> Result {
        let s = SimInstance::new(103, Generation::Dsa2, true, None)?;
        // The test's own address space, as a process's.
        vm_mmap_anon(PAGE_SIZE, prot::READ)?;
        let dsa = s.inst().dsa();
        let m = s.model();
        let task = kernel::current!();
        let bond = dsa.io().sva_bind(task.mm().ok_or(EINVAL)?)?;
        let cr = map_rw(1)?;
        let mut d = desc(opcode::NOOP, 0, 0, 0, cr);
        d.set_pasid(bond.pasid());
        dsa.io().submit(1, true, &d)?;
        m.wait_idle();
        assert_eq!(m.stats().completed, 1);
        assert_eq!(m.stats().privileged, 0);
        d.set_priv(true);
        dsa.io().submit(1, true, &d)?;
        m.wait_idle();
        assert_eq!(m.stats().completed, 2);
        assert_eq!(m.stats().privileged, 1);
        Ok(())
    }

    #[test]
    fn new_device_requests() {
        use Generation::{Dsa1, Dsa2};
        assert_eq!(parse_new_device("1", true), Ok((Dsa1, true)));
        assert_eq!(parse_new_device("2", false), Ok((Dsa2, false)));
        assert_eq!(parse_new_device("2 0", true), Ok((Dsa2, false)));
        assert_eq!(parse_new_device("1  1", false), Ok((Dsa1, true)));
        for bad in ["", "0", "3", "2.0", "dsa", "2 2", "2 1 1", "+2", "1 yes"] {
            assert_eq!(parse_new_device(bad, true), Err(EINVAL));
        }
    }

    #[test]
    fn del_device_requests() {
        assert_eq!(parse_del_device("dsa3"), Ok(3));
        assert_eq!(parse_del_device("12"), Ok(12));
        for bad in [
            "",
            "dsa",
            "wq1.0",
            "dsa-1",
            "+1",
            "dsa 1",
            "1x",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_del_device(bad), Err(EINVAL));
        }
    }
}
