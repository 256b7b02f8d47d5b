"""Known mistakes of the course's labs, as code, with what to tell the student and how to spot them.

Two users: the test suite checks that every mistake fails exactly the questions it affects, and
`grader.diagnose` names a student's mistake when their code gives a catalogued mistake's findings
on its question's probes, or behaves as one of its signatures says (`signatures`). The package is
split by concern (see `catalogue`).

Instructor-only: it ships with the autograder, never to students.
"""

from quant_mistakes.catalogue import (
    COURSE_LITERAL,
    EXPLANATIONS,
    IN_LAB,
    MISTAKES,
    SIGNATURES,
    TITLES,
    affecting,
    explain,
    model,
    probes,
    signatures,
    source,
)
from quant_mistakes.mistakes import Mistake

__all__ = [
    "COURSE_LITERAL", "EXPLANATIONS", "IN_LAB", "MISTAKES", "SIGNATURES", "TITLES", "Mistake", "affecting", "explain",
    "model", "probes", "signatures", "source",
]
