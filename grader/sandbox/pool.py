"""The warm path: sandboxes started once per grading slot, each forking a fresh worker per submission.

A cold worker costs about a second of CPU, nearly all of it bwrap and `import torch`. A
`WarmSandbox` pays that once: its zygote (zygote.py) imports torch, numpy, matplotlib and
quantlab, then forks one child per submission (and per restart after a timeout or crash). The
child is the same worker.py as a cold one, with the same rlimits, seeds and environment.

What the grader does around each child, so that nothing passes from one submission to the next:

- the child's two pipe ends travel to the zygote over a unix socket (SCM_RIGHTS); the zygote
  forks, the child says hello and the kernel's credentials on that message give the grader its
  pid (never a number the sandbox chose). The child gets a process group and, with cgroups, a
  group of its own inside the sandbox's (`Limits.memory` and `Limits.processes`, as a cold
  sandbox has), joined before it reads its first request;
- when the submission's worker ends (done, timed out, crashed), the grader kills the child's
  group and process group, then asks the zygote to reap: it kills every other process left in
  the sandbox, empties the scratch folder and removes System V IPC objects. Anything it cannot
  clean, a zygote that does not answer in time, is stopped or has died, marks the sandbox
  broken: it is closed (the kernel ends all of it) and the next submission gets a new one;
- a sandbox is also replaced after `RECYCLE_AFTER` submissions: a bound on anything cleaning
  might miss (only the scratch folder is writable in a sandbox, and it is emptied after each child).

`SandboxPool` hands one sandbox to each submission being graded (`WorkerSession(pool=...)`).
Starting a sandbox costs a second or two of CPU (bwrap, then the zygote's imports), so the pool
starts them on a background thread where it can: `prestart` at the start of a batch, and a
replacement `START_AHEAD` submissions before a sandbox is due to retire, so that a slot rarely
waits for one. A sandbox that breaks is replaced on demand.
"""

from __future__ import annotations

import dataclasses
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path

from grader.sandbox.cgroup import Cgroup
from grader.sandbox.isolation import Isolation, read_startup_log, startup_log
from grader.sandbox.limits import GiB, Limits

#: Submissions a sandbox serves before it is replaced (a bound on anything cleaning missed).
RECYCLE_AFTER = 1000
#: How many submissions before a sandbox retires its replacement starts, in the background.
START_AHEAD = 20
#: Seconds the zygote may take to import everything, to fork and say hello, to clean up.
START_TIMEOUT, SPAWN_TIMEOUT, REAP_TIMEOUT = 180.0, 30.0, 30.0
#: What the sandbox holds beyond one child's caps: the zygote (torch and friends imported) and its tasks.
ZYGOTE_MEMORY, ZYGOTE_PROCESSES = 1 * GiB, 16
MESSAGE = 64 * 1024


class SandboxBroken(Exception):
    """The sandbox can no longer promise a clean child: it must be closed and replaced."""


class WarmChild:
    """One submission's worker, forked by a zygote; looks to `WorkerSession` like a `subprocess.Popen`."""

    def __init__(self, sandbox: WarmSandbox, pid: int):
        self.sandbox = sandbox
        self.pid = pid  # as the grader sees it; also its process group's id (the child called setsid)
        self.pidfd = os.pidfd_open(pid)
        self.returncode: int | None = None

    def kill(self) -> None:
        """SIGKILL it and its process group; until the zygote reaps it, its pid cannot be reused."""
        if self.returncode is None:
            for kill in (lambda: signal.pidfd_send_signal(self.pidfd, signal.SIGKILL),
                         lambda: os.killpg(self.pid, signal.SIGKILL)):
                try:
                    kill()
                except OSError:
                    pass

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self.pidfd], [], [], 0)[0]:
            self.wait()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        """Reap it through the zygote (which cleans up behind it); like Popen.wait, TimeoutExpired if
        it had not ended within `timeout` by itself (it is killed all the same)."""
        if self.returncode is None:
            try:
                code, exited = self.sandbox.reap(self, grace=timeout or 0.0)
            except SandboxBroken:  # no zygote to reap it: killed from here (the sandbox goes next)
                self.kill()
                code, exited = -signal.SIGKILL, True
            self.returncode = code
            os.close(self.pidfd)
            if timeout is not None and not exited:
                raise subprocess.TimeoutExpired("warm child", timeout)
        return self.returncode


class WarmSandbox:
    """One sandbox and its zygote, serving one submission at a time."""

    def __init__(self, isolation: Isolation, limits: Limits, support: list[Path]):
        if not isolation.sandboxed:
            raise ValueError("the warm path runs only inside the sandbox")
        self.isolation = isolation
        self.served = 0
        self.broken = False
        self.scratch = Path(tempfile.mkdtemp(prefix="qgrade-warm-"))
        self.cgroup = None
        self.process = None
        self.stderr = startup_log()  # the zygote's, and each child's until it says hello
        try:
            self._start(limits, support)
        except BaseException:
            self.close()
            raise

    def _start(self, limits: Limits, support: list[Path]) -> None:
        for folder in support:
            shutil.copytree(folder, self.scratch / folder.name, ignore=shutil.ignore_patterns("__pycache__"))
        self.control, inside = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.control.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        whole = dataclasses.replace(limits, memory=limits.memory + ZYGOTE_MEMORY,
                                    processes=limits.processes + ZYGOTE_PROCESSES)
        try:
            argv = self.isolation.zygote_command(self.scratch, inside.fileno(), limits)
            self.cgroup = self.isolation.cgroup(whole)
            if self.cgroup is not None:
                argv = self.cgroup.enter(argv)
            self.process = subprocess.Popen(
                argv, pass_fds=(inside.fileno(),), cwd=self.scratch, env=self.isolation.environment(self.scratch),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr,
                start_new_session=True)
        finally:
            inside.close()
        try:
            message, self.zygote = self._receive(START_TIMEOUT)
        except SandboxBroken as error:
            raise SandboxBroken(f"the zygote did not start ({error}); it wrote: {self.startup_log() or 'nothing'}"
                                ) from None
        if message.get("op") != "ready":
            raise SandboxBroken(f"the zygote did not start: {message}")

    def startup_log(self) -> str:
        """What the zygote, and its children before their hello, wrote to stderr (the end of it)."""
        return read_startup_log(self.stderr)

    def _receive(self, timeout: float) -> tuple[dict, int]:
        """The next message on the control socket and the pid of its sender, as the kernel saw it."""
        if not select.select([self.control], [], [], timeout)[0]:
            raise SandboxBroken("the zygote did not answer in time")
        try:
            data, ancillary, _, _ = self.control.recvmsg(MESSAGE, socket.CMSG_SPACE(12))
        except OSError as error:
            raise SandboxBroken(f"the zygote's socket failed: {error}") from None
        pid = next((int.from_bytes(d[:4], "little", signed=True) for level, kind, d in ancillary
                    if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS), 0)
        if not data or pid <= 0:
            raise SandboxBroken("the zygote has gone")
        try:
            return json.loads(data), pid
        except ValueError:
            raise SandboxBroken("the zygote sent something unreadable") from None

    @property
    def usable(self) -> bool:
        return not self.broken and self.process is not None and self.process.poll() is None and not self._stopped()

    def _stopped(self) -> bool:
        """Whether a child stopped the zygote (SIGSTOP): it would never answer again."""
        try:
            state = Path(f"/proc/{self.zygote}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError, AttributeError):
            return True
        return state in ("T", "t", "Z", "X")

    def spawn(self, limits: Limits) -> tuple[WarmChild, Cgroup | None, Connection, Connection]:
        """A fresh child, in its own cgroup when there are cgroups, and the two ends of its channel."""
        if not self.usable:
            self.broken = True
            raise SandboxBroken("the sandbox is no longer usable")
        request_read, request_write = os.pipe()
        answer_read, answer_write = os.pipe()
        try:
            request = {"op": "spawn", "rlimits": self.isolation.rlimits(limits)}
            socket.send_fds(self.control, [json.dumps(request).encode()], [request_read, answer_write])
            message, pid = self._receive(SPAWN_TIMEOUT)
        except (OSError, SandboxBroken) as error:
            self.broken = True
            for fd in (request_write, answer_read):
                os.close(fd)
            raise SandboxBroken(f"the zygote could not start a worker: {error}") from None
        finally:
            os.close(request_read)
            os.close(answer_write)
        if message.get("op") != "child" or pid in (self.zygote, self.process.pid):
            self.broken = True
        try:
            child = WarmChild(self, pid)
        except OSError as error:  # it died before the grader could hold it: the zygote still owes a reap
            self.broken = True
            os.close(request_write)
            os.close(answer_read)
            raise SandboxBroken(f"the worker died at birth ({error})") from None
        group = self._child_cgroup(child, limits)
        return child, group, Connection(request_write, readable=False), Connection(answer_read, writable=False)

    def _child_cgroup(self, child: WarmChild, limits: Limits) -> Cgroup | None:
        """The child's own group inside the sandbox's, joined before it reads its first request."""
        if self.cgroup is None:
            return None
        group = self.cgroup.child(limits, processes=limits.processes)
        try:
            group.adopt(child.pid)
        except OSError:
            self.broken = True
            group.close()
            raise
        return group

    def reap(self, child: WarmChild, grace: float) -> tuple[int, bool]:
        """(exit code, ended by itself): the zygote reaps the child and cleans up behind it."""
        if not self.usable:
            self.broken = True
            raise SandboxBroken("the sandbox is no longer usable")
        try:
            self.control.send(json.dumps({"op": "reap", "grace": grace}).encode())
            answer, pid = self._receive(grace + REAP_TIMEOUT)
        except (OSError, SandboxBroken):
            self.broken = True
            raise SandboxBroken("the zygote did not clean up after a worker") from None
        if pid != self.zygote or answer.get("op") != "reaped" or not answer.get("clean"):
            self.broken = True
        code = answer.get("code")
        return (int(code) if isinstance(code, int) else -signal.SIGKILL), bool(answer.get("exited"))

    def close(self) -> None:
        """End the whole sandbox (the kernel kills everything in its pid namespace) and remove its traces."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()
            self.process = None
        if getattr(self, "control", None) is not None:
            self.control.close()
            self.control = None
        if self.cgroup is not None:
            self.cgroup.close()
            self.cgroup = None
        self.stderr.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


class SandboxPool:
    """Warm sandboxes for one batch, one per submission graded at once; started in the background
    where they can be (`prestart`, and ahead of a retirement), else when first needed."""

    def __init__(self, isolation: Isolation, limits: Limits, support: list[Path], *,
                 recycle_after: int = RECYCLE_AFTER, start_ahead: int = START_AHEAD):
        self.isolation, self.limits, self.support = isolation, limits, list(support)
        self.recycle_after = recycle_after
        self.start_ahead = min(start_ahead, recycle_after - 1)  # 0: replaced when needed, not ahead
        self._idle: list[WarmSandbox] = []
        self._starting: list[Future] = []  # sandboxes being started in the background, not yet taken
        self._starter = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sandbox-start")
        self._lock = threading.Lock()
        self.started = 0  # sandboxes started so far (a test's measure of reuse)

    def prestart(self, count: int) -> None:
        """Start `count` sandboxes in the background, for the submissions about to come."""
        for _ in range(count):
            self._start_in_background()

    def _start_in_background(self) -> None:
        with self._lock:
            self.started += 1
            self._starting.append(self._starter.submit(self._new))

    def _new(self) -> WarmSandbox:
        return WarmSandbox(self.isolation, self.limits, self.support)

    def acquire(self) -> WarmSandbox:
        """An idle sandbox, else one started in the background, else a new one."""
        while True:
            with self._lock:
                sandbox = self._idle.pop() if self._idle else None
                starting = self._starting.pop(0) if sandbox is None and self._starting else None
            if sandbox is None and starting is None:
                with self._lock:
                    self.started += 1
                return self._new()
            if starting is not None:
                try:
                    sandbox = starting.result()
                except (OSError, SandboxBroken):
                    continue  # that start failed: try the next, or start one here
            if sandbox.usable:
                return sandbox
            sandbox.close()

    def release(self, sandbox: WarmSandbox, *, submission_done: bool = True) -> None:
        """Back to the pool after a submission, or closed if broken or worn out."""
        sandbox.served += int(submission_done)
        if self.start_ahead and sandbox.usable and sandbox.served == self.recycle_after - self.start_ahead:
            self._start_in_background()  # its replacement, ready by the time it retires
        if not sandbox.usable or sandbox.served >= self.recycle_after:
            sandbox.close()
            return
        with self._lock:
            self._idle.append(sandbox)

    def close(self) -> None:
        self._starter.shutdown(wait=True)
        with self._lock:
            idle, self._idle = self._idle, []
            starting, self._starting = self._starting, []
        for future in starting:
            try:
                idle.append(future.result())
            except (OSError, SandboxBroken):
                pass
        for sandbox in idle:
            sandbox.close()

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
