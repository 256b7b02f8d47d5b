"""Step 3: run a question's otter test file against the student's functions.

The test file is parsed by otter's own `ExceptionTestFile`, and its cases run here, in the
grader's process, beside the hidden reference. The student's functions are reached through
`StudentFunction` proxies that call into the worker: arguments go out as copies, results come
back as plain data. Each question has a time budget; when a call runs past it the worker is
killed, the rest of the question fails, and the session is restarted for the next question.
A question's verdict is a `grader.results.QuestionResult`, one `TestResult` per case; the first
`MAX_CAPTURES` failing tensor tests of a question keep a bounded copy of their tensors
(`grader.capture`) for the report's pictures.
"""

from __future__ import annotations

import time

from otter.test_files.abstract_test import TestCaseResult
from otter.test_files.exception_test import ExceptionTestFile

from grader import capture, timing
from grader.labs import make_tests_importable
from grader.memo import ReferenceMemo
from grader.results import QuestionResult, QuestionStatus, TestResult
from grader.sandbox import wire
from grader.sandbox.session import StudentCodeError, UndefinedName, WorkerLost, WorkerSession

MESSAGE_LIMIT = 4000
#: Failing tests per question whose tensors are kept for the report.
MAX_CAPTURES = 3


class MissingFunction(Exception):
    pass


class RemoteOnly(TypeError):
    """A test called a proxy of the student's class directly; classes are used through inspections."""


def missing_message(name: str) -> str:
    # Names in CamelCase are classes by Python's convention (W8A16LinearLayer).
    what = f"the class `{name}`" if name[:1].isupper() else f"`{name}`"
    return (
        f"Your submission does not define {what}. Check the spelling of the name, "
        "and that the cell defining it runs without an error."
    )


class StudentFunction:
    """The student's function or class `name` in the worker, used within the question's deadline.

    A function is called directly. Anything (a class, or a function that changes a model in
    place) can be handed to a quantlab inspection (`quantlab.harness.beside_student_code`): the
    whole inspection then runs in the worker, beside the student's objects, and only its
    findings come back.
    """

    def __init__(self, session: WorkerSession, name: str, deadline: float):
        self.session = session
        self.name = name
        self.deadline = deadline

    def _time_left(self) -> float:
        # The time the student's code waited on the grader's stand-ins for its helpers is not its own.
        return self.deadline + self.session.helper_granted - time.monotonic()

    def _require_defined(self) -> str:
        kind = self.session.report.names.get(self.name)
        if kind is None:
            raise MissingFunction(missing_message(self.name))
        return kind

    def __call__(self, *args, **kwargs):
        if self._require_defined() == "class":
            raise RemoteOnly(
                f"`{self.name}` is a class of the student's program: a test hands it to a quantlab "
                "inspection (quantlab.harness.beside_student_code) instead of calling it."
            )
        return self.session.call(self.name, args, kwargs, timeout=self._time_left())

    def __quantlab_remote__(self, key: str, args: tuple, kwargs: dict):
        """Run the inspection `key` in the worker, with the student's objects for every proxy."""
        proxies: list[StudentFunction] = []
        args, kwargs = _as_names(args, proxies), _as_names(kwargs, proxies)
        for proxy in proxies:
            proxy._require_defined()
        names = ", ".join(dict.fromkeys(f"`{p.name}`" for p in proxies))
        try:
            return self.session.inspect(
                key, args, kwargs, timeout=self._time_left(), what=f"Your {names}"
            )
        except UndefinedName as error:
            raise MissingFunction(missing_message(error.name)) from None


def _as_names(value, proxies: list):
    """`value` with every StudentFunction replaced by the wire tag that names it (collected in `proxies`)."""
    if isinstance(value, StudentFunction):
        proxies.append(value)
        return wire.StudentName(value.name)
    if type(value) in (list, tuple):
        return type(value)(_as_names(v, proxies) for v in value)
    if type(value) is dict:
        return {k: _as_names(v, proxies) for k, v in value.items()}
    return value


def _cut(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + " … (cut)"


def failure_message(error: BaseException) -> str:
    """What the student reads when a test case fails."""
    from quantlab.checks import CheckFailed  # importable once labs.make_tests_importable() ran

    if isinstance(error, (CheckFailed, MissingFunction)):
        return str(error)
    if isinstance(error, StudentCodeError):
        where = f" (line {error.line} of its cell)" if error.line else ""
        return f"Your code raised {error.describe()}{where}."
    return f"The test could not use your result: {type(error).__name__}: {error}"


def load_tests(lab, *, hidden: bool) -> list[ExceptionTestFile]:
    """Fresh test-file objects for every question of `lab` (they record results as they run)."""
    return ParsedTests(lab, hidden=hidden).fresh()


class ParsedTests:
    """A lab's test files, parsed once for a whole batch.

    Parsing (compiling and running each test file's source) gives the immutable part: the test
    cases, their functions and the globals those share. It is kept here. The mutable part, the
    `ExceptionTestFile` objects that record each case's result as it runs, is made anew by
    `fresh()` for every submission, so no two submissions share a record.

    With a `memo` (`grader.memo.ReferenceMemo`), the reference the test bodies call answers from
    it: the reference's outputs for the batch's hidden cases are computed once.
    """

    def __init__(self, lab, *, hidden: bool, memo: ReferenceMemo | None = None):
        make_tests_importable()
        self.memo = memo
        self._parsed: list[tuple[str, str, tuple, bool, str]] = []
        for question in lab.question_names:
            source = lab.test_source(question, hidden=hidden)
            parsed = ExceptionTestFile.from_string(source, path=f"tests/{question}.py")
            if memo is not None:
                for test_globals in {id(g): g for g in _globals_of(parsed)}.values():
                    memo.install(test_globals)
            self._parsed.append((parsed.name, parsed.path, tuple(parsed.test_cases), parsed.all_or_nothing, source))

    def fresh(self) -> list[ExceptionTestFile]:
        """New test-file objects (empty results) over the shared, parsed test cases."""
        files = []
        for name, path, cases, all_or_nothing, source in self._parsed:
            test_file = ExceptionTestFile(name, path, list(cases), all_or_nothing=all_or_nothing)
            test_file.source = source
            files.append(test_file)
        return files


def _globals_of(test_file: ExceptionTestFile) -> list[dict]:
    return [case.body.test_func.__globals__ for case in test_file.test_cases]


def judge_question(test_file: ExceptionTestFile, session: WorkerSession, *, budget: float) -> QuestionResult:
    """Run every case of `test_file`; fills `test_file.test_case_results` as otter would."""
    with timing.phase("judge"):
        return _judge_question(test_file, session, budget=budget)


def _judge_question(test_file: ExceptionTestFile, session: WorkerSession, *, budget: float) -> QuestionResult:
    from quantlab.checks import collect_failure, collect_metrics

    deadline = time.monotonic() + budget
    # A run again with reference helpers standing in (grader.own_logic) gets a CPU budget of its own.
    standing_in = ", ".join(sorted(session.helpers))
    session.budget = test_file.name + (f" (with {standing_in} standing in)" if standing_in else "")
    question = QuestionResult(name=test_file.name, score=0.0, max_score=float(test_file.possible))
    test_file.test_case_results = []
    lost: WorkerLost | None = None
    missing = 0
    for case in test_file.test_cases:
        env = _environment(case, session, deadline)
        passed, message, otter_message, metrics, failures = False, "", "", {}, []
        if lost is None:
            with collect_metrics() as metrics, collect_failure() as failures:
                try:
                    case.body.call_func(env)
                    passed, otter_message = True, "✅ Test case passed"
                except WorkerLost as error:
                    lost, message = error, error.reason
                except MissingFunction as error:
                    missing, message = missing + 1, str(error)
                    otter_message = "❌ Test case failed\n" + _otter_error(test_file, error, message)
                except Exception as error:  # every failure is reported, never raised
                    message = failure_message(error)
                    otter_message = "❌ Test case failed\n" + _otter_error(test_file, error, message)
        else:
            message = "Not run: " + lost.reason
        otter_message = otter_message or "❌ Test case failed\n" + message
        test_file.test_case_results.append(TestCaseResult(test_case=case, message=otter_message, passed=passed))
        points = float(case.points or 0)
        kept = None
        if failures and not passed and sum(t.capture is not None for t in question.tests) < MAX_CAPTURES:
            kept = capture.capture(failures[-1], hidden=bool(case.hidden))  # the check that raised is the last
        question.tests.append(
            TestResult(
                name=case.name, hidden=bool(case.hidden), passed=passed,
                score=points if passed else 0.0, max_score=points,
                message=_cut(message), metrics=dict(metrics), capture=kept,
            )
        )
    question.score = float(sum(t.score for t in question.tests))
    if question.tests and missing == len(question.tests):
        question.status, question.message = QuestionStatus.MISSING, question.tests[0].message
    if lost is not None:
        question.status = QuestionStatus.TIMEOUT if lost.timed_out else QuestionStatus.CRASHED
        question.message = lost.reason
    return question


def _environment(case, session: WorkerSession, deadline: float) -> dict:
    return {name: StudentFunction(session, name, deadline) for name in _handed(case)}


def _handed(case) -> list[str]:
    return [name for name in case.body._get_func_params() if name != "env"]


def handed_over(test_file: ExceptionTestFile) -> list[str]:
    """The student's objects the question's tests are handed (its test cases' parameters), in order."""
    return list(dict.fromkeys(name for case in test_file.test_cases for name in _handed(case)))


def _otter_error(test_file: ExceptionTestFile, error: Exception, message: str) -> str:
    # The text otter prints in a notebook: the failing line of the test, then the error.
    try:
        return test_file._generate_error_message(error)
    except Exception:  # an unusual traceback: fall back to the plain message
        return message
