// SPDX-License-Identifier: GPL-2.0

//! Misc devices named at run time, whose `open` can reach data of their registration.
//!
//! [`MiscDeviceOptions`] takes a `&'static` name and [`MiscDevice::open`] only gets the
//! registration, so a driver with one misc device per object (a device per work queue, say)
//! cannot name them at run time nor tell in `open` which object was opened. A
//! [`DataRegistration`] owns its name and a piece of data, and [`DataRegistration::data`]
//! returns that data from the registration `open` is given.
//!
//! Such devices can also implement `poll` ([`MiscDeviceWithData::poll`]), which
//! [`MiscDevice`] does not offer.

use super::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration, MiscdeviceVTable};
use crate::{
    bindings,
    error::to_result,
    fs::File,
    prelude::*,
    str::CString,
    sync::poll::PollTable,
    types::{ForeignOwnable, Opaque},
};
use core::marker::PhantomData;

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

    /// Whether the device implements [`Self::poll`]; without it, `poll(2)` and `select(2)`
    /// report the file always readable and writable (the VFS default).
    const HAS_POLL: bool = false;

    /// Handles `poll(2)`: registers the wait queues that signal a change with `table`
    /// ([`PollTable::register_wait`]) and returns the events ready now (`POLLIN`, `POLLNVAL`,
    /// ... from `bindings`, as a `__poll_t` mask).
    fn poll(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _table: &PollTable<'_>,
    ) -> u32 {
        0
    }
}

/// The file operations of a [`MiscDeviceWithData`]: those of [`MiscDevice`], plus `poll`.
struct DataVTable<T: MiscDeviceWithData>(PhantomData<T>);

impl<T: MiscDeviceWithData> DataVTable<T> {
    /// # Safety
    ///
    /// `file` must be a file of a `MiscDeviceRegistration<T>` between its `open` and `release`,
    /// and `table` null or a `poll_table` valid for the duration of the call.
    unsafe extern "C" fn poll(
        file: *mut bindings::file,
        table: *mut bindings::poll_table,
    ) -> bindings::__poll_t {
        // SAFETY: The poll call of a file can access the private data.
        let private = unsafe { (*file).private_data };
        // SAFETY: `open` stored the result of `into_foreign` in the private data and `release`
        // takes it back with `from_foreign`; `poll` runs between those two calls.
        let device = unsafe { <T::Ptr as ForeignOwnable>::borrow(private) };
        // SAFETY:
        // * The file is valid for the duration of this call.
        // * There is no active fdget_pos region on the file on this thread.
        let file = unsafe { File::from_raw_file(file) };
        // SAFETY: The caller passes a null or valid `poll_table` for the duration of the call.
        let table = unsafe { PollTable::from_raw(table) };
        T::poll(device, file, &table)
    }

    const VTABLE: bindings::file_operations = bindings::file_operations {
        poll: if T::HAS_POLL { Some(Self::poll) } else { None },
        ..MiscdeviceVTable::<T>::VTABLE
    };
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
        let reg = try_pin_init!(MiscDeviceRegistration::<T> {
            inner <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                let mut misc = MiscDeviceOptions { name: static_name }.into_raw::<T>();
                misc.fops = &DataVTable::<T>::VTABLE;
                // SAFETY: The initializer can write to the provided `slot`.
                unsafe { slot.write(misc) };
                // SAFETY: The slot holds a filled-in `struct miscdevice` whose operations are
                // valid for a `MiscDeviceRegistration<T>`; it is pinned, and deregistered by
                // `MiscDeviceRegistration`'s destructor before its memory goes.
                // INVARIANT: On success, `slot` holds a registered misc device.
                to_result(unsafe { bindings::misc_register(slot) })
            }),
            _t: PhantomData,
        });
        try_pin_init!(Self {
            reg <- reg,
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

    /// The misc device's minor number (its major is `MISC_MAJOR`).
    pub fn minor(&self) -> u32 {
        // SAFETY: `reg` holds a registered misc device, whose `minor` the misc core set in
        // `misc_register()` and does not change while it is registered.
        let m = unsafe { (*self.reg.as_raw()).minor };
        m as u32
    }
}
