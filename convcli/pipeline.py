"""One image through a chain of kernels: read, filter, map to pixels, write. What ``apply`` runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from convcli.chain import apply_chain, is_signed
from convcli.image_io import check_destination, output_format, read_gray, write_gray
from convcli.kernel_spec import Step
from convcli.params import ConvParams, Pair
from convcli.rangemap import RangeMode, resolve_range_mode, to_pixels
from convcli.shape import Axes


@dataclass(frozen=True)
class ApplyReport:
    """What one run did: sizes are (height, width)."""

    input_shape: Pair
    output_shape: Pair
    kernels: tuple[str, ...]
    range_mode: RangeMode
    value_range: tuple[float, float]
    """Smallest and largest result of the chain, before mapping to pixels."""
    steps: tuple[Axes, ...]
    """The shape arithmetic of each step."""


def apply_to_file(
    source: Path,
    destination: Path,
    steps: Sequence[Step],
    params: ConvParams,
    *,
    range_mode: str = "auto",
) -> ApplyReport:
    """Filter the image at `source` with `steps` and write the result to `destination`.

    The image is read as grayscale (see :func:`convcli.image_io.read_gray`), filtered by
    :func:`convcli.chain.apply_chain`, mapped to 8-bit pixels by `range_mode` (``auto``
    follows :func:`convcli.chain.is_signed`; see :mod:`convcli.rangemap`) and written
    atomically in the format of `destination`'s extension.

    Raises
    ------
    ParameterError
        If `range_mode` or the output extension is wrong; checked before reading.
    ImageReadError, ImageWriteError
        If the input cannot be read or the output cannot be written.
    ShapeError
        If a kernel does not fit its input; nothing is written.
    """
    check_destination(destination)
    image_format = output_format(destination)
    mode = resolve_range_mode(range_mode, signed=is_signed(steps))
    gray = read_gray(source)
    result = apply_chain(gray, steps, params)
    write_gray(destination, to_pixels(result.values, mode), image_format)
    first, last = result.steps[0], result.steps[-1]
    return ApplyReport(
        input_shape=(first[0].size, first[1].size),
        output_shape=(last[0].output, last[1].output),
        kernels=tuple(step.name for step in steps),
        range_mode=mode,
        value_range=(float(result.values.min()), float(result.values.max())),
        steps=result.steps,
    )
