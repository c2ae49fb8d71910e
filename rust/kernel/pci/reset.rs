// SPDX-License-Identifier: GPL-2.0

//! PCI drivers told of a reset of their device's function.
//!
//! When the PCI core resets a bound function (`pci_reset_function()`: a function-level reset
//! through the `reset` attribute in sysfs, VFIO, or a bus or slot reset), it calls the driver's
//! `reset_prepare()` before and `reset_done()` after (`struct pci_error_handlers`,
//! `pci_dev_save_and_disable()` and `pci_dev_restore()` in `drivers/pci/pci.c`). Without them
//! the core only warns ("resetting", "reset done") and the driver's idea of the device is then
//! wrong: a reset clears what the driver programmed.
//!
//! [`ResetAdapter`] registers a [`ResetDriver`] with both callbacks;
//! [`Device::try_reset_function`] asks for such a reset, for a driver whose device needs one
//! to work again (a device that halted asking for a function-level reset).
//!
//! # Examples
//!
//! ```ignore
//! use kernel::pci::{self, reset::{ResetAdapter, ResetDriver}};
//!
//! struct MyDriver;
//! impl pci::Driver for MyDriver { /* ... */ }
//! impl ResetDriver for MyDriver {
//!     fn reset_prepare<'bound>(dev: &'bound pci::Device<Core<'_>>, this: Pin<&Self::Data<'bound>>) {
//!         // Quiesce the device; save what the reset clears.
//!     }
//!     fn reset_done<'bound>(dev: &'bound pci::Device<Core<'_>>, this: Pin<&Self::Data<'bound>>) {
//!         // Program the device again.
//!     }
//! }
//! // Registered as `driver::Registration<ResetAdapter<MyDriver>>` instead of
//! // `driver::Registration<pci::Adapter<MyDriver>>`.
//! ```

use super::{dma_mask::DmaMaskDriver, dma_mask::WithDmaMask, Adapter, Device, Driver};
use crate::{
    bindings, device,
    driver::{DriverLayout, RegistrationOps},
    error::to_result,
    prelude::*,
    types::Opaque,
};
use core::marker::PhantomData;

/// A PCI driver with work to do around a reset of its device's function.
///
/// Both callbacks run with the device lock held (`device::Core`), while the device is bound
/// to the driver: after `probe()` succeeded and before `unbind()`. `reset_done()` always
/// follows `reset_prepare()`, also when the reset failed.
pub trait ResetDriver: Driver {
    /// Called before the function is reset: the device still works (memory space and bus
    /// mastering are still enabled); the driver stops using it and saves what the reset
    /// clears. The PCI core saves and restores the config space itself.
    fn reset_prepare<'bound>(dev: &'bound Device<device::Core<'_>>, this: Pin<&Self::Data<'bound>>);

    /// Called after the reset, with the config space restored (BARs, MSI-X, the command
    /// register): the device is in its reset state and the driver programs it again.
    fn reset_done<'bound>(dev: &'bound Device<device::Core<'_>>, this: Pin<&Self::Data<'bound>>);
}

/// The PCI driver `T` registered with [`ResetDriver`]'s callbacks as its `err_handler`'s
/// `reset_prepare` and `reset_done` (the other error handlers are not set).
///
/// Registers and unregisters as [`Adapter<T>`] does.
pub struct ResetAdapter<T: ResetDriver>(PhantomData<T>);

// SAFETY: The layout is `Adapter<T>`'s, which is correct for `bindings::pci_driver`.
unsafe impl<T: ResetDriver + 'static> DriverLayout for ResetAdapter<T> {
    type DriverType = bindings::pci_driver;
    type DriverData<'bound> = T::Data<'bound>;
    const DEVICE_DRIVER_OFFSET: usize = <Adapter<T> as DriverLayout>::DEVICE_DRIVER_OFFSET;
}

// SAFETY: `unregister` is `Adapter<T>`'s, valid after its `register`, which `register` calls.
unsafe impl<T: ResetDriver + 'static> RegistrationOps for ResetAdapter<T> {
    unsafe fn register(
        pdrv: &Opaque<Self::DriverType>,
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> Result {
        // SAFETY: It is safe to set the fields of `struct pci_driver` before it is registered;
        // `Adapter::register` sets other fields only. `ERROR_HANDLERS` is a constant in static
        // memory, valid for as long as the driver is registered.
        unsafe { (*pdrv.get()).err_handler = &Self::ERROR_HANDLERS };
        // SAFETY: The caller's guarantees for `pdrv` are `Adapter::register`'s.
        unsafe { <Adapter<T> as RegistrationOps>::register(pdrv, name, module) }
    }

    unsafe fn unregister(pdrv: &Opaque<Self::DriverType>) {
        // SAFETY: The caller's guarantees for `pdrv` are `Adapter::unregister`'s.
        unsafe { <Adapter<T> as RegistrationOps>::unregister(pdrv) }
    }
}

impl<T: ResetDriver + 'static> ResetAdapter<T> {
    const ERROR_HANDLERS: bindings::pci_error_handlers = bindings::pci_error_handlers {
        reset_prepare: Some(Self::reset_prepare_callback),
        reset_done: Some(Self::reset_done_callback),
        ..pin_init::zeroed()
    };

    extern "C" fn reset_prepare_callback(pdev: *mut bindings::pci_dev) {
        // INVARIANT: `pdev` is valid and locked for the duration of the callback.
        // SAFETY: The PCI core calls this with a valid `struct pci_dev` whose device lock it
        // holds, bound to this driver.
        let pdev = unsafe { &*pdev.cast::<Device<device::CoreInternal<'_>>>() };
        // SAFETY: The PCI core calls the reset callbacks of the driver the device is bound to,
        // with the device lock held: probe has succeeded (`Adapter`'s probe stored the
        // `Pin<KBox<T::Data>>` with `set_drvdata()`) and remove has not begun.
        let data = unsafe { pdev.as_ref().drvdata_borrow::<T::Data<'_>>() };
        T::reset_prepare(pdev, data);
    }

    extern "C" fn reset_done_callback(pdev: *mut bindings::pci_dev) {
        // INVARIANT: `pdev` is valid and locked for the duration of the callback.
        // SAFETY: As in `reset_prepare_callback`.
        let pdev = unsafe { &*pdev.cast::<Device<device::CoreInternal<'_>>>() };
        // SAFETY: As in `reset_prepare_callback`: the device is bound to this driver and locked.
        let data = unsafe { pdev.as_ref().drvdata_borrow::<T::Data<'_>>() };
        T::reset_done(pdev, data);
    }
}

/// A driver with its DMA masks set before probe is told of resets as the driver itself is.
impl<T: ResetDriver + DmaMaskDriver> ResetDriver for WithDmaMask<T> {
    fn reset_prepare<'bound>(
        dev: &'bound Device<device::Core<'_>>,
        this: Pin<&Self::Data<'bound>>,
    ) {
        T::reset_prepare(dev, this)
    }

    fn reset_done<'bound>(dev: &'bound Device<device::Core<'_>>, this: Pin<&Self::Data<'bound>>) {
        T::reset_done(dev, this)
    }
}

impl<Ctx: device::DeviceContext> Device<Ctx> {
    /// Resets the function as `pci_reset_function()` does (the bound driver's `reset_prepare`
    /// before, `reset_done` after, config space saved and restored), unless its device lock is
    /// held: then it does nothing and returns `EAGAIN` (`pci_try_reset_function()`). So it does
    /// not wait for the device lock, and can be called from where the lock's holder may be
    /// waiting (a work item the driver's unbind flushes): the caller tries again later, or
    /// gives up once its driver is going.
    ///
    /// Sleeps (a function-level reset waits for the function to come back).
    ///
    /// # Errors
    ///
    /// `EAGAIN` while the device lock is held (also by the caller: the callbacks of a bound
    /// driver hold it), `ENOTTY` when the function has no reset method, `EINVAL` for a
    /// function whose reset is not allowed, or the error of the reset.
    pub fn try_reset_function(&self) -> Result {
        // SAFETY: `self.as_raw()` is a valid `struct pci_dev` for the lifetime of `&self`.
        // `pci_try_reset_function()` takes the device lock with a trylock (failing with
        // `EAGAIN`), so it cannot deadlock on a lock its caller holds, and keeps no reference.
        to_result(unsafe { bindings::pci_try_reset_function(self.as_raw()) })
    }
}
