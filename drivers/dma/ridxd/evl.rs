// SPDX-License-Identifier: GPL-2.0

//! The event log (DSA 2.0): a ring in DMA memory that the device writes and the driver drains.
//!
//! Facts (`registers.h`): EVLCFG (0xe0) holds the ring's page-aligned base address (63:12)
//! and its size in entries (64..65535); EVLSTATUS (0xf0) holds head (15:0, written by
//! software), tail (47:32, written by the device) and int_pending (62), which is cleared by
//! writing 1 to bit 30 of the upper dword; GENCFG.evl_en and GENCTRL.evl_int_en are set before
//! Enable Device; new entries raise INTCAUSE.EVL (0x20) on the misc vector. An entry is
//! `32 << GENCAP.evl_support` bytes: a 32-byte header, then the completion record.
//!
//! Pitfalls the C driver had to fix, designed out here: the head is read from EVLSTATUS every
//! time (no shadow copy); the ring is torn down by its owner outside any spinlock, whatever
//! GENCFG reads after a reset; the lock that serialises draining is a sleeping lock.

use crate::{
    hw::{status, DsaEvlEntry},
    hwif::{DeviceIo, DmaBuf},
    regs::{self, off},
};
use kernel::{num::Bounded, page::PAGE_SIZE, prelude::*, transmute::FromBytes};

/// The driver's event-log ring.
pub(crate) struct EvlRing {
    buf: KBox<dyn DmaBuf>,
    size: u32,
    entry_size: usize,
    /// EVLCFG.base_addr: the bus address's page number.
    base_addr: Bounded<u64, 52>,
    /// EVLCFG.size.
    size_field: Bounded<u64, 16>,
}

impl EvlRing {
    /// Wraps `buf` as a ring of `size` entries of `entry_size` bytes.
    ///
    /// Returns `EINVAL` when the buffer is too small or not page aligned, `size` does not fit
    /// EVLCFG.size (16 bits), or entries are smaller than [`DsaEvlEntry::SIZE`].
    pub(crate) fn new(buf: KBox<dyn DmaBuf>, size: u32, entry_size: usize) -> Result<Self> {
        if entry_size < DsaEvlEntry::SIZE || buf.len() < size as usize * entry_size {
            return Err(EINVAL);
        }
        let bus = buf.bus_addr();
        if bus % PAGE_SIZE as u64 != 0 {
            return Err(EINVAL);
        }
        let base_addr = Bounded::try_new(bus >> regs::EvlCfgLo::BASE_ADDR_SHIFT).ok_or(EINVAL)?;
        let size_field = Bounded::try_new(u64::from(size)).ok_or(EINVAL)?;
        Ok(Self {
            buf,
            size,
            entry_size,
            base_addr,
            size_field,
        })
    }

    /// Size in entries.
    pub(crate) fn size(&self) -> u32 {
        self.size
    }

    /// The ring's bus address.
    #[cfg(all(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST, CONFIG_INTEL_IDXD_RUST_SIM))]
    pub(crate) fn bus_addr(&self) -> u64 {
        self.buf.bus_addr()
    }

    /// EVLCFG (low, high qword) for this ring: its base address and size, no PASID, not
    /// privileged.
    pub(crate) fn evlcfg(&self) -> (regs::EvlCfgLo, regs::EvlCfgHi) {
        let lo = regs::EvlCfgLo::zeroed().with_base_addr(self.base_addr);
        let hi = regs::EvlCfgHi::zeroed().with_size(self.size_field);
        (lo, hi)
    }

    /// Entry `index` (its DSA header and completion record).
    pub(crate) fn entry(&self, index: u32) -> Result<DsaEvlEntry> {
        let mut raw = [0u8; DsaEvlEntry::SIZE];
        self.buf.read(index as usize * self.entry_size, &mut raw)?;
        DsaEvlEntry::from_bytes_copy(&raw).ok_or(EINVAL)
    }
}

/// What an entry is about, by its error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EvlKind {
    /// A completion record the device could not write (`CRA_XLAT`).
    CrFault,
    /// A batch descriptor's completion record, reported after its sub-descriptors'
    /// (`BATCH_EVL_ERR`).
    BatchCr,
    /// A drain descriptor's completion record, after earlier CR faults (`DRAIN_EVL`).
    DrainCr,
    /// Any other error: reported, nothing to fix.
    Other,
}

impl EvlKind {
    /// The kind of `e`, by its error code without the write-fault bit (idxd's
    /// `DSA_COMP_STATUS()`).
    pub(crate) fn of(e: &DsaEvlEntry) -> Self {
        match e.header.info.error() & status::MASK {
            status::CRA_XLAT => Self::CrFault,
            status::BATCH_EVL_ERR => Self::BatchCr,
            status::DRAIN_EVL => Self::DrainCr,
            _ => Self::Other,
        }
    }
}

/// What a drain's consumer did with an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Take {
    /// Taken: the entry's slot may be given back to the device.
    Taken,
    /// Not taken now (no room): the drain stops at it and waits.
    Full,
}

/// Drains the log: clears int_pending, then hands every entry from head to tail (both read
/// from EVLSTATUS now) to `take` in order, and writes the new head. Entries the device adds
/// while this runs raise a new interrupt, since int_pending was cleared first.
///
/// When `take` answers [`Take::Full`], the head is written up to (not including) that entry,
/// so the device may use the slots already drained, and `wait` is called; then the same entry
/// is offered again. When `wait` returns `false`, the drain stops there, leaving the entry and
/// those after it in the ring.
///
/// Returns the number of entries taken.
pub(crate) fn drain(
    io: &(impl DeviceIo + ?Sized),
    ring: &EvlRing,
    mut take: impl FnMut(u32, &DsaEvlEntry) -> Take,
    mut wait: impl FnMut() -> bool,
) -> u32 {
    io.write32(regs::EVLSTATUS_HI, regs::EVLSTATUS_INT_PENDING_HI);
    let st = regs::EvlStatus::from_raw(io.read64(off::EVLSTATUS));
    let mut head = st.head().get() as u32;
    let tail = st.tail().get() as u32;
    if head >= ring.size() || tail >= ring.size() {
        // Not a state the device can be in with this ring; leave it for a reset.
        return 0;
    }
    let mut n = 0;
    let mut written = head;
    'ring: while head != tail {
        if let Ok(e) = ring.entry(head) {
            while take(head, &e) == Take::Full {
                if written != head {
                    io.write32(off::EVLSTATUS, head);
                    written = head;
                }
                if !wait() {
                    break 'ring;
                }
            }
        }
        head = (head + 1) % ring.size();
        n += 1;
    }
    if written != head {
        io.write32(off::EVLSTATUS, head);
    }
    n
}
