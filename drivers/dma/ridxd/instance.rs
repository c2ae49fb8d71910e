// SPDX-License-Identifier: GPL-2.0

//! A DSA device's driver state, whatever bus carries it ([`Instance`]): the probed device, its
//! user WQs and its admin directory, and the one order in which they come up and go down;
//! and what all devices share: their numbering and the module's debugfs root. The bus files
//! (`pci_drv.rs`, `sim_drv.rs`) keep only what is bus-specific.

use crate::{admin::AdminDir, cdev::UserWqs, device::DsaDevice, hwif::DeviceBus, sysfs::Tree};
use kernel::{
    debugfs::{self, Dir},
    device::Device,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

/// The number of the next DSA device (`dsa<N>`, `/dev/dsa/wq<N>.<W>`), PCI or model, in probe
/// order; numbers are not reused while the module is loaded.
static NEXT_DEVICE: Atomic<u32> = Atomic::new(0);

/// Takes the number of a new DSA device.
pub(crate) fn next_device_index() -> usize {
    NEXT_DEVICE.fetch_add(1, Relaxed) as usize
}

kernel::static_mutex! {
    /// The module's debugfs directory, `/sys/kernel/debug/ridxd`, for devices probed after
    /// module init (PCI devices); set while the module is loaded ([`RootSlot`]).
    static DEBUGFS_ROOT: Option<debugfs::Dir> = (c"ridxd::DEBUGFS_ROOT", None);
}

/// The module's debugfs directory, if the module is loaded.
pub(crate) fn debugfs_root() -> Option<debugfs::Dir> {
    DEBUGFS_ROOT.lock().clone()
}

/// Publishes the debugfs directory in [`DEBUGFS_ROOT`] while it lives.
pub(crate) struct RootSlot;

impl RootSlot {
    pub(crate) fn new(root: &debugfs::Dir) -> Self {
        *DEBUGFS_ROOT.lock() = Some(root.clone());
        Self
    }
}

impl Drop for RootSlot {
    fn drop(&mut self) {
        drop(DEBUGFS_ROOT.lock().take());
    }
}

/// How a device is brought up.
pub(crate) struct BringUp<'a> {
    /// The device's number: `dsa<index>`, `/dev/dsa/wq<index>.<W>`.
    pub(crate) index: usize,
    /// Where its admin directory goes (`None`: no admin directory).
    pub(crate) admin_root: Option<&'a Dir>,
    /// Give it the default configuration and enable it, when it is configurable.
    pub(crate) default_config: bool,
}

/// A device the driver runs, from probe to unbind.
///
/// Bring-up ([`Instance::new`]), in order: probe the device (capabilities, reset); connect its
/// misc interrupt (commands complete through it from then on); the user WQs; the debugfs
/// directory; the default configuration (not yet enabled); the device's nodes on the `dsa`
/// bus, which enable the device and its configured WQs by binding the `idxd` and `user`
/// drivers. Teardown (`Drop`), in order: the bus nodes go (WQs unbound, so disabled and their
/// char devices gone, their open files revoked; then the device unbound and disabled), no new
/// opens, the debugfs directory, then the device's interrupts stop, it is disabled and its
/// fault path stopped.
pub(crate) struct Instance {
    sysfs: Option<Tree>,
    user: Arc<UserWqs>,
    admin: Option<AdminDir>,
    dsa: Arc<DsaDevice>,
}

impl Instance {
    /// Brings up the device `dev` behind `io` as `how` says.
    ///
    /// A device whose interrupts cannot be delivered (`connect_irq` says `EOPNOTSUPP`) runs
    /// with polled commands and no event-log draining. A failed default configuration is
    /// logged and leaves the device disabled (the admin can configure it).
    ///
    /// Returns the errors of probe (`ENODEV`, `EIO`, `ETIMEDOUT`), `ENOMEM`, those of
    /// connecting the interrupt, and of adding the bus nodes (`EEXIST`, `ENODEV` without the
    /// `dsa` bus); nothing stays set up then.
    pub(crate) fn new(dev: &Device, io: KBox<dyn DeviceBus>, how: BringUp<'_>) -> Result<Self> {
        let dsa = DsaDevice::probe(dev, io)?;
        // From here on, an error drops `inst`, whose `Drop` shuts the device down (and breaks
        // the device <-> interrupt-handler reference cycle).
        let mut inst = Self {
            sysfs: None,
            user: UserWqs::new(&dsa, how.index)?,
            admin: None,
            dsa,
        };
        match inst.dsa.connect_irq() {
            Ok(()) => {}
            Err(e) if e == EOPNOTSUPP => {}
            Err(e) => return Err(e),
        }
        if let Some(root) = how.admin_root {
            inst.admin = Some(crate::admin::create(
                root, how.index, &inst.dsa, &inst.user,
            )?);
        }
        let default = how.default_config && inst.dsa.caps().configurable();
        if default {
            let shared = inst.dsa.io().shared_wq_supported();
            if let Err(e) = inst.dsa.with_config(|c| c.set_default(shared)) {
                dev_warn!(dev, "default configuration failed ({:?})\n", e);
            }
        }
        inst.sysfs = Some(Tree::new(dev, how.index, &inst.dsa, &inst.user, default)?);
        if default {
            if inst.dsa.with_config(|c| c.enabled) {
                dev_info!(
                    dev,
                    "enabled: default configuration, event log {}\n",
                    inst.dsa.evl_size().unwrap_or(0)
                );
            } else {
                dev_warn!(dev, "default configuration not enabled\n");
            }
        }
        Ok(inst)
    }

    /// Before a reset of the device's function: see [`Tree::reset_prepare`].
    pub(crate) fn reset_prepare(&self) {
        if let Some(t) = &self.sysfs {
            t.reset_prepare();
        }
    }

    /// After a reset of the device's function: see [`Tree::reset_done`].
    pub(crate) fn reset_done(&self) {
        if let Some(t) = &self.sysfs {
            t.reset_done();
        }
    }

    /// The device (for tests).
    #[cfg(all(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST, CONFIG_INTEL_IDXD_RUST_SIM))]
    pub(crate) fn dsa(&self) -> &Arc<DsaDevice> {
        &self.dsa
    }

    /// The device's `dsa` bus nodes (for tests).
    #[cfg(all(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST, CONFIG_INTEL_IDXD_RUST_SIM))]
    pub(crate) fn sysfs(&self) -> &Tree {
        // Set in `new`, taken only in `drop`.
        self.sysfs.as_ref().unwrap()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        drop(self.sysfs.take());
        self.user.shutdown();
        drop(self.admin.take());
        self.dsa.shutdown();
    }
}
