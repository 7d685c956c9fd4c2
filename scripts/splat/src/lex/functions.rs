//! The kernel functions later stages recognise by name: lockdep and the stack dumper, the
//! scheduler, locking primitives and wrappers (skipped by titles), the blocking primitives a
//! hung task sleeps in (and what each waits on), and the spinlock slow paths.

use super::Table;
use rustc_hash::FxHashSet as HashSet;
use std::sync::OnceLock;

/// Exact function names that are never "interesting": lockdep, stack dumping, scheduler,
/// locking primitives and entry code.
const BORING_EXACT: &[&str] = &[
    "dump_stack",
    "dump_stack_lvl",
    "__dump_stack",
    "show_stack",
    "dump_backtrace",
    "unwind_backtrace",
    "show_trace_log_lvl",
    "sched_show_task",
    "lock_acquire",
    "__lock_acquire",
    "lock_release",
    "__lock_release",
    "lock_acquired",
    "lock_contended",
    "lock_sync",
    "validate_chain",
    "check_prev_add",
    "check_prevs_add",
    "check_noncircular",
    "check_deadlock",
    "check_irq_usage",
    "check_flags",
    "check_wait_context",
    "check_usage_forwards",
    "check_usage_backwards",
    "mark_lock",
    "mark_usage",
    "mark_lock_irq",
    "mark_held_locks",
    "valid_state",
    "print_usage_bug",
    "print_circular_bug",
    "print_deadlock_bug",
    "print_bad_irq_dependency",
    "print_irq_inversion_bug",
    "print_unlock_imbalance_bug",
    "print_freed_lock_bug",
    "print_held_locks_bug",
    "print_lock_invalid_wait_context",
    "print_report",
    "lockdep_rcu_suspicious",
    "lockdep_sys_exit",
    "debug_check_no_locks_freed",
    "debug_check_no_locks_held",
    "lock_is_held_type",
    "__might_resched",
    "__might_sleep",
    "___might_sleep",
    "__might_fault",
    "might_fault",
    "__warn",
    "warn_slowpath_fmt",
    "report_bug",
    "handle_bug",
    "exc_invalid_op",
    "asm_exc_invalid_op",
    "__schedule",
    "schedule",
    "schedule_timeout",
    "schedule_preempt_disabled",
    "io_schedule",
    "io_schedule_timeout",
    "down",
    "up",
    "kasan_report",
    // lockdep's and the scheduler's own code that the tables above do not cover.
    "check_usage",
    "check_path",
    "check_prev_add_irq",
    "lookup_chain_cache_add",
    "print_shortest_lock_dependencies",
    "__switch_to",
    "__schedule_bug",
    "schedule_debug",
    "schedule_rtlock",
    "spin_dump",
    "spin_bug",
    "__switch_to_asm",
    "switch_to",
    "finish_task_switch",
    "__cond_resched",
    "_cond_resched",
    // Sanitizer and coverage instrumentation.
    "write_comp_data",
    "check_memory_region",
    "check_memory_region_inline",
    "rcu_lock_acquire",
    "rcu_lock_release",
    "ret_from_fork",
    "ret_from_fork_asm",
    // The lab module's wrapper that records the lock a thread waits on while it takes it.
    "rust_deadlock::scenario::Ctx::waits_on",
    "kfree",
    "kvfree",
    "vfree",
    "kmem_cache_free",
    "slab_free",
    "__slab_free",
    "free_large_kmalloc",
    "__kmem_cache_free",
];

/// Function-name prefixes that are never "interesting".
const BORING_PREFIXES: &[&str] = &[
    "_raw_spin_",
    "_raw_read_",
    "_raw_write_",
    "__raw_spin_",
    "__raw_read_",
    "__raw_write_",
    "do_raw_spin_",
    "do_raw_read_",
    "do_raw_write_",
    "raw_spin_",
    "spin_lock",
    "spin_unlock",
    "read_lock",
    "read_unlock",
    "write_lock",
    "write_unlock",
    "mutex_lock",
    "mutex_unlock",
    "mutex_trylock",
    "__mutex_",
    "down_",
    "__down",
    "up_",
    "__up",
    "rwsem_",
    "__rwsem_",
    "call_rwsem_",
    "percpu_down_",
    "percpu_up_",
    "percpu_rwsem_",
    "ww_mutex_",
    "__ww_mutex_",
    "rt_mutex_",
    "__rt_mutex_",
    "rt_spin_",
    "rtlock_",
    "wait_for_completion",
    "__wait_for_common",
    "wait_for_common",
    "do_wait_for_common",
    "schedule_hrtimeout",
    "preempt_schedule",
    "lockdep_",
    "__lockdep_",
    "__kasan_",
    "__msan_",
    "kmsan_",
    "__kmsan_",
    "__sanitizer_cov_",
    "__sanitizer_",
    "__tsan_",
    "__kcov_",
    "kasan_",
    "__asan_",
    "__ubsan_",
    "ubsan_",
    "kcsan_",
    "__kcsan_",
    "stack_trace_",
    "arch_stack_walk",
    "kernel::sync::",
    // The lab module's own lock implementation (its lockdep-annotated and plain semaphores),
    // and its kthread trampoline (which calls the thread function, as `kthread` does).
    "rust_deadlock::semaphore::",
    "rust_deadlock::kthread::",
    // C helpers that Rust calls for inline functions and macros (rust_helper_spin_lock).
    "rust_helper_",
    "context_switch",
    "__schedule_loop",
    "bit_wait",
    "__wait_on_bit",
    "out_of_line_wait_on_bit",
    "wait_on_bit",
    "wait_on_buffer",
    "__wait_on_buffer",
    // Page I/O: waiting for a page's writeback to end, and the page cache's helpers that
    // start and wait for it (a hung fsync is then named by the file system's fsync).
    "folio_wait_writeback",
    "wait_on_page_writeback",
    "__filemap_fdatawait_range",
    "filemap_fdatawait",
    "filemap_write_and_wait",
    "file_write_and_wait_range",
    "file_fdatawait_range",
    "synchronize_rcu",
    "synchronize_srcu",
    "__synchronize_srcu",
    "slab_free",
    "queued_",
    "native_queued_",
    "trace_hardirqs_",
    "dma_fence_wait",
    "dma_fence_default_wait",
    "reservation_object_wait",
    "dma_resv_wait",
    "kmem_cache_alloc",
    "__kmem_cache_alloc",
    "kmalloc",
    "__kmalloc",
    "kzalloc",
    "krealloc",
    "__alloc_pages",
    "alloc_pages",
    "__get_free_pages",
    "slab_alloc",
    "___slab_alloc",
    "__slab_alloc",
    "stack_depot_",
    "__stack_depot_",
    "set_track",
    "alloc_debug_processing",
    "__sb_start_write",
    "sb_start_",
    "__sb_end_write",
    "core::",
    "alloc::",
];

/// Scheduler frames, left out of hung-task summaries.
const SCHEDULER: &[&str] = &[
    "context_switch",
    "__schedule_loop",
    "__schedule",
    "schedule",
    "schedule_timeout",
    "schedule_preempt_disabled",
    "schedule_idle",
    "io_schedule",
    "io_schedule_timeout",
    "preempt_schedule",
    "preempt_schedule_common",
    "preempt_schedule_irq",
    "schedule_hrtimeout",
    "schedule_hrtimeout_range",
    "schedule_hrtimeout_range_clock",
];

/// Blocking primitives: (function-name prefix or exact name, what it waits on).
///
/// Entries ending in `*` match as prefixes.
const PRIMITIVES: &[(&str, &str)] = &[
    ("__down*", "semaphore"),
    ("down", "semaphore"),
    ("down_interruptible", "semaphore"),
    ("down_killable", "semaphore"),
    ("down_timeout", "semaphore"),
    ("rwsem_down_read*", "rw_semaphore (read)"),
    ("rwsem_down_write*", "rw_semaphore (write)"),
    ("call_rwsem_down_read*", "rw_semaphore (read)"),
    ("call_rwsem_down_write*", "rw_semaphore (write)"),
    ("down_read*", "rw_semaphore (read)"),
    ("down_write*", "rw_semaphore (write)"),
    ("__mutex_lock*", "mutex"),
    ("mutex_lock*", "mutex"),
    ("__ww_mutex_lock*", "ww_mutex"),
    ("ww_mutex_lock*", "ww_mutex"),
    ("__rt_mutex*", "rt_mutex"),
    ("rt_mutex_*", "rt_mutex"),
    ("rt_spin_lock*", "spinlock (PREEMPT_RT)"),
    ("percpu_down_write", "percpu rw_semaphore"),
    ("percpu_rwsem_wait", "percpu rw_semaphore"),
    ("__percpu_down_read", "percpu rw_semaphore"),
    ("do_wait_for_common", "completion"),
    ("__wait_for_common", "completion"),
    ("wait_for_common*", "completion"),
    ("wait_for_completion*", "completion"),
    ("__wait_rcu_gp", "RCU grace period"),
    ("dma_fence_default_wait", "dma fence"),
    ("dma_fence_wait*", "dma fence"),
    ("synchronize_rcu*", "RCU grace period"),
    ("__synchronize_srcu", "SRCU grace period"),
    ("bit_wait*", "bit wait (buffer or page I/O)"),
    ("__wait_on_bit*", "bit wait (buffer or page I/O)"),
    ("out_of_line_wait_on_bit*", "bit wait (buffer or page I/O)"),
    ("wait_on_buffer", "buffer I/O"),
    ("__wait_on_buffer", "buffer I/O"),
    ("synchronize_srcu*", "SRCU grace period"),
    ("__flush_work", "work item"),
    ("flush_work", "work item"),
    ("__flush_workqueue", "workqueue"),
    ("flush_workqueue", "workqueue"),
    ("kthread_stop*", "kthread exit"),
    ("flush_delayed_work", "work item"),
    ("cancel_work_sync", "work item"),
    ("cancel_delayed_work_sync", "work item"),
    ("__cancel_work_timer", "work item"),
    ("__cancel_work_sync", "work item"),
    ("drain_workqueue", "workqueue"),
    ("console_lock", "console lock"),
    ("rcu_barrier*", "RCU callbacks"),
    ("ldsem_down_read", "tty line discipline semaphore (read)"),
    ("ldsem_down_write", "tty line discipline semaphore (write)"),
    ("usb_start_wait_urb", "USB transfer"),
    ("usb_kill_urb", "USB transfer"),
    ("usb_kill_anchored_urbs", "USB transfer"),
    ("blk_mq_freeze_queue_wait*", "block queue freeze"),
    ("folio_lock*", "page lock / I/O"),
    ("lock_page*", "page lock / I/O"),
    ("__filemap_get_folio*", "page lock / I/O"),
    ("filemap_get_folio*", "page lock / I/O"),
    ("pagecache_get_page", "page lock / I/O"),
    ("find_lock_page", "page lock / I/O"),
    ("msleep*", "timer (sleep)"),
    ("usleep_range*", "timer (sleep)"),
    ("folio_wait_bit*", "page lock / I/O"),
    ("folio_wait_writeback*", "page writeback"),
    ("wait_on_page_writeback*", "page writeback"),
    ("__folio_lock*", "page lock / I/O"),
    ("wait_on_page_bit*", "page lock / I/O"),
    (
        "kernel::sync::condvar::CondVar::wait*",
        "condition variable",
    ),
];

/// The part of a function name before any `.cold` / `.isra.0` / `.constprop.0` suffix.
pub fn base(function: &str) -> &str {
    &function[..memchr::memchr(b'.', function.as_bytes()).unwrap_or(function.len())]
}

/// True for frames that a title or "where" should skip.
pub fn is_boring(function: &str) -> bool {
    static EXACT: OnceLock<HashSet<&'static str>> = OnceLock::new();
    static PREFIXES: Table = Table::prefixes(BORING_PREFIXES);
    let f = base(function);
    EXACT
        .get_or_init(|| BORING_EXACT.iter().copied().collect::<HashSet<_>>())
        .contains(f)
        || PREFIXES.matches(f)
}

pub fn pattern_matches(pattern: &str, f: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => f.starts_with(prefix),
        None => f == pattern,
    }
}

pub fn primitive(function: &str) -> Option<&'static str> {
    // The table's rows by their first byte (in table order), so that a name is compared with
    // the few rows that can match it.
    static BY_FIRST_BYTE: OnceLock<Vec<Vec<(&'static str, &'static str)>>> = OnceLock::new();
    let f = base(function);
    let rows = BY_FIRST_BYTE.get_or_init(|| {
        let mut by_byte = vec![Vec::new(); 256];
        for &(p, what) in PRIMITIVES {
            match p.as_bytes().first() {
                Some(&b) if b != b'*' => by_byte[usize::from(b)].push((p, what)),
                _ => by_byte.iter_mut().for_each(|rows| rows.push((p, what))),
            }
        }
        by_byte
    });
    let first = usize::from(f.as_bytes().first().copied().unwrap_or(0));
    rows[first]
        .iter()
        .find(|(p, _)| pattern_matches(p, f))
        .map(|(_, what)| *what)
}

pub fn is_scheduler(function: &str) -> bool {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| SCHEDULER.iter().copied().collect::<HashSet<_>>())
        .contains(base(function))
}

/// Spinning on a spinlock (or rwlock): the slow paths and the raw lock functions.
const SPIN_WAITS: &[&str] = &[
    "queued_spin_lock_slowpath",
    "native_queued_spin_lock_slowpath",
    "__pv_queued_spin_lock_slowpath",
    "queued_read_lock_slowpath",
    "queued_write_lock_slowpath",
    "do_raw_spin_lock",
    "do_raw_read_lock",
    "do_raw_write_lock",
    "_raw_spin_lock",
    "_raw_read_lock",
    "_raw_write_lock",
    "__raw_spin_lock",
    "arch_spin_lock",
    "rust_helper_spin_lock",
];

/// True for a function that takes a spinlock (or spins for one).
pub fn is_spin_wait(function: &str) -> bool {
    let f = base(function);
    SPIN_WAITS.iter().any(|p| f.starts_with(p))
}

/// Whether a function is where x86 enters an interrupt or exception from the code it stops
/// (`asm_sysvec_apic_timer_interrupt`, `asm_common_interrupt`, `asm_exc_page_fault`, ...).
pub fn is_interrupt_entry(function: &str) -> bool {
    let f = base(function);
    // Before 5.8: `apic_timer_interrupt`, `common_interrupt`, ... without the `asm_` prefix.
    let old = f == "apic_timer_interrupt" || f == "common_interrupt";
    old || (f.starts_with("asm_")
        && ["sysvec", "interrupt", "nmi", "exc_"]
            .iter()
            .any(|w| f.contains(w)))
}

/// Whether a function is where x86 enters an interrupt (a device's, the timer's, an IPI's, an
/// NMI) from the code it stops: an interrupt entry that is not an exception's (a page fault runs
/// in the task's own context).
pub fn is_irq_entry(function: &str) -> bool {
    let f = base(function);
    is_interrupt_entry(f) && (!f.starts_with("asm_exc_") || f.contains("nmi"))
}

/// Whether a function runs pending softirqs (on an interrupt's exit, or when bottom halves are
/// enabled again): the frames above it run in a softirq.
pub fn is_softirq_dispatch(function: &str) -> bool {
    matches!(
        base(function),
        "handle_softirqs" | "__do_softirq" | "do_softirq" | "do_softirq_own_stack"
    )
}

/// Frames a title passes over besides the boring ones: code every report of a kind goes
/// through, so that naming it would give unrelated bugs one title. The workqueue core (a work
/// item's bug is in the work function), the printk path (a printk under a lock is the caller's),
/// and the wrappers that take a lock on their caller's behalf.
const TITLE_SKIP: &[&str] = &[
    // Workqueue core.
    "process_one_work",
    "process_scheduled_works",
    "worker_thread",
    "rescuer_thread",
    "flush_workqueue",
    "__flush_workqueue",
    "flush_workqueue_prep_pwqs",
    "drain_workqueue",
    "flush_work",
    "__flush_work",
    "flush_delayed_work",
    "start_flush_work",
    "__cancel_work_timer",
    "__cancel_work_sync",
    "cancel_work_sync",
    "cancel_delayed_work_sync",
    "destroy_workqueue",
    "kthread_worker_fn",
    // The printk path.
    "printk",
    "_printk",
    "vprintk",
    "vprintk_default",
    "vprintk_emit",
    "vprintk_func",
    "vprintk_store",
    "printk_deferred",
    "_printk_deferred",
    "console_unlock",
    "console_flush_all",
    "console_emit_next_record",
    "console_lock_spinning_enable",
    "console_lock_spinning_disable_and_check",
    "console_trylock_spinning",
    "console_lock",
    "console_trylock",
    "__up_console_sem",
    "__down_trylock_console_sem",
    "wake_up_klogd",
    "dev_printk_emit",
    "dev_vprintk_emit",
    "_dev_printk",
    "__dev_printk",
    // Lock wrappers.
    "lock_sock_nested",
    "lock_sock",
    "__lock_sock",
    "lock_sock_fast",
    "release_sock",
    "__release_sock",
    "ldsem_down_read",
    "ldsem_down_write",
    "tty_ldisc_lock",
    "tty_ldisc_ref_wait",
    "device_lock",
    "__device_driver_lock",
    "device_lock_interruptible",
];

/// True for frames a title skips: boring ones ([`is_boring`]) and the shared code of
/// `TITLE_SKIP`.
pub fn is_title_skip(function: &str) -> bool {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    is_boring(function)
        || SET
            .get_or_init(|| TITLE_SKIP.iter().copied().collect::<HashSet<_>>())
            .contains(base(function))
}

/// The frames where a loop a CPU is stuck in was entered: system call entry, the workqueue, a
/// kthread, softirq and timer dispatch. A soft lockup is identified by the frame called from
/// the innermost of them (the loop's own code), not by where the CPU happened to be.
const LOOP_ENTRIES: &[&str] = &[
    "do_syscall_*",
    "x64_sys_call",
    "__x64_sys_*",
    "__ia32_sys_*",
    "__arm64_sys_*",
    "__riscv_sys_*",
    "__se_sys_*",
    "__do_sys_*",
    "do_sys_*",
    "__sys_*",
    "___sys_*",
    "ksys_*",
    "invoke_syscall",
    "el0_svc*",
    "process_one_work",
    "process_scheduled_works",
    "worker_thread",
    "kthread_worker_fn",
    "kthread",
    "smpboot_thread_fn",
    "handle_softirqs",
    "__do_softirq",
    "do_softirq",
    "run_ksoftirqd",
    "net_rx_action",
    "__napi_poll*",
    "napi_poll",
    "tasklet_action_common*",
    "tasklet_action",
    "tasklet_hi_action",
    "rcu_core",
    "rcu_do_batch",
    "call_timer_fn",
    "expire_timers",
    "__run_timers",
    "run_timer_softirq",
    "__hrtimer_run_queues",
    "__run_hrtimer",
    "hrtimer_run_softirq",
];

/// True for a frame where a loop is entered (`LOOP_ENTRIES`).
pub fn is_loop_entry(function: &str) -> bool {
    let f = base(function);
    LOOP_ENTRIES.iter().any(|p| pattern_matches(p, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boring() {
        assert!(is_boring("kernel::sync::lock::Lock::lock"));
        assert!(is_boring("_raw_spin_lock_irqsave"));
        assert!(is_boring("down"));
        assert!(is_boring("__lock_acquire.constprop.0"));
        assert!(is_boring("rust_helper_spin_lock"));
        assert!(is_boring("rust_deadlock::scenario::Ctx::waits_on"));
        assert!(is_boring(
            "rust_deadlock::semaphore::SemaphoreBackend::acquire"
        ));
        assert!(!is_boring("rust_deadlock::abba::AbBa::thread_b"));
        assert!(!is_boring("download_firmware"));
        assert!(!is_boring("kthread_worker_fn"));
    }

    #[test]
    fn interrupt_entries_are_not_exceptions() {
        assert!(is_irq_entry("asm_sysvec_irq_work"));
        assert!(is_irq_entry("asm_common_interrupt"));
        assert!(is_irq_entry("asm_exc_nmi"));
        assert!(!is_irq_entry("asm_exc_page_fault"));
        assert!(!is_irq_entry("sysvec_irq_work"));
        assert!(is_softirq_dispatch("handle_softirqs"));
        assert!(!is_softirq_dispatch("irq_work_run"));
    }
}
