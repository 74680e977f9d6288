"""A layer's weights read from .npy, .npz and .safetensors files; pickles refused unopened."""

from __future__ import annotations

import json
import os
import pickle
import struct
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from convcli.errors import WeightsError
from convcli.imageio.weights import (
    LAYOUTS,
    TensorInfo,
    WeightSpec,
    list_tensors,
    load_layer_weights,
    parse_weight_spec,
)

# The safetensors dtypes this test writes, as little-endian NumPy types (BF16 is done by hand).
STORED = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I32": "<i4", "I8": "i1", "U8": "u1"}


def safetensors_data(values: npt.NDArray[Any], dtype: str) -> bytes:
    """`values` as a safetensors tensor of `dtype` stores them."""
    if dtype == "BF16":  # the upper 16 bits of each float32: exact for bfloat16 values
        bits = np.ascontiguousarray(values, dtype="<f4").view("<u4")
        return (bits >> 16).astype("<u2").tobytes()
    return np.ascontiguousarray(values, dtype=STORED[dtype]).tobytes()


def write_raw_safetensors(path: Path, header: dict[str, Any], data: bytes) -> Path:
    """A file of the published layout: the header's length (8 bytes, little-endian), the JSON
    header padded with spaces to a multiple of 8 bytes, then `data`."""
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


def write_safetensors(path: Path, tensors: dict[str, tuple[str, npt.NDArray[Any]]]) -> Path:
    """A .safetensors file of `tensors` (name -> (dtype, values)), in that order."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    data = b""
    for name, (dtype, values) in tensors.items():
        raw = safetensors_data(values, dtype)
        offsets = [len(data), len(data) + len(raw)]
        header[name] = {"dtype": dtype, "shape": list(values.shape), "data_offsets": offsets}
        data += raw
    return write_raw_safetensors(path, header, data)


def save_npz(path: Path, arrays: dict[str, Any]) -> Path:
    """An .npz of `arrays` as np.savez writes it; their names may hold dots."""
    np.savez(path, **arrays)
    return path


def ramp(*shape: int) -> npt.NDArray[np.float32]:
    """0, 1, 2, ... in `shape`: every element tells where it came from."""
    return np.arange(np.prod(shape), dtype=np.float32).reshape(shape)


def refusal(spec: WeightSpec | Path, **options: Any) -> str:
    """The one-line message of the WeightsError that loading `spec` (listing it, for a path)
    raises."""
    read: Callable[[], object] = (
        partial(list_tensors, spec)
        if isinstance(spec, Path)
        else partial(load_layer_weights, spec, **options)
    )
    with pytest.raises(WeightsError) as raised:
        read()
    message = str(raised.value)
    assert "\n" not in message
    return message


# Round trips


def test_npy_weight_is_its_array(tmp_path: Path) -> None:
    np.save(tmp_path / "w.npy", ramp(2, 3, 3, 3))
    layer = load_layer_weights(WeightSpec(tmp_path / "w.npy", None))
    np.testing.assert_array_equal(layer.weight, ramp(2, 3, 3, 3))
    assert layer.weight.dtype == np.float32
    assert (layer.weight_name, layer.bias, layer.bias_name) == ("w.npy", None, None)


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        (np.float64, np.float64),
        (np.float32, np.float32),
        (np.float16, np.float32),
        (np.int8, np.float32),
        (np.uint16, np.float32),
        (np.int32, np.float64),
        (np.int64, np.float64),
    ],
)
def test_npy_values_become_float32_or_float64(tmp_path: Path, stored: Any, read: Any) -> None:
    values = ramp(1, 2, 3, 3).astype(stored)
    np.save(tmp_path / "w.npy", values)
    weight = load_layer_weights(WeightSpec(tmp_path / "w.npy", None)).weight
    assert weight.dtype == read
    np.testing.assert_array_equal(weight, values)


def test_npz_names_with_dots_and_the_bias_found_beside_the_weight(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    weight, bias = ramp(4, 2, 3, 3), np.array([1, 2, 3, 4], np.float32)
    save_npz(path, {"conv1.weight": weight, "conv1.bias": bias, "fc.weight": ramp(10, 4)})
    layer = load_layer_weights(WeightSpec(path, None))  # the only 4-D tensor
    np.testing.assert_array_equal(layer.weight, weight)
    assert layer.bias is not None
    np.testing.assert_array_equal(layer.bias, bias)
    assert (layer.weight_name, layer.bias_name) == ("conv1.weight", "conv1.bias")
    assert list_tensors(path) == [
        TensorInfo("conv1.weight", (4, 2, 3, 3), "float32"),
        TensorInfo("conv1.bias", (4,), "float32"),
        TensorInfo("fc.weight", (10, 4), "float32"),
    ]


@pytest.mark.parametrize(
    ("dtype", "read"),
    [
        ("F32", np.float32),
        ("F64", np.float64),
        ("F16", np.float32),
        ("BF16", np.float32),
        ("I32", np.float64),
        ("I8", np.float32),
        ("U8", np.float32),
    ],
)
def test_safetensors_round_trip(tmp_path: Path, dtype: str, read: Any) -> None:
    weight = ramp(3, 2, 2, 2) - (0 if dtype == "U8" else 12)  # exact in every dtype
    bias = np.array([0.5, -1.5, 2.0], np.float32)
    path = write_safetensors(
        tmp_path / "model.safetensors",
        {"layer.0.conv.weight": (dtype, weight), "layer.0.conv.bias": ("F32", bias)},
    )
    layer = load_layer_weights(WeightSpec(path, "layer.0.conv.weight"))
    assert layer.weight.dtype == read
    np.testing.assert_array_equal(layer.weight, weight)
    assert layer.bias_name == "layer.0.conv.bias"
    assert layer.bias is not None
    np.testing.assert_array_equal(layer.bias, bias)


def test_bf16_is_the_upper_half_of_a_float32(tmp_path: Path) -> None:
    # As float32 bits: 1.0 = 0x3F800000, -2.5 = 0xC0200000, 3.140625 = 0x40490000, 0.0 = 0.
    data = struct.pack("<4H", 0x3F80, 0xC020, 0x4049, 0x0000)
    header = {"w": {"dtype": "BF16", "shape": [1, 4, 1, 1], "data_offsets": [0, 8]}}
    path = write_raw_safetensors(tmp_path / "bf16.safetensors", header, data)
    weight = load_layer_weights(WeightSpec(path, None)).weight
    assert weight.dtype == np.float32
    assert weight.ravel().tolist() == [1.0, -2.5, 3.140625, 0.0]


def test_other_tensors_are_not_decoded(tmp_path: Path) -> None:
    # A tensor of a dtype convcli does not read sits beside the weight, unread.
    path = tmp_path / "m.safetensors"
    header = {
        "odd": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [0, 4]},
        "conv.weight": {"dtype": "F32", "shape": [1, 1, 2, 2], "data_offsets": [4, 20]},
    }
    write_raw_safetensors(path, header, b"\xff" * 4 + ramp(1, 1, 2, 2).tobytes())
    np.testing.assert_array_equal(
        load_layer_weights(WeightSpec(path, None)).weight, ramp(1, 1, 2, 2)
    )
    assert [info.dtype for info in list_tensors(path)] == ["F8_E4M3", "F32"]


@pytest.mark.parametrize("suffix", [".npy", ".safetensors"])
def test_hwio_is_transposed_to_oihw(tmp_path: Path, suffix: str) -> None:
    stored = ramp(3, 5, 2, 4)  # kh=3, kw=5, C_in=2, C_out=4
    path = tmp_path / f"keras{suffix}"
    if suffix == ".npy":
        np.save(path, stored)
    else:
        write_safetensors(path, {"kernel": ("F32", stored)})
    weight = load_layer_weights(WeightSpec(path, None), layout="hwio").weight
    assert weight.shape == (4, 2, 3, 5)
    assert weight[3, 1, 2, 4] == stored[2, 4, 1, 3]
    np.testing.assert_array_equal(weight, np.transpose(stored, (3, 2, 0, 1)))
    assert weight.flags.c_contiguous
    assert LAYOUTS == ("oihw", "hwio")


def test_an_explicit_bias_wins_over_the_one_beside_the_weight(tmp_path: Path) -> None:
    path = write_safetensors(
        tmp_path / "m.safetensors",
        {"conv1.weight": ("F32", ramp(2, 1, 1, 1)), "conv1.bias": ("F32", np.zeros(2))},
    )
    np.save(tmp_path / "b.npy", np.array([7.0, 8.0]))
    layer = load_layer_weights(WeightSpec(path, None), bias=WeightSpec(tmp_path / "b.npy", None))
    assert layer.bias_name == "b.npy"
    assert layer.bias is not None
    assert layer.bias.tolist() == [7.0, 8.0]
    named = load_layer_weights(WeightSpec(path, None), bias=WeightSpec(path, "conv1.bias"))
    assert named.bias_name == "conv1.bias"


def test_no_bias_is_guessed_from_other_names_or_shapes(tmp_path: Path) -> None:
    path = write_safetensors(
        tmp_path / "m.safetensors",
        {
            "a.weight": ("F32", ramp(2, 1, 1, 1)),
            "a.bias": ("F32", ramp(2, 1)),  # 2-D: not a bias
            "kernel": ("F32", ramp(2, 1, 1, 1)),
            "bias": ("F32", ramp(2)),  # beside "kernel", but not by PyTorch's names
        },
    )
    assert load_layer_weights(WeightSpec(path, "a.weight")).bias is None
    assert load_layer_weights(WeightSpec(path, "kernel")).bias is None


@pytest.mark.parametrize(
    ("text", "path", "name"),
    [
        ("model.safetensors:conv1.weight", "model.safetensors", "conv1.weight"),
        (
            "runs/12:30/m.safetensors:layer1.0.conv1.weight",
            "runs/12:30/m.safetensors",
            "layer1.0.conv1.weight",
        ),
        ("runs/12:30/w.npy", "runs/12:30/w.npy", None),
        ("W.NPZ:a:b", "W.NPZ:a:b", None),  # the part before the last colon is no weights file
        ("MODEL.NPZ:kernel", "MODEL.NPZ", "kernel"),
        ("w.npy", "w.npy", None),
        ("weights", "weights", None),
    ],
)
def test_parse_weight_spec(text: str, path: str, name: str | None) -> None:
    assert parse_weight_spec(text) == WeightSpec(Path(path), name)


@pytest.mark.parametrize("text", ["model.npz:", "a:b/model.safetensors:", ""])
def test_parse_weight_spec_refuses_an_empty_name(text: str) -> None:
    with pytest.raises(WeightsError, match="FILE:NAME"):
        parse_weight_spec(text)


def test_a_spec_with_a_colon_in_a_folder_reads(tmp_path: Path) -> None:
    folder = tmp_path / "run:3"
    folder.mkdir()
    write_safetensors(folder / "m.safetensors", {"c.weight": ("F32", ramp(1, 1, 1, 1))})
    spec = parse_weight_spec(f"{folder}/m.safetensors:c.weight")
    assert load_layer_weights(spec).weight_name == "c.weight"


def test_list_tensors_in_file_order(tmp_path: Path) -> None:
    path = write_safetensors(
        tmp_path / "m.safetensors",
        {"z.weight": ("BF16", ramp(1, 2, 1, 1)), "a.bias": ("I32", ramp(3))},
    )
    assert list_tensors(path) == [
        TensorInfo("z.weight", (1, 2, 1, 1), "BF16"),
        TensorInfo("a.bias", (3,), "I32"),
    ]
    with (tmp_path / "Kernel.NPY").open("wb") as stream:  # np.save would add ".npy"
        np.save(stream, ramp(2, 2).astype(np.float64))
    assert list_tensors(tmp_path / "Kernel.NPY") == [TensorInfo("Kernel", (2, 2), "float64")]


@settings(max_examples=60)
@given(
    shape=st.tuples(*[st.integers(1, 4)] * 4),
    dtype=st.sampled_from(["F32", "F16", "BF16"]),
    layout=st.sampled_from(LAYOUTS),
    data=st.data(),
)
def test_safetensors_values_round_trip(
    tmp_path_factory: pytest.TempPathFactory,
    shape: tuple[int, int, int, int],
    dtype: str,
    layout: Any,
    data: st.DataObject,
) -> None:
    width: Literal[16, 32] = 16 if dtype == "F16" else 32
    finite = st.floats(width=width, allow_nan=False, allow_infinity=False)
    values = data.draw(hnp.arrays(np.float32, shape, elements=finite))
    if dtype == "BF16":  # keep what bfloat16 holds: the upper 16 bits
        values = (values.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)
    path = tmp_path_factory.mktemp("st") / "w.safetensors"
    write_safetensors(path, {"w.weight": (dtype, values)})
    weight = load_layer_weights(WeightSpec(path, None), layout=layout).weight
    expected = values if layout == "oihw" else values.transpose(3, 2, 0, 1)
    assert weight.dtype == np.float32
    np.testing.assert_array_equal(weight, expected)
    assert list_tensors(path) == [TensorInfo("w.weight", shape, dtype)]


# Bad files

GOOD_ENTRY = {"dtype": "F32", "shape": [1, 1, 2, 2], "data_offsets": [0, 16]}


def bad_header(entry: dict[str, Any], data: bytes = bytes(16)) -> tuple[dict[str, Any], bytes]:
    return {"conv.weight": {**GOOD_ENTRY, **entry}}, data


@pytest.mark.parametrize(
    ("header", "data", "words"),
    [
        ({"conv.weight": {"shape": [1], "data_offsets": [0, 4]}}, bytes(4), ["'dtype'"]),
        ({"conv.weight": {"dtype": "F32", "data_offsets": [0, 4]}}, bytes(4), ["'shape'"]),
        ({"conv.weight": {"dtype": "F32", "shape": [1]}}, bytes(4), ["'data_offsets'"]),
        ({"conv.weight": [1, 2]}, b"", ["not a JSON object"]),
        (*bad_header({"dtype": 32}), ["dtype", "32"]),
        (*bad_header({"shape": [1, -1, 2, 2]}), ["shape", "-1"]),
        (*bad_header({"shape": [1, True, 2, 2]}), ["shape", "True"]),
        (*bad_header({"shape": "1x1x2x2"}), ["shape", "1x1x2x2"]),
        (*bad_header({"data_offsets": [0]}), ["data_offsets", "[0]"]),
        (*bad_header({"data_offsets": [0, 16.0]}), ["data_offsets", "16.0"]),
        (*bad_header({"data_offsets": [16, 0]}), ["[16, 0]", "end before"]),
        (*bad_header({"data_offsets": [8, 24]}), ["[8, 24]", "16 bytes", "truncated"]),
        (*bad_header({}, bytes(10)), ["[0, 16]", "10 bytes", "truncated"]),
        (*bad_header({"data_offsets": [0, 12]}), ["16 bytes", "[0, 12]", "hold 12"]),
        (*bad_header({"dtype": "F64"}), ["F64", "32 bytes", "hold 16"]),
    ],
)
def test_bad_safetensors_headers(
    tmp_path: Path, header: dict[str, Any], data: bytes, words: list[str]
) -> None:
    path = write_raw_safetensors(tmp_path / "bad.safetensors", header, data)
    for message in (refusal(path), refusal(WeightSpec(path, None))):
        assert str(path) in message
        assert "'conv.weight'" in message
        for word in words:
            assert word in message


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", ["0 bytes", "too short"]),
        (b"\x10\x00\x00\x00\x00", ["5 bytes", "too short"]),
        (struct.pack("<Q", 100) + b"{}", ["100 bytes", "past the end", "10 bytes"]),
        (struct.pack("<Q", 2**64 - 1) + b"{}", [str(2**64 - 1), "past the end"]),
        (struct.pack("<Q", 5) + b'{"a":', ["not valid UTF-8 JSON"]),
        (struct.pack("<Q", 4) + b'"\xff"\x20', ["not valid UTF-8 JSON"]),
        (struct.pack("<Q", 6) + b"[1, 2]", ["not an object"]),
    ],
)
def test_bad_safetensors_files(tmp_path: Path, content: bytes, words: list[str]) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    message = refusal(path)
    assert str(path) in message
    for word in words:
        assert word in message


def test_a_truncated_file_names_the_tensor(tmp_path: Path) -> None:
    path = write_safetensors(
        tmp_path / "m.safetensors",
        {"a.weight": ("F32", ramp(1, 1, 2, 2)), "b.weight": ("F32", ramp(1, 1, 2, 2))},
    )
    path.write_bytes(path.read_bytes()[:-3])
    message = refusal(WeightSpec(path, "a.weight"))
    assert "'b.weight'" in message
    assert "truncated" in message


@pytest.mark.parametrize(
    ("dtype", "words"),
    [("BOOL", ["BOOL", "not real numbers"]), ("F8_E4M3", ["'F8_E4M3'", "BF16"])],
)
def test_dtypes_that_are_not_read(tmp_path: Path, dtype: str, words: list[str]) -> None:
    header = {"mask": {"dtype": dtype, "shape": [1, 1, 2, 2], "data_offsets": [0, 4]}}
    path = write_raw_safetensors(tmp_path / "m.safetensors", header, bytes([1, 0, 0, 1]))
    message = refusal(WeightSpec(path, "mask"))
    assert "'mask'" in message
    assert str(path) in message
    for word in words:
        assert word in message


def test_a_missing_name_lists_the_names_there_are(tmp_path: Path) -> None:
    path = write_safetensors(
        tmp_path / "model.safetensors",
        {
            "conv1.bias": ("F32", ramp(2)),
            "conv1.weight": ("F32", ramp(2, 1, 1, 1)),
            "fc.weight": ("F32", ramp(3, 2)),
        },
    )
    message = refusal(WeightSpec(path, "conv2.weight"))
    assert message == (
        f"no tensor 'conv2.weight' in {path}; it has 'conv1.weight', 'conv1.bias', 'fc.weight'"
    )


def test_a_long_list_of_names_is_shortened(tmp_path: Path) -> None:
    tensors = {f"block{i}.bias": ("F32", ramp(1)) for i in range(14)}
    tensors["last.weight"] = ("F32", ramp(1, 1, 1, 1))
    path = write_safetensors(tmp_path / "big.safetensors", tensors)
    message = refusal(WeightSpec(path, "nothing"))
    shown = ["'last.weight'"] + [f"'block{i}.bias'" for i in range(9)]  # the 4-D one first
    assert message.endswith("; it has " + ", ".join(shown) + " and 5 more")


def test_a_weight_must_be_4d(tmp_path: Path) -> None:
    np.save(tmp_path / "w.npy", ramp(3, 3, 3))
    message = refusal(WeightSpec(tmp_path / "w.npy", None))
    assert "(3, 3, 3)" in message
    assert "4-D" in message
    assert "w.npy" in message


def test_a_bias_must_be_1d(tmp_path: Path) -> None:
    np.save(tmp_path / "w.npy", ramp(2, 1, 1, 1))
    np.save(tmp_path / "b.npy", ramp(2, 1))
    message = refusal(
        WeightSpec(tmp_path / "w.npy", None), bias=WeightSpec(tmp_path / "b.npy", None)
    )
    assert "bias 'b'" in message
    assert "(2, 1)" in message


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_weights_must_be_finite(tmp_path: Path, bad: float) -> None:
    weight = ramp(4, 2, 3, 3)
    weight[3, 0, 1, 2] = bad
    path = write_safetensors(tmp_path / "m.safetensors", {"conv1.weight": ("F32", weight)})
    message = refusal(WeightSpec(path, None))
    assert message == (
        f"weight 'conv1.weight' in {path} has a non-finite value, {bad}, at [3, 0, 1, 2]"
    )


def test_a_bias_must_be_finite(tmp_path: Path) -> None:
    save_npz(tmp_path / "m.npz", {"c.weight": ramp(2, 1, 1, 1), "c.bias": np.array([1, np.nan])})
    message = refusal(WeightSpec(tmp_path / "m.npz", None))
    assert "bias 'c.bias'" in message
    assert "nan, at [1]" in message


def test_two_4d_tensors_and_no_name(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    np.savez(path, first=ramp(1, 1, 1, 1), second=ramp(2, 1, 1, 1), b=ramp(2))
    message = refusal(WeightSpec(path, None))
    assert "2 4-D tensors, 'first', 'second'" in message
    assert f"{path}:NAME" in message


def test_no_4d_tensor_and_no_name(tmp_path: Path) -> None:
    path = write_safetensors(
        tmp_path / "m.safetensors", {"fc.weight": ("F32", ramp(3, 2)), "fc.bias": ("F32", ramp(3))}
    )
    assert "no 4-D tensor" in refusal(WeightSpec(path, None))


def test_files_that_cannot_be_opened(tmp_path: Path) -> None:
    assert "No such file" in refusal(WeightSpec(tmp_path / "gone.safetensors", None))
    assert "gone.npy" in refusal(tmp_path / "gone.npy")
    (tmp_path / "folder.npz").mkdir()
    assert "folder.npz: Is a directory" in refusal(tmp_path / "folder.npz")


def test_a_file_that_may_not_be_read(tmp_path: Path) -> None:
    path = tmp_path / "w.npy"
    np.save(path, ramp(1, 1, 1, 1))
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("this user reads every file (root)")
        assert "Permission denied" in refusal(WeightSpec(path, None))
    finally:
        path.chmod(0o600)


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("w.npy", b"not an array", ["w.npy", "not a readable .npy"]),
        ("w.npy", b"", ["w.npy", "not a readable .npy"]),
        ("w.npz", b"not a zip", ["w.npz", "not an .npz"]),
        ("w.weights", b"\x00\x01", ["w.weights", "unknown weights format .weights"]),
        ("weights", b"\x00\x01", ["(no extension)"]),
    ],
)
def test_files_of_no_known_format(
    tmp_path: Path, name: str, content: bytes, words: list[str]
) -> None:
    (tmp_path / name).write_bytes(content)
    message = refusal(WeightSpec(tmp_path / name, None))
    for word in words:
        assert word in message


def test_an_npz_of_one_npy_array(tmp_path: Path) -> None:
    np.save(tmp_path / "w.npy", ramp(1, 1, 1, 1))
    (tmp_path / "w.npy").rename(tmp_path / "w.npz")
    assert "not an .npz archive" in refusal(tmp_path / "w.npz")


# Pickles


class Touch:
    """Unpickled, it creates `marker`: proof that a file was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[Path]]:
        return (Path.touch, (self.marker,))


def test_the_marker_shows_unpickling(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    pickle.loads(pickle.dumps(Touch(marker)))  # the test's own object, to prove the trick
    assert marker.exists()


@pytest.mark.parametrize("name", ["evil.pth", "evil.pt", "evil.ckpt", "EVIL.PKL", "evil.bin"])
def test_pickles_are_refused_unopened(tmp_path: Path, name: str) -> None:
    marker = tmp_path / "unpickled"
    path = tmp_path / name
    path.write_bytes(pickle.dumps({"conv1.weight": Touch(marker)}))
    for message in (refusal(WeightSpec(path, None)), refusal(path)):
        assert f"{path} is a Python pickle" in message
        assert "safetensors" in message
        assert "unpickling can run any code" in message
    assert not marker.exists()


def test_a_pickle_under_another_name_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    path = tmp_path / "model.weights"
    path.write_bytes(pickle.dumps(Touch(marker), protocol=4))
    message = refusal(WeightSpec(path, None))
    assert "pickle" in message
    assert "safetensors" in message
    assert not marker.exists()


@pytest.mark.parametrize("suffix", [".npz", ".npy"])
def test_object_arrays_are_refused_unpickled(tmp_path: Path, suffix: str) -> None:
    marker = tmp_path / "unpickled"
    evil = np.empty((1, 1, 1, 1), dtype=object)
    evil[0, 0, 0, 0] = Touch(marker)
    path = tmp_path / f"evil{suffix}"
    if suffix == ".npz":
        save_npz(path, {"conv.weight": evil})
    else:
        np.save(path, evil, allow_pickle=True)
    message = refusal(WeightSpec(path, None))
    assert "Python objects" in message
    assert str(path) in message
    assert list_tensors(path)[0].dtype == "object"  # its header only
    assert not marker.exists()
