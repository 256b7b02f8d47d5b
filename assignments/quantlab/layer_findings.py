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

from quantlab import models
from quantlab.harness import beside_student_code

__all__ = ["RecordingLinear", "layer_findings", "replacement_findings", "RECORDING"]

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
        values = dict(zip(_SIGNATURE, args), **kwargs)
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
        raise RuntimeError("RecordingLinear only records how it was built; it has no forward pass")


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
        "type": type(layer).__name__,
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
        "returned": "None" if returned is None else ("the model" if returned is model else type(returned).__name__),
        "types": _module_types(model),
        "replaced": sorted(path for path, m in after.items() if isinstance(m, target)),
        "kept_linears": sorted(path for path, m in linears.items() if after.get(path) is m),
        "other_modules_kept": all(after.get(path) is not None and id(after[path]) == ident
                                  for path, ident in before.items() if path not in linears and path in after),
        "state_dict": _tensor_table(model.state_dict().items()),
        "bias": {path: (None if getattr(m, "bias", None) is None else _plain(m.bias).flatten())
                 for path, m in after.items() if isinstance(m, target)},
    }
    if target is RecordingLinear:
        findings["built_with"] = {path: [list(m.args), sorted(m.kwargs)] for path, m in after.items()
                                  if isinstance(m, RecordingLinear)}
        findings["quantized_with"] = {path: m.quantized_with for path, m in after.items()
                                      if isinstance(m, RecordingLinear)}
    else:
        with torch.no_grad():
            findings["outputs"] = [_plain(model(x.clone())) for x in inputs]
    return findings
