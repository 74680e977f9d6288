"""Alpha through a chain: the weighted, carry and channel rules, against references built here."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from convcli import ParameterError
from convcli.core.convolution import sample_centre
from convcli.core.params import PAD_MODES, ConvParams, PadMode
from convcli.core.shape import same_padding
from convcli.kernels.kernel import Kernel
from convcli.kernels.registry import KERNELS, OPERATORS
from convcli.kernels.spec import resolve_kernel
from convcli.pipeline.alpha import TRANSPARENT, applied_alpha, filtered_alpha, weighted_chain
from convcli.pipeline.apply import ImageOptions, apply_to_image
from tests.conftest import read_pixels
from tests.reference import reference_conv2d, smallest_side

Floats = npt.NDArray[np.float64]


def reference_weighted(
    colour: Floats, alpha: Floats, kernel: Kernel, params: ConvParams, opaque: float
) -> tuple[Floats, Floats]:
    """One weighted step as ImageMagick and GIMP describe it, with the reference loop: the
    premultiplied colour and the alpha filtered by the kernel, the colour divided by the
    filtered alpha (relative to the kernel's sum). Returns (colour, alpha in its units)."""
    padding: Any = params.padding
    if padding == "same":
        pads = tuple(same_padding(k, d) for k, d in zip(kernel.shape, params.dilation, strict=True))
    else:
        pads = ((padding[0], padding[0]), (padding[1], padding[1]))
    mode, value = params.pad_mode, params.pad_value
    # The alpha's padding: transparent for zeros, opaque for constant, else the image's.
    alpha_mode, alpha_value = ("constant", opaque) if mode == "constant" else (mode, 0.0)
    geometry: dict[str, Any] = {"stride": params.stride, "pads": pads, "dilation": params.dilation}
    total = math.fsum(kernel.weights.flat)
    filtered = reference_conv2d(
        alpha, kernel.weights, mode=alpha_mode, value=alpha_value, flip=params.flip, **geometry
    )
    assert filtered is not None
    covered = filtered / total
    planes = colour[..., np.newaxis] if colour.ndim == 2 else colour
    results = []
    for channel in range(planes.shape[2]):
        summed = reference_conv2d(
            planes[..., channel] * alpha / opaque,
            kernel.weights,
            mode=mode,
            value=value,
            flip=params.flip,
            **geometry,
        )
        assert summed is not None
        shown = covered >= TRANSPARENT * opaque
        divided = np.divide(summed * opaque, covered, out=np.zeros_like(summed), where=shown)
        results.append(np.where(shown, divided * kernel.scale + kernel.bias, 0.0))
    out = np.stack(results, axis=-1)
    return (out[..., 0] if colour.ndim == 2 else out), np.clip(covered, 0, opaque)


@st.composite
def weighted_cases(draw: st.DrawFn) -> dict[str, Any]:
    """An RGBA-like image (colour 0..255 or gray, alpha 0..255, some of it 0), a kernel of
    weights summing to more than 0, and geometry that fits."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    positive = draw(st.booleans())
    low = 0.0 if positive else -0.5
    weights = draw(hnp.arrays(np.float64, (kh, kw), elements=st.floats(low, 4.0)))
    # One weight lifts the sum above 0, whatever the others hold.
    lift = 4.0 + max(0.0, -math.fsum(weights.flat))
    weights[draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))] += lift
    kernel = Kernel("k", weights, scale=draw(st.sampled_from([1.0, 0.5])),
                    bias=draw(st.sampled_from([0.0, 10.0])))  # fmt: skip
    mode: PadMode = draw(st.sampled_from(PAD_MODES))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    if draw(st.booleans()):
        padding: Any = "same"
        stride = (1, 1)
        pads = [same_padding(k, d) for k, d in zip((kh, kw), dilation, strict=True)]
    else:
        padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
        stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
        pads = [(padding[0], padding[0]), (padding[1], padding[1])]
    sides = [
        draw(st.integers(max(2, smallest_side(k, d, p, mode)), 9))
        for k, d, p in zip((kh, kw), dilation, pads, strict=True)
    ]
    channels = draw(st.sampled_from([(), (3,)]))
    colour = draw(hnp.arrays(np.float32, (*sides, *channels), elements=st.integers(0, 255)))
    alpha = draw(
        hnp.arrays(np.float32, tuple(sides), elements=st.sampled_from([0, 0, 1, 128, 255]))
    )
    value = float(draw(st.integers(0, 255))) if mode == "constant" else 0.0
    params = ConvParams.from_args(
        stride=stride, padding=padding, dilation=dilation, pad_mode=mode, pad_value=value,
        flip=draw(st.booleans()),
    )  # fmt: skip
    return {"colour": colour, "alpha": alpha, "kernel": kernel, "params": params}


@settings(max_examples=300, deadline=None)
@given(weighted_cases(), st.sampled_from(["direct", "gemm", "fft", "auto"]))
def test_weighted_is_premultiply_filter_divide(case: dict[str, Any], method: str) -> None:
    from convcli.core.methods import Compute

    colour, alpha, kernel, params = case["colour"], case["alpha"], case["kernel"], case["params"]
    result = weighted_chain(colour, alpha, [kernel], params, opaque=255.0,
                            compute=Compute(method=method))  # type: ignore[arg-type]  # fmt: skip
    expected_colour, expected_alpha = reference_weighted(
        colour.astype(np.float64), alpha.astype(np.float64), kernel, params, 255.0
    )
    scale = np.abs(kernel.weights).sum() / kernel.total * 255 * 4 + 20
    np.testing.assert_allclose(result.alpha, expected_alpha, rtol=0, atol=2e-4 * 255)
    # Where almost nothing is covered, the division magnifies rounding: compare the visible.
    visible = expected_alpha > 0.02 * 255
    if colour.ndim == 3:
        visible = visible[..., np.newaxis] & np.ones(colour.shape[2], bool)
    np.testing.assert_allclose(
        result.colour[visible], expected_colour[visible], rtol=0, atol=1e-3 * scale
    )


def test_the_blurred_logo_stays_red_where_it_shows_and_its_edge_is_soft(tmp_path: Path) -> None:
    # An opaque red 10x10 square on transparent black, box-blurred: ImageMagick's result.
    logo = np.zeros((30, 30, 4), np.uint8)
    logo[10:20, 10:20] = (255, 0, 0, 255)
    Image.fromarray(logo, "RGBA").save(tmp_path / "logo.png")
    options = ImageOptions(color=True)
    params = ConvParams(padding="same")
    apply_to_image(
        tmp_path / "logo.png", tmp_path / "blur.png", [KERNELS["box-5"]], params, options
    )
    blurred = read_pixels(tmp_path / "blur.png").astype(int)
    shown = blurred[..., 3] > 0
    assert np.all(np.abs(blurred[shown][:, :3] - (255, 0, 0)) <= 1)
    assert np.all(blurred[~shown][:, :3] == 0)  # nothing is there: colour 0
    # The alpha edge is the box-blurred alpha: 1 to 5 of the 5 columns covered, across it.
    assert blurred[15, 7:13, 3].tolist() == [0, 51, 102, 153, 204, 255]
    carried = ImageOptions(color=True, alpha="carry")
    apply_to_image(tmp_path / "logo.png", tmp_path / "c.png", [KERNELS["box-5"]], params, carried)
    assert read_pixels(tmp_path / "c.png")[15, 10].tolist() == [153, 0, 0, 255]  # the fringe


@pytest.mark.parametrize("rule", ["weighted", "carry", "channel"])
@pytest.mark.parametrize("mode", ["replicate", "reflect", "circular", "symmetric", "constant"])
@pytest.mark.parametrize("name", ["gaussian-5", "box-3", "sharpen", "emboss"])
def test_an_opaque_image_gives_the_colour_result_and_full_alpha(
    tmp_path: Path, rule: str, mode: PadMode, name: str
) -> None:
    rgb = np.random.default_rng(5).integers(0, 256, (13, 17, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(np.dstack([rgb, np.full((13, 17), 255, np.uint8)])).save(tmp_path / "a.png")
    params = ConvParams(padding="same", pad_mode=mode, pad_value=90.0 if mode == "constant" else 0)
    steps = [KERNELS[name]]
    apply_to_image(
        tmp_path / "rgb.png", tmp_path / "c.png", steps, params, ImageOptions(color=True)
    )
    options = ImageOptions(color=True, alpha=rule)  # type: ignore[arg-type]
    apply_to_image(tmp_path / "a.png", tmp_path / "o.png", steps, params, options)
    written = read_pixels(tmp_path / "o.png")
    assert np.array_equal(written[..., :3], read_pixels(tmp_path / "c.png"))
    assert (written[..., 3] == 255).all()


def test_zeros_padding_is_transparent_and_adds_no_dark_border(tmp_path: Path) -> None:
    red = np.zeros((8, 9, 4), np.uint8)
    red[...] = (200, 10, 0, 255)
    Image.fromarray(red, "RGBA").save(tmp_path / "red.png")
    apply_to_image(tmp_path / "red.png", tmp_path / "o.png", [KERNELS["box-3"]],
                   ConvParams(padding="same"), ImageOptions(color=True))  # fmt: skip
    written = read_pixels(tmp_path / "o.png")
    assert (written[..., :3] == (200, 10, 0)).all()  # the colour, even at the edges
    assert written[0, 0, 3] == round(4 / 9 * 255)  # a corner's window: 4 of 9 pixels there
    assert written[0, 4, 3] == round(6 / 9 * 255)
    assert written[4, 4, 3] == 255


def test_carry_takes_alpha_from_under_the_centre_tap_and_opaque_constant_padding() -> None:
    alpha = np.arange(12.0).reshape(3, 4) * 20
    params = ConvParams(padding=(1, 1), pad_mode="constant", pad_value=7.0)
    carried = filtered_alpha(alpha, [KERNELS["box-3"]], params, "carry", opaque=255.0)
    assert np.array_equal(carried, alpha)  # each window's centre tap is its own pixel
    # A 1x2 kernel's centre tap is its left one: the first column of windows, and the rows
    # added above and below, take theirs from the padding, which constant makes opaque.
    shifted = filtered_alpha(alpha, [resolve_kernel("1 1")], params, "carry", opaque=255.0)
    assert shifted.shape == (5, 5)
    assert (shifted[:, 0] == 255).all()
    assert (shifted[0] == 255).all()
    assert np.array_equal(shifted[1:4, 1:], alpha)
    zeros = ConvParams(padding=(1, 1))
    expected = sample_centre(alpha, (1, 2), zeros)
    assert np.array_equal(
        filtered_alpha(alpha, [resolve_kernel("1 1")], zeros, "carry", opaque=255.0), expected
    )


def test_channel_filters_alpha_as_one_more_channel() -> None:
    alpha = np.arange(20.0).reshape(4, 5)
    params = ConvParams(padding=(1, 1), pad_mode="reflect")
    sobel = KERNELS["sobel-x"]
    filtered = filtered_alpha(alpha, [sobel], params, "channel", opaque=255.0)
    expected = reference_conv2d(alpha, sobel.weights, stride=(1, 1), pads=((1, 1), (1, 1)),
                                dilation=(1, 1), mode="reflect")  # fmt: skip
    assert expected is not None
    np.testing.assert_allclose(filtered, expected, rtol=0, atol=1e-9)


def test_auto_weights_blurs_and_carries_the_rest() -> None:
    assert applied_alpha("auto", [KERNELS["gaussian-3"], KERNELS["box-5"]]) == "weighted"
    assert applied_alpha("auto", [KERNELS["gaussian-3"], KERNELS["laplacian"]]) == "carry"
    assert applied_alpha("auto", [KERNELS["sharpen"]]) == "carry"  # a negative weight
    assert applied_alpha("auto", [OPERATORS["sobel"]]) == "carry"
    assert applied_alpha("weighted", [KERNELS["sharpen"]]) == "weighted"  # its sum is 1
    assert applied_alpha("channel", [KERNELS["laplacian"]]) == "channel"


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("laplacian", "'laplacian' sums to 0: use --alpha carry or channel"),
        ("sobel", "sobel is an operator: use --alpha carry or channel"),
    ],
)
def test_weighted_refuses_what_it_cannot_divide_by(step: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        applied_alpha("weighted", [resolve_kernel(step)])


def test_a_chain_is_weighted_step_by_step() -> None:
    rng = np.random.default_rng(3)
    colour = rng.integers(0, 256, (9, 10)).astype(np.float64)
    alpha = rng.choice([0.0, 100.0, 255.0], (9, 10))
    params = ConvParams(padding=(1, 1))
    steps = [KERNELS["gaussian-3"], KERNELS["box-3"]]
    first_colour, first_alpha = reference_weighted(
        colour, alpha, KERNELS["gaussian-3"], params, 255.0
    )
    expected_colour, expected_alpha = reference_weighted(
        first_colour, first_alpha, KERNELS["box-3"], params, 255.0
    )
    result = weighted_chain(colour, alpha, steps, params, opaque=255.0)
    np.testing.assert_allclose(result.alpha, expected_alpha, rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.colour, expected_colour, rtol=0, atol=1e-7)


def imagemagick_6() -> str | None:
    """A command that runs ImageMagick 6's ``convert``, if one is installed: Debian's
    ``imagemagick`` gives ``convert`` and ``convert-im6.q16``; a stand-in of the same name
    that is not ImageMagick does not count."""
    for name in ("convert", "convert-im6.q16", "convert-im6"):
        path = shutil.which(name)
        if path is None:
            continue
        done = subprocess.run([path, "-version"], capture_output=True, text=True, check=False)
        if done.stdout.startswith("Version: ImageMagick 6"):
            return path
    return None


CONVERT = imagemagick_6()


@pytest.mark.skipif(CONVERT is None, reason="ImageMagick 6 is not installed")
@pytest.mark.parametrize(
    ("virtual_pixel", "mode"), [("Transparent", "zeros"), ("Edge", "replicate")]
)
@pytest.mark.parametrize("name", ["gaussian-5", "box-3"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_weighted_is_imagemagicks_convolve(
    tmp_path: Path, virtual_pixel: str, mode: PadMode, name: str, seed: int
) -> None:
    assert CONVERT is not None
    rng = np.random.default_rng(seed)
    rgba = rng.integers(0, 256, (20, 24, 4), dtype=np.uint8)
    rgba[..., 3] = rng.choice([0, 0, 60, 200, 255], (20, 24))
    Image.fromarray(rgba, "RGBA").save(tmp_path / "in.png")
    kernel = KERNELS[name]
    values = ",".join(f"{weight:.12g}" for weight in kernel.weights.ravel())
    written = f"{kernel.shape[1]}x{kernel.shape[0]}: {values}"
    subprocess.run(
        [CONVERT, str(tmp_path / "in.png"), "-virtual-pixel", virtual_pixel,
         "-morphology", "Convolve", written, f"PNG32:{tmp_path / 'im.png'}"],
        check=True,
    )  # fmt: skip
    params = ConvParams(padding="same", pad_mode=mode)
    apply_to_image(tmp_path / "in.png", tmp_path / "ours.png", [kernel], params,
                   ImageOptions(color=True, alpha="weighted"))  # fmt: skip
    theirs = read_pixels(tmp_path / "im.png").astype(int)
    ours = read_pixels(tmp_path / "ours.png").astype(int)
    assert np.abs(theirs[..., 3] - ours[..., 3]).max() <= 1
    shown = theirs[..., 3] > 0
    assert np.abs(theirs[shown][:, :3] - ours[shown][:, :3]).max() <= 1
