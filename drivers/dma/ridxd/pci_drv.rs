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
    io::{io_read, Io},
    mm::Mm,
    page::PAGE_SIZE,
    pci,
    prelude::*,
    sync::Arc,
};

/// Which DSA part an ID belongs to (for messages).
#[derive(Clone, Copy)]
pub(crate) struct Part(&'static str);

kernel::pci_device_table!(
    PCI_TABLE,
    <RidxdPciDriver as pci::Driver>::IdInfo,
    [
        // PCI_DEVICE_ID_INTEL_DSA_SPR0: Sapphire Rapids, DSA 1.0.
        (
            pci::DeviceId::from_id(pci::Vendor::INTEL, 0x0b25),
            Part("SPR")
        ),
        // PCI_DEVICE_ID_INTEL_DSA_GNRD: Granite Rapids-D.
        (
            pci::DeviceId::from_id(pci::Vendor::INTEL, 0x11fb),
            Part("GNR-D")
        ),
        // PCI_DEVICE_ID_INTEL_DSA_DMR: Diamond Rapids.
        (
            pci::DeviceId::from_id(pci::Vendor::INTEL, 0x1212),
            Part("DMR")
        ),
    ]
);

/// BAR0 of a PCI DSA device, mapped whole, and the device for DMA allocations.
pub(crate) struct PciIo<'bound> {
    dev: &'bound Device<Bound>,
    bar: pci::Bar<'bound>,
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

    fn sva_bind(&self, _mm: &Mm) -> Result<KBox<dyn SvaBond>> {
        // The iommu_sva_bind_device() bond abstraction is not done yet.
        Err(EOPNOTSUPP)
    }

    fn submit(&self, _wq: usize, _shared: bool, _desc: &Descriptor) -> Result {
        // Portal mapping (BAR2) and MOVDIR64B/ENQCMDS are not done yet.
        Err(EOPNOTSUPP)
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
            info.map_or("unknown", |p| p.0),
            pdev.device_id()
        );
        pdev.enable_device_mem()?;
        pdev.set_master();
        let bar = pdev.iomap_region(0, c"ridxd")?;
        let dev: &Device<Bound> = pdev.as_ref();
        let dsa = DsaDevice::probe(dev, PciIo { dev, bar })?;
        Ok(RidxdPciData { _dsa: dsa })
    }
}
