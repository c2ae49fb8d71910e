// SPDX-License-Identifier: GPL-2.0

//! The admin interface: a device's state and configuration knobs, under the attribute names of
//! the idxd sysfs ABI (`Documentation/ABI/stable/sysfs-driver-dma-idxd`), in debugfs:
//!
//! ```text
//! /sys/kernel/debug/ridxd/dsa<N>/
//!     device              the bus device it is (read-only)
//!     version             VERSION, hex (read-only)
//!     state               "disabled" or "enabled" (read-only)
//!     enable              write 1 to enable the device, 0 to disable it
//!     max_groups, max_engines, max_work_queues, max_work_queues_size (read-only)
//!     event_log_size      entries, 64..65535 (DSA 2.0; writable while disabled)
//!     event_log           head, tail, int_pending and the entries in the ring, decoded
//!     wq<N>/size, mode ("dedicated"/"shared"), priority, group_id (-1: none),
//!           block_on_fault, prs_disable (DSA 2.0), state, enable
//! ```
//!
//! A write that the configuration rules refuse fails with their errno (`EBUSY` while enabled,
//! `EOPNOTSUPP` for a missing capability, `EINVAL` out of range) and changes nothing.

use crate::{
    config::WqMode,
    device::DsaDevice,
    evl::EvlKind,
    hwif::DeviceBus,
    regs::{self, off},
};
use core::fmt;
use kernel::{
    debugfs::{Dir, Scope, ScopedDir},
    prelude::*,
    str::CString,
    sync::Arc,
    uaccess::UserSliceReader,
};

/// What a device's debugfs files refer to: the device, and one item per WQ (debugfs callbacks
/// cannot capture, so a WQ file's data says which WQ it is).
pub(crate) struct AdminData<H: DeviceBus + 'static> {
    dsa: Arc<DsaDevice<H>>,
    wqs: KVec<WqRef<H>>,
}

/// One WQ of a device.
pub(crate) struct WqRef<H: DeviceBus + 'static> {
    dsa: Arc<DsaDevice<H>>,
    wq: usize,
}

/// The debugfs directory of one device; removed when dropped.
pub(crate) type AdminDir<H> = Pin<KBox<Scope<AdminData<H>>>>;

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

/// Parses a user write as a decimal `u32`. `EINVAL` if it is not one.
fn input_u32(reader: &mut UserSliceReader) -> Result<u32> {
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

/// Creates `dsa<index>` under `root` for `dsa`.
///
/// Returns `ENOMEM` on allocation failure. (Without debugfs, nothing is created.)
pub(crate) fn create<H: DeviceBus + 'static>(
    root: &Dir,
    index: usize,
    dsa: &Arc<DsaDevice<H>>,
) -> Result<AdminDir<H>> {
    let name = CString::try_from_fmt(fmt!("dsa{index}"))?;
    let mut wqs = KVec::with_capacity(dsa.caps().num_wqs(), GFP_KERNEL)?;
    for wq in 0..dsa.caps().num_wqs() {
        wqs.push(
            WqRef {
                dsa: dsa.clone(),
                wq,
            },
            GFP_KERNEL,
        )?;
    }
    let data = AdminData {
        dsa: dsa.clone(),
        wqs,
    };
    KBox::pin_init(root.scope(data, &name, populate), GFP_KERNEL)
}

type D<H> = AdminData<H>;
type W<H> = WqRef<H>;

/// The files of a device's directory.
fn populate<'d, H: DeviceBus + 'static>(data: &'d D<H>, dir: &ScopedDir<'d, '_>) {
    dir.read_callback_file(c"device", data, &|d: &D<H>, f| {
        writeln!(f, "{}", d.dsa.name().to_str().unwrap_or("?"))
    });
    dir.read_callback_file(c"version", data, &|d: &D<H>, f| {
        writeln!(f, "{:#x}", d.dsa.caps().version)
    });
    dir.read_callback_file(c"state", data, &|d: &D<H>, f| {
        let on = d.dsa.with_config(|c| c.enabled);
        writeln!(f, "{}", if on { "enabled" } else { "disabled" })
    });
    dir.write_only_callback_file(c"enable", data, &|d: &D<H>, r| {
        if input_bool(r)? {
            d.dsa.enable()
        } else {
            d.dsa.disable()
        }
    });
    dir.read_callback_file(c"max_groups", data, &|d: &D<H>, f| {
        writeln!(f, "{}", d.dsa.caps().num_groups())
    });
    dir.read_callback_file(c"max_engines", data, &|d: &D<H>, f| {
        writeln!(f, "{}", d.dsa.caps().num_engines())
    });
    dir.read_callback_file(c"max_work_queues", data, &|d: &D<H>, f| {
        writeln!(f, "{}", d.dsa.caps().num_wqs())
    });
    dir.read_callback_file(c"max_work_queues_size", data, &|d: &D<H>, f| {
        writeln!(f, "{}", d.dsa.caps().total_wq_size())
    });
    if data.dsa.caps().evl_entry_size().is_some() {
        dir.read_write_callback_file(
            c"event_log_size",
            data,
            &|d: &D<H>, f| writeln!(f, "{}", d.dsa.with_config(|c| c.evl_size)),
            &|d: &D<H>, r| {
                let n = input_u32(r)?;
                d.dsa.with_config(|c| c.set_evl_size(n))
            },
        );
        dir.read_callback_file(c"event_log", data, &|d: &D<H>, f| dump_evl(&d.dsa, f));
    }
    for w in data.wqs.iter() {
        let Ok(name) = CString::try_from_fmt(fmt!("wq{}", w.wq)) else {
            continue;
        };
        let wdir = dir.dir(&name);
        populate_wq(w, &wdir);
    }
}

/// The files of a WQ's directory.
fn populate_wq<'d, H: DeviceBus + 'static>(w: &'d W<H>, dir: &ScopedDir<'d, '_>) {
    dir.read_write_callback_file(
        c"size",
        w,
        &|w: &W<H>, f| writeln!(f, "{}", w.dsa.with_config(|c| c.wqs[w.wq].size)),
        &|w: &W<H>, r| {
            let n = input_u32(r)?;
            w.dsa.with_config(|c| c.set_wq_size(w.wq, n))
        },
    );
    dir.read_write_callback_file(
        c"mode",
        w,
        &|w: &W<H>, f| {
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
        &|w: &W<H>, r| {
            let mut buf = [0u8; 32];
            let n = input(r, &mut buf)?;
            let mode = match &buf[..n] {
                b"dedicated" => WqMode::Dedicated,
                b"shared" => WqMode::Shared,
                _ => return Err(EINVAL),
            };
            w.dsa.with_config(|c| c.set_wq_mode(w.wq, mode))
        },
    );
    dir.read_write_callback_file(
        c"group_id",
        w,
        &|w: &W<H>, f| match w.dsa.with_config(|c| c.wqs[w.wq].group) {
            Some(g) => writeln!(f, "{g}"),
            None => writeln!(f, "-1"),
        },
        &|w: &W<H>, r| {
            let g = input_int(r)?;
            let g = if g < 0 {
                None
            } else {
                Some(usize::try_from(g).map_err(|_| EINVAL)?)
            };
            w.dsa.with_config(|c| c.set_wq_group(w.wq, g))
        },
    );
    dir.read_write_callback_file(
        c"block_on_fault",
        w,
        &|w: &W<H>, f| {
            writeln!(
                f,
                "{}",
                u8::from(w.dsa.with_config(|c| c.wqs[w.wq].block_on_fault))
            )
        },
        &|w: &W<H>, r| {
            let on = input_bool(r)?;
            w.dsa.with_config(|c| c.set_block_on_fault(w.wq, on))
        },
    );
    // PRS disable exists only where WQCAP offers it.
    if w.dsa.caps().wq_prs_disable() {
        dir.read_write_callback_file(
            c"prs_disable",
            w,
            &|w: &W<H>, f| {
                writeln!(
                    f,
                    "{}",
                    u8::from(w.dsa.with_config(|c| c.wqs[w.wq].prs_disable))
                )
            },
            &|w: &W<H>, r| {
                let on = input_bool(r)?;
                w.dsa.with_config(|c| c.set_prs_disable(w.wq, on))
            },
        );
    }
    dir.read_callback_file(c"priority", w, &|w: &W<H>, f| {
        writeln!(f, "{}", w.dsa.with_config(|c| c.wqs[w.wq].priority))
    });
    dir.read_callback_file(c"state", w, &|w: &W<H>, f| {
        let on = w.dsa.with_config(|c| c.wqs[w.wq].enabled);
        writeln!(f, "{}", if on { "enabled" } else { "disabled" })
    });
    // CR fault counters of the files open on the WQ (idxd: per file<N>; summed here).
    dir.read_callback_file(c"clients", w, &|w: &W<H>, f| {
        writeln!(f, "{}", w.dsa.faults().wq_counters(w.wq as u8).1)
    });
    dir.read_callback_file(c"cr_faults", w, &|w: &W<H>, f| {
        writeln!(f, "{}", w.dsa.faults().wq_counters(w.wq as u8).0.cr_faults)
    });
    dir.read_callback_file(c"cr_fault_failures", w, &|w: &W<H>, f| {
        let c = w.dsa.faults().wq_counters(w.wq as u8).0;
        writeln!(f, "{}", c.cr_fault_failures)
    });
    dir.write_only_callback_file(c"enable", w, &|w: &W<H>, r| {
        if input_bool(r)? {
            w.dsa.enable_wq(w.wq)
        } else {
            w.dsa.disable_wq(w.wq)
        }
    });
}

/// Writes the event log: status, then every non-empty entry of the ring.
fn dump_evl<H: DeviceBus>(d: &DsaDevice<H>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let st = regs::EvlStatus::from_raw(d.io().read64(off::EVLSTATUS));
    writeln!(
        f,
        "head {} tail {} int_pending {} size {}",
        st.head().get(),
        st.tail().get(),
        st.int_pending().get(),
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
            e.header.error(),
            e.header.wq_idx(),
            e.header.pasid(),
            e.header.operation(),
            e.header.batch(),
            e.header.batch_id(),
            e.header.batch_idx,
            e.header.fault_addr,
            e.cr.status,
            e.cr.result,
            e.cr.bytes_completed
        );
    });
    r
}
