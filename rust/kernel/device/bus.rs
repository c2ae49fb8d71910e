// SPDX-License-Identifier: GPL-2.0

//! Buses that a module registers itself, the devices it puts on them, their sysfs attributes,
//! and the drivers that user space binds to those devices.
//!
//! Some drivers describe the parts of their hardware as devices on a bus of their own, so that
//! user space configures each part through its sysfs attributes and turns it on and off by
//! binding a driver to it (`/sys/bus/<bus>/drivers/<driver>/bind`) and unbinding it. Intel's
//! DSA driver does this with the `dsa` bus (`drivers/dma/idxd/bus.c`), CXL with the `cxl` bus.
//! The C side is `bus_register()`, `device_add()` of devices whose `bus` is that bus, with a
//! `device_type` carrying attribute groups, and `driver_register()` of `device_driver`s on the
//! bus.
//!
//! Here a bus is described by a [`BusOps`] type: what each of its devices holds
//! ([`BusOps::Node`]), what each of its drivers holds ([`BusOps::Driver`]), and which drivers
//! bind to which devices and what binding and unbinding do. [`Bus`] registers it, [`Kind`]
//! describes one kind of device with its attributes, [`Node`] is a device on the bus and
//! [`Driver`] a driver on it.
//!
//! C headers: [`include/linux/device/bus.h`](srctree/include/linux/device/bus.h),
//! [`include/linux/device/driver.h`](srctree/include/linux/device/driver.h),
//! [`include/linux/sysfs.h`](srctree/include/linux/sysfs.h)

use crate::{
    bindings,
    device::Device,
    error::{from_result, to_result},
    prelude::*,
    sync::Arc,
    types::Opaque,
    ThisModule,
};
use core::{fmt, marker::PhantomData, ptr::NonNull};

/// What a bus is: what its devices and drivers hold and how they bind.
///
/// The callbacks run in process context with the device's lock held (the driver core's
/// `device_lock()`), as `probe` and `remove` of any bus do; they may sleep.
pub trait BusOps: Send + Sync + Sized + 'static {
    /// What each device on the bus holds; dropped when the device's last reference is gone.
    type Node: Send + Sync;
    /// What each driver on the bus holds.
    type Driver: Send + Sync;

    /// Whether `drv` binds to `node` (the bus's `match`).
    fn matches(node: &Self::Node, drv: &Self::Driver) -> bool;

    /// Binds `drv` to `node` (a `bind` write, or a new device or driver that match). An error
    /// leaves the device unbound and is what the `bind` write fails with (`ENXIO` and `ENODEV`
    /// are not logged by the driver core: "this device is not for this driver now").
    ///
    /// `dev` is the device `node` belongs to (the parent for devices made below it).
    fn probe(dev: &Device, node: &Self::Node, drv: &Self::Driver) -> Result;

    /// Unbinds `drv` from `node`, the data of `dev` (an `unbind` write, or the device or
    /// driver going away).
    fn remove(dev: &Device, node: &Self::Node, drv: &Self::Driver);
}

/// A registered bus (`/sys/bus/<name>/`); unregistered when the last [`Bus`], [`Node`] and
/// [`Driver`] of it is gone.
pub struct Bus<B: BusOps>(Arc<BusInner<B>>);

impl<B: BusOps> Clone for Bus<B> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

/// # Invariants
///
/// `raw` is a bus type registered with `bus_register()`, whose callbacks are this module's
/// trampolines for `B`.
#[pin_data(PinnedDrop)]
struct BusInner<B: BusOps> {
    #[pin]
    raw: Opaque<bindings::bus_type>,
    _p: PhantomData<B>,
}

// SAFETY: The bus type is only read by the driver core once registered, from any thread.
unsafe impl<B: BusOps> Send for BusInner<B> {}
// SAFETY: As for `Send`.
unsafe impl<B: BusOps> Sync for BusInner<B> {}

#[pinned_drop]
impl<B: BusOps> PinnedDrop for BusInner<B> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariant the bus is registered. Every device and driver on it
        // holds a reference to `self`, so none is left.
        unsafe { bindings::bus_unregister(self.raw.get()) };
    }
}

impl<B: BusOps> Bus<B> {
    /// Registers the bus `name`.
    ///
    /// Returns `bus_register()`'s errors: `EEXIST` when a bus of that name is registered
    /// already (another module's), `ENOMEM`.
    pub fn register(name: &'static CStr) -> Result<Self> {
        let inner = Arc::pin_init(
            try_pin_init!(BusInner {
                raw <- Opaque::try_ffi_init(move |p: *mut bindings::bus_type| {
                    // SAFETY: `p` is valid for writes of a bus type; all-zero is a valid bus
                    // type (no callbacks), which then gets a name and this module's callbacks.
                    unsafe {
                        p.write_bytes(0, 1);
                        (*p).name = name.as_char_ptr();
                        (*p).match_ = Some(match_callback::<B>);
                        (*p).probe = Some(probe_callback::<B>);
                        (*p).remove = Some(remove_callback::<B>);
                        // SAFETY: `p` is a bus type, valid for as long as the `Arc` is (it is
                        // unregistered in `drop`, before its memory goes).
                        to_result(bindings::bus_register(p))
                    }
                }),
                _p: PhantomData,
            }),
            GFP_KERNEL,
        )?;
        Ok(Self(inner))
    }

    fn as_raw(&self) -> *mut bindings::bus_type {
        self.0.raw.get()
    }
}

/// The device node behind a `struct device` of a bus `B`.
///
/// # Safety
///
/// `dev` must be the `dev` of a live [`NodeInner<B>`]: a device on the bus of `B`.
unsafe fn node_of<'a, B: BusOps>(dev: *mut bindings::device) -> &'a NodeInner<B> {
    // SAFETY: Per the safety requirements `dev` is the `dev` field of a `NodeInner<B>`
    // (`Opaque` is `repr(transparent)`).
    unsafe { &*crate::container_of!(dev.cast::<Opaque<bindings::device>>(), NodeInner<B>, dev) }
}

/// The driver behind a `struct device_driver` of a bus `B`.
///
/// # Safety
///
/// `drv` must be the `raw` of a live [`DriverInner<B>`]: a driver on the bus of `B`.
unsafe fn driver_of<'a, B: BusOps>(drv: *const bindings::device_driver) -> &'a DriverInner<B> {
    // SAFETY: Per the safety requirements.
    unsafe {
        &*crate::container_of!(
            drv.cast_mut().cast::<Opaque<bindings::device_driver>>(),
            DriverInner<B>,
            raw
        )
    }
}

/// `match` of the bus of `B`.
///
/// # Safety
///
/// Called by the driver core for a device and a driver of the bus of `B`.
unsafe extern "C" fn match_callback<B: BusOps>(
    dev: *mut bindings::device,
    drv: *const bindings::device_driver,
) -> c_int {
    // SAFETY: Every device and driver on the bus is a `NodeInner<B>` / `DriverInner<B>`
    // (`Node::new` and `Driver::register` are the only ways onto it), live while the driver
    // core uses them.
    let (node, drv) = unsafe { (node_of::<B>(dev), driver_of::<B>(drv)) };
    c_int::from(B::matches(&node.data, &drv.data))
}

/// `probe` of the bus of `B`.
///
/// # Safety
///
/// Called by the driver core for a device of the bus of `B`, whose `driver` is the driver
/// being bound (a driver of that bus).
unsafe extern "C" fn probe_callback<B: BusOps>(dev: *mut bindings::device) -> c_int {
    from_result(|| {
        // SAFETY: As for `match_callback`; the driver core sets `dev->driver` before it calls
        // `probe` and keeps it while the device lock is held.
        let (node, drv) = unsafe { (node_of::<B>(dev), driver_of::<B>((*dev).driver)) };
        // SAFETY: `dev` is a live device for the duration of the call.
        let d = unsafe { Device::from_raw(dev) };
        B::probe(d, &node.data, &drv.data)?;
        Ok(0)
    })
}

/// `remove` of the bus of `B`.
///
/// # Safety
///
/// As for [`probe_callback`], for the driver being unbound.
unsafe extern "C" fn remove_callback<B: BusOps>(dev: *mut bindings::device) {
    // SAFETY: As for `probe_callback`.
    let (node, drv) = unsafe { (node_of::<B>(dev), driver_of::<B>((*dev).driver)) };
    // SAFETY: `dev` is a live device for the duration of the call.
    let d = unsafe { Device::from_raw(dev) };
    B::remove(d, &node.data, &drv.data);
}

/// A driver on a bus (`/sys/bus/<bus>/drivers/<name>/`, with its `bind` and `unbind`);
/// unregistered when dropped (unbinding it from every device first).
pub struct Driver<B: BusOps> {
    _inner: Pin<KBox<DriverInner<B>>>,
}

/// # Invariants
///
/// `raw` is a driver registered with `driver_register()` on `bus`.
#[pin_data(PinnedDrop)]
struct DriverInner<B: BusOps> {
    data: B::Driver,
    bus: Bus<B>,
    #[pin]
    raw: Opaque<bindings::device_driver>,
}

// SAFETY: `raw` is only used by the driver core, from any thread; `data` is `Send + Sync`.
unsafe impl<B: BusOps> Send for DriverInner<B> {}
// SAFETY: As for `Send`.
unsafe impl<B: BusOps> Sync for DriverInner<B> {}

#[pinned_drop]
impl<B: BusOps> PinnedDrop for DriverInner<B> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariant the driver is registered.
        unsafe { bindings::driver_unregister(self.raw.get()) };
    }
}

impl<B: BusOps> Driver<B> {
    /// Registers the driver `name` of `module` on `bus`, holding `data`. Devices on the bus
    /// that it matches are probed at once (see [`BusOps::probe`]).
    ///
    /// Returns `driver_register()`'s errors: `EBUSY` when the bus has a driver of that name,
    /// `ENOMEM`.
    pub fn register(
        bus: &Bus<B>,
        name: &'static CStr,
        module: &'static ThisModule,
        data: B::Driver,
    ) -> Result<Self> {
        let bus_raw = bus.as_raw();
        let inner = KBox::pin_init(
            try_pin_init!(DriverInner {
                data,
                bus: bus.clone(),
                raw <- Opaque::try_ffi_init(move |p: *mut bindings::device_driver| {
                    // SAFETY: `p` is valid for writes of a driver; all-zero is a valid driver,
                    // which then gets its name, bus and owner. `data` and `bus` are set before
                    // (fields initialize in order), so callbacks that run from
                    // `driver_register()` find them. `p` stays valid until `drop` unregisters
                    // it (the box is pinned).
                    unsafe {
                        p.write_bytes(0, 1);
                        (*p).name = name.as_char_ptr();
                        (*p).bus = bus_raw;
                        (*p).owner = module.as_ptr();
                        to_result(bindings::driver_register(p))
                    }
                }),
            }),
            GFP_KERNEL,
        )?;
        Ok(Self { _inner: inner })
    }
}

/// One sysfs attribute of the devices of a [`Kind`] (a file in the device's directory).
pub struct Attribute<N: 'static> {
    /// The file's name.
    pub name: &'static CStr,
    /// Writes the file's contents (at most a page; more is cut off). An error is what the
    /// read fails with.
    pub show: fn(&N, &mut Emit<'_>) -> Result,
    /// Takes a write of the file (what was written, at most a page); `None`: the file is
    /// read-only (mode 0444; else 0644). An error is what the write fails with.
    pub store: Option<fn(&N, &[u8]) -> Result>,
    /// Whether the device has the file (checked when the device is added); `None`: always.
    pub visible: Option<fn(&N) -> bool>,
}

/// The buffer a sysfs `show` writes to (`sysfs_emit()`): a page; what does not fit is cut
/// off.
pub struct Emit<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Emit<'a> {
    /// A buffer writing into `buf` (sysfs passes a page; tests may pass their own).
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// What was written so far.
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Writes `args` and a newline (`sysfs_emit(buf, "...\n", ...)`).
    pub fn line(&mut self, args: fmt::Arguments<'_>) -> Result {
        // `write_str` never fails: what does not fit is cut off.
        let _ = fmt::Write::write_fmt(self, args);
        let _ = fmt::Write::write_str(self, "\n");
        Ok(())
    }
}

impl fmt::Write for Emit<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // The last byte of the page stays free (sysfs reads at most `PAGE_SIZE - 1`).
        let room = self.buf.len().saturating_sub(1).saturating_sub(self.len);
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// A kind of device on a bus `B`: its name (`device_type`) and attributes. Devices of the kind
/// keep it alive.
pub struct Kind<B: BusOps>(Arc<KindInner<B>>);

impl<B: BusOps> Clone for Kind<B> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

/// A `device_attribute` and what it shows.
#[repr(C)]
struct DevAttr<B: BusOps> {
    raw: bindings::device_attribute,
    desc: &'static Attribute<B::Node>,
}

/// # Invariants
///
/// `dtype.groups` points to `_groups`, a null-terminated array whose one group `_group` points
/// to `_ptrs`, a null-terminated array of the `attr` of each element of `_attrs`, in order.
/// None of them changes or moves (each lives in a heap allocation of its own) while `self`
/// lives; sysfs reaches them through `dtype` only.
struct KindInner<B: BusOps> {
    _attrs: KVec<DevAttr<B>>,
    _ptrs: KVec<*mut bindings::attribute>,
    _group: KBox<bindings::attribute_group>,
    _groups: KBox<[*const bindings::attribute_group; 2]>,
    dtype: KBox<bindings::device_type>,
}

// SAFETY: Nothing in a `KindInner` changes after it is made; the driver core reads it from any
// thread.
unsafe impl<B: BusOps> Send for KindInner<B> {}
// SAFETY: As for `Send`.
unsafe impl<B: BusOps> Sync for KindInner<B> {}

impl<B: BusOps> Kind<B> {
    /// A kind of device named `name` (`DEVTYPE` in uevents) with the attributes `attrs`.
    ///
    /// Returns `ENOMEM`.
    pub fn new(name: &'static CStr, attrs: &'static [Attribute<B::Node>]) -> Result<Self> {
        let mut v = KVec::with_capacity(attrs.len(), GFP_KERNEL)?;
        for a in attrs {
            // SAFETY: All-zero is a valid `device_attribute` (no callbacks).
            let mut raw: bindings::device_attribute = unsafe { core::mem::zeroed() };
            raw.attr.name = a.name.as_char_ptr();
            raw.attr.mode = if a.store.is_some() { 0o644 } else { 0o444 };
            #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
            {
                // As `sysfs_attr_init()`: one static lockdep class for these attributes.
                raw.attr.key = crate::static_lock_class!().as_ptr();
            }
            raw.__bindgen_anon_1.show = Some(show_callback::<B>);
            if a.store.is_some() {
                raw.__bindgen_anon_2.store = Some(store_callback::<B>);
            }
            v.push(DevAttr { raw, desc: a }, GFP_KERNEL)?;
        }
        let mut ptrs = KVec::with_capacity(attrs.len() + 1, GFP_KERNEL)?;
        for a in v.iter_mut() {
            ptrs.push(&raw mut a.raw.attr, GFP_KERNEL)?;
        }
        ptrs.push(core::ptr::null_mut(), GFP_KERNEL)?;
        // SAFETY: All-zero is a valid `attribute_group` (no name, no attributes).
        let mut group: KBox<bindings::attribute_group> =
            KBox::new(unsafe { core::mem::zeroed() }, GFP_KERNEL)?;
        group.__bindgen_anon_1.is_visible = Some(visible_callback::<B>);
        group.__bindgen_anon_2.attrs = ptrs.as_mut_ptr();
        let mut groups = KBox::new([&raw const *group, core::ptr::null()], GFP_KERNEL)?;
        // SAFETY: All-zero is a valid `device_type` (no name, groups or callbacks).
        let mut dtype: KBox<bindings::device_type> =
            KBox::new(unsafe { core::mem::zeroed() }, GFP_KERNEL)?;
        dtype.name = name.as_char_ptr();
        dtype.groups = groups.as_mut_ptr();
        // The invariant holds: each table is in its own heap allocation and points only to
        // the next.
        Ok(Self(Arc::new(
            KindInner {
                _attrs: v,
                _ptrs: ptrs,
                _group: group,
                _groups: groups,
                dtype,
            },
            GFP_KERNEL,
        )?))
    }
}

/// `show` of every attribute of a [`Kind`].
///
/// # Safety
///
/// Called by sysfs for an attribute `attr` of a [`Kind<B>`] of the device `dev` (a device on
/// the bus of `B`), with `buf` a page.
unsafe extern "C" fn show_callback<B: BusOps>(
    dev: *mut bindings::device,
    attr: *mut bindings::device_attribute,
    buf: *mut c_char,
) -> isize {
    // SAFETY: `attr` is the `raw` of a `DevAttr<B>` (`Kind::new` made every attribute of its
    // group so), live while the device has the file; `dev` is a live node of the bus.
    let (a, node) = unsafe { (&*attr.cast::<DevAttr<B>>(), node_of::<B>(dev)) };
    // SAFETY: sysfs passes a zeroed page, ours until we return.
    let page = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), crate::page::PAGE_SIZE) };
    let mut out = Emit::new(page);
    match (a.desc.show)(&node.data, &mut out) {
        Ok(()) => out.len as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// `store` of the writable attributes of a [`Kind`].
///
/// # Safety
///
/// As for [`show_callback`], with `buf` the `count` bytes written.
unsafe extern "C" fn store_callback<B: BusOps>(
    dev: *mut bindings::device,
    attr: *mut bindings::device_attribute,
    buf: *const c_char,
    count: usize,
) -> isize {
    // SAFETY: As for `show_callback`.
    let (a, node) = unsafe { (&*attr.cast::<DevAttr<B>>(), node_of::<B>(dev)) };
    // SAFETY: sysfs passes the `count` bytes written (a copy in the kernel).
    let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
    let Some(store) = a.desc.store else {
        return EACCES.to_errno() as isize;
    };
    match store(&node.data, input) {
        Ok(()) => count as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// `is_visible` of the attribute group of a [`Kind`].
///
/// # Safety
///
/// Called by sysfs for attribute `n` of the group of a [`Kind<B>`] of a device on the bus of
/// `B`, whose `kobj` is `kobj`.
unsafe extern "C" fn visible_callback<B: BusOps>(
    kobj: *mut bindings::kobject,
    attr: *mut bindings::attribute,
    _n: c_int,
) -> bindings::umode_t {
    // SAFETY: `kobj` is the `kobj` of a device on the bus, a live node; `attr` is the `attr`
    // (the first field) of the `raw` (the first field) of one of its kind's `DevAttr<B>`.
    let (node, a) = unsafe {
        let dev = crate::container_of!(kobj, bindings::device, kobj);
        (node_of::<B>(dev), &*attr.cast::<DevAttr<B>>())
    };
    match a.desc.visible {
        Some(f) if !f(&node.data) => 0,
        _ => a.raw.attr.mode,
    }
}

/// A device on a bus `B` (`/sys/bus/<bus>/devices/<name>`), with the attributes of its
/// [`Kind`]; removed when dropped (its driver unbound first). What it holds lives until the
/// device's last reference is gone.
pub struct Node<B: BusOps>(NonNull<NodeInner<B>>);

// SAFETY: A `Node` is a reference to a registered device, which may be used and unregistered
// from any thread; `B::Node` is `Send + Sync`.
unsafe impl<B: BusOps> Send for Node<B> {}
// SAFETY: As for `Send`.
unsafe impl<B: BusOps> Sync for Node<B> {}

/// # Invariants
///
/// `dev` has been initialized (`device_initialize()`) with `bus`'s bus type, `kind`'s device
/// type and [`node_release`] as its release function, which frees the `NodeInner` (allocated
/// as a [`KBox`]) when the last reference to `dev` is gone.
#[repr(C)]
struct NodeInner<B: BusOps> {
    dev: Opaque<bindings::device>,
    data: B::Node,
    _kind: Kind<B>,
    _bus: Bus<B>,
}

/// The release function of every device made by [`Node::new`].
///
/// # Safety
///
/// Called by the driver core once the last reference to `dev`, the `dev` of a
/// `NodeInner<B>` allocated as a `KBox`, is gone.
unsafe extern "C" fn node_release<B: BusOps>(dev: *mut bindings::device) {
    // SAFETY: Per the safety requirements, nothing uses the node any more, and it was
    // allocated by `KBox` (`Node::new`).
    drop(unsafe {
        KBox::from_raw(crate::container_of!(
            dev.cast::<Opaque<bindings::device>>(),
            NodeInner<B>,
            dev
        ))
    });
}

impl<B: BusOps> Node<B> {
    /// Adds a device named `name` of kind `kind` to `bus`, below `parent` in the device
    /// hierarchy, holding `data`. Drivers of the bus that match it are probed at once (see
    /// [`BusOps::probe`]); a probe that fails leaves it unbound.
    ///
    /// Returns `EEXIST` when the bus has a device of that name, `ENOMEM`, and `device_add()`'s
    /// other errors.
    pub fn new(
        bus: &Bus<B>,
        kind: &Kind<B>,
        parent: Option<&Device>,
        name: &CStr,
        data: B::Node,
    ) -> Result<Self> {
        let inner = KBox::new(
            NodeInner {
                dev: Opaque::uninit(),
                data,
                _kind: kind.clone(),
                _bus: bus.clone(),
            },
            GFP_KERNEL,
        )?;
        let p = KBox::into_raw(inner);
        // SAFETY: `p` is a valid, unique allocation; its `dev` is written (zeroed, then
        // initialized) before anything else sees it. From `device_initialize()` on, the
        // device's reference count owns the allocation: `put_device()` frees it through
        // `node_release`. The bus and device type outlive the device (it holds them).
        unsafe {
            let dev = (*p).dev.get();
            dev.write_bytes(0, 1);
            (*dev).bus = bus.as_raw();
            (*dev).type_ = &raw const *kind.0.dtype;
            (*dev).parent = parent.map_or(core::ptr::null_mut(), |d| d.as_raw());
            (*dev).release = Some(node_release::<B>);
            bindings::device_initialize(dev);
            let r = to_result(bindings::dev_set_name(
                dev,
                c"%s".as_char_ptr(),
                name.as_char_ptr(),
            ))
            .and_then(|()| to_result(bindings::device_add(dev)));
            if let Err(e) = r {
                bindings::put_device(dev);
                return Err(e);
            }
        }
        // SAFETY: `p` is not null (it came from a `KBox`).
        Ok(Self(unsafe { NonNull::new_unchecked(p) }))
    }

    fn inner(&self) -> &NodeInner<B> {
        // SAFETY: The device is registered while `self` lives, so its `NodeInner` is live.
        unsafe { self.0.as_ref() }
    }

    /// What the device holds.
    pub fn data(&self) -> &B::Node {
        &self.inner().data
    }

    /// The device.
    pub fn device(&self) -> &Device {
        // SAFETY: `dev` is a valid, registered device while `self` lives.
        unsafe { Device::from_raw(self.inner().dev.get()) }
    }

    /// Binds a matching driver to the device, as a new device is (`device_attach()`): returns
    /// whether one is bound now. A probe that fails is not an error here (the device stays
    /// unbound).
    ///
    /// Must not be called from a probe or remove of the device itself (its lock is held then).
    pub fn attach(&self) -> Result<bool> {
        // SAFETY: The device is registered.
        let r = unsafe { bindings::device_attach(self.inner().dev.get()) };
        to_result(r.min(0))?;
        Ok(r > 0)
    }

    /// Unbinds the device's driver, if one is bound (`device_release_driver()`).
    ///
    /// Must not be called from a probe or remove of the device itself (its lock is held then).
    pub fn unbind(&self) {
        // SAFETY: The device is registered.
        unsafe { bindings::device_release_driver(self.inner().dev.get()) };
    }

    /// Whether a driver is bound to the device now.
    pub fn is_bound(&self) -> bool {
        // SAFETY: The device is registered; `driver` is read once (it changes under the
        // device lock, which readers of it such as `dev_driver_string()` do not take).
        !unsafe { core::ptr::read_volatile(&raw const (*self.inner().dev.get()).driver) }.is_null()
    }
}

impl<B: BusOps> Drop for Node<B> {
    fn drop(&mut self) {
        // SAFETY: The device is registered; `device_unregister()` unbinds and removes it and
        // gives up the reference `Node::new` held, after which `self.0` is not used.
        unsafe { bindings::device_unregister(self.inner().dev.get()) };
    }
}

/// The NUMA node `dev` is close to (`dev_to_node()`): `-1` (`NUMA_NO_NODE`) when not known or
/// without NUMA.
pub fn numa_node(dev: &Device) -> i32 {
    #[cfg(CONFIG_NUMA)]
    {
        // SAFETY: `dev` is a valid device; `numa_node` is a plain field set before the
        // device is added.
        unsafe { (*dev.as_raw()).numa_node }
    }
    #[cfg(not(CONFIG_NUMA))]
    {
        let _ = dev;
        -1
    }
}
