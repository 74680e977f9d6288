"""Images whose rows are computed when read: a chain of steps over an image larger than memory.

Each step of a chain is a :class:`~convcli.core.padding.RowSource` over the one before it, so
that reading the last step's rows in order computes every step a block of rows at a time and
no step's result ever exists whole::

    filtered = ComputedRows(source, weights, params)          # one kernel's output rows
    scaled = MappedRows(lambda rows: rows * 2, filtered)      # a per-pixel function of them
    scaled.rows(0, 64)

A step reads the rows of the step before it that its strips need: the rows around them, and
for ``reflect``, ``circular`` and ``symmetric`` padding the rows the padding shows, which may
be at the far side of the image. Each step keeps its last few blocks, so that neighbouring
reads, and the far rows read again and again, are computed once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.core.convolution import FloatArray, prepared
from convcli.core.methods import Compute, Correlation, input_rows
from convcli.core.padding import RowSource, read_rows
from convcli.core.params import ConvParams

BLOCK_BYTES = 2 * 1024 * 1024
"""About how many bytes of rows a step computes at a time."""
_BLOCKS_KEPT = 4
"""Blocks a step keeps: the one being read, its neighbours, and one at the far side."""


class CachedRows:
    """A :class:`RowSource` that makes its rows in aligned blocks and keeps the last few.

    Subclasses say what a block is (:meth:`_make`) and in what unit of rows blocks must start
    and end (`unit`): a block is about :data:`BLOCK_BYTES`, a whole number of units, and
    blocks start at multiples of its size. Reads from several threads are safe; a block is
    made by one of them while the others wait.
    """

    shape: tuple[int, ...]
    dtype: np.dtype[Any]

    def __init__(self, shape: tuple[int, ...], dtype: npt.DTypeLike, unit: int = 1) -> None:
        self.shape, self.dtype = shape, np.dtype(dtype)
        row_bytes = max(1, int(np.prod(shape[1:], dtype=np.int64)) * self.dtype.itemsize)
        units = max(1, BLOCK_BYTES // (row_bytes * unit))
        self.block_rows = unit * units
        self._blocks: OrderedDict[int, FloatArray] = OrderedDict()
        self._lock = threading.Lock()

    def rows(self, start: int, stop: int) -> FloatArray:
        """Rows [start, stop), a view of a kept block where they lie in one (do not change it)."""
        first, last = start // self.block_rows, (stop - 1) // self.block_rows
        if first == last:
            block = self._block(first)
            offset = first * self.block_rows
            return block[start - offset : stop - offset]
        parts = []
        for index in range(first, last + 1):
            offset = index * self.block_rows
            block = self._block(index)
            parts.append(
                block[max(start, offset) - offset : min(stop, offset + len(block)) - offset]
            )
        return np.concatenate(parts)

    def _block(self, index: int) -> FloatArray:
        with self._lock:
            block = self._blocks.get(index)
            if block is not None:
                self._blocks.move_to_end(index)
                return block
            start = index * self.block_rows
            block = self._make(start, min(start + self.block_rows, self.shape[0]))
            self._blocks[index] = block
            while len(self._blocks) > _BLOCKS_KEPT:
                self._blocks.popitem(last=False)
            return block

    def _make(self, start: int, stop: int) -> FloatArray:
        """Rows [start, stop), made anew."""
        raise NotImplementedError


class ComputedRows(CachedRows):
    """The output rows of one kernel over `source`, computed a block at a time when read.

    The rows equal :func:`~convcli.core.convolution.apply_kernel`'s, bit for bit: each block
    starts at a multiple of the correlation's strip, as the whole computation's strips do.
    """

    def __init__(
        self,
        source: npt.NDArray[Any] | RowSource,
        kernel: npt.ArrayLike,
        params: ConvParams,
        *,
        compute: Compute = Compute(),
    ) -> None:
        pixels, weights, axes = prepared(source, kernel, params)
        self._pixels, self._axes = pixels, axes
        self._correlation = Correlation(pixels, weights, axes, params.border, compute=compute)
        shape = (axes[0].output, axes[1].output, *pixels.shape[2:])
        super().__init__(shape, pixels.dtype, self._correlation.rows_per_strip)

    def _make(self, start: int, stop: int) -> FloatArray:
        rows, _ = self._axes
        # The source's rows these read, asked for at once: a step below computes them as one
        # block on every thread, not a strip at a time.
        padded_first, count = input_rows(rows, start, stop)
        first = max(0, padded_first - rows.pad_before)
        last = min(rows.size, padded_first + count - rows.pad_before)
        if first < last:
            read_rows(self._pixels, first, last)
        out = np.empty((stop - start, *self.shape[1:]), self.dtype)
        self._correlation.run(out, (start, stop))
        return out


class MappedRows(CachedRows):
    """A per-pixel function of the rows of one or more sources of one shape: their rows
    [start, stop) are ``function(*(source.rows(start, stop) for source in sources))``.

    The function gets rows it must not change (they may be a kept block) and returns new ones.
    """

    def __init__(
        self,
        function: Callable[..., FloatArray],
        *sources: npt.NDArray[Any] | RowSource,
        shape: tuple[int, ...] | None = None,
        dtype: npt.DTypeLike | None = None,
    ) -> None:
        self._function, self._sources = function, sources
        super().__init__(shape or sources[0].shape, dtype or sources[0].dtype)

    def _make(self, start: int, stop: int) -> FloatArray:
        return self._function(*(read_rows(source, start, stop) for source in self._sources))
