from otter.test_files import test_case
import torch
from quantlab import checks
import quant_reference as ref


def _error_compare(student, r, dq):
    want = ref.quantization_error(r.clone(), dq.clone())
    got = student(r.clone(), dq.clone())
    checks.expect_close(got, want, what="quantization error (MSE, a 0-d float32 tensor)", rtol=1e-3, reveal=False)


@test_case(name="hidden: random tensor and a noisy copy", points=1, hidden=True)
def hidden_error_noise(quantization_error):
    g = torch.Generator().manual_seed(410)
    r = torch.randn(64, 64, generator=g)
    _error_compare(quantization_error, r, r + torch.randn(64, 64, generator=g) * 0.01)


@test_case(name="hidden: dequantized weights of per-tensor and asymmetric quantization", points=1, hidden=True)
def hidden_error_dequantized(quantization_error):
    g = torch.Generator().manual_seed(411)
    w = torch.randn(96, 64, generator=g) / 8
    q, s = ref.linear_q_symmetric(w.clone())
    _error_compare(quantization_error, w, ref.linear_dequantization(q, s, 0))
    q, s, z = ref.linear_quantization(w.clone(), torch.uint8)
    _error_compare(quantization_error, w, ref.linear_dequantization(q, s, z))


@test_case(name="hidden: large 3-D tensors", points=1, hidden=True)
def hidden_error_large(quantization_error):
    g = torch.Generator().manual_seed(412)
    r = torch.randn(8, 64, 96, generator=g)
    _error_compare(quantization_error, r, r + (torch.rand(8, 64, 96, generator=g) - 0.5) * 0.02)


@test_case(name="hidden: tiny and huge magnitudes", points=1, hidden=True)
def hidden_error_magnitudes(quantization_error):
    g = torch.Generator().manual_seed(413)
    r = torch.randn(20, 30, generator=g)
    noise = torch.randn(20, 30, generator=g)
    _error_compare(quantization_error, r * 1e-3, (r + noise * 0.1) * 1e-3)
    _error_compare(quantization_error, r * 1e3, (r + noise * 0.1) * 1e3)
