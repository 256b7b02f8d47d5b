"""What a hand-out tells a student to install: requirements.txt, requirements-colab.txt and README.md.

The packages below are declared once; both requirements files and the README's install steps and
"tested with" line are derived from them. Each range starts at the version this project runs and
tests the hand-out with (`tests/build/test_handout.py` installs exactly these files into a
fresh venv and runs a right notebook top to bottom), and stops before the next release that may
change what the labs rely on. A lower bound is the version in the project's own venv (`pip list`):
change it together with that venv, and run the hand-out test again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from grader.labs import Lab
from grader.report import TEMPLATES_DIR

__all__ = ["PACKAGES", "PYTHON_TESTED", "Package", "requirements", "readme", "write_handout_files",
           "HANDOUT_FILES"]


@dataclass(frozen=True)
class Package:
    #: The name pip installs it by.
    name: str
    #: The version this project tests with: the lower bound.
    tested: str
    #: The first release not admitted.
    below: str
    #: The module the notebook's set-up cell imports it as.
    module: str
    #: What in the student's kernel imports it.
    why: str
    #: Colab has it preinstalled, and requirements-colab.txt leaves it out.
    on_colab: bool = False

    @property
    def line(self) -> str:
        return f"{self.name}>={self.tested},<{self.below}"


#: What the notebook, quantlab/ and the public tests import at run time in the student's kernel.
#: Everything else they import comes with these (IPython with otter-grader) or with Python.
PACKAGES: tuple[Package, ...] = (
    Package("torch", "2.13.0", "2.14", "torch", "the labs themselves, quantlab/, the tests", on_colab=True),
    Package("otter-grader", "7.0.0", "8", "otter", "`grader = otter.Notebook(...)` and `grader.check(...)`"),
    Package("numpy", "2.4.6", "3", "numpy", "torch's `.numpy()`, used by quantlab's plots"),
    Package("matplotlib", "3.11.2", "4", "matplotlib", "quantlab's plots (`quantlab.plotting`)"),
)
#: The Python the hand-out is tested with.
PYTHON_TESTED = "3.11"

#: The files this module adds to every dist/student/<LAB>/.
HANDOUT_FILES = ("requirements.txt", "requirements-colab.txt", "README.md")

_HEADER = """\
# The Python packages this lab's notebook needs (the same for every lab of the course).
# Install them with:  pip install -r {file}
# Tested with Python {python} and {tested}.
# The upper bounds keep out the next releases that may break the labs; newer releases within them
# were not all tried.
"""
_COLAB_HEADER = """\
# For Google Colab, which has torch already: requirements.txt without torch.
# Install them in a notebook cell with:  %pip install -r {file}
# Tested with Python {python} and {tested};
# Colab's own torch may be another version.
"""


def _tested(packages: tuple[Package, ...]) -> str:
    return ", ".join(f"{p.name} {p.tested}" for p in packages)


def requirements(*, colab: bool = False) -> str:
    """requirements.txt, or (colab=True) requirements-colab.txt: every package but Colab's own."""
    packages = tuple(p for p in PACKAGES if not (colab and p.on_colab))
    file = "requirements-colab.txt" if colab else "requirements.txt"
    header = (_COLAB_HEADER if colab else _HEADER).format(file=file, python=PYTHON_TESTED, tested=_tested(packages))
    return header + "".join(f"{p.line}\n" for p in packages)


def readme(lab: Lab) -> str:
    """The hand-out's README.md: what the folder holds, how to install, how to work and check."""
    environment = Environment(loader=FileSystemLoader(TEMPLATES_DIR), undefined=StrictUndefined,
                              keep_trailing_newline=True, autoescape=False)
    torch = next(p for p in PACKAGES if p.name == "torch")
    return environment.get_template("handout_README.md.j2").render(
        lab=lab, notebook=f"{lab.id}.ipynb", question=lab.question_names[0], packages=PACKAGES, torch=torch,
        python=PYTHON_TESTED,
    )


def write_handout_files(lab: Lab, folder: Path) -> None:
    """Write requirements.txt, requirements-colab.txt and README.md into the hand-out `folder`."""
    texts = (requirements(), requirements(colab=True), readme(lab))
    for name, text in zip(HANDOUT_FILES, texts, strict=True):
        (folder / name).write_text(text, encoding="utf-8")
