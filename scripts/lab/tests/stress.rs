//! Abuse: each test boots a fresh guest and tries to break the module: sysfs writes racing with
//! the threads and with unloading, unloading in every state, and allocations that fail while it
//! loads. Nothing may oops or warn (beyond the lockdep report that `buggy` provokes), every bad
//! write must be refused, and the module must always end unloaded, threads and memory gone.

use lab::{boot, Boot, ReportKind, Rule, Rules, Run};

/// A generous deadline, for guests that share two cores with others; the lab's two CPUs, so that
/// the writers, the threads and the unloading really run at once.
fn run(name: &str, cmd: &str) -> Run {
    let run = boot(
        name,
        cmd,
        Boot {
            timeout_s: 900,
            ..Boot::default()
        },
    );
    run.assert_ok();
    run
}

/// Asserts that the kernel printed no report but the ones `allowed` (the lockdep report buggy mode
/// provokes, and the hung-task reports of the module's threads while they are deadlocked), and
/// those only about the module's threads: splat's check mode decides, with these rules. splat
/// reports every BUG, Oops and WARNING (as a generic report if nothing else), so none escapes.
fn assert_only(run: &Run, allowed: &[ReportKind]) {
    let rules = allowed.iter().fold(Rules::deny_all(), |rules, &kind| {
        rules.allowing(Rule::new().kind(kind).task("deadlock_*"))
    });
    run.assert_allowed(&rules);
}

/// Asserts that the module is gone: not in lsmod, no thread left (after `lab: end`).
fn assert_unloaded(run: &Run) {
    let end = run.find("lab: end").expect("end marker");
    for l in run.lines().skip(end) {
        assert!(
            !l.starts_with("rust_deadlock ") && !l.starts_with("lab: state "),
            "{}",
            run.failure(&format!("left behind: {l}"))
        );
    }
}

/// Two shells write valid and invalid values to `buggy` and `hold_ms` and read `status`, round
/// after round, while the main shell unloads and reloads the module ten times.
#[test]
fn sysfs_writes_race_with_threads_and_unloading() {
    let run = run(
        "sysfs-race",
        r#"load
# writer PARAM GOOD BAD: rounds of writing every value, until the loads and unloads below are
# done (30 rounds at least); a bad value must never be accepted.
writer() {
    p=$1 good=$2 bad=$3 i=0 refused=0
    while [ $i -lt 30 ] || [ ! -e /tmp/cycled ]; do
        for v in $good; do echo "$v" > $PARAMS/$p 2>/dev/null; done
        for v in $bad; do
            if echo "$v" > $PARAMS/$p 2>/dev/null; then echo "lab: accepted $p=$v"; else refused=$((refused + 1)); fi
        done
        cat $PARAMS/status > /dev/null 2>&1
        i=$((i + 1))
    done
    echo "lab: writer $p done, $i rounds, $refused refused"
}
writer buggy "0 1 y n" "banana 2 -1 yess on1" &
w1=$!
writer hold_ms "0 5 50" "10001 abc -1 1.5 0x10" &
w2=$!
for j in 1 2 3 4 5 6 7 8 9 10; do
    rmmod rust_deadlock || echo "lab: rmmod $j failed"
    load || echo "lab: load $j failed"
done
touch /tmp/cycled
wait $w1 $w2
timed rmmod rust_deadlock
echo "lab: end"; states; lsmod"#,
    );
    let lab = run.lab_lines();
    assert!(
        !lab.iter()
            .any(|l| l.starts_with("accepted ") || l.ends_with(" failed")),
        "{}",
        run.failure("a bad value was accepted, or a load/unload failed")
    );
    for p in ["buggy", "hold_ms"] {
        // Every bad write was refused, by the module or for want of a module to write to: five
        // bad values a round.
        let done = lab
            .iter()
            .find_map(|l| l.strip_prefix(&format!("writer {p} done, ")))
            .unwrap_or_else(|| panic!("{}", run.failure(&format!("writer {p} did not finish"))));
        let (rounds, refused) = done
            .strip_suffix(" refused")
            .and_then(|d| d.split_once(" rounds, "))
            .and_then(|(r, f)| Some((r.parse::<u32>().ok()?, f.parse::<u32>().ok()?)))
            .unwrap_or_else(|| panic!("{}", run.failure(&format!("writer {p}: '{done}'"))));
        assert!(
            rounds >= 30 && refused == 5 * rounds,
            "{}",
            run.failure(&format!("{p}: {refused} refused in {rounds} rounds"))
        );
    }
    assert!(
        run.console
            .contains("rust_deadlock: buggy: refused 'banana'")
            && run
                .console
                .contains("rust_deadlock: hold_ms: refused '10001': out of range"),
        "{}",
        run.failure("no refusal in the kernel log")
    );
    let (rc, ms) = run.timing("rmmod rust_deadlock").expect("final rmmod");
    assert!(
        rc == 0 && ms < 2000,
        "{}",
        run.failure(&format!("rmmod: exit {rc} in {ms} ms"))
    );
    assert_only(
        &run,
        &[ReportKind::CircularDependency, ReportKind::HungTask],
    );
    assert_unloaded(&run);
}

/// Unloading takes under 2 s in every state: right after insmod, while a thread holds a
/// semaphore for 10 s, right after a real deadlock, and while a shell writes `hold_ms` non-stop
/// and the threads go on (a shell flipping `buggy` would deadlock them on the way: the state
/// before).
#[test]
fn unload_in_every_state_is_quick() {
    let run = run(
        "unload-states",
        r#"load; echo "lab: state fresh"; timed rmmod rust_deadlock
load hold_ms=10000
wait_for 20 grep -q "state=waiting on=sem_a" $PARAMS/status
echo "lab: state holding"; timed rmmod rust_deadlock
load buggy=1
wait_for 30 blocked deadlock_a deadlock_b
echo "lab: state deadlocked"; timed rmmod rust_deadlock
load
( while :; do echo 50 > $PARAMS/hold_ms; echo 100 > $PARAMS/hold_ms; done 2>/dev/null ) &
writer=$!
wait_for 20 beyond deadlock_a 2 || exit 1
echo "lab: state writing"; timed rmmod rust_deadlock
kill $writer
echo "lab: end"; states; lsmod"#,
    );
    let timings = run.timings("rmmod rust_deadlock");
    assert_eq!(timings.len(), 4, "{}", run.failure("four timed unloads"));
    for (state, (rc, ms)) in ["fresh", "holding", "deadlocked", "writing"]
        .iter()
        .zip(timings)
    {
        assert!(
            rc == 0 && ms < 2000,
            "{}",
            run.failure(&format!("unload when {state}: exit {rc} in {ms} ms"))
        );
    }
    assert_only(
        &run,
        &[ReportKind::CircularDependency, ReportKind::HungTask],
    );
    assert_unloaded(&run);
}

/// Every slab allocation of the module's init fails in turn, each in a load of its own (fault
/// injection: failslab, driven by `fail-nth`, a static tool of `scripts/guest/` that loads the
/// module with the N-th allocation of its task failing and says whether that one did). The init
/// comes near the end of a load: each allocation from the last one back fails in turn, through
/// the ones after the init (the kernel survives them), the init's (it gives up, and says so),
/// until six in a row before it fail without a word from the module: about 35 loads where
/// sweeping every allocation of a load would take 300. (A bisection for the init's start was
/// misled before it: kmemleak's own records, whose failure the kernel survives, take turns with
/// the loader's allocations, and three of them in a row read as "after the init".) A failed load
/// must leave nothing loaded, and kmemleak must find nothing at the end.
#[test]
fn failing_allocations_make_insmod_fail_cleanly() {
    let run = boot(
        "failslab",
        r#"leaks_forget
F=/sys/kernel/debug/failslab
# Only the failures fail-nth asks for: failslab on (probability 100) for the tasks that ask
# (task-filter; no task sets make-it-fail), sleeping allocations too, without a stack each.
echo N > $F/ignore-gfp-wait; echo 0 > $F/verbose; echo Y > $F/task-filter
echo -1 > $F/times; echo 100 > $F/probability
dmesg -c > /dev/null
# try N: a load with its N-th allocation failing; sets fired (1: it did), rc (the load's result),
# left (when it did not fire) and init (1: the module's init ran and gave up). Two processes a
# load (fail-nth, dmesg), their output read by the shell: each process costs the guest 20-35 ms.
try() {
    /lab/fail-nth "$1" "$MOD" > /tmp/try
    read -r tool at fired rc left < /tmp/try
    [ "$tool" = fail-nth ] || { echo "lab: fail-nth did not run"; exit 1; }
    fired=${fired#fired=} rc=${rc#rc=} left=${left#left=}
    dmesg -c > /tmp/try
    init=0
    while IFS= read -r line; do
        case $line in *"rust_deadlock: load failed"*) init=1 ;; esac
    done < /tmp/try
    if [ "$rc" = 0 ]; then rmmod rust_deadlock || echo "lab: rmmod after $at failed"
    elif [ -d /sys/module/rust_deadlock ]; then echo "lab: loaded after failed load $at"; rmmod rust_deadlock; fi
    loads=$((loads + 1))
    echo "lab: load $loads: allocation $at fired=$fired rc=$rc init=$init"
}
loads=0
try 100000
[ "$fired" = 0 ] && [ "$rc" = 0 ] || { echo "lab: a load with no failure failed: $rc"; exit 1; }
total=$((100000 - left))
try 1
[ "$rc" != 0 ] && [ "$init" = 0 ] || { echo "lab: the first allocation of a load did not fail it"; exit 1; }
# From the last allocation back (a load's count drifts by a few from one load to the next), until
# six in a row fail outside the init once one failed in it; at most 150 loads.
n=$total in_init=0 outside=0
while { [ $in_init = 0 ] || [ $outside -lt 6 ]; } && [ $n -ge 1 ] && [ $n -gt $((total - 150)) ]; do
    try $n
    if [ "$init" = 1 ]; then in_init=$((in_init + 1)); outside=0; else outside=$((outside + 1)); fi
    n=$((n - 1))
done
echo 0 > $F/probability; echo Y > $F/ignore-gfp-wait
echo "lab: failslab: $total allocations in a load, the init's from about $((n + 7)): $in_init failed it, in $loads loads"
echo "lab: end"; states; lsmod
leaks"#,
        Boot {
            timeout_s: 300,
            with: vec![lab::guest_tool("fail-nth")],
            ..Boot::for_scenario(lab::DEFAULT_SCENARIO)
        },
    );
    run.assert_ok();
    let lab = run.lab_lines();
    assert!(
        !lab.iter()
            .any(|l| l.starts_with("loaded after") || l.starts_with("rmmod after")),
        "{}",
        run.failure("a failed insmod left the module loaded")
    );
    let failed_init = lab
        .iter()
        .find_map(|l| l.strip_prefix("failslab: "))
        .and_then(|l| l.split(": ").nth(1)?.split(' ').next()?.parse::<u32>().ok());
    // At least the module's state and its two threads' creation.
    assert!(
        failed_init.is_some_and(|n| n >= 3),
        "{}",
        run.failure(
            "the failslab loop did not finish, or failed fewer than 3 of the init's allocations"
        )
    );
    // Some of the failures hit the module's own allocations: its init said so and gave up.
    assert!(
        run.console
            .contains("rust_deadlock: load failed: error -12, nothing left running"),
        "{}",
        run.failure("no failure inside the module's init")
    );
    // ... among them the creation of a kthread (its kmalloc runs in insmod's context).
    assert!(
        run.console
            .contains("rust_deadlock: cannot start thread deadlock_"),
        "{}",
        run.failure("creating a kthread never failed")
    );
    assert!(
        lab.contains(&"kmemleak: 0"),
        "{}",
        run.failure("kmemleak found leaks")
    );
    assert_only(&run, &[]);
    assert_unloaded(&run);
}
