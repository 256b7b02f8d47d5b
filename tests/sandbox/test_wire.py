"""The wire format: values survive the trip exactly, and nothing but plain types is ever built."""

import json
import math

import numpy as np
import pytest
import torch

from grader.sandbox import wire


def assert_identical(got: torch.Tensor, want: torch.Tensor) -> None:
    """Same dtype, shape and values, where -0.0 is not 0.0 and NaN is NaN (`torch.equal` and `==`
    call -0.0 and 0.0 equal and NaN unequal to itself, so neither can tell a lost sign)."""
    assert type(got) is torch.Tensor
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    if want.is_floating_point():
        assert torch.equal(torch.isnan(got), torch.isnan(want)), (got, want)
        assert torch.equal(torch.signbit(got), torch.signbit(want)), f"sign of zero lost: {got} != {want}"
        got, want = got.nan_to_num(nan=0.0), want.nan_to_num(nan=0.0)
    assert torch.equal(got, want), (got, want)


def assert_same_float(got, want: float) -> None:
    assert type(got) is float, type(got)
    if math.isnan(want):
        assert math.isnan(got), got
    else:
        assert got == want and math.copysign(1.0, got) == math.copysign(1.0, want), (got, want)


def test_the_comparisons_tell_the_sign_of_zero():
    # What the tests below rely on: -0.0 == 0.0 in Python and in torch.equal, but not here.
    assert -0.0 == 0.0 and torch.equal(torch.tensor([-0.0]), torch.tensor([0.0]))
    with pytest.raises(AssertionError, match="sign of zero"):
        assert_identical(torch.tensor([-0.0]), torch.tensor([0.0]))
    with pytest.raises(AssertionError):
        assert_same_float(0.0, -0.0)
    with pytest.raises(AssertionError):
        assert_identical(torch.tensor([float("nan")]), torch.tensor([0.0]))
    assert_identical(torch.tensor([float("nan"), -0.0]), torch.tensor([float("nan"), -0.0]))
    assert_same_float(float("nan"), float("nan"))


@pytest.mark.parametrize("dtype", list(wire.DTYPES.values()))
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3, 4)])
def test_tensors_round_trip_bit_exact(dtype, shape):
    source = (torch.randn(shape, generator=torch.Generator().manual_seed(0)) * 100).to(dtype)
    if source.is_floating_point() and source.numel() >= 3:
        # signed zeros, NaN and infinities must cross as they are
        source.view(-1)[:3] = torch.tensor([-0.0, float("nan"), -float("inf")])
    elif source.is_floating_point() and source.dim() == 0:
        source = torch.tensor(-0.0, dtype=dtype)
    back = wire.decode(wire.loads(wire.dumps({"v": wire.encode(source)}))["v"])
    assert_identical(back, source)


def test_non_contiguous_and_nan_values_cross_as_they_are():
    source = torch.tensor([[1.0, float("nan")], [float("inf"), -0.0], [0.0, -1.0]]).t()
    back = wire.decode(wire.encode(source))
    assert back.is_contiguous()
    assert back[0, 1].item() == float("inf")
    assert_identical(back, source)
    assert torch.signbit(back[1, 1]) and not torch.signbit(back[0, 2])


def test_python_scalars_keep_their_type():
    values = (3, 3.0, True, None, "text", float("nan"), -0.0, 0.0, -float("inf"))
    back = wire.decode(wire.loads(wire.dumps({"v": wire.encode(values)}))["v"])
    assert type(back) is tuple
    assert [type(v) for v in back] == [int, float, bool, type(None), str, float, float, float, float]
    assert back[:5] == values[:5]
    for got, want in zip(back[5:], values[5:], strict=True):
        assert_same_float(got, want)


def test_containers_and_dtypes():
    value = {"q": [torch.tensor([1], dtype=torch.int8), (torch.int16, 2.5)]}
    back = wire.decode(wire.encode(value))
    assert back["q"][1] == (torch.int16, 2.5)
    assert type(back["q"]) is list
    assert_identical(back["q"][0], value["q"][0])
    signed = wire.decode(wire.loads(wire.dumps(wire.encode({"zero": [-0.0, torch.tensor([-0.0])]}))))
    assert_same_float(signed["zero"][0], -0.0)
    assert_identical(signed["zero"][1], torch.tensor([-0.0]))


def test_numpy_arrays_and_custom_objects_arrive_as_descriptions():
    class Sneaky:
        def __eq__(self, other):
            return True

        def __repr__(self):
            raise RuntimeError("no")

    back = wire.decode(wire.encode((np.zeros(3), Sneaky())))
    assert isinstance(back[0], wire.Foreign) and back[0].type == "numpy.ndarray"
    assert isinstance(back[1], wire.Foreign) and back[1].repr == "<repr failed>"
    assert back[1] != 1


def test_a_stand_in_used_as_a_value_names_the_students_type():
    back = wire.decode(wire.encode(np.zeros(3)))
    with pytest.raises(AttributeError, match=r"^'numpy.ndarray' object has no attribute 'to'$"):
        back.to(torch.uint8)
    assert back.type == "numpy.ndarray"  # its own fields still read as fields


def test_tensor_subclasses_never_cross_as_tensors():
    class Liar(torch.Tensor):
        def __eq__(self, other):
            return torch.ones_like(other, dtype=torch.bool)

    liar = torch.zeros(3).as_subclass(Liar)
    back = wire.decode(wire.encode(liar))
    assert isinstance(back, wire.Foreign)
    assert back.type.endswith("Liar")


@pytest.mark.parametrize(
    "data",
    [
        {"$": "tensor", "dtype": "int8", "shape": [4], "data": "AAA="},  # 2 bytes for 4 elements
        {"$": "tensor", "dtype": "object", "shape": [1], "data": ""},
        {"$": "tensor", "dtype": "int8", "shape": [-1], "data": ""},
        {"$": "pickle", "data": "gASVAAAAAAAAAACMBWJ1aWx0aW5zlIwEZXZhbJSTlC4="},
        {"no": "kind"},
        {"$": "dtype", "name": "Tensor"},
    ],
)
def test_malformed_data_is_refused(data):
    with pytest.raises(wire.WireError):
        wire.decode(data)


def test_decoded_tensor_owns_its_memory():
    source = torch.arange(6, dtype=torch.int16)
    encoded = wire.encode(source)
    first, second = wire.decode(encoded), wire.decode(encoded)
    first += 1
    assert torch.equal(second, source)


def test_quantized_and_sparse_tensors_are_described_by_dtype():
    quantized = torch.quantize_per_tensor(torch.tensor([1.0, 2.0]), 0.5, 0, torch.qint8)
    for value in (quantized, torch.eye(2).to_sparse()):
        back = wire.decode(wire.encode(value))
        assert isinstance(back, wire.Foreign) and back.type.startswith("torch.Tensor of dtype")


def test_student_names_cross_as_tags_and_only_as_identifiers():
    value = [wire.StudentName("W8A16LinearLayer"), {"target": wire.StudentName("f")}]
    encoded = wire.loads(wire.dumps({"v": wire.encode(value)}))["v"]
    assert encoded["items"][0] == {"$": "student", "name": "W8A16LinearLayer"}
    assert wire.decode(encoded) == value
    for bad in ({"$": "student", "name": "os.system"}, {"$": "student", "name": 3}, {"$": "student"}):
        with pytest.raises(wire.WireError):
            wire.decode(bad)


def test_subclasses_of_plain_types_arrive_as_descriptions():
    class Yes(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    class Loud(str):
        def __repr__(self):
            return "<script>" * 1000

    values = [Yes(3), type("F", (float,), {})(2.5), Loud("x"), type("L", (list,), {})([1]),
              type("D", (dict,), {})(a=1), type("T", (tuple,), {})((1,))]
    for value, back in zip(values, wire.decode(wire.encode(values)), strict=True):
        assert isinstance(back, wire.Foreign), value
        assert len(back.repr) <= wire.REPR_LIMIT + 1


def test_a_message_nested_past_what_json_parses_is_refused():
    with pytest.raises(wire.WireError):
        wire.loads(b"[" * 100_000 + b"]" * 100_000)


def test_tensors_cross_as_raw_bytes_in_a_frame_and_plain_json_still_reads():
    source = torch.randn(8, 128, 96, generator=torch.Generator().manual_seed(1))
    framed = wire.dumps({"value": wire.encode(source)})
    assert framed.startswith(wire.FRAME) and len(framed) < source.numel() * 4 + 200  # no base64
    assert_identical(wire.decode(wire.loads(framed)["value"]), source)
    hand_written = json.dumps({"value": {"$": "tensor", "dtype": "int8", "shape": [2], "data": "AQI="}}).encode()
    assert torch.equal(wire.decode(wire.loads(hand_written)["value"]), torch.tensor([1, 2], dtype=torch.int8))
    assert not wire.dumps({"value": [1, 2.5, None]}).startswith(wire.FRAME)


@pytest.mark.parametrize("frame", [
    wire.FRAME + (10**6).to_bytes(8, "big") + b"{}",                                   # a JSON past the end
    wire.FRAME + (22).to_bytes(8, "big") + b'{"v":{"$bytes":[0,9]}}' + b"abc",          # bytes past the end
    wire.FRAME + (22).to_bytes(8, "big") + b'{"v":{"$bytes":[-1,2]}}' + b"abc",         # a negative offset
])
def test_malformed_frames_are_refused(frame):
    with pytest.raises(wire.WireError):
        wire.loads(frame)
