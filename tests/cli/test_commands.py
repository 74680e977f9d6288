"""The command line through Click's CliRunner: exit code, stdout and stderr, each asserted."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from convcli import __version__, convolve2d
from convcli.kernels.kernel import Kernel
from convcli.kernels.registry import KERNELS, get_kernel
from convcli.kernels.spec import resolve_kernel
from convcli.pipeline.rangemap import RangeMode, to_pixels
from tests.cli_helpers import one_line_error, run
from tests.conftest import open_with_a_warning, read_gray, read_pixels

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
    assert re.search(
        r"^gray rec601; values -?[\d.]+ to [\d.]+ before mapping; range abs to 8-bit,"
        r" \d+ values? clipped$",
        result.stderr,
        re.M,
    )


def test_apply_replaces_an_existing_output(bar_png: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    out.write_bytes(b"old")
    assert run("apply", "-k", "identity", "--padding", "1", bar_png, out).exit_code == 0
    assert np.array_equal(read_pixels(out), read_pixels(bar_png))


def test_apply_in_place_needs_force(bar_png: Path) -> None:
    before = bar_png.read_bytes()
    refused = run("apply", "-k", "box-3", "--padding", "same", bar_png, bar_png)
    one_line_error(refused, 2, f"is the input '{bar_png}': writing over it needs --force")
    assert bar_png.read_bytes() == before
    expected = to_pixels(
        convolve2d(read_gray(bar_png), get_kernel("box-3").weights, padding="same"), "clip"
    )
    forced = run("apply", "-k", "box-3", "--padding", "same", "--force", bar_png, bar_png)
    assert forced.exit_code == 0
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
    assert lines[0].split() == ["kernel", "size", "sum", "description"]
    for kernel in KERNELS.values():
        row = next(line for line in lines if line.split()[0] == kernel.name)
        assert row.split()[1:3] == ["x".join(map(str, kernel.shape)), f"{kernel.total:g}"]
        assert kernel.summary in row


def test_kernels_name_prints_the_matrix() -> None:
    result = run("kernels", "sobel-x")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "sobel-x  3x3, sum 0, scale 1, bias 0, separable"
    assert [line.split() for line in lines[2:5]] == [
        ["1", "0", "-1"],
        ["2", "0", "-2"],
        ["1", "0", "-1"],
    ]
    assert lines[5:] == [
        "zero-sum: a flat region gives 0",
        "separable: column [1 2 1] times row [1 0 -1]",
        "not symmetric under a 180-degree turn: --flip (true convolution) changes the result",
        "8-bit input gives -1020 to 1020: use --range abs or rescale",
    ]


def test_kernels_name_with_a_divisor() -> None:
    lines = run("kernels", "gaussian-3").stdout.splitlines()
    assert lines[5] == "sum 1: a flat region keeps its value"
    assert (
        lines[7] == "symmetric under a 180-degree turn: correlation and convolution (--flip) agree"
    )
    assert lines[8] == "8-bit input gives 0 to 255: fits 8-bit output as it is"
    assert [line.split() for line in lines[2:5]] == [
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
    assert (record["input"], record["output"], record["fits"]) == ([5, 7], [5, 7], True)
    (step,) = record["steps"]
    assert step["kernel_name"] is None
    assert step["kernel"] == [4, 2]
    assert step["padding"] == {"top": 1, "bottom": 2, "left": 0, "right": 1}
    assert step["formulas"][0] == "o_h = floor((5 + 1 + 2 - 1*(4 - 1) - 1) / 1) + 1 = 5"


def test_shape_that_does_not_fit_exits_1_with_the_arithmetic() -> None:
    result = run("shape", "--input", "10x10", "--kernel-size", "7", "--dilation", "2")
    assert one_line_error(result, 1, alone=False) == (
        "kernel 7x7 with dilation 2 spans 13x13, larger than the padded input 10x10"
    )
    assert "o_h = floor((10 + 2*0 - 2*(7 - 1) - 1) / 1) + 1 = -2" in result.stderr


def test_shape_json_that_does_not_fit_still_prints_the_record() -> None:
    result = run("shape", "--input", "4x4", "--kernel-size", "5", "--json")
    assert result.exit_code == 1
    record = json.loads(result.stdout)
    assert record["fits"] is False
    assert record["output"] is None
    message = one_line_error(result, 1, stdout=None, alone=False)
    assert message.startswith("kernel 5x5 is larger than the padded input 4x4")


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


# --- your own kernels, chains and operators --------------------------------------------------


def test_apply_a_kernel_file(colour_png: Path, tmp_path: Path) -> None:
    kernel_file = tmp_path / "edge.csv"
    kernel_file.write_text("# my edge\n1,0,-1\n1,0,-1\n")
    out = tmp_path / "out.png"
    result = run("apply", "-k", kernel_file, colour_png, out)
    assert result.exit_code == 0, result.stderr
    weights = np.array([[1, 0, -1], [1, 0, -1]])
    expected = to_pixels(convolve2d(read_gray(colour_png), weights), "abs")
    assert np.array_equal(read_pixels(out), expected)


def test_apply_a_pytorch_weight(colour_png: Path, tmp_path: Path) -> None:
    weight = np.random.default_rng(3).standard_normal((1, 1, 3, 2)).astype(np.float32)
    np.save(tmp_path / "conv1.npy", weight)
    out = tmp_path / "out.png"
    result = run("apply", "-k", tmp_path / "conv1.npy", "--range", "rescale", colour_png, out)
    assert result.exit_code == 0, result.stderr
    expected = convolve2d(read_gray(colour_png), weight[0, 0].astype(np.float64))
    assert np.array_equal(read_pixels(out), to_pixels(expected, "rescale"))


def test_apply_a_chain_with_explain(colour_png: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    result = run(
        "apply", "-k", "gaussian:1", "-k", "laplacian", "--padding", "same", "--explain",
        colour_png, out,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert "step 1: gaussian:1" in lines
    assert "step 2: laplacian" in lines
    assert "input 12x16, kernel 7x7, stride 1, padding 3, dilation 1" in lines
    assert re.search(r"before mapping; range abs to 8-bit, \d+ values? clipped$", lines[-1])
    gray = read_gray(colour_png)
    blurred = convolve2d(gray, resolve_step("gaussian:1").weights, padding="same")
    expected = convolve2d(blurred, get_kernel("laplacian").weights, padding="same")
    assert np.array_equal(read_pixels(out), to_pixels(expected, "abs"))


def test_apply_an_operator_clips(colour_png: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    result = run("apply", "-k", "sobel", "--explain", colour_png, out)
    assert result.exit_code == 0
    assert re.search(r"range clip to 8-bit, \d+ values? clipped$", result.stderr.splitlines()[-1])
    gray = read_gray(colour_png)
    gx = convolve2d(gray, get_kernel("sobel-x").weights)
    gy = convolve2d(gray, get_kernel("sobel-y").weights)
    assert np.array_equal(read_pixels(out), to_pixels(np.hypot(gx, gy), "clip"))


def test_apply_scale_bias_and_normalize(colour_png: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    args = ["-k", "1 2 1; 2 4 2; 1 2 1", "--normalize", "--scale", "1/2", "--bias", "64"]
    result = run("apply", *args, "--explain", colour_png, out)
    assert result.exit_code == 0, result.stderr
    assert "1 2 1; 2 4 2; 1 2 1: result x 0.5 + 64" in result.stderr.splitlines()
    blurred = convolve2d(read_gray(colour_png), get_kernel("gaussian-3").weights)
    assert np.array_equal(read_pixels(out), to_pixels(blurred * 0.5 + 64, "clip"))


def test_a_mat_files_own_scale_and_bias_apply(colour_png: Path, tmp_path: Path) -> None:
    (tmp_path / "k.mat").write_text("3 1 2 10\n1 0 -1\n")
    out = tmp_path / "out.png"
    assert run("apply", "-k", tmp_path / "k.mat", colour_png, out).exit_code == 0
    response = convolve2d(read_gray(colour_png), [[1, 0, -1]])
    assert np.array_equal(read_pixels(out), to_pixels(response / 2 + 10, "clip"))
    assert run("apply", "-k", tmp_path / "k.mat", "--bias", "0", colour_png, out).exit_code == 0
    assert np.array_equal(read_pixels(out), to_pixels(response / 2, "abs"))


@pytest.mark.parametrize("output_format", ["txt", "json"])
@pytest.mark.parametrize("spec", ["sobel-x", "gaussian:1.2", "box:2x3", "1/3 -1; 2e-3 5"])
def test_kernels_format_reads_back_equal(tmp_path: Path, spec: str, output_format: str) -> None:
    written = run("kernels", spec, "--format", output_format)
    assert written.exit_code == 0, written.stderr
    path = tmp_path / f"k.{output_format}"
    path.write_text(written.stdout)
    original, again = resolve_step(spec), resolve_step(str(path))
    assert np.array_equal(original.weights, again.weights)
    assert (original.scale, original.bias) == (again.scale, again.bias)
    shown = run("kernels", path)
    assert shown.exit_code == 0
    assert shown.stdout.splitlines()[0].startswith(str(path) if output_format == "txt" else spec)


def test_kernels_shows_any_spec_with_its_facts(tmp_path: Path) -> None:
    (tmp_path / "k.json").write_text('{"kernel": [[1, 2], [2, 4]], "scale": 0.25, "bias": 3}')
    lines = run("kernels", tmp_path / "k.json").stdout.splitlines()
    assert lines[0] == f"{tmp_path / 'k.json'}  2x2, sum 9, scale 0.25, bias 3, separable"
    assert [line.split() for line in lines[2:4]] == [["1", "2"], ["2", "4"]]
    # scale 0.25 and bias 3 on 0..9*255: the 8-bit range.
    assert lines[-1] == (
        "8-bit input gives 3 to 576.75: values above 255 are clipped;"
        " use --range rescale or --scale"
    )


def test_kernels_shows_divisors_and_zero_sums_without_rounding_noise() -> None:
    box = run("kernels", "box:7").stdout.splitlines()
    assert box[0] == "box:7  7x7, sum 1, scale 1, bias 0, separable"
    assert box[2 + 3].split() == ["1/49", "x", *["1"] * 7]
    assert "significant digits" not in "".join(box)
    log = run("kernels", "log:1").stdout.splitlines()
    assert log[0] == "log:1  7x7, sum 0, scale 1, bias 0, not separable"
    assert log[2 + 7] == "(shown to 6 significant digits; --format txt prints them exactly)"
    assert log[2 + 8] == "zero-sum: a flat region gives 0"


def test_kernels_lists_operators_and_families() -> None:
    output = run("kernels").stdout
    for name in (
        "sobel",
        "prewitt",
        "scharr",
        "gaussian:SIGMA[,SIZE]",
        "box:N",
        "log:SIGMA[,SIZE]",
    ):
        assert re.search(rf"^{re.escape(name)}(\s|$)", output, re.M), name


def resolve_step(spec: str) -> Kernel:
    step = resolve_kernel(spec)
    assert isinstance(step, Kernel)
    return step
