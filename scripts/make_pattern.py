"""Draw ``sample_images/pattern.png``, the synthetic test pattern, from nothing but arithmetic.

A 120x160 (HxW) 8-bit gray picture on a background of 40: a bright vertical bar, a mid-gray
horizontal bar, a disc, and a left-to-right ramp along the bottom that rises by exactly 1 per
column (48 to 207). Each shape answers a different kernel: the vertical bar lights up under
``vertical``, the horizontal bar under ``horizontal``, the disc under both and under
``laplacian``; inside the ramp, ``vertical`` gives a constant (-6) and ``laplacian`` zero.

Run ``python scripts/make_pattern.py`` to write it again; the output is deterministic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

HEIGHT, WIDTH = 120, 160


def pattern() -> npt.NDArray[np.uint8]:
    """The pattern as an (H, W) uint8 array."""
    image = np.full((HEIGHT, WIDTH), 40, dtype=np.uint8)
    image[10:90, 20:36] = 220  # vertical bar: rows 10..89, columns 20..35
    image[20:32, 60:150] = 150  # horizontal bar: rows 20..31, columns 60..149
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    image[(rows - 65) ** 2 + (cols - 105) ** 2 <= 22**2] = 190  # disc, centre (65, 105), radius 22
    image[100:116, :] = 48 + np.arange(WIDTH)  # ramp: one gray level per column
    return image


if __name__ == "__main__":
    destination = Path(__file__).resolve().parent.parent / "sample_images" / "pattern.png"
    Image.fromarray(pattern()).save(destination, optimize=True)
    print(f"wrote {destination}")
