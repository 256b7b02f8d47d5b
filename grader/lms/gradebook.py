"""What every LMS export shares: reading the graded results and the roster, matching, telling the gaps.

Both exports read the results of a `grade` output folder and the LMS's own gradebook export (the roster),
match each result to one student of the roster, and write the roster's identity columns with one
score column (`canvas`, `moodle`). Nothing is dropped silently: a result that matches nobody (or
several students, or shares a student with another result) is listed on stderr and left out; a
student with no result is listed on stderr (and gets an empty cell, or no row). A result of status
"internal_error" is no grade: it is never written as a score (an empty cell, or no row) and is listed
on stderr, to grade again.

Matching compares text with surrounding spaces removed and case ignored (`Jane@Uni.edu` is
`jane@uni.edu`). A result's key is the student id its file name gives (`grader.grade.naming`):
the Canvas user id of a file named as Canvas's "Download Submissions" names them, compared with
the roster's ID column, else the file name without its suffix, compared with `--match-column`.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grader import export
from grader.errors import GraderError
from grader.grade import naming
from grader.results import SubmissionResult

__all__ = ["Roster", "Matching", "match", "read_roster", "read_graded", "tell_gaps", "NotExported", "UNPLACED"]

#: Exit status when a result could not be placed in the gradebook (listed on stderr).
UNPLACED = 1


class NotExported(GraderError):
    """The export cannot run: no results, no roster, or a roster without the columns it needs."""


@dataclass
class Roster:
    """A gradebook CSV as the LMS exports it."""

    header: list[str]
    students: list[list[str]]  # one row per student, as read
    points: list[str] | None = None  # Canvas's "Points Possible" row

    def column(self, name: str) -> int:
        for index, title in enumerate(self.header):
            if title.strip() == name:
                return index
        raise NotExported(f"the roster has no column {name!r} (its columns: {', '.join(self.header)})")

    def cell(self, row: list[str], column: int) -> str:
        return row[column] if column < len(row) else ""


@dataclass
class Matching:
    """Which result goes to which roster row, and what could not be placed."""

    placed: dict[int, SubmissionResult] = field(default_factory=dict)  # roster row index -> result
    nobody: list[SubmissionResult] = field(default_factory=list)  # results that match no student
    several: list[SubmissionResult] = field(default_factory=list)  # results that match more than one student
    shared: dict[int, list[SubmissionResult]] = field(default_factory=dict)  # rows more than one result matches

    @property
    def unplaced(self) -> list[SubmissionResult]:
        return self.nobody + self.several + [r for results in self.shared.values() for r in results]


def read_roster(path: Path) -> list[list[str]]:
    """The rows of a CSV file (a leading byte-order mark, as spreadsheets write, is ignored)."""
    if not path.is_file():
        raise NotExported(f"roster not found: {path}")
    with path.open(encoding="utf-8-sig", newline="") as stream:
        rows = [row for row in csv.reader(stream) if any(cell.strip() for cell in row)]
    if not rows:
        raise NotExported(f"the roster {path} is empty")
    return rows


def read_graded(folder: Path) -> list[SubmissionResult]:
    """The results of a `grade` output folder; one that holds none stops the export."""
    results = export.read_results(folder)
    if not results:
        raise NotExported(f"no results in {folder / 'results'}: give the output folder of `grade`")
    labs = sorted({r.lab for r in results})
    if len(labs) > 1:
        raise NotExported(f"{folder} holds results of several labs ({', '.join(labs)}); export one lab at a time")
    return results


def _key(text: str) -> str:
    return text.strip().casefold()


def match(results: list[SubmissionResult], roster: Roster, column_of) -> Matching:
    """Place each result on the roster row whose cell in column `column_of(file name)` is the
    result's key (see the module's docstring)."""
    rows_by: dict[int, dict[str, list[int]]] = {}  # column -> key -> roster rows

    def rows(column: int, key: str) -> list[int]:
        if column not in rows_by:
            rows_by[column] = {}
            for number, row in enumerate(roster.students):
                rows_by[column].setdefault(_key(roster.cell(row, column)), []).append(number)
        return rows_by[column].get(key, []) if key else []

    matching = Matching()
    claimed: dict[int, list[SubmissionResult]] = {}
    for result in results:
        name = naming.parse(result.submission.file or result.student)
        found = rows(column_of(name), _key(name.student))
        if not found:
            matching.nobody.append(result)
        elif len(found) > 1:
            matching.several.append(result)
        else:
            claimed.setdefault(found[0], []).append(result)
    for number, claimants in claimed.items():
        if len(claimants) == 1:
            matching.placed[number] = claimants[0]
        else:
            matching.shared[number] = claimants
    return matching


def csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def score(result: SubmissionResult) -> str:
    """The gradebook's cell: the score, or nothing for an internal error (no grade yet, never a 0)."""
    return f"{result.score:g}" if result.graded else ""


def tell_gaps(lms: str, matching: Matching, roster: Roster, describe, how: str, left_as: str) -> None:
    """List on stderr what could not be placed and who has no result (`describe(row)` names a student)."""
    def files(results: list[SubmissionResult]) -> str:
        return ", ".join(r.submission.file or r.student for r in results)

    prefix = f"python -m grader export {lms}"
    if matching.nobody:
        print(f"{prefix}: {len(matching.nobody)} submission(s) match no student of the roster ({how}), "
              f"left out: {files(matching.nobody)}", file=sys.stderr)
    if matching.several:
        print(f"{prefix}: {len(matching.several)} submission(s) match more than one student of the roster "
              f"({how}), left out: {files(matching.several)}", file=sys.stderr)
    for row_number, claimants in sorted(matching.shared.items()):
        print(f"{prefix}: {describe(roster.students[row_number])} has several submissions, none exported "
              f"(grade only one of them): {files(claimants)}", file=sys.stderr)
    ungraded = [r for r in matching.placed.values() if not r.graded]
    if ungraded:
        print(f"{prefix}: {len(ungraded)} submission(s) have no grade, because the grader failed on them "
              f"(status internal_error), so no score was written for them: {files(ungraded)}. Grade them "
              "again with the same `grade` command, then export again.", file=sys.stderr)
    missing = [row for number, row in enumerate(roster.students)
               if number not in matching.placed and number not in matching.shared]
    if missing:
        print(f"{prefix}: {len(missing)} student(s) of the roster have no submission ({left_as}): "
              f"{'; '.join(describe(row) for row in missing)}", file=sys.stderr)
