"""apply on many files: out-dir, suffix, inputs-from, jobs, JSON Lines, dry-run, failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests import images
from tests.cli_helpers import convcli_executable, one_line_error, run
from tests.conftest import read_pixels
from tests.pseudo_terminal import read_terminal


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Three photographs and one broken file."""
    for name in ("a", "b", "c"):
        images.rgb8(tmp_path / f"{name}.png", 30, 40)
    (tmp_path / "broken.png").write_bytes(b"not an image at all")
    return tmp_path


def inputs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.png"))


def test_a_mixed_batch_writes_the_good_files_and_exits_1(folder: Path) -> None:
    out = folder / "out" / "deep"
    result = run("apply", "-k", "vertical", *inputs(folder), "--out-dir", out, "--suffix", "_v")
    assert result.exit_code == 1
    assert sorted(p.name for p in out.iterdir()) == ["a_v.png", "b_v.png", "c_v.png"]
    lines = result.stderr.splitlines()
    assert [line for line in lines if "broken.png" in line] == [
        f"convcli: error: cannot read {str(folder / 'broken.png')!r}: not an image format"
        " Pillow knows"
    ]
    assert lines[-1] == "3 written, 1 failed"
    assert result.stdout == ""  # no progress bar: stderr is not a terminal
    single = run("apply", "-k", "vertical", folder / "a.png", folder / "single.png")
    assert single.exit_code == 0
    assert np.array_equal(read_pixels(out / "a_v.png"), read_pixels(folder / "single.png"))


def test_all_good_exits_0_and_quiet_says_nothing(folder: Path) -> None:
    (folder / "broken.png").unlink()
    result = run("apply", "-k", "vertical", *inputs(folder), "--out-dir", folder / "o", "-q")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    # Not on a terminal, all good: nothing to say (the summary shows on a terminal, or when
    # a file failed).
    plain = run("apply", "-k", "vertical", *inputs(folder), "--out-dir", folder / "o2")
    assert plain.exit_code == 0
    assert plain.stderr == ""


def test_json_lines_one_record_per_file(folder: Path) -> None:
    result = run("apply", "-k", "vertical", *inputs(folder), "--out-dir", folder / "o", "--json")
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(Path(r["input"]).name for r in records) == [
        "a.png",
        "b.png",
        "broken.png",
        "c.png",
    ]
    for record in records:
        assert {"input", "output", "status", "error", "input_shape", "output_shape", "kernels",
                "value_range", "clipped", "ms"} <= set(record)  # fmt: skip
        if Path(record["input"]).name == "broken.png":
            assert record["status"] == "error"
            assert record["output_shape"] is None
        else:
            assert record["status"] == "ok"
            assert record["error"] is None
            assert record["output_shape"] == [28, 38]
            assert Path(record["output"]).exists()


def test_two_jobs_write_the_same_bytes_as_one(folder: Path) -> None:
    common = ("apply", "-k", "sobel", "--color", *inputs(folder))
    assert run(*common, "--out-dir", folder / "one", "-j", "1").exit_code == 1
    assert run(*common, "--out-dir", folder / "two", "-j", "2").exit_code == 1
    for name in ("a.png", "b.png", "c.png"):
        assert (folder / "one" / name).read_bytes() == (folder / "two" / name).read_bytes()


def test_inputs_from_standard_input(folder: Path) -> None:
    listing = "".join(f"{path}\n" for path in inputs(folder) if path.name != "broken.png")
    result = run("apply", "-k", "vertical", "--inputs-from", "-", "--out-dir", folder / "o",
                 stdin=listing)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (folder / "o").iterdir()) == ["a.png", "b.png", "c.png"]


def test_two_inputs_for_one_output_are_a_usage_error_before_any_work(folder: Path) -> None:
    (folder / "sub").mkdir()
    images.rgb8(folder / "sub" / "a.png")
    result = run("apply", "-k", "vertical", folder / "a.png", folder / "sub" / "a.png",
                 "--out-dir", folder / "o")  # fmt: skip
    one_line_error(result, 2, "would both write")
    assert not (folder / "o").exists()


def test_dry_run_prints_outputs_and_shapes_and_writes_nothing(folder: Path) -> None:
    result = run("apply", "-k", "vertical", "--stride", "2", *inputs(folder), "--out-dir",
                 folder / "o", "--format", "jpg", "--dry-run")  # fmt: skip
    assert result.exit_code == 1  # the broken file cannot be planned either
    assert result.stdout.splitlines() == [
        f"{folder / 'o' / name}.jpg\t14x19" for name in ("a", "b", "c")
    ]
    assert not (folder / "o").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--suffix", "_x"), "--suffix is for batches"),
        (("-j", "2"), "--jobs is for batches"),
        (("--dry-run",), "--dry-run is for batches"),
    ],
)
def test_batch_options_need_a_batch(folder: Path, args: tuple[str, ...], message: str) -> None:
    result = run("apply", "-k", "vertical", *args, folder / "a.png", folder / "o.png")
    one_line_error(result, 2, message)


def test_one_path_without_out_dir_is_a_usage_error(folder: Path) -> None:
    result = run("apply", "-k", "vertical", folder / "a.png")
    one_line_error(result, 2, "give INPUT and OUTPUT, or several INPUTs with --out-dir DIR")


def test_an_interrupted_batch_keeps_finished_files_and_leaves_no_partial_one(
    tmp_path: Path,
) -> None:
    big = np.random.default_rng(0).integers(0, 256, (1500, 1500, 3), dtype=np.uint8)
    for index in range(12):
        Image.fromarray(big).save(tmp_path / f"{index:02}.png", compress_level=0)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [convcli_executable(), "apply", "-k", "gaussian:4", "--png-compression", "9",
         *(str(p) for p in sorted(tmp_path.glob("*.png"))), "--out-dir", str(out), "-j", "2",
         "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.exists() and any(out.glob("*.png"))):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    records, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "interrupted" in err
    written = sorted(out.iterdir())  # hidden files too: a temporary one would show
    assert all(path.suffix == ".png" and not path.name.startswith(".") for path in written)
    assert 0 < len(written) < 12
    for path in written:  # every file there is whole
        with Image.open(path) as image:
            image.load()
    # No file started after Ctrl-C goes unreported: what is on disk is what was reported.
    reported = {json.loads(line)["output"] for line in records.splitlines()}
    assert reported == {str(path) for path in written}


def test_the_progress_bar_shows_on_a_terminal(folder: Path) -> None:
    # stderr on a pseudo-terminal, as in an interactive shell.
    import pty

    (folder / "broken.png").unlink()
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [convcli_executable(), "apply", "-k", "vertical", *(str(p) for p in inputs(folder)),
         "--out-dir", str(folder / "o"), "--json"],
        stdout=subprocess.PIPE, stderr=follower, env={**os.environ, "COLUMNS": "120"}, text=True,
    )  # fmt: skip
    os.close(follower)
    shown = read_terminal(leader)
    records, _ = process.communicate(timeout=120)
    assert process.returncode == 0
    # The JSON records stay on stdout while the bar runs on the terminal.
    assert [json.loads(line)["status"] for line in records.splitlines()] == ["ok"] * 3
    text = shown.decode(errors="replace")
    assert '"status"' not in text
    assert "3/3" in text  # files done / total
    assert "files/s" in text
    assert "3 written, 0 failed" in text


def test_an_empty_out_dir_is_a_usage_error(folder: Path) -> None:
    result = run("apply", "-k", "vertical", folder / "a.png", "--out-dir", "")
    one_line_error(result, 2, "--out-dir is empty")


def test_an_input_list_may_hold_names_that_are_not_utf8(folder: Path) -> None:
    odd = folder / os.fsdecode(b"caf\xe9.png")
    (folder / "a.png").rename(odd)
    (folder / "list.txt").write_bytes(os.fsencode(odd) + b"\n")
    listed = run("apply", "-k", "vertical", "--inputs-from", folder / "list.txt", "--out-dir",
                 folder / "o")  # fmt: skip
    assert listed.exit_code == 0, listed.stderr
    assert (folder / "o" / os.fsdecode(b"caf\xe9.png")).exists()


def test_dry_run_refuses_what_the_run_would(folder: Path) -> None:
    (folder / "broken.png").unlink()
    images.rgba8(folder / "alpha.png", 20, 30)
    result = run("apply", "-k", "vertical", *inputs(folder), "--out-dir", folder / "o",
                 "--format", "jpg", "--dry-run", "--json")  # fmt: skip
    assert result.exit_code == 1
    records = {Path(r["input"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert records["alpha.png"]["status"] == "error"
    assert "jpeg cannot hold 8-bit gray with alpha" in records["alpha.png"]["error"]
    assert records["a.png"]["status"] == "planned"
    assert (records["a.png"]["format"], records["a.png"]["depth"]) == ("jpeg", "8")
    assert records["a.png"]["alpha"] is None
    assert not (folder / "o").exists()


def test_dry_run_says_which_alpha_rule_would_run(folder: Path) -> None:
    images.rgba8(folder / "alpha.png", 20, 30)
    for kernel, rule in (("gaussian-3", "weighted"), ("vertical", "carry")):
        result = run("apply", "-k", kernel, folder / "alpha.png", "--out-dir", folder / "o",
                     "--format", "npy", "--dry-run", "--json")  # fmt: skip
        assert result.exit_code == 0, result.stderr
        record = json.loads(result.stdout)
        assert (record["status"], record["format"], record["alpha"]) == ("planned", "npy", rule)


def test_an_empty_input_list_is_an_empty_batch(folder: Path) -> None:
    result = run("apply", "-k", "vertical", "--inputs-from", "-", "--out-dir", folder / "o",
                 stdin="")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""


def test_mistakes_in_the_command_line_are_refused_once_before_any_file(folder: Path) -> None:
    separable = run("apply", "-k", "laplacian", "--method", "separable", *inputs(folder),
                    "--out-dir", folder / "o")  # fmt: skip
    assert separable.exit_code == 2
    assert separable.stderr.count("convcli: error:") == 1
    (folder / "odd.pcx").write_bytes(b"")
    unwritable = run("apply", "-k", "vertical", folder / "a.png", folder / "odd.pcx",
                     "--out-dir", folder / "o")  # fmt: skip
    one_line_error(unwritable, 2, "pcx")
    assert not (folder / "o").exists()
