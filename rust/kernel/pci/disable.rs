// SPDX-License-Identifier: GPL-2.0

//! Undoing what a PCI driver's `probe()` enabled: bus mastering and the device.
//!
//! [`Device::enable_device_mem`] and [`Device::set_master`] have no managed counterpart: the
//! PCI core does not disable a function when its driver unbinds (`pci_device_remove()` in
//! `drivers/pci/pci-driver.c` calls the driver's `remove()` and leaves the command register as
//! it is). A function left with Bus Master Enable set can go on writing memory the driver has
//! freed, which is why C drivers call `pci_clear_master()` and `pci_disable_device()` in their
//! `remove()` (the C `idxd` driver, `idxd_remove()` in `drivers/dma/idxd/init.c`, does the
//! latter). The methods here are those two calls, for a driver's `unbind()` and for a `probe()`
//! that fails after enabling the device.
//!
//! # Examples
//!
//! ```ignore
//! fn unbind<'bound>(pdev: &'bound pci::Device<Core<'_>>, this: Pin<&Self::Data<'bound>>) {
//!     // Stop the device's own work first, then:
//!     pdev.clear_master();
//!     pdev.disable_device();
//! }
//! ```

use super::Device;
use crate::{bindings, device};

impl<'a> Device<device::Core<'a>> {
    /// Clears Bus Master Enable in the function's command register (`pci_clear_master()`):
    /// from then on the function starts no memory transactions, DMA and MSI-X messages
    /// included (PCI Express Base Specification, "Command Register", Bus Master Enable). It
    /// does so whoever else holds the device enabled. [`Device::set_master`] sets it again.
    ///
    /// `Core`, as [`Device::set_master`]: `pci_clear_master()` also writes
    /// `pci_dev::is_busmaster`, a bitfield, with the driver's callbacks serialised by the
    /// device lock. (To turn bus mastering off from elsewhere, a driver can write the command
    /// register through [`Device::config_space`].)
    #[inline]
    pub fn clear_master(&self) {
        // SAFETY: `self.as_raw()` is a valid pointer to a `struct pci_dev`; the `Core`
        // context holds its device lock, as `set_master()`'s does.
        unsafe { bindings::pci_clear_master(self.as_raw()) };
    }

    /// Undoes one [`Device::enable_device_mem`] (`pci_disable_device()`): when no other enable
    /// is left (the PCI core counts them, `pci_dev::enable_cnt`), clears Bus Master Enable and
    /// lets the platform disable the device. A call without an enable of its own to undo is a
    /// driver bug the PCI core warns of ("disabling already-disabled device").
    #[inline]
    pub fn disable_device(&self) {
        // SAFETY: `self.as_raw()` is a valid pointer to a `struct pci_dev`; the `Core`
        // context holds its device lock.
        unsafe { bindings::pci_disable_device(self.as_raw()) };
    }
}
