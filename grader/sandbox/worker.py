"""The worker: runs one student's code in its own process and answers calls as plain data.

Started by `session.WorkerSession` as `python -s -P worker.py IN_FD OUT_FD LIMITS`, with its
working directory set to a private scratch folder (inside the sandbox, see `bubblewrap.py`).
LIMITS is a JSON object of `resource.RLIMIT_*` names to values; the worker sets each as both its
soft and hard limit before it reads any request, so the student's code can never raise them.
It imports nothing from the grader but `wire.py` and `stubs.py` beside it. Requests and answers are
length-prefixed JSON messages on two pipes, so nothing the student prints can corrupt them. Its first
message, sent once it is capped and before any student code exists, is {"op": "hello"}: a worker that
dies or hangs before it failed through no fault of the student's (`isolation.SandboxFailed`).

    {"op": "run", "cells": [{"index", "source"}], "cell_timeout"} -> {"cells": [...], "names": {...}, "notes": [...]}
    {"op": "call", "name", "args", "kwargs", "cpu", "helpers"}    -> {"value": ...} or {"error": {...}}
    {"op": "inspect", "key", "args", "kwargs", "cpu", "helpers"}  -> {"value": ...} or {"error": {...}}
    {"op": "reaches", "names", "helpers"}                          -> {"value": [the helpers `names` can reach]}
    {"op": "exit"}

While it answers a `call` or an `inspect` whose "helpers" names some of the student's functions or
classes (the grader judging a question on its own logic, see grader/own_logic.py), each of those
names in the student's namespace is a stub (stubs.py) for the duration of the request; the
student's objects are put back afterwards. The reference never comes here: a stub's call is a
reverse request on the same pipes, which the grader answers before the worker's own answer:

    worker -> grader  {"op": "helper", "name", "args", "kwargs", ...}
    grader -> worker  {"value": ...} or {"error": {"type", "message"}} or {"own": ...}

The grader answers a helper request only for the helpers of the request it is waiting on, within
that request's time limit, and refuses every other one.

`inspect` runs one of quantlab's registered inspections (`quantlab.harness.REGISTRY`, imported
from the scratch copy) with the student's own objects in place of `wire.StudentName` tags, and
answers with its findings (see quantlab/harness.py).

Everything here runs in the student's process, so nothing here is trusted by the grader: the
grader only reads data from it, and enforces time limits from outside.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import random
import signal
import sys
import traceback
from multiprocessing.connection import Connection

if __name__ == "__main__" and not getattr(sys.flags, "safe_path", False):
    del sys.path[0]  # Python 3.10, started without -P (isolation.PYTHON_FLAGS): this file's folder
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stubs  # beside this file
import wire

# As in a kernel started beside the notebook: the scratch folder (with quantlab/) is importable,
# the grader's own folder is not.
sys.path[0] = os.getcwd()

import torch

MESSAGE_LIMIT = 256 * 1024 * 1024
TEXT_LIMIT = 2000
#: Cell magics whose body is ordinary Python and runs; every other cell magic is skipped.
RUN_CELL_MAGICS = {"time", "timeit", "capture", "prun"}
#: Line magics that do nothing useful outside a kernel; skipped without a note.
QUIET_LINE_MAGICS = {"matplotlib", "load_ext", "reload_ext", "autoreload", "config", "precision", "pylab"}


class CellTimeout(BaseException):
    """Raised inside a cell that runs past its time limit (a BaseException so `except Exception` misses it)."""


def _cut(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + " … (cut)"


class Shell:
    """Just enough of `get_ipython()` for the code IPython's input transformer writes."""

    def __init__(self, namespace: dict, notes: list):
        self.namespace = namespace
        self.notes = notes

    def _note(self, text: str) -> None:
        if len(self.notes) < 50:
            self.notes.append(_cut(text, 300))

    def system(self, command: str):
        self._note(f"Shell command `!{command}` was not run: the grader never runs shell commands.")

    def getoutput(self, command: str):
        self.system(command)
        return []

    def run_line_magic(self, name: str, line: str, _stack_depth: int = 1):
        name = name.lstrip("%")
        if name in ("time", "timeit"):
            exec(compile(line, "<magic>", "exec"), self.namespace)
        elif name not in QUIET_LINE_MAGICS:
            self._note(f"Magic `%{name} {line}` was not run.")

    def run_cell_magic(self, name: str, line: str, cell: str):
        if name in RUN_CELL_MAGICS:
            exec(compile(cell, "<magic>", "exec"), self.namespace)
        else:
            self._note(f"Cell magic `%%{name}` was not run; its cell was skipped.")

    def magic(self, line: str):
        name, _, rest = line.partition(" ")
        return self.run_line_magic(name, rest)


def _fresh_namespace(notes: list) -> dict:
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    shell = Shell(namespace, notes)
    namespace["get_ipython"] = lambda: shell
    try:
        from IPython.display import display
    except ImportError:  # the display of a result is not graded
        display = print
    namespace["display"] = display
    return namespace


def _seed() -> None:
    random.seed(0)
    # torch.manual_seed(0) seeds this same generator, and queues the seeding of accelerators this process
    # cannot have (each queued with a stack trace: milliseconds per call); the CPU stream is the same.
    torch.default_generator.manual_seed(0)
    try:
        import numpy

        numpy.random.seed(0)
    except ImportError:
        pass


def _on_alarm(signum, frame):
    raise CellTimeout()


def _error_of(error: BaseException, cell_index: int | None = None) -> dict:
    frames = traceback.extract_tb(error.__traceback__)
    student_frames = [f for f in frames if f.filename.startswith("<cell") or f.filename == "<magic>"]
    line = student_frames[-1].lineno if student_frames else None
    return {
        "type": type(error).__name__,
        "builtin": type(error).__module__ == "builtins",
        "message": _cut(str(error) if not isinstance(error, CellTimeout) else "the cell ran out of time"),
        "cell": cell_index,
        "line": line,
        "traceback": _cut("".join(traceback.format_list(student_frames[-3:]))),
    }


def _run_cells(namespace: dict, cells: list, cell_timeout: float) -> list:
    outcomes = []
    for cell in cells:
        index, source = cell["index"], cell["source"]
        outcome = {"index": index, "error": None}
        try:
            code = compile(source, f"<cell {index}>", "exec")
            signal.setitimer(signal.ITIMER_REAL, cell_timeout)
            try:
                exec(code, namespace)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except BaseException as error:  # a failing cell never stops later cells
            outcome["error"] = _error_of(error, index)
        outcomes.append(outcome)
        _close_figures()
    return outcomes


def _close_figures() -> None:
    if "matplotlib.pyplot" in sys.modules:
        try:
            sys.modules["matplotlib.pyplot"].close("all")
        except Exception:  # best effort: never fail a cell over closing figures
            pass


def _names(namespace: dict) -> dict:
    kinds = {}
    for name, value in list(namespace.items()):
        if name.startswith("_") or name in ("get_ipython", "display"):
            continue
        if isinstance(value, type):
            kinds[name] = "class"
        elif callable(value):
            kinds[name] = "function"
        if len(kinds) >= 500:
            break
    return kinds


def _call(namespace: dict, request: dict) -> dict:
    name = request.get("name")
    function = namespace.get(name)
    if function is None or not callable(function):
        return {"error": {"type": "NameError", "builtin": True, "message": f"name {name!r} is not defined",
                          "traceback": ""}}
    try:
        args = wire.decode(request.get("args", {"$": "list", "items": []}))
        kwargs = wire.decode(request.get("kwargs", {"$": "dict", "items": []}))
        value = function(*args, **kwargs)
        return {"value": wire.encode(value)}
    except BaseException as error:  # SystemExit and friends are the student's too
        return {"error": _error_of(error)}


def _reaches(namespace: dict, request: dict) -> dict:
    """Which of `helpers` the student's objects `names` (a question's function and what its tests are
    handed) can reach by name: themselves, what their code names, what the code of the student's
    functions and classes named there names, and so on. Anything without code of its own (a partial,
    a callable object) might reach any of them."""
    helpers = [h for h in request.get("helpers") or () if type(h) is str]
    names = [n for n in request.get("names") or () if type(n) is str][:100]
    found, seen, todo = set(names) & set(helpers), set(), names
    try:
        while todo and len(seen) < 1000:
            name = todo.pop()
            if type(name) is not str or name in seen or name not in namespace:
                continue
            seen.add(name)
            for code in _codes_of(namespace[name]):
                if code is None:
                    return {"value": wire.encode(helpers)}
                for named in _code_names(code):
                    found.update({named} & set(helpers))
                    todo.append(named)
    except Exception:  # whatever the student's objects do when looked at: assume every helper is reached
        return {"value": wire.encode(helpers)}
    return {"value": wire.encode(sorted(found))}


def _codes_of(value) -> list:
    """The code objects of a function, or of a class's methods; [None] for a callable with none we can
    read; [] for what cannot run (a module, a constant)."""
    if isinstance(value, type):
        members = [getattr(m, "__func__", m) for m in vars(value).values()]
        return [m.__code__ for m in members if hasattr(m, "__code__")]
    code = getattr(value, "__code__", None)
    return [code] if code is not None else [None] if callable(value) else []


def _code_names(code) -> set:
    """The global names a code object and the code nested in it (inner functions, lambdas) use."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if hasattr(constant, "co_names"):
            names |= _code_names(constant)
    return names


def _refused(message: str) -> dict:
    return {"error": {"type": "InspectionRefused", "builtin": False, "message": _cut(message), "traceback": ""}}


class _Undefined(Exception):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def _resolve(value, namespace: dict):
    """`value` with every StudentName replaced by the student's object of that name."""
    if isinstance(value, wire.StudentName):
        if value.name not in namespace or value.name.startswith("_"):
            raise _Undefined(value.name)
        return namespace[value.name]
    if type(value) in (list, tuple):
        return type(value)(_resolve(v, namespace) for v in value)
    if type(value) is dict:
        return {k: _resolve(v, namespace) for k, v in value.items()}
    return value


def _inspection(key) -> object:
    """The registered inspection `key` ("quantlab.<module>.<function>"), or None."""
    if type(key) is not str or not key.startswith("quantlab.") or key.count(".") < 2:
        return None
    module_name = key.rsplit(".", 1)[0]
    try:
        importlib.import_module(module_name)
        registry = importlib.import_module("quantlab.harness").REGISTRY
    except Exception:  # anything that does not import is refused alike
        return None
    return registry.get(key)


def _inspect(namespace: dict, request: dict) -> dict:
    key = request.get("key")
    inspection = _inspection(key)
    if inspection is None:
        return _refused(f"{str(key)[:200]!r} is not one of quantlab's inspections")
    try:
        args = wire.decode(request.get("args", {"$": "list", "items": []}))
        kwargs = wire.decode(request.get("kwargs", {"$": "dict", "items": []}))
        args, kwargs = _resolve(args, namespace), _resolve(kwargs, namespace)
    except _Undefined as missing:
        return {"error": {"type": "NameError", "builtin": True, "message": f"name {missing.name!r} is not defined",
                          "traceback": ""}, "missing": missing.name}
    except (wire.WireError, ValueError, TypeError) as error:
        return _refused(f"malformed arguments: {error}")
    try:
        return {"value": wire.encode(inspection(*args, **kwargs))}
    except BaseException as error:  # the student's code runs inside the inspection
        return {"error": _error_of(error)}


def _limit_cpu(request: dict, budget: dict) -> None:
    """The calls of one question (its `budget` tag) share `cpu` seconds: past them, SIGXCPU ends the worker."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    used = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    if request.get("op") in ("call", "inspect") and request.get("cpu"):
        tag = request.get("budget") or request.get("name") or request.get("key")
        if budget.get("tag") != tag:
            budget.update(tag=tag, start=used)
        soft = math.ceil(budget["start"] + float(request["cpu"]))
    else:
        soft = hard
    soft = max(soft, math.ceil(used) + 1)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def serve(inbox: Connection, outbox: Connection) -> None:
    cpu_budget: dict = {}
    grader = stubs.Grader(inbox, outbox)
    notes: list = []
    namespace = _fresh_namespace(notes)
    signal.signal(signal.SIGALRM, _on_alarm)
    while True:
        request = wire.loads(inbox.recv_bytes(MESSAGE_LIMIT))
        op = request.get("op")
        if op == "exit":
            return
        _limit_cpu(request, cpu_budget)
        if op == "run":
            _seed()
            cells = _run_cells(namespace, request["cells"], float(request.get("cell_timeout", 60)))
            answer = {"cells": cells, "names": _names(namespace), "notes": notes}
        elif op == "call":
            _seed()
            answer = stubs.with_stand_ins(namespace, request, grader, _call)
        elif op == "inspect":
            _seed()
            answer = stubs.with_stand_ins(namespace, request, grader, _inspect)
        elif op == "reaches":
            answer = _reaches(namespace, request)
        else:
            answer = {"error": {"type": "ProtocolError", "builtin": False, "message": f"unknown op {op!r}",
                                "traceback": ""}}
        try:
            payload = wire.dumps(answer)
        except (ValueError, TypeError, RecursionError) as error:
            payload = wire.dumps({"error": {"type": "EncodingError", "builtin": False, "message": _cut(str(error)),
                                            "traceback": ""}})
        outbox.send_bytes(payload)


def _mapped() -> int:
    """Bytes of address space this process maps now: torch's CPU build about 0.6 GiB, its CUDA build (what
    PyPI serves for Linux) 3 GiB, nearly all of it reserved and never touched."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def run(in_fd: int, out_fd: int, rlimits: dict) -> None:
    """Cap this process, then serve requests: the one way in, from `main` (cold) or a zygote's child (warm)."""
    import resource

    # Here rather than in a preexec_fn, which is unsafe while the grader runs threads.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for name, value in rlimits.items():
        if name == "AS":  # the student's share: beyond what Python and torch already map (limits.Limits.memory)
            value = int(value) + _mapped()
        resource.setrlimit(getattr(resource, f"RLIMIT_{name}"), (int(value), int(value)))
    inbox = Connection(in_fd, writable=False)
    outbox = Connection(out_fd, readable=False)
    # What the student prints goes nowhere: the report shows verdicts, not console noise. Until here fd 2
    # was the grader's start-up log, which must hold nothing of the student's.
    silence = os.open(os.devnull, os.O_WRONLY)
    os.dup2(silence, 1)
    os.dup2(silence, 2)
    os.close(silence)
    sys.stdout = open(os.devnull, "w")
    sys.stderr = sys.stdout
    os.environ.setdefault("MPLBACKEND", "Agg")
    outbox.send_bytes(wire.dumps({"op": "hello"}))  # started: from here on, what fails is the student's code's
    serve(inbox, outbox)


def main() -> None:
    run(int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3] if len(sys.argv) > 3 else "{}"))


if __name__ == "__main__":
    main()
