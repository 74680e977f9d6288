"""Float results to pixels: --range clip, abs, rescale and auto."""

from __future__ import annotations

import numpy as np
import pytest

from convcli import ParameterError
from convcli.kernels import KERNELS
from convcli.rangemap import resolve_range_mode, to_pixels

VALUES = np.array([[-300.0, -1.4, 0.5, 1.5, 100.6, 254.5, 255.4, 400.0]])


def test_clip_rounds_then_clamps() -> None:
    assert to_pixels(VALUES, "clip").tolist() == [[0, 0, 0, 2, 101, 254, 255, 255]]


def test_abs_folds_negative_responses_up() -> None:
    assert to_pixels(VALUES, "abs").tolist() == [[255, 1, 0, 2, 101, 254, 255, 255]]


def test_rescale_maps_min_and_max_to_the_ends() -> None:
    result = to_pixels(VALUES, "rescale")
    expected = np.rint((VALUES + 300) / 700 * 255)
    assert result.tolist() == expected.astype(int).tolist()
    assert (result.min(), result.max()) == (0, 255)


def test_rescale_of_a_constant_is_zero() -> None:
    assert to_pixels(np.full((2, 2), 7.0), "rescale").tolist() == [[0, 0], [0, 0]]


def test_output_is_uint8() -> None:
    assert to_pixels(VALUES, "clip").dtype == np.uint8


@pytest.mark.parametrize("name", list(KERNELS))
def test_auto_is_abs_for_zero_sum_kernels_and_clip_otherwise(name: str) -> None:
    kernel = KERNELS[name]
    expected = "abs" if kernel.total == 0 else "clip"
    assert resolve_range_mode("auto", kernel.weights) == expected


def test_auto_tolerates_rounding_in_float_kernels() -> None:
    weights = np.array([[0.1, 0.2, -0.3]])  # sums to 5.5e-17 in floating point
    assert resolve_range_mode("auto", weights) == "abs"


@pytest.mark.parametrize("mode", ["clip", "abs", "rescale"])
def test_explicit_modes_are_kept(mode: str) -> None:
    assert resolve_range_mode(mode, np.ones((3, 3))) == mode


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ParameterError, match="range must be one of auto, clip, abs, rescale"):
        resolve_range_mode("wrap", np.ones((1, 1)))


def test_auto_must_be_resolved_first() -> None:
    with pytest.raises(ParameterError):
        to_pixels(VALUES, "auto")
