"""Mistakes of labs L4-A and L4-B: the W8A16 layer's forward pass, scales and buffers, and the
replacement of nn.Linear layers (recursion, bias, exclusion, argument order)."""

from __future__ import annotations

from quant_mistakes.course import dedent
from quant_mistakes.course.layers import FLOAT32_QUANTIZE, layer, replacement, replacements
from quant_mistakes.mistakes import Mistake

FORWARD = "w8_a16_forward"
LAYER = "W8A16LinearLayer"
REPLACE = "replace_linear_with_target"
REPLACE_AND_QUANTIZE = "replace_linear_with_target_and_quantize"
BOTH_REPLACEMENTS = {"L4-B": (REPLACE, REPLACE_AND_QUANTIZE)}
QUANTIZE_MODEL = "quantize_model"
SAVE = "save_quantized_state_dict"
LOAD = "load_quantized_model"
#: L4-C and L4-D quantize, save and load through the student's own layer and replacement functions,
#: so most mistakes of L4-A and L4-B show there too (`carried_into`).
WHOLE_MODEL_QUESTIONS = {"L4-C": (QUANTIZE_MODEL,), "L4-D": (SAVE, LOAD)}


def path_replacements() -> dict[str, str]:
    """Exclusion by the dotted path from the model (`blocks.0.lm_head`), passed down the recursion."""
    condition = "isinstance(child, nn.Linear) and not any([x == (prefix + name) for x in module_name_to_exclude])"
    return {
        function: replacement(function, quantize=function == REPLACE_AND_QUANTIZE, condition=condition,
                              header=', prefix=""', call_extra=', prefix + name + "."')
        for function in (REPLACE, REPLACE_AND_QUANTIZE)
    }


MISTAKES = (
    Mistake(
        "w8a16_bias_before_scale",
        functions={
            FORWARD: dedent(
                """
                def w8_a16_forward(weight, input, scales, bias=None):
                    output = F.linear(input, weight.to(input.dtype))
                    if bias is not None:
                        output = output + bias
                    return output * scales
                """
            )
        },
        affects={"L4-A": (FORWARD, LAYER)},
        carried_into={"L4-C": (QUANTIZE_MODEL,), "L4-D": (LOAD,)},
    ),
    Mistake(
        "w8a16_scale_128",
        functions={LAYER: layer(FLOAT32_QUANTIZE.replace("/ 127", "/ 128"))},
        affects={"L4-A": (LAYER,)},
        carried_into={"L4-C": (QUANTIZE_MODEL,), "L4-D": (SAVE,)},
    ),
    Mistake(
        "w8a16_scales_per_column",
        functions={LAYER: layer(
            FLOAT32_QUANTIZE.replace("max(dim=-1)", "max(dim=0)")
        )},
        affects={"L4-A": (LAYER,)},
        # Per-column scales do not fit a non-square weight: quantizing a model with this layer fails.
        carried_into={"L4-B": (REPLACE_AND_QUANTIZE,), "L4-C": (QUANTIZE_MODEL,), "L4-D": (SAVE, LOAD)},
    ),
    Mistake(
        "w8a16_lowprec_divide_no_clamp",
        functions={LAYER: layer(
            """
            w_fp32 = weights.clone().to(torch.float32)
            scales = w_fp32.abs().max(dim=-1).values / 127
            scales = scales.to(weights.dtype)
            int8_weights = torch.round(weights / scales.unsqueeze(1)).to(torch.int8)
            """
        )},
        affects={"L4-A": (LAYER,)},
        carried_into={"L4-C": (QUANTIZE_MODEL,), "L4-D": (SAVE,)},
    ),
    Mistake(
        "w8a16_int8_parameter",
        functions={LAYER: layer(
            FLOAT32_QUANTIZE,
            int8_weights="self.int8_weights = nn.Parameter({value}, requires_grad=False)",
            store="self.int8_weights = nn.Parameter(int8_weights, requires_grad=False)",
        )},
        affects={"L4-A": (LAYER,)},
    ),
    Mistake(
        "replace_no_recursion",
        functions=replacements(recurse=False),
        affects=BOTH_REPLACEMENTS,
        carried_into=WHOLE_MODEL_QUESTIONS,
    ),
    Mistake(
        "replace_drops_bias",
        functions=replacements(bias=False),
        affects=BOTH_REPLACEMENTS,
        carried_into=WHOLE_MODEL_QUESTIONS,
    ),
    Mistake(
        "exclude_by_substring_or_path",
        functions=replacements(
            condition="isinstance(child, nn.Linear) and not any([x in name for x in module_name_to_exclude])"
        ),
        affects=BOTH_REPLACEMENTS,
        carried_into=WHOLE_MODEL_QUESTIONS,
    ),
    Mistake(
        "exclude_by_substring_or_path/path",
        functions=path_replacements(),
        affects=BOTH_REPLACEMENTS,
        carried_into=WHOLE_MODEL_QUESTIONS,
    ),
    Mistake(
        "replace_wrong_arg_order",
        functions=replacements(
            build="target_class(child.out_features, child.in_features, old_bias is not None, child.weight.dtype)"
        ),
        # In L4-D the quantized model is right (quantize overwrites the buffers), the skeleton is not.
        affects={**BOTH_REPLACEMENTS, "L4-D": (LOAD,)},
    ),
)
