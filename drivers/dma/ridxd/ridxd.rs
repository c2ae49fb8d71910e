// SPDX-License-Identifier: GPL-2.0

//! ridxd: Intel Data Streaming Accelerator (DSA) driver.
//!
//! This file is the crate's table of contents and its module registration; the driver lives in
//! the modules below. See `Documentation/driver-api/ridxd.rst`.

use kernel::{driver, pci, prelude::*};

// The formats are used by the device model and the driver core as they land.
#[allow(dead_code)]
mod hw;
mod pci_drv;
// The register facts are used by the device model and the driver core as they land.
#[allow(dead_code)]
mod regs;
#[cfg(CONFIG_INTEL_IDXD_RUST_SIM)]
#[allow(dead_code)]
mod sim;

module! {
    type: RidxdModule,
    name: "ridxd",
    authors: ["The ridxd developers"],
    description: "Intel Data Streaming Accelerator (DSA) driver, Rust",
    license: "GPL v2",
}

/// The loaded module. Fields drop in order on unload: the PCI driver is unregistered first.
#[pin_data]
struct RidxdModule {
    #[pin]
    _pci: driver::Registration<pci::Adapter<pci_drv::RidxdPciDriver>>,
    _farewell: Farewell,
}

/// Says goodbye once everything else of the module is gone.
struct Farewell;

impl Drop for Farewell {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}

impl kernel::InPlaceModule for RidxdModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        pr_info!("Intel DSA driver (Rust), loading\n");
        try_pin_init!(Self {
            _pci <- driver::Registration::new(<Self as kernel::ModuleMetadata>::NAME, module),
            _farewell: Farewell,
        })
    }
}
