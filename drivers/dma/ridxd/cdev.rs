// SPDX-License-Identifier: GPL-2.0

//! User work queues: one character device per enabled WQ, `/dev/dsa/wq<D>.<W>` (idxd naming),
//! registered when the WQ is enabled and removed when it is disabled ([`UserWqs`]).
//!
//! * `open` binds the opener's address space for SVA (the PASID tags its descriptors), takes
//!   a reference to its `mm` (`mmgrab`) for the CR fault fix-up, registers the fault context,
//!   and programs the PASID into a dedicated WQ's WQCFG. A dedicated WQ admits one opener
//!   (`EBUSY`).
//! * `write` takes whole 64-byte descriptors, checks each (CR address 32-byte aligned, `priv`
//!   clear: `EINVAL`), forces its PASID to the file's and submits it; it returns the bytes of
//!   the descriptors accepted (`EAGAIN` if a shared WQ took none after `enqcmds_retries`
//!   more tries; all go to the WQ's limited portal, as idxd's do). A process other than the
//!   opener gets `EPERM` (upstream's rule for passed file descriptors).
//!   A batch descriptor is refused (`EINVAL`) on a DSA 1.0 device where user submission is
//!   not safe (INTEL-SA-01084): the driver cannot check the descriptors a batch points to.
//! * `poll` reports `POLLIN | POLLRDNORM` once a software error has been attributed to the
//!   file's PASID on its WQ (a CR the driver could not write, a SWERR or event-log error), and
//!   stays so (idxd reports the device's SWERR the same way); `POLLNVAL` to another process.
//! * `mmap` of the WQ's limited portal page: `EPERM` without `CAP_SYS_RAWIO` where user
//!   submission is not safe (every DSA part today), and to another process; `EINVAL` for more
//!   than a page or a copy-on-write mapping (`MAP_PRIVATE` of a file opened for writing:
//!   device memory cannot be copy-on-write); `ENODEV` on the device model, whose portals are not memory. On
//!   PCI devices the mapping gets the page, uncached, at its first access
//!   (`pci::Device::insert_bar_page` in the mapping's fault handler), checked against
//!   revocation under the file's portal lock; not inherited by child processes.
//! * Each open file has a `file<N>` device on the `dsa` bus below the WQ's char device node
//!   (`pid`, `cr_faults`, `cr_fault_failures`; see [`crate::sysfs`]) and a `file<N>` directory
//!   in the WQ's debugfs directory (the same and `pasid`), both removed at close. `N` is
//!   unique among the module's open files (idxd's numbering is global too).
//! * `release` ([`DsaDevice::release_pasid`]), in order: stop the device using the PASID
//!   (drain it; if that fails, disable the WQ; if that fails, reset the device), hand the
//!   event-log ring's entries to the fault path, skip the PASID's pending entries and wait for
//!   the fault work, unbind (unless the device could not be stopped: the PASID then stays
//!   bound until the device goes away, so no other process gets it), drop the context and the
//!   `mm`.
//!
//! * **Revocation**: when a WQ is disabled (the only state in which it can be reconfigured),
//!   the device is disabled, or the device goes away (unbind), every file open on the WQ (or
//!   the device) is revoked first: from then on `write` and `mmap` fail with `ENODEV` and
//!   `poll` reports `POLLERR | POLLHUP`; once the WQ is disabled its PASID is released as at
//!   `release` (SVA unbind while the device is still bound) and its context removed. A
//!   dedicated WQ is free for a new opener at once. The file itself stays open until its
//!   owner closes it, which then releases nothing more. A `write` holds the file's state
//!   while it submits, so no submission of a revoked file is in flight after revocation.
//!
//! Open files keep the module loaded (the file operations belong to it), so `rmmod` waits for
//! them to be closed.

use crate::{
    config::WqMode,
    device::DsaDevice,
    fault::UserContext,
    hw::{opcode, CompletionRecord, Descriptor},
    hwif::SvaBond,
    regs::Major,
};
use kernel::{
    bindings,
    cred::capability::{capable, Capability},
    debugfs::{Dir, Scope, ScopedDir},
    device::Device,
    fs::{mapping::InodeMappings, File, Kiocb},
    id_pool::IdPool,
    iov::IovIterSource,
    miscdevice::{
        data::{DataRegistration, MiscDeviceWithData},
        MiscDevice, MiscDeviceRegistration,
    },
    mm::{
        pfnmap::{FaultResult, PfnFault, PfnFaultHandler},
        virt::VmaNew,
        Mm,
    },
    new_mutex, new_spinlock,
    page::PAGE_SIZE,
    prelude::*,
    str::CString,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        poll::PollTable,
        Arc, Mutex, SpinLock,
    },
    time::{delay::fsleep, Delta},
    transmute::FromBytes,
};

/// What a `file<N>` directory shows: an open file of a user WQ (idxd's `file<N>` object).
pub(crate) struct FileInfo {
    /// PID of the task that opened the file.
    pub(crate) pid: i32,
    /// The file's fault context (counters).
    pub(crate) ctx: Arc<UserContext>,
}

/// The `file<N>` directory of an open file; removed when dropped.
pub(crate) type FileDir = Pin<KBox<Scope<FileInfo>>>;

/// Creates `file<id>` in `wq_dir` with `pid`, `pasid`, `cr_faults` and `cr_fault_failures`.
///
/// Returns `ENOMEM` on allocation failure.
fn create_file_dir(wq_dir: &Dir, id: usize, info: FileInfo) -> Result<FileDir> {
    let name = CString::try_from_fmt(fmt!("file{id}"))?;
    KBox::pin_init(
        wq_dir.scope(info, &name, |fi: &FileInfo, dir: &ScopedDir<'_, '_>| {
            dir.read_callback_file(c"pid", fi, &|fi: &FileInfo, f| writeln!(f, "{}", fi.pid));
            dir.read_callback_file(c"pasid", fi, &|fi: &FileInfo, f| {
                writeln!(f, "{}", fi.ctx.pasid())
            });
            dir.read_callback_file(c"cr_faults", fi, &|fi: &FileInfo, f| {
                writeln!(f, "{}", fi.ctx.counters().cr_faults)
            });
            dir.read_callback_file(c"cr_fault_failures", fi, &|fi: &FileInfo, f| {
                writeln!(f, "{}", fi.ctx.counters().cr_fault_failures)
            });
        }),
        GFP_KERNEL,
    )
}

/// A user WQ: what its open files share (idxd's `struct idxd_cdev`): the device and WQ they
/// submit to, the WQ's debugfs directory, whether a dedicated WQ is taken, and the number of
/// the next open file.
#[pin_data]
pub(crate) struct UserWq {
    dsa: Arc<DsaDevice>,
    wq: usize,
    /// The WQ's debugfs directory, for the files' `file<N>` directories.
    dir: Option<Dir>,
    /// [`UserWqs::mmap_delay_ms`].
    mmap_delay_ms: Arc<Atomic<u32>>,
    #[pin]
    state: SpinLock<UserWqState>,
    /// The open files, for revocation.
    #[pin]
    files: Mutex<KVec<Arc<FileLink>>>,
    /// Where the open files' `file<N>` nodes go (the WQ's char device node), while the WQ is
    /// bound to the `user` driver.
    #[pin]
    file_parent: Mutex<Option<ARef<Device>>>,
}

kernel::static_mutex! {
    /// The numbers of the open files (`file<N>`), over all devices: idxd's `file_ida`.
    /// `None` until the first open; emptied by [`FileIds`] when the module unloads.
    static FILE_IDS: Option<IdPool> = (c"ridxd::cdev::FILE_IDS", None);
}

/// The number `N` of an open file's `file<N>` nodes (debugfs, the `dsa` bus): the lowest number
/// no other open file has, as idxd's `file_ida` gives them; free again once this is dropped,
/// after the nodes.
struct FileId(usize);

impl FileId {
    /// Takes the lowest free number.
    ///
    /// Returns `ENOMEM` when the pool of numbers cannot grow, `ENOSPC` past `i32::MAX` open
    /// files.
    fn new() -> Result<Self> {
        let mut ids = FILE_IDS.lock();
        let pool = ids.get_or_insert_with(IdPool::new);
        loop {
            if let Some(id) = pool.find_unused_id(0) {
                return Ok(Self(id.acquire()));
            }
            let grown = pool.grow_request().ok_or(ENOSPC)?.realloc(GFP_KERNEL)?;
            pool.grow(grown);
        }
    }
}

impl Drop for FileId {
    fn drop(&mut self) {
        if let Some(pool) = &mut *FILE_IDS.lock() {
            pool.release_id(self.0);
        }
    }
}

/// Owned by the module: frees the pool of file numbers when the module unloads, when no file
/// is open any more (an open file holds a reference to the module).
pub(crate) struct FileIds;

impl Drop for FileIds {
    fn drop(&mut self) {
        drop(FILE_IDS.lock().take());
    }
}

/// What an open file holds while it may use the device, and gives up when revoked or
/// released: its PASID's SVA bond and its fault context.
struct Live {
    bond: KBox<dyn SvaBond>,
    ctx: Arc<UserContext>,
    shared: bool,
}

/// An open file's portal mappings, apart from its [`FileState`]: `mmap` runs with the
/// caller's `mmap_lock` held, and the state lock is held where the device's locks are taken
/// (and through them `iommu_sva_bind_device()`, which takes an `mmap_lock`), so `mmap` must
/// not take it.
struct PortalState {
    /// The file was revoked: no new mapping, and no page in an existing one.
    revoked: bool,
    /// The portal mappings of the WQ's files, once one was mapped: revocation takes them
    /// away (a later access gets `SIGBUS`).
    mappings: Option<InodeMappings>,
}

/// Where an open file is in its life.
enum FileState {
    /// Not yet (or no longer) using the device: opening, or released.
    Gone,
    /// Using the device.
    Live(Live),
    /// Revoked: it may no longer use the device; its PASID is released once the WQ is
    /// disabled ([`UserWq::finish_revoke`]).
    Revoked(Live),
}

/// The part of an open file that its WQ reaches, to revoke it.
///
/// # Locks
///
/// `state` (sleeping) is taken before the device's locks: it is held while `open` programs a
/// dedicated WQ's PASID and while `write` submits. The WQ's `files` list is taken before it.
/// `portal` is taken after `state` (revocation), under the caller's `mmap_lock` (`mmap`) and
/// under the `mmap_lock` or the VMA lock a page fault holds (the portal mapping's fault
/// handler); nothing else is taken under it but the inode's `i_mmap_rwsem` and the page-table
/// locks (`unmap_mapping_range()`, `vmf_insert_pfn_prot()`) and the device's bound gate.
#[pin_data]
struct FileLink {
    #[pin]
    state: Mutex<FileState>,
    #[pin]
    portal: Mutex<PortalState>,
}

impl FileLink {
    /// Whether the file may use the device.
    fn is_live(&self) -> bool {
        matches!(*self.state.lock(), FileState::Live(_))
    }
}

struct UserWqState {
    /// A dedicated WQ is open.
    taken: bool,
}

/// The character device of one user WQ.
pub(crate) type WqCdev = Pin<KBox<DataRegistration<WqFile>>>;

/// The user WQs of a device: enabling a WQ through this registers its character device,
/// disabling it removes the device node first (files already open stay usable until closed,
/// their submissions going to a disabled WQ).
#[pin_data]
pub(crate) struct UserWqs {
    dsa: Arc<DsaDevice>,
    dev_index: usize,
    /// Fault injection: how long `mmap` of a portal waits once the driver's part is done
    /// (debugfs `mmap_delay_ms`).
    mmap_delay_ms: Arc<Atomic<u32>>,
    /// Per WQ: its character device while enabled, and its debugfs directory.
    #[pin]
    wqs: Mutex<KVec<WqSlot>>,
}

/// One WQ of [`UserWqs`].
struct WqSlot {
    cdev: Option<WqCdev>,
    /// Made at the first registration and kept across disable/enable, so that files opened
    /// before a disable still count: a dedicated WQ stays taken, `file<N>` numbers go on.
    uwq: Option<Arc<UserWq>>,
    dir: Option<Dir>,
    /// Where open files' `file<N>` nodes go ([`UserWqs::set_file_parent`]).
    file_parent: Option<ARef<Device>>,
}

impl UserWqs {
    /// The user WQs of `dsa`, device number `dev_index` (`/dev/dsa/wq<dev_index>.<W>`), with
    /// no character device yet.
    ///
    /// Returns `ENOMEM` on allocation failure.
    pub(crate) fn new(dsa: &Arc<DsaDevice>, dev_index: usize) -> Result<Arc<Self>> {
        let n = dsa.caps().num_wqs();
        let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            v.push(
                WqSlot {
                    cdev: None,
                    uwq: None,
                    dir: None,
                    file_parent: None,
                },
                GFP_KERNEL,
            )?;
        }
        let mmap_delay_ms = Arc::new(Atomic::new(0), GFP_KERNEL)?;
        Arc::pin_init(
            pin_init!(Self {
                dsa: dsa.clone(),
                dev_index,
                mmap_delay_ms,
                wqs <- new_mutex!(v, "ridxd::cdev::user_wqs"),
            }),
            GFP_KERNEL,
        )
    }

    /// The fault injection knob `mmap_delay_ms` (ms): how long a successful `mmap` of a
    /// portal waits before it returns, after the driver has set the mapping up and before the
    /// kernel links it to the file (0: not at all). For tests of revocation racing `mmap`.
    pub(crate) fn mmap_delay_ms(&self) -> &Arc<Atomic<u32>> {
        &self.mmap_delay_ms
    }

    /// Sets WQ `wq`'s debugfs directory, where its open files put their `file<N>`.
    pub(crate) fn set_dir(&self, wq: usize, dir: Dir) {
        if let Some(w) = self.wqs.lock().get_mut(wq) {
            w.dir = Some(dir);
        }
    }

    /// Sets where the files opened on WQ `wq` from now on put their `file<N>` nodes (the WQ's
    /// char device node; `None`: nowhere).
    pub(crate) fn set_file_parent(&self, wq: usize, parent: Option<ARef<Device>>) {
        let mut wqs = self.wqs.lock();
        if let Some(w) = wqs.get_mut(wq) {
            if let Some(u) = &w.uwq {
                *u.file_parent.lock() = parent.clone();
            }
            w.file_parent = parent;
        }
    }

    /// The minor number of WQ `wq`'s character device, while it has one.
    pub(crate) fn cdev_minor(&self, wq: usize) -> Option<u32> {
        self.wqs
            .lock()
            .get(wq)
            .and_then(|w| w.cdev.as_ref().map(|c| c.minor()))
    }

    /// Registers the character devices of the enabled WQs that have none.
    ///
    /// Returns `misc_register()`'s errors, `ENOMEM`.
    pub(crate) fn register_enabled(&self) -> Result {
        let enabled: KVec<bool> = self.dsa.with_config(|c| {
            let mut v = KVec::with_capacity(c.wqs.len(), GFP_KERNEL)?;
            for w in c.wqs.iter() {
                v.push(w.enabled, GFP_KERNEL)?;
            }
            Ok::<_, Error>(v)
        })?;
        let mut wqs = self.wqs.lock();
        for (i, w) in wqs.iter_mut().enumerate() {
            if !enabled.get(i).copied().unwrap_or(false) || w.cdev.is_some() {
                continue;
            }
            let uwq = match &w.uwq {
                Some(n) => n.clone(),
                None => {
                    let n = UserWq::new(&self.dsa, i, w.dir.clone(), &self.mmap_delay_ms)?;
                    w.uwq = Some(n.clone());
                    n
                }
            };
            *uwq.file_parent.lock() = w.file_parent.clone();
            w.cdev = Some(register(self.dev_index, uwq)?);
        }
        Ok(())
    }

    /// Enables WQ `wq` and registers its character device.
    ///
    /// Returns the errors of [`DsaDevice::enable_wq`] and of `misc_register()` (the WQ is then
    /// disabled again).
    pub(crate) fn enable_wq(&self, wq: usize) -> Result {
        self.dsa.enable_wq(wq)?;
        if let Err(e) = self.register_enabled() {
            let _ = self.disable_wq(wq);
            return Err(e);
        }
        Ok(())
    }

    /// Removes WQ `wq`'s character device, revokes its open files, disables the WQ (if the
    /// device fails the command, resets the device: a WQ that may still run must not keep the
    /// revoked files' PASIDs), and releases their PASIDs.
    ///
    /// Returns the errors of [`DsaDevice::disable_wq`].
    pub(crate) fn disable_wq(&self, wq: usize) -> Result {
        let uwq = match self.wqs.lock().get_mut(wq) {
            Some(w) => {
                w.cdev = None;
                w.uwq.clone()
            }
            None => None,
        };
        if let Some(u) = &uwq {
            u.begin_revoke();
        }
        let r = self.dsa.disable_wq(wq);
        // `EINVAL`: the WQ was not enabled (or does not exist), nothing runs on it. Any other
        // error: the command failed, and the WQ may still run.
        if matches!(r, Err(e) if e != EINVAL) {
            let _ = self.dsa.reset();
        }
        if let Some(u) = &uwq {
            u.finish_revoke();
        }
        r
    }

    /// Removes every character device, revokes every open file, disables the device and
    /// releases the files' PASIDs.
    ///
    /// Returns the errors of [`DsaDevice::disable`].
    pub(crate) fn disable_device(&self) -> Result {
        self.clear();
        self.each_uwq(|u| u.begin_revoke());
        let r = self.dsa.disable();
        self.each_uwq(|u| u.finish_revoke());
        r
    }

    /// What unbind needs before the device is shut down: every character device removed,
    /// every open file revoked, the device disabled, the files' PASIDs released (SVA unbind
    /// while the device is still bound).
    pub(crate) fn shutdown(&self) {
        // On a device that is not enabled the disable is refused (`EINVAL`) and changes
        // nothing; the files are revoked and released all the same.
        let _ = self.disable_device();
    }

    /// Removes every character device (no new opens).
    fn clear(&self) {
        for w in self.wqs.lock().iter_mut() {
            w.cdev = None;
        }
    }

    /// Calls `f` on each WQ's [`UserWq`] (those ever registered), without holding `wqs`.
    fn each_uwq(&self, mut f: impl FnMut(&UserWq)) {
        for i in 0..self.dsa.caps().num_wqs() {
            let uwq = self.wqs.lock().get(i).and_then(|w| w.uwq.clone());
            if let Some(u) = uwq {
                f(&u);
            }
        }
    }
}

impl UserWq {
    /// The user WQ of WQ `wq` of `dsa`; its open files put their `file<N>` directories in `dir`
    /// (the WQ's debugfs directory), if given.
    ///
    /// Returns `ENOMEM`.
    fn new(
        dsa: &Arc<DsaDevice>,
        wq: usize,
        dir: Option<Dir>,
        mmap_delay_ms: &Arc<Atomic<u32>>,
    ) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(UserWq {
                dsa: dsa.clone(),
                wq,
                dir,
                mmap_delay_ms: mmap_delay_ms.clone(),
                state <- new_spinlock!(UserWqState { taken: false }, "ridxd::cdev::user_wq"),
                files <- new_mutex!(KVec::new(), "ridxd::cdev::user_wq_files"),
                file_parent <- new_mutex!(None, "ridxd::cdev::file_parent"),
            }),
            GFP_KERNEL,
        )
    }

    /// Revokes every open file (the first half of revocation): none may use the device from
    /// now on; a dedicated WQ is free for a new opener.
    fn begin_revoke(&self) {
        let files = self.files.lock();
        let mut revoked_dedicated = false;
        for f in files.iter() {
            let mut st = f.state.lock();
            if let FileState::Live(_) = *st {
                if let FileState::Live(l) = core::mem::replace(&mut *st, FileState::Gone) {
                    revoked_dedicated |= !l.shared;
                    let mut portal = f.portal.lock();
                    portal.revoked = true;
                    if let Some(m) = &portal.mappings {
                        m.unmap_all();
                    }
                    drop(portal);
                    *st = FileState::Revoked(l);
                }
            }
        }
        drop(files);
        if revoked_dedicated {
            self.state.lock().taken = false;
        }
    }

    /// Releases the PASIDs of the revoked files ([`DsaDevice::release_pasid`]), once the WQ is
    /// disabled.
    fn finish_revoke(&self) {
        loop {
            let next = {
                let files = self.files.lock();
                let mut found = None;
                for f in files.iter() {
                    let mut st = f.state.lock();
                    if let FileState::Revoked(_) = *st {
                        if let FileState::Revoked(l) = core::mem::replace(&mut *st, FileState::Gone)
                        {
                            found = Some(l);
                        }
                        break;
                    }
                }
                found
            };
            let Some(l) = next else {
                return;
            };
            let _ = self.dsa.release_pasid(self.wq, l.shared, &l.ctx, l.bond);
        }
    }
}

/// Registers `/dev/dsa/wq<dev_index>.<W>` for `uwq`'s WQ `W`.
///
/// Returns `ENOMEM`, or `misc_register()`'s error (`EBUSY` for a name in use).
fn register(dev_index: usize, uwq: Arc<UserWq>) -> Result<WqCdev> {
    let name = CString::try_from_fmt(fmt!("dsa/wq{dev_index}.{}", uwq.wq))?;
    KBox::pin_init(DataRegistration::register(name, uwq), GFP_KERNEL)
}

/// An open file of a user WQ.
pub(crate) struct WqFile {
    uwq: Arc<UserWq>,
    shared: bool,
    pasid: u32,
    /// The opener's address space (`mmgrab`).
    mm: ARef<Mm>,
    ctx: Arc<UserContext>,
    /// What the WQ revokes.
    link: Arc<FileLink>,
    /// `file<N>` in debugfs.
    dir: Option<FileDir>,
    /// `file<N>` on the `dsa` bus.
    node: Option<kernel::device::bus::Node<crate::sysfs::DsaBus>>,
    /// The `N` of `dir` and `node`; given back after they are gone (fields drop in order).
    _id: FileId,
}

// SAFETY: `WqFile` registrations are made only by `register` above, through
// `DataRegistration::register`.
unsafe impl MiscDeviceWithData for WqFile {
    type RegistrationData = Arc<UserWq>;

    const HAS_POLL: bool = true;

    fn poll(this: Pin<&Self>, file: &File, table: &PollTable<'_>) -> u32 {
        if !this.same_mm() {
            return bindings::POLLNVAL;
        }
        if !this.link.is_live() {
            return bindings::POLLERR | bindings::POLLHUP;
        }
        let faults = this.uwq.dsa.faults();
        table.register_wait(file, faults.err_wait());
        if this.ctx.errors() != 0 {
            bindings::POLLIN | bindings::POLLRDNORM
        } else {
            0
        }
    }
}

impl WqFile {
    /// Whether the caller runs in the opener's address space.
    fn same_mm(&self) -> bool {
        let task = kernel::current!();
        task.mm()
            .is_some_and(|mm| core::ptr::eq::<Mm>(&**mm, &*self.mm))
    }
}

#[vtable]
impl MiscDevice for WqFile {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        let uwq = DataRegistration::<Self>::data(misc).clone();
        let dsa = &uwq.dsa;
        let wq = uwq.wq;
        let (mode, enabled) =
            dsa.with_config(|c| c.wqs.get(wq).map(|w| (w.mode, w.enabled)).ok_or(ENODEV))?;
        if !enabled {
            return Err(ENXIO);
        }
        let shared = mode == WqMode::Shared;
        if !shared {
            let mut st = uwq.state.lock();
            if st.taken {
                return Err(EBUSY);
            }
            st.taken = true;
        }
        let r = Self::open_as(&uwq, shared);
        if r.is_err() && !shared {
            uwq.state.lock().taken = false;
        }
        r
    }

    fn release(this: Pin<KBox<Self>>, _file: &File) {
        let mut this = this;
        // The file's debugfs directory goes first.
        this.as_mut().take_dir();
        // The device stops using the PASID, its event-log entries are skipped, SVA unbind (or
        // the PASID is kept bound if the device cannot be stopped); the context and the `mm`
        // reference go with `this`. A revoked file has given all that up already (or its
        // revocation is finishing: it is released here instead), and a dedicated WQ with it.
        let uwq = &this.uwq;
        uwq.files.lock().retain(|l| !Arc::ptr_eq(l, &this.link));
        let st = core::mem::replace(&mut *this.link.state.lock(), FileState::Gone);
        match st {
            FileState::Live(l) => {
                let _ = uwq.dsa.release_pasid(uwq.wq, l.shared, &l.ctx, l.bond);
                if !l.shared {
                    uwq.state.lock().taken = false;
                }
            }
            FileState::Revoked(l) => {
                let _ = uwq.dsa.release_pasid(uwq.wq, l.shared, &l.ctx, l.bond);
            }
            FileState::Gone => {}
        }
    }

    fn mmap(this: Pin<&Self>, file: &File, vma: &VmaNew) -> Result {
        let dsa = &this.uwq.dsa;
        // INTEL-SA-01084: direct submission only with CAP_SYS_RAWIO on affected parts.
        if !dsa.io().user_submission_safe() && !capable(Capability::SYS_RAWIO) {
            return Err(EPERM);
        }
        if !this.same_mm() {
            return Err(EPERM);
        }
        if vma.end() - vma.start() > PAGE_SIZE {
            return Err(EINVAL);
        }
        // The model has no portal page.
        if !dsa.io().portals_mappable() {
            return Err(ENODEV);
        }
        let handler = Arc::new(
            PortalMap {
                link: this.link.clone(),
                uwq: this.uwq.clone(),
            },
            GFP_KERNEL,
        )?;
        {
            let mut portal = this.link.portal.lock();
            if portal.revoked {
                return Err(ENODEV);
            }
            if portal.mappings.is_none() {
                portal.mappings = Some(InodeMappings::of(file)?);
            }
        }
        // No page is mapped here: the kernel links the mapping to the file only after this
        // returns, and a revocation in between would not find a page to take away. The page
        // goes in at the first access ([`PortalMap::fault`]), checked against revocation.
        // A copy-on-write (private, writable) mapping is refused here (`EINVAL`).
        vma.set_dontcopy();
        vma.set_pfn_fault_handler(handler)?;
        let delay = this.uwq.mmap_delay_ms.load(Relaxed);
        if delay > 0 {
            fsleep(Delta::from_millis(i64::from(delay)));
        }
        Ok(())
    }

    fn write_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        let this = kiocb.file();
        if !this.same_mm() {
            return Err(EPERM);
        }
        let len = iov.len();
        if len == 0 || len % Descriptor::SIZE != 0 {
            return Err(EINVAL);
        }
        // A shared WQ's "retry" answer is tried again this often (idxd's `enqcmds_retries`).
        let retries = if this.shared {
            let wq = this.uwq.wq;
            this.uwq.dsa.with_config(|c| c.wqs[wq].enqcmds_retries)
        } else {
            0
        };
        let mut done = 0;
        while done < len {
            let mut raw = [0u8; Descriptor::SIZE];
            if iov.copy_from_iter(&mut raw) != raw.len() {
                return if done > 0 { Ok(done) } else { Err(EFAULT) };
            }
            let mut d = Descriptor::from_bytes_copy(&raw).ok_or(EINVAL)?;
            let dsa = &this.uwq.dsa;
            let unsafe_batch = d.opcode() == opcode::BATCH
                && dsa.caps().major == Major::Dsa1
                && !dsa.io().user_submission_safe();
            if d.priv_() || d.completion_addr % CompletionRecord::ALIGN != 0 || unsafe_batch {
                return if done > 0 { Ok(done) } else { Err(EINVAL) };
            }
            d.set_pasid(this.pasid);
            // Held while submitting (not while copying from user memory, which may fault and
            // take the mmap lock that `mmap` holds around this lock): a revocation waits for
            // the submission, and no later one starts.
            let st = this.link.state.lock();
            let r = if matches!(*st, FileState::Live(_)) {
                let io = this.uwq.dsa.io();
                let mut r = io.submit(this.uwq.wq, this.shared, &d);
                for _ in 0..retries {
                    if r != Err(EAGAIN) {
                        break;
                    }
                    core::hint::spin_loop();
                    r = io.submit(this.uwq.wq, this.shared, &d);
                }
                r
            } else {
                Err(ENODEV)
            };
            drop(st);
            match r {
                Ok(()) => done += Descriptor::SIZE,
                Err(e) => return if done > 0 { Ok(done) } else { Err(e) },
            }
        }
        Ok(done)
    }
}

/// The fault handler of a portal mapping of an open file ([`WqFile`]'s `mmap`): maps the WQ's
/// portal page while the file is not revoked. The mapping holds it (and through it the file's
/// [`FileLink`]) until the last of its VMAs goes.
struct PortalMap {
    link: Arc<FileLink>,
    uwq: Arc<UserWq>,
}

impl PfnFaultHandler for PortalMap {
    fn fault(&self, vmf: &PfnFault<'_>) -> FaultResult {
        // Held while the page goes in: a revocation either comes after (and takes the page
        // away with the file's other mappings) or before (and the access gets SIGBUS).
        let portal = self.link.portal.lock();
        if portal.revoked {
            return FaultResult::SIGBUS;
        }
        self.uwq.dsa.io().fault_portal(self.uwq.wq, vmf)
    }
}

impl WqFile {
    fn open_as(uwq: &Arc<UserWq>, shared: bool) -> Result<Pin<KBox<Self>>> {
        let dsa = &uwq.dsa;
        let (mm, bond): (ARef<Mm>, _) = {
            let task = kernel::current!();
            let mm = task.mm().ok_or(EINVAL)?;
            (ARef::from(&**mm), dsa.io().sva_bind(mm)?)
        };
        let pasid = bond.pasid();
        let ctx = dsa.faults().add_ctx(pasid, uwq.wq as u8, &mm)?;
        // Everything that can fail for want of memory is done before the device is told of
        // the PASID; after that, only the device can refuse, and the PASID is taken back.
        let file = Self::file_dir(uwq, &ctx).and_then(|(id, dir, node)| {
            let link = Arc::pin_init(
                pin_init!(FileLink {
                    state <- new_mutex!(FileState::Gone, "ridxd::cdev::file_link"),
                    portal <- new_mutex!(
                        PortalState {
                            revoked: false,
                            mappings: None,
                        },
                        "ridxd::cdev::file_portal"
                    ),
                }),
                GFP_KERNEL,
            )?;
            uwq.files.lock().push(link.clone(), GFP_KERNEL)?;
            let file = KBox::pin(
                Self {
                    uwq: uwq.clone(),
                    shared,
                    pasid,
                    mm,
                    ctx: ctx.clone(),
                    link: link.clone(),
                    dir,
                    node,
                    _id: id,
                },
                GFP_KERNEL,
            );
            if file.is_err() {
                uwq.files.lock().retain(|l| !Arc::ptr_eq(l, &link));
            }
            Ok(file?)
        });
        let file = match file {
            Ok(f) => f,
            Err(e) => {
                dsa.faults().remove_ctx(&ctx);
                return Err(e);
            }
        };
        // Under the file's state lock: a revocation waits until the file is live, then
        // revokes it.
        let mut st = file.link.state.lock();
        if !shared {
            if let Err(e) = dsa.set_wq_pasid(uwq.wq, Some(pasid)) {
                drop(st);
                uwq.files.lock().retain(|l| !Arc::ptr_eq(l, &file.link));
                let _ = dsa.release_pasid(uwq.wq, shared, &ctx, bond);
                return Err(e);
            }
        }
        *st = FileState::Live(Live { bond, ctx, shared });
        drop(st);
        Ok(file)
    }

    /// The `file<N>` debugfs directory and `dsa` bus node of a new file with context `ctx`.
    fn file_dir(
        uwq: &UserWq,
        ctx: &Arc<UserContext>,
    ) -> Result<(
        FileId,
        Option<FileDir>,
        Option<kernel::device::bus::Node<crate::sysfs::DsaBus>>,
    )> {
        let file_id = FileId::new()?;
        let id = file_id.0;
        let pid = kernel::current!().pid();
        let parent = uwq.file_parent.lock().clone();
        let node = match parent {
            Some(p) => crate::sysfs::file_node(&p, id, pid, ctx)?,
            None => None,
        };
        let Some(wq_dir) = uwq.dir.as_ref() else {
            return Ok((file_id, None, node));
        };
        let info = FileInfo {
            pid,
            ctx: ctx.clone(),
        };
        // On failure `node` goes before `file_id`: a number is free only once its nodes are.
        let dir = create_file_dir(wq_dir, id, info)?;
        Ok((file_id, Some(dir), node))
    }

    fn take_dir(self: Pin<&mut Self>) {
        let this = Pin::into_inner(self);
        drop(this.dir.take());
        drop(this.node.take());
    }
}
