"""Rich renderings of convcli's results: shape arithmetic and kernels. No printing here."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from convcli.kernels import Kernel
from convcli.params import format_pair, format_size
from convcli.shape import AxisArithmetic

_AXIS_WORDS = {"h": ("row", "rows"), "w": ("column", "columns")}


def format_number(value: float) -> str:
    """Integers without a decimal point, other values to 6 significant digits.

    >>> format_number(-4.0), format_number(1 / 9), format_number(0.0625)
    ('-4', '0.111111', '0.0625')
    """
    if value == int(value):
        return str(int(value))
    return f"{value:.6g}"


def arithmetic_summary(axes: tuple[AxisArithmetic, AxisArithmetic]) -> str:
    """One line with the inputs of the arithmetic, sizes as HxW.

    >>> from convcli.params import ConvParams
    >>> from convcli.shape import arithmetic
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
    """What a student may not see in the formula: the dilated span, the unreached edge.

    >>> axis_notes(AxisArithmetic("w", 8, 3, 3, 0, 0, 1))
    ['stride 3: the last 2 columns of the padded input are under no window;
      2 image columns never reach the output']
    """
    one, many = _AXIS_WORDS[axis.axis]
    notes = []
    if axis.dilation > 1:
        notes.append(
            f"dilation {axis.dilation} spreads the {axis.kernel} taps over {axis.span} {many}"
        )
    if not axis.fits:
        notes.append(f"the kernel spans {axis.span} {many} but the padded input has {axis.padded}")
    elif axis.unvisited:
        if axis.unvisited == 1:
            edge = f"the last {one} of the padded input is under no window"
        else:
            edge = f"the last {axis.unvisited} {many} of the padded input are under no window"
        lost = axis.unvisited - axis.pad_after  # the unreached pixels beyond the padding
        if lost <= 0:
            consequence = " (padding only)"
        elif lost == 1:
            consequence = f"; 1 image {one} never reaches the output"
        else:
            consequence = f"; {lost} image {many} never reach the output"
        notes.append(f"stride {axis.stride}: {edge}{consequence}")
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
        "formulas": [height.formula(), width.formula()],
    }


def kernel_listing(kernels: list[Kernel]) -> Table:
    """A table of kernels: name, size (HxW), sum of weights, description."""
    table = Table(title=None, box=None, header_style="bold", pad_edge=False)
    table.add_column("name", style="cyan", no_wrap=True)
    table.add_column("size", no_wrap=True)
    table.add_column("sum", justify="right", no_wrap=True)
    table.add_column("description")
    for kernel in kernels:
        table.add_row(
            kernel.name, format_size(kernel.shape), format_number(kernel.total), kernel.summary
        )
    return table


def kernel_matrix(kernel: Kernel) -> Group:
    """A kernel's weights as written, aligned, under a heading with its size and sum."""
    heading = Text.assemble(
        (kernel.name, "bold cyan"),
        f"  {format_size(kernel.shape)}, sum {format_number(kernel.total)}",
    )
    grid = Table.grid(padding=(0, 1))
    if kernel.divisor != 1:
        grid.add_column(justify="right")
    for _ in range(kernel.shape[1]):
        grid.add_column(justify="right")
    middle = kernel.shape[0] // 2
    for index, row in enumerate(kernel.grid):
        cells = [str(value) for value in row]
        if kernel.divisor != 1:
            cells.insert(0, f"1/{kernel.divisor} x" if index == middle else "")
        grid.add_row(*cells)
    return Group(heading, Text(kernel.summary, style="dim"), grid)
