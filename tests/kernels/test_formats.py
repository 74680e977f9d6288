"""Kernels from files and the command line, each format written by the test itself."""

from __future__ import annotations

import json
import pickle
import re
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from convcli import KernelError
from convcli.kernels.formats import (
    parse_inline,
    parse_json,
    parse_number,
    parse_text,
    read_kernel_file,
    to_json,
    to_text,
)
from convcli.kernels.kernel import Kernel
from convcli.kernels.registry import KERNELS

SOBEL_X = [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def refused(path: Path, message: str) -> None:
    """Reading `path` fails with exactly `message` (the file's own name substituted)."""
    with pytest.raises(KernelError) as caught:
        read_kernel_file(path)
    assert str(caught.value) == message.format(path=path)


# --- text matrices ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("sobel.txt", "1 0 -1\n2 0 -2\n1 0 -1\n"),
        ("sobel.csv", "1,0,-1\n2,0,-2\n1,0,-1\n"),
        ("sobel.tsv", "1\t0\t-1\n2\t0\t-2\n1\t0\t-1\n"),
        ("sobel", "# Sobel, x derivative\n\n1, 0, -1   # top\n2 ,0, -2\n\n  1,0 -1\n"),
        ("sobel.kernel", "1 0 -1\r\n2 0 -2\r\n1 0 -1"),  # any other extension is text
        ("excel.csv", "\ufeff1,0,-1\n2,0,-2\n1,0,-1\n"),  # a spreadsheet's byte-order mark
    ],
)
def test_text_matrices(tmp_path: Path, name: str, content: str) -> None:
    kernel = read_kernel_file(write(tmp_path, name, content))
    assert kernel.weights.tolist() == SOBEL_X
    assert (kernel.scale, kernel.bias) == (1.0, 0.0)
    assert kernel.name == str(tmp_path / name)


def test_fractions_and_exponents(tmp_path: Path) -> None:
    kernel = read_kernel_file(write(tmp_path, "box.txt", "1/9 1/9 1/9\n-1/4 .5 2e-1\n"))
    assert kernel.weights.tolist() == [[1 / 9, 1 / 9, 1 / 9], [-0.25, 0.5, 0.2]]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1 2 3\n4 5 6\n7 8\n", "{path}:3: row 3 has 2 values, expected 3"),
        ("# only\n\n# comments\n", "{path}: no values: the kernel is empty"),
        ("", "{path}: no values: the kernel is empty"),
        ("1 2\n3 x\n", "{path}:2:3: 'x' is not a number"),
        ("1 2\n3 nan\n", "{path}:2:3: 'nan' is not finite; kernels hold finite numbers"),
        ("1 -inf\n", "{path}:1:3: '-inf' is not finite; kernels hold finite numbers"),
        ("1 1e400\n", "{path}:1:3: '1e400' is too large to be a finite number"),
        ("1 1/0\n", "{path}:1:3: '1/0' divides by zero"),
        ("1,,2\n", "{path}:1:3: empty value between commas"),
        (",1,2\n", "{path}:1:1: empty value between commas"),
        ("1 2_000\n", "{path}:1:3: '2_000' is not a number"),
    ],
)
def test_text_errors_name_file_line_and_column(tmp_path: Path, content: str, message: str) -> None:
    refused(write(tmp_path, "k.txt", content), message)


def test_undecodable_bytes(tmp_path: Path) -> None:
    refused(
        write(tmp_path, "k.txt", b"1 2\n3 \xff\n"),
        "{path}: not UTF-8 text (byte 0xff at offset 6)",
    )


def test_an_image_given_as_a_kernel(tmp_path: Path) -> None:
    refused(
        write(tmp_path, "photo.png", b"\x89PNG\r\n\x1a\n"),
        "{path}: not UTF-8 text (byte 0x89 at offset 0)",
    )


def test_missing_file_and_directory(tmp_path: Path) -> None:
    refused(tmp_path / "nope.txt", "kernel file '{path}' does not exist")
    refused(tmp_path, "kernel file '{path}' is a directory")


def test_kernels_larger_than_1024_are_refused_while_reading(tmp_path: Path) -> None:
    wide = write(tmp_path, "wide.txt", " ".join(["1"] * 1025) + "\n")
    refused(wide, "{path}:1: more than 1024 values in a row; kernels are at most 1024 on a side")
    tall = write(tmp_path, "tall.txt", "1\n" * 1025)
    refused(tall, "{path}:1025: the kernel is 1025x1; kernels are at most 1024 on a side")


# --- libvips .mat ----------------------------------------------------------------------------


def test_vips_matrix_scale_is_a_divisor_and_offset_a_bias(tmp_path: Path) -> None:
    kernel = read_kernel_file(write(tmp_path, "k.mat", "3 2 4 128\n1 2 1\n-1 -2 -1\n"))
    assert kernel.weights.tolist() == [[1, 2, 1], [-1, -2, -1]]
    assert (kernel.scale, kernel.bias) == (0.25, 128.0)


def test_vips_matrix_separators_and_defaults(tmp_path: Path) -> None:
    kernel = read_kernel_file(write(tmp_path, "k.mat", '2 2\n"1", 2\n3\t4\n'))
    assert kernel.weights.tolist() == [[1, 2], [3, 4]]
    assert (kernel.scale, kernel.bias) == (1.0, 0.0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "{path}: empty; a .mat file starts with 'width height [scale [offset]]'"),
        ("3\n1 2 3\n", "{path}:1: the header must be 'width height [scale [offset]]', got '3'"),
        ("2.5 1\n1 2\n", "{path}:1: the header must be 'width height [scale [offset]]' with"
         " whole sizes >= 1, got '2.5 1'"),
        ("2 1 0\n1 2\n", "{path}:1: scale 0 in the header; libvips divides by it"),
        ("2 2\n1 2\n", "{path}: 1 rows, the header says 2"),
        ("3 1\n1 2\n", "{path}:2: row 1 has 2 values, the header says 3"),
        ("2 1\n1 x\n", "{path}:2:3: 'x' is not a number"),
        ("2000 1\n1\n",
         "{path}: the header's kernel is 1x2000; kernels are at most 1024 on a side"),
    ],
)  # fmt: skip
def test_vips_matrix_errors(tmp_path: Path, content: str, message: str) -> None:
    refused(write(tmp_path, "k.mat", content), message)


# --- JSON ------------------------------------------------------------------------------------


def test_json_list_of_rows(tmp_path: Path) -> None:
    kernel = read_kernel_file(write(tmp_path, "k.json", json.dumps(SOBEL_X)))
    assert kernel.weights.tolist() == SOBEL_X


def test_json_object(tmp_path: Path) -> None:
    document = {"kernel": [[1, 2, 1]], "scale": 0.25, "bias": -3, "name": "smooth"}
    kernel = read_kernel_file(write(tmp_path, "k.json", json.dumps(document)))
    assert kernel.weights.tolist() == [[1, 2, 1]]
    assert (kernel.scale, kernel.bias, kernel.name) == (0.25, -3.0, "smooth")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"scale": 2}', "{path}: the JSON object has no 'kernel' (a list of rows)"),
        ('{"kernel": [[1]], "sacle": 2}',
         "{path}: unknown key 'sacle'; a kernel object has 'kernel', 'scale', 'bias', 'name'"),
        ("[[1, 2], [3]]", "{path}: row 2 has 1 value, expected 2"),
        ('[[1, "2"]]', '{path}: row 1, value must be a number, got "2"'),
        ("[[1, true]]", "{path}: row 1, value must be a number, got true"),
        ("[[1, NaN]]", "{path}: NaN is not finite; kernels hold finite numbers"),
        ("[]", "{path}: 'kernel' must be a non-empty list of rows"),
        ("[[]]", "{path}: row 1 must be a non-empty list of numbers"),
        ("[1, 2]", "{path}: row 1 must be a non-empty list of numbers"),
        ('{"kernel": [[1]], "scale": "2"}', '{path}: \'scale\' must be a number, got "2"'),
        ('{"kernel": [[1]], "name": 5}', "{path}: 'name' must be a string, got 5"),
        ("[[1, 2],\n [3, 4]", "{path}:2:8: invalid JSON: Expecting ',' delimiter"),
        ("3", "{path}: expected a list of rows or an object with 'kernel'"),
    ],
)  # fmt: skip
def test_json_errors(tmp_path: Path, content: str, message: str) -> None:
    refused(write(tmp_path, "k.json", content), message)


# --- NumPy .npy ------------------------------------------------------------------------------


def test_npy_two_dimensional(tmp_path: Path) -> None:
    path = tmp_path / "k.npy"
    np.save(path, np.array(SOBEL_X, dtype=np.float32))
    assert read_kernel_file(path).weights.tolist() == SOBEL_X


def test_npy_pytorch_conv_weight(tmp_path: Path) -> None:
    # torch.nn.Conv2d(1, 1, (2, 3)).weight has shape (out, in, kh, kw) = (1, 1, 2, 3).
    weight = np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3)
    path = tmp_path / "conv1.npy"
    np.save(path, weight)
    kernel = read_kernel_file(path)
    assert kernel.shape == (2, 3)
    assert kernel.weights.tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.ones(3), "{path}: an array of shape (3,); a kernel is 2-D (kh, kw) or a PyTorch"
         " weight (1, 1, kh, kw)"),
        (np.ones((2, 1, 3, 3)), "{path}: an array of shape (2, 1, 3, 3); a kernel is 2-D (kh, kw)"
         " or a PyTorch weight (1, 1, kh, kw)"),
        (np.ones((0, 3)), "{path}: the array is empty, shape (0, 3)"),
        (np.array([[1.0, np.inf]]), "{path}: value inf at [0, 1] is not finite"),
        (np.ones((2, 2), dtype=complex), "{path}: dtype complex128 is not real numbers"),
        (np.ones((1, 1100)), "{path}: the kernel is 1x1100; kernels are at most 1024 on a side"),
    ],
)  # fmt: skip
def test_npy_errors(tmp_path: Path, array: npt.NDArray[Any], message: str) -> None:
    path = tmp_path / "k.npy"
    np.save(path, array)
    refused(path, message)


def test_pickled_npy_is_refused_without_unpickling(tmp_path: Path) -> None:
    path = tmp_path / "k.npy"
    np.save(path, np.array([[1, "a"]], dtype=object), allow_pickle=True)
    refused(path, "{path}: holds Python objects (pickled data); convcli loads numeric arrays only")
    plain_pickle = tmp_path / "p.npy"
    plain_pickle.write_bytes(pickle.dumps([[1, 2]]))
    refused(
        plain_pickle,
        "{path}: holds Python objects (pickled data); convcli loads numeric arrays only",
    )


# --- inline ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,0,-1; 2,0,-2; 1,0,-1", SOBEL_X),
        ("1 0 -1;2 0 -2;1 0 -1", SOBEL_X),
        ("1, 2, 1", [[1, 2, 1]]),
        ("1; 2; 1", [[1], [2], [1]]),
        ("1/16 1/8; 1/8 1/4", [[0.0625, 0.125], [0.125, 0.25]]),
        # ImageMagick: width x height, values row by row.
        ("3x3: 1,0,-1 2,0,-2 1,0,-1", SOBEL_X),
        ("3x3:1 0 -1 2 0 -2 1 0 -1", SOBEL_X),
        ("3x1: 1 2 1", [[1, 2, 1]]),
        ("1x3: 1 2 1", [[1], [2], [1]]),
        ("2: 1 2 3 4", [[1, 2], [3, 4]]),
    ],
)
def test_inline(text: str, expected: list[list[float]]) -> None:
    assert parse_inline(text).weights.tolist() == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2; 3", "inline kernel '1,2; 3': row 2 has 1 value, expected 2"),
        ("1,2;", "inline kernel '1,2;': row 2 is empty"),
        ("1, two", "inline kernel '1, two', row 1, value 2: 'two' is not a number"),
        ("3x3: 1 2 3", "inline kernel '3x3: 1 2 3': 3x3 (width x height) needs 9 values, got 3"),
        ("3x3+0+0: 1 2 3 4 5 6 7 8 9",
         "inline kernel '3x3+0+0: 1 2 3 4 5 6 7 8 9': an origin (+0+0) is not supported: convcli"
         " places windows as PyTorch does; use --padding to shift the output"),
        ("3x1: 1 nan 1", "inline kernel '3x1: 1 nan 1': 'nan' (a value outside ImageMagick's"
         " kernel shape) is not supported; use 0"),
        ("3x1@: 1 2 1", "inline kernel '3x1@: 1 2 1': ImageMagick's '@' flags are not supported"),
    ],
)  # fmt: skip
def test_inline_errors(text: str, message: str) -> None:
    with pytest.raises(KernelError) as caught:
        parse_inline(text)
    assert str(caught.value) == message


def test_numbers() -> None:
    assert parse_number("-1/8", "x") == -0.125
    assert parse_number("+3", "x") == 3.0
    for bad in ("1/2/3", "0x10", "1,5", "", "--1", "1e", "½"):
        with pytest.raises(KernelError):
            parse_number(bad, "x")


# --- writing, and reading back ---------------------------------------------------------------


def same_kernel(a: Kernel, b: Kernel) -> bool:
    return (
        np.array_equal(a.weights, b.weights)
        and a.scale == b.scale
        and a.bias == b.bias
        and a.weights.shape == b.weights.shape
    )


@pytest.mark.parametrize("name", list(KERNELS))
def test_every_builtin_round_trips_through_txt_and_json(tmp_path: Path, name: str) -> None:
    kernel = KERNELS[name]
    assert same_kernel(read_kernel_file(write(tmp_path, "k.txt", to_text(kernel))), kernel)
    from_json = read_kernel_file(write(tmp_path, "k.json", to_json(kernel)))
    assert same_kernel(from_json, kernel)
    assert from_json.name == name


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(1, 6)),
        elements=st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=True),
    ),
    st.floats(-100, 100),
    st.floats(-1000, 1000),
)
def test_any_kernel_round_trips_exactly(
    weights: npt.NDArray[np.float64],
    scale: float,
    bias: float,
) -> None:
    kernel = Kernel("random", weights, scale=scale, bias=bias)
    assert same_kernel(parse_json(to_json(kernel), "k.json"), kernel)
    plain = Kernel("random", weights)
    assert same_kernel(parse_text(to_text(plain), "k.txt"), plain)


def test_txt_refuses_what_it_cannot_hold() -> None:
    kernel = Kernel("k.mat", np.ones((2, 2)), scale=0.25, bias=128)
    message = (
        "kernel 'k.mat' has scale 0.25 and bias 128, which a text matrix cannot hold;"
        " use --format json"
    )
    with pytest.raises(KernelError, match=f"^{re.escape(message)}$"):
        to_text(kernel)


# --- what a review found: spreadsheets, libvips' leniency, limits, odd JSON -----------------


def test_spreadsheet_exports(tmp_path: Path) -> None:
    quoted = read_kernel_file(write(tmp_path, "q.csv", '"1","0","-1"\n"2","0","-2"\n'))
    assert quoted.weights.tolist() == [[1, 0, -1], [2, 0, -2]]
    trailing = read_kernel_file(write(tmp_path, "t.csv", "1,0,-1,,\n2,0,-2,\n"))
    assert trailing.weights.tolist() == [[1, 0, -1], [2, 0, -2]]


@pytest.mark.parametrize(
    "content",
    [
        "3 1 4 0 made by hand\n1 2 1\n",  # extra header text
        "3 1 4\n1 2 1 99 junk\n",  # extra values after a row's width
        "3 1 4\n1 2 1\n# trailing notes\nmore\n",  # anything after the last row
    ],
)
def test_vips_matrix_ignores_what_libvips_ignores(tmp_path: Path, content: str) -> None:
    kernel = read_kernel_file(write(tmp_path, "k.mat", content))
    assert kernel.weights.tolist() == [[1, 2, 1]]
    assert kernel.scale == 0.25


def test_a_long_row_is_refused_before_it_is_read_whole(tmp_path: Path) -> None:
    path = write(tmp_path, "wide.txt", "1 " * 2_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(KernelError, match="more than 1024 values in a row"):
            read_kernel_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The 4 MB file and its text are read once; two million parsed values would take ~100 MB.
    assert peak < 20 * 1024 * 1024


def test_json_with_too_many_values_is_refused_before_decoding(tmp_path: Path) -> None:
    path = write(tmp_path, "big.json", "[[" + ",".join(["0"] * 1_100_000) + "]]")
    refused(path, "{path}: too many values; kernels are at most 1024 on a side")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[[1, 1e400]]", "{path}: row 1, value is too large to be a finite number"),
        ("[[1" + "0" * 400 + "]]", "{path}: row 1, value is too large to be a finite number"),
        ('{"kernel": [[1]], "scale": 1e999}', "{path}: 'scale' is too large to be a finite number"),
        ("[[1e308, 1e308]]", "the weights of kernel '{path}' are too large: their sum is not"),
        ("[" * 100_000 + "]" * 100_000, "{path}: invalid JSON: nested too deeply for a kernel"),
        ("[[" + "9" * 5000 + "]]", "{path}: invalid JSON: Exceeds the limit (4300 digits)"),
    ],
)  # fmt: skip
def test_json_numbers_that_do_not_fit(tmp_path: Path, content: str, message: str) -> None:
    path = write(tmp_path, "k.json", content)
    with pytest.raises(KernelError) as caught:
        read_kernel_file(path)
    assert str(caught.value).startswith(message.format(path=path))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"1 2 3\n", "{path}: not a readable .npy file: no NumPy header"),
        (b"PK\x03\x04rest", "{path}: an .npz archive of several arrays; save the kernel alone"
         " with numpy.save"),
    ],
)  # fmt: skip
def test_npy_files_that_are_something_else(tmp_path: Path, content: bytes, message: str) -> None:
    refused(write(tmp_path, "k.npy", content), message)


def test_npy_in_tensorflow_order_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "k.npy"
    np.save(path, np.ones((3, 3, 1, 1)))
    refused(
        path,
        "{path}: an array of shape (3, 3, 1, 1); a kernel is 2-D (kh, kw) or a PyTorch weight"
        " (1, 1, kh, kw); (kh, kw, 1, 1) is TensorFlow's order: move the axes",
    )


def test_a_file_without_an_end_is_read_only_up_to_the_limit() -> None:
    zero = Path("/dev/zero")
    if not zero.exists():
        pytest.skip("no /dev/zero here")
    with pytest.raises(KernelError, match=r"^kernel file '/dev/zero' is over 33554432 bytes"):
        read_kernel_file(zero)


def test_inline_over_several_lines_reads_like_a_file() -> None:
    kernel = parse_inline("# from a file\n1 2\n3 4\n")
    assert kernel.weights.tolist() == [[1, 2], [3, 4]]


def test_a_name_with_a_line_break_still_reads_back(tmp_path: Path) -> None:
    kernel = Kernel("evil\n9 9", np.ones((2, 2)))
    text = to_text(kernel)
    assert text.splitlines()[0] == "# evil 9 9: 2x2"
    assert same_kernel(parse_text(text, "k.txt"), kernel)


def test_imagemagick_counts_without_reading_everything() -> None:
    with pytest.raises(KernelError, match=r"needs 4 values, got more than 4$"):
        parse_inline("2x2: " + "1 " * 100_000)
    with pytest.raises(
        KernelError, match=r"1x1 \(width x height\) needs 1 value, got more than 1$"
    ):
        parse_inline("1x1: 1 2")
