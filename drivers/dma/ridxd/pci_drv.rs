// SPDX-License-Identifier: GPL-2.0

//! The PCI driver: device IDs, and the [`DeviceIo`] seam for a PCI device (BAR0 MMIO).
//!
//! Device IDs are those of `include/linux/pci_ids.h` (`PCI_DEVICE_ID_INTEL_DSA_*`).

use crate::{
    hw::Descriptor,
    hwif::{DeviceBus, DeviceIo, DmaBuf, IrqHandler, SvaBond},
    instance::{BringUp, Instance},
};
use kernel::{
    device::{bound::BoundGate, Bound, Core, Device},
    devres::Devres,
    dma::{Coherent, DmaMask},
    io::{io_read, portal, register, Io},
    iommu::sva,
    irq::{self, IrqReturn, ThreadedHandler},
    mm::{
        pfnmap::{FaultResult, PfnFault},
        MmWithUser,
    },
    new_mutex,
    page::PAGE_SIZE,
    pci::{self, dma_mask::DmaMaskDriver, reset::ResetDriver, DevresBar},
    prelude::*,
    sync::{Arc, Mutex},
    transmute::AsBytes,
    types::ScopeGuard,
};

/// Which DSA part an ID belongs to, and what the driver knows of it.
#[derive(Clone, Copy)]
pub(crate) struct Part {
    name: &'static str,
    /// Direct user submission is safe (idxd's `user_submission_safe`): no DSA part is today
    /// (INTEL-SA-01084).
    user_submission_safe: bool,
}

kernel::pci_device_table!(
    PCI_TABLE,
    <RidxdPciDriver as pci::Driver>::IdInfo,
    [
        // PCI_DEVICE_ID_INTEL_DSA_SPR0: Sapphire Rapids, DSA 1.0.
        (
            pci::DeviceId::from_id(pci::Vendor::INTEL, 0x0b25),
            Part {
                name: "SPR",
                user_submission_safe: false
            }
        ),
        // PCI_DEVICE_ID_INTEL_DSA_GNRD: Granite Rapids-D.
        (
            pci::DeviceId::from_id(pci::Vendor::INTEL, 0x11fb),
            Part {
                name: "GNR-D",
                user_submission_safe: false
            }
        ),
        // PCI_DEVICE_ID_INTEL_DSA_DMR: Diamond Rapids.
        (
            pci::DeviceId::from_id(pci::Vendor::INTEL, 0x1212),
            Part {
                name: "DMR",
                user_submission_safe: false
            }
        ),
    ]
);

/// Byte offset of WQ `wq`'s unlimited (`limited` false) or limited portal page in BAR2: four
/// pages per WQ, the unlimited portal first, the limited one next (idxd's
/// `idxd_get_wq_portal_full_offset()`).
const fn portal_offset(wq: usize, limited: bool) -> usize {
    (wq * 4 + limited as usize) * PAGE_SIZE
}

/// Number of MSI-X vectors ridxd asks for: vector 0 only, the misc vector (command
/// completion, software errors, event log). WQ completion vectors serve kernel descriptors,
/// which ridxd does not submit (user processes poll their completion records).
const MSIX_VECTORS: u32 = 1;

/// Where the misc interrupt goes: set by `connect_irq`.
#[pin_data]
struct IrqSlot {
    #[pin]
    handler: Mutex<Option<Arc<dyn IrqHandler>>>,
}

/// The threaded handler of the misc vector.
#[pin_data]
struct MiscVector {
    slot: Arc<IrqSlot>,
}

impl ThreadedHandler for MiscVector {
    fn handle_threaded(&self) -> IrqReturn {
        // The slot's lock is held across the call, so that `connect_irq(None)` waits for it.
        match &*self.slot.handler.lock() {
            Some(h) => {
                h.irq(0);
                IrqReturn::Handled
            }
            None => IrqReturn::None,
        }
    }
}

/// A PCI DSA device: BAR0 (registers) and BAR2 (WQ portals), revoked when the driver unbinds;
/// the device for DMA allocations and SVA, while bound; the misc interrupt's slot.
pub(crate) struct PciIo {
    gate: BoundGate,
    bar: DevresBar,
    portals: DevresBar,
    irq: Option<Arc<IrqSlot>>,
    user_submission_safe: bool,
}

/// An address space bound to a PCI device with `iommu_sva_bind_device()`: unbound when
/// dropped, or when the driver unbinds, whichever comes first.
struct PciBond {
    _bond: Devres<sva::Bond>,
    /// Its PASID, read once (the bond's is fixed).
    pasid: u32,
}

impl SvaBond for PciBond {
    fn pasid(&self) -> u32 {
        self.pasid
    }
}

register! {
    /// A PCI function's Command register, in its config space (PCI Express Base
    /// Specification, "Command Register"; `PCI_COMMAND` in `include/uapi/linux/pci_regs.h`).
    PCI_COMMAND(u16) @ 0x04 {
        /// Bus Master Enable: the function may make memory requests (DMA, MSI-X messages).
        2:2 bus_master => bool;
    }
}

/// Coherent DMA memory of a PCI device: freed when dropped, or when the driver unbinds,
/// whichever comes first (by then [`RidxdPciDriver::unbind`] has turned the function's bus
/// mastering off, so the device can no longer write it). Reads fail with `ENXIO` after that.
struct PciDma {
    mem: Devres<Coherent<[u64]>>,
    /// Its bus address and length in bytes, read once (they do not change).
    bus_addr: u64,
    len: usize,
}

impl DmaBuf for PciDma {
    fn bus_addr(&self) -> u64 {
        self.bus_addr
    }

    fn len(&self) -> usize {
        self.len
    }

    fn read(&self, off: usize, out: &mut [u8]) -> Result {
        if off % 8 != 0 || out.len() % 8 != 0 {
            return Err(EINVAL);
        }
        self.mem
            .try_access_with(|mem| {
                for (i, chunk) in out.chunks_exact_mut(8).enumerate() {
                    let idx = off / 8 + i;
                    let v: u64 = io_read!(mem, [try: idx]);
                    chunk.copy_from_slice(&v.to_le_bytes());
                }
                Ok(())
            })
            .ok_or(ENXIO)?
    }
}

impl DeviceBus for PciIo {
    fn alloc_dma(&self, len: usize) -> Result<KBox<dyn DmaBuf>> {
        let len = len.next_multiple_of(PAGE_SIZE);
        let (mem, bus_addr) = self.gate.with(|dev| {
            let mem = Coherent::<u64>::zeroed_slice(dev, len / 8, GFP_KERNEL)?;
            let bus_addr = mem.dma_address();
            Ok::<_, Error>((Devres::new(dev, mem)?, bus_addr))
        })??;
        Ok(KBox::new(PciDma { mem, bus_addr, len }, GFP_KERNEL)?)
    }

    fn connect_irq(&self, handler: Option<Arc<dyn IrqHandler>>) -> Result {
        let slot = self.irq.as_ref().ok_or(EOPNOTSUPP)?;
        *slot.handler.lock() = handler;
        Ok(())
    }

    fn sva_bind(&self, mm: &MmWithUser) -> Result<KBox<dyn SvaBond>> {
        let (bond, pasid) = self.gate.with(|dev| {
            let bond = sva::Bond::bind(dev, mm)?;
            let pasid = bond.access(dev)?.pasid();
            Ok::<_, Error>((bond, pasid))
        })??;
        Ok(KBox::new(PciBond { _bond: bond, pasid }, GFP_KERNEL)?)
    }

    fn user_submission_safe(&self) -> bool {
        self.user_submission_safe
    }

    fn shared_wq_supported(&self) -> bool {
        portal::has_enqcmd()
    }

    fn portals_mappable(&self) -> bool {
        true
    }

    fn stop_bus_mastering(&self) -> Result {
        self.gate.with(|dev| {
            let pdev: &pci::Device<Bound> = dev.try_into()?;
            // The command register itself (the PCI core's own bookkeeping follows at unbind,
            // `pci_clear_master()` needing the device lock this path may not have).
            pdev.config_space()
                .update(PCI_COMMAND, |c| c.with_bus_master(false));
            Ok(())
        })?
    }

    fn reset_function(&self) -> Result {
        self.gate.with(|dev| {
            let pdev: &pci::Device<Bound> = dev.try_into()?;
            pdev.try_reset_function()
        })?
    }

    fn fault_portal(&self, wq: usize, vmf: &PfnFault<'_>) -> FaultResult {
        self.gate
            .with(|dev| {
                let pdev: Result<&pci::Device<Bound>> = dev.try_into();
                pdev.map_or(FaultResult::SIGBUS, |p| {
                    p.insert_bar_page(vmf, 2, portal_offset(wq, true) as u64)
                })
            })
            .unwrap_or(FaultResult::SIGBUS)
    }

    fn submit(&self, wq: usize, shared: bool, desc: &Descriptor) -> Result {
        let cmd = portal::Command(desc.as_bytes().try_into().map_err(|_| EINVAL)?);
        let portals = self.portals.try_access().ok_or(ENODEV)?;
        // Submissions on behalf of user space go to the WQ's limited portal, as idxd's do, so
        // that a shared WQ's threshold holds for write() users too.
        let off = portal_offset(wq, true);
        if !shared {
            return portal::movdir64b(&*portals, off, &cmd);
        }
        if portal::enqcmds(&*portals, off, &cmd)? {
            Ok(())
        } else {
            Err(EAGAIN)
        }
    }
}

impl DeviceIo for PciIo {
    // Outside the BAR, or once the driver has unbound: what a PCI read of nothing returns;
    // writes are dropped.
    fn read32(&self, off: usize) -> u32 {
        self.bar
            .try_access()
            .and_then(|b| b.try_read32(off).ok())
            .unwrap_or(!0)
    }

    fn read64(&self, off: usize) -> u64 {
        self.bar
            .try_access()
            .and_then(|b| b.try_read64(off).ok())
            .unwrap_or(!0)
    }

    fn write32(&self, off: usize, val: u32) {
        if let Some(b) = self.bar.try_access() {
            let _ = b.try_write32(val, off);
        }
    }

    fn write64(&self, off: usize, val: u64) {
        if let Some(b) = self.bar.try_access() {
            let _ = b.try_write64(val, off);
        }
    }
}

/// The PCI driver of ridxd; registered as `ResetAdapter<WithDmaMask<RidxdPciDriver>>`
/// (init.rs): each device has its DMA masks before [`RidxdPciDriver::probe`] runs, and the
/// driver is told of resets of its function.
pub(crate) struct RidxdPciDriver;

impl DmaMaskDriver for RidxdPciDriver {
    /// 64-bit streaming and coherent DMA masks, as `idxd_pci_probe()` sets them: DSA takes
    /// 64-bit addresses in descriptors, completion records and EVLCFG.
    const DMA_MASK: DmaMask = DmaMask::new::<64>();
}

/// Per-device state of a bound PCI DSA device; torn down (in [`Instance`]'s order) in the
/// driver's `unbind` callback.
///
/// Not later: the driver core drops a Rust driver's data after the bus's `dma_cleanup`, whose
/// `iommu_device_unuse_default_domain()` expects every PASID of the device detached (it warns,
/// and leaves the IOMMU group owned, otherwise), so the open files' SVA bonds must be gone
/// by the end of `unbind`; and before devres releases the interrupt and the BAR mappings.
pub(crate) struct RidxdPciData {
    /// `None` once torn down.
    inst: Pin<KBox<Mutex<Option<Instance>>>>,
}

impl ResetDriver for RidxdPciDriver {
    /// A reset of the function (FLR) clears what the driver programmed: the open files are
    /// revoked and the device disabled while it still works ([`Instance::reset_prepare`]).
    fn reset_prepare<'bound>(_dev: &'bound pci::Device<Core<'_>>, this: Pin<&RidxdPciData>) {
        if let Some(inst) = &*this.inst.lock() {
            inst.reset_prepare();
        }
    }

    /// The device and its WQs enabled again with the configuration they had, as idxd's
    /// `idxd_reset_done()` does ([`Instance::reset_done`]).
    fn reset_done<'bound>(_dev: &'bound pci::Device<Core<'_>>, this: Pin<&RidxdPciData>) {
        if let Some(inst) = &*this.inst.lock() {
            inst.reset_done();
        }
    }
}

impl pci::Driver for RidxdPciDriver {
    type IdInfo = Part;
    type Data<'bound> = RidxdPciData;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        dev_info!(
            pdev,
            "{} DSA (device {:#06x})\n",
            info.map_or("unknown", |p| p.name),
            pdev.device_id()
        );
        pdev.enable_device_mem()?;
        // Undone if probe fails from here on, as idxd_pci_probe() undoes it.
        let enabled = ScopeGuard::new_with_data(pdev, |pdev| {
            pdev.clear_master();
            pdev.disable_device();
        });
        pdev.set_master();
        let bar = pdev.iomap_region(0, c"ridxd")?.into_devres()?;
        let portals = pdev.iomap_region(2, c"ridxd-portals")?.into_devres()?;
        let dev: &Device<Bound> = pdev.as_ref();
        let slot = Arc::pin_init(
            pin_init!(IrqSlot {
                handler <- new_mutex!(None, "ridxd::pci::irq"),
            }),
            GFP_KERNEL,
        )?;
        let types = pci::IrqTypes::default().with(pci::IrqType::MsiX);
        let misc = slot.clone();
        let irq = match pdev.request_threaded_vector_irq(
            MSIX_VECTORS,
            MSIX_VECTORS,
            types,
            0,
            // MSI-X: edge, not shared, the thread may run with the vector unmasked.
            irq::Flags::TRIGGER_NONE,
            c"ridxd-misc",
            try_pin_init!(MiscVector { slot: misc }? Error),
        ) {
            Ok(_) => Some(slot),
            Err(e) => {
                // Without the misc interrupt: commands are polled, the event log is not
                // drained (CR faults are not fixed up).
                dev_warn!(pdev, "no MSI-X misc interrupt ({:?}): running without\n", e);
                None
            }
        };
        let io = PciIo {
            gate: BoundGate::new(dev)?,
            bar,
            portals,
            irq,
            user_submission_safe: info.is_some_and(|p| p.user_submission_safe),
        };
        let root = crate::instance::debugfs_root();
        let inst = Instance::new(
            dev,
            KBox::new(io, GFP_KERNEL)?,
            BringUp {
                index: crate::instance::next_device_index(),
                admin_root: root.as_ref(),
                default_config: crate::module_parameters::auto_config.value(),
            },
        )?;
        let inst = KBox::pin_init(new_mutex!(Some(inst), "ridxd::pci::inst"), GFP_KERNEL)?;
        enabled.dismiss();
        Ok(RidxdPciData { inst })
    }

    /// Tears the device down (see [`RidxdPciData`]): its files revoked, their SVA bonds
    /// unbound, the device disabled.
    ///
    /// Then, as idxd's `idxd_remove()` ends, the function's bus mastering is turned off and
    /// the function disabled (the PCI core leaves both as they are): whatever a device that
    /// would not stop still runs can no longer reach memory, before devres frees the event-log
    /// ring.
    fn unbind<'bound>(pdev: &'bound pci::Device<Core<'_>>, this: Pin<&Self::Data<'bound>>) {
        drop(this.inst.lock().take());
        pdev.clear_master();
        pdev.disable_device();
    }
}
