import torch
from otter.test_files import test_case

from quantlab import checks, fixtures

OK_FORMAT = False
name = "linear_q_symmetric_per_group"

_HINT = (
    "A group is group_size consecutive values of one row. View the tensor as (-1, group_size), so each "
    "row of the view is a group, quantize that per channel with dim=0, and view the codes back to the "
    "tensor's shape. The scales keep the shape [number of groups, 1]."
)
_LAYOUT = "one scale per group (groups run along each row, in order), as a column of shape [groups, 1]"


def _public_per_group_check(got, r, group_size, want_q, want_scale, label):
    got = checks.expect_tuple(got, 2, what="quantized tensor, scale")
    checks.expect_scales(got[1], want_scale, what=f"scale of {label}", layout=_LAYOUT, hint=_HINT, unit="group")
    exact = (r.double().reshape(-1, group_size) / want_scale.double()).reshape(r.shape)
    checks.expect_codes(
        got[0], want_q, what=f"quantized tensor of {label}", exact=exact,
        scale=want_scale.repeat_interleave(group_size).reshape(r.shape), hint=_HINT,
    )


@test_case(name="course fixture: G (seeded 6x6) with group size 3", points=1)
def per_group_course_fixture(linear_q_symmetric_per_group):
    r = fixtures.G()
    want_q = torch.tensor([
        [82, 127, 15, 26, 62, 127], [69, 127, 65, 127, 70, 81], [10, 73, 127, 82, 111, 127],
        [30, 53, 127, 127, 55, 121], [56, 74, 127, 12, 63, 127], [42, 127, 24, 127, 71, 15],
    ], dtype=torch.int8)
    want_scale = torch.tensor([
        0.006048990413546562, 0.004992745351046324, 0.007058619987219572, 0.004978789482265711,
        0.002314082346856594, 0.006299302447587252, 0.005366996396332979, 0.007206251844763756,
        0.007501875050365925, 0.0029402943328022957, 0.007338585797697306, 0.0021246736869215965,
    ]).reshape(12, 1)
    _public_per_group_check(
        linear_q_symmetric_per_group(r.clone(), group_size=3), r, 3, want_q, want_scale, "G, group size 3",
    )


@test_case(name="small tensor A = [[1, 2, 3, 4], [5, 6, 7, 8]] with group size 2", points=1)
def per_group_small(linear_q_symmetric_per_group):
    r = fixtures.A()
    want_q = torch.tensor([[64, 127, 95, 127], [106, 127, 111, 127]], dtype=torch.int8)
    # 2/127, 4/127, 6/127 and 8/127 in float32
    want_scale = torch.tensor(
        [[0.015748031437397003], [0.031496062874794006], [0.04724409431219101], [0.06299212574958801]],
    )
    _public_per_group_check(
        linear_q_symmetric_per_group(r.clone(), group_size=2), r, 2, want_q, want_scale, "A, group size 2",
    )


@test_case(name="G with group size 6: one group per row", points=1)
def per_group_whole_rows(linear_q_symmetric_per_group):
    r = fixtures.G()
    want_q = torch.tensor([
        [82, 127, 15, 22, 51, 105], [69, 127, 65, 90, 49, 57], [4, 27, 47, 82, 111, 127],
        [22, 39, 95, 127, 55, 121], [56, 74, 127, 5, 25, 50], [42, 127, 24, 37, 21, 4],
    ], dtype=torch.int8)
    want_scale = torch.tensor([
        0.006048990413546562, 0.007058619987219572, 0.006299302447587252,
        0.007206251844763756, 0.007501875050365925, 0.007338585797697306,
    ]).reshape(6, 1)
    _public_per_group_check(
        linear_q_symmetric_per_group(r.clone(), group_size=6), r, 6, want_q, want_scale, "G, group size 6",
    )


@test_case(name="a group size that does not divide the row length is refused", points=1)
def per_group_bad_group_size(linear_q_symmetric_per_group):
    # 4 x 6 = 24 values could be cut into groups of 4, but a row of 6 cannot: groups would straddle rows.
    r = torch.arange(1.0, 25.0).reshape(4, 6)
    with checks.expect_raises(ValueError, AssertionError,
                              what="a 4x6 tensor with group_size=4 (6 is not a multiple of 4)"):
        linear_q_symmetric_per_group(r.clone(), group_size=4)
