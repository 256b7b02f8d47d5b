"""The hostile batch again, graded on the cold path (`grade --cold`): every test of test_hostile.py, which
grades warm (the default), holds too when each worker gets a new sandbox of its own."""

import shutil

import pytest
from test_hostile import (  # noqa: F401  (collected here too, against the cold batch below)
    LIMITS,
    LISTENER_PORT,
    SUBMISSIONS,
    Listener,
    test_a_fork_bomb_of_memory_hogs_is_held_by_the_cgroup_and_each_hog_by_its_own_cap,
    test_a_neighbour_never_changes_a_grade,
    test_big_output_costs_nothing,
    test_deaths_cost_only_their_question,
    test_each_is_graded_on_what_it_really_computes,
    test_fake_results_land_nowhere_outside_the_scratch,
    test_markup_reaches_no_report_unescaped,
    test_memory_beyond_the_cap_is_refused,
    test_memory_outside_every_address_space_is_held_by_the_cgroup,
    test_no_process_is_left_behind,
    test_notes_and_messages_are_cut_to_a_bounded_size,
    test_the_batch_completes_in_the_sandbox,
    test_the_caps_in_force_are_recorded_and_said,
    test_the_disk_holds_nothing_to_find,
    test_the_network_is_unreachable,
)

from grader.config import GradeConfig
from grader.grade import grade_batch

# The same loopback port as test_hostile.py: both modules run on one xdist worker, one after the other.
pytestmark = pytest.mark.xdist_group("hostile")


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-cold-submissions")
    for path in SUBMISSIONS.iterdir():
        shutil.copy(path, folder / path.name)
    output = tmp_path_factory.mktemp("hostile-cold-out")
    listener = Listener(LISTENER_PORT)
    try:
        results = grade_batch(GradeConfig(lab="L2-A", submissions=folder, output=output, jobs=2, limits=LIMITS,
                                          warm=False))
    finally:
        listener.stop()
    assert '"warm": false' in (output / "run.json").read_text()
    return {r.student: r.to_dict() for r in results}, output, folder, listener.connections
