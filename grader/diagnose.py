"""Step 4: name the mistake behind a failed question, when it is a known one.

The question's probes (`quant_mistakes.probes`: LABS §5's revealing inputs) run on the student's
objects, and on the notebook of each catalogued mistake that affects the question. A probe is a
function of `get(name)`, for every kind of lab: it calls the student's function, or hands the
student's class or in-place function to a quantlab inspection, or exercises several of the
student's objects on a seeded model; in grading, `get` returns proxies that send those calls to
the worker. When the student's findings equal a mistake's findings on every probe they answered,
and that mistake differs from the course's code on at least one, the report explains it.

Anything else (a new kind of error, more than two mistakes that fit, code that raises on every
probe) gives no diagnosis: better none than a wrong one. Two mistakes can be indistinguishable by
what they compute (an int8 range written into the scale function, or a dtype not passed to it);
then both are named.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from grader import timing
from grader.labs import make_tests_importable

Get = Callable[[str], Any]


def same(a, b) -> bool:
    """Equal as results: same types, dtypes and shapes; floats within 1e-6 relative."""
    if type(a) is not type(b):
        return False
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


#: A probe's finding where the probe raised.
RAISED = object()


def findings(probes: list, get: Get) -> list:
    """One finding per probe; `RAISED` where it raised (a different problem, which the tests report)."""
    found = []
    for probe in probes:
        try:
            found.append(probe(get))
        except Exception:  # compared as "raised"
            found.append(RAISED)
    return found


def fits(model: list, course: list, theirs: list) -> bool:
    """The model agrees with the student wherever the student answered, and shows its mistake there."""
    answered = [i for i, t in enumerate(theirs) if t is not RAISED]
    if any(model[i] is RAISED or not same(model[i], theirs[i]) for i in answered):
        return False
    return any(not same(model[i], course[i]) for i in answered)


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

    probes = quant_mistakes.probes(question)
    candidates = quant_mistakes.affecting(lab, question)
    if not probes or not candidates:
        return None
    theirs = findings(probes, get)
    course = findings(probes, quant_mistakes.model(None).__getitem__)
    fitting = {
        mistake.id for mistake in candidates
        if fits(findings(probes, quant_mistakes.model(mistake.key).__getitem__), course, theirs)
    }
    if not 1 <= len(fitting) <= 2:
        return None
    names = sorted(fitting)
    return " or ".join(names), quant_mistakes.explain(lab, *names)
