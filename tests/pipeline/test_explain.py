"""One output pixel worked by hand, in the library, against what apply writes.

The hand's numbers come from :mod:`convcli.pipeline.explain`, which reads the window tap by tap and
sums in float64, apart from the core; the pixel it reports must be, to the last bit, the one
apply writes, and the hand's sum the core's up to float rounding. On the ramp, with kernels
whose weights have few binary digits (integers, sixteenths), it must equal the reference.

The commands that print it, ``convcli explain`` and ``apply --at``, are tests/cli/test_explain.py.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image
from rich.console import Console

from convcli import convolve2d
from convcli.choices import Method, RangeMode
from convcli.core.methods import Compute
from convcli.core.params import PAD_MODES, ConvParams, PadMode
from convcli.core.shape import AxisArithmetic, arithmetic, chain_arithmetic
from convcli.errors import ImageWriteError, ParameterError, ShapeError
from convcli.kernels.kernel import Kernel, Operator
from convcli.kernels.spec import resolve_kernel
from convcli.pipeline.apply import ImageOptions, apply_to_image
from convcli.pipeline.chain import prepare_chain
from convcli.pipeline.explain import (
    AxisWindow,
    WorkedPixel,
    axis_window,
    explain_image,
    explain_ramp,
    map_value,
    ramp,
    work_pixel,
)
from convcli.pipeline.rangemap import PixelMapping
from convcli.terminal.render_pixel import worked_pixel_report
from tests.reference import NUMPY_MODES

# Exact in float32 for 8-bit input: integer weights, and sixteenths.
EXACT_KERNELS = ["vertical", "sobel-x", "laplacian", "gaussian-3", "sharpen", "emboss", "sobel"]
CONSTANT = 7.0
"""What ``constant`` padding holds in these tests."""


def numpy_padded(array: npt.NDArray[Any], padding: int, mode: str) -> npt.NDArray[Any]:
    """`array` padded as NumPy pads it in `mode`, the constant being :data:`CONSTANT`."""
    value = CONSTANT if mode == "constant" else 0
    if NUMPY_MODES[mode] == "constant":
        return np.pad(array, padding, mode="constant", constant_values=value)
    return np.pad(array, padding, mode=NUMPY_MODES[mode])  # type: ignore[call-overload,no-any-return]


def rendered(work: WorkedPixel, width: int = 160) -> str:
    file = io.StringIO()
    Console(width=width, file=file, color_system=None).print(worked_pixel_report(work))
    return file.getvalue()


@st.composite
def geometry(draw: st.DrawFn) -> tuple[int, int, ConvParams, str]:
    """An image size, params whose padding the pad mode allows, and a kernel name."""
    height, width = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    mode: PadMode = draw(st.sampled_from(PAD_MODES))
    limit = {"reflect": min(height, width) - 1, "circular": min(height, width, 3)}.get(mode, 3)
    side = draw(st.integers(0, max(limit, 0)))
    padding = (side, side)
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    value = draw(st.sampled_from([-40.0, CONSTANT, 300.0])) if mode == "constant" else 0.0
    params = ConvParams(
        stride=stride,
        padding=padding,
        dilation=dilation,
        pad_mode=mode,
        pad_value=value,
        flip=draw(st.booleans()),
    )
    return height, width, params, draw(st.sampled_from(EXACT_KERNELS))


def fitting(height: int, width: int, params: ConvParams, name: str) -> tuple[int, int] | None:
    """The output size, or None when the kernel does not fit."""
    rows, cols = arithmetic((height, width), resolve_kernel(name).shape, params)
    if not (rows.fits and cols.fits):
        return None
    return rows.output, cols.output


def written_pixel(path: Path, at: tuple[int, int]) -> npt.NDArray[np.generic]:
    with Image.open(path) as image:
        pixels: npt.NDArray[np.generic] = np.asarray(image)
    return np.asarray(pixels[at])


# Kernels whose weights float32 does not hold exactly, and a chain with an operator inside.
ANY_KERNELS = [*EXACT_KERNELS, "gaussian:1.4", "box-3", "log:1", "prewitt"]
INPUT_KINDS = ["L", "RGB as gray", "RGB", "RGBA", "float32 array"]
OUTPUTS = [(".png", None), (".png", "16"), (".npy", None), (".tif", "float")]


def written(path: Path, at: tuple[int, int]) -> tuple[float, ...]:
    if path.suffix == ".npy":
        return tuple(float(v) for v in np.atleast_1d(np.load(path)[at]))
    return tuple(float(v) for v in np.atleast_1d(written_pixel(path, at)))


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    case=geometry(),
    kernel=st.sampled_from(ANY_KERNELS),
    chained=st.booleans(),
    kind=st.sampled_from(INPUT_KINDS),
    output=st.sampled_from(OUTPUTS),
    range_mode=st.sampled_from(["auto", "clip", "abs", "rescale"]),
    scale_bias=st.tuples(st.sampled_from([None, 0.5, 2.0]), st.sampled_from([None, 128.0, -10.0])),
    how=st.tuples(st.sampled_from(["auto", "direct", "gemm", "fft"]), st.sampled_from([1, 2])),
    bigger=st.integers(0, 24),
    data=st.data(),
)
def test_the_worked_pixel_is_the_pixel_apply_writes(
    tmp_path: Path,
    case: tuple[int, int, ConvParams, str],
    kernel: str,
    chained: bool,
    kind: str,
    output: tuple[str, str | None],
    range_mode: RangeMode,
    scale_bias: tuple[float | None, float | None],
    how: tuple[Method, int],
    bigger: int,
    data: st.DataObject,
) -> None:
    height, width, params, _ = case
    height, width = height + bigger, width + bigger  # sometimes enough pixels to meet a half
    names = ["sobel", kernel] if chained else [kernel]
    kernels = [resolve_kernel(name) for name in names]
    shapes = chain_arithmetic((height, width), [k.shape for k in kernels], params)
    assume(len(shapes) == len(kernels) and all(a.fits for axes in shapes for a in axes))
    rows, cols = shapes[-1]
    at = (data.draw(st.integers(0, rows.output - 1)), data.draw(st.integers(0, cols.output - 1)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    channels = {"L": (), "RGB as gray": (3,), "RGB": (3,), "RGBA": (4,), "float32 array": ()}
    pixels = rng.integers(0, 256, (height, width, *channels[kind]), np.uint8)
    suffix, depth = output
    if suffix != ".png":
        range_mode = "auto"  # float output holds the values as they are
    if (suffix == ".tif" or depth == "16") and kind in ("RGB", "RGBA"):
        kind = "RGB as gray"  # float and 16-bit output hold no colour and no alpha
        pixels = pixels[..., :3]
    if kind == "float32 array":
        source = tmp_path / "in.npy"
        np.save(source, (rng.standard_normal((height, width)) * 100).astype(np.float32))
        depth = None if depth == "16" else depth  # a unitless input has no 16-bit to keep
    else:
        source = tmp_path / "in.png"
        Image.fromarray(pixels).save(source)
    destination = tmp_path / f"out{suffix}"
    scale, bias = scale_bias
    steps = prepare_chain(kernels, normalize=False, scale=scale, bias=bias)
    method, threads = how
    options = ImageOptions(
        range_mode=range_mode,
        color=kind in ("RGB", "RGBA"),
        depth=depth,  # type: ignore[arg-type]
        compute=Compute(method=method, threads=threads),
    )
    try:
        apply_to_image(source, destination, steps, params, options)
    except ShapeError as refused:  # a later step's input too small for its padding: both refuse
        with pytest.raises(ShapeError, match=re.escape(str(refused))):
            explain_image(source, steps, params, at, options, destination=str(destination))
        return
    worked = explain_image(source, steps, params, at, options, destination=str(destination))
    assert worked.pixel == written(destination, at)
    # The hand's float64 sum is the core's, up to the rounding of float32 and of the FFT,
    # which is relative to the largest value any step can make.
    largest = float(np.abs(np.load(source) if source.suffix == ".npy" else pixels).max())
    for step in steps:
        weights = [step.x.weights, step.y.weights] if isinstance(step, Operator) else [step.weights]
        largest *= sum(float(np.abs(w).sum()) for w in weights) * abs(step.scale)
        largest += abs(step.bias)
    # Weighted by alpha, the sum is divided by the filtered alpha, and its rounding with it;
    # where next to nothing is covered, the hand and the core may call it nothing (colour 0)
    # on either side of the line.
    covered = 1.0 if worked.coverage is None else worked.coverage.covered
    if covered < 1e-3:
        return
    for channel in worked.channels:
        assert abs(channel.value - channel.computed) <= 1e-5 * (1 + largest) / covered


@pytest.mark.parametrize(("depth", "suffix"), [(None, ".png"), ("8", ".png"), ("float", ".tif")])
@pytest.mark.parametrize("range_mode", ["auto", "rescale"])
def test_sixteen_bit_input_in_every_output_depth(
    tmp_path: Path, depth: str | None, suffix: str, range_mode: str
) -> None:
    source, output = tmp_path / "in.png", tmp_path / f"out{suffix}"
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 65536, (7, 9), dtype=np.uint16)).save(source)
    steps = [resolve_kernel("sobel-x")]
    options = ImageOptions(depth=depth, range_mode=range_mode if depth != "float" else "auto")  # type: ignore[arg-type]
    apply_to_image(source, output, steps, ConvParams(padding=(1, 1)), options)
    for at in [(0, 0), (3, 4), (6, 8)]:
        worked = explain_image(
            source, steps, ConvParams(padding=(1, 1)), at, options, destination=str(output)
        )
        assert worked.pixel == (float(written_pixel(output, at)),)


@settings(max_examples=100, deadline=None)
@given(case=geometry(), data=st.data())
def test_the_ramp_pixel_is_the_core_value(
    case: tuple[int, int, ConvParams, str], data: st.DataObject
) -> None:
    height, width, params, name = case
    shape = fitting(height, width, params, name)
    assume(shape is not None and name != "sobel")
    assert shape is not None
    at = (data.draw(st.integers(0, shape[0] - 1)), data.draw(st.integers(0, shape[1] - 1)))
    kernel = resolve_kernel(name)
    assert isinstance(kernel, Kernel)
    worked = explain_ramp((height, width), [kernel], params, at)
    expected = convolve2d(
        ramp((height, width)),
        kernel.weights,
        stride=params.stride,
        padding=params.padding,
        dilation=params.dilation,
        pad_mode=params.pad_mode,
        pad_value=params.pad_value,
        flip=params.flip,
    )
    assert worked.pixel == (expected[at],)
    assert worked.channels[0].window.shape == kernel.shape


@pytest.mark.parametrize("mode", PAD_MODES)
@pytest.mark.parametrize("index", [0, -1])
def test_the_taps_read_what_numpy_pads_there(mode: str, index: int) -> None:
    # The window's first tap at the top-left corner, its last at the bottom-right, both
    # two lines into the padding.
    size, padding = 5, 2
    axis = AxisArithmetic("h", size, 3, 1, padding, padding, 1)
    output = index % axis.output
    taps = axis_window(axis, output, mode)  # type: ignore[arg-type]
    padded = np.pad(np.arange(size), padding, mode=NUMPY_MODES[mode])  # type: ignore[call-overload]
    first = output * axis.stride
    expected = padded[first : first + axis.kernel]
    sources = [-1 if source is None else source for source in taps.sources]
    if mode in ("zeros", "constant"):
        expected = np.where(
            np.pad(np.ones(size, bool), padding)[first : first + axis.kernel], expected, -1
        )
    assert sources == expected.tolist()
    in_padding = [taps.in_padding(tap) for tap in range(3)]
    assert in_padding == ([True, True, False] if index == 0 else [False, True, True])


def test_corner_padding_is_marked_and_said() -> None:
    params = ConvParams(padding=(1, 1), pad_mode="reflect")
    worked = explain_ramp((4, 5), [resolve_kernel("sobel-x")], params, (-1, -1))
    assert worked.at == (3, 4)
    assert worked.rows == AxisWindow("h", (2, 3, 4), (2, 3, 2), 4)
    assert worked.columns == AxisWindow("w", (3, 4, 5), (3, 4, 3), 5)
    text = rendered(worked)
    assert "row 4 is padding: reflect gives the values of row 2" in text
    assert "column 5 is padding: reflect gives the values of column 3" in text
    header = next(line for line in text.splitlines() if line.split()[:3] == ["3", "4", "5*"])
    assert header
    marked_row = next(line for line in text.splitlines() if line.lstrip().startswith("4*"))
    # Row 4 reflects row 2 of the ramp (10..14), column 5 reflects column 3.
    assert marked_row.split()[1:4] == ["13", "14", "13"]


def test_zeros_padding_at_the_top_left_corner() -> None:
    params = ConvParams(padding=(2, 2))
    worked = explain_ramp((3, 3), [resolve_kernel("box-3")], params, (0, 0))
    assert worked.rows.sources == (None, None, 0)
    assert worked.channels[0].window.tolist() == [[0, 0, 0], [0, 0, 0], [0, 0, 0]]
    assert "rows -2 and -1 are padding: zeros gives 0" in rendered(worked)


def test_the_report_ends_with_the_output_pixel_and_shows_the_arithmetic() -> None:
    params = ConvParams(stride=(2, 2), padding=(1, 1))
    worked = explain_ramp((6, 6), [resolve_kernel("sobel-x")], params, (0, 0))
    text = rendered(worked)
    lines = text.strip().splitlines()
    assert lines[-1] == "output pixel (0, 0) = -9.0"
    assert "o_w = floor((6 + 2*1 - 1*(3 - 1) - 1) / 2) + 1 = 3" in text
    assert "stride 2: the last column of the padded input is under no window" in text
    assert "sum of the 9 products: -2 - 7 = -9" in text
    assert lines[0] == "input: the ramp x[i, j] = i*6 + j, 6x6"


def test_tables_sit_side_by_side_when_they_fit_and_stack_when_not() -> None:
    small = rendered(explain_ramp((5, 5), [resolve_kernel("vertical")], ConvParams(), (0, 0)))
    assert re.search(r"^window +kernel +products\s*$", small, re.M)
    big = explain_ramp((20, 20), [resolve_kernel("gaussian:3")], ConvParams(), (0, 0))
    assert big.channels[0].window.shape == (19, 19)
    text = rendered(big, width=80)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "\u2026" not in text  # no number shortened to fit
    assert re.search(r"^window, taps 0 to \d+ across\s*$", text, re.M)
    assert re.search(r"^products, taps? (\d+ to )?18 across\s*$", text, re.M)
    # Every product is shown whole: 19 x 19 of them, in blocks of columns.
    products = text[text.index("products, taps 0") : text.index("sum of the")]
    numbers = [line.split() for line in products.splitlines() if line and line[0] == " "]
    assert sum(len(row) for row in numbers) == 19 * 19


def test_a_chain_works_the_last_step_over_the_previous_result() -> None:
    steps = [resolve_kernel("gaussian-3"), resolve_kernel("laplacian")]
    params = ConvParams(padding="same", pad_mode="replicate")
    worked = explain_ramp((5, 6), steps, params, (2, 3))
    blur = steps[0]
    assert isinstance(blur, Kernel)
    first = convolve2d(ramp((5, 6)), blur.weights, padding="same", pad_mode="replicate")
    assert worked.channels[0].window.tolist() == first[1:4, 2:5].tolist()
    assert "of the result of step 1 (gaussian-3)" in rendered(worked)


def test_an_operator_shows_both_sums_and_the_magnitude() -> None:
    worked = explain_ramp((6, 6), [resolve_kernel("sobel")], ConvParams(), (1, 1))
    gx, gy = (term.total for term in worked.channels[0].terms)
    assert worked.channels[0].combined == pytest.approx(float(np.hypot(gx, gy)))
    text = rendered(worked)
    assert f"sqrt(Gx^2 + Gy^2) = sqrt(({gx:g})^2 + ({gy:g})^2)" in text


def test_flip_shows_the_kernel_turned() -> None:
    kernel = resolve_kernel("1,2;3,4")
    worked = explain_ramp((3, 3), [kernel], ConvParams(flip=True), (0, 0))
    assert worked.channels[0].terms[0].weights.tolist() == [[4, 3], [2, 1]]
    assert "kernel, flipped" in rendered(worked)


def test_mapping_steps_are_the_pipelines() -> None:
    eight = PixelMapping("8", "clip", 255, 1.0)
    assert map_value(-3.2, eight).final == 0
    assert map_value(-3.2, eight).clamped
    assert map_value(254.5, eight).final == 254  # half to even, as np.rint
    sixteen_to_eight = PixelMapping("8", "abs", 255, 255 / 65535)
    assert map_value(-65535.0, sixteen_to_eight).final == 255
    rescale = PixelMapping("8", "rescale", 255, 1.0)
    assert map_value(3.0, rescale, (3.0, 3.0)).final == 0  # a flat result maps to 0
    assert map_value(0.1, PixelMapping("float", None, 0, 1.0)).final == float(np.float32(0.1))


def test_pixel_outside_the_output_is_refused() -> None:
    with pytest.raises(ParameterError, match=r"pixel 3,0 is outside the output 3x3"):
        explain_ramp((5, 5), [resolve_kernel("vertical")], ConvParams(), (3, 0))
    with pytest.raises(ParameterError, match="outside"):
        explain_ramp((5, 5), [resolve_kernel("vertical")], ConvParams(), (0, -4))


def test_what_apply_refuses_is_refused() -> None:
    with pytest.raises(ShapeError, match="reflect padding"):
        explain_ramp(
            (2, 5),
            [resolve_kernel("vertical")],
            ConvParams(padding=(2, 2), pad_mode="reflect"),
            (0, 0),
        )
    with pytest.raises(ShapeError, match="larger than the padded input"):
        work_pixel(
            np.zeros((2, 2)),
            [resolve_kernel("vertical")],
            ConvParams(),
            (0, 0),
            PixelMapping("npy", None, 0, 1.0),
        )


CORNERS = {
    "top-left": (0, 0),
    "top-right": (0, -1),
    "bottom-left": (-1, 0),
    "bottom-right": (-1, -1),
}


@pytest.mark.parametrize("mode", PAD_MODES)
@pytest.mark.parametrize("corner", list(CORNERS))
def test_every_corner_in_every_mode_marks_and_says_its_padding(mode: PadMode, corner: str) -> None:
    # A 4x5 ramp, a 3x3 window two lines into the padding at each corner (dilation 2).
    size, padding = (4, 5), (2, 2)
    value = CONSTANT if mode == "constant" else 0.0
    params = ConvParams(padding=padding, dilation=(2, 2), pad_mode=mode, pad_value=value)
    worked = explain_ramp(size, [resolve_kernel("box-3")], params, CORNERS[corner])
    text = rendered(worked)
    for taps, extent, one in ((worked.rows, 4, "row"), (worked.columns, 5, "column")):
        first = (0 if CORNERS[corner][taps.axis == "w"] == 0 else -1) == 0
        outside = [c for c in taps.positions if not 0 <= c < extent]
        assert outside == ([-2] if first else [extent + 1]), taps
        expected = np.pad(np.arange(extent), 2, mode=NUMPY_MODES[mode])  # type: ignore[call-overload]
        reads = int(expected[outside[0] + 2])
        if mode in ("zeros", "constant"):
            assert f"{one} {outside[0]} is padding: {mode} gives {value:g}" in text
        else:
            assert (
                f"{one} {outside[0]} is padding: {mode} gives the values of {one} {reads}" in text
            )
    window = worked.channels[0].window
    reference = numpy_padded(ramp(size), 2, mode)
    rows = [c + 2 for c in worked.rows.positions]
    columns = [c + 2 for c in worked.columns.positions]
    assert window.tolist() == reference[np.ix_(rows, columns)].tolist()
    lines = text.splitlines()
    title = next(i for i, line in enumerate(lines) if line.startswith("window"))
    header, *rows_shown = lines[title + 1 : title + 5]
    assert header.split() == [
        f"{c}*" if not 0 <= c < 5 else str(c) for c in worked.columns.positions
    ]
    assert [row.split()[0] for row in rows_shown] == [
        f"{c}*" if not 0 <= c < 4 else str(c) for c in worked.rows.positions
    ]


def test_a_result_that_overflows_is_refused_as_apply_refuses_it(tmp_path: Path) -> None:
    source = tmp_path / "huge.npy"
    np.save(source, np.full((4, 4), 1e300))
    with pytest.raises(ImageWriteError, match="overflows: it has infinite or NaN values"):
        explain_image(source, [resolve_kernel("1e300,1")], ConvParams(), (0, 0))


def test_jpeg_output_says_it_compresses_lossily(tmp_path: Path) -> None:
    source = tmp_path / "in.png"
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(6, 8) * 5).save(source)
    worked = explain_image(
        source, [resolve_kernel("vertical")], ConvParams(), (1, 1), destination="o.jpg"
    )
    as_png = explain_image(source, [resolve_kernel("vertical")], ConvParams(), (1, 1))
    assert worked.provenance.lossy
    assert worked.pixel == as_png.pixel
    assert "JPEG compresses lossily" in rendered(worked)


def test_an_arrays_channels_are_numbered_not_named_rgb(tmp_path: Path) -> None:
    source = tmp_path / "three.npy"
    np.save(source, np.arange(75, dtype=np.float64).reshape(5, 5, 3))
    worked = explain_image(
        source, [resolve_kernel("vertical")], ConvParams(), (0, 0), destination="o.npy"
    )
    assert worked.provenance.channel_names == ("0", "1", "2")
    assert "channel 1" in rendered(worked)


def test_padding_only_is_said_even_with_gaps_between_taps() -> None:
    from convcli.terminal.render import axis_notes

    # 8 rows, padding 1, a 1-tap kernel at stride 2: windows at padded 0, 2, 4, 6, 8; the last
    # padded row (9) is padding, and input rows 0, 2, 4 and 6 are never read.
    notes = axis_notes(AxisArithmetic("h", 8, 1, 2, 1, 1, 1))
    assert notes == [
        "stride 2: the last row of the padded input is under no window (padding only)",
        "4 of the 8 input rows are read by no tap: nothing of them reaches the output",
    ]
