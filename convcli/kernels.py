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
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from convcli.errors import UnknownKernelError
from convcli.params import Pair

Grid = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Kernel:
    """A named kernel: integer weights as written, divided by `divisor` when applied.

    Attributes
    ----------
    name : str
        The name ``-k`` takes.
    grid : tuple of tuple of int
        Rows of weights, top row first, before the divisor.
    summary : str
        One line on what it does.
    divisor : int
        The weights are ``grid / divisor`` (GIMP's "divisor"; 1 for most kernels).
    """

    name: str
    grid: Grid
    summary: str
    divisor: int = 1

    @property
    def weights(self) -> npt.NDArray[np.float64]:
        """The weights as a (kh, kw) float64 array: ``grid / divisor``."""
        return np.array(self.grid, dtype=np.float64) / self.divisor

    @property
    def shape(self) -> Pair:
        """(height, width) of the kernel."""
        return (len(self.grid), len(self.grid[0]))

    @property
    def total(self) -> float:
        """Sum of the weights: 1 for blurs (brightness kept), 0 for edge detectors."""
        return sum(map(sum, self.grid)) / self.divisor


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
    Kernel("identity", IDENTITY, "Leaves the image unchanged: a single 1 at the centre."),
    Kernel(
        "vertical",
        outer(BOX_3, DIFFERENCE),
        "Vertical edges: left column minus right column (the weights of prewitt-x).",
    ),
    Kernel(
        "horizontal",
        outer(DIFFERENCE, BOX_3),
        "Horizontal edges: top row minus bottom row (the weights of prewitt-y).",
    ),
    Kernel(
        "sobel-x",
        outer(BINOMIAL_3, DIFFERENCE),
        "Sobel derivative across columns: vertical edges, centre row weighted 2.",
    ),
    Kernel(
        "sobel-y",
        outer(DIFFERENCE, BINOMIAL_3),
        "Sobel derivative across rows: horizontal edges, centre column weighted 2.",
    ),
    Kernel(
        "prewitt-x",
        outer(BOX_3, DIFFERENCE),
        "Prewitt derivative across columns: vertical edges, rows weighted equally.",
    ),
    Kernel(
        "prewitt-y",
        outer(DIFFERENCE, BOX_3),
        "Prewitt derivative across rows: horizontal edges, columns weighted equally.",
    ),
    Kernel(
        "scharr-x",
        outer(SCHARR_SMOOTH, DIFFERENCE),
        "Scharr derivative across columns: vertical edges, more rotation-invariant than Sobel.",
    ),
    Kernel(
        "scharr-y",
        outer(DIFFERENCE, SCHARR_SMOOTH),
        "Scharr derivative across rows: horizontal edges, more rotation-invariant than Sobel.",
    ),
    Kernel(
        "laplacian",
        LAPLACIAN_4,
        "Laplacian, 4-neighbour: second derivative, edges of every direction, zero on ramps.",
    ),
    Kernel(
        "laplacian-8",
        LAPLACIAN_8,
        "Laplacian, 8-neighbour: like laplacian, diagonals included.",
    ),
    Kernel("sharpen", SHARPEN, "Sharpen: the image plus its 4-neighbour Laplacian edges."),
    Kernel("box-3", outer(BOX_3, BOX_3), "Box blur, 3x3 mean.", divisor=9),
    Kernel("box-5", outer(BOX_5, BOX_5), "Box blur, 5x5 mean.", divisor=25),
    Kernel(
        "gaussian-3",
        outer(BINOMIAL_3, BINOMIAL_3),
        "Gaussian blur, 3x3 binomial approximation (sigma about 0.7).",
        divisor=16,
    ),
    Kernel(
        "gaussian-5",
        outer(BINOMIAL_5, BINOMIAL_5),
        "Gaussian blur, 5x5 binomial approximation (sigma 1).",
        divisor=256,
    ),
    Kernel("emboss", EMBOSS, "Emboss: relief along the diagonal from top left to bottom right."),
    Kernel(
        "outline",
        OUTLINE,
        "Outline: 8 times the centre minus its neighbours; edges of every direction.",
    ),
)

KERNELS: Mapping[str, Kernel] = MappingProxyType({kernel.name: kernel for kernel in _KERNELS})
"""Every built-in kernel by name, in the order ``convcli kernels`` lists them."""


def get_kernel(name: str) -> Kernel:
    """The built-in kernel called `name`.

    >>> get_kernel("sobel-x").grid
    ((1, 0, -1), (2, 0, -2), (1, 0, -1))
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
        suggestions = difflib.get_close_matches(name, list(KERNELS), n=3, cutoff=0.6)
        raise UnknownKernelError(name, tuple(suggestions)) from None
