"""The image boundary: Pillow in, Pillow out. Nothing else in convcli imports PIL.

Inputs become grayscale float64 matrices in the image's own units (0..255 for 8-bit images);
outputs are written atomically: to a temporary file beside the destination, renamed over it
only once complete, so a failed run never leaves a partial file or destroys an existing one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from convcli.errors import ImageReadError, ImageWriteError, ParameterError
from convcli.params import Pair

# ITU-R BT.601 luma weights, as Pillow's "L" conversion uses them, but applied in float.
REC601_WEIGHTS = np.array([0.299, 0.587, 0.114])

# Modes holding 8-bit samples that convert to RGB (or are gray already) without loss.
_GRAY_MODES = frozenset({"1", "L", "LA", "La"})
_COLOUR_MODES = frozenset({"P", "PA", "RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr"})


def output_format(path: Path) -> str:
    """Pillow's format name for writing `path`, from its extension (``.png`` -> ``PNG``).

    >>> output_format(Path("edges.JPG"))
    'JPEG'

    Raises
    ------
    ParameterError
        If the extension is missing or names no format Pillow can write.
    """
    suffix = path.suffix.lower()
    extensions = Image.registered_extensions()
    name = extensions.get(suffix)
    if name is None or name not in Image.SAVE:
        known = ", ".join(_COMMON_EXTENSIONS)
        if not suffix:
            problem = "has no extension"
        else:
            problem = f"has the extension {suffix!r}, which names no format convcli can write"
        raise ParameterError(f"output {str(path)!r} {problem}; use one of {known}")
    return name


# Named in the error message; any extension Pillow can write is accepted.
_COMMON_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif", ".pgm")


def read_size(path: Path) -> Pair:
    """(height, width) of an image, from its header: the pixels are not decoded."""
    with _open(path) as image:
        return (image.height, image.width)


def read_gray(path: Path) -> npt.NDArray[np.float64]:
    """Decode `path` into an (H, W) float64 matrix of gray values, 0..255 for 8-bit images.

    Colour becomes Rec. 601 luma, 0.299 R + 0.587 G + 0.114 B, computed in float without
    rounding. An alpha channel is ignored.

    Raises
    ------
    ImageReadError
        If the file is missing, unreadable, not an image, truncated, or of a mode (16-bit,
        32-bit, float) that this version does not read.
    """
    with _open(path) as image:
        if image.mode not in _GRAY_MODES | _COLOUR_MODES:
            raise ImageReadError(
                f"cannot read {str(path)!r}: {image.mode} images (16-bit, 32-bit or float)"
                " are not supported yet; convert it to 8-bit first"
            )
        try:
            image.load()
            if image.mode in _GRAY_MODES:
                return np.asarray(image.convert("L"), dtype=np.float64)
            rgb = np.asarray(image.convert("RGB"), dtype=np.float64)
        except (OSError, ValueError, SyntaxError) as error:
            raise ImageReadError(f"cannot decode {str(path)!r}: {error}") from None
    gray: npt.NDArray[np.float64] = rgb @ REC601_WEIGHTS
    return gray


def _open(path: Path) -> Image.Image:
    """Open `path` lazily (header only), turning every failure into :class:`ImageReadError`."""
    where = repr(str(path))
    try:
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
    directory = path.parent
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
        image.save(stream, format=image_format)

    write_atomically(path, save)


def write_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call `write` on a temporary file beside `path`, then rename it to `path`.

    The rename is atomic on POSIX file systems: readers see the old file or the new one, never
    a partial one. A new file gets the usual permissions (0666 minus the umask); a replaced
    file keeps its own.
    """
    where = repr(str(path))
    check_destination(path)
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise ImageWriteError(f"cannot write {where}: {error.strerror or error}") from None
    try:
        with os.fdopen(fd, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        Path(temporary).chmod(_permissions_for(path))
        Path(temporary).replace(path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError | ValueError | KeyError):
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            raise ImageWriteError(f"cannot write {where}: {reason}") from None
        raise


def _permissions_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
