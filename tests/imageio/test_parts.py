"""TIFF, .npy and PNG read and written a band of rows at a time."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from convcli.imageio import tiff
from convcli.imageio.npy import NpyRows, write_npy
from convcli.imageio.png import write_png
from convcli.imageio.tiff import open_tiff_rows, write_tiff


def blocks_of(array: npt.NDArray[Any], *heights: int) -> Iterator[npt.NDArray[Any]]:
    """`array`'s rows in blocks of the given heights, the last one repeated."""
    start, index = 0, 0
    while start < len(array):
        height = heights[min(index, len(heights) - 1)]
        yield array[start : start + height]
        start, index = start + height, index + 1


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(1, 70),
    width=st.integers(1, 70),
    samples=st.sampled_from([1, 2, 3, 4]),
    dtype=st.sampled_from([np.uint8, np.uint16, np.float32]),
    layout=st.sampled_from([{"tile": (16, 16)}, {"rowsperstrip": 3}, {"rowsperstrip": 64}]),
    planar=st.booleans(),
    reads=st.lists(st.tuples(st.integers(0, 69), st.integers(1, 20)), min_size=1, max_size=6),
)
def test_tiff_rows_are_the_stored_samples(
    tmp_path_factory: pytest.TempPathFactory,
    height: int,
    width: int,
    samples: int,
    dtype: Any,
    layout: dict[str, Any],
    planar: bool,
    reads: list[tuple[int, int]],
) -> None:
    if dtype == np.float32 and samples > 1:
        samples = 1  # unitless samples are read in parts as one channel only
    rng = np.random.default_rng(height * width)
    shape = (height, width) if samples == 1 else (height, width, samples)
    pixels = (rng.random(shape) * 60000).astype(dtype)
    path = tmp_path_factory.mktemp("tiff") / "in.tif"
    layouts: dict[int, dict[str, Any]] = {
        2: {"photometric": "minisblack", "extrasamples": ("unassalpha",)},
        3: {"photometric": "rgb"},
        4: {"photometric": "rgb", "extrasamples": ("unassalpha",)},
    }
    extra = layouts.get(samples, {})
    stored = pixels
    if planar and samples > 1:
        extra = {**extra, "planarconfig": "separate"}
        stored = np.moveaxis(pixels, -1, 0)
    tifffile.imwrite(path, stored, **layout, **extra)
    opened = open_tiff_rows(path, "in.tif")
    assert opened is not None
    handle, rows = opened
    with handle:
        assert rows.shape == pixels.shape
        for start, count in reads:
            start = min(start, height - 1)
            stop = min(height, start + count)
            np.testing.assert_array_equal(rows.rows(start, stop), pixels[start:stop])


@pytest.mark.parametrize(
    ("shape", "dtype", "alpha"),
    [
        ((300, 280), np.uint8, False),
        ((40, 600, 2), np.uint8, True),
        ((257, 30, 3), np.uint16, False),
        ((30, 257, 4), np.uint8, True),
        ((31, 33), np.float32, False),
    ],
)
def test_a_tiff_written_from_blocks_of_rows_holds_them(
    tmp_path: Path, shape: tuple[int, ...], dtype: Any, alpha: bool
) -> None:
    pixels = (np.random.default_rng(0).random(shape) * 255).astype(dtype)
    with (tmp_path / "out.tif").open("wb") as stream:
        write_tiff(stream, shape, dtype, blocks_of(pixels, 7, 100, 3), alpha=alpha)
    with tifffile.TiffFile(tmp_path / "out.tif") as written:
        page = written.pages.first
        assert page.is_tiled
        assert not written.is_bigtiff
        assert (page.extrasamples == (2,)) == alpha
        np.testing.assert_array_equal(page.asarray(), pixels)


def test_a_tiff_past_4_gib_is_written_as_bigtiff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tiff, "_CLASSIC_LIMIT", 1000)  # what 4 GiB is, in small
    pixels = np.arange(40 * 30, dtype=np.uint8).reshape(40, 30)
    stream = io.BytesIO()
    write_tiff(stream, pixels.shape, np.uint8, blocks_of(pixels, 9), alpha=False)
    stream.seek(0)
    with tifffile.TiffFile(stream) as written:
        assert written.is_bigtiff
        np.testing.assert_array_equal(written.asarray(), pixels)


@pytest.mark.parametrize(
    ("mode", "shape", "dtype"),
    [
        ("L", (33, 17), np.uint8),
        ("LA", (33, 17, 2), np.uint8),
        ("RGB", (5, 40, 3), np.uint8),
        ("RGBA", (70, 3, 4), np.uint8),
        ("I;16", (21, 13), np.uint16),
    ],
)
def test_a_png_written_from_blocks_of_rows_holds_them(
    mode: str, shape: tuple[int, ...], dtype: Any
) -> None:
    pixels = np.random.default_rng(1).integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)
    stream = io.BytesIO()
    write_png(stream, shape[0], shape[1], mode, blocks_of(pixels, 1, 10, 4), level=6)
    stream.seek(0)
    with Image.open(stream) as image:
        image.load()
        assert image.mode == mode
        np.testing.assert_array_equal(np.asarray(image), pixels)


def test_a_png_short_of_rows_is_refused() -> None:
    pixels = np.zeros((10, 4), np.uint8)
    with pytest.raises(ValueError, match="rows up to 10, expected 11"):
        write_png(io.BytesIO(), 11, 4, "L", blocks_of(pixels, 3), level=1)


@pytest.mark.parametrize("dtype", ["<f4", ">f8", "<i2", ">u2"])
def test_npy_rows_are_the_array_in_native_order(tmp_path: Path, dtype: str) -> None:
    array = (np.random.default_rng(2).random((23, 7, 3)) * 1000).astype(dtype)
    np.save(tmp_path / "a.npy", array)
    with (tmp_path / "a.npy").open("rb") as stream:
        np.lib.format.read_magic(stream)
        np.lib.format.read_array_header_1_0(stream)
        rows = NpyRows(stream, "a.npy", array.shape, array.dtype)
        assert rows.dtype.isnative
        np.testing.assert_array_equal(rows.rows(5, 19), array[5:19])


def test_an_npy_written_from_blocks_is_what_numpy_saves(tmp_path: Path) -> None:
    array = np.random.default_rng(3).random((31, 9)).astype(np.float32)
    stream = io.BytesIO()
    write_npy(stream, array.shape, array.dtype, blocks_of(array, 4))
    saved = io.BytesIO()
    np.save(saved, array)
    assert stream.getvalue() == saved.getvalue()


def test_a_bigtiff_is_read_in_parts(tmp_path: Path) -> None:
    pixels = np.arange(50 * 40, dtype=np.uint16).reshape(50, 40)
    tifffile.imwrite(tmp_path / "big.tif", pixels, tile=(16, 16), bigtiff=True)
    opened = open_tiff_rows(tmp_path / "big.tif", "big.tif")
    assert opened is not None
    handle, rows = opened
    with handle:
        assert handle.is_bigtiff
        np.testing.assert_array_equal(rows.rows(7, 45), pixels[7:45])
