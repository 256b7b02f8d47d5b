"""The zygote: the process a warm sandbox starts once, that forks a fresh worker for each submission.

Started by `pool.WarmSandbox` as `python -s -P zygote.py CONTROL_FD` inside the sandbox, with the
same environment as a cold worker (PYTHONHASHSEED=0, Agg, one OpenMP thread), so every child
inherits exactly what a cold worker would have. Before any student code exists it imports what
every submission imports anyway (torch, numpy and numpy.random, matplotlib with pyplot, IPython's
display, the public quantlab package, the worker itself): that import is the second a cold worker
spends (numpy.random alone, imported by a child's first seeding, cost it 10 to 20 ms of CPU).

It then serves the grader on CONTROL_FD, a unix SOCK_SEQPACKET socket, one request at a time:

    {"op": "spawn", "rlimits": {...}} + two fds (SCM_RIGHTS) -> no answer from the zygote; the
        child it forks sends {"op": "child"}, whose credentials tell the grader the child's pid
    {"op": "reap", "grace": S} -> {"code", "exited", "clean"}: waits up to S seconds for the
        child to end by itself, kills it, kills every other process left in the sandbox, removes
        every file it wrote and every System V IPC object; `clean` is False if anything remained
    {"op": "exit"} (or the socket closing) -> the zygote ends, and with it the sandbox

What keeps the zygote out of the children's reach: it is not dumpable (no ptrace, no reading its
memory through /proc), it blocks every signal it can (a child can still SIGKILL or SIGSTOP it:
the grader then finds the sandbox broken and replaces it), it never holds student data (no
request carries any; the child reads its cells from its own pipe), and each child keeps only its
own two fds and the control socket just long enough to say hello.

Everything here is trusted code, but it runs beside the student's: the grader believes only the
kernel's credentials and the answers' shape, and enforces every time limit from outside.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import json
import os
import signal
import socket
import stat
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
if not getattr(sys.flags, "safe_path", False):
    del sys.path[0]  # Python 3.10, started without -P (isolation.PYTHON_FLAGS): HERE
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
IPC_RMID = 0
MESSAGE = 64 * 1024
_libc = ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, value: int) -> None:
    if _libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}, {value}) failed")


def load_worker():
    """Import worker.py as a cold worker's `__main__` would be: afterwards sys.path is the cold one."""
    saved = list(sys.path)
    sys.path.insert(0, HERE)
    worker = importlib.import_module("worker")  # it puts the working folder first, as in a kernel
    sys.path[:] = [os.getcwd(), *saved]
    return worker


def preload() -> None:
    """What every submission imports: imported once here, before any student code exists."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # imported for the children to inherit
    import numpy  # noqa: F401 - imported for the children to inherit
    import numpy.random  # noqa: F401 - every child seeds it (worker._seed) before any student code runs

    try:
        import IPython.display  # noqa: F401 - the worker's `display`
    except ImportError:
        pass
    folder = os.path.join(os.getcwd(), "quantlab")
    if os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                module = "quantlab" if name == "__init__.py" else f"quantlab.{name[:-3]}"
                importlib.import_module(module)


def receive(control: socket.socket) -> tuple[dict | None, list[int]]:
    """One request and the fds it carries; (None, []) once the grader has gone."""
    try:
        data, fds, _, _ = socket.recv_fds(control, MESSAGE, 4)
    except OSError:
        return None, []
    if not data:
        return None, list(fds)
    return json.loads(data), list(fds)


def spawn(control: socket.socket, fds: list[int], rlimits: dict, worker, signal_mask) -> int:
    """Fork the child that will run one submission; the parent keeps only its pid."""
    pid = os.fork()
    if pid:
        for fd in fds:
            os.close(fd)
        return pid
    try:
        _become_child(control, fds, rlimits, worker, signal_mask)
    except BaseException:
        traceback.print_exc()  # until the worker's hello, fd 2 is the sandbox's start-up log; after it, /dev/null
    finally:
        os._exit(70)


def _become_child(control: socket.socket, fds: list[int], rlimits: dict, worker, signal_mask) -> None:
    os.setsid()  # its own session and process group: the grader kills them whole
    control.send(b'{"op": "child"}')  # the kernel attaches our pid, as the grader sees it
    inbox, outbox = fds
    _close_all_but({inbox, outbox})
    _prctl(PR_SET_DUMPABLE, 1)  # its own memory is its own business; the zygote's stays closed
    signal.pthread_sigmask(signal.SIG_SETMASK, signal_mask)
    sys.modules["__main__"] = worker  # as in a cold worker, where worker.py is __main__
    del sys.modules["worker"]
    worker.run(inbox, outbox, rlimits)


def _close_all_but(keep: set[int]) -> None:
    """Close every fd but `keep` and 0-2: a child inherits no channel but its own. (0 and 1 are /dev/null,
    2 the sandbox's start-up log until the worker points it at /dev/null too, before it says hello.)"""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def reap(child: int, grace: float) -> tuple[int, bool]:
    """(the child's exit code as subprocess reports it, whether it ended within `grace` by itself)."""
    deadline = time.monotonic() + grace
    while True:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid:
            return os.waitstatus_to_exitcode(status), True
        if time.monotonic() >= deadline:
            break
        time.sleep(0.01)
    for kill in (lambda: os.killpg(child, signal.SIGKILL), lambda: os.kill(child, signal.SIGKILL)):
        try:
            kill()
        except OSError:
            pass
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status), False


def _ancestors() -> set[int]:
    """This process and its ancestors in the sandbox (bwrap's): never killed by `sweep`."""
    found, pid = set(), os.getpid()
    while pid > 0 and pid not in found:
        found.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as status:
                pid = int(status.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return found


def _living(spared: set[int]) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in spared:
            try:
                with open(f"/proc/{name}/stat") as status:
                    if status.read().rsplit(")", 1)[1].split()[0] != "Z":
                        pids.append(int(name))
            except (OSError, IndexError):
                pass
    return pids


def sweep(patience: float = 5.0) -> bool:
    """Kill every process the children left (detached, double-forked, in other sessions); True once none is left."""
    spared = _ancestors()
    deadline = time.monotonic() + patience
    while True:
        left = _living(spared)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _reap_orphans()  # a subreaper: the children's orphans are ours to reap
        if not left:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


def _reap_orphans() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _remove(path: str) -> None:
    """Remove a file or a whole folder, first giving back the permissions a child may have taken off it
    (deep enough nesting raises RecursionError: the sandbox is then replaced, not trusted)."""
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, stat.S_IRWXU)
        for entry in os.scandir(path):
            _remove(entry.path)
        os.rmdir(path)
    else:
        os.unlink(path)


def clean_scratch(folder: str, keep: set[str]) -> bool:
    """Remove everything in the scratch folder but the support bound into it; True if nothing is left."""
    for entry in os.scandir(folder):
        if entry.name not in keep:
            _remove(entry.path)
    return set(os.listdir(folder)) <= keep


def remove_ipc() -> bool:
    """Remove the System V shared memory, message queues and semaphores a child made; True if none is left."""
    removers = {"shm": lambda i: _libc.shmctl(i, IPC_RMID, None), "msg": lambda i: _libc.msgctl(i, IPC_RMID, None),
                "sem": lambda i: _libc.semctl(i, 0, IPC_RMID)}
    left = False
    for kind, remove in removers.items():
        for ident in _ipc_ids(kind):
            remove(ident)
        left = left or bool(_ipc_ids(kind))
    return not left


def _ipc_ids(kind: str) -> list[int]:
    try:
        with open(f"/proc/sysvipc/{kind}") as table:
            return [int(line.split()[1]) for line in table.read().splitlines()[1:] if line.split()]
    except (OSError, ValueError, IndexError):
        return []


def _clean_up(keep: set[str]) -> bool:
    """Everything a child may leave behind, gone; False (the sandbox is then replaced) if not all of it."""
    try:
        return sweep() and clean_scratch(os.getcwd(), keep) and remove_ipc()
    except Exception:  # whatever went wrong, the grader must not trust this sandbox again
        return False


def serve(control: socket.socket, worker, keep: set[str], signal_mask) -> None:
    child = None
    while True:
        request, fds = receive(control)
        op = request.get("op") if request else "exit"
        if op == "spawn" and child is None and len(fds) == 2:
            rlimits = dict(request.get("rlimits", {}))
            if "NPROC" in rlimits:  # the zygote's own tasks count against the sandbox user's processes
                rlimits["NPROC"] = int(rlimits["NPROC"]) + len(os.listdir("/proc/self/task"))
            child = spawn(control, fds, rlimits, worker, signal_mask)
        elif op == "reap" and child is not None:
            code, exited = reap(child, float(request.get("grace", 0)))
            child = None
            clean = _clean_up(keep)
            control.send(json.dumps({"op": "reaped", "code": code, "exited": exited, "clean": clean}).encode())
        else:
            for fd in fds:
                os.close(fd)
            return


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    keep = set(os.listdir(os.getcwd()))  # the support the sandbox bound in; all else is the children's
    signal_mask = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals() - {signal.SIGCHLD})
    worker = load_worker()
    preload()
    _prctl(PR_SET_DUMPABLE, 0)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    clean_scratch(os.getcwd(), keep)  # the imports' caches: the first child finds /scratch as a cold worker does
    # What the imports made is never collected again: a child's collections then skip it, and do not
    # write to (and so copy) the zygote's pages that hold it.
    gc.collect()
    gc.freeze()
    control.send(b'{"op": "ready"}')
    serve(control, worker, keep, signal_mask)


if __name__ == "__main__":
    main()
