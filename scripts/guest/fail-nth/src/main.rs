//! `fail-nth N MODULE [PARAMS]`: loads the kernel module file MODULE (`finit_module`) with the
//! N-th fault-injection point of this task failing (`/proc/thread-self/fail-nth`, see the kernel's
//! `Documentation/fault-injection/fault-injection.rst`; with failslab on, every slab allocation
//! is one), then prints one line:
//!
//! ```text
//! fail-nth N: fired=1 rc=-12
//! fail-nth N: fired=0 rc=0 left=M
//! ```
//!
//! `fired` is 1 when the N-th point was reached and failed; 0 when the load passed fewer than N
//! (then `left` = N minus how many it passed). `rc` is `finit_module`'s result: 0 or -errno.
//!
//! Why not busybox's insmod: when `finit_module` fails it tries again with `init_module`, in which
//! nothing is injected any more, so every load looks like a success; and a shell cannot read
//! `fail-nth` back from the task that loaded the module.
//!
//! It runs in the lab's busybox guest, which has no C library: a static binary (built by
//! `lab::guest_tool`), without Rust's std, which made it 1.2 MB instead of 0.7 MB.
#![no_std]
#![no_main]

use core::ffi::{c_char, c_int, c_long, CStr};

/// The line this prints, at most; the module's parameters, at most.
const LINE: usize = 128;
const PARAMS: usize = 1024;

/// A fixed buffer that formats into itself (`core::fmt::Write`), for the lines and the
/// parameters; what does not fit is an error.
struct Buf<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Buf<N> {
    const fn new() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
        }
    }
}

impl<const N: usize> core::fmt::Write for Buf<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // One byte stays free for the NUL the parameters need.
        let end = self.len + s.len();
        if end >= N {
            return Err(core::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes all of `bytes` to the file descriptor `fd`; false when it could not.
fn write_all(fd: c_int, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a live slice: write(2) reads at most its length from it.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            return false;
        }
        bytes = &bytes[n as usize..];
    }
    true
}

/// The calling thread's errno.
fn errno() -> c_int {
    // SAFETY: __errno_location returns the calling thread's errno, valid for the thread's life.
    unsafe { *libc::__errno_location() }
}

/// Prints "fail-nth: WHAT" on standard error and returns exit status 2.
fn fail(what: core::fmt::Arguments) -> c_int {
    let mut line = Buf::<LINE>::new();
    let _ = core::fmt::write(&mut line, format_args!("fail-nth: {what}\n"));
    write_all(2, &line.bytes[..line.len]);
    2
}

/// The command line's arguments: `argc` C strings at `argv`.
///
/// # Safety
///
/// `argv` holds `argc` pointers to NUL-terminated strings that live as long as the process, as
/// the C library passes them to `main`.
unsafe fn args(argc: c_int, argv: *const *const c_char) -> impl Iterator<Item = &'static CStr> {
    // SAFETY: by this function's contract each of the `argc` pointers is a live C string.
    (0..argc as usize).map(move |i| unsafe { CStr::from_ptr(*argv.add(i)) })
}

#[no_mangle]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    // SAFETY: the C library calls main with its argc and argv.
    let mut args = unsafe { args(argc, argv) }.skip(1);
    let (Some(n), Some(module)) = (args.next(), args.next()) else {
        return fail(format_args!("usage: fail-nth N MODULE [PARAM=VALUE...]"));
    };
    let Some(n) = n
        .to_str()
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .filter(|&n| n > 0)
    else {
        return fail(format_args!("N must be a positive number, not {n:?}"));
    };
    let mut params = Buf::<PARAMS>::new();
    for (i, p) in args.enumerate() {
        let sep = if i == 0 { "" } else { " " };
        let Ok(p) = p.to_str() else {
            return fail(format_args!("a parameter is not UTF-8: {p:?}"));
        };
        if core::fmt::write(&mut params, format_args!("{sep}{p}")).is_err() {
            return fail(format_args!(
                "the parameters are longer than {PARAMS} bytes"
            ));
        }
    }
    // Buf keeps a NUL after what it holds: its bytes were zeroes and never reach the last one.
    let params = params.bytes.as_ptr().cast::<c_char>();

    // Everything that allocates in the kernel happens before fail-nth is set: the module's file
    // and fail-nth itself are opened first, and reading fail-nth back allocates nothing.
    // SAFETY: `module` is a NUL-terminated string that lives until main returns.
    let file = unsafe { libc::open(module.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if file < 0 {
        return fail(format_args!("{module:?}: errno {}", errno()));
    }
    // SAFETY: a NUL-terminated literal.
    let nth = unsafe { libc::open(c"/proc/thread-self/fail-nth".as_ptr(), libc::O_RDWR) };
    if nth < 0 {
        return fail(format_args!(
            "/proc/thread-self/fail-nth: errno {} (CONFIG_FAULT_INJECTION?)",
            errno()
        ));
    }
    let mut number = Buf::<16>::new();
    let _ = core::fmt::write(&mut number, format_args!("{n}"));
    if !write_all(nth, &number.bytes[..number.len]) {
        return fail(format_args!("setting fail-nth: errno {}", errno()));
    }
    // SAFETY: finit_module reads the open file `file` and the NUL-terminated `params`, both alive
    // until it returns, and writes no memory of ours.
    let rc: c_long = unsafe { libc::syscall(libc::SYS_finit_module, file, params, 0) };
    let rc = if rc == 0 { 0 } else { -errno() };
    let mut left = [0u8; 16];
    // SAFETY: pread(2) writes at most `left.len()` bytes into `left`, which lives past the call.
    let got = unsafe { libc::pread(nth, left.as_mut_ptr().cast(), left.len(), 0) };
    if got <= 0 {
        return fail(format_args!("reading fail-nth back: errno {}", errno()));
    }
    let left = core::str::from_utf8(&left[..got as usize])
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    let Some(left) = left else {
        return fail(format_args!("fail-nth did not read back as a number"));
    };
    // What is left must not fail a later allocation of this task (its exit, say).
    if !write_all(nth, b"0") {
        return fail(format_args!("clearing fail-nth: errno {}", errno()));
    }
    let mut line = Buf::<LINE>::new();
    let _ = if left == 0 {
        core::fmt::write(&mut line, format_args!("fail-nth {n}: fired=1 rc={rc}\n"))
    } else {
        core::fmt::write(
            &mut line,
            format_args!("fail-nth {n}: fired=0 rc={rc} left={left}\n"),
        )
    };
    if write_all(1, &line.bytes[..line.len]) {
        0
    } else {
        2
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // SAFETY: abort(3) ends the process; nothing of ours needs to outlive it.
    unsafe { libc::abort() }
}

/// Rust's prebuilt `core` names an unwinding personality even when nothing unwinds (panics abort
/// here); this one is never called.
#[no_mangle]
extern "C" fn rust_eh_personality() {}
