//! The kernel functions later stages recognise by name: lockdep and the stack dumper, the
//! scheduler, locking primitives and wrappers (skipped by titles), the blocking primitives a
//! hung task sleeps in (and what each waits on), and the spinlock slow paths.

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
    "wait_for_completion",
    "__wait_for_common",
    "wait_for_common",
    "do_wait_for_common",
    "schedule_hrtimeout",
    "preempt_schedule",
    "lockdep_",
    "__lockdep_",
    "__kasan_",
    "kasan_",
    "__asan_",
    "__ubsan_",
    "ubsan_",
    "kcsan_",
    "__kcsan_",
    "stack_trace_",
    "arch_stack_walk",
    "kernel::sync::",
    // The lab module's own lock implementation (its lockdep-annotated and plain semaphores).
    "rust_deadlock::semaphore::",
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
    ("msleep*", "timer (sleep)"),
    ("usleep_range*", "timer (sleep)"),
    ("folio_wait_bit*", "page lock / I/O"),
    ("__folio_lock*", "page lock / I/O"),
    ("wait_on_page_bit*", "page lock / I/O"),
    (
        "kernel::sync::condvar::CondVar::wait*",
        "condition variable",
    ),
];

/// The part of a function name before any `.cold` / `.isra.0` / `.constprop.0` suffix.
pub fn base(function: &str) -> &str {
    function.split('.').next().unwrap_or(function)
}

/// True for frames that a title or "where" should skip.
pub fn is_boring(function: &str) -> bool {
    let f = base(function);
    BORING_EXACT.contains(&f) || BORING_PREFIXES.iter().any(|p| f.starts_with(p))
}

pub fn pattern_matches(pattern: &str, f: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => f.starts_with(prefix),
        None => f == pattern,
    }
}

pub fn primitive(function: &str) -> Option<&'static str> {
    let f = base(function);
    PRIMITIVES
        .iter()
        .find(|(p, _)| pattern_matches(p, f))
        .map(|(_, what)| *what)
}

pub fn is_scheduler(function: &str) -> bool {
    SCHEDULER.contains(&base(function))
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
    f.starts_with("asm_")
        && ["sysvec", "interrupt", "nmi", "exc_"]
            .iter()
            .any(|w| f.contains(w))
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
}
