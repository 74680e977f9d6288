"""The progress bar of one large image: rows written, their rate, the time left, on stderr.

It appears only once a run has taken a couple of seconds (a small image finishes before it
would be seen), only while stderr is a terminal, and not when asked to be quiet.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from convcli.terminal.console import stderr_console

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
    console = stderr_console()
    if quiet or not console.is_terminal:
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
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}", markup=False),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr_console(),
        transient=True,
        redirect_stdout=False,  # stdout is for the image or the JSON record
        redirect_stderr=False,
    )
    bar.start()
    return bar, bar.add_task(name, total=total, rate="")
