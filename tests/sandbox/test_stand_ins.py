"""Stand-ins for layer classes and for functions on models (grader/sandbox/stubs.py and stand_ins.py).

Each test runs real student code in a worker with references standing in, and compares what the
student's process ends up with against the reference run in this process on the same inputs.
"""

from __future__ import annotations

import textwrap

import pytest
import torch
from torch import nn

import quant_reference as ref
from grader.labs import SUPPORT
from grader.sandbox.session import Limits, StudentCodeError, WorkerSession

MODEL = """
import torch
from torch import nn

def model():
    g = torch.Generator().manual_seed(7)
    shared = nn.Linear(4, 4)
    net = nn.Sequential(
        nn.Linear(4, 6),
        nn.Sequential(nn.ReLU(), nn.Linear(6, 4, bias=False), shared),
        nn.ModuleDict({"head": shared, "skip": nn.Linear(4, 4)}),
    )
    net.register_buffer("steps", torch.zeros(3, dtype=torch.int64))
    net.register_buffer("cache", torch.zeros(5), persistent=False)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    return net
"""

#: The student's own layer: it records how it was built and what it was asked to quantize.
RECORDER = """
class Recorder(nn.Module):
    def __init__(self, *args):
        super().__init__()
        self.args = args
        self.calls = []
    def quantize(self, weights):
        self.calls.append(weights)
"""


def session_for(source: str) -> WorkerSession:
    return WorkerSession([{"index": 1, "source": textwrap.dedent(source)}], support=[SUPPORT],
                         limits=Limits(question=30.0))


def _model():
    namespace: dict = {}
    exec(MODEL, namespace)
    return namespace["model"]()


# A layer class ------------------------------------------------------------------------------------

LAYER_USE = """
import torch

def build_and_use(x, weights):
    layer = W8A16LinearLayer(4, 3, True, torch.bfloat16)
    after = torch.rand(2)  # the random numbers drawn after building it
    layer.quantize(weights)
    with torch.no_grad():
        layer.bias.copy_(torch.arange(3, dtype=torch.bfloat16).reshape(1, 3))
    return (type(layer).__name__, sorted(dict(layer.named_buffers())), layer.int8_weights, layer.scales, layer(x),
            after, W8A16LinearLayer.__module__)

def bias_kept(x):
    layer = W8A16LinearLayer(4, 3)
    bias = nn.Parameter(torch.ones(1, 3))
    layer.bias = bias
    layer(x)
    return layer.bias is bias, sorted(dict(layer.named_parameters())), sorted(dict(layer.named_buffers()))

def without_bias():
    layer = W8A16LinearLayer(4, 3, False)
    return layer.bias is None, sorted(dict(layer.named_buffers()))

def huge():
    W8A16LinearLayer(100_000, 100_000)

class W8A16LinearLayer(nn.Module):  # the student's own: wrong on purpose, it keeps everything in float16
    def __init__(self, in_features, out_features, bias=True, dtype=torch.float32):
        super().__init__()
        self.register_buffer("int8_weights", torch.zeros((out_features, in_features), dtype=torch.float16))
        self.register_buffer("scales", torch.zeros(out_features, dtype=torch.float16))
        self.bias = None
    def quantize(self, weights):
        pass
    def forward(self, input):
        return input
"""


def test_a_layer_class_stand_in_builds_quantizes_and_runs_as_the_reference():
    x = torch.randn(2, 4, dtype=torch.bfloat16)
    weights = torch.randn(3, 4, dtype=torch.bfloat16)
    torch.manual_seed(0)  # as the worker seeds each call
    want = ref.W8A16LinearLayer(4, 3, True, torch.bfloat16)
    after = torch.rand(2)
    want.quantize(weights)
    with torch.no_grad():
        want.bias.copy_(torch.arange(3, dtype=torch.bfloat16).reshape(1, 3))
    with session_for("import torch\nfrom torch import nn\n" + LAYER_USE) as s:
        s.start()
        s.helpers = {"W8A16LinearLayer": ref.W8A16LinearLayer}
        name, buffers, codes, scales, output, drawn, module = s.call("build_and_use", (x, weights), {}, timeout=20)
        assert s.helper_calls == {"W8A16LinearLayer": 3}  # built, quantized, run
    assert (name, module) == ("W8A16LinearLayer", "__main__")
    assert buffers == sorted(dict(want.named_buffers()))
    assert torch.equal(codes, want.int8_weights) and torch.equal(scales, want.scales)
    assert torch.equal(output, want(x)) and output.dtype == torch.bfloat16
    assert torch.equal(drawn, after)  # building it drew the random numbers the reference draws


def test_a_layer_stand_in_keeps_what_the_reference_does_not_change_and_what_it_sets_to_none():
    with session_for("import torch\nfrom torch import nn\n" + LAYER_USE) as s:
        s.start()
        s.helpers = {"W8A16LinearLayer": ref.W8A16LinearLayer}
        kept, parameters, buffers = s.call("bias_kept", (torch.randn(2, 4),), {}, timeout=20)
        assert kept and parameters == ["bias"] and buffers == ["int8_weights", "scales"]
        assert s.call("without_bias", (), {}, timeout=20) == (True, ["int8_weights", "scales"])


def test_a_layer_too_large_to_build_is_refused():
    with session_for("import torch\nfrom torch import nn\n" + LAYER_USE) as s:
        s.start()
        s.helpers = {"W8A16LinearLayer": ref.W8A16LinearLayer}
        with pytest.raises(StudentCodeError, match="far larger") as caught:
            s.call("huge", (), {}, timeout=20)
        assert caught.value.type_name == "HelperError" and s.alive


# Functions on models --------------------------------------------------------------------------------

REPLACE_USE = MODEL + RECORDER + """
def replaced(exclude):
    net = model()
    old = dict(net.named_modules(remove_duplicate=False))
    shared_bias = old["1.2"].bias
    returned = replace_linear_with_target_and_quantize(net, Recorder, exclude)
    found = {}
    for path, module in net.named_modules():
        if isinstance(module, Recorder):
            quantized = [next((p for p, m in old.items() if getattr(m, "weight", None) is w), None)
                         for w in module.calls]
            found[path] = [list(module.args), quantized, getattr(module, "bias", None) is getattr(old[path], "bias")]
        else:
            found[path] = type(module).__name__
    return returned, found, net[1][2] is net[2]["head"], net[1][2].bias is shared_bias

def replace_linear_with_target_and_quantize(module, target_class, module_name_to_exclude):
    pass  # the student's own: does nothing

def footprint():
    return model_memory_footprint(model())

def model_memory_footprint(model):
    return -1
"""


def test_a_function_that_changes_a_model_in_place_stands_in_on_the_students_model_and_class():
    recorder: dict = {"nn": nn, "torch": torch}
    exec(RECORDER, recorder)
    want_model = _model()
    old = dict(want_model.named_modules(remove_duplicate=False))
    ref.replace_linear_with_target_and_quantize(want_model, recorder["Recorder"], ["skip"])
    with session_for(REPLACE_USE) as s:
        s.start()
        own = s.call("replaced", (["skip"],), {}, timeout=20)
        assert all(isinstance(v, str) for v in own[1].values())  # the student's own replaces nothing
        s.helpers = {"replace_linear_with_target_and_quantize": ref.replace_linear_with_target_and_quantize}
        returned, found, still_shared, bias_kept = s.call("replaced", (["skip"],), {}, timeout=20)
        assert s.helper_calls == {"replace_linear_with_target_and_quantize": 1}
    assert returned is None
    for path, module in want_model.named_modules():
        if isinstance(module, recorder["Recorder"]):
            args, quantized, same_bias = found[path]
            assert args == list(module.args), path
            assert quantized == [next(p for p, m in old.items() if getattr(m, "weight", None) is w)
                                 for w in module.calls]
            assert same_bias, path  # the old Linear's own bias object, carried over
        else:
            assert found[path] == type(module).__name__, path
    assert found["2.skip"] == "Linear" and len(found) == len(dict(want_model.named_modules()))
    # A Linear shared by two parents is replaced in each, by two layers that share its bias, as the reference does.
    assert still_shared == (want_model[1][2] is want_model[2]["head"]) and bias_kept


def test_a_function_that_measures_a_model_stands_in_on_a_mirror_of_shapes_and_sharing():
    with session_for(REPLACE_USE) as s:
        s.start()
        s.helpers = {"model_memory_footprint": ref.model_memory_footprint}
        assert s.call("footprint", (), {}, timeout=20) == ref.model_memory_footprint(_model())


def _changes_a_weight(model):
    with torch.no_grad():
        model[0].weight.mul_(2)


def _reads_values(model):
    return float(model[0].weight.sum())


@pytest.mark.parametrize("reference", [_changes_a_weight, _reads_values])
def test_a_reference_that_steps_cannot_replay_leaves_the_students_own_function_to_run(reference):
    student = MODEL + """
def helper(model):
    return "own"

def run():
    return helper(model())
"""
    with session_for(student) as s:
        s.start()
        s.helpers = {"helper": reference}
        assert s.call("run", (), {}, timeout=20) == "own"
        assert not s.helper_calls


# Hostile sketches and layers -----------------------------------------------------------------------

HOSTILE = """
import gc, json
from multiprocessing.connection import Connection

def pipes():
    found = [o for o in gc.get_objects() if isinstance(o, Connection)]
    return (next(c for c in found if c.readable and not c.writable),
            next(c for c in found if c.writable and not c.readable))

def ask(request):
    inbox, outbox = pipes()
    outbox.send_bytes(json.dumps({"op": "helper", **request}).encode())
    return json.loads(inbox.recv_bytes())

MODULE = {"$": "list", "items": [{"$": "slot", "kind": "module", "index": 0}]}
NO_KWARGS = {"$": "dict", "items": []}

def node(children=(), tensors=(), linear=None):
    return {"linear": linear, "tensors": list(tensors), "children": [list(c) for c in children]}

def sketch(nodes, roots=(0,)):
    return ask({"name": "model_memory_footprint", "args": MODULE, "kwargs": NO_KWARGS,
                "models": {"roots": list(roots), "nodes": nodes}})

def probe():
    answers = [
        sketch([node()] * 10_001),                                              # too many modules
        sketch([node(children=[["a.b", 0]])]),                                 # a dotted child name
        sketch([node(children=[["a", 5]])]),                                   # a child that is not there
        sketch([node()], roots=[3]),                                           # a root that is not there
        sketch([node(tensors=[["w", "parameter", "complex64", [2], 0, True]])]),  # a dtype that does not cross
        sketch([node(tensors=[["w", "parameter", "float32", [-1], 0, True]])]),   # a negative size
        sketch("not a sketch"),
        ask({"name": "replace_linear_with_target", "kwargs": NO_KWARGS,                # a cycle: the reference recurses
             "args": {"$": "list", "items": [{"$": "slot", "kind": "module", "index": 0},
                                             {"$": "slot", "kind": "class", "index": 0}, {"$": "list", "items": []}]},
             "models": {"roots": [0], "nodes": [node(children=[["self", 0]])]}}),
        ask({"name": "W8A16LinearLayer", "method": "forward", "args": {"$": "list", "items": []},
             "kwargs": NO_KWARGS, "state": {"$": "dict", "items": [["buffers", {"$": "list", "items": [
                 {"$": "list", "items": ["a.b", None, True]}]}]]}}),            # a dotted buffer name
        ask({"name": "W8A16LinearLayer", "method": "__reduce__", "args": {"$": "list", "items": []},
             "kwargs": NO_KWARGS, "state": {"$": "dict", "items": []}}),        # not one of its methods
        ask({"name": "W8A16LinearLayer", "method": "__init__", "args": {"$": "list", "items": [4, 3]},
             "kwargs": NO_KWARGS, "rng": "not a random state"}),
        sketch([node(tensors=[["w", "buffer", "float32", [1 << 30, 1 << 30], 0, True]])]),  # huge, but only a shape
    ]
    return [a.get("error", {}).get("type") or sorted(a) for a in answers[:-1]] + [answers[-1]]
"""


def test_malformed_sketches_and_layers_are_refused_and_cycles_run_the_students_own():
    with session_for(HOSTILE) as s:
        s.start()
        s.helpers = {"model_memory_footprint": ref.model_memory_footprint, "W8A16LinearLayer": ref.W8A16LinearLayer,
                     "replace_linear_with_target": ref.replace_linear_with_target}
        *kinds, huge = s.call("probe", (), {}, timeout=30)
        assert kinds[:7] == ["HelperRefused"] * 7
        assert kinds[7] == ["own"]
        assert kinds[8:] == ["HelperRefused"] * 3
        assert huge == {"steps": [], "value": (1 << 60) * 4}  # a meta tensor costs the grader nothing
        assert s.alive
