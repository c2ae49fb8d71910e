// SPDX-License-Identifier: GPL-2.0

//! The PCI driver: device IDs and probe of real DSA hardware.
//!
//! Device IDs are those of `include/linux/pci_ids.h` (`PCI_DEVICE_ID_INTEL_DSA_*`).

use kernel::{
    device::Core,
    io::{register, Io},
    pci,
    prelude::*,
};

/// Bytes of BAR0 (the MMIO register file) that probe maps and checks for: the general
/// registers end below 0x100 (`registers.h`: EVLSTATUS at 0xf0); capability and table
/// registers follow within the first page.
const BAR0_MIN: usize = 0x1000;

register! {
    /// VERSION, BAR0 offset 0x00 (`registers.h` `IDXD_VER_OFFSET`): 0x100 = DSA 1.0,
    /// 0x200 = DSA 2.0.
    VERSION(u32) @ 0x00 {
        /// Major version (`IDXD_VER_MAJOR_MASK` 0xf0).
        7:4 major;
        /// Minor version (`IDXD_VER_MINOR_MASK` 0x0f).
        3:0 minor;
    }
}

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

/// The PCI driver of ridxd.
pub(crate) struct RidxdPciDriver;

/// Per-device state of a bound PCI DSA device.
pub(crate) struct RidxdPciData<'bound> {
    _bar: pci::Bar<'bound, BAR0_MIN>,
}

impl pci::Driver for RidxdPciDriver {
    type IdInfo = Part;
    type Data<'bound> = RidxdPciData<'bound>;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        let part = info.map_or("?", |p| p.0);
        pdev.enable_device_mem()?;
        pdev.set_master();
        let bar = pdev.iomap_region_sized::<BAR0_MIN>(0, c"ridxd")?;
        let ver = bar.read(VERSION);
        dev_info!(
            pdev,
            "DSA {}.{} ({}, device {:#06x})\n",
            u32::from(ver.major()),
            u32::from(ver.minor()),
            part,
            pdev.device_id()
        );
        Ok(RidxdPciData { _bar: bar })
    }
}
