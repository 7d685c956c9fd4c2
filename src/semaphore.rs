// SPDX-License-Identifier: GPL-2.0

//! A binary semaphore that lockdep can see.
//!
//! The kernel's `struct semaphore` carries no lockdep annotation: `down()` and `up()` never tell
//! the lock validator anything, so two threads that take two plain semaphores in opposite orders
//! deadlock without a single report (only the hung-task detector notices, minutes later, and it
//! cannot say why). [`Semaphore`] pairs the kernel semaphore with a `lockdep_map` and tells lockdep
//! about every acquisition *before* it may sleep in `down()`, so lockdep predicts the deadlock
//! ("possible circular locking dependency detected") before the threads block.
//!
//! It is a [`Backend`] of the kernel crate's generic [`Lock`], so [`Lock::lock`] returns an RAII
//! guard that releases the semaphore when dropped, exactly like [`kernel::sync::Mutex`].
//!
//! [`Lock::lock`]: kernel::sync::lock::Lock::lock

use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use kernel::bindings;
use kernel::ffi::c_char;
use kernel::sync::lock::{Backend, Lock};

/// Creates a [`Semaphore`] initialiser with the given name and a new lockdep class.
///
/// Each call site gets its own lock class, as with `new_mutex!`: lockdep reasons about classes,
/// not instances, so two semaphores that must be ordered need two call sites. The name is what
/// lockdep prints; without one, the file and line are used.
#[macro_export]
macro_rules! new_semaphore {
    ($inner:expr $(, $name:literal)? $(,)?) => {
        $crate::semaphore::Semaphore::new(
            $inner,
            ::kernel::optional_name!($($name)?),
            ::kernel::static_lock_class!(),
        )
    };
}

/// A binary semaphore (initial count 1) whose acquisitions lockdep tracks.
///
/// Unlike a mutex, a semaphore has no owner: any context may release it. The module relies on
/// that to break a real deadlock on unload (see [`up_sleepers`]).
pub(crate) type Semaphore<T> = Lock<T, SemaphoreBackend>;

/// The kernel objects behind a [`Semaphore`].
#[repr(C)]
pub(crate) struct SemaphoreState {
    sem: bindings::semaphore,
    /// The lock class instance lockdep tracks for this semaphore.
    #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
    dep_map: bindings::lockdep_map,
    /// The name given at initialisation (valid forever, see [`Backend::init`]).
    name: *const c_char,
}

/// A [`Backend`] for [`Lock`] made of a kernel `struct semaphore` plus a `lockdep_map`.
pub(crate) struct SemaphoreBackend;

// SAFETY: The semaphore is initialised with a count of 1, so between `down()` in `lock` and `up()`
// in `unlock` no other thread can pass `down()`: only one thread at a time owns the lock. The one
// exception, `up_sleepers`, is unsafe and its callers take over that obligation. `relock` is the
// default, which calls `lock`.
unsafe impl Backend for SemaphoreBackend {
    type State = SemaphoreState;
    type GuardState = ();

    unsafe fn init(ptr: *mut Self::State, name: *const c_char, key: *mut bindings::lock_class_key) {
        // SAFETY: The caller guarantees that `ptr` is valid for writes. All-zero is a valid bit
        // pattern for these C structs; the fields that need more are set below.
        unsafe { ptr::write_bytes(ptr, 0, 1) };
        // SAFETY: `ptr` is valid for writes (see above), so are the places derived from it.
        let sem = unsafe { &raw mut (*ptr).sem };

        // `sema_init()` is a static inline function, so it is rebuilt here: count 1, an empty
        // wait list, and the internal raw spinlock initialised with a lock class of its own.
        // SAFETY: `sem` is valid for writes (see above).
        unsafe {
            (*sem).count = 1;
            let list = &raw mut (*sem).wait_list;
            (*list).next = list;
            (*list).prev = list;
        }
        #[cfg(CONFIG_DEBUG_SPINLOCK)]
        // SAFETY: The raw spinlock is valid for writes; the name is a static C string and the key
        // a static lock class key, as lockdep requires. `LockClassKey` is `repr(transparent)` over
        // `Opaque<lock_class_key>`, itself `repr(transparent)`, so the pointer cast is valid.
        unsafe {
            let key: *const kernel::sync::LockClassKey = kernel::static_lock_class!();
            bindings::__raw_spin_lock_init(
                &raw mut (*sem).lock,
                kernel::c_str!("semaphore->lock").as_char_ptr(),
                key.cast_mut().cast(),
                bindings::lockdep_wait_type_LD_WAIT_SPIN as _,
            );
        }

        #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
        // SAFETY: `dep_map` is valid for writes, and the caller guarantees that `name` and `key`
        // stay valid for reads indefinitely, which is what lockdep needs. A semaphore may sleep,
        // so its wait type is LD_WAIT_SLEEP.
        unsafe {
            bindings::lockdep_init_map_type(
                &raw mut (*ptr).dep_map,
                name,
                key,
                0,
                bindings::lockdep_wait_type_LD_WAIT_SLEEP as _,
                bindings::lockdep_wait_type_LD_WAIT_INV as _,
                bindings::lockdep_lock_type_LD_LOCK_NORMAL as _,
            );
        }
        #[cfg(not(CONFIG_DEBUG_LOCK_ALLOC))]
        let _ = key;

        // SAFETY: `ptr` is valid for writes (see above).
        unsafe { (*ptr).name = name };
    }

    #[inline(always)]
    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // Tell lockdep first: if this acquisition closes a cycle, the report is printed now, while
        // the thread still runs; asleep in `down()`, it never could. The arguments: subclass 0,
        // not a trylock, exclusive (not a read lock), full validation (check 1), no nest lock.
        #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
        // SAFETY: The caller guarantees that `init` ran, so `dep_map` is initialised.
        unsafe {
            bindings::lock_acquire(
                &raw mut (*ptr).dep_map,
                0,
                0,
                0,
                1,
                ptr::null_mut(),
                this_ip(),
            )
        };
        let slot = Sleeper::enter(ptr);
        // SAFETY: The caller guarantees that `init` ran, so the semaphore is initialised.
        unsafe { bindings::down(&raw mut (*ptr).sem) };
        if let Some(slot) = slot {
            slot.leave();
        }
    }

    #[inline(always)]
    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
        // SAFETY: The caller owns the lock, so `init` ran and lockdep saw the acquisition.
        unsafe {
            bindings::lock_release(&raw mut (*ptr).dep_map, this_ip())
        };
        // SAFETY: The caller owns the lock, so the semaphore is initialised and held.
        unsafe { bindings::up(&raw mut (*ptr).sem) };
    }
}

/// The address of the calling code, for lockdep's "at:" lines (C's `_THIS_IP_`).
#[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
#[inline(always)]
fn this_ip() -> kernel::ffi::c_ulong {
    #[cfg(target_arch = "x86_64")]
    {
        let ip: kernel::ffi::c_ulong;
        // SAFETY: `lea` only computes an address into a register: it reads no memory, touches no
        // stack and leaves the flags alone, as the options state.
        unsafe {
            core::arch::asm!("lea {}, [rip]", out(reg) ip, options(nomem, nostack, preserves_flags))
        };
        ip
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}

/// How many threads may sleep in [`Semaphore`]s at once and still be found by [`up_sleepers`].
const SLEEPER_SLOTS: usize = 16;

/// A thread that is sleeping (or about to) in `down()` on a [`Semaphore`].
///
/// # Invariants
///
/// While `state` is not null, the thread in `task` is inside [`SemaphoreBackend::lock`] on that
/// semaphore, which therefore is alive. `name` is null or a C string valid forever. `released`
/// is false whenever `state` is null.
struct Sleeper {
    state: AtomicPtr<SemaphoreState>,
    task: AtomicPtr<bindings::task_struct>,
    name: AtomicPtr<c_char>,
    /// Whether [`up_sleepers`] already released this sleeper's semaphore.
    released: AtomicBool,
}

static SLEEPERS: [Sleeper; SLEEPER_SLOTS] = [const {
    Sleeper {
        state: AtomicPtr::new(ptr::null_mut()),
        task: AtomicPtr::new(ptr::null_mut()),
        name: AtomicPtr::new(ptr::null_mut()),
        released: AtomicBool::new(false),
    }
}; SLEEPER_SLOTS];

impl Sleeper {
    /// Records that the current thread is about to sleep on `state`; `None` when all slots are
    /// taken (the thread then sleeps unrecorded).
    fn enter(state: *mut SemaphoreState) -> Option<&'static Sleeper> {
        let slot = SLEEPERS.iter().find(|s| {
            s.state
                .compare_exchange(ptr::null_mut(), state, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        })?;
        // SAFETY: `get_current` has no preconditions; the pointer is only compared, never used.
        slot.task
            .store(unsafe { bindings::get_current() }, Ordering::Release);
        // SAFETY: The caller of `SemaphoreBackend::lock` guarantees that `init` ran.
        let name = unsafe { (*state).name };
        slot.name.store(name.cast_mut(), Ordering::Release);
        Some(slot)
    }

    /// Clears the record made by [`Sleeper::enter`].
    fn leave(&self) {
        self.name.store(ptr::null_mut(), Ordering::Release);
        self.task.store(ptr::null_mut(), Ordering::Release);
        self.released.store(false, Ordering::Release);
        self.state.store(ptr::null_mut(), Ordering::Release);
    }
}

/// The name of the [`Semaphore`] that `task` sleeps on, if any.
///
/// `task` is only compared, so it may be stale. The answer is a snapshot that may change at once.
pub(crate) fn sleeping_on(
    task: *const bindings::task_struct,
) -> Option<&'static kernel::str::CStr> {
    SLEEPERS.iter().find_map(|s| {
        if !ptr::eq(s.task.load(Ordering::Acquire), task) {
            return None;
        }
        let name = s.name.load(Ordering::Acquire);
        // SAFETY: By the type invariant, a non-null `name` is a C string valid forever.
        (!name.is_null()).then(|| unsafe { kernel::str::CStr::from_char_ptr(name) })
    })
}

/// Releases every [`Semaphore`] that a thread is sleeping on, once per sleep, and returns how many
/// it released.
///
/// This breaks a deadlock: each sleeper gets the semaphore it waits for although its holder never
/// released it. Semaphores have no owner, so the kernel allows it; lockdep is not told, so each
/// thread's own acquire/release pairs stay balanced. A semaphore may be released more often than it
/// was acquired, so its count may end above one.
///
/// # Safety
///
/// Every semaphore a thread may be sleeping on must stay alive until this returns, and after it no
/// thread may access the data behind a guard of any of them (two threads may now hold the same
/// semaphore). Meant for tearing down: stop the threads, call this, let them drop their guards.
pub(crate) unsafe fn up_sleepers() -> usize {
    let mut n = 0;
    for slot in &SLEEPERS {
        let state = slot.state.load(Ordering::Acquire);
        if !state.is_null() && !slot.released.swap(true, Ordering::AcqRel) {
            // SAFETY: By the type invariant, the semaphore was alive when the slot was read, and
            // the caller keeps it alive until this function returns.
            unsafe { bindings::up(&raw mut (*state).sem) };
            n += 1;
        }
    }
    n
}
