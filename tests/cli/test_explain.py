"""``convcli explain`` and ``apply --at``: the pixel they print is the one apply writes, read
from files, standard input and named pipes; their errors are one line.

The worked pixel itself, in the library, is tests/pipeline/test_explain.py.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from convcli.core.params import ConvParams
from convcli.kernels.spec import resolve_kernel
from convcli.pipeline.apply import ImageOptions
from convcli.pipeline.explain import explain_image
from tests.cli_helpers import convcli_executable, one_line_error, run
from tests.conftest import SAMPLE_IMAGES
from tests.pipeline.test_explain import fitting, geometry, written_pixel

PIXEL_LINE = re.compile(r"^output pixel \((\d+), (\d+)\) = (.+)$")


def last_pixel(text: str) -> tuple[int, int, str]:
    match = PIXEL_LINE.match(text.strip().splitlines()[-1])
    assert match, text
    return int(match.group(1)), int(match.group(2)), match.group(3)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=geometry(), data=st.data())
def test_explain_prints_the_pixel_apply_writes(
    tmp_path: Path, case: tuple[int, int, ConvParams, str], data: st.DataObject
) -> None:
    height, width, params, name = case
    shape = fitting(height, width, params, name)
    assume(shape is not None)
    assert shape is not None
    row = data.draw(st.integers(-shape[0], shape[0] - 1))
    col = data.draw(st.integers(-shape[1], shape[1] - 1))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    source, output = tmp_path / "in.png", tmp_path / "out.png"
    Image.fromarray(rng.integers(0, 256, (height, width), np.uint8)).save(source)
    assert isinstance(params.padding, tuple)
    geometry_args = [
        "--stride", f"{params.stride[0]},{params.stride[1]}",
        "--padding", str(params.padding[0]),
        "--dilation", f"{params.dilation[0]},{params.dilation[1]}",
        "--pad-mode", params.pad_mode,
        *(["--flip"] if params.flip else []),
    ]  # fmt: skip
    applied = run("apply", "-k", name, *geometry_args, source, output)
    assert applied.exit_code == 0, applied.stderr
    explained = run("explain", source, "-k", name, "--at", f"{row},{col}", *geometry_args)
    assert explained.exit_code == 0, explained.stderr
    shown_row, shown_col, value = last_pixel(explained.stdout)
    assert (shown_row, shown_col) == (row % shape[0], col % shape[1])
    assert int(value) == int(written_pixel(output, (shown_row, shown_col)))


def test_explain_on_the_ramp_from_the_command_line() -> None:
    result = run("explain", "--input", "5x5", "-k", "sobel-x", "--at", "0,0", "--padding", "1")
    assert result.exit_code == 0, result.stderr
    assert last_pixel(result.stdout) == (0, 0, "-8.0")
    assert "row -1 is padding: zeros gives 0" in result.stdout
    assert result.stderr == ""


def test_apply_at_works_the_written_pixel_on_stderr(tmp_path: Path) -> None:
    source, output = tmp_path / "in.png", tmp_path / "out.png"
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(6, 8) * 5).save(source)
    result = run("apply", "-k", "sobel", "--at", "2,3", source, output)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert last_pixel(result.stderr)[2] == str(int(written_pixel(output, (2, 3))))


def test_apply_at_reads_standard_input_once_for_both(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(6, 8) * 5).save(buffer, "PNG")
    output = tmp_path / "out.png"
    result = run("apply", "-k", "vertical", "--at", "1,1", "-", output, stdin=buffer.getvalue())
    assert result.exit_code == 0, result.stderr
    assert last_pixel(result.stderr)[2] == str(int(written_pixel(output, (1, 1))))


def test_apply_at_reads_a_named_pipe_once_for_both(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(6, 8) * 5).save(buffer, "PNG")
    fifo, output = tmp_path / "in.fifo", tmp_path / "out.png"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(buffer.getvalue(),))
    writer.start()
    result = run("apply", "-k", "vertical", "--at", "2,2", fifo, output)
    writer.join(timeout=10)
    assert result.exit_code == 0, result.stderr
    assert last_pixel(result.stderr)[2] == str(int(written_pixel(output, (2, 2))))
    assert f"input: {fifo}, 6x8" in result.stderr


def test_apply_at_outside_the_output_writes_nothing(tmp_path: Path) -> None:
    source, output = tmp_path / "in.png", tmp_path / "out.png"
    Image.fromarray(np.zeros((6, 8), np.uint8)).save(source)
    output.write_bytes(b"keep me")
    result = run("apply", "-k", "vertical", "--at", "4,0", source, output)
    assert one_line_error(result, 2).startswith("pixel 4,0 is outside the output 4x6")
    assert output.read_bytes() == b"keep me"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["explain", "-k", "vertical", "--at", "0,0"], "give either an IMAGE or --input HxW"),
        (["explain", "--input", "5x5", "-k", "vertical", "--at", "0"], "is not ROW,COL"),
        (["explain", "--input", "5x5", "--at", "0,0"], "Missing option '-k'"),
        (["explain", "--input", "5x5", "-k", "vertical"], "Missing option '--at'"),
        (
            ["apply", "-k", "vertical", "--at", "0,0", "a.png", "--out-dir", "o"],
            "--at is for one file",
        ),
        (
            [
                "explain",
                "--input",
                "5x5",
                "-k",
                "vertical",
                "--at",
                "0,0",
                "--format",
                "npy",
                "--range",
                "abs",
            ],
            "--range does not apply to npy",
        ),
        (
            ["explain", "--input", "5x5", "-k", "vertical", "--at", "0,0", "--color"],
            "--color is for an IMAGE; the ramp is one gray channel",
        ),
        (
            ["explain", "--input", "5x5", "-k", "vertical", "--at", "0,0", "--gray", "average"],
            "--gray is for an IMAGE",
        ),
    ],
)
def test_usage_errors_exit_2_in_one_line(args: list[str], message: str) -> None:
    one_line_error(run(*args), 2, message)


def test_a_missing_image_is_a_data_error(tmp_path: Path) -> None:
    result = run("explain", tmp_path / "nope.png", "-k", "vertical", "--at", "0,0")
    one_line_error(result, 1, "nope.png")


@pytest.mark.parametrize(
    ("args", "at", "options"),
    [
        # (108.274 in float32) x 257 is 27826.4998 in float32, 27826.5009 in float64.
        (["--depth", "16"], (0, 224), ImageOptions(depth="16")),
        (["--range", "rescale"], (88, 133), ImageOptions(range_mode="rescale")),
    ],
)
def test_the_mapping_rounds_as_apply_does_in_float32(
    tmp_path: Path, args: list[str], at: tuple[int, int], options: ImageOptions
) -> None:
    coins, output = SAMPLE_IMAGES / "coins.png", tmp_path / "o.png"
    result = run("apply", "-k", "gaussian:1.4", *args, "--at", f"{at[0]},{at[1]}", coins, output)
    assert result.exit_code == 0, result.stderr
    assert last_pixel(result.stderr)[2] == str(int(written_pixel(output, at)))
    with Image.open(output) as written_image:  # and a grid of other pixels of the file
        expected = np.asarray(written_image)
    steps = [resolve_kernel("gaussian:1.4")]
    for row in range(0, expected.shape[0], 37):
        for col in range(0, expected.shape[1], 41):
            worked = explain_image(coins, steps, ConvParams(), (row, col), options)
            assert worked.pixel == (float(expected[row, col]),)


def test_a_result_that_overflows_is_refused_in_one_line(tmp_path: Path) -> None:
    source = tmp_path / "huge.npy"
    np.save(source, np.full((4, 4), 1e300))
    result = run("explain", source, "-k", "1e300,1", "--at", "0,0")
    assert one_line_error(result, 1) == (
        f"the result for {str(source)!r} overflows: it has infinite or NaN values"
    )


def test_apply_at_with_json_prints_the_error_record_of_a_bad_input(tmp_path: Path) -> None:
    source = tmp_path / "notimage.txt"
    source.write_text("hello")
    result = run("apply", "--json", "--at", "0,0", "-k", "sobel-x", source, tmp_path / "o.png")
    assert result.exit_code == 1
    record = json.loads(result.stdout)
    assert record["status"] == "error"
    assert record["input"] == str(source)


def test_apply_at_explanation_has_no_trailing_padding_off_a_terminal(tmp_path: Path) -> None:
    source, output = tmp_path / "in.png", tmp_path / "out.png"
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(6, 8)).save(source)
    result = run("apply", "-k", "sobel-x", "--at", "2,3", source, output)
    assert result.exit_code == 0, result.stderr
    assert all(line == line.rstrip() for line in result.stderr.splitlines())
    assert "before mapping; range abs to 8-bit" in result.stderr  # --explain's summary too


def test_alpha_is_carried_and_printed_last(tmp_path: Path) -> None:
    source, output = tmp_path / "in.png", tmp_path / "out.png"
    pixels = np.zeros((6, 8, 4), np.uint8)
    pixels[..., 3] = np.arange(48).reshape(6, 8) * 5
    Image.fromarray(pixels).save(source)
    result = run(
        "apply", "-k", "gaussian-3", "--color", "--alpha", "carry", "--at", "2,2", source, output
    )
    assert result.exit_code == 0, result.stderr
    assert last_pixel(result.stderr)[2] == str(tuple(int(v) for v in written_pixel(output, (2, 2))))
    # The centre of the window of output (2, 2) is input (3, 3), whose alpha is (3*8 + 3) * 5.
    assert "alpha, carried from under the window's centre: 135" in result.stderr
    assert "; alpha carry" in result.stderr


def test_weighted_alpha_is_worked_and_printed_last(tmp_path: Path) -> None:
    source, output = tmp_path / "in.png", tmp_path / "out.png"
    pixels = np.zeros((6, 8, 4), np.uint8)
    pixels[..., 0] = 200
    pixels[..., 3] = np.arange(48).reshape(6, 8) * 5
    Image.fromarray(pixels).save(source)
    result = run("apply", "-k", "box-3", "--color", "--at", "2,2", source, output)
    assert result.exit_code == 0, result.stderr
    assert last_pixel(result.stderr)[2] == str(tuple(int(v) for v in written_pixel(output, (2, 2))))
    # Output (2, 2) reads rows 2 to 4 and columns 2 to 4: alphas (8r + c) * 5 / 255, whose
    # mean is (3*8 + 3) * 5 / 255; the red, weighted by them and divided by that, stays 200.
    covered = (3 * 8 + 3) * 5 / 255
    assert f"filtered alpha: 1 - {1 - covered:.6g} / 1 = {covered:.6g}" in result.stderr
    assert "alpha, the filtered alpha (alpha weighted): 135" in result.stderr
    assert last_pixel(result.stderr)[2] == "(200, 0, 0, 135)"


@pytest.mark.parametrize(
    "command",
    [
        "explain --input 5x5 -k vertical --at 0,0",
        "shape --input 5x5 --kernel-size 3",
        "shape --input 5x5 --kernel-size 3 --json",
        "kernels sobel-x --format txt",
    ],
)
def test_a_closed_stdout_is_one_line_and_exit_1(command: str) -> None:
    done = subprocess.run(
        f"{shlex.quote(convcli_executable())} {command} >&-",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "convcli: error: cannot write standard output: it is closed"
    ]


def test_the_ramp_asked_for_pixels_is_mapped_as_a_png() -> None:
    # Without --format, a --range or --depth asks for pixels: the ramp is mapped as a PNG.
    result = run("explain", "--input", "5x5", "-k", "sobel-x", "--at", "0,0", "--range", "abs")
    assert result.exit_code == 0, result.stderr
    assert "range abs to 8-bit:" in result.stdout
    assert last_pixel(result.stdout)[2].isdigit()
