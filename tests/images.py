"""Test images made in code: every mode, depth and kind of broken file the tests need.

Nothing here is a stored binary: each function writes its file and returns what it holds.
Random pixels are seeded by the call itself (the file's name, the size, the mode), so a test
gets the same image whether it runs alone or after any other.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from PIL import Image

Sample = TypeVar("Sample", bound=np.generic)


def random_numbers(path: Path, *about: object) -> np.random.Generator:
    """A generator seeded by the name of the file being made and by `about` (its size, its
    mode): the same numbers for the same call, different ones for another file or size."""
    return np.random.default_rng(list(f"{path.name} {about}".encode()))


def gray8(path: Path, height: int = 6, width: int = 9) -> npt.NDArray[np.uint8]:
    """An 8-bit gray image of random values."""
    return saved(path, random8(path, height, width))


def rgb8(path: Path, height: int = 6, width: int = 9) -> npt.NDArray[np.uint8]:
    """An 8-bit RGB image of random values."""
    return saved(path, random8(path, height, width, 3))


def rgba8(path: Path, height: int = 6, width: int = 9) -> npt.NDArray[np.uint8]:
    """An 8-bit RGBA image: random colour, an alpha ramp."""
    pixels = random8(path, height, width, 4)
    pixels[..., 3] = np.arange(height * width).reshape(height, width) % 256
    return saved(path, pixels)


def la8(path: Path, height: int = 6, width: int = 9) -> npt.NDArray[np.uint8]:
    """An 8-bit gray and alpha image."""
    return saved(path, random8(path, height, width, 2))


def random8(path: Path, *shape: int) -> npt.NDArray[np.uint8]:
    """Random 8-bit samples of `shape` for the file at `path` (see :func:`random_numbers`)."""
    return random_numbers(path, *shape).integers(0, 256, shape, dtype=np.uint8)


def saved(path: Path, pixels: npt.NDArray[Sample]) -> npt.NDArray[Sample]:
    """`pixels`, once Pillow has written them to `path` (the format by its extension)."""
    Image.fromarray(pixels).save(path)
    return pixels


def palette_with_transparency(path: Path) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """A palette PNG whose index 0 is transparent: (RGB, alpha) as Pillow reads them."""
    image = Image.new("P", (4, 3))
    image.putpalette([10, 20, 30, 200, 100, 50] + [0, 0, 0] * 254)
    image.putdata([0, 1, 1, 0, 1, 1, 0, 1, 0, 0, 1, 1])
    image.save(path, transparency=0)
    with Image.open(path) as reread:
        rgba = np.asarray(reread.convert("RGBA"))
    return rgba[..., :3], rgba[..., 3]


def one_bit(path: Path) -> npt.NDArray[np.uint8]:
    """A 1-bit image; read as 0 and 255."""
    bits = np.array([[0, 1, 1], [1, 0, 0]], dtype=bool)
    Image.fromarray(bits).save(path)
    return bits.astype(np.uint8) * 255


def cmyk_jpeg(path: Path) -> npt.NDArray[np.uint8]:
    """A CMYK JPEG (stored inverted, as Adobe writes them); returns Pillow's RGB of it."""
    Image.new("CMYK", (5, 4), (0, 255, 255, 0)).save(path, quality=100)
    with Image.open(path) as reread:
        return np.asarray(reread.convert("RGB"))


def gray16(path: Path, height: int = 5, width: int = 7) -> npt.NDArray[np.uint16]:
    """A 16-bit gray PNG or TIFF (by extension), with values above 255."""
    pixels = random_numbers(path, height, width).integers(0, 65536, (height, width), np.uint16)
    pixels[0, 0], pixels[0, 1] = 65535, 300
    return saved(path, pixels)


def int32_tiff(path: Path) -> npt.NDArray[np.int32]:
    """A 32-bit integer TIFF, values beyond 16 bits and negative."""
    pixels = np.array([[1, -5, 70000], [2**30, 0, 12]], dtype=np.int32)
    return saved(path, pixels)


def float_tiff(path: Path) -> npt.NDArray[np.float32]:
    """A 32-bit float TIFF, values in 0..1."""
    pixels = random_numbers(path).random((5, 6), dtype=np.float32)
    return saved(path, pixels)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bytes(width: int, height: int, depth: int, colour_type: int, rows: bytes) -> bytes:
    """A PNG written by hand: for what Pillow will not write, or headers that lie."""
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(rows))
        + _png_chunk(b"IEND", b"")
    )


def rgb16_png(path: Path) -> None:
    """A 48-bit colour PNG (16 bits a channel), which Pillow can only read as 8-bit."""
    row = b"\x00" + np.full((3, 3), 40000, dtype=">u2").tobytes()
    path.write_bytes(png_bytes(3, 2, 16, 2, row * 2))


def bomb_png(path: Path, side: int = 100_000) -> None:
    """A tiny PNG whose header claims side x side pixels: a decompression bomb."""
    path.write_bytes(png_bytes(side, side, 8, 0, b"\x00" * (side + 1)))


def multi_frame_gif(path: Path) -> None:
    """A two-frame GIF: first frame 10, second 200."""
    frames = [Image.new("L", (4, 3), value) for value in (10, 200)]
    frames[0].save(path, save_all=True, append_images=frames[1:])


def rotated_jpeg(path: Path) -> npt.NDArray[np.uint8]:
    """A 2x3 JPEG tagged EXIF orientation 6 (turn 90 degrees clockwise to view); returns the
    upright image, 3x2."""
    stored = np.array([[0, 0, 255], [0, 0, 255]], dtype=np.uint8)  # bright right column
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(path, exif=exif.tobytes(), quality=100)
    return np.rot90(stored, k=-1)  # clockwise: the right column becomes the bottom row


def truncated(path: Path, kind: str) -> None:
    """A PNG or JPEG cut short after its header."""
    whole = io.BytesIO()
    pixels = random_numbers(path, kind).integers(0, 256, (64, 64), dtype=np.uint8)
    Image.fromarray(pixels).save(whole, format=kind)
    path.write_bytes(whole.getvalue()[: len(whole.getvalue()) // 3])


def npy(path: Path, array: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """An .npy file of `array`."""
    np.save(path, array)
    return array


def oriented(path: Path, orientation: int) -> npt.NDArray[np.uint8]:
    """A 2x3 image stored with an EXIF (JPEG, PNG) or TIFF orientation tag; returns it upright.

    The upright view is what ImageOps.exif_transpose shows, computed here with NumPy.
    """
    stored = np.array([[0, 40, 80], [120, 160, 200]], dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    options: dict[str, object] = {"exif": exif.tobytes()}
    if path.suffix == ".jpg":
        options["quality"] = 100
    Image.fromarray(stored).save(path, **options)  # type: ignore[arg-type]
    upright = {
        1: stored,
        2: stored[:, ::-1],
        3: stored[::-1, ::-1],
        4: stored[::-1, :],
        5: stored.T,
        6: np.rot90(stored, k=-1),
        7: np.rot90(stored, k=-1)[::-1, :],
        8: np.rot90(stored, k=1),
    }[orientation]
    return np.ascontiguousarray(upright)


def exif_after_pixels(path: Path) -> None:
    """Move the EXIF block (eXIf) of the PNG at `path` after its pixels (IDAT), where the PNG
    specification allows it: a reader learns the orientation only once it has decoded."""
    data = path.read_bytes()
    chunks, position = [], 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        chunks.append(data[position : position + 12 + length])
        position += 12 + length
    exif = [chunk for chunk in chunks if chunk[4:8] == b"eXIf"]
    assert len(exif) == 1, "no EXIF block to move"
    rest = [chunk for chunk in chunks if chunk[4:8] != b"eXIf"]
    path.write_bytes(data[:8] + b"".join(rest[:-1]) + exif[0] + rest[-1])  # before IEND


def keyed(path: Path, mode: str) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """A PNG of `mode` (L, RGB, I;16) with one transparent colour (tRNS): (values, alpha)."""
    rng = random_numbers(path, mode)
    if mode == "RGB":
        values: npt.NDArray[Any] = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
        values[0, 0] = values[2, 3] = (9, 9, 9)
        key: object = (9, 9, 9)
        hit = (values == 9).all(axis=-1)
        full = 255
    else:
        dtype = np.uint8 if mode == "L" else np.uint16
        values = rng.integers(10, 200, (3, 4)).astype(dtype)
        values[0, 0] = values[2, 3] = 9
        key = 9
        hit = values == 9
        full = 255 if mode == "L" else 65535
    Image.fromarray(values).save(path, transparency=key)
    return values, np.where(hit, 0, full)
