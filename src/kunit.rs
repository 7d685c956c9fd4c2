// SPDX-License-Identifier: GPL-2.0

//! The module's in-kernel unit tests: a KUnit suite, `rust_deadlock`, that the kernel runs each
//! time the module is loaded into a kernel built with `CONFIG_KUNIT` (the lab's is). Its results
//! go to the kernel log in KTAP form, where the lab's VM test reads them.
//!
//! It tests the two things the module builds by hand on top of the kernel: the [`Semaphore`]
//! backend (lock, unlock, try_lock on a free and a held semaphore, and what lockdep believes is
//! held) and the strict parsers of the module parameters (every spelling of `buggy` and `hold_ms`
//! that is accepted, and every one that is refused).
//!
//! `#[kunit_tests]` is the kernel crate's since 6.15, so 6.12 builds no suite (the lab reports
//! the suite as skipped there).
//!
//! [`Semaphore`]: crate::semaphore::Semaphore

#[kernel::macros::kunit_tests(rust_deadlock)]
mod tests {
    use crate::new_semaphore;
    use crate::param::{parse_bool, parse_u32, ParamType, UintParam};
    use kernel::bindings;
    use kernel::prelude::*;

    /// Whether lockdep lists a lock named `name` among the current task's held locks.
    fn lockdep_holds(name: &CStr) -> bool {
        // SAFETY: A task may read its own lockdep records: only it changes them. Each record's
        // `instance` is a live lock map (lockdep drops the record before the lock goes away),
        // whose `name` is a static C string or null.
        unsafe {
            let me = bindings::get_current();
            let depth = usize::try_from((*me).lockdep_depth).unwrap_or(0);
            let held_locks = &(*me).held_locks;
            held_locks[..depth.min(held_locks.len())]
                .iter()
                .any(|held| {
                    let map = held.instance;
                    !map.is_null()
                        && !(*map).name.is_null()
                        && CStr::from_char_ptr((*map).name) == name
                })
        }
    }

    /// Whether lockdep still checks (a report turns it off; then it knows nothing).
    fn lockdep_on() -> bool {
        // SAFETY: `debug_locks` is a plain int that lockdep only ever clears.
        unsafe { core::ptr::read_volatile(&raw const bindings::debug_locks) != 0 }
    }

    #[test]
    fn lock_then_unlock() -> Result {
        let sem = KBox::pin_init(new_semaphore!(0u32, "kunit_sem"), GFP_KERNEL)?;
        {
            let mut guard = sem.lock();
            *guard += 1;
            assert!(!lockdep_on() || lockdep_holds(c"kunit_sem"));
        }
        assert!(!lockdep_holds(c"kunit_sem"));
        // Released: it can be taken again at once.
        assert_eq!(*sem.lock(), 1);
        Ok(())
    }

    #[test]
    fn try_lock_takes_a_free_semaphore() -> Result {
        let sem = KBox::pin_init(new_semaphore!((), "kunit_try_free"), GFP_KERNEL)?;
        let guard = sem.try_lock();
        assert!(guard.is_some());
        assert!(!lockdep_on() || lockdep_holds(c"kunit_try_free"));
        drop(guard);
        assert!(!lockdep_holds(c"kunit_try_free"));
        assert!(sem.try_lock().is_some());
        Ok(())
    }

    #[test]
    fn try_lock_refuses_a_held_semaphore() -> Result {
        let sem = KBox::pin_init(new_semaphore!((), "kunit_try_held"), GFP_KERNEL)?;
        let held = sem.lock();
        // A semaphore has no owner: even its holder's attempt fails, without sleeping.
        assert!(sem.try_lock().is_none());
        assert!(!lockdep_on() || lockdep_holds(c"kunit_try_held"));
        drop(held);
        assert!(sem.try_lock().is_some());
        Ok(())
    }

    #[test]
    fn buggy_accepts_every_boolean_spelling() {
        for yes in [
            "1", "y", "Y", "yes", "YES", "true", "True", "on", "ON", "1\n", "y\n",
        ] {
            assert_eq!(parse_bool(yes.as_bytes()), Some(true));
        }
        for no in [
            "0", "n", "N", "no", "No", "false", "FALSE", "off", "Off", "0\n", "n\n",
        ] {
            assert_eq!(parse_bool(no.as_bytes()), Some(false));
        }
    }

    #[test]
    fn buggy_refuses_everything_else() {
        let refused = [
            "", "\n", "2", "-1", "yess", "banana", "yellow", " 1", "1 ", "1\n\n", "o", "tru",
            "0x1", "y\0", "\n1",
        ];
        for bad in refused {
            assert_eq!(parse_bool(bad.as_bytes()), None);
        }
    }

    #[test]
    fn hold_ms_accepts_decimal_numbers_in_range() {
        assert_eq!(parse_u32(b"0"), Some(0));
        assert_eq!(parse_u32(b"150\n"), Some(150));
        assert_eq!(parse_u32(b"007"), Some(7));
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        let p = UintParam::new(100, 0, 10_000);
        for (input, value) in [("0", 0), ("10000", 10_000), ("250\n", 250)] {
            assert!(p.set(Some(input.as_bytes())).is_ok());
            assert_eq!(p.get(), value);
        }
    }

    #[test]
    fn hold_ms_refuses_everything_else() {
        for bad in [
            "",
            "\n",
            "-5",
            "+5",
            "abc",
            "1.5",
            "0x10",
            "1e3",
            " 5",
            "5 ",
            "4294967296",
        ] {
            assert_eq!(parse_u32(bad.as_bytes()), None);
        }
        let p = UintParam::new(100, 0, 10_000);
        for bad in ["10001", "99999999999", "-1", ""] {
            assert!(p.set(Some(bad.as_bytes())).is_err());
        }
        assert!(p.set(None).is_err());
        // Refusals leave the value alone.
        assert_eq!(p.get(), 100);
    }
}
