//! The title rules (see `src/analyze/title.rs`), one test per rule, on real reports of the corpus
//! (`tests/corpus/`, sources in its README) and real guest logs (`tests/fixtures/`). Where syzbot
//! reported the bug, its title is the reference.

use splat::Report;
use std::path::PathBuf;
mod common;
use common::titles;

fn load(dir: &str, file: &str) -> Vec<Report> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(dir)
        .join(file);
    splat::parse_bytes(&std::fs::read(path).expect("report file"))
}

fn corpus(file: &str) -> Vec<Report> {
    load("corpus", file)
}

/// Hung tasks: the blocking primitive (and the scheduler's `__switch_to`, which an older rule
/// named) is passed over for the code that called it.
#[test]
fn hung_tasks_are_titled_by_the_caller_of_the_blocking_primitive() {
    let r = corpus("hung-6.7-syzbot-arm64-folio-lock.log");
    assert_eq!(
        titles(&r),
        [
            // folio_wait_bit_common <- folio_lock <- __filemap_get_folio: the page lock.
            "INFO: task hung in truncate_inode_pages_range",
            // __mutex_lock_common <- mutex_lock_nested.
            "INFO: task hung in blkdev_get_by_dev",
        ]
    );
    let h = r[0].hung_task.as_ref().unwrap();
    assert_eq!(h.waiting_on.as_deref(), Some("page lock / I/O"));
    // syzbot's: "INFO: task hung in jbd2_journal_commit_transaction (5)".
    let r = corpus("hung-6.9-syzbot-jbd2-fragmented-lock-dump.log");
    assert_eq!(
        r[0].title,
        "INFO: task hung in jbd2_journal_commit_transaction"
    );
}

/// Waiting for a page's writeback (`folio_wait_writeback` over `folio_wait_bit_common`) is a
/// blocking primitive too, and the page cache's helpers that wait for it
/// (`__filemap_fdatawait_range`, `file_write_and_wait_range`) are passed over: the title names
/// the file system's or the block device's code that waits, so that a hung fsync of ext4 and
/// one of a raw disk get titles of their own. The explanation keeps where the wait was called.
#[test]
fn hung_tasks_waiting_for_writeback_are_titled_by_the_waiter() {
    let r = load("fixtures", "hung-io-wait-7.3-format.log");
    assert_eq!(r[1].title, "INFO: task hung in ext4_sync_file");
    let h = r[1].hung_task.as_ref().unwrap();
    assert_eq!(h.blocked_in.as_deref(), Some("folio_wait_writeback()"));
    assert_eq!(h.waiting_on.as_deref(), Some("page writeback"));
    assert_eq!(h.called_from.as_deref(), Some("__filemap_fdatawait_range"));
    // A real one: `dd conv=fsync` to a throttled virtio disk in a 7.3 guest.
    let r = load("fixtures", "hung-io-wait-7.3.log");
    assert_eq!(titles(&r), ["INFO: task hung in blkdev_fsync"]);
    let h = r[0].hung_task.as_ref().unwrap();
    assert_eq!(h.called_from.as_deref(), Some("__filemap_fdatawait_range"));
}

/// Lock-order reports: the `at:` of the lock being acquired, as the report says it.
#[test]
fn lock_order_reports_are_titled_by_the_acquired_locks_site() {
    // syzbot's: "possible deadlock in team_del_slave (2)"; the held lock's site is the
    // alternative.
    let r = &corpus("circular-6.2-team-syzbot-wrapped-reply.log")[0];
    assert_eq!(r.title, "possible deadlock in team_del_slave");
    assert_eq!(r.alt_titles, ["possible deadlock in nl80211_del_interface"]);
    // s_active is acquired at kernfs_remove_by_name_ns; the backtrace's __kernfs_remove is an
    // alternative.
    let r = &corpus("circular-3.17-arm-unwind-from-quoted-printable.log")[0];
    assert_eq!(r.title, "possible deadlock in kernfs_remove_by_name_ns");
    assert!(r
        .alt_titles
        .contains(&"possible deadlock in __kernfs_remove".to_string()));
}

/// When the acquired lock's site is a wrapper or the workqueue core, the held lock's site: the
/// btrfs report holds `(work_completion)` taken in `process_one_work`, which is never named.
#[test]
fn lock_sites_in_shared_code_are_passed_over() {
    let r = &corpus("circular-5.7-btrfs-md-workqueue-quoted.log")[0];
    assert_eq!(
        r.holding.as_ref().and_then(|h| h.at.as_deref()),
        Some("process_one_work")
    );
    assert_eq!(r.title, "possible deadlock in start_transaction");
    assert!(r.alt_titles.iter().all(|t| !t.contains("process_one_work")));
}

/// Held lock freed: where the freed lock was taken, not the freeing path (`__sk_destruct`); a
/// locking wrapper there (`__device_driver_lock`) is passed over for the backtrace.
#[test]
fn held_lock_freed_is_titled_where_the_freed_lock_was_taken() {
    let r = &corpus("held-lock-freed-5.14-lkft-quoted-wrapped-interleaved.log")[0];
    assert_eq!(r.title, "WARNING: held lock freed in sk_common_release");
    assert!(r
        .alt_titles
        .iter()
        .any(|t| t.ends_with(" in __sk_destruct")));
    let r = &corpus("held-lock-freed-5.6-lkp-i386-quoted-then-warn.log")[0];
    assert_eq!(
        r.holding.as_ref().and_then(|h| h.at.as_deref()),
        Some("__device_driver_lock")
    );
    assert_eq!(r.title, "WARNING: held lock freed in unittest_gpio_remove");
}

/// Sanitizer frames are never named: the stall's CPU was caught in the KCOV hook
/// `__sanitizer_cov_trace_pc` (its `RIP:`).
#[test]
fn sanitizer_frames_are_passed_over() {
    let r = &corpus("rcu-stall-5.2-syzbot-kcov-rip-wrapped.log")[0];
    assert!(r
        .lines
        .iter()
        .any(|l| l.contains("__sanitizer_cov_trace_pc")));
    assert!(!r.title.contains("sanitizer"));
    assert!(r.alt_titles.iter().all(|t| !t.contains("sanitizer")));
}

/// RCU stalls keep their `rcu: ` prefix and, like soft lockups, are titled by the loop's entry
/// (syzbot's: "INFO: rcu detected stall in rose_connect").
#[test]
fn rcu_stalls_keep_their_prefix_and_name_the_loop() {
    let r = &corpus("rcu-stall-5.2-syzbot-kcov-rip-wrapped.log")[0];
    assert_eq!(
        r.title,
        "rcu: INFO: rcu_preempt self-detected stall on CPU in rose_connect"
    );
}

/// Soft lockups: the function the loop's entry (system call, work item, kthread, softirq,
/// timer) called, the same wherever the CPU is caught; the explanation keeps where it spins.
#[test]
fn soft_lockups_are_titled_by_the_loops_entry_point() {
    let r = &corpus("soft-lockup-5.10-arm64-workqueue-commit.log")[0];
    assert_eq!(r.title, "BUG: soft lockup in cgwb_release_workfn");
    assert_eq!(r.alt_titles, ["BUG: soft lockup in blkcg_destroy_blkgs"]);
    assert!(r.explanation.contains("in blkcg_destroy_blkgs"));
    // A real guest: the CPU caught in softirqs on top of the spin, or in the spin itself, is
    // titled by the thread function its kthread entered (not the module's trampoline).
    let reports = load("fixtures", "scenario-spin-softirq-6.12.log");
    let soft: Vec<&str> = reports
        .iter()
        .filter(|r| r.kind == splat::ReportKind::SoftLockup)
        .map(|r| r.title.as_str())
        .collect();
    assert_eq!(
        soft,
        [
            "BUG: soft lockup in rust_deadlock::spin::Spin::thread_b",
            "BUG: soft lockup in rust_deadlock::spin::Spin::thread_a",
            "BUG: soft lockup in rust_deadlock::spin::Spin::thread_a",
        ]
    );
}

/// `BUG:`, `WARNING:` or `INFO:` as the report's header says.
#[test]
fn the_title_says_bug_or_warning_as_the_report_does() {
    let r = &corpus("bad-unlock-6.18-syzbot-hugetlbfs-new-warn-format.log")[0];
    assert!(r.header.starts_with("WARNING: "));
    // syzbot's: "WARNING: bad unlock balance in hugetlb_vmdelete_list".
    assert_eq!(
        r.title,
        "WARNING: bad unlock balance in hugetlb_vmdelete_list"
    );
    // Before 4.10: `[ BUG: vpud/657 still has locks held! ]`, titled by the held lock's site.
    let r = &corpus("exit-locks-4.9-arm64-old-bracketed-bug-wrapped.log")[0];
    assert_eq!(r.header, "[ BUG: vpud/657 still has locks held! ]");
    assert_eq!(r.title, "BUG: still has locks held in venc_lock");
    let r = &load("fixtures", "old-bracketed.log")[1];
    assert_eq!(r.header, "[ BUG: lock held at task exit! ]");
    assert!(r.title.starts_with("BUG: lock held at task exit in "));
}

/// `--summary` merges the same bug seen under a variant: a soft lockup whose stack was cut
/// before the loop's entry is titled where it spins, which is the full report's alternative.
#[test]
fn summary_merges_reports_whose_alternative_titles_match() {
    let full = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/corpus/soft-lockup-5.10-arm64-workqueue-commit.log"),
    )
    .unwrap();
    // The same report, its stack cut after the first frame (as a mail might quote it).
    let cut: String = full
        .lines()
        .filter(|l| !l.contains("process_one_work") && !l.contains("worker_thread"))
        .filter(|l| !l.contains("kthread+") && !l.contains("cgwb_release_workfn"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        splat::parse(&cut)[0].title,
        "BUG: soft lockup in blkcg_destroy_blkgs"
    );
    let mut s = splat::summary::Summary::new();
    splat::summary::summarize_reader(&mut s, "full.log", full.as_bytes()).unwrap();
    splat::summary::summarize_reader(&mut s, "cut.log", cut.as_bytes()).unwrap();
    let bugs = s.bugs();
    assert_eq!(bugs.len(), 1, "{bugs:?}");
    assert_eq!(bugs[0].count, 2);
    assert_eq!(bugs[0].title, "BUG: soft lockup in cgwb_release_workfn");
}

/// A sleep in atomic context: the caller of the function that may sleep (`iput` is at the
/// header's `fs/inode.c:1928`; syzbot's title names hook_sb_delete). The stack is the
/// report's backtrace even though "Preemption disabled at:" printed no usable site before it.
#[test]
fn sleep_in_atomic_is_titled_by_the_caller_of_the_sleeping_function() {
    let r = &corpus("sleep-6.17-syzbot-landlock.log")[0];
    assert_eq!(
        r.details.get("file").map(String::as_str),
        Some("fs/inode.c")
    );
    let backtrace = r.stack("backtrace").expect("the stack is the backtrace");
    assert!(backtrace.frames.iter().any(|f| f.function() == "iput"));
    assert!(r
        .stack("preemption disabled")
        .is_none_or(|s| s.frames.iter().all(|f| f.function() != "iput")));
    assert_eq!(
        r.title,
        "BUG: sleeping function called from invalid context in hook_sb_delete"
    );
}

/// Scheduling while atomic, invalid wait context and the spinlock debug BUGs are kinds of their
/// own, titled past the scheduler, the PREEMPT_RT lock slow path, the printk path and
/// `spin_dump` / `do_raw_spin_lock`.
#[test]
fn atomic_context_and_spinlock_bugs_have_kinds_and_titles_of_their_own() {
    let r = &corpus("sched-atomic-6.7-rt-preemption-disabled-printk.log")[0];
    assert_eq!(r.kind, splat::ReportKind::SchedulingWhileAtomic);
    assert_eq!(
        r.title,
        "BUG: scheduling while atomic in serial8250_console_write"
    );
    assert!(r
        .explanation
        .contains("Preemption was disabled at irq_enter_rcu."));
    let r = &corpus("invalid-wait-6.12-arm64-cppc-commit.log")[0];
    assert_eq!(r.kind, splat::ReportKind::InvalidWaitContext);
    assert_eq!(r.title, "BUG: Invalid wait context in cpc_write");
    let r = &corpus("spinlock-recursion-5.1-arm64-hugetlb-quoted.log")[0];
    assert_eq!(r.kind, splat::ReportKind::SpinlockBug);
    assert_eq!(r.title, "BUG: spinlock recursion in free_huge_page");
    assert_eq!(r.details.get("owner_cpu").map(String::as_str), Some("0"));
}

/// powerpc frames (`[SP] [LR] .sym+0x1/0x2`) are read like any other: the lock's site names the
/// timer function, and the backtrace has every frame.
#[test]
fn powerpc_frames_are_read() {
    let r = &corpus("inconsistent-5.1-ppc64-bugzilla-quoted-printable-wrapped.log")[0];
    assert_eq!(r.title, "inconsistent lock state in zstd_reclaim_timer_fn");
    let frames: Vec<&str> = r
        .stack("backtrace")
        .unwrap()
        .frames
        .iter()
        .map(|f| f.function())
        .collect();
    assert!(
        frames.starts_with(&["dump_stack", "print_usage_bug", "mark_lock"]),
        "{frames:?}"
    );
    assert!(frames.contains(&"call_timer_fn"));
}
