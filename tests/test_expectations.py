"""The hand-written expectations (tests/expectations.py) hold against the catalogues, and the grader's own
decisions (`grading_lab`, `stand_in_helpers`) agree with them.

The grade tests read the tables; these checks keep a table row from going stale when the mistake
catalogue changes, and test the grader's functions that decide the same things on their own.
"""

from __future__ import annotations

import expectations
import quant_mistakes
from grader.labs import LABS, every_function, grading_lab, stand_in_helpers


def test_every_function_is_graded_in_the_lab_the_table_says():
    assert set(expectations.GRADED_IN) == set(every_function())
    assert {name: grading_lab(name).id for name in every_function()} == expectations.GRADED_IN
    assert all(name in LABS[lab].question_names for name, lab in expectations.GRADED_IN.items())


def test_each_row_is_a_question_the_catalogue_says_the_mistake_affects():
    for (lab, key, question), helpers in expectations.HELPERS_AT_FAULT.items():
        mistake = quant_mistakes.MISTAKES[key]
        assert question in mistake.affects.get(lab, ()), (lab, key, question)
        assert helpers and set(helpers) <= set(mistake.functions) and question not in helpers, (lab, key, question)


def test_each_carried_row_is_a_question_the_catalogue_carries_the_mistake_into():
    carried = {(key, lab, question) for key, mistake in quant_mistakes.MISTAKES.items()
               for lab, questions in mistake.carried_into.items() for question in questions}
    assert set(expectations.CARRIED) == carried
    for (key, lab, question), helpers in expectations.CARRIED.items():
        assert helpers and set(helpers) <= set(quant_mistakes.MISTAKES[key].functions), (key, lab, question)


def test_the_grader_lets_a_reference_stand_in_for_every_helper_at_fault():
    """grader.labs.stand_in_helpers decides which of the student's functions a reference may replace
    when a question is graded on its own logic: every helper the tables name must be one."""
    rows = [((lab, question), helpers) for (lab, _, question), helpers in expectations.HELPERS_AT_FAULT.items()]
    rows += [((lab, question), helpers) for (_, lab, question), helpers in expectations.CARRIED.items()]
    for (lab, question), helpers in rows:
        assert set(helpers) <= set(stand_in_helpers(LABS[lab], question)), (lab, question, helpers)


def test_no_function_that_reads_or_writes_files_stands_in():
    """L4-D's functions save and load files: the grader never runs a reference in their place."""
    for lab in LABS.values():
        for question in lab.question_names:
            helpers = stand_in_helpers(lab, question)
            assert not {"save_quantized_state_dict", "load_quantized_model"} & set(helpers), (lab.id, question)
