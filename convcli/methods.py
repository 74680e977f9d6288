"""How the core computes a convolution: three methods with one result, and the choice between them.

``direct``     For each distinct kernel weight, the taps that carry it are summed as strided views
               of the padded input, then scaled once: a 3x3 edge kernel of 1s and -1s costs five
               array additions, no multiplication. Stride reads only the windows it keeps and
               dilation only moves the views: no zero-filled kernel.
``separable``  A kernel of rank 1 is a column times a row (Sobel is [1 2 1]^T [1 0 -1]): a pass
               down the columns, then one along the rows, kh + kw taps instead of kh * kw.
``fft``        Overlap-save over tiles of the padded input with ``numpy.fft``: the cost per
               pixel barely grows with the kernel, so it wins for large dense kernels.

Every method works through the output in strips of rows small enough to stay in the processor's
cache, each strip padded on the fly from the input (no padded copy of the whole image), and the
strips are shared among threads: NumPy releases the GIL while it loops over an array. The
results agree within floating-point rounding; only the order of the additions differs.

:func:`choose_method` picks the cheapest by a cost model of array passes per output pixel,
measured on a 2-core x86-64 machine (``make bench`` shows the figures).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeAlias, get_args

import numpy as np
import numpy.typing as npt

from convcli.errors import ParameterError, ShapeError
from convcli.padding import PadWidths, fill_padded_rows
from convcli.params import PadMode, format_pair, format_size, to_choice
from convcli.shape import Axes, AxisArithmetic

Method: TypeAlias = Literal["auto", "direct", "separable", "fft"]
METHODS: tuple[Method, ...] = get_args(Method)

Array: TypeAlias = npt.NDArray[Any]

# Relative to the largest singular value: how small the second must be for rank 1.
_RANK_ONE_TOLERANCE = 1e-6
# Bytes of input rows per strip: about half of a core's level-2 cache.
_STRIP_BYTES = 256 * 1024
# Below this many multiply-adds a call runs on one thread: starting threads costs more.
_THREADING_WORK = 2_000_000
# What one output pixel costs the FFT method, in units of one array pass of the direct
# method, for each power of 2 in the tile's area (measured: a 512x512 tile ~ 80 passes).
_FFT_PASSES_PER_LOG2 = 4.5
_FFT_TILE = 512


def default_threads() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def separable_factors(weights: npt.NDArray[np.floating[Any]]) -> tuple[Array, Array] | None:
    """(column, row) with ``np.outer(column, row) == weights``, or None if the rank is over 1.

    The rank is judged by SVD with a relative tolerance; the factors are then read off the
    kernel itself (the column through its largest weight, the row divided by that weight), so
    an integer kernel gets integer-valued factors and reproduces exactly.

    >>> column, row = separable_factors(np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]]))
    >>> column.tolist(), row.tolist()
    ([1.0, 2.0, 1.0], [1.0, 0.0, -1.0])
    >>> separable_factors(np.array([[0.0, 1.0], [1.0, 0.0]])) is None
    True
    """
    if weights.shape[1] == 1:  # a column already
        return weights[:, 0].copy(), np.ones(1, dtype=weights.dtype)
    if weights.shape[0] == 1:  # a row already
        return np.ones(1, dtype=weights.dtype), weights[0].copy()
    singular = np.linalg.svd(weights.astype(np.float64), compute_uv=False)
    if singular[0] == 0:  # all zeros: rank 0
        return np.zeros(weights.shape[0], weights.dtype), np.ones(weights.shape[1], weights.dtype)
    if singular[1] > _RANK_ONE_TOLERANCE * singular[0]:
        return None
    row_index, column_index = np.unravel_index(np.argmax(np.abs(weights)), weights.shape)
    column = weights[:, column_index].copy()
    row = weights[row_index, :] / weights[row_index, column_index]
    scale = float(np.abs(weights).max())
    if np.abs(np.outer(column, row) - weights).max() > _RANK_ONE_TOLERANCE * scale:
        return None
    return column, row


def choose_method(
    image_shape: Sequence[int], weights: npt.NDArray[np.floating[Any]], axes: Axes
) -> Method:
    """The method expected to be fastest for this image, kernel and geometry (never ``auto``).

    >>> from convcli.params import ConvParams
    >>> from convcli.shape import arithmetic
    >>> sobel = np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]])
    >>> choose_method((512, 512), sobel, arithmetic((512, 512), (3, 3), ConvParams()))
    'separable'
    >>> dense = np.random.default_rng(0).standard_normal((31, 31))
    >>> choose_method((512, 512), dense, arithmetic((512, 512), (31, 31), ConvParams()))
    'fft'
    """
    costs = _costs(weights, axes)
    return min(costs, key=lambda method: costs[method])


def _passes(weights: Array) -> int:
    """Array passes :func:`_weighted_sum` makes for these weights (any shape).

    >>> _passes(np.array([1.0, 0.0, -1.0] * 3)), _passes(np.arange(1.0, 10.0))
    (5, 17)
    """
    passes = 0
    for index, (weight, taps) in enumerate(_weight_groups(weights.reshape(-1, 1))):
        plus_minus_one = bool(weight == 1 or weight == -1)
        scaled = int(not plus_minus_one or (index == 0 and weight != 1))
        if index == 0:
            passes += max(1, len(taps) - 1 + scaled)
        elif len(taps) == 1:
            passes += 1 + int(not plus_minus_one)
        else:
            passes += len(taps) - 1 + scaled + 1
    return passes


def _costs(weights: npt.NDArray[np.floating[Any]], axes: Axes) -> dict[Method, float]:
    """Array passes over the output each method needs, in units of one direct pass."""
    rows, cols = axes
    outputs = rows.output * cols.output
    costs: dict[Method, float] = {"direct": _passes(weights.ravel()) * outputs}
    factors = separable_factors(weights)
    if factors is not None:
        column, row = factors
        # The column pass runs over every padded column; the row pass over the outputs.
        costs["separable"] = (
            _passes(column) * rows.output * cols.padded + _passes(row) * outputs + outputs
        )
    tile = _fft_tile(axes)
    tile_area = tile[0] * tile[1]
    useful = _fft_valid(rows, tile[0]) * _fft_valid(cols, tile[1])
    # The FFT computes every window, kept by the stride or not, and tiles overlap by a span.
    passes = _FFT_PASSES_PER_LOG2 * float(np.log2(tile_area)) * tile_area / useful
    costs["fft"] = passes * rows.padded * cols.padded
    return costs


def run(
    pixels: Array,
    weights: Array,
    axes: Axes,
    pad_mode: PadMode,
    *,
    method: str = "auto",
    threads: int | None = None,
) -> Array:
    """Correlate `pixels` with `weights` (as given: flip beforehand) by `method`.

    `pixels` is (H, W) or (H, W, C) of float32 or float64 and `weights` has the same dtype;
    `axes` is their checked shape arithmetic. `threads` caps the threads (None: every core).
    The result has the dtype of `pixels` and the shape the axes predict.

    Raises
    ------
    ParameterError
        If `method` is unknown, ``separable`` is asked of a kernel whose rank is not 1, or
        `threads` is below 1.
    """
    chosen = to_choice(method, METHODS, "method")
    if threads is not None and threads < 1:
        raise ParameterError(f"threads must be at least 1, got {threads}")
    if chosen == "auto":
        chosen = choose_method(pixels.shape, weights, axes)
    rows, cols = axes
    factors = separable_factors(weights) if chosen == "separable" else None
    if chosen == "separable" and factors is None:
        raise ParameterError(
            f"method separable needs a kernel of rank 1 (a column times a row);"
            f" this {weights.shape[0]}x{weights.shape[1]} kernel is not"
        )
    strip: _StripWorker
    try:
        out = np.empty((rows.output, cols.output, *pixels.shape[2:]), dtype=pixels.dtype)
        if factors is not None:
            strip = _SeparableStrip(pixels, axes, pad_mode, out, factors)
        elif chosen == "fft":
            strip = _FFTStrip(pixels, weights, axes, pad_mode, out)
        else:
            strip = _DirectStrip(pixels, weights, axes, pad_mode, out)
        strip.scratch()  # allocates what each thread will: fail here, not in a thread
    except (MemoryError, ValueError):  # NumPy says "array is too big" for absurd sizes
        raise ShapeError(
            f"not enough memory for the padded input {format_size((rows.padded, cols.padded))}"
            f" (image {format_size((rows.size, cols.size))}"
            f" with padding {format_pair((rows.pad_before, cols.pad_before))})"
        ) from None
    work = float(out.size) * weights.size
    _in_strips(rows.output, strip.rows_per_strip, strip, threads or default_threads(), work)
    return out


# --- Strips and threads ------------------------------------------------------------------------


class _StripWorker:
    """Computes output rows [start, stop) into the shared output; one per thread."""

    rows_per_strip: int

    def scratch(self) -> Any:
        """Buffers a thread reuses from strip to strip."""
        raise NotImplementedError

    def __call__(self, start: int, stop: int, scratch: Any) -> None:
        raise NotImplementedError


def _in_strips(
    total: int, rows_per_strip: int, strip: _StripWorker, threads: int, work: float
) -> None:
    """Run `strip` over output rows 0..`total` in strips, on up to `threads` threads.

    Each thread takes one contiguous run of strips, so it allocates its buffers once.
    """
    starts = list(range(0, total, rows_per_strip))
    workers = min(threads, len(starts)) if work >= _THREADING_WORK else 1

    def run_strips(chunk: Sequence[int]) -> None:
        scratch = strip.scratch()
        for start in chunk:
            strip(start, min(start + rows_per_strip, total), scratch)

    if workers == 1:
        run_strips(starts)
        return
    per_worker = -(-len(starts) // workers)
    chunks = [starts[i : i + per_worker] for i in range(0, len(starts), per_worker)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for finished in [pool.submit(run_strips, chunk) for chunk in chunks]:
            finished.result()  # re-raises a worker's error here


def _rows_per_strip(rows: AxisArithmetic, cols: AxisArithmetic, pixels: Array) -> int:
    """Output rows per strip so that the strip's padded input rows fill about _STRIP_BYTES."""
    row_bytes = cols.padded * pixels.itemsize * int(np.prod(pixels.shape[2:], dtype=int))
    # At least 8 output rows, or a tall kernel would pad its span of rows for each output row.
    input_rows = max(_STRIP_BYTES // max(1, row_bytes), rows.span + 7 * rows.stride)
    return (input_rows - rows.span) // rows.stride + 1


def _input_rows(rows: AxisArithmetic, start: int, stop: int) -> tuple[int, int]:
    """The padded input rows [first, first + count) that output rows [start, stop) read."""
    return start * rows.stride, (stop - start - 1) * rows.stride + rows.span


def padding_widths(axes: Axes) -> PadWidths:
    """((top, bottom), (left, right)) padding in pixels, as `axes` say."""
    rows, cols = axes
    return (rows.pad_before, rows.pad_after), (cols.pad_before, cols.pad_after)


# --- direct --------------------------------------------------------------------------------


def _weight_groups(weights: Array) -> list[tuple[Any, list[tuple[int, int]]]]:
    """The nonzero weights, each with the taps (a, b) that carry it; 1 first, then by count.

    Zero weights are skipped: a NaN or infinity under a zero weight does not spread.
    """
    taps: dict[Any, list[tuple[int, int]]] = {}
    for (a, b), weight in np.ndenumerate(weights):
        if weight != 0:
            taps.setdefault(weight, []).append((a, b))
    return sorted(taps.items(), key=lambda item: (item[0] != 1, -len(item[1])))


def _weighted_sum(
    groups: Sequence[tuple[Any, Sequence[Array]]], out: Array, scratch: Array
) -> None:
    """out = sum of weight * (sum of views) over `groups`, one multiplication per weight.

    Weights of 1 and -1 need no multiplication; `scratch` has `out`'s shape.
    """
    if not groups:
        out[...] = 0
        return
    for index, (weight, views) in enumerate(groups):
        target = out if index == 0 else scratch
        if index > 0 and len(views) == 1 and weight in (1, -1):
            (np.add if weight == 1 else np.subtract)(out, views[0], out=out)
            continue
        if len(views) == 1:
            np.multiply(views[0], weight, out=target)
        else:
            np.add(views[0], views[1], out=target)
            for view in views[2:]:
                np.add(target, view, out=target)
            if weight != 1 and not (index > 0 and weight == -1):
                np.multiply(target, weight, out=target)
        if index > 0:
            (np.subtract if weight == -1 and len(views) > 1 else np.add)(out, target, out=out)


class _DirectStrip(_StripWorker):
    def __init__(
        self, pixels: Array, weights: Array, axes: Axes, mode: PadMode, out: Array
    ) -> None:
        self.pixels, self.axes, self.mode, self.out = pixels, axes, mode, out
        self.groups = _weight_groups(weights)
        self.rows_per_strip = _rows_per_strip(axes[0], axes[1], pixels)

    def scratch(self) -> tuple[Array, Array]:
        rows, cols = self.axes
        _, count = _input_rows(rows, 0, self.rows_per_strip)
        channels = self.pixels.shape[2:]
        padded = np.empty((count, cols.padded, *channels), self.pixels.dtype)
        product = np.empty((self.rows_per_strip, cols.output, *channels), self.pixels.dtype)
        return padded, product

    def __call__(self, start: int, stop: int, scratch: tuple[Array, Array]) -> None:
        rows, cols = self.axes
        first, count = _input_rows(rows, start, stop)
        padded = scratch[0][:count]
        fill_padded_rows(self.pixels, padding_widths(self.axes), self.mode, first, padded)
        n = stop - start
        groups = [
            (
                weight,
                [padded[_tap_slice(rows, a, n), _tap_slice(cols, b, cols.output)] for a, b in taps],
            )
            for weight, taps in self.groups
        ]
        _weighted_sum(groups, self.out[start:stop], scratch[1][:n])


def _tap_slice(axis: AxisArithmetic, tap: int, count: int) -> slice:
    """Where kernel tap `tap` reads for `count` consecutive outputs along `axis`.

    Output j reads padded position j*s + tap*d: a strided view, no copy, only kept windows.
    """
    start = tap * axis.dilation
    return slice(start, start + (count - 1) * axis.stride + 1, axis.stride)


# --- separable -----------------------------------------------------------------------------


def _line_groups(factor: Array) -> list[tuple[Any, list[int]]]:
    """The nonzero weights of a 1-D factor, each with its tap indices (as _weight_groups)."""
    return [(weight, [a for a, _ in taps]) for weight, taps in _weight_groups(factor[:, None])]


class _SeparableStrip(_StripWorker):
    def __init__(
        self,
        pixels: Array,
        axes: Axes,
        mode: PadMode,
        out: Array,
        factors: tuple[Array, Array],
    ) -> None:
        self.pixels, self.axes, self.mode, self.out = pixels, axes, mode, out
        dtype = pixels.dtype
        self.column = _line_groups(factors[0].astype(dtype))
        self.row = _line_groups(factors[1].astype(dtype))
        self.rows_per_strip = _rows_per_strip(axes[0], axes[1], pixels)

    def scratch(self) -> tuple[Array, Array, Array]:
        rows, cols = self.axes
        _, count = _input_rows(rows, 0, self.rows_per_strip)
        channels, dtype = self.pixels.shape[2:], self.pixels.dtype
        padded = np.empty((count, cols.padded, *channels), dtype)
        columns_done = np.empty((self.rows_per_strip, cols.padded, *channels), dtype)
        column_scratch = np.empty_like(columns_done)
        return padded, columns_done, column_scratch

    def __call__(self, start: int, stop: int, scratch: tuple[Array, Array, Array]) -> None:
        rows, cols = self.axes
        first, count = _input_rows(rows, start, stop)
        n = stop - start
        padded, columns_done, column_scratch = (
            scratch[0][:count],
            scratch[1][:n],
            scratch[2][:n],
        )
        fill_padded_rows(self.pixels, padding_widths(self.axes), self.mode, first, padded)
        down = [
            (weight, [padded[_tap_slice(rows, a, n)] for a in taps]) for weight, taps in self.column
        ]
        _weighted_sum(down, columns_done, column_scratch)
        along = [
            (weight, [columns_done[:, _tap_slice(cols, b, cols.output)] for b in taps])
            for weight, taps in self.row
        ]
        _weighted_sum(along, self.out[start:stop], column_scratch[:, : cols.output])


# --- fft -----------------------------------------------------------------------------------


def _fft_tile(axes: Axes) -> tuple[int, int]:
    """The FFT size (rows, columns) of one tile: about 4 spans, at least _FFT_TILE, at most
    the padded input."""
    return tuple(  # type: ignore[return-value]
        min(axis.padded, max(_FFT_TILE, 4 * axis.span)) for axis in axes
    )


def _fft_valid(axis: AxisArithmetic, tile: int) -> int:
    """Output positions one tile of size `tile` yields along `axis` (before striding)."""
    return tile - axis.span + 1


class _FFTStrip(_StripWorker):
    def __init__(
        self, pixels: Array, weights: Array, axes: Axes, mode: PadMode, out: Array
    ) -> None:
        self.pixels, self.axes, self.mode, self.out = pixels, axes, mode, out
        rows, cols = axes
        self.tile = _fft_tile(axes)
        # Outputs per tile, a whole number of strides.
        self.rows_per_strip = (self.tile[0] - rows.span) // rows.stride + 1
        self.cols_per_tile = (self.tile[1] - cols.span) // cols.stride + 1
        dilated = np.zeros((rows.span, cols.span), dtype=weights.dtype)
        dilated[:: rows.dilation, :: cols.dilation] = weights
        # Correlation is convolution with the kernel turned by 180 degrees.
        spectrum = np.fft.rfft2(dilated[::-1, ::-1], s=self.tile)
        self.spectrum = spectrum.reshape(spectrum.shape + (1,) * (pixels.ndim - 2))

    def scratch(self) -> tuple[Array, Array]:
        cols = self.axes[1]
        channels, dtype = self.pixels.shape[2:], self.pixels.dtype
        padded = np.empty((self.tile[0], cols.padded, *channels), dtype)
        block = np.empty((*self.tile, *channels), dtype)
        return padded, block

    def __call__(self, start: int, stop: int, scratch: tuple[Array, Array]) -> None:
        rows, cols = self.axes
        first, count = _input_rows(rows, start, stop)
        padded = scratch[0][:count]
        block = scratch[1]
        fill_padded_rows(self.pixels, padding_widths(self.axes), self.mode, first, padded)
        n = stop - start
        for left in range(0, cols.output, self.cols_per_tile):
            right = min(left + self.cols_per_tile, cols.output)
            in_left = left * cols.stride
            in_width = (right - left - 1) * cols.stride + cols.span
            block[...] = 0
            block[:count, :in_width] = padded[:, in_left : in_left + in_width]
            spectrum = np.fft.rfft2(block, axes=(0, 1)) * self.spectrum
            full = np.fft.irfft2(spectrum, s=self.tile, axes=(0, 1))
            # The tile's circular convolution is the linear correlation from index span - 1
            # on, which is where the kernel's last tap reads.
            self.out[start:stop, left:right] = full[
                _tap_slice(rows, rows.kernel - 1, n),
                _tap_slice(cols, cols.kernel - 1, right - left),
            ]
