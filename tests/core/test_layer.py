"""``conv2d``, a whole layer: against a loop that says what PyTorch's conv2d computes, over
random channels, groups, bias, kernel sizes, strides, paddings, dilations and pad modes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcli import KernelError, ParameterError, ShapeError, convolve2d
from convcli.core import layer, methods
from convcli.core.layer import conv2d
from convcli.core.params import PAD_MODES
from tests.reference import reference_conv2d


def loop_reference(
    image: npt.NDArray[Any],
    weight: npt.NDArray[Any],
    bias: npt.NDArray[Any] | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
    mode: str,
) -> npt.NDArray[np.float64]:
    """One (C_in, H, W) image through the layer, as its definition says: output channel o is
    its bias plus, over the input channels of its group, each channel correlated with the
    filter's kernel for it (the single-channel loop of ``tests/reference.py``)."""
    per_group = weight.shape[1]
    outputs_per_group = weight.shape[0] // groups
    pads = ((padding[0], padding[0]), (padding[1], padding[1]))
    maps = []
    for o, filters in enumerate(weight):
        first = (o // outputs_per_group) * per_group
        total: npt.NDArray[np.float64] | float = 0.0 if bias is None else float(bias[o])
        for c, kernel in enumerate(filters):
            one = reference_conv2d(
                image[first + c].astype(np.float64), kernel,
                stride=stride, pads=pads, dilation=dilation, mode=mode,
            )  # fmt: skip
            assert one is not None  # the cases fit
            total = total + one
        maps.append(total)
    return np.stack(maps)


@contextmanager
def small_strips() -> Iterator[None]:
    """Strips of one row and threads for any work: every strip boundary is crossed."""
    with (
        mock.patch.object(layer, "_WINDOW_BYTES", 1),
        mock.patch.object(methods, "_THREADING_WORK", 0),
    ):
        yield


@st.composite
def layers(draw: st.DrawFn) -> dict[str, Any]:
    """A layer and an input it fits: channels, groups, kernel, geometry and pad mode."""
    groups = draw(st.integers(1, 3))
    per_group_in = draw(st.integers(1, 3))
    per_group_out = draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    mode = draw(st.sampled_from(PAD_MODES))
    height = draw(st.integers(dilation[0] * (kh - 1) + 1, 12))
    width = draw(st.integers(dilation[1] * (kw - 1) + 1, 12))
    # Reflect needs a padding under the size; the others up to it.
    most = (height - 1, width - 1) if mode == "reflect" else (height, width)
    padding = (draw(st.integers(0, min(3, most[0]))), draw(st.integers(0, min(3, most[1]))))
    batch = draw(st.sampled_from([None, 1, 2]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    channels = groups * per_group_in
    shape = (channels, height, width) if batch is None else (batch, channels, height, width)
    return {
        "input": rng.standard_normal(shape),
        "weight": rng.standard_normal((groups * per_group_out, per_group_in, kh, kw)),
        "bias": draw(st.sampled_from([None, rng.standard_normal(groups * per_group_out)])),
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "groups": groups,
        "mode": mode,
    }


def run_layer(
    case: dict[str, Any], image: npt.NDArray[Any] | None = None, threads: int | None = None
) -> npt.NDArray[Any]:
    return conv2d(
        case["input"] if image is None else image,
        case["weight"],
        case["bias"],
        stride=case["stride"],
        padding=case["padding"],
        dilation=case["dilation"],
        groups=case["groups"],
        padding_mode=case["mode"],
        threads=threads,
    )


def reference_of(case: dict[str, Any]) -> npt.NDArray[np.float64]:
    images = case["input"] if case["input"].ndim == 4 else case["input"][np.newaxis]
    results = [
        loop_reference(
            image,
            case["weight"],
            case["bias"],
            case["stride"],
            case["padding"],
            case["dilation"],
            case["groups"],
            case["mode"],
        )
        for image in images
    ]
    return np.stack(results) if case["input"].ndim == 4 else results[0]


@settings(max_examples=200, deadline=None)
@given(case=layers(), threads=st.sampled_from([1, 2]))
def test_the_layer_matches_the_loop(case: dict[str, Any], threads: int) -> None:
    expected = reference_of(case)
    with small_strips():
        result = run_layer(case, threads=threads)
    assert result.dtype == np.float64
    assert result.shape == expected.shape
    scale = np.abs(case["weight"]).sum() * max(1.0, np.abs(case["input"]).max()) + 1
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-12 * scale)


@settings(max_examples=60, deadline=None)
@given(case=layers())
def test_float32_in_is_float32_out_within_its_rounding(case: dict[str, Any]) -> None:
    single = run_layer(case, case["input"].astype(np.float32))
    assert single.dtype == np.float32
    expected = reference_of({**case, "input": case["input"].astype(np.float32)})
    scale = np.abs(case["weight"]).sum() * max(1.0, np.abs(case["input"]).max()) + 1
    np.testing.assert_allclose(single, expected, rtol=0, atol=1e-5 * scale)


@settings(max_examples=80, deadline=None)
@given(
    height=st.integers(3, 15),
    width=st.integers(3, 15),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.integers(1, 2),
    dilation=st.integers(1, 2),
    mode=st.sampled_from(PAD_MODES),
    seed=st.integers(0, 1000),
)
def test_one_channel_is_convolve2d(
    height: int,
    width: int,
    kernel: tuple[int, int],
    stride: int,
    dilation: int,
    mode: str,
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    image = rng.standard_normal((height, width))
    weights = rng.standard_normal(kernel)
    options: dict[str, Any] = {"stride": stride, "padding": 1, "dilation": dilation}
    as_layer = conv2d(
        image[np.newaxis], weights[np.newaxis, np.newaxis], padding_mode=mode, **options
    )
    as_filter = convolve2d(image, weights, pad_mode=mode, **options)
    np.testing.assert_allclose(as_layer[0], as_filter, rtol=0, atol=1e-12 * np.abs(weights).sum())


def test_depthwise_filters_each_channel_with_its_own_kernel() -> None:
    rng = np.random.default_rng(1)
    image = rng.standard_normal((4, 20, 17)).astype(np.float32)
    weight = rng.standard_normal((8, 1, 3, 3))  # a depth multiplier of 2
    result = conv2d(image, weight, padding="same", groups=4)
    for o in range(8):
        alone = convolve2d(image[o // 2], weight[o, 0], padding="same")
        np.testing.assert_allclose(result[o], alone, rtol=0, atol=1e-5)


def test_same_and_valid_padding() -> None:
    image = np.ones((2, 7, 9))
    weight = np.ones((3, 2, 4, 3))
    assert conv2d(image, weight, padding="same").shape == (3, 7, 9)
    assert conv2d(image, weight, padding="valid").shape == (3, 4, 7)
    with pytest.raises(ParameterError, match="padding 'same' needs stride 1"):
        conv2d(image, weight, padding="same", stride=2)


@pytest.mark.parametrize(
    ("shapes", "groups", "error", "message"),
    [
        (((3, 8, 8), (4, 2, 3, 3)), 1, ShapeError, r"takes 2 input channels, the input has 3"),
        (((4, 8, 8), (4, 2, 3, 3)), 3, ParameterError, r"groups=3 does not divide the input's 4"),
        (((4, 8, 8), (3, 2, 3, 3)), 2, ParameterError, r"does not divide the weight's 3 output"),
        (((4, 8), (4, 4, 3, 3)), 1, ParameterError, r"\(C_in, H, W\) or \(N, C_in, H, W\)"),
        (((4, 8, 8), (4, 3, 3)), 1, KernelError, r"\(C_out, C_in / groups, kh, kw\)"),
        (((1, 2, 2), (1, 1, 3, 3)), 1, ShapeError, r"kernel"),
    ],
)
def test_mismatches_name_the_shapes(
    shapes: tuple[tuple[int, ...], tuple[int, ...]], groups: int, error: type, message: str
) -> None:
    image_shape, weight_shape = shapes
    with pytest.raises(error, match=message):
        conv2d(np.ones(image_shape), np.ones(weight_shape), groups=groups)


def test_bad_groups_bias_and_weights_are_refused() -> None:
    image, weight = np.ones((2, 5, 5)), np.ones((4, 2, 3, 3))
    with pytest.raises(ParameterError, match="groups must be an integer of at least 1"):
        conv2d(image, weight, groups=0)
    with pytest.raises(ShapeError, match=r"bias of shape \(3,\) does not match .* 4 output"):
        conv2d(image, weight, bias=np.ones(3))
    with pytest.raises(KernelError, match="finite"):
        conv2d(image, weight, bias=[0, 0, 0, np.inf])
    bad = weight.copy()
    bad[1, 0, 2, 1] = np.nan
    with pytest.raises(KernelError, match=r"\[1, 0, 2, 1\]"):
        conv2d(image, bad)
    with pytest.raises(ParameterError, match="real numbers"):
        conv2d(np.full((2, 5, 5), "a"), weight)
    # All are ValueErrors, as PyTorch's are RuntimeErrors: one except clause catches them.
    with pytest.raises(ValueError):  # noqa: PT011
        conv2d(image, np.ones((4, 3, 3, 3)))


def test_blas_gets_its_threads_back() -> None:
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    before = blas_threads()
    image, weight = np.ones((3, 40, 40)), np.ones((8, 3, 3, 3))
    with small_strips():
        conv2d(image, weight, threads=2)
    assert blas_threads() == before


def test_integer_input_is_computed_in_float64() -> None:
    image = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
    result = conv2d(image, np.ones((1, 2, 2, 2), np.float32))
    assert result.dtype == np.float64
    assert result[0, 0, 0] == 0 + 1 + 4 + 5 + 16 + 17 + 20 + 21
