"""A fresh venv holding only the hand-out's requirements and a kernel runs a right notebook.

This does what a student does on a laptop: a fresh venv (no system site packages), torch 2.13.0
first (pinned, so pip takes the local CPU build), then `pip install -r requirements.txt` of the
hand-out, and only a kernel (ipykernel) and nbclient to run the notebook beside them. In that venv's
kernel it runs the hand-out with the stubs filled by a right submission (examples/<LAB>/alice.ipynb),
top to bottom: no cell may fail, and every `grader.check(...)` must say all tests passed. In the
fresh venv, before the requirements (torch alone), the set-up cell must say what to install.

The venv is kept in ~/.cache/quantization-grader/handout-venv-<hash of what it installs>. Without
it (or with QUANT_HANDOUT_FRESH=1) the test installs it afresh; a kept one is used only if it holds
exactly the packages, at exactly the versions, that pip would install for these requirements now.
What is in the hand-out and what the set-up cell says: tests/test_handout_files.py.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from test_handout_files import MESSAGE, TORCH, setup_cell

from grader.build import build_student
from grader.build.handout import PACKAGES
from grader.labs import EXAMPLES, LABS, Lab

#: Beside the requirements: the kernel and what runs the notebook in it. Nothing else.
RUNNERS = ("ipykernel", "nbclient")
PIP = ("-m", "pip", "--disable-pip-version-check")
FRESH_ENV = "QUANT_HANDOUT_FRESH"


@dataclass
class Venv:
    path: Path
    fresh: bool
    #: What the set-up cell printed in the venv with torch alone (before the requirements), if fresh.
    bare_setup: subprocess.CompletedProcess | None
    seconds: float

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def kernel(self) -> str:
        return self.path.name

    def environ(self, scratch: Path) -> dict[str, str]:
        """The student's shell in this venv: its bin first, nothing of the test's Python leaking in."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV") and not k.startswith("JUPYTER")}
        for name in ("JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR", "MPLCONFIGDIR"):
            (scratch / name.lower()).mkdir(parents=True, exist_ok=True)
            env[name] = str(scratch / name.lower())
        env |= {"PATH": f"{self.path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}", "VIRTUAL_ENV": str(self.path),
                "JUPYTER_PATH": str(self.path / "share" / "jupyter"), "PYTHONNOUSERSITE": "1"}
        return env


def _pip(python: Path, *args: str, env: dict[str, str] | None = None, timeout: int = 1800) -> str:
    result = subprocess.run([str(python), *PIP, *args], capture_output=True, text=True, env=env, timeout=timeout)
    assert result.returncode == 0, f"pip {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def _installed(python: Path) -> dict[str, str]:
    listed = json.loads(_pip(python, "list", "--format=json"))
    return {canonicalize_name(p["name"]): p["version"] for p in listed if canonicalize_name(p["name"]) != "pip"}


def _would_install(python: Path, requirements: Path, scratch: Path) -> dict[str, str]:
    """What pip installs for torch, the requirements and the runners into an empty venv, today."""
    report = scratch / "report.json"
    _pip(python, "install", "-q", "--dry-run", "--ignore-installed", "--report", str(report),
         TORCH, "-r", str(requirements), *RUNNERS)
    return {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
            for item in json.loads(report.read_text())["install"]}


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "quantization-grader"


def _run_setup_cell(python: Path, handout: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    source = setup_cell(nbformat.read(next(handout.glob("*.ipynb")), as_version=4)).source
    return subprocess.run([str(python), "-c", f"import sys; sys.path.insert(0, ''); exec({source!r})"],
                          capture_output=True, text=True, cwd=handout, env=env, timeout=300)


def _make_venv(target: Path, requirements: Path, handout: Path, scratch: Path) -> subprocess.CompletedProcess:
    """A fresh venv as a student makes it; returns what the set-up cell printed with torch alone."""
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True, timeout=300,
                   env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"})
    assert "include-system-site-packages = false" in (target / "pyvenv.cfg").read_text()
    venv = Venv(target, True, None, 0.0)
    env = venv.environ(scratch)
    python = target / "bin" / "python"
    _pip(python, "install", "-q", TORCH, env=env)
    bare = _run_setup_cell(python, handout, env)  # torch, and nothing of requirements.txt yet
    _pip(python, "install", "-q", "-r", str(requirements), *RUNNERS, env=env)
    # The kernel of this venv, by its absolute python (a kernelspec, not a package).
    subprocess.run([str(python), "-m", "ipykernel", "install", "--prefix", str(target), "--name", target.name],
                   check=True, capture_output=True, env=env, timeout=300)
    return bare


@pytest.fixture(scope="session")
def handout_venv(tmp_path_factory) -> Venv:
    scratch = tmp_path_factory.mktemp("handout-venv")
    handout = build_student(LABS["L2-A"], scratch / "dist")
    requirements = handout / "requirements.txt"
    key = hashlib.sha256("\n".join([requirements.read_text(), TORCH, *RUNNERS, sys.version]).encode()).hexdigest()[:16]
    root = _cache_root()
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"handout-venv-{key}"
    start = time.monotonic()
    with open(root / f".{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one xdist worker installs, the others wait and reuse it
        if path.exists() and os.environ.get(FRESH_ENV) != "1":
            venv = Venv(path, False, None, 0.0)
            expected = _would_install(venv.python, requirements, scratch)
            if _installed(venv.python) == expected and (path / "share/jupyter/kernels" / path.name).is_dir():
                venv.seconds = time.monotonic() - start
                return venv
        shutil.rmtree(path, ignore_errors=True)
        try:  # built where it is kept: a venv's scripts and kernelspec name its own path, it cannot move
            bare = _make_venv(path, requirements, handout, scratch)
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        venv = Venv(path, True, bare, 0.0)
        assert _installed(venv.python) == _would_install(venv.python, requirements, scratch)
        venv.seconds = time.monotonic() - start
        return venv


def _filled_handout(lab: Lab, folder: Path) -> Path:
    """The built hand-out with its stub cells replaced by a right submission's (alice's) cells."""
    handout = build_student(lab, folder)
    notebook_path = handout / f"{lab.id}.ipynb"
    notebook = nbformat.read(notebook_path, as_version=4)
    alice = nbformat.read(EXAMPLES / lab.id / "alice.ipynb", as_version=4)
    assert len(alice.cells) == len(notebook.cells)
    filled = 0
    for cell, right in zip(notebook.cells, alice.cells, strict=True):
        if cell.cell_type == "code" and "NotImplementedError" in cell.source:
            cell.source, filled = right.source, filled + 1
    assert filled >= len(lab.question_names)
    # Last, the kernel says which Python it is.
    notebook.cells.append(nbformat.v4.new_code_cell("import sys\nprint('kernel prefix:', sys.prefix)"))
    nbformat.write(notebook, notebook_path)
    return notebook_path


#: Run in the venv: executes a notebook in its folder, in the named kernel, every cell even after an error.
RUNNER = """\
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

source, target, kernel = sys.argv[1:4]
notebook = nbformat.read(source, as_version=4)
NotebookClient(notebook, kernel_name=kernel, timeout=900, allow_errors=True,
               resources={"metadata": {"path": str(Path(source).parent)}}).execute()
nbformat.write(notebook, target)
"""


def _text(output) -> str:
    if output.output_type == "stream":
        return output.text
    if output.output_type == "error":
        return f"{output.ename}: {output.evalue}"
    return output.get("data", {}).get("text/plain", "")


@pytest.mark.xdist_group("handout-venv")  # one worker checks or installs the venv, once
@pytest.mark.parametrize("lab_id", ["L2-A", "L4-D"])  # plots and tensors; whole models saved and loaded
def test_a_right_notebook_runs_top_to_bottom_in_a_fresh_venv_of_the_requirements(handout_venv, lab_id, tmp_path):
    lab = LABS[lab_id]
    venv = handout_venv
    print(f"\nhand-out venv: {'installed afresh' if venv.fresh else 'kept, checked against pip'} "
          f"in {venv.seconds:.0f} s: {venv.path}")
    installed = _installed(venv.python)
    print("tested with: " + ", ".join(f"{p.name} {installed[canonicalize_name(p.name)]}" for p in PACKAGES)
          + f", Python {sys.version.split()[0]}")
    for package in PACKAGES:
        version = installed[canonicalize_name(package.name)]
        assert Requirement(package.line).specifier.contains(version, prereleases=True), (package.name, version)
    if venv.fresh:  # the venv with torch alone: the set-up cell says what to install, then fails
        assert venv.bare_setup.returncode != 0 and "ModuleNotFoundError" in venv.bare_setup.stderr
        for words in MESSAGE:
            assert words in venv.bare_setup.stdout, (words, venv.bare_setup.stdout)

    notebook = _filled_handout(lab, tmp_path / "dist")
    (tmp_path / "run_notebook.py").write_text(RUNNER)
    executed = tmp_path / "executed.ipynb"
    result = subprocess.run([str(venv.python), str(tmp_path / "run_notebook.py"), str(notebook), str(executed),
                             venv.kernel], capture_output=True, text=True, env=venv.environ(tmp_path / "scratch"),
                            cwd=notebook.parent, timeout=1800)
    assert result.returncode == 0, result.stderr[-5000:]
    cells = [c for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code"]
    errors = [(c.source.splitlines()[:1], _text(o)) for c in cells for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    checks = [c for c in cells if c.source.lstrip().startswith("grader.check(")]
    assert {re.search(r"grader\.check\(\s*[\"'](\w+)", c.source)[1] for c in checks} == set(lab.question_names)
    for cell in checks:
        said = "".join(_text(o) for o in cell.outputs)
        assert "All test cases passed!" in said, (cell.source, said)
    said = "".join(_text(o) for o in cells[-1].outputs)
    assert said.startswith("kernel prefix: ") and Path(said.split(": ", 1)[1].strip()).resolve() == venv.path.resolve()
