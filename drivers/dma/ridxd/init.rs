// SPDX-License-Identifier: GPL-2.0

//! What loading the module sets up and unloading tears down: the `dsa` bus and its drivers, the
//! PCI driver, the model devices (those of `sim_dsa1`/`sim_dsa2`, and the files that add and
//! remove others), and the debugfs root.

use crate::{instance::RootSlot, sysfs::BusSlot};
use kernel::{debugfs, driver, pci, prelude::*};

/// The loaded module. Fields drop in order on unload: the PCI driver is unregistered first.
#[pin_data]
pub(crate) struct RidxdModule {
    #[pin]
    _pci: driver::Registration<
        pci::reset::ResetAdapter<pci::dma_mask::WithDmaMask<crate::pci_drv::RidxdPciDriver>>,
    >,
    /// The model devices, and the debugfs files that add and remove them.
    #[cfg(CONFIG_INTEL_IDXD_RUST_SIM)]
    _sims: Option<crate::sim_drv::SimDevices>,
    /// The fault path's benchmark, `bench` in the debugfs root (model builds only).
    #[cfg(CONFIG_INTEL_IDXD_RUST_SIM)]
    _bench: Option<crate::bench::BenchFile>,
    /// The `dsa` bus and its drivers; registered before the devices are probed, gone after.
    _bus: BusSlot,
    /// `/sys/kernel/debug/ridxd`; after the devices, whose directories are inside it.
    _debugfs: debugfs::Dir,
    _farewell: Farewell,
    /// The pool of open files' numbers, freed once no file can be open.
    _file_ids: crate::cdev::FileIds,
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
        let bus = BusSlot::register(module);
        #[cfg(CONFIG_INTEL_IDXD_RUST_SIM)]
        let sims = if bus.is_err() {
            Ok(None)
        } else {
            crate::sim_drv::SimDevices::create(
                dsa1,
                dsa2,
                crate::module_parameters::sim_auto_config.value(),
                &root,
            )
            .map(Some)
        };
        // Without it the module works; only the benchmark is missing (and says so).
        #[cfg(CONFIG_INTEL_IDXD_RUST_SIM)]
        let bench = crate::bench::create(&root)
            .inspect_err(|e| pr_warn!("no fault-path benchmark: {:?}\n", e))
            .ok();
        #[cfg(not(CONFIG_INTEL_IDXD_RUST_SIM))]
        if dsa1 + dsa2 != 0 {
            pr_warn!("sim_dsa1/sim_dsa2 ignored: built without CONFIG_INTEL_IDXD_RUST_SIM\n");
        }
        try_pin_init!(Self {
            _root: RootSlot::new(&root),
            _file_ids: crate::cdev::FileIds,
            _bus: bus?,
            _pci <- driver::Registration::new(<Self as kernel::ModuleMetadata>::NAME, module),
            #[cfg(CONFIG_INTEL_IDXD_RUST_SIM)]
            _sims: sims?,
            #[cfg(CONFIG_INTEL_IDXD_RUST_SIM)]
            _bench: bench,
            _debugfs: root,
            _farewell: Farewell,
        })
    }
}
