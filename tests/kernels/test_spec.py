"""How -k reads its argument: built-in, then file, then inline matrix, then suggestions."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from convcli import KernelError, UnknownKernelError
from convcli.kernels.registry import KERNELS, OPERATORS
from convcli.kernels.spec import resolve_kernel


def test_builtin_names_and_operators() -> None:
    assert resolve_kernel("vertical") is KERNELS["vertical"]
    assert resolve_kernel(" sobel ") is OPERATORS["sobel"]


def test_a_builtin_wins_over_a_file_of_that_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("vertical").write_text("5 5\n5 5\n")
    Path("gaussian:2").write_text("7\n")
    assert resolve_kernel("vertical") is KERNELS["vertical"]
    assert resolve_kernel("gaussian:2").shape == (13, 13)
    from_file = resolve_kernel(f".{os.sep}vertical")
    assert from_file.weights.tolist() == [[5, 5], [5, 5]]  # type: ignore[union-attr]
    assert from_file.name == f".{os.sep}vertical"  # as typed: not mistaken for the built-in


def test_an_existing_path_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "k.csv"
    path.write_text("1,2\n3,4\n")
    assert resolve_kernel(str(path)).weights.tolist() == [[1, 2], [3, 4]]  # type: ignore[union-attr]


def test_a_long_inline_matrix_is_not_taken_for_a_path() -> None:
    # Over 255 characters a name is too long for a file name: checking for one must not fail.
    spec = "; ".join([" ".join(["0.125"] * 9)] * 9)
    assert len(spec) > 255
    assert resolve_kernel(spec).shape == (9, 9)


def test_otherwise_inline() -> None:
    kernel = resolve_kernel("1,2;3,4")
    assert kernel.weights.tolist() == [[1, 2], [3, 4]]  # type: ignore[union-attr]
    assert np.array_equal(
        resolve_kernel("1/9 1/9 1/9").weights,  # type: ignore[union-attr]
        np.full((1, 3), 1 / 9),
    )


@pytest.mark.parametrize(
    ("spec", "suggestions"),
    [
        ("vertcal", ("vertical",)),
        ("sobelx", ("sobel-x", "sobel", "sobel-y")),
        ("gausian:1.4", ("gaussian:", "gaussian-5", "gaussian-3")),
        ("zzz", ()),
    ],
)
def test_unknown_names_suggest_the_closest(spec: str, suggestions: tuple[str, ...]) -> None:
    with pytest.raises(UnknownKernelError) as caught:
        resolve_kernel(spec)
    assert caught.value.suggestions == suggestions
    assert str(caught.value).startswith(f"unknown kernel {spec!r}")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("edges.txt", "kernel file 'edges.txt' does not exist"),
        ("weights.NPY", "kernel file 'weights.NPY' does not exist"),
        (f"kernels{os.sep}edges", f"no kernel file 'kernels{os.sep}edges', and it is not a"
         " built-in name or a matrix"),
        ("edges.dat", "no kernel file 'edges.dat', and it is not a built-in name or a matrix"),
        ("sobel.x", "no kernel file 'sobel.x', and it is not a built-in name or a matrix; did you"
         " mean 'sobel-x', 'sobel' or 'sobel-y'?"),
        ("", "the kernel spec is empty"),
        ("1,2; 3", "inline kernel '1,2; 3': row 2 has 1 value, expected 2"),
    ],
)  # fmt: skip
def test_errors_say_which_reading_failed(spec: str, message: str) -> None:
    with pytest.raises(KernelError) as caught:
        resolve_kernel(spec)
    assert str(caught.value).startswith(message)
