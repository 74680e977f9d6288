"""What a kernel is: its weights and the scale and bias of its step, an operator of two kernels,
and the facts of its weights that every layer above asks about.

A :class:`Kernel` is applied as written (cross-correlation); ``flip`` in
:class:`~convcli.core.params.ConvParams` turns it for true convolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from convcli.core.convolution import as_kernel_array
from convcli.core.params import Pair, format_size
from convcli.errors import KernelError

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


Step: TypeAlias = Kernel | Operator
"""One step of a chain: a kernel, or an operator such as ``sobel``."""

# Relative to the sum of |weights|: float kernels that should sum to 0 rarely do exactly.
_ZERO_SUM_TOLERANCE = 1e-9


def is_zero_sum(weights: npt.NDArray[np.floating[Any]]) -> bool:
    """Whether the weights sum to 0, up to rounding: an edge or derivative detector, which
    gives 0 on flat regions.

    >>> is_zero_sum(np.array([[1.0, 0.0, -1.0]])), is_zero_sum(np.array([[0.25, 0.5, 0.25]]))
    (True, False)
    """
    return bool(abs(weights.sum()) <= _ZERO_SUM_TOLERANCE * np.abs(weights).sum())
