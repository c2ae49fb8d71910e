// SPDX-License-Identifier: GPL-2.0

//! A mutex that can be a `static` with no initialisation call.
//!
//! [`GlobalLock`](super::GlobalLock) needs an `unsafe` call to `init()` before its first use,
//! usually in module init. [`StaticMutex`] initialises itself on first use instead, so a
//! module can share state between code paths that have no other way to reach each other (its
//! module state and its drivers' probe callbacks, say) without `unsafe`. It is a kernel
//! `struct mutex` underneath; the first locker initialises it (once, others wait).

use super::{mutex::MutexBackend, Backend, Guard, Lock};
use crate::{
    processor::cpu_relax,
    str::{CStr, CStrExt},
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        LockClassKey,
    },
    types::Opaque,
};
use core::{cell::UnsafeCell, marker::PhantomPinned, mem::ManuallyDrop};

/// `state`: the mutex is not initialised.
const UNINIT: i32 = 0;
/// `state`: one thread is initialising the mutex.
const INITIALIZING: i32 = 1;
/// `state`: the mutex is initialised.
const READY: i32 = 2;

/// A mutex for `static`s, initialised on first use. Each one is its own lockdep class, named
/// as given to [`static_mutex!`](crate::static_mutex), which declares one: it must be a
/// `static` item, for its lock class key must be in static memory (lockdep refuses keys
/// elsewhere), which is why [`StaticMutex::new`] is `unsafe`.
///
/// # Invariants
///
/// `inner`'s kernel mutex is initialised once `state` is `READY` (and `state` never leaves
/// `READY`); only the thread that moved `state` from `UNINIT` to `INITIALIZING` initialises it.
/// `key` is never dropped.
///
/// # Examples
///
/// ```
/// kernel::static_mutex! {
///     static COUNT: u32 = (c"COUNT", 0);
/// }
///
/// *COUNT.lock() += 1;
/// *COUNT.lock() += 1;
/// assert_eq!(*COUNT.lock(), 2);
/// ```
pub struct StaticMutex<T> {
    inner: Lock<T, MutexBackend>,
    state: Atomic<i32>,
    name: &'static CStr,
    key: ManuallyDrop<LockClassKey>,
}

// SAFETY: The data is only reached through the lock, as for `Lock`, which is `Sync` for
// `T: Send`; `state` is atomic.
unsafe impl<T: Send> Sync for StaticMutex<T> {}

impl<T> StaticMutex<T> {
    /// A mutex named `name` (for lockdep) holding `data`. Use [`static_mutex!`](crate::static_mutex).
    ///
    /// # Safety
    ///
    /// The value must be the initialiser of a `static` item (never moved to the stack or the
    /// heap, e.g. through `KBox::leak`): its lock class key must stay in static memory.
    pub const unsafe fn new(name: &'static CStr, data: T) -> Self {
        // INVARIANT: `state` is `UNINIT`: nobody has initialised the mutex; `key` is in a
        // `ManuallyDrop`.
        Self {
            inner: Lock {
                state: Opaque::uninit(),
                data: UnsafeCell::new(data),
                _pin: PhantomPinned,
            },
            state: Atomic::new(UNINIT),
            name,
            // SAFETY: The mutex is a `static` (the caller's promise), so the key stays in static
            // memory; its destructor never runs (`ManuallyDrop`).
            key: ManuallyDrop::new(unsafe { LockClassKey::new_static() }),
        }
    }

    /// Locks the mutex (initialising it first if nobody has), sleeping until it is free.
    pub fn lock(&'static self) -> Guard<'static, T, MutexBackend> {
        self.init_once();
        self.inner.lock()
    }

    fn init_once(&'static self) {
        if self.state.load(Acquire) == READY {
            return;
        }
        if self.state.cmpxchg(UNINIT, INITIALIZING, Relaxed).is_ok() {
            // SAFETY: This thread is the only one to have moved `state` off `UNINIT`, so it is
            // the only one initialising the mutex, which nobody uses before `state` is `READY`.
            // The mutex is `'static` and does not move; so are its name and its key.
            unsafe {
                MutexBackend::init(
                    self.inner.state.get(),
                    self.name.as_char_ptr(),
                    self.key.as_ptr(),
                )
            };
            // INVARIANT: The mutex is initialised.
            self.state.store(READY, Release);
            return;
        }
        while self.state.load(Acquire) != READY {
            cpu_relax();
        }
    }
}

/// Declares a `static` [`StaticMutex`]: `static NAME: T = (c"lockdep name", initial value);`.
///
/// # Examples
///
/// ```
/// kernel::static_mutex! {
///     /// A counter.
///     pub(crate) static HITS: u64 = (c"HITS", 0);
/// }
///
/// *HITS.lock() += 1;
/// assert_eq!(*HITS.lock(), 1);
/// ```
#[macro_export]
macro_rules! static_mutex {
    ($(#[$meta:meta])* $vis:vis static $name:ident: $t:ty = ($cname:expr, $data:expr);) => {
        $(#[$meta])*
        $vis static $name: $crate::sync::lock::static_mutex::StaticMutex<$t> =
            // SAFETY: This is the initialiser of the `static` item `$name`.
            unsafe { $crate::sync::lock::static_mutex::StaticMutex::new($cname, $data) };
    };
}
