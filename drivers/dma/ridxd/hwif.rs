// SPDX-License-Identifier: GPL-2.0

//! The hardware-access seam between the driver and a DSA device.
//!
//! Everything the driver does to a device goes through [`DeviceIo`]. It has two
//! implementations: `PciIo` (`pci_drv.rs`) for a PCI device, whose BAR0 is MMIO, and `SimIo`
//! (`sim_drv.rs`) for the software device model. Code above the seam does not know, and must
//! not ask, which one it talks to.

/// Access to one DSA device's registers (BAR0).
///
/// Offsets are in bytes from the start of BAR0 (`crate::regs::off`). Reads of offsets the
/// device does not decode return what the device returns (all ones for a PCI read outside the
/// BAR); writes to them are dropped.
pub(crate) trait DeviceIo: Send + Sync {
    /// Reads the 32-bit register at `off` (4-byte aligned).
    fn read32(&self, off: usize) -> u32;
    /// Reads the 64-bit register at `off` (8-byte aligned).
    fn read64(&self, off: usize) -> u64;
    /// Writes the 32-bit register at `off` (4-byte aligned).
    fn write32(&self, off: usize, val: u32);
    /// Writes the 64-bit register at `off` (8-byte aligned).
    fn write64(&self, off: usize, val: u64);
}
