// SPDX-License-Identifier: GPL-2.0

//! KUnit: what happens to a PASID when its process leaves a WQ, on model devices: the device
//! is made to stop using it (escalating when it does not), none of its event-log entries
//! reach the PASID's next owner, and a PASID the device may still use is never given out
//! again. Also the refusals around a dedicated WQ's PASID and a device that does not stop.

use kernel::prelude::*;

#[kunit_tests(ridxd_release)]
mod tests {
    use crate::{
        config::WqMode,
        device::{test_hooks, DsaDevice},
        fault::{CrCounters, UserContext},
        hw::opcode,
        hwif::SvaBond,
        regs::{cmd, off, state},
        sim::{CmdFault, Generation, Portal},
        sim_drv::SimInstance,
        tests::util::{desc, get, map_rw, put, wait_for, Job},
    };
    use kernel::{
        kunit::user::{prot, vm_mmap_anon},
        page::PAGE_SIZE,
        prelude::*,
        sync::{atomic::Atomic, Arc},
        time::{delay::fsleep, Delta},
    };

    /// A DSA 2.0 model device with the default configuration (WQ 0 dedicated, WQ 1 shared),
    /// PRS off on WQ 1.
    fn device(index: usize) -> Result<SimInstance> {
        let s = SimInstance::new(index, Generation::Dsa2, true, None)?;
        let dsa = s.inst().dsa();
        dsa.disable_wq(1)?;
        dsa.with_config(|c| c.set_prs_disable(1, true))?;
        dsa.enable_wq(1)?;
        // The test's own address space, as the process.
        vm_mmap_anon(PAGE_SIZE, prot::READ)?;
        Ok(s)
    }

    /// Binds this test's address space as a process opening WQ `wq`: its SVA bond and its
    /// fault context, as `open` makes them.
    fn open(dsa: &DsaDevice, wq: u8) -> Result<(KBox<dyn SvaBond>, Arc<UserContext>)> {
        let task = kernel::current!();
        let mm = task.mm().ok_or(EINVAL)?;
        let bond = dsa.io().sva_bind(mm)?;
        let ctx = dsa.faults().add_ctx(bond.pasid(), wq, mm)?;
        Ok((bond, ctx))
    }

    fn wq_enabled(dsa: &DsaDevice, wq: usize) -> bool {
        dsa.with_config(|c| c.wqs[wq].enabled)
    }

    /// A process leaves with a CR fault whose event-log entry is still in the ring (the misc
    /// interrupt is late, as hardware allows); the PASID is given to the next process at once,
    /// which has other data at the old CR address. The old entry must not be written there.
    #[test]
    fn released_pasid_entries_never_reach_its_next_owner() -> Result {
        let s = device(140)?;
        let dsa = s.inst().dsa();
        let m = s.model();
        let (bond_a, ctx_a) = open(dsa, 1)?;
        let pasid = bond_a.pasid();
        m.set_irq_delay(Delta::from_millis(300));
        let buf = map_rw(2)?;
        put(buf, &[0x5a; 64])?;
        // Never touched: the CR faults and goes to the event log.
        let cr = buf + PAGE_SIZE as u64 + 64;
        let d = desc(opcode::MEMMOVE, buf, buf + 512, 64, cr);
        let mut spins = 0;
        while m.enqcmd(1, &d, pasid, false, Portal::Unlimited).is_err() && spins < 1000 {
            fsleep(Delta::from_millis(1));
            spins += 1;
        }
        m.wait_idle();
        let st = dsa.evl_status();
        assert_ne!(st.head().get(), st.tail().get());
        dsa.release_pasid(1, true, &ctx_a, bond_a)?;
        // The next process: the same PASID, its own data where A's CR was.
        put(cr, &[0xa5; 32])?;
        let (bond_b, ctx_b) = open(dsa, 1)?;
        assert_eq!(bond_b.pasid(), pasid);
        fsleep(Delta::from_millis(600));
        m.wait_idle();
        dsa.faults().flush();
        let mut got = [0u8; 32];
        get(cr, &mut got)?;
        assert!(got == [0xa5; 32]);
        assert_eq!(ctx_b.counters(), CrCounters::default());
        assert_eq!(ctx_a.counters(), CrCounters::default());
        m.set_irq_delay(Delta::ZERO);
        dsa.release_pasid(1, true, &ctx_b, bond_b)?;
        assert_eq!(m.pasids_bound(), 0);
        Ok(())
    }

    /// A Drain PASID that fails: the WQ is disabled instead, then the PASID is unbound.
    #[test]
    fn failed_drain_disables_the_wq() -> Result {
        let s = device(141)?;
        let dsa = s.inst().dsa();
        let m = s.model();
        // What the disable leaves, without the recovery (wq_disabled_by_a_release_is_recovered).
        dsa.set_recovery(None);
        let (bond, ctx) = open(dsa, 1)?;
        m.inject_cmd_fault(cmd::DRAIN_PASID, Some(CmdFault::Fail));
        dsa.release_pasid(1, true, &ctx, bond)?;
        assert!(!wq_enabled(dsa, 1));
        assert!(wq_enabled(dsa, 0));
        assert_eq!(m.pasids_bound(), 0);
        assert_eq!(dsa.kept_pasids(), 0);
        Ok(())
    }

    /// Drain PASID and Disable WQ both fail: the device is reset, then the PASID unbound.
    #[test]
    fn failed_drain_and_wq_disable_reset_the_device() -> Result {
        let s = device(142)?;
        let dsa = s.inst().dsa();
        let m = s.model();
        // What the reset leaves, without the recovery (device_reset_by_a_release_is_recovered).
        dsa.set_recovery(None);
        let (bond, ctx) = open(dsa, 1)?;
        m.inject_cmd_fault(cmd::DRAIN_PASID, Some(CmdFault::Fail));
        m.inject_cmd_fault(cmd::DISABLE_WQ, Some(CmdFault::Fail));
        dsa.release_pasid(1, true, &ctx, bond)?;
        m.wait_idle();
        assert_eq!(m.read32(off::GENSTS) & 0x3, state::DISABLED);
        assert_eq!(dsa.state_name(), "disabled");
        assert_eq!(m.dma_mapped(), 0);
        assert_eq!(m.pasids_bound(), 0);
        Ok(())
    }

    /// A release whose escalation disabled the WQ (its drain failed) disabled it under the other
    /// files open on it and under its `user` binding: the WQ is brought back (those files
    /// revoked, the WQ enabled again), not left disabled.
    #[test]
    fn wq_disabled_by_a_release_is_recovered() -> Result {
        let s = device(148)?;
        let dsa = s.inst().dsa();
        let m = s.model();
        let (bond, ctx) = open(dsa, 1)?;
        m.inject_cmd_fault(cmd::DRAIN_PASID, Some(CmdFault::Fail));
        dsa.release_pasid(1, true, &ctx, bond)?;
        m.inject_cmd_fault(cmd::DRAIN_PASID, None);
        // The recovery runs in a work item: 2 s at most.
        wait_for(2000, || wq_enabled(dsa, 1));
        assert!(wq_enabled(dsa, 1));
        assert!(wq_enabled(dsa, 0));
        assert_eq!(dsa.state_name(), "enabled");
        assert_eq!(m.pasids_bound(), 0);
        Ok(())
    }

    /// A release whose escalation reset the device took every WQ off it, those other files
    /// use among them: the device is brought back as after a halt (every open file revoked,
    /// the device and its bound WQs enabled again), not left disabled under bound nodes.
    #[test]
    fn device_reset_by_a_release_is_recovered() -> Result {
        let s = device(147)?;
        let dsa = s.inst().dsa();
        let m = s.model();
        let (bond, ctx) = open(dsa, 1)?;
        m.inject_cmd_fault(cmd::DRAIN_PASID, Some(CmdFault::Fail));
        m.inject_cmd_fault(cmd::DISABLE_WQ, Some(CmdFault::Fail));
        dsa.release_pasid(1, true, &ctx, bond)?;
        m.inject_cmd_fault(cmd::DRAIN_PASID, None);
        m.inject_cmd_fault(cmd::DISABLE_WQ, None);
        // The recovery runs in a work item: 2 s at most.
        wait_for(2000, || {
            dsa.state_name() == "enabled" && wq_enabled(dsa, 0) && wq_enabled(dsa, 1)
        });
        m.wait_idle();
        assert_eq!(dsa.state_name(), "enabled");
        assert_eq!(m.read32(off::GENSTS) & 0x3, state::ENABLED);
        assert!(wq_enabled(dsa, 0));
        assert!(wq_enabled(dsa, 1));
        assert_eq!(m.pasids_bound(), 0);
        Ok(())
    }

    /// A drain that never completes: nothing can stop the device (later commands are
    /// refused at once), so the PASID stays bound until the device goes away.
    #[test]
    fn pasid_of_a_device_that_cannot_be_stopped_is_kept() -> Result {
        let s = device(143)?;
        let dsa = s.inst().dsa();
        let m = s.model();
        let (bond, ctx) = open(dsa, 1)?;
        m.inject_cmd_fault(cmd::DRAIN_PASID, Some(CmdFault::Hang));
        assert!(dsa.release_pasid(1, true, &ctx, bond) == Err(EIO));
        assert_eq!(m.pasids_bound(), 1);
        assert_eq!(dsa.kept_pasids(), 1);
        // Its context is gone all the same.
        assert_eq!(dsa.faults().wq_counters(1).1, 0);
        Ok(())
    }

    /// A device that cannot be stopped goes away (its teardown, as at unbind or removal): its
    /// bus mastering is turned off, after which it can reach no memory, and only then are its
    /// event-log ring freed and the PASIDs it kept unbound.
    #[test]
    fn stuck_device_gives_up_ring_and_pasids_once_bus_mastering_is_off() -> Result {
        let s = device(151)?;
        let dsa = s.inst().dsa();
        let m = s.model();
        let (bond, ctx) = open(dsa, 1)?;
        m.inject_cmd_fault(cmd::DRAIN_PASID, Some(CmdFault::Hang));
        assert!(dsa.release_pasid(1, true, &ctx, bond) == Err(EIO));
        assert_eq!(dsa.kept_pasids(), 1);
        assert_eq!(m.dma_mapped(), 1);
        assert!(m.bus_master());
        let released = m.stats().released_while_mastering;
        dsa.shutdown();
        assert_eq!(dsa.kept_pasids(), 0);
        assert_eq!(m.pasids_bound(), 0);
        assert_eq!(m.dma_mapped(), 0);
        assert!(!m.bus_master());
        // Both given back only once bus mastering was off.
        assert_eq!(m.stats().released_while_mastering, released);
        // A device that stopped keeps its bus mastering through the same teardown.
        let s = device(152)?;
        s.inst().dsa().shutdown();
        assert!(s.model().bus_master());
        assert_eq!(s.model().dma_mapped(), 0);
        Ok(())
    }

    /// Disable Device and Reset Device both fail: the device may still write its event log,
    /// so the ring stays allocated; the next enable resets the device first.
    #[test]
    fn ring_is_kept_while_the_device_does_not_stop() -> Result {
        let s = device(144)?;
        let dsa = s.inst().dsa();
        let m = s.model();
        assert_eq!(m.dma_mapped(), 1);
        m.inject_cmd_fault(cmd::DISABLE_DEVICE, Some(CmdFault::Fail));
        m.inject_cmd_fault(cmd::RESET_DEVICE, Some(CmdFault::Fail));
        assert!(dsa.disable().is_err());
        assert_eq!(m.dma_mapped(), 1);
        // Still no reset: the enable is refused and the ring still kept.
        assert!(dsa.enable().is_err());
        assert_eq!(m.dma_mapped(), 1);
        m.inject_cmd_fault(cmd::RESET_DEVICE, None);
        dsa.enable()?;
        m.wait_idle();
        assert_eq!(m.read32(off::GENSTS) & 0x3, state::ENABLED);
        assert_eq!(m.dma_mapped(), 1);
        m.inject_cmd_fault(cmd::DISABLE_DEVICE, None);
        Ok(())
    }

    /// Changing a dedicated WQ's PASID holds the configuration from the disable to the
    /// enable: the admin cannot make the WQ shared in between.
    #[test]
    fn wq_pasid_change_holds_the_configuration() -> Result {
        let s = device(145)?;
        let dsa = s.inst().dsa().clone();
        // 1: the mode change went through, -1: it was refused.
        let result = Arc::new(Atomic::new(0i32), GFP_KERNEL)?;
        let (d, r, seen) = (dsa.clone(), result.clone(), result.clone());
        test_hooks::set(
            test_hooks::Point::SetWqPasidDisabled,
            KBox::new(
                move || {
                    let d = d.clone();
                    let spawned = Job::spawn(
                        move || {
                            if d.with_config(|c| c.set_wq_mode(0, WqMode::Shared)).is_ok() {
                                1
                            } else {
                                -1
                            }
                        },
                        r.clone(),
                    );
                    if spawned.is_ok() {
                        Job::wait(&seen, 300);
                    }
                },
                GFP_KERNEL,
            )?,
        );
        dsa.set_wq_pasid(0, Some(7))?;
        assert_eq!(Job::wait(&result, 5000), -1);
        let (mode, pasid, enabled) = dsa.with_config(|c| {
            let w = &c.wqs[0];
            (w.mode, w.pasid, w.enabled)
        });
        assert!(mode == WqMode::Dedicated);
        assert_eq!(pasid, Some(7));
        assert!(enabled);
        Ok(())
    }

    /// A PASID change whose disable fails leaves the WQ with no PASID, not the old one.
    #[test]
    fn failed_wq_disable_forgets_the_pasid() -> Result {
        let s = device(146)?;
        let dsa = s.inst().dsa();
        let m = s.model();
        dsa.set_wq_pasid(0, Some(9))?;
        m.inject_cmd_fault(cmd::DISABLE_WQ, Some(CmdFault::Fail));
        assert!(dsa.set_wq_pasid(0, None).is_err());
        assert_eq!(dsa.with_config(|c| c.wqs[0].pasid), None);
        m.inject_cmd_fault(cmd::DISABLE_WQ, None);
        Ok(())
    }
}
