"""Alpha through a chain of kernels: the three rules ``--alpha`` chooses between.

``weighted``  ImageMagick's and GIMP's rule: each colour is weighted by its alpha before the
              kernel (premultiplied), the alpha is filtered by the same kernel, and the colour
              is divided by it again. A pixel nobody can see adds nothing to its neighbours:
              no dark fringe where a picture meets transparency, and a soft alpha edge.
``carry``     The colour filtered as stored; each output pixel takes the alpha under its
              window's centre tap, so the alpha keeps the filtered channels' geometry.
``channel``   The alpha filtered by the chain as one more channel, the colour as stored: what
              OpenCV and Pillow do.
``auto``      ``weighted`` when no kernel of the chain has a weight below 0 (blurs, where it
              is right); ``carry`` otherwise. An edge kernel over alpha gives about 0 wherever
              the image is flat: weighting or filtering by it would erase the picture.

For one kernel of weights w (sum S), scale s and bias b, over alpha a (0 to 1) and colour c,
``weighted`` computes::

    A = 1 - sum(w * (1 - a)) / S            the filtered alpha (the share covered)
    c' = (sum(w * a * c) / A) * s + b       where A > 0; 0 where A is 0

and a chain does it step by step. Written with the transparency 1 - a, A is exactly 1 where
every pixel under the window is opaque: an opaque image gives the colour of the plain chain,
bit for bit. The padding is part of the image: ``zeros`` adds transparent pixels (nothing is
there, as ImageMagick's ``-virtual-pixel transparent``), ``constant`` opaque ones of its value,
and the other modes repeat the image's own pixels, alpha and all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from convcli.choices import AlphaRule
from convcli.core.convolution import FloatArray, apply_kernel, sample_centre
from convcli.core.methods import Compute
from convcli.core.padding import RowSource, read_rows
from convcli.core.params import ConvParams
from convcli.errors import ParameterError
from convcli.kernels.kernel import Kernel, Operator, Step
from convcli.pipeline.chain import apply_chain

AppliedAlpha: TypeAlias = Literal["weighted", "carry", "channel"]
"""An alpha rule as it runs: ``auto`` resolved."""

TRANSPARENT = 1 / (2 * 65535)
"""A filtered alpha below this, half a 16-bit level, is 0: its pixel gets colour 0."""


def applied_alpha(requested: AlphaRule, steps: Sequence[Step]) -> AppliedAlpha:
    """The rule that runs for `requested` over `steps`: ``auto`` resolved (see the module
    docstring).

    >>> from convcli.kernels.registry import KERNELS, OPERATORS
    >>> applied_alpha("auto", [KERNELS["gaussian-3"]]), applied_alpha("auto", [OPERATORS["sobel"]])
    ('weighted', 'carry')

    Raises
    ------
    ParameterError
        If ``weighted`` is asked of a chain with an operator or a kernel whose weights do not
        sum to more than 0: there is no alpha to divide by.
    """
    if requested == "auto":
        blurs = all(
            isinstance(step, Kernel) and step.weights.min() >= 0 and step.total > 0
            for step in steps
        )
        return "weighted" if blurs else "carry"
    if requested == "weighted":
        for step in steps:
            if isinstance(step, Operator):
                raise ParameterError(
                    f"--alpha weighted needs kernels whose weights sum to more than 0; {step.name}"
                    " is an operator: use --alpha carry or channel"
                )
            if not step.total > 0:
                raise ParameterError(
                    f"--alpha weighted needs kernels whose weights sum to more than 0;"
                    f" {step.name!r} sums to {step.total:g}: use --alpha carry or channel"
                )
    return requested


def alpha_params(params: ConvParams, opaque: float) -> ConvParams:
    """The geometry of an alpha plane whose full scale is `opaque`: ``constant`` padding is
    opaque (its value is the colour's), and every other mode pads alpha as it pads colour
    (``zeros``: transparent)."""
    if params.pad_mode == "constant":
        return dataclasses.replace(params, pad_value=opaque)
    return params


def filtered_alpha(
    alpha: npt.ArrayLike,
    steps: Sequence[Step],
    params: ConvParams,
    rule: Literal["carry", "channel"],
    *,
    opaque: float,
    compute: Compute = Compute(),
) -> FloatArray:
    """The alpha plane (in its own units, full scale `opaque`) the output of `steps` carries
    by `rule`, beside the colour filtered as stored."""
    geometry = alpha_params(params, opaque)
    if rule == "channel":
        return apply_chain(alpha, steps, geometry, compute=compute).values
    values = np.asarray(alpha)
    for step in steps:
        values = sample_centre(values, step.shape, geometry)
    return values


@dataclasses.dataclass(frozen=True)
class Weighted:
    """A chain's result by the ``weighted`` rule."""

    colour: FloatArray
    """(H, W) or (H, W, C), in the colour's units; 0 where the alpha is 0."""
    alpha: FloatArray
    """(H, W), in the alpha's units (0 to its full scale)."""


def weighted_chain(
    values: npt.NDArray[Any] | RowSource,
    alpha: npt.ArrayLike,
    steps: Sequence[Step],
    params: ConvParams,
    *,
    opaque: float,
    compute: Compute = Compute(),
) -> Weighted:
    """`steps` over colour `values` weighted by `alpha` (full scale `opaque`), step by step,
    as the module docstring says. Computed in the colour's float type.

    Raises
    ------
    ParameterError
        If a step is an operator, or a kernel whose weights do not sum to more than 0.
    """
    kernels = weighted_kernels(steps)
    # A copy of our own, premultiplied in place: an image larger than memory's share must
    # not be held twice.
    if isinstance(values, RowSource):
        colour = read_rows(values, 0, values.shape[0])  # made for us: ours to change
    else:
        colour = values.copy()
    dtype = colour.dtype.type
    full = dtype(opaque)
    # Alpha is kept in its own units, the transparency as full - alpha: both exact for the
    # integer alphas of 8- and 16-bit images, so an opaque window gives exactly full.
    covered = np.asarray(alpha, dtype=dtype)
    # The transparency pads as the alpha does, turned over: zeros' padding is all
    # transparent (full), constant's all opaque (0), and the other modes repeat the image's.
    clear = transparency_params(params, opaque)
    for kernel in kernels:
        premultiply(colour, covered, full)
        summed = apply_kernel(colour, kernel.weights, params, compute=compute)
        del colour
        transparency = apply_kernel(full - covered, kernel.weights, clear, compute=compute)
        covered = covered_from(transparency, kernel, full)
        colour = divided(summed, covered, kernel, full)
    return Weighted(colour, np.clip(covered, 0, full))


def transparency_params(params: ConvParams, opaque: float) -> ConvParams:
    """The geometry of the transparency (`opaque` - alpha): it pads as the alpha does, turned
    over. zeros' padding is all transparent (`opaque`), constant's all opaque (0), and the
    other modes repeat the image's."""
    if params.pad_mode == "zeros":
        return dataclasses.replace(params, pad_mode="constant", pad_value=opaque)
    if params.pad_mode == "constant":
        return dataclasses.replace(params, pad_value=0.0)
    return params


def premultiply(colour: FloatArray, covered: FloatArray, full: np.floating[Any]) -> None:
    """Weight `colour` by the alpha `covered` (full scale `full`), in place."""
    colour *= _per_pixel(covered / full, colour)


def covered_from(transparency: FloatArray, kernel: Kernel, full: np.floating[Any]) -> FloatArray:
    """The filtered alpha from the filtered transparency, which it overwrites."""
    transparency /= transparency.dtype.type(kernel.total)
    return np.subtract(full, transparency, out=transparency)


def divided(
    summed: FloatArray, covered: FloatArray, kernel: Kernel, full: np.floating[Any]
) -> FloatArray:
    """The weighted sums `summed` divided by their filtered alpha `covered`, scaled and
    biased by `kernel`, in place: 0 where nothing shows."""
    dtype = summed.dtype.type
    shown = covered >= TRANSPARENT * full
    # Divided by exactly 1 where the window is opaque: the plain chain's colour.
    summed /= _per_pixel(np.where(shown, covered / full, dtype(1)), summed)
    if kernel.scale != 1:
        summed *= dtype(kernel.scale)
    if kernel.bias != 0:
        summed += dtype(kernel.bias)
    summed[~shown] = 0
    return summed


def weighted_kernels(steps: Sequence[Step]) -> list[Kernel]:
    """`steps`, checked to be kernels that ``weighted`` can divide by (see
    :func:`applied_alpha`)."""
    applied_alpha("weighted", steps)
    return [step for step in steps if isinstance(step, Kernel)]


def _per_pixel(plane: FloatArray, like: FloatArray) -> FloatArray:
    """An (H, W) plane that multiplies or divides `like` pixel by pixel, its channels alike."""
    return plane if like.ndim == 2 else plane[..., np.newaxis]
