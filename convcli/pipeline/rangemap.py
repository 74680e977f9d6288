"""From filter results (any float) to pixel values (0..255 for 8-bit output).

``clip``     round, then clamp to the output's range.
``abs``      take the absolute value first: edges of both polarities show as bright.
``rescale``  map the result's min..max linearly onto the full range (a constant result is 0).
``auto``     ``abs`` when the result is signed around 0 (a kernel whose weights sum to 0, an
             edge or derivative detector, with no bias; see
             :func:`convcli.pipeline.chain.is_signed`), ``clip`` for the rest (blurs, sharpen,
             gradient magnitudes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

# The command line offers these without importing NumPy; they live with its choices.
from convcli.choices import RANGE_MODES as RANGE_MODES
from convcli.choices import RangeMode as RangeMode
from convcli.choices import WrittenDepth
from convcli.core.params import to_choice
from convcli.errors import ImageWriteError, ParameterError


def resolve_range_mode(mode: str, *, signed: bool) -> RangeMode:
    """The concrete mode (never ``auto``) for `mode`, given whether the result is `signed`.

    >>> resolve_range_mode("auto", signed=True), resolve_range_mode("auto", signed=False)
    ('abs', 'clip')
    """
    chosen = to_choice(mode, RANGE_MODES, "range")
    if chosen == "auto":
        return "abs" if signed else "clip"
    return chosen


@dataclass(frozen=True)
class PixelMapping:
    """How a chain's float results become the output's values."""

    depth: WrittenDepth
    range_mode: RangeMode | None
    """The concrete mode (never ``auto``), or None when the values are written as they are
    (float and ``.npy`` output)."""
    full_scale: int
    """255 or 65535 for pixel output, 0 for float and ``.npy``."""
    unit: float
    """Output units per input unit, for ``clip`` and ``abs`` (255/65535 from 16-bit input to
    8-bit output); 1 when the units agree or the input is unitless."""

    def held_dtype(self, computed: npt.DTypeLike) -> np.dtype[Any]:
        """The dtype the output holds values in: 8- or 16-bit pixels, float32 for float
        output, and for ``.npy`` the `computed` one."""
        if self.full_scale:
            return np.dtype(np.uint8 if self.full_scale == 255 else np.uint16)
        return np.dtype(np.float32 if self.depth == "float" else computed)


def held_alpha(alpha: npt.NDArray[np.floating[Any]], mapping: PixelMapping) -> npt.NDArray[Any]:
    """An alpha plane as the output holds it: pixels clamped to its range, in its units, or
    (float and ``.npy`` output) as it is. `alpha` is left as it was."""
    if not mapping.full_scale:
        return alpha
    return to_pixels(alpha, "clip", max_value=mapping.full_scale, unit=mapping.unit)


def check_writable(low: float, high: float, name: str, depth: WrittenDepth) -> None:
    """Refuse a result, from its minimum `low` and maximum `high`, that the output of `depth`
    cannot hold: infinite or NaN values (which show in either), or for 32-bit float output,
    values beyond float32's range.

    Raises
    ------
    ImageWriteError
        Naming the image `name`.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ImageWriteError(f"the result for {name!r} overflows: it has infinite or NaN values")
    if depth == "float" and max(-low, high) > float(np.finfo(np.float32).max):
        raise ImageWriteError(
            f"the result for {name!r} overflows 32-bit float output ({low:g} to {high:g});"
            " .npy holds it"
        )


def concrete_range_mode(range_mode: str, *, max_value: float | None, signed: bool) -> RangeMode:
    """The mode (never ``auto``) that maps results to pixels, for input of full scale
    `max_value` (None: unitless) whose results are `signed` around 0.

    Unitless values have no range of their own to keep: ``auto`` rescales them.

    >>> concrete_range_mode("auto", max_value=255.0, signed=True)
    'abs'
    >>> concrete_range_mode("auto", max_value=None, signed=True)
    'rescale'
    """
    if range_mode == "auto" and max_value is None:
        return "rescale"
    return resolve_range_mode(range_mode, signed=signed)


def pixel_mapping(
    depth: WrittenDepth, range_mode: str, *, max_value: float | None, signed: bool
) -> PixelMapping:
    """The mapping to output `depth` (``8``, ``16``, ``float`` or ``npy``) of results whose
    input had full scale `max_value` (None: unitless) and are `signed` around 0.

    Unitless values have no range of their own to keep: ``auto`` rescales them.

    >>> pixel_mapping("8", "auto", max_value=65535.0, signed=True)
    PixelMapping(depth='8', range_mode='abs', full_scale=255, unit=0.0038910505836575876)
    >>> pixel_mapping("8", "auto", max_value=None, signed=False).range_mode
    'rescale'
    >>> pixel_mapping("npy", "auto", max_value=255.0, signed=False)
    PixelMapping(depth='npy', range_mode=None, full_scale=0, unit=1.0)
    """
    full_scale = {"8": 255, "16": 65535}.get(depth, 0)
    if not full_scale:
        return PixelMapping(depth, None, 0, 1.0)
    unit = full_scale / max_value if max_value else 1.0
    concrete = concrete_range_mode(range_mode, max_value=max_value, signed=signed)
    return PixelMapping(depth, concrete, full_scale, unit)


def map_to_pixels(
    values: npt.NDArray[np.floating[Any]],
    mode: RangeMode,
    *,
    max_value: int = 255,
    unit: float = 1.0,
) -> tuple[npt.NDArray[np.unsignedinteger[Any]], int]:
    """Pixels 0..`max_value` for float `values` by `mode`, and how many values were clamped.

    `unit` converts the values' units to the output's before ``clip`` and ``abs`` (255/65535
    from 16-bit input to 8-bit output); ``rescale`` needs none. Values are rounded to the
    nearest integer (half to even), as OpenCV's saturating casts do; the count says how many
    then fell outside 0..`max_value`: what the mapping lost. The output is uint8 for a
    `max_value` up to 255, uint16 above.

    >>> values = np.array([-300.0, -1.4, 0.5, 100.6, 400.0])
    >>> map_to_pixels(values, "clip")  # -300, -1 and 400 are clamped
    (array([  0,   0,   0, 101, 255], dtype=uint8), 3)
    >>> map_to_pixels(values, "abs")[0]
    array([255,   1,   0, 101, 255], dtype=uint8)
    >>> map_to_pixels(values, "rescale")[0]
    array([  0, 109, 109, 146, 255], dtype=uint8)
    >>> map_to_pixels(np.array([257.0, 65535.0]), "clip", unit=255 / 65535)[0]
    array([  1, 255], dtype=uint8)
    """
    dtype = np.uint8 if max_value <= 255 else np.uint16
    pixels: npt.NDArray[np.unsignedinteger[Any]] = np.empty(values.shape, dtype=dtype)
    clipped = map_into(values.copy(), mode, pixels, max_value=max_value, unit=unit)
    return pixels, clipped


def map_into(
    values: npt.NDArray[np.floating[Any]],
    mode: RangeMode,
    out: npt.NDArray[np.unsignedinteger[Any]],
    *,
    max_value: int = 255,
    unit: float = 1.0,
    value_range: tuple[float, float] | None = None,
) -> int:
    """:func:`map_to_pixels` into `out`, using `values` as its scratch: they are overwritten.

    What the pipeline calls for each strip of rows, allocating nothing the size of a strip;
    ``rescale`` maps `value_range` (by default, the values' own) onto the pixels' range.
    """
    _before_clamping(values, mode, max_value=max_value, unit=unit, value_range=value_range)
    clipped = int(np.count_nonzero(values < 0) + np.count_nonzero(values > max_value))
    np.clip(values, 0, max_value, out=values)
    np.copyto(out, values, casting="unsafe")
    return clipped


def to_pixels(
    values: npt.NDArray[np.floating[Any]],
    mode: RangeMode,
    *,
    max_value: int = 255,
    unit: float = 1.0,
) -> npt.NDArray[np.unsignedinteger[Any]]:
    """The pixels of :func:`map_to_pixels`, without the count."""
    return map_to_pixels(values, mode, max_value=max_value, unit=unit)[0]


def _before_clamping(
    values: npt.NDArray[np.floating[Any]],
    mode: RangeMode,
    *,
    max_value: int,
    unit: float,
    value_range: tuple[float, float] | None = None,
) -> None:
    """Put `values` in output units and round them, in place, before they are clamped."""
    to_output_units(values, mode, max_value=max_value, unit=unit, value_range=value_range)
    if mode == "abs":
        np.abs(values, out=values)
    np.rint(values, out=values)


def to_output_units(
    values: npt.NDArray[np.floating[Any]],
    mode: RangeMode,
    *,
    max_value: int,
    unit: float,
    value_range: tuple[float, float] | None = None,
) -> None:
    """The first step of the mapping, in place and in the values' own float type: times
    `unit` for ``clip`` and ``abs``; for ``rescale``, min..max onto 0..`max_value`, where
    `value_range` is (min, max) of the whole result (by default, of `values`).

    >>> values = np.array([-5.0, 5.0, 15.0])
    >>> to_output_units(values, "rescale", max_value=255, unit=1.0)
    >>> values
    array([  0. , 127.5, 255. ])
    """
    if mode == "auto":
        raise ParameterError("resolve 'auto' with resolve_range_mode before mapping")
    if mode != "rescale":
        if unit != 1:
            values *= unit
        return
    if value_range is None:
        value_range = (float(values.min()), float(values.max()))
    low, high = value_range
    span = high - low
    if not span > 0:
        values[...] = 0
    elif span * max_value <= float(np.finfo(values.dtype).max):
        # (v - low) * max_value / span, dividing last: for the integer results of 8-bit
        # input each step is exact but the division, correctly rounded, so a value halfway
        # between two levels stays halfway and rounds to even.
        values -= values.dtype.type(low)
        values *= max_value
        values /= values.dtype.type(span)
    else:  # a span so wide that shifting or scaling first could overflow, or its ends' difference
        factor = (max_value / 2) / (high / 2 - low / 2)
        values *= factor
        values -= values.dtype.type(low * factor)
