# Shell helpers for the lab guest (busybox sh), sourced before every guest command and shell.
# Lines the host reads start with "lab: ".

MOD=/lab/rust_deadlock.ko
PARAMS=/sys/module/rust_deadlock/parameters

# mark TEXT: put "lab: TEXT" into the kernel log now, in order with the kernel's own messages.
# (What the guest command prints reaches the log through a pipe, a moment later: a kernel message
# printed meanwhile would come first. Use mark where a test compares the two orders.)
mark() { echo "lab: $*" > /dev/kmsg; }

# step TEXT: announce a step of a demo or test.
step() { echo; echo "==> $*"; }

# load [PARAM=VALUE...]: insmod the module.
load() { insmod "$MOD" "$@"; }

# param NAME: print a parameter's value.
param() { cat "$PARAMS/$1"; }

# setparam NAME VALUE: write a parameter through sysfs; prints "lab: set NAME=VALUE: ok|error: ...".
setparam() {
    if err=$( (echo "$2" > "$PARAMS/$1") 2>&1 ); then echo "lab: set $1=$2: ok"
    else echo "lab: set $1=$2: error: ${err##*: }"; return 1; fi
}

# iterations THREAD: how many iterations the thread has done.
iterations() { iterations_of "$1"; echo "$_n"; }

# iterations_of THREAD: sets _n to how many iterations the thread has done and _st to its state
# (running, waiting, stopped; both empty if it has none), from its status line, with the shell
# alone: the waits below ask every 20 ms, and under emulation each process started costs the
# guest 50-90 ms of CPU that the threads they wait for then lack.
iterations_of() {
    _n="" _st=""
    while read -r _name _count _s _; do
        [ "$_name" = "$1" ] && case $_count in
            iterations=*) _n=${_count#iterations=} _st=${_s#state=}; return ;;
        esac
    done < "$PARAMS/status"
}

# clock: sets _now to the milliseconds since boot, without a subshell (under emulation every
# fork costs milliseconds of CPU). /proc/uptime has hundredths; a leading zero must go, or the
# shell reads "08" as octal.
clock() { read -r _up _ < /proc/uptime; _f=${_up#*.}; _now=$(( ${_up%.*} * 1000 + 10 * ${_f#0} )); }

# now_ms: prints the milliseconds since boot.
now_ms() { clock; echo "$_now"; }

# timed CMD...: run CMD, then print "lab: CMD: exit N in M ms".
timed() {
    clock; _t0=$_now; "$@"; rc=$?; clock
    echo "lab: $*: exit $rc in $((_now - _t0)) ms"; return $rc
}

# threads: the names of the module's threads, one per line (from status while the module is
# loaded; after that, as status last showed them).
threads() {
    if [ -r "$PARAMS/status" ]; then
        while read -r _name _count _; do
            case $_count in iterations=*) echo "$_name" ;; esac
        done < "$PARAMS/status" > /tmp/lab-threads
    fi
    [ -f /tmp/lab-threads ] && while read -r _name; do echo "$_name"; done < /tmp/lab-threads
}

# state_of PID: the scheduler state letter of process PID (R, S, D, ...).
state_of() { state_in "$1"; echo "$_state"; }

# state_in PID: sets _state to the scheduler state letter of process PID (empty once it is gone).
# These helpers use the shell alone (see iterations_of): tests poll them.
state_in() {
    _state=""
    while read -r _key _value _; do
        [ "$_key" = State: ] && { _state=$_value; return; }
    done < "/proc/$1/status"
} 2>/dev/null

# find_tasks NAME...: one walk over /proc, shell builtins only (it is polled), that sets _found to
# "PID:NAME PID:NAME ..." for each task whose command name is one of NAMES.
find_tasks() {
    _names=" $* " _found=""
    for _d in /proc/[0-9]*; do
        read -r _comm < "$_d/comm" 2>/dev/null || continue
        case $_names in *" $_comm "*) _found="$_found ${_d#/proc/}:$_comm" ;; esac
    done
}

# states: the scheduler state of each of the module's threads, as "lab: state NAME STATE".
states() {
    find_tasks $(threads)
    for _e in $_found; do state_in "${_e%%:*}"; echo "lab: state ${_e#*:} $_state"; done
}

# soft_lockup_after_2s: make the soft-lockup detector report a CPU stuck for 2 s (the threshold
# is twice watchdog_thresh; the default reports after 20 s).
soft_lockup_after_2s() { echo 1 > /proc/sys/kernel/watchdog_thresh; }

# slab: the kernel's slab memory now: /proc/meminfo's Slab line and /proc/slabinfo's line of the
# 4 KiB kmalloc cache (the first time with slabinfo's header), then the same figures for the
# host, as "lab: slab KB kmalloc-4k N" (N: the objects in use); sets _kb to the kB.
slab() {
    _meminfo=$(grep '^Slab:' /proc/meminfo)
    _slabinfo=$(grep '^kmalloc-4k ' /proc/slabinfo)
    echo "$_meminfo"
    [ -n "${_slab_header:-}" ] || { grep '^# name' /proc/slabinfo; _slab_header=1; }
    echo "$_slabinfo"
    set -- $_meminfo; _kb=$2
    set -- $_slabinfo
    echo "lab: slab $_kb kmalloc-4k $2"
}

# slab_now: sets _slab to /proc/meminfo's Slab in kB, with the shell alone (it is polled).
slab_now() {
    _slab=0
    while read -r _key _value _; do
        [ "$_key" = Slab: ] && { _slab=$_value; return; }
    done < /proc/meminfo
}

# slab_above KB: /proc/meminfo's Slab is above KB kB.
slab_above() { slab_now; [ "$_slab" -gt "$1" ]; }

# waiting THREAD...: status says that each thread waits for a lock (asleep, or spinning).
waiting() {
    for _t in "$@"; do iterations_of "$_t"; [ "$_st" = waiting ] || return 1; done
}

# locks: the names of the module's lock classes, one per line (from status; empty when unloaded).
locks() { sed -n 's/^scenario=.* locks=//p' "$PARAMS/status" 2>/dev/null | tr ',' '\n'; }

# pid_of THREAD: the pid of the module's thread THREAD (kthreads have no command line for pidof).
pid_of() {
    find_tasks "$1"
    for _e in $_found; do echo "${_e%%:*}"; return 0; done
    return 1
}

# diag: what the guest itself can tell about a (deadlocked) module: each thread's state and kernel
# stack (/proc/PID/stack), the module's status (the lock each thread waits on, and its holder),
# SysRq w (blocked tasks) and d (held locks: once lockdep has reported, it says it is off),
# /proc/lockdep and /proc/lock_stat for the module's lock classes, and /proc/interrupts.
# Everything goes straight into the kernel log (kmsg), so that it stays in order with what SysRq
# makes the kernel print.
diag() {
    _locks=$(locks | tr '\n' '|'); _locks=${_locks%|}
    mark "diag: status"; kmsg < "$PARAMS/status"
    for _t in $(threads); do
        _p=$(pid_of "$_t") || { mark "diag: thread $_t: gone"; continue; }
        mark "diag: thread $_t pid $_p state $(state_of "$_p")"
        kmsg < "/proc/$_p/stack"
    done
    mark "diag: sysrq w (blocked tasks)"; echo w > /proc/sysrq-trigger
    mark "diag: sysrq d (held locks)"; echo d > /proc/sysrq-trigger
    mark "diag: /proc/lockdep (the module's classes)"
    grep -E ": ($_locks)\$" /proc/lockdep | kmsg
    mark "diag: /proc/lock_stat (the module's classes: contentions, waits in us, acquisitions)"
    grep -E "^ *($_locks):" /proc/lock_stat | kmsg
    mark "diag: /proc/interrupts"; kmsg < /proc/interrupts
    mark "diag: end"
}

# kmsg: copy standard input into the kernel log, a record per line, now.
kmsg() { while IFS= read -r _l; do printf '%s\n' "$_l" > /dev/kmsg; done; }

# Waiting for conditions, never for fixed times: a test that sleeps "long enough" fails whenever
# the emulated guest is slower than usual. Under emulation every wake-up of the guest costs host
# CPU, and every process it starts 20-35 ms of it, so what the kernel prints is waited for by
# reading /dev/kmsg, which blocks until the next record (wait_log and wait_hung, not a poll of
# dmesg), and a poll (wait_for) starts no process and backs off.
#
# nap MS: sleep MS milliseconds (at most 999) without starting a process (busybox's usleep and
# sleep are programs: 100 polls with usleep 20000 cost 2.7 CPU-seconds, with nap 20 0.8, as much
# as sleep 2 alone). It is a read that times out, on a FIFO nobody writes to (opened for reading
# and writing, so that the open never waits).
nap() {
    [ -p /tmp/lab-nap ] || mkfifo /tmp/lab-nap
    case ${#1} in 1) _s=0.00$1 ;; 2) _s=0.0$1 ;; *) _s=0.$1 ;; esac
    read -r -t "$_s" _ <> /tmp/lab-nap
    return 0
}

# wait_for SECS CMD...: run CMD until it succeeds, 20 ms after the first try, then at twice the
# interval each time up to 100 ms; after SECS seconds print "lab: timeout: CMD" and fail. Each
# poll wakes the guest: polling every 20 ms cost 0.33 CPU-seconds a second of waiting, most of a
# test's cost while its guest waits for a slow condition (and every guest waits longer when the
# host is busy); a quick condition is still seen within 20-40 ms.
wait_for() {
    clock; _deadline=$(( _now + $1 * 1000 )) _every=20; shift
    until "$@"; do
        clock
        if [ "$_now" -ge "$_deadline" ]; then echo "lab: timeout: $*"; return 1; fi
        nap "$_every"
        [ "$_every" -ge 100 ] || _every=$(( _every * 2 > 100 ? 100 : _every * 2 ))
    done
}

# wait_log SECS PATTERN [COUNT]: wait until the kernel log holds COUNT (default 1) records that
# match PATTERN (a basic regular expression, as grep's); after SECS seconds print
# "lab: timeout: logged PATTERN" and fail. /dev/kmsg gives every record still in the log, then
# blocks for the next one, so grep -m COUNT ends (status 0) only once COUNT records matched; the
# timeout kills it before (status 124); a reader the log overtook gets an error (status 2), and
# reads again. Two processes (timeout, grep): each one costs the guest 20-25 ms of host CPU.
wait_log() {
    clock; _deadline=$(( _now + $1 * 1000 ))
    while :; do
        _left=$(( (_deadline - _now + 999) / 1000 ))
        [ "$_left" -ge 1 ] && timeout "$_left" grep -m "${3:-1}" -e "$2" < /dev/kmsg > /dev/null 2>&1 && return 0
        clock
        if [ "$_now" -ge "$_deadline" ]; then echo "lab: timeout: logged $2"; return 1; fi
    done
}

# wait_hung SECS THREAD...: wait until the hung-task detector has reported each thread.
wait_hung() {
    clock; _until=$(( _now + $1 * 1000 )); shift
    for _t in "$@"; do
        clock; wait_log $(( (_until - _now + 999) / 1000 )) "INFO: task $_t:[0-9]* blocked for more than" || return 1
    done
}

# wait_soft_lockup SECS THREAD...: wait until the soft-lockup detector has reported the CPU of
# each thread (the task its report names).
wait_soft_lockup() {
    clock; _until=$(( _now + $1 * 1000 )); shift
    for _t in "$@"; do
        clock; wait_log $(( (_until - _now + 999) / 1000 )) "soft lockup - CPU#[0-9]* stuck for [0-9]*s! \[$_t:" || return 1
    done
}

# beyond THREAD N: the thread has done more than N iterations.
beyond() { iterations_of "$1"; [ "${_n:-0}" -gt "$2" ]; }

# progressed THREAD...: each thread finishes at least one more iteration, counted from now.
progressed() {
    for _t in "$@"; do iterations_of "$_t"; eval "_from_$_t=\$_n"; done
    for _t in "$@"; do eval "_n=\${_from_$_t:-0}"; wait_for 20 beyond "$_t" "$_n" || return 1; done
}

# blocked THREAD...: each thread sleeps uninterruptibly (state D).
blocked() {
    find_tasks "$@"
    for _t in "$@"; do
        _blocked=""
        for _e in $_found; do
            [ "${_e#*:}" = "$_t" ] || continue
            state_in "${_e%%:*}"
            [ "$_state" = D ] && { _blocked=1; break; }
        done
        [ -n "$_blocked" ] || return 1
    done
}

# leaks_forget: mount debugfs if needed, and forget every object kmemleak knows so far.
leaks_forget() {
    [ -d /sys/kernel/debug/kmemleak ] || [ -f /sys/kernel/debug/kmemleak ] \
        || mount -t debugfs debugfs /sys/kernel/debug
    echo clear > /sys/kernel/debug/kmemleak
}

# leaks: scan for leaks, print "lab: kmemleak: N" and kmemleak's report. kmemleak only reports
# objects older than 5 s, so this waits 6 s first: here the passing of time is the point.
leaks() {
    sleep 6
    echo scan > /sys/kernel/debug/kmemleak
    echo "lab: kmemleak: $(grep -c 'unreferenced object' /sys/kernel/debug/kmemleak)"
    cat /sys/kernel/debug/kmemleak
}
