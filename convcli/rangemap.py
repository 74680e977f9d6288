"""From filter results (any float) to pixel values (0..255 for 8-bit output).

``clip``     round, then clamp to the output's range.
``abs``      take the absolute value first: edges of both polarities show as bright.
``rescale``  map the result's min..max linearly onto the full range (a constant result is 0).
``auto``     ``abs`` when the result is signed around 0 (a kernel whose weights sum to 0, an
             edge or derivative detector, with no bias; see :func:`convcli.chain.is_signed`),
             ``clip`` for the rest (blurs, sharpen, gradient magnitudes).
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias, get_args

import numpy as np
import numpy.typing as npt

from convcli.errors import ParameterError
from convcli.params import to_choice

RangeMode: TypeAlias = Literal["auto", "clip", "abs", "rescale"]
RANGE_MODES: tuple[RangeMode, ...] = get_args(RangeMode)

# Relative to the sum of |weights|: float kernels that should sum to 0 rarely do exactly.
_ZERO_SUM_TOLERANCE = 1e-9


def is_zero_sum(weights: npt.NDArray[np.floating[Any]]) -> bool:
    """Whether the weights sum to 0, up to rounding.

    >>> is_zero_sum(np.array([[1.0, 0.0, -1.0]])), is_zero_sum(np.array([[0.25, 0.5, 0.25]]))
    (True, False)
    """
    return bool(abs(weights.sum()) <= _ZERO_SUM_TOLERANCE * np.abs(weights).sum())


def resolve_range_mode(mode: str, *, signed: bool) -> RangeMode:
    """The concrete mode (never ``auto``) for `mode`, given whether the result is `signed`.

    >>> resolve_range_mode("auto", signed=True), resolve_range_mode("auto", signed=False)
    ('abs', 'clip')
    """
    chosen = to_choice(mode, RANGE_MODES, "range")
    if chosen == "auto":
        return "abs" if signed else "clip"
    return chosen


def to_pixels(
    values: npt.NDArray[np.floating[Any]], mode: RangeMode, *, max_value: int = 255
) -> npt.NDArray[np.uint8]:
    """Map float `values` to uint8 pixels 0..`max_value` by a concrete `mode`.

    Values are rounded to the nearest integer (half to even), as OpenCV's saturating casts do.

    >>> values = np.array([-300.0, -1.4, 0.5, 100.6, 400.0])
    >>> to_pixels(values, "clip")
    array([  0,   0,   0, 101, 255], dtype=uint8)
    >>> to_pixels(values, "abs")
    array([255,   1,   0, 101, 255], dtype=uint8)
    >>> to_pixels(values, "rescale")
    array([  0, 109, 109, 146, 255], dtype=uint8)
    """
    if mode == "auto":
        raise ParameterError("resolve 'auto' with resolve_range_mode before mapping")
    if mode == "abs":
        values = np.abs(values)
    elif mode == "rescale":
        low, high = float(values.min()), float(values.max())
        if high > low:
            values = (values - low) * (max_value / (high - low))
        else:
            values = np.zeros_like(values)
    pixels: npt.NDArray[np.uint8] = np.clip(np.rint(values), 0, max_value).astype(np.uint8)
    return pixels
