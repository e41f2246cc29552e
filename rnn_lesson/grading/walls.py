"""The worker's walls: what the operating system enforces before any learner code runs, and what
ctypes cannot get past (the course guard, guard.py, is the friendly line in front of them).

`enter_walls`, right after the worker starts: its own session; its standard streams on /dev/null
and every other inherited descriptor closed; its memory (RLIMIT_AS), CPU time (the limit + 5 s)
and file sizes (0) capped, no core files; root dropped to nobody (after it has imported what
training needs: a learner's code cannot read root's files); killed when its parent (the
forkserver, which ends with the kernel) ends, and not dumpable; no new processes or threads
(RLIMIT_NPROC 0 when it is not root); one torch thread; and on Linux x86_64 and aarch64 a seccomp
filter (`_seccomp_program`): signals only to itself, no ptrace or reading other processes' memory,
no sockets, no exec, fork or new processes (threads only), no file opened for writing, created,
renamed, removed, linked, truncated or changed, no mounts, no raising limits, and nothing done
to (or read of) another process's priority, CPU affinity, scheduling, I/O priority or limits
(`setpriority`, `sched_*`, `ioprio_*`, `prlimit64` only on itself: the review's worker, running
as the kernel's own user, had left the kernel at nice 19 on one CPU with SCHED_IDLE); its
environment cut to a few variables (`_scrub_environment`: the kernel's or the teacher's
variables never reach learner code, and the copy the process started with is zeroed); and where the
kernel has Landlock (5.13 and later), files readable only under Python's installation and the
course's folder (so no pre-trained weights or other files read past the guard, by
torch.from_file or ctypes). On other platforms (macOS, Windows) there is no seccomp filter: the
guard, the limits and the separate processes remain, and ctypes can get past the guard there.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import importlib
import math
import os
import platform
import signal
import sys
import time
from pathlib import Path

# Python's installation and the course's folder: where the worker may read files (the guard's
# prefixes; readable_folders adds site-packages for Landlock).
PYTHON_AND_COURSE = frozenset({sys.prefix, sys.base_prefix, sys.exec_prefix,
                               str(Path(__file__).resolve().parents[2])})
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
NOBODY = 65534
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_SET_SECCOMP, _PR_SET_NO_NEW_PRIVS = 1, 4, 22, 38  # prctl options


def enter_walls(memory_gib: float, cpu_seconds: float, keep: tuple[int, ...]) -> dict[str, bool]:
    """Everything that confines the worker before any learner code runs (the module's
    docstring), but for the descriptors in `keep`; which walls are up."""
    up = {}
    with contextlib.suppress(OSError, AttributeError):
        os.setsid()  # its own session and process group: the kernel kills the group
    _quiet_and_closed(keep)
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    _load_what_training_needs()
    up["environment"] = _scrub_environment()
    up["limits"] = _limit(memory_gib, cpu_seconds)
    if root:
        try:
            up["nobody"] = _become_nobody()
        except OSError:
            up["nobody"] = False
            return up
    up["dies with its parent"] = _die_with_parent()
    not_dumpable()
    import torch

    torch.set_num_threads(1)
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        up["no processes"] = _set_limit("RLIMIT_NPROC", 0)
    up["landlock"] = install_landlock(readable_folders())
    up["seccomp"] = install_seccomp()
    return up


def _quiet_and_closed(keep: tuple[int, ...]) -> None:
    """Standard streams to /dev/null (learner prints are captured; nothing reaches a terminal or a
    file), every other inherited descriptor closed (the forkserver's, the resource tracker's)."""
    if sys.platform == "win32":
        return
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        if fd not in keep:
            os.dup2(null, fd)
    keep = set(keep) | {0, 1, 2}
    try:
        open_fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        open_fds = list(range(3, 256))
    for fd in open_fds:
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


# What a learner's code may import once the worker runs as nobody (who cannot read root's files,
# where Python itself may live) or behind Landlock: imported before the walls go up.
_PRELOAD = ("math", "copy", "random", "collections", "functools", "itertools", "operator",
            "statistics", "typing", "dataclasses", "time", "string", "re", "json", "base64", "io",
            "numbers", "heapq", "bisect", "textwrap", "enum", "abc", "warnings", "contextlib",
            "types", "weakref", "struct", "array", "fractions", "decimal", "pickle", "numpy",
            "torch.nn.functional", "torch.nn.init", "torch.nn.utils.rnn", "torch.optim",
            "torch.optim.lr_scheduler", "torch.utils.data")


def _load_what_training_needs() -> None:
    """Import what a learner's code and one training run need (modules torch imports lazily
    included, and the temporary folder some of them look up by writing a probe file), while
    files can still be read and written."""
    for name in _PRELOAD:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    import tempfile

    with contextlib.suppress(OSError):
        tempfile.gettempdir()  # cached from now on
    import torch
    from torch import nn

    from ..training import TorchState, _train_one_epoch, evaluate

    state = TorchState.now()
    with torch.random.fork_rng(devices=[]):
        x, y = torch.zeros(4, 3, 2), torch.zeros(4, dtype=torch.long)
        for cell in (nn.RNN, nn.LSTM, nn.GRU):
            cell(2, 2, num_layers=2, batch_first=True, dropout=0.1)(x)[0].sum().backward()
        from ..data import Split
        from ..models import ModelConfig, build_model
        from ..training import TrainConfig

        model = build_model(ModelConfig(input_size=2, hidden_size=2))
        config = TrainConfig(max_epochs=1, device="cpu", grad_clip=1.0)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        _train_one_epoch(model, optimizer, Split(x, y), config, torch.Generator().manual_seed(0))
        evaluate(model, Split(x, y))
        model.load_state_dict({k: v.clone() for k, v in model.state_dict().items()})
        handle = model.register_forward_hook(lambda *args: None)
        handle.remove()
    state.restore()


# What the worker's environment keeps (the rest, the kernel's or the teacher's variables, never
# reaches learner code): locale and PATH; HOME where nothing can be written; one thread for
# OpenMP and MKL (torch has read them already; set for anything that reads them later).
_KEPT_VARIABLES = ("PATH", "LANG", "LANGUAGE", "TZ")
_SET_VARIABLES = {"HOME": "/nonexistent", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _scrub_environment() -> bool:
    """os.environ (and the C library's environment) down to `_KEPT_VARIABLES`, LC_* and
    `_SET_VARIABLES`; on Linux the block of variables the process started with (which
    /proc/self/environ and a scan of the stack would still show) is zeroed. Training needs none
    of them: torch and numpy read theirs when they are imported, before this."""
    kept = {name: value for name, value in os.environ.items()
            if name in _KEPT_VARIABLES or name.startswith("LC_")}
    kept.update(_SET_VARIABLES)
    os.environ.clear()  # unsetenv: the C library's `environ` too
    os.environ.update(kept)  # setenv copies: nothing points into the initial block any more
    if not sys.platform.startswith("linux"):
        return True
    try:
        with open("/proc/self/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        start, end = int(fields[47]), int(fields[48])  # env_start, env_end (fields 50 and 51)
        if 0 < start < end and end - start < 2**24:
            ctypes.memset(start, 0, end - start)
    except (OSError, IndexError, ValueError):
        return False
    return True


def _set_limit(name: str, value: int) -> bool:
    try:
        import resource

        resource.setrlimit(getattr(resource, name), (value, value))
        return True
    except (ImportError, AttributeError, ValueError, OSError):
        return False


def _limit(memory_gib: float, cpu_seconds: float) -> bool:
    """Memory (address space in use now + the allowance), CPU time (the caller passes the time
    limit + a margin: a worker the kernel somehow failed to kill dies anyway), no file growth
    (writes fail, the signal ignored), no core files."""
    try:
        import resource

        with open("/proc/self/statm") as statm:  # Linux: pages of address space in use now
            in_use = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (ImportError, OSError):  # Windows, macOS: no memory cap
        in_use = None
    done = True
    if in_use is not None:
        memory = in_use + int(memory_gib * 2**30)
        done &= _set_limit("RLIMIT_AS", memory)
    used = time.process_time()
    done &= _set_limit("RLIMIT_CPU", int(math.ceil(used + cpu_seconds)))
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    done &= _set_limit("RLIMIT_FSIZE", 0)
    done &= _set_limit("RLIMIT_CORE", 0)
    return done


def cap_address_space(extra_bytes: int) -> bool:
    """Linux: RLIMIT_AS at the address space in use now + `extra_bytes` (the grader's cap: a
    MemoryError, not a machine out of memory). False where it cannot be measured or set."""
    try:
        with open("/proc/self/statm") as statm:
            in_use = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return False
    return _set_limit("RLIMIT_AS", in_use + int(extra_bytes))


def _become_nobody() -> bool:
    """Root drops to nobody (uid and gid 65534, no supplementary groups): it can neither read nor
    write root's files, nor signal or trace root's processes, for good."""
    try:
        import pwd

        uid, gid = pwd.getpwnam("nobody")[2:4]
    except (ImportError, KeyError):
        uid = gid = NOBODY
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    return os.geteuid() == uid


def _die_with_parent() -> bool:
    """Linux: SIGKILL when the parent (the forkserver, which ends when the kernel does) ends. Set
    after the change of user, which clears it."""
    if not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    try:
        if ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:  # the parent ended before the call
        os._exit(1)
    return True


def not_dumpable() -> None:
    """Linux: no core file, and /proc/<pid>/mem (and maps, environ...) of this process cannot be
    opened by another process of the same user (only by root with CAP_SYS_PTRACE). The grader
    calls it too."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


# -- Landlock (Linux 5.13 and later): files can be read only where Python and the course live


def readable_folders() -> list[str]:
    """Where the worker may read files: Python's installation, its site-packages, the course."""
    import site

    folders = set(PYTHON_AND_COURSE)
    with contextlib.suppress(AttributeError):
        folders.update(site.getsitepackages())
    with contextlib.suppress(AttributeError):
        folders.add(site.getusersitepackages())
    return sorted(f for f in folders if os.path.isdir(f))


def install_landlock(folders: list[str]) -> bool:
    """Linux: from here on this process reads only files under `folders`, and creates, writes,
    removes or renames none (the kernel refuses: ctypes and torch.from_file included). False
    where Landlock is missing (older kernels, other systems): the audit hook still refuses
    Python's own opens outside these folders."""
    if not sys.platform.startswith("linux") or seccomp_arch() is None:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))  # the ABI version
    if abi < 1:
        return False
    handled = (1 << {1: 13, 2: 14, 3: 15, 4: 15}.get(abi, 16)) - 1  # every access right it knows
    read = (1 << 0) | (1 << 2) | (1 << 3)  # EXECUTE, READ_FILE, READ_DIR

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    handled_access = ctypes.c_uint64(handled)
    ruleset = libc.syscall(444, ctypes.byref(handled_access), ctypes.c_size_t(8), ctypes.c_uint32(0))
    if ruleset < 0:
        return False
    try:
        for folder in folders:
            try:
                fd = os.open(folder, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                rule = PathBeneath(read, fd)
                libc.syscall(445, ruleset, 1, ctypes.byref(rule), ctypes.c_uint32(0))
            finally:
                os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return False
        return libc.syscall(446, ruleset, ctypes.c_uint32(0)) == 0
    finally:
        os.close(ruleset)


# -- the seccomp filter (Linux x86_64 and aarch64)

_ARCHES = {
    "x86_64": (0xC000003E, dict(
        kill=62, tkill=200, tgkill=234, rt_sigqueueinfo=129, rt_tgsigqueueinfo=297,
        pidfd_send_signal=424, pidfd_open=434, pidfd_getfd=438, ptrace=101,
        process_vm_readv=310, process_vm_writev=311, socket=41, socketpair=53, connect=42,
        bind=49, listen=50, accept=43, accept4=288, sendto=44, sendmsg=46, sendmmsg=307,
        execve=59, execveat=322, fork=57, vfork=58, clone=56, clone3=435, open=2, openat=257,
        creat=85, openat2=437, rename=82, renameat=264, renameat2=316, unlink=87, unlinkat=263,
        mkdir=83, mkdirat=258, rmdir=84, link=86, linkat=265, symlink=88, symlinkat=266,
        truncate=76, ftruncate=77, fallocate=285, chmod=90, fchmod=91, fchmodat=268,
        fchmodat2=452, chown=92, fchown=93, lchown=94, fchownat=260, mknod=133, mknodat=259,
        mount=165, umount2=166, pivot_root=155, chroot=161, setrlimit=160, prlimit64=302,
        prctl=157, ioctl=16, fcntl=72, utime=132, utimes=235, utimensat=280, futimesat=261,
        setxattr=188, lsetxattr=189, fsetxattr=190, removexattr=197, lremovexattr=198,
        fremovexattr=199, io_uring_setup=425, io_uring_enter=426, io_uring_register=427,
        unshare=272, setns=308, bpf=321, perf_event_open=298, userfaultfd=323, keyctl=250,
        add_key=248, request_key=249, name_to_handle_at=303, open_by_handle_at=304,
        shmget=29, msgget=68, semget=64, mq_open=240, mq_unlink=241, open_tree=428,
        move_mount=429, fsopen=430, fsconfig=431, fsmount=432, mount_setattr=442,
        getpriority=140, setpriority=141, sched_setparam=142, sched_getparam=143,
        sched_setscheduler=144, sched_getscheduler=145, sched_rr_get_interval=148,
        sched_setaffinity=203, sched_getaffinity=204, ioprio_set=251, ioprio_get=252,
        migrate_pages=256, get_robust_list=274, move_pages=279, kcmp=312, sched_setattr=314,
        sched_getattr=315)),
    "aarch64": (0xC00000B7, dict(  # the generic table (no open, creat, fork...: the *at calls)
        kill=129, tkill=130, tgkill=131, rt_sigqueueinfo=138, rt_tgsigqueueinfo=240,
        pidfd_send_signal=424, pidfd_open=434, pidfd_getfd=438, ptrace=117,
        process_vm_readv=270, process_vm_writev=271, socket=198, socketpair=199, connect=203,
        bind=200, listen=201, accept=202, accept4=242, sendto=206, sendmsg=211, sendmmsg=269,
        execve=221, execveat=281, clone=220, clone3=435, openat=56, openat2=437, renameat=38,
        renameat2=276, unlinkat=35, mkdirat=34, linkat=37, symlinkat=36, truncate=45,
        ftruncate=46, fallocate=47, fchmod=52, fchmodat=53, fchmodat2=452, fchownat=54,
        fchown=55, mknodat=33, mount=40, umount2=39, pivot_root=41, chroot=51, setrlimit=164,
        prlimit64=261, prctl=167, ioctl=29, fcntl=25, utimensat=88, setxattr=5, lsetxattr=6,
        fsetxattr=7, removexattr=14, lremovexattr=15, fremovexattr=16, io_uring_setup=425,
        io_uring_enter=426, io_uring_register=427, unshare=97, setns=268, bpf=280,
        perf_event_open=241, userfaultfd=282, keyctl=219, add_key=217, request_key=218,
        name_to_handle_at=264, open_by_handle_at=265, shmget=194, msgget=186, semget=190,
        mq_open=180, mq_unlink=181, open_tree=428, move_mount=429, fsopen=430, fsconfig=431,
        fsmount=432, mount_setattr=442, ioprio_set=30, ioprio_get=31, get_robust_list=100,
        sched_setparam=118, sched_setscheduler=119, sched_getscheduler=120, sched_getparam=121,
        sched_setaffinity=122, sched_getaffinity=123, sched_rr_get_interval=127,
        setpriority=140, getpriority=141, migrate_pages=238, move_pages=239, kcmp=272,
        sched_setattr=274, sched_getattr=275)),
}
# Refused outright (EPERM): tracing and other processes' memory, sockets, programs, new
# processes, every change to the file system, mounts and namespaces, raising limits, System V
# and POSIX IPC objects (they outlive the process), io_uring (its operations bypass seccomp).
_DENIED = (
    "pidfd_send_signal", "pidfd_open", "pidfd_getfd", "ptrace", "process_vm_readv",
    "process_vm_writev", "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    "sendto", "sendmsg", "sendmmsg", "execve", "execveat", "fork", "vfork", "creat", "rename",
    "renameat", "renameat2", "unlink", "unlinkat", "mkdir", "mkdirat", "rmdir", "link", "linkat",
    "symlink", "symlinkat", "truncate", "ftruncate", "fallocate", "chmod", "fchmod", "fchmodat",
    "fchmodat2", "chown", "fchown", "lchown", "fchownat", "mknod", "mknodat", "mount", "umount2",
    "pivot_root", "chroot", "setrlimit", "utime", "utimes", "utimensat", "futimesat",
    "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "unshare", "setns", "bpf",
    "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key", "name_to_handle_at",
    "open_by_handle_at", "shmget", "msgget", "semget", "mq_open", "mq_unlink", "open_tree",
    "move_mount", "fsopen", "fsconfig", "fsmount", "mount_setattr", "kcmp")
# Calls on a process named by its pid (argument 0), allowed on this process only (0 or its pid):
# another process's scheduling, CPU affinity, memory placement, robust futex list.
_SELF_ONLY = ("sched_setparam", "sched_getparam", "sched_setscheduler", "sched_getscheduler",
              "sched_rr_get_interval", "sched_setaffinity", "sched_getaffinity", "sched_setattr",
              "sched_getattr", "migrate_pages", "move_pages", "get_robust_list")
_PRIO_PROCESS, _IOPRIO_WHO_PROCESS = 0, 1  # PRIO_PGRP/PRIO_USER, IOPRIO_WHO_PGRP/_USER refused
_NOT_THERE = ("clone3", "openat2")  # ENOSYS: glibc falls back to clone and openat, checked below
_CLONE_THREAD = 0x00010000
_TIOCSTI = 0x5412  # pushes characters into a terminal's input
_F_SETOWN, _F_SETSIG, _F_SETOWN_EX = 8, 10, 15  # SIGIO to another process
_KILL_PROCESS, _ALLOW, _ERRNO = 0x80000000, 0x7FFF0000, 0x00050000
_LD, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06  # BPF_LD|W|ABS, JMP|JEQ|K, ..., RET|K


def _seccomp_program(arch: str, pid: int) -> list[tuple[int, int, int, int]]:
    """The filter as BPF instructions (code, jt, jf, k) for `arch` and the worker's `pid`."""
    audit_arch, numbers = _ARCHES[arch]
    allow, refuse = (_RET, 0, 0, _ALLOW), (_RET, 0, 0, _ERRNO | errno.EPERM)

    def low(i: int) -> int:  # offsetof(struct seccomp_data, args[i]), little-endian
        return 16 + 8 * i

    def only_self(i: int) -> list:  # the call's argument i is this process's pid (not -1, not 0)
        return [(_LD, 0, 0, low(i)), (_JEQ, 0, 3, pid), (_LD, 0, 0, low(i) + 4), (_JEQ, 0, 1, 0),
                allow, refuse]

    def deny_bits(i: int, mask: int) -> list:
        return [(_LD, 0, 0, low(i)), (_JSET, 0, 1, mask), refuse, allow]

    def deny_values(i: int, values: tuple[int, ...]) -> list:
        return [(_LD, 0, 0, low(i))] + [(_JEQ, len(values) - n, 0, value)
                                        for n, value in enumerate(values)] + [allow, refuse]

    def only(*conditions: tuple[int, tuple[int, ...]]) -> list:
        """Allowed when every condition holds: (argument, values it may take), compared as 64
        bits (the high word 0: a negative or padded pid is refused); EPERM otherwise."""
        words = []
        for i, values in conditions:
            words += [(low(i), values), (low(i) + 4, (0,))]
        starts, size = [], 0  # where each word's load is
        for _, values in words:
            starts.append(size)
            size += 1 + len(values)
        refuse_at, allow_at = size, size + 1
        body = []
        for w, (offset, values) in enumerate(words):
            passed = starts[w + 1] if w + 1 < len(words) else allow_at  # this word holds
            body.append((_LD, 0, 0, offset))
            for n, value in enumerate(values):
                here = len(body) + 1  # jumps count from the next instruction
                failed = here if n < len(values) - 1 else refuse_at
                body.append((_JEQ, passed - here, failed - here, value))
        return body + [refuse, allow]

    rules = {name: [refuse] for name in _DENIED}
    rules.update({name: [(_RET, 0, 0, _ERRNO | errno.ENOSYS)] for name in _NOT_THERE})
    rules.update({name: only((0, (0, pid))) for name in _SELF_ONLY})
    rules.update({name: only_self(0) for name in ("kill", "tkill", "tgkill", "rt_sigqueueinfo",
                                                  "rt_tgsigqueueinfo")})
    rules.update({"open": deny_bits(1, WRITE_FLAGS), "openat": deny_bits(2, WRITE_FLAGS),
                  # threads only: a clone without CLONE_THREAD is a new process
                  "clone": [(_LD, 0, 0, low(0)), (_JSET, 0, 1, _CLONE_THREAD), allow, refuse],
                  # its own limits, read only (argument 2, the new limit, is NULL)
                  "prlimit64": only((0, (0, pid)), (2, (0,))),
                  # its own priority only (PRIO_PROCESS, who 0 or itself)
                  "setpriority": only((0, (_PRIO_PROCESS,)), (1, (0, pid))),
                  "getpriority": only((0, (_PRIO_PROCESS,)), (1, (0, pid))),
                  "ioprio_set": only((0, (_IOPRIO_WHO_PROCESS,)), (1, (0, pid))),
                  "ioprio_get": only((0, (_IOPRIO_WHO_PROCESS,)), (1, (0, pid))),
                  "prctl": deny_values(0, (_PR_SET_PDEATHSIG,)),
                  "ioctl": deny_values(1, (_TIOCSTI,)),
                  "fcntl": deny_values(1, (_F_SETOWN, _F_SETSIG, _F_SETOWN_EX))})
    program = [(_LD, 0, 0, 4), (_JEQ, 1, 0, audit_arch), (_RET, 0, 0, _KILL_PROCESS),
               (_LD, 0, 0, 0)]
    if arch == "x86_64":  # the x32 ABI's numbers: none of ours
        program += [(_JGE, 0, 1, 0x40000000), (_RET, 0, 0, _KILL_PROCESS)]
    for name, body in rules.items():
        if name in numbers:
            program.append((_JEQ, 0, len(body), numbers[name]))
            program += body
    return program + [allow]


def seccomp_arch() -> str | None:
    """The architecture whose filter this machine takes, or None (no seccomp here)."""
    if not sys.platform.startswith("linux"):
        return None
    machine = platform.machine().lower()
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64",
            "arm64": "aarch64"}.get(machine) if sys.maxsize > 2**32 else None


def install_seccomp() -> bool:
    """Install the filter on every thread of this process, for good (no_new_privs first, which
    lets a process without privileges install one). False where there is no seccomp."""
    arch = seccomp_arch()
    if arch is None:
        return False

    class Instruction(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                    ("k", ctypes.c_uint32)]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Instruction))]

    instructions = _seccomp_program(arch, os.getpid())
    array = (Instruction * len(instructions))(*[Instruction(*i) for i in instructions])
    program = Program(len(instructions), array)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    seccomp = {"x86_64": 317, "aarch64": 277}[arch]
    # seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &program): every thread
    if libc.syscall(seccomp, 1, 1, ctypes.byref(program)) == 0:
        return True
    return libc.prctl(_PR_SET_SECCOMP, 2, ctypes.byref(program), 0, 0) == 0  # this thread only
