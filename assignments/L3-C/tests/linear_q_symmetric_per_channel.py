import torch
from otter.test_files import test_case

from quantlab import checks, fixtures

OK_FORMAT = False
name = "linear_q_symmetric_per_channel"

_HINT = (
    "For each index i along dim, the scale is max |r| / q_max over the slice r.select(dim, i). "
    "Give the scales the shape [1, ..., 1, -1, 1, ..., 1] (the -1 at dim), so that they broadcast "
    "against the tensor, then quantize with zero point 0."
)


def _public_per_channel_check(got, r, want_q, want_scale, label, layout):
    got = checks.expect_tuple(got, 2, what="quantized tensor, scale")
    checks.expect_scales(got[1], want_scale, what=f"scale of {label}", layout=layout, hint=_HINT)
    checks.expect_codes(
        got[0], want_q, what=f"quantized tensor of {label}", exact=r.double() / want_scale.double(),
        scale=want_scale, hint=_HINT,
    )


_T_ROWS_Q = [[33, -2, 127], [40, 127, -79], [0, 127, 46]]
_T_ROWS_SCALE = [[5.7370076179504395], [2.3267717361450195], [5.3905510902404785]]
_T_COLUMNS_Q = [[127, -3, 127], [61, 55, -32], [0, 127, 43]]
_T_COLUMNS_SCALE = [[1.5086615085601807, 5.3905510902404785, 5.7370076179504395]]


@test_case(name="course fixture: T per row (dim=0)", points=1)
def per_channel_rows(linear_q_symmetric_per_channel):
    r = fixtures.T()
    _public_per_channel_check(
        linear_q_symmetric_per_channel(r.clone(), dim=0), r, torch.tensor(_T_ROWS_Q, dtype=torch.int8),
        torch.tensor(_T_ROWS_SCALE), "T with dim=0", "one scale per row, as a column of shape [rows, 1]",
    )


@test_case(name="course fixture: T per column (dim=1)", points=1)
def per_channel_columns(linear_q_symmetric_per_channel):
    r = fixtures.T()
    _public_per_channel_check(
        linear_q_symmetric_per_channel(r.clone(), dim=1), r, torch.tensor(_T_COLUMNS_Q, dtype=torch.int8),
        torch.tensor(_T_COLUMNS_SCALE), "T with dim=1", "one scale per column, as a row of shape [1, cols]",
    )


@test_case(name="negative dims: dim=-1 is per column and dim=-2 per row for a matrix", points=1)
def per_channel_negative_dims(linear_q_symmetric_per_channel):
    r = fixtures.T()
    _public_per_channel_check(
        linear_q_symmetric_per_channel(r.clone(), dim=-1), r, torch.tensor(_T_COLUMNS_Q, dtype=torch.int8),
        torch.tensor(_T_COLUMNS_SCALE), "T with dim=-1", "dim=-1 is the last dim: one scale per column, shape [1, 3]",
    )
    _public_per_channel_check(
        linear_q_symmetric_per_channel(r.clone(), dim=-2), r, torch.tensor(_T_ROWS_Q, dtype=torch.int8),
        torch.tensor(_T_ROWS_SCALE), "T with dim=-2",
        "dim=-2 is the first dim of a matrix: one scale per row, shape [3, 1]",
    )


@test_case(name="a 2x2x3 tensor per channel along dim=2 and dim=0", points=1)
def per_channel_3d(linear_q_symmetric_per_channel):
    r = torch.tensor([[[1.4, -0.3, 3.1], [0.6, 2.2, -1.1]], [[-4.0, 0.7, 0.1], [2.6, -0.45, 6.0]]])
    _public_per_channel_check(
        linear_q_symmetric_per_channel(r.clone(), dim=2), r,
        torch.tensor([[[44, -17, 66], [19, 127, -23]], [[-127, 40, 2], [83, -26, 127]]], dtype=torch.int8),
        torch.tensor([[[0.031496062874794006, 0.017322834581136703, 0.04724409431219101]]]),
        "the 2x2x3 tensor with dim=2", "one scale per index along dim 2, in shape [1, 1, 3]",
    )
    _public_per_channel_check(
        linear_q_symmetric_per_channel(r.clone(), dim=0), r,
        torch.tensor([[[57, -12, 127], [25, 90, -45]], [[-85, 15, 2], [55, -10, 127]]], dtype=torch.int8),
        torch.tensor([[[0.024409448727965355]], [[0.04724409431219101]]]),
        "the 2x2x3 tensor with dim=0", "one scale per index along dim 0, in shape [2, 1, 1]",
    )
