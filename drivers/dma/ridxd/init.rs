// SPDX-License-Identifier: GPL-2.0

//! What loading the module sets up and unloading tears down: the PCI driver, the model devices
//! of `sim_dsa1`/`sim_dsa2`, the debugfs root, and the device numbering.

use kernel::{
    debugfs, driver, pci,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        lock::static_mutex::StaticMutex,
    },
};

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

/// The loaded module. Fields drop in order on unload: the PCI driver is unregistered first.
#[pin_data]
pub(crate) struct RidxdModule {
    #[pin]
    _pci: driver::Registration<pci::Adapter<crate::pci_drv::RidxdPciDriver>>,
    #[cfg(CONFIG_INTEL_IDXD_RUST_SIM)]
    _sims: KVec<crate::sim_drv::SimInstance>,
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
        let dsa1 = crate::module_parameters::sim_dsa1.value();
        let dsa2 = crate::module_parameters::sim_dsa2.value();
        #[cfg(CONFIG_INTEL_IDXD_RUST_SIM)]
        let sims = crate::sim_drv::create(
            dsa1,
            dsa2,
            crate::module_parameters::auto_config.value(),
            &root,
        );
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
