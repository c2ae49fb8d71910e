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

/// Whether the kernel may use `MOVDIR64B`: `cpu_feature_enabled(X86_FEATURE_MOVDIR64B)`, so a
/// feature the kernel was built without or cleared at boot counts as absent.
pub fn has_movdir64b() -> bool {
    // SAFETY: The helper only reads the CPU feature state set up at boot.
    unsafe { bindings::cpu_feature_enabled_movdir64b() }
}

/// Whether the kernel may use `ENQCMD`/`ENQCMDS`: `cpu_feature_enabled(X86_FEATURE_ENQCMD)`
/// (Linux clears it, for one, when the CPU lacks XSAVES, which the PASID MSR's context
/// switching needs).
pub fn has_enqcmd() -> bool {
    // SAFETY: The helper only reads the CPU feature state set up at boot.
    unsafe { bindings::cpu_feature_enabled_enqcmd() }
}

/// The address of the 64-byte portal at byte offset `off` of `io`.
///
/// Returns `EINVAL` if the portal's address is not 64-byte aligned (the instructions require
/// it of their destination; a mapping that is not, or an `off` that is not a multiple of 64,
/// gives one) or the 64 bytes do not fit in `io`.
fn portal_addr<'a, I: Io<'a, Backend = MmioBackend>>(io: I, off: usize) -> Result<usize> {
    if off.checked_add(64).is_none_or(|end| end > io.size()) {
        return Err(EINVAL);
    }
    let base = MmioBackend::as_ptr(io.as_view()).cast::<u8>() as usize;
    let addr = base.checked_add(off).ok_or(EINVAL)?;
    if addr % 64 != 0 {
        return Err(EINVAL);
    }
    Ok(addr)
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
    // The bytes below are `movdir64b (%rdx), %rax` as in C, for assemblers without the mnemonic.
    // SAFETY: `dst` is 64 bytes of mapped I/O memory inside `io`, 64-byte aligned (checked by
    // `portal_addr`); `src` points to 64 readable, 64-byte aligned bytes; the CPU implements
    // the instruction (checked above).
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
