"""The built-in kernels: their coefficients as the references print them, and registry rules."""

from __future__ import annotations

import numpy as np
import pytest

from convcli import UnknownKernelError, convolve2d
from convcli.kernels.kernel import Kernel, is_zero_sum
from convcli.kernels.registry import KERNELS, get_kernel
from tests.conftest import SAMPLE_IMAGES, read_gray

# Written out in full, independently of how the registry builds them.
EXPECTED = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "vertical": [[1, 0, -1], [1, 0, -1], [1, 0, -1]],
    "horizontal": [[1, 1, 1], [0, 0, 0], [-1, -1, -1]],
    "sobel-x": [[1, 0, -1], [2, 0, -2], [1, 0, -1]],
    "sobel-y": [[1, 2, 1], [0, 0, 0], [-1, -2, -1]],
    "prewitt-x": [[1, 0, -1], [1, 0, -1], [1, 0, -1]],
    "prewitt-y": [[1, 1, 1], [0, 0, 0], [-1, -1, -1]],
    "scharr-x": [[3, 0, -3], [10, 0, -10], [3, 0, -3]],
    "scharr-y": [[3, 10, 3], [0, 0, 0], [-3, -10, -3]],
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "laplacian-8": [[1, 1, 1], [1, -8, 1], [1, 1, 1]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "box-3": (np.ones((3, 3)) / 9).tolist(),
    "box-5": (np.ones((5, 5)) / 25).tolist(),
    "gaussian-3": (np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16).tolist(),
    "gaussian-5": (
        np.array(
            [
                [1, 4, 6, 4, 1],
                [4, 16, 24, 16, 4],
                [6, 24, 36, 24, 6],
                [4, 16, 24, 16, 4],
                [1, 4, 6, 4, 1],
            ]
        )
        / 256
    ).tolist(),
    "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
    "outline": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
}


def test_the_registry_holds_exactly_the_documented_kernels() -> None:
    assert list(KERNELS) == list(EXPECTED)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_coefficients(name: str) -> None:
    assert KERNELS[name].weights.tolist() == EXPECTED[name]


@pytest.mark.parametrize("kernel", list(KERNELS.values()), ids=list(KERNELS))
def test_every_kernel_is_well_formed(kernel: Kernel) -> None:
    weights = kernel.weights
    assert weights.ndim == 2
    assert weights.shape == kernel.shape
    assert np.isfinite(weights).all()
    assert kernel.divisor >= 1
    # The grid as written is integers: the divisor carries every fraction.
    assert np.array_equal(kernel.grid, np.round(kernel.grid))
    assert not kernel.weights.flags.writeable
    assert kernel.summary.endswith(".")
    assert "\n" not in kernel.summary
    assert kernel.name == kernel.name.lower()
    assert kernel.total == pytest.approx(weights.sum(), abs=1e-12)


@pytest.mark.parametrize("kernel", list(KERNELS.values()), ids=list(KERNELS))
def test_every_kernel_runs_on_every_pad_mode(kernel: Kernel) -> None:
    image = np.random.default_rng(0).random((9, 11))
    for mode in ("zeros", "reflect", "replicate", "circular"):
        result = convolve2d(image, kernel.weights, padding="same", pad_mode=mode)
        assert result.shape == image.shape


@pytest.mark.parametrize("kernel", list(KERNELS.values()), ids=list(KERNELS))
def test_sums_are_zero_for_detectors_and_one_for_the_rest(kernel: Kernel) -> None:
    # Edge detectors ignore flat regions; blurs, sharpen, emboss and identity keep brightness.
    flat = np.full((7, 7), 100.0)
    response = convolve2d(flat, kernel.weights)
    if is_zero_sum(kernel.weights):
        assert kernel.total == 0
        np.testing.assert_allclose(response, 0, atol=1e-9)
    else:
        assert kernel.total == pytest.approx(1)
        np.testing.assert_allclose(response, 100, atol=1e-9)


@pytest.mark.parametrize(
    ("name", "brighter_side"), [("vertical", "left"), ("sobel-x", "left"), ("prewitt-x", "left"),
                                ("scharr-x", "left"), ("horizontal", "top"), ("sobel-y", "top"),
                                ("prewitt-y", "top"), ("scharr-y", "top")],
)  # fmt: skip
def test_derivatives_are_positive_where_the_named_side_is_brighter(
    name: str, brighter_side: str
) -> None:
    step = np.zeros((6, 6))
    if brighter_side == "left":
        step[:, :3] = 1
    else:
        step[:3, :] = 1
    response = convolve2d(step, get_kernel(name).weights)
    assert response.max() > 0
    assert response.min() == 0
    # --flip reverses the sign.
    assert convolve2d(step, get_kernel(name).weights, flip=True).max() == 0


def test_separable_kernels_are_outer_products_of_their_factors() -> None:
    assert np.array_equal(get_kernel("sobel-x").weights, np.outer([1, 2, 1], [1, 0, -1]))
    assert np.linalg.matrix_rank(get_kernel("gaussian-5").weights) == 1


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(UnknownKernelError) as caught:
        get_kernel("vertcal")
    assert caught.value.suggestions == ("vertical",)
    assert str(caught.value) == (
        "unknown kernel 'vertcal'; did you mean 'vertical'? (list them with 'convcli kernels')"
    )


def test_unknown_name_without_a_close_one() -> None:
    with pytest.raises(UnknownKernelError, match=r"^unknown kernel 'zzz' \(list them"):
        get_kernel("zzz")


def test_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        KERNELS["mine"] = KERNELS["identity"]  # type: ignore[index]


def test_on_the_sample_pattern_ramp() -> None:
    # sample_images/pattern.png rises by one gray level per column along rows 100..115.
    ramp = read_gray(SAMPLE_IMAGES / "pattern.png")
    inside = ramp[101:115]
    assert np.unique(convolve2d(inside, get_kernel("vertical").weights)).tolist() == [-6.0]
    assert np.unique(convolve2d(inside, get_kernel("sobel-x").weights)).tolist() == [-8.0]
    assert not convolve2d(inside, get_kernel("laplacian").weights).any()
    assert not convolve2d(inside, get_kernel("horizontal").weights).any()
