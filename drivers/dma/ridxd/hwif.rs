// SPDX-License-Identifier: GPL-2.0

//! The hardware-access seam between the driver and a DSA device.
//!
//! Everything the driver does to a device goes through a `dyn` [`DeviceBus`] (registers
//! through its supertrait [`DeviceIo`]). It has two implementations: `PciIo` (`pci_drv.rs`)
//! for a PCI device, whose BAR0 is MMIO, and `SimIo` (`sim_drv.rs`) for the software device
//! model. Code above the seam does not know, and must not ask, which one it talks to.

use crate::hw::Descriptor;
use kernel::{
    mm::{
        pfnmap::{FaultResult, PfnFault},
        MmWithUser,
    },
    prelude::*,
    sync::Arc,
};

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

/// A buffer the device writes by DMA and the driver reads (coherent memory): the event log.
pub(crate) trait DmaBuf: Send + Sync {
    /// The address the device uses for the buffer (page aligned).
    fn bus_addr(&self) -> u64;
    /// Length in bytes.
    fn len(&self) -> usize;
    /// Copies `out.len()` bytes at byte offset `off` into `out` (`off` and the length are
    /// multiples of 8). Returns `EINVAL` when out of range, `ENXIO` once the memory is freed
    /// because the driver unbound from the device (PCI).
    fn read(&self, off: usize, out: &mut [u8]) -> Result;
}

/// Receives a device's interrupts (MSI-X vectors), in process context: vector 0 is the misc
/// vector (command completion, software errors, event log), `1 + n` WQ `n`'s completions.
pub(crate) trait IrqHandler: Send + Sync {
    /// Vector `vector` fired.
    fn irq(&self, vector: u16);
}

/// The parts of the seam that depend on the device's bus: DMA memory and interrupts.
pub(crate) trait DeviceBus: DeviceIo {
    /// Allocates a zeroed DMA buffer of `len` bytes (rounded up to pages).
    ///
    /// Returns `ENOMEM` when it cannot be allocated.
    fn alloc_dma(&self, len: usize) -> Result<KBox<dyn DmaBuf>>;

    /// Routes the device's interrupts to `handler`, or (with `None`) stops delivering them.
    /// After `connect_irq(None)` returns, no call into the previous handler is running.
    ///
    /// Returns `EOPNOTSUPP` when the device's interrupts cannot be delivered this way.
    fn connect_irq(&self, handler: Option<Arc<dyn IrqHandler>>) -> Result;

    /// Binds address space `mm` to the device for SVA (`iommu_sva_bind_device()` on PCI): the
    /// returned bond's PASID makes the device work on `mm`'s virtual addresses. Unbound when
    /// the bond is dropped.
    ///
    /// Returns `EOPNOTSUPP` or `ENODEV` where SVA is not available, `ENOSPC` without a free
    /// PASID.
    fn sva_bind(&self, mm: &MmWithUser) -> Result<KBox<dyn SvaBond>>;

    /// Whether user space may submit to the device directly (mmap'd portals) without
    /// `CAP_SYS_RAWIO` (idxd's `user_submission_safe` driver data; false for every DSA part
    /// today, INTEL-SA-01084). On an unsafe DSA 1.0 device, `write()` also refuses batches,
    /// whose sub-descriptors the driver cannot check.
    fn user_submission_safe(&self) -> bool;

    /// Whether shared WQs can be used: the driver submits `write()` descriptors to them with
    /// ENQCMDS, and user programs would use ENQCMD, so a PCI device needs a CPU with
    /// `X86_FEATURE_ENQCMD` (idxd's `wq_shared_supported()`: `support_enqcmd`, cleared at
    /// load on CPUs without it). Without it a configured shared WQ is refused at Enable
    /// Device and at WQ enable, as idxd refuses it (`IDXD_SCMD_WQ_NO_SWQ_SUPPORT`).
    fn shared_wq_supported(&self) -> bool;

    /// Whether the WQs' portals are memory that user space can map (not on the device model:
    /// its portals are software).
    fn portals_mappable(&self) -> bool;

    /// Stops the device from making memory requests: no more DMA, and no interrupt messages
    /// (PCI: Bus Master Enable cleared in the function's command register, the PCI Express
    /// Base Specification's "Command Register"). For a
    /// device that nothing else stopped, as it goes away: whatever it still runs can then
    /// reach neither its event-log ring nor a PASID's address space. Registers still work.
    ///
    /// Returns `ENODEV` once the driver has unbound (the PCI driver's unbind turns bus
    /// mastering off itself).
    fn stop_bus_mastering(&self) -> Result;

    /// Resets the device's PCI function (a function-level reset, with the driver's reset
    /// callbacks around it: `pci_try_reset_function()`), what a device that halted with
    /// GENSTS.reset_type 1 needs. Must not be called with the device lock held.
    ///
    /// Returns `EAGAIN` while the device lock is held by someone else (try again later),
    /// `ENODEV` once the driver has unbound, `EOPNOTSUPP` for a device that is not a PCI
    /// function (the model), or the reset's error.
    fn reset_function(&self) -> Result;

    /// Inserts WQ `wq`'s limited portal page (BAR2 + `wq * 4` pages + 1 page, idxd's
    /// `idxd_get_wq_portal_full_offset(wq, IDXD_PORTAL_LIMITED)`) at the faulting address of
    /// `vmf`, a fault on a portal mapping of a user WQ file, for direct submission from user
    /// space; the fault handler returns the result.
    ///
    /// Returns [`FaultResult::SIGBUS`] where there is no such page (the device model) or the
    /// device is gone (unbound).
    fn fault_portal(&self, wq: usize, vmf: &PfnFault<'_>) -> FaultResult;

    /// Submits `desc` to WQ `wq`'s limited portal, once: MOVDIR64B to a dedicated WQ (the
    /// WQ's PASID applies), ENQCMDS to a shared one (the descriptor's PASID applies). The
    /// limited portal is the one user submissions go through (idxd's `idxd_wq_portal_addr()`
    /// and its portal `mmap`): a shared WQ's threshold applies there.
    ///
    /// Returns `EAGAIN` when a shared WQ does not accept it ("retry"; the caller may try
    /// again), `EOPNOTSUPP` where the portals cannot be written.
    fn submit(&self, wq: usize, shared: bool, desc: &Descriptor) -> Result;
}

/// An address space bound to a device for SVA; unbound when dropped.
pub(crate) trait SvaBond: Send + Sync {
    /// The PASID that tags the address space's descriptors.
    fn pasid(&self) -> u32;
}
