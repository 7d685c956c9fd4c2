# SPDX-License-Identifier: GPL-2.0
"""Read a deadlocked rust-deadlock guest with drgn and print what it finds, as JSON.

Run by `lab diagnose` (scripts/lab/src/diagnose.rs), which renders the report:

    drgn --qemu SOCKET -s vmlinux -s rust_deadlock.ko scripts/lab/drgn/deadlock.py
    drgn -c DUMP       -s vmlinux -s rust_deadlock.ko scripts/lab/drgn/deadlock.py

drgn has helpers for tasks, their states and stacks, but none for who waits on a semaphore, who
holds it, or lock_stat. This script reads those structures itself, in the layouts of both kernel
series the lab supports:

- the semaphore a task sleeps on: 7.x records it in `task->blocker` (CONFIG_DETECT_HUNG_TASK_BLOCKER,
  the low two bits are the lock type); otherwise it is the `sem` argument of the `__down_common`
  frame on the task's stack;
- the semaphore's waiters: 6.12 keeps them on `sem->wait_list`; 7.x points `sem->first_waiter` at
  the first of a ring of `struct semaphore_waiter`;
- the lock's name and holder: semaphores have no owner, and lockdep's records of held locks go
  stale once it has reported, so the module records both itself (`rust_deadlock::semaphore::
  SLEEPERS`: for each sleeping thread, its semaphore, the semaphore's name and holder record);
- the spinlock a running task spins on: the `lock` argument of `do_raw_spin_lock` on its stack (a
  live guest has no stack of a running task; a memory dump has, from each CPU's registers), and
  its owner as CONFIG_DEBUG_SPINLOCK records it;
- lock_stat: `lock_classes[]`, and the per-CPU `cpu_lock_stats[]` summed as /proc/lock_stat does.

Function names stay as the symbols have them (Rust's are mangled): the report demangles them.
"""

import json

from drgn import Object, cast
from drgn.helpers.linux.cpumask import for_each_possible_cpu
from drgn.helpers.linux.list import list_for_each_entry
from drgn.helpers.linux.module import find_module
from drgn.helpers.linux.percpu import per_cpu
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.sched import task_cpu, task_state_to_char

MODULE = "rust_deadlock"
BLOCKER_TYPE_MASK = 0x3
BLOCKER_TYPE_SEM = 0x1


def module_ranges():
    """The address ranges of the module's memory (text and data), or [] if it is not loaded."""
    mod = find_module(prog, MODULE)
    if not mod:
        return []
    return [
        (m.base.value_(), m.base.value_() + m.size.value_())
        for m in mod.mem
        if m.size.value_()
    ]


def inside(addr, ranges):
    return any(lo <= addr < hi for lo, hi in ranges)


def frames_of(task):
    """The task's stack trace, and its frames innermost first (function, whether inlined, file,
    line, pc), and what went wrong if there is no trace."""
    try:
        trace = prog.stack_trace(task)
    except Exception as err:  # a running task without saved registers, a freed stack, ...
        return None, [], str(err)
    frames = []
    for frame in trace:
        name = frame.name
        # An out-of-line frame's symbol is the linkage name, which for Rust is the full path
        # (mangled); DWARF's name is only the last path segment.
        if not frame.is_inline:
            try:
                name = frame.symbol().name
            except LookupError:
                # Past the thread's first frame (ret_from_fork_asm) the unwinder may read on into
                # whatever lies beyond the stack: no code there has a symbol.
                break
        try:
            file, line, _ = frame.source()
        except LookupError:
            file, line = None, None
        frames.append(
            {
                "function": name or hex(frame.pc),
                "inline": frame.is_inline,
                "file": file,
                "line": line,
                "pc": frame.pc,
            }
        )
    return trace, frames, None


def waited_semaphore(task, trace):
    """The address of the semaphore `task` sleeps on, or None."""
    try:
        blocker = task.blocker.value_()
    except AttributeError:
        blocker = 0
    if blocker & BLOCKER_TYPE_MASK == BLOCKER_TYPE_SEM:
        return blocker & ~BLOCKER_TYPE_MASK
    for frame in trace or []:
        if frame.name in ("__down_common", "___down_common"):
            try:
                return frame["sem"].value_()
            except (KeyError, LookupError):
                continue
    return None


def semaphore_waiters(addr):
    """The tasks on the semaphore's wait list, from the kernel's own structures."""
    sem = Object(prog, "struct semaphore *", addr)
    if hasattr(sem, "first_waiter"):  # 7.x: a ring of waiters, the first one pointed at
        first = sem.first_waiter
        if not first:
            return []
        tasks, waiter = [], first
        while True:
            tasks.append(waiter.task.value_())
            waiter = cast(
                "struct semaphore_waiter *", waiter.list.next
            )  # list is the first member
            if waiter.value_() == first.value_() or len(tasks) > 1000:
                return tasks
    return [
        w.task.value_()
        for w in list_for_each_entry("struct semaphore_waiter", sem.wait_list.address_of_(), "list")
    ]


def interrupt_entry(name):
    """Whether a function is where x86 enters an interrupt or exception from the code it stops."""
    return name.startswith("asm_") and any(
        word in name for word in ("sysvec", "interrupt", "nmi", "exc_")
    )


def waited_spinlock(trace):
    """The raw spinlock a running task spins on (the `lock` argument of `do_raw_spin_lock`), its
    lockdep name and its owner as CONFIG_DEBUG_SPINLOCK records it (task and CPU), or None.

    A stack can hold more than one such frame: an interrupt that came while the task spun can
    spin too, for a moment, on a lock such as a runqueue's, and a memory dump may catch that
    moment. The wait that was there before the interrupt came is the one that lasts, so a spin in
    the task's own context (below its outermost interrupt entry) comes first; a spin only inside
    an interrupt is taken when there is no other."""
    names = [frame.name for frame in trace or []]
    entries = [i for i, name in enumerate(names) if name and interrupt_entry(name)]
    task_from = entries[-1] + 1 if entries else 0
    spins = [i for i, name in enumerate(names) if name == "do_raw_spin_lock"]
    ordered = [i for i in spins if i >= task_from] + [i for i in spins if i < task_from]
    for i in ordered:
        try:
            lock = trace[i]["lock"]
        except (KeyError, LookupError):
            continue
        if lock.absent_:
            continue
        name = None
        if hasattr(lock, "dep_map") and lock.dep_map.name:
            name = lock.dep_map.name.string_().decode()
        owner = lock.owner.value_() if hasattr(lock, "owner") else 0
        owner_cpu = lock.owner_cpu.value_() if hasattr(lock, "owner_cpu") else None
        # DEBUG_SPINLOCK marks "no owner" as -1 (SPINLOCK_OWNER_INIT).
        if owner == (1 << 64) - 1:
            owner = 0
        return lock.value_(), name, owner, owner_cpu
    return None


def module_thread(task, ranges, frames):
    """Whether `task` is one of the module's kthreads: its thread function lies in the module
    (a running task may have no stack to show it), or its stack runs the module's code."""
    PF_KTHREAD = 0x00200000
    if task.flags.value_() & PF_KTHREAD and task.worker_private:
        kthread = cast("struct kthread *", task.worker_private)
        if inside(kthread.threadfn.value_(), ranges):
            return True
    return any(inside(f["pc"], ranges) for f in frames)


def read_ptr(obj):
    """The pointer an atomic (or any pointer-sized field) holds, read as raw memory."""
    return prog.read_u64(obj.address_)


def sleeper_records():
    """The module's record of each thread sleeping in down(): semaphore -> (name, holder)."""
    try:
        slots = prog["rust_deadlock::semaphore::SLEEPERS"]
    except KeyError:
        return {}
    records = {}
    for slot in slots:
        sem = read_ptr(slot.state)
        if not sem:
            continue
        name = read_ptr(slot.name)
        holder_record = read_ptr(slot.holder)
        records[sem] = {
            "name": prog.read(name, 64).split(b"\0")[0].decode() if name else None,
            "holder": prog.read_u64(holder_record) if holder_record else 0,
        }
    return records


def lock_stats(ranges):
    """lock_stat's numbers for each lock class whose key lives in the module."""
    try:
        classes = prog["lock_classes"]
        in_use = prog["lock_classes_in_use"]
        per_cpu_stats = prog["cpu_lock_stats"]
    except KeyError:
        return None  # no CONFIG_LOCK_STAT
    words = [w.value_() for w in in_use]
    cpus = list(for_each_possible_cpu(prog))
    out = []
    for i in range(len(classes)):
        if not (words[i // 64] >> (i % 64)) & 1:
            continue
        cls = classes[i]
        if not inside(cls.key.value_(), ranges):
            continue
        total = {"contentions": 0, "wait_total_ns": 0, "wait_max_ns": 0, "acquisitions": 0}
        wait_min = 0
        for cpu in cpus:
            s = per_cpu(per_cpu_stats, cpu)[i]
            for t in (s.read_waittime, s.write_waittime):
                nr = t.nr.value_()
                if not nr:
                    continue
                total["contentions"] += nr
                total["wait_total_ns"] += t.total.value_()
                total["wait_max_ns"] = max(total["wait_max_ns"], t.max.value_())
                m = t.min.value_()
                wait_min = m if not wait_min else min(wait_min, m)
            total["acquisitions"] += s.read_holdtime.nr.value_() + s.write_holdtime.nr.value_()
        name = cls.name.string_().decode() if cls.name else "?"
        out.append(dict(name=name, wait_min_ns=wait_min, **total))
    return out


def main():
    ranges = module_ranges()
    tasks = {t.value_(): t for t in for_each_task(prog)}
    records = sleeper_records()
    threads = []
    for addr, task in tasks.items():
        trace, frames, error = frames_of(task)
        if not module_thread(task, ranges, frames):
            continue
        thread = {
            "name": task.comm.string_().decode(),
            "pid": task.pid.value_(),
            "state": task_state_to_char(task),
            "frames": frames,
            "stack_error": error,
        }
        sem = waited_semaphore(task, trace)
        if sem:
            record = records.get(sem, {})
            holder = record.get("holder", 0)
            wait = {
                "kind": "semaphore",
                "lock": record.get("name"),
                "address": hex(sem),
                "on_wait_list": addr in semaphore_waiters(sem),
            }
            if holder in tasks:
                wait["holder"] = {
                    "name": tasks[holder].comm.string_().decode(),
                    "pid": tasks[holder].pid.value_(),
                }
            elif holder:
                wait["holder"] = {"gone": hex(holder)}
            thread["waits_on"] = wait
        spin = None if sem else waited_spinlock(trace)
        if spin:
            lock, name, holder, cpu = spin
            wait = {"kind": "spinlock", "lock": name, "address": hex(lock), "owner_cpu": cpu}
            if holder in tasks:
                wait["holder"] = {
                    "name": tasks[holder].comm.string_().decode(),
                    "pid": tasks[holder].pid.value_(),
                }
            thread["waits_on"] = wait
        thread["cpu"] = task_cpu(task)
        thread["on_cpu"] = bool(task.on_cpu.value_())
        threads.append(thread)
    threads.sort(key=lambda t: t["pid"])
    release = prog["init_uts_ns"].name.release.string_().decode()
    print(
        json.dumps(
            {
                "kernel": release,
                "module_loaded": bool(ranges),
                "lockdep_on": bool(prog["debug_locks"].value_()),
                "threads": threads,
                "classes": lock_stats(ranges),
            },
            indent=1,
        )
    )


main()
