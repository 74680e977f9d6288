"""The built-in filter banks: their layout, normalisation, and what each kind of filter answers.

Responses are computed here by hand (a valid cross-correlation with NumPy), independently of
the core's convolution, on synthetic edges, gratings and colour patches.
"""

from __future__ import annotations

import math

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
    LUMINANCE,
    RED_GREEN,
    FilterBank,
    bank,
    centre_surround,
    gabor,
    rgb_filter,
)

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
    assert list(BANKS) == ["gabor-rgb", "gabor-gray"]
    assert list(BANKS["gabor-rgb"].labels) == COLOURLESS + COLOUR
    assert list(BANKS["gabor-gray"].labels) == COLOURLESS


def test_weight_shapes() -> None:
    assert BANKS["gabor-rgb"].build()[0].shape == (25, 3, 7, 7)
    assert BANKS["gabor-gray"].build()[0].shape == (17, 1, 7, 7)


@pytest.mark.parametrize("filter_bank", list(BANKS.values()), ids=list(BANKS))
def test_every_bank_is_well_formed(filter_bank: FilterBank) -> None:
    weight, bias = filter_bank.build()
    assert weight.dtype == np.float32
    assert bias.dtype == np.float32
    assert weight.shape == filter_bank.weight_shape
    assert bias.shape == (filter_bank.out_channels,)
    assert not bias.any()
    assert np.isfinite(weight).all()
    assert len(filter_bank.labels) == weight.shape[0]
    assert len(set(filter_bank.labels)) == len(filter_bank.labels)
    assert filter_bank.summary.endswith(".")
    assert "\n" not in filter_bank.summary
    assert f"({', '.join(map(str, weight.shape))})" in filter_bank.summary
    weight[:] = 0  # each build is new arrays
    assert filter_bank.build()[0].any()


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
    colour = BANKS["gabor-rgb"].filters[-1:]
    with pytest.raises(ValueError, match="gray bank cannot hold colour filters"):
        FilterBank("bad", "Bad.", 1, colour)
