"""Reading images: Pillow and ``.npy`` in, float matrices in the image's own units out.

An image is opened in two stages, so that every check that needs only the header (size,
mode, frames, the decompression-bomb limit) runs before any pixel is decoded::

    with open_image(Path("photo.png")) as image:
        image.info.size              # (height, width), upright
        image.decode(color=False, gray="rec601", keep_alpha=True)

Values keep the image's units: 0..255 for 8-bit samples, 0..65535 for 16-bit, and 32-bit
integer, float and ``.npy`` values as stored ("unitless": they have no fixed range).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError

# The command line shows these without importing Pillow; they live with its other choices.
from convcli.choices import DEFAULT_MAX_PIXELS as DEFAULT_MAX_PIXELS
from convcli.choices import GRAY_CHOICES as GRAY_CHOICES
from convcli.choices import GrayWeights as GrayWeights
from convcli.core.convolution import computed_in
from convcli.core.padding import RowSource, read_rows
from convcli.core.params import Pair, to_choice
from convcli.core.rows import MappedRows
from convcli.errors import ImageReadError, ImageWarning
from convcli.imageio.files import STDIN_NAME
from convcli.imageio.npy import NpyRows, read_npy_header

FloatArray = npt.NDArray[np.floating[Any]]

GRAY_WEIGHTS: Mapping[str, tuple[float, float, float]] = MappingProxyType(
    {
        "rec601": (0.299, 0.587, 0.114),  # ITU-R BT.601, Pillow's "L" conversion
        "rec709": (0.2126, 0.7152, 0.0722),  # ITU-R BT.709, sRGB primaries
        "average": (1 / 3, 1 / 3, 1 / 3),
    }
)
"""Luma weights for R, G and B: gray = wR R + wG G + wB B, computed in float."""

Depth: TypeAlias = Literal["8", "16", "unitless"]


_NPY_MAGIC = b"\x93NUMPY"

# Pillow modes by what they hold. Colour modes are read through RGB or RGBA.
_GRAY_8 = frozenset({"1", "L"})
_GRAY_ALPHA_8 = frozenset({"LA", "La"})
_COLOUR_8 = frozenset({"RGB", "RGBX", "CMYK", "YCbCr", "HSV", "P"})
_COLOUR_ALPHA_8 = frozenset({"RGBA", "RGBa", "PA"})
_GRAY_16 = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})
_GRAY_UNITLESS = frozenset({"I", "F"})
# Modes whose transparency may be one colour (a PNG tRNS chunk), made into an alpha plane here.
_KEYED = frozenset({"L", "I;16", "I;16B", "I;16L", "I;16N", "RGB"})

# EXIF orientation -> the transposition that shows the image upright (as ImageOps does).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_UNDO = {**_UPRIGHT, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
_ORIENTATION = ExifTags.Base.Orientation
_TIFF_WIDTH, _TIFF_LENGTH = 256, 257
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF


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
    """(height, width), upright when EXIF orientation is applied."""
    depth: Depth
    channels: int
    """Colour or value channels, alpha not counted: 1 for gray, 3 for colour, C for npy."""
    has_alpha: bool
    frames: int

    @property
    def computed_in(self) -> type[np.float32] | type[np.float64]:
        """The float type its pixels are computed in: float32 for 8-bit samples (a result
        within a thousandth of a level), float64 for 16-bit ones (257 times finer levels)
        and unitless ones (32-bit integers need it)."""
        return np.float32 if self.depth == "8" else np.float64

    @property
    def max_value(self) -> float | None:
        """The full-scale value of the image's units: 255, 65535, or None when unitless."""
        return {"8": 255.0, "16": 65535.0}.get(self.depth)


@dataclass(frozen=True)
class DecodedImage:
    """Pixels as floats in the image's own units: float32 for 8-bit samples, float64 for
    16-bit and unitless ones (see :class:`_PillowRows`)."""

    info: ImageInfo
    """The header's facts; the size is the decoded one."""
    values: FloatArray
    """(H, W) for one channel, (H, W, C) for several."""
    alpha: FloatArray | None
    """(H, W) in the same units, or None."""
    gray: GrayWeights | None
    """The weights that made colour gray, or None when nothing was converted."""


@dataclass(frozen=True)
class DecodedRows:
    """A decoded image whose float values are made a strip of rows at a time, when asked.

    Pillow's decoded pixels stay as they are (8 or 16 bits); `values` converts the rows a
    caller reads, so the whole float image never exists at once. Valid inside the
    :func:`open_image` block only.
    """

    info: ImageInfo
    """The header's facts; the size is the decoded one."""
    values: FloatArray | RowSource
    """(H, W) for one channel, (H, W, C) for several: an array for ``.npy``."""
    alpha: FloatArray | None
    """(H, W) in the same units, whole, or None."""
    gray: GrayWeights | None
    """The weights that make colour gray, or None when nothing is converted."""


@dataclass(frozen=True)
class RowsInParts:
    """An image read from its file a band of rows at a time, as the rows are asked for: TIFF
    and ``.npy`` (see :func:`open_image`'s `in_parts`). Valid inside its block only."""

    info: ImageInfo
    values: RowSource
    """Float rows, (H, W) for one channel, (H, W, C) for several, as :class:`DecodedRows`."""
    alpha: RowSource | None
    """Float rows (H, W) in the same units, or None."""
    gray: GrayWeights | None
    """The weights that make colour gray, or None when nothing is converted."""


class OpenImage:
    """An image whose header is read and whose pixels are not (yet); see :func:`open_image`."""

    info: ImageInfo

    in_parts: bool = False
    """Whether its pixels can be read a band of rows at a time (:meth:`rows_in_parts`), so
    that its size need not be limited by memory; otherwise they can only be decoded whole."""

    def rows_in_parts(self, *, color: bool, gray: str, keep_alpha: bool = True) -> RowsInParts:
        """The pixels as :meth:`decode_rows` gives them, every plane read from the file when
        its rows are asked for. Only when :attr:`in_parts`.

        Raises
        ------
        ParameterError
            If `gray` names no weights.
        """
        raise NotImplementedError

    def decode_rows(self, *, color: bool, gray: str, keep_alpha: bool = True) -> DecodedRows:
        """The pixels: gray (by `gray`'s weights) unless `color`, with alpha unless dropped.

        Raises
        ------
        ImageReadError
            If the data is truncated or cannot be decoded.
        ParameterError
            If `gray` names no weights.
        """
        raise NotImplementedError

    def decode(self, *, color: bool, gray: str, keep_alpha: bool = True) -> DecodedImage:
        """:meth:`decode_rows`, every row made at once."""
        decoded = self.decode_rows(color=color, gray=gray, keep_alpha=keep_alpha)
        values = read_rows(decoded.values, 0, decoded.info.size[0])
        return DecodedImage(decoded.info, values, decoded.alpha, decoded.gray)


class _ArrayImage(OpenImage):
    """An ``.npy`` array: used as it is, every channel a channel."""

    def __init__(self, info: ImageInfo, stream: IO[bytes]) -> None:
        self.info = info
        self._stream = stream

    def decode_rows(self, *, color: bool, gray: str, keep_alpha: bool = True) -> DecodedRows:
        to_choice(gray, GRAY_CHOICES, "gray weights")
        self._stream.seek(0)
        try:
            array = np.load(self._stream, allow_pickle=False)
        except (OSError, ValueError, EOFError) as error:
            raise ImageReadError(f"cannot read {self.info.name!r}: {error}") from None
        # float32 stays float32 (what an 8- or 16-bit image becomes); the rest is float64.
        values: FloatArray = np.asarray(
            array,
            dtype=np.float32 if array.dtype.kind == "f" and array.itemsize == 4 else np.float64,
        )
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            raise ImageReadError(f"cannot read {self.info.name!r}: it holds NaN or infinite values")
        return DecodedRows(self.info, values, None, None)


class _PartsImage(OpenImage):
    """A TIFF or ``.npy`` image read in parts (see :mod:`convcli.imageio.tiff` and
    :mod:`convcli.imageio.npy`): its stored samples are rows made on demand."""

    in_parts = True

    def __init__(self, info: ImageInfo, stored: RowSource) -> None:
        self.info = info
        self._stored = stored
        # float32 arrays stay float32, as a whole .npy does; the rest as the depth says.
        self._dtype = np.dtype(
            computed_in(stored.dtype) if info.format == "NPY" else info.computed_in
        )

    def rows_in_parts(self, *, color: bool, gray: str, keep_alpha: bool = True) -> RowsInParts:
        weights = to_choice(gray, GRAY_CHOICES, "gray weights")
        info, dtype = self.info, self._dtype
        height, width = info.size
        if info.format == "NPY":  # every channel a channel, as stored
            float_rows = MappedRows(self._floats, self._stored, dtype=dtype)
            return RowsInParts(info, float_rows, None, None)
        converts = info.channels == 3 and not color
        factors = np.array(GRAY_WEIGHTS[weights], dtype=dtype)

        def values(stored: npt.NDArray[Any]) -> FloatArray:
            if info.channels == 1:
                return self._floats(stored[..., 0] if info.has_alpha else stored)
            colour = stored[..., :3]
            return gray_of(colour, factors) if converts else self._floats(colour)

        def alpha(stored: npt.NDArray[Any]) -> FloatArray:
            return self._floats(stored[..., -1])

        shape = (height, width) if info.channels == 1 or converts else (height, width, 3)
        float_rows = MappedRows(values, self._stored, shape=shape, dtype=dtype)
        alpha_rows = None
        if keep_alpha and info.has_alpha:
            alpha_rows = MappedRows(alpha, self._stored, shape=(height, width), dtype=dtype)
        return RowsInParts(info, float_rows, alpha_rows, weights if converts else None)

    def _floats(self, stored: npt.NDArray[Any]) -> FloatArray:
        """Stored samples in the image's float type, exactly; NaN and infinity refused."""
        values: FloatArray = stored.astype(self._dtype)
        if stored.dtype.kind == "f" and not np.isfinite(values).all():
            raise ImageReadError(f"cannot read {self.info.name!r}: it holds NaN or infinite values")
        return values

    def decode_rows(self, *, color: bool, gray: str, keep_alpha: bool = True) -> DecodedRows:
        parts = self.rows_in_parts(color=color, gray=gray, keep_alpha=keep_alpha)
        alpha = None if parts.alpha is None else read_rows(parts.alpha, 0, self.info.size[0])
        return DecodedRows(parts.info, parts.values, alpha, parts.gray)


def gray_of(samples: npt.NDArray[Any], weights: FloatArray) -> FloatArray:
    """Gray from (..., 3) colour samples of any type: wR R + wG G + wB B, computed in the
    weights' float type, channel by channel (no float copy of all three)."""
    gray: FloatArray = np.multiply(samples[..., 0], weights[0], dtype=weights.dtype)
    for channel in (1, 2):
        gray += np.multiply(samples[..., channel], weights[channel], dtype=weights.dtype)
    return gray


class _PillowImage(OpenImage):
    """An image Pillow reads, its header parsed, its warnings held until it is decoded."""

    def __init__(
        self, info: ImageInfo, image: ImageFile.ImageFile, *, orientation: int, auto_orient: bool
    ) -> None:
        self.info = info
        self._image = image
        self._orientation = orientation
        self._auto_orient = auto_orient
        self.held: list[str] = []
        """Warnings met so far, issued once the image is read (or closed undecoded)."""

    def decode_rows(self, *, color: bool, gray: str, keep_alpha: bool = True) -> DecodedRows:
        weights = to_choice(gray, GRAY_CHOICES, "gray weights")
        with _held_warnings(self.info.name, self.held), _pixel_limit(self.info):
            try:
                self._image.load()
                image = self._upright(self._image)
                if image is not self._image:
                    self._image.close()  # frees the unturned pixels: only the turned are read
                converts = self.info.channels == 3 and not color
                rows = _PillowRows(image, self.info, GRAY_WEIGHTS[weights] if converts else None)
                alpha = rows.alpha() if keep_alpha and self.info.has_alpha else None
            except (OSError, ValueError, SyntaxError) as error:
                raise ImageReadError(f"cannot decode {self.info.name!r}: {error}") from None
        _issue(self.held)
        info = replace(self.info, size=(image.height, image.width))
        return DecodedRows(info, rows, alpha, weights if converts else None)

    def _upright(self, image: Image.Image) -> Image.Image:
        """The image turned as asked, whether or not Pillow turned it already (TIFF does)."""
        orientation = self._orientation
        if orientation == 1 and image.format != "TIFF":
            # A PNG may keep its EXIF block after the pixels: known only now.
            orientation = _orientation_of(image.getexif())
        applied_by_pillow = (
            image.format == "TIFF"
            and orientation != 1
            and _ORIENTATION not in getattr(image, "tag_v2", {})
        )
        if self._auto_orient and not applied_by_pillow and orientation in _UPRIGHT:
            return image.transpose(_UPRIGHT[orientation])
        if not self._auto_orient and applied_by_pillow and orientation in _UNDO:
            return image.transpose(_UNDO[orientation])
        return image


class _PillowRows:
    """Float rows of a decoded Pillow image, converted strip by strip (a :class:`RowSource`).

    8-bit samples become float32, 16-bit and unitless ones float64, all exactly. Colour
    becomes gray by `weights` when given, computed in that float type.
    """

    _ALPHA_STRIP = 256
    """Rows converted at a time when the alpha plane is made."""

    def __init__(
        self, image: Image.Image, info: ImageInfo, weights: tuple[float, float, float] | None
    ) -> None:
        self._image, self._info = image, info
        self.dtype = np.dtype(info.computed_in)
        self._weights = None if weights is None else np.array(weights, dtype=self.dtype)
        channels = () if info.channels == 1 or weights is not None else (info.channels,)
        self.shape: tuple[int, ...] = (image.height, image.width, *channels)

    def rows(self, start: int, stop: int) -> FloatArray:
        strip = self._strip(start, stop)
        if self._weights is None:
            return _planes(strip, self._info, self.dtype)[0]
        # Straight from RGB's 8-bit samples: no float copy of all three channels.
        samples = (
            np.asarray(strip) if strip.mode == "RGB" else _planes(strip, self._info, self.dtype)[0]
        )
        return gray_of(samples, self._weights)

    def alpha(self) -> FloatArray | None:
        """The whole alpha plane, made a strip at a time; None for an image without one."""
        plane = np.empty(self.shape[:2], dtype=self.dtype)
        for start in range(0, self.shape[0], self._ALPHA_STRIP):
            stop = min(start + self._ALPHA_STRIP, self.shape[0])
            _, alpha = _planes(self._strip(start, stop), self._info, self.dtype)
            if alpha is None:
                return None
            plane[start:stop] = alpha
        return plane

    def _strip(self, start: int, stop: int) -> Image.Image:
        return self._image.crop((0, start, self._image.width, stop))


def _planes(
    image: Image.Image, info: ImageInfo, dtype: np.dtype[Any]
) -> tuple[FloatArray, FloatArray | None]:
    """(values, alpha) of a loaded Pillow image, in its own units, as `dtype`."""
    mode = image.mode
    key = image.info.get("transparency")
    if mode in _GRAY_16 or mode in _GRAY_UNITLESS or mode in _GRAY_8:
        values = np.asarray(image.convert("L") if mode == "1" else image, dtype=dtype)
        return values, _keyed_alpha(values, key, info) if info.has_alpha else None
    if mode in _GRAY_ALPHA_8:
        planes = np.asarray(image.convert("LA"), dtype=dtype)
        return planes[..., 0], planes[..., 1]
    if info.channels == 1:  # 16-bit gray and alpha, which Pillow reads as 8-bit RGBA
        planes = np.asarray(image, dtype=dtype)
        return planes[..., 0], planes[..., 3]
    if mode == "RGB" and info.has_alpha:
        values = np.asarray(image, dtype=dtype)
        return values, _keyed_alpha(values, key, info)
    if info.has_alpha:
        planes = np.asarray(image.convert("RGBA"), dtype=dtype)
        return planes[..., :3], planes[..., 3]
    return np.asarray(image.convert("RGB"), dtype=dtype), None


def _keyed_alpha(values: FloatArray, key: Any, info: ImageInfo) -> FloatArray:
    """Alpha from a transparent colour: 0 where a pixel has exactly it, full scale elsewhere."""
    key_value = np.asarray(key, dtype=values.dtype)
    hit = values == key_value if values.ndim == 2 else (values == key_value).all(axis=-1)
    alpha: FloatArray = np.where(
        hit, values.dtype.type(0), values.dtype.type(info.max_value or 255)
    )
    return alpha


@contextmanager
def open_image(
    source: Path | bytes | IO[bytes],
    *,
    name: str | None = None,
    auto_orient: bool = True,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    in_parts: bool = False,
) -> Iterator[OpenImage]:
    """Open an image from a path, its bytes or a stream (standard input), reading its header.

    The format is detected from the bytes: any image Pillow reads, or a NumPy ``.npy`` array
    ((H, W) or (H, W, C) of real numbers, loaded without pickle). The source is read once,
    so a pipe or a FIFO works.

    Parameters
    ----------
    source
        A path, the image's bytes, or a binary stream.
    name
        How messages name it (default: the path, or ``-``).
    auto_orient
        Apply the EXIF orientation, so that a phone photograph comes out upright.
    max_pixels
        Refuse an image whose header claims more pixels than this (a decompression bomb)
        before anything is allocated; None for no limit, when only the header is wanted.
    in_parts
        The caller reads an image that can be read a band of rows at a time (a TIFF file
        that :mod:`convcli.imageio.tiff` reads, a C-ordered ``.npy`` file: see
        :attr:`OpenImage.in_parts`) in parts, so that its memory does not grow with its size:
        `max_pixels` does not apply to such an image. Such files are read by the same readers
        either way (tifffile for TIFF), so that every command sees the same values.

    Raises
    ------
    ImageReadError
        If the file is missing, unreadable, empty, not an image, too large, or of a mode
        convcli does not read.
    """
    label = name or (str(source) if isinstance(source, Path) else STDIN_NAME)
    stream = seekable_stream(source, label)
    try:
        magic = stream.read(len(_NPY_MAGIC))
        stream.seek(0)
        if not magic:
            raise ImageReadError(f"cannot read {label!r}: it is empty")
        # A regular file, read again by its path in parts: not a pipe, already read whole.
        a_file = isinstance(source, Path) and source.is_file()
        if magic == _NPY_MAGIC:
            info, header = _npy_info(stream, label)
            readable_in_parts = a_file and not header.fortran_order
            if not (in_parts and readable_in_parts):  # decoded whole
                _check_pixels(label, info.size, max_pixels, info.channels)
            if readable_in_parts:
                yield _PartsImage(info, NpyRows(stream, label, header.shape, header.dtype))
                return
            stream.seek(0)
            yield _ArrayImage(info, stream)
            return
        if a_file and magic[:4] in _TIFF_MAGIC and isinstance(source, Path):
            from convcli.imageio.tiff import open_tiff_rows  # tifffile, only when it reads

            in_tiff = open_tiff_rows(source, label)
            if in_tiff is not None:
                tiff, stored = in_tiff
                with tiff:
                    info = _tiff_info(label, stored)
                    if not in_parts:
                        _check_pixels(label, info.size, max_pixels, info.channels)
                    yield _PartsImage(info, stored)
                return
        held: list[str] = []
        with _held_warnings(label, held):
            image = _open_pillow(stream, label)
            try:
                info, orientation = _pillow_info(image, label, auto_orient, max_pixels)
            except ImageReadError as error:
                if in_parts and "over the limit" in str(error):
                    raise ImageReadError(f"{error}{_IN_PARTS_HINT}") from None
                raise
        opened = _PillowImage(info, image, orientation=orientation, auto_orient=auto_orient)
        opened.held.extend(held)
        try:
            yield opened
            _issue(opened.held)  # not decoded (the header was all that was needed): say them
        finally:
            image.close()
    finally:
        stream.close()


def seekable_stream(source: Path | bytes | IO[bytes], label: str) -> IO[bytes]:
    """A seekable binary stream over `source`, reading a pipe (or FIFO) into memory once.

    Raises
    ------
    ImageReadError
        If `source` is a path that cannot be opened, in words (``no such file``).
    """
    if isinstance(source, bytes):
        return io.BytesIO(source)
    if isinstance(source, Path):
        where = repr(label)
        try:
            stream: IO[bytes] = source.open("rb")
        except FileNotFoundError:
            raise ImageReadError(f"cannot read {where}: no such file") from None
        except IsADirectoryError:
            raise ImageReadError(f"cannot read {where}: it is a directory") from None
        except PermissionError:
            raise ImageReadError(f"cannot read {where}: permission denied") from None
        except OSError as error:
            raise ImageReadError(f"cannot read {where}: {error.strerror or error}") from None
    else:
        stream = source
    if stream.seekable():
        return stream
    with stream:
        return io.BytesIO(stream.read())


def _open_pillow(stream: IO[bytes], label: str) -> ImageFile.ImageFile:
    """Open lazily (header only), turning every failure into :class:`ImageReadError`."""
    where = repr(label)
    try:
        with _no_pixel_limit():
            return Image.open(stream)
    except UnidentifiedImageError:
        raise ImageReadError(f"cannot read {where}: not an image format Pillow knows") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageReadError(f"cannot read {where}: {error}") from None


def _pillow_info(
    image: ImageFile.ImageFile, label: str, auto_orient: bool, max_pixels: int | None
) -> tuple[ImageInfo, int]:
    """The header's facts, and the EXIF orientation (1 if none is known before the pixels)."""
    mode = image.mode
    rawmodes = " ".join(str(tile.args) for tile in image.tile)
    keyed = mode in _KEYED and "transparency" in image.info
    depth: Depth
    if mode in _GRAY_8 or mode in _GRAY_ALPHA_8:
        depth, channels, alpha = "8", 1, mode in _GRAY_ALPHA_8 or keyed
    elif mode == "RGBA" and "LA;16" in rawmodes:
        depth, channels, alpha = "8", 1, True
        warnings.warn(
            f"{label}: 16-bit gray with alpha is read as 8 bits (Pillow has no such mode)",
            ImageWarning,
            stacklevel=3,
        )
    elif mode in _COLOUR_ALPHA_8 or (mode == "P" and "transparency" in image.info):
        depth, channels, alpha = "8", 3, True
    elif mode in _COLOUR_8:
        depth, channels, alpha = "8", 3, keyed
    elif mode in _GRAY_16:
        depth, channels, alpha = "16", 1, keyed
    elif mode in _GRAY_UNITLESS:
        depth, channels, alpha = "unitless", 1, False
    else:
        raise ImageReadError(f"cannot read {label!r}: mode {mode} images are not supported")
    if channels == 3 and ";16" in rawmodes:
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
    orientation = _orientation_before_pixels(image)
    height, width = _stored_size(image)
    _check_pixels(label, (height, width), max_pixels)
    if auto_orient and orientation in {5, 6, 7, 8}:
        height, width = width, height
    info = ImageInfo(
        name=label,
        format=image.format or "unknown",
        mode=mode,
        size=(height, width),
        depth=depth,
        channels=channels,
        has_alpha=alpha,
        frames=frames,
    )
    return info, orientation


def _orientation_before_pixels(image: ImageFile.ImageFile) -> int:
    """The EXIF orientation, read without decoding pixels: 1 when none is known yet."""
    if image.format == "TIFF":
        value = getattr(image, "tag_v2", {}).get(_ORIENTATION, 1)
        return value if value in _UPRIGHT else 1
    raw = image.info.get("exif")
    if not raw:
        return 1
    exif = Image.Exif()
    try:
        exif.load(raw)
    except (OSError, ValueError, SyntaxError, KeyError, IndexError):
        return 1  # a broken EXIF block: the image is shown as stored
    return _orientation_of(exif)


def _orientation_of(exif: Image.Exif) -> int:
    value = exif.get(_ORIENTATION, 1)
    return value if value in _UPRIGHT else 1


def _stored_size(image: ImageFile.ImageFile) -> Pair:
    """(height, width) as stored. Pillow reports a TIFF's size turned by its orientation."""
    tags = getattr(image, "tag_v2", None)
    if image.format == "TIFF" and tags is not None and _TIFF_WIDTH in tags and _TIFF_LENGTH in tags:
        return (int(tags[_TIFF_LENGTH]), int(tags[_TIFF_WIDTH]))
    return (image.height, image.width)


_IN_PARTS_HINT = (
    "; or convert it to a tiled TIFF (vips tiffsave IN OUT.tif --tile): TIFF and .npy are"
    " read a band of rows at a time, without this limit"
)


def _check_pixels(label: str, size: Pair, max_pixels: int | None, channels: int = 1) -> None:
    """Refuse what a header claims beyond `max_pixels` (counting up to 4 values a pixel)."""
    pixels = size[0] * size[1]
    if max_pixels is not None and pixels * max(1, channels / 4) > max_pixels:
        raise ImageReadError(
            f"cannot read {label!r}: its header claims {size[0]}x{size[1]} = {pixels} pixels"
            f"{f' of {channels} values' if channels > 4 else ''}, over the limit of {max_pixels}"
            " (a decompression bomb?); raise it with --max-pixels if the image is genuine"
        )


@dataclass(frozen=True)
class _NpyHeader:
    shape: tuple[int, ...]
    fortran_order: bool
    dtype: np.dtype[Any]


def _npy_info(stream: IO[bytes], label: str) -> tuple[ImageInfo, _NpyHeader]:
    """An ``.npy`` header's facts, read before its data; the stream is left at the data."""
    where = repr(label)
    try:
        shape, fortran_order, dtype = read_npy_header(stream)
    except ValueError as error:
        raise ImageReadError(f"cannot read {where}: not a readable .npy file: {error}") from None
    if dtype.hasobject:
        raise ImageReadError(
            f"cannot read {where}: it holds Python objects (pickled data); convcli reads"
            " numeric arrays only"
        )
    if len(shape) not in (2, 3) or 0 in shape:
        raise ImageReadError(
            f"cannot read {where}: an array of shape {shape}; an image is (H, W) or (H, W, C)"
        )
    if dtype.kind not in "biuf":
        raise ImageReadError(f"cannot read {where}: dtype {dtype} is not real numbers")
    info = ImageInfo(
        name=label,
        format="NPY",
        mode="npy",
        size=(shape[0], shape[1]),
        depth="unitless",
        channels=1 if len(shape) == 2 else shape[2],
        has_alpha=False,
        frames=1,
    )
    return info, _NpyHeader(shape, fortran_order, dtype)


def _tiff_info(label: str, stored: RowSource) -> ImageInfo:
    """The facts of a TIFF read in parts, from its stored samples' shape and type."""
    samples = 1 if len(stored.shape) == 2 else stored.shape[2]
    dtype = stored.dtype
    depth: Depth = "8" if dtype == np.uint8 else "16" if dtype == np.uint16 else "unitless"
    channels, alpha = (1, samples == 2) if samples <= 2 else (3, samples == 4)
    bits = "" if depth == "8" else f";{dtype.itemsize * 8}"
    mode = {(1, False): "L", (1, True): "LA", (3, False): "RGB", (3, True): "RGBA"}[
        (channels, alpha)
    ]
    return ImageInfo(
        name=label,
        format="TIFF",
        mode=mode + bits,
        size=(stored.shape[0], stored.shape[1]),
        depth=depth,
        channels=channels,
        has_alpha=alpha,
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
