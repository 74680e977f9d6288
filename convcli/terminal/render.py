"""Rich renderings of convcli's results: shape arithmetic and kernels. No printing here."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from convcli.core.params import format_pair, format_size
from convcli.core.shape import Axes, AxisArithmetic

if TYPE_CHECKING:
    from convcli.kernels.kernel import Kernel, Operator
    from convcli.kernels.parametric import Family
    from convcli.pipeline.apply import ApplyReport

# The kernels' renderings import NumPy themselves: `convcli shape --kernel-size` shows only
# arithmetic, and NumPy would double its start-up time.

AXIS_WORDS = {"h": ("row", "rows"), "w": ("column", "columns")}


_WHOLE_DIGITS_UP_TO = 1e15
"""Whole numbers below this are written with every digit, larger ones to 6 digits."""


def format_number(value: float) -> str:
    """Integers without a decimal point (up to 1e15), other values to 6 significant digits.

    >>> format_number(-4.0), format_number(1 / 9), format_number(0.0625), format_number(1e100)
    ('-4', '0.111111', '0.0625', '1e+100')
    """
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < _WHOLE_DIGITS_UP_TO:
        return str(int(value))
    return f"{value:.6g}"


def arithmetic_summary(axes: tuple[AxisArithmetic, AxisArithmetic]) -> str:
    """One line with the inputs of the arithmetic, sizes as HxW.

    >>> from convcli.core.params import ConvParams
    >>> from convcli.core.shape import arithmetic
    >>> arithmetic_summary(arithmetic((4, 6), (3, 2), ConvParams(padding="same")))
    'input 4x6, kernel 3x2, stride 1, padding 1x0+1x1 (top x left + bottom x right), dilation 1'
    """
    height, width = axes
    before = (height.pad_before, width.pad_before)
    after = (height.pad_after, width.pad_after)
    if before == after:
        padding = format_pair(before)
    else:
        padding = f"{format_size(before)}+{format_size(after)} (top x left + bottom x right)"
    return (
        f"input {format_size((height.size, width.size))}, "
        f"kernel {format_size((height.kernel, width.kernel))}, "
        f"stride {format_pair((height.stride, width.stride))}, "
        f"padding {padding}, "
        f"dilation {format_pair((height.dilation, width.dilation))}"
    )


def axis_notes(axis: AxisArithmetic) -> list[str]:
    """What a student may not see in the formula: the dilated span, the unreached edge, the
    image lines that no tap reads.

    >>> axis_notes(AxisArithmetic("w", 8, 3, 3, 0, 0, 1))
    ['stride 3: the last 2 columns of the padded input are under no window',
     '2 of the 8 input columns are read by no tap: nothing of them reaches the output']
    """
    one, many = AXIS_WORDS[axis.axis]
    notes = []
    if axis.dilation > 1:
        notes.append(
            f"dilation {axis.dilation} spreads the {axis.kernel} taps over {axis.span} {many}"
        )
    if not axis.fits:
        notes.append(f"the kernel spans {axis.span} {many} but the padded input has {axis.padded}")
        return notes
    unread = axis.unread
    if axis.unvisited:
        if axis.unvisited == 1:
            edge = f"the last {one} of the padded input is under no window"
        else:
            edge = f"the last {axis.unvisited} {many} of the padded input are under no window"
        padding_only = axis.unvisited <= axis.pad_after
        notes.append(f"stride {axis.stride}: {edge}{' (padding only)' if padding_only else ''}")
    if unread:
        lines = one if axis.size == 1 else many
        verb = "is" if unread == 1 else "are"
        notes.append(
            f"{unread} of the {axis.size} input {lines} {verb} read by no tap:"
            f" nothing of {'it' if unread == 1 else 'them'} reaches the output"
        )
    return notes


def arithmetic_report(axes: tuple[AxisArithmetic, AxisArithmetic]) -> Group:
    """The arithmetic of both axes: inputs, one formula per axis with notes, and the result."""
    lines: list[Text] = [Text(arithmetic_summary(axes), style="dim")]
    for axis in axes:
        lines.append(Text(axis.formula()))
        lines.extend(Text(f"    {note}", style="italic") for note in axis_notes(axis))
    height, width = axes
    if height.fits and width.fits:
        lines.append(Text.assemble("output ", (format_size((height.output, width.output)), "bold")))
    return Group(*lines)


def arithmetic_record(axes: tuple[AxisArithmetic, AxisArithmetic]) -> dict[str, Any]:
    """The arithmetic as plain data for ``--json``: sizes are [height, width]."""
    height, width = axes
    fits = height.fits and width.fits
    return {
        "input": [height.size, width.size],
        "kernel": [height.kernel, width.kernel],
        "stride": [height.stride, width.stride],
        "padding": {
            "top": height.pad_before,
            "bottom": height.pad_after,
            "left": width.pad_before,
            "right": width.pad_after,
        },
        "dilation": [height.dilation, width.dilation],
        "span": [height.span, width.span],
        "fits": fits,
        "output": [height.output, width.output] if fits else None,
        "unvisited": [height.unvisited, width.unvisited],
        "unread": [height.unread, width.unread],
        "formulas": [height.formula(), width.formula()],
    }


def explain_values(report: ApplyReport) -> str:
    """The last line of ``--explain``: gray weights, value range, and what the mapping did.

    >>> from convcli.pipeline.apply import ApplyReport
    >>> explain_values(ApplyReport("a.png", "b.png", (4, 4), (2, 2), ("vertical",), "rec601",
    ...     "png", "8", "abs", None, (-510.0, 255.0), 3, ()))
    'gray rec601; values -510 to 255 before mapping; range abs to 8-bit, 3 values clipped'
    """
    gray = f"gray {report.gray}; " if report.gray else ""
    low, high = report.value_range
    values = f"values {low:.6g} to {high:.6g}"
    alpha = f"; alpha {report.alpha}" if report.alpha else ""
    if report.range_mode is None:
        return f"{gray}{values}, written as they are ({report.depth}){alpha}"
    clipped = f"{report.clipped} value{'s' * (report.clipped != 1)} clipped"
    return (
        f"{gray}{values} before mapping; range {report.range_mode} to {report.depth}-bit,"
        f" {clipped}{alpha}"
    )


def chain_report(labels: Sequence[str], steps: Sequence[Axes]) -> Group:
    """The arithmetic of every step; a chain of several gets a heading per step."""
    if len(steps) == 1:
        return arithmetic_report(steps[0])
    parts: list[RenderableType] = []
    for number, (label, axes) in enumerate(zip(labels, steps, strict=False), start=1):
        parts.append(Text(f"step {number}: {label}", style="bold"))
        parts.append(arithmetic_report(axes))
    return Group(*parts)


def chain_record(names: Sequence[str | None], steps: Sequence[Axes]) -> dict[str, Any]:
    """A chain's arithmetic as plain data for ``--json``: one record per step, in order.

    Steps after one that does not fit are absent: they have no input size.
    """
    first, last = steps[0], steps[-1]
    fits = len(steps) == len(names) and last[0].fits and last[1].fits
    return {
        "input": [first[0].size, first[1].size],
        "output": [last[0].output, last[1].output] if fits else None,
        "fits": fits,
        "steps": [
            {"kernel_name": name, **arithmetic_record(axes)}
            for name, axes in zip(names, steps, strict=False)
        ],
    }


def kernel_listing(
    kernels: Sequence[Kernel], operators: Sequence[Operator], families: Sequence[Family]
) -> Group:
    """Tables of what ``-k`` knows: kernels (name, size, sum), operators and parametric families."""
    plain = _listing_table("kernel", "size", "sum")
    for kernel in kernels:
        plain.add_row(kernel.name, format_size(kernel.shape), format_sum(kernel), kernel.summary)
    magnitude = _listing_table("operator", "size", "of")
    for operator in operators:
        magnitude.add_row(
            operator.name,
            format_size(operator.shape),
            f"{operator.x.name}, {operator.y.name}",
            operator.summary,
        )
    parametric = Table(box=None, header_style="bold", pad_edge=False)
    parametric.add_column("parametric", style="cyan", no_wrap=True)
    parametric.add_column("description")
    for family in families:
        parametric.add_row(family.syntax, family.summary)
    return Group(plain, Text(""), magnitude, Text(""), parametric)


def _listing_table(*headers: str) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column(headers[0], style="cyan", no_wrap=True)
    table.add_column(headers[1], no_wrap=True)
    table.add_column(headers[2], justify="right", no_wrap=True)
    table.add_column("description")
    return table


def format_sum(kernel: Kernel) -> str:
    """The sum of the weights, ``0`` for a kernel that sums to 0 up to rounding (``log:``)."""
    from convcli.kernels.kernel import is_zero_sum

    return "0" if is_zero_sum(kernel.weights) else format_number(kernel.total)


def kernel_heading(kernel: Kernel) -> str:
    """Size, sum, scale, bias and separability on one line.

    >>> from convcli.kernels.registry import KERNELS
    >>> kernel_heading(KERNELS["sobel-x"])
    '3x3, sum 0, scale 1, bias 0, separable'
    """
    separable = "separable" if kernel.is_separable() else "not separable"
    return (
        f"{format_size(kernel.shape)}, sum {format_sum(kernel)},"
        f" scale {format_number(kernel.scale)}, bias {format_number(kernel.bias)}, {separable}"
    )


def kernel_matrix(kernel: Kernel) -> Group:
    """A kernel's weights, aligned, under its name, its facts and its summary.

    Kernels with a divisor (built-ins, ``box:``) show their integer grid and the divisor
    (``1/16 x``); others show each weight to 6 significant digits, with a note when that
    rounds (``--format txt`` is exact).
    """
    import numpy as np

    heading = Text.assemble((kernel.name, "bold cyan"), f"  {kernel_heading(kernel)}")
    grid = Table.grid(padding=(0, 1))
    if kernel.divisor != 1:
        grid.add_column(justify="right")
    for _ in range(kernel.shape[1]):
        grid.add_column(justify="right")
    middle = kernel.shape[0] // 2
    rounded = False
    largest = float(np.abs(kernel.weights).max()) or 1.0
    if kernel.divisor != 1:
        for index, (row, weights) in enumerate(
            zip(np.rint(kernel.grid), kernel.weights, strict=True)
        ):
            cells = [
                _shaded(format_number(float(v)), float(w), largest)
                for v, w in zip(row, weights, strict=True)
            ]
            grid.add_row(f"1/{kernel.divisor} x" if index == middle else "", *cells)
    else:
        for row in kernel.weights:
            texts = [format_number(float(value)) for value in row]
            rounded = rounded or any(float(c) != v for c, v in zip(texts, row, strict=True))
            grid.add_row(*(_shaded(t, float(v), largest) for t, v in zip(texts, row, strict=True)))
    lines: list[RenderableType] = [heading, Text(kernel.summary, style="dim"), grid]
    if rounded:
        lines.append(
            Text("(shown to 6 significant digits; --format txt prints them exactly)", style="dim")
        )
    lines.extend(Text(line) for line in kernel_statements(kernel))
    return Group(*lines)


def _shaded(text: str, weight: float, largest: float) -> Text:
    """A weight in a diverging colour scale: blue below 0, red above, dim at 0; the larger
    its size against the kernel's largest, the bolder."""
    if weight == 0:
        return Text(text, style="dim")
    colour = "red" if weight > 0 else "blue"
    size = abs(weight) / largest
    style = f"bold {colour}" if size > 2 / 3 else colour if size > 1 / 3 else f"dim {colour}"
    return Text(text, style=style)


def kernel_statements(kernel: Kernel) -> list[str]:
    """What is true of a kernel, a line each: sum, separability, symmetry, 8-bit range.

    >>> from convcli.kernels.registry import KERNELS
    >>> for line in kernel_statements(KERNELS["sobel-x"]):
    ...     print(line)
    zero-sum: a flat region gives 0
    separable: column [1 2 1] times row [1 0 -1]
    not symmetric under a 180-degree turn: --flip (true convolution) changes the result
    8-bit input gives -1020 to 1020: use --range abs or rescale
    """
    from convcli.kernels.facts import kernel_facts

    facts = kernel_facts(kernel)
    if facts.zero_sum:
        lines = ["zero-sum: a flat region gives 0"]
    elif facts.total == 1:
        lines = ["sum 1: a flat region keeps its value"]
    else:
        lines = [f"sum {format_number(facts.total)}: a flat region is multiplied by it"]
    if facts.factors is None:
        lines.append("not separable: its rank is over 1")
    else:
        column, row = (" ".join(format_number(float(v)) for v in f) for f in facts.factors)
        lines.append(f"separable: column [{column}] times row [{row}]")
    lines.append(
        "symmetric under a 180-degree turn: correlation and convolution (--flip) agree"
        if facts.symmetric
        else "not symmetric under a 180-degree turn: --flip (true convolution) changes the result"
    )
    lines.append(f"8-bit input gives {facts.range_advice()}")
    return lines


def step_view(step: Kernel | Operator) -> Group:
    """A kernel's matrix, or an operator's description and both of its kernels."""
    from convcli.kernels.kernel import Kernel

    if isinstance(step, Kernel):
        return kernel_matrix(step)
    heading = Text.assemble(
        (step.name, "bold cyan"), f"  operator, {format_size(step.shape)}: {step.summary}"
    )
    return Group(heading, Text(""), kernel_matrix(step.x), Text(""), kernel_matrix(step.y))
