"""Probes: the revealing inputs on which each question's mistakes show (docs/course.md §5).

One module per topic, each with `probes()`: question -> list of probes, built fresh on each call.
A probe is a function of `get(name)`, which returns an object of the student's (or of a mistake's
notebook, or of the course's) by name, and returns plain findings to compare. Every kind of lab is
probed the same way; only how a probe uses `get` differs:

- `calls`: call the question's function on the given inputs (functions);
- `inspections`: hand the question's class or in-place function to a quantlab inspection, which
  builds layers or models, exercises it and reports findings (a class or in-place code);
- whole-model probes are written out, since they take several of the student's objects at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

Probe = Callable[[Callable[[str], Any]], Any]
Inputs = list[tuple[tuple, dict]]


def fresh(value):
    """A copy of `value` whose tensors are new: a student's function may change its inputs."""
    if hasattr(value, "clone"):
        return value.clone()
    if isinstance(value, (tuple, list)):
        return type(value)(fresh(v) for v in value)
    if isinstance(value, dict):
        return {k: fresh(v) for k, v in value.items()}
    return value


def calls(question: str, inputs: Inputs) -> list[Probe]:
    """Probes that call `get(question)(*args, **kwargs)` on fresh copies of each input."""
    return [functools.partial(_run, question, None, args, kwargs) for args, kwargs in inputs]


def inspections(question: str, inspection: Callable, inputs: Inputs) -> list[Probe]:
    """Probes that run `inspection(get(question), *args, **kwargs)` on fresh copies of each input."""
    return [functools.partial(_run, question, inspection, args, kwargs) for args, kwargs in inputs]


def inputs(probe: Probe) -> tuple[tuple, dict]:
    """The arguments `probe` passes to the student's object (none for a probe written out)."""
    if isinstance(probe, functools.partial) and probe.func is _run:
        return probe.args[2], probe.args[3]
    return (), {}


def with_inputs(probe: Probe, args: tuple, kwargs: dict) -> Probe:
    """`probe` with other arguments (a probe written out is returned as it is)."""
    if isinstance(probe, functools.partial) and probe.func is _run:
        return functools.partial(_run, probe.args[0], probe.args[1], tuple(args), dict(kwargs))
    return probe


def _run(question: str, inspection: Callable | None, args: tuple, kwargs: dict, get: Callable):
    args, kwargs = fresh(args), fresh(kwargs)
    if inspection is None:
        return get(question)(*args, **kwargs)
    return inspection(get(question), *args, **kwargs)
