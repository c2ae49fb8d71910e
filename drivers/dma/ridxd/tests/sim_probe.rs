// SPDX-License-Identifier: GPL-2.0

//! KUnit: model devices probed through the driver's seam.

use kernel::prelude::*;

#[kunit_tests(ridxd_sim_probe)]
mod tests {
    use crate::{
        cmd as command,
        regs::{cmd, off, state},
        sim::Generation,
        sim_drv::SimInstance,
    };
    use kernel::prelude::*;

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
}
