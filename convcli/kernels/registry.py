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
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.core.convolution import as_kernel_array
from convcli.core.params import Pair, format_size
from convcli.errors import KernelError, UnknownKernelError

Grid = tuple[tuple[int, ...], ...]

MAX_KERNEL_SIDE = 1024
"""The largest kernel height or width convcli accepts, from any source."""


def check_kernel_size(shape: Pair, what: str) -> None:
    """Refuse a kernel taller or wider than :data:`MAX_KERNEL_SIDE`, before it is built.

    >>> check_kernel_size((3, 2000), "kernel")
    Traceback (most recent call last):
    ...
    convcli.errors.KernelError: kernel is 3x2000; kernels are at most 1024 on a side
    """
    if max(shape) > MAX_KERNEL_SIDE:
        raise KernelError(
            f"{what} is {format_size(shape)}; kernels are at most {MAX_KERNEL_SIDE} on a side"
        )


@dataclass(frozen=True, eq=False)
class Kernel:
    """A kernel as convcli applies it: its weights, and the scale and bias of its own step.

    One step computes ``scale * (weights slid over the input) + bias``.

    Attributes
    ----------
    name : str
        What ``-k`` was given: a built-in name, a file path, an inline matrix.
    weights : ndarray, shape (kh, kw)
        float64, read-only, finite; at most :data:`MAX_KERNEL_SIDE` on a side.
    summary : str
        One line on what it does (built-ins) or where it came from.
    scale, bias : float
        Multiplier and offset of this step's result (1 and 0 unless a file says otherwise).
    divisor : int
        For display only: ``weights * divisor`` is the integer grid as written (1/16 for
        gaussian-3, GIMP's "divisor"); 1 when the weights are shown as they are.
    path : Path or None
        The file it was read from, which a run must not overwrite.
    """

    name: str
    weights: npt.NDArray[np.float64]
    summary: str = ""
    scale: float = 1.0
    bias: float = 0.0
    divisor: int = 1
    path: Path | None = None

    def __post_init__(self) -> None:
        weights = as_kernel_array(self.weights)
        check_kernel_size(weights.shape, f"kernel {self.name!r}")
        with np.errstate(over="ignore"):
            magnitude = np.abs(weights).sum()
        if not np.isfinite(magnitude):
            raise KernelError(
                f"the weights of kernel {self.name!r} are too large: their sum is not finite"
            )
        weights = weights.copy()
        weights.flags.writeable = False
        # A frozen dataclass sets its fields once; this stores the validated, private copy.
        object.__setattr__(self, "weights", weights)
        for field in ("scale", "bias"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise KernelError(
                    f"{field} of kernel {self.name!r} must be a number, got {value!r}"
                )
            if not math.isfinite(value):
                raise KernelError(f"{field} of kernel {self.name!r} must be finite, got {value!r}")
            object.__setattr__(self, field, float(value))

    @property
    def shape(self) -> Pair:
        """(height, width) of the kernel."""
        return (self.weights.shape[0], self.weights.shape[1])

    @property
    def total(self) -> float:
        """Sum of the weights, correctly rounded: 1 for blurs, 0 for edge detectors."""
        return math.fsum(self.weights.flat)

    @property
    def grid(self) -> npt.NDArray[np.float64]:
        """The weights as written: multiplied by the divisor (integers for the built-ins)."""
        return self.weights * self.divisor

    def is_separable(self) -> bool:
        """Whether the weights are an outer product of a column and a row (rank 1), by the
        rule the core's separable method uses (:func:`convcli.core.methods.separable_factors`)."""
        from convcli.core.methods import separable_factors  # the core, only when asked

        return separable_factors(self.weights) is not None


@dataclass(frozen=True)
class Operator:
    """A non-linear step: the gradient magnitude sqrt(Gx^2 + Gy^2) of two derivative kernels.

    It is what ImageMagick's and GIMP's edge filters produce; never negative.
    """

    name: str
    x: Kernel
    y: Kernel
    summary: str
    scale: float = 1.0
    bias: float = 0.0

    @property
    def shape(self) -> Pair:
        """(height, width) of its kernels."""
        return self.x.shape


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
