"""The convolution core against hand-computed arrays, an independent reference and scipy."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage

from convcli import KernelError, ParameterError, ShapeError, convolve2d, output_shape
from convcli.core.convolution import sample_centre
from convcli.core.methods import METHODS
from convcli.core.params import PAD_MODES, ConvParams
from tests.reference import reference_conv2d, same_pads, smallest_side

RAMP_4X4 = np.arange(16, dtype=np.float64).reshape(4, 4)


# --- Hand-computed cases -------------------------------------------------------------------


def test_asymmetric_kernel_tells_correlation_from_convolution() -> None:
    # As scipy's test_correlate04: a kernel that is not symmetric under 180-degree rotation.
    image = np.array([[0, 0, 0, 0], [0, 1, 2, 0], [0, 0, 0, 0]], dtype=float)
    kernel = [[1, 10]]
    # Correlation, output[1, c] = image[1, c] * 1 + image[1, c + 1] * 10.
    assert convolve2d(image, kernel).tolist() == [[0, 0, 0], [10, 21, 2], [0, 0, 0]]
    # Convolution: the kernel reads [10, 1].
    assert convolve2d(image, kernel, flip=True).tolist() == [[0, 0, 0], [1, 12, 20], [0, 0, 0]]


def test_two_dimensional_flip_rotates_by_180_degrees() -> None:
    kernel = np.array([[1.0, 2.0], [3.0, 4.0]])
    image = np.array([[1.0, 0.0], [0.0, 0.0]])
    # The single output sums image * kernel; only the top-left pixel is lit.
    assert convolve2d(image, kernel).tolist() == [[1.0]]
    assert convolve2d(image, kernel, flip=True).tolist() == [[4.0]]


def test_stride_padding_on_a_ramp() -> None:
    # element [1, 1]: 5 + 6 + 7 + 9 + 10 + 11 + 13 + 14 + 15 = 90
    result = convolve2d(RAMP_4X4, np.ones((3, 3)), stride=2, padding=1)
    assert result.tolist() == [[10, 24], [51, 90]]


def test_dilation_reads_every_other_pixel() -> None:
    # A 2x2 kernel of ones dilated by 2 sums the four corners of each 3x3 window.
    result = convolve2d(RAMP_4X4, np.ones((2, 2)), dilation=2)
    assert result.tolist() == [[0 + 2 + 8 + 10, 1 + 3 + 9 + 11], [4 + 6 + 12 + 14, 5 + 7 + 13 + 15]]


def test_non_square_stride_and_dilation() -> None:
    image = np.arange(35, dtype=float).reshape(5, 7)
    result = convolve2d(image, [[1.0, -1.0]], stride=(2, 3), dilation=(1, 2))
    # output[r, c] = image[2r, 3c] - image[2r, 3c + 2] = -2 everywhere; shape (3, 2).
    assert result.tolist() == [[-2, -2], [-2, -2], [-2, -2]]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("zeros", [0 + 1, 0 + 1 + 2, 1 + 2 + 3, 2 + 3 + 0]),
        ("reflect", [1 + 0 + 1, 0 + 1 + 2, 1 + 2 + 3, 2 + 3 + 2]),
        ("replicate", [0 + 0 + 1, 0 + 1 + 2, 1 + 2 + 3, 2 + 3 + 3]),
        ("circular", [3 + 0 + 1, 0 + 1 + 2, 1 + 2 + 3, 2 + 3 + 0]),
    ],
)
def test_pad_modes_on_one_row(mode: str, expected: list[int]) -> None:
    row = np.array([[0.0, 1.0, 2.0, 3.0]])
    assert convolve2d(row, [[1, 1, 1]], padding=(0, 1), pad_mode=mode).tolist() == [expected]


def test_same_padding_with_an_even_kernel_puts_the_extra_column_right() -> None:
    # Total padding 1: none on the left, one zero on the right (PyTorch's rule).
    row = np.array([[1.0, 2.0, 3.0]])
    assert convolve2d(row, [[1, 10]], padding="same").tolist() == [[21, 32, 3]]


def test_valid_is_no_padding() -> None:
    kernel = np.arange(6.0).reshape(2, 3)
    assert np.array_equal(
        convolve2d(RAMP_4X4, kernel, padding="valid"), convolve2d(RAMP_4X4, kernel)
    )


def test_delta_kernel_is_the_identity() -> None:
    image = np.random.default_rng(1).random((7, 9))
    delta = np.zeros((3, 3))
    delta[1, 1] = 1
    assert np.array_equal(convolve2d(image, delta, padding=1), image)


def test_channels_are_filtered_independently() -> None:
    rng = np.random.default_rng(2)
    image = rng.random((6, 8, 3))
    kernel = rng.random((3, 2))
    result = convolve2d(image, kernel, stride=2, padding=1, pad_mode="reflect")
    assert result.shape == (*output_shape((6, 8), (3, 2), stride=2, padding=1), 3)
    for channel in range(3):
        expected = convolve2d(image[..., channel], kernel, stride=2, padding=1, pad_mode="reflect")
        assert np.array_equal(result[..., channel], expected)


# --- dtypes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image_dtype", "kernel_dtype", "expected"),
    [
        (np.float32, np.float64, np.float32),
        (np.float32, np.int64, np.float32),
        (np.float64, np.float32, np.float64),
        (np.uint8, np.float32, np.float64),
        (np.int16, np.int64, np.float64),
        (np.float16, np.float32, np.float64),
        (np.bool_, np.float64, np.float64),
    ],
)
def test_output_dtype(image_dtype: Any, kernel_dtype: Any, expected: Any) -> None:
    image = np.ones((4, 4), dtype=image_dtype)
    kernel = np.ones((2, 2), dtype=kernel_dtype)
    result = convolve2d(image, kernel)
    assert result.dtype == expected
    assert result.tolist() == [[4, 4, 4]] * 3


def test_uint8_does_not_overflow() -> None:
    image = np.full((3, 3), 255, dtype=np.uint8)
    assert convolve2d(image, np.ones((3, 3))).tolist() == [[9 * 255]]


def test_inputs_are_not_modified() -> None:
    image = np.arange(12.0).reshape(3, 4)
    kernel = np.array([[1.0, 2.0], [3.0, 4.0]])
    image_copy, kernel_copy = image.copy(), kernel.copy()
    convolve2d(image, kernel, padding=1, pad_mode="circular", flip=True)
    assert np.array_equal(image, image_copy)
    assert np.array_equal(kernel, kernel_copy)


# --- Errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stride": 0}, "stride must be an integer >= 1 or an (h, w) pair of them, got 0"),
        ({"stride": (1, 0)}, "stride must be an integer >= 1"),
        ({"stride": 1.5}, "got 1.5"),
        ({"stride": True}, "got True"),
        ({"stride": (1, 2, 3)}, "got (1, 2, 3)"),
        ({"dilation": 0}, "dilation must be an integer >= 1"),
        ({"padding": -1}, "padding must be an integer >= 0 or an (h, w) pair of them, got -1"),
        ({"padding": (0, -2)}, "padding must be an integer >= 0"),
        ({"padding": "full"}, "padding must be an integer >= 0, an (h, w) pair, 'same' or 'valid'"),
        ({"padding": "same", "stride": 2}, "padding 'same' needs stride 1, got stride 2"),
        ({"padding": "same", "stride": (1, 2)}, "got stride 1x2"),
        ({"pad_mode": "mirror"}, "pad mode must be one of zeros, reflect, replicate, circular"),
        ({"flip": "no"}, "flip must be True or False, got 'no'"),
        ({"stride": np.array([1, 2, 3])}, "stride must be an integer >= 1"),
    ],
)
def test_bad_options_name_the_value_and_the_rule(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ParameterError, match=re.escape(message)):
        convolve2d(np.ones((5, 5)), np.ones((3, 3)), **kwargs)
    assert issubclass(ParameterError, ValueError)


@pytest.mark.parametrize(
    ("kernel", "message"),
    [
        ([], "kernel must be 2-D, got 1-D shape (0,)"),
        ([[]], "kernel is empty: shape (1, 0)"),
        (np.zeros((0, 3)), "kernel is empty: shape (0, 3)"),
        ([1, 2, 3], "kernel must be 2-D, got 1-D shape (3,)"),
        (np.ones((2, 2, 2)), "kernel must be 2-D, got 3-D shape (2, 2, 2)"),
        ([[1, 2], [3]], "kernel rows differ in length: row 1 has 1 value, expected 2"),
        ([[1, 2, 3], [4, 5]], "row 1 has 2 values, expected 3"),
        ([[1, 2], 5], "kernel row 1 is not a list of numbers: 5"),
        (np.ma.masked_array([[1.0]], mask=[[True]]), "kernel is a masked array"),
        ([[1, float("nan")]], "kernel value at [0, 1] is nan, not finite"),
        ([[1], [float("-inf")]], "kernel value at [1, 0] is -inf, not finite"),
        ([["a", "b"]], "kernel must hold real numbers"),
        ([[1 + 2j]], "kernel must hold real numbers"),
    ],
)
def test_bad_kernels_are_refused(kernel: Any, message: str) -> None:
    with pytest.raises(KernelError, match=re.escape(message)):
        convolve2d(np.ones((5, 5)), kernel)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.ones(5), "image must be 2-D (H, W) or 3-D (H, W, C), got 1-D shape (5,)"),
        (np.ones((2, 2, 2, 2)), "got 4-D shape (2, 2, 2, 2)"),
        (np.ones((0, 4)), "image is empty: shape (0, 4)"),
        (np.ones((3, 3), dtype=complex), "image must hold real numbers"),
        (np.ma.masked_array(np.ones((3, 3))), "image is a masked array: fill it first"),
    ],
)
def test_bad_images_are_refused(image: Any, message: str) -> None:
    with pytest.raises(ParameterError, match=re.escape(message)):
        convolve2d(image, np.ones((1, 1)))


def test_numpy_integers_and_arrays_are_accepted_as_options() -> None:
    image = np.arange(35.0).reshape(5, 7)
    expected = convolve2d(image, np.ones((2, 2)), stride=(2, 1), padding=(1, 0))
    result = convolve2d(
        image, np.ones((2, 2)), stride=np.array([2, 1]), padding=(np.int64(1), np.int8(0))
    )
    assert np.array_equal(result, expected)


def test_a_weight_too_large_for_float32_is_refused_not_made_infinite() -> None:
    message = "kernel value 1e+300 at [0, 1] does not fit in float32, the image's precision"
    with pytest.raises(KernelError, match=f"^{re.escape(message)}$"):
        convolve2d(np.ones((3, 3), dtype=np.float32), [[1.0, 1e300]])
    assert np.isfinite(convolve2d(np.ones((3, 3)), [[1.0, 1e300]])).all()


def test_padding_too_large_to_allocate() -> None:
    message = (
        "not enough memory for the padded input 200000000001x200000000002"
        " (image 1x2 with padding 100000000000)"
    )
    with pytest.raises(ShapeError, match=f"^{re.escape(message)}$"):
        convolve2d(np.ones((1, 2)), [[1]], padding=10**11)


def test_kernel_larger_than_padded_input() -> None:
    message = "kernel 7x7 with dilation 2 spans 13x13, larger than the padded input 10x10"
    with pytest.raises(ShapeError, match=f"^{re.escape(message)}$"):
        convolve2d(np.ones((8, 8)), np.ones((7, 7)), dilation=2, padding=1)


def test_undilated_kernel_larger_than_input() -> None:
    with pytest.raises(ShapeError, match=r"^kernel 3x5 is larger than the padded input 10x3$"):
        convolve2d(np.ones((10, 3)), np.ones((3, 5)))


@pytest.mark.parametrize(
    ("mode", "padding", "message"),
    [
        (
            "reflect",
            3,
            "reflect padding of 3 rows needs an image of more than 3 rows, this one has 3",
        ),
        (
            "circular",
            (0, 6),
            "circular padding of 6 columns needs an image of at least 6 columns, this one has 5",
        ),
    ],
)
def test_padding_too_wide_for_its_mode(mode: str, padding: Any, message: str) -> None:
    with pytest.raises(ShapeError, match=f"^{re.escape(message)}$"):
        convolve2d(np.ones((3, 5)), np.ones((1, 1)), padding=padding, pad_mode=mode)


# --- Properties: against the reference, over random shapes ---------------------------------

small = st.integers(min_value=1, max_value=3)


@st.composite
def cases(draw: st.DrawFn, max_side: int = 9, *, fits: bool = False) -> dict[str, Any]:
    """A random image, kernel and set of options, within the reference's reach.

    Some ask for more than the image has (a kernel wider than the padded image, padding the
    mode cannot make), which the core must refuse; with `fits`, none do: each side is drawn
    from the smallest that fits (which may exceed `max_side`) up.
    """
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    dilation = (draw(small), draw(small))
    padding: Any
    if draw(st.booleans()):
        padding, stride = "same", (1, 1)
        pads = (same_pads(kh, dilation[0]), same_pads(kw, dilation[1]))
    else:
        ph, pw = draw(st.integers(0, 4)), draw(st.integers(0, 4))
        padding, stride = (ph, pw), (draw(small), draw(small))
        pads = ((ph, ph), (pw, pw))
    mode = draw(st.sampled_from(PAD_MODES))
    sides = []
    for k, d, axis_pads in zip((kh, kw), dilation, pads, strict=True):
        least = smallest_side(k, d, axis_pads, mode) if fits else 1
        sides.append(draw(st.integers(least, max(least, max_side))))
    height, width = sides
    elements = st.floats(-100, 100, allow_nan=False, width=64)
    value = draw(elements) if mode == "constant" else 0.0
    return {
        "image": draw(hnp.arrays(np.float64, (height, width), elements=elements)),
        "kernel": draw(hnp.arrays(np.float64, (kh, kw), elements=elements)),
        "stride": stride,
        "padding": padding,
        "pads": pads,
        "dilation": dilation,
        "mode": mode,
        "value": value,
        "flip": draw(st.booleans()),
    }


def convolve_case(
    case: dict[str, Any],
    image: npt.NDArray[Any] | None = None,
    kernel: npt.NDArray[Any] | None = None,
    **how: Any,
) -> npt.NDArray[Any]:
    """The core on `case` (or on another `image` or `kernel` with its options), `how` it is
    told (method, threads)."""
    return convolve2d(
        case["image"] if image is None else image,
        case["kernel"] if kernel is None else kernel,
        stride=case["stride"],
        padding=case["padding"],
        dilation=case["dilation"],
        pad_mode=case["mode"],
        pad_value=case["value"],
        flip=case["flip"],
        **how,
    )


def reference_of(
    case: dict[str, Any], kernel: npt.NDArray[np.float64] | None = None
) -> npt.NDArray[np.float64] | None:
    """The reference on `case` (or on another `kernel` with its options); None where PyTorch
    refuses it."""
    return reference_conv2d(
        case["image"],
        case["kernel"] if kernel is None else kernel,
        stride=case["stride"],
        pads=case["pads"],
        dilation=case["dilation"],
        mode=case["mode"],
        value=case["value"],
        flip=case["flip"],
    )


@settings(max_examples=300, deadline=None)
@given(cases())
def test_cases_that_fit_are_exactly_those_the_reference_computes(case: dict[str, Any]) -> None:
    # What cases(fits=True) builds on: an image fits its kernel and options just when each
    # side is at least the smallest_side of its axis.
    axes = zip(
        case["image"].shape, case["kernel"].shape, case["dilation"], case["pads"], strict=True
    )
    image_fits = all(n >= smallest_side(k, d, pads, case["mode"]) for n, k, d, pads in axes)
    assert (reference_of(case) is not None) == image_fits


@settings(max_examples=400, deadline=None)
@given(cases())
def test_matches_the_reference(case: dict[str, Any]) -> None:
    expected = reference_of(case)
    if expected is None:  # refused in float64 and float32 alike
        with pytest.raises(ShapeError):
            convolve_case(case)
        with pytest.raises(ShapeError):
            convolve_case(case, case["image"].astype(np.float32))
        return
    result = convolve_case(case)
    assert result.shape == expected.shape
    scale = np.abs(case["kernel"]).sum() * max(1.0, np.abs(case["image"]).max())
    # The core adds the taps of equal weights before multiplying: below the smallest normal
    # number, where float64 rounds absolutely, that order shows.
    underflow = 2 * case["kernel"].size * float(np.finfo(np.float64).smallest_subnormal)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-12 * scale + underflow)


@settings(max_examples=200, deadline=None)
@given(cases())
def test_output_shape_is_the_real_shape(case: dict[str, Any]) -> None:
    image, kernel = case["image"], case["kernel"]
    options = {"stride": case["stride"], "padding": case["padding"], "dilation": case["dilation"]}
    try:
        predicted = output_shape(image.shape, kernel.shape, **options)
    except ShapeError:
        with pytest.raises(ShapeError):
            convolve2d(image, kernel, **options)
        return
    assert convolve2d(image, kernel, **options).shape == predicted


@settings(max_examples=100, deadline=None)
@given(cases(fits=True), st.floats(-3, 3), st.floats(-3, 3))
def test_linear_in_the_image(case: dict[str, Any], alpha: float, beta: float) -> None:
    other = np.random.default_rng(0).standard_normal(case["image"].shape)
    options = {
        "stride": case["stride"],
        "padding": case["padding"],
        "dilation": case["dilation"],
        "pad_mode": case["mode"],
        "flip": case["flip"],
    }
    combined = convolve2d(alpha * case["image"] + beta * other, case["kernel"], **options)
    separate = alpha * convolve2d(case["image"], case["kernel"], **options) + beta * convolve2d(
        other, case["kernel"], **options
    )
    scale = np.abs(case["kernel"]).sum() * (1 + np.abs(case["image"]).max()) * 10
    # Below the smallest normal number float64 rounds absolutely: a subnormal kernel rounds
    # each product to a multiple of the smallest subnormal, scaled by alpha and beta after.
    tiny = float(np.finfo(np.float64).smallest_subnormal)
    underflow = 2 * case["kernel"].size * tiny * (1 + abs(alpha) + abs(beta))
    np.testing.assert_allclose(combined, separate, rtol=0, atol=1e-11 * scale + underflow)


@settings(max_examples=100, deadline=None)
@given(cases(fits=True))
def test_float32_input_gives_float32_close_to_float64(case: dict[str, Any]) -> None:
    options = {
        "stride": case["stride"],
        "padding": case["padding"],
        "dilation": case["dilation"],
        "pad_mode": case["mode"],
    }
    image32 = case["image"].astype(np.float32)
    single = convolve2d(image32, case["kernel"], **options)
    double = convolve2d(image32.astype(np.float64), case["kernel"].astype(np.float32), **options)
    assert single.dtype == np.float32
    scale = np.abs(case["kernel"]).sum() * max(1.0, float(np.abs(image32).max()))
    # float32 rounds each product relatively, and absolutely below its smallest normal number.
    underflow = case["kernel"].size * float(np.finfo(np.float32).smallest_subnormal)
    np.testing.assert_allclose(single, double, rtol=0, atol=1e-5 * scale + underflow)


# --- scipy.ndimage as a second, independent oracle ------------------------------------------

# convcli's pad modes under scipy.ndimage's names (scipy's own "reflect" repeats the edge).
SCIPY_MODES = {
    "zeros": "constant",
    "reflect": "mirror",
    "replicate": "nearest",
    "circular": "wrap",
    "symmetric": "reflect",
    "constant": "constant",
}


@settings(max_examples=150, deadline=None)
@given(
    hnp.arrays(
        np.float64, st.tuples(st.integers(4, 12), st.integers(4, 12)), elements=st.floats(-50, 50)
    ),
    hnp.arrays(
        np.float64,
        st.tuples(st.sampled_from([1, 3]), st.sampled_from([1, 3])),
        elements=st.floats(-5, 5),
    ),
    st.sampled_from(PAD_MODES),
    st.booleans(),
    st.floats(-50, 50),
    st.sampled_from(METHODS[1:]),
)
def test_same_padding_matches_scipy_ndimage(
    image: npt.NDArray[np.float64],
    kernel: npt.NDArray[np.float64],
    mode: str,
    flip: bool,
    value: float,
    method: str,
) -> None:
    # With an odd kernel and "same" padding, scipy's correlate/convolve compute the same thing.
    value = value if mode == "constant" else 0.0
    scipy_filter = ndimage.convolve if flip else ndimage.correlate
    expected = scipy_filter(image, kernel, mode=SCIPY_MODES[mode], cval=value)
    if method == "separable" and np.linalg.matrix_rank(kernel) > 1:
        method = "direct"
    result = convolve2d(
        image, kernel, padding="same", pad_mode=mode, pad_value=value, flip=flip, method=method
    )
    np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-9)


@settings(max_examples=200, deadline=None)
@given(cases())
def test_sample_centre_is_the_centre_tap_of_the_window(case: dict[str, Any]) -> None:
    # The alpha rule: what a delta kernel at row (kh-1)//2, column (kw-1)//2 would read.
    kh, kw = case["kernel"].shape
    delta = np.zeros((kh, kw))
    delta[(kh - 1) // 2, (kw - 1) // 2] = 1
    expected = reference_conv2d(
        case["image"],
        delta,
        stride=case["stride"],
        pads=case["pads"],
        dilation=case["dilation"],
        mode=case["mode"],
    )
    params = ConvParams.from_args(
        stride=case["stride"],
        padding=case["padding"],
        dilation=case["dilation"],
        pad_mode=case["mode"],
        flip=case["flip"],  # the window's centre does not move with a flipped kernel
    )
    if expected is None:
        with pytest.raises(ShapeError):
            sample_centre(case["image"], (kh, kw), params)
        return
    np.testing.assert_array_equal(sample_centre(case["image"], (kh, kw), params), expected)
