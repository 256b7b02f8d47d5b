from otter.test_files import test_case
import torch
from quantlab import checks
import quant_reference as ref


def _per_channel_compare(student, r, dim, dtype, exact_ties=False):
    want_q, want_scale = ref.linear_q_symmetric_per_channel(r.clone(), dim, dtype)
    got = checks.expect_tuple(student(r.clone(), dim, dtype), 2, what="quantized tensor, scale")
    shape = list(want_scale.shape)
    checks.expect_scales(
        got[1], want_scale, what=f"scale ({tuple(r.shape)} tensor, dim={dim}, {dtype})", reveal=False,
        layout=f"one scale per index along dim {dim}, with size-1 dims elsewhere so it broadcasts: shape {shape}",
    )
    exact = None if exact_ties else r.double() / want_scale.double()
    checks.expect_codes(
        got[0], want_q, what=f"quantized tensor ({tuple(r.shape)}, dim={dim}, {dtype})", exact=exact,
        scale=want_scale, reveal=False,
    )


def _weights(g, out_features, in_features):
    return torch.randn(out_features, in_features, generator=g) / in_features ** 0.5


@test_case(name="hidden: random (out, in) weight matrices per row and per column, int8", points=1, hidden=True)
def hidden_per_channel_weights(linear_q_symmetric_per_channel):
    g = torch.Generator().manual_seed(700)
    for dim in (0, 1):
        _per_channel_compare(linear_q_symmetric_per_channel, _weights(g, 48, 32), dim, torch.int8)
        _per_channel_compare(linear_q_symmetric_per_channel, _weights(g, 16, 40), dim, torch.int8)


@test_case(name="hidden: negative dims on 2-D and 3-D tensors", points=1, hidden=True)
def hidden_per_channel_negative_dims(linear_q_symmetric_per_channel):
    g = torch.Generator().manual_seed(701)
    _per_channel_compare(linear_q_symmetric_per_channel, _weights(g, 24, 20), -1, torch.int8)
    _per_channel_compare(linear_q_symmetric_per_channel, _weights(g, 24, 20), -2, torch.int8)
    r = torch.randn(4, 6, 10, generator=g)
    for dim in (-1, -2, -3):
        _per_channel_compare(linear_q_symmetric_per_channel, r, dim, torch.int8)


@test_case(name="hidden: 3-D tensors along every dim", points=1, hidden=True)
def hidden_per_channel_3d(linear_q_symmetric_per_channel):
    g = torch.Generator().manual_seed(702)
    r = torch.randn(5, 8, 12, generator=g) * 0.2
    for dim in (0, 1, 2):
        _per_channel_compare(linear_q_symmetric_per_channel, r, dim, torch.int8)


@test_case(name="hidden: a 1-D tensor and matrices with a size-1 dim", points=1, hidden=True)
def hidden_per_channel_small_shapes(linear_q_symmetric_per_channel):
    g = torch.Generator().manual_seed(703)
    _per_channel_compare(linear_q_symmetric_per_channel, torch.randn(9, generator=g), 0, torch.int8)
    _per_channel_compare(linear_q_symmetric_per_channel, torch.randn(1, 12, generator=g), 0, torch.int8)
    _per_channel_compare(linear_q_symmetric_per_channel, torch.randn(12, 1, generator=g), 1, torch.int8)
    _per_channel_compare(linear_q_symmetric_per_channel, torch.randn(7, 1, generator=g), 0, torch.int8)


def _tie_free_rows(g, rows, columns, dtype):
    """r = s_i * (q + u), |u| <= 0.45, with max |row i| = s_i * q_max: no code near a tie."""
    q_max = torch.iinfo(dtype).max
    x = torch.randint(-q_max + 1, q_max, (rows, columns), generator=g, dtype=torch.int64).double()
    x = x + (torch.rand(rows, columns, generator=g, dtype=torch.float64) - 0.5) * 0.9
    x[:, 0] = q_max * torch.where(torch.rand(rows, generator=g) < 0.5, -1.0, 1.0).double()
    scales = 10 ** (torch.rand(rows, 1, generator=g, dtype=torch.float64) * 4 - 6)
    return (scales * x).float()


@test_case(name="hidden: int16 over the whole code range, and uint8", points=1, hidden=True)
def hidden_per_channel_other_dtypes(linear_q_symmetric_per_channel):
    g = torch.Generator().manual_seed(704)
    r = _tie_free_rows(g, 24, 32, torch.int16)
    _per_channel_compare(linear_q_symmetric_per_channel, r, 0, torch.int16)
    _per_channel_compare(linear_q_symmetric_per_channel, r.t().contiguous(), 1, torch.int16)
    _per_channel_compare(linear_q_symmetric_per_channel, torch.rand(20, 16, generator=g) * 3, 1, torch.uint8)


@test_case(name="hidden: exact ties with power-of-two scales", points=1, hidden=True)
def hidden_per_channel_exact_ties(linear_q_symmetric_per_channel):
    # Row maxima 63.5, -31.75 and 127: scales 0.5, 0.25 and 1 exactly; r / s hits .5 on most elements.
    r = torch.tensor([
        [63.5, 0.25, 0.75, 1.25, -2.75, 10.25],
        [0.125, -31.75, 0.375, -0.625, 2.125, 5.375],
        [0.5, 1.5, -2.5, 3.5, 127.0, -4.5],
    ])
    _per_channel_compare(linear_q_symmetric_per_channel, r, 0, torch.int8, exact_ties=True)
    _per_channel_compare(linear_q_symmetric_per_channel, r.t().contiguous(), 1, torch.int8, exact_ties=True)


@test_case(name="hidden: large (256, 512) weight matrix per row and per column", points=1, hidden=True)
def hidden_per_channel_large(linear_q_symmetric_per_channel):
    g = torch.Generator().manual_seed(706)
    w = _weights(g, 256, 512)
    _per_channel_compare(linear_q_symmetric_per_channel, w, 0, torch.int8)
    _per_channel_compare(linear_q_symmetric_per_channel, w, 1, torch.int8)
