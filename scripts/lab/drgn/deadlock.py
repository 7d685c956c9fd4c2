# SPDX-License-Identifier: GPL-2.0
"""Read a deadlocked guest with drgn and print what it finds, as JSON.

Run by `lab diagnose` (scripts/lab/src/diagnose.rs), which renders the report:

    drgn --qemu SOCKET -s vmlinux -s rust_deadlock.ko scripts/lab/drgn/deadlock.py
    drgn -c DUMP       -s vmlinux -s rust_deadlock.ko scripts/lab/drgn/deadlock.py

It reads the whole guest: every task asleep in state D or spinning on a spinlock, wherever it came
from (the module's kthreads, a kworker running a work item, a user process reading a file), and
the module's own threads whatever their state. For each, the lock it waits on, its kind, its
holder (or why none can be named), how long it has waited, and its stack. drgn's helpers are used
where they exist (tasks, stacks, `mutex_owner`, `rwsem_locked`, `rwsem_owner`, the waiters of a
completion, `kthread_data`, `task_rq`); the rest is read here, in the layouts of both kernel series
the lab supports:

- which lock a sleeping task waits on: 7.x records mutexes, semaphores and rwsems in
  `task->blocker` (CONFIG_DETECT_HUNG_TASK_BLOCKER; the low two bits are the kind); 6.12's
  CONFIG_DEBUG_MUTEXES points `task->blocked_on` at the mutex waiter, whose list leads to the
  mutex; otherwise the lock is an argument of a frame on the task's stack (`__down_common`'s
  `sem`, `rwsem_down_*_slowpath`'s `sem`, `__flush_work`'s `work`, the completion waits' `x`);
- a semaphore's waiters: 6.12 keeps them on `sem->wait_list`; 7.x points `sem->first_waiter` at
  the first of a ring of `struct semaphore_waiter`; its holder: semaphores have no owner, so the
  module records its own semaphores' holders (`rust_deadlock::semaphore::SLEEPERS`), and 7.x
  records the last holder of any (`sem->last_holder`);
- a work item being flushed: the kworker whose `worker->current_work` it is runs it;
- a completion has no owner: whoever would complete it cannot be read anywhere;
- the spinlock a running task spins on: the `lock` argument of `do_raw_spin_lock` on its stack (a
  live guest has no stack of a running task; a memory dump has, from each CPU's registers), and
  its owner as CONFIG_DEBUG_SPINLOCK records it;
- how long: a sleeping task left the CPU when its runqueue's clock read `se.exec_start` (the clock
  runs on with every tick: the lab's kernels tick periodically); a spinning task has run without a
  break for `se.sum_exec_runtime - se.prev_sum_exec_runtime`;
- lock_stat: `lock_classes[]`, and the per-CPU `cpu_lock_stats[]` summed as /proc/lock_stat does.

Function names stay as the symbols have them (Rust's are mangled): the report demangles them.
"""

import json

from drgn import Object, cast, container_of
from drgn.helpers.linux.completion import completion_for_each_task
from drgn.helpers.linux.cpumask import for_each_possible_cpu
from drgn.helpers.linux.kthread import kthread_data
from drgn.helpers.linux.list import list_for_each_entry
from drgn.helpers.linux.locking import RwsemLocked, mutex_owner, rwsem_locked, rwsem_owner
from drgn.helpers.linux.module import find_module
from drgn.helpers.linux.percpu import per_cpu
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.sched import task_cpu, task_rq, task_state_to_char

MODULE = "rust_deadlock"
# task->blocker (7.x, include/linux/hung_task.h): the low two bits say the kind of lock.
BLOCKER_TYPE_MASK = 0x3
BLOCKER_KINDS = {
    0x0: ("mutex", None),
    0x1: ("semaphore", None),
    0x2: ("rwsem", "reader"),
    0x3: ("rwsem", "writer"),
}
LOCK_TYPES = {
    "mutex": "struct mutex *",
    "semaphore": "struct semaphore *",
    "rwsem": "struct rw_semaphore *",
}
PF_WQ_WORKER = 0x00000020
PF_KTHREAD = 0x00200000
# kernel/locking/rwsem.c: the reader count's place in `count`, and `owner`'s reader-owned flag.
RWSEM_READER_SHIFT = 8
RWSEM_READER_OWNED = 0x1
# Frames whose argument is the lock a sleeping task waits on, where nothing else records it.
SEM_FRAMES = ("__down_common", "___down_common")
RWSEM_FRAMES = {"rwsem_down_read_slowpath": "reader", "rwsem_down_write_slowpath": "writer"}
MUTEX_FRAMES = ("__mutex_lock_common", "__mutex_lock")
FLUSH_FRAMES = ("__flush_work", "flush_work")
COMPLETION_FRAMES = ("do_wait_for_common", "__wait_for_common", "wait_for_common", "wait_for_common_io")


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


def frame_arg(trace, names, arg):
    """The argument `arg` of the innermost frame named one of `names` that still has it."""
    for frame in trace or []:
        if frame.name in names:
            try:
                value = frame[arg]
            except (KeyError, LookupError):
                continue
            if not value.absent_:
                return value
    return None


def mutex_of_waiter(waiter):
    """6.12 (CONFIG_DEBUG_MUTEXES): the mutex whose wait list holds `waiter` (a `struct
    mutex_waiter *`). The list's one node that is no waiter (a waiter's `magic` is itself) is the
    mutex's own `wait_list`."""
    node = waiter.list.address_of_()
    for _ in range(1000):
        node = node.next
        candidate = container_of(node, "struct mutex_waiter", "list")
        if candidate.magic.value_() != candidate.value_():
            return container_of(node, "struct mutex", "wait_list")
        if node.value_() == waiter.list.address_of_().value_():
            return None
    return None


def waited_lock(task, trace):
    """What a sleeping task waits on: (kind, role, object), or None. The kinds: semaphore, mutex,
    rwsem (role reader or writer), work (a work item being flushed), completion."""
    try:
        blocker = task.blocker.value_()
    except AttributeError:
        blocker = 0
    if blocker:
        kind, role = BLOCKER_KINDS[blocker & BLOCKER_TYPE_MASK]
        addr = blocker & ~BLOCKER_TYPE_MASK
        return kind, role, Object(prog, LOCK_TYPES[kind], addr)
    sem = frame_arg(trace, SEM_FRAMES, "sem")
    if sem is not None:
        return "semaphore", None, sem
    for name, role in RWSEM_FRAMES.items():
        sem = frame_arg(trace, (name,), "sem")
        if sem is not None:
            return "rwsem", role, sem
    try:
        blocked_on = task.blocked_on
    except AttributeError:
        blocked_on = None
    if blocked_on is not None and blocked_on.value_():
        if blocked_on.type_.type.type_name() == "struct mutex":  # 7.x's blocked_on
            return "mutex", None, blocked_on
        lock = mutex_of_waiter(blocked_on)
        if lock is not None:
            return "mutex", None, lock
    lock = frame_arg(trace, MUTEX_FRAMES, "lock")
    if lock is not None:
        return "mutex", None, lock
    # A flush waits on a completion of its own (the barrier queued behind the work item): the
    # work item is what it waits for.
    work = frame_arg(trace, FLUSH_FRAMES, "work")
    if work is not None:
        return "work", None, work
    done = frame_arg(trace, COMPLETION_FRAMES, "x")
    if done is not None:
        return "completion", None, done
    return None


def waiting_tasks(lock, waiter_type):
    """The tasks on a lock's own wait list: 7.x points `first_waiter` at the first of a ring of
    waiters (semaphores, mutexes, rwsems), 6.12 keeps a `wait_list`."""
    if hasattr(lock, "first_waiter"):
        first = lock.first_waiter
        if not first:
            return []
        tasks, waiter = [], first
        while len(tasks) < 1000:
            tasks.append(waiter.task.value_())
            waiter = container_of(waiter.list.next, waiter_type, "list")
            if waiter.value_() == first.value_():
                break
        return tasks
    return [w.task.value_() for w in list_for_each_entry(waiter_type, lock.wait_list.address_of_(), "list")]


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
    (a running task may have no stack to show it), or its stack runs the module's code. Kworkers
    running the module's work items and user processes calling into it are not."""
    flags = task.flags.value_()
    if not flags & PF_KTHREAD or flags & PF_WQ_WORKER:
        return False
    if task.worker_private:
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


def thread_waits():
    """The module's record of what each of its threads waits on besides semaphores (its `status`
    parameter shows it: `Ctx::waits_on`): task -> name."""
    try:
        stats = prog["rust_deadlock::scenario::STATS"]
    except KeyError:
        return {}
    waits = {}
    for slot in stats:
        task, name = read_ptr(slot.task), read_ptr(slot.waiting)
        if task and name:
            waits[task] = c_string(name)
    return waits


def c_string(addr):
    return prog.read(addr, 64).split(b"\0")[0].decode(errors="replace")


def symbol_at(addr):
    try:
        return prog.symbol(addr).name
    except LookupError:
        return None


def dep_name(lock, member="dep_map"):
    """The name lockdep knows the lock by (CONFIG_DEBUG_LOCK_ALLOC), or None."""
    try:
        name = getattr(lock, member).name
    except AttributeError:
        return None
    return name.string_().decode() if name else None


def task_ref(task):
    return {"name": task.comm.string_().decode(), "pid": task.pid.value_()}


def holder_of(addr, tasks):
    """A holder's description: a task that exists, or one that exited (only its address left)."""
    if addr in tasks:
        return task_ref(tasks[addr])
    return {"gone": hex(addr)}


def set_holder(wait, addr, tasks, source, otherwise):
    """Names the holder at `addr` and where it was read, or says why nobody can be named."""
    if addr:
        wait["holder"] = holder_of(addr, tasks)
        wait["holder_from"] = source
    else:
        wait["no_holder"] = otherwise


def describe_wait(kind, role, lock, task, tasks, records, waits):
    """What a sleeping task waits on: its kind, name, whether it is on the lock's own wait list,
    and its holder, or why none can be named."""
    addr = lock.value_()
    wait = {"kind": kind, "role": role, "address": hex(addr)}
    me = task.value_()
    if kind == "semaphore":
        record = records.get(addr)
        wait["lock"] = record["name"] if record else symbol_at(addr)
        wait["on_wait_list"] = me in waiting_tasks(lock, "struct semaphore_waiter")
        last = lock.last_holder.value_() if hasattr(lock, "last_holder") else 0
        if record and record["holder"]:
            set_holder(wait, record["holder"], tasks, "the module's record", None)
        else:
            set_holder(
                wait,
                last,
                tasks,
                "the semaphore's last holder (7.x)",
                "a semaphore has no owner, and nothing recorded who took it",
            )
    elif kind == "mutex":
        wait["lock"] = dep_name(lock) or symbol_at(addr)
        wait["on_wait_list"] = me in waiting_tasks(lock, "struct mutex_waiter")
        set_holder(
            wait,
            mutex_owner(lock).value_(),
            tasks,
            "the mutex's owner field",
            "the mutex has no owner now: it is being handed over",
        )
    elif kind == "rwsem":
        wait["lock"] = dep_name(lock) or symbol_at(addr)
        wait["on_wait_list"] = me in waiting_tasks(lock, "struct rwsem_waiter")
        state = rwsem_locked(lock)
        owner = rwsem_owner(lock).value_()
        if state == RwsemLocked.WRITE_LOCKED:
            wait["held_as"] = "writer"
            set_holder(
                wait, owner, tasks, "the rwsem's owner field", "the writer is not recorded"
            )
        elif state == RwsemLocked.READ_LOCKED:
            readers = lock.count.counter.value_() >> RWSEM_READER_SHIFT
            wait["held_as"] = "reader"
            wait["readers"] = readers
            reader_owned = lock.owner.counter.value_() & RWSEM_READER_OWNED
            if owner and reader_owned:
                # The owner field keeps the last reader to take it (CONFIG_DEBUG_RWSEMS clears it
                # when that reader leaves): with one reader left, that one holds it.
                wait["holder"] = holder_of(owner, tasks)
                wait["holder_from"] = "the rwsem's last reader" + (
                    "" if readers == 1 else f", one of {readers}: the others cannot be known"
                )
            else:
                wait["no_holder"] = (
                    f"held for reading by {readers}: an rwsem does not record its readers"
                )
        else:
            wait["no_holder"] = "the rwsem is free now: its waiters are being woken"
    elif kind == "work":
        wait["lock"] = dep_name(lock, "lockdep_map") or waits.get(me) or symbol_at(addr)
        wait["function"] = symbol_at(lock.func.value_())
        runner = next(
            (t for t in tasks.values() if current_work(t) == addr), None
        )
        if runner is not None:
            wait["holder"] = task_ref(runner)
            wait["holder_from"] = "the worker running it"
        else:
            wait["no_holder"] = "no worker runs the work item yet: it waits in its queue"
    elif kind == "completion":
        wait["lock"] = waits.get(me) or symbol_at(addr)
        waiters = list(completion_for_each_task(lock))
        wait["waiters"] = [task_ref(t) for t in waiters]
        wait["on_wait_list"] = me in [t.value_() for t in waiters]
        wait["no_holder"] = (
            "a completion has no owner, so which task would complete it is not recorded anywhere"
        )
    return wait


def current_work(task):
    """The work item a kworker is running (its address), or 0."""
    if not task.flags.value_() & PF_WQ_WORKER:
        return 0
    worker = cast("struct worker *", kthread_data(task))
    return worker.current_work.value_() if worker else 0


def origin(task, is_module, trace, frames, ranges):
    """Where a task came from: the module's kthread, a kworker (and the work item it runs), a user
    process (and the module's parameter it reads, if it does), or another kthread."""
    if is_module:
        return {"kind": "module"}
    flags = task.flags.value_()
    if flags & PF_WQ_WORKER:
        worker = cast("struct worker *", kthread_data(task))
        out = {"kind": "kworker"}
        if worker and worker.current_work:
            out["work"] = dep_name(worker.current_work, "lockdep_map")
            out["function"] = symbol_at(worker.current_func.value_())
        return out
    if flags & PF_KTHREAD:
        return {"kind": "kthread"}
    out = {"kind": "user"}
    mattr = frame_arg(trace, ("param_attr_show",), "mattr")
    if mattr is not None:
        attribute = container_of(mattr, "struct param_attribute", "mattr")
        out["reads"] = "/sys/module/{}/parameters/{}".format(
            attribute.param.mod.name.string_().decode(),
            attribute.param.name.string_().decode(),
        )
    out["in_module"] = any(inside(f["pc"], ranges) for f in frames)
    return out


def waited_ns(task, spinning):
    """How long a task has waited: a sleeper since it left the CPU (its runqueue's clock then was
    `se.exec_start`), a spinner since it last got the CPU (it has run without a break)."""
    se = task.se
    if spinning:
        return se.sum_exec_runtime.value_() - se.prev_sum_exec_runtime.value_()
    return max(0, task_rq(task).clock_task.value_() - se.exec_start.value_())


def main():
    ranges = module_ranges()
    tasks = {t.value_(): t for t in for_each_task(prog)}
    records = sleeper_records()
    waits = thread_waits()
    threads = []
    for addr, task in tasks.items():
        state = task_state_to_char(task)
        on_cpu = bool(task.on_cpu.value_())
        if state != "D" and not on_cpu and not module_thread(task, ranges, []):
            continue  # no need to unwind its stack
        trace, frames, error = frames_of(task)
        is_module = module_thread(task, ranges, frames)
        spin = waited_spinlock(trace) if on_cpu else None
        if not is_module and state != "D" and not spin:
            continue
        thread = {
            "name": task.comm.string_().decode(),
            "pid": task.pid.value_(),
            "state": state,
            "origin": origin(task, is_module, trace, frames, ranges),
            "frames": frames,
            "stack_error": error,
            "cpu": task_cpu(task),
            "on_cpu": on_cpu,
        }
        blocked = waited_lock(task, trace) if state == "D" else None
        if blocked:
            kind, role, lock = blocked
            thread["waits_on"] = describe_wait(kind, role, lock, task, tasks, records, waits)
            thread["waited_ns"] = waited_ns(task, False)
        elif spin:
            lock, name, holder, cpu = spin
            wait = {"kind": "spinlock", "lock": name, "address": hex(lock), "owner_cpu": cpu}
            set_holder(
                wait,
                holder,
                tasks,
                "the spinlock's owner field (CONFIG_DEBUG_SPINLOCK)",
                "the spinlock records no owner",
            )
            thread["waits_on"] = wait
            thread["waited_ns"] = waited_ns(task, True)
        elif state == "D":
            thread["waited_ns"] = waited_ns(task, False)
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
