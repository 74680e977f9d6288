"""convolve2d on Dask arrays: lazy, equal to the NumPy result, refused as NumPy refuses, on
every scheduler; and convcli without Dask."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import numpy.typing as npt
import pytest
from dask.base import compute
from dask.delayed import delayed
from distributed import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from convcli import ConvcliError, ParameterError, ShapeError, convolve2d
from convcli.core.convolution import computed_in
from convcli.core.lazy import output_chunks
from convcli.core.methods import METHODS, choose_method
from convcli.core.params import PAD_MODES, ConvParams
from convcli.core.shape import arithmetic
from tests.core.test_convolution import cases
from tests.reference import same_pads, smallest_side

small = st.integers(min_value=1, max_value=3)


# --- What is drawn: images, kernels, options and chunks that fit -----------------------------


@st.composite
def chunking(draw: st.DrawFn, size: int) -> tuple[int, ...]:
    """Chunks along an axis of `size` pixels: all of it, 1 to 3 pixels each, or uneven."""
    style = draw(st.sampled_from(("whole", "tiny", "uneven")))
    if style == "whole":
        return (size,)
    if style == "tiny":
        step = draw(small)
        return tuple(min(step, size - start) for start in range(0, size, step))
    cuts = draw(st.lists(st.integers(1, size - 1), unique=True, max_size=6)) if size > 1 else []
    edges = [0, *sorted(cuts), size]
    return tuple(stop - start for start, stop in itertools.pairwise(edges))


@st.composite
def lazy_cases(draw: st.DrawFn, max_side: int = 40) -> dict[str, Any]:
    """An image (2-D or 1 to 3 channels; float64, float32 or uint8), a kernel, options that
    fit it, a method that can compute them and chunks for the image."""
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    dilation = (draw(small), draw(small))
    padding: Any
    style = draw(st.sampled_from(("same", "int", "pair", "valid")))
    if style == "same":
        padding, stride = "same", (1, 1)
        pads = (same_pads(kh, dilation[0]), same_pads(kw, dilation[1]))
    else:
        stride = (draw(small), draw(small))
        ph, pw = draw(st.integers(0, 4)), draw(st.integers(0, 4))
        if style == "int":
            padding, ph, pw = ph, ph, ph
        elif style == "pair":
            padding = (ph, pw)
        else:
            padding, ph, pw = "valid", 0, 0
        pads = ((ph, ph), (pw, pw))
    mode = draw(st.sampled_from(PAD_MODES))
    sides = []
    for k, d, axis_pads in zip((kh, kw), dilation, pads, strict=True):
        least = smallest_side(k, d, axis_pads, mode)
        sides.append(draw(st.integers(least, max(least, max_side))))
    channels = draw(st.sampled_from(((), (1,), (2,), (3,))))
    shape = (*sides, *channels)
    dtype = draw(st.sampled_from((np.float64, np.float32, np.uint8)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if dtype == np.uint8:
        image: npt.NDArray[Any] = rng.integers(0, 256, shape, dtype=np.uint8)
    else:
        image = (rng.standard_normal(shape) * 50).astype(dtype)
    method = draw(st.sampled_from(METHODS))
    if method == "separable":  # rank 1 by construction, exactly
        kernel = np.outer(rng.integers(-3, 4, kh), rng.integers(-3, 4, kw)).astype(float)
    elif draw(st.booleans()):  # few distinct weights, as most named kernels have
        kernel = rng.integers(-2, 3, (kh, kw)).astype(float)
    else:
        kernel = rng.standard_normal((kh, kw))
    chunks: tuple[tuple[int, ...], ...] = (draw(chunking(sides[0])), draw(chunking(sides[1])))
    if channels:
        chunks += ((1,) * channels[0],) if draw(st.booleans()) else (channels,)
    return {
        "image": image,
        "chunks": chunks,
        "kernel": kernel,
        "options": {
            "stride": stride,
            "padding": padding,
            "dilation": dilation,
            "pad_mode": mode,
            "pad_value": draw(st.floats(-100, 100)) if mode == "constant" else 0.0,
            "flip": draw(st.booleans()),
            "method": method,
        },
    }


def method_used(case: dict[str, Any]) -> str:
    """The method the core computes `case` with: what ``auto`` picks for it, if asked."""
    options = case["options"]
    if options["method"] != "auto":
        return str(options["method"])
    geometry = {key: options[key] for key in ("stride", "padding", "dilation") if key in options}
    dtype = computed_in(case["image"].dtype)
    return choose_method(
        case["image"].shape, case["kernel"], ConvParams.from_args(**geometry), dtype=dtype
    )


def assert_equals_numpy(case: dict[str, Any], result: npt.NDArray[Any]) -> None:
    """`result` is the NumPy path's: exactly, or for FFT within its rounding."""
    expected = convolve2d(case["image"], case["kernel"], **case["options"])
    assert result.dtype == expected.dtype
    if method_used(case) in ("direct", "separable"):
        np.testing.assert_array_equal(result, expected)
        return
    # The FFT's tiles differ from the NumPy path's: the rounding differs, within its bound.
    relative = 1e-10 if expected.dtype == np.float64 else 2e-5
    scale = np.abs(case["kernel"]).sum() * max(1.0, float(np.abs(case["image"]).max()))
    np.testing.assert_allclose(result, expected, rtol=0, atol=relative * scale)


# --- Equal to the NumPy result ------------------------------------------------------------


@settings(max_examples=250, deadline=None)
@given(lazy_cases())
def test_equals_the_numpy_result_in_any_chunks(case: dict[str, Any]) -> None:
    image = da.from_array(case["image"], chunks=case["chunks"])
    lazy = convolve2d(image, case["kernel"], **case["options"])
    assert isinstance(lazy, da.Array)
    assert lazy.dtype == computed_in(case["image"].dtype)
    assert_equals_numpy(case, lazy.compute(scheduler="synchronous"))


def test_circular_padding_reads_the_far_side_of_the_image() -> None:
    # One pixel per chunk: a chunk padded on its own would wrap around itself.
    row = np.arange(1.0, 6.0)[None, :]
    lazy = convolve2d(
        da.from_array(row, chunks=1), [[1, 0, 0]], padding=(0, 1), pad_mode="circular"
    )
    assert lazy.compute().tolist() == [[5, 1, 2, 3, 4]]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("reflect", [[3, 2, 1, 2, 3, 4, 3, 2]]), ("symmetric", [[2, 1, 1, 2, 3, 4, 4, 3]])],
)
def test_reflect_is_pytorchs_not_dasks(mode: str, expected: list[list[float]]) -> None:
    # Dask's boundary "reflect" repeats the edge pixel: that is convcli's "symmetric".
    row = da.from_array(np.array([[1.0, 2.0, 3.0, 4.0]]), chunks=1)
    assert convolve2d(row, [[1]], padding=(0, 2), pad_mode=mode).compute().tolist() == expected


def test_symmetric_padding_wider_than_the_image() -> None:
    image = np.arange(6.0).reshape(2, 3)
    options: dict[str, Any] = {"padding": 7, "pad_mode": "symmetric"}
    lazy = convolve2d(da.from_array(image, chunks=(1, 2)), np.ones((3, 2)), **options)
    np.testing.assert_array_equal(lazy.compute(), convolve2d(image, np.ones((3, 2)), **options))


def test_two_calls_in_one_graph_keep_their_own_options() -> None:
    # Each result is named for everything that makes it, so one graph holds both.
    image = np.random.default_rng(3).random((9, 7))
    x = da.from_array(image, chunks=4)
    ones = np.ones((3, 3))
    first = convolve2d(x, ones, padding=1, pad_mode="constant", pad_value=1.0)
    second = convolve2d(x, ones, padding=1, pad_mode="constant", pad_value=2.0)
    assert first.name != second.name
    assert first.name == convolve2d(x, ones, padding=1, pad_mode="constant", pad_value=1.0).name
    one, two = compute(first, second)
    for result, value in ((one, 1.0), (two, 2.0)):
        expected = convolve2d(image, ones, padding=1, pad_mode="constant", pad_value=value)
        np.testing.assert_array_equal(result, expected)


# --- Lazy, in planned chunks --------------------------------------------------------------


def test_nothing_is_computed_until_asked() -> None:
    computed: list[tuple[int, ...]] = []
    lock = threading.Lock()

    def counted(block: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        with lock:
            computed.append(block.shape)
        return block

    # With its meta given, map_blocks calls `counted` on no block to learn its output.
    image = da.map_blocks(counted, da.ones((12, 10), chunks=3), meta=np.empty((0, 0)))
    lazy = convolve2d(image, np.ones((3, 3)), padding="same", pad_mode="reflect")
    assert isinstance(lazy, da.Array)
    assert computed == []
    assert lazy.compute().shape == (12, 10)
    assert computed  # every chunk, once or more


def test_output_chunks_with_stride_2() -> None:
    # Rows: 13 outputs from 25 + 2 padded rows; output row i reads padded rows 2i .. 2i + 2,
    # its middle image row is 2i; the chunks 0-7, 8-15, 16-24 hold rows of outputs 0-3,
    # 4-7, 8-12. Columns: 6 outputs from 12 + 2; middles 0, 2, ..., 10 in chunks of 5, 5, 2.
    image = da.zeros((25, 12), chunks=((8, 8, 9), (5, 5, 2)))
    lazy = convolve2d(image, np.ones((3, 3)), stride=2, padding=1)
    assert lazy.chunks == ((4, 4, 5), (3, 2, 1))
    axes = arithmetic((25, 12), (3, 3), ConvParams(stride=(2, 2), padding=(1, 1)))
    assert output_chunks(axes[0], (8, 8, 9)) == (4, 4, 5)
    assert output_chunks(axes[1], (5, 5, 2)) == (3, 2, 1)


def test_same_padding_at_stride_1_keeps_the_input_chunks() -> None:
    image = da.zeros((20, 17, 3), chunks=((7, 1, 12), (2, 15), (1, 2)))
    lazy = convolve2d(image, np.ones((4, 5)), padding="same", dilation=(2, 1))
    assert lazy.chunks == image.chunks


def test_a_stride_longer_than_the_chunks_leaves_no_empty_chunk() -> None:
    image = da.zeros((30, 30), chunks=2)
    lazy = convolve2d(image, np.ones((2, 2)), stride=7)
    assert lazy.chunks == ((1, 1, 1, 1, 1), (1, 1, 1, 1, 1))
    assert lazy.compute().shape == (5, 5)


@pytest.mark.parametrize(
    ("dtype", "computed"),
    [
        (np.float32, np.float32),
        (np.float64, np.float64),
        (np.uint16, np.float64),
        (bool, np.float64),
    ],
)
def test_dtype_as_convolve2d(dtype: Any, computed: Any) -> None:
    image = da.ones((6, 6), chunks=4, dtype=dtype)
    lazy = convolve2d(image, np.ones((2, 2), dtype=np.float32))
    assert lazy.dtype == computed
    assert lazy.compute().dtype == computed
    assert lazy.compute().tolist() == [[4] * 5] * 5


# --- Refused as NumPy refuses, before anything is computed ----------------------------------


def _never_computed(block: npt.NDArray[Any]) -> npt.NDArray[Any]:
    raise AssertionError("a refused call computed a chunk")


def uncomputable(image: npt.NDArray[Any], chunks: Any = 2) -> da.Array:
    """A Dask array with `image`'s shape and dtype that fails if a chunk is computed."""
    array: da.Array = da.map_blocks(
        _never_computed,
        da.from_array(image, chunks=chunks),
        meta=np.empty_like(image, shape=(0,) * image.ndim),
    )
    return array


def assert_refused_alike(image: npt.NDArray[Any], kernel: Any, options: dict[str, Any]) -> None:
    """The Dask path raises what the NumPy path raises, class and message, computing nothing."""
    with pytest.raises(ConvcliError) as refused:
        convolve2d(image, kernel, **options)
    message = f"^{re.escape(str(refused.value))}$"
    with pytest.raises(type(refused.value), match=message):
        convolve2d(uncomputable(image), kernel, **options)


@pytest.mark.parametrize(
    ("shape", "dtype", "kernel", "options"),
    [
        ((5, 5), float, np.ones((3, 3)), {"stride": 0}),
        ((5, 5), float, np.ones((3, 3)), {"padding": "same", "stride": 2}),
        ((5, 5), float, np.ones((3, 3)), {"pad_mode": "mirror"}),
        ((5, 5), float, np.ones((3, 3)), {"pad_value": 1.0}),
        ((5, 5), float, np.ones((3, 3)), {"method": "winograd"}),
        ((5, 5), float, np.ones((3, 3)), {"threads": 0}),
        ((5, 5), float, [[1, 2], [3]], {}),
        ((5, 5), float, [[1, float("nan")]], {}),
        ((5, 5), float, np.ones((2, 2, 2)), {}),
        ((3, 3), np.float32, [[1.0, 1e300]], {}),
        ((8, 8), float, np.ones((7, 7)), {"dilation": 2, "padding": 1}),
        ((10, 3), float, np.ones((3, 5)), {}),
        ((3, 5), float, np.ones((1, 1)), {"padding": 3, "pad_mode": "reflect"}),
        ((3, 5), float, np.ones((1, 1)), {"padding": (0, 6), "pad_mode": "circular"}),
        ((1, 2), float, [[1]], {"padding": 10**11}),
        ((6, 6), float, [[0, 1], [1, 0]], {"method": "separable"}),
        ((5,), float, np.ones((1, 1)), {}),
        ((2, 2, 2, 2), float, np.ones((1, 1)), {}),
        ((0, 4), float, np.ones((1, 1)), {}),
        ((3, 3), complex, np.ones((1, 1)), {}),
    ],
)
def test_refused_as_numpy_refuses_before_computing(
    shape: tuple[int, ...], dtype: Any, kernel: Any, options: dict[str, Any]
) -> None:
    assert_refused_alike(np.ones(shape, dtype=dtype), kernel, options)


@settings(max_examples=150, deadline=None)
@given(cases(max_side=12))
def test_drawn_cases_are_refused_or_computed_alike(case: dict[str, Any]) -> None:
    options = {
        "stride": case["stride"],
        "padding": case["padding"],
        "dilation": case["dilation"],
        "pad_mode": case["mode"],
        "pad_value": case["value"],
        "flip": case["flip"],
        "method": "direct",
    }
    try:
        expected = convolve2d(case["image"], case["kernel"], **options)
    except ShapeError:
        assert_refused_alike(case["image"], case["kernel"], options)
        return
    lazy = convolve2d(da.from_array(case["image"], chunks=2), case["kernel"], **options)
    np.testing.assert_array_equal(lazy.compute(scheduler="synchronous"), expected)


def test_chunks_of_unknown_size_are_refused() -> None:
    x = da.from_array(np.arange(20.0).reshape(10, 2), chunks=3)
    unknown = x[x[:, 0] > 3]  # how many rows is known only once computed
    with pytest.raises(ParameterError, match=r"^image has chunks of unknown size: call"):
        convolve2d(unknown, np.ones((1, 1)))


def test_a_masked_dask_array_is_refused() -> None:
    masked = da.ma.masked_array(da.ones((4, 4), chunks=2), mask=da.zeros((4, 4), chunks=2))
    with pytest.raises(ParameterError, match=r"^image is a masked array: fill it first"):
        convolve2d(masked, np.ones((1, 1)))


def test_another_dask_collection_is_refused() -> None:
    value = delayed(np.ones)((3, 3))
    with pytest.raises(ParameterError, match=r"^image is a dask\.delayed\.Delayed, not a Dask"):
        convolve2d(value, np.ones((1, 1)))


# --- Every scheduler ----------------------------------------------------------------------


def filtered_pair() -> tuple[da.Array, npt.NDArray[np.floating[Any]]]:
    """A lazy result in chunks smaller than its kernel's reach, and the NumPy result."""
    image = np.random.default_rng(11).random((23, 19, 2))
    options: dict[str, Any] = {"stride": (2, 1), "padding": (4, 3), "pad_mode": "symmetric"}
    kernel = np.arange(15.0).reshape(3, 5)
    lazy = convolve2d(da.from_array(image, chunks=(3, (2, 5, 12), 1)), kernel, **options)
    return lazy, convolve2d(image, kernel, **options)


@pytest.mark.parametrize("scheduler", ["threads", "processes"])
def test_on_a_local_scheduler(scheduler: str) -> None:
    lazy, expected = filtered_pair()
    with dask.config.set(scheduler=scheduler):
        np.testing.assert_array_equal(lazy.compute(), expected)


def test_on_a_distributed_cluster(dask_client: Client) -> None:
    lazy, expected = filtered_pair()
    np.testing.assert_array_equal(dask_client.compute(lazy).result(), expected)


# --- Without Dask -------------------------------------------------------------------------

WITHOUT_DASK = """
import sys
sys.modules["dask"] = None  # as if it were not installed: importing it fails
import numpy as np
from convcli import ParameterError, convolve2d
print(convolve2d(np.ones((3, 3)), np.ones((2, 2))).tolist())
DaskArray = type("Array", (), {"__module__": "dask.array.core"})
try:
    convolve2d(DaskArray(), np.ones((2, 2)))
except ParameterError as error:
    print(error)
from convcli.cli.main import cli
cli.main(sys.argv[1:], prog_name="convcli")
"""


def test_convcli_works_without_dask_and_says_how_to_install_it(tmp_path: Path) -> None:
    source, output = tmp_path / "in.npy", tmp_path / "out.npy"
    np.save(source, np.arange(12.0).reshape(3, 4))
    args = ["apply", "-k", "box:2", str(source), str(output)]
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_DASK, *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "[[4.0, 4.0], [4.0, 4.0]]",
        "a Dask array needs Dask installed: pip install 'convcli[dask]'",
    ]
    assert np.load(output).shape == (2, 3)
