"""Feature-map sheets: an image and each kernel's response to it, labelled, in one picture.

What the first layer of a CNN shows when its feature maps are drawn side by side. Each tile is
one kernel's response, mapped to 8-bit pixels by :func:`convcli.pipeline.apply.gray_pixels`,
the code ``convcli apply`` writes with: a tile equals ``apply -k K`` with the same options,
pixel for pixel, unless the tiles are shrunk. The first tile is the input, as ``apply`` reads
it (gray).

The layout, for tiles of different sizes (a kernel without padding shrinks its output)::

    +-------------------------------------------+
    | input 300x451        vertical 298x449     |   labels in Pillow's built-in font
    | +---------------+    +--------------+     |   a gray frame just outside each tile
    | |               |    |              |     |
    | |               |    |              |     |   every cell as wide as the widest
    | +---------------+    +--------------+     |   tile and as tall as the tallest:
    | sobel 298x449        laplacian 298x449    |   each tile at its cell's top left
    | ...                                       |
    +-------------------------------------------+

:data:`MARGIN` pixels of background surround the cells and separate them. Sizes are
(height, width) and boxes (top, left, height, width), in pixels of the sheet.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from convcli.core.params import ConvParams, Pair, format_size
from convcli.errors import ImageReadError, ImageWriteError, ParameterError, ShapeError
from convcli.imageio.files import STDIN_NAME, STDOUT_NAME, check_destination, write_output
from convcli.imageio.reading import open_image
from convcli.imageio.writing import check_format_holds, choose_format, encode_into
from convcli.kernels.kernel import Kernel, Step
from convcli.pipeline.alpha import applied_alpha
from convcli.pipeline.apply import ImageOptions, check_overwrite, gray_pixels
from convcli.pipeline.chain import chain_arithmetic, check_chain_fits, check_method
from convcli.pipeline.rangemap import RangeMode

Box = tuple[int, int, int, int]
"""(top, left, height, width) in pixels."""

MARGIN = 8
"""Background pixels around the cells and between them."""
LABEL_GAP = 4
"""Background pixels between a label and its tile; the tile's frame lies in them."""
BACKGROUND = 255
INK = 0
"""The labels' gray level."""
FRAME = 160
"""The gray level of the one-pixel frame just outside each tile, which shows its extent
where the tile is as light as the background."""
MAX_NAME_CHARS = 32
"""Longer kernel names (a file's path, an inline matrix) are shortened in labels."""

INPUT_KERNEL = Kernel("input", np.ones((1, 1)), "The input as read: one weight of 1.")
"""What makes the input tile: 1 x pixel is the pixel, so the input is mapped to 8 bits by the
rule every response is (``clip``, or ``rescale`` for values without units)."""


def default_columns(count: int) -> int:
    """Tiles in a row: all of them up to four, else ceil(sqrt(count)), as many rows as columns
    or one fewer.

    >>> [default_columns(n) for n in (1, 2, 4, 5, 9, 10, 13)]
    [1, 2, 4, 3, 3, 4, 4]
    """
    return count if count <= 4 else math.isqrt(count - 1) + 1


@dataclass(frozen=True)
class SheetLayout:
    """Where everything goes on a sheet. Sizes are (height, width)."""

    size: Pair
    """The sheet's."""
    columns: int
    rows: int
    cell: Pair
    """Every cell's: the label, the gap and room for the tallest and widest tile."""
    tiles: tuple[Box, ...]
    """Each tile's box, at the top left of its cell's tile area, in reading order."""
    labels: tuple[tuple[int, int], ...]
    """(top, left) of each tile's label: its cell's corner."""


def grid_layout(
    tile_shapes: Sequence[Pair],
    label_widths: Sequence[int],
    *,
    label_height: int,
    columns: int | None = None,
) -> SheetLayout:
    """Lay tiles out in a grid of equal cells, in reading order, each under its label.

    A cell is as wide as the widest tile or label and as tall as the label, :data:`LABEL_GAP`
    and the tallest tile; :data:`MARGIN` pixels surround and separate the cells. `columns`
    defaults to :func:`default_columns` and is at most the number of tiles.

    >>> layout = grid_layout([(20, 30), (18, 28), (9, 14)], [40, 50, 45], label_height=12)
    >>> layout.columns, layout.rows, layout.cell, layout.size
    (3, 1, (36, 50), (52, 182))
    >>> layout.tiles
    ((24, 8, 20, 30), (24, 66, 18, 28), (24, 124, 9, 14))
    >>> grid_layout([(20, 30)] * 3, [10] * 3, label_height=12, columns=2).tiles
    ((24, 8, 20, 30), (24, 46, 20, 30), (68, 8, 20, 30))

    Raises
    ------
    ParameterError
        If there are no tiles, or not one label width for each.
    """
    count = len(tile_shapes)
    if count == 0 or len(label_widths) != count:
        raise ParameterError(f"a sheet needs tiles and a label for each, got {count} tiles")
    columns = min(columns or default_columns(count), count)
    rows = -(-count // columns)
    tile_top = label_height + LABEL_GAP
    cell = (
        tile_top + max(height for height, _ in tile_shapes),
        max(*(width for _, width in tile_shapes), *label_widths),
    )
    size = (
        rows * cell[0] + (rows + 1) * MARGIN,
        columns * cell[1] + (columns + 1) * MARGIN,
    )
    tiles: list[Box] = []
    labels: list[tuple[int, int]] = []
    for index, (height, width) in enumerate(tile_shapes):
        row, column = divmod(index, columns)
        top = MARGIN + row * (cell[0] + MARGIN)
        left = MARGIN + column * (cell[1] + MARGIN)
        labels.append((top, left))
        tiles.append((top + tile_top, left, height, width))
    return SheetLayout(size, columns, rows, cell, tuple(tiles), tuple(labels))


@functools.cache
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's own font, so nothing depends on the fonts a system has.
    return ImageFont.load_default()


def label_height() -> int:
    """Pixels from a label's top to the bottom of its lowest glyph in the built-in font."""
    return math.ceil(_font().getbbox("Ag|jy()_")[3])


def label_width(text: str) -> int:
    """Pixels the label `text` spans in the built-in font."""
    font = _font()
    return math.ceil(max(font.getlength(text), font.getbbox(text)[2]))


def tile_label(name: str, shape: Pair) -> str:
    """A tile's label: the kernel's name, shortened to :data:`MAX_NAME_CHARS`, and the
    tile's size. Line breaks (a matrix of several lines) become spaces, and characters beyond
    Latin-1 question marks: the built-in fonts have no others (the bitmap font that Pillow
    falls back to without FreeType cannot even be asked for them).

    >>> tile_label("sobel", (298, 449))
    'sobel 298x449'
    >>> tile_label("1,0,-1; 2,0,-2; 1,0,-1; 3,0,-3; 4,0,-4", (8, 10))
    '1,0,-1; 2,0,-2; 1,0,-1; 3,0,-... 8x10'
    """
    flat = " ".join(name.split()).encode("latin-1", "replace").decode("latin-1")
    if len(flat) > MAX_NAME_CHARS:
        flat = flat[: MAX_NAME_CHARS - 3] + "..."
    return f"{flat} {format_size(shape)}"


@dataclass(frozen=True)
class Sheet:
    """A sheet's pixels and where its tiles are."""

    pixels: npt.NDArray[np.uint8]
    """(H, W), 8-bit gray."""
    layout: SheetLayout


def compose(
    tiles: Sequence[npt.NDArray[np.uint8]],
    labels: Sequence[str],
    *,
    columns: int | None = None,
) -> Sheet:
    """The sheet of `tiles` (8-bit arrays, any sizes: (h, w) gray or (h, w, 3) RGB) under
    their `labels`.

    Laid out by :func:`grid_layout` and drawn by :func:`blank_sheet`, each tile copied into
    its box as it is. The sheet is RGB if any tile is, gray tiles then as gray in RGB.

    Raises
    ------
    ParameterError
        If a tile is not a 2-D uint8 array or an RGB one, or the tiles and labels do not pair
        up.
    """
    if len(labels) != len(tiles):
        raise ParameterError(f"{len(tiles)} tiles but {len(labels)} labels")
    for tile in tiles:
        gray_or_rgb = tile.ndim == 2 or (tile.ndim == 3 and tile.shape[2] == 3)
        if not gray_or_rgb or tile.dtype != np.uint8:
            raise ParameterError(
                f"a tile is 8-bit gray (H, W) or RGB (H, W, 3), not {tile.dtype} {tile.shape}"
            )
    colour = any(tile.ndim == 3 for tile in tiles)
    layout = grid_layout(
        [(tile.shape[0], tile.shape[1]) for tile in tiles],
        [label_width(label) for label in labels],
        label_height=label_height(),
        columns=columns,
    )
    pixels = blank_sheet(layout, labels, colour=colour)
    for box, tile in zip(layout.tiles, tiles, strict=True):
        _place(pixels, box, tile[..., np.newaxis] if colour and tile.ndim == 2 else tile)
    return Sheet(pixels, layout)


def blank_sheet(
    layout: SheetLayout, labels: Sequence[str], *, colour: bool = False
) -> npt.NDArray[np.uint8]:
    """A sheet's pixels before its tiles: a :data:`BACKGROUND` of white, each label in black at
    its cell's corner, and a :data:`FRAME` gray line just outside each tile's box; (H, W), or
    (H, W, 3) if `colour`.

    Each label is drawn on its own small image, so that nothing but the sheet itself is ever
    as large as the sheet.

    Raises
    ------
    ParameterError
        If there is not one label for each tile.
    """
    if len(labels) != len(layout.tiles):
        raise ParameterError(f"{len(layout.tiles)} tiles but {len(labels)} labels")
    pixels = np.full((*layout.size, 3) if colour else layout.size, BACKGROUND, dtype=np.uint8)
    # A label's band ends above its tile's frame, which no glyph can then cover.
    band = (layout.cell[1], label_height() + LABEL_GAP - 1)
    for (top, left, height, width), (label_top, label_left), label in zip(
        layout.tiles, layout.labels, labels, strict=True
    ):
        image = Image.new("L", band, BACKGROUND)
        ImageDraw.Draw(image).text((0, 0), label, fill=INK, font=_font())
        drawn = np.array(image)
        pixels[label_top : label_top + band[1], label_left : label_left + band[0]] = (
            drawn[..., np.newaxis] if colour else drawn
        )
        pixels[top - 1, left - 1 : left + width + 1] = FRAME
        pixels[top + height, left - 1 : left + width + 1] = FRAME
        pixels[top - 1 : top + height + 1, left - 1] = FRAME
        pixels[top - 1 : top + height + 1, left + width] = FRAME
    return pixels


def stack_sections(sections: Sequence[tuple[str, npt.NDArray[np.uint8]]]) -> npt.NDArray[np.uint8]:
    """Sheets (gray or RGB) one above the other on white, each under its title: (H, W, 3)."""
    title_height = label_height() + MARGIN
    width = max(max(pixels.shape[1], label_width(title) + 2 * MARGIN) for title, pixels in sections)
    height = sum(title_height + pixels.shape[0] for _, pixels in sections)
    stacked = np.full((height, width, 3), BACKGROUND, np.uint8)
    top = 0
    for title, pixels in sections:
        band = Image.new("L", (width - MARGIN, title_height), BACKGROUND)
        ImageDraw.Draw(band).text((0, MARGIN), title, fill=INK, font=_font())
        stacked[top : top + title_height, MARGIN:] = np.array(band)[..., np.newaxis]
        top += title_height
        coloured = pixels if pixels.ndim == 3 else pixels[..., np.newaxis]
        stacked[top : top + pixels.shape[0], : pixels.shape[1]] = coloured
        top += pixels.shape[0]
    return stacked


def _place(pixels: npt.NDArray[np.uint8], box: Box, tile: npt.NDArray[np.uint8]) -> None:
    top, left, height, width = box
    pixels[top : top + height, left : left + width] = tile


def shrink(tiles: Sequence[npt.NDArray[np.uint8]], longest: int) -> list[npt.NDArray[np.uint8]]:
    """`tiles` all shrunk by one factor, so that the longest side of any is `longest` pixels.

    One factor keeps their sizes in proportion: a stride-2 response stays half the input.
    Lanczos resampling (Pillow's); no side below 1 pixel. Tiles that fit already are
    returned as they are: nothing is enlarged.

    >>> tiles = [np.zeros((300, 450), np.uint8), np.zeros((150, 225), np.uint8)]
    >>> [tile.shape for tile in shrink(tiles, 90)]
    [(60, 90), (30, 45)]
    """
    factor = shrink_factor([(tile.shape[0], tile.shape[1]) for tile in tiles], longest)
    if factor is None:
        return list(tiles)
    return [
        shrink_tile(tile, shrunk_size((tile.shape[0], tile.shape[1]), factor)) for tile in tiles
    ]


def shrink_factor(shapes: Sequence[Pair], longest: int) -> float | None:
    """The one factor that brings the longest side of any of `shapes` to `longest` pixels,
    or None when none is longer.

    >>> shrink_factor([(300, 450), (150, 225)], 90), shrink_factor([(30, 45)], 90)
    (0.2, None)
    """
    largest = max(max(shape) for shape in shapes)
    return None if largest <= longest else longest / largest


def shrunk_size(shape: Pair, factor: float) -> Pair:
    """`shape` times `factor`, each side rounded, at least 1.

    >>> shrunk_size((298, 449), 0.2)
    (60, 90)
    """
    return (max(1, round(shape[0] * factor)), max(1, round(shape[1] * factor)))


def shrink_tile(tile: npt.NDArray[np.uint8], size: Pair) -> npt.NDArray[np.uint8]:
    """`tile` resampled to `size` (height, width) by Pillow's Lanczos filter."""
    image = Image.fromarray(tile).resize((size[1], size[0]), Image.Resampling.LANCZOS)
    return np.asarray(image)


@dataclass(frozen=True)
class TileReport:
    """One tile of a written sheet."""

    label: str
    kernel: str | None
    """The ``-k`` spec, or None for the input tile."""
    shape: Pair
    """The response's (height, width), before any shrinking."""
    box: Box
    """Where it lies in the sheet (its shrunk size, if shrunk)."""
    range_mode: RangeMode
    value_range: tuple[float, float]
    clipped: int

    def record(self) -> dict[str, Any]:
        """The tile's part of the JSON record."""
        return {
            "label": self.label,
            "kernel": self.kernel,
            "shape": list(self.shape),
            "box": list(self.box),
            "range": self.range_mode,
            "value_range": list(self.value_range),
            "clipped": self.clipped,
        }


@dataclass(frozen=True)
class SheetReport:
    """What :func:`make_sheet` wrote. Sizes are (height, width)."""

    input: str
    output: str
    input_shape: Pair
    size: Pair
    columns: int
    rows: int
    format: str
    shrunk: bool
    """Whether the tiles were shrunk (then they differ from ``apply``'s output)."""
    tiles: tuple[TileReport, ...]

    def summary(self) -> str:
        """What was written, in a line: ``edges.png: cat.png 300x451 and 4 responses ...``."""
        responses = len(self.tiles) - 1
        return (
            f"{self.output}: {self.input} {format_size(self.input_shape)} and {responses}"
            f" response{'' if responses == 1 else 's'} in {self.rows}"
            f" row{'' if self.rows == 1 else 's'} of {self.columns}, {format_size(self.size)}"
            f"{', tiles shrunk' if self.shrunk else ''}"
        )

    def record(self) -> dict[str, Any]:
        """The JSON record (``sheet --json``)."""
        return {
            "input": self.input,
            "output": self.output,
            "input_shape": list(self.input_shape),
            "size": list(self.size),
            "columns": self.columns,
            "rows": self.rows,
            "format": self.format,
            "shrunk": self.shrunk,
            "tiles": [tile.record() for tile in self.tiles],
        }


def make_sheet(
    source: Path | IO[bytes],
    destination: Path | IO[bytes],
    steps: Sequence[Step],
    params: ConvParams,
    options: ImageOptions | None = None,
    *,
    columns: int | None = None,
    tile_size: int | None = None,
    specs: Sequence[str] | None = None,
) -> SheetReport:
    """Filter an image by each of `steps` separately and write the sheet of the responses.

    The image is read gray (by ``options.gray``), as ``apply`` reads it; each response is
    mapped to 8 bits by ``options.range_mode``, as ``apply`` maps it (the input tile always by
    ``auto``), shrunk if asked and copied into the sheet as soon as it is made: memory holds
    the decoded image, the sheet and one response. `params` apply to every step. The sheet is
    written in the format `destination`'s extension names (or ``options.output_format``),
    atomically to a path, in one write to a stream, and only once everything has succeeded.

    Parameters
    ----------
    source
        A path, or a binary stream (standard input, named ``-``).
    destination
        A path, or a binary stream (standard output).
    columns
        Tiles in a row (see :func:`grid_layout`).
    tile_size
        Shrink the tiles by one factor so that the longest side of any is this many pixels
        (see :func:`shrink`); None keeps them at full size.
    specs
        The ``-k`` text of each step, which the report records (default: each step's name;
        a JSON kernel file may name its kernel otherwise than its path).

    Raises
    ------
    ParameterError
        Before any pixel is decoded: a format that holds no 8-bit gray (or ``.npy``), an
        unknown range mode, writing over an input without ``options.force``, no steps.
    ImageReadError
        If the input cannot be read, or has several channels (``.npy``).
    ImageWriteError
        If the sheet would have more pixels than ``options.max_pixels``, the most convcli
        reads (checked before any pixel is decoded; the message gives the largest
        `tile_size` that fits), or it cannot be written.
    ShapeError
        If a kernel does not fit the image, naming it; checked for every step before any
        work. Nothing is written.
    """
    options = options or ImageOptions()
    if not steps:
        raise ParameterError("a sheet needs at least one kernel")
    if specs is not None and len(specs) != len(steps):
        raise ParameterError(f"{len(specs)} specs for {len(steps)} kernels")
    source_name = str(source) if isinstance(source, Path) else STDIN_NAME
    destination_name = str(destination) if isinstance(destination, Path) else STDOUT_NAME
    fmt = choose_format(destination_name, options.output_format)
    if fmt.pillow is None:
        raise ParameterError(
            f"a sheet is a picture, which {fmt.name} does not hold; write png (or another image"
            " format), or the float result of one kernel with apply"
        )
    check_format_holds(fmt, "L")
    if isinstance(destination, Path):
        check_destination(destination)
        check_overwrite(source, destination, steps, force=options.force)
    with open_image(
        source, name=source_name, auto_orient=options.auto_orient, max_pixels=options.max_pixels
    ) as image:
        info = image.info
        if info.channels != 1 and info.format == "NPY":
            raise ImageReadError(
                f"{source_name!r} holds {info.channels} channels; a sheet shows one gray"
                " channel (apply filters each)"
            )
        for step in steps:
            try:
                check_chain_fits(chain_arithmetic(info.size, [step.shape], params), [step.name])
            except ShapeError as error:
                raise ShapeError(f"{step.name}: {error}", error.details) from None
            check_method([step], options.compute.method, dtype=info.computed_in)
            applied_alpha(options.alpha, [step])  # weighted refuses an edge kernel here, early
        plan = _SheetPlan.make(info.size, steps, params, columns, tile_size, options.max_pixels)
        decoded = image.decode_rows(color=False, gray=options.gray, keep_alpha=options.keep_alpha)
        input_shape = decoded.info.size
        if input_shape != info.size:  # turned by an orientation told after the pixels
            plan = _SheetPlan.make(
                input_shape, steps, params, columns, tile_size, options.max_pixels
            )
        pixels = blank_sheet(plan.layout, plan.labels)
        # The input needs no other method than the identity's direct sum, which is exact.
        shown = replace(
            options, range_mode="auto", compute=replace(options.compute, method="direct")
        )
        runs = [(INPUT_KERNEL, ConvParams(), shown), *((step, params, options) for step in steps)]
        mappings: list[tuple[RangeMode, tuple[float, float], int]] = []
        # Each response has its planned shape: the plan and the core do the same arithmetic.
        for (step, step_params, step_options), box in zip(runs, plan.layout.tiles, strict=True):
            response = gray_pixels(decoded, [step], step_params, step_options)
            tile = response.result.values
            if plan.shrunk:
                tile = shrink_tile(tile, (box[2], box[3]))
            _place(pixels, box, tile)
            result = response.result
            mappings.append((response.range_mode, result.value_range, result.clipped))
            del response, result, tile  # before the next response is made

    def write(stream: IO[bytes]) -> None:
        level = options.png_compression
        encode_into(stream, pixels, None, "L", fmt, png_compression=level)

    write_output(destination, write)
    names: list[str | None] = [None, *(specs or [step.name for step in steps])]
    layout = plan.layout
    return SheetReport(
        input=source_name,
        output=destination_name,
        input_shape=input_shape,
        size=layout.size,
        columns=layout.columns,
        rows=layout.rows,
        format=fmt.name,
        shrunk=plan.shrunk,
        tiles=tuple(
            TileReport(label, name, shape, box, *mapping)
            for label, name, shape, box, mapping in zip(
                plan.labels, names, plan.shapes, layout.tiles, mappings, strict=True
            )
        ),
    )


@dataclass(frozen=True)
class _SheetPlan:
    """A sheet laid out before any response is made: the arithmetic gives every size."""

    shapes: tuple[Pair, ...]
    """Each tile's full size, the input's first: the responses' as ``apply`` writes them."""
    labels: tuple[str, ...]
    shrunk: bool
    layout: SheetLayout

    @classmethod
    def make(
        cls,
        input_shape: Pair,
        steps: Sequence[Step],
        params: ConvParams,
        columns: int | None,
        tile_size: int | None,
        max_pixels: int | None,
    ) -> _SheetPlan:
        """The plan for an input of `input_shape`.

        Raises
        ------
        ImageWriteError
            If the sheet would have more pixels than `max_pixels` (None: no limit).
        """
        shapes = [input_shape]
        for step in steps:
            axes = chain_arithmetic(input_shape, [step.shape], params)[-1]
            shapes.append((axes[0].output, axes[1].output))
        names = ["input", *(step.name for step in steps)]
        labels = tuple(tile_label(name, shape) for name, shape in zip(names, shapes, strict=True))
        widths = [label_width(label) for label in labels]
        height = label_height()

        def plan(longest: int | None) -> _SheetPlan:
            factor = None if longest is None else shrink_factor(shapes, longest)
            tiles = shapes if factor is None else [shrunk_size(s, factor) for s in shapes]
            layout = grid_layout(tiles, widths, label_height=height, columns=columns)
            return cls(tuple(shapes), labels, factor is not None, layout)

        planned = plan(tile_size)
        if max_pixels is None or _pixels(planned) <= max_pixels:
            return planned
        # The sheet grows with the tile size: the largest that fits, by bisection.
        low, high = 0, min(tile_size or max(max(s) for s in shapes), max(max(s) for s in shapes))
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if _pixels(plan(middle)) <= max_pixels else (low, middle)
        size = planned.layout.size
        advice = (
            f"shrink the tiles with --tile-size {low} (or less)"
            if low
            else "even tiles of 1 pixel are too many: give fewer kernels"
        )
        raise ImageWriteError(
            f"the sheet would be {format_size(size)} = {size[0] * size[1]} pixels, over the"
            f" limit of {max_pixels} (--max-pixels) past which convcli refuses to read an"
            f" image: {advice}, or raise --max-pixels"
        )


def _pixels(plan: _SheetPlan) -> int:
    return plan.layout.size[0] * plan.layout.size[1]
