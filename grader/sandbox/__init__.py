"""Where student code runs: the sandbox, its caps, and the choice between sandbox and bare process.

The package's face: `choose` picks the isolation for grading (the bubblewrap sandbox; in a container
that refuses bubblewrap its namespaces, an unprivileged uid per worker; a bare process only when
explicitly allowed), `for_checking` the one for a student's own check, `for_gradescope` the one for
Gradescope's container (the sandbox, else an unprivileged uid, never a bare process), and
`SandboxUnavailable` says why grading cannot run here and what to do. Inside:

    limits.py      the caps (`Limits`), as rlimits and cgroup settings
    isolation.py   the seam: a bare worker process (`Isolation`), the unprivileged-uid fallback
                   (`Unprivileged`), what each leaves open (`unenforced`), and why a worker died
    bubblewrap.py  the real sandbox, built on that seam
    cgroup.py      caps on a whole sandbox where root can make cgroups (v1)
    cgroup2.py     the same caps in the cgroup v2 (unified) hierarchy
    session.py     one submission's worker: start, call, inspect, restart, close
    pool.py        the warm path, grader side: one sandbox per slot, a forked worker per submission
    zygote.py      the warm path, inside: imports torch once, forks a fresh worker per submission
    wire.py        the data that crosses between grader and worker (never pickles)
    worker.py      the process inside the sandbox that runs the student's cells
"""

from __future__ import annotations

from grader.errors import GraderError
from grader.sandbox import bubblewrap, cgroup, cgroup2
from grader.sandbox.isolation import Isolation, unprivileged
from grader.sandbox.limits import Limits

__all__ = ["RLIMITS", "UNSAFE_FLAG", "Isolation", "Limits", "SandboxUnavailable", "caps", "choose", "for_checking",
           "for_gradescope", "why_no_cgroup"]

UNSAFE_FLAG = "--unsafe-no-sandbox"
#: What caps memory and processes under each isolation that results record (`grader.isolation`); any
#: other isolation (`bubblewrap` or `unprivileged-uid` without a usable cgroup, `process`) has `RLIMITS`:
#: each process is capped on its own, `--memory` being its address space.
CAPS = {"bubblewrap+cgroup": "cgroup v1", "bubblewrap+cgroup2": "cgroup v2",
        "unprivileged-uid+cgroup": "cgroup v1", "unprivileged-uid+cgroup2": "cgroup v2"}
RLIMITS = "rlimits"
#: How to let bubblewrap work where the system refuses it namespaces, for the instructor (docs/sandbox.md).
NAMESPACES_ADVICE = (
    "On a Linux host, allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 or "
    "user.max_user_namespaces above 0; where AppArmor restricts them, kernel.apparmor_restrict_unprivileged_userns=0 "
    "or a profile that lets bwrap make them). In a container, run the grader as root, so that it runs student code "
    "as an unprivileged uid instead; or, for the full sandbox, as a user other than root in a container started with "
    "--security-opt seccomp=unconfined --security-opt systempaths=unconfined (docs/sandbox.md, 'In a container')."
)


class SandboxUnavailable(GraderError):
    """No sandbox on this machine, and running student code without one was not allowed."""


def choose(*, unsafe_no_sandbox: bool = False) -> Isolation:
    """The strongest isolation here: the sandbox; where bubblewrap is installed but may not make namespaces
    (a container under Docker's default profile) and the grader is root, an unprivileged uid per worker; a
    bare process only when explicitly allowed. Otherwise `SandboxUnavailable`, saying what to do."""
    sandbox, problem = bubblewrap.available()
    if sandbox is not None:
        return sandbox
    why_not = ""
    if bubblewrap.namespaces_refused(problem):
        fallback, why_not = unprivileged()
        if fallback is not None:
            return fallback
    if unsafe_no_sandbox:
        return Isolation()
    raise SandboxUnavailable(_advice(problem, why_not))


def _advice(problem: str, why_not_unprivileged: str) -> str:
    """Why no student code will run here, and what the instructor can do about it."""
    trusted = f"Only for code you trust, {UNSAFE_FLAG} runs it as a plain process with your own rights."
    if problem == bubblewrap.NOT_INSTALLED:
        return ("bubblewrap (bwrap) is not installed, so student code will not be run. Install it (Debian/Ubuntu: "
                f"apt-get install bubblewrap; Fedora: dnf install bubblewrap). {trusted}")
    if bubblewrap.namespaces_refused(problem):
        return (f"bubblewrap is installed, but this system does not let it make namespaces ({problem}), and "
                f"there is no unprivileged uid to fall back on ({why_not_unprivileged}), so student code will not "
                f"be run. {NAMESPACES_ADVICE} {trusted}")
    return f"the sandbox does not work here ({problem}), so student code will not be run. {trusted}"


def for_checking() -> Isolation:
    """`grader check` (a student's own code on their own machine): the strongest isolation there is, else a
    plain process (it is the student's own code)."""
    try:
        return choose()
    except SandboxUnavailable:
        return Isolation()


def for_gradescope() -> tuple[Isolation, str]:
    """Gradescope's container: (the sandbox, "") when bubblewrap works there; otherwise (the unprivileged
    uid, why the sandbox does not work), even when bubblewrap is missing. Never a bare process: without
    either, `SandboxUnavailable`."""
    sandbox, problem = bubblewrap.available()
    if sandbox is not None:
        return sandbox, ""
    fallback, why_not = unprivileged()
    if fallback is not None:
        return fallback, problem
    raise SandboxUnavailable(f"no sandbox is available, so student code will not be run: {problem}; "
                             f"and no unprivileged user either: {why_not}.")


def caps(isolation: str) -> str:
    """What capped memory and processes under `isolation` (a name results record): "cgroup v1",
    "cgroup v2" or "rlimits"; for the comma-joined names of a Dask batch, each that occurs, sorted."""
    found = {CAPS.get(name, RLIMITS) for name in isolation.split(",") if name}
    return ",".join(sorted(found)) or RLIMITS


def why_no_cgroup(isolation: Isolation) -> str | None:
    """Why the sandboxes of `isolation` get no cgroup, in words (None when they do): for a sandbox,
    what cgroup v1 and v2 each said on this machine, such as "the grader is not root" or "Read-only
    file system"."""
    if isolation.cgroups:
        return None
    if not isolation.confined:
        return f"isolation {isolation.name} runs every worker as a plain process, never in a cgroup"
    return f"cgroup v1: {cgroup.available()[1]}; cgroup v2: {cgroup2.available()[1]}"
