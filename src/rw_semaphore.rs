// SPDX-License-Identifier: GPL-2.0

//! The kernel's reader-writer semaphore (`struct rw_semaphore`), which neither series' kernel
//! crate wraps.
//!
//! Many readers may hold it at once, or one writer. Unlike `struct semaphore`, the C code tells
//! lockdep about every acquisition itself (a read acquisition as a read lock), so this wrapper
//! only gives each call site of [`new_rw_semaphore!`] a lock class of its own, as `new_mutex!`
//! does, and pairs `down_read`/`up_read` and `down_write`/`up_write` through guards.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use kernel::bindings;
use kernel::prelude::*;
use kernel::types::Opaque;

/// A lockdep lock class key in static memory, for the C locks the module initialises itself
/// (the kernel crate's `LockClassKey` gives modules no pointer to its key on 6.12).
///
/// Lockdep identifies a class by its key's address, and wants that address in static memory; the
/// contents are lockdep's own. Create one with [`ClassKey::new`] in a `static`, as
/// [`new_rw_semaphore!`] does: a key elsewhere only makes lockdep warn and refuse the class.
#[repr(transparent)]
pub(crate) struct ClassKey(Opaque<bindings::lock_class_key>);

// SAFETY: Rust code never reads or writes the key: it only passes its address to lockdep, which
// serialises its own accesses (under its graph lock).
unsafe impl Sync for ClassKey {}

impl ClassKey {
    /// A key for a `static`.
    pub(crate) const fn new() -> Self {
        Self(Opaque::uninit())
    }

    /// The key's address, for lockdep.
    pub(crate) fn as_ptr(&self) -> *mut bindings::lock_class_key {
        self.0.get()
    }
}

/// Creates a [`RwSemaphore`] initialiser holding `data`, with the given name and a new lockdep
/// class (one per call site, as `new_mutex!` gives).
#[macro_export]
macro_rules! new_rw_semaphore {
    ($data:expr, $name:literal $(,)?) => {{
        static KEY: $crate::rw_semaphore::ClassKey = $crate::rw_semaphore::ClassKey::new();
        $crate::rw_semaphore::RwSemaphore::new($data, ::kernel::c_str!($name), &KEY)
    }};
}

/// A reader-writer semaphore protecting a `T`: shared access for readers ([`RwSemaphore::read`]),
/// exclusive access for one writer ([`RwSemaphore::write`]).
///
/// # Invariants
///
/// `sem` was initialised by `__init_rwsem`. `data` is only read through a [`ReadGuard`] and only
/// written through a [`WriteGuard`], which exist only while the semaphore is held for reading or
/// writing respectively.
#[pin_data]
pub(crate) struct RwSemaphore<T> {
    #[pin]
    sem: Opaque<bindings::rw_semaphore>,
    data: UnsafeCell<T>,
}

// SAFETY: The C semaphore may be taken and released by any thread; moving the wrapper to another
// thread moves the `T` with it, which `T: Send` allows.
unsafe impl<T: Send> Send for RwSemaphore<T> {}
// SAFETY: Through `&RwSemaphore` readers share `&T` across threads (`T: Sync`) and one writer at a
// time gets `&mut T` from whichever thread (`T: Send`); the semaphore keeps the two apart.
unsafe impl<T: Send + Sync> Sync for RwSemaphore<T> {}

impl<T> RwSemaphore<T> {
    /// A free semaphore holding `data`, named `name` for lockdep, of the class `key`.
    pub(crate) fn new(data: T, name: &'static CStr, key: &'static ClassKey) -> impl PinInit<Self> {
        // INVARIANT: `__init_rwsem` initialises `sem`; no guard exists yet.
        pin_init!(Self {
            // SAFETY: `ffi_init` hands over memory valid for writes, which `__init_rwsem`
            // initialises whatever it held. The name is a C string and the key a class key that
            // both live forever, as lockdep requires.
            sem <- Opaque::ffi_init(|sem: *mut bindings::rw_semaphore| unsafe {
                bindings::__init_rwsem(sem, name.as_char_ptr(), key.as_ptr());
            }),
            data: UnsafeCell::new(data),
        })
    }

    /// Takes the semaphore for reading, sleeping while a writer holds it or waits for it.
    ///
    /// Always inlined, so that lockdep's `at:` lines (the return address into the caller of
    /// `down_read`) name the function that takes the lock.
    #[inline(always)]
    pub(crate) fn read(&self) -> ReadGuard<'_, T> {
        // SAFETY: By the type invariant the semaphore is initialised; it lives as long as `self`.
        unsafe { bindings::down_read(self.sem.get()) };
        // INVARIANT: The semaphore is now held for reading, until the guard is dropped.
        ReadGuard { lock: self }
    }

    /// Takes the semaphore for writing, sleeping while anybody else holds it.
    #[inline(always)]
    pub(crate) fn write(&self) -> WriteGuard<'_, T> {
        // SAFETY: As in `read`.
        unsafe { bindings::down_write(self.sem.get()) };
        // INVARIANT: The semaphore is now held for writing, until the guard is dropped.
        WriteGuard { lock: self }
    }
}

/// The semaphore held for reading: shared access to the data; dropping it releases the
/// semaphore (`up_read`).
///
/// # Invariants
///
/// The current thread holds `lock` for reading.
pub(crate) struct ReadGuard<'a, T> {
    lock: &'a RwSemaphore<T>,
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: The semaphore is held for reading (type invariant), so no writer has the data.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> Drop for ReadGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: The semaphore is held for reading by this thread (type invariant).
        unsafe { bindings::up_read(self.lock.sem.get()) };
    }
}

/// The semaphore held for writing: exclusive access to the data; dropping it releases the
/// semaphore (`up_write`).
///
/// # Invariants
///
/// The current thread holds `lock` for writing.
pub(crate) struct WriteGuard<'a, T> {
    lock: &'a RwSemaphore<T>,
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: The semaphore is held for writing (type invariant): nobody else has the data.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: As in `deref`; `&mut self` makes this the only reference through the guard.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for WriteGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: The semaphore is held for writing by this thread (type invariant).
        unsafe { bindings::up_write(self.lock.sem.get()) };
    }
}
