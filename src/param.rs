// SPDX-License-Identifier: GPL-2.0

//! Module parameters, built by hand.
//!
//! The 6.12 `module!` macro takes no parameters, so this module builds what C's `module_param_cb()`
//! and `MODULE_PARM_DESC()` emit: a `struct kernel_param` in the `__param` section (the module
//! loader finds it there, applies `insmod` arguments, and makes a sysfs file of it) and
//! `parm=`/`parmtype=` strings in `.modinfo` for `modinfo`. Use [`module_param!`].
//!
//! Values are parsed strictly: the whole input must be valid (one trailing newline, as `echo`
//! writes, is allowed). A refused value returns `-EINVAL`, says why in the kernel log, and leaves
//! the old value in place.

use crate::compat;
use core::fmt::{self, Write};
use core::marker::PhantomData;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use kernel::bindings;
use kernel::ffi::{c_char, c_int};
use kernel::prelude::*;

/// A `struct kernel_param` that can live in a `static`.
///
/// # Invariants
///
/// `name` is a NUL-terminated string that lives forever, `mod_` is this module's `struct module`,
/// `ops` is [`Ops::<T>::OPS`](Ops) and `arg` points to a `T` that lives forever, for one
/// `T: ParamType`. Nothing in it changes after construction.
#[repr(transparent)]
pub(crate) struct KernelParam(bindings::kernel_param);

// SAFETY: By the type invariant the object is immutable, and its pointers point to data that lives
// forever and is `Sync` (a `ParamType` is `Sync`; names and ops are immutable).
unsafe impl Sync for KernelParam {}

impl KernelParam {
    /// Describes the parameter `name` (NUL-terminated) of this module, backed by `value` and
    /// handled by `T`'s callbacks, with sysfs permissions `perm`.
    ///
    /// Everything its invariant needs is checked: the callbacks are chosen from the type of
    /// `value`, the module is this one, and the name and permissions are checked (at compile time
    /// in a static initialiser): the name must end in its only NUL, and `perm` must be permission
    /// bits (at most `0o777`) that do not let everybody write, as C's `module_param` requires.
    pub(crate) const fn new<T: ParamType>(
        name: &'static str,
        value: &'static T,
        perm: u16,
    ) -> Self {
        let bytes = name.as_bytes();
        assert!(
            !bytes.is_empty() && bytes[bytes.len() - 1] == 0,
            "name: must end in NUL"
        );
        let mut i = 0;
        while i + 1 < bytes.len() {
            assert!(bytes[i] != 0, "name: may have no NUL but the last");
            i += 1;
        }
        assert!(perm <= 0o777, "perm: permission bits only");
        assert!(
            perm & 0o002 == 0,
            "perm: a parameter may not be writable by everybody"
        );
        // INVARIANT: the name is a C string that lives forever (checked above), the module is
        // this one, `ops` is `T`'s and `arg` points to a `T` that lives forever.
        Self(bindings::kernel_param {
            name: name.as_ptr().cast(),
            mod_: compat::this_module(),
            ops: Ops::<T>::OPS,
            perm,
            level: -1,
            flags: 0,
            __bindgen_anon_1: bindings::kernel_param__bindgen_ty_1 {
                arg: core::ptr::from_ref(value).cast_mut().cast(),
            },
        })
    }
}

/// A value type that can back a module parameter.
pub(crate) trait ParamType: Sized + Sync + 'static {
    /// The `parmtype=` that `modinfo` shows.
    const TYPE: &'static str;
    /// Whether `insmod module.ko NAME` without a value is allowed (it then passes `None`).
    const NOARG: bool = false;
    /// Parses and stores `input`; on error, says why, for the kernel log.
    fn set(&self, input: Option<&[u8]>) -> core::result::Result<(), Refusal>;
    /// Writes the current value, followed by a newline.
    fn get(&self, out: &mut PageWriter<'_>) -> fmt::Result;
}

/// The `kernel_param_ops` of a [`ParamType`]: its callbacks, which cast `arg` back to a `T`.
///
/// Not an item of the trait, so that no implementation can pair a type with another type's ops.
struct Ops<T>(PhantomData<T>);

impl<T: ParamType> Ops<T> {
    const OPS: &'static bindings::kernel_param_ops = &bindings::kernel_param_ops {
        flags: if T::NOARG {
            bindings::KERNEL_PARAM_OPS_FL_NOARG
        } else {
            0
        },
        set: Some(set_callback::<T>),
        get: Some(get_callback::<T>),
        free: None,
    };
}

/// Why a value was refused.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The reason, in a few words.
    Because(&'static str),
    /// The value is not one of these names.
    NotOneOf(&'static [&'static str]),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Because(why) => f.write_str(why),
            Refusal::NotOneOf(names) => {
                f.write_str("unknown name (valid: ")?;
                for (i, name) in names.iter().enumerate() {
                    write!(f, "{}{name}", if i > 0 { ", " } else { "" })?;
                }
                f.write_str(")")
            }
        }
    }
}

/// The `set` callback: parses `val` into the parameter `kp` describes.
///
/// # Safety
///
/// `kp` must be a [`KernelParam`] whose ops are `T`'s, and `val` null or a C string.
unsafe extern "C" fn set_callback<T: ParamType>(
    val: *const c_char,
    kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: The caller guarantees that `kp` is a `KernelParam` with `T`'s ops, so by its type
    // invariant `arg` points to a `T` that lives forever and `name` is a C string.
    let (param, name) = unsafe {
        (
            &*(*kp).__bindgen_anon_1.arg.cast::<T>(),
            CStr::from_char_ptr((*kp).name),
        )
    };
    // SAFETY: The caller guarantees that a non-null `val` is a C string.
    let input = (!val.is_null()).then(|| compat::cstr_bytes(unsafe { CStr::from_char_ptr(val) }));
    match param.set(input) {
        Ok(()) => 0,
        Err(why) => {
            // Formatted through `format_args!`: 7.x's `pr_*!` take the kernel's own `Display`.
            pr_err!(
                "{}\n",
                format_args!(
                    "{}: refused '{}': {}",
                    Shown(compat::cstr_bytes(name)),
                    Shown(trimmed(input.unwrap_or_default())),
                    why
                )
            );
            EINVAL.to_errno()
        }
    }
}

/// The `get` callback: prints the value of the parameter `kp` describes into `buffer`.
///
/// # Safety
///
/// `kp` must be a [`KernelParam`] whose ops are `T`'s, and `buffer` valid for
/// writes of a page, as the kernel guarantees for sysfs reads.
unsafe extern "C" fn get_callback<T: ParamType>(
    buffer: *mut c_char,
    kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: The caller guarantees that `kp` is a `KernelParam` with `T`'s ops, so by its type
    // invariant `arg` points to a `T` that lives forever.
    let param = unsafe { &*(*kp).__bindgen_anon_1.arg.cast::<T>() };
    // SAFETY: The caller guarantees that `buffer` is valid for writes of a page.
    let page = unsafe { core::slice::from_raw_parts_mut(buffer.cast::<u8>(), PAGE_BYTES) };
    let mut out = PageWriter { buf: page, len: 0 };
    // A value too long for the page is cut short rather than refused.
    let _ = param.get(&mut out);
    out.len as c_int
}

/// The size of the buffer sysfs hands to a `get` callback.
const PAGE_BYTES: usize = kernel::page::PAGE_SIZE;

/// Formats into a page-sized buffer, dropping what does not fit.
pub(crate) struct PageWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Write for PageWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        if n < s.len() {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

/// Shows untrusted input in a log line: printable ASCII as is, the rest escaped, at most 32 bytes.
struct Shown<'a>(&'a [u8]);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 32;
        for &b in self.0.iter().take(MAX) {
            if b.is_ascii_graphic() || b == b' ' {
                f.write_char(b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        if self.0.len() > MAX {
            write!(f, "... ({} bytes)", self.0.len())?;
        }
        Ok(())
    }
}

/// Strips the one trailing newline that `echo` adds.
fn trimmed(input: &[u8]) -> &[u8] {
    input.strip_suffix(b"\n").unwrap_or(input)
}

/// A boolean parameter: `1`/`0`, `y`/`n`, `yes`/`no`, `true`/`false`, `on`/`off` (any case).
/// Reads back as `Y` or `N`, like the kernel's own `bool` parameters.
pub(crate) struct BoolParam {
    value: AtomicBool,
    on_change: fn(bool),
}

impl BoolParam {
    /// A boolean parameter with initial value `value`; `on_change` runs after every accepted set.
    pub(crate) const fn new(value: bool, on_change: fn(bool)) -> Self {
        Self {
            value: AtomicBool::new(value),
            on_change,
        }
    }

    /// The current value.
    pub(crate) fn get(&self) -> bool {
        self.value.load(Ordering::Relaxed)
    }
}

/// Parses a boolean the strict way: the whole (trimmed) input must be one of the known words.
pub(crate) fn parse_bool(input: &[u8]) -> Option<bool> {
    const TRUE: [&[u8]; 5] = [b"1", b"y", b"yes", b"true", b"on"];
    const FALSE: [&[u8]; 5] = [b"0", b"n", b"no", b"false", b"off"];
    let input = trimmed(input);
    let is = |words: &[&[u8]]| words.iter().any(|w| w.eq_ignore_ascii_case(input));
    if is(&TRUE) {
        Some(true)
    } else if is(&FALSE) {
        Some(false)
    } else {
        None
    }
}

impl ParamType for BoolParam {
    const TYPE: &'static str = "bool";
    const NOARG: bool = true;

    fn set(&self, input: Option<&[u8]>) -> core::result::Result<(), Refusal> {
        // A bare `insmod module.ko NAME` means true, as for the kernel's own bool parameters.
        let value = match input {
            None => true,
            Some(input) => parse_bool(input).ok_or(Refusal::Because(
                "not a boolean (use 1/0, y/n, yes/no, true/false, on/off)",
            ))?,
        };
        self.value.store(value, Ordering::Relaxed);
        (self.on_change)(value);
        Ok(())
    }

    fn get(&self, out: &mut PageWriter<'_>) -> fmt::Result {
        out.write_str(if self.get() { "Y\n" } else { "N\n" })
    }
}

/// An unsigned decimal parameter limited to `min..=max`.
pub(crate) struct UintParam {
    value: AtomicU32,
    min: u32,
    max: u32,
}

impl UintParam {
    /// A parameter with initial value `value` that accepts `min..=max`.
    pub(crate) const fn new(value: u32, min: u32, max: u32) -> Self {
        Self {
            value: AtomicU32::new(value),
            min,
            max,
        }
    }

    /// The current value.
    pub(crate) fn get(&self) -> u32 {
        self.value.load(Ordering::Relaxed)
    }
}

/// Parses a plain decimal number: digits only, no sign, no overflow.
pub(crate) fn parse_u32(input: &[u8]) -> Option<u32> {
    let input = trimmed(input);
    if input.is_empty() {
        return None;
    }
    input.iter().try_fold(0u32, |n, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

impl ParamType for UintParam {
    const TYPE: &'static str = "uint";

    fn set(&self, input: Option<&[u8]>) -> core::result::Result<(), Refusal> {
        let value = input
            .and_then(parse_u32)
            .ok_or(Refusal::Because("not an unsigned decimal number"))?;
        if value < self.min || value > self.max {
            return Err(Refusal::Because("out of range"));
        }
        self.value.store(value, Ordering::Relaxed);
        Ok(())
    }

    fn get(&self, out: &mut PageWriter<'_>) -> fmt::Result {
        writeln!(out, "{}", self.get())
    }
}

/// A parameter whose value is one of a fixed list of names (`parmtype` `charp`, as C's string
/// parameters). Reads back as the name.
pub(crate) struct ChoiceParam {
    names: &'static [&'static str],
    chosen: AtomicUsize,
}

impl ChoiceParam {
    /// A parameter that accepts one of `names`, initially `names[0]`.
    pub(crate) const fn new(names: &'static [&'static str]) -> Self {
        assert!(!names.is_empty());
        Self {
            names,
            chosen: AtomicUsize::new(0),
        }
    }

    /// The index of the chosen name in the list given to [`ChoiceParam::new`].
    pub(crate) fn get(&self) -> usize {
        self.chosen.load(Ordering::Relaxed)
    }

    /// The chosen name.
    pub(crate) fn name(&self) -> &'static str {
        self.names[self.get()]
    }
}

impl ParamType for ChoiceParam {
    const TYPE: &'static str = "charp";

    fn set(&self, input: Option<&[u8]>) -> core::result::Result<(), Refusal> {
        let input = trimmed(input.unwrap_or_default());
        let index = self
            .names
            .iter()
            .position(|name| name.as_bytes() == input)
            .ok_or(Refusal::NotOneOf(self.names))?;
        self.chosen.store(index, Ordering::Relaxed);
        Ok(())
    }

    fn get(&self, out: &mut PageWriter<'_>) -> fmt::Result {
        writeln!(out, "{}", self.name())
    }
}

/// A read-only parameter whose value is produced by a function at every read.
pub(crate) struct ShowParam {
    show: fn(&mut PageWriter<'_>) -> fmt::Result,
}

impl ShowParam {
    /// A parameter that reads as what `show` writes.
    pub(crate) const fn new(show: fn(&mut PageWriter<'_>) -> fmt::Result) -> Self {
        Self { show }
    }
}

impl ParamType for ShowParam {
    const TYPE: &'static str = "charp";

    fn set(&self, _input: Option<&[u8]>) -> core::result::Result<(), Refusal> {
        // sysfs refuses writes to a 0444 file by itself; this is for `insmod module.ko NAME=...`.
        Err(Refusal::Because("read-only"))
    }

    fn get(&self, out: &mut PageWriter<'_>) -> fmt::Result {
        (self.show)(out)
    }
}

/// The total length of `parts`, for sizing a `.modinfo` static.
pub(crate) const fn concat_len(parts: &[&str]) -> usize {
    let mut len = 0;
    let mut i = 0;
    while i < parts.len() {
        len += parts[i].len();
        i += 1;
    }
    len
}

/// `parts` joined into a byte array of their exact total length, for `.modinfo` statics.
pub(crate) const fn concat<const N: usize>(parts: &[&str]) -> [u8; N] {
    let mut out = [0u8; N];
    let (mut at, mut i) = (0, 0);
    while i < parts.len() {
        let bytes = parts[i].as_bytes();
        let mut j = 0;
        while j < bytes.len() {
            out[at] = bytes[j];
            at += 1;
            j += 1;
        }
        i += 1;
    }
    out
}

/// Declares a module parameter backed by a static value of a [`ParamType`].
///
/// `module_param!(BUGGY: BoolParam, "buggy", 0o644, "description")` registers the static `BUGGY`
/// as the parameter `buggy`, with sysfs permissions 0644 and the description `modinfo` shows.
/// The type must be the static's own: the callbacks come from it, and [`KernelParam::new`] takes
/// the static as a `&'static BoolParam`, so another type does not compile (`mismatched types`).
#[macro_export]
macro_rules! module_param {
    ($value:ident : $ty:ty, $name:literal, $perm:expr, $desc:literal) => {
        const _: () = {
            use $crate::param::{concat, concat_len, KernelParam, ParamType};
            #[link_section = "__param"]
            #[used(compiler)]
            static PARAM: KernelParam =
                KernelParam::new::<$ty>(::core::concat!($name, "\0"), &$value, $perm);
            const PARM: &[&str] = &["parm=", $name, ":", $desc, "\0"];
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARM_INFO: [u8; concat_len(PARM)] = concat(PARM);
            const TYPE: &[&str] = &["parmtype=", $name, ":", <$ty as ParamType>::TYPE, "\0"];
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static TYPE_INFO: [u8; concat_len(TYPE)] = concat(TYPE);
        };
    };
}

/// A value that is only touched with this module's parameter lock held (`kernel_param_lock`,
/// which the kernel holds around every parameter callback): how a parameter callback reaches what
/// the module's init made, while its exit may take it away.
///
/// # Invariants
///
/// The value is only accessed with this module's parameter lock held.
pub(crate) struct ParamLocked<T>(core::cell::UnsafeCell<T>);

// SAFETY: By the type invariant, every access holds the parameter lock, so no two overlap; the
// value may be put in by one thread and used or dropped by another, hence `T: Send`.
unsafe impl<T: Send> Sync for ParamLocked<T> {}

impl<T> ParamLocked<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(core::cell::UnsafeCell::new(value))
    }

    /// Puts `value` in and returns the old value, taking the parameter lock here: never call it
    /// from a parameter callback (the lock is a mutex, not recursive). The old value is dropped by
    /// the caller, after the lock is released.
    pub(crate) fn replace(&self, value: T) -> T {
        // SAFETY: The module's `struct module` lives as long as its code runs; the lock is a
        // mutex, and the module's code runs in process context here (init and exit).
        unsafe { bindings::kernel_param_lock(compat::this_module()) };
        // SAFETY: The parameter lock is held (taken above), so this is the only access.
        let old = core::mem::replace(unsafe { &mut *self.0.get() }, value);
        // SAFETY: Taken above.
        unsafe { bindings::kernel_param_unlock(compat::this_module()) };
        old
    }

    /// The value, read from a parameter callback.
    ///
    /// # Safety
    ///
    /// The caller runs inside one of this module's parameter callbacks (the kernel holds the
    /// parameter lock around them) and drops the reference before the callback returns.
    pub(crate) unsafe fn in_callback(&self) -> &T {
        // SAFETY: The caller holds the parameter lock, so no `replace` runs meanwhile.
        unsafe { &*self.0.get() }
    }
}
