// SPDX-License-Identifier: GPL-2.0

//! The PCI driver: device IDs, and the [`DeviceIo`] seam for a PCI device (BAR0 MMIO).
//!
//! Device IDs are those of `include/linux/pci_ids.h` (`PCI_DEVICE_ID_INTEL_DSA_*`).

use crate::{
    device::DsaDevice,
    hw::Descriptor,
    hwif::{DeviceBus, DeviceIo, DmaBuf, IrqHandler, SvaBond},
};
use kernel::{
    device::{Bound, Core, Device},
    dma::Coherent,
    io::{io_read, portal, Io},
    iommu::sva,
    mm::MmWithUser,
    page::PAGE_SIZE,
    pci,
    prelude::*,
    sync::Arc,
    transmute::AsBytes,
};

/// Which DSA part an ID belongs to, and what the driver knows of it.
#[derive(Clone, Copy)]
pub(crate) struct Part {
    name: &'static str,
    /// Direct user submission is safe (idxd's `user_submission_safe`): no DSA part is today
    /// (INTEL-SA-01084).
    user_submission_safe: bool,
}

kernel::pci_device_table!(
    PCI_TABLE,
    <RidxdPciDriver as pci::Driver>::IdInfo,
    [
        // PCI_DEVICE_ID_INTEL_DSA_SPR0: Sapphire Rapids, DSA 1.0.
        (
            pci::DeviceId::from_id(pci::Vendor::INTEL, 0x0b25),
            Part {
                name: "SPR",
                user_submission_safe: false
            }
        ),
        // PCI_DEVICE_ID_INTEL_DSA_GNRD: Granite Rapids-D.
        (
            pci::DeviceId::from_id(pci::Vendor::INTEL, 0x11fb),
            Part {
                name: "GNR-D",
                user_submission_safe: false
            }
        ),
        // PCI_DEVICE_ID_INTEL_DSA_DMR: Diamond Rapids.
        (
            pci::DeviceId::from_id(pci::Vendor::INTEL, 0x1212),
            Part {
                name: "DMR",
                user_submission_safe: false
            }
        ),
    ]
);

/// Byte offset of WQ `wq`'s portal page `prot` in BAR2: four pages per WQ, the unlimited
/// portal first, the limited one next (idxd's `idxd_get_wq_portal_full_offset()`).
const fn portal_offset(wq: usize, limited: bool) -> usize {
    (wq * 4 + limited as usize) * PAGE_SIZE
}

/// A PCI DSA device: BAR0 (registers) and BAR2 (WQ portals) mapped whole, and the device for
/// DMA allocations and SVA.
pub(crate) struct PciIo<'bound> {
    pdev: &'bound pci::Device<Bound>,
    dev: &'bound Device<Bound>,
    bar: pci::Bar<'bound>,
    portals: pci::Bar<'bound>,
    user_submission_safe: bool,
}

/// An address space bound to a PCI device with `iommu_sva_bind_device()`.
struct PciBond(sva::Bond);

impl SvaBond for PciBond {
    fn pasid(&self) -> u32 {
        self.0.pasid()
    }
}

/// Coherent DMA memory of a PCI device.
struct PciDma {
    mem: Coherent<[u64]>,
}

impl DmaBuf for PciDma {
    fn bus_addr(&self) -> u64 {
        self.mem.dma_address()
    }

    fn len(&self) -> usize {
        self.mem.size()
    }

    fn read(&self, off: usize, out: &mut [u8]) -> Result {
        if off % 8 != 0 || out.len() % 8 != 0 {
            return Err(EINVAL);
        }
        for (i, chunk) in out.chunks_exact_mut(8).enumerate() {
            let idx = off / 8 + i;
            let v: u64 = io_read!(&self.mem, [try: idx]);
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        Ok(())
    }
}

impl DeviceBus for PciIo<'_> {
    fn alloc_dma(&self, len: usize) -> Result<KBox<dyn DmaBuf>> {
        let len = len.next_multiple_of(PAGE_SIZE);
        let mem = Coherent::<u64>::zeroed_slice(self.dev, len / 8, GFP_KERNEL)?;
        Ok(KBox::new(PciDma { mem }, GFP_KERNEL)?)
    }

    fn connect_irq(&self, _handler: Option<Arc<dyn IrqHandler>>) -> Result {
        // MSI-X wiring for PCI devices is not done yet: the driver runs PCI devices without
        // interrupts (commands are polled; the event log is not set up).
        Err(EOPNOTSUPP)
    }

    fn sva_bind(&self, mm: &MmWithUser) -> Result<KBox<dyn SvaBond>> {
        let bond = sva::Bond::bind(self.dev, mm)?;
        Ok(KBox::new(PciBond(bond), GFP_KERNEL)?)
    }

    fn user_submission_safe(&self) -> bool {
        self.user_submission_safe
    }

    fn portal_page(&self, wq: usize) -> Result<u64> {
        Ok(self.pdev.resource_start(2)? + portal_offset(wq, true) as u64)
    }

    fn submit(&self, wq: usize, shared: bool, desc: &Descriptor) -> Result {
        let cmd = portal::Command(desc.as_bytes().try_into().map_err(|_| EINVAL)?);
        // Kernel submissions go to the WQ's unlimited portal.
        let off = portal_offset(wq, false);
        if !shared {
            return portal::movdir64b(&self.portals, off, &cmd);
        }
        // ENQCMDS: retried a few times on "retry", as idxd does (`enqcmds_retries`, 32).
        for _ in 0..=32 {
            if portal::enqcmds(&self.portals, off, &cmd)? {
                return Ok(());
            }
            core::hint::spin_loop();
        }
        Err(EAGAIN)
    }
}

impl DeviceIo for PciIo<'_> {
    fn read32(&self, off: usize) -> u32 {
        // Outside the BAR: what a PCI read of nothing returns.
        self.bar.try_read32(off).unwrap_or(!0)
    }

    fn read64(&self, off: usize) -> u64 {
        self.bar.try_read64(off).unwrap_or(!0)
    }

    fn write32(&self, off: usize, val: u32) {
        let _ = self.bar.try_write32(val, off);
    }

    fn write64(&self, off: usize, val: u64) {
        let _ = self.bar.try_write64(val, off);
    }
}

/// The PCI driver of ridxd.
pub(crate) struct RidxdPciDriver;

/// Per-device state of a bound PCI DSA device.
pub(crate) struct RidxdPciData<'bound> {
    _dsa: Arc<DsaDevice<PciIo<'bound>>>,
}

impl pci::Driver for RidxdPciDriver {
    type IdInfo = Part;
    type Data<'bound> = RidxdPciData<'bound>;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        dev_info!(
            pdev,
            "{} DSA (device {:#06x})\n",
            info.map_or("unknown", |p| p.name),
            pdev.device_id()
        );
        pdev.enable_device_mem()?;
        pdev.set_master();
        let bar = pdev.iomap_region(0, c"ridxd")?;
        let portals = pdev.iomap_region(2, c"ridxd-portals")?;
        let dev: &Device<Bound> = pdev.as_ref();
        let io = PciIo {
            pdev,
            dev,
            bar,
            portals,
            user_submission_safe: info.is_some_and(|p| p.user_submission_safe),
        };
        let dsa = DsaDevice::probe(dev, io)?;
        Ok(RidxdPciData { _dsa: dsa })
    }
}
