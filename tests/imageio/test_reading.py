"""Reading images: every mode in its own units, gray weights, alpha, EXIF, frames, hostile files."""

from __future__ import annotations

import io
import os
import re
import threading
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from convcli import ImageReadError
from convcli.errors import ImageWarning
from convcli.imageio.reading import GRAY_WEIGHTS, DecodedImage, open_image, read_size
from tests import images
from tests.conftest import open_with_a_warning


def decode(
    path: Path | bytes, *, color: bool = False, gray: str = "rec601", **kw: object
) -> DecodedImage:
    with open_image(path, **kw) as image:  # type: ignore[arg-type]
        return image.decode(color=color, gray=gray)


# --- gray and colour -------------------------------------------------------------------------


@pytest.mark.parametrize("weights", ["rec601", "rec709", "average"])
def test_colour_becomes_gray_in_float_by_the_chosen_weights(tmp_path: Path, weights: str) -> None:
    rgb = images.rgb8(tmp_path / "c.png")
    decoded = decode(tmp_path / "c.png", gray=weights)
    wr, wg, wb = {"rec601": (0.299, 0.587, 0.114), "rec709": (0.2126, 0.7152, 0.0722),
                  "average": (1 / 3, 1 / 3, 1 / 3)}[weights]  # fmt: skip
    expected = wr * rgb[..., 0] + wg * rgb[..., 1] + wb * rgb[..., 2]
    # Computed in float32, as everything that comes from 8- or 16-bit samples.
    assert decoded.values.dtype == np.float32
    np.testing.assert_allclose(decoded.values, expected, rtol=2 * float(np.finfo(np.float32).eps))
    assert decoded.gray == weights
    assert tuple(GRAY_WEIGHTS[weights]) == pytest.approx((wr, wg, wb))


def test_no_early_rounding(tmp_path: Path) -> None:
    Image.fromarray(np.array([[[10, 20, 31]]], dtype=np.uint8)).save(tmp_path / "c.png")
    value = decode(tmp_path / "c.png").values[0, 0]
    assert value == pytest.approx(0.299 * 10 + 0.587 * 20 + 0.114 * 31)
    assert value != round(value)  # Pillow's "L" would have rounded it


def test_color_keeps_the_three_channels(tmp_path: Path) -> None:
    rgb = images.rgb8(tmp_path / "c.png")
    decoded = decode(tmp_path / "c.png", color=True)
    assert np.array_equal(decoded.values, rgb)
    assert decoded.gray is None


def test_gray_is_read_as_is_even_with_color(tmp_path: Path) -> None:
    pixels = images.gray8(tmp_path / "g.png")
    for color in (False, True):
        decoded = decode(tmp_path / "g.png", color=color)
        assert np.array_equal(decoded.values, pixels)
        assert decoded.gray is None


# --- modes, in their own units ----------------------------------------------------------------


def test_one_bit_is_0_and_255(tmp_path: Path) -> None:
    expected = images.one_bit(tmp_path / "b.png")
    assert np.array_equal(decode(tmp_path / "b.png").values, expected)


def test_cmyk_jpeg(tmp_path: Path) -> None:
    rgb = images.cmyk_jpeg(tmp_path / "c.jpg")
    assert np.array_equal(decode(tmp_path / "c.jpg", color=True).values, rgb)
    assert rgb[0, 0].tolist() == [255, 0, 0]


@pytest.mark.parametrize("name", ["g16.png", "g16.tif"])
def test_sixteen_bit_is_read_at_full_precision(tmp_path: Path, name: str) -> None:
    pixels = images.gray16(tmp_path / name)
    with open_image(tmp_path / name) as image:
        assert (image.info.depth, image.info.max_value) == ("16", 65535.0)
        decoded = image.decode(color=False, gray="rec601")
    assert np.array_equal(decoded.values, pixels)  # 65535 stays 65535, 300 stays 300


def test_32_bit_integer_and_float_values_as_stored(tmp_path: Path) -> None:
    integers = images.int32_tiff(tmp_path / "i.tif")
    floats = images.float_tiff(tmp_path / "f.tif")
    for path, expected in ((tmp_path / "i.tif", integers), (tmp_path / "f.tif", floats)):
        with open_image(path) as image:
            assert image.info.depth == "unitless"
            assert image.info.max_value is None
            assert np.array_equal(image.decode(color=False, gray="rec601").values, expected)


def test_sixteen_bit_colour_says_it_is_read_as_8_bit(tmp_path: Path) -> None:
    images.rgb16_png(tmp_path / "c16.png")
    with pytest.warns(ImageWarning, match="16-bit colour is read as 8 bits per channel"):
        decoded = decode(tmp_path / "c16.png", color=True)
    assert decoded.values[0, 0].tolist() == [40000 >> 8] * 3


# --- alpha -----------------------------------------------------------------------------------


def test_alpha_is_kept_apart(tmp_path: Path) -> None:
    rgba = images.rgba8(tmp_path / "a.png")
    decoded = decode(tmp_path / "a.png", color=True)
    assert np.array_equal(decoded.values, rgba[..., :3])
    assert decoded.alpha is not None
    assert np.array_equal(decoded.alpha, rgba[..., 3])
    gray = decode(tmp_path / "a.png")
    assert gray.alpha is not None
    assert np.array_equal(gray.alpha, rgba[..., 3])


def test_gray_with_alpha(tmp_path: Path) -> None:
    la = images.la8(tmp_path / "la.png")
    decoded = decode(tmp_path / "la.png")
    assert np.array_equal(decoded.values, la[..., 0])
    assert decoded.alpha is not None
    assert np.array_equal(decoded.alpha, la[..., 1])


def test_a_transparent_palette_becomes_colour_and_alpha(tmp_path: Path) -> None:
    rgb, alpha = images.palette_with_transparency(tmp_path / "p.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's advice about palettes is not passed on
        decoded = decode(tmp_path / "p.png", color=True)
    assert np.array_equal(decoded.values, rgb)
    assert decoded.alpha is not None
    assert np.array_equal(decoded.alpha, alpha)
    assert sorted(set(alpha.ravel().tolist())) == [0, 255]


def test_alpha_can_be_dropped(tmp_path: Path) -> None:
    images.rgba8(tmp_path / "a.png")
    with open_image(tmp_path / "a.png") as image:
        assert image.decode(color=True, gray="rec601", keep_alpha=False).alpha is None


# --- orientation and frames ------------------------------------------------------------------


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    upright = images.rotated_jpeg(tmp_path / "r.jpg")
    with open_image(tmp_path / "r.jpg") as image:
        assert image.info.size == (3, 2)
        values = image.decode(color=False, gray="rec601").values
    assert values.shape == (3, 2)
    np.testing.assert_allclose(values, upright, atol=6)
    assert read_size(tmp_path / "r.jpg") == (3, 2)


def test_exif_orientation_can_be_ignored(tmp_path: Path) -> None:
    images.rotated_jpeg(tmp_path / "r.jpg")
    with open_image(tmp_path / "r.jpg", auto_orient=False) as image:
        assert image.info.size == (2, 3)
        assert image.decode(color=False, gray="rec601").values.shape == (2, 3)


def test_multi_frame_reads_the_first_with_a_warning(tmp_path: Path) -> None:
    images.multi_frame_gif(tmp_path / "m.gif")
    with pytest.warns(ImageWarning, match=r"m\.gif: 2 frames; convcli reads the first"):
        decoded = decode(tmp_path / "m.gif")
    assert np.unique(decoded.values).tolist() == [10.0]


# --- .npy and bytes --------------------------------------------------------------------------


def test_npy_is_used_as_is(tmp_path: Path) -> None:
    array = images.npy(tmp_path / "a.npy", np.random.default_rng(1).normal(size=(4, 5, 2)))
    with open_image(tmp_path / "a.npy") as image:
        assert (image.info.format, image.info.channels, image.info.depth) == ("NPY", 2, "unitless")
        decoded = image.decode(color=False, gray="rec601")
    assert np.array_equal(decoded.values, array)


def test_bytes_are_detected_by_content(tmp_path: Path) -> None:
    pixels = images.gray8(tmp_path / "g.png")
    decoded = decode((tmp_path / "g.png").read_bytes())
    assert decoded.info.name == "-"
    assert np.array_equal(decoded.values, pixels)
    array = images.npy(tmp_path / "a.npy", np.arange(6.0).reshape(2, 3))
    assert np.array_equal(decode((tmp_path / "a.npy").read_bytes()).values, array)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.ones(3), "an array of shape (3,); an image is (H, W) or (H, W, C)"),
        (np.ones((0, 3)), "an array of shape (0, 3)"),
        (np.array([[1.0, np.nan]]), "it holds NaN or infinite values"),
        (np.ones((2, 2), dtype=complex), "dtype complex128 is not real numbers"),
    ],
)
def test_bad_npy_images(tmp_path: Path, array: npt.NDArray[Any], message: str) -> None:
    np.save(tmp_path / "a.npy", array)
    with pytest.raises(ImageReadError, match=re.escape(message)):
        decode(tmp_path / "a.npy")


def test_pickled_npy_image_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "o.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    with pytest.raises(ImageReadError, match="holds Python objects"):
        decode(tmp_path / "o.npy")


# --- hostile and broken files ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "no such file"),
        (lambda p: (p.mkdir(), p)[1], "it is a directory"),
        (lambda p: (p.write_text("hello"), p)[1], "not an image format Pillow knows"),
        (lambda p: (p.write_bytes(b""), p)[1], "it is empty"),
    ],
)
def test_unreadable_inputs(tmp_path: Path, make: Callable[[Path], Path], message: str) -> None:
    path = make(tmp_path / "in.png")
    with pytest.raises(ImageReadError, match=f"^cannot read '.*in.png': {message}$"):
        decode(path)


def test_empty_bytes() -> None:
    with pytest.raises(ImageReadError, match=r"^cannot read '-': it is empty$"):
        decode(b"")


@pytest.mark.parametrize("kind", ["PNG", "JPEG"])
def test_truncated_images(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"cut.{kind.lower()}"
    images.truncated(path, kind)
    with pytest.raises(ImageReadError, match=r"^cannot (decode|read) '.*cut\.\w+': "):
        decode(path)


def test_a_decompression_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    images.bomb_png(tmp_path / "bomb.png")
    message = (
        "its header claims 100000x100000 = 10000000000 pixels, over the limit of 89478485"
        " (a decompression bomb?); raise it with --max-pixels if the image is genuine"
    )
    with pytest.raises(ImageReadError, match=re.escape(message)):
        decode(tmp_path / "bomb.png")


def test_max_pixels_moves_the_limit_both_ways(tmp_path: Path) -> None:
    Image.new("L", (300, 400)).save(tmp_path / "big.png")  # 120,000 pixels
    with pytest.raises(ImageReadError, match="over the limit of 100000"):
        decode(tmp_path / "big.png", max_pixels=100_000)
    # Above Pillow's own limit too: convcli's limit is the one that counts.
    Image.MAX_IMAGE_PIXELS, previous = 1000, Image.MAX_IMAGE_PIXELS
    try:
        assert decode(tmp_path / "big.png", max_pixels=200_000).values.shape == (400, 300)
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def test_pillow_warnings_name_the_file_once_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "gray.png"
    Image.new("L", (4, 3)).save(path)
    open_with_a_warning(monkeypatch, "Corrupt EXIF data")
    with pytest.warns(ImageWarning, match=f"^{re.escape(str(path))}: Corrupt EXIF data$"):
        assert decode(path).values.shape == (3, 4)


def test_pillow_warnings_are_dropped_when_decoding_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "gray.png"
    Image.new("L", (4, 3)).save(path)
    open_with_a_warning(monkeypatch, "Corrupt EXIF data", fail=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning that escapes fails the test
        with pytest.raises(ImageReadError, match="broken data stream"):
            decode(path)


def test_read_size_is_height_then_width(tmp_path: Path) -> None:
    Image.new("L", (40, 10)).save(tmp_path / "wide.png")
    assert read_size(tmp_path / "wide.png") == (10, 40)
    images.bomb_png(tmp_path / "bomb.png")
    assert read_size(tmp_path / "bomb.png") == (100_000, 100_000)  # the header only


@pytest.mark.parametrize("suffix", [".jpg", ".tif", ".png"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation(tmp_path: Path, suffix: str, orientation: int) -> None:
    path = tmp_path / f"o{suffix}"
    upright = images.oriented(path, orientation)
    tolerance = 3 if suffix == ".jpg" else 0
    with open_image(path) as image:
        assert image.info.size == upright.shape
        values = image.decode(color=False, gray="rec601").values
    np.testing.assert_allclose(values, upright, atol=tolerance)
    with open_image(path, auto_orient=False) as image:
        assert image.info.size == (2, 3)
        stored = image.decode(color=False, gray="rec601").values
    np.testing.assert_allclose(stored, images.oriented(path, 1), atol=tolerance)


@pytest.mark.parametrize("mode", ["L", "RGB", "I;16"])
def test_one_transparent_colour_becomes_alpha(tmp_path: Path, mode: str) -> None:
    values, alpha = images.keyed(tmp_path / "k.png", mode)
    with open_image(tmp_path / "k.png") as image:
        assert image.info.has_alpha
        decoded = image.decode(color=True, gray="rec601")
    assert np.array_equal(decoded.values, values)
    assert decoded.alpha is not None
    assert np.array_equal(decoded.alpha, alpha)


def test_png_pixels_are_not_decoded_to_read_the_header(tmp_path: Path) -> None:
    Image.new("L", (3000, 3000)).save(tmp_path / "big.png")
    tracemalloc.start()
    try:
        assert read_size(tmp_path / "big.png") == (3000, 3000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # the pixels alone are 9 MB


def test_a_pipe_is_read_once(tmp_path: Path) -> None:
    pixels = images.gray8(tmp_path / "g.png")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes((tmp_path / "g.png").read_bytes()))
    writer.start()
    try:
        assert np.array_equal(decode(fifo).values, pixels)
    finally:
        writer.join(timeout=10)


def test_an_npy_bomb_on_a_stream_is_refused_from_its_header() -> None:
    header = io.BytesIO()  # an .npy header that claims 10^10 float64 values, and no data
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (100_000, 100_000)}
    )
    with pytest.raises(ImageReadError, match="claims 100000x100000 = 10000000000 pixels"):
        decode(header.getvalue())
    wide = io.BytesIO()  # few pixels, a million values each
    np.lib.format.write_array_header_1_0(
        wide, {"descr": "<f8", "fortran_order": False, "shape": (100, 100, 1_000_000)}
    )
    with pytest.raises(ImageReadError, match="of 1000000 values, over the limit"):
        decode(wide.getvalue())
