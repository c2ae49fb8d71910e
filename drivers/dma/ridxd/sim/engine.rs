// SPDX-License-Identifier: GPL-2.0

//! The model's descriptor engine: what a descriptor does, what its completion record (CR)
//! says, and where an error goes (the CR, the event log, or SWERR).
//!
//! Facts: opcodes, flags and status codes of `include/uapi/linux/idxd.h`; the event-log entry of
//! `registers.h`; the fault rules of the DSA 2.0 "PRS disable" and event-log features (the DSA
//! architecture specification, as summarised in `Documentation/driver-api/ridxd.rst`, "Device
//! core" and "What it models"). Choices of the model are marked "model:".
//!
//! * A descriptor is checked (opcode in OPCAP, reserved fields zero, known flags, transfer
//!   size, privilege) and then executed page by page on the PASID's address space.
//! * A data-buffer fault ends the descriptor with a partial completion:
//!   `PAGE_FAULT_NOBOF` (| `WRITE` for a write), `bytes_completed`, `fault_addr`. With PRS
//!   enabled, a descriptor that asks to block on fault (flag `BOF`) on a WQ that allows it
//!   (WQCFG.bof) first requests a non-present page (faults it in), and only a page that
//!   cannot be made present faults; without `BOF` the fault ends the descriptor, as the status
//!   name says. A CR page (and, with `BOF`, a batch's descriptor list) is requested whenever
//!   PRS is enabled.
//! * The CR is written when the descriptor asks for one (`CRAV` and `RCR`) or failed (`CRAV`),
//!   body first, status byte last. With PRS disabled and an event log, a CR that cannot be
//!   written completes the descriptor anyway and goes to the event log as a `CRA_XLAT` entry;
//!   a batch whose sub-descriptor CRs went there (or whose own CR cannot be written) reports
//!   its own CR as `BATCH_EVL_ERR`; a drain after such faults reports its CR as `DRAIN_EVL`.
//!   Without an event log, CR write errors go to SWERR.

use super::mem::{self, Access, Fault};
use crate::{
    hw::{flags, opcode, status, CompletionRecord, Descriptor, DsaEvlEntry, EvlDescInfo, EvlInfo},
    regs,
};
use kernel::{
    page::PAGE_SIZE,
    prelude::*,
    transmute::{AsBytes, FromBytes},
};

/// Flags the model knows (`IDXD_OP_FLAG_*`): fence, block on fault, CR address valid, request
/// CR, request interrupt, cache control. Others give `INVALID_FLAGS`.
pub(crate) const KNOWN_FLAGS: u32 =
    flags::FENCE | flags::BOF | flags::CRAV | flags::RCR | flags::RCI | flags::CC;

/// How the engine runs one descriptor: the WQ's settings at the time.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WqCtx {
    /// WQ index.
    pub(crate) wq: u8,
    /// The PASID the descriptor runs with.
    pub(crate) pasid: u32,
    /// Whether the submission was privileged (ENQCMDS with priv, or a privileged WQ).
    pub(crate) privileged: bool,
    /// Page-fault handling: PRS enabled (fault in) or disabled.
    pub(crate) access: Access,
    /// The WQ allows descriptors to block on fault (WQCFG.bof).
    pub(crate) bof: bool,
    /// Whether CR faults go to the event log (PRS disabled and the event log enabled).
    pub(crate) evl: bool,
    /// Maximum transfer size in bytes.
    pub(crate) max_xfer: u64,
    /// Maximum batch size in descriptors.
    pub(crate) max_batch: u32,
}

/// Where a descriptor sits in a batch, for its event-log entry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BatchPos {
    /// Batch identifier of the batch.
    pub(crate) id: u8,
    /// Index within the batch.
    pub(crate) idx: u16,
}

/// Counters of one model device.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stats {
    /// Descriptors completed (batch sub-descriptors included).
    pub(crate) completed: u64,
    /// Page requests: non-present pages faulted in with PRS enabled.
    pub(crate) page_requests: u64,
    /// Event-log entries written.
    pub(crate) evl_entries: u64,
    /// Times the engine waited for room in a full event log.
    pub(crate) evl_full_waits: u64,
    /// Errors recorded in SWERR.
    pub(crate) swerrs: u64,
    /// Descriptors discarded by an abort, a reset, or a full dedicated WQ.
    pub(crate) discarded: u64,
    /// Descriptors run with supervisor privilege: submitted by ENQCMDS with the privilege
    /// bit set, or to a dedicated WQ whose WQCFG.priv is set (user descriptors run with it
    /// could reach supervisor mappings of the PASID's page tables).
    pub(crate) privileged: u64,
    /// DMA mappings unmapped and PASIDs unbound while bus mastering was on (before any
    /// [`super::SimDevice::stop_bus_mastering`]): for tests of what a teardown gives back
    /// before or after turning it off.
    pub(crate) released_while_mastering: u64,
}

/// What the engine needs from the device while it runs a descriptor.
pub(crate) trait Sink {
    /// Writes an event-log entry; blocks while the log is full. Returns `false` if the entry
    /// could not be written (no event log, or the device is going away).
    fn evl(&self, entry: &DsaEvlEntry) -> bool;
    /// Records a software error in SWERR.
    fn swerr(&self, qw: [u64; 4]);
    /// Fires MSI-X vector `vector`.
    fn irq(&self, vector: u16);
    /// Counts a page request.
    fn page_request(&self);
    /// Counts a completed descriptor.
    fn completed(&self);
    /// Whether the device may make memory requests (bus mastering on); without them every
    /// access to user memory fails as a fault, and no event-log entry is written.
    fn bus_master(&self) -> bool;
    /// Called before a batch runs its sub-descriptor `idx`: `false` if the device has halted
    /// (fault injection may halt it here), and the batch then stops where it is, reporting
    /// nothing more.
    fn batch_step(&self, idx: u32) -> bool;
}

impl WqCtx {
    /// The fault handling of descriptor `d`'s data buffers (and a batch's descriptor list):
    /// pages are requested only when PRS is enabled, the WQ allows blocking on fault and `d`
    /// asks for it (flag `BOF`).
    fn for_data(&self, d: &Descriptor) -> Self {
        let block = self.access == Access::FaultIn && self.bof && d.flags() & flags::BOF != 0;
        WqCtx {
            access: if block {
                Access::FaultIn
            } else {
                Access::NoFault
            },
            ..*self
        }
    }
}

/// Reads user memory with the WQ's fault handling, counting page requests.
fn read(ctx: &WqCtx, sink: &dyn Sink, addr: u64, out: &mut [u8]) -> Result<(), Fault> {
    if !sink.bus_master() {
        return Err(Fault { addr, write: false });
    }
    match mem::read(addr, out, Access::NoFault) {
        Ok(()) => Ok(()),
        Err(f) if ctx.access == Access::FaultIn => {
            sink.page_request();
            mem::read(addr, out, Access::FaultIn).map_err(|_| f)
        }
        Err(f) => Err(f),
    }
}

/// Writes user memory with the WQ's fault handling, counting page requests.
fn write(ctx: &WqCtx, sink: &dyn Sink, addr: u64, data: &[u8]) -> Result<(), Fault> {
    if !sink.bus_master() {
        return Err(Fault { addr, write: true });
    }
    match mem::write(addr, data, Access::NoFault) {
        Ok(()) => Ok(()),
        Err(f) if ctx.access == Access::FaultIn => {
            sink.page_request();
            // The pages before `f.addr` are written; go on from the fault.
            let done = (f.addr - addr) as usize;
            mem::write(f.addr, &data[done..], Access::FaultIn)
        }
        Err(f) => Err(f),
    }
}

/// Bytes up to the next page boundary of either address, at most `len` and one page.
fn step(a: u64, b: u64, len: usize) -> usize {
    let ra = PAGE_SIZE - (a as usize & (PAGE_SIZE - 1));
    let rb = PAGE_SIZE - (b as usize & (PAGE_SIZE - 1));
    ra.min(rb).min(len)
}

/// Ends `cr` as a partial completion after `done` bytes, at fault `f`.
fn partial(cr: &mut CompletionRecord, done: u64, f: Fault) {
    cr.status = status::PAGE_FAULT_NOBOF | if f.write { status::WRITE } else { 0 };
    cr.bytes_completed = done as u32;
    cr.fault_addr = f.addr;
}

/// Checks a descriptor before it runs; returns the error status, if any, with its CR filled.
fn check(
    d: &Descriptor,
    ctx: &WqCtx,
    supports: &dyn Fn(u8) -> bool,
    cr: &mut CompletionRecord,
) -> bool {
    let op = d.opcode();
    let bad = if !supports(op) {
        Some(status::BAD_OPCODE)
    } else if d.rsvd_dword0() != 0 || d.rsvd1() != 0 {
        Some(status::NOZERO_RESERVE)
    } else if d.flags() & !KNOWN_FLAGS != 0 {
        cr.op_specific[..4].copy_from_slice(&(d.flags() & !KNOWN_FLAGS).to_le_bytes());
        Some(status::INVALID_FLAGS)
    } else if d.priv_() && !ctx.privileged {
        Some(status::PRIV_BAD)
    } else if matches!(
        op,
        opcode::MEMMOVE | opcode::MEMFILL | opcode::COMPARE | opcode::COMPVAL
    ) && (d.xfer_size == 0 || u64::from(d.xfer_size) > ctx.max_xfer)
    {
        Some(status::XFER_ERANGE)
    } else {
        None
    };
    if let Some(s) = bad {
        cr.status = s;
        return false;
    }
    true
}

/// Runs a data operation (not batch) and returns its CR (without writing it).
pub(crate) fn run_op(
    d: &Descriptor,
    ctx: &WqCtx,
    sink: &dyn Sink,
    supports: &dyn Fn(u8) -> bool,
) -> CompletionRecord {
    let mut cr = CompletionRecord::default();
    if !check(d, ctx, supports, &mut cr) {
        return cr;
    }
    let data = ctx.for_data(d);
    let ctx = &data;
    let len = u64::from(d.xfer_size);
    let mut buf = [0u8; 256];
    let mut buf2 = [0u8; 256];
    cr.status = status::SUCCESS;
    match d.opcode() {
        opcode::NOOP | opcode::DRAIN => {}
        opcode::MEMMOVE => {
            let (src, dst) = (d.src_addr, d.dst_addr);
            // Model: overlapping buffers are refused (GENCAP.overlap_copy is 0).
            if src < dst.wrapping_add(len) && dst < src.wrapping_add(len) {
                cr.status = status::OVERLAP_BUFFERS;
                return cr;
            }
            let mut done = 0u64;
            while done < len {
                let n = step(src + done, dst + done, (len - done) as usize).min(buf.len());
                if let Err(f) = read(ctx, sink, src + done, &mut buf[..n]) {
                    partial(&mut cr, done, f);
                    return cr;
                }
                if let Err(f) = write(ctx, sink, dst + done, &buf[..n]) {
                    // A write fault part-way through a chunk: the bytes before it are done.
                    partial(&mut cr, f.addr - dst, f);
                    return cr;
                }
                done += n as u64;
            }
            cr.bytes_completed = len as u32;
        }
        opcode::MEMFILL => {
            let pat = d.src_addr.to_le_bytes();
            for (i, b) in buf.iter_mut().enumerate() {
                *b = pat[i % 8];
            }
            let dst = d.dst_addr;
            let mut done = 0u64;
            while done < len {
                // Keep the pattern phase: chunks are multiples of 8 except the last.
                let n = step(dst + done, dst + done, (len - done) as usize).min(buf.len());
                if let Err(f) = write(ctx, sink, dst + done, &buf[..n]) {
                    partial(&mut cr, f.addr - dst, f);
                    return cr;
                }
                done += n as u64;
            }
            cr.bytes_completed = len as u32;
        }
        opcode::COMPARE | opcode::COMPVAL => {
            let (a, b) = (d.src_addr, d.dst_addr);
            let pat = d.dst_addr.to_le_bytes();
            let mut done = 0u64;
            while done < len {
                let n = if d.opcode() == opcode::COMPARE {
                    step(a + done, b + done, (len - done) as usize).min(buf.len())
                } else {
                    step(a + done, a + done, (len - done) as usize).min(buf.len())
                };
                if let Err(f) = read(ctx, sink, a + done, &mut buf[..n]) {
                    partial(&mut cr, done, f);
                    return cr;
                }
                if d.opcode() == opcode::COMPARE {
                    if let Err(f) = read(ctx, sink, b + done, &mut buf2[..n]) {
                        partial(&mut cr, done, f);
                        return cr;
                    }
                } else {
                    for i in 0..n {
                        buf2[i] = pat[((done as usize) + i) % 8];
                    }
                }
                if let Some(i) = (0..n).find(|&i| buf[i] != buf2[i]) {
                    // Different: result 1, bytes_completed is the offset of the difference.
                    cr.result = 1;
                    cr.bytes_completed = (done + i as u64) as u32;
                    return cr;
                }
                done += n as u64;
            }
            cr.bytes_completed = len as u32;
        }
        _ => cr.status = status::BAD_OPCODE,
    }
    cr
}

/// What happened to a CR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CrFate {
    /// Not requested: nothing was written.
    None,
    /// Written to the CR address.
    Written,
    /// The CR address faulted; the CR went to the event log.
    Evl,
    /// The CR could not be written anywhere (error recorded in SWERR).
    Lost,
}

/// Builds the event-log entry of a descriptor whose CR (`cr`) could not be written to
/// `cr_addr`, with `error` (`CRA_XLAT`, `BATCH_EVL_ERR` or `DRAIN_EVL`).
pub(crate) fn evl_entry(
    d: &Descriptor,
    ctx: &WqCtx,
    batch: Option<BatchPos>,
    first_err_in_batch: bool,
    error: u8,
    cr: &CompletionRecord,
) -> DsaEvlEntry {
    let mut e = DsaEvlEntry::default();
    let h = &mut e.header;
    let mut info = EvlInfo::zeroed()
        .with_desc_valid(true)
        .with_wq_idx_valid(true)
        .with_fault_rw(true)
        .with_priv_(d.priv_())
        .with_err_info_valid(true)
        .with_error(error)
        .with_wq_idx(ctx.wq)
        .with_operation(d.opcode());
    info = info.try_with_pasid(u64::from(ctx.pasid)).unwrap_or(info);
    let mut desc = EvlDescInfo::zeroed()
        .with_int_handle(d.int_handle)
        .with_rci(d.flags() & flags::RCI != 0)
        .with_rcr(d.flags() & flags::RCR != 0);
    if let Some(b) = batch {
        info = info.with_batch(true).with_batch_id(b.id);
        h.batch_idx = b.idx;
        desc = desc.with_first_err_in_batch(first_err_in_batch);
    }
    h.info = info;
    h.desc = desc;
    h.fault_addr = d.completion_addr;
    e.cr = *cr;
    e
}

/// SWERR qwords for an error on descriptor `d` (`union sw_err_reg`).
pub(crate) fn swerr_of(d: &Descriptor, ctx: &WqCtx, error: u8, fault_addr: u64) -> [u64; 4] {
    let qw0 = regs::SwErr0::zeroed()
        .with_desc_valid(true)
        .with_wq_idx_valid(true)
        .with_priv_(d.priv_())
        .with_error(error)
        .with_wq_idx(ctx.wq)
        .with_operation(d.opcode());
    let qw0 = qw0.try_with_pasid(u64::from(ctx.pasid)).unwrap_or(qw0);
    [qw0.into_raw(), 0, fault_addr, 0]
}

/// Writes `cr` for descriptor `d` as the descriptor asks: nothing without `CRAV`; only on
/// error without `RCR`. Body first, status byte last. A CR address that is not 32-byte aligned
/// is an error of its own (`CRA_ALIGN`, to SWERR).
///
/// `evl_error` is the event-log error code for a CR that faults (`CRA_XLAT`, `DRAIN_EVL`, or
/// `BATCH_EVL_ERR` for a batch descriptor, whose identifier is `own_batch_id`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_cr(
    d: &Descriptor,
    ctx: &WqCtx,
    sink: &dyn Sink,
    cr: &CompletionRecord,
    batch: Option<BatchPos>,
    first_err_in_batch: bool,
    evl_error: u8,
    own_batch_id: Option<u8>,
) -> CrFate {
    let f = d.flags();
    let failed = cr.status_code() != status::SUCCESS && cr.status_code() != status::SUCCESS_PRED;
    if f & flags::CRAV == 0 || (f & flags::RCR == 0 && !failed) {
        if f & flags::CRAV == 0 && failed {
            sink.swerr(swerr_of(d, ctx, cr.status_code(), cr.fault_addr));
            return CrFate::Lost;
        }
        return CrFate::None;
    }
    let addr = d.completion_addr;
    if addr % CompletionRecord::ALIGN != 0 {
        sink.swerr(swerr_of(d, ctx, status::CRA_ALIGN, addr));
        return CrFate::Lost;
    }
    let bytes = cr.as_bytes();
    let body =
        write(ctx, sink, addr + 1, &bytes[1..]).and_then(|()| write(ctx, sink, addr, &bytes[..1]));
    match body {
        Ok(()) => CrFate::Written,
        Err(_) if ctx.evl && ctx.access == Access::NoFault => {
            let mut e = evl_entry(d, ctx, batch, first_err_in_batch, evl_error, cr);
            if let Some(id) = own_batch_id {
                e.header.info = e.header.info.with_batch_id(id);
            }
            if sink.evl(&e) {
                CrFate::Evl
            } else {
                CrFate::Lost
            }
        }
        Err(_) => {
            sink.swerr(swerr_of(d, ctx, status::CRA_XLAT, addr));
            CrFate::Lost
        }
    }
}

/// Raises the descriptor's completion interrupt, if it asked for one.
pub(crate) fn interrupt(d: &Descriptor, sink: &dyn Sink) {
    if d.flags() & flags::RCI != 0 {
        sink.irq(d.int_handle);
    }
}

/// Runs a batch descriptor: reads its list, runs each sub-descriptor, reports the batch's own
/// CR. `id` is the batch identifier the device gives it.
///
/// Returns the batch CR and its fate; `None` if the device halted before the batch was done
/// ([`Sink::batch_step`]): the sub-descriptors run before the halt have reported, the rest and
/// the batch itself never do.
pub(crate) fn run_batch(
    d: &Descriptor,
    ctx: &WqCtx,
    sink: &dyn Sink,
    supports: &dyn Fn(u8) -> bool,
    id: u8,
) -> Option<(CompletionRecord, CrFate)> {
    let mut cr = CompletionRecord::default();
    if !check(d, ctx, supports, &mut cr) {
        let fate = write_cr(
            d,
            ctx,
            sink,
            &cr,
            None,
            false,
            status::BATCH_EVL_ERR,
            Some(id),
        );
        return Some((cr, fate));
    }
    let count = d.xfer_size;
    if count < 2 || count > ctx.max_batch {
        cr.status = status::DESC_CNT_ERANGE;
        let fate = write_cr(
            d,
            ctx,
            sink,
            &cr,
            None,
            false,
            status::BATCH_EVL_ERR,
            Some(id),
        );
        return Some((cr, fate));
    }
    let mut any_failed = false;
    let mut evl_reported = false;
    let mut done = 0u32;
    let list = ctx.for_data(d);
    for i in 0..count {
        if !sink.batch_step(i) {
            return None;
        }
        let mut raw = [0u8; Descriptor::SIZE];
        let at = d.src_addr + u64::from(i) * Descriptor::SIZE as u64;
        if let Err(f) = read(&list, sink, at, &mut raw) {
            cr.status = status::BATCH_PAGE_FAULT;
            cr.fault_addr = f.addr;
            any_failed = true;
            break;
        }
        let sub = Descriptor::from_bytes_copy(&raw).unwrap_or_default();
        let sub_cr = if sub.opcode() == opcode::BATCH {
            // A batch in a batch is not allowed.
            let mut c = CompletionRecord::default();
            c.status = status::BAD_OPCODE;
            c
        } else {
            run_op(&sub, ctx, sink, supports)
        };
        let pos = BatchPos { id, idx: i as u16 };
        let failed =
            sub_cr.status_code() != status::SUCCESS && sub_cr.status_code() != status::SUCCESS_PRED;
        any_failed |= failed;
        let fate = write_cr(
            &sub,
            ctx,
            sink,
            &sub_cr,
            Some(pos),
            !evl_reported,
            status::CRA_XLAT,
            None,
        );
        if fate == CrFate::Evl {
            evl_reported = true;
        }
        interrupt(&sub, sink);
        sink.completed();
        done += 1;
    }
    if cr.status == status::NONE {
        cr.status = if any_failed {
            status::BATCH_FAIL
        } else {
            status::SUCCESS
        };
    }
    cr.bytes_completed = done; // descs_completed
                               // The batch CR goes to the event log (BATCH_EVL_ERR) when sub-descriptor CRs did, so that
                               // software writes it after fixing theirs, or when it cannot be written itself.
    let fate = if evl_reported && ctx.evl && d.flags() & flags::CRAV != 0 {
        let mut e = evl_entry(d, ctx, None, false, status::BATCH_EVL_ERR, &cr);
        e.header.info = e.header.info.with_batch_id(id);
        if sink.evl(&e) {
            CrFate::Evl
        } else {
            CrFate::Lost
        }
    } else {
        write_cr(
            d,
            ctx,
            sink,
            &cr,
            None,
            false,
            status::BATCH_EVL_ERR,
            Some(id),
        )
    };
    Some((cr, fate))
}
