"""What a kernel is: the facts of its weights that the layers above ask about."""

from __future__ import annotations

import numpy as np
import pytest

from convcli.kernels.kernel import is_zero_sum
from convcli.kernels.registry import KERNELS


@pytest.mark.parametrize("name", list(KERNELS))
def test_zero_sum_is_exactly_the_detectors(name: str) -> None:
    kernel = KERNELS[name]
    assert is_zero_sum(kernel.weights) == (kernel.total == 0)


def test_zero_sum_tolerates_rounding_in_float_kernels() -> None:
    weights = np.array([[0.1, 0.2, -0.3]])  # sums to 5.5e-17 in floating point
    assert is_zero_sum(weights)
