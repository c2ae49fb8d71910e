// SPDX-License-Identifier: GPL-2.0

//! Shared Virtual Addressing (SVA): binding a process's address space to a device
//! (`include/linux/iommu.h`, `drivers/iommu/iommu-sva.c`).
//!
//! A [`Bond`] makes the IOMMU translate the device's requests tagged with the bond's PASID
//! through the page tables of one address space, so the device works on that process's virtual
//! addresses. A bond lives in a [`Devres`]: it is undone when that is dropped, or when the
//! driver unbinds from the device, whichever comes first, so never once the device's IOMMU
//! group may be gone. Without `CONFIG_IOMMU_SVA`, [`Bond::bind`] fails with `ENODEV`, as
//! `iommu_sva_bind_device()` does.
//!
//! `iommu_sva_unbind_device()` also requires that the device has stopped using the PASID (a
//! request tagged with it after the unbind may reach the next address space given that
//! PASID). No type can know that: the driver must quiesce the PASID (drain or abort it on the
//! device) before it drops the bond, and before it lets the driver unbind.

use crate::{
    device::{Bound, Device},
    devres::Devres,
    mm::MmWithUser,
    prelude::*,
    sync::aref::ARef,
};

#[cfg(CONFIG_IOMMU_SVA)]
use crate::{bindings, error::from_err_ptr};

/// The handle of a bond: `struct iommu_sva`, or nothing at all without SVA support.
#[cfg(CONFIG_IOMMU_SVA)]
type Handle = core::ptr::NonNull<bindings::iommu_sva>;
#[cfg(not(CONFIG_IOMMU_SVA))]
type Handle = core::convert::Infallible;

/// An address space bound to a device for SVA (`struct iommu_sva`).
///
/// # Invariants
///
/// `handle` was returned by a successful `iommu_sva_bind_device()` for `dev` and has not been
/// unbound; `dev` holds a reference to the device so that it outlives the handle. A `Bond`
/// exists only inside the [`Devres`] that [`Bond::bind`] returns, for the driver binding `dev`
/// was bound to then: it is dropped at the latest when that binding ends, so always while `dev`
/// is still bound (its IOMMU group attached).
pub struct Bond {
    handle: Handle,
    dev: ARef<Device>,
}

// SAFETY: The handle is only passed to `iommu_sva_get_pasid()` and `iommu_sva_unbind_device()`,
// which may be called from any thread.
unsafe impl Send for Bond {}
// SAFETY: `&Bond` only allows `iommu_sva_get_pasid()`, which reads an immutable field.
unsafe impl Sync for Bond {}

impl Bond {
    /// Binds `mm` to `dev` (`iommu_sva_bind_device()`): the IOMMU allocates (or reuses) the
    /// PASID of `mm` and attaches the address space to the device under it. Binding the same
    /// `mm` to the same device twice returns a second handle on the same PASID. The bond is
    /// undone when the returned [`Devres`] is dropped, or when the driver unbinds from `dev`
    /// (its [`Devres::try_access`] then fails).
    ///
    /// Errors are those of the IOMMU core: `ENODEV` when the device has no IOMMU, its IOMMU
    /// does not support SVA, or the kernel lacks `CONFIG_IOMMU_SVA`; `EOPNOTSUPP` without
    /// PASID support; `ENOSPC` when no PASID is free; `EBUSY` when the device's PASIDs are in
    /// other use; `ENOMEM`.
    pub fn bind(dev: &Device<Bound>, mm: &MmWithUser) -> Result<Devres<Self>> {
        #[cfg(CONFIG_IOMMU_SVA)]
        {
            // SAFETY: `dev` is a valid device bound to a driver (the caller's), and `mm` a
            // valid address space with users (`MmWithUser`), as `iommu_sva_bind_device()`
            // requires. It takes its own reference to `mm`.
            let handle = from_err_ptr(unsafe {
                bindings::iommu_sva_bind_device(dev.as_raw(), mm.as_raw())
            })?;
            let handle = Handle::new(handle).ok_or(ENODEV)?;
            // INVARIANT: `handle` is a successful bind of `dev`; the reference keeps `dev`
            // alive; the bond goes straight into a `Devres` of the current binding of `dev`
            // (if that fails, it is dropped here, while `dev` is bound).
            Devres::new(
                dev,
                Self {
                    handle,
                    dev: ARef::from(&**dev),
                },
            )
        }
        #[cfg(not(CONFIG_IOMMU_SVA))]
        {
            let _ = (dev, mm);
            Err(ENODEV)
        }
    }

    /// The PASID that tags the device's requests for the bound address space
    /// (`iommu_sva_get_pasid()`; fits in 20 bits).
    pub fn pasid(&self) -> u32 {
        #[cfg(CONFIG_IOMMU_SVA)]
        // SAFETY: By the type invariant, `handle` is a live bond.
        return unsafe { bindings::iommu_sva_get_pasid(self.handle.as_ptr()) };
        #[cfg(not(CONFIG_IOMMU_SVA))]
        match self.handle {}
    }

    /// The device the address space is bound to.
    pub fn device(&self) -> &Device {
        &self.dev
    }
}

impl Drop for Bond {
    fn drop(&mut self) {
        #[cfg(CONFIG_IOMMU_SVA)]
        // SAFETY: By the type invariant, `handle` is a live bond, unbound only here, and `dev`
        // is still bound to the driver that bound it (so its IOMMU group is attached); the
        // reference in `dev` keeps the device alive for the call.
        unsafe {
            bindings::iommu_sva_unbind_device(self.handle.as_ptr())
        };
    }
}
