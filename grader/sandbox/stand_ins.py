"""The grader's end of the helpers' stand-ins: the reference runs here, for the stubs in the student's process.

A stub (stubs.py, in the worker) asks for one of three things, and every answer is plain data:

- **A function's value** on plain-data arguments, or what it raised.
- **What a function did to a model** (the course's in-place replacements, a model's footprint). It
  runs on a mirror of the student's model built from the stub's sketch on the meta device (the
  modules, their `nn.Linear` sizes, their tensors' shapes, dtypes and sharing; no values), with a
  recording class in place of each class it was handed. What it does to the mirror comes back as
  steps, which the stub replays on the student's own model with the student's own classes:

      {"do": "new", "id", "class", "args", "kwargs"}    build the class handed over at `class`
      {"do": "put", "into", "name", "value"}            set a child of one of the model's modules
      {"do": "call", "on", "method", "args", "kwargs"}  call a method of what "new" built
      {"do": "set", "on", "name", "value"}              set an attribute of what "new" built

  A value in a step is plain data or one of the student's own objects: {"ref": "module", "node"},
  {"ref": "tensor", "node", "name"} (a tensor of the model as it was before the call),
  {"ref": "made", "id"}, {"ref": "class", "index"}. A reference that does anything else (changes
  a tensor, needs its values, registers a buffer) cannot stand in: the answer is {"own": ...}, and
  the student's own function runs, as it would have without stand-ins.
- **A class's building, or one of its public methods**, on a layer rebuilt from the tensors the
  stub sent; the answer holds the tensors the reference changed and what the method returned.
  Building draws from torch's global generator set to the student's process's state, under a lock,
  and sends the state after back (quantlab's inspections draw from generators of their own).

What the worker sends is checked before anything runs on it: plain data only, how much a
reference would build (by a dry run on the meta device), the size of a sketch, the names in it.
A request that fails a check is refused with `REFUSED`, which the student's code sees raised.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import torch
from torch import nn

from grader.sandbox import wire

REFUSED = "HelperRefused"
#: A sketch of more modules or tensors than these is refused.
MODULE_LIMIT = 10_000
TENSOR_LIMIT = 100_000
#: The most elements a class stand-in may build, in all its tensors.
STATE_LIMIT = 20_000_000
_GLOBAL_GENERATOR = threading.Lock()


def answer(reference, message: dict) -> tuple[dict, bool]:
    """The answer to a helper request for `reference`, and whether the reference stood in (ran)."""
    try:
        args, kwargs = wire.decode(message.get("args")), wire.decode(message.get("kwargs"))
    except (ValueError, TypeError, RecursionError) as error:
        return refusal(f"malformed arguments ({error})"), False
    if type(args) is not list or type(kwargs) is not dict or not all(type(k) is str for k in kwargs):
        return refusal("malformed arguments"), False
    if isinstance(reference, type):
        return _class_answer(reference, message, args, kwargs)
    if "models" in message:
        return _mirror_answer(reference, message.get("models"), args, kwargs)
    return _function_answer(reference, args, kwargs)


def refusal(message: str) -> dict:
    return {"error": {"type": REFUSED, "message": message}}


def public_methods(cls: type) -> list[str]:
    """The methods a class stand-in's stub forwards: those the reference class defines, not nn.Module's."""
    return sorted(name for name, value in vars(cls).items() if callable(value) and not name.startswith("_"))


def _raised(error: Exception) -> dict:
    """What the reference raised is what the student's code sees."""
    return {"error": {"type": type(error).__name__, "message": str(error)[:500]}}


def _returned(value) -> dict:
    encoded = wire.encode(wire.as_plain_tensors(value))
    if not _plain_data(wire.decode(encoded)):  # never describe a reference's object to the student's process
        return refusal("the reference returned something that cannot cross as plain data")
    return {"value": encoded}


# Functions on plain data ---------------------------------------------------------------------------

def _function_answer(reference: Callable, args: list, kwargs: dict) -> tuple[dict, bool]:
    if not _plain_data([args, kwargs]):
        return refusal("the arguments must be plain values"), False
    if _broadcasts_beyond(list(args) + list(kwargs.values())):
        return refusal("the arguments' shapes broadcast to more values than any of them holds"), False
    if _builds_too_much(lambda a, k: reference(*a, **k), args, kwargs):
        return refusal("the arguments' shapes ask for a result far larger than they are"), False
    try:
        return _returned(reference(*args, **kwargs)), True
    except Exception as error:
        return _raised(error), True


def _plain_data(value, *, slots: bool = False) -> bool:
    if isinstance(value, (wire.Foreign, wire.StudentName)) or (isinstance(value, wire.Slot) and not slots):
        return False
    if type(value) in (list, tuple):
        return all(_plain_data(v, slots=slots) for v in value)
    if type(value) is dict:
        return all(_plain_data(k, slots=slots) and _plain_data(v, slots=slots) for k, v in value.items())
    return True


def _tensors(value) -> list:
    if type(value) in (list, tuple):
        return [t for v in value for t in _tensors(v)]
    if type(value) is dict:
        return [t for v in value.values() for t in _tensors(v)]
    return [value] if isinstance(value, torch.Tensor) else []


def _on_meta(value):
    if isinstance(value, torch.Tensor):
        return value.to("meta")
    if type(value) in (list, tuple):
        return type(value)(_on_meta(v) for v in value)
    if type(value) is dict:
        return {k: _on_meta(v) for k, v in value.items()}
    return value


def _builds_too_much(run: Callable, args, kwargs, *, at_least: int = 2) -> bool:
    """Whether a dry run of `run(args, kwargs)` on meta tensors (shapes, no data) returns far more values than
    it was given (a matrix product made an outer product, say). A reference that looks at the data fails the
    dry run; its work is elementwise, bounded by `_broadcasts_beyond`."""
    tensors = _tensors([args, kwargs])
    if len(tensors) < at_least:  # one tensor's elementwise or reducing work: nothing to multiply out
        return False
    given = sum(t.numel() for t in tensors)
    try:
        result = run(_on_meta(args), _on_meta(kwargs))
    except Exception:
        return False
    return sum(t.numel() for t in _tensors([result])) > 4 * given + 1_000_000


def _broadcasts_beyond(values: list) -> bool:
    """Whether the tensors among `values` broadcast together to more elements than the largest of them:
    a reference stand-in must not be made to build a huge tensor in the grader from small arguments."""
    tensors = _tensors(values)
    if len(tensors) < 2:
        return False
    try:
        shape = torch.broadcast_shapes(*(t.shape for t in tensors))
    except RuntimeError:  # they do not broadcast: an elementwise reference refuses them itself
        return False
    return math.prod(shape) > max(t.numel() for t in tensors)


# Classes: a layer rebuilt from the student's tensors --------------------------------------------------

def _class_answer(cls: type, message: dict, args: list, kwargs: dict) -> tuple[dict, bool]:
    method = message.get("method")
    if not _plain_data([args, kwargs]):
        return refusal("the arguments must be plain values"), False
    if method == "__init__":
        return _build(cls, message.get("rng"), args, kwargs)
    if type(method) is not str or method not in public_methods(cls):
        return refusal(f"{str(method)[:100]!r} is not a method the grader runs for your code here"), False
    try:
        state = _state(message.get("state"))
        layer = _layer(cls, state)
    except (ValueError, TypeError, KeyError, RuntimeError, RecursionError) as error:
        return refusal(f"malformed layer ({error})"), False

    def dry_run(meta, meta_kwargs):  # the method on a layer of meta tensors, and the layer's tensors after
        meta_args, meta_state = meta
        meta_layer = _layer(cls, meta_state)
        return getattr(meta_layer, method)(*meta_args, **meta_kwargs), wire.module_state(meta_layer)

    if _builds_too_much(dry_run, [args, state], kwargs, at_least=1):
        return refusal("the layer's shapes ask for a result far larger than they are"), False
    before = _entries(layer)
    try:
        value = getattr(layer, method)(*args, **kwargs)
    except Exception as error:
        return _raised(error), True
    returned = _returned(value)
    if "value" in returned:
        returned["state"] = wire.encode(wire.as_plain_tensors(_changes(before, _entries(layer))))
    return returned, True


def _build(cls: type, rng, args: list, kwargs: dict) -> tuple[dict, bool]:
    try:
        rng = wire.decode(rng)
    except (ValueError, TypeError, RecursionError):
        rng = None
    if not isinstance(rng, torch.Tensor) or rng.dtype != torch.uint8 or rng.shape != torch.get_rng_state().shape:
        return refusal("malformed random state"), False
    try:
        with torch.device("meta"):
            built = sum(t.numel() for t in _tensors(wire.module_state(cls(*args, **kwargs))))
    except Exception:  # it raises for real below, or builds nothing that needs bounding
        built = 0
    if built > STATE_LIMIT:
        return refusal("the arguments ask for a layer far larger than any the grader builds"), False
    with _GLOBAL_GENERATOR, torch.random.fork_rng(devices=[]):
        try:
            torch.set_rng_state(rng)
            layer = cls(*args, **kwargs)
        except Exception as error:
            return _raised(error), True
        rng = torch.get_rng_state()
    state = wire.as_plain_tensors(wire.module_state(layer))
    return {"value": None, "state": wire.encode(state), "rng": wire.encode(rng)}, True


def _state(state) -> dict:
    """The layer state the stub sent (`wire.module_state`'s layout), decoded and checked."""
    state = wire.decode(state)
    if type(state) is not dict or not set(state) <= {"buffers", "parameters", "attributes"}:
        raise ValueError("not a layer's state")
    widths = {"buffers": 3, "parameters": 3, "attributes": 2}
    for kind, entries in state.items():
        if type(entries) is not list or len(entries) > 1000:
            raise ValueError(f"malformed {kind}")
        for entry in entries:
            if type(entry) is not list or len(entry) != widths[kind] or not _entry_name(entry[0]):
                raise ValueError(f"malformed {kind}")
            if kind != "attributes" and not (entry[1] is None or type(entry[1]) is torch.Tensor):
                raise ValueError(f"malformed {kind}")
            if kind == "attributes" and not isinstance(entry[1], (type(None), bool, int, float, str, torch.dtype)):
                raise ValueError("malformed attributes")
    return state


def _entry_name(name) -> bool:
    return type(name) is str and name.isidentifier() and not name.startswith("_") and name != "training"


def _layer(cls: type, state: dict) -> nn.Module:
    """An instance of the reference class holding `state`, built without its `__init__`."""
    layer = cls.__new__(cls)
    nn.Module.__init__(layer)
    wire.change_module_state(layer, state)
    return layer


def _entries(layer: nn.Module) -> dict:
    return {entry[0]: (kind, entry) for kind, entries in wire.module_state(layer).items() for entry in entries}


def _changes(before: dict, after: dict) -> dict:
    """The entries of `after` that are not those of `before` (by identity, for tensors), and the removed names."""
    changes = {"buffers": [], "parameters": [], "attributes": [], "removed": [n for n in before if n not in after]}
    for name, (kind, entry) in after.items():
        old_kind, old = before.get(name, (None, None))
        if old_kind != kind or not _same(old[1], entry[1]) or old[2:] != entry[2:]:
            changes[kind].append(entry)
    return changes


def _same(a, b) -> bool:
    return a is b or (not isinstance(a, torch.Tensor) and type(a) is type(b) and a == b)


# Functions on models: the reference runs on a mirror, and what it did comes back as steps ---------------

class _CannotStandIn(Exception):
    """The reference did something to the mirror that steps cannot say."""


class _Malformed(ValueError):
    """The sketch is not one stubs.py writes."""


class _Mirror(nn.Module):
    """One module of the student's model, as the sketch tells it; once recording, its children's changes are
    steps and any other change cannot stand in."""

    def __setattr__(self, name, value):
        recording = self.__dict__.get("_recording")
        if recording is not None:
            recording.put(self, name, value)
        super().__setattr__(name, value)

    def __delattr__(self, name):
        if self.__dict__.get("_recording") is not None:
            raise _CannotStandIn(f"deletes {name}")
        super().__delattr__(name)

    def _frozen(self):
        if self.__dict__.get("_recording") is not None:
            raise _CannotStandIn("registers a tensor or module")

    def register_buffer(self, *args, **kwargs):
        self._frozen()
        super().register_buffer(*args, **kwargs)

    def register_parameter(self, *args, **kwargs):
        self._frozen()
        super().register_parameter(*args, **kwargs)

    def add_module(self, *args, **kwargs):
        self._frozen()
        super().add_module(*args, **kwargs)

    register_module = add_module


class _MirrorLinear(_Mirror, nn.Linear):
    """An `nn.Linear` of the student's model (a mirror must pass the reference's isinstance checks)."""


class _Made(nn.Module):
    """What the reference built from a class it was handed: its building, method calls and attribute sets
    are steps; anything it returns is None."""

    _slot = 0
    _recording = None

    def __init__(self, *args, **kwargs):
        super().__init__()
        number = type(self)._recording.new(self, type(self)._slot, args, kwargs)
        object.__setattr__(self, "_made", number)

    def __setattr__(self, name, value):
        if "_made" not in self.__dict__:
            return super().__setattr__(name, value)
        type(self)._recording.step({"do": "set", "on": self._made, "name": name, "value": value})

    def __getattr__(self, name):
        if name.startswith("_") or "_made" not in self.__dict__:
            raise AttributeError(name)
        recording, number = type(self)._recording, self._made

        def method(*args, **kwargs):
            recording.step({"do": "call", "on": number, "method": name, "args": list(args), "kwargs": kwargs})

        return method


class _Recording:
    """The steps of what a reference does to a mirror, with every value in them a reference or plain data."""

    def __init__(self, nodes: list[nn.Module], tensors: dict[int, tuple[int, str]]):
        self.nodes = {id(module): number for number, module in enumerate(nodes)}
        self.tensors = tensors
        self.made: dict[int, int] = {}
        self.kept: list = []
        self.steps: list[dict] = []

    def made_class(self, slot: int) -> type:
        return type("Made", (_Made,), {"_slot": slot, "_recording": self})

    def new(self, made: nn.Module, slot: int, args, kwargs) -> int:
        number = self.made[id(made)] = len(self.made)
        self.kept.append(made)
        self.step({"do": "new", "id": number, "class": slot, "args": list(args), "kwargs": kwargs})
        return number

    def put(self, parent: nn.Module, name, value) -> None:
        if not (value is None or isinstance(value, nn.Module)) or type(name) is not str:
            raise _CannotStandIn(f"sets {name!r} to something other than a module")
        self.step({"do": "put", "into": parent, "name": name, "value": value})

    def step(self, step: dict) -> None:
        fields = {key: self.ref(value) for key, value in step.items() if key in ("into", "value")}
        if "args" in step:
            fields["args"] = [self.ref(a) for a in step["args"]]
            fields["kwargs"] = {str(k): self.ref(v) for k, v in step["kwargs"].items()}
        self.steps.append({**step, **fields})

    def ref(self, value):
        if isinstance(value, _Made):
            return {"ref": "made", "id": self.made[id(value)]}
        if isinstance(value, nn.Module) and id(value) in self.nodes:
            return {"ref": "module", "node": self.nodes[id(value)]}
        if isinstance(value, torch.Tensor) and id(value) in self.tensors:
            node, name = self.tensors[id(value)]
            return {"ref": "tensor", "node": node, "name": name}
        if isinstance(value, type) and issubclass(value, _Made):
            return {"ref": "class", "index": value._slot}
        if isinstance(value, (nn.Module, type)) or any(t.is_meta for t in _tensors([value])):
            raise _CannotStandIn("uses a value the student's process does not have")
        encoded = wire.encode(wire.as_plain_tensors(value))
        if not _plain_data(wire.decode(encoded)):
            raise _CannotStandIn("uses a value that cannot cross as plain data")
        return encoded


def _mirror_answer(reference: Callable, sketch, args: list, kwargs: dict) -> tuple[dict, bool]:
    if not _plain_data([args, kwargs], slots=True):
        return refusal("the arguments must be plain values, models and classes"), False
    try:
        roots, nodes, tensors = _mirror(sketch)
    except (_Malformed, ValueError, TypeError, RuntimeError, KeyError) as error:
        return refusal(f"malformed model sketch ({error})"), False
    recording = _Recording(nodes, tensors)
    classes: dict[int, type] = {}

    def unslotted(value):
        if isinstance(value, wire.Slot):
            if value.kind == "class":
                return classes.setdefault(value.index, recording.made_class(value.index))
            if value.index >= len(roots):
                raise _Malformed("a model the sketch does not hold")
            return roots[value.index]
        if type(value) in (list, tuple):
            return type(value)(unslotted(v) for v in value)
        if type(value) is dict:
            return {k: unslotted(v) for k, v in value.items()}
        return value

    try:
        args, kwargs = unslotted(args), unslotted(kwargs)
    except _Malformed as error:
        return refusal(f"malformed model sketch ({error})"), False
    for module in nodes:
        object.__setattr__(module, "_recording", recording)
    before = _looks(nodes)
    try:
        value = recording.ref(reference(*args, **kwargs))
        if _looks(nodes) != before:
            raise _CannotStandIn("changes a tensor of the model")
    except Exception as error:  # it needs more than the mirror holds, or does what steps cannot say
        return {"own": f"{type(error).__name__}: {str(error)[:200]}"}, False
    return {"steps": recording.steps, "value": value}, True


def _looks(nodes: list[nn.Module]) -> list:
    """What changing a tensor of the mirror changes: its identity, version (in-place work), shape, dtype, device."""
    return [(id(t), t._version, t.shape, t.dtype, t.device) if t is not None else None
            for module in nodes for table in (module._parameters, module._buffers) for t in table.values()]


def _mirror(sketch) -> tuple[list[nn.Module], list[nn.Module], dict[int, tuple[int, str]]]:
    """(the roots, every module by node number, each tensor's first (node, name) by its identity) of the
    mirror of `sketch`, on the meta device."""
    if type(sketch) is not dict or type(sketch.get("nodes")) is not list or type(sketch.get("roots")) is not list:
        raise _Malformed("not a sketch")
    entries = sketch["nodes"]
    if not 0 < len(entries) <= MODULE_LIMIT or sum(_count(e, "tensors") for e in entries) > TENSOR_LIMIT:
        raise _Malformed("too many modules or tensors")
    nodes = [_mirror_module(entry) for entry in entries]
    made: dict = {}
    tensors: dict[int, tuple[int, str]] = {}
    for number, (module, entry) in enumerate(zip(nodes, entries, strict=True)):
        for name, kind, dtype, shape, identity, persistent in entry["tensors"]:
            tensor = _mirror_tensor(made, kind, dtype, shape, identity)
            table = module._parameters if kind == "parameter" else module._buffers
            table[name] = tensor
            if kind == "buffer" and persistent is False:
                module._non_persistent_buffers_set.add(name)
            if tensor is not None:
                tensors.setdefault(id(tensor), (number, name))
        for name, child in entry["children"]:
            module._modules[name] = None if child is None else nodes[_index(child, len(nodes))]
    roots = [nodes[_index(root, len(nodes))] for root in sketch["roots"]]
    return roots, nodes, tensors


def _count(entry, key: str) -> int:
    return len(entry.get(key)) if type(entry) is dict and type(entry.get(key)) is list else 0


def _index(number, size: int) -> int:
    if type(number) is not int or not 0 <= number < size:
        raise _Malformed("a node the sketch does not hold")
    return number


def _mirror_module(entry) -> nn.Module:
    if type(entry) is not dict or type(entry.get("tensors")) is not list or type(entry.get("children")) is not list:
        raise _Malformed("not a module")
    for tensor in entry["tensors"]:
        if type(tensor) is not list or len(tensor) != 6 or not _child_name(tensor[0]) \
                or tensor[1] not in ("parameter", "buffer"):
            raise _Malformed("not a module's tensor")
    for child in entry["children"]:
        if type(child) is not list or len(child) != 2 or not _child_name(child[0]):
            raise _Malformed("not a module's child")
    linear = entry.get("linear")
    if linear is not None and not (type(linear) is list and len(linear) == 2
                                   and all(type(n) is int and n >= 0 for n in linear)):
        raise _Malformed("not a Linear's sizes")
    kind = _MirrorLinear if linear is not None else _Mirror
    module = kind.__new__(kind)
    nn.Module.__init__(module)
    if linear is not None:
        module.in_features, module.out_features = linear
    return module


def _child_name(name) -> bool:
    return type(name) is str and 0 < len(name) <= 200 and "." not in name


def _mirror_tensor(made: dict, kind: str, dtype, shape, identity):
    if dtype is None:
        return None
    if dtype not in wire.DTYPES or type(shape) is not list or len(shape) > 8 \
            or not all(type(n) is int and 0 <= n < 2**40 for n in shape) or type(identity) is not int:
        raise _Malformed("not a tensor's dtype and shape")
    if identity not in made:
        made[identity] = torch.empty(shape, dtype=wire.DTYPES[dtype], device="meta")
    tensor = made[identity]
    if kind == "parameter" and not isinstance(tensor, nn.Parameter):
        tensor = made[identity] = nn.Parameter(tensor, requires_grad=False)
    return tensor
