"""Chains of kernels and operators, scale and bias, --normalize, and what --range auto picks."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from convcli import KernelError, ShapeError, convolve2d
from convcli.core.params import PAD_MODES, ConvParams
from convcli.kernels.kernel import Kernel, Step
from convcli.kernels.registry import KERNELS, OPERATORS
from convcli.kernels.spec import resolve_kernel
from convcli.pipeline.chain import apply_chain, is_signed, normalized, prepare_chain
from tests.reference import reference_conv2d

SAME = ConvParams(padding="same")


def steps(*specs: str) -> list[Step]:
    return [resolve_kernel(spec) for spec in specs]


def test_two_boxes_make_a_triangle_computed_by_hand() -> None:
    delta = np.zeros((7, 7))
    delta[3, 3] = 81
    result = apply_chain(delta, steps("box-3", "box-3"), SAME).values
    # box-3 twice is the outer product of [1, 2, 3, 2, 1] with itself, over 81.
    expected = np.zeros((7, 7))
    expected[1:6, 1:6] = np.outer([1, 2, 3, 2, 1], [1, 2, 3, 2, 1])
    np.testing.assert_allclose(result, expected, atol=1e-12)


def test_a_chain_applies_each_kernel_to_the_float_result_of_the_last() -> None:
    image = np.random.default_rng(1).random((20, 30)) * 255
    params = ConvParams(stride=(2, 1), padding=(1, 2), dilation=(1, 2), pad_mode="reflect")
    options: dict[str, Any] = {
        "stride": (2, 1),
        "padding": (1, 2),
        "dilation": (1, 2),
        "pad_mode": "reflect",
    }
    first = convolve2d(image, KERNELS["gaussian-3"].weights, **options)
    expected = convolve2d(first, KERNELS["laplacian"].weights, **options)
    result = apply_chain(image, steps("gaussian-3", "laplacian"), params)
    np.testing.assert_array_equal(result.values, expected)
    assert [(a.output, b.output) for a, b in result.steps] == [first.shape, expected.shape]


def test_float32_stays_float32_through_a_chain() -> None:
    image = np.ones((9, 9), dtype=np.float32)
    assert apply_chain(image, steps("gaussian-3", "sobel"), SAME).values.dtype == np.float32


@settings(max_examples=80, deadline=None)
@given(
    hnp.arrays(np.float64, st.tuples(st.integers(3, 9), st.integers(3, 9)),
               elements=st.floats(0, 255)),
    st.sampled_from(list(OPERATORS)),
    st.integers(1, 2),
    st.integers(0, 2),
    st.sampled_from(PAD_MODES),
)  # fmt: skip
def test_operators_are_the_gradient_magnitude(
    image: npt.NDArray[np.float64],
    name: str,
    stride: int,
    padding: int,
    mode: str,
) -> None:
    operator = OPERATORS[name]
    params = ConvParams.from_args(stride=stride, padding=padding, pad_mode=mode)
    options: dict[str, Any] = {
        "stride": (stride, stride),
        "pads": ((padding, padding), (padding, padding)),
        "dilation": (1, 1),
        "mode": mode,
    }
    gx = reference_conv2d(image, operator.x.weights, **options)
    gy = reference_conv2d(image, operator.y.weights, **options)
    if gx is None or gy is None:
        with pytest.raises(ShapeError):
            apply_chain(image, [operator], params)
        return
    result = apply_chain(image, [operator], params).values
    np.testing.assert_allclose(result, np.sqrt(gx**2 + gy**2), rtol=1e-12, atol=1e-9)
    assert (result >= 0).all()


def test_each_step_has_its_own_scale_and_bias() -> None:
    image = np.full((5, 5), 10.0)
    half = Kernel("half", np.ones((1, 1)), scale=0.5, bias=1)
    double = Kernel("double", np.ones((1, 1)), scale=2, bias=-3)
    # (10 * 0.5 + 1) = 6, then 6 * 2 - 3 = 9
    assert apply_chain(image, [half, double], ConvParams()).values.tolist() == [[9.0] * 5] * 5


def test_scale_and_bias_options_replace_the_last_steps_own_values_separately() -> None:
    own = Kernel("k.mat", np.ones((1, 1)), scale=0.25, bias=128)
    (scaled,) = prepare_chain([own], scale=2.0)
    assert (scaled.scale, scaled.bias) == (2.0, 128.0)
    (biased,) = prepare_chain([own], bias=0.0)
    assert (biased.scale, biased.bias) == (0.25, 0.0)
    first, last = prepare_chain([own, own], scale=3.0, bias=4.0)
    assert (first.scale, first.bias, last.scale, last.bias) == (0.25, 128.0, 3.0, 4.0)
    (operator,) = prepare_chain([OPERATORS["sobel"]], scale=0.5)
    assert operator.scale == 0.5


def test_normalize_divides_by_the_sum() -> None:
    (kernel,) = normalized([resolve_kernel("1 2 1")])
    assert isinstance(kernel, Kernel)
    assert kernel.weights.tolist() == [[0.25, 0.5, 0.25]]


def test_normalize_replaces_a_files_divisor_instead_of_dividing_twice() -> None:
    binomial = Kernel("g16.mat", np.outer([1, 2, 1], [1, 2, 1]), scale=1 / 16, bias=3)
    (kernel,) = normalized([binomial])
    assert isinstance(kernel, Kernel)
    assert (kernel.total, kernel.scale, kernel.bias) == (1.0, 1.0, 3.0)
    flat = np.full((5, 5), 200.0)
    assert apply_chain(flat, [binomial], ConvParams()).values.tolist() == [[203.0] * 3] * 3
    assert apply_chain(flat, [kernel], ConvParams()).values.tolist() == [[203.0] * 3] * 3


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("laplacian", "--normalize: kernel 'laplacian' sums to 0, so it cannot be divided by"),
        ("1 -1", "--normalize: kernel '1 -1' sums to 0"),
        ("sobel", "--normalize: sobel is an operator, not a kernel with a sum"),
    ],
)  # fmt: skip
def test_normalize_refuses_what_has_no_sum(spec: str, message: str) -> None:
    with pytest.raises(KernelError, match=f"^{re.escape(message)}"):
        normalized(steps("gaussian-3", spec))


@pytest.mark.parametrize(
    ("specs", "signed"),
    [
        (["vertical"], True),
        (["gaussian-3"], False),
        (["sharpen"], False),
        (["sobel"], False),  # a magnitude is never negative
        (["gaussian:1.4", "laplacian"], True),  # LoG: a zero-sum kernel after the last operator
        (["laplacian", "gaussian-3"], True),
        (["laplacian", "sobel"], False),  # the operator comes last: non-negative
        (["sobel", "laplacian"], True),
        (["sobel", "gaussian-3"], False),
    ],
)
def test_auto_range_looks_at_the_whole_chain(specs: list[str], signed: bool) -> None:
    assert is_signed(steps(*specs)) is signed


def test_a_bias_says_where_zero_lands_so_auto_clips() -> None:
    assert is_signed(prepare_chain(steps("vertical"), bias=128)) is False
    assert is_signed(prepare_chain(steps("vertical"), bias=0)) is True


def test_a_bias_anywhere_after_the_last_zero_sum_kernel_counts() -> None:
    offset = Kernel("off.mat", np.array([[-1.0, 0.0, 1.0]]), bias=20)
    identity = Kernel("1", np.ones((1, 1)))
    # The identity step does not change the picture, so it must not change the range.
    assert is_signed([offset]) is is_signed([offset, identity]) is False
    # A bias before a zero-sum kernel is removed by it, like any constant.
    assert is_signed([Kernel("b", np.ones((1, 1)), bias=50), KERNELS["laplacian"]]) is True
    # A bias carried through a blur stays a bias; through a zero-sum kernel it vanishes.
    laplacian_then_lift = [KERNELS["laplacian"], Kernel("lift", np.ones((1, 1)), bias=5)]
    assert is_signed(laplacian_then_lift) is False
    assert is_signed([*laplacian_then_lift, KERNELS["vertical"]]) is True


def test_a_step_that_does_not_fit_is_named() -> None:
    with pytest.raises(
        ShapeError, match=r"^step 2 \(box:5\): kernel 5x5 is larger than the padded"
    ):
        apply_chain(np.ones((6, 6)), steps("box-3", "box:5"), ConvParams())


def test_an_empty_chain_is_refused() -> None:
    with pytest.raises(KernelError, match="needs at least one kernel"):
        apply_chain(np.ones((3, 3)), [], ConvParams())
