"""`grader export canvas`: fill a Canvas gradebook export with one assignment's scores, in Canvas's import format.

The roster is the CSV Canvas's gradebook exports: a header (Student, ID, SIS User ID, SIS Login ID,
Section, then the assignments and Canvas's totals), a "Points Possible" row, then one row per
student. The file written keeps the roster's identity columns (up to and including Section) as
they are, then one column named as the assignment: its points possible (the lab's maximum) in
the Points Possible row, and each student's score, or nothing for a student with no submission
or with no grade (the grader failed on it: an internal error).
Canvas updates the assignment of that name (name it as its gradebook column is headed, with the id
in brackets, to update an existing one) or creates it.
"""

from __future__ import annotations

from grader import export
from grader.config import ExportConfig
from grader.lms.gradebook import Matching, NotExported, Roster, csv_text, match, read_roster, score, tell_gaps
from grader.results import SubmissionResult

__all__ = ["write_gradebook", "roster", "IDENTITY", "POINTS_POSSIBLE"]

#: The columns that say who a student is; the roster's columns up to the last of them are kept.
IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
POINTS_POSSIBLE = "Points Possible"


def roster(rows: list[list[str]]) -> Roster:
    """The students of a Canvas gradebook export; its Points Possible row and other rows without an ID set apart."""
    header = rows[0]
    missing = [name for name in IDENTITY if name not in (title.strip() for title in header)]
    if missing:
        raise NotExported(f"the roster is not a Canvas gradebook export: it has no {', '.join(missing)} column "
                          f"(Canvas's gradebook export starts with {', '.join(IDENTITY)})")
    book = Roster(header=header, students=[])
    student, canvas_id = book.column("Student"), book.column("ID")
    for row in rows[1:]:
        if book.cell(row, student).strip() == POINTS_POSSIBLE:
            book.points = row
        elif book.cell(row, canvas_id).strip():
            book.students.append(row)
    return book


def write_gradebook(config: ExportConfig, results: list[SubmissionResult]) -> Matching:
    book = roster(read_roster(config.roster))
    by_login, by_canvas_id = book.column(config.match_column or "SIS Login ID"), book.column("ID")
    matching = match(results, book, lambda name: by_canvas_id if name.canvas else by_login)
    width = book.column("Section") + 1

    def identity(row: list[str]) -> list[str]:
        return [book.cell(row, column) for column in range(width)]

    points = book.points or [f"    {POINTS_POSSIBLE}"]
    rows = [identity(book.header) + [config.assignment], identity(points) + [f"{results[0].max_score:g}"]]
    rows += [identity(row) + [score(matching.placed[number]) if number in matching.placed else ""]
             for number, row in enumerate(book.students)]
    export.write_atomic(config.output, csv_text(rows))
    how = f"Canvas file names by ID, other file names by {book.header[by_login].strip()}"
    tell_gaps("canvas", matching, book, lambda row: f"{book.cell(row, 0)} (ID {book.cell(row, by_canvas_id)})", how,
              "left empty")
    return matching

