"""Batches: output names, collisions, input lists, and the work shared among processes."""

from __future__ import annotations

import io
import multiprocessing
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from convcli.core.params import ConvParams
from convcli.errors import ImageWriteError, ParameterError
from convcli.imageio.files import Job
from convcli.kernels.spec import resolve_kernel
from convcli.pipeline import apply
from convcli.pipeline import job as job_module
from convcli.pipeline.apply import ImageOptions
from convcli.pipeline.batch import output_path, plan, read_input_list, run_jobs
from convcli.pipeline.job import FileResult, Recipe
from tests import images
from tests.conftest import read_pixels


def test_outputs_keep_the_stem_with_the_suffix_and_the_format() -> None:
    jobs = plan([Path("a/cat.jpg"), Path("b/dog.png")], Path("out"), suffix="_edges")
    assert [job.destination for job in jobs] == [
        Path("out/cat_edges.jpg"),
        Path("out/dog_edges.png"),
    ]
    assert output_path(Path("cat.jpg"), Path("o"), output_format="tif") == Path("o/cat.tif")
    assert output_path(Path("cat.jpg"), Path("o"), output_format="TIFF") == Path("o/cat.tiff")
    assert output_path(Path("cat.jpg"), Path("o"), output_format="jpeg") == Path("o/cat.jpeg")


def test_two_inputs_writing_one_output_are_refused_before_any_work() -> None:
    with pytest.raises(
        ParameterError, match=re.escape("'a/x.png' and 'b/x.jpg' would both write 'out/x.png'")
    ):
        plan([Path("a/x.png"), Path("b/x.jpg")], Path("out"), output_format="png")
    with pytest.raises(ParameterError, match=r"'x\.png' is given twice"):
        plan([Path("x.png"), Path("x.png")], Path("out"))
    same = Path("y.png")  # the same object twice, as a library caller may pass it
    with pytest.raises(ParameterError, match="is given twice"):
        plan([same, same], Path("out"))


@pytest.mark.parametrize(
    ("sources", "fmt", "message"),
    [
        ([Path("noext")], None, "has no extension to keep"),
        ([Path("a.png")], "gif87", "gif87"),
    ],
)
def test_an_output_format_that_cannot_be_told_is_refused(
    sources: list[Path], fmt: str | None, message: str
) -> None:
    with pytest.raises(ParameterError, match=message):
        plan(sources, Path("out"), output_format=fmt)


def test_an_input_list_is_one_path_a_line() -> None:
    listed = read_input_list(io.StringIO("a.png\n\n  \nphotos/b c.jpg\r\nlast.tif"))
    assert listed == [Path("a.png"), Path("photos/b c.jpg"), Path("last.tif")]


def make_batch(tmp_path: Path) -> list[Job]:
    """Three good images and a broken one, to be written into out/."""
    for name in ("a", "b", "c"):
        images.rgb8(tmp_path / f"{name}.png", 40, 30)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    sources = [tmp_path / name for name in ("a.png", "broken.png", "b.png", "c.png")]
    (tmp_path / "out").mkdir()
    return plan(sources, tmp_path / "out", suffix="_v")


@pytest.mark.parametrize("workers", [1, 2])
def test_one_bad_file_is_reported_and_the_others_are_written(tmp_path: Path, workers: int) -> None:
    jobs = make_batch(tmp_path)
    results: list[FileResult] = []
    run_jobs(
        jobs,
        Recipe((resolve_kernel("vertical"),), ConvParams(), ImageOptions()),
        workers=workers,
        on_result=results.append,
    )
    by_name = {result.job.source.name: result for result in results}
    assert sorted(by_name) == ["a.png", "b.png", "broken.png", "c.png"]
    assert not by_name["broken.png"].ok
    assert "cannot" in str(by_name["broken.png"].record.error)
    assert by_name["broken.png"].record.output == str(tmp_path / "out" / "broken_v.png")
    for name in ("a", "b", "c"):
        assert by_name[f"{name}.png"].ok
        assert by_name[f"{name}.png"].record.to_json()["output_shape"] == [38, 28]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_v.png", "b_v.png", "c_v.png"]


def test_two_workers_write_what_one_writes(tmp_path: Path) -> None:
    jobs = make_batch(tmp_path)
    steps = [resolve_kernel("sobel")]
    options = ImageOptions(color=True)
    run_jobs(
        jobs, Recipe(tuple(steps), ConvParams(), options), workers=1, on_result=lambda result: None
    )
    outputs = [tmp_path / "out" / name for name in ("a_v.png", "b_v.png", "c_v.png")]
    alone = {path.name: read_pixels(path) for path in outputs}
    for path in outputs:
        path.unlink()
    run_jobs(
        jobs, Recipe(tuple(steps), ConvParams(), options), workers=2, on_result=lambda result: None
    )
    for name, pixels in alone.items():
        assert np.array_equal(read_pixels(tmp_path / "out" / name), pixels)
    assert len(alone) == 3


def test_warnings_of_a_file_come_back_with_its_result(tmp_path: Path) -> None:
    images.gray16(tmp_path / "deep.png")
    jobs = plan([tmp_path / "deep.png"], tmp_path, suffix="_8", output_format="jpg")
    results: list[FileResult] = []
    run_jobs(
        jobs,
        Recipe((resolve_kernel("identity"),), ConvParams(padding=(1, 1)), ImageOptions()),
        workers=1,
        on_result=results.append,
    )
    assert results[0].ok
    assert any("16-bit input written as 8-bit" in warning for warning in results[0].warnings)


def test_a_suffix_cannot_lead_out_of_the_output_directory() -> None:
    with pytest.raises(ParameterError, match="holds a path separator"):
        plan([Path("a.png")], Path("out"), suffix="/../../etc/x")


def test_an_input_is_not_written_over_by_its_own_output(tmp_path: Path) -> None:
    images.rgb8(tmp_path / "a.png")
    with pytest.raises(ParameterError, match="would be written over by its own output"):
        plan([tmp_path / "a.png"], tmp_path)
    assert plan([tmp_path / "a.png"], tmp_path, force=True)[0].destination == tmp_path / "a.png"
    assert plan([tmp_path / "a.png"], tmp_path, suffix="_v")[0].destination.name == "a_v.png"


def test_an_output_that_is_another_input_of_the_batch_is_refused(tmp_path: Path) -> None:
    images.rgb8(tmp_path / "a.png")
    images.rgb8(tmp_path / "a_e.png")  # an original that a's output would replace
    with pytest.raises(ParameterError, match="another input of the batch"):
        plan([tmp_path / "a.png", tmp_path / "a_e.png"], tmp_path, suffix="_e", force=True)


def test_a_worker_killed_mid_batch_stops_it_with_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As the system's out-of-memory killer would: the worker making b.png dies. The workers
    # are forked from this process, so they run the patched function.
    if multiprocessing.get_start_method() != "fork":
        pytest.skip("needs workers forked from the test's process")
    real = apply.apply_to_image

    def dies_on_b(source: Path, destination: Path, *args: Any, **kwargs: Any) -> Any:
        if source.name == "b.png":  # mid-write: its temporary file is there, half full
            (destination.parent / f".{destination.name}.killed00.tmp").write_bytes(b"half")
            os._exit(1)
        return real(source, destination, *args, **kwargs)

    monkeypatch.setattr(job_module, "apply_to_image", dies_on_b)
    for name in ("a", "b", "c", "d", "e", "f"):
        images.rgb8(tmp_path / f"{name}.png", 30, 20)
    (tmp_path / "out").mkdir()
    jobs = plan(sorted(tmp_path.glob("*.png")), tmp_path / "out")
    results: list[FileResult] = []
    with pytest.raises(ImageWriteError, match=r"^a worker process died \(out of memory\?\)"):
        run_jobs(
            jobs,
            Recipe((resolve_kernel("vertical"),), ConvParams(), ImageOptions()),
            workers=2,
            on_result=results.append,
        )
    lost = [result for result in results if not result.ok]
    assert "b.png" in [result.job.names()[0].rsplit("/", 1)[-1] for result in lost]
    assert all("worker process died" in str(result.record.error) for result in lost)
    assert not list((tmp_path / "out").glob(".*.tmp"))  # the dead worker's is removed
