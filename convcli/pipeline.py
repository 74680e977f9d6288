"""One image through a chain of kernels: read, filter, map to pixels, write. What ``apply`` runs.

Everything that can be checked before pixels are decoded is: the output format and what it
can hold, the destination, the shape arithmetic of every step, the decompression-bomb limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from convcli.chain import apply_chain, carry_alpha, chain_arithmetic, check_chain_fits, is_signed
from convcli.errors import ParameterError
from convcli.image_input import (
    DEFAULT_MAX_PIXELS,
    STDIN_NAME,
    GrayWeights,
    ImageInfo,
    open_image,
)
from convcli.image_output import (
    STDOUT_NAME,
    OutputDepth,
    OutputFormat,
    check_destination,
    check_format_holds,
    choose_format,
    encode,
    output_mode,
    same_file,
    write_file,
)
from convcli.kernel_spec import Step
from convcli.params import ConvParams, Pair, to_choice
from convcli.rangemap import RANGE_MODES, RangeMode, clipped_count, resolve_range_mode, to_pixels
from convcli.shape import Axes


@dataclass(frozen=True, kw_only=True)
class ImageOptions:
    """How an image is read and written: everything about pixels that is not the kernels."""

    color: bool = False
    """Filter R, G and B separately and write colour; else filter one gray channel."""
    gray: GrayWeights = "rec601"
    keep_alpha: bool = True
    """Carry alpha to the output (never composited); False drops it, as asked."""
    auto_orient: bool = True
    max_pixels: int = DEFAULT_MAX_PIXELS
    depth: OutputDepth | None = None
    """Output depth; None keeps the input's (see :func:`default_depth`)."""
    output_format: str | None = None
    """``--format``: needed for standard output or a name without extension."""
    range_mode: str = "auto"
    force: bool = False
    """Allow the output to overwrite the input."""


@dataclass(frozen=True)
class ApplyReport:
    """What one run did. Sizes are (height, width); values are before mapping to pixels."""

    input: str
    output: str
    input_shape: Pair
    output_shape: Pair
    kernels: tuple[str, ...]
    gray: GrayWeights | None
    """The weights that made colour gray, or None (gray input, --color, or .npy)."""
    format: str
    depth: str
    """The output's: ``8``, ``16``, ``float`` or ``npy``."""
    range_mode: RangeMode | None
    """How values became pixels, or None when written as they are (npy, float)."""
    value_range: tuple[float, float]
    clipped: int
    """How many values the mapping clamped to 0 or full scale: what was lost."""
    steps: tuple[Axes, ...]

    def record(self, *, ms: float) -> dict[str, Any]:
        """The JSON record of a run that succeeded (``--json``)."""
        return {
            "input": self.input,
            "output": self.output,
            "status": "ok",
            "error": None,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "kernels": list(self.kernels),
            "gray": self.gray,
            "format": self.format,
            "depth": self.depth,
            "range": self.range_mode,
            "value_range": list(self.value_range),
            "clipped": self.clipped,
            "ms": round(ms, 3),
        }


def error_record(source: str, destination: str, message: str, *, ms: float) -> dict[str, Any]:
    """The JSON record of a run that failed, with the same keys as :meth:`ApplyReport.record`."""
    return {
        "input": source,
        "output": destination,
        "status": "error",
        "error": message,
        "input_shape": None,
        "output_shape": None,
        "kernels": None,
        "gray": None,
        "format": None,
        "depth": None,
        "range": None,
        "value_range": None,
        "clipped": None,
        "ms": round(ms, 3),
    }


def default_depth(info: ImageInfo, fmt: OutputFormat, *, channels: int, alpha: bool) -> OutputDepth:
    """The output depth that keeps the input's: 16 for 16-bit, float for unitless values.

    Unitless values (32-bit, float, .npy) stay float where the format holds float gray (TIFF)
    and become 8-bit elsewhere.
    """
    if info.depth == "16":
        return "16"
    if info.depth == "unitless" and "F" in fmt.modes and channels == 1 and not alpha:
        return "float"
    return "8"


def apply_to_image(
    source: Path | bytes,
    destination: Path | IO[bytes],
    steps: Sequence[Step],
    params: ConvParams,
    options: ImageOptions = ImageOptions(),
) -> ApplyReport:
    """Filter an image with `steps` and write the result.

    Parameters
    ----------
    source
        A path, or the bytes of an image (standard input, named ``-``).
    destination
        A path, written atomically, or a binary stream (standard output) that receives the
        encoded image in one write, after everything has succeeded.

    Raises
    ------
    ParameterError
        For what the command line got wrong, checked before any pixel is decoded: the output
        format, a depth or alpha it cannot hold, writing over the input without ``force``.
    ImageReadError, ImageWriteError
        If the input cannot be read or the output cannot be written.
    ShapeError
        If a kernel does not fit its input; nothing is written.
    """
    source_name = str(source) if isinstance(source, Path) else STDIN_NAME
    destination_name = str(destination) if isinstance(destination, Path) else STDOUT_NAME
    fmt = choose_format(destination_name, options.output_format)
    range_mode = to_choice(options.range_mode, RANGE_MODES, "range")
    if fmt.name == "npy" and options.depth is not None:
        raise ParameterError("--depth does not apply to .npy output: it holds the float result")
    if isinstance(destination, Path):
        check_destination(destination)
        if isinstance(source, Path) and same_file(source, destination) and not options.force:
            raise ParameterError(
                f"OUTPUT {destination_name!r} is the INPUT: writing over it needs --force"
            )
    with open_image(
        source, name=source_name, auto_orient=options.auto_orient, max_pixels=options.max_pixels
    ) as image:
        info = image.info
        channels = info.channels if (options.color or info.format == "NPY") else 1
        alpha = info.has_alpha and options.keep_alpha
        if fmt.name == "npy":
            depth, mode = "npy", "npy"
        else:
            chosen = options.depth or default_depth(info, fmt, channels=channels, alpha=alpha)
            mode = output_mode(channels=channels, alpha=alpha, depth=chosen)
            check_format_holds(fmt, mode)
            depth = chosen
        if depth in {"npy", "float"} and range_mode != "auto":
            raise ParameterError(
                f"--range does not apply to {depth} output: it holds the values as they are"
            )
        axes = chain_arithmetic(info.size, [step.shape for step in steps], params)
        check_chain_fits(axes, [step.name for step in steps])
        decoded = image.decode(color=options.color, gray=options.gray, keep_alpha=alpha)
    result = apply_chain(decoded.values, steps, params).values
    alpha_plane: npt.NDArray[Any] | None = None
    if decoded.alpha is not None:
        alpha_plane = carry_alpha(decoded.alpha, steps, params)
    concrete: RangeMode | None = None
    clipped = 0
    if depth == "npy":
        values: npt.NDArray[Any] = result
    elif depth == "float":
        values = result.astype(np.float32)
    else:
        full_scale = 255 if depth == "8" else 65535
        unit = full_scale / info.max_value if info.max_value else 1.0
        if range_mode == "auto" and info.max_value is None:
            concrete = "rescale"  # unitless values have no range of their own to keep
        else:
            concrete = resolve_range_mode(range_mode, signed=is_signed(steps))
        values = to_pixels(result, concrete, max_value=full_scale, unit=unit)
        clipped = clipped_count(result, concrete, max_value=full_scale, unit=unit)
        if alpha_plane is not None:
            alpha_plane = to_pixels(alpha_plane, "clip", max_value=full_scale, unit=unit)
    data = encode(values, alpha_plane, mode, fmt)
    if isinstance(destination, Path):
        write_file(destination, data)
    else:
        destination.write(data)
        destination.flush()
    return ApplyReport(
        input=source_name,
        output=destination_name,
        input_shape=info.size,
        output_shape=(axes[-1][0].output, axes[-1][1].output),
        kernels=tuple(step.name for step in steps),
        gray=decoded.gray,
        format=fmt.name,
        depth=depth,
        range_mode=concrete,
        value_range=(float(result.min()), float(result.max())),
        clipped=clipped,
        steps=tuple(axes),
    )
