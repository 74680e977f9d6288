"""One image through a chain of kernels: read, filter, map to pixels, write. What ``apply`` runs.

Everything that can be checked before pixels are decoded is: the output format and what it
can hold, the destination, the shape arithmetic of every step, the decompression-bomb limit.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from convcli.choices import (
    ALPHA_RULES,
    RANGE_MODES,
    AlphaRule,
    OutputDepth,
    RangeMode,
    WrittenDepth,
)
from convcli.core.convolution import FloatArray
from convcli.core.methods import Compute
from convcli.core.params import ConvParams, Pair, to_choice
from convcli.core.shape import Axes
from convcli.errors import ImageWarning, ImageWriteError, ParameterError
from convcli.imageio.files import (
    STDIN_NAME,
    STDOUT_NAME,
    check_destination,
    same_file,
    write_output,
)
from convcli.imageio.png import PngStrips, StreamMode, stream_mode
from convcli.imageio.reading import (
    DEFAULT_MAX_PIXELS,
    DecodedRows,
    GrayWeights,
    ImageInfo,
    OpenImage,
    open_image,
)
from convcli.imageio.writing import (
    DEFAULT_PNG_COMPRESSION,
    OutputFormat,
    check_format_holds,
    choose_format,
    encode_into,
    output_mode,
)
from convcli.kernels.kernel import Kernel, Step
from convcli.pipeline.alpha import AppliedAlpha, applied_alpha, filtered_alpha, weighted_chain
from convcli.pipeline.chain import (
    apply_chain,
    chain_arithmetic,
    check_chain_fits,
    check_method,
    is_signed,
)
from convcli.pipeline.parts import WRITTEN_IN_PARTS, Output, Progress, run_in_parts
from convcli.pipeline.rangemap import (
    PixelMapping,
    check_writable,
    concrete_range_mode,
    held_alpha,
    map_into,
    pixel_mapping,
)


@dataclass(frozen=True, kw_only=True)
class ImageOptions:
    """How an image is read, computed and written: everything that is not the kernels."""

    color: bool = False
    """Filter R, G and B separately and write colour; else filter one gray channel."""
    gray: GrayWeights = "rec601"
    keep_alpha: bool = True
    """Carry alpha to the output (never composited); False drops it, as asked."""
    alpha: AlphaRule = "auto"
    """How alpha goes through the chain (see :mod:`convcli.pipeline.alpha`)."""
    auto_orient: bool = True
    max_pixels: int = DEFAULT_MAX_PIXELS
    depth: OutputDepth | None = None
    """Output depth; None keeps the input's (see :func:`default_depth`)."""
    output_format: str | None = None
    """``--format``: needed for standard output or a name without extension."""
    range_mode: RangeMode = "auto"
    """How results become pixels (see :mod:`convcli.pipeline.rangemap`)."""
    force: bool = False
    """Allow the output to overwrite the input."""
    png_compression: int = DEFAULT_PNG_COMPRESSION
    """zlib level of PNG output, 0 (none) to 9 (smallest, slowest)."""
    compute: Compute = Compute()
    """How the core computes: the method and the most threads."""
    in_parts: bool = True
    """Read a TIFF or ``.npy`` file a band of rows at a time, in memory that does not grow
    with its size; False decodes it whole, as every other input is (the same values), within
    `max_pixels`."""

    def __post_init__(self) -> None:
        # Also catches options built directly rather than from the command line.
        to_choice(self.range_mode, RANGE_MODES, "range")
        to_choice(self.alpha, ALPHA_RULES, "alpha rule")


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
    depth: WrittenDepth
    range_mode: RangeMode | None
    """How values became pixels, or None when written as they are (npy, float)."""
    alpha: AppliedAlpha | None
    """How alpha went through the chain, or None: the output has none."""
    value_range: tuple[float, float]
    clipped: int
    """How many values the mapping clamped to 0 or full scale: what was lost."""
    steps: tuple[Axes, ...]


def default_depth(
    info: ImageInfo, fmt: OutputFormat, *, channels: int, alpha: bool, wide: bool = False
) -> OutputDepth:
    """The output depth that keeps the input's, as far as `fmt` can.

    16-bit gray stays 16-bit where the format holds it, and 16-bit colour or alpha where the
    writer is `wide` (see :func:`~convcli.imageio.writing.output_mode`); unitless values
    (32-bit, float, .npy) stay float where the format holds float gray (TIFF); everything
    else is 8-bit.
    """
    if info.depth == "16" and (wide or (channels == 1 and not alpha and "I;16" in fmt.modes)):
        return "16"
    if info.depth == "unitless" and channels == 1 and not alpha and "F" in fmt.modes:
        return "float"
    if info.depth == "16":
        warnings.warn(
            f"{info.name}: 16-bit input written as 8-bit ({fmt.name} holds no 16-bit"
            f"{' colour' if channels == 3 else ''}{' with alpha' if alpha else ''})",
            ImageWarning,
            stacklevel=3,
        )
    return "8"


@dataclass(frozen=True)
class _Plan:
    """What the output will be, decided from the header before any pixel is decoded."""

    channels: int
    alpha: bool
    depth: WrittenDepth
    mode: str
    """The Pillow mode written, or ``npy``."""
    alpha_rule: AppliedAlpha | None = None
    """How alpha goes through the chain, when the output carries alpha."""
    png_stream: StreamMode | None = None
    """The mode of a PNG compressed strip by strip as it is made, or None: not such a PNG."""


_WIDE_MODES = frozenset({"LA;16", "RGB;16", "RGBA;16"})


def _plan(
    info: ImageInfo,
    fmt: OutputFormat,
    steps: Sequence[Step],
    options: ImageOptions,
    *,
    in_parts: bool = False,
) -> _Plan:
    channels = info.channels if (options.color or info.format == "NPY") else 1
    alpha = info.has_alpha and options.keep_alpha
    if fmt.name == "npy":
        return _Plan(channels, alpha, "npy", "npy", _alpha_rule(alpha, steps, options))
    wide = in_parts and fmt.name == "tiff"  # tifffile writes what Pillow cannot
    depth = options.depth or default_depth(info, fmt, channels=channels, alpha=alpha, wide=wide)
    mode = output_mode(channels=channels, alpha=alpha, depth=depth, wide=wide)
    if mode not in _WIDE_MODES:
        check_format_holds(fmt, mode)
    if depth == "float" and options.range_mode != "auto":
        raise ParameterError(
            "--range does not apply to float output: it holds the values as they are"
        )
    png_stream = stream_mode(mode) if fmt.name == "png" else None
    return _Plan(channels, alpha, depth, mode, _alpha_rule(alpha, steps, options), png_stream)


def _alpha_rule(alpha: bool, steps: Sequence[Step], options: ImageOptions) -> AppliedAlpha | None:
    """The alpha rule that runs, if the output carries alpha."""
    return applied_alpha(options.alpha, steps) if alpha else None


@dataclass(frozen=True)
class PlannedImage:
    """What :func:`apply_to_image` would write, from the input's header alone."""

    info: ImageInfo
    """The input's header."""
    kernels: tuple[str, ...]
    format: str
    """The output format's name."""
    depth: WrittenDepth
    alpha: AppliedAlpha | None
    """The alpha rule that would run; None when the output would carry no alpha."""
    steps: tuple[Axes, ...]
    """The shape arithmetic of each step."""


def plan_image(
    source: Path,
    destination: Path,
    steps: Sequence[Step],
    params: ConvParams,
    options: ImageOptions = ImageOptions(),
    *,
    directory_made: bool = False,
) -> PlannedImage:
    """Every check :func:`apply_to_image` makes before it decodes a pixel, and what it would
    write: ``--dry-run``. Raises what :func:`apply_to_image` would; `directory_made` says
    the output's directory will be made first (a batch's ``--out-dir``), so it may be missing.
    """
    fmt = _check_request(source, destination, steps, options, check_directory=not directory_made)
    with open_image(
        source,
        auto_orient=options.auto_orient,
        max_pixels=options.max_pixels,
        in_parts=options.in_parts,
    ) as image:
        in_parts = image.in_parts and options.in_parts
        plan = _check_header(image.info, fmt, steps, params, options, in_parts=in_parts)
        if in_parts:
            _check_written_whole(str(destination), image.info, fmt, steps, params, options)
        info = image.info
    axes = chain_arithmetic(info.size, [step.shape for step in steps], params)
    kernels = tuple(step.name for step in steps)
    return PlannedImage(info, kernels, fmt.name, plan.depth, plan.alpha_rule, tuple(axes))


def _check_request(
    source: Path | IO[bytes],
    destination: Path | IO[bytes],
    steps: Sequence[Step],
    options: ImageOptions,
    *,
    check_directory: bool = True,
) -> OutputFormat:
    """The output format, and the checks that need neither pixels nor a header."""
    destination_name = str(destination) if isinstance(destination, Path) else STDOUT_NAME
    fmt = _checked_format(destination_name, options)
    applied_alpha(options.alpha, steps)  # a rule the chain cannot take, refused for any image
    if isinstance(destination, Path):
        if check_directory:
            check_destination(destination)
        check_overwrite(source, destination, steps, force=options.force)
    return fmt


def _checked_format(destination: str, options: ImageOptions) -> OutputFormat:
    """The format `destination` is written in, refused with a depth or a range where it
    holds the float result."""
    fmt = choose_format(destination, options.output_format)
    if fmt.name == "npy" and options.depth is not None:
        raise ParameterError("--depth does not apply to .npy output: it holds the float result")
    if fmt.name == "npy" and options.range_mode != "auto":
        raise ParameterError(
            "--range does not apply to npy output: it holds the values as they are"
        )
    return fmt


def planned_mapping(
    info: ImageInfo,
    destination: str,
    steps: Sequence[Step],
    params: ConvParams,
    options: ImageOptions = ImageOptions(),
) -> PixelMapping:
    """How :func:`apply_to_image` would map the results of `steps` over the image `info`
    describes, written to `destination` (a path or ``-``) with `options`.

    Raises what :func:`apply_to_image` raises about them before it decodes a pixel.
    """
    plan = _check_header(info, _checked_format(destination, options), steps, params, options)
    return pixel_mapping(
        plan.depth, options.range_mode, max_value=info.max_value, signed=is_signed(steps)
    )


def check_overwrite(
    source: Path | IO[bytes], destination: Path, steps: Sequence[Step], *, force: bool
) -> None:
    """Refuse, unless `force`, a `destination` that is a file the run reads: the image or a
    kernel file of `steps`.

    Raises
    ------
    ParameterError
        Naming the input that would be replaced.
    """
    for path in _protected(source, steps):
        if same_file(path, destination) and not force:
            raise ParameterError(
                f"OUTPUT {str(destination)!r} is the input {str(path)!r}: writing over it"
                " needs --force"
            )


def _check_header(
    info: ImageInfo,
    fmt: OutputFormat,
    steps: Sequence[Step],
    params: ConvParams,
    options: ImageOptions,
    *,
    in_parts: bool = False,
) -> _Plan:
    """The output's plan, and the checks that need the header but no pixel."""
    plan = _plan(info, fmt, steps, options, in_parts=in_parts)
    axes = chain_arithmetic(info.size, [step.shape for step in steps], params)
    check_chain_fits(axes, [step.name for step in steps])
    check_method(steps, options.compute.method, dtype=info.computed_in)
    return plan


def _protected(source: Path | IO[bytes], steps: Sequence[Step]) -> list[Path]:
    """The files a run reads, which its output must not replace: the image and kernel files."""
    paths = [source] if isinstance(source, Path) else []
    return paths + [step.path for step in steps if isinstance(step, Kernel) and step.path]


def apply_to_image(
    source: Path | IO[bytes],
    destination: Path | IO[bytes],
    steps: Sequence[Step],
    params: ConvParams,
    options: ImageOptions = ImageOptions(),
    *,
    source_name: str = STDIN_NAME,
    progress: Progress | None = None,
) -> ApplyReport:
    """Filter an image with `steps` and write the result.

    A TIFF or ``.npy`` file is read, filtered and written a band of rows at a time (see
    :mod:`convcli.pipeline.parts`), so its size is not limited by memory; `progress` is
    then told the rows written as they are.

    Parameters
    ----------
    source
        A path, or a binary stream (standard input), read only once every check that needs
        no pixels has passed.
    source_name
        How messages and the report name a stream `source` (a path names itself).
    destination
        A path, written atomically (or straight into a device or FIFO), or a binary stream
        (standard output) that receives the encoded image in one write, after everything has
        succeeded.

    Raises
    ------
    ParameterError
        For what the command line got wrong, checked before any pixel is decoded: the output
        format, a depth or alpha it cannot hold, writing over an input without ``force``.
    ImageReadError, ImageWriteError
        If the input cannot be read or the output cannot be written.
    ShapeError
        If a kernel does not fit its input; nothing is written.
    """
    source_name = str(source) if isinstance(source, Path) else source_name
    destination_name = str(destination) if isinstance(destination, Path) else STDOUT_NAME
    fmt = _check_request(source, destination, steps, options)
    with open_image(
        source,
        name=source_name,
        auto_orient=options.auto_orient,
        max_pixels=options.max_pixels,
        in_parts=options.in_parts,
    ) as image:
        if image.in_parts and options.in_parts:
            return _apply_in_parts(
                image, destination, fmt, steps, params, options, progress=progress
            )
        plan = _check_header(image.info, fmt, steps, params, options)
        decoded = image.decode_rows(color=options.color, gray=options.gray, keep_alpha=plan.alpha)
        # The chain checks its arithmetic again on the decoded size: a PNG may tell its
        # orientation only after its pixels.
        mapping = pixel_mapping(
            plan.depth, options.range_mode, max_value=image.info.max_value, signed=is_signed(steps)
        )
        output = _filtered(decoded, steps, params, plan, mapping, options)
    # What is left of the input; the decoded pixels are freed before the output is encoded.
    info, gray, alpha = decoded.info, decoded.gray, decoded.alpha
    del decoded
    rule = plan.alpha_rule
    if alpha is not None and (rule == "carry" or rule == "channel"):  # beside the colour
        carried = filtered_alpha(
            alpha, steps, params, rule, opaque=info.max_value or 1.0, compute=options.compute
        )
        output = dataclasses.replace(output, alpha=held_alpha(carried, mapping))

    def write(stream: IO[bytes]) -> None:
        if output.png is not None:
            output.png.write(stream)
        else:
            level = options.png_compression
            encode_into(stream, output.values, output.alpha, plan.mode, fmt, png_compression=level)

    write_output(destination, write)
    ran = _Ran(info, gray, steps, fmt, plan, mapping)
    return ran.report(destination_name, output.value_range, output.clipped, output.steps)


@dataclass(frozen=True)
class _Ran:
    """What a run decided before it computed: what its report says besides the values."""

    info: ImageInfo
    gray: GrayWeights | None
    steps: Sequence[Step]
    fmt: OutputFormat
    plan: _Plan
    mapping: PixelMapping

    def report(
        self,
        destination: str,
        value_range: tuple[float, float],
        clipped: int,
        axes: tuple[Axes, ...],
    ) -> ApplyReport:
        return ApplyReport(
            input=self.info.name,
            output=destination,
            input_shape=self.info.size,
            output_shape=(axes[-1][0].output, axes[-1][1].output),
            kernels=tuple(step.name for step in self.steps),
            gray=self.gray,
            format=self.fmt.name,
            depth=self.plan.depth,
            range_mode=self.mapping.range_mode,
            alpha=self.plan.alpha_rule,
            value_range=value_range,
            clipped=clipped,
            steps=axes,
        )


def _apply_in_parts(
    image: OpenImage,
    destination: Path | IO[bytes],
    fmt: OutputFormat,
    steps: Sequence[Step],
    params: ConvParams,
    options: ImageOptions,
    *,
    progress: Progress | None,
) -> ApplyReport:
    """:func:`apply_to_image` on an image read in parts."""
    info = image.info
    plan = _check_header(info, fmt, steps, params, options, in_parts=True)
    destination_name = str(destination) if isinstance(destination, Path) else STDOUT_NAME
    _check_written_whole(destination_name, info, fmt, steps, params, options)
    mapping = pixel_mapping(
        plan.depth, options.range_mode, max_value=info.max_value, signed=is_signed(steps)
    )
    output = Output(
        fmt.name, plan.mode, mapping, plan.alpha_rule, plan.channels, options.png_compression
    )
    parts = image.rows_in_parts(color=options.color, gray=options.gray, keep_alpha=plan.alpha)

    def encode_whole(
        stream: IO[bytes], values: npt.NDArray[Any], alpha: npt.NDArray[Any] | None
    ) -> None:
        level = options.png_compression
        encode_into(stream, values, alpha, plan.mode, fmt, png_compression=level)

    def write(write_file: Callable[[IO[bytes]], None]) -> None:
        write_output(destination, write_file)

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        result = run_in_parts(
            parts,
            steps,
            params,
            output,
            write,
            encode_whole,
            compute=options.compute,
            progress=progress,
            destination=destination if isinstance(destination, Path) else None,
        )
    if plan.depth == "float":
        warn_lost_digits(info.name, *result.value_range)
    ran = _Ran(info, parts.gray, steps, fmt, plan, mapping)
    return ran.report(destination_name, result.value_range, result.clipped, result.steps)


def _check_written_whole(
    destination: str,
    info: ImageInfo,
    fmt: OutputFormat,
    steps: Sequence[Step],
    params: ConvParams,
    options: ImageOptions,
) -> None:
    """Refuse an output of an image read in parts that would be encoded whole (a format not
    written in parts) and is larger than ``--max-pixels``: what guards memory then.

    Raises
    ------
    ImageWriteError
        Naming the formats written in parts.
    """
    if fmt.name in WRITTEN_IN_PARTS:
        return
    axes = chain_arithmetic(info.size, [step.shape for step in steps], params)
    height, width = axes[-1][0].output, axes[-1][1].output
    if height * width > options.max_pixels:
        raise ImageWriteError(
            f"cannot write {destination!r}: {height}x{width} = {height * width} pixels of"
            f" {fmt.name} are encoded whole, over the limit of {options.max_pixels}; tiff,"
            " png and npy are written a band of rows at a time, or raise --max-pixels"
        )


@dataclass(frozen=True)
class Filtered:
    """A chain's result as the output holds it, and what the mapping did on the way."""

    values: npt.NDArray[Any]
    """The output's values, (H, W) or (H, W, C); empty when `png` holds them."""
    value_range: tuple[float, float]
    """The minimum and maximum of the result before mapping."""
    clipped: int
    """How many values the mapping clamped to 0 or full scale: what was lost."""
    steps: tuple[Axes, ...]
    png: PngStrips | None = None
    """The PNG, compressed strip by strip as the values were made, or None."""
    alpha: npt.NDArray[Any] | None = None
    """The output's alpha, (H, W), as the output holds it, or None."""


@dataclass(frozen=True)
class GrayPixels:
    """A chain's result as 8-bit gray pixels, and how they were mapped."""

    range_mode: RangeMode
    """How values became pixels (never ``auto``)."""
    result: Filtered
    """The pixels, (H, W) uint8, and what the mapping did on the way."""


def gray_pixels(
    decoded: DecodedRows,
    steps: Sequence[Step],
    params: ConvParams,
    options: ImageOptions = ImageOptions(),
) -> GrayPixels:
    """The 8-bit pixels :func:`apply_to_image` writes for one gray channel filtered by `steps`.

    The same code maps them, so they equal the gray channel of what ``apply`` writes with
    ``--depth 8`` (its default for 8-bit images) and the same ``--range``, ``--alpha``,
    ``--method`` and ``--threads`` (`options`; the rest of them does not apply): with alpha,
    the colour its rule gives, the alpha itself left out. `decoded` may be used again:
    each call reads its rows anew. Call it inside
    :func:`~convcli.imageio.reading.open_image`'s block, as
    :meth:`~convcli.imageio.reading.OpenImage.decode_rows` requires.

    Raises
    ------
    ParameterError
        If `decoded` holds more than one channel (decode it gray).
    ShapeError
        If a kernel does not fit its input.
    ImageWriteError
        If the result overflows to infinity or NaN.
    """
    if len(decoded.values.shape) == 3 and decoded.values.shape[2] != 1:
        raise ParameterError(
            f"{decoded.info.name!r} has {decoded.values.shape[2]} channels; this takes one"
        )
    max_value, signed = decoded.info.max_value, is_signed(steps)
    mode = concrete_range_mode(options.range_mode, max_value=max_value, signed=signed)
    mapping = pixel_mapping("8", mode, max_value=max_value, signed=signed)
    # Only the weighted rule changes the colour; the alpha is not written.
    rule = _alpha_rule(decoded.alpha is not None, steps, options)
    plan = _Plan(1, False, "8", "L", rule if rule == "weighted" else None)
    return GrayPixels(mode, _filtered(decoded, steps, params, plan, mapping, options))


def _filtered(
    decoded: DecodedRows,
    steps: Sequence[Step],
    params: ConvParams,
    plan: _Plan,
    mapping: PixelMapping,
    options: ImageOptions,
) -> Filtered:
    """Run the chain and map its result to the output's values by `mapping`; under the
    ``weighted`` alpha rule, its alpha too (the other rules leave the colour as it is, and
    their alpha to the caller).

    Pixel output whose mapping needs no global statistic (``clip``, ``abs``) is mapped a strip
    at a time as the last step makes it: the float result never exists whole, so memory stays
    near the decoded input plus the output. PNG without alpha is even compressed strip by
    strip (see :mod:`convcli.imageio.png`) when the plan says so: then the output never
    exists whole either. ``rescale``, float and ``.npy`` output keep the float result, and
    so does ``weighted`` alpha, which divides the colour by the alpha filtered beside it.
    """
    info, alpha = decoded.info, decoded.alpha
    mode = mapping.range_mode
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if alpha is not None and plan.alpha_rule == "weighted":
            opaque = info.max_value or 1.0
            weighted = weighted_chain(
                decoded.values, alpha, steps, params, opaque=opaque, compute=options.compute
            )
            axes = chain_arithmetic(info.size, [step.shape for step in steps], params)
            filtered = _mapped_whole(weighted.colour, tuple(axes), info, plan, mapping)
            return dataclasses.replace(filtered, alpha=held_alpha(weighted.alpha, mapping))
        if mode == "clip" or mode == "abs":
            return _mapped_in_strips(decoded, steps, params, plan, mode, mapping, options)
        chained = apply_chain(decoded.values, steps, params, compute=options.compute)
    return _mapped_whole(chained.values, chained.steps, info, plan, mapping)


def _mapped_whole(
    result: FloatArray,
    steps: tuple[Axes, ...],
    info: ImageInfo,
    plan: _Plan,
    mapping: PixelMapping,
) -> Filtered:
    """A chain's whole float result as the output holds it: mapped to pixels, as float32,
    or (``.npy``) as it is."""
    low, high = float(result.min()), float(result.max())
    check_writable(low, high, info.name, plan.depth)
    if result.ndim == 3 and plan.channels == 1:  # an (H, W, 1) array is one gray channel
        result = result[..., 0]
    values: npt.NDArray[Any]
    clipped = 0
    mode = mapping.range_mode
    if mode is not None:
        values = np.empty(result.shape, dtype=mapping.held_dtype(result.dtype))
        # The result is not needed afterwards: mapped in place, no copy of it.
        clipped = map_into(result, mode, values, max_value=mapping.full_scale, unit=mapping.unit)
    elif plan.depth == "float":
        warn_lost_digits(info.name, low, high)
        values = result.astype(np.float32, copy=False)
    else:  # .npy: the values as computed
        values = result
    return Filtered(values, (low, high), clipped, steps)


def _mapped_in_strips(
    decoded: DecodedRows,
    steps: Sequence[Step],
    params: ConvParams,
    plan: _Plan,
    mode: RangeMode,
    mapping: PixelMapping,
    options: ImageOptions,
) -> Filtered:
    """The chain with its last step mapped to pixels by `mode` strip by strip (see
    :func:`_filtered`): into the output's array, or compressed into a PNG."""
    full_scale, unit = mapping.full_scale, mapping.unit
    axes = chain_arithmetic(decoded.info.size, [step.shape for step in steps], params)
    rows, cols = axes[-1]
    shape = (rows.output, cols.output, *(() if plan.channels == 1 else (plan.channels,)))
    dtype = mapping.held_dtype(decoded.values.dtype)
    compressed = None
    if plan.png_stream is not None:
        compressed = PngStrips(
            rows.output, cols.output, plan.png_stream, level=options.png_compression
        )
    pixels = np.empty(shape if compressed is None else (0,), dtype=dtype)
    strips: list[tuple[float, float, int]] = []  # appended from several threads: one call each

    def map_strip(start: int, stop: int, values: npt.NDArray[Any]) -> None:
        if values.ndim == 3 and plan.channels == 1:
            values = values[..., 0]
        low, high = float(values.min()), float(values.max())
        if not (math.isfinite(low) and math.isfinite(high)):
            strips.append((low, high, 0))
            return
        # The strip is ours to change: mapped in place, written into the output's rows.
        target = pixels[start:stop] if compressed is None else np.empty(values.shape, dtype)
        clipped = map_into(values, mode, target, max_value=full_scale, unit=unit)
        if compressed is not None:
            compressed.add(start, target)
        strips.append((low, high, clipped))

    chained = apply_chain(decoded.values, steps, params, compute=options.compute, sink=map_strip)
    low, high = min(strip[0] for strip in strips), max(strip[1] for strip in strips)
    check_writable(low, high, decoded.info.name, plan.depth)
    clipped = sum(strip[2] for strip in strips)
    return Filtered(pixels, (low, high), clipped, chained, compressed)


def warn_lost_digits(name: str, low: float, high: float) -> None:
    """Warn that 32-bit float output rounds a result from `low` to `high` beyond 2^24, the
    largest integer float32 holds exactly."""
    if max(-low, high) > _FLOAT32_EXACT:
        warnings.warn(
            f"{name}: values beyond 2^24 lose digits in 32-bit float; .npy keeps them",
            ImageWarning,
            stacklevel=3,
        )


# float32 holds every integer up to 2^24 exactly.
_FLOAT32_EXACT = 2**24
