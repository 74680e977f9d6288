"""An obviously-correct convolution to test the core against: one output pixel at a time.

It shares no code with convcli: padding is an index rule per mode rather than ``numpy.pad``,
and the sum runs over explicit loops. Slow, so for small arrays only.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

NUMPY_MODES = {
    "zeros": "constant",
    "reflect": "reflect",
    "replicate": "edge",
    "circular": "wrap",
    "symmetric": "symmetric",
    "constant": "constant",
}
"""convcli's pad modes under ``numpy.pad``'s names, to pad an oracle with."""


def source_index(k: int, n: int, mode: str) -> int | None:
    """Which input index (0..n-1) padded position `k` shows; None for a constant's (or a
    zero's) padding."""
    if 0 <= k < n:
        return k
    if mode in ("zeros", "constant"):
        return None
    if mode == "symmetric":  # mirror about the edge, which is repeated, as often as it takes
        k %= 2 * n
        return k if k < n else 2 * n - 1 - k
    if mode == "replicate":
        return 0 if k < 0 else n - 1
    if mode == "circular":
        return k % n
    if mode == "reflect":  # mirror about the edge pixel, which is not repeated
        return -k if k < 0 else 2 * (n - 1) - k
    raise AssertionError(mode)


def pad_fits(n: int, before: int, after: int, mode: str) -> bool:
    """PyTorch's limits: reflect padding < n, circular padding <= n."""
    if mode == "reflect":
        return max(before, after) < n
    if mode == "circular":
        return max(before, after) <= n
    return True


def smallest_side(k: int, d: int, pads: tuple[int, int], mode: str) -> int:
    """The fewest pixels an axis needs for PyTorch to compute: the dilated kernel, d(k-1) + 1
    taps, within the axis padded by `pads`, and the padding within what `mode` allows (as
    :func:`pad_fits`)."""
    before, after = pads
    least = max(1, d * (k - 1) + 1 - before - after)
    if mode == "reflect":
        return max(least, before + 1, after + 1)
    if mode == "circular":
        return max(least, before, after)
    return least


def same_pads(k: int, d: int) -> tuple[int, int]:
    """PyTorch's "same": total d(k-1), the odd one after."""
    total = d * (k - 1)
    return total // 2, total - total // 2


def reference_conv2d(
    image: Floats,
    kernel: Floats,
    *,
    stride: tuple[int, int],
    pads: tuple[tuple[int, int], tuple[int, int]],
    dilation: tuple[int, int],
    mode: str,
    value: float = 0.0,
    flip: bool = False,
) -> Floats | None:
    """PyTorch conv2d on one 2-D channel, `value` in ``constant`` padding; None where PyTorch
    raises (kernel or padding too big)."""
    if flip:
        kernel = kernel[::-1, ::-1]
    height, width = image.shape
    kh, kw = kernel.shape
    (top, bottom), (left, right) = pads
    if not (pad_fits(height, top, bottom, mode) and pad_fits(width, left, right, mode)):
        return None
    out_h = (height + top + bottom - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    out_w = (width + left + right - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    if out_h < 1 or out_w < 1:
        return None
    out = np.zeros((out_h, out_w))
    for r in range(out_h):
        for c in range(out_w):
            total = 0.0
            for a in range(kh):
                for b in range(kw):
                    i = source_index(r * stride[0] + a * dilation[0] - top, height, mode)
                    j = source_index(c * stride[1] + b * dilation[1] - left, width, mode)
                    total += kernel[a, b] * (value if i is None or j is None else image[i, j])
            out[r, c] = total
    return out
