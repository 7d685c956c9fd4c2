//! The real-world corpus: published reports (mailing-list posts, syzbot and kernel test robot
//! mails, commit messages) copied verbatim, damage included, into `tests/corpus/`. Their
//! sources are listed in `tests/corpus/README.md`. Every report's main fields are asserted
//! exactly, and every fixture must have its expectations here.

use splat::{Report, ReportKind, ReportKind::*};
use std::collections::BTreeSet;
use std::path::PathBuf;

struct Expect {
    file: &'static str,
    /// Which report of the file.
    index: usize,
    kind: ReportKind,
    title: &'static str,
    tasks: &'static [(&'static str, Option<u32>)],
    locks: &'static [&'static str],
    cycle: &'static [&'static str],
    /// (lock, at)
    acquiring: Option<(&'static str, Option<&'static str>)>,
    holding: Option<(&'static str, Option<&'static str>)>,
    truncated: bool,
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn corpus_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("corpus dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".log"))
        .collect();
    files.sort();
    files
}

fn parse(file: &str) -> Vec<Report> {
    let bytes = std::fs::read(corpus_dir().join(file)).expect("fixture");
    splat::parse_bytes(&bytes)
}

fn site(s: &Option<splat::LockSite>) -> Option<(String, Option<String>)> {
    s.as_ref().map(|s| (s.lock.clone(), s.at.clone()))
}

fn own(s: Option<(&str, Option<&str>)>) -> Option<(String, Option<String>)> {
    s.map(|(l, a)| (l.to_string(), a.map(str::to_string)))
}

#[test]
fn every_corpus_report_has_the_expected_fields() {
    let mut failures = Vec::new();
    for e in EXPECTED {
        let reports = parse(e.file);
        let Some(r) = reports.get(e.index) else {
            failures.push(format!("{}: no report #{}", e.file, e.index));
            continue;
        };
        let tasks: Vec<(&str, Option<u32>)> =
            r.tasks.iter().map(|t| (t.comm.as_str(), t.pid)).collect();
        let locks: Vec<&str> = r.locks.iter().map(|l| l.name.as_str()).collect();
        let checks = [
            ("kind", r.kind == e.kind, format!("{:?}", r.kind)),
            ("title", r.title == e.title, r.title.clone()),
            ("tasks", tasks == e.tasks, format!("{tasks:?}")),
            ("locks", locks == e.locks, format!("{locks:?}")),
            ("cycle", r.cycle == e.cycle, format!("{:?}", r.cycle)),
            (
                "acquiring",
                site(&r.acquiring) == own(e.acquiring),
                format!("{:?}", site(&r.acquiring)),
            ),
            (
                "holding",
                site(&r.holding) == own(e.holding),
                format!("{:?}", site(&r.holding)),
            ),
            (
                "truncated",
                r.truncated == e.truncated,
                r.truncated.to_string(),
            ),
        ];
        for (what, ok, got) in checks {
            if !ok {
                failures.push(format!("{} #{}: {what} is {got}", e.file, e.index));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_corpus_file_is_expected_and_has_exactly_its_reports() {
    let files = corpus_files();
    assert!(files.len() >= 41, "corpus has only {} files", files.len());
    let expected: BTreeSet<&str> = EXPECTED.iter().map(|e| e.file).collect();
    for f in &files {
        assert!(expected.contains(f.as_str()), "{f} has no expectations");
        let n = EXPECTED.iter().filter(|e| e.file == f).count();
        assert_eq!(parse(f).len(), n, "{f}: number of reports");
    }
    assert_eq!(
        expected.len(),
        files.len(),
        "expectations for missing files"
    );
}

#[test]
fn the_corpus_covers_every_lockdep_kind() {
    let kinds: BTreeSet<String> = EXPECTED.iter().map(|e| e.kind.to_string()).collect();
    for k in [CircularDependency, RecursiveLocking, SleepInAtomic] {
        assert!(kinds.contains(k.as_str()), "no {k} in the corpus");
    }
}

#[test]
fn corpus_summary_groups_reports_by_signature() {
    let mut s = splat::summary::Summary::new();
    for f in corpus_files() {
        let bytes = std::fs::read(corpus_dir().join(&f)).expect("fixture");
        splat::summary::summarize_reader(&mut s, &f, &bytes[..]).expect("read");
    }
    let bugs = s.bugs();
    assert_eq!(bugs.iter().map(|b| b.count).sum::<usize>(), EXPECTED.len());
    for b in bugs {
        assert!(!b.signature.contains("0x"), "{}", b.signature);
        assert!(b.signature.starts_with(b.kind.as_str()), "{}", b.signature);
    }
}

const EXPECTED: &[Expect] = &[
    Expect {
        file: "bad-unlock-5.18-arm64-kgdb-indented-wrapped.log",
        index: 0,
        kind: BadUnlockBalance,
        title: "WARNING: bad unlock balance in kgdb_cpu_enter",
        tasks: &[("sh", Some(173))],
        locks: &[
            "dbg_slave_lock",
            "sb_writers#3",
            "rcu_read_lock",
            "dbg_master_lock",
        ],
        cycle: &[],
        acquiring: Some(("dbg_slave_lock", Some("kgdb_cpu_enter"))),
        holding: None,
        truncated: true,
    },
    Expect {
        file: "bad-unlock-5.18-arm64-kgdb-indented-wrapped.log",
        index: 1,
        kind: BadUnlockBalance,
        title: "WARNING: bad unlock balance in kgdb_cpu_enter",
        tasks: &[("sh", Some(173))],
        locks: &[
            "dbg_slave_lock",
            "sb_writers#3",
            "rcu_read_lock",
            "dbg_master_lock",
        ],
        cycle: &[],
        acquiring: Some(("dbg_slave_lock", Some("kgdb_cpu_enter"))),
        holding: None,
        truncated: true,
    },
    Expect {
        file: "bad-unlock-6.18-syzbot-hugetlbfs-new-warn-format.log",
        index: 0,
        kind: BadUnlockBalance,
        title: "WARNING: bad unlock balance in hugetlb_vmdelete_list",
        tasks: &[("syz.0.8060", Some(30977))],
        locks: &[
            "&vma_lock->rw_sema",
            "sb_writers#12",
            "&sb->s_type->i_mutex_key#20",
            "&hugetlbfs_i_mmap_rwsem_key",
        ],
        cycle: &[],
        acquiring: Some(("&vma_lock->rw_sema", Some("hugetlb_vmdelete_list"))),
        holding: None,
        truncated: false,
    },
    Expect {
        file: "bad-unlock-6.18-syzbot-hugetlbfs-new-warn-format.log",
        index: 1,
        kind: Generic,
        title: "WARNING in __up_write",
        tasks: &[("syz.0.8060", Some(30977))],
        locks: &[],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "bad-unlock-6.5-riscv-tab-quoted-printable.log",
        index: 0,
        kind: BadUnlockBalance,
        title: "WARNING: bad unlock balance in vma_end_read",
        tasks: &[("modprobe", Some(58))],
        locks: &["&vma->vm_lock->lock", "rcu_read_lock"],
        cycle: &[],
        acquiring: Some(("&vma->vm_lock->lock", Some("vma_end_read"))),
        holding: None,
        truncated: false,
    },
    Expect {
        file: "bad-unlock-6.5-riscv-tab-quoted-printable.log",
        index: 1,
        kind: Generic,
        title: "WARNING in __up_read",
        tasks: &[("modprobe", Some(58))],
        locks: &[],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "circular-2.6.18-ntfs-cifs-wrapped-header.log",
        index: 0,
        kind: CircularDependency,
        title: "possible deadlock in shrink_icache_memory",
        tasks: &[("cp", Some(11790))],
        locks: &["iprune_mutex", "&inode->i_mutex"],
        cycle: &["&inode->i_mutex", "iprune_mutex", "&inode->i_mutex"],
        acquiring: Some(("iprune_mutex", Some("mutex_lock"))),
        holding: Some(("&inode->i_mutex", Some("mutex_lock"))),
        truncated: true,
    },
    Expect {
        file: "circular-3.17-arm-unwind-from-quoted-printable.log",
        index: 0,
        kind: CircularDependency,
        title: "possible deadlock in kernfs_remove_by_name_ns",
        tasks: &[("rmmod", Some(2505))],
        locks: &["s_active#28", "pools_lock", "&dev->mutex"],
        cycle: &["pools_lock", "s_active#28", "pools_lock"],
        acquiring: Some(("s_active#28", Some("kernfs_remove_by_name_ns"))),
        holding: Some(("pools_lock", Some("dma_pool_destroy"))),
        truncated: false,
    },
    Expect {
        file: "circular-3.3-s390-ksm-memory-hotplug.log",
        index: 0,
        kind: CircularDependency,
        title: "possible deadlock in __blocking_notifier_call_chain",
        tasks: &[("sh", Some(973))],
        locks: &[
            "(memory_chain).rwsem",
            "ksm_thread_mutex/1",
            "&buffer->mutex",
            "s_active#53",
            "&mem->state_mutex",
            "mem_hotplug_mutex",
            "pm_mutex#2",
        ],
        cycle: &[
            "ksm_thread_mutex/1",
            "(memory_chain).rwsem",
            "ksm_thread_mutex/1",
        ],
        acquiring: Some((
            "(memory_chain).rwsem",
            Some("__blocking_notifier_call_chain"),
        )),
        holding: Some(("ksm_thread_mutex/1", Some("ksm_memory_callback"))),
        truncated: false,
    },
    Expect {
        file: "circular-4.1-pm-suspend-rewrapped-double-quote.log",
        index: 0,
        kind: CircularDependency,
        title: "possible deadlock in kernfs_remove_by_name_ns",
        tasks: &[("pm-suspend", Some(16647))],
        locks: &[
            "s_active#22",
            "cpu_hotplug.lock#2",
            "(oom_notify_list).rwsem",
            "oom_sem",
            "&mm->mmap_sem",
            "sb_writers#6",
            "&of->mutex",
            "s_active#186",
            "autosleep_lock",
            "pm_mutex",
            "acpi_scan_lock",
            "cpu_add_remove_lock",
            "cpu_hotplug.lock",
        ],
        cycle: &[
            "cpu_hotplug.lock#2",
            "s_active#22",
            "&mm->mmap_sem",
            "oom_sem",
            "(oom_notify_list).rwsem",
            "cpu_hotplug.lock#2",
        ],
        acquiring: Some(("s_active#22", Some("kernfs_remove_by_name_ns"))),
        holding: Some(("cpu_hotplug.lock#2", Some("cpu_hotplug_begin"))),
        truncated: false,
    },
    Expect {
        file: "circular-4.10-syzkaller-nested-quote-wrapped-snippet.log",
        index: 0,
        kind: CircularDependency,
        title: "possible deadlock in get_online_cpus",
        tasks: &[("syz-executor3", Some(14255))],
        locks: &["cpu_hotplug.dep_map", "pcpu_alloc_mutex"],
        cycle: &[
            "pcpu_alloc_mutex",
            "cpu_hotplug.dep_map",
            "pcpu_alloc_mutex",
        ],
        acquiring: Some(("cpu_hotplug.dep_map", Some("get_online_cpus"))),
        holding: Some(("pcpu_alloc_mutex", Some("pcpu_alloc"))),
        truncated: true,
    },
    Expect {
        file: "circular-5.7-btrfs-md-workqueue-quoted.log",
        index: 0,
        kind: CircularDependency,
        title: "possible deadlock in start_transaction",
        tasks: &[("kworker/u16:3", Some(8175))],
        locks: &[
            "sb_internal#3",
            "(work_completion)(&(&wb->dwork)->work)",
            "(work_completion)(&mddev->del_work)",
            "(wq_completion)md_misc",
            "&mddev->open_mutex",
            "&bdev->bd_mutex",
            "&fs_devs->device_list_mutex",
            "&fs_info->tree_log_mutex",
            "&fs_info->reloc_mutex",
            "(wq_completion)writeback",
            "&type->s_umount_key#52",
        ],
        cycle: &[
            "(work_completion)(&(&wb->dwork)->work)",
            "sb_internal#3",
            "&fs_info->reloc_mutex",
            "&fs_info->tree_log_mutex",
            "&fs_devs->device_list_mutex",
            "&bdev->bd_mutex",
            "&mddev->open_mutex",
            "(wq_completion)md_misc",
            "(work_completion)(&mddev->del_work)",
            "(work_completion)(&(&wb->dwork)->work)",
        ],
        acquiring: Some(("sb_internal#3", Some("start_transaction"))),
        holding: Some((
            "(work_completion)(&(&wb->dwork)->work)",
            Some("process_one_work"),
        )),
        truncated: false,
    },
    Expect {
        file: "circular-6.17-arm64-cpufreq-continuation-indent.log",
        index: 0,
        kind: CircularDependency,
        title: "possible deadlock in rebuild_sched_domains_energy",
        tasks: &[("swapper/0", Some(1))],
        locks: &["sched_energy_mutex", "&policy->rwsem"],
        cycle: &["&policy->rwsem", "sched_energy_mutex", "&policy->rwsem"],
        acquiring: Some(("sched_energy_mutex", Some("rebuild_sched_domains_energy"))),
        holding: Some(("&policy->rwsem", Some("cpufreq_online"))),
        truncated: true,
    },
    Expect {
        file: "circular-6.2-team-syzbot-wrapped-reply.log",
        index: 0,
        kind: CircularDependency,
        title: "possible deadlock in team_del_slave",
        tasks: &[("syz-executor.5", Some(19937))],
        locks: &[
            "team->team_lock_key#2",
            "&rdev->wiphy.mtx",
            "cb_lock",
            "rtnl_mutex",
        ],
        cycle: &[
            "&rdev->wiphy.mtx",
            "team->team_lock_key#2",
            "&rdev->wiphy.mtx",
        ],
        acquiring: Some(("team->team_lock_key#2", Some("team_del_slave"))),
        holding: Some(("&rdev->wiphy.mtx", Some("nl80211_del_interface"))),
        truncated: false,
    },
    Expect {
        file: "circular-6.8-i915-ci-console-level-two-snippets.log",
        index: 0,
        kind: CircularDependency,
        title: "possible deadlock in i915_hwmon_power_max_disable",
        tasks: &[("gem_eio", Some(937))],
        locks: &["&hwmon->hwmon_lock", "&gt->reset.mutex"],
        cycle: &["&gt->reset.mutex", "&hwmon->hwmon_lock", "&gt->reset.mutex"],
        acquiring: Some(("&hwmon->hwmon_lock", Some("i915_hwmon_power_max_disable"))),
        holding: Some(("&gt->reset.mutex", Some("intel_gt_reset"))),
        truncated: true,
    },
    Expect {
        file: "circular-6.8-i915-ci-console-level-two-snippets.log",
        index: 1,
        kind: CircularDependency,
        title: "possible deadlock in hwm_energy",
        tasks: &[("prometheus-node", Some(462))],
        locks: &["fs_reclaim", "&hwmon->hwmon_lock"],
        cycle: &["&hwmon->hwmon_lock", "fs_reclaim", "&hwmon->hwmon_lock"],
        acquiring: Some(("fs_reclaim", Some("__kmalloc"))),
        holding: Some(("&hwmon->hwmon_lock", Some("hwm_energy"))),
        truncated: true,
    },
    Expect {
        file: "generic-7.1-arm64-rust-tyr-oops-markdown.log",
        index: 0,
        kind: Generic,
        title:
            "Unable to handle kernel NULL pointer dereference in tyr::vm::GpuVmData::sm_step_unmap",
        tasks: &[("gnome-s:disk$0", Some(11276))],
        locks: &[],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "held-lock-freed-5.14-lkft-quoted-wrapped-interleaved.log",
        index: 0,
        kind: HeldLockFreed,
        title: "WARNING: held lock freed in sk_common_release",
        tasks: &[("systemd-network", Some(341))],
        locks: &["sk_lock-AF_INET", "&sb->s_type->i_mutex_key#6"],
        cycle: &[],
        acquiring: None,
        holding: Some(("sk_lock-AF_INET", Some("sk_common_release"))),
        truncated: false,
    },
    Expect {
        file: "held-lock-freed-5.14-ppc64-dot-symbols-quoted.log",
        index: 0,
        kind: HeldLockFreed,
        title: "WARNING: held lock freed in sk_common_release",
        tasks: &[("ip", Some(202))],
        locks: &["sk_lock-AF_INET", "&sb->s_type->i_mutex_key#5"],
        cycle: &[],
        acquiring: None,
        holding: Some(("sk_lock-AF_INET", Some("sk_common_release"))),
        truncated: true,
    },
    Expect {
        file: "held-lock-freed-5.6-lkp-i386-quoted-then-warn.log",
        index: 0,
        kind: HeldLockFreed,
        title: "WARNING: held lock freed in unittest_gpio_remove",
        tasks: &[("swapper", Some(1))],
        locks: &["&dev->mutex"],
        cycle: &[],
        acquiring: None,
        holding: Some(("&dev->mutex", Some("__device_driver_lock"))),
        truncated: false,
    },
    Expect {
        file: "held-lock-freed-5.6-lkp-i386-quoted-then-warn.log",
        index: 1,
        kind: Generic,
        title: "WARNING in devres_release_all",
        tasks: &[("swapper", Some(1))],
        locks: &[],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "hung-4.19-amdgpu-bugzilla-wrapped.log",
        index: 0,
        kind: HungTask,
        title: "INFO: task hung in amdgpu_dm_do_flip",
        tasks: &[("kworker/u32:3", Some(15564))],
        locks: &[],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "hung-4.19-btrfs-dmesg-T-quoted-wrapped.log",
        index: 0,
        kind: HungTask,
        title: "INFO: task hung in wait_current_trans",
        tasks: &[("kworker/u4:8", Some(10576))],
        locks: &[],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "hung-6.19-syzbot-hfs-quoted-elided.log",
        index: 0,
        kind: HungTask,
        title: "INFO: task hung",
        tasks: &[("kworker/u8:1", Some(13))],
        locks: &[],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "hung-6.19-syzbot-hfs-quoted-elided.log",
        index: 1,
        kind: HungTask,
        title: "INFO: task hung",
        tasks: &[("kworker/1:4", Some(5971))],
        locks: &[],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "hung-6.9-syzbot-jbd2-fragmented-lock-dump.log",
        index: 0,
        kind: HungTask,
        title: "INFO: task hung in jbd2_journal_commit_transaction",
        tasks: &[("jbd2/sda1-8", Some(4509))],
        locks: &[
            "rcu_read_lock",
            "&tty->ldisc_sem",
            "&ldata->atomic_read_lock",
            "&rq->__lock",
            "(wq_completion)usb_hub_wq",
            "(work_completion)(&hub->events)",
            "&dev->mutex",
            "input_mutex",
            "&p->lock",
            "&of->mutex#2",
            "kn->active#29",
        ],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "inconsistent-5.18-rxe-triple-quoted-wrapped.log",
        index: 0,
        kind: InconsistentLockState,
        title: "inconsistent lock state in rxe_pool_get_index",
        tasks: &[("ksoftirqd/5", Some(40))],
        locks: &["&xa->xa_lock#14"],
        cycle: &[],
        acquiring: Some(("&xa->xa_lock#14", Some("rxe_pool_get_index"))),
        holding: None,
        truncated: true,
    },
    Expect {
        file: "inconsistent-5.9-mt76-commit.log",
        index: 0,
        kind: InconsistentLockState,
        title: "inconsistent lock state in mt76_dma_cleanup",
        tasks: &[("rmmod", Some(1227))],
        locks: &["&dev->lock#2", "&dev->mutex"],
        cycle: &[],
        acquiring: Some(("&dev->lock#2", Some("mt76_dma_cleanup"))),
        holding: None,
        truncated: false,
    },
    Expect {
        file: "inconsistent-6.16-console-owner-nested-quote.log",
        index: 0,
        kind: InconsistentLockState,
        title: "inconsistent lock state in console_lock_spinning_enable",
        tasks: &[("wpa_supplicant", Some(2940))],
        locks: &["console_owner"],
        cycle: &[],
        acquiring: Some(("console_owner", Some("console_lock_spinning_enable"))),
        holding: None,
        truncated: true,
    },
    Expect {
        file: "inconsistent-6.7-lkp-caller-ids-decoded.log",
        index: 0,
        kind: InconsistentLockState,
        title: "inconsistent lock state in ep_start_scan",
        tasks: &[("systemd-udevd", Some(141))],
        locks: &["&ep->lock", "&ep->mtx"],
        cycle: &[],
        acquiring: Some(("&ep->lock", Some("ep_start_scan"))),
        holding: None,
        truncated: true,
    },
    Expect {
        file: "irq-inversion-3.18-metag-timer-commit.log",
        index: 0,
        kind: IrqLockInversion,
        title: "possible deadlock in _call_timer_fn",
        tasks: &[("swapper/0", Some(0))],
        locks: &["((&hw->end_timer))", "&(&priv->lock)->rlock#2"],
        cycle: &[],
        acquiring: Some(("((&hw->end_timer))", Some("_call_timer_fn"))),
        holding: None,
        truncated: true,
    },
    Expect {
        file: "irq-inversion-5.10-ata-led-indented-quoted-printable.log",
        index: 0,
        kind: IrqLockInversion,
        title: "possible deadlock in ata_bmdma_interrupt",
        tasks: &[("swapper/3", Some(0))],
        locks: &["&host->lock", "&trig->leddev_list_lock"],
        cycle: &[],
        acquiring: Some(("&host->lock", Some("ata_bmdma_interrupt"))),
        holding: None,
        truncated: true,
    },
    Expect {
        file: "irq-inversion-5.12-iommu-quoted-wrapped.log",
        index: 0,
        kind: IrqLockInversion,
        title: "possible deadlock in iommu_flush_dev_iotlb.part.0",
        tasks: &[("bash", Some(780))],
        locks: &["device_domain_lock", "pasid_lock", "&iommu->lock"],
        cycle: &[],
        acquiring: Some(("device_domain_lock", Some("iommu_flush_dev_iotlb.part.0"))),
        holding: None,
        truncated: true,
    },
    Expect {
        file: "rcu-5.2-arm64-shell-prompt.log",
        index: 0,
        kind: SuspiciousRcuUsage,
        title: "WARNING: suspicious RCU usage in call_break_hook",
        tasks: &[("swapper/0", Some(0))],
        locks: &["rcu_read_lock"],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "rcu-5.9-arm64-juno-lkft-interleaved.log",
        index: 0,
        kind: SuspiciousRcuUsage,
        title: "WARNING: suspicious RCU usage in inet_twsk_purge",
        tasks: &[("kworker/u12:1", Some(157))],
        locks: &[
            "(wq_completion)netns",
            "net_cleanup_work",
            "pernet_ops_rwsem",
        ],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "rcu-5.9-arm64-juno-lkft-interleaved.log",
        index: 1,
        kind: SuspiciousRcuUsage,
        title: "WARNING: suspicious RCU usage in nf_ct_iterate_cleanup",
        tasks: &[("kworker/u12:8", Some(248))],
        locks: &[
            "(wq_completion)netns",
            "net_cleanup_work",
            "pernet_ops_rwsem",
        ],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "recursive-3.1-ivtv-wrapped.log",
        index: 0,
        kind: RecursiveLocking,
        title: "possible deadlock in find_ref_lock",
        tasks: &[("modprobe", Some(684))],
        locks: &["&hdl->lock", "&__lockdep_no_validate__"],
        cycle: &["&hdl->lock", "&hdl->lock"],
        acquiring: Some(("&hdl->lock", Some("find_ref_lock"))),
        holding: Some(("&hdl->lock", Some("v4l2_ctrl_add_handler"))),
        truncated: false,
    },
    Expect {
        file: "recursive-3.16-shmem-quoted-decoded.log",
        index: 0,
        kind: RecursiveLocking,
        title: "possible deadlock in shmem_fault",
        tasks: &[("trinity-c84", Some(27757))],
        locks: &[
            "&sb->s_type->i_mutex_key#17",
            "&f->f_pos_lock",
            "sb_writers#13",
        ],
        cycle: &["&sb->s_type->i_mutex_key#17", "&sb->s_type->i_mutex_key#17"],
        acquiring: Some(("&sb->s_type->i_mutex_key#17", Some("shmem_fault"))),
        holding: Some((
            "&sb->s_type->i_mutex_key#17",
            Some("generic_file_write_iter"),
        )),
        truncated: false,
    },
    Expect {
        file: "recursive-3.5-zone-lock.log",
        index: 0,
        kind: RecursiveLocking,
        title: "possible deadlock in suitable_migration_target.isra.15",
        tasks: &[("trinity-child1", Some(31784))],
        locks: &["&(&zone->lock)->rlock", "&mm->mmap_sem"],
        cycle: &["&(&zone->lock)->rlock", "&(&zone->lock)->rlock"],
        acquiring: Some((
            "&(&zone->lock)->rlock",
            Some("suitable_migration_target.isra.15"),
        )),
        holding: Some(("&(&zone->lock)->rlock", Some("compaction_alloc"))),
        truncated: false,
    },
    Expect {
        file: "recursive-4.1-pgdat-quoted-snippet.log",
        index: 0,
        kind: RecursiveLocking,
        title: "possible deadlock in page_alloc_init_late",
        tasks: &[("swapper/0", Some(1))],
        locks: &["pgdat_init_rwsem"],
        cycle: &["pgdat_init_rwsem", "pgdat_init_rwsem"],
        acquiring: Some(("pgdat_init_rwsem", Some("page_alloc_init_late"))),
        holding: Some(("pgdat_init_rwsem", Some("page_alloc_init_late"))),
        truncated: true,
    },
    Expect {
        file: "recursive-6.3-rust-selftest-tab-elided.log",
        index: 0,
        kind: RecursiveLocking,
        title: "possible deadlock in rust_locking_selftest::SpinLockAATest::test",
        tasks: &[("swapper/0", Some(0))],
        locks: &["A1"],
        cycle: &["A1", "A1"],
        acquiring: Some((
            "A1",
            Some("kernel::sync::lock::spinlock::SpinLockBackend::lock"),
        )),
        holding: Some((
            "A1",
            Some("kernel::sync::lock::spinlock::SpinLockBackend::lock"),
        )),
        truncated: false,
    },
    Expect {
        file: "return-to-user-5.3-tpm-dmesg-l-warn.log",
        index: 0,
        kind: LockHeldAtExit,
        title: "WARNING: lock held when returning to user space in tpm_try_get_ops",
        tasks: &[("tpm2-abrmd", Some(679))],
        locks: &["&chip->ops_sem", "&chip->tpm_mutex"],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "return-to-user-5.9-dm-commit-indented-then-hung.log",
        index: 0,
        kind: LockHeldAtExit,
        title: "WARNING: lock held when returning to user space in dm_get_live_table",
        tasks: &[("lvm", Some(1318))],
        locks: &["&md->io_barrier"],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "return-to-user-5.9-dm-commit-indented-then-hung.log",
        index: 1,
        kind: HungTask,
        title: "INFO: task hung in __dm_suspend",
        tasks: &[("lvm", Some(1344))],
        locks: &[],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "return-to-user-6.15-blog-markdown-three-reports.log",
        index: 0,
        kind: LockHeldAtExit,
        title: "WARNING: lock held when returning to user space in test_lockdep",
        tasks: &[("tee", Some(2267))],
        locks: &["test_mutex_hi", "test_mutex_hi2"],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "return-to-user-6.15-blog-markdown-three-reports.log",
        index: 1,
        kind: SuspiciousRcuUsage,
        title: "WARNING: suspicious RCU usage in rcu_basic_reader",
        tasks: &[("kworker/u256:6", Some(64))],
        locks: &[
            "(wq_completion)rcu_test",
            "(work_completion)(&rcu_basic2.work)",
        ],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "return-to-user-6.15-blog-markdown-three-reports.log",
        index: 2,
        kind: SleepInAtomic,
        title: "BUG: sleeping function called from invalid context in test_preempt",
        tasks: &[("bash", Some(1647))],
        locks: &[
            "sb_writers#3",
            "&of->mutex#2",
            "kn->active#146",
            "sl_static",
        ],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "sleep-5.17-lkp-i386-decoded.log",
        index: 0,
        kind: SleepInAtomic,
        title: "BUG: sleeping function called from invalid context in __kernfs_new_node",
        tasks: &[("swapper", Some(1))],
        locks: &[],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "sleep-5.5-cifsd-commit.log",
        index: 0,
        kind: SleepInAtomic,
        title: "BUG: sleeping function called from invalid context in __smb2_handle_cancelled_cmd",
        tasks: &[("cifsd", Some(30877))],
        locks: &[],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "sleep-6.1-riscv-quoted-printable.log",
        index: 0,
        kind: SleepInAtomic,
        title: "BUG: sleeping function called from invalid context in cblist_init_generic",
        tasks: &[("swapper/0", Some(1))],
        locks: &["rcu_tasks.cbs_gbl_lock"],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "sleep-6.14-nvme-fc-syslog-quoted-printable-cut-class.log",
        index: 0,
        kind: SleepInAtomic,
        title: "BUG: sleeping function called from invalid context in nvme_change_ctrl_state",
        tasks: &[("kworker/u16:14", Some(68705))],
        locks: &[
            "(wq_completion)nvme-wq",
            "(work_completion)(&(&ctrl->connect_work)->work)",
            "&ctrl->lock#2",
        ],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "sleep-6.17-syzbot-landlock.log",
        index: 0,
        kind: SleepInAtomic,
        title: "BUG: sleeping function called from invalid context in hook_sb_delete",
        tasks: &[("syz.0.17", Some(6028))],
        locks: &["&type->s_umount_key#48", "&s->s_inode_list_lock"],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "hung-6.7-syzbot-arm64-folio-lock.log",
        index: 0,
        kind: HungTask,
        title: "INFO: task hung in truncate_inode_pages_range",
        tasks: &[("udevd", Some(6124))],
        locks: &[
            "rcu_read_lock",
            "&tty->ldisc_sem",
            "&ldata->atomic_read_lock",
            "&disk->open_mutex",
        ],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "hung-6.7-syzbot-arm64-folio-lock.log",
        index: 1,
        kind: HungTask,
        title: "INFO: task hung in blkdev_get_by_dev",
        tasks: &[("syz-executor412", Some(6368))],
        locks: &[
            "rcu_read_lock",
            "&tty->ldisc_sem",
            "&ldata->atomic_read_lock",
            "&disk->open_mutex",
        ],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "rcu-stall-5.2-syzbot-kcov-rip-wrapped.log",
        index: 0,
        kind: Generic,
        title: "rcu: INFO: rcu_preempt self-detected stall on CPU in rose_connect",
        tasks: &[("syz-executor.0", Some(25729))],
        locks: &[],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "soft-lockup-5.10-arm64-workqueue-commit.log",
        index: 0,
        kind: SoftLockup,
        title: "BUG: soft lockup in cgwb_release_workfn",
        tasks: &[],
        locks: &[],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "sched-atomic-6.7-rt-preemption-disabled-printk.log",
        index: 0,
        kind: SchedulingWhileAtomic,
        title: "BUG: scheduling while atomic in serial8250_console_write",
        tasks: &[("irq/4-ttyS0", Some(751))],
        locks: &[],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "invalid-wait-6.12-arm64-cppc-commit.log",
        index: 0,
        kind: InvalidWaitContext,
        title: "BUG: Invalid wait context in cpc_write",
        tasks: &[("kworker/1:1", Some(62))],
        locks: &[
            "&cpc_ptr->rmw_lock",
            "&rq->__lock",
            "&sg_policy->update_lock",
        ],
        cycle: &[],
        acquiring: Some(("&cpc_ptr->rmw_lock", Some("cpc_write"))),
        holding: None,
        truncated: false,
    },
    Expect {
        file: "spinlock-recursion-5.1-arm64-hugetlb-quoted.log",
        index: 0,
        kind: SpinlockBug,
        title: "BUG: spinlock recursion in free_huge_page",
        tasks: &[("hugemmap05", Some(1079))],
        locks: &[],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "exit-locks-4.9-arm64-old-bracketed-bug-wrapped.log",
        index: 0,
        kind: LockHeldAtExit,
        title: "BUG: still has locks held in venc_lock",
        tasks: &[("vpud", Some(657))],
        locks: &["&dev->enc_mutex"],
        cycle: &[],
        acquiring: None,
        holding: None,
        truncated: false,
    },
    Expect {
        file: "inconsistent-6.10-arm64-empty-brackets-v3d.log",
        index: 0,
        kind: InconsistentLockState,
        title: "inconsistent lock state in v3d_irq",
        tasks: &[("swapper/0", Some(0))],
        locks: &["&v3d_priv->stats[i].lock"],
        cycle: &[],
        acquiring: Some(("&v3d_priv->stats[i].lock", Some("v3d_irq"))),
        holding: None,
        truncated: false,
    },
    Expect {
        file: "inconsistent-5.1-ppc64-bugzilla-quoted-printable-wrapped.log",
        index: 0,
        kind: InconsistentLockState,
        title: "inconsistent lock state in zstd_reclaim_timer_fn",
        tasks: &[("swapper/5", Some(0))],
        locks: &["&(&wsm.lock)->rlock", "(&wsm.timer)"],
        cycle: &[],
        acquiring: Some(("&(&wsm.lock)->rlock", Some("zstd_reclaim_timer_fn"))),
        holding: None,
        truncated: false,
    },
];

/// A lock left held by a task that returned to user space (an SRCU read-side section, never
/// ended), then a task that waits for that SRCU's grace period: the hung task is explained by
/// the lock left held.
#[test]
fn a_lock_left_held_explains_the_hung_task_after_it() {
    let reports = parse("return-to-user-5.9-dm-commit-indented-then-hung.log");
    let hung = &reports[1];
    let lines: Vec<&str> = hung.explanation.lines().collect();
    assert_eq!(
        lines[lines.len() - 2..],
        [
            "Likely cause: report #1 \"WARNING: lock held when returning to user space in \
             dm_get_live_table\": lvm/1318 returned to user space while holding \
             &md->io_barrier (taken at dm_get_live_table); nobody will release it.",
            "Fix: lvm/1318 returned to user space without releasing &md->io_barrier (taken at \
             dm_get_live_table), so this task waits forever: release every lock on every return \
             path, including error paths.",
        ]
    );
}

/// A quoted-printable mail that its reader never decoded: the soft breaks cut a lock class
/// name in the middle of its nested parentheses (`((work_completion)(=` / `&(&ctrl->...`), and
/// the same held-lock line a second time in its offset (`0x14=` / `60`): the pieces are put
/// back together, the class whole and the `at:` site read.
#[test]
fn a_class_name_cut_twice_by_soft_breaks_is_put_back_together() {
    let reports = parse("sleep-6.14-nvme-fc-syslog-quoted-printable-cut-class.log");
    let held: Vec<(u32, &str, Option<&str>)> = reports[0]
        .held_locks
        .iter()
        .map(|h| (h.index, h.lock.as_str(), h.at.as_deref()))
        .collect();
    assert_eq!(
        held,
        [
            (0, "(wq_completion)nvme-wq", Some("process_one_work")),
            (
                1,
                "(work_completion)(&(&ctrl->connect_work)->work)",
                Some("process_one_work")
            ),
            (2, "&ctrl->lock#2", Some("nvme_fc_connect_ctrl_work.cold")),
        ]
    );
    assert_eq!(
        reports[0].details.get("workqueue").map(String::as_str),
        Some("nvme-wq nvme_fc_connect_ctrl_work [nvme_fc]")
    );
}

/// Quoted-printable decoding belongs to the mail body a soft break was seen in: a log read
/// after it is read as it is (a task named `job=20` stays `job=20`, not `job `).
#[test]
fn quoted_printable_ends_with_its_report() {
    let mail = "circular-3.17-arm-unwind-from-quoted-printable.log";
    let log = "\
[    4.801407] INFO: task job=20:42 blocked for more than 2 seconds.
[    4.801626]       Not tainted 6.12.117 #1
[    4.801871] task:job=20          state:D stack:0     pid:42    tgid:42    ppid:2      flags:0x00004000
[    4.802134] Call Trace:
[    4.802223]  <TASK>
[    4.802270]  __schedule+0x5b8/0x5f3
[    4.807070]  down+0x40/0x50
[    4.807467]  my_thread+0x79/0x9e [my_module]
[    4.807736]  kthread+0xed/0xf5
[    4.808026]  </TASK>
";
    let text = std::fs::read_to_string(corpus_dir().join(mail)).expect("corpus");
    let mail_reports = parse(mail).len();
    let both = splat::parse(&format!("{text}{log}"));
    assert_eq!(both.len(), mail_reports + 1);
    let hung = both[mail_reports].hung_task.as_ref().unwrap();
    assert_eq!((hung.comm.as_str(), hung.pid), ("job=20", 42));
    assert!(both[mail_reports].lines[2].contains("task:job=20 "));
}
