"""Labs L4-A and L4-B: the W8A16 layer and the replacement of nn.Linear layers, with templates.

The course's code of lessons 10 and 11 with the project decisions of docs/course.md §3.4-§3.6: quantize
divides in float32 and clamps. It is built from templates (`layer`, `replacement`) so that each
mistake of these labs changes one part and keeps the rest word for word.
"""

from __future__ import annotations

import textwrap

from quant_mistakes.course import dedent

FORWARD = dedent(
    """
    def w8_a16_forward(weight, input, scales, bias=None):
        casted_weights = weight.to(input.dtype)
        output = F.linear(input, casted_weights) * scales
        if bias is not None:
            output = output + bias
        return output
    """
)

#: The body of `quantize` that computes `scales` and `int8_weights` from `weights`.
FLOAT32_QUANTIZE = """
w_fp32 = weights.clone().to(torch.float32)
scales = w_fp32.abs().max(dim=-1).values / 127
scales = scales.to(weights.dtype)
int8_weights = torch.round(w_fp32 / scales.float().unsqueeze(1)).clamp(-128, 127).to(torch.int8)
"""


def layer(quantize_body: str, *, int8_weights: str = 'self.register_buffer("int8_weights", {value})',
          store: str = "self.int8_weights = int8_weights") -> str:
    """The course's W8A16LinearLayer; `quantize_body` computes `scales` and `int8_weights` from `weights`."""
    register = int8_weights.format(value="torch.randint(-128, 127, (out_features, in_features), dtype=torch.int8)")
    quantize = dedent(quantize_body) + store + "\nself.scales = scales\n"
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


#: The course's test of a child to replace: an nn.Linear whose own name is not excluded.
REPLACE_WHEN = "isinstance(child, nn.Linear) and not any([x == name for x in module_name_to_exclude])"
#: The course's new layer, built from the old one's sizes, bias and dtype, positionally.
NEW_LAYER = "target_class(child.in_features, child.out_features, old_bias is not None, child.weight.dtype)"


def replacement(name: str, *, quantize: bool, condition: str = REPLACE_WHEN, build: str = NEW_LAYER,
                bias: bool = True, recurse: bool = True, header: str = "", call_extra: str = "") -> str:
    """A course-style replacement function `name`, with one part changed by the keyword given."""
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


def replacements(**changes) -> dict[str, str]:
    """Both replacement functions of L4-B, with the same change."""
    return {
        "replace_linear_with_target": replacement("replace_linear_with_target", quantize=False, **changes),
        "replace_linear_with_target_and_quantize": replacement(
            "replace_linear_with_target_and_quantize", quantize=True, **changes
        ),
    }


CODE = (
    "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"
    + FORWARD + "\n\n" + layer(FLOAT32_QUANTIZE) + "\n\n"
    + "\n\n".join(replacements().values())
)
