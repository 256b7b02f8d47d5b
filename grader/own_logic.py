"""Step 3, once more where a helper failed: a graded function is judged on its own logic.

A graded function calls the student's own helpers: the lab's other graded functions and classes
and those carried over from earlier labs (`grader.labs.stand_in_helpers`). A wrong helper would
cost every question that calls it. So when a question's tests fail, it runs again with the
reference of its helpers standing in for the student's, and earns the better result:

- only helpers the tests can reach by name can be at fault: those the tests are handed (a layer
  class given to a function that replaces layers, the replacement used to quantize the model a save
  function saves), and those named in the code of the function, of what it is handed, of the
  student's functions and classes these name, and so on; the worker tells which
  (`WorkerSession.reaches`);
- first with every helper standing in at once: when that earns nothing more, no helper is at
  fault and the first result stands (one run more, for a function that is wrong itself);
- then each helper alone, innermost first (the order the course introduces them): a helper is at
  fault when its stand-in was called and raised the score. The first that earns full marks ends
  the search, so a function that only passes the wrong value along (per channel, between the
  student's scale and per group) is not blamed for it.

A helper whose stand-in changes nothing is right as far as the question can tell, and never
named. The reference runs in the grader only: the worker's stub asks for it (stubs.py and
stand_ins.py in grader/sandbox: a function's value, the steps a function takes on a model, a
layer's tensors), a round trip per call (a per-channel function calls its scale helper once per
row, a layer stand-in asks at each forward pass); the time the
student's code waits on them is not counted, up to `WAIT_GRACE` times the question's time.
"""

from __future__ import annotations

from grader import judge
from grader.labs import Lab, grading_lab, stand_in_helpers
from grader.results import HelperAtFault, QuestionResult, QuestionStatus
from grader.sandbox.session import WorkerLost, WorkerSession

#: How much longer than the question's time a run with stand-ins may take, waiting on the grader.
WAIT_GRACE = 3.0
#: Statuses after which the question may run again: it ran (or ran out of time, or crashed) and lost marks.
_RERUN_AFTER = (QuestionStatus.OK, QuestionStatus.TIMEOUT, QuestionStatus.CRASHED)


def judge_on_own_logic(lab: Lab, question: QuestionResult, test_file, session: WorkerSession, *,
                       budget: float) -> QuestionResult:
    """`question`, or a better result of the same tests with reference helpers, naming those at fault."""
    helpers = stand_in_helpers(lab, question.name)
    if not helpers or question.status not in _RERUN_AFTER or question.score >= question.max_score:
        return question
    helpers = _reached(judge.handed_over(test_file), helpers, session, budget)
    if not helpers:  # its code names none of them: they cannot be at fault
        return question
    own_records = test_file.test_case_results
    together, called_together = _rerun(test_file, session, helpers, budget)
    if together is None or together.score <= question.score:
        test_file.test_case_results = own_records
        _alive(session)
        return question
    best, best_records, faults = together, test_file.test_case_results, []
    for name in helpers if len(helpers) > 1 else ():
        alone, called = _rerun(test_file, session, (name,), budget)
        if alone is None or name not in called or alone.score <= question.score:
            continue
        faults.append(name)
        if alone.score >= best.score:  # one stand-in explains as much as all of them
            best, best_records = alone, test_file.test_case_results
        if alone.score >= alone.max_score:
            break
    test_file.test_case_results = best_records
    _alive(session)  # diagnosis, next, calls the student's own functions
    faults = faults or [name for name in helpers if name in called_together]
    best.helpers_at_fault = [_where_graded(name) for name in faults]
    best.score_with_own_helpers = question.score
    return best


def _rerun(test_file, session: WorkerSession, helpers: tuple[str, ...],
           budget: float) -> tuple[QuestionResult | None, set[str]]:
    """The question's result with `helpers` standing in, and the helpers whose stand-ins were called."""
    if not _alive(session):
        return None, set()
    session.helpers = {name: grading_lab(name).reference_function(name) for name in helpers}
    session.helper_calls.clear()
    session.helper_grace, session.helper_granted = budget * WAIT_GRACE, 0.0
    try:
        result = judge.judge_question(test_file, session, budget=budget)
    finally:
        session.helpers, session.helper_grace, session.helper_granted = {}, 0.0, 0.0
    return result, set(session.helper_calls)


def _reached(names: list[str], helpers: tuple[str, ...], session: WorkerSession, budget: float) -> tuple[str, ...]:
    """The helpers reachable by name from `names` (those the tests are handed); all of them when that cannot
    be told."""
    if not _alive(session):
        return helpers
    try:
        return tuple(session.reaches(names, list(helpers), timeout=budget))
    except Exception:  # a lost worker or an answer that makes no sense: every helper stays a suspect
        return helpers


def _alive(session: WorkerSession) -> bool:
    """Whether the worker runs, restarted (the program run again) if a run before lost it."""
    if not session.alive:
        try:
            session.start()
        except WorkerLost:
            return False
    return True


def _where_graded(name: str) -> HelperAtFault:
    return HelperAtFault(name=name, lab=grading_lab(name).id, question=name)
