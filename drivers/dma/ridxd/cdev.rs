// SPDX-License-Identifier: GPL-2.0

//! User work queues: one character device per enabled WQ, `/dev/dsa/wq<D>.<W>` (idxd naming).
//!
//! * `open` binds the opener's address space for SVA (the PASID tags its descriptors), takes
//!   a reference to its `mm` (`mmgrab`) for the CR fault fix-up, registers the fault context,
//!   and programs the PASID into a dedicated WQ's WQCFG. A dedicated WQ admits one opener
//!   (`EBUSY`).
//! * `write` takes whole 64-byte descriptors, checks each (CR address 32-byte aligned, `priv`
//!   clear: `EINVAL`), forces its PASID to the file's and submits it; it returns the bytes of
//!   the descriptors accepted (`EAGAIN` if a shared WQ took none). A process other than the
//!   opener gets `EPERM` (upstream's rule for passed file descriptors).
//! * `release`, in order: stop the device using the PASID (drain it), skip the PASID's pending
//!   event-log entries and wait for the fault work, unbind, drop the context and the `mm`.
//!
//! Open files keep the module loaded (the file operations belong to it), so `rmmod` waits for
//! them to be closed.

use crate::{
    config::WqMode,
    device::DsaDevice,
    fault::{CrCounters, Ctx},
    hw::{CompletionRecord, Descriptor},
    hwif::{DeviceBus, SvaBond},
};
use kernel::{
    fs::{File, Kiocb},
    iov::IovIterSource,
    miscdevice::{
        data::{DataRegistration, MiscDeviceWithData},
        MiscDevice, MiscDeviceRegistration,
    },
    mm::Mm,
    new_spinlock,
    prelude::*,
    str::CString,
    sync::{aref::ARef, Arc, SpinLock},
    transmute::FromBytes,
};

/// A user WQ's node: the device and WQ its files use.
#[pin_data]
pub(crate) struct WqNode<H: DeviceBus + 'static> {
    dsa: Arc<DsaDevice<H>>,
    wq: usize,
    /// A dedicated WQ is open.
    #[pin]
    taken: SpinLock<bool>,
}

/// The character device of one user WQ.
pub(crate) type WqCdev<H> = Pin<KBox<DataRegistration<WqFile<H>>>>;

/// Registers `/dev/dsa/wq<dev_index>.<wq>` for WQ `wq` of `dsa`.
///
/// Returns `ENOMEM`, or `misc_register()`'s error (`EBUSY` for a name in use).
pub(crate) fn register<H: DeviceBus + 'static>(
    dsa: &Arc<DsaDevice<H>>,
    dev_index: usize,
    wq: usize,
) -> Result<WqCdev<H>> {
    let name = CString::try_from_fmt(fmt!("dsa/wq{dev_index}.{wq}"))?;
    let node = Arc::pin_init(
        pin_init!(WqNode {
            dsa: dsa.clone(),
            wq,
            taken <- new_spinlock!(false, "ridxd::cdev::taken"),
        }),
        GFP_KERNEL,
    )?;
    KBox::pin_init(DataRegistration::register(name, node), GFP_KERNEL)
}

/// An open file of a user WQ.
pub(crate) struct WqFile<H: DeviceBus + 'static> {
    node: Arc<WqNode<H>>,
    shared: bool,
    pasid: u32,
    /// The opener's address space (`mmgrab`).
    mm: ARef<Mm>,
    ctx: Arc<Ctx>,
    bond: Option<KBox<dyn SvaBond>>,
}

// SAFETY: `WqFile` registrations are made only by `register` above, through
// `DataRegistration::register`.
unsafe impl<H: DeviceBus + 'static> MiscDeviceWithData for WqFile<H> {
    type RegistrationData = Arc<WqNode<H>>;
}

impl<H: DeviceBus + 'static> WqFile<H> {
    /// This file's CR fault counters.
    pub(crate) fn counters(&self) -> CrCounters {
        self.ctx.counters()
    }

    /// Whether the caller runs in the opener's address space.
    fn same_mm(&self) -> bool {
        let task = kernel::current!();
        task.mm()
            .is_some_and(|mm| core::ptr::eq::<Mm>(&**mm, &*self.mm))
    }
}

#[vtable]
impl<H: DeviceBus + 'static> MiscDevice for WqFile<H> {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        let node = DataRegistration::<Self>::data(misc).clone();
        let dsa = &node.dsa;
        let wq = node.wq;
        let (mode, enabled) =
            dsa.with_config(|c| c.wqs.get(wq).map(|w| (w.mode, w.enabled)).ok_or(ENODEV))?;
        if !enabled {
            return Err(ENXIO);
        }
        let shared = mode == WqMode::Shared;
        if !shared {
            let mut taken = node.taken.lock();
            if *taken {
                return Err(EBUSY);
            }
            *taken = true;
        }
        let r = Self::open_as(&node, shared);
        if r.is_err() && !shared {
            *node.taken.lock() = false;
        }
        r
    }

    fn release(this: Pin<KBox<Self>>, _file: &File) {
        let dsa = &this.node.dsa;
        // 1. The device stops using the PASID.
        if this.shared {
            let _ = dsa.drain_pasid(this.pasid);
        } else {
            let _ = dsa.set_wq_pasid(this.node.wq, None);
        }
        // 2. Its pending event-log entries are skipped and the fault work is waited for.
        dsa.faults().remove_ctx(&this.ctx);
        // 3. SVA unbind; 4. the context and the `mm` reference go with `this`.
        let mut this = this;
        this.as_mut().drop_bond();
        if !this.shared {
            *this.node.taken.lock() = false;
        }
    }

    fn write_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        let this = kiocb.file();
        if !this.same_mm() {
            return Err(EPERM);
        }
        let len = iov.len();
        if len == 0 || len % Descriptor::SIZE != 0 {
            return Err(EINVAL);
        }
        let mut done = 0;
        while done < len {
            let mut raw = [0u8; Descriptor::SIZE];
            if iov.copy_from_iter(&mut raw) != raw.len() {
                return if done > 0 { Ok(done) } else { Err(EFAULT) };
            }
            let mut d = Descriptor::from_bytes_copy(&raw).ok_or(EINVAL)?;
            if d.priv_() || d.completion_addr % CompletionRecord::ALIGN != 0 {
                return if done > 0 { Ok(done) } else { Err(EINVAL) };
            }
            d.set_pasid(this.pasid);
            match this.node.dsa.io().submit(this.node.wq, this.shared, &d) {
                Ok(()) => done += Descriptor::SIZE,
                Err(e) => return if done > 0 { Ok(done) } else { Err(e) },
            }
        }
        Ok(done)
    }
}

impl<H: DeviceBus + 'static> WqFile<H> {
    fn open_as(node: &Arc<WqNode<H>>, shared: bool) -> Result<Pin<KBox<Self>>> {
        let dsa = &node.dsa;
        let mm: ARef<Mm> = {
            let task = kernel::current!();
            let mm = task.mm().ok_or(EINVAL)?;
            ARef::from(&**mm)
        };
        let bond = dsa.io().sva_bind(&mm)?;
        let pasid = bond.pasid();
        let ctx = dsa.faults().add_ctx(pasid, node.wq as u8, &mm)?;
        if !shared {
            if let Err(e) = dsa.set_wq_pasid(node.wq, Some(pasid)) {
                dsa.faults().remove_ctx(&ctx);
                return Err(e);
            }
        }
        Ok(KBox::pin(
            Self {
                node: node.clone(),
                shared,
                pasid,
                mm,
                ctx,
                bond: Some(bond),
            },
            GFP_KERNEL,
        )?)
    }

    fn drop_bond(self: Pin<&mut Self>) {
        // `WqFile` is `Unpin`: its fields can be reached.
        let this = Pin::into_inner(self);
        drop(this.bond.take());
    }
}
