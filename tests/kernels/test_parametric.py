"""Parametric kernels: gaussian:SIGMA, box:N and log:SIGMA, against their formulas."""

from __future__ import annotations

import math
import re
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcli import KernelError, convolve2d
from convcli.kernels.kernel import Kernel
from convcli.kernels.parametric import box, gaussian, laplacian_of_gaussian
from convcli.kernels.registry import KERNELS
from convcli.kernels.spec import resolve_kernel


def kernel(spec: str) -> Kernel:
    step = resolve_kernel(spec)
    assert isinstance(step, Kernel)
    return step


@settings(max_examples=40, deadline=None)
@given(st.floats(0.1, 8.0))
def test_gaussian_is_the_normalised_sampled_formula(sigma: float) -> None:
    result = gaussian(sigma)
    radius = math.ceil(3 * sigma)
    assert result.shape == (2 * radius + 1, 2 * radius + 1)
    expected = np.array(
        [
            [math.exp(-(x * x + y * y) / (2 * sigma * sigma)) for x in range(-radius, radius + 1)]
            for y in range(-radius, radius + 1)
        ]
    )
    expected /= expected.sum()
    np.testing.assert_allclose(result.weights, expected, rtol=1e-12, atol=1e-300)
    assert result.total == pytest.approx(1, abs=1e-12)
    assert result.is_separable()


def test_gaussian_spec_names_and_sizes() -> None:
    assert kernel("gaussian:1.4").shape == (11, 11)
    assert kernel("gaussian:1.4").name == "gaussian:1.4"
    assert kernel("gaussian:2,5").shape == (5, 5)
    assert kernel("gaussian:0.5").shape == (5, 5)
    assert kernel("gaussian: 1 , 3").shape == (3, 3)


def test_box() -> None:
    assert kernel("box:3").weights.tolist() == (np.ones((3, 3)) / 9).tolist()
    wide = kernel("box:2x4")
    assert wide.shape == (2, 4)
    assert wide.total == pytest.approx(1)
    assert (wide.divisor, wide.grid.tolist()) == (8, np.ones((2, 4)).tolist())
    assert box(1, 1).weights.tolist() == [[1.0]]


def test_laplacian_of_gaussian_is_zero_sum_symmetric_with_a_negative_centre() -> None:
    log = kernel("log:1.4")
    assert log.shape == (11, 11)
    assert abs(log.total) < 1e-14
    assert log.weights[5, 5] == log.weights.min() < 0
    np.testing.assert_allclose(log.weights, log.weights.T, atol=1e-18)
    np.testing.assert_allclose(log.weights, log.weights[::-1, ::-1], atol=1e-18)


def test_laplacian_of_gaussian_approximates_blur_then_laplacian() -> None:
    rng = np.random.default_rng(5)
    smooth = convolve2d(rng.random((80, 80)), kernel("gaussian:2").weights, padding="same")
    one_step = convolve2d(smooth, laplacian_of_gaussian(1.4).weights)
    two_steps = convolve2d(convolve2d(smooth, gaussian(1.4).weights), KERNELS["laplacian"].weights)
    # The two-step path loses one more pixel per side: its (r, c) is the one step's (r+1, c+1).
    assert (one_step.shape, two_steps.shape) == ((70, 70), (68, 68))
    aligned = one_step[1:-1, 1:-1]
    correlation = np.corrcoef(aligned.ravel(), two_steps.ravel())[0, 1]
    assert correlation > 0.999
    assert np.abs(aligned - two_steps).max() < 0.06 * np.abs(two_steps).max()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gaussian:0", "gaussian:0: SIGMA must be at least 0.1, got 0"),
        ("gaussian:-1", "gaussian:-1: SIGMA must be at least 0.1, got -1"),
        ("gaussian:1e-200", "gaussian:1e-200: SIGMA must be at least 0.1, got 1e-200"),
        ("log:0.05", "log:0.05: SIGMA must be at least 0.1, got 0.05"),
        ("gaussian:abc", "gaussian:SIGMA[,SIZE] needs a number SIGMA and a whole SIZE >= 1, got"),
        ("gaussian:", "needs a number SIGMA"),
        ("gaussian:1,0", "a whole SIZE >= 1"),
        ("gaussian:1,2.5", "a whole SIZE >= 1"),
        ("gaussian:1,2,3", "a whole SIZE >= 1"),
        ("log:nan", "log:SIGMA[,SIZE] needs a number SIGMA"),
        ("log:1,3", "log:1,3: SIZE 3 cuts the Laplacian of Gaussian short; sigma 1 needs at"
         " least 7 (2*ceil(3*SIGMA)+1)"),
        ("box:0", "box:N or box:HxW needs whole sizes >= 1, got 'box:0'"),
        ("box:3x0", "box:N or box:HxW needs whole sizes >= 1, got 'box:3x0'"),
        ("box:2.5", "box:N or box:HxW needs whole sizes >= 1"),
        ("gaussian:171", "gaussian:171 is 1027x1027; kernels are at most 1024 on a side"),
        ("gaussian:500", "gaussian:500: SIGMA 500 makes a kernel wider than 1024"
         " (2*ceil(3*SIGMA)+1); SIGMA is at most 170.3"),
        ("gaussian:1,1025", "gaussian:1,1025 is 1025x1025; kernels are at most 1024"),
        ("box:1025x1", "box:1025x1 is 1025x1; kernels are at most 1024 on a side"),
    ],
)  # fmt: skip
def test_bad_parameters(spec: str, message: str) -> None:
    with pytest.raises(KernelError, match=re.escape(message)):
        resolve_kernel(spec)


def test_a_huge_request_is_refused_before_anything_is_allocated() -> None:
    tracemalloc.start()
    try:
        for spec in ("gaussian:1e9", "log:1e12", "box:99999999999", "gaussian:1e308", "box:3x5000"):
            with pytest.raises(KernelError):
                resolve_kernel(spec)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024  # a 1025x1025 float64 kernel alone would be 8 MB
