// SPDX-License-Identifier: GPL-2.0

//! The PCI driver: device IDs, and the [`DeviceIo`] seam for a PCI device (BAR0 MMIO).
//!
//! Device IDs are those of `include/linux/pci_ids.h` (`PCI_DEVICE_ID_INTEL_DSA_*`).

use crate::{device::DsaDevice, hwif::DeviceIo};
use kernel::{device::Core, io::Io, pci, prelude::*};

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

/// BAR0 of a PCI DSA device, mapped whole.
pub(crate) struct PciIo<'bound> {
    bar: pci::Bar<'bound>,
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
    _dsa: DsaDevice<PciIo<'bound>>,
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
        let dsa = DsaDevice::probe(pdev.as_ref(), PciIo { bar })?;
        Ok(RidxdPciData { _dsa: dsa })
    }
}
