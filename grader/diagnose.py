"""Step 4: name the mistake behind a failed question, when it is a known one.

The question's probes (`quant_mistakes.probes`: docs/course.md §5's revealing inputs) run on the student's
objects, on the course's code, and on the notebook of each catalogued mistake that affects the
question. A probe is a function of `get(name)`, for every kind of lab: it calls the student's
function, or hands the student's class or in-place function to a quantlab inspection, or exercises
several of the student's objects on a seeded model; in grading, `get` returns proxies that send
those calls to the worker. A probe that raises gives a `Raised` finding: the exception's type,
message and trace.

Two ways name a mistake, and both are asked:

- equality: the student's findings equal a catalogued mistake's findings on every probe they
  answered (a probe where the student raised is left out), and that mistake differs from the
  course's code on at least one (`fits`);
- signatures (`quant_mistakes.signatures`): what the mistake does, tested probe by probe against
  the course's finding, whatever the form of the code: codes truncated or off by the zero point,
  a scale 127/128 of the right one, int8 codes when uint8 was asked for, a RuntimeError raised
  because int8 weights were made a Parameter (`signature_fits`).

Anything else (a new kind of error, more than two mistakes that fit, code that raises on every
probe with an exception no signature knows) gives no diagnosis: better none than a wrong one. Two
mistakes can be indistinguishable by what they compute (an int8 range written into the scale
function, or a dtype not passed to it); then both are named.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from grader import timing
from grader.labs import make_tests_importable

Get = Callable[[str], Any]


@dataclass(frozen=True)
class Raised:
    """The finding of a probe that raised: the exception's type name, its message, and where.

    `trace` is what is known of where it raised (the student's frames, as the worker reports them).
    Two `Raised` findings are the `same` when their types are.
    """

    type: str
    message: str = ""
    trace: str = ""

    @classmethod
    def of(cls, error: BaseException) -> Raised:
        # In grading the exception crosses from the worker as a StudentCodeError carrying its name.
        name = getattr(error, "type_name", None) or type(error).__name__
        return cls(str(name), str(error)[:2000], str(getattr(error, "student_traceback", ""))[:2000])


def same(a, b) -> bool:
    """Equal as results: same types, dtypes and shapes; floats within 1e-6 relative; raised the same type."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Raised):
        return a.type == b.type
    if isinstance(a, torch.Tensor):
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.is_floating_point():
            return bool(torch.allclose(a.double(), b.double(), rtol=1e-6, atol=1e-9, equal_nan=True))
        return bool(torch.equal(a, b))
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return math.isclose(a, b, rel_tol=1e-6) or (math.isnan(a) and math.isnan(b))
    return a == b


def findings(probes: list, get: Get) -> list:
    """One finding per probe; a `Raised` where it raised."""
    found = []
    for probe in probes:
        try:
            found.append(probe(get))
        except Exception as error:  # a finding like any other
            found.append(Raised.of(error))
    return found


def fits(model: list, course: list, theirs: list) -> bool:
    """The model agrees with the student wherever the student answered, and shows its mistake there."""
    answered = [i for i, t in enumerate(theirs) if not isinstance(t, Raised)]
    if any(isinstance(model[i], Raised) or not same(model[i], theirs[i]) for i in answered):
        return False
    return any(not same(model[i], course[i]) for i in answered)


def signature_fits(signature, cases: list) -> bool:
    """No probe rules the mistake out, it explains every probe where the student differs from the
    course (one where the student raised may be left out), and at least one such probe shows it."""
    shown = False
    for case in cases:
        try:
            verdict = signature.shows(case)
        except Exception:  # a finding the signature cannot read is not its mistake
            return False
        differs = not same(case.theirs, case.course)
        if verdict is False or (differs and verdict is None and not case.raised):
            return False
        shown = shown or (differs and verdict is True)
    return shown


@functools.cache
def model_findings(question: str, key: str | None) -> list:
    """The findings of the course's code (`key` None) or of a catalogued mistake on the question's
    probes: the same for every submission (the probes are seeded), so worked out once per process."""
    import quant_mistakes

    return findings(quant_mistakes.probes(question), quant_mistakes.model(key).__getitem__)


def diagnose(lab: str, question: str, get: Get) -> tuple[str, str] | None:
    """(mistake id, explanation for the student), or None when no known mistake fits.

    `get(name)` returns the student's object called `name` (their graded function, or what it
    carries over from earlier labs).
    """
    with timing.phase("diagnose"):
        return _diagnose(lab, question, get)


def _diagnose(lab: str, question: str, get: Get) -> tuple[str, str] | None:
    make_tests_importable()
    import quant_mistakes
    from quant_mistakes.signatures import Case

    probes = quant_mistakes.probes(question)
    candidates = quant_mistakes.affecting(lab, question)
    if not probes or not candidates:
        return None
    theirs = findings(probes, get)
    course_get = quant_mistakes.model(None).__getitem__
    course = model_findings(question, None)
    fitting = {mistake.id for mistake in candidates if fits(model_findings(question, mistake.key), course, theirs)}
    cases = [Case(*found, course_get) for found in zip(probes, theirs, course, strict=True)]
    fitting |= {s.id for s in quant_mistakes.signatures(lab, question) if signature_fits(s, cases)}
    if not 1 <= len(fitting) <= 2:
        return None
    names = sorted(fitting)
    return " or ".join(names), quant_mistakes.explain(lab, *names)
