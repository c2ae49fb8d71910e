// SPDX-License-Identifier: GPL-2.0

//! Misc devices named at run time, whose `open` can reach data of their registration.
//!
//! [`MiscDeviceOptions`] takes a `&'static` name and [`MiscDevice::open`] only gets the
//! registration, so a driver with one misc device per object (a device per work queue, say)
//! cannot name them at run time nor tell in `open` which object was opened. A
//! [`DataRegistration`] owns its name and a piece of data, and [`DataRegistration::data`]
//! returns that data from the registration `open` is given.

use super::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration};
use crate::{prelude::*, str::CString};

/// A [`MiscDevice`] whose registrations carry data.
///
/// # Safety
///
/// Every [`MiscDeviceRegistration<Self>`] must be made by [`DataRegistration::register`] (and
/// none by [`MiscDeviceRegistration::register`]), so that each one is the first field of a
/// [`DataRegistration<Self>`].
pub unsafe trait MiscDeviceWithData: MiscDevice {
    /// The data of a registration.
    type RegistrationData: Send + Sync;
}

/// A misc device registration with its own name and data.
///
/// The device node is `/dev/<name>`; a `/` in the name makes a subdirectory (devtmpfs turns the
/// `!` of the device name back into `/`).
///
/// # Invariants
///
/// - `reg` is the first field of a `repr(C)` struct, so a `&MiscDeviceRegistration<T>` of a
///   `DataRegistration<T>` is also a pointer to the `DataRegistration<T>`.
/// - `name`'s buffer is what the registration names the device with; it lives until after the
///   device is deregistered (fields drop in order: `reg` first).
#[repr(C)]
#[pin_data]
pub struct DataRegistration<T: MiscDeviceWithData> {
    #[pin]
    reg: MiscDeviceRegistration<T>,
    data: T::RegistrationData,
    name: CString,
}

impl<T: MiscDeviceWithData> DataRegistration<T> {
    /// Registers a misc device named `name` (with dynamic minor) carrying `data`.
    ///
    /// Returns the error of `misc_register()` (`EBUSY` for a name in use, `ENOMEM`).
    pub fn register(name: CString, data: T::RegistrationData) -> impl PinInit<Self, Error> {
        // SAFETY: The name's characters live in a heap buffer that moving `name` does not move,
        // and that `Self` owns and frees only after `reg` (first field) has deregistered the
        // device, so the reference stays valid for as long as the misc core uses it.
        let static_name: &'static CStr = unsafe { &*core::ptr::from_ref::<CStr>(&name) };
        try_pin_init!(Self {
            reg <- MiscDeviceRegistration::register(MiscDeviceOptions { name: static_name }),
            data,
            name,
        })
    }

    /// The data of the registration, for instance in [`MiscDevice::open`].
    pub fn data(reg: &MiscDeviceRegistration<T>) -> &T::RegistrationData {
        // SAFETY: By the safety requirement of `MiscDeviceWithData`, `reg` is the first field of
        // a `DataRegistration<T>`, which is `repr(C)`, so the pointer is also one to that
        // `DataRegistration<T>`; it is borrowed for as long as `reg` is.
        let this = unsafe { &*core::ptr::from_ref(reg).cast::<Self>() };
        &this.data
    }

    /// The registration's own data.
    pub fn own_data(&self) -> &T::RegistrationData {
        &self.data
    }

    /// The misc device's name.
    pub fn name(&self) -> &CStr {
        &self.name
    }
}
