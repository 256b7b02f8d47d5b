"""Gradescope's results.json, as its autograder specification describes it ("Output format"), checked
strictly: types, the keys that must be there, the allowed statuses, visibilities and formats, and no key
the specification does not name. Shared by tests/gradescope/ (the zip run on this host) and
tests/containers/ (the zip installed by its setup.sh in a fresh Debian root)."""

from __future__ import annotations

import math

from grader.labs import Lab

FORMATS = {"text", "html", "simple_format", "md", "ansi"}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
STATUSES = {"passed", "failed"}

_NUMBER, _TEXT, _OBJECT, _LIST = "number", "text", "object", "list"
TOP_LEVEL = {
    "score": _NUMBER, "execution_time": _NUMBER, "output": _TEXT, "output_format": FORMATS,
    "test_output_format": FORMATS, "test_name_format": FORMATS, "visibility": VISIBILITIES,
    "stdout_visibility": VISIBILITIES, "extra_data": _OBJECT, "tests": _LIST, "leaderboard": _LIST,
}
TEST = {
    "score": _NUMBER, "max_score": _NUMBER, "status": STATUSES, "name": _TEXT, "name_format": FORMATS,
    "number": _TEXT, "output": _TEXT, "output_format": FORMATS, "tags": _LIST, "visibility": VISIBILITIES,
    "extra_data": _OBJECT,
}


def schema_problems(results: object) -> list[str]:
    """What makes `results` (parsed JSON) not a results.json Gradescope accepts; [] when it is one."""
    if not isinstance(results, dict):
        return ["results.json is not a JSON object"]
    found = _fields(results, TOP_LEVEL, "results")
    tests = results.get("tests", [])
    if "score" not in results and (not tests or any(not isinstance(t, dict) or "score" not in t for t in tests)):
        found.append("results: no score, neither at the top nor on every test")
    for i, test in enumerate(tests if isinstance(tests, list) else []):
        if not isinstance(test, dict):
            found.append(f"tests[{i}] is not an object")
            continue
        found += _fields(test, TEST, f"tests[{i}]")
        if not all(isinstance(tag, str) for tag in test.get("tags", [])):
            found.append(f"tests[{i}].tags: not all strings")
    return found


def _fields(data: dict, allowed: dict, where: str) -> list[str]:
    found = [f"{where}.{key}: not in Gradescope's specification" for key in data if key not in allowed]
    for key, kind in allowed.items():
        if key in data and not _is(data[key], kind):
            found.append(f"{where}.{key}: {data[key]!r} is not {kind if isinstance(kind, str) else sorted(kind)}")
    return found


def _is(value: object, kind: object) -> bool:
    if kind == _NUMBER:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind == _TEXT:
        return isinstance(value, str)
    if kind == _OBJECT:
        return isinstance(value, dict)
    if kind == _LIST:
        return isinstance(value, list)
    return value in kind


def question_tests(results: dict, question: str) -> list[dict]:
    return [t for t in results["tests"] if t["extra_data"]["question"] == question]


def check_shape(results: dict, lab: Lab) -> None:
    """One entry per test case, public ones visible, hidden ones after publication."""
    cases = [t for q in lab.questions for t in question_tests(results, q.name)]
    assert len(cases) == len(results["tests"]) == sum(q.points for q in lab.questions)
    hidden = [t for t in results["tests"] if t["extra_data"]["hidden"]]
    assert hidden and all(t["visibility"] == "after_published" for t in hidden)
    assert all(t["visibility"] == "visible" for t in results["tests"] if not t["extra_data"]["hidden"])
    assert results["output_format"] == "md" and results["output"].startswith("## Feedback")
    assert math.isclose(results["score"], sum(t["score"] for t in results["tests"]))
