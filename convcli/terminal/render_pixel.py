"""The Rich rendering of one output pixel worked by hand (:mod:`convcli.pipeline.explain`).

In order: the shape arithmetic of the whole image, where the window falls and what the
padding gives it, the window, the kernel and their products side by side, the sum, the scale
and bias, the mapping to the output's values, and last the output pixel itself.

Numbers are shown to 6 significant digits, except where that would hide which way a value
rounds (11.49998 is not shown as 11.5): then as many as it takes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from convcli.kernels.kernel import Operator
from convcli.pipeline.alpha import TRANSPARENT
from convcli.pipeline.explain import (
    RAMP,
    AxisWindow,
    ChannelWork,
    Coverage,
    MappedValue,
    Products,
    WorkedPixel,
)
from convcli.terminal.render import AXIS_WORDS, chain_report, format_number

_PADDING_MARK = "*"
_ALPHA_RULES = {
    "weighted": "the filtered alpha (alpha weighted)",
    "carry": "carried from under the window's centre",
    "channel": "filtered as one more channel",
}
"""Where the output's alpha comes from, by the rule that ran."""
_UNBOUNDED = 1_000_000
_WRITTEN_TERMS = 12
"""Sums of at most this many terms that are not 0 are written out, term by term."""


def worked_pixel_report(work: WorkedPixel) -> Group:
    """Everything ``convcli explain`` prints for `work`.

    The last line is the output pixel: ``output pixel (ROW, COL) = VALUE``, or the values in
    parentheses, one per channel (alpha last).
    """
    labels = [step.name for step in work.steps]
    parts: list[RenderableType] = [
        Text(source_line(work), style="dim"),
        chain_report(labels, work.axes),
        Text(""),
        _window_heading(work),
    ]
    parts.extend(Text(f"  {line}") for line in padding_lines(work))
    if work.coverage is not None:
        parts.extend(_coverage_parts(work, work.coverage))
    names = work.provenance.channel_names or ("",)
    for name, channel in zip(names, work.channels, strict=True):
        parts.append(Text(""))
        if name:
            parts.append(Text(f"channel {name}", style="bold"))
        parts.extend(_channel_parts(work, channel))
    if work.alpha is not None and work.alpha_rule is not None:
        parts.append(Text(f"alpha, {_ALPHA_RULES[work.alpha_rule]}: {_held(work.alpha)}"))
    if work.provenance.lossy:
        parts.append(Text("JPEG compresses lossily: the file holds about this value, not it"))
    parts.append(Text.assemble(f"output pixel {_at(work)} = ", (pixel_text(work), "bold")))
    return Group(*parts)


def _coverage_parts(work: WorkedPixel, coverage: Coverage) -> list[RenderableType]:
    """The ``weighted`` rule's filtered alpha, worked: the window's alpha, the share of the
    kernel's weight on transparency, and what divides the colour."""
    matrices = [
        _Matrix("1 - alpha", 1 - coverage.alpha, work.rows, work.columns),
        _Matrix("kernel, flipped" if work.flip else "kernel", coverage.weights),
        _Matrix("products", coverage.products),
    ]
    return [
        Text(""),
        Text(
            "alpha weighted: each value counts times its alpha (0 to 1), and the sum is"
            " divided by the share of the kernel's weight on what is not transparent"
        ),
        _Matrices(matrices),
        Text(
            f"filtered alpha: 1 - {_signed(coverage.transparent)} / {_signed(coverage.total)}"
            f" = {format_number(coverage.covered)}"
        ),
    ]


def source_line(work: WorkedPixel) -> str:
    """What the input is: the ramp's formula, or the image's name, size and channels."""
    height, width = work.axes[0][0].size, work.axes[0][1].size
    provenance = work.provenance
    if provenance.source == RAMP:
        return f"input: the ramp x[i, j] = i*{width} + j, {height}x{width}"
    if provenance.channel_names:
        channels = f"channels {' '.join(provenance.channel_names)}"
    else:
        channels = f"gray ({provenance.gray})" if provenance.gray else "one channel"
    return (
        f"input: {provenance.source}, {height}x{width}, {channels}, computed in {work.computed_in}"
    )


def pixel_text(work: WorkedPixel) -> str:
    """The output pixel's value, or its values in parentheses for several channels.

    Pixels are integers; float output shows the value it holds, as short as round-trips.
    """
    texts = [_held(channel.mapped) for channel in work.channels]
    if work.alpha is not None:
        texts.append(_held(work.alpha))
    return texts[0] if len(texts) == 1 else f"({', '.join(texts)})"


def _held(mapped: MappedValue) -> str:
    """What the output holds: an integer pixel, or a float as short as it round-trips."""
    if mapped.mode is not None and np.isfinite(mapped.final):
        return str(int(mapped.final))
    return str(np.float32(mapped.final)) if mapped.single else repr(mapped.final)


def _number(value: float) -> str:
    """`value` to 6 significant digits, or to as many as show which way it rounds.

    >>> _number(11.25), _number(11.499998), _number(2.5)
    ('11.25', '11.499998', '2.5')
    """
    text = format_number(value)
    if not np.isfinite(value) or float(text) == value:
        return text
    shown = float(text)
    if np.rint(shown) != np.rint(value) or shown % 1 == 0.5:
        return repr(value)
    return text


def _at(work: WorkedPixel) -> str:
    return f"({work.at[0]}, {work.at[1]})"


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
    one, many = AXIS_WORDS[taps.axis]
    positions = taps.positions
    if len(positions) == 1:
        return f"{one} {positions[0]}"
    return f"{many} {_runs(positions)}"


def _runs(numbers: Sequence[int]) -> str:
    """Numbers in order, consecutive ones as a range.

    >>> _runs([-3, -2, -1]), _runs([0, 2, 4]), _runs([5, 6, 8])
    ('-3 to -1', '0, 2 and 4', '5, 6 and 8')
    """
    if len(numbers) > 2 and all(b - a == 1 for a, b in pairwise(numbers)):
        return f"{numbers[0]} to {numbers[-1]}"
    return _and([str(number) for number in numbers])


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
        positions = [taps.positions[tap] for tap in padded]
        if len(padded) == 1:
            subject = f"{one} {positions[0]} is padding"
        else:
            subject = f"{many} {_runs(positions)} are padding"
        if work.pad_mode in ("zeros", "constant"):
            lines.append(f"{subject}: {work.pad_mode} gives {format_number(work.pad_value)}")
            continue
        sources = [taps.sources[tap] for tap in padded]
        if len(set(sources)) == 1:
            read = f"{one} {sources[0]}"
        else:
            read = f"{many} {_and([str(source) for source in sources])}, in that order"
        lines.append(f"{subject}: {work.pad_mode} gives the values of {read}")
    return lines


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _channel_parts(work: WorkedPixel, channel: ChannelWork) -> list[RenderableType]:
    parts: list[RenderableType] = []
    operator = isinstance(work.step, Operator)
    # Where the mapping rounds, a value shows which way it rounds; a float output rounds none.
    number = _number if work.mapping.range_mode is not None else format_number
    for index, (symbol, term) in enumerate(zip(("Gx", "Gy"), channel.terms, strict=False)):
        if operator:
            parts.append(Text(("\n" if index else "") + f"{symbol}: {term.kernel}", style="bold"))
        parts.append(_Matrices(_matrices(work, channel, term)))
        total = Text(sum_line(term, number))
        if operator:
            total = Text.assemble(f"{symbol} = ", total)
        parts.append(total)
    if operator:
        gx, gy = (term.total for term in channel.terms)
        parts.append(
            Text(
                f"sqrt(Gx^2 + Gy^2) = sqrt({_signed(gx, number)}^2 + {_signed(gy, number)}^2)"
                f" = {number(channel.combined)}"
            )
        )
    step, result = work.step, channel.combined
    coverage, hidden = work.coverage, False
    if coverage is not None:
        hidden = coverage.covered < TRANSPARENT
        if hidden:
            parts.append(Text("the filtered alpha is 0: nothing is there, and its colour is 0"))
        else:
            result = channel.combined / coverage.covered
            parts.append(
                Text(
                    f"divided by the filtered alpha: {_signed(channel.combined, number)}"
                    f" / {format_number(coverage.covered)} = {number(result)}"
                )
            )
    if (step.scale != 1 or step.bias != 0) and (
        coverage is None or coverage.covered >= TRANSPARENT
    ):
        parts.append(
            Text(
                f"scale and bias: {format_number(step.scale)}"
                f" x {_signed(result, number)} + {_signed(step.bias, number)}"
                f" = {number(channel.value)}"
            )
        )
    if _differs(work, channel):
        parts.append(
            Text(
                f"computed in {work.computed_in}, as apply computes this image:"
                f" {_computed(work, channel.computed)}"
            )
        )
    parts.append(Text(mapping_line(channel.mapped, work)))
    return parts


def _computed(work: WorkedPixel, value: float) -> str:
    """The core's value as its float type holds it, as short as it round-trips."""
    return str(np.float32(value)) if work.computed_in == "float32" else repr(value)


def _differs(work: WorkedPixel, channel: ChannelWork) -> bool:
    """Whether the core's value differs from the hand's where it shows: in the digits shown,
    or in a float output, which holds the core's value."""
    if channel.computed == channel.value:
        return False
    if work.mapping.range_mode is None:
        return True
    return _number(channel.computed) != _number(channel.value)


def sum_line(term: Products, number: Callable[[float], str] = format_number) -> str:
    """The sum of the products, its terms written out when there are few that are not 0;
    `number` writes the sum.

    >>> from convcli.pipeline.explain import Products
    >>> products = np.array([[0.0, -2.0], [0.0, -6.0]])
    >>> sum_line(Products("k", products, products, -8.0))
    'sum of the 4 products: -2 - 6 = -8'
    """
    terms = [float(value) for value in term.products.ravel() if value != 0]
    heading = f"sum of the {term.products.size} products"
    if not 1 < len(terms) <= _WRITTEN_TERMS:
        return f"{heading} = {number(term.total)}"
    written = format_number(terms[0])
    for value in terms[1:]:
        written += f" - {format_number(-value)}" if value < 0 else f" + {format_number(value)}"
    return f"{heading}: {written} = {number(term.total)}"


def _signed(value: float, number: Callable[[float], str] = format_number) -> str:
    """A value in parentheses when negative, so that it reads in a formula."""
    text = number(value)
    return f"({text})" if value < 0 else text


@dataclass(frozen=True)
class _Matrix:
    """A matrix to draw under its title; the window's rows and columns are labelled with
    their input positions, those in the padding marked and their cells dim."""

    title: str
    values: np.ndarray
    rows: AxisWindow | None = None
    columns: AxisWindow | None = None

    def column_width(self, column: int) -> int:
        """The widest text in `column`: its cells, and its label."""
        texts = [format_number(float(value)) for value in self.values[:, column]]
        if self.columns is not None:
            texts.append(_label(self.columns, column))
        return max(map(len, texts))

    def label_width(self) -> int:
        """The widest row label, or 0 for a matrix without them."""
        if self.rows is None:
            return 0
        return max(len(_label(self.rows, i)) for i in range(len(self.values)))

    def table(self, first: int = 0, stop: int | None = None, *, header: bool) -> Group:
        """Columns `first` to `stop` (all by default) under the title; with the window's
        labels, or an empty header line (`header`) to stand level with a labelled one."""
        stop = self.values.shape[1] if stop is None else stop
        title = self.title
        if stop - first == 1 and self.values.shape[1] > 1:
            title += f", tap {first} across"
        elif (first, stop) != (0, self.values.shape[1]):
            title += f", taps {first} to {stop - 1} across"
        table = Table(box=None, padding=(0, 1), show_edge=False, show_header=header)
        labelled = self.rows is not None
        if labelled:
            table.add_column("", style="dim", justify="right", no_wrap=True)
        for index in range(first, stop):
            label = "" if self.columns is None else _label(self.columns, index)
            table.add_column(label, justify="right", header_style="dim", no_wrap=True)
        for i, row in enumerate(self.values):
            in_row_padding = self.rows is not None and self.rows.in_padding(i)
            cells = []
            for j in range(first, stop):
                padded = in_row_padding or (self.columns is not None and self.columns.in_padding(j))
                cells.append(Text(format_number(float(row[j])), style="dim" if padded else ""))
            if self.rows is not None:
                table.add_row(_label(self.rows, i), *cells)
            else:
                table.add_row(*cells)
        return Group(Text(title, style="bold"), table)


def _matrices(work: WorkedPixel, channel: ChannelWork, term: Products) -> list[_Matrix]:
    """The window (times its alpha, when weighted), the kernel as applied (turned with
    --flip) and their products."""
    window = "window" if work.coverage is None else "window x alpha"
    return [
        _Matrix(window, channel.window, work.rows, work.columns),
        _Matrix("kernel, flipped" if work.flip else "kernel", term.weights),
        _Matrix("products", term.products),
    ]


def _label(taps: AxisWindow, tap: int) -> str:
    mark = _PADDING_MARK if taps.in_padding(tap) else ""
    return f"{taps.positions[tap]}{mark}"


class _Matrices:
    """Matrices in a row joined by ``x`` and ``=`` when the row fits the console; else one
    under the other, each cut into blocks of columns that fit: no number is ever shortened."""

    def __init__(self, matrices: Sequence[_Matrix]) -> None:
        self.matrices = matrices

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        unbounded = options.update(width=_UNBOUNDED)

        def width(renderable: RenderableType) -> int:
            return Measurement.get(console, unbounded, renderable).maximum

        whole = [matrix.table(header=True) for matrix in self.matrices]
        # Each matrix, then "x" or "=" with a space on either side.
        if sum(map(width, whole)) + 4 * (len(whole) - 1) <= options.max_width:
            row = Table.grid(padding=(0, 1))
            for _ in range(2 * len(whole) - 1):
                row.add_column()
            row.add_row(*_joined(whole, len(self.matrices[0].values)))
            yield row
            return
        for matrix in self.matrices:
            labelled = matrix.rows is not None
            yield from _blocks(matrix, options.max_width, width, header=labelled)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(1, options.max_width)


def _blocks(
    matrix: _Matrix, max_width: int, width: Callable[[RenderableType], int], *, header: bool
) -> Iterator[Group]:
    """`matrix` in blocks of as many columns as fit `max_width` (at least one).

    Each block's width is estimated from its cells' lengths (each column's widest, and a space
    either side), then measured once; a block the estimate made too wide loses columns.
    """
    columns = matrix.values.shape[1]
    widths = [matrix.column_width(j) + 2 for j in range(columns)]
    labels = matrix.label_width() + 2 if matrix.rows is not None else 0
    first = 0
    while first < columns:
        stop, used = first + 1, labels + widths[first]
        while stop < columns and used + widths[stop] <= max_width:
            used += widths[stop]
            stop += 1
        block = matrix.table(first, stop, header=header)
        while stop - first > 1 and width(block) > max_width:
            stop -= 1
            block = matrix.table(first, stop, header=header)
        yield block
        first = stop


def _joined(tables: Sequence[Group], rows: int) -> Iterable[RenderableType]:
    """The tables (of `rows` rows) with ``x`` and ``=`` between them, level with the middle
    row (under each table's title and header line)."""
    for index, table in enumerate(tables):
        if index:
            yield Text("\n" * (2 + rows // 2) + ("x" if index == 1 else "="))
        yield table


def mapping_line(mapped: MappedValue, work: WorkedPixel) -> str:
    """How the step's result becomes what the output holds, one operation at a time.

    >>> from types import SimpleNamespace
    >>> from convcli.pipeline.explain import MappedValue
    >>> from convcli.pipeline.rangemap import PixelMapping
    >>> work = SimpleNamespace(mapping=PixelMapping("8", "clip", 255, 1.0))
    >>> mapping_line(MappedValue("clip", 300.4, 300.4, 300.4, 300.0, 255.0), work)
    'range clip to 8-bit: 300.4, rounded 300, clamped to 0..255: 255'
    """
    mapping = work.mapping
    if mapped.mode is None:
        where = ".npy" if mapping.depth == "npy" else "32-bit float"
        return f"{where} output holds the value as it is: {_held(mapped)}"
    full = mapping.full_scale
    value = _number(mapped.value)
    steps = []
    if mapped.value_range is not None:  # rescale
        low, high = mapped.value_range
        if high > low:
            steps.append(
                f"the whole result runs {format_number(low)} to {format_number(high)}, so"
                f" ({value} - {_signed(low, _number)}) x {full}"
                f" / ({format_number(high)} - {_signed(low)})"
                f" = {_number(mapped.before_rounding)}"
            )
        else:
            steps.append(f"the whole result is {format_number(low)}: every pixel is 0")
    else:
        in_units = value
        if mapping.unit != 1:
            in_units = _number(mapped.in_units)
            steps.append(f"{value} x {format_number(mapping.unit)} = {in_units} in output units")
        if mapped.mode == "abs":
            steps.append(f"|{in_units}| = {_number(mapped.before_rounding)}")
        elif not steps:
            steps.append(value)
    if mapped.rounded != mapped.before_rounding:
        steps.append(f"rounded {format_number(mapped.rounded)}")
    if mapped.clamped:
        steps.append(f"clamped to 0..{full}: {format_number(mapped.final)}")
    return f"range {mapped.mode} to {mapping.depth}-bit: {', '.join(steps)}"
