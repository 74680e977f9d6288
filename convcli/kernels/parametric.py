"""Kernel families with a parameter: ``gaussian:SIGMA``, ``box:N`` and ``log:SIGMA``.

Each family parses its arguments, checks the size against the limit *before* building
anything, and returns a :class:`~convcli.kernels.kernel.Kernel` named as it was asked for.
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
from convcli.kernels.formats import parse_number
from convcli.kernels.kernel import MAX_KERNEL_SIDE, Kernel, check_kernel_size

MIN_SIGMA = 0.1
"""Below this the sampled Gaussian is one pixel: exp(-1 / (2 sigma^2)) is under 1e-21."""


@dataclass(frozen=True)
class Family:
    """A parametric kernel family: ``name:ARGS`` builds one kernel."""

    name: str
    syntax: str
    summary: str
    build: Callable[[str, str], Kernel]
    """Takes the whole spec (for messages and the name) and the text after the colon."""


def gaussian_size(sigma: float) -> int:
    """Side of a sampled Gaussian: 2*ceil(3 sigma)+1, which keeps 99.7% of its mass.

    >>> gaussian_size(1.0), gaussian_size(1.4), gaussian_size(0.2)
    (7, 11, 3)
    """
    return 2 * math.ceil(3 * sigma) + 1


def sampled_gaussian(sigma: float, size: int) -> npt.NDArray[np.float64]:
    """exp(-x^2 / (2 sigma^2)) at `size` integer offsets centred on 0, normalised to sum 1."""
    offsets = np.arange(size) - (size - 1) / 2
    samples = np.exp(-(offsets**2) / (2 * sigma**2))
    normalised: npt.NDArray[np.float64] = samples / samples.sum()
    return normalised


def _check_sigma(sigma: float, size: int | None, name: str) -> int:
    """The kernel's side for `sigma` and an optional `size`, refused before it is built."""
    if not sigma >= MIN_SIGMA:
        raise KernelError(f"{name}: SIGMA must be at least {MIN_SIGMA}, got {sigma:g}")
    if size is None:
        if 3 * sigma > MAX_KERNEL_SIDE:
            raise KernelError(
                f"{name}: SIGMA {sigma:g} makes a kernel wider than {MAX_KERNEL_SIDE}"
                f" (2*ceil(3*SIGMA)+1); SIGMA is at most {(MAX_KERNEL_SIDE - 1) // 2 / 3:.4g}"
            )
        size = gaussian_size(sigma)
    check_kernel_size((size, size), name)
    return size


def gaussian(sigma: float, size: int | None = None, *, name: str | None = None) -> Kernel:
    """The sampled 2-D Gaussian, size 2*ceil(3 sigma)+1 unless given, normalised to sum 1.

    It is separable: the outer product of the 1-D sampled Gaussian with itself.

    >>> kernel = gaussian(1.0)
    >>> kernel.shape, round(kernel.total, 12), kernel.is_separable()
    ((7, 7), 1.0, True)
    """
    name = name or f"gaussian:{sigma:g}"
    size = _check_sigma(sigma, size, name)
    row = sampled_gaussian(sigma, size)
    return Kernel(
        name, np.outer(row, row), f"Sampled Gaussian blur, sigma {sigma:g}, {size}x{size}, sum 1."
    )


def laplacian_of_gaussian(
    sigma: float, size: int | None = None, *, name: str | None = None
) -> Kernel:
    """The Laplacian of the sampled Gaussian: negative centre, like ``laplacian``; sums to 0.

    Per pixel at (x, y) from the centre, ((x^2 + y^2 - 2 sigma^2) / sigma^4) * G(x, y) with
    G the Gaussian of :func:`gaussian`, then shifted by its mean so that flat regions give 0
    (to rounding). It approximates ``-k gaussian:SIGMA -k laplacian`` in one step. `size`
    may widen it but not cut it short of 2*ceil(3 sigma)+1, where its shape would be lost.

    >>> kernel = laplacian_of_gaussian(1.0)
    >>> kernel.shape, abs(kernel.total) < 1e-15, bool(kernel.weights[3, 3] < 0)
    ((7, 7), True, True)
    """
    name = name or f"log:{sigma:g}"
    natural = _check_sigma(sigma, None, name)
    if size is not None and size < natural:
        raise KernelError(
            f"{name}: SIZE {size} cuts the Laplacian of Gaussian short; sigma {sigma:g} needs"
            f" at least {natural} (2*ceil(3*SIGMA)+1)"
        )
    size = _check_sigma(sigma, size, name)
    blur = gaussian(sigma, size).weights
    offsets = np.arange(size) - (size - 1) / 2
    squared_radius = offsets[:, None] ** 2 + offsets[None, :] ** 2
    weights = (squared_radius - 2 * sigma**2) / sigma**4 * blur
    weights -= weights.mean()
    return Kernel(name, weights, f"Laplacian of Gaussian, sigma {sigma:g}, {size}x{size}, sum 0.")


def box(height: int, width: int, *, name: str | None = None) -> Kernel:
    """The height x width mean filter: every weight 1 / (height * width).

    >>> box(1, 4).weights.tolist()
    [[0.25, 0.25, 0.25, 0.25]]
    """
    name = name or f"box:{height}x{width}"
    check_kernel_size((height, width), name)
    count = height * width
    return Kernel(
        name,
        np.full((height, width), 1 / count),
        f"Box blur, {height}x{width} mean.",
        divisor=count,
    )


def _sigma_and_size(spec: str, args: str) -> tuple[float, int | None]:
    """SIGMA and the optional SIZE of ``family:SIGMA[,SIZE]``."""
    family = spec.split(":", 1)[0]
    rule = f"{family}:SIGMA[,SIZE] needs a number SIGMA and a whole SIZE >= 1, got {spec!r}"
    fields = [field.strip() for field in args.split(",")]
    if len(fields) > 2:
        raise KernelError(rule)
    try:
        sigma = parse_number(fields[0], spec)
    except KernelError:
        raise KernelError(rule) from None
    size = None
    if len(fields) == 2:
        if not re.fullmatch(r"[0-9]+", fields[1]) or int(fields[1]) < 1:
            raise KernelError(rule)
        size = int(fields[1])
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
