"""The core's four methods: each against the reference, forced, with strips, tiles and threads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from unittest import mock

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcli import ParameterError, ShapeError, convolve2d
from convcli.choices import Method
from convcli.core import methods
from convcli.core.methods import Compute, choose_method, separable_factors
from convcli.core.params import PAD_MODES, Border, ConvParams
from convcli.core.shape import arithmetic
from convcli.kernels.registry import KERNELS
from tests.core.test_convolution import cases, convolve_case, reference_of

FORCED: tuple[Method, ...] = ("direct", "separable", "gemm", "fft")
DIRECT = Compute(method="direct")


@contextmanager
def tiny_strips() -> Iterator[None]:
    """Strips of a few rows, FFT tiles of a few pixels and threads for any work: so that a
    20x20 image crosses every strip, tile and thread boundary the methods have."""
    with (
        mock.patch.object(methods, "_STRIP_BYTES", 64),
        mock.patch.object(methods, "_SOURCE_STRIP_BYTES", 64),
        mock.patch.object(methods, "_FFT_TILE", 1),
        mock.patch.object(methods, "_THREADING_WORK", 0),
    ):
        yield


def rank_one(kernel: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A kernel of rank 1 (or 0) with the shape of `kernel`, exact in float32 as in float64:
    the outer product of its first column and row, rounded to eighths."""
    column, row = np.round(kernel[:, 0] * 8) / 8, np.round(kernel[0, :] * 8) / 8
    return np.outer(column, row)


@pytest.mark.parametrize("method", FORCED)
@pytest.mark.parametrize("threads", [1, 2])
@settings(max_examples=150, deadline=None)
@given(case=cases(max_side=20))
def test_each_method_matches_the_reference(case: dict[str, Any], method: str, threads: int) -> None:
    kernel = rank_one(case["kernel"]) if method == "separable" else case["kernel"]
    expected = reference_of(case, kernel)
    with tiny_strips():
        if expected is None:  # refused in float64 and float32 alike
            with pytest.raises(ShapeError):
                convolve_case(case, kernel=kernel, method=method, threads=threads)
            image32 = case["image"].astype(np.float32)
            with pytest.raises(ShapeError):
                convolve_case(case, image32, kernel, method=method, threads=threads)
            return
        result = convolve_case(case, kernel=kernel, method=method, threads=threads)
    assert result.shape == expected.shape
    scale = np.abs(kernel).sum() * max(1.0, np.abs(case["image"]).max())
    # The FFT's rounding grows with the tile, not with one window: a looser, still tight bound.
    tolerance = (1e-10 if method == "fft" else 1e-12) * scale
    # Below the smallest subnormal float64 has no digits; the FFT rounds each of its products.
    terms = kernel.size * (case["image"].size if method == "fft" else 1)
    tolerance += 4 * terms * float(np.finfo(np.float64).smallest_subnormal)
    np.testing.assert_allclose(result, expected, rtol=0, atol=tolerance)


@pytest.mark.parametrize("method", FORCED)
@settings(max_examples=60, deadline=None)
@given(case=cases(max_side=20, fits=True))
def test_each_method_in_float32_is_close_to_float64(case: dict[str, Any], method: str) -> None:
    kernel = rank_one(case["kernel"]) if method == "separable" else case["kernel"]
    image32 = case["image"].astype(np.float32)
    with tiny_strips():
        single = convolve_case(case, image32, kernel, method=method)
        double = convolve_case(
            case, image32.astype(np.float64), kernel.astype(np.float32), method=method
        )
    assert single.dtype == np.float32
    scale = np.abs(kernel).sum() * max(1.0, float(np.abs(image32).max()))
    # As in float64, below the smallest subnormal: the FFT rounds each of its products.
    terms = kernel.size * (image32.size if method == "fft" else 1)
    underflow = 4 * terms * float(np.finfo(np.float32).smallest_subnormal)
    np.testing.assert_allclose(single, double, rtol=0, atol=2e-5 * scale + underflow)


@pytest.mark.parametrize("method", FORCED)
def test_threads_do_not_change_a_single_bit(method: str) -> None:
    rng = np.random.default_rng(1)
    image = rng.standard_normal((300, 200, 3)).astype(np.float32)
    kernel = np.outer(rng.standard_normal(5), rng.standard_normal(7))
    with tiny_strips():
        one = convolve2d(image, kernel, padding=3, stride=(2, 1), method=method, threads=1)
        two = convolve2d(image, kernel, padding=3, stride=(2, 1), method=method, threads=2)
    assert np.array_equal(one, two)


def test_channels_are_filtered_as_separate_images_by_every_method() -> None:
    rng = np.random.default_rng(2)
    image = rng.standard_normal((40, 30, 3))
    kernel = np.outer([1.0, 2.0, 1.0], [1.0, 0.0, -1.0])
    for method in FORCED:
        together = convolve2d(image, kernel, padding=1, pad_mode="reflect", method=method)
        for channel in range(3):
            alone = convolve2d(image[..., channel], kernel, padding=1, pad_mode="reflect")
            np.testing.assert_allclose(together[..., channel], alone, rtol=0, atol=1e-12)


# --- Separable factors ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_separable_factors_reproduce_every_rank_one_built_in(name: str) -> None:
    weights = KERNELS[name].weights
    factors = separable_factors(weights)
    rank = np.linalg.matrix_rank(weights)
    assert (factors is not None) == (rank <= 1)
    if factors is not None:
        column, row = factors
        np.testing.assert_allclose(np.outer(column, row), weights, rtol=0, atol=1e-12)


def test_integer_kernels_get_exact_factors() -> None:
    sobel = np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]])
    factors = separable_factors(sobel)
    assert factors is not None
    assert np.array_equal(np.outer(*factors), sobel)


def test_rank_two_is_not_separable() -> None:
    assert separable_factors(np.eye(3)) is None
    assert separable_factors(np.array([[1.0, 2.0], [2.0, 4.0 + 1e-3]])) is None


def test_forcing_separable_on_a_rank_two_kernel_is_refused() -> None:
    with pytest.raises(ParameterError, match=r"^method separable needs a kernel of rank 1"):
        convolve2d(np.ones((5, 5)), np.eye(3), method="separable")


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ({"method": "winograd"}, "method"),
        ({"threads": 0}, "^threads must be at least 1, got 0$"),
    ],
)
def test_bad_method_or_threads(how: dict[str, Any], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        convolve2d(np.ones((5, 5)), np.ones((3, 3)), **how)


# --- The choice ----------------------------------------------------------------------------


def choose(size: int, weights: npt.NDArray[Any], **params: Any) -> str:
    return choose_method((size, size), weights, ConvParams.from_args(padding="same", **params))


def test_the_choice_follows_the_kernel() -> None:
    rng = np.random.default_rng(3)
    assert choose(4096, KERNELS["sobel-x"].weights) == "separable"
    assert choose(4096, KERNELS["gaussian-5"].weights) == "separable"
    # Few distinct weights: five array passes (measured 17 ms direct, 19 ms gemm).
    assert choose(4096, KERNELS["laplacian"].weights) == "direct"
    assert choose(4096, rng.standard_normal((5, 5))) == "gemm"
    assert choose(4096, rng.standard_normal((31, 31))) == "fft"


def test_a_kernel_of_one_row_or_column_is_never_a_matrix_product() -> None:
    # A product of one dimension runs far below BLAS's speed (1x31 at 4096x4096: 390 ms
    # gemm, 91 ms direct).
    row = np.random.default_rng(11).standard_normal((1, 31))
    assert choose(4096, row) != "gemm"
    assert choose(4096, row.T) != "gemm"


def test_the_fft_is_not_chosen_where_its_last_tiles_would_be_mostly_empty() -> None:
    # 512x512 with 7x7: two 512-tiles each way, the second nearly empty (measured 1.2 ms gemm,
    # 4.5 ms direct, 8.8 ms fft).
    dense = np.random.default_rng(9).standard_normal((7, 7))
    assert choose(512, dense) == "gemm"


def test_the_choice_judges_separability_in_the_images_precision() -> None:
    gaussian = np.exp(-((np.arange(15.0) - 7) ** 2) / 12.5)
    nearly = np.outer(gaussian, gaussian) + 1e-9 * np.random.default_rng(10).random((15, 15))
    assert choose_method((4096, 4096), nearly, dtype=np.float32) == "separable"
    assert choose_method((4096, 4096), nearly, dtype=np.float64) != "separable"


def test_stride_favours_the_methods_that_compute_only_kept_windows() -> None:
    # The FFT computes every window; gemm's products only the rows the stride keeps (31x31 at
    # 2048x2048, measured: 36 ms fft at stride 1; at stride 4, 18 ms gemm and 35 ms fft).
    dense = np.random.default_rng(4).standard_normal((31, 31))
    plain = ConvParams.from_args(padding=15)
    assert choose_method((2048, 2048), dense, plain) == "fft"
    assert choose_method((2048, 2048), dense, replace(plain, stride=(4, 4))) == "gemm"


def test_a_column_stride_makes_strided_passes_dearer() -> None:
    # Reading every other column touches twice the memory a pass over contiguous ones does:
    # the separable column pass (contiguous) then wins for a rank-1 kernel at stride 2
    # (measured: 3x3 edge at 4096x4096, 9.3 ms separable, 12.4 ms direct, 16.1 ms gemm).
    edge = KERNELS["vertical"].weights
    strided = ConvParams.from_args(stride=2, padding=1)
    assert choose_method((4096, 4096), edge, strided, dtype=np.float32) == "separable"
    assert choose_method((4096, 4096), edge, ConvParams.from_args(padding=1)) == "separable"


@settings(max_examples=50, deadline=None)
@given(
    st.integers(1, 40),
    st.integers(1, 9),
    st.integers(1, 9),
    st.sampled_from(PAD_MODES),
)
def test_auto_equals_direct(size: int, kh: int, kw: int, mode: str) -> None:
    rng = np.random.default_rng(size * 100 + kh * 10 + kw)
    image = rng.standard_normal((size + kh, size + kw))
    kernel = rng.standard_normal((kh, kw))
    padding = (min(kh // 2, image.shape[0] - 1), min(kw // 2, image.shape[1] - 1))
    auto = convolve2d(image, kernel, padding=padding, pad_mode=mode)
    direct = convolve2d(image, kernel, padding=padding, pad_mode=mode, method="direct")
    np.testing.assert_allclose(auto, direct, rtol=0, atol=1e-10 * np.abs(kernel).sum())


def test_nearly_rank_one_is_not_separable() -> None:
    # A second singular value 1e-6 of the first: two passes would be off by 1e-6.
    almost = np.array([[0.0, 1e-6, 1e-6], [0.0, 1e-6, 1e-6], [2.0, 1e-6, 1e-6]])
    assert separable_factors(almost) is None
    gaussian = np.exp(-((np.arange(15.0) - 7) ** 2) / 12.5)
    assert separable_factors(np.outer(gaussian, gaussian) / gaussian.sum() ** 2) is not None


@pytest.mark.parametrize("method", FORCED)
def test_strips_handed_to_a_sink_are_the_result(method: Method) -> None:
    rng = np.random.default_rng(5)
    image = rng.standard_normal((57, 31)).astype(np.float32)
    weights = np.outer([1.0, 2.0, 1.0], [1.0, 0.0, -1.0]).astype(np.float32)
    params = ConvParams.from_args(padding=1, stride=(2, 1), pad_mode="reflect")
    axes = arithmetic(image.shape, weights.shape, params)
    seen: list[tuple[int, int]] = []

    def sink(start: int, stop: int, values: npt.NDArray[Any]) -> None:
        seen.append((start, stop))
        received[start:stop] = values

    with tiny_strips():
        expected = methods.output_array(image, axes)
        methods.run(
            image, weights, axes, Border("reflect"), expected, compute=Compute(method=method)
        )
        received = np.full_like(expected, np.nan)
        two_threads = Compute(method=method, threads=2)
        methods.run(image, weights, axes, Border("reflect"), sink, compute=two_threads)
    assert sorted(seen)[0][0] == 0
    assert sum(stop - start for start, stop in seen) == expected.shape[0]
    assert np.array_equal(received, expected)


class GrayFromColour:
    """A row source that makes gray rows from colour ones when asked, counting the rows."""

    def __init__(self, colour: npt.NDArray[np.float32]) -> None:
        self.colour = colour
        self.shape = colour.shape[:2]
        self.dtype = np.dtype(np.float32)
        self.rows_made = 0

    def rows(self, start: int, stop: int) -> npt.NDArray[Any]:
        self.rows_made += stop - start
        gray: npt.NDArray[np.float32] = self.colour[start:stop].mean(axis=-1, dtype=np.float32)
        return gray


def test_a_row_source_is_read_a_strip_at_a_time() -> None:
    colour = np.random.default_rng(6).random((64, 40, 3), dtype=np.float32)
    source = GrayFromColour(colour)
    weights = np.ones((3, 3), np.float32)
    axes = arithmetic((64, 40), (3, 3), ConvParams.from_args(padding=1, pad_mode="replicate"))
    with tiny_strips():
        result = methods.output_array(source, axes)
        methods.run(source, weights, axes, Border("replicate"), result, compute=DIRECT)
    gray = colour.mean(axis=-1, dtype=np.float32)
    expected = methods.output_array(gray, axes)
    methods.run(gray, weights, axes, Border("replicate"), expected, compute=DIRECT)
    np.testing.assert_allclose(result, expected, rtol=1e-6)
    # Each strip reads its rows plus the kernel's overlap: far fewer than 64 rows a strip.
    assert source.rows_made < 3 * 64


@pytest.mark.parametrize("threads", [1, 2])
def test_the_callers_errstate_holds_in_every_thread(threads: int) -> None:
    huge = np.full((400, 300), 3e38, dtype=np.float32)
    with tiny_strips():
        with np.errstate(over="ignore"):
            assert np.isinf(convolve2d(huge, np.ones((2, 2)), threads=threads)).all()
        with np.errstate(over="raise"), pytest.raises(FloatingPointError):
            convolve2d(huge, np.ones((2, 2)), threads=threads)


@pytest.mark.parametrize("failing", ["first", "second"])
def test_an_error_in_one_thread_stops_the_other_and_reaches_the_caller(failing: str) -> None:
    image = np.random.default_rng(7).random((400, 50), dtype=np.float32)
    weights = np.ones((3, 3), np.float32)
    axes = arithmetic(image.shape, weights.shape, ConvParams())
    strips: list[int] = []

    def sink(start: int, stop: int, values: npt.NDArray[Any]) -> None:
        strips.append(start)
        # The threads take strips in order: the first is strip 0, the second the next one.
        if (start == 0) if failing == "first" else (start > 0):
            raise OSError("disk full")
        time.sleep(0.01)  # the other thread's strips are slow: it is still busy when told

    with tiny_strips(), pytest.raises(OSError, match="disk full"):
        methods.run(
            image, weights, axes, Border(), sink, compute=Compute(method="direct", threads=2)
        )
    # One thread failed on its first strip; the other, with 50 strips to share, stopped after
    # the one it was making.
    assert len(strips) <= 4


@pytest.mark.parametrize("method", FORCED)
def test_a_nan_spreads_only_to_the_windows_that_hold_it(method: str) -> None:
    # As in PyTorch; an FFT would spread it over its whole tile, so such strips go direct.
    image = np.zeros((60, 50))
    image[10, 20] = np.nan
    kernel = np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 2.0])
    with tiny_strips():
        result = convolve2d(image, kernel, padding=1, method=method)
    assert np.argwhere(np.isnan(result)).tolist() == [
        [row, col] for row in (9, 10, 11) for col in (19, 20, 21)
    ]


def test_big_endian_float32_is_computed_in_float32() -> None:
    image = np.arange(20.0, dtype=">f4").reshape(4, 5)
    result = convolve2d(image, [[1, 2]])
    assert result.dtype == np.float32
    assert result.tolist() == convolve2d(image.astype(np.float32), [[1, 2]]).tolist()


# --- Scratch buffers kept between calls ------------------------------------------------------


def test_a_second_call_of_the_same_sizes_reuses_the_first_ones_buffers() -> None:
    image = np.random.default_rng(12).random((64, 48), dtype=np.float32)
    kernel = np.random.default_rng(13).standard_normal((5, 5))
    made: list[int] = []
    real = methods._GemmStrip.scratch

    def counted(worker: Any) -> Any:
        made.append(1)
        return real(worker)

    with mock.patch.object(methods._GemmStrip, "scratch", counted):
        first = convolve2d(image, kernel, padding=2, method="gemm", threads=1)
        second = convolve2d(image[::-1].copy(), kernel, padding=2, method="gemm", threads=1)
        convolve2d(image[:, :40], kernel, padding=2, method="gemm", threads=1)  # other sizes
    assert len(made) == 2
    np.testing.assert_allclose(second, convolve2d(image[::-1].copy(), kernel, padding=2), atol=1e-5)
    assert not np.array_equal(first, second)
