from otter.test_files import test_case
import torch
from quantlab import checks
import quant_reference as ref


def _per_tensor_compare(student, w, dtype, exact_ties=False):
    want_q, want_scale = ref.linear_q_symmetric(w.clone(), dtype)
    got = checks.expect_tuple(student(w.clone(), dtype), 2, what="quantized tensor, scale")
    checks.expect_float(got[1], want_scale, what=f"per-tensor scale ({dtype})", reveal=False)
    exact = None if exact_ties else w.double() / want_scale
    checks.expect_codes(got[0], want_q, what=f"quantized weights ({dtype})", exact=exact, scale=want_scale,
                        reveal=False)


def _weights(g, out_features, in_features):
    return torch.randn(out_features, in_features, generator=g) / in_features ** 0.5


@test_case(name="hidden: random (out, in) weight matrices, int8", points=1, hidden=True)
def hidden_per_tensor_weights(linear_q_symmetric):
    g = torch.Generator().manual_seed(400)
    _per_tensor_compare(linear_q_symmetric, _weights(g, 64, 32), torch.int8)
    _per_tensor_compare(linear_q_symmetric, _weights(g, 32, 64), torch.int8)


@test_case(name="hidden: weight matrices with a positive or a negative outlier", points=1, hidden=True)
def hidden_per_tensor_outliers(linear_q_symmetric):
    g = torch.Generator().manual_seed(401)
    w = _weights(g, 96, 64)
    w[17, 5] = 0.9
    _per_tensor_compare(linear_q_symmetric, w, torch.int8)
    w = _weights(g, 48, 80)
    w[3, 71] = -1.3
    _per_tensor_compare(linear_q_symmetric, w, torch.int8)


@test_case(name="hidden: int16 over the whole code range, and uint8", points=1, hidden=True)
def hidden_per_tensor_other_dtypes(linear_q_symmetric):
    g = torch.Generator().manual_seed(402)
    x = torch.randint(-32766, 32767, (64, 48), generator=g, dtype=torch.int64).double()
    x = x + (torch.rand(64, 48, generator=g, dtype=torch.float64) - 0.5) * 0.9
    x[0, 0], x[-1, -1] = -32767, 32767
    _per_tensor_compare(linear_q_symmetric, (x * 2.1e-6).float(), torch.int16)
    _per_tensor_compare(linear_q_symmetric, _weights(g, 40, 24).abs(), torch.uint8)


@test_case(name="hidden: exact ties with a power-of-two scale", points=1, hidden=True)
def hidden_per_tensor_exact_ties(linear_q_symmetric):
    # max |w| = 63.5: scale 0.5 exactly; w / scale hits .5 on most elements.
    w = torch.tensor([[-63.5, 0.25, 0.75, 1.25], [2.25, -0.25, -1.25, -2.75], [10.75, 0.5, 30.25, -41.25]])
    _per_tensor_compare(linear_q_symmetric, w, torch.int8, exact_ties=True)


@test_case(name="hidden: large (256, 512) weight matrix", points=1, hidden=True)
def hidden_per_tensor_large(linear_q_symmetric):
    g = torch.Generator().manual_seed(404)
    _per_tensor_compare(linear_q_symmetric, _weights(g, 256, 512), torch.int8)
