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


#: The student's sys.path: its first entry, the entries holding the grader's sandbox files, and which of
#: those files import. Python 3.10 has no -P (isolation.PYTHON_FLAGS): there the worker drops its own
#: folder from sys.path itself, and this must read the same as on 3.11 and later.
GRADERS_FOLDER = """
import importlib.util, os, sys
def path():
    beside = [p for p in sys.path if os.path.exists(os.path.join(p or '.', 'worker.py'))]
    return sys.path[0], beside, [n for n in ('worker', 'zygote', 'isolation', 'session') if importlib.util.find_spec(n)]
"""


def test_the_graders_own_folder_is_not_on_the_students_path():
    with session_for(GRADERS_FOLDER) as s:
        s.start()
        assert s.call("path", (), {}, timeout=10) == ("/scratch", [], [])


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


# Helper requests: the grader runs a reference for a stub in the worker (grader/own_logic.py) ----------

#: Student code that talks on the worker's own pipes, as a hostile submission can: the pipes are the
#: worker's two multiprocessing Connections, which the garbage collector shows.
RAW_PIPES = """
import gc, json, struct, sys, time
from multiprocessing.connection import Connection

def pipes():
    found = [o for o in gc.get_objects() if isinstance(o, Connection)]
    return (next(c for c in found if c.readable and not c.writable),
            next(c for c in found if c.writable and not c.readable))

def ask(name, args, kwargs=None):
    inbox, outbox = pipes()
    outbox.send_bytes(json.dumps({"op": "helper", "name": name, "args": args,
                                  "kwargs": kwargs or {"$": "dict", "items": []}}).encode())
    return sys.modules["wire"].loads(inbox.recv_bytes())  # the worker's own reader: answers may be frames
"""
NO_ARGS = {"$": "list", "items": []}


def _times_ten(x):
    return x * 10


def test_a_stand_in_answers_from_the_grader_and_the_students_own_function_comes_back():
    with session_for("def helper(x):\n    return x + 1\n"
                     "def f(x):\n    return helper(x) * 2, helper.__name__, type(helper).__name__") as s:
        s.start()
        s.helpers = {"helper": _times_ten}
        value, name, kind = s.call("f", (torch.tensor([1.0, 2.0]),), {}, timeout=10)
        assert torch.equal(value, torch.tensor([20.0, 40.0])) and name == "helper" and kind == "function"
        assert s.helper_calls == {"helper": 1}
        s.helpers = {}
        assert torch.equal(s.call("f", (torch.tensor([1.0, 2.0]),), {}, timeout=10)[0], torch.tensor([4.0, 6.0]))


def test_what_the_reference_raises_reaches_the_students_code_as_the_same_type():
    def refuses(x):
        raise ValueError("scale must be a positive finite number")

    with session_for("def helper(x):\n    return x\n"
                     "def f(x):\n    try:\n        helper(x)\n    except ValueError as e:\n        return str(e)") as s:
        s.start()
        s.helpers = {"helper": refuses}
        assert s.call("f", (1.0,), {}, timeout=10) == "scale must be a positive finite number"


def test_a_stand_in_whose_arguments_are_not_plain_data_runs_the_students_own_function():
    with session_for("def helper(x):\n    return 'own'\ndef f():\n    return helper(object())") as s:
        s.start()
        s.helpers = {"helper": _times_ten}
        assert s.call("f", (), {}, timeout=10) == "own"
        assert not s.helper_calls


def test_helper_requests_for_anything_else_are_refused():
    student = RAW_PIPES + """
def helper(x):
    return x

def zeros(shape):
    import base64, math
    data = base64.b64encode(bytes(4 * math.prod(shape))).decode()
    return {"$": "tensor", "dtype": "float32", "shape": shape, "data": data}

def probe():
    one = {"$": "list", "items": [1]}
    return [
        ask("os.system", one)["error"]["type"],                      # not a declared helper
        ask("__import__", one)["error"]["type"],
        ask("exec", one)["error"]["type"],
        ask(["helper"], one)["error"]["type"],                       # not even a name
        ask("helper", {"$": "list", "items": [{"$": "student", "name": "probe"}]})["error"]["type"],
        ask("helper", {"$": "list", "items": [{"$": "foreign", "type": "x", "repr": ""}]})["error"]["type"],
        ask("helper", {"$": "tensor", "dtype": "float32", "shape": [10**9], "data": ""})["error"]["type"],
        ask("helper", one, {"$": "dict", "items": [[1, 2]]})["error"]["type"],  # a keyword that is not a name
        ask("helper", {"$": "list", "items": [zeros([3000, 1]), zeros([1, 3000])]})["error"]["type"],  # a blow-up
        ask("helper", one)["value"],                                  # the one declared helper
    ]

def outside():
    return ask("helper", {"$": "list", "items": [1]})
"""
    with session_for(student) as s:
        s.start()
        s.helpers = {"helper": _times_ten}
        assert s.call("probe", (), {}, timeout=20) == ["HelperRefused"] * 9 + [10]
        assert s.helper_calls == {"helper": 1}
        s.helpers = {}  # outside a question's rerun, no helper is served
        assert s.call("outside", (), {}, timeout=10)["error"]["type"] == "HelperRefused"
        assert s.alive


@pytest.mark.parametrize("attack", [
    # Helper requests as fast as it can write them, never reading the answers: the pipe to the worker fills.
    """
def attack():
    inbox, outbox = pipes()
    request = json.dumps({"op": "helper", "name": "helper", "args": {"$": "list", "items": [1]},
                          "kwargs": {"$": "dict", "items": []}}).encode()
    while True:
        outbox.send_bytes(request)
""",
    # Half a message, then silence.
    """
def attack():
    inbox, outbox = pipes()
    import os
    os.write(outbox.fileno(), struct.pack("!i", 1000) + b'{"op": "hel')
    while True:
        time.sleep(1)
""",
    # A message larger than the grader reads.
    """
def attack():
    inbox, outbox = pipes()
    import os
    os.write(outbox.fileno(), struct.pack("!i", 2**31 - 1))
    while True:
        time.sleep(1)
""",
])
def test_a_worker_abusing_the_channel_cannot_hang_the_grader(attack):
    with session_for(RAW_PIPES + attack + "\ndef helper(x):\n    return x\n") as s:
        s.start()
        s.helpers = {"helper": lambda x: torch.zeros(10_000)}
        s.helper_grace = 2.0  # the time its code may wait on the grader: it moves the deadline, but only so far
        started = time.monotonic()
        with pytest.raises(WorkerLost):
            s.call("attack", (), {}, timeout=3.0)
        assert time.monotonic() - started < 15
        assert not s.alive and s.helper_granted <= 2.0


def test_a_stand_in_is_not_made_to_build_a_huge_result_in_the_grader():
    import quant_reference

    student = RAW_PIPES + """
import base64, math

def zeros(shape, dtype="float32"):
    size = {"float32": 4, "int8": 1}[dtype]
    data = base64.b64encode(bytes(size * math.prod(shape))).decode()
    return {"$": "tensor", "dtype": dtype, "shape": shape, "data": data}

def probe():
    long_thin = [zeros([20000, 1], "int8"), zeros([20000, 1]), zeros([20000])]
    outer = ask("w8_a16_forward", {"$": "list", "items": long_thin})
    fair = ask("w8_a16_forward", {"$": "list", "items": [zeros([4, 3], "int8"), zeros([2, 3]), zeros([4])]})
    return outer["error"]["type"], fair["value"]["shape"]

def w8_a16_forward(*args):
    return None
"""
    with session_for(student) as s:
        s.start()
        s.helpers = {"w8_a16_forward": quant_reference.w8_a16_forward}
        assert s.call("probe", (), {}, timeout=20) == ("HelperRefused", [2, 4])


def test_reaches_tells_which_helpers_a_function_can_reach_by_name():
    source = """
    import torch
    SCALE = 2.0
    def scale_of(t):
        return t.abs().max() / 127
    def codes(t):
        return torch.round(t / scale_of(t))
    def per_row(t):
        return torch.stack([codes(row) for row in t])
    def alone(t):
        return t * SCALE
    def inner(t):
        return (lambda r: scale_of(r))(t)
    class Maker:
        def __call__(self, t):
            return scale_of(t)
    def through_a_class(t):
        return Maker()(t)
    def given_a_class(t, maker):
        return maker()(t)
    from functools import partial
    halved = partial(alone, t=0.5)
    def through_a_partial(t):
        return halved()
    """
    helpers = ["scale_of", "codes"]
    with session_for(textwrap.dedent(source)) as s:
        s.start()
        assert s.reaches(["per_row"], helpers, timeout=10) == ["scale_of", "codes"]  # through codes
        assert s.reaches(["codes"], ["scale_of"], timeout=10) == ["scale_of"]
        assert s.reaches(["alone"], helpers, timeout=10) == []
        assert s.reaches(["inner"], helpers, timeout=10) == ["scale_of"]  # a lambda's code is followed
        assert s.reaches(["through_a_class"], helpers, timeout=10) == ["scale_of"]  # a named class is followed
        # What a test hands over is reached, and followed: the class Maker given to a function.
        assert s.reaches(["given_a_class"], helpers, timeout=10) == []
        assert s.reaches(["given_a_class", "Maker"], helpers, timeout=10) == ["scale_of"]
        assert s.reaches(["alone", "codes"], helpers, timeout=10) == ["scale_of", "codes"]
        assert s.reaches(["through_a_partial"], helpers, timeout=10) == helpers
