"""Float results to pixels: --range clip, abs, rescale and auto."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from convcli import ParameterError
from convcli.pipeline.rangemap import resolve_range_mode, to_pixels

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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rescale_rounds_an_exact_half_to_even(dtype: type[np.floating[Any]]) -> None:
    # 7 of a span of 14 is 127.5 levels exactly; 255/14 has no exact float, so scaling by it
    # first gave 127.49999 in float32, and 127.
    values = np.array([0.0, 7.0, 14.0], dtype=dtype)
    assert to_pixels(values, "rescale").tolist() == [0, 128, 255]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rescale_of_a_span_too_wide_to_scale_up_does_not_overflow(
    dtype: type[np.floating[Any]],
) -> None:
    largest = float(np.finfo(dtype).max)
    values = np.array([-largest / 2, 0.0, largest / 2], dtype=dtype)
    assert to_pixels(values, "rescale").tolist() == [0, 128, 255]


def test_rescale_of_a_span_beyond_the_largest_float_is_still_a_ramp() -> None:
    # The ends' difference overflows float64 (it would be 3.4e308): the mapping must not.
    values = np.array([-1.7e308, 0.0, 1.7e308])
    assert to_pixels(values, "rescale").tolist() == [0, 128, 255]


def test_rescale_of_a_constant_is_zero() -> None:
    assert to_pixels(np.full((2, 2), 7.0), "rescale").tolist() == [[0, 0], [0, 0]]


def test_output_is_uint8() -> None:
    assert to_pixels(VALUES, "clip").dtype == np.uint8


def test_auto_is_abs_for_signed_results_and_clip_otherwise() -> None:
    assert resolve_range_mode("auto", signed=True) == "abs"
    assert resolve_range_mode("auto", signed=False) == "clip"


@pytest.mark.parametrize("mode", ["clip", "abs", "rescale"])
@pytest.mark.parametrize("signed", [True, False])
def test_explicit_modes_are_kept(mode: str, signed: bool) -> None:
    assert resolve_range_mode(mode, signed=signed) == mode


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ParameterError, match="range must be one of auto, clip, abs, rescale"):
        resolve_range_mode("wrap", signed=False)


def test_auto_must_be_resolved_first() -> None:
    with pytest.raises(ParameterError):
        to_pixels(VALUES, "auto")
