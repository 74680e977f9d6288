"""The two Rich consoles: a command's product on stdout, messages for people on stderr.

Rich is imported when something is printed, not before: it costs ~25 ms, which what Click
prints by itself (``--help``, ``--version``) need not pay.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from convcli.errors import OutputClosedError

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

# Output that is not for a terminal (a pipe, a file) is not wrapped at 80 columns.
_PIPE_WIDTH = 160


def stdout_console() -> Console:
    """The console for a command's product, on stdout."""
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = _PIPE_WIDTH
    _fit_dumb_terminal(console)
    return console


_RICH_TERMINAL_VARIABLES = ("TTY_COMPATIBLE", "FORCE_COLOR", "TTY_INTERACTIVE", "FORCE_TERMINAL")
"""What makes Rich call a stream a terminal, or not, whatever the stream says of itself."""


def stderr_is_terminal() -> bool:
    """Whether :func:`stderr_console` writes to a terminal; without importing Rich (tens of
    milliseconds) when plainly not: stderr is no terminal and nothing tells Rich otherwise."""
    if not any(name in os.environ for name in _RICH_TERMINAL_VARIABLES):
        isatty = getattr(sys.stderr, "isatty", None)
        try:
            if isatty is None or not isatty():
                return False
        except ValueError:  # closed
            return False
    return stderr_console().is_terminal


def stderr_console() -> Console:
    """The console for messages and explanations, on stderr."""
    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    if not console.is_terminal:
        console.width = _PIPE_WIDTH
    _fit_dumb_terminal(console)
    return console


def _fit_dumb_terminal(console: Console) -> None:
    """Give a dumb terminal (``TERM=dumb``, as Emacs's shell sets) its real size.

    Rich takes one for 80x25 unless both COLUMNS and LINES are set, and Emacs sets only
    COLUMNS: each is taken from the environment when set, else from the terminal itself.
    """
    if not console.is_dumb_terminal:
        return
    try:
        real = os.get_terminal_size(console.file.fileno())
    except (AttributeError, ValueError, OSError):  # no file descriptor, or not a terminal's
        return
    # A terminal that does not know its size says 0x0: then Rich's own guess, 80x25.
    columns = _from_environ("COLUMNS") or real.columns or 80
    lines = _from_environ("LINES") or real.lines or 25
    console.size = (columns, lines)


def _from_environ(name: str) -> int | None:
    """A positive size in the environment variable `name`, or None."""
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def print_product(renderable: RenderableType) -> None:
    """Print a command's product on stdout; in a pipe, without Rich's trailing padding.

    Raises
    ------
    OutputClosedError
        If stdout is closed (``>&-``).
    """
    _print_trimmed(stdout_console(), renderable, _stdout())


def echo_product(text: str, *, newline: bool = True) -> None:
    """Write `text`, a command's product as it is (JSON, a kernel file), on stdout.

    Raises
    ------
    OutputClosedError
        If stdout is closed (``>&-``).
    """
    stdout = _stdout()
    stdout.write(text + "\n" if newline else text)
    stdout.flush()


def _stdout() -> TextIO:
    """sys.stdout, or a refusal when it is closed: Python then sets it to None."""
    if sys.stdout is None:
        raise OutputClosedError("cannot write standard output: it is closed")
    return sys.stdout


def print_explanation(renderable: RenderableType) -> None:
    """Print an explanation for people on stderr; in a pipe or a file, without Rich's
    trailing padding."""
    _print_trimmed(stderr_console(), renderable, sys.stderr)


def _print_trimmed(console: Console, renderable: RenderableType, stream: TextIO) -> None:
    if console.is_terminal:
        console.print(renderable)
        return
    with console.capture() as capture:
        console.print(renderable)
    lines = capture.get().splitlines()
    stream.write("".join(line.rstrip() + "\n" for line in lines))


def report_error(
    message: str, details: Sequence[str] = (), *, console: Console | None = None
) -> None:
    """Print one line saying what is wrong, then any detail lines, on stderr (through
    `console` if given: a live progress bar's, which then moves below the line)."""
    from rich.text import Text

    console = console or stderr_console()
    console.print(Text.assemble(("convcli: error: ", "bold red"), message), soft_wrap=True)
    for line in details:
        console.print(Text(f"  {line}"), soft_wrap=True)


def report_warning(message: str, *, console: Console | None = None) -> None:
    """Print one line of warning on stderr (through `console` if given, as above)."""
    from rich.text import Text

    (console or stderr_console()).print(
        Text.assemble(("convcli: warning: ", "bold yellow"), message), soft_wrap=True
    )


def report_note(message: str) -> None:
    """Print one line saying why a command did not do its usual thing, on stderr, even when
    stderr is not a terminal: a script's log should say why nothing was drawn."""
    from rich.text import Text

    stderr_console().print(Text(f"convcli: {message}"), soft_wrap=True)


def show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A :func:`warnings.showwarning` that prints one line, without Python's source excerpt."""
    report_warning(str(message))
