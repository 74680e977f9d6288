"""The Rich rendering of one output pixel worked by hand (:mod:`convcli.explain`).

In order: the shape arithmetic of the whole image, where the window falls and what the
padding gives it, the window, the kernel and their products side by side, the sum, the scale
and bias, the mapping to the output's values, and last the output pixel itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from convcli.kernels import Operator
from convcli.render import AXIS_WORDS, chain_report, format_number

if TYPE_CHECKING:
    from convcli.explain import AxisWindow, ChannelWork, MappedValue, Products, WorkedPixel
    from convcli.rangemap import PixelMapping

_PADDING_MARK = "*"
_UNBOUNDED = 1_000_000
_WRITTEN_TERMS = 12
"""Sums of at most this many terms that are not 0 are written out, term by term."""


def worked_pixel_report(work: WorkedPixel) -> Group:
    """Everything ``convcli explain`` prints for `work`.

    The last line is the output pixel: ``output pixel (ROW, COL) = VALUE``, or a tuple of
    values, one per channel.
    """
    labels = [step.name for step in work.steps]
    parts: list[RenderableType] = [
        Text(source_line(work), style="dim"),
        chain_report(labels, work.axes),
    ]
    parts.append(Text(""))
    parts.append(_window_heading(work))
    parts.extend(Text(f"  {line}") for line in padding_lines(work))
    names = _channel_names(len(work.channels))
    for name, channel in zip(names, work.channels, strict=True):
        parts.append(Text(""))
        if name:
            parts.append(Text(f"channel {name}", style="bold"))
        parts.extend(_channel_parts(work, channel))
    parts.append(Text.assemble(f"output pixel {_at(work)} = ", (pixel_text(work), "bold")))
    return Group(*parts)


def source_line(work: WorkedPixel) -> str:
    """What the input is: the ramp's formula, or the image's name, size and channels."""
    from convcli.explain import RAMP

    height, width = work.axes[0][0].size, work.axes[0][1].size
    if work.source == RAMP:
        return f"input: the ramp x[i, j] = i*{width} + j, {height}x{width}"
    if len(work.channels) > 1:
        channels = f"{len(work.channels)} channels"
    else:
        channels = f"gray ({work.gray})" if work.gray else "one channel"
    return f"input: {work.source}, {height}x{width}, {channels}"


def pixel_text(work: WorkedPixel) -> str:
    """The output pixel's value, or its values in parentheses for several channels.

    Pixels are integers; float output shows the value it holds, as short as round-trips.
    """
    texts = [_held(channel.mapped.final, work.mapping) for channel in work.channels]
    return texts[0] if len(texts) == 1 else f"({', '.join(texts)})"


def _held(value: float, mapping: PixelMapping) -> str:
    if mapping.range_mode is not None and np.isfinite(value):
        return str(int(value))
    if mapping.depth == "float":
        return str(np.float32(value))
    return repr(value)


def _at(work: WorkedPixel) -> str:
    return f"({work.at[0]}, {work.at[1]})"


def _channel_names(count: int) -> list[str]:
    if count == 1:
        return [""]
    if count == 3:
        return ["R", "G", "B"]
    return [str(index) for index in range(count)]


def _window_heading(work: WorkedPixel) -> Text:
    """Which output pixel, which kernel, and which input lines its window covers."""
    height, width = work.output_shape
    reads = "the input"
    if len(work.steps) > 1:
        reads = f"the result of step {len(work.steps) - 1} ({work.steps[-2].name})"
    return Text(
        f"output pixel {_at(work)} of {height}x{width}: {work.step.name} over"
        f" {_lines(work.rows)} and {_lines(work.columns)} of {reads}"
    )


def _lines(taps: AxisWindow) -> str:
    """``rows -1 to 1``, or each position when the taps are spread (``columns 0, 2, 4``)."""
    many = AXIS_WORDS[taps.axis][1]
    positions = taps.positions
    if len(positions) == 1:
        return f"{AXIS_WORDS[taps.axis][0]} {positions[0]}"
    if positions[1] - positions[0] == 1:
        return f"{many} {positions[0]} to {positions[-1]}"
    return f"{many} {', '.join(map(str, positions))}"


def padding_lines(work: WorkedPixel) -> list[str]:
    """A line per axis whose window reaches into the padding: which lines, and what they hold.

    Lines in the padding are marked ``*`` in the window's table.
    """
    lines = []
    for taps in (work.rows, work.columns):
        one, many = AXIS_WORDS[taps.axis]
        padded = [tap for tap in range(len(taps.positions)) if taps.in_padding(tap)]
        if not padded:
            continue
        positions = [str(taps.positions[tap]) for tap in padded]
        subject = (
            f"{one} {positions[0]} is" if len(padded) == 1 else f"{many} {_and(positions)} are"
        )
        if work.pad_mode == "zeros":
            lines.append(f"{subject} padding: zeros gives 0")
            continue
        sources = [str(taps.sources[tap]) for tap in padded]
        read = f"{one} {sources[0]}" if len(padded) == 1 else f"{many} {_and(sources)}"
        lines.append(f"{subject} padding: {work.pad_mode} gives the values of {read}")
    return lines


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _channel_parts(work: WorkedPixel, channel: ChannelWork) -> list[RenderableType]:
    parts: list[RenderableType] = []
    operator = isinstance(work.step, Operator)
    for index, (symbol, term) in enumerate(zip(("Gx", "Gy"), channel.terms, strict=False)):
        if operator:
            parts.append(Text(("\n" if index else "") + f"{symbol}: {term.kernel}", style="bold"))
        parts.append(_SideBySide(_tables(work, channel, term), len(channel.window)))
        total = Text(sum_line(term))
        if operator:
            total = Text.assemble(f"{symbol} = ", total)
        parts.append(total)
    if operator:
        gx, gy = (term.total for term in channel.terms)
        parts.append(
            Text(
                f"sqrt(Gx^2 + Gy^2) = sqrt({_signed(gx)}^2 + {_signed(gy)}^2)"
                f" = {format_number(channel.combined)}"
            )
        )
    step = work.step
    if step.scale != 1 or step.bias != 0:
        parts.append(
            Text(
                f"scale and bias: {format_number(step.scale)} x {_signed(channel.combined)}"
                f" + {_signed(step.bias)} = {format_number(channel.value)}"
            )
        )
    parts.append(Text(mapping_line(channel.value, channel.mapped, work)))
    return parts


def sum_line(term: Products) -> str:
    """The sum of the products, its terms written out when there are few that are not 0.

    >>> from convcli.explain import Products
    >>> products = np.array([[0.0, -2.0], [0.0, -6.0]])
    >>> sum_line(Products("k", products, products, -8.0))
    'sum of the 4 products: -2 - 6 = -8'
    """
    terms = [float(value) for value in term.products.ravel() if value != 0]
    heading = f"sum of the {term.products.size} products"
    if not 1 < len(terms) <= _WRITTEN_TERMS:
        return f"{heading} = {format_number(term.total)}"
    written = format_number(terms[0])
    for value in terms[1:]:
        written += f" - {format_number(-value)}" if value < 0 else f" + {format_number(value)}"
    return f"{heading}: {written} = {format_number(term.total)}"


def _signed(value: float) -> str:
    """A value in parentheses when negative, so that it reads in a formula."""
    text = format_number(value)
    return f"({text})" if value < 0 else text


def _tables(work: WorkedPixel, channel: ChannelWork, term: Products) -> list[Group]:
    """The window (lines in the padding marked), the kernel as applied, and the products."""
    window = _matrix("window", channel.window, rows=work.rows, columns=work.columns)
    kernel = _matrix("kernel, flipped" if work.flip else "kernel", term.weights)
    products = _matrix("products", term.products)
    return [window, kernel, products]


def _matrix(
    title: str,
    values: np.ndarray,
    *,
    rows: AxisWindow | None = None,
    columns: AxisWindow | None = None,
) -> Group:
    """A matrix under its title, right-aligned; the window's rows and columns are labelled
    with their input positions, those in the padding marked and their cells dim."""
    table = Table(box=None, padding=(0, 1), show_edge=False)
    labelled = rows is not None and columns is not None
    if labelled:
        table.add_column("", style="dim", justify="right")
    for index in range(values.shape[1]):
        header = _label(columns, index) if columns is not None else ""
        table.add_column(header, justify="right", header_style="dim")
    for i, row in enumerate(values):
        padded_row = rows is not None and rows.in_padding(i)
        cells = []
        for j, value in enumerate(row):
            padded = padded_row or (columns is not None and columns.in_padding(j))
            cells.append(Text(format_number(float(value)), style="dim" if padded else ""))
        if rows is not None:
            table.add_row(_label(rows, i), *cells)
        else:
            table.add_row(*cells)
    return Group(Text(title, style="bold"), table)


def _label(taps: AxisWindow, tap: int) -> str:
    mark = _PADDING_MARK if taps.in_padding(tap) else ""
    return f"{taps.positions[tap]}{mark}"


class _SideBySide:
    """Tables in a row joined by ``x`` and ``=``, or one under the other when the row is wider
    than the console: a 15x15 kernel's three tables do not fit 80 columns."""

    def __init__(self, tables: Sequence[Group], rows: int) -> None:
        self.tables = tables
        self.rows = rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        unbounded = options.update(width=_UNBOUNDED)
        widths = [Measurement.get(console, unbounded, table).maximum for table in self.tables]
        # Each table, then "x" or "=" with a space on either side.
        if sum(widths) + 4 * (len(widths) - 1) > options.max_width:
            yield from self.tables
            return
        row = Table.grid(padding=(0, 1))
        for _ in range(2 * len(self.tables) - 1):
            row.add_column()
        row.add_row(*_joined(self.tables, self.rows))
        yield row

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(1, options.max_width)


def _joined(tables: Sequence[Group], rows: int) -> Iterable[RenderableType]:
    """The tables (of `rows` rows) with ``x`` and ``=`` between them, level with the middle
    row (under each table's title and header line)."""
    for index, table in enumerate(tables):
        if index:
            yield Text("\n" * (2 + rows // 2) + ("x" if index == 1 else "="))
        yield table


def mapping_line(value: float, mapped: MappedValue, work: WorkedPixel) -> str:
    """How `value` becomes what the output holds, one operation at a time.

    >>> from convcli.explain import MappedValue
    >>> from types import SimpleNamespace
    >>> from convcli.rangemap import PixelMapping
    >>> work = SimpleNamespace(mapping=PixelMapping("8", "abs", 255, 1.0), value_range=None)
    >>> mapping_line(-300.0, MappedValue("abs", -300.0, 300.0, 300.0, 255.0), work)
    'range abs to 8-bit: |-300| = 300, clamped to 0..255: 255'
    """
    mapping = work.mapping
    if mapped.mode is None:
        where = ".npy" if mapping.depth == "npy" else "32-bit float"
        return f"{where} output holds the value as it is: {_held(mapped.final, mapping)}"
    full = mapping.full_scale
    steps = []
    if mapped.mode == "rescale":
        assert work.value_range is not None
        low, high = work.value_range
        if high > low:
            steps.append(
                f"the whole result runs {format_number(low)} to {format_number(high)}, so"
                f" ({format_number(value)} - {_signed(low)}) x {full} / {format_number(high - low)}"
                f" = {format_number(mapped.before_rounding)}"
            )
        else:
            steps.append(f"the whole result is {format_number(low)}: every pixel is 0")
    else:
        if mapping.unit != 1:
            steps.append(
                f"in output units {format_number(value)} x {format_number(mapping.unit)}"
                f" = {format_number(mapped.in_units)}"
            )
        if mapped.mode == "abs":
            steps.append(
                f"|{format_number(mapped.in_units)}| = {format_number(mapped.before_rounding)}"
            )
    if mapped.rounded != mapped.before_rounding:
        steps.append(f"rounded {format_number(mapped.rounded)}")
    if mapped.clamped:
        steps.append(f"clamped to 0..{full}: {format_number(mapped.final)}")
    elif not steps:
        steps.append(f"{format_number(mapped.final)}, within 0..{full}")
    return f"range {mapped.mode} to {mapping.depth}-bit: {', '.join(steps)}"
