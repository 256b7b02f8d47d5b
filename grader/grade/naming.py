"""Who a submission file belongs to: its student id, whether it was late, and which of a student's files counts.

Two namings are recognised:

- a plain file: the student id is the file name without its suffix (`alice.py` -> `alice`);
- a file from Canvas's "Download Submissions" zip: the student's name, `LATE` when it was handed in
  late, the Canvas user id, the submission id, then the name of the uploaded file, joined by `_`
  (`smithjane_LATE_123456_7890123_L2-A.ipynb`). The student id is the Canvas user id (`123456`),
  which the gradebook's ID column holds. Canvas adds `-N` to a file uploaded again under the same
  name (`L2-A-1.ipynb`): that is the Nth resubmission.

A student with several Canvas files (a resubmission, or two downloads in one folder) is graded
once, on the newest: the highest submission id (Canvas numbers them in the order they were made),
then the highest resubmission number `-N`, then the last file name in sorting order. The files
left out are named in a warning, never dropped silently.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FileName", "parse", "student_ids", "newest_only"]

log = logging.getLogger(__name__)

_CANVAS = re.compile(r"^(?P<name>[^_]+)(?P<late>_LATE)?_(?P<user>\d+)_(?P<submission>\d+)_(?P<upload>.+)$")
_RESUBMISSION = re.compile(r"-(?P<number>\d+)$")


@dataclass(frozen=True)
class FileName:
    """What a submission's file name says about it."""

    student: str  # the student id: the Canvas user id, or the file name without its suffix
    late: bool = False  # Canvas marked it LATE
    canvas: bool = False  # named as Canvas's "Download Submissions" names files
    submission: int = 0  # Canvas's submission id (0 when not a Canvas name)
    resubmission: int = 0  # the N of an uploaded file Canvas renamed `name-N`


def parse(file_name: str) -> FileName:
    """What `file_name` (a name, not a path) says about its submission."""
    stem = Path(file_name).stem
    canvas = _CANVAS.match(stem)
    if canvas is None:
        return FileName(student=stem)
    again = _RESUBMISSION.search(canvas["upload"])
    return FileName(student=canvas["user"], late=canvas["late"] is not None, canvas=True,
                    submission=int(canvas["submission"]), resubmission=int(again["number"]) if again else 0)


def newest_only(files: list[Path]) -> list[Path]:
    """`files` without the Canvas files of a student who has a newer one (see the module's docstring)."""
    newest: dict[str, Path] = {}
    for path in files:
        name = parse(path.name)
        if not name.canvas:
            continue
        kept = newest.get(name.student)
        if kept is None or _age(path) > _age(kept):
            newest[name.student] = path
    left_out = [p for p in files if parse(p.name).canvas and newest[parse(p.name).student] != p]
    for path in left_out:
        log.warning("%s is not graded: %s is the newer submission of Canvas user %s", path.name,
                    newest[parse(path.name).student].name, parse(path.name).student)
    return [p for p in files if p not in left_out]


def _age(path: Path) -> tuple[int, int, str]:
    name = parse(path.name)
    return name.submission, name.resubmission, path.name


def student_ids(files: list[Path]) -> dict[Path, str]:
    """Each file's student id; two files with one id (alice.py and alice.ipynb) get the suffix added to it."""
    ids = [parse(p.name).student for p in files]
    return {path: (student if ids.count(student) == 1 else f"{student}{path.suffix.replace('.', '_')}")
            for path, student in zip(files, ids, strict=True)}
