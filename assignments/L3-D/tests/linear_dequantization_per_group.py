import torch
from otter.test_files import test_case

from quantlab import checks

OK_FORMAT = False
name = "linear_dequantization_per_group"

_HINT = (
    "View the codes as (-1, group_size), so that each row of the view is one group and lines up with "
    "one scale of shape [groups, 1]; dequantize with zero point 0 (scale * q.float()) and view the result "
    "back to the shape of the codes."
)


def _public_dequantization_check(got, want, label):
    checks.expect_close(got, want, what=f"dequantized tensor of {label}", rtol=1e-6,
                        atol=1e-6 * float(want.abs().max()), hint=_HINT)


@test_case(name="small tensor A: codes and scales of group size 2", points=1)
def dequantization_small(linear_dequantization_per_group):
    q = torch.tensor([[64, 127, 95, 127], [106, 127, 111, 127]], dtype=torch.int8)
    scale = torch.tensor([[0.015748031437397003], [0.031496062874794006], [0.04724409431219101], [0.06299212574958801]])
    want = torch.tensor([
        [1.0078740119934082, 2.0, 2.992125988006592, 4.0], [5.007874011993408, 6.0, 6.992125988006592, 8.0],
    ])
    _public_dequantization_check(linear_dequantization_per_group(q.clone(), scale.clone(), 2), want, "A (group size 2)")


@test_case(name="course fixture: G's codes and scales of group size 3", points=1)
def dequantization_course_fixture(linear_dequantization_per_group):
    q = torch.tensor([
        [82, 127, 15, 26, 62, 127], [69, 127, 65, 127, 70, 81], [10, 73, 127, 82, 111, 127],
        [30, 53, 127, 127, 55, 121], [56, 74, 127, 12, 63, 127], [42, 127, 24, 127, 71, 15],
    ], dtype=torch.int8)
    scale = torch.tensor([
        0.006048990413546562, 0.004992745351046324, 0.007058619987219572, 0.004978789482265711,
        0.002314082346856594, 0.006299302447587252, 0.005366996396332979, 0.007206251844763756,
        0.007501875050365925, 0.0029402943328022957, 0.007338585797697306, 0.0021246736869215965,
    ]).reshape(12, 1)
    want = torch.tensor([
        [0.4960172176361084, 0.7682217955589294, 0.09073485434055328,
         0.1298113763332367, 0.3095502257347107, 0.6340786814689636],
        [0.4870447814464569, 0.8964447379112244, 0.45881029963493347,
         0.6323062777519226, 0.34851527214050293, 0.40328195691108704],
        [0.02314082346856594, 0.16892801225185394, 0.2938884496688843,
         0.5165427923202515, 0.6992225646972656, 0.800011396408081],
        [0.16100989282131195, 0.28445079922676086, 0.6816085577011108,
         0.9151939749717712, 0.396343857049942, 0.871956467628479],
        [0.4201050102710724, 0.5551387667655945, 0.9527381062507629,
         0.03528353199362755, 0.1852385401725769, 0.37341737747192383],
        [0.30822059512138367, 0.9320003986358643, 0.17612606287002563,
         0.2698335647583008, 0.15085183084011078, 0.03187010437250137],
    ])
    _public_dequantization_check(linear_dequantization_per_group(q.clone(), scale.clone(), 3), want, "G (group size 3)")
