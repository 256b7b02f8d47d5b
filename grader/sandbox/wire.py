"""Values as plain JSON data, so nothing the student's process sends is ever unpickled.

Used on both sides of the worker pipe, and imported by the worker by file path: it depends on
the standard library and torch only.

Python's None, bool, int, float and str travel as themselves (JSON keeps 3 and 3.0 apart and
allows NaN). Everything else is an object with a "$" kind: plain tensors carry dtype, shape and
their raw bytes, "bytes" (or "data", the same base64-encoded; a tensor subclass is foreign);
tuples, lists and dicts carry their items; torch dtypes
their name. Anything else is described, never rebuilt: `{"$": "foreign", "type": ..., "repr": ...}`.
A `StudentName` names an object of the student's program (a class, a function) in a request,
`{"$": "student", "name": ...}`: the worker puts the object itself in its place. A `Slot` marks an
argument of a helper's stand-in that stays in the student's process, a model or a class, by its place
in the request, `{"$": "slot", "kind": "module" or "class", "index": ...}` (see stubs.py).
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass

import torch

#: dtypes that may cross; anything else is described as foreign.
DTYPES = {
    name: getattr(torch, name)
    for name in (
        "bool", "uint8", "int8", "int16", "int32", "int64",
        "float16", "bfloat16", "float32", "float64",
    )
}
_DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}
#: Bounds on what one message may hold: larger results are refused, not truncated.
MAX_ELEMENTS = 50_000_000
MAX_DEPTH = 20
REPR_LIMIT = 300


class WireError(ValueError):
    """Data that does not follow the format (never raised for well-formed foreign values)."""


@dataclass(frozen=True)
class Foreign:
    """Stands in for a value that may not cross as itself (numpy arrays, tensor subclasses, ...).

    `quantlab.checks` names `type` in its messages, as if it were the value's own type.
    """

    describes_foreign_value = True

    type: str
    repr: str

    def __repr__(self) -> str:
        return f"<{self.type}: {self.repr}>"

    def __getattr__(self, name: str):
        # A test that uses the value before checking its type: say what the student returned, as
        # their own kernel would, not the stand-in's class.
        raise AttributeError(f"'{self.type}' object has no attribute {name!r}")


@dataclass(frozen=True)
class StudentName:
    """Stands for the student's own object called `name` (the worker resolves it in its namespace)."""

    name: str


@dataclass(frozen=True)
class Slot:
    """Stands for the student's model or class at `index` among a stand-in request's models or classes."""

    kind: str
    index: int


def _type_name(value) -> str:
    cls = type(value)
    module = getattr(cls, "__module__", None) or ""
    qualname = getattr(cls, "__qualname__", None) or cls.__name__
    return qualname if module == "builtins" else f"{module}.{qualname}"


def _safe_repr(value) -> str:
    try:
        text = repr(value)
    except BaseException:  # a hostile __repr__ must not break encoding
        text = "<repr failed>"
    if not isinstance(text, str):
        text = "<repr failed>"
    return text if len(text) <= REPR_LIMIT else text[:REPR_LIMIT] + "…"


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    flat = tensor.detach().cpu().contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""


def encode(value, _depth: int = 0):
    """A JSON-ready form of `value`."""
    if _depth > MAX_DEPTH:
        return {"$": "foreign", "type": "too deeply nested", "repr": ""}
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value
    if kind is torch.Tensor and value.layout == torch.strided and value.dtype in _DTYPE_NAMES:
        return {"$": "tensor", "dtype": _DTYPE_NAMES[value.dtype], "shape": list(value.shape),
                "bytes": _tensor_bytes(value)}
    if isinstance(value, torch.dtype) and value in _DTYPE_NAMES:
        return {"$": "dtype", "name": _DTYPE_NAMES[value]}
    if kind is StudentName:
        return {"$": "student", "name": value.name}
    if kind is Slot:
        return {"$": "slot", "kind": value.kind, "index": value.index}
    if kind in (tuple, list):
        return {"$": kind.__name__, "items": [encode(v, _depth + 1) for v in value]}
    if kind is dict:
        return {"$": "dict", "items": [[encode(k, _depth + 1), encode(v, _depth + 1)] for k, v in value.items()]}
    if kind is torch.Tensor:  # a dtype or layout that does not cross (qint8, sparse, ...)
        return {"$": "foreign", "type": f"torch.Tensor of dtype {value.dtype} ({value.layout})", "repr": ""}
    return {"$": "foreign", "type": _type_name(value), "repr": _safe_repr(value)}


def _decode_tensor(data: dict) -> torch.Tensor | Foreign:
    dtype = DTYPES.get(data.get("dtype"))
    shape = data.get("shape")
    if dtype is None or not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise WireError("malformed tensor")
    count = math.prod(shape)
    if count > MAX_ELEMENTS:
        raise WireError("tensor too large")
    raw = data.get("bytes")
    if not isinstance(raw, (bytes, memoryview)):
        raw = base64.b64decode(data.get("data", ""), validate=True)
    itemsize = torch.empty((), dtype=dtype).element_size()
    if len(raw) != count * itemsize:
        raise WireError("tensor data does not match its shape")
    if count == 0:
        return torch.empty(shape, dtype=dtype)
    return torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(dtype).reshape(shape)  # it owns the copy


def decode(data, _depth: int = 0):
    """Rebuild a value from `encode`'s form; only plain types are ever constructed."""
    if _depth > MAX_DEPTH:
        raise WireError("too deeply nested")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is not dict or "$" not in data:
        raise WireError("unexpected value")
    kind = data["$"]
    if kind == "tensor":
        return _decode_tensor(data)
    if kind == "dtype":
        if data.get("name") not in DTYPES:
            raise WireError("unknown dtype")
        return DTYPES[data["name"]]
    if kind in ("tuple", "list"):
        items = [decode(v, _depth + 1) for v in data.get("items", [])]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict":
        return {decode(k, _depth + 1): decode(v, _depth + 1) for k, v in data.get("items", [])}
    if kind == "student":
        name = data.get("name")
        if type(name) is not str or not name.isidentifier():
            raise WireError("malformed student name")
        return StudentName(name)
    if kind == "slot":
        if data.get("kind") not in ("module", "class") or type(data.get("index")) is not int or data["index"] < 0:
            raise WireError("malformed slot")
        return Slot(data["kind"], data["index"])
    if kind == "foreign":
        return Foreign(type=str(data.get("type", "?"))[:200], repr=str(data.get("repr", ""))[:REPR_LIMIT + 1])
    raise WireError(f"unknown kind {kind!r}")


#: A message is JSON, or, when it carries raw bytes (a tensor's), a frame: this mark, the JSON's length (8
#: bytes, big-endian), the JSON, then the bytes, each named in the JSON by {"$bytes": [offset, length]} into
#: what follows the JSON. So tensors cross as themselves, not as base64 inside a JSON string.
FRAME = b"\x00wire-frame\x00"
_LENGTH = 8


def dumps(message: dict) -> bytes:
    blobs: list[bytes] = []
    size = 0

    def out_of_band(value):
        nonlocal size
        if type(value) is not bytes:
            raise TypeError(f"{type(value).__name__} is not JSON serializable")
        blobs.append(value)
        size += len(value)
        return {"$bytes": [size - len(value), len(value)]}

    text = json.dumps(message, allow_nan=True, separators=(",", ":"), default=out_of_band).encode("utf-8")
    if not blobs:
        return text
    return b"".join([FRAME, len(text).to_bytes(_LENGTH, "big"), text, *blobs])


def loads(raw: bytes) -> dict:
    body = None
    if raw.startswith(FRAME):
        start = len(FRAME) + _LENGTH
        end = start + int.from_bytes(raw[len(FRAME):start], "big")
        if end > len(raw):
            raise WireError("a frame shorter than its JSON")
        raw, body = raw[start:end], memoryview(raw)[end:]
    try:
        message = json.loads(raw.decode("utf-8"), object_hook=None if body is None else _bytes_in(body))
    except RecursionError:  # hand-written bytes on the pipe, nested past what json can parse
        raise WireError("nested too deeply") from None
    if type(message) is not dict:
        raise WireError("a message must be an object")
    return message


def _bytes_in(body: memoryview):
    """A JSON object hook that puts the frame's bytes in place of {"$bytes": [offset, length]}."""

    def hook(item: dict):
        where = item.get("$bytes")
        if where is None or len(item) != 1:
            return item
        if type(where) is not list or len(where) != 2 or not all(type(n) is int and n >= 0 for n in where) \
                or where[0] + where[1] > len(body):
            raise WireError("bytes outside the frame")
        return body[where[0]:where[0] + where[1]]

    return hook


def as_plain_tensors(value):
    """`value` with every tensor of a subclass (an `nn.Parameter`: a layer's bias) as the plain tensor of its
    data, inside lists, tuples and dicts too."""
    if isinstance(value, torch.Tensor) and type(value) is not torch.Tensor:
        return value.detach().as_subclass(torch.Tensor)
    if type(value) in (list, tuple):
        return type(value)(as_plain_tensors(v) for v in value)
    if type(value) is dict:
        return {k: as_plain_tensors(v) for k, v in value.items()}
    return value


# A layer's own tensors, as a class stand-in sends them and the reference changes them (stubs.py) ----

_PLAIN_ATTRIBUTES = (type(None), bool, int, float, str, torch.dtype)


def module_state(module: torch.nn.Module) -> dict:
    """A module's own buffers, parameters and plain attributes (not its children's), by kind."""
    return {
        "buffers": [[name, tensor, name not in module._non_persistent_buffers_set]
                    for name, tensor in module._buffers.items()],
        "parameters": [[name, tensor, bool(tensor is not None and tensor.requires_grad)]
                       for name, tensor in module._parameters.items()],
        "attributes": [[name, value] for name, value in vars(module).items()
                       if not name.startswith("_") and name != "training" and isinstance(value, _PLAIN_ATTRIBUTES)],
    }


def change_module_state(module: torch.nn.Module, state: dict) -> None:
    """Give `module` the entries of `state` (as `module_state` lays them out), each under its kind,
    and forget the names under "removed"."""
    for name in state.get("removed", ()):
        _forget(module, name)
    for name, tensor, persistent in state.get("buffers", ()):
        _forget(module, name)
        module.register_buffer(name, tensor, persistent=bool(persistent))
    for name, tensor, requires_grad in state.get("parameters", ()):
        _forget(module, name)
        if tensor is not None:
            tensor = torch.nn.Parameter(tensor, requires_grad=bool(requires_grad) and tensor.is_floating_point())
        module.register_parameter(name, tensor)
    for name, value in state.get("attributes", ()):
        _forget(module, name)
        setattr(module, name, value)


def _forget(module: torch.nn.Module, name) -> None:
    if type(name) is not str:
        raise WireError("a module's entry must have a name")
    module._buffers.pop(name, None)
    module._parameters.pop(name, None)
    module._non_persistent_buffers_set.discard(name)
    module.__dict__.pop(name, None)
