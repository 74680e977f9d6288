"""A batch on a Dask cluster: the files filtered by the cluster's workers, not local processes.

Dask's distributed scheduler does the scheduling; convcli sends it groups of files, so that a
million files make thousands of tasks, not a million (Dask puts a task's overhead at 200 us to
1 ms). Each group is a task that runs :func:`~convcli.pipeline.job.run_job`, the very code of
a local batch, on every file of the group, and returns their results; the client reports
them as groups finish (``as_completed``), keeping a few groups per worker thread in flight,
so that its memory does not grow with the results.

Before any file is sent, the client checks, each with one clear error: that the scheduler
answers within a timeout, that the cluster has workers, that they run the same convcli, and
that each can read the inputs and write into the output directory (the workers need a shared
file system: paths are made absolute on the client first).

Faults:

- A worker that dies (killed, out of memory) loses its group; Dask runs the group again on
  another worker. Files it had written are written again, whole (writes are atomic), with the
  same bytes; each file is reported once, from the group's run that finished. The temporary
  file it was writing when it died is removed when every group is done.
- Ctrl-C: the workers are told to start no new file; each group in hand ends after the file
  it is writing and returns what it did, which is reported; then the batch stops. A second
  Ctrl-C stops at once.
- A file that fails is one error record, as locally; the batch goes on.
- The scheduler going away: what was done is reported, and one error counts the files not
  done.

Importing this module needs nothing beyond convcli; :func:`run_jobs_on_cluster` needs the
``dask`` extra (``pip install 'convcli[dask]'``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from convcli.errors import ClusterError, ImageWriteError, ParameterError
from convcli.imageio.files import Job, remove_left_temporaries
from convcli.pipeline.batch import interruptions_held, threads_per_job
from convcli.pipeline.job import FileResult, Recipe, run_job

if TYPE_CHECKING:
    from distributed import Client, Future

CONNECT_TIMEOUT = 10.0
"""Seconds the scheduler has to answer, and a cluster to show a worker."""
GROUPS_PER_THREAD = 2
"""Groups in flight for each worker thread: one running, one waiting its turn."""
MOST_FILES_PER_GROUP = 100

_stopped: set[str] = set()
"""On a worker: the batches told to start no new file (see :func:`_stop`)."""


def connect(address: str, *, timeout: float = CONNECT_TIMEOUT) -> Client:
    """A client of the scheduler at `address`, which has at least one worker.

    Raises
    ------
    ParameterError
        If Dask's ``distributed`` is not installed (the ``dask`` extra), or `address` is not
        a scheduler's address.
    ClusterError
        If the scheduler does not answer within `timeout` seconds, or no worker joins it.
    """
    try:
        from distributed import Client
        from distributed.comm.addressing import get_address_host_port
    except ImportError:
        raise ParameterError(
            "--dask needs Dask's distributed: pip install 'convcli[dask]'"
        ) from None
    try:
        get_address_host_port(address)  # before a Client: a failed one hangs while it is freed
    except ValueError as error:
        raise ParameterError(
            f"--dask {address!r} is not a scheduler's address like tcp://host:8786: {error}"
        ) from None
    _quiet_dask_logs()
    try:
        client = Client(address, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, ValueError, TypeError) as error:
        raise ClusterError(f"cannot reach the Dask scheduler at {address!r}: {error}") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        client.close()
        raise ClusterError(
            f"the Dask cluster at {address!r} has no workers (none joined in {timeout:g} s)"
        ) from None
    return client


def _quiet_dask_logs() -> None:
    """Keep distributed's own log lines off stderr: convcli says what went wrong, once."""
    for name in ("distributed", "distributed.client", "distributed.comm", "distributed.core"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def check_cluster(
    client: Client, jobs: Sequence[Job], out_dir: Path, *, output_made: bool = True
) -> None:
    """Every check :func:`run_jobs_on_cluster` makes before any file is sent: the workers run
    this convcli, and each can read the first input and write into `out_dir` (when it is
    `output_made`; a dry run makes none).

    Raises
    ------
    ClusterError
        Naming the worker and what it cannot do.
    """
    from convcli import __version__

    versions = _on_every_worker(client, _convcli_version)
    for worker, version in sorted(versions.items()):
        if version != __version__:
            raise ClusterError(
                f"worker {worker} runs convcli {version}, this is {__version__}: install the"
                " same version on every worker"
            )
    probe = str(_path(jobs[0].source).resolve()) if jobs else None
    target = str(out_dir.resolve()) if output_made else None
    problems = _on_every_worker(client, _check_access, probe, target)
    for worker, problem in sorted(problems.items()):
        if problem is not None:
            raise ClusterError(
                f"worker {worker} {problem}: the workers need a file system they share with"
                " this machine"
            )


def _on_every_worker(client: Client, function: Callable[..., Any], *args: Any) -> dict[str, Any]:
    """`function(*args)` on every worker, by its address: what a worker that cannot even run
    it (no convcli) raised is a :class:`ClusterError`."""
    try:
        answers: dict[str, Any] = client.run(function, *args)
    except ModuleNotFoundError as error:
        raise ClusterError(
            f"a worker cannot import {error.name!r}: install convcli on every worker"
        ) from None
    except (OSError, TimeoutError) as error:
        raise ClusterError(f"the Dask cluster stopped answering: {error}") from None
    return answers


def _convcli_version() -> str:
    """On a worker: its convcli's version."""
    from convcli import __version__

    return __version__


def _check_access(source: str | None, out_dir: str | None) -> str | None:
    """On a worker: what it cannot do of reading `source` and writing into `out_dir`, or None."""
    if source is not None and not os.access(source, os.R_OK):
        why = "no such file" if not Path(source).exists() else "permission denied"
        return f"cannot read {source!r} ({why})"
    if out_dir is None:
        return None
    if not Path(out_dir).is_dir():
        return f"cannot see the output directory {out_dir!r}"
    try:
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".convcli-probe-"):
            pass
    except OSError as error:
        return f"cannot write into {out_dir!r} ({error.strerror or error})"
    return None


def files_per_group(files: int, threads: int) -> int:
    """Files in each task: enough groups for every worker thread to take several, so that the
    work evens out and the progress moves, at most :data:`MOST_FILES_PER_GROUP`.

    >>> files_per_group(500, 2), files_per_group(1_000_000, 64), files_per_group(3, 8)
    (16, 100, 1)
    """
    return max(1, min(MOST_FILES_PER_GROUP, math.ceil(files / (16 * max(1, threads)))))


def run_jobs_on_cluster(
    client: Client,
    jobs: Sequence[Job],
    recipe: Recipe,
    *,
    on_result: Callable[[FileResult], None],
) -> None:
    """Run every job by `recipe` on the workers of `client`'s cluster, calling `on_result`
    for each file as its group comes back (in this process), with the worker that wrote it.

    Raises
    ------
    ClusterError
        If the scheduler goes away: after what was done is reported, naming how many files
        were not done.
    KeyboardInterrupt
        After the groups in hand have ended and been reported (see the module docstring).
    """
    from distributed import as_completed

    threads = sum(worker["nthreads"] for worker in client.scheduler_info()["workers"].values())
    size = files_per_group(len(jobs), threads)
    groups = _groups(range(len(jobs)), size)
    batch = f"convcli-batch-{uuid.uuid4()}"  # what the workers are told to stop, on Ctrl-C
    in_flight: dict[Future[list[FileResult]], list[int]] = {}
    reported = 0

    def submit_next(queue: as_completed) -> None:
        indices = next(groups, None)
        if indices is None:
            return
        group = [_absolute(jobs[index]) for index in indices]
        with interruptions_held():  # a group sent is a group tracked, or Ctrl-C would lose it
            future = client.submit(_run_group, group, recipe, batch, pure=False)
            in_flight[future] = indices
        queue.add(future)

    def report(future: Future[list[FileResult]]) -> None:
        nonlocal reported
        if future.status == "cancelled":  # by the client, when it lost the scheduler
            raise ClusterError(
                f"lost the Dask scheduler: {len(jobs) - reported} of {len(jobs)} files not"
                " reported (workers still running may have written some of them)"
            )
        indices = in_flight[future]
        results = _group_results(future, [jobs[index] for index in indices])
        # A group leaves `in_flight` as it is reported, never one without the other, or
        # Ctrl-C in between would lose files written.
        with interruptions_held():
            for index, result in zip(indices, results, strict=False):
                # The file named as it was given, not by the absolute path sent to the worker.
                on_result(dataclasses.replace(result, job=jobs[index]))
                reported += 1
            del in_flight[future]

    queue = as_completed(loop=client.loop)
    for _ in range(max(1, threads * GROUPS_PER_THREAD)):
        submit_next(queue)
    try:
        for future in queue:
            report(future)
            submit_next(queue)
    except KeyboardInterrupt:
        _finish_in_hand(client, batch, in_flight, report)
        raise
    # Every group is done: a worker killed mid-write left its temporary file, and the file
    # itself was written again elsewhere.
    remove_left_temporaries(job.destination for job in jobs if isinstance(job.destination, Path))


def _group_results(future: Future[list[FileResult]], group: Sequence[Job]) -> list[FileResult]:
    """A finished group's results; a group whose workers kept dying (Dask gives up after a
    few), one error for each of its files, as a local batch reports a dead worker's file."""
    from distributed import KilledWorker

    try:
        results: list[FileResult] = future.result()
    except KilledWorker:
        error = ImageWriteError("the Dask workers running it kept dying (out of memory?)")
        return [FileResult(job, error, 0.0) for job in group]
    return results


def _finish_in_hand(
    client: Client,
    batch: str,
    in_flight: dict[Future[list[FileResult]], list[int]],
    report: Callable[[Future[list[FileResult]]], None],
) -> None:
    """After Ctrl-C: tell the workers to start no new file of `batch`, then report what the
    groups in hand did (a second Ctrl-C stops at once)."""
    with contextlib.suppress(OSError, TimeoutError):
        client.run(_stop, batch)
    for future in list(in_flight):
        with contextlib.suppress(Exception):  # what it raised, report says
            future.result()  # each group in hand ends after the file it is writing
        if future.status != "cancelled":
            report(future)


def _stop(batch: str) -> None:
    """On a worker: start no new file of `batch`."""
    _stopped.add(batch)


def _run_group(jobs: Sequence[Job], recipe: Recipe, batch: str) -> list[FileResult]:
    """On a worker: run `jobs` one after another, each result marked with this worker, until
    the batch is told to stop."""
    from distributed import get_worker

    worker = get_worker()
    options = recipe.options
    threads = threads_per_job(worker.state.nthreads, options.compute.threads)
    compute = dataclasses.replace(options.compute, threads=threads)
    recipe = dataclasses.replace(recipe, options=dataclasses.replace(options, compute=compute))
    results = []
    for job in jobs:
        if batch in _stopped:
            break
        result = run_job(job, recipe)
        results.append(dataclasses.replace(result, worker=worker.address))
    return results


def _absolute(job: Job) -> Job:
    """`job` with absolute paths: the workers' working directory is not this one's."""
    return Job(_path(job.source).resolve(), _path(job.destination).resolve())


def _path(where: Path | IO[bytes]) -> Path:
    """A batch's input or output: always a path (a batch reads and writes no stream)."""
    if not isinstance(where, Path):
        raise ParameterError("a batch on a cluster reads and writes files, not streams")
    return where


def _groups(indices: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(indices), size):
        yield list(indices[start : start + size])
