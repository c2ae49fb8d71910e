// SPDX-License-Identifier: GPL-2.0

//! KUnit: the completion-record fix-up on a model device, with this test's own address space
//! as the process.

use kernel::prelude::*;

#[kunit_tests(ridxd_cr_fixup)]
mod tests {
    use crate::tests::util::{cr_at, desc, map, map_rw, put};
    use crate::{
        fault::{CrCounters, UserContext},
        hw::{opcode, status, Descriptor, DsaEvlEntry, EvlInfo},
        sim::{Generation, Portal},
        sim_drv::SimInstance,
    };
    use kernel::{
        kunit::user::{madvise_dontneed, prot, vm_mmap_anon},
        page::PAGE_SIZE,
        prelude::*,
        sync::Arc,
        time::{delay::fsleep, Delta},
        transmute::AsBytes,
        uaccess::UserPtr,
    };

    /// A DSA 2.0 model device whose shared WQ 1 has PRS off, and this test's address space
    /// bound and registered with the fault path as a process on WQ 1.
    struct Rig {
        s: SimInstance,
        pasid: u32,
        ctx: Arc<UserContext>,
    }

    impl Rig {
        fn new(index: usize) -> Result<Self> {
            let s = SimInstance::new(index, Generation::Dsa2, true, None)?;
            s.inst().dsa().disable_wq(1)?;
            s.inst().dsa().with_config(|c| c.set_prs_disable(1, true))?;
            s.inst().dsa().enable_wq(1)?;
            vm_mmap_anon(PAGE_SIZE, prot::READ)?;
            let task = kernel::current!();
            let mm = task.mm().ok_or(EINVAL)?;
            let pasid = s.model().bind_mm(mm)?;
            let ctx = s.inst().dsa().faults().add_ctx(pasid, 1, mm)?;
            Ok(Self { s, pasid, ctx })
        }

        /// Submits to shared WQ 1 and waits for the device and the fault work.
        fn run(&self, d: &Descriptor) -> Result {
            let m = self.s.model();
            let mut spins = 0;
            while m
                .enqcmd(1, d, self.pasid, false, Portal::Unlimited)
                .is_err()
            {
                fsleep(Delta::from_millis(1));
                spins += 1;
                if spins > 5000 {
                    return Err(ETIMEDOUT);
                }
            }
            self.settle();
            Ok(())
        }

        fn settle(&self) {
            self.s.model().wait_idle();
            self.s.inst().dsa().faults().flush();
        }

        fn counters(&self) -> CrCounters {
            self.ctx.counters()
        }
    }

    impl Drop for Rig {
        fn drop(&mut self) {
            self.s.inst().dsa().faults().remove_ctx(&self.ctx);
            let _ = self.s.model().unbind_pasid(self.pasid);
        }
    }

    /// A crafted CR-fault entry for the rig's process.
    fn entry(rig: &Rig, addr: u64, bytes: u32) -> DsaEvlEntry {
        let mut e = DsaEvlEntry::default();
        let info = EvlInfo::zeroed()
            .with_error(status::CRA_XLAT)
            .with_wq_idx(1);
        e.header.info = info.try_with_pasid(u64::from(rig.pasid)).unwrap_or(info);
        e.header.fault_addr = addr;
        e.cr.status = status::SUCCESS;
        e.cr.bytes_completed = bytes;
        e
    }

    #[test]
    fn never_touched_and_discarded_pages() -> Result {
        let rig = Rig::new(120)?;
        let buf = map_rw(3)?;
        put(buf, &[0x5a; 64])?;
        // Never touched: the device cannot write the CR, the driver does.
        let cr = buf + 2 * PAGE_SIZE as u64 + 64;
        rig.run(&desc(opcode::MEMMOVE, buf, buf + 512, 64, cr))?;
        let c = cr_at(cr);
        assert_eq!(c.status, status::SUCCESS);
        assert_eq!(c.bytes_completed, 64);
        assert_eq!(
            rig.counters(),
            CrCounters {
                cr_faults: 1,
                cr_fault_failures: 0
            }
        );
        // Discarded (MADV_DONTNEED) after use.
        madvise_dontneed(
            UserPtr::from_addr((buf + 2 * PAGE_SIZE as u64) as usize),
            PAGE_SIZE,
        )?;
        rig.run(&desc(opcode::MEMMOVE, buf, buf + 1024, 32, cr + 32))?;
        assert_eq!(cr_at(cr + 32).status, status::SUCCESS);
        assert_eq!(cr_at(cr + 32).bytes_completed, 32);
        assert_eq!(rig.counters().cr_faults, 2);
        assert_eq!(rig.s.inst().dsa().stats().evl_cr, 2);
        Ok(())
    }

    #[test]
    fn crafted_entries() -> Result {
        let rig = Rig::new(121)?;
        let f = rig.s.inst().dsa().faults();
        // A present page.
        let buf = map_rw(2)?;
        put(buf, &[0u8; 64])?;
        f.push(&entry(&rig, buf + 32, 7));
        // A record across a page boundary, both pages present.
        put(buf + PAGE_SIZE as u64, &[0u8; 1])?;
        let across = buf + PAGE_SIZE as u64 - 16;
        f.push(&entry(&rig, across, 9));
        // PROT_NONE and unmapped: failures, nothing written.
        let none = map(1, prot::NONE)?;
        f.push(&entry(&rig, none, 1));
        f.push(&entry(&rig, 0x1000, 1));
        // No context for this WQ.
        let mut other = entry(&rig, buf, 1);
        other.header.info = other.header.info.with_wq_idx(0);
        f.push(&other);
        f.flush();
        assert_eq!(cr_at(buf + 32).bytes_completed, 7);
        assert_eq!(cr_at(buf + 32).status, status::SUCCESS);
        assert_eq!(cr_at(across).bytes_completed, 9);
        assert_eq!(
            rig.counters(),
            CrCounters {
                cr_faults: 2,
                cr_fault_failures: 2
            }
        );
        assert_eq!(f.stats().no_ctx, 1);
        assert_eq!(cr_at(buf).status, 0);
        // The two records that could not be written are software errors of the process.
        assert_eq!(rig.ctx.errors(), 2);
        Ok(())
    }

    /// The event-log error byte is a completion status: bit 7 says the faulting access was a
    /// write (`DSA_COMP_STATUS_WRITE`) and is not part of the code (idxd masks it with
    /// `DSA_COMP_STATUS()`). A CR fault reported with it set is still a CR fault.
    #[test]
    fn write_bit_in_the_error_byte() -> Result {
        let rig = Rig::new(124)?;
        let f = rig.s.inst().dsa().faults();
        let buf = map_rw(1)?;
        put(buf, &[0u8; 64])?;
        let mut e = entry(&rig, buf, 5);
        e.header.info = e.header.info.with_error(status::CRA_XLAT | status::WRITE);
        f.push(&e);
        f.flush();
        assert_eq!(cr_at(buf).status, status::SUCCESS);
        assert_eq!(cr_at(buf).bytes_completed, 5);
        assert_eq!(rig.counters().cr_faults, 1);
        assert_eq!(rig.ctx.errors(), 0);
        Ok(())
    }

    /// A drain descriptor's CR reported after CR faults (`DRAIN_EVL`) is written only when the
    /// drain asked for one (`rcr`), as idxd does.
    #[test]
    fn drain_record_only_when_requested() -> Result {
        let rig = Rig::new(125)?;
        let f = rig.s.inst().dsa().faults();
        let buf = map_rw(1)?;
        put(buf, &[0u8; 64])?;
        let mut e = entry(&rig, buf, 0);
        e.header.info = e.header.info.with_error(status::DRAIN_EVL);
        f.push(&e);
        f.flush();
        assert_eq!(cr_at(buf).status, 0);
        assert_eq!(rig.counters(), CrCounters::default());
        e.header.desc = e.header.desc.with_rcr(true);
        f.push(&e);
        f.flush();
        assert_eq!(cr_at(buf).status, status::SUCCESS);
        assert_eq!(rig.counters().cr_faults, 1);
        Ok(())
    }

    #[test]
    fn process_gone() -> Result {
        let rig = Rig::new(123)?;
        let f = rig.s.inst().dsa().faults();
        // A process that exited with its file still open: its mm has no users left.
        let mm = kernel::kunit::user::exited_mm()?;
        let gone = f.add_ctx(0x7f0, 1, &mm)?;
        let mut e = entry(&rig, 0x10000, 1);
        e.header.info = e.header.info.with_const_pasid::<0x7f0>();
        f.push(&e);
        f.flush();
        assert_eq!(
            gone.counters(),
            CrCounters {
                cr_faults: 0,
                cr_fault_failures: 1
            }
        );
        assert_eq!(gone.errors(), 1);
        // The live process is not affected.
        assert_eq!(rig.counters(), CrCounters::default());
        assert_eq!(rig.ctx.errors(), 0);
        f.remove_ctx(&gone);
        Ok(())
    }

    /// Submits `n` no-op descriptors to the rig's WQ, descriptor `i` with its CR at
    /// `crs + i * PAGE_SIZE` (pages never touched: every CR faults), and waits for the device
    /// and the fault path.
    fn noop_burst(rig: &Rig, crs: u64, n: usize) -> Result {
        let m = rig.s.model();
        for i in 0..n {
            let d = desc(opcode::NOOP, 0, 0, 0, crs + (i * PAGE_SIZE) as u64);
            let mut spins = 0;
            while m
                .enqcmd(1, &d, rig.pasid, false, Portal::Unlimited)
                .is_err()
            {
                fsleep(Delta::from_micros(100));
                spins += 1;
                if spins > 50_000 {
                    return Err(ETIMEDOUT);
                }
            }
        }
        rig.settle();
        Ok(())
    }

    /// A burst of CR faults through the default 64-entry event log with the fault path
    /// bounded to 8 pending entries: every CR is written, exactly once, none is lost; the
    /// fault path never holds more than its bound (it leaves the log undrained instead, and the
    /// device waits for room); a run of entries shares one address-space adoption.
    #[test]
    fn burst_through_a_64_entry_event_log() -> Result {
        const N: usize = 4096;
        let rig = Rig::new(126)?;
        let dsa = rig.s.inst().dsa();
        assert_eq!(dsa.evl_size(), Some(64));
        let f = dsa.faults();
        f.set_max_pending(8)?;
        let crs = map_rw(N)?;
        noop_burst(&rig, crs, N)?;
        for i in 0..N {
            let c = cr_at(crs + (i * PAGE_SIZE) as u64);
            if c.status != status::SUCCESS {
                pr_err!("CR {} of the burst: status {:#x}\n", i, c.status);
            }
            assert_eq!(c.status, status::SUCCESS);
        }
        let st = f.stats();
        pr_info!(
            "burst of {}: handled {}, back-pressure {}, peak pending {}, mm uses {}, device waits for room {}\n",
            N,
            st.handled,
            st.backpressure,
            st.peak_pending,
            st.mm_uses,
            rig.s.model().stats().evl_full_waits
        );
        assert_eq!(
            rig.counters(),
            CrCounters {
                cr_faults: N as u64,
                cr_fault_failures: 0
            }
        );
        // Each entry drained once, handled once.
        assert_eq!(dsa.stats().evl_cr, N as u64);
        assert_eq!(st.handled, N as u64);
        assert_eq!((st.lost, st.no_ctx, st.skipped), (0, 0, 0));
        assert!(st.peak_pending <= 8);
        // The drain outruns the fix-ups (it reads the ring; they fault pages in).
        assert!(st.backpressure > 0);
        assert!(st.mm_uses < st.handled);
        Ok(())
    }

    /// Contexts are found by PASID and WQ among many: 2000 other contexts open on the WQ
    /// change nothing for the rig's, and all of them leave without a trace.
    #[test]
    fn many_contexts() -> Result {
        let rig = Rig::new(127)?;
        let f = rig.s.inst().dsa().faults();
        let task = kernel::current!();
        let mm = task.mm().ok_or(EINVAL)?;
        let base = f.ctx_count();
        let mut others = KVec::new();
        for i in 0..2000u32 {
            others.push(f.add_ctx(0x10000 + i, 1, mm)?, GFP_KERNEL)?;
        }
        assert_eq!(f.ctx_count(), base + 2000);
        let buf = map_rw(1)?;
        put(buf, &[0u8; 64])?;
        f.push(&entry(&rig, buf, 3));
        let mut e = entry(&rig, buf + 32, 4);
        e.header.info = e.header.info.with_const_pasid::<0x10000>();
        f.push(&e);
        f.flush();
        assert_eq!(cr_at(buf).bytes_completed, 3);
        assert_eq!(cr_at(buf + 32).bytes_completed, 4);
        assert_eq!(rig.counters().cr_faults, 1);
        assert_eq!(others[0].counters().cr_faults, 1);
        assert_eq!(others[1].counters(), CrCounters::default());
        assert_eq!(
            f.wq_counters(1),
            (
                CrCounters {
                    cr_faults: 2,
                    cr_fault_failures: 0
                },
                base + 2000
            )
        );
        for c in others.iter() {
            f.remove_ctx(c);
        }
        assert_eq!(f.ctx_count(), base);
        // Gone: an entry for one of them has no context now.
        let no_ctx = f.stats().no_ctx;
        f.push(&e);
        f.flush();
        assert_eq!(f.stats().no_ctx, no_ctx + 1);
        Ok(())
    }

    /// Two contexts of one process on one WQ (it opened the WQ twice): entries go to the
    /// oldest one still open.
    #[test]
    fn oldest_open_context_takes_the_entries() -> Result {
        let rig = Rig::new(128)?;
        let f = rig.s.inst().dsa().faults();
        let task = kernel::current!();
        let mm = task.mm().ok_or(EINVAL)?;
        let second = f.add_ctx(rig.pasid, 1, mm)?;
        let buf = map_rw(1)?;
        put(buf, &[0u8; 64])?;
        f.push(&entry(&rig, buf, 1));
        f.flush();
        assert_eq!(rig.counters().cr_faults, 1);
        assert_eq!(second.counters().cr_faults, 0);
        f.close_ctx(&rig.ctx);
        f.push(&entry(&rig, buf + 32, 2));
        f.flush();
        assert_eq!(rig.counters().cr_faults, 1);
        assert_eq!(second.counters().cr_faults, 1);
        assert_eq!(cr_at(buf + 32).bytes_completed, 2);
        f.remove_ctx(&second);
        Ok(())
    }

    /// A context removed while the drain holds an entry it collected for it: the fault path
    /// keeps no reference to it once `remove_ctx` returns (the drain remembers the context of
    /// its last run, and with it the process's `mm`), and the entry is skipped, never written.
    #[test]
    fn removed_context_leaves_no_reference() -> Result {
        let rig = Rig::new(130)?;
        let f = rig.s.inst().dsa().faults();
        let task = kernel::current!();
        let mm = task.mm().ok_or(EINVAL)?;
        let gone = f.add_ctx(0x20000, 1, mm)?;
        let buf = map_rw(1)?;
        put(buf, &[0u8; 64])?;
        let mut e = entry(&rig, buf, 7);
        e.header.info = e.header.info.with_const_pasid::<0x20000>();
        // Handled by the context's work (a KUnit thread has an address space of its own, so
        // the drain's inline path hands it on).
        assert!(f.try_push(&e).is_ok());
        f.flush();
        assert_eq!(gone.counters().cr_faults, 1);
        assert_eq!(cr_at(buf).bytes_completed, 7);
        // Collected, not handled yet, when the context goes.
        e.header.fault_addr = buf + 32;
        assert!(f.try_push(&e).is_ok());
        let skipped = f.stats().skipped;
        f.remove_ctx(&gone);
        let last = Arc::into_unique_or_drop(gone);
        // None: the fault path still holds the removed context.
        assert!(last.is_some());
        f.end_drain();
        f.flush();
        assert_eq!(cr_at(buf + 32).status, 0);
        assert_eq!(f.stats().skipped, skipped + 1);
        Ok(())
    }

    #[test]
    fn batch_cases() -> Result {
        let rig = Rig::new(122)?;
        let buf = map_rw(4)?; // page 0: list; page 1: data and CRs; pages 2, 3: untouched
        let none = map(1, prot::NONE)?;
        let data = buf + PAGE_SIZE as u64;
        put(data, &[0x11; 256])?;
        let bcr = data + 2048;
        let sub_cr = data + 2080;
        let untouched = buf + 2 * PAGE_SIZE as u64;
        let batch = |cr: u64| desc(opcode::BATCH, buf, 0, 2, cr);
        let set_list = |a: &Descriptor, b: &Descriptor| -> Result {
            put(buf, a.as_bytes())?;
            put(buf + 64, b.as_bytes())
        };
        let noop = desc(opcode::NOOP, 0, 0, 0, sub_cr + 32);

        // 1a.0: a sub-descriptor's CR faults and is fixed; the batch CR follows it.
        set_list(
            &desc(opcode::MEMMOVE, data, data + 512, 64, untouched),
            &noop,
        )?;
        rig.run(&batch(bcr))?;
        assert_eq!(cr_at(untouched).status, status::SUCCESS);
        assert_eq!(cr_at(bcr).status, status::SUCCESS);
        assert_eq!(cr_at(bcr).bytes_completed, 2);
        assert_eq!(
            rig.counters(),
            CrCounters {
                cr_faults: 2,
                cr_fault_failures: 0
            }
        );

        // 1a.1: the sub-descriptor's CR cannot be written: the batch CR says batch-fail, 1.
        put(bcr, &[0u8; 32])?;
        set_list(&desc(opcode::MEMMOVE, data, data + 512, 64, none), &noop)?;
        rig.run(&batch(bcr))?;
        assert_eq!(cr_at(bcr).status, status::BATCH_FAIL);
        assert_eq!(cr_at(bcr).result, 1);
        assert_eq!(
            rig.counters(),
            CrCounters {
                cr_faults: 3,
                cr_fault_failures: 1
            }
        );

        // 4a.0: the batch descriptor's own CR faults and is fixed.
        set_list(&desc(opcode::NOOP, 0, 0, 0, sub_cr), &noop)?;
        let bcr2 = untouched + PAGE_SIZE as u64;
        rig.run(&batch(bcr2))?;
        assert_eq!(cr_at(bcr2).status, status::SUCCESS);
        assert_eq!(rig.counters().cr_faults, 4);

        // 4a.1: the batch descriptor's own CR cannot be written.
        rig.run(&batch(none + 64))?;
        assert_eq!(rig.counters().cr_fault_failures, 2);

        // 4b: the batch's own CR faults and a sub-descriptor failed: the fixed CR says so.
        set_list(&desc(0x0a, 0, 0, 0, sub_cr), &noop)?;
        rig.run(&batch(bcr2 + 32))?;
        assert_eq!(cr_at(bcr2 + 32).status, status::BATCH_FAIL);
        assert_eq!(cr_at(sub_cr).status, status::BAD_OPCODE);
        Ok(())
    }

    /// A WQ's op_config reaches its OPCFG (WQCFG dwords 8-15) at enable, and the model runs
    /// only the operations it allows: the others (a batch too) complete with "unsupported
    /// operation code", as on the project's QEMU device, where idxd's op_config does the
    /// same.
    #[test]
    fn op_config_reaches_opcfg_and_left_out_operations_fail() -> Result {
        let rig = Rig::new(129)?;
        let dsa = rig.s.inst().dsa();
        let buf = map_rw(2)?; // page 0: batch list; page 1: data and CRs
        let data = buf + PAGE_SIZE as u64;
        let cr = data + 2048;
        put(data, &[0x11; 256])?;
        let memmove = 1u64 << opcode::MEMMOVE;
        // Not while the WQ is enabled; nothing OPCAP lacks.
        assert_eq!(
            dsa.with_config(|c| c.set_wq_op_config(1, [memmove, 0, 0, 0])),
            Err(EPERM)
        );
        dsa.disable_wq(1)?;
        let opcap = dsa.caps().opcap;
        assert_eq!(
            dsa.with_config(|c| c.set_wq_op_config(1, [!opcap[0], 0, 0, 0])),
            Err(EINVAL)
        );
        assert!(dsa.with_config(|c| c.wqs[1].op_config) == opcap);
        dsa.with_config(|c| c.set_wq_op_config(1, [memmove, 0, 0, 0]))?;
        dsa.enable_wq(1)?;
        let io = dsa.io();
        let opcfg: [u32; 8] =
            core::array::from_fn(|i| io.read32(dsa.caps().wqcfg_offset(1, 8 + i)));
        assert_eq!(opcfg, [memmove as u32, 0, 0, 0, 0, 0, 0, 0]);
        rig.run(&desc(opcode::MEMMOVE, data, data + 512, 64, cr))?;
        assert_eq!(cr_at(cr).status, status::SUCCESS);
        rig.run(&desc(opcode::MEMFILL, 0, data + 512, 64, cr + 32))?;
        assert_eq!(cr_at(cr + 32).status, status::BAD_OPCODE);
        put(
            buf,
            desc(opcode::MEMMOVE, data, data + 1024, 64, cr + 64).as_bytes(),
        )?;
        put(
            buf + 64,
            desc(opcode::MEMMOVE, data, data + 1024, 64, cr + 96).as_bytes(),
        )?;
        rig.run(&desc(opcode::BATCH, buf, 0, 2, cr + 128))?;
        assert_eq!(cr_at(cr + 128).status, status::BAD_OPCODE);
        assert_eq!(cr_at(cr + 64).status, 0);
        Ok(())
    }
}
