"""Errors that stop a command, each with the exit status the command line returns for it.

A command raises them; `grader.cli.main` catches `GraderError` once, prints
`python -m grader <command>: <message>` to stderr and returns `exit_code`. Exit statuses:

    0   done (`grade`: every submission got a result, zeros included; `check`: every public test passed;
        `audit`: nothing found; `export`: every submission placed in the gradebook)
    1   a result that needs the user, not an error: `check`: not every public test passed; `audit`: a
        finding; `export`: a submission placed nowhere (each command returns it; it is no GraderError)
    2   the command cannot run at all: unknown lab, missing file or folder, no sandbox, a bad build,
        a roster without the columns needed, a sandbox that fails its self-test (the course's own code
        must score full marks before any student's is graded) (docs/instructors.md, "Exit status")
    3   `grade`, `demo`: the grader or its sandbox failed on some submissions mid-batch; they have no
        grade (status "internal_error", listed on stderr), and running the same command again grades
        them (`INTERNAL_ERRORS`)
"""

from __future__ import annotations

__all__ = ["GraderError", "CANNOT_RUN", "INTERNAL_ERRORS"]

#: The exit status of a command that cannot run at all.
CANNOT_RUN = 2
#: The exit status of a batch in which the grader failed on some submissions (no grade for them yet).
INTERNAL_ERRORS = 3


class GraderError(Exception):
    """A command cannot go on; its message says why, for the person who ran it."""

    exit_code: int = CANNOT_RUN
