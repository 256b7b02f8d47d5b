"""Step 4: name the mistake behind a failed question, when it is a known one.

The student's function runs on a few probe inputs (LABS §5's revealing inputs); each known
mistake of that question (`quant_mistakes`) runs on the same inputs here. When the student's
outputs equal a mistake's outputs on every probe, and that mistake differs from the course code
on at least one, the report explains that mistake. Anything else (a new kind of error, more than
two mistakes that fit, a function that raises on every probe) gives no diagnosis: better none
than a wrong one.

A class or a function that changes a model in place (L4) is probed through its quantlab inspection
(`quant_mistakes.probe_inspection`): the findings are the outputs compared, and a proxy of the
student's object sends the inspection to the worker, as in the tests. Questions about whole models
(L4-C, L4-D: `quant_mistakes.whole_model`) call several of the student's objects at once; their
probes are functions of `lookup(name)`, run on the student's objects and on each mistake's code.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from grader.labs import make_tests_importable


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
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return math.isclose(a, b, rel_tol=1e-6) or (math.isnan(a) and math.isnan(b))
    return a == b


def _copy(value):
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, (tuple, list)):
        return type(value)(_copy(v) for v in value)
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


_RAISED = object()


def _outputs(function: Callable, probes, inspection: Callable | None = None) -> list:
    """One output per probe; `_RAISED` where the call raised.

    With `inspection` (for a class or an in-place function), a probe is `inspection(function, *args)`:
    its findings are the output.
    """
    outputs = []
    for args, kwargs in probes:
        try:
            if inspection is not None:
                outputs.append(inspection(function, *_copy(args), **_copy(kwargs)))
            else:
                outputs.append(function(*_copy(args), **_copy(kwargs)))
        except Exception:  # noqa: BLE001 - compared as "raised"
            outputs.append(_RAISED)
    return outputs


def _fits(model: list, course: list, theirs: list) -> bool:
    """The model agrees with the student wherever the student answered, and shows its mistake there."""
    answered = [i for i, t in enumerate(theirs) if t is not _RAISED]
    if any(model[i] is _RAISED or not same(model[i], theirs[i]) for i in answered):
        return False
    return any(not same(model[i], course[i]) for i in answered)


def _findings(probes, get: Callable) -> list:
    """One result per inspection probe (a function of `get(name)`); `_RAISED` where it raised."""
    outputs = []
    for probe in probes:
        try:
            outputs.append(probe(get))
        except Exception:  # noqa: BLE001 - compared as "raised"
            outputs.append(_RAISED)
    return outputs


def _diagnose_by_inspection(catalogue, lab: str, question: str, lookup: Callable | None) -> tuple[str, str] | None:
    """As `diagnose`, for questions about models: the probes are inspections of the student's objects."""
    probes = catalogue.probes().get(question)
    candidates = [m for m, spec in catalogue.MISTAKES.items() if question in spec["affects"].get(lab, ())]
    if lookup is None or not probes or not candidates:
        return None
    theirs = _findings(probes, lookup)
    course = _findings(probes, catalogue.model(None).__getitem__)
    fits = {m.split("/")[0] for m in candidates
            if _fits(_findings(probes, catalogue.model(m).__getitem__), course, theirs)}
    if not 1 <= len(fits) <= 2:
        return None
    names = sorted(fits)
    return " or ".join(names), catalogue.explain(*names)


def diagnose(lab: str, question: str, student: Callable, lookup: Callable | None = None) -> tuple[str, str] | None:
    """(mistake id, explanation for the student), or None when no known mistake fits.

    Probes on which the student's code raised are left out (that is a different problem, which
    the tests report). Two mistakes can be indistinguishable by what they compute (an int8 range
    written into the scale function, or a dtype not passed to it); then both are named.
    """
    make_tests_importable()
    import quant_mistakes
    from quant_mistakes import whole_model

    if lab in whole_model.QUESTIONS:
        return _diagnose_by_inspection(whole_model, lab, question, lookup)
    probes = quant_mistakes.probes().get(question)
    candidates = [m for m, spec in quant_mistakes.MISTAKES.items() if question in spec["affects"].get(lab, ())]
    if not probes or not candidates:
        return None
    inspection = quant_mistakes.probe_inspection(question)
    theirs = _outputs(student, probes, inspection)
    course = _outputs(quant_mistakes.model(None)[question], probes, inspection)
    fits = {
        m.split("/")[0] for m in candidates
        if _fits(_outputs(quant_mistakes.model(m)[question], probes, inspection), course, theirs)
    }
    if not 1 <= len(fits) <= 2:
        return None
    names = sorted(fits)
    return " or ".join(names), quant_mistakes.explain(*names)
