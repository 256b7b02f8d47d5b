"""What a student reads for the mistakes of labs L4-A and L4-B."""

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

#: Mistake id -> a short title (the class summary's misconceptions table).
TITLES = {
    "w8a16_bias_before_scale": "W8A16: bias added before the scales are applied",
    "w8a16_scale_128": "W8A16: scales divided by 128 instead of 127",
    "w8a16_scales_per_column": "W8A16: scales per column instead of per output row",
    "w8a16_lowprec_divide_no_clamp": "W8A16: low-precision division without a clamp",
    "w8a16_int8_parameter": "W8A16: int8 weights as an nn.Parameter instead of a buffer",
    "replace_no_recursion": "Replacement only at the top level, not in child modules",
    "replace_drops_bias": "Replacement drops the old layer's bias",
    "exclude_by_substring_or_path": "Excluded names matched by substring or dotted path",
    "replace_wrong_arg_order": "New layer built with its arguments in the wrong order",
}
