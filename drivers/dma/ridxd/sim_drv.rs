// SPDX-License-Identifier: GPL-2.0

//! Model devices as the driver sees them: each one a faux device, probed like a PCI device
//! through the [`DeviceIo`] seam.
//!
//! The module parameters `sim_dsa1` and `sim_dsa2` say how many DSA 1.0 and DSA 2.0 model
//! devices to create at load (faux devices `ridxd_sim0`, `ridxd_sim1`, ...).

use crate::{
    admin::{self, AdminDir},
    cdev::UserWqs,
    device::DsaDevice,
    hw::Descriptor,
    hwif::{DeviceBus, DeviceIo, DmaBuf, IrqHandler, SvaBond},
    sim::{mem::DmaRegion, Generation, IrqSink, SimDevice, SimHandle},
};
use kernel::{
    debugfs::Dir,
    device::{Bound, Device},
    faux,
    mm::{virt::VmaNew, MmWithUser},
    page::PAGE_SIZE,
    prelude::*,
    str::CString,
    sync::Arc,
};

/// The [`DeviceIo`] seam for a model device.
pub(crate) struct SimIo(Arc<SimDevice>);

impl DeviceIo for SimIo {
    fn read32(&self, off: usize) -> u32 {
        self.0.read32(off)
    }

    fn read64(&self, off: usize) -> u64 {
        self.0.read64(off)
    }

    fn write32(&self, off: usize, val: u32) {
        self.0.write32(off, val)
    }

    fn write64(&self, off: usize, val: u64) {
        self.0.write64(off, val)
    }
}

/// A driver buffer mapped for a model device; unmapped when dropped.
struct SimDma {
    region: Arc<DmaRegion>,
    bus: u64,
    dev: Arc<SimDevice>,
}

impl DmaBuf for SimDma {
    fn bus_addr(&self) -> u64 {
        self.bus
    }

    fn len(&self) -> usize {
        self.region.len()
    }

    fn read(&self, off: usize, out: &mut [u8]) -> Result {
        self.region.read(off, out)
    }
}

impl Drop for SimDma {
    fn drop(&mut self) {
        let _ = self.dev.dma_unmap(self.bus);
    }
}

/// Delivers a model device's interrupts to the driver's handler.
struct SimIrq(Arc<dyn IrqHandler>);

impl IrqSink for SimIrq {
    fn fire(&self, vector: u16) {
        self.0.irq(vector);
    }
}

impl DeviceBus for SimIo {
    fn alloc_dma(&self, len: usize) -> Result<KBox<dyn DmaBuf>> {
        let region = DmaRegion::new(len.next_multiple_of(PAGE_SIZE))?;
        let bus = self.0.dma_map(region.clone())?;
        Ok(KBox::new(
            SimDma {
                region,
                bus,
                dev: self.0.clone(),
            },
            GFP_KERNEL,
        )?)
    }

    fn connect_irq(&self, handler: Option<Arc<dyn IrqHandler>>) -> Result {
        match handler {
            Some(h) => {
                let sink: Arc<dyn IrqSink> = Arc::new(SimIrq(h), GFP_KERNEL)?;
                self.0.set_irq_sink(Some(sink));
            }
            None => self.0.disconnect_irq(),
        }
        Ok(())
    }

    fn sva_bind(&self, mm: &MmWithUser) -> Result<KBox<dyn SvaBond>> {
        let pasid = self.0.bind_mm(mm)?;
        Ok(KBox::new(
            SimBond {
                dev: self.0.clone(),
                pasid,
            },
            GFP_KERNEL,
        )?)
    }

    fn user_submission_safe(&self) -> bool {
        // As for every DSA part (INTEL-SA-01084), 1.0 and 2.0.
        false
    }

    fn map_portal(&self, _wq: usize, _vma: &VmaNew) -> Result {
        // The model's portals are calls into the model, not a page of memory.
        Err(ENODEV)
    }

    fn submit(&self, wq: usize, shared: bool, desc: &Descriptor) -> Result {
        if shared {
            self.0.enqcmd(wq, desc, desc.pasid(), true)
        } else {
            self.0.movdir64b(wq, desc);
            Ok(())
        }
    }
}

/// An address space bound to a model device (its PASID table); unbound when dropped.
struct SimBond {
    dev: Arc<SimDevice>,
    pasid: u32,
}

impl SvaBond for SimBond {
    fn pasid(&self) -> u32 {
        self.pasid
    }
}

impl Drop for SimBond {
    fn drop(&mut self) {
        let _ = self.dev.unbind_pasid(self.pasid);
    }
}

/// One model device and the driver's state for it. Fields drop in order: the driver lets go
/// of the device first (see `Drop`), then the faux device goes, then the model.
pub(crate) struct SimInstance {
    _user: Arc<UserWqs<SimIo>>,
    _admin: Option<AdminDir<SimIo>>,
    _dsa: Arc<DsaDevice<SimIo>>,
    _faux: faux::Registration,
    _model: SimHandle,
}

impl Drop for SimInstance {
    fn drop(&mut self) {
        // No new opens; open files keep the module (and their device state) alive until closed.
        self._user.clear();
        // The admin files go next, so that nobody reconfigures the device while it stops.
        drop(self._admin.take());
        self._dsa.shutdown();
    }
}

/// The generic device of a faux device.
fn faux_device(reg: &faux::Registration) -> &Device {
    let fdev: &faux::Device<Bound> = reg.as_ref();
    let dev: &Device<Bound> = fdev.as_ref();
    dev
}

impl SimInstance {
    /// Creates model device number `index` of `generation`, probes it and connects its
    /// interrupts; with `auto`, gives it the default configuration and enables it and its WQs.
    /// (For tests: without an admin directory.)
    #[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
    pub(crate) fn new(index: usize, generation: Generation, auto: bool) -> Result<Self> {
        Self::with_admin(index, generation, auto, None)
    }

    /// Creates model device number `index` of `generation`, probes it and connects its
    /// interrupts, with an admin directory `dsa<index>` under `root` if given; with `auto`,
    /// gives it the default configuration and enables it and its WQs (with their character
    /// devices).
    pub(crate) fn with_admin(
        index: usize,
        generation: Generation,
        auto: bool,
        root: Option<&Dir>,
    ) -> Result<Self> {
        let model = SimHandle::new(generation)?;
        let name = CString::try_from_fmt(fmt!("ridxd_sim{index}"))?;
        let faux = faux::Registration::new(&name, None)?;
        let dsa = DsaDevice::probe(faux_device(&faux), SimIo(model.dev().clone()))?;
        let mut inst = Self {
            _user: UserWqs::new(&dsa, index)?,
            _admin: None,
            _dsa: dsa,
            _faux: faux,
            _model: model,
        };
        inst._dsa.connect_irq()?;
        if let Some(root) = root {
            inst._admin = Some(admin::create(root, index, &inst._dsa, &inst._user)?);
        }
        if auto {
            inst._user.enable_default()?;
        }
        Ok(inst)
    }
}

/// Creates `dsa1` DSA 1.0 and `dsa2` DSA 2.0 model devices, each with its admin directory
/// `dsa<N>` under `root`; with `auto`, configured and enabled.
pub(crate) fn create(dsa1: u32, dsa2: u32, auto: bool, root: &Dir) -> Result<KVec<SimInstance>> {
    let mut v = KVec::new();
    let gens = Iterator::chain(
        (0..dsa1).map(|_| Generation::Dsa1),
        (0..dsa2).map(|_| Generation::Dsa2),
    );
    for g in gens {
        let inst = SimInstance::with_admin(crate::next_device_index(), g, auto, Some(root))?;
        v.push(inst, GFP_KERNEL)?;
    }
    Ok(v)
}

#[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
#[kunit_tests(ridxd_sim_probe)]
mod tests {
    use super::*;
    use crate::{
        device,
        regs::{cmd, off, state},
    };

    #[test]
    fn probe_both_generations() -> Result {
        let a = SimInstance::new(100, Generation::Dsa1, false)?;
        let c = a._dsa.caps();
        assert_eq!(c.version, 0x100);
        assert_eq!(c.num_wqs(), 8);
        assert_eq!(c.num_engines(), 4);
        assert_eq!(c.num_groups(), 4);
        assert!(c.evl_entry_size().is_none());
        assert!(!c.wq_prs_disable());
        assert!(c.configurable());

        let b = SimInstance::new(101, Generation::Dsa2, false)?;
        let c = b._dsa.caps();
        assert_eq!(c.version, 0x200);
        assert_eq!(c.evl_entry_size(), Some(64));
        assert!(c.wq_prs_disable());
        Ok(())
    }

    #[test]
    fn commands_through_the_seam() -> Result {
        let s = SimInstance::new(102, Generation::Dsa2, false)?;
        let dev = faux_device(&s._faux);
        let io = s._dsa.io();
        assert_eq!(io.read32(off::GENSTS), state::DISABLED);
        // Nothing configured: the device refuses to enable, and the driver says so.
        assert!(device::command(dev, io, cmd::ENABLE_DEVICE, 0) == Err(EIO));
        // A command that succeeds.
        assert_eq!(device::command(dev, io, cmd::RESET_DEVICE, 0), Ok(0));
        assert_eq!(io.read32(off::GENSTS), state::DISABLED);
        Ok(())
    }
}

#[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
#[kunit_tests(ridxd_device)]
mod device_tests {
    use super::*;
    use crate::{
        hw::{opcode, Descriptor},
        regs::{self, cmd, off, state, wqcfg},
    };
    use kernel::{
        kunit::user::{prot, vm_mmap_anon},
        time::{delay::fsleep, Delta},
    };

    fn wq_state(s: &SimInstance, wq: usize) -> u32 {
        let p = s._model.dev().personality();
        s._model
            .dev()
            .read32(p.wqcfg_offset() + wq * p.wqcfg_stride() + wqcfg::STATE_IDX * 4)
            >> 30
    }

    #[test]
    fn default_config_enables() -> Result {
        for (gen, evl) in [(Generation::Dsa1, false), (Generation::Dsa2, true)] {
            let s = SimInstance::new(110, gen, true)?;
            let m = s._model.dev();
            assert_eq!(m.read32(off::GENSTS), state::ENABLED);
            // Enable Device and two Enable WQ commands, each completed by INTCAUSE.CMD.
            m.wait_idle();
            assert_eq!(s._dsa.stats().cmd_irqs, 3);
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
                let bus = s._dsa.evl_bus_addr().ok_or(EINVAL)?;
                assert_eq!(m.read64(off::EVLCFG), bus);
                assert_eq!(m.read64(off::EVLCFG + 8), 64);
                assert_eq!(m.read32(off::GENCFG), regs::GenCfg::EVL_EN_MASK);
                assert!(m.read32(off::GENCTRL) & regs::GenCtrl::EVL_INT_EN_MASK != 0);
                assert_eq!(m.dma_mapped(), 1);
            } else {
                assert_eq!(s._dsa.evl_size(), None);
                assert_eq!(m.read32(off::GENCFG), 0);
                assert_eq!(m.dma_mapped(), 0);
            }
        }
        Ok(())
    }

    #[test]
    fn refusals_change_nothing() -> Result {
        let s1 = SimInstance::new(111, Generation::Dsa1, true)?;
        let s2 = SimInstance::new(112, Generation::Dsa2, true)?;
        let d2 = &s2._dsa;
        // PRS disable: not on DSA 1.0; not on an enabled WQ.
        assert!(s1._dsa.with_config(|c| c.set_prs_disable(0, true)) == Err(EOPNOTSUPP));
        assert!(d2.with_config(|c| c.set_prs_disable(0, true)) == Err(EBUSY));
        assert!(!d2.with_config(|c| c.wqs[0].prs_disable));
        // Event-log size: not on DSA 1.0; not while enabled; 64..=65535 only.
        assert!(s1._dsa.with_config(|c| c.set_evl_size(128)) == Err(EOPNOTSUPP));
        assert!(d2.with_config(|c| c.set_evl_size(128)) == Err(EBUSY));
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
        assert!(d2.with_config(|c| c.set_max_transfer_size(0, 3000)) == Err(EINVAL));
        assert!(d2.with_config(|c| c.set_max_transfer_size(0, 4 << 20)) == Err(EINVAL));
        d2.with_config(|c| c.set_max_transfer_size(0, 4096))?;
        assert!(d2.with_config(|c| c.set_max_batch_size(0, 2048)) == Err(EINVAL));
        d2.with_config(|c| c.set_max_batch_size(0, 32))?;
        d2.with_config(|c| c.set_ats_disable(0, true))?;
        assert!(s1._dsa.with_config(|c| c.set_wq_priority(0, 1)) == Err(EBUSY));
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
        let m = s2._model.dev();
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

    #[test]
    fn halt_is_reported_and_recovered() -> Result {
        let s = SimInstance::new(115, Generation::Dsa2, true)?;
        let m = s._model.dev();
        assert_eq!(s._dsa.state_name(), "enabled");
        m.inject_halt(0);
        m.wait_idle();
        assert_eq!(s._dsa.stats().halts, 1);
        assert_eq!(s._dsa.state_name(), "halted");
        // Disable Device fails on a halted device; the Reset Device that follows recovers it.
        assert!(s._dsa.disable().is_err());
        assert_eq!(m.read32(off::GENSTS), state::DISABLED);
        assert_eq!(s._dsa.state_name(), "disabled");
        s._dsa.enable()?;
        s._dsa.enable_wq(0)?;
        assert_eq!(s._dsa.state_name(), "enabled");
        assert_eq!(wq_state(&s, 0), 1);
        Ok(())
    }

    #[test]
    fn enable_disable_cycles_leak_nothing() -> Result {
        let s = SimInstance::new(113, Generation::Dsa2, true)?;
        let m = s._model.dev().clone();
        for _ in 0..3 {
            assert_eq!(m.dma_mapped(), 1);
            s._dsa.disable()?;
            assert_eq!(m.dma_mapped(), 0);
            assert_eq!(m.read32(off::GENSTS), state::DISABLED);
            assert_eq!(m.read32(off::GENCFG), 0);
            assert_eq!(m.read64(off::EVLCFG), 0);
            s._dsa.enable()?;
        }
        // A device reset behind the driver's back clears GENCFG.evl_en; disable still frees
        // the ring (it does not decide by reading GENCFG).
        m.write32(off::CMD, cmd::RESET_DEVICE << 20);
        m.wait_idle();
        assert_eq!(m.read32(off::GENCFG), 0);
        assert!(s._dsa.disable().is_err());
        assert_eq!(m.dma_mapped(), 0);
        assert!(s._dsa.disable() == Err(EINVAL));
        Ok(())
    }

    #[test]
    fn evl_burst_larger_than_the_ring() -> Result {
        const FAULTS: u64 = 300;
        let s = SimInstance::new(114, Generation::Dsa2, true)?;
        let d = &s._dsa;
        let m = s._model.dev().clone();
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
            if m.enqcmd(1, &desc, pasid, false).is_ok() {
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
        assert_eq!(st.int_pending().get(), 0);
        m.unbind_pasid(pasid)?;
        Ok(())
    }
}

#[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
#[kunit_tests(ridxd_cr_fixup)]
mod fixup_tests {
    use super::*;
    use crate::test_util::{cr_at, desc, map, map_rw, put};
    use crate::{
        fault::{CrCounters, Ctx},
        hw::{opcode, status, Descriptor, DsaEvlEntry},
    };
    use kernel::{
        kunit::user::{madvise_dontneed, prot, vm_mmap_anon},
        time::{delay::fsleep, Delta},
        transmute::AsBytes,
        uaccess::UserPtr,
    };

    /// A DSA 2.0 model device whose shared WQ 1 has PRS off, and this test's address space
    /// bound and registered with the fault path as a process on WQ 1.
    struct Rig {
        s: SimInstance,
        pasid: u32,
        ctx: Arc<Ctx>,
    }

    impl Rig {
        fn new(index: usize) -> Result<Self> {
            let s = SimInstance::new(index, Generation::Dsa2, true)?;
            s._dsa.disable_wq(1)?;
            s._dsa.with_config(|c| c.set_prs_disable(1, true))?;
            s._dsa.enable_wq(1)?;
            vm_mmap_anon(PAGE_SIZE, prot::READ)?;
            let task = kernel::current!();
            let mm = task.mm().ok_or(EINVAL)?;
            let pasid = s._model.dev().bind_mm(mm)?;
            let ctx = s._dsa.faults().add_ctx(pasid, 1, mm)?;
            Ok(Self { s, pasid, ctx })
        }

        /// Submits to shared WQ 1 and waits for the device and the fault work.
        fn run(&self, d: &Descriptor) -> Result {
            let m = self.s._model.dev();
            let mut spins = 0;
            while m.enqcmd(1, d, self.pasid, false).is_err() {
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
            self.s._model.dev().wait_idle();
            self.s._dsa.faults().flush();
        }

        fn counters(&self) -> CrCounters {
            self.ctx.counters()
        }
    }

    impl Drop for Rig {
        fn drop(&mut self) {
            self.s._dsa.faults().remove_ctx(&self.ctx);
            let _ = self.s._model.dev().unbind_pasid(self.pasid);
        }
    }

    /// A crafted CR-fault entry for the rig's process.
    fn entry(rig: &Rig, addr: u64, bytes: u32) -> DsaEvlEntry {
        let mut e = DsaEvlEntry::default();
        e.header.set_error(status::CRA_XLAT);
        e.header.set_wq_idx(1);
        e.header.set_pasid(rig.pasid);
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
        assert_eq!(rig.s._dsa.stats().evl_cr, 2);
        Ok(())
    }

    #[test]
    fn crafted_entries() -> Result {
        let rig = Rig::new(121)?;
        let f = rig.s._dsa.faults();
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
        other.header.set_wq_idx(0);
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

    #[test]
    fn process_gone() -> Result {
        let rig = Rig::new(123)?;
        let f = rig.s._dsa.faults();
        // A process that exited with its file still open: its mm has no users left.
        let mm = kernel::kunit::user::exited_mm()?;
        let gone = f.add_ctx(0x7f0, 1, &mm)?;
        let mut e = entry(&rig, 0x10000, 1);
        e.header.set_pasid(0x7f0);
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
}
