from otter.test_files import test_case
import torch
from quantlab import checks
import quant_reference as ref


def _dequantization_compare(student, q, scale, group_size):
    want = ref.linear_dequantization_per_group(q.clone(), scale.clone(), group_size)
    got = student(q.clone(), scale.clone(), group_size)
    checks.expect_close(
        got, want, what=f"dequantized tensor ({tuple(q.shape)} codes, group size {group_size})", rtol=1e-6,
        atol=1e-6 * float(want.abs().max()), reveal=False,
    )


@test_case(name="hidden: codes and scales of random weight matrices", points=1, hidden=True)
def hidden_dequantization_weights(linear_dequantization_per_group):
    g = torch.Generator().manual_seed(810)
    for rows, columns, group_size in ((16, 64, 32), (24, 48, 16), (6, 12, 2)):
        q, scale = ref.linear_q_symmetric_per_group(torch.randn(rows, columns, generator=g), group_size)
        _dequantization_compare(linear_dequantization_per_group, q, scale, group_size)


@test_case(name="hidden: non-square shapes, one group per row, and a single row", points=1, hidden=True)
def hidden_dequantization_shapes(linear_dequantization_per_group):
    g = torch.Generator().manual_seed(811)
    for shape, group_size in (((3, 10), 5), ((5, 8), 8), ((1, 12), 4), ((10, 2), 2)):
        q, scale = ref.linear_q_symmetric_per_group(torch.randn(shape, generator=g), group_size)
        _dequantization_compare(linear_dequantization_per_group, q, scale, group_size)


@test_case(name="hidden: random codes over the whole int8 range and int16 codes", points=1, hidden=True)
def hidden_dequantization_code_range(linear_dequantization_per_group):
    g = torch.Generator().manual_seed(812)
    q = torch.randint(-128, 128, (8, 24), generator=g, dtype=torch.int8)
    scale = torch.rand(48, 1, generator=g) * 0.1 + 1e-3
    _dequantization_compare(linear_dequantization_per_group, q, scale, 4)
    q = torch.randint(-32767, 32768, (4, 16), generator=g, dtype=torch.int16)
    scale = torch.rand(8, 1, generator=g) * 1e-4 + 1e-6
    _dequantization_compare(linear_dequantization_per_group, q, scale, 8)


@test_case(name="hidden: large (256, 512) matrix, group size 64", points=1, hidden=True)
def hidden_dequantization_large(linear_dequantization_per_group):
    g = torch.Generator().manual_seed(813)
    q, scale = ref.linear_q_symmetric_per_group(torch.randn(256, 512, generator=g) * 0.05, 64)
    _dequantization_compare(linear_dequantization_per_group, q, scale, 64)
