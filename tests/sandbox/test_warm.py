"""The warm path (grader/sandbox/pool.py, zygote.py): one sandbox per slot, a fresh child per submission.

Each test grades submissions one after another through one pool and checks that the second sees
nothing of the first, that the zygote stays out of the children's reach, and that a sandbox is
replaced whenever it cannot promise a clean child.
"""

import os
import random
import textwrap
from pathlib import Path

import numpy
import pytest
import torch
from test_session import GRADERS_FOLDER

from ci import in_ci
from grader.labs import SUPPORT
from grader.sandbox import bubblewrap, cgroup, cgroup2
from grader.sandbox.limits import Limits, MiB
from grader.sandbox.pool import SandboxPool
from grader.sandbox.session import StudentCodeError, WorkerLost, WorkerSession

SANDBOX, PROBLEM = bubblewrap.available()
pytestmark = pytest.mark.skipif(SANDBOX is None and not in_ci(), reason=f"no sandbox here: {PROBLEM}")
CGROUPS = SANDBOX is not None and SANDBOX.cgroups  # v1 or v2


#: Which sandbox a child runs in: when its zygote started (pids are the same in every sandbox's namespace).
ZYGOTE_BORN = ("import os\ndef born():\n"
               "    return open(f'/proc/{os.getppid()}/stat').read().rsplit(')', 1)[1].split()[19]")


@pytest.fixture
def needs_cgroups():
    """Skip without cgroups, except in CI, where a sandbox without them must fail, saying why."""
    if not CGROUPS:
        if in_ci():
            pytest.fail(f"CI needs cgroups to cap the sandbox, and this host has none: {cgroup.available()[1]}")
        pytest.skip(f"no cgroups here: {cgroup.available()[1]}")


@pytest.fixture
def pool():
    assert SANDBOX is not None, f"CI must have the sandbox: {PROBLEM}"
    with SandboxPool(SANDBOX, Limits(), [SUPPORT]) as warm:
        yield warm


def session(pool: SandboxPool, *sources: str, **limits) -> WorkerSession:
    cells = [{"index": i, "source": textwrap.dedent(s)} for i, s in enumerate(sources, start=1)]
    return WorkerSession(cells, support=[SUPPORT], limits=Limits(**limits), pool=pool)


def run(pool: SandboxPool, source: str, name: str, *args, **limits):
    """Grade one 'submission' in the pool: run `source`, call `name(*args)` once."""
    with session(pool, source, **limits) as s:
        s.start()
        return s.call(name, args, {}, timeout=30)


LEAVER = """
import os, time, torch, quantlab
def leave():
    torch.round = lambda *a, **k: "patched"
    quantlab.left_behind = True
    os.environ["LEFT_BEHIND"] = "yes"
    os.makedirs("/scratch/mine", exist_ok=True)
    open("/scratch/mine/answers.txt", "w").write("42")
    open("/scratch/.hidden", "w").write("42")
    os.chmod("/scratch/mine", 0)  # the zygote must clean it all the same
    read, write = os.pipe()
    if os.fork() == 0:  # a detached grandchild in a session of its own, still running
        os.setsid()
        if os.fork() == 0:
            os.write(write, str(os.getpid()).encode())
            time.sleep(600)
        os._exit(0)
    return int(os.read(read, 20))
"""

LOOKER = """
import os, torch, quantlab
def look(pid):
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    return {
        "round": torch.round(torch.tensor([1.4])).tolist(),
        "quantlab": hasattr(quantlab, "left_behind"),
        "environ": os.environ.get("LEFT_BEHIND"),
        "files": sorted(os.listdir("/scratch")),
        "leftover alive": alive,
        "pid": os.getpid(),
    }
"""


def test_nothing_of_one_submission_reaches_the_next(pool):
    leftover = run(pool, LEAVER, "leave")
    seen = run(pool, LOOKER, "look", leftover)
    assert pool.started == 1  # the same sandbox served both
    assert seen["round"] == [1.0] and not seen["quantlab"] and seen["environ"] is None
    assert seen["files"] == ["quantlab"]  # the zygote's own caches went too: nothing of anyone's
    assert not seen["leftover alive"]


def test_the_graders_own_folder_is_not_on_a_childs_path(pool):
    assert run(pool, GRADERS_FOLDER, "path") == ("/scratch", [], [])  # as in a cold worker, on every Python


def test_each_child_is_a_new_process_in_a_process_group_of_its_own(pool):
    source = "import os\ndef ids():\n    return os.getpid(), os.getpgid(0), os.getsid(0), os.getppid()"
    first, second = run(pool, source, "ids"), run(pool, source, "ids")
    assert first[0] != second[0] and first[3] == second[3]  # fresh children of the same zygote
    for pid, group, session_id, _ in (first, second):
        assert pid == group == session_id


def test_each_child_has_a_capped_cgroup_of_its_own_inside_its_sandboxs(pool, needs_cgroups):
    """v1: a group in `memory` and one in `pids`, each inside its sandbox's; v2 (cgroup2.py): one group
    inside its sandbox's, whose processes sit in its leaf `main/`, as the sandbox's own do."""
    groups = []
    for _ in range(2):
        with session(pool, "x = 1") as s:
            s.start()
            pid = str(s.process.pid)
            if SANDBOX.cgroup2:
                folder, whole = s.cgroup.folder, s.sandbox.cgroup.folder
                assert folder.parent == whole
                assert pid in (folder / "main" / "cgroup.procs").read_text().split()
                assert pid not in (whole / "main" / "cgroup.procs").read_text().split()  # the zygote's leaf
                memory, pids = folder / "memory.max", folder / "pids.max"
            else:
                folders = s.cgroup.folders
                assert folders["memory"].parent == s.sandbox.cgroup.folders["memory"]
                assert pid in (folders["memory"] / "cgroup.procs").read_text().split()
                assert pid in (folders["pids"] / "cgroup.procs").read_text().split()
                memory, pids = folders["memory"] / "memory.limit_in_bytes", folders["pids"] / "pids.max"
            assert int(memory.read_text()) == Limits().memory
            assert int(pids.read_text()) == Limits().processes
            groups.append(list(s.cgroup.folders.values()))
    assert groups[0] != groups[1] and not any(f.exists() for g in groups for f in g)


def test_a_childs_memory_is_capped_as_a_cold_workers_is(pool, needs_cgroups):
    hog = "def hog():\n    hoard = b'x' * (900 * 1024 * 1024)\n    return len(hoard)"
    with session(pool, hog, memory=512 * MiB) as s:
        s.start()
        with pytest.raises(WorkerLost) as lost:
            s.call("hog", (), {}, timeout=60)
        assert "used more than the 512 MiB memory cap" in lost.value.reason
    assert run(pool, "def ok():\n    return 'ok'", "ok") == "ok"


def test_the_zygote_cannot_be_traced_or_read_by_a_child(pool):
    source = """
    import ctypes, os
    def probe():
        zygote = os.getppid()
        found = {}
        for name in ("mem", "environ", "maps"):
            try:
                open(f"/proc/{zygote}/{name}", "rb").read(1)
                found[name] = "read"
            except OSError as error:
                found[name] = type(error).__name__
        libc = ctypes.CDLL(None, use_errno=True)
        found["ptrace"] = libc.ptrace(16, zygote, None, None)  # PTRACE_ATTACH
        return found
    """
    found = run(pool, source, "probe")
    assert found == {"mem": "PermissionError", "environ": "PermissionError", "maps": "PermissionError", "ptrace": -1}


def test_a_child_inherits_no_channel_but_its_own(pool):
    source = """
    import os
    def fds():
        found = {}
        for fd in os.listdir("/proc/self/fd"):
            try:
                found[fd] = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:  # the folder listing's own fd, closed by now
                pass
        return found
    """
    fds = run(pool, source, "fds")
    opened = {fd: target for fd, target in fds.items() if int(fd) > 2}
    pipes = [target for target in opened.values() if target.startswith("pipe:")]
    assert len(pipes) == 2, fds  # its request and answer pipes
    assert not [target for target in opened.values() if target.startswith("socket:")], fds
    assert set(opened.values()) - set(pipes) <= {"/dev/null"}, fds  # where the worker sends what is printed


@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGSTOP"])
def test_a_child_that_kills_or_stops_the_zygote_costs_its_own_submission_only(pool, signal_name):
    source = f"""
    import os, signal
    def attack():
        os.kill(os.getppid(), signal.{signal_name})
        return "done"
    """
    assert run(pool, source, "attack") == "done"  # the child itself carries on: its grade is its own
    assert run(pool, LOOKER, "look", 999_999)["round"] == [1.0]  # the next submission: a new sandbox
    assert pool.started == 2


def test_a_child_that_signals_the_zygote_otherwise_changes_nothing(pool):
    source = """
    import os, signal
    def poke():
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGCHLD):
            os.kill(os.getppid(), number)
        return "poked"
    """
    assert run(pool, source, "poke") == "poked"
    assert run(pool, LOOKER, "look", 999_999)["round"] == [1.0]
    assert pool.started == 1  # blocked signals: the zygote is still there and still clean


def test_a_restart_after_a_timeout_or_a_crash_forks_from_the_same_sandbox(pool):
    source = "import os\ndef spin():\n    while True: pass\ndef die():\n    os._exit(3)\n" \
             "def ok():\n    return os.getpid()"
    with session(pool, source) as s:
        s.start()
        with pytest.raises(WorkerLost) as late:
            s.call("spin", (), {}, timeout=1.0)
        assert late.value.timed_out and not s.alive
        s.start()
        first = s.call("ok", (), {}, timeout=10)
        with pytest.raises(WorkerLost) as died:
            s.call("die", (), {}, timeout=10)
        assert "exit status 3" in died.value.reason
        s.start()
        assert s.call("ok", (), {}, timeout=10) != first
    assert pool.started == 1


def test_student_exceptions_and_seeds_are_as_in_a_cold_worker(pool):
    source = """
    import random, hashlib, numpy, torch
    def draws():
        return random.random(), float(numpy.random.rand()), torch.rand(2).tolist(), hash("abc")
    def fail():
        raise ValueError("scale must be positive")
    """
    warm = run(pool, source, "draws")
    with WorkerSession([{"index": 1, "source": textwrap.dedent(source)}], support=[SUPPORT], limits=Limits(),
                       isolation=SANDBOX) as cold:
        cold.start()
        assert cold.call("draws", (), {}, timeout=30) == warm
    # Each call starts from the seeds of `random.seed(0)`, `numpy.random.seed(0)` and `torch.manual_seed(0)`.
    random.seed(0)
    numpy.random.seed(0)
    torch.manual_seed(0)
    assert warm[:3] == (random.random(), float(numpy.random.rand()), torch.rand(2).tolist())
    with session(pool, source) as s:
        s.start()
        with pytest.raises(ValueError) as caught:
            s.call("fail", (), {}, timeout=10)
        assert isinstance(caught.value, StudentCodeError)


def test_sandboxes_are_replaced_after_a_fixed_number_of_submissions():
    with SandboxPool(SANDBOX, Limits(), [SUPPORT], recycle_after=2, start_ahead=0) as pool:
        zygotes = [run(pool, ZYGOTE_BORN, "born") for _ in range(3)]
        assert pool.started == 2
    assert zygotes[0] == zygotes[1] != zygotes[2]


def test_a_prestarted_sandbox_serves_the_first_submission():
    with SandboxPool(SANDBOX, Limits(), [SUPPORT]) as pool:
        pool.prestart(1)
        assert pool.started == 1
        first, second = (run(pool, ZYGOTE_BORN, "born") for _ in range(2))
        assert pool.started == 1 and first == second  # no other sandbox was started: that one served both


def test_a_replacement_starts_before_its_sandbox_retires():
    with SandboxPool(SANDBOX, Limits(), [SUPPORT], recycle_after=3, start_ahead=1) as pool:
        zygotes = [run(pool, ZYGOTE_BORN, "born")]
        assert pool.started == 1
        zygotes.append(run(pool, ZYGOTE_BORN, "born"))
        assert pool.started == 2  # served 2 of 3: the replacement is already on its way
        zygotes += [run(pool, ZYGOTE_BORN, "born") for _ in range(2)]
        assert pool.started == 2  # the fourth submission found it ready
    assert zygotes[0] == zygotes[1] == zygotes[2] != zygotes[3]


def test_system_v_ipc_of_one_submission_is_gone_for_the_next(pool):
    source = """
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    def make():
        return libc.shmget(0x5eed, 4096, 0o1666)  # IPC_CREAT | 0666
    def find():
        return libc.shmget(0x5eed, 4096, 0o666)
    """
    assert run(pool, source, "make") >= 0
    assert run(pool, source, "find") == -1
    assert pool.started == 1


def _cpu_controller() -> str | None:
    """Why the grader gives no sandbox a CPU weight here, or None when it does: the `cpu` controller is
    optional (grader/sandbox/cgroup.py, cgroup2.py OPTIONAL_CONTROLLERS); v1 sets `cpu.shares` where the
    v1 `cpu` hierarchy is mounted, v2 `cpu.weight` where the unified hierarchy delegates `cpu`."""
    if SANDBOX.cgroup2:
        base = cgroup2.available()[0]
        if base is None or "cpu" not in (base / "cgroup.subtree_control").read_text().split():
            return "the cgroup v2 cpu controller is not delegated to the grader's groups here"
        return None
    if "cpu" not in (cgroup.available()[0] or {}):
        return "the cgroup v1 cpu controller is not mounted here"
    return None


def _weight(group) -> tuple[Path, int]:
    """A sandbox's CPU group (the folder all its processes are in) and the weight the grader gave it."""
    if "cpu" in group.folders:  # v1
        return group.folders["cpu"], int((group.folders["cpu"] / "cpu.shares").read_text())
    return group.folder, int((group.folder / "cpu.weight").read_text())  # v2: its subgroups inside it


def _cpu_seconds(folder: Path) -> float:
    """CPU time (user + system) the processes in the cgroup `folder` and its subgroups have used so far."""
    ticks = 0
    for procs in folder.rglob("cgroup.procs"):
        for pid in procs.read_text().split():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime and stime (fields 14 and 15 of proc(5))
    return ticks / os.sysconf("SC_CLK_TCK")


def test_thirty_spinning_threads_do_not_push_a_neighbour_past_its_time_limit(pool, needs_cgroups):
    """One CPU weight per sandbox: while the neighbour wants a CPU for a second and a half, 28 spinning
    threads in another sandbox get about as much CPU time as it gets (the kernel's count), not 7 to 28
    times as much, so its question's CPU time is not starved past its time limit.

    Skipped, in CI too, where the grader sets no CPU weight (`_cpu_controller`): the cpu controller is
    optional in the product, and without it there is no behaviour here to check."""
    if (why := _cpu_controller()) is not None:
        pytest.skip(f"{why}: the grader gives no sandbox a CPU weight, so there is nothing to check")
    # Seven processes in sessions of their own (so seven scheduler autogroups, were it not for the
    # cgroup), four spinning threads each: 28 tasks that want a CPU each.
    spinner = """
    import hashlib, os, threading
    def spin():
        while True:
            hashlib.sha256(b"x" * (1 << 20)).digest()  # releases the GIL: every thread takes a CPU
    for _ in range(7):
        if os.fork() == 0:
            try:
                os.setsid()
                for _ in range(3):
                    threading.Thread(target=spin, daemon=True).start()
                spin()
            finally:
                os._exit(0)
    """
    neighbour = """
    import time
    def work(seconds):
        # Want a CPU for `seconds`; return the CPU time the kernel gave it meanwhile.
        started, cpu = time.monotonic(), time.process_time()
        while time.monotonic() - started < seconds:
            pass
        return time.process_time() - cpu
    """
    with session(pool, spinner) as spinning, session(pool, neighbour) as s:
        spinning.start()
        s.start()
        (spinners, spinners_weight), (neighbours, neighbours_weight) = map(
            _weight, (spinning.sandbox.cgroup, s.sandbox.cgroup))
        assert "cpu" not in spinning.cgroup.folders and spinners != neighbours
        # Every spinning thread, whatever its session, is in its sandbox's cpu group: one weight.
        threads = "tasks" if (spinners / "tasks").exists() else "cgroup.threads"
        assert sum(len(f.read_text().split()) for f in spinners.rglob(threads)) >= 29
        assert spinners_weight == neighbours_weight == (cgroup2.CPU_WEIGHT if SANDBOX.cgroup2 else cgroup.CPU_SHARES)
        before = _cpu_seconds(spinners)
        used = s.call("work", (1.5,), {}, timeout=60)
        spun = _cpu_seconds(spinners) - before
        # Equal weights: the spinners get about the neighbour's share (one CPU each on two, whatever else
        # runs); one weight per process or session (no cpu group) would give them 7 to 28 times its CPU.
        assert spun < 3 * used, f"28 spinning threads took {spun:.2f} CPU-s, the neighbour got {used:.2f}"
