"""The benchmark script's own arithmetic: its reference loop, kernels, timing and checks."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from convcli import convolve2d
from tests.conftest import load_script

bench = load_script("bench")


@pytest.mark.parametrize(("stride", "dilation"), [(1, 1), (2, 1), (1, 2), (2, 2)])
def test_per_pixel_loop_is_convcli_with_centred_zero_padding(stride: int, dilation: int) -> None:
    rng = np.random.default_rng(0)
    image = rng.random((9, 11), dtype=np.float32)
    kernel = rng.uniform(-1, 1, (3, 3)).astype(np.float32)
    case = bench.Case("test", kernel, stride=stride, dilation=dilation)
    expected = convolve2d(image, kernel, stride=stride, padding=case.padding, dilation=dilation)
    np.testing.assert_allclose(bench.per_pixel_loop(image, case), expected, atol=1e-5)


def test_dilated_kernel_puts_zeros_between_taps() -> None:
    kernel = np.array([[1, 2], [3, 4]], dtype=np.float32)
    spread = bench.Case("test", kernel, dilation=2).dilated_kernel()
    assert spread.tolist() == [[1, 0, 2], [0, 0, 0], [3, 0, 4]]


def test_gaussian_kernel_is_normalised_symmetric_and_peaks_in_the_centre() -> None:
    kernel = bench.gaussian_kernel(15, sigma=2.5)
    assert kernel.shape == (15, 15)
    assert kernel.sum() == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_array_equal(kernel, kernel.T)
    np.testing.assert_array_equal(kernel, kernel[::-1, ::-1])
    assert kernel[7, 7] == kernel.max()


def test_measure_repeats_after_an_untimed_warm_up() -> None:
    calls: list[int] = []

    def call() -> int:
        calls.append(1)
        return len(calls)

    timing, result = bench.measure(call, repeats=3, budget=float("inf"))
    assert (timing.runs, len(calls), result) == (3, 4, 4)


def test_measure_keeps_a_call_that_uses_up_the_budget_as_the_only_run() -> None:
    calls: list[int] = []
    timing, _ = bench.measure(lambda: calls.append(1), repeats=7, budget=0.0)
    assert (timing.runs, len(calls)) == (1, 1)


def test_check_agreement_refuses_a_difference_beyond_the_tolerance() -> None:
    reference = np.zeros((2, 2), dtype=np.float32)
    result = reference.copy()
    result[1, 0] = 0.5
    bench.check_agreement("same", reference, reference, 0.0)
    with pytest.raises(bench.BenchmarkError, match=r"differs by 0.5 at \(1, 0\)"):
        bench.check_agreement("off", reference, result, 0.1)
    with pytest.raises(bench.BenchmarkError, match="shape"):
        bench.check_agreement("cut", reference, reference[:1], 0.1)


def test_sizes_are_a_comma_separated_list() -> None:
    assert bench.parse_sizes("512,2048") == (512, 2048)
    with pytest.raises(argparse.ArgumentTypeError):
        bench.parse_sizes("512,big")
