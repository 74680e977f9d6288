"""The Pillow boundary: grayscale conversion in float, formats, and writes that lose nothing."""

from __future__ import annotations

import os
import re
import stat
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np
import pytest
from PIL import Image

from convcli import ImageReadError, ImageWriteError, ParameterError
from convcli.errors import ImageWarning
from convcli.image_io import (
    OUTPUT_FORMATS,
    output_format,
    read_gray,
    read_size,
    write_atomically,
    write_gray,
)
from tests.conftest import open_with_a_warning


def test_rgb_becomes_rec601_luma_in_float(tmp_path: Path) -> None:
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 31]]], dtype=np.uint8)
    path = tmp_path / "rgb.png"
    Image.fromarray(rgb).save(path)
    gray = read_gray(path)
    assert gray.dtype == np.float64
    expected = [0.299 * 255, 0.587 * 255, 0.114 * 255, 0.299 * 10 + 0.587 * 20 + 0.114 * 31]
    np.testing.assert_allclose(gray, [expected], rtol=1e-12)
    # Pillow's own "L" conversion rounds these to integers; we keep the fractions.
    assert gray[0, 3] != round(gray[0, 3])


def test_gray_is_read_as_is(tmp_path: Path) -> None:
    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    path = tmp_path / "gray.png"
    Image.fromarray(pixels).save(path)
    assert np.array_equal(read_gray(path), pixels)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("1", [0.0, 255.0]),
        ("LA", [10.0, 200.0]),
        ("RGBA", [10.0, 200.0]),
        ("P", [10.0, 200.0]),
        ("CMYK", [10.0, 200.0]),
    ],
)
def test_other_8_bit_modes(tmp_path: Path, mode: str, expected: list[float]) -> None:
    source = Image.fromarray(np.array([[10, 200]], dtype=np.uint8))
    if mode == "1":
        source = source.point(lambda v: 255 if v > 100 else 0)
    converted = source.convert(mode)
    path = tmp_path / ("image.tif" if mode == "CMYK" else "image.png")
    converted.save(path)
    with Image.open(path) as reread:
        assert reread.mode == mode
    np.testing.assert_allclose(read_gray(path), [expected], atol=0.6)


def test_jpeg_is_read(tmp_path: Path) -> None:
    path = tmp_path / "flat.jpg"
    Image.new("RGB", (8, 4), (120, 120, 120)).save(path, quality=100)
    gray = read_gray(path)
    assert gray.shape == (4, 8)
    np.testing.assert_allclose(gray, 120, atol=1.5)


def test_sixteen_bit_is_refused_rather_than_clipped(tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    Image.fromarray(np.array([[1000, 60000]], dtype=np.uint16)).save(path)
    with pytest.raises(ImageReadError, match=r"16-bit images \(mode I;16\) are not supported yet"):
        read_gray(path)


def test_read_size_is_height_then_width(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    Image.new("L", (40, 10)).save(path)
    assert read_size(path) == (10, 40)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "no such file"),
        (lambda p: (p.mkdir(), p)[1], "it is a directory"),
        (lambda p: (p.write_text("hello"), p)[1], "not an image format Pillow knows"),
        (lambda p: (p.write_bytes(b""), p)[1], "not an image format Pillow knows"),
    ],
)
def test_unreadable_inputs(tmp_path: Path, make: Callable[[Path], Path], message: str) -> None:
    path = make(tmp_path / "in.png")
    with pytest.raises(ImageReadError, match=f"^cannot read '.*in.png': {message}$"):
        read_gray(path)


def test_truncated_image(tmp_path: Path) -> None:
    whole = tmp_path / "whole.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)).save(whole)
    cut = tmp_path / "cut.png"
    cut.write_bytes(whole.read_bytes()[:600])
    with pytest.raises(ImageReadError, match=r"^cannot decode '.*cut\.png': "):
        read_gray(cut)


@pytest.mark.parametrize("extension", list(OUTPUT_FORMATS))
def test_every_output_format_keeps_size_and_gray_values(tmp_path: Path, extension: str) -> None:
    pixels = np.random.default_rng(3).integers(0, 256, (37, 53), dtype=np.uint8)
    path = tmp_path / f"out{extension}"
    write_gray(path, pixels, output_format(path))
    with Image.open(path) as image:
        assert image.format == OUTPUT_FORMATS[extension]
        assert (image.height, image.width) == (37, 53)
        if image.mode == "RGB":  # WebP has no gray mode: three equal channels
            channels = np.asarray(image)
            assert (channels == channels[..., :1]).all()
    if OUTPUT_FORMATS[extension] == "JPEG":
        assert np.abs(read_gray(path) - pixels).max() < 64
    else:
        np.testing.assert_allclose(read_gray(path), pixels, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("name", "message"),
    [("out", "output 'out' has no extension; use one of .png"),
     ("out.xyz", "output 'out.xyz' has the extension '.xyz', which names no format convcli writes"),
     # Pillow writes these, but not as the 8-bit gray image of the right size:
     ("out.ico", "'.ico', which names no format"),  # shrunk to icon sizes
     ("out.pbm", "'.pbm', which names no format"),  # a PGM under a bitmap's name
     ("out.pfm", "'.pfm', which names no format"),  # not a float map
     ("out.xbm", "'.xbm', which names no format")],  # cannot hold gray at all
)  # fmt: skip
def test_output_format_unknown(name: str, message: str) -> None:
    with pytest.raises(ParameterError, match=re.escape(message)):
        output_format(Path(name))


def test_write_gray_round_trips(tmp_path: Path) -> None:
    pixels = np.arange(60, dtype=np.uint8).reshape(6, 10)
    path = tmp_path / "out.png"
    write_gray(path, pixels, "PNG")
    with Image.open(path) as image:
        assert image.mode == "L"
        assert np.array_equal(np.asarray(image), pixels)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_new_files_get_the_usual_permissions(tmp_path: Path) -> None:
    path = tmp_path / "out.png"
    umask = os.umask(0o022)
    try:
        write_gray(path, np.zeros((2, 2), dtype=np.uint8), "PNG")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_replaced_files_keep_their_permissions(tmp_path: Path) -> None:
    path = tmp_path / "out.png"
    path.write_bytes(b"old")
    path.chmod(0o600)
    write_gray(path, np.zeros((2, 2), dtype=np.uint8), "PNG")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "out.png"
    path.write_bytes(b"precious")

    def fail_halfway(stream: IO[bytes]) -> None:
        stream.write(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(
        ImageWriteError, match=r"^cannot write '.*out\.png': No space left on device$"
    ):
        write_atomically(path, fail_halfway)
    assert path.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_an_encoder_error_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "out.png"
    # JPEG cannot hold a 2-channel image: Pillow refuses while encoding.
    with pytest.raises(ImageWriteError, match=r"^cannot write '.*out\.png': "):
        write_gray(path, np.zeros((2, 2, 2), dtype=np.uint8), "JPEG")
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_write_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "out.png"

    def interrupted(stream: IO[bytes]) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, interrupted)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("relative", "message"),
    [("missing/out.png", "directory '.*missing' does not exist"),
     ("file.txt/out.png", "'.*file.txt' is not a directory"),
     ("adir", "it is a directory")],
)  # fmt: skip
def test_unwritable_destinations(tmp_path: Path, relative: str, message: str) -> None:
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "adir").mkdir()
    with pytest.raises(ImageWriteError, match=f"^cannot write '.*': {message}$"):
        write_gray(tmp_path / relative, np.zeros((2, 2), dtype=np.uint8), "PNG")


def test_a_symbolic_link_is_written_through(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "target.png"
    target.write_bytes(b"old")
    link = tmp_path / "link.png"
    link.symlink_to(target)
    write_gray(link, np.full((2, 3), 7, dtype=np.uint8), "PNG")
    assert link.is_symlink()
    assert read_size(target) == (2, 3)
    assert [p.name for p in (tmp_path / "real").iterdir()] == ["target.png"]


def test_a_dangling_symbolic_link_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link.png"
    link.symlink_to(tmp_path / "new.png")
    write_gray(link, np.zeros((2, 2), dtype=np.uint8), "PNG")
    assert link.is_symlink()
    assert read_size(tmp_path / "new.png") == (2, 2)


def test_pillow_warnings_name_the_file_once_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "gray.png"
    Image.new("L", (4, 3)).save(path)
    open_with_a_warning(monkeypatch, "Corrupt EXIF data")
    with pytest.warns(ImageWarning, match=f"^{re.escape(str(path))}: Corrupt EXIF data$"):
        assert read_gray(path).shape == (3, 4)


def test_pillow_warnings_are_dropped_when_decoding_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "gray.png"
    Image.new("L", (4, 3)).save(path)
    open_with_a_warning(monkeypatch, "Corrupt EXIF data", fail=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning that escapes fails the test
        with pytest.raises(ImageReadError, match="broken data stream"):
            read_gray(path)


def test_size_and_transparency_warnings_say_nothing_to_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    palette = tmp_path / "palette.png"
    image = Image.new("P", (30, 20))
    image.putpalette([0, 0, 0, 255, 255, 255] * 128)
    image.info["transparency"] = b"\x00" * 256
    image.save(palette, transparency=b"\x00" * 256)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 400)  # 600 pixels: a warning, not an error
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_gray(palette).shape == (20, 30)


def test_images_past_pillows_hard_limit_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.png"
    Image.new("L", (30, 20)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 200)  # 600 > 2 * 200
    with pytest.raises(
        ImageReadError, match=r"^cannot read '.*big\.png': Image size .*exceeds limit"
    ):
        read_gray(path)
