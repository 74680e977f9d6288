"""One image through one kernel: read, filter, map to pixels, write. What ``apply`` runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from convcli.core import apply_kernel
from convcli.image_io import check_destination, output_format, read_gray, write_gray
from convcli.kernels import Kernel
from convcli.params import ConvParams, Pair
from convcli.rangemap import RangeMode, resolve_range_mode, to_pixels
from convcli.shape import AxisArithmetic, arithmetic


@dataclass(frozen=True)
class ApplyReport:
    """What one run did: sizes are (height, width)."""

    input_shape: Pair
    output_shape: Pair
    kernel: str
    range_mode: RangeMode
    value_range: tuple[float, float]
    """Smallest and largest filter result, before mapping to pixels."""
    axes: tuple[AxisArithmetic, AxisArithmetic]


def apply_to_file(
    source: Path,
    destination: Path,
    kernel: Kernel,
    params: ConvParams,
    *,
    range_mode: str = "auto",
) -> ApplyReport:
    """Filter the image at `source` with `kernel` and write the result to `destination`.

    The image is read as grayscale (see :func:`convcli.image_io.read_gray`), filtered by
    :func:`convcli.core.apply_kernel`, mapped to 8-bit pixels by `range_mode` (see
    :mod:`convcli.rangemap`) and written atomically in the format of `destination`'s extension.

    Raises
    ------
    ParameterError
        If `range_mode` or the output extension is wrong; checked before reading.
    ImageReadError, ImageWriteError
        If the input cannot be read or the output cannot be written.
    ShapeError
        If the kernel does not fit the image; nothing is written.
    """
    check_destination(destination)
    image_format = output_format(destination)
    mode = resolve_range_mode(range_mode, kernel.weights)
    gray = read_gray(source)
    result = apply_kernel(gray, kernel.weights, params)
    write_gray(destination, to_pixels(result, mode), image_format)
    axes = arithmetic(gray.shape, kernel.shape, params)
    return ApplyReport(
        input_shape=(axes[0].size, axes[1].size),
        output_shape=(axes[0].output, axes[1].output),
        kernel=kernel.name,
        range_mode=mode,
        value_range=(float(result.min()), float(result.max())),
        axes=axes,
    )
