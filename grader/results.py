"""Results: the typed records that judging produces and that report, export and resume read.

`judge` (step 3) fills a `QuestionResult` with one `TestResult` per test case; `grade.submission`
gathers them into one `SubmissionResult` per file; `report` (step 5) renders it and `export`
(step 6) writes `to_dict()` as `results/<student>.json`, which `grade.resume` reads back with
`SubmissionResult.from_dict`. Statuses are str-valued enums, so the JSON holds plain strings.

Results schema (`results/<student>.json`, `schema_version` 5):

    {schema_version: 5,
     student, lab, score, max_score, status: "graded" | "unreadable" | "internal_error", message,
     submission: {file, kind: "notebook" | "script" | null, sha256,
                  late},          # late: Canvas named the file LATE (grader/grade/naming.py)
     notes: [...],                # how the file ran: cells that raised, lines not run
     questions: [{name, score, max_score,
                  status: "ok" | "missing" | "timeout" | "crashed" | "not_run",
                  message, diagnosis, mistake,          # diagnosis: a known docs/course.md §5 mistake, or null
                  helpers_at_fault: [{name, lab, question}],  # helpers whose mistake cost this question
                  score_with_own_helpers,               # its score before they were stood in for, or null
                  tests: [{name, hidden, passed, score, max_score, message,
                           metrics: {mismatched_codes, max_code_difference, dequantized_mse,
                                     max_abs_error, mse, ...},
                           capture}]}],   # only on a failing tensor test: grader.capture's record
                                          # of its tensors (hidden: the student's error only)
     grader: {version, torch,
              isolation: "bubblewrap+cgroup" | "bubblewrap+cgroup2" | "bubblewrap" | "unprivileged-uid"
                         | "unprivileged-uid+cgroup" | "unprivileged-uid+cgroup2" | "process",
              material,           # material: hash of tests, reference, grader code
              worker},            # the Dask worker that graded it ("tcp://HOST:PORT", `grade --scheduler`);
                                  # null when the `grade` process itself graded it (run.json names the host)
     grader_error}                # only when the grader itself failed on this file ("internal_error"):
                                  # what broke, for the instructor (the worker's own stderr, or the exception)

Hidden tests are reported with their verdict, message, metrics and error, never their expected values.
A question whose tests failed because of a wrong helper (a function of the student's that it
calls, graded elsewhere) earns what its own logic earns with the reference helper in its place
(`grader.own_logic`): `helpers_at_fault` names the helpers and where each is graded, and
`score_with_own_helpers` keeps the score it had with the student's own helpers.
An "internal_error" result is no grade: its score is not the student's, every export leaves it
blank, and the next run grades it again (`grade.resume`).
Version 4 recorded a grader failure as "unreadable" with a `grader_error`. Version 3 had no
`grader.worker`, `helpers_at_fault` or `score_with_own_helpers`; version 2 had no
`submission.late` and no `capture` either; version 1 (before `schema_version` existed) had the
keys and values of version 2 without `schema_version`. A stored result of another version is
graded again (`grade.resume`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = [
    "SCHEMA_VERSION", "SubmissionStatus", "QuestionStatus", "TestResult", "HelperAtFault", "QuestionResult",
    "SubmissionInfo", "GraderInfo", "SubmissionResult",
]

SCHEMA_VERSION = 5


class _Status(str, enum.Enum):
    """A status that is its own JSON string: `status == "ok"` and json.dumps both see the value."""

    def __str__(self) -> str:
        return self.value


class SubmissionStatus(_Status):
    GRADED = "graded"
    UNREADABLE = "unreadable"  # the file could not be read: the student's to fix, scores 0
    INTERNAL_ERROR = "internal_error"  # the grader or its sandbox failed, not the student: no grade


class QuestionStatus(_Status):
    OK = "ok"  # every test ran (passed or not)
    MISSING = "missing"  # the function or class is not defined
    TIMEOUT = "timeout"
    CRASHED = "crashed"  # the worker died, or the program could not be started
    NOT_RUN = "not_run"  # never graded: the file could not be read


@dataclass
class TestResult:
    __test__ = False  # a record, not a pytest test class

    name: str
    hidden: bool
    passed: bool
    score: float
    max_score: float
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    capture: dict | None = None  # a failing tensor test's tensors, bounded (grader.capture)

    def to_dict(self) -> dict:
        data = {"name": self.name, "hidden": self.hidden, "passed": self.passed, "score": self.score,
                "max_score": self.max_score, "message": self.message, "metrics": dict(self.metrics)}
        if self.capture is not None:
            data["capture"] = self.capture
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TestResult:
        return cls(name=str(data.get("name", "")), hidden=bool(data.get("hidden", False)),
                   passed=bool(data.get("passed", False)), score=float(data.get("score", 0.0)),
                   max_score=float(data.get("max_score", 0.0)), message=str(data.get("message") or ""),
                   metrics=dict(data.get("metrics") or {}),
                   capture=data.get("capture") if isinstance(data.get("capture"), dict) else None)


@dataclass
class HelperAtFault:
    """A function of the student's whose mistake cost a question that calls it, and where it is graded."""

    name: str
    lab: str
    question: str

    def to_dict(self) -> dict:
        return {"name": self.name, "lab": self.lab, "question": self.question}

    @classmethod
    def from_dict(cls, data: dict) -> HelperAtFault:
        return cls(name=str(data.get("name", "")), lab=str(data.get("lab", "")),
                   question=str(data.get("question", "")))


@dataclass
class QuestionResult:
    name: str
    score: float
    max_score: float
    status: QuestionStatus = QuestionStatus.OK
    message: str = ""
    diagnosis: str | None = None
    mistake: str | None = None  # the docs/course.md §5 id(s) behind `diagnosis`
    tests: list[TestResult] = field(default_factory=list)
    helpers_at_fault: list[HelperAtFault] = field(default_factory=list)
    score_with_own_helpers: float | None = None

    @property
    def all_passed(self) -> bool:
        return self.status is QuestionStatus.OK and all(t.passed for t in self.tests)

    def to_dict(self) -> dict:
        return {"name": self.name, "score": self.score, "max_score": self.max_score, "status": self.status.value,
                "message": self.message, "diagnosis": self.diagnosis, "mistake": self.mistake,
                "tests": [t.to_dict() for t in self.tests],
                "helpers_at_fault": [h.to_dict() for h in self.helpers_at_fault],
                "score_with_own_helpers": self.score_with_own_helpers}

    @classmethod
    def from_dict(cls, data: dict) -> QuestionResult:
        return cls(name=str(data.get("name", "")), score=float(data.get("score", 0.0)),
                   max_score=float(data.get("max_score", 0.0)),
                   status=QuestionStatus(data.get("status", QuestionStatus.OK)),
                   message=str(data.get("message") or ""), diagnosis=data.get("diagnosis"),
                   mistake=data.get("mistake"), tests=[TestResult.from_dict(t) for t in data.get("tests") or []],
                   helpers_at_fault=[HelperAtFault.from_dict(h) for h in data.get("helpers_at_fault") or []],
                   score_with_own_helpers=_optional_float(data.get("score_with_own_helpers")))


def _optional_float(value) -> float | None:
    return None if value is None else float(value)


@dataclass
class SubmissionInfo:
    """The file that was graded."""

    file: str = ""
    kind: str | None = None  # "notebook" or "script"; None when it could not be read
    sha256: str | None = None
    late: bool = False  # handed in late, as the file's name says (grader/grade/naming.py)

    def to_dict(self) -> dict:
        return {"file": self.file, "kind": self.kind, "sha256": self.sha256, "late": self.late}

    @classmethod
    def from_dict(cls, data: dict) -> SubmissionInfo:
        return cls(file=str(data.get("file") or ""), kind=data.get("kind"), sha256=data.get("sha256"),
                   late=bool(data.get("late", False)))


@dataclass
class GraderInfo:
    """What graded it: grader and torch versions, the isolation, the grading material's hash, the Dask worker."""

    version: str = "?"
    torch: str = "?"
    isolation: str = "?"
    material: str = ""
    worker: str | None = None  # None: graded by the `grade` process itself, not by a Dask worker

    def to_dict(self) -> dict:
        return {"version": self.version, "torch": self.torch, "isolation": self.isolation, "material": self.material,
                "worker": self.worker}

    @classmethod
    def from_dict(cls, data: dict) -> GraderInfo:
        worker = data.get("worker")
        return cls(version=str(data.get("version", "?")), torch=str(data.get("torch", "?")),
                   isolation=str(data.get("isolation", "?")), material=str(data.get("material", "")),
                   worker=None if worker is None else str(worker))


@dataclass
class SubmissionResult:
    student: str
    lab: str
    score: float = 0.0
    max_score: float = 0.0
    status: SubmissionStatus = SubmissionStatus.GRADED
    message: str = ""
    submission: SubmissionInfo = field(default_factory=SubmissionInfo)
    notes: list[str] = field(default_factory=list)
    questions: list[QuestionResult] = field(default_factory=list)
    grader: GraderInfo = field(default_factory=GraderInfo)
    grader_error: str | None = None  # only when the grader itself failed on this file

    @property
    def graded(self) -> bool:
        """Whether `score` is the student's grade: False for an internal error, which no export may score."""
        return self.status is not SubmissionStatus.INTERNAL_ERROR

    @property
    def score_shown(self) -> str:
        """The score as a person reads it: "no grade" for an internal error, never its 0."""
        return f"{self.score:g}" if self.graded else "no grade"

    def to_dict(self) -> dict:
        """The JSON object of the schema above, keys in its order."""
        data = {
            "schema_version": SCHEMA_VERSION, "student": self.student, "lab": self.lab, "score": self.score,
            "max_score": self.max_score, "status": self.status.value, "message": self.message,
            "submission": self.submission.to_dict(), "notes": list(self.notes),
            "questions": [q.to_dict() for q in self.questions], "grader": self.grader.to_dict(),
        }
        if self.grader_error is not None:
            data["grader_error"] = self.grader_error
        return data

    @classmethod
    def from_dict(cls, data: dict) -> SubmissionResult:
        """The record of a stored result; keys it lacks take their defaults."""
        return cls(
            student=str(data.get("student", "")), lab=str(data.get("lab", "")),
            score=float(data.get("score", 0.0)), max_score=float(data.get("max_score", 0.0)),
            status=SubmissionStatus(data.get("status", SubmissionStatus.GRADED)),
            message=str(data.get("message") or ""),
            submission=SubmissionInfo.from_dict(data.get("submission") or {}),
            notes=[str(n) for n in data.get("notes") or []],
            questions=[QuestionResult.from_dict(q) for q in data.get("questions") or []],
            grader=GraderInfo.from_dict(data.get("grader") or {}),
            grader_error=data.get("grader_error"),
        )
