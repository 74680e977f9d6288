"""Images drawn in the terminal with Rich: two pixels a character cell.

A cell shows two pixels, one above the other, as the upper half block ``▀`` (U+2580): its
foreground colour is the top pixel, its background the bottom one. A terminal cell is about
twice as tall as it is wide, so these pixels are square and an image keeps its aspect ratio
with one pixel column a cell and two pixel rows a line::

    pixels  a b c      cells  ▀ ▀ ▀   foreground a b c
            d e f                     background d e f

An image is reduced to the pixel grid it is drawn in by area averaging (each drawn pixel is
the mean of the image pixels it covers, fractions weighted by their share), never enlarged.
Its values are then mapped onto 0..255: 8- and 16-bit images by their full scale (255,
65535), unitless ones (float, 32-bit integer, ``.npy``) from their own min..max, as
``--range rescale`` does. Transparent pixels are composited over black, the usual terminal
background: what a viewer shows of them, not the colour hidden under alpha 0.

Without colour (``NO_COLOR``, or a terminal that has none) a cell is one character of a
ramp from dark to light, :data:`RAMP`, for the mean gray of its two pixels (Rec. 601 luma
for colour): legible on a dark background.

Nothing here reads files or prints: :func:`preview` (images in memory) and :func:`gallery`
(images made one at a time, as :mod:`convcli.terminal.show` reads files) make a :class:`Gallery`,
a renderable that a Rich console prints.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.cells import cell_len
from rich.color import Color
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style

from convcli.core.padding import RowSource, read_rows
from convcli.core.params import Pair, format_size
from convcli.errors import ParameterError

FloatArray = npt.NDArray[np.float64]
Pixels = npt.NDArray[np.uint8]

HALF_BLOCK = "\u2580"
"""The upper half block: foreground on top, background below."""

RAMP = " .:-=+*#%@"
"""Characters from dark to light, for a console without colour: 0..255 in equal steps."""

GAP = 2
"""Blank cells between images side by side."""

MIN_CELLS = 16
"""Side by side, no image is drawn narrower than this (or its own width, if less): below it,
the images go one under another, each as wide as the console."""

# Rec. 601 luma in thousandths, apply's default gray (convcli.imageio.reading.GRAY_WEIGHTS, which
# needs Pillow): in integers, a gray pixel's three equal channels give its value exactly.
_LUMA_1000 = np.array([299, 587, 114])

# Values read at a time while an image is reduced: a strip of rows, 8 MB as float64.
_STRIP_VALUES = 1 << 20

# Values up to 2 ** _HUGE are summed as they are: an image of 2 ** 500 pixels could not
# overflow their sums.
_HUGE = 500

_CAPTION_STYLE = Style(bold=True)


@dataclass(frozen=True)
class PreviewImage:
    """An image to draw: its values in its own units, and what they mean."""

    name: str
    """How the caption names it: the path as given, or ``-``."""
    values: npt.NDArray[Any] | RowSource
    """(H, W) gray, (H, W, 1) gray or (H, W, 3) RGB; a :class:`RowSource` is read a strip of
    rows at a time."""
    max_value: float | None
    """The full scale of its units (255 for 8-bit, 65535 for 16-bit), or None for unitless
    values, which are drawn from their min..max."""
    alpha: npt.NDArray[Any] | None = None
    """(H, W) opacity in the same units (0 transparent, `max_value` opaque), or None."""

    @property
    def size(self) -> Pair:
        """(height, width) in pixels."""
        return (self.values.shape[0], self.values.shape[1])

    @property
    def caption(self) -> str:
        """The name and the size, ``photo.png 480x640``."""
        return caption(self.name, self.size)


def caption(name: str, size: Pair) -> str:
    """An image's caption: its name and its size, ``photo.png 480x640``."""
    return f"{name} {format_size(size)}"


def fit(size: Pair, cells: int, rows: int | None = None) -> Pair:
    """The pixel grid (rows, columns) an image of `size` is drawn in.

    One column a cell, at most `cells` of them, and two pixel rows a line, at most `rows`
    lines when given; the aspect ratio is kept (rows rounded half up, at least 1) and the grid
    is never larger than the image. Only an image narrower than a cell for `rows` lines is
    squeezed: one column, `rows` lines.

    >>> fit((480, 640), 80)           # 80 columns by 60 pixel rows: 30 lines
    (60, 80)
    >>> fit((3, 5), 80)               # smaller than the space: drawn as it is, in 2 lines
    (3, 5)
    >>> fit((1000, 500), 80, rows=10)  # 20 pixel rows at most: 10 columns
    (20, 10)

    Raises
    ------
    ParameterError
        If `cells` or `rows` is below 1.
    """
    if cells < 1 or (rows is not None and rows < 1):
        raise ParameterError(f"a picture needs at least 1 cell and 1 line, got {cells} by {rows}")
    height, width = size
    columns = min(width, cells)
    pixel_rows = _rows_for(size, columns)
    if rows is not None and pixel_rows > 2 * rows:
        columns = max(1, width * 2 * rows // height)
        pixel_rows = min(2 * rows, _rows_for(size, columns))
    return pixel_rows, columns


def _rows_for(size: Pair, columns: int) -> int:
    """Pixel rows that keep the aspect ratio at `columns` wide: height x columns / width,
    rounded half up, at least 1."""
    height, width = size
    return max(1, (2 * height * columns + width) // (2 * width))


@dataclass(frozen=True)
class Layout:
    """Where each image goes and in what pixel grid, for a console `width` cells wide."""

    side_by_side: bool
    """True: images in a row, captions on one line above; False: one under another."""
    grids: tuple[Pair, ...]
    """Each image's pixel grid (rows, columns): ``(rows + 1) // 2`` lines, ``columns`` cells."""
    columns: tuple[int, ...]
    """Each image's column in cells, caption included: at least its grid's width."""
    rows: int | None = None
    """The most lines each image may take, or None."""


def plan_layout(
    sizes: Sequence[Pair],
    captions: Sequence[str],
    width: int,
    *,
    rows: int | None = None,
    gap: int = GAP,
) -> Layout:
    """Side by side if every image gets enough of `width`, else one under another.

    Side by side, the width less the gaps is shared out as evenly as it goes, no column
    getting more than it can use: its image's width (less when `rows` limits its height), or
    its caption's up to :data:`MIN_CELLS`, if more; the others share what it leaves. This is
    kept only if each image is drawn at least :data:`MIN_CELLS` wide (or as wide as it can
    be, if less). Else each image gets the whole width. A caption longer than its column takes
    the cells left over, and is shortened from the left beyond that.

    `rows` is the lines the drawing may take below its first line of captions, so that it
    is seen whole: side by side, each image may be as tall; one under another, the images
    share them equally with the caption and the blank line above each but the first.

    >>> plan_layout([(100, 100), (100, 50)], ["a", "b"], 80).grids   # 39 cells each
    ((39, 39), (78, 39))
    >>> plan_layout([(100, 100), (100, 50)], ["a", "b"], 30).side_by_side   # 14 cells each
    False

    Raises
    ------
    ParameterError
        If there is no image, if the lists differ in length, or `width` or `rows` is below 1.
    """
    if not sizes or len(sizes) != len(captions):
        raise ParameterError(f"{len(sizes)} images for {len(captions)} captions")
    if width < 1:
        raise ParameterError(f"a console must be at least 1 cell wide, got {width}")
    # The widest each image can be drawn, `rows` lines tall at most.
    drawable = [fit(size, size[1], rows)[1] for size in sizes]
    available = width - gap * (len(sizes) - 1)
    if available >= len(sizes):
        needs = [
            max(most, min(cell_len(caption), MIN_CELLS))
            for most, caption in zip(drawable, captions, strict=True)
        ]
        cells = _share(needs, available)
        grids = tuple(fit(size, c, rows) for size, c in zip(sizes, cells, strict=True))
        if all(g[1] >= min(d, MIN_CELLS) for g, d in zip(grids, drawable, strict=True)):
            spare = available - sum(cells)
            columns = []
            for column, caption in zip(cells, captions, strict=True):
                extra = min(max(0, cell_len(caption) - column), spare)
                spare -= extra
                columns.append(column + extra)
            return Layout(True, grids, tuple(columns), rows)
    if rows is not None:
        rows = max(1, (rows - 2 * (len(sizes) - 1)) // len(sizes))
    grids = tuple(fit(size, width, rows) for size in sizes)
    columns = [
        max(grid[1], min(cell_len(caption), width))
        for grid, caption in zip(grids, captions, strict=True)
    ]
    return Layout(False, grids, tuple(columns), rows)


def _share(widths: Sequence[int], available: int) -> list[int]:
    """`available` cells shared out among columns that can use `widths`: each gets
    min(width, L) for the largest level L at which they fit (at least 1 each: `available`
    must be at least their count).

    >>> _share([10, 100, 100], 80), _share([10, 20], 80)
    ([10, 35, 35], [10, 20])
    """
    if sum(widths) <= available:
        return list(widths)
    low, high = 1, max(widths)  # low fits (available >= count); high does not
    while high - low > 1:
        level = (low + high) // 2
        if sum(min(w, level) for w in widths) <= available:
            low = level
        else:
            high = level
    return [min(w, low) for w in widths]


def display_pixels(
    values: npt.NDArray[Any] | RowSource,
    grid: Pair,
    *,
    max_value: float | None,
    alpha: npt.NDArray[Any] | None = None,
) -> Pixels:
    """`values` reduced to `grid` by area averaging and mapped onto 0..255 for display.

    Parameters
    ----------
    values
        (H, W) or (H, W, 1) gray, or (H, W, 3) RGB, any real dtype; a :class:`RowSource` is
        read a strip of rows at a time, so the whole image is never converted at once.
    grid
        (rows, columns) to reduce to, each between 1 and the image's own.
    max_value
        The full scale of the values' units: value / `max_value` is drawn (clipped to
        0..1). None: unitless, drawn from the image's own min..max (a constant image is black).
    alpha
        (H, W) opacity in the values' units (needs `max_value`): pixels are composited over
        black before they are averaged, as a viewer would show them.

    Returns
    -------
    numpy.ndarray
        uint8, (rows, columns) for gray, (rows, columns, 3) for RGB: value x 255 rounded.

    Raises
    ------
    ParameterError
        If the shape is not an image's, the grid is empty or larger than the image, or alpha
        comes without a full scale or in another size.

    Examples
    --------
    Each drawn pixel is the mean of the 2x2 block it covers:

    >>> image = np.array([[0, 255, 100, 100], [255, 0, 100, 100]])
    >>> display_pixels(image, (1, 2), max_value=255)
    array([[128, 100]], dtype=uint8)

    Drawn 3 columns wide, each drawn pixel covers 4/3 of a column: the middle one two thirds
    of columns 1 (mean 127.5) and 2 (mean 100), (127.5 + 100) / 2 = 113.75, 114 once rounded:

    >>> display_pixels(image, (1, 3), max_value=255)
    array([[128, 114, 100]], dtype=uint8)
    """
    shape = tuple(values.shape)
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in (1, 3)):
        raise ParameterError(
            f"an array of shape {shape} is no picture: draw (H, W) or (H, W, 1) gray, (H, W, 3) RGB"
        )
    height, width = shape[0], shape[1]
    channels = 1 if len(shape) == 2 else shape[2]
    rows, columns = grid
    if not (1 <= rows <= height and 1 <= columns <= width):
        raise ParameterError(
            f"cannot reduce a {height}x{width} image to {rows}x{columns}: between 1x1 and its size"
        )
    opacity_of: tuple[npt.NDArray[Any], float] | None = None  # (alpha, its full scale)
    if alpha is not None:
        if max_value is None or alpha.shape != (height, width):
            raise ParameterError(
                f"alpha of shape {alpha.shape} for an image of {height}x{width}"
                f"{'' if max_value is not None else ' without a full scale'}: cannot composite it"
            )
        opacity_of = (alpha, max_value)
    # Each drawn pixel's weighted sum, in units where an image pixel is `rows` x `columns`
    # and a drawn one `height` x `width`: every overlap is a whole number, so 8- and 16-bit
    # values give exact sums, the same whatever the strips, and one division at the end.
    sums = np.zeros((rows, columns, channels))
    low, high = np.inf, -np.inf
    # Values beyond 2 ** _HUGE (floats near 1e308) would overflow the sums: the sums are then
    # kept in units of 2 ** shift, a power of two, which scales every sum exactly.
    shift = 0
    step = max(1, _STRIP_VALUES // (width * channels))
    for start in range(0, height, step):
        stop = min(start + step, height)
        strip = np.asarray(read_rows(values, start, stop)).reshape(stop - start, width, channels)
        low, high = min(low, float(strip.min())), max(high, float(strip.max()))
        needed = max(0, math.frexp(max(-low, high))[1] - _HUGE)
        if needed > shift:
            sums = np.ldexp(sums, shift - needed)
            shift = needed
        if shift:
            strip = np.ldexp(strip, -shift)  # a new array: `values` may be the caller's
        if opacity_of is not None:
            plane, full_scale = opacity_of
            opacity = np.clip(np.asarray(plane[start:stop], dtype=np.float64) / full_scale, 0, 1)
            strip = strip * opacity[..., np.newaxis]  # a new array: `values` may be the caller's
        first, weights = _overlaps(start, stop, height, rows)
        sums[first : first + len(weights)] += np.tensordot(
            weights, _column_sums(strip, columns), axes=(1, 0)
        )
    means = sums / (height * width)
    if max_value is not None:
        levels = np.ldexp(means, shift) * (255 / max_value)
    elif high > low:
        # In the sums' units, where high - low cannot overflow; divided first, so that a
        # range of tiny values cannot make 255 / (high - low) infinite.
        bottom = math.ldexp(low, -shift)
        levels = (means - bottom) / (math.ldexp(high, -shift) - bottom) * 255
    else:
        levels = np.zeros_like(means)
    pixels: Pixels = np.floor(np.clip(levels, 0, 255) + 0.5).astype(np.uint8)
    return pixels[..., 0] if channels == 1 else pixels


def _column_sums(strip: npt.NDArray[Any], columns: int) -> FloatArray:
    """Each row of `strip` (k, W, C) summed over `columns` equal intervals, in float64: pixel
    l spans [l x columns, (l + 1) x columns), interval j [j x W, (j + 1) x W), and a pixel
    counts by its overlap with the interval. The intervals are at least a pixel wide.

    >>> _column_sums(np.array([[[1.0], [2.0], [6.0]]]), 2)[..., 0]  # 2 x 1 + 1 x 2, 1 x 2 + 2 x 6
    array([[ 4., 14.]])
    """
    width = strip.shape[1]
    whole, share = np.divmod(np.arange(columns + 1) * width, columns)  # each edge's pixel
    inner = np.add.reduceat(strip, whole[:-1], axis=1, dtype=np.float64)
    cut = share[np.newaxis, :, np.newaxis] * strip[:, np.minimum(whole, width - 1)]
    sums: FloatArray = columns * inner + cut[:, 1:] - cut[:, :-1]
    return sums


def _overlaps(start: int, stop: int, height: int, rows: int) -> tuple[int, npt.NDArray[np.int64]]:
    """How much of each of rows `start`..`stop` falls in each drawn row they touch, in the
    units of :func:`_column_sums` (an image row is `rows` long, a drawn row `height`): the
    first drawn row touched, and the weights (drawn rows, image rows).

    >>> _overlaps(0, 3, 3, 2)   # 3 rows into 2: row 1 is cut in the middle
    (0, array([[2, 1, 0],
           [0, 1, 2]]))
    """
    first = start * rows // height
    last = (stop * rows - 1) // height
    drawn = np.arange(first, last + 1)[:, np.newaxis]
    image = np.arange(start, stop)[np.newaxis, :]
    overlap = np.minimum((drawn + 1) * height, (image + 1) * rows) - np.maximum(
        drawn * height, image * rows
    )
    return first, np.clip(overlap, 0, None).astype(np.int64)


@dataclass(frozen=True)
class Tile:
    """An image reduced to its cells, and its caption."""

    caption: str
    pixels: Pixels
    """(rows, columns) gray or (rows, columns, 3) RGB, 0..255: two rows a line."""

    @property
    def lines(self) -> int:
        """How many lines it takes: two pixel rows each, an odd last row alone."""
        return (int(self.pixels.shape[0]) + 1) // 2


class Gallery:
    """A Rich renderable: tiles with their captions above, as a :class:`Layout` places them.

    Colour consoles get half blocks (Rich reduces the colours to what the console has, 256 or
    16); a console without colour (``no_color``, ``NO_COLOR``, or no colour system) gets the
    :data:`RAMP`. Stacked images are separated by a blank line.
    """

    def __init__(self, tiles: Sequence[Tile], layout: Layout, *, gap: int = GAP) -> None:
        if len(tiles) != len(layout.grids):
            raise ParameterError(f"{len(tiles)} tiles for a layout of {len(layout.grids)}")
        self.tiles = tuple(tiles)
        self.layout = layout
        self.gap = gap

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        columns = self.layout.columns
        if self.layout.side_by_side:
            width = sum(columns) + self.gap * (len(columns) - 1)
        else:
            width = max(columns)
        return Measurement(width, width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        colour = not console.no_color and console.color_system is not None
        pictures = [_picture(tile.pixels, colour) for tile in self.tiles]
        captions = [
            _caption(tile.caption, width)
            for tile, width in zip(self.tiles, self.layout.columns, strict=True)
        ]
        if self.layout.side_by_side:
            gap = Segment(" " * self.gap)
            last = len(self.tiles) - 1
            yield from _row(captions, self.layout.columns, gap)
            yield Segment.line()
            for line in range(max(tile.lines for tile in self.tiles)):
                cells = [picture[line] if line < len(picture) else [] for picture in pictures]
                if line >= len(pictures[last]):  # nothing at the end of the line: no padding
                    while cells and not cells[-1]:
                        cells.pop()
                yield from _row(cells, self.layout.columns, gap)
                yield Segment.line()
            return
        for number, (caption, picture) in enumerate(zip(captions, pictures, strict=True)):
            if number:
                yield Segment.line()
            yield from caption
            yield Segment.line()
            for segments in picture:
                yield from segments
                yield Segment.line()


def _row(cells: Sequence[Sequence[Segment]], widths: Sequence[int], gap: Segment) -> list[Segment]:
    """One line of side-by-side columns: each padded to its width, a gap between them."""
    line: list[Segment] = []
    for number, (segments, width) in enumerate(zip(cells, widths, strict=False)):
        if number:
            line.append(gap)
        line.extend(segments)
        if number < len(cells) - 1:
            used = sum(segment.cell_length for segment in segments)
            line.append(Segment(" " * (width - used)))
    return line


def _caption(text: str, width: int) -> list[Segment]:
    """The caption in at most `width` cells; too long, it loses its start (the size and the
    file's name are at the end), shown by an ellipsis."""
    if cell_len(text) > width:
        while text and cell_len(text) > width - 1:
            text = text[1:]
        text = "\u2026" + text
    return [Segment(text, _CAPTION_STYLE)]


def _picture(pixels: Pixels, colour: bool) -> list[list[Segment]]:
    """The lines of one image: half blocks in colour, else the ramp."""
    rgb = pixels if pixels.ndim == 3 else np.repeat(pixels[..., np.newaxis], 3, axis=2)
    rows = rgb.shape[0]
    if not colour:
        gray = (rgb.astype(np.int64) @ _LUMA_1000) / 1000
        if rows % 2:  # the last line has its top pixel alone: its mean is that pixel
            gray = np.concatenate([gray, gray[-1:]])
        cell = (gray[0::2] + gray[1::2]) / 2
        index = np.minimum((cell * len(RAMP) / 256).astype(np.intp), len(RAMP) - 1)
        return [[Segment("".join(RAMP[i] for i in line))] for line in index]
    colours: dict[tuple[int, int, int], Color] = {}

    def colour_of(pixel: npt.NDArray[np.uint8]) -> Color:
        key = (int(pixel[0]), int(pixel[1]), int(pixel[2]))
        if key not in colours:
            colours[key] = Color.from_rgb(*key)
        return colours[key]

    lines = []
    for top in range(0, rows, 2):
        upper = [colour_of(pixel) for pixel in rgb[top]]
        # An odd last row: its lower half keeps the terminal's own background.
        lower = [colour_of(pixel) for pixel in rgb[top + 1]] if top + 1 < rows else None
        segments = [
            Segment(HALF_BLOCK, Style.from_color(fg, None if lower is None else lower[column]))
            for column, fg in enumerate(upper)
        ]
        lines.append(list(Segment.simplify(segments)))
    return lines


def preview(
    images: Sequence[PreviewImage], width: int, *, rows: int | None = None, gap: int = GAP
) -> Gallery:
    """`images` drawn in a console `width` cells wide: side by side with their captions
    when they fit (see :func:`plan_layout`), else one under another.

    `rows` is the lines the drawing may take below its first captions (a terminal's height,
    so that it is seen whole).

    Examples
    --------
    >>> import io
    >>> from rich.console import Console
    >>> console = Console(width=40, file=io.StringIO(), color_system=None)
    >>> ramp = np.array([[0, 64, 128, 255]] * 2)
    >>> console.print(preview([PreviewImage("ramp", ramp, 255)], 40))
    >>> print(console.file.getvalue())
    ramp 2x4
     :+@
    <BLANKLINE>
    """

    def tile(number: int, grid: Pair, rows: int | None) -> Tile:
        image = images[number]
        pixels = display_pixels(image.values, grid, max_value=image.max_value, alpha=image.alpha)
        return Tile(image.caption, pixels)

    sizes = [image.size for image in images]
    return gallery(sizes, [image.caption for image in images], width, tile, rows=rows, gap=gap)


def gallery(
    sizes: Sequence[Pair],
    captions: Sequence[str],
    width: int,
    tile: Callable[[int, Pair, int | None], Tile],
    *,
    rows: int | None = None,
    gap: int = GAP,
) -> Gallery:
    """Images of `sizes` laid out by :func:`plan_layout`, each made by ``tile(number, grid,
    rows)`` in turn: its pixels reduced to `grid`, `rows` being the most lines it may take.

    One image at a time: a caller that reads files decodes each only when its turn comes.
    """
    layout = plan_layout(sizes, captions, width, rows=rows, gap=gap)
    tiles = [tile(number, grid, layout.rows) for number, grid in enumerate(layout.grids)]
    return Gallery(tiles, layout, gap=gap)
