"""`grader export canvas|moodle GRADED ...`: a graded batch's scores as an LMS gradebook imports them.

`gradebook` reads the results and the roster and matches them (how, in its docstring); `canvas` and
`moodle` write each LMS's import format.
"""

from __future__ import annotations

import sys

from grader.config import ExportConfig
from grader.lms import canvas, moodle
from grader.lms.gradebook import UNPLACED, read_graded

__all__ = ["main"]


def main(config: ExportConfig) -> int:
    """Write the gradebook; 0 when every result was placed with a grade, 1 when some were not placed or have
    no grade (an internal error; listed on stderr)."""
    write = {"canvas": canvas.write_gradebook, "moodle": moodle.write_gradebook}[config.lms]
    results = read_graded(config.graded)
    matching = write(config, results)
    late = sorted(r.student for r in matching.placed.values() if r.submission.late)
    print(f"Wrote {config.output}: {len(matching.placed)} of {len(results)} submission(s) placed in "
          f"column {config.assignment!r}.")
    if late:
        print(f"  Late, as the file names say ({len(late)}): {', '.join(late)}")
    if matching.unplaced:
        print(f"  {len(matching.unplaced)} submission(s) could not be placed; see above.", file=sys.stderr)
    return UNPLACED if matching.unplaced or not all(r.graded for r in matching.placed.values()) else 0
