// SPDX-License-Identifier: GPL-2.0

//! The debugging interface, in debugfs: what the idxd sysfs ABI ([`crate::sysfs`], where the
//! device is configured) has no attribute for.
//!
//! ```text
//! /sys/kernel/debug/ridxd/dsa<N>/
//!     device              the bus device it is (read-only)
//!     event_log           head, tail, int_pending and the entries in the ring, decoded
//!                         (DSA 2.0)
//!     fault_path          the CR fault path's counters, one `name value` per line: entries
//!                         handled, with no context, skipped (context closing), lost (at
//!                         teardown), back-pressure waits, peak pending, the bound
//!                         (max_pending), address-space adoptions (mm_uses), contexts
//!                         registered (contexts: one per open file)
//!     mmap_delay_ms       fault injection: how long a successful `mmap` of a portal waits
//!                         before it returns, in ms (0, the default: not at all; read-write)
//!     wq<N>/file<K>/pid, pasid, cr_faults, cr_fault_failures   one directory per open file
//! ```

use crate::{cdev::UserWqs, device::DsaDevice, evl::EvlKind};
use core::fmt;
use kernel::{
    debugfs::{Dir, File},
    prelude::*,
    str::CString,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
    uaccess::UserSliceReader,
};

/// The debugfs directory of one device; removed when dropped.
///
/// The directories are [`Dir`] handles (not a single scope), so that the open files of a user
/// WQ can add their `file<N>` directories to `wq<M>` while the device lives.
pub(crate) struct AdminDir {
    // Files go before the directories holding them.
    _files: KVec<Pin<KBox<File<Arc<DsaDevice>>>>>,
    _knobs: KVec<Pin<KBox<File<Arc<Atomic<u32>>>>>>,
    _wq_dirs: KVec<Dir>,
    _dir: Dir,
}

/// Creates `dsa<index>` under `root` for `dsa`, whose user WQs `user` get their `wq<M>`
/// directories from here.
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
    let mut files = KVec::new();
    files.push(
        KBox::pin_init(
            dir.read_callback_file(c"device", dsa.clone(), &|d: &Arc<DsaDevice>, f| {
                writeln!(f, "{}", d.name().to_str().unwrap_or("?"))
            }),
            GFP_KERNEL,
        )?,
        GFP_KERNEL,
    )?;
    if dsa.caps().evl_entry_size().is_some() {
        files.push(
            KBox::pin_init(
                dir.read_callback_file(c"event_log", dsa.clone(), &|d: &Arc<DsaDevice>, f| {
                    dump_evl(d, f)
                }),
                GFP_KERNEL,
            )?,
            GFP_KERNEL,
        )?;
    }
    files.push(
        KBox::pin_init(
            dir.read_callback_file(c"fault_path", dsa.clone(), &|d: &Arc<DsaDevice>, f| {
                let s = d.faults().stats();
                writeln!(f, "handled {}", s.handled)?;
                writeln!(f, "no_ctx {}", s.no_ctx)?;
                writeln!(f, "skipped {}", s.skipped)?;
                writeln!(f, "lost {}", s.lost)?;
                writeln!(f, "backpressure {}", s.backpressure)?;
                writeln!(f, "peak_pending {}", s.peak_pending)?;
                writeln!(f, "max_pending {}", d.faults().max_pending())?;
                writeln!(f, "mm_uses {}", s.mm_uses)?;
                writeln!(f, "contexts {}", d.faults().ctx_count())
            }),
            GFP_KERNEL,
        )?,
        GFP_KERNEL,
    )?;
    let mut knobs = KVec::new();
    knobs.push(
        KBox::pin_init(
            dir.read_write_callback_file(
                c"mmap_delay_ms",
                user.mmap_delay_ms().clone(),
                &|ms: &Arc<Atomic<u32>>, f| writeln!(f, "{}", ms.load(Relaxed)),
                &|ms: &Arc<Atomic<u32>>, r| {
                    ms.store(input_u32(r)?, Relaxed);
                    Ok(())
                },
            ),
            GFP_KERNEL,
        )?,
        GFP_KERNEL,
    )?;
    let mut wq_dirs = KVec::with_capacity(dsa.caps().num_wqs(), GFP_KERNEL)?;
    for wq in 0..dsa.caps().num_wqs() {
        let name = CString::try_from_fmt(fmt!("wq{wq}"))?;
        let wdir = dir.subdir(&name);
        user.set_dir(wq, wdir.clone());
        wq_dirs.push(wdir, GFP_KERNEL)?;
    }
    Ok(AdminDir {
        _files: files,
        _knobs: knobs,
        _wq_dirs: wq_dirs,
        _dir: dir,
    })
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

/// Parses a user write (at most 31 bytes, trailing newline and spaces ignored) as a decimal
/// `u32`. `EINVAL` if it is not one.
pub(crate) fn input_u32(reader: &mut UserSliceReader) -> Result<u32> {
    let mut buf = [0u8; 32];
    input_line(reader, &mut buf)?
        .parse::<u32>()
        .map_err(|_| EINVAL)
}

/// Reads a user write of at most `buf.len() - 1` bytes into `buf` and returns it as text,
/// trailing newlines and spaces left out.
///
/// Returns `EINVAL` for an empty or longer write, or one that is not UTF-8; `EFAULT` if the
/// user buffer cannot be read.
pub(crate) fn input_line<'a>(reader: &mut UserSliceReader, buf: &'a mut [u8]) -> Result<&'a str> {
    let n = reader.len();
    if n == 0 || n >= buf.len() {
        return Err(EINVAL);
    }
    reader.read_slice(&mut buf[..n])?;
    let mut end = n;
    while end > 0 && (buf[end - 1] == b'\n' || buf[end - 1] == b' ') {
        end -= 1;
    }
    core::str::from_utf8(&buf[..end]).map_err(|_| EINVAL)
}
