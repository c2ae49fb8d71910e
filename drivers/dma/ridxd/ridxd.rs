// SPDX-License-Identifier: GPL-2.0

//! ridxd: Intel Data Streaming Accelerator (DSA) driver.
//!
//! This file is the crate's table of contents and its module registration; the driver lives in
//! the modules below. See `Documentation/driver-api/ridxd.rst`.

use kernel::{
    debugfs, driver, pci,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        lock::static_mutex::StaticMutex,
    },
};

// Some of the device interface is used only by the model or by tests until the driver core
// (configuration, event log, user WQs) lands.
mod admin;
#[allow(dead_code)]
mod cdev;
#[allow(dead_code)]
mod config;
#[allow(dead_code)]
mod device;
#[allow(dead_code)]
mod evl;
#[allow(dead_code)]
mod fault;
#[allow(dead_code)]
mod hw;
mod hwif;
mod pci_drv;
#[allow(dead_code)]
mod regs;
#[cfg(CONFIG_INTEL_IDXD_RUST_SIM)]
#[allow(dead_code)]
mod sim;
#[cfg(CONFIG_INTEL_IDXD_RUST_SIM)]
mod sim_drv;
#[cfg(all(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST, CONFIG_INTEL_IDXD_RUST_SIM))]
mod test_util;

/// The number of the next DSA device (`dsa<N>`, `/dev/dsa/wq<N>.<W>`), PCI or model, in probe
/// order; numbers are not reused while the module is loaded.
static NEXT_DEVICE: Atomic<u32> = Atomic::new(0);

/// Takes the number of a new DSA device.
pub(crate) fn next_device_index() -> usize {
    NEXT_DEVICE.fetch_add(1, Relaxed) as usize
}

/// The module's debugfs directory, `/sys/kernel/debug/ridxd`, for devices probed after
/// module init (PCI devices); set while the module is loaded ([`RootSlot`]).
static DEBUGFS_ROOT: StaticMutex<Option<debugfs::Dir>> =
    StaticMutex::new(c"ridxd::DEBUGFS_ROOT", None);

/// The module's debugfs directory, if the module is loaded.
pub(crate) fn debugfs_root() -> Option<debugfs::Dir> {
    DEBUGFS_ROOT.lock().clone()
}

/// Publishes the debugfs directory in [`DEBUGFS_ROOT`] while it lives.
struct RootSlot;

impl RootSlot {
    fn new(root: &debugfs::Dir) -> Self {
        *DEBUGFS_ROOT.lock() = Some(root.clone());
        Self
    }
}

impl Drop for RootSlot {
    fn drop(&mut self) {
        drop(DEBUGFS_ROOT.lock().take());
    }
}

module! {
    type: RidxdModule,
    name: "ridxd",
    authors: ["The ridxd developers"],
    description: "Intel Data Streaming Accelerator (DSA) driver, Rust",
    license: "GPL v2",
    params: {
        sim_dsa1: u32 {
            default: 0,
            description: "Number of DSA 1.0 model devices to create (CONFIG_INTEL_IDXD_RUST_SIM)",
        },
        sim_dsa2: u32 {
            default: 0,
            description: "Number of DSA 2.0 model devices to create (CONFIG_INTEL_IDXD_RUST_SIM)",
        },
        auto_config: bool {
            default: true,
            description: "Give devices (PCI and model) the default configuration and enable them at probe",
        },
    },
}

/// The loaded module. Fields drop in order on unload: the PCI driver is unregistered first.
#[pin_data]
struct RidxdModule {
    #[pin]
    _pci: driver::Registration<pci::Adapter<pci_drv::RidxdPciDriver>>,
    #[cfg(CONFIG_INTEL_IDXD_RUST_SIM)]
    _sims: KVec<sim_drv::SimInstance>,
    /// `/sys/kernel/debug/ridxd`; after the devices, whose directories are inside it.
    _debugfs: debugfs::Dir,
    _farewell: Farewell,
    /// Set first, cleared last (also when init fails).
    _root: RootSlot,
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
        let root = debugfs::Dir::new(c"ridxd");
        let dsa1 = module_parameters::sim_dsa1.value();
        let dsa2 = module_parameters::sim_dsa2.value();
        #[cfg(CONFIG_INTEL_IDXD_RUST_SIM)]
        let sims = sim_drv::create(dsa1, dsa2, module_parameters::auto_config.value(), &root);
        #[cfg(not(CONFIG_INTEL_IDXD_RUST_SIM))]
        if dsa1 + dsa2 != 0 {
            pr_warn!("sim_dsa1/sim_dsa2 ignored: built without CONFIG_INTEL_IDXD_RUST_SIM\n");
        }
        try_pin_init!(Self {
            _root: RootSlot::new(&root),
            _pci <- driver::Registration::new(<Self as kernel::ModuleMetadata>::NAME, module),
            #[cfg(CONFIG_INTEL_IDXD_RUST_SIM)]
            _sims: sims?,
            _debugfs: root,
            _farewell: Farewell,
        })
    }
}
