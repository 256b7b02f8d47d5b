"""What a student reads for the mistakes of lab L3-E (`dequant_sign` is explained with L2-A's)."""

EXPLANATIONS = {
    "w8a32_missing_scale": "The weight goes into the layer as raw integer codes. Dequantize it first, "
    "`s_w * (q_w.float() - z_w)`, and then apply the linear layer.",
    "w8a32_transposed_weight": "The weight is transposed. `F.linear(input, weight)` already computes "
    "`input @ weight.T` for a weight of shape (out_features, in_features): pass the dequantized weight as it is.",
}

#: Mistake id -> a short title (the class summary's misconceptions table).
TITLES = {
    "w8a32_missing_scale": "W8A32: the scale left out of the product",
    "w8a32_transposed_weight": "W8A32: the weight transposed",
}
