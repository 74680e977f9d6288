"""Kernel facts for every built-in: zero-sum, separable factors, symmetry, the 8-bit range."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from convcli import convolve2d
from convcli.kernels.facts import kernel_facts
from convcli.kernels.kernel import Kernel
from convcli.kernels.registry import KERNELS, get_kernel


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_the_facts_of_every_built_in(name: str) -> None:
    kernel = KERNELS[name]
    facts = kernel_facts(kernel)
    weights = kernel.weights
    assert facts.shape == weights.shape
    assert facts.total == pytest.approx(weights.sum())
    assert facts.zero_sum == (abs(weights.sum()) < 1e-9 * np.abs(weights).sum())
    # Separable: the factors give the kernel back; not: its rank is over 1.
    if facts.factors is None:
        assert np.linalg.matrix_rank(weights) > 1
    else:
        np.testing.assert_allclose(np.outer(*facts.factors), weights, rtol=0, atol=1e-12)
    # Symmetric exactly when correlation and convolution agree on a random image.
    image = np.random.default_rng(0).random((9, 11))
    same = np.allclose(convolve2d(image, weights), convolve2d(image, weights, flip=True))
    assert facts.symmetric == same


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_the_8_bit_range_bounds_every_window_and_is_reached(name: str) -> None:
    kernel = KERNELS[name]
    low, high = kernel_facts(kernel).output_range
    weights = kernel.weights
    # Random 8-bit windows stay inside the range...
    windows = np.random.default_rng(1).integers(0, 256, (200, *weights.shape)).astype(float)
    for window in windows:
        value = float(convolve2d(window, weights)[0, 0])
        assert low - 1e-9 <= value <= high + 1e-9
    # ...and the windows with 255 under one sign of weights, 0 elsewhere, reach its ends.
    brightest = convolve2d(np.where(weights > 0, 255.0, 0.0), weights)[0, 0]
    darkest = convolve2d(np.where(weights < 0, 255.0, 0.0), weights)[0, 0]
    assert high == pytest.approx(max(brightest, darkest))
    assert low == pytest.approx(min(brightest, darkest))


def test_scale_and_bias_move_the_range() -> None:
    halved = replace(get_kernel("sobel-x"), scale=0.5, bias=128.0)
    assert kernel_facts(halved).output_range == (-382.0, 638.0)


@pytest.mark.parametrize(
    ("weights", "advice"),
    [
        ([[1.0, 0.0, -1.0]], "-255 to 255: use --range abs or rescale"),
        ([[1.0, 1.0]], "0 to 510: values above 255 are clipped; use --range rescale or --scale"),
        ([[0.5, 0.5]], "0 to 255: fits 8-bit output as it is"),
    ],
)
def test_the_advice_follows_the_range(weights: list[list[float]], advice: str) -> None:
    kernel = Kernel("inline", np.array(weights))
    assert kernel_facts(kernel).range_advice() == advice


def test_the_matrix_is_drawn_in_a_diverging_colour_scale() -> None:
    from rich.console import Console

    from convcli.terminal.render import kernel_matrix

    console = Console(force_terminal=True, color_system="standard", width=80)
    with console.capture() as capture:
        console.print(kernel_matrix(Kernel("k", np.array([[-3.0, 0.0, 1.0, 3.0]]))))
    drawn = capture.get()
    assert "\x1b[1;34m-3" in drawn  # large negative: bold blue
    assert "\x1b[2;31m1" in drawn  # small positive: dim red
    assert "\x1b[1;31m3" in drawn  # large positive: bold red
    assert "\x1b[2m0" in drawn  # zero: dim
