"""Rows computed when read: any run of rows, in any order, is the whole computation's."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcli.core import rows
from convcli.core.convolution import apply_kernel
from convcli.core.methods import Compute, Correlation
from convcli.core.params import PAD_MODES, ConvParams
from convcli.core.rows import CachedRows, ComputedRows, MappedRows
from convcli.core.shape import arithmetic
from convcli.errors import ShapeError
from tests.core.test_methods import tiny_strips
from tests.reference import smallest_side


@st.composite
def cases(draw: st.DrawFn) -> tuple[npt.NDArray[Any], npt.NDArray[Any], ConvParams, str]:
    """An image, a kernel, a geometry that fits them, and a method."""
    kh, kw = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    mode = draw(st.sampled_from(PAD_MODES))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 6)), draw(st.integers(0, 6)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    sides = [
        smallest_side(k, d, (p, p), mode)
        for k, d, p in zip((kh, kw), dilation, padding, strict=True)
    ]
    height, width = (draw(st.integers(side, side + 30)) for side in sides)
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    image = rng.standard_normal((height, width)).astype(dtype)
    if draw(st.booleans()):
        image = np.stack([image, -image], axis=-1)
    kernel = rng.standard_normal((kh, kw))
    method = draw(st.sampled_from(["direct", "gemm", "fft", "auto"]))
    pad_value = 1.5 if mode == "constant" else 0.0
    params = ConvParams(
        stride=stride, padding=padding, dilation=dilation, pad_mode=mode, pad_value=pad_value
    )
    return image, kernel, params, method


@settings(max_examples=150, deadline=None)
@given(case=cases(), block_bytes=st.integers(1, 4000), data=st.data())
def test_rows_read_in_any_order_are_the_whole_result_bit_for_bit(
    case: tuple[npt.NDArray[Any], npt.NDArray[Any], ConvParams, str],
    block_bytes: int,
    data: st.DataObject,
) -> None:
    image, kernel, params, method = case
    compute = Compute(method=method)  # type: ignore[arg-type]
    with tiny_strips():
        whole = apply_kernel(image, kernel, params, compute=compute)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(rows, "BLOCK_BYTES", block_bytes)
            computed = ComputedRows(image, kernel, params, compute=compute)
            assert computed.shape == whole.shape
            assert computed.dtype == whole.dtype
            for _ in range(4):
                start = data.draw(st.integers(0, len(whole) - 1))
                stop = data.draw(st.integers(start + 1, len(whole)))
                np.testing.assert_array_equal(computed.rows(start, stop), whole[start:stop])
            # A step over a step, where the result is large enough for a second one: the step
            # below is read a block at a time, the far rows of the padding too.
            try:
                expected = apply_kernel(whole, kernel, params, compute=compute)
            except ShapeError:
                return
            twice = ComputedRows(computed, kernel, params, compute=compute)
            np.testing.assert_array_equal(twice.rows(0, len(expected)), expected)


@pytest.mark.parametrize("method", ["direct", "separable", "gemm", "fft"])
def test_a_run_of_whole_strips_is_the_whole_runs_rows(method: str) -> None:
    image = np.random.default_rng(0).random((61, 37))
    kernel = np.outer([1.0, 2.0, 1.0, 0.5], [1.0, 0.0, -1.0])
    params = ConvParams(padding=(5, 2), pad_mode="reflect", stride=(2, 1))
    compute = Compute(method=method)  # type: ignore[arg-type]
    with tiny_strips():
        whole = apply_kernel(image, kernel, params, compute=compute)
        axes = arithmetic(image.shape, kernel.shape, params)
        correlation = Correlation(image, kernel, axes, params.border, compute=compute)
        unit = correlation.rows_per_strip
        for start in range(0, len(whole), unit):
            stop = min(len(whole), start + 2 * unit)  # whole strips: fft's tiles are the same
            out = np.empty((stop - start, whole.shape[1]))
            correlation.run(out, (start, stop))
            np.testing.assert_array_equal(out, whole[start:stop])


def test_blocks_are_kept_few_and_made_once() -> None:
    made: list[tuple[int, int]] = []

    class Counting(CachedRows):
        def _make(self, start: int, stop: int) -> npt.NDArray[Any]:
            made.append((start, stop))
            return np.arange(start, stop, dtype=np.float64)[:, None] * np.ones((1, 4))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rows, "BLOCK_BYTES", 3 * 4 * 8)  # 3 rows a block
        counting = Counting((20, 4), np.float64, unit=1)
        assert counting.rows(2, 7)[:, 0].tolist() == [2, 3, 4, 5, 6]
        counting.rows(0, 3)
        assert made == [(0, 3), (3, 6), (6, 9)]
        counting.rows(18, 20)  # the last, short block
        counting.rows(9, 18)  # five blocks in all: the first ones are let go
        counting.rows(0, 1)
        assert made[-1] == (0, 3)
        assert len(counting._blocks) == rows._BLOCKS_KEPT


def test_mapped_rows_apply_their_function_to_the_rows_of_their_sources() -> None:
    first, second = np.arange(12.0).reshape(4, 3), np.ones((4, 3))
    mapped = MappedRows(np.add, first, second)
    assert mapped.shape == (4, 3)
    np.testing.assert_array_equal(mapped.rows(1, 3), first[1:3] + 1)
