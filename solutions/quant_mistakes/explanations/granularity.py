"""What a student reads for the mistakes of labs L3-C and L3-D."""

EXPLANATIONS = {
    "per_channel_wrong_dim": "Your scales come from the other dimension: with dim=0 there should be one scale for "
    "each row (the largest |r| in that row), but yours has one for each column. `amax(dim=dim)` reduces *over* "
    "dim; per channel needs one value *for each index* along dim, so take the max over every other dimension "
    "(or loop over `r_tensor.select(dim, i)`).",
    "per_channel_missing_reshape": "Your scale is a flat 1-D tensor. Dividing by it broadcasts it along the "
    "*last* dimension, so a row's scale is applied to a column. Reshape it to `[1] * r_tensor.dim()` with -1 at "
    "`dim` (shape [rows, 1] for dim=0, [1, cols] for dim=1) before quantizing, and return it in that shape.",
    "per_group_wrong_axis": "Your groups run down the columns. A group is group_size consecutive values of one "
    "row: `tensor.view(-1, group_size)` (no transpose) makes each row of the view one group, and "
    "dequantization must use the same view.",
}

#: Mistake id -> a short title (the class summary's misconceptions table).
TITLES = {
    "per_channel_wrong_dim": "Per-channel scales taken along the wrong dim",
    "per_channel_missing_reshape": "Per-channel scales left 1-D, so they broadcast along the wrong dim",
    "per_group_wrong_axis": "Groups taken down the columns instead of along each row",
}
