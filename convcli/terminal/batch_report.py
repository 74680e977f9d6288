"""A batch as the command line runs it: the progress bar, each failure as it happens, the
summary.

stdout carries only data (JSON Lines with ``--json``, planned outputs with ``--dry-run``);
everything here for people goes to stderr, and the progress bar only while stderr is a
terminal.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from convcli.imageio.files import Job
from convcli.pipeline.batch import BatchRequest, batch_workers, plan_batch, run_jobs
from convcli.pipeline.job import FileResult, Recipe, plan_job
from convcli.terminal.console import echo_product, report_error, report_warning, stderr_console
from convcli.terminal.progress import progress_bar

if TYPE_CHECKING:
    from rich.progress import Progress


@dataclass(frozen=True)
class BatchReporting:
    """What a batch says as it runs."""

    as_json: bool = False
    """Each file's record, a line of JSON on stdout."""
    quiet: bool = False
    """No progress bar and no summary; errors are still reported."""


Runner = Callable[[Callable[[FileResult], None], Callable[[Job], None]], None]
"""Runs a batch's jobs, calling (on_result, on_start) as :func:`run_jobs` does."""


def apply_batch(
    paths: Sequence[Path],
    request: BatchRequest,
    recipe: Recipe,
    reporting: BatchReporting = BatchReporting(),
) -> int:
    """``apply`` on many inputs (or, with ``request.dry_run``, their plan): the number of
    files that failed, each said as it happened.

    Raises
    ------
    ParameterError
        Before any work, for what every file would refuse (see
        :func:`convcli.pipeline.batch.plan_batch`).
    ImageWriteError
        If the output directory cannot be made.
    """
    jobs = plan_batch(paths, request, recipe)
    if request.dask is not None:
        return _on_cluster(request.dask, jobs, request, recipe, reporting)
    if request.dry_run:
        return _plan_only(jobs, recipe, reporting)
    workers = batch_workers(request, jobs)

    def run(on_result: Callable[[FileResult], None], on_start: Callable[[Job], None]) -> None:
        run_jobs(jobs, recipe, workers=workers, on_result=on_result, on_start=on_start)

    return run_batch(jobs, run, reporting)


def _on_cluster(
    address: str,
    jobs: Sequence[Job],
    request: BatchRequest,
    recipe: Recipe,
    reporting: BatchReporting,
) -> int:
    """The batch on the Dask cluster at `address` (see :mod:`convcli.pipeline.cluster`),
    checked before any file is sent; or, for a dry run, the checks and the plan."""
    from convcli.pipeline.cluster import check_cluster, connect, run_jobs_on_cluster

    client = connect(address, timeout=request.dask_timeout)
    try:
        check_cluster(client, jobs, request.out_dir, output_made=not request.dry_run)
        if request.dry_run:
            return _plan_only(jobs, recipe, reporting)

        def run(on_result: Callable[[FileResult], None], on_start: Callable[[Job], None]) -> None:
            def started_and_done(result: FileResult) -> None:
                on_start(result.job)  # the bar names the file last done
                on_result(result)

            run_jobs_on_cluster(client, jobs, recipe, on_result=started_and_done)

        return run_batch(jobs, run, reporting)
    finally:
        with contextlib.suppress(Exception):  # a scheduler gone already: nothing to close
            client.close(timeout=2)


def run_batch(jobs: Sequence[Job], run: Runner, reporting: BatchReporting) -> int:
    """Run every job by `run`, with the bar, the errors as they come, the records and the
    summary: the number of files that failed."""
    failed = 0
    progress = _progress(reporting)
    task = progress.add_task("", total=len(jobs), rate="") if progress else None

    def on_result(result: FileResult) -> None:
        nonlocal failed
        # Through the bar's console while it shows: the line goes above the bar, not into it.
        console = None if progress is None else progress.console
        for warning in result.warnings:
            report_warning(warning, console=console)
        if result.error is not None:
            failed += 1
            report_error(_naming(result.job, str(result.error)), console=console)
        if reporting.as_json:
            echo_product(json.dumps(result.record.to_json()))
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
        run(on_result, on_start)
    finally:
        if progress is not None:
            progress.stop()
    console = stderr_console()
    if not reporting.quiet and (console.is_terminal or failed):
        written = len(jobs) - failed
        console.print(
            f"{written} written, {failed} failed", soft_wrap=True, markup=False, highlight=False
        )
    return failed


def _plan_only(jobs: Sequence[Job], recipe: Recipe, reporting: BatchReporting) -> int:
    """Print each output and its shape, from the inputs' headers; write nothing."""
    failed = 0
    for job in jobs:
        record = plan_job(job, recipe)
        if record.error is not None:
            failed += 1
            report_error(_naming(job, record.error))
        if reporting.as_json:
            echo_product(json.dumps(record.to_json()))
        elif record.planned is not None:
            rows, cols = record.planned.steps[-1]
            echo_product(f"{job.destination}\t{rows.output}x{cols.output}")
    return failed


def _progress(reporting: BatchReporting) -> Progress | None:
    """A Rich progress bar on stderr, or None when it is not a terminal or when quiet."""
    if reporting.quiet or not stderr_console().is_terminal:
        return None
    return progress_bar("files")


def _naming(job: Job, message: str) -> str:
    """`message`, led by the input's name unless it says it already."""
    return message if str(job.source) in message else f"{job.source}: {message}"
