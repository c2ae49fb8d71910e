// SPDX-License-Identifier: GPL-2.0

//! PCI drivers whose devices get their DMA masks before `probe()` runs.
//!
//! A PCI device starts with 32-bit DMA masks; most drivers widen them first thing in `probe()`,
//! as C drivers do with `dma_set_mask_and_coherent()`. In Rust that call
//! ([`crate::dma::Device::dma_set_mask_and_coherent`]) is `unsafe`: it must not race with DMA
//! allocations or mappings of the device, which a driver's own code cannot show the compiler.
//! [`WithDmaMask`] makes it at the one point where nothing can race with it, before the
//! driver's `probe()`, so that the driver needs no `unsafe` for it.
//!
//! # Examples
//!
//! ```ignore
//! use kernel::pci::{self, dma_mask::{DmaMaskDriver, WithDmaMask}};
//! use kernel::dma::DmaMask;
//!
//! struct MyDriver;
//! impl pci::Driver for MyDriver { /* ... */ }
//! impl DmaMaskDriver for MyDriver {
//!     const DMA_MASK: DmaMask = DmaMask::new::<64>();
//! }
//! // Registered as `pci::Adapter<WithDmaMask<MyDriver>>`.
//! ```

use super::{Device, Driver, IdTable};
use crate::{device::Core, dma::Device as _, dma::DmaMask, prelude::*};
use core::marker::PhantomData;

/// A PCI driver that addresses memory with fixed DMA masks.
pub trait DmaMaskDriver: Driver {
    /// The streaming and the coherent DMA mask each device gets before
    /// [`Driver::probe`] runs.
    const DMA_MASK: DmaMask;
}

/// The PCI driver `T`, with [`DmaMaskDriver::DMA_MASK`] set on each device before `T`'s
/// `probe()`.
///
/// Register it in `T`'s place (`pci::Adapter<WithDmaMask<T>>`); it has `T`'s ID table, data
/// and callbacks. Probe fails with the error of `dma_set_mask_and_coherent()` (`EIO` when the
/// platform cannot address memory with the mask) before `T::probe()` is called.
pub struct WithDmaMask<T>(PhantomData<T>);

impl<T: DmaMaskDriver> Driver for WithDmaMask<T> {
    type IdInfo = T::IdInfo;
    type Data<'bound> = T::Data<'bound>;

    const ID_TABLE: IdTable<Self::IdInfo> = T::ID_TABLE;

    fn probe<'bound>(
        dev: &'bound Device<Core<'_>>,
        id_info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        pin_init::pin_init_scope(move || {
            // Before `T::probe()`: DMA allocation and mapping take the bound device, which no
            // code of this binding has been given yet (a previous binding's ended with it).
            // SAFETY: So nothing allocates or maps DMA memory for `dev` concurrently.
            unsafe { dev.dma_set_mask_and_coherent(T::DMA_MASK) }?;
            Ok(T::probe(dev, id_info))
        })
    }

    fn unbind<'bound>(dev: &'bound Device<Core<'_>>, this: Pin<&Self::Data<'bound>>) {
        T::unbind(dev, this)
    }
}
