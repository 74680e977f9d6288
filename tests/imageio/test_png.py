"""The strip-by-strip PNG writer: what Pillow reads back is what was added, in any order."""

from __future__ import annotations

import io
import itertools
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from convcli.imageio.png import STREAM_MODES, PngStrips, StreamMode

DTYPES = {"L": np.uint8, "RGB": np.uint8, "I;16": np.uint16}


def random_image(mode: StreamMode, height: int, width: int, seed: int) -> npt.NDArray[Any]:
    shape = (height, width, 3) if mode == "RGB" else (height, width)
    high = 65536 if mode == "I;16" else 256
    return np.random.default_rng(seed).integers(0, high, shape).astype(DTYPES[mode])


def read_back(png: PngStrips) -> Image.Image:
    """The PNG as Pillow reads it, after zlib has checked its Adler-32 (Pillow does not)."""
    buffer = io.BytesIO()
    png.write(buffer)
    data = buffer.getvalue()
    assert zlib.decompress(b"".join(idat_chunks(data)))  # raises on a wrong checksum
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def idat_chunks(data: bytes) -> list[bytes]:
    """The data of every IDAT chunk of a PNG file, in order."""
    chunks, position = [], 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        if kind == b"IDAT":
            chunks.append(data[position + 8 : position + 8 + length])
        position += 12 + length
    return chunks


@pytest.mark.parametrize("mode", STREAM_MODES)
@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    cuts=st.lists(st.integers(1, 39), max_size=6),
    level=st.integers(0, 9),
    seed=st.integers(0, 2**16),
    order=st.randoms(use_true_random=False),
)
def test_strips_in_any_order_read_back_exactly(
    mode: StreamMode,
    height: int,
    width: int,
    cuts: list[int],
    level: int,
    seed: int,
    order: Any,
) -> None:
    pixels = random_image(mode, height, width, seed)
    bounds = sorted({0, height, *(cut for cut in cuts if cut < height)})
    strips = list(itertools.pairwise(bounds))
    order.shuffle(strips)
    png = PngStrips(height, width, mode, level=level)
    for start, stop in strips:
        png.add(start, pixels[start:stop])
    image = read_back(png)
    assert image.size == (width, height)
    assert image.mode == mode
    assert np.array_equal(np.asarray(image), pixels)


def test_strips_added_from_threads() -> None:
    pixels = random_image("RGB", 300, 200, 1)
    png = PngStrips(300, 200, "RGB", level=1)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda start: png.add(start, pixels[start : start + 7]), range(0, 300, 7)))
    assert np.array_equal(np.asarray(read_back(png)), pixels)


def test_missing_rows_are_an_error_not_a_short_file() -> None:
    png = PngStrips(10, 4, "L", level=1)
    png.add(0, np.zeros((4, 4), np.uint8))
    png.add(6, np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"rows 4\.\.5 were never added"):
        png.write(io.BytesIO())
    short = PngStrips(10, 4, "L", level=1)
    short.add(0, np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="rows up to 4, expected 10"):
        short.write(io.BytesIO())


def test_the_level_trades_size_for_time() -> None:
    smooth = np.add.outer(np.arange(256), np.arange(256)).astype(np.uint8)
    sizes = []
    for level in (0, 1, 9):
        png = PngStrips(256, 256, "L", level=level)
        png.add(0, smooth)
        buffer = io.BytesIO()
        png.write(buffer)
        sizes.append(len(buffer.getvalue()))
    assert sizes[0] > sizes[1] >= sizes[2]
    assert sizes[0] > 256 * 257  # level 0 stores the filtered rows as they are


@pytest.mark.parametrize(
    ("mode", "start", "rows"),
    [
        ("L", 0, np.zeros((2, 4), np.int64)),  # not uint8
        ("RGB", 0, np.zeros((2, 4, 4), np.uint8)),  # RGBA, not RGB
        ("L", 0, np.zeros((2, 5), np.uint8)),  # too wide
        ("I;16", 0, np.zeros((2, 4), np.uint8)),  # 8 bits, not 16
        ("L", 9, np.zeros((2, 4), np.uint8)),  # past the last row
        ("L", -1, np.zeros((2, 4), np.uint8)),
    ],
)
def test_rows_that_do_not_fit_are_refused(
    mode: StreamMode, start: int, rows: npt.NDArray[Any]
) -> None:
    with pytest.raises(ValueError, match=r"^PNG "):
        PngStrips(10, 4, mode, level=1).add(start, rows)


def test_rows_added_twice_are_refused() -> None:
    png = PngStrips(10, 4, "L", level=1)
    png.add(0, np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="added already"):
        png.add(0, np.zeros((4, 4), np.uint8))
    png.add(2, np.zeros((8, 4), np.uint8))  # overlaps rows 2..3
    with pytest.raises(ValueError, match=r"rows 2\.\.3 were added twice"):
        png.write(io.BytesIO())
