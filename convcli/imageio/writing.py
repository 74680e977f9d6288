"""The output formats: which format holds what, and encoding values into one.

Where the encoded bytes go, and how a file is replaced without ever being lost, is
:mod:`convcli.imageio.files`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

import numpy as np
import numpy.typing as npt
from PIL import Image

# The command line shows these without importing Pillow; they live with its other choices.
from convcli.choices import DEFAULT_PNG_COMPRESSION as DEFAULT_PNG_COMPRESSION
from convcli.choices import OUTPUT_DEPTHS as OUTPUT_DEPTHS
from convcli.choices import OutputDepth as OutputDepth
from convcli.errors import ImageWriteError, ParameterError
from convcli.imageio.files import STDOUT_NAME


@dataclass(frozen=True)
class OutputFormat:
    """A format convcli writes, and the Pillow modes it holds without loss of size or channels.

    ``L`` gray, ``LA`` gray and alpha, ``RGB``, ``RGBA``, ``I;16`` 16-bit gray, ``F`` 32-bit
    float gray; ``npy`` holds any float array.
    """

    name: str
    extensions: tuple[str, ...]
    pillow: str | None
    """Pillow's format name, or None for ``.npy``."""
    modes: frozenset[str]
    save_options: Mapping[str, Any] = field(default_factory=dict)
    lossy: bool = False
    """Whether the file holds only an approximation of the pixels it is given (JPEG)."""


_FORMATS = (
    OutputFormat("png", (".png",), "PNG", frozenset({"L", "LA", "RGB", "RGBA", "I;16"})),
    OutputFormat(
        "tiff", (".tif", ".tiff"), "TIFF", frozenset({"L", "LA", "RGB", "RGBA", "I;16", "F"})
    ),
    OutputFormat("jpeg", (".jpg", ".jpeg"), "JPEG", frozenset({"L", "RGB"}), lossy=True),
    OutputFormat("bmp", (".bmp",), "BMP", frozenset({"L", "RGB"})),
    OutputFormat("gif", (".gif",), "GIF", frozenset({"L"})),
    # WebP has no gray mode (it stores three equal channels) and is written losslessly:
    # lossy WebP would make those channels differ. Exactly: else the colour under alpha 0
    # is dropped.
    OutputFormat(
        "webp",
        (".webp",),
        "WEBP",
        frozenset({"L", "LA", "RGB", "RGBA"}),
        {"lossless": True, "exact": True},
    ),
    OutputFormat("pgm", (".pgm",), "PPM", frozenset({"L"})),
    OutputFormat("ppm", (".ppm",), "PPM", frozenset({"RGB"})),
    OutputFormat("tga", (".tga",), "TGA", frozenset({"L", "LA", "RGB", "RGBA"})),
    OutputFormat("jp2", (".jp2",), "JPEG2000", frozenset({"L", "LA", "RGB", "RGBA", "I;16"})),
    OutputFormat("npy", (".npy",), None, frozenset({"npy"})),
)

FORMATS: Mapping[str, OutputFormat] = MappingProxyType({fmt.name: fmt for fmt in _FORMATS})
"""Every output format by its name."""

_BY_NAME: Mapping[str, OutputFormat] = MappingProxyType(
    {
        **{fmt.name: fmt for fmt in _FORMATS},
        **{ext.lstrip("."): fmt for fmt in _FORMATS for ext in fmt.extensions},
    }
)

_MODE_WORDS = {
    "L": "8-bit gray",
    "LA": "8-bit gray with alpha",
    "RGB": "8-bit colour",
    "RGBA": "8-bit colour with alpha",
    "I;16": "16-bit gray",
    "F": "32-bit float gray",
}


def format_names() -> list[str]:
    """What ``--format`` takes: format names and extensions without the dot."""
    return list(_BY_NAME)


def _extensions() -> list[str]:
    return [extension for fmt in _FORMATS for extension in fmt.extensions]


def choose_format(destination: str, requested: str | None) -> OutputFormat:
    """The format to write `destination` (a path, or ``-``) in.

    From ``--format`` (`requested`) when the destination is ``-`` or has no extension (PNG if
    neither says), else from the extension, which ``--format`` must then agree with.

    >>> choose_format("edges.JPG", None).name, choose_format("-", None).name
    ('jpeg', 'png')
    >>> choose_format("-", "tif").name, choose_format("out", "npy").name
    ('tiff', 'npy')

    Raises
    ------
    ParameterError
        If the extension or the requested format is not one convcli writes, or they disagree.
    """
    known = ", ".join(format_names())
    chosen = None
    if requested is not None:
        chosen = _BY_NAME.get(requested.lower().lstrip("."))
        if chosen is None:
            raise ParameterError(
                f"--format {requested!r} is not a format convcli writes; use one of {known}"
            )
    suffix = "" if destination == STDOUT_NAME else Path(destination).suffix.lower()
    if not suffix:
        fmt = chosen or FORMATS["png"]
    else:
        by_extension = _BY_NAME.get(suffix.lstrip("."))
        if by_extension is None:
            raise ParameterError(
                f"output {destination!r} has the extension {suffix!r}, which names no format"
                f" convcli writes; use one of {', '.join(_extensions())} or --format"
            )
        if chosen is not None and chosen is not by_extension:
            raise ParameterError(
                f"--format {requested} disagrees with the extension of {destination!r}"
            )
        fmt = by_extension
    if fmt.pillow is not None:
        # The writers Pillow preloads (PNG, JPEG, BMP, GIF, PPM) first: registering every
        # plugin's costs tens of milliseconds, on every run.
        Image.preinit()
        if fmt.pillow not in Image.SAVE:
            Image.init()
        if fmt.pillow not in Image.SAVE:
            raise ParameterError(
                f"writing {fmt.name} needs support this installation of Pillow lacks"
            )
    return fmt


def output_mode(*, channels: int, alpha: bool, depth: OutputDepth, wide: bool = False) -> str:
    """The Pillow mode for `channels` (1 or 3), optional alpha, at `depth`.

    `wide` says the writer holds 16-bit samples of any layout (the TIFF written in parts):
    16-bit colour and alpha are then ``RGB;16``, ``RGBA;16`` and ``LA;16``, names of
    convcli's own (Pillow has no such modes).

    Raises
    ------
    ParameterError
        For combinations Pillow cannot hold: 16-bit or float colour, 16-bit or float with
        alpha, or a channel count other than 1 or 3.
    """
    if channels not in (1, 3):
        raise ParameterError(
            f"an image of {channels} channels can only be written as .npy (images hold 1 or 3)"
        )
    if depth == "8":
        return {(1, False): "L", (1, True): "LA", (3, False): "RGB", (3, True): "RGBA"}[
            (channels, alpha)
        ]
    what = "16-bit" if depth == "16" else "float"
    if wide and depth == "16" and (channels == 3 or alpha):
        return ("RGBA" if alpha else "RGB") + ";16" if channels == 3 else "LA;16"
    if channels == 3:
        raise ParameterError(
            f"{what} colour output is not supported (Pillow has no such mode);"
            " use --depth 8 or .npy"
        )
    if alpha:
        raise ParameterError(
            f"{what} output with alpha is not supported; use --depth 8, --no-alpha or .npy"
        )
    return "I;16" if depth == "16" else "F"


def check_format_holds(fmt: OutputFormat, mode: str) -> None:
    """Refuse a format that cannot hold `mode` faithfully, naming formats that can.

    >>> check_format_holds(FORMATS["jpeg"], "LA")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: jpeg cannot hold 8-bit gray with alpha; png, tiff, webp, tga
    or jp2 can (or drop the alpha with --no-alpha)
    """
    if fmt.pillow is None or mode in fmt.modes:
        return
    able = [other.name for other in _FORMATS if mode in other.modes]
    alternatives = ", ".join(able[:-1]) + " or " + able[-1] if len(able) > 1 else able[0]
    hint = " (or drop the alpha with --no-alpha)" if mode.endswith("A") else ""
    raise ParameterError(f"{fmt.name} cannot hold {_MODE_WORDS[mode]}; {alternatives} can{hint}")


def encode_into(
    stream: IO[bytes],
    values: npt.NDArray[Any],
    alpha: npt.NDArray[Any] | None,
    mode: str,
    fmt: OutputFormat,
    *,
    png_compression: int = DEFAULT_PNG_COMPRESSION,
) -> None:
    """Write `values` (and `alpha`) as `mode` in `fmt` to `stream`, or as a ``.npy`` array.

    For ``.npy`` the values are written as they are, float32 or float64 as computed (other
    types as float64), alpha as a last channel. PNG is compressed at zlib level
    `png_compression` (0-9).

    Raises
    ------
    ImageWriteError
        If Pillow cannot encode them.
    """
    planes = values if alpha is None else np.dstack([values, alpha])
    if fmt.pillow is None:
        dtype = planes.dtype if planes.dtype in (np.float32, np.float64) else np.float64
        np.save(stream, np.ascontiguousarray(planes, dtype=dtype), allow_pickle=False)
        return
    options = dict(fmt.save_options)
    if fmt.name == "png":
        options["compress_level"] = png_compression
    try:
        image = Image.fromarray(np.ascontiguousarray(planes))
        if image.mode != mode:
            raise ValueError(f"planes of shape {planes.shape} and {planes.dtype} are not {mode}")
        image.save(stream, format=fmt.pillow, **options)
    except OSError as error:
        if error.errno is not None:  # the stream failed (disk full): a write error, not ours
            raise
        raise ImageWriteError(f"cannot encode {fmt.name} ({mode}): {error}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise ImageWriteError(f"cannot encode {fmt.name} ({mode}): {error}") from None
