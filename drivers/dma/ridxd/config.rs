// SPDX-License-Identifier: GPL-2.0

//! The driver's view of a device's configuration: groups, engines, WQs and the event-log size,
//! with the rules for changing them, and their encoding into GRPCFG/WQCFG.
//!
//! The state is plain data; the device (`DsaDevice`) holds it under a lock and writes it to
//! the device when the device is enabled. Rules (source in brackets):
//!
//! * Configuration changes only while the device is disabled and configurable
//!   (GENCAP.config_en); a WQ's attributes only while that WQ is disabled; `EPERM` otherwise,
//!   as idxd answers every such write [`registers.h` semantics of WQCFG/GRPCFG; idxd sysfs
//!   rules].
//! * A WQ's allowed operations (`op_config`, programmed into WQCFG's OPCFG dwords 8-15) need
//!   WQCAP.op_config and are a subset of OPCAP (`EINVAL`) [idxd `wq_op_config_store`].
//! * `prs_disable` needs WQCAP.wq_prs_support; setting it turns `block_on_fault` off, and
//!   `block_on_fault` cannot be set while it is on [idxd `wq_prs_disable_store`].
//! * The event-log size is 64..=65535 entries, default 64, and needs GENCAP.evl_support
//!   [`IDXD_EVL_SIZE_MIN`/`MAX`].
//! * WQ sizes add up to at most WQCAP.total_wq_size. A WQ's size and group change only while
//!   the device is disabled (`EPERM`): the device takes them at Enable Device [idxd
//!   `wq_size_store`; GRPCFG is read-only while enabled].
//! * A group's flags (GRPCFG) change only while the device is disabled (`EPERM` while enabled,
//!   as idxd); traffic classes default to 1 and cannot be changed on DSA 1.0/2.0 (`EPERM`);
//!   read buffers allowed default to GRPCAP.total_rdbufs, at least 4 per engine of the group
//!   and at most the group's reserved ones plus those no group reserved; a group uses the
//!   read-buffer limit only when the device has one; progress limits 0..=3 need
//!   GRPCAP.progress_limit [idxd `group_*_store`, `idxd_setup_groups`].
//! * The device's read-buffer limit (GENCFG.rdbuf_limit) needs GRPCAP.rdbuf_limit (`EPERM`
//!   otherwise, also while enabled) and is at most GRPCAP.total_rdbufs [idxd
//!   `read_buffer_limit_store`].

pub(crate) use crate::regs::WqMode;
use crate::{
    caps::Caps,
    regs::{self, off, EVL_SIZE_MAX, EVL_SIZE_MIN},
};
use kernel::{num::Bounded, prelude::*};

/// Default event-log size in entries [`IDXD_EVL_SIZE_MIN`].
pub(crate) const EVL_SIZE_DEFAULT: u32 = EVL_SIZE_MIN;

/// A new WQ's maximum batch size shift: 32 descriptors [`WQ_DEFAULT_MAX_BATCH` in idxd.h],
/// or the device's maximum if smaller.
const WQ_DEFAULT_MAX_BATCH_SHIFT: u32 = 5;

/// A new WQ's maximum transfer size shift: 2 MiB [`WQ_DEFAULT_MAX_XFER` in idxd.h], or the
/// device's maximum if smaller.
const WQ_DEFAULT_MAX_XFER_SHIFT: u32 = 21;

/// How often a shared WQ's submission is tried again when the WQ answers "retry", by default
/// [`IDXD_ENQCMDS_RETRIES` in idxd.h], and at most [`IDXD_ENQCMDS_MAX_RETRIES`].
pub(crate) const ENQCMDS_RETRIES_DEFAULT: u32 = 32;
/// See [`ENQCMDS_RETRIES_DEFAULT`].
pub(crate) const ENQCMDS_RETRIES_MAX: u32 = 64;

/// One WQ's configuration and state.
///
/// A new WQ reads as idxd's does (`idxd_setup_wqs()`, `idxd_wq_disable_cleanup()`): shared
/// (no dedicated flag), priority 0, 32-descriptor batches, 2 MiB transfers, 32 ENQCMDS
/// retries.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WqConfig {
    /// Mode.
    pub(crate) mode: WqMode,
    /// Entries (0: not configured).
    pub(crate) size: u32,
    /// Priority, 0..=[`WQ_PRIORITY_MAX`].
    pub(crate) priority: u32,
    /// Shared WQ threshold: the occupancy at which the limited portal (ENQCMD) answers
    /// "retry"; the entries above it are kept for the unlimited portal (ENQCMDS).
    pub(crate) threshold: u32,
    /// Block on fault.
    pub(crate) block_on_fault: bool,
    /// ATS disabled.
    pub(crate) ats_disable: bool,
    /// PRS disabled (DSA 2.0): CR faults go to the event log instead of stalling.
    pub(crate) prs_disable: bool,
    /// Maximum transfer size shift.
    pub(crate) max_xfer_shift: u32,
    /// Maximum batch size shift.
    pub(crate) max_batch_shift: u32,
    /// Times a `write()` submission to this shared WQ is tried again on "retry" (idxd's
    /// `enqcmds_retries`), 0..=[`ENQCMDS_RETRIES_MAX`].
    pub(crate) enqcmds_retries: u32,
    /// Group, if assigned.
    pub(crate) group: Option<usize>,
    /// PASID of a dedicated WQ (set while a process has it open).
    pub(crate) pasid: Option<u32>,
    /// Enabled on the device.
    pub(crate) enabled: bool,
    /// Operations the WQ runs (OPCFG, on a device with WQCAP.op_config): bit `n` for opcode
    /// `n`, qword 0 lowest; all of OPCAP at first and after a WQ is reset.
    pub(crate) op_config: [u64; 4],
}

/// One group's flags (GRPCFG qword 5 [`union group_flags`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct GroupConfig {
    /// Traffic class A (descriptor and CR accesses); `None`: not set (with `tc_override`
    /// only: shown as -1, programmed as 0, as idxd).
    pub(crate) tc_a: Option<Bounded<u64, 3>>,
    /// Traffic class B (source and destination accesses); `None`: not set (shown as -1,
    /// programmed as 1, as idxd).
    pub(crate) tc_b: Option<Bounded<u64, 3>>,
    /// The group's engines honour the device's read-buffer limit.
    pub(crate) use_rdbuf_limit: bool,
    /// Read buffers reserved for the group.
    pub(crate) rdbufs_reserved: Bounded<u64, 8>,
    /// Read buffers the group may use.
    pub(crate) rdbufs_allowed: Bounded<u64, 8>,
    /// Descriptor progress limit.
    pub(crate) desc_progress_limit: Bounded<u64, 2>,
    /// Batch progress limit.
    pub(crate) batch_progress_limit: Bounded<u64, 2>,
}

/// Which of a group's flags [`Config::set_group_flag`] sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GroupFlag {
    /// `traffic_class_a`.
    TrafficClassA,
    /// `traffic_class_b`.
    TrafficClassB,
    /// `use_read_buffer_limit` (0 or 1).
    UseReadBufferLimit,
    /// `read_buffers_reserved`.
    ReadBuffersReserved,
    /// `read_buffers_allowed`.
    ReadBuffersAllowed,
    /// `desc_progress_limit`.
    DescProgressLimit,
    /// `batch_progress_limit`.
    BatchProgressLimit,
}

/// A whole device's configuration.
pub(crate) struct Config {
    /// Per WQ.
    pub(crate) wqs: KVec<WqConfig>,
    /// Per engine: its group.
    pub(crate) engines: KVec<Option<usize>>,
    /// Number of groups.
    pub(crate) num_groups: usize,
    /// Per group: its flags.
    pub(crate) groups: KVec<GroupConfig>,
    /// Event-log size in entries (0: the device has no event log).
    pub(crate) evl_size: u32,
    /// The device's read-buffer limit (GENCFG.rdbuf_limit; 0: none).
    pub(crate) rdbuf_limit: Bounded<u32, 8>,
    /// The device is enabled.
    pub(crate) enabled: bool,
    /// The device did not stop when told to (Disable Device and Reset Device both failed): it
    /// may still run descriptors and write the event log, whatever `enabled` says, until a
    /// reset succeeds.
    pub(crate) stuck: bool,
    /// Traffic classes may be changed on DSA 1.0 and 2.0 (idxd's `tc_override` parameter;
    /// this driver's, as the device was probed): [`Config::set_tc_override`].
    tc_override: bool,
    caps: Caps,
}

impl WqConfig {
    /// A WQ nobody configured (see [`WqConfig`]).
    fn new(caps: &Caps) -> Self {
        WqConfig {
            mode: WqMode::Shared,
            size: 0,
            priority: 0,
            threshold: 0,
            block_on_fault: false,
            ats_disable: false,
            prs_disable: false,
            max_xfer_shift: WQ_DEFAULT_MAX_XFER_SHIFT
                .min(caps.gencap.max_xfer_shift().get() as u32),
            max_batch_shift: WQ_DEFAULT_MAX_BATCH_SHIFT
                .min(caps.gencap.max_batch_shift().get() as u32),
            enqcmds_retries: ENQCMDS_RETRIES_DEFAULT,
            group: None,
            pasid: None,
            enabled: false,
            op_config: caps.opcap,
        }
    }

    /// What idxd's `idxd_wq_disable_cleanup()` leaves of a WQ whose driver was unbound: its
    /// size and group (and its PASID and state, which are not the user's); the rest as new.
    fn reset(&mut self, caps: &Caps) {
        *self = WqConfig {
            size: self.size,
            group: self.group,
            pasid: self.pasid,
            enabled: self.enabled,
            ..WqConfig::new(caps)
        };
    }
}

impl GroupConfig {
    /// idxd's defaults (`idxd_setup_groups()`, `idxd_groups_clear_state()`): traffic classes
    /// 1 on DSA 1.0/2.0 (the only versions this driver knows), not set with `tc_override`;
    /// all read buffers allowed.
    ///
    /// `EINVAL` for a GRPCAP total that does not fit the flags' 8 bits.
    fn new(caps: &Caps, tc_override: bool) -> Result<Self> {
        let total = caps.grpcap.total_rdbufs().get();
        let tc = (!tc_override).then(Bounded::<u64, 3>::new::<1>);
        Ok(GroupConfig {
            tc_a: tc,
            tc_b: tc,
            use_rdbuf_limit: false,
            rdbufs_reserved: Bounded::<u64, 8>::new::<0>(),
            rdbufs_allowed: Bounded::try_new(total).ok_or(EINVAL)?,
            desc_progress_limit: Bounded::<u64, 2>::new::<0>(),
            batch_progress_limit: Bounded::<u64, 2>::new::<0>(),
        })
    }
}

/// Changes return the errno each method documents and change nothing on error.
impl Config {
    /// The reset configuration of a device with `caps`: nothing assigned, WQs unconfigured.
    pub(crate) fn new(caps: &Caps) -> Result<Self> {
        let mut wqs = KVec::with_capacity(caps.num_wqs(), GFP_KERNEL)?;
        for _ in 0..caps.num_wqs() {
            wqs.push(WqConfig::new(caps), GFP_KERNEL)?;
        }
        let mut engines = KVec::with_capacity(caps.num_engines(), GFP_KERNEL)?;
        for _ in 0..caps.num_engines() {
            engines.push(None, GFP_KERNEL)?;
        }
        let mut groups = KVec::with_capacity(caps.num_groups(), GFP_KERNEL)?;
        for _ in 0..caps.num_groups() {
            groups.push(GroupConfig::new(caps, false)?, GFP_KERNEL)?;
        }
        Ok(Self {
            wqs,
            engines,
            num_groups: caps.num_groups(),
            groups,
            evl_size: if caps.evl_entry_size().is_some() {
                EVL_SIZE_DEFAULT
            } else {
                0
            },
            rdbuf_limit: Bounded::<u32, 8>::new::<0>(),
            enabled: false,
            stuck: false,
            tc_override: false,
            caps: *caps,
        })
    }

    /// `EPERM` unless the device is disabled and configurable.
    fn check_device_changeable(&self) -> Result {
        if !self.caps.configurable() || self.enabled {
            return Err(EPERM);
        }
        Ok(())
    }

    /// The WQ `wq`, if it exists and may change: `EINVAL` for a WQ that does not exist,
    /// `EPERM` on a device that is not configurable and while the WQ is enabled.
    fn wq_changeable(&mut self, wq: usize) -> Result<&mut WqConfig> {
        if !self.caps.configurable() {
            return Err(EPERM);
        }
        let w = self.wqs.get_mut(wq).ok_or(EINVAL)?;
        if w.enabled {
            return Err(EPERM);
        }
        Ok(w)
    }

    /// Sets the operations WQ `wq` runs (its OPCFG): `ops` has bit `n` for opcode `n`, qword
    /// 0 lowest.
    ///
    /// `EOPNOTSUPP` without WQCAP.op_config, `EINVAL` for an operation OPCAP does not have,
    /// and the errors of a WQ change.
    pub(crate) fn set_wq_op_config(&mut self, wq: usize, ops: [u64; 4]) -> Result {
        if !self.caps.wqcap.op_config() {
            return Err(EOPNOTSUPP);
        }
        let opcap = self.caps.opcap;
        let w = self.wq_changeable(wq)?;
        if ops.iter().zip(opcap.iter()).any(|(o, c)| o & !c != 0) {
            return Err(EINVAL);
        }
        w.op_config = ops;
        Ok(())
    }

    /// Resets disabled WQ `wq`'s attributes as idxd does when the WQ's driver is unbound
    /// ([`WqConfig::reset`]). Does nothing to a WQ that is enabled or does not exist, or on a
    /// device that is not configurable (its configuration is the device's).
    pub(crate) fn reset_wq(&mut self, wq: usize) {
        let caps = self.caps;
        if let Ok(w) = self.wq_changeable(wq) {
            w.reset(&caps);
        }
    }

    /// Sets the event-log size (entries).
    ///
    /// `EOPNOTSUPP` without an event log, `EINVAL` outside 64..=65535, `EPERM` while the
    /// device is enabled.
    pub(crate) fn set_evl_size(&mut self, entries: u32) -> Result {
        if self.caps.evl_entry_size().is_none() {
            return Err(EOPNOTSUPP);
        }
        self.check_device_changeable()?;
        if !(EVL_SIZE_MIN..=EVL_SIZE_MAX).contains(&entries) {
            return Err(EINVAL);
        }
        self.evl_size = entries;
        Ok(())
    }

    /// Turns PRS off (`true`) or on for WQ `wq`; turning it off also turns block-on-fault
    /// off.
    ///
    /// `EOPNOTSUPP` without WQCAP.wq_prs_support, and the errors of a WQ change.
    pub(crate) fn set_prs_disable(&mut self, wq: usize, on: bool) -> Result {
        if !self.caps.wq_prs_disable() {
            return Err(EOPNOTSUPP);
        }
        let w = self.wq_changeable(wq)?;
        w.prs_disable = on;
        if on {
            w.block_on_fault = false;
        }
        Ok(())
    }

    /// Sets block-on-fault for WQ `wq`.
    ///
    /// `EOPNOTSUPP` without GENCAP.block_on_fault, `EINVAL` while PRS is disabled on the WQ,
    /// and the errors of a WQ change.
    pub(crate) fn set_block_on_fault(&mut self, wq: usize, on: bool) -> Result {
        let bof_cap = self.caps.gencap.block_on_fault();
        let w = self.wq_changeable(wq)?;
        if on && !bof_cap {
            return Err(EOPNOTSUPP);
        }
        if on && w.prs_disable {
            return Err(EINVAL);
        }
        w.block_on_fault = on;
        Ok(())
    }

    /// Sets WQ `wq`'s size in entries.
    ///
    /// `EPERM` while the device is enabled; `EINVAL` when all WQ sizes would exceed
    /// WQCAP.total_wq_size, and the errors of a WQ change. Nothing changes on error.
    pub(crate) fn set_wq_size(&mut self, wq: usize, size: u32) -> Result {
        // The device sizes its WQs at Enable Device: a size changed later is refused at
        // Enable WQ ("invalid WQ size"). idxd refuses it with EPERM [`wq_size_store`].
        if self.enabled {
            return Err(EPERM);
        }
        let total = self.caps.total_wq_size();
        let others: u32 = self
            .wqs
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != wq)
            .map(|(_, w)| w.size)
            .sum();
        let w = self.wq_changeable(wq)?;
        if others.checked_add(size).is_none_or(|sum| sum > total) {
            return Err(EINVAL);
        }
        w.size = size;
        Ok(())
    }

    /// Sets WQ `wq`'s mode; a WQ made dedicated loses its threshold (idxd's
    /// `wq_mode_store()`). `EOPNOTSUPP` when WQCAP lacks the mode, and the errors of a WQ
    /// change.
    pub(crate) fn set_wq_mode(&mut self, wq: usize, mode: WqMode) -> Result {
        let ok = match mode {
            WqMode::Dedicated => self.caps.wqcap.dedicated_mode(),
            WqMode::Shared => self.caps.wqcap.shared_mode(),
        };
        let w = self.wq_changeable(wq)?;
        if !ok {
            return Err(EOPNOTSUPP);
        }
        w.mode = mode;
        if mode == WqMode::Dedicated {
            w.threshold = 0;
        }
        Ok(())
    }

    /// Puts WQ `wq` in group `group` (`None`: no group). `EPERM` while the device is enabled,
    /// `EINVAL` for a group that does not exist, and the errors of a WQ change.
    pub(crate) fn set_wq_group(&mut self, wq: usize, group: Option<usize>) -> Result {
        // Group membership is GRPCFG, which the device takes at Enable Device only: a WQ moved
        // later is refused at Enable WQ. (idxd accepts the write and the enable then fails.)
        if self.enabled {
            return Err(EPERM);
        }
        let n = self.num_groups;
        let w = self.wq_changeable(wq)?;
        if group.is_some_and(|g| g >= n) {
            return Err(EINVAL);
        }
        w.group = group;
        Ok(())
    }

    /// Sets WQ `wq`'s priority, 0..=15 (WQCFG.priority; idxd's `IDXD_MAX_PRIORITY`).
    ///
    /// `EINVAL` above 15, and the errors of a WQ change.
    pub(crate) fn set_wq_priority(&mut self, wq: usize, priority: u32) -> Result {
        let w = self.wq_changeable(wq)?;
        if priority > WQ_PRIORITY_MAX {
            return Err(EINVAL);
        }
        w.priority = priority;
        Ok(())
    }

    /// Sets shared WQ `wq`'s threshold: the entries ENQCMD may fill before the WQ answers
    /// "retry" (WQCFG.wq_thresh), 1..=size.
    ///
    /// `EINVAL` out of range or on a dedicated WQ, and the errors of a WQ change.
    pub(crate) fn set_wq_threshold(&mut self, wq: usize, threshold: u32) -> Result {
        let w = self.wq_changeable(wq)?;
        if w.mode == WqMode::Dedicated || threshold == 0 || threshold > w.size {
            return Err(EINVAL);
        }
        w.threshold = threshold;
        Ok(())
    }

    /// Sets shared WQ `wq`'s `write()` retries; more than [`ENQCMDS_RETRIES_MAX`] is taken as
    /// that. As in idxd, also while the WQ is enabled: each `write()` takes the value anew.
    ///
    /// `EOPNOTSUPP` on a dedicated WQ (idxd's answer), `EINVAL` for a WQ that does not exist.
    pub(crate) fn set_enqcmds_retries(&mut self, wq: usize, retries: u32) -> Result {
        let w = self.wqs.get_mut(wq).ok_or(EINVAL)?;
        if w.mode == WqMode::Dedicated {
            return Err(EOPNOTSUPP);
        }
        w.enqcmds_retries = retries.min(ENQCMDS_RETRIES_MAX);
        Ok(())
    }

    /// Turns ATS off (`true`) or on for WQ `wq` (WQCFG.wq_ats_disable).
    ///
    /// `EOPNOTSUPP` without WQCAP.wq_ats_support, and the errors of a WQ change.
    pub(crate) fn set_ats_disable(&mut self, wq: usize, on: bool) -> Result {
        let cap = self.caps.wqcap.wq_ats_support();
        let w = self.wq_changeable(wq)?;
        if !cap {
            return Err(EOPNOTSUPP);
        }
        w.ats_disable = on;
        Ok(())
    }

    /// Sets WQ `wq`'s maximum transfer size in bytes: a power of two, at most the device's
    /// (`1 << GENCAP.max_xfer_shift`); WQCFG holds its log2.
    ///
    /// `EINVAL` otherwise (idxd rounds down instead), and the errors of a WQ change.
    pub(crate) fn set_max_transfer_size(&mut self, wq: usize, bytes: u64) -> Result {
        let max = self.caps.gencap.max_xfer_shift().get() as u32;
        let w = self.wq_changeable(wq)?;
        w.max_xfer_shift = pow2_shift(bytes, max)?;
        Ok(())
    }

    /// Sets WQ `wq`'s maximum batch size in descriptors: a power of two, at most the device's
    /// (`1 << GENCAP.max_batch_shift`); WQCFG holds its log2.
    ///
    /// `EINVAL` otherwise (idxd rounds up instead), and the errors of a WQ change.
    pub(crate) fn set_max_batch_size(&mut self, wq: usize, descs: u64) -> Result {
        let max = self.caps.gencap.max_batch_shift().get() as u32;
        let w = self.wq_changeable(wq)?;
        w.max_batch_shift = pow2_shift(descs, max)?;
        Ok(())
    }

    /// Puts engine `engine` in group `group`. `EINVAL` for an engine or group that does not
    /// exist; `EPERM` as for device changes.
    pub(crate) fn set_engine_group(&mut self, engine: usize, group: Option<usize>) -> Result {
        self.check_device_changeable()?;
        if engine >= self.engines.len() || group.is_some_and(|g| g >= self.num_groups) {
            return Err(EINVAL);
        }
        self.engines[engine] = group;
        Ok(())
    }

    /// The configuration a device that is not configurable (GENCAP.config_en 0: its
    /// configuration was programmed by someone else, firmware or a host) holds, read from its
    /// registers through `read32`/`read64` (BAR0 offsets), as idxd's
    /// `idxd_device_load_config()` does: GENCFG.rdbuf_limit, each group's WQ and engine
    /// bitmaps and flags (GRPCFG), each WQ's size, threshold, mode, priority, block on fault,
    /// ATS/PRS disable and size limits (WQCFG dwords 0-3) and, with WQCAP.op_config, its
    /// allowed operations (OPCFG, dwords 8-15). A WQ's group is the first group
    /// whose bitmap has it; WQs, engines and groups beyond the device's counts are ignored.
    ///
    /// `ENOMEM` when the tables cannot be allocated.
    pub(crate) fn load(
        caps: &Caps,
        read32: impl Fn(usize) -> u32,
        read64: impl Fn(usize) -> u64,
    ) -> Result<Self> {
        let mut c = Self::new(caps)?;
        c.rdbuf_limit = regs::GenCfg::from_raw(read32(off::GENCFG)).rdbuf_limit();
        for g in 0..caps.num_groups() {
            let base = caps.grpcfg_offset(g);
            for (i, w) in c.wqs.iter_mut().enumerate() {
                let q = read64(base + regs::grpcfg::WQS + 8 * (i / 64));
                if w.group.is_none() && q & (1 << (i % 64)) != 0 {
                    w.group = Some(g);
                }
            }
            let engines = read64(base + regs::grpcfg::ENGINES);
            for (i, e) in c.engines.iter_mut().enumerate() {
                if e.is_none() && i < 64 && engines & (1 << i) != 0 {
                    *e = Some(g);
                }
            }
            let f = regs::GroupFlags::from_raw(read64(base + regs::grpcfg::FLAGS));
            c.groups[g] = GroupConfig {
                tc_a: Some(f.tc_a()),
                tc_b: Some(f.tc_b()),
                use_rdbuf_limit: f.use_rdbuf_limit(),
                rdbufs_reserved: f.rdbufs_reserved(),
                rdbufs_allowed: f.rdbufs_allowed(),
                desc_progress_limit: f.desc_progress_limit(),
                batch_progress_limit: f.batch_progress_limit(),
            };
        }
        for (i, w) in c.wqs.iter_mut().enumerate() {
            let d = |idx| read32(caps.wqcfg_offset(i, idx));
            let mode = regs::WqCfgMode::from_raw(d(regs::wqcfg::MODE_IDX));
            let limits = regs::WqCfgLimits::from_raw(d(regs::wqcfg::LIMITS_IDX));
            w.size = d(regs::wqcfg::SIZE_IDX) & 0xffff;
            w.threshold = d(regs::wqcfg::THRESH_IDX) & 0xffff;
            w.mode = mode.mode();
            w.priority = mode.priority().get();
            w.block_on_fault = mode.bof();
            w.ats_disable = mode.wq_ats_disable();
            w.prs_disable = mode.wq_prs_disable();
            w.max_xfer_shift = limits.max_xfer_shift().get();
            w.max_batch_shift = limits.max_batch_shift().get();
            if caps.wqcap.op_config() {
                w.op_config = core::array::from_fn(|q| {
                    let lo = d(regs::wqcfg::OPCFG_IDX + 2 * q);
                    let hi = d(regs::wqcfg::OPCFG_IDX + 2 * q + 1);
                    u64::from(lo) | u64::from(hi) << 32
                });
            }
        }
        Ok(c)
    }

    /// Forgets the configuration of a disabled, configurable device, as idxd does when it
    /// disables one (`idxd_device_clear_state()`): every WQ reads as one nobody configured,
    /// every group has its default flags and no engine. The event-log size and the
    /// read-buffer limit stay. Does nothing on a device that is not configurable, is enabled,
    /// or did not stop ([`Config::stuck`]). Returns whether it forgot.
    pub(crate) fn clear_state(&mut self) -> bool {
        if !self.caps.configurable() || self.enabled || self.stuck {
            return false;
        }
        let caps = self.caps;
        for w in self.wqs.iter_mut() {
            if !w.enabled {
                *w = WqConfig::new(&caps);
            }
        }
        for e in self.engines.iter_mut() {
            *e = None;
        }
        for g in self.groups.iter_mut() {
            // `new` succeeded for these same capabilities in `Config::new`.
            if let Ok(fresh) = GroupConfig::new(&caps, self.tc_override) {
                *g = fresh;
            }
        }
        true
    }

    /// The ready-to-use configuration: one group with every engine, WQ 0 a dedicated and WQ 1
    /// a shared user WQ of 16 entries each, priority 1 (when the device has them, and for the shared one,
    /// when `shared` says shared WQs can be used), the shared one with threshold 16 (a shared
    /// WQ needs one: idxd does not enable it with 0).
    pub(crate) fn set_default(&mut self, shared: bool) -> Result {
        for e in 0..self.engines.len() {
            self.set_engine_group(e, Some(0))?;
        }
        if !self.wqs.is_empty() {
            self.set_wq_mode(0, WqMode::Dedicated)?;
            self.set_wq_priority(0, 1)?;
            self.set_wq_size(0, 16)?;
            self.set_wq_group(0, Some(0))?;
        }
        if self.wqs.len() > 1 && self.caps.wqcap.shared_mode() && shared {
            self.set_wq_mode(1, WqMode::Shared)?;
            self.set_wq_priority(1, 1)?;
            self.set_wq_size(1, 16)?;
            self.set_wq_threshold(1, 16)?;
            self.set_wq_group(1, Some(0))?;
        }
        Ok(())
    }

    /// Sets flag `flag` of group `g` to `v`.
    ///
    /// `EPERM` on a device that is not configurable or is enabled, for a traffic class
    /// (DSA 1.0/2.0), and for the read-buffer limit (the device has none); `EOPNOTSUPP` for a
    /// progress limit without GRPCAP.progress_limit; `EINVAL` for a group that does not exist
    /// or a value out of range (see the module's rules).
    pub(crate) fn set_group_flag(&mut self, g: usize, flag: GroupFlag, v: u64) -> Result {
        if !self.caps.configurable() || self.enabled {
            return Err(EPERM);
        }
        if g >= self.groups.len() {
            return Err(EINVAL);
        }
        let total = self.caps.grpcap.total_rdbufs().get();
        let reserved: u64 = self.groups.iter().map(|c| c.rdbufs_reserved.get()).sum();
        let free = total.saturating_sub(reserved);
        let engines = self.engines.iter().filter(|e| **e == Some(g)).count() as u64;
        let c = &mut self.groups[g];
        match flag {
            // DSA 1.0 and 2.0 (every version this driver knows): traffic classes stay 1
            // unless `tc_override` is set; 0..=7 [idxd `group_traffic_class_a_store`].
            GroupFlag::TrafficClassA | GroupFlag::TrafficClassB => {
                if !self.tc_override {
                    return Err(EPERM);
                }
                let tc = Some(Bounded::try_new(v).ok_or(EINVAL)?);
                if flag == GroupFlag::TrafficClassA {
                    c.tc_a = tc;
                } else {
                    c.tc_b = tc;
                }
            }
            GroupFlag::UseReadBufferLimit => {
                if self.rdbuf_limit.get() == 0 {
                    return Err(EPERM);
                }
                c.use_rdbuf_limit = v != 0;
            }
            GroupFlag::ReadBuffersReserved => {
                if v > total || v > free + c.rdbufs_reserved.get() {
                    return Err(EINVAL);
                }
                c.rdbufs_reserved = Bounded::try_new(v).ok_or(EINVAL)?;
            }
            GroupFlag::ReadBuffersAllowed => {
                if v < 4 * engines || v > c.rdbufs_reserved.get() + free {
                    return Err(EINVAL);
                }
                c.rdbufs_allowed = Bounded::try_new(v).ok_or(EINVAL)?;
            }
            GroupFlag::DescProgressLimit | GroupFlag::BatchProgressLimit => {
                if !self.caps.grpcap.progress_limit() {
                    return Err(EOPNOTSUPP);
                }
                let b = Bounded::try_new(v).ok_or(EINVAL)?;
                if flag == GroupFlag::DescProgressLimit {
                    c.desc_progress_limit = b;
                } else {
                    c.batch_progress_limit = b;
                }
            }
        }
        Ok(())
    }

    /// Sets the device's read-buffer limit.
    ///
    /// `EPERM` on a device that is not configurable, is enabled or lacks GRPCAP.rdbuf_limit;
    /// `EINVAL` above GRPCAP.total_rdbufs.
    pub(crate) fn set_rdbuf_limit(&mut self, v: u64) -> Result {
        if !self.caps.configurable() || self.enabled || !self.caps.grpcap.rdbuf_limit() {
            return Err(EPERM);
        }
        if v > self.caps.grpcap.total_rdbufs().get() {
            return Err(EINVAL);
        }
        self.rdbuf_limit = Bounded::try_new(v as u32).ok_or(EINVAL)?;
        Ok(())
    }

    /// Sets whether traffic classes may be changed (idxd's `tc_override`), on a configuration
    /// fresh from [`Config::new`]: with it, the groups' traffic classes start out not set.
    pub(crate) fn set_tc_override(&mut self, on: bool) {
        self.tc_override = on;
        if on && self.caps.configurable() {
            for g in self.groups.iter_mut() {
                g.tc_a = None;
                g.tc_b = None;
            }
        }
    }

    /// What idxd programs for a traffic class A and B not set, and then shows
    /// (`idxd_group_flags_setup()`).
    const TC_UNSET: (Bounded<u64, 3>, Bounded<u64, 3>) =
        (Bounded::<u64, 3>::new::<0>(), Bounded::<u64, 3>::new::<1>());

    /// Gives the groups' traffic classes that are not set what idxd programs for them at
    /// enable and then shows ([`Self::TC_UNSET`]).
    pub(crate) fn settle_traffic_classes(&mut self) {
        for g in self.groups.iter_mut() {
            g.tc_a.get_or_insert(Self::TC_UNSET.0);
            g.tc_b.get_or_insert(Self::TC_UNSET.1);
        }
    }

    /// GRPCFG flags of group `g` (qword 5); traffic classes not set as
    /// [`Config::settle_traffic_classes`] gives them.
    pub(crate) fn group_flags(&self, g: usize) -> u64 {
        let c = &self.groups[g];
        regs::GroupFlags::zeroed()
            .with_tc_a(c.tc_a.unwrap_or(Self::TC_UNSET.0))
            .with_tc_b(c.tc_b.unwrap_or(Self::TC_UNSET.1))
            .with_use_rdbuf_limit(c.use_rdbuf_limit)
            .with_rdbufs_reserved(c.rdbufs_reserved)
            .with_rdbufs_allowed(c.rdbufs_allowed)
            .with_desc_progress_limit(c.desc_progress_limit)
            .with_batch_progress_limit(c.batch_progress_limit)
            .into_raw()
    }

    /// GRPCFG of group `g`: the four WQ-bitmap qwords and the engine bitmap.
    pub(crate) fn grpcfg(&self, g: usize) -> ([u64; 4], u64) {
        let mut wqs = [0u64; 4];
        for (i, w) in self.wqs.iter().enumerate() {
            if w.group == Some(g) && w.size != 0 {
                wqs[i / 64] |= 1 << (i % 64);
            }
        }
        let mut engines = 0u64;
        for (i, e) in self.engines.iter().enumerate() {
            if *e == Some(g) {
                engines |= 1 << i;
            }
        }
        (wqs, engines)
    }

    /// The WQCFG dwords this driver programs for WQ `wq`: 0..4 (size, threshold, mode,
    /// limits) and, with WQCAP.op_config, 8..16 (OPCFG) [`union wqcfg`].
    ///
    /// A WQ in no group is not programmed (all zero, as after reset), whatever its size: the
    /// device refuses to enable with a sized WQ that no group serves, and idxd skips such WQs
    /// [`idxd_wq_config_write`].
    pub(crate) fn wqcfg(&self, wq: usize) -> WqCfgWords {
        let w = &self.wqs[wq];
        let opcfg = self.caps.wqcap.op_config().then(|| {
            let mut o = [0u32; 8];
            if w.group.is_some() {
                for (i, d) in o.iter_mut().enumerate() {
                    *d = (w.op_config[i / 2] >> (32 * (i % 2))) as u32;
                }
            }
            o
        });
        if w.group.is_none() {
            return WqCfgWords {
                head: [0; 4],
                opcfg,
            };
        }
        let mut mode = regs::WqCfgMode::zeroed()
            .with_mode(w.mode)
            .with_bof(w.block_on_fault)
            .with_wq_ats_disable(w.ats_disable)
            .with_wq_prs_disable(w.prs_disable);
        mode = mode.try_with_priority(w.priority).unwrap_or(mode);
        match (w.mode, w.pasid) {
            (WqMode::Dedicated, Some(p)) => {
                mode = mode.try_with_pasid(p).unwrap_or(mode).with_pasid_en(true);
            }
            // A shared WQ takes each submission's PASID; pasid_en marks it PASID-capable
            // (as the C driver programs it).
            (WqMode::Shared, _) => mode = mode.with_pasid_en(true),
            _ => {}
        }
        let limits = regs::WqCfgLimits::zeroed()
            .try_with_max_xfer_shift(w.max_xfer_shift)
            .unwrap_or(regs::WqCfgLimits::zeroed());
        let limits = limits
            .try_with_max_batch_shift(w.max_batch_shift)
            .unwrap_or(limits);
        let mut d = [0u32; 4];
        d[regs::wqcfg::SIZE_IDX] = w.size;
        d[regs::wqcfg::THRESH_IDX] = w.threshold;
        d[regs::wqcfg::MODE_IDX] = mode.into_raw();
        d[regs::wqcfg::LIMITS_IDX] = limits.into_raw();
        WqCfgWords { head: d, opcfg }
    }
}

/// The WQCFG dwords [`Config::wqcfg`] gives for one WQ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WqCfgWords {
    /// Dwords 0..4: size, threshold, mode, limits.
    pub(crate) head: [u32; 4],
    /// Dwords 8..16, OPCFG (qword `q` of the operations bitmap in dwords `8 + 2q` (low) and
    /// `9 + 2q`), on a device with WQCAP.op_config.
    pub(crate) opcfg: Option<[u32; 8]>,
}

/// Highest WQ priority (idxd's `IDXD_MAX_PRIORITY`).
pub(crate) const WQ_PRIORITY_MAX: u32 = 0xf;

/// log2 of `n`, a power of two no larger than `1 << max_shift`. `EINVAL` otherwise.
fn pow2_shift(n: u64, max_shift: u32) -> Result<u32> {
    if !n.is_power_of_two() || n.trailing_zeros() > max_shift {
        return Err(EINVAL);
    }
    Ok(n.trailing_zeros())
}
