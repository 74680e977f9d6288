"""TIFF read and written in parts, through tifffile: images larger than memory.

A TIFF stores its pixels in strips or tiles, each compressed on its own, so a band of rows
can be decoded without the rest. :class:`TiffRows` decodes the segments a read needs and
keeps the last few bands; :func:`write_tiff` writes tiles as the rows arrive. Both hold any
sample type tifffile does, 16-bit colour included (Pillow truncates it to 8 bits).

What is read in parts: the first image of the file, gray or RGB, each with or without an
unassociated alpha, of 8- or 16-bit samples (or one channel of 32- or 64-bit integers or
floats), tiled or striped, planar or interleaved, in any compression tifffile decodes
without further packages (none, deflate, LZMA, PackBits; more with ``imagecodecs``). The rest
(palette, CMYK, JPEG or LZW compression without ``imagecodecs``, an EXIF orientation) is
decoded whole by Pillow, as before.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import tifffile

from convcli.core.rows import CachedRows
from convcli.errors import ImageReadError, ImageWarning

_MINISBLACK, _RGB = 1, 2
_UNASSOCIATED_ALPHA = 2
_ORIENTATION_TAG = 274
TILE = 256
"""Tile side of the TIFFs written, in pixels: libvips' and GDAL's usual size."""
_CLASSIC_LIMIT = 2**32 - 2**25
"""Bytes of pixels past which a TIFF is written as BigTIFF (32-bit offsets end at 4 GiB; the
rest is room for the tags and tile tables)."""


class TiffRows(CachedRows):
    """The stored samples of a TIFF's first image, (H, W) or (H, W, S), decoded a band of
    segments at a time when read (a :class:`~convcli.core.padding.RowSource`).

    Use :func:`open_tiff_rows`; valid while its file is open.
    """

    def __init__(self, tiff: tifffile.TiffFile, page: tifffile.TiffPage, label: str) -> None:
        self._tiff, self._page, self._label = tiff, page, label
        self._height, self._width = int(page.imagelength), int(page.imagewidth)
        self._samples = int(page.samplesperpixel)
        self._segment_rows = int(page.tilelength if page.is_tiled else page.rowsperstrip)
        self._segment_rows = max(1, min(self._segment_rows, self._height))
        samples = () if self._samples == 1 else (self._samples,)
        stored = page.dtype
        if stored is None:  # refused by open_tiff_rows: tifffile knows no array type for it
            raise ImageReadError(f"cannot read {label!r}: a sample type tifffile cannot read")
        super().__init__(
            (self._height, self._width, *samples), stored.newbyteorder("="), self._segment_rows
        )
        page.init_decode()  # once, here: tifffile makes its decoder on first use

    def _make(self, start: int, stop: int) -> npt.NDArray[Any]:
        page = self._page
        block = np.zeros((stop - start, self._width, self._samples), self.dtype)
        across = -(-self._width // int(page.tilewidth)) if page.is_tiled else 1
        down = -(-self._height // self._segment_rows)
        planes = self._samples if page.planarconfig == 2 else 1
        first, last = start // self._segment_rows, (stop - 1) // self._segment_rows
        indices = [
            plane * down * across + row * across + column
            for plane in range(planes)
            for row in range(first, last + 1)
            for column in range(across)
        ]
        handle = self._tiff.filehandle
        offsets = [page.dataoffsets[index] for index in indices]
        counts = [page.databytecounts[index] for index in indices]
        try:
            for data, index in handle.read_segments(offsets, counts, indices, sort=True):
                segment, (plane, _, top, left, sample), _ = page.decode(
                    data, index, jpegtables=page.jpegtables
                )
                if segment is None:  # an empty segment: zeros, as the block already holds
                    continue
                pixels = segment[0]  # (rows, columns, samples of this segment)
                rows = slice(max(top, start), min(top + len(pixels), stop))
                columns = min(pixels.shape[1], self._width - left)
                channel = plane if planes > 1 else sample
                block[
                    rows.start - start : rows.stop - start,
                    left : left + columns,
                    channel : channel + pixels.shape[2],
                ] = pixels[rows.start - top : rows.stop - top, :columns]
        except Exception as error:  # tifffile raises what its codecs raise
            raise ImageReadError(f"cannot decode {self._label!r}: {error}") from None
        return block if self._samples > 1 else block[..., 0]


def open_tiff_rows(path: Path, label: str) -> tuple[tifffile.TiffFile, TiffRows] | None:
    """The open file and the samples of a TIFF that can be read in parts, or None if it
    cannot (see the module docstring), is not a TIFF tifffile reads, or its first band does
    not decode: Pillow then decodes it whole. The caller closes the file."""
    with _tifffile_quiet():
        return _opened(path, label)


def _opened(path: Path, label: str) -> tuple[tifffile.TiffFile, TiffRows] | None:
    try:
        tiff = tifffile.TiffFile(path)
    except (OSError, ValueError, tifffile.TiffFileError):
        return None
    try:
        page = tiff.pages.first
        if not isinstance(page, tifffile.TiffPage) or not _readable_in_parts(page):
            tiff.close()
            return None
        rows = TiffRows(tiff, page, label)
        rows.rows(0, 1)  # a codec tifffile names but cannot run (zstd without its module)
        frames = len(tiff.pages)
    except (OSError, ValueError, tifffile.TiffFileError, IndexError, ImageReadError):
        tiff.close()
        return None
    if frames > 1:
        warnings.warn(
            f"{label}: {frames} frames; convcli reads the first", ImageWarning, stacklevel=3
        )
    return tiff, rows


@contextmanager
def _tifffile_quiet() -> Iterator[None]:
    """Keep tifffile's log lines about a file it cannot read off stderr: Pillow reads it
    next, and its error, if any, is the one line said."""
    logger = logging.getLogger("tifffile")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _readable_in_parts(page: tifffile.TiffPage) -> bool:
    samples, extra = int(page.samplesperpixel), tuple(page.extrasamples)
    layout_ok = (
        (page.photometric == _MINISBLACK and samples == 1 and not extra)
        or (page.photometric == _MINISBLACK and samples == 2 and extra == (_UNASSOCIATED_ALPHA,))
        or (page.photometric == _RGB and samples == 3 and not extra)
        or (page.photometric == _RGB and samples == 4 and extra == (_UNASSOCIATED_ALPHA,))
    )
    dtype = page.dtype
    if not layout_ok or dtype is None or page.imagedepth != 1 or page.fillorder != 1:
        return False
    if dtype.kind not in "uif" or (samples > 1 and dtype not in (np.uint8, np.uint16)):
        return False
    if dtype == np.uint8 and page.bitspersample != 8:
        return False
    orientation = page.tags.get(_ORIENTATION_TAG)
    if orientation is not None and orientation.value != 1:
        return False
    try:
        tifffile.TIFF.DECOMPRESSORS[page.compression]
    except KeyError:
        return False
    return int(page.imagelength) > 0 and int(page.imagewidth) > 0


def write_tiff(
    stream: Any,
    shape: tuple[int, ...],
    dtype: npt.DTypeLike,
    blocks: Iterator[npt.NDArray[Any]],
    *,
    alpha: bool,
) -> None:
    """Write a tiled TIFF of `shape` ((H, W) or (H, W, S)) from `blocks` of rows, in order.

    Gray or RGB by the number of samples, the last one an unassociated alpha when `alpha`;
    BigTIFF when the pixels pass 4 GiB. Only a band of tiles is held at a time.
    """
    height, width = shape[0], shape[1]
    samples = 1 if len(shape) == 2 else shape[2]
    colour = samples - int(alpha)
    item = np.dtype(dtype).itemsize
    big = height * width * samples * item > _CLASSIC_LIMIT
    with tifffile.TiffWriter(stream, bigtiff=big) as writer:
        writer.write(
            _tiles(shape, np.dtype(dtype), blocks),
            shape=shape,
            dtype=dtype,
            tile=(TILE, TILE),
            photometric="rgb" if colour == 3 else "minisblack",
            extrasamples=("unassalpha",) if alpha else None,
            metadata=None,
        )


def write_tiff_pages(stream: Any, planes: npt.NDArray[Any]) -> None:
    """Write (N, H, W) `planes` as one series of N gray pages (BigTIFF past 4 GiB):
    ``tifffile.imread`` gives the (N, H, W) stack back."""
    big = planes.nbytes > _CLASSIC_LIMIT
    with tifffile.TiffWriter(stream, bigtiff=big) as writer:
        writer.write(planes, photometric="minisblack", metadata=None)


def _tiles(
    shape: tuple[int, ...], dtype: np.dtype[Any], blocks: Iterator[npt.NDArray[Any]]
) -> Iterator[npt.NDArray[Any]]:
    """The tiles, row band by row band, from blocks of rows of any height."""
    height, width = shape[0], shape[1]
    band = np.empty((TILE, *shape[1:]), dtype)
    filled, done = 0, 0
    for block in blocks:
        taken = 0
        while taken < len(block):
            band_height = min(TILE, height - done)  # the last band may be short
            count = min(len(block) - taken, band_height - filled)
            band[filled : filled + count] = block[taken : taken + count]
            filled, taken = filled + count, taken + count
            if filled == band_height:
                for left in range(0, width, TILE):
                    yield band[:filled, left : left + TILE]
                done, filled = done + filled, 0
                band = np.empty_like(band)  # the tiles yielded may still be in use
