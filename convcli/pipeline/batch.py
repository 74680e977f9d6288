"""Many images through one chain: the output names, the work shared among processes, a result
per file. One bad file does not stop the others.

Each file goes through :func:`convcli.pipeline.apply.apply_to_image`, the single-file path itself,
in this process (one job) or in worker processes (several): results are the same either way.
Workers split the cores among themselves, so jobs and the core's threads together never ask
for more threads than there are cores, and each worker has one file in hand, so a batch of
10,000 files holds a handful of images, not 10,000.
"""

from __future__ import annotations

import io
import os
import signal
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from convcli.core.methods import default_threads
from convcli.core.params import ConvParams
from convcli.errors import ConvcliError, ImageWarning, ImageWriteError, ParameterError
from convcli.imageio.files import STDOUT_NAME, Job, same_file, with_input_kept
from convcli.imageio.writing import choose_format
from convcli.kernels.kernel import Step
from convcli.pipeline.apply import (
    ApplyReport,
    ImageOptions,
    apply_to_image,
    error_record,
    plan_image,
)
from convcli.pipeline.explain import WorkedPixel, explain_image


@dataclass(frozen=True)
class FileResult:
    """What became of one job: its JSON record, the error if it failed, the warnings met."""

    job: Job
    record: dict[str, Any]
    """:meth:`~convcli.pipeline.apply.ApplyReport.record`, or :func:`error_record` on failure."""
    warnings: tuple[str, ...] = ()
    report: ApplyReport | None = None
    error: ConvcliError | None = None
    """The file's error; None on success, and for lack of memory (the record says so)."""
    worked: WorkedPixel | None = None
    """The output pixel ``apply --at`` asked for, worked by hand; None without it."""

    @property
    def ok(self) -> bool:
        return bool(self.record["status"] == "ok")


def read_input_list(stream: IO[str]) -> list[Path]:
    """The paths in a list of inputs, one a line (``find`` prints them so); blank lines skipped.

    >>> import io
    >>> read_input_list(io.StringIO("a.png\\n\\nphotos/b c.jpg\\r\\n"))
    [PosixPath('a.png'), PosixPath('photos/b c.jpg')]
    """
    return [Path(line.rstrip("\r\n")) for line in stream if line.strip()]


def output_path(
    source: Path, out_dir: Path, *, suffix: str = "", output_format: str | None
) -> Path:
    """Where `source` is written: its stem, then `suffix`, then the extension of
    `output_format` (as given: ``jpg`` gives ``.jpg``) or else the input's own.

    >>> output_path(Path("in/cat.jpeg"), Path("out"), suffix="_edges", output_format=None)
    PosixPath('out/cat_edges.jpeg')
    >>> output_path(Path("in/cat.jpeg"), Path("out"), output_format="png")
    PosixPath('out/cat.png')

    Raises
    ------
    ParameterError
        If the input has no extension and no ``--format`` names one.
    """
    if output_format is None:
        if not source.suffix:
            raise ParameterError(
                f"{str(source)!r} has no extension to keep: name the output format with --format"
            )
        extension = source.suffix
        choose_format(f"x{extension}", None)  # one convcli writes, or refused before any work
    else:
        fmt = choose_format(f"x.{output_format}", None)  # refuses a format convcli lacks
        named = f".{output_format.lower()}"
        extension = named if named in fmt.extensions else fmt.extensions[0]
    return out_dir / f"{source.stem}{suffix}{extension}"


def plan(
    sources: Sequence[Path],
    out_dir: Path,
    *,
    suffix: str = "",
    output_format: str | None = None,
    force: bool = False,
) -> list[Job]:
    """A job for each input, checked before any work: no two may write the same output.

    Raises
    ------
    ParameterError
        Naming the first two inputs that would write one output (the same input given twice
        included), an input its own output would replace (unless `force`), an input whose
        output format is unknown, or a `suffix` that would leave `out_dir`.
    """
    if "/" in suffix or (os.sep in suffix) or (os.altsep and os.altsep in suffix):
        raise ParameterError(
            f"--suffix {suffix!r} holds a path separator: outputs stay in --out-dir"
        )
    jobs: list[Job] = []
    first_writer: dict[Path, Path] = {}
    inputs = {source.resolve() for source in sources}
    for source in sources:
        destination = output_path(source, out_dir, suffix=suffix, output_format=output_format)
        if destination in first_writer:
            earlier = first_writer[destination]
            if earlier == source:
                raise ParameterError(f"{str(source)!r} is given twice")
            raise ParameterError(
                f"{str(earlier)!r} and {str(source)!r} would both write {str(destination)!r};"
                " tell them apart with --suffix"
            )
        first_writer[destination] = source
        if destination.resolve() in inputs and not same_file(source, destination):
            raise ParameterError(
                f"{str(source)!r} would write {str(destination)!r}, another input of the batch;"
                " give --suffix or another --out-dir"
            )
        if same_file(source, destination) and not force:
            raise ParameterError(
                f"{str(source)!r} would be written over by its own output: give --suffix, another"
                " --out-dir or --format, or --force"
            )
        jobs.append(Job(source, destination))
    return jobs


def threads_per_job(jobs: int, threads: int | None) -> int:
    """The core's threads for each of `jobs` workers: `threads` if given, else the cores
    shared out, at least one each.

    >>> threads_per_job(4, None) >= 1, threads_per_job(2, 3)
    (True, 3)
    """
    return threads if threads is not None else max(1, default_threads() // jobs)


def process(
    job: Job,
    steps: Sequence[Step],
    params: ConvParams,
    options: ImageOptions,
    *,
    at: tuple[int, int] | None = None,
) -> FileResult:
    """Run one job, a single file's or a batch's: an error of the file's own becomes its
    record (and its `error`), never an exception.

    With `at` (``apply --at``), that output pixel is worked by hand first (see
    :mod:`convcli.pipeline.explain`), so that a pixel outside the output fails the job before
    anything is written; an input that one reading would use up (standard input, a named
    pipe) is kept in memory for both readings.
    """
    source, destination = job.names()
    started = time.perf_counter()
    report, error, worked = None, None, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if at is not None:
                job, worked = _work_pixel(job, steps, params, at, options)
            report = apply_to_image(
                job.source, job.destination, steps, params, options, source_name=source
            )
            record = report.record(ms=_ms_since(started))
        except ConvcliError as failure:
            error = failure
            record = error_record(source, destination, str(failure), ms=_ms_since(started))
        except MemoryError:
            message = f"not enough memory for {source!r} and this chain"
            record = error_record(source, destination, message, ms=_ms_since(started))
    messages = tuple(str(warning.message) for warning in caught)
    return FileResult(job, record, messages, report, error, worked)


def _work_pixel(
    job: Job,
    steps: Sequence[Step],
    params: ConvParams,
    at: tuple[int, int],
    options: ImageOptions,
) -> tuple[Job, WorkedPixel]:
    """Output pixel `at` of `job` worked by hand, and the job to run, which reads its input
    from memory where reading it would use it up."""
    job, kept = with_input_kept(job)
    source = io.BytesIO(kept) if isinstance(kept, bytes) else kept
    destination = job.names()[1] if isinstance(job.destination, Path) else STDOUT_NAME
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImageWarning)  # the run itself says them, once
        worked = explain_image(
            source, steps, params, at, options, destination=destination, name=job.names()[0]
        )
    return job, worked


def planned_record(
    job: Job, steps: Sequence[Step], params: ConvParams, options: ImageOptions
) -> dict[str, Any]:
    """What running `job` would write, from the input's header and every check the run
    makes before decoding: a record with status ``planned`` (or ``error``) and no values."""
    source, destination = job.names()
    started = time.perf_counter()
    assert isinstance(job.source, Path), "a batch reads files"
    assert isinstance(job.destination, Path), "a batch writes files"
    try:
        made = not job.destination.parent.exists()  # the run makes --out-dir first
        planned = plan_image(
            job.source, job.destination, steps, params, options, directory_made=made
        )
    except ConvcliError as error:
        return error_record(source, destination, str(error), ms=_ms_since(started))
    rows, cols = planned.steps[-1]
    return {
        **error_record(source, destination, "", ms=_ms_since(started)),
        "status": "planned",
        "error": None,
        "input_shape": list(planned.info.size),
        "output_shape": [rows.output, cols.output],
        "kernels": [step.name for step in steps],
        "format": planned.format,
        "depth": planned.depth,
    }


def run_jobs(
    jobs: Sequence[Job],
    steps: Sequence[Step],
    params: ConvParams,
    options: ImageOptions,
    *,
    workers: int,
    on_result: Callable[[FileResult], None],
    on_start: Callable[[Job], None] = lambda job: None,
) -> None:
    """Run every job, on `workers` processes (1: in this one), calling `on_start` as each
    is handed over and `on_result` as each finishes (in the order they finish), both in
    this process.

    On Ctrl-C (or SIGTERM in this process), no new file is started; the files being written
    are finished and reported (so none is left half-written, and what is reported is what is
    on disk), then the interruption goes on; a second Ctrl-C stops them at once.
    """
    if workers < 1:
        raise ParameterError(f"jobs must be at least 1, got {workers}")
    options = replace(options, threads=threads_per_job(workers, options.threads))
    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            on_start(job)
            on_result(process(job, steps, params, options))
        return
    pending = iter(jobs)
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_interrupts)
    running: dict[Future[FileResult], Job] = {}
    try:
        # One file a worker at a time: a file handed over cannot be taken back, and on Ctrl-C
        # none may start. Each worker's next file waits in this process, not in the pool.
        for _ in range(workers):
            _submit_next(pool, pending, running, (steps, params, options), on_start)
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for finished in done:
                result = finished.result()
                # What is left in `running` is not reported yet: a result leaves it as it is
                # reported, never one without the other, or Ctrl-C in between would lose it.
                with _interruptions_held():
                    on_result(result)
                    del running[finished]
                _submit_next(pool, pending, running, (steps, params, options), on_start)
    except BrokenProcessPool:  # a worker was killed: by the system for memory, say
        _report_lost(list(running.values()), on_result)
        running.clear()
        raise ImageWriteError(
            "a worker process died (out of memory?): the batch stopped with"
            f" {len(list(pending))} files not started"
        ) from None
    except BaseException:
        _finish_running(pool, running, on_result)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _interruptions_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back until the block is done (where the platform can)."""
    block = getattr(signal, "pthread_sigmask", None)
    if block is None:
        yield
        return
    previous = block(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        block(signal.SIG_SETMASK, previous)


def _report_lost(jobs: Sequence[Job], on_result: Callable[[FileResult], None]) -> None:
    """Report the files a dead worker pool took down with it as failed."""
    for job in jobs:
        source, destination = job.names()
        message = "its worker process died while making it (out of memory?)"
        on_result(FileResult(job, error_record(source, destination, message, ms=0.0)))


def _finish_running(
    pool: ProcessPoolExecutor,
    running: dict[Future[FileResult], Job],
    on_result: Callable[[FileResult], None],
) -> None:
    """After an interruption or an error: let the files being written finish and report
    them, so that what is reported is what is on disk. A second Ctrl-C stops the workers at
    once (SIGTERM: each removes its temporary file)."""
    try:
        for finished in running:
            try:
                on_result(finished.result())
            except Exception:  # the worker's own failure: the first error is the one to say
                continue
    except KeyboardInterrupt:
        # The executor keeps its processes private; terminating them is the only way to
        # stop a file half-way, and each worker's SIGTERM handler unwinds its write.
        for worker in list(getattr(pool, "_processes", {}).values()):
            worker.terminate()


def _submit_next(
    pool: ProcessPoolExecutor,
    pending: Iterator[Job],
    running: dict[Future[FileResult], Job],
    how: tuple[Sequence[Step], ConvParams, ImageOptions],
    on_start: Callable[[Job], None],
) -> None:
    job = next(pending, None)
    if job is not None:
        on_start(job)
        running[pool.submit(process, job, *how)] = job


def _ignore_interrupts() -> None:
    """In a worker: Ctrl-C reaches the whole process group, and the batch's own process
    decides what it means (finish the files in hand, start no other)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
