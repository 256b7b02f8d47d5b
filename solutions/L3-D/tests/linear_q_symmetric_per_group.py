from otter.test_files import test_case
import torch
from quantlab import checks
import quant_reference as ref


def _per_group_compare(student, r, group_size, dtype, exact_ties=False):
    want_q, want_scale = ref.linear_q_symmetric_per_group(r.clone(), group_size, dtype)
    got = checks.expect_tuple(student(r.clone(), group_size, dtype), 2, what="quantized tensor, scale")
    label = f"{tuple(r.shape)} tensor, group size {group_size}, {dtype}"
    checks.expect_scales(
        got[1], want_scale, what=f"scale ({label})", reveal=False, unit="group",
        layout=f"one scale per group of {group_size} consecutive values of a row, "
               f"as a column of shape {list(want_scale.shape)}",
    )
    exact = None if exact_ties else (r.double().reshape(-1, group_size) / want_scale.double()).reshape(r.shape)
    checks.expect_codes(got[0], want_q, what=f"quantized tensor ({label})", exact=exact, reveal=False,
                        scale=want_scale.repeat_interleave(group_size).reshape(r.shape))


@test_case(name="hidden: random weight matrices, group sizes 4 to 64", points=1, hidden=True)
def hidden_per_group_weights(linear_q_symmetric_per_group):
    g = torch.Generator().manual_seed(800)
    for rows, columns, group_size in ((16, 64, 32), (24, 48, 16), (8, 96, 4), (12, 64, 64)):
        w = torch.randn(rows, columns, generator=g) / columns ** 0.5
        _per_group_compare(linear_q_symmetric_per_group, w, group_size, torch.int8)


@test_case(name="hidden: groups that straddle no row in non-square tensors, and group size 1", points=1, hidden=True)
def hidden_per_group_shapes(linear_q_symmetric_per_group):
    g = torch.Generator().manual_seed(801)
    _per_group_compare(linear_q_symmetric_per_group, torch.randn(3, 10, generator=g), 5, torch.int8)
    _per_group_compare(linear_q_symmetric_per_group, torch.randn(1, 12, generator=g), 3, torch.int8)
    _per_group_compare(linear_q_symmetric_per_group, torch.randn(10, 2, generator=g), 2, torch.int8)
    _per_group_compare(linear_q_symmetric_per_group, torch.randn(4, 6, generator=g), 1, torch.int8)


@test_case(name="hidden: int16 and uint8", points=1, hidden=True)
def hidden_per_group_other_dtypes(linear_q_symmetric_per_group):
    g = torch.Generator().manual_seed(802)
    q_max = 32767
    x = torch.randint(-q_max + 1, q_max, (8, 32), generator=g, dtype=torch.int64).double()
    x = x + (torch.rand(8, 32, generator=g, dtype=torch.float64) - 0.5) * 0.9
    x[:, ::8] = q_max  # every group of 8 reaches q_max: r / s is never near a tie
    _per_group_compare(linear_q_symmetric_per_group, (x * 3e-5).float(), 8, torch.int16)
    _per_group_compare(linear_q_symmetric_per_group, torch.rand(6, 12, generator=g) * 5, 4, torch.uint8)


@test_case(name="hidden: exact ties with power-of-two scales", points=1, hidden=True)
def hidden_per_group_exact_ties(linear_q_symmetric_per_group):
    # Group maxima 63.5, 31.75, 127 and 15.875: scales 0.5, 0.25, 1 and 0.125.
    r = torch.tensor([
        [63.5, 0.25, 0.75, -1.25, -31.75, 0.125, 2.375, -0.625],
        [127.0, 2.5, -0.5, 3.5, 0.0625, 15.875, -1.1875, 4.3125],
    ])
    _per_group_compare(linear_q_symmetric_per_group, r, 4, torch.int8, exact_ties=True)


@test_case(name="hidden: large (256, 512) weight matrix, group size 32", points=1, hidden=True)
def hidden_per_group_large(linear_q_symmetric_per_group):
    g = torch.Generator().manual_seed(804)
    _per_group_compare(linear_q_symmetric_per_group, torch.randn(256, 512, generator=g) * 0.05, 32, torch.int8)


@test_case(name="hidden: row lengths that group_size does not divide are refused", points=1, hidden=True)
def hidden_per_group_bad_group_size(linear_q_symmetric_per_group):
    for shape, group_size in (((2, 6), 4), ((6, 2), 3), ((3, 8), 3), ((5, 10), 4)):
        r = torch.arange(1.0, 1.0 + shape[0] * shape[1]).reshape(shape)
        with checks.expect_raises(ValueError, AssertionError,
                                  what=f"a {shape[0]}x{shape[1]} tensor with group_size={group_size}"):
            linear_q_symmetric_per_group(r, group_size)
