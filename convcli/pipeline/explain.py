"""One output pixel worked by hand: the window, the products, the sum, the mapping to a pixel.

What ``convcli explain`` and ``apply --at`` print. The window is read tap by tap from the
image (or from the previous step's result, in a chain), through the pad mode's rule for taps
that fall outside it; the products and their sum are computed here in float64, separately from
the core, which is what lets the tests hold the two against each other. The chain is also run
as ``apply`` runs it, and the pixel reported is the core's value, mapped by the pipeline's own
code in the core's float type: the pixel ``apply`` writes, even where float32 and float64
round a value near a half level differently.

A tap at input coordinate c (negative, or at least the size n, in the padding) reads::

    zeros       nothing: the value is 0
    constant    nothing: the value is the pad value
    reflect     -c before the image, 2(n - 1) - c after it (the edge is not repeated)
    replicate   the nearest edge pixel
    circular    c mod n
    symmetric   m = c mod 2n: m, or 2n - 1 - m past the image (the edge is repeated)

Padding narrower than the image on that axis (reflect) or no wider (circular) is all PyTorch
allows, so one reflection or one wrap always lands inside; symmetric padding may be wider, and
mirrors the image again and again.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import numpy as np
import numpy.typing as npt

from convcli.core.convolution import FloatArray, as_image_array
from convcli.core.methods import Compute
from convcli.core.padding import check_padding
from convcli.core.params import ConvParams, PadMode, Pair, format_size
from convcli.core.shape import Axes, AxisArithmetic, chain_arithmetic
from convcli.errors import ImageWarning, ParameterError
from convcli.imageio.files import STDOUT_NAME
from convcli.imageio.reading import GrayWeights, ImageInfo, open_image
from convcli.imageio.writing import choose_format
from convcli.kernels.kernel import Kernel, Operator, Step
from convcli.pipeline.alpha import (
    TRANSPARENT,
    AppliedAlpha,
    Weighted,
    applied_alpha,
    filtered_alpha,
    weighted_chain,
    weighted_kernels,
)
from convcli.pipeline.apply import ImageOptions, planned_mapping
from convcli.pipeline.chain import apply_chain, check_chain_fits
from convcli.pipeline.rangemap import PixelMapping, RangeMode, check_writable, to_output_units


@dataclass(frozen=True)
class AxisWindow:
    """Where the taps of one window fall along one axis, and which image line each reads."""

    axis: Literal["h", "w"]
    positions: tuple[int, ...]
    """Input coordinates of the taps, top to bottom or left to right: below 0 or at least
    `size` in the padding."""
    sources: tuple[int | None, ...]
    """The image row (or column) each tap reads; None for the value of ``zeros`` or
    ``constant`` padding."""
    size: int
    """The input's height (or width)."""

    def in_padding(self, tap: int) -> bool:
        """Whether tap `tap` falls in the padding."""
        return not 0 <= self.positions[tap] < self.size


def axis_window(axis: AxisArithmetic, index: int, mode: PadMode) -> AxisWindow:
    """The taps of output line `index` along `axis`, read through `mode`.

    >>> from convcli.core.shape import AxisArithmetic
    >>> taps = axis_window(AxisArithmetic("w", 5, 3, 2, 1, 1, 1), 0, "reflect")
    >>> taps.positions, taps.sources
    ((-1, 0, 1), (1, 0, 1))
    """
    first = index * axis.stride - axis.pad_before
    positions = tuple(first + tap * axis.dilation for tap in range(axis.kernel))
    return AxisWindow(
        axis.axis, positions, tuple(_source(c, axis.size, mode) for c in positions), axis.size
    )


def _source(position: int, size: int, mode: PadMode) -> int | None:
    """The image line a tap at `position` reads (see the module docstring)."""
    if 0 <= position < size:
        return position
    if mode in ("zeros", "constant"):
        return None
    if mode == "replicate":
        return 0 if position < 0 else size - 1
    if mode == "circular":
        return position % size
    if mode == "symmetric":
        folded = position % (2 * size)
        return folded if folded < size else 2 * size - 1 - folded
    return -position if position < 0 else 2 * (size - 1) - position  # reflect


@dataclass(frozen=True)
class Products:
    """One kernel over one window: the weights as applied, their products and the sum."""

    kernel: str
    weights: FloatArray
    """(kh, kw), rotated by 180 degrees when the convolution is true (``--flip``)."""
    products: FloatArray
    """window * weights, element by element, (kh, kw)."""
    total: float
    """The sum of the products, correctly rounded (:func:`math.fsum`)."""


@dataclass(frozen=True)
class MappedValue:
    """A value on its way to the output, one operation at a time (see
    :func:`convcli.pipeline.rangemap.map_to_pixels`, which does the same to a whole image)."""

    mode: RangeMode | None
    """``clip``, ``abs``, ``rescale``; None when the output holds floats (float, ``.npy``)."""
    value: float
    """The value mapped."""
    in_units: float
    """The value times the mapping's unit (16-bit input to 8-bit output: 255/65535)."""
    before_rounding: float
    """After ``abs`` (its absolute value) or ``rescale`` ((v - low) * full scale / span)."""
    rounded: float
    """Rounded to the nearest integer, half to even."""
    final: float
    """What the output holds: the rounded value clamped to 0..full scale, or the float."""
    single: bool = False
    """Whether `final` is held as a 32-bit float."""
    value_range: tuple[float, float] | None = None
    """The whole result's minimum and maximum, which ``rescale`` maps; None otherwise."""

    @property
    def clamped(self) -> bool:
        """Whether the clamp changed the value: the mapping lost it."""
        return self.mode is not None and self.final != self.rounded


@dataclass(frozen=True)
class Coverage:
    """How much of the window is covered by colour, for the ``weighted`` alpha rule: the
    window's alpha (0 to 1), and the share of the kernel's weight that falls on it."""

    alpha: FloatArray
    """The alpha under the taps, (kh, kw), 0 to 1, padding included."""
    weights: FloatArray
    """The kernel as applied, (kh, kw)."""
    products: FloatArray
    """weights * (1 - alpha): the weight that falls on transparency."""
    transparent: float
    """The sum of the products, correctly rounded."""
    total: float
    """The sum of the weights."""
    covered: float
    """1 - transparent / total: the filtered alpha, which divides the colour."""


@dataclass(frozen=True)
class AlphaPlane:
    """An image's alpha, as the chain takes it."""

    values: FloatArray
    """(H, W), in the image's units."""
    opaque: float
    """Its full scale: 255 for 8-bit images, 65535 for 16-bit ones."""
    rule: AppliedAlpha


@dataclass(frozen=True)
class ChannelWork:
    """The worked pixel in one channel."""

    window: FloatArray
    """The values under the taps, (kh, kw), padding included."""
    terms: tuple[Products, ...]
    """One for a kernel; the x and y kernels' for an operator."""
    combined: float
    """The sum of products, or an operator's magnitude sqrt(Gx^2 + Gy^2), in float64."""
    value: float
    """scale * combined + bias (``weighted``: scale * combined / covered + bias, 0 where
    nothing is covered): the step's result by hand, before the mapping."""
    computed: float
    """The same result as the core computes it for ``apply``, in the image's float type (and
    order of sums): what the mapping takes. It can differ from `value` in the last digits."""
    mapped: MappedValue


@dataclass(frozen=True)
class Provenance:
    """What the report of a worked pixel says its input and output are: labels, no numbers."""

    source: str = "image"
    """The input's name (``-`` for standard input), or :data:`RAMP`."""
    gray: GrayWeights | None = None
    """The weights that made colour gray, or None when nothing was converted."""
    channel_names: tuple[str, ...] = ()
    """``R G B`` for colour, ``0 1 ...`` for an array's channels; empty for one channel."""
    lossy: bool = False
    """Whether the output format (JPEG) then changes the pixel as it compresses it."""


@dataclass(frozen=True)
class WorkedPixel:
    """Output pixel `at` of a chain's last step, worked by hand in every channel."""

    at: Pair
    steps: tuple[Step, ...]
    axes: tuple[Axes, ...]
    """The shape arithmetic of every step, the last step's being the one worked."""
    pad_mode: PadMode
    pad_value: float
    """What ``constant`` padding holds; 0 for the other modes."""
    flip: bool
    rows: AxisWindow
    columns: AxisWindow
    channels: tuple[ChannelWork, ...]
    mapping: PixelMapping
    value_range: tuple[float, float] | None
    """The whole result's minimum and maximum, which ``rescale`` maps; None otherwise."""
    computed_in: str
    """The float type the core computes the image in: ``float32`` or ``float64``."""
    alpha: MappedValue | None
    """The alpha the output holds at `at`, by `alpha_rule`."""
    alpha_rule: AppliedAlpha | None
    """How alpha went through the chain; None without alpha."""
    coverage: Coverage | None
    """The ``weighted`` rule's filtered alpha, worked by hand; None under another rule."""
    provenance: Provenance

    @property
    def step(self) -> Step:
        """The step whose output pixel is worked: the chain's last."""
        return self.steps[-1]

    @property
    def output_shape(self) -> Pair:
        """The last step's output (height, width)."""
        height, width = self.axes[-1]
        return (height.output, width.output)

    @property
    def pixel(self) -> tuple[float, ...]:
        """What the output holds at `at`: one value per channel, then alpha if it has one."""
        values = [channel.mapped.final for channel in self.channels]
        if self.alpha is not None:
            values.append(self.alpha.final)
        return tuple(values)


def ramp(size: Pair) -> FloatArray:
    """The image x[i, j] = i * W + j: 0, 1, 2, ... row by row, small enough to check by hand.

    >>> ramp((2, 3))
    array([[0., 1., 2.],
           [3., 4., 5.]])
    """
    height, width = size
    return np.arange(height * width, dtype=np.float64).reshape(height, width)


RAMP = "ramp"
"""The name :func:`explain_ramp` gives its input."""


def ramp_info(size: Pair) -> ImageInfo:
    """The header facts of :func:`ramp`: one unitless channel, as a ``.npy`` array's."""
    return ImageInfo(
        name=f"{RAMP} {format_size(size)}",
        format=RAMP,
        mode="npy",
        size=size,
        depth="unitless",
        channels=1,
        has_alpha=False,
        frames=1,
    )


def work_pixel(
    image: npt.ArrayLike,
    steps: Sequence[Step],
    params: ConvParams,
    at: tuple[int, int],
    mapping: PixelMapping,
    *,
    alpha: AlphaPlane | None = None,
    compute: Compute = Compute(),
    provenance: Provenance = Provenance(),
) -> WorkedPixel:
    """Work output pixel `at` of `steps` over `image` by hand; see the module docstring.

    The whole chain is also run as ``apply`` runs it (the earlier steps give the window its
    values, the last gives the value the mapping takes, and the whole result's range), so
    that the pixel reported is the pixel ``apply`` writes.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        What the chain reads, in its own units (0..255 for 8-bit pixels) and float type.
    steps
        The chain; its last step's pixel is worked, from the result of the steps before.
    params
        Stride, padding, dilation, pad mode and flip, shared by every step.
    at : (int, int)
        (row, column) of the output; negative counts from the end, as NumPy does.
    mapping
        How the result becomes the output's values (see
        :func:`convcli.pipeline.rangemap.pixel_mapping`).
    alpha : AlphaPlane, optional
        The image's alpha and the rule it goes through the chain by, as ``apply`` takes it
        (see :mod:`convcli.pipeline.alpha`).
    compute
        How the core computes the chain, as ``apply``'s ``--method`` and ``--threads``.
    provenance
        What the report says the input and output are; its `source` names the image in
        errors.

    Raises
    ------
    ParameterError
        If `at` is outside the output.
    ShapeError
        If a kernel does not fit its input, or the padding is too wide for the pad mode.
    ImageWriteError
        If the result has infinite or NaN values, or more than the output holds: ``apply``
        would write nothing.
    """
    pixels = as_image_array(image)
    size: Pair = (pixels.shape[0], pixels.shape[1])
    axes = tuple(chain_arithmetic(size, [step.shape for step in steps], params))
    check_chain_fits(axes, [step.name for step in steps])
    height, width = axes[-1]
    check_padding(
        (height.size, width.size),
        ((height.pad_before, height.pad_after), (width.pad_before, width.pad_after)),
        params.pad_mode,
    )
    row, column = _inside((height.output, width.output), at)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if alpha is not None and alpha.rule == "weighted":
            before = Weighted(pixels, alpha.values)
            if len(steps) > 1:
                before = weighted_chain(
                    pixels, alpha.values, steps[:-1], params, opaque=alpha.opaque, compute=compute
                )
            values = before.colour
            last = weighted_chain(
                values, before.alpha, steps[-1:], params, opaque=alpha.opaque, compute=compute
            )
            result, alpha_result = last.colour, last.alpha
        else:
            values = pixels
            if len(steps) > 1:
                values = apply_chain(pixels, steps[:-1], params, compute=compute).values
            result = apply_chain(values, steps[-1:], params, compute=compute).values
            alpha_result = None
            if alpha is not None and (alpha.rule == "carry" or alpha.rule == "channel"):
                alpha_result = filtered_alpha(
                    alpha.values, steps, params, alpha.rule, opaque=alpha.opaque, compute=compute
                )
    low, high = float(result.min()), float(result.max())
    check_writable(low, high, provenance.source, mapping.depth)
    value_range = (low, high) if mapping.range_mode == "rescale" else None
    rows = axis_window(height, row, params.pad_mode)
    columns = axis_window(width, column, params.pad_mode)
    planes = values[..., np.newaxis] if values.ndim == 2 else values
    computed = result[row, column].reshape(-1)
    coverage = None
    if alpha is not None and alpha.rule == "weighted":
        # The alpha's padding: transparent for zeros, opaque for constant, else the image's.
        opaque_padding = 1.0 if params.pad_mode == "constant" else 0.0
        covered = _window(before.alpha / alpha.opaque, rows, columns, opaque_padding)
        (kernel,) = weighted_kernels(steps[-1:])
        coverage = _coverage(covered, kernel, params.flip)
    channels = tuple(
        _channel(
            # Zeros' padding reads 0 and constant's its value; weighted, each tap counts
            # times its alpha (zeros' transparent, constant's opaque).
            _window(planes[..., channel], rows, columns, params.pad_value)
            * (1.0 if coverage is None else coverage.alpha),
            steps[-1],
            params.flip,
            float(computed[channel]),
            map_value(float(computed[channel]), mapping, value_range, computed_in=result.dtype),
            coverage,
        )
        for channel in range(planes.shape[2])
    )
    carried = None
    if alpha_result is not None:
        alpha_value = float(alpha_result[row, column])
        held = mapping
        if mapping.range_mode is not None:  # pixels: the alpha clamped to the output's range
            held = PixelMapping(mapping.depth, "clip", mapping.full_scale, mapping.unit)
        carried = map_value(alpha_value, held, computed_in=alpha_result.dtype)
    return WorkedPixel(
        at=(row, column),
        steps=tuple(steps),
        axes=axes,
        pad_mode=params.pad_mode,
        pad_value=params.pad_value,
        flip=params.flip,
        rows=rows,
        columns=columns,
        channels=channels,
        mapping=mapping,
        value_range=value_range,
        computed_in=result.dtype.name,
        alpha=carried,
        alpha_rule=None if alpha is None else alpha.rule,
        coverage=coverage,
        provenance=provenance,
    )


def _inside(shape: Pair, at: tuple[int, int]) -> Pair:
    """`at` with negative indices counted from the end; refused outside `shape`."""
    resolved = []
    for index, extent in zip(at, shape, strict=True):
        if not -extent <= index < extent:
            raise ParameterError(
                f"pixel {at[0]},{at[1]} is outside the output {format_size(shape)}"
                f" (rows 0 to {shape[0] - 1}, columns 0 to {shape[1] - 1})"
            )
        resolved.append(index % extent)
    return (resolved[0], resolved[1])


def _window(
    plane: FloatArray, rows: AxisWindow, columns: AxisWindow, pad_value: float
) -> FloatArray:
    """The values under the taps, in float64: `pad_value` where either axis reads the value
    of ``zeros`` or ``constant`` padding."""
    window = np.full((len(rows.sources), len(columns.sources)), pad_value, dtype=np.float64)
    for i, source_row in enumerate(rows.sources):
        for j, source_column in enumerate(columns.sources):
            if source_row is not None and source_column is not None:
                window[i, j] = plane[source_row, source_column]
    return window


def _coverage(alpha: FloatArray, kernel: Kernel, flip: bool) -> Coverage:
    """The filtered alpha of one window by hand, in float64: 1 - sum(w * (1 - a)) / sum(w)."""
    weights = np.flip(kernel.weights) if flip else kernel.weights
    products = weights * (1 - alpha)
    transparent, total = _sum(products), math.fsum(weights.flat)
    return Coverage(alpha, weights, products, transparent, total, 1 - transparent / total)


def _channel(
    window: FloatArray,
    step: Step,
    flip: bool,
    computed: float,
    mapped: MappedValue,
    coverage: Coverage | None = None,
) -> ChannelWork:
    """The products and sums of one channel's window, by hand in float64; with `coverage`,
    the window is premultiplied by its alpha and the sum divided by the filtered alpha."""
    kernels = [step.x, step.y] if isinstance(step, Operator) else [step]
    terms = []
    for kernel in kernels:
        weights = np.flip(kernel.weights) if flip else kernel.weights
        with np.errstate(over="ignore", invalid="ignore"):
            products = window * weights
        terms.append(Products(kernel.name, weights, products, _sum(products)))
    if isinstance(step, Operator):
        combined = math.hypot(terms[0].total, terms[1].total)
    else:
        combined = terms[0].total
    if coverage is None:
        value = step.scale * combined + step.bias
    elif coverage.covered >= TRANSPARENT:
        value = step.scale * (combined / coverage.covered) + step.bias
    else:
        value = 0.0
    return ChannelWork(window, tuple(terms), combined, value, computed, mapped)


def _sum(products: FloatArray) -> float:
    """The sum, correctly rounded; inf or NaN where the products overflow, as NumPy's."""
    try:
        return math.fsum(products.ravel())
    except (OverflowError, ValueError):
        return float(products.sum())


def map_value(
    value: float,
    mapping: PixelMapping,
    value_range: tuple[float, float] | None = None,
    *,
    computed_in: npt.DTypeLike = np.float64,
) -> MappedValue:
    """One value through `mapping`, a step at a time, by the pipeline's own code and in the
    float type the value was `computed_in`, as ``apply`` maps a whole image. Float output
    holds it in float32, ``.npy`` in that type.

    >>> from convcli.pipeline.rangemap import PixelMapping
    >>> map_value(-300.4, PixelMapping("8", "abs", 255, 1.0)).final
    255.0
    >>> map_value(5.0, PixelMapping("8", "rescale", 255, 1.0), (-5.0, 15.0)).final
    128.0
    >>> map_value(0.1, PixelMapping("float", None, 0, 1.0)).final
    0.10000000149011612
    """
    mode, full_scale = mapping.range_mode, mapping.full_scale
    if mode is None:
        held_in = np.dtype(np.float32 if mapping.depth == "float" else computed_in)
        held = float(np.asarray(value).astype(held_in))
        return MappedValue(None, value, value, value, value, held, held_in == np.float32)
    if mode == "rescale" and value_range is None:
        raise ParameterError("rescale needs the whole result's value range")
    one = np.array([value], dtype=computed_in)
    to_output_units(one, mode, max_value=full_scale, unit=mapping.unit, value_range=value_range)
    in_units = float(one[0])
    if mode == "abs":
        np.abs(one, out=one)
    before = float(one[0])
    np.rint(one, out=one)
    rounded = float(one[0])
    final = float(np.clip(one, 0, full_scale)[0])
    rescaled_by = value_range if mode == "rescale" else None
    return MappedValue(mode, value, in_units, before, rounded, final, value_range=rescaled_by)


def explain_image(
    source: Path | IO[bytes],
    steps: Sequence[Step],
    params: ConvParams,
    at: tuple[int, int],
    options: ImageOptions | None = None,
    *,
    destination: str = STDOUT_NAME,
    name: str | None = None,
) -> WorkedPixel:
    """Work output pixel `at` of an image as ``apply`` would write it to `destination`, whose
    extension (or else ``options.output_format``, or else PNG) names the format; `options`
    say gray or colour, the depth, the range, alpha and how to compute (the defaults when
    None). `name` is how messages name a stream `source` (``-`` when None).

    Raises
    ------
    ImageReadError
        If the image cannot be read.
    ParameterError, ShapeError, ImageWriteError
        For what ``apply`` refuses, and for `at` outside the output.
    """
    options = options or ImageOptions()
    label = str(source) if isinstance(source, Path) else name
    fmt = choose_format(destination, options.output_format)
    with open_image(
        source, name=label, auto_orient=options.auto_orient, max_pixels=options.max_pixels
    ) as image:
        with warnings.catch_warnings():
            # Nothing is written here: the depth apply would choose needs no warning.
            warnings.simplefilter("ignore", ImageWarning)
            mapping = planned_mapping(image.info, destination, steps, params, options)
        decoded = image.decode(
            color=options.color, gray=options.gray, keep_alpha=options.keep_alpha
        )
    alpha = None
    if decoded.alpha is not None:
        rule = applied_alpha(options.alpha, steps)
        alpha = AlphaPlane(decoded.alpha, decoded.info.max_value or 1.0, rule)
    names: tuple[str, ...] = ()
    if decoded.values.ndim == 3 and decoded.values.shape[2] > 1:
        channels = decoded.values.shape[2]
        colour = decoded.info.format != "NPY" and channels == 3
        names = ("R", "G", "B") if colour else tuple(map(str, range(channels)))
    provenance = Provenance(decoded.info.name, decoded.gray, names, fmt.lossy)
    return work_pixel(
        decoded.values,
        steps,
        params,
        at,
        mapping,
        alpha=alpha,
        compute=options.compute,
        provenance=provenance,
    )


def explain_ramp(
    size: Pair,
    steps: Sequence[Step],
    params: ConvParams,
    at: tuple[int, int],
    options: ImageOptions | None = None,
) -> WorkedPixel:
    """Work output pixel `at` over :func:`ramp`, as ``apply`` would write the ramp saved as a
    ``.npy`` file: in ``options.output_format``; else as ``.npy``, the float result, unless
    the options ask for pixels (a ``range_mode`` or a ``depth``: PNG, or TIFF for float)."""
    options = options or ImageOptions()
    if options.output_format is None:
        name = "npy"
        if options.depth == "float":
            name = "tiff"
        elif options.depth is not None or options.range_mode != "auto":
            name = "png"
        options = dataclasses.replace(options, output_format=name)
    mapping = planned_mapping(ramp_info(size), STDOUT_NAME, steps, params, options)
    fmt = choose_format(STDOUT_NAME, options.output_format)
    provenance = Provenance(RAMP, lossy=fmt.lossy)
    return work_pixel(
        ramp(size), steps, params, at, mapping, compute=options.compute, provenance=provenance
    )
