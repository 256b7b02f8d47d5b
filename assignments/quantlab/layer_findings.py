"""Inspections of lessons 10 and 11: what a layer class or a replacement function does, as plain data.

Each inspection builds its own inputs, exercises the student's class or function, and returns its
findings as dicts, lists, strings, numbers, booleans, None and plain tensors. The tests run the same
inspection on the hidden reference and compare the two findings (see `quantlab.harness`: in the
autograder an inspection runs beside the student's code, in the student's process).

- `layer_findings(layer_class, ...)`: construct a layer positionally as the course does, report its
  buffers and parameters, quantize given weights, run the forward pass on given inputs;
- `replacement_findings(replace, target_class, model, exclude, ...)`: build one of `quantlab.models`,
  replace its Linears in place, report the module types by path, what each new layer was built
  with and quantized with (`RecordingLinear`, a quantlab target that records its arguments), the
  state_dict, the biases, the return value and the outputs on given inputs.
"""

from __future__ import annotations

import torch
from torch import nn

from quantlab import checks, models
from quantlab.checks import CheckFailed
from quantlab.harness import beside_student_code

__all__ = [
    "RecordingLinear", "layer_findings", "replacement_findings", "RECORDING",
    "expect_layer", "expect_replacement",
]

#: Stands for `RecordingLinear` in an inspection's arguments (a class cannot cross to the worker).
RECORDING = "RecordingLinear"
_SIGNATURE = ("in_features", "out_features", "bias", "dtype")


def _plain(tensor):
    """A plain, detached copy of a tensor (a Parameter would not cross as a tensor); None stays None."""
    if tensor is None:
        return None
    if not isinstance(tensor, torch.Tensor):
        return f"not a tensor: {type(tensor).__name__}"
    return tensor.detach().clone()


def _tensor_table(named) -> dict:
    """{name: [shape, dtype name]} of named tensors."""
    return {name: [list(t.shape), str(t.dtype).replace("torch.", "")] for name, t in named}


class RecordingLinear(nn.Module):
    """A replacement target that records how it was built and what it was asked to quantize.

    It takes its arguments as the course's layer does, `(in_features, out_features, bias, dtype)`,
    and lays out zero buffers as that layer would (`int8_weights` (out, in), `scales` (out,),
    `bias` (1, out) or None), so arguments passed in another order show up as other shapes.
    """

    def __init__(self, *args, **kwargs):
        super().__init__()
        self.args = list(args)
        self.kwargs = dict(kwargs)
        values = dict(zip(_SIGNATURE, args, strict=False), **kwargs)
        in_features, out_features = int(values.get("in_features", 0)), int(values.get("out_features", 0))
        dtype = values.get("dtype", torch.float32)
        dtype = dtype if isinstance(dtype, torch.dtype) else torch.float32
        self.register_buffer("int8_weights", torch.zeros((out_features, in_features), dtype=torch.int8))
        self.register_buffer("scales", torch.zeros((out_features,), dtype=dtype))
        if values.get("bias", True):
            self.register_buffer("bias", torch.zeros((1, out_features), dtype=dtype))
        else:
            self.bias = None
        self.quantized_with: list[torch.Tensor] = []

    def quantize(self, weights):
        self.quantized_with.append(_plain(weights))

    def forward(self, input):
        """The original layer's output, from the weights it was last asked to quantize (no rounding)."""
        if not self.quantized_with:
            raise RuntimeError("RecordingLinear was never quantized, so it has no weights to compute with")
        bias = None if self.bias is None else self.bias.reshape(-1).to(input.dtype)
        return nn.functional.linear(input, self.quantized_with[-1].to(input.dtype), bias)


@beside_student_code
def layer_findings(layer_class, in_features, out_features, bias=True, dtype=None, *,
                   weights=None, bias_values=None, inputs=()) -> dict:
    """Build `layer_class(in_features, out_features, bias[, dtype])`, quantize `weights`, run `inputs`.

    `bias_values` (shape (1, out)), when given, are copied into the layer's bias before the forward
    passes, whatever shape the layer keeps its bias in.
    """
    args = (in_features, out_features, bias) if dtype is None else (in_features, out_features, bias, dtype)
    layer = layer_class(*args)
    findings = {
        "type": _type_name(layer),
        "is_module": isinstance(layer, nn.Module),
        "buffers": _tensor_table(layer.named_buffers()) if isinstance(layer, nn.Module) else {},
        "parameters": _tensor_table(layer.named_parameters()) if isinstance(layer, nn.Module) else {},
        "bias_is_none": getattr(layer, "bias", "missing") is None,
    }
    if weights is not None:
        findings["quantize_returned"] = repr(layer.quantize(weights.clone()))[:100]
        findings["int8_weights"] = _plain(getattr(layer, "int8_weights", None))
        findings["scales"] = _plain(getattr(layer, "scales", None))
        findings["buffers_after_quantize"] = _tensor_table(layer.named_buffers())
        findings["parameters_after_quantize"] = _tensor_table(layer.named_parameters())
    if bias_values is not None:
        with torch.no_grad():
            layer.bias.copy_(bias_values.reshape(layer.bias.shape).to(layer.bias.dtype))
    findings["outputs"] = [_plain(layer(x.clone())) for x in inputs]
    return findings


def _type_name(value) -> str:
    cls = type(value)
    return cls.__name__ if cls.__module__ in ("builtins", "__main__") or isinstance(value, nn.Module) \
        else f"{cls.__module__}.{cls.__qualname__}"


def _module_types(model: nn.Module) -> dict:
    return {path or "(model)": type(module).__name__ for path, module in model.named_modules()}


@beside_student_code
def replacement_findings(replace, target_class, model_name, exclude, *, seed=0, dtype=torch.float32,
                         inputs=()) -> dict:
    """Build `quantlab.models.build(model_name, seed, dtype)`, call `replace(model, target_class, exclude)`.

    `target_class` may be `RECORDING` for a `RecordingLinear`. Reports what the replacement did.
    """
    target = RecordingLinear if target_class == RECORDING else target_class
    model = models.build(model_name, seed, dtype)
    linears = {path: m for path, m in model.named_modules() if isinstance(m, nn.Linear)}
    before = {path: id(m) for path, m in model.named_modules()}
    returned = replace(model, target, list(exclude))
    after = dict(model.named_modules())
    findings = {
        "returned": "None" if returned is None else ("the model" if returned is model else _type_name(returned)),
        "types": _module_types(model),
        "replaced": sorted(path for path, m in after.items() if isinstance(m, target)),
        "kept_linears": sorted(path for path, m in linears.items() if after.get(path) is m),
        "other_modules_kept": all(after.get(path) is not None and id(after[path]) == ident
                                  for path, ident in before.items() if path not in linears and path in after),
        "state_dict": _tensor_table(model.state_dict().items()),
        "bias": {path: (None if getattr(m, "bias", None) is None else _plain(m.bias).flatten())
                 for path, m in after.items() if isinstance(m, target)},
    }
    if target is not RecordingLinear:
        findings["layers"] = {path: {"int8_weights": _plain(getattr(m, "int8_weights", None)),
                                     "scales": _plain(getattr(m, "scales", None))}
                              for path, m in after.items() if isinstance(m, target)}
    if target is RecordingLinear:
        findings["built_with"] = {path: [list(m.args), sorted(m.kwargs)] for path, m in after.items()
                                  if isinstance(m, RecordingLinear)}
        findings["quantized_with"] = {path: m.quantized_with for path, m in after.items()
                                      if isinstance(m, RecordingLinear)}
    with torch.no_grad():
        findings["outputs"] = [_plain(model(x.clone())) for x in inputs]
    return findings


# Checks: a student's findings against the expected ones ---------------------------------------------

def _fail(message: str, hint: str = "") -> None:
    raise CheckFailed(message + (f"\nHint: {hint}" if hint else ""))


def _table_differences(got: dict, want: dict, reveal: bool) -> str:
    parts = []
    for name in sorted(set(got) | set(want)):
        if name not in got:
            parts.append(f"`{name}` is missing")
        elif name not in want:
            parts.append(f"`{name}` should not be there")
        elif got[name] != want[name]:
            shape, dtype = got[name]
            expected = f" (expected shape {want[name][0]}, {want[name][1]})" if reveal else ""
            parts.append(f"`{name}` has shape {shape} and dtype {dtype}{expected}")
    return "; ".join(parts)


def _expect_table(got: dict, want: dict, *, what: str, reveal: bool, hint: str = "") -> None:
    if got != want:
        _fail(f"The {what} differ: {_table_differences(got, want, reveal)}.", hint)


_BUFFER_HINT = (
    "Register int8_weights, scales and bias with self.register_buffer(name, tensor), not as nn.Parameter: "
    "int8 weights cannot require gradients, and buffers are what the layer saves in its state_dict."
)


def expect_layer(got: dict, want: dict, *, call: str, weights=None, inputs=(), bias_values=None,
                 reveal: bool = True) -> None:
    """`layer_findings` of the student's class against `want` (every key present in `want` is checked).

    `weights`, `inputs` and `bias_values` are what the inspection was given: the codes may differ by
    one next to a .5 tie of `weights / scales`, and outputs are judged against float64 (§7).
    """
    if not got["is_module"]:
        _fail(f"{call} should build a torch.nn.Module, but it gave a {got['type']}.")
    for key, what in (("buffers", "buffers"), ("parameters", "parameters"),
                      ("buffers_after_quantize", "buffers after quantize"),
                      ("parameters_after_quantize", "parameters after quantize")):
        if key in want:
            _expect_table(got[key], want[key], what=f"{what} of {call}", reveal=reveal, hint=_BUFFER_HINT)
    if "bias_is_none" in want and got["bias_is_none"] != want["bias_is_none"]:
        _fail(f"After {call}, self.bias should " + ("be None." if want["bias_is_none"] else "be a tensor, not None."))
    if "int8_weights" in want:
        want_codes, want_scales = want["int8_weights"], want["scales"]
        exact = weights.double() / want_scales.double().reshape(-1, 1) if weights is not None else None
        checks.expect_codes(got["int8_weights"], want_codes, what=f"int8_weights after quantize ({call})",
                            exact=exact, reveal=reveal,
                            hint="Per output row: scale = max|w| / 127, cast to the weights' dtype (that is "
                            "the scale you store); codes = round(w / stored scale), clamped to [-128, 127], "
                            "computed in float32. Dividing by the scale before the cast gives other codes in "
                            "float16 and bfloat16.")
        exact_scales = want_scales.dtype != torch.float32
        checks.expect_close(got["scales"], want_scales, what=f"scales after quantize ({call})",
                            rtol=0.0 if exact_scales else 1e-6, reveal=reveal, unit="row",
                            hint="One scale per output row (the max over the last dimension), in the "
                            "layer's dtype.")
    if "int8_weights" in want and inputs:
        if len(got["outputs"]) != len(inputs):
            _fail(f"{call} gave {len(got['outputs'])} outputs for {len(inputs)} inputs.")
        for index, (output, x) in enumerate(zip(got["outputs"], inputs, strict=True)):
            checks.expect_w8a16_output(
                output, x, want["int8_weights"], want["scales"], bias_values,
                what=f"forward output {index + 1} of {call}", reveal=reveal,
                hint="forward should return w8_a16_forward(self.int8_weights, input, self.scales, self.bias).",
            )


_RETURN_HINT = "The function changes the model in place: no need to return anything."


def expect_replacement(got: dict, want: dict, *, call: str, reveal: bool = True, require_none: bool = False) -> None:
    """`replacement_findings` of the student's function against `want` (every key present is checked).

    The bias may be kept in any shape (the values are compared flattened); the returned value must be
    None with `require_none`, otherwise None or the model itself.
    """
    allowed = ("None",) if require_none else ("None", "the model")
    if got["returned"] not in allowed:
        _fail(f"{call} should return None, but it returned {got['returned']}.", _RETURN_HINT)
    if not got["other_modules_kept"]:
        _fail(f"After {call}, modules other than the replaced Linears are new objects: change the model "
              "in place, with setattr(module, name, new_layer), and leave everything else as it is.")
    _expect_types(got["types"], want["types"], call=call, reveal=reveal)
    if "built_with" in want:
        _expect_built_with(got["built_with"], want["built_with"], call=call)
    if "quantized_with" in want:
        _expect_quantized_with(got["quantized_with"], want["quantized_with"], call=call)
    if "bias" in want:
        _expect_bias(got["bias"], want["bias"], call=call, reveal=reveal)
    if "state_dict" in want:
        _expect_state_dict(got["state_dict"], want["state_dict"], set(want.get("replaced", ())), call=call,
                           reveal=reveal)
    for index, (output, expected) in enumerate(zip(got.get("outputs", ()), want.get("outputs", ()), strict=False)):
        checks.expect_close(output, expected, what=f"output {index + 1} of the model after {call}",
                            rtol=1e-5, atol=1e-6 * float(expected.abs().max()), reveal=reveal)


def _expect_types(got: dict, want: dict, *, call: str, reveal: bool) -> None:
    wrong = [path for path in sorted(set(got) | set(want)) if got.get(path) != want.get(path)]
    if not wrong:
        return
    parts = []
    for path in wrong[:4]:
        yours = got.get(path, "no module")
        expected = f", expected {want.get(path, 'no module')}" if reveal else ""
        parts.append(f"`{path}`: yours {yours}{expected}")
    _fail(f"After {call}, {len(wrong)} module(s) of the model are not what they should be ({'; '.join(parts)}).",
          "Replace every nn.Linear whose own name (the name of the child, not its dotted path) is not in "
          "module_name_to_exclude, at every depth: recurse into every other child.")


def _expect_built_with(got: dict, want: dict, *, call: str) -> None:
    for path in sorted(want):
        if path in got and got[path] != want[path]:
            args, keywords = got[path]
            shown = ", ".join(map(repr, args)) + "".join(f", {k}=..." for k in keywords)
            _fail(f"In {call}, the new layer at `{path}` was built as target_class({shown}).",
                  "Build it positionally, in this order: target_class(child.in_features, child.out_features, "
                  "child.bias is not None, child.weight.dtype).")


def _expect_quantized_with(got: dict, want: dict, *, call: str) -> None:
    for path in sorted(want):
        mine, expected = got.get(path, []), want[path]
        if len(mine) != len(expected):
            _fail(f"In {call}, quantize was called {len(mine)} time(s) on the new layer at `{path}`; "
                  f"it should be called {len(expected)} time(s).",
                  "Call new_layer.quantize(child.weight) once, right after building the new layer.")
        for a, b in zip(mine, expected, strict=True):
            if not (isinstance(a, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)):
                _fail(f"In {call}, the new layer at `{path}` was not quantized with the weight of the Linear "
                      "it replaces.",
                      "Call new_layer.quantize(child.weight), with the old layer's own weight.")


def _expect_bias(got: dict, want: dict, *, call: str, reveal: bool) -> None:
    for path in sorted(want):
        mine, expected = got.get(path), want[path]
        if expected is None and mine is None:
            continue
        if expected is None or mine is None:
            _fail(f"After {call}, the bias of `{path}` is " + ("missing." if mine is None else "there, but "
                  "the original Linear had none."), "Pass old_bias is not None as the third argument, and "
                  "copy the original layer's bias onto the new layer.")
        if not isinstance(mine, torch.Tensor) or mine.numel() != expected.numel() or not torch.equal(
                mine.to(expected.dtype), expected):
            shown = (f": yours {mine.tolist()}, expected {expected.tolist()}"
                     if reveal and isinstance(mine, torch.Tensor) and mine.numel() <= 8 else "")
            _fail(f"After {call}, the bias of `{path}` is not the original layer's bias{shown}.",
                  "Copy the original bias onto the new layer: new_layer.bias = old_bias.")


def _expect_state_dict(got: dict, want: dict, replaced: set, *, call: str, reveal: bool) -> None:
    if set(got) != set(want):
        missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
        parts = ([f"missing {missing}"] if missing else []) + ([f"unexpected {extra}"] if extra else [])
        _fail(f"After {call}, the model's state_dict keys differ: {'; '.join(parts)}.", _BUFFER_HINT)
    for key in sorted(want):
        (shape, dtype), (want_shape, want_dtype) = got[key], want[key]
        owner = key.rsplit(".", 1)[0]
        is_bias = key.endswith(".bias") and owner in replaced
        same_shape = _numel(shape) == _numel(want_shape) if is_bias else shape == want_shape
        if not same_shape or dtype != want_dtype:
            expected = f" (expected {want_shape}, {want_dtype})" if reveal else ""
            _fail(f"After {call}, state_dict entry `{key}` has shape {shape} and dtype {dtype}{expected}.",
                  "int8_weights is (out_features, in_features) in int8; scales is (out_features,) in the "
                  "original weight's dtype.")


def _numel(shape) -> int:
    count = 1
    for n in shape:
        count *= n
    return count
