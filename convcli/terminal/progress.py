"""The progress bar of one large image: rows written, their rate, the time left, on stderr.

It appears only once a run has taken a couple of seconds (a small image finishes before it
would be seen), only while stderr is a terminal, and not when asked to be quiet.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from convcli.terminal.console import stderr_console, stderr_is_terminal

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

SHOWN_AFTER = 2.0
"""Seconds a run takes before its bar appears."""


@contextmanager
def rows_progress(
    name: str, *, quiet: bool = False, shown_after: float = SHOWN_AFTER
) -> Iterator[Callable[[int, int], None] | None]:
    """A callback for ``(rows written, rows in all)`` that draws the bar of image `name`, or
    None when nothing would be drawn (quiet, or stderr is not a terminal)."""
    if quiet or not stderr_is_terminal():
        yield None
        return
    started = time.monotonic()
    shown: list[tuple[Progress, TaskID]] = []

    def update(done: int, total: int) -> None:
        if not shown:
            if time.monotonic() - started < shown_after:
                return
            shown.append(_started_bar(name, total))
        bar, task = shown[0]
        rate = done / max(1e-9, time.monotonic() - started)
        bar.update(task, completed=done, total=total, rate=f"{rate:,.0f} rows/s")

    try:
        yield update
    finally:
        if shown:
            shown[0][0].stop()


def _started_bar(name: str, total: int) -> tuple[Progress, TaskID]:
    bar = progress_bar("rows")
    bar.start()
    return bar, bar.add_task(name, total=total, rate="")


def progress_bar(unit: str) -> Progress:
    """A Rich progress bar on stderr of things counted in `unit` (``files``, ``rows``): the
    bar, done/total, the percentage, the field ``rate`` as the caller writes it, the time
    spent and left, and the task's description. Not started."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}", markup=False),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.description}", markup=False),
        console=stderr_console(),
        transient=unit == "rows",  # a file's bar goes when it is written; a batch's stays
        redirect_stdout=False,  # stdout is for the image, the JSON records
        redirect_stderr=False,
    )
