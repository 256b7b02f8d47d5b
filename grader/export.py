"""Step 6: results on disk. Every file is written to a temporary name and renamed into place,
so a reader (or a grading run killed half-way) never sees a half-written file."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

from grader.results import SubmissionResult


def write_atomic(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_result(output: Path, result: SubmissionResult) -> Path:
    path = output / "results" / f"{result.student}.json"
    write_atomic(path, json.dumps(result.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    return path


def grades_csv(results: list[SubmissionResult], questions: tuple[str, ...]) -> str:
    """One row per student: student, score, max_score, status, then one column per question. A student
    the grader failed on (status internal_error) has no grade: its score and question cells are empty."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "score", "max_score", "status", *questions])
    for result in sorted(results, key=lambda r: r.student):
        by_name = {q.name: q.score for q in result.questions}
        writer.writerow([
            _csv_safe(result.student), _score(result, result.score), _number(result.max_score),
            result.status.value, *(_score(result, by_name.get(q, 0.0)) for q in questions),
        ])
    return buffer.getvalue()


def _score(result: SubmissionResult, value: float) -> str:
    return _number(value) if result.graded else ""


#: items.csv's columns before the metrics.
ITEM_COLUMNS = ("student", "question", "test", "hidden", "score", "max_score", "passed", "status", "mistake")


def items_csv(results: list[SubmissionResult]) -> str:
    """Long format, one row per student x question x test: score, max score, passed, the question's
    status and mistake id(s), then one column per metric any test recorded (empty where it has none).
    A student the grader failed on (internal_error) has no rows: none of its tests was judged."""
    metrics = sorted({str(name) for r in results for q in r.questions for t in q.tests for name in t.metrics})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*ITEM_COLUMNS, *metrics])
    for result in sorted((r for r in results if r.graded), key=lambda r: r.student):
        for q in result.questions:
            for t in q.tests:
                writer.writerow([
                    _csv_safe(result.student), _csv_safe(q.name), _csv_safe(t.name), str(t.hidden).lower(),
                    _number(t.score), _number(t.max_score), str(t.passed).lower(), q.status.value, q.mistake or "",
                    *(_metric(t.metrics.get(name)) for name in metrics),
                ])
    return buffer.getvalue()


def _metric(value) -> str:
    return "" if value is None else repr(value) if isinstance(value, (int, float)) else _csv_safe(str(value))


def _number(value: float) -> str:
    return f"{value:g}"


def _csv_safe(text: str) -> str:
    # A spreadsheet runs a cell that starts with = + - @ as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def read_results(output: Path) -> list[SubmissionResult]:
    """The results stored in a `grade` output folder (`results/*.json`), in file-name order; a file
    that is not a result is left out."""
    found = []
    for path in sorted((output / "results").glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            found.append(SubmissionResult.from_dict(data))
        except (OSError, ValueError, TypeError, AttributeError):
            continue
    return found
