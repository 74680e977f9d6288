"""The image boundary: Pillow in, Pillow out. Nothing else in convcli imports PIL.

Inputs become grayscale float64 matrices in the image's own units (0..255 for 8-bit images);
outputs are written atomically: to a temporary file beside the destination, renamed over it
only once complete, so a failed run never leaves a partial file or destroys an existing one.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import IO

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from convcli.errors import ImageReadError, ImageWarning, ImageWriteError, ParameterError
from convcli.params import Pair

# ITU-R BT.601 luma weights, as Pillow's "L" conversion uses them, but applied in float.
REC601_WEIGHTS = np.array([0.299, 0.587, 0.114])

# Modes of 8-bit samples: gray ones are read as gray, colour ones through Pillow's RGB.
_GRAY_MODES = frozenset({"1", "L", "LA", "La"})
_COLOUR_MODES = frozenset({"P", "PA", "RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr"})


# The formats convcli writes, by extension: each stores an 8-bit gray image at its full size
# (WebP, which has no gray mode, as three equal channels, so losslessly: lossy WebP would make
# them differ). Pillow writes others that would silently resize (.ico), change the mode (.pbm)
# or refuse gray; those are not offered.
OUTPUT_FORMATS: Mapping[str, str] = MappingProxyType(
    {
        ".png": "PNG",
        ".jpg": "JPEG",
        ".jpeg": "JPEG",
        ".tif": "TIFF",
        ".tiff": "TIFF",
        ".bmp": "BMP",
        ".gif": "GIF",
        ".webp": "WEBP",
        ".pgm": "PPM",
        ".tga": "TGA",
        ".jp2": "JPEG2000",
    }
)


_SAVE_OPTIONS: Mapping[str, Mapping[str, object]] = MappingProxyType({"WEBP": {"lossless": True}})


def output_format(path: Path) -> str:
    """Pillow's format name for writing `path`, from its extension (``.png`` -> ``PNG``).

    >>> output_format(Path("edges.JPG"))
    'JPEG'

    Raises
    ------
    ParameterError
        If the extension is missing or is not one of :data:`OUTPUT_FORMATS`.
    """
    suffix = path.suffix.lower()
    name = OUTPUT_FORMATS.get(suffix)
    Image.init()  # registers every plugin's writer, not only the few Pillow preloads
    if name is not None and name in Image.SAVE:
        return name
    if not suffix:
        problem = "has no extension"
    elif name is None:
        problem = f"has the extension {suffix!r}, which names no format convcli writes"
    else:
        problem = f"needs {name} support, which this installation of Pillow lacks"
    known = ", ".join(OUTPUT_FORMATS)
    raise ParameterError(f"output {str(path)!r} {problem}; use one of {known}")


# What the modes this version does not read hold, for the error message.
_UNREAD_MODES = {
    "I;16": "16-bit",
    "I;16B": "16-bit",
    "I;16L": "16-bit",
    "I;16N": "16-bit",
    "I": "32-bit integer",
    "F": "32-bit float",
}

# Pillow warnings that say nothing to a convcli user: the size warning (Pillow still refuses
# images past its hard limit, with an error) and the advice to convert transparent palette
# images to RGBA, which convcli does not need (it reads the colours; alpha is ignored).
_QUIET_CATEGORIES = (Image.DecompressionBombWarning,)
_QUIET_MESSAGES = frozenset(
    {"Palette images with Transparency expressed in bytes should be converted to RGBA images"}
)


def read_size(path: Path) -> Pair:
    """(height, width) of an image, from its header: the pixels are not decoded."""
    with _open(path) as image:
        return (image.height, image.width)


def read_gray(path: Path) -> npt.NDArray[np.float64]:
    """Decode `path` into an (H, W) float64 matrix of gray values, 0..255 for 8-bit images.

    Colour becomes Rec. 601 luma, 0.299 R + 0.587 G + 0.114 B, computed in float without
    rounding. An alpha channel is ignored. What Pillow warns about while decoding comes out
    as an :class:`ImageWarning` naming the file, once the image is read.

    Raises
    ------
    ImageReadError
        If the file is missing, unreadable, not an image, truncated, or of a mode (16-bit,
        32-bit, float) that this version does not read.
    """
    with _open(path) as image:
        if image.mode not in _GRAY_MODES | _COLOUR_MODES:
            mode = image.mode
            kind = f"{_UNREAD_MODES[mode]} images (mode {mode})" if mode in _UNREAD_MODES else None
            raise ImageReadError(
                f"cannot read {str(path)!r}: {kind or f'mode {mode} images'} are not supported"
                " yet; convert it to 8-bit gray or RGB first"
            )
        with _pillow_warnings(path):
            try:
                image.load()
                if image.mode in _GRAY_MODES:
                    return np.asarray(image.convert("L"), dtype=np.float64)
                rgb = np.asarray(image.convert("RGB"), dtype=np.float64)
            except (OSError, ValueError, SyntaxError) as error:
                raise ImageReadError(f"cannot decode {str(path)!r}: {error}") from None
    gray: npt.NDArray[np.float64] = rgb @ REC601_WEIGHTS
    return gray


@contextmanager
def _pillow_warnings(path: Path) -> Iterator[None]:
    """Hold Pillow's warnings; re-issue the useful ones once each, naming `path`, if all went well.

    When decoding fails, the error says what matters and the warnings are dropped with it.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    said: set[str] = set()
    for warning in caught:
        message = str(warning.message)
        if issubclass(warning.category, _QUIET_CATEGORIES) or message in _QUIET_MESSAGES | said:
            continue
        said.add(message)
        warnings.warn(f"{path}: {message}", ImageWarning, stacklevel=3)


def _open(path: Path) -> Image.Image:
    """Open `path` lazily (header only), turning every failure into :class:`ImageReadError`."""
    where = repr(str(path))
    try:
        with _pillow_warnings(path):
            return Image.open(path)
    except FileNotFoundError:
        raise ImageReadError(f"cannot read {where}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"cannot read {where}: it is a directory") from None
    except PermissionError:
        raise ImageReadError(f"cannot read {where}: permission denied") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"cannot read {where}: not an image format Pillow knows") from None
    except Image.DecompressionBombError as error:
        raise ImageReadError(f"cannot read {where}: {error}") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageReadError(f"cannot read {where}: {error}") from None


def check_destination(path: Path) -> None:
    """Fail early, before any work, if `path` cannot be written: a missing directory, say.

    Raises
    ------
    ImageWriteError
        If the directory is missing or not a directory, or `path` is a directory.
    """
    where = repr(str(path))
    directory = _final_target(path).parent
    if not directory.exists():
        raise ImageWriteError(f"cannot write {where}: directory {str(directory)!r} does not exist")
    if not directory.is_dir():
        raise ImageWriteError(f"cannot write {where}: {str(directory)!r} is not a directory")
    if path.is_dir():
        raise ImageWriteError(f"cannot write {where}: it is a directory")


def write_gray(path: Path, pixels: npt.NDArray[np.uint8], image_format: str) -> None:
    """Write an (H, W) uint8 matrix as an 8-bit grayscale image, atomically.

    Raises
    ------
    ImageWriteError
        If the file cannot be encoded or written; `path` is then left as it was.
    """
    image = Image.fromarray(pixels)

    def save(stream: IO[bytes]) -> None:
        image.save(stream, format=image_format, **_SAVE_OPTIONS.get(image_format, {}))

    write_atomically(path, save)


def write_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call `write` on a temporary file beside `path`, then rename it to `path`.

    The rename is atomic on POSIX file systems: readers see the old file or the new one, never
    a partial one. A new file gets the usual permissions (0666 minus the umask); a replaced
    file keeps its own. If `path` is a symbolic link, the file it points to is replaced and
    the link kept, as writing through it would do. A file with several hard links gets a new
    inode: the other names keep the old content (as with ``sed -i``).
    """
    where = repr(str(path))
    check_destination(path)
    target = _final_target(path)
    try:
        fd, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
    except OSError as error:
        raise ImageWriteError(f"cannot write {where}: {error.strerror or error}") from None
    try:
        with os.fdopen(fd, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        Path(temporary).chmod(_permissions_for(target))
        Path(temporary).replace(target)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError | ValueError | KeyError):
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            raise ImageWriteError(f"cannot write {where}: {reason}") from None
        raise


def _permissions_for(path: Path) -> int:
    """The mode bits for a file written at `path`: its own if it exists, else 0666 - umask."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _final_target(path: Path) -> Path:
    """`path` with symbolic links followed, even to a file that does not exist yet."""
    return Path(os.path.realpath(path))
