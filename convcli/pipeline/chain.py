"""Several steps in a row: kernels and operators, each applied to the previous float result.

Every step uses the same stride, padding, dilation, pad mode and flip, and nothing is rounded
between steps. A kernel step computes ``scale * (kernel slid over the input) + bias`` with its
own scale and bias; an operator step computes ``scale * sqrt(Gx^2 + Gy^2) + bias``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from convcli.core.convolution import (
    FloatArray,
    Image,
    apply_kernel,
    as_image_array,
    computed_in,
)
from convcli.core.methods import Compute, Sink, separable_factors
from convcli.core.padding import RowSource
from convcli.core.params import ConvParams, Pair
from convcli.core.shape import Axes

# Defined with the rest of the shape arithmetic, which `convcli shape` runs without NumPy;
# importable from here too, as the pipeline does.
from convcli.core.shape import chain_arithmetic as chain_arithmetic
from convcli.core.shape import check_chain_fits as check_chain_fits
from convcli.errors import KernelError, ParameterError
from convcli.kernels.kernel import Kernel, Operator, Step, is_zero_sum


@dataclass(frozen=True)
class ChainResult:
    """The float result of a chain and the shape arithmetic of each of its steps."""

    values: FloatArray
    steps: tuple[Axes, ...]


@overload
def apply_chain(
    image: Image, steps: Sequence[Step], params: ConvParams, *, compute: Compute = ...
) -> ChainResult: ...
@overload
def apply_chain(
    image: Image, steps: Sequence[Step], params: ConvParams, *, compute: Compute = ..., sink: Sink
) -> tuple[Axes, ...]: ...
def apply_chain(
    image: Image,
    steps: Sequence[Step],
    params: ConvParams,
    *,
    compute: Compute = Compute(),
    sink: Sink | None = None,
) -> ChainResult | tuple[Axes, ...]:
    """Apply `steps` in order to an (H, W) or (H, W, C) image; see the module docstring.

    float32 images stay float32 throughout; anything else is computed in float64. `compute`
    says how the core computes every step. Returns the result and the shape arithmetic of
    each step; or, with `sink`, hands the last step's result to ``sink(start, stop, rows)``
    a strip of rows at a time, from whichever thread made it (see
    :func:`convcli.core.methods.run`), and returns the arithmetic alone. Earlier steps are
    kept whole, as the next one reads them.

    Raises
    ------
    ShapeError
        If a step's kernel does not fit its input (checked for every step before any work).
    KernelError
        If `steps` is empty.
    """
    if not steps:
        raise KernelError("a chain needs at least one kernel")
    pixels = image if isinstance(image, RowSource) else as_image_array(image)
    axes = tuple(chain_arithmetic(_size(pixels), [step.shape for step in steps], params))
    check_chain_fits(axes, [step.name for step in steps])
    if sink is not None:
        _run_steps(pixels, steps, params, compute, sink)
        return axes
    out = np.empty(
        (axes[-1][0].output, axes[-1][1].output, *pixels.shape[2:]),
        dtype=computed_in(pixels.dtype),
    )

    def keep(start: int, stop: int, rows: FloatArray) -> None:
        out[start:stop] = rows

    _run_steps(pixels, steps, params, compute, keep)
    return ChainResult(out, axes)


def _run_steps(
    values: npt.NDArray[Any] | RowSource,
    steps: Sequence[Step],
    params: ConvParams,
    compute: Compute,
    sink: Sink,
) -> None:
    """The chain's steps, checked to fit, the last one's rows handed to `sink`."""
    for step in steps[:-1]:
        if isinstance(step, Operator):
            gx = apply_kernel(values, step.x.weights, params, compute=compute)
            gy = apply_kernel(values, step.y.weights, params, compute=compute)
            response = np.hypot(gx, gy, out=gx)
        else:
            response = apply_kernel(values, step.weights, params, compute=compute)
        values = scaled_in_place(response, step.scale, step.bias)
    last = steps[-1]
    if isinstance(last, Operator):
        gx = apply_kernel(values, last.x.weights, params, compute=compute)

        def magnitude(start: int, stop: int, gy: FloatArray) -> None:
            np.hypot(gx[start:stop], gy, out=gy)
            sink(start, stop, scaled_in_place(gy, last.scale, last.bias))

        apply_kernel(values, last.y.weights, params, compute=compute, sink=magnitude)
    else:

        def scaled(start: int, stop: int, rows: FloatArray) -> None:
            sink(start, stop, scaled_in_place(rows, last.scale, last.bias))

        apply_kernel(values, last.weights, params, compute=compute, sink=scaled)


def check_method(steps: Sequence[Step], method: str, *, dtype: npt.DTypeLike) -> None:
    """Refuse, before any work, a method that a step's kernel cannot use: ``separable`` needs
    kernels of rank 1 (judged in `dtype`, the computation's)."""
    if method != "separable":
        return
    for number, step in enumerate(steps, start=1):
        kernels = [step.x, step.y] if isinstance(step, Operator) else [step]
        for kernel in kernels:
            if separable_factors(kernel.weights.astype(dtype)) is None:
                where = f"step {number} ({kernel.name})" if len(steps) > 1 else kernel.name
                raise ParameterError(
                    f"method separable needs kernels of rank 1 (a column times a row);"
                    f" {where} is not"
                )


def _size(pixels: npt.NDArray[Any] | RowSource) -> Pair:
    return pixels.shape[0], pixels.shape[1]


def scaled_in_place(values: FloatArray, scale: float, bias: float) -> FloatArray:
    """scale * values + bias, in place and in the values' own dtype; a no-op for 1 and 0."""
    if scale != 1:
        values *= values.dtype.type(scale)
    if bias != 0:
        values += values.dtype.type(bias)
    return values


def with_final_scale_bias(
    steps: Sequence[Step], *, scale: float | None = None, bias: float | None = None
) -> list[Step]:
    """`steps` with the last step's scale and/or bias replaced (each only if given).

    This is what ``--scale`` and ``--bias`` do: for a single kernel, they replace the scale
    and bias its file gave it, each separately.
    """
    changes: dict[str, Any] = {}
    if scale is not None:
        changes["scale"] = scale
    if bias is not None:
        changes["bias"] = bias
    if not steps or not changes:
        return list(steps)
    return [*steps[:-1], dataclasses.replace(steps[-1], **changes)]


def normalized(steps: Sequence[Step]) -> list[Step]:
    """Every kernel divided by the sum of its weights, its own scale reset to 1 (``--normalize``).

    A kernel's scale from its file is a divisor that normalises it (GIMP, libvips); kept, it
    would divide a second time. A bias is kept.

    Raises
    ------
    KernelError
        If a kernel sums to 0 (it cannot be normalised) or a step is an operator.
    """
    result: list[Step] = []
    for step in steps:
        if isinstance(step, Operator):
            raise KernelError(f"--normalize: {step.name} is an operator, not a kernel with a sum")
        total = step.total
        if is_zero_sum(step.weights):
            raise KernelError(
                f"--normalize: kernel {step.name!r} sums to 0, so it cannot be divided by its sum"
            )
        # The file's own scale (a GIMP or libvips divisor) normalised it already: drop it.
        result.append(dataclasses.replace(step, weights=step.weights / total, divisor=1, scale=1.0))
    return result


def prepare_chain(
    steps: Sequence[Step],
    *,
    normalize: bool = False,
    scale: float | None = None,
    bias: float | None = None,
) -> list[Step]:
    """The steps as ``apply`` runs them: normalised if asked, the final scale and bias set."""
    prepared = normalized(steps) if normalize else list(steps)
    return with_final_scale_bias(prepared, scale=scale, bias=bias)


def is_signed(steps: Sequence[Step]) -> bool:
    """Whether the chain's result is signed around 0, as an edge detector's is.

    A kernel whose weights sum to 0 removes every constant, so its result is centred on 0;
    an operator's magnitude is never negative. The result is signed when a zero-sum kernel
    comes after the last operator, and the biases from that kernel on (its own included),
    carried through the steps after it, add up to 0: a bias says where the user wants 0.
    """
    last_zero_sum = max(
        (
            index
            for index, step in enumerate(steps)
            if isinstance(step, Kernel) and is_zero_sum(step.weights)
        ),
        default=-1,
    )
    last_operator = max(
        (index for index, step in enumerate(steps) if isinstance(step, Operator)), default=-1
    )
    if last_zero_sum < last_operator or last_zero_sum < 0:
        return False
    offset = steps[last_zero_sum].bias
    # The last operator comes before the last zero-sum kernel: only kernels follow it. A
    # constant c through a kernel becomes scale * c * sum(weights) + bias.
    following = [step for step in steps[last_zero_sum + 1 :] if isinstance(step, Kernel)]
    for kernel in following:
        offset = kernel.scale * offset * kernel.total + kernel.bias
    return offset == 0
