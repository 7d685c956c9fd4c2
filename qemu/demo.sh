# The demo `make run` plays in the guest (qemu/lib.sh is loaded). Kernel messages appear on the
# console as they are printed; the host checks the console afterwards.

step "insmod rust_deadlock.ko   (fixed mode: both threads take sem_a, then sem_b)"
load || exit 1
sleep 2
step "cat $PARAMS/status   (both threads make progress)"
param status
sleep 1
param status

step "echo 1 > $PARAMS/buggy   (deadlock_b now takes sem_b, then sem_a)"
setparam buggy 1 || exit 1
echo "    lockdep checks the order before the threads block: its report follows."
sleep 4

step "ps   (both threads stuck in uninterruptible sleep: STAT D)"
ps | grep -E 'PID|deadlock_' | grep -v grep
states
step "cat $PARAMS/status   (iteration counts frozen, each waits for the other's semaphore)"
param status

step "dmesg | grep -E 'WARNING|INFO: task'   (the kernel log keeps every report)"
dmesg | grep -E 'WARNING: possible circular|INFO: task'

step "rmmod rust_deadlock   (unloading breaks the deadlock)"
timed rmmod rust_deadlock || exit 1
lsmod | grep rust_deadlock && exit 1
echo "    module unloaded, threads gone."
