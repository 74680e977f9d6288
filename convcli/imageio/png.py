"""A PNG writer fed a strip of rows at a time, in any order, from any thread.

Each strip is filtered and deflated on its own as it arrives (zlib releases the GIL, so
strips compress in parallel), and only the compressed bytes are kept: the output image never
exists whole. :meth:`PngStrips.write` then writes the file in row order. The format is the
PNG specification's (ISO/IEC 15948): one zlib stream split over IDAT chunks, each strip a
run of deflate blocks ended by a sync flush, as parallel compressors write them.

Rows use filter type 2 (Up: each byte minus the byte above it), which suits photographs and
filter responses; the first row of a strip uses type 0 (None), as the row above belongs to
another strip.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import IO, Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

StreamMode: TypeAlias = Literal["L", "RGB", "I;16"]
STREAM_MODES: tuple[StreamMode, ...] = ("L", "RGB", "I;16")
"""Pillow's names for the modes written this way: 8-bit gray, 8-bit colour, 16-bit gray."""

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Mode -> (bit depth, colour type, samples per pixel).
_LAYOUT: dict[str, tuple[int, int, int]] = {
    "L": (8, 0, 1),
    "RGB": (8, 2, 3),
    "I;16": (16, 0, 1),
    "LA": (8, 4, 2),
    "RGBA": (8, 6, 4),
}
ROW_MODES = frozenset(_LAYOUT)
"""The modes :func:`write_png` writes: the streamed ones, and 8-bit gray and colour with alpha."""
_FILTER_NONE, _FILTER_UP = 0, 2
_ADLER_BASE = 65521


def stream_mode(mode: str) -> StreamMode | None:
    """`mode` if a PNG of it can be written strip by strip, else None.

    >>> stream_mode("RGB"), stream_mode("RGBA")
    ('RGB', None)
    """
    return next((streamed for streamed in STREAM_MODES if streamed == mode), None)


class PngStrips:
    """Collects the rows of an image of `height` x `width` in `mode`, compressed per strip.

    >>> import io
    >>> from PIL import Image
    >>> rows = np.arange(12, dtype=np.uint8).reshape(4, 3)
    >>> png = PngStrips(4, 3, "L", level=1)
    >>> png.add(2, rows[2:])  # any order
    >>> png.add(0, rows[:2])
    >>> buffer = io.BytesIO()
    >>> png.write(buffer)
    >>> np.asarray(Image.open(buffer)).tolist()
    [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    """

    def __init__(self, height: int, width: int, mode: StreamMode, *, level: int) -> None:
        self.height, self.width, self.mode, self.level = height, width, mode, level
        self._strips: dict[int, tuple[int, bytes, int, int]] = {}
        """first row -> (rows, deflated bytes, Adler-32 of the raw bytes, raw length)."""

    def add(self, start: int, pixels: npt.NDArray[Any]) -> None:
        """Rows ``start .. start + len(pixels)``: (n, W) or (n, W, 3) of uint8, or uint16 for
        ``I;16``. Safe to call from several threads for different rows.

        Raises
        ------
        ValueError
            If the rows do not fit the image or its mode, or start where rows were added.
        """
        if not 0 <= start <= self.height - len(pixels) or start in self._strips:
            raise ValueError(
                f"PNG rows {start}..{start + len(pixels) - 1} are outside the image's"
                f" {self.height} rows or were added already"
            )
        self._strips[start] = (len(pixels), *_deflated(pixels, self.mode, self.width, self.level))

    def write(self, stream: IO[bytes]) -> None:
        """Write the PNG file; every row must have been added.

        Raises
        ------
        ValueError
            If rows are missing or overlap.
        """
        _begin(stream, self.height, self.width, self.mode)
        adler, row = 1, 0
        for start in sorted(self._strips):
            count, deflated, strip_adler, length = self._strips[start]
            if start > row:
                raise ValueError(f"PNG rows {row}..{start - 1} were never added")
            if start < row:
                raise ValueError(f"PNG rows {start}..{row - 1} were added twice")
            _chunk(stream, b"IDAT", deflated)
            adler = _adler32_combine(adler, strip_adler, length)
            row += count
        if row != self.height:
            raise ValueError(f"PNG has rows up to {row}, expected {self.height}")
        _end(stream, adler, self.level)


def write_png(
    stream: IO[bytes],
    height: int,
    width: int,
    mode: str,
    blocks: Iterator[npt.NDArray[Any]],
    *,
    level: int,
) -> None:
    """Write a PNG of `mode` (one of :data:`ROW_MODES`) from `blocks` of its rows in order,
    each compressed and written as it comes: the image is never held whole, nor its bytes.

    Raises
    ------
    ValueError
        If the blocks do not fit the image or its mode, or do not make `height` rows.
    """
    _begin(stream, height, width, mode)
    adler, row = 1, 0
    for block in blocks:
        if row + len(block) > height:
            raise ValueError(f"PNG rows {row}..{row + len(block) - 1} are past {height} rows")
        deflated, block_adler, length = _deflated(block, mode, width, level)
        _chunk(stream, b"IDAT", deflated)
        adler = _adler32_combine(adler, block_adler, length)
        row += len(block)
    if row != height:
        raise ValueError(f"PNG has rows up to {row}, expected {height}")
    _end(stream, adler, level)


def _begin(stream: IO[bytes], height: int, width: int, mode: str) -> None:
    """The signature, the header, and the zlib stream's header."""
    bits, colour, _ = _LAYOUT[mode]
    stream.write(_SIGNATURE)
    _chunk(stream, b"IHDR", struct.pack(">IIBBBBB", width, height, bits, colour, 0, 0, 0))
    _chunk(stream, b"IDAT", b"\x78\x01")  # zlib header: deflate, 32 KiB window


def _end(stream: IO[bytes], adler: int, level: int) -> None:
    """The deflate stream's final block, its Adler-32, and the end."""
    final_block = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS).flush()
    _chunk(stream, b"IDAT", final_block + struct.pack(">I", adler))
    _chunk(stream, b"IEND", b"")


def _deflated(
    pixels: npt.NDArray[Any], mode: str, width: int, level: int
) -> tuple[bytes, int, int]:
    """A strip of rows filtered and deflated on its own, ended by a sync flush: (the bytes,
    the Adler-32 of the raw bytes, their length). (n, W) or (n, W, samples) of uint8, or
    uint16 for ``I;16``.

    Raises
    ------
    ValueError
        If the rows do not fit the image's width or its mode.
    """
    bits, _, samples_per_pixel = _LAYOUT[mode]
    shape = (width,) if samples_per_pixel == 1 else (width, samples_per_pixel)
    dtype = np.uint8 if bits == 8 else np.uint16
    if pixels.dtype != dtype or pixels.shape[1:] != shape or len(pixels) == 0:
        raise ValueError(
            f"PNG {mode} rows are (n, {', '.join(map(str, shape))}) of"
            f" {np.dtype(dtype).name}, not {pixels.shape} of {pixels.dtype}"
        )
    samples = pixels.astype(">u2") if bits == 16 else pixels
    rows = np.ascontiguousarray(samples).view(np.uint8).reshape(len(pixels), -1)
    raw = np.empty((len(rows), rows.shape[1] + 1), dtype=np.uint8)
    raw[0, 0], raw[1:, 0] = _FILTER_NONE, _FILTER_UP
    raw[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=raw[1:, 1:])  # modulo 256, as the filter is
    data = raw.tobytes()
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    deflated = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return deflated, zlib.adler32(data), len(data)


def _chunk(stream: IO[bytes], kind: bytes, data: bytes) -> None:
    """One PNG chunk: length, type, data, CRC-32 of type and data."""
    stream.write(struct.pack(">I", len(data)) + kind)
    stream.write(data)
    stream.write(struct.pack(">I", zlib.crc32(data, zlib.crc32(kind))))


def _adler32_combine(first: int, second: int, second_length: int) -> int:
    """The Adler-32 of two byte strings one after the other, from theirs and the second's length.

    Adler-32 is A = 1 + sum of bytes and B = sum of the running A's, both modulo 65521, so
    A = A1 + A2 - 1 and B = B1 + B2 + n2 (A1 - 1).

    >>> _adler32_combine(zlib.adler32(b"convolution "), zlib.adler32(b"arithmetic"), 10) == (
    ...     zlib.adler32(b"convolution arithmetic")
    ... )
    True
    """
    a1, b1 = first & 0xFFFF, first >> 16
    a2, b2 = second & 0xFFFF, second >> 16
    a = (a1 + a2 - 1) % _ADLER_BASE
    b = (b1 + b2 + second_length * (a1 - 1)) % _ADLER_BASE
    return (b << 16) | a
