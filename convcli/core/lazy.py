"""The core on Dask arrays: :func:`convcli.convolve2d` as a lazy Dask array, one NumPy call per
output block, for images larger than memory.

Imported only when :func:`convcli.convolve2d` is given a Dask array, so that convcli works
without Dask installed. How it goes, along each of the two axes (the channel axis keeps its
chunks, and channels are filtered independently):

1. Everything is checked before anything is computed, by the functions the NumPy path calls,
   so that a refused call raises the same error with the same message.
2. The output's chunks are planned from the input's (:func:`output_chunks`): with stride 1 and
   ``"same"`` padding they are the input's chunks; with stride s, about 1/s of them.
3. Output lines [a, b) read padded lines [a*s, (b-1)*s + span), span = d(k - 1) + 1. Each
   padded line shows one image line: its own, or the line that
   :func:`convcli.core.padding.sources` names for the pad mode, which may lie at the far side
   of the image (``circular``, ``reflect``, ``symmetric``), or, for ``zeros`` and
   ``constant``, none: the pad value. The padding is thus that of the whole image: a block's
   task takes the input chunks holding the lines it shows, wherever they are, and never pads
   its own chunk on its own.
4. Each task assembles its padded window from those chunks and computes it with
   :func:`convcli.core.convolution.apply_kernel` in "valid" geometry (no padding, the same
   stride, dilation and weights), by the method chosen once for the whole image, on one
   thread: Dask runs the blocks in parallel.

The tasks are plain functions of NumPy arrays and small frozen dataclasses, so the graph runs
on any Dask scheduler: threads, processes or a distributed cluster.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import dask.array as da
import numpy as np
import numpy.typing as npt
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
from dask.typing import Key

from convcli.core.convolution import (
    FloatArray,
    apply_kernel,
    check_image,
    computed_in,
    is_masked,
    weights_and_axes,
)
from convcli.core.methods import Compute, allocate_or_refuse, resolved_method
from convcli.core.padding import sources
from convcli.core.params import Border, ConvParams
from convcli.core.shape import AxisArithmetic
from convcli.errors import ParameterError

Lines: TypeAlias = npt.NDArray[np.intp]
"""Indices of rows or of columns."""


def apply_kernel_lazily(
    image: object, kernel: npt.ArrayLike, params: ConvParams, *, compute: Compute = Compute()
) -> da.Array:
    """:func:`convcli.core.convolution.apply_kernel` on a Dask array: a lazy Dask array.

    `image` is a Dask array, (H, W) or (H, W, C), in chunks of any known sizes. The result is
    (o_h, o_w) or (o_h, o_w, C) in chunks planned by :func:`output_chunks` (the channel axis
    keeps the image's chunks); its dtype is float32 for a float32 image, float64 otherwise.
    ``compute.threads`` is not used: each block is computed on one thread.

    Raises
    ------
    ParameterError, KernelError, ShapeError
        As the NumPy path does, before anything is computed; and :class:`ParameterError` if
        `image` is not a Dask array, is masked, or has chunks of unknown size.

    Examples
    --------
    Circular padding wraps around the whole image, not around each 2x2 chunk:

    >>> import dask.array as da
    >>> from convcli.core.convolution import convolve2d
    >>> image = np.arange(36.0).reshape(6, 6)
    >>> params = ConvParams(padding="same", pad_mode="circular")
    >>> lazy = apply_kernel_lazily(da.from_array(image, chunks=2), np.ones((3, 3)), params)
    >>> lazy.chunks
    ((2, 2, 2), (2, 2, 2))
    >>> expected = convolve2d(image, np.ones((3, 3)), padding="same", pad_mode="circular")
    >>> bool((lazy.compute() == expected).all())
    True
    """
    image = _checked_dask_image(image)
    dtype = np.dtype(computed_in(image.dtype))
    weights, axes = weights_and_axes(image.shape, dtype, kernel, params)
    # Chosen once for the whole image, as the NumPy path chooses it: the same arithmetic.
    method = resolved_method(weights, axes, compute.method)
    plan = _BlockPlan(
        weights=weights,
        geometry=ConvParams(stride=params.stride, dilation=params.dilation),
        compute=Compute(method=method, threads=1),
        dtype=dtype,
        fill=params.pad_value,
    )
    rows, columns = axes
    row_chunks = output_chunks(rows, image.chunks[0])
    column_chunks = output_chunks(columns, image.chunks[1])
    # The largest window a task assembles must be one NumPy can allocate, as the NumPy path's
    # padded strips must: refused here, not in a worker.
    largest = (
        _window_length(rows, max(row_chunks)),
        _window_length(columns, max(column_chunks)),
        *(max(sizes) for sizes in image.chunks[2:]),
    )
    allocate_or_refuse(axes, lambda: np.empty(largest, dtype))
    row_windows = _windows(rows, image.chunks[0], row_chunks, params.border)
    column_windows = _windows(columns, image.chunks[1], column_chunks, params.border)
    return _assemble(image, params, plan, row_windows, column_windows)


def output_chunks(axis: AxisArithmetic, input_chunks: Sequence[int]) -> tuple[int, ...]:
    """The output's chunks along `axis`, planned from the input's.

    Output line i goes with the input chunk that holds the image line under the middle of its
    window, padded line i*s + (span - 1) // 2; lines whose middle falls in the padding go with
    the first or the last chunk. Chunks left empty (a stride longer than an input chunk) are
    dropped, so every output chunk has at least one line.

    >>> from convcli.core.shape import arithmetic
    >>> def rows(**options: Any) -> AxisArithmetic:
    ...     return arithmetic((12, 12), (3, 3), ConvParams(**options))[0]
    >>> output_chunks(rows(padding="same"), (4, 4, 4))
    (4, 4, 4)
    >>> output_chunks(rows(), (4, 4, 4))  # 10 outputs, the edges of the image are lost
    (3, 4, 3)
    >>> output_chunks(rows(stride=(2, 2), padding=(1, 1)), (4, 4, 4))
    (2, 2, 2)
    >>> output_chunks(rows(stride=(5, 5), padding=(1, 1)), (1, 1, 1, 9))
    (1, 2)
    """
    middle = (axis.span - 1) // 2 - axis.pad_before  # the image line under output 0's middle
    cuts = (
        min(max(_ceil_div(boundary - middle, axis.stride), 0), axis.output)
        for boundary in itertools.accumulate(input_chunks[:-1])
    )
    edges = [0, *cuts, axis.output]
    return tuple(stop - start for start, stop in itertools.pairwise(edges) if stop > start)


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def _checked_dask_image(image: object) -> da.Array:
    """`image`, if :func:`apply_kernel_lazily` can take it; refused as the NumPy path would
    refuse it otherwise."""
    if not isinstance(image, da.Array):
        kind = type(image)
        raise ParameterError(f"image is a {kind.__module__}.{kind.__qualname__}, not a Dask array")
    if any(math.isnan(size) for sizes in image.chunks for size in sizes):
        raise ParameterError(
            "image has chunks of unknown size: call image.compute_chunk_sizes() first"
        )
    if is_masked(image._meta):
        raise ParameterError("image is a masked array: fill it first, e.g. da.ma.filled(image, 0)")
    check_image(image.shape, image.dtype)
    return image


# --- The plan: where each block's padded window comes from ---------------------------------


@dataclass(frozen=True, eq=False)
class _Piece:
    """Lines of one input chunk that a window shows: window line ``into[k]`` is line
    ``take[k]`` of input chunk `chunk` (counted along the axis)."""

    chunk: int
    into: Lines
    take: Lines


@dataclass(frozen=True, eq=False)
class _Window:
    """The padded lines that one chunk of output lines reads, along one axis: `length` lines,
    filled from `pieces`; lines in none of them hold the pad value."""

    outputs: int
    length: int
    pieces: tuple[_Piece, ...]


def _window_length(axis: AxisArithmetic, outputs: int) -> int:
    """Padded lines that `outputs` consecutive output lines read along `axis`."""
    return (outputs - 1) * axis.stride + axis.span


def _windows(
    axis: AxisArithmetic,
    input_chunks: tuple[int, ...],
    planned: tuple[int, ...],
    border: Border,
) -> list[_Window]:
    """The window of each chunk of output lines along `axis`, in order, for the output chunks
    `planned`."""
    starts = np.cumsum((0, *input_chunks))
    windows = []
    first_output = 0
    for outputs in planned:
        first = first_output * axis.stride - axis.pad_before  # as an image line
        lines = np.arange(first, first + _window_length(axis, outputs))
        if border.constant:
            shown = np.flatnonzero((lines >= 0) & (lines < axis.size))
            image_lines = lines[shown]
        else:
            shown = np.arange(len(lines))
            image_lines = sources(lines, axis.size, border.mode)
        chunk_of = np.searchsorted(starts, image_lines, side="right") - 1
        pieces = tuple(
            _Piece(
                chunk=int(chunk),
                into=shown[chunk_of == chunk],
                take=image_lines[chunk_of == chunk] - starts[chunk],
            )
            for chunk in np.unique(chunk_of)
        )
        windows.append(_Window(outputs=outputs, length=len(lines), pieces=pieces))
        first_output += outputs
    return windows


# --- The blocks ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _BlockPlan:
    """What every block computes with, the same for all."""

    weights: FloatArray
    """As computed: flipped if asked, in `dtype`."""
    geometry: ConvParams
    """The stride and dilation, no padding, no flip."""
    compute: Compute
    """The method chosen for the whole image, one thread."""
    dtype: np.dtype[Any]
    """float32 or float64: what the window holds and the block is computed in."""
    fill: float
    """The pad value: what the padding holds where it shows no image line (``zeros`` and
    ``constant``)."""


def _convolve_block(
    chunks: list[list[npt.NDArray[Any]]],
    rows: _Window,
    columns: _Window,
    channels: tuple[int, ...],
    plan: _BlockPlan,
) -> FloatArray:
    """One output block, from the input chunks its window shows: ``chunks[p][q]`` holds the
    lines of ``rows.pieces[p]`` and ``columns.pieces[q]``; `channels` is () or (c,)."""
    window = np.full((rows.length, columns.length, *channels), plan.fill, dtype=plan.dtype)
    for row_piece, chunks_along in zip(rows.pieces, chunks, strict=True):
        for column_piece, chunk in zip(columns.pieces, chunks_along, strict=True):
            window[np.ix_(row_piece.into, column_piece.into)] = chunk[
                np.ix_(row_piece.take, column_piece.take)
            ]
    return apply_kernel(window, plan.weights, plan.geometry, compute=plan.compute)


def _assemble(
    image: da.Array,
    params: ConvParams,
    plan: _BlockPlan,
    row_windows: list[_Window],
    column_windows: list[_Window],
) -> da.Array:
    """The output as a Dask array whose every block is one task of :func:`_convolve_block`.

    The graph is built as Dask's documentation of its arrays describes ("Internal Design"):
    block (i, j[, k]) of an array is the key ``(name, i, j[, k])``, and a task is a tuple of
    a function and its arguments, in which the keys of the input's chunks (lists of them
    included) are replaced by the chunks.
    """
    name = "convolve2d-" + tokenize(image.name, params, plan)
    channel_chunks = [(k,) for k in range(image.numblocks[2])] if image.ndim == 3 else [()]
    layer: dict[Key, tuple[Any, ...]] = {}
    for i, rows in enumerate(row_windows):
        for j, columns in enumerate(column_windows):
            for k in channel_chunks:
                channels = tuple(image.chunks[2][index] for index in k)  # () or (c,)
                chunks = [
                    [(image.name, row.chunk, column.chunk, *k) for column in columns.pieces]
                    for row in rows.pieces
                ]
                layer[(name, i, j, *k)] = (_convolve_block, chunks, rows, columns, channels, plan)
    # Dask's Array does not match its own DaskCollection protocol for type checkers.
    graph = HighLevelGraph.from_collections(name, layer, dependencies=[image])  # type: ignore[list-item]
    planned = (
        tuple(rows.outputs for rows in row_windows),
        tuple(columns.outputs for columns in column_windows),
        *image.chunks[2:],
    )
    meta = np.empty((0,) * image.ndim, dtype=plan.dtype)
    return da.Array(graph, name, planned, meta=meta)
