// SPDX-License-Identifier: GPL-2.0

//! Interrupt vectors of a PCI device with a threaded handler, released by devres.
//!
//! [`ThreadedRegistration::new`] is unsafe because forgetting the registration would leave the
//! handler registered after the device's binding ends, and the handlers of
//! [`super::IrqVectorRegistration`] borrow it, so a driver can hold neither in its `'static`
//! state. [`Device::request_threaded_vector_irq`] hands both to devres instead: they are
//! released when the driver unbinds, the handler first, whatever the driver does.

use super::{Device, IrqTypes};
use crate::{
    bindings,
    device::Bound,
    devres,
    error::to_result,
    irq::{Flags, IrqRequest, ThreadedHandler, ThreadedRegistration},
    prelude::*,
};

/// Frees a PCI device's interrupt vectors when dropped.
///
/// # Invariants
///
/// `pdev` is a bound PCI device with vectors allocated by `pci_alloc_irq_vectors()`, and this
/// value is dropped before the device's binding ends (it is only ever owned by devres).
struct Vectors(*mut bindings::pci_dev);

// SAFETY: `pci_free_irq_vectors()` may be called from any thread.
unsafe impl Send for Vectors {}

impl Drop for Vectors {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, the device is valid and has vectors allocated.
        unsafe { bindings::pci_free_irq_vectors(self.0) };
    }
}

/// A threaded handler on one vector, and the vectors; fields drop in order, so the handler is
/// freed before the vectors.
#[pin_data]
struct VectorIrq<T: ThreadedHandler + Send + 'static> {
    #[pin]
    reg: ThreadedRegistration<'static, T>,
    _vectors: Vectors,
}

impl Device<Bound> {
    /// Allocates between `min` and `max` interrupt vectors of `types` (see
    /// [`Device::alloc_irq_vectors`]) and requests threaded handler `handler`, named `name`,
    /// on vector `index`. Both are released when the driver unbinds (devres): the handler, then
    /// the vectors.
    ///
    /// Returns the number of vectors allocated. Errors: those of `pci_alloc_irq_vectors()`
    /// (`ENOSPC` when fewer than `min` are available), `EINVAL` when `index` is not an
    /// allocated vector, those of `request_threaded_irq()`, `ENOMEM`.
    #[allow(clippy::too_many_arguments)]
    pub fn request_threaded_vector_irq<T: ThreadedHandler + Send + 'static>(
        &self,
        min: u32,
        max: u32,
        types: IrqTypes,
        index: u32,
        flags: Flags,
        name: &'static CStr,
        handler: impl PinInit<T, Error> + 'static,
    ) -> Result<u32> {
        // SAFETY: `self.as_raw()` is a valid, bound PCI device; the function checks the rest.
        let n = unsafe { bindings::pci_alloc_irq_vectors(self.as_raw(), min, max, types.as_raw()) };
        to_result(n)?;
        // INVARIANT: The vectors were allocated; `vectors` goes to devres below, or is dropped
        // here on error, in both cases while the device is bound.
        let vectors = Vectors(self.as_raw());
        // SAFETY: `self.as_raw()` is a valid PCI device with allocated vectors.
        let irq = unsafe { bindings::pci_irq_vector(self.as_raw(), index) };
        if irq < 0 {
            return Err(Error::from_errno(irq));
        }
        // SAFETY: `irq` is the Linux IRQ number of one of `self`'s vectors.
        let req = unsafe { IrqRequest::new(self.as_ref(), irq as u32) };
        // SAFETY: `IrqRequest`'s lifetime only ties it to the device's bound scope. The
        // registration made from it is owned by devres, which drops it while the device is
        // still bound, so it never outlives that scope.
        let req: IrqRequest<'static> = unsafe { core::mem::transmute(req) };
        let init = try_pin_init!(VectorIrq::<T> {
            _vectors: vectors,
            // SAFETY: The registration is owned by devres, which drops it: it is never
            // forgotten.
            reg <- unsafe { ThreadedRegistration::new(req, flags, name, handler) },
        }? Error);
        devres::register(self.as_ref(), init, GFP_KERNEL)?;
        Ok(n as u32)
    }
}
