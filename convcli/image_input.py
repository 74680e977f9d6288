"""Reading images: Pillow and ``.npy`` in, float matrices in the image's own units out.

An image is opened in two stages, so that every check that needs only the header (size,
mode, frames, the decompression-bomb limit) runs before any pixel is decoded:

>>> # with open_image(Path("photo.png")) as image:
>>> #     image.info.size              # (height, width), after EXIF orientation
>>> #     image.decode(color=False, gray="rec601", keep_alpha=True)

Values keep the image's units: 0..255 for 8-bit samples, 0..65535 for 16-bit, and 32-bit
integer, float and ``.npy`` values as stored ("unitless": they have no fixed range).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeAlias, get_args

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from convcli.errors import ImageReadError, ImageWarning
from convcli.params import Pair, to_choice

FloatArray = npt.NDArray[np.float64]

GrayWeights: TypeAlias = Literal["rec601", "rec709", "average"]
GRAY_CHOICES: tuple[GrayWeights, ...] = get_args(GrayWeights)

GRAY_WEIGHTS: Mapping[str, tuple[float, float, float]] = MappingProxyType(
    {
        "rec601": (0.299, 0.587, 0.114),  # ITU-R BT.601, Pillow's "L" conversion
        "rec709": (0.2126, 0.7152, 0.0722),  # ITU-R BT.709, sRGB primaries
        "average": (1 / 3, 1 / 3, 1 / 3),
    }
)
"""Luma weights for R, G and B: gray = wR R + wG G + wB B, computed in float."""

Depth: TypeAlias = Literal["8", "16", "unitless"]

DEFAULT_MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3
"""Pillow's default decompression-bomb limit (Image.MAX_IMAGE_PIXELS): 89,478,485 pixels."""

STDIN_NAME = "-"

_NPY_MAGIC = b"\x93NUMPY"

# Pillow modes by what they hold. Colour modes are read through RGB or RGBA.
_GRAY_8 = frozenset({"1", "L"})
_GRAY_ALPHA_8 = frozenset({"LA", "La"})
_COLOUR_8 = frozenset({"RGB", "RGBX", "CMYK", "YCbCr", "HSV", "P"})
_COLOUR_ALPHA_8 = frozenset({"RGBA", "RGBa", "PA"})
_GRAY_16 = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})
_GRAY_UNITLESS = frozenset({"I", "F"})


@dataclass(frozen=True)
class ImageInfo:
    """What an image's header says, before any pixel is decoded. Sizes are (height, width)."""

    name: str
    """The path as given, or ``-`` for standard input."""
    format: str
    """Pillow's format name (``PNG``, ``JPEG``, ...) or ``NPY``."""
    mode: str
    """Pillow's mode (``L``, ``RGBA``, ``I;16``, ...) or ``npy``."""
    size: Pair
    """(height, width), after EXIF orientation when that is applied."""
    depth: Depth
    channels: int
    """Colour or value channels, alpha not counted: 1 for gray, 3 for colour, C for npy."""
    has_alpha: bool
    frames: int

    @property
    def max_value(self) -> float | None:
        """The full-scale value of the image's units: 255, 65535, or None when unitless."""
        return {"8": 255.0, "16": 65535.0}.get(self.depth)


@dataclass(frozen=True)
class DecodedImage:
    """Pixels as float64, in the image's own units."""

    info: ImageInfo
    values: FloatArray
    """(H, W) for one channel, (H, W, C) for several."""
    alpha: FloatArray | None
    """(H, W) in the same units, or None."""
    gray: GrayWeights | None
    """The weights that made colour gray, or None when nothing was converted."""


class OpenImage:
    """An image whose header is read and whose pixels are not (yet); see :func:`open_image`."""

    def __init__(
        self,
        info: ImageInfo,
        pillow: Image.Image | None,
        array: Any,
        *,
        auto_orient: bool,
        held: list[str] | None = None,
    ) -> None:
        self.info = info
        self._pillow = pillow
        self._array = array
        self._auto_orient = auto_orient
        self.held = held if held is not None else []
        """Warnings from the header, issued once the pixels are read (or the image closed)."""

    def decode(self, *, color: bool, gray: str, keep_alpha: bool = True) -> DecodedImage:
        """The pixels: gray (by `gray`'s weights) unless `color`, with alpha unless dropped.

        Raises
        ------
        ImageReadError
            If the data is truncated or cannot be decoded.
        ParameterError
            If `gray` names no weights.
        """
        weights = to_choice(gray, GRAY_CHOICES, "gray weights")
        if self._pillow is None:
            values = np.asarray(self._array, dtype=np.float64)
            return DecodedImage(self.info, values, None, None)
        with _held_warnings(self.info.name, self.held), _pixel_limit(self.info):
            try:
                image = self._pillow
                image.load()
                if self._auto_orient:
                    image = ImageOps.exif_transpose(image)
                values, alpha = _planes(image, self.info)
            except (OSError, ValueError, SyntaxError) as error:
                raise ImageReadError(f"cannot decode {self.info.name!r}: {error}") from None
        _issue(self.held)
        used: GrayWeights | None = None
        if values.ndim == 3 and not color:
            values = values @ np.array(GRAY_WEIGHTS[weights])
            used = weights
        return DecodedImage(self.info, values, alpha if keep_alpha else None, used)


def _planes(image: Image.Image, info: ImageInfo) -> tuple[FloatArray, FloatArray | None]:
    """(values, alpha) of a loaded Pillow image, in its own units."""
    mode = image.mode
    if mode in _GRAY_16 or mode in _GRAY_UNITLESS or mode in _GRAY_8:
        source = image.convert("L") if mode == "1" else image
        return np.asarray(source, dtype=np.float64), None
    if mode in _GRAY_ALPHA_8:
        planes = np.asarray(image.convert("LA"), dtype=np.float64)
        return planes[..., 0], planes[..., 1]
    if info.has_alpha:
        planes = np.asarray(image.convert("RGBA"), dtype=np.float64)
        return planes[..., :3], planes[..., 3]
    return np.asarray(image.convert("RGB"), dtype=np.float64), None


@contextmanager
def open_image(
    source: Path | bytes,
    *,
    name: str | None = None,
    auto_orient: bool = True,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> Iterator[OpenImage]:
    """Open an image file, or the bytes of one (standard input), reading only its header.

    The format is detected from the bytes: any image Pillow reads, or a NumPy ``.npy`` array
    ((H, W) or (H, W, C) of real numbers, loaded without pickle).

    Parameters
    ----------
    source
        A path, or the image's bytes.
    name
        How messages name it (default: the path, or ``-`` for bytes).
    auto_orient
        Apply the EXIF orientation, so that a phone photograph comes out upright.
    max_pixels
        Refuse an image whose header claims more pixels than this (a decompression bomb)
        before anything is allocated; None for no limit (only the header will be read).

    Raises
    ------
    ImageReadError
        If the file is missing, unreadable, not an image, too large, or of a mode convcli
        does not read.
    """
    label = name or (str(source) if isinstance(source, Path) else STDIN_NAME)
    if isinstance(source, bytes) and not source:
        raise ImageReadError(f"cannot read {label!r}: it is empty")
    if _is_npy(source):
        array = _load_npy(source, label)
        yield OpenImage(_npy_info(array, label, max_pixels), None, array, auto_orient=False)
        return
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    held: list[str] = []
    with _held_warnings(label, held):
        pillow = _open_pillow(stream, label)
    try:
        with _held_warnings(label, held):  # PNG reads its EXIF block from after the pixels
            info = _pillow_info(pillow, label, auto_orient, max_pixels)
        opened = OpenImage(info, pillow, None, auto_orient=auto_orient, held=held)
        yield opened
        _issue(opened.held)  # not decoded (a header was all that was needed): say them now
    finally:
        pillow.close()


def _is_npy(source: Path | bytes) -> bool:
    if isinstance(source, bytes):
        return source.startswith(_NPY_MAGIC)
    try:
        with source.open("rb") as stream:
            return stream.read(len(_NPY_MAGIC)) == _NPY_MAGIC
    except OSError:
        return False  # opening it again says what is wrong


def _open_pillow(stream: Path | io.BytesIO, label: str) -> ImageFile.ImageFile:
    """Open lazily (header only), turning every failure into :class:`ImageReadError`."""
    where = repr(label)
    try:
        with _no_pixel_limit():
            return Image.open(stream)
    except FileNotFoundError:
        raise ImageReadError(f"cannot read {where}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"cannot read {where}: it is a directory") from None
    except PermissionError:
        raise ImageReadError(f"cannot read {where}: permission denied") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"cannot read {where}: not an image format Pillow knows") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageReadError(f"cannot read {where}: {error}") from None


def _pillow_info(
    image: ImageFile.ImageFile, label: str, auto_orient: bool, max_pixels: int | None
) -> ImageInfo:
    mode = image.mode
    height, width = image.height, image.width
    _check_pixels(label, (height, width), max_pixels)
    depth: Depth
    if mode in _GRAY_8:
        depth, channels, alpha = "8", 1, False
    elif mode in _GRAY_ALPHA_8:
        depth, channels, alpha = "8", 1, True
    elif mode in _COLOUR_ALPHA_8 or (mode == "P" and "transparency" in image.info):
        depth, channels, alpha = "8", 3, True
    elif mode in _COLOUR_8:
        depth, channels, alpha = "8", 3, False
    elif mode in _GRAY_16:
        depth, channels, alpha = "16", 1, False
    elif mode in _GRAY_UNITLESS:
        depth, channels, alpha = "unitless", 1, False
    else:
        raise ImageReadError(f"cannot read {label!r}: mode {mode} images are not supported")
    if channels == 3 and any(";16" in str(tile.args) for tile in image.tile):
        warnings.warn(
            f"{label}: 16-bit colour is read as 8 bits per channel (Pillow has no 16-bit"
            " colour mode)",
            ImageWarning,
            stacklevel=3,
        )
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        warnings.warn(
            f"{label}: {frames} frames; convcli reads the first", ImageWarning, stacklevel=3
        )
    if auto_orient and _swaps_axes(image):
        height, width = width, height
    return ImageInfo(
        name=label,
        format=image.format or "unknown",
        mode=mode,
        size=(height, width),
        depth=depth,
        channels=channels,
        has_alpha=alpha,
        frames=frames,
    )


def _swaps_axes(image: Image.Image) -> bool:
    """Whether the EXIF orientation turns the image by a quarter (orientations 5 to 8)."""
    try:
        orientation = image.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block must not stop the image from being read
        return False
    return orientation in {5, 6, 7, 8}


def _check_pixels(label: str, size: Pair, max_pixels: int | None) -> None:
    pixels = size[0] * size[1]
    if max_pixels is not None and pixels > max_pixels:
        raise ImageReadError(
            f"cannot read {label!r}: its header claims {size[0]}x{size[1]} = {pixels} pixels,"
            f" over the limit of {max_pixels} (a decompression bomb?); raise it with"
            " --max-pixels if the image is genuine"
        )


def _load_npy(source: Path | bytes, label: str) -> npt.NDArray[Any]:
    try:
        array: npt.NDArray[Any] = np.load(
            io.BytesIO(source) if isinstance(source, bytes) else source,
            allow_pickle=False,
            mmap_mode=None if isinstance(source, bytes) else "r",
        )
    except ValueError as error:
        if "pickle" in str(error) or "object" in str(error).lower():
            raise ImageReadError(
                f"cannot read {label!r}: it holds Python objects (pickled data); convcli"
                " reads numeric arrays only"
            ) from None
        raise ImageReadError(f"cannot read {label!r}: {error}") from None
    except OSError as error:
        raise ImageReadError(f"cannot read {label!r}: {error}") from None
    return array


def _npy_info(array: npt.NDArray[Any], label: str, max_pixels: int | None) -> ImageInfo:
    if array.ndim not in (2, 3) or 0 in array.shape:
        raise ImageReadError(
            f"cannot read {label!r}: an array of shape {array.shape}; an image is (H, W) or"
            " (H, W, C)"
        )
    if array.dtype.kind not in "biuf":
        raise ImageReadError(f"cannot read {label!r}: dtype {array.dtype} is not real numbers")
    _check_pixels(label, (array.shape[0], array.shape[1]), max_pixels)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ImageReadError(f"cannot read {label!r}: it holds NaN or infinite values")
    return ImageInfo(
        name=label,
        format="NPY",
        mode="npy",
        size=(array.shape[0], array.shape[1]),
        depth="unitless",
        channels=1 if array.ndim == 2 else array.shape[2],
        has_alpha=False,
        frames=1,
    )


# Pillow warnings that say nothing to a convcli user: the size warning (convcli applies its
# own limit first) and the advice to convert transparent palette images to RGBA, which
# convcli does (alpha is carried to the output).
_QUIET_CATEGORIES = (Image.DecompressionBombWarning,)
_QUIET_MESSAGES = frozenset(
    {"Palette images with Transparency expressed in bytes should be converted to RGBA images"}
)


@contextmanager
def _held_warnings(label: str, held: list[str]) -> Iterator[None]:
    """Hold the warnings raised inside, naming `label`, in `held` (the useful ones, once each).

    They are issued by :func:`_issue` once the image is read: when reading fails, the error
    says what matters and they are dropped with it.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        message = str(warning.message)
        if issubclass(warning.category, _QUIET_CATEGORIES) or message in _QUIET_MESSAGES:
            continue
        if not issubclass(warning.category, ImageWarning):  # convcli's own name the file
            message = f"{label}: {message}"
        if message not in held:
            held.append(message)


def _issue(held: list[str]) -> None:
    """Issue the held warnings as :class:`ImageWarning` and forget them."""
    for message in held:
        warnings.warn(message, ImageWarning, stacklevel=4)
    held.clear()


@contextmanager
def _pixel_limit(info: ImageInfo) -> Iterator[None]:
    """Let Pillow decode an image that convcli's own limit has already allowed."""
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max(previous or 0, info.size[0] * info.size[1])
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


@contextmanager
def _no_pixel_limit() -> Iterator[None]:
    """Open without Pillow's limit: :func:`_check_pixels` applies convcli's, with its message."""
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def read_size(path: Path, *, auto_orient: bool = True) -> Pair:
    """(height, width) of an image, from its header: the pixels are not decoded."""
    with open_image(path, auto_orient=auto_orient, max_pixels=None) as image:
        return image.info.size
