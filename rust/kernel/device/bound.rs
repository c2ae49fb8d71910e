// SPDX-License-Identifier: GPL-2.0

//! Proof, in sleepable context, that a device is still bound to a driver.
//!
//! A [`Device<Bound>`] reference exists only inside a driver's bound scope (probe, the device
//! data, devres). Objects that outlive that scope, such as an open file of a character device
//! the driver created, cannot hold one. [`Devres`](crate::devres::Devres) makes a resource
//! revocable for them, but its access is an RCU read-side section, in which nothing may sleep;
//! allocating DMA memory or binding an address space for SVA sleeps and needs the device bound.
//!
//! A [`BoundGate`] is a reference to a device plus a lock that unbinding takes: while
//! [`BoundGate::with`] runs its closure, the driver cannot finish unbinding, so the closure gets
//! a [`Device<Bound>`]; once the driver has unbound, [`BoundGate::with`] fails with `ENODEV`.
//! Unbinding waits for a running closure, so closures should be short, and must not wait for
//! the device's unbinding themselves.

use crate::{
    device::{Bound, Device},
    devres, new_mutex,
    prelude::*,
    sync::{aref::ARef, Arc, Mutex},
};

/// A device, and whether its driver is still bound.
#[pin_data]
struct Gate {
    dev: ARef<Device>,
    /// True until the driver that made the gate unbinds (set false by [`Unbind`]).
    #[pin]
    bound: Mutex<bool>,
}

/// Clears [`Gate::bound`] when dropped: registered with devres, so dropped while the driver
/// unbinds, before the device is unbound.
struct Unbind(Arc<Gate>);

impl Drop for Unbind {
    fn drop(&mut self) {
        *self.0.bound.lock() = false;
    }
}

/// A device reference that can run code while the device is bound to its driver.
///
/// # Invariants
///
/// While `gate.bound` is locked and true, the devres action of the driver binding that made the
/// gate has not completed, so the device is bound to that driver.
#[derive(Clone)]
pub struct BoundGate {
    gate: Arc<Gate>,
}

impl BoundGate {
    /// Makes a gate for `dev`, open until the current driver binding of `dev` ends.
    ///
    /// Returns `ENOMEM` when memory for it or its devres action cannot be had.
    ///
    /// A gate closes when its device's driver unbinds; here, a faux device's:
    ///
    /// ```
    /// use kernel::{device::{bound::BoundGate, Bound, Device}, faux, prelude::*};
    ///
    /// let reg = faux::Registration::new(c"bound_gate_doctest", None)?;
    /// let fdev: &faux::Device<Bound> = reg.as_ref();
    /// let dev: &Device<Bound> = fdev.as_ref();
    /// let gate = BoundGate::new(dev)?;
    /// assert_eq!(gate.with(|d| d.name().to_bytes().len())?, 18);
    /// drop(reg);
    /// assert!(gate.with(|_| ()) == Err(ENODEV));
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{bound::BoundGate, Bound, Device}, prelude::*};
    ///
    /// fn probe_part(dev: &Device<Bound>) -> Result<BoundGate> {
    ///     let gate = BoundGate::new(dev)?;
    ///     // Later, from any sleepable context, for example a file's `open`:
    ///     let name_len = gate.with(|dev| dev.name().to_bytes().len())?;
    ///     Ok(gate)
    /// }
    /// ```
    pub fn new(dev: &Device<Bound>) -> Result<Self> {
        let gate = Arc::pin_init(
            pin_init!(Gate {
                dev: ARef::from(&**dev),
                bound <- new_mutex!(true, "BoundGate::bound"),
            }),
            GFP_KERNEL,
        )?;
        devres::register(dev, Unbind(gate.clone()), GFP_KERNEL)?;
        // INVARIANT: The devres action (`Unbind`) clears `bound` under its lock when the
        // driver binding of `dev` ends; until then `bound` is true.
        Ok(Self { gate })
    }

    /// Runs `f` with the device while it is bound to the driver that made the gate; the driver
    /// cannot finish unbinding until `f` returns. Must be called in sleepable context.
    ///
    /// Returns `ENODEV` once that driver has unbound.
    pub fn with<R>(&self, f: impl FnOnce(&Device<Bound>) -> R) -> Result<R> {
        let bound = self.gate.bound.lock();
        if !*bound {
            return Err(ENODEV);
        }
        // SAFETY: By the type invariant, the device stays bound while `bound` is locked and
        // true, which it is until `bound` is dropped after `f` returns.
        let dev = unsafe { self.gate.dev.as_bound() };
        Ok(f(dev))
    }

    /// The device, bound or not.
    pub fn device(&self) -> &Device {
        &self.gate.dev
    }
}
