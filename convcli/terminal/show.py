"""Image files drawn in the terminal: what ``convcli show`` and ``apply --preview`` run.

Every file's header is read first, so that a bad file is an error before anything is drawn
and the layout knows every size; then each file's pixels are decoded a strip at a time and
reduced to the cells they are drawn in (:mod:`convcli.terminal.preview`), one file after another, so
memory stays that of one decoded image. A drawing is for a terminal: when stdout is not one,
a line on stderr says so and nothing is drawn.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from convcli.core.params import Pair
from convcli.errors import ImageReadError, ImageWarning, ParameterError
from convcli.imageio.files import STDIN_NAME, bytes_or_path, read_once, same_file
from convcli.imageio.reading import DEFAULT_MAX_PIXELS, ImageInfo, open_image
from convcli.terminal.console import report_note, report_warning, stderr_console, stdout_console
from convcli.terminal.preview import Tile, caption, display_pixels, fit, gallery

if TYPE_CHECKING:  # `show` needs neither: the filtering modules are for `apply --preview`
    from convcli.imageio.files import Job
    from convcli.pipeline.apply import ImageOptions

# Lines a drawing leaves free on the terminal, so that it is seen whole: the first captions',
# and the prompt's after it.
_FREE_LINES = 2


@dataclass(frozen=True, kw_only=True)
class Source:
    """An image file to draw and how to read it: by default in colour, alpha composited."""

    data: Path | bytes
    """A path, or the bytes already read from standard input or a named pipe."""
    name: str
    """How the caption and messages name it: the path as given, or ``-``."""
    color: bool = True
    """Colour as it is; False: gray by `gray`'s weights, as ``apply`` reads it."""
    gray: str = "rec601"
    keep_alpha: bool = True
    auto_orient: bool = True
    max_pixels: int | None = DEFAULT_MAX_PIXELS


def read_sources(
    paths: Sequence[Path], *, auto_orient: bool = True, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> list[Source]:
    """Each of `paths` to draw, by :func:`read_source`.

    Raises
    ------
    ParameterError
        Before anything is read, if standard input (``-``), a named pipe or a device is given
        twice: what it gave the first time, it would not give again.
    """
    once: list[Path] = []
    for path in paths:
        if str(path) == STDIN_NAME:
            if any(str(other) == STDIN_NAME for other in once):
                raise ParameterError("standard input can be read only once: give - at most once")
        elif read_once(path):
            if any(str(other) != STDIN_NAME and same_file(path, other) for other in once):
                raise ParameterError(
                    f"{str(path)!r} is a named pipe or a device, which can be read only once:"
                    " give it at most once"
                )
        else:
            continue
        once.append(path)
    return [read_source(path, auto_orient=auto_orient, max_pixels=max_pixels) for path in paths]


def read_source(
    path: Path, *, auto_orient: bool = True, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> Source:
    """`path` to draw (``-``: standard input). What can be read only once (standard input,
    a named pipe) is read now: a drawing reads each file twice, its header then its pixels."""
    data: Path | bytes = path
    if str(path) == STDIN_NAME:
        return replace(_stdin_source(), auto_orient=auto_orient, max_pixels=max_pixels)
    if read_once(path):
        data = bytes_or_path(path)
    return Source(data=data, name=str(path), auto_orient=auto_orient, max_pixels=max_pixels)


def _stdin_source() -> Source:
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise ImageReadError("cannot read standard input: it is closed")
    return Source(data=stream.read(), name=STDIN_NAME)


def draw(
    sources: Sequence[Source], *, command: str, width: int | None = None, above: int = 0
) -> None:
    """Draw `sources` on stdout, side by side when they fit, each under its name and size.

    Parameters
    ----------
    command
        What draws, as the line said when stdout is not a terminal names it.
    width
        Cells wide; None: the terminal's width, the drawing also fitting its height.
    above
        Lines printed on the terminal just before, which the drawing leaves in sight.

    Raises
    ------
    ImageReadError
        If a file cannot be read or is no picture (an ``.npy`` of 2 or over 3 channels),
        whether or not stdout is a terminal: every header is read first.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImageWarning)  # said once, when the pixels are read
        infos = [_header(source) for source in sources]
    console = stdout_console()
    if not console.is_terminal:
        report_note(f"stdout is not a terminal; {command} draws only on a terminal")
        return
    rows = None
    if width is None:
        width, rows = console.width, max(1, console.height - _FREE_LINES - above)
    else:
        console.width = width  # as asked, even wider than the terminal
    captions = [caption(s.name, info.size) for s, info in zip(sources, infos, strict=True)]

    def tile(number: int, grid: Pair, lines: int | None) -> Tile:
        return _tile(sources[number], grid, lines)

    console.print(gallery([info.size for info in infos], captions, width, tile, rows=rows))


def _header(source: Source) -> ImageInfo:
    """The header of `source`, checked to hold a picture: one channel or three."""
    with open_image(
        source.data, name=source.name, auto_orient=source.auto_orient, max_pixels=source.max_pixels
    ) as image:
        info = image.info
    if info.channels not in (1, 3):
        raise ImageReadError(
            f"cannot draw {source.name!r}: it has {info.channels} channels; a picture has 1"
            " (gray) or 3 (colour)"
        )
    return info


def _tile(source: Source, grid: Pair, rows: int | None) -> Tile:
    """`source` decoded a strip at a time into `grid`, as apply decodes it."""
    with open_image(
        source.data, name=source.name, auto_orient=source.auto_orient, max_pixels=source.max_pixels
    ) as image:
        decoded = image.decode_rows(
            color=source.color, gray=source.gray, keep_alpha=source.keep_alpha
        )
        size = decoded.info.size
        if size != image.info.size:
            # A PNG may tell its orientation only after its pixels: the grid was planned for
            # the header's size, the other way round. The same width, refitted.
            grid = fit(size, grid[1], rows)
        max_value = decoded.info.max_value
        alpha = decoded.alpha if max_value is not None else None
        pixels = display_pixels(decoded.values, grid, max_value=max_value, alpha=alpha)
    return Tile(caption(source.name, size), pixels)


class ApplyPreview:
    """``apply --preview``: the input as apply reads it, drawn beside the output file once
    it is written, read back from it (what landed in the file, not what was computed).

    The input is kept before apply runs where apply's own read would leave nothing to read
    again: standard input and a named pipe (read into memory; apply reads that copy), or an
    input the output will replace (``--force``).

    Raises
    ------
    ParameterError
        If the output is a device or a named pipe: nothing could be read back from it.
    """

    def __init__(self, job: Job, options: ImageOptions) -> None:
        output = job.destination
        if not isinstance(output, Path):
            raise ParameterError("--preview reads OUTPUT back: it cannot be '-'")
        if read_once(output):
            raise ParameterError(
                f"--preview reads OUTPUT back, so it must be a file, not a device or a named"
                f" pipe: {str(output)!r}"
            )
        self.output = output
        self.on_terminal = stdout_console().is_terminal
        self.job = job
        """The job apply runs: the given one, or one that reads the kept input."""
        self._input: Source | None = None
        """The input to draw; None when stdout is not a terminal: nothing is drawn or kept."""
        if not self.on_terminal:
            return
        from convcli.imageio.files import with_input_kept

        self.job, data = with_input_kept(job)
        if isinstance(data, Path) and same_file(data, output):
            data = bytes_or_path(data)  # as it was before apply replaces it
        self._input = Source(
            data=data,
            name=job.names()[0],
            color=options.color,
            gray=options.gray,
            keep_alpha=options.keep_alpha,
            auto_orient=options.auto_orient,
            max_pixels=options.max_pixels,
        )

    def draw(self) -> None:
        """Draw the input and the output side by side (or one under the other), or say on
        stderr why not: stdout is not a terminal, or one of them is no picture (an ``.npy``
        of 2 channels). The output is written by then: a drawing that cannot be made is a
        warning, not a failure of the run."""
        if self._input is None:
            report_note("stdout is not a terminal; --preview draws only on a terminal")
            return
        # convcli wrote the output: no limit to read it back.
        output = Source(data=self.output, name=str(self.output), max_pixels=None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ImageWarning)  # apply said them already
            # apply's line on stderr ("wrote ..."), when it is a terminal, stays in sight.
            above = 1 if stderr_console().is_terminal else 0
            try:
                draw([self._input, output], command="--preview", above=above)
            except ImageReadError as error:  # every header is read before anything is drawn
                report_warning(f"--preview {error}")
