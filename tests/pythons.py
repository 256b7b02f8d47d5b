"""`make test-pythons`: the grader on every Python that pyproject.toml's requires-python claims.

For each version given (3.10 3.11 ...), with pyenv's CPython of that version (or python3.X on PATH):

1. a venv kept in ~/.cache/quantization-grader/pythons/<version>-<hash>, the hash of pyproject.toml,
   the torch pin and the interpreter's exact version: torch==2.13.0 first (on 3.11 the local CPU
   build; elsewhere the registry's CUDA build, about 4 GB), then this checkout `-e '.[dev]'`, with
   torch pinned again so pip can never pick another. A venv holds its own path, so it is built where
   it is kept; a stamp written last marks it good, and one without the stamp is built again. Building
   one removes the version's other venvs (an older pyproject.toml's).
   The editable install names one checkout: before each run it is pointed at this one if it is not.
2. `python -m grader demo`: every lab's bundled examples graded, each student's and each question's
   score and status compared with what the change detector (tests/records/behaviour.json, recorded
   on 3.11) holds; the same for every version, so every version is compared with one source of truth.
3. `pytest tests/sandbox tests/grade tests/hostile` in that venv, as `make test-all` runs them (`--tests`
   names others: CI runs tests/sandbox and tests/hostile, to stay within its time).

Prints one line per version and exits 1 when any version fails. Standard library only.
`python tests/pythons.py --build-only 3.12` builds (or checks) the venvs and stops.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "tests" / "records" / "behaviour.json"
TORCH = "torch==2.13.0"
TESTS = ("tests/sandbox", "tests/grade", "tests/hostile")
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "quantization-grader" / "pythons"
STAMP = ".built"
SHOWN = 20  # failures listed per version in the summary


@dataclass
class Outcome:
    version: str
    python: str = "-"
    venv: str = "-"
    demo: str = "not run"
    tests: str = "not run"
    failed: list[str] = field(default_factory=list)


def interpreter(version: str) -> Path | None:
    """pyenv's newest CPython `version`.x, else python<version> on PATH."""
    versions = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found = sorted((p for p in versions.glob(f"{version}.*") if p.name.removeprefix(f"{version}.").isdigit()),
                   key=lambda p: int(p.name.rsplit(".", 1)[1]))
    if found and (found[-1] / "bin" / "python").exists():
        return found[-1] / "bin" / "python"
    on_path = shutil.which(f"python{version}")
    return Path(on_path) if on_path else None


def environ(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return env | {"PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", "VIRTUAL_ENV": str(venv)}


def run(argv: list, venv: Path, **kwargs) -> subprocess.CompletedProcess:
    print("+", " ".join(map(str, argv)), flush=True)
    return subprocess.run([str(a) for a in argv], cwd=ROOT, env=environ(venv), **kwargs)


def pip(venv: Path, *args: str) -> None:
    run([venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check", "install", "-q", *args], venv, check=True)


def grader_file(venv: Path) -> str:
    """Where the venv imports `grader` from, asked outside the checkout (so not from the current folder)."""
    return subprocess.run([str(venv / "bin" / "python"), "-c", "import grader; print(grader.__file__)"],
                          cwd=venv, env=environ(venv), capture_output=True, text=True).stdout.strip()


def prepare(version: str, python: Path) -> tuple[Path, str]:
    """The venv of `version`, built if it is missing or unfinished; pointed at this checkout."""
    exact = subprocess.run([str(python), "-c", "import sys; print(sys.version)"], capture_output=True, text=True,
                           check=True).stdout.strip()
    key = hashlib.sha256(b"\n".join([(ROOT / "pyproject.toml").read_bytes(), TORCH.encode(), exact.encode()]))
    venv = CACHE / f"{version}-{key.hexdigest()[:16]}"
    said = "kept"
    if not (venv / STAMP).exists():
        start = time.monotonic()
        for old in CACHE.glob(f"{version}-*"):  # this one unfinished, or another pyproject's: 5 GB each
            shutil.rmtree(old, ignore_errors=True)
        subprocess.run([str(python), "-m", "venv", str(venv)], check=True)
        pip(venv, "--upgrade", "pip")
        pip(venv, TORCH)  # first and alone: pip must never choose torch (it would take a CUDA build on 3.11)
        pip(venv, TORCH, "-e", ".[dev]")
        (venv / STAMP).write_text(f"{exact}\n{TORCH}\n")  # last: a venv without it is unfinished
        said = f"built in {time.monotonic() - start:.0f} s"
    if not grader_file(venv).startswith(str(ROOT / "grader") + os.sep):  # another checkout's editable install
        pip(venv, "--no-deps", "--no-build-isolation", "-e", ".")
    assert grader_file(venv) == str(ROOT / "grader" / "__init__.py"), grader_file(venv)
    return venv, said


def demo_differences(venv: Path, scratch: Path) -> list[str] | None:
    """Each example whose grades differ from the record's (`record_differences`); None when the demo itself
    failed."""
    if run([venv / "bin" / "python", "-m", "grader", "demo", "-o", scratch / "demo"], venv).returncode != 0:
        return None
    return record_differences(scratch / "demo")


def record_differences(demo: Path) -> list[str]:
    """Each example of a `grader demo -o DEMO` folder whose grades (score and status, the student's and each
    question's) differ from the record's, or that is missing from either."""

    def grades(result: dict) -> dict:
        return {"score": result["score"], "max_score": result["max_score"], "status": result["status"],
                "questions": [(q["name"], q["score"], q["max_score"], q["status"]) for q in result["questions"]]}

    differences = []
    for lab, students in json.loads(RECORD.read_text(encoding="utf-8"))["examples"].items():
        results = demo / lab / "results"
        graded = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in results.glob("*.json")}
        for student in sorted(set(students) | set(graded)):
            if student not in graded or student not in students:
                differences.append(f"{lab}/{student}: {'not graded' if student not in graded else 'not recorded'}")
            elif grades(graded[student]) != grades(students[student]):
                differences.append(f"{lab}/{student}: {grades(graded[student])} instead of {grades(students[student])}")
    return differences


def test_counts(venv: Path, scratch: Path, tests: tuple[str, ...] = TESTS) -> tuple[int, dict[str, int], list[str]]:
    """pytest's exit status, its counts and the tests that failed."""
    junit = scratch / "junit.xml"
    code = run([venv / "bin" / "python", "-m", "pytest", "-n", "2", "--dist", "loadgroup", "--no-loadscope-reorder",
                "-q", "-p", "no:cacheprovider", f"--basetemp={scratch / 'pytest'}", f"--junitxml={junit}", *tests],
               venv).returncode
    counts, failed = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}, []
    if junit.exists():
        root = ElementTree.parse(junit).getroot()
        for suite in root.iter("testsuite"):
            for name in counts:
                counts[name] += int(suite.get(name, 0))
        failed = [f"{case.get('classname')}::{case.get('name')}" for case in root.iter("testcase")
                  if case.find("failure") is not None or case.find("error") is not None]
    return code, counts, failed


def check(version: str, build_only: bool, tests: tuple[str, ...] = TESTS) -> Outcome:
    outcome = Outcome(version)
    python = interpreter(version)
    if python is None:
        outcome.failed.append(f"no Python {version} (pyenv's versions folder or python{version} on PATH)")
        return outcome
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build per version; the editable install names one checkout
        try:
            venv, outcome.venv = prepare(version, python)
        except (subprocess.CalledProcessError, AssertionError) as error:
            outcome.failed.append(f"venv: {error}")
            return outcome
        outcome.python = subprocess.run([str(venv / "bin" / "python"), "-c", "import platform, torch; print("
                                         "platform.python_version(), 'torch', torch.__version__)"],
                                        capture_output=True, text=True).stdout.strip()
        if build_only:
            return outcome
        with tempfile.TemporaryDirectory(prefix=f"pythons-{version}-") as folder:
            scratch = Path(folder)
            start = time.monotonic()
            differences = demo_differences(venv, scratch)
            seconds = f"{time.monotonic() - start:.0f} s"
            if differences is None:
                outcome.demo = f"FAILED to run ({seconds})"
                outcome.failed.append("demo")
            else:
                outcome.demo = f"{'same grades' if not differences else f'{len(differences)} DIFFER'} ({seconds})"
                outcome.failed += [f"demo: {d}" for d in differences]
            start = time.monotonic()
            code, counts, failed = test_counts(venv, scratch, tests)
            outcome.failed += [f"test: {name}" for name in failed]
            passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
            outcome.tests = (f"{passed} passed, {counts['failures']} failed, {counts['errors']} errors, "
                             f"{counts['skipped']} skipped ({time.monotonic() - start:.0f} s)")
            if code != 0 or counts["tests"] == 0:
                outcome.failed.append(f"pytest exited {code}")
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("versions", nargs="+", help="Python versions, such as 3.10 3.13")
    parser.add_argument("--build-only", action="store_true", help="build or check the venvs, run nothing")
    parser.add_argument("--tests", action="append", metavar="PATH",
                        help=f"a test folder or file to run after the demo (repeatable; default: {' '.join(TESTS)})")
    args = parser.parse_args(argv)
    tests = tuple(args.tests or TESTS)
    outcomes = [check(version, args.build_only, tests) for version in args.versions]
    print("\nmake test-pythons:")
    for o in outcomes:
        print(f"  {o.version:<5} {'ok    ' if not o.failed else 'FAILED'}  {o.python}; venv {o.venv}; demo: {o.demo}; "
              f"tests: {o.tests}")
        for failure in o.failed[:SHOWN]:
            print(f"        {failure}")
        if len(o.failed) > SHOWN:
            print(f"        ... and {len(o.failed) - SHOWN} more (the output above says what)")
    return 1 if any(o.failed for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
