"""Signatures: a mistake recognised by what it does, whatever form the student's code takes.

A mistake's catalogued code (`mistakes/`) is one way to write it; `grader.diagnose` names it when
a student's findings equal that code's findings on every probe. A signature names it when the
student's findings *behave* like it: codes truncated instead of rounded, a scale 127/128 of the
right one, int8 codes when uint8 was asked for, a RuntimeError because int8 weights were made an
nn.Parameter. One module per topic, each with `SIGNATURES`, a tuple of `Signature`;
`catalogue.signatures(lab, question)` gives those that apply.

The API is small:

- `Signature(id, question, shows, what)`: `shows(case)` looks at one probe, a `Case`, and returns
  True (this probe shows the mistake), False (it rules the mistake out) or None (it cannot tell).
  It applies in every lab whose questions the mistake id `affects` (from `mistakes/`).
- `Case`: the probe's inputs (`args`, `kwargs`), the student's finding (`theirs`), the course's
  (`course`) and `course_on(...)`, the course's finding on other inputs.
- `Raised(type, message, trace)` (from `grader.diagnose`): the finding of a probe that raised, so
  a signature can match an exception of a given type and cause (`raises`).
- `as_if(**changed)`: the student's finding is the course's on the same probe with some keyword
  arguments changed (`as_if(dtype=torch.int8)`: the dtype ignored).

How `grader.diagnose` reads the verdicts (better none than wrong): a signature fits when no probe
rules it out, every probe where the student's answer differs from the course's is explained by
it (True), and at least one is. A probe where the student raised and the signature cannot tell
is left out, as the equality path leaves it out. A `shows` that raises rules the mistake out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grader.diagnose import Get, Raised, findings, same
from quant_mistakes.probes import Probe, inputs, with_inputs

__all__ = ["Case", "Raised", "Signature", "any_of", "as_if", "raises", "same"]


@dataclass(frozen=True)
class Case:
    """One probe as a signature sees it: its inputs, the student's finding and the course's."""

    probe: Probe
    theirs: Any
    course: Any
    #: The course's objects by name (the course-literal notebook).
    course_get: Get

    @property
    def args(self) -> tuple:
        return inputs(self.probe)[0]

    @property
    def kwargs(self) -> dict:
        return inputs(self.probe)[1]

    @property
    def raised(self) -> bool:
        return isinstance(self.theirs, Raised)

    def course_on(self, *args, **kwargs) -> Any:
        """The course's finding on this probe with these inputs instead (a `Raised` if it raises)."""
        return findings([with_inputs(self.probe, args, kwargs)], self.course_get)[0]


Shows = Callable[[Case], "bool | None"]


@dataclass(frozen=True)
class Signature:
    """A mistake recognised by what it does on one question's probes."""

    #: The mistake id it names (as in `mistakes/` and docs/course.md §5).
    id: str
    #: The question whose probes it reads.
    question: str
    #: One probe's verdict: True shows the mistake, False rules it out, None cannot tell.
    shows: Shows
    #: What the mistake does, in a few words (for the docs and the recognition table).
    what: str = ""


def raises(*types: str, match: str = "") -> Shows:
    """The student's code raised one of `types` (names), its message or trace matching `match`."""
    pattern = re.compile(match, re.IGNORECASE | re.DOTALL)

    def shows(case: Case) -> bool:
        found = case.theirs
        return (isinstance(found, Raised) and found.type in types
                and bool(pattern.search(found.message + "\n" + found.trace)))

    return shows


def as_if(**changed) -> Shows:
    """The student's finding is the course's on the same inputs with `changed` keyword arguments."""

    def shows(case: Case) -> bool | None:
        if case.raised:
            return None
        return same(case.theirs, case.course_on(*case.args, **{**case.kwargs, **changed}))

    return shows


def any_of(*options: Shows) -> Shows:
    """Shows the mistake where one of `options` does (one mistake written several ways); else rules it
    out where one does (or cannot read the finding), else cannot tell."""

    def verdict(option: Shows, case: Case) -> bool | None:
        try:
            return option(case)
        except Exception:  # this way of writing the mistake cannot read the finding
            return False

    def shows(case: Case) -> bool | None:
        verdicts = [verdict(option, case) for option in options]
        if any(v is True for v in verdicts):
            return True
        return False if any(v is False for v in verdicts) else None

    return shows
