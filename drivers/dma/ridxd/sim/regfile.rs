// SPDX-License-Identifier: GPL-2.0

//! The model's BAR0 register file: what each register reads as, what a write does, and how the
//! device commands change the device's state.
//!
//! Facts are those of `registers.h` (field layouts in [`crate::regs`]). Behaviour the header
//! does not state is the model's reading of the DSA specification and is marked "model:".
//!
//! * Reserved bits read as zero and ignore writes; so do fields whose capability is absent
//!   (on DSA 1.0: EVLCFG, EVLSTATUS, GENCFG.evl_en, GENCTRL.evl_int_en, WQCFG.wq_prs_disable).
//! * GENCFG, GRPCFG and EVLCFG are writable only while the device is disabled; a WQ's WQCFG
//!   only while that WQ is disabled. Other writes are ignored (model: the spec makes them
//!   undefined; ignoring them is the conservative choice).
//! * INTCAUSE and SWERR bits 1:0 are write-1-to-clear; EVLSTATUS.int_pending too, through the
//!   upper dword.
//! * CMD takes one command at a time: a write while CMDSTS.active is set is dropped (counted
//!   in [`RegFile::cmds_dropped`]).

use super::personality::{Personality, NUM_ENGINES, NUM_GROUPS, NUM_WQS, TOTAL_WQ_SIZE};
use crate::regs::{self, cmd, cmdsts, intcause, off, state, DeviceState};
use kernel::prelude::*;

/// Number of MSI-X vectors of a model device: vector 0 (misc) and one per WQ.
pub(crate) const NUM_VECTORS: usize = 1 + NUM_WQS;

/// The WQs a WQ command applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WqMask(pub(crate) u64);

impl WqMask {
    /// Whether WQ `wq` is selected.
    pub(crate) fn has(&self, wq: usize) -> bool {
        wq < 64 && self.0 & (1 << wq) != 0
    }
}

/// What the engine must do before a command can complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Quiesce {
    /// Nothing.
    None,
    /// Complete every queued descriptor of these WQs.
    DrainWqs(WqMask),
    /// Discard every queued descriptor of these WQs (no completion record).
    AbortWqs(WqMask),
    /// Complete every queued descriptor carrying this PASID.
    DrainPasid(u32),
    /// Discard every queued descriptor carrying this PASID.
    AbortPasid(u32),
}

/// Side effects of a register write that the device (not the register file) carries out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteEffect {
    /// None.
    None,
    /// A command was accepted into CMD; the device must run it.
    Command,
    /// Software moved the event-log head: entries were freed.
    EvlHeadMoved,
}

/// Fault injection ([`RegFile::inject_cmd_fault`]): what a command does instead of its work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmdFault {
    /// Completes with CMDSTS.err `HW_ERR` (0x03, `IDXD_CMDSTS_HW_ERR`), changing nothing, as
    /// a command the device could not carry out.
    Fail,
    /// Never completes: CMDSTS.active stays set, and every later write to CMD is dropped, as
    /// on a device that is stuck (software can then only reset the function).
    Hang,
}

/// The register state of one model device.
pub(crate) struct RegFile {
    pub(crate) p: Personality,
    /// Writes come from the device's firmware (or a host), not from its driver: the
    /// configuration tables are writable even where GENCAP.config_en is 0
    /// ([`SimDevice::program_as_firmware`](super::SimDevice::program_as_firmware)).
    pub(crate) firmware: bool,
    gencfg: u32,
    genctrl: u32,
    gensts: u32,
    intcause: u32,
    last_cmd: u32,
    cmdsts: u32,
    pending_cmd: Option<u32>,
    swerr: [u64; 4],
    evlcfg: [u64; 2],
    evl_head: u32,
    evl_tail: u32,
    evl_int_pending: bool,
    wqcfg: [[u32; 16]; NUM_WQS],
    grpcfg: [[u64; 8]; NUM_GROUPS],
    msix_perm: [u32; NUM_VECTORS],
    /// Commands written while another was active, and dropped.
    pub(crate) cmds_dropped: u64,
    /// Injected faults, by command code; kept across Reset Device.
    cmd_faults: [Option<CmdFault>; 32],
}

/// Returns the dword at byte offset `off` (4-aligned) of a little-endian qword array.
fn dword_of(q: &[u64], off: usize) -> u32 {
    let v = q[off / 8];
    if off % 8 == 0 {
        v as u32
    } else {
        (v >> 32) as u32
    }
}

/// Replaces the dword at byte offset `off` of a qword array.
fn set_dword_of(q: &mut [u64], off: usize, val: u32) {
    let v = &mut q[off / 8];
    if off % 8 == 0 {
        *v = (*v & !0xffff_ffff) | u64::from(val);
    } else {
        *v = (*v & 0xffff_ffff) | u64::from(val) << 32;
    }
}

/// GRPCFG flags bits the model stores (`union group_flags`): tc_a, tc_b, use_rdbuf_limit,
/// rdbufs_reserved, rdbufs_allowed, desc_progress_limit, batch_progress_limit.
const GROUP_FLAGS_MASK: u64 = 0x3f | 1 << 7 | 0xff << 8 | 0xff << 20 | 0x3 << 32 | 0x3 << 36;

/// WQCFG dword 6 (`WqCfgState`): mode_support is set (both modes work on every WQ).
const WQCFG_STATE_RESET: u32 = 1 << 29;

/// A WQCFG entry after reset: both modes supported; with WQCAP.op_config, OPCFG all of OPCAP
/// (model: the reset value is the model's choice; idxd programs OPCFG at every WQ
/// configuration).
fn wqcfg_reset_entry(p: &Personality) -> [u32; 16] {
    let mut w = [0u32; 16];
    w[regs::wqcfg::STATE_IDX] = WQCFG_STATE_RESET;
    if regs::WqCap::from_raw(p.wqcap).op_config() {
        for (i, d) in w[regs::wqcfg::OPCFG_IDX..].iter_mut().enumerate() {
            *d = (p.opcap[i / 2] >> (32 * (i % 2))) as u32;
        }
    }
    w
}

impl RegFile {
    /// A register file in its reset state.
    pub(crate) fn new(p: Personality) -> Self {
        let wqcfg = [wqcfg_reset_entry(&p); NUM_WQS];
        Self {
            p,
            firmware: false,
            gencfg: 0,
            genctrl: 0,
            gensts: state::DISABLED,
            intcause: 0,
            last_cmd: 0,
            cmdsts: 0,
            pending_cmd: None,
            swerr: [0; 4],
            evlcfg: [0; 2],
            evl_head: 0,
            evl_tail: 0,
            evl_int_pending: false,
            wqcfg,
            grpcfg: [[0; 8]; NUM_GROUPS],
            msix_perm: [0; NUM_VECTORS],
            cmds_dropped: 0,
            cmd_faults: [None; 32],
        }
    }

    /// The device state (GENSTS.state).
    pub(crate) fn state(&self) -> DeviceState {
        regs::GenSts::from_raw(self.gensts).state()
    }

    /// Whether the device is enabled.
    pub(crate) fn enabled(&self) -> bool {
        self.state() == DeviceState::Enabled
    }

    /// GENCTRL as software wrote it.
    fn genctrl(&self) -> regs::GenCtrl {
        regs::GenCtrl::from_raw(self.genctrl)
    }

    fn config_en(&self) -> bool {
        self.firmware || regs::GenCap::from_raw(self.p.gencap).config_en()
    }

    /// Which table entry `off` falls in: `(base, stride, count)` per table.
    fn table_hit(
        &self,
        off: usize,
        base: usize,
        stride: usize,
        count: usize,
    ) -> Option<(usize, usize)> {
        if off >= base && off < base + stride * count {
            Some(((off - base) / stride, (off - base) % stride))
        } else {
            None
        }
    }

    /// Reads the 32-bit register at `off` (4-byte aligned; other offsets read as zero).
    pub(crate) fn read32(&self, off: usize) -> u32 {
        if off % 4 != 0 {
            return 0;
        }
        let p = &self.p;
        let has_evl = p.has_evl();
        match off {
            off::VERSION => p.version,
            0x10 | 0x14 => dword_of(&[p.gencap], off - off::GENCAP),
            0x20 | 0x24 => dword_of(&[p.wqcap], off - off::WQCAP),
            0x30 | 0x34 => dword_of(&[p.grpcap], off - off::GRPCAP),
            0x38 | 0x3c => dword_of(&[p.engcap], off - off::ENGCAP),
            0x40..=0x5c => dword_of(&p.opcap, off - off::OPCAP),
            0x60..=0x6c => dword_of(&p.table_offsets, off - off::TABLE_OFFSETS),
            off::GENCFG => self.gencfg,
            off::GENCTRL => self.genctrl,
            off::GENSTS => self.gensts,
            off::INTCAUSE => self.intcause,
            off::CMD => self.last_cmd,
            off::CMDSTS => self.cmdsts,
            off::CMDCAP => p.cmdcap,
            0xc0..=0xdc => dword_of(&self.swerr, off - off::SWERR),
            0xe0..=0xec if has_evl => dword_of(&self.evlcfg, off - off::EVLCFG),
            off::EVLSTATUS if has_evl => self.evl_head,
            regs::EVLSTATUS_HI if has_evl => {
                self.evl_tail
                    | if self.evl_int_pending {
                        regs::EVLSTATUS_INT_PENDING_HI
                    } else {
                        0
                    }
            }
            _ => self.read_table(off),
        }
    }

    fn read_table(&self, off: usize) -> u32 {
        let p = &self.p;
        if let Some((g, o)) = self.table_hit(off, p.grpcfg_offset(), regs::grpcfg::SIZE, NUM_GROUPS)
        {
            return dword_of(&self.grpcfg[g], o);
        }
        if let Some((w, o)) = self.table_hit(off, p.wqcfg_offset(), p.wqcfg_stride(), NUM_WQS) {
            return self.wqcfg[w][o / 4];
        }
        if let Some((v, o)) = self.table_hit(off, p.msix_perm_offset(), 8, NUM_VECTORS) {
            return if o == 0 { self.msix_perm[v] } else { 0 };
        }
        0
    }

    /// Reads the 64-bit register at `off` (8-byte aligned): the two dwords, low first.
    pub(crate) fn read64(&self, off: usize) -> u64 {
        u64::from(self.read32(off)) | u64::from(self.read32(off + 4)) << 32
    }

    /// Writes the 32-bit register at `off` (4-byte aligned; other offsets are ignored).
    pub(crate) fn write32(&mut self, off: usize, val: u32) -> WriteEffect {
        if off % 4 != 0 {
            return WriteEffect::None;
        }
        let has_evl = self.p.has_evl();
        let disabled = self.state() == DeviceState::Disabled;
        match off {
            off::GENCFG if disabled => {
                // rdbuf_limit, user_int_en, and evl_en where there is an event log.
                let v = regs::GenCfg::from_raw(val);
                let kept = regs::GenCfg::zeroed()
                    .with_rdbuf_limit(v.rdbuf_limit())
                    .with_user_int_en(v.user_int_en())
                    .with_evl_en(has_evl && v.evl_en());
                self.gencfg = kept.into_raw();
            }
            off::GENCTRL => {
                let v = regs::GenCtrl::from_raw(val);
                let kept = regs::GenCtrl::zeroed()
                    .with_softerr_int_en(v.softerr_int_en())
                    .with_halt_int_en(v.halt_int_en())
                    .with_evl_int_en(has_evl && v.evl_int_en());
                self.genctrl = kept.into_raw();
            }
            off::INTCAUSE => {
                self.intcause &= !val;
            }
            off::CMD => {
                if self.pending_cmd.is_some() || regs::CmdSts::from_raw(self.cmdsts).active() {
                    self.cmds_dropped += 1;
                } else {
                    self.last_cmd = val;
                    self.pending_cmd = Some(val);
                    self.cmdsts = regs::CmdSts::zeroed().with_active(true).into_raw();
                    return WriteEffect::Command;
                }
            }
            off::SWERR => {
                // Bits 1:0 (valid, overflow) are write-1-to-clear [IDXD_SWERR_ACK].
                self.swerr[0] &= !(u64::from(val) & regs::SWERR_ACK);
            }
            0xe0..=0xec if has_evl && disabled => {
                let mask = match off - off::EVLCFG {
                    0 => 0xffff_f003, // pasid_en, priv, base_addr 31:12
                    4 => 0xffff_ffff, // base_addr 63:32
                    8 => 0xffff_ffff, // size 15:0, pasid 15:0 in 31:16
                    _ => 0xf,         // pasid 19:16
                };
                set_dword_of(&mut self.evlcfg, off - off::EVLCFG, val & mask);
            }
            off::EVLSTATUS if has_evl => {
                // Software owns the head. Model: a head beyond the ring is ignored.
                let head = val & 0xffff;
                if head < self.evl_size().max(1) && head != self.evl_head {
                    self.evl_head = head;
                    return WriteEffect::EvlHeadMoved;
                }
            }
            regs::EVLSTATUS_HI if has_evl => {
                if val & regs::EVLSTATUS_INT_PENDING_HI != 0 {
                    self.evl_int_pending = false;
                }
            }
            _ => self.write_table(off, val),
        }
        WriteEffect::None
    }

    fn write_table(&mut self, off: usize, val: u32) {
        let p = self.p;
        let disabled = self.state() == DeviceState::Disabled;
        if let Some((g, o)) = self.table_hit(off, p.grpcfg_offset(), regs::grpcfg::SIZE, NUM_GROUPS)
        {
            if !disabled || !self.config_en() {
                return;
            }
            let mut q = self.grpcfg[g];
            set_dword_of(&mut q, o, val);
            // WQ bitmap: only existing WQs; engine bitmap: only existing engines.
            q[0] &= (1u64 << NUM_WQS) - 1;
            q[1] = 0;
            q[2] = 0;
            q[3] = 0;
            q[4] &= (1u64 << NUM_ENGINES) - 1;
            q[5] &= GROUP_FLAGS_MASK;
            q[6] = 0;
            q[7] = 0;
            self.grpcfg[g] = q;
            return;
        }
        if let Some((w, o)) = self.table_hit(off, p.wqcfg_offset(), p.wqcfg_stride(), NUM_WQS) {
            if self.wq_enabled(w) || !self.config_en() {
                return;
            }
            let gencap = regs::GenCap::from_raw(p.gencap);
            let wqcap = regs::WqCap::from_raw(p.wqcap);
            let mask = match o / 4 {
                regs::wqcfg::SIZE_IDX | regs::wqcfg::THRESH_IDX => 0xffff,
                regs::wqcfg::MODE_IDX => {
                    let mut m = 0x3fff_fff1; // mode, priority, pasid, pasid_en, priv
                    if gencap.block_on_fault() {
                        m |= 1 << 1;
                    }
                    if wqcap.wq_ats_support() {
                        m |= 1 << 2;
                    }
                    if wqcap.wq_prs_support() {
                        m |= 1 << 3;
                    }
                    m
                }
                regs::wqcfg::LIMITS_IDX => 0x1ff,
                // OPCFG keeps the bits of operations OPCAP has (model).
                i @ regs::wqcfg::OPCFG_IDX..16 if wqcap.op_config() => {
                    let q = i - regs::wqcfg::OPCFG_IDX;
                    (p.opcap[q / 2] >> (32 * (q % 2))) as u32
                }
                _ => 0, // occupancy interrupts, state: not modelled, read-only
            };
            let d = &mut self.wqcfg[w][o / 4];
            *d = (*d & !mask) | (val & mask);
            return;
        }
        if let Some((v, o)) = self.table_hit(off, p.msix_perm_offset(), 8, NUM_VECTORS) {
            if o == 0 {
                // ignore (2), pasid_en (3), pasid (31:12) [union msix_perm].
                self.msix_perm[v] = val & 0xffff_f00c;
            }
        }
    }

    /// Writes a 64-bit register: low dword first, then high.
    pub(crate) fn write64(&mut self, off: usize, val: u64) -> WriteEffect {
        let a = self.write32(off, val as u32);
        let b = self.write32(off + 4, (val >> 32) as u32);
        if a != WriteEffect::None {
            a
        } else {
            b
        }
    }

    /// WQCFG dword `idx` of WQ `wq`.
    pub(crate) fn wqcfg(&self, wq: usize, idx: usize) -> u32 {
        self.wqcfg[wq][idx]
    }

    /// WQ `wq`'s OPCFG (dwords 8-15: bit `n` of the whole for opcode `n`), on a device with
    /// WQCAP.op_config [`union wqcfg`: `op_config`].
    pub(crate) fn wq_opcfg(&self, wq: usize) -> Option<[u32; 8]> {
        regs::WqCap::from_raw(self.p.wqcap)
            .op_config()
            .then(|| core::array::from_fn(|i| self.wqcfg[wq][regs::wqcfg::OPCFG_IDX + i]))
    }

    /// The mode dword (WQCFG dword 2) of WQ `wq`.
    pub(crate) fn wq_mode(&self, wq: usize) -> regs::WqCfgMode {
        regs::WqCfgMode::from_raw(self.wqcfg[wq][regs::wqcfg::MODE_IDX])
    }

    /// Whether WQ `wq` is enabled (WQCFG wq_state = 1).
    pub(crate) fn wq_enabled(&self, wq: usize) -> bool {
        wq < NUM_WQS && self.wq_state(wq).wq_state() == 1
    }

    fn wq_state(&self, wq: usize) -> regs::WqCfgState {
        regs::WqCfgState::from_raw(self.wqcfg[wq][regs::wqcfg::STATE_IDX])
    }

    fn set_wq_enabled(&mut self, wq: usize, on: bool) {
        let mut st = self.wq_state(wq).with_wq_state(on);
        if !on {
            st = st.with_const_occupancy::<0>();
        }
        self.wqcfg[wq][regs::wqcfg::STATE_IDX] = st.into_raw();
    }

    /// Sets the occupancy field of WQ `wq` (16 bits; the model's WQs are smaller).
    pub(crate) fn set_wq_occupancy(&mut self, wq: usize, n: u32) {
        let st = self.wq_state(wq);
        let st = st.try_with_occupancy(n).unwrap_or(st);
        self.wqcfg[wq][regs::wqcfg::STATE_IDX] = st.into_raw();
    }

    /// The group WQ `wq` belongs to, if exactly one.
    pub(crate) fn group_of_wq(&self, wq: usize) -> Option<usize> {
        let mut found = None;
        for (g, q) in self.grpcfg.iter().enumerate() {
            if q[0] & (1 << wq) != 0 {
                if found.is_some() {
                    return None;
                }
                found = Some(g);
            }
        }
        found
    }

    /// Whether the event log is enabled (GENCFG.evl_en, on a device with one).
    pub(crate) fn evl_enabled(&self) -> bool {
        self.p.has_evl() && regs::GenCfg::from_raw(self.gencfg).evl_en()
    }

    /// EVLCFG.size (entries).
    pub(crate) fn evl_size(&self) -> u32 {
        regs::EvlCfgHi::from_raw(self.evlcfg[1]).size().get() as u32
    }

    /// EVLCFG base address (bytes).
    pub(crate) fn evl_base(&self) -> u64 {
        self.evlcfg[0] & !0xfff
    }

    /// The event-log head (next entry software will read) and tail (next entry the device
    /// writes).
    pub(crate) fn evl_head_tail(&self) -> (u32, u32) {
        (self.evl_head, self.evl_tail)
    }

    /// Advances the tail after the device wrote an entry, sets int_pending and, when GENCTRL
    /// enables it, INTCAUSE.EVL. Returns whether the misc interrupt must be raised.
    pub(crate) fn evl_push(&mut self) -> bool {
        let size = self.evl_size().max(1);
        self.evl_tail = (self.evl_tail + 1) % size;
        self.evl_int_pending = true;
        self.cause(intcause::EVL, self.genctrl().evl_int_en())
    }

    /// Sets `bits` in INTCAUSE; returns `enabled` when any of them was newly set (the misc
    /// vector fires on a new cause only).
    pub(crate) fn cause(&mut self, bits: u32, enabled: bool) -> bool {
        let new = bits & !self.intcause != 0;
        self.intcause |= bits;
        new && enabled
    }

    /// Halts the device, as hardware does on an internal fatal error: GENSTS.state HALT with
    /// `reset_type` (GENSTS.reset_type), every WQ disabled, INTCAUSE.HALT_STATE. Returns
    /// whether the misc interrupt must be raised (GENCTRL.halt_int_en).
    pub(crate) fn halt(&mut self, reset_type: regs::ResetType) -> bool {
        for w in 0..NUM_WQS {
            self.set_wq_enabled(w, false);
        }
        self.gensts = regs::GenSts::zeroed()
            .with_state(DeviceState::Halt)
            .with_reset_type(reset_type)
            .into_raw();
        self.cause(intcause::HALT_STATE, self.genctrl().halt_int_en())
    }

    /// Records a software error in SWERR (DSA 1.0 reporting, and errors without a CR on 2.0).
    /// A second error before software clears the first sets the overflow bit and keeps the
    /// first. Returns whether the misc interrupt must be raised.
    pub(crate) fn swerr(&mut self, qw: [u64; 4]) -> bool {
        let cur = regs::SwErr0::from_raw(self.swerr[0]);
        if cur.valid() {
            self.swerr[0] = cur.with_overflow(true).into_raw();
        } else {
            self.swerr = qw;
            self.swerr[0] = regs::SwErr0::from_raw(qw[0]).with_valid(true).into_raw();
        }
        self.cause(intcause::ERR, self.genctrl().softerr_int_en())
    }

    /// The command waiting to run, left in place.
    pub(crate) fn peek_command(&self) -> Option<u32> {
        self.pending_cmd
    }

    /// Whether the waiting command discards queued work (abort, reset).
    pub(crate) fn abort_pending(&self) -> bool {
        self.pending_cmd.is_some_and(|raw| {
            matches!(
                self.quiesce_for(raw),
                Quiesce::AbortWqs(_) | Quiesce::AbortPasid(_)
            )
        })
    }

    /// The command waiting to run, taken out of CMD. A command made to hang
    /// ([`CmdFault::Hang`]) is taken and never returned: it stays active.
    pub(crate) fn take_command(&mut self) -> Option<u32> {
        let raw = self.pending_cmd.take()?;
        let code = regs::Cmd::from_raw(raw).cmd().get() as usize;
        if self.cmd_faults.get(code).copied().flatten() == Some(CmdFault::Hang) {
            return None;
        }
        Some(raw)
    }

    /// Whether a command is waiting to run.
    #[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
    pub(crate) fn command_pending(&self) -> bool {
        self.pending_cmd.is_some()
    }

    /// Fault injection: command `code` does `fault` instead of its work from now on (`None`:
    /// it works again).
    #[cfg(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)]
    pub(crate) fn inject_cmd_fault(&mut self, code: u32, fault: Option<CmdFault>) {
        if let Some(f) = self.cmd_faults.get_mut(code as usize) {
            *f = fault;
        }
    }

    /// Decodes `raw` (a CMD value) and says what the engine must do before [`Self::finish`].
    /// Commands that fail their checks need nothing.
    pub(crate) fn quiesce_for(&self, raw: u32) -> Quiesce {
        let c = regs::Cmd::from_raw(raw);
        let operand = c.operand().get() as u32;
        match c.cmd().get() as u32 {
            cmd::DISABLE_DEVICE | cmd::DRAIN_ALL if self.enabled() => Quiesce::DrainWqs(WqMask(!0)),
            cmd::ABORT_ALL | cmd::RESET_DEVICE => Quiesce::AbortWqs(WqMask(!0)),
            cmd::DISABLE_WQ | cmd::DRAIN_WQ if self.enabled() => {
                Quiesce::DrainWqs(wq_mask(operand))
            }
            cmd::ABORT_WQ | cmd::RESET_WQ if self.enabled() => Quiesce::AbortWqs(wq_mask(operand)),
            cmd::DRAIN_PASID if self.enabled() => Quiesce::DrainPasid(operand),
            cmd::ABORT_PASID if self.enabled() => Quiesce::AbortPasid(operand),
            _ => Quiesce::None,
        }
    }

    /// Runs command `raw` on the register state (the engine has quiesced as
    /// [`Self::quiesce_for`] asked), writes CMDSTS and clears `active`. Returns whether the misc
    /// interrupt must be raised (the command asked for one with CMD.int_req).
    pub(crate) fn finish(&mut self, raw: u32) -> bool {
        let c = regs::Cmd::from_raw(raw);
        let operand = c.operand().get();
        let code = c.cmd().get();
        let err = if self.p.cmdcap & (1 << code) == 0 {
            cmdsts::INVAL_CMD
        } else if self.cmd_faults.get(code as usize).copied().flatten() == Some(CmdFault::Fail) {
            cmdsts::HW_ERR
        } else {
            self.run_command(code, operand)
        };
        self.cmdsts = err;
        c.int_req() && self.cause(intcause::CMD, true)
    }

    fn run_command(&mut self, code: u32, operand: u32) -> u32 {
        let st = regs::GenSts::from_raw(self.gensts);
        if st.state() == DeviceState::Halt
            && !(code == cmd::RESET_DEVICE && st.reset_type() == regs::ResetType::Software)
        {
            // A halted device takes Reset Device only, and only when that is the reset it
            // asks for; the others need a function-level or a platform reset (model: as the
            // project's QEMU device, "hardware error").
            return cmdsts::HW_ERR;
        }
        match code {
            cmd::ENABLE_DEVICE => self.enable_device(),
            cmd::DISABLE_DEVICE => {
                if !self.enabled() {
                    return cmdsts::ERR_DIS_DEV_EN;
                }
                for w in 0..NUM_WQS {
                    self.set_wq_enabled(w, false);
                }
                self.gensts = state::DISABLED;
                cmdsts::SUCCESS
            }
            cmd::RESET_DEVICE => {
                let p = self.p;
                let dropped = self.cmds_dropped;
                let faults = self.cmd_faults;
                *self = Self::new(p);
                self.cmds_dropped = dropped;
                self.cmd_faults = faults;
                cmdsts::SUCCESS
            }
            cmd::ENABLE_WQ => self.enable_wq(operand as usize),
            cmd::DISABLE_WQ | cmd::RESET_WQ => {
                if !self.enabled() {
                    return cmdsts::ERR_DEV_NOT_EN;
                }
                let m = wq_mask(operand);
                for w in (0..NUM_WQS).filter(|&w| m.has(w)) {
                    self.set_wq_enabled(w, false);
                    if code == cmd::RESET_WQ {
                        self.wqcfg[w] = wqcfg_reset_entry(&self.p);
                    }
                }
                cmdsts::SUCCESS
            }
            cmd::DRAIN_ALL
            | cmd::ABORT_ALL
            | cmd::DRAIN_WQ
            | cmd::ABORT_WQ
            | cmd::DRAIN_PASID
            | cmd::ABORT_PASID => {
                if !self.enabled() {
                    return cmdsts::ERR_DEV_NOT_EN;
                }
                cmdsts::SUCCESS
            }
            _ => cmdsts::INVAL_CMD,
        }
    }

    /// Enable Device: checks the configuration (model: the order of checks is the model's).
    fn enable_device(&mut self) -> u32 {
        if self.state() != DeviceState::Disabled {
            return cmdsts::ERR_DEV_ENABLED;
        }
        // Every configured WQ (size > 0) in exactly one group, every engine in at most one.
        let mut total = 0u32;
        let mut wq_seen = 0u64;
        let mut eng_seen = 0u64;
        let mut usable_group = false;
        for q in self.grpcfg.iter() {
            if q[0] & wq_seen != 0 || q[4] & eng_seen != 0 {
                return cmdsts::ERR_GRP_CONFIG2;
            }
            wq_seen |= q[0];
            eng_seen |= q[4];
            // A group with WQs needs an engine (and the reverse is allowed: idle engines).
            if q[0] != 0 && q[4] == 0 {
                return cmdsts::ERR_GRP_CONFIG;
            }
            usable_group |= q[0] != 0 && q[4] != 0;
        }
        for w in 0..NUM_WQS {
            let size = self.wqcfg[w][regs::wqcfg::SIZE_IDX] & 0xffff;
            total += size;
            if size != 0 && wq_seen & (1 << w) == 0 {
                // Model: a WQ with entries but no group cannot be served.
                return cmdsts::ERR_GRP_CONFIG3;
            }
        }
        if !usable_group {
            return cmdsts::ERR_GRP_CONFIG;
        }
        if total > TOTAL_WQ_SIZE {
            return cmdsts::ERR_WQ_SIZE_ERANGE;
        }
        if self.evl_enabled() {
            let size = self.evl_size();
            if !(regs::EVL_SIZE_MIN..=regs::EVL_SIZE_MAX).contains(&size) || self.evl_base() == 0 {
                return cmdsts::ERR_CONFIG;
            }
            self.evl_head = 0;
            self.evl_tail = 0;
            self.evl_int_pending = false;
        }
        self.gensts = state::ENABLED;
        cmdsts::SUCCESS
    }

    /// Enable WQ `wq`: checks its WQCFG against the capabilities.
    fn enable_wq(&mut self, wq: usize) -> u32 {
        if !self.enabled() {
            return cmdsts::ERR_DEV_NOTEN;
        }
        if wq >= NUM_WQS {
            return cmdsts::INVAL_WQIDX;
        }
        if self.wq_enabled(wq) {
            return cmdsts::ERR_WQ_ENABLED;
        }
        let size = self.wqcfg[wq][regs::wqcfg::SIZE_IDX] & 0xffff;
        if size == 0 || self.group_of_wq(wq).is_none() {
            return cmdsts::ERR_WQ_SIZE;
        }
        let m = self.wq_mode(wq);
        let wqcap = regs::WqCap::from_raw(self.p.wqcap);
        let dedicated = m.mode() == regs::WqMode::Dedicated;
        if (dedicated && !wqcap.dedicated_mode()) || (!dedicated && !wqcap.shared_mode()) {
            return cmdsts::ERR_WQ_MODE;
        }
        // WQCFG.pasid_en is not checked: a shared WQ takes the PASID of each submission
        // (ENQCMD), and a dedicated WQ may run without one (the model then cannot translate its
        // addresses and fails its descriptors; see the engine).
        let limits = regs::WqCfgLimits::from_raw(self.wqcfg[wq][regs::wqcfg::LIMITS_IDX]);
        let gencap = regs::GenCap::from_raw(self.p.gencap);
        if u64::from(limits.max_xfer_shift().get()) > gencap.max_xfer_shift().get() {
            return cmdsts::ERR_MAX_XFER_SIZE;
        }
        if u64::from(limits.max_batch_shift().get()) > gencap.max_batch_shift().get() {
            return cmdsts::ERR_MAX_BATCH_SIZE;
        }
        self.set_wq_enabled(wq, true);
        cmdsts::SUCCESS
    }
}

/// Decodes the operand of the WQ commands: bits 19:16 select a block of 16 WQs, 15:0 a mask
/// within it. Model: only block 0 exists (the model has fewer than 16 WQs).
fn wq_mask(operand: u32) -> WqMask {
    if operand >> 16 != 0 {
        WqMask(0)
    } else {
        WqMask(u64::from(operand & 0xffff) & ((1 << NUM_WQS) - 1))
    }
}
