"""The grader as an ordinary user (`make test-unprivileged`; `.ci/run` runs it): the demo and the grade and
hostile tests as uid 65534, compared with root's demo.

An instructor without root runs `make demo` and `grade` as themself, with bubblewrap installed by their
administrator: bubblewrap then runs unprivileged, through user namespaces, and no cgroup v1 is theirs, so
memory is capped per process (docs/sandbox.md, "Without root"). This script, run as root, stands in
for that instructor:

1. a virtual environment of Debian's `python3` that uid 65534 can read (the pyenv Pythons live in
   root's home, which other users cannot read): `python3 -m venv`, then `pip install torch==2.13.0`
   (the pin in the Makefile) before anything else, then the project's dependencies and dev extras
   from pyproject.toml. It is kept in a root-owned, world-readable cache (`--cache`, by default
   /var/cache/quantization-grader/venv-<hash of pyproject.toml, the Python and the torch pin>) and is
   built under a lock; it is used only once its stamp, written last, exists, and the venvs of older
   keys that no run is using are removed;
2. a copy of the checkout (`git ls-files`: tracked and untracked files, not the ignored ones) owned by
   uid 65534, with a home and a temporary folder of its own;
3. `python -m grader demo` as root and as uid 65534, each from its own copy, then the same grades
   compared student by student (score, status, every question's score and status);
4. `pytest tests/grade tests/hostile` as uid 65534 (but tests/hostile/test_caps.py, which needs a
   cgroup by design), with `QGRADE_EXPECT_CAPS=rlimits`, so the hostile suite fails if it found a
   cgroup after all.

On a cgroup v2 host, `--cgroup GROUP` delegates GROUP (an existing group of the unified hierarchy whose
parent hands down `memory` and `pids`) to uid 65534, as systemd does for a user: the group and its
`cgroup.procs`, `cgroup.threads` and `cgroup.subtree_control` become that uid's, and its runs start in
it, so they are expected to find `cgroup v2` (`--expect-caps` says otherwise; `any` expects nothing).

It prints what each step took and exits 1 when a step failed or a grade differs, 2 when it cannot run.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
UID = 65534
DEBIAN_PYTHON = "/usr/bin/python3"
CACHE = Path("/var/cache/quantization-grader")
STAMP = ".complete"
TESTS = ["tests/grade", "tests/hostile"]
#: The batch of what only a cgroup holds (memory-cap verdicts, CPU weight, groups removed) needs one by
#: design; the hostile suite's own cgroup-only cases say what holds without one (docs/sandbox.md).
IGNORED = ["--ignore=tests/hostile/test_caps.py"]


def torch_pin() -> str:
    """The torch the Makefile installs first (`torch==2.13.0`): never let pip pick torch."""
    found = re.search(r"pip install --quiet (torch==[\w.+]+)", (ROOT / "Makefile").read_text())
    if found is None:
        raise SystemExit("the Makefile's `pip install --quiet torch==...` line was not found")
    return found.group(1)


def requirements() -> list[str]:
    """The project's dependencies and its dev extras, from pyproject.toml (the project itself is not
    installed: each run puts its own copy on PYTHONPATH, so the cached venv depends on pyproject alone)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["dev"]]


def venv_key(python: str, torch: str) -> str:
    version = subprocess.run([python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True,
                             check=True).stdout
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(f"\0{version}\0{torch}".encode())
    return digest.hexdigest()[:16]


def cached_venv(cache: Path, python: str) -> Path:
    """The venv for this pyproject.toml, built once under `cache` (under a lock; its stamp written last).

    This process holds a shared lock on the venv it uses (`venv-<key>.lock`) until it exits; the venvs of
    other keys that no run holds are removed (an older pyproject.toml's), so the cache keeps one or two.
    """
    torch = torch_pin()
    cache.mkdir(parents=True, exist_ok=True)
    cache.chmod(0o755)
    venv = cache / f"venv-{venv_key(python, torch)}"
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _HELD.append(open(f"{venv}.lock", "w"))
        fcntl.flock(_HELD[-1], fcntl.LOCK_SH)  # released when this process exits
        _prune(cache, keep=venv)
        if (venv / STAMP).exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)  # a build that was stopped half-way
        print(f"building {venv} (Debian's python3, {torch} first)", flush=True)
        begun = time.monotonic()
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, torch], check=True)
        subprocess.run([*pip, *requirements()], check=True)
        subprocess.run(["chmod", "-R", "a+rX,go-w", str(venv)], check=True)
        partial = venv / f"{STAMP}.partial"
        partial.write_text(f"{torch}\n{' '.join(requirements())}\n")
        partial.rename(venv / STAMP)
        print(f"built in {time.monotonic() - begun:.0f} s", flush=True)
    return venv


_HELD: list = []


def _prune(cache: Path, keep: Path) -> None:
    """Remove the cached venvs other than `keep` that no run is using (none holds their lock)."""
    for other in cache.glob("venv-*"):
        if other == keep or not other.is_dir():
            continue
        with open(f"{other}.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # in use
            shutil.rmtree(other, ignore_errors=True)
            os.unlink(f"{other}.lock")


def copy_checkout(destination: Path, owner: int | None) -> Path:
    """The checkout's files (tracked and untracked, not the ignored ones) under `destination`, owned by `owner`."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    if owner is not None:
        subprocess.run(["chown", "-R", f"{owner}:{owner}", str(destination)], check=True)
    return destination


def private_folder(path: Path, owner: int | None) -> Path:
    path.mkdir(mode=0o700)
    if owner is not None:
        os.chown(path, owner, owner)
    return path


def environment(venv: Path, source: Path, home: Path, expect_caps: str | None) -> dict[str, str]:
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(home / "tmp"),
           "LANG": "C.UTF-8", "PYTHONPATH": str(source), "CI": os.environ.get("CI", "")}
    if expect_caps:
        env["QGRADE_EXPECT_CAPS"] = expect_caps
    return env


def as_uid(argv: list[str], group: Path | None = None) -> list[str]:
    """`argv` as uid 65534; in `group` first, when given: root moves the process there, then drops to the uid
    (a delegated group's user may not move a process in from outside it)."""
    drop = ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", "--", *argv]
    if group is None:
        return drop
    return ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(group), *drop]


def delegate(group: Path) -> None:
    """Make `group` uid 65534's to manage, as a delegation does (the kernel's cgroup-v2 documentation)."""
    for path in (group, group / "cgroup.procs", group / "cgroup.threads", group / "cgroup.subtree_control"):
        os.chown(path, UID, UID)


def run(step: str, argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> tuple[int, float]:
    """Run one step, its output to `log` and its last lines to the terminal; (exit status, seconds)."""
    print(f"\n== {step}", flush=True)
    begun = time.monotonic()
    with open(log, "w") as out:
        code = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                              stderr=subprocess.STDOUT).returncode
    seconds = time.monotonic() - begun
    lines = log.read_text(errors="replace").splitlines()
    print("\n".join(lines[-25:]))
    print(f"-- {step}: exit status {code}, {seconds:.0f} s", flush=True)
    return code, seconds


def grades(output: Path) -> dict[tuple[str, str], tuple]:
    """(lab, student) -> (score, status, each question's (name, score, status)), from a demo's results."""
    found = {}
    for path in sorted(output.glob("*/results/*.json")):
        result = json.loads(path.read_text())
        questions = tuple((q["name"], q["score"], q["status"]) for q in result["questions"])
        found[(path.parent.parent.name, result["student"])] = (result["score"], result["status"], questions)
    return found


def caps_of(output: Path) -> set[str]:
    return {json.loads(path.read_text()).get("caps", "?") for path in output.glob("*/run.json")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=CACHE, help="where the shared venv is kept (%(default)s)")
    parser.add_argument("--python", default=DEBIAN_PYTHON, help="the Python other users can run (%(default)s)")
    parser.add_argument("--jobs", default="auto", help="pytest-xdist workers (%(default)s)")
    parser.add_argument("--cgroup", type=Path, help="a cgroup v2 group to delegate to uid 65534 and run it in")
    parser.add_argument("--expect-caps", default=None,
                        help="the caps the grade and hostile tests must find, or `any` "
                             "(rlimits; cgroup v2 with --cgroup)")
    parser.add_argument("--skip-demo", action="store_true", help="only the tests")
    parser.add_argument("--keep", action="store_true", help="keep the copies, the homes and the logs")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root: it prepares a venv and a checkout for uid 65534, then runs as that uid", file=sys.stderr)
        return 2
    for tool in ("bwrap", "setpriv", "git"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed", file=sys.stderr)
            return 2
    os.umask(0o022)
    venv = cached_venv(args.cache, args.python)
    python = str(venv / "bin" / "python")
    expect = args.expect_caps or ("cgroup v2" if args.cgroup else "rlimits")
    expect = None if expect == "any" else expect
    if args.cgroup:
        delegate(args.cgroup)
    work = Path(tempfile.mkdtemp(prefix="qgrade-unprivileged-"))
    work.chmod(0o755)
    failed: list[str] = []
    figures: list[str] = []
    try:
        mine = copy_checkout(private_folder(work / "nobody-src", UID), UID)
        home = private_folder(work / "nobody-home", UID)
        private_folder(home / "tmp", UID)
        env = environment(venv, mine, home, expect)
        if not args.skip_demo:
            theirs = copy_checkout(private_folder(work / "root-src", None), None)
            root_home = private_folder(work / "root-home", None)
            private_folder(root_home / "tmp", None)
            root_env = environment(venv, theirs, root_home, None)
            code, seconds = run("demo as root", [python, "-m", "grader", "demo", "-o", str(root_home / "demo")],
                                root_env, theirs, work / "root-demo.log")
            figures.append(f"demo as root: exit {code}, {seconds:.0f} s, caps {sorted(caps_of(root_home / 'demo'))}")
            failed += ["demo as root"] * (code != 0)
            demo = as_uid([python, "-m", "grader", "demo", "-o", str(home / "demo")], args.cgroup)
            code, seconds = run(f"demo as uid {UID}", demo, env, mine, work / "nobody-demo.log")
            figures.append(f"demo as uid {UID}: exit {code}, {seconds:.0f} s, caps {sorted(caps_of(home / 'demo'))}")
            failed += [f"demo as uid {UID}"] * (code != 0)
            ours, root = grades(home / "demo"), grades(root_home / "demo")
            differ = sorted(key for key in ours.keys() | root.keys() if ours.get(key) != root.get(key))
            figures.append(f"grades: {len(root)} (lab, student) as root, {len(ours)} as uid {UID}, "
                           f"{len(differ)} differ{': ' + ', '.join('/'.join(k) for k in differ) if differ else ''}")
            if differ or not root:
                failed.append("the same grades")
            if expect and caps_of(home / "demo") != {expect}:
                failed.append(f"demo caps {expect}")
        pytest = [python, "-m", "pytest", "-p", "no:cacheprovider", "-n", args.jobs, "--dist", "loadgroup",
                  "--no-loadscope-reorder", "-q", "-rs", *IGNORED, *TESTS]
        code, seconds = run(f"pytest {' '.join(TESTS)} as uid {UID}", as_uid(pytest, args.cgroup), env, mine,
                            work / "nobody-pytest.log")
        tail = (work / "nobody-pytest.log").read_text(errors="replace").strip().splitlines()[-1:]
        figures.append(f"pytest as uid {UID}: exit {code}, {seconds:.0f} s: {tail[0] if tail else 'no output'}")
        failed += [f"pytest as uid {UID}"] * (code != 0)
    finally:
        print("\n== summary")
        print("\n".join(figures))
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"as uid {UID}: the demo grades as root's, and the grade and hostile tests hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
