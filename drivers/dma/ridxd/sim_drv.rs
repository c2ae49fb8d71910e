// SPDX-License-Identifier: GPL-2.0

//! Model devices as the driver sees them: each one a faux device, probed like a PCI device
//! through the [`DeviceIo`] seam.
//!
//! The module parameters `sim_dsa1` and `sim_dsa2` say how many DSA 1.0 and DSA 2.0 model
//! devices to create at load (faux devices `ridxd_sim0`, `ridxd_sim1`, ...).
//!
//! Tests create and remove model devices at run time, netdevsim-style, through files in the
//! module's debugfs root ([`SimDevices`]):
//!
//! ```text
//! /sys/kernel/debug/ridxd/
//!     new_device      write "<generation> [<configure>]": a new model device, DSA 1.0 for
//!                     generation 1, DSA 2.0 for 2; with configure 1 it gets the default
//!                     configuration and is enabled, with 0 it is left disabled (default:
//!                     the sim_auto_config parameter)
//!     del_device      write "dsa<N>" (or "<N>"): model device N goes as on a PCI unbind
//!     sim_devices     one line per model device: "dsa<N> ridxd_sim<N> <version>"
//! ```
//!
//! Each model device has a debugfs directory of its own beside the admin interface's,
//! `/sys/kernel/debug/ridxd/ridxd_sim<N>/`, for what only a model can do:
//!
//! ```text
//!     irq_delay_ms    how long the device's interrupt messages take to arrive (0: at once;
//!                     read-write; see `SimDevice::set_irq_delay`)
//!     inject_halt     write a GENSTS.reset_type (0 software, 1 FLR, 2 warm, 3 cold): the
//!                     device halts with a software error asking for that reset
//! ```

use crate::{
    hw::Descriptor,
    hwif::{DeviceBus, DeviceIo, DmaBuf, IrqHandler, SvaBond},
    instance::{BringUp, Instance},
    regs,
    sim::{mem::DmaRegion, Generation, IrqSink, Portal, SimDevice, SimHandle},
};
use kernel::{
    debugfs::{Dir, File},
    device::{Bound, Device},
    faux,
    mm::{
        pfnmap::{FaultResult, PfnFault},
        MmWithUser,
    },
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    str::CString,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
    time::Delta,
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

/// A driver buffer mapped for a model device; unmapped when dropped.
struct SimDma {
    region: Arc<DmaRegion>,
    bus: u64,
    dev: Arc<SimDevice>,
}

impl DmaBuf for SimDma {
    fn bus_addr(&self) -> u64 {
        self.bus
    }

    fn len(&self) -> usize {
        self.region.len()
    }

    fn read(&self, off: usize, out: &mut [u8]) -> Result {
        self.region.read(off, out)
    }
}

impl Drop for SimDma {
    fn drop(&mut self) {
        let _ = self.dev.dma_unmap(self.bus);
    }
}

/// Delivers a model device's interrupts to the driver's handler.
struct SimIrq(Arc<dyn IrqHandler>);

impl IrqSink for SimIrq {
    fn fire(&self, vector: u16) {
        self.0.irq(vector);
    }
}

impl DeviceBus for SimIo {
    fn alloc_dma(&self, len: usize) -> Result<KBox<dyn DmaBuf>> {
        let region = DmaRegion::new(len.next_multiple_of(PAGE_SIZE))?;
        let bus = self.0.dma_map(region.clone())?;
        Ok(KBox::new(
            SimDma {
                region,
                bus,
                dev: self.0.clone(),
            },
            GFP_KERNEL,
        )?)
    }

    fn connect_irq(&self, handler: Option<Arc<dyn IrqHandler>>) -> Result {
        match handler {
            Some(h) => {
                let sink: Arc<dyn IrqSink> = Arc::new(SimIrq(h), GFP_KERNEL)?;
                self.0.set_irq_sink(Some(sink));
            }
            None => self.0.disconnect_irq(),
        }
        Ok(())
    }

    fn sva_bind(&self, mm: &MmWithUser) -> Result<KBox<dyn SvaBond>> {
        let pasid = self.0.bind_mm(mm)?;
        Ok(KBox::new(
            SimBond {
                dev: self.0.clone(),
                pasid,
            },
            GFP_KERNEL,
        )?)
    }

    fn user_submission_safe(&self) -> bool {
        // As for every DSA part (INTEL-SA-01084), 1.0 and 2.0.
        false
    }

    fn shared_wq_supported(&self) -> bool {
        // The model's portals are calls, whatever the CPU implements.
        true
    }

    fn portals_mappable(&self) -> bool {
        // The model's portals are calls into the model, not a page of memory.
        false
    }

    fn stop_bus_mastering(&self) -> Result {
        self.0.stop_bus_mastering();
        Ok(())
    }

    fn reset_function(&self) -> Result {
        // A faux device has no function to reset.
        Err(EOPNOTSUPP)
    }

    fn fault_portal(&self, _wq: usize, _vmf: &PfnFault<'_>) -> FaultResult {
        FaultResult::SIGBUS
    }

    fn submit(&self, wq: usize, shared: bool, desc: &Descriptor) -> Result {
        if shared {
            // ENQCMDS carries the descriptor's own privilege bit; `write()`, like idxd's,
            // uses the limited portal.
            self.0
                .enqcmd(wq, desc, desc.pasid(), desc.priv_(), Portal::Limited)
        } else {
            self.0.movdir64b(wq, desc);
            Ok(())
        }
    }
}

/// An address space bound to a model device (its PASID table); unbound when dropped.
struct SimBond {
    dev: Arc<SimDevice>,
    pasid: u32,
}

impl SvaBond for SimBond {
    fn pasid(&self) -> u32 {
        self.pasid
    }
}

impl Drop for SimBond {
    fn drop(&mut self) {
        let _ = self.dev.unbind_pasid(self.pasid);
    }
}

/// One model device and the driver's state for it. The fields are held for their `Drop`, in
/// order: the driver lets go of the device first ([`Instance`]'s teardown), then the faux
/// device goes, then the model.
pub(crate) struct SimInstance {
    /// The device's number: `dsa<index>`.
    index: usize,
    generation: Generation,
    /// The model's own debugfs files; removed first.
    _knobs: Option<SimKnobs>,
    _inst: Instance,
    _faux: faux::Registration,
    _model: SimHandle,
}

/// What the model's debugfs files refer to.
#[derive(Clone)]
struct KnobData {
    dev: Arc<SimDevice>,
    /// The delay last set, in ms (the model keeps it as a [`Delta`]).
    irq_delay_ms: Arc<Atomic<u32>>,
}

/// The model's debugfs directory, `ridxd_sim<N>/`; removed when dropped.
struct SimKnobs {
    _files: KVec<Pin<KBox<File<KnobData>>>>,
    _dir: Dir,
}

impl SimKnobs {
    /// Creates `name/` under `root` with the model's files.
    fn new(root: &Dir, name: &CStr, dev: &Arc<SimDevice>) -> Result<Self> {
        let dir = root.subdir(name);
        let delay = crate::module_parameters::sim_irq_delay_ms.value();
        dev.set_irq_delay(Delta::from_millis(i64::from(delay)));
        let data = KnobData {
            dev: dev.clone(),
            irq_delay_ms: Arc::new(Atomic::new(delay), GFP_KERNEL)?,
        };
        let halt_data = KnobData {
            dev: dev.clone(),
            irq_delay_ms: data.irq_delay_ms.clone(),
        };
        let mut files = KVec::new();
        files.push(
            KBox::pin_init(
                dir.read_write_callback_file(
                    c"irq_delay_ms",
                    data,
                    &|k: &KnobData, f| writeln!(f, "{}", k.irq_delay_ms.load(Relaxed)),
                    &|k: &KnobData, r| {
                        let ms = crate::admin::input_u32(r)?;
                        k.irq_delay_ms.store(ms, Relaxed);
                        k.dev.set_irq_delay(Delta::from_millis(i64::from(ms)));
                        Ok(())
                    },
                ),
                GFP_KERNEL,
            )?,
            GFP_KERNEL,
        )?;
        files.push(
            KBox::pin_init(
                dir.write_callback_file(c"inject_halt", halt_data, &|k: &KnobData, r| {
                    // GENSTS.reset_type's encoding.
                    let reset_type = match crate::admin::input_u32(r)? {
                        0 => regs::ResetType::Software,
                        1 => regs::ResetType::Flr,
                        2 => regs::ResetType::Warm,
                        3 => regs::ResetType::Cold,
                        _ => return Err(EINVAL),
                    };
                    k.dev.inject_halt(reset_type);
                    Ok(())
                }),
                GFP_KERNEL,
            )?,
            GFP_KERNEL,
        )?;
        Ok(Self {
            _files: files,
            _dir: dir,
        })
    }
}

/// The generic device of a faux device.
fn faux_device(reg: &faux::Registration) -> &Device {
    let fdev: &faux::Device<Bound> = reg.as_ref();
    let dev: &Device<Bound> = fdev.as_ref();
    dev
}

impl SimInstance {
    /// Creates model device number `index` of `generation` (faux device `ridxd_sim<index>`)
    /// and brings it up like a PCI device ([`Instance::new`]), with an admin directory
    /// `dsa<index>` under `admin_root` if given; with `default_config`, configured and
    /// enabled.
    ///
    /// Returns `ENOMEM`, the faux device's registration errors, and [`Instance::new`]'s.
    pub(crate) fn new(
        index: usize,
        generation: Generation,
        default_config: bool,
        admin_root: Option<&Dir>,
    ) -> Result<Self> {
        Self::new_with(index, generation, default_config, admin_root, |_| {})
    }

    /// [`SimInstance::new`] of a model device that `program` sets up before the driver
    /// probes it (KUnit: [`SimDevice::program_as_firmware`], say).
    ///
    /// [`SimDevice::program_as_firmware`]: crate::sim::SimDevice::program_as_firmware
    #[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
    pub(crate) fn new_programmed(
        index: usize,
        generation: Generation,
        program: impl FnOnce(&Arc<SimDevice>),
    ) -> Result<Self> {
        Self::new_with(index, generation, false, None, program)
    }

    fn new_with(
        index: usize,
        generation: Generation,
        default_config: bool,
        admin_root: Option<&Dir>,
        program: impl FnOnce(&Arc<SimDevice>),
    ) -> Result<Self> {
        let model = SimHandle::new(generation)?;
        program(model.dev());
        let name = CString::try_from_fmt(fmt!("ridxd_sim{index}"))?;
        let faux = faux::Registration::new(&name, None)?;
        let io = KBox::new(SimIo(model.dev().clone()), GFP_KERNEL)?;
        let inst = Instance::new(
            faux_device(&faux),
            io,
            BringUp {
                index,
                admin_root,
                default_config,
            },
        )?;
        let knobs = match admin_root {
            Some(root) => Some(SimKnobs::new(root, &name, model.dev())?),
            None => None,
        };
        Ok(Self {
            index,
            generation,
            _knobs: knobs,
            _inst: inst,
            _faux: faux,
            _model: model,
        })
    }

    /// The driver's state for the device (for tests).
    #[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
    pub(crate) fn inst(&self) -> &Instance {
        &self._inst
    }

    /// The faux device (for tests).
    #[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
    pub(crate) fn dev(&self) -> &Device {
        faux_device(&self._faux)
    }

    /// The model device (for tests).
    #[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
    pub(crate) fn model(&self) -> &Arc<SimDevice> {
        self._model.dev()
    }
}

/// The model devices of the module: those of `sim_dsa1`/`sim_dsa2`, and those tests add and
/// remove through `new_device`/`del_device` in the debugfs root (see the module docs).
///
/// Fields drop in order: the files first (a write in progress finishes, and their references
/// to the list go), then the list, whose last reference this is, with the devices in the order
/// they were created.
pub(crate) struct SimDevices {
    _files: KVec<Pin<KBox<File<Arc<SimList>>>>>,
    _list: Arc<SimList>,
}

/// What `new_device`, `del_device` and `sim_devices` work on.
#[pin_data]
struct SimList {
    /// Where new devices' admin and model directories go.
    root: Dir,
    /// Whether a device of `new_device` gets the default configuration unless the write says.
    auto: bool,
    /// The devices, in creation order. Held while one is created or removed, so that two
    /// writers cannot take the same one; nothing a device's bring-up or teardown calls takes it.
    #[pin]
    devices: Mutex<KVec<SimInstance>>,
}

/// A request written to `new_device`: `"<generation> [<configure>]"` (see the module docs).
///
/// Returns the generation and whether to configure and enable the device (`auto` where the
/// write does not say); `EINVAL` for anything else.
pub(crate) fn parse_new_device(line: &str, auto: bool) -> Result<(Generation, bool)> {
    let mut words = line.split_ascii_whitespace();
    let generation = match words.next() {
        Some("1") => Generation::Dsa1,
        Some("2") => Generation::Dsa2,
        _ => return Err(EINVAL),
    };
    let configure = match words.next() {
        None => auto,
        Some("0") => false,
        Some("1") => true,
        Some(_) => return Err(EINVAL),
    };
    if words.next().is_some() {
        return Err(EINVAL);
    }
    Ok((generation, configure))
}

/// A device named in a write to `del_device`: `"dsa<N>"` or `"<N>"`; returns N, or `EINVAL`.
pub(crate) fn parse_del_device(line: &str) -> Result<usize> {
    let n = line.strip_prefix("dsa").unwrap_or(line);
    // `parse` takes a leading '+'; a device name has none.
    if !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EINVAL);
    }
    n.parse::<usize>().map_err(|_| EINVAL)
}

/// "1.0" or "2.0".
fn version(g: Generation) -> &'static str {
    match g {
        Generation::Dsa1 => "1.0",
        Generation::Dsa2 => "2.0",
    }
}

impl SimList {
    /// Creates a model device of `generation` with the next device number, configured and
    /// enabled if `configure`. Errors are [`SimInstance::new`]'s.
    fn add(&self, generation: Generation, configure: bool) -> Result {
        let mut devices = self.devices.lock();
        devices.reserve(1, GFP_KERNEL)?;
        let index = crate::instance::next_device_index();
        let inst = SimInstance::new(index, generation, configure, Some(&self.root))?;
        pr_info!(
            "dsa{}: DSA {} model device created\n",
            index,
            version(generation)
        );
        // Room was reserved above.
        devices.push(inst, GFP_KERNEL)?;
        Ok(())
    }

    /// Removes model device `index`, as a PCI device's unbind removes it: its WQs' open files
    /// are revoked, its nodes and char devices go. `ENOENT` if no model device has that number
    /// (a PCI device's number among them).
    fn remove(&self, index: usize) -> Result {
        let mut devices = self.devices.lock();
        let pos = devices
            .iter()
            .position(|d| d.index == index)
            .ok_or(ENOENT)?;
        drop(devices.remove(pos)?);
        pr_info!("dsa{}: model device removed\n", index);
        Ok(())
    }
}

impl SimDevices {
    /// Creates `dsa1` DSA 1.0 and `dsa2` DSA 2.0 model devices, each with its admin directory
    /// `dsa<N>` under `root`, configured and enabled if `auto`, and the files `new_device`,
    /// `del_device` and `sim_devices` in `root`.
    ///
    /// Returns `ENOMEM` and [`SimInstance::new`]'s errors; the devices created before the
    /// error go again.
    pub(crate) fn create(dsa1: u32, dsa2: u32, auto: bool, root: &Dir) -> Result<Self> {
        let list = Arc::pin_init(
            pin_init!(SimList {
                root: root.clone(),
                auto,
                devices <- new_mutex!(KVec::new()),
            }),
            GFP_KERNEL,
        )?;
        let gens = Iterator::chain(
            (0..dsa1).map(|_| Generation::Dsa1),
            (0..dsa2).map(|_| Generation::Dsa2),
        );
        for g in gens {
            list.add(g, auto)?;
        }
        let mut files = KVec::new();
        files.push(
            KBox::pin_init(
                root.write_callback_file(c"new_device", list.clone(), &|l: &Arc<SimList>, r| {
                    let mut buf = [0u8; 32];
                    let (g, configure) =
                        parse_new_device(crate::admin::input_line(r, &mut buf)?, l.auto)?;
                    l.add(g, configure)
                }),
                GFP_KERNEL,
            )?,
            GFP_KERNEL,
        )?;
        files.push(
            KBox::pin_init(
                root.write_callback_file(c"del_device", list.clone(), &|l: &Arc<SimList>, r| {
                    let mut buf = [0u8; 32];
                    l.remove(parse_del_device(crate::admin::input_line(r, &mut buf)?)?)
                }),
                GFP_KERNEL,
            )?,
            GFP_KERNEL,
        )?;
        files.push(
            KBox::pin_init(
                root.read_callback_file(c"sim_devices", list.clone(), &|l: &Arc<SimList>, f| {
                    for d in l.devices.lock().iter() {
                        writeln!(
                            f,
                            "dsa{} ridxd_sim{} {}",
                            d.index,
                            d.index,
                            version(d.generation)
                        )?;
                    }
                    Ok(())
                }),
                GFP_KERNEL,
            )?,
            GFP_KERNEL,
        )?;
        Ok(Self {
            _files: files,
            _list: list,
        })
    }
}
