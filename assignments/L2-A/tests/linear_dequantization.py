import torch
from otter.test_files import test_case

from quantlab import checks

OK_FORMAT = False
name = "linear_dequantization"


@test_case(name="course fixture: int8 codes of T with scale 3.5 and zero point -70", points=1)
def dequantize_course_fixture(linear_dequantization):
    q = torch.tensor([[-15, -74, 127], [-44, 14, -123], [-70, 126, 0]], dtype=torch.int8)
    got = linear_dequantization(q.clone(), 3.5, -70)
    want = torch.tensor([[192.5, -14.0, 689.5], [91.0, 294.0, -185.5], [0.0, 686.0, 245.0]])
    checks.expect_close(
        got, want, what="dequantized tensor", rtol=1e-6, atol=1e-6 * 689.5,
        hint="Cast the codes to float before subtracting the zero point (int8 arithmetic wraps "
        "around: 127 - (-70) is not 197 in int8), then multiply by the scale.",
    )


@test_case(name="uint8 codes of T with scale 3.578823433670343 and zero point 51", points=1)
def dequantize_uint8(linear_dequantization):
    q = torch.tensor([[105, 47, 255], [77, 134, 0], [51, 242, 120]], dtype=torch.uint8)
    got = linear_dequantization(q.clone(), 3.578823433670343, 51)
    want = torch.tensor(
        [
            [193.25645446777344, -14.315293312072754, 730.0799560546875],
            [93.04940795898438, 297.0423278808594, -182.51998901367188],
            [0.0, 683.5552368164062, 246.93881225585938],
        ]
    )
    checks.expect_close(
        got, want, what="dequantized tensor", rtol=1e-6, atol=1e-6 * 730.08,
        hint="The result is scale * (q - zero_point) in float32, whatever the dtype of the codes: "
        "uint8 cannot hold 0 - 51.",
    )


@test_case(name="int16 codes of T with scale 0.022235785259130756 and zero point 0", points=1)
def dequantize_int16(linear_dequantization):
    q = torch.tensor([[8617, -607, 32767], [4144, 13289, -8275], [0, 30788, 11041]], dtype=torch.int16)
    got = linear_dequantization(q.clone(), 0.022235785259130756, 0)
    want = torch.tensor(
        [
            [191.6057586669922, -13.49712085723877, 728.5999755859375],
            [92.14508819580078, 295.4913330078125, -184.00111389160156],
            [0.0, 684.5953369140625, 245.5052947998047],
        ]
    )
    checks.expect_close(got, want, what="dequantized tensor", rtol=1e-6, atol=1e-6 * 728.6)
