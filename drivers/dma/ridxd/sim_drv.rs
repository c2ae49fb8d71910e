// SPDX-License-Identifier: GPL-2.0

//! Model devices as the driver sees them: each one a faux device, probed like a PCI device
//! through the [`DeviceIo`] seam.
//!
//! The module parameters `sim_dsa1` and `sim_dsa2` say how many DSA 1.0 and DSA 2.0 model
//! devices to create at load (faux devices `ridxd_sim0`, `ridxd_sim1`, ...).

use crate::{
    device::DsaDevice,
    hwif::DeviceIo,
    sim::{Generation, SimDevice, SimHandle},
};
use kernel::{
    device::{Bound, Device},
    faux,
    prelude::*,
    str::CString,
    sync::Arc,
};

/// The [`DeviceIo`] seam for a model device.
pub(crate) struct SimIo(Arc<SimDevice>);

impl DeviceIo for SimIo {
    fn read32(&self, off: usize) -> u32 {
        self.0.read32(off)
    }

    fn read64(&self, off: usize) -> u64 {
        self.0.read64(off)
    }

    fn write32(&self, off: usize, val: u32) {
        self.0.write32(off, val)
    }

    fn write64(&self, off: usize, val: u64) {
        self.0.write64(off, val)
    }
}

/// One model device and the driver's state for it. Fields drop in order: the driver lets go
/// of the device first, then the faux device goes, then the model.
pub(crate) struct SimInstance {
    _dsa: DsaDevice<SimIo>,
    _faux: faux::Registration,
    _model: SimHandle,
}

/// The generic device of a faux device.
fn faux_device(reg: &faux::Registration) -> &Device {
    let fdev: &faux::Device<Bound> = reg.as_ref();
    let dev: &Device<Bound> = fdev.as_ref();
    dev
}

impl SimInstance {
    /// Creates model device number `index` of `generation` and probes it.
    pub(crate) fn new(index: usize, generation: Generation) -> Result<Self> {
        let model = SimHandle::new(generation)?;
        let name = CString::try_from_fmt(fmt!("ridxd_sim{index}"))?;
        let faux = faux::Registration::new(&name, None)?;
        let dsa = DsaDevice::probe(faux_device(&faux), SimIo(model.dev().clone()))?;
        Ok(Self {
            _dsa: dsa,
            _faux: faux,
            _model: model,
        })
    }
}

/// Creates `dsa1` DSA 1.0 and `dsa2` DSA 2.0 model devices.
pub(crate) fn create(dsa1: u32, dsa2: u32) -> Result<KVec<SimInstance>> {
    let mut v = KVec::new();
    let gens = Iterator::chain(
        (0..dsa1).map(|_| Generation::Dsa1),
        (0..dsa2).map(|_| Generation::Dsa2),
    );
    for (i, g) in gens.enumerate() {
        v.push(SimInstance::new(i, g)?, GFP_KERNEL)?;
    }
    Ok(v)
}

#[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
#[kunit_tests(ridxd_sim_probe)]
mod tests {
    use super::*;
    use crate::{
        device,
        regs::{cmd, off, state},
    };

    #[test]
    fn probe_both_generations() -> Result {
        let a = SimInstance::new(100, Generation::Dsa1)?;
        let c = a._dsa.caps();
        assert_eq!(c.version, 0x100);
        assert_eq!(c.num_wqs(), 8);
        assert_eq!(c.num_engines(), 4);
        assert_eq!(c.num_groups(), 4);
        assert!(c.evl_entry_size().is_none());
        assert!(!c.wq_prs_disable());
        assert!(c.configurable());

        let b = SimInstance::new(101, Generation::Dsa2)?;
        let c = b._dsa.caps();
        assert_eq!(c.version, 0x200);
        assert_eq!(c.evl_entry_size(), Some(64));
        assert!(c.wq_prs_disable());
        Ok(())
    }

    #[test]
    fn commands_through_the_seam() -> Result {
        let s = SimInstance::new(102, Generation::Dsa2)?;
        let dev = faux_device(&s._faux);
        let io = s._dsa.io();
        assert_eq!(io.read32(off::GENSTS), state::DISABLED);
        // Nothing configured: the device refuses to enable, and the driver says so.
        assert!(device::command(dev, io, cmd::ENABLE_DEVICE, 0) == Err(EIO));
        // A command that succeeds.
        assert_eq!(device::command(dev, io, cmd::RESET_DEVICE, 0), Ok(0));
        assert_eq!(io.read32(off::GENSTS), state::DISABLED);
        Ok(())
    }
}
