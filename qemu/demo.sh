# The demo `make run` plays in the guest (qemu/lib.sh is loaded). Kernel messages appear on the
# console as they are printed; the host checks the console afterwards. Every step waits for what
# it shows (progress, the report, the hung threads), never for a fixed time.

step "insmod rust_deadlock.ko   (fixed mode: both threads take sem_a, then sem_b)"
load || exit 1
progressed deadlock_a deadlock_b || exit 1
step "cat $PARAMS/status   (both threads make progress)"
param status
progressed deadlock_a deadlock_b || exit 1
param status

step "echo 1 > $PARAMS/buggy   (deadlock_b now takes sem_b, then sem_a)"
setparam buggy 1 || exit 1
echo "    lockdep checks the order before the threads block: its report follows."
wait_for 30 logged "possible circular locking dependency detected" || exit 1
echo "    ... and the hung-task detector reports each thread once it has been stuck for 2 s:"
wait_for 30 hung deadlock_a deadlock_b || exit 1

step "ps   (both threads stuck in uninterruptible sleep: STAT D)"
ps -o pid,stat,comm | grep -E 'PID|deadlock_'
states
step "cat $PARAMS/status   (iteration counts frozen, each waits for the other's semaphore)"
param status

step "dmesg   (the kernel log keeps every report; read it whole with dmesg | less)"
echo "    $(dmesg | grep -c 'possible circular locking') circular-dependency report(s)," \
    "$(dmesg | grep -c 'INFO: task .* blocked for more than') hung-task report(s)"

step "rmmod rust_deadlock   (unloading breaks the deadlock)"
timed rmmod rust_deadlock || exit 1
lsmod | grep rust_deadlock && exit 1
echo "    module unloaded, threads gone."
