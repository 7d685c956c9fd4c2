# The demo `make run` plays in the guest (qemu/lib.sh is loaded). Kernel messages appear on the
# console as they are printed; the host checks the console afterwards. Every step waits for what
# it shows (progress, the report, the hung threads), never for a fixed time.
#
# The host says which scenario to play (scripts/lab/src/scenarios.rs): SCENARIO, PROGRESS (the
# threads that keep iterating when fixed), REPORT (a line of lockdep's report of the buggy variant;
# empty when lockdep cannot see the locks), ALSO (a line of the kernel's other report that comes
# last, if any), HUNG (the threads that end up in state D), FLIP (1:
# `buggy` can be flipped at run time), SPINS (1: the buggy variant spins every CPU forever), HARD
# (1: it leaves a CPU spinning in an interrupt handler, interrupts off, forever), UNLOADS (1: rmmod
# ends the buggy variant's threads; 0: nothing can wake them), SHOW (a symptom shown besides the
# reports: `top`, the spinning threads in top, from a CPU left over; `slab`, the kernel's slab
# memory before, while the backlog grows, once it is full, the module then printing FULL, and
# after rmmod; empty: none), PANIC (the sysctl under /proc/sys/kernel that makes the detector of
# the deadlock, PANIC_BY, panic the kernel, `make run PANIC=1`; empty: no panic).
# (The host's table is the one place these facts live: nothing here defaults them.)
: "${SCENARIO:?}" "${PROGRESS?}" "${REPORT?}" "${ALSO?}" "${HUNG?}" "${FLIP:?}" "${SPINS:?}" "${HARD:?}" "${UNLOADS:?}"
: "${SHOW?}" "${FULL?}" "${PANIC?}" "${PANIC_BY?}"

# show_slab WHY: a step that shows the kernel's slab memory (qemu/lib.sh's slab).
show_slab() {
    step "grep Slab: /proc/meminfo; grep kmalloc-4k /proc/slabinfo   ($1)"
    slab
}

# show_top: top's second frame (its %CPU is over the second before it, the first frame's over a
# moment): the summary and the first rows.
show_top() {
    top -b -d 1 -n 2 > /tmp/top || return 1
    awk '/^Mem:/ { n++ } n == 2' /tmp/top | head -n 12
}

if [ "$SPINS" = 1 ] || [ "$HARD" = 1 ]; then
    step "echo 1 > /proc/sys/kernel/watchdog_thresh   (report a CPU stuck for 2 s as a soft lockup, a CPU without timer interrupts for about 1 s as a hard lockup)"
    soft_lockup_after_2s || exit 1
fi

step "insmod rust_deadlock.ko scenario=$SCENARIO   (the fixed variant)"
load scenario="$SCENARIO" || exit 1
progressed $PROGRESS || exit 1
step "cat $PARAMS/status   (the threads make progress)"
param status
progressed $PROGRESS || exit 1
param status

if [ "$SHOW" = slab ]; then
    show_slab "the kernel's slab memory: the fixed variant's requests come and go"
    before=$_kb
fi

if [ -n "$PANIC" ]; then
    step "echo 1 > /proc/sys/kernel/$PANIC   (PANIC=1: the $PANIC_BY detector will panic the kernel instead of reporting and going on)"
    echo 1 > "/proc/sys/kernel/$PANIC" || exit 1
fi
if [ "$FLIP" = 1 ]; then
    step "echo 1 > $PARAMS/buggy   (the buggy variant, from now on)"
    setparam buggy 1 || exit 1
else
    step "rmmod; insmod rust_deadlock.ko scenario=$SCENARIO buggy=1   (a fresh start: lockdep forgets a module's lock orders when it is unloaded)"
    timed rmmod rust_deadlock || exit 1
    load scenario="$SCENARIO" buggy=1 || exit 1
fi
if [ -n "$REPORT" ]; then
    echo "    lockdep checks every acquisition before it can block: its report follows."
    wait_log 30 "$REPORT" || exit 1
else
    echo "    lockdep cannot see these semaphores: it prints nothing. Only the hung-task detector"
    echo "    will notice, once the threads have been stuck for 1 s."
fi
if [ -n "$PANIC" ]; then
    echo "    ... the $PANIC_BY detector reports the stuck thread and its stack, then panics the kernel:"
    echo "    the panic's message, the panicking CPU's stack, and a reset (panic=-1). The lab ends the"
    echo "    guest at the panic."
    while :; do sleep 60; done
fi
if [ "$SPINS" = 1 ] && [ "$SHOW" = top ]; then
    spinners=$(threads)
    echo "    The threads now spin forever with preemption off, a CPU each; this guest has a CPU more,"
    echo "    left to look."
    wait_for 30 waiting $spinners || exit 1
    step "cat $PARAMS/status   (the lock each thread spins on)"
    param status
    step "top -b -d 1 -n 2   (high CPU: the second frame, %CPU over 1 s, and its first rows)"
    show_top || exit 1
    echo "    Each spinner takes a whole CPU (33 %: top counts all three CPUs), all of it in the kernel (sys),"
    echo "    and stays in state R: it never sleeps, and never lets its CPU run anything else."
    echo "    ... the soft-lockup detector reports each spinning CPU, stuck for 2 s, then again:"
    wait_soft_lockup 30 $spinners || exit 1
    step "no rmmod   (rmmod would wait for the spinning threads forever)."
    echo "    A real system would need a reboot; the lab ends the guest."
    exit 0
fi
if [ "$SPINS" = 1 ]; then
    echo "    Both CPUs now spin forever with preemption off: nothing else runs in this guest again."
    echo "    The soft-lockup detector reports each CPU; the lab then powers the guest off."
    while :; do sleep 60; done
fi
if [ -n "$ALSO" ]; then
    echo "    ... and the kernel's other report:"
    wait_log 30 "$ALSO" || exit 1
fi
if [ "$HARD" = 1 ]; then
    echo "    The interrupt came in on the CPU of the thread that holds the lock: its handler spins"
    echo "    on that lock, interrupts off, and the thread it interrupted can never let go."
    echo "    That CPU takes no more timer interrupts: the other CPU's hard-lockup detector reports it,"
    echo "    with its stack (by NMI); the lab then powers the guest off."
    while :; do sleep 60; done
fi
if [ "$SHOW" = slab ]; then
    wait_for 30 slab_above $((before + 2048)) || exit 1
    show_slab "nothing frees the requests any more: the backlog grows"
fi
if [ -n "$HUNG" ]; then
    echo "    ... the hung-task detector reports each stuck thread:"
    wait_hung 30 $HUNG || exit 1
fi
if [ "$SHOW" = slab ]; then
    wait_log 30 "$FULL" || exit 1
    show_slab "the backlog is full: kernel memory that no process owns, so that no process looks bigger"
fi

step "cat $PARAMS/status   (the lock each thread waits on)"
param status
# Read before a peek (below) holds the module's parameter lock: status would wait for it.
states
ours=$(threads | tr '\n' '|' | sed 's/|$//')
reader=""
if [ -n "$HUNG" ]; then
    step "cat $PARAMS/peek &   (a user process reads a module file whose read takes the deadlocked lock)"
    cat "$PARAMS/peek" > /tmp/peek &
    reader=$!
    in_d() { state_in "$1"; [ "$_state" = D ]; }
    wait_for 30 in_d "$reader" || exit 1
    echo "    cat (pid $reader) now waits for the lock behind the deadlock, in state D, with the"
    echo "    module's parameter lock held: every other read of a parameter would wait too."
fi

step "ps   (STAT D: uninterruptible sleep, stuck for good)"
# The module's threads, and every other task stuck in D (a kworker running the module's work, the
# cat reading peek).
ps -o pid,stat,comm | grep -E "PID|^ *[0-9]+ +D|$ours"

step "dmesg   (the kernel log keeps every report; read it whole with dmesg | less)"
echo "    $(dmesg | grep -c 'WARNING: ') lockdep warning(s)," \
    "$(dmesg | grep -c 'INFO: task .* blocked for more than') hung-task report(s)"

if [ "$UNLOADS" = 0 ]; then
    step "no rmmod   (nothing can wake these threads: a task asleep in mutex_lock(), down_write() or"
    echo "    flush_work() waits for its lock or work and nothing else; rmmod would wait for them"
    echo "    forever too). A real system would need a reboot; the lab ends the guest."
    exit 0
fi
step "rmmod rust_deadlock   (unloading breaks the deadlock)"
timed rmmod rust_deadlock || exit 1
lsmod | grep rust_deadlock && exit 1
echo "    module unloaded, threads gone."
if [ -n "$reader" ]; then
    # Gone, or a zombie until this shell reaps it. Its status says nothing: after the text, cat
    # reads once more for the end of the file, and that read may find the file removed with the
    # module ("cat: read error: No such device").
    ended() { state_in "$1"; [ -z "$_state" ] || [ "$_state" = Z ]; }
    wait_for 10 ended "$reader" || exit 1
    wait "$reader"
    read -r said < /tmp/peek || exit 1
    echo "    cat $PARAMS/peek returned too: \"$said\""
fi
if [ "$SHOW" = slab ]; then
    show_slab "after rmmod: the backlog was freed with the module"
fi
