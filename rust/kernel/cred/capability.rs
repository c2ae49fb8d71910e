// SPDX-License-Identifier: GPL-2.0

//! Capability checks of the current task (`include/linux/capability.h`).

use crate::bindings;

/// A POSIX capability (`include/uapi/linux/capability.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capability(u32);

impl Capability {
    /// `CAP_SYS_RAWIO`: raw I/O, for instance direct submission to device portals.
    pub const SYS_RAWIO: Self = Self(bindings::CAP_SYS_RAWIO);
    /// `CAP_SYS_ADMIN`.
    pub const SYS_ADMIN: Self = Self(bindings::CAP_SYS_ADMIN);

    /// The capability's number.
    pub const fn as_raw(self) -> u32 {
        self.0
    }
}

/// Whether the current task has `cap` in its effective set, against the initial user
/// namespace (`capable()`). The check is audited (and counts as a use of the capability, for
/// instance for `PF_SUPERPRIV`), as in C.
///
/// # Examples
///
/// ```
/// use kernel::cred::capability::{capable, Capability};
/// // KUnit runs as the kernel itself, which holds every capability.
/// assert!(capable(Capability::SYS_RAWIO));
/// ```
pub fn capable(cap: Capability) -> bool {
    // SAFETY: `capable()` may be called from any task context with any capability number; the
    // numbers of `Capability` are valid ones.
    unsafe { bindings::capable(cap.0 as i32) }
}
