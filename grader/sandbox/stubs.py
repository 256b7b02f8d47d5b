"""Stand-ins for the student's helpers, in the student's process: each of their calls asks the grader.

Imported by worker.py from beside it; like the worker it imports nothing of the grader's but wire.py,
and nothing here is trusted by the grader. While the grader judges a question on its own logic
(grader/own_logic.py), a request names helpers, and each of those names in the student's namespace
is one of these stubs until the request is answered. The reference never comes here: a stub's call
is a request on the worker's pipes, `{"op": "helper", "name", ...}`, answered by the grader
(grader/sandbox/stand_ins.py) before the worker's own answer.

- A function. Its arguments cross as plain data and the answer is the reference's value, or what
  it raised, as the same builtin exception. A model among the arguments (a function that changes a
  model in place) crosses as a sketch, in "models": its tree of modules, which of them are
  `nn.Linear` and of what size, and each tensor's name, kind, dtype, shape and identity, never its
  values; a class among them (a layer class handed over) stays here. The grader runs the reference
  on a mirror of the sketch and answers with what it did, as steps: build class j with these
  arguments, put it into this module as this child, call its method with this tensor of the model.
  The stub replays them on the student's own model with the student's own class.
- A class (the course's layer, an `nn.Module`). Its instances keep their tensors here. Building one
  and each of its public methods is a request carrying the instance's tensors ("state"); the answer
  holds the tensors the reference changed and what it returned. Building one carries torch's random
  state too ("rng"), so this process draws the random numbers the reference draws.

Whatever cannot cross (a foreign value, a tensor not on the CPU, a model too odd to sketch) runs the
student's own helper instead, as it does when the grader answers {"own": ...}.
"""

from __future__ import annotations

import builtins

import torch
import wire  # beside this file

MESSAGE_LIMIT = 256 * 1024 * 1024
TEXT_LIMIT = 2000
#: A model of more modules than this is not sketched: the student's own helper runs.
MODULE_LIMIT = 10_000


class HelperError(Exception):
    """What the grader's reference helper raised, by type name (when no builtin exception has it)."""


class _Own(Exception):
    """The reference cannot stand in for this call: the student's own helper runs."""


class Grader:
    """The worker's pipes, for the requests a stub makes while the worker answers one of the grader's."""

    def __init__(self, inbox, outbox):
        self.inbox, self.outbox = inbox, outbox

    def ask(self, request: dict) -> dict:
        self.outbox.send_bytes(wire.dumps({"op": "helper", **request}))
        answer = wire.loads(self.inbox.recv_bytes(MESSAGE_LIMIT))
        if "own" in answer:
            raise _Own()
        if "error" in answer:
            error = dict(answer["error"])
            kind = getattr(builtins, str(error.get("type")), None)
            kind = kind if isinstance(kind, type) and issubclass(kind, Exception) else HelperError
            raise kind(str(error.get("message", ""))[:TEXT_LIMIT])
        return answer


def with_stand_ins(namespace: dict, request: dict, grader: Grader, answer):
    """`answer(namespace, request)` with the request's helpers standing in for the student's objects of the same names
    ("classes" maps a class helper to its public methods); the student's namespace is restored after."""
    names = [n for n in request.get("helpers") or () if type(n) is str and n.isidentifier()]
    classes = request.get("classes") if type(request.get("classes")) is dict else {}
    saved = {name: namespace[name] for name in names if name in namespace}
    for name in names:
        methods = classes.get(name)
        namespace[name] = (class_stub(name, methods, saved.get(name), grader) if type(methods) is list
                           else function_stub(name, saved.get(name), grader))
    try:
        return answer(namespace, request)
    finally:
        for name in names:
            if name in saved:
                namespace[name] = saved[name]
            else:
                namespace.pop(name, None)


# Functions ----------------------------------------------------------------------------------------

def function_stub(name: str, own, grader: Grader):
    """A function that asks the grader to run its reference of `name` on the arguments it is given."""

    def stub(*args, **kwargs):
        models, classes = [], []
        try:
            request = {"name": name, "args": _encoded(_slotted(list(args), models, classes)),
                       "kwargs": _encoded(_slotted(dict(kwargs), models, classes))}
            if not models and not classes:
                return wire.decode(grader.ask(request).get("value"))
            request["models"], modules = _sketch(models)
            return _replay(grader.ask(request), modules, classes)
        except _Own:
            return _own(name, own)(*args, **kwargs)

    stub.__name__ = stub.__qualname__ = name
    return stub


def _own(name: str, own):
    if own is None:
        raise NameError(f"name {name!r} is not defined")
    return own


def _slotted(value, models: list, classes: list):
    """`value` with each model and each class in it replaced by a `wire.Slot` naming its place."""
    if isinstance(value, torch.nn.Module):
        models.append(value)
        return wire.Slot("module", len(models) - 1)
    if isinstance(value, type):
        classes.append(value)
        return wire.Slot("class", len(classes) - 1)
    if type(value) in (list, tuple):
        return type(value)(_slotted(v, models, classes) for v in value)
    if type(value) is dict:
        return {k: _slotted(v, models, classes) for k, v in value.items()}
    return value


def _encoded(value):
    """`value` encoded, tensors of a subclass (a layer's `nn.Parameter` bias) as plain tensors of their
    data; `_Own` when anything in it cannot cross as plain data."""
    encoded = wire.encode(wire.as_plain_tensors(value))
    if not _plain(encoded):
        raise _Own()
    return encoded


def _plain(encoded) -> bool:
    """Whether an encoded value holds only plain data (nothing foreign, no student names)."""
    if type(encoded) is dict:
        if encoded.get("$") in ("foreign", "student"):
            return False
        return all(_plain(v) for v in encoded.get("items", ()))
    if type(encoded) is list:
        return all(_plain(v) for v in encoded)
    return True


# Models, sketched and changed by replaying the reference's steps -------------------------------------

def _sketch(models: list) -> tuple[dict, list]:
    """The models' modules as a flat table of nodes (a module shared by two parents is one node), and the
    modules by node number."""
    modules, numbers, nodes, tensors = [], {}, [], {}

    def number(module) -> int:
        if not isinstance(module, torch.nn.Module) or len(modules) >= MODULE_LIMIT:
            raise _Own()
        if id(module) not in numbers:
            numbers[id(module)] = len(modules)
            modules.append(module)
        return numbers[id(module)]

    try:
        roots = [number(model) for model in models]
        while len(nodes) < len(modules):
            nodes.append(_node(modules[len(nodes)], number, tensors))
    except _Own:
        raise
    except Exception:  # whatever an odd module does when looked at: the student's own helper runs
        raise _Own() from None
    return {"roots": roots, "nodes": nodes}, modules


def _node(module, number, tensors: dict) -> dict:
    linear = None
    if isinstance(module, torch.nn.Linear):
        linear = [module.in_features, module.out_features]
        if not all(type(n) is int for n in linear):
            raise _Own()
    entries = []
    for kind, table in (("parameter", module._parameters), ("buffer", module._buffers)):
        for name, tensor in table.items():
            entries.append([name, kind, *_tensor_entry(tensor, tensors),
                            name not in module._non_persistent_buffers_set])
    children = [[name, None if child is None else number(child)] for name, child in module._modules.items()]
    return {"linear": linear, "tensors": entries, "children": children}


def _tensor_entry(tensor, tensors: dict) -> list:
    """[dtype, shape, identity] of a module's tensor (identity: shared tensors share it); Nones for None."""
    if tensor is None:
        return [None, None, None]
    if not isinstance(tensor, torch.Tensor) or tensor.dtype not in wire._DTYPE_NAMES:
        raise _Own()
    tensors.setdefault(id(tensor), (len(tensors), tensor))  # kept alive, so identities stay unique
    return [wire._DTYPE_NAMES[tensor.dtype], list(tensor.shape), tensors[id(tensor)][0]]


def _replay(answer: dict, modules: list, classes: list):
    """Do to the student's models what the reference did to their mirror (see stand_ins.py for the steps)."""
    made = {}

    def value(encoded):
        ref = encoded.get("ref") if type(encoded) is dict and "$" not in encoded else None
        if ref == "module":
            return modules[encoded["node"]]
        if ref == "tensor":
            return getattr(modules[encoded["node"]], encoded["name"])
        if ref == "made":
            return made[encoded["id"]]
        if ref == "class":
            return classes[encoded["index"]]
        return wire.decode(encoded)

    def arguments(step):
        return [value(a) for a in step.get("args", [])], {k: value(a) for k, a in step.get("kwargs", {}).items()}

    for step in answer.get("steps", []):
        do = step["do"]
        if do == "new":
            args, kwargs = arguments(step)
            made[step["id"]] = classes[step["class"]](*args, **kwargs)
        elif do == "put":
            setattr(value(step["into"]), step["name"], value(step["value"]))
        elif do == "call":
            args, kwargs = arguments(step)
            getattr(made[step["on"]], step["method"])(*args, **kwargs)
        elif do == "set":
            setattr(made[step["on"]], step["name"], value(step["value"]))
    return value(answer.get("value"))


# Classes ------------------------------------------------------------------------------------------

def class_stub(name: str, methods: list, own, grader: Grader) -> type:
    """An `nn.Module` class whose building and public `methods` the grader's reference of `name` does."""

    class Stub(torch.nn.Module):
        def __new__(cls, *args, **kwargs):
            try:
                _encoded([args, kwargs])
            except _Own:
                return _own(name, own)(*args, **kwargs)
            if torch.get_default_device().type != "cpu":  # built on the meta device: the student's own class
                return _own(name, own)(*args, **kwargs)
            return super().__new__(cls)

        def __init__(self, *args, **kwargs):
            super().__init__()
            answer = grader.ask({"name": name, "method": "__init__", "args": _encoded(list(args)),
                                 "kwargs": _encoded(dict(kwargs)), "rng": wire.encode(torch.get_rng_state())})
            wire.change_module_state(self, wire.decode(answer["state"]))
            torch.set_rng_state(wire.decode(answer["rng"]))

    for method in methods:
        if type(method) is str and method.isidentifier() and not method.startswith("_"):
            setattr(Stub, method, _method(name, method, grader))
    Stub.__name__ = Stub.__qualname__ = name
    Stub.__module__ = "__main__"
    return Stub


def _method(name: str, method: str, grader: Grader):
    def call(self, *args, **kwargs):
        try:
            request = {"name": name, "method": method, "args": _encoded(list(args)),
                       "kwargs": _encoded(dict(kwargs)), "state": _encoded(wire.module_state(self))}
        except _Own:
            raise TypeError(f"{name}.{method} was given something the grader cannot pass on: "
                            "only tensors and plain values can be") from None
        answer = grader.ask(request)
        wire.change_module_state(self, wire.decode(answer["state"]))
        return wire.decode(answer.get("value"))

    call.__name__ = call.__qualname__ = method
    return call
