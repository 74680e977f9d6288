"""Built-in filter banks: whole convolution layers, drawn like a CNN's first layer, or trained.

The first layer of a network trained on photographs (AlexNet's and ResNet's ``conv1`` are the
well-known pictures) learns oriented edge and grating detectors at a few scales and phases,
mostly colourless, and a few colour-opponent blobs, edges and centre-surround cells. Two banks
here are those filters written down, not learnt (a :class:`FilterBank`), and one is the real
thing, read from a file shipped with convcli (a :class:`TrainedBank`), so that
``convcli layer`` has examples that need no file:

- ``gabor-gray``: 17 filters of shape (1, 7, 7): the 16 Gabors, then the centre-surround;
- ``gabor-rgb``: 25 filters of shape (3, 7, 7): the same 17 on luminance, then 8 colour ones;
- ``face-resnet-conv1``: 32 trained filters of shape (3, 7, 7), with their biases: the first
  convolution of dlib's face-recognition ResNet (Davis King, public domain / CC0 1.0; see
  ``convcli/kernels/data/README.md``). It was trained on 150x150 face crops, with stride 2
  and no padding, on (pixel - mean) / 256 for 0..255 pixels: on convcli's 0..1 scale,
  ``--stride 2 --mean 0.4815,0.4588,0.4090 --std 1.0039,1.0039,1.0039`` (the mean is
  dlib's (122.782, 117.001, 104.298) / 255, the std 256 / 255). An affine (batch-norm)
  layer follows it in the network, so its weights' scale means nothing by itself.

The rest of this docstring is about the drawn banks; :func:`describe_filter` says how the
trained bank's labels are made.

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

import functools
import math
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from types import MappingProxyType
from typing import Protocol, TypeAlias

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


class Bank(Protocol):
    """What every built-in convolution layer offers, whether its filters are drawn or trained."""

    @property
    def name(self) -> str: ...

    @property
    def summary(self) -> str:
        """One line: what the filters are, how to use them, and the weight's shape."""
        ...

    @property
    def in_channels(self) -> int:
        """1 for a gray image, 3 for R, G, B in that order."""
        ...

    @property
    def labels(self) -> tuple[str, ...]:
        """One short label per output channel, in order."""
        ...

    @property
    def out_channels(self) -> int: ...

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        """(C_out, C_in, kh, kw), PyTorch's ``Conv2d.weight`` layout."""
        ...

    def build(self) -> tuple[Float32Array, Float32Array]:
        """New arrays, the caller's to change: weight (C_out, C_in, kh, kw) and bias (C_out,),
        both float32."""
        ...


@dataclass(frozen=True)
class FilterBank:
    """A built-in convolution layer drawn by hand: its filters as data, built into arrays on
    demand. Its biases are zero."""

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


DATA = files("convcli.kernels") / "data"
"""Where the trained banks' weights are, beside their provenance in ``README.md``."""

_SPECTRUM_SIDE = 64
"""The grid a filter's spectrum is sampled on, zero-padded: fine enough to read a wavelength."""
ANGLE_STEP = 15
"""Degrees: the angles in the trained bank's labels are rounded to this."""
GRAY_SHARE = 0.75
"""The least share of a filter's energy its colourless part holds for it to be called gray."""


def describe_filter(weight: Float64Array) -> str:
    """A short description of a filter (C_in, kh, kw): its colour, then what it answers most.

    The rule, applied blindly to every filter of a trained bank:

    - colour (RGB filters only): ``gray`` if the filter's mean over R, G and B (the same
      kernel on all three) holds at least :data:`GRAY_SHARE` of its energy (sum of squares),
      else ``colour``;
    - its main spatial pattern: the (kh, kw) kernel that, times one weight per channel, comes
      closest to the filter (the first right singular vector of the (C_in, kh * kw) matrix);
    - the cosine grating that pattern answers most, read off the peak of its Fourier magnitude:
      ``blob`` if that is the flat image (frequency 0), else the direction the grating varies
      along, as for the Gabors (counter-clockwise on screen from the x axis, modulo 180°,
      rounded to :data:`ANGLE_STEP` degrees), and its wavelength in whole pixels.

    A description, not a claim about what the network computes with the filter.

    >>> describe_filter(rgb_filter(gabor(7, 45, 6, 2, 90), LUMINANCE))
    'gray 45° 6px'
    >>> describe_filter(rgb_filter(gaussian_blob(7, 1.5), RED_GREEN))
    'colour blob'
    """
    channels = weight.shape[0]
    energy = float(np.sum(weight**2))
    if not energy > 0:
        return "zero"
    words = []
    if channels == 3:
        gray_energy = channels * float(np.sum(weight.mean(axis=0) ** 2))
        words.append("gray" if gray_energy >= GRAY_SHARE * energy else "colour")
    pattern = np.linalg.svd(weight.reshape(channels, -1))[2][0].reshape(weight.shape[1:])
    magnitude = np.abs(np.fft.fft2(pattern, (_SPECTRUM_SIDE, _SPECTRUM_SIDE)))
    row, column = np.unravel_index(int(magnitude.argmax()), magnitude.shape)
    # Frequencies past the middle of the grid are the negative ones.
    fy = int(row) - _SPECTRUM_SIDE if row > _SPECTRUM_SIDE // 2 else int(row)
    fx = int(column) - _SPECTRUM_SIDE if column > _SPECTRUM_SIDE // 2 else int(column)
    if fx == fy == 0:
        words.append("blob")
    else:
        angle = math.degrees(math.atan2(-fy, fx))  # rows run down, the screen's y up
        rounded = round(angle / ANGLE_STEP) * ANGLE_STEP % 180
        wavelength = _SPECTRUM_SIDE / math.hypot(fx, fy)
        words.append(f"{rounded}° {wavelength:.0f}px")
    return " ".join(words)


@functools.cache
def _stored_layer(file_name: str) -> tuple[Float32Array, Float32Array]:
    """The weight and bias in the data file `file_name`, read once and made read-only."""
    try:
        with (DATA / file_name).open("rb") as stream, np.load(stream, allow_pickle=False) as npz:
            weight = np.array(npz["weight"], dtype=np.float32)
            bias = np.array(npz["bias"], dtype=np.float32)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise WeightsError(f"the built-in weights {file_name} cannot be read: {error}") from None
    weight.flags.writeable = False
    bias.flags.writeable = False
    return weight, bias


@dataclass(frozen=True)
class TrainedBank:
    """A built-in convolution layer of trained weights, read from convcli's data files.

    The file, in ``convcli/kernels/data/``, is an .npz without pickles holding ``weight``
    (C_out, C_in, kh, kw) and ``bias`` (C_out,); it is read the first time it is needed. Its
    labels are :func:`describe_filter`'s descriptions.
    """

    name: str
    summary: str
    file_name: str
    weight_shape: tuple[int, int, int, int]
    """(C_out, C_in, kh, kw): what the file must hold."""

    def __post_init__(self) -> None:
        if self.weight_shape[1] not in (1, 3):
            raise ValueError(f"{self.name}: in_channels must be 1 or 3, got {self.weight_shape}")

    @property
    def in_channels(self) -> int:
        return self.weight_shape[1]

    @property
    def out_channels(self) -> int:
        return self.weight_shape[0]

    @property
    def labels(self) -> tuple[str, ...]:
        """What :func:`describe_filter` says of each filter (``gray 90° 5px``), in order; two
        filters may share one."""
        weight = self._stored()[0].astype(np.float64)
        return tuple(describe_filter(f) for f in weight)

    def build(self) -> tuple[Float32Array, Float32Array]:
        """New arrays: the file's weight (C_out, C_in, kh, kw) and bias (C_out,), float32.

        >>> weight, bias = BANKS["face-resnet-conv1"].build()
        >>> weight.shape, weight.dtype.name, bias.shape, bias.dtype.name
        ((32, 3, 7, 7), 'float32', (32,), 'float32')
        """
        weight, bias = self._stored()
        return weight.copy(), bias.copy()

    def _stored(self) -> tuple[Float32Array, Float32Array]:
        weight, bias = _stored_layer(self.file_name)
        if weight.shape != self.weight_shape or bias.shape != self.weight_shape[:1]:
            raise WeightsError(
                f"the built-in weights {self.file_name} hold weight {weight.shape} and bias"
                f" {bias.shape}; {self.name} is weight {self.weight_shape} and bias"
                f" {self.weight_shape[:1]}"
            )
        return weight, bias


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

_BANKS: tuple[Bank, ...] = (
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
    TrainedBank(
        "face-resnet-conv1",
        "Trained: conv1 of dlib's face-recognition ResNet (Davis King; public domain, CC0), 32"
        " filters on R, G, B, made for --stride 2 --mean 0.4815,0.4588,0.4090 --std"
        " 1.0039,1.0039,1.0039; weight (32, 3, 7, 7).",
        "face-resnet-conv1.npz",
        (32, 3, 7, 7),
    ),
)

BANKS: Mapping[str, Bank] = MappingProxyType({b.name: b for b in _BANKS})
"""Every built-in filter bank by name."""


def bank(name: str) -> Bank:
    """The built-in filter bank called `name`.

    >>> bank("gabor-gray").labels[:2]
    ('gabor 0° 3px even', 'gabor 0° 3px odd')
    >>> bank("gabor")
    Traceback (most recent call last):
    ...
    convcli.errors.WeightsError: unknown filter bank 'gabor'; did you mean 'gabor-rgb' or
    'gabor-gray'? (built in: gabor-rgb, gabor-gray, face-resnet-conv1)

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
