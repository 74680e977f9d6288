"""A batch as the command line runs it: the inputs gathered and checked, then the progress
bar, each failure as it happens, the summary.

stdout carries only data (JSON Lines with ``--json``, planned outputs with ``--dry-run``);
everything here for people goes to stderr, and the progress bar only while stderr is a
terminal.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from convcli.core.methods import default_threads
from convcli.core.params import ConvParams
from convcli.errors import ImageWriteError, ParameterError
from convcli.imageio.files import Job
from convcli.kernels.kernel import Step
from convcli.pipeline.apply import ImageOptions
from convcli.pipeline.batch import FileResult, plan, planned_record, read_input_list, run_jobs
from convcli.pipeline.chain import check_method
from convcli.terminal.console import echo_product, report_error, report_warning, stderr_console

if TYPE_CHECKING:
    from rich.progress import Progress


@dataclass(frozen=True)
class BatchRequest:
    """The batch options of ``apply``, as given."""

    out_dir: Path
    suffix: str
    inputs_from: IO[str] | None
    jobs: int | None
    quiet: bool
    dry_run: bool
    as_json: bool


def apply_batch(
    paths: Sequence[Path],
    request: BatchRequest,
    chain: Sequence[Step],
    params: ConvParams,
    image: ImageOptions,
) -> int:
    """``apply`` on many inputs: the number of files that failed (each said as it happened).

    Raises
    ------
    ParameterError
        Before any work, for what every file would refuse (see :func:`convcli.pipeline.batch.plan`).
    ImageWriteError
        If the output directory cannot be made.
    """
    inputs = list(paths)
    if request.inputs_from is not None:
        inputs += read_input_list(request.inputs_from)
    if any(str(path) == "-" for path in inputs):
        raise ParameterError("a batch reads files: '-' (standard input) is not one")
    if not inputs and request.inputs_from is None:
        raise ParameterError("no INPUT to process")
    # A chain that --method cannot run is refused once, before any file: float32 judges
    # separability most leniently, so what it refuses every image would.
    check_method(chain, image.method, dtype=np.float32)
    jobs = plan(
        inputs,
        request.out_dir,
        suffix=request.suffix,
        output_format=image.output_format,
        force=image.force,
    )
    if not request.dry_run:
        try:
            request.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ImageWriteError(
                f"cannot make the output directory {str(request.out_dir)!r}:"
                f" {error.strerror or error}"
            ) from None
    workers = max(1, min(request.jobs or default_threads(), len(jobs)))
    settings = BatchSettings(
        workers, as_json=request.as_json, quiet=request.quiet, dry_run=request.dry_run
    )
    return run_batch(jobs, chain, params, image, settings)


@dataclass(frozen=True)
class BatchSettings:
    """How a batch runs and what it says."""

    workers: int
    as_json: bool = False
    quiet: bool = False
    """No progress bar and no summary; errors are still reported."""
    dry_run: bool = False


def run_batch(
    jobs: Sequence[Job],
    steps: Sequence[Step],
    params: ConvParams,
    options: ImageOptions,
    settings: BatchSettings,
) -> int:
    """Run (or, with ``dry_run``, plan) every job; the number of files that failed."""
    if settings.dry_run:
        return _plan_only(jobs, steps, params, options, settings)
    failed = 0
    progress = _progress(settings)
    task = progress.add_task("", total=len(jobs), rate="") if progress else None

    def on_result(result: FileResult) -> None:
        nonlocal failed
        # Through the bar's console while it shows: the line goes above the bar, not into it.
        console = None if progress is None else progress.console
        for warning in result.warnings:
            report_warning(warning, console=console)
        if not result.ok:
            failed += 1
            report_error(_naming(result.job, str(result.record["error"])), console=console)
        if settings.as_json:
            echo_product(json.dumps(result.record))
        if progress is not None and task is not None:
            done = progress.tasks[0].completed + 1
            elapsed = progress.tasks[0].elapsed or 0.0
            rate = f"{done / elapsed:.1f} files/s" if elapsed > 0 else ""
            progress.update(task, advance=1, rate=rate)

    def on_start(job: Job) -> None:
        if progress is not None and task is not None:
            progress.update(task, description=str(job.names()[0]))

    try:
        if progress is not None:
            progress.start()
        run_jobs(
            jobs,
            steps,
            params,
            options,
            workers=settings.workers,
            on_result=on_result,
            on_start=on_start,
        )
    finally:
        if progress is not None:
            progress.stop()
    console = stderr_console()
    if not settings.quiet and (console.is_terminal or failed):
        written = len(jobs) - failed
        console.print(
            f"{written} written, {failed} failed", soft_wrap=True, markup=False, highlight=False
        )
    return failed


def _plan_only(
    jobs: Sequence[Job],
    steps: Sequence[Step],
    params: ConvParams,
    options: ImageOptions,
    settings: BatchSettings,
) -> int:
    """Print each output and its shape, from the inputs' headers; write nothing."""
    failed = 0
    for job in jobs:
        record = planned_record(job, steps, params, options)
        if record["status"] == "error":
            failed += 1
            report_error(_naming(job, str(record["error"])))
        if settings.as_json:
            echo_product(json.dumps(record))
        elif record["status"] != "error":
            height, width = record["output_shape"]
            echo_product(f"{job.destination}\t{height}x{width}")
    return failed


def _progress(settings: BatchSettings) -> Progress | None:
    """A Rich progress bar on stderr, or None when it is not a terminal or when quiet."""
    console = stderr_console()
    if settings.quiet or not console.is_terminal:
        return None
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
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}", markup=False),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.description}", markup=False),
        console=console,
        redirect_stdout=False,  # stdout is for the JSON records, whatever stderr is
        redirect_stderr=False,
    )


def _naming(job: Job, message: str) -> str:
    """`message`, led by the input's name unless it says it already."""
    return message if str(job.source) in message else f"{job.source}: {message}"
