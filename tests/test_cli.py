"""The command line through Click's CliRunner: exit code, stdout and stderr, each asserted."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from convcli import __version__, convolve2d
from convcli.cli import cli
from convcli.image_io import read_gray
from convcli.kernels import KERNELS, get_kernel
from convcli.rangemap import RangeMode, to_pixels
from tests.conftest import open_with_a_warning, read_pixels


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(arg) for arg in args], prog_name="convcli")


def single_error_line(result: Result) -> str:
    """The error message: stderr's first line, which must start as every error does."""
    first = result.stderr.splitlines()[0]
    assert first.startswith("convcli: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return first.removeprefix("convcli: error: ")


# --- apply ----------------------------------------------------------------------------------


def test_apply_writes_what_the_library_computes(colour_png: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    result = run("apply", "-k", "sobel-x", "--stride", "2", "--padding", "1", colour_png, out)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == ""  # not a terminal: quiet
    expected = to_pixels(
        convolve2d(read_gray(colour_png), get_kernel("sobel-x").weights, stride=2, padding=1), "abs"
    )
    assert np.array_equal(read_pixels(out), expected)
    assert read_pixels(out).shape == (6, 8)


def test_apply_options_reach_the_core(colour_png: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    args = ["--stride", "1,2", "--padding", "same", "--dilation", "2,1", "--pad-mode", "reflect"]
    result = run("apply", "-k", "emboss", *args, "--stride", "1", "--flip", colour_png, out)
    assert result.exit_code == 0, result.stderr
    expected = to_pixels(
        convolve2d(
            read_gray(colour_png),
            get_kernel("emboss").weights,
            padding="same",
            dilation=(2, 1),
            pad_mode="reflect",
            flip=True,
        ),
        "clip",
    )
    assert np.array_equal(read_pixels(out), expected)


@pytest.mark.parametrize("mode", ["clip", "abs", "rescale"])
def test_apply_range(colour_png: Path, tmp_path: Path, mode: RangeMode) -> None:
    out = tmp_path / "out.png"
    result = run("apply", "-k", "laplacian", "--range", mode, colour_png, out)
    assert result.exit_code == 0, result.stderr
    values = convolve2d(read_gray(colour_png), get_kernel("laplacian").weights)
    assert np.array_equal(read_pixels(out), to_pixels(values, mode))


def test_apply_explain_prints_the_arithmetic_to_stderr(colour_png: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    result = run(
        "apply", "-k", "vertical", "--stride", "2", "--padding", "1", "--explain", colour_png, out
    )
    assert result.exit_code == 0
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "input 12x16, kernel 3x3, stride 2, padding 1, dilation 1"
    assert "o_h = floor((12 + 2*1 - 1*(3 - 1) - 1) / 2) + 1 = 6" in lines
    assert "o_w = floor((16 + 2*1 - 1*(3 - 1) - 1) / 2) + 1 = 8" in lines
    assert "output 6x8" in lines
    assert re.search(r"^values -?[\d.]+ to [\d.]+ before mapping; range abs$", result.stderr, re.M)


def test_apply_replaces_an_existing_output(bar_png: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    out.write_bytes(b"old")
    assert run("apply", "-k", "identity", "--padding", "1", bar_png, out).exit_code == 0
    assert np.array_equal(read_pixels(out), read_pixels(bar_png))


def test_apply_in_place(bar_png: Path) -> None:
    expected = to_pixels(
        convolve2d(read_gray(bar_png), get_kernel("box-3").weights, padding="same"), "clip"
    )
    assert run("apply", "-k", "box-3", "--padding", "same", bar_png, bar_png).exit_code == 0
    assert np.array_equal(read_pixels(bar_png), expected)


def test_apply_through_a_symbolic_link(bar_png: Path, tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    link = tmp_path / "link.png"
    link.symlink_to(tmp_path / "real" / "edges.png")
    assert run("apply", "-k", "vertical", bar_png, link).exit_code == 0
    assert link.is_symlink()
    assert read_pixels(tmp_path / "real" / "edges.png").shape == (18, 28)


def test_decoder_warnings_are_one_line_each(
    bar_png: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_with_a_warning(monkeypatch, "Corrupt EXIF data")
    result = run("apply", "-k", "vertical", bar_png, tmp_path / "out.png")
    assert result.exit_code == 0
    assert result.stderr == f"convcli: warning: {bar_png}: Corrupt EXIF data\n"


@pytest.mark.parametrize(
    ("extension", "lossless"),
    [(".png", True), (".tif", True), (".bmp", True), (".webp", True), (".jpg", False)],
)
def test_apply_output_format_follows_the_extension(
    bar_png: Path, tmp_path: Path, extension: str, lossless: bool
) -> None:
    out = tmp_path / f"out{extension}"
    assert run("apply", "-k", "gaussian-3", bar_png, out).exit_code == 0
    written = read_pixels(out)
    if written.ndim == 3:  # WebP has no grayscale: it stores three equal channels
        written = written[..., 0]
    expected = to_pixels(convolve2d(read_gray(bar_png), get_kernel("gaussian-3").weights), "clip")
    assert written.shape == (18, 28)
    if lossless:
        assert np.array_equal(written, expected)
    else:
        assert np.abs(written.astype(int) - expected).max() <= 8


# --- kernels and shape ----------------------------------------------------------------------


def test_kernels_lists_every_kernel_on_stdout() -> None:
    result = run("kernels")
    assert result.exit_code == 0
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["name", "size", "sum", "description"]
    for kernel in KERNELS.values():
        row = next(line for line in lines if line.split()[0] == kernel.name)
        assert row.split()[1:3] == ["x".join(map(str, kernel.shape)), f"{kernel.total:g}"]
        assert kernel.summary in row


def test_kernels_name_prints_the_matrix() -> None:
    result = run("kernels", "sobel-x")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "sobel-x  3x3, sum 0"
    assert [line.split() for line in lines[2:]] == [
        ["1", "0", "-1"],
        ["2", "0", "-2"],
        ["1", "0", "-1"],
    ]


def test_kernels_name_with_a_divisor() -> None:
    lines = run("kernels", "gaussian-3").stdout.splitlines()
    assert [line.split() for line in lines[2:]] == [
        ["1", "2", "1"], ["1/16", "x", "2", "4", "2"], ["1", "2", "1"]
    ]  # fmt: skip


def test_shape_prints_the_arithmetic_on_stdout() -> None:
    result = run("shape", "--input", "300x451", "-k", "sobel-x", "--stride", "2", "--padding", "1")
    assert result.exit_code == 0
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        "input 300x451, kernel 3x3, stride 2, padding 1, dilation 1",
        "o_h = floor((300 + 2*1 - 1*(3 - 1) - 1) / 2) + 1 = 150",
        "    stride 2: the last row of the padded input is under no window (padding only)",
        "o_w = floor((451 + 2*1 - 1*(3 - 1) - 1) / 2) + 1 = 226",
        "output 150x226",
    ]


def test_shape_of_an_image_reads_its_header(bar_png: Path) -> None:
    result = run("shape", bar_png, "--kernel-size", "5x3", "--dilation", "2")
    assert result.exit_code == 0
    assert (
        result.stdout.splitlines()[0] == "input 20x30, kernel 5x3, stride 1, padding 0, dilation 2"
    )
    assert result.stdout.splitlines()[-1] == "output 12x26"


def test_shape_json() -> None:
    result = run("shape", "--input", "5x7", "--kernel-size", "4,2", "--padding", "same", "--json")
    assert result.exit_code == 0
    record = json.loads(result.stdout)
    assert record["output"] == [5, 7]
    assert record["padding"] == {"top": 1, "bottom": 2, "left": 0, "right": 1}
    assert record["fits"] is True
    assert record["formulas"][0] == "o_h = floor((5 + 1 + 2 - 1*(4 - 1) - 1) / 1) + 1 = 5"


def test_shape_that_does_not_fit_exits_1_with_the_arithmetic() -> None:
    result = run("shape", "--input", "10x10", "--kernel-size", "7", "--dilation", "2")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert single_error_line(result) == (
        "kernel 7x7 with dilation 2 spans 13x13, larger than the padded input 10x10"
    )
    assert "o_h = floor((10 + 2*0 - 2*(7 - 1) - 1) / 1) + 1 = -2" in result.stderr


def test_shape_json_that_does_not_fit_still_prints_the_record() -> None:
    result = run("shape", "--input", "4x4", "--kernel-size", "5", "--json")
    assert result.exit_code == 1
    record = json.loads(result.stdout)
    assert record["fits"] is False
    assert record["output"] is None
    assert single_error_line(result).startswith("kernel 5x5 is larger than the padded input 4x4")


# --- the group ------------------------------------------------------------------------------


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout == f"convcli, version {__version__}\n"


@pytest.mark.parametrize("command", [[], ["apply"], ["kernels"], ["shape"]])
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert re.search(r"^\s+convcli \w+", result.stdout, re.M)


def test_bare_convcli_prints_the_help_to_stderr() -> None:
    result = run()
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Usage: convcli [OPTIONS] COMMAND [ARGS]...")
    assert "convcli: error" not in result.stderr


def test_kernels_in_a_pipe_have_no_trailing_spaces() -> None:
    for args in (
        ["kernels"],
        ["kernels", "gaussian-5"],
        ["shape", "--input", "9", "--kernel-size", "3"],
    ):
        lines = run(*args).stdout.splitlines()
        assert lines
        assert all(line == line.rstrip() for line in lines), args
