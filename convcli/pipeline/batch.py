"""Many images through one chain: the output names, the work shared among processes, a result
per file. One bad file does not stop the others.

Each file goes through :func:`convcli.pipeline.job.run_job`, the single file's path itself, in
this process (one job) or in worker processes (several): results are the same either way.
Workers split the cores among themselves, so jobs and the core's threads together never ask
for more threads than there are cores, and each worker has one file in hand, so a batch of
10,000 files holds a handful of images, not 10,000.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import IO

import numpy as np

from convcli.core.methods import default_threads
from convcli.errors import ImageWriteError, ParameterError
from convcli.imageio.files import Job, remove_left_temporaries, same_file
from convcli.imageio.writing import choose_format
from convcli.pipeline.chain import check_method
from convcli.pipeline.job import FileResult, Recipe, run_job


@dataclass(frozen=True)
class BatchRequest:
    """Which files a batch takes and where it writes them, as ``apply`` is given them."""

    out_dir: Path
    """Where every output goes, made if missing (unless `dry_run`)."""
    suffix: str = ""
    """Added to each output's stem."""
    inputs_from: IO[str] | None = None
    """More inputs, one path a line (``--inputs-from``)."""
    jobs: int | None = None
    """Files processed at once, by as many processes; None: one a core."""
    dry_run: bool = False
    """Plan every file, write none."""
    dask: str | None = None
    """The address of a Dask scheduler whose workers run the files, or None: this machine."""
    dask_timeout: float = 10.0
    """Seconds the scheduler has to answer, and a cluster to show a worker."""


def plan_batch(paths: Sequence[Path], request: BatchRequest, recipe: Recipe) -> list[Job]:
    """The jobs of a batch, checked before any work, its output directory made (unless a dry
    run): a job for each of `paths` and of ``request.inputs_from``.

    Raises
    ------
    ParameterError
        Before any work, for what every file would refuse: no input, standard input as an
        input, a ``--method`` the chain cannot use, and what :func:`plan` refuses.
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
    check_method(recipe.steps, recipe.options.compute.method, dtype=np.float32)
    jobs = plan(
        inputs,
        request.out_dir,
        suffix=request.suffix,
        output_format=recipe.options.output_format,
        force=recipe.options.force,
    )
    if not request.dry_run:
        try:
            request.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ImageWriteError(
                f"cannot make the output directory {str(request.out_dir)!r}:"
                f" {error.strerror or error}"
            ) from None
    return jobs


def batch_workers(request: BatchRequest, jobs: Sequence[Job]) -> int:
    """How many processes run `jobs`: as asked, else one a core; never more than the jobs."""
    return max(1, min(request.jobs or default_threads(), len(jobs)))


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


def run_jobs(
    jobs: Sequence[Job],
    recipe: Recipe,
    *,
    workers: int,
    on_result: Callable[[FileResult], None],
    on_start: Callable[[Job], None] = lambda job: None,
) -> None:
    """Run every job by `recipe`, on `workers` processes (1: in this one), calling `on_start`
    as each is handed over and `on_result` as each finishes (in the order they finish), both
    in this process.

    On Ctrl-C (or SIGTERM in this process), no new file is started; the files being written
    are finished and reported (so none is left half-written, and what is reported is what is
    on disk), then the interruption goes on; a second Ctrl-C stops them at once.
    """
    if workers < 1:
        raise ParameterError(f"jobs must be at least 1, got {workers}")
    options = recipe.options
    threads = threads_per_job(workers, options.compute.threads)
    recipe = replace(
        recipe, options=replace(options, compute=replace(options.compute, threads=threads))
    )
    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            on_start(job)
            on_result(run_job(job, recipe))
        return
    pending = iter(jobs)
    # The pool's workers are the children started from here on: what a second Ctrl-C stops.
    children_before = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_interrupts)
    running: dict[Future[FileResult], Job] = {}

    def submit_next() -> None:
        job = next(pending, None)
        if job is not None:
            on_start(job)
            running[pool.submit(run_job, job, recipe)] = job

    try:
        # One file a worker at a time: a file handed over cannot be taken back, and on Ctrl-C
        # none may start. Each worker's next file waits in this process, not in the pool.
        for _ in range(workers):
            submit_next()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for finished in done:
                result = finished.result()
                # What is left in `running` is not reported yet: a result leaves it as it is
                # reported, never one without the other, or Ctrl-C in between would lose it.
                with interruptions_held():
                    on_result(result)
                    del running[finished]
                submit_next()
    except BrokenProcessPool:  # a worker was killed: by the system for memory, say
        lost = list(running.values())
        _report_lost(lost, on_result)
        running.clear()
        pool.shutdown(wait=True, cancel_futures=True)  # no worker is left writing
        remove_left_temporaries(
            job.destination for job in lost if isinstance(job.destination, Path)
        )
        raise ImageWriteError(
            "a worker process died (out of memory?): the batch stopped with"
            f" {len(list(pending))} files not started"
        ) from None
    except BaseException:
        _finish_running(running, on_result, children_before)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def interruptions_held() -> Iterator[None]:
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
        error = ImageWriteError("its worker process died while making it (out of memory?)")
        on_result(FileResult(job, error, 0.0))


def _finish_running(
    running: dict[Future[FileResult], Job],
    on_result: Callable[[FileResult], None],
    children_before: set[BaseProcess],
) -> None:
    """After an interruption or an error: let the files being written finish and report
    them, so that what is reported is what is on disk. A second Ctrl-C stops the workers at
    once (SIGTERM: each removes its temporary file): the children this process started
    after `children_before`."""
    try:
        for finished in running:
            try:
                on_result(finished.result())
            except Exception:  # the worker's own failure: the first error is the one to say
                continue
    except KeyboardInterrupt:
        # Terminating a worker is the only way to stop a file half-way; each worker's SIGTERM
        # handler unwinds its write.
        for worker in set(multiprocessing.active_children()) - children_before:
            worker.terminate()


def _ignore_interrupts() -> None:
    """In a worker: Ctrl-C reaches the whole process group, and the batch's own process
    decides what it means (finish the files in hand, start no other)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
