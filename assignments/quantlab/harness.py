"""Run a lab's inspection where the student's code lives, and bring back only plain data.

Some answers are not values but classes (`W8A16LinearLayer`) or functions that change a model
in place (`replace_linear_with_target`). A test cannot compare those directly, so it calls an
*inspection*: a function of `quantlab` that builds the inputs, exercises the student's code and
returns its findings as plain data (dicts, lists, str, int, float, bool, None and plain tensors).

In a notebook or under `otter run`, an inspection is an ordinary call. In the autograder the
student's names reach the tests as proxies for objects that live in a sandboxed worker process;
when any argument of an inspection is such a proxy, the whole call is sent to the worker, the
proxies become the student's real objects there, and only the findings come back. The same
test file therefore serves all three places, and the student's code never runs in the grader.

An inspection runs inside the student's process in the autograder, so it is not trusted: its
findings are judged exactly like a returned value, against the same inspection run locally on
the hidden reference.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

__all__ = ["beside_student_code", "REGISTRY", "is_remote"]

#: Inspections by "module.qualname"; the worker runs only functions registered here.
REGISTRY: dict[str, Callable] = {}


def is_remote(value) -> bool:
    """True for the autograder's proxies of objects that live in the student's process."""
    return hasattr(type(value), "__quantlab_remote__")


def beside_student_code(function: Callable) -> Callable:
    """Mark `function` as an inspection: run it wherever its arguments' objects live."""
    key = f"{function.__module__}.{function.__qualname__}"
    REGISTRY[key] = function

    @functools.wraps(function)
    def run(*args, **kwargs):
        remote = next((a for a in (*args, *kwargs.values()) if is_remote(a)), None)
        if remote is None:
            return function(*args, **kwargs)
        return remote.__quantlab_remote__(key, args, kwargs)

    run.inspection_key = key
    return run
