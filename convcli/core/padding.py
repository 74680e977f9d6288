"""Padding modes: PyTorch's vocabulary and two more, mapped onto :func:`numpy.pad` in this one
place.

What each mode puts around a row ``a b c d`` padded by two on each side::

    zeros       0 0 | a b c d | 0 0
    reflect     c b | a b c d | c b     mirror without repeating the edge pixel
    replicate   a a | a b c d | d d     repeat the edge pixel
    circular    c d | a b c d | a b     wrap around, as if the image tiled the plane
    symmetric   b a | a b c d | d c     mirror, the edge pixel repeated
    constant    V V | a b c d | V V     one value, V (``zeros`` is V = 0)

Beware the names: PyTorch's and NumPy's ``reflect`` are scipy.ndimage's ``mirror`` and OpenCV's
``BORDER_REFLECT_101``; scipy's ``reflect`` is NumPy's ``symmetric`` and OpenCV's
``BORDER_REFLECT``, which PyTorch lacks. As in PyTorch, ``reflect`` needs padding smaller than
the image on that axis and ``circular`` padding no larger than it: neither wraps around more
than once. ``symmetric`` takes any padding, mirrored again and again as NumPy and SciPy do:
the image and its mirror image repeat with a period of twice its size.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from convcli.core.params import Border, PadMode
from convcli.errors import ShapeError

_NUMPY_MODES: dict[PadMode, Literal["constant", "reflect", "edge", "wrap", "symmetric"]] = {
    "zeros": "constant",
    "reflect": "reflect",
    "replicate": "edge",
    "circular": "wrap",
    "symmetric": "symmetric",
    "constant": "constant",
}

PadWidths = tuple[tuple[int, int], tuple[int, int]]
"""((top, bottom), (left, right)) in pixels."""


@runtime_checkable
class RowSource(Protocol):
    """An image whose rows are made when asked for, a strip at a time: a decoder converting
    pixels to floats, say, so that the whole float image never exists at once."""

    @property
    def shape(self) -> tuple[int, ...]:
        """(H, W) or (H, W, C), as an array's."""
        ...

    @property
    def dtype(self) -> np.dtype[Any]:
        """The dtype of the rows."""
        ...

    def rows(self, start: int, stop: int) -> npt.NDArray[Any]:
        """Rows [start, stop), shape (stop - start, W) or (stop - start, W, C)."""
        ...


def read_rows(image: npt.NDArray[Any] | RowSource, start: int, stop: int) -> npt.NDArray[Any]:
    """Rows [start, stop) of an array or a :class:`RowSource`."""
    if isinstance(image, np.ndarray):
        return image[start:stop]
    return image.rows(start, stop)


def pad_image(image: npt.NDArray[Any], pad_widths: PadWidths, border: Border) -> npt.NDArray[Any]:
    """Pad the first two axes of an (H, W) or (H, W, C) array; channels are left alone.

    >>> row = np.array([[1, 2, 3, 4]])
    >>> pad_image(row, ((0, 0), (2, 2)), Border("reflect"))
    array([[3, 2, 1, 2, 3, 4, 3, 2]])
    >>> pad_image(row, ((0, 0), (2, 2)), Border("symmetric"))
    array([[2, 1, 1, 2, 3, 4, 4, 3]])
    >>> pad_image(row, ((0, 0), (2, 2)), Border("constant", 9))
    array([[9, 9, 1, 2, 3, 4, 9, 9]])

    Raises
    ------
    ShapeError
        If the padding is too wide for ``reflect`` or ``circular`` on that axis.
    """
    check_padding(image.shape[:2], pad_widths, border.mode)
    if pad_widths == ((0, 0), (0, 0)):
        return image
    widths = list(pad_widths) + [(0, 0)] * (image.ndim - 2)
    if border.constant:
        return np.pad(image, widths, mode="constant", constant_values=border.value)
    return np.pad(image, widths, mode=_NUMPY_MODES[border.mode])


def check_padding(size: tuple[int, ...], pad_widths: PadWidths, mode: PadMode) -> None:
    """Raise :class:`ShapeError` if the padding is too wide for `mode` on an image of `size`.

    >>> check_padding((3, 5), ((3, 3), (0, 0)), "reflect")
    Traceback (most recent call last):
    ...
    convcli.errors.ShapeError: reflect padding of 3 rows needs an image of more than 3 rows, \
this one has 3
    """
    for index, (one, many) in enumerate((("row", "rows"), ("column", "columns"))):
        widest = max(pad_widths[index])
        padding = f"{widest} {one if widest == 1 else many}"
        if mode == "reflect" and widest >= size[index]:
            raise ShapeError(
                f"reflect padding of {padding} needs an image of more than {padding},"
                f" this one has {size[index]}"
            )
        if mode == "circular" and widest > size[index]:
            raise ShapeError(
                f"circular padding of {padding} needs an image of at least {padding},"
                f" this one has {size[index]}"
            )


def fill_padded_rows(
    image: npt.NDArray[Any] | RowSource,
    pad_widths: PadWidths,
    border: Border,
    first: int,
    out: npt.NDArray[Any],
) -> None:
    """Write padded rows ``first .. first + len(out)`` of `image` into `out`, as :func:`pad_image`.

    The core pads one strip of rows at a time this way, never the whole image. `out` has the
    padded width; the padding must have passed :func:`check_padding`.

    >>> image, out = np.array([[1, 2, 3, 4], [5, 6, 7, 8]]), np.empty((3, 6), dtype=int)
    >>> fill_padded_rows(image, ((1, 1), (1, 1)), Border("reflect"), 1, out)
    >>> out
    array([[2, 1, 2, 3, 4, 3],
           [6, 5, 6, 7, 8, 7],
           [2, 1, 2, 3, 4, 3]])
    """
    (top, _), (left, right) = pad_widths
    height, width = image.shape[:2]
    centre = out[:, left : left + width]
    offset = first - top  # out[k] shows image row k + offset, which may be outside the image
    inside = range(max(0, -offset), max(0, min(len(out), height - offset)))
    if inside:  # the image's own rows, one block
        centre[inside.start : inside.stop] = read_rows(
            image, inside.start + offset, inside.stop + offset
        )
    # Rows in the padding: few, at the top or bottom of the image.
    above, below = (
        range(min(inside.start, len(out))),
        range(max(inside.stop, inside.start), len(out)),
    )
    for outside in (above, below):
        if not outside:
            continue
        if border.constant:
            out[outside.start : outside.stop] = border.value
            continue
        rows = np.arange(outside.start, outside.stop) + offset
        for index, source in zip(outside, sources(rows, height, border.mode), strict=True):
            centre[index] = read_rows(image, source, source + 1)[0]
    _fill_columns(out, centre, left, right, border)


def sources(positions: npt.NDArray[np.intp], size: int, mode: PadMode) -> npt.NDArray[np.intp]:
    """The image line (row or column) each of `positions` shows, counted from the image's
    first line, for a mode that repeats the image (not ``zeros`` or ``constant``).

    >>> sources(np.array([-2, -1, 4, 5]), 4, "reflect")
    array([2, 1, 2, 1])
    >>> sources(np.array([-2, -1, 4, 5, 9]), 4, "symmetric")
    array([1, 0, 3, 2, 1])
    """
    if mode == "replicate":
        return np.clip(positions, 0, size - 1)
    if mode == "circular":
        return positions % size
    if mode == "symmetric":  # the image, then its mirror image, again and again
        folded = positions % (2 * size)
        return np.where(folded < size, folded, 2 * size - 1 - folded)
    if size == 1:  # reflect: no padding is allowed, every line is the only one
        return np.zeros_like(positions)
    period = 2 * (size - 1)
    folded = positions % period
    return np.where(folded < size, folded, period - folded)


def _fill_columns(
    out: npt.NDArray[Any], centre: npt.NDArray[Any], left: int, right: int, border: Border
) -> None:
    """Fill the `left` and `right` padding columns of `out` from its `centre` columns."""
    width = centre.shape[1]
    before, after = out[:, :left], out[:, left + width :]
    if border.constant:
        before[...] = border.value
        after[...] = border.value
        return
    before[...] = centre[:, sources(np.arange(-left, 0), width, border.mode)]
    after[...] = centre[:, sources(np.arange(width, width + right), width, border.mode)]
