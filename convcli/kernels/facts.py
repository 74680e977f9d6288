"""What can be said of a kernel before it touches an image: its size and sum, whether it is
zero-sum, separable or symmetric, and the range of values it makes from an 8-bit input.

What ``convcli kernels SPEC`` states beside the drawn matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.core.methods import separable_factors
from convcli.kernels.kernel import Kernel, is_zero_sum

# An 8-bit input's samples.
_EIGHT_BIT = 255.0


@dataclass(frozen=True)
class KernelFacts:
    """Facts about one kernel, as convcli applies it (its scale and bias included)."""

    shape: tuple[int, int]
    total: float
    """The sum of the weights."""
    zero_sum: bool
    """The weights sum to 0 (up to rounding): flat regions give 0, an edge or derivative."""
    factors: tuple[npt.NDArray[Any], npt.NDArray[Any]] | None
    """(column, row) whose outer product is the kernel, or None if its rank is over 1."""
    symmetric: bool
    """Unchanged by a 180-degree turn: correlation and true convolution (--flip) agree."""
    output_range: tuple[float, float]
    """Lowest and highest result for 8-bit input (0..255), after the kernel's scale and bias."""

    def range_advice(self) -> str:
        """How that range meets 8-bit output, in a sentence.

        >>> from convcli.kernels.registry import get_kernel
        >>> kernel_facts(get_kernel("sobel-x")).range_advice()
        '-1020 to 1020: use --range abs or rescale'
        >>> kernel_facts(get_kernel("gaussian-3")).range_advice()
        '0 to 255: fits 8-bit output as it is'
        """
        low, high = self.output_range
        span = f"{low:g} to {high:g}"
        if low < 0:
            return f"{span}: use --range abs or rescale"
        if high > _EIGHT_BIT:
            return f"{span}: values above 255 are clipped; use --range rescale or --scale"
        return f"{span}: fits 8-bit output as it is"


def kernel_facts(kernel: Kernel) -> KernelFacts:
    """The :class:`KernelFacts` of `kernel`.

    >>> from convcli.kernels.registry import get_kernel
    >>> facts = kernel_facts(get_kernel("sobel-x"))
    >>> facts.zero_sum, facts.symmetric, [f.tolist() for f in facts.factors]
    (True, False, [[1.0, 2.0, 1.0], [1.0, 0.0, -1.0]])
    """
    weights = kernel.weights
    # Each weight meets a sample of 0 or 255: the extremes put 255 under one sign.
    positive = float(weights[weights > 0].sum()) * _EIGHT_BIT
    negative = float(weights[weights < 0].sum()) * _EIGHT_BIT
    ends = sorted(kernel.scale * value + kernel.bias for value in (negative, positive))
    return KernelFacts(
        shape=(weights.shape[0], weights.shape[1]),
        total=float(weights.sum()),
        zero_sum=is_zero_sum(weights),
        factors=separable_factors(weights),
        symmetric=bool(np.array_equal(weights, weights[::-1, ::-1])),
        output_range=(ends[0], ends[1]),
    )
