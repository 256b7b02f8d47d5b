"""Step 1: a submission file becomes a Program, the list of code cells a kernel would run.

Notebooks are read with nbformat; their code cells pass through small preprocessors in order
(as nbgrader's do): drop otter's own calls, then IPython's input transformer turns magics and
`!` lines into `get_ipython()` calls, which the worker answers without running a shell. A `.py`
file is one cell. The submission file is only ever read.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path, PurePath

import nbformat
from IPython.core.inputtransformer2 import TransformerManager

SUFFIXES = (".ipynb", ".py")
MAX_BYTES = 20 * 1024 * 1024

#: otter's notebook API: the grader runs the tests itself, so these lines are not run.
_OTTER_LINE = re.compile(
    r"^\s*(import\s+otter\b.*|from\s+otter\b.*|grader\s*=\s*otter\.Notebook\(.*\)\s*|"
    r"grader\.(check|check_all|export|to_pdf|run_plugin)\(.*\)\s*)$"
)
_OTTER_IMPORT = re.compile(r"^(\s+)(?:import\s+otter\b.*|from\s+otter\b.*)$")


class Unreadable(Exception):
    """The file cannot be graded at all; the message is for the student."""


@dataclass(frozen=True)
class Upload:
    """A submission as it travels to wherever it is graded: its file name and its bytes, never a path."""

    name: str
    content: bytes

    @classmethod
    def read(cls, path: Path) -> Upload:
        return cls(path.name, path.read_bytes())

    @property
    def stem(self) -> str:
        return PurePath(self.name).stem

    @property
    def suffix(self) -> str:
        return PurePath(self.name).suffix

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass
class Program:
    kind: str  # "notebook" or "script"
    file: str
    sha256: str
    cells: list[dict] = field(default_factory=list)  # {"index": n, "source": text}
    notes: list[str] = field(default_factory=list)


def load_submission(source: Path | Upload) -> Program:
    """Read a file (.ipynb or .py), or its uploaded bytes, into a Program; raise Unreadable with a clear message."""
    upload = _read(source) if isinstance(source, Path) else _check(source)
    program = Program(
        kind="notebook" if upload.suffix == ".ipynb" else "script",
        file=upload.name,
        sha256=upload.sha256,
    )
    text = _decode(upload.content)
    # Cells are numbered by their place in the notebook, markdown included, as the student sees them.
    sources = _notebook_cells(text) if program.kind == "notebook" else [(1, text)]
    for index, source in sources:
        source = strip_otter_calls(source)
        if program.kind == "notebook":
            source = transform_ipython(source)
            problem = syntax_problem(source, index, program.kind)
        else:
            source, problem = _script_source(source, index, program)
        if problem and program.kind == "script":
            raise Unreadable(problem)
        if problem:
            program.notes.append(problem)
            continue
        if source.strip():
            program.cells.append({"index": index, "source": source})
    if not program.cells:
        raise Unreadable("There is no code to run in this file.")
    return program


def _script_source(source: str, index: int, program: Program) -> tuple[str, str | None]:
    """A script's source and its syntax problem, if any; compiled once when it has none (the usual case)."""
    problem = syntax_problem(source, index, program.kind)
    if problem is None:
        return source, None
    transformed = transform_ipython(source)
    if syntax_problem(transformed, index, program.kind) is None:
        # A script pasted from a notebook, magics and all: read it as the notebook it was.
        program.notes.append("This .py file holds IPython syntax (%magics or !shell lines); "
                             "it was read as a notebook cell.")
        return transformed, None
    return source, problem


def _read(path: Path) -> Upload:
    _refuse_unreadable(path.suffix, path.stat().st_size)  # before reading: a huge file is never read whole
    return Upload.read(path)


def _check(upload: Upload) -> Upload:
    _refuse_unreadable(upload.suffix, len(upload.content))
    return upload


def _refuse_unreadable(suffix: str, size: int) -> None:
    if suffix not in SUFFIXES:
        raise Unreadable(f"Only .ipynb and .py files can be graded, not {suffix or 'a file without a suffix'}.")
    if size == 0:
        raise Unreadable("The file is empty.")
    if size > MAX_BYTES:
        raise Unreadable(f"The file is {size / 2**20:.0f} MiB; the limit is {MAX_BYTES // 2**20} MiB. "
                         "Clear the notebook's outputs and submit again.")


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Unreadable(f"The file is not UTF-8 text (byte {error.start} cannot be read).") from None


def _notebook_cells(text: str) -> list[tuple[int, str]]:
    if not text.strip():
        raise Unreadable("The notebook file is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            notebook = nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat raises many kinds for a damaged file
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise Unreadable(
            f"This notebook could not be read; the file may be damaged ({reason}). "
            "Open it in Jupyter, save it again, and resubmit."
        ) from None
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        raise Unreadable("This notebook has no list of cells; the file may be damaged.")
    return [
        (position, _cell_source(cell))
        for position, cell in enumerate(cells, start=1)
        if isinstance(cell, dict) and cell.get("cell_type") == "code"
    ]


def _cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def strip_otter_calls(source: str) -> str:
    """Blank out otter's own lines (`grader.check(...)`, ...): the grader runs the tests itself.

    Indented lines are the student's own code and stay, except an import of otter: the hand-out's
    set-up cell imports it inside `try:` (to say what to install when it is missing), and it becomes
    a `pass` at its own indentation.
    """
    return "\n".join(_strip_otter_line(line) for line in source.split("\n"))


def _strip_otter_line(line: str) -> str:
    if not line.startswith((" ", "\t")):
        return "pass" if _OTTER_LINE.match(line) else line
    indented_import = _OTTER_IMPORT.match(line)
    return indented_import[1] + "pass" if indented_import else line


def transform_ipython(source: str) -> str:
    """IPython's own input transformer: `%magic` and `!shell` become `get_ipython()` calls."""
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # leave it to the syntax check to explain
        return source


def syntax_problem(source: str, index: int, kind: str) -> str | None:
    try:
        compile(source, f"<cell {index}>", "exec")
    except SyntaxError as error:
        where = f"line {error.lineno}" if kind == "script" else f"cell {index}, line {error.lineno}"
        detail = (error.text or "").strip()
        shown = f": `{detail[:120]}`" if detail else ""
        consequence = "" if kind == "script" else " This cell was skipped; anything it defines is missing."
        return f"{type(error).__name__} at {where} ({error.msg}){shown}.{consequence}"
    except (ValueError, RecursionError, MemoryError) as error:
        return f"Cell {index} could not be compiled ({type(error).__name__})."
    return None
