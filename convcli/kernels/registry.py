"""The registry of built-in kernels: named, documented weights, applied as written.

convcli slides kernels without flipping them (cross-correlation), so each matrix below is
exactly what lies on the image: the derivative kernels ``vertical``, ``*-x`` and ``*-y`` are
positive where the left (``x``) or the top (``y``) side is brighter. ``--flip`` reverses that.

Grids are written as the usual references print them (Wikipedia's "Kernel (image processing)"
and "Sobel operator" pages, ImageMagick's ``-morphology Convolve`` kernel display); separable
ones are built from their named 1-D factors.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.errors import UnknownKernelError
from convcli.kernels.kernel import Kernel, Operator

Grid = tuple[tuple[int, ...], ...]


def builtin(name: str, grid: Grid, summary: str, divisor: int = 1) -> Kernel:
    """A registry kernel from its integer grid as written and its divisor."""
    weights: npt.NDArray[Any] = np.array(grid, dtype=np.float64) / divisor
    return Kernel(name, weights, summary, divisor=divisor)


def outer(column: Sequence[int], row: Sequence[int]) -> Grid:
    """The separable grid ``column[i] * row[j]``: `column` runs down, `row` across.

    >>> outer((1, 2, 1), (1, 0, -1))
    ((1, 0, -1), (2, 0, -2), (1, 0, -1))
    """
    return tuple(tuple(c * r for r in row) for c in column)


# 1-D factors. Smoothing factors run across the edge's length, the difference across the edge.
DIFFERENCE = (1, 0, -1)  # central difference, first minus last
BOX_3 = (1, 1, 1)  # Prewitt's smoothing
BOX_5 = (1, 1, 1, 1, 1)
BINOMIAL_3 = (1, 2, 1)  # Sobel's smoothing; row 2 of Pascal's triangle
BINOMIAL_5 = (1, 4, 6, 4, 1)  # row 4 of Pascal's triangle
SCHARR_SMOOTH = (3, 10, 3)  # H. Scharr's optimised smoothing (as in OpenCV's Scharr)

IDENTITY: Grid = (
    (0, 0, 0),
    (0, 1, 0),
    (0, 0, 0),
)  # fmt: skip
LAPLACIAN_4: Grid = (
    (0,  1, 0),
    (1, -4, 1),
    (0,  1, 0),
)  # fmt: skip
LAPLACIAN_8: Grid = (
    (1,  1, 1),
    (1, -8, 1),
    (1,  1, 1),
)  # fmt: skip
SHARPEN: Grid = (
    ( 0, -1,  0),
    (-1,  5, -1),
    ( 0, -1,  0),
)  # fmt: skip
EMBOSS: Grid = (
    (-2, -1, 0),
    (-1,  1, 1),
    ( 0,  1, 2),
)  # fmt: skip
OUTLINE: Grid = (
    (-1, -1, -1),
    (-1,  8, -1),
    (-1, -1, -1),
)  # fmt: skip

_KERNELS = (
    builtin("identity", IDENTITY, "Leaves the image unchanged: a single 1 at the centre."),
    builtin(
        "vertical",
        outer(BOX_3, DIFFERENCE),
        "Vertical edges: left column minus right column (the weights of prewitt-x).",
    ),
    builtin(
        "horizontal",
        outer(DIFFERENCE, BOX_3),
        "Horizontal edges: top row minus bottom row (the weights of prewitt-y).",
    ),
    builtin(
        "sobel-x",
        outer(BINOMIAL_3, DIFFERENCE),
        "Sobel derivative across columns: vertical edges, centre row weighted 2.",
    ),
    builtin(
        "sobel-y",
        outer(DIFFERENCE, BINOMIAL_3),
        "Sobel derivative across rows: horizontal edges, centre column weighted 2.",
    ),
    builtin(
        "prewitt-x",
        outer(BOX_3, DIFFERENCE),
        "Prewitt derivative across columns: vertical edges, rows weighted equally.",
    ),
    builtin(
        "prewitt-y",
        outer(DIFFERENCE, BOX_3),
        "Prewitt derivative across rows: horizontal edges, columns weighted equally.",
    ),
    builtin(
        "scharr-x",
        outer(SCHARR_SMOOTH, DIFFERENCE),
        "Scharr derivative across columns: vertical edges, more rotation-invariant than Sobel.",
    ),
    builtin(
        "scharr-y",
        outer(DIFFERENCE, SCHARR_SMOOTH),
        "Scharr derivative across rows: horizontal edges, more rotation-invariant than Sobel.",
    ),
    builtin(
        "laplacian",
        LAPLACIAN_4,
        "Laplacian, 4-neighbour: second derivative, edges of every direction, zero on ramps.",
    ),
    builtin(
        "laplacian-8",
        LAPLACIAN_8,
        "Laplacian, 8-neighbour: like laplacian, diagonals included.",
    ),
    builtin("sharpen", SHARPEN, "Sharpen: the image plus its 4-neighbour Laplacian edges."),
    builtin("box-3", outer(BOX_3, BOX_3), "Box blur, 3x3 mean.", divisor=9),
    builtin("box-5", outer(BOX_5, BOX_5), "Box blur, 5x5 mean.", divisor=25),
    builtin(
        "gaussian-3",
        outer(BINOMIAL_3, BINOMIAL_3),
        "Gaussian blur, 3x3 binomial approximation (sigma about 0.7).",
        divisor=16,
    ),
    builtin(
        "gaussian-5",
        outer(BINOMIAL_5, BINOMIAL_5),
        "Gaussian blur, 5x5 binomial approximation (sigma 1).",
        divisor=256,
    ),
    builtin("emboss", EMBOSS, "Emboss: relief along the diagonal from top left to bottom right."),
    builtin(
        "outline",
        OUTLINE,
        "Outline: 8 times the centre minus its neighbours; edges of every direction.",
    ),
)

KERNELS: Mapping[str, Kernel] = MappingProxyType({kernel.name: kernel for kernel in _KERNELS})
"""Every built-in kernel by name, in the order ``convcli kernels`` lists them."""

_OPERATORS = (
    Operator(
        "sobel",
        KERNELS["sobel-x"],
        KERNELS["sobel-y"],
        "Sobel gradient magnitude, sqrt(sobel-x^2 + sobel-y^2): edges of every direction.",
    ),
    Operator(
        "prewitt",
        KERNELS["prewitt-x"],
        KERNELS["prewitt-y"],
        "Prewitt gradient magnitude, sqrt(prewitt-x^2 + prewitt-y^2).",
    ),
    Operator(
        "scharr",
        KERNELS["scharr-x"],
        KERNELS["scharr-y"],
        "Scharr gradient magnitude, sqrt(scharr-x^2 + scharr-y^2).",
    ),
)

OPERATORS: Mapping[str, Operator] = MappingProxyType({op.name: op for op in _OPERATORS})
"""The gradient-magnitude operators by name."""


def get_kernel(name: str) -> Kernel:
    """The built-in kernel called `name`.

    >>> get_kernel("sobel-x").grid.tolist()
    [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]
    >>> get_kernel("sobelx")
    Traceback (most recent call last):
    ...
    convcli.errors.UnknownKernelError: unknown kernel 'sobelx'; did you mean 'sobel-x' or
    'sobel-y'? (list them with 'convcli kernels')

    Raises
    ------
    UnknownKernelError
        If there is none, with the closest names as suggestions.
    """
    try:
        return KERNELS[name]
    except KeyError:
        raise UnknownKernelError(name, closest_names(name, list(KERNELS))) from None


def closest_names(name: str, names: Sequence[str]) -> tuple[str, ...]:
    """Up to three of `names` that look like `name`, the closest first."""
    return tuple(difflib.get_close_matches(name, names, n=3, cutoff=0.6))
