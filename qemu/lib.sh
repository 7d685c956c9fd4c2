# Shell helpers for the lab guest (busybox sh), sourced before every guest command and shell.
# Lines the host reads start with "lab: ".

MOD=/lab/rust_deadlock.ko
PARAMS=/sys/module/rust_deadlock/parameters

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
iterations() { sed -n "s/^$1 iterations=\([0-9]*\) .*/\1/p" "$PARAMS/status"; }

# now_ms: milliseconds since boot.
now_ms() { read -r up _ < /proc/uptime; echo $(( ${up%.*} * 1000 + 10 * ${up#*.} )); }

# timed CMD...: run CMD, then print "lab: CMD: exit N in M ms".
timed() {
    t0=$(now_ms); "$@"; rc=$?; t1=$(now_ms)
    echo "lab: $*: exit $rc in $((t1 - t0)) ms"; return $rc
}

# states: the scheduler state of each of the module's threads, as "lab: state NAME STATE".
states() {
    for d in /proc/[0-9]*; do
        read -r comm < "$d/comm" 2>/dev/null || continue
        case $comm in deadlock_*) echo "lab: state $comm $(sed -n 's/^State:\t\(.\).*/\1/p' "$d/status")" ;; esac
    done
}
