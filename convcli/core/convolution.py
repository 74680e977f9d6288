"""The convolution core: pure NumPy, PyTorch's ``conv2d`` semantics on one channel.

Nothing here knows about files, Pillow, Click or Rich: arrays and plain values in, arrays out.
"""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeAlias, overload

import numpy as np
import numpy.typing as npt

from convcli.core.methods import METHODS, Compute, Sink, output_array, padding_widths, run
from convcli.core.padding import RowSource, check_padding
from convcli.core.params import ConvParams, IntOrPair, PaddingArg, Pair, to_choice
from convcli.core.shape import Axes, arithmetic, check_fits
from convcli.errors import KernelError, ParameterError

if TYPE_CHECKING:
    import dask.array as da

FloatArray = npt.NDArray[np.floating[Any]]


@overload
def convolve2d(
    image: da.Array,
    kernel: npt.ArrayLike,
    *,
    stride: IntOrPair = ...,
    padding: PaddingArg = ...,
    dilation: IntOrPair = ...,
    pad_mode: str = ...,
    pad_value: float = ...,
    flip: bool = ...,
    method: str = ...,
    threads: int | None = ...,
) -> da.Array: ...
@overload
def convolve2d(
    image: npt.ArrayLike,
    kernel: npt.ArrayLike,
    *,
    stride: IntOrPair = ...,
    padding: PaddingArg = ...,
    dilation: IntOrPair = ...,
    pad_mode: str = ...,
    pad_value: float = ...,
    flip: bool = ...,
    method: str = ...,
    threads: int | None = ...,
) -> FloatArray: ...
def convolve2d(
    image: npt.ArrayLike | da.Array,
    kernel: npt.ArrayLike,
    *,
    stride: IntOrPair = 1,
    padding: PaddingArg = 0,
    dilation: IntOrPair = 1,
    pad_mode: str = "zeros",
    pad_value: float = 0.0,
    flip: bool = False,
    method: str = "auto",
    threads: int | None = None,
) -> FloatArray | da.Array:
    """Slide `kernel` over `image` as ``torch.nn.functional.conv2d`` does on one channel.

    By default the kernel is **not** flipped: each output pixel is the sum of the window times
    the kernel as written (cross-correlation, the deep-learning convention). With
    ``flip=True`` the kernel is rotated by 180 degrees first: true convolution, as
    ``scipy.ndimage.convolve`` computes it.

    Parameters
    ----------
    image : array_like or dask.array.Array, shape (H, W) or (H, W, C)
        A 2-D image, or one whose C channels are filtered independently with the same kernel.
        A Dask array, in any chunks, gives a lazy Dask array (see Notes).
    kernel : array_like, shape (kh, kw)
        Any size, square or not, odd or even; finite numbers.
    stride : int or (int, int)
        Step between windows, >= 1.
    padding : int, (int, int), "same" or "valid"
        Pixels added on each side of each axis (>= 0); "valid" is 0; "same" keeps the size
        (stride 1 only; an odd total puts the extra row or column at the bottom or right).
    dilation : int or (int, int)
        Spacing between kernel taps, >= 1.
    pad_mode : {"zeros", "reflect", "replicate", "circular", "symmetric", "constant"}
        What the padding holds (see :mod:`convcli.core.padding`).
    pad_value : float
        What ``constant`` padding holds (PyTorch's ``F.pad(value=...)``, NumPy's and SciPy's
        ``cval``); 0 for every other mode.
    flip : bool
        Rotate the kernel by 180 degrees (true convolution).
    method : {"auto", "direct", "separable", "gemm", "fft"}
        How to compute it (see :mod:`convcli.core.methods`); "auto" picks the fastest. All give
        the same result within floating-point rounding; "separable" needs a kernel of rank 1.
    threads : int or None
        At most this many threads; None uses every core the process may run on. Not used for
        a Dask array, whose blocks Dask computes in parallel, each on one thread.

    Returns
    -------
    ndarray or dask.array.Array, shape (o_h, o_w) or (o_h, o_w, C)
        float32 if `image` is float32 (whatever the kernel's dtype), float64 otherwise. The
        shape is :func:`convcli.output_shape`'s. A Dask array for a Dask `image`.

    Raises
    ------
    ParameterError
        If an option breaks its rule, or the image is not a non-empty 2-D or 3-D numeric array.
    KernelError
        If the kernel is empty, ragged, not 2-D, not numeric or not finite.
    ShapeError
        If the dilated kernel is larger than the padded image, or the padding is too wide for
        ``reflect`` or ``circular``, or too large to allocate. All three are ``ValueError``.

    Notes
    -----
    Output pixel (r, c), for a kernel w of size kh x kw, stride s, dilation d and the padded
    image x::

        y[r, c] = sum over a < kh, b < kw of  w[a, b] * x[r*s_h + a*d_h, c*s_w + b*d_w]

    A Dask array (the ``dask`` extra: ``pip install 'convcli[dask]'``) is checked at once,
    with the errors above, and filtered lazily, block by block, on any Dask scheduler (see
    :mod:`convcli.core.lazy`). The pad modes are those of the whole image, wherever its
    chunks end. With the ``direct`` and ``separable`` methods (and ``auto`` when it picks
    one of them) the result equals the NumPy array's exactly; with ``fft`` it agrees within
    floating-point rounding, the image being cut into other tiles.

    Examples
    --------
    An asymmetric kernel tells correlation from convolution. Element [0, 0] is 1*1 + 10*2 = 21
    with the kernel as written, and 10*1 + 1*2 = 12 with it flipped:

    >>> convolve2d([[1, 2, 3]], [[1, 10]])
    array([[21., 32.]])
    >>> convolve2d([[1, 2, 3]], [[1, 10]], flip=True)
    array([[12., 23.]])

    A 3x3 window of ones, stride 2 and zero padding 1 on the 4x4 ramp 0..15: element [1, 1] is
    5 + 6 + 7 + 9 + 10 + 11 + 13 + 14 + 15 = 90, element [0, 0] is 0 + 1 + 4 + 5 = 10.

    >>> ramp = np.arange(16).reshape(4, 4)
    >>> convolve2d(ramp, np.ones((3, 3)), stride=2, padding=1)
    array([[10., 24.],
           [51., 90.]])
    """
    params = ConvParams.from_args(
        stride=stride,
        padding=padding,
        dilation=dilation,
        pad_mode=pad_mode,
        pad_value=pad_value,
        flip=flip,
    )
    compute = Compute(method=to_choice(method, METHODS, "method"), threads=threads)
    if _is_dask_collection(image):
        return _apply_kernel_lazily(image, kernel, params, compute)
    return apply_kernel(image, kernel, params, compute=compute)


def _is_dask_collection(value: object) -> bool:
    """Whether `value` comes from Dask, told by its class's module: Dask is not imported to
    ask (nor installed, perhaps)."""
    return type(value).__module__.partition(".")[0] == "dask"


def _apply_kernel_lazily(
    image: object, kernel: npt.ArrayLike, params: ConvParams, compute: Compute
) -> da.Array:
    """:func:`convcli.core.lazy.apply_kernel_lazily`, imported now: only a Dask array needs
    Dask, which may not be installed."""
    try:
        from convcli.core.lazy import apply_kernel_lazily
    except ModuleNotFoundError as missing:
        if (missing.name or "").partition(".")[0] != "dask":
            raise
        raise ParameterError(
            "a Dask array needs Dask installed: pip install 'convcli[dask]'"
        ) from None
    return apply_kernel_lazily(image, kernel, params, compute=compute)


Image: TypeAlias = npt.ArrayLike | RowSource
"""An image as the core takes it: an array, or rows made on demand."""


@overload
def apply_kernel(
    image: Image, kernel: npt.ArrayLike, params: ConvParams, *, compute: Compute = ...
) -> FloatArray: ...
@overload
def apply_kernel(
    image: Image, kernel: npt.ArrayLike, params: ConvParams, *, compute: Compute = ..., sink: Sink
) -> None: ...
def apply_kernel(
    image: Image,
    kernel: npt.ArrayLike,
    params: ConvParams,
    *,
    compute: Compute = Compute(),
    sink: Sink | None = None,
) -> FloatArray | None:
    """:func:`convolve2d` with its geometry given as one :class:`ConvParams`, computed as
    `compute` says.

    Flips the kernel only if ``params.flip`` is true. `image` may also be a
    :class:`~convcli.core.padding.RowSource` of float32 or float64 rows, read a strip at a
    time. With `sink`, the output goes to ``sink(start, stop, rows)`` a strip of rows at a
    time instead of being returned (see :func:`convcli.core.methods.run`): the whole result
    never exists at once.
    """
    pixels, weights, axes = prepared(image, kernel, params)
    if sink is not None:
        run(pixels, weights, axes, params.border, sink, compute=compute)
        return None
    out = output_array(pixels, axes)
    run(pixels, weights, axes, params.border, out, compute=compute)
    return out


def prepared(
    image: npt.ArrayLike | RowSource, kernel: npt.ArrayLike, params: ConvParams
) -> tuple[npt.NDArray[Any] | RowSource, FloatArray, Axes]:
    """(pixels, weights as computed, axes), checked: what every method starts from.

    The weights are flipped if ``params.flip`` says so, in the pixels' float type.
    """
    pixels: npt.NDArray[Any] | RowSource
    # An array is no row source: checked first, as the protocol's check is slow.
    if not isinstance(image, np.ndarray) and isinstance(image, RowSource):
        pixels = image
        if pixels.dtype not in (np.float32, np.float64):
            raise ParameterError(f"a row source must give float32 or float64, not {pixels.dtype}")
    else:
        pixels = as_image_array(image)
        pixels = pixels.astype(computed_in(pixels.dtype), copy=False)
    weights, axes = weights_and_axes(pixels.shape, pixels.dtype, kernel, params)
    return pixels, weights, axes


def weights_and_axes(
    shape: tuple[int, ...], dtype: np.dtype[Any], kernel: npt.ArrayLike, params: ConvParams
) -> tuple[FloatArray, Axes]:
    """The kernel's weights as computed (flipped if ``params.flip``, in `dtype`, float32 or
    float64) and the checked shape arithmetic, for an image of `shape` computed in `dtype`.

    Raises
    ------
    KernelError
        If the kernel is not a finite 2-D array, or a weight overflows `dtype`.
    ShapeError
        If the kernel does not fit, or the padding is too wide for its mode.
    """
    written = as_kernel_array(kernel)
    weights = _cast_weights(written[::-1, ::-1] if params.flip else written, dtype.type)
    axes = arithmetic(shape[:2], weights.shape, params)
    check_fits(axes)
    check_padding(shape[:2], padding_widths(axes), params.pad_mode)
    return weights, axes


def sample_centre(image: npt.ArrayLike, kernel_hw: Pair, params: ConvParams) -> FloatArray:
    """What each output pixel's window has under its centre tap, where alpha is taken from.

    The centre tap is row (kh - 1) // 2, column (kw - 1) // 2 of the kernel, dilated, wherever
    the window is (``flip`` does not move it). Where it falls in the padding it reads what the
    pad mode puts there: 0 for ``zeros``. The result has :func:`convolve2d`'s shape.

    >>> sample_centre(np.arange(1.0, 5.0).reshape(1, 4), (1, 3), ConvParams(padding=(0, 1)))
    array([[1., 2., 3., 4.]])
    >>> sample_centre(np.arange(1.0, 5.0).reshape(1, 4), (1, 2), ConvParams(padding=(0, 1)))
    array([[0., 1., 2., 3., 4.]])
    """
    geometry, compute = centre_params(params)
    return apply_kernel(image, centre_tap(kernel_hw), geometry, compute=compute)


def centre_tap(kernel_hw: Pair) -> npt.NDArray[np.float64]:
    """A kernel of `kernel_hw` that is 1 at its centre tap, (kh - 1) // 2, (kw - 1) // 2, and
    0 elsewhere: it samples what each window has under its centre."""
    kh, kw = kernel_hw
    tap = np.zeros((kh, kw))
    tap[(kh - 1) // 2, (kw - 1) // 2] = 1
    return tap


def centre_params(params: ConvParams) -> tuple[ConvParams, Compute]:
    """The geometry and method :func:`sample_centre` runs :func:`centre_tap` with: unflipped,
    the direct way (one tap: a copy of the window's centre, exactly)."""
    return replace(params, flip=False), Compute(method="direct")


def computed_in(dtype: np.dtype[Any]) -> type[np.float32] | type[np.float64]:
    """The dtype images of `dtype` are computed in: float32 for 32-bit floats of either byte
    order, float64 for everything else.

    >>> computed_in(np.dtype(">f4")), computed_in(np.dtype(np.uint8))
    (<class 'numpy.float32'>, <class 'numpy.float64'>)
    """
    return np.float32 if dtype.kind == "f" and dtype.itemsize == 4 else np.float64


def _cast_weights(weights: npt.NDArray[np.float64], dtype: type[np.floating[Any]]) -> FloatArray:
    """`weights` in the computation's dtype; a weight that overflows float32 is refused."""
    with np.errstate(over="ignore"):
        cast = weights.astype(dtype)
    if np.isfinite(cast).all():
        return cast
    bad = np.argwhere(~np.isfinite(cast))
    if len(bad):
        row, col = (int(i) for i in bad[0])
        raise KernelError(
            f"kernel value {weights[row, col]:g} at [{row}, {col}] does not fit in"
            f" {np.dtype(dtype).name}, the image's precision"
        )
    return cast


def as_image_array(image: npt.ArrayLike) -> npt.NDArray[Any]:
    """`image` as a non-empty (H, W) or (H, W, C) numeric array, or :class:`ParameterError`."""
    pixels = real_array(image, "image", ParameterError)
    _check_image_shape(pixels.shape)
    return pixels


def check_image(shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
    """Raise :class:`ParameterError` unless an array of `shape` and `dtype` is an image the
    core takes, as :func:`as_image_array` would (for an array it need not read).

    >>> check_image((4, 5, 3), np.dtype(np.uint8))
    >>> check_image((4, 0), np.dtype(np.float32))
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: image is empty: shape (4, 0)
    """
    _check_real(dtype, "image", ParameterError)
    _check_image_shape(shape)


def _check_image_shape(shape: tuple[int, ...]) -> None:
    if len(shape) not in (2, 3):
        raise ParameterError(
            f"image must be 2-D (H, W) or 3-D (H, W, C), got {len(shape)}-D shape {shape}"
        )
    if math.prod(shape) == 0:
        raise ParameterError(f"image is empty: shape {shape}")


def as_kernel_array(kernel: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """`kernel` as a non-empty 2-D float64 array of finite numbers, or :class:`KernelError`.

    >>> as_kernel_array([[1, 2], [3]])
    Traceback (most recent call last):
    ...
    convcli.errors.KernelError: kernel rows differ in length: row 1 has 1 value, expected 2
    """
    if isinstance(kernel, list | tuple):
        _check_rows(kernel)
    weights = real_array(kernel, "kernel", KernelError)
    if weights.ndim != 2:
        raise KernelError(f"kernel must be 2-D, got {weights.ndim}-D shape {weights.shape}")
    if weights.size == 0:
        raise KernelError(f"kernel is empty: shape {weights.shape}")
    weights = weights.astype(np.float64)
    bad = np.argwhere(~np.isfinite(weights))
    if len(bad):
        row, col = (int(i) for i in bad[0])
        raise KernelError(f"kernel value at [{row}, {col}] is {weights[row, col]}, not finite")
    return weights


def is_masked(value: object) -> bool:
    """Whether `value` is a NumPy masked array, without importing ``numpy.ma`` (slow to
    import) when nothing has: then no masked array exists."""
    masked = sys.modules.get("numpy.ma")
    return masked is not None and isinstance(value, masked.MaskedArray)


def real_array(
    value: npt.ArrayLike, what: str, error: type[ParameterError | KernelError]
) -> npt.NDArray[Any]:
    """`value` as an array of real numbers, or `error` naming it `what`."""
    if is_masked(value):
        raise error(f"{what} is a masked array: fill it first, e.g. {what}.filled(0)")
    try:
        array = np.asarray(value)
    except ValueError as failure:
        raise error(f"{what} is not a rectangular array: {failure}") from None
    _check_real(array.dtype, what, error)
    return array


def _check_real(dtype: np.dtype[Any], what: str, error: type[ParameterError | KernelError]) -> None:
    if dtype.kind not in "biuf":
        raise error(f"{what} must hold real numbers, got dtype {dtype}")


def _check_rows(rows: list[Any] | tuple[Any, ...]) -> None:
    """Name the first ragged row of a nested list (NumPy's own message names none)."""
    if not rows or not isinstance(rows[0], list | tuple):
        return  # not a nested list: the dimension checks will say what it is
    expected = len(rows[0])
    for index, row in enumerate(rows):
        if not isinstance(row, list | tuple):
            raise KernelError(f"kernel row {index} is not a list of numbers: {row!r}")
        if len(row) != expected:
            values = "value" if len(row) == 1 else "values"
            raise KernelError(
                f"kernel rows differ in length: row {index} has {len(row)} {values},"
                f" expected {expected}"
            )
