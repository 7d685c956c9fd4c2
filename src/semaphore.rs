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
//! Lockdep's records name the function that called [`Lock::lock`] (its `at:` lines), as C's
//! `_RET_IP_` does for the kernel's own locks. [`Semaphore::try_lock`] takes a free semaphore
//! without sleeping (`down_trylock`) and tells lockdep it was a trylock, which never waits and so
//! can close no cycle.
//!
//! [`Lock::lock`]: kernel::sync::lock::Lock::lock
//! [`Semaphore::try_lock`]: kernel::sync::lock::Lock::try_lock

use crate::compat;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::bindings;
use kernel::ffi::c_char;
use kernel::prelude::*;
use kernel::sync::lock::{Backend, Lock};
use kernel::types::Opaque;

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
    /// The task that holds the semaphore.
    holder: Holder,
}

/// The task that took a semaphore and has not released it yet, recorded by the module itself:
/// lockdep's own records of held locks go stale once lockdep has reported a problem and turned
/// itself off, and plain semaphores have no lockdep records at all. Diagnosis (`status`, and the
/// host's tools reading guest memory) asks this instead.
///
/// The task is only compared with known tasks, never dereferenced here.
#[repr(transparent)]
pub(crate) struct Holder(AtomicPtr<bindings::task_struct>);

impl Holder {
    /// No holder.
    const fn new() -> Self {
        Self(AtomicPtr::new(ptr::null_mut()))
    }

    /// Records the current task as the holder.
    fn set_current(&self) {
        // SAFETY: `get_current` has no preconditions; the pointer is only stored.
        self.0
            .store(unsafe { bindings::get_current() }, Ordering::Release);
    }

    /// Records that nobody holds the semaphore.
    fn clear(&self) {
        self.0.store(ptr::null_mut(), Ordering::Release);
    }

    /// The holding task (null: none), for comparisons only.
    pub(crate) fn get(&self) -> *const bindings::task_struct {
        self.0.load(Ordering::Acquire)
    }
}

/// A [`Backend`] for [`Lock`] made of a kernel `struct semaphore` plus a `lockdep_map`.
pub(crate) struct SemaphoreBackend;

// SAFETY: The semaphore is initialised with a count of 1, so between `down()` in `lock` and `up()`
// in `unlock` no other thread can pass `down()`: only one thread at a time owns the lock. The one
// exception, `up_sleepers`, is unsafe and its callers take over that obligation. `try_lock` only
// succeeds when `down_trylock` passed (on the series that have it). `relock` is the default,
// which calls `lock`.
unsafe impl Backend for SemaphoreBackend {
    type State = SemaphoreState;
    type GuardState = ();

    unsafe fn init(ptr: *mut Self::State, name: *const c_char, key: *mut bindings::lock_class_key) {
        // SAFETY: The caller guarantees that `ptr` is valid for writes. All-zero is a valid bit
        // pattern for these C structs; the fields that need more are set below.
        unsafe { ptr::write_bytes(ptr, 0, 1) };
        // SAFETY: `ptr` is valid for writes and all-zero (see above), so is its semaphore.
        unsafe { init_zeroed(&raw mut (*ptr).sem) };

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
                c_enum(bindings::lockdep_wait_type_LD_WAIT_SLEEP),
                c_enum(bindings::lockdep_wait_type_LD_WAIT_INV),
                c_enum(bindings::lockdep_lock_type_LD_LOCK_NORMAL),
            );
        }
        #[cfg(not(CONFIG_DEBUG_LOCK_ALLOC))]
        let _ = key;

        // SAFETY: `ptr` is valid for writes (see above).
        unsafe { (*ptr).name = name };
    }

    #[inline(always)]
    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: The caller guarantees that `init` ran.
        unsafe { Self::acquire(ptr, caller_ip()) }
    }

    #[inline(always)]
    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: The caller owns the lock, so `init` ran.
        unsafe { (*ptr).holder.clear() };
        #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
        // SAFETY: The caller owns the lock, so `init` ran and lockdep saw the acquisition.
        unsafe {
            bindings::lock_release(&raw mut (*ptr).dep_map, caller_ip())
        };
        // SAFETY: The caller owns the lock, so the semaphore is initialised and held.
        unsafe { bindings::up(&raw mut (*ptr).sem) };
    }

    // `try_lock` and `assert_is_held`, on the series whose `Backend` requires them.
    compat::semaphore_backend_items!();
}

impl SemaphoreBackend {
    /// Takes the semaphore, waiting as long as it takes, for the code at `ip`.
    ///
    /// Out of line on purpose: `lock` only finds the caller's address and calls this, so it stays
    /// small enough for the compiler to inline `Lock::lock` into its caller, which is what
    /// [`caller_ip`] relies on.
    ///
    /// # Safety
    ///
    /// `init` must have run on `ptr`.
    #[inline(never)]
    unsafe fn acquire(ptr: *mut SemaphoreState, ip: kernel::ffi::c_ulong) {
        // Tell lockdep first: if this acquisition closes a cycle, the report is printed now, while
        // the thread still runs; asleep in `down()`, it never could. The arguments: subclass 0,
        // not a trylock, exclusive (not a read lock), full validation (check 1), no nest lock.
        #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
        // SAFETY: The caller guarantees that `init` ran, so `dep_map` is initialised.
        unsafe {
            bindings::lock_acquire(&raw mut (*ptr).dep_map, 0, 0, 0, 1, ptr::null_mut(), ip)
        };
        // lock_stat counts contention and waiting time only when told, the way C's LOCK_CONTENDED
        // does it: try first; a failed try is contention, then wait; then say it was acquired.
        // SAFETY: The caller guarantees that `init` ran, so the semaphore is initialised, `name`
        // is null or a C string valid forever, and `dep_map` is initialised.
        unsafe {
            if bindings::down_trylock(&raw mut (*ptr).sem) != 0 {
                #[cfg(CONFIG_LOCK_STAT)]
                bindings::lock_contended(&raw mut (*ptr).dep_map, ip);
                down(&raw mut (*ptr).sem, (*ptr).name, &raw const (*ptr).holder);
            }
            #[cfg(CONFIG_LOCK_STAT)]
            bindings::lock_acquired(&raw mut (*ptr).dep_map, ip);
            (*ptr).holder.set_current();
        }
        #[cfg(not(CONFIG_DEBUG_LOCK_ALLOC))]
        let _ = ip;
    }

    /// Takes the semaphore if it is free (`down_trylock`), and tells lockdep about a success as a
    /// trylock (a trylock never waits, so lockdep records the lock as held but no new order).
    ///
    /// # Safety
    ///
    /// `init` must have run on `ptr`.
    #[allow(
        dead_code,
        reason = "the Backend's try_lock calls it, on the series that have one (see compat)"
    )]
    #[inline(always)]
    unsafe fn try_acquire(ptr: *mut SemaphoreState, ip: kernel::ffi::c_ulong) -> bool {
        // SAFETY: The caller guarantees that `init` ran. `down_trylock` returns 0 on success.
        if unsafe { bindings::down_trylock(&raw mut (*ptr).sem) } != 0 {
            return false;
        }
        // SAFETY: `init` ran; the semaphore is now ours.
        unsafe { (*ptr).holder.set_current() };
        #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
        // SAFETY: `init` ran, so `dep_map` is initialised. The arguments: subclass 0, a trylock,
        // exclusive, full validation, no nest lock.
        unsafe {
            bindings::lock_acquire(&raw mut (*ptr).dep_map, 0, 1, 0, 1, ptr::null_mut(), ip)
        };
        #[cfg(not(CONFIG_DEBUG_LOCK_ALLOC))]
        let _ = ip;
        true
    }

    /// Whether lockdep knows the current task to hold the semaphore; always true when lockdep is
    /// off (not built, or turned off by an earlier report) and so cannot know.
    ///
    /// # Safety
    ///
    /// `init` must have run on `ptr`.
    #[allow(
        dead_code,
        reason = "the Backend's assert_is_held calls it, on the series that have one (see compat)"
    )]
    pub(crate) unsafe fn is_held(ptr: *mut SemaphoreState) -> bool {
        #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
        // SAFETY: `init` ran, so `dep_map` is initialised; `debug_locks` is a plain int that
        // lockdep only ever clears.
        unsafe {
            let on = ptr::read_volatile(&raw const bindings::debug_locks) != 0;
            !on || bindings::lock_is_held_type(&raw const (*ptr).dep_map, -1) != 0
        }
        #[cfg(not(CONFIG_DEBUG_LOCK_ALLOC))]
        {
            let _ = ptr;
            true
        }
    }
}

/// The address of the code that takes or releases a lock, for lockdep's `at:` lines (C's lock
/// functions pass `_RET_IP_`, the return address into their caller).
///
/// Called from the always-inlined backend functions, which end up inside the function that called
/// `Lock::lock` (or dropped the guard): the kernel crate's `Lock::lock` is small, since the
/// backend's `lock` only calls [`SemaphoreBackend::acquire`], so the compiler inlines it into its
/// caller on both series (7.x also marks it `#[inline]`). Their own address (C's `_THIS_IP_`) is
/// then the caller's. The lab's VM tests check, on both kernels, that lockdep names the scenario's
/// thread functions.
#[inline(always)]
pub(crate) fn caller_ip() -> kernel::ffi::c_ulong {
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

/// C's `sema_init(sem, 1)`, a static inline function, rebuilt: a count of 1, an empty wait
/// list, and the internal raw spinlock initialised with a lock class of its own.
///
/// # Safety
///
/// `sem` must be valid for writes and all-zero.
unsafe fn init_zeroed(sem: *mut bindings::semaphore) {
    // SAFETY: The caller guarantees that `sem` is valid for writes and all-zero.
    unsafe { compat::sema_init_zeroed(sem) };
    #[cfg(CONFIG_DEBUG_SPINLOCK)]
    // SAFETY: The raw spinlock is valid for writes; the name is a static C string and the key a
    // static lock class key, as lockdep requires. `LockClassKey` is `repr(transparent)` over
    // `Opaque<lock_class_key>`, itself `repr(transparent)`, so the pointer cast is valid.
    unsafe {
        let key: *const kernel::sync::LockClassKey = &*kernel::static_lock_class!();
        bindings::__raw_spin_lock_init(
            &raw mut (*sem).lock,
            kernel::c_str!("semaphore->lock").as_char_ptr(),
            key.cast_mut().cast(),
            c_enum(bindings::lockdep_wait_type_LD_WAIT_SPIN),
        );
    }
}

/// Sleeps in `down()` on `sem`, recorded as a sleeper (see [`up_sleepers`]) under `name`, with
/// the semaphore's `holder` record.
///
/// # Safety
///
/// `sem` must be an initialised semaphore, `name` null or a C string valid forever, and `holder`
/// valid as long as the semaphore.
#[inline(always)]
unsafe fn down(sem: *mut bindings::semaphore, name: *const c_char, holder: *const Holder) {
    let slot = Sleeper::enter(sem, name, holder);
    // SAFETY: The caller guarantees that the semaphore is initialised.
    unsafe { bindings::down(sem) };
    if let Some(slot) = slot {
        slot.leave();
    }
}

/// A kernel semaphore used the way plain C code uses one: `down()` and `up()`, and nothing told
/// to lockdep. Lockdep cannot see a deadlock on these (see the `plain` scenario); only the
/// hung-task detector notices the sleepers.
///
/// # Invariants
///
/// `sem` is an initialised semaphore with an initial count of 1.
#[pin_data]
pub(crate) struct PlainSemaphore {
    #[pin]
    sem: Opaque<bindings::semaphore>,
    name: &'static CStr,
    holder: Holder,
}

// SAFETY: A kernel semaphore may be taken and released from any thread; `name` is immutable.
unsafe impl Send for PlainSemaphore {}
// SAFETY: As above: every operation on the semaphore is synchronised by the kernel.
unsafe impl Sync for PlainSemaphore {}

impl PlainSemaphore {
    /// A free semaphore; `name` is what the module's `status` shows while a thread waits on it.
    pub(crate) fn new(name: &'static CStr) -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `ffi_init` hands over memory valid for writes; it is zeroed first, as
            // `init_zeroed` requires.
            sem <- Opaque::ffi_init(|sem: *mut bindings::semaphore| unsafe {
                ptr::write_bytes(sem, 0, 1);
                init_zeroed(sem);
            }),
            name,
            holder: Holder::new(),
        })
    }

    /// `down()`: waits until the semaphore is free and takes it; the guard calls `up()`.
    #[inline(always)]
    pub(crate) fn down(&self) -> PlainGuard<'_> {
        // SAFETY: By the type invariant the semaphore is initialised; `name` is static, and
        // `holder` lives as long as the semaphore.
        unsafe { down(self.sem.get(), self.name.as_char_ptr(), &self.holder) };
        self.holder.set_current();
        PlainGuard(self)
    }
}

/// A taken [`PlainSemaphore`]: `up()` when dropped.
pub(crate) struct PlainGuard<'a>(&'a PlainSemaphore);

impl Drop for PlainGuard<'_> {
    fn drop(&mut self) {
        self.0.holder.clear();
        // SAFETY: The guard exists only after `down()` took the (initialised) semaphore.
        unsafe { bindings::up(self.0.sem.get()) };
    }
}

/// A bindgen constant of a C enum (a `u32`) as the integer type a C function takes for it.
fn c_enum<T: TryFrom<u32> + Default>(value: u32) -> T {
    value.try_into().unwrap_or_default()
}

/// How many threads may sleep in [`Semaphore`]s at once and still be found by [`up_sleepers`].
const SLEEPER_SLOTS: usize = 16;

/// A thread that is sleeping (or about to) in `down()` on a [`Semaphore`] or a
/// [`PlainSemaphore`].
///
/// # Invariants
///
/// `state` is null when the slot is free. Otherwise it is the semaphore the thread in `task` is
/// inside [`down`] on (which therefore is alive), with its lowest bit ([`RELEASED`]) set once
/// [`up_sleepers`] released that semaphore for this sleep. Only [`Sleeper::enter`] makes it
/// non-null (with the bit clear) and only [`Sleeper::leave`] makes it null again, so one word
/// says both which sleep the slot holds and whether it was released: a release can never be
/// counted for another sleep. `name` is null or a C string valid forever.
struct Sleeper {
    state: AtomicPtr<bindings::semaphore>,
    task: AtomicPtr<bindings::task_struct>,
    name: AtomicPtr<c_char>,
    /// The semaphore's holder record.
    holder: AtomicPtr<Holder>,
}

/// The bit of [`Sleeper::state`] that says [`up_sleepers`] released the sleeper. A `struct
/// semaphore` is aligned to more than one byte, so its address never has it.
const RELEASED: usize = 1;

static SLEEPERS: [Sleeper; SLEEPER_SLOTS] = [const {
    Sleeper {
        state: AtomicPtr::new(ptr::null_mut()),
        task: AtomicPtr::new(ptr::null_mut()),
        name: AtomicPtr::new(ptr::null_mut()),
        holder: AtomicPtr::new(ptr::null_mut()),
    }
}; SLEEPER_SLOTS];

impl Sleeper {
    /// Records that the current thread is about to sleep on `state`, named `name` (null or a C
    /// string valid forever) and with the holder record `holder` (valid as long as the
    /// semaphore); `None` when all slots are taken (the thread then sleeps unrecorded).
    fn enter(
        state: *mut bindings::semaphore,
        name: *const c_char,
        holder: *const Holder,
    ) -> Option<&'static Sleeper> {
        const { assert!(core::mem::align_of::<bindings::semaphore>() > RELEASED) };
        // INVARIANT: the slot was free; from now until `leave` the current thread is inside
        // `down` on `state`, which is not released yet.
        let slot = SLEEPERS.iter().find(|s| {
            s.state
                .compare_exchange(ptr::null_mut(), state, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        })?;
        // SAFETY: `get_current` has no preconditions; the pointer is only compared, never used.
        slot.task
            .store(unsafe { bindings::get_current() }, Ordering::Release);
        slot.name.store(name.cast_mut(), Ordering::Release);
        slot.holder.store(holder.cast_mut(), Ordering::Release);
        Some(slot)
    }

    /// Clears the record made by [`Sleeper::enter`], released or not.
    fn leave(&self) {
        self.name.store(ptr::null_mut(), Ordering::Release);
        self.holder.store(ptr::null_mut(), Ordering::Release);
        self.task.store(ptr::null_mut(), Ordering::Release);
        // INVARIANT: the thread is out of `down`; the slot is free again.
        self.state.store(ptr::null_mut(), Ordering::Release);
    }
}

/// The name of the semaphore that `task` sleeps on, if any, and the task that holds it (null if
/// none is recorded).
///
/// `task` is only compared, so it may be stale. The answer is a snapshot that may change at once.
/// It must be asked while the module's semaphores are alive (as they are while a `status` read
/// keeps the module from being unloaded).
pub(crate) fn sleeping_on(
    task: *const bindings::task_struct,
) -> Option<(&'static CStr, *const bindings::task_struct)> {
    SLEEPERS.iter().find_map(|s| {
        if !ptr::eq(s.task.load(Ordering::Acquire), task) {
            return None;
        }
        let name = s.name.load(Ordering::Acquire);
        let holder = s.holder.load(Ordering::Acquire);
        // SAFETY: By the type invariant, a non-null `name` is a C string valid forever; a
        // non-null `holder` belongs to a semaphore that the caller guarantees to be alive.
        (!name.is_null()).then(|| unsafe {
            let holder = if holder.is_null() {
                ptr::null()
            } else {
                (*holder).get()
            };
            (CStr::from_char_ptr(name), holder)
        })
    })
}

/// Releases every [`Semaphore`] and [`PlainSemaphore`] that a thread is sleeping on, once per
/// sleep, and returns how many it released.
///
/// This breaks a deadlock: each sleeper gets the semaphore it waits for although its holder never
/// released it. Semaphores have no owner, so the kernel allows it; lockdep is not told, so each
/// thread's own acquire/release pairs stay balanced. A sleeper that was woken by an ordinary `up()`
/// a moment before may still be released too, so a semaphore's count may end above one.
///
/// # Safety
///
/// Every semaphore a thread may be sleeping on must stay alive until this returns. Afterwards a
/// released semaphore may have two holders at once (the one that never released it, and the
/// released sleeper), and with a count above one, later takers may share it as well: the caller
/// must ensure that no two of them access the data behind the semaphore at the same time.
pub(crate) unsafe fn up_sleepers() -> usize {
    let mut n = 0;
    for slot in &SLEEPERS {
        let sem = slot.state.load(Ordering::Acquire);
        if sem.is_null() || (sem as usize) & RELEASED != 0 {
            continue;
        }
        // Marks this sleep as released. The exchange fails if the thread left meanwhile, and
        // then the slot is free or holds another sleep, to be looked at next time.
        let marked = sem.wrapping_byte_add(RELEASED);
        if slot
            .state
            .compare_exchange(sem, marked, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            // SAFETY: By the type invariant, the slot held an unreleased sleep on `sem`, so the
            // semaphore was alive then; the caller keeps it alive until this function returns.
            unsafe { bindings::up(sem) };
            n += 1;
        }
    }
    n
}
