"""Hidden reference for "Quantization in Depth".

One module per topic, each named as a lab's `reference` in the course catalogue: labs L2-A to L3-B
in `quantize`, L3-C and L3-D (per channel, per group) in `granularity`, L3-E (W8A32) in `w8a32`,
L4-A and L4-B (the W8A16 layer, layer replacement) in `layers`, L4-C and L4-D (whole-model
quantization, saving, loading) in `whole_model`, L5-B and L5-C (packing) in `packing`; all
re-exported here, for test files that `import quant_reference as ref`.

Every function follows docs/course.md (§2 semantics, §3 project decisions) and raises
ValueError for the inputs the project leaves undefined (§3.8, §8). It quantizes in float32
(§3.9): the course's own code on float32 inputs gives the same codes.

This package is instructor-only: it ships inside the autograder zips and is never copied to
students.
"""

from quant_reference.granularity import (
    linear_dequantization_per_group,
    linear_q_symmetric_per_channel,
    linear_q_symmetric_per_group,
)
from quant_reference.layers import (
    W8A16LinearLayer,
    replace_linear_with_target,
    replace_linear_with_target_and_quantize,
    w8_a16_forward,
)
from quant_reference.packing import pack_weights, unpack_weights
from quant_reference.quantize import (
    get_q_scale_and_zero_point,
    get_q_scale_symmetric,
    linear_dequantization,
    linear_q_symmetric,
    linear_q_with_scale_and_zero_point,
    linear_quantization,
    quantization_error,
)
from quant_reference.w8a32 import quantized_linear_W8A32_without_bias
from quant_reference.whole_model import (
    load_quantized_model,
    model_memory_footprint,
    quantize_model,
    save_quantized_state_dict,
)

__all__ = [
    "linear_q_with_scale_and_zero_point",
    "linear_dequantization",
    "get_q_scale_and_zero_point",
    "linear_quantization",
    "get_q_scale_symmetric",
    "linear_q_symmetric",
    "quantization_error",
    "linear_q_symmetric_per_channel",
    "linear_q_symmetric_per_group",
    "linear_dequantization_per_group",
    "quantized_linear_W8A32_without_bias",
    "w8_a16_forward",
    "W8A16LinearLayer",
    "replace_linear_with_target",
    "replace_linear_with_target_and_quantize",
    "model_memory_footprint",
    "quantize_model",
    "save_quantized_state_dict",
    "load_quantized_model",
    "pack_weights",
    "unpack_weights",
]
