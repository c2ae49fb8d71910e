// SPDX-License-Identifier: GPL-2.0

//! 64-byte command submission to device portals: the x86 `MOVDIR64B` and `ENQCMDS`
//! instructions (`arch/x86/include/asm/special_insns.h`).
//!
//! Devices such as Intel DSA and IAA take work descriptors as single 64-byte writes to a
//! "portal" in their MMIO space. `MOVDIR64B` writes 64 bytes as one posted, non-torn write
//! (for dedicated work queues); `ENQCMDS` makes a non-posted 64-byte write whose completion
//! says whether the device accepted it (for shared work queues; the supervisor form takes the
//! PASID and privilege from the descriptor). Neither instruction has a C function that Rust
//! could call (they are inline assembly in C), so they are here, behind checks of the CPU
//! features and of the portal's bounds and alignment.

use crate::{
    bindings,
    io::{Io, IoBackend, MmioBackend},
    prelude::*,
};

/// A 64-byte command, aligned as the instructions require of their source.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
pub struct Command(pub [u8; 64]);

/// Whether the boot CPU has feature `bit` (`X86_FEATURE_*`; `boot_cpu_has()`).
fn boot_cpu_has(bit: u32) -> bool {
    let (word, bit) = ((bit / 32) as usize, bit % 32);
    // SAFETY: `boot_cpu_data` is set up during early boot, before any module or driver runs,
    // and its capability words are only read afterwards. `x86_capability` is the union member
    // the words are written through (the other member only aligns them).
    let caps = unsafe {
        &(*core::ptr::addr_of!(bindings::boot_cpu_data))
            .__bindgen_anon_3
            .x86_capability
    };
    caps.get(word).is_some_and(|w| w & (1 << bit) != 0)
}

/// Whether the CPU implements `MOVDIR64B` (`X86_FEATURE_MOVDIR64B`).
pub fn has_movdir64b() -> bool {
    boot_cpu_has(bindings::X86_FEATURE_MOVDIR64B)
}

/// Whether the CPU implements `ENQCMD`/`ENQCMDS` (`X86_FEATURE_ENQCMD`).
pub fn has_enqcmd() -> bool {
    boot_cpu_has(bindings::X86_FEATURE_ENQCMD)
}

/// The address of the 64-byte portal at byte offset `off` of `io`.
///
/// Returns `EINVAL` if `off` is not 64-byte aligned or the 64 bytes do not fit in `io`.
fn portal_addr<'a, I: Io<'a, Backend = MmioBackend>>(io: I, off: usize) -> Result<usize> {
    if off % 64 != 0 || off.checked_add(64).is_none_or(|end| end > io.size()) {
        return Err(EINVAL);
    }
    let base = MmioBackend::as_ptr(io.as_view()).cast::<u8>() as usize;
    Ok(base + off)
}

/// Writes `cmd` to the portal at byte offset `off` of `io` with `MOVDIR64B`, after a write
/// barrier (`wmb()`) so that the device sees every earlier store of this CPU (`MOVDIR64B` is
/// weakly ordered). The write is posted: nothing says whether the device took it (a dedicated
/// work queue that is full drops it).
///
/// Returns `EOPNOTSUPP` if the CPU lacks `MOVDIR64B`, `EINVAL` for a misaligned or
/// out-of-range `off`.
pub fn movdir64b<'a, I: Io<'a, Backend = MmioBackend>>(io: I, off: usize, cmd: &Command) -> Result {
    if !has_movdir64b() {
        return Err(EOPNOTSUPP);
    }
    let dst = portal_addr(io, off)?;
    let src = core::ptr::from_ref(cmd);
    // SAFETY: `dst` is 64 bytes of mapped I/O memory inside `io` (checked above), 64-byte
    // aligned (the mapping is page aligned, `off` a multiple of 64); `src` points to 64
    // readable, 64-byte aligned bytes; the CPU implements the instruction (checked above). The
    // bytes are `movdir64b (%rdx), %rax` as in C, for assemblers without the mnemonic.
    unsafe {
        core::arch::asm!(
            "sfence",
            ".byte 0x66, 0x0f, 0x38, 0xf8, 0x02",
            in("rax") dst,
            in("rdx") src,
            options(nostack, preserves_flags),
        );
    }
    Ok(())
}

/// Submits `cmd` to the portal at byte offset `off` of `io` with `ENQCMDS`, after a write
/// barrier (`wmb()`). The device's answer is returned: `Ok(true)` when it accepted the command,
/// `Ok(false)` when it asked to retry (a shared work queue that is full or disabled).
///
/// `ENQCMDS` takes the PASID and the privilege bit from the command itself (dword 0, bytes
/// 0..4, of a DSA descriptor: PASID in bits 19:0, privilege in bit 31); the caller must have
/// set them.
///
/// Returns `EOPNOTSUPP` if the CPU lacks `ENQCMD`, `EINVAL` for a misaligned or out-of-range
/// `off`.
pub fn enqcmds<'a, I: Io<'a, Backend = MmioBackend>>(
    io: I,
    off: usize,
    cmd: &Command,
) -> Result<bool> {
    if !has_enqcmd() {
        return Err(EOPNOTSUPP);
    }
    let dst = portal_addr(io, off)?;
    let src = core::ptr::from_ref(cmd);
    let retry: u8;
    // SAFETY: As for `movdir64b` above; the bytes are `enqcmds (%rdx), %rax` as in C. ZF set
    // means the device did not accept the command.
    unsafe {
        core::arch::asm!(
            "sfence",
            ".byte 0xf3, 0x0f, 0x38, 0xf8, 0x02, 0x66, 0x90",
            "setz {retry}",
            retry = out(reg_byte) retry,
            in("rax") dst,
            in("rdx") src,
            options(nostack),
        );
    }
    Ok(retry == 0)
}
