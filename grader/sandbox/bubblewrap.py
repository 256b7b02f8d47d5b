"""The sandbox: bubblewrap (`bwrap`, Debian package `bubblewrap`) around the worker.

Inside, the worker sees a new root with only:

- read-only: /usr (and the /bin, /lib* links), the dynamic loader's files from /etc, the Python
  installation and virtual environment the grader runs on, and the worker's own three files
  (`/worker/worker.py`, `/worker/wire.py`, `/worker/stubs.py`);
- writable: `/scratch`, its working directory and home, a tmpfs of `Limits.output` bytes that
  vanishes with the sandbox; the public support package (`quantlab/`) is bound read-only in it;
- its own /proc and a minimal /dev; no network (empty network namespace), its own pid, IPC and
  UTS namespaces. When the grader ends the sandbox, the kernel kills every process in it,
  detached and double-forked ones included.

Identity. The worker runs as uid 65534 inside a user namespace that may not create more of them
(`--disable-userns`: no private tmpfs or other namespace tricks). Outside, that uid must not be
root, or the kernel would not count its processes against `Limits.processes`. So when the grader
runs as root, an outer bwrap builds the view (root can bind folders, like a root-only pyenv,
that no other user could reach), `setpriv` drops to an unused host uid from a private range with
no capabilities, and an inner bwrap adds the user namespace. When the grader is not root, one
bwrap does it all as that user.

Caps. When root can make cgroups (`cgroup.available`), the sandbox is `bubblewrap+cgroup`: each
worker's session puts the sandbox in a group of its own that caps the memory and processes of
all it holds (see cgroup.py); on a cgroup v2 host (`cgroup2.available`), `bubblewrap+cgroup2`, the
same caps in the unified hierarchy (cgroup2.py); otherwise it is `bubblewrap`, capped by
per-process rlimits only.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.sandbox.isolation import PYTHON_FLAGS, STUBS, WIRE, WORKER, ZYGOTE, Isolation, with_cgroups, worker_uid
from grader.sandbox.limits import Limits

SCRATCH = "/scratch"
WORKER_DIR = "/worker"
INSIDE_UID = 65534
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "fonts")

class _View:
    """bwrap arguments for a new root holding only what is bound into it."""

    def __init__(self):
        self.arguments: list[str] = []
        self.made: set[str] = {"/"}

    def _parents(self, destination: str) -> None:
        # bwrap creates missing parents with mode 0700, which the unprivileged worker cannot cross.
        parts = Path(destination).parts[1:-1]
        for depth in range(1, len(parts) + 1):
            folder = "/" + "/".join(parts[:depth])
            if folder not in self.made:
                self.arguments += ["--perms", "0755", "--dir", folder]
                self.made.add(folder)

    def read_only(self, source: str | Path, destination: str | Path | None = None) -> None:
        destination = str(destination or source)
        self._parents(destination)
        self.arguments += ["--ro-bind", str(source), destination]
        self.made.add(destination)

    def system(self) -> None:
        self.read_only("/usr")
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            path = Path("/") / name
            if path.is_symlink():
                self.arguments += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                self.read_only(path)
        for name in _ETC:
            if (Path("/etc") / name).exists():
                self.read_only(Path("/etc") / name)
        self.arguments += ["--proc", "/proc", "--dev", "/dev", "--perms", "0755", "--dir", "/tmp"]

    def python(self) -> None:
        for prefix in dict.fromkeys([sys.base_prefix, sys.prefix, str(Path(sys.executable).resolve().parent.parent)]):
            if not Path(prefix).resolve().is_relative_to("/usr") and prefix not in self.made:
                self.read_only(prefix)

    def scratch(self, host_scratch: Path, size: int) -> None:
        self.arguments += ["--perms", "0777", "--size", str(max(size, 1 << 20)), "--tmpfs", SCRATCH]
        self.made.add(SCRATCH)
        for entry in sorted(host_scratch.iterdir()) if host_scratch.is_dir() else ():
            self.read_only(entry, f"{SCRATCH}/{entry.name}")
        self.read_only(WORKER, f"{WORKER_DIR}/worker.py")
        self.read_only(WIRE, f"{WORKER_DIR}/wire.py")
        self.read_only(STUBS, f"{WORKER_DIR}/stubs.py")
        self.read_only(ZYGOTE, f"{WORKER_DIR}/zygote.py")


@dataclass(frozen=True)
class Bubblewrap(Isolation):
    name: str = "bubblewrap"
    sandboxed = True
    confined = True
    bwrap: str = "bwrap"
    setpriv: str = "setpriv"
    cgroups: bool = False
    cgroup2: bool = False

    def wrap(self, host_scratch: Path, argv: list[str], limits: Limits) -> list[str]:
        """`argv` run inside a fresh sandbox whose scratch shows `host_scratch`'s entries."""
        view = _View()
        view.system()
        view.python()
        view.scratch(host_scratch, limits.output)
        # An unprivileged bwrap makes / and /dev tmpfs the sandbox's user owns: no writing there.
        view.arguments += ["--remount-ro", "/dev", "--remount-ro", "/"]
        common = ["--die-with-parent", "--new-session", "--hostname", "sandbox", "--chdir", SCRATCH]
        user_namespace = ["--unshare-user", "--disable-userns", "--uid", str(INSIDE_UID), "--gid", str(INSIDE_UID)]
        if os.geteuid() != 0:
            return [self.bwrap, *view.arguments, "--unshare-all", *user_namespace, *common, "--", *argv]
        uid = str(worker_uid())
        outer = [
            self.bwrap, *view.arguments,
            "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
            "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP",
            *common, "--",
        ]
        drop = [self.setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all", "--no-new-privs", "--"]
        # A fresh /dev: the outer one, bound again inside a user namespace, would open no device.
        inner = [self.bwrap, "--bind", "/", "/", "--dev", "/dev", "--remount-ro", "/dev", *user_namespace,
                 "--die-with-parent", "--chdir", SCRATCH, "--"]
        return [*outer, *drop, *inner, *argv]

    def command(self, scratch: Path, fds: tuple[int, int], limits: Limits | None = None) -> list[str]:
        limits = limits or Limits()
        worker = [sys.executable, *PYTHON_FLAGS, f"{WORKER_DIR}/worker.py", *self.worker_arguments(fds, limits)]
        return self.wrap(scratch, worker, limits)

    def zygote_command(self, scratch: Path, control_fd: int, limits: Limits) -> list[str]:
        """The warm path (pool.py): a sandbox whose zygote forks one worker per submission."""
        zygote = [sys.executable, *PYTHON_FLAGS, f"{WORKER_DIR}/zygote.py", str(control_fd)]
        return self.wrap(scratch, zygote, limits)

    def environment(self, scratch: Path) -> dict[str, str]:
        return {
            "PATH": "/usr/bin:/bin",
            "HOME": SCRATCH,
            "TMPDIR": SCRATCH,
            "USER": "student",
            "LOGNAME": "student",
            **self.common_environment(Path(SCRATCH)),
        }

    def exit_signal(self, code: int | None) -> int | None:
        if code is not None and code > 128:  # bwrap exits with 128 + n when its child died of signal n
            return code - 128
        return super().exit_signal(code)

    def describe(self) -> str:
        caps = "memory and process caps on the whole sandbox (cgroup)" if self.cgroups else "resource limits"
        return ("bubblewrap: unprivileged user, no network, read-only system view, private scratch, "
                f"own process tree, {caps}")

    def unenforced(self) -> list[str]:
        return [] if self.cgroups else [
            "memory: capped for each process on its own (rlimits), not for all of a sandbox's processes together"]


#: Run inside a fresh sandbox by `available`: it must be confined, or the sandbox is not used.
SELF_TEST = """
import os, socket
assert os.getuid() == 65534, "not the unprivileged user"
open("/scratch/probe", "w").write("ok")
for path in ("/probe", "/usr/probe", "/tmp/probe", "/dev/probe", "/dev/shm/probe"):
    try:
        open(path, "w")
    except OSError:
        pass
    else:
        raise AssertionError("could write " + path)
assert not os.path.exists("/etc/passwd") and not os.path.exists("/home"), "sees the host"
assert len(open("/dev/urandom", "rb").read(4)) == 4, "no /dev/urandom (torch needs it)"
try:
    socket.create_connection(("127.0.0.1", 9), timeout=1)
except OSError:
    pass
else:
    raise AssertionError("has network")
print("sandbox ok")
"""


#: How bwrap says the system will not let it make namespaces: a container's seccomp profile or masked /proc,
#: a sysctl, AppArmor's hold on unprivileged user namespaces (its self-test's last line).
_REFUSED = re.compile(r"namespace|uid map|mount proc|Operation not permitted|Permission denied", re.IGNORECASE)
NOT_INSTALLED = "bubblewrap (bwrap) is not installed"


def namespaces_refused(problem: str) -> bool:
    """Whether `available`'s problem is bubblewrap, installed, refused its namespaces here."""
    return problem != NOT_INSTALLED and bool(_REFUSED.search(problem))


@functools.lru_cache(maxsize=1)
def available() -> tuple[Bubblewrap | None, str]:
    """(the sandbox, "") when bwrap is installed and confines a test program; else (None, why)."""
    bwrap, setpriv = shutil.which("bwrap"), shutil.which("setpriv")
    if bwrap is None:
        return None, NOT_INSTALLED
    if os.geteuid() == 0 and setpriv is None:
        return None, "setpriv (util-linux) is not installed"
    sandbox = Bubblewrap(bwrap=bwrap, setpriv=setpriv or "setpriv")
    with tempfile.TemporaryDirectory(prefix="qgrade-selftest-") as scratch:
        argv = sandbox.wrap(Path(scratch), [sys.executable, "-I", "-S", "-c", SELF_TEST], Limits())
        try:
            done = subprocess.run(argv, env=sandbox.environment(Path(scratch)), stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            return None, f"bubblewrap failed its self-test ({error})"
    if done.returncode != 0 or "sandbox ok" not in done.stdout:
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
        return None, f"bubblewrap failed its self-test ({detail})"
    return with_cgroups(sandbox), ""
