// SPDX-License-Identifier: GPL-2.0

//! The idxd sysfs ABI (`Documentation/ABI/stable/sysfs-driver-dma-idxd`): the `dsa` bus, on
//! which each DSA device, its groups, WQs and engines are devices, configured through their
//! attributes and enabled by binding a driver, as accel-config and the Intel libraries expect:
//!
//! ```text
//! /sys/bus/dsa/devices/
//!     dsa<D>          the device (below its PCI or model device)
//!     group<D>.<G>    its groups, children of dsa<D>
//!     wq<D>.<W>       its WQs, children of dsa<D>
//!     engine<D>.<E>   its engines, children of dsa<D>
//!     dsa!wq<D>.<W>   the char device of an enabled user WQ, child of wq<D>.<W>
//!     file<N>         an open file of a user WQ, child of dsa!wq<D>.<W>: pid, cr_faults,
//!                     cr_fault_failures
//! /sys/bus/dsa/drivers/
//!     idxd            binding it to dsa<D> enables the device, unbinding disables it
//!                     (unbinding the device's WQs first)
//!     user            binding it to wq<D>.<W> enables the WQ as a user WQ (its driver_name
//!                     must be "user") and registers /dev/dsa/wq<D>.<W>; unbinding disables it
//! ```
//!
//! Attribute formats, write rules and the software `cmd_status` codes are idxd's
//! (`drivers/dma/idxd/sysfs.c`, `include/uapi/linux/idxd.h`). A write the configuration rules
//! refuse fails with their errno (`EPERM` while enabled, as idxd answers, `EOPNOTSUPP` for a
//! missing capability, `EINVAL` out of range) and changes nothing.
//!
//! The bus is registered at module load ([`BusSlot`]); a second bus named `dsa` (the C
//! `idxd_bus` module's) cannot be, and then the module does not load.

use crate::{
    cdev::UserWqs,
    config::{GroupConfig, GroupFlag, WqMode},
    device::{DsaDevice, Lost, Recovery},
    fault::UserContext,
    regs::{off, Major, ResetType},
};
use core::fmt::Write;
use kernel::{
    bitmap::BitmapVec,
    device::{
        bus::{Attribute, Bus, BusOps, Driver, Emit, Kind, Node},
        Device,
    },
    new_mutex,
    num::Bounded,
    prelude::*,
    str::CString,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
    time::{delay::fsleep, Delta},
    workqueue::{self, impl_has_work, new_work, Work, WorkItem},
};

/// The `dsa` bus.
pub(crate) struct DsaBus;

/// The drivers of the `dsa` bus.
pub(crate) enum DsaDriver {
    /// `idxd`: binds to devices.
    Device,
    /// `user`: binds to WQs.
    User,
}

/// A device on the `dsa` bus.
pub(crate) enum DsaNode {
    /// `dsa<D>`.
    Device(DevNode),
    /// `wq<D>.<W>`.
    Wq(WqNode),
    /// `group<D>.<G>`.
    Group(PartNode),
    /// `engine<D>.<E>`.
    Engine(PartNode),
    /// `dsa!wq<D>.<W>`: no attributes.
    Cdev,
    /// `file<N>`.
    File(FileNode),
}

/// What the nodes of one DSA device share.
#[pin_data]
struct DevShared {
    dsa: Arc<DsaDevice>,
    user: Arc<UserWqs>,
    index: usize,
    /// All nodes are added: the device may be bound.
    ready: Atomic<bool>,
    /// The device is bound to `idxd` (and so enabled): WQs may be bound.
    bound: Atomic<bool>,
    /// The last software command status (`cmd_status`: an `IDXD_SCMD_*` code, or 0).
    cmd_status: Atomic<u32>,
    /// The WQ nodes, unbound before the device is (taken out at teardown). Held by what
    /// brings the device back after a reset or a halt, which an unbind of the device waits for.
    #[pin]
    wqs: Mutex<KVec<Node<DsaBus>>>,
    /// Brings the device back after a halt that needs a software reset, or a WQ disable or
    /// reset a release's escalation made ([`Recovery`]).
    #[pin]
    recovery: Work<DevShared>,
    /// What the queued recovery brings back: the whole device through a function-level reset
    /// ([`Lost::Function`]) ...
    lost_function: Atomic<bool>,
    /// ... the whole device ...
    lost_device: Atomic<bool>,
    /// ... or these WQs (bit W: WQ W; a WQ past 63 counts as the whole device).
    lost_wqs: Atomic<u64>,
}

impl_has_work! {
    impl HasWork<Self> for DevShared { self.recovery }
}

impl WorkItem for DevShared {
    type Pointer = Arc<DevShared>;

    /// The device halted needing a software reset, or was reset by a release's escalation:
    /// every open file revoked, Reset Device if it is halted (a halted device refuses Disable
    /// Device), then the device and its WQs enabled again as they were bound
    /// ([`DevShared::enable_bound`]), as idxd's `idxd_device_reinit()` does after a halt. A WQ
    /// a release's escalation disabled: its open files revoked, the WQ enabled again if it is
    /// bound to `user`.
    ///
    /// A device that halted needing a function-level reset: the PCI function reset, whose
    /// callbacks ([`Tree::reset_prepare`], [`Tree::reset_done`]) do the rest, as idxd's
    /// `idxd_device_flr()` has `pci_reset_function()` do. One that needs a warm or cold
    /// reset of the platform: every open file revoked, the device left halted (idxd's
    /// `idxd_halt()` quiesces its WQs and forgets its state).
    fn run(this: Arc<DevShared>) {
        // Not under `wqs`: the reset callbacks take it. Without a reset, what was open on the
        // halted device is revoked as below.
        let no_flr = this.lost_function.xchg(false, Relaxed) && !this.reset_function();
        let wqs = this.wqs.lock();
        let lost_wqs = this.lost_wqs.xchg(0, Relaxed);
        if !this.lost_device.xchg(false, Relaxed) && !no_flr {
            for (w, n) in wqs.iter().enumerate().take(64) {
                if lost_wqs & (1 << w) == 0 {
                    continue;
                }
                // Disabled already (`EINVAL`): this revokes its files and releases their PASIDs.
                let _ = this.user.disable_wq(w);
                if this.bound.load(Relaxed) {
                    this.enable_wq_if_bound(w, n, "WQ disable");
                }
            }
            return;
        }
        let _ = this.user.disable_device();
        match this.dsa.halted() {
            None => {}
            Some(ResetType::Software) => {
                if let Err(e) = this.dsa.reset() {
                    dev_err!(
                        this.dsa.dev(),
                        "halted: Reset Device failed ({:?}); the device stays halted\n",
                        e
                    );
                    return;
                }
            }
            // The halt said which reset it needs; the device stays halted until then.
            Some(_) => return,
        }
        this.enable_bound(&wqs, "halt or reset");
    }
}

impl Recovery for DevShared {
    fn recover(self: Arc<Self>, lost: Lost) {
        match lost {
            Lost::Wq(w) if w < 64 => {
                let mut cur = self.lost_wqs.load(Relaxed);
                while let Err(now) = self.lost_wqs.cmpxchg(cur, cur | 1 << w, Relaxed) {
                    cur = now;
                }
            }
            Lost::Function => self.lost_function.store(true, Relaxed),
            _ => self.lost_device.store(true, Relaxed),
        }
        // Already queued: the one queued does it (it reads what was lost when it runs; queueing
        // orders these stores before the work's reads).
        let _ = workqueue::queues::system_dfl().enqueue(self);
    }
}

impl DevShared {
    /// How often, and how long apart, [`Self::reset_function`] tries while the device lock is
    /// held by someone else (a sysfs `reset`, a bind): 50 times, 100 ms apart.
    const RESET_TRIES: u32 = 50;
    const RESET_RETRY_MS: i64 = 100;

    /// The function-level reset a halted device asked for. The device lock is not waited for
    /// (the driver's unbind holds it while it waits for this work): while someone else holds
    /// it the reset is tried again, until the tree goes (its recovery is taken away first) or
    /// [`Self::RESET_TRIES`] tries. Returns whether the function was reset; what fails is
    /// logged, and the device then stays halted.
    fn reset_function(&self) -> bool {
        let dev = self.dsa.dev();
        for _ in 0..Self::RESET_TRIES {
            match self.dsa.io().reset_function() {
                Ok(()) => return true,
                Err(EAGAIN) if self.dsa.has_recovery() => {
                    fsleep(Delta::from_millis(Self::RESET_RETRY_MS))
                }
                // The tree is going: its unbind disables the device.
                Err(EAGAIN) => return false,
                Err(e) => {
                    dev_err!(
                        dev,
                        "halted: no function-level reset ({:?}); the device stays halted\n",
                        e
                    );
                    return false;
                }
            }
        }
        dev_err!(
            dev,
            "halted: the device stayed locked; no function-level reset, the device stays halted\n"
        );
        false
    }

    /// After a reset or a halt (`what`), with `wqs` held: the device enabled again with its
    /// configuration if it is bound to `idxd`, then each WQ bound to `user` (its character
    /// device registered again). What fails is logged and stays disabled.
    fn enable_bound(&self, wqs: &KVec<Node<DsaBus>>, what: &str) {
        if !self.bound.load(Relaxed) {
            return;
        }
        if let Err(e) = self.dsa.enable() {
            dev_err!(
                self.dsa.dev(),
                "after a {}: the device could not be enabled again ({:?}); it and its WQs stay disabled\n",
                what,
                e
            );
            return;
        }
        for (w, n) in wqs.iter().enumerate() {
            self.enable_wq_if_bound(w, n, what);
        }
    }

    /// After a reset, a halt or a WQ disable (`what`): WQ `w` enabled again if its node `n`
    /// is bound to `user` (its character device registered again); a failure is logged and
    /// the WQ stays disabled.
    fn enable_wq_if_bound(&self, w: usize, n: &Node<DsaBus>, what: &str) {
        if !n.is_bound() {
            return;
        }
        match self.user.enable_wq(w) {
            // A bind of the WQ that came after the device's enable enabled it.
            Ok(()) | Err(EBUSY) => {}
            Err(e) => dev_err!(
                self.dsa.dev(),
                "after a {}: WQ {} could not be enabled again ({:?}); it stays disabled\n",
                what,
                w,
                e
            ),
        }
    }
}

/// `dsa<D>`.
pub(crate) struct DevNode(Arc<DevShared>);

/// A WQ's attributes that only the sysfs ABI has (idxd's `struct idxd_wq` `type`, `name`,
/// `driver_name`).
struct WqMeta {
    wq_type: WqType,
    name: CString,
    driver_name: CString,
    /// The char device node while the WQ is bound.
    cdev: Option<Node<DsaBus>>,
}

/// `type` of a WQ (idxd's `enum idxd_wq_type`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum WqType {
    None,
    Kernel,
    User,
}

/// `wq<D>.<W>`.
pub(crate) struct WqNode {
    shared: Arc<DevShared>,
    wq: usize,
    meta: Pin<KBox<Mutex<WqMeta>>>,
}

/// `group<D>.<G>` or `engine<D>.<E>`.
pub(crate) struct PartNode {
    shared: Arc<DevShared>,
    id: usize,
}

/// `file<N>`: an open file of a user WQ.
pub(crate) struct FileNode {
    pid: i32,
    ctx: Arc<UserContext>,
}

// Software command status codes [`enum idxd_scmd_stat` in `include/uapi/linux/idxd.h`].
const SCMD_DEV_ENABLED: u32 = 0x8000_0010;
const SCMD_DEV_NOT_ENABLED: u32 = 0x8000_0020;
const SCMD_WQ_ENABLED: u32 = 0x8000_0021;
const SCMD_WQ_NO_GRP: u32 = 0x8003_0000;
const SCMD_WQ_NO_NAME: u32 = 0x8004_0000;
const SCMD_WQ_NO_THRESH: u32 = 0x8006_0000;
const SCMD_CDEV_ERR: u32 = 0x800b_0000;
const SCMD_WQ_NO_SWQ_SUPPORT: u32 = 0x800c_0000;
const SCMD_WQ_NONE_CONFIGURED: u32 = 0x800d_0000;
const SCMD_WQ_NO_SIZE: u32 = 0x800e_0000;
const SCMD_WQ_NO_DRV_NAME: u32 = 0x8020_0000;

/// Longest WQ name and driver name [`WQ_NAME_SIZE`, `DRIVER_NAME_SIZE` in idxd.h].
const WQ_NAME_SIZE: usize = 1024;
const DRIVER_NAME_SIZE: usize = 128;

impl BusOps for DsaBus {
    type Node = DsaNode;
    type Driver = DsaDriver;

    fn matches(node: &DsaNode, drv: &DsaDriver) -> bool {
        matches!(
            (node, drv),
            (DsaNode::Device(_), DsaDriver::Device) | (DsaNode::Wq(_), DsaDriver::User)
        )
    }

    fn probe(dev: &Device, node: &DsaNode, _drv: &DsaDriver) -> Result {
        match node {
            DsaNode::Device(d) => d.probe(),
            DsaNode::Wq(w) => w.probe(dev),
            _ => Err(ENODEV),
        }
    }

    fn remove(_dev: &Device, node: &DsaNode, _drv: &DsaDriver) {
        match node {
            DsaNode::Device(d) => d.remove(),
            DsaNode::Wq(w) => w.remove(),
            _ => {}
        }
    }
}

impl DevNode {
    /// Enables the device (`idxd` bound): refused (`ENXIO`, `cmd_status`
    /// `IDXD_SCMD_WQ_NONE_CONFIGURED`) when no WQ is configured, as idxd does, so that a new
    /// device without a configuration stays unbound; refused (`ENXIO`, warned,
    /// `IDXD_SCMD_WQ_NO_SWQ_SUPPORT`) when a WQ in a group is shared and shared WQs cannot be
    /// used ([`DeviceBus::shared_wq_supported`], idxd's `idxd_wqs_setup()`); else
    /// [`DsaDevice::enable`]'s errors.
    ///
    /// [`DeviceBus::shared_wq_supported`]: crate::hwif::DeviceBus::shared_wq_supported
    fn probe(&self) -> Result {
        let s = &self.0;
        if !s.ready.load(Relaxed) {
            return Err(ENXIO);
        }
        let (configured, shared) = s.dsa.with_config(|c| {
            (
                c.wqs.iter().any(|w| w.size != 0 && w.group.is_some()),
                c.wqs
                    .iter()
                    .any(|w| w.group.is_some() && w.mode == WqMode::Shared),
            )
        });
        if s.dsa.caps().configurable() && !configured {
            s.cmd_status.store(SCMD_WQ_NONE_CONFIGURED, Relaxed);
            return Err(ENXIO);
        }
        if shared && !s.dsa.io().shared_wq_supported() {
            s.cmd_status.store(SCMD_WQ_NO_SWQ_SUPPORT, Relaxed);
            pr_warn!(
                "dsa{}: a shared WQ is configured, but this CPU has no ENQCMD to submit to it\n",
                s.index
            );
            return Err(ENXIO);
        }
        if let Err(e) = s.dsa.enable() {
            if e == EBUSY {
                s.cmd_status.store(SCMD_DEV_ENABLED, Relaxed);
            }
            return Err(e);
        }
        s.cmd_status.store(0, Relaxed);
        s.bound.store(true, Relaxed);
        Ok(())
    }

    /// Disables the device (`idxd` unbound): its WQs are unbound first. A configurable
    /// device then forgets its configuration, WQ names included (not their type and driver
    /// name), as idxd's does ([`Config::clear_state`]), so that the next configuration loaded
    /// is exactly what it says.
    ///
    /// [`Config::clear_state`]: crate::config::Config::clear_state
    fn remove(&self) {
        let s = &self.0;
        s.bound.store(false, Relaxed);
        for w in s.wqs.lock().iter() {
            w.unbind();
        }
        let _ = s.user.disable_device();
        if s.dsa.with_config(|c| c.clear_state()) {
            for n in s.wqs.lock().iter() {
                // An empty name needs no memory beyond its NUL; should even that fail, the
                // name stays, which only keeps what was there.
                if let (DsaNode::Wq(w), Ok(empty)) = (n.data(), CString::try_from(c"")) {
                    w.meta.lock().name = empty;
                }
            }
        }
    }
}

impl WqNode {
    /// Enables the WQ as a user WQ (`user` bound), with idxd's checks, each refusal setting the
    /// device's `cmd_status`: the device must be enabled (`ENXIO`), the WQ's `driver_name`
    /// "user" (`ENODEV`), its `name` set, its size and group set, a shared WQ's threshold
    /// non-zero (`EINVAL`), shared WQs usable at all (`ENXIO`, see [`DevNode::probe`]). Then
    /// [`UserWqs::enable_wq`]'s errors.
    fn probe(&self, dev: &Device) -> Result {
        let s = &self.shared;
        if !s.ready.load(Relaxed) {
            return Err(ENXIO);
        }
        let fail = |code: u32, e: Error| {
            s.cmd_status.store(code, Relaxed);
            e
        };
        if !s.bound.load(Relaxed) {
            return Err(fail(SCMD_DEV_NOT_ENABLED, ENXIO));
        }
        let mut meta = self.meta.lock();
        if meta.driver_name.to_bytes() != b"user" {
            return Err(fail(SCMD_WQ_NO_DRV_NAME, ENODEV));
        }
        if meta.name.to_bytes().is_empty() {
            return Err(fail(SCMD_WQ_NO_NAME, EINVAL));
        }
        let (size, group, mode, threshold, enabled) = s.dsa.with_config(|c| {
            let w = &c.wqs[self.wq];
            (w.size, w.group, w.mode, w.threshold, w.enabled)
        });
        if enabled {
            return Err(fail(SCMD_WQ_ENABLED, EBUSY));
        }
        if size == 0 {
            return Err(fail(SCMD_WQ_NO_SIZE, EINVAL));
        }
        if group.is_none() {
            return Err(fail(SCMD_WQ_NO_GRP, EINVAL));
        }
        if mode == WqMode::Shared && !s.dsa.io().shared_wq_supported() {
            return Err(fail(SCMD_WQ_NO_SWQ_SUPPORT, ENXIO));
        }
        // Every submission to the limited portal of a shared WQ with threshold 0 is refused.
        if mode == WqMode::Shared && threshold == 0 {
            return Err(fail(SCMD_WQ_NO_THRESH, EINVAL));
        }
        let kinds = kinds().ok_or(ENODEV)?;
        let name = CString::try_from_fmt(fmt!("dsa/wq{}.{}", s.index, self.wq))?;
        let cdev = Node::new(&kinds.bus, &kinds.cdev, Some(dev), &name, DsaNode::Cdev)
            .map_err(|e| fail(SCMD_CDEV_ERR, e))?;
        s.user
            .set_file_parent(self.wq, Some(ARef::from(cdev.device())));
        if let Err(e) = s.user.enable_wq(self.wq) {
            s.user.set_file_parent(self.wq, None);
            return Err(e);
        }
        meta.wq_type = WqType::User;
        meta.cdev = Some(cdev);
        s.cmd_status.store(0, Relaxed);
        Ok(())
    }

    /// Disables the WQ (`user` unbound): its char device goes, its open files are revoked,
    /// and its `type` is `none` again (idxd's `idxd_user_drv_remove()`).
    ///
    /// Then, as idxd's `idxd_wq_reset()` does, the WQ's attributes but its size and group are
    /// reset (mode shared, priority and threshold 0, flags off, default limits and retries,
    /// `op_config` all of OPCAP) and its name is cleared; `driver_name` stays.
    fn remove(&self) {
        let s = &self.shared;
        let _ = s.user.disable_wq(self.wq);
        s.user.set_file_parent(self.wq, None);
        s.dsa.with_config(|c| c.reset_wq(self.wq));
        let cdev = {
            let mut m = self.meta.lock();
            m.wq_type = WqType::None;
            // One byte; should it not be had, the old name stays.
            if let Ok(empty) = CString::try_from(c"") {
                m.name = empty;
            }
            m.cdev.take()
        };
        drop(cdev);
    }
}

/// The kinds of node and the bus, while the module is loaded.
pub(crate) struct Kinds {
    bus: Bus<DsaBus>,
    device: Kind<DsaBus>,
    wq: Kind<DsaBus>,
    group: Kind<DsaBus>,
    engine: Kind<DsaBus>,
    cdev: Kind<DsaBus>,
    file: Kind<DsaBus>,
}

kernel::static_mutex! {
    /// The bus and its kinds of node, while the module is loaded ([`BusSlot`]).
    static KINDS: Option<Arc<Kinds>> = (c"ridxd::sysfs::KINDS", None);
}

/// The bus and its kinds, if registered.
fn kinds() -> Option<Arc<Kinds>> {
    KINDS.lock().clone()
}

/// The `dsa` bus and its drivers while the module is loaded.
pub(crate) struct BusSlot {
    _drivers: [Driver<DsaBus>; 2],
}

impl BusSlot {
    /// Registers the `dsa` bus, its kinds of node and the `idxd` and `user` drivers.
    ///
    /// Returns `EEXIST` (with one line logged) when a bus named `dsa` exists already (the C
    /// idxd driver's `idxd_bus` module is loaded), `ENOMEM`.
    pub(crate) fn register(module: &'static ThisModule) -> Result<Self> {
        // `idxd_bus` exports its bus type (drivers/dma/idxd/bus.c): where it is loaded, say so
        // and register nothing, rather than have the bus registration fail after the kernel's
        // sysfs duplicate-name warning and stack dump.
        let bus = if kernel::module::symbol::gpl_symbol_present(c"dsa_bus_type") {
            Err(EEXIST)
        } else {
            Bus::<DsaBus>::register(c"dsa")
        };
        let bus = bus.inspect_err(|e| {
            if *e == EEXIST {
                pr_err!("the dsa bus exists already (is idxd_bus loaded?): not loading\n");
            }
        })?;
        let kinds = Arc::new(
            Kinds {
                device: Kind::new(c"dsa", &DEVICE_ATTRS)?,
                wq: Kind::new(c"wq", &WQ_ATTRS)?,
                group: Kind::new(c"group", &GROUP_ATTRS)?,
                engine: Kind::new(c"engine", &ENGINE_ATTRS)?,
                cdev: Kind::new(c"idxd_cdev", &[])?,
                file: Kind::new(c"idxd_file", &FILE_ATTRS)?,
                bus: bus.clone(),
            },
            GFP_KERNEL,
        )?;
        let drivers = [
            Driver::register(&bus, c"idxd", module, DsaDriver::Device)?,
            Driver::register(&bus, c"user", module, DsaDriver::User)?,
        ];
        *KINDS.lock() = Some(kinds);
        Ok(Self { _drivers: drivers })
    }
}

impl Drop for BusSlot {
    fn drop(&mut self) {
        drop(KINDS.lock().take());
    }
}

/// The nodes of one DSA device; removed when dropped.
pub(crate) struct Tree {
    shared: Arc<DevShared>,
    parts: KVec<Node<DsaBus>>,
    dev: Option<Node<DsaBus>>,
}

impl Tree {
    /// Adds `dsa<index>` below `parent`, and its groups, WQs and engines, for `dsa` whose
    /// user WQs are `user`. A configuration already set (the default one) is enabled once all
    /// nodes are added: the device binds to `idxd`, and each configured WQ to `user` when
    /// `user_wqs` (the WQs then get type "user", name "ridxd" and driver_name "user").
    ///
    /// Returns `ENODEV` when the bus is not registered (the module is unloading), `EEXIST`
    /// when the names are taken, `ENOMEM`.
    pub(crate) fn new(
        parent: &Device,
        index: usize,
        dsa: &Arc<DsaDevice>,
        user: &Arc<UserWqs>,
        user_wqs: bool,
    ) -> Result<Self> {
        let kinds = kinds().ok_or(ENODEV)?;
        let shared = Arc::pin_init(
            pin_init!(DevShared {
                dsa: dsa.clone(),
                user: user.clone(),
                index,
                ready: Atomic::new(false),
                bound: Atomic::new(false),
                cmd_status: Atomic::new(0),
                wqs <- new_mutex!(KVec::new(), "ridxd::sysfs::wqs"),
                recovery <- new_work!("ridxd::sysfs::recovery"),
                lost_function: Atomic::new(false),
                lost_device: Atomic::new(false),
                lost_wqs: Atomic::new(0),
            }),
            GFP_KERNEL,
        )?;
        let mut tree = Self {
            shared: shared.clone(),
            parts: KVec::new(),
            dev: None,
        };
        // A reference cycle (the device holds `shared`, which holds the device), broken when
        // `tree` drops (also on the errors below): `Drop for Tree` takes it away again.
        dsa.set_recovery(Some(shared.clone()));
        let name = CString::try_from_fmt(fmt!("dsa{index}"))?;
        let dev = Node::new(
            &kinds.bus,
            &kinds.device,
            Some(parent),
            &name,
            DsaNode::Device(DevNode(shared.clone())),
        )?;
        let devp: ARef<Device> = ARef::from(dev.device());
        tree.dev = Some(dev);
        for g in 0..dsa.caps().num_groups() {
            let name = CString::try_from_fmt(fmt!("group{index}.{g}"))?;
            let data = DsaNode::Group(PartNode {
                shared: shared.clone(),
                id: g,
            });
            let n = Node::new(&kinds.bus, &kinds.group, Some(&*devp), &name, data)?;
            tree.parts.push(n, GFP_KERNEL)?;
        }
        for e in 0..dsa.caps().num_engines() {
            let name = CString::try_from_fmt(fmt!("engine{index}.{e}"))?;
            let data = DsaNode::Engine(PartNode {
                shared: shared.clone(),
                id: e,
            });
            let n = Node::new(&kinds.bus, &kinds.engine, Some(&*devp), &name, data)?;
            tree.parts.push(n, GFP_KERNEL)?;
        }
        shared
            .wqs
            .lock()
            .reserve(dsa.caps().num_wqs(), GFP_KERNEL)?;
        for w in 0..dsa.caps().num_wqs() {
            let configured = user_wqs && dsa.with_config(|c| c.wqs[w].size != 0);
            let (wq_type, name, driver_name) = if configured {
                (WqType::User, c"ridxd", c"user")
            } else {
                (WqType::None, c"", c"")
            };
            let meta = WqMeta {
                wq_type,
                name: CString::try_from(name)?,
                driver_name: CString::try_from(driver_name)?,
                cdev: None,
            };
            let data = DsaNode::Wq(WqNode {
                shared: shared.clone(),
                wq: w,
                meta: KBox::pin_init(new_mutex!(meta, "ridxd::sysfs::wq_meta"), GFP_KERNEL)?,
            });
            let nname = CString::try_from_fmt(fmt!("wq{index}.{w}"))?;
            let n = Node::new(&kinds.bus, &kinds.wq, Some(&*devp), &nname, data)?;
            shared.wqs.lock().push(n, GFP_KERNEL)?;
        }
        // Every node is in place (the WQs where the device's unbind finds them): bind the
        // device, then the WQs, as the configuration allows (probes fail quietly otherwise).
        shared.ready.store(true, Relaxed);
        if let Some(d) = &tree.dev {
            d.attach()?;
        }
        if user_wqs {
            for (w, n) in shared.wqs.lock().iter().enumerate() {
                if dsa.with_config(|c| c.wqs[w].size != 0) {
                    n.attach()?;
                }
            }
        }
        Ok(tree)
    }
}

impl Tree {
    /// Before the device's function is reset (FLR): every character device removed, every
    /// open file revoked, the device disabled and the files' PASIDs released, while the device
    /// still works ([`UserWqs::disable_device`]). The configuration and the `dsa` bus bindings
    /// stay, for [`Tree::reset_done`].
    pub(crate) fn reset_prepare(&self) {
        let s = &self.shared;
        // Under `wqs`, as the device's unbind unbinds its WQs (see `reset_done`).
        let _wqs = s.wqs.lock();
        let _ = s.user.disable_device();
    }

    /// After the device's function was reset: the device enabled again with its configuration
    /// if it is bound to `idxd`, then each WQ bound to `user` (its character device
    /// registered again), as idxd's `idxd_reset_done()` brings them back. What fails is logged
    /// and stays disabled.
    ///
    /// Under `wqs`: an unbind of the device that began meanwhile has cleared `bound` (then
    /// nothing is enabled) or waits for `wqs` and disables what this enabled.
    pub(crate) fn reset_done(&self) {
        let wqs = self.shared.wqs.lock();
        self.shared.enable_bound(&wqs, "reset");
    }
}

/// What the KUnit tests reach.
#[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
impl Tree {
    /// The `dsa<D>` node.
    pub(crate) fn device_node(&self) -> &Node<DsaBus> {
        // Set in `new`, taken only in `drop`.
        self.dev.as_ref().unwrap()
    }

    /// Calls `f` on the `wq<D>.<wq>` node.
    pub(crate) fn with_wq_node<T>(&self, wq: usize, f: impl FnOnce(&Node<DsaBus>) -> T) -> T {
        f(&self.shared.wqs.lock()[wq])
    }

    /// The `group<D>.<g>` node.
    pub(crate) fn group_node(&self, g: usize) -> &Node<DsaBus> {
        &self.parts[g]
    }

    /// The `engine<D>.<e>` node (the engines follow the groups in `parts`).
    pub(crate) fn engine_node(&self, e: usize) -> &Node<DsaBus> {
        &self.parts[self.shared.dsa.caps().num_groups() + e]
    }
}

/// What the attribute `name` of `node` shows (KUnit; `ENOENT` for no such attribute).
#[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
pub(crate) fn read_attr(node: &Node<DsaBus>, name: &CStr) -> Result<CString> {
    let a = find_attr(node.data(), name)?;
    let mut buf = [0u8; 256];
    let mut e = Emit::new(&mut buf);
    (a.show)(node.data(), &mut e)?;
    let s = core::str::from_utf8(e.written()).map_err(|_| EINVAL)?;
    CString::try_from_fmt(fmt!("{s}"))
}

/// Writes `input` to the attribute `name` of `node` (KUnit; `ENOENT` for no such attribute,
/// `EACCES` for a read-only one).
#[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
pub(crate) fn write_attr(node: &Node<DsaBus>, name: &CStr, input: &[u8]) -> Result {
    let a = find_attr(node.data(), name)?;
    (a.store.ok_or(EACCES)?)(node.data(), input)
}

#[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
fn find_attr(n: &DsaNode, name: &CStr) -> Result<&'static Attribute<DsaNode>> {
    let attrs: &'static [Attribute<DsaNode>] = match n {
        DsaNode::Device(_) => &DEVICE_ATTRS,
        DsaNode::Wq(_) => &WQ_ATTRS,
        DsaNode::Group(_) => &GROUP_ATTRS,
        DsaNode::Engine(_) => &ENGINE_ATTRS,
        DsaNode::File(_) => &FILE_ATTRS,
        DsaNode::Cdev => &[],
    };
    let a = attrs
        .iter()
        .find(|a| a.name.to_bytes() == name.to_bytes())
        .ok_or(ENOENT)?;
    if a.visible.is_some_and(|v| !v(n)) {
        return Err(ENOENT);
    }
    Ok(a)
}

impl Drop for Tree {
    fn drop(&mut self) {
        // No recovery from here on: none queued after this, the one queued waited for.
        self.shared.dsa.set_recovery(None);
        self.shared.recovery.flush();
        // WQs first (each unbound as it goes), then groups and engines, then the device.
        let wqs = core::mem::take(&mut *self.shared.wqs.lock());
        drop(wqs);
        self.parts.clear();
        drop(self.dev.take());
    }
}

/// Creates the `file<id>` node of an open file of a user WQ, below `parent` (the WQ's char
/// device node).
///
/// Returns `None` when the bus is not registered; `EEXIST`, `ENOMEM`.
pub(crate) fn file_node(
    parent: &Device,
    id: usize,
    pid: i32,
    ctx: &Arc<UserContext>,
) -> Result<Option<Node<DsaBus>>> {
    let Some(kinds) = kinds() else {
        return Ok(None);
    };
    let name = CString::try_from_fmt(fmt!("file{id}"))?;
    let data = DsaNode::File(FileNode {
        pid,
        ctx: ctx.clone(),
    });
    Ok(Some(Node::new(
        &kinds.bus,
        &kinds.file,
        Some(parent),
        &name,
        data,
    )?))
}

// Input parsing: what sysfs passes, with trailing newline and spaces removed.

fn trimmed(input: &[u8]) -> &[u8] {
    let mut s = input;
    while let [rest @ .., b'\n' | b' ' | b'\t'] = s {
        s = rest;
    }
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
}

/// A decimal `i64` (`kstrtol`). `EINVAL` otherwise.
fn parse_i64(input: &[u8]) -> Result<i64> {
    let s = core::str::from_utf8(trimmed(input)).map_err(|_| EINVAL)?;
    s.parse::<i64>().map_err(|_| EINVAL)
}

/// A decimal `u64` (`kstrtoul`). `EINVAL` otherwise.
fn parse_u64(input: &[u8]) -> Result<u64> {
    let s = core::str::from_utf8(trimmed(input)).map_err(|_| EINVAL)?;
    s.parse::<u64>().map_err(|_| EINVAL)
}

/// A decimal `u32`. `EINVAL` otherwise.
fn parse_u32(input: &[u8]) -> Result<u32> {
    u32::try_from(parse_u64(input)?).map_err(|_| EINVAL)
}

/// A boolean as `kstrtobool` takes it (`1`/`0`, `y`/`n`, `on`/`off`). `EINVAL` otherwise.
fn parse_bool(input: &[u8]) -> Result<bool> {
    match trimmed(input) {
        b"1" | b"y" | b"Y" | b"on" | b"ON" => Ok(true),
        b"0" | b"n" | b"N" | b"off" | b"OFF" => Ok(false),
        _ => Err(EINVAL),
    }
}

/// A group or engine id, `-1` for none.
fn parse_group(input: &[u8]) -> Result<Option<usize>> {
    let g = parse_i64(input)?;
    if g < 0 {
        return if g == -1 { Ok(None) } else { Err(EINVAL) };
    }
    Ok(Some(usize::try_from(g).map_err(|_| EINVAL)?))
}

fn dev_of(n: &DsaNode) -> Result<&DevShared> {
    match n {
        DsaNode::Device(d) => Ok(&d.0),
        _ => Err(EINVAL),
    }
}

fn wq_of(n: &DsaNode) -> Result<&WqNode> {
    match n {
        DsaNode::Wq(w) => Ok(w),
        _ => Err(EINVAL),
    }
}

fn part_of(n: &DsaNode) -> Result<&PartNode> {
    match n {
        DsaNode::Group(p) | DsaNode::Engine(p) => Ok(p),
        _ => Err(EINVAL),
    }
}

fn file_of(n: &DsaNode) -> Result<&FileNode> {
    match n {
        DsaNode::File(f) => Ok(f),
        _ => Err(EINVAL),
    }
}

/// Writes 256 bits (four qwords, qword 0 lowest) as `%*pb` does: 32-bit words in hex, most
/// significant first, separated by commas.
fn emit_bitmap(e: &mut Emit<'_>, q: &[u64; 4], sep: &str) {
    for i in (0..4).rev() {
        let _ = write!(e, "{:08x},{:08x}", q[i] >> 32, q[i] & 0xffff_ffff);
        let _ = e.write_str(if i == 0 { "\n" } else { sep });
    }
}

/// Four qwords read at `base`.
fn read256(dsa: &DsaDevice, base: usize) -> [u64; 4] {
    let io = dsa.io();
    [
        io.read64(base),
        io.read64(base + 8),
        io.read64(base + 16),
        io.read64(base + 24),
    ]
}

/// `max_read_buffers` (and its old name `max_tokens`): GRPCAP's total read buffers.
fn max_read_buffers_show(n: &DsaNode, e: &mut Emit<'_>) -> Result {
    let t = dev_of(n)?.dsa.caps().grpcap.total_rdbufs().get();
    e.line(format_args!("{t}"))
}

/// `read_buffer_limit` (and `token_limit`): GENCFG.rdbuf_limit, programmed at enable.
fn read_buffer_limit_show(n: &DsaNode, e: &mut Emit<'_>) -> Result {
    let v = dev_of(n)?.dsa.with_config(|c| c.rdbuf_limit.get());
    e.line(format_args!("{v}"))
}

/// Sets `read_buffer_limit` (needs GRPCAP.rdbuf_limit; see [`Config::set_rdbuf_limit`]).
fn read_buffer_limit_store(n: &DsaNode, input: &[u8]) -> Result {
    let v = parse_u64(input)?;
    dev_of(n)?.dsa.with_config(|c| c.set_rdbuf_limit(v))
}

/// OPCAP as user space may use it ([`for_user`]).
fn user_opcap(dsa: &DsaDevice) -> [u64; 4] {
    for_user(dsa, read256(dsa, off::OPCAP))
}

/// An operations bitmap (OPCAP's layout) as user space may use it: without BATCH (opcode 1)
/// on a DSA 1.0 device where user submission is not safe, whose `write()` refuses batches
/// (idxd's `op_cap_show_common()`).
fn for_user(dsa: &DsaDevice, mut q: [u64; 4]) -> [u64; 4] {
    if dsa.caps().major == Major::Dsa1 && !dsa.io().user_submission_safe() {
        q[0] &= !(1u64 << crate::hw::opcode::BATCH);
    }
    q
}

/// A 256-bit operations bitmap (qword 0 lowest) written as `bitmap_parse()` takes it: 32-bit
/// hex words separated by commas, most significant first. `EINVAL`/`EOVERFLOW` as there.
fn parse_bitmap256(input: &[u8]) -> Result<[u64; 4]> {
    let mut b = BitmapVec::new(256, GFP_KERNEL)?;
    b.parse_hex(input)?;
    let mut q = [0u64; 4];
    let mut i = b.next_bit(0);
    while let Some(n) = i {
        q[n / 64] |= 1 << (n % 64);
        i = b.next_bit(n + 1);
    }
    Ok(q)
}

/// The device's attributes [`dsa_device_attributes` in idxd's sysfs.c].
static DEVICE_ATTRS: [Attribute<DsaNode>; 22] = [
    Attribute {
        // GENCFG.rdbuf_limit, programmed at enable; needs GRPCAP.rdbuf_limit to change.
        name: c"read_buffer_limit",
        show: read_buffer_limit_show,
        store: Some(read_buffer_limit_store),
        visible: None,
    },
    Attribute {
        name: c"version",
        show: |n, e| e.line(format_args!("{:#x}", dev_of(n)?.dsa.caps().version)),
        store: None,
        visible: None,
    },
    Attribute {
        name: c"state",
        show: |n, e| e.line(format_args!("{}", dev_of(n)?.dsa.state_name())),
        store: None,
        visible: None,
    },
    Attribute {
        name: c"max_groups",
        show: |n, e| e.line(format_args!("{}", dev_of(n)?.dsa.caps().num_groups())),
        store: None,
        visible: None,
    },
    Attribute {
        name: c"max_work_queues",
        show: |n, e| e.line(format_args!("{}", dev_of(n)?.dsa.caps().num_wqs())),
        store: None,
        visible: None,
    },
    Attribute {
        name: c"max_engines",
        show: |n, e| e.line(format_args!("{}", dev_of(n)?.dsa.caps().num_engines())),
        store: None,
        visible: None,
    },
    Attribute {
        name: c"max_work_queues_size",
        show: |n, e| e.line(format_args!("{}", dev_of(n)?.dsa.caps().total_wq_size())),
        store: None,
        visible: None,
    },
    Attribute {
        name: c"max_batch_size",
        show: |n, e| {
            let shift = dev_of(n)?.dsa.caps().gencap.max_batch_shift().get();
            e.line(format_args!("{}", 1u64 << shift))
        },
        store: None,
        visible: None,
    },
    Attribute {
        name: c"max_transfer_size",
        show: |n, e| {
            let shift = dev_of(n)?.dsa.caps().gencap.max_xfer_shift().get();
            e.line(format_args!("{}", 1u64 << shift))
        },
        store: None,
        visible: None,
    },
    Attribute {
        name: c"gen_cap",
        show: |n, e| {
            let raw = dev_of(n)?.dsa.caps().gencap.into_raw();
            e.line(format_args!("{raw:#x}"))
        },
        store: None,
        visible: None,
    },
    Attribute {
        name: c"op_cap",
        show: |n, e| {
            emit_bitmap(e, &user_opcap(&dev_of(n)?.dsa), ",");
            Ok(())
        },
        store: None,
        visible: None,
    },
    Attribute {
        name: c"configurable",
        show: |n, e| {
            let c = dev_of(n)?.dsa.caps().configurable();
            e.line(format_args!("{}", u8::from(c)))
        },
        store: None,
        visible: None,
    },
    Attribute {
        // Every user WQ of this driver is bound for SVA at open.
        name: c"pasid_enabled",
        show: |n, e| {
            dev_of(n)?;
            e.line(format_args!("1"))
        },
        store: None,
        visible: None,
    },
    Attribute {
        name: c"max_read_buffers",
        show: max_read_buffers_show,
        store: None,
        visible: None,
    },
    // The deprecated names idxd keeps for read buffers (older accel-config reads them).
    Attribute {
        name: c"max_tokens",
        show: max_read_buffers_show,
        store: None,
        visible: None,
    },
    Attribute {
        name: c"token_limit",
        show: read_buffer_limit_show,
        store: Some(read_buffer_limit_store),
        visible: None,
    },
    Attribute {
        name: c"numa_node",
        show: |n, e| {
            let node = kernel::device::bus::numa_node(dev_of(n)?.dsa.dev());
            e.line(format_args!("{node}"))
        },
        store: None,
        visible: None,
    },
    Attribute {
        name: c"event_log_size",
        show: |n, e| {
            let s = dev_of(n)?.dsa.with_config(|c| c.evl_size);
            e.line(format_args!("{s}"))
        },
        store: Some(|n, input| {
            let v = parse_u32(input)?;
            dev_of(n)?.dsa.with_config(|c| c.set_evl_size(v))
        }),
        visible: Some(|n| dev_of(n).is_ok_and(|d| d.dsa.caps().evl_entry_size().is_some())),
    },
    Attribute {
        name: c"cdev_major",
        show: |n, e| {
            dev_of(n)?;
            // The user WQ char devices are misc devices.
            e.line(format_args!("{}", kernel::bindings::MISC_MAJOR))
        },
        store: None,
        visible: None,
    },
    Attribute {
        // Any write clears it.
        name: c"cmd_status",
        show: |n, e| {
            let s = dev_of(n)?.cmd_status.load(Relaxed);
            e.line(format_args!("{s:#x}"))
        },
        store: Some(|n, _| {
            dev_of(n)?.cmd_status.store(0, Relaxed);
            Ok(())
        }),
        visible: None,
    },
    Attribute {
        name: c"errors",
        show: |n, e| {
            emit_bitmap(e, &read256(&dev_of(n)?.dsa, off::SWERR), ",");
            Ok(())
        },
        store: None,
        visible: None,
    },
    Attribute {
        name: c"clients",
        show: |n, e| {
            let d = dev_of(n)?;
            let sum: usize = (0..d.dsa.caps().num_wqs())
                .map(|w| d.dsa.faults().wq_counters(w as u8).1)
                .sum();
            e.line(format_args!("{sum}"))
        },
        store: None,
        visible: None,
    },
];

/// A WQ config value, shown.
fn wq_show<T: core::fmt::Display>(
    n: &DsaNode,
    e: &mut Emit<'_>,
    f: impl FnOnce(&crate::config::WqConfig) -> T,
) -> Result {
    let w = wq_of(n)?;
    let v = w.shared.dsa.with_config(|c| f(&c.wqs[w.wq]));
    e.line(format_args!("{v}"))
}

/// Runs `f` on the configuration of the WQ of `n`.
fn wq_set(n: &DsaNode, f: impl FnOnce(&mut crate::config::Config, usize) -> Result) -> Result {
    let w = wq_of(n)?;
    w.shared.dsa.with_config(|c| f(c, w.wq))
}

/// A WQ's sysfs-only string attribute, written while the WQ is disabled (`EPERM` otherwise,
/// as idxd), at most `max` bytes (`EINVAL`).
fn wq_set_str(n: &DsaNode, input: &[u8], max: usize, driver: bool) -> Result {
    let w = wq_of(n)?;
    let s = trimmed(input);
    if s.is_empty() || s.len() > max {
        return Err(EINVAL);
    }
    if w.shared.dsa.with_config(|c| c.wqs[w.wq].enabled) {
        return Err(EPERM);
    }
    let v = CString::try_from_fmt(fmt!("{}", core::str::from_utf8(s).map_err(|_| EINVAL)?))?;
    let mut m = w.meta.lock();
    if driver {
        m.driver_name = v;
    } else {
        m.name = v;
    }
    Ok(())
}

/// The WQ's attributes [`idxd_wq_attributes` in idxd's sysfs.c].
static WQ_ATTRS: [Attribute<DsaNode>; 21] = [
    Attribute {
        name: c"size",
        show: |n, e| wq_show(n, e, |w| w.size),
        store: Some(|n, i| {
            let v = parse_u32(i)?;
            wq_set(n, |c, w| c.set_wq_size(w, v))
        }),
        visible: None,
    },
    Attribute {
        name: c"mode",
        show: |n, e| {
            wq_show(n, e, |w| match w.mode {
                WqMode::Dedicated => "dedicated",
                WqMode::Shared => "shared",
            })
        },
        store: Some(|n, i| {
            let mode = match trimmed(i) {
                b"dedicated" => WqMode::Dedicated,
                b"shared" => WqMode::Shared,
                _ => return Err(EINVAL),
            };
            wq_set(n, |c, w| c.set_wq_mode(w, mode))
        }),
        visible: None,
    },
    Attribute {
        name: c"group_id",
        show: |n, e| wq_show(n, e, |w| w.group.map_or(-1, |g| g as i64)),
        store: Some(|n, i| {
            let g = parse_group(i)?;
            wq_set(n, |c, w| c.set_wq_group(w, g))
        }),
        visible: None,
    },
    Attribute {
        name: c"priority",
        show: |n, e| wq_show(n, e, |w| w.priority),
        store: Some(|n, i| {
            let v = parse_u32(i)?;
            wq_set(n, |c, w| c.set_wq_priority(w, v))
        }),
        visible: None,
    },
    Attribute {
        name: c"block_on_fault",
        show: |n, e| wq_show(n, e, |w| u8::from(w.block_on_fault)),
        store: Some(|n, i| {
            let v = parse_bool(i)?;
            wq_set(n, |c, w| c.set_block_on_fault(w, v))
        }),
        visible: None,
    },
    Attribute {
        name: c"threshold",
        show: |n, e| wq_show(n, e, |w| w.threshold),
        store: Some(|n, i| {
            let v = parse_u32(i)?;
            wq_set(n, |c, w| c.set_wq_threshold(w, v))
        }),
        visible: None,
    },
    Attribute {
        name: c"max_transfer_size",
        show: |n, e| wq_show(n, e, |w| 1u64 << w.max_xfer_shift),
        store: Some(|n, i| {
            let v = parse_u64(i)?;
            wq_set(n, |c, w| c.set_max_transfer_size(w, v))
        }),
        visible: None,
    },
    Attribute {
        name: c"max_batch_size",
        show: |n, e| wq_show(n, e, |w| 1u64 << w.max_batch_shift),
        store: Some(|n, i| {
            let v = parse_u64(i)?;
            wq_set(n, |c, w| c.set_max_batch_size(w, v))
        }),
        visible: None,
    },
    Attribute {
        name: c"ats_disable",
        show: |n, e| wq_show(n, e, |w| u8::from(w.ats_disable)),
        store: Some(|n, i| {
            let v = parse_bool(i)?;
            wq_set(n, |c, w| c.set_ats_disable(w, v))
        }),
        visible: Some(|n| wq_of(n).is_ok_and(|w| w.shared.dsa.caps().wqcap.wq_ats_support())),
    },
    Attribute {
        name: c"prs_disable",
        show: |n, e| wq_show(n, e, |w| u8::from(w.prs_disable)),
        store: Some(|n, i| {
            let v = parse_bool(i)?;
            wq_set(n, |c, w| c.set_prs_disable(w, v))
        }),
        visible: Some(|n| wq_of(n).is_ok_and(|w| w.shared.dsa.caps().wq_prs_disable())),
    },
    Attribute {
        name: c"state",
        show: |n, e| wq_show(n, e, |w| if w.enabled { "enabled" } else { "disabled" }),
        store: None,
        visible: None,
    },
    Attribute {
        name: c"type",
        show: |n, e| {
            let t = wq_of(n)?.meta.lock().wq_type;
            let s = match t {
                WqType::None => "none",
                WqType::Kernel => "kernel",
                WqType::User => "user",
            };
            e.line(format_args!("{s}"))
        },
        store: Some(|n, i| {
            let w = wq_of(n)?;
            let t = match trimmed(i) {
                b"none" => WqType::None,
                b"kernel" => WqType::Kernel,
                b"user" => WqType::User,
                _ => return Err(EINVAL),
            };
            if w.shared.dsa.with_config(|c| c.wqs[w.wq].enabled) {
                return Err(EPERM);
            }
            w.meta.lock().wq_type = t;
            Ok(())
        }),
        visible: None,
    },
    Attribute {
        name: c"name",
        show: |n, e| {
            let w = wq_of(n)?;
            let m = w.meta.lock();
            e.line(format_args!("{}", m.name.to_str().unwrap_or("")))
        },
        store: Some(|n, i| wq_set_str(n, i, WQ_NAME_SIZE, false)),
        visible: None,
    },
    Attribute {
        name: c"driver_name",
        show: |n, e| {
            let w = wq_of(n)?;
            let m = w.meta.lock();
            e.line(format_args!("{}", m.driver_name.to_str().unwrap_or("")))
        },
        store: Some(|n, i| wq_set_str(n, i, DRIVER_NAME_SIZE, true)),
        visible: None,
    },
    Attribute {
        // ENXIO while the WQ has no char device (idxd).
        name: c"cdev_minor",
        show: |n, e| {
            let w = wq_of(n)?;
            let minor = w.shared.user.cdev_minor(w.wq).ok_or(ENXIO)?;
            e.line(format_args!("{minor}"))
        },
        store: None,
        visible: None,
    },
    Attribute {
        name: c"clients",
        show: |n, e| {
            let w = wq_of(n)?;
            e.line(format_args!(
                "{}",
                w.shared.dsa.faults().wq_counters(w.wq as u8).1
            ))
        },
        store: None,
        visible: None,
    },
    Attribute {
        // CR fault counters of the files open on the WQ, summed (each file's own are in
        // its `file<N>`).
        name: c"cr_faults",
        show: |n, e| {
            let w = wq_of(n)?;
            let c = w.shared.dsa.faults().wq_counters(w.wq as u8).0;
            e.line(format_args!("{}", c.cr_faults))
        },
        store: None,
        visible: None,
    },
    Attribute {
        name: c"cr_fault_failures",
        show: |n, e| {
            let w = wq_of(n)?;
            let c = w.shared.dsa.faults().wq_counters(w.wq as u8).0;
            e.line(format_args!("{}", c.cr_fault_failures))
        },
        store: None,
        visible: None,
    },
    Attribute {
        // How often write() tries a descriptor again when the shared WQ answers "retry".
        name: c"enqcmds_retries",
        show: |n, e| {
            let w = wq_of(n)?;
            let (mode, r) = w.shared.dsa.with_config(|c| {
                let wq = &c.wqs[w.wq];
                (wq.mode, wq.enqcmds_retries)
            });
            if mode == WqMode::Dedicated {
                return Err(EOPNOTSUPP);
            }
            e.line(format_args!("{r}"))
        },
        store: Some(|n, i| {
            let v = parse_u32(i)?;
            wq_set(n, |c, w| c.set_enqcmds_retries(w, v))
        }),
        visible: None,
    },
    Attribute {
        name: c"occupancy",
        show: |n, e| {
            let w = wq_of(n)?;
            let caps = w.shared.dsa.caps();
            if !caps.wqcap.occupancy() {
                return Err(EOPNOTSUPP);
            }
            // WQCFG dword 6 [`WQCFG_OCCUP_IDX`], bits 15:0 [`WQCFG_OCCUP_MASK`].
            let v = w.shared.dsa.io().read32(caps.wqcfg_offset(w.wq, 6)) & 0xffff;
            e.line(format_args!("{v}"))
        },
        store: None,
        visible: None,
    },
    Attribute {
        // The WQ's allowed operations (OPCFG, programmed at enable), only where WQCAP.op_config
        // says WQs have them; written as idxd's `wq_op_config_store()` takes it.
        name: c"op_config",
        show: |n, e| {
            let w = wq_of(n)?;
            let ops = w.shared.dsa.with_config(|c| c.wqs[w.wq].op_config);
            emit_bitmap(e, &for_user(&w.shared.dsa, ops), ",");
            Ok(())
        },
        store: Some(|n, i| {
            let ops = parse_bitmap256(i)?;
            wq_set(n, |c, w| c.set_wq_op_config(w, ops))
        }),
        visible: Some(|n| wq_of(n).is_ok_and(|w| w.shared.dsa.caps().wqcap.op_config())),
    },
];

/// The names of the WQs (`wq<D>.<W>`) or engines (`engine<D>.<E>`) of a group, separated by
/// spaces.
fn group_members(n: &DsaNode, e: &mut Emit<'_>, engines: bool) -> Result {
    let p = part_of(n)?;
    let d = &p.shared;
    let members: KVec<usize> = d.dsa.with_config(|c| {
        let mut v = KVec::new();
        if engines {
            for (i, g) in c.engines.iter().enumerate() {
                if *g == Some(p.id) {
                    v.push(i, GFP_KERNEL)?;
                }
            }
        } else {
            for (i, w) in c.wqs.iter().enumerate() {
                if w.group == Some(p.id) {
                    v.push(i, GFP_KERNEL)?;
                }
            }
        }
        Ok::<_, Error>(v)
    })?;
    let prefix = if engines { "engine" } else { "wq" };
    for (k, m) in members.iter().enumerate() {
        let sep = if k == 0 { "" } else { " " };
        let _ = write!(e, "{sep}{prefix}{}.{m}", d.index);
    }
    // A group without members reads empty, without a newline, as in idxd.
    if !members.is_empty() {
        let _ = e.write_str("\n");
    }
    Ok(())
}

/// A group flag, shown.
fn group_show(n: &DsaNode, e: &mut Emit<'_>, f: impl FnOnce(&GroupConfig) -> u64) -> Result {
    let p = part_of(n)?;
    let v = p.shared.dsa.with_config(|c| f(&c.groups[p.id]));
    e.line(format_args!("{v}"))
}

/// A group's traffic class, -1 when not set (as idxd shows it).
fn tc_show(
    n: &DsaNode,
    e: &mut Emit<'_>,
    f: impl FnOnce(&GroupConfig) -> Option<Bounded<u64, 3>>,
) -> Result {
    let p = part_of(n)?;
    let v = p.shared.dsa.with_config(|c| f(&c.groups[p.id]));
    e.line(format_args!("{}", v.map_or(-1, |t| t.get() as i64)))
}

/// Sets a group flag from a decimal write.
fn group_set(n: &DsaNode, flag: GroupFlag, input: &[u8]) -> Result {
    let p = part_of(n)?;
    let v = parse_u64(input)?;
    p.shared
        .dsa
        .with_config(|c| c.set_group_flag(p.id, flag, v))
}

/// Whether the group's device has progress limits (GRPCAP.progress_limit).
fn has_progress_limit(n: &DsaNode) -> bool {
    part_of(n).is_ok_and(|p| p.shared.dsa.caps().grpcap.progress_limit())
}

/// The group's attributes [`idxd_group_attributes` in idxd's sysfs.c], with its deprecated
/// names `tokens_reserved`, `tokens_allowed` and `use_token_limit` for the read-buffer ones.
static GROUP_ATTRS: [Attribute<DsaNode>; 12] = [
    Attribute {
        name: c"engines",
        show: |n, e| group_members(n, e, true),
        store: None,
        visible: None,
    },
    Attribute {
        name: c"work_queues",
        show: |n, e| group_members(n, e, false),
        store: None,
        visible: None,
    },
    Attribute {
        name: c"traffic_class_a",
        show: |n, e| tc_show(n, e, |g| g.tc_a),
        store: Some(|n, i| group_set(n, GroupFlag::TrafficClassA, i)),
        visible: None,
    },
    Attribute {
        name: c"traffic_class_b",
        show: |n, e| tc_show(n, e, |g| g.tc_b),
        store: Some(|n, i| group_set(n, GroupFlag::TrafficClassB, i)),
        visible: None,
    },
    Attribute {
        name: c"use_read_buffer_limit",
        show: |n, e| group_show(n, e, |g| u64::from(g.use_rdbuf_limit)),
        store: Some(|n, i| group_set(n, GroupFlag::UseReadBufferLimit, i)),
        visible: None,
    },
    Attribute {
        name: c"read_buffers_reserved",
        show: |n, e| group_show(n, e, |g| g.rdbufs_reserved.get()),
        store: Some(|n, i| group_set(n, GroupFlag::ReadBuffersReserved, i)),
        visible: None,
    },
    Attribute {
        name: c"read_buffers_allowed",
        show: |n, e| group_show(n, e, |g| g.rdbufs_allowed.get()),
        store: Some(|n, i| group_set(n, GroupFlag::ReadBuffersAllowed, i)),
        visible: None,
    },
    Attribute {
        name: c"tokens_reserved",
        show: |n, e| group_show(n, e, |g| g.rdbufs_reserved.get()),
        store: Some(|n, i| group_set(n, GroupFlag::ReadBuffersReserved, i)),
        visible: None,
    },
    Attribute {
        name: c"tokens_allowed",
        show: |n, e| group_show(n, e, |g| g.rdbufs_allowed.get()),
        store: Some(|n, i| group_set(n, GroupFlag::ReadBuffersAllowed, i)),
        visible: None,
    },
    Attribute {
        name: c"use_token_limit",
        show: |n, e| group_show(n, e, |g| u64::from(g.use_rdbuf_limit)),
        store: Some(|n, i| group_set(n, GroupFlag::UseReadBufferLimit, i)),
        visible: None,
    },
    Attribute {
        name: c"desc_progress_limit",
        show: |n, e| group_show(n, e, |g| g.desc_progress_limit.get()),
        store: Some(|n, i| group_set(n, GroupFlag::DescProgressLimit, i)),
        visible: Some(has_progress_limit),
    },
    Attribute {
        name: c"batch_progress_limit",
        show: |n, e| group_show(n, e, |g| g.batch_progress_limit.get()),
        store: Some(|n, i| group_set(n, GroupFlag::BatchProgressLimit, i)),
        visible: Some(has_progress_limit),
    },
];

/// The engine's attributes.
static ENGINE_ATTRS: [Attribute<DsaNode>; 1] = [Attribute {
    name: c"group_id",
    show: |n, e| {
        let p = part_of(n)?;
        let g = p.shared.dsa.with_config(|c| c.engines[p.id]);
        e.line(format_args!("{}", g.map_or(-1, |g| g as i64)))
    },
    store: Some(|n, i| {
        let p = part_of(n)?;
        let g = parse_group(i)?;
        p.shared.dsa.with_config(|c| c.set_engine_group(p.id, g))
    }),
    visible: None,
}];

/// An open file's attributes [`cdev_file_attributes` in idxd's cdev.c].
static FILE_ATTRS: [Attribute<DsaNode>; 3] = [
    Attribute {
        name: c"pid",
        show: |n, e| e.line(format_args!("{}", file_of(n)?.pid)),
        store: None,
        visible: None,
    },
    Attribute {
        name: c"cr_faults",
        show: |n, e| e.line(format_args!("{}", file_of(n)?.ctx.counters().cr_faults)),
        store: None,
        visible: None,
    },
    Attribute {
        name: c"cr_fault_failures",
        show: |n, e| {
            let c = file_of(n)?.ctx.counters();
            e.line(format_args!("{}", c.cr_fault_failures))
        },
        store: None,
        visible: None,
    },
];
