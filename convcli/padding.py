"""Padding modes: PyTorch's vocabulary, mapped onto :func:`numpy.pad` in this one place.

What each mode puts around a row ``a b c d`` padded by two on each side::

    zeros       0 0 | a b c d | 0 0
    reflect     c b | a b c d | c b     mirror without repeating the edge pixel
    replicate   a a | a b c d | d d     repeat the edge pixel
    circular    c d | a b c d | a b     wrap around, as if the image tiled the plane

Beware the names: PyTorch's and NumPy's ``reflect`` are scipy.ndimage's ``mirror``, and
scipy's ``reflect`` (``b a | a b c d | d c``) is NumPy's ``symmetric``, which PyTorch lacks.
As in PyTorch, ``reflect`` needs padding smaller than the image on that axis and ``circular``
padding no larger than it: neither wraps around more than once.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from convcli.errors import ShapeError
from convcli.params import PadMode

_NUMPY_MODES: dict[PadMode, Literal["constant", "reflect", "edge", "wrap"]] = {
    "zeros": "constant",
    "reflect": "reflect",
    "replicate": "edge",
    "circular": "wrap",
}

PadWidths = tuple[tuple[int, int], tuple[int, int]]
"""((top, bottom), (left, right)) in pixels."""


def pad_image(image: npt.NDArray[Any], pad_widths: PadWidths, mode: PadMode) -> npt.NDArray[Any]:
    """Pad the first two axes of an (H, W) or (H, W, C) array; channels are left alone.

    >>> row = np.array([[1, 2, 3, 4]])
    >>> pad_image(row, ((0, 0), (2, 2)), "reflect")
    array([[3, 2, 1, 2, 3, 4, 3, 2]])
    >>> pad_image(row, ((0, 0), (2, 2)), "circular")
    array([[3, 4, 1, 2, 3, 4, 1, 2]])

    Raises
    ------
    ShapeError
        If the padding is too wide for ``reflect`` or ``circular`` on that axis.
    """
    for index, (one, many) in enumerate((("row", "rows"), ("column", "columns"))):
        size = image.shape[index]
        widest = max(pad_widths[index])
        padding = f"{widest} {one if widest == 1 else many}"
        if mode == "reflect" and widest >= size:
            raise ShapeError(
                f"reflect padding of {padding} needs an image of more than {padding},"
                f" this one has {size}"
            )
        if mode == "circular" and widest > size:
            raise ShapeError(
                f"circular padding of {padding} needs an image of at least {padding},"
                f" this one has {size}"
            )
    if pad_widths == ((0, 0), (0, 0)):
        return image
    widths = list(pad_widths) + [(0, 0)] * (image.ndim - 2)
    return np.pad(image, widths, mode=_NUMPY_MODES[mode])
