// SPDX-License-Identifier: GPL-2.0

//! Whether a GPL-exported kernel symbol is present, as `symbol_get()` finds it
//! (`include/linux/module.h`, `kernel/module/main.c`).
//!
//! A module that must not load beside another one (say, two drivers for one bus, which only one
//! can register) can look for a symbol the other exports before it registers anything, rather
//! than find out from a failed registration, which the kernel reports with a stack dump
//! (`sysfs_warn_dup()`).

use crate::{bindings, prelude::*};

/// Whether a module that is loaded (or the kernel image) exports `name` with
/// `EXPORT_SYMBOL_GPL`.
///
/// Looks it up as `symbol_get()` does, holding a reference to its module only for the look-up,
/// so the answer may change as soon as it is given: it tells whether the symbol was there, not
/// that it stays. Symbols exported without `_GPL` are not found (`__symbol_get()` refuses them,
/// with a warning). Without `CONFIG_MODULES` nothing is looked up, and the answer is `false`.
///
/// # Examples
///
/// ```
/// use kernel::module::symbol::gpl_symbol_present;
///
/// // The kernel image exports `__symbol_get` itself, GPL-only.
/// assert!(gpl_symbol_present(c"__symbol_get") == cfg!(CONFIG_MODULES));
/// assert!(!gpl_symbol_present(c"no_such_symbol_anywhere"));
/// ```
pub fn gpl_symbol_present(name: &CStr) -> bool {
    #[cfg(CONFIG_MODULES)]
    {
        // SAFETY: `name` is a NUL-terminated string that outlives the call.
        let p = unsafe { bindings::__symbol_get(name.as_char_ptr()) };
        if p.is_null() {
            return false;
        }
        // SAFETY: `__symbol_get()` found `name` and took a reference to its owner, which this
        // gives back; the reference kept the owner, and so the symbol, from going meanwhile.
        #[cfg(CONFIG_MODULE_UNLOAD)]
        unsafe {
            bindings::__symbol_put(name.as_char_ptr())
        };
        true
    }
    #[cfg(not(CONFIG_MODULES))]
    {
        let _ = name;
        false
    }
}
