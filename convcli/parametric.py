"""Kernel families with a parameter: ``gaussian:SIGMA``, ``box:N`` and ``log:SIGMA``.

Each family parses its arguments, checks the size against the limit *before* building
anything, and returns a :class:`~convcli.kernels.Kernel` named as it was asked for.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from convcli.errors import KernelError
from convcli.kernels import Kernel, check_kernel_size

_NUMBER = r"[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?"


@dataclass(frozen=True)
class Family:
    """A parametric kernel family: ``name:ARGS`` builds one kernel."""

    name: str
    syntax: str
    summary: str
    build: Callable[[str, str], Kernel]
    """Takes the whole spec (for messages and the name) and the text after the colon."""


def gaussian_radius(sigma: float) -> int:
    """Half-width of a sampled Gaussian: ceil(3 sigma), which keeps 99.7% of its mass.

    >>> gaussian_radius(1.0), gaussian_radius(1.4), gaussian_radius(0.2)
    (3, 5, 1)
    """
    return math.ceil(3 * sigma)


def sampled_gaussian(sigma: float, size: int) -> npt.NDArray[np.float64]:
    """exp(-x^2 / (2 sigma^2)) at `size` integer offsets centred on 0, normalised to sum 1."""
    offsets = np.arange(size) - (size - 1) / 2
    samples = np.exp(-(offsets**2) / (2 * sigma**2))
    normalised: npt.NDArray[np.float64] = samples / samples.sum()
    return normalised


def gaussian(sigma: float, size: int | None = None, *, name: str | None = None) -> Kernel:
    """The sampled 2-D Gaussian, size 2*ceil(3 sigma)+1 unless given, normalised to sum 1.

    It is separable: the outer product of the 1-D sampled Gaussian with itself.

    >>> kernel = gaussian(1.0)
    >>> kernel.shape, round(kernel.total, 12), kernel.is_separable()
    ((7, 7), 1.0, True)
    """
    size = 2 * gaussian_radius(sigma) + 1 if size is None else size
    check_kernel_size((size, size), f"gaussian with sigma {sigma:g}")
    row = sampled_gaussian(sigma, size)
    weights = np.outer(row, row)
    weights /= weights.sum()
    return Kernel(
        name or f"gaussian:{sigma:g}",
        weights,
        f"Sampled Gaussian blur, sigma {sigma:g}, {size}x{size}, sum 1.",
    )


def laplacian_of_gaussian(
    sigma: float, size: int | None = None, *, name: str | None = None
) -> Kernel:
    """The Laplacian of the sampled Gaussian: negative centre, like ``laplacian``; sums to 0.

    Per pixel at (x, y) from the centre, ((x^2 + y^2 - 2 sigma^2) / sigma^4) * G(x, y) with
    G the normalised Gaussian of :func:`gaussian`, then shifted by its mean so that flat
    regions give exactly 0. It approximates ``-k gaussian:SIGMA -k laplacian`` in one step.

    >>> kernel = laplacian_of_gaussian(1.0)
    >>> kernel.shape, abs(kernel.total) < 1e-15, bool(kernel.weights[3, 3] < 0)
    ((7, 7), True, True)
    """
    size = 2 * gaussian_radius(sigma) + 1 if size is None else size
    check_kernel_size((size, size), f"log with sigma {sigma:g}")
    row = sampled_gaussian(sigma, size)
    blur = np.outer(row, row)
    blur /= blur.sum()
    offsets = np.arange(size) - (size - 1) / 2
    squared_radius = offsets[:, None] ** 2 + offsets[None, :] ** 2
    weights = (squared_radius - 2 * sigma**2) / sigma**4 * blur
    weights -= weights.mean()
    return Kernel(
        name or f"log:{sigma:g}",
        weights,
        f"Laplacian of Gaussian, sigma {sigma:g}, {size}x{size}, sum 0.",
    )


def box(height: int, width: int, *, name: str | None = None) -> Kernel:
    """The height x width mean filter: every weight 1 / (height * width).

    >>> box(1, 4).weights.tolist()
    [[0.25, 0.25, 0.25, 0.25]]
    """
    check_kernel_size((height, width), f"box {height}x{width}")
    count = height * width
    return Kernel(
        name or f"box:{height}x{width}",
        np.full((height, width), 1 / count),
        f"Box blur, {height}x{width} mean.",
        divisor=count,
    )


def _sigma_and_size(spec: str, args: str) -> tuple[float, int | None]:
    match = re.fullmatch(rf"\s*({_NUMBER})\s*(?:,\s*([0-9]+)\s*)?", args)
    family = spec.split(":", 1)[0]
    rule = f"{family}:SIGMA[,SIZE] needs SIGMA > 0 and a whole SIZE >= 1, got {spec!r}"
    if match is None:
        raise KernelError(rule)
    sigma = float(match.group(1))
    size = None if match.group(2) is None else int(match.group(2))
    if sigma <= 0 or size == 0 or not math.isfinite(3 * sigma):
        raise KernelError(rule)
    return sigma, size


def _build_gaussian(spec: str, args: str) -> Kernel:
    sigma, size = _sigma_and_size(spec, args)
    return gaussian(sigma, size, name=spec)


def _build_log(spec: str, args: str) -> Kernel:
    sigma, size = _sigma_and_size(spec, args)
    return laplacian_of_gaussian(sigma, size, name=spec)


def _build_box(spec: str, args: str) -> Kernel:
    match = re.fullmatch(r"\s*([0-9]+)\s*(?:[x,]\s*([0-9]+)\s*)?", args)
    height = width = 0
    if match is not None:
        height = int(match.group(1))
        width = height if match.group(2) is None else int(match.group(2))
    if min(height, width) < 1:
        raise KernelError(f"box:N or box:HxW needs whole sizes >= 1, got {spec!r}")
    return box(height, width, name=spec)


_FAMILIES = (
    Family(
        "gaussian",
        "gaussian:SIGMA[,SIZE]",
        "Sampled Gaussian blur, 2*ceil(3*SIGMA)+1 square unless SIZE is given; sum 1.",
        _build_gaussian,
    ),
    Family("box", "box:N or box:HxW", "Mean filter of N x N (or H x W) pixels; sum 1.", _build_box),
    Family(
        "log",
        "log:SIGMA[,SIZE]",
        "Laplacian of Gaussian: blur and second derivative in one kernel; sum 0.",
        _build_log,
    ),
)

FAMILIES: Mapping[str, Family] = MappingProxyType({family.name: family for family in _FAMILIES})
"""The parametric families by name."""
