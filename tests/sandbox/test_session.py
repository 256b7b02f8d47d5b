"""The worker process: cells run as a kernel would, calls cross as data, limits hold."""

import os
import textwrap
import time

import pytest
import torch

from grader.labs import SUPPORT
from grader.sandbox.session import Limits, StudentCodeError, WorkerLost, WorkerSession


def session_for(*sources: str, **limits) -> WorkerSession:
    cells = [{"index": i, "source": textwrap.dedent(s)} for i, s in enumerate(sources, start=1)]
    return WorkerSession(cells, support=[SUPPORT], limits=Limits(**limits))


def test_cells_run_in_order_and_a_failing_cell_does_not_stop_later_ones():
    with session_for("import torch\nx = 2", "raise RuntimeError('demo broke')", "def f(t):\n    return t * x") as s:
        report = s.start()
        assert report.names["f"] == "function"
        assert [e["type"] for e in report.cell_errors] == ["RuntimeError"]
        assert report.cell_errors[0]["cell"] == 2
        assert torch.equal(s.call("f", (torch.tensor([1, 2]),), {}, timeout=10), torch.tensor([2, 4]))


def test_student_exceptions_arrive_as_the_same_builtin_type():
    with session_for("def f():\n    raise ValueError('scale must be positive')",
                     "class MyError(Exception): pass\ndef g():\n    raise MyError('x')") as s:
        s.start()
        with pytest.raises(ValueError) as caught:
            s.call("f", (), {}, timeout=10)
        assert isinstance(caught.value, StudentCodeError)
        assert caught.value.describe() == "ValueError: scale must be positive"
        with pytest.raises(StudentCodeError) as custom:
            s.call("g", (), {}, timeout=10)
        assert not isinstance(custom.value, ValueError) and custom.value.type_name == "MyError"


def test_printing_does_not_disturb_the_answers():
    with session_for("import sys\nprint('x' * 100000)\ndef f():\n"
                     "    print('noise'); sys.stdout.write('more'); return 1.5") as s:
        s.start()
        assert s.call("f", (), {}, timeout=10) == 1.5


def test_a_hanging_call_times_out_and_the_session_restarts():
    with session_for("def spin():\n    while True: pass", "def ok():\n    return 7") as s:
        s.start()
        started = time.monotonic()
        with pytest.raises(WorkerLost) as lost:
            s.call("spin", (), {}, timeout=1.0)
        assert lost.value.timed_out and time.monotonic() - started < 10
        assert not s.alive
        s.start()
        assert s.call("ok", (), {}, timeout=10) == 7


@pytest.mark.parametrize("body, expected, message", [
    ("import os\n    os._exit(3)", WorkerLost, "stopped the process running your code (exit status 3)"),
    # SystemExit is caught in the worker and reported as the student's exception; the worker lives on.
    ("raise SystemExit(0)", StudentCodeError, "SystemExit"),
    ("import os, signal\n    os.kill(os.getpid(), signal.SIGSEGV)", WorkerLost,
     "stopped the process running your code (SIGSEGV)"),
], ids=["os._exit", "SystemExit", "SIGSEGV"])
def test_a_worker_that_exits_costs_only_the_call(body, expected, message):
    with session_for(f"def die():\n    {body}\ndef ok():\n    return 1") as s:
        s.start()
        # pytest.raises: a call that returned normally must fail the test, not pass it.
        with pytest.raises(expected) as caught:
            s.call("die", (), {}, timeout=10)
        if expected is WorkerLost:
            assert message in caught.value.reason and not caught.value.timed_out
            assert not s.alive
            s.start()
        else:
            assert caught.value.type_name == message
            assert s.alive
        assert s.call("ok", (), {}, timeout=10) == 1


def test_shell_lines_and_unknown_magics_are_not_run(tmp_path):
    marker = tmp_path / "marker"
    source = (f"get_ipython().system('touch {marker}')\n"
              "get_ipython().run_line_magic('matplotlib', 'inline')\n"
              f"get_ipython().run_cell_magic('bash', '', 'touch {marker}')\n"
              "get_ipython().run_line_magic('time', 'y = 41 + 1')\n"
              "def f():\n    return y")
    with session_for(source) as s:
        report = s.start()
        assert s.call("f", (), {}, timeout=10) == 42
    assert not marker.exists()
    assert any("was not run" in note for note in report.notes)


def test_a_cell_that_runs_forever_is_cut_and_later_cells_still_run():
    with session_for("while True: pass", "def f():\n    return 'after'", cell=1.0) as s:
        report = s.start()
        assert report.cell_errors and report.cell_errors[0]["message"] == "the cell ran out of time"
        assert s.call("f", (), {}, timeout=10) == "after"


def test_string_hashes_and_set_order_are_the_same_in_every_session():
    source = """
    import os
    def hashed():
        return hash("abc"), hash(b"abc"), list({"alpha", "beta", "gamma", "delta", "epsilon", "zeta"})
    def python_variables():
        return sorted(name for name in os.environ if name.startswith("PYTHON"))
    """
    answers = []
    for _ in range(2):
        with session_for(source) as session:
            session.start()
            answers.append(session.call("hashed", (), {}, timeout=10))
            assert session.call("python_variables", (), {}, timeout=10) == ["PYTHONHASHSEED"]
    assert answers[0] == answers[1]


def test_arguments_are_copies_so_mutation_cannot_leak():
    with session_for("def f(t):\n    t.zero_()\n    return t") as s:
        s.start()
        original = torch.ones(3)
        assert torch.equal(s.call("f", (original,), {}, timeout=10), torch.zeros(3))
        assert torch.equal(original, torch.ones(3))


def test_the_worker_runs_in_a_scratch_folder_that_is_removed():
    with session_for("import os\ndef where():\n    return os.getcwd(), os.path.exists('quantlab/checks.py')") as s:
        s.start()
        inside, has_support = s.call("where", (), {}, timeout=10)
        assert inside == "/scratch" and has_support
        scratch, pid = s.scratch, s.process.pid
        assert scratch.is_dir()
    assert not scratch.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_the_worker_cannot_import_the_reference():
    with session_for("def probe():\n    import quant_reference\n    return 'leaked'") as s:
        s.start()
        with pytest.raises(ModuleNotFoundError):
            s.call("probe", (), {}, timeout=10)


def test_the_support_package_imports_and_plots_headless():
    source = """
    import torch
    import matplotlib.pyplot as plt
    from quantlab.plotting import plot_quantization_errors
    t = torch.tensor([[1.0, -2.0], [3.0, 4.0]])
    plot_quantization_errors(t, t.to(torch.int8), t)
    plt.show()
    def backend():
        import matplotlib
        return matplotlib.get_backend()
    """
    with session_for(source) as s:
        report = s.start()
        assert report.cell_errors == []
        assert s.call("backend", (), {}, timeout=10).lower() == "agg"
