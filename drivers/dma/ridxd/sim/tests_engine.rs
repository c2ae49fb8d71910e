// SPDX-License-Identifier: GPL-2.0

//! KUnit: the model's descriptor engine on real user memory.
//!
//! Each test gets an address space of its own (`kernel::kunit::user`), binds it to a PASID of
//! a model device, and submits descriptors whose buffers and CRs sit in present pages,
//! never-touched pages, discarded (`MADV_DONTNEED`) pages or `PROT_NONE` pages.

use super::tests::counting_sink;
use super::*;
use crate::hw::{flags, EvlHeader};
use crate::regs::{cmd, cmdsts, grpcfg, intcause, off, wqcfg};
use crate::tests::util::{cr_at, desc, get, map_rw, present, put};
use kernel::{
    kunit::user::{madvise_dontneed, prot, vm_mmap_anon},
    page::PAGE_SIZE,
    time::{delay::fsleep, Delta},
    transmute::{AsBytes, FromBytes},
    uaccess::UserPtr,
};

/// WQ 0: dedicated; WQ 1: shared. Both in group 0 with engine 0.
const DWQ: usize = 0;
const SWQ: usize = 1;

/// A model device set up for descriptors, with a test address space bound to a PASID.
struct Rig {
    h: SimHandle,
    pasid: u32,
    /// The event log, when enabled.
    evl: Option<Arc<DmaRegion>>,
    evl_size: u32,
}

impl Rig {
    /// `prs_disable` for both WQs; `evl_size` entries of event log (0: none).
    fn new(gen: Generation, prs_disable: bool, evl_size: u32, wq_size: u32) -> Result<Self> {
        // Give the test an address space first, then bind it.
        let _ = vm_mmap_anon(PAGE_SIZE, prot::READ | prot::WRITE)?;
        let h = SimHandle::new(gen)?;
        let pasid = {
            let task = kernel::current!();
            let mm = task.mm().ok_or(EINVAL)?;
            h.dev().bind_mm(mm)?
        };
        let d = h.dev().clone();
        let p = d.personality();
        let wq_off = |w: usize, i: usize| p.wqcfg_offset() + w * p.wqcfg_stride() + i * 4;
        d.write64(p.grpcfg_offset() + grpcfg::WQS, 1 << DWQ | 1 << SWQ);
        d.write64(p.grpcfg_offset() + grpcfg::ENGINES, 1);
        // PRS disabled (bit 3), or on with block-on-fault allowed (WQCFG.bof, bit 1).
        let prs = if prs_disable { 1 << 3 } else { 1 << 1 };
        for w in [DWQ, SWQ] {
            d.write32(wq_off(w, wqcfg::SIZE_IDX), wq_size);
        }
        // The limited portal may fill half of the shared WQ.
        d.write32(wq_off(SWQ, wqcfg::THRESH_IDX), wq_size / 2);
        d.write32(wq_off(DWQ, wqcfg::MODE_IDX), 1 | prs | pasid << 8 | 1 << 28);
        d.write32(wq_off(SWQ, wqcfg::MODE_IDX), prs | 1 << 28);
        let mut evl = None;
        if evl_size != 0 {
            let region = DmaRegion::new(evl_size as usize * DsaEvlEntry::SIZE)?;
            let bus = d.dma_map(region.clone())?;
            d.write64(off::EVLCFG, bus);
            d.write64(off::EVLCFG + 8, u64::from(evl_size));
            d.write32(off::GENCFG, 1 << 13);
            d.write32(off::GENCTRL, 0x7);
            evl = Some(region);
        } else {
            d.write32(off::GENCTRL, 0x3);
        }
        for (c, operand) in [
            (cmd::ENABLE_DEVICE, 0),
            (cmd::ENABLE_WQ, DWQ),
            (cmd::ENABLE_WQ, SWQ),
        ] {
            d.write32(off::CMD, c << 20 | operand as u32);
            d.wait_idle();
            if d.read32(off::CMDSTS) & 0xff != cmdsts::SUCCESS {
                return Err(EIO);
            }
        }
        Ok(Self {
            h,
            pasid,
            evl,
            evl_size,
        })
    }

    fn dev(&self) -> &Arc<SimDevice> {
        self.h.dev()
    }

    /// Submits to the dedicated WQ and waits for the engine.
    fn run(&self, d: &Descriptor) {
        self.dev().movdir64b(DWQ, d);
        self.dev().wait_idle();
    }

    /// Event-log entry `i`.
    fn entry(&self, i: u32) -> DsaEvlEntry {
        let mut raw = [0u8; DsaEvlEntry::SIZE];
        if let Some(r) = &self.evl {
            let _ = r.read(i as usize * DsaEvlEntry::SIZE, &mut raw);
        }
        DsaEvlEntry::from_bytes_copy(&raw).unwrap_or_default()
    }

    /// (head, tail, int_pending) of EVLSTATUS.
    fn evl_status(&self) -> (u32, u32, bool) {
        let v = self.dev().read64(off::EVLSTATUS);
        (
            (v & 0xffff) as u32,
            (v >> 32 & 0xffff) as u32,
            v >> 62 & 1 != 0,
        )
    }
}

/// A recognisable pattern.
fn pattern(len: usize, seed: u8) -> Result<KVec<u8>> {
    let mut v = KVec::with_capacity(len, GFP_KERNEL)?;
    for i in 0..len {
        v.push((i as u8).wrapping_mul(7).wrapping_add(seed), GFP_KERNEL)?;
    }
    Ok(v)
}

#[kunit_tests(ridxd_sim_engine)]
mod tests {
    use super::*;

    #[test]
    fn memmove_fill_compare() -> Result {
        let rig = Rig::new(Generation::Dsa1, false, 0, 16)?;
        let buf = map_rw(4)?;
        let (src, dst, cr) = (buf, buf + PAGE_SIZE as u64, buf + 3 * PAGE_SIZE as u64);
        let data = pattern(3000, 1)?;
        put(src, &data)?;
        put(dst, &[0u8; 3000])?;

        rig.run(&desc(opcode::MEMMOVE, src, dst, 3000, cr));
        let c = cr_at(cr);
        assert_eq!(c.status, status::SUCCESS);
        assert_eq!(c.bytes_completed, 3000);
        let mut out = pattern(3000, 0)?;
        get(dst, &mut out)?;
        assert!(out == data);

        // Compare: equal, then one byte different at 1234.
        put(cr, &[0u8; 32])?;
        rig.run(&desc(opcode::COMPARE, src, dst, 3000, cr));
        assert_eq!(cr_at(cr).status, status::SUCCESS);
        assert_eq!(cr_at(cr).result, 0);
        put(dst + 1234, &[data[1234] ^ 0xff])?;
        rig.run(&desc(opcode::COMPARE, src, dst, 3000, cr));
        assert_eq!(cr_at(cr).result, 1);
        assert_eq!(cr_at(cr).bytes_completed, 1234);

        // Fill with an 8-byte pattern, then compare against the pattern.
        let pat = 0x0102_0304_0506_0708u64;
        rig.run(&desc(opcode::MEMFILL, pat, dst, 1000, cr));
        assert_eq!(cr_at(cr).status, status::SUCCESS);
        let mut out = [0u8; 1000];
        get(dst, &mut out)?;
        assert!(out
            .iter()
            .enumerate()
            .all(|(i, b)| *b == pat.to_le_bytes()[i % 8]));
        rig.run(&desc(opcode::COMPVAL, dst, pat, 1000, cr));
        assert_eq!(cr_at(cr).status, status::SUCCESS);
        assert_eq!(cr_at(cr).result, 0);
        rig.run(&desc(opcode::COMPVAL, src, pat, 1000, cr));
        assert_eq!(cr_at(cr).result, 1);

        // No-op with RCR writes a success CR.
        put(cr, &[0u8; 32])?;
        rig.run(&desc(opcode::NOOP, 0, 0, 0, cr));
        assert_eq!(cr_at(cr).status, status::SUCCESS);
        assert_eq!(rig.dev().stats().completed, 7);
        Ok(())
    }

    #[test]
    fn descriptor_checks() -> Result {
        let rig = Rig::new(Generation::Dsa2, false, 0, 16)?;
        let buf = map_rw(2)?;
        let cr = buf + PAGE_SIZE as u64;
        // Translation fetch (0x0a) is not in the model's OPCAP.
        rig.run(&desc(0x0a, buf, buf, 8, cr));
        assert_eq!(cr_at(cr).status, status::BAD_OPCODE);
        let mut d = desc(opcode::MEMMOVE, buf, buf + 64, 8, cr);
        d.xfer_size = (1 << personality::MAX_XFER_SHIFT) + 1;
        rig.run(&d);
        assert_eq!(cr_at(cr).status, status::XFER_ERANGE);
        let mut d = desc(opcode::MEMMOVE, buf, buf + 64, 8, cr);
        d.set_flags(flags::CRAV | flags::RCR | 0x40_0000);
        rig.run(&d);
        assert_eq!(cr_at(cr).status, status::INVALID_FLAGS);
        assert_eq!(cr_at(cr).op_specific[2], 0x40);
        let mut d = desc(opcode::MEMMOVE, buf, buf + 64, 8, cr);
        d.set_priv(true);
        rig.run(&d);
        assert_eq!(cr_at(cr).status, status::PRIV_BAD);
        // Overlapping buffers.
        rig.run(&desc(opcode::MEMMOVE, buf, buf + 4, 64, cr));
        assert_eq!(cr_at(cr).status, status::OVERLAP_BUFFERS);
        // A shared-WQ submission with another PASID has no address space: SWERR.
        rig.dev().enqcmd(
            SWQ,
            &desc(opcode::NOOP, 0, 0, 0, cr),
            rig.pasid + 100,
            false,
            Portal::Unlimited,
        )?;
        rig.dev().wait_idle();
        let sw = rig.dev().read64(off::SWERR);
        assert_eq!(sw & 1, 1);
        assert_eq!(sw >> 8 & 0xff, u64::from(status::TRANSLATION_FAIL));
        assert_eq!(sw >> 16 & 0xff, SWQ as u64);
        // A dedicated WQ ignores the descriptor's PASID field; a shared WQ refuses when
        // disabled.
        let mut d = desc(opcode::NOOP, 0, 0, 0, cr);
        d.set_pasid(rig.pasid + 7);
        put(cr, &[0u8; 32])?;
        rig.run(&d);
        assert_eq!(cr_at(cr).status, status::SUCCESS);
        rig.dev()
            .write32(off::CMD, cmd::DISABLE_WQ << 20 | 1 << SWQ);
        rig.dev().wait_idle();
        assert!(
            rig.dev()
                .enqcmd(SWQ, &d, rig.pasid, false, Portal::Unlimited)
                == Err(EAGAIN)
        );
        Ok(())
    }

    #[test]
    fn prs_enabled_faults_in() -> Result {
        let rig = Rig::new(Generation::Dsa2, false, 64, 16)?;
        let buf = map_rw(4)?;
        let src = buf;
        put(src, &pattern(PAGE_SIZE, 3)?)?;
        // Destination and CR in pages never touched.
        let dst = buf + PAGE_SIZE as u64;
        let cr = buf + 3 * PAGE_SIZE as u64;
        assert!(!present(dst) && !present(cr));
        // Without BOF the destination's fault ends the memmove (PAGE_FAULT_NOBOF); the CR page
        // is requested anyway.
        rig.run(&desc(opcode::MEMMOVE, src, dst, PAGE_SIZE as u32, cr));
        assert_eq!(cr_at(cr).status, status::PAGE_FAULT_NOBOF | status::WRITE);
        assert_eq!(cr_at(cr).fault_addr, dst);
        assert!(!present(dst));
        assert_eq!(rig.dev().stats().page_requests, 1);
        // With BOF (the WQ allows it) the destination page is requested too.
        let mut d = desc(opcode::MEMMOVE, src, dst, PAGE_SIZE as u32, cr);
        d.set_flags(d.flags() | flags::BOF);
        rig.run(&d);
        assert_eq!(cr_at(cr).status, status::SUCCESS);
        assert!(rig.dev().stats().page_requests >= 2);
        let mut a = pattern(PAGE_SIZE, 0)?;
        get(dst, &mut a)?;
        assert!(a == pattern(PAGE_SIZE, 3)?);
        // No event-log entry: with PRS on, the fault was resolved.
        assert_eq!(rig.evl_status().1, 0);
        Ok(())
    }

    #[test]
    fn prs_disabled_data_fault_is_partial() -> Result {
        let rig = Rig::new(Generation::Dsa2, true, 64, 16)?;
        let buf = map_rw(4)?;
        let src = buf;
        put(src, &pattern(2 * PAGE_SIZE, 5)?)?;
        // Destination: first page present, second never touched.
        let dst = buf + 2 * PAGE_SIZE as u64;
        put(dst, &[0u8; 1])?;
        let cr = buf + 64;
        rig.run(&desc(opcode::MEMMOVE, src, dst, 2 * PAGE_SIZE as u32, cr));
        let c = cr_at(cr);
        assert_eq!(c.status, status::PAGE_FAULT_NOBOF | status::WRITE);
        assert_eq!(c.bytes_completed, PAGE_SIZE as u32);
        assert_eq!(c.fault_addr, dst + PAGE_SIZE as u64);
        // The faulting page was not written (still not present).
        assert!(!present(dst + PAGE_SIZE as u64));
        assert_eq!(rig.dev().stats().page_requests, 0);
        // Source fault on a discarded page (the CR now sits in the present destination page).
        madvise_dontneed(UserPtr::from_addr(src as usize), PAGE_SIZE)?;
        let cr = dst + 1024;
        rig.run(&desc(opcode::MEMMOVE, src, dst, 64, cr));
        let c = cr_at(cr);
        assert_eq!(c.status, status::PAGE_FAULT_NOBOF);
        assert_eq!(c.bytes_completed, 0);
        assert_eq!(c.fault_addr, src);
        Ok(())
    }

    #[test]
    fn cr_fault_goes_to_the_event_log() -> Result {
        let rig = Rig::new(Generation::Dsa2, true, 64, 16)?;
        let sink = counting_sink()?;
        rig.dev().set_irq_sink(Some(sink.clone()));
        let buf = map_rw(3)?;
        let (src, dst) = (buf, buf + 256);
        put(buf, &pattern(512, 9)?)?;
        let cr = buf + 2 * PAGE_SIZE as u64 + 96; // never touched
        let mut d = desc(opcode::MEMMOVE, src, dst, 200, cr);
        d.set_flags(d.flags() | flags::RCI);
        d.int_handle = 1;
        rig.run(&d);
        // The descriptor completed: data moved, CR page untouched.
        let mut out = [0u8; 200];
        get(dst, &mut out)?;
        assert!(out[..] == pattern(512, 9)?[..200]);
        assert!(!present(cr));
        // One entry, int_pending, INTCAUSE.EVL, a misc interrupt and the completion interrupt.
        assert_eq!(rig.evl_status(), (0, 1, true));
        assert_eq!(
            rig.dev().read32(off::INTCAUSE) & intcause::EVL,
            intcause::EVL
        );
        assert_eq!(sink.fired.lock()[0], 1);
        assert_eq!(sink.fired.lock()[1], 1);
        let e = rig.entry(0);
        let h: &EvlHeader = &e.header;
        assert!(h.info.desc_valid());
        assert!(h.info.wq_idx_valid());
        assert!(!h.info.batch());
        assert!(h.info.fault_rw());
        assert_eq!(h.info.error(), status::CRA_XLAT);
        assert_eq!(h.info.wq_idx(), DWQ as u8);
        assert_eq!(h.info.operation(), opcode::MEMMOVE);
        assert_eq!(h.pasid(), rig.pasid);
        assert!(h.desc.rcr());
        assert!(h.desc.rci());
        assert_eq!(h.desc.int_handle(), 1);
        assert_eq!(h.fault_addr, cr);
        assert_eq!(e.cr.status, status::SUCCESS);
        assert_eq!(e.cr.bytes_completed, 200);
        // int_pending clears through the upper dword; software frees the entry via head.
        rig.dev().write32(
            crate::regs::EVLSTATUS_HI,
            crate::regs::EVLSTATUS_INT_PENDING_HI,
        );
        rig.dev().write32(off::EVLSTATUS, 1);
        assert_eq!(rig.evl_status(), (1, 1, false));
        // A drain on the same WQ now reports its CR as DRAIN_EVL.
        let dcr = buf + 448;
        rig.run(&desc(opcode::DRAIN, 0, 0, 0, dcr));
        assert_eq!(rig.evl_status().1, 2);
        assert_eq!(rig.entry(1).header.info.error(), status::DRAIN_EVL);
        assert_eq!(rig.entry(1).header.fault_addr, dcr);
        // A second drain has nothing to follow: its CR is written.
        rig.run(&desc(opcode::DRAIN, 0, 0, 0, dcr));
        assert_eq!(cr_at(dcr).status, status::SUCCESS);
        assert_eq!(rig.evl_status().1, 2);
        rig.dev().set_irq_sink(None);
        Ok(())
    }

    #[test]
    fn evl_wraps_and_blocks_when_full() -> Result {
        const SIZE: u32 = 64;
        const TOTAL: u32 = 150;
        let rig = Rig::new(Generation::Dsa2, true, SIZE, 32)?;
        // CRs in never-touched pages: one entry per descriptor.
        let crs = map_rw(1)?;
        madvise_dontneed(UserPtr::from_addr(crs as usize), PAGE_SIZE)?;
        let submit = |n: u32| {
            let cr = crs + u64::from(n % 128) * 32;
            rig.dev().enqcmd(
                SWQ,
                &desc(opcode::NOOP, 0, 0, 0, cr),
                rig.pasid,
                false,
                Portal::Unlimited,
            )
        };
        // Phase 1: free nothing. The engine must stop with SIZE - 1 entries written (a full
        // ring keeps one slot empty) and wait, not drop.
        let mut submitted = 0u32;
        let mut spins = 0;
        while rig.dev().stats().evl_full_waits == 0 {
            if submitted < TOTAL && submit(submitted).is_ok() {
                submitted += 1;
            } else {
                fsleep(Delta::from_millis(1));
                spins += 1;
                assert!(spins < 10_000);
            }
        }
        fsleep(Delta::from_millis(20));
        assert_eq!(rig.evl_status().0, 0);
        assert_eq!(rig.evl_status().1, SIZE - 1);
        assert_eq!(rig.dev().stats().evl_entries, u64::from(SIZE - 1));
        // Phase 2: consume in order, free, and keep submitting, until every fault was seen.
        let mut seen = 0u32;
        let mut head = 0u32;
        let mut spins = 0;
        while seen < TOTAL {
            while submitted < TOTAL && submit(submitted).is_ok() {
                submitted += 1;
            }
            let (_, tail, _) = rig.evl_status();
            if tail == head {
                fsleep(Delta::from_millis(1));
                spins += 1;
                assert!(spins < 10_000);
                continue;
            }
            while head != tail {
                let e = rig.entry(head);
                assert_eq!(e.header.info.error(), status::CRA_XLAT);
                assert_eq!(e.header.fault_addr, crs + u64::from(seen % 128) * 32);
                seen += 1;
                head = (head + 1) % SIZE;
            }
            rig.dev().write32(off::EVLSTATUS, head);
        }
        rig.dev().wait_idle();
        assert_eq!(seen, TOTAL);
        assert_eq!(rig.dev().stats().evl_entries, u64::from(TOTAL));
        // The log wrapped (TOTAL > SIZE) and nothing was dropped.
        assert!(TOTAL > SIZE && head == TOTAL % SIZE);
        assert_eq!(rig.dev().stats().discarded, 0);
        assert_eq!(rig.dev().stats().swerrs, 0);
        assert_eq!(rig.evl_size, SIZE);
        Ok(())
    }

    #[test]
    fn stalled_engine_holds_up_wqs_and_abort_discards() -> Result {
        const SIZE: u32 = 64;
        const WQ_SIZE: u32 = 8;
        let rig = Rig::new(Generation::Dsa2, true, SIZE, WQ_SIZE)?;
        let crs = map_rw(1)?; // never touched: every CR faults
        let ok_cr = map_rw(1)?;
        put(ok_cr, &[0u8; 32])?;
        // Stall the engine on a full event log.
        let mut n = 0u32;
        let mut spins = 0;
        while rig.dev().stats().evl_full_waits == 0 {
            let d = desc(opcode::NOOP, 0, 0, 0, crs + u64::from(n % 128) * 32);
            if rig
                .dev()
                .enqcmd(SWQ, &d, rig.pasid, false, Portal::Unlimited)
                .is_ok()
            {
                n += 1;
            } else {
                fsleep(Delta::from_millis(1));
                spins += 1;
                assert!(spins < 10_000);
            }
        }
        // The shared WQ's limited portal takes descriptors while it holds fewer than its
        // threshold, then says "retry"; the unlimited portal goes on up to its size, then says
        // "retry"; occupancy shows it. (Descriptors submitted while the engine was stalling
        // may be queued already.)
        let p = rig.dev().personality();
        let state = p.wqcfg_offset() + SWQ * p.wqcfg_stride() + wqcfg::STATE_IDX * 4;
        let occupancy = || rig.dev().read32(state) & 0xffff;
        let before = occupancy();
        for (portal, upto) in [
            (Portal::Limited, before.max(WQ_SIZE / 2)),
            (Portal::Unlimited, WQ_SIZE),
        ] {
            let d = desc(opcode::NOOP, 0, 0, 0, crs);
            let mut queued = 0;
            while rig.dev().enqcmd(SWQ, &d, rig.pasid, false, portal).is_ok() {
                queued += 1;
                assert!(queued <= WQ_SIZE);
            }
            assert_eq!(occupancy(), upto);
        }
        // A descriptor on the dedicated WQ waits behind the stalled engine.
        rig.dev()
            .movdir64b(DWQ, &desc(opcode::NOOP, 0, 0, 0, ok_cr));
        fsleep(Delta::from_millis(20));
        assert_eq!(cr_at(ok_cr).status, 0);
        // Abort the shared WQ: its queued descriptors are discarded, the WQ stays enabled.
        rig.dev().write32(off::CMD, cmd::ABORT_WQ << 20 | 1 << SWQ);
        rig.dev().wait_idle();
        assert_eq!(rig.dev().read32(off::CMDSTS) & 0xff, cmdsts::SUCCESS);
        assert!(rig.dev().stats().discarded >= u64::from(WQ_SIZE));
        assert_eq!(rig.dev().read32(state) & 0xffff, 0);
        assert_eq!(rig.dev().read32(state) >> 30, 1);
        // The dedicated WQ's descriptor ran once the engine moved on.
        assert_eq!(cr_at(ok_cr).status, status::SUCCESS);
        // Nothing beyond the full ring was written.
        assert_eq!(rig.evl_status().1, SIZE - 1);
        Ok(())
    }

    #[test]
    fn batches() -> Result {
        let rig = Rig::new(Generation::Dsa2, true, 64, 16)?;
        let buf = map_rw(4)?;
        let list = buf; // descriptor list, page 0
        let data = buf + PAGE_SIZE as u64; // page 1: src at 0, dst at 1024, CRs at 3072..
        put(data, &pattern(512, 4)?)?;
        let bcr = data + 3072;
        let cr0 = data + 3104;
        let untouched = buf + 3 * PAGE_SIZE as u64;
        let batch = |n: u32, cr: u64| desc(opcode::BATCH, list, 0, n, cr);

        // All good: batch CR success, descs_completed 2.
        let subs = [
            desc(opcode::MEMMOVE, data, data + 1024, 100, cr0),
            desc(opcode::NOOP, 0, 0, 0, cr0 + 32),
        ];
        put(list, subs[0].as_bytes())?;
        put(list + 64, subs[1].as_bytes())?;
        rig.run(&batch(2, bcr));
        assert_eq!(cr_at(bcr).status, status::SUCCESS);
        assert_eq!(cr_at(bcr).bytes_completed, 2);
        assert_eq!(cr_at(cr0).status, status::SUCCESS);

        // A failing sub-descriptor: batch fail.
        put(list + 64, desc(0x0a, 0, 0, 0, cr0 + 32).as_bytes())?;
        rig.run(&batch(2, bcr));
        assert_eq!(cr_at(bcr).status, status::BATCH_FAIL);
        assert_eq!(cr_at(cr0 + 32).status, status::BAD_OPCODE);

        // Count out of range.
        rig.run(&batch(1, bcr));
        assert_eq!(cr_at(bcr).status, status::DESC_CNT_ERANGE);

        // 1a.0: sub-descriptor 0's CR faults: a CRA_XLAT entry (batch, first error), and the
        // batch's own CR goes to the log as BATCH_EVL_ERR with the same batch id.
        put(
            list,
            desc(opcode::MEMMOVE, data, data + 1024, 100, untouched).as_bytes(),
        )?;
        put(list + 64, desc(opcode::NOOP, 0, 0, 0, cr0 + 32).as_bytes())?;
        rig.run(&batch(2, bcr));
        assert_eq!(rig.evl_status().1, 2);
        let e0 = rig.entry(0);
        let e1 = rig.entry(1);
        assert_eq!(e0.header.info.error(), status::CRA_XLAT);
        assert!(e0.header.info.batch());
        assert_eq!(e0.header.batch_idx, 0);
        assert!(e0.header.desc.first_err_in_batch());
        assert_eq!(e0.header.fault_addr, untouched);
        assert_eq!(e1.header.info.error(), status::BATCH_EVL_ERR);
        assert_eq!(e1.header.info.batch_id(), e0.header.info.batch_id());
        assert_eq!(e1.header.fault_addr, bcr);
        assert!(e1.header.desc.rcr());
        assert_eq!(e1.cr.status, status::SUCCESS);
        assert_eq!(e1.cr.bytes_completed, 2);
        assert!(!present(untouched));

        // 4a.0: the batch descriptor's own CR faults, sub-descriptors are fine.
        put(list, desc(opcode::NOOP, 0, 0, 0, cr0).as_bytes())?;
        rig.run(&batch(2, untouched + 64));
        assert_eq!(rig.evl_status().1, 3);
        let e2 = rig.entry(2);
        assert_eq!(e2.header.info.error(), status::BATCH_EVL_ERR);
        assert_eq!(e2.header.fault_addr, untouched + 64);
        assert!(!e2.header.info.batch());

        // 6a: the descriptor list is not present: BATCH_PAGE_FAULT in the batch CR.
        let gone = buf + 2 * PAGE_SIZE as u64;
        assert!(!present(gone));
        rig.run(&desc(opcode::BATCH, gone, 0, 2, bcr));
        let c = cr_at(bcr);
        assert_eq!(c.status, status::BATCH_PAGE_FAULT);
        assert_eq!(c.fault_addr, gone);
        assert_eq!(c.bytes_completed, 0);
        Ok(())
    }

    #[test]
    fn swerr_without_event_log() -> Result {
        // DSA 1.0, PRS always on: a CR on a PROT_NONE page cannot be written even by faulting;
        // the error goes to SWERR.
        let rig = Rig::new(Generation::Dsa1, false, 0, 16)?;
        let sink = counting_sink()?;
        rig.dev().set_irq_sink(Some(sink.clone()));
        let none = vm_mmap_anon(PAGE_SIZE, prot::NONE)?.as_const_ptr() as u64;
        rig.run(&desc(opcode::NOOP, 0, 0, 0, none));
        let sw = rig.dev().read64(off::SWERR);
        assert_eq!(sw & 0x3, 1);
        assert_eq!(sw >> 8 & 0xff, u64::from(status::CRA_XLAT));
        assert_eq!(rig.dev().read64(off::SWERR + 16), none);
        assert_eq!(sink.fired.lock()[0], 1);
        // A failed descriptor without CRAV: overflow, first error kept.
        let mut d = desc(0x0a, 0, 0, 0, 0);
        d.set_flags(0);
        rig.run(&d);
        assert_eq!(rig.dev().read64(off::SWERR) & 0x3, 3);
        assert_eq!(
            rig.dev().read64(off::SWERR) >> 8 & 0xff,
            u64::from(status::CRA_XLAT)
        );
        rig.dev().set_irq_sink(None);
        Ok(())
    }

    #[test]
    fn abort_and_pasid_bookkeeping() -> Result {
        let rig = Rig::new(Generation::Dsa2, true, 64, 16)?;
        assert_eq!(rig.dev().pasids_bound(), 1);
        // Same mm, same PASID; each bind needs an unbind.
        let again = {
            let task = kernel::current!();
            rig.dev().bind_mm(task.mm().ok_or(EINVAL)?)?
        };
        assert_eq!(again, rig.pasid);
        rig.dev().unbind_pasid(again)?;
        assert_eq!(rig.dev().pasids_bound(), 1);
        rig.dev().unbind_pasid(rig.pasid)?;
        assert_eq!(rig.dev().pasids_bound(), 0);
        assert!(rig.dev().unbind_pasid(rig.pasid) == Err(EINVAL));
        // Lowest free first, as the IOMMU core allocates: the PASID just given up comes back.
        let reused = {
            let task = kernel::current!();
            rig.dev().bind_mm(task.mm().ok_or(EINVAL)?)?
        };
        assert_eq!(reused, rig.pasid);
        assert_eq!(reused, 1);
        rig.dev().unbind_pasid(reused)?;
        // Unbound PASID: the dedicated WQ's descriptors fail with a translation error.
        let buf = map_rw(1)?;
        rig.run(&desc(opcode::NOOP, 0, 0, 0, buf));
        assert_eq!(
            rig.dev().read64(off::SWERR) >> 8 & 0xff,
            u64::from(status::TRANSLATION_FAIL)
        );
        assert_eq!(cr_at(buf).status, 0);
        // DMA mappings.
        let r = DmaRegion::new(64)?;
        let bus = rig.dev().dma_map(r)?;
        assert_eq!(bus % PAGE_SIZE as u64, 0);
        rig.dev().dma_unmap(bus)?;
        assert!(rig.dev().dma_unmap(bus) == Err(EINVAL));
        Ok(())
    }

    /// A halt in the middle of a batch (fault injection): the sub-descriptors run before it
    /// report, the rest and the batch's own CR never do, and nothing queued behind it runs.
    #[test]
    fn halt_in_the_middle_of_a_batch() -> Result {
        let rig = Rig::new(Generation::Dsa2, false, 0, 16)?;
        let buf = map_rw(2)?;
        let list = buf; // four no-ops, page 0
        let crs = buf + PAGE_SIZE as u64; // theirs at 0..128, the batch's at 256, then 512
        put(crs, &[0u8; 1024])?;
        for i in 0..4u64 {
            put(
                list + i * 64,
                desc(opcode::NOOP, 0, 0, 0, crs + i * 32).as_bytes(),
            )?;
        }
        rig.dev().inject_halt_in_batch(2, regs::ResetType::Software);
        rig.dev()
            .movdir64b(DWQ, &desc(opcode::BATCH, list, 0, 4, crs + 256));
        rig.dev()
            .movdir64b(DWQ, &desc(opcode::NOOP, 0, 0, 0, crs + 512));
        rig.dev().wait_idle();
        let st = regs::GenSts::from_raw(rig.dev().read32(off::GENSTS));
        assert!(st.state() == regs::DeviceState::Halt);
        for i in 0..2 {
            assert_eq!(cr_at(crs + i * 32).status, status::SUCCESS);
        }
        for at in [64, 96, 256, 512] {
            assert_eq!(cr_at(crs + at).status, 0);
        }
        assert_eq!(rig.dev().stats().completed, 2);
        Ok(())
    }

    /// With bus mastering off the device makes no memory request: a descriptor submitted, or
    /// queued behind one, is not run (no data moved, no CR, no event-log entry) and no
    /// interrupt message is sent; the registers still answer (a command completes).
    #[test]
    fn no_memory_access_without_bus_mastering() -> Result {
        let rig = Rig::new(Generation::Dsa2, true, 64, 16)?;
        let sink = counting_sink()?;
        rig.dev().set_irq_sink(Some(sink.clone()));
        let buf = map_rw(3)?;
        let (src, dst) = (buf, buf + 256);
        put(buf, &pattern(512, 3)?)?;
        put(dst, &[0u8; 200])?;
        let cr = buf + PAGE_SIZE as u64;
        put(cr, &[0u8; 32])?;
        let absent_cr = buf + 2 * PAGE_SIZE as u64; // never touched: an event-log entry
        assert!(rig.dev().bus_master());
        rig.dev().stop_bus_mastering();
        assert!(!rig.dev().bus_master());
        let mut d = desc(opcode::MEMMOVE, src, dst, 200, cr);
        d.set_flags(d.flags() | flags::RCI);
        d.int_handle = 1;
        rig.run(&d);
        rig.run(&desc(opcode::MEMMOVE, src, dst, 200, absent_cr));
        let mut out = [0u8; 200];
        get(dst, &mut out)?;
        assert!(out.iter().all(|&b| b == 0));
        assert_eq!(cr_at(cr).status, 0);
        assert!(!present(absent_cr));
        assert_eq!(rig.evl_status(), (0, 0, false));
        assert_eq!(rig.dev().stats().completed, 0);
        // Abort WQ with an interrupt asked for: it completes, its interrupt is not sent.
        rig.dev()
            .write32(off::CMD, 1 << 31 | cmd::ABORT_WQ << 20 | 1 << DWQ);
        rig.dev().wait_idle();
        assert_eq!(rig.dev().read32(off::CMDSTS) & 0xff, cmdsts::SUCCESS);
        assert!(sink.fired.lock().iter().all(|&n| n == 0));
        Ok(())
    }
}
