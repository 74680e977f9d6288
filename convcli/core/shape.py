"""Output-shape arithmetic of a 2-D convolution, one axis at a time.

Per axis, with input size i, kernel size k, stride s, padding p on each side and dilation d:

    o = floor((i + 2p - d(k - 1) - 1) / s) + 1

the formula of the ``torch.nn.Conv2d`` documentation and of V. Dumoulin and F. Visin, "A guide
to convolution arithmetic for deep learning", arXiv:1603.07285 (relationship 15 there, with
dilation). With unequal padding before and after (``"same"`` with an even span), 2p becomes
p_before + p_after. The dilated kernel spans d(k - 1) + 1 pixels; it fits when that span is at
most the padded size, which is exactly when o >= 1.

>>> h, w = arithmetic((300, 451), (3, 3), ConvParams(stride=(2, 2), padding=(1, 1)))
>>> h.formula()
'o_h = floor((300 + 2*1 - 1*(3 - 1) - 1) / 2) + 1 = 150'
>>> (h.output, w.output)
(150, 226)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from convcli.core.params import (
    ConvParams,
    IntOrPair,
    PaddingArg,
    Pair,
    format_pair,
    format_size,
    to_pair,
)
from convcli.errors import ShapeError


@dataclass(frozen=True)
class AxisArithmetic:
    """The shape arithmetic of one axis (``"h"`` for rows, ``"w"`` for columns)."""

    axis: Literal["h", "w"]
    size: int
    """i: the input's pixels along the axis."""
    kernel: int
    """k: the kernel's taps along it."""
    stride: int
    """s: the step between windows."""
    pad_before: int
    """Pixels added before the first (top or left)."""
    pad_after: int
    """Pixels added after the last (bottom or right); p when both are equal."""
    dilation: int
    """d: the spacing between taps."""

    @property
    def span(self) -> int:
        """Pixels covered by the dilated kernel: d(k - 1) + 1."""
        return self.dilation * (self.kernel - 1) + 1

    @property
    def padded(self) -> int:
        """Input size plus the padding on both sides."""
        return self.size + self.pad_before + self.pad_after

    @property
    def output(self) -> int:
        """floor((padded - d(k - 1) - 1) / s) + 1; below 1 when the kernel does not fit."""
        return (self.padded - self.dilation * (self.kernel - 1) - 1) // self.stride + 1

    @property
    def fits(self) -> bool:
        """Whether the dilated kernel fits in the padded input at least once."""
        return self.span <= self.padded

    @property
    def unvisited(self) -> int:
        """Padded rows (or columns) at the far end that no window reaches, because of the floor.

        >>> AxisArithmetic("w", 6, 3, 2, 0, 0, 1).unvisited
        1
        """
        if not self.fits:
            return 0
        return (self.padded - self.span) % self.stride

    @property
    def unread(self) -> int:
        """Image rows (or columns) that no tap of any window reads, so that nothing of them
        reaches the output: those past the last window, and the gaps that a stride longer
        than the kernel, or dilation, leaves between taps.

        >>> AxisArithmetic("h", 8, 3, 2, 0, 0, 2).unread  # taps 0 2 4, then 2 4 6
        4
        """
        if not self.fits:
            return self.size
        read = bytearray(self.padded)
        for tap in range(self.kernel):
            first = tap * self.dilation
            read[first : first + self.stride * self.output : self.stride] = b"\x01" * self.output
        return self.size - read[self.pad_before : self.pad_before + self.size].count(1)

    def formula(self) -> str:
        """The formula with this axis's numbers substituted, and its result.

        >>> AxisArithmetic("h", 5, 4, 1, 1, 2, 1).formula()
        'o_h = floor((5 + 1 + 2 - 1*(4 - 1) - 1) / 1) + 1 = 5'
        """
        if self.pad_before == self.pad_after:
            padding = f"2*{self.pad_before}"
        else:
            padding = f"{self.pad_before} + {self.pad_after}"
        return (
            f"o_{self.axis} = floor(({self.size} + {padding} - {self.dilation}*({self.kernel} - 1)"
            f" - 1) / {self.stride}) + 1 = {self.output}"
        )


Axes = tuple[AxisArithmetic, AxisArithmetic]
"""The arithmetic of both axes, height first."""


def same_padding(kernel: int, dilation: int) -> tuple[int, int]:
    """Padding (before, after) that keeps the size at stride 1: the extra one goes after.

    >>> same_padding(3, 1), same_padding(4, 1), same_padding(3, 2)
    ((1, 1), (1, 2), (2, 2))
    """
    total = dilation * (kernel - 1)
    return (total // 2, total - total // 2)


def arithmetic(
    input_hw: IntOrPair, kernel_hw: IntOrPair, params: ConvParams
) -> tuple[AxisArithmetic, AxisArithmetic]:
    """The arithmetic of both axes; does not check that the kernel fits (see :func:`check_fits`).

    Parameters
    ----------
    input_hw, kernel_hw : int or (int, int)
        Sizes as (height, width), each >= 1; one int is a square.
    params : ConvParams
        Stride, padding and dilation (the pad mode and flip do not change the shape).

    Raises
    ------
    ParameterError
        If a size is not a positive integer or a pair of them.
    """
    size = to_pair(input_hw, "input size", minimum=1)
    kernel = to_pair(kernel_hw, "kernel size", minimum=1)

    def axis_arithmetic(axis: Literal["h", "w"], index: int) -> AxisArithmetic:
        if params.padding == "same":
            before, after = same_padding(kernel[index], params.dilation[index])
        else:
            before = after = params.padding[index]
        return AxisArithmetic(
            axis=axis,
            size=size[index],
            kernel=kernel[index],
            stride=params.stride[index],
            pad_before=before,
            pad_after=after,
            dilation=params.dilation[index],
        )

    return (axis_arithmetic("h", 0), axis_arithmetic("w", 1))


def check_fits(axes: tuple[AxisArithmetic, AxisArithmetic]) -> None:
    """Raise :class:`ShapeError` unless the dilated kernel fits the padded input on both axes.

    >>> check_fits(arithmetic((10, 10), (7, 7), ConvParams(dilation=(2, 2))))
    Traceback (most recent call last):
    ...
    convcli.errors.ShapeError: kernel 7x7 with dilation 2 spans 13x13, larger than the padded
    input 10x10
    """
    height, width = axes
    if height.fits and width.fits:
        return
    kernel = format_size((height.kernel, width.kernel))
    dilation = (height.dilation, width.dilation)
    padded = format_size((height.padded, width.padded))
    if dilation == (1, 1):
        subject = f"kernel {kernel} is"
    else:
        span = format_size((height.span, width.span))
        subject = f"kernel {kernel} with dilation {format_pair(dilation)} spans {span},"
    details = tuple(
        axis.formula() + ("" if axis.fits else f"  (span {axis.span} > padded {axis.padded})")
        for axis in axes
    )
    raise ShapeError(f"{subject} larger than the padded input {padded}", details)


def chain_arithmetic(
    input_hw: Pair, kernel_shapes: Sequence[Pair], params: ConvParams
) -> list[Axes]:
    """The shape arithmetic of each step, its output the next step's input.

    Stops after the first step whose kernel does not fit: later steps have no input size.
    """
    size = input_hw
    result: list[Axes] = []
    for shape in kernel_shapes:
        axes = arithmetic(size, shape, params)
        result.append(axes)
        if not (axes[0].fits and axes[1].fits):
            break
        size = (axes[0].output, axes[1].output)
    return result


def check_chain_fits(steps: Sequence[Axes], names: Sequence[str]) -> None:
    """Raise :class:`ShapeError` for the first step that does not fit, naming it in a chain."""
    for number, (axes, name) in enumerate(zip(steps, names, strict=False), start=1):
        try:
            check_fits(axes)
        except ShapeError as error:
            if len(names) == 1:
                raise
            raise ShapeError(f"step {number} ({name}): {error}", error.details) from None


def output_shape(
    input_hw: IntOrPair,
    kernel_hw: IntOrPair,
    *,
    stride: IntOrPair = 1,
    padding: PaddingArg = 0,
    dilation: IntOrPair = 1,
) -> Pair:
    """Output size (o_h, o_w) of a convolution, by the formula of ``torch.nn.Conv2d``.

    Parameters
    ----------
    input_hw, kernel_hw : int or (int, int)
        Input and kernel sizes as (height, width); one int is a square.
    stride, dilation : int or (int, int)
        >= 1.
    padding : int, (int, int), "same" or "valid"
        As in :func:`convcli.convolve2d`.

    Returns
    -------
    (int, int)
        The output's (height, width); :func:`convcli.convolve2d` returns exactly this shape.

    Raises
    ------
    ParameterError
        If an argument breaks its rule (``ValueError``).
    ShapeError
        If the dilated kernel is larger than the padded input (``ValueError``).

    Examples
    --------
    A 3x3 kernel with stride 2 and padding 1 halves a 300x451 image, rounding down:

    >>> output_shape((300, 451), (3, 3), stride=2, padding=1)
    (150, 226)
    >>> output_shape((5, 5), (3, 3), dilation=2)
    (1, 1)
    >>> output_shape((5, 7), (4, 2), padding="same")
    (5, 7)
    """
    params = ConvParams.from_args(stride=stride, padding=padding, dilation=dilation)
    axes = arithmetic(input_hw, kernel_hw, params)
    check_fits(axes)
    return (axes[0].output, axes[1].output)
