"""Batches on a Dask cluster, through the installed convcli, against a real cluster of worker
processes on 127.0.0.1 that the tests start and stop."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Client

import convcli
from convcli.pipeline import cluster
from tests import images
from tests.cli_helpers import convcli_executable, run_installed


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A folder of small photographs."""
    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(12):
        images.rgb8(folder / f"p{index:02}.png", 40 + index, 50)
    return folder


def address(client: Client) -> str:
    return str(client.scheduler_info()["address"])


def vertical_batch(
    photos: Path, tmp_path: Path, scheduler: str, *options: str
) -> subprocess.CompletedProcess[str]:
    """``convcli apply -k vertical`` over the photos into tmp_path/out, on the cluster whose
    scheduler is at `scheduler`, with more `options`."""
    return run_installed(
        "apply", "-k", "vertical", *sorted(photos.glob("*.png")), "--out-dir", tmp_path / "out",
        "--dask", scheduler, *options,
    )  # fmt: skip


def records(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_a_batch_on_the_cluster_writes_the_bytes_of_one_local_job(
    photos: Path, tmp_path: Path, dask_client: Client
) -> None:
    inputs = sorted(photos.glob("*.png"))
    local = run_installed(
        "apply", "-k", "sobel", *inputs, "--out-dir", tmp_path / "local", "-j", "1"
    )
    assert local.returncode == 0, local.stderr
    # Relative paths, from a working directory the workers do not share.
    on_cluster = run_installed(
        "apply", "-k", "sobel", *(path.relative_to(tmp_path) for path in inputs),
        "--out-dir", "far", "--dask", address(dask_client), "--json", cwd=tmp_path,
    )  # fmt: skip
    assert on_cluster.returncode == 0, on_cluster.stderr
    for written in (tmp_path / "local").iterdir():
        assert (tmp_path / "far" / written.name).read_bytes() == written.read_bytes()
    found = records(on_cluster.stdout)
    assert sorted(record["input"] for record in found) == [
        str(path.relative_to(tmp_path)) for path in inputs
    ]
    workers = set(dask_client.scheduler_info()["workers"])
    assert {record["worker"] for record in found} <= workers
    assert all(record["status"] == "ok" for record in found)
    # The keys of a local record, and the worker.
    local_keys = list(records(run_installed(
        "apply", "-k", "sobel", inputs[0], "--out-dir", tmp_path / "one", "--json"
    ).stdout)[0])  # fmt: skip
    assert list(found[0]) == [*local_keys, "worker"]


def test_a_broken_file_is_one_error_and_the_batch_goes_on(
    photos: Path, tmp_path: Path, dask_client: Client
) -> None:
    (photos / "broken.png").write_bytes(b"not an image at all")
    done = vertical_batch(photos, tmp_path, address(dask_client), "--json")
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(errors) == 1
    assert "broken.png" in errors[0]
    assert "not an image format Pillow knows" in errors[0]
    assert len(list((tmp_path / "out").iterdir())) == 12
    statuses = sorted(record["status"] for record in records(done.stdout))
    assert statuses == ["error"] + ["ok"] * 12


def many_slow_files(tmp_path: Path, count: int) -> list[Path]:
    """`count` photographs, each taking tens of milliseconds through SLOW."""
    folder = tmp_path / "many"
    folder.mkdir()
    first = folder / "p000.png"
    images.rgb8(first, 300, 400)
    paths = [first]
    for index in range(1, count):
        path = folder / f"p{index:03}.png"
        path.write_bytes(first.read_bytes())
        paths.append(path)
    return paths


SLOW = ("-k", "gaussian:3", "--method", "direct")


def start_batch(paths: list[Path], out: Path, scheduler: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [convcli_executable(), "apply", *SLOW, *map(str, paths), "--out-dir", str(out),
         "--dask", scheduler, "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for_files(folder: Path, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not folder.exists() or len(list(folder.glob("*.png"))) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_a_worker_that_dies_has_its_files_run_again_elsewhere(
    tmp_path: Path, dask_client: Client
) -> None:
    paths = many_slow_files(tmp_path, 60)
    out = tmp_path / "out"
    process = start_batch(paths, out, address(dask_client))
    wait_for_files(out, 5, process)
    victim = next(iter(dask_client.run(os.getpid).values()))
    os.kill(victim, signal.SIGKILL)  # as the system does to a worker out of memory
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    found = records(stdout)
    assert sorted(record["input"] for record in found) == sorted(map(str, paths))  # once each
    assert {record["status"] for record in found} == {"ok"}
    written = sorted(out.iterdir())
    assert [path.name for path in written] == sorted(path.name for path in paths)  # no temp
    first = written[0].read_bytes()
    assert all(path.read_bytes() == first for path in written)  # whole: the same image
    dask_client.wait_for_workers(2, timeout=60)  # the nanny restarts it for the next tests


def test_ctrl_c_reports_what_is_on_disk_and_leaves_no_temporary_file(
    tmp_path: Path, dask_client: Client
) -> None:
    paths = many_slow_files(tmp_path, 200)
    out = tmp_path / "out"
    process = start_batch(paths, out, address(dask_client))
    wait_for_files(out, 5, process)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert stderr == "convcli: error: interrupted\n"
    reported = {Path(record["output"]).name for record in records(stdout)}
    time.sleep(1)  # a group still running would write after the batch has stopped
    on_disk = {path.name for path in out.iterdir()}
    assert reported == on_disk
    assert 5 <= len(on_disk) < len(paths)


def test_dry_run_checks_the_cluster_and_writes_nothing(
    photos: Path, tmp_path: Path, dask_client: Client
) -> None:
    done = vertical_batch(photos, tmp_path, address(dask_client), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 12
    assert not (tmp_path / "out").exists()


@pytest.fixture
def other_version(dask_client: Client) -> Iterator[None]:
    """The workers believe they run another convcli, for one test."""

    def pretend(version: str) -> None:
        convcli.__version__ = version

    dask_client.run(pretend, "0.0.0-other")
    yield
    dask_client.run(pretend, convcli.__version__)


def test_workers_of_another_version_are_refused_before_any_file(
    photos: Path, tmp_path: Path, dask_client: Client, other_version: None
) -> None:
    done = vertical_batch(photos, tmp_path, address(dask_client))
    assert done.returncode == 1
    assert done.stderr.startswith("convcli: error: worker tcp://127.0.0.1:")
    assert f"runs convcli 0.0.0-other, this is {convcli.__version__}" in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert list((tmp_path / "out").iterdir()) == []


def test_an_unreachable_scheduler_is_one_line_within_the_timeout(
    photos: Path, tmp_path: Path
) -> None:
    started = time.monotonic()
    done = vertical_batch(photos, tmp_path, "tcp://127.0.0.1:9", "--dask-timeout", "1")
    assert time.monotonic() - started < 30
    assert done.returncode == 1
    assert done.stderr.startswith("convcli: error: cannot reach the Dask scheduler at")
    assert len(done.stderr.splitlines()) == 1


def test_an_address_that_is_not_one_is_a_usage_error(photos: Path, tmp_path: Path) -> None:
    done = vertical_batch(photos, tmp_path, "nonsense")
    assert done.returncode == 2
    assert "is not a scheduler's address like tcp://host:8786" in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_without_the_dask_extra_the_error_names_it(photos: Path, tmp_path: Path) -> None:
    script = (
        "import sys; sys.modules['distributed'] = None\n"
        "from convcli.cli.main import main\n"
        "sys.argv[0] = 'convcli'; main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "apply", "-k", "vertical", *map(str, photos.glob("*.png")),
         "--out-dir", str(tmp_path / "out"), "--dask", "tcp://127.0.0.1:8786"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        "convcli: error: --dask needs Dask's distributed: pip install 'convcli[dask]'\n"
    )


def test_a_worker_that_cannot_see_the_files_is_named(tmp_path: Path) -> None:
    assert cluster._check_access(str(tmp_path / "missing.png"), str(tmp_path)) == (
        f"cannot read {str(tmp_path / 'missing.png')!r} (no such file)"
    )
    assert cluster._check_access(None, str(tmp_path / "nowhere")) == (
        f"cannot see the output directory {str(tmp_path / 'nowhere')!r}"
    )
    (tmp_path / "a.png").write_bytes(b"")
    assert cluster._check_access(str(tmp_path / "a.png"), str(tmp_path)) is None
    assert list(tmp_path.iterdir()) == [tmp_path / "a.png"]  # the probe is gone


@contextlib.contextmanager
def own_cluster(tmp_path: Path, workers: int) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A scheduler and `workers` single-threaded workers of this test's own, started as a user
    starts them; yields the scheduler's address and process (for the test to kill)."""
    scheduler_file = tmp_path / "scheduler.json"
    dask = Path(sys.executable).parent / "dask"
    scheduler = subprocess.Popen(
        [str(dask), "scheduler", "--host", "127.0.0.1", "--port", "0",
         "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(scheduler_file)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    children = [scheduler]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for _ in range(workers):
            children.append(subprocess.Popen(
                [str(dask), "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1",
                 "--host", "127.0.0.1", "--no-dashboard"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))  # fmt: skip
        yield json.loads(scheduler_file.read_text())["address"], scheduler
    finally:
        for child in children:
            child.kill()
            child.wait()


def test_a_cluster_without_workers_is_refused_before_any_file(photos: Path, tmp_path: Path) -> None:
    with own_cluster(tmp_path, workers=0) as (scheduler_address, _):
        done = vertical_batch(photos, tmp_path, scheduler_address, "--dask-timeout", "1")
    assert done.returncode == 1
    assert done.stderr == (
        f"convcli: error: the Dask cluster at {scheduler_address!r} has no workers (none joined"
        " in 1 s)\n"
    )


def test_the_scheduler_going_away_is_one_line_with_the_files_not_done(tmp_path: Path) -> None:
    with own_cluster(tmp_path, workers=1) as (scheduler_address, scheduler):
        paths = many_slow_files(tmp_path, 100)
        out = tmp_path / "out"
        process = start_batch(paths, out, scheduler_address)
        wait_for_files(out, 3, process)
        scheduler.kill()
        stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    reported = len(records(stdout))
    assert stderr == (
        f"convcli: error: lost the Dask scheduler: {100 - reported} of 100 files not"
        " reported (workers still running may have written some of them)\n"
    )


@pytest.fixture
def blind_workers(dask_client: Client) -> Iterator[None]:
    """The workers cannot see the files, for one test: their check says so."""
    dask_client.run(_blind)
    yield
    dask_client.run(_seeing)
    # Back for the tests after this one (looked up by name on the worker: the real one).
    assert set(dask_client.run(cluster._check_access, None, None).values()) == {None}


def _blind() -> None:
    """On a worker: its access check fails, the real one kept aside."""

    def blind(source: str | None, out_dir: str | None) -> str | None:
        return f"cannot read {source!r} (no such file)"

    cluster.__dict__.setdefault("real_check_access", cluster._check_access)
    cluster._check_access = blind


def _seeing() -> None:
    """On a worker: the real access check back."""
    cluster._check_access = cluster.__dict__.pop("real_check_access")


def test_a_worker_that_cannot_see_the_inputs_is_named_with_the_path(
    photos: Path, tmp_path: Path, dask_client: Client, blind_workers: None
) -> None:
    done = vertical_batch(photos, tmp_path, address(dask_client))
    assert done.returncode == 1
    first = sorted(photos.glob("*.png"))[0]
    assert done.stderr.startswith("convcli: error: worker tcp://127.0.0.1:")
    assert done.stderr.endswith(
        f" cannot read {str(first)!r} (no such file): the workers need a file system they share"
        " with this machine\n"
    )
    assert list((tmp_path / "out").iterdir()) == []
