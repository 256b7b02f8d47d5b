"""The grader's side of the worker: start it, feed it the student's cells, call functions in it.

A `WorkerSession` owns one worker process and its scratch folder. Calls take plain values and
return plain values (see `wire`); the grader enforces every time limit from outside by killing
the worker's whole process group. A session that lost its worker can be restarted: the program
runs again from the first cell.

Cold (the default), each worker is a new sandbox. Warm (`pool`, see pool.py), the session holds
one of the pool's sandboxes for the whole submission and each worker, first or restarted, is a
fresh child of that sandbox's zygote; the rest of the session does not tell them apart.
"""

from __future__ import annotations

import builtins
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from grader.sandbox import channel, choose, stand_ins, wire
from grader.sandbox.isolation import (
    WORKER,
    Isolation,
    SandboxFailed,
    death_reason,
    read_startup_log,
    startup_failure,
    startup_log,
)
from grader.sandbox.limits import Limits
from grader.sandbox.pool import START_TIMEOUT, SandboxBroken, SandboxPool, WarmChild

__all__ = ["WORKER", "Isolation", "Limits", "LoadReport", "SandboxFailed", "StudentCodeError", "WorkerLost",
           "WorkerSession", "raised_by"]
MESSAGE_LIMIT = 256 * 1024 * 1024
#: A helper request (worker.py) carries a helper's arguments: far smaller than any answer may be.
HELPER_REQUEST_LIMIT = 16 * 1024 * 1024
#: Each helper request served moves the deadlines by this many seconds (the student's code waited on the
#: grader), while the session's `helper_grace` lasts.
HELPER_ALLOWANCE = 0.025


class WorkerLost(Exception):
    """The worker died or ran out of time; `reason` is written for the student."""

    def __init__(self, reason: str, *, timed_out: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out


class UndefinedName(Exception):
    """The student's program defines no object called `name` (asked for by an inspection)."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class StudentCodeError(Exception):
    """An exception raised by the student's code, carried back as data.

    `raised_by` builds a subclass that also derives from the builtin of the same name, so a
    test that expects, say, ValueError from the student's function sees one.
    """

    type_name = "Exception"
    line: int | None = None
    student_traceback = ""

    def describe(self) -> str:
        text = f"{self.type_name}: {self}" if str(self) else self.type_name
        return text


def raised_by(error: dict) -> StudentCodeError:
    name = str(error.get("type", "Exception"))[:100]
    builtin = getattr(builtins, name, None)
    bases: tuple = (StudentCodeError,)
    if error.get("builtin") and isinstance(builtin, type) and issubclass(builtin, Exception):
        bases = (StudentCodeError, builtin)
    cls = type(name, bases, {"type_name": name})
    instance = cls(str(error.get("message", "")))
    instance.line = error.get("line")
    instance.student_traceback = str(error.get("traceback", ""))
    return instance


@dataclass
class LoadReport:
    """What running the program's cells left behind."""

    names: dict[str, str] = field(default_factory=dict)
    cell_errors: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class WorkerSession:
    """One student's program, running in a worker process, callable by name."""

    def __init__(self, cells: list[dict], *, support: list[Path], limits: Limits, isolation: Isolation | None = None,
                 pool: SandboxPool | None = None):
        self.cells = cells
        self.support = support
        self.limits = limits
        self.isolation = pool.isolation if pool is not None else isolation or choose()  # or SandboxUnavailable
        self.pool = pool
        self.sandbox = None  # the pool's sandbox this submission holds (warm path)
        self.process: subprocess.Popen | None = None  # or a pool.WarmChild, which behaves like one
        self.cgroup = None  # the worker's cgroup.Cgroup, when the isolation caps with cgroups
        self.scratch: Path | None = None
        self.stderr = None  # a cold worker's start-up log (isolation.startup_log)
        self.report = LoadReport()
        #: The whole submission's wall-clock budget runs from here, across restarts of the worker.
        self.deadline = time.monotonic() + limits.submission
        #: Which question the calls belong to: the calls of one question share its CPU-time cap.
        self.budget = ""
        #: The reference functions that stand in for the student's of the same names in the calls
        #: made now (`grader.own_logic`); the worker asks for them by name (a helper request).
        self.helpers: dict[str, Callable] = {}
        #: How many helper requests each stand-in answered since it was last reset.
        self.helper_calls: Counter[str] = Counter()
        #: Seconds the deadlines may move in all for helper requests served (`HELPER_ALLOWANCE` each), and
        #: how many they have moved since it was set: a caller's deadline is its own plus `helper_granted`.
        self.helper_grace = 0.0
        self.helper_granted = 0.0

    @property
    def out_of_time(self) -> bool:
        return time.monotonic() >= self.deadline

    # Lifecycle ------------------------------------------------------------------------------------

    def __enter__(self) -> WorkerSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
        if self.sandbox is not None:
            self.pool.release(self.sandbox)
            self.sandbox = None

    def start(self) -> LoadReport:
        """Start a worker and run every cell; raises WorkerLost if the student's code makes it die or hang,
        and `SandboxFailed` if it never got that far (the grader's failure)."""
        self.close()
        if self.pool is not None:
            self._spawn_warm()
        else:
            self.scratch = Path(tempfile.mkdtemp(prefix="qgrade-"))
            for folder in self.support:
                shutil.copytree(folder, self.scratch / folder.name, ignore=shutil.ignore_patterns("__pycache__"))
            self.isolation.prepare_scratch(self.scratch)
            self._spawn()
        self._await_hello()
        answer = self._ask(
            {"op": "run", "cells": self.cells, "cell_timeout": self.limits.cell},
            timeout=self.limits.load,
            what="Running your code",
        )
        self.report = LoadReport(
            names={str(k): str(v) for k, v in dict(answer.get("names", {})).items()},
            cell_errors=[c["error"] for c in answer.get("cells", []) if isinstance(c, dict) and c.get("error")],
            notes=[str(n) for n in answer.get("notes", [])][:50],
        )
        return self.report

    def _spawn(self) -> None:
        request_read, request_write = os.pipe()
        answer_read, answer_write = os.pipe()
        self.stderr = startup_log()
        try:
            argv = self.isolation.command(self.scratch, (request_read, answer_write), self.limits)
            self.cgroup = self.isolation.cgroup(self.limits)
            if self.cgroup is not None:
                argv = self.cgroup.enter(argv)  # it joins the group before any student code exists
            self.process = subprocess.Popen(
                argv,
                pass_fds=(request_read, answer_write),
                cwd=self.scratch,
                env=self.isolation.environment(self.scratch),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self.stderr,
                start_new_session=True,  # one process group: killing it ends all the worker started
            )
        finally:
            os.close(request_read)
            os.close(answer_write)
        self._requests = Connection(request_write, readable=False)
        self._answers = Connection(answer_read, writable=False)

    def _spawn_warm(self) -> None:
        """A fresh child of this submission's warm sandbox; a broken sandbox is replaced once (the student's
        code may have broken it), and a new one that cannot start a child is the grader's failure."""
        problem = ""
        for _ in range(2):
            if self.sandbox is None:
                try:
                    self.sandbox = self.pool.acquire()
                except (OSError, SandboxBroken) as error:
                    raise SandboxFailed(f"a warm sandbox could not start: {error}") from None
            try:
                self.process, self.cgroup, self._requests, self._answers = self.sandbox.spawn(self.limits)
                return
            except (OSError, SandboxBroken) as error:
                problem = f"{error}; the sandbox wrote: {self.sandbox.startup_log() or 'nothing'}"
                self.pool.release(self.sandbox, submission_done=False)
                self.sandbox = None
        raise SandboxFailed(f"a new warm sandbox could not start a worker: {problem}")

    def _await_hello(self) -> None:
        """The worker's first message, sent once it is capped and before any student code exists; without it,
        the sandbox failed (`SandboxFailed`, with what the worker wrote to stderr), not the student."""
        try:
            raw = channel.recv_within(self._answers, 1024, time.monotonic() + START_TIMEOUT)
            hello = wire.loads(raw).get("op") == "hello"
        except (channel.Late, channel.TooLarge, EOFError, OSError, ValueError):
            hello = False
        if hello:
            return
        code = self._exit_code()
        log = self.sandbox.startup_log() if self.sandbox is not None else read_startup_log(self.stderr)
        self.close()
        raise startup_failure("the worker stopped", code, log)

    def close(self) -> None:
        """Kill the worker's whole process group (and all of its cgroup, or of its uid) and remove its scratch."""
        if isinstance(self.process, WarmChild):
            self.process.kill()
        elif self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.process is not None:
            self.process.wait()
            self._requests.close()
            self._answers.close()
            self.process = None
        if self.cgroup is not None:
            self.cgroup.close()
            self.cgroup = None
        if self.scratch is not None:
            self.isolation.release(self.scratch)
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None
        if self.stderr is not None:
            self.stderr.close()
            self.stderr = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # Calls ----------------------------------------------------------------------------------------

    def call(self, name: str, args: tuple, kwargs: dict, *, timeout: float):
        """Call the student's `name` with copies of the arguments; returns plain values."""
        answer = self._ask(
            {"op": "call", "name": name, "args": wire.encode(list(args)), "kwargs": wire.encode(dict(kwargs)),
             "cpu": self.limits.question_cpu, "budget": self.budget, **self._stand_ins()},
            timeout=timeout,
            what=f"Your function `{name}`",
        )
        return self._value(answer, f"`{name}` returned")

    def reaches(self, names: list[str], helpers: list[str], *, timeout: float) -> list[str]:
        """Which of `helpers` the student's objects `names` can reach by name (worker.py `_reaches`): only those
        can change what they compute. The student's process answers, so a lie costs only the student."""
        what = f"Looking at your `{names[0]}`" if names else "Looking at your code"
        answer = self._ask({"op": "reaches", "names": list(names), "helpers": list(helpers)}, timeout=timeout,
                           what=what)
        value = self._value(answer, what)
        return [h for h in helpers if isinstance(value, list) and h in value]

    def inspect(self, key: str, args: tuple, kwargs: dict, *, timeout: float, what: str = "Your code"):
        """Run quantlab's inspection `key` in the worker; returns its findings as plain values.

        `wire.StudentName` values in the arguments become the student's objects of those names.
        An undefined name raises `UndefinedName`; an exception of the student's code (or of the
        inspection, which runs in the student's process) raises as from `call`.
        """
        answer = self._ask(
            {"op": "inspect", "key": key, "args": wire.encode(list(args)), "kwargs": wire.encode(dict(kwargs)),
             "cpu": self.limits.question_cpu, "budget": self.budget, **self._stand_ins()},
            timeout=timeout,
            what=what,
        )
        if "error" in answer and answer.get("missing") is not None:
            raise UndefinedName(str(answer["missing"])[:200])
        return self._value(answer, f"{what} gave")

    @staticmethod
    def _value(answer: dict, what: str):
        if "error" in answer:
            raise raised_by(dict(answer["error"]))
        try:
            return wire.decode(answer.get("value"))
        except (wire.WireError, ValueError, TypeError) as error:
            raise WorkerLost(f"{what} something the grader cannot read ({error}).") from None

    def _ask(self, request: dict, *, timeout: float, what: str) -> dict:
        """Send `request` and wait for its answer, serving the worker's helper requests meanwhile.

        Every read and write has the deadline (`channel`); each helper request served moves it a little
        (`HELPER_ALLOWANCE`) while `helper_grace` lasts, never past the submission's deadline.
        """
        if not self.alive:
            raise WorkerLost("The process running your code had already stopped.")
        left = self.deadline - time.monotonic()
        late = f"{what} did not finish within {timeout:.0f} seconds."
        if left < timeout:
            timeout = left
            late = f"{what} did not finish: a whole submission may take at most {self.limits.submission:g} seconds."
        until = time.monotonic() + max(timeout, 0.0)
        try:
            channel.send_within(self._requests, wire.dumps(request), until)
            while True:
                raw = channel.recv_within(self._answers, MESSAGE_LIMIT, until)
                message = self._parse(raw, what)
                if message.get("op") != "helper":
                    return message
                answer = (self._helper_answer(message) if len(raw) <= HELPER_REQUEST_LIMIT
                          else stand_ins.refusal("the arguments are too large"))
                until += self._grant()
                channel.send_within(self._requests, wire.dumps(answer), until)
                if time.monotonic() >= until:  # the reference ran past the limit: the worker waited too long
                    raise channel.Late()
        except channel.Late:
            self.close()
            raise WorkerLost(late, timed_out=True) from None
        except channel.TooLarge:
            self.close()
            raise WorkerLost(f"{what} sent back more data than the grader reads.") from None
        except (EOFError, OSError):
            code = self._exit_code()
            out_of_memory = self.cgroup is not None and self.cgroup.out_of_memory
            self.close()
            reason = death_reason(self.isolation, what, code, self.limits, out_of_memory=out_of_memory)
            raise WorkerLost(reason) from None

    def _grant(self) -> float:
        grant = max(0.0, min(HELPER_ALLOWANCE, self.helper_grace - self.helper_granted,
                             self.deadline - time.monotonic()))
        self.helper_granted += grant
        return grant

    def _parse(self, raw: bytes, what: str) -> dict:
        try:
            return wire.loads(raw)
        except ValueError:
            self.close()
            raise WorkerLost(f"{what} sent back data the grader cannot read.") from None

    def _helper_answer(self, message: dict) -> dict:
        """Run the reference that stands in for the helper the worker names (`stand_ins.answer`); a name that
        is not one of this request's helpers is refused."""
        name = message.get("name")
        reference = self.helpers.get(name) if type(name) is str else None
        if reference is None:
            return stand_ins.refusal(f"{str(name)[:100]!r} is not a function the grader runs for your code here")
        answer, stood_in = stand_ins.answer(reference, message)
        if stood_in:
            self.helper_calls[name] += 1
        return answer

    def _stand_ins(self) -> dict:
        """What a request tells the worker of the helpers standing in: their names, and each class's methods."""
        classes = {name: stand_ins.public_methods(ref) for name, ref in self.helpers.items() if isinstance(ref, type)}
        return {"helpers": sorted(self.helpers), "classes": classes}

    def _exit_code(self) -> int | None:
        # The pipe closes a moment before the process is reaped.
        try:
            return self.process.wait(timeout=2) if self.process else None
        except subprocess.TimeoutExpired:
            return None
