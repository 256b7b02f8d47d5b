"""`grader export moodle`: one assignment's scores as Moodle's "Import grades: CSV file" reads them.

The roster is any CSV with a column that identifies students as Moodle can (Moodle's own grade
export has "ID number", "Email address", ...). The file written has two columns: that identifier
and one named as the assignment, one row per student with a submission; in Moodle's import, map
the first to the same user field and the second to the grade item. Students with no submission
are listed on stderr and left out, so their grades in Moodle stay as they are.
"""

from __future__ import annotations

from grader import export
from grader.config import ExportConfig
from grader.lms.gradebook import Matching, Roster, csv_text, match, read_roster, score, tell_gaps
from grader.results import SubmissionResult

__all__ = ["write_gradebook", "IDENTIFIER"]

#: The roster column a file name is matched to unless `--match-column` says otherwise.
IDENTIFIER = "ID number"


def write_gradebook(config: ExportConfig, results: list[SubmissionResult]) -> Matching:
    rows = read_roster(config.roster)
    book = Roster(header=rows[0], students=rows[1:])
    identifier = book.column(config.match_column or IDENTIFIER)
    matching = match(results, book, lambda name: identifier)
    lines = [[book.header[identifier].strip(), config.assignment]]
    lines += [[book.cell(row, identifier), score(matching.placed[number])]
              for number, row in enumerate(book.students)
              if number in matching.placed and matching.placed[number].graded]  # no grade: no row
    export.write_atomic(config.output, csv_text(lines))
    tell_gaps("moodle", matching, book, lambda row: book.cell(row, identifier), f"by {lines[0][0]}",
              "no row: their grades in Moodle stay as they are")
    return matching
