"""NumPy ``.npy`` arrays read and written in parts: images larger than memory.

Rows are read with ``os.pread`` at their offset rather than through a memory map: the pages
of a mapped file count as the process's resident memory for as long as they stay mapped,
while pages read this way are the system's cache, not the process's. Only C-ordered arrays
are read this way (a Fortran-ordered one keeps a row's values apart); written arrays are C
order, float32 or float64, written a block of rows at a time after their header.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from convcli.errors import ImageReadError


def read_npy_header(stream: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    """(shape, fortran_order, dtype) of the ``.npy`` array at `stream`'s position, whose
    header (format 1.0 or 2.0) is read: the stream is left at the data.

    Raises
    ------
    ValueError
        If it is not an ``.npy`` header NumPy can read.
    """
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
    else:
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
    return tuple(shape), bool(fortran_order), dtype


class NpyRows:
    """The rows of a C-ordered ``.npy`` array, read from its file when asked (a
    :class:`~convcli.core.padding.RowSource` of the array's own values, native byte order).

    Valid while `stream` is open; reads from several threads are safe.
    """

    def __init__(
        self, stream: IO[bytes], label: str, shape: tuple[int, ...], dtype: np.dtype[Any]
    ) -> None:
        self._fd, self._label = stream.fileno(), label
        self._offset = stream.tell()  # the data follows the header just read
        self._stored = dtype
        self.shape = shape
        self.dtype: np.dtype[Any] = dtype.newbyteorder("=")
        self._row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize

    def rows(self, start: int, stop: int) -> npt.NDArray[Any]:
        wanted = (stop - start) * self._row_bytes
        data = bytearray()
        while len(data) < wanted:
            try:
                part = os.pread(
                    self._fd, wanted - len(data), self._offset + start * self._row_bytes + len(data)
                )
            except OSError as error:
                raise ImageReadError(
                    f"cannot read {self._label!r}: {error.strerror or error}"
                ) from None
            if not part:
                row = start + len(data) // self._row_bytes
                raise ImageReadError(
                    f"cannot read {self._label!r}: it ends at row {row} of {self.shape[0]}"
                    " (truncated)"
                )
            data += part
        values = np.frombuffer(data, self._stored).reshape(stop - start, *self.shape[1:])
        return values.astype(self.dtype, copy=False)


def write_npy(
    stream: IO[bytes],
    shape: tuple[int, ...],
    dtype: npt.DTypeLike,
    blocks: Iterator[npt.NDArray[Any]],
) -> None:
    """Write an ``.npy`` array of `shape` and `dtype` (C order) from `blocks` of its rows, in
    order, holding one block at a time."""
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
        "fortran_order": False,
        "shape": shape,
    }
    if _needs_version_2(header):
        np.lib.format.write_array_header_2_0(stream, header)
    else:  # what np.save writes
        np.lib.format.write_array_header_1_0(stream, header)
    written = 0
    for block in blocks:
        stream.write(np.ascontiguousarray(block, dtype=dtype).data)
        written += len(block)
    if written != shape[0]:
        raise ValueError(f".npy has {written} rows written, expected {shape[0]}")


def _needs_version_2(header: dict[str, Any]) -> bool:
    """Whether the header is too long for format 1.0 (a 16-bit length)."""
    return len(repr(header)) + 64 > 65535
