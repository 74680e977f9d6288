"""A whole convolution layer: ``torch.nn.functional.conv2d`` over many channels, with groups and
a bias, computed as one matrix product per strip of output rows.

:func:`convcli.convolve2d` filters one channel (or each channel of an image alike) with one
kernel. A layer has C_out filters, each of shape (C_in / groups, kh, kw): output channel o of
group g sums, over the C_in / groups input channels of that group, each channel correlated
with its own 2-D kernel, then adds bias[o]. ``convolve2d`` of one channel is ``conv2d`` with
C_in = C_out = 1.

How it is computed: the windows of a strip of output rows are copied side by side (im2col, a
strip at a time, never the whole image), and one product through NumPy's BLAS multiplies every
filter with every window; with groups, one product per group, in one batched call. The strips
are shared among threads, as :mod:`convcli.core.methods` shares a single kernel's.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view
from threadpoolctl import ThreadpoolController

from convcli.core.convolution import computed_in, real_array
from convcli.core.methods import (
    Compute,
    StripWorker,
    allocate_or_refuse,
    default_threads,
    in_strips,
    input_rows,
    padding_widths,
)
from convcli.core.padding import check_padding, fill_padded_rows
from convcli.core.params import ConvParams, IntOrPair, PaddingArg
from convcli.core.shape import Axes, arithmetic, check_fits
from convcli.errors import KernelError, ParameterError, ShapeError

FloatArray: TypeAlias = npt.NDArray[np.floating[Any]]

# Bytes of one strip's copied windows (C_in * kh * kw values for each output pixel), at most
# (measured best of 0.25 to 8 MiB, on ResNet's first layer and a depthwise one).
_WINDOW_BYTES = 4 * 1024 * 1024


def conv2d(
    input: npt.ArrayLike,  # PyTorch's name, though it shadows the built-in
    weight: npt.ArrayLike,
    bias: npt.ArrayLike | None = None,
    stride: IntOrPair = 1,
    padding: PaddingArg = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    *,
    threads: int | None = None,
) -> FloatArray:
    """A convolution layer, as ``torch.nn.functional.conv2d`` (with ``nn.Conv2d``'s
    `padding_mode`) computes it: cross-correlation of every filter with its input channels.

    Parameters
    ----------
    input : array_like, shape (C_in, H, W) or (N, C_in, H, W)
        Real numbers.
    weight : array_like, shape (C_out, C_in / groups, kh, kw)
        Filter o sees the input channels of its group, g = o // (C_out / groups).
    bias : array_like, shape (C_out,), or None
        Added to each output channel.
    stride, dilation : int or (int, int)
        >= 1, per axis (rows, columns).
    padding : int, (int, int), "same" or "valid"
        As :func:`convcli.convolve2d` ("same" at stride 1 only, the extra row or column of an
        odd total at the bottom or right).
    groups : int
        Input and output channels in this many groups, each convolved on its own; C_in and
        C_out must both divide by it. groups = C_in is a depthwise convolution.
    padding_mode : {"zeros", "reflect", "replicate", "circular", "symmetric", "constant"}
        PyTorch's four, NumPy's ``symmetric``, and ``constant`` (zero here).
    threads : int or None
        At most this many threads; None uses every core the process may run on.

    Returns
    -------
    ndarray, shape (C_out, oh, ow) or (N, C_out, oh, ow)
        float32 if `input` is float32, float64 otherwise; oh and ow as
        :func:`convcli.output_shape` gives them.

    Raises
    ------
    ParameterError
        If an option breaks its rule, the input is not 3-D or 4-D, or groups does not divide
        the channels.
    KernelError
        If the weight is not a 4-D array of finite numbers, or the bias not finite.
    ShapeError
        If the weight's channels do not match the input's, the bias not C_out, the dilated
        kernel does not fit the padded input, or the output cannot be allocated.

    Examples
    --------
    Two filters over an RGB image: one averages the colours, the other takes red minus blue.

    >>> image = np.arange(3 * 2 * 2, dtype=np.float32).reshape(3, 2, 2)  # R, G, B planes
    >>> weight = np.array([[[[1 / 3]], [[1 / 3]], [[1 / 3]]], [[[1.0]], [[0.0]], [[-1.0]]]])
    >>> conv2d(image, weight, bias=[0.0, 100.0]).round(3).tolist()
    [[[4.0, 5.0], [6.0, 7.0]], [[92.0, 92.0], [92.0, 92.0]]]
    """
    params = ConvParams.from_args(
        stride=stride, padding=padding, dilation=dilation, pad_mode=padding_mode
    )
    images = _as_layer_input(input)
    batched = images.ndim == 4
    if not batched:
        images = images[np.newaxis]
    dtype = computed_in(images.dtype)
    images = images.astype(dtype, copy=False)
    filters = _as_weight(weight, dtype)
    group_count = _check_groups(groups, images.shape[1], filters.shape)
    offsets = _as_bias(bias, filters.shape[0], dtype)
    axes = arithmetic(images.shape[2:], filters.shape[2:], params)
    check_fits(axes)
    check_padding(images.shape[2:], padding_widths(axes), params.pad_mode)
    rows, cols = axes
    shape = (images.shape[0], filters.shape[0], rows.output, cols.output)
    out: FloatArray = allocate_or_refuse(axes, lambda: np.empty(shape, dtype))
    compute = Compute(threads=threads)
    with _blas_on_one_thread(compute.threads):
        for image, result in zip(images, out, strict=True):
            worker = _LayerStrip(image, filters, offsets, group_count, axes, params)
            in_strips((0, rows.output), worker, compute.threads, worker.deliver_into(result))
    return out if batched else out[0]


def _blas_on_one_thread(threads: int | None) -> contextlib.AbstractContextManager[object]:
    """While the strips run on several threads, each of their products runs on one.

    OpenBLAS splits a product as large as a strip's among threads of its own, which then
    compete with the strips' threads: ResNet's first layer at 1024x1024 took 56 ms so, 46-49 ms
    with BLAS held to one thread (and 52 ms on one strip thread, BLAS on two). The limit is
    the process's while it holds, as BLAS's thread count always is.
    """
    if threads == 1 or default_threads() == 1:
        return contextlib.nullcontext()
    limited: contextlib.AbstractContextManager[object] = _blas_controller().limit(
        limits=1, user_api="blas"
    )
    return limited


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """The thread pools of the BLAS libraries loaded (NumPy's), found once."""
    return ThreadpoolController()


def _as_layer_input(value: npt.ArrayLike) -> npt.NDArray[Any]:
    array = real_array(value, "input", ParameterError)
    if array.ndim not in (3, 4):
        raise ParameterError(
            "conv2d takes an input of shape (C_in, H, W) or (N, C_in, H, W),"
            f" got shape {tuple(array.shape)}"
        )
    if array.size == 0:
        raise ParameterError(f"input of shape {tuple(array.shape)} is empty")
    return array


def _as_weight(value: npt.ArrayLike, dtype: type[np.floating[Any]]) -> FloatArray:
    array = real_array(value, "weight", KernelError)
    if array.ndim != 4:
        raise KernelError(
            "conv2d takes a weight of shape (C_out, C_in / groups, kh, kw),"
            f" got shape {tuple(array.shape)}"
        )
    if array.size == 0:
        raise KernelError(f"weight of shape {tuple(array.shape)} is empty")
    with np.errstate(over="ignore", invalid="ignore"):
        cast = array.astype(dtype)
    bad = np.argwhere(~np.isfinite(cast))
    if len(bad):
        index = tuple(int(i) for i in bad[0])
        raise KernelError(
            f"weight value {array[index]} at {list(index)} is not a finite {np.dtype(dtype).name}"
        )
    return cast


def _check_groups(groups: object, channels: int, weight_shape: tuple[int, ...]) -> int:
    """`groups` as an int, checked against the input's channels and the weight's shape."""
    if isinstance(groups, bool) or not isinstance(groups, int | np.integer) or groups < 1:
        raise ParameterError(f"groups must be an integer of at least 1, got {groups!r}")
    count = int(groups)
    out_channels, per_group = weight_shape[:2]
    if channels % count:
        raise ParameterError(f"groups={count} does not divide the input's {channels} channels")
    if out_channels % count:
        raise ParameterError(
            f"groups={count} does not divide the weight's {out_channels} output channels"
            f" (weight of shape {weight_shape})"
        )
    if per_group * count != channels:
        raise ShapeError(
            f"weight of shape {weight_shape} with groups={count} takes"
            f" {per_group * count} input channels, the input has {channels}"
        )
    return count


def _as_bias(
    value: npt.ArrayLike | None, out_channels: int, dtype: type[np.floating[Any]]
) -> FloatArray | None:
    if value is None:
        return None
    array = real_array(value, "bias", KernelError)
    if array.shape != (out_channels,):
        raise ShapeError(
            f"bias of shape {tuple(array.shape)} does not match the weight's"
            f" {out_channels} output channels: it must be ({out_channels},)"
        )
    if not np.isfinite(array).all():
        raise KernelError("bias values must be finite numbers")
    return array.astype(dtype)


class _LayerStrip(StripWorker):
    """Output rows of every output channel of one image, a strip at a time: the strip's
    windows copied as columns of a (groups, C_in / groups * kh * kw, rows * ow) matrix, then
    the filters of each group times the windows of its channels."""

    def __init__(
        self,
        planes: npt.NDArray[Any],
        filters: FloatArray,
        bias: FloatArray | None,
        groups: int,
        axes: Axes,
        params: ConvParams,
    ) -> None:
        rows, cols = axes
        out_channels, per_group, kh, kw = filters.shape
        self.groups = groups
        self.window_values = per_group * kh * kw
        # (groups, C_out / groups, C_in / groups * kh * kw): a filter's weights in the order
        # the windows are copied, channel by channel, row by row.
        self.filters = filters.reshape(groups, out_channels // groups, self.window_values)
        self.bias = None if bias is None else bias.reshape(groups, -1, 1)
        row_bytes = groups * self.window_values * cols.output * np.dtype(planes.dtype).itemsize
        per_strip = max(1, min(rows.output, _WINDOW_BYTES // row_bytes))
        # The image is (C_in, H, W): padded a channel at a time, so that each window's row
        # of taps, and the output's row of windows, lie along the padded rows.
        self.planes = planes
        super().__init__(planes, axes, params.border, rows_per_strip=per_strip)
        self.work = float(rows.output) * cols.output * filters.size

    def scratch_key(self) -> tuple[Any, ...]:
        return (*super().scratch_key(), len(self.planes), self.groups, self.window_values)

    def scratch(self) -> tuple[FloatArray, FloatArray]:
        rows, cols = self.axes
        _, count = input_rows(rows, 0, self.rows_per_strip)
        padded = np.empty((len(self.planes), count, cols.padded), self.planes.dtype)
        values = self.groups * self.window_values * self.rows_per_strip * cols.output
        return padded, np.empty(values, self.pixels.dtype)

    def fill_planes(self, start: int, stop: int, buffer: FloatArray) -> FloatArray:
        """(C_in, rows read, W padded): the padded input rows of output rows [start, stop)."""
        first, count = input_rows(self.axes[0], start, stop)
        widths = padding_widths(self.axes)
        for plane, padded in zip(self.planes, buffer, strict=True):
            fill_padded_rows(plane, widths, self.border, first, padded[:count])
        return buffer[:, :count]

    def deliver_into(self, result: FloatArray) -> Any:
        """What :func:`in_strips` calls for each strip: its rows computed into `result`, of
        shape (C_out, oh, ow)."""
        groups = self.groups

        def deliver(start: int, stop: int, scratch: Any) -> None:
            # Rows [start, stop) of every channel as (groups, C_out / groups, rows * ow): a
            # view of `result`, whose rows of one channel are consecutive.
            strip = result[:, start:stop].reshape(groups, -1, (stop - start) * result.shape[2])
            self(start, stop, scratch, strip)

        return deliver

    def __call__(self, start: int, stop: int, scratch: Any, out: FloatArray) -> None:
        rows, cols = self.axes
        n = stop - start
        padded = self.fill_planes(start, stop, scratch[0])
        # Every window of the strip as a view: (C_in, n, ow, kh, kw).
        windows = sliding_window_view(padded, (rows.span, cols.span), axis=(1, 2))
        kept = windows[:, :: rows.stride, :: cols.stride, :: rows.dilation, :: cols.dilation]
        kept = kept[:, :n, : cols.output]
        # Copied as (C_in, kh, kw, n, ow) into a contiguous buffer: one column per output
        # pixel, and the channels of each group consecutive rows.
        columns = scratch[1][: self.groups * self.window_values * n * cols.output]
        columns.reshape(len(kept), *kept.shape[3:], n, cols.output)[...] = kept.transpose(
            0, 3, 4, 1, 2
        )
        columns = columns.reshape(self.groups, self.window_values, n * cols.output)
        np.matmul(self.filters, columns, out=out)
        if self.bias is not None:
            out += self.bias
