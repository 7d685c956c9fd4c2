# The deadlock `make diagnose` and `make gdb` look at from the host (qemu/lib.sh is loaded): the
# scenario's fixed variant first, so that lock_stat sees its locks contended (lockdep, and with it
# lock_stat, stops at its first report), then the buggy variant until the hung-task detector has
# reported every thread that hangs (2 s in state D: a thread that merely waits its turn, e.g.
# leak_b while leak_a does a job, is in D too) and they are still in D. Then a user process is
# caught behind the deadlock: `cat` reads the module's `peek` parameter, which takes the
# scenario's first lock, and sleeps in state D (it holds the module's parameter lock meanwhile:
# nothing reads a parameter after it). Then "lab: deadlocked", and the guest waits to be looked
# at and powered off.
#
# The host sets SCENARIO, PROGRESS, HUNG, FLIP and SPINS as for qemu/demo.sh.
# (The host's table is the one place these facts live: nothing here defaults them.)
: "${SCENARIO:?}" "${PROGRESS?}" "${HUNG?}" "${FLIP:?}" "${SPINS:?}"

[ "$SPINS" = 1 ] && { soft_lockup_after_2s || exit 1; }
load scenario="$SCENARIO" || exit 1
# Two more iterations of each thread: time for the threads to contend.
progressed $PROGRESS && progressed $PROGRESS || exit 1
if [ "$FLIP" = 1 ]; then
    setparam buggy 1 || exit 1
else
    rmmod rust_deadlock && load scenario="$SCENARIO" buggy=1 || exit 1
fi
# Every CPU spinning: nothing runs here again; the host waits for the soft-lockup reports.
[ "$SPINS" = 1 ] && while :; do sleep 60; done
wait_hung 60 $HUNG && wait_for 60 blocked $HUNG || exit 1
cat "$PARAMS/peek" > /dev/null &
reader=$!
in_d() { [ "$(state_of "$1")" = D ]; }
wait_for 60 in_d "$reader" || exit 1
mark "caught pid $reader"
mark "deadlocked"
while :; do sleep 60; done
