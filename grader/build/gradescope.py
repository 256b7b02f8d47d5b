"""dist/gradescope/<LAB>.zip: a Gradescope autograder that runs this grader (not otter's runner).

Gradescope (its autograder specification) unpacks the zip into /autograder/source, runs
`setup.sh` there once, as root and with the network, when it builds the autograder's image, then
copies `run_autograder` to /autograder and runs it for every upload. The zip holds:

    setup.sh                 installs Python, CPU torch, this package from the wheel below, bubblewrap;
                             torch from `TORCH_INDEX_URL` (PyTorch's CPU index unless set, or a folder
                             holding its wheel), and it fails unless Python then imports torch 2.13.0+cpu
    run_autograder           python -m grader gradescope <LAB> --root /autograder
    quantization_grader-*.whl  this package, built here offline (`pip wheel --no-index`)
    assignments/<LAB>/tests/, assignments/quantlab/      the public tests and the support package
    solutions/<LAB>/tests/, solutions/quant_reference/, solutions/quant_mistakes/
                             the hidden tests, the reference, the catalogued mistakes
    templates/               the report templates

The wheel holds only the `grader` package; run_autograder points it at the material beside it
(`grader.labs.MATERIAL_ENV`).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from grader.errors import GraderError
from grader.export import write_atomic
from grader.labs import MATERIAL_ENV, MISTAKES, REFERENCE, ROOT, SUPPORT, Lab
from grader.report import TEMPLATES_DIR

__all__ = ["build_gradescope", "build_wheel", "material", "WheelNotBuilt"]

#: Where setup.sh installs the grader in Gradescope's image (outside /autograder/source, which
#: only root may read, so the unprivileged student process can still run Python).
PREFIX = "/opt/quant-grader"
_UNSHIPPED = {"__pycache__", ".ipynb_checkpoints"}

#: The torch that setup.sh installs, and nothing else: pip must never pick another (a CUDA build of
#: several GB), so setup.sh fails unless this is what Python imports afterwards.
TORCH_VERSION = "2.13.0+cpu"
#: Where setup.sh takes torch from, unless `TORCH_INDEX_URL` says otherwise: an index URL, or a local
#: folder holding the wheel (then torch alone comes from it, its dependencies from PyPI).
TORCH_INDEX_URL = "https://download.pytorch.org/whl/cpu"

SETUP = f"""\
#!/usr/bin/env bash
# Gradescope runs this once, as root, in /autograder/source when it builds the autograder image
# (with network access): Python, CPU torch, this grader from its wheel, and bubblewrap.
# TORCH_INDEX_URL: where torch {TORCH_VERSION} comes from, PyTorch's CPU index unless set; a local
# folder holding its wheel also serves (then torch's dependencies come from PyPI).
set -euo pipefail
cd "$(dirname "$0")"
export DEBIAN_FRONTEND=noninteractive
TORCH_INDEX_URL="${{TORCH_INDEX_URL:-{TORCH_INDEX_URL}}}"
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip bubblewrap util-linux ca-certificates
python3 -m venv {PREFIX}
{PREFIX}/bin/python -m pip install --upgrade pip
# torch first, pinned to its CPU build: letting pip choose torch would pull CUDA wheels.
if [ -d "$TORCH_INDEX_URL" ]; then
  {PREFIX}/bin/python -m pip install "torch=={TORCH_VERSION}" --find-links "$TORCH_INDEX_URL"
else
  {PREFIX}/bin/python -m pip install "torch=={TORCH_VERSION}" --index-url "$TORCH_INDEX_URL"
fi
{PREFIX}/bin/python -m pip install ./quantization_grader-*.whl
found="$({PREFIX}/bin/python -c 'import torch; print(torch.__version__)')"
if [ "$found" != "{TORCH_VERSION}" ]; then
  echo "setup.sh: torch $found is installed, not {TORCH_VERSION}: this autograder would not grade as tested" >&2
  exit 1
fi
# The hidden tests and the reference are for the grader (root) alone.
chmod 700 .
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every upload, as root, from its copy at /autograder/run_autograder:
# it grades /autograder/submission into /autograder/results/results.json.
set -u
ROOT="$(cd "$(dirname "$0")" && pwd)"
export {material}="$ROOT/source"
"${{QUANT_GRADER_PYTHON:-{prefix}/bin/python}}" -m grader gradescope {lab} --root "$ROOT"
status=$?
# Should Python itself not start, results.json still says what happened (and scores 0).
if [ ! -s "$ROOT/results/results.json" ]; then
  mkdir -p "$ROOT/results"
  printf '{{"score": 0.0, "output": "%s", "tests": []}}\\n' \\
    "The autograder could not start (exit status $status). This is not your fault: please tell your instructor." \\
    > "$ROOT/results/results.json"
fi
exit "$status"
"""


class WheelNotBuilt(GraderError):
    """pip could not build this package's wheel from the checkout."""


def build_wheel(folder: Path) -> Path:
    """This package's wheel, built offline from a copy of the checkout holding only what it packs."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="qwheel-") as temporary:
        project = Path(temporary) / "project"
        project.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(ROOT / name, project / name)
        shutil.copytree(ROOT / "grader", project / "grader", ignore=shutil.ignore_patterns(*_UNSHIPPED, "*.pyc"))
        done = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
             "--quiet", "--wheel-dir", str(Path(temporary) / "wheels"), str(project)],
            capture_output=True, text=True,
        )
        wheels = sorted((Path(temporary) / "wheels").glob("*.whl"))
        if done.returncode != 0 or len(wheels) != 1:
            detail = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
            raise WheelNotBuilt(f"pip could not build the grader's wheel: {detail}")
        final = folder / wheels[0].name
        write_atomic(final, wheels[0].read_bytes())
    return final


def material(lab: Lab) -> dict[str, Path]:
    """The lab's grading material: its path inside the zip -> the folder it comes from."""
    folders = [lab.public_folder, SUPPORT, lab.hidden_folder, REFERENCE, MISTAKES, TEMPLATES_DIR]
    return {folder.relative_to(ROOT).as_posix(): folder for folder in folders}


def build_gradescope(lab: Lab, output: Path, wheel: Path) -> Path:
    """dist/gradescope/<LAB>.zip: setup.sh, run_autograder, the wheel and the lab's grading material."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        _add(archive, "setup.sh", SETUP, executable=True)
        _add(archive, "run_autograder", RUN_AUTOGRADER.format(material=MATERIAL_ENV, prefix=PREFIX, lab=lab.id),
             executable=True)
        archive.write(wheel, wheel.name)
        for inside, folder in material(lab).items():
            for path in sorted(folder.rglob("*")):
                if path.is_file() and not _UNSHIPPED & set(path.parts) and path.suffix != ".pyc":
                    archive.write(path, f"{inside}/{path.relative_to(folder).as_posix()}")
    final = output / "gradescope" / f"{lab.id}.zip"
    write_atomic(final, buffer.getvalue())
    return final


def _add(archive: zipfile.ZipFile, name: str, text: str, *, executable: bool) -> None:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, text)
