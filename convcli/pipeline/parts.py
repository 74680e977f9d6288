"""One image larger than memory through a chain: read, filtered and written a band of rows at
a time (what ``apply`` runs on a TIFF or ``.npy`` input).

Every step of the chain, and every plane (colour, alpha) is a
:class:`~convcli.core.padding.RowSource` over the one it comes from
(:mod:`convcli.core.rows`), so that writing the output's rows in order computes what they
need, and nothing is ever held whole: memory is a few bands of each step, whatever the size
of the image. The values are the whole-image path's, bit for bit (the same arithmetic, in
the same order, on the same strips).

``--range rescale`` needs the minimum and maximum of the whole result before the first pixel
is written: the chain then runs twice, once to find them and once to write.
"""

from __future__ import annotations

import contextvars
import math
import shutil
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from convcli.choices import WrittenDepth
from convcli.core.convolution import FloatArray, centre_params, centre_tap
from convcli.core.methods import Compute
from convcli.core.padding import RowSource
from convcli.core.params import ConvParams
from convcli.core.rows import CachedRows, ComputedRows, MappedRows
from convcli.core.shape import Axes
from convcli.errors import ImageWriteError
from convcli.imageio.npy import write_npy
from convcli.imageio.png import ROW_MODES, write_png
from convcli.imageio.reading import RowsInParts
from convcli.kernels.kernel import Kernel, Operator, Step
from convcli.pipeline.alpha import (
    AppliedAlpha,
    alpha_params,
    covered_from,
    divided,
    premultiply,
    transparency_params,
    weighted_kernels,
)
from convcli.pipeline.chain import chain_arithmetic, scaled_in_place
from convcli.pipeline.rangemap import PixelMapping, check_writable, held_alpha, map_into

Progress = Callable[[int, int], None]
"""Called with (rows written, rows in all) as the output is written."""

WRITTEN_IN_PARTS = frozenset({"tiff", "npy", "png"})
"""The output formats written a band at a time; the others are encoded whole."""


@dataclass(frozen=True)
class PartsResult:
    """What a run in parts did: as :class:`~convcli.pipeline.apply.Filtered`, less the
    values, which are in the file."""

    value_range: tuple[float, float]
    clipped: int
    steps: tuple[Axes, ...]


def chain_rows(
    values: RowSource, steps: Sequence[Step], params: ConvParams, compute: Compute
) -> RowSource:
    """The rows of `steps` over `values`, computed when read: as
    :func:`~convcli.pipeline.chain.apply_chain`'s result, bit for bit."""
    for step in steps:
        if isinstance(step, Operator):
            gx = ComputedRows(values, step.x.weights, params, compute=compute)
            gy = ComputedRows(values, step.y.weights, params, compute=compute)
            values = MappedRows(_magnitude(step.scale, step.bias), gx, gy)
        else:
            response = ComputedRows(values, step.weights, params, compute=compute)
            scale_bias = _scale_bias(step.scale, step.bias)
            values = response if scale_bias is None else MappedRows(scale_bias, response)
    return values


def _magnitude(scale: float, bias: float) -> Callable[..., FloatArray]:
    def magnitude(gx: FloatArray, gy: FloatArray) -> FloatArray:
        return scaled_in_place(np.hypot(gx, gy), scale, bias)

    return magnitude


def _scale_bias(scale: float, bias: float) -> Callable[..., FloatArray] | None:
    if scale == 1 and bias == 0:
        return None

    def scale_bias(rows: FloatArray) -> FloatArray:
        return scaled_in_place(rows.copy(), scale, bias)

    return scale_bias


def alpha_rows(
    parts: RowsInParts,
    steps: Sequence[Step],
    params: ConvParams,
    rule: AppliedAlpha,
    compute: Compute,
) -> tuple[RowSource, RowSource]:
    """(colour, alpha) rows of `steps` over `parts` by the alpha `rule`, as
    :func:`~convcli.pipeline.alpha.weighted_chain` and
    :func:`~convcli.pipeline.alpha.filtered_alpha` compute them."""
    alpha = parts.alpha
    if alpha is None:
        raise ValueError("alpha_rows needs an image with alpha")
    opaque = parts.info.max_value or 1.0
    if rule == "weighted":
        return _weighted_rows(parts.values, alpha, steps, params, opaque, compute)
    colour = chain_rows(parts.values, steps, params, compute)
    geometry = alpha_params(params, opaque)
    if rule == "channel":
        return colour, chain_rows(alpha, steps, geometry, compute)
    centre_geometry, centre_compute = centre_params(geometry)
    for step in steps:
        alpha = ComputedRows(alpha, centre_tap(step.shape), centre_geometry, compute=centre_compute)
    return colour, alpha


def _weighted_rows(
    colour: RowSource,
    covered: RowSource,
    steps: Sequence[Step],
    params: ConvParams,
    opaque: float,
    compute: Compute,
) -> tuple[RowSource, RowSource]:
    full = colour.dtype.type(opaque)
    clear = transparency_params(params, opaque)

    def weighted(values: FloatArray, alpha: FloatArray) -> FloatArray:
        values = values.copy()
        premultiply(values, alpha, full)
        return values

    def transparency(alpha: FloatArray) -> FloatArray:
        clear: FloatArray = np.subtract(full, alpha)
        return clear

    for kernel in weighted_kernels(steps):
        summed = ComputedRows(
            MappedRows(weighted, colour, covered), kernel.weights, params, compute=compute
        )
        clear_rows = ComputedRows(
            MappedRows(transparency, covered), kernel.weights, clear, compute=compute
        )
        covered = MappedRows(_covered(kernel, full), clear_rows)
        colour = MappedRows(_divided(kernel, full), summed, covered)

    def clipped(alpha: FloatArray) -> FloatArray:
        return np.clip(alpha, 0, full)

    return colour, MappedRows(clipped, covered)


def _covered(kernel: Kernel, full: np.floating[Any]) -> Callable[..., FloatArray]:
    def covered(transparency: FloatArray) -> FloatArray:
        return covered_from(transparency.copy(), kernel, full)

    return covered


def _divided(kernel: Kernel, full: np.floating[Any]) -> Callable[..., FloatArray]:
    def colour(summed: FloatArray, covered: FloatArray) -> FloatArray:
        return divided(summed.copy(), covered, kernel, full)

    return colour


@dataclass(frozen=True)
class Output:
    """What the run in parts writes: the format, the Pillow mode (or ``npy``), the mapping
    of values to the output's, and whether alpha is written as a last channel."""

    format: str
    mode: str
    mapping: PixelMapping
    alpha_rule: AppliedAlpha | None
    channels: int
    png_compression: int


def run_in_parts(
    parts: RowsInParts,
    steps: Sequence[Step],
    params: ConvParams,
    output: Output,
    write: Callable[[Callable[[IO[bytes]], None]], None],
    encode_whole: Callable[[IO[bytes], npt.NDArray[Any], npt.NDArray[Any] | None], None],
    *,
    compute: Compute = Compute(),
    progress: Progress | None = None,
    destination: Path | None = None,
) -> PartsResult:
    """Filter `parts` by `steps` and write the output a band of rows at a time.

    `write` is given the function that writes the file into a stream (the pipeline's atomic
    write); a format not written in parts is assembled whole and given to `encode_whole`.
    A TIFF or ``.npy`` `destination` is first checked to fit on its disk. `progress` counts
    the rows of every pass: twice the output's height for ``rescale``.

    Raises
    ------
    ImageWriteError
        If the result overflows to infinity or NaN, or the output cannot fit on its disk
        (nothing is written).
    ImageReadError
        If the input cannot be decoded.
    """
    axes = tuple(chain_arithmetic(parts.info.size, [step.shape for step in steps], params))
    height, width = axes[-1][0].output, axes[-1][1].output

    def planes() -> tuple[RowSource, RowSource | None]:
        if output.alpha_rule is not None and parts.alpha is not None:
            return alpha_rows(parts, steps, params, output.alpha_rule, compute)
        return chain_rows(parts.values, steps, params, compute), None

    colour, alpha = planes()
    samples = output.channels + int(alpha is not None)
    shape = (height, width) if samples == 1 else (height, width, samples)
    dtype = output.mapping.held_dtype(colour.dtype)
    if destination is not None and output.format in ("tiff", "npy"):
        check_space(destination, shape, dtype)
    passes = 2 if output.mapping.range_mode == "rescale" else 1
    seen = _Seen(parts.info.name, output.mapping.depth)
    if passes == 2:  # the range of the whole result, before any pixel is written
        seen.range_of(planes()[0], height, _counted(progress, 0, 2 * height))
    blocks = _blocks(colour, alpha, output, seen, _counted(progress, passes - 1, passes * height))

    def write_file(stream: IO[bytes]) -> None:
        if output.format == "tiff":
            from convcli.imageio.tiff import write_tiff  # tifffile, only when it writes

            write_tiff(stream, shape, dtype, blocks, alpha=alpha is not None)
        elif output.format == "npy":
            write_npy(stream, shape, dtype, blocks)
        elif output.format == "png" and output.mode in ROW_MODES:
            level = output.png_compression
            write_png(stream, height, width, output.mode, blocks, level=level)
        else:
            whole = np.concatenate(list(blocks))
            colour_planes = whole if alpha is None else whole[..., :-1]
            if colour_planes.ndim == 3 and colour_planes.shape[2] == 1:
                colour_planes = colour_planes[..., 0]
            encode_whole(stream, colour_planes, None if alpha is None else whole[..., -1])

    write(write_file)
    return PartsResult((seen.low, seen.high), seen.clipped, axes)


class _Seen:
    """The minimum and maximum of the result seen so far, and the values clamped."""

    def __init__(self, name: str, depth: WrittenDepth) -> None:
        self.name, self.depth = name, depth
        self.low, self.high, self.clipped = math.inf, -math.inf, 0
        self.value_range: tuple[float, float] | None = None
        """``rescale``'s range, once the first pass has found it."""

    def add(self, values: FloatArray) -> None:
        """Take in a block of the result; refuse what the output cannot hold, as the whole
        path does, on the part seen so far."""
        self.low = min(self.low, float(values.min()))
        self.high = max(self.high, float(values.max()))
        check_writable(self.low, self.high, self.name, self.depth)

    def range_of(self, rows: RowSource, height: int, progress: Progress | None) -> None:
        """The first pass of ``rescale``: the range of all the rows."""
        step = _block_rows(rows)
        for start in range(0, height, step):
            stop = min(start + step, height)
            self.add(rows.rows(start, stop))
            if progress is not None:
                progress(stop, height)
        self.value_range = (self.low, self.high)


def _blocks(
    colour: RowSource,
    alpha: RowSource | None,
    output: Output,
    seen: _Seen,
    progress: Progress | None,
) -> Iterator[npt.NDArray[Any]]:
    """The output's rows as it holds them, a block at a time, in order: colour then alpha.

    The next block is made on a thread of its own while the writer takes this one: reading,
    computing and writing overlap (all three release the GIL).
    """
    height = colour.shape[0]
    step = _block_rows(colour)

    def made(start: int) -> npt.NDArray[Any]:
        stop = min(start + step, height)
        values = colour.rows(start, stop)
        seen.add(values)
        block = _held(values, output, seen)
        if alpha is not None:
            alpha_block = held_alpha(alpha.rows(start, stop), output.mapping)
            block = np.dstack([block, alpha_block.astype(block.dtype)])
        return block

    starts = range(0, height, step)
    with ThreadPoolExecutor(max_workers=1) as ahead:
        # In a copy of the caller's context: NumPy's errstate holds there too.
        coming = ahead.submit(contextvars.copy_context().run, made, starts[0])
        for index, start in enumerate(starts):
            block = coming.result()
            if index + 1 < len(starts):
                coming = ahead.submit(contextvars.copy_context().run, made, starts[index + 1])
            yield block
            if progress is not None:
                progress(min(start + step, height), height)


def _counted(progress: Progress | None, before: int, total: int) -> Progress | None:
    """`progress` told rows of one pass as rows of all of them: after `before` passes of as
    many rows, out of `total`."""
    if progress is None:
        return None
    reporting = progress

    def counted(done: int, rows: int) -> None:
        reporting(before * rows + done, total)

    return counted


def _block_rows(rows: RowSource) -> int:
    """Rows of the output made and written at a time: the last step's block."""
    return rows.block_rows if isinstance(rows, CachedRows) else 64


def _held(values: FloatArray, output: Output, seen: _Seen) -> npt.NDArray[Any]:
    """A block of the result as the output holds it (see the whole path's ``_mapped_whole``)."""
    mapping = output.mapping
    if values.ndim == 3 and output.channels == 1:
        values = values[..., 0]
    if mapping.range_mode is None:  # float and .npy output: the values as they are
        return values.astype(mapping.held_dtype(values.dtype), copy=False)
    pixels = np.empty(values.shape, mapping.held_dtype(values.dtype))
    seen.clipped += map_into(
        values.copy(),
        mapping.range_mode,
        pixels,
        max_value=mapping.full_scale,
        unit=mapping.unit,
        value_range=seen.value_range,
    )
    return pixels


def check_space(destination: Path, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
    """Refuse, before anything is computed, an output that cannot fit on its disk when written
    uncompressed (TIFF and ``.npy``).

    Raises
    ------
    ImageWriteError
        Naming the output, the space it needs and the space there is.
    """
    if destination.exists() and not destination.is_file():
        return  # a device or a pipe (/dev/null): nothing is stored
    needed = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    try:
        free = shutil.disk_usage(destination.resolve().parent).free
    except OSError:
        return  # the write itself will say what is wrong
    if needed > free:
        raise ImageWriteError(
            f"cannot write {str(destination)!r}: it needs {needed / 2**30:.1f} GiB and its disk"
            f" has {free / 2**30:.1f} GiB free"
        )
