"""Built-in filter banks: whole convolution layers that look like a trained CNN's first layer.

The first layer of a network trained on photographs (AlexNet's and ResNet's ``conv1`` are the
well-known pictures) learns oriented edge and grating detectors at a few scales and phases,
mostly colourless, and a few colour-opponent blobs, edges and centre-surround cells. The banks
here are those filters written down, not learnt, so that ``convcli layer`` has an example that
needs no file:

- ``gabor-gray``: 17 filters of shape (1, 7, 7): the 16 Gabors, then the centre-surround;
- ``gabor-rgb``: 25 filters of shape (3, 7, 7): the same 17 on luminance, then 8 colour ones.

Output channels, in order. ``FilterBank.labels`` names each one, in ASCII but for the degree
sign so that any font draws it: ``gabor 45° 6px odd`` is the angle, the wavelength in pixels
and the phase.

- 0-15: Gabors on luminance, channel 8 * scale + 2 * angle + phase: wavelength 3 then 6
  pixels; within each, 0°, 45°, 90°, 135°; within each, even (cosine) then odd (sine);
- 16: centre-surround on luminance, on-centre (Gaussian sigma 1 less sigma 2);
- 17, 18 (rgb only): red-green blob, blue-yellow blob (Gaussian, sigma 1.5);
- 19, 20 (rgb only): red-green and blue-yellow centre-surround (as channel 16);
- 21-24 (rgb only): red-green edge 0° and 90°, blue-yellow edge 0° and 90° (odd Gabors of
  wavelength 6).

Conventions. Weights are applied as written (cross-correlation, like ``conv2d``). In a kernel,
x runs along the columns (right) and y along the rows (down); an angle theta is measured
counter-clockwise *as seen on screen*, from the x axis towards up. A Gabor at theta varies
along that direction, so its stripes lie across it: at 0° the stripes are vertical and it
answers vertical edges, at 90° horizontal. An odd Gabor is positive on the side theta points
to: 0° answers an edge dark on the left and bright on the right with a positive value.

Normalisation. Each filter is one spatial kernel applied to one colour axis of the input:
luminance L = (R + G + B) / 3, red-green R - G, or blue-yellow B - (R + G) / 2 (so an RGB
luminance filter holds the kernel / 3 on each channel, and answers a gray image exactly as the
gray bank does). Every spatial kernel has unit L2 norm, and all but the blobs have zero mean,
so flat regions give 0 (a blob answers a flat patch of its colour, and gray with 0); the
feature maps have comparable ranges. Biases are zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from convcli.errors import KernelError, WeightsError, did_you_mean
from convcli.kernels.parametric import sampled_gaussian
from convcli.kernels.registry import closest_names

Float64Array: TypeAlias = npt.NDArray[np.float64]
Float32Array: TypeAlias = npt.NDArray[np.float32]

BANK_SIZE = 7
"""Side of every built-in bank's kernels, as in ResNet's ``conv1``."""


def _offsets(size: int) -> Float64Array:
    """`size` integer offsets centred on 0: -3 .. 3 for 7."""
    if size < 1:
        raise KernelError(f"a kernel's side must be at least 1, got {size}")
    return np.arange(size, dtype=np.float64) - (size - 1) / 2


def gabor(
    size: int, theta_deg: float, wavelength: float, sigma: float, phase_deg: float = 0.0
) -> Float64Array:
    """A sampled Gabor: a plane wave under a round Gaussian envelope, shape (size, size).

    At offset (x, y) from the centre (x along columns, y down the rows)::

        u = x cos(theta) - y sin(theta)
        g = exp(-(x^2 + y^2) / (2 sigma^2)) * cos(2 pi u / wavelength - phase)

    so theta turns counter-clockwise on screen from the x axis, and the stripes lie across
    it. Phase 0° is the even (cosine) Gabor, phase 90° the odd (sine) one, positive on the
    side theta points to. The samples are as the formula gives them: not zero mean (the even
    Gabor keeps a DC term), not normalised; see :func:`zero_mean` and :func:`unit_norm`.

    Parameters
    ----------
    size : int
        Side in pixels; odd sizes have a centre pixel.
    theta_deg, phase_deg : float
        Degrees.
    wavelength, sigma : float
        Pixels: the wave's period, the envelope's standard deviation.

    Examples
    --------
    At 0° the odd Gabor is a sine along the columns, positive on the right; under a wide
    envelope every row is nearly the same:

    >>> gabor(3, 0, 4, 100, 90).round(3).tolist()
    [[-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0]]
    """
    if not (wavelength > 0 and sigma > 0):
        raise KernelError(
            f"a Gabor's wavelength and sigma must be positive, got {wavelength:g} and {sigma:g}"
        )
    offsets = _offsets(size)
    x, y = offsets[np.newaxis, :], offsets[:, np.newaxis]
    theta, phase = math.radians(theta_deg), math.radians(phase_deg)
    along = x * math.cos(theta) - y * math.sin(theta)
    envelope = np.exp(-(x**2 + y**2) / (2 * sigma**2))
    samples: Float64Array = envelope * np.cos(2 * math.pi * along / wavelength - phase)
    return samples


def gaussian_blob(size: int, sigma: float) -> Float64Array:
    """The sampled round Gaussian, shape (size, size), summing to 1."""
    row = sampled_gaussian(sigma, size)
    return np.outer(row, row)


def centre_surround(size: int, centre_sigma: float, surround_sigma: float) -> Float64Array:
    """A difference of Gaussians, shape (size, size): the narrow one minus the wide one.

    Each Gaussian sums to 1, so the difference sums to about 0 (less what the square cuts
    off the wide one); with centre_sigma < surround_sigma the centre is positive (on-centre).
    """
    return gaussian_blob(size, centre_sigma) - gaussian_blob(size, surround_sigma)


def zero_mean(kernel: Float64Array) -> Float64Array:
    """`kernel` less its mean: it gives 0 on a flat image."""
    centred: Float64Array = kernel - kernel.mean()
    return centred


def unit_norm(kernel: Float64Array) -> Float64Array:
    """`kernel` scaled to L2 norm 1 (the square root of the sum of its squares)."""
    norm = float(np.linalg.norm(kernel))
    if not norm > 0:
        raise KernelError("a kernel of zeros cannot be scaled to unit norm")
    scaled: Float64Array = kernel / norm
    return scaled


@dataclass(frozen=True)
class ColourAxis:
    """What a filter looks at in an RGB image: a weighted sum of R, G and B."""

    name: str
    rgb: tuple[float, float, float]
    """The weights of R, G and B in the signal the spatial kernel is applied to."""


LUMINANCE = ColourAxis("luminance", (1 / 3, 1 / 3, 1 / 3))
"""(R + G + B) / 3: a gray image's own value."""
RED_GREEN = ColourAxis("red-green", (1.0, -1.0, 0.0))
"""R - G: positive where red, negative where green, 0 on gray."""
BLUE_YELLOW = ColourAxis("blue-yellow", (-0.5, -0.5, 1.0))
"""B - (R + G) / 2, yellow being (R + G) / 2: positive where blue, 0 on gray."""


def rgb_filter(kernel: Float64Array, axis: ColourAxis) -> Float64Array:
    """The filter of shape (3, h, w) that applies `kernel` (h, w) to `axis` of an RGB image.

    Channel c holds ``axis.rgb[c] * kernel``, so its response to an image (R, G, B) is the
    response of `kernel` to ``axis.rgb[0] * R + axis.rgb[1] * G + axis.rgb[2] * B``.

    >>> rgb_filter(np.ones((1, 1)), RED_GREEN).ravel().tolist()
    [1.0, -1.0, 0.0]
    """
    mix = np.array(axis.rgb, dtype=np.float64)[:, np.newaxis, np.newaxis]
    stacked: Float64Array = mix * kernel
    return stacked


@dataclass(frozen=True)
class Gabor:
    """A zero-mean, unit-norm :func:`gabor`."""

    theta_deg: float
    wavelength: float
    sigma: float
    phase_deg: float

    def sample(self, size: int) -> Float64Array:
        raw = gabor(size, self.theta_deg, self.wavelength, self.sigma, self.phase_deg)
        return unit_norm(zero_mean(raw))


@dataclass(frozen=True)
class Blob:
    """A unit-norm :func:`gaussian_blob`: it keeps its mean, and answers a patch of colour."""

    sigma: float

    def sample(self, size: int) -> Float64Array:
        return unit_norm(gaussian_blob(size, self.sigma))


@dataclass(frozen=True)
class CentreSurround:
    """A zero-mean, unit-norm :func:`centre_surround`."""

    centre_sigma: float
    surround_sigma: float

    def sample(self, size: int) -> Float64Array:
        raw = centre_surround(size, self.centre_sigma, self.surround_sigma)
        return unit_norm(zero_mean(raw))


Spatial: TypeAlias = Gabor | Blob | CentreSurround


@dataclass(frozen=True)
class Filter:
    """One output channel: a spatial kernel on one colour axis, and the label drawn under it."""

    label: str
    spatial: Spatial
    axis: ColourAxis = LUMINANCE


@dataclass(frozen=True)
class FilterBank:
    """A built-in convolution layer: its filters as data, built into arrays on demand."""

    name: str
    summary: str
    in_channels: int
    """1 for a gray image, 3 for R, G, B in that order."""
    filters: tuple[Filter, ...]
    size: int = BANK_SIZE

    def __post_init__(self) -> None:
        if self.in_channels == 1:
            colour = [f.label for f in self.filters if f.axis != LUMINANCE]
            if colour:
                raise ValueError(f"{self.name}: a gray bank cannot hold colour filters {colour}")
        elif self.in_channels != 3:
            raise ValueError(f"{self.name}: in_channels must be 1 or 3, got {self.in_channels}")

    @property
    def labels(self) -> tuple[str, ...]:
        """One short label per output channel, in order."""
        return tuple(f.label for f in self.filters)

    @property
    def out_channels(self) -> int:
        return len(self.filters)

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        """(C_out, C_in, kh, kw), PyTorch's ``Conv2d.weight`` layout."""
        return (self.out_channels, self.in_channels, self.size, self.size)

    def build(self) -> tuple[Float32Array, Float32Array]:
        """New arrays: weight (C_out, C_in, size, size) and bias (C_out,), both float32.

        >>> weight, bias = BANKS["gabor-rgb"].build()
        >>> weight.shape, weight.dtype.name, bias.shape, float(abs(bias).max())
        ((25, 3, 7, 7), 'float32', (25,), 0.0)
        """
        weight = np.empty(self.weight_shape, dtype=np.float32)
        for channel, f in enumerate(self.filters):
            kernel = f.spatial.sample(self.size)
            weight[channel] = kernel if self.in_channels == 1 else rgb_filter(kernel, f.axis)
        return weight, np.zeros(self.out_channels, dtype=np.float32)


# Two wavelengths an octave apart. Sigma near half the wavelength gives about a one-octave
# bandwidth; the coarse one's is held to 2 so that the envelope, not the 7x7 square, ends it.
GABOR_SCALES = ((3.0, 1.4), (6.0, 2.0))
"""(wavelength, sigma) in pixels, fine then coarse."""
GABOR_ANGLES = (0, 45, 90, 135)
GABOR_PHASES = (("even", 0), ("odd", 90))

LUMINANCE_FILTERS = (
    *(
        Filter(f"gabor {angle}° {wavelength:g}px {parity}", Gabor(angle, wavelength, sigma, phase))
        for wavelength, sigma in GABOR_SCALES
        for angle in GABOR_ANGLES
        for parity, phase in GABOR_PHASES
    ),
    Filter("centre-surround", CentreSurround(1.0, 2.0)),
)
"""The colourless filters of both banks, in order."""

_COARSE_WAVELENGTH, _COARSE_SIGMA = GABOR_SCALES[1]

COLOUR_FILTERS = (
    Filter("red-green blob", Blob(1.5), RED_GREEN),
    Filter("blue-yellow blob", Blob(1.5), BLUE_YELLOW),
    Filter("red-green centre-surround", CentreSurround(1.0, 2.0), RED_GREEN),
    Filter("blue-yellow centre-surround", CentreSurround(1.0, 2.0), BLUE_YELLOW),
    *(
        Filter(
            f"{axis.name} edge {angle}°",
            Gabor(angle, _COARSE_WAVELENGTH, _COARSE_SIGMA, 90),
            axis,
        )
        for axis in (RED_GREEN, BLUE_YELLOW)
        for angle in (0, 90)
    ),
)
"""The colour-opponent filters of ``gabor-rgb``, after its colourless ones."""

_BANKS = (
    FilterBank(
        "gabor-rgb",
        "Like a trained CNN's conv1 for RGB: 16 Gabors (wavelengths 3 and 6 px; 0, 45, 90,"
        " 135°; even, odd) and a centre-surround on luminance, then red-green and blue-yellow"
        " blobs, centre-surrounds and edges (0, 90°); weight (25, 3, 7, 7).",
        3,
        LUMINANCE_FILTERS + COLOUR_FILTERS,
    ),
    FilterBank(
        "gabor-gray",
        "Like a trained CNN's conv1 for gray images: 16 Gabors (wavelengths 3 and 6 px; 0, 45,"
        " 90, 135°; even, odd) and a centre-surround, gabor-rgb's first 17; weight (17, 1, 7, 7).",
        1,
        LUMINANCE_FILTERS,
    ),
)

BANKS: Mapping[str, FilterBank] = MappingProxyType({b.name: b for b in _BANKS})
"""Every built-in filter bank by name."""


def bank(name: str) -> FilterBank:
    """The built-in filter bank called `name`.

    >>> bank("gabor-gray").labels[:2]
    ('gabor 0° 3px even', 'gabor 0° 3px odd')
    >>> bank("gabor")
    Traceback (most recent call last):
    ...
    convcli.errors.WeightsError: unknown filter bank 'gabor'; did you mean 'gabor-rgb' or
    'gabor-gray'? (built in: gabor-rgb, gabor-gray)

    Raises
    ------
    WeightsError
        If there is none, with the closest names as suggestions.
    """
    try:
        return BANKS[name]
    except KeyError:
        hint = did_you_mean(closest_names(name, list(BANKS)))
        raise WeightsError(
            f"unknown filter bank {name!r}{hint} (built in: {', '.join(BANKS)})"
        ) from None
