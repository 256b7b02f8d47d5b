"""How the worker is confined: the seam between the session and the sandbox.

`Isolation` (recorded as `process`) is a plain child process: its own process group, a private
scratch folder and a scrubbed environment. It keeps the grader's state out of the student's
reach but is no security boundary. `bubblewrap.Bubblewrap`, built on it, is the real sandbox;
the package's face (`grader.sandbox.choose`) picks between them. `Unprivileged` (recorded as
`unprivileged-uid`) is the fallback for a container where bubblewrap cannot run (Gradescope's,
a container under Docker's default profile, `grader.sandbox.choose`): the worker drops from root to a
uid and gid of its own before any student code exists, so it cannot write what root owns, read what
root alone may, or signal the grader or another submission's worker; it shares the container's view,
network and world-writable folders (`Isolation.unenforced` lists what is left open).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from grader.sandbox.limits import Limits, describe_size

if TYPE_CHECKING:
    from grader.sandbox.cgroup import Cgroup
    from grader.sandbox.cgroup2 import Cgroup2

HERE = Path(__file__).resolve().parent
IsolationT = TypeVar("IsolationT", bound="Isolation")
WORKER = HERE / "worker.py"
WIRE = HERE / "wire.py"
STUBS = HERE / "stubs.py"
ZYGOTE = HERE / "zygote.py"
#: `-I` without its `-E`: no user site-packages (-s), no script folder on sys.path (-P), but the
#: environment is read, so PYTHONHASHSEED fixes str hashes and set order. That environment is
#: built from nothing by `environment` (no PYTHONPATH or other PYTHON* of the host's). Python 3.10
#: has no -P: there worker.py and zygote.py drop their own folder from sys.path themselves.
PYTHON_FLAGS = ("-s", "-P") if sys.version_info >= (3, 11) else ("-s",)


#: Host uids for workers started by root, each its own: 1000 per grader process, never a real account's
#: (processes and signals are counted per uid, so no worker counts or reaches another's).
HOST_UID_BASE = 3_000_000
_uid_counter = itertools.count()


def worker_uid() -> int:
    """A different host uid for each worker or sandbox this process starts."""
    return HOST_UID_BASE + (os.getpid() % 1000) * 1000 + next(_uid_counter) % 1000


#: Bytes of a worker's or zygote's start-up output (its stderr before it says hello) kept to explain a failure.
STARTUP_LOG_LIMIT = 4000


class SandboxFailed(Exception):
    """The sandbox or its worker failed before any of the student's code ran: the grader's fault, never
    the student's. `reason` says what broke, for the instructor, in the failing process's own words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def startup_log():
    """A file for a worker's or zygote's stderr: the worker points fd 2 at /dev/null before it says hello,
    so the file holds only what its start-up wrote (an interpreter's or bwrap's complaint)."""
    return tempfile.TemporaryFile(prefix="qgrade-startup-")


def read_startup_log(log) -> str:
    """The last `STARTUP_LOG_LIMIT` bytes of a start-up log, as text ("" when empty or unreadable)."""
    try:
        size = log.seek(0, os.SEEK_END)
        log.seek(max(0, size - STARTUP_LOG_LIMIT))
        return log.read().decode("utf-8", "replace").strip()
    except (OSError, ValueError, AttributeError):
        return ""


def startup_failure(what: str, code: int | None, log: str) -> SandboxFailed:
    status = "still running" if code is None else f"exit status {code}"
    return SandboxFailed(f"{what} ({status}) before running any student code; it wrote: {log or 'nothing'}")


@dataclass(frozen=True)
class Isolation:
    """A bare worker process (no sandbox). The grader records `name` in every result."""

    name: str = "process"
    sandboxed = False
    #: Whether the worker runs as someone other than the grader (the sandbox, or an unprivileged uid).
    confined = False
    #: Whether each worker gets a cgroup capping the memory and processes of all it starts,
    #: and whether that is in the cgroup v2 (unified) hierarchy rather than v1.
    cgroups = False
    cgroup2 = False

    def command(self, scratch: Path, fds: tuple[int, int], limits: Limits | None = None) -> list[str]:
        return [sys.executable, *PYTHON_FLAGS, str(WORKER), *self.worker_arguments(fds, limits)]

    def worker_arguments(self, fds: tuple[int, int], limits: Limits | None) -> list[str]:
        return [str(fds[0]), str(fds[1]), json.dumps(self.rlimits(limits), separators=(",", ":"))]

    def rlimits(self, limits: Limits | None) -> dict[str, int]:
        """The rlimits a worker sets on itself before any student code runs (cold or warm alike)."""
        rlimits = (limits or Limits()).rlimits(memory_in_cgroup=self.cgroups)
        if not self.sandboxed:
            # Counted per user on the host: outside a sandbox it would count the grader's own processes.
            rlimits.pop("NPROC")
        return rlimits

    def environment(self, scratch: Path) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(scratch),
            "TMPDIR": str(scratch),
            **self.common_environment(scratch),
        }

    @staticmethod
    def common_environment(scratch: Path) -> dict[str, str]:
        return {
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": str(scratch / ".matplotlib"),
            "PYTHONHASHSEED": "0",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "LANG": "C.UTF-8",
        }

    def prepare_scratch(self, scratch: Path) -> None:
        """Make the worker's scratch folder (its support packages already copied in) its own."""

    def release(self, scratch: Path) -> None:
        """After the worker's process group is killed: end whatever else it left running."""

    def unenforced(self) -> list[str]:
        """What this isolation leaves open to the student's code, in words for the instructor (run.json)."""
        return ["everything: the student's code ran as a plain process with the grader's own rights"]

    def cgroup(self, limits: Limits) -> Cgroup | Cgroup2 | None:
        """A new capped cgroup for one worker (its caller closes it), or None without cgroups."""
        if not self.cgroups:
            return None
        if self.cgroup2:
            from grader.sandbox import cgroup, cgroup2

            base, problem = cgroup2.available()
            if base is None:
                raise cgroup.CgroupsUnavailable(f"the sandbox's cgroups stopped working: {problem}")
            return cgroup2.Cgroup2(base, limits)
        from grader.sandbox import cgroup

        bases, problem = cgroup.available()
        if bases is None:
            raise cgroup.CgroupsUnavailable(f"the sandbox's cgroups stopped working: {problem}")
        return cgroup.Cgroup(bases, limits)

    def exit_signal(self, code: int | None) -> int | None:
        """The signal that ended the worker, if one did (a sandbox reports it as 128 + n)."""
        return -code if code is not None and code < 0 else None

    def describe(self) -> str:
        return "no sandbox: the student's code ran as a plain process with the grader's rights"


#: What the unprivileged fallback's self-test runs as (`nobody`/`nogroup` on Debian); each worker gets a uid
#: of its own (`worker_uid`).
UNPRIVILEGED_ID = 65534
#: Which uid each scratch folder's worker runs as, from `prepare_scratch` to `release`.
_SCRATCH_UIDS: dict[str, int] = {}


@dataclass(frozen=True)
class Unprivileged(Isolation):
    """Each worker as a uid and gid of its own, no capabilities, `no_new_privs` (util-linux `setpriv`);
    root only. With `cgroups`, capped as a sandbox is (`unprivileged-uid+cgroup`, `+cgroup2`).

    Not a sandbox (`sandboxed` stays False): it sees the container's files and network. What it may
    write is what any user may: its own scratch folder and world-writable places, never the grader's
    results; the grader keeps its material readable by root alone. When the worker ends, every process
    of its uid is killed (`release`), detached ones included.
    """

    name: str = "unprivileged-uid"
    confined = True
    setpriv: str = "setpriv"
    cgroups: bool = False
    cgroup2: bool = False

    def command(self, scratch: Path, fds: tuple[int, int], limits: Limits | None = None) -> list[str]:
        uid = _SCRATCH_UIDS.get(str(scratch), UNPRIVILEGED_ID)
        return [*self.drop(uid), *super().command(scratch, fds, limits)]

    def drop(self, uid: int = UNPRIVILEGED_ID) -> list[str]:
        """The prefix that runs a command as `uid`, without groups or capabilities."""
        return [self.setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]

    def rlimits(self, limits: Limits | None) -> dict[str, int]:
        # Counted per user: the worker's uid runs nothing but the worker, so the process cap holds.
        return (limits or Limits()).rlimits(memory_in_cgroup=self.cgroups)

    def environment(self, scratch: Path) -> dict[str, str]:
        # The uid has no passwd entry: getpass and its kind read these first.
        return {**super().environment(scratch), "USER": "student", "LOGNAME": "student"}

    def prepare_scratch(self, scratch: Path) -> None:
        # The folder becomes the worker's; the support packages in it stay root's, readable only.
        uid = _SCRATCH_UIDS.setdefault(str(scratch), worker_uid())
        os.chown(scratch, uid, uid)

    def release(self, scratch: Path) -> None:
        uid = _SCRATCH_UIDS.pop(str(scratch), None)
        if uid is not None:
            kill_every_process_of(uid, self.drop(uid))

    def unenforced(self) -> list[str]:
        left_open = [
            "files: the student's code could read every file that any user may read (keep the submissions "
            "folder readable by root alone, as chmod 700 does), and write to the world-writable folders (such as "
            "the temporary folder and /dev/shm) beyond its scratch folder's cap",
            "processes: it could see the container's other processes (but signal none of them)",
        ]
        if network_interfaces():
            left_open.insert(0, f"network: the container has a network ({', '.join(network_interfaces())}) that "
                                "the student's code could reach (run the container with --network none)")
        if not self.cgroups:
            left_open.append("memory: capped for each process on its own (rlimits), not for all of a worker's "
                             "processes together (no writable cgroup in this container)")
        return left_open

    def describe(self) -> str:
        return ("no sandbox (bubblewrap does not work here): the student's code ran as an unprivileged uid of "
                "its own, without capabilities")


def network_interfaces() -> list[str]:
    """This machine's (or container's) network interfaces but loopback: none under `docker run --network none`."""
    try:
        return sorted(entry.name for entry in Path("/sys/class/net").iterdir() if entry.name != "lo")
    except OSError:
        return []


def kill_every_process_of(uid: int, drop: list[str]) -> None:
    """SIGKILL every process of `uid`: `kill -1` sent as that uid reaches all of them at once, the ones
    that left the worker's process group too. Root may not send it as itself: that would reach everyone."""
    subprocess.run([*drop, "/bin/sh", "-c", "kill -KILL -1 2>/dev/null; exit 0"], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60, check=False)


#: Run as the unprivileged identity by `unprivileged`: it must have dropped root, or it is not used.
UNPRIVILEGED_SELF_TEST = """
import os
assert os.getuid() == os.geteuid() == os.getgid() == {uid} and os.getgroups() == [], "still privileged"
assert open({worker!r}).read(1), "cannot read the worker"
try:
    open({forbidden!r}, "w")
except OSError:
    print("unprivileged ok")
"""


@functools.lru_cache(maxsize=1)
def unprivileged() -> tuple[Unprivileged | None, str]:
    """(the unprivileged-uid isolation, "") when the grader is root and it drops root; else (None, why)."""
    if os.geteuid() != 0:
        return None, "the grader is not root, so it cannot run code as another user"
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None, "setpriv (util-linux) is not installed"
    isolation = Unprivileged(setpriv=setpriv)
    uid = worker_uid()
    with tempfile.TemporaryDirectory(prefix="qgrade-selftest-") as folder:
        forbidden = os.path.join(folder, "root-only")
        program = UNPRIVILEGED_SELF_TEST.format(uid=uid, forbidden=forbidden, worker=str(WORKER))
        argv = [*isolation.drop(uid), sys.executable, "-I", "-S", "-c", program]
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            return None, f"running code as an unprivileged uid failed ({error})"
    if done.returncode != 0 or "unprivileged ok" not in done.stdout:
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
        return None, f"running code as an unprivileged uid failed its self-test ({detail})"
    return with_cgroups(isolation), ""


def with_cgroups(isolation: IsolationT) -> IsolationT:
    """`isolation` (a dataclass with `cgroups` and `cgroup2` fields) capped by a cgroup per worker where this
    grader can make one here (v1, else v2); otherwise as it is, capped by the rlimits alone."""
    from grader.sandbox import cgroup, cgroup2

    if cgroup.available()[0] is not None:
        return dataclasses.replace(isolation, name=f"{isolation.name}+cgroup", cgroups=True)
    if cgroup2.available()[0] is not None:
        return dataclasses.replace(isolation, name=f"{isolation.name}+cgroup2", cgroups=True, cgroup2=True)
    return isolation


def death_reason(isolation: Isolation, what: str, code: int | None, limits: Limits, *,
                 out_of_memory: bool = False) -> str:
    """Why the worker stopped, in words for the student."""
    if out_of_memory:
        return (f"{what} used more than the {describe_size(limits.memory)} memory cap, so the process "
                "running your code was stopped.")
    number = isolation.exit_signal(code)
    if number is None:
        return f"{what} stopped the process running your code (exit status {code})."
    if number == signal.SIGXCPU:
        return (f"{what} used more CPU time than allowed ({limits.question_cpu:g} seconds per question, "
                f"{limits.submission_cpu:g} in all), so it was stopped.")
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    return f"{what} stopped the process running your code ({name})."
