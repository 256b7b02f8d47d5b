"""Known mistakes of labs L4-A and L4-B (LABS.md §5), as code, with what to tell the student.

`COURSE_LAYERS` is the course's code of lessons 10 and 11 with the project decisions of §3.4-§3.6
(quantize divides in float32 and clamps). Each mistake replaces one or more of its definitions, as
in `quant_mistakes`; `carried_into` names questions of a later lab whose end-to-end cases (those
that also take the student's class) fail because of it, without being the graded function's fault; the class and the in-place functions are probed through quantlab's
inspections (`PROBE_INSPECTIONS`), so a diagnosis compares findings, not return values.
"""

from __future__ import annotations

import textwrap

__all__ = ["QUESTIONS", "FUNCTIONS", "COURSE_LAYERS", "MISTAKES", "MISTAKE_IDS", "EXPLANATIONS", "probes",
           "PROBE_INSPECTIONS"]

_FW = "w8_a16_forward"
_LAYER = "W8A16LinearLayer"
_REPLACE = "replace_linear_with_target"
_QUANTIZE = "replace_linear_with_target_and_quantize"

QUESTIONS = {"L4-A": (_FW, _LAYER), "L4-B": (_REPLACE, _QUANTIZE)}
FUNCTIONS = (_FW, _LAYER, _REPLACE, _QUANTIZE)


def _src(text: str) -> str:
    return textwrap.dedent(text).strip("\n") + "\n"


_FORWARD = _src(
    """
    def w8_a16_forward(weight, input, scales, bias=None):
        casted_weights = weight.to(input.dtype)
        output = F.linear(input, casted_weights) * scales
        if bias is not None:
            output = output + bias
        return output
    """
)


def _layer(quantize_body: str, *, int8_weights: str = 'self.register_buffer("int8_weights", {value})',
           store: str = "self.int8_weights = int8_weights") -> str:
    """The course's W8A16LinearLayer; `quantize_body` computes `scales` and `int8_weights` from `weights`."""
    register = int8_weights.format(value="torch.randint(-128, 127, (out_features, in_features), dtype=torch.int8)")
    quantize = _src(quantize_body) + store + "\nself.scales = scales\n"
    return (
        "class W8A16LinearLayer(nn.Module):\n"
        "    def __init__(self, in_features, out_features, bias=True, dtype=torch.float32):\n"
        "        super().__init__()\n"
        f"        {register}\n"
        '        self.register_buffer("scales", torch.randn((out_features), dtype=dtype))\n'
        "        if bias:\n"
        '            self.register_buffer("bias", torch.randn((1, out_features), dtype=dtype))\n'
        "        else:\n"
        "            self.bias = None\n\n"
        "    def quantize(self, weights):\n"
        + textwrap.indent(quantize, " " * 8)
        + "\n    def forward(self, input):\n"
        "        return w8_a16_forward(self.int8_weights, input, self.scales, self.bias)\n"
    )


_FLOAT32_QUANTIZE = """
w_fp32 = weights.clone().to(torch.float32)
scales = w_fp32.abs().max(dim=-1).values / 127
scales = scales.to(weights.dtype)
int8_weights = torch.round(w_fp32 / scales.float().unsqueeze(1)).clamp(-128, 127).to(torch.int8)
"""


def _replace(name: str, *, condition: str = "isinstance(child, nn.Linear) and not any([x == name for x in module_name_to_exclude])",
             build: str = "target_class(child.in_features, child.out_features, old_bias is not None, child.weight.dtype)",
             quantize: bool, bias: bool = True, recurse: bool = True, header: str = "", call_extra: str = "") -> str:
    """A course-style replacement function with one part changed."""
    quantize_line = "getattr(module, name).quantize(old_weight)\n" if quantize else ""
    bias_lines = "if old_bias is not None:\n    getattr(module, name).bias = old_bias\n" if bias else ""
    recursion = f"{name}(child, target_class, module_name_to_exclude{call_extra})" if recurse else "pass"
    body = (
        f"old_bias = child.bias\nold_weight = child.weight\nnew_module = {build}\n"
        f"setattr(module, name, new_module)\n{quantize_line}{bias_lines}"
    )
    return (
        f"def {name}(module, target_class, module_name_to_exclude{header}):\n"
        f"    for name, child in module.named_children():\n"
        f"        if {condition}:\n"
        + textwrap.indent(body, " " * 12)
        + "        else:\n"
        + f"            {recursion}\n"
    )


COURSE_LAYERS = (
    "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"
    + _FORWARD + "\n\n" + _layer(_FLOAT32_QUANTIZE) + "\n\n"
    + _replace(_REPLACE, quantize=False) + "\n\n" + _replace(_QUANTIZE, quantize=True)
)

_BOTH_REPLACEMENTS = {"L4-B": [_REPLACE, _QUANTIZE]}


def _replacements(**changes) -> dict:
    return {_REPLACE: _replace(_REPLACE, quantize=False, **changes), _QUANTIZE: _replace(_QUANTIZE, quantize=True, **changes)}


def _path_replacements() -> dict:
    """Exclusion by the dotted path from the model (`blocks.0.lm_head`), passed down the recursion."""
    condition = ("isinstance(child, nn.Linear) and not any([x == (prefix + name) for x in module_name_to_exclude])")
    return {
        function: _replace(function, quantize=function == _QUANTIZE, condition=condition, header=', prefix=""',
                           call_extra=', prefix + name + "."')
        for function in (_REPLACE, _QUANTIZE)
    }


MISTAKES: dict[str, dict] = {
    "w8a16_bias_before_scale": {
        "lab": "L4-A",
        "functions": {
            _FW: _src(
                """
                def w8_a16_forward(weight, input, scales, bias=None):
                    output = F.linear(input, weight.to(input.dtype))
                    if bias is not None:
                        output = output + bias
                    return output * scales
                """
            )
        },
        "affects": {"L4-A": [_FW, _LAYER]},
    },
    "w8a16_scale_128": {
        "lab": "L4-A",
        "functions": {_LAYER: _layer(_FLOAT32_QUANTIZE.replace("/ 127", "/ 128"))},
        "affects": {"L4-A": [_LAYER]},
    },
    "w8a16_scales_per_column": {
        "lab": "L4-A",
        "functions": {_LAYER: _layer(
            _FLOAT32_QUANTIZE.replace("max(dim=-1)", "max(dim=0)")
        )},
        "affects": {"L4-A": [_LAYER]},
        # Per-column scales do not fit a non-square weight: quantizing a model with this layer fails.
        "carried_into": {"L4-B": [_QUANTIZE]},
    },
    "w8a16_lowprec_divide_no_clamp": {
        "lab": "L4-A",
        "functions": {_LAYER: _layer(
            """
            w_fp32 = weights.clone().to(torch.float32)
            scales = w_fp32.abs().max(dim=-1).values / 127
            scales = scales.to(weights.dtype)
            int8_weights = torch.round(weights / scales.unsqueeze(1)).to(torch.int8)
            """
        )},
        "affects": {"L4-A": [_LAYER]},
    },
    "w8a16_int8_parameter": {
        "lab": "L4-A",
        "functions": {_LAYER: _layer(
            _FLOAT32_QUANTIZE,
            int8_weights="self.int8_weights = nn.Parameter({value}, requires_grad=False)",
            store="self.int8_weights = nn.Parameter(int8_weights, requires_grad=False)",
        )},
        "affects": {"L4-A": [_LAYER]},
    },
    "replace_no_recursion": {
        "lab": "L4-B",
        "functions": _replacements(recurse=False),
        "affects": _BOTH_REPLACEMENTS,
    },
    "replace_drops_bias": {
        "lab": "L4-B",
        "functions": _replacements(bias=False),
        "affects": _BOTH_REPLACEMENTS,
    },
    "exclude_by_substring_or_path": {
        "lab": "L4-B",
        "functions": _replacements(
            condition="isinstance(child, nn.Linear) and not any([x in name for x in module_name_to_exclude])"
        ),
        "affects": _BOTH_REPLACEMENTS,
    },
    "exclude_by_substring_or_path/path": {
        "lab": "L4-B",
        "functions": _path_replacements(),
        "affects": _BOTH_REPLACEMENTS,
    },
    "replace_wrong_arg_order": {
        "lab": "L4-B",
        "functions": _replacements(
            build="target_class(child.out_features, child.in_features, old_bias is not None, child.weight.dtype)"
        ),
        "affects": _BOTH_REPLACEMENTS,
    },
}

MISTAKE_IDS = (
    "w8a16_bias_before_scale", "w8a16_scale_128", "w8a16_scales_per_column", "w8a16_lowprec_divide_no_clamp",
    "w8a16_int8_parameter", "replace_no_recursion", "replace_drops_bias", "exclude_by_substring_or_path",
    "replace_wrong_arg_order",
)

EXPLANATIONS = {
    "w8a16_bias_before_scale": "The bias is added before the scales multiply the output, so it gets scaled too. "
    "Multiply `F.linear(input, weight) * scales` first, then add the bias.",
    "w8a16_scale_128": "The scales divide by 128. Each row's scale is `max|w| / 127`, so that the largest "
    "weight maps to 127 exactly.",
    "w8a16_scales_per_column": "The scales are taken per column (`max(dim=0)`). The layer keeps one scale per "
    "output feature, that is per row of the (out_features, in_features) weight: `max(dim=-1)`.",
    "w8a16_lowprec_divide_no_clamp": "With bfloat16 or float16 weights, `weights / scales` is computed in that "
    "low precision: codes come out off by one, and a row's largest value can round up to 128, which wraps to "
    "-128 in int8. Divide in float32 (`weights.float() / scales.float()[:, None]`) and clamp to [-128, 127] "
    "before casting.",
    "w8a16_int8_parameter": "int8_weights is an nn.Parameter. Int8 tensors cannot take gradients, and the lab's "
    "layer keeps its int8 weights, scales and bias as buffers: use `self.register_buffer(...)`.",
    "replace_no_recursion": "Only the model's direct children are replaced: Linears inside submodules stay. "
    "Call the function again on every child that is not replaced, so it reaches every depth.",
    "replace_drops_bias": "The new layers do not get the original bias. After building the new layer, copy the "
    "old one over: `new_layer.bias = old_bias` (when there is one).",
    "exclude_by_substring_or_path": "Exclusion should compare the child's own name for equality "
    "(`name == excluded`). Testing `excluded in name` also excludes `10` when `1` is excluded, and comparing "
    "dotted paths such as `blocks.0.lm_head` misses `lm_head` inside submodules.",
    "replace_wrong_arg_order": "The new layer is built with its arguments in another order. Use "
    "`target_class(child.in_features, child.out_features, old_bias is not None, child.weight.dtype)`, "
    "positionally, so int8_weights gets the shape (out_features, in_features).",
}


def probes() -> dict[str, list[tuple[tuple, dict]]]:
    """Revealing inputs (LABS §5), as (args, kwargs); for the class and the replacement functions they
    are the arguments of the inspection in `PROBE_INSPECTIONS` after the student's object."""
    import torch
    from quantlab import fixtures
    from quantlab.layer_findings import RECORDING

    w = fixtures.W()
    x = torch.tensor([[1.0, 2.0, 3.0]])
    bias = torch.tensor([[0.5, -0.5, 1.0]])
    codes = torch.tensor([[-127, -72, 27], [-118, 20, 127], [14, 80, 127]], dtype=torch.int8)
    scales = torch.tensor([0.015748031437397003, 0.012755905278027058, 0.016929134726524353])
    # A bfloat16 row with max 2.6875: w / s = 127.26 in float32, 127.5 -> 128 -> -128 in bfloat16.
    wrapping = torch.tensor([[2.6875, -1.0, 0.5], [-2.0, 1.25, 0.75]], dtype=torch.bfloat16)
    replacements = [
        (("nested", []), {}), (("dummy", ["lm_head"]), {}), (("eleven", ["1"]), {}),
        (("deep", ["lm_head"]), {}), (("non_square", []), {}),
    ]
    return {
        _FW: [((codes, x, scales), {}), ((codes, x, scales, bias), {})],
        _LAYER: [
            ((3, 3, True), {"weights": w, "bias_values": bias, "inputs": [x]}),
            ((3, 2, False, torch.bfloat16), {"weights": wrapping, "inputs": [x.to(torch.bfloat16)]}),
        ],
        _REPLACE: [((RECORDING, *args), kwargs) for args, kwargs in replacements],
        _QUANTIZE: [((RECORDING, *args), kwargs) for args, kwargs in replacements],
    }


def _inspections() -> dict:
    from quantlab.layer_findings import layer_findings, replacement_findings

    return {_LAYER: layer_findings, _REPLACE: replacement_findings, _QUANTIZE: replacement_findings}


#: For a question in here, a probe calls `inspection(student, *args, **kwargs)`, not `student(*args)`.
PROBE_INSPECTIONS = _inspections
