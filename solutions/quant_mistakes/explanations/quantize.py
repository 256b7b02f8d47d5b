"""What a student reads for the mistakes of labs L2-A to L3-B."""

EXPLANATIONS = {
    "round_truncate_cast": "Your codes look truncated, not rounded: `.to(dtype)` drops the fraction. "
    "Round with `torch.round` before clamping and casting.",
    "round_floor": "Your codes look rounded down (floor). Use `torch.round`, which rounds to the nearest integer.",
    "round_half_away": "Exact halves are rounded away from zero in your code. `torch.round` rounds them to the "
    "nearest even integer (0.5 -> 0, 1.5 -> 2, 2.5 -> 2).",
    "round_before_zero_point": "You round `r / s` and then add the zero point. Add the zero point first, then round: "
    "`torch.round(r / s + z)`. The two differ on exact halves when z is odd.",
    "missing_clamp": "Values beyond the integer range wrap around (127 + 1 becomes -128). Clamp to "
    "`[q_min, q_max]` before casting.",
    "zero_point_subtracted": "The zero point is subtracted. Quantization adds it: `q = round(r / s + z)`; "
    "dequantization subtracts it: `s * (q - z)`.",
    "dequant_no_float_cast": "`q - z` is computed in the integer dtype and wraps around. Cast first: "
    "`scale * (quantized_tensor.float() - zero_point)`.",
    "dequant_sign": "Dequantization is `s * (q - z)`: subtract the zero point, then multiply by the scale.",
    "scale_inverted": "Your scale is upside down. It is `(r_max - r_min) / (q_max - q_min)`: real units per "
    "integer step.",
    "zero_point_truncated": "`int(z)` cuts the fraction off (toward zero). Round the zero point: `int(round(z))`.",
    "zero_point_not_rounded": "The zero point must be a Python int: round it with `int(round(z))`.",
    "zero_point_not_clipped": "A zero point outside `[q_min, q_max]` must be clipped: below the range it becomes "
    "`q_min`, above it `q_max`.",
    "zero_point_clip_to_qmin": "A zero point above the range should become `q_max`, not `q_min` (only one below "
    "the range becomes `q_min`).",
    "int8_range_hardcoded": "The integer range is fixed to int8. Take it from the dtype you are given: "
    "`torch.iinfo(dtype).min` and `.max`.",
    "sym_scale_128": "The symmetric scale divides by 128. It is `max|r| / q_max`, and `q_max` is 127 for int8.",
    "sym_scale_127_5": "The symmetric scale divides by 127.5, the half-range. It is `max|r| / q_max` (127 for int8).",
    "sym_scale_no_abs": "The symmetric scale uses the largest value, not the largest magnitude. Use "
    "`tensor.abs().max()`, so negative values count too.",
    "dtype_not_forwarded": "The dtype is not passed on to the scale computation, so other dtypes get int8's "
    "scale. Pass `dtype=dtype` along.",
    "error_metric_mae": "This is the mean absolute error. The lab's error is the mean squared error: "
    "`(dq - r).square().mean()`.",
    "error_metric_sum": "This is the sum of squared errors. Divide by the number of elements: take the mean.",
    "error_metric_rmse": "This is the root of the mean squared error. The lab's error is the MSE itself, "
    "without the square root.",
}

#: Mistake id -> a short title (the class summary's misconceptions table).
TITLES = {
    "round_truncate_cast": "Codes truncated by the cast instead of rounded",
    "round_floor": "Codes rounded down (floor)",
    "round_half_away": "Halves rounded away from zero instead of to even",
    "round_before_zero_point": "Rounding before adding the zero point",
    "missing_clamp": "No clamp to the integer range (codes wrap around)",
    "zero_point_subtracted": "Zero point subtracted when quantizing",
    "dequant_no_float_cast": "Dequantization in the integer dtype (wraps around)",
    "dequant_sign": "Dequantization formula with the wrong sign or order",
    "scale_inverted": "Scale upside down",
    "zero_point_truncated": "Zero point truncated by int() instead of rounded",
    "zero_point_not_rounded": "Zero point left as a float",
    "zero_point_not_clipped": "Zero point not clipped to the integer range",
    "zero_point_clip_to_qmin": "Zero point above the range clipped to q_min",
    "int8_range_hardcoded": "Integer range fixed to int8 whatever the dtype",
    "sym_scale_128": "Symmetric scale divided by 128 instead of 127",
    "sym_scale_127_5": "Symmetric scale divided by 127.5",
    "sym_scale_no_abs": "Symmetric scale from the largest value, not the largest magnitude",
    "dtype_not_forwarded": "The dtype is not passed on to the helpers",
    "error_metric_mae": "Quantization error as the mean absolute error",
    "error_metric_sum": "Quantization error as a sum of squares, not the mean",
    "error_metric_rmse": "Quantization error as the root of the MSE",
}
