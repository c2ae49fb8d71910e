// SPDX-License-Identifier: GPL-2.0

//! Proof, in sleepable context, that a device is still bound to a driver.
//!
//! A [`Device<Bound>`] reference exists only inside a driver's bound scope (probe, the device
//! data, devres). Objects that outlive that scope, such as an open file of a character device
//! the driver created, cannot hold one. [`Devres`](crate::devres::Devres) makes a resource
//! revocable for them, but its access is an RCU read-side section, in which nothing may sleep;
//! allocating DMA memory or binding an address space for SVA sleeps and needs the device bound.
//!
//! A [`BoundGate`] is a reference to a device plus an SRCU read-side section that unbinding
//! waits for: while [`BoundGate::with`] runs its closure, the driver cannot finish unbinding,
//! so the closure gets a [`Device<Bound>`]; once the driver has unbound, [`BoundGate::with`]
//! fails with `ENODEV`. Unbinding waits for running closures, so closures should be short,
//! and must not wait for the device's unbinding themselves.
//!
//! Closures do not exclude each other (SRCU readers never wait for one another), so a
//! closure may take locks that another closure's caller holds: for example one closure binds
//! an address space for SVA (`iommu_sva_bind_device()` takes its `mmap_lock`) while another
//! runs inside `mmap` (with that `mmap_lock` held).

use crate::{
    device::{Bound, Device},
    devres, new_srcu,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Acquire, Atomic, Relaxed},
        Arc, Srcu,
    },
};

/// A device, and whether its driver is still bound.
#[pin_data]
struct Gate {
    dev: ARef<Device>,
    /// True until the driver that made the gate unbinds (set false by [`Unbind`]).
    bound: Atomic<bool>,
    /// [`BoundGate::with`]'s closures run in its read-side sections.
    #[pin]
    srcu: Srcu,
}

/// Clears [`Gate::bound`] and waits for the closures running then when dropped: registered
/// with devres, so dropped while the driver unbinds, before the device is unbound.
struct Unbind(Arc<Gate>);

impl Drop for Unbind {
    fn drop(&mut self) {
        self.0.bound.store(false, Relaxed);
        // Every closure that saw `bound` true started its read-side section before this.
        self.0.srcu.synchronize();
    }
}

/// A device reference that can run code while the device is bound to its driver.
///
/// # Invariants
///
/// While an SRCU read-side section of `gate.srcu` that read `gate.bound` as true is running,
/// the devres action of the driver binding that made the gate has not completed (it clears
/// `bound`, then waits for those sections), so the device is bound to that driver.
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
            try_pin_init!(Gate {
                dev: ARef::from(&**dev),
                bound: Atomic::new(true),
                srcu <- new_srcu!("BoundGate::srcu"),
            }? Error),
            GFP_KERNEL,
        )?;
        devres::register(dev, Unbind(gate.clone()), GFP_KERNEL)?;
        // INVARIANT: The devres action (`Unbind`) clears `bound`, then waits for the read-side
        // sections, when the driver binding of `dev` ends; until then `bound` is true.
        Ok(Self { gate })
    }

    /// Runs `f` with the device while it is bound to the driver that made the gate; the driver
    /// cannot finish unbinding until `f` returns. Must be called in sleepable context. Calls
    /// may run at the same time and may nest.
    ///
    /// Returns `ENODEV` once that driver has unbound.
    pub fn with<R>(&self, f: impl FnOnce(&Device<Bound>) -> R) -> Result<R> {
        let guard = self.gate.srcu.read_lock();
        // `srcu_read_lock()` orders this load after the section's start (it implies a full
        // barrier), so a load that sees `true` is in a section `Unbind` waits for.
        if !self.gate.bound.load(Acquire) {
            return Err(ENODEV);
        }
        // SAFETY: By the type invariant, the device stays bound while the read-side section
        // that read `bound` as true runs, which it does until `guard` is dropped after `f`
        // returns.
        let dev = unsafe { self.gate.dev.as_bound() };
        let r = f(dev);
        drop(guard);
        Ok(r)
    }

    /// The device, bound or not.
    pub fn device(&self) -> &Device {
        &self.gate.dev
    }
}
