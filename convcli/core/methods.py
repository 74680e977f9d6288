"""How the core computes a convolution: four methods with one result, and the choice between them.

``direct``     For each distinct kernel weight, the taps that carry it are summed as strided views
               of the padded input, then scaled once: a 3x3 edge kernel of 1s and -1s costs five
               array additions, no multiplication. Stride reads only the windows it keeps and
               dilation only moves the views: no zero-filled kernel.
``separable``  A kernel of rank 1 is a column times a row (Sobel is [1 2 1]^T [1 0 -1]): a pass
               down the columns, then one along the rows, kh + kw taps instead of kh * kw.
``gemm``       For each output row, one small matrix product through NumPy's BLAS gives the
               weighted sums down every kernel column at once (kw x kh weights times kh input
               rows, multiplied and added in one pass), and a second one adds the kw sums,
               each shifted by its column: about 4 passes per kernel column however dense the
               kernel, where the direct method makes about two per distinct weight.
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

import contextvars
import functools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from convcli.choices import METHODS as METHODS
from convcli.choices import Method as Method
from convcli.core.padding import PadWidths, RowSource, fill_padded_rows
from convcli.core.params import Border, ConvParams, format_pair, format_size, to_choice
from convcli.core.shape import Axes, AxisArithmetic, arithmetic, check_fits
from convcli.errors import ParameterError, ShapeError

Array: TypeAlias = npt.NDArray[Any]
Pixels: TypeAlias = Array | RowSource
"""An image: an array, or rows made on demand."""

# In units of the weights' rounding error (their dtype's eps) relative to the largest weight:
# how closely the factors must give the kernel back.
_FACTOR_ULPS = 8
# Bytes of input rows per strip: measured best on 4096x4096 float32 (256 KiB to 4 MiB tried).
_STRIP_BYTES = 1024 * 1024
# The same for a row source, which converts its strip with temporaries of its own: smaller
# strips keep the memory of a whole run near its input and output (the filter is then a
# small part of the run's time).
_SOURCE_STRIP_BYTES = 256 * 1024
# Scratch buffers a thread keeps between calls (sets, and bytes a set at most): new buffers
# cost their pages' first touch, which took 5x a strip's work at 512x512 (282 against 56 us).
_KEPT_SETS = 4
_KEPT_BYTES = 16 * 1024 * 1024
_KEPT = threading.local()
# Below this many multiply-adds a call runs on one thread: starting threads costs more.
_THREADING_WORK = 16_000_000
# What one output pixel costs the FFT method, in units of one array pass of the direct
# method, for each power of 2 in the tile's area (measured: a 512x512 tile ~ 80 passes).
_FFT_PASSES_PER_LOG2 = 4.5
_FFT_TILE = 512
# The gemm method's blocks: output columns per block, and bytes of a block's column sums
# (kw times its output) at most (measured best on 4096x4096 float32, 3x3 to 7x7).
_GEMM_BLOCK_COLUMNS = 1024
_GEMM_SUMS_BYTES = 2 * 1024 * 1024
# Multiply-adds per matrix product, at most: above about a million, OpenBLAS splits one product
# among its own threads, which then compete with the strips' (measured 2-5x slower on 2 cores).
_GEMM_MACS = 512 * 1024
# What the gemm method costs per padded input column of each output row, in direct passes:
# writing kw sums, and BLAS's multiply-adds (measured on 4096x4096 float32, 3x3 to 15x15).
_GEMM_PASSES_PER_COLUMN = 2.0
_GEMM_PASSES_PER_WEIGHT = 0.15


def default_threads() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def separable_factors(weights: npt.NDArray[np.floating[Any]]) -> tuple[Array, Array] | None:
    """(column, row) with ``np.outer(column, row) == weights``, or None if the rank is over 1.

    The rank is judged by SVD; the factors are then read off the kernel itself (the column
    through its largest weight, the row divided by that weight), so an integer kernel gets
    integer-valued factors, and they must give the kernel back to within a few units of
    rounding of its dtype (float64 or float32): two passes are then as exact as one.

    >>> column, row = separable_factors(np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]]))
    >>> column.tolist(), row.tolist()
    ([1.0, 2.0, 1.0], [1.0, 0.0, -1.0])
    >>> separable_factors(np.array([[0.0, 1.0], [1.0, 0.0]])) is None
    True
    """
    if weights.dtype.kind != "f":
        weights = weights.astype(np.float64)
    if weights.shape[1] == 1:  # a column already
        return weights[:, 0].copy(), np.ones(1, dtype=weights.dtype)
    if weights.shape[0] == 1:  # a row already
        return np.ones(1, dtype=weights.dtype), weights[0].copy()
    singular = np.linalg.svd(weights.astype(np.float64), compute_uv=False)
    if singular[0] == 0:  # all zeros: rank 0
        return np.zeros(weights.shape[0], weights.dtype), np.ones(weights.shape[1], weights.dtype)
    tolerance = _FACTOR_ULPS * float(np.finfo(weights.dtype).eps)
    if singular[1] > 100 * tolerance * singular[0]:  # far from rank 1
        return None
    row_index, column_index = np.unravel_index(np.argmax(np.abs(weights)), weights.shape)
    column = weights[:, column_index].copy()
    row = weights[row_index, :] / weights[row_index, column_index]
    # Exact to rounding, or the two passes would not give the same result as the direct one.
    scale = float(np.abs(weights).max())
    if np.abs(np.outer(column, row) - weights).max() > tolerance * scale:
        return None
    return column, row


def choose_method(
    image_shape: Sequence[int],
    kernel: npt.ArrayLike,
    params: ConvParams | None = None,
    *,
    dtype: npt.DTypeLike = np.float64,
) -> Method:
    """The method expected to be fastest for this image size, kernel and geometry (never
    ``auto``), as ``scipy.signal.choose_conv_method`` is for SciPy. The kernel is taken as
    given (``params.flip`` changes nothing here); `dtype` is the computation's, float32 or
    float64 (whether a kernel is separable depends on its rounding).

    >>> sobel = [[1, 0, -1], [2, 0, -2], [1, 0, -1]]
    >>> choose_method((512, 512), sobel)
    'separable'
    >>> choose_method((512, 512), np.random.default_rng(0).standard_normal((31, 31)))
    'fft'
    """
    weights = np.asarray(kernel, dtype=np.float64).astype(dtype)
    axes = arithmetic((image_shape[0], image_shape[1]), weights.shape, params or ConvParams())
    check_fits(axes)
    return _cheapest(weights, axes)


def _cheapest(weights: Array, axes: Axes) -> Method:
    return _cheapest_of(weights.shape, weights.dtype.str, weights.tobytes(), axes)


@functools.lru_cache(maxsize=256)
def _cheapest_of(shape: tuple[int, ...], dtype: str, data: bytes, axes: Axes) -> Method:
    """:func:`_cheapest` for the weights these bytes hold (cached: a batch asks it of one
    kernel and one size again and again)."""
    costs = _costs(np.frombuffer(data, dtype=dtype).reshape(shape), axes)
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
    facts = _kernel_facts(weights)
    # A pass that reads every s-th column touches s times the memory for its outputs: the
    # direct method's passes and the separable one's row pass, under a column stride
    # (measured: at stride 2 a direct pass costs about two).
    strided = outputs * cols.stride
    costs: dict[Method, float] = {"direct": facts.direct_passes * strided}
    if facts.factors is not None:
        # The column pass runs over every padded column, contiguously; the row pass over the
        # outputs.
        costs["separable"] = (
            facts.column_passes * rows.output * cols.padded + facts.row_passes * strided
        )
    kh, kw = weights.shape
    if kh > 1 and kw > 1:  # one column or one row makes a product of one dimension: slow BLAS
        per_column = _GEMM_PASSES_PER_COLUMN * kw + _GEMM_PASSES_PER_WEIGHT * kh * kw
        # The products run over every padded column, kept by the stride or not; the check for
        # NaN reads each input row once, the kw shifted sums are added over the outputs.
        costs["gemm"] = (per_column + 1) * rows.output * cols.padded + (kw - 1) * strided
    # The FFT computes whole tiles, overlapping by a span, every window in them kept by the
    # stride or not.
    tile = _fft_tile(axes)
    tile_area = tile[0] * tile[1]
    tiles = -(-rows.output // _fft_outputs(rows, tile[0])) * -(
        -cols.output // _fft_outputs(cols, tile[1])
    )
    costs["fft"] = _FFT_PASSES_PER_LOG2 * float(np.log2(tile_area)) * tile_area * tiles
    return costs


@dataclass(frozen=True)
class _KernelFacts:
    """What the choice needs to know of a kernel, worked out once per kernel."""

    factors: tuple[Array, Array] | None
    direct_passes: int
    column_passes: int
    row_passes: int


def _kernel_facts(weights: Array) -> _KernelFacts:
    return _facts_of(weights.shape, weights.dtype.str, weights.tobytes())


@functools.lru_cache(maxsize=64)
def _facts_of(shape: tuple[int, ...], dtype: str, data: bytes) -> _KernelFacts:
    """:class:`_KernelFacts` of the kernel these bytes hold (cached: a chain, a batch and a
    benchmark apply one kernel many times, and an SVD costs more than a small image)."""
    weights = np.frombuffer(data, dtype=dtype).reshape(shape)
    factors = separable_factors(weights)
    passes = (0, 0) if factors is None else (_passes(factors[0]), _passes(factors[1]))
    return _KernelFacts(factors, _passes(weights.ravel()), *passes)


Sink: TypeAlias = Callable[[int, int, Array], None]
"""Takes output rows [start, stop) in a buffer it may change but not keep: ``sink(start, stop,
rows)``."""


@dataclass(frozen=True, kw_only=True)
class Compute:
    """How the core computes a convolution, never what: every method and thread count gives
    the same result within floating-point rounding.

    Attributes
    ----------
    method : {"auto", "direct", "separable", "gemm", "fft"}
        "auto" picks the cheapest by :func:`choose_method`'s cost model; "separable" needs a
        kernel of rank 1.
    threads : int or None
        At most this many threads; None uses every core the process may run on.
    """

    method: Method = "auto"
    threads: int | None = None

    def __post_init__(self) -> None:
        to_choice(self.method, METHODS, "method")
        if self.threads is not None and (
            isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1
        ):
            raise ParameterError(f"threads must be at least 1, got {self.threads!r}")


def run(
    pixels: Pixels,
    weights: Array,
    axes: Axes,
    border: Border,
    into: Array | Sink,
    *,
    compute: Compute = Compute(),
) -> None:
    """Correlate `pixels` with `weights` (as given: flip beforehand) as `compute` says.

    `pixels` is (H, W) or (H, W, C) of float32 or float64, an array or a :class:`RowSource`,
    and `weights` has the same dtype; `axes` is their checked shape arithmetic and `border`
    what the padding holds. The result
    goes `into` an array of the shape the axes predict (see :func:`output_array`); or, a
    strip of rows at a time, to a sink (from whichever thread computed them; strips never
    overlap), so that a caller can map values to pixels strip by strip and never hold the
    float result whole.

    Raises
    ------
    ParameterError
        If ``separable`` is asked of a kernel whose rank is not 1.
    ShapeError
        If the strips' buffers cannot be allocated.
    """
    Correlation(pixels, weights, axes, border, compute=compute).run(into)


class Correlation:
    """One correlation, its method chosen and its buffers checked: :func:`run`'s arguments,
    ready to compute all its output rows or any run of them, as often as asked.

    The output rows are computed in strips of :attr:`rows_per_strip` rows, counted from row 0;
    a run of rows that starts at a multiple of it, and ends at one or at the last row, is
    computed strip for strip as the whole output is, so it gives the very same values (the
    ``fft`` method's rounding depends on the rows of its tiles).

    Raises
    ------
    ParameterError, ShapeError
        As :func:`run`.
    """

    def __init__(
        self,
        pixels: Pixels,
        weights: Array,
        axes: Axes,
        border: Border,
        *,
        compute: Compute = Compute(),
    ) -> None:
        self.axes = axes
        self._worker = _worker(pixels, weights, axes, border, compute.method)
        self._threads = compute.threads

    @property
    def rows_per_strip(self) -> int:
        """Output rows per strip: a run of rows should start and end at multiples of it."""
        return self._worker.rows_per_strip

    def run(self, into: Array | Sink, rows: tuple[int, int] | None = None) -> None:
        """Compute output rows [start, stop) of `rows` (all by default) into an array of
        that many rows, or to a sink, which gets the rows' own numbers (see :func:`run`)."""
        worker = self._worker
        start, stop = rows or (0, self.axes[0].output)
        deliver: Callable[[int, int, Any], None]
        if isinstance(into, np.ndarray):
            out = into

            def deliver(first: int, last: int, scratch: Any) -> None:
                worker(first, last, scratch, out[first - start : last - start])

        else:
            sink = into

            def deliver(first: int, last: int, scratch: Any) -> None:
                strip = scratch[-1][: last - first]
                worker(first, last, scratch, strip)
                sink(first, last, strip)

        in_strips((start, stop), worker, self._threads, deliver)


def output_array(pixels: Pixels, axes: Axes) -> Array:
    """An empty array for the result of `pixels` with `axes`, in their dtype.

    Raises
    ------
    ShapeError
        If it cannot be allocated.
    """
    rows, cols = axes
    shape = (rows.output, cols.output, *pixels.shape[2:])
    output: Array = allocate_or_refuse(axes, lambda: np.empty(shape, dtype=pixels.dtype))
    return output


def _worker(
    pixels: Pixels, weights: Array, axes: Axes, border: Border, method: Method
) -> StripWorker:
    """The strip worker of `method` (chosen when ``auto``), its buffers checked allocatable."""
    chosen = resolved_method(weights, axes, method)
    factors = _kernel_facts(weights).factors if chosen == "separable" else None
    worker: StripWorker
    if factors is not None:
        worker = _SeparableStrip(pixels, axes, border, factors)
    elif chosen == "fft":
        worker = _FFTStrip(pixels, weights, axes, border)
    elif chosen == "gemm":
        worker = _GemmStrip(pixels, weights, axes, border)
    else:
        worker = _DirectStrip(pixels, weights, axes, border)
    worker.work = float(axes[0].output) * axes[1].output * weights.size
    # What each thread will allocate: fail here, not in a thread. This one is kept for the
    # calling thread's strips.
    worker.give_back(allocate_or_refuse(axes, worker.take_scratch))
    return worker


def resolved_method(weights: Array, axes: Axes, method: Method) -> Method:
    """`method`, or the cheapest for `weights` (as computed) and `axes` when ``auto``.

    Raises
    ------
    ParameterError
        If ``separable`` is asked of a kernel whose rank is not 1.
    """
    chosen = _cheapest(weights, axes) if method == "auto" else method
    if chosen == "separable" and _kernel_facts(weights).factors is None:
        raise ParameterError(
            f"method separable needs a kernel of rank 1 (a column times a row);"
            f" this {weights.shape[0]}x{weights.shape[1]} kernel is not"
        )
    return chosen


def allocate_or_refuse(axes: Axes, allocate: Callable[[], Any]) -> Any:
    """``allocate()``, or a :class:`ShapeError` naming the padded input of `axes` if NumPy
    cannot allocate what it asks."""
    rows, cols = axes
    try:
        return allocate()
    except (MemoryError, ValueError):  # NumPy says "array is too big" for absurd sizes
        raise ShapeError(
            f"not enough memory for the padded input {format_size((rows.padded, cols.padded))}"
            f" (image {format_size((rows.size, cols.size))}"
            f" with padding {format_pair((rows.pad_before, cols.pad_before))})"
        ) from None


# --- Strips and threads ------------------------------------------------------------------------


class StripWorker:
    """Computes strips of output rows; one object shared by the threads, scratch per thread."""

    work: float = 0.0
    """Multiply-adds in all: small calls run on one thread."""

    def __init__(
        self, pixels: Pixels, axes: Axes, border: Border, *, rows_per_strip: int | None = None
    ) -> None:
        self.pixels, self.axes, self.border = pixels, axes, border
        self.rows_per_strip = rows_per_strip or _rows_per_strip(axes[0], axes[1], pixels)

    def scratch(self) -> Any:
        """Buffers a thread reuses from strip to strip; the last is the strip's output."""
        raise NotImplementedError

    def scratch_key(self) -> tuple[Any, ...]:
        """What the sizes of :meth:`scratch`'s buffers depend on: workers of equal keys can use
        each other's."""
        return (
            type(self),
            self.axes,
            self.rows_per_strip,
            self.pixels.dtype.str,
            self.pixels.shape[2:],
        )

    def take_scratch(self) -> Any:
        """The scratch buffers this thread gave back last for a worker of the same key (an
        earlier call's, an earlier step's), or new ones."""
        kept: dict[tuple[Any, ...], Any] = _KEPT.__dict__.setdefault("sets", {})
        scratch = kept.pop(self.scratch_key(), None)
        return self.scratch() if scratch is None else scratch

    def give_back(self, scratch: Any) -> None:
        """Keep `scratch` for this thread's next worker of the same key, up to
        :data:`_KEPT_SETS` sets of at most :data:`_KEPT_BYTES` each, the last given kept."""
        if sum(buffer.nbytes for buffer in scratch if buffer.base is None) > _KEPT_BYTES:
            return
        kept: dict[tuple[Any, ...], Any] = _KEPT.__dict__.setdefault("sets", {})
        key = self.scratch_key()
        kept.pop(key, None)  # given back last: kept longest
        kept[key] = scratch
        while len(kept) > _KEPT_SETS:
            del kept[next(iter(kept))]

    def __call__(self, start: int, stop: int, scratch: Any, out: Array) -> None:
        """Compute output rows [start, stop) into `out`."""
        raise NotImplementedError

    def padded_rows(self) -> Array:
        """A buffer for the padded input rows of the tallest strip."""
        _, count = input_rows(self.axes[0], 0, self.rows_per_strip)
        shape = (count, self.axes[1].padded, *self.pixels.shape[2:])
        return np.empty(shape, self.pixels.dtype)

    def output_rows(self) -> Array:
        """A buffer with the output rows of the tallest strip."""
        shape = (self.rows_per_strip, self.axes[1].output, *self.pixels.shape[2:])
        return np.empty(shape, self.pixels.dtype)

    def fill(self, start: int, stop: int, buffer: Array) -> Array:
        """The padded input rows that output rows [start, stop) read, filled into `buffer`."""
        first, count = input_rows(self.axes[0], start, stop)
        padded = buffer[:count]
        fill_padded_rows(self.pixels, padding_widths(self.axes), self.border, first, padded)
        return padded


def in_strips(
    rows: tuple[int, int],
    worker: StripWorker,
    threads: int | None,
    deliver: Callable[[int, int, Any], None],
) -> None:
    """Call ``deliver(start, stop, scratch)`` for every strip of output rows in [start, stop)
    of `rows`, on up to `threads` threads, each with the scratch buffers of its thread.

    The strips are taken in order by whichever thread is free, so that they are done nearly
    in order (a caller writing them out in order keeps few waiting); each thread allocates
    its buffers once.
    """
    first, total = rows
    per_strip = worker.rows_per_strip
    starts = range(first, total, per_strip)
    workers = min(threads or default_threads(), len(starts))
    work = worker.work * (total - first) / max(1, worker.axes[0].output)  # of these rows
    if work < _THREADING_WORK:
        workers = 1

    stopping = threading.Event()  # set when one thread fails or the caller is interrupted
    taking = threading.Lock()
    remaining = iter(starts)

    def run_strips() -> None:
        try:
            scratch = worker.take_scratch()
            while not stopping.is_set():
                with taking:
                    start = next(remaining, None)
                if start is None:
                    worker.give_back(scratch)
                    return
                deliver(start, min(start + per_strip, total), scratch)
        except BaseException:
            stopping.set()
            raise

    if workers <= 1:
        run_strips()
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        try:
            # Each thread runs in a copy of the caller's context: NumPy's errstate holds there.
            running = [
                pool.submit(contextvars.copy_context().run, run_strips) for _ in range(workers)
            ]
            wait(running, return_when=FIRST_EXCEPTION)
            for finished in running:
                finished.result()  # re-raises a worker's error here
        except BaseException:  # an error, Ctrl-C: the other threads stop after their strip
            stopping.set()
            raise


def _rows_per_strip(rows: AxisArithmetic, cols: AxisArithmetic, pixels: Pixels) -> int:
    """Output rows per strip so that the strip's padded input rows fill about _STRIP_BYTES."""
    row_bytes = cols.padded * np.dtype(pixels.dtype).itemsize * _channels(pixels)
    budget = _STRIP_BYTES if isinstance(pixels, np.ndarray) else _SOURCE_STRIP_BYTES
    # A small image still gets a few strips, each small enough to stay in cache.
    budget = min(budget, max(_SOURCE_STRIP_BYTES, rows.padded * row_bytes // 4))
    # At least 8 output rows, or a tall kernel would pad its span of rows for each output row.
    rows_read = max(budget // max(1, row_bytes), rows.span + 7 * rows.stride)
    return (rows_read - rows.span) // rows.stride + 1


def input_rows(rows: AxisArithmetic, start: int, stop: int) -> tuple[int, int]:
    """The padded input rows [first, first + count) that output rows [start, stop) read
    (padded: row 0 is the first padding row, ``rows.pad_before`` the image's first)."""
    return start * rows.stride, (stop - start - 1) * rows.stride + rows.span


def padding_widths(axes: Axes) -> PadWidths:
    """((top, bottom), (left, right)) padding in pixels, as `axes` say."""
    rows, cols = axes
    return (rows.pad_before, rows.pad_after), (cols.pad_before, cols.pad_after)


# --- direct --------------------------------------------------------------------------------


def _weight_groups(weights: Array) -> list[tuple[Any, list[tuple[int, int]]]]:
    """The nonzero weights, each with the taps (a, b) that carry it; 1 first, then by count.

    Zero weights are skipped: a NaN or infinity under a zero weight does not spread. The
    result is shared by every call with the same weights: not to be changed.
    """
    return _groups_of(weights.shape, weights.dtype.str, weights.tobytes())


@functools.lru_cache(maxsize=64)
def _groups_of(
    shape: tuple[int, ...], dtype: str, data: bytes
) -> list[tuple[Any, list[tuple[int, int]]]]:
    """:func:`_weight_groups` of the weights these bytes hold (cached, as :func:`_facts_of`)."""
    weights = np.frombuffer(data, dtype=dtype).reshape(shape)
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


class _DirectStrip(StripWorker):
    def __init__(self, pixels: Pixels, weights: Array, axes: Axes, border: Border) -> None:
        super().__init__(pixels, axes, border)
        self.groups = _weight_groups(weights)

    def scratch(self) -> tuple[Array, Array, Array]:
        return self.padded_rows(), self.output_rows(), self.output_rows()

    def __call__(self, start: int, stop: int, scratch: Any, out: Array) -> None:
        padded = self.fill(start, stop, scratch[0])
        self.from_padded(padded, out, scratch[1][: stop - start])

    def from_padded(self, padded: Array, out: Array, product: Array) -> None:
        """Output rows ``len(out)`` from their padded input rows; `product` is scratch."""
        rows, cols = self.axes
        n = len(out)
        groups = [
            (
                weight,
                [padded[_tap_slice(rows, a, n), _tap_slice(cols, b, cols.output)] for a, b in taps],
            )
            for weight, taps in self.groups
        ]
        _weighted_sum(groups, out, product)


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


class _SeparableStrip(StripWorker):
    def __init__(
        self, pixels: Pixels, axes: Axes, border: Border, factors: tuple[Array, Array]
    ) -> None:
        super().__init__(pixels, axes, border)
        self.column = _line_groups(factors[0].astype(pixels.dtype))
        self.row = _line_groups(factors[1].astype(pixels.dtype))

    def scratch(self) -> tuple[Array, Array, Array, Array]:
        shape = (self.rows_per_strip, self.axes[1].padded, *self.pixels.shape[2:])
        columns_done = np.empty(shape, self.pixels.dtype)
        return self.padded_rows(), columns_done, np.empty_like(columns_done), self.output_rows()

    def __call__(self, start: int, stop: int, scratch: Any, out: Array) -> None:
        rows, cols = self.axes
        padded = self.fill(start, stop, scratch[0])
        n = stop - start
        columns_done, column_scratch = scratch[1][:n], scratch[2][:n]
        down = [
            (weight, [padded[_tap_slice(rows, a, n)] for a in taps]) for weight, taps in self.column
        ]
        _weighted_sum(down, columns_done, column_scratch)
        along = [
            (weight, [columns_done[:, _tap_slice(cols, b, cols.output)] for b in taps])
            for weight, taps in self.row
        ]
        _weighted_sum(along, out, column_scratch[:, : cols.output])


# --- gemm ----------------------------------------------------------------------------------


class _GemmStrip(StripWorker):
    """The strip in blocks of output columns, each with two matrix products: the sums down
    every kernel column at each padded column of the block, then the kw shifted sums added.

    A block's sums (kw times its output, with a strip's rows) stay in the core's cache for the
    second product (measured: 5x5 at 4096x4096, 24 ms in blocks of 1024 columns against 27 ms
    over the whole width).
    """

    def __init__(self, pixels: Pixels, weights: Array, axes: Axes, border: Border) -> None:
        rows, cols = axes
        self.columns = weights.shape[1]
        self.channels = _channels(pixels)
        # Output columns per block: the products stay under _GEMM_MACS multiply-adds.
        per_block = max(16, _GEMM_MACS // (weights.size * self.channels))
        self.block = min(_GEMM_BLOCK_COLUMNS, per_block, cols.output)
        self.block_width = (self.block - 1) * cols.stride + cols.span  # padded columns
        block_bytes = (
            self.columns * self.block_width * self.channels * np.dtype(pixels.dtype).itemsize
        )
        most = max(1, _GEMM_SUMS_BYTES // block_bytes)
        super().__init__(
            pixels, axes, border, rows_per_strip=min(most, _rows_per_strip(rows, cols, pixels))
        )
        # (kw, kh): row b holds kernel column b, so that it times kh input rows stacked as a
        # (kh, W) matrix is the sum down column b at every input column.
        self.by_column = np.ascontiguousarray(weights.T)
        self.ones = np.ones((1, self.columns), weights.dtype)
        # BLAS multiplies every weight, zeros included, and 0 * inf is NaN: a strip that holds
        # a NaN or an infinity is computed the direct way, where it stays in its windows.
        self.direct = _DirectStrip(pixels, weights, axes, border)

    def scratch(self) -> tuple[Array, Array, Array, Array, Array]:
        shape = (self.rows_per_strip, self.columns, self.block_width * self.channels)
        sums = np.empty(shape, self.pixels.dtype)
        diagonals = self._diagonals(sums, self.block)  # a view of `sums`, made once
        return self.padded_rows(), sums, diagonals, self.output_rows(), self.output_rows()

    def _diagonals(self, sums: Array, count: int) -> Array:
        """(n, kw, count * C): the terms of `count` outputs at stride 1 in a block's sums.

        Output column j adds the sum down kernel column b at padded column j + b * dilation of
        the block: laid end to end, a row's sums hold them at j + b * (width + dilation) (in
        values of a pixel), a matrix with rows that far apart, which BLAS takes as it is.
        """
        width = sums.shape[2]
        laid_end_to_end = sums.reshape(len(sums), -1)
        windows = sliding_window_view(laid_end_to_end, count * self.channels, axis=1)
        step = width + self.axes[1].dilation * self.channels
        diagonals: Array = windows[:, ::step][:, : self.columns]
        return diagonals

    def __call__(self, start: int, stop: int, scratch: Any, out: Array) -> None:
        rows, cols = self.axes
        padded = self.fill(start, stop, scratch[0])
        n = stop - start
        if not np.isfinite(padded).all():
            self.direct.from_padded(padded, out, scratch[3][:n])
            return
        # Output row i reads the kh input rows i * stride + a * dilation, as one matrix with
        # each pixel's channels side by side: a view, which matmul hands to BLAS as it is.
        flat = padded.reshape(len(padded), -1)
        windows = sliding_window_view(flat, rows.span, axis=0).transpose(0, 2, 1)
        stacked = windows[:: rows.stride, :: rows.dilation][:n]
        sums, diagonals = scratch[1][:n], scratch[2][:n]
        by_pixel = self.channels
        added_by_blas = cols.stride == 1 and out.flags.c_contiguous
        outputs = out.reshape(n, 1, -1) if added_by_blas else out
        for left in range(0, cols.output, self.block):
            count = min(self.block, cols.output - left)
            first = left * cols.stride * by_pixel
            width = ((count - 1) * cols.stride + cols.span) * by_pixel
            block_sums = sums[..., :width]
            np.matmul(self.by_column, stacked[..., first : first + width], out=block_sums)
            if added_by_blas:
                terms = diagonals if count == self.block else self._diagonals(sums, count)
                np.matmul(
                    self.ones, terms, out=outputs[..., left * by_pixel :][..., : count * by_pixel]
                )
            else:
                self._add_shifted(block_sums, out[:, left : left + count])

    def _add_shifted(self, block_sums: Array, out: Array) -> None:
        """out = the kw sums of a block added, each at its column's offset, any stride."""
        cols = self.axes[1]
        n, count = out.shape[:2]
        by_column = block_sums.reshape(n, self.columns, -1, *self.pixels.shape[2:])
        shifted = [by_column[:, b, _tap_slice(cols, b, count)] for b in range(self.columns)]
        if len(shifted) == 1:
            out[...] = shifted[0]
            return
        np.add(shifted[0], shifted[1], out=out)
        for column in shifted[2:]:
            np.add(out, column, out=out)


def _channels(pixels: Pixels) -> int:
    """Values per pixel: 1 for (H, W), C for (H, W, C)."""
    return int(np.prod(pixels.shape[2:], dtype=int))


# --- fft -----------------------------------------------------------------------------------


def _fft_tile(axes: Axes) -> tuple[int, int]:
    """The FFT size (rows, columns) of one tile: about 4 spans and at least _FFT_TILE, or the
    padded input if smaller, rounded up to a size the FFT is fast for."""
    rows, cols = (min(axis.padded, max(_FFT_TILE, 4 * axis.span)) for axis in axes)
    return _fast_length(rows), _fast_length(cols)


def _fast_length(size: int) -> int:
    """The smallest n >= `size` with no prime factor above 5, for which the FFT is fastest.

    >>> _fast_length(509), _fast_length(512), _fast_length(1001)
    (512, 512, 1024)
    """
    n = size
    while True:
        rest = n
        for prime in (2, 3, 5):
            while rest % prime == 0:
                rest //= prime
        if rest == 1:
            return n
        n += 1


def _fft_outputs(axis: AxisArithmetic, tile: int) -> int:
    """Outputs one tile of size `tile` yields along `axis`: a whole number of strides."""
    return (tile - axis.span) // axis.stride + 1


class _FFTStrip(StripWorker):
    def __init__(self, pixels: Pixels, weights: Array, axes: Axes, border: Border) -> None:
        rows, cols = axes
        self.tile = _fft_tile(axes)
        super().__init__(pixels, axes, border, rows_per_strip=_fft_outputs(rows, self.tile[0]))
        self.cols_per_tile = _fft_outputs(cols, self.tile[1])
        dilated = np.zeros((rows.span, cols.span), dtype=weights.dtype)
        dilated[:: rows.dilation, :: cols.dilation] = weights
        # Correlation is convolution with the kernel turned by 180 degrees.
        spectrum = np.fft.rfft2(dilated[::-1, ::-1], s=self.tile)
        self.spectrum = spectrum.reshape(spectrum.shape + (1,) * (len(pixels.shape) - 2))
        # A NaN or an infinity would spread over its whole tile through the transform: a
        # strip that holds one is computed the direct way, where it stays in its windows.
        self.direct = _DirectStrip(pixels, weights, axes, border)

    def scratch(self) -> tuple[Array, Array, Array, Array]:
        block = np.empty((*self.tile, *self.pixels.shape[2:]), self.pixels.dtype)
        return self.padded_rows(), block, self.output_rows(), self.output_rows()

    def __call__(self, start: int, stop: int, scratch: Any, out: Array) -> None:
        rows, cols = self.axes
        padded, block = self.fill(start, stop, scratch[0]), scratch[1]
        n = stop - start
        if not np.isfinite(padded).all():
            self.direct.from_padded(padded, out, scratch[2][:n])
            return
        for left in range(0, cols.output, self.cols_per_tile):
            right = min(left + self.cols_per_tile, cols.output)
            in_left = left * cols.stride
            in_width = (right - left - 1) * cols.stride + cols.span
            block[...] = 0
            block[: len(padded), :in_width] = padded[:, in_left : in_left + in_width]
            spectrum = np.fft.rfft2(block, axes=(0, 1)) * self.spectrum
            full = np.fft.irfft2(spectrum, s=self.tile, axes=(0, 1))
            # The tile's circular convolution is the linear correlation from index span - 1
            # on, which is where the kernel's last tap reads.
            out[:, left:right] = full[
                _tap_slice(rows, rows.kernel - 1, n),
                _tap_slice(cols, cols.kernel - 1, right - left),
            ]
