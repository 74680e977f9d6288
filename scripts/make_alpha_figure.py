"""Draw ``docs/alpha-blur.png``: a transparent logo blurred by ``--alpha carry`` and by
``--alpha weighted``, as the README shows them.

An opaque red 10x10 square on a 30x30 transparent background (its hidden pixels black, as
most editors store them), blurred by ``gaussian:2`` with ``--padding same``, each picture
composited over a gray checkerboard (what a viewer draws behind transparency) and enlarged 8
times: the input, then ``carry`` (the black under the transparency bleeds in as a dark fringe,
and the alpha edge stays hard), then ``weighted`` (the square stays red and its edge softens).

Run ``python scripts/make_alpha_figure.py`` to draw it again; the output is deterministic.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from convcli.core.params import ConvParams
from convcli.kernels.spec import resolve_kernel
from convcli.pipeline.apply import ImageOptions, apply_to_image

SIDE, SCALE, CHECK, GAP = 30, 8, 16, 8


def logo() -> npt.NDArray[np.uint8]:
    """The logo as an (H, W, 4) RGBA array."""
    pixels = np.zeros((SIDE, SIDE, 4), dtype=np.uint8)
    pixels[10:20, 10:20] = (255, 0, 0, 255)
    return pixels


def blurred(pixels: npt.NDArray[np.uint8], rule: str) -> npt.NDArray[np.uint8]:
    """`pixels` blurred by ``gaussian:2`` under the alpha `rule`, as ``apply`` writes them."""
    source, destination = io.BytesIO(), io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(source, format="PNG")
    source.seek(0)
    options = ImageOptions(color=True, alpha=rule)  # type: ignore[arg-type]
    apply_to_image(source, destination, [resolve_kernel("gaussian:2")],
                   ConvParams(padding="same"), options)  # fmt: skip
    with Image.open(io.BytesIO(destination.getvalue())) as image:
        return np.asarray(image)


def over_checkerboard(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """`pixels` enlarged SCALE times and composited over a gray checkerboard."""
    big = pixels.repeat(SCALE, axis=0).repeat(SCALE, axis=1).astype(np.float64)
    rows, columns = np.mgrid[0 : big.shape[0], 0 : big.shape[1]]
    board = np.where((rows // CHECK + columns // CHECK) % 2 == 0, 230.0, 180.0)[..., np.newaxis]
    opacity = big[..., 3:] / 255
    composited: npt.NDArray[np.uint8] = np.rint(
        big[..., :3] * opacity + board * (1 - opacity)
    ).astype(np.uint8)
    return composited


def figure() -> npt.NDArray[np.uint8]:
    """The input, carry and weighted side by side, white between them."""
    panels = [
        over_checkerboard(p)
        for p in (logo(), blurred(logo(), "carry"), blurred(logo(), "weighted"))
    ]
    gap = np.full((SIDE * SCALE, GAP, 3), 255, dtype=np.uint8)
    return np.concatenate([panels[0], gap, panels[1], gap, panels[2]], axis=1)


if __name__ == "__main__":
    destination = Path(__file__).resolve().parent.parent / "docs" / "alpha-blur.png"
    Image.fromarray(figure()).save(destination, optimize=True)
    print(f"wrote {destination}")
