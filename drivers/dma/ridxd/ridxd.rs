// SPDX-License-Identifier: GPL-2.0

//! ridxd: Intel Data Streaming Accelerator (DSA) driver.
//!
//! This file is the crate's table of contents and its module declaration; the driver lives in
//! the modules below. See `Documentation/driver-api/ridxd.rst`.

mod admin;
#[cfg(CONFIG_INTEL_IDXD_RUST_SIM)]
mod bench;
mod caps;
mod cdev;
mod cmd;
mod config;
mod device;
mod evl;
mod fault;
mod hw;
mod hwif;
mod init;
mod instance;
mod irq;
mod pci_drv;
mod regs;
#[cfg(CONFIG_INTEL_IDXD_RUST_SIM)]
mod sim;
#[cfg(CONFIG_INTEL_IDXD_RUST_SIM)]
mod sim_drv;
mod sysfs;
#[cfg(all(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST, CONFIG_INTEL_IDXD_RUST_SIM))]
mod tests;

use init::RidxdModule;
use kernel::prelude::*;

/// The module declaration, with the module's name: `ridxd`, or `idxd` (the C driver's) with
/// `CONFIG_INTEL_IDXD_RUST_AS_IDXD` (see the Kconfig help). The PCI driver takes the same name.
/// Parameters are the same either way.
macro_rules! ridxd_module {
    ($name:tt) => {
        module! {
            type: RidxdModule,
            name: $name,
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
                sim_irq_delay_ms: u32 {
                    default: 0,
                    description: "How long model devices' interrupts take to arrive, in ms (fault injection; also in debugfs)",
                },
                auto_config: bool {
                    default: false,
                    description: "Give configurable PCI devices the default configuration and enable them at probe (default: left disabled for accel-config, as idxd leaves them)",
                },
                tc_override: bool {
                    default: false,
                    description: "Let traffic_class_a/b of DSA 1.0 and 2.0 groups be written (idxd's tc_override; read when a device is probed)",
                },
                sim_auto_config: bool {
                    default: true,
                    description: "Give model devices the default configuration and enable them at creation (CONFIG_INTEL_IDXD_RUST_SIM)",
                },
            },
        }
    };
}

#[cfg(not(CONFIG_INTEL_IDXD_RUST_AS_IDXD))]
ridxd_module!("ridxd");
#[cfg(CONFIG_INTEL_IDXD_RUST_AS_IDXD)]
ridxd_module!("idxd");
