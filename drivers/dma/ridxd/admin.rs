// SPDX-License-Identifier: GPL-2.0

//! The admin interface: a device's state and configuration knobs, under the attribute names of
//! the idxd sysfs ABI (`Documentation/ABI/stable/sysfs-driver-dma-idxd`), in debugfs:
//!
//! ```text
//! /sys/kernel/debug/ridxd/dsa<N>/
//!     device              the bus device it is (read-only)
//!     version             VERSION, hex (read-only)
//!     state               "disabled", "enabled" or "halted" (read-only)
//!     enable              write 1 to enable the device, 0 to disable it
//!     max_groups, max_engines, max_work_queues, max_work_queues_size (read-only)
//!     event_log_size      entries, 64..65535 (DSA 2.0; writable while disabled)
//!     event_log           head, tail, int_pending and the entries in the ring, decoded
//!     wq<N>/size, mode ("dedicated"/"shared"), priority, threshold, group_id (-1: none),
//!           block_on_fault, prs_disable (DSA 2.0), ats_disable (with WQCAP support),
//!           max_transfer_size, max_batch_size, state, enable,
//!           clients, cr_faults, cr_fault_failures (sums over the open files)
//!     wq<N>/file<K>/pid, pasid, cr_faults, cr_fault_failures   one directory per open file
//!     engine<E>/group_id  the engine's group (-1: none; writable while the device is disabled)
//! ```
//!
//! A write that the configuration rules refuse fails with their errno (`EBUSY` while enabled,
//! `EOPNOTSUPP` for a missing capability, `EINVAL` out of range) and changes nothing.

use crate::{cdev::UserWqs, config::WqMode, device::DsaDevice, evl::EvlKind};
use core::fmt;
use kernel::{
    debugfs::{Dir, File},
    prelude::*,
    str::CString,
    sync::Arc,
    uaccess::UserSliceReader,
};

/// What a device's own debugfs files refer to.
#[derive(Clone)]
pub(crate) struct AdminData {
    dsa: Arc<DsaDevice>,
    user: Arc<UserWqs>,
}

/// One WQ of a device (each WQ file refers to one; debugfs callbacks cannot capture).
#[derive(Clone)]
pub(crate) struct WqRef {
    dsa: Arc<DsaDevice>,
    user: Arc<UserWqs>,
    wq: usize,
}

/// One engine of a device.
#[derive(Clone)]
pub(crate) struct EngineRef {
    dsa: Arc<DsaDevice>,
    engine: usize,
}

/// The debugfs directory of one device; removed when dropped.
///
/// The directories are [`Dir`] handles (not a single scope), so that the open files of a user
/// WQ can add their `file<N>` directories to `wq<M>` while the device lives.
pub(crate) struct AdminDir {
    // Files go before the directories holding them.
    dev_files: KVec<Pin<KBox<File<AdminData>>>>,
    wq_files: KVec<Pin<KBox<File<WqRef>>>>,
    engine_files: KVec<Pin<KBox<File<EngineRef>>>>,
    wq_dirs: KVec<Dir>,
    engine_dirs: KVec<Dir>,
    _dir: Dir,
}

/// Reads a short user write (at most 31 bytes), without trailing newline or spaces.
fn input(reader: &mut UserSliceReader, buf: &mut [u8; 32]) -> Result<usize> {
    let n = reader.len();
    if n == 0 || n >= buf.len() {
        return Err(EINVAL);
    }
    reader.read_slice(&mut buf[..n])?;
    let mut end = n;
    while end > 0 && (buf[end - 1] == b'\n' || buf[end - 1] == b' ') {
        end -= 1;
    }
    Ok(end)
}

/// Parses a user write as a decimal `i64`. `EINVAL` if it is not one.
fn input_int(reader: &mut UserSliceReader) -> Result<i64> {
    let mut buf = [0u8; 32];
    let n = input(reader, &mut buf)?;
    let s = core::str::from_utf8(&buf[..n]).map_err(|_| EINVAL)?;
    s.parse::<i64>().map_err(|_| EINVAL)
}

/// Parses a user write as a decimal `u64`. `EINVAL` if it is not one.
fn input_u64(reader: &mut UserSliceReader) -> Result<u64> {
    u64::try_from(input_int(reader)?).map_err(|_| EINVAL)
}

/// Parses a user write as a decimal `u32`. `EINVAL` if it is not one.
pub(crate) fn input_u32(reader: &mut UserSliceReader) -> Result<u32> {
    u32::try_from(input_int(reader)?).map_err(|_| EINVAL)
}

/// Parses a user write as a boolean (`0`/`1`, `n`/`y`). `EINVAL` otherwise.
fn input_bool(reader: &mut UserSliceReader) -> Result<bool> {
    let mut buf = [0u8; 32];
    let n = input(reader, &mut buf)?;
    match &buf[..n] {
        b"1" | b"y" | b"Y" => Ok(true),
        b"0" | b"n" | b"N" => Ok(false),
        _ => Err(EINVAL),
    }
}

/// Adds files to one directory, each with its own copy of `data`.
struct Files<'a, T: Clone + Send + Sync + 'static> {
    dir: &'a Dir,
    data: T,
    out: &'a mut KVec<Pin<KBox<File<T>>>>,
}

impl<T: Clone + Send + Sync + 'static> Files<'_, T> {
    /// A read-only file showing `show`.
    fn ro<F>(&mut self, name: &CStr, show: &'static F) -> Result
    where
        F: Fn(&T, &mut fmt::Formatter<'_>) -> fmt::Result + Send + Sync,
    {
        let f = KBox::pin_init(
            self.dir.read_callback_file(name, self.data.clone(), show),
            GFP_KERNEL,
        )?;
        self.out.push(f, GFP_KERNEL)?;
        Ok(())
    }

    /// A read-write file showing `show`, taking writes with `store`.
    fn rw<F, W>(&mut self, name: &CStr, show: &'static F, store: &'static W) -> Result
    where
        F: Fn(&T, &mut fmt::Formatter<'_>) -> fmt::Result + Send + Sync,
        W: Fn(&T, &mut UserSliceReader) -> Result + Send + Sync,
    {
        let f = KBox::pin_init(
            self.dir
                .read_write_callback_file(name, self.data.clone(), show, store),
            GFP_KERNEL,
        )?;
        self.out.push(f, GFP_KERNEL)?;
        Ok(())
    }

    /// A write-only file taking writes with `store`.
    fn wo<W>(&mut self, name: &CStr, store: &'static W) -> Result
    where
        W: Fn(&T, &mut UserSliceReader) -> Result + Send + Sync,
    {
        let f = KBox::pin_init(
            self.dir.write_callback_file(name, self.data.clone(), store),
            GFP_KERNEL,
        )?;
        self.out.push(f, GFP_KERNEL)?;
        Ok(())
    }
}

/// Creates `dsa<index>` under `root` for `dsa`, whose WQs are enabled and disabled through
/// `user` (and get their `wq<M>` directories from here).
///
/// Returns `ENOMEM` on allocation failure. (Without debugfs, nothing is created.)
pub(crate) fn create(
    root: &Dir,
    index: usize,
    dsa: &Arc<DsaDevice>,
    user: &Arc<UserWqs>,
) -> Result<AdminDir> {
    let name = CString::try_from_fmt(fmt!("dsa{index}"))?;
    let dir = root.subdir(&name);
    let mut admin = AdminDir {
        dev_files: KVec::new(),
        wq_files: KVec::new(),
        engine_files: KVec::new(),
        wq_dirs: KVec::with_capacity(dsa.caps().num_wqs(), GFP_KERNEL)?,
        engine_dirs: KVec::with_capacity(dsa.caps().num_engines(), GFP_KERNEL)?,
        _dir: dir.clone(),
    };
    populate(&mut Files {
        dir: &dir,
        data: AdminData {
            dsa: dsa.clone(),
            user: user.clone(),
        },
        out: &mut admin.dev_files,
    })?;
    for wq in 0..dsa.caps().num_wqs() {
        let name = CString::try_from_fmt(fmt!("wq{wq}"))?;
        let wdir = dir.subdir(&name);
        populate_wq(&mut Files {
            dir: &wdir,
            data: WqRef {
                dsa: dsa.clone(),
                user: user.clone(),
                wq,
            },
            out: &mut admin.wq_files,
        })?;
        user.set_dir(wq, wdir.clone());
        admin.wq_dirs.push(wdir, GFP_KERNEL)?;
    }
    for engine in 0..dsa.caps().num_engines() {
        let name = CString::try_from_fmt(fmt!("engine{engine}"))?;
        let edir = dir.subdir(&name);
        let mut files = Files {
            dir: &edir,
            data: EngineRef {
                dsa: dsa.clone(),
                engine,
            },
            out: &mut admin.engine_files,
        };
        files.rw(
            c"group_id",
            &|e: &EngineRef, f| match e.dsa.with_config(|c| c.engines[e.engine]) {
                Some(g) => writeln!(f, "{g}"),
                None => writeln!(f, "-1"),
            },
            &|e: &EngineRef, r| {
                let g = input_int(r)?;
                let g = if g < 0 {
                    None
                } else {
                    Some(usize::try_from(g).map_err(|_| EINVAL)?)
                };
                e.dsa.with_config(|c| c.set_engine_group(e.engine, g))
            },
        )?;
        admin.engine_dirs.push(edir, GFP_KERNEL)?;
    }
    Ok(admin)
}

/// The files of a device's directory.
fn populate(files: &mut Files<'_, AdminData>) -> Result {
    files.ro(c"device", &|d: &AdminData, f| {
        writeln!(f, "{}", d.dsa.name().to_str().unwrap_or("?"))
    })?;
    files.ro(c"version", &|d: &AdminData, f| {
        writeln!(f, "{:#x}", d.dsa.caps().version)
    })?;
    files.ro(c"state", &|d: &AdminData, f| {
        writeln!(f, "{}", d.dsa.state_name())
    })?;
    files.wo(c"enable", &|d: &AdminData, r| {
        if input_bool(r)? {
            d.dsa.enable()
        } else {
            d.user.disable_device()
        }
    })?;
    files.ro(c"max_groups", &|d: &AdminData, f| {
        writeln!(f, "{}", d.dsa.caps().num_groups())
    })?;
    files.ro(c"max_engines", &|d: &AdminData, f| {
        writeln!(f, "{}", d.dsa.caps().num_engines())
    })?;
    files.ro(c"max_work_queues", &|d: &AdminData, f| {
        writeln!(f, "{}", d.dsa.caps().num_wqs())
    })?;
    files.ro(c"max_work_queues_size", &|d: &AdminData, f| {
        writeln!(f, "{}", d.dsa.caps().total_wq_size())
    })?;
    if files.data.dsa.caps().evl_entry_size().is_some() {
        files.rw(
            c"event_log_size",
            &|d: &AdminData, f| writeln!(f, "{}", d.dsa.with_config(|c| c.evl_size)),
            &|d: &AdminData, r| {
                let n = input_u32(r)?;
                d.dsa.with_config(|c| c.set_evl_size(n))
            },
        )?;
        files.ro(c"event_log", &|d: &AdminData, f| dump_evl(&d.dsa, f))?;
    }
    Ok(())
}

/// The files of a WQ's directory.
fn populate_wq(files: &mut Files<'_, WqRef>) -> Result {
    files.rw(
        c"size",
        &|w: &WqRef, f| writeln!(f, "{}", w.dsa.with_config(|c| c.wqs[w.wq].size)),
        &|w: &WqRef, r| {
            let n = input_u32(r)?;
            w.dsa.with_config(|c| c.set_wq_size(w.wq, n))
        },
    )?;
    files.rw(
        c"mode",
        &|w: &WqRef, f| {
            let m = w.dsa.with_config(|c| c.wqs[w.wq].mode);
            writeln!(
                f,
                "{}",
                if m == WqMode::Dedicated {
                    "dedicated"
                } else {
                    "shared"
                }
            )
        },
        &|w: &WqRef, r| {
            let mut buf = [0u8; 32];
            let n = input(r, &mut buf)?;
            let mode = match &buf[..n] {
                b"dedicated" => WqMode::Dedicated,
                b"shared" => WqMode::Shared,
                _ => return Err(EINVAL),
            };
            w.dsa.with_config(|c| c.set_wq_mode(w.wq, mode))
        },
    )?;
    files.rw(
        c"group_id",
        &|w: &WqRef, f| match w.dsa.with_config(|c| c.wqs[w.wq].group) {
            Some(g) => writeln!(f, "{g}"),
            None => writeln!(f, "-1"),
        },
        &|w: &WqRef, r| {
            let g = input_int(r)?;
            let g = if g < 0 {
                None
            } else {
                Some(usize::try_from(g).map_err(|_| EINVAL)?)
            };
            w.dsa.with_config(|c| c.set_wq_group(w.wq, g))
        },
    )?;
    files.rw(
        c"block_on_fault",
        &|w: &WqRef, f| {
            writeln!(
                f,
                "{}",
                u8::from(w.dsa.with_config(|c| c.wqs[w.wq].block_on_fault))
            )
        },
        &|w: &WqRef, r| {
            let on = input_bool(r)?;
            w.dsa.with_config(|c| c.set_block_on_fault(w.wq, on))
        },
    )?;
    // PRS disable exists only where WQCAP offers it.
    if files.data.dsa.caps().wq_prs_disable() {
        files.rw(
            c"prs_disable",
            &|w: &WqRef, f| {
                writeln!(
                    f,
                    "{}",
                    u8::from(w.dsa.with_config(|c| c.wqs[w.wq].prs_disable))
                )
            },
            &|w: &WqRef, r| {
                let on = input_bool(r)?;
                w.dsa.with_config(|c| c.set_prs_disable(w.wq, on))
            },
        )?;
    }
    files.rw(
        c"priority",
        &|w: &WqRef, f| writeln!(f, "{}", w.dsa.with_config(|c| c.wqs[w.wq].priority)),
        &|w: &WqRef, r| {
            let n = input_u32(r)?;
            w.dsa.with_config(|c| c.set_wq_priority(w.wq, n))
        },
    )?;
    files.rw(
        c"threshold",
        &|w: &WqRef, f| writeln!(f, "{}", w.dsa.with_config(|c| c.wqs[w.wq].threshold)),
        &|w: &WqRef, r| {
            let n = input_u32(r)?;
            w.dsa.with_config(|c| c.set_wq_threshold(w.wq, n))
        },
    )?;
    files.rw(
        c"max_transfer_size",
        &|w: &WqRef, f| {
            let shift = w.dsa.with_config(|c| c.wqs[w.wq].max_xfer_shift);
            writeln!(f, "{}", 1u64 << shift)
        },
        &|w: &WqRef, r| {
            let n = input_u64(r)?;
            w.dsa.with_config(|c| c.set_max_transfer_size(w.wq, n))
        },
    )?;
    files.rw(
        c"max_batch_size",
        &|w: &WqRef, f| {
            let shift = w.dsa.with_config(|c| c.wqs[w.wq].max_batch_shift);
            writeln!(f, "{}", 1u64 << shift)
        },
        &|w: &WqRef, r| {
            let n = input_u64(r)?;
            w.dsa.with_config(|c| c.set_max_batch_size(w.wq, n))
        },
    )?;
    // ATS disable exists only where WQCAP offers it.
    if files.data.dsa.caps().wqcap.wq_ats_support() {
        files.rw(
            c"ats_disable",
            &|w: &WqRef, f| {
                writeln!(
                    f,
                    "{}",
                    u8::from(w.dsa.with_config(|c| c.wqs[w.wq].ats_disable))
                )
            },
            &|w: &WqRef, r| {
                let on = input_bool(r)?;
                w.dsa.with_config(|c| c.set_ats_disable(w.wq, on))
            },
        )?;
    }
    files.ro(c"state", &|w: &WqRef, f| {
        let on = w.dsa.with_config(|c| c.wqs[w.wq].enabled);
        writeln!(f, "{}", if on { "enabled" } else { "disabled" })
    })?;
    // CR fault counters of the files open on the WQ, summed (each file's own are in file<N>/).
    files.ro(c"clients", &|w: &WqRef, f| {
        writeln!(f, "{}", w.dsa.faults().wq_counters(w.wq as u8).1)
    })?;
    files.ro(c"cr_faults", &|w: &WqRef, f| {
        writeln!(f, "{}", w.dsa.faults().wq_counters(w.wq as u8).0.cr_faults)
    })?;
    files.ro(c"cr_fault_failures", &|w: &WqRef, f| {
        let c = w.dsa.faults().wq_counters(w.wq as u8).0;
        writeln!(f, "{}", c.cr_fault_failures)
    })?;
    files.wo(c"enable", &|w: &WqRef, r| {
        if input_bool(r)? {
            w.user.enable_wq(w.wq)
        } else {
            w.user.disable_wq(w.wq)
        }
    })?;
    Ok(())
}

/// Writes the event log: status, then every non-empty entry of the ring.
fn dump_evl(d: &DsaDevice, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let st = d.evl_status();
    writeln!(
        f,
        "head {} tail {} int_pending {} size {}",
        st.head().get(),
        st.tail().get(),
        u8::from(st.int_pending()),
        d.evl_size().unwrap_or(0)
    )?;
    let mut r = Ok(());
    d.for_each_evl_entry(|i, e| {
        if r.is_err() {
            return;
        }
        let kind = match EvlKind::of(e) {
            EvlKind::CrFault => "cr-fault",
            EvlKind::BatchCr => "batch-cr",
            EvlKind::DrainCr => "drain-cr",
            EvlKind::Other => "error",
        };
        r = writeln!(
            f,
            "{i}: {kind} error {:#x} wq {} pasid {:#x} op {:#x} batch {}/{}/{} addr {:#x} \
             cr.status {:#x} cr.result {} cr.bytes {}",
            e.header.info.error(),
            e.header.info.wq_idx(),
            e.header.pasid(),
            e.header.info.operation(),
            u8::from(e.header.info.batch()),
            e.header.info.batch_id(),
            e.header.batch_idx,
            e.header.fault_addr,
            e.cr.status,
            e.cr.result,
            e.cr.bytes_completed
        );
    });
    r
}
