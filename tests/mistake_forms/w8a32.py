"""Forms of the mistakes of lab L3-E, written as students write them (not as the catalogue does)."""

from mistake_forms import form

FORMS = {
    "w8a32_missing_scale": [
        # A matmul with the codes less the zero point: the scale never enters.
        form(
            """
            import torch

            def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
                return input @ (q_w.float() - z_w).T
            """
        ),
        # einsum over the shifted codes.
        form(
            """
            import torch

            def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
                assert input.dtype == torch.float32 and q_w.dtype == torch.int8
                weight = q_w.to(torch.float32) - z_w
                return torch.einsum("...i,oi->...o", input, weight)
            """
        ),
        # One output feature at a time.
        form(
            """
            import torch

            def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
                columns = [(input * (q_w[o].float() - z_w)).sum(dim=-1) for o in range(q_w.shape[0])]
                return torch.stack(columns, dim=-1)
            """
        ),
        # The codes as they are, as docs/course.md writes this mistake: neither scale nor zero point.
        form(
            """
            import torch.nn.functional as F

            def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
                return F.linear(input, q_w.float())
            """
        ),
    ],
    "w8a32_transposed_weight": [
        # input @ W: F.linear's transpose forgotten the other way round.
        form(
            """
            import torch

            def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
                dequantized = s_w * (q_w.float() - z_w)
                return torch.matmul(input, dequantized)
            """
        ),
        # Transposed "to match" F.linear.
        form(
            """
            import torch
            import torch.nn.functional as F

            def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
                weight = (q_w.to(torch.float32) - z_w).mul(s_w)
                return F.linear(input, weight.t().contiguous())
            """
        ),
        # einsum reading the weight as (in, out).
        form(
            """
            import torch

            def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
                w = s_w * (q_w.double() - z_w)
                return torch.einsum("...i,io->...o", input.double(), w).float()
            """
        ),
    ],
    "dequant_sign": [
        # s * (q + z)
        form(
            """
            import torch

            def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
                weight = s_w * (q_w.float() + z_w)
                return torch.nn.functional.linear(input, weight)
            """
        ),
        # q * s + z, with tensor methods and a matmul.
        form(
            """
            import torch

            def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
                weight = q_w.to(torch.float32).mul(s_w).add(z_w)
                return input.matmul(weight.T)
            """
        ),
        # s * (q + z) distributed over the matmul.
        form(
            """
            import torch

            def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
                codes = input @ q_w.float().T
                shift = z_w * input.sum(dim=-1, keepdim=True)
                return (codes + shift) * s_w
            """
        ),
    ],
}

#: Right code of these labs written unlike the course's and every correct style: no diagnosis.
CORRECT = [
    form(
        """
        import torch

        def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
            weight = torch.sub(q_w.to(torch.float32), z_w).mul(s_w)
            return torch.einsum("...i,oi->...o", input, weight)
        """
    ),
    form(
        """
        import torch

        def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
            codes = input @ q_w.float().T
            shift = z_w * input.sum(dim=-1, keepdim=True)
            return (codes - shift) * s_w
        """
    ),
]

#: Wrong code that no catalogued mistake describes: it must fail its lab and get no diagnosis.
UNCATALOGUED = [
    # The layer computed in float64 and returned so.
    form(
        """
        import torch
        def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
            return input.double() @ (s_w * (q_w.double() - z_w)).T
        """
    ),
    # The zero point left out of the dequantized weight.
    form(
        """
        import torch
        def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
            return torch.nn.functional.linear(input, s_w * q_w.float())
        """
    ),
]
