"""Mistakes of labs L3-C and L3-D: per-channel scales from the wrong dimension or in the wrong shape,
and groups taken down the columns."""

from __future__ import annotations

from quant_mistakes.course import dedent
from quant_mistakes.mistakes import Mistake

PER_CHANNEL = "linear_q_symmetric_per_channel"
PER_GROUP = "linear_q_symmetric_per_group"
DEQUANTIZE_PER_GROUP = "linear_dequantization_per_group"
#: Questions that go through the student's `linear_q_symmetric_per_channel`.
PER_CHANNEL_QUESTIONS = {"L3-C": (PER_CHANNEL,), "L3-D": (PER_GROUP,)}

MISTAKES = (
    Mistake(
        "per_channel_wrong_dim",
        functions={
            PER_CHANNEL: dedent(
                """
                def linear_q_symmetric_per_channel(r_tensor, dim, dtype=torch.int8):
                    scale = r_tensor.abs().amax(dim=dim, keepdim=True) / torch.iinfo(dtype).max
                    quantized_tensor = linear_q_with_scale_and_zero_point(r_tensor, scale=scale, zero_point=0, dtype=dtype)
                    return quantized_tensor, scale
                """
            )
        },
        affects=PER_CHANNEL_QUESTIONS,
    ),
    Mistake(
        "per_channel_missing_reshape",
        functions={
            PER_CHANNEL: dedent(
                """
                def linear_q_symmetric_per_channel(r_tensor, dim, dtype=torch.int8):
                    output_dim = r_tensor.shape[dim]
                    scale = torch.zeros(output_dim)
                    for index in range(output_dim):
                        sub_tensor = r_tensor.select(dim, index)
                        scale[index] = get_q_scale_symmetric(sub_tensor, dtype=dtype)
                    quantized_tensor = linear_q_with_scale_and_zero_point(r_tensor, scale=scale, zero_point=0, dtype=dtype)
                    return quantized_tensor, scale
                """
            )
        },
        affects=PER_CHANNEL_QUESTIONS,
    ),
    Mistake(
        "per_group_wrong_axis",
        functions={
            PER_GROUP: dedent(
                """
                def linear_q_symmetric_per_group(tensor, group_size, dtype=torch.int8):
                    t_shape = tensor.shape
                    assert t_shape[1] % group_size == 0
                    assert tensor.dim() == 2
                    columns = tensor.t().reshape(-1, group_size)
                    quantized_tensor, scale = linear_q_symmetric_per_channel(columns, dim=0, dtype=dtype)
                    quantized_tensor = quantized_tensor.reshape(t_shape[1], t_shape[0]).t()
                    return quantized_tensor, scale
                """
            ),
            DEQUANTIZE_PER_GROUP: dedent(
                """
                def linear_dequantization_per_group(quantized_tensor, scale, group_size):
                    q_shape = quantized_tensor.shape
                    columns = quantized_tensor.t().reshape(-1, group_size)
                    dequantized_tensor = linear_dequantization(columns, scale, 0)
                    return dequantized_tensor.reshape(q_shape[1], q_shape[0]).t()
                """
            ),
        },
        affects={"L3-D": (PER_GROUP, DEQUANTIZE_PER_GROUP)},
    ),
)
